//! The `nix-hug` binary against the loopback Hub, with a scrubbed environment: what it prints on
//! stdout and stderr, and its exit codes. Without Nix on PATH unless the test says otherwise.

mod hub;
mod support;

use hub::tls::HttpsHub;
use hub::{Fault, Hub, Mode, fixtures};
use nix_hug::download::Options;
use nix_hug::filter::Filters;
use nix_hug::repo::{Repo, RepoType};
use nix_hug::{nar, pipeline};
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use walkdir::WalkDir;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A scrubbed environment: the Hub as endpoint, HOME, HF_HOME and TMPDIR in a temp dir, no token,
/// and a PATH without Nix (an empty folder) unless `with_path` gives one.
struct Env {
    root: tempfile::TempDir,
    endpoint: String,
    path: Option<OsString>,
    vars: Vec<(&'static str, String)>,
}

impl Env {
    fn new(hub: &Hub) -> Env {
        let root = tempfile::tempdir().unwrap();
        for dir in ["home", "tmp"] {
            std::fs::create_dir(root.path().join(dir)).unwrap();
        }
        Env { root, endpoint: hub.endpoint(), path: None, vars: Vec::new() }
    }

    fn with_path(mut self, path: OsString) -> Env {
        self.path = Some(path);
        self
    }

    fn var(mut self, name: &'static str, value: &str) -> Env {
        self.vars.push((name, value.to_owned()));
        self
    }

    fn tmp(&self) -> PathBuf {
        self.root.path().join("tmp")
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = self.command(env!("CARGO_BIN_EXE_nix-hug")).args(args).output().expect("running nix-hug");
        Run {
            code: out.status.code().expect("nix-hug was killed"),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    /// `program` in the scrubbed environment.
    fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let home = self.root.path().join("home");
        let mut cmd = support::scrubbed(program, &self.endpoint, &home, &self.tmp(), self.path.as_deref());
        for (name, value) in &self.vars {
            cmd.env(name, value);
        }
        cmd
    }

    /// Nothing left behind in TMPDIR.
    fn assert_tmp_clean(&self) {
        let left: Vec<_> = std::fs::read_dir(self.tmp()).unwrap().map(|e| e.unwrap().path()).collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "stderr:\n{}\nstdout:\n{}", self.stderr, self.stdout);
        self
    }

    /// A failure with `code` and exactly one line on stderr, containing every one of `words`.
    fn fails(self, code: i32, words: &[&str]) -> Run {
        assert_eq!(self.code, code, "stderr:\n{}", self.stderr);
        assert_eq!(self.stdout, "", "nothing on stdout");
        assert_eq!(self.stderr.lines().count(), 1, "one line on stderr:\n{}", self.stderr);
        assert!(self.stderr.starts_with("nix-hug: error: "), "{}", self.stderr);
        for w in words {
            assert!(self.stderr.contains(w), "{:?} should contain {w:?}", self.stderr);
        }
        self
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// The expression as `nix-hug fetch` prints it; the hash is taken from the output and checked to be SRI.
fn expression(run: &Run, function: &str, url: &str, rev: &str, filters: Option<&str>) -> String {
    let hash = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("  fileTreeHash = \"")?.strip_suffix("\";"))
        .unwrap_or_else(|| panic!("no fileTreeHash in\n{}", run.stdout));
    assert_eq!(nar::sri(&nar::parse_hash(hash).unwrap()), hash);
    let filters = filters.map(|f| format!("  filters = {f};\n")).unwrap_or_default();
    format!(
        "nix-hug-lib.{function} {{\n  url = \"{url}\";\n  rev = \"{rev}\";\n{filters}  fileTreeHash = \"{hash}\";\n}}\n"
    )
}

fn main_commit() -> String {
    fixtures::tiny_bert().commits[1].sha.clone()
}

fn total_bytes(fixture: &hub::Repo, commit: usize, take: impl Fn(&hub::File) -> bool) -> (u64, u64) {
    let files = fixture.commits[commit].files.iter().filter(|f| take(f));
    files.fold((0, 0), |(n, bytes), f| (n + 1, bytes + f.content.read().len() as u64))
}

#[test]
fn fetches_a_model() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    let run = env.run(&["fetch", "acme/tiny-bert"]).ok();
    let commit = main_commit();
    assert_eq!(run.stdout, expression(&run, "fetchModel", "acme/tiny-bert", &commit, None));

    let (files, bytes) = total_bytes(&fixtures::tiny_bert(), 1, |_| true);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines[0], format!("nix-hug: resolved main to {commit} (model acme/tiny-bert)"));
    assert!(lines[1].starts_with(&format!("nix-hug: fetching {files} files, {bytes} bytes")), "{lines:?}");
    assert!(lines[2].starts_with("nix-hug: warning: could not add the output to the Nix store"), "{lines:?}");
    assert_eq!(lines.len(), 3, "{lines:?}");
    env.assert_tmp_clean();

    // The web URL form and hf: agree.
    let web = env.run(&["fetch", &format!("{}/acme/tiny-bert", "https://huggingface.co")]).ok();
    assert_eq!(web.stdout, run.stdout);
    assert_eq!(env.run(&["fetch", "hf:acme/tiny-bert"]).ok().stdout, run.stdout);
}

#[test]
fn pins_another_ref() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    let v1 = fixtures::tiny_bert().commits[0].sha.clone();
    let run = env.run(&["fetch", "acme/tiny-bert", "--ref", "v1.0"]).ok();
    assert_eq!(run.stdout, expression(&run, "fetchModel", "acme/tiny-bert", &v1, None));
    assert!(run.stderr.starts_with(&format!("nix-hug: resolved v1.0 to {v1} (model acme/tiny-bert)\n")));

    // /tree/REF in the URL, and refs/pr/1 (percent-encoded on the wire), give the same commit; --ref
    // naming another ref as well is refused, not silently preferred.
    let tree = env.run(&["fetch", "https://huggingface.co/acme/tiny-bert/tree/refs%2Fpr%2F1"]).ok();
    assert_eq!(tree.stdout, run.stdout);
    let both = env.run(&["fetch", "https://huggingface.co/acme/tiny-bert/tree/v1.0", "--ref", "v1.0"]).ok();
    assert_eq!(both.stdout, run.stdout);
    let url = "https://huggingface.co/acme/tiny-bert/tree/main";
    env.run(&["fetch", url, "--ref", "v1.0"]).fails(2, &["--ref v1.0 and the URL's ref main name two refs"]);

    env.run(&["fetch", "acme/tiny-bert", "--ref", "v9"]).fails(1, &["model acme/tiny-bert", "\"v9\""]);
}

