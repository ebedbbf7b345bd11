//! Whole runs of the `nix-hug` binary against the loopback Hub, pinned as snapshots with `snapbox`: for
//! each case under `tests/cmd/<command>/`, its stdout, stderr and exit code must equal the files
//! recorded next to it.
//!
//! A case is a set of files sharing a name:
//!
//! - `NAME.args`: the arguments, one per line (an empty file for none);
//! - `NAME.env` (optional): `VAR=value` lines added to the environment, e.g. `HF_TOKEN=hf_testtoken`;
//! - `NAME.stdin` (optional): what the run reads on stdin (else nothing);
//! - `NAME.home/` (optional): a folder copied into `HOME` before the run (a Hugging Face cache, a config
//!   file, a persist directory);
//! - `NAME.faults` (optional): faults for the Hub, one per line (`corrupt-always PATH`, `corrupt-byte
//!   PATH`, `drop-mid-body PATH`, `status PATH CODE [RETRY_AFTER]`, `rate-limit PATH RESET`); the case
//!   then gets a Hub of its own;
//! - `NAME.hub` (optional): `real` to run against a Hub answering as huggingface.co does
//!   (`hub::Mode::Real`), else the plain one;
//! - `NAME.stdout`, `NAME.stderr`, `NAME.status`: what the run must print, and its exit code.
//!
//! Every run gets a fresh, scrubbed environment: `HF_ENDPOINT` is the Hub; `HOME` (with `HF_HOME` and
//! `XDG_*` in it), `TMPDIR` and the working directory are folders of a new temporary folder; `PATH` is an
//! empty folder, so Nix is absent and `fetch` says it could not add its output to the store;
//! `NIX_STORE_DIR` is an empty folder, so no file is copied from an earlier output in this machine's
//! store; `NO_COLOR=1`; no token. A run still going after `TIMEOUT` is killed.
//!
//! What differs from run to run is written as a placeholder in the expected outputs, and may be used
//! in the args and env files: `[HUB]` and `[CDN]` (the Hub's two addresses), `[CLOSED]` (an address
//! nothing listens on), `[HOME]`, `[TMP]`, `[CWD]` and `[ROOT]` (the temporary folder they are in).
//! `fetch`'s own temporary folder is `[TMP]/nix-hug-[ID]`, a retry's delay `retrying in [DELAY]` and the
//! version `nix-hug [VERSION]`. Apart from these, the outputs must match byte for byte: snapbox's
//! wildcards (`...`, `[..]`) are not used.
//!
//! `SNAPSHOTS=overwrite cargo test --test snapshots` writes what the runs printed into the expected
//! files; review the change with `git diff tests/cmd`. Every case runs, and each failing one is listed
//! with a diff of each stream that differs. The test also fails if a command listed by a help text has
//! no `--help` case, or a flag listed there no case that uses it.
//!
//! The ignored test `printed_expressions_build` reruns the cases that print an expression with Nix on
//! PATH, then has Nix build each expression again in the sandbox (`nix-build --check`): it must give
//! the store path the CLI reported, with the same contents.

mod hub;
mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use regex::Regex;
use snapbox::{Assert, Data, Redactions};

/// A run that takes longer is killed and fails.
const TIMEOUT: Duration = Duration::from_secs(120);
/// Runs at once: most of a run is waiting on loopback or on a retry's backoff.
const PARALLEL: usize = 8;
/// The files a case may have, by extension.
const INPUTS: &[&str] = &["args", "env", "stdin", "faults", "home", "hub"];
const OUTPUTS: [&str; 3] = ["stdout", "stderr", "status"];

/// What a run printed, placeholders in, in the order of `OUTPUTS`.
type Outputs = [String; 3];

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd")
}

struct Case {
    /// `fetch/include`: the path under `tests/cmd` without extension.
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Vec<u8>,
    faults: Vec<hub::Fault>,
    mode: hub::Mode,
    /// `NAME.home`, if there is one.
    home: Option<PathBuf>,
}

impl Case {
    fn file(&self, ext: &str) -> PathBuf {
        cases_dir().join(format!("{}.{ext}", self.name))
    }

    /// Whether the case runs `command` (`["store", "ls"]`): its words that are not flags start so.
    fn runs(&self, command: &[&str]) -> bool {
        let words = self.args.iter().filter(|a| !a.starts_with('-'));
        words.map(String::as_str).take(command.len()).eq(command.iter().copied())
    }

