//! Ctrl-C and SIGTERM in the middle of a download: the temporary folder goes, `interrupted` ends stderr,
//! the exit code is the shell's for the signal, at once; and a folder that a killed run left behind is
//! removed by the next run.

mod hub;
mod support;

use hub::{Fault, Hub, fixtures};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// `nix-hug fetch acme/tiny-bert` with TMPDIR in `tmp`, held up by a 503 that asks for a minute's wait.
fn stalled_fetch(hub: &Hub, tmp: &Path) -> Child {
    hub.inject(Fault::Status { path: "config.json".into(), status: 503, retry_after: Some(60) });
    let child = support::nix_hug_without_nix(&hub.endpoint(), tmp)
        .args(["fetch", "acme/tiny-bert"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !hub.requests().iter().any(|r| r.target.ends_with("/config.json")) || folders(tmp).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "the fetch never started downloading");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn folders(tmp: &Path) -> Vec<String> {
    let names = std::fs::read_dir(tmp).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap());
    names.filter(|n| n.starts_with("nix-hug-")).collect()
}

fn interrupted_with(signal: libc::c_int, code: i32) {
    let hub = Hub::start(fixtures::all());
    let tmp = tempfile::tempdir().unwrap();
    let child = stalled_fetch(&hub, tmp.path());
    let sent = Instant::now();
    // SAFETY: a signal to our own child, which is still running (it waits on the Hub).
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let out = child.wait_with_output().unwrap();
    assert!(sent.elapsed() < Duration::from_secs(2), "ended {:?} after the signal", sent.elapsed());
    assert_eq!(out.status.code(), Some(code), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.ends_with("nix-hug: interrupted\n"), "{stderr}");
    assert_eq!(out.stdout, b"", "no expression for an interrupted fetch");
    assert_eq!(folders(tmp.path()), Vec::<String>::new(), "the temporary folder is gone");
}

#[test]
fn ctrl_c_removes_the_temporary_folder_and_exits_130() {
    interrupted_with(libc::SIGINT, 130);
}

#[test]
fn sigterm_removes_the_temporary_folder_and_exits_143() {
    interrupted_with(libc::SIGTERM, 143);
}

#[test]
fn a_folder_left_by_a_killed_run_is_removed_by_the_next() {
    let hub = Hub::start(fixtures::all());
    let tmp = tempfile::tempdir().unwrap();
    let mut child = stalled_fetch(&hub, tmp.path());
    child.kill().unwrap();
    child.wait().unwrap();
    let left = folders(tmp.path());
    assert_eq!(left.len(), 1, "kill -9 leaves its folder: {left:?}");

    let hub = Hub::start(fixtures::all());
    let fetch = ["fetch", "acme/tiny-bert", "--file", "config.json"];
    let out = support::nix_hug_without_nix(&hub.endpoint(), tmp.path()).args(fetch).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("/{}, left behind by a run that was killed", left[0])), "{stderr}");
    assert_eq!(folders(tmp.path()), Vec::<String>::new());
}
