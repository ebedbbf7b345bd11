/*!
The sandbox face: the builders of the derivations in `lib/`. They read `$out` and the derivation's plain
string attributes from the environment, then run the same pipeline as the CLI. No nix, no `HOME`, no CA
file but one its environment names (see `tls`), no progress bars, nothing written outside `$out`; a few
plain lines for the build log.
*/

use crate::download::{Event, Options};
use crate::error::{Context, Result, usage};
use crate::filter::Filters;
use crate::hub::{self, Hub, Token};
use crate::layout::{self, Merge};
use crate::pipeline::Sink;
use crate::repo::{Repo, RepoType, is_commit};
use crate::{info, pipeline, space};
use std::path::PathBuf;

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
    let repo = Repo::from_id(RepoType::parse(&var("repoType")?)?, &var("repoId")?)?;
    let commit = var("revision")?;
    if !is_commit(&commit) {
        return Err(usage(format!("revision {commit:?} is not a full commit id")));
    }
    let filters = Filters::from_json(&var("filters").unwrap_or_default())?;
    let endpoint =
        optional("HF_ENDPOINT").or_else(|| optional("endpoint")).unwrap_or_else(|| hub::DEFAULT_ENDPOINT.to_owned());
    crate::tls::set_in_sandbox();
    let hub = Hub::new(&endpoint, Token::from_env())?;

    let plan = pipeline::plan(&hub, &repo, &commit, &filters)?;
    info!("fetching {} from {}: {} files, {} bytes", plan.label(), hub.endpoint(), plan.files.len(), plan.bytes());
    // The store, as the sandbox shows it; `$out` itself does not exist yet.
    let store = out.parent().unwrap_or(&out);
    space::check(&[(store, space::on_disk(plan.files.iter().map(|e| e.size)))]).context(plan.label())?;
    let fetched = pipeline::fetch(&hub, &plan, Sink::Dir(&out), Options::default(), &|event| {
        if let Event::Done { name, size } = event {
            info!("{name} ({size} bytes) verified");
        }
    });
    if fetched.is_err() {
        // Nix 2.8 moves a failed build's output into the store, invalid, "for debugging"; a half-fetched
        // cache tells nothing the error does not.
        let _ = std::fs::remove_dir_all(&out);
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
