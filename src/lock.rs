/*!
The lock file, `nix-hug.lock`: the repositories a project pins, by name, each at a commit with every file
its filters take, and the hashes that let Nix fetch each file on its own (`fromLock` in `lib/`):

```json
{
  "repos": {
    "tiny-bert": {
      "files": {
        "config.json": { "gitOid": "<40 hex>", "size": 601 },
        "model.safetensors": { "gitOid": "<40 hex>", "sha256": "<64 hex>", "size": 4949453792 }
      },
      "filters": {
        "include": [ "*.safetensors" ]
      },
      "ref": "main",
      "repoId": "acme/tiny-bert",
      "rev": "<40 hex>",
      "smallFiles": "sha256-…",
      "type": "model"
    }
  },
  "version": 1
}
```

`ref` is the branch or tag the entry follows (none for a pin to a commit), `filters` the globs and paths
as the user typed them, `endpoint` a Hub mirror (none for huggingface.co). A large (LFS) file has the
sha256 of its content, its own fixed-output path in Nix; `gitOid` is the git blob id (of the LFS pointer
for a large file), as the cache's `trees/<rev>.json` lists it. `smallFiles` is the NAR sha256 of the small
files at their repo paths, one fixed-output path (none when the entry has no small file).

Reading refuses, with one line naming the file and the entry, anything Nix could not build from or the
commands could not update from; writing replaces the file whole (a temporary file beside it, renamed into
place), so a failed write leaves the old lock as it was. Keys are sorted, one line per file, so that a
change to a file is a change to its line. `Entry::of_plan` pins a fetch plan, the small files downloaded
by the pipeline into the layout of their Nix output and hashed.
*/

use crate::download::{Event, Options};
use crate::error::{Context, Error, Result, usage};
use crate::filter::{Filters, check_paths, glob_to_regex};
use crate::hub::{self, Hub, Lfs};
use crate::nar;
use crate::pipeline::{self, Plan, Sink};
use crate::repo::{Repo, RepoType, is_commit, is_ref_name};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::marker::PhantomData;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub const FILE_NAME: &str = "nix-hug.lock";
pub const VERSION: u64 = 1;

/// The attribute of `fromLock`'s result that holds the cache of every entry, so no entry may be named so.
const CACHE: &str = "cache";

/// The pinned repositories, by name: the attribute names of `fromLock`'s result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lock {
    pub repos: BTreeMap<String, Entry>,
}

/// One pinned repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entry {
    #[serde(rename = "type")]
    pub kind: RepoType,
    pub repo_id: String,
    /// The branch or tag it follows; `None` for a pin to a commit.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub ref_name: Option<String>,
    pub rev: String,
    #[serde(default, skip_serializing_if = "Globs::is_empty")]
    pub filters: Globs,
    /// A Hub mirror; `None` for huggingface.co.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Every file the filters take, by repo path.
    #[serde(deserialize_with = "unique_keys")]
    pub files: BTreeMap<String, File>,
    /// The NAR sha256 (SRI) of the small files at their repo paths; `None` when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub small_files: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct File {
    pub size: u64,
    /// The git blob id: of the content for a small file, of the LFS pointer for a large one.
    pub git_oid: String,
    /// The sha256 of the content, lowercase hex: large (LFS) files only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// The filters of an entry as the user typed them: globs for `include` and `exclude`, exact paths for
/// `files` (see `filter`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Globs {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

impl Globs {
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty() && self.files.is_empty()
    }

    /// The filters these globs stand for, as a fetch takes them.
    pub fn filters(&self) -> Result<Filters> {
        let regexes = |globs: &[String]| globs.iter().map(|g| glob_to_regex(g)).collect::<Result<Vec<_>>>();
        Ok(Filters { include: regexes(&self.include)?, exclude: regexes(&self.exclude)?, files: self.files.clone() })
    }
}

impl File {
    pub fn of(e: &hub::Entry) -> File {
        File { size: e.size, git_oid: e.oid.clone(), sha256: e.lfs.as_ref().map(|l| l.oid.clone()) }
    }

    /// The file at `path` as the listing had it.
    pub fn entry(&self, path: &str) -> hub::Entry {
        hub::Entry {
            path: path.to_owned(),
            size: self.size,
            oid: self.git_oid.clone(),
            lfs: self.sha256.as_ref().map(|oid| Lfs { oid: oid.clone(), size: self.size }),
        }
    }

