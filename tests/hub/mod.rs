//! A Hub-compatible server on loopback for the tests: the API and file host on 127.0.0.1 and a "CDN"
//! on 127.0.0.2, so that cross-host redirects (and dropping `Authorization` on them) are real.
//!
//! It speaks just enough HTTP/1.1 (`http.rs`: thread per connection, keep-alive, HEAD, single
//! `Range`) to serve the calls `huggingface_hub` and nix-hug make: revision info, the paginated
//! recursive tree, and `resolve`, in one of two [`Mode`]s: plain, or answering as huggingface.co
//! does today. Renamed repos redirect to their new id. Every request is logged with its status, and
//! one-shot faults (`faults.rs`) can be injected to test retries, resume, rate limits and
//! verification. The real-Hub mode's CDN URLs are signed (`cdn.rs`); the fixture repos are built in
//! `fixtures.rs`.
#![allow(dead_code)]

mod cdn;
mod faults;
pub mod files;
pub mod fixtures;
mod http;
pub mod tls;

use std::collections::HashMap;
use std::io::{self, BufReader, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use http::{Body, BodyFault, Head, Response, parse_range, percent_decode, read_head, write_response};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use sha2::Sha256;

/// Tree entries per page, as on the real Hub (without `expand`).
const PAGE_SIZE: usize = 1000;
/// The API quota the real-Hub mode announces per window (more than anonymous callers get, as with a token).
const QUOTA: u64 = 10_000;
const WINDOW_SECS: u64 = 300;
/// In the real-Hub mode, a valid token of a user who was granted access to no gated repo. The tokens
/// of the fixture repos are valid too; any other token is refused on every repo.
pub const OTHER_USER_TOKEN: &str = "hf_otheruser";

/// How the Hub answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Simple answers: `resolve` serves regular files itself and sends LFS files to the CDN with a
    /// 302 that carries the metadata headers; tree pages have an offset cursor; gated repos refuse
    /// a missing token with 401 and any other token with 403.
    Plain,
    /// As huggingface.co answers today (hf-hub-protocol.md, section 10): regular files redirect
    /// with a relative 307 to `/api/resolve-cache/…`; LFS files with a 302 to a signed CDN URL that
    /// the CDN checks, the metadata headers (`X-Linked-*`, `X-Repo-Commit`, `X-Xet-Hash`) on the
    /// redirect only; tree entries have `xetHash` and pages an opaque cursor; answers carry
    /// `RateLimit` headers; an unknown token is refused (401) on every repo, a valid one without
    /// access gets 403 on a gated repo.
    Real,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::Plain, Mode::Real];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Model,
    Dataset,
    Space,
}

#[derive(Clone, Debug)]
pub enum Content {
    Bytes(Vec<u8>),
    /// Large content, streamed from disk in 1 MiB reads.
    File(PathBuf),
}

#[derive(Clone, Debug)]
pub struct File {
    pub path: String,
    pub content: Content,
    pub lfs: bool,
}

#[derive(Clone, Debug)]
pub struct Commit {
    /// 40 lowercase hex.
    pub sha: String,
    pub files: Vec<File>,
}

#[derive(Clone, Debug)]
pub struct Repo {
    pub kind: Kind,
    pub id: String,
    pub commits: Vec<Commit>,
    /// `("main", sha)`, `("v1.0", sha)`, `("refs/pr/1", sha)`.
    pub refs: Vec<(String, String)>,
    /// `Some(t)`: gated, every API and resolve request needs `Authorization: Bearer t`.
    pub token: Option<String>,
    /// Ids it had before a rename (or legacy aliases such as `gpt2`): requests naming them are
    /// redirected to the same URL with `id`.
    pub old_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The address that received it: `127.0.0.1:PORT` (API) or `127.0.0.2:PORT` (CDN).
    pub host: String,
    pub method: String,
    /// Raw path and query, as sent.
    pub target: String,
    pub authorization: Option<String>,
    pub range: Option<String>,
    /// The status it was answered with.
    pub status: u16,
}

impl Request {
    fn of(host: &str, head: &Head, status: u16) -> Request {
        Request {
            host: host.to_owned(),
            method: head.method.clone(),
            target: head.target.clone(),
            authorization: head.header("authorization").map(String::from),
            range: head.header("range").map(String::from),
            status,
        }
    }
}