#[test]
fn detects_a_dataset() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    let commit = fixtures::tiny_dataset().commits[0].sha.clone();
    let run = env.run(&["fetch", "acme/tiny-ds"]).ok();
    assert_eq!(run.stdout, expression(&run, "fetchDataset", "datasets/acme/tiny-ds", &commit, None));
    assert!(run.stderr.starts_with(&format!("nix-hug: resolved main to {commit} (dataset acme/tiny-ds)\n")));
    // The printed URL names the type, so it gives the same result without the lookup.
    assert_eq!(env.run(&["fetch", "datasets/acme/tiny-ds"]).ok().stdout, run.stdout);
}

#[test]
fn include_becomes_a_regex() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    let run = env.run(&["fetch", "acme/tiny-bert", "--include", "*.safetensors"]).ok();
    let filters = r#"{ include = [ ".*\\.safetensors" ]; }"#;
    assert_eq!(run.stdout, expression(&run, "fetchModel", "acme/tiny-bert", &main_commit(), Some(filters)));
    let (files, _) = total_bytes(&fixtures::tiny_bert(), 1, |f| !f.lfs || f.path.ends_with(".safetensors"));
    assert!(run.stderr.contains(&format!("nix-hug: fetching {files} files, ")), "{}", run.stderr);

    let all = env.run(&["fetch", "acme/tiny-bert"]).ok();
    assert_ne!(all.stdout.lines().nth_back(1), run.stdout.lines().nth_back(1), "another choice, another hash");

    let files = env.run(&["fetch", "acme/tiny-bert", "--file", "config.json", "--file", "with space.txt"]).ok();
    assert!(files.stdout.contains("  filters = { files = [ \"config.json\" \"with space.txt\" ]; };\n"));
    assert!(files.stderr.contains("nix-hug: fetching 2 files, "), "{}", files.stderr);
}

#[test]
fn json_output() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    let run = env.run(&["fetch", "acme/tiny-bert", "--exclude", "onnx/*", "--json"]).ok();
    let v = run.json();
    let (files, bytes) = total_bytes(&fixtures::tiny_bert(), 1, |f| !f.path.starts_with("onnx/"));
    assert_eq!(v["url"], "acme/tiny-bert");
    assert_eq!(v["type"], "model");
    assert_eq!(v["repoId"], "acme/tiny-bert");
    assert_eq!(v["rev"], main_commit());
    assert_eq!(v["filters"], serde_json::json!({ "exclude": ["onnx/.*"] }));
    assert_eq!(v["storePath"], serde_json::Value::Null);
    assert_eq!((v["files"].as_u64(), v["bytes"].as_u64()), (Some(files), Some(bytes)));

    // The same hash as the Nix expression of the same fetch.
    let nix = env.run(&["fetch", "acme/tiny-bert", "--exclude", "onnx/*"]).ok();
    let hash = v["fileTreeHash"].as_str().unwrap();
    assert!(nix.stdout.contains(&format!("  fileTreeHash = \"{hash}\";\n")), "{}", nix.stdout);

    let ds = env.run(&["fetch", "acme/tiny-ds", "--json"]).ok().json();
    assert_eq!((ds["url"].as_str(), ds["type"].as_str()), (Some("datasets/acme/tiny-ds"), Some("dataset")));
    assert_eq!(ds["filters"], serde_json::json!({}));
}

#[test]
fn refusals() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    env.run(&["fetch", "acme/nope"]).fails(1, &["neither a model nor a dataset acme/nope", "HF_TOKEN"]);
    env.run(&["fetch", "datasets/acme/nope"]).fails(1, &["dataset acme/nope not found"]);
    env.run(&["fetch", "acme/gated"]).fails(1, &["acme/gated is gated", "HF_TOKEN"]);
    let typo = env.run(&["fetch", "acme/tiny-bert", "--file", "nope.txt"]);
    assert_eq!(typo.code, 1, "a file the repo lacks is a failure, as a ref it lacks is: {}", typo.stderr);
    assert_eq!(
        typo.stderr.lines().last(),
        Some(format!("nix-hug: error: acme/tiny-bert@{}: no such file at this commit: nope.txt", &main_commit()[..7]))
            .as_deref()
    );

    env.run(&["fetch", "acme/tiny-bert", "--include", "[abc"]).fails(2, &["--include", "[abc"]);
    env.run(&["fetch", "acme/tiny-bert", "--bogus"]).fails(2, &["--bogus"]);
    env.run(&["fetch", "acme/tiny-bert", "--ref"]).fails(2, &["--ref needs a value"]);
    env.run(&["fetch", "acme/tiny-bert", "--file", "a", "--include", "*"]).fails(2, &["--file", "--include"]);
    env.run(&["fetch", "not a url"]).fails(2, &["invalid repository URL"]);
    env.run(&["fetch"]).fails(2, &["missing URL"]);
    env.run(&[]).fails(2, &["missing COMMAND"]);
    env.run(&["frobnicate"]).fails(2, &["unknown command"]);
    assert!(hub.requests().iter().all(|r| !r.target.contains("resolve")), "no download for a refusal");
    env.assert_tmp_clean();
}

#[test]
fn gated_repo_with_a_token() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub).var("HF_TOKEN", "hf_testtoken");
    let run = env.run(&["fetch", "acme/gated"]).ok();
    assert!(run.stdout.starts_with("nix-hug-lib.fetchModel {\n  url = \"acme/gated\";\n"), "{}", run.stdout);
    assert!(!run.stderr.contains("hf_testtoken") && !run.stdout.contains("hf_testtoken"));
}

