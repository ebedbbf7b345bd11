/*!
Every Nix command the CLI runs, one function each, with flags that Nix 2.8 and current Nix both accept;
and where the store is.
Each call is echoed under `--debug` as `$ nix-store …` before it runs; a failure is a `Nix` error with
the command line and the tail of its stderr. The sandbox builder never comes here.
*/

use crate::debug;
use crate::error::{Error, Kind, Result};
use crate::nar::STORE_DIR;
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Lines of a failing command's stderr kept in the error.
const STDERR_TAIL: usize = 5;

/// `nix-store --add-fixed --recursive sha256 DIR`: adds DIR to the store as the output of a recursive
/// sha256 fixed-output derivation named after DIR's last component (streaming, so large outputs take
/// little memory) and returns its store path; `None` when there is no `nix-store` on `PATH`.
pub fn add_fixed(dir: &Path) -> Result<Option<String>> {
    Ok(add(&["--recursive"], &[dir])?.map(|mut paths| paths.remove(0)))
}

/// `nix-store --add-fixed sha256 FILE…`: adds each file as the output of a flat sha256 fixed-output
/// derivation named after the file, and returns their store paths in order; `None` when there is no
/// `nix-store` on `PATH`.
pub fn add_fixed_files(files: &[&Path]) -> Result<Option<Vec<String>>> {
    let mut added = Vec::new();
    // A few hundred at a time, for the command line's length.
    for files in files.chunks(256) {
        let Some(paths) = add(&[], files)? else { return Ok(None) };
        added.extend(paths);
    }
    Ok(Some(added))
}

fn add(flags: &[&str], paths: &[&Path]) -> Result<Option<Vec<String>>> {
    let mut args = vec![OsStr::new("--add-fixed")];
    args.extend(flags.iter().map(OsStr::new));
    args.push(OsStr::new("sha256"));
    args.extend(paths.iter().map(|p| p.as_os_str()));
    let Some(stdout) = run("nix-store", &args)? else {
        return Ok(None);
    };
    let added: Vec<String> = stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    if added.len() != paths.len() || !added.iter().all(|p| p.starts_with('/')) {
        return Err(Error::new(
            Kind::Failed,
            format!("`{}` printed {stdout:?}, not {} store paths", command_line("nix-store", &args), paths.len()),
        ));
    }
    Ok(Some(added))
}

/// The store's folder on this machine: `NIX_STORE_DIR`, which Nix itself honours, else `/nix/store`.
pub fn store_dir() -> PathBuf {
    std::env::var_os("NIX_STORE_DIR").filter(|v| !v.is_empty()).map_or_else(|| PathBuf::from(STORE_DIR), PathBuf::from)
}

/// `nix --version`; `None` when there is no `nix` on `PATH`.
pub fn version() -> Result<Option<String>> {
    Ok(run("nix", &[OsStr::new("--version")])?.map(|v| v.trim().to_owned()))
}

/// `nix-store --check-validity --print-invalid PATHS`: whether each path is valid in the store, in order;
/// `None` when there is no `nix-store` on `PATH`.
pub fn valid(paths: &[&str]) -> Result<Option<Vec<bool>>> {
    if paths.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let mut args = vec![OsStr::new("--check-validity"), OsStr::new("--print-invalid")];
    args.extend(paths.iter().map(OsStr::new));
    let Some(stdout) = run("nix-store", &args)? else {
        return Ok(None);
    };
    let invalid: Vec<&str> = stdout.lines().map(str::trim).collect();
    Ok(Some(paths.iter().map(|p| !invalid.contains(p)).collect()))
}

/// `nix-store --query --hash PATH`: the NAR hash the store recorded for a valid path (`sha256:…`, nix32),
/// read from its database without reading the path; `None` when there is no `nix-store` on `PATH`.
pub fn nar_hash(path: &Path) -> Result<Option<String>> {
    let args = [OsStr::new("--query"), OsStr::new("--hash"), path.as_os_str()];
    Ok(run("nix-store", &args)?.map(|out| out.trim().to_owned()))
}

