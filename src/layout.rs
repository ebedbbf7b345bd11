/*!
The Hugging Face cache layout, as `huggingface_hub` writes and reads it:

```text
<out>/models--org--name/blobs/<etag>
<out>/models--org--name/snapshots/<rev>/<path> -> ../../blobs/<etag>   (one "../" more per folder)
<out>/models--org--name/refs/main                                      (the rev, no newline)
<out>/models--org--name/trees/<rev>.json                               (exactly the files present)
<out>/.locks/models--org--name/                                        (empty)
```

and, in a merged cache only, `<out>/version.txt` (`1`), the cache version transformers 4.x looks for.

Also `merge`, which assembles several such folders into one cache (`buildCache`). Never the network; the
output holds no store path, timestamp or download metadata, so the same files give the same bytes.
*/

use crate::error::{Context, Result, integrity};
use crate::filter::check_paths;
use crate::hub::Entry;
use crate::repo::Repo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

/// `trees/<rev>.json`, format 1 of `huggingface_hub`'s tree cache.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TreeCache {
    pub format_version: u32,
    pub files: BTreeMap<String, TreeFile>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeFile {
    pub size: u64,
    pub blob_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lfs_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lfs_size: Option<u64>,
}

impl TreeFile {
    fn etag(&self) -> &str {
        self.lfs_sha256.as_deref().unwrap_or(&self.blob_id)
    }
}

impl From<&Entry> for TreeFile {
    fn from(e: &Entry) -> TreeFile {
        TreeFile {
            size: e.size,
            blob_id: e.oid.clone(),
            lfs_sha256: e.lfs.as_ref().map(|l| l.oid.clone()),
            lfs_size: e.lfs.as_ref().map(|l| l.size),
        }
    }
}

pub fn blob_path(out: &Path, repo: &Repo, etag: &str) -> PathBuf {
    out.join(repo.folder()).join("blobs").join(etag)
}

/// A folder as a value, entries sorted by name as in a NAR: what an output will hold, known from the
/// listing before the first byte arrives. A directory sink writes it into a folder (`write`), the NAR
/// sink into one file with every blob at an offset known in advance (`nar::Skeleton`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree(pub BTreeMap<String, Node>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Dir(Tree),
    /// A file whose bytes are known now: `refs/main`, `trees/<rev>.json`.
    Bytes(Vec<u8>),
    /// A file of the repo, `size` bytes, downloaded (or copied) into place and verified against `etag`.
    Blob {
        etag: String,
        size: u64,
    },
    Link(String),
}

impl Tree {
    /// What a fetch of `files` at `rev` leaves (see the module's text).
    pub fn of_fetch(repo: &Repo, rev: &str, files: &[Entry]) -> Tree {
        Tree::of_repo(repo, rev, files, |_, etag, size| Node::Blob { etag: etag.to_owned(), size })
    }

    /// The same folder with every blob a link to `target(path)` (the first path that has it): the
    /// cache folder of a lock entry, whose files are other store paths.
    pub fn of_links(repo: &Repo, rev: &str, files: &[Entry], target: impl Fn(&str) -> String) -> Tree {
        Tree::of_repo(repo, rev, files, |path, _, _| Node::Link(target(path)))
    }

    /// The small files of a lock entry at their repo paths, and nothing else.
    pub fn of_files(files: &[Entry]) -> Tree {
        let mut tree = Tree::default();
        for e in files {
            tree.insert(&e.path, Node::Blob { etag: e.etag().to_owned(), size: e.size });
        }
        tree
    }

    /// The layout of the module's text, each blob the node `blob(path, etag, size)` gives for the first
    /// path (in path order) that has it.
    fn of_repo(repo: &Repo, rev: &str, files: &[Entry], blob: impl Fn(&str, &str, u64) -> Node) -> Tree {
        let folder = repo.folder();
        let mut tree = Tree::default();
        tree.insert(&format!(".locks/{folder}"), Node::Dir(Tree::default()));
        for sub in ["blobs", "refs", "trees"] {
            tree.insert(&format!("{folder}/{sub}"), Node::Dir(Tree::default()));
        }
        tree.insert(&format!("{folder}/snapshots/{rev}"), Node::Dir(Tree::default()));
        let cache = tree_cache(files);
        for (path, file) in &cache.files {
            let etag = file.etag();
            tree.insert(&format!("{folder}/snapshots/{rev}/{path}"), Node::Link(relative_target(path, etag)));
            tree.insert(&format!("{folder}/blobs/{etag}"), blob(path, etag, file.size));
        }
        tree.insert(&format!("{folder}/refs/main"), Node::Bytes(rev.as_bytes().to_vec()));
        tree.insert(&format!("{folder}/trees/{rev}.json"), Node::Bytes(tree_json(&cache)));
        tree
    }

