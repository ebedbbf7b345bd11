//! Whole runs of the `nix-hug` binary against the loopback Hub, pinned as snapshots: for each case under
//! `tests/cmd/<command>/`, its exit code, stdout and stderr must equal the files recorded next to it.
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
//! store; `NO_COLOR=1`; no token.
//!
//! What differs from run to run is written as a placeholder in the expected outputs, and may be used
//! in the args and env files: `<HUB>` and `<CDN>` (the Hub's two addresses), `<CLOSED>` (an address
//! nothing listens on), `<HOME>`, `<TMP>`, `<CWD>` and `<ROOT>` (the temporary folder they are in).
//! `fetch`'s own temporary folder is `<TMP>/nix-hug-<ID>`, a retry's delay `retrying in <DELAY>` and the
//! version `nix-hug <VERSION>`.
//!
//! `NIX_HUG_BLESS=1 cargo test --test snapshots` writes what the runs printed into the expected files;
//! review the change with `git diff tests/cmd`. Every case runs, and each failing one is listed with a
//! diff of each stream that differs. The test also fails if a command listed by a help text has no
//! `--help` case, or a flag listed there no case that uses it.
//!
//! The ignored test `printed_expressions_build` reruns the cases that print an expression with Nix on
//! PATH, then has Nix build each expression again in the sandbox (`nix-build --check`): it must give
//! the store path the CLI reported, with the same contents.

mod hub;
mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Set to 1 to record what the runs print as the expected outputs.
const BLESS: &str = "NIX_HUG_BLESS";
/// A run that takes longer is killed and fails.
const TIMEOUT: Duration = Duration::from_secs(120);
/// Runs at once: most of a run is waiting on loopback or on a retry's backoff.
const PARALLEL: usize = 8;
/// The files a case may have, by extension.
const INPUTS: &[&str] = &["args", "env", "stdin", "faults", "home", "hub"];
const OUTPUTS: &[&str] = &["stdout", "stderr", "status"];

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd")
}

struct Case {
    /// `fetch/include`: the path under `tests/cmd` without extension.
    name: String,
    /// `tests/cmd/fetch/include`, to which each extension is added.
    base: PathBuf,
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
        with_ext(&self.base, ext)
    }

    /// Whether the case runs `command` (`["store", "ls"]`): its words that are not flags start so.
    fn runs(&self, command: &[&str]) -> bool {
        let words = self.args.iter().filter(|a| !a.starts_with('-'));
        words.map(String::as_str).take(command.len()).eq(command.iter().copied())
    }

    fn uses_flag(&self, flag: &str) -> bool {
        self.args.iter().any(|a| a == flag || (flag.starts_with("--") && a.starts_with(&format!("{flag}="))))
    }

    /// The recorded outputs; `None` for each one missing.
    fn expected(&self) -> Streams<Option<String>> {
        let read = |ext| std::fs::read_to_string(self.file(ext)).ok();
        Streams { stdout: read("stdout"), stderr: read("stderr"), status: read("status") }
    }
}

fn with_ext(base: &Path, ext: &str) -> PathBuf {
    let mut name = base.file_name().unwrap().to_os_string();
    name.push(".");
    name.push(ext);
    base.with_file_name(name)
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Streams<T> {
    stdout: T,
    stderr: T,
    status: T,
}

/// Every case under `tests/cmd`, sorted by name; an error for each file that belongs to no case.
fn load_cases() -> (Vec<Case>, Vec<String>) {
    let root = cases_dir();
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut problems = Vec::new();
    let mut cases = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap().to_str().expect("a UTF-8 case name").to_owned();
        let Some((name, ext)) = rel.rsplit_once('.') else {
            problems.push(format!(
                "{rel}: not a case file (NAME.args, .env, .stdin, .faults, .home, .hub, .stdout, .stderr, .status)"
            ));
            continue;
        };
        if !INPUTS.contains(&ext) && !OUTPUTS.contains(&ext) {
            problems.push(format!("{rel}: unknown extension .{ext}"));
        } else if ext != "args" && !files.contains(&root.join(format!("{name}.args"))) {
            problems.push(format!("{rel}: no {name}.args next to it"));
        } else if ext == "args" {
            match load_case(&root, name) {
                Ok(case) => cases.push(case),
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        }
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    (cases, problems)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        // A case's `NAME.home` folder is one of its files, not a folder of cases.
        if path.is_dir() && path.extension().is_none_or(|e| e != "home") { walk(&path, out) } else { out.push(path) }
    }
}

fn load_case(root: &Path, name: &str) -> Result<Case, String> {
    let base = root.join(name);
    let read = |ext| match std::fs::read_to_string(with_ext(&base, ext)) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(".{ext}: {e}")),
    };
    let args = read("args")?.unwrap_or_default().lines().map(str::to_owned).collect();
    let mut env = Vec::new();
    for line in read("env")?.unwrap_or_default().lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let (var, value) = line.split_once('=').ok_or_else(|| format!(".env: expected VAR=value, got {line:?}"))?;
        env.push((var.to_owned(), value.to_owned()));
    }
    let stdin = std::fs::read(with_ext(&base, "stdin")).unwrap_or_default();
    let mut faults = Vec::new();
    for line in read("faults")?.unwrap_or_default().lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        faults.push(parse_fault(line).ok_or_else(|| format!(".faults: cannot read {line:?}"))?);
    }
    let mode = match read("hub")?.as_deref().map(str::trim) {
        None | Some("plain") => hub::Mode::Plain,
        Some("real") => hub::Mode::Real,
        Some(other) => return Err(format!(".hub: expected plain or real, got {other:?}")),
    };
    let home = Some(with_ext(&base, "home")).filter(|h| h.is_dir());
    Ok(Case { name: name.to_owned(), base, args, env, stdin, faults, mode, home })
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

