//! Every Python client our users run, on a cache in a read-only /nix/store: `check_cache.py` run by each
//! venv of `tests/python/clients/` (`$NIX_HUG_CLIENTS/<name>`, made by `scripts/setup`) as the
//! unprivileged `$NIX_HUG_CLIENT_USER`, in a mount namespace where /nix/store is bind-mounted read-only
//! as on NixOS, once offline and once with the Hub merely unreachable. Besides the script's own checks,
//! no stderr line may speak of the cache or of a failed write.

use regex::Regex;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Instant;

/// Longer than any client needs, even retrying an unreachable Hub with backoff: nothing may hang.
const TIMEOUT_SECONDS: &str = "900";

/// What a stderr line about the cache looks like, the cache's path aside: a warning naming it, one of its
/// folders or files, or a failed write.
const ABOUT_THE_CACHE: &str = r"(?i)\bcache\b|version\.txt|\.locks|\.no_exist|\bblobs/|\bsnapshots/|\brefs/|\btrees/|errno 13|errno 30|permission|read-only";

struct Client {
    name: String,
    python: PathBuf,
    transformers: bool,
}

/// What a client does on every read-only cache that no output of ours can prevent without making the
/// others warn. Pinned rather than ignored: the test fails when it stops, as when anything else shows.
#[derive(Default)]
struct Known {
    /// The stderr lines about the cache it prints: each contains one of these, and each of these shows.
    stderr: &'static [&'static str],
    /// Relative to the cache: the only writes it tries.
    writes: &'static [&'static str],
}

fn known(client: &Client, cache: &str, expect: &serde_json::Value) -> Known {
    // transformers 4.x keeps a cache version of its own in `version.txt` at the cache root and, on
    // import, warns and tries to write it when absent. buildCache outputs carry it; fetch outputs, whose
    // every byte is pinned by a fileTreeHash, do not. check_cache.py imports it only to load a model.
    let loads_a_model = expect["repos"].as_array().unwrap().iter().any(|r| r["load"] == "transformers");
    if client.name.starts_with("transformers-4.") && loads_a_model && !Path::new(cache).join("version.txt").is_file() {
        Known {
            stderr: &[
                "cache for model files in Transformers v4.22.0 has been updated",
                "There was a problem when trying to write in your cache folder",
            ],
            writes: &["version.txt"],
        }
    } else {
        Known::default()
    }
}

#[derive(Clone, Copy)]
enum Mode {
    Offline,
    /// No offline flag; `HF_ENDPOINT` names a closed loopback port.
    Unreachable,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Offline => "offline",
            Mode::Unreachable => "hub unreachable",
        }
    }
}

/// The client venvs in `venvs`, all of `tests/python/clients/`.
fn clients(venvs: &Path) -> Vec<Client> {
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/clients");
    let mut clients: Vec<Client> = std::fs::read_dir(&specs)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .map(|spec| {
            let name = spec.file_stem().unwrap().to_str().unwrap().to_owned();
            let venv = venvs.join(&name);
            let wanted = std::fs::read_to_string(&spec).unwrap();
            let installed = std::fs::read_to_string(venv.join("requirements.txt")).ok();
            assert!(
                installed.as_ref() == Some(&wanted),
                "{}: not installed from {} (. scripts/setup)",
                venv.display(),
                spec.display()
            );
            let transformers = wanted.lines().any(|l| l.starts_with("transformers=="));
            Client { name, python: venv.join("bin/python"), transformers }
        })
        .collect();
    clients.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(!clients.is_empty(), "no client in {}", specs.display());
    clients
}

