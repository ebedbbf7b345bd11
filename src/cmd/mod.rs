/*!
The commands: glue between the library modules, and the only code that writes results to stdout.
`run` takes what `cli` understood; each command lives in its own file.
*/

pub mod export;
pub mod fetch;
pub mod import;
pub mod ls;
mod persisted;
pub mod refs;
mod resolve;
pub mod store;

use crate::cli::{Action, Cli};
use crate::error::{Context, Error, Result};
use crate::{builder, info, interrupt, msg, warn};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub fn run(cli: Cli) -> Result<()> {
    msg::set_debug(cli.debug);
    msg::set_quiet(cli.quiet);
    // In the sandbox, Nix itself stops the builder and removes what it wrote.
    if !matches!(cli.action, Action::BuilderFetch | Action::BuilderCache) {
        interrupt::handle().context("listening for Ctrl-C")?;
    }
    match cli.action {
        Action::Print(text) => print(&text),
        Action::Fetch(args) => fetch::run(&args),
        Action::Ls(args) => ls::run(&args),
        Action::Refs { url, json } => refs::run(&url, json),
        Action::Export(args) => export::run(&args),
        Action::Import(args) => import::run(&args),
        Action::StoreLs { json } => store::ls(json),
        Action::StorePath => store::path(),
        Action::BuilderFetch => builder::fetch(),
        Action::BuilderCache => builder::cache(),
    }
}

/// Writes a result on stdout. A reader that went away (`nix-hug fetch … | head -1`) is not a failure.
fn print(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

/// A fresh folder under the system's temporary folder (`TMPDIR`), only for us (0700), removed with
/// everything in it when dropped, whether the command succeeded or not, or when Ctrl-C ends the run.
struct TempDir(PathBuf);

const TEMP_PREFIX: &str = "nix-hug-";

impl TempDir {
    fn new() -> Result<TempDir> {
        // Absolute, so the folder can be named in a file:// URL even when TMPDIR is relative.
        let base = std::path::absolute(std::env::temp_dir())?;
        for dir in interrupt::remove_left_behind(&base, TEMP_PREFIX) {
            info!("removed {}, left behind by a run that was killed", dir.display());
        }
        // The pid in the name is how a later run tells a folder whose process is gone.
        let dir = tempfile::Builder::new()
            .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
            .tempdir_in(&base)
            .map_err(|e| Error::from(e).context(format!("creating a folder in {}", base.display())))?
            .keep();
        interrupt::remove_on_interrupt(&dir);
        Ok(TempDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            warn!("could not remove the temporary folder {}: {e}", self.0.display());
        }
        interrupt::keep_on_interrupt(&self.0);
    }
}
