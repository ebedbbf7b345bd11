//! The shape of the code: no file of `src/` uses another that uses it back, so that each can be read,
//! and changed, knowing only the files below it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `cli::flags` for `src/cli/flags.rs`, `cli` for `src/cli/mod.rs`, `lib` for `src/lib.rs`.
fn module_of(rel: &Path) -> String {
    let parts: Vec<String> = rel.with_extension("").iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let parts = match parts.last().map(String::as_str) {
        Some("mod") => &parts[..parts.len() - 1],
        _ => &parts[..],
    };
    parts.join("::")
}

/// The modules `source` (the file of `module`) refers to: by `crate::a::b`, `super::a`, or a name in a
/// `use crate::{…}` list, mapped to the longest module path that is a file. The `info!`, `warn!` and
/// `debug!` macros are `msg`'s.
fn uses(module: &str, source: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
    let resolve = |path: &str| -> Option<String> {
        let segments: Vec<&str> = path.split("::").collect();
        (1..=segments.len()).rev().map(|n| segments[..n].join("::")).find(|m| modules.contains(m))
    };
    let mut found = BTreeSet::new();
    let code: String = source.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let path = regex::Regex::new(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)").unwrap();
    for c in path.captures_iter(&code) {
        let rest = c[2].trim_start_matches("::");
        let full = match (&c[1], parent) {
            ("super", parent) if !parent.is_empty() => format!("{parent}::{rest}"),
            _ => rest.to_owned(),
        };
        found.extend(resolve(&full));
    }
    let list = regex::Regex::new(r"use (crate|super)::\{([^}]*)\}").unwrap();
    for c in list.captures_iter(&code) {
        let base = if &c[1] == "crate" { String::new() } else { parent.to_owned() };
        for name in c[2].split(',').map(|n| n.trim().split("::").next().unwrap_or("").trim()) {
            let name = match name {
                "info" | "warn" | "debug" => "msg",
                other => other,
            };
            let full = if base.is_empty() { name.to_owned() } else { format!("{base}::{name}") };
            found.extend(resolve(&full));
        }
    }
    for mac in ["info!", "warn!", "debug!"] {
        if code.contains(mac) {
            found.insert("msg".to_owned());
        }
    }
    found.remove(module);
    found
}

#[test]
fn no_file_uses_one_that_uses_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files: Vec<_> = walkdir::WalkDir::new(&src)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    let modules: BTreeSet<String> = files.iter().map(|p| module_of(p.strip_prefix(&src).unwrap())).collect();
    let graph: BTreeMap<String, BTreeSet<String>> = files
        .iter()
        .map(|p| {
            let module = module_of(p.strip_prefix(&src).unwrap());
            let found = uses(&module, &std::fs::read_to_string(p).unwrap(), &modules);
            (module, found)
        })
        .collect();
    assert!(graph["cmd::fetch"].contains("prefetch") && graph["prefetch"].contains("msg"), "{graph:?}");
    let mut circles = Vec::new();
    for (a, used) in &graph {
        for b in used.iter().filter(|b| a < *b) {
            if graph.get(b).is_some_and(|back| back.contains(a)) {
                circles.push(format!("{a} <-> {b}"));
            }
        }
    }
    assert!(circles.is_empty(), "files that use each other: {circles:?}");
}
