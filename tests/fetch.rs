//! The pipeline against the loopback Hub: layout, filters, auth, pagination, faults, unsafe listings.

mod hub;

use hub::{Fault, Hub, Mode, fixtures};
use nix_hug::download::Options;
use nix_hug::error::Kind;
use nix_hug::filter::Filters;
use nix_hug::hub::{Hub as Client, Token};
use nix_hug::repo::{Repo, RepoType};
use nix_hug::{nar, pipeline};
use std::path::{Path, PathBuf};

fn repo(kind: RepoType, id: &str) -> Repo {
    Repo::from_id(kind, id).unwrap()
}

/// A fetch's output folder, removed when dropped.
#[derive(Debug)]
struct Out {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Out {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

fn fetch_with(
    hub: &Hub,
    token: Option<&str>,
    repo: &Repo,
    commit: &str,
    filters: &Filters,
    opts: Options,
) -> nix_hug::error::Result<Out> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let client = Client::new(&hub.endpoint(), token.and_then(Token::from_value))?;
    let plan = pipeline::plan(&client, repo, commit, filters)?;
    pipeline::fetch(&client, &plan, pipeline::Sink::Dir(&out), opts, &|_| {})?;
    Ok(Out { path: out, _dir: dir })
}

fn fetch(hub: &Hub, repo: &Repo, commit: &str, filters: &Filters) -> Out {
    fetch_with(hub, None, repo, commit, filters, Options::default()).unwrap()
}

/// Every file of the snapshot, with its content, read through the symlinks.
fn snapshot(out: &Path, repo: &Repo, commit: &str) -> Vec<(String, Vec<u8>)> {
    let root = out.join(repo.folder()).join("snapshots").join(commit);
    let mut files: Vec<_> = walkdir::WalkDir::new(&root)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_symlink())
        .map(|e| (e.path().strip_prefix(&root).unwrap().to_str().unwrap().to_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

fn expected(fixture: &hub::Repo, commit: &str, take: impl Fn(&hub::File) -> bool) -> Vec<(String, Vec<u8>)> {
    let commit = fixture.commits.iter().find(|c| c.sha == commit).unwrap();
    let mut files: Vec<_> =
        commit.files.iter().filter(|f| take(f)).map(|f| (f.path.clone(), f.content.read())).collect();
    files.sort();
    files
}

#[test]
fn fetches_a_model_into_the_cache_layout() {
    let fixture = fixtures::tiny_bert();
    let commit = fixture.commits[1].sha.clone();
    for mode in Mode::ALL {
        let hub = Hub::start_in(mode, vec![fixture.clone()]);
        let model = repo(RepoType::Model, "acme/tiny-bert");
        let out = fetch(&hub, &model, &commit, &Filters::default());

        assert_eq!(snapshot(&out, &model, &commit), expected(&fixture, &commit, |_| true));
        let dir = out.join("models--acme--tiny-bert");
        assert_eq!(std::fs::read_to_string(dir.join("refs/main")).unwrap(), commit, "refs/main has no newline");
        let link = std::fs::read_link(dir.join("snapshots").join(&commit).join("nested/deeper/notes.txt")).unwrap();
        assert!(link.to_str().unwrap().starts_with("../../../../blobs/"), "{link:?}");
        assert!(out.join(".locks/models--acme--tiny-bert").is_dir());
        let tree: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("trees").join(format!("{commit}.json"))).unwrap()).unwrap();
        assert_eq!(tree["format_version"], 1);
        assert_eq!(tree["files"].as_object().unwrap().len(), fixture.commits[1].files.len());
        let safetensors = &tree["files"]["model.safetensors"];
        assert_eq!(safetensors["lfs_size"], safetensors["size"]);
        assert!(safetensors.get("xet_hash").is_none());

        let names: Vec<_> = std::fs::read_dir(dir.join("blobs")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(names.iter().all(|n| !n.to_str().unwrap().ends_with(".part")), "no temporary file left: {names:?}");

        // The same inputs give the same bytes: a second fetch has the same NAR hash.
        let again = fetch(&hub, &model, &commit, &Filters::default());
        assert_eq!(nar::nar_sha256(&out).unwrap(), nar::nar_sha256(&again).unwrap());
    }
}

#[test]
fn filters_choose_lfs_files_and_files_takes_exactly() {
    let fixture = fixtures::tiny_bert();
    let commit = fixture.commits[1].sha.clone();
    for mode in Mode::ALL {
        let hub = Hub::start_in(mode, vec![fixture.clone()]);
        let model = repo(RepoType::Model, "acme/tiny-bert");

        let only_safetensors = Filters { include: vec![r".*\.safetensors".into()], ..Default::default() };
        let out = fetch(&hub, &model, &commit, &only_safetensors);
        assert_eq!(
            snapshot(&out, &model, &commit),
            expected(&fixture, &commit, |f| !f.lfs || f.path.ends_with(".safetensors"))
        );

        let exclude_onnx = Filters { exclude: vec!["onnx/.*".into()], ..Default::default() };
        let out = fetch(&hub, &model, &commit, &exclude_onnx);
        assert_eq!(snapshot(&out, &model, &commit), expected(&fixture, &commit, |f| !f.path.starts_with("onnx/")));

        let files = Filters {
            files: vec!["config.json".into(), "unicod\u{e9} \u{fc}n\u{ef}.txt".into()],
            ..Default::default()
        };
        let out = fetch(&hub, &model, &commit, &files);
        assert_eq!(snapshot(&out, &model, &commit), expected(&fixture, &commit, |f| files.files.contains(&f.path)));

        let typo = Filters { files: vec!["confg.json".into()], ..Default::default() };
        let err = fetch_with(&hub, None, &model, &commit, &typo, Options::default()).unwrap_err();
        assert!(err.to_string().contains("no such file at this commit: confg.json"), "{err}");
    }
}

#[test]
fn resolves_refs_and_reports_unknown_ones() {
    let fixture = fixtures::tiny_bert();
    for mode in Mode::ALL {
        let hub = Hub::start_in(mode, vec![fixture.clone()]);
        let client = Client::new(&hub.endpoint(), None).unwrap();
        let model = repo(RepoType::Model, "acme/tiny-bert");
        assert_eq!(client.revision(&model, "main").unwrap().commit, fixture.commits[1].sha);
        assert_eq!(client.revision(&model, "refs/pr/1").unwrap().commit, fixture.commits[0].sha);
        assert_eq!(client.revision(&model, "v1.0").unwrap().commit, fixture.commits[0].sha);
        assert!(hub.requests().iter().any(|r| r.target.ends_with("/revision/refs%2Fpr%2F1")));

        let err = client.revision(&model, "nope").unwrap_err();
        assert_eq!(err.kind(), Kind::NoSuchRevision);
        let err = client.revision(&repo(RepoType::Model, "acme/missing"), "main").unwrap_err();
        assert_eq!(err.kind(), Kind::NotFound);
        assert!(
            err.to_string().contains("model acme/missing not found") && err.to_string().contains("HF_TOKEN"),
            "{err}"
        );
    }
}

#[test]
fn fetches_a_dataset_and_a_paginated_tree() {
    let ds = fixtures::tiny_dataset();
    let many = fixtures::many_files();
    for mode in Mode::ALL {
        let hub = Hub::start_in(mode, vec![ds.clone(), many.clone()]);
        hub.set_tree_slash_redirect(true);

        let dataset = repo(RepoType::Dataset, "acme/tiny-ds");
        let out = fetch(&hub, &dataset, &ds.commits[0].sha, &Filters::default());
        assert_eq!(snapshot(&out, &dataset, &ds.commits[0].sha), expected(&ds, &ds.commits[0].sha, |_| true));
        assert!(hub.requests().iter().any(|r| r.target.starts_with("/datasets/acme/tiny-ds/resolve/")));

        let model = repo(RepoType::Model, "acme/many-files");
        let out = fetch(&hub, &model, &many.commits[0].sha, &Filters::default());
        assert_eq!(snapshot(&out, &model, &many.commits[0].sha).len(), 1234);
        assert!(hub.requests().iter().filter(|r| r.target.contains("/tree/")).count() >= 2, "followed the Link header");
    }
}

#[test]
fn the_token_goes_to_the_hub_only() {
    let gated = fixtures::gated();
    let commit = gated.commits[0].sha.clone();
    for mode in Mode::ALL {
        let hub = Hub::start_in(mode, vec![gated.clone()]);
        let model = repo(RepoType::Model, "acme/gated");

        let err = fetch_with(&hub, None, &model, &commit, &Filters::default(), Options::default()).unwrap_err();
        assert_eq!(err.kind(), Kind::Failed);
        assert!(err.to_string().contains("model acme/gated is gated and no token is set: set HF_TOKEN"), "{err}");

        hub.clear_requests();
        fetch_with(&hub, Some("hf_testtoken"), &model, &commit, &Filters::default(), Options::default()).unwrap();
        let requests = hub.requests();
        let cdn = hub.cdn();
        let (to_cdn, to_hub): (Vec<_>, Vec<_>) = requests.iter().partition(|r| cdn.ends_with(&r.host));
        assert!(!to_cdn.is_empty(), "the LFS file came from the CDN");
        assert!(to_cdn.iter().all(|r| r.authorization.is_none()), "no token to another host: {to_cdn:?}");
        assert!(to_hub.iter().all(|r| r.authorization.as_deref() == Some("Bearer hf_testtoken")));
    }
}

/// In one line each: a missing token, a token the Hub refuses, and a valid one without access.
#[test]
fn gated_repos_say_what_the_token_lacks() {
    let gated = fixtures::gated();
    let commit = gated.commits[0].sha.clone();
    let hub = Hub::start_in(Mode::Real, vec![gated]);
    let model = repo(RepoType::Model, "acme/gated");
    let refusal = |token| {
        let err = fetch_with(&hub, token, &model, &commit, &Filters::default(), Options::default()).unwrap_err();
        assert_eq!(err.kind(), Kind::Failed, "{err}");
        assert!(!err.to_string().contains('\n'), "{err}");
        err.to_string()
    };
    let sources = "HF_TOKEN, HUGGING_FACE_HUB_TOKEN or the file $HF_TOKEN_PATH (default $HF_HOME/token)";
    assert_eq!(
        refusal(None),
        format!(
            "acme/gated@{}: listing files: model acme/gated is gated and no token is set: set {sources} to a token \
             with access",
            &commit[..7]
        )
    );
    let bad = refusal(Some("hf_invalid"));
    assert!(bad.ends_with("the Hub refused the token (invalid or expired): set a valid one"), "{bad}");
    let denied = refusal(Some(hub::OTHER_USER_TOKEN));
    let page = format!("{}/acme/gated", hub.endpoint());
    assert!(
        denied.ends_with(&format!(
            "model acme/gated is gated and the token has no access to it yet: request access at {page}"
        )),
        "{denied}"
    );
}

/// A 429 that says only when the quota resets (`RateLimit: "api";r=0;t=2`) is waited out, not retried
/// sooner.
#[test]
fn waits_out_a_rate_limit() {
    let fixture = fixtures::tiny_bert();
    let commit = fixture.commits[1].sha.clone();
    let model = repo(RepoType::Model, "acme/tiny-bert");
    let hub = Hub::start_in(Mode::Real, vec![fixture.clone()]);
    for path in [format!("tree/{commit}"), "vocab.txt".to_owned()] {
        hub.clear_requests();
        hub.inject(Fault::RateLimit { path: path.clone(), reset: 2 });
        let start = std::time::Instant::now();
        let files = Filters { files: vec!["vocab.txt".into()], ..Default::default() };
        let out = fetch(&hub, &model, &commit, &files);
        assert_eq!(snapshot(&out, &model, &commit), expected(&fixture, &commit, |f| f.path == "vocab.txt"));
        assert!(start.elapsed() >= std::time::Duration::from_secs(2), "{path}: {:?}", start.elapsed());
        let limited: Vec<_> = hub.requests().into_iter().filter(|r| r.status == 429).collect();
        assert_eq!(limited.len(), 1, "{path}: asked again before the reset: {limited:?}");
    }
}

#[test]
fn recovers_from_transient_faults() {
    let fixture = fixtures::tiny_bert();
    let commit = fixture.commits[1].sha.clone();
    for mode in Mode::ALL {
        let hub = Hub::start_in(mode, vec![fixture.clone()]);
        let model = repo(RepoType::Model, "acme/tiny-bert");
        hub.inject(Fault::DropMidBody { path: "onnx/model.onnx".into() });
        hub.inject(Fault::DropMidBody { path: "vocab.txt".into() });
        hub.inject(Fault::Status { path: "config.json".into(), status: 429, retry_after: Some(1) });
        hub.inject(Fault::Status { path: "README.md".into(), status: 503, retry_after: None });
        hub.inject(Fault::CorruptByte { path: "model.safetensors".into() });
        let out = fetch(&hub, &model, &commit, &Filters::default());
        assert_eq!(snapshot(&out, &model, &commit), expected(&fixture, &commit, |_| true));
        let ranges: Vec<_> = hub.requests().into_iter().filter_map(|r| r.range).collect();
        assert!(ranges.iter().any(|r| r != "bytes=0-"), "a dropped body resumes with Range: {ranges:?}");
    }
}

#[test]
fn a_file_that_keeps_failing_verification_is_an_error_and_leaves_nothing() {
    let fixture = fixtures::tiny_bert();
    let commit = fixture.commits[1].sha.clone();
    let hub = Hub::start(vec![fixture]);
    hub.inject(Fault::CorruptAlways { path: "vocab.txt".into() });
    let model = repo(RepoType::Model, "acme/tiny-bert");
    let out = tempfile::tempdir().unwrap();
    let client = Client::new(&hub.endpoint(), None).unwrap();
    let plan = pipeline::plan(&client, &model, &commit, &Filters::default()).unwrap();
    let err =
        pipeline::fetch(&client, &plan, pipeline::Sink::Dir(out.path()), Options::default(), &|_| {}).unwrap_err();
    assert_eq!(err.kind(), Kind::Integrity);
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("acme/tiny-bert@{}: vocab.txt: git blob sha1 mismatch: expected ", &commit[..7])),
        "{msg}"
    );
    assert!(msg.contains(", got "), "{msg}");
    let leftovers: Vec<_> = walkdir::WalkDir::new(out.path())
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn large_files_download_as_ranges_from_the_redirect_target() {
    let fixture = fixtures::tiny_bert();
    let commit = fixture.commits[1].sha.clone();
    for mode in Mode::ALL {
        let hub = Hub::start_in(mode, vec![fixture.clone()]);
        let model = repo(RepoType::Model, "acme/tiny-bert");
        hub.inject(Fault::DropMidBody { path: "onnx/model.onnx".into() });
        let opts = Options { jobs: 4, chunk: 1000, ..Options::default() };
        let out = fetch_with(&hub, None, &model, &commit, &Filters::default(), opts).unwrap();
        assert_eq!(snapshot(&out, &model, &commit), expected(&fixture, &commit, |_| true));
        let cdn = hub.cdn();
        let ranged: Vec<_> =
            hub.requests().into_iter().filter(|r| cdn.ends_with(&r.host) && r.range.is_some()).collect();
        assert!(ranged.len() >= 5, "5000 bytes in ranges of 1000: {ranged:?}");
    }
}

/// The real CDN's signed URLs expire; a long ranged download asks the Hub for a fresh one.
#[test]
fn ranges_outlive_the_signed_url_they_started_with() {
    let fixture = fixtures::tiny_bert();
    let commit = fixture.commits[1].sha.clone();
    let hub = Hub::start_in(Mode::Real, vec![fixture.clone()]);
    let model = repo(RepoType::Model, "acme/tiny-bert");
    hub.inject(Fault::ExpireCdnUrls { path: "onnx/model.onnx".into() });
    let opts = Options { jobs: 1, chunk: 1000, ..Options::default() };
    let files = Filters { files: vec!["onnx/model.onnx".into()], ..Default::default() };
    let out = fetch_with(&hub, None, &model, &commit, &files, opts).unwrap();
    assert_eq!(snapshot(&out, &model, &commit), expected(&fixture, &commit, |f| f.path == "onnx/model.onnx"));
    let cdn = hub.cdn();
    let refused: Vec<_> = hub.requests().into_iter().filter(|r| cdn.ends_with(&r.host) && r.status == 403).collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    let resolved = hub.requests().iter().filter(|r| r.target.contains("/resolve/")).count();
    assert_eq!(resolved, 2, "resolved once more for a fresh URL");
}

#[test]
fn unsafe_listings_are_refused_before_writing() {
    for bad in ["../escape.txt", "/etc/passwd", "a/../../b", "dir\\file", "a//b"] {
        let sha = hub::fake_sha("hostile");
        let fixture = hub::Repo {
            kind: hub::Kind::Model,
            id: "acme/hostile".into(),
            commits: vec![hub::Commit {
                sha: sha.clone(),
                files: vec![hub::File::new("ok.txt", "fine"), hub::File::new(bad, "evil")],
            }],
            refs: vec![("main".into(), sha.clone())],
            token: None,
            old_ids: Vec::new(),
        };
        let hub = Hub::start(vec![fixture]);
        let err = fetch_with(
            &hub,
            None,
            &repo(RepoType::Model, "acme/hostile"),
            &sha,
            &Filters::default(),
            Options::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), Kind::Integrity, "{bad}: {err}");
        assert!(err.to_string().contains("refusing unsafe path"), "{err}");
        assert!(!hub.requests().iter().any(|r| r.target.contains("/resolve/")), "{bad}: nothing downloaded");
    }
}

