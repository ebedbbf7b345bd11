//! Shared by the tests that run real Nix: the statically linked builder and `nix` commands with a
//! local store and the sandbox on. These tests are `#[ignore = "needs nix"]` and `.ci/run` runs them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// A folder with `bin/nix-hug` statically linked, the builder of `lib/` derivations in the sandbox.
/// `NIX_HUG_STATIC_BIN` names a prebuilt one; otherwise it is built once into `target/static`.
pub fn static_package() -> PathBuf {
    static PACKAGE: OnceLock<PathBuf> = OnceLock::new();
    PACKAGE
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            let bin = match std::env::var_os("NIX_HUG_STATIC_BIN") {
                Some(bin) => PathBuf::from(bin),
                None => {
                    let target = root.join("target/static");
                    let status = Command::new(env!("CARGO"))
                        .args(["build", "--release", "--target", "x86_64-unknown-linux-gnu", "--target-dir"])
                        .arg(&target)
                        .env("RUSTFLAGS", "-C target-feature=+crt-static")
                        .current_dir(root)
                        .status()
                        .expect("running cargo");
                    assert!(status.success(), "building the static nix-hug failed");
                    target.join("x86_64-unknown-linux-gnu/release/nix-hug")
                }
            };
            // One folder for every test process, kept in the build's own temporary folder: each puts the
            // binary in place by a rename, so no reader ever sees a part of it or a file of another.
            let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
            let package = tmp.join("nix-hug-static");
            std::fs::create_dir_all(package.join("bin")).unwrap();
            let copy = tmp.join(format!(".nix-hug-static.{}", std::process::id()));
            std::fs::copy(&bin, &copy).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
            std::fs::rename(&copy, package.join("bin/nix-hug")).unwrap();
            package
        })
        .clone()
}

/// `program` (`nix-hug`, or what runs it) as a user runs it, in a scrubbed environment: the Hub at `endpoint`, no token, HOME `home`
/// (so the Hugging Face cache and the config file are in their default places under it), TMPDIR `tmp`,
/// and PATH `path`. Without a `path` there is no Nix: PATH and NIX_STORE_DIR name folders that do not
/// exist, so that no output already in this machine's store stands in for a download.
pub fn scrubbed(
    program: impl AsRef<std::ffi::OsStr>,
    endpoint: &str,
    home: &Path,
    tmp: &Path,
    path: Option<&std::ffi::OsStr>,
) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear().env("HF_ENDPOINT", endpoint).env("HOME", home).env("TMPDIR", tmp).env("NO_COLOR", "1");
    match path {
        Some(path) => cmd.env("PATH", path),
        None => cmd.env("PATH", home.join("no-nix")).env("NIX_STORE_DIR", home.join("no-store")),
    };
    cmd
}

/// `nix-hug` without Nix, with HOME and TMPDIR both `dir`.
pub fn nix_hug_without_nix(endpoint: &str, dir: &Path) -> Command {
    scrubbed(env!("CARGO_BIN_EXE_nix-hug"), endpoint, dir, dir, None)
}

/// A `nix*` command with a local store and no Hub settings leaking in from the environment.
pub fn nix(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("NIX_REMOTE", "local")
        .env_remove("HF_ENDPOINT")
        .env_remove("HF_TOKEN")
        .env_remove("HUGGING_FACE_HUB_TOKEN");
    cmd
}

/// The uid and gid of `user` (the normal user of the multi-user and client tests, made by scripts/setup).
pub fn user_ids(user: &str) -> (u32, u32) {
    let id = |flag| stdout_ok(Command::new("id").args([flag, user])).parse().unwrap();
    (id("-u"), id("-g"))
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (is Nix installed? see README.md)"))
}

pub fn stdout_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Every build runs in the sandbox, and a sandbox that cannot start fails the build instead of being
/// skipped quietly (`sandbox-fallback` is on by default).
pub const SANDBOX: [&str; 6] = ["--option", "sandbox", "true", "--option", "sandbox-fallback", "false"];