/// The scrubbed environment of one run, and the placeholders for what differs from run to run.
struct Sandbox {
    root: tempfile::TempDir,
    hub: String,
    cdn: String,
    closed: String,
}

impl Sandbox {
    fn new(hub: &hub::Hub, closed: &str) -> Sandbox {
        let root = tempfile::tempdir().unwrap();
        for dir in ["home", "tmp", "cwd", "empty", "store"] {
            std::fs::create_dir(root.path().join(dir)).unwrap();
        }
        Sandbox { root, hub: hub.endpoint(), cdn: hub.cdn(), closed: closed.to_owned() }
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    fn tmp(&self) -> PathBuf {
        self.root.path().join("tmp")
    }

    /// Placeholder → value, in the order the outputs are scrubbed: longer paths before their parents.
    fn placeholders(&self) -> Vec<(&'static str, String)> {
        let path = |p: PathBuf| p.to_str().expect("a UTF-8 temporary folder").to_owned();
        let mut out = Vec::new();
        for (root, tmp, home) in [
            (self.root.path().to_owned(), self.tmp(), self.home()),
            // The same folders as the program may see them, symlinks resolved.
            (
                self.root.path().canonicalize().unwrap(),
                self.tmp().canonicalize().unwrap(),
                self.home().canonicalize().unwrap(),
            ),
        ] {
            let cwd = root.join("cwd");
            out.extend([("<TMP>", path(tmp)), ("<HOME>", path(home)), ("<CWD>", path(cwd)), ("<ROOT>", path(root))]);
        }
        out.extend([("<HUB>", self.hub.clone()), ("<CDN>", self.cdn.clone()), ("<CLOSED>", self.closed.clone())]);
        out
    }

    /// `<HUB>` and the other placeholders in an argument or a variable, replaced by their values.
    fn expand(&self, text: &str) -> String {
        self.placeholders().iter().fold(text.to_owned(), |t, (name, value)| t.replace(name, value))
    }

    /// What changes from run to run in an output, replaced by placeholders.
    fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (name, value) in self.placeholders() {
            // An address is replaced only whole: `127.0.0.1:4000` is not the start of `127.0.0.1:40001`.
            text = replace_whole(&text, &value, name);
        }
        // `fetch` assembles its output in `$TMPDIR/nix-hug-<pid>-<hex>`.
        text = replace_after(&text, "<TMP>/nix-hug-", |c| c.is_ascii_alphanumeric() || c == '-', "<ID>");
        // The version changes with each release, and `--version` is all there is to see in it.
        text = text.replace(concat!("nix-hug ", env!("CARGO_PKG_VERSION"), "\n"), "nix-hug <VERSION>\n");
        // A retry waits a backoff with jitter.
        replace_after(&text, "retrying in ", |c| c.is_ascii_digit() || c == '.' || c == 's', "<DELAY>")
    }

    /// The `nix-hug` command of `case`, in this environment; `path` is `PATH` (an empty folder if `None`).
    fn command(&self, case: &Case, path: Option<&std::ffi::OsStr>) -> Command {
        let mut cmd = support::scrubbed(env!("CARGO_BIN_EXE_nix-hug"), &self.hub, &self.home(), &self.tmp(), path);
        cmd.current_dir(self.root.path().join("cwd"));
        for arg in &case.args {
            cmd.arg(self.expand(arg));
        }
        for (var, value) in &case.env {
            cmd.env(var, self.expand(value));
        }
        cmd
    }
}

