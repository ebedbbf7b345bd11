/*!
The results of `fetch` as users see them: the paste-ready `fetchModel { … }` (or `fetchDataset`,
`fetchSpace`) expression and the `--json` object, both from one `FetchResult`, so they cannot disagree.
Strings are escaped as Nix strings; sizes are written for people by `human_size`. Never computes or
fetches anything.
*/

use crate::filter::Filters;
use crate::repo::{Repo, RepoType};
use serde::Serialize;

/// Everything a fetch found out.
#[derive(Clone, Debug)]
pub struct FetchResult {
    pub repo: Repo,
    /// The full commit.
    pub rev: String,
    pub filters: Filters,
    /// The NAR sha256 of the output, SRI.
    pub file_tree_hash: String,
    /// Where the output is in the store; `None` when it could not be added.
    pub store_path: Option<String>,
    pub files: usize,
    pub bytes: u64,
}

/// The expression to paste into a flake, with a final newline.
pub fn nix(r: &FetchResult) -> String {
    let function = match r.repo.kind {
        RepoType::Model => "fetchModel",
        RepoType::Dataset => "fetchDataset",
        RepoType::Space => "fetchSpace",
    };
    let mut out = format!("nix-hug-lib.{function} {{\n");
    out += &format!("  url = {};\n", nix_string(&r.repo.url()));
    out += &format!("  rev = {};\n", nix_string(&r.rev));
    if !r.filters.is_empty() {
        let lists = [("include", &r.filters.include), ("exclude", &r.filters.exclude), ("files", &r.filters.files)];
        let attrs: String = lists
            .iter()
            .filter(|(_, items)| !items.is_empty())
            .map(|(name, items)| {
                let items: Vec<String> = items.iter().map(|s| nix_string(s)).collect();
                format!(" {name} = [ {} ];", items.join(" "))
            })
            .collect();
        out += &format!("  filters = {{{attrs} }};\n");
    }
    out += &format!("  fileTreeHash = {};\n", nix_string(&r.file_tree_hash));
    out += "}\n";
    out
}

/// The fields every `--json` object starts with: which repo, at which commit.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepoFields<'a> {
    url: String,
    #[serde(rename = "type")]
    kind: &'a str,
    repo_id: String,
    rev: &'a str,
}

impl<'a> RepoFields<'a> {
    pub fn new(repo: &Repo, rev: &'a str) -> RepoFields<'a> {
        RepoFields { url: repo.url(), kind: repo.kind.as_str(), repo_id: repo.to_string(), rev }
    }
}

/// A number of files and their bytes, in `--json` objects.
#[derive(Serialize)]
pub struct Count {
    pub files: usize,
    pub bytes: u64,
}

/// The `--json` object, pretty-printed, with a final newline.
pub fn json(r: &FetchResult) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Json<'a> {
        #[serde(flatten)]
        repo: RepoFields<'a>,
        filters: &'a Filters,
        file_tree_hash: &'a str,
        store_path: Option<&'a str>,
        files: usize,
        bytes: u64,
    }
    let value = Json {
        repo: RepoFields::new(&r.repo, &r.rev),
        filters: &r.filters,
        file_tree_hash: &r.file_tree_hash,
        store_path: r.store_path.as_deref(),
        files: r.files,
        bytes: r.bytes,
    };
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_string_pretty(&value).expect("serialising a FetchResult") + "\n"
}

/// A size for people: `96 B`, `4.9 KiB`, `13.5 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    if unit == "B" { format!("{bytes} B") } else { format!("{value:.1} {unit}") }
}

/// `1 file`, `3 files`.
pub fn files(n: usize) -> String {
    count(n, "file", "files")
}

/// `1 copy`, `3 copies`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `6203 bytes`, and a rounded size as well when it helps: `14496078336 bytes (13.5 GiB)`.
pub fn size(bytes: u64) -> String {
    if bytes < 1024 { format!("{bytes} bytes") } else { format!("{bytes} bytes ({})", human_size(bytes)) }
}

