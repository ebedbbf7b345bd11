/*!
`nix-hug fetch URL`: plan like `ls`, run the same pipeline as the sandbox builder into a temporary folder
named like the store output, hash it, add it to the store and check the path Nix gives it, then print
the expression.
*/

use super::{TempDir, print, resolve};
use crate::cli::FetchArgs;
use crate::download::{Event, Options};
use crate::error::{Error, Kind, Result};
use crate::progress::Progress;
use crate::render::{self, FetchResult, human_size};
use crate::{debug, info, nar, nix, pipeline, warn};

pub fn run(args: &FetchArgs) -> Result<()> {
    let (hub, plan) = resolve::plan(&args.target)?;
    info!("fetching {} files, {}", plan.files.len(), size(plan.bytes()));

    let tmp = TempDir::new()?;
    // `nix-store --add-fixed` names the store path after the folder, so the folder gets the store name.
    let name = plan.repo.store_name(&plan.commit);
    let out = tmp.path().join(&name);
    let progress = Progress::new(plan.bytes());
    let opts = Options { jobs: args.jobs, ..Options::default() };
    pipeline::fetch(&hub, &plan, &out, opts, &|event| {
        if let Event::Done { name, size } = event {
            debug!("{name}: {size} bytes, verified");
        }
        progress.update(&event);
    })?;
    drop(progress);

    let hash = nar::nar_sha256(&out)?;
    let file_tree_hash = nar::sri(&hash);
    debug!("nar sha256 of {}: {file_tree_hash}", out.display());
    let expected = nar::fixed_output_path(&hash, &name)?;
    debug!("store path of {name} with that hash: {expected}");
    let store_path = match nix::add_fixed(&out)? {
        Some(path) if path == expected => {
            info!("added {path}");
            Some(path)
        }
        Some(path) => {
            return Err(Error::new(
                Kind::Nix,
                format!(
                    "nix-store added the output as {path}, but the expression's output is {expected} \
                     (is the Nix store somewhere other than {}?)",
                    nar::STORE_DIR
                ),
            ));
        }
        None => {
            warn!(
                "could not add the output to the Nix store: nix-store is not on PATH \
                 (building the expression will download it again)"
            );
            None
        }
    };
    drop(tmp);

    let result = FetchResult {
        files: plan.files.len(),
        bytes: plan.bytes(),
        repo: plan.repo,
        rev: plan.commit,
        filters: args.target.filters.clone(),
        file_tree_hash,
        store_path,
    };
    print(&if args.json { render::json(&result) } else { render::nix(&result) })
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
