/*!
Persistent storage for outputs that must survive garbage collection: the configuration
(`$XDG_CONFIG_HOME/nix-hug/config`, overridden by `NIX_HUG_PERSIST_DIR` and `NIX_HUG_AUTO_PERSIST`), the
manifest `nix-hug-manifest.json` of the persist directory, a local binary cache filled by `nix copy`,
and which of its entries a URL names. The manifest never loses data: every change is a read-modify-write
under an exclusive lock, written to a temporary file, synced and renamed into place; a manifest that
cannot be read is an error that leaves it untouched. `export` and `restore` copy outputs between the
store and the persist directory (`nix copy`, through `nix.rs`); a `Source` is where `import` copies
from, this directory or one a teammate serves at a URL. `remove`, `prune`, `verify` and
`rebuild_manifest` keep the binary cache and the manifest in order, reading its narinfos (`narinfo.rs`).
*/

use crate::error::{Context, Error, Kind, Result, usage};
use crate::filter::{Filters, regex_to_glob};
use crate::layout::TreeCache;
use crate::narinfo::{self, NarInfo};
use crate::render::FetchResult;
use crate::repo::{Repo, RepoType, RepoUrl};
use crate::tempdir::TempDir;
use crate::{gguf, info, nar, nix};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "nix-hug-manifest.json";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub persist_dir: Option<PathBuf>,
    pub auto_persist: bool,
    /// The file it was read from, or would be, for messages.
    pub path: PathBuf,
}

impl Config {
    /// The config file (if any), then the environment, which wins. Both follow one rule (absolute paths
    /// or `~/`, booleans as `true`/`false`); the file is read only for keys the environment leaves
    /// unset, so a broken file is in the way only when it has something to say.
    pub fn load() -> Result<Config> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        let dir = var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")))
            .unwrap_or_default();
        let path = dir.join("nix-hug").join("config");
        let (env_dir, env_auto) = (var("NIX_HUG_PERSIST_DIR"), var("NIX_HUG_AUTO_PERSIST"));
        let mut config = match fs::read_to_string(&path) {
            _ if env_dir.is_some() && env_auto.is_some() => Config { path, ..Config::default() },
            Ok(text) => Config::parse(&text, &path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config { path, ..Config::default() },
            Err(e) => return Err(Error::from(e).context(path.display())),
        };
        let env = |name: &str, value: &std::ffi::OsStr, why: &str| {
            usage(format!("{name}={}: {why}", value.to_string_lossy()))
        };
        if let Some(value) = env_dir {
            let dir = value.to_str().and_then(absolute_dir);
            config.persist_dir =
                Some(dir.ok_or_else(|| {
                    env("NIX_HUG_PERSIST_DIR", &value, "must be an absolute path (or start with ~/)")
                })?);
        }
        if let Some(value) = env_auto {
            config.auto_persist = value
                .to_str()
                .and_then(parse_bool)
                .ok_or_else(|| env("NIX_HUG_AUTO_PERSIST", &value, "expected true or false"))?;
        }
        Ok(config)
    }

    /// `key=value` lines; blank lines and `#` comments (a whole line, or from a `#` after a space to the
    /// end of the line) are ignored; anything else is an error naming the line.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let mut config = Config { path: path.to_owned(), ..Config::default() };
        for (n, line) in text.lines().enumerate() {
            let line = strip_comment(line).trim();
            if line.is_empty() {
                continue;
            }
            let bad = |why: &str| usage(format!("{}:{}: {why}", path.display(), n + 1));
            let (key, value) = line.split_once('=').ok_or_else(|| bad("expected key=value"))?;
            let value = value.trim();
            match key.trim() {
                "persist_dir" if value.is_empty() => return Err(bad("persist_dir is empty")),
                "persist_dir" => {
                    config.persist_dir = Some(
                        absolute_dir(value)
                            .ok_or_else(|| bad("persist_dir must be an absolute path (or start with ~/)"))?,
                    )
                }
                "auto_persist" => {
                    config.auto_persist =
                        parse_bool(value).ok_or_else(|| bad("auto_persist: expected true or false"))?
                }
                other => return Err(bad(&format!("unknown key {other:?} (known: persist_dir, auto_persist)"))),
            }
        }
        Ok(config)
    }

    /// The persist directory, or an error that says how to set one.
    pub fn persist_dir(&self) -> Result<&Path> {
        self.persist_dir.as_deref().ok_or_else(|| {
            usage(format!(
                "no persist directory configured: add `persist_dir=/some/dir` to {} or set NIX_HUG_PERSIST_DIR",
                self.path.display()
            ))
        })
    }
}

/// The line up to a `#` that starts it or follows white space: `persist_dir=/models # on the big disk`.
fn strip_comment(line: &str) -> &str {
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        if c == '#' && previous.is_whitespace() {
            return &line[..i];
        }
        previous = c;
    }
    line
}

/// A directory, in the config file or the environment: absolute, or under `~/`. A relative one would
/// change meaning with the directory nix-hug runs in.
fn absolute_dir(value: &str) -> Option<PathBuf> {
    match value.strip_prefix("~/") {
        Some(rest) => Some(PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?).join(rest)),
        None => Some(PathBuf::from(value)).filter(|p| p.is_absolute()),
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

/// One exported output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub repo_id: String,
    /// `model`, `dataset` or `space`.
    #[serde(rename = "type")]
    pub kind: String,
    pub rev: String,
    /// The branches and tags it was exported as (`main` when none was given), so that without the Hub
    /// a ref can still be looked up; none for an export asked for by commit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<String>,
    pub filters: Filters,
    pub file_tree_hash: String,
    pub store_path: String,
    /// Bytes of the files.
    pub size: u64,
    /// How many files.
    pub files: usize,
    /// When it was exported, RFC 3339 UTC.
    pub exported: String,
}

impl Entry {
    /// Two entries for the same output replace each other.
    fn same_output(&self, other: &Entry) -> bool {
        self.store_path == other.store_path
    }

    /// `acme/bert@0123456` or `datasets/acme/squad@0123456`, and the filters if any, for messages.
    pub fn label(&self) -> String {
        let prefix = RepoType::parse(&self.kind).map_or("", RepoType::url_prefix);
        let short = self.rev.get(..7).unwrap_or(&self.rev);
        let filters = describe_filters(&self.filters);
        let filters = if filters.is_empty() { filters } else { format!(" ({filters})") };
        format!("{prefix}{}@{short}{filters}", self.repo_id)
    }
}

