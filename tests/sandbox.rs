//! End to end in the real Nix sandbox: `fetchModel`, `fetchDataset`, `fetchSpace` and `buildCache` from
//! `lib/` built by Nix with the static nix-hug as builder against the loopback Hub, then the result loaded
//! offline by `huggingface_hub`, `transformers` and `datasets` (`tests/python/check_cache.py`), and by
//! every client version of `tests/python/clients/` on a read-only store.

mod hub;
mod python;
mod support;

use hub::{Fault, Hub, Redirect, fixtures};
use nix_hug::download::Options;
use nix_hug::filter::Filters;
use nix_hug::hub::Hub as Client;
use nix_hug::layout::{self, Merge};
use nix_hug::repo::{Repo, RepoType};
use nix_hug::{nar, pipeline};
use std::path::{Path, PathBuf};
use support::{nix, nix_build, nix_str, static_package, stdout_ok};

struct Fetch {
    attr: &'static str,
    function: &'static str,
    fixture: hub::Repo,
    commit: String,
    filters: Filters,
    /// Computed outside the sandbox by the same pipeline, in `_dir`.
    local: PathBuf,
    _dir: tempfile::TempDir,
    hash: String,
}

fn fetch_locally(hub: &Hub, attr: &'static str, fixture: hub::Repo, commit: usize, filters: Filters) -> Fetch {
    let repo = Repo::from_id(RepoType::parse(fixture.kind.singular()).unwrap(), &fixture.id).unwrap();
    let commit = fixture.commits[commit].sha.clone();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join(repo.store_name(&commit));
    let client = Client::new(&hub.endpoint(), None).unwrap();
    let plan = pipeline::plan(&client, &repo, &commit, &filters).unwrap();
    pipeline::fetch(&client, &plan, pipeline::Sink::Dir(&local), Options::default(), &|_| {}).unwrap();
    let hash = nar::sri(&nar::nar_sha256(&local).unwrap());
    let function = match repo.kind {
        RepoType::Model => "fetchModel",
        RepoType::Dataset => "fetchDataset",
        RepoType::Space => "fetchSpace",
    };
    Fetch { attr, function, fixture, commit, filters, local, _dir: dir, hash }
}

fn nix_list(items: &[String]) -> String {
    format!("[ {} ]", items.iter().map(|s| nix_str(s)).collect::<Vec<_>>().join(" "))
}

fn expression(hub: &Hub, fetches: &[Fetch], extra: &str) -> String {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("lib");
    let mut nix = format!(
        "let\n  lib = import {} {{ nix-hug = builtins.path {{ path = {}; name = \"nix-hug-static\"; }}; }};\nin rec {{\n",
        lib.display(),
        static_package().display()
    );
    for f in fetches {
        let mut filters = String::new();
        for (key, list) in
            [("include", &f.filters.include), ("exclude", &f.filters.exclude), ("files", &f.filters.files)]
        {
            if !list.is_empty() {
                filters += &format!("{key} = {}; ", nix_list(list));
            }
        }
        let filters = if filters.is_empty() { String::new() } else { format!("filters = {{ {filters}}}; ") };
        nix += &format!(
            "  {} = lib.{} {{ url = {}; rev = \"{}\"; {filters}fileTreeHash = \"{}\"; endpoint = {}; }};\n",
            f.attr,
            f.function,
            nix_str(&f.fixture.id),
            f.commit,
            f.hash,
            nix_str(&hub.endpoint())
        );
    }
    nix + extra + "}\n"
}

/// The `EXPECT.json` of check_cache.py for these fetches merged into one cache.
fn expectations(fetches: &[&Fetch]) -> serde_json::Value {
    let mut repos: Vec<serde_json::Value> = Vec::new();
    for f in fetches {
        let commit = f.fixture.commits.iter().find(|c| c.sha == f.commit).unwrap();
        let selector = f.filters.compile().unwrap();
        let mut files: serde_json::Map<String, serde_json::Value> = repos
            .iter()
            .find(|r| r["repo_id"] == f.fixture.id.as_str() && r["revision"] == f.commit.as_str())
            .map(|r| r["files"].as_object().unwrap().clone())
            .unwrap_or_default();
        for file in commit.files.iter().filter(|file| selector.takes(&file.path, file.lfs)) {
            files.insert(file.path.clone(), hub::sha256_hex(&file.content.read()).into());
        }
        let first = !repos.iter().any(|r| r["repo_id"] == f.fixture.id.as_str());
        repos.retain(|r| !(r["repo_id"] == f.fixture.id.as_str() && r["revision"] == f.commit.as_str()));
        let load = match f.fixture.kind {
            hub::Kind::Model if first => Some("transformers"),
            hub::Kind::Dataset => Some("datasets"),
            _ => None,
        };
        repos.push(serde_json::json!({
            "repo_id": f.fixture.id, "repo_type": f.fixture.kind.singular(), "revision": f.commit, "files": files,
            "load": load,
            "rows": {"train": 4}, "main": first,
        }));
    }
    serde_json::json!({ "repos": repos })
}

