//! The progress bars of a fetch, as a terminal shows them: `nix-hug` runs with stderr on a
//! pseudo-terminal of 80×24 against a Hub that sends the large files slowly, and what it writes there
//! is played on a terminal emulator (`vt100`), frame by frame.

mod hub;
mod support;

use hub::{Fault, Hub, fixtures};
use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

const ROWS: u16 = 24;
const COLS: u16 = 80;
const LARGE: &str = "model-00001-of-00002.safetensors";
const SMALLER: &str = "model-00002-of-00002.safetensors";

/// `nix-hug ARGS`, without Nix, against `hub`, with HOME and TMPDIR in `dir`.
fn nix_hug(hub: &Hub, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = support::nix_hug_without_nix(&hub.endpoint(), dir);
    cmd.args(args).env("TERM", "xterm");
    cmd
}

/// The test Hub with `acme/large`, whose `shards` come at 8 MiB/s (the larger in about a second and a
/// half).
fn slow_hub(shards: &[&str]) -> Hub {
    let hub = Hub::start(vec![fixtures::large()]);
    for path in shards {
        hub.inject(Fault::Throttle { path: path.to_string(), bytes_per_sec: 8 << 20 });
    }
    hub
}

/// A command running with stdin and stderr on a new pseudo-terminal (stdout is piped, as when its
/// result goes to a file), and the screen of that terminal.
struct Terminal {
    child: Child,
    output: Receiver<Vec<u8>>,
    screen: vt100::Parser,
    /// Every screen seen so far, one after each piece of output, a line to a row.
    frames: Vec<String>,
}

