/*!
The service below the commands: from what the user asked for (`Target`: a URL, a ref, filters) to an
output in the store and the facts of the expression that pins it. The Hub comes from the environment
(`HF_ENDPOINT`, the token); the ref is resolved to a commit (a bare `org/repo` is tried as a model, then
as a dataset); the tree at that commit is listed and filtered (`pipeline::plan`), a `:QUANT` becoming
the files of that GGUF quant (`gguf`); an output of exactly those files already in the store is taken
as it is; otherwise the files are downloaded (or copied from copies on this machine), the output is
hashed and added to the store (`nix.rs`).

A repo renamed on the Hub (or a legacy id such as `gpt2`) keeps the id the user gave: the cache folder
is named after it (`models--gpt2`), and that is the folder `from_pretrained("gpt2")` looks for offline,
so switching to the new id would break the user's code. The Hub redirects the old id, in the sandbox as
here. The user is told the new id, to pin it instead if they like.
*/

use crate::download::{Event, Options};
use crate::error::{Context, Error, Kind, Result, integrity, usage};
use crate::filter::Filters;
use crate::gguf::{self, Quant};
use crate::hub::{self, Entry, GitRef, Hub, Refs, Revision, Token};
use crate::lock::{self, Globs};
use crate::nar::Hash;
use crate::persist;
use crate::pipeline::Sink;
use crate::pipeline::{self, Plan};
use crate::progress::Progress;
use crate::render::{self, FetchResult};
use crate::repo::{Repo, RepoType, RepoUrl};
use crate::tempdir::TempDir;
use crate::{debug, layout, local, nar, nix, space};
use crate::{info, warn};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A repository at a commit, and the Hub client that found it.
pub struct Resolved {
    pub hub: Hub,
    pub repo: Repo,
    pub commit: String,
}

/// The Hub client and the plan of a fetch of `target`; says on stderr which commit the ref resolved to.
pub fn plan(target: &Target) -> Result<(Hub, Plan)> {
    plan_at(commit(target)?, target)
}

/// The commit `target`'s ref points at on the Hub, said on stderr.
pub fn commit(target: &Target) -> Result<Resolved> {
    commit_on(hub_from_env()?, target)
}

/// The commit `target`'s ref points at on `hub`, said on stderr.
pub fn commit_on(hub: Hub, target: &Target) -> Result<Resolved> {
    let url = &target.url;
    if let Some(quant) =
        url.quant.as_deref().filter(|_| !target.includes.is_empty() || !target.filters.exclude.is_empty())
    {
        return Err(usage(format!(
            "{}:{quant} takes the files of a quant; it does not go with --include or --exclude (--file adds files to them)",
            url.id
        )));
    }
    let rev = asked_ref(target, url);

    let (repo, revision) = resolve(&hub, url, rev)?;
    let (kind, commit) = (repo.kind.as_str(), revision.commit);
    if rev == commit {
        info!("pinned to commit {commit} ({kind} {repo})");
    } else {
        info!("resolved {rev} to {commit} ({kind} {repo})");
    }
    if let Some(id) = revision.id.filter(|id| *id != repo.id) {
        info!(
            "{kind} {repo} is now {id} on the Hub (the old id redirects there); the expression keeps {repo}, so code \
             that loads {repo} finds it in the cache ({}); fetch {id} to pin the new id",
            repo.folder()
        );
    }
    Ok(Resolved { hub, repo, commit })
}

/// The lock entry that pins `target` (listed with `filters`, the globs it was asked with) on `hub`: its
/// small files downloaded and hashed unless `known`, the entry it replaces, has the same ones. With
/// `seed`, what `fromLock` builds it from is put into the store as well (see `seed`).
pub fn pin(
    hub: Hub,
    target: &Target,
    filters: Globs,
    known: Option<&lock::Entry>,
    jobs: usize,
    seed: bool,
) -> Result<lock::Entry> {
    let (hub, plan) = plan_at(commit_on(hub, target)?, target)?;
    check_quant_chosen(&plan)?;
    let filters = match &target.url.quant {
        // The quant's files, as the expression `fetch` prints names them.
        Some(_) => Globs { files: plan.filters.files.clone(), ..Globs::default() },
        None => filters,
    };
    let endpoint = Some(hub.endpoint().to_owned()).filter(|e| e != hub::DEFAULT_ENDPOINT);
    let asked = lock::Asked { ref_name: ref_name(target), filters, endpoint };
    let opts = Options { jobs, local_caches: local::caches_for(&plan.repo), ..Options::default() };
    let tmp = TempDir::new()?;
    let entry = lock::Entry::of_plan(&hub, &plan, asked, known, tmp.path(), opts, &|_| {})?;
    if seed {
        self::seed(&hub, &plan, entry.small_files.as_deref(), tmp.path(), jobs)?;
    }
    Ok(entry)
}