#[test]
fn a_failed_download_leaves_nothing_behind() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    hub.inject(Fault::CorruptAlways { path: "model.safetensors".into() });
    let run = env.run(&["fetch", "acme/tiny-bert"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    let last = run.stderr.lines().last().unwrap();
    assert!(last.starts_with("nix-hug: error: ") && last.contains("model.safetensors"), "{}", run.stderr);
    env.assert_tmp_clean();
}

#[test]
fn without_nix_the_expression_is_still_printed() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    let run = env.run(&["--debug", "fetch", "acme/tiny-ds"]).ok();
    let commit = fixtures::tiny_dataset().commits[0].sha.clone();
    assert_eq!(run.stdout, expression(&run, "fetchDataset", "datasets/acme/tiny-ds", &commit, None));
    assert!(run.stderr.contains("nix-hug: debug: $ nix --version\n"), "{}", run.stderr);
    let hash = run.stdout.lines().find_map(|l| l.strip_prefix("  fileTreeHash = \"")?.strip_suffix("\";")).unwrap();
    let nar_line = format!("nix-hug: debug: nar sha256 of hf-dataset-acme-tiny-ds-{commit}: {hash}\n");
    assert!(run.stderr.contains(&nar_line), "{}", run.stderr);
    assert!(run.stderr.contains("nix-hug: debug: GET "), "each request is shown: {}", run.stderr);
    assert!(
        run.stderr.contains("nix-hug: warning: could not add the output to the Nix store: nix is not on PATH"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("nix-hug: added"));
    env.assert_tmp_clean();
}

#[test]
fn help_and_version() {
    let hub = Hub::start(Vec::new());
    let env = Env::new(&hub);
    for args in [&["--help"][..], &["-h"]] {
        let run = env.run(args).ok();
        assert!(run.stdout.starts_with("nix-hug: declarative"), "{}", run.stdout);
        assert!(run.stdout.contains("  fetch ") && run.stdout.contains("--debug"), "{}", run.stdout);
        assert!(!run.stdout.contains("__"), "hidden commands stay hidden");
        assert_eq!(run.stderr, "");
    }
    let main = env.run(&["--help"]).ok().stdout;
    assert!(main.contains("\n  fetch  ") && main.contains("\n  ls     "), "{main}");
    assert!(!main.contains("--generate KIND"), "hidden flags stay out of the table");
    assert!(main.contains("nix-hug --generate complete-bash > "), "the help says how to install completions");
    let run = env.run(&["fetch", "--help"]).ok();
    for flag in
        ["--ref REF", "--include GLOB", "--exclude GLOB", "--file PATH", "--jobs N", "--json", "--debug", "HF_TOKEN"]
    {
        assert!(run.stdout.contains(flag), "{flag} missing from\n{}", run.stdout);
    }
    assert!(run.stdout.contains("nix-hug fetch mistralai/Mistral-7B-Instruct-v0.3 --include '*.safetensors'"));
    let ls = env.run(&["ls", "--help"]).ok();
    for text in ["Usage: nix-hug ls URL", "--include GLOB", "--file PATH", "--json", "HF_ENDPOINT", "nix-hug ls "] {
        assert!(ls.stdout.contains(text), "{text} missing from\n{}", ls.stdout);
    }
    assert!(!ls.stdout.contains("--jobs"), "ls downloads nothing");
    assert_eq!(env.run(&["ls", "-h", "acme/tiny-bert"]).ok().stdout, ls.stdout);
    let bash = env.run(&["--generate", "complete-bash"]).ok().stdout;
    assert!(bash.contains("complete -F _nix_hug nix-hug"), "{bash}");
    for args in [&["--version"][..], &["-V"]] {
        assert_eq!(env.run(args).ok().stdout, format!("nix-hug {}\n", env!("CARGO_PKG_VERSION")));
    }
    assert!(hub.requests().is_empty());
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    // A pipe whose reader is already gone: every write to it fails with EPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_nix-hug")).arg("--help").stdout(writer).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn ls_lists_files_and_what_the_filters_take() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    let run = env.run(&["ls", "acme/tiny-bert", "--include", "*.safetensors"]).ok();
    let want = "\
+ README.md                   57 B
+ config.json                293 B
+ model.safetensors           96 B  LFS
+ nested/deeper/notes.txt     25 B
+ odd#name?x%.txt             31 B
- onnx/model.onnx          4.9 KiB  LFS
+ special_tokens_map.json    125 B
+ tokenizer_config.json       66 B
+ unicod\u{e9} \u{fc}n\u{ef}.txt             17 B
+ vocab.txt                  158 B
+ with space.txt              20 B
10 of 11 files taken, 888 B to download (5.8 KiB in all)
";
    assert_eq!(run.stdout, want);
    assert_eq!(run.stderr, format!("nix-hug: resolved main to {} (model acme/tiny-bert)\n", main_commit()));
    assert!(hub.requests().iter().all(|r| !r.target.contains("/resolve/")), "ls downloads nothing");
    env.assert_tmp_clean();

    let ds = env.run(&["ls", "acme/tiny-ds", "--json"]).ok().json();
    let commit = fixtures::tiny_dataset().commits[0].sha.clone();
    assert_eq!(
        (&ds["url"], &ds["type"], &ds["repoId"], &ds["rev"]),
        (&"datasets/acme/tiny-ds".into(), &"dataset".into(), &"acme/tiny-ds".into(), &commit.into())
    );
    assert_eq!(
        ds["files"][2],
        serde_json::json!({ "path": "data/train.parquet", "size": 630, "lfs": true, "taken": true })
    );
    assert_eq!(ds["taken"], ds["total"]);

    env.run(&["ls", "acme/nope"]).fails(1, &["neither a model nor a dataset acme/nope", "HF_TOKEN"]);
    env.run(&["ls", "acme/tiny-bert", "--ref", "v9"]).fails(1, &["model acme/tiny-bert", "\"v9\""]);
    env.run(&["ls", "acme/tiny-bert", "--jobs", "2"]).fails(2, &["ls does not accept --jobs"]);
    env.run(&["ls"]).fails(2, &["ls: missing URL"]);
}

/// The files `ls` marks as taken are exactly those `fetch` puts in its output, for the same flags.
#[test]
fn ls_announces_what_fetch_takes() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    let client = nix_hug::hub::Hub::new(&hub.endpoint(), None).unwrap();
    let cases: &[&[&str]] = &[
        &[],
        &["--include", "*.safetensors"],
        &["--exclude", "onnx/*"],
        &["--include", "*.onnx", "--exclude", "model.*"],
        &["--include", "*.onnx", "--exclude", "onnx/*"],
        &["--file", "config.json", "--file", "onnx/model.onnx"],
        &["--ref", "v1.0", "--exclude", "*"],
    ];
    for flags in cases {
        let args = |command: &'static str| [&[command, "acme/tiny-bert", "--json"][..], flags].concat();
        let ls = env.run(&args("ls")).ok().json();
        let fetch = env.run(&args("fetch")).ok().json();
        assert_eq!(
            (&ls["rev"], &ls["taken"]["files"], &ls["taken"]["bytes"]),
            (&fetch["rev"], &fetch["files"], &fetch["bytes"])
        );
        let taken: BTreeSet<&str> = ls["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["taken"] == true)
            .map(|f| f["path"].as_str().unwrap())
            .collect();

        // fetch's output is gone with its temporary folder; the same pipeline run here with the filters
        // fetch reports gives the same fileTreeHash, hence the same files.
        let rev = fetch["rev"].as_str().unwrap();
        let repo = Repo::from_id(RepoType::Model, "acme/tiny-bert").unwrap();
        let filters = Filters::from_json(&fetch["filters"].to_string()).unwrap();
        let plan = pipeline::plan(&client, &repo, rev, &filters).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(repo.store_name(rev));
        pipeline::fetch(&client, &plan, pipeline::Sink::Dir(&out), Options::default(), &|_| {}).unwrap();
        assert_eq!(nar::sri(&nar::nar_sha256(&out).unwrap()), fetch["fileTreeHash"].as_str().unwrap(), "{flags:?}");
        let snapshot = out.join(repo.folder()).join("snapshots").join(rev);
        let fetched: Vec<String> = WalkDir::new(&snapshot)
            .into_iter()
            .map(Result::unwrap)
            .filter(|e| !e.file_type().is_dir())
            .map(|e| e.path().strip_prefix(&snapshot).unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(fetched.iter().map(String::as_str).collect::<BTreeSet<_>>(), taken, "{flags:?}");
    }
}

#[test]
fn jobs_changes_nothing_but_the_parallelism() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    let one = env.run(&["fetch", "acme/tiny-bert", "--jobs", "1"]).ok();
    assert_eq!(env.run(&["fetch", "acme/tiny-bert", "--jobs", "64"]).ok().stdout, one.stdout);
    assert_eq!(env.run(&["fetch", "acme/tiny-bert"]).ok().stdout, one.stdout);
    env.run(&["fetch", "acme/tiny-bert", "--jobs", "0"]).fails(2, &["--jobs: expected a number from 1 to 64"]);
}

#[test]
fn an_unreachable_endpoint_says_so() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let hub = Hub::start(Vec::new());
    let env = Env::new(&hub).var("HF_ENDPOINT", &endpoint).var("HF_TOKEN", "hf_testtoken");
    let run = env.run(&["ls", "acme/tiny-bert"]);
    assert_eq!((run.code, run.stdout.as_str()), (1, ""), "{}", run.stderr);
    let want = format!(
        "nix-hug: error: resolving \"main\": cannot reach {endpoint} (connection refused): check your network or HF_ENDPOINT"
    );
    assert_eq!(run.stderr.lines().last(), Some(want.as_str()), "{}", run.stderr);
    assert!(
        run.stderr.lines().rev().skip(1).all(|l| l.starts_with("nix-hug: warning: resolving \"main\": cannot reach ")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("hf_testtoken"));
}

#[test]
fn debug_shows_an_error_layer_by_layer() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    hub.inject(Fault::CorruptAlways { path: "config.json".into() });
    let run = env.run(&["--debug", "fetch", "acme/tiny-bert", "--file", "config.json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("nix-hug: error:")).collect();
    assert_eq!(errors.len(), 3, "{}", run.stderr);
    assert_eq!(errors[0], format!("nix-hug: error: acme/tiny-bert@{}", &main_commit()[..7]));
    assert_eq!(errors[1], "nix-hug: error:   config.json");
    assert!(errors[2].starts_with("nix-hug: error:     git blob sha1 mismatch: expected "), "{}", errors[2]);
}

#[test]
#[ignore = "needs nix"]
fn adds_the_output_to_the_store() {
    let hub = Hub::start(fixtures::all());
    let path = std::env::var_os("PATH").unwrap_or_default();
    let env = Env::new(&hub).with_path(path).var("NIX_REMOTE", "local");
    // Not in the store yet, or the fetch would only find it there.
    let earlier = env.run(&["fetch", "acme/tiny-bert", "--include", "*.safetensors", "--json"]).ok().json();
    support::forget(earlier["storePath"].as_str().unwrap());
    let run = env.run(&["--debug", "fetch", "acme/tiny-bert", "--include", "*.safetensors", "--json"]).ok();
    let v = run.json();
    let store_path = v["storePath"].as_str().unwrap_or_else(|| panic!("no storePath:\n{}", run.stderr));
    assert!(Path::new(store_path).join("models--acme--tiny-bert").is_dir(), "{store_path}");
    let import = "nix-hug: debug: $ nix --extra-experimental-features nix-command copy --from 'file://";
    assert!(run.stderr.contains(import), "imported from a one-path binary cache:\n{}", run.stderr);
    assert!(run.stderr.contains(&format!("nix-hug: added {store_path}\n")), "{}", run.stderr);
    assert!(store_path.ends_with(&format!("-hf-model-acme-tiny-bert-{}", main_commit())), "{store_path}");

    let hash = nar::parse_hash(v["fileTreeHash"].as_str().unwrap()).unwrap();
    let nix_hash = Command::new("nix-hash").args(["--type", "sha256", store_path]).env("NIX_REMOTE", "local").output();
    let nix_hash = nix_hash.expect("running nix-hash (is Nix installed? see README.md)");
    assert!(nix_hash.status.success(), "{}", String::from_utf8_lossy(&nix_hash.stderr));
    assert_eq!(String::from_utf8(nix_hash.stdout).unwrap().trim(), nar::hex(&hash));
    assert_eq!(
        nar::fixed_output_path(&hash, &format!("hf-model-acme-tiny-bert-{}", main_commit())).unwrap(),
        store_path
    );
    env.assert_tmp_clean();
}

#[test]
fn a_dry_run_downloads_and_writes_nothing() {
    let hub = Hub::start(fixtures::all());
    let env = Env::new(&hub);
    let run = env.run(&["fetch", "acme/tiny-bert", "--dry-run", "--json"]).ok();
    assert_eq!(run.json()["download"]["files"], 11, "{}", run.stdout);
    let asked: Vec<String> = hub.requests().iter().map(|r| r.target.clone()).collect();
    assert!(asked.iter().all(|t| t.starts_with("/api/")), "no download: {asked:?}");
    env.assert_tmp_clean();
    let written: Vec<_> = WalkDir::new(env.root.path()).min_depth(1).into_iter().map(|e| e.unwrap()).collect();
    assert!(written.iter().all(|e| e.file_type().is_dir()), "{written:?}");
}

/// A fetch of files already in the store prints the expression without downloading or reading them;
/// an output of the same repo and commit with other files is not taken for it.
#[test]
#[ignore = "needs nix"]
fn an_output_already_in_the_store_is_printed_at_once() {
    let hub = Hub::start(fixtures::all());
    let path = std::env::var_os("PATH").unwrap_or_default();
    let env = Env::new(&hub).with_path(path).var("NIX_REMOTE", "local");
    let first = env.run(&["fetch", "acme/tiny-bert", "--include", "*.safetensors"]).ok();
    hub.clear_requests();
    let again = env.run(&["fetch", "acme/tiny-bert", "--include", "*.safetensors", "--json"]).ok();
    let store_path = again.json()["storePath"].as_str().unwrap().to_owned();
    assert!(
        again.stderr.contains(&format!("nix-hug: acme/tiny-bert@96e8b76 is already in the store: {store_path}\n")),
        "{}",
        again.stderr
    );
    let hash = again.json()["fileTreeHash"].as_str().unwrap().to_owned();
    assert!(first.stdout.contains(&format!("fileTreeHash = \"{hash}\";")), "{}", first.stdout);
    let asked: Vec<String> = hub.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(asked.len(), 2, "where main points, and the listing; no download: {asked:?}");
    assert!(asked.iter().all(|t| t.starts_with("/api/")), "{asked:?}");

    // Every file: not the output above, though it has the same name.
    let all = env.run(&["fetch", "acme/tiny-bert", "--json"]).ok().json();
    let all_path = all["storePath"].as_str().unwrap().to_owned();
    assert_ne!(all_path, store_path);
    support::forget(&all_path);
    let refetched = env.run(&["fetch", "acme/tiny-bert", "--json"]).ok();
    assert!(!refetched.stderr.contains("already in the store"), "{}", refetched.stderr);
    assert_eq!(refetched.json()["storePath"].as_str(), Some(all_path.as_str()));
    assert_eq!(refetched.json()["fileTreeHash"], all["fileTreeHash"]);
    env.assert_tmp_clean();
}

/// `--out-link` makes a root, as `nix-build -o` does: the output outlives a garbage collection while
/// the link is there, a second run replaces the link, and a plain file is never replaced.
#[test]
#[ignore = "needs nix"]
fn out_link_keeps_the_output_from_garbage_collection() {
    let hub = Hub::start(fixtures::all());
    let path = std::env::var_os("PATH").unwrap_or_default();
    let env = Env::new(&hub).with_path(path).var("NIX_REMOTE", "local");
    let link = env.root.path().join("result");
    let link_arg = link.to_str().unwrap();
    let run = env.run(&["fetch", "acme/tiny-bert", "--file", "config.json", "-o", link_arg, "--json"]).ok();
    let store_path = run.json()["storePath"].as_str().unwrap().to_owned();
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(&store_path));
    let roots = support::stdout_ok(support::nix("nix-store").args(["--gc", "--print-roots"]));
    // Nix 2.8 prints `LINK -> PATH`, current Nix quotes the link.
    let rooted = roots
        .lines()
        .filter_map(|l| l.split_once(" -> "))
        .any(|(from, to)| from.trim_matches('"') == link_arg && to == store_path);
    assert!(rooted, "{roots}");
    let delete = support::run(support::nix("nix-store").args(["--delete", &store_path]));
    assert!(!delete.status.success(), "a root keeps the output alive");

    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("/nonexistent", &link).unwrap();
    env.run(&["fetch", "acme/tiny-bert", "--file", "config.json", "--out-link", link_arg]).ok();
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(&store_path), "a symlink is replaced");

    std::fs::remove_file(&link).unwrap();
    std::fs::write(&link, "mine").unwrap();
    hub.clear_requests();
    env.run(&["fetch", "acme/tiny-bert", "-o", link_arg]).fails(2, &["exists and is not a symlink"]);
    assert_eq!(std::fs::read_to_string(&link).unwrap(), "mine");
    assert!(hub.requests().is_empty(), "refused before asking the Hub");
}

