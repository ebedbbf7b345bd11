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

/// Where the files of a commit added to a tree are.
enum Blobs<'a> {
    /// In the folder's `blobs/`, each snapshot file a relative link there (a fetch).
    Own,
    /// In the folder's `blobs/` as links to the paths `target(path)` gives (a lock entry's folder).
    Linked(&'a dyn Fn(&str) -> String),
    /// Nowhere in the folder: each snapshot file an absolute link to the path named for it (a linked
    /// cache).
    Elsewhere(&'a BTreeMap<String, PathBuf>),
}

impl Tree {
    /// What a fetch of `files` at `rev` leaves (see the module's text).
    pub fn of_fetch(repo: &Repo, rev: &str, files: &[Entry]) -> Tree {
        let mut tree = Tree::default();
        tree.add_commit(&repo.folder(), rev, &tree_cache(files), Blobs::Own);
        tree
    }

    /// The same folder with every blob a link to `target(path)` (the first path that has it): the
    /// cache folder of a lock entry, whose files are other store paths.
    pub fn of_links(repo: &Repo, rev: &str, files: &[Entry], target: impl Fn(&str) -> String) -> Tree {
        let mut tree = Tree::default();
        tree.add_commit(&repo.folder(), rev, &tree_cache(files), Blobs::Linked(&target));
        tree
    }

    /// The small files of a lock entry at their repo paths, and nothing else.
    pub fn of_files(files: &[Entry]) -> Tree {
        let mut tree = Tree::default();
        for e in files {
            tree.insert(&e.path, Node::Blob { etag: e.etag().to_owned(), size: e.size });
        }
        tree
    }

    /// Adds the repo folder `folder` at `rev` with the files `cache` lists, where `blobs` says. The
    /// first commit added to a folder is the one its `refs/main` names.
    fn add_commit(&mut self, folder: &str, rev: &str, cache: &TreeCache, blobs: Blobs) {
        self.insert(&format!(".locks/{folder}"), Node::Dir(Tree::default()));
        for sub in ["blobs", "refs", "trees"] {
            self.insert(&format!("{folder}/{sub}"), Node::Dir(Tree::default()));
        }
        self.insert(&format!("{folder}/snapshots/{rev}"), Node::Dir(Tree::default()));
        for (path, file) in &cache.files {
            let link = format!("{folder}/snapshots/{rev}/{path}");
            let (etag, size) = (file.etag().to_owned(), file.size);
            let blob = match &blobs {
                Blobs::Elsewhere(sources) => {
                    self.insert(&link, Node::Link(sources[path].display().to_string()));
                    continue;
                }
                Blobs::Own => Node::Blob { etag: etag.clone(), size },
                Blobs::Linked(target) => Node::Link(target(path)),
            };
            self.insert(&link, Node::Link(relative_target(path, &etag)));
            self.insert(&format!("{folder}/blobs/{etag}"), blob);
        }
        self.insert(&format!("{folder}/refs/main"), Node::Bytes(rev.as_bytes().to_vec()));
        self.insert(&format!("{folder}/trees/{rev}.json"), Node::Bytes(tree_json(cache)));
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
    let commits = read_commits(inputs)?;
    let mut tree = Tree::default();
    // transformers 4.x keeps a cache version of its own at the root and, without it, warns on every
    // import that the cache is of an old version and that it cannot write there. Every huggingface_hub's
    // scan_cache_dir then counts this file as one warning: a far smaller cost, and only to a scan.
    tree.insert("version.txt", Node::Bytes(b"1".to_vec()));
    for Commit { folder, rev, cache, sources } in &commits {
        // Each input's listing was checked alone; together, one's file may be another's folder.
        check_paths(cache.files.keys().map(String::as_str))?;
        tree.add_commit(folder, rev, cache, if how == Merge::Link { Blobs::Elsewhere(sources) } else { Blobs::Own });
        if how == Merge::Copy {
            // Into place before the tree is written over them, as a fetch downloads them.
            let blobs = out.join(folder).join("blobs");
            fs::create_dir_all(&blobs).with_context(|| blobs.display().to_string())?;
            for (path, file) in &cache.files {
                let blob = blobs.join(file.etag());
                if !blob.exists() {
                    fs::copy(&sources[path], &blob).with_context(|| sources[path].display().to_string())?;
                }
            }
        }
    }
    tree.write(out)
}

/// One commit of a repo in a merged cache: the files its inputs list, and the input blob each one comes
/// from.
struct Commit {
    folder: String,
    rev: String,
    cache: TreeCache,
    sources: BTreeMap<String, PathBuf>,
}

/// The commits of the repo folders in `inputs`, in input order (an input's `refs/main` first), the
/// files of one commit listed by several inputs together.
fn read_commits(inputs: &[PathBuf]) -> Result<Vec<Commit>> {
    let mut commits: Vec<Commit> = Vec::new();
    for input in inputs {
        let mut folders: Vec<String> = read_names(input)?
            .into_iter()
            .filter(|n| ["models--", "datasets--", "spaces--"].iter().any(|kind| n.starts_with(kind)))
            .collect();
        folders.sort();
        for folder in folders {
            let repo_dir = input.join(&folder);
            let main = fs::read_to_string(repo_dir.join("refs/main"))
                .with_context(|| format!("{}: refs/main", repo_dir.display()))?;
            let mut revs = read_names(&repo_dir.join("trees"))?;
            if revs.is_empty() {
                return Err(integrity(format!("{}: no commit in trees/", repo_dir.display())));
            }
            revs.sort_by_key(|r| r.trim_end_matches(".json") != main);
            for name in revs {
                let rev = name
                    .strip_suffix(".json")
                    .filter(|r| crate::repo::is_commit(r))
                    .ok_or_else(|| integrity(format!("{}: unexpected file trees/{name}", repo_dir.display())))?;
                let path = repo_dir.join("trees").join(&name);
                let tree: TreeCache = serde_json::from_slice(&fs::read(&path)?)
                    .map_err(|e| integrity(format!("{}: {e}", path.display())))?;
                check_paths(tree.files.keys().map(String::as_str))?;
                let i = commits.iter().position(|c| c.folder == folder && c.rev == rev).unwrap_or_else(|| {
                    let (cache, sources) = (TreeCache { format_version: 1, files: BTreeMap::new() }, BTreeMap::new());
                    commits.push(Commit { folder: folder.clone(), rev: rev.to_owned(), cache, sources });
                    commits.len() - 1
                });
                let Commit { cache, sources, .. } = &mut commits[i];
                for (p, f) in tree.files {
                    if let Some(known) = cache.files.get(&p) {
                        if *known != f {
                            return Err(integrity(format!("{folder}@{rev}: {p:?} differs between two inputs")));
                        }
                        continue;
                    }
                    if !is_etag(f.etag()) {
                        return Err(integrity(format!("{}: invalid blob id for {p:?}", path.display())));
                    }
                    sources.insert(p.clone(), repo_dir.join("blobs").join(f.etag()));
                    cache.files.insert(p, f);
                }
            }
        }
    }
    Ok(commits)
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

    const REV: &str = "0123456789abcdef0123456789abcdef01234567";

    fn bert() -> Repo {
        Repo::from_id(crate::repo::RepoType::Model, "acme/bert").unwrap()
    }

    fn entry(path: &str, oid: char, lfs: Option<char>) -> Entry {
        Entry {
            path: path.to_owned(),
            size: 3,
            oid: oid.to_string().repeat(40),
            lfs: lfs.map(|c| crate::hub::Lfs { oid: c.to_string().repeat(64), size: 3 }),
        }
    }

    fn fetched(repo: &Repo, rev: &str, files: &[Entry]) -> tempfile::TempDir {
        let out = tempfile::tempdir().unwrap();
        prepare(out.path(), repo).unwrap();
        for e in files {
            fs::write(blob_path(out.path(), repo, e.etag()), "abc").unwrap();
        }
        finish(out.path(), repo, rev, files).unwrap();
        out
    }

    #[test]
    fn a_fetch_leaves_exactly_its_tree() {
        let (repo, rev) = (bert(), REV);
        let files = vec![entry("config.json", 'a', None), entry("sub/model.bin", 'b', Some('c'))];
        let out = fetched(&repo, rev, &files);
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
            let out = fetched(&repo, rev, &files);
            let blob = blob_path(out.path(), &repo, &"c".repeat(64));
            fs::set_permissions(&blob, fs::Permissions::from_mode(0o644)).unwrap();
            change(out.path());
            assert!(!Tree::of_fetch(&repo, rev, &files).matches(out.path()));
        }
    }

    /// Two filtered fetches of one commit and one of an older commit: copied, the cache holds what one
    /// fetch of all the files leaves, `refs/main` at the first input's commit, and the older commit
    /// beside it; linked, the same but every link points at the blob in its input.
    #[test]
    fn a_merge_is_the_union_of_its_inputs() {
        let (repo, new, old) = (bert(), REV, &REV.replace('0', "f"));
        let files =
            [entry("config.json", 'a', None), entry("sub/model.bin", 'b', Some('c')), entry("vocab.txt", 'd', None)];
        let inputs =
            [fetched(&repo, new, &files[..1]), fetched(&repo, new, &files[1..]), fetched(&repo, old, &files[2..])];
        let inputs: Vec<PathBuf> = inputs.iter().map(|d| d.path().to_owned()).collect();
        let mut expected = Tree::of_fetch(&repo, new, &files);
        expected.add_commit(&repo.folder(), old, &tree_cache(&files[2..]), Blobs::Own);
        expected.insert("version.txt", Node::Bytes(b"1".to_vec()));
        let copy = tempfile::tempdir().unwrap();
        merge(&inputs, copy.path(), Merge::Copy).unwrap();
        assert!(expected.matches(copy.path()));

        let link = tempfile::tempdir().unwrap();
        merge(&inputs, link.path(), Merge::Link).unwrap();
        let folder = link.path().join(repo.folder());
        assert_eq!(fs::read_dir(folder.join("blobs")).unwrap().count(), 0, "no blob copied");
        let target = fs::read_link(folder.join("snapshots").join(new).join("sub/model.bin")).unwrap();
        assert_eq!(target, blob_path(&inputs[1], &repo, &"c".repeat(64)));
        for small in ["refs/main".to_owned(), format!("trees/{new}.json"), format!("trees/{old}.json")] {
            let copied = copy.path().join(repo.folder()).join(&small);
            assert_eq!(fs::read(folder.join(&small)).unwrap(), fs::read(copied).unwrap(), "{small}");
        }

        let conflicts = [
            (
                entry("config.json", 'e', None),
                format!("models--acme--bert@{new}: \"config.json\" differs between two inputs"),
            ),
            (
                entry("config.json/x", 'e', None),
                "refusing tree listing: \"config.json\" is both a file and a folder".into(),
            ),
        ];
        for (file, error) in conflicts {
            let other = fetched(&repo, new, &[file]);
            let out = tempfile::tempdir().unwrap();
            let err = merge(&[inputs[0].clone(), other.path().to_owned()], out.path(), Merge::Link).unwrap_err();
            assert_eq!(err.to_string(), error);
        }
    }

    #[test]
    fn symlink_targets() {
        assert_eq!(relative_target("README.md", "ab"), "../../blobs/ab");
        assert_eq!(relative_target("sub/dir/vocab.txt", "ab"), "../../../../blobs/ab");
    }
}