    fn check(&self) -> Result<(), String> {
        if !is_hex(&self.git_oid, 40) {
            return Err(format!("gitOid {:?} is not a git blob id (40 lowercase hex)", self.git_oid));
        }
        match &self.sha256 {
            Some(sha256) if !is_hex(sha256, 64) => Err(format!("sha256 {sha256:?} is not a sha256 (64 lowercase hex)")),
            _ => Ok(()),
        }
    }
}

/// What an entry follows besides its files: the ref (`None` for a commit), the filters as typed, the
/// endpoint (`None` for huggingface.co).
#[derive(Clone, Debug, Default)]
pub struct Asked {
    pub ref_name: Option<String>,
    pub filters: Globs,
    pub endpoint: Option<String>,
}

impl Entry {
    /// The entry that pins `plan`, made with `asked.filters`. The small files are downloaded into
    /// `dir`, as the folder `small_files_name` names, and hashed as Nix will hash them, unless `known`
    /// (the entry this one replaces) has exactly the same ones: then its hash stands, and nothing is
    /// downloaded.
    pub fn of_plan(
        hub: &Hub,
        plan: &Plan,
        asked: Asked,
        known: Option<&Entry>,
        dir: &Path,
        opts: Options,
        progress: &(dyn Fn(Event) + Sync),
    ) -> Result<Entry> {
        let files: BTreeMap<String, File> = plan.files.iter().map(|e| (e.path.clone(), File::of(e))).collect();
        let small: Vec<hub::Entry> = plan.files.iter().filter(|e| e.lfs.is_none()).cloned().collect();
        let small_of = |files: &BTreeMap<String, File>| {
            files.iter().filter(|(_, f)| f.sha256.is_none()).map(|(p, f)| (p.clone(), f.clone())).collect::<Vec<_>>()
        };
        let small_files = match known {
            _ if small.is_empty() => None,
            Some(known) if small_of(&known.files) == small_of(&files) => known.small_files.clone(),
            _ => {
                let out = dir.join(small_files_name(&plan.repo, &plan.commit));
                let plan = Plan {
                    repo: plan.repo.clone(),
                    commit: plan.commit.clone(),
                    filters: plan.filters.clone(),
                    files: small,
                    skipped: Vec::new(),
                };
                pipeline::fetch(hub, &plan, Sink::Files(&out), opts, progress)?;
                Some(nar::sri(&nar::nar_sha256(&out)?))
            }
        };
        let entry = Entry {
            kind: plan.repo.kind,
            repo_id: plan.repo.id.clone(),
            ref_name: asked.ref_name,
            rev: plan.commit.clone(),
            filters: asked.filters,
            endpoint: asked.endpoint,
            files,
            small_files,
        };
        entry.check(true).map_err(usage).context(plan.label())?;
        Ok(entry)
    }

    pub fn repo(&self) -> Repo {
        Repo { kind: self.kind, id: self.repo_id.clone() }
    }

    /// Everything reading refuses in an entry, but its name; with `files` false, only what says where it
    /// is pinned and how (for `nix-hug lock`, which lists its files anew).
    fn check(&self, files: bool) -> Result<(), String> {
        Repo::from_id(self.kind, &self.repo_id).map_err(|e| e.to_string())?;
        if !is_commit(&self.rev) {
            return Err(format!("rev {:?} is not a full commit id (40 lowercase hex)", self.rev));
        }
        match &self.ref_name {
            Some(r) if !is_ref_name(r) => return Err(format!("invalid ref {r:?} (letters, digits and ._+@=/-)")),
            Some(r) if is_commit(r) => return Err(format!("ref {r:?} is a commit: a pin to a commit has no ref")),
            _ => {}
        }
        if let Some(endpoint) = &self.endpoint {
            hub::check_endpoint(endpoint).map_err(|e| e.to_string())?;
        }
        let selector = self.filters.filters().and_then(|f| f.compile()).map_err(|e| format!("filters: {e}"))?;
        if !files {
            return Ok(());
        }
        check_paths(self.files.keys().map(String::as_str)).map_err(|e| format!("files: {e}"))?;
        for (path, file) in &self.files {
            file.check().map_err(|why| format!("files.{}: {why}", key(path)))?;
            if !selector.takes(path, file.sha256.is_some()) {
                return Err(format!("files.{}: the filters do not take it", key(path)));
            }
        }
        let missing = selector.missing(&self.files.keys().map(String::as_str).collect());
        if !missing.is_empty() {
            return Err(format!("filters.files names {}, which files does not list", missing.join(", ")));
        }
        let any_small = self.files.values().any(|f| f.sha256.is_none());
        match (&self.small_files, any_small) {
            (None, true) => Err("smallFiles (the hash of its small files) is missing".into()),
            (Some(_), false) => Err("smallFiles is given, but files lists no small file".into()),
            (Some(hash), true) if !(hash.starts_with("sha256-") && nar::parse_hash(hash).is_ok()) => {
                Err(format!("smallFiles {hash:?} is not a sha256 in SRI form (sha256-…)"))
            }
            _ => Ok(()),
        }
    }
}

