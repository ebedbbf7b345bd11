//! Multi-user Nix, as most users run it: a `nix-daemon` owns the store and a normal user talks to it.
//! The test runs as root, starts the daemon with an environment of its own choosing, and runs
//! `nix-hug`, `nix-build` and `nix-store` as the unprivileged `nix-hug-user` (made by `scripts/setup`
//! and `scripts/nix-root`) with `NIX_REMOTE=daemon`.

mod hub;
mod support;

use hub::files::Files;
use hub::{Hub, fixtures};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

const USER: &str = "nix-hug-user";
const SOCKET: &str = "/nix/var/nix/daemon-socket/socket";

/// A `nix-daemon` started for the test; killed on Drop.
struct Daemon(Child);

impl Daemon {
    /// The daemon sees only `vars` (and a PATH): what a systemd unit without `Environment=` lines gives.
    fn start(vars: &[(&str, &str)]) -> Daemon {
        assert!(is_root(), "the multi-user test runs as root, to start the daemon");
        let _ = std::fs::remove_file(SOCKET);
        let child = Command::new("nix-daemon")
            .args(support::SANDBOX)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .envs(vars.iter().copied())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting nix-daemon (is Nix installed? see README.md)");
        let daemon = Daemon(child);
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(SOCKET).is_err() {
            assert!(start.elapsed() < Duration::from_secs(20), "nix-daemon did not open {SOCKET}");
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// `program` run as the test user with its groups (`nix-users`, where the daemon's socket requires it).
fn as_user(program: &str) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", USER, "--regid", USER, "--init-groups", "--", program]);
    cmd
}

/// A home for the user: owned by it, and readable by the daemon's evaluation of what it builds. It
/// holds copies of the CLI, the static builder and `lib/`, so that the user needs no access to the
/// checkout (which may sit in root's home).
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let ids = support::user_ids(USER);
        let root = dir.path();
        let project = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::create_dir_all(root.join("nix-hug-static/bin")).unwrap();
        std::fs::create_dir(root.join("lib")).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_nix-hug"), root.join("nix-hug")).unwrap();
        std::fs::copy(support::static_package().join("bin/nix-hug"), root.join("nix-hug-static/bin/nix-hug")).unwrap();
        for entry in std::fs::read_dir(project.join("lib")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), root.join("lib").join(entry.file_name())).unwrap();
        }
        for path in walkdir::WalkDir::new(root) {
            let path = path.unwrap().into_path();
            let mode = if path.is_dir() || path.ends_with("nix-hug") { 0o755 } else { 0o644 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        std::os::unix::fs::chown(root, Some(ids.0), Some(ids.1)).unwrap();
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `program args…` as the user, through the daemon, with `vars` on top of a scrubbed environment.
    fn run(&self, program: &str, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let home = self.path();
        as_user(program)
            .args(args)
            .current_dir(home)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", home)
            .env("TMPDIR", home)
            .env("NIX_REMOTE", "daemon")
            .env("NIX_HUG_PERSIST_DIR", home.join("persist"))
            .envs(vars.iter().copied())
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"))
    }

    fn ok(&self, program: &str, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let out = self.run(program, args, vars);
        assert!(
            out.status.success(),
            "{program} {args:?} as {USER} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn nix_hug(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        self.ok(self.path().join("nix-hug").to_str().unwrap(), args, vars)
    }

    /// `nix-build` as the user of `expression` (as `nix-hug fetch` prints it) against `lib/`.
    fn build(&self, name: &str, expression: &str, vars: &[(&str, &str)]) -> Result<String, String> {
        let file = self.path().join(format!("{name}.nix"));
        let prelude = format!(
            "let nix-hug-lib = import {} {{ nix-hug = builtins.path {{ path = {}; name = \"nix-hug-static\"; }}; }}; in\n",
            self.path().join("lib").display(),
            self.path().join("nix-hug-static").display()
        );
        std::fs::write(&file, prelude + expression).unwrap();
        let out = self.run("nix-build", &["--no-out-link", file.to_str().unwrap()], vars);
        if out.status.success() {
            Ok(String::from_utf8(out.stdout).unwrap().trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn added(stderr: &str) -> String {
    let path = support::reported_path(stderr);
    path.unwrap_or_else(|| panic!("no store path reported in\n{stderr}")).to_owned()
}

fn valid(home: &Home, path: &str) -> bool {
    home.run("nix-store", &["--check-validity", path], &[]).status.success()
}

/// A gated repo: the user's token reaches only the user's `nix-hug fetch`, which puts the output in the
/// store through the daemon; the printed expression then builds for the user with the Hub stopped
/// (so without running the builder). Export, garbage collection, `store ls` and import work for the user.
#[test]
#[ignore = "needs nix"]
fn a_normal_user_pre_seeds_builds_exports_and_imports_through_the_daemon() {
    let hub = Hub::start(fixtures::all());
    let endpoint = hub.endpoint();
    let _daemon = Daemon::start(&[]);
    let home = Home::new();
    let user_env = [("HF_ENDPOINT", endpoint.as_str()), ("HF_TOKEN", "hf_testtoken")];

    let fetch = home.nix_hug(&["fetch", "acme/gated"], &user_env);
    let (expression, stderr) = text(&fetch);
    let store_path = added(&stderr);
    support::forget(&store_path);
    let fetch = home.nix_hug(&["fetch", "acme/gated"], &user_env);
    let (expression_again, stderr) = text(&fetch);
    assert_eq!(expression_again, expression);
    assert_eq!(added(&stderr), store_path);
    assert!(valid(&home, &store_path), "{store_path} is in the daemon's store");
    assert!(!stderr.contains("hf_testtoken") && !expression.contains("hf_testtoken"));

    let export = home.nix_hug(&["export", "acme/gated"], &user_env);
    assert_eq!(text(&export).0, expression, "export prints the same expression");

    let api = endpoint.strip_prefix("http://").unwrap().to_owned();
    drop(hub);
    assert!(std::net::TcpStream::connect(&api).is_err(), "the Hub is stopped");
    let built = home.build("gated", &expression, &[]).unwrap_or_else(|e| panic!("building {expression}:\n{e}"));
    assert_eq!(built, store_path, "already in the store: nothing was downloaded");

    support::forget(&store_path);
    assert!(!valid(&home, &store_path));
    let ls = text(&home.nix_hug(&["store", "ls"], &[])).0;
    assert!(ls.lines().any(|l| l.starts_with("acme/gated ") && l.contains("  garbage-collected")), "{ls}");
    let import = home.nix_hug(&["import", "acme/gated"], &[]);
    assert_eq!(text(&import).0, format!("{store_path}\n"));
    assert!(valid(&home, &store_path), "imported by the user through the daemon, without a signature");
    let ls = text(&home.nix_hug(&["store", "ls"], &[])).0;
    assert!(ls.lines().any(|l| l.starts_with("acme/gated ") && l.contains("  in store")), "{ls}");
    let built = home.build("gated", &expression, &[]).unwrap();
    assert_eq!(built, store_path);
}

/// The builder of a fetch derivation sees the daemon's environment, never the user's: `HF_ENDPOINT`
/// set only for the user does not reach it, and set only for the daemon it does.
#[test]
#[ignore = "needs nix"]
fn the_builder_sees_the_daemons_environment_not_the_users() {
    let hub = Hub::start(fixtures::all());
    let endpoint = hub.endpoint();
    let home = Home::new();
    let fixture = fixtures::tiny_bert();
    let commit = &fixture.commits[0].sha;
    // A dead endpoint for the daemon: the user's HF_ENDPOINT must not rescue the build.
    let dead = format!("http://{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap());
    let (store_path, expression) = {
        let _daemon = Daemon::start(&[("HF_ENDPOINT", &dead)]);
        let args = ["fetch", "acme/tiny-bert", "--ref", commit, "--file", "config.json"];
        let (expression, stderr) = text(&home.nix_hug(&args, &[("HF_ENDPOINT", &endpoint)]));
        let store_path = added(&stderr);
        support::forget(&store_path);
        let err = home.build("config", &expression, &[("HF_ENDPOINT", &endpoint)]).expect_err("the user's endpoint");
        assert!(err.contains(dead.strip_prefix("http://").unwrap()), "the builder tried the daemon's endpoint:\n{err}");
        (store_path, expression)
    };
    hub.clear_requests();
    let _daemon = Daemon::start(&[("HF_ENDPOINT", &endpoint)]);
    let built = home.build("config", &expression, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(built, store_path);
    assert!(hub.requests().iter().any(|r| r.target.contains("/resolve/")), "the builder downloaded from the Hub");
}

/// A persist directory served to a normal user: the daemon ignores the user's `extra-substituters`
/// unless it trusts the URL (`trusted-substituters` in its configuration); then the printed expression
/// builds from it, with the Hub stopped and no key.
#[test]
#[ignore = "needs nix"]
fn a_user_substitutes_from_a_served_persist_directory_the_daemon_trusts() {
    let hub = Hub::start(fixtures::all());
    let endpoint = hub.endpoint();
    let home = Home::new();
    let (expression, store_path) = {
        let _daemon = Daemon::start(&[]);
        let args = ["export", "acme/tiny-bert", "--file", "config.json", "--file", "vocab.txt"];
        let (expression, stderr) = text(&home.nix_hug(&args, &[("HF_ENDPOINT", &endpoint)]));
        (expression, added(&stderr))
    };
    drop(hub);
    let server = Files::serve(&home.path().join("persist"));
    let user_config = format!("extra-substituters = {}", server.url());
    let user_env = [("NIX_CONFIG", user_config.as_str())];
    support::forget(&store_path);

    {
        let _daemon = Daemon::start(&[]);
        let out = home.run("nix-store", &["--realise", &store_path], &user_env);
        let (_, stderr) = text(&out);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains(&format!("ignoring untrusted substituter '{}'", server.url())), "{stderr}");
        assert!(server.requests().is_empty(), "{:?}", server.requests());
    }
    let trusted = format!("trusted-substituters = {}", server.url());
    let _daemon = Daemon::start(&[("NIX_CONFIG", &trusted)]);
    let built = home.build("shared", &expression, &user_env).unwrap_or_else(|e| panic!("building {expression}:\n{e}"));
    assert_eq!(built, store_path);
    let narinfo = format!("/{}.narinfo", &store_path["/nix/store/".len()..][..32]);
    assert!(server.served().contains(&narinfo), "{:?}", server.served());
}
