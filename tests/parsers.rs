//! Every parser of outside input, fed arbitrary input: it answers `Ok` or an error, never a panic or a
//! hang, and what it accepts holds up (a URL's repo round-trips, a glob's regex compiles, a listing it
//! lets through cannot leave the output folder, a quant takes only files of the listing, a manifest it
//! refuses is left as it was).

use nix_hug::filter::{Filters, check_paths, glob_to_regex, regex_to_glob};
use nix_hug::gguf;
use nix_hug::persist::{Config, MANIFEST, Persist};
use nix_hug::repo::{RepoPath, RepoType, parse_url};
use proptest::prelude::*;
use std::path::Path;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn urls(url in prop_oneof![
        any::<String>(),
        "(https://(huggingface|hf)\\.co/|hf:|hf-datasets:|hf-spaces:|datasets/|spaces/)?[A-Za-z0-9._/%-]{0,40}(:[A-Za-z0-9_ :/-]{0,8})?(/tree/[a-z0-9%./]{0,12})?/?",
        "((https?://)?(huggingface|hf)\\.co/)?(datasets/|spaces/)?[a-z.-]{0,6}(/[a-z.-]{0,6})?\
         (/(tree|blob|resolve|x)(/[a-z0-9%]{0,8}){0,4})?/?([?#][a-z=/?#]{0,6})?",
        "https://hf\\.co/a/b/(tree|blob|resolve)(/(\\.|%2[eE]|%2[fF]|%5[cC]|%[0-9A-Fa-f]{0,2}|[a-z ]|\\\\|\\PC){0,3}){1,4}/?",
    ]) {
        match parse_url(&url) {
            Ok(parsed) => {
                let kind = parsed.kind.unwrap_or(RepoType::Model);
                let repo = parsed.with_kind(kind);
                let again = parse_url(&repo.url()).unwrap_or_else(|e| panic!("{url:?} -> {}: {e}", repo.url()));
                prop_assert_eq!(again.kind.unwrap_or(RepoType::Model), kind);
                prop_assert_eq!(again.with_kind(kind), repo.clone());
                prop_assert!(repo.store_name(&"0".repeat(40)).chars().all(|c| c.is_ascii_alphanumeric() || "+-._?=".contains(c)));
                if let Some(RepoPath::File(path) | RepoPath::Folder(path)) = &parsed.path {
                    prop_assert!(check_paths([path.as_str()]).is_ok(), "{:?} -> {:?}", url, path);
                    prop_assert!(!path.chars().any(|c| c.is_ascii_control()), "{:?} -> {:?}", url, path);
                }
                if let Some(quant) = &parsed.quant {
                    prop_assert!(!quant.is_empty() && quant.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c)), "{:?} -> {:?}", url, quant);
                    prop_assert_eq!(parsed.kind, Some(RepoType::Model), "{:?}: a quant is a model's", url);
                }
                if let Some(rev) = &parsed.rev {
                    prop_assert!(!rev.is_empty() && rev.chars().all(|c| c.is_ascii_graphic()), "{:?} -> {:?}", url, rev);
                }
            }
            Err(e) => prop_assert_eq!(e.to_string().lines().count(), 1, "{}", e),
        }
    }

    #[test]
    fn globs(glob in prop_oneof![any::<String>(), "[a-z*?\\[\\]!^\\\\./-]{0,16}"]) {
        if let Ok(re) = glob_to_regex(&glob) {
            let compiled = regex::Regex::new(&format!("^(?:{re})$"));
            prop_assert!(compiled.is_ok(), "{glob:?} -> {re:?}: {compiled:?}");
            if !glob.contains(['*', '?', '[']) {
                prop_assert!(compiled.unwrap().is_match(&glob), "a glob without wildcards matches itself");
            }
            let shown = regex_to_glob(&re);
            prop_assert!(shown.as_ref().is_some_and(|g| glob_to_regex(g).ok().as_ref() == Some(&re)), "{glob:?} -> {re:?} -> {shown:?}");
        }
    }

    #[test]
    fn regexes_shown_as_globs(re in any::<String>()) {
        if let Some(glob) = regex_to_glob(&re) {
            prop_assert_eq!(glob_to_regex(&glob).ok(), Some(re));
        }
    }

    #[test]
    fn gguf_listings(paths in prop::collection::vec(prop_oneof![
        any::<String>(),
        "([a-zA-Z0-9_]{1,6}/)?(mmproj-)?[a-zA-Z0-9]{1,4}[-.](UD-)?[a-zA-Z0-9_]{1,6}(-0000[0-9]-of-0000[0-9])?\\.gguf",
    ], 0..12)) {
        let listing: Vec<(&str, u64)> = paths.iter().map(|p| (p.as_str(), p.len() as u64)).collect();
        let quants = gguf::quants(listing.iter().copied());
        for quant in &quants {
            prop_assert!(!quant.files.is_empty());
            prop_assert!(quant.name.chars().all(|c| !c.is_ascii_lowercase()), "{:?}", quant.name);
            for file in quant.paths() {
                prop_assert!(paths.contains(&file), "{:?} is not in the listing", file);
            }
            prop_assert_eq!(gguf::find(&quants, &quant.name.to_ascii_lowercase()), Some(quant));
        }
    }

    #[test]
    fn filters_json(json in prop_oneof![
        any::<String>(),
        "\\{(\"(include|exclude|files)\": \\[(\"[a-z.*()\\[\\]\\\\]{0,6}\",? ?){0,3}\\],? ?){0,3}\\}",
    ]) {
        if let Ok(filters) = Filters::from_json(&json) {
            let _ = filters.compile();
        }
    }

    #[test]
    fn tree_paths(paths in prop::collection::vec(prop_oneof![any::<String>(), "[a./\\\\\0]{0,8}"], 0..8)) {
        if check_paths(paths.iter().map(String::as_str)).is_ok() {
            for path in &paths {
                let out = Path::new("/out").join(path);
                prop_assert!(!path.is_empty() && !path.starts_with('/') && !path.contains(['\\', '\0']));
                prop_assert!(out.components().all(|c| matches!(c, std::path::Component::RootDir | std::path::Component::Normal(_))));
                prop_assert!(out.starts_with("/out"));
            }
        }
    }

    #[test]
    fn config_files(text in prop_oneof![
        any::<String>(),
        "((persist_dir|auto_persist|other) ?= ?[~/a-z# ]{0,10}\n|# [a-z]{0,5}\n|\n){0,4}",
    ]) {
        let path = Path::new("/etc/nix-hug/config");
        if let Err(e) = Config::parse(&text, path) {
            let message = e.to_string();
            prop_assert!(message.starts_with("/etc/nix-hug/config:"), "names the file and line: {}", message);
            prop_assert_eq!(message.lines().count(), 1);
        }
    }

    #[test]
    fn manifests(bytes in prop_oneof![
        any::<Vec<u8>>(),
        "\\{\"version\": [0-9], \"entries\": \\[(\\{\"repoId\": \"a/b\"\\},?){0,2}\\]\\}".prop_map(String::into_bytes),
    ]) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST), &bytes).unwrap();
        if let Err(e) = Persist::new(dir.path()).entries() {
            prop_assert!(e.to_string().contains("left as it is"), "{}", e);
        }
        prop_assert_eq!(std::fs::read(dir.path().join(MANIFEST)).unwrap(), bytes, "reading never writes");
    }
}