/// The loads this client can do (the others become null: datasets is the test venv's), on a read-only
/// mount, with the writes it is known to try.
fn expect_for(client: &Client, cache: &str, expect: &serde_json::Value) -> serde_json::Value {
    let mut expect = expect.clone();
    expect["read_only"] = true.into();
    expect["writes"] = known(client, cache, &expect).writes.into();
    for repo in expect["repos"].as_array_mut().unwrap() {
        if !(client.transformers && repo["load"] == "transformers") {
            repo["load"] = serde_json::Value::Null;
        }
    }
    expect
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One client in one mode: its closing line, or what went wrong.
fn run(client: &Client, mode: Mode, cache: &str, expect: &serde_json::Value) -> Result<String, String> {
    let user = std::env::var("NIX_HUG_CLIENT_USER")
        .expect("NIX_HUG_CLIENT_USER must name an unprivileged user (. scripts/setup)");
    // The user's HOME and TMPDIR, removed (by root) when done.
    let home = tempfile::tempdir().unwrap();
    let expect_file = home.path().join("expect.json");
    std::fs::write(&expect_file, serde_json::to_vec_pretty(&expect_for(client, cache, expect)).unwrap()).unwrap();
    let (uid, gid) = crate::support::user_ids(&user);
    std::os::unix::fs::chown(home.path(), Some(uid), Some(gid)).unwrap();

    // A copy the user can read wherever the checkout is (root's home, say).
    let script = home.path().join("check_cache.py");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/check_cache.py"), &script).unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-ec"])
        .arg("mount --bind /nix/store /nix/store; mount -o remount,bind,ro /nix/store; exec \"$@\"")
        .args(["sh", "setpriv", "--reuid", &uid.to_string(), "--regid", &gid.to_string(), "--init-groups", "--"])
        .args(["timeout", "--kill-after=10", TIMEOUT_SECONDS])
        .arg(&client.python)
        .arg(script)
        .arg(&expect_file)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LANG", "C.UTF-8")
        .env("HOME", home.path())
        .env("TMPDIR", home.path())
        .env("HF_HUB_CACHE", cache)
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1");
    match mode {
        Mode::Offline => cmd.env("HF_HUB_OFFLINE", "1"),
        Mode::Unreachable => cmd.env("HF_ENDPOINT", format!("http://127.0.0.1:{}", closed_port())),
    };
    let started = Instant::now();
    let out = crate::support::run(&mut cmd);
    let seconds = started.elapsed().as_secs();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("check_cache.py failed ({}):\n{stdout}{stderr}", out.status));
    }
    let about = Regex::new(ABOUT_THE_CACHE).unwrap();
    let (about_cache, others): (Vec<&str>, Vec<&str>) =
        stderr.lines().partition(|l| l.contains(cache) || about.is_match(l));
    let known = known(client, cache, expect);
    let unknown: Vec<&&str> = about_cache.iter().filter(|l| !known.stderr.iter().any(|k| l.contains(k))).collect();
    let missing: Vec<&&str> = known.stderr.iter().filter(|k| !about_cache.iter().any(|l| l.contains(*k))).collect();
    if !unknown.is_empty() || !missing.is_empty() {
        return Err(format!("stderr about the cache: {unknown:#?}, known lines missing: {missing:?}\n{stderr}"));
    }
    let summary =
        stdout.lines().find_map(|l| l.strip_prefix("ok: all checks passed for ")).ok_or(stdout.to_string())?;
    Ok(format!(
        "{summary}; stderr: {} known line(s) about the cache, {} other(s); {seconds} s",
        about_cache.len(),
        others.len()
    ))
}

/// Loads each output (`(what, store path, EXPECT of check_cache.py)`) with every client in both modes, all
/// at once (an unreachable Hub mostly means waiting for retries), and prints one line per output, client
/// and mode. Fails listing every failure.
pub fn check_with_clients(outputs: &[(&str, &str, &serde_json::Value)]) {
    let venvs = std::env::var("NIX_HUG_CLIENTS").expect("NIX_HUG_CLIENTS must name the client venvs (. scripts/setup)");
    if venvs.is_empty() {
        // Said, not silent: scripts/test sets it empty where the host's Python is not (a root of another
        // Nix), and the outputs there are the same store paths as on the host.
        println!("client: none run: NIX_HUG_CLIENTS is empty");
        return;
    }
    let clients = clients(Path::new(&venvs));
    let runs: Vec<(String, &Client, Mode, &str, &serde_json::Value)> = outputs
        .iter()
        .flat_map(|&(what, cache, expect)| {
            clients.iter().flat_map(move |client| {
                [Mode::Offline, Mode::Unreachable]
                    .map(|mode| (format!("{what}, {} {}", client.name, mode.name()), client, mode, cache, expect))
            })
        })
        .collect();
    let results: Vec<(&str, Result<String, String>)> = thread::scope(|scope| {
        let threads: Vec<_> = runs
            .iter()
            .map(|(label, client, mode, cache, expect)| {
                scope.spawn(move || (label.as_str(), run(client, *mode, cache, expect)))
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let mut failures = Vec::new();
    for (label, result) in results {
        match result {
            Ok(summary) => println!("client: {label}: {summary}"),
            Err(why) => {
                println!("client: {label}: FAILED");
                failures.push(format!("{label}: {why}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} client runs failed:\n\n{}",
        failures.len(),
        runs.len(),
        failures.join("\n\n")
    );
}

/// `check_cache.py` on `cache`, offline, with the Python of `NIX_HUG_TEST_PYTHON`.
pub fn check_cache(cache: &str, expect: &serde_json::Value) {
    check_cache_in(&serde_json::json!({ "HF_HUB_CACHE": cache, "HF_HUB_OFFLINE": "1" }), expect);
}

/// `check_cache.py` with exactly the variables of `env` (a result's `env` attribute) for the Hub's.
pub fn check_cache_in(env: &serde_json::Value, expect: &serde_json::Value) {
    let python = std::env::var("NIX_HUG_TEST_PYTHON")
        .expect("NIX_HUG_TEST_PYTHON must name a Python with tests/python/requirements.txt installed (see README.md)");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec_pretty(expect).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/check_cache.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(file.path())
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_ENDPOINT")
        .envs(env.as_object().unwrap().iter().map(|(k, v)| (k, v.as_str().unwrap())))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "check_cache.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("ok: all checks passed"), "{stdout}");
}
