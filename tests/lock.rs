//! Lock files: entries pinned from plans against the loopback Hub by `lock::Entry::of_plan`, written by
//! `lock::Lock::write`, and built by `fromLock` from `lib/` in the real Nix sandbox with the static
//! nix-hug as builder; the cache then loaded offline by `huggingface_hub` and `transformers`
//! (`tests/python/check_cache.py`, and every client version on a read-only store). `nix-hug add` and
//! `update` put the outputs of an entry's fixed-output derivations into the store, so that the builds
//! download nothing.

mod hub;
mod python;
mod support;

use hub::{Hub, fixtures};
use nix_hug::download::Options;
use nix_hug::hub::Hub as Client;
use nix_hug::lock::{Asked, Entry, Globs, Lock};
use nix_hug::repo::{Repo, RepoType};
use nix_hug::{nar, pipeline};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use support::{nix, nix_build, static_package};

fn repo_of(fixture: &hub::Repo) -> Repo {
    let kind = if fixture.kind == hub::Kind::Model { RepoType::Model } else { RepoType::Dataset };
    Repo::from_id(kind, &fixture.id).unwrap()
}

/// The entry pinning `fixture` at its commit `commit` with `include` globs, as `add` would make it.
fn pin(hub: &Hub, fixture: &hub::Repo, commit: usize, include: &[&str], known: Option<&Entry>) -> Entry {
    let token = fixture.token.as_deref().and_then(nix_hug::hub::Token::from_value);
    let client = Client::new(&hub.endpoint(), token).unwrap();
    let filters = Globs { include: include.iter().map(|g| g.to_string()).collect(), ..Globs::default() };
    let sha = &fixture.commits[commit].sha;
    let plan = pipeline::plan(&client, &repo_of(fixture), sha, &filters.filters().unwrap()).unwrap();
    let ref_name = fixture.refs.iter().find(|(_, target)| target == sha).map(|(name, _)| name.clone());
    let asked = Asked { ref_name, filters, endpoint: Some(hub.endpoint()) };
    let dir = tempfile::tempdir().unwrap();
    Entry::of_plan(&client, &plan, asked, known, dir.path(), Options::default(), &|_| {}).unwrap()
}

fn write_lock(dir: &Path, entries: &[(&str, &Entry)]) -> PathBuf {
    let lock = Lock { repos: entries.iter().map(|(name, e)| (name.to_string(), (*e).clone())).collect() };
    let path = dir.join(nix_hug::lock::FILE_NAME);
    lock.write(&path).unwrap();
    path
}

/// `dir/hf.nix`: `fromLock` of `lock`, from `lib/` with the static builder.
fn expression(dir: &Path, lock: &Path) -> PathBuf {
    let file = dir.join("hf.nix");
    let nix = format!(
        "let\n  lib = import {} {{ nix-hug = builtins.path {{ path = {}; name = \"nix-hug-static\"; }}; }};\nin\nlib.fromLock {}\n",
        Path::new(env!("CARGO_MANIFEST_DIR")).join("lib").display(),
        static_package().display(),
        lock.display()
    );
    std::fs::write(&file, nix).unwrap();
    file
}

/// The store path of a large file: a flat sha256 fixed-output path named after the hash alone, as Nix's
/// `makeFixedOutputPath` makes it.
fn blob_path(sha256: &str) -> String {
    let inner = nar::hex(&Sha256::digest(format!("fixed:out:sha256:{sha256}:")));
    let name = format!("hf-blob-{sha256}");
    let digest = Sha256::digest(format!("output:out:sha256:{inner}:{}:{name}", nar::STORE_DIR));
    let mut folded = [0u8; 20];
    for (i, b) in digest.iter().enumerate() {
        folded[i % 20] ^= b;
    }
    format!("{}/{}-{name}", nar::STORE_DIR, nar::nix32(&folded))
}

fn large_files(entry: &Entry) -> Vec<(&str, &str)> {
    entry.files.iter().filter_map(|(path, f)| Some((path.as_str(), f.sha256.as_deref()?))).collect()
}