    fn uses_flag(&self, flag: &str) -> bool {
        self.args.iter().any(|a| a == flag || (flag.starts_with("--") && a.starts_with(&format!("{flag}="))))
    }
}

/// Every case under `tests/cmd`, in the order of their paths; an error for each file that belongs to no case.
fn load_cases() -> (Vec<Case>, Vec<String>) {
    let root = cases_dir();
    let (mut cases, mut problems) = (Vec::new(), Vec::new());
    let in_home = |e: &walkdir::DirEntry| e.path().parent().and_then(Path::extension).is_some_and(|x| x == "home");
    // A case's `NAME.home` folder is one of its files, not a folder of cases.
    for entry in walkdir::WalkDir::new(&root).sort_by_file_name().into_iter().filter_entry(|e| !in_home(e)) {
        let path = entry.unwrap().into_path();
        if path.is_dir() && path.extension().is_none_or(|e| e != "home") {
            continue;
        }
        let rel = path.strip_prefix(&root).unwrap().to_str().expect("a UTF-8 case name");
        match rel.rsplit_once('.') {
            None => problems.push(format!("{rel}: not a case file (NAME.{})", [INPUTS, &OUTPUTS].concat().join(", ."))),
            Some((_, ext)) if !INPUTS.contains(&ext) && !OUTPUTS.contains(&ext) => {
                problems.push(format!("{rel}: unknown extension .{ext}"))
            }
            Some((name, "args")) => match load_case(name) {
                Ok(case) => cases.push(case),
                Err(e) => problems.push(format!("{name}: {e}")),
            },
            Some((name, _)) if !root.join(format!("{name}.args")).is_file() => {
                problems.push(format!("{rel}: no {name}.args next to it"))
            }
            Some(_) => {}
        }
    }
    (cases, problems)
}

fn load_case(name: &str) -> Result<Case, String> {
    let file = |ext| cases_dir().join(format!("{name}.{ext}"));
    let read = |ext| match std::fs::read_to_string(file(ext)) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(format!(".{ext}: {e}")),
    };
    let env = entries(&read("env")?, |l| l.split_once('=').map(|(var, value)| (var.to_owned(), value.to_owned())));
    let faults = entries(&read("faults")?, parse_fault);
    let mode = match read("hub")?.trim() {
        "" | "plain" => hub::Mode::Plain,
        "real" => hub::Mode::Real,
        other => return Err(format!(".hub: expected plain or real, got {other:?}")),
    };
    Ok(Case {
        name: name.to_owned(),
        args: read("args")?.lines().map(str::to_owned).collect(),
        env: env.map_err(|e| format!(".env: {e}"))?,
        stdin: std::fs::read(file("stdin")).unwrap_or_default(),
        faults: faults.map_err(|e| format!(".faults: {e}"))?,
        mode,
        home: Some(file("home")).filter(|h| h.is_dir()),
    })
}

/// Each line of a list file but blank lines and `#` comments, read by `parse`.
fn entries<T>(text: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    let lines = text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    lines.map(|line| parse(line).ok_or(format!("cannot read {line:?}"))).collect()
}

/// `corrupt-always PATH`, `corrupt-byte PATH`, `drop-mid-body PATH`, `status PATH CODE [RETRY_AFTER]` or
/// `rate-limit PATH RESET`.
fn parse_fault(line: &str) -> Option<hub::Fault> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let path = words.get(1)?.to_string();
    Some(match (words[0], words.len()) {
        ("corrupt-always", 2) => hub::Fault::CorruptAlways { path },
        ("corrupt-byte", 2) => hub::Fault::CorruptByte { path },
        ("drop-mid-body", 2) => hub::Fault::DropMidBody { path },
        ("rate-limit", 3) => hub::Fault::RateLimit { path, reset: words[2].parse().ok()? },
        ("status", 3 | 4) => hub::Fault::Status {
            path,
            status: words[2].parse().ok()?,
            retry_after: match words.get(3) {
                Some(s) => Some(s.parse().ok()?),
                None => None,
            },
        },
        _ => return None,
    })
}

/// The scrubbed environment of one run of a case, with its `NAME.home` copied in.
struct Sandbox {
    root: tempfile::TempDir,
    hub: String,
    cdn: String,
    closed: String,
}

