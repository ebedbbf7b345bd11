/*!
The persist directory as the commands use it: `export` copies an output into it and records it in the
manifest, `import` copies outputs back into the store, and `fetch` with auto-persist does both on its
own. Every `nix copy` goes through `nix.rs`; the manifest and the cache layout are `persist.rs`.
*/

use super::{fetch, resolve};
use crate::cli::{FetchArgs, Target};
use crate::error::{Context, Error, Kind, Result};
use crate::persist::{self, Config, Entry, Persist};
use crate::render::FetchResult;
use crate::repo::{self, Repo, RepoType, RepoUrl};
use crate::tempdir::TempDir;
use crate::{info, nix, warn};

/// The configured persist directory, made absolute: a `file://` URL needs it so.
pub fn open(config: &Config) -> Result<Persist> {
    let dir = config.persist_dir()?;
    let dir = std::path::absolute(dir).with_context(|| dir.display())?;
    Ok(Persist::new(&dir))
}

/// Copies the output of `result` into the persist directory, then records it in the manifest, with
/// the branch or tag `target` asked for.
pub fn export(persist: &Persist, result: &FetchResult, target: &Target) -> Result<()> {
    let Some(store_path) = result.store_path.as_deref() else {
        return Err(Error::new(Kind::Nix, "nothing to export: the output is not in the Nix store"));
    };
    info!("copying {store_path} to {}", persist.dir().display());
    let cache = Cache::new(persist)?;
    nix::copy_to(&cache.url, store_path)?;
    persist.record(Entry {
        repo_id: result.repo.to_string(),
        kind: result.repo.kind.as_str().to_owned(),
        rev: result.rev.clone(),
        refs: ref_name(target, &target.url).into_iter().collect(),
        filters: result.filters.clone(),
        file_tree_hash: result.file_tree_hash.clone(),
        store_path: store_path.to_owned(),
        size: result.bytes,
        files: result.files,
        exported: persist::now(),
    })
}

/// Copies the output of `entry` from the persist directory into the store.
pub fn restore(persist: &Persist, entry: &Entry) -> Result<()> {
    if !persist.holds(&entry.store_path) {
        return Err(Error::new(
            Kind::NotFound,
            format!("{} holds no copy of {} (it has no .narinfo for it)", persist.dir().display(), entry.store_path),
        ));
    }
    let cache = Cache::new(persist)?;
    nix::copy_from(&cache.url, &entry.store_path)
}

/// The branch or tag `target` asks for (`main` without one); `None` for a commit.
fn ref_name(target: &Target, url: &RepoUrl) -> Option<String> {
    let name = resolve::asked_ref(target, url);
    (!repo::is_commit(&name.to_ascii_lowercase())).then(|| name.to_owned())
}

/// `fetch` with auto-persist: an output exported at the commit the ref points at, with the same
/// filters, is used without downloading, copied back into the store if it was collected; otherwise the
/// fetch runs and its output is exported. The Hub says where a branch or tag points whenever it
/// answers; only a commit, or a ref when the Hub cannot be reached, is looked up in the manifest alone.
pub fn fetch(config: &Config, args: &FetchArgs) -> Result<FetchResult> {
    let persist = open(config)?;
    let url = &args.target.url;
    let entries = persist.entries()?;
    let dir = persist.dir().display();
    let filters = &args.target.filters;
    let (exported, resolved) = match ref_name(&args.target, url) {
        None => {
            let commit = resolve::asked_ref(&args.target, url).to_ascii_lowercase();
            (persist::exported_at(&entries, url, &commit, filters), None)
        }
        Some(name) => match resolve::commit(&args.target) {
            Ok(resolved) => {
                let url = RepoUrl { kind: Some(resolved.repo.kind), ..url.clone() };
                (persist::exported_at(&entries, &url, &resolved.commit, filters), Some(resolved))
            }
            Err(e) if e.kind() == Kind::Network => {
                let entry = persist::exported_as(&entries, url, &name, filters).ok_or(e)?;
                warn!(
                    "the Hub cannot be reached: using {}, exported to {dir} as {name}, without knowing where {name} \
                     points now",
                    entry.label()
                );
                (Some(entry), None)
            }
            Err(e) => return Err(e),
        },
    };
    if let Some(entry) = exported {
        match bring_back(&persist, entry).and_then(|()| result_of(entry)) {
            Ok(result) => return Ok(result),
            Err(e) => warn!("could not use {} from {dir}: {e}; fetching it", entry.label()),
        }
    }
    persist.check_writable()?;
    let result = fetch::fetch(args, resolved)?;
    if let Err(e) = export(&persist, &result, &args.target) {
        warn!("could not export to {dir}: {e}");
    }
    Ok(result)
}

/// Makes the output of `entry` valid in the store, from the persist directory if it was collected.
fn bring_back(persist: &Persist, entry: &Entry) -> Result<()> {
    match nix::valid(&[&entry.store_path])?.as_deref() {
        Some([true]) => info!("{} is in the store: {}", entry.label(), entry.store_path),
        Some(_) => {
            restore(persist, entry)?;
            info!("restored {} from {}", entry.store_path, persist.dir().display());
        }
        None => return Err(Error::new(Kind::Nix, "nix-store is not on PATH")),
    }
    Ok(())
}

/// What `fetch` would have printed for the output of `entry`.
fn result_of(entry: &Entry) -> Result<FetchResult> {
    let repo = RepoType::parse(&entry.kind).and_then(|kind| Repo::from_id(kind, &entry.repo_id));
    Ok(FetchResult {
        repo: repo.context("in the manifest")?,
        rev: entry.rev.clone(),
        filters: entry.filters.clone(),
        file_tree_hash: entry.file_tree_hash.clone(),
        store_path: Some(entry.store_path.clone()),
        files: entry.files,
        bytes: entry.size,
    })
}

/// The URL `nix copy` reaches the persist directory by. When its path cannot be written in a URL (see
/// `persist::cache_url`), that is a symlink with a plain name in a temporary folder, removed on drop.
struct Cache {
    url: String,
    _link: Option<TempDir>,
}

impl Cache {
    fn new(persist: &Persist) -> Result<Cache> {
        let dir = persist.dir();
        if let Some(url) = persist::cache_url(dir) {
            return Ok(Cache { url, _link: None });
        }
        // Nix follows the symlink only to a folder that exists.
        std::fs::create_dir_all(dir).with_context(|| dir.display())?;
        let tmp = TempDir::new()?;
        let link = tmp.path().join("persist");
        std::os::unix::fs::symlink(dir, &link).with_context(|| link.display())?;
        let url = persist::cache_url(&link).ok_or_else(|| {
            Error::new(
                Kind::Io,
                format!(
                    "nix copy cannot reach {}: neither its path nor that of the temporary folder {} fits in a \
                     file:// URL (letters, digits and -._~/ only); set TMPDIR to such a folder",
                    dir.display(),
                    tmp.path().display()
                ),
            )
        })?;
        Ok(Cache { url, _link: Some(tmp) })
    }
}
