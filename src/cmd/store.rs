/*!
`nix-hug store …`: what the persist directory holds and where it is (`ls`, `path`), and its upkeep:
`rm` drops exports, `prune` what no export needs, `verify` re-hashes every NAR, and `rebuild-manifest`
recovers the exports of a lost manifest from the binary cache. `ls` says for each export whether its
output is still in the Nix store or was garbage-collected.
*/

use super::print;
use crate::error::{Error, Kind, Result};
use crate::persist::{self, Config, Entry, Freed, Persist, describe_filters};
use crate::render::{count, human_size};
use crate::{info, msg, nix, repo, warn};
use serde::Serialize;

pub fn ls(json: bool) -> Result<()> {
    let persist = Persist::open(&Config::load()?)?;
    let mut entries = persist.entries()?;
    entries.sort_by(|a, b| (&a.repo_id, &a.kind, &a.exported).cmp(&(&b.repo_id, &b.kind, &b.exported)));
    let paths: Vec<&str> = entries.iter().map(|e| e.store_path.as_str()).collect();
    let valid = nix::valid(&paths)?;
    if valid.is_none() {
        warn!("nix-store is not on PATH: whether each output is still in the store is unknown");
    }
    let valid = valid.map_or_else(|| vec![None; entries.len()], |v| v.into_iter().map(Some).collect());
    if json {
        return print(&to_json(&entries, &valid));
    }
    if entries.is_empty() {
        info!("nothing was exported to {} yet", persist.dir().display());
        return Ok(());
    }
    print(&table(&entries, &valid))
}

pub fn path() -> Result<()> {
    print(&format!("{}\n", Persist::open(&Config::load()?)?.dir().display()))
}

/// Drops the exports each target names (a URL as `import` takes it, or a store path), and the copies a
/// store path names that are no export; none when one names nothing.
pub fn rm(targets: &[String]) -> Result<()> {
    let persist = Persist::open(&Config::load()?)?;
    let entries = persist.entries()?;
    let (mut chosen, mut copies) = (Vec::new(), Vec::new());
    for target in targets {
        let found: Vec<&Entry> = if target.starts_with('/') {
            let found: Vec<&Entry> = entries.iter().filter(|e| e.store_path == *target).collect();
            if found.is_empty() && persist.holds(target) {
                copies.push(target.clone());
                continue;
            }
            found
        } else {
            let url = repo::parse_url(target)?;
            persist::matching(&entries, &url, url.rev.as_deref())
        };
        if found.is_empty() {
            let dir = persist.dir().display();
            let message = format!("nothing of {target} was exported to {dir}; see `nix-hug store ls`");
            return Err(Error::new(Kind::NotFound, message));
        }
        chosen.extend(found.into_iter().map(|e| e.store_path.clone()));
    }
    let (removed, freed) = persist.remove(|e| chosen.contains(&e.store_path), &copies)?;
    for e in &removed {
        info!("removed {} from the manifest", e.label());
    }
    report(&freed, "its copies are needed by other exports")
}

pub fn prune() -> Result<()> {
    let persist = Persist::open(&Config::load()?)?;
    report(&persist.prune()?, "every copy is needed by an export")
}

pub fn verify() -> Result<()> {
    let persist = Persist::open(&Config::load()?)?;
    let verified = persist.verify()?;
    for problem in &verified.problems {
        msg::error(&Error::new(Kind::Integrity, problem.clone()));
    }
    let dir = persist.dir().display();
    match verified.problems.len() {
        0 => {
            info!("verified {} ({}) in {dir}", count(verified.paths, "copy", "copies"), human_size(verified.bytes));
            Ok(())
        }
        n => Err(Error::new(
            Kind::Integrity,
            format!(
                "{} in {dir}, {} verified: `nix-hug store rm` what they name, or export it again",
                count(n, "problem", "problems"),
                count(verified.paths, "copy", "copies")
            ),
        )),
    }
}

pub fn rebuild_manifest() -> Result<()> {
    let persist = Persist::open(&Config::load()?)?;
    let (added, left) = persist.rebuild_manifest()?;
    for why in &left {
        warn!("left out {why}");
    }
    let mut out = String::new();
    for e in &added {
        info!("recovered {}", e.label());
        out += &format!("{}\n", e.store_path);
    }
    match added.len() {
        0 => info!("the manifest already lists every fetch output in {}", persist.dir().display()),
        n => info!(
            "recovered {n} exports: each with the exact files it holds as its filters; \
             the branch or tag each was fetched as is not known"
        ),
    }
    print(&out)
}