/// The store name of the small files' output of an entry of `repo` at `rev` in `fromLock`:
/// `hf-model-<org>-<repo>-<rev>-small-files`.
pub fn small_files_name(repo: &Repo, rev: &str) -> String {
    format!("{}-small-files", repo.store_name(rev))
}

/// How an entry's files moved from one pin to the next.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    /// Bytes more (or fewer) in all.
    pub size_delta: i64,
}

impl Changes {
    pub fn between(old: &Entry, new: &Entry) -> Changes {
        let mut c = Changes::default();
        for (path, file) in &new.files {
            match old.files.get(path) {
                None => c.added.push(path.clone()),
                Some(before) if before != file => c.changed.push(path.clone()),
                Some(_) => {}
            }
        }
        c.removed = old.files.keys().filter(|p| !new.files.contains_key(*p)).cloned().collect();
        let total = |e: &Entry| e.files.values().map(|f| f.size as i64).sum::<i64>();
        c.size_delta = total(new) - total(old);
        c
    }
}

impl Lock {
    /// The lock at `path`, or an empty one if there is no file there yet.
    pub fn read_or_new(path: &Path) -> Result<Lock> {
        if std::fs::symlink_metadata(path).is_err() {
            return Ok(Lock::default());
        }
        Lock::read(path)
    }

    /// Refuses the first of `names` that is no entry of this lock (read from `path`), naming those it has.
    pub fn check_names<'a>(&self, names: impl IntoIterator<Item = &'a String>, path: &Path) -> Result<()> {
        match names.into_iter().find(|n| !self.repos.contains_key(n.as_str())) {
            None => Ok(()),
            Some(name) => {
                let known: Vec<&str> = self.repos.keys().map(String::as_str).collect();
                Err(usage(format!("{}: no entry {name:?} (it has {})", path.display(), known.join(", "))))
            }
        }
    }

    /// Reads and checks the lock at `path`; every refusal is one line that names the file.
    pub fn read(path: &Path) -> Result<Lock> {
        Lock::parse(&read_text(path)?).map_err(|why| usage(format!("{}: {why}", path.display())))
    }

    /// Reads the lock at `path` as `read` does, but takes entries whose files no longer agree with their
    /// filters (edited by hand), for `nix-hug lock` to list again.
    pub fn read_unchecked(path: &Path) -> Result<Lock> {
        Lock::parse_with(&read_text(path)?, false).map_err(|why| usage(format!("{}: {why}", path.display())))
    }

    /// The lock `text` holds, or why it is refused.
    pub fn parse(text: &str) -> Result<Lock, String> {
        Lock::parse_with(text, true)
    }

    fn parse_with(text: &str, files: bool) -> Result<Lock, String> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(rename = "version")]
            _version: de::IgnoredAny,
            #[serde(deserialize_with = "unique_keys")]
            repos: BTreeMap<String, Entry>,
        }
        if text.starts_with("<<<<<<< ") || text.contains("\n<<<<<<< ") {
            return Err("it holds merge conflict markers (<<<<<<<): resolve the conflict first".into());
        }
        // The version first: another version's lock may be another shape.
        let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let Value::Object(top) = value else {
            return Err("not a nix-hug lock (expected an object with version and repos)".into());
        };
        match top.get("version") {
            Some(Value::Number(n)) if n.as_u64() == Some(VERSION) => {}
            None => return Err("no version: not a nix-hug lock".into()),
            Some(v) => {
                let newer = if v.as_u64().is_some_and(|n| n > VERSION) { "; update nix-hug" } else { "" };
                return Err(format!("version {v} is not supported (this nix-hug reads version {VERSION}){newer}"));
            }
        }
        let raw: Raw = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
            .map_err(|e| located(e.path(), e.inner()))?;
        let lock = Lock { repos: raw.repos };
        lock.check(files)?;
        Ok(lock)
    }

    fn check(&self, files: bool) -> Result<(), String> {
        for (name, entry) in &self.repos {
            check_name(name).and_then(|()| entry.check(files)).map_err(|why| format!("entry {name:?}: {why}"))?;
        }
        Ok(())
    }

    /// The text of the lock: sorted keys, two spaces per level, each file (and each list of globs) on
    /// one line, a final newline.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            version: u64,
            repos: &'a BTreeMap<String, Entry>,
        }
        // Plain data with string keys: serialising cannot fail.
        let value = serde_json::to_value(Out { version: VERSION, repos: &self.repos }).expect("serialising a lock");
        let mut out = String::new();
        render(&value, 0, &mut out);
        out + "\n"
    }

    /// Replaces the lock at `path` whole (see `replace_file`). A lock that reading would refuse is not
    /// written.
    pub fn write(&self, path: &Path) -> Result<()> {
        self.check(true).map_err(|why| usage(format!("{}: not written: {why}", path.display())))?;
        // 0666 less the umask, as for any file the user makes, not tempfile's 0600.
        replace_file(path, &self.to_json(), 0o666)
    }
}