/// The files the Hub was asked for (`resolve` requests), as repo paths.
fn downloaded(hub: &Hub) -> Vec<String> {
    let mut paths: Vec<String> = hub
        .requests()
        .into_iter()
        .filter_map(|r| r.target.split_once("/resolve/").map(|(_, rest)| rest.split_once('/').unwrap().1.to_owned()))
        .collect();
    paths.sort();
    paths
}

#[test]
fn never_downloads_a_byte_twice() {
    let fixture = fixtures::tiny_bert();
    let (v1, v2) = (fixture.commits[0].sha.clone(), fixture.commits[1].sha.clone());
    for mode in Mode::ALL {
        let hub = Hub::start_in(mode, vec![fixture.clone()]);
        let model = repo(RepoType::Model, "acme/tiny-bert");
        let reusing = |caches: &[&Path]| Options {
            local_caches: caches.iter().map(|c| c.to_path_buf()).collect(),
            ..Options::default()
        };

        let only_safetensors = Filters { include: vec![r".*\.safetensors".into()], ..Default::default() };
        let first = fetch(&hub, &model, &v2, &only_safetensors);

        // Widening the filter downloads only the file that was left out.
        hub.clear_requests();
        let wider = fetch_with(&hub, None, &model, &v2, &Filters::default(), reusing(&[&first])).unwrap();
        assert_eq!(downloaded(&hub), vec!["onnx/model.onnx"]);
        assert_eq!(snapshot(&wider, &model, &v2), expected(&fixture, &v2, |_| true));

        // Another commit downloads only what changed (its README).
        hub.clear_requests();
        let older = fetch_with(&hub, None, &model, &v1, &Filters::default(), reusing(&[&wider])).unwrap();
        assert_eq!(downloaded(&hub), vec!["README.md"]);
        assert_eq!(snapshot(&older, &model, &v1), expected(&fixture, &v1, |_| true));

        // A local copy that does not verify is not used: the file comes from the Hub.
        let tampering = tempfile::tempdir().unwrap();
        let tampered = tampering.path();
        let blobs = tampered.join("models--acme--tiny-bert/blobs");
        std::fs::create_dir_all(&blobs).unwrap();
        for entry in std::fs::read_dir(first.join("models--acme--tiny-bert/blobs")).unwrap() {
            let entry = entry.unwrap();
            let len = entry.metadata().unwrap().len() as usize;
            std::fs::write(blobs.join(entry.file_name()), vec![b'x'; len]).unwrap();
        }
        hub.clear_requests();
        let again = fetch_with(&hub, None, &model, &v2, &only_safetensors, reusing(&[tampered])).unwrap();
        assert_eq!(
            downloaded(&hub).len(),
            fixture.commits[1].files.iter().filter(|f| !f.lfs || f.path.ends_with(".safetensors")).count()
        );
        assert_eq!(nar::nar_sha256(&again).unwrap(), nar::nar_sha256(&first).unwrap());
    }
}