/// Whether `add`, `update` and `lock` put the files they pin into the store: when asked to (no
/// `--no-seed`) and Nix is there; said once when it is not.
pub fn seeding(asked: bool) -> Result<bool> {
    if asked && nix::version()?.is_none() {
        warn!("nix is not on PATH: the files are not put into the Nix store (building the lock will download them)");
        return Ok(false);
    }
    Ok(asked)
}

/// Puts into the store the outputs `fromLock` builds an entry of `plan` from, as `fetch` puts its own:
/// each large file as the flat fixed-output path `hf-blob-<sha256>`, the small files (of NAR hash
/// `small_files`) as one recursive path, so that building the lock downloads nothing. Outputs there
/// already are skipped; the others are downloaded, verified, into `dir`, where `of_plan` may have left
/// the small files.
fn seed(hub: &Hub, plan: &Plan, small_files: Option<&str>, dir: &Path, jobs: usize) -> Result<()> {
    let mut seen = HashSet::new();
    let mut large = Vec::new();
    for e in &plan.files {
        let Some(lfs) = e.lfs.as_ref().filter(|lfs| seen.insert(&lfs.oid)) else { continue };
        let name = pipeline::blob_name(&lfs.oid);
        large.push((e.clone(), nar::flat_output_path(&nar::parse_hash(&lfs.oid)?, &name)?, name));
    }
    let small_name = lock::small_files_name(&plan.repo, &plan.commit);
    let small = small_files.map(|hash| nar::fixed_output_path(&nar::parse_hash(hash)?, &small_name)).transpose()?;
    let paths: Vec<&str> = large.iter().map(|(_, path, _)| path.as_str()).chain(small.as_deref()).collect();
    let Some(valid) = nix::valid(&paths)? else {
        return Err(Error::new(Kind::Failed, "nix-store is not on PATH: nothing could be put into the store"));
    };
    let small = small.filter(|_| !valid[large.len()]);
    let large: Vec<_> = large.into_iter().zip(&valid).filter(|(_, valid)| !**valid).map(|(blob, _)| blob).collect();
    let part = |files| Plan {
        repo: plan.repo.clone(),
        commit: plan.commit.clone(),
        filters: plan.filters.clone(),
        files,
        skipped: Vec::new(),
    };
    let mut added = 0;
    if let Some(expected) = small {
        let out = dir.join(&small_name);
        let files: Vec<Entry> = plan.files.iter().filter(|e| e.lfs.is_none()).cloned().collect();
        added += files.len();
        if !out.exists() {
            download(hub, &part(files), Sink::Files(&out), jobs)?;
        }
        let (hash, _) = add_fixed(&out, &small_name)?;
        if nar::fixed_output_path(&hash, &small_name)? != expected {
            let want = small_files.unwrap_or_default();
            return Err(integrity(format!("the small files hash to {}, not to smallFiles {want}", nar::sri(&hash))));
        }
    }
    if !large.is_empty() {
        let blobs = part(large.iter().map(|(e, ..)| e.clone()).collect());
        check_space(&blobs, dir, true, false)?;
        info!("fetching {}, {}", render::files(blobs.files.len()), render::size(blobs.bytes()));
        let folder = dir.join("blobs");
        download(hub, &blobs, Sink::Blobs(&folder), jobs)?;
        let files: Vec<PathBuf> = large.iter().map(|(_, _, name)| folder.join(name)).collect();
        let paths = nix::add_fixed_files(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>())?;
        for (got, (_, expected, _)) in paths.unwrap_or_default().iter().zip(&large) {
            check_added(got, expected)?;
        }
        added += large.len();
    }
    if added > 0 {
        info!("put {} into the Nix store", render::files(added));
    }
    Ok(())
}