/// Replaces the file at `path` with `text`: a temporary file beside it with `mode` (less the umask),
/// synced, then renamed over it, so a failed write leaves the old file as it was.
pub fn replace_file(path: &Path, text: &str, mode: u32) -> Result<()> {
    let failed = |e: std::io::Error| Error::from(e).context(path.display());
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(|| FILE_NAME.into(), |n| n.to_string_lossy());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(failed)?;
    tmp.write_all(text.as_bytes()).and_then(|()| tmp.as_file().sync_all()).map_err(failed)?;
    tmp.persist(path).map_err(|e| failed(e.error))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(failed)
}

/// A large file's blob in the cache folder, or the small files' output: the files of an entry as the
/// sandbox builder reads them from the JSON of the entry's `files` (paths checked as a listing's are).
pub fn files_from_json(json: &str) -> Result<Vec<hub::Entry>> {
    let files: BTreeMap<String, File> = serde_json::from_str(json).map_err(|e| usage(format!("invalid files: {e}")))?;
    check_paths(files.keys().map(String::as_str))?;
    for (path, file) in &files {
        file.check().map_err(|why| usage(format!("{path:?}: {why}")))?;
    }
    Ok(files.iter().map(|(path, file)| file.entry(path)).collect())
}

/// Entry names are attribute names in Nix and words on the command line.
fn read_text(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(usage(format!("{}: no lock file there; `nix-hug add URL` makes one", path.display())))
        }
        read => read.with_context(|| path.display()),
    }
}

pub fn check_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 100
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !ok {
        return Err("invalid name (letters, digits and ._-, starting with a letter or digit, at most 100)".into());
    }
    if name == CACHE {
        return Err(format!("{CACHE:?} is the attribute of fromLock's cache of every entry; choose another name"));
    }
    Ok(())
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A key in a path of the lock, quoted unless it is a plain word: `files."config.json"`.
fn key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        k.to_owned()
    } else {
        Value::from(k).to_string()
    }
}

/// A refusal of the JSON's shape, where it is: `entry "tiny-bert": files."config.json".size: invalid
/// type: …, expected u64 at line 9 column 30`.
fn located(path: &serde_path_to_error::Path, e: &serde_json::Error) -> String {
    use serde_path_to_error::Segment;
    let mut segments: Vec<String> = path
        .iter()
        .map(|s| match s {
            Segment::Map { key } | Segment::Enum { variant: key } => key.clone(),
            Segment::Seq { index } => index.to_string(),
            Segment::Unknown => "?".into(),
        })
        .collect();
    // The path of an unknown field ends with that field, which the message names already.
    if e.to_string().starts_with("unknown field") {
        segments.pop();
    }
    match segments.as_slice() {
        [repos, name, rest @ ..] if repos == "repos" => {
            let at: String = rest.iter().map(|k| key(k) + ": ").collect();
            format!("entry {name:?}: {at}{e}")
        }
        [] => e.to_string(),
        at => format!("{}: {e}", at.iter().map(|k| key(k)).collect::<Vec<_>>().join(".")),
    }
}

