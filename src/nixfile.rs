/*!
The pins written in Nix files: the literal `fetchModel`, `fetchDataset` and `fetchSpace` calls, found with a
real Nix parser (`rnix`), and their `rev` and `fileTreeHash` (or `hash`) strings rewritten in place,
every other byte of the file kept as it was.

A call counts when the function is named `fetchModel`, `fetchDataset` or `fetchSpace` (alone or at the end of a path:
`nix-hug-lib.fetchModel`, `nix-hug.lib.${system}.fetchDataset`) and its argument is an attribute set
whose `url`, `rev`, hash, `endpoint` and `filters` are plain strings and lists of them. A call that
names one of these through a variable or an interpolation cannot be bumped from the text alone, and is
reported as such.
*/

use crate::error::{Result, usage};
use crate::filter::Filters;
use crate::repo::RepoType;
use rnix::ast::{self, HasEntry, InterpolPart};
use rowan::ast::AstNode;
use std::ops::Range;

/// A literal call.
#[derive(Debug, PartialEq, Eq)]
pub struct Call {
    pub kind: RepoType,
    /// 1-based, of the function's name.
    pub line: usize,
    pub url: String,
    pub endpoint: Option<String>,
    /// As written: regexes.
    pub filters: Filters,
    pub rev: Pin,
    pub hash: Pin,
}

/// A string of a call: its value, and where its literal (quotes included) is in the file.
#[derive(Debug, PartialEq, Eq)]
pub struct Pin {
    pub value: String,
    pub range: Range<usize>,
}

/// A call of `fetchModel`/`fetchDataset` that is not literal enough to bump.
#[derive(Debug, PartialEq, Eq)]
pub struct Skipped {
    pub line: usize,
    pub why: String,
}

/// Every call in `source`, in the order they appear; a file Nix cannot parse is an error.
pub fn calls(source: &str) -> Result<(Vec<Call>, Vec<Skipped>)> {
    let parsed = rnix::Root::parse(source);
    if let Some(e) = parsed.errors().first() {
        return Err(usage(format!("not a valid Nix file: {e}")));
    }
    let line = |offset: usize| source[..offset].matches('\n').count() + 1;
    let (mut found, mut skipped) = (Vec::new(), Vec::new());
    for apply in parsed.syntax().descendants().filter_map(ast::Apply::cast) {
        let Some((kind, at)) = apply.lambda().and_then(|f| function(&f)) else { continue };
        let line = line(at);
        match apply.argument().ok_or_else(|| "no argument".to_owned()).and_then(|arg| call(kind, line, arg)) {
            Ok(c) => found.push(c),
            Err(why) => skipped.push(Skipped { line, why }),
        }
    }
    Ok((found, skipped))
}

/// `source` with each range replaced by a string literal of its value.
pub fn rewrite(source: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let mut out = source.to_owned();
    for (range, value) in edits {
        out.replace_range(range, &literal(&value));
    }
    out
}

/// A Nix string literal of `value` (our values are commit ids and hashes: nothing to escape but in case).
fn literal(value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"").replace("${", "\\${");
    format!("\"{escaped}\"")
}

/// The repo type a function name fetches, and the offset of the name.
fn function(f: &ast::Expr) -> Option<(RepoType, usize)> {
    let name = match f {
        ast::Expr::Ident(ident) => ident.ident_token()?,
        ast::Expr::Select(select) if select.default_expr().is_none() => match select.attrpath()?.attrs().last()? {
            ast::Attr::Ident(ident) => ident.ident_token()?,
            _ => return None,
        },
        _ => return None,
    };
    let kind = match name.text() {
        "fetchModel" => RepoType::Model,
        "fetchDataset" => RepoType::Dataset,
        "fetchSpace" => RepoType::Space,
        _ => return None,
    };
    Some((kind, usize::from(name.text_range().start())))
}

fn call(kind: RepoType, line: usize, arg: ast::Expr) -> std::result::Result<Call, String> {
    let ast::Expr::AttrSet(set) = arg else { return Err("its argument is not an attribute set".into()) };
    let mut fields = std::collections::BTreeMap::new();
    for entry in set.attrpath_values() {
        let attrs: Vec<_> = entry.attrpath().map(|p| p.attrs().collect()).unwrap_or_default();
        let [ast::Attr::Ident(name)] = attrs.as_slice() else { continue };
        let Some(name) = name.ident_token().map(|t| t.text().to_owned()) else { continue };
        if let Some(value) = entry.value() {
            fields.insert(name, value);
        }
    }
    let string = |name: &str| -> std::result::Result<Option<Pin>, String> {
        match fields.get(name) {
            None => Ok(None),
            Some(value) => pin(value).map(Some).ok_or_else(|| format!("`{name}` is not a plain string")),
        }
    };
    let url = string("url")?.ok_or("it has no `url`")?.value;
    let rev = string("rev")?.ok_or("it has no `rev`")?;
    let hash = match (string("fileTreeHash")?, string("hash")?) {
        (Some(hash), None) | (None, Some(hash)) => hash,
        (None, None) => return Err("it has no `fileTreeHash`".into()),
        (Some(_), Some(_)) => return Err("it has both `fileTreeHash` and `hash`".into()),
    };
    let endpoint = match fields.get("endpoint") {
        Some(ast::Expr::Ident(i)) if i.ident_token().is_some_and(|t| t.text() == "null") => None,
        _ => string("endpoint")?.map(|p| p.value),
    };
    let filters = match fields.get("filters") {
        None => Filters::default(),
        Some(ast::Expr::Ident(i)) if i.ident_token().is_some_and(|t| t.text() == "null") => Filters::default(),
        Some(value) => filters(value).ok_or("`filters` is not an attribute set of lists of plain strings")?,
    };
    Ok(Call { kind, line, url, endpoint, filters, rev, hash })
}