/// `path` matches when the request's percent-decoded path ends with it, in whole segments. A CDN
/// request also matches by the repo paths of the files it serves, so `DropMidBody { path:
/// "model.safetensors" }` hits the CDN download of that LFS file. Body faults apply only to 2xx
/// answers to a GET with a non-empty body, so they skip the HEAD and the 302 before it.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Send the headers and half the body, then close the connection.
    DropMidBody { path: String },
    /// Answer with this status (and `Retry-After` if given) instead, e.g. 429 or 503.
    Status { path: String, status: u16, retry_after: Option<u64> },
    /// Flip one byte in the middle of the body.
    CorruptByte { path: String },
    /// Like `CorruptByte`, on every matching request (never consumed).
    CorruptAlways { path: String },
    /// On every matching request (never consumed): the headers and the first KiB of the body, then
    /// nothing more until the client gives up.
    Stall { path: String },
    /// Spend the quota: from a request matching `path` on, every request to the Hub host gets a 429
    /// carrying only `RateLimit: "api";r=0;t=<seconds left>` (no `Retry-After`), for `reset` seconds.
    RateLimit { path: String, reset: u64 },
    /// Real-Hub mode: once the CDN has answered a request matching `path`, the signed URLs handed
    /// out so far expire (later ones are fine), as they do on the real CDN during a long download.
    ExpireCdnUrls { path: String },
    /// On every matching request (never consumed), on either host: a 302, to where `to` says.
    Redirect { path: String, to: Redirect },
    /// Serve, once, a copy of the content `by` bytes longer (padded) or shorter (cut), with headers
    /// that agree with it (`Content-Length`, `Content-Range`): a file whose size is not the listing's.
    Resized { path: String, by: i64 },
    /// Like `Resized`, on every matching request (never consumed).
    ResizedAlways { path: String, by: i64 },
    /// On every matching request (never consumed): the body at `bytes_per_sec`, as a slow link sends it.
    Throttle { path: String, bytes_per_sec: u64 },
}

/// Where a `Redirect` fault sends a request for `/p?q`.
#[derive(Clone, Copy, Debug)]
pub enum Redirect {
    /// To `/p?q` on the same host: a loop of one.
    Itself,
    /// To `/p?q` on the other host, which sends it back: A→B→A.
    OtherHost,
    /// To `/p?q&hop` on the same host: a new URL every time, an endless chain without a loop.
    Onward,
}

impl Kind {
    fn from_plural(s: &str) -> Option<Kind> {
        match s {
            "models" => Some(Kind::Model),
            "datasets" => Some(Kind::Dataset),
            "spaces" => Some(Kind::Space),
            _ => None,
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Kind::Model => "models",
            Kind::Dataset => "datasets",
            Kind::Space => "spaces",
        }
    }

    /// `model`, `dataset` or `space`, as nix-hug's repo types are spelled.
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::Dataset => "dataset",
            Kind::Space => "space",
        }
    }

    fn url_prefix(self) -> &'static str {
        match self {
            Kind::Model => "",
            Kind::Dataset => "datasets/",
            Kind::Space => "spaces/",
        }
    }
}

impl File {
    /// A regular (git-stored) file.
    pub fn new(path: &str, content: impl Into<Vec<u8>>) -> File {
        File { path: path.into(), content: Content::Bytes(content.into()), lfs: false }
    }

    /// An LFS file: the tree lists its pointer and resolve redirects to the CDN.
    pub fn lfs(path: &str, content: impl Into<Vec<u8>>) -> File {
        File { lfs: true, ..File::new(path, content) }
    }
}

