/*!
Hub repositories: the URL forms users write, the repo id rules of the Hub, and the names derived from
them (cache folder, store name). Pure: never the network (guessing the type of a bare `org/repo` is the
CLI's job).
*/

use crate::error::{Result, usage};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoType {
    Model,
    Dataset,
    Space,
}

impl RepoType {
    pub const ALL: [RepoType; 3] = [RepoType::Model, RepoType::Dataset, RepoType::Space];

    pub fn parse(s: &str) -> Result<RepoType> {
        RepoType::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| usage(format!("unknown repo type {s:?} (expected model, dataset or space)")))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
            RepoType::Space => "space",
        }
    }

    /// The path segment of the API (`/api/models/...`) and the cache folder prefix (`models--...`).
    pub fn plural(self) -> &'static str {
        match self {
            RepoType::Model => "models",
            RepoType::Dataset => "datasets",
            RepoType::Space => "spaces",
        }
    }

    /// The prefix of file URLs and web pages (`datasets/`, `spaces/`): models have none.
    pub fn url_prefix(self) -> &'static str {
        match self {
            RepoType::Model => "",
            RepoType::Dataset => "datasets/",
            RepoType::Space => "spaces/",
        }
    }

    /// The short URL form's scheme: `hf:`, `hf-datasets:`, `hf-spaces:`.
    fn scheme(self) -> &'static str {
        match self {
            RepoType::Model => "hf:",
            RepoType::Dataset => "hf-datasets:",
            RepoType::Space => "hf-spaces:",
        }
    }

    /// The type whose prefix starts `path` (`datasets/acme/x`), and the rest.
    fn strip_prefix(path: &str) -> Option<(RepoType, &str)> {
        RepoType::ALL
            .into_iter()
            .filter(|kind| !kind.url_prefix().is_empty())
            .find_map(|kind| Some((kind, path.strip_prefix(kind.url_prefix())?)))
    }
}

/// A repository on the Hub: its id and its type. The id is `org/name`, or a single `name` for the
/// legacy model and dataset ids that predate organisations (`gpt2`, `bert-base-uncased`, `squad`),
/// which the Hub still answers to; spaces always have an owner.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Repo {
    pub kind: RepoType,
    pub id: String,
}

impl Repo {
    /// From the builder's `repoId`, the manifest, or the Hub's answer.
    pub fn from_id(kind: RepoType, id: &str) -> Result<Repo> {
        check_id(Some(kind), id).map_err(|why| usage(format!("invalid repo id {id:?}: {why}")))?;
        Ok(Repo { kind, id: id.to_owned() })
    }

    /// The shortest URL form that names this repo and its type: `org/name` for a model (a bare
    /// `org/repo` is a model to `fetchModel` and is tried as a model first by the CLI),
    /// `datasets/org/name` for a dataset, `spaces/org/name` for a space.
    pub fn url(&self) -> String {
        format!("{}{}", self.kind.url_prefix(), self.id)
    }

    /// `models--org--name` (`models--gpt2`): the folder in an HF cache.
    pub fn folder(&self) -> String {
        format!("{}--{}", self.kind.plural(), self.id.replace('/', "--"))
    }

    /// `hf-model-org-name-<rev>` (`hf-model-gpt2-<rev>`): the store name of a fetch output.
    pub fn store_name(&self, rev: &str) -> String {
        format!("hf-{}-{}-{}", self.kind.as_str(), self.id.replace('/', "-"), rev)
    }
}

impl fmt::Display for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// What a user's URL says: the repo id, its type when the form tells it, the GGUF quant of
/// `org/repo:QUANT`, a ref from `/tree/REF`, `/blob/REF` or `/resolve/REF`, and the file or folder the
/// rest of such a URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoUrl {
    pub kind: Option<RepoType>,
    pub id: String,
    /// As written (`q4_k_m`); `gguf` compares quants in any case.
    pub quant: Option<String>,
    pub rev: Option<String>,
    pub path: Option<RepoPath>,
}

/// A path in the repository, percent-decoded: a file (`/blob/REF/PATH`, `/resolve/REF/PATH`) or a
/// folder (`/tree/REF/PATH`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepoPath {
    File(String),
    Folder(String),
}

impl RepoUrl {
    pub fn with_kind(&self, kind: RepoType) -> Repo {
        Repo { kind, id: self.id.clone() }
    }
}

const HOSTS: &[&str] = &["huggingface.co", "hf.co"];

/// The pages of a repository whose URL says a ref (and a path).
const PAGES: &[&str] = &["tree", "blob", "resolve"];

/// The first segments of the Hub's own pages, never a legacy repo id or an owner (so that
/// `datasets/x` and `spaces/org/x` can only be typed ids).
const RESERVED: &[&str] = &["datasets", "models", "spaces"];

