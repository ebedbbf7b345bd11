/*!
The commands: glue between the library modules, and the only code that writes results to stdout.
`run` takes what `cli` understood; each command lives in its own file.
*/

pub mod add;
pub mod export;
pub mod fetch;
pub mod import;
pub mod lock;
pub mod ls;
pub mod refs;
pub mod remove;
pub mod store;
pub mod update;

use crate::cli::{Action, Cli};
use crate::error::{Context, Result};
use crate::{builder, msg, tempdir};
use std::io::{self, Write};

pub fn run(cli: Cli) -> Result<()> {
    msg::set_debug(cli.debug);
    msg::set_quiet(cli.quiet);
    // In the sandbox, Nix itself stops the builder and removes what it wrote.
    if !matches!(cli.action, Action::BuilderFetch | Action::BuilderCache | Action::BuilderLock) {
        tempdir::handle_signals().context("listening for Ctrl-C")?;
    }
    match cli.action {
        Action::Print(text) => print(&text),
        Action::Fetch(args) => fetch::run(&args),
        Action::Ls(args) => ls::run(&args),
        Action::Refs { url, json } => refs::run(&url, json),
        Action::Export(args) => export::run(&args),
        Action::Import { what, from } => import::run(&what, from.as_deref()),
        Action::StoreLs { json } => store::ls(json),
        Action::StorePath => store::path(),
        Action::StoreRm(targets) => store::rm(&targets),
        Action::StorePrune => store::prune(),
        Action::StoreVerify => store::verify(),
        Action::StoreRebuildManifest => store::rebuild_manifest(),
        Action::Add { target, name, pins } => add::run(&target, name.as_deref(), &pins),
        Action::Update { names, check, pins } => update::run(&names, check, &pins),
        Action::Remove { names, pins } => remove::run(&names, &pins),
        Action::Lock(pins) => lock::run(&pins),
        Action::BuilderFetch => builder::fetch(),
        Action::BuilderCache => builder::cache(),
        Action::BuilderLock => builder::lock(),
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
