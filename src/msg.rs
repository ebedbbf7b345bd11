/*!
Messages on stderr, each prefixed `nix-hug: `. `--quiet` turns off the `info!` lines, `--debug` turns on the `debug!` lines (HTTP requests, hash
steps, commands run) and shows an error one layer per line. Progress bars (a download's) may sit at the
bottom of the terminal; while they do, every message is written above them, so the two never mix.
Nothing here ever sees the token, which lives in `hub::Token`.
*/

use crate::error::Error;
use indicatif::{MultiProgress, ProgressDrawTarget};
use std::convert::Infallible;
use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static DEBUG: AtomicBool = AtomicBool::new(false);
static QUIET: AtomicBool = AtomicBool::new(false);

/// The progress bars on screen, if any.
static BARS: Mutex<Option<MultiProgress>> = Mutex::new(None);

pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// `--quiet`: no `info!` lines and no progress bars; warnings and errors still show.
pub fn set_quiet(on: bool) {
    QUIET.store(on, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Writes one message line (what the macros below call).
pub fn line(text: fmt::Arguments) {
    let bars = BARS.lock().unwrap_or_else(|e| e.into_inner());
    // stderr is where errors would go: nothing better to do when it fails.
    let write = || {
        let _ = writeln!(io::stderr().lock(), "{text}");
    };
    match &*bars {
        // Clears the bars, writes, and draws them again below.
        Some(bars) => bars.suspend(write),
        None => write(),
    }
}

/// Writes `text` as the last line of the run, with the bars cleared, and exits with `code`. Until the
/// exit, stderr is kept to this thread: no other thread's message or bar follows the line.
pub fn last_line(text: fmt::Arguments, code: i32) -> ! {
    let bars = BARS.lock().unwrap_or_else(|e| e.into_inner());
    let end = || -> Infallible {
        let _ = writeln!(io::stderr().lock(), "{text}");
        std::process::exit(code)
    };
    // Inside `suspend`, during which no bar can draw.
    match bars.as_ref().map_or_else(end, |bars| bars.suspend(end)) {}
}

/// From now on until `hide_bars`, messages are written above `bars`.
pub fn show_bars(bars: &MultiProgress) {
    *BARS.lock().unwrap_or_else(|e| e.into_inner()) = Some(bars.clone());
}

/// Clears the bars off the screen for good: nothing they are sent afterwards is drawn.
pub fn hide_bars() {
    if let Some(bars) = BARS.lock().unwrap_or_else(|e| e.into_inner()).take() {
        let _ = bars.clear();
        bars.set_draw_target(ProgressDrawTarget::hidden());
    }
}

/// Reports the error that ends the run: on one line, or under `--debug` one layer per line.
pub fn error(e: &Error) {
    if debug_enabled() {
        for (i, layer) in e.layers().iter().enumerate() {
            line(format_args!("nix-hug: error: {:indent$}{layer}", "", indent = 2 * i));
        }
    } else {
        line(format_args!("nix-hug: error: {e}"));
    }
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => {
        if !$crate::msg::quiet() {
            $crate::msg::line(format_args!("nix-hug: {}", format_args!($($arg)*)))
        }
    };
}

#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::msg::line(format_args!("nix-hug: warning: {}", format_args!($($arg)*))) };
}

#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::msg::debug_enabled() {
            $crate::msg::line(format_args!("nix-hug: debug: {}", format_args!($($arg)*)))
        }
    };
}