/// A sandbox that silently failed to start would build with the host's file system in view: a
/// derivation that looks for it fails unless the sandbox is really on.
#[test]
#[ignore = "needs nix"]
fn builds_really_run_in_the_sandbox() {
    let busybox = std::env::var("NIX_HUG_TEST_BUSYBOX")
        .expect("NIX_HUG_TEST_BUSYBOX must name a static busybox (scripts/setup provides one)");
    let dir = tempfile::tempdir().unwrap();
    // Named `busybox`, so that it takes its first argument as the applet to run.
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    std::fs::copy(&busybox, dir.path().join("bin/busybox")).unwrap();
    let file = dir.path().join("probe.nix");
    let project = env!("CARGO_MANIFEST_DIR");
    let script = format!(
        "for p in /usr /etc/passwd- {project}; do if [ -e $p ]; then echo \"$p is visible\"; exit 1; fi; done; \
         [ \"$(busybox id -u)\" = 1000 ] || exit 1; busybox touch $out"
    );
    let expression = format!(
        "derivation {{ name = \"sandbox-probe-{}\"; system = builtins.currentSystem; \
         builder = \"${{builtins.path {{ path = {}; name = \"busybox\"; }}}}/busybox\"; args = [ \"sh\" \"-c\" {} ]; }}",
        std::process::id(),
        dir.path().join("bin").display(),
        nix_str(&script)
    );
    std::fs::write(&file, expression).unwrap();
    let path = nix_build(&file, "").unwrap_or_else(|e| panic!("the sandbox probe failed:\n{e}"));
    support::forget(&path);
}