/// `include *.safetensors, exclude onnx/*`: as the globs they were made from, where they were; empty
/// without filters.
pub fn describe_filters(filters: &Filters) -> String {
    let as_typed = |re: &String| regex_to_glob(re).unwrap_or_else(|| re.clone());
    let lists = [("include", &filters.include), ("exclude", &filters.exclude)];
    let mut parts: Vec<String> = lists
        .iter()
        .filter(|(_, l)| !l.is_empty())
        .map(|(name, l)| format!("{name} {}", l.iter().map(as_typed).collect::<Vec<_>>().join(" ")))
        .collect();
    if !filters.files.is_empty() {
        parts.push(format!("files {}", filters.files.join(" ")));
    }
    parts.join(", ")
}

/// The entries of the repository `url` names, at commits starting with `rev` or exported as the ref `rev`,
/// when given, and of the URL's `:QUANT` if it has one. A bare `org/repo` names models if any entry is
/// one, else datasets, as `fetch` looks it up on the Hub.
pub fn matching<'a>(entries: &'a [Entry], url: &RepoUrl, rev: Option<&str>) -> Vec<&'a Entry> {
    let prefix = rev.map(str::to_ascii_lowercase);
    let at = |e: &&Entry| match (rev, &prefix) {
        (Some(rev), Some(prefix)) => e.rev.starts_with(prefix.as_str()) || e.refs.iter().any(|r| r == rev),
        _ => true,
    };
    let kinds = url.kind.map_or(vec![RepoType::Model, RepoType::Dataset], |k| vec![k]);
    kinds
        .into_iter()
        .map(|kind| {
            let of = |e: &&Entry| e.repo_id == url.id && e.kind == kind.as_str();
            let quant = |e: &&Entry| url.quant.as_deref().is_none_or(|quant| of_quant(&e.filters, quant));
            entries.iter().filter(of).filter(at).filter(quant).collect()
        })
        .find(|found: &Vec<&Entry>| !found.is_empty())
        .unwrap_or_default()
}

/// Whether the files of an export are those of a GGUF quant: a model of that quant is among them.
fn of_quant(filters: &Filters, quant: &str) -> bool {
    let names = filters.files.iter().filter_map(|f| gguf::Name::parse(f));
    names.filter(|n| !n.mmproj).any(|n| n.quant.is_some_and(|q| q.eq_ignore_ascii_case(quant)))
}

/// The export of the repository `url` names at `commit`, with the same filters: what `fetch` uses
/// instead of downloading.
pub fn exported_at<'a>(entries: &'a [Entry], url: &RepoUrl, commit: &str, filters: &Filters) -> Option<&'a Entry> {
    let found = matching(entries, url, Some(commit)).into_iter().filter(|e| e.rev == commit);
    newest(found, filters)
}

/// The newest export made as the branch or tag `ref_name`, with the same filters: what `fetch` uses
/// when the Hub cannot be asked where that ref points now.
pub fn exported_as<'a>(entries: &'a [Entry], url: &RepoUrl, ref_name: &str, filters: &Filters) -> Option<&'a Entry> {
    let found = matching(entries, url, None).into_iter().filter(|e| e.refs.iter().any(|r| r == ref_name));
    newest(found, filters)
}

fn newest<'a>(found: impl Iterator<Item = &'a Entry>, filters: &Filters) -> Option<&'a Entry> {
    // Entries recorded before filters were kept canonical may list them in any order.
    let filters = filters.clone().canonical();
    found.filter(|e| e.filters.clone().canonical() == filters).max_by(|a, b| a.exported.cmp(&b.exported))
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    entries: Vec<Entry>,
}

impl Manifest {
    /// A manifest of version 1, or why not.
    fn parse(bytes: &[u8]) -> std::result::Result<Manifest, String> {
        match serde_json::from_slice::<Manifest>(bytes) {
            Ok(manifest) if manifest.version == 1 => Ok(manifest),
            Ok(manifest) => Err(format!("unknown version {} (this nix-hug reads version 1)", manifest.version)),
            // serde_json says where: `expected value at line 3 column 5`.
            Err(e) => Err(format!("corrupt: {e}")),
        }
    }
}

/// Held shared by an export from its `nix copy` until it is recorded, and exclusively by `remove` and
/// `prune`, which would otherwise take a copy not recorded yet for garbage.
const GC_LOCK: &str = "nix-hug-gc.lock";

/// What `remove` and `prune` deleted: the store paths whose copies are gone (and NARs no narinfo
/// named, as `nar/…`), and the bytes of NAR files freed; and what `prune` left although no export
/// needs it: copies `export` did not make (a lock's blobs, put there with `nix copy`).
#[derive(Debug, Default)]
pub struct Freed {
    pub paths: Vec<String>,
    pub bytes: u64,
    pub left: Vec<String>,
}

/// What `verify` found: the NARs that match their narinfos, their bytes, and each problem.
#[derive(Debug, Default)]
pub struct Verified {
    pub paths: usize,
    pub bytes: u64,
    pub problems: Vec<String>,
}

/// The hash parts of the store paths of `entries` and of every path they refer to, as the narinfos say.
fn closure(entries: &[Entry], infos: &BTreeMap<String, NarInfo>) -> BTreeSet<String> {
    let mut todo: Vec<String> =
        entries.iter().filter_map(|e| narinfo::hash_part(&e.store_path)).map(str::to_owned).collect();
    let mut seen = BTreeSet::new();
    while let Some(hash) = todo.pop() {
        if seen.insert(hash.clone()) {
            let refs = infos.get(&hash).map(|i| i.references.as_slice()).unwrap_or_default();
            todo.extend(refs.iter().filter_map(|r| narinfo::hash_part(r)).map(str::to_owned));
        }
    }
    seen
}

/// The type and commit of a copy of a fetch output (`hf-TYPE-…-<commit>`, recursive fixed-output),
/// what `export` writes; `None` for any other path (a lock entry's blobs, small files or links).
fn fetch_output(info: &NarInfo) -> Option<(RepoType, &str)> {
    let name = info.name();
    let kind = RepoType::ALL.into_iter().find(|k| name.starts_with(&format!("hf-{}-", k.as_str())))?;
    let rev = name.rsplit('-').next().filter(|r| crate::repo::is_commit(r))?;
    info.ca.as_deref()?.starts_with("fixed:r:sha256:").then_some((kind, rev))
}

/// The persist directory: a binary cache plus the manifest.
pub struct Persist {
    dir: PathBuf,
}

impl Persist {
    pub fn new(dir: &Path) -> Persist {
        Persist { dir: dir.to_owned() }
    }

