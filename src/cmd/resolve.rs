/*!
What `fetch` and `ls` share: from a URL, a ref and filters to the plan of a fetch. The Hub comes from
the environment (`HF_ENDPOINT`, the token), the ref is resolved to a commit (a bare `org/repo` is tried as
a model, then as a dataset), and the tree at that commit is listed and filtered by `pipeline::plan`.
*/

use crate::cli::Target;
use crate::error::{Error, Kind, Result};
use crate::hub::{self, Hub, Token};
use crate::pipeline::{self, Plan};
use crate::repo::{self, Repo, RepoType, RepoUrl};
use crate::{info, warn};

/// The Hub client and the plan of a fetch of `target`; says on stderr which commit the ref resolved to.
pub fn plan(target: &Target) -> Result<(Hub, Plan)> {
    let url = repo::parse_url(&target.url)?;
    let endpoint = std::env::var("HF_ENDPOINT").ok().filter(|v| !v.is_empty());
    let hub = Hub::new(endpoint.as_deref().unwrap_or(hub::DEFAULT_ENDPOINT), Token::from_env())?;
    let rev = target.rev.as_deref().or(url.rev.as_deref()).unwrap_or("main");

    let (repo, commit) = resolve(&hub, &url, rev)?;
    if rev == commit {
        info!("pinned to commit {commit} ({} {repo})", repo.kind.as_str());
    } else {
        info!("resolved {rev} to {commit} ({} {repo})", repo.kind.as_str());
    }
    let plan = pipeline::plan(&hub, &repo, &commit, &target.filters)?;
    if !target.filters.include.is_empty() && !plan.files.iter().any(|e| e.lfs.is_some()) {
        warn!("the filters take no large (LFS) file; only the small files are taken");
    }
    Ok((hub, plan))
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
            Err(e) if matches!(e.kind(), Kind::NotFound | Kind::NoSuchRevision) => errors.push((repo, e)),
            Err(e) => return Err(e),
        }
    }
    // A repo that exists without that ref is the answer to report; else the repo is nowhere.
    if let Some((repo, _)) = errors.iter().find(|(_, e)| e.kind() == Kind::NoSuchRevision) {
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
                "neither a model nor a dataset {} exists at {} (a private or gated repo needs a token \
                 with access: set HF_TOKEN or log in with `hf auth login`)",
                url.id,
                hub.endpoint()
            ),
        )),
    }
}