/// What a newcomer does: paste the expression `fetch` printed into a file, stop the Hub, build it. Nix
/// finds the output already in the store (a download would fail), at exactly the path `fetch` reported.
#[test]
#[ignore = "needs nix"]
fn the_printed_expression_builds_with_the_hub_stopped() {
    let hub = Hub::start(fixtures::all());
    let path = std::env::var_os("PATH").unwrap_or_default();
    let env = Env::new(&hub).with_path(path).var("NIX_REMOTE", "local");
    let args = ["fetch", "acme/tiny-bert", "--exclude", "onnx/*"];
    // Out of the store first, so that this fetch is the one that puts it there.
    support::forget(support::reported_path(&env.run(&args).ok().stderr).unwrap());
    let run = env.run(&args).ok();
    let added = run.stderr.lines().find_map(|l| l.strip_prefix("nix-hug: added "));
    let store_path = added.unwrap_or_else(|| panic!("no store path in\n{}", run.stderr)).to_owned();
    assert!(Path::new(&store_path).is_dir(), "{store_path}");

    let api = hub.endpoint().strip_prefix("http://").unwrap().to_owned();
    drop(hub);
    assert!(std::net::TcpStream::connect(&api).is_err(), "the Hub is stopped");
    let built = support::build_expression(env.root.path(), &run.stdout)
        .unwrap_or_else(|e| panic!("building {}:\n{e}", run.stdout));
    assert_eq!(built, store_path);
}

