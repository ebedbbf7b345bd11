/*!
`nix-hug fetch URL`: plan like `ls`, run the same pipeline as the sandbox builder into a temporary folder
named like the store output, hash it, add it to the store and check the path Nix gives it, then print
the expression. With auto-persist, `persisted` decides whether to fetch at all. `export` fetches the
same way.
*/

use super::resolve::{self, Resolved};
use super::{TempDir, persisted, print};
use crate::cli::FetchArgs;
use crate::download::{Event, Options};
use crate::error::Context;
use crate::error::{Error, Kind, Result};
use crate::nar::Hash;
use crate::persist::Config;
use crate::pipeline::Plan;
use crate::progress::Progress;
use crate::render::{self, FetchResult, human_size};
use crate::{debug, info, local, nar, nix, persist, pipeline, space, warn};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn run(args: &FetchArgs) -> Result<()> {
    let config = Config::load()?;
    let result = if config.auto_persist { persisted::fetch(&config, args)? } else { fetch(args, None)? };
    print_result(&result, args.json)
}

/// The expression, or the JSON object with `--json`, on stdout.
pub fn print_result(result: &FetchResult, json: bool) -> Result<()> {
    print(&if json { render::json(result) } else { render::nix(result) })
}

/// Resolves (unless `resolved` says where the ref points already), downloads (or copies what is already
/// on this machine), hashes, and adds the output to the store. Without Nix, the result has no store path.
pub fn fetch(args: &FetchArgs, resolved: Option<Resolved>) -> Result<FetchResult> {
    let (hub, plan) = match resolved {
        Some(resolved) => resolve::plan_at(resolved, &args.target)?,
        None => resolve::plan(&args.target)?,
    };
    // Checked before downloading anything: Nix would refuse the expression's name as well.
    let name = plan.repo.store_name(&plan.commit);
    nar::check_store_name(&name)?;
    info!("fetching {}, {}", files(plan.files.len()), size(plan.bytes()));

    let tmp = TempDir::new()?;
    // Named like the store path: `nix-store --add-fixed`, the fallback, takes the name from the folder.
    let out = tmp.path().join(&name);
    let nix = nix::version()?.is_some();
    check_space(&plan, tmp.path(), nix)?;
    let progress = Progress::new(plan.bytes());
    let reused = AtomicUsize::new(0);
    let opts = Options { jobs: args.jobs, local_caches: local::caches_for(&plan.repo), ..Options::default() };
    pipeline::fetch(&hub, &plan, &out, opts, &|event| {
        match event {
            Event::Done { name, size } => debug!("{name}: {size} bytes, verified"),
            Event::Reused { .. } => _ = reused.fetch_add(1, Ordering::Relaxed),
            Event::Bytes(_) => {}
        }
        progress.update(&event);
    })?;
    drop(progress);
    match reused.into_inner() {
        0 => {}
        n => info!("{} copied from local copies instead of downloaded", files(n)),
    }

    let (hash, store_path) = add_to_store(&out, &name, tmp.path(), nix)?;
    let file_tree_hash = nar::sri(&hash);
    debug!("nar sha256 of {name}: {file_tree_hash}");
    match &store_path {
        Some(path) => info!("added {path}"),
        None => warn!(
            "could not add the output to the Nix store: nix is not on PATH \
             (building the expression will download it again)"
        ),
    }
    drop(tmp);

    Ok(FetchResult {
        files: plan.files.len(),
        bytes: plan.bytes(),
        repo: plan.repo,
        rev: plan.commit,
        filters: args.target.filters.clone(),
        file_tree_hash,
        store_path,
    })
}

/// Hashes the output and puts it into the store (`None` without Nix). The fast way writes the NAR once,
/// hashing it on the way, as a one-path binary cache that `nix copy` imports: Nix 2.8's
/// `nix-store --add-fixed` takes about twice as long for the same path. When no `file://` URL can name the
/// temporary folder, `nix-store --add-fixed` reads the output while we hash it.
fn add_to_store(out: &Path, name: &str, tmp: &Path, nix: bool) -> Result<(Hash, Option<String>)> {
    let cache = tmp.join("cache");
    if let Some(url) = persist::cache_url(&cache)
        && nix
    {
        let (hash, path) = nar::write_binary_cache(out, name, &cache)?;
        // The NAR holds the output now: free the disk before Nix writes a third copy.
        std::fs::remove_dir_all(out).with_context(|| out.display())?;
        nix::copy_from(&url, &path)?;
        return Ok((hash, Some(path)));
    }
    let (hash, added) = std::thread::scope(|s| {
        let hashing = s.spawn(|| nar::nar_sha256(out));
        let added = nix::add_fixed(out);
        (hashing.join().expect("the NAR hash does not panic"), added)
    });
    let hash = hash?;
    let expected = nar::fixed_output_path(&hash, name)?;
    match added? {
        Some(path) if path != expected => Err(Error::new(
            Kind::Nix,
            format!(
                "nix-store added the output as {path}, but the expression's output is {expected} \
                 (is the Nix store somewhere other than {}?)",
                nar::STORE_DIR
            ),
        )),
        added => Ok((hash, added)),
    }
}

/// Refuses, before the download, a fetch the disks cannot hold at their fullest: the output and its NAR
/// in TMPDIR (`tmp` is in it), then the NAR and the copy Nix makes of it in the store, the output being
/// removed in between; without a NAR (see `add_to_store`), the output and Nix's copy of it. The store
/// counts only when Nix is there to write to it.
fn check_space(plan: &Plan, tmp: &Path, nix: bool) -> Result<()> {
    let sizes = || plan.files.iter().map(|e| e.size);
    let out = space::on_disk(sizes());
    let base = tmp.parent().unwrap_or(tmp);
    let store = nix::store_dir();
    let store = (nix && store.is_dir()).then_some(store.as_path());
    let nar = nix && persist::cache_url(&tmp.join("cache")).is_some();
    match (store, nar) {
        (Some(store), true) => {
            space::check(&[(base, out + space::nar(sizes()))])?;
            space::check(&[(base, space::nar(sizes())), (store, out)])
        }
        (Some(store), false) => space::check(&[(base, out), (store, out)]),
        (None, _) => space::check(&[(base, out)]),
    }
}

/// `1 file`, `3 files`.
fn files(n: usize) -> String {
    if n == 1 { "1 file".to_owned() } else { format!("{n} files") }
}

/// `6203 bytes`, and a rounded size as well when it helps: `14496078336 bytes (13.5 GiB)`.
fn size(bytes: u64) -> String {
    if bytes < 1024 { format!("{bytes} bytes") } else { format!("{bytes} bytes ({})", human_size(bytes)) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::size(0), "0 bytes");
        assert_eq!(super::size(1023), "1023 bytes");
        assert_eq!(super::size(1536), "1536 bytes (1.5 KiB)");
        assert_eq!(super::size(14_496_078_336), "14496078336 bytes (13.5 GiB)");
    }
}