/// A JSON object as a map, refusing a key given twice (serde would keep the last one silently).
fn unique_keys<'de, D: Deserializer<'de>, V: Deserialize<'de>>(d: D) -> Result<BTreeMap<String, V>, D::Error> {
    struct Unique<V>(PhantomData<V>);
    impl<'de, V: Deserialize<'de>> Visitor<'de> for Unique<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(k) = map.next_key::<String>()? {
                if out.contains_key(&k) {
                    return Err(de::Error::custom(format_args!("{k:?} is listed twice")));
                }
                let v = map.next_value()?;
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Unique(PhantomData))
}

/// Objects and lists below this depth are written on one line: a file, a list of globs.
const INLINE_DEPTH: usize = 4;

fn render(value: &Value, depth: usize, out: &mut String) {
    let (open, close, mut items): (char, char, Vec<(Option<&str>, &Value)>) = match value {
        Value::Object(map) => ('{', '}', map.iter().map(|(k, v)| (Some(k.as_str()), v)).collect()),
        Value::Array(list) => ('[', ']', list.iter().map(|v| (None, v)).collect()),
        scalar => return out.push_str(&scalar.to_string()),
    };
    // Whatever order serde_json's map keeps.
    items.sort_by_key(|(k, _)| *k);
    out.push(open);
    if !items.is_empty() {
        let (first, between, last) = if depth >= INLINE_DEPTH {
            (" ".to_owned(), ", ".to_owned(), " ".to_owned())
        } else {
            let indent = "  ".repeat(depth + 1);
            (format!("\n{indent}"), format!(",\n{indent}"), format!("\n{}", "  ".repeat(depth)))
        };
        for (i, (k, v)) in items.into_iter().enumerate() {
            out.push_str(if i == 0 { &first } else { &between });
            if let Some(k) = k {
                out.push_str(&Value::from(k).to_string());
                out.push_str(": ");
            }
            render(v, depth + 1, out);
        }
        out.push_str(&last);
    }
    out.push(close);
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
  "repos": {
    "squad": {
      "files": {
        "README.md": { "gitOid": "1111111111111111111111111111111111111111", "size": 9 }
      },
      "rev": "2222222222222222222222222222222222222222",
      "repoId": "rajpurkar/squad",
      "smallFiles": "sha256-mD+VYvxsLFH7+jiumTZYcE3f3kpMKeimaR0eElkT7FI=",
      "type": "dataset"
    },
    "tiny-bert": {
      "endpoint": "https://hf-mirror.example",
      "files": {
        "config.json": { "gitOid": "3333333333333333333333333333333333333333", "size": 601 },
        "model.safetensors": { "gitOid": "4444444444444444444444444444444444444444", "sha256": "5555555555555555555555555555555555555555555555555555555555555555", "size": 4949453792 },
        "sub dir/é.txt": { "gitOid": "6666666666666666666666666666666666666666", "size": 0 }
      },
      "filters": {
        "exclude": [ "onnx/*" ],
        "include": [ "*.safetensors" ]
      },
      "ref": "main",
      "repoId": "acme/tiny-bert",
      "rev": "0123456789abcdef0123456789abcdef01234567",
      "smallFiles": "sha256-mD+VYvxsLFH7+jiumTZYcE3f3kpMKeimaR0eElkT7FI=",
      "type": "model"
    }
  },
  "version": 1
}
"#;

    #[test]
    fn written_as_read() {
        let lock = Lock::parse(SAMPLE).unwrap();
        let bert = &lock.repos["tiny-bert"];
        assert_eq!(bert.repo(), Repo { kind: RepoType::Model, id: "acme/tiny-bert".into() });
        assert_eq!(bert.ref_name.as_deref(), Some("main"));
        assert_eq!(bert.files["model.safetensors"].size, 4949453792);
        assert_eq!(lock.repos["squad"].ref_name, None);
        // The sample's keys are sorted but for `rev` and `repoId` in "squad": written, they are.
        let sorted = SAMPLE.replace(
            "      \"rev\": \"2222222222222222222222222222222222222222\",\n      \"repoId\": \"rajpurkar/squad\",\n",
            "      \"repoId\": \"rajpurkar/squad\",\n      \"rev\": \"2222222222222222222222222222222222222222\",\n",
        );
        assert_ne!(sorted, SAMPLE);
        assert_eq!(lock.to_json(), sorted);
        assert_eq!(Lock::parse(&lock.to_json()).unwrap(), lock);
        assert_eq!(Lock::default().to_json(), "{\n  \"repos\": {},\n  \"version\": 1\n}\n");
    }

    /// The lock `checks/` builds `fromLock` from: as this module writes it.
    #[test]
    fn the_vector_is_a_lock_as_written() {
        let text = include_str!("../tests/vectors/nix-hug.lock");
        assert_eq!(Lock::parse(text).unwrap().to_json(), text);
    }

    #[test]
    fn every_refusal_is_one_line_that_names_the_entry() {
        let bert = "entry \"tiny-bert\": ";
        let cases: &[(&str, &str, &str)] = &[
            ("\"version\": 1\n}", "\"version\": 1\n", "not valid JSON: EOF while parsing an object at line 32"),
            ("{\n  \"repos\"", "<<<<<<< HEAD\n{\n  \"repos\"", "merge conflict markers"),
            ("\"size\": 601 }", "\"size\": 601 }\n<<<<<<< ours", "merge conflict markers"),
            (
                "\"version\": 1",
                "\"version\": 2",
                "version 2 is not supported (this nix-hug reads version 1); update nix-hug",
            ),
            ("\"version\": 1", "\"version\": \"1\"", "version \"1\" is not supported (this nix-hug reads version 1)\0"),
            (",\n  \"version\": 1", "", "no version: not a nix-hug lock"),
            ("\"version\": 1", "\"version\": 1, \"extra\": 0", "unknown field `extra`, expected `version` or `repos`"),
            ("\"ref\": \"main\"", "\"ref\": \"main\", \"rev2\": 1", &format!("{bert}unknown field `rev2`")),
            ("\"size\": 601", "\"size\": \"601\"", &format!("{bert}files: \"config.json\": size: invalid type")),
            (
                "\"size\": 601",
                "\"size\": 601, \"lfs\": true",
                &format!("{bert}files: \"config.json\": unknown field `lfs`"),
            ),
            ("\"type\": \"model\"", "\"type\": \"book\"", &format!("{bert}type: unknown variant `book`")),
            ("\"type\": \"model\"", "\"kind\": \"model\"", &format!("{bert}unknown field `kind`")),
            (
                "0123456789abcdef0123456789abcdef01234567",
                "0123456",
                &format!("{bert}rev \"0123456\" is not a full commit id"),
            ),
            (
                "0123456789abcdef0123456789abcdef01234567",
                "0123456789ABCDEF0123456789abcdef01234567",
                "is not a full commit id",
            ),
            ("\"acme/tiny-bert\"", "\"acme/tiny--bert\"", &format!("{bert}invalid repo id \"acme/tiny--bert\"")),
            ("\"ref\": \"main\"", "\"ref\": \"ma in\"", &format!("{bert}invalid ref \"ma in\"")),
            (
                "\"ref\": \"main\"",
                "\"ref\": \"0123456789abcdef0123456789abcdef01234567\"",
                "a pin to a commit has no ref",
            ),
            ("https://hf-mirror.example", "ftp://hf-mirror.example", &format!("{bert}invalid Hub endpoint")),
            (
                "\"3333333333333333333333333333333333333333\"",
                "\"333\"",
                "files.\"config.json\": gitOid \"333\" is not a git blob id",
            ),
            (
                "\"5555555555555555555555555555555555555555555555555555555555555555\"",
                "\"55\"",
                "sha256 \"55\" is not a sha256",
            ),
            (
                "\"config.json\":",
                "\"../config.json\":",
                &format!("{bert}files: refusing unsafe path \"../config.json\""),
            ),
            ("\"config.json\":", "\"/etc/passwd\":", "refusing unsafe path \"/etc/passwd\""),
            ("\"config.json\":", "\"a//b\":", "refusing unsafe path \"a//b\""),
            ("\"config.json\":", "\"sub dir\":", "is both a file and a folder"),
            (
                "\"config.json\":",
                "\"model.safetensors\":",
                &format!("{bert}files: \"model.safetensors\" is listed twice at line"),
            ),
            ("\"tiny-bert\":", "\"squad\":", "repos: \"squad\" is listed twice at line"),
            (
                "\"*.safetensors\"",
                "\"*.bin\"",
                &format!("{bert}files.\"model.safetensors\": the filters do not take it"),
            ),
            ("\"*.safetensors\"", "\"[abc\"", &format!("{bert}filters: invalid glob \"[abc\"")),
            ("\"include\": [ \"*.safetensors\" ]", "\"files\": [ \"config.json\" ]", "filters: `files` takes exactly"),
            (
                "\"exclude\": [ \"onnx/*\" ],\n        \"include\": [ \"*.safetensors\" ]",
                "\"files\": [ \"config.json\", \"x.bin\" ]",
                "files.\"model.safetensors\": the filters do not take it",
            ),
            ("\"filters\": {", "\"filters\": { \"includes\": [],", &format!("{bert}filters: unknown field `includes`")),
            (
                "\"rev\": \"2222",
                "\"filters\": { \"files\": [ \"README.md\", \"x.bin\" ] },\n      \"rev\": \"2222",
                "entry \"squad\": filters.files names x.bin, which files does not list",
            ),
            (
                "      \"smallFiles\": \"sha256-mD+VYvxsLFH7+jiumTZYcE3f3kpMKeimaR0eElkT7FI=\",\n      \"type\": \"model\"",
                "      \"type\": \"model\"",
                &format!("{bert}smallFiles (the hash of its small files) is missing"),
            ),
            (
                "sha256-mD+VYvxsLFH7+jiumTZYcE3f3kpMKeimaR0eElkT7FI=\",\n      \"type\": \"model\"",
                "sha256-x\",\n      \"type\": \"model\"",
                "smallFiles \"sha256-x\" is not a sha256 in SRI form",
            ),
            ("\"tiny-bert\": {", "\"cache\": {", "entry \"cache\": \"cache\" is the attribute of fromLock's cache"),
            ("\"tiny-bert\": {", "\"tiny bert\": {", "entry \"tiny bert\": invalid name"),
            ("\"tiny-bert\": {", "\"-bert\": {", "entry \"-bert\": invalid name"),
        ];
        for (from, to, want) in cases {
            assert!(SAMPLE.contains(from), "{from:?} is not in the sample");
            let text = SAMPLE.replacen(from, to, 1);
            let err = Lock::parse(&text).expect_err(want);
            // A NUL at the end of `want` stands for the end of the message.
            assert!(format!("{err}\0").contains(want), "{from:?} -> {to:?}:\n  got  {err}\n  want {want}");
            assert!(!err.contains('\n'), "{err}");
        }
        for text in ["[1]", "\"lock\"", "{\"version\": 1, \"repos\": []}"] {
            let err = Lock::parse(text).unwrap_err();
            assert!(err.contains("not a nix-hug lock") || err.contains("repos: invalid type"), "{text}: {err}");
        }
        assert_eq!(Lock::parse("").unwrap_err(), "not valid JSON: EOF while parsing a value at line 1 column 0");
        // A small file must not be left without its hash, nor a hash without a small file.
        let no_small = SAMPLE
            .replace("\"README.md\": { \"gitOid\": \"1111111111111111111111111111111111111111\", \"size\": 9 }", "");
        let err = Lock::parse(&no_small).unwrap_err();
        assert!(err.contains("entry \"squad\": smallFiles is given, but files lists no small file"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, SAMPLE.replace("\"version\": 1", "\"version\": 7")).unwrap();
        let err = Lock::read(&path).unwrap_err();
        assert_eq!(err.kind(), crate::error::Kind::Usage);
        assert_eq!(
            err.to_string(),
            format!("{}: version 7 is not supported (this nix-hug reads version 1); update nix-hug", path.display())
        );
        let missing = Lock::read(&dir.path().join("nope.lock")).unwrap_err().to_string();
        assert!(missing.starts_with(&format!("{}: ", dir.path().join("nope.lock").display())), "{missing}");
    }

    #[test]
    fn a_failed_write_leaves_the_old_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let lock = Lock::parse(SAMPLE).unwrap();
        lock.write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), lock.to_json());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o044, 0o044 & !umask(), "readable as any file the user makes: {mode:o}");

        let mut bad = lock.clone();
        bad.repos.get_mut("squad").unwrap().rev = "HEAD".into();
        let err = bad.write(&path).unwrap_err().to_string();
        assert!(err.contains("not written: entry \"squad\": rev \"HEAD\""), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), lock.to_json());

        let mut other = lock.clone();
        other.repos.remove("squad");
        let folder = dir.path().join("a folder");
        std::fs::create_dir(&folder).unwrap();
        assert!(other.write(&folder).is_err(), "a folder cannot be replaced by a file");
        other.write(&path).unwrap();
        assert_eq!(Lock::read(&path).unwrap(), other);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "no temporary file is left: {names:?}");
    }

    fn umask() -> u32 {
        // SAFETY: umask only swaps the process's mask; it is put back at once.
        let mask = unsafe { libc::umask(0o022) };
        unsafe { libc::umask(mask) };
        mask as u32
    }

    #[test]
    fn the_builder_reads_the_files_of_an_entry() {
        let files = lock_files(r#"{"a/b.bin": {"gitOid": "4444444444444444444444444444444444444444", "sha256": "5555555555555555555555555555555555555555555555555555555555555555", "size": 3}}"#).unwrap();
        assert_eq!(files[0].path, "a/b.bin");
        assert_eq!(files[0].lfs.as_ref().map(|l| (l.oid.as_str(), l.size)), Some(("5".repeat(64).as_str(), 3)));
        assert_eq!(File::of(&files[0]).entry("a/b.bin"), files[0]);
        assert!(lock_files(r#"{"../b": {"gitOid": "4444444444444444444444444444444444444444", "size": 3}}"#).is_err());
        assert!(lock_files(r#"{"b": {"gitOid": "44", "size": 3}}"#).is_err());
        assert!(lock_files(r#"{"b": {"size": 3}}"#).is_err());
    }

    fn lock_files(json: &str) -> Result<Vec<hub::Entry>> {
        files_from_json(json)
    }

    /// Valid locks: a few entries of a few files, with the filters that take them.
    fn locks() -> impl proptest::strategy::Strategy<Value = Lock> {
        use proptest::prelude::*;
        let file = (0u64..1 << 40, "[0-9a-f]{40}", proptest::option::of("[0-9a-f]{64}"))
            .prop_map(|(size, git_oid, sha256)| File { size, git_oid, sha256 });
        let files = proptest::collection::btree_map("[a-zA-Z0-9 ._é-]{1,8}(/[a-z]{1,3}\\.bin)?", file, 0..6)
            .prop_filter("valid paths", |f| check_paths(f.keys().map(String::as_str)).is_ok());
        let entry = (
            prop_oneof![Just(RepoType::Model), Just(RepoType::Dataset)],
            "[a-z]{1,8}(/[a-z0-9]{1,8})?",
            proptest::option::of("[a-z]{1,5}(/[a-z0-9.]{1,5})?"),
            "[0-9a-f]{40}",
            proptest::option::of(Just("https://mirror.example/".to_owned())),
            files,
            proptest::collection::vec("[a-z*?]{1,5}", 0..3),
        )
            .prop_map(|(kind, repo_id, ref_name, rev, endpoint, files, exclude)| {
                let any_small = files.values().any(|f| f.sha256.is_none());
                // Excludes that leave out none of the large files listed.
                let exclude = exclude.into_iter().map(|g| format!("{g}.none")).collect();
                Entry {
                    kind,
                    repo_id,
                    ref_name,
                    rev,
                    filters: Globs { exclude, ..Globs::default() },
                    endpoint,
                    small_files: any_small.then(|| nar::sri(&[7; 32])),
                    files,
                }
            });
        proptest::collection::btree_map("[a-zA-Z0-9][a-zA-Z0-9._-]{0,10}", entry, 0..4)
            .prop_filter("not the cache's name", |repos| !repos.contains_key(CACHE))
            .prop_map(|repos| Lock { repos })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

        #[test]
        fn round_trip(lock in locks()) {
            let text = lock.to_json();
            let read = Lock::parse(&text).map_err(proptest::test_runner::TestCaseError::fail)?;
            proptest::prop_assert_eq!(&read, &lock);
            proptest::prop_assert_eq!(read.to_json(), text);
        }
    }
}
