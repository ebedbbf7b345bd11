/*!
The one fetch both faces run: list the tree at a commit, choose files, refuse unsafe listings, download
and verify, lay out the cache. The CLI and the sandbox builder call exactly this, which is why the hash
the CLI prints is the hash the sandbox produces. Never prints or reads the environment: the Hub client
(endpoint, token), the filters and the output folder arrive as arguments.
*/

use crate::download::{self, Dest, Event, Expected, Job, Options};
use crate::error::{Context, Error, Kind, Result};
use crate::filter::{Filters, check_paths};
use crate::hub::{Entry, Hub};
use crate::layout::{self, Tree};
use crate::nar::{self, Hash, Skeleton};
use crate::regions::Regions;
use crate::repo::Repo;
use std::collections::HashSet;
use std::fs::{self, File};
use std::path::Path;
use std::sync::Arc;

/// What a fetch of `repo` at `commit` takes, decided before anything touches the disk.
#[derive(Debug)]
pub struct Plan {
    pub repo: Repo,
    pub commit: String,
    /// The filters that chose the files.
    pub filters: Filters,
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
        label(&self.repo, &self.commit)
    }
}

/// `org/name@abcdef1`.
pub fn label(repo: &Repo, commit: &str) -> String {
    format!("{repo}@{}", &commit[..7.min(commit.len())])
}

pub fn plan(hub: &Hub, repo: &Repo, commit: &str, filters: &Filters) -> Result<Plan> {
    choose(repo, commit, list(hub, repo, commit)?, filters)
}

/// The tree of `repo` at `commit`, refused if any path is unsafe.
pub fn list(hub: &Hub, repo: &Repo, commit: &str) -> Result<Vec<Entry>> {
    let listed = hub.tree(repo, commit).with_context(|| label(repo, commit))?;
    check_paths(listed.iter().map(|e| e.path.as_str())).with_context(|| label(repo, commit))?;
    Ok(listed)
}

/// The plan of the files `filters` take from `listed`.
pub fn choose(repo: &Repo, commit: &str, listed: Vec<Entry>, filters: &Filters) -> Result<Plan> {
    let selector = filters.compile()?;
    let missing = selector.missing(&listed.iter().map(|e| e.path.as_str()).collect::<HashSet<_>>());
    if !missing.is_empty() {
        let message = format!("no such file at this commit: {}", missing.join(", "));
        return Err(Error::new(Kind::NotFound, message).context(label(repo, commit)));
    }
    let (files, skipped) = listed.into_iter().partition(|e| selector.takes(&e.path, e.lfs.is_some()));
    Ok(Plan { repo: repo.clone(), commit: commit.to_owned(), filters: filters.clone(), files, skipped })
}

