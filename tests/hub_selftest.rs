//! Tests of the test Hub itself, through a real HTTP client, so that the other tests can trust it.

mod hub;

use std::io::{Read, Write};
use std::net::TcpStream;

use hub::{Content, Fault, File, Hub, Kind, Mode, Repo, fixtures};
use serde_json::Value;

/// Follows no redirects and returns every status as a response.
fn raw() -> ureq::Agent {
    ureq::Agent::config_builder().max_redirects(0).http_status_as_error(false).build().new_agent()
}

fn follow() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().new_agent()
}

struct Reply {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Result<Vec<u8>, ureq::Error>,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    fn body(&self) -> &[u8] {
        self.body.as_ref().expect("reading the body")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(self.body()).unwrap()
    }
}

fn send(agent: &ureq::Agent, method: &str, url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = match method {
        "HEAD" => agent.head(url),
        _ => agent.get(url),
    };
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    Reply { status: resp.status().as_u16(), headers: resp.headers().clone(), body: resp.body_mut().read_to_vec() }
}

fn get(url: &str) -> Reply {
    send(&raw(), "GET", url, &[])
}

fn file<'a>(repo: &'a Repo, sha: &str, path: &str) -> &'a File {
    let commit = repo.commits.iter().find(|c| c.sha == sha).unwrap();
    commit.files.iter().find(|f| f.path == path).unwrap()
}

fn main_sha(repo: &Repo) -> String {
    repo.refs.iter().find(|(name, _)| name == "main").unwrap().1.clone()
}