    /// The configured persist directory, made absolute: a `file://` URL needs it so.
    pub fn open(config: &Config) -> Result<Persist> {
        let dir = config.persist_dir()?;
        Ok(Persist::new(&std::path::absolute(dir).with_context(|| dir.display())?))
    }

    /// Copies the output of `result` into the persist directory with `nix copy`, then records it in the
    /// manifest, with the branch or tag it was fetched as (`refs`).
    pub fn export(&self, result: &FetchResult, refs: Vec<String>) -> Result<()> {
        let Some(store_path) = result.store_path.as_deref() else {
            return Err(Error::new(Kind::Failed, "nothing to export: the output is not in the Nix store"));
        };
        info!("copying {store_path} to {}", self.dir.display());
        let _copying = self.lock(GC_LOCK, true)?;
        nix::copy_to(&Cache::new(self)?.url, store_path)?;
        self.record(Entry {
            repo_id: result.repo.to_string(),
            kind: result.repo.kind.as_str().to_owned(),
            rev: result.rev.clone(),
            refs,
            filters: result.filters.clone(),
            file_tree_hash: result.file_tree_hash.clone(),
            store_path: store_path.to_owned(),
            size: result.bytes,
            files: result.files,
            exported: now(),
        })
    }

    /// Copies the output of `entry` from the persist directory into the store.
    pub fn restore(&self, entry: &Entry) -> Result<()> {
        if !self.holds(&entry.store_path) {
            return Err(Error::new(
                Kind::NotFound,
                format!("{} holds no copy of {} (it has no .narinfo for it)", self.dir.display(), entry.store_path),
            ));
        }
        nix::copy_from(&Cache::new(self)?.url, &entry.store_path)
    }