/// GET requests for `path` from the Hub's `resolve`, of any repo and commit: one per download.
fn downloads(hub: &Hub, path: &str) -> usize {
    hub.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.target.contains("/resolve/") && r.target.ends_with(&format!("/{path}")))
        .count()
}

/// Every path a download in the sandbox fetched, sorted.
fn downloaded(hub: &Hub) -> Vec<String> {
    let mut paths: Vec<String> = hub
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.target.contains("/resolve/"))
        .map(|r| r.target.split_once("/resolve/").unwrap().1.split_once('/').unwrap().1.to_owned())
        .collect();
    paths.sort();
    paths
}

/// The `EXPECT.json` of check_cache.py: the entries in `fromLock`'s order (by name), so the first of a
/// repo is the commit `refs/main` names.
fn expectations(entries: &[(&str, &Entry, &hub::Repo)]) -> serde_json::Value {
    let mut sorted = entries.to_vec();
    sorted.sort_by_key(|(name, ..)| *name);
    let mut seen = Vec::new();
    let repos: Vec<serde_json::Value> = sorted
        .iter()
        .map(|(_, entry, fixture)| {
            let commit = fixture.commits.iter().find(|c| c.sha == entry.rev).unwrap();
            let files: serde_json::Map<String, serde_json::Value> = entry
                .files
                .keys()
                .map(|path| {
                    let file = commit.files.iter().find(|f| f.path == *path).unwrap();
                    (path.clone(), hub::sha256_hex(&file.content.read()).into())
                })
                .collect();
            let first = !seen.contains(&entry.repo_id);
            seen.push(entry.repo_id.clone());
            // The gpt2 stand-in has no tokenizer to load.
            let load = match entry.kind {
                RepoType::Model if first && entry.files.contains_key("vocab.txt") => serde_json::json!("transformers"),
                RepoType::Model | RepoType::Space => serde_json::Value::Null,
                RepoType::Dataset => serde_json::json!("datasets"),
            };
            serde_json::json!({
                "repo_id": entry.repo_id, "repo_type": entry.kind.as_str(), "revision": entry.rev,
                "files": files, "load": load, "rows": {"train": 4}, "main": first,
            })
        })
        .collect();
    serde_json::json!({ "repos": repos })
}

/// `built` (an entry's cache folder) holds what a fetch of the same files holds (`fetched`), but that
/// each blob is a link to a store path with the same bytes.
fn same_as_a_fetch(built: &Path, fetched: &Path) {
    let relative = |root: &Path| -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = walkdir::WalkDir::new(root)
            .min_depth(1)
            .into_iter()
            .map(|e| e.unwrap().path().strip_prefix(root).unwrap().to_owned())
            .collect();
        paths.sort();
        paths
    };
    assert_eq!(relative(built), relative(fetched), "{} and {}", built.display(), fetched.display());
    for rel in relative(fetched) {
        let (b, f) = (built.join(&rel), fetched.join(&rel));
        let (bt, ft) = (b.symlink_metadata().unwrap().file_type(), f.symlink_metadata().unwrap().file_type());
        if rel.parent().is_some_and(|p| p.ends_with("blobs")) {
            let target = std::fs::read_link(&b).unwrap();
            assert!(target.starts_with(nar::STORE_DIR), "{}: a link into the store, not {target:?}", rel.display());
            assert_eq!(std::fs::read(&b).unwrap(), std::fs::read(&f).unwrap(), "{}", rel.display());
        } else if ft.is_symlink() {
            assert!(bt.is_symlink(), "{}", rel.display());
            assert_eq!(std::fs::read_link(&b).unwrap(), std::fs::read_link(&f).unwrap(), "{}", rel.display());
        } else if ft.is_file() {
            assert!(bt.is_file(), "{}", rel.display());
            assert_eq!(std::fs::read(&b).unwrap(), std::fs::read(&f).unwrap(), "{}", rel.display());
        } else {
            assert!(bt.is_dir() && ft.is_dir(), "{}", rel.display());
        }
    }
}