/// The store paths whose copies were deleted, on stdout, and how much that freed.
fn report(freed: &Freed, otherwise: &str) -> Result<()> {
    if !freed.left.is_empty() {
        info!(
            "left {} that `nix-hug export` did not make (copied with `nix copy`): `nix-hug store rm STORE-PATH` deletes one",
            count(freed.left.len(), "copy", "copies")
        );
    }
    if freed.paths.is_empty() {
        info!("nothing to delete: {otherwise}");
        return Ok(());
    }
    info!("freed {}", human_size(freed.bytes));
    print(&freed.paths.iter().map(|p| format!("{p}\n")).collect::<String>())
}

fn status(valid: Option<bool>) -> &'static str {
    match valid {
        Some(true) => "in store",
        Some(false) => "garbage-collected",
        None => "unknown",
    }
}

fn table(entries: &[Entry], valid: &[Option<bool>]) -> String {
    let mut rows = vec![["REPO", "TYPE", "REV", "SIZE", "EXPORTED", "STATUS", "FILTERS"].map(String::from)];
    for (e, valid) in entries.iter().zip(valid) {
        rows.push([
            e.repo_id.clone(),
            e.kind.clone(),
            e.rev.chars().take(7).collect(),
            human_size(e.size),
            // `2026-11-24T14:19:16Z` → `2026-11-24 14:19`
            e.exported.get(..16).unwrap_or(&e.exported).replace('T', " "),
            status(*valid).to_owned(),
            describe_filters(&e.filters),
        ]);
    }
    let mut widths = [0; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| if i == 3 { format!("{cell:>w$}") } else { format!("{cell:w$}") })
            .collect();
        out += cells.join("  ").trim_end();
        out.push('\n');
    }
    out
}

fn to_json(entries: &[Entry], valid: &[Option<bool>]) -> String {
    #[derive(Serialize)]
    struct Row<'a> {
        #[serde(flatten)]
        entry: &'a Entry,
        /// `null` when nix-store is not on PATH.
        valid: Option<bool>,
    }
    let rows: Vec<Row> = entries.iter().zip(valid).map(|(entry, valid)| Row { entry, valid: *valid }).collect();
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_string_pretty(&rows).expect("serialising the exports") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Filters;

    fn entry(id: &str, kind: &str, filters: Filters, size: u64) -> Entry {
        Entry {
            repo_id: id.into(),
            kind: kind.into(),
            rev: "3ff38855ac13151beaf4df4ad86a02f4dd015053".into(),
            refs: vec!["main".into()],
            filters,
            file_tree_hash: "sha256-mD+VYvxsLFH7+jiumTZYcE3f3kpMKeimaR0eElkT7FI=".into(),
            store_path: format!("/nix/store/{}-hf-{kind}-x", "0".repeat(32)),
            size,
            files: 3,
            exported: "2026-11-24T14:19:16Z".into(),
        }
    }

    #[test]
    fn table_is_aligned() {
        let st = Filters { include: vec![r".*\.safetensors".into()], ..Filters::default() };
        let entries =
            [entry("acme/tiny-bert", "model", st, 5 << 20), entry("acme/squad", "dataset", Filters::default(), 900)];
        let want = "\
REPO            TYPE     REV         SIZE  EXPORTED          STATUS             FILTERS
acme/tiny-bert  model    3ff3885  5.0 MiB  2026-11-24 14:19  in store           include *.safetensors
acme/squad      dataset  3ff3885    900 B  2026-11-24 14:19  garbage-collected
";
        assert_eq!(table(&entries, &[Some(true), Some(false)]), want);
        assert!(table(&entries[1..], &[None]).contains("  unknown\n"));
    }

    #[test]
    fn json_has_the_manifest_fields_and_validity() {
        let v: serde_json::Value =
            serde_json::from_str(&to_json(&[entry("acme/squad", "dataset", Filters::default(), 900)], &[None]))
                .unwrap();
        assert_eq!(
            v,
            serde_json::json!([{
                "repoId": "acme/squad",
                "type": "dataset",
                "rev": "3ff38855ac13151beaf4df4ad86a02f4dd015053",
                "refs": ["main"],
                "filters": {},
                "fileTreeHash": "sha256-mD+VYvxsLFH7+jiumTZYcE3f3kpMKeimaR0eElkT7FI=",
                "storePath": format!("/nix/store/{}-hf-dataset-x", "0".repeat(32)),
                "size": 900,
                "files": 3,
                "exported": "2026-11-24T14:19:16Z",
                "valid": null,
            }])
        );
        assert_eq!(to_json(&[], &[]), "[]\n");
    }
}