/// A large file assembled from ranges that fails its final hash is fetched once more from scratch, as a
/// whole file is; failing again, it is an error naming the file and both hashes.
#[test]
fn a_ranged_file_that_fails_its_hash_is_fetched_once_more() {
    let fixture = fixtures::tiny_bert();
    let commit = fixture.commits[1].sha.clone();
    let model = repo(RepoType::Model, "acme/tiny-bert");
    let onnx = Filters { files: vec!["onnx/model.onnx".into()], ..Default::default() };
    let opts = || Options { jobs: 2, chunk: 1000, ..Options::default() };

    let hub = Hub::start(vec![fixture.clone()]);
    hub.inject(Fault::CorruptByte { path: "onnx/model.onnx".into() });
    let out = fetch_with(&hub, None, &model, &commit, &onnx, opts()).unwrap();
    assert_eq!(snapshot(&out, &model, &commit), expected(&fixture, &commit, |f| f.path == "onnx/model.onnx"));
    let cdn = hub.cdn();
    let whole = hub.requests().into_iter().filter(|r| cdn.ends_with(&r.host) && r.range.is_none()).count();
    assert_eq!(whole, 1, "after the ranges, the file once more as a whole");

    let hub = Hub::start(vec![fixture.clone()]);
    hub.inject(Fault::CorruptAlways { path: "onnx/model.onnx".into() });
    let err = fetch_with(&hub, None, &model, &commit, &onnx, opts()).unwrap_err();
    assert_eq!(err.kind(), Kind::Integrity);
    let sha =
        hub::sha256_hex(&fixture.commits[1].files.iter().find(|f| f.path == "onnx/model.onnx").unwrap().content.read());
    let msg = err.to_string();
    assert!(msg.contains(&format!("onnx/model.onnx: sha256 mismatch: expected {sha}, got ")), "{msg}");
}