impl Terminal {
    fn run(mut cmd: Command) -> Terminal {
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize { ws_row: ROWS, ws_col: COLS, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: two out-pointers to c_ints, no name or termios, and a valid winsize.
        let opened = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
        assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
        for fd in [master, slave] {
            // SAFETY: fcntl on a descriptor just opened; the child gets the slave only as stdin and stderr.
            assert_eq!(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) }, 0);
        }
        // SAFETY: both are open descriptors that nothing else owns.
        let (mut master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        cmd.stdin(slave.try_clone().unwrap()).stdout(Stdio::piped()).stderr(slave);
        let child = cmd.spawn().unwrap();
        // The Command holds our copies of the slave: without them, reading ends when the child's do.
        drop(cmd);
        let (send, output) = channel();
        std::thread::spawn(move || {
            let mut buf = [0; 1 << 16];
            // EIO once the child's end is closed.
            while let Ok(n @ 1..) = master.read(&mut buf) {
                if send.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let screen = vt100::Parser::new(ROWS.try_into().unwrap(), COLS.try_into().unwrap(), 0);
        Terminal { child, output, screen, frames: Vec::new() }
    }

    /// Plays the output until `until` holds for the screen, or the output ends; returns whether it held.
    fn play(&mut self, until: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.output.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(bytes) => {
                    self.screen.process(&bytes);
                    let rows: Vec<String> =
                        self.screen.screen().rows(0, COLS).map(|r| r.trim_end().to_owned()).collect();
                    self.frames.push(rows.join("\n").trim_end().to_owned());
                    if until(self.frames.last().unwrap()) {
                        return true;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return false,
                Err(RecvTimeoutError::Timeout) => panic!("no end after a minute; the screen:\n{}", self.last()),
            }
        }
    }

    /// Plays the output to its end; returns the exit status and stdout.
    fn finish(mut self) -> (ExitStatus, String, Terminal) {
        self.play(|_| false);
        let mut stdout = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
        let status = self.child.wait().unwrap();
        (status, stdout, self)
    }

    /// The text on the screen now, a line longer than a row on one line, without the empty rows at
    /// the bottom.
    fn last(&self) -> String {
        self.screen.screen().contents().trim_end().to_owned()
    }
}

/// The total bar, e.g. `nix-hug:  45%|####      | 9.5 MiB/21.0 MiB [00:01<00:01, 8.1 MiB/s]`.
fn total_bar(screen: &str) -> bool {
    let bar =
        regex::Regex::new(r"(?m)^nix-hug: +\d+%\|[# ]{10}\| [\d.]+ [KM]?i?B/21\.0 MiB \[\d\d:\d\d<(\?|\d\d:\d\d), ")
            .unwrap();
    bar.is_match(screen)
}

/// The bar of shard `n` (of 12.0 or 9.0 MiB), e.g.
/// `  …0001-of-00002.safetensors  40%|####      | 4.8 MiB/12.0 MiB 8.0 MiB/s`.
fn shard_bar(n: u8, screen: &str) -> bool {
    let size = if n == 1 { "12" } else { "9" };
    let bar = format!(r"(?m)^  …000{n}-of-00002\.safetensors +\d+%\|[# ]{{10}}\| [\d.]+ [KM]?i?B/{size}\.0 MiB ");
    regex::Regex::new(&bar).unwrap().is_match(screen)
}

fn file_bar(screen: &str) -> bool {
    shard_bar(1, screen)
}

fn any_bar(screen: &str) -> bool {
    screen.contains("%|")
}

#[test]
fn a_fetch_shows_a_total_bar_and_the_large_files_bars_then_clears_them() {
    let hub = slow_hub(&[LARGE, SMALLER]);
    let dir = tempfile::tempdir().unwrap();
    let fetch = ["fetch", "acme/large"];
    let mut term = Terminal::run(nix_hug(&hub, dir.path(), &fetch));
    let all_bars = |screen: &str| total_bar(screen) && shard_bar(1, screen) && shard_bar(2, screen);
    assert!(term.play(all_bars), "never all three bars:\n{}", term.frames.join("\n--\n"));
    let lines: Vec<String> = term.frames.last().unwrap().lines().map(str::to_owned).collect();
    let total = lines.iter().position(|l| total_bar(l)).unwrap();
    assert!(
        lines[total + 1..].iter().all(|l| shard_bar(1, l) || shard_bar(2, l)),
        "the files below the total, a row each: {lines:#?}"
    );
    // The smaller shard is done first: its bar goes, the other stays.
    let smaller_done = |screen: &str| total_bar(screen) && shard_bar(1, screen) && !shard_bar(2, screen);
    assert!(term.play(smaller_done), "the smaller shard's bar stayed:\n{}", term.frames.join("\n--\n"));

    let (status, stdout, term) = term.finish();
    assert!(status.success(), "{}", term.last());
    assert!(stdout.contains("fileTreeHash = \"sha256-"), "{stdout}");
    // Without a terminal the same fetch writes only its messages: the bars left nothing on the screen.
    let plain = nix_hug(&hub, dir.path(), &fetch).output().unwrap();
    assert!(plain.status.success());
    let messages = String::from_utf8(plain.stderr).unwrap();
    assert!(!any_bar(&messages), "{messages}");
    assert_eq!(term.last(), messages.trim_end());
}

#[test]
fn a_failed_fetch_clears_the_bars_before_its_error() {
    let hub = slow_hub(&[LARGE]);
    hub.inject(Fault::CorruptAlways { path: SMALLER.into() });
    let dir = tempfile::tempdir().unwrap();
    let mut term = Terminal::run(nix_hug(&hub, dir.path(), &["fetch", "acme/large"]));
    assert!(term.play(file_bar), "no bar for the large file:\n{}", term.last());
    let (status, _, term) = term.finish();
    assert_eq!(status.code(), Some(1), "{}", term.last());
    let screen = term.last();
    assert!(!any_bar(&screen), "{screen}");
    assert!(screen.lines().last().unwrap().starts_with("nix-hug: error: "), "{screen}");
    assert!(
        screen.contains(&format!("warning: {SMALLER}: sha256 mismatch")),
        "the warning went above the bars: {screen}"
    );
}

#[test]
fn ctrl_c_clears_the_bars_and_interrupted_is_the_last_line() {
    let hub = Hub::start(vec![fixtures::large()]);
    hub.inject(Fault::Stall { path: LARGE.into() });
    let dir = tempfile::tempdir().unwrap();
    let mut term = Terminal::run(nix_hug(&hub, dir.path(), &["fetch", "acme/large"]));
    assert!(term.play(file_bar), "no bar for the stalled file:\n{}", term.last());
    // SAFETY: a signal to our own child, which is still running (it waits on the Hub).
    assert_eq!(unsafe { libc::kill(term.child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let (status, stdout, term) = term.finish();
    assert_eq!(status.code(), Some(130), "{}", term.last());
    assert_eq!(stdout, "");
    let screen = term.last();
    assert!(!any_bar(&screen), "{screen}");
    assert_eq!(screen.lines().last(), Some("nix-hug: interrupted"), "{screen}");
}

#[test]
fn debug_and_quiet_draw_no_bars_on_a_terminal() {
    let hub = slow_hub(&[LARGE]);
    let dir = tempfile::tempdir().unwrap();
    for flag in ["--debug", "--quiet"] {
        let (status, _, term) = Terminal::run(nix_hug(&hub, dir.path(), &[flag, "fetch", "acme/large"])).finish();
        assert!(status.success(), "{flag}: {}", term.last());
        assert!(!term.frames.iter().any(|frame| any_bar(frame)), "{flag}: {}", term.frames.join("\n--\n"));
    }
}