/// Answered as huggingface.co answers (redirects to the resolve cache and to a signed CDN URL, opaque
/// tree cursors, `xetHash`, rate-limit headers), `fetch` and `ls` print exactly what they print
/// against the plain Hub.
#[test]
fn the_real_hub_gives_the_same_results() {
    let hubs = Mode::ALL.map(|mode| Hub::start_in(mode, fixtures::all()));
    let cases: &[&[&str]] = &[
        &["fetch", "acme/tiny-bert"],
        &["fetch", "acme/tiny-ds", "--json"],
        &["fetch", "acme/tiny-bert", "--include", "*.safetensors", "--ref", "v1.0"],
        &["fetch", "acme/many-files", "--exclude", "d0*"],
        &["fetch", "acme/gated"],
        &["ls", "acme/tiny-bert", "--exclude", "onnx/*"],
        &["ls", "acme/many-files", "--json"],
    ];
    for args in cases {
        let [plain, real] =
            [&hubs[0], &hubs[1]].map(|hub| Env::new(hub).var("HF_TOKEN", "hf_testtoken").run(args).ok());
        assert_eq!(real.stdout, plain.stdout, "{args:?}");
        assert_eq!(real.stderr, plain.stderr, "{args:?}");
    }
    let real = hubs[1].requests();
    assert!(real.iter().any(|r| r.status == 307 && r.target.contains("/resolve/")), "small files were redirected");
    assert!(real.iter().any(|r| r.target.starts_with("/api/resolve-cache/")), "and fetched from the resolve cache");
    assert!(real.iter().any(|r| r.target.contains("cursor=")), "the listing was paged");
    // The only refusal is the model lookup of the bare dataset id.
    let refused: Vec<_> = real.iter().filter(|r| r.status >= 400).map(|r| r.target.as_str()).collect();
    assert_eq!(refused, ["/api/models/acme/tiny-ds/revision/main"]);
}

