/*!
`nix-hug ls URL`: the plan `fetch` would make with the same filters, shown instead of run. One line per
file of the listing (taken `+` or left out `-`, path, size, `LFS` for large files), then the totals, then
the GGUF quants of the repo, if any, with their sizes; or the same as JSON.
*/

use super::print;
use crate::cli::LsArgs;
use crate::error::Result;
use crate::gguf::{self, Quant};
use crate::hub::Entry;
use crate::pipeline::Plan;
use crate::prefetch;
use crate::render::{self, Count, RepoFields, human_size};
use crate::repo::RepoType;
use serde::Serialize;

pub fn run(args: &LsArgs) -> Result<()> {
    let (_, plan) = prefetch::plan(&args.target)?;
    print(&if args.json { json(&plan) } else { table(&plan) })
}

/// Every file of the listing, sorted by path, with whether the filters take it.
fn rows(plan: &Plan) -> Vec<(&Entry, bool)> {
    let mut rows: Vec<(&Entry, bool)> =
        plan.files.iter().map(|e| (e, true)).chain(plan.skipped.iter().map(|e| (e, false))).collect();
    rows.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    rows
}

/// The quants of a model's whole listing, whatever the filters take (a `:QUANT` is a model's).
fn quants(plan: &Plan) -> Vec<Quant> {
    if plan.repo.kind != RepoType::Model {
        return Vec::new();
    }
    gguf::quants(plan.files.iter().chain(&plan.skipped).map(|e| (e.path.as_str(), e.size)))
}

fn table(plan: &Plan) -> String {
    let rows = rows(plan);
    let sizes: Vec<String> = rows.iter().map(|(e, _)| human_size(e.size)).collect();
    let path_width = rows.iter().map(|(e, _)| e.path.chars().count()).max().unwrap_or(0);
    let size_width = sizes.iter().map(String::len).max().unwrap_or(0);
    let mut out = String::new();
    for ((entry, taken), size) in rows.iter().zip(&sizes) {
        let mark = if *taken { '+' } else { '-' };
        let lfs = if entry.lfs.is_some() { "  LFS" } else { "" };
        out += &format!("{mark} {:path_width$}  {size:>size_width$}{lfs}\n", entry.path);
    }
    let total: u64 = rows.iter().map(|(e, _)| e.size).sum();
    out += &format!(
        "{} of {} files taken, {} to download ({} in all)\n",
        plan.files.len(),
        rows.len(),
        human_size(plan.bytes()),
        human_size(total)
    );
    let quants = quants(plan);
    if !quants.is_empty() {
        out += &format!("GGUF quants, one of which `nix-hug fetch {}:QUANT` takes:\n", plan.repo.url());
        let name_width = quants.iter().map(|q| q.name.len()).max().unwrap_or(0);
        let sizes: Vec<String> = quants.iter().map(|q| human_size(q.bytes)).collect();
        let size_width = sizes.iter().map(String::len).max().unwrap_or(0);
        for (q, size) in quants.iter().zip(&sizes) {
            let mmproj = q.mmproj.as_ref().map_or(String::new(), |m| format!(" and {m}"));
            out +=
                &format!("  {:name_width$}  {size:>size_width$}  {}{mmproj}\n", q.name, render::files(q.files.len()));
        }
    }
    out
}