fn pin(value: &ast::Expr) -> Option<Pin> {
    let ast::Expr::Str(s) = value else { return None };
    let value = match s.normalized_parts().as_slice() {
        [] => String::new(),
        [InterpolPart::Literal(text)] => text.clone(),
        _ => return None,
    };
    let range = s.syntax().text_range();
    Some(Pin { value, range: usize::from(range.start())..usize::from(range.end()) })
}

fn filters(value: &ast::Expr) -> Option<Filters> {
    let ast::Expr::AttrSet(set) = value else { return None };
    let mut filters = Filters::default();
    for entry in set.attrpath_values() {
        let attrs: Vec<_> = entry.attrpath()?.attrs().collect();
        let [ast::Attr::Ident(name)] = attrs.as_slice() else { return None };
        let list = match name.ident_token()?.text() {
            "include" => &mut filters.include,
            "exclude" => &mut filters.exclude,
            "files" => &mut filters.files,
            _ => return None,
        };
        let ast::Expr::List(items) = entry.value()? else { return None };
        for item in items.items() {
            list.push(pin(&item)?.value);
        }
    }
    Some(filters)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# pins
{ nix-hug-lib, system, nix-hug }:
let
  bert = nix-hug-lib.fetchModel   {
    url = "acme/tiny-bert";   # the model
    rev="1111111111111111111111111111111111111111";
    filters = { include = [ ".*\\.json" "a\"b" ]; exclude = []; };
    fileTreeHash =
      "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  };
  squad = nix-hug.lib.${system}.fetchDataset { url = "datasets/acme/squad"; rev = "2222222222222222222222222222222222222222"; hash = ""; endpoint = "http://127.0.0.1:1"; };
  odd = fetchModel { url = "acme/${name}"; rev = "x"; fileTreeHash = "y"; };
  other = builtins.fetchurl { url = "x"; };
in [ bert squad odd (fetchDataset args) ]
"#;

    #[test]
    fn finds_literal_calls_and_says_why_others_are_left() {
        let (calls, skipped) = calls(FILE).unwrap();
        assert_eq!(calls.len(), 2);
        let bert = &calls[0];
        assert_eq!((bert.kind, bert.line, bert.url.as_str()), (RepoType::Model, 4, "acme/tiny-bert"));
        assert_eq!(bert.filters.include, [".*\\.json", "a\"b"]);
        assert_eq!(bert.rev.value, "1".repeat(40));
        assert_eq!(&FILE[bert.hash.range.clone()], "\"sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"");
        let squad = &calls[1];
        assert_eq!((squad.kind, squad.line), (RepoType::Dataset, 11));
        assert_eq!((squad.hash.value.as_str(), squad.endpoint.as_deref()), ("", Some("http://127.0.0.1:1")));
        assert_eq!(
            skipped,
            [
                Skipped { line: 12, why: "`url` is not a plain string".into() },
                Skipped { line: 14, why: "its argument is not an attribute set".into() },
            ]
        );
    }

    #[test]
    fn rewriting_changes_exactly_the_strings() {
        let (calls, _) = calls(FILE).unwrap();
        let edits = vec![
            (calls[0].rev.range.clone(), "3".repeat(40)),
            (calls[0].hash.range.clone(), "sha256-new".into()),
            (calls[1].hash.range.clone(), "sha256-other".into()),
        ];
        let out = rewrite(FILE, edits);
        let want = FILE
            .replacen("\"1111111111111111111111111111111111111111\"", &format!("\"{}\"", "3".repeat(40)), 1)
            .replacen("\"sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"", "\"sha256-new\"", 1)
            .replacen("hash = \"\"", "hash = \"sha256-other\"", 1);
        assert_eq!(out, want);
        assert_eq!(super::calls(&out).unwrap().0[0].rev.value, "3".repeat(40));
    }

    #[test]
    fn a_file_nix_cannot_parse_is_an_error() {
        let err = calls("{ a = fetchModel { url = \"x\"; ").unwrap_err();
        assert!(err.to_string().starts_with("not a valid Nix file: "), "{err}");
    }
}