/// The token goes to the Hub host only (and along its same-host redirects), never to the CDN, and
/// never into `--debug` output.
#[test]
fn the_token_stays_with_the_hub() {
    let hub = Hub::start_in(Mode::Real, fixtures::all());
    let env = Env::new(&hub).var("HF_TOKEN", "hf_testtoken");
    // acme/bert-tiny was renamed: the token follows the redirect to the new id, on the same host.
    for args in [
        &["--debug", "fetch", "acme/gated"][..],
        &["--debug", "ls", "acme/gated"],
        &["--debug", "fetch", "acme/bert-tiny", "--include", "*.safetensors"],
    ] {
        let run = env.run(args).ok();
        assert!(!run.stderr.contains("hf_testtoken") && !run.stdout.contains("hf_testtoken"), "{}", run.stderr);
        assert!(run.stderr.contains("(with token)"), "{}", run.stderr);
    }
    let cdn = hub.cdn();
    let (to_cdn, to_hub): (Vec<_>, Vec<_>) = hub.requests().into_iter().partition(|r| cdn.ends_with(&r.host));
    assert!(!to_cdn.is_empty() && to_cdn.iter().all(|r| r.authorization.is_none()), "{to_cdn:?}");
    assert!(to_hub.iter().any(|r| r.target.starts_with("/api/resolve-cache/")), "{to_hub:?}");
    assert!(to_hub.iter().any(|r| r.target.starts_with("/acme/bert-tiny/") && r.status == 307), "{to_hub:?}");
    assert!(to_hub.iter().any(|r| r.target.starts_with("/acme/tiny-bert/")), "{to_hub:?}");
    assert!(to_hub.iter().all(|r| r.authorization.as_deref() == Some("Bearer hf_testtoken")), "{to_hub:?}");
    env.assert_tmp_clean();
}

#[test]
fn waits_out_the_rate_limit_and_says_so() {
    let hub = Hub::start_in(Mode::Real, fixtures::all());
    hub.inject(Fault::RateLimit { path: "config.json".into(), reset: 2 });
    let start = std::time::Instant::now();
    let run = Env::new(&hub).run(&["fetch", "acme/tiny-bert", "--file", "config.json"]).ok();
    assert!(start.elapsed() >= std::time::Duration::from_secs(2));
    let waits: Vec<&str> = run.stderr.lines().filter(|l| l.contains("rate limited")).collect();
    assert_eq!(waits.len(), 1, "{}", run.stderr);
    assert!(waits[0].contains("the Hub's quota resets in 2s; retrying in 2.0s"), "{}", waits[0]);
    assert_eq!(hub.requests().iter().filter(|r| r.status == 429).count(), 1);
}

/// `gpt2` (an alias of `openai-community/gpt2` on the Hub) in each URL form: the printed expression
/// keeps `gpt2`, whose cache folder is the one `from_pretrained("gpt2")` looks up, and says the new id.
#[test]
fn legacy_ids_keep_the_id_given() {
    let hub = Hub::start_in(Mode::Real, fixtures::all());
    let env = Env::new(&hub);
    let commit = fixtures::gpt2().commits[0].sha.clone();
    let run = env.run(&["fetch", "gpt2"]).ok();
    assert_eq!(run.stdout, expression(&run, "fetchModel", "gpt2", &commit, None));
    assert!(
        run.stderr.contains("nix-hug: model gpt2 is now openai-community/gpt2 on the Hub (the old id redirects there)"),
        "{}",
        run.stderr
    );
    for form in ["hf:gpt2", "https://huggingface.co/gpt2", "https://hf.co/gpt2/tree/main"] {
        assert_eq!(env.run(&["fetch", form]).ok().stdout, run.stdout, "{form}");
    }
    let new = env.run(&["fetch", "openai-community/gpt2"]).ok();
    assert!(!new.stderr.contains("is now"), "{}", new.stderr);
    assert_ne!(new.stdout.lines().nth_back(1), run.stdout.lines().nth_back(1), "another cache folder, another hash");

    let json = env.run(&["fetch", "squad", "--json"]).ok().json();
    assert_eq!(
        (&json["url"], &json["type"], &json["repoId"]),
        (&"datasets/squad".into(), &"dataset".into(), &"squad".into())
    );
}