impl Content {
    /// The whole content (reads a `File` from disk).
    pub fn read(&self) -> Vec<u8> {
        match self {
            Content::Bytes(b) => b.clone(),
            Content::File(p) => std::fs::read(p).expect("reading fixture content"),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Git's object id of a blob: `sha1("blob <len>\0" + content)`.
pub fn git_blob_sha1(content: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex(&h.finalize())
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// A stable 40-hex commit id derived from `seed`.
pub fn fake_sha(seed: &str) -> String {
    hex(&Sha1::digest(seed.as_bytes()))
}

/// The text git stores in place of an LFS file.
pub fn lfs_pointer(sha256: &str, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n")
}

/// A running Hub; its threads stop and its connections close on Drop.
pub struct Hub {
    state: Arc<State>,
    addrs: [SocketAddr; 2],
    acceptors: Vec<JoinHandle<()>>,
}

impl Hub {
    /// A plain Hub: API on 127.0.0.1:0, CDN on 127.0.0.2:0. Hashes every file up front.
    pub fn start(repos: Vec<Repo>) -> Hub {
        Hub::start_in(Mode::Plain, repos)
    }

    pub fn start_in(mode: Mode, repos: Vec<Repo>) -> Hub {
        Hub::launch(mode, repos, |addr| format!("http://{addr}"))
    }

    /// `start` behind a front such as `tls::HttpsHub`: `url` gives the URL at which each of its addresses
    /// is reached, which its redirects and links then name.
    pub fn start_behind(repos: Vec<Repo>, url: impl Fn(SocketAddr) -> String) -> Hub {
        Hub::launch(Mode::Plain, repos, url)
    }

    fn launch(mode: Mode, repos: Vec<Repo>, url: impl Fn(SocketAddr) -> String) -> Hub {
        let api = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1");
        let cdn = TcpListener::bind("127.0.0.2:0").expect("binding 127.0.0.2");
        let addrs = [api.local_addr().unwrap(), cdn.local_addr().unwrap()];
        let endpoint = url(addrs[0]);
        let state = Arc::new(State {
            repos: repos.into_iter().map(|r| Served::new(r, mode)).collect(),
            mode,
            secret: Mutex::new(fake_sha(&format!("cdn secret of {endpoint}"))),
            started: Instant::now(),
            window: Mutex::default(),
            limited_until: Mutex::default(),
            endpoint,
            cdn: url(addrs[1]),
            log: Mutex::default(),
            faults: Mutex::default(),
            slash_redirect: AtomicBool::new(false),
            link_loop: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            conns: Mutex::default(),
            next_conn: AtomicU64::new(0),
        });
        let acceptors = [(api, Role::Api), (cdn, Role::Cdn)]
            .into_iter()
            .map(|(listener, role)| {
                let state = state.clone();
                thread::spawn(move || accept(state, listener, role))
            })
            .collect();
        Hub { state, addrs, acceptors }
    }

    /// `http://127.0.0.1:PORT` (the front's URL behind one), no trailing slash.
    pub fn endpoint(&self) -> String {
        self.state.endpoint.clone()
    }

    /// `http://127.0.0.2:PORT`.
    pub fn cdn(&self) -> String {
        self.state.cdn.clone()
    }

    pub fn mode(&self) -> Mode {
        self.state.mode
    }

    /// Everything received so far, both hosts, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.log.lock().unwrap().clone()
    }

    pub fn clear_requests(&self) {
        self.state.log.lock().unwrap().clear();
    }

    pub fn inject(&self, fault: Fault) {
        self.state.faults.lock().unwrap().push(fault);
    }

    /// Removes every fault not consumed yet, including those that never are.
    pub fn clear_faults(&self) {
        self.state.faults.lock().unwrap().clear();
    }

    /// Points the ref `name` of repo `id` at `sha` (one of its commits), as a push to a branch does.
    pub fn move_ref(&self, id: &str, name: &str, sha: &str) {
        let repo = self.state.repos.iter().find(|r| r.id == id).expect("a repo of the Hub");
        assert!(repo.commits.iter().any(|c| c.sha == sha), "{sha} is not a commit of {id}");
        let mut refs = repo.refs.lock().unwrap();
        refs.retain(|(n, _)| n != name);
        refs.push((name.to_owned(), sha.to_owned()));
    }

    /// Answer `tree/<rev>` with a 307 to `tree/<rev>/`, as some mirrors do.
    pub fn set_tree_slash_redirect(&self, on: bool) {
        self.state.slash_redirect.store(on, Ordering::SeqCst);
    }

    /// End the tree listing's last page with a `Link` back to its first, as a broken mirror might.
    pub fn set_tree_link_loop(&self, on: bool) {
        self.state.link_loop.store(on, Ordering::SeqCst);
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        for conn in self.state.conns.lock().unwrap().values() {
            let _ = conn.shutdown(Shutdown::Both);
        }
        // Wake the acceptors, which then see `stop`.
        for addr in self.addrs {
            let _ = TcpStream::connect(addr);
        }
        for t in self.acceptors.drain(..) {
            let _ = t.join();
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Api,
    Cdn,
}

struct State {
    repos: Vec<Served>,
    mode: Mode,
    /// Signs the real-Hub mode's CDN URLs; a new one expires every URL signed before.
    secret: Mutex<String>,
    started: Instant,
    /// The current rate-limit window (its number since `started`) and the requests counted in it.
    window: Mutex<(u64, u64)>,
    /// Set by a `RateLimit` fault: the Hub host answers 429 until then.
    limited_until: Mutex<Option<Instant>>,
    endpoint: String,
    cdn: String,
    log: Mutex<Vec<Request>>,
    faults: Mutex<Vec<Fault>>,
    slash_redirect: AtomicBool,
    link_loop: AtomicBool,
    stop: AtomicBool,
    /// Open connections, so that Drop can close keep-alive ones blocked in a read.
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
}

/// A repo with what the server derives from its files.
struct Served {
    kind: Kind,
    id: String,
    /// Behind a lock: a test may move a branch (`Hub::move_ref`).
    refs: Mutex<Vec<(String, String)>>,
    token: Option<String>,
    old_ids: Vec<String>,
    commits: Vec<ServedCommit>,
}

struct ServedCommit {
    sha: String,
    blobs: Vec<Blob>,
    /// Files and every parent directory, sorted by path.
    tree: Vec<(String, Value)>,
}

struct Blob {
    path: String,
    content: Content,
    size: u64,
    /// Git blob id of the content, or of the pointer text for LFS.
    oid: String,
    /// sha256 of the content, for LFS files only.
    lfs: Option<String>,
}

impl Served {
    fn new(repo: Repo, mode: Mode) -> Served {
        let commits = repo
            .commits
            .into_iter()
            .map(|c| {
                let mut blobs: Vec<Blob> = c.files.into_iter().map(Blob::new).collect();
                blobs.sort_by(|a, b| a.path.cmp(&b.path));
                let tree = tree_entries(&c.sha, &blobs, mode);
                ServedCommit { sha: c.sha, blobs, tree }
            })
            .collect();
        Served {
            kind: repo.kind,
            id: repo.id,
            refs: Mutex::new(repo.refs),
            token: repo.token,
            old_ids: repo.old_ids,
            commits,
        }
    }

    /// A ref name or a full commit sha.
    fn commit(&self, rev: &str) -> Option<&ServedCommit> {
        let refs = self.refs.lock().unwrap();
        let sha = refs.iter().find(|(name, _)| name == rev).map_or(rev, |(_, sha)| sha);
        self.commits.iter().find(|c| c.sha == sha)
    }
}

impl Blob {
    fn new(file: File) -> Blob {
        let (size, sha1, sha256) = hash_content(&file.content);
        let (oid, lfs) =
            if file.lfs { (git_blob_sha1(lfs_pointer(&sha256, size).as_bytes()), Some(sha256)) } else { (sha1, None) };
        Blob { path: file.path, content: file.content, size, oid, lfs }
    }
}

/// Size, git blob sha1 and sha256, streaming `File` content in 1 MiB reads.
fn hash_content(content: &Content) -> (u64, String, String) {
    let size = match content {
        Content::Bytes(b) => b.len() as u64,
        Content::File(p) => std::fs::metadata(p).expect("fixture file").len(),
    };
    let mut sha1 = Sha1::new();
    sha1.update(format!("blob {size}\0").as_bytes());
    let mut sha256 = Sha256::new();
    match content {
        Content::Bytes(b) => {
            sha1.update(b);
            sha256.update(b);
        }
        Content::File(p) => {
            let mut f = std::fs::File::open(p).expect("fixture file");
            let mut buf = vec![0; 1 << 20];
            loop {
                let n = f.read(&mut buf).expect("reading fixture file");
                if n == 0 {
                    break;
                }
                sha1.update(&buf[..n]);
                sha256.update(&buf[..n]);
            }
        }
    }
    (size, hex(&sha1.finalize()), hex(&sha256.finalize()))
}

fn tree_entries(commit: &str, blobs: &[Blob], mode: Mode) -> Vec<(String, Value)> {
    let mut entries = Vec::new();
    let mut dirs = std::collections::BTreeSet::new();
    for b in blobs {
        let mut entry = json!({"type": "file", "oid": b.oid, "size": b.size, "path": b.path});
        if let Some(sha256) = &b.lfs {
            let pointer_size = lfs_pointer(sha256, b.size).len();
            entry["lfs"] = json!({"oid": sha256, "size": b.size, "pointerSize": pointer_size});
            if mode == Mode::Real {
                entry["xetHash"] = json!(xet_hash(sha256));
            }
        }
        entries.push((b.path.clone(), entry));
        let mut dir = b.path.as_str();
        while let Some((parent, _)) = dir.rsplit_once('/') {
            dirs.insert(parent.to_string());
            dir = parent;
        }
    }
    for d in dirs {
        // Not a real git tree id (nobody checks it), but stable and distinct per directory.
        let oid = fake_sha(&format!("{commit}:{d}"));
        entries.push((d.clone(), json!({"type": "directory", "oid": oid, "size": 0, "path": d})));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

fn accept(state: Arc<State>, listener: TcpListener, role: Role) {
    let host = listener.local_addr().unwrap().to_string();
    for stream in listener.incoming() {
        if state.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = state.next_conn.fetch_add(1, Ordering::SeqCst);
        {
            // Checked under the lock Drop holds while closing connections, so none slips past it.
            let mut conns = state.conns.lock().unwrap();
            if state.stop.load(Ordering::SeqCst) {
                break;
            }
            conns.insert(id, stream.try_clone().unwrap());
        }
        let (state, host) = (state.clone(), host.clone());
        thread::spawn(move || {
            let _ = serve_connection(&state, stream, role, &host);
            state.conns.lock().unwrap().remove(&id);
        });
    }
}

fn serve_connection(state: &State, stream: TcpStream, role: Role, host: &str) -> io::Result<()> {
    // Headers and body go out in separate writes: without this, Nagle and delayed ACKs stall
    // every keep-alive request by tens of milliseconds.
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream);
    while let Some(head) = read_head(&mut reader)? {
        let (response, fault) = respond(state, role, &head);
        // Logged before the answer leaves, so a client that has it finds its request in the log.
        state.log.lock().unwrap().push(Request::of(host, &head, response.status));
        if !write_response(reader.get_ref(), &head, response, fault)? || !head.keep_alive {
            break;
        }
    }
    Ok(())
}

/// The answer to one request, and the body fault to apply while writing it.
fn respond<'a>(state: &'a State, role: Role, head: &Head) -> (Response<'a>, Option<BodyFault>) {
    let (raw_path, query) = head.target.split_once('?').unwrap_or((&head.target, ""));
    let Some(segments) = raw_path.split('/').skip(1).map(percent_decode).collect::<Option<Vec<_>>>() else {
        return (Response::error(400, None, "bad percent-encoding"), None);
    };
    let path = format!("/{}", segments.join("/"));
    let names = match role {
        Role::Api => vec![path.clone()],
        Role::Cdn => state.cdn_names(&path),
    };
    let response = if let Some(limited) = state.rate_limited(role, &names) {
        limited
    } else if let Some(redirect) = state.redirect(role, &names, &head.target) {
        redirect
    } else if let Some(status) = state.take_status_fault(&names) {
        status
    } else if head.method != "GET" && head.method != "HEAD" {
        Response::error(405, None, "method not allowed")
    } else if role == Role::Cdn {
        state.cdn_file(&segments, query, head)
    } else {
        state.api(&segments, raw_path, query, head)
    };
    let response = if role == Role::Api && response.status != 429 { state.quota_headers(response) } else { response };
    let has_body = head.method == "GET" && response.status / 100 == 2 && response.body.len() > 0;
    let response = if has_body { state.resized(&names, response) } else { response };
    let fault = if has_body { state.take_body_fault(&names) } else { None };
    if role == Role::Cdn && response.status / 100 == 2 {
        state.expire_cdn_urls(&names);
    }
    (response, fault)
}

/// Which part of the API host a request is for.
#[derive(Clone, Copy, PartialEq)]
enum Route {
    /// `/api/{models,datasets,spaces}/<id>/…`: info, revision, tree.
    Api,
    /// `/[datasets/|spaces/]<id>/resolve/<rev>/<path>`.
    Resolve,
    /// `/api/resolve-cache/{models,datasets,spaces}/<id>/<commit>/<path>`: where the real Hub sends small files.
    ResolveCache,
}

impl State {
    /// The names a CDN request answers to for faults: its path and the repo paths of its content.
    fn cdn_names(&self, path: &str) -> Vec<String> {
        let sha = path.strip_prefix("/cdn/").unwrap_or_default();
        let mut names = vec![path.to_string()];
        names.extend(self.blobs().filter(|b| b.lfs.as_deref() == Some(sha)).map(|b| format!("/{}", b.path)));
        names
    }

    fn blobs(&self) -> impl Iterator<Item = &Blob> {
        self.repos.iter().flat_map(|r| &r.commits).flat_map(|c| &c.blobs)
    }

    /// `/cdn/<sha256>`: LFS content by hash, for anyone holding the URL (no auth). In the real-Hub
    /// mode only with a valid, unexpired signature, and without any of the Hub's own headers.
    fn cdn_file(&self, segments: &[String], query: &str, head: &Head) -> Response<'_> {
        let blob = match segments {
            [cdn, sha] if cdn == "cdn" => self.blobs().find(|b| b.lfs.as_ref() == Some(sha)),
            _ => None,
        };
        let Some(blob) = blob else {
            return Response::error(404, None, "not found");
        };
        let sha = blob.lfs.as_ref().unwrap();
        match self.mode {
            Mode::Plain => content_response(blob, head).header("ETag", format!("\"{sha}\"")),
            Mode::Real => match cdn::check(&self.secret.lock().unwrap(), sha, query) {
                Ok(()) => content_response(blob, head),
                Err(why) => Response::new(403, Body::Owned(why.as_bytes().to_vec())),
            },
        }
    }

    /// Routes a request on the API host by matching a known repo id (or an old id of one) after
    /// the type prefix.
    fn api(&self, segments: &[String], raw_path: &str, query: &str, head: &Head) -> Response<'_> {
        let (route, kind, rest) = match segments {
            [api, cache, t, rest @ ..] if api == "api" && cache == "resolve-cache" => {
                (Route::ResolveCache, Kind::from_plural(t), rest)
            }
            [api, t, rest @ ..] if api == "api" => (Route::Api, Kind::from_plural(t), rest),
            [t, rest @ ..] if t == "datasets" || t == "spaces" => (Route::Resolve, Kind::from_plural(t), rest),
            rest => (Route::Resolve, Some(Kind::Model), rest),
        };
        let Some((repo, asked, tail)) = kind.and_then(|kind| self.find(kind, rest)) else {
            return if route != Route::Resolve || rest.iter().any(|s| s == "resolve") {
                Response::error(404, Some("RepoNotFound"), "Repository not found")
            } else {
                Response::error(404, None, "not found")
            };
        };
        if asked != repo.id {
            // Renamed: the same URL with the new id, on the same host.
            let before = segments.len() - rest.len();
            let raw: Vec<&str> = raw_path.split('/').skip(1).collect();
            let after = &raw[before + asked.split('/').count()..];
            let path = [&raw[..before], &[repo.id.as_str()], after].concat().join("/");
            let q = if query.is_empty() { String::new() } else { format!("?{query}") };
            return Response::redirect(307, format!("/{path}{q}"));
        }
        if let Some(denied) = self.denied(repo, head) {
            return denied;
        }
        let rev_or_404 = |rev: &str| {
            repo.commit(rev)
                .ok_or_else(|| Response::error(404, Some("RevisionNotFound"), &format!("Invalid rev id: {rev}")))
        };
        let result = match (route, tail) {
            (Route::Api, []) => rev_or_404("main").map(|c| self.info(repo, c)),
            (Route::Api, [r, rev]) if r == "revision" => rev_or_404(rev).map(|c| self.info(repo, c)),
            (Route::Api, [r]) if r == "refs" => Ok(Self::refs(repo, query)),
            (Route::Api, [t, rev, path @ ..]) if t == "tree" => rev_or_404(rev).map(|c| {
                if path.is_empty() && self.slash_redirect.load(Ordering::SeqCst) {
                    let q = if query.is_empty() { String::new() } else { format!("?{query}") };
                    return Response::redirect(307, format!("{}{raw_path}/{q}", self.endpoint));
                }
                self.tree(c, &path.join("/"), raw_path, query)
            }),
            (Route::Resolve, [r, rev, path @ ..]) if r == "resolve" => {
                rev_or_404(rev).map(|c| self.resolve(repo, c, &path.join("/"), head))
            }
            (Route::ResolveCache, [sha, path @ ..]) => match repo.commits.iter().find(|c| &c.sha == sha) {
                Some(c) => Ok(self.resolve_cache(c, &path.join("/"), head)),
                None => Ok(Response::error(404, None, "not found")),
            },
            _ => Ok(Response::error(404, None, "not found")),
        };
        result.unwrap_or_else(|e| e)
    }

    /// The repo whose id, or one of whose old ids, starts `rest` (the longest such id), with the
    /// id as asked and what follows it.
    fn find<'s, 'r>(&'s self, kind: Kind, rest: &'r [String]) -> Option<(&'s Served, &'s str, &'r [String])> {
        let ids = self.repos.iter().filter(|r| r.kind == kind).flat_map(|r| {
            std::iter::once(r.id.as_str()).chain(r.old_ids.iter().map(String::as_str)).map(move |id| (r, id))
        });
        let starts = ids.filter(|(_, id)| {
            let id: Vec<&str> = id.split('/').collect();
            rest.get(..id.len()).is_some_and(|prefix| prefix.iter().zip(&id).all(|(a, b)| a == b))
        });
        let (repo, id) = starts.max_by_key(|(_, id)| id.split('/').count())?;
        Some((repo, id, &rest[id.split('/').count()..]))
    }

    /// The refusal a gated repo (or, on the real Hub, an unknown token) gets, if any. The real Hub
    /// tells a missing or invalid token (401) from a valid one without access (403).
    fn denied(&self, repo: &Served, head: &Head) -> Option<Response<'static>> {
        let given = head.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
        let known = |t: &str| t == OTHER_USER_TOKEN || self.repos.iter().any(|r| r.token.as_deref() == Some(t));
        if self.mode == Mode::Real && given.is_some_and(|t| !known(t)) {
            return Some(Response::error(401, None, "Invalid credentials in Authorization header"));
        }
        let token = repo.token.as_ref()?;
        let what = format!("{} {}", repo.kind.singular(), repo.id);
        match given {
            None => {
                let msg = format!(
                    "Cannot access gated repo. Access to {what} is restricted. You must have access to it and be \
                     authenticated to access it. Please log in."
                );
                Some(Response::error(401, Some("GatedRepo"), &msg))
            }
            Some(t) if t != token => {
                let msg = format!(
                    "Access to {what} is restricted and you are not in the authorized list. Visit {}/{}{} to ask \
                     for access.",
                    self.endpoint,
                    repo.kind.url_prefix(),
                    repo.id
                );
                Some(Response::error(403, Some("GatedRepo"), &msg))
            }
            Some(_) => None,
        }
    }

    fn info(&self, repo: &Served, commit: &ServedCommit) -> Response<'_> {
        let siblings: Vec<Value> = commit.blobs.iter().map(|b| json!({"rfilename": b.path})).collect();
        let gated = if repo.token.is_some() { json!("manual") } else { json!(false) };
        Response::json(&json!({"id": repo.id, "sha": commit.sha, "gated": gated, "siblings": siblings}))
    }

    /// The refs as the Hub lists them. A fixture's ref is a pull request (`refs/pr/N`, listed only with
    /// `include_prs=1`), a conversion (`refs/convert/NAME`), a tag when its name is `v` and a digit, else a
    /// branch.
    fn refs(repo: &Served, query: &str) -> Response<'static> {
        let mut lists: [Vec<Value>; 4] = Default::default();
        for (name, sha) in repo.refs.lock().unwrap().iter() {
            let (list, short, full) = if let Some(n) = name.strip_prefix("refs/pr/") {
                (3, n.to_owned(), name.clone())
            } else if let Some(n) = name.strip_prefix("refs/convert/") {
                (2, n.to_owned(), name.clone())
            } else if name.starts_with('v') && name[1..].starts_with(|c: char| c.is_ascii_digit()) {
                (1, name.clone(), format!("refs/tags/{name}"))
            } else {
                (0, name.clone(), format!("refs/heads/{name}"))
            };
            lists[list].push(json!({"name": short, "ref": full, "targetCommit": sha}));
        }
        let [branches, tags, converts, prs] = lists;
        let mut body = json!({"branches": branches, "converts": converts, "tags": tags});
        if query.split('&').any(|p| p == "include_prs=1") {
            body["pullRequests"] = Value::Array(prs);
        }
        Response::json(&body)
    }