/// Parses every URL form of the README ("The CLI"), and the single-name legacy ids in each.
pub fn parse_url(url: &str) -> Result<RepoUrl> {
    parse(url).map_err(|why| usage(why).context(format!("invalid repository URL {url:?}")))
}

fn parse(url: &str) -> Result<RepoUrl, String> {
    let short = RepoType::ALL.into_iter().find_map(|kind| Some((kind, url.strip_prefix(kind.scheme())?)));
    if let Some((kind, id)) = short {
        return id_only(Some(kind), id);
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if !HOSTS.contains(&host) {
            return Err("not a Hugging Face URL (expected huggingface.co or hf.co)".into());
        }
        if scheme != "https" {
            return Err(format!("use https:// (not {scheme}://)"));
        }
        return web(&rest[host.len()..]);
    }
    let schemeless =
        HOSTS.iter().find_map(|host| url.strip_prefix(host).filter(|r| r.is_empty() || r.starts_with(['/', '?', '#'])));
    if let Some(rest) = schemeless {
        return web(rest);
    }
    match RepoType::strip_prefix(url) {
        Some((kind, id)) => id_only(Some(kind), id),
        None => id_only(None, url),
    }
}

/// `org/name` alone, as in `hf:org/name`, `datasets/org/name` or `spaces/org/name`, and its `:QUANT`.
fn id_only(kind: Option<RepoType>, id: &str) -> Result<RepoUrl, String> {
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() > 2 && parts[1..].iter().any(|p| PAGES.contains(p)) {
        return Err("/tree, /blob and /resolve are understood only in a huggingface.co URL".into());
    }
    let (id, quant) = split_quant(id)?;
    check_id(kind, id)?;
    Ok(RepoUrl { kind: quant_kind(kind, &quant)?, id: id.to_owned(), rev: None, path: None, quant })
}

/// `org/name:QUANT`, llama.cpp's way of naming the GGUF files of a quant, in two; a colon before the
/// last `/` is left to the id, which refuses it.
fn split_quant(id: &str) -> Result<(&str, Option<String>), String> {
    let Some((id, quant)) = id.split_once(':').filter(|(_, quant)| !quant.contains('/')) else {
        return Ok((id, None));
    };
    if quant.is_empty() {
        return Err("no quant after ':' (as in org/repo:Q4_K_M)".into());
    }
    if !quant.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(format!("invalid quant {quant:?} (letters, digits, '_' and '-', as in Q4_K_M)"));
    }
    Ok((id, Some(quant.to_owned())))
}

/// A quant is a model's: it makes a bare `org/name` a model, and a dataset's or a space's URL wrong.
fn quant_kind(kind: Option<RepoType>, quant: &Option<String>) -> Result<Option<RepoType>, String> {
    match (kind, quant) {
        (Some(kind), Some(_)) if kind != RepoType::Model => {
            Err(format!("a :QUANT chooses the GGUF files of a model; {} have none", kind.plural()))
        }
        (None, Some(_)) => Ok(Some(RepoType::Model)),
        (kind, _) => Ok(kind),
    }
}

