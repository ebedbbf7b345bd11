//! The flake, evaluated, checked, built and run by real Nix, with `nixpkgs` overridden by the stand-in
//! in `tests/flake/nixpkgs` (nixpkgs itself cannot be fetched here); and a consumer flake that uses
//! `nix-hug.lib.${system}.fetchModel` and `buildCache`, built in the sandbox against the loopback Hub.

mod hub;
mod support;

use hub::{Hub, fixtures};
use nix_hug::nar;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{SANDBOX, nix, nix_str, run};

const SYSTEM: &str = "x86_64-linux";

/// The stand-in nixpkgs in a temporary folder, with the busybox its builders run and the static nix-hug
/// its `buildRustPackage` installs.
fn stand_in() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("nixpkgs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(project.join("tests/flake/nixpkgs/flake.nix"), root.join("flake.nix")).unwrap();
    let busybox = std::env::var("NIX_HUG_TEST_BUSYBOX")
        .expect("NIX_HUG_TEST_BUSYBOX must name a static busybox (scripts/setup provides one)");
    std::fs::copy(&busybox, root.join("bin/busybox")).unwrap_or_else(|e| panic!("{busybox}: {e}"));
    std::fs::copy(support::static_package().join("bin/nix-hug"), root.join("nix-hug")).unwrap();
    let url = format!("path:{}", root.display());
    (dir, url)
}

/// This checkout as a flake: its tracked files, as Nix reads a git working tree.
fn project_flake() -> String {
    format!("git+file://{}", env!("CARGO_MANIFEST_DIR"))
}

/// `nix ARGS…` with flakes on, the sandbox on, no binary cache, no lock file written, and the inputs
/// overridden as `overrides` says.
fn nix_flake(args: &[&str], overrides: &[(&str, &str)]) -> Command {
    let mut cmd = nix("nix");
    cmd.args(["--extra-experimental-features", "nix-command flakes"]).args(args).args(SANDBOX).args([
        "--option",
        "substituters",
        "",
        "--no-write-lock-file",
    ]);
    for (input, url) in overrides {
        cmd.args(["--override-input", input, url]);
    }
    cmd
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The output of `nix build --json` (the one form every Nix version has).
fn built(json: &str) -> PathBuf {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    PathBuf::from(v[0]["outputs"]["out"].as_str().unwrap_or_else(|| panic!("no output in {json}")))
}

/// Whether an ELF file asks for a dynamic loader (has a `PT_INTERP` program header).
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..5], b"\x7fELF\x02", "a 64-bit ELF file");
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| {
        let at = phoff + i * size;
        u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) == 3
    })
}

#[test]
#[ignore = "needs nix"]
fn the_flake_checks_builds_and_runs() {
    let (_dir, nixpkgs) = stand_in();
    let flake = project_flake();
    let overrides = [("nixpkgs", nixpkgs.as_str())];

    ok(&mut nix_flake(&["flake", "check", &flake], &overrides));
    let show = ok(&mut nix_flake(&["flake", "show", &flake], &overrides));
    assert!(show.contains("nix-hug") && show.contains("lib"), "{show}");
    let lib = ok(&mut nix_flake(&["eval", &format!("{flake}#lib.{SYSTEM}")], &overrides));
    for function in ["fetchModel", "fetchDataset", "fetchSpace", "buildCache"] {
        assert!(lib.contains(function), "{lib}");
    }
    let do_check = ok(&mut nix_flake(&["eval", &format!("{flake}#nix-hug.doCheck")], &overrides));
    assert_eq!(do_check.trim(), "true", "the package runs the tests that need neither Nix nor the network");

    let package =
        built(&ok(&mut nix_flake(&["build", &format!("{flake}#nix-hug"), "--no-link", "--json"], &overrides)));
    let binary = std::fs::read(package.join("bin/nix-hug")).unwrap();
    assert!(!has_interpreter(&binary), "{}: statically linked, as the README says", package.display());
    for completion in [
        "share/bash-completion/completions/nix-hug.bash",
        "share/zsh/site-functions/_nix-hug",
        "share/fish/vendor_completions.d/nix-hug.fish",
    ] {
        let text = std::fs::read_to_string(package.join(completion)).unwrap_or_else(|e| panic!("{completion}: {e}"));
        assert!(text.contains("fetch"), "{completion}: {text}");
    }

    let version = ok(nix_flake(&["run", &flake], &overrides).args(["--", "--version"]));
    assert_eq!(version, format!("nix-hug {}\n", env!("CARGO_PKG_VERSION")));
}

/// A flake of a user's: `nix-hug.lib.${system}.fetchModel` with the expression `nix-hug fetch` printed,
/// and `buildCache` of it, built in the sandbox (the fetch downloading from the Hub there).
#[test]
#[ignore = "needs nix"]
fn a_consumer_flake_builds_a_cache() {
    let hub = Hub::start(fixtures::all());
    let (dir, nixpkgs) = stand_in();
    let fetch = ["fetch", "acme/tiny-bert", "--include", "*.safetensors"];
    let cli = support::nix_hug_without_nix(&hub.endpoint(), dir.path()).args(fetch).output().unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    let expression = String::from_utf8(cli.stdout).unwrap();
    let hash = expression.lines().find_map(|l| l.strip_prefix("  fileTreeHash = \"")?.strip_suffix("\";")).unwrap();
    let commit = &fixtures::tiny_bert().commits[1].sha;
    let fetch_path =
        nar::fixed_output_path(&nar::parse_hash(hash).unwrap(), &format!("hf-model-acme-tiny-bert-{commit}")).unwrap();
    support::forget(&fetch_path);

    let consumer = dir.path().join("consumer");
    std::fs::create_dir(&consumer).unwrap();
    std::fs::write(
        consumer.join("flake.nix"),
        format!(
            "{{\n  inputs.nix-hug.url = {};\n  outputs = {{ self, nix-hug }}:\n    let\n      \
             nix-hug-lib = nix-hug.lib.{SYSTEM};\n      model = {};\n    in {{\n      \
             packages.{SYSTEM} = {{ inherit model; default = nix-hug-lib.buildCache {{ models = [ model ]; }}; }};\n    \
             }};\n}}\n",
            nix_str(&project_flake()),
            expression.trim_end().replace('\n', "\n      ")
        ),
    )
    .unwrap();
    let overrides = [("nix-hug/nixpkgs", nixpkgs.as_str())];
    let target = format!("path:{}", consumer.display());
    let cache = built(&ok(
        nix_flake(&["build", &target, "--no-link", "--json"], &overrides).env("HF_ENDPOINT", hub.endpoint())
    ));
    let refs_main = std::fs::read_to_string(cache.join("models--acme--tiny-bert/refs/main")).unwrap();
    assert_eq!(&refs_main, commit);
    let snapshot = cache.join("models--acme--tiny-bert/snapshots").join(commit);
    let target = std::fs::read_link(snapshot.join("model.safetensors")).unwrap();
    assert!(target.starts_with(&fetch_path), "the cache links into the fetch output: {target:?}");
    assert!(hub.requests().iter().any(|r| r.target.contains("/resolve/")), "the fetch ran in the sandbox");
}