/// A fetch of the files `entry` pins, as `fetchModel` makes it: `out` in the folder returned.
fn fetched_locally(hub: &Hub, entry: &Entry, token: Option<&str>) -> tempfile::TempDir {
    let client = Client::new(&hub.endpoint(), token.and_then(nix_hug::hub::Token::from_value)).unwrap();
    let filters = entry.filters.filters().unwrap();
    let plan = pipeline::plan(&client, &entry.repo(), &entry.rev, &filters).unwrap();
    let dir = tempfile::tempdir().unwrap();
    pipeline::fetch(&client, &plan, pipeline::Sink::Dir(&dir.path().join("out")), Options::default(), &|_| {}).unwrap();
    dir
}

/// The small-files hash is the NAR hash of exactly the small files at their repo paths, as written here
/// by hand; an entry that replaces one with the same small files keeps its hash without downloading.
#[test]
fn an_entry_pins_the_files_of_a_plan() {
    let bert = fixtures::tiny_bert();
    let hub = Hub::start(vec![bert.clone()]);
    let entry = pin(&hub, &bert, 1, &["*.safetensors"], None);
    let commit = &bert.commits[1];
    let small: Vec<&hub::File> = commit.files.iter().filter(|f| !f.lfs).collect();
    let mut want: Vec<&str> = small.iter().map(|f| f.path.as_str()).chain(["model.safetensors"]).collect();
    want.sort();
    assert_eq!(entry.files.keys().collect::<Vec<_>>(), want);
    assert_eq!(entry.ref_name.as_deref(), Some("main"));
    for f in &commit.files {
        let Some(pinned) = entry.files.get(&f.path) else { continue };
        let content = f.content.read();
        assert_eq!(pinned.size, content.len() as u64, "{}", f.path);
        if f.lfs {
            assert_eq!(pinned.sha256.as_deref(), Some(hub::sha256_hex(&content).as_str()), "{}", f.path);
            assert_eq!(
                pinned.git_oid,
                hub::git_blob_sha1(hub::lfs_pointer(&pinned.sha256.clone().unwrap(), pinned.size).as_bytes())
            );
        } else {
            assert_eq!(pinned.git_oid, hub::git_blob_sha1(&content), "{}", f.path);
            assert_eq!(pinned.sha256, None);
        }
    }
    let by_hand = tempfile::tempdir().unwrap();
    let root = by_hand.path().join("small");
    for f in &small {
        let path = root.join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, f.content.read()).unwrap();
    }
    assert_eq!(entry.small_files.as_deref(), Some(nar::sri(&nar::nar_sha256(&root).unwrap()).as_str()));
    assert!(downloaded(&hub).iter().all(|p| !p.ends_with(".safetensors")), "only the small files are downloaded");

    hub.clear_requests();
    let grown = pin(&hub, &bert, 1, &["*.safetensors", "onnx/*"], Some(&entry));
    assert_eq!(grown.small_files, entry.small_files);
    assert!(grown.files.contains_key("onnx/model.onnx"));
    assert_eq!(downloaded(&hub), Vec::<String>::new(), "the same small files: nothing downloaded");
    let older = pin(&hub, &bert, 0, &["*.safetensors"], Some(&entry));
    assert_ne!(older.small_files, entry.small_files, "other small files: hashed again");

    let dir = tempfile::tempdir().unwrap();
    let path = write_lock(dir.path(), &[("bert", &grown), ("bert-v1", &older)]);
    let read = Lock::read(&path).unwrap();
    assert_eq!((&read.repos["bert"], &read.repos["bert-v1"]), (&grown, &older));
}