    /// Puts `node` at `path` (`/`-separated), making the folders on the way; an entry already there is
    /// kept (the same blob listed twice is one file).
    pub fn insert(&mut self, path: &str, node: Node) {
        let (first, rest) = path.split_once('/').map_or((path, None), |(a, b)| (a, Some(b)));
        match rest {
            None => _ = self.0.entry(first.to_owned()).or_insert(node),
            // A file where a folder is wanted: `check_paths` refuses such a listing before this.
            Some(rest) => {
                if let Node::Dir(sub) = self.0.entry(first.to_owned()).or_insert_with(|| Node::Dir(Tree::default())) {
                    sub.insert(rest, node);
                }
            }
        }
    }

    fn walk<'a>(&'a self, at: &Path, f: &mut impl FnMut(&Path, &'a Node)) {
        for (name, node) in &self.0 {
            let path = at.join(name);
            f(&path, node);
            if let Node::Dir(sub) = node {
                sub.walk(&path, f);
            }
        }
    }

    /// The directory sink: writes every folder, small file and link under `out`, read-only as the store
    /// makes them, over blobs already downloaded into place (made read-only too).
    pub fn write(&self, out: &Path) -> Result<()> {
        let mut result = Ok(());
        fs::create_dir_all(out).with_context(|| out.display().to_string())?;
        self.walk(Path::new(""), &mut |rel, node| {
            if result.is_err() {
                return;
            }
            let path = out.join(rel);
            let written = match node {
                Node::Dir(_) => fs::create_dir_all(&path),
                Node::Bytes(bytes) => fs::write(&path, bytes).and_then(|()| read_only(&path)),
                Node::Blob { .. } => read_only(&path),
                Node::Link(target) => symlink(target, &path),
            };
            result = written.with_context(|| path.display().to_string());
        });
        result
    }

    /// Whether `out` holds exactly this tree and nothing else. Only metadata and the small files are
    /// read, never a blob: a blob is named by the hash it was verified against when it was written,
    /// and its size is compared.
    pub fn matches(&self, out: &Path) -> bool {
        let mut expected: BTreeMap<PathBuf, &Node> = BTreeMap::new();
        self.walk(Path::new(""), &mut |path, node| _ = expected.insert(path.to_owned(), node));
        let mut seen = 0;
        for entry in walkdir::WalkDir::new(out).min_depth(1) {
            let Ok(entry) = entry else { return false };
            let Ok(rel) = entry.path().strip_prefix(out) else { return false };
            let kind = entry.file_type();
            let same = match expected.get(rel) {
                Some(Node::Dir(_)) => kind.is_dir(),
                Some(Node::Blob { size, .. }) => kind.is_file() && entry.metadata().is_ok_and(|m| m.len() == *size),
                Some(Node::Bytes(bytes)) => kind.is_file() && fs::read(entry.path()).is_ok_and(|b| b == *bytes),
                Some(Node::Link(target)) => {
                    kind.is_symlink() && fs::read_link(entry.path()).is_ok_and(|t| t.as_os_str() == target.as_str())
                }
                None => false,
            };
            if !same {
                return false;
            }
            seen += 1;
        }
        seen == expected.len()
    }
}

fn read_only(path: &Path) -> std::io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(0o444))
}

/// Creates the folders a download writes into, and the empty `.locks` folder old clients need.
pub fn prepare(out: &Path, repo: &Repo) -> Result<()> {
    let folder = repo.folder();
    for dir in [out.join(&folder).join("blobs"), out.join(".locks").join(&folder)] {
        fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    }
    Ok(())
}

/// Lays out the snapshot, `refs/main` and `trees/<rev>.json` over blobs already in place.
pub fn finish(out: &Path, repo: &Repo, rev: &str, files: &[Entry]) -> Result<()> {
    Tree::of_fetch(repo, rev, files).write(out)
}

/// `"../" x (2 + slashes in path) + "blobs/<etag>"`: from `snapshots/<rev>/<path>` back to the blob.
pub fn relative_target(path: &str, etag: &str) -> String {
    format!("{}blobs/{etag}", "../".repeat(2 + path.matches('/').count()))
}

