/*!
The sandbox face: the builders of the derivations in `lib/`. They read `$out` and the derivation's plain
string attributes from the environment, then run the same pipeline as the CLI. No nix, no `HOME`, no CA
file but one its environment names (see `tls`), no progress bars, nothing written outside `$out`; a few
plain lines for the build log.
*/

use crate::download::{Event, Options};
use crate::error::{Context, Result, usage};
use crate::filter::Filters;
use crate::hub::{self, Entry, Hub, Token};
use crate::layout::{self, Merge, Tree};
use crate::pipeline::{Plan, Sink};
use crate::repo::{Repo, RepoType, is_commit};
use crate::{info, lock, pipeline, space};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn var(name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| {
        usage(format!(
            "${name} is not set: this command is the builder of lib/ derivations, not meant to be run by hand"
        ))
    })
}

/// An impure variable: Nix passes an unset one as an empty string.
fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `fetchModel` / `fetchDataset` / `fetchSpace`: one repo at one commit into `$out`.
pub fn fetch() -> Result<()> {
    let out = PathBuf::from(var("out")?);
    let (repo, commit) = (repo()?, commit()?);
    let filters = Filters::from_json(&var("filters").unwrap_or_default())?;
    let hub = hub()?;
    let plan = pipeline::plan(&hub, &repo, &commit, &filters)?;
    download(&hub, &plan, &out, Sink::Dir(&out))
}

/// `fromLock`: one of the three derivations of a lock entry, as `part` says (see `lib/default.nix`).
/// `blob`: one large file, the whole output. `smallFiles`: its small files at their repo paths.
/// `cache`: its cache folder, every blob a link to one of the others' outputs.
pub fn lock() -> Result<()> {
    let out = PathBuf::from(var("out")?);
    let (repo, commit) = (repo()?, commit()?);
    let plan = |files| Plan {
        repo: repo.clone(),
        commit: commit.clone(),
        filters: Filters::default(),
        files,
        skipped: Vec::new(),
    };
    let files = lock::files_from_json(&attr_file("files")?)?;
    match var("part")?.as_str() {
        "blob" => {
            if files.iter().any(|e| e.lfs.is_none()) {
                return Err(usage("a blob is a large file"));
            }
            download(&hub()?, &plan(files), &out, Sink::File(&out))
        }
        "smallFiles" => {
            if let Some(large) = files.iter().find(|e| e.lfs.is_some()) {
                return Err(usage(format!("{:?} is a large file, not a small one", large.path)));
            }
            download(&hub()?, &plan(files), &out, Sink::Files(&out))
        }
        "cache" => {
            // The outputs of the large files, by sha256; the small files are in one output.
            let blobs: BTreeMap<String, String> =
                serde_json::from_str(&attr_file("blobs")?).map_err(|e| usage(format!("invalid blobs: {e}")))?;
            let small = optional("smallFiles");
            let target = |e: &Entry| match &e.lfs {
                Some(lfs) => blobs.get(&lfs.oid).cloned(),
                None => small.as_ref().map(|small| format!("{small}/{}", e.path)),
            };
            let targets = files
                .iter()
                .map(|e| {
                    target(e)
                        .map(|t| (e.path.as_str(), t))
                        .ok_or_else(|| usage(format!("no output holds {:?}", e.path)))
                })
                .collect::<Result<BTreeMap<_, _>>>()?;
            let label = plan(Vec::new()).label();
            Tree::of_links(&repo, &commit, &files, |path| targets[path].clone()).write(&out).context(&label)?;
            info!("cache folder of {label} ready");
            Ok(())
        }
        other => Err(usage(format!("unknown part {other:?} (expected blob, smallFiles or cache)"))),
    }
}

fn repo() -> Result<Repo> {
    Repo::from_id(RepoType::parse(&var("repoType")?)?, &var("repoId")?)
}

fn commit() -> Result<String> {
    let commit = var("revision")?;
    if !is_commit(&commit) {
        return Err(usage(format!("revision {commit:?} is not a full commit id")));
    }
    Ok(commit)
}

/// The Hub of `HF_ENDPOINT`, else of the `endpoint` attribute, else huggingface.co, with the token of
/// the environment.
fn hub() -> Result<Hub> {
    let endpoint =
        optional("HF_ENDPOINT").or_else(|| optional("endpoint")).unwrap_or_else(|| hub::DEFAULT_ENDPOINT.to_owned());
    crate::tls::set_in_sandbox();
    Hub::new(&endpoint, Token::from_env())
}

/// An attribute Nix passed in a file (`passAsFile`): a list of files can be larger than the environment
/// may hold.
fn attr_file(name: &str) -> Result<String> {
    let path = var(&format!("{name}Path"))?;
    std::fs::read_to_string(&path).with_context(|| path)
}

/// Downloads `plan` into `sink`, the output `out`, saying so in the build log.
fn download(hub: &Hub, plan: &Plan, out: &Path, sink: Sink) -> Result<()> {
    info!("fetching {} from {}: {} files, {} bytes", plan.label(), hub.endpoint(), plan.files.len(), plan.bytes());
    // The store, as the sandbox shows it; `$out` itself does not exist yet.
    let store = out.parent().unwrap_or(out);
    space::check(&[(store, space::on_disk(plan.files.iter().map(|e| e.size)))]).context(plan.label())?;
    let fetched = pipeline::fetch(hub, plan, sink, Options::default(), &|event| {
        if let Event::Done { name, size } = event {
            info!("{name} ({size} bytes) verified");
        }
    });
    if fetched.is_err() {
        // Nix 2.8 moves a failed build's output into the store, invalid, "for debugging"; a half-fetched
        // output tells nothing the error does not.
        let _ = std::fs::remove_dir_all(out).or_else(|_| std::fs::remove_file(out));
    }
    fetched.map(drop)
}

/// `buildCache`: several fetch outputs into one cache, as links or (with a hash) as a copy.
pub fn cache() -> Result<()> {
    let out = PathBuf::from(var("out")?);
    let inputs: Vec<PathBuf> = var("inputs").unwrap_or_default().split_whitespace().map(PathBuf::from).collect();
    let how = if optional("copy").is_some() { Merge::Copy } else { Merge::Link };
    std::fs::create_dir_all(&out)?;
    layout::merge(&inputs, &out, how).context("building the cache")?;
    let plural = if inputs.len() == 1 { "" } else { "s" };
    info!("cache of {} fetch output{plural} ready", inputs.len());
    Ok(())
}