/// Behind a proxy that intercepts TLS: the Hub and its CDN over HTTPS, signed by a CA of their own.
#[test]
fn fetches_over_https_trusting_the_named_ca_bundle() {
    let https = HttpsHub::start(fixtures::all());
    let plain =
        Env::new(&Hub::start(fixtures::all())).var("HF_TOKEN", "hf_testtoken").run(&["fetch", "acme/gated"]).ok();
    let env = Env::new(&https.hub);
    let ca = env.root.path().join("ca.pem");
    std::fs::write(&ca, &https.ca_pem).unwrap();
    let ca = ca.to_str().unwrap();
    let missing = env.root.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    // A connection dropped mid-body is still a hiccup over TLS: resumed, not a refusal.
    https.hub.inject(Fault::DropMidBody { path: "weights.bin".into() });
    let mut resumed = false;
    for (nix_ssl, ssl) in [(ca, ""), ("", ca), (ca, missing)] {
        let env = Env::new(&https.hub).var("HF_TOKEN", "hf_testtoken");
        let env = env.var("NIX_SSL_CERT_FILE", nix_ssl).var("SSL_CERT_FILE", ssl);
        let run = env.run(&["--debug", "fetch", "acme/gated"]).ok();
        assert_eq!(run.stdout, plain.stdout, "the same expression as over plain HTTP");
        assert!(run.stderr.contains(&format!("GET {}/acme/gated/resolve/", https.hub.endpoint())), "{}", run.stderr);
        assert!(!run.stderr.contains("hf_testtoken"), "{}", run.stderr);
        resumed |= run.stderr.contains("nix-hug: warning: weights.bin: ");
        env.assert_tmp_clean();
    }
    assert!(resumed, "the dropped download was retried");
    let cdn = https.hub.requests().into_iter().filter(|r| r.target.starts_with("/cdn/")).collect::<Vec<_>>();
    assert!(!cdn.is_empty() && cdn.iter().all(|r| r.authorization.is_none()), "{cdn:?}");
    assert!(https.hub.cdn().starts_with("https://127.0.0.2:"), "the CDN is HTTPS too");
}

/// An untrusted certificate is no network hiccup: one line that says what to set, without retries.
#[test]
fn an_untrusted_certificate_fails_at_once_naming_the_variable() {
    let https = HttpsHub::start(fixtures::all());
    let other_ca = HttpsHub::start(Vec::new()).ca_pem.clone();
    let env = Env::new(&https.hub).var("HF_TOKEN", "hf_testtoken");
    let other = env.root.path().join("other-ca.pem");
    std::fs::write(&other, other_ca).unwrap();
    let said =
        format!("nix-hug: error: resolving \"main\": the TLS certificate of {} is not trusted (", https.hub.endpoint());
    let advice = "): if a proxy intercepts TLS, set NIX_SSL_CERT_FILE to a PEM bundle that holds its CA\n";
    for env in [Env::new(&https.hub), Env::new(&https.hub).var("NIX_SSL_CERT_FILE", other.to_str().unwrap())] {
        let started = std::time::Instant::now();
        let run = env.var("HF_TOKEN", "hf_testtoken").run(&["fetch", "acme/tiny-bert"]).fails(1, &[]);
        assert!(run.stderr.starts_with(&said) && run.stderr.ends_with(advice), "{}", run.stderr);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "no retries: {:?}", started.elapsed());
    }
    let run = env.run(&["--debug", "ls", "acme/gated"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("not trusted") && !run.stderr.contains("hf_testtoken"), "{}", run.stderr);
    assert!(https.hub.requests().is_empty(), "nothing reached the Hub");
    env.assert_tmp_clean();
}

#[test]
fn an_unusable_ca_bundle_is_one_error_line() {
    let https = HttpsHub::start(fixtures::all());
    let env = Env::new(&https.hub);
    let missing = env.root.path().join("missing.pem");
    let not_pem = env.root.path().join("not.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    for (var, path, why) in [
        ("NIX_SSL_CERT_FILE", &missing, "which cannot be read: No such file or directory"),
        ("SSL_CERT_FILE", &not_pem, "which holds no PEM certificate"),
    ] {
        let run = Env::new(&https.hub).var(var, path.to_str().unwrap()).run(&["fetch", "acme/tiny-bert"]);
        run.fails(2, &[&format!("{var} is {}, {why}", path.display())]);
    }
    assert!(https.hub.requests().is_empty(), "nothing was asked of the Hub");
}

/// A server that sends the first KiB of a file and then nothing, on every attempt: the fetch ends, in a
/// time bounded by HF_HUB_DOWNLOAD_TIMEOUT and the retries, with one error line naming the file.
#[test]
fn a_download_that_stalls_every_time_ends_with_one_error() {
    // Large enough that a KiB per attempt, resumed with Range each time, never completes it.
    let sha = hub::fake_sha("big-1");
    let big = hub::Repo {
        kind: hub::Kind::Model,
        id: "acme/big".into(),
        commits: vec![hub::Commit { sha: sha.clone(), files: vec![hub::File::lfs("big.bin", vec![7u8; 1 << 16])] }],
        refs: vec![("main".into(), sha)],
        ..fixtures::tiny_bert()
    };
    let hub = Hub::start(vec![big]);
    hub.inject(Fault::Stall { path: "big.bin".into() });
    let env = Env::new(&hub).var("HF_HUB_DOWNLOAD_TIMEOUT", "0.2");
    let start = std::time::Instant::now();
    let run = env.run(&["fetch", "acme/big"]);
    assert!(start.elapsed() < std::time::Duration::from_secs(30), "took {:?}", start.elapsed());
    assert_eq!(run.code, 1, "{}", run.stderr);
    let last = run.stderr.lines().last().unwrap();
    assert!(last.starts_with("nix-hug: error: ") && last.contains("big.bin"), "{}", run.stderr);
    assert!(last.contains("no data for 0.2s (HF_HUB_DOWNLOAD_TIMEOUT)"), "{last}");
    assert_eq!(run.stdout, "");
    env.assert_tmp_clean();

    let bad = Env::new(&hub).var("HF_HUB_DOWNLOAD_TIMEOUT", "soon");
    bad.run(&["fetch", "acme/big"]).fails(2, &["HF_HUB_DOWNLOAD_TIMEOUT=soon: expected a number of seconds"]);
}