    /// Makes the output of `entry` valid in the store, from the persist directory if it was collected,
    /// and gives what `fetch` would have printed for it.
    pub fn bring_back(&self, entry: &Entry) -> Result<FetchResult> {
        match nix::valid(&[&entry.store_path])?.as_deref() {
            Some([true]) => info!("{} is in the store: {}", entry.label(), entry.store_path),
            Some(_) => {
                self.restore(entry)?;
                info!("restored {} from {}", entry.store_path, self.dir.display());
            }
            None => return Err(Error::new(Kind::Failed, "nix-store is not on PATH")),
        }
        let repo = RepoType::parse(&entry.kind).and_then(|kind| Repo::from_id(kind, &entry.repo_id));
        Ok(FetchResult {
            repo: repo.context("in the manifest")?,
            rev: entry.rev.clone(),
            filters: entry.filters.clone(),
            file_tree_hash: entry.file_tree_hash.clone(),
            store_path: Some(entry.store_path.clone()),
            files: entry.files,
            bytes: entry.size,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the binary cache holds `store_path` (its `.narinfo`).
    pub fn holds(&self, store_path: &str) -> bool {
        let name = store_path.rsplit('/').next().unwrap_or_default();
        let hash = name.get(..32).unwrap_or(name);
        self.dir.join(format!("{hash}.narinfo")).is_file()
    }

    pub fn entries(&self) -> Result<Vec<Entry>> {
        Ok(self.read()?.entries)
    }

    /// Refuses, before anything is downloaded for it, a persist directory that could not take an export:
    /// a file, or a folder this user cannot write to. Creates it when it does not exist.
    pub fn check_writable(&self) -> Result<()> {
        let dir = &self.dir;
        if dir.exists() && !dir.is_dir() {
            return Err(usage(format!("the persist directory {} is not a directory", dir.display())));
        }
        let probe = dir.join(format!(".nix-hug-write-test-{}", std::process::id()));
        fs::create_dir_all(dir).and_then(|()| File::create(&probe)).and_then(|_| fs::remove_file(&probe)).map_err(|e| {
            Error::new(Kind::Failed, format!("cannot write to the persist directory {}", dir.display())).with_source(e)
        })
    }

    /// Adds or replaces the entry for the same output, under the lock, atomically.
    pub fn record(&self, entry: Entry) -> Result<()> {
        self.change(|manifest| {
            let mut entry = entry;
            let earlier: Vec<String> =
                manifest.entries.iter().filter(|e| e.same_output(&entry)).flat_map(|e| e.refs.clone()).collect();
            entry.refs.extend(earlier);
            entry.refs.sort();
            entry.refs.dedup();
            manifest.entries.retain(|e| !e.same_output(&entry));
            manifest.entries.push(entry);
        })
    }

    /// Drops the entries `chosen` picks from the manifest, then the copies of their closures that no
    /// other entry needs, and the copies of `paths`, which no entry may need.
    pub fn remove(&self, chosen: impl Fn(&Entry) -> bool, paths: &[String]) -> Result<(Vec<Entry>, Freed)> {
        let _gc = self.lock(GC_LOCK, false)?;
        let infos = self.narinfos()?;
        let staying: Vec<Entry> = self.entries()?.into_iter().filter(|e| !chosen(e)).collect();
        let needed = closure(&staying, &infos);
        if let Some(path) = paths.iter().find(|p| narinfo::hash_part(p).is_some_and(|h| needed.contains(h))) {
            let message = format!("{path} is needed by an export; `nix-hug store rm` the export instead");
            return Err(Error::new(Kind::Failed, message));
        }
        let removed = self.change(|manifest| {
            let (removed, kept) = std::mem::take(&mut manifest.entries).into_iter().partition(|e| chosen(e));
            manifest.entries = kept;
            removed
        })?;
        let kept = closure(&self.entries()?, &infos);
        let mut doomed: BTreeSet<String> = closure(&removed, &infos).difference(&kept).cloned().collect();
        doomed.extend(paths.iter().filter_map(|p| narinfo::hash_part(p)).map(str::to_owned));
        Ok((removed, self.delete(&infos, &doomed, &kept)?))
    }

    /// Deletes the copies of fetch outputs that no entry of the manifest needs (in the closure of none),
    /// and the NARs that no narinfo names, left by a copy that was interrupted. Copies `export` did not
    /// make are left, and listed. Without a manifest, which `rebuild_manifest` would recover from these
    /// very copies, it deletes nothing.
    pub fn prune(&self) -> Result<Freed> {
        let _gc = self.lock(GC_LOCK, false)?;
        let infos = self.narinfos()?;
        let kept = closure(&self.entries()?, &infos);
        let (doomed, left): (Vec<&NarInfo>, Vec<&NarInfo>) =
            infos.values().filter(|i| !kept.contains(i.hash_part())).partition(|i| fetch_output(i).is_some());
        let doomed: BTreeSet<String> = doomed.iter().map(|i| i.hash_part().to_owned()).collect();
        if !doomed.is_empty() && !self.manifest_path().exists() {
            return Err(Error::new(
                Kind::Failed,
                format!(
                    "{} has no manifest, so every copy looks unneeded: `nix-hug store rebuild-manifest` recovers it",
                    self.dir.display()
                ),
            ));
        }
        let mut freed = self.delete(&infos, &doomed, &kept)?;
        freed.left = left.into_iter().map(|i| i.store_path.clone()).collect();
        let named: BTreeSet<PathBuf> = infos.values().filter_map(|i| self.nar_file(i)).collect();
        let nars = self.dir.join("nar");
        for file in fs::read_dir(&nars).into_iter().flatten() {
            let path = file.with_context(|| nars.display())?.path();
            if path.is_file() && !named.contains(&path) {
                freed.bytes += path.metadata().map_or(0, |m| m.len());
                fs::remove_file(&path).with_context(|| path.display())?;
                freed.paths.push(format!("nar/{}", path.file_name().unwrap_or_default().to_string_lossy()));
            }
        }
        Ok(freed)
    }

    /// Re-hashes every NAR against its narinfo (`NarHash` and `NarSize`; `FileHash` and `FileSize` of
    /// a compressed one), and finds every entry of the manifest a narinfo: a problem per line, by store
    /// path.
    pub fn verify(&self) -> Result<Verified> {
        let mut verified = Verified::default();
        let mut held = BTreeSet::new();
        for (file, info) in self.narinfo_files()? {
            let info = match info {
                Ok(info) => info,
                Err(why) => {
                    verified.problems.push(format!("{}: {why}", file.display()));
                    continue;
                }
            };
            held.insert(info.store_path.clone());
            match self.check_nar(&info) {
                Ok(bytes) => (verified.paths, verified.bytes) = (verified.paths + 1, verified.bytes + bytes),
                Err(why) => verified.problems.push(format!("{}: {why}", info.store_path)),
            }
        }
        for e in self.entries()?.iter().filter(|e| !held.contains(&e.store_path)) {
            verified.problems.push(format!(
                "{}: exported as {}, but there is no narinfo for it",
                e.store_path,
                e.label()
            ));
        }
        Ok(verified)
    }

    /// The entries the manifest lacks for the fetch outputs the cache holds, added to it: what can be
    /// read back from a narinfo and its NAR. The repository, type and commit come from the layout,
    /// the filters are the exact files it holds (the same output), and the date is the narinfo's;
    /// the branch or tag it was fetched as is lost. Returns the entries added, and why each other
    /// store path that looks like a fetch output was left out.
    pub fn rebuild_manifest(&self) -> Result<(Vec<Entry>, Vec<String>)> {
        let infos = self.narinfos()?;
        self.change(|manifest| {
            let (mut added, mut left) = (Vec::new(), Vec::new());
            for info in infos.values().filter(|i| !manifest.entries.iter().any(|e| e.store_path == i.store_path)) {
                match self.recover(info) {
                    Ok(Some(entry)) => added.push(entry),
                    Ok(None) => {}
                    Err(why) => left.push(format!("{}: {why}", info.store_path)),
                }
            }
            manifest.entries.extend(added.iter().cloned());
            (added, left)
        })
    }

    /// The entry of a fetch output (`hf-TYPE-…-<commit>`, recursive fixed-output), from its NAR;
    /// `None` for any other path (a lock entry's blobs, small files or links).
    fn recover(&self, info: &NarInfo) -> std::result::Result<Option<Entry>, String> {
        let Some((kind, rev)) = fetch_output(info) else { return Ok(None) };
        let name = info.name();
        if info.compression != "none" {
            return Err(format!("its NAR is compressed ({}), and only an uncompressed one is read", info.compression));
        }
        let file = self.nar_file(info).ok_or("its narinfo names no NAR in the persist directory")?;
        let nar = File::open(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let decoder = nix_nar::Decoder::new(std::io::BufReader::new(nar)).map_err(|e| e.to_string())?;
        let (mut folder, mut tree) = (None, None);
        for entry in decoder.entries().map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            let Some(path) = entry.path.as_ref().map(|p| p.as_str().to_owned()) else { continue };
            let top = path.split('/').next().unwrap_or_default();
            if folder.is_none() && top.starts_with(&format!("{}--", kind.plural())) {
                folder = Some(top.to_owned());
            }
            if folder.as_deref().is_some_and(|f| path == format!("{f}/trees/{rev}.json"))
                && let nix_nar::Content::File { mut data, .. } = entry.content
            {
                let mut json = Vec::new();
                std::io::Read::read_to_end(&mut data, &mut json).map_err(|e| e.to_string())?;
                tree = Some(serde_json::from_slice::<TreeCache>(&json).map_err(|e| format!("trees/{rev}.json: {e}"))?);
                break;
            }
        }
        let (Some(folder), Some(tree)) = (folder, tree) else {
            return Err(format!("its NAR has no {}--…/trees/{rev}.json", kind.plural()));
        };
        let id = folder[kind.plural().len() + 2..].replace("--", "/");
        let repo = Repo::from_id(kind, &id).map_err(|e| e.to_string())?;
        if repo.store_name(rev) != name {
            return Err(format!("its layout is of {id}, which is not the repository its name says"));
        }
        let hash = nar::parse_hash(&info.nar_hash).map_err(|e| e.to_string())?;
        let exported = fs::metadata(self.dir.join(format!("{}.narinfo", info.hash_part())))
            .and_then(|m| m.modified())
            .map_or_else(|_| now(), |t| humantime::format_rfc3339_seconds(t).to_string());
        Ok(Some(Entry {
            repo_id: id,
            kind: kind.as_str().to_owned(),
            rev: rev.to_owned(),
            refs: Vec::new(),
            filters: Filters { files: tree.files.keys().cloned().collect(), ..Filters::default() },
            file_tree_hash: nar::sri(&hash),
            store_path: info.store_path.clone(),
            size: tree.files.values().map(|f| f.size).sum(),
            files: tree.files.len(),
            exported,
        }))
    }

    /// The narinfos of the cache, each read (or why it could not be), by file name.
    fn narinfo_files(&self) -> Result<Vec<(PathBuf, std::result::Result<NarInfo, String>)>> {
        let mut found = Vec::new();
        let read = match fs::read_dir(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
            other => other.with_context(|| self.dir.display())?,
        };
        for file in read {
            let path = file.with_context(|| self.dir.display())?.path();
            if path.extension().is_some_and(|x| x == "narinfo") {
                let info = fs::read_to_string(&path).map_err(|e| e.to_string()).and_then(|t| NarInfo::parse(&t));
                found.push((path, info));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }

    /// The narinfos by hash part; one that cannot be read is an error, since what it refers to is unknown.
    fn narinfos(&self) -> Result<BTreeMap<String, NarInfo>> {
        let mut infos = BTreeMap::new();
        for (path, info) in self.narinfo_files()? {
            let info = info.map_err(|why| {
                let message = format!("{}: {why}; see `nix-hug store verify`", path.display());
                Error::new(Kind::Failed, message)
            })?;
            infos.insert(info.hash_part().to_owned(), info);
        }
        Ok(infos)
    }

    /// The NAR file a narinfo names, if it is one of this directory's.
    fn nar_file(&self, info: &NarInfo) -> Option<PathBuf> {
        let url = Path::new(&info.url);
        let plain = url.components().all(|c| matches!(c, std::path::Component::Normal(_)));
        plain.then(|| self.dir.join(url))
    }

    /// The size of the NAR file, if it has the hash and size its narinfo says; else what is wrong.
    fn check_nar(&self, info: &NarInfo) -> std::result::Result<u64, String> {
        let (hash, size) = match (info.compression.as_str(), &info.file_hash, info.file_size) {
            ("none", _, _) => (info.nar_hash.as_str(), info.nar_size),
            (_, Some(hash), Some(size)) => (hash.as_str(), size),
            (compression, _, _) => return Err(format!("compressed ({compression}) without FileHash and FileSize")),
        };
        let file = self.nar_file(info).ok_or_else(|| format!("its narinfo names {:?}, not a file here", info.url))?;
        let mut nar = File::open(&file).map_err(|e| format!("{}: {e}", info.url))?;
        let (mut hasher, mut read, mut buf) = (Sha256::new(), 0u64, vec![0u8; 1 << 20]);
        loop {
            let n = std::io::Read::read(&mut nar, &mut buf).map_err(|e| format!("{}: {e}", info.url))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            read += n as u64;
        }
        let want = nar::parse_hash(hash).map_err(|e| e.to_string())?;
        let got: nar::Hash = hasher.finalize().into();
        if read != size {
            Err(format!("{} is {read} bytes, its narinfo says {size}", info.url))
        } else if got != want {
            Err(format!("{} has sha256:{}, its narinfo says {hash}", info.url, nar::nix32(&got)))
        } else {
            Ok(read)
        }
    }

    /// Deletes the narinfos of `doomed` (hash parts) and their NARs, but a NAR a `kept` one names too.
    fn delete(
        &self,
        infos: &BTreeMap<String, NarInfo>,
        doomed: &BTreeSet<String>,
        kept: &BTreeSet<String>,
    ) -> Result<Freed> {
        let kept_nars: BTreeSet<PathBuf> = kept.iter().filter_map(|h| self.nar_file(infos.get(h)?)).collect();
        let mut freed = Freed::default();
        for info in doomed.iter().filter_map(|h| infos.get(h)) {
            // The narinfo first: without it, no reader of the cache looks for the NAR.
            for ext in ["narinfo", "ls"] {
                let path = self.dir.join(format!("{}.{ext}", info.hash_part()));
                match fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(Error::from(e).context(path.display()));
                    }
                    _ => {}
                }
            }
            if let Some(nar) = self.nar_file(info).filter(|n| !kept_nars.contains(n)) {
                let size = nar.metadata().map_or(0, |m| m.len());
                match fs::remove_file(&nar) {
                    Ok(()) => freed.bytes += size,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::from(e).context(nar.display())),
                }
            }
            freed.paths.push(info.store_path.clone());
        }
        Ok(freed)
    }

    /// Runs `change` on the manifest under its lock, then replaces it atomically.
    fn change<T>(&self, change: impl FnOnce(&mut Manifest) -> T) -> Result<T> {
        let _lock = self.lock(&format!("{MANIFEST}.lock"), false)?;
        let mut manifest = self.read()?;
        let out = change(&mut manifest);
        self.write(&manifest)?;
        Ok(out)
        // The lock goes with `_lock`.
    }

    /// Takes a lock file of the directory, shared or exclusive, until the file is dropped.
    fn lock(&self, name: &str, shared: bool) -> Result<File> {
        fs::create_dir_all(&self.dir).with_context(|| self.dir.display())?;
        let path = self.dir.join(name);
        let file =
            OpenOptions::new().create(true).truncate(false).write(true).open(&path).with_context(|| path.display())?;
        if shared { file.lock_shared() } else { file.lock() }.with_context(|| path.display())?;
        Ok(file)
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir.join(MANIFEST)
    }

    fn read(&self) -> Result<Manifest> {
        let path = self.manifest_path();
        let refused = |why: String| {
            let message = format!("{}: {why}; it was left as it is: fix or move it", path.display());
            Err(Error::new(Kind::Failed, message))
        };
        match fs::read(&path) {
            Ok(bytes) => Manifest::parse(&bytes).or_else(refused),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest { version: 1, entries: Vec::new() }),
            Err(e) => Err(Error::from(e).context(path.display())),
        }
    }

    fn write(&self, manifest: &Manifest) -> Result<()> {
        let path = self.manifest_path();
        let tmp = self.dir.join(format!(".{MANIFEST}.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&tmp)?;
            serde_json::to_writer_pretty(&mut file, manifest)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            fs::rename(&tmp, &path)?;
            File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::from(e).context(path.display())
        })
    }
}

/// Where `import` copies exports from: this machine's persist directory, or one a teammate serves at a
/// URL (any static web server, or `file://` on a shared file system). A served one's manifest is read
/// over HTTP without the Hugging Face token, which is for the Hub alone.
pub enum Source {
    Dir(Persist),
    Served(String),
}

impl Source {
    /// The persist directory served at `url`: `http://`, `https://` or `file://` and a path.
    pub fn served(url: &str) -> Result<Source> {
        let url = url.trim_end_matches('/');
        let bad = || {
            usage(format!("--from {url:?}: expected the http://, https:// or file:///PATH URL of a persist directory"))
        };
        // On a shared file system, it is read as the configured one is.
        if let Some(path) = url.strip_prefix("file://") {
            let path = Path::new(path.split('?').next().unwrap_or_default());
            return if path.is_absolute() { Ok(Source::Dir(Persist::new(path))) } else { Err(bad()) };
        }
        let uri: ureq::http::Uri = url.parse().map_err(|_| bad())?;
        match (uri.scheme_str(), uri.host()) {
            (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(Source::Served(url.to_owned())),
            _ => Err(bad()),
        }
    }

    /// The directory or the URL, for messages.
    pub fn name(&self) -> String {
        match self {
            Source::Dir(persist) => persist.dir.display().to_string(),
            Source::Served(url) => url.clone(),
        }
    }

    pub fn entries(&self) -> Result<Vec<Entry>> {
        let url = match self {
            Source::Dir(persist) => return persist.entries(),
            Source::Served(url) => format!("{url}/{MANIFEST}"),
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("nix-hug/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(std::time::Duration::from_secs(30)))
            .timeout_global(Some(std::time::Duration::from_secs(120)))
            .tls_config(crate::tls::config()?)
            .build()
            .new_agent();
        let origin = crate::hub::origin(&url);
        let mut resp = agent.get(&url).call().map_err(|e| {
            crate::debug!("GET {url} -> {e}");
            crate::tls::handshake_error(&e, origin).unwrap_or_else(|| {
                let why = match e {
                    ureq::Error::Io(io) => io.kind().to_string(),
                    other => other.to_string(),
                };
                Error::new(Kind::Network, format!("cannot reach {origin} ({why})"))
            })
        })?;
        let status = resp.status().as_u16();
        crate::debug!("GET {url} -> {status}");
        let failed = |why: String| Error::new(Kind::Failed, format!("{url}: {why}"));
        match status {
            200 => {}
            404 => return Err(failed("not found (404): no persist directory is served there".into())),
            _ => return Err(failed(format!("the server answered {status}"))),
        }
        let body =
            resp.body_mut().with_config().limit(MAX_MANIFEST).read_to_vec().map_err(|e| failed(e.to_string()))?;
        Ok(Manifest::parse(&body).map_err(failed)?.entries)
    }

    /// Copies the output of `entry` into the store.
    pub fn restore(&self, entry: &Entry) -> Result<()> {
        match self {
            Source::Dir(persist) => persist.restore(entry),
            Source::Served(url) => nix::copy_from(url, &entry.store_path),
        }
    }
}

/// The largest manifest read over HTTP: a few hundred bytes an export.
const MAX_MANIFEST: u64 = 64 << 20;

/// The URL `nix copy` reaches the persist directory by. When its path cannot be written in a URL (see
/// `cache_url`), that is a symlink with a plain name in a temporary folder, removed on drop.
struct Cache {
    url: String,
    _link: Option<TempDir>,
}

impl Cache {
    fn new(persist: &Persist) -> Result<Cache> {
        let dir = persist.dir();
        if let Some(url) = cache_url(dir) {
            return Ok(Cache { url, _link: None });
        }
        // Nix follows the symlink only to a folder that exists.
        fs::create_dir_all(dir).with_context(|| dir.display())?;
        let tmp = TempDir::new()?;
        let link = tmp.path().join("persist");
        std::os::unix::fs::symlink(dir, &link).with_context(|| link.display())?;
        let url = cache_url(&link).ok_or_else(|| {
            Error::new(
                Kind::Failed,
                format!(
                    "nix copy cannot reach {}: neither its path nor that of the temporary folder {} fits in a \
                     file:// URL (letters, digits and -._~/ only); set TMPDIR to such a folder",
                    dir.display(),
                    tmp.path().display()
                ),
            )
        })?;
        Ok(Cache { url, _link: Some(tmp) })
    }
}

/// The URL of the binary cache at `dir` for `nix copy`, uncompressed (xz, Nix's default, is far too slow
/// for weights); `None` when the path has other characters than letters, digits and `-._~/`. Nix 2.8
/// takes the path of a `file://` URL verbatim: it refuses a space, and writes to a folder named `a%20b`
/// when given `a%20b`, so a percent-encoded path is no way out.
pub fn cache_url(dir: &Path) -> Option<String> {
    let path = dir.to_str()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || "-._~/".contains(c);
    (path.starts_with('/') && path.chars().all(plain)).then(|| format!("file://{path}?compression=none"))
}

/// Now, as RFC 3339 UTC (`2026-11-24T14:19:16Z`).
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files() {
        let path = Path::new("/etc/nix-hug/config");
        let c = Config::parse("# models\npersist_dir = /persist/my models\nauto_persist=TRUE\n\n", path).unwrap();
        assert_eq!(c.persist_dir.as_deref(), Some(Path::new("/persist/my models")));
        assert!(c.auto_persist);
        let c = Config::parse("persist_dir=/models#1 # the big disk\nauto_persist=true\t# yes\n", path).unwrap();
        assert_eq!(c.persist_dir.as_deref(), Some(Path::new("/models#1")), "a # after a space starts a comment");
        assert!(c.auto_persist);
        let bad = [
            ("persist_dir\n", 1),
            ("\nauto_persist=maybe", 2),
            ("color=red", 1),
            ("persist_dir=", 1),
            ("persist_dir=models", 1),
            ("persist_dir= # nothing", 1),
        ];
        for (text, line) in bad {
            let e = Config::parse(text, path).unwrap_err();
            assert!(e.to_string().starts_with(&format!("/etc/nix-hug/config:{line}: ")), "{e}");
        }
        let e = Config::parse("", path).unwrap().persist_dir().unwrap_err();
        assert!(e.to_string().contains("NIX_HUG_PERSIST_DIR") && e.to_string().contains("/etc/nix-hug/config"), "{e}");
    }

    #[test]
    fn dates() {
        let now = now();
        assert_eq!(now.len(), "2026-11-29T14:32:36Z".len(), "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }

    fn entry(path: &str) -> Entry {
        Entry {
            repo_id: "acme/tiny-bert".into(),
            kind: "model".into(),
            rev: "0".repeat(40),
            refs: Vec::new(),
            filters: Filters::default(),
            file_tree_hash: "sha256-x".into(),
            store_path: path.into(),
            size: 1,
            files: 1,
            exported: now(),
        }
    }

    #[test]
    fn manifest_keeps_every_entry_and_refuses_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let persist = Persist::new(&dir.path().join("a dir with spaces"));
        assert!(persist.entries().unwrap().is_empty());
        std::thread::scope(|s| {
            for i in 0..8 {
                let persist = &persist;
                s.spawn(move || persist.record(entry(&format!("/nix/store/{i}"))).unwrap());
            }
        });
        assert_eq!(persist.entries().unwrap().len(), 8, "concurrent records all land");
        persist.record(entry("/nix/store/3")).unwrap();
        assert_eq!(persist.entries().unwrap().len(), 8, "the same output replaces its entry");

        let manifest = persist.dir().join(MANIFEST);
        fs::write(&manifest, b"{ not json").unwrap();
        assert!(persist.entries().unwrap_err().to_string().contains("left as it is"));
        assert!(persist.record(entry("/nix/store/9")).is_err());
        assert_eq!(fs::read(&manifest).unwrap(), b"{ not json", "a corrupt manifest is never overwritten");
    }

    #[test]
    fn cache_urls() {
        let url = |p: &str| cache_url(Path::new(p));
        assert_eq!(url("/persist/models").as_deref(), Some("file:///persist/models?compression=none"));
        assert_eq!(
            url("/home/me/.cache/nix-hug~1").as_deref(),
            Some("file:///home/me/.cache/nix-hug~1?compression=none")
        );
        for p in ["/persist/my models", "/persist/100%", "/a?b", "/a#b", "/café", "relative/dir"] {
            assert_eq!(url(p), None, "{p}");
        }
    }

    fn at(kind: &str, id: &str, rev: char, filters: Filters, exported: &str) -> Entry {
        let path = format!("/nix/store/{kind}-{id}-{rev}-{}-{exported}", filters.include.join(","));
        Entry {
            kind: kind.into(),
            repo_id: id.into(),
            rev: rev.to_string().repeat(40),
            refs: if rev == 'a' { vec!["v1.0".into()] } else { vec!["main".into()] },
            filters,
            exported: exported.into(),
            ..entry(&path)
        }
    }

    fn url(s: &str) -> RepoUrl {
        crate::repo::parse_url(s).unwrap()
    }

    #[test]
    fn matching_entries() {
        let st = Filters { include: vec![r".*\.safetensors".into()], ..Filters::default() };
        let entries = [
            at("model", "acme/bert", 'a', Filters::default(), "2026-01-01T00:00:00Z"),
            at("model", "acme/bert", 'b', st.clone(), "2026-03-01T00:00:00Z"),
            at("model", "acme/bert", 'c', Filters::default(), "2026-02-01T00:00:00Z"),
            at("dataset", "acme/bert", 'd', Filters::default(), "2026-04-01T00:00:00Z"),
            at("dataset", "acme/squad", 'e', Filters::default(), "2026-01-01T00:00:00Z"),
            at("model", "acme/bert-large", 'f', Filters::default(), "2026-01-01T00:00:00Z"),
            at("space", "acme/bert", 'g', Filters::default(), "2026-05-01T00:00:00Z"),
        ];
        let revs = |found: Vec<&Entry>| found.iter().map(|e| e.rev.chars().next().unwrap()).collect::<String>();
        assert_eq!(revs(matching(&entries, &url("acme/bert"), None)), "abc", "a bare org/repo: models first");
        assert_eq!(revs(matching(&entries, &url("hf:acme/bert"), None)), "abc");
        assert_eq!(revs(matching(&entries, &url("datasets/acme/bert"), None)), "d");
        assert_eq!(revs(matching(&entries, &url("spaces/acme/bert"), None)), "g");
        assert_eq!(revs(matching(&entries, &url("https://hf.co/spaces/acme/bert/tree/main"), Some("main"))), "g");
        assert_eq!(revs(matching(&entries, &url("acme/squad"), None)), "e", "else datasets");
        assert_eq!(revs(matching(&entries, &url("acme/bert"), Some("bb"))), "b", "a commit prefix");
        assert_eq!(revs(matching(&entries, &url("acme/bert"), Some("CCCC"))), "c");
        assert_eq!(revs(matching(&entries, &url("https://huggingface.co/acme/bert"), Some("main"))), "bc");
        assert_eq!(revs(matching(&entries, &url("acme/bert"), Some("dev"))), "");
        assert_eq!(revs(matching(&entries, &url("acme/nothing"), None)), "");

        assert_eq!(revs(matching(&entries, &url("acme/bert"), Some("v1.0"))), "a", "a ref it was exported as");

        let files =
            |files: &[&str]| Filters { files: files.iter().map(|f| f.to_string()).collect(), ..Filters::default() };
        let ggufs = [
            at("model", "acme/gguf", 'a', files(&["m-Q8_0.gguf", "mmproj-F16.gguf"]), "2026-01-01T00:00:00Z"),
            at("model", "acme/gguf", 'b', files(&["Q4_K_M/m-Q4_K_M-00001-of-00002.gguf"]), "2026-01-01T00:00:00Z"),
            at("model", "acme/gguf", 'c', Filters::default(), "2026-01-01T00:00:00Z"),
        ];
        assert_eq!(revs(matching(&ggufs, &url("acme/gguf:q4_k_m"), None)), "b", "the exports of a quant");
        assert_eq!(revs(matching(&ggufs, &url("acme/gguf:Q8_0"), None)), "a");
        assert_eq!(revs(matching(&ggufs, &url("acme/gguf:F16"), None)), "", "an mmproj is no model");
        assert_eq!(revs(matching(&ggufs, &url("acme/gguf"), None)), "abc");

        let first = |e: Option<&Entry>| e.map(|e| e.rev.chars().next().unwrap());
        let at = |u: &str, c: char, f: &Filters| first(exported_at(&entries, &url(u), &c.to_string().repeat(40), f));
        assert_eq!(at("acme/bert", 'a', &Filters::default()), Some('a'));
        assert_eq!(at("acme/bert", 'b', &Filters::default()), None, "other filters");
        assert_eq!(at("acme/bert", 'b', &st), Some('b'));
        assert_eq!(at("acme/bert", 'e', &Filters::default()), None, "not exported");
        assert_eq!(at("datasets/acme/bert", 'd', &Filters::default()), Some('d'));
        let two = |a: &str, b: &str| Filters { include: vec![a.into(), b.into()], ..Filters::default() };
        let unsorted = [super::tests::at("model", "acme/bert", 'u', two("z.*", "a.*"), "2026-01-01T00:00:00Z")];
        let commit = "u".repeat(40);
        assert!(
            exported_at(&unsorted, &url("acme/bert"), &commit, &two("a.*", "z.*")).is_some(),
            "filters in any order"
        );

        let as_ref = |name: &str, f: &Filters| first(exported_as(&entries, &url("acme/bert"), name, f));
        assert_eq!(as_ref("main", &Filters::default()), Some('c'), "the newest exported as main");
        assert_eq!(as_ref("v1.0", &Filters::default()), Some('a'));
        assert_eq!(as_ref("v1.0", &st), None);
        assert_eq!(as_ref("v2.0", &Filters::default()), None, "never exported as v2.0");
    }

    #[test]
    fn labels() {
        let st =
            Filters { include: vec![r".*\.safetensors".into()], exclude: vec!["onnx/.*".into()], ..Filters::default() };
        assert_eq!(at("model", "acme/bert", '0', Filters::default(), "").label(), "acme/bert@0000000");
        assert_eq!(
            at("dataset", "acme/squad", '1', st, "").label(),
            "datasets/acme/squad@1111111 (include *.safetensors, exclude onnx/*)"
        );
        assert_eq!(at("space", "acme/app", '2', Filters::default(), "").label(), "spaces/acme/app@2222222");
        let by_hand = Filters { include: vec![r"model-0000[1-3]\.bin|.*\.gguf".into()], ..Filters::default() };
        assert_eq!(
            at("model", "acme/bert", '0', by_hand, "").label(),
            r"acme/bert@0000000 (include model-0000[1-3]\.bin|.*\.gguf)",
            "a regex no glob gives is shown as it is"
        );
    }

    /// The persist directory of the snapshot cases of `store`: real exports of a model and a dataset.
    fn exports() -> (tempfile::TempDir, Persist) {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd/store/verify.home/persist");
        let dir = tempfile::tempdir().unwrap();
        for file in walkdir::WalkDir::new(&from) {
            let file = file.unwrap();
            let to = dir.path().join(file.path().strip_prefix(&from).unwrap());
            if file.file_type().is_dir() {
                fs::create_dir_all(&to).unwrap()
            } else {
                fs::copy(file.path(), &to).map(drop).unwrap()
            }
        }
        let persist = Persist::new(dir.path());
        (dir, persist)
    }

    #[test]
    fn a_lost_manifest_is_rebuilt_from_the_copies() {
        let (_dir, persist) = exports();
        let by_path = |mut entries: Vec<Entry>| {
            entries.sort_by(|a, b| a.store_path.cmp(&b.store_path));
            entries
        };
        let before = by_path(persist.entries().unwrap());
        assert_eq!(persist.verify().unwrap().problems, Vec::<String>::new());
        fs::remove_file(persist.manifest_path()).unwrap();
        let (added, left) = persist.rebuild_manifest().unwrap();
        assert_eq!((added.len(), left), (2, Vec::new()));
        let after = by_path(persist.entries().unwrap());
        assert_eq!(after.len(), 2);
        for (was, now) in before.iter().zip(&after) {
            assert!(now.refs.is_empty(), "the ref it was fetched as is not in the copy");
            assert_eq!(*now, Entry { refs: Vec::new(), exported: now.exported.clone(), ..was.clone() });
        }
        assert!(persist.rebuild_manifest().unwrap().0.is_empty(), "nothing more to add");
    }

    #[test]
    fn removal_keeps_what_other_exports_refer_to() {
        let dir = tempfile::tempdir().unwrap();
        let persist = Persist::new(dir.path());
        fs::create_dir(dir.path().join("nar")).unwrap();
        // a, b, c: exports and what they refer to; d: a fetch output no export needs; f: a copy that
        // `export` did not make (a lock's blob).
        let rev = "0".repeat(40);
        let name = |c: char| match c {
            'd' => format!("hf-model-acme-gone-{rev}"),
            'f' => format!("hf-blob-{}", "5".repeat(64)),
            c => c.to_string(),
        };
        let path = |c: char| format!("/nix/store/{}-{}", c.to_string().repeat(32), name(c));
        let base = |c: char| path(c)["/nix/store/".len()..].to_owned();
        let ca = |c: char| match c {
            'd' => "CA: fixed:r:sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s\n",
            'f' => "CA: fixed:sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s\n",
            _ => "",
        };
        let refs =
            [('a', base('b')), ('b', String::new()), ('c', base('b')), ('d', String::new()), ('f', String::new())];
        for (c, refs) in refs {
            let info = format!(
                "StorePath: {}\nURL: nar/{c}.nar\nCompression: none\nNarHash: sha256:{}\nNarSize: 1\nReferences: {refs}\n{}",
                path(c),
                nar::nix32(&Sha256::digest(b"x")),
                ca(c)
            );
            fs::write(dir.path().join(format!("{}.narinfo", c.to_string().repeat(32))), info).unwrap();
            fs::write(dir.path().join(format!("nar/{c}.nar")), "x").unwrap();
        }
        let stray = dir.path().join("nar/stray.nar");
        fs::write(&stray, "left by an interrupted copy").unwrap();
        let e = persist.prune().unwrap_err().to_string();
        assert!(e.contains("has no manifest"), "nothing without a manifest: {e}");
        persist.record(entry(&path('a'))).unwrap();
        persist.record(entry(&path('c'))).unwrap();
        assert_eq!(persist.verify().unwrap().paths, 5);

        let (removed, freed) = persist.remove(|e| e.store_path == path('a'), &[]).unwrap();
        assert_eq!((removed.len(), freed.paths, freed.bytes), (1, vec![path('a')], 1), "b is needed by c");
        let freed = persist.prune().unwrap();
        assert_eq!(freed.paths, [path('d'), "nar/stray.nar".to_owned()]);
        assert_eq!(freed.left, [path('f')], "a copy export did not make is left");
        assert!(persist.prune().unwrap().paths.is_empty());
        let e = persist.remove(|_| false, &[path('b')]).unwrap_err().to_string();
        assert!(e.contains("is needed by an export"), "{e}");
        let (_, freed) = persist.remove(|_| false, &[path('f')]).unwrap();
        assert_eq!(freed.paths, [path('f')]);
        let (_, freed) = persist.remove(|e| e.store_path == path('c'), &[]).unwrap();
        assert_eq!(freed.paths, [path('b'), path('c')]);
        let left: Vec<String> = fs::read_dir(dir.path().join("nar"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, Vec::<String>::new());
        assert!(persist.entries().unwrap().is_empty());

        fs::write(dir.path().join("bad.narinfo"), "StorePath: nowhere\n").unwrap();
        let e = persist.prune().unwrap_err().to_string();
        let want = "bad.narinfo: StorePath: not a path in /nix/store: \"nowhere\"; see `nix-hug store verify`";
        assert!(e.ends_with(want), "{e}");
    }

    #[test]
    fn holds_narinfos() {
        let dir = tempfile::tempdir().unwrap();
        let persist = Persist::new(dir.path());
        let path = "/nix/store/yx6zyqqwqi4vzssch0gpw20pmycsy9s8-hf-model-acme-bert-0";
        assert!(!persist.holds(path));
        fs::write(dir.path().join("yx6zyqqwqi4vzssch0gpw20pmycsy9s8.narinfo"), "").unwrap();
        assert!(persist.holds(path));
    }
}