impl Sandbox {
    fn new(case: &Case, hub: &hub::Hub, closed: &str) -> Sandbox {
        let root = tempfile::tempdir().unwrap();
        for dir in ["home", "tmp", "cwd"] {
            std::fs::create_dir(root.path().join(dir)).unwrap();
        }
        if let Some(home) = &case.home {
            snapbox::dir::copy_template(home, root.path().join("home")).unwrap();
        }
        Sandbox { root, hub: hub.endpoint(), cdn: hub.cdn(), closed: closed.to_owned() }
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Placeholder and value, for the folders first as given, then as the program may see them, symlinks
    /// resolved.
    fn placeholders(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("[HUB]", self.hub.clone()), ("[CDN]", self.cdn.clone()), ("[CLOSED]", self.closed.clone())];
        for root in [self.root.path().to_owned(), self.root.path().canonicalize().unwrap()] {
            let path = |p: PathBuf| p.into_os_string().into_string().expect("a UTF-8 temporary folder");
            let dir = |name| path(root.join(name));
            out.extend([("[TMP]", dir("tmp")), ("[HOME]", dir("home")), ("[CWD]", dir("cwd")), ("[ROOT]", path(root))]);
        }
        out
    }

    /// `[HUB]` and the other placeholders in an argument or a variable, replaced by their values.
    fn expand(&self, text: &str) -> String {
        self.placeholders().iter().fold(text.to_owned(), |t, (name, value)| t.replace(name, value))
    }

    /// What changes from run to run in an output, replaced by placeholders; the longest values go
    /// first, so a folder before its parent.
    fn redact(&self, output: &[u8]) -> String {
        let mut redactions = Redactions::new();
        redactions.extend(self.placeholders()).unwrap();
        let regexes = [
            // `fetch` assembles its output in `$TMPDIR/nix-hug-<pid>-<hex>`.
            ("[ID]", r"\[TMP\]/nix-hug-(?<redacted>[[:alnum:]-]+)".to_owned()),
            // A retry waits a backoff with jitter.
            ("[DELAY]", r"retrying in (?<redacted>[0-9.s]+)".to_owned()),
            // The version changes with each release, and `--version` is all there is to see in it.
            ("[VERSION]", format!("nix-hug (?<redacted>{})\n", regex::escape(env!("CARGO_PKG_VERSION")))),
        ];
        redactions.extend(regexes.map(|(name, re)| (name, Regex::new(&re).unwrap()))).unwrap();
        redactions.redact(&String::from_utf8_lossy(output))
    }

    /// Runs `case` here; `path` is `PATH` with Nix on it, else Nix is absent.
    fn run(&self, case: &Case, path: Option<&OsStr>) -> (std::process::Output, Outputs) {
        let bin = env!("CARGO_BIN_EXE_nix-hug");
        let mut cmd = support::scrubbed(bin, &self.hub, &self.dir("home"), &self.dir("tmp"), path);
        cmd.current_dir(self.dir("cwd")).args(case.args.iter().map(|a| self.expand(a)));
        cmd.envs(case.env.iter().map(|(var, value)| (var, self.expand(value))));
        if path.is_some() {
            cmd.env("NIX_REMOTE", "local");
        }
        let out = snapbox::cmd::Command::from_std(cmd).stdin(case.stdin.clone()).timeout(TIMEOUT).output();
        let out = out.unwrap_or_else(|e| panic!("running {bin}: {e}"));
        let status = format!("{}\n", snapbox::cmd::display_exit_status(out.status));
        let outputs = [self.redact(&out.stdout), self.redact(&out.stderr), status];
        (out, outputs)
    }
}

/// An address on loopback where nothing listens (for a moment, which is enough).
fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

/// A Hub in each mode, for the cases without faults.
fn shared_hubs() -> [hub::Hub; 2] {
    hub::Mode::ALL.map(|mode| hub::Hub::start_in(mode, hub::fixtures::all()))
}

fn hub_of<'a>(case: &Case, shared: &'a [hub::Hub; 2]) -> &'a hub::Hub {
    &shared[hub::Mode::ALL.iter().position(|m| *m == case.mode).unwrap()]
}

