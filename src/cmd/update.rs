/*!
`nix-hug update [NAME…]`: follows the ref of each entry of the lock file (those named, else all) and pins
its new commit, printing what moved, and puts the files it pins into the store as `add` does (unless
`--no-seed`). `--check` only compares commits and says which are stale. Arguments ending in `.nix` are
Nix files whose literal fetch calls are bumped in place (`nixfile`).
*/

use super::print;
use crate::cli::Pins;
use crate::error::{Context, Error, Kind, Result, usage};
use crate::lock::{self, Changes, Entry, File, Lock};
use crate::nixfile;
use crate::prefetch::{self, Target};
use crate::render::{human_size, nix_string};
use crate::repo::parse_url;
use crate::{info, warn};
use serde::Serialize;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// What became of one entry (or one call in a Nix file).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    name: String,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    ref_name: Option<String>,
    old: String,
    new: String,
    #[serde(flatten)]
    changes: Changes,
}

pub fn run(names: &[String], check: bool, pins: &Pins) -> Result<()> {
    let (files, names): (Vec<&String>, Vec<&String>) = names.iter().partition(|n| n.ends_with(".nix"));
    if !files.is_empty() && !names.is_empty() {
        return Err(usage("update: give entry names or .nix files, not both"));
    }
    let reports = if files.is_empty() { in_lock(&names, check, pins)? } else { in_files(&files, check, pins)? };
    let stale = reports.iter().filter(|r| r.old != r.new).count();
    if pins.json {
        print(&format!("{}\n", serde_json::to_string_pretty(&reports).expect("plain data")))?;
    } else {
        print(&reports.iter().map(text).collect::<String>())?;
    }
    match (check, stale) {
        (true, n) if n > 0 => Err(Error::new(
            Kind::Failed,
            format!("{n} of {} pins are stale; `nix-hug update` moves them", reports.len()),
        )),
        _ => Ok(()),
    }
}

fn in_lock(names: &[&String], check: bool, pins: &Pins) -> Result<Vec<Report>> {
    let mut lock = Lock::read(&pins.lock)?;
    lock.check_names(names.iter().copied(), &pins.lock)?;
    let chosen: Vec<String> = match names {
        [] => lock.repos.keys().cloned().collect(),
        names => names.iter().map(|n| n.to_string()).collect(),
    };
    let seed = !check && prefetch::seeding(pins.seed)?;
    let mut reports = Vec::new();
    for name in chosen {
        let old = &lock.repos[&name];
        let Some(ref_name) = old.ref_name.clone() else {
            info!("{name}: pinned to commit {}, which no ref moves", old.rev);
            continue;
        };
        let target = prefetch::target_of(old, None)?;
        let hub = prefetch::hub_at(old.endpoint.as_deref())?;
        let new = if check {
            let (_, plan) = prefetch::plan_at(prefetch::commit_on(hub, &target)?, &target)?;
            Entry {
                rev: plan.commit.clone(),
                files: plan.files.iter().map(|e| (e.path.clone(), File::of(e))).collect(),
                ..old.clone()
            }
        } else {
            prefetch::pin(hub, &target, old.filters.clone(), Some(old), pins.jobs, seed).context(&name)?
        };
        reports.push(Report {
            name: name.clone(),
            ref_name: Some(ref_name),
            old: old.rev.clone(),
            new: new.rev.clone(),
            changes: Changes::between(old, &new),
        });
        lock.repos.insert(name, new);
    }
    if !check && reports.iter().any(|r| r.old != r.new) {
        lock.write(&pins.lock)?;
    }
    Ok(reports)
}

/// Bumps the literal fetch calls of Nix files to the commits their refs point at, each file written
/// whole (atomically) once every call in it is resolved.
fn in_files(files: &[&String], check: bool, pins: &Pins) -> Result<Vec<Report>> {
    let mut reports = Vec::new();
    for file in files {
        let path = Path::new(file.as_str());
        let source = std::fs::read_to_string(path).with_context(|| path.display())?;
        let (calls, skipped) = nixfile::calls(&source).with_context(|| path.display())?;
        for s in skipped {
            warn!("{}:{}: a fetch call left as it is: {}", path.display(), s.line, s.why);
        }
        let mut edits = Vec::new();
        for call in calls {
            let label = format!("{}:{}", path.display(), call.line);
            let url = parse_url(&call.url).context(&label)?;
            let ref_name = url.rev.clone().unwrap_or_else(|| "main".into());
            let target = Target {
                url: crate::repo::RepoUrl { kind: Some(call.kind), path: None, ..url },
                rev: Some(ref_name.clone()),
                filters: call.filters.clone(),
                includes: Vec::new(),
            };
            let hub = prefetch::hub_at(call.endpoint.as_deref())?;
            let resolved = prefetch::commit_on(hub, &target).context(&label)?;
            let new = resolved.commit.clone();
            if new != call.rev.value && !check {
                let at = Target { rev: Some(new.clone()), ..target };
                let hash = prefetch::fetch(&at, pins.jobs, Some(resolved)).context(&label)?.file_tree_hash;
                edits.push((call.rev.range.clone(), new.clone()));
                edits.push((call.hash.range.clone(), hash));
            }
            let changes = Changes::default();
            reports.push(Report { name: label, ref_name: Some(ref_name), old: call.rev.value.clone(), new, changes });
        }
        if !edits.is_empty() {
            let mode = std::fs::metadata(path).with_context(|| path.display())?.permissions().mode();
            lock::replace_file(path, &nixfile::rewrite(&source, edits), mode)?;
        }
    }
    Ok(reports)
}

fn text(r: &Report) -> String {
    let short = |rev: &str| rev[..7.min(rev.len())].to_owned();
    let on = r.ref_name.as_deref().map_or(String::new(), |n| format!(" ({n})"));
    if r.old == r.new {
        return format!("{}: up to date at {}{on}\n", r.name, short(&r.new));
    }
    let c = &r.changes;
    let sign = if c.size_delta < 0 { "-" } else { "+" };
    let mut out = format!("{}: {} -> {}{on}", r.name, short(&r.old), short(&r.new));
    if c.added.len() + c.removed.len() + c.changed.len() > 0 {
        out += &format!(
            ": {} added, {} removed, {} changed ({sign}{})",
            c.added.len(),
            c.removed.len(),
            c.changed.len(),
            human_size(c.size_delta.unsigned_abs())
        );
    }
    out.push('\n');
    for (mark, paths) in [("+", &c.added), ("-", &c.removed), ("~", &c.changed)] {
        for p in paths {
            out += &format!("  {mark} {}\n", nix_string(p).trim_matches('"'));
        }
    }
    out
}
