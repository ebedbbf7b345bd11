//! Prints the NAR sha256 of a path as SRI, computed as `nix-hug fetch` computes it, for `bench/run`
//! to time against `nix-hash --type sha256 PATH`: `nar-hash PATH`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: nar-hash PATH");
        return ExitCode::from(2);
    };
    match nix_hug::nar::nar_sha256(&path) {
        Ok(hash) => {
            println!("{}", nix_hug::nar::sri(&hash));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nar-hash: {e}");
            ExitCode::FAILURE
        }
    }
}