#[test]
#[ignore = "needs nix"]
fn from_lock_builds_a_cache_that_loads_offline_with_one_path_per_blob() {
    let (bert, gpt2, dataset) = (fixtures::tiny_bert(), fixtures::gpt2(), fixtures::tiny_dataset());
    let hub = Hub::start(vec![bert.clone(), gpt2.clone(), dataset.clone()]);
    let entries = [
        ("bert", pin(&hub, &bert, 1, &["*.safetensors"], None), &bert),
        ("bert-v1", pin(&hub, &bert, 0, &[], None), &bert),
        ("gpt2", pin(&hub, &gpt2, 0, &[], None), &gpt2),
        ("ds", pin(&hub, &dataset, 0, &[], None), &dataset),
    ];
    let dir = tempfile::tempdir().unwrap();
    let lock = write_lock(dir.path(), &entries.iter().map(|(n, e, _)| (*n, e)).collect::<Vec<_>>());
    let file = expression(dir.path(), &lock);

    // One blob, listed by three entries of two repos.
    let shared = entries[0].1.files["model.safetensors"].sha256.clone().unwrap();
    for (_, entry, _) in &entries {
        for (_, sha256) in large_files(entry) {
            support::forget(&blob_path(sha256));
        }
    }
    hub.clear_requests();
    let cache = nix_build(&file, "cache").unwrap_or_else(|e| panic!("building the cache:\n{e}"));
    support::record("lock-cache", &cache);
    assert_eq!(downloads(&hub, "model.safetensors"), 1, "one download for one blob: {:?}", downloaded(&hub));

    for (name, entry, _) in &entries {
        let out = nix_build(&file, name).unwrap_or_else(|e| panic!("building {name}:\n{e}"));
        support::record(&format!("lock-{name}"), &out);
        let folder = Path::new(&out).join(entry.repo().folder());
        for (path, sha256) in large_files(entry) {
            let link = std::fs::read_link(folder.join("blobs").join(sha256)).unwrap();
            assert_eq!(link, Path::new(&blob_path(sha256)), "{name}: {path} is the blob's own store path");
        }
        let fetched = fetched_locally(&hub, entry, None);
        same_as_a_fetch(Path::new(&out), &fetched.path().join("out"));
        let snapshot = support::stdout_ok(
            nix("nix-instantiate").args(["--eval", "-A"]).arg(format!("{name}.snapshot")).arg(&file),
        );
        let first = entry.files.keys().next().unwrap();
        let snapshots = fetched.path().join("out").join(entry.repo().folder()).join("snapshots");
        assert_eq!(
            std::fs::read(Path::new(snapshot.trim_matches('"')).join(first)).unwrap(),
            std::fs::read(snapshots.join(&entry.rev).join(first)).unwrap(),
            "{name}: the snapshot attribute"
        );
    }
    let shared_link = |name: &str| {
        let entry = &entries.iter().find(|(n, ..)| *n == name).unwrap().1;
        let out = nix_build(&file, name).unwrap();
        std::fs::read_link(Path::new(&out).join(entry.repo().folder()).join("blobs").join(&shared)).unwrap()
    };
    assert_eq!(shared_link("gpt2"), shared_link("bert"));
    assert_eq!(shared_link("bert-v1"), shared_link("bert"));

    let expect = expectations(&entries.iter().map(|(n, e, f)| (*n, e, *f)).collect::<Vec<_>>());
    python::check_cache(&cache, &expect);
    python::check_with_clients(&[("fromLock cache", &cache, &expect)]);
}

