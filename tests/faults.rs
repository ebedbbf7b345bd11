//! The fault matrix: `nix-hug` against a loopback Hub that misbehaves. Each run ends in success or in
//! one clear error line; never a hang, never a partial output on stdout, never a `nix-hug-*` folder
//! left in TMPDIR, never the token on stderr or sent to the CDN. Without Nix unless the test says so.

mod hub;
mod support;

use hub::{Fault, Hub, Mode, Redirect, fixtures};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// Valid on every fixture repo, in both modes: it must reach the Hub and nothing else.
const TOKEN: &str = "hf_testtoken";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(self.code, Some(0), "stderr:\n{}\nstdout:\n{}", self.stderr, self.stdout);
        self
    }

    /// Exit code 1, nothing on stdout, and exactly one error line (the last line of stderr, after any
    /// warnings about retries), which contains every one of `words`. Returns that line.
    fn fails(&self, words: &[&str]) -> String {
        assert_eq!(self.code, Some(1), "stderr:\n{}", self.stderr);
        assert_eq!(self.stdout, "", "nothing on stdout");
        let errors: Vec<&str> = self.stderr.lines().filter(|l| l.starts_with("nix-hug: error: ")).collect();
        assert_eq!(errors.len(), 1, "one error line:\n{}", self.stderr);
        assert_eq!(self.stderr.lines().last(), Some(errors[0]), "the error comes last:\n{}", self.stderr);
        for w in words {
            assert!(errors[0].to_lowercase().contains(&w.to_lowercase()), "{:?} should contain {w:?}", errors[0]);
        }
        errors[0].to_owned()
    }
}

/// `nix-hug ARGS` with the token set and TMPDIR (and HOME) in `dir`, without Nix.
fn nix_hug(hub: &Hub, dir: &Path, args: &[&str]) -> Run {
    let mut cmd = support::nix_hug_without_nix(&hub.endpoint(), dir);
    cmd.env("HF_TOKEN", TOKEN).args(args).output().expect("running nix-hug").into()
}

/// What every run must leave: no `nix-hug-*` folder in TMPDIR, the token nowhere but on requests to the
/// Hub host.
fn assert_clean(hub: &Hub, run: &Run, tmp: &Path) {
    let left: Vec<String> = std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("nix-hug-"))
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    assert!(!run.stderr.contains(TOKEN) && !run.stdout.contains(TOKEN), "the token was printed:\n{}", run.stderr);
    let cdn = hub.cdn();
    let to_cdn: Vec<_> = hub.requests().into_iter().filter(|r| cdn.ends_with(&r.host)).collect();
    assert!(to_cdn.iter().all(|r| r.authorization.is_none()), "the token went to the CDN: {to_cdn:?}");
}

/// Requests for `path` (the repo path of a file), on either host.
fn requests_for(hub: &Hub, path: &str) -> usize {
    hub.requests().iter().filter(|r| r.target.split('?').next().unwrap().ends_with(&format!("/{path}"))).count()
}

/// A resolve URL that redirects to itself, or to the CDN which sends it back, or on and on to new URLs:
/// the run ends naming the file, after a bounded number of requests, and the token never follows a
/// redirect to the CDN.
#[test]
fn a_redirect_loop_is_one_error_naming_the_file() {
    for mode in Mode::ALL {
        for to in [Redirect::Itself, Redirect::OtherHost, Redirect::Onward] {
            let hub = Hub::start_in(mode, fixtures::all());
            let tmp = tempfile::tempdir().unwrap();
            hub.inject(Fault::Redirect { path: "model.safetensors".into(), to });
            let run = nix_hug(&hub, tmp.path(), &["fetch", "acme/tiny-bert"]);
            let (words, most) = match to {
                Redirect::Itself => (["/model.safetensors", "redirects to itself"], 1),
                Redirect::OtherHost => (["redirects back to", "a redirect loop"], 2),
                Redirect::Onward => (["more than 10 redirects from", "/model.safetensors"], 11),
            };
            let line = run.fails(&[&["acme/tiny-bert@", ": model.safetensors: "][..], &words].concat());
            assert!(!line.contains('?'), "no query of a redirect in the message: {line}");
            let hops = requests_for(&hub, "model.safetensors");
            assert!(hops <= most, "{mode:?}, {to:?}: {hops} requests");
            assert_clean(&hub, &run, tmp.path());
        }
    }
}