fn json(plan: &Plan) -> String {
    #[derive(Serialize)]
    struct File<'a> {
        path: &'a str,
        size: u64,
        lfs: bool,
        taken: bool,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Json<'a> {
        #[serde(flatten)]
        repo: RepoFields<'a>,
        files: Vec<File<'a>>,
        taken: Count,
        total: Count,
        quants: Vec<Quant>,
    }
    let rows = rows(plan);
    let value = Json {
        repo: RepoFields::new(&plan.repo, &plan.commit),
        taken: Count { files: plan.files.len(), bytes: plan.bytes() },
        total: Count { files: rows.len(), bytes: rows.iter().map(|(e, _)| e.size).sum() },
        files: rows
            .iter()
            .map(|(e, taken)| File { path: &e.path, size: e.size, lfs: e.lfs.is_some(), taken: *taken })
            .collect(),
        quants: quants(plan),
    };
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_string_pretty(&value).expect("serialising a listing") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Lfs;
    use crate::repo::Repo;

    fn entry(path: &str, size: u64, lfs: bool) -> Entry {
        let lfs = lfs.then(|| Lfs { oid: "0".repeat(64), size });
        Entry { path: path.into(), size, oid: "0".repeat(40), lfs }
    }

    fn plan() -> Plan {
        Plan {
            repo: Repo { kind: RepoType::Dataset, id: "acme/tiny".into() },
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            filters: Default::default(),
            files: vec![entry("config.json", 318, false), entry("model.safetensors", 5 << 20, true)],
            skipped: vec![entry("onnx/model.onnx", 5000, true)],
        }
    }

    #[test]
    fn table_is_aligned_and_sorted() {
        let want = "\
+ config.json          318 B
+ model.safetensors  5.0 MiB  LFS
- onnx/model.onnx    4.9 KiB  LFS
2 of 3 files taken, 5.0 MiB to download (5.0 MiB in all)
";
        assert_eq!(table(&plan()), want);
    }

    #[test]
    fn json_shape() {
        let v: serde_json::Value = serde_json::from_str(&json(&plan())).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "url": "datasets/acme/tiny",
                "type": "dataset",
                "repoId": "acme/tiny",
                "rev": "0123456789abcdef0123456789abcdef01234567",
                "files": [
                    { "path": "config.json", "size": 318, "lfs": false, "taken": true },
                    { "path": "model.safetensors", "size": 5 << 20, "lfs": true, "taken": true },
                    { "path": "onnx/model.onnx", "size": 5000, "lfs": true, "taken": false },
                ],
                "taken": { "files": 2, "bytes": 318 + (5 << 20) },
                "total": { "files": 3, "bytes": 318 + (5 << 20) + 5000 },
                "quants": [],
            })
        );
    }

    #[test]
    fn quants_after_the_files() {
        let gguf = Plan {
            repo: Repo { kind: RepoType::Model, id: "acme/tiny-gguf".into() },
            files: vec![entry("tiny-Q8_0.gguf", 3000, true), entry("mmproj-F16.gguf", 100, true)],
            skipped: vec![
                entry("Q4_K_M/tiny-Q4_K_M-00001-of-00002.gguf", 1000, true),
                entry("Q4_K_M/tiny-Q4_K_M-00002-of-00002.gguf", 1000, true),
            ],
            ..plan()
        };
        let want = "\
- Q4_K_M/tiny-Q4_K_M-00001-of-00002.gguf   1000 B  LFS
- Q4_K_M/tiny-Q4_K_M-00002-of-00002.gguf   1000 B  LFS
+ mmproj-F16.gguf                           100 B  LFS
+ tiny-Q8_0.gguf                          2.9 KiB  LFS
2 of 4 files taken, 3.0 KiB to download (5.0 KiB in all)
GGUF quants, one of which `nix-hug fetch acme/tiny-gguf:QUANT` takes:
  Q4_K_M  2.0 KiB  2 files and mmproj-F16.gguf
  Q8_0    2.9 KiB  1 file and mmproj-F16.gguf
";
        assert_eq!(table(&gguf), want);
        let v: serde_json::Value = serde_json::from_str(&json(&gguf)).unwrap();
        assert_eq!(
            v["quants"][1],
            serde_json::json!({ "quant": "Q8_0", "files": ["tiny-Q8_0.gguf"], "bytes": 3000, "mmproj": "mmproj-F16.gguf" })
        );
    }

    #[test]
    fn empty_listing() {
        let empty = Plan { files: vec![], skipped: vec![], ..plan() };
        assert_eq!(table(&empty), "0 of 0 files taken, 0 B to download (0 B in all)\n");
    }
}
