/*!
What `fetch` and `ls` share: from a URL, a ref and filters to the plan of a fetch. The Hub comes from
the environment (`HF_ENDPOINT`, the token), the ref is resolved to a commit (a bare `org/repo` is tried as
a model, then as a dataset), and the tree at that commit is listed and filtered by `pipeline::plan`.

A repo renamed on the Hub (or a legacy id such as `gpt2`) keeps the id the user gave: the cache folder
is named after it (`models--gpt2`), and that is the folder `from_pretrained("gpt2")` looks for offline,
so switching to the new id would break the user's code. The Hub redirects the old id, in the sandbox as
here. The user is told the new id, to pin it instead if they like.
*/

use crate::cli::Target;
use crate::error::{Error, Kind, Result};
use crate::filter::Filters;
use crate::hub::{self, GitRef, Hub, Refs, Revision, Token};
use crate::pipeline::{self, Plan};
use crate::repo::{Repo, RepoType, RepoUrl};
use crate::{info, warn};

/// A repository at a commit, and the Hub client that found it.
pub struct Resolved {
    pub hub: Hub,
    pub repo: Repo,
    pub commit: String,
}

/// The Hub client and the plan of a fetch of `target`; says on stderr which commit the ref resolved to.
pub fn plan(target: &Target) -> Result<(Hub, Plan)> {
    plan_at(commit(target)?, target)
}

/// The commit `target`'s ref points at on the Hub, said on stderr.
pub fn commit(target: &Target) -> Result<Resolved> {
    let url = &target.url;
    let hub = hub_from_env()?;
    let rev = asked_ref(target, url);

    let (repo, revision) = resolve(&hub, url, rev)?;
    let (kind, commit) = (repo.kind.as_str(), revision.commit);
    if rev == commit {
        info!("pinned to commit {commit} ({kind} {repo})");
    } else {
        info!("resolved {rev} to {commit} ({kind} {repo})");
    }
    if let Some(id) = revision.id.filter(|id| *id != repo.id) {
        info!(
            "{kind} {repo} is now {id} on the Hub (the old id redirects there); the expression keeps {repo}, so code \
             that loads {repo} finds it in the cache ({}); fetch {id} to pin the new id",
            repo.folder()
        );
    }
    Ok(Resolved { hub, repo, commit })
}

/// The Hub of `HF_ENDPOINT` (default huggingface.co), with the user's token.
pub fn hub_from_env() -> Result<Hub> {
    let endpoint = std::env::var("HF_ENDPOINT").ok().filter(|v| !v.is_empty());
    Hub::new(endpoint.as_deref().unwrap_or(hub::DEFAULT_ENDPOINT), Token::from_env())
}

/// The ref `target` asks for: `--ref`, else the URL's `/tree/REF`, else `main`.
pub fn asked_ref<'a>(target: &'a Target, url: &'a RepoUrl) -> &'a str {
    target.rev.as_deref().or(url.rev.as_deref()).unwrap_or("main")
}

/// The plan of a fetch of `target`'s files at the commit resolved.
pub fn plan_at(resolved: Resolved, target: &Target) -> Result<(Hub, Plan)> {
    let Resolved { hub, repo, commit } = resolved;
    let plan = pipeline::plan(&hub, &repo, &commit, &target.filters)?;
    check_includes(&plan, &target.includes)?;
    if !target.filters.include.is_empty() && !plan.files.iter().any(|e| e.lfs.is_some()) {
        warn!("the filters take no large (LFS) file: --exclude leaves out every one --include takes");
    }
    Ok((hub, plan))
}

/// An `--include` (or a folder URL) that takes no large file is most likely a typo, and would pin the
/// repo without its weights: an error that lists what there is to take.
fn check_includes(plan: &Plan, includes: &[(String, String)]) -> Result<()> {
    let large: Vec<&str> =
        plan.files.iter().chain(&plan.skipped).filter(|e| e.lfs.is_some()).map(|e| e.path.as_str()).collect();
    for (given, regex) in includes {
        let selector = Filters { include: vec![regex.clone()], ..Filters::default() }.compile()?;
        if large.iter().any(|path| selector.takes(path, true)) {
            continue;
        }
        let there = match large.len() {
            0 => "it has no large (LFS) file; --include chooses among those".to_owned(),
            n if n <= 10 => format!("its large files: {}", large.join(", ")),
            n => format!("its large files: {}, and {} more (see `nix-hug ls`)", large[..10].join(", "), n - 10),
        };
        return Err(Error::new(Kind::NotFound, format!("{given} matches no large file of {}; {there}", plan.label())));
    }
    Ok(())
}

/// The repo and what `rev` points at. A ref the repo lacks is reported with the branches and tags it has.
fn resolve(hub: &Hub, url: &RepoUrl, rev: &str) -> Result<(Repo, Revision)> {
    on_repo(hub, url, |repo| {
        hub.revision(repo, rev).map_err(|e| match e.kind() {
            Kind::NoSuchRevision => {
                let kind = repo.kind.as_str();
                let known = hub.refs(repo).map_or(String::new(), |refs| format!(" ({})", ref_names(&refs)));
                Error::new(Kind::NoSuchRevision, format!("{kind} {repo} has no branch, tag or commit {rev:?}{known}"))
            }
            _ => e,
        })
    })
}

/// `branches: main, dev; tags: v1.0`: what `--ref` could have been.
fn ref_names(refs: &Refs) -> String {
    let names = |list: &[GitRef]| list.iter().map(GitRef::as_ref_arg).collect::<Vec<_>>().join(", ");
    let mut parts = vec![format!("branches: {}", names(&refs.branches))];
    if !refs.tags.is_empty() {
        parts.push(format!("tags: {}", names(&refs.tags)));
    }
    parts.join("; ")
}

/// `op` on the repo `url` names. A bare `org/repo` is a model if the Hub has such a model, else a
/// dataset; when neither answers, a repo that exists without the ref asked for is the one to report.
pub fn on_repo<T>(hub: &Hub, url: &RepoUrl, op: impl Fn(&Repo) -> Result<T>) -> Result<(Repo, T)> {
    let kinds = match url.kind {
        Some(kind) => vec![kind],
        None => vec![RepoType::Model, RepoType::Dataset],
    };
    let mut errors = Vec::new();
    for kind in kinds {
        let repo = url.with_kind(kind);
        match op(&repo) {
            Ok(value) => return Ok((repo, value)),
            Err(e) if matches!(e.kind(), Kind::NotFound | Kind::NoSuchRevision) => errors.push(e),
            Err(e) => return Err(e),
        }
    }
    if let Some(i) = errors.iter().position(|e| e.kind() == Kind::NoSuchRevision) {
        return Err(errors.swap_remove(i));
    }
    match errors.len() {
        1 => Err(errors.remove(0)),
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