/// The content of `path` at acme/tiny-bert's main commit.
fn content_of(path: &str) -> Vec<u8> {
    let fixture = fixtures::tiny_bert();
    fixture.commits[1].files.iter().find(|f| f.path == path).unwrap().content.read()
}

fn size_of(path: &str) -> u64 {
    content_of(path).len() as u64
}

/// Successful GETs of acme/tiny-bert's `path` (on the CDN, of its content): the attempts that got it.
fn downloads_of(hub: &Hub, path: &str) -> usize {
    let cdn = format!("/cdn/{}", hub::sha256_hex(&content_of(path)));
    let ok = hub.requests().into_iter().filter(|r| r.method == "GET" && r.status / 100 == 2);
    ok.filter(|r| {
        let target = r.target.split('?').next().unwrap();
        target.ends_with(&format!("/{path}")) || target == cdn
    })
    .count()
}

/// A file served with another size than the listing's, longer or shorter (its `Content-Length` agrees
/// with the body): refused as a corrupt download before a byte is kept, not left to the hash; once,
/// it is fetched once more and the fetch succeeds; every time, it is one error line with both sizes.
#[test]
fn a_size_that_contradicts_the_listing_is_a_corrupt_download() {
    for mode in Mode::ALL {
        let hub = Hub::start_in(mode, fixtures::all());
        let clean = nix_hug(&hub, tempfile::tempdir().unwrap().path(), &["fetch", "acme/tiny-bert"]).ok();
        for (path, by) in
            [("config.json", 100), ("config.json", -10), ("model.safetensors", 100), ("model.safetensors", -10)]
        {
            let (size, served) = (size_of(path), size_of(path).saturating_add_signed(by));
            let refused =
                format!("{path}: corrupt download: expected {size} bytes, as listed, but the server sends {served}");
            let tmp = tempfile::tempdir().unwrap();

            hub.inject(Fault::Resized { path: path.into(), by });
            let run = nix_hug(&hub, tmp.path(), &["fetch", "acme/tiny-bert"]).ok();
            assert_eq!(run.stdout, clean.stdout, "{mode:?} {path} {by}");
            assert!(run.stderr.contains(&format!("warning: {refused}; downloading it once more")), "{}", run.stderr);
            assert_clean(&hub, &run, tmp.path());

            hub.inject(Fault::ResizedAlways { path: path.into(), by });
            hub.clear_requests();
            let run = nix_hug(&hub, tmp.path(), &["fetch", "acme/tiny-bert"]);
            let line = run.fails(&[&format!("acme/tiny-bert@{}: {refused}", &clean_commit()[..7])]);
            assert!(line.ends_with(&refused), "{line}");
            assert_eq!(downloads_of(&hub, path), 2, "{mode:?} {path} {by}: once, then once more");
            assert_clean(&hub, &run, tmp.path());
            hub.clear_faults();
        }
    }
}

fn clean_commit() -> String {
    fixtures::tiny_bert().commits[1].sha.clone()
}

/// A tree listing of 200,000 files, in pages of 1,000 linked as the Hub links them: `ls` follows every
/// page and prints every file, with work that grows with the listing, not with its square (which, at
/// this size, would take minutes). The bound is on nix-hug's own CPU time, which a loaded machine or
/// the test Hub's speed hardly changes.
#[test]
fn a_listing_of_200_000_files_is_listed_quickly() {
    const FILES: usize = 200_000;
    let started = Instant::now();
    // With acme/gated, whose token the real-Hub mode knows.
    let hubs = Mode::ALL.map(|mode| Hub::start_in(mode, vec![fixtures::huge(FILES), fixtures::gated()]));
    eprintln!("the test Hubs started in {:.1}s", started.elapsed().as_secs_f64());
    for (hub, json) in [(&hubs[0], false), (&hubs[0], true), (&hubs[1], false)] {
        let tmp = tempfile::tempdir().unwrap();
        hub.clear_requests();
        let cpu_before = children_cpu();
        let started = Instant::now();
        let args: &[&str] = if json { &["ls", "acme/huge", "--json"] } else { &["ls", "acme/huge"] };
        let run = nix_hug(hub, tmp.path(), args).ok();
        let (took, cpu) = (started.elapsed(), children_cpu() - cpu_before);
        eprintln!("{:?} mode, `nix-hug {}`: {:.2}s, {cpu:.2}s of CPU", hub.mode(), args.join(" "), took.as_secs_f64());
        if json {
            let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
            assert_eq!(v["files"].as_array().unwrap().len(), FILES);
            assert_eq!(v["total"]["files"], FILES);
        } else {
            assert_eq!(run.stdout.lines().count(), FILES + 1);
            let last = run.stdout.lines().last().unwrap();
            assert!(last.starts_with(&format!("{FILES} of {FILES} files taken")), "{last}");
        }
        let pages = hub.requests().iter().filter(|r| r.target.contains("/tree/")).count();
        assert_eq!(pages, (FILES + FILES / 1000).div_ceil(1000), "every page once (the folders are listed too)");
        assert!(cpu < 20.0, "{cpu:.1}s of CPU");
        assert!(took < Duration::from_secs(120), "{took:?}");
        assert_clean(hub, &run, tmp.path());
    }
}

