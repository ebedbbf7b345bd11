use nix_hug::error::{Error, Kind};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nix-hug: error: {e}");
            ExitCode::from(if e.kind() == Kind::Usage { 2 } else { 1 })
        }
    }
}

fn run() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("__fetch") => nix_hug::builder::fetch(),
        Some("__cache") => nix_hug::builder::cache(),
        Some("--version" | "-V") => {
            println!("nix-hug {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        _ => {
            println!("nix-hug {}\n\nUsage: nix-hug --version", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    }
}
