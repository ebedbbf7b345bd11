/*!
Hub repositories: the URL forms users write, the repo id rules of the Hub, and the names derived from
them (cache folder, store name). Pure: never the network (guessing the type of a bare `org/repo` is the
CLI's job).
*/

use crate::error::{Result, usage};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RepoType {
    Model,
    Dataset,
}

impl RepoType {
    pub fn parse(s: &str) -> Result<RepoType> {
        match s {
            "model" => Ok(RepoType::Model),
            "dataset" => Ok(RepoType::Dataset),
            _ => Err(usage(format!("unknown repo type {s:?} (expected model or dataset)"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
        }
    }

    /// The path segment of the API (`/api/models/...`) and the cache folder prefix (`models--...`).
    pub fn plural(self) -> &'static str {
        match self {
            RepoType::Model => "models",
            RepoType::Dataset => "datasets",
        }
    }

    /// The prefix of file URLs: models have none.
    pub fn url_prefix(self) -> &'static str {
        match self {
            RepoType::Model => "",
            RepoType::Dataset => "datasets/",
        }
    }
}

/// A repository on the Hub: its id and its type. The id is `org/name`, or a single `name` for the
/// legacy ids that predate organisations (`gpt2`, `bert-base-uncased`, `squad`), which the Hub still
/// answers to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Repo {
    pub kind: RepoType,
    pub id: String,
}

impl Repo {
    /// From the builder's `repoId`, the manifest, or the Hub's answer.
    pub fn from_id(kind: RepoType, id: &str) -> Result<Repo> {
        if !valid_id(id) {
            return Err(usage(format!("invalid repo id {id:?}: {ID_RULES}")));
        }
        Ok(Repo { kind, id: id.to_owned() })
    }

    /// The shortest URL form that names this repo and its type: `org/name` for a model (a bare
    /// `org/repo` is a model to `fetchModel` and is tried as a model first by the CLI),
    /// `datasets/org/name` for a dataset.
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

/// What a user's URL says: the repo id, its type when the form tells it, and a ref from `/tree/<ref>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoUrl {
    pub kind: Option<RepoType>,
    pub id: String,
    pub rev: Option<String>,
}

impl RepoUrl {
    pub fn with_kind(&self, kind: RepoType) -> Repo {
        Repo { kind, id: self.id.clone() }
    }
}

const ID_RULES: &str = "expected org/name (or a legacy name such as gpt2), each made of letters, digits, '-', \
    '_' and '.', not starting or ending with '-' or '.', without '--' or '..', at most 96 characters";

const HOSTS: &[&str] = &["https://huggingface.co/", "https://hf.co/"];

/// The first segments of the Hub's own pages, never a legacy repo id.
const RESERVED: &[&str] = &["datasets", "models", "spaces"];

/// Parses every URL form of DESIGN.md ("Fetching", step 1), and the single-name legacy ids in each.
pub fn parse_url(url: &str) -> Result<RepoUrl> {
    let bad = |why: &str| {
        usage(format!(
            "invalid repository URL {url:?}: {why} (URL forms: org/name, hf:org/name, datasets/org/name, \
             hf-datasets:org/name, https://huggingface.co/[datasets/]org/name[/tree/REF])"
        ))
    };
    let (kind, rest, web) = if let Some(rest) = url.strip_prefix("hf-datasets:") {
        (Some(RepoType::Dataset), rest, false)
    } else if let Some(rest) = url.strip_prefix("hf:") {
        (Some(RepoType::Model), rest, false)
    } else if let Some(rest) = HOSTS.iter().find_map(|h| url.strip_prefix(h)) {
        match rest.strip_prefix("datasets/") {
            Some(rest) => (Some(RepoType::Dataset), rest, true),
            None => (Some(RepoType::Model), rest, true),
        }
    } else if url.contains("://") {
        return Err(bad("only https://huggingface.co and https://hf.co URLs are understood"));
    } else if let Some(rest) = url.strip_prefix("datasets/") {
        (Some(RepoType::Dataset), rest, false)
    } else {
        (None, url, false)
    };

    let rest = if web { rest.strip_suffix('/').unwrap_or(rest) } else { rest };
    let segments: Vec<&str> = rest.split('/').collect();
    // In a web URL, `/tree/REF` may follow the id; `org/tree` alone is a repo named "tree".
    let (id, tree) = match segments[..] {
        [.., "tree", r] if web && segments.len() > 2 => (&segments[..segments.len() - 2], Some(r)),
        _ => (&segments[..], None),
    };
    if web && tree.is_none() && id.len() > 2 {
        return Err(bad("expected /tree/REF after the repository"));
    }
    let id = id.join("/");
    if !valid_id(&id) {
        return Err(bad(ID_RULES));
    }
    let rev = match tree {
        Some(r) => Some(decode_ref(r).ok_or_else(|| bad("invalid ref (write a slash in it as %2F)"))?),
        None => None,
    };
    Ok(RepoUrl { kind, id, rev })
}