/// The Hub a pin names (`endpoint`), else `HF_ENDPOINT`'s, with the user's token.
pub fn hub_at(endpoint: Option<&str>) -> Result<Hub> {
    match endpoint {
        Some(endpoint) => Hub::new(endpoint, Token::from_env()),
        None => hub_from_env(),
    }
}

/// What fetching an entry of the lock again asks for: its ref (or `at`, a commit), its filters.
pub fn target_of(entry: &lock::Entry, at: Option<&str>) -> Result<Target> {
    let filters = entry.filters.filters()?;
    let given = entry.filters.include.iter().map(|glob| format!("the include {glob}"));
    let includes = given.zip(filters.include.iter().cloned()).collect();
    let rev = at.map(str::to_owned).or_else(|| entry.ref_name.clone()).unwrap_or_else(|| entry.rev.clone());
    let url = RepoUrl { kind: Some(entry.kind), ..crate::repo::parse_url(&entry.repo().url())? };
    Ok(Target { url, rev: Some(rev), filters, includes })
}

/// The Hub of `HF_ENDPOINT` (default huggingface.co), with the user's token.
pub fn hub_from_env() -> Result<Hub> {
    let endpoint = std::env::var("HF_ENDPOINT").ok().filter(|v| !v.is_empty());
    Hub::new(endpoint.as_deref().unwrap_or(hub::DEFAULT_ENDPOINT), Token::from_env())
}

/// The ref `target` asks for: `--ref`, else the URL's `/tree/REF`, else `main`.
pub fn asked_ref<'a>(target: &'a Target, url: &'a RepoUrl) -> &'a str {
    target.rev.as_deref().or(url.rev.as_deref()).unwrap_or("main")
}

/// The branch or tag `target` asks for (`main` without one), as the manifest records it; `None` for a
/// commit.
pub fn ref_name(target: &Target) -> Option<String> {
    let name = asked_ref(target, &target.url);
    (!crate::repo::is_commit(&name.to_ascii_lowercase())).then(|| name.to_owned())
}

/// The plan of a fetch of `target`'s files at the commit resolved. A `:QUANT` becomes the files it takes
/// here, where the listing is known.
pub fn plan_at(resolved: Resolved, target: &Target) -> Result<(Hub, Plan)> {
    let Resolved { hub, repo, commit } = resolved;
    let listed = pipeline::list(&hub, &repo, &commit)?;
    let quant = quant_in(&listed, target).with_context(|| pipeline::label(&repo, &commit))?;
    if let Some(q) = &quant {
        let mmproj = q.mmproj.as_ref().map_or(String::new(), |m| format!(" and its mmproj, {m}"));
        info!("taking quant {} ({}, {}){mmproj}", q.name, render::files(q.files.len()), render::human_size(q.bytes));
    }
    let plan = pipeline::choose(&repo, &commit, listed, &filters_for(quant.as_ref(), target))?;
    check_includes(&plan, &target.includes)?;
    if !target.filters.include.is_empty() && !plan.files.iter().any(|e| e.lfs.is_some()) {
        warn!("the filters take no large (LFS) file: --exclude leaves out every one --include takes");
    }
    Ok((hub, plan))
}

/// The filters a fetch of `target` applies at `resolved`'s commit: its own, or the files of its `:QUANT`
/// (which takes a listing of the tree).
pub fn filters_at(resolved: &Resolved, target: &Target) -> Result<Filters> {
    if target.url.quant.is_none() {
        return Ok(target.filters.clone());
    }
    let Resolved { hub, repo, commit } = resolved;
    let quant = quant_in(&pipeline::list(hub, repo, commit)?, target).with_context(|| pipeline::label(repo, commit))?;
    Ok(filters_for(quant.as_ref(), target))
}

/// The quant `target`'s `:QUANT` names in `listed`; an error listing the quants there are if none.
fn quant_in(listed: &[Entry], target: &Target) -> Result<Option<Quant>> {
    let Some(tag) = &target.url.quant else { return Ok(None) };
    let quants = gguf::quants(listed.iter().map(|e| (e.path.as_str(), e.size)));
    match gguf::find(&quants, tag) {
        Some(quant) => Ok(Some(quant.clone())),
        None if quants.is_empty() => {
            Err(Error::new(Kind::NotFound, format!("no quant {tag}: it has no GGUF file named after a quant")))
        }
        None => Err(Error::new(Kind::NotFound, format!("no quant {tag}; it has {}", quant_list(&quants)))),
    }
}

