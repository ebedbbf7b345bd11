/*!
`nix-hug import URL` and `import --all`: copy exported outputs back into the store from the persist
directory, or from one a teammate serves (`--from URL`), never asking the Hub. Outputs still in the store are skipped. One that Nix refuses is
reported by name and the others are still imported; the command then fails. The store paths, valid
again, are printed on stdout.
*/

use super::print;
use crate::cli::ImportArgs;
use crate::error::{Error, Kind, Result};
use crate::persist::{self, Config, Entry, Persist, Source};
use crate::{info, msg, nix, repo};

pub fn run(args: &ImportArgs, from: Option<&str>) -> Result<()> {
    let source = match from {
        Some(url) => Source::served(url)?,
        None => Source::Dir(Persist::open(&Config::load()?)?),
    };
    let entries = source.entries()?;
    let dir = source.name();
    let chosen: Vec<&Entry> = match args {
        ImportArgs::All => entries.iter().collect(),
        ImportArgs::Url { url, rev } => {
            let parsed = repo::parse_url(url)?;
            let rev = rev.as_deref().or(parsed.rev.as_deref());
            let found = persist::matching(&entries, &parsed, rev);
            if found.is_empty() {
                let at = rev.map_or(String::new(), |r| {
                    format!(" at {r:?} (a commit starting with it, or a branch or tag it was exported as)")
                });
                return Err(Error::new(
                    Kind::NotFound,
                    format!("nothing of {url}{at} was exported to {dir}; see `nix-hug store ls`"),
                ));
            }
            found
        }
    };
    if chosen.is_empty() {
        info!("nothing to import: nothing was exported to {dir}");
        return Ok(());
    }

    let paths: Vec<&str> = chosen.iter().map(|e| e.store_path.as_str()).collect();
    let valid = nix::valid(&paths)?
        .ok_or_else(|| Error::new(Kind::Failed, "import copies into the Nix store, but nix-store is not on PATH"))?;
    let mut imported = String::new();
    let mut failed = Vec::new();
    for (entry, valid) in chosen.iter().zip(valid) {
        if valid {
            info!("skipped {}: already in the store", entry.label());
        } else {
            match source.restore(entry) {
                Ok(()) => info!("imported {}", entry.label()),
                Err(e) if chosen.len() == 1 => return Err(e.context(format!("importing {}", entry.label()))),
                Err(e) => {
                    msg::error(&e.context(format!("importing {}", entry.label())));
                    failed.push(entry.label());
                    continue;
                }
            }
        }
        imported += &format!("{}\n", entry.store_path);
    }
    print(&imported)?;
    match failed.len() {
        0 => Ok(()),
        n => Err(Error::new(
            Kind::Failed,
            format!("{n} of {} exports could not be imported: {}", chosen.len(), failed.join(", ")),
        )),
    }
}
