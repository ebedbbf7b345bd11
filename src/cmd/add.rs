/*!
`nix-hug add URL`: resolves and lists the repository as `fetch` does, hashes its small files, and pins it
in the lock file under its name, replacing an entry of that name; its files are put into the store, as
`fetch` puts its output, unless `--no-seed`.
*/

use super::print;
use crate::cli::Pins;
use crate::error::{Result, usage};
use crate::lock::{self, Globs, Lock};
use crate::prefetch::{self, Target};
use crate::{info, render};

pub fn run(target: &Target, name: Option<&str>, pins: &Pins) -> Result<()> {
    let mut lock = Lock::read_or_new(&pins.lock)?;
    let name = name.map_or_else(|| target.url.id.rsplit('/').next().unwrap_or_default().to_owned(), str::to_owned);
    lock::check_name(&name).map_err(|why| usage(format!("--name {name:?}: {why}")))?;
    let seed = prefetch::seeding(pins.seed)?;
    let hub = prefetch::hub_from_env()?;
    let entry = prefetch::pin(hub, target, typed(target)?, lock.repos.get(&name), pins.jobs, seed)?;
    let bytes = entry.files.values().map(|f| f.size).sum();
    let replaced = if lock.repos.contains_key(&name) { "replaced" } else { "added" };
    info!(
        "{replaced} {name} in {}: {} {} at {}, {}, {}",
        pins.lock.display(),
        entry.kind.as_str(),
        entry.repo_id,
        entry.rev,
        render::files(entry.files.len()),
        render::size(bytes)
    );
    lock.repos.insert(name.clone(), entry);
    lock.write(&pins.lock)?;
    if pins.json {
        print(&format!("{}\n", serde_json::json!({ "name": name, "entry": lock.repos[&name] })))?;
    }
    Ok(())
}

/// The filters as typed, which the lock keeps: each regex back as the glob it came from.
fn typed(target: &Target) -> Result<Globs> {
    let glob = |re: &String| {
        crate::filter::regex_to_glob(re).ok_or_else(|| {
            usage(format!("the lock keeps filters as globs, and {re:?} is none; name the files with --include"))
        })
    };
    Ok(Globs {
        include: target.filters.include.iter().map(glob).collect::<Result<_>>()?,
        exclude: target.filters.exclude.iter().map(glob).collect::<Result<_>>()?,
        files: target.filters.files.clone(),
    })
}