/// A Nix double-quoted string literal: `\`, `"` and `${` are escaped, and so are control characters.
pub fn nix_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(kind: RepoType, filters: Filters) -> FetchResult {
        FetchResult {
            repo: Repo { kind, id: "acme/tiny-bert".into() },
            rev: "0123456789abcdef0123456789abcdef01234567".into(),
            filters,
            file_tree_hash: "sha256-mD+VYvxsLFH7+jiumTZYcE3f3kpMKeimaR0eElkT7FI=".into(),
            store_path: None,
            files: 3,
            bytes: 1234,
        }
    }

    #[test]
    fn escaping() {
        let cases = [
            ("plain", r#""plain""#),
            (r".*\.safetensors", r#"".*\\.safetensors""#),
            (r#"say "hi""#, r#""say \"hi\"""#),
            ("${x}", r#""\${x}""#),
            ("$${x}", r#""$\${x}""#),
            ("$x {y} $", r#""$x {y} $""#),
            ("a\nb\tc\rd", r#""a\nb\tc\rd""#),
            ("é ü", r#""é ü""#),
        ];
        for (raw, want) in cases {
            assert_eq!(nix_string(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn model_without_filters() {
        let want = "\
nix-hug-lib.fetchModel {
  url = \"acme/tiny-bert\";
  rev = \"0123456789abcdef0123456789abcdef01234567\";
  fileTreeHash = \"sha256-mD+VYvxsLFH7+jiumTZYcE3f3kpMKeimaR0eElkT7FI=\";
}
";
        assert_eq!(nix(&result(RepoType::Model, Filters::default())), want);
    }

    #[test]
    fn dataset_with_filters() {
        let filters = Filters {
            include: vec![r".*\.json".into(), r"data/.*".into()],
            exclude: vec![r".*\.bin".into()],
            files: vec![],
        };
        let want = "\
nix-hug-lib.fetchDataset {
  url = \"datasets/acme/tiny-bert\";
  rev = \"0123456789abcdef0123456789abcdef01234567\";
  filters = { include = [ \".*\\\\.json\" \"data/.*\" ]; exclude = [ \".*\\\\.bin\" ]; };
  fileTreeHash = \"sha256-mD+VYvxsLFH7+jiumTZYcE3f3kpMKeimaR0eElkT7FI=\";
}
";
        assert_eq!(nix(&result(RepoType::Dataset, filters)), want);
        let files = Filters { files: vec!["config.json".into()], ..Default::default() };
        assert!(nix(&result(RepoType::Model, files)).contains("  filters = { files = [ \"config.json\" ]; };\n"));
    }

    #[test]
    fn space() {
        let expression = nix(&result(RepoType::Space, Filters::default()));
        assert!(
            expression.starts_with("nix-hug-lib.fetchSpace {\n  url = \"spaces/acme/tiny-bert\";\n"),
            "{expression}"
        );
    }

    #[test]
    fn human_sizes() {
        let cases = [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (5000, "4.9 KiB"),
            (10 << 20, "10.0 MiB"),
            (14_496_078_336, "13.5 GiB"),
            (3 << 40, "3.0 TiB"),
            (5 << 50, "5120.0 TiB"),
        ];
        for (bytes, want) in cases {
            assert_eq!(human_size(bytes), want, "{bytes}");
        }
    }

    #[test]
    fn json_shape() {
        let mut r = result(RepoType::Dataset, Filters { include: vec![r".*\.json".into()], ..Default::default() });
        let v: serde_json::Value = serde_json::from_str(&json(&r)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "url": "datasets/acme/tiny-bert",
                "type": "dataset",
                "repoId": "acme/tiny-bert",
                "rev": "0123456789abcdef0123456789abcdef01234567",
                "filters": { "include": [".*\\.json"] },
                "fileTreeHash": "sha256-mD+VYvxsLFH7+jiumTZYcE3f3kpMKeimaR0eElkT7FI=",
                "storePath": null,
                "files": 3,
                "bytes": 1234,
            })
        );
        let text = json(&r);
        let keys: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("  \"")?.split('"').next()).collect();
        assert_eq!(keys, ["url", "type", "repoId", "rev", "filters", "fileTreeHash", "storePath", "files", "bytes"]);

        r.store_path = Some("/nix/store/00000000000000000000000000000000-x".into());
        r.filters = Filters::default();
        let v: serde_json::Value = serde_json::from_str(&json(&r)).unwrap();
        assert_eq!(v["storePath"], "/nix/store/00000000000000000000000000000000-x");
        assert_eq!(v["filters"], serde_json::json!({}));
        assert!(json(&r).ends_with("}\n"));
    }

    #[test]
    fn sizes() {
        assert_eq!(size(0), "0 bytes");
        assert_eq!(size(1023), "1023 bytes");
        assert_eq!(size(1536), "1536 bytes (1.5 KiB)");
        assert_eq!(size(14_496_078_336), "14496078336 bytes (13.5 GiB)");
    }
}