/// The quant's files in `files`, with those of `--file`; `target`'s own filters without a quant.
fn filters_for(quant: Option<&Quant>, target: &Target) -> Filters {
    match quant {
        Some(quant) => {
            Filters { files: [quant.paths(), target.filters.files.clone()].concat(), ..Filters::default() }.canonical()
        }
        None => target.filters.clone(),
    }
}

/// `IQ2_XS (1.2 GiB), Q4_K_M (4.1 GiB in 3 files)`.
fn quant_list(quants: &[Quant]) -> String {
    let one = |q: &Quant| match q.files.len() {
        1 => format!("{} ({})", q.name, render::human_size(q.bytes)),
        n => format!("{} ({} in {n} files)", q.name, render::human_size(q.bytes)),
    };
    quants.iter().map(one).collect::<Vec<_>>().join(", ")
}

/// A fetch without filters of a model of several GGUF quants would download all of them, which is not
/// what anyone who runs one means: a usage error that lists them.
pub fn check_quant_chosen(plan: &Plan) -> Result<()> {
    if !plan.filters.is_empty() || plan.repo.kind != RepoType::Model {
        return Ok(());
    }
    let quants = gguf::quants(plan.files.iter().map(|e| (e.path.as_str(), e.size)));
    let [first, _, ..] = &quants[..] else { return Ok(()) };
    Err(usage(format!(
        "{} has {} GGUF quants: {}; take one as llama.cpp does (`nix-hug fetch {}:{}`), or every file with --include '*'",
        plan.label(),
        quants.len(),
        quant_list(&quants),
        plan.repo.url(),
        first.name
    )))
}

/// An `--include` (or a folder URL) that takes no large file is most likely a typo, and would pin the
/// repo without its weights: an error that lists what there is to take.
fn check_includes(plan: &Plan, includes: &[(String, String)]) -> Result<()> {
    let large: Vec<&str> =
        plan.files.iter().chain(&plan.skipped).filter(|e| e.lfs.is_some()).map(|e| e.path.as_str()).collect();
    for (given, regex) in includes {
        let selector = Filters { include: vec![regex.clone()], ..Filters::default() }.compile()?;
        if large.iter().any(|path| selector.takes(path, true)) {
            continue;
        }
        let there = match large.len() {
            0 => "it has no large (LFS) file; --include chooses among those".to_owned(),
            n if n <= 10 => format!("its large files: {}", large.join(", ")),
            n => format!("its large files: {}, and {} more (see `nix-hug ls`)", large[..10].join(", "), n - 10),
        };
        return Err(Error::new(Kind::NotFound, format!("{given} matches no large file of {}; {there}", plan.label())));
    }
    Ok(())
}

/// The repo and what `rev` points at. A ref the repo lacks is reported with the branches and tags it has.
fn resolve(hub: &Hub, url: &RepoUrl, rev: &str) -> Result<(Repo, Revision)> {
    on_repo(hub, url, |repo| {
        hub.revision(repo, rev).map_err(|e| match e.kind() {
            Kind::NoSuchRevision => {
                let kind = repo.kind.as_str();
                let known = hub.refs(repo).map_or(String::new(), |refs| format!(" ({})", ref_names(&refs)));
                Error::new(Kind::NoSuchRevision, format!("{kind} {repo} has no branch, tag or commit {rev:?}{known}"))
            }
            _ => e,
        })
    })
}

/// `branches: main, dev; tags: v1.0`: what `--ref` could have been.
fn ref_names(refs: &Refs) -> String {
    let names = |list: &[GitRef]| list.iter().map(GitRef::as_ref_arg).collect::<Vec<_>>().join(", ");
    let mut parts = vec![format!("branches: {}", names(&refs.branches))];
    if !refs.tags.is_empty() {
        parts.push(format!("tags: {}", names(&refs.tags)));
    }
    parts.join("; ")
}

