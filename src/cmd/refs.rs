/*!
`nix-hug refs URL`: the branches, tags, conversions and pull requests of a repository, each with the
commit it points at, as a table (the first column is what `--ref` takes) or as JSON.
*/

use super::print;
use crate::error::Result;
use crate::hub::{GitRef, Refs};
use crate::prefetch;
use crate::repo;
use serde::Serialize;

pub fn run(url: &str, json: bool) -> Result<()> {
    let parsed = repo::parse_url(url)?;
    let hub = prefetch::hub_from_env()?;
    let (repo, refs) = prefetch::on_repo(&hub, &parsed, |repo| hub.refs(repo))?;
    let rows = rows(&refs);
    if json {
        #[derive(Serialize)]
        struct Row<'a> {
            kind: &'a str,
            name: &'a str,
            commit: &'a str,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Json<'a> {
            url: String,
            #[serde(rename = "type")]
            kind: &'a str,
            repo_id: String,
            refs: Vec<Row<'a>>,
        }
        let value = Json {
            url: repo.url(),
            kind: repo.kind.as_str(),
            repo_id: repo.to_string(),
            refs: rows.iter().map(|(kind, r)| Row { kind, name: r.as_ref_arg(), commit: &r.commit }).collect(),
        };
        return print(&(serde_json::to_string_pretty(&value).expect("serialising refs") + "\n"));
    }
    let width = rows.iter().map(|(_, r)| r.as_ref_arg().chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (kind, r) in &rows {
        out += &format!("{kind:<7}  {:width$}  {}\n", r.as_ref_arg(), r.commit);
    }
    print(&out)
}

/// Every ref, kind by kind, in the Hub's order.
fn rows(refs: &Refs) -> Vec<(&'static str, &GitRef)> {
    let kinds =
        [("branch", &refs.branches), ("tag", &refs.tags), ("convert", &refs.converts), ("pr", &refs.pull_requests)];
    kinds.into_iter().flat_map(|(kind, list)| list.iter().map(move |r| (kind, r))).collect()
}
