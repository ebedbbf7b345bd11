/*!
Copies of Hub files that may already be on this machine, so a fetch never downloads a byte twice: the
user's Hugging Face cache, and earlier nix-hug outputs of the same repository in the Nix store (another
commit, other filters). Only places are found here; the download engine verifies any content it copies.
*/

use crate::hub::hf_home;
use crate::repo::Repo;
use std::path::{Path, PathBuf};

/// Cache folders (`HF_HUB_CACHE` layout) that may hold blobs of `repo`.
pub fn caches_for(repo: &Repo) -> Vec<PathBuf> {
    let mut caches: Vec<PathBuf> = hf_hub_cache().into_iter().collect();
    caches.extend(store_outputs(&crate::nix::store_dir(), repo));
    caches.retain(|c| c.join(repo.folder()).join("blobs").is_dir());
    caches
}

/// The fetch outputs of `repo` at `rev` in the store: one per choice of files.
pub fn outputs_at(repo: &Repo, rev: &str) -> Vec<PathBuf> {
    let mut outputs = store_outputs(&crate::nix::store_dir(), repo);
    outputs.retain(|p| p.to_string_lossy().ends_with(rev));
    outputs
}

/// `$HF_HUB_CACHE`, else `$HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`.
fn hf_hub_cache() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("HF_HUB_CACHE").or_else(|| var("HUGGINGFACE_HUB_CACHE")).or_else(|| Some(hf_home()?.join("hub")))
}

/// Fetch outputs of `repo` at any commit: `<store>/<hash>-hf-model-<org>-<name>-<rev>`.
fn store_outputs(store: &Path, repo: &Repo) -> Vec<PathBuf> {
    let prefix = format!("-{}", repo.store_name(""));
    let Ok(entries) = std::fs::read_dir(store) else { return Vec::new() };
    let mut outputs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.len() == 32 + prefix.len() + 40 && name.get(32..32 + prefix.len()) == Some(prefix.as_str())
        })
        .map(|e| e.path())
        .collect();
    outputs.sort();
    outputs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::RepoType;

    #[test]
    fn finds_outputs_of_the_same_repo_only() {
        let store = tempfile::tempdir().unwrap();
        let rev = "0123456789abcdef0123456789abcdef01234567";
        let repo = Repo::from_id(RepoType::Model, "acme/bert").unwrap();
        let names = [
            format!("{}-hf-model-acme-bert-{rev}", "a".repeat(32)),
            format!("{}-hf-model-acme-bert-large-{rev}", "b".repeat(32)),
            format!("{}-hf-dataset-acme-bert-{rev}", "c".repeat(32)),
            format!("{}-hf-model-acme-bert-{rev}.drv", "d".repeat(32)),
        ];
        for name in &names {
            std::fs::create_dir(store.path().join(name)).unwrap();
        }
        assert_eq!(store_outputs(store.path(), &repo), vec![store.path().join(&names[0])]);
    }
}
