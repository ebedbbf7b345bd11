//! A persist directory shared with a team: served by a static web server on loopback, it is a
//! substituter that a second, empty Nix store builds the printed `fetchModel` expression and a
//! `fromLock` entry from, with the Hub stopped, signatures required and no key for the server; and
//! `nix-hug import --from URL` reads its manifest and copies from it.

mod hub;
mod support;

use hub::files::Files;
use hub::{Hub, fixtures};
use nix_hug::download::Options;
use nix_hug::hub::Hub as Client;
use nix_hug::lock::{Asked, Globs, Lock};
use nix_hug::pipeline;
use nix_hug::repo::{Repo, RepoType};
use std::path::{Path, PathBuf};
use support::{SANDBOX, nix, static_package, stdout_ok};

/// HOME, TMPDIR and the persist directory of a teammate who exports, in a fresh temporary folder.
struct Env {
    root: tempfile::TempDir,
    endpoint: String,
}

impl Env {
    fn new(hub: &Hub) -> Env {
        let root = tempfile::tempdir().unwrap();
        for dir in ["home", "tmp"] {
            std::fs::create_dir(root.path().join(dir)).unwrap();
        }
        Env { root, endpoint: hub.endpoint() }
    }

    fn persist(&self) -> PathBuf {
        self.root.path().join("persist")
    }

    /// `nix-hug args…` with Nix on PATH and a local store; stdout on success.
    fn nix_hug(&self, args: &[&str]) -> String {
        let dir = self.root.path();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut cmd = support::scrubbed(
            env!("CARGO_BIN_EXE_nix-hug"),
            &self.endpoint,
            &dir.join("home"),
            &dir.join("tmp"),
            Some(&path),
        );
        cmd.args(args).env("NIX_REMOTE", "local").env("NIX_HUG_PERSIST_DIR", self.persist()).env("HF_TOKEN", TOKEN);
        stdout_ok(&mut cmd)
    }

    /// The store path of the only export.
    fn exported(&self) -> String {
        let exports: serde_json::Value = serde_json::from_str(&self.nix_hug(&["store", "ls", "--json"])).unwrap();
        exports[0]["storePath"].as_str().unwrap().to_owned()
    }
}

/// A token in the environment, which nothing may send to a persist directory's server.
const TOKEN: &str = "hf_testtoken";