/// Runs every case, `PARALLEL` at a time, on a shared Hub (or a Hub of its own if it has faults).
fn run_all(cases: &[Case]) -> Vec<Outputs> {
    let shared = shared_hubs();
    let closed = closed_endpoint();
    let next = AtomicUsize::new(0);
    let run_next = || {
        let i = next.fetch_add(1, Ordering::SeqCst);
        let case = cases.get(i)?;
        let own = (!case.faults.is_empty()).then(|| {
            let hub = hub::Hub::start_in(case.mode, hub::fixtures::all());
            case.faults.iter().for_each(|f| hub.inject(f.clone()));
            hub
        });
        let sandbox = Sandbox::new(case, own.as_ref().unwrap_or_else(|| hub_of(case, &shared)), &closed);
        Some((i, sandbox.run(case, None).1))
    };
    let mut outputs: Vec<(usize, Outputs)> = std::thread::scope(|s| {
        let workers: Vec<_> =
            (0..PARALLEL).map(|_| s.spawn(|| std::iter::from_fn(run_next).collect::<Vec<_>>())).collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    outputs.sort_by_key(|(i, _)| *i);
    outputs.into_iter().map(|(_, out)| out).collect()
}

/// `got` against the file `NAME.ext` of `case`: a diff if they differ (unless `assert` overwrote it).
fn check(assert: &Assert, case: &Case, ext: &str, got: &str) -> Option<String> {
    let want = Data::read_from(&case.file(ext), None).raw();
    let err =
        assert.try_eq(Some(&format!("{}.{ext} as the run printed it", case.name)), Data::text(got), want).err()?;
    Some(err.to_string())
}

fn plain() -> Assert {
    Assert::new().palette(snapbox::report::Palette::plain())
}

#[test]
fn cli_snapshots() {
    let (cases, mut problems) = load_cases();
    assert!(!cases.is_empty(), "no case in {}", cases_dir().display());
    let outputs = run_all(&cases);
    let assert = plain().action_env(snapbox::assert::DEFAULT_ACTION_ENV);
    for (case, got) in cases.iter().zip(&outputs) {
        let diffs: String = OUTPUTS.iter().zip(got).filter_map(|(ext, got)| check(&assert, case, ext, got)).collect();
        if !diffs.is_empty() {
            problems.push(format!("{}: nix-hug {}\n{diffs}", case.name, case.args.join(" ")));
        }
    }
    problems.extend(coverage(&cases, &outputs));
    assert!(problems.is_empty(), "{} problem(s) in {} cases:\n\n{}", problems.len(), cases.len(), problems.join("\n"));
}

/// Each command listed in a help text (`nix-hug --help`, and `nix-hug store --help` for the commands of
/// `store`) has a `--help` case; each global flag is used by some case, and each other flag in a
/// command's help by one of that command's cases.
fn coverage(cases: &[Case], outputs: &[Outputs]) -> Vec<String> {
    let help_of = |words: &[&str]| {
        let i =
            cases.iter().position(|c| c.args.iter().map(String::as_str).eq(words.iter().copied().chain(["--help"])))?;
        Some(outputs[i][0].as_str())
    };
    let Some(main) = help_of(&[]) else {
        return vec!["no case runs `nix-hug --help`".to_owned()];
    };
    let mut problems = Vec::new();
    let global = flags_in(main);
    for flag in &global {
        if !cases.iter().any(|c| c.uses_flag(flag)) {
            problems.push(format!("no case uses the global flag {flag}"));
        }
    }
    // Commands to check, each with its help text: `["store", "ls"]` once `store --help` lists `ls`.
    let mut todo: Vec<(Vec<&str>, &str)> = vec![(Vec::new(), main)];
    while let Some((path, help)) = todo.pop() {
        for name in section(help, "Commands:").filter_map(|l| l.split_whitespace().next()) {
            let command = [&path[..], &[name]].concat();
            let shown = command.join(" ");
            let Some(help) = help_of(&command) else {
                problems.push(format!("no case runs `nix-hug {shown} --help`"));
                continue;
            };
            for flag in flags_in(help).into_iter().filter(|f| !global.contains(f)) {
                if !cases.iter().any(|c| c.runs(&command) && c.uses_flag(&flag)) {
                    problems.push(format!("no case of `nix-hug {shown}` uses {flag}"));
                }
            }
            todo.push((command, help));
        }
    }
    problems
}

/// The lines of the section of a help text that starts with the line `title`, up to a blank line.
fn section<'a>(help: &'a str, title: &'a str) -> impl Iterator<Item = &'a str> {
    help.lines().skip_while(move |l| *l != title).skip(1).take_while(|l| !l.trim().is_empty())
}

/// `-h`, `--help`, `--include`…: the spellings in the `Options:` table of a help text.
fn flags_in(help: &str) -> Vec<String> {
    let mut flags = Vec::new();
    for line in section(help, "Options:") {
        let spelling = line.trim_start().split("  ").next().unwrap_or("");
        for word in spelling.split(", ") {
            let name = word.split(' ').next().unwrap_or("");
            if name.starts_with('-') {
                flags.push(name.to_owned());
            }
        }
    }
    flags
}

/// Reruns each case that succeeds with a Nix expression on stdout, this time with Nix on PATH, then
/// builds that expression in the sandbox against the Hub with `--check`: Nix builds the output again
/// with the builder of `lib/` and compares it with the one the CLI added. The expression must give
/// exactly the store path `fetch` reported, and the builder the same files: the prefetcher agrees with
/// the fetcher. (`--check` rather than deleting the output first, which other tests may be using.)
#[test]
#[ignore = "needs nix"]
fn printed_expressions_build() {
    let (cases, mut problems) = load_cases();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let hubs = shared_hubs();
    let closed = closed_endpoint();
    let mut built = 0;
    for case in &cases {
        let expected = |ext| std::fs::read_to_string(case.file(ext)).unwrap_or_default();
        if expected("status") != "0\n" || !expected("stdout").starts_with("nix-hug-lib.") || !case.faults.is_empty() {
            continue;
        }
        match build_case(case, hub_of(case, &hubs), &closed) {
            Ok(store_path) => {
                eprintln!("{}: {store_path}", case.name);
                built += 1;
            }
            Err(e) => problems.push(format!("{}: nix-hug {}\n{e}", case.name, case.args.join(" "))),
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} builds failed:\n\n{}",
        problems.len(),
        built + problems.len(),
        problems.join("\n")
    );
    assert!(built > 0, "no fetch case to build");
}

/// `case` run with Nix, and its expression built with `--check`; the store path, or what went wrong.
fn build_case(case: &Case, hub: &hub::Hub, closed: &str) -> Result<String, String> {
    let sandbox = Sandbox::new(case, hub, closed);
    let (out, [stdout, stderr, status]) = sandbox.run(case, Some(&std::env::var_os("PATH").unwrap_or_default()));
    let differs = check(&plain(), case, "stdout", &stdout);
    if status != "0\n" || differs.is_some() {
        let diff = differs.unwrap_or_default();
        return Err(format!("with Nix, exit {status}and this expression:\n{diff}\nstderr:\n{stderr}"));
    }
    let Some(store_path) = support::reported_path(&stderr) else {
        return Err(format!("with Nix, no store path reported on stderr:\n{stderr}"));
    };

    let file = sandbox.dir("expression.nix");
    let prelude = format!(
        "let nix-hug-lib = import {} {{ nix-hug = builtins.path {{ path = {}; name = \"nix-hug-static\"; }}; }}; in\n",
        Path::new(env!("CARGO_MANIFEST_DIR")).join("lib").display(),
        support::static_package().display()
    );
    std::fs::write(&file, [prelude.as_bytes(), &out.stdout].concat()).unwrap();
    let mut build = support::nix_build_command();
    build.arg("--check").arg(&file);
    // The builder reads the endpoint and the token from these (`impureEnvVars`).
    build.env("HF_ENDPOINT", hub.endpoint());
    for (var, value) in &case.env {
        build.env(var, sandbox.expand(value));
    }
    hub.clear_requests();
    let result = support::run(&mut build);
    if !result.status.success() {
        return Err(format!("nix-build --check failed:\n{}", String::from_utf8_lossy(&result.stderr)));
    }
    let built = String::from_utf8_lossy(&result.stdout).trim().to_owned();
    if built != store_path {
        return Err(format!("nix-build gave {built}, nix-hug reported {store_path}"));
    }
    if !hub.requests().iter().any(|r| r.target.contains("/resolve/")) {
        return Err("nix-build --check downloaded nothing: the output was not built again".to_owned());
    }
    Ok(built)
}