/// A lock whose entry takes more files builds with only those files downloaded: the others are the
/// same fixed-output paths, already there.
#[test]
#[ignore = "needs nix"]
fn an_entry_whose_filters_grow_downloads_only_the_new_files() {
    let bert = fixtures::tiny_bert();
    let hub = Hub::start(vec![bert.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let before = pin(&hub, &bert, 1, &["*.safetensors"], None);
    let after = pin(&hub, &bert, 1, &["*.safetensors", "onnx/*"], Some(&before));
    for (_, sha256) in large_files(&after) {
        support::forget(&blob_path(sha256));
    }
    let file = expression(dir.path(), &write_lock(dir.path(), &[("bert", &before)]));
    nix_build(&file, "bert").unwrap_or_else(|e| panic!("{e}"));

    hub.clear_requests();
    let file = expression(dir.path(), &write_lock(dir.path(), &[("bert", &after)]));
    let out = nix_build(&file, "bert").unwrap_or_else(|e| panic!("{e}"));
    support::record("lock-grown", &out);
    assert_eq!(downloaded(&hub), ["onnx/model.onnx"]);
    same_as_a_fetch(Path::new(&out), &fetched_locally(&hub, &after, None).path().join("out"));
}

/// The large files and the small ones of a gated repo download with the token of the builder's
/// environment, as `fetchModel`'s do.
#[test]
#[ignore = "needs nix"]
fn a_gated_entry_builds_with_the_token_of_the_environment() {
    let gated = fixtures::gated();
    let hub = Hub::start(vec![gated.clone()]);
    let entry = pin(&hub, &gated, 0, &[], None);
    let dir = tempfile::tempdir().unwrap();
    let file = expression(dir.path(), &write_lock(dir.path(), &[("gated", &entry)]));
    for (_, sha256) in large_files(&entry) {
        support::forget(&blob_path(sha256));
    }
    let err = nix_build(&file, "gated").expect_err("no token, no build");
    assert!(err.contains("answered 401: a private or gated repository needs a token with access (HF_TOKEN"), "{err}");
    let token = gated.token.clone().unwrap();
    let out = support::built(support::nix_build_command().env("HF_TOKEN", token).args(["-A", "gated"]).arg(&file))
        .unwrap_or_else(|e| panic!("{e}"));
    same_as_a_fetch(Path::new(&out), &fetched_locally(&hub, &entry, gated.token.as_deref()).path().join("out"));
}

/// A lock that is not one Nix can build from stops the evaluation with one line that names the file and
/// says why.
#[test]
#[ignore = "needs nix"]
fn a_bad_lock_is_one_error_at_evaluation() {
    let bert = fixtures::tiny_bert();
    let hub = Hub::start(vec![bert.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let lock = write_lock(dir.path(), &[("bert", &pin(&hub, &bert, 1, &[], None))]);
    let text = std::fs::read_to_string(&lock).unwrap();
    let file = expression(dir.path(), &lock);
    let named = format!("nix-hug: fromLock {}: ", lock.display());
    let rev = &bert.commits[1].sha;
    let cases: Vec<(String, &str, String)> = vec![
        (
            text.replace("\"version\": 1", "\"version\": 2"),
            "cache",
            format!("{named}version 2 is not supported (this nix-hug reads version 1); update nix-hug"),
        ),
        (text.replace(",\n  \"version\": 1", ""), "cache", format!("{named}no version: not a nix-hug lock")),
        (
            format!("<<<<<<< HEAD\n{text}=======\n{text}>>>>>>> other\n"),
            "cache",
            format!("{named}it holds merge conflict markers"),
        ),
        (String::new(), "cache", format!("{named}the file is empty")),
        (
            text.replace(rev, "main"),
            "bert",
            format!("{named}entry \"bert\": rev \"main\" is not a full commit id (40 lowercase hex)"),
        ),
        (
            text.replace("\"bert\": {", "\"cache\": {"),
            "cache",
            format!("{named}entry \"cache\": \"cache\" is the attribute"),
        ),
        (
            text.replace("\"type\": \"model\"", "\"type\": \"book\""),
            "cache",
            format!("{named}entry \"bert\": type must be"),
        ),
    ];
    for (text, attr, want) in cases {
        std::fs::write(&lock, &text).unwrap();
        let out = support::run(nix("nix-instantiate").args(["-A", attr]).arg(&file));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{want}");
        // Newer Nix shows a few frames of the trace before it, quoting the source.
        let lines: Vec<&str> = stderr.lines().filter(|l| l.trim_start().starts_with("error: nix-hug:")).collect();
        assert_eq!(lines.len(), 1, "one line says why:\n{stderr}");
        assert!(lines[0].contains(&want), "{want}:\n{stderr}");
    }
    // Not JSON: Nix's own parser says where.
    std::fs::write(&lock, &text[..text.len() / 2]).unwrap();
    let out = support::run(nix("nix-instantiate").args(["-A", "cache"]).arg(&file));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("parse error"), "{stderr}");
}

/// The endpoint says where the files come from, never what they are: no store path of an entry moves
/// with it (only the fixed-output derivations are told it).
#[test]
#[ignore = "needs nix"]
fn the_endpoint_moves_no_store_path() {
    let bert = fixtures::tiny_bert();
    let hub = Hub::start(vec![bert.clone()]);
    let entry = pin(&hub, &bert, 1, &[], None);
    let dir = tempfile::tempdir().unwrap();
    let paths = |endpoint: Option<&str>| {
        let entry = Entry { endpoint: endpoint.map(str::to_owned), ..entry.clone() };
        let file = expression(dir.path(), &write_lock(dir.path(), &[("bert", &entry)]));
        let paths = format!(
            "let hf = import {}; in map builtins.unsafeDiscardStringContext [ hf.bert.outPath \"${{hf.bert.smallFiles}}\" hf.bert.blobs ]",
            file.display()
        );
        support::stdout_ok(nix("nix-instantiate").args(["--eval", "--strict", "-E", &paths]))
    };
    let with_hub = paths(Some(&hub.endpoint()));
    assert!(with_hub.contains("-hf-blob-") && with_hub.contains("-small-files"), "{with_hub}");
    assert_eq!(paths(None), with_hub);
    assert_eq!(paths(Some("https://hf-mirror.example")), with_hub);
}

/// `add` puts what `fromLock` builds an entry from into the store, at the paths Nix gives those
/// derivations, so building the lock downloads nothing; once `main` moves (one small file changed, one
/// large file added), `update` downloads only those two (the rest is in the store, or copied from the
/// entry built before) and puts them in the store too, so the rebuilt cache downloads nothing either,
/// and loads offline.
#[test]
#[ignore = "needs nix"]
fn add_and_update_seed_the_store_so_that_builds_download_nothing() {
    let mut fixture = fixtures::tiny_bert();
    fixture.id = "acme/seeded-bert".into();
    let first = fixture.commits[1].clone();
    let mut next = first.clone();
    next.sha = hub::fake_sha("acme/seeded-bert, moved");
    let readme = next.files.iter_mut().find(|f| f.path == "README.md").unwrap();
    *readme = hub::File::new("README.md", "# seeded-bert\n\nMain moved on.\n");
    next.files.push(hub::File::lfs("extra.safetensors", "weights that only the next commit has\n"));
    fixture.commits = vec![first.clone(), next.clone()];
    fixture.refs = vec![("main".into(), first.sha.clone())];
    let hub = Hub::start(vec![fixture.clone()]);

    // Both commits' outputs gone from the store, so that only what the commands put there is.
    for commit in [0, 1] {
        let entry = pin(&hub, &fixture, commit, &["*.safetensors"], None);
        for (_, sha256) in large_files(&entry) {
            support::forget(&blob_path(sha256));
        }
        support::forget(&small_files_path(&entry));
    }

    let dir = tempfile::tempdir().unwrap();
    let (home, tmp) = (dir.path().join("home"), dir.path().join("tmp"));
    std::fs::create_dir_all(&tmp).unwrap();
    let lock = dir.path().join(nix_hug::lock::FILE_NAME);
    let path = std::env::var_os("PATH").unwrap_or_default();
    let nix_hug = |args: &[&str]| {
        let mut cmd = support::scrubbed(env!("CARGO_BIN_EXE_nix-hug"), &hub.endpoint(), &home, &tmp, Some(&path));
        let out = support::run(cmd.env("NIX_REMOTE", "local").args(args).arg("--lock").arg(&lock));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "nix-hug {args:?} failed:\n{stderr}");
        assert!(!stderr.contains("warning"), "{stderr}");
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "nothing left in TMPDIR");
    };
    let file = expression(dir.path(), &lock);
    let step = |what: &str| {
        let paths = downloaded(&hub);
        eprintln!("downloads, {what}: {paths:?}");
        hub.clear_requests();
        paths
    };
    // As the request log has them: percent-encoded.
    let small: Vec<String> = first.files.iter().filter(|f| !f.lfs).map(|f| hub::quote(&f.path)).collect();

    hub.clear_requests();
    nix_hug(&["add", "acme/seeded-bert", "--include", "*.safetensors", "--name", "bert"]);
    let mut want: Vec<String> = small.iter().cloned().chain(["model.safetensors".to_owned()]).collect();
    want.sort();
    assert_eq!(step("add"), want);
    seeded_as_nix_builds_them(&file, &Lock::read(&lock).unwrap().repos["bert"]);

    let cache = nix_build(&file, "cache").unwrap_or_else(|e| panic!("building the cache:\n{e}"));
    assert_eq!(step("nix-build of the cache"), Vec::<String>::new(), "the store was seeded");

    hub.move_ref("acme/seeded-bert", "main", &next.sha);
    nix_hug(&["update"]);
    assert_eq!(step("update after main moved"), ["README.md", "extra.safetensors"]);
    let entry = Lock::read(&lock).unwrap().repos["bert"].clone();
    assert_eq!(entry.rev, next.sha);
    seeded_as_nix_builds_them(&file, &entry);

    let rebuilt = nix_build(&file, "cache").unwrap_or_else(|e| panic!("building the cache again:\n{e}"));
    assert_eq!(step("nix-build of the cache after update"), Vec::<String>::new());
    assert_ne!(rebuilt, cache);
    support::record("lock-seeded", &rebuilt);
    let expect = expectations(&[("bert", &entry, &fixture)]);
    // What a consumer is given, and all it needs.
    let env = support::env_of(&file, "cache");
    assert_eq!(env, serde_json::json!({ "HF_HUB_CACHE": rebuilt, "HF_HUB_OFFLINE": "1" }), "cache.env");
    python::check_cache_in(&env, &expect);
    python::check_with_clients(&[("seeded fromLock cache", &rebuilt, &expect)]);
}

/// The store path of the small files' output of `entry`.
fn small_files_path(entry: &Entry) -> String {
    let hash = nar::parse_hash(entry.small_files.as_deref().unwrap()).unwrap();
    nar::fixed_output_path(&hash, &nix_hug::lock::small_files_name(&entry.repo(), &entry.rev)).unwrap()
}

/// Every output of `entry`'s fixed-output derivations in `fromLock` (`file`), as Nix names them, is
/// valid in the store, and is the path computed here.
fn seeded_as_nix_builds_them(file: &Path, entry: &Entry) {
    let outputs = format!(
        "let e = (import {}).bert; in {{ blobs = builtins.fromJSON (builtins.unsafeDiscardStringContext e.blobs); small = builtins.unsafeDiscardStringContext \"${{e.smallFiles}}\"; }}",
        file.display()
    );
    let eval = support::stdout_ok(nix("nix-instantiate").args(["--eval", "--strict", "--json", "-E", &outputs]));
    let eval: serde_json::Value = serde_json::from_str(&eval).unwrap();
    let mut paths = vec![eval["small"].as_str().unwrap().to_owned()];
    assert_eq!(paths[0], small_files_path(entry));
    for (_, sha256) in large_files(entry) {
        assert_eq!(eval["blobs"][sha256].as_str(), Some(blob_path(sha256).as_str()));
        paths.push(blob_path(sha256));
    }
    let valid = support::run(nix("nix-store").arg("--check-validity").args(&paths));
    assert!(valid.status.success(), "not all in the store: {paths:?}\n{}", String::from_utf8_lossy(&valid.stderr));
}
