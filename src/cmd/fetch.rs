/*!
`nix-hug fetch URL`: plan like `ls`, run the same pipeline as the sandbox builder into a temporary folder
named like the store output, hash it, add it to the store and check the path Nix gives it, then print
the expression. With auto-persist, `persisted` decides whether to fetch at all. `export` fetches the
same way.
*/

use super::resolve::{self, Resolved};
use super::{persisted, print};
use crate::cli::{FetchArgs, Output};
use crate::download::{Event, Options};
use crate::error::Context;
use crate::error::{Error, Kind, Result};
use crate::hub::Entry;
use crate::nar::Hash;
use crate::persist::Config;
use crate::pipeline::Plan;
use crate::progress::Progress;
use crate::render::{self, FetchResult, RepoFields, human_size};
use crate::tempdir::TempDir;
use crate::{debug, info, layout, local, nar, nix, persist, pipeline, space, warn};
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn run(args: &FetchArgs) -> Result<()> {
    if args.dry_run {
        return dry_run(args);
    }
    check_out_link(args)?;
    let config = Config::load()?;
    let result = if config.auto_persist { persisted::fetch(&config, args)? } else { fetch(args, None)? };
    finish(&result, args)
}

/// Checked before any download: a path that `--out-link` could not replace, or no Nix to make the root.
pub fn check_out_link(args: &FetchArgs) -> Result<()> {
    let Some(link) = &args.out_link else { return Ok(()) };
    if std::fs::symlink_metadata(link).is_ok_and(|meta| !meta.file_type().is_symlink()) {
        return Err(Error::new(
            Kind::Usage,
            format!("--out-link {}: exists and is not a symlink; remove it or choose another path", link.display()),
        ));
    }
    if nix::version()?.is_none() {
        return Err(Error::new(Kind::Nix, "--out-link makes a garbage-collector root, but nix is not on PATH"));
    }
    Ok(())
}

/// Makes the `--out-link` root, then prints the expression, the JSON object, or the hash on stdout.
pub fn finish(result: &FetchResult, args: &FetchArgs) -> Result<()> {
    if let Some(link) = &args.out_link {
        let Some(path) = &result.store_path else {
            return Err(Error::new(Kind::Nix, "--out-link: the output is not in the Nix store (nix is not on PATH)"));
        };
        // A symlink there is replaced, as nix-build does; `nix-store --add-root` itself refuses to.
        if std::fs::symlink_metadata(link).is_ok_and(|meta| meta.file_type().is_symlink()) {
            std::fs::remove_file(link).with_context(|| format!("--out-link {}", link.display()))?;
        }
        nix::add_root(path, link).with_context(|| format!("--out-link {}", link.display()))?;
        info!("{} is a garbage-collector root of {path}", link.display());
    }
    print(&match args.output {
        Output::Expression => render::nix(result),
        Output::Json => render::json(result),
        Output::Hash => format!("{}\n", result.file_tree_hash),
    })
}

/// `--dry-run`: the plan, where each file would come from, and the totals; nothing is written.
fn dry_run(args: &FetchArgs) -> Result<()> {
    let (_, plan) = resolve::plan(&args.target)?;
    let in_store = in_store(&plan).map(|(_, path)| path);
    let caches = local::caches_for(&plan.repo);
    let rows: Vec<(&Entry, Source)> = plan
        .files
        .iter()
        .map(|e| {
            let local = caches.iter().any(|c| layout::blob_path(c, &plan.repo, e.etag()).is_file());
            (
                e,
                if in_store.is_some() {
                    Source::Store
                } else if local {
                    Source::Copy
                } else {
                    Source::Download
                },
            )
        })
        .collect();
    let total = |source: Source| {
        let taken = rows.iter().filter(|(_, s)| *s == source);
        (taken.clone().count(), taken.map(|(e, _)| e.size).sum::<u64>())
    };
    let ((download, download_bytes), (copy, copy_bytes)) = (total(Source::Download), total(Source::Copy));
    if args.output == Output::Json {
        #[derive(Serialize)]
        struct File<'a> {
            path: &'a str,
            size: u64,
            from: Source,
        }
        #[derive(Serialize)]
        struct Count {
            files: usize,
            bytes: u64,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Json<'a> {
            #[serde(flatten)]
            repo: RepoFields<'a>,
            store_path: Option<&'a str>,
            files: Vec<File<'a>>,
            download: Count,
            copy: Count,
        }
        let value = Json {
            repo: RepoFields::new(&plan.repo, &plan.commit),
            store_path: in_store.as_deref(),
            files: rows.iter().map(|(e, from)| File { path: &e.path, size: e.size, from: *from }).collect(),
            download: Count { files: download, bytes: download_bytes },
            copy: Count { files: copy, bytes: copy_bytes },
        };
        return print(&(serde_json::to_string_pretty(&value).expect("serialising a dry run") + "\n"));
    }
    if let Some(path) = in_store {
        return print(&format!("{} is already in the store: {path}; nothing to download\n", plan.label()));
    }
    let sizes: Vec<String> = rows.iter().map(|(e, _)| human_size(e.size)).collect();
    let width = rows.iter().map(|(e, _)| e.path.chars().count()).max().unwrap_or(0);
    let size_width = sizes.iter().map(String::len).max().unwrap_or(0);
    let mut out = String::new();
    for ((e, from), size) in rows.iter().zip(&sizes) {
        let from = if *from == Source::Copy { "copy" } else { "download" };
        out += &format!("{from:<8}  {:width$}  {size:>size_width$}\n", e.path);
    }
    out += &format!("{}: would download {} ({})", plan.label(), files(download), human_size(download_bytes));
    if copy > 0 {
        out += &format!(" and copy {} ({}) from copies on this machine", files(copy), human_size(copy_bytes));
    }
    print(&(out + "; nothing was written\n"))
}

/// Where a file of a dry run would come from.
#[derive(Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Source {
    Download,
    /// A blob already in the user's HF cache or in another output of the repo.
    Copy,
    /// The whole output is already in the store.
    Store,
}

/// An output of exactly this plan that is valid in the store already, and its NAR hash. It is found by
/// its name, checked by its layout (metadata only, see `layout::Tree::matches`), and its hash is the one
/// the store recorded, which must give back its path: so not a byte of it is read.
fn in_store(plan: &Plan) -> Option<(Hash, String)> {
    let name = plan.repo.store_name(&plan.commit);
    for path in local::outputs_at(&plan.repo, &plan.commit) {
        if !layout::Tree::of_fetch(&plan.repo, &plan.commit, &plan.files).matches(&path) {
            continue;
        }
        let recorded = match nix::nar_hash(&path) {
            Ok(Some(hash)) => hash,
            Ok(None) => return None,
            Err(e) => {
                debug!("{}: {e}", path.display());
                continue;
            }
        };
        let Ok(hash) = nar::parse_hash(&recorded) else { continue };
        let path = path.display().to_string();
        if nar::fixed_output_path(&hash, &name).is_ok_and(|expected| expected == path) {
            return Some((hash, path));
        }
    }
    None
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
    let result = |file_tree_hash, store_path| FetchResult {
        files: plan.files.len(),
        bytes: plan.bytes(),
        repo: plan.repo.clone(),
        rev: plan.commit.clone(),
        filters: args.target.filters.clone(),
        file_tree_hash,
        store_path,
    };
    if let Some((hash, path)) = in_store(&plan) {
        info!("{} is already in the store: {path}", plan.label());
        return Ok(result(nar::sri(&hash), Some(path)));
    }
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
    Ok(result(file_tree_hash, store_path))
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
