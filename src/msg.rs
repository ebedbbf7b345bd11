/*!
Messages on stderr, each prefixed `nix-hug: `. `--debug` turns on the `debug!` lines (HTTP requests, hash
steps, commands run); nothing here ever sees the token, which lives in `hub::Token`.
*/

use std::sync::atomic::{AtomicBool, Ordering};

static DEBUG: AtomicBool = AtomicBool::new(false);

pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { eprintln!("nix-hug: {}", format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { eprintln!("nix-hug: warning: {}", format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::msg::debug_enabled() {
            eprintln!("nix-hug: debug: {}", format_args!($($arg)*))
        }
    };
}