/// `op` on the repo `url` names. A bare `org/repo` is a model if the Hub has such a model, else a
/// dataset; when neither answers, a repo that exists without the ref asked for is the one to report.
pub fn on_repo<T>(hub: &Hub, url: &RepoUrl, op: impl Fn(&Repo) -> Result<T>) -> Result<(Repo, T)> {
    let kinds = match url.kind {
        Some(kind) => vec![kind],
        None => vec![RepoType::Model, RepoType::Dataset],
    };
    let mut errors = Vec::new();
    for kind in kinds {
        let repo = url.with_kind(kind);
        match op(&repo) {
            Ok(value) => return Ok((repo, value)),
            Err(e) if matches!(e.kind(), Kind::NotFound | Kind::NoSuchRevision) => errors.push(e),
            Err(e) => return Err(e),
        }
    }
    if let Some(i) = errors.iter().position(|e| e.kind() == Kind::NoSuchRevision) {
        return Err(errors.swap_remove(i));
    }
    match errors.len() {
        1 => Err(errors.remove(0)),
        _ => Err(Error::new(
            Kind::NotFound,
            format!(
                "neither a model nor a dataset {} exists at {} (a space's URL starts with spaces/; a private \
                 or gated repo needs a token with access: set HF_TOKEN or log in with `hf auth login`)",
                url.id,
                hub.endpoint()
            ),
        )),
    }
}

/// A repository at a ref, and the files chosen in it: what a fetch, `ls` and `export` start from.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub url: RepoUrl,
    /// `--ref`; the URL's ref and then `main` apply when it is absent.
    pub rev: Option<String>,
    /// Regexes, already converted from the globs given; a file or folder URL is among them.
    pub filters: Filters,
    /// Each include regex with what it was given as (`--include "*.bin"`, the URL's folder), for
    /// messages about it.
    pub includes: Vec<(String, String)>,
}

/// An output of exactly this plan that is valid in the store already, and its NAR hash. It is found by
/// its name, checked by its layout (metadata only, see `layout::Tree::matches`), and its hash is the one
/// the store recorded, which must give back its path: so not a byte of it is read.
pub fn in_store(plan: &Plan) -> Option<(Hash, String)> {
    let name = plan.repo.store_name(&plan.commit);
    let tree = layout::Tree::of_fetch(&plan.repo, &plan.commit, &plan.files);
    for path in local::outputs_at(&plan.repo, &plan.commit) {
        if !tree.matches(&path) {
            continue;
        }
        let recorded = match nix::nar_hash(&path) {
            Ok(Some(hash)) => hash,
            Ok(None) => return None,
            Err(e) => {
                debug!("{}: {e}", path.display());
                continue;
            }
        };
        let Ok(hash) = nar::parse_hash(&recorded) else { continue };
        let path = path.display().to_string();
        if nar::fixed_output_path(&hash, &name).is_ok_and(|expected| expected == path) {
            return Some((hash, path));
        }
    }
    None
}

/// Resolves (unless `resolved` says where the ref points already), refuses a repo of several quants
/// without a choice among them, downloads (or copies what is already
/// on this machine), hashes, and adds the output to the store. Without Nix, the result has no store path.
pub fn fetch(target: &Target, jobs: usize, resolved: Option<Resolved>) -> Result<FetchResult> {
    let (hub, plan) = match resolved {
        Some(resolved) => plan_at(resolved, target)?,
        None => plan(target)?,
    };
    check_quant_chosen(&plan)?;
    // Checked before downloading anything: Nix would refuse the expression's name as well.
    let name = plan.repo.store_name(&plan.commit);
    nar::check_store_name(&name)?;
    let result = |file_tree_hash, store_path| FetchResult {
        files: plan.files.len(),
        bytes: plan.bytes(),
        repo: plan.repo.clone(),
        rev: plan.commit.clone(),
        filters: plan.filters.clone(),
        file_tree_hash,
        store_path,
    };
    if let Some((hash, path)) = in_store(&plan) {
        info!("{} is already in the store: {path}", plan.label());
        return Ok(result(nar::sri(&hash), Some(path)));
    }
    info!("fetching {}, {}", render::files(plan.files.len()), render::size(plan.bytes()));

    let tmp = TempDir::new()?;
    let nix = nix::version()?.is_some();
    // The NAR goes into a one-path binary cache that `nix copy` imports: Nix 2.8's
    // `nix-store --add-fixed` takes about twice as long for the same path. Without Nix, or a `file://`
    // URL that can name the temporary folder, the output is a folder (added with `--add-fixed`).
    let cache = tmp.path().join("cache");
    let cache_url = persist::cache_url(&cache).filter(|_| nix);
    check_space(&plan, tmp.path(), nix, cache_url.is_some())?;
    let (hash, store_path) = match &cache_url {
        Some(url) => {
            let nar_file = nar::binary_cache(&cache, &name)?;
            let (hash, size) = download(&hub, &plan, Sink::Nar(&nar_file), jobs)?.expect("a NAR sink gives its hash");
            let path = nar::add_narinfo(&cache, &name, &hash, size)?;
            nix::copy_from(url, &path)?;
            (hash, Some(path))
        }
        None => {
            // Named like the store path: `nix-store --add-fixed` takes the name from the folder.
            let out = tmp.path().join(&name);
            download(&hub, &plan, Sink::Dir(&out), jobs)?;
            add_fixed(&out, &name)?
        }
    };
    let file_tree_hash = nar::sri(&hash);
    debug!("nar sha256 of {name}: {file_tree_hash}");
    match &store_path {
        Some(path) => info!("added {path}"),
        None => warn!(
            "could not add the output to the Nix store: nix is not on PATH \
             (building the expression will download it again)"
        ),
    }
    drop(tmp);
    Ok(result(file_tree_hash, store_path))
}