/// `nix-store --realise PATH --add-root LINK --indirect`: makes LINK a symlink to PATH that the garbage
/// collector treats as a root, as `nix-build -o LINK` does (`--indirect` is what Nix 2.8 needs for a
/// link outside its gcroots folder; later versions accept it and need nothing else).
pub fn add_root(path: &str, link: &Path) -> Result<()> {
    let args = [
        OsStr::new("--realise"),
        OsStr::new(path),
        OsStr::new("--add-root"),
        link.as_os_str(),
        OsStr::new("--indirect"),
    ];
    match run("nix-store", &args)? {
        Some(_) => Ok(()),
        None => Err(Error::new(Kind::Failed, "nix-store is not on PATH")),
    }
}

/// `nix copy --to CACHE PATH`: copies a store path into a binary cache.
pub fn copy_to(cache: &str, path: &str) -> Result<()> {
    nix(&["copy", "--to", cache, path])
}

/// `nix copy --from CACHE PATH`: copies a store path out of a binary cache into the store. No
/// `--no-check-sigs`: a content-addressed path is checked against its hash, which needs no signature.
pub fn copy_from(cache: &str, path: &str) -> Result<()> {
    nix(&["copy", "--from", cache, path])
}

/// A `nix` subcommand, which Nix 2.8 only runs as an experimental feature.
fn nix(args: &[&str]) -> Result<()> {
    let mut full = vec![OsStr::new("--extra-experimental-features"), OsStr::new("nix-command")];
    full.extend(args.iter().map(OsStr::new));
    match run("nix", &full)? {
        Some(_) => Ok(()),
        None => Err(Error::new(Kind::Failed, format!("`{}`: nix is not on PATH", command_line("nix", &full)))),
    }
}

/// Runs a command and returns its stdout; `None` when the program is not on `PATH`. Its stderr is
/// kept for the error when it fails, and shown under `--debug` when it succeeds.
fn run(program: &str, args: &[&OsStr]) -> Result<Option<String>> {
    let line = command_line(program, args);
    debug!("$ {line}");
    let output = match Command::new(program).args(args).stdin(Stdio::null()).output() {
        Ok(output) => output,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::new(Kind::Failed, format!("running `{line}`")).with_source(e)),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(Error::new(Kind::Failed, format!("`{line}` failed ({}): {}", output.status, tail(&stderr))));
    }
    for l in stderr.lines().filter(|l| !l.trim().is_empty()) {
        debug!("{program}: {l}");
    }
    String::from_utf8(output.stdout)
        .map(Some)
        .map_err(|_| Error::new(Kind::Failed, format!("`{line}` printed something that is not UTF-8")))
}

/// The last lines of a command's stderr, on one line.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        return "no message on stderr".to_owned();
    }
    lines[lines.len().saturating_sub(STDERR_TAIL)..].join("; ")
}

/// The command as a shell would take it, for messages.
fn command_line(program: &str, args: &[&OsStr]) -> String {
    let mut words = vec![program.to_owned()];
    words.extend(args.iter().map(|a| shell_quote(&a.to_string_lossy())));
    words.join(" ")
}

fn shell_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c);
    if !s.is_empty() && s.chars().all(plain) { s.to_owned() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_can_be_pasted() {
        let args = [OsStr::new("--add-fixed"), OsStr::new("a dir/it's"), OsStr::new("")];
        assert_eq!(command_line("nix-store", &args), r"nix-store --add-fixed 'a dir/it'\''s' ''");
    }

    #[test]
    fn tails() {
        assert_eq!(tail(""), "no message on stderr");
        assert_eq!(tail("a\n\nb\n"), "a; b");
        let long: String = (1..=9).map(|i| format!("line {i}\n")).collect();
        assert_eq!(tail(&long), "line 5; line 6; line 7; line 8; line 9");
    }

    #[test]
    fn missing_program_is_not_an_error() {
        assert!(run("nix-hug-no-such-program", &[]).unwrap().is_none());
        let e = run("false", &[]).unwrap_err();
        assert_eq!(e.kind(), Kind::Failed);
        assert!(e.to_string().starts_with("`false` failed (exit status: 1)"), "{e}");
    }
}