/// `nix-build` in the sandbox, with no result link and no binary cache to ask (there is none here).
pub fn nix_build_command() -> Command {
    let mut cmd = nix("nix-build");
    cmd.args(SANDBOX).args(["--option", "substituters", "", "--no-out-link"]);
    cmd
}

/// `nix-build FILE -A ATTR` in the sandbox; the output on success, Nix's stderr on failure.
pub fn nix_build(file: &Path, attr: &str) -> Result<String, String> {
    built(nix_build_command().args(["-A", attr]).arg(file))
}

/// The `env` attribute of `ATTR` in `file`, as JSON.
pub fn env_of(file: &Path, attr: &str) -> serde_json::Value {
    let json = stdout_ok(
        nix("nix-instantiate").args(["--eval", "--strict", "--json", "-A"]).arg(format!("{attr}.env")).arg(file),
    );
    serde_json::from_str(&json).unwrap()
}

/// Runs a `nix-build` command: the output path on success, Nix's stderr on failure.
pub fn built(cmd: &mut Command) -> Result<String, String> {
    let out = run(cmd);
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap().trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `nix-build` of an expression as `nix-hug fetch` prints it (`nix-hug-lib.fetchModel { … }`), against
/// `lib/` with the static builder, from a file written in `dir`.
pub fn build_expression(dir: &Path, expression: &str) -> Result<String, String> {
    nix_build(&expression_file(dir, expression), "")
}

/// `dir/expression.nix`: `expression`, in which `nix-hug-lib` is `lib/` with the static builder.
pub fn expression_file(dir: &Path, expression: &str) -> PathBuf {
    let file = dir.join("expression.nix");
    let prelude = format!(
        "let\n  nix-hug-lib = import {} {{ nix-hug = builtins.path {{ path = {}; name = \"nix-hug-static\"; }}; }};\nin\n",
        Path::new(env!("CARGO_MANIFEST_DIR")).join("lib").display(),
        static_package().display()
    );
    std::fs::write(&file, prelude + expression).unwrap();
    file
}

/// A Nix string literal.
pub fn nix_str(s: &str) -> String {
    serde_json::to_string(s).unwrap().replace("${", "\\${")
}

/// Removes `path` and whatever refers to it from the store, so the next build really runs. A daemon's
/// worker may hold a client's temporary roots for a moment after the client is gone, so a path that is
/// still alive is tried again for a few seconds.
pub fn forget(path: &str) {
    let valid = run(nix("nix-store").args(["--check-validity", path])).status.success();
    if !valid {
        return;
    }
    let closure = stdout_ok(nix("nix-store").args(["--query", "--referrers-closure", path]));
    let start = std::time::Instant::now();
    loop {
        let out = run(nix("nix-store").arg("--delete").args(closure.lines()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            return;
        }
        assert!(
            stderr.contains("since it is still alive") && start.elapsed() < std::time::Duration::from_secs(10),
            "nix-store --delete {path} failed:\n{stderr}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The store path a `nix-hug fetch` reported on stderr: the output it added, or the one it found there.
pub fn reported_path(stderr: &str) -> Option<&str> {
    stderr.lines().find_map(|l| {
        l.strip_prefix("nix-hug: added ").or_else(|| l.split_once(" is already in the store: ").map(|(_, path)| path))
    })
}

/// `NIX_HUG_BUILT_PATHS` names a file that collects `ATTR PATH` lines, so that `scripts/test` can hold
/// the builds of several Nix versions to the same paths.
pub fn record(attr: &str, path: &str) {
    if let Some(file) = std::env::var_os("NIX_HUG_BUILT_PATHS") {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(file).unwrap();
        std::io::Write::write_all(&mut file, format!("{attr} {path}\n").as_bytes()).unwrap();
    }
}
