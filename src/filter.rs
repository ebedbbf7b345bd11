/*!
Which files of a repository a fetch takes, and which listings are refused.

`filters` are the user's choice: `include`/`exclude` regexes choose among the LFS (large) files while small
regular files always come along; `files` takes exactly the listed paths. `check_paths` refuses a listing
from the network that could escape the output folder. Pure: never HTTP, never the disk.
*/

use crate::error::{Result, integrity, usage};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The `filters` attribute of `fetchModel`, as written in Nix and passed to the builder as JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

impl Filters {
    /// Reads the builder's `filters` attribute: empty or `null` means no filter.
    pub fn from_json(s: &str) -> Result<Filters> {
        if s.trim().is_empty() {
            return Ok(Filters::default());
        }
        let filters: Option<Filters> =
            serde_json::from_str(s).map_err(|e| usage(format!("invalid filters {s}: {e}")))?;
        Ok(filters.unwrap_or_default())
    }

    /// Each list sorted and without duplicates: the same choice of files is written, compared and
    /// printed one way, whatever order the flags came in.
    pub fn canonical(mut self) -> Filters {
        for list in [&mut self.include, &mut self.exclude, &mut self.files] {
            list.sort();
            list.dedup();
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty() && self.files.is_empty()
    }

    pub fn compile(&self) -> Result<Selector> {
        if !self.files.is_empty() && (!self.include.is_empty() || !self.exclude.is_empty()) {
            return Err(usage(
                "filters: `files` takes exactly the listed paths and cannot be combined with `include` or `exclude`",
            ));
        }
        let anchored = |list: &[String]| -> Result<Vec<Regex>> {
            list.iter()
                .map(|re| {
                    Regex::new(&format!("^(?:{re})$"))
                        .map_err(|e| usage(format!("invalid regex {re:?} in filters: {e}")))
                })
                .collect()
        };
        Ok(Selector {
            include: anchored(&self.include)?,
            exclude: anchored(&self.exclude)?,
            files: self.files.iter().cloned().collect(),
        })
    }
}

#[derive(Debug)]
pub struct Selector {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    files: HashSet<String>,
}

impl Selector {
    pub fn takes(&self, path: &str, lfs: bool) -> bool {
        if !self.files.is_empty() {
            return self.files.contains(path);
        }
        !lfs || ((self.include.is_empty() || self.include.iter().any(|r| r.is_match(path)))
            && !self.exclude.iter().any(|r| r.is_match(path)))
    }

    /// The `files` entries that name no file of the listing: a typo should not pass silently.
    pub fn missing<'a>(&'a self, listed: &HashSet<&str>) -> Vec<&'a str> {
        let mut missing: Vec<&str> = self.files.iter().map(String::as_str).filter(|f| !listed.contains(f)).collect();
        missing.sort_unstable();
        missing
    }
}

/// Turns a shell-style glob into an anchored-by-use regex: `*` any characters (including `/`), `?` one
/// character, `[...]` a class (`[!...]` negated); everything else is literal.
pub fn glob_to_regex(glob: &str) -> Result<String> {
    let mut re = String::with_capacity(glob.len() * 2);
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                let mut class = String::from("[");
                if chars.peek() == Some(&'!') || chars.peek() == Some(&'^') {
                    chars.next();
                    class.push('^');
                }
                let mut first = true;
                loop {
                    match chars.next() {
                        None => return Err(usage(format!("invalid glob {glob:?}: unclosed '['"))),
                        Some(']') if !first => break,
                        Some(c @ ('\\' | '[' | ']' | '&' | '~')) => {
                            class.push('\\');
                            class.push(c);
                        }
                        Some(c) => class.push(c),
                    }
                    first = false;
                }
                class.push(']');
                // A range the wrong way round (`[z-a]`, `[a-[]`) would only fail later, as a regex.
                if Regex::new(&class).is_err() {
                    return Err(usage(format!(
                        "invalid glob {glob:?}: a range in [...] goes from a lower to a higher character"
                    )));
                }
                re.push_str(&class);
            }
            c => {
                let mut buf = [0; 4];
                re.push_str(&regex::escape(c.encode_utf8(&mut buf)));
            }
        }
    }
    Ok(re)
}

/// The glob `re` was made from by `glob_to_regex`, to show users what they typed; `None` for a regex
/// no glob gives (one written by hand in Nix).
pub fn regex_to_glob(re: &str) -> Option<String> {
    let mut glob = String::with_capacity(re.len());
    let mut chars = re.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' if chars.peek() == Some(&'*') => {
                chars.next();
                glob.push('*');
            }
            '.' => glob.push('?'),
            '\\' => glob.push(chars.next()?),
            '[' => {
                glob.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    glob.push('!');
                }
                loop {
                    match chars.next()? {
                        ']' => break,
                        '\\' => glob.push(chars.next()?),
                        c => glob.push(c),
                    }
                }
                glob.push(']');
            }
            c => glob.push(c),
        }
    }
    (glob_to_regex(&glob).ok()? == re).then_some(glob)
}