/// The NAR sink hashes its file as the downloads complete it: the hash it gives is the NAR hash of the
/// folder the directory sink writes, also when a ranged file failed its hash and was written again.
#[test]
fn the_nar_sink_hashes_what_it_downloaded() {
    let fixture = fixtures::tiny_bert();
    let commit = fixture.commits[1].sha.clone();
    let model = repo(RepoType::Model, "acme/tiny-bert");
    let opts = || Options { jobs: 3, chunk: 1000, ..Options::default() };
    let hub = Hub::start(vec![fixture.clone()]);
    let want = nar::nar_sha256(&fetch_with(&hub, None, &model, &commit, &Filters::default(), opts()).unwrap()).unwrap();
    for fault in [None, Some(Fault::CorruptByte { path: "onnx/model.onnx".into() })] {
        let hub = Hub::start(vec![fixture.clone()]);
        if let Some(fault) = fault.clone() {
            hub.inject(fault);
        }
        let client = Client::new(&hub.endpoint(), None).unwrap();
        let plan = pipeline::plan(&client, &model, &commit, &Filters::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.nar");
        let (hash, size) =
            pipeline::fetch(&client, &plan, pipeline::Sink::Nar(&path), opts(), &|_| {}).unwrap().unwrap();
        assert_eq!((hash, size), (want, std::fs::metadata(&path).unwrap().len()), "{fault:?}");
    }
}

/// A tree listing whose `Link` leads back to a page already read (here the last page to the first) is
/// refused, where following it would never end.
#[test]
fn a_tree_listing_that_links_back_is_refused() {
    for fixture in [fixtures::tiny_bert(), fixtures::many_files()] {
        let hub = Hub::start(vec![fixture.clone()]);
        hub.set_tree_link_loop(true);
        let client = Client::new(&hub.endpoint(), None).unwrap();
        let model = repo(RepoType::Model, &fixture.id);
        let err = pipeline::plan(&client, &model, &fixture.commits[0].sha, &Filters::default()).unwrap_err();
        assert_eq!(err.kind(), Kind::Integrity, "{err}");
        assert!(err.to_string().contains("the tree listing links back to a page it already sent"), "{err}");
    }
}

/// A large file fetched in ranges from a server whose copy has another size than the listing's (its
/// `Content-Range` says so): refused as a corrupt download; once, that range is fetched once more and
/// the fetch succeeds; every time, it is an error naming the file and both sizes.
#[test]
fn ranges_of_a_copy_of_another_size_are_refused() {
    let fixture = fixtures::tiny_bert();
    let commit = fixture.commits[1].sha.clone();
    let model = repo(RepoType::Model, "acme/tiny-bert");
    let onnx = Filters { files: vec!["onnx/model.onnx".into()], ..Default::default() };
    let opts = || Options { jobs: 2, chunk: 1000, ..Options::default() };
    for mode in Mode::ALL {
        for by in [500, -500] {
            let hub = Hub::start_in(mode, vec![fixture.clone()]);
            hub.inject(Fault::Resized { path: "onnx/model.onnx".into(), by });
            let out = fetch_with(&hub, None, &model, &commit, &onnx, opts()).unwrap();
            assert_eq!(snapshot(&out, &model, &commit), expected(&fixture, &commit, |f| f.path == "onnx/model.onnx"));

            hub.inject(Fault::ResizedAlways { path: "onnx/model.onnx".into(), by });
            let err = fetch_with(&hub, None, &model, &commit, &onnx, opts()).unwrap_err();
            assert_eq!(err.kind(), Kind::Integrity, "{err}");
            let want = format!(
                "onnx/model.onnx: corrupt download: expected 5000 bytes, as listed, but the server's copy has {}",
                5000 + by
            );
            assert!(err.to_string().ends_with(&want), "{err}");
        }
    }
}

/// Many files to fetch: what the engine does before its first request (skipping the same blob listed
/// twice, or one already in place) grows with their number, not with its square.
#[test]
fn many_files_are_planned_in_linear_time() {
    use nix_hug::download::{self, Expected, Job};
    const FILES: usize = 50_000;
    let hub = Hub::start(Vec::new());
    let client = Client::new(&hub.endpoint(), None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let jobs = (0..FILES)
        .map(|i| Job {
            name: format!("f{i}"),
            url: format!("{}/nothing/{i}", hub.endpoint()),
            size: 1,
            expected: Expected::GitBlob("0".repeat(40)),
            dest: nix_hug::download::Dest::File(dir.path().join(format!("blob{i}"))),
            local: Vec::new(),
        })
        .collect();
    let started = std::time::Instant::now();
    // Every URL is a 404, so the first request ends the download.
    let err = download::download(&client, jobs, Options::default(), &|_| {}).unwrap_err();
    let took = started.elapsed();
    eprintln!("{FILES} files planned and refused in {:.2}s", took.as_secs_f64());
    assert_eq!(err.kind(), Kind::NotFound, "{err}");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
}
