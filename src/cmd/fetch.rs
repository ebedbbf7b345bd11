/*!
`nix-hug fetch URL`: `prefetch` puts the output into the store, then the expression (or the JSON, or
the hash) is printed, after the `--out-link` root is made. With auto-persist, the persist directory is
looked in first and a fresh download is exported. `--dry-run` plans and says what it would take.
*/

use super::print;
use crate::cli::{FetchArgs, Output};
use crate::error::{Context, Error, Kind, Result};
use crate::hub::Entry;
use crate::persist::{self, Config, Persist};
use crate::prefetch;
use crate::render::{self, Count, FetchResult, RepoFields, human_size};
use crate::repo::RepoUrl;
use crate::{info, layout, local, nix, warn};
use serde::Serialize;

pub fn run(args: &FetchArgs) -> Result<()> {
    if args.dry_run {
        return dry_run(args);
    }
    check_out_link(args)?;
    let config = Config::load()?;
    let result = if config.auto_persist {
        auto_persisted(&config, args)?
    } else {
        prefetch::fetch(&args.target, args.jobs, None)?
    };
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
        return Err(Error::new(Kind::Failed, "--out-link makes a garbage-collector root, but nix is not on PATH"));
    }
    Ok(())
}

/// Makes the `--out-link` root, then prints the expression, the JSON object, or the hash on stdout.
pub fn finish(result: &FetchResult, args: &FetchArgs) -> Result<()> {
    if let Some(link) = &args.out_link {
        let Some(path) = &result.store_path else {
            return Err(Error::new(
                Kind::Failed,
                "--out-link: the output is not in the Nix store (nix is not on PATH)",
            ));
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
    let (_, plan) = prefetch::plan(&args.target)?;
    prefetch::check_quant_chosen(&plan)?;
    let in_store = prefetch::in_store(&plan).map(|(_, path)| path);
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
    out += &format!("{}: would download {} ({})", plan.label(), render::files(download), human_size(download_bytes));
    if copy > 0 {
        out += &format!(" and copy {} ({}) from copies on this machine", render::files(copy), human_size(copy_bytes));
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

/// `fetch` with auto-persist: an output exported at the commit the ref points at, with the same
/// filters, is used without downloading, copied back into the store if it was collected; otherwise the
/// fetch runs and its output is exported. The Hub says where a branch or tag points whenever it
/// answers; only a commit, or a ref when the Hub cannot be reached, is looked up in the manifest alone.
/// The files of a `:QUANT` are known from the Hub's listing only, so it is always asked then.
fn auto_persisted(config: &Config, args: &FetchArgs) -> Result<FetchResult> {
    let persist = Persist::open(config)?;
    let url = &args.target.url;
    let entries = persist.entries()?;
    let dir = persist.dir().display();
    let (exported, resolved) = match prefetch::ref_name(&args.target) {
        None if url.quant.is_none() => {
            let commit = prefetch::asked_ref(&args.target, url).to_ascii_lowercase();
            (persist::exported_at(&entries, url, &commit, &args.target.filters), None)
        }
        name => match prefetch::commit(&args.target) {
            Ok(resolved) => {
                let url = RepoUrl { kind: Some(resolved.repo.kind), ..url.clone() };
                let filters = prefetch::filters_at(&resolved, &args.target)?;
                (persist::exported_at(&entries, &url, &resolved.commit, &filters), Some(resolved))
            }
            Err(e) => match name.filter(|_| e.kind() == Kind::Network && url.quant.is_none()) {
                Some(name) => {
                    let entry = persist::exported_as(&entries, url, &name, &args.target.filters).ok_or(e)?;
                    warn!(
                        "the Hub cannot be reached: using {}, exported to {dir} as {name}, without knowing where \
                         {name} points now",
                        entry.label()
                    );
                    (Some(entry), None)
                }
                None => return Err(e),
            },
        },
    };
    if let Some(entry) = exported {
        match persist.bring_back(entry) {
            Ok(result) => return Ok(result),
            Err(e) => warn!("could not use {} from {dir}: {e}; fetching it", entry.label()),
        }
    }
    persist.check_writable()?;
    let result = prefetch::fetch(&args.target, args.jobs, resolved)?;
    if let Err(e) = persist.export(&result, prefetch::ref_name(&args.target).into_iter().collect()) {
        warn!("could not export to {dir}: {e}");
    }
    Ok(result)
}
