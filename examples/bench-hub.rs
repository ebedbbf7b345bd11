//! Serves every repo found under a folder on loopback until killed, for `bench/run` and
//! `bench/lock-update`: `bench-hub DIR` serves `DIR/<org>/<name>/…` as the model `org/name`, one commit
//! on `main`, and `DIR/<org>/<name>.next/…`, if there is one, as a second commit of it that no ref names.
//!
//! As on the Hub, a file is stored with LFS when its extension is one the Hub's default
//! `.gitattributes` sends to LFS (weights, archives, parquet) or when it is over 10 MiB (the Hub
//! refuses larger regular files); LFS files are streamed from disk, the others are held in memory.
//! Prints the endpoint on the first line, then one line per repo (`org/name files bytes`). Then reads
//! commands on stdin, one per line, until it ends: `move` points each `main` at its second commit;
//! `requests` prints the requests received since the last `requests`, counted by kind, on one line of
//! JSON.

#[path = "../tests/hub/mod.rs"]
mod hub;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hub::{Commit, Content, File, Kind, Repo, fake_sha};

const LFS_EXTENSIONS: &[&str] =
    &["safetensors", "bin", "pt", "pth", "ckpt", "gguf", "onnx", "h5", "msgpack", "parquet", "arrow", "zip", "gz"];
const REGULAR_MAX: u64 = 10 << 20;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: bench-hub DIR   (serves DIR/<org>/<name>/... as the models org/name)");
        return ExitCode::from(2);
    };
    let repos = match read_repos(&dir) {
        Ok(repos) if !repos.is_empty() => repos,
        Ok(_) => {
            eprintln!("bench-hub: no DIR/<org>/<name>/ folder with files in {}", dir.display());
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("bench-hub: reading {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    let summary: Vec<String> = repos
        .iter()
        .map(|r| {
            let files = &r.commits[0].files;
            let bytes: u64 = files.iter().map(|f| size(&f.content)).sum();
            format!("{} {} {bytes}", r.id, files.len())
        })
        .collect();
    let nexts: Vec<(String, String)> =
        repos.iter().filter_map(|r| Some((r.id.clone(), r.commits.get(1)?.sha.clone()))).collect();
    // Hashes every file once, up front (a few seconds for 2 GiB).
    let hub = hub::Hub::start(repos);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", hub.endpoint()).unwrap();
    for line in summary {
        writeln!(out, "{line}").unwrap();
    }
    out.flush().unwrap();
    drop(out);
    for line in std::io::stdin().lines() {
        match line.as_deref().map(str::trim) {
            Ok("move") => {
                for (id, next) in &nexts {
                    hub.move_ref(id, "main", next);
                }
            }
            Ok("requests") => {
                println!("{}", serde_json::to_string(&counts(&hub.requests())).unwrap());
                hub.clear_requests();
            }
            Ok(other) => eprintln!("bench-hub: unknown command {other:?} (expected move or requests)"),
            Err(_) => break,
        }
    }
    // The server runs on its own threads; the default SIGINT/SIGTERM action ends the process.
    loop {
        std::thread::park();
    }
}

/// Requests by kind: API calls (`revision`, `tree` pages, of which `tree listings` are first pages),
/// `resolve` requests to the API host, and requests to the CDN host.
fn counts(requests: &[hub::Request]) -> std::collections::BTreeMap<&'static str, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for r in requests {
        let kind = match r.target.as_str() {
            _ if r.host.starts_with("127.0.0.2:") => "cdn",
            t if t.contains("/revision/") => "revision",
            t if t.contains("/tree/") => {
                if !t.contains("cursor=") {
                    *counts.entry("tree listings").or_default() += 1;
                }
                "tree pages"
            }
            t if t.contains("/resolve/") => "resolve",
            _ => "other",
        };
        *counts.entry(kind).or_default() += 1;
    }
    counts
}

/// One repo per `DIR/<org>/<name>` folder, in name order, with the commit in `<name>.next` after its own.
fn read_repos(dir: &Path) -> std::io::Result<Vec<Repo>> {
    let mut repos = Vec::new();
    for org in sorted_dirs(dir)? {
        for name in sorted_dirs(&org)? {
            if file_name(&name).ends_with(".next") {
                continue;
            }
            let id = format!("{}/{}", file_name(&org), file_name(&name));
            let mut files = Vec::new();
            collect_files(&name, "", &mut files)?;
            if files.is_empty() {
                continue;
            }
            let sha = fake_sha(&format!("bench:{id}"));
            let mut commits = vec![Commit { sha: sha.clone(), files }];
            let next = name.with_file_name(format!("{}.next", file_name(&name)));
            if next.is_dir() {
                let mut files = Vec::new();
                collect_files(&next, "", &mut files)?;
                commits.push(Commit { sha: fake_sha(&format!("bench:{id}.next")), files });
            }
            repos.push(Repo {
                kind: Kind::Model,
                id,
                commits,
                refs: vec![("main".into(), sha)],
                token: None,
                old_ids: Vec::new(),
            });
        }
    }
    Ok(repos)
}

fn sorted_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() && !file_name(&entry.path()).starts_with('.') {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Every regular file under `dir`, named by its path relative to the repo root (`prefix` so far).
fn collect_files(dir: &Path, prefix: &str, files: &mut Vec<File>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let repo_path = format!("{prefix}{}", file_name(&path));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect_files(&path, &format!("{repo_path}/"), files)?;
        } else if kind.is_file() {
            let len = entry.metadata()?.len();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
            files.push(if len > REGULAR_MAX || LFS_EXTENSIONS.contains(&ext) {
                File { path: repo_path, content: Content::File(path), lfs: true }
            } else {
                File::new(&repo_path, std::fs::read(&path)?)
            });
        }
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn size(content: &Content) -> u64 {
    match content {
        Content::Bytes(b) => b.len() as u64,
        Content::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
    }
}