#[test]
fn hashes_match_git() {
    assert_eq!(hub::git_blob_sha1(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    assert_eq!(hub::git_blob_sha1(b"file 0\n"), "7fe7a21b0677ba28c909e9926592e3d47e97b0af");
    assert_eq!(hub::sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    let sha = hub::fake_sha("x");
    assert!(sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
}

#[test]
fn fixtures_are_well_formed() {
    let bert = fixtures::tiny_bert();
    let main = main_sha(&bert);
    let config: Value = serde_json::from_slice(&file(&bert, &main, "config.json").content.read()).unwrap();
    let vocab = file(&bert, &main, "vocab.txt").content.read();
    assert_eq!(config["vocab_size"], vocab.iter().filter(|&&b| b == b'\n').count());
    assert_eq!(config["model_type"], "bert");

    let st = file(&bert, &main, "model.safetensors").content.read();
    let n = u64::from_le_bytes(st[..8].try_into().unwrap()) as usize;
    assert_eq!(n % 8, 0);
    let header: Value = serde_json::from_slice(&st[8..8 + n]).unwrap();
    assert_eq!(header["weight"]["data_offsets"][1], 24);
    assert_eq!(st.len(), 8 + n + 24);

    let many = fixtures::many_files();
    assert_eq!(many.commits[0].files.len(), 1234);
    let all = fixtures::all();
    assert_eq!(all.iter().filter(|r| r.kind == Kind::Dataset).count(), 2);
    assert_eq!(all.iter().filter(|r| r.kind == Kind::Space).count(), 1);
    let ids: Vec<&String> = all.iter().flat_map(|r| std::iter::once(&r.id).chain(&r.old_ids)).collect();
    assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), ids.len(), "ids are unique");
    assert_eq!(all.iter().filter(|r| r.token.is_some()).count(), 1);
}

#[test]
fn revision_lookup() {
    let bert = fixtures::tiny_bert();
    let (sha1, sha2) = (bert.commits[0].sha.clone(), bert.commits[1].sha.clone());
    let hub = Hub::start(fixtures::all());
    let api = format!("{}/api/models/acme/tiny-bert", hub.endpoint());
    for (rev, sha) in [("main", &sha2), ("v1.0", &sha1), ("refs%2Fpr%2F1", &sha1), (sha2.as_str(), &sha2)] {
        let r = get(&format!("{api}/revision/{rev}"));
        assert_eq!(r.status, 200, "{rev}");
        let info = r.json();
        assert_eq!(info["id"], "acme/tiny-bert");
        assert_eq!(info["sha"], sha.as_str(), "{rev}");
    }
    let info = get(&format!("{api}/revision/main")).json();
    let names: Vec<&str> =
        info["siblings"].as_array().unwrap().iter().map(|s| s["rfilename"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 11);
    assert!(names.contains(&"unicod\u{e9} \u{fc}n\u{ef}.txt") && names.contains(&"nested/deeper/notes.txt"));
    assert_eq!(get(&api).json()["sha"], sha2.as_str());

    let r = get(&format!("{api}/revision/nope"));
    assert_eq!((r.status, r.header("x-error-code")), (404, "RevisionNotFound"));
    let r = get(&format!("{}/api/models/acme/nope/revision/main", hub.endpoint()));
    assert_eq!((r.status, r.header("x-error-code")), (404, "RepoNotFound"));
    // A dataset is not a model, and the other way round.
    let r = get(&format!("{}/api/models/acme/tiny-ds/revision/main", hub.endpoint()));
    assert_eq!((r.status, r.header("x-error-code")), (404, "RepoNotFound"));
    let r = get(&format!("{}/api/datasets/acme/tiny-ds/revision/main", hub.endpoint()));
    assert_eq!(r.json()["id"], "acme/tiny-ds");
    let r = get(&format!("{}/api/spaces/acme/tiny-space/revision/main", hub.endpoint()));
    assert_eq!(r.json()["id"], "acme/tiny-space");
    let r = get(&format!("{}/api/models/acme/tiny-space/revision/main", hub.endpoint()));
    assert_eq!((r.status, r.header("x-error-code")), (404, "RepoNotFound"));
}

/// Follows `Link: <url>; rel="next"` from `url`; returns the pages.
fn tree_pages(url: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut next = Some(url.to_string());
    while let Some(url) = next {
        let r = get(&url);
        assert_eq!(r.status, 200, "{url}");
        let link = r.header("link");
        next = link.strip_prefix('<').and_then(|l| l.strip_suffix(">; rel=\"next\"")).map(String::from);
        assert!(link.is_empty() || next.is_some(), "bad Link: {link}");
        pages.push(r.json().as_array().unwrap().clone());
    }
    pages
}

#[test]
fn paginated_tree() {
    let hub = Hub::start(vec![fixtures::many_files()]);
    for spelling in ["true", "True"] {
        let url = format!("{}/api/models/acme/many-files/tree/main?recursive={spelling}&expand=false", hub.endpoint());
        let pages = tree_pages(&url);
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [1000, 371]);
        let entries: Vec<&Value> = pages.iter().flatten().collect();
        let paths = |kind: &str| -> std::collections::BTreeSet<&str> {
            entries.iter().filter(|e| e["type"] == kind).map(|e| e["path"].as_str().unwrap()).collect()
        };
        let (files, dirs) = (paths("file"), paths("directory"));
        assert_eq!((files.len(), dirs.len()), (1234, 13 + 124));
        for f in &files {
            let mut p = *f;
            while let Some((parent, _)) = p.rsplit_once('/') {
                assert!(dirs.contains(parent), "{parent} missing");
                p = parent;
            }
        }
        let first = entries.iter().find(|e| e["path"] == "d00/s0/f0000.txt").unwrap();
        assert_eq!(first["oid"], "7fe7a21b0677ba28c909e9926592e3d47e97b0af");
        assert_eq!(first["size"], 7);
    }
    let top = tree_pages(&format!("{}/api/models/acme/many-files/tree/main", hub.endpoint()));
    assert_eq!(top.concat().len(), 13);
    let sub = tree_pages(&format!("{}/api/models/acme/many-files/tree/main/d12?recursive=true", hub.endpoint()));
    assert_eq!(sub.concat().len(), 4 + 34);
}

#[test]
fn tree_entries_of_lfs_files() {
    let bert = fixtures::tiny_bert();
    let main = main_sha(&bert);
    let content = file(&bert, &main, "model.safetensors").content.read();
    let hub = Hub::start(vec![bert]);
    let pages = tree_pages(&format!("{}/api/models/acme/tiny-bert/tree/{main}?recursive=true", hub.endpoint()));
    let entries = pages.concat();
    let st = entries.iter().find(|e| e["path"] == "model.safetensors").unwrap();
    let sha256 = hub::sha256_hex(&content);
    let pointer = hub::lfs_pointer(&sha256, content.len() as u64);
    assert_eq!(st["oid"], hub::git_blob_sha1(pointer.as_bytes()));
    assert_eq!(st["size"], content.len());
    assert_eq!(st["lfs"]["oid"], sha256);
    assert_eq!(st["lfs"]["size"], content.len());
    assert_eq!(st["lfs"]["pointerSize"], pointer.len());
    let dirs: Vec<&str> =
        entries.iter().filter(|e| e["type"] == "directory").map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(dirs, ["nested", "nested/deeper", "onnx"]);
    assert!(
        entries
            .iter()
            .filter(|e| e["type"] == "file")
            .all(|e| e.get("lfs").is_some() == (e["path"] == "model.safetensors" || e["path"] == "onnx/model.onnx"))
    );
}

#[test]
fn resolve_regular_files() {
    let bert = fixtures::tiny_bert();
    let main = main_sha(&bert);
    let hub = Hub::start(fixtures::all());
    let base = format!("{}/acme/tiny-bert/resolve", hub.endpoint());
    for path in [
        "config.json",
        "nested/deeper/notes.txt",
        "with space.txt",
        "unicod\u{e9} \u{fc}n\u{ef}.txt",
        "odd#name?x%.txt",
    ] {
        let content = file(&bert, &main, path).content.read();
        let url = format!("{base}/main/{}", hub::quote(path));
        let r = get(&url);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.body(), content);
        assert_eq!(r.header("etag"), format!("\"{}\"", hub::git_blob_sha1(&content)));
        assert_eq!(r.header("x-repo-commit"), main);
        let h = send(&raw(), "HEAD", &url, &[]);
        assert_eq!((h.status, h.header("content-length")), (200, content.len().to_string().as_str()));
        assert_eq!((h.header("etag"), h.header("accept-ranges")), (r.header("etag"), "bytes"));
        assert!(h.body().is_empty());
    }
    // Known values from `git hash-object`.
    assert_eq!(
        get(&format!("{base}/main/with%20space.txt")).header("etag"),
        "\"cbfbaeff521092900361c72c7235ea9182ba44d4\""
    );
    assert_eq!(
        get(&format!("{base}/main/unicod%C3%A9%20%C3%BCn%C3%AF.txt")).header("etag"),
        "\"866464cad8fe1117a358617ddda7c7e35aba5ba6\""
    );

    // Older commits, by tag and by PR ref.
    let r = get(&format!("{base}/refs%2Fpr%2F1/README.md"));
    assert_eq!(r.body(), b"# tiny-bert\n\nFirst version.\n");
    assert_eq!(r.header("x-repo-commit"), bert.commits[0].sha);
    assert_eq!(get(&format!("{base}/v1.0/with%20space.txt")).header("x-error-code"), "EntryNotFound");

    let r = send(&raw(), "GET", &format!("{base}/main/config.json"), &[("Range", "bytes=2-5")]);
    let content = file(&bert, &main, "config.json").content.read();
    assert_eq!((r.status, r.body()), (206, &content[2..6]));
    assert_eq!(r.header("content-range"), format!("bytes 2-5/{}", content.len()));
    let r = send(&raw(), "GET", &format!("{base}/main/config.json"), &[("Range", "bytes=-3")]);
    assert_eq!(r.body(), &content[content.len() - 3..]);
    let r = send(&raw(), "GET", &format!("{base}/main/config.json"), &[("Range", "bytes=100000-")]);
    assert_eq!(r.status, 416);

    let r = get(&format!("{base}/main/missing.txt"));
    assert_eq!((r.status, r.header("x-error-code"), r.header("x-repo-commit")), (404, "EntryNotFound", main.as_str()));
    let r = get(&format!("{base}/nope/config.json"));
    assert_eq!((r.status, r.header("x-error-code")), (404, "RevisionNotFound"));
    let r = get(&format!("{}/acme/nope/resolve/main/config.json", hub.endpoint()));
    assert_eq!((r.status, r.header("x-error-code")), (404, "RepoNotFound"));

    let r = get(&format!("{}/datasets/acme/tiny-ds/resolve/main/data/extra.json", hub.endpoint()));
    assert_eq!(r.status, 200);
    let r = get(&format!("{}/acme/tiny-ds/resolve/main/data/extra.json", hub.endpoint()));
    assert_eq!(r.header("x-error-code"), "RepoNotFound");

    let space = fixtures::tiny_space();
    let r = get(&format!("{}/spaces/acme/tiny-space/resolve/main/app.py", hub.endpoint()));
    assert_eq!((r.status, r.body()), (200, file(&space, &main_sha(&space), "app.py").content.read().as_slice()));
    let r = get(&format!("{}/datasets/acme/tiny-space/resolve/main/app.py", hub.endpoint()));
    assert_eq!(r.header("x-error-code"), "RepoNotFound");
}

#[test]
fn lfs_redirects_to_the_cdn() {
    let ds = fixtures::tiny_dataset();
    let main = main_sha(&ds);
    let content = file(&ds, &main, "data/train.parquet").content.read();
    let sha256 = hub::sha256_hex(&content);
    let hub = Hub::start(vec![ds]);
    let url = format!("{}/datasets/acme/tiny-ds/resolve/main/data/train.parquet", hub.endpoint());
    for method in ["HEAD", "GET"] {
        let r = send(&raw(), method, &url, &[]);
        assert_eq!(r.status, 302);
        assert_eq!(r.header("location"), format!("{}/cdn/{sha256}?sig=x", hub.cdn()));
        assert_eq!(r.header("x-linked-etag"), format!("\"{sha256}\""));
        assert_eq!(r.header("x-linked-size"), content.len().to_string());
        assert_eq!(r.header("x-repo-commit"), main);
    }
    assert_eq!(send(&follow(), "GET", &url, &[]).body(), content);

    let cdn = format!("{}/cdn/{sha256}?sig=x", hub.cdn());
    let r = send(&raw(), "GET", &cdn, &[("Range", "bytes=100-")]);
    assert_eq!((r.status, r.body()), (206, &content[100..]));
    assert_eq!(r.header("content-range"), format!("bytes 100-{}/{}", content.len() - 1, content.len()));
    let r = send(&raw(), "HEAD", &cdn, &[]);
    assert_eq!((r.status, r.header("content-length")), (200, content.len().to_string().as_str()));
    assert_eq!(get(&format!("{}/cdn/{}", hub.cdn(), "0".repeat(64))).status, 404);
    // The CDN serves nothing else, and the API host serves no CDN paths.
    assert_eq!(get(&format!("{}/datasets/acme/tiny-ds/resolve/main/README.md", hub.cdn())).status, 404);
    assert_eq!(get(&format!("{}/cdn/{sha256}", hub.endpoint())).status, 404);
}

#[test]
fn gated_repo_needs_the_token() {
    let hub = Hub::start(fixtures::all());
    let urls = [
        format!("{}/api/models/acme/gated/revision/main", hub.endpoint()),
        format!("{}/api/models/acme/gated/tree/main?recursive=true", hub.endpoint()),
        format!("{}/acme/gated/resolve/main/config.json", hub.endpoint()),
        format!("{}/acme/gated/resolve/main/weights.bin", hub.endpoint()),
    ];
    for url in &urls {
        let r = get(url);
        assert_eq!((r.status, r.header("x-error-code")), (401, "GatedRepo"), "{url}");
        assert!(r.json()["error"].as_str().unwrap().contains("acme/gated"));
        let r = send(&raw(), "GET", url, &[("Authorization", "Bearer hf_wrong")]);
        assert_eq!((r.status, r.header("x-error-code")), (403, "GatedRepo"), "{url}");
        let r = send(&raw(), "GET", url, &[("Authorization", "Bearer hf_testtoken")]);
        assert!(r.status == 200 || r.status == 302, "{url}: {}", r.status);
    }
    // Other repos do not care about tokens.
    let r = send(
        &raw(),
        "GET",
        &format!("{}/acme/tiny-bert/resolve/main/config.json", hub.endpoint()),
        &[("Authorization", "Bearer hf_testtoken")],
    );
    assert_eq!(r.status, 200);
}

#[test]
fn request_log() {
    let hub = Hub::start(fixtures::all());
    get(&format!("{}/api/models/acme/tiny-bert/revision/main", hub.endpoint()));
    hub.clear_requests();
    let url = format!("{}/acme/tiny-bert/resolve/refs%2Fpr%2F1/model.safetensors", hub.endpoint());
    let r = send(&follow(), "GET", &url, &[("Authorization", "Bearer t"), ("Range", "bytes=0-9")]);
    assert_eq!(r.status, 206);
    let log = hub.requests();
    assert_eq!(log.len(), 2);
    let api_host = hub.endpoint().strip_prefix("http://").unwrap().to_string();
    let cdn_host = hub.cdn().strip_prefix("http://").unwrap().to_string();
    assert_eq!(
        (&log[0].host, log[0].method.as_str(), log[0].target.as_str()),
        (&api_host, "GET", "/acme/tiny-bert/resolve/refs%2Fpr%2F1/model.safetensors")
    );
    assert_eq!((log[0].authorization.as_deref(), log[0].range.as_deref()), (Some("Bearer t"), Some("bytes=0-9")));
    // ureq drops the token on the cross-host redirect, as huggingface_hub does.
    assert_eq!((&log[1].host, log[1].authorization.as_deref()), (&cdn_host, None));
    assert!(log[1].target.starts_with("/cdn/") && log[1].target.ends_with("?sig=x"));
    hub.clear_requests();
    assert!(hub.requests().is_empty());
}

#[test]
fn faults_are_one_shot() {
    let bert = fixtures::tiny_bert();
    let main = main_sha(&bert);
    let config = file(&bert, &main, "config.json").content.read();
    let tokenizer = file(&bert, &main, "tokenizer_config.json").content.read();
    let hub = Hub::start(vec![bert]);
    let url = format!("{}/acme/tiny-bert/resolve/main/config.json", hub.endpoint());

    hub.inject(Fault::DropMidBody { path: "config.json".into() });
    assert!(get(&url).body.is_err());
    assert_eq!(get(&url).body(), config);

    hub.inject(Fault::Status {
        path: "/acme/tiny-bert/resolve/main/config.json".into(),
        status: 429,
        retry_after: Some(1),
    });
    hub.inject(Fault::Status { path: "config.json".into(), status: 503, retry_after: None });
    let r = send(&raw(), "HEAD", &url, &[]);
    assert_eq!((r.status, r.header("retry-after")), (429, "1"));
    let r = get(&url);
    assert_eq!((r.status, r.header("retry-after")), (503, ""));
    assert_eq!(get(&url).status, 200);

    let differing = |body: &[u8]| body.iter().zip(&config).filter(|(a, b)| a != b).count();
    hub.inject(Fault::CorruptByte { path: "config.json".into() });
    // HEAD has no body: the fault waits for the GET.
    assert_eq!(send(&raw(), "HEAD", &url, &[]).status, 200);
    // Whole segments only.
    let tokenizer_config = url.replace("config.json", "tokenizer_config.json");
    assert_eq!(get(&tokenizer_config).body(), tokenizer.as_slice());
    let r = get(&url);
    assert_eq!((r.body().len(), differing(r.body())), (config.len(), 1));
    assert_eq!(get(&url).body(), config);

    hub.inject(Fault::CorruptAlways { path: "config.json".into() });
    for _ in 0..3 {
        assert_eq!(differing(get(&url).body()), 1);
    }
    let r = send(&raw(), "GET", &url, &[("Range", "bytes=0-9")]);
    assert_eq!(r.body().iter().zip(&config[..10]).filter(|(a, b)| a != b).count(), 1);
}

#[test]
fn faults_on_lfs_files_hit_the_cdn() {
    let bert = fixtures::tiny_bert();
    let main = main_sha(&bert);
    let onnx = file(&bert, &main, "onnx/model.onnx").content.read();
    let hub = Hub::start(vec![bert]);
    let url = format!("{}/acme/tiny-bert/resolve/main/onnx/model.onnx", hub.endpoint());
    hub.inject(Fault::DropMidBody { path: "model.onnx".into() });
    assert_eq!(send(&raw(), "HEAD", &url, &[]).status, 302);
    hub.clear_requests();
    assert!(send(&follow(), "GET", &url, &[]).body.is_err());
    assert_eq!(hub.requests().last().unwrap().host, hub.cdn().strip_prefix("http://").unwrap());
    assert_eq!(send(&follow(), "GET", &url, &[]).body(), onnx);
}

/// A big file from disk, streamed in several reads.
#[test]
fn file_content_streams_from_disk() {
    let dir = std::env::temp_dir().join(format!("nix-hug-hub-selftest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.bin");
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let repo = Repo {
        kind: Kind::Model,
        id: "acme/big".into(),
        commits: vec![hub::Commit {
            sha: hub::fake_sha("big"),
            files: vec![
                File { path: "big.bin".into(), content: Content::File(path.clone()), lfs: true },
                File { path: "plain.bin".into(), content: Content::File(path.clone()), lfs: false },
            ],
        }],
        refs: vec![("main".into(), hub::fake_sha("big"))],
        token: None,
        old_ids: Vec::new(),
    };
    let hub = Hub::start(vec![repo]);
    let big = format!("{}/acme/big/resolve/main/big.bin", hub.endpoint());
    let r = send(&follow(), "GET", &big, &[]);
    assert_eq!(r.header("etag"), format!("\"{}\"", hub::sha256_hex(&data)));
    assert!(r.body() == data);
    let plain = format!("{}/acme/big/resolve/main/plain.bin", hub.endpoint());
    let r = send(&raw(), "GET", &plain, &[]);
    assert_eq!(r.header("etag"), format!("\"{}\"", hub::git_blob_sha1(&data)));
    assert!(r.body() == data);
    let r = send(&raw(), "GET", &plain, &[("Range", "bytes=1048570-2097160")]);
    assert!(r.status == 206 && r.body() == &data[1048570..2097161]);

    hub.inject(Fault::CorruptByte { path: "big.bin".into() });
    let r = send(&follow(), "GET", &big, &[]);
    assert_eq!(r.body().iter().zip(&data).filter(|(a, b)| a != b).count(), 1);
    hub.inject(Fault::DropMidBody { path: "plain.bin".into() });
    assert!(send(&raw(), "GET", &plain, &[]).body.is_err());
    drop(hub);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tree_slash_redirect_mode() {
    let hub = Hub::start(vec![fixtures::many_files()]);
    let url = format!("{}/api/models/acme/many-files/tree/main?recursive=true&expand=false", hub.endpoint());
    hub.set_tree_slash_redirect(true);
    let r = get(&url);
    assert_eq!(r.status, 307);
    let slash = format!("{}/api/models/acme/many-files/tree/main/?recursive=true&expand=false", hub.endpoint());
    assert_eq!(r.header("location"), slash);
    let pages = tree_pages(&slash);
    assert_eq!(pages.concat().len(), 1234 + 137);
    let r = send(&follow(), "GET", &url, &[]);
    assert_eq!((r.status, r.json().as_array().unwrap().len()), (200, 1000));
    hub.set_tree_slash_redirect(false);
    assert_eq!(get(&url).status, 200);
}

/// Two requests on one connection, then Drop closes it and the listeners.
#[test]
fn keep_alive_and_drop() {
    let hub = Hub::start(vec![fixtures::gated()]);
    let addr = hub.endpoint().strip_prefix("http://").unwrap().to_string();
    let mut conn = TcpStream::connect(&addr).unwrap();
    let request = "HEAD /acme/gated/resolve/main/config.json HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut buf = [0; 4096];
    for _ in 0..2 {
        conn.write_all(request.as_bytes()).unwrap();
        let n = conn.read(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 401 ") && text.ends_with("\r\n\r\n"), "{text}");
    }
    drop(hub);
    assert_eq!(conn.read(&mut buf).unwrap_or(0), 0);
    assert!(TcpStream::connect(&addr).is_err());
}

#[test]
fn real_hub_small_files_redirect_to_the_resolve_cache() {
    let bert = fixtures::tiny_bert();
    let main = main_sha(&bert);
    let content = file(&bert, &main, "with space.txt").content.read();
    let hub = Hub::start_in(Mode::Real, vec![bert]);
    let url = format!("{}/acme/tiny-bert/resolve/main/with%20space.txt", hub.endpoint());
    for method in ["HEAD", "GET"] {
        let r = send(&raw(), method, &url, &[]);
        assert_eq!(r.status, 307);
        let location = r.header("location");
        let cache = format!("/api/resolve-cache/models/acme/tiny-bert/{main}/with%20space.txt?");
        assert!(location.starts_with(&cache) && location.contains("&etag="), "relative, same host: {location}");
        assert_eq!(r.header("x-repo-commit"), main);
        let cached = send(&raw(), method, &format!("{}{location}", hub.endpoint()), &[]);
        assert_eq!((cached.status, cached.header("x-repo-commit")), (200, main.as_str()));
    }
    assert_eq!(send(&follow(), "GET", &url, &[]).body(), content);
    let r = send(&follow(), "GET", &url, &[("Range", "bytes=2-")]);
    assert_eq!((r.status, r.body()), (206, &content[2..]));
    // The resolve cache serves commits only, and only the regular files.
    let cache = format!("{}/api/resolve-cache/models/acme/tiny-bert", hub.endpoint());
    assert_eq!(get(&format!("{cache}/main/with%20space.txt")).status, 404);
    assert_eq!(get(&format!("{cache}/{main}/model.safetensors")).status, 404);
}

#[test]
fn real_hub_lfs_files_redirect_to_a_signed_cdn_url() {
    let ds = fixtures::tiny_dataset();
    let main = main_sha(&ds);
    let content = file(&ds, &main, "data/train.parquet").content.read();
    let sha256 = hub::sha256_hex(&content);
    let hub = Hub::start_in(Mode::Real, vec![ds]);
    let url = format!("{}/datasets/acme/tiny-ds/resolve/main/data/train.parquet", hub.endpoint());
    let r = send(&raw(), "HEAD", &url, &[]);
    assert_eq!(r.status, 302);
    assert_eq!(r.header("x-linked-etag"), format!("\"{sha256}\""));
    assert_eq!(r.header("x-linked-size"), content.len().to_string());
    assert_eq!(r.header("x-repo-commit"), main);
    assert_eq!(r.header("x-xet-hash").len(), 64);
    let signed = r.header("location").to_owned();
    assert!(signed.starts_with(&format!("{}/cdn/{sha256}?", hub.cdn())) && signed.contains("X-Amz-Signature="));

    let cdn = send(&raw(), "GET", &signed, &[]);
    assert_eq!((cdn.status, cdn.body()), (200, content.as_slice()));
    for name in ["x-linked-etag", "x-linked-size", "x-repo-commit", "x-xet-hash", "ratelimit"] {
        assert_eq!(cdn.header(name), "", "{name} only on the redirect");
    }
    let r = send(&raw(), "GET", &signed, &[("Range", "bytes=100-")]);
    assert_eq!((r.status, r.body()), (206, &content[100..]));
    // Unsigned, tampered or expired: refused.
    let (base, query) = signed.split_once('?').unwrap();
    let expires: u64 = query.split('&').find_map(|p| p.strip_prefix("Expires=")).unwrap().parse().unwrap();
    for bad in [
        base.to_owned(),
        format!("{base}?sig=x"),
        signed.replace("X-Amz-Signature=", "X-Amz-Signature=0"),
        signed.replace(&format!("Expires={expires}"), &format!("Expires={}", expires + 1)),
        signed.replace(&format!("Expires={expires}"), "Expires=1"),
    ] {
        assert_eq!(get(&bad).status, 403, "{bad}");
    }
    // Once expired, the URL is refused; a new redirect gives a fresh one.
    hub.inject(Fault::ExpireCdnUrls { path: "data/train.parquet".into() });
    assert_eq!(get(&signed).status, 200, "the request that expires them is answered");
    assert_eq!(get(&signed).status, 403);
    let fresh = send(&raw(), "GET", &url, &[]).header("location").to_owned();
    assert_eq!(get(&fresh).status, 200);
}

#[test]
fn real_hub_tree_cursors_are_opaque() {
    let hub = Hub::start_in(Mode::Real, vec![fixtures::many_files(), fixtures::tiny_bert()]);
    let url = format!("{}/api/models/acme/many-files/tree/main?recursive=true&expand=false", hub.endpoint());
    let first = get(&url);
    let next = first.header("link");
    let cursor = next.split("cursor=").nth(1).unwrap().split(['&', '>']).next().unwrap();
    assert!(cursor.parse::<u64>().is_err(), "not an offset: {cursor}");
    let pages = tree_pages(&url);
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [1000, 371]);
    let tree = get(&format!("{}/api/models/acme/tiny-bert/tree/main?recursive=true", hub.endpoint())).json();
    let lfs = tree.as_array().unwrap().iter().find(|e| e["path"] == "model.safetensors").unwrap();
    assert_eq!(lfs["xetHash"].as_str().unwrap().len(), 64);
    assert_ne!(lfs["xetHash"], lfs["lfs"]["oid"]);
}

#[test]
fn real_hub_rate_limits() {
    let hub = Hub::start_in(Mode::Real, vec![fixtures::tiny_bert()]);
    let url = format!("{}/api/models/acme/tiny-bert/revision/main", hub.endpoint());
    let r = get(&url);
    assert_eq!(r.status, 200);
    assert!(r.header("ratelimit").starts_with("\"api\";r=9999;t="), "{}", r.header("ratelimit"));
    assert_eq!(r.header("ratelimit-policy"), "\"fixed window\";\"api\";q=10000;w=300");

    hub.inject(Fault::RateLimit { path: "revision/main".into(), reset: 2 });
    let r = get(&url);
    // The window opened before this answer left.
    let reset = std::time::Instant::now() + std::time::Duration::from_secs(2);
    assert_eq!((r.status, r.header("ratelimit"), r.header("retry-after")), (429, "\"api\";r=0;t=2", ""));
    assert_eq!(r.header("ratelimit-policy"), "");
    // Every request to the Hub host, until the window resets.
    assert_eq!(get(&format!("{}/acme/tiny-bert/resolve/main/config.json", hub.endpoint())).status, 429);
    std::thread::sleep(reset.saturating_duration_since(std::time::Instant::now()));
    assert_eq!(get(&url).status, 200);
}

#[test]
fn renamed_repos_redirect_to_their_new_id() {
    for mode in [Mode::Plain, Mode::Real] {
        let hub = Hub::start_in(mode, fixtures::all());
        for (old, new) in [
            ("/api/models/gpt2/revision/main", "/api/models/openai-community/gpt2/revision/main"),
            ("/api/models/gpt2/tree/main?recursive=true", "/api/models/openai-community/gpt2/tree/main?recursive=true"),
            ("/gpt2/resolve/main/config.json", "/openai-community/gpt2/resolve/main/config.json"),
            ("/api/datasets/squad/revision/main", "/api/datasets/rajpurkar/squad/revision/main"),
            ("/datasets/squad/resolve/main/README.md", "/datasets/rajpurkar/squad/resolve/main/README.md"),
            ("/acme/bert-tiny/resolve/main/with%20space.txt", "/acme/tiny-bert/resolve/main/with%20space.txt"),
        ] {
            let r = get(&format!("{}{old}", hub.endpoint()));
            assert_eq!((r.status, r.header("location")), (307, new), "{mode:?} {old}");
        }
        let info = send(&follow(), "GET", &format!("{}/api/models/gpt2/revision/main", hub.endpoint()), &[]);
        assert_eq!(info.json()["id"], "openai-community/gpt2");
        // A legacy id only names its own repo.
        assert_eq!(get(&format!("{}/api/models/gpt2-large/revision/main", hub.endpoint())).status, 404);
    }
}

#[test]
fn real_hub_tells_a_bad_token_from_a_missing_access() {
    let hub = Hub::start_in(Mode::Real, fixtures::all());
    let gated = format!("{}/api/models/acme/gated/revision/main", hub.endpoint());
    let public = format!("{}/api/models/acme/tiny-bert/revision/main", hub.endpoint());
    let with = |url: &str, token: &str| send(&raw(), "GET", url, &[("Authorization", &format!("Bearer {token}"))]);
    let r = get(&gated);
    assert_eq!((r.status, r.header("x-error-code")), (401, "GatedRepo"));
    assert!(r.header("x-error-message").contains("model acme/gated is restricted"), "{}", r.header("x-error-message"));
    let r = with(&gated, hub::OTHER_USER_TOKEN);
    assert_eq!((r.status, r.header("x-error-code")), (403, "GatedRepo"));
    assert!(r.header("x-error-message").contains("ask for access"), "{}", r.header("x-error-message"));
    assert_eq!(with(&gated, "hf_testtoken").status, 200);
    for url in [&gated, &public] {
        let r = with(url, "hf_invalid");
        assert_eq!((r.status, r.header("x-error-message")), (401, "Invalid credentials in Authorization header"));
    }
    assert_eq!(with(&public, hub::OTHER_USER_TOKEN).status, 200);
}