/// `text` with `value` replaced by `by` wherever no digit follows it.
fn replace_whole(text: &str, value: &str, by: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(value) {
        let after = &rest[i + value.len()..];
        out.push_str(&rest[..i]);
        out.push_str(if after.starts_with(|c: char| c.is_ascii_digit()) { value } else { by });
        rest = after;
    }
    out + rest
}

/// `text` with each run of characters satisfying `keep` that follows `marker` replaced by `by`.
fn replace_after(text: &str, marker: &str, keep: impl Fn(char) -> bool, by: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        let after = &rest[i + marker.len()..];
        let end = after.find(|c: char| !keep(c)).unwrap_or(after.len());
        out.push_str(&rest[..i + marker.len()]);
        out.push_str(if end > 0 { by } else { "" });
        rest = &after[end..];
    }
    out + rest
}

/// Copies the files, folders and symlinks in `from` into `to`.
fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dest) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dest).unwrap();
        } else if kind.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&src, &dest);
        } else {
            std::fs::copy(&src, &dest).unwrap();
        }
    }
}

/// Runs `cmd` with `stdin`; its exit code (or how it died), stdout and stderr.
fn run(mut cmd: Command, stdin: &[u8]) -> Streams<String> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // A command that does not read its stdin closes it: that is not an error of the run.
    let writer = std::thread::spawn(move || drop(input.write_all(&stdin)));
    let reader = |mut stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            stream.read_to_end(&mut bytes).unwrap();
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = reader(Box::new(child.stdout.take().unwrap()));
    let stderr = reader(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break match status.code() {
                Some(code) => format!("{code}\n"),
                None => format!("killed: {status}\n"),
            };
        }
        if start.elapsed() > TIMEOUT {
            child.kill().unwrap();
            child.wait().unwrap();
            break format!("timed out after {}s\n", TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    writer.join().unwrap();
    Streams { stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap(), status }
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
fn run_all(cases: &[Case]) -> Vec<Streams<String>> {
    let shared = shared_hubs();
    let closed = closed_endpoint();
    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<usize, Streams<String>>> = Mutex::default();
    std::thread::scope(|s| {
        for _ in 0..PARALLEL.min(cases.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { break };
                    let own = (!case.faults.is_empty()).then(|| {
                        let hub = hub::Hub::start_in(case.mode, hub::fixtures::all());
                        case.faults.iter().for_each(|f| hub.inject(f.clone()));
                        hub
                    });
                    let sandbox = Sandbox::new(own.as_ref().unwrap_or_else(|| hub_of(case, &shared)), &closed);
                    if let Some(home) = &case.home {
                        copy_tree(home, &sandbox.home());
                    }
                    let out = run(sandbox.command(case, None), &case.stdin);
                    let out = Streams {
                        stdout: sandbox.scrub(&out.stdout),
                        stderr: sandbox.scrub(&out.stderr),
                        status: out.status,
                    };
                    results.lock().unwrap().insert(i, out);
                }
            });
        }
    });
    results.into_inner().unwrap().into_values().collect()
}

#[test]
fn cli_snapshots() {
    let (cases, mut problems) = load_cases();
    assert!(!cases.is_empty(), "no case in {}", cases_dir().display());
    let outputs = run_all(&cases);
    let bless = std::env::var_os(BLESS).is_some_and(|v| v == "1");
    let mut blessed = Vec::new();
    for (case, got) in cases.iter().zip(&outputs) {
        let want = case.expected();
        let streams = [
            ("stdout", &want.stdout, &got.stdout),
            ("stderr", &want.stderr, &got.stderr),
            ("status", &want.status, &got.status),
        ];
        if bless {
            for (ext, want, got) in streams {
                if want.as_ref() != Some(got) {
                    std::fs::write(case.file(ext), got).unwrap();
                    blessed.push(format!("{}.{ext}", case.name));
                }
            }
            continue;
        }
        let mut report = String::new();
        for (ext, want, got) in streams {
            match want {
                None => report += &format!("  {}.{ext} is missing; it would be:\n{}", case.name, indent(got)),
                Some(want) if want != got => {
                    report += &format!("  {ext} differs (- expected, + got):\n{}", diff(want, got))
                }
                Some(_) => {}
            }
        }
        if !report.is_empty() {
            problems.push(format!("{}: nix-hug {}\n{report}", case.name, shell_words(&case.args)));
        }
    }
    problems.extend(coverage(&cases, &outputs));
    if bless {
        eprintln!(
            "{BLESS}: {} files written{}",
            blessed.len(),
            blessed.iter().map(|f| format!("\n  {f}")).collect::<String>()
        );
    }
    let failed = problems.len();
    assert!(
        problems.is_empty(),
        "{failed} problem(s) in {} cases:\n\n{}\n\nIf the new outputs are right, record them with `{BLESS}=1 cargo test \
         --test snapshots` and review `git diff tests/cmd`.",
        cases.len(),
        problems.join("\n")
    );
}

