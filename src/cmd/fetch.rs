/*!
`nix-hug fetch URL`: resolve the ref to a commit (a bare `org/repo` is tried as a model, then as a
dataset), run the same pipeline as the sandbox builder into a temporary folder named like the store
output, hash it, add it to the store and check the path Nix gives it, then print the expression.
*/

use super::{TempDir, print};
use crate::cli::FetchArgs;
use crate::download::{Event, Options};
use crate::error::{Error, Kind, Result};
use crate::hub::{self, Hub, Token};
use crate::render::{self, FetchResult};
use crate::repo::{self, Repo, RepoType, RepoUrl};
use crate::{debug, info, nar, nix, pipeline, warn};

pub fn run(args: &FetchArgs) -> Result<()> {
    let url = repo::parse_url(&args.url)?;
    let endpoint = std::env::var("HF_ENDPOINT").ok().filter(|v| !v.is_empty());
    let hub = Hub::new(endpoint.as_deref().unwrap_or(hub::DEFAULT_ENDPOINT), Token::from_env())?;
    let rev = args.rev.as_deref().or(url.rev.as_deref()).unwrap_or("main");

    let (repo, commit) = resolve(&hub, &url, rev)?;
    info!("resolved {rev} to {commit} ({} {repo})", repo.kind.as_str());
    let plan = pipeline::plan(&hub, &repo, &commit, &args.filters)?;
    if !args.filters.include.is_empty() && !plan.files.iter().any(|e| e.lfs.is_some()) {
        warn!("no large (LFS) file matches --include; only the small files are taken");
    }
    info!("fetching {} files, {}", plan.files.len(), size(plan.bytes()));

    let tmp = TempDir::new()?;
    // `nix-store --add-fixed` names the store path after the folder, so the folder gets the store name.
    let name = repo.store_name(&commit);
    let out = tmp.path().join(&name);
    pipeline::fetch(&hub, &plan, &out, Options::default(), &|event| {
        if let Event::Done { name, size } = event {
            debug!("{name}: {size} bytes, verified");
        }
    })?;
    let hash = nar::nar_sha256(&out)?;
    let expected = nar::fixed_output_path(&hash, &name)?;
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
        repo,
        rev: commit,
        filters: args.filters.clone(),
        file_tree_hash: nar::sri(&hash),
        store_path,
        files: plan.files.len(),
        bytes: plan.bytes(),
    };
    print(&if args.json { render::json(&result) } else { render::nix(&result) })
}

/// The repo and the commit `rev` points at. A bare `org/repo` is a model if the Hub has such a model,
/// else a dataset.
fn resolve(hub: &Hub, url: &RepoUrl, rev: &str) -> Result<(Repo, String)> {
    let kinds = match url.kind {
        Some(kind) => vec![kind],
        None => vec![RepoType::Model, RepoType::Dataset],
    };
    let mut errors = Vec::new();
    for kind in kinds {
        let repo = url.with_kind(kind);
        match hub.revision(&repo, rev) {
            Ok(commit) => return Ok((repo, commit)),
            Err(e) if e.kind() == Kind::NotFound => errors.push((repo, e)),
            Err(e) => return Err(e),
        }
    }
    // A repo that exists without that ref is the answer to report; else the repo is nowhere.
    if let Some((repo, _)) = errors.iter().find(|(_, e)| e.message() == hub::NO_SUCH_REVISION) {
        return Err(Error::new(
            Kind::NotFound,
            format!("{} {repo} has no branch, tag or commit {rev:?}", repo.kind.as_str()),
        ));
    }
    match errors.len() {
        1 => Err(errors.remove(0).1),
        _ => Err(Error::new(
            Kind::NotFound,
            format!(
                "neither a model nor a dataset {}/{} exists at {} (a private or gated repo needs a token \
                 with access: set HF_TOKEN or log in with `hf auth login`)",
                url.org,
                url.name,
                hub.endpoint()
            ),
        )),
    }
}

/// `6203 bytes`, and a rounded size as well when it helps: `14496078336 bytes (13.5 GiB)`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = None;
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = Some(u);
    }
    match unit {
        Some(u) => format!("{bytes} bytes ({value:.1} {u})"),
        None => format!("{bytes} bytes"),
    }
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
