/*!
`nix-hug lock`: every entry of the lock file listed again at its pinned commit with its filters, its
files and hashes written anew: after editing filters by hand, or to check a lock against the Hub. The
files the store lacks are put into it, as `add` does (unless `--no-seed`).
*/

use super::print;
use crate::cli::Pins;
use crate::error::{Context, Result};
use crate::lock::{Changes, Lock};
use crate::{info, prefetch};

pub fn run(pins: &Pins) -> Result<()> {
    let old = Lock::read_unchecked(&pins.lock)?;
    let mut lock = Lock::default();
    let seed = prefetch::seeding(pins.seed)?;
    for (name, entry) in &old.repos {
        let target = prefetch::target_of(entry, Some(&entry.rev))?;
        let mut new = prefetch::pin(
            prefetch::hub_at(entry.endpoint.as_deref())?,
            &target,
            entry.filters.clone(),
            Some(entry),
            pins.jobs,
            seed,
        )
        .context(name)?;
        new.ref_name = entry.ref_name.clone();
        let c = Changes::between(entry, &new);
        info!(
            "{name}: {} files, {} added, {} removed, {} changed",
            new.files.len(),
            c.added.len(),
            c.removed.len(),
            c.changed.len()
        );
        lock.repos.insert(name.clone(), new);
    }
    lock.write(&pins.lock)?;
    if pins.json {
        print(&lock.to_json())?;
    }
    Ok(())
}