/// Downloads `plan` into `sink` with progress bars, copies on this machine taken instead where there
/// are: what `fetch` and `seed` both do.
fn download(hub: &Hub, plan: &Plan, sink: Sink, jobs: usize) -> Result<Option<(nar::Hash, u64)>> {
    let progress = Progress::new(plan.files.iter().map(|e| (e.path.as_str(), e.size)));
    let reused = AtomicUsize::new(0);
    let opts = Options { jobs, local_caches: local::caches_for(&plan.repo), ..Options::default() };
    let hashed = pipeline::fetch(hub, plan, sink, opts, &|event| {
        match event {
            Event::Done { name, size } => debug!("{name}: {size} bytes, verified"),
            Event::Reused { .. } => _ = reused.fetch_add(1, Ordering::Relaxed),
            Event::Bytes { .. } => {}
        }
        progress.update(&event);
    })?;
    progress.finish();
    match reused.load(Ordering::Relaxed) {
        0 => {}
        n => info!("{} copied from local copies instead of downloaded", render::files(n)),
    }
    Ok(hashed)
}

/// Hashes the output folder `out` while `nix-store --add-fixed` reads it (`None` without Nix).
fn add_fixed(out: &Path, name: &str) -> Result<(Hash, Option<String>)> {
    let (hash, added) = std::thread::scope(|s| {
        let hashing = s.spawn(|| nar::nar_sha256(out));
        let added = nix::add_fixed(out);
        (hashing.join().expect("the NAR hash does not panic"), added)
    });
    let hash = hash?;
    let added = added?;
    if let Some(path) = &added {
        check_added(path, &nar::fixed_output_path(&hash, name)?)?;
    }
    Ok((hash, added))
}

fn check_added(path: &str, expected: &str) -> Result<()> {
    if path == expected {
        return Ok(());
    }
    Err(Error::new(
        Kind::Failed,
        format!(
            "nix-store added the output as {path}, but the expression's output is {expected} \
             (is the Nix store somewhere other than {}?)",
            nar::STORE_DIR
        ),
    ))
}

/// Refuses, before the download, a fetch the disks cannot hold at their fullest: the NAR in TMPDIR (`tmp`
/// is in it) and the copy Nix makes of it in the store; without a NAR (see `fetch`), the output folder
/// instead of the NAR. The store counts only when Nix is there to write to it.
fn check_space(plan: &Plan, tmp: &Path, nix: bool, nar: bool) -> Result<()> {
    let sizes = || plan.files.iter().map(|e| e.size);
    let out = space::on_disk(sizes());
    let base = tmp.parent().unwrap_or(tmp);
    let store = nix::store_dir();
    let here = if nar { space::nar(sizes()) } else { out };
    match (nix && store.is_dir()).then_some(store.as_path()) {
        Some(store) => space::check(&[(base, here), (store, out)]),
        None => space::check(&[(base, here)]),
    }
}