/// Refuses any path that could leave the output folder or clash with another entry, before anything is written.
pub fn check_paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let mut files = HashSet::new();
    let mut dirs = HashSet::new();
    for path in paths {
        let why = if path.is_empty() {
            Some("empty path")
        } else if path.starts_with('/') {
            Some("absolute path")
        } else if path.contains('\0') {
            Some("NUL byte")
        } else if path.contains('\\') {
            Some("backslash")
        } else if path.split('/').any(|s| s.is_empty()) {
            Some("empty segment")
        } else if path.split('/').any(|s| s == "." || s == "..") {
            Some("'.' or '..' segment")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(integrity(format!("refusing unsafe path {path:?} in the tree listing: {why}")));
        }
        if !files.insert(path) {
            return Err(integrity(format!("refusing tree listing: {path:?} is listed twice")));
        }
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            end += i;
            dirs.insert(&path[..end]);
            end += 1;
        }
    }
    if let Some(clash) = files.iter().find(|f| dirs.contains(*f)) {
        return Err(integrity(format!("refusing tree listing: {clash:?} is both a file and a folder")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_become_regexes() {
        let cases = [
            ("*.safetensors", r".*\.safetensors"),
            ("model-?????-of-*.bin", r"model\-.....\-of\-.*\.bin"),
            ("onnx/*", "onnx/.*"),
            ("[ab]*.json", r"[ab].*\.json"),
            ("[!ab].txt", r"[^ab]\.txt"),
            ("[]x]", r"[\]x]"),
            ("a+b(c){d}|e^f$g.h\\i", r"a\+b\(c\)\{d\}\|e\^f\$g\.h\\i"),
            ("plain", "plain"),
        ];
        for (glob, want) in cases {
            assert_eq!(glob_to_regex(glob).unwrap(), want, "glob {glob}");
        }
        assert!(glob_to_regex("[abc").is_err());
        assert!(
            glob_to_regex("[a-[]").unwrap_err().to_string().contains("a range in [...]"),
            "found by tests/parsers.rs"
        );
        assert!(glob_to_regex("[z-a].bin").is_err());
    }

    #[test]
    fn globs_match_like_the_hub_client() {
        let matches = |glob: &str, path: &str| {
            Regex::new(&format!("^(?:{})$", glob_to_regex(glob).unwrap())).unwrap().is_match(path)
        };
        assert!(matches("*.json", "a/b/c.json"));
        assert!(matches("data/*.json", "data/x/y.json"));
        assert!(!matches("*.json", "a.jsonl"));
        assert!(matches("a+b.bin", "a+b.bin"));
        assert!(!matches("a+b.bin", "aab.bin"));
        assert!(matches("?.txt", "é.txt"));
    }

    #[test]
    fn selection_rules() {
        let f = Filters { include: vec![r".*\.safetensors".into()], exclude: vec![r"big/.*".into()], files: vec![] };
        let s = f.compile().unwrap();
        assert!(s.takes("config.json", false), "regular files always come along");
        assert!(s.takes("model.safetensors", true));
        assert!(!s.takes("model.bin", true));
        assert!(!s.takes("big/model.safetensors", true));

        let s = Filters { files: vec!["config.json".into()], ..Default::default() }.compile().unwrap();
        assert!(s.takes("config.json", false));
        assert!(!s.takes("README.md", false));
        assert_eq!(s.missing(&["README.md"].into_iter().collect()), vec!["config.json"]);

        let both = Filters { include: vec!["x".into()], files: vec!["y".into()], ..Default::default() };
        assert!(both.compile().is_err());
        let bad = Filters { include: vec!["(".into()], ..Default::default() };
        assert!(bad.compile().unwrap_err().to_string().contains("invalid regex"));
    }

    #[test]
    fn filters_json() {
        assert!(Filters::from_json("").unwrap().is_empty());
        assert!(Filters::from_json("null").unwrap().is_empty());
        let f = Filters::from_json(r#"{"include":["a"],"files":[]}"#).unwrap();
        assert_eq!(f.include, vec!["a"]);
        assert!(Filters::from_json(r#"{"includes":["a"]}"#).is_err());
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for bad in ["/etc/passwd", "../x", "a/../../x", "a//b", "a/", "", "a\\b", "a\0b", "./a", "a/."] {
            assert!(check_paths([bad]).is_err(), "{bad:?} must be refused");
        }
        assert!(check_paths(["a", "a"]).is_err());
        assert!(check_paths(["a", "a/b"]).is_err());
        assert!(check_paths(["a/b/c", "a/b"]).is_err());
        assert!(check_paths(["a/b", "a/c", "d", "é ü/#?%.txt", "..x", "x.."]).is_ok());
    }
}