/// What follows the host of a web URL: `/[datasets/|spaces/]ID[/PAGE/REF[/PATH]][/][?QUERY][#FRAGMENT]`.
fn web(rest: &str) -> Result<RepoUrl, String> {
    // The query and the fragment only say how the page is shown (`?library=transformers`, `#model-card`).
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    let (kind, path) = RepoType::strip_prefix(path).unwrap_or((RepoType::Model, path));
    if path.is_empty() {
        return Err("no repository in the URL".into());
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.contains(&"") {
        return Err("empty segment (//) in the path".into());
    }
    if kind == RepoType::Model && segments[0] == "models" {
        return Err(reserved("models"));
    }
    let split_at = |n: usize| -> Result<RepoUrl, String> {
        let id = segments[..n].join("/");
        let (id, quant) = split_quant(&id)?;
        check_id(Some(kind), id)?;
        if quant.is_some() && n < segments.len() {
            return Err(
                "a :QUANT ends the repository's URL, with no /tree, /blob or /resolve after it (a ref goes in --ref)"
                    .into(),
            );
        }
        let kind = quant_kind(Some(kind), &quant)?;
        let (rev, path) = page(&segments[n..])?;
        Ok(RepoUrl { kind, id: id.to_owned(), rev, path, quant })
    };
    // `acme/tree` is acme's repo "tree" and `acme/tree/tree/main` that repo at main, but `gpt2/tree/main`
    // is the legacy gpt2 at main: an id of two segments when the rest reads as a page, else of one.
    match segments.get(1) {
        Some(second) if PAGES.contains(second) && segments.len() > 2 => split_at(2).or_else(|_| split_at(1)),
        _ => split_at(segments.len().min(2)),
    }
}

/// The segments after the repository: none, `tree/REF[/DIR]`, `blob/REF/FILE` or `resolve/REF/FILE`.
fn page(segments: &[&str]) -> Result<(Option<String>, Option<RepoPath>), String> {
    let (page, rev, path) = match segments {
        [] => return Ok((None, None)),
        ["tree", rev, dir @ ..] => ("tree", rev, dir),
        [page @ ("blob" | "resolve"), rev, file @ ..] if !file.is_empty() => (*page, rev, file),
        ["tree"] => return Err("/tree needs a ref".into()),
        [page @ ("blob" | "resolve"), ..] => return Err(format!("/{page} needs a ref and a file")),
        [page, ..] => {
            return Err(format!(
                "unexpected /{page} after the repository (expected /tree/REF[/DIR], /blob/REF/FILE or /resolve/REF/FILE)"
            ));
        }
    };
    let rev = decode_ref(rev)?;
    let path = match path {
        [] => None,
        path => Some(decode_path(&path.join("/"))?),
    };
    Ok((Some(rev), path.map(if page == "tree" { RepoPath::Folder } else { RepoPath::File })))
}

/// `org/name` or a legacy `name` (not for a space), by the Hub's repo name rules; they also keep every
/// derived name store-safe.
fn check_id(kind: Option<RepoType>, id: &str) -> Result<(), String> {
    match id.split('/').collect::<Vec<_>>()[..] {
        [""] => Err("no repository in the URL".into()),
        ref parts if parts.contains(&"") => Err(format!("{id:?} has an empty segment")),
        [name] if RESERVED.contains(&name) => Err(reserved(name)),
        [name] if kind == Some(RepoType::Space) => Err(format!("space {name:?} has no owner (expected org/name)")),
        [name] => check_name("name", name),
        [org, _] if RESERVED.contains(&org) => Err(format!("{org:?} is a page of the Hub, not an owner")),
        [org, name] => check_name("owner", org).and_then(|()| check_name("name", name)),
        _ => Err(format!("{id:?} has too many parts (expected org/name)")),
    }
}

fn reserved(name: &str) -> String {
    format!("{name:?} is a page of the Hub, not a repository")
}

/// The Hub's repo name rules for one segment: the first one `name` breaks.
fn check_name(what: &str, name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let why = if name.len() > 96 {
        "is longer than 96 characters".to_owned()
    } else if let Some(c) = name.chars().find(|&c| !allowed(c)) {
        format!("contains {c:?} (allowed: letters, digits, '-', '_' and '.')")
    } else if let Some(c) = name.chars().next().filter(|c| !c.is_ascii_alphanumeric()) {
        format!("starts with {c:?}")
    } else if let Some(c) = name.chars().last().filter(|c| !c.is_ascii_alphanumeric()) {
        format!("ends with {c:?}")
    } else if let Some(twice) = ["--", ".."].into_iter().find(|twice| name.contains(twice)) {
        format!("contains {twice:?}")
    } else {
        return Ok(());
    };
    Err(format!("{what} {name:?} {why}"))
}

/// A full commit id, as the Hub and the cache layout spell it.
pub fn is_commit(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A branch, tag or other ref as the Hub names them: `main`, `v1.0`, `refs/pr/1`.
pub fn is_ref_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "._+@=/-".contains(c))
}

/// A ref in a web URL is one path segment, percent-decoded: `[A-Za-z0-9._+@=-]` and `/` written `%2F`
/// (`refs%2Fpr%2F1`).
fn decode_ref(raw: &str) -> Result<String, String> {
    let rev = percent_decode(raw)?;
    if rev == "refs" {
        return Err("write the slashes of a ref as %2F (refs%2Fpr%2F1)".into());
    }
    if !is_ref_name(&rev) {
        return Err(format!("invalid ref {rev:?} (letters, digits and ._+@=-, with a slash written as %2F)"));
    }
    Ok(rev)
}

/// The file or folder of a URL, percent-decoded; a path no listing can hold is refused here.
fn decode_path(raw: &str) -> Result<String, String> {
    let path = percent_decode(raw)?;
    let why = match path.split('/').find(|s| matches!(*s, "" | "." | "..")) {
        Some("") => "an empty segment",
        Some(_) => "a '.' or '..' segment",
        None if path.contains('\\') => "a backslash",
        None => return Ok(path),
    };
    Err(format!("invalid path {path:?} ({why})"))
}