/// Where a fetch puts its output.
pub enum Sink<'a> {
    /// A folder: the output itself (the sandbox builder's `$out`).
    Dir(&'a Path),
    /// One file: the output's NAR, every blob downloaded straight to its offset (what the CLI imports).
    Nar(&'a Path),
    /// A folder of the planned files at their repo paths, nothing else: the small files of a lock entry.
    Files(&'a Path),
    /// The plan's one file as the output itself: a large file of a lock entry.
    File(&'a Path),
    /// The plan's large files in a folder, each as `blob_name` names its output: those of a lock entry.
    Blobs(&'a Path),
}

/// The store name of a large file's output in `fromLock`: its sha256 alone names it.
pub fn blob_name(sha256: &str) -> String {
    format!("hf-blob-{sha256}")
}

/// Downloads the planned files into `sink`: laid out as a Hugging Face cache (`Dir`, `Nar`), or as the
/// outputs of a lock entry (`Files`, `File`, `Blobs`). A NAR sink gives the NAR's sha256 and size,
/// hashed as the downloads complete it.
pub fn fetch(
    hub: &Hub,
    plan: &Plan,
    sink: Sink,
    opts: Options,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<Option<(Hash, u64)>> {
    let job = |e: &Entry, dest| Job {
        name: e.path.clone(),
        url: hub.resolve_url(&plan.repo, &plan.commit, &e.path),
        size: e.size,
        expected: match &e.lfs {
            Some(lfs) => Expected::Sha256(lfs.oid.clone()),
            None => Expected::GitBlob(e.oid.clone()),
        },
        dest,
        local: opts.local_caches.iter().map(|cache| layout::blob_path(cache, &plan.repo, e.etag())).collect(),
    };
    let run = || -> Result<Option<(Hash, u64)>> {
        match sink {
            Sink::Dir(out) => {
                layout::prepare(out, &plan.repo)?;
                let dest = |e: &Entry| Dest::File(layout::blob_path(out, &plan.repo, e.etag()));
                download::download(hub, plan.files.iter().map(|e| job(e, dest(e))).collect(), opts.clone(), progress)?;
                layout::finish(out, &plan.repo, &plan.commit, &plan.files)?;
                Ok(None)
            }
            Sink::Nar(path) => {
                let skeleton = Skeleton::of(&Tree::of_fetch(&plan.repo, &plan.commit, &plan.files));
                let file = File::create_new(path).with_context(|| path.display().to_string())?;
                skeleton.write(&file).map_err(|e| crate::space::write_error(e, path))?;
                let file = Arc::new(file);
                let regions = Arc::new(Regions::default());
                for (offset, bytes) in &skeleton.chunks {
                    regions.done(*offset, offset + bytes.len() as u64);
                }
                let dest = |e: &Entry| Dest::At {
                    file: file.clone(),
                    offset: skeleton.blobs[e.etag()],
                    path: path.to_owned(),
                    regions: Some(regions.clone()),
                };
                let jobs = plan.files.iter().map(|e| job(e, dest(e))).collect();
                let (downloaded, hashed) = std::thread::scope(|s| {
                    let hashing = s.spawn(|| nar::sha256_following(&file, &regions));
                    let downloaded = download::download(hub, jobs, opts.clone(), progress);
                    regions.close();
                    (downloaded, hashing.join().expect("hashing does not panic"))
                });
                downloaded?;
                let read = |e| Error::from(e).context(path.display());
                let hashed = match hashed.map_err(read)? {
                    Some(hashed) => hashed,
                    // Spoiled: hashed again, now that nothing writes.
                    None => nar::sha256_following(&file, &Regions::whole(skeleton.size))
                        .map_err(read)?
                        .expect("a file nothing writes is never spoiled"),
                };
                Ok(Some(hashed))
            }
            Sink::Files(out) => {
                for path in plan.files.iter().map(|e| out.join(&e.path)) {
                    let dir = path.parent().unwrap_or(out);
                    fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
                }
                let dest = |e: &Entry| Dest::File(out.join(&e.path));
                download::download(hub, plan.files.iter().map(|e| job(e, dest(e))).collect(), opts.clone(), progress)?;
                Tree::of_files(&plan.files).write(out)?;
                Ok(None)
            }
            Sink::File(path) => {
                let [e] = plan.files.as_slice() else {
                    return Err(Error::new(Kind::Failed, format!("{} files for one output", plan.files.len())));
                };
                let file = File::create_new(path).with_context(|| path.display().to_string())?;
                file.set_len(e.size).map_err(|err| crate::space::write_error(err, path))?;
                let dest = Dest::At { file: Arc::new(file), offset: 0, path: path.to_owned(), regions: None };
                download::download(hub, vec![job(e, dest)], opts.clone(), progress)?;
                Ok(None)
            }
            Sink::Blobs(dir) => {
                fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
                let jobs = plan
                    .files
                    .iter()
                    .map(|e| match &e.lfs {
                        Some(lfs) => Ok(job(e, Dest::File(dir.join(blob_name(&lfs.oid))))),
                        None => Err(Error::new(Kind::Failed, format!("{:?} is not a large file", e.path))),
                    })
                    .collect::<Result<_>>()?;
                download::download(hub, jobs, opts.clone(), progress)?;
                Ok(None)
            }
        }
    };
    run().context(plan.label())
}