/// Each command listed in a help text (`nix-hug --help`, and `nix-hug store --help` for the commands of
/// `store`) has a `--help` case; each global flag is used by some case, and each other flag in a
/// command's help by one of that command's cases.
fn coverage(cases: &[Case], outputs: &[Streams<String>]) -> Vec<String> {
    let help_of = |words: &[&str]| {
        let i =
            cases.iter().position(|c| c.args.iter().map(String::as_str).eq(words.iter().copied().chain(["--help"])))?;
        Some(outputs[i].stdout.as_str())
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

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    |{l}\n")).collect()
}

/// The args as one might type them in a shell.
fn shell_words(args: &[String]) -> String {
    let quote = |a: &String| {
        if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c)) {
            a.clone()
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    args.iter().map(quote).collect::<Vec<_>>().join(" ")
}

/// A line diff of `want` and `got` (longest common subsequence), with a few lines of context around
/// each change: `-|` starts a line only expected, `+|` one only got, and `~|...` stands for lines left
/// out. A missing final newline shows as `⏎ missing`.
fn diff(want: &str, got: &str) -> String {
    let split = |s: &str| -> Vec<String> {
        let line = |l: &str| l.strip_suffix('\n').map_or_else(|| format!("{l}⏎ missing"), str::to_owned);
        s.split_inclusive('\n').map(line).collect()
    };
    let (a, b) = (split(want), split(got));
    // lcs[i][j]: the length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', &a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', &a[i]));
            i += 1;
        } else {
            ops.push(('+', &b[j]));
            j += 1;
        }
    }
    const CONTEXT: usize = 3;
    let near_change = |k: usize| {
        let lo = k.saturating_sub(CONTEXT);
        let hi = (k + CONTEXT + 1).min(ops.len());
        ops[lo..hi].iter().any(|(op, _)| *op != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (op, line)) in ops.iter().enumerate() {
        if near_change(k) {
            if skipped {
                out += "    ~|...\n";
                skipped = false;
            }
            out += &format!("    {op}|{line}\n");
        } else {
            skipped = true;
        }
    }
    if skipped {
        out += "    ~|...\n";
    }
    out
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
    let path = std::env::var_os("PATH").unwrap_or_default();
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("lib");
    let package = support::static_package();
    let mut built = 0;
    for case in &cases {
        let want = case.expected();
        let is_expression = want.stdout.as_deref().is_some_and(|s| s.starts_with("nix-hug-lib."));
        if want.status.as_deref() != Some("0\n") || !is_expression || !case.faults.is_empty() {
            continue;
        }
        match build_case(case, &want, hub_of(case, &hubs), &closed, &path, &lib, &package) {
            Ok(store_path) => {
                eprintln!("{}: {store_path}", case.name);
                built += 1;
            }
            Err(e) => problems.push(format!("{}: nix-hug {}\n{e}", case.name, shell_words(&case.args))),
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
fn build_case(
    case: &Case,
    want: &Streams<Option<String>>,
    hub: &hub::Hub,
    closed: &str,
    path: &std::ffi::OsStr,
    lib: &Path,
    package: &Path,
) -> Result<String, String> {
    let sandbox = Sandbox::new(hub, closed);
    if let Some(home) = &case.home {
        copy_tree(home, &sandbox.home());
    }
    let mut cmd = sandbox.command(case, Some(path));
    cmd.env("NIX_REMOTE", "local");
    let out = run(cmd, &case.stdin);
    let (stdout, stderr) = (sandbox.scrub(&out.stdout), sandbox.scrub(&out.stderr));
    if out.status != "0\n" || Some(&stdout) != want.stdout.as_ref() {
        return Err(format!(
            "with Nix, exit {}and not the same expression:\n{}\nstderr:\n{}",
            out.status,
            diff(want.stdout.as_deref().unwrap_or_default(), &stdout),
            indent(&stderr)
        ));
    }
    let Some(store_path) = support::reported_path(&stderr) else {
        return Err(format!("with Nix, no store path reported on stderr:\n{}", indent(&stderr)));
    };

    let file = sandbox.root.path().join("expression.nix");
    let prelude = format!(
        "let nix-hug-lib = import {} {{ nix-hug = builtins.path {{ path = {}; name = \"nix-hug-static\"; }}; }}; in\n",
        lib.display(),
        package.display()
    );
    std::fs::write(&file, prelude + &out.stdout).unwrap();
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
        return Err(format!("nix-build --check failed:\n{}", indent(&String::from_utf8_lossy(&result.stderr))));
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