/// `%XX` escapes must spell UTF-8, and no control character may appear, raw or escaped.
fn percent_decode(raw: &str) -> Result<String, String> {
    let escape = |s: &str| s.get(..2).is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if !raw.split('%').skip(1).all(escape) {
        return Err(format!("invalid percent-encoding in {raw:?} (write a % as %25)"));
    }
    match percent_encoding::percent_decode_str(raw).decode_utf8() {
        Ok(s) if !s.chars().any(|c| c.is_ascii_control()) => Ok(s.into_owned()),
        Ok(_) => Err(format!("{raw:?} holds a control character")),
        Err(_) => Err(format!("{raw:?} is not UTF-8 once percent-decoded")),
    }
}

#[cfg(test)]
mod tests {
    //! `tests/vectors/urls.json`, shared with `checks/vectors.nix` so that Rust and Nix agree.
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vectors {
        rev: String,
        cases: Vec<Case>,
    }

    /// A URL and what it means, or `error`: why it is refused, as the Rust parser says it (the Nix side
    /// only checks that it throws).
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Case {
        url: String,
        error: Option<String>,
        #[serde(rename = "type")]
        kind: Option<String>,
        org: Option<String>,
        repo: Option<String>,
        #[serde(rename = "ref")]
        rev: Option<String>,
        file: Option<String>,
        folder: Option<String>,
        quant: Option<String>,
        name: Option<String>,
    }

    #[test]
    fn url_vectors() {
        let vectors: Vectors = serde_json::from_str(include_str!("../tests/vectors/urls.json")).unwrap();
        for case in vectors.cases {
            let parsed = parse_url(&case.url);
            if let Some(why) = case.error {
                let e = parsed.expect_err(&format!("{:?} must be refused", case.url));
                assert_eq!(e.to_string(), format!("invalid repository URL {:?}: {why}", case.url));
                continue;
            }
            let parsed = parsed.unwrap_or_else(|e| panic!("{:?}: {e}", case.url));
            let id = match case.org {
                Some(org) => format!("{org}/{}", case.repo.unwrap()),
                None => case.repo.unwrap(),
            };
            let path = match (case.file, case.folder) {
                (Some(file), None) => Some(RepoPath::File(file)),
                (None, Some(folder)) => Some(RepoPath::Folder(folder)),
                (None, None) => None,
                _ => panic!("{:?}: a file or a folder, not both", case.url),
            };
            let kind = case.kind.map(|k| RepoType::parse(&k).unwrap());
            assert_eq!(parsed, RepoUrl { kind, id, rev: case.rev, path, quant: case.quant }, "{:?}", case.url);
            let name = parsed.kind.map(|k| parsed.with_kind(k).store_name(&vectors.rev));
            assert_eq!(name, case.name, "{:?}", case.url);
            if let Some(name) = &name {
                crate::nar::check_store_name(name).unwrap_or_else(|e| panic!("{:?}: {e}", case.url));
            }
        }
    }

    #[test]
    fn urls_parse_back_to_the_same_repo() {
        for kind in RepoType::ALL {
            // Spaces have no legacy ids.
            let ids = if kind == RepoType::Space { &["acme/tiny-bert"][..] } else { &["acme/tiny-bert", "gpt2"] };
            for id in ids {
                let repo = Repo::from_id(kind, id).unwrap();
                let parsed = parse_url(&repo.url()).unwrap();
                assert_eq!(parsed.kind.unwrap_or(RepoType::Model), kind);
                assert_eq!(parsed.with_kind(kind), repo);
            }
        }
    }

    #[test]
    fn names_of_legacy_ids() {
        let gpt2 = Repo::from_id(RepoType::Model, "gpt2").unwrap();
        assert_eq!(gpt2.folder(), "models--gpt2");
        assert_eq!(gpt2.store_name("0123"), "hf-model-gpt2-0123");
        assert_eq!(Repo::from_id(RepoType::Dataset, "squad").unwrap().folder(), "datasets--squad");
        let e = Repo::from_id(RepoType::Space, "app").unwrap_err();
        assert_eq!(e.to_string(), r#"invalid repo id "app": space "app" has no owner (expected org/name)"#);
        assert!(Repo::from_id(RepoType::Model, "datasets").is_err());
        assert!(Repo::from_id(RepoType::Model, "a/b/c").is_err());
    }

    #[test]
    fn names_of_spaces() {
        let space = Repo::from_id(RepoType::Space, "acme/app").unwrap();
        assert_eq!(space.url(), "spaces/acme/app");
        assert_eq!(space.folder(), "spaces--acme--app");
        assert_eq!(space.store_name("0123"), "hf-space-acme-app-0123");
        for kind in RepoType::ALL {
            assert_eq!(RepoType::parse(kind.as_str()).unwrap(), kind);
        }
    }

    #[test]
    fn commits() {
        assert!(is_commit(&"0a".repeat(20)));
        assert!(!is_commit(&"0A".repeat(20)));
        assert!(!is_commit("main"));
    }
}