/// CPU seconds (user and system) of the child processes waited for so far.
fn children_cpu() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0);
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// A tmpfs of `size` bytes mounted on a fresh folder, unmounted on drop. Only root may mount one: the
/// tests that use it are ignored by default, and run with the Nix tests.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn new(size: u64) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let c = |s: &str| std::ffi::CString::new(s).unwrap();
        let target = c(dir.path().to_str().unwrap());
        let options = c(&format!("size={size},mode=0700"));
        // SAFETY: NUL-terminated strings that outlive the call.
        let mounted = unsafe {
            libc::mount(c("nix-hug-test").as_ptr(), target.as_ptr(), c("tmpfs").as_ptr(), 0, options.as_ptr().cast())
        };
        assert_eq!(mounted, 0, "mounting a tmpfs (needs root): {}", std::io::Error::last_os_error());
        Tmpfs(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = std::ffi::CString::new(self.0.path().to_str().unwrap()).unwrap();
        // Detached, so that a process of a failed test still inside does not keep it mounted.
        // SAFETY: a NUL-terminated path that outlives the call.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Model `acme/big`: a config and one LFS file of `size` bytes.
fn big(size: usize) -> hub::Repo {
    let sha = hub::fake_sha("big-1");
    let files = vec![hub::File::new("config.json", "{}\n"), hub::File::lfs("big.bin", vec![7u8; size])];
    hub::Repo {
        kind: hub::Kind::Model,
        id: "acme/big".into(),
        commits: vec![hub::Commit { sha: sha.clone(), files }],
        refs: vec![("main".into(), sha)],
        token: None,
        old_ids: Vec::new(),
    }
}

/// A TMPDIR too small for the download: one error before any file is requested, saying how much room
/// it needs and has; nothing left in it.
#[test]
#[ignore = "needs root: mounts a tmpfs"]
fn a_tmpdir_too_small_is_refused_before_downloading() {
    let hub = Hub::start(vec![big(4 << 20), fixtures::gated()]);
    let tmp = Tmpfs::new(1 << 20);
    let run = nix_hug(&hub, tmp.path(), &["fetch", "acme/big"]);
    let needs =
        format!("not enough space: the fetch needs 4.0 MiB in {}, which has 1.0 MiB free", tmp.path().display());
    let line = run.fails(&[&needs]);
    assert!(line.ends_with(&needs), "{line}");
    assert_eq!(requests_for(&hub, "big.bin") + requests_for(&hub, "config.json"), 0, "nothing downloaded");
    assert_clean(&hub, &run, tmp.path());
}

/// A TMPDIR with room enough at the start, which something else fills while the download waits out a
/// 503: the write that fails ends the run, with one line that names the folder; nothing of the fetch
/// is left.
#[test]
#[ignore = "needs root: mounts a tmpfs"]
fn a_disk_that_fills_mid_download_is_one_error_naming_the_folder() {
    let hub = Hub::start(vec![big(4 << 20), fixtures::gated()]);
    let tmp = Tmpfs::new(8 << 20);
    hub.inject(Fault::Status { path: "big.bin".into(), status: 503, retry_after: Some(2) });
    let mut cmd = support::nix_hug_without_nix(&hub.endpoint(), tmp.path());
    let child = cmd.env("HF_TOKEN", TOKEN).args(["fetch", "acme/big"]);
    let child = child.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while !hub.requests().iter().any(|r| r.status == 503) {
        assert!(started.elapsed() < Duration::from_secs(30), "the download never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Another program takes the room meanwhile.
    let mut filler = std::fs::File::create(tmp.path().join("filler")).unwrap();
    while std::io::Write::write_all(&mut filler, &[0; 1 << 16]).is_ok() {}
    drop(filler);
    let run: Run = child.wait_with_output().unwrap().into();
    // Whichever file was being written when the room ran out is the one named.
    let line = run.fails(&["acme/big@", ": no space left in ", &tmp.path().display().to_string()]);
    assert!(started.elapsed() < Duration::from_secs(30), "{line}");
    std::fs::remove_file(tmp.path().join("filler")).unwrap();
    assert_clean(&hub, &run, tmp.path());
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "{left:?}");
}

/// `nix-hug fetch` of `hub`'s `acme/big`, twice at the same moment, each in its own TMPDIR under `dir`,
/// with `cmd` adjusting the environment: both runs, each checked to leave nothing behind.
fn fetch_twice_at_once(hub: &Hub, dir: &Path, cmd: impl Fn(&mut std::process::Command)) -> [Run; 2] {
    let children = ["a", "b"].map(|name| {
        let tmp = dir.join(name);
        std::fs::create_dir(&tmp).unwrap();
        let mut command = support::nix_hug_without_nix(&hub.endpoint(), &tmp);
        command.env("HF_TOKEN", TOKEN).args(["fetch", "acme/big"]);
        cmd(&mut command);
        command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
    });
    let runs = children.map(|child| Run::from(child.wait_with_output().unwrap()));
    for (run, name) in runs.iter().zip(["a", "b"]) {
        assert_clean(hub, run, &dir.join(name));
    }
    runs
}

/// Two fetches of one repo at once: both succeed and print the same expression (each downloads it: the
/// Hub answers two GETs of the large file).
#[test]
fn two_fetches_of_one_repo_at_once_agree() {
    let hub = Hub::start(vec![big(16 << 20), fixtures::gated()]);
    let dir = tempfile::tempdir().unwrap();
    let [a, b] = fetch_twice_at_once(&hub, dir.path(), |_| {});
    let (a, b) = (a.ok(), b.ok());
    assert_eq!(a.stdout, b.stdout);
    assert!(a.stdout.starts_with("nix-hug-lib.fetchModel {\n  url = \"acme/big\";"), "{}", a.stdout);
    assert_eq!(downloads_of_big(&hub), 2);
}

/// Content GETs of acme/big's big.bin (from the CDN).
fn downloads_of_big(hub: &Hub) -> usize {
    hub.requests().iter().filter(|r| r.method == "GET" && r.status == 200 && r.target.starts_with("/cdn/")).count()
}

/// The same with Nix: both add the output to the store, at the same path, and print the same
/// expression, which then builds to that path.
#[test]
#[ignore = "needs nix"]
fn two_fetches_of_one_repo_at_once_add_one_output() {
    let hub = Hub::start(vec![big(16 << 20), fixtures::gated()]);
    let dir = tempfile::tempdir().unwrap();
    // Out of the store first, so that these two fetches are the ones that put it there.
    let expected = nix_hug::nar::fixed_output_path(
        &nix_hug::nar::parse_hash(&file_tree_hash(&nix_hug(&hub, dir.path(), &["fetch", "acme/big"]).ok())).unwrap(),
        &format!("hf-model-acme-big-{}", hub::fake_sha("big-1")),
    )
    .unwrap();
    support::forget(&expected);
    hub.clear_requests();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let [a, b] = fetch_twice_at_once(&hub, dir.path(), |cmd| {
        cmd.env("PATH", &path).env("NIX_REMOTE", "local").env_remove("NIX_STORE_DIR");
    });
    let (a, b) = (a.ok(), b.ok());
    assert_eq!(a.stdout, b.stdout);
    for run in [&a, &b] {
        assert!(run.stderr.contains(&format!("nix-hug: added {expected}\n")), "{}", run.stderr);
    }
    assert!(support::run(support::nix("nix-store").args(["--check-validity", &expected])).status.success());
    assert_eq!(downloads_of_big(&hub), 2);
    let built = support::build_expression(dir.path(), &a.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(built, expected);
}

fn file_tree_hash(run: &Run) -> String {
    let hash = run.stdout.lines().find_map(|l| l.strip_prefix("  fileTreeHash = \"")?.strip_suffix("\";"));
    hash.unwrap_or_else(|| panic!("no fileTreeHash in\n{}", run.stdout)).to_owned()
}
