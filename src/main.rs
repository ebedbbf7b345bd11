use nix_hug::error::Kind;
use nix_hug::{cli, cmd, msg};
use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::parse(std::env::args_os().skip(1)).and_then(cmd::run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            msg::error(&e);
            ExitCode::from(if e.kind() == Kind::Usage { 2 } else { 1 })
        }
    }
}