/// The lock file commands against a Hub whose branch moves: `add` pins, `update --check` exits 0, then 1
/// once `main` moves (writing nothing), `update` follows it downloading no large file that did not
/// change, then `--check` is 0 again; `lock` lists an entry anew after its filters are edited by hand;
/// `remove` drops one; a bad name or a corrupt lock is one line and leaves the lock as it was.
#[test]
fn lock_file_commands_follow_a_moving_branch() {
    let hub = Hub::start(fixtures::all());
    let fixture = fixtures::tiny_bert();
    let (old, new) = (fixture.commits[0].sha.clone(), fixture.commits[1].sha.clone());
    hub.move_ref("acme/tiny-bert", "main", &old);
    let env = Env::new(&hub);
    let lock = env.root.path().join("nix-hug.lock");
    let lock_arg = lock.to_str().unwrap();
    let pins = |args: &[&str]| env.run(&[args, &["--lock", lock_arg]].concat());
    let read = || std::fs::read_to_string(&lock).unwrap();

    pins(&["add", "acme/tiny-bert", "--include", "*.safetensors", "--name", "bert"]).ok();
    pins(&["add", "datasets/acme/tiny-ds"]).ok();
    let v: serde_json::Value = serde_json::from_str(&read()).unwrap();
    assert_eq!(v["repos"]["bert"]["rev"], old.as_str());
    assert_eq!(v["repos"]["bert"]["ref"], "main");
    assert_eq!(v["repos"]["bert"]["filters"]["include"], serde_json::json!(["*.safetensors"]));
    assert!(v["repos"]["bert"]["files"]["model.safetensors"]["sha256"].is_string());
    assert_eq!(v["repos"]["tiny-ds"]["type"], "dataset");

    let fresh = pins(&["update", "--check"]).ok();
    assert!(fresh.stdout.contains(&format!("bert: up to date at {}", &old[..7])), "{}", fresh.stdout);

    hub.move_ref("acme/tiny-bert", "main", &new);
    let before = read();
    let stale = pins(&["update", "--check"]);
    assert_eq!(stale.code, 1, "{}", stale.stderr);
    assert!(stale.stdout.contains(&format!("bert: {} -> {} (main)", &old[..7], &new[..7])), "{}", stale.stdout);
    assert!(stale.stdout.contains("  + nested/deeper/notes.txt"), "{}", stale.stdout);
    assert_eq!(read(), before, "--check writes nothing");

    hub.clear_requests();
    let moved = pins(&["update", "--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&moved.stdout).unwrap();
    assert_eq!(report[0]["new"], new.as_str());
    assert_eq!(report[0]["changed"], serde_json::json!(["README.md"]));
    let downloads: Vec<String> =
        hub.requests().into_iter().filter(|r| r.target.contains("/resolve/")).map(|r| r.target).collect();
    assert!(!downloads.is_empty() && downloads.iter().all(|t| !t.contains("safetensors")), "{downloads:?}");
    assert!(read().contains(&new) && !read().contains(&old));
    pins(&["update", "--check"]).ok();
    env.assert_tmp_clean();

    std::fs::write(&lock, read().replace("\"*.safetensors\"", "\"onnx/*\"")).unwrap();
    pins(&["update"]).fails(2, &["files.\"model.safetensors\": the filters do not take it"]);
    pins(&["lock"]).ok();
    assert!(read().contains("\"onnx/model.onnx\"") && !read().contains("model.safetensors"), "{}", read());

    pins(&["remove", "tiny-ds"]).ok();
    let kept = read();
    assert!(!kept.contains("tiny-ds"));
    pins(&["remove", "nope"]).fails(2, &["no entry \"nope\"", "it has bert"]);
    pins(&["add", "acme/tiny-bert", "--name", "cache"]).fails(2, &["--name \"cache\""]);
    std::fs::write(&lock, &kept[..kept.len() / 2]).unwrap();
    let half = read();
    pins(&["update"]).fails(2, &["nix-hug.lock: not valid JSON"]);
    assert_eq!(read(), half, "a corrupt lock is left as it was");
}

/// `update FILE.nix` bumps the rev and hash of each literal fetch call whose ref moved, and changes not
/// another byte of the file: comments, spacing and the calls that did not move stay.
#[test]
fn update_bumps_the_pins_of_a_nix_file_in_place() {
    let hub = Hub::start(fixtures::all());
    let fixture = fixtures::tiny_bert();
    let (old, new) = (fixture.commits[0].sha.clone(), fixture.commits[1].sha.clone());
    let env = Env::new(&hub);
    let file = env.root.path().join("pins.nix");
    let text = format!(
        "# my models\n{{ nix-hug-lib }}:\n{{\n  bert = nix-hug-lib.fetchModel {{   # by hand\n    url = \"acme/tiny-bert\";\n    \
         rev   =  \"{old}\";\n    filters = {{ include = [ \".*\\\\.safetensors\" ]; }};\n    fileTreeHash =\n      \
         \"sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\";\n  }};\n  odd = nix-hug-lib.fetchModel ({{ url = \"x/y\"; }});\n}}\n"
    );
    std::fs::write(&file, &text).unwrap();
    let checked = env.run(&["update", "--check", file.to_str().unwrap()]);
    assert_eq!(checked.code, 1, "{}", checked.stderr);
    assert!(checked.stderr.contains("pins.nix:11: a fetch call left as it is"), "{}", checked.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    env.run(&["update", file.to_str().unwrap()]).ok();
    let fetched = env.run(&["fetch", "acme/tiny-bert", "--include", "*.safetensors", "--hash"]).ok();
    let want =
        text.replace(&old, &new).replace("sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", fetched.stdout.trim());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), want);
    env.run(&["update", "--check", file.to_str().unwrap()]).ok();
}