fn tree_cache(files: &[Entry]) -> TreeCache {
    TreeCache { format_version: 1, files: files.iter().map(|e| (e.path.clone(), TreeFile::from(e))).collect() }
}

/// `trees/<rev>.json` as huggingface_hub writes it: indented by one space.
fn tree_json(tree: &TreeCache) -> Vec<u8> {
    let mut json = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut json, serde_json::ser::PrettyFormatter::with_indent(b" "));
    // Plain data with string keys: serialising cannot fail.
    tree.serialize(&mut ser).expect("serialising a tree cache");
    json
}

/// Writes `snapshots/<rev>/…` (each file a symlink to `target(path, etag)`), `trees/<rev>.json`, and
/// `refs/main` unless a repo listed earlier already wrote it.
fn write_repo(dir: &Path, rev: &str, tree: &TreeCache, target: impl Fn(&str, &str) -> Result<String>) -> Result<()> {
    let snapshot = dir.join("snapshots").join(rev);
    for (path, file) in &tree.files {
        let link = snapshot.join(path);
        if let Some(parent) = link.parent() {
            fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
        }
        symlink(target(path, file.etag())?, &link).with_context(|| link.display().to_string())?;
    }
    fs::create_dir_all(&snapshot)?;
    fs::create_dir_all(dir.join("blobs"))?;
    fs::create_dir_all(dir.join("trees"))?;
    write_new(&dir.join("trees").join(format!("{rev}.json")), &tree_json(tree))?;
    fs::create_dir_all(dir.join("refs"))?;
    let main = dir.join("refs").join("main");
    if !main.exists() {
        write_new(&main, rev.as_bytes())?;
    }
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| path.display().to_string())?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o444)).with_context(|| path.display().to_string())
}

/// How `merge` brings files into the new cache.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Absolute symlinks into the inputs: no byte copied (an ordinary derivation that refers to them).
    Link,
    /// Blobs copied, relative links: a self-contained folder (a fixed-output derivation).
    Copy,
}

/// Assembles the repo folders of several cache folders (fetch outputs) into one. A repo at one commit
/// that comes from several inputs (different filters) gets the union of their files; `refs/main` points
/// at the commit of the first input that has the repo.
pub fn merge(inputs: &[PathBuf], out: &Path, how: Merge) -> Result<()> {
    /// One commit of a repo in the new cache: its files, and the input blob each one comes from.
    struct Snapshot {
        rev: String,
        tree: TreeCache,
        sources: BTreeMap<String, PathBuf>,
    }
    // Repo folders and their snapshots, in input order.
    let mut repos: Vec<(String, Vec<Snapshot>)> = Vec::new();
    for input in inputs {
        let mut folders: Vec<String> = read_names(input)?
            .into_iter()
            .filter(|n| n.starts_with("models--") || n.starts_with("datasets--"))
            .collect();
        folders.sort();
        for folder in folders {
            let repo_dir = input.join(&folder);
            let main = fs::read_to_string(repo_dir.join("refs/main"))
                .with_context(|| format!("{}: refs/main", repo_dir.display()))?;
            let mut revs = read_names(&repo_dir.join("trees"))?;
            revs.sort_by_key(|r| r.trim_end_matches(".json") != main);
            let slot = match repos.iter().position(|(f, _)| *f == folder) {
                Some(i) => i,
                None => {
                    repos.push((folder.clone(), Vec::new()));
                    repos.len() - 1
                }
            };
            for name in revs {
                let rev = name
                    .strip_suffix(".json")
                    .filter(|r| crate::repo::is_commit(r))
                    .ok_or_else(|| integrity(format!("{}: unexpected file trees/{name}", repo_dir.display())))?;
                let path = repo_dir.join("trees").join(&name);
                let tree: TreeCache = serde_json::from_slice(&fs::read(&path)?)
                    .map_err(|e| integrity(format!("{}: {e}", path.display())))?;
                check_paths(tree.files.keys().map(String::as_str))?;
                let revs = &mut repos[slot].1;
                let i = match revs.iter().position(|s| s.rev == rev) {
                    Some(i) => i,
                    None => {
                        let tree = TreeCache { format_version: 1, files: BTreeMap::new() };
                        revs.push(Snapshot { rev: rev.to_owned(), tree, sources: BTreeMap::new() });
                        revs.len() - 1
                    }
                };
                let Snapshot { tree: merged, sources, .. } = &mut revs[i];
                for (p, f) in tree.files {
                    if let Some(known) = merged.files.get(&p) {
                        if *known != f {
                            return Err(integrity(format!("{folder}@{rev}: {p:?} differs between two inputs")));
                        }
                        continue;
                    }
                    if !is_etag(f.etag()) {
                        return Err(integrity(format!("{}: invalid blob id for {p:?}", path.display())));
                    }
                    sources.insert(p.clone(), repo_dir.join("blobs").join(f.etag()));
                    merged.files.insert(p, f);
                }
            }
        }
    }

    // transformers 4.x keeps a cache version of its own at the root and, without it, warns on every
    // import that the cache is of an old version and that it cannot write there. Every huggingface_hub's
    // scan_cache_dir then counts this file as one warning: a far smaller cost, and only to a scan.
    fs::create_dir_all(out)?;
    let version = out.join("version.txt");
    fs::write(&version, "1")?;
    fs::set_permissions(&version, fs::Permissions::from_mode(0o444))?;
    for (folder, revs) in &repos {
        let dir = out.join(folder);
        fs::create_dir_all(out.join(".locks").join(folder))?;
        fs::create_dir_all(dir.join("blobs"))?;
        for Snapshot { rev, tree, sources } in revs {
            write_repo(&dir, rev, tree, |path, etag| match how {
                Merge::Link => Ok(sources[path].display().to_string()),
                Merge::Copy => {
                    let blob = dir.join("blobs").join(etag);
                    if !blob.exists() {
                        fs::copy(&sources[path], &blob).with_context(|| sources[path].display().to_string())?;
                        fs::set_permissions(&blob, fs::Permissions::from_mode(0o444))?;
                    }
                    Ok(relative_target(path, etag))
                }
            })?;
        }
    }
    Ok(())
}