#[test]
#[ignore = "needs nix"]
fn fetch_and_cache_build_in_the_sandbox_and_load_offline() {
    let hub = Hub::start(fixtures::all());
    let safetensors_only = Filters { include: vec![r".*\.safetensors".into()], ..Default::default() };
    let fetches = [
        fetch_locally(&hub, "model", fixtures::tiny_bert(), 1, Filters::default()),
        fetch_locally(&hub, "modelV1", fixtures::tiny_bert(), 0, safetensors_only),
        fetch_locally(&hub, "dataset", fixtures::tiny_dataset(), 0, Filters::default()),
        fetch_locally(&hub, "space", fixtures::tiny_space(), 0, Filters::default()),
    ];
    // The linked cache takes everything; the copy the models and the dataset, as it has since before spaces.
    let (cached, space) = fetches.split_at(3);

    // buildCache with a hash is a self-contained copy: its hash comes from the same merge, done here.
    let merging = tempfile::tempdir().unwrap();
    let merged = merging.path().join("hf-hub-cache");
    let locals: Vec<PathBuf> = cached.iter().map(|f| f.local.clone()).collect();
    layout::merge(&locals, &merged, Merge::Copy).unwrap();
    let merged_hash = nar::sri(&nar::nar_sha256(&merged).unwrap());
    let extra = format!(
        "  cache = lib.buildCache {{ models = [ model modelV1 ]; datasets = [ dataset ]; spaces = [ space ]; }};\n  \
         cacheCopy = lib.buildCache {{ models = [ model modelV1 ]; datasets = [ dataset ]; hash = \"{merged_hash}\"; }};\n  \
         wrong = lib.fetchModel {{ url = \"acme/tiny-bert\"; rev = \"{}\"; fileTreeHash = \"{}\"; endpoint = {}; }};\n",
        fetches[0].commit,
        nar::sri(&[0; 32]),
        nix_str(&hub.endpoint())
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hug.nix");
    std::fs::write(&file, expression(&hub, &fetches, &extra)).unwrap();

    for f in &fetches {
        let name = f.local.file_name().unwrap().to_str().unwrap();
        let expected = nar::fixed_output_path(&nar::parse_hash(&f.hash).unwrap(), name).unwrap();
        support::forget(&expected);
        hub.clear_requests();
        let path = nix_build(&file, f.attr).unwrap_or_else(|e| panic!("building {}:\n{e}", f.attr));
        support::record(f.attr, &path);
        assert_eq!(path, expected);
        let nix_hash = stdout_ok(nix("nix-hash").args(["--type", "sha256", &path]));
        assert_eq!(
            nar::parse_hash(&nix_hash).unwrap(),
            nar::parse_hash(&f.hash).unwrap(),
            "{}: nix-hash agrees",
            f.attr
        );
        let requests = hub.requests();
        assert!(
            requests.iter().any(|r| r.target.contains("/resolve/")),
            "{}: built by downloading in the sandbox",
            f.attr
        );
    }

    let err = nix_build(&file, "wrong").expect_err("a wrong fileTreeHash must fail");
    assert!(err.contains("hash mismatch in fixed-output derivation"), "{err}");
    assert!(err.contains(&format!("got:    {}", fetches[0].hash)), "Nix names the right hash:\n{err}");

    let expect = expectations(&cached.iter().collect::<Vec<_>>());
    let expect_all = expectations(&fetches.iter().collect::<Vec<_>>());
    let cache = nix_build(&file, "cache").unwrap();
    support::record("cache", &cache);
    let target = std::fs::read_link(
        Path::new(&cache).join("models--acme--tiny-bert/snapshots").join(&fetches[0].commit).join("config.json"),
    )
    .unwrap();
    assert!(target.starts_with("/nix/store/"), "buildCache without hash links into the fetch outputs: {target:?}");
    assert_eq!(
        std::fs::read_to_string(Path::new(&cache).join("models--acme--tiny-bert/refs/main")).unwrap(),
        fetches[0].commit
    );
    let model = nix_build(&file, "model").unwrap();
    let space_path = nix_build(&file, "space").unwrap();
    for (attr, path) in [("cache", &cache), ("model", &model), ("space", &space_path)] {
        let want = serde_json::json!({ "HF_HUB_CACHE": path, "HF_HUB_OFFLINE": "1" });
        assert_eq!(support::env_of(&file, attr), want, "{attr}.env");
    }
    // What a consumer is given, and all it needs.
    python::check_cache_in(&support::env_of(&file, "cache"), &expect_all);
    let space_expect = expectations(&[&space[0]]);
    assert!(Path::new(&space_path).join("spaces--acme--tiny-space/refs/main").is_file(), "{space_path}");
    python::check_cache_in(&support::env_of(&file, "space"), &space_expect);
    python::check_with_clients(&[
        ("buildCache", &cache, &expect_all),
        ("fetchModel", &model, &expectations(&[&fetches[0]])),
        ("fetchSpace", &space_path, &space_expect),
    ]);

    let copy = nix_build(&file, "cacheCopy").unwrap_or_else(|e| panic!("building cacheCopy:\n{e}"));
    support::record("cacheCopy", &copy);
    assert_eq!(copy, nar::fixed_output_path(&nar::parse_hash(&merged_hash).unwrap(), "hf-hub-cache").unwrap());
    python::check_cache(&copy, &expect);
}

/// Download faults in the sandbox: a redirect loop, and a file served with another size than the
/// listing's. The build fails, the one error line of the builder names the file and the fault, and no
/// output is left in the store; with the fault gone, the same expression builds.
#[test]
#[ignore = "needs nix"]
fn download_faults_fail_the_build_with_one_line() {
    let sha = hub::fake_sha("faulty-build-1");
    let fixture = hub::Repo {
        kind: hub::Kind::Model,
        id: "acme/faulty-build".into(),
        commits: vec![hub::Commit {
            sha: sha.clone(),
            files: vec![
                hub::File::new("config.json", "{\"note\": \"built in the sandbox, with faults\"}\n"),
                hub::File::lfs("weights.bin", vec![42u8; 3000]),
            ],
        }],
        refs: vec![("main".into(), sha)],
        token: None,
        old_ids: Vec::new(),
    };
    let hub = Hub::start(vec![fixture.clone()]);
    let fetch = fetch_locally(&hub, "model", fixture, 0, Filters::default());
    let name = fetch.local.file_name().unwrap().to_str().unwrap().to_owned();
    let expected = nar::fixed_output_path(&nar::parse_hash(&fetch.hash).unwrap(), &name).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faulty.nix");
    std::fs::write(&file, expression(&hub, &[fetch], "")).unwrap();

    let redirect = Fault::Redirect { path: "weights.bin".into(), to: Redirect::OtherHost };
    let resized = Fault::ResizedAlways { path: "weights.bin".into(), by: 100 };
    let cases = [
        (redirect, vec!["weights.bin: ", "/weights.bin redirects back to ", ": a redirect loop"]),
        (resized, vec!["weights.bin: corrupt download: expected 3000 bytes, as listed, but the server sends 3100"]),
    ];
    for (fault, words) in cases {
        support::forget(&expected);
        hub.clear_faults();
        hub.inject(fault.clone());
        let log = nix_build(&file, "model").expect_err("a download fault must fail the build");
        let mut errors: Vec<&str> =
            log.lines().filter_map(|l| l.split_once("nix-hug: error: ").map(|(_, e)| e)).collect();
        // Nix may repeat the end of the log after the build failed.
        errors.dedup();
        assert_eq!(errors.len(), 1, "{fault:?}: one error line:\n{log}");
        for w in words {
            assert!(errors[0].contains(w), "{fault:?}: {:?} should contain {w:?}", errors[0]);
        }
        assert!(log.contains("failed with exit code 1"), "{log}");
        assert!(!support::run(nix("nix-store").args(["--check-validity", &expected])).status.success(), "{expected}");
        assert!(!Path::new(&expected).exists(), "{expected}");
    }
    hub.clear_faults();
    assert_eq!(nix_build(&file, "model").unwrap_or_else(|e| panic!("{e}")), expected);
}

/// `nix-hug fetch acme/tiny-gguf:Q4_K_M`, as a user runs it with Nix, then the printed expression built
/// again in the sandbox: its `gguf` is the first shard of the split quant, next to the others, and its
/// `mmproj` the F16 projector, each read back by llama.cpp's own gguf package. The fixtures read are the
/// bytes `tests/python/make_gguf.py` writes.
#[test]
#[ignore = "needs nix"]
fn a_quant_builds_with_its_gguf_and_mmproj() {
    let python = std::env::var("NIX_HUG_TEST_PYTHON")
        .expect("NIX_HUG_TEST_PYTHON must name a Python with tests/python/requirements.txt installed (see README.md)");
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    let written = tempfile::tempdir().unwrap();
    stdout_ok(std::process::Command::new(&python).arg(project.join("tests/python/make_gguf.py")).arg(written.path()));
    let fixtures = project.join("tests/hub/fixtures/gguf");
    for entry in walkdir::WalkDir::new(&fixtures).into_iter().map(Result::unwrap).filter(|e| e.file_type().is_file()) {
        let rel = entry.path().strip_prefix(&fixtures).unwrap();
        let again = std::fs::read(written.path().join(rel)).unwrap_or_default();
        assert!(std::fs::read(entry.path()).unwrap() == again, "{}: not what make_gguf.py writes", rel.display());
    }

    let hub = Hub::start(vec![fixtures::tiny_gguf()]);
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut fetch =
        support::scrubbed(env!("CARGO_BIN_EXE_nix-hug"), &hub.endpoint(), dir.path(), dir.path(), Some(&path));
    let out = support::run(fetch.env("NIX_REMOTE", "local").args(["fetch", "acme/tiny-gguf:Q4_K_M"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "nix-hug fetch failed:\n{stderr}");
    let reported =
        support::reported_path(&stderr).unwrap_or_else(|| panic!("no store path reported:\n{stderr}")).to_owned();
    let expression = String::from_utf8(out.stdout).unwrap();

    support::forget(&reported);
    hub.clear_requests();
    let file = support::expression_file(dir.path(), &expression);
    // The builder reads the endpoint from the environment of the build (`impureEnvVars`).
    let mut build = support::nix_build_command();
    let built = support::built(build.env("HF_ENDPOINT", hub.endpoint()).arg(&file))
        .unwrap_or_else(|e| panic!("building the printed expression:\n{e}"));
    support::record("gguf", &built);
    assert_eq!(built, reported, "the expression builds the output nix-hug fetch added");
    assert!(hub.requests().iter().any(|r| r.target.contains("/resolve/")), "built by downloading in the sandbox");

    let attrs = dir.path().join("attrs.nix");
    std::fs::write(&attrs, format!("let m = import {}; in {{ inherit (m) gguf mmproj snapshot; }}", file.display()))
        .unwrap();
    let eval = stdout_ok(nix("nix-instantiate").args(["--eval", "--strict", "--json"]).arg(&attrs));
    let attrs: serde_json::Value = serde_json::from_str(&eval).unwrap();
    let snapshot = attrs["snapshot"].as_str().unwrap();
    let shard = |i| format!("{snapshot}/Q4_K_M/tiny-Q4_K_M-0000{i}-of-00003.gguf");
    assert_eq!(attrs["gguf"], shard(1).as_str());
    assert_eq!(attrs["mmproj"], format!("{snapshot}/mmproj-F16.gguf").as_str());

    // general.file_type 15 is LlamaFileType.MOSTLY_Q4_K_M, 1 MOSTLY_F16; shards count from 0.
    let model = serde_json::json!({ "general.file_type": 15, "split.no": 0, "split.count": 3 });
    let expect = serde_json::json!({
        shard(1): model,
        shard(2): { "split.no": 1, "split.count": 3 },
        shard(3): { "split.no": 2, "split.count": 3 },
        attrs["mmproj"].as_str().unwrap(): { "general.type": "mmproj", "general.file_type": 1 },
    });
    let expect_file = dir.path().join("expect.json");
    std::fs::write(&expect_file, serde_json::to_vec_pretty(&expect).unwrap()).unwrap();
    let checked = stdout_ok(
        std::process::Command::new(&python).arg(project.join("tests/python/check_gguf.py")).arg(&expect_file),
    );
    assert_eq!(checked, "ok: 4 files read");
}