/// `org/name` or a legacy `name`, by the Hub's repo name rules; they also keep every derived name
/// store-safe.
fn valid_id(id: &str) -> bool {
    match id.split_once('/') {
        Some((org, name)) => valid_segment(org) && valid_segment(name),
        None => valid_segment(id) && !RESERVED.contains(&id),
    }
}

/// The Hub's repo name rules for one segment.
fn valid_segment(s: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    !s.is_empty()
        && s.len() <= 96
        && s.chars().all(ok_char)
        && edge(s.chars().next())
        && edge(s.chars().last())
        && !s.contains("--")
        && !s.contains("..")
}

/// A full commit id, as the Hub and the cache layout spell it.
pub fn is_commit(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A ref in a web URL is one path segment: `[A-Za-z0-9._+@=-]`, with `/` written `%2F` (`refs%2Fpr%2F1`).
fn decode_ref(raw: &str) -> Option<String> {
    let decoded = raw.replace("%2F", "/").replace("%2f", "/");
    let plain = raw.replace("%2F", "").replace("%2f", "");
    let ok = !decoded.is_empty() && plain.chars().all(|c| c.is_ascii_alphanumeric() || "._+@=-".contains(c));
    ok.then_some(decoded)
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

    #[derive(Deserialize)]
    struct Case {
        url: String,
        #[serde(default)]
        error: bool,
        #[serde(rename = "type")]
        kind: Option<String>,
        org: Option<String>,
        repo: Option<String>,
        #[serde(rename = "ref")]
        rev: Option<String>,
        name: Option<String>,
    }

    #[test]
    fn url_vectors() {
        let vectors: Vectors = serde_json::from_str(include_str!("../tests/vectors/urls.json")).unwrap();
        for case in vectors.cases {
            let parsed = parse_url(&case.url);
            if case.error {
                assert!(parsed.is_err(), "{:?} must be refused, got {parsed:?}", case.url);
                continue;
            }
            let parsed = parsed.unwrap_or_else(|e| panic!("{:?}: {e}", case.url));
            let id = match case.org {
                Some(org) => format!("{org}/{}", case.repo.unwrap()),
                None => case.repo.unwrap(),
            };
            let want = RepoUrl { kind: case.kind.map(|k| RepoType::parse(&k).unwrap()), id, rev: case.rev };
            assert_eq!(parsed, want, "{:?}", case.url);
            let name = parsed.kind.map(|k| parsed.with_kind(k).store_name(&vectors.rev));
            assert_eq!(name, case.name, "{:?}", case.url);
            if let Some(name) = &name {
                crate::nar::check_store_name(name).unwrap_or_else(|e| panic!("{:?}: {e}", case.url));
            }
        }
    }

    #[test]
    fn urls_parse_back_to_the_same_repo() {
        for kind in [RepoType::Model, RepoType::Dataset] {
            for id in ["acme/tiny-bert", "gpt2"] {
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
        assert!(Repo::from_id(RepoType::Model, "datasets").is_err());
        assert!(Repo::from_id(RepoType::Model, "a/b/c").is_err());
    }

    #[test]
    fn commits() {
        assert!(is_commit(&"0a".repeat(20)));
        assert!(!is_commit(&"0A".repeat(20)));
        assert!(!is_commit("main"));
    }
}
