/*!
The one fetch both faces run: list the tree at a commit, choose files, refuse unsafe listings, download
and verify, lay out the cache. The CLI and the sandbox builder call exactly this, which is why the hash
the CLI prints is the hash the sandbox produces. Never prints or reads the environment: the Hub client
(endpoint, token), the filters and the output folder arrive as arguments.
*/

use crate::download::{self, Event, Expected, Job, Options};
use crate::error::{Context, Error, Kind, Result};
use crate::filter::{Filters, check_paths};
use crate::hub::{Entry, Hub};
use crate::layout;
use crate::repo::Repo;
use std::collections::HashSet;
use std::path::Path;

/// What a fetch of `repo` at `commit` takes, decided before anything touches the disk.
#[derive(Debug)]
pub struct Plan {
    pub repo: Repo,
    pub commit: String,
    /// Files the filters take, in listing order.
    pub files: Vec<Entry>,
    /// Files the filters leave out.
    pub skipped: Vec<Entry>,
}

impl Plan {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|e| e.size).sum()
    }

    /// `org/name@abcdef1`, the context of every error of this fetch.
    pub fn label(&self) -> String {
        format!("{}@{}", self.repo, &self.commit[..7.min(self.commit.len())])
    }
}

pub fn plan(hub: &Hub, repo: &Repo, commit: &str, filters: &Filters) -> Result<Plan> {
    let label = format!("{repo}@{}", &commit[..7.min(commit.len())]);
    let selector = filters.compile()?;
    let listed = hub.tree(repo, commit).with_context(|| label.clone())?;
    check_paths(listed.iter().map(|e| e.path.as_str())).with_context(|| label.clone())?;
    let missing = selector.missing(&listed.iter().map(|e| e.path.as_str()).collect::<HashSet<_>>());
    if !missing.is_empty() {
        let message = format!("no such file at this commit: {}", missing.join(", "));
        return Err(Error::new(Kind::NotFound, message).context(label));
    }
    let (files, skipped) = listed.into_iter().partition(|e| selector.takes(&e.path, e.lfs.is_some()));
    Ok(Plan { repo: repo.clone(), commit: commit.to_owned(), files, skipped })
}

/// Downloads the planned files into `out` and lays out the cache there.
pub fn fetch(hub: &Hub, plan: &Plan, out: &Path, opts: Options, progress: &(dyn Fn(Event) + Sync)) -> Result<()> {
    let run = || -> Result<()> {
        layout::prepare(out, &plan.repo)?;
        let jobs = plan
            .files
            .iter()
            .map(|e| Job {
                name: e.path.clone(),
                url: hub.resolve_url(&plan.repo, &plan.commit, &e.path),
                size: e.size,
                expected: match &e.lfs {
                    Some(lfs) => Expected::Sha256(lfs.oid.clone()),
                    None => Expected::GitBlob(e.oid.clone()),
                },
                dest: layout::blob_path(out, &plan.repo, e.etag()),
                local: opts.local_caches.iter().map(|cache| layout::blob_path(cache, &plan.repo, e.etag())).collect(),
            })
            .collect();
        download::download(hub, jobs, opts.clone(), progress)?;
        layout::finish(out, &plan.repo, &plan.commit, &plan.files)
    };
    run().context(plan.label())
}
