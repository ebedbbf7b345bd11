//! The NAR hash and fixed-output store path against Nix itself, on awkward trees: nested folders,
//! unicode and odd names, relative and dangling symlinks, empty files and folders.

mod support;

use nix_hug::nar;
use std::os::unix::fs::symlink;
use std::path::Path;
use support::{nix, stdout_ok};

fn awkward_tree(root: &Path) {
    std::fs::create_dir_all(root.join("a/b/c")).unwrap();
    std::fs::create_dir_all(root.join("empty dir")).unwrap();
    std::fs::write(root.join("a/b/c/deep.txt"), "deep\n").unwrap();
    std::fs::write(root.join("empty"), "").unwrap();
    std::fs::write(root.join("unicodé ünï.txt"), "ü".repeat(1000)).unwrap();
    std::fs::write(root.join("odd#name?x%.txt"), vec![0u8; 70_000]).unwrap();
    std::fs::write(root.join("B-sorts-before-a"), "case\n").unwrap();
    symlink("a/b/c/deep.txt", root.join("link")).unwrap();
    symlink("../../../empty", root.join("a/b/c/up")).unwrap();
    symlink("nowhere", root.join("dangling")).unwrap();
    symlink("a/b", root.join("dir-link")).unwrap();
}

#[test]
#[ignore = "needs nix"]
fn nar_hash_and_store_path_agree_with_nix() {
    let dir = tempfile::tempdir().unwrap();
    let name = "hf-model-acme-awkward-0123456789abcdef0123456789abcdef01234567";
    let root = dir.path().join(name);
    awkward_tree(&root);

    let ours = nar::nar_sha256(&root).unwrap();
    let nix_hash = stdout_ok(nix("nix-hash").args(["--type", "sha256"]).arg(&root));
    assert_eq!(nar::hex(&ours), nix_hash, "nix-hash --type sha256");

    let path = nar::fixed_output_path(&ours, name).unwrap();
    let printed =
        stdout_ok(nix("nix-store").args(["--print-fixed-path", "--recursive", "sha256", &nar::hex(&ours), name]));
    assert_eq!(path, printed, "nix-store --print-fixed-path");

    support::forget(&path);
    let added = stdout_ok(nix("nix-store").args(["--add-fixed", "--recursive", "sha256"]).arg(&root));
    assert_eq!(path, added, "nix-store --add-fixed --recursive sha256");
}
