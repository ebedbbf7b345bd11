/*!
Messages on stderr, each prefixed `nix-hug: `. `--quiet` turns off the `info!` lines, `--debug` turns on the `debug!` lines (HTTP requests, hash
steps, commands run) and shows an error one layer per line. A status line (the progress of a download)
may sit at the bottom, redrawn in place; a message first clears it, so the two never mix on one line.
Nothing here ever sees the token, which lives in `hub::Token`.
*/

use crate::error::Error;
use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static DEBUG: AtomicBool = AtomicBool::new(false);
static QUIET: AtomicBool = AtomicBool::new(false);

/// The width of the status line on screen; 0 when there is none.
static STATUS: Mutex<usize> = Mutex::new(0);

pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// `--quiet`: no `info!` lines and no status line; warnings and errors still show.
pub fn set_quiet(on: bool) {
    QUIET.store(on, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Writes one message line (what the macros below call).
pub fn line(text: fmt::Arguments) {
    let mut width = STATUS.lock().unwrap_or_else(|e| e.into_inner());
    let mut err = io::stderr().lock();
    clear(&mut err, &mut width);
    // stderr is where errors would go: nothing better to do when it fails.
    let _ = writeln!(err, "{text}");
}

/// Writes `text` as the last line of the run, and keeps stderr to itself until the process exits, so
/// that no other thread's message follows it (the caller exits while holding what this returns).
pub fn last_line(text: fmt::Arguments) -> std::sync::MutexGuard<'static, usize> {
    let mut width = STATUS.lock().unwrap_or_else(|e| e.into_inner());
    let mut err = io::stderr().lock();
    clear(&mut err, &mut width);
    let _ = writeln!(err, "{text}");
    width
}

/// Draws `text` as the status line, over the previous one.
pub fn status(text: &str) {
    let mut width = STATUS.lock().unwrap_or_else(|e| e.into_inner());
    let len = text.chars().count();
    let _ = write!(io::stderr().lock(), "\r{text}{:pad$}", "", pad = width.saturating_sub(len));
    *width = len;
}

/// Removes the status line, if any.
pub fn clear_status() {
    let mut width = STATUS.lock().unwrap_or_else(|e| e.into_inner());
    clear(&mut io::stderr().lock(), &mut width);
}

fn clear(err: &mut impl Write, width: &mut usize) {
    if *width > 0 {
        let _ = write!(err, "\r{:w$}\r", "", w = *width);
        *width = 0;
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