    /// One page of the listing under `dir` (all of it when `recursive`), `Link` to the next page. The
    /// cursor is an offset in the plain mode; on the real Hub it is opaque.
    fn tree(&self, commit: &ServedCommit, dir: &str, raw_path: &str, query: &str) -> Response<'_> {
        let params: Vec<(&str, &str)> =
            query.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, ""))).collect();
        let param = |name| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let recursive = param("recursive").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let dir = dir.trim_end_matches('/');
        let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
        // The tree is sorted by path, so everything under a folder is one run of it, found by bisection:
        // a listing of many pages costs the server a page's work per page.
        let filtered: Vec<(String, Value)>;
        let selected: &[(String, Value)] = if recursive {
            let start = commit.tree.partition_point(|(p, _)| *p < prefix);
            let len = commit.tree[start..].partition_point(|(p, _)| p.starts_with(&prefix));
            &commit.tree[start..start + len]
        } else {
            filtered = commit
                .tree
                .iter()
                .filter(|(p, _)| p.strip_prefix(&prefix).is_some_and(|rest| !rest.contains('/')))
                .cloned()
                .collect();
            &filtered
        };
        if selected.is_empty() && !dir.is_empty() {
            return Response::error(404, Some("EntryNotFound"), &format!("{dir} does not exist"));
        }
        let start = match (self.mode, param("cursor")) {
            (_, None) => 0,
            (Mode::Plain, Some(c)) => c.parse().unwrap_or(usize::MAX),
            (Mode::Real, Some(c)) => {
                let first = unhex(c).unwrap_or_default();
                let at = selected.partition_point(|(p, _)| p.as_bytes() < first.as_slice());
                if selected.get(at).is_some_and(|(p, _)| p.as_bytes() == first) { at } else { usize::MAX }
            }
        };
        let end = selected.len().min(start.saturating_add(PAGE_SIZE));
        let page: Vec<&Value> = selected.get(start..end).unwrap_or_default().iter().map(|(_, v)| v).collect();
        let mut r = Response::json(&json!(page));
        if end >= selected.len() && self.link_loop.load(Ordering::SeqCst) {
            let first: Vec<String> =
                params.iter().filter(|(k, _)| *k != "cursor").map(|(k, v)| format!("{k}={v}")).collect();
            r = r.header("Link", format!("<{}{raw_path}?{}>; rel=\"next\"", self.endpoint, first.join("&")));
        } else if end < selected.len() {
            let cursor = match self.mode {
                Mode::Plain => end.to_string(),
                Mode::Real => hex(selected[end].0.as_bytes()),
            };
            let mut next: Vec<String> =
                params.iter().filter(|(k, _)| *k != "cursor").map(|(k, v)| format!("{k}={v}")).collect();
            next.push(format!("cursor={cursor}"));
            let url = format!("{}{raw_path}?{}", self.endpoint, next.join("&"));
            r = r.header("Link", format!("<{url}>; rel=\"next\""));
        }
        r
    }

    /// Plain mode: a regular file is served here; an LFS file redirects to the CDN, with the headers
    /// huggingface_hub needs on the redirect itself (it may not follow it during its HEAD). Real-Hub
    /// mode: a regular file redirects (relative, same host) to the resolve cache; an LFS file to a
    /// signed CDN URL, which only the redirect describes.
    fn resolve<'a>(&self, repo: &Served, commit: &'a ServedCommit, path: &str, head: &Head) -> Response<'a> {
        let Some(blob) = commit.blobs.iter().find(|b| b.path == path) else {
            return Response::error(404, Some("EntryNotFound"), &format!("{path} does not exist"))
                .header("X-Repo-Commit", commit.sha.clone());
        };
        let r = match (&blob.lfs, self.mode) {
            (Some(sha), mode) => {
                let url = match mode {
                    Mode::Plain => format!("{}/cdn/{sha}?sig=x", self.cdn),
                    Mode::Real => cdn::signed_url(&self.cdn, &self.secret.lock().unwrap(), sha),
                };
                let r = Response::redirect(302, url)
                    .header("X-Linked-Etag", format!("\"{sha}\""))
                    .header("X-Linked-Size", blob.size.to_string());
                if mode == Mode::Real { r.header("X-Xet-Hash", xet_hash(sha)) } else { r }
            }
            (None, Mode::Plain) => content_response(blob, head),
            (None, Mode::Real) => Response::redirect(
                307,
                format!(
                    "/api/resolve-cache/{}/{}/{}/{}?download=true&etag=%22{}%22",
                    repo.kind.plural(),
                    repo.id,
                    commit.sha,
                    quote(path),
                    blob.oid
                ),
            ),
        };
        r.header("ETag", format!("\"{}\"", blob.oid)).header("X-Repo-Commit", commit.sha.clone())
    }

    /// A regular file at a commit, where the real Hub's resolve redirects to.
    fn resolve_cache<'a>(&self, commit: &'a ServedCommit, path: &str, head: &Head) -> Response<'a> {
        match commit.blobs.iter().find(|b| b.path == path && b.lfs.is_none()) {
            Some(blob) => content_response(blob, head)
                .header("ETag", format!("\"{}\"", blob.oid))
                .header("X-Repo-Commit", commit.sha.clone()),
            None => Response::error(404, None, "not found"),
        }
    }
}

/// 200 with the whole content, or 206/416 for a single `Range: bytes=` range.
fn content_response<'a>(blob: &'a Blob, head: &Head) -> Response<'a> {
    let size = blob.size;
    let whole = Response::new(200, Body::Content(&blob.content, 0..size));
    let r = match head.header("range").map(|r| parse_range(r, size)) {
        None | Some(None) => whole,
        Some(Some(Err(()))) => {
            Response::error(416, None, "range not satisfiable").header("Content-Range", format!("bytes */{size}"))
        }
        Some(Some(Ok((start, end)))) => Response::new(206, Body::Content(&blob.content, start..end))
            .header("Content-Range", format!("bytes {start}-{}/{size}", end - 1)),
    };
    r.header("Accept-Ranges", "bytes").header("Content-Type", "application/octet-stream")
}

/// `urllib.parse.quote` with its default `safe="/"`, as huggingface_hub quotes file names.
pub fn quote(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    s.len().is_multiple_of(2).then_some(())?;
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Stands in for the Xet hash the real Hub gives LFS files: 64 hex, not the content's sha256.
fn xet_hash(sha256: &str) -> String {
    sha256_hex(format!("xet:{sha256}").as_bytes())
}