/// `nix-build` into the empty store at `store` (a chroot store: its files under `store/nix/store`),
/// with the served directory at `url` as its only substituter, signatures required and no key trusted.
fn build_in(store: &Path, url: &str, file: &Path, attr: &str) -> Result<(String, String), String> {
    let out = support::run(
        nix("nix-build")
            .args(SANDBOX)
            .arg("--store")
            .arg(format!("local?root={}", store.display()))
            .args(["--option", "substituters", url, "--option", "require-sigs", "true"])
            .args(["--option", "trusted-public-keys", "", "--no-out-link", "-A", attr])
            .arg(file)
            // Nix remembers what a substituter lacked in ~/.cache; this store's cache is its own.
            .env("XDG_CACHE_HOME", store.with_extension("cache")),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.success() {
        true => Ok((String::from_utf8(out.stdout).unwrap().trim().to_owned(), stderr)),
        false => Err(stderr),
    }
}

/// The `.narinfo` of a store path, as a binary cache names it.
fn narinfo_name(store_path: &str) -> String {
    format!("/{}.narinfo", &store_path.strip_prefix("/nix/store/").unwrap()[..32])
}

/// The NAR a narinfo of the persist directory names.
fn nar_name(persist: &Path, store_path: &str) -> String {
    let info = std::fs::read_to_string(persist.join(&narinfo_name(store_path)[1..])).unwrap();
    format!("/{}", info.lines().find_map(|l| l.strip_prefix("URL: ")).unwrap())
}

/// What a teammate's Nix does with the served persist directory: the fetch output and the blobs and
/// small files of a lock entry, all fixed-output, come from it, checked by their hash, with no key; the
/// entry's folder of links, an ordinary derivation that allows no substitutes, is built locally from
/// those.
#[test]
#[ignore = "needs nix"]
fn a_served_persist_directory_substitutes_without_keys() {
    let bert = fixtures::tiny_bert();
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    let files = ["--file", "config.json", "--file", "vocab.txt", "--file", "model.safetensors"];
    let expression = env.nix_hug(&[&["export", "acme/tiny-bert"][..], &files].concat());
    let output = env.exported();
    let expression_file = support::expression_file(env.root.path(), &expression);

    // A lock entry, built in this store, and copied into the persist directory with its closure.
    let client = Client::new(&hub.endpoint(), None).unwrap();
    let globs = Globs { include: vec!["*.safetensors".into()], ..Globs::default() };
    let repo = Repo::from_id(RepoType::Model, &bert.id).unwrap();
    let plan = pipeline::plan(&client, &repo, &bert.commits[1].sha, &globs.filters().unwrap()).unwrap();
    let asked = Asked { ref_name: Some("main".into()), filters: globs, endpoint: Some(hub.endpoint()) };
    let small = tempfile::tempdir().unwrap();
    let entry =
        nix_hug::lock::Entry::of_plan(&client, &plan, asked, None, small.path(), Options::default(), &|_| {}).unwrap();
    let blob = format!("hf-blob-{}", entry.files["model.safetensors"].sha256.as_deref().unwrap());
    let lock_file = env.root.path().join(nix_hug::lock::FILE_NAME);
    Lock { repos: [("bert".to_owned(), entry)].into() }.write(&lock_file).unwrap();
    let hf_nix = env.root.path().join("hf.nix");
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("lib");
    let nix_hug = format!("builtins.path {{ path = {}; name = \"nix-hug-static\"; }}", static_package().display());
    let lock_expression =
        format!("(import {} {{ nix-hug = {nix_hug}; }}).fromLock {}", lib.display(), lock_file.display());
    std::fs::write(&hf_nix, lock_expression).unwrap();
    let linked = support::nix_build(&hf_nix, "bert").unwrap_or_else(|e| panic!("building the lock entry:\n{e}"));
    let closure = stdout_ok(nix("nix-store").args(["--query", "--requisites", &linked]));
    let parts: Vec<&str> = closure.lines().filter(|p| *p != linked).collect();
    assert!(parts.iter().any(|p| p.ends_with(&blob)), "{closure}");
    assert!(parts.iter().any(|p| p.ends_with("-small-files")), "{closure}");
    let cache = format!("file://{}?compression=none", env.persist().display());
    stdout_ok(nix("nix").args(["--extra-experimental-features", "nix-command", "copy", "--to", &cache, &linked]));
    for path in &parts {
        let info = std::fs::read_to_string(env.persist().join(&narinfo_name(path)[1..])).unwrap();
        assert!(info.contains("\nCA: fixed:"), "a fixed-output path is content-addressed:\n{info}");
    }
    let info = std::fs::read_to_string(env.persist().join(&narinfo_name(&linked)[1..])).unwrap();
    assert!(!info.contains("\nCA: ") && !info.contains("\nSig: "), "the links are input-addressed, unsigned:\n{info}");

    let api = hub.endpoint().strip_prefix("http://").unwrap().to_owned();
    drop(hub);
    assert!(std::net::TcpStream::connect(&api).is_err(), "the Hub is stopped");
    let server = Files::serve(&env.persist());
    // Not under TMPDIR: current Nix refuses to build in a store below a world-writable folder.
    let teammate = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let store = teammate.path().join("store");

    let (built, _) = build_in(&store, &server.url(), &expression_file, "")
        .unwrap_or_else(|e| panic!("building {expression} from {}:\n{e}", server.url()));
    assert_eq!(built, output);
    assert!(store.join(&output[1..]).join("models--acme--tiny-bert").is_dir());
    let served = server.served();
    assert!(served.contains(&"/nix-cache-info".to_owned()), "{served:?}");
    for name in [narinfo_name(&output), nar_name(&env.persist(), &output)] {
        assert!(served.contains(&name), "{name} not in {served:?}");
    }

    let (built, stderr) =
        build_in(&store, &server.url(), &hf_nix, "bert").unwrap_or_else(|e| panic!("building the lock entry:\n{e}"));
    assert_eq!(built, linked, "the same input-addressed path");
    let served = server.served();
    for path in &parts {
        for name in [narinfo_name(path), nar_name(&env.persist(), path)] {
            assert!(served.contains(&name), "{name} of {path} not in {served:?}");
        }
    }
    // `allowSubstitutes = false`: Nix does not even ask; and an unsigned path that is not
    // content-addressed would be refused under `require-sigs`.
    let asked: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert!(!asked.contains(&narinfo_name(&linked)), "the links are not asked for: {asked:?}");
    assert!(stderr.contains("building '") && stderr.contains("-hf-model-acme-tiny-bert-"), "{stderr}");
    assert!(store.join(&linked[1..]).join("models--acme--tiny-bert").is_dir());
    assert!(server.requests().iter().all(|r| r.authorization.is_none()));

    // The `CA` field is what lets it in: without it, the same narinfo is refused for want of a signature.
    let narinfo = env.persist().join(&narinfo_name(&output)[1..]);
    let text = std::fs::read_to_string(&narinfo).unwrap();
    std::fs::write(
        &narinfo,
        text.lines().filter(|l| !l.starts_with("CA: ")).map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    let out = support::run(
        nix("nix-store")
            .arg("--store")
            .arg(format!("local?root={}", teammate.path().join("without-ca").display()))
            .args(["--option", "substituters", &server.url(), "--option", "require-sigs", "true"])
            .args(["--option", "trusted-public-keys", "", "--realise", &output])
            .env("XDG_CACHE_HOME", teammate.path().join("without-ca.cache")),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("not signed by any of the keys"), "{stderr}");
}

/// `import --from URL` reads the manifest of a served persist directory and copies its exports into the
/// store; the token never goes there.
#[test]
#[ignore = "needs nix"]
fn import_from_a_served_persist_directory() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    env.nix_hug(&["export", "acme/tiny-bert", "--file", "config.json", "--file", "README.md"]);
    let output = env.exported();
    drop(hub);
    let server = Files::serve(&env.persist());
    let valid = |path: &str| support::run(nix("nix-store").args(["--check-validity", path])).status.success();

    for args in [&["--all"][..], &["acme/tiny-bert"]] {
        support::forget(&output);
        assert!(!valid(&output));
        let imported = env.nix_hug(&[&["import", "--from", &server.url()][..], args].concat());
        assert_eq!(imported, output);
        assert!(valid(&output));
    }
    let served = server.served();
    assert!(served.contains(&"/nix-hug-manifest.json".to_owned()), "{served:?}");
    assert!(served.contains(&nar_name(&env.persist(), &output)), "{served:?}");
    assert!(server.requests().iter().all(|r| r.authorization.is_none()), "no token to the server");
}

/// What `import --from` refuses, each with one line and before Nix is needed: a manifest that is not
/// one, of another version, or not there; and the token is never sent.
#[test]
fn import_from_refuses_what_is_no_persist_directory() {
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("served");
    std::fs::create_dir(&served).unwrap();
    let server = Files::serve(&served);
    let manifest = served.join(nix_hug::persist::MANIFEST);
    let cases = [
        (Some("{ not json"), "/nix-hug-manifest.json: corrupt: key must be a string at line 1 column 3"),
        (Some(r#"{"version": 2, "entries": []}"#), "/nix-hug-manifest.json: unknown version 2"),
        (None, "/nix-hug-manifest.json: not found (404): no persist directory is served there"),
    ];
    for (content, want) in cases {
        match content {
            Some(text) => std::fs::write(&manifest, text).unwrap(),
            None => std::fs::remove_file(&manifest).unwrap(),
        }
        let out = support::nix_hug_without_nix("http://127.0.0.1:1", dir.path())
            .args(["import", "--from", &format!("{}/", server.url()), "--all"])
            .env("HF_TOKEN", TOKEN)
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with(&format!("nix-hug: error: {}{want}", server.url())), "{stderr}");
    }
    assert_eq!(server.requests().len(), 3);
    assert!(server.requests().iter().all(|r| r.authorization.is_none()), "no token to the server");
}