fn read_names(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| dir.display().to_string())? {
        names.push(
            entry?
                .file_name()
                .into_string()
                .map_err(|n| integrity(format!("{}: non-UTF-8 name {n:?}", dir.display())))?,
        );
    }
    Ok(names)
}

fn is_etag(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetch_leaves_exactly_its_tree() {
        let repo = Repo::from_id(crate::repo::RepoType::Model, "acme/bert").unwrap();
        let rev = "0123456789abcdef0123456789abcdef01234567";
        let entry = |path: &str, oid: char, lfs: Option<char>| Entry {
            path: path.to_owned(),
            size: 3,
            oid: oid.to_string().repeat(40),
            lfs: lfs.map(|c| crate::hub::Lfs { oid: c.to_string().repeat(64), size: 3 }),
        };
        let files = vec![entry("config.json", 'a', None), entry("sub/model.bin", 'b', Some('c'))];
        let fetched = || {
            let out = tempfile::tempdir().unwrap();
            prepare(out.path(), &repo).unwrap();
            for e in &files {
                fs::write(blob_path(out.path(), &repo, e.etag()), "abc").unwrap();
            }
            finish(out.path(), &repo, rev, &files).unwrap();
            out
        };
        let out = fetched();
        assert!(Tree::of_fetch(&repo, rev, &files).matches(out.path()));
        assert!(!Tree::of_fetch(&repo, rev, &files[..1]).matches(out.path()), "a file more");
        assert!(!Tree::of_fetch(&repo, &rev.replace('0', "f"), &files).matches(out.path()), "another commit");
        let changes: [&dyn Fn(&Path); 4] = [
            &|out| fs::write(out.join("extra"), "").unwrap(),
            &|out| fs::remove_file(out.join("models--acme--bert/snapshots").join(rev).join("config.json")).unwrap(),
            &|out| fs::write(blob_path(out, &repo, &"c".repeat(64)), "abcd").unwrap(),
            &|out| fs::remove_dir(out.join(".locks/models--acme--bert")).unwrap(),
        ];
        for change in changes {
            let out = fetched();
            let blob = blob_path(out.path(), &repo, &"c".repeat(64));
            fs::set_permissions(&blob, fs::Permissions::from_mode(0o644)).unwrap();
            change(out.path());
            assert!(!Tree::of_fetch(&repo, rev, &files).matches(out.path()));
        }
    }

    #[test]
    fn symlink_targets() {
        assert_eq!(relative_target("README.md", "ab"), "../../blobs/ab");
        assert_eq!(relative_target("sub/dir/vocab.txt", "ab"), "../../../../blobs/ab");
    }
}
