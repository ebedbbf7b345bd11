//! A Hub-compatible server on loopback for the tests: the API and file host on 127.0.0.1 and a "CDN"
//! on 127.0.0.2, so that cross-host redirects (and dropping `Authorization` on them) are real.
//!
//! It speaks just enough HTTP/1.1 (thread per connection, keep-alive, HEAD, single `Range`) to serve
//! the calls `huggingface_hub` and nix-hug make: revision info, the paginated recursive tree, and
//! `resolve` with a 302 to the CDN for LFS files. Every request is logged, and one-shot faults can
//! be injected to test retries, resume and verification.
#![allow(dead_code)]

pub mod fixtures;
pub mod tls;

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use sha2::Sha256;

/// Tree entries per page, as on the real Hub (without `expand`).
const PAGE_SIZE: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Model,
    Dataset,
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
    /// API on 127.0.0.1:0, CDN on 127.0.0.2:0. Hashes every file up front.
    pub fn start(repos: Vec<Repo>) -> Hub {
        Hub::start_behind(repos, |addr| format!("http://{addr}"))
    }

    /// `start` behind a front such as `tls::HttpsHub`: `url` gives the URL at which each of its addresses
    /// is reached, which its redirects and links then name.
    pub fn start_behind(repos: Vec<Repo>, url: impl Fn(SocketAddr) -> String) -> Hub {
        let api = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1");
        let cdn = TcpListener::bind("127.0.0.2:0").expect("binding 127.0.0.2");
        let addrs = [api.local_addr().unwrap(), cdn.local_addr().unwrap()];
        let state = Arc::new(State {
            repos: repos.into_iter().map(Served::new).collect(),
            endpoint: url(addrs[0]),
            cdn: url(addrs[1]),
            log: Mutex::default(),
            faults: Mutex::default(),
            slash_redirect: AtomicBool::new(false),
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

    /// Answer `tree/<rev>` with a 307 to `tree/<rev>/`, as some mirrors do.
    pub fn set_tree_slash_redirect(&self, on: bool) {
        self.state.slash_redirect.store(on, Ordering::SeqCst);
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
    endpoint: String,
    cdn: String,
    log: Mutex<Vec<Request>>,
    faults: Mutex<Vec<Fault>>,
    slash_redirect: AtomicBool,
    stop: AtomicBool,
    /// Open connections, so that Drop can close keep-alive ones blocked in a read.
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
}

/// A repo with what the server derives from its files.
struct Served {
    kind: Kind,
    id: String,
    refs: Vec<(String, String)>,
    token: Option<String>,
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
    fn new(repo: Repo) -> Served {
        let commits = repo
            .commits
            .into_iter()
            .map(|c| {
                let mut blobs: Vec<Blob> = c.files.into_iter().map(Blob::new).collect();
                blobs.sort_by(|a, b| a.path.cmp(&b.path));
                let tree = tree_entries(&c.sha, &blobs);
                ServedCommit { sha: c.sha, blobs, tree }
            })
            .collect();
        Served { kind: repo.kind, id: repo.id, refs: repo.refs, token: repo.token, commits }
    }

    /// A ref name or a full commit sha.
    fn commit(&self, rev: &str) -> Option<&ServedCommit> {
        let sha = self.refs.iter().find(|(name, _)| name == rev).map_or(rev, |(_, sha)| sha);
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

fn tree_entries(commit: &str, blobs: &[Blob]) -> Vec<(String, Value)> {
    let mut entries = Vec::new();
    let mut dirs = std::collections::BTreeSet::new();
    for b in blobs {
        let mut entry = json!({"type": "file", "oid": b.oid, "size": b.size, "path": b.path});
        if let Some(sha256) = &b.lfs {
            let pointer_size = lfs_pointer(sha256, b.size).len();
            entry["lfs"] = json!({"oid": sha256, "size": b.size, "pointerSize": pointer_size});
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

/// A parsed request head.
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    keep_alive: bool,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn serve_connection(state: &State, stream: TcpStream, role: Role, host: &str) -> io::Result<()> {
    // Headers and body go out in separate writes: without this, Nagle and delayed ACKs stall
    // every keep-alive request by tens of milliseconds.
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream);
    while let Some(head) = read_head(&mut reader)? {
        state.log.lock().unwrap().push(Request {
            host: host.to_string(),
            method: head.method.clone(),
            target: head.target.clone(),
            authorization: head.header("authorization").map(String::from),
            range: head.header("range").map(String::from),
        });
        let out = reader.get_ref();
        if !respond(state, role, &head, out)? || !head.keep_alive {
            break;
        }
    }
    Ok(())
}

/// Reads the request line and headers (and skips any body); `None` at a clean end of stream.
fn read_head(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Head>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(io::Error::other("bad request line"));
    };
    let mut head = Head {
        method: method.to_string(),
        target: target.to_string(),
        headers: Vec::new(),
        keep_alive: version == "HTTP/1.1",
    };
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            head.headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    if head.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) {
        head.keep_alive = false;
    }
    let body_len: u64 = head.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    io::copy(&mut reader.take(body_len), &mut io::sink())?;
    Ok(Some(head))
}

/// A response about to be written.
struct Response<'a> {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body<'a>,
}

enum Body<'a> {
    Owned(Vec<u8>),
    /// `range` of a file's content.
    Content(&'a Content, std::ops::Range<u64>),
}

impl Body<'_> {
    fn len(&self) -> u64 {
        match self {
            Body::Owned(v) => v.len() as u64,
            Body::Content(_, r) => r.end - r.start,
        }
    }
}

impl<'a> Response<'a> {
    fn new(status: u16, body: Body<'a>) -> Self {
        Response { status, headers: Vec::new(), body }
    }

    fn json(value: &Value) -> Self {
        Response::new(200, Body::Owned(value.to_string().into_bytes())).header("Content-Type", "application/json")
    }

    /// An error as the Hub sends it: `X-Error-Code` (read by huggingface_hub) and a JSON body.
    fn error(status: u16, code: Option<&str>, message: &str) -> Self {
        let mut r = Response::json(&json!({ "error": message }));
        r.status = status;
        if let Some(code) = code {
            r = r.header("X-Error-Code", code);
        }
        r
    }

    fn redirect(status: u16, location: String) -> Self {
        Response::new(status, Body::Owned(Vec::new())).header("Location", location)
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

enum BodyFault {
    Drop,
    Corrupt,
}

/// Answers one request; `Ok(false)` when the connection must be closed.
fn respond(state: &State, role: Role, head: &Head, out: &TcpStream) -> io::Result<bool> {
    let (raw_path, query) = head.target.split_once('?').unwrap_or((&head.target, ""));
    let Some(segments) = raw_path.split('/').skip(1).map(percent_decode).collect::<Option<Vec<_>>>() else {
        return write_response(out, head, Response::error(400, None, "bad percent-encoding"), None);
    };
    let path = format!("/{}", segments.join("/"));
    let names = match role {
        Role::Api => vec![path.clone()],
        Role::Cdn => state.cdn_names(&path),
    };
    let response = if let Some(status) = state.take_status_fault(&names) {
        status
    } else if head.method != "GET" && head.method != "HEAD" {
        Response::error(405, None, "method not allowed")
    } else if role == Role::Cdn {
        state.cdn_file(&segments, head)
    } else {
        state.api(&segments, raw_path, query, head)
    };
    let has_body = head.method == "GET" && response.status / 100 == 2 && response.body.len() > 0;
    let fault = if has_body { state.take_body_fault(&names) } else { None };
    write_response(out, head, response, fault)
}

impl State {
    fn take_status_fault(&self, names: &[String]) -> Option<Response<'static>> {
        let mut faults = self.faults.lock().unwrap();
        let i = faults.iter().position(|f| match f {
            Fault::Status { path, .. } => matches(names, path),
            _ => false,
        })?;
        let Fault::Status { status, retry_after, .. } = faults.remove(i) else { unreachable!() };
        let mut r = Response::error(status, None, "injected fault");
        if let Some(secs) = retry_after {
            r = r.header("Retry-After", secs.to_string());
        }
        Some(r)
    }

    fn take_body_fault(&self, names: &[String]) -> Option<BodyFault> {
        let mut faults = self.faults.lock().unwrap();
        let i = faults.iter().position(|f| match f {
            Fault::DropMidBody { path } | Fault::CorruptByte { path } | Fault::CorruptAlways { path } => {
                matches(names, path)
            }
            Fault::Status { .. } => false,
        })?;
        Some(match &faults[i] {
            Fault::CorruptAlways { .. } => BodyFault::Corrupt,
            _ => match faults.remove(i) {
                Fault::DropMidBody { .. } => BodyFault::Drop,
                _ => BodyFault::Corrupt,
            },
        })
    }

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

    /// `/cdn/<sha256>`: LFS content by hash, as a signed CDN URL would serve it (no auth).
    fn cdn_file(&self, segments: &[String], head: &Head) -> Response<'_> {
        let blob = match segments {
            [cdn, sha] if cdn == "cdn" => self.blobs().find(|b| b.lfs.as_ref() == Some(sha)),
            _ => None,
        };
        match blob {
            Some(b) => content_response(b, head).header("ETag", format!("\"{}\"", b.lfs.as_ref().unwrap())),
            None => Response::error(404, None, "not found"),
        }
    }

    /// Routes a request on the API host by matching a known repo id after the type prefix.
    fn api(&self, segments: &[String], raw_path: &str, query: &str, head: &Head) -> Response<'_> {
        let (api, kind, rest) = match segments {
            [api, t, rest @ ..] if api == "api" && t == "models" => (true, Kind::Model, rest),
            [api, t, rest @ ..] if api == "api" && t == "datasets" => (true, Kind::Dataset, rest),
            [t, rest @ ..] if t == "datasets" => (false, Kind::Dataset, rest),
            rest => (false, Kind::Model, rest),
        };
        let found = self.repos.iter().filter(|r| r.kind == kind).find_map(|r| {
            let id: Vec<&str> = r.id.split('/').collect();
            let prefix = rest.get(..id.len())?;
            prefix.iter().zip(&id).all(|(a, b)| a == b).then(|| (r, &rest[id.len()..]))
        });
        let Some((repo, tail)) = found else {
            return if api || rest.iter().any(|s| s == "resolve") {
                Response::error(404, Some("RepoNotFound"), "Repository not found")
            } else {
                Response::error(404, None, "not found")
            };
        };
        if let Some(token) = &repo.token {
            let given = head.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
            match given {
                None => {
                    let msg = format!("Access to {} is restricted. You must be authenticated.", repo.id);
                    return Response::error(401, Some("GatedRepo"), &msg);
                }
                Some(t) if t != token => {
                    let msg = format!("Access to {} is restricted and you are not in the authorized list.", repo.id);
                    return Response::error(403, Some("GatedRepo"), &msg);
                }
                Some(_) => {}
            }
        }
        let rev_or_404 = |rev: &str| {
            repo.commit(rev)
                .ok_or_else(|| Response::error(404, Some("RevisionNotFound"), &format!("Invalid rev id: {rev}")))
        };
        let result = match (api, tail) {
            (true, []) => rev_or_404("main").map(|c| self.info(repo, c)),
            (true, [r, rev]) if r == "revision" => rev_or_404(rev).map(|c| self.info(repo, c)),
            (true, [t, rev, path @ ..]) if t == "tree" => rev_or_404(rev).map(|c| {
                if path.is_empty() && self.slash_redirect.load(Ordering::SeqCst) {
                    let q = if query.is_empty() { String::new() } else { format!("?{query}") };
                    return Response::redirect(307, format!("{}{raw_path}/{q}", self.endpoint));
                }
                self.tree(c, &path.join("/"), raw_path, query)
            }),
            (false, [r, rev, path @ ..]) if r == "resolve" => {
                rev_or_404(rev).map(|c| self.resolve(c, &path.join("/"), head))
            }
            _ => Ok(Response::error(404, None, "not found")),
        };
        result.unwrap_or_else(|e| e)
    }

    fn info(&self, repo: &Served, commit: &ServedCommit) -> Response<'_> {
        let siblings: Vec<Value> = commit.blobs.iter().map(|b| json!({"rfilename": b.path})).collect();
        let gated = if repo.token.is_some() { json!("manual") } else { json!(false) };
        Response::json(&json!({"id": repo.id, "sha": commit.sha, "gated": gated, "siblings": siblings}))
    }

    /// One page of the listing under `dir` (all of it when `recursive`), `Link` to the next page.
    fn tree(&self, commit: &ServedCommit, dir: &str, raw_path: &str, query: &str) -> Response<'_> {
        let params: Vec<(&str, &str)> =
            query.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, ""))).collect();
        let param = |name| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let recursive = param("recursive").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let cursor: usize = param("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
        let dir = dir.trim_end_matches('/');
        let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
        let selected: Vec<&Value> = commit
            .tree
            .iter()
            .filter(|(p, _)| p.strip_prefix(&prefix).is_some_and(|rest| recursive || !rest.contains('/')))
            .map(|(_, v)| v)
            .collect();
        if selected.is_empty() && !dir.is_empty() {
            return Response::error(404, Some("EntryNotFound"), &format!("{dir} does not exist"));
        }
        let end = selected.len().min(cursor + PAGE_SIZE);
        let page = selected.get(cursor..end).unwrap_or_default();
        let mut r = Response::json(&json!(page));
        if end < selected.len() {
            let mut next: Vec<String> =
                params.iter().filter(|(k, _)| *k != "cursor").map(|(k, v)| format!("{k}={v}")).collect();
            next.push(format!("cursor={end}"));
            let url = format!("{}{raw_path}?{}", self.endpoint, next.join("&"));
            r = r.header("Link", format!("<{url}>; rel=\"next\""));
        }
        r
    }

    /// A regular file is served here; an LFS file redirects to the CDN, with the headers
    /// huggingface_hub needs on the redirect itself (it may not follow it during its HEAD).
    fn resolve<'a>(&self, commit: &'a ServedCommit, path: &str, head: &Head) -> Response<'a> {
        let Some(blob) = commit.blobs.iter().find(|b| b.path == path) else {
            return Response::error(404, Some("EntryNotFound"), &format!("{path} does not exist"))
                .header("X-Repo-Commit", commit.sha.clone());
        };
        let r = match &blob.lfs {
            Some(sha) => Response::redirect(302, format!("{}/cdn/{sha}?sig=x", self.cdn))
                .header("X-Linked-Etag", format!("\"{sha}\""))
                .header("X-Linked-Size", blob.size.to_string()),
            None => content_response(blob, head),
        };
        r.header("ETag", format!("\"{}\"", blob.oid)).header("X-Repo-Commit", commit.sha.clone())
    }
}

/// Whole path segments only, as `Path::ends_with`: "config.json" is not "tokenizer_config.json".
fn matches(names: &[String], suffix: &str) -> bool {
    let suffix = format!("/{}", suffix.trim_start_matches('/'));
    names.iter().any(|n| n.ends_with(&suffix))
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

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` as a half-open range; `None` for anything else (served
/// whole, as RFC 9110 allows), `Err` when unsatisfiable.
fn parse_range(header: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let (first, last) = header.strip_prefix("bytes=")?.split_once('-')?;
    let (start, end) = match (first.trim(), last.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.saturating_sub(n), size)
        }
        (a, "") => (a.parse().ok()?, size),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.saturating_add(1).min(size)),
    };
    Some(if start < end { Ok((start, end)) } else { Err(()) })
}

/// Percent-decodes one path segment as UTF-8 (`+` stays literal).
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = (bytes.next()? as char).to_digit(16)?;
            let lo = (bytes.next()? as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Writes the response (no body for HEAD), applying a body fault; `Ok(false)` if the connection
/// must be closed afterwards.
fn write_response(mut out: &TcpStream, head: &Head, r: Response, fault: Option<BodyFault>) -> io::Result<bool> {
    let len = r.body.len();
    let mut text = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    for (name, value) in &r.headers {
        text += &format!("{name}: {value}\r\n");
    }
    text += &format!("Content-Length: {len}\r\n\r\n");
    out.write_all(text.as_bytes())?;
    if head.method == "HEAD" {
        return Ok(true);
    }
    match fault {
        None => write_part(out, &r.body, 0..len)?,
        Some(BodyFault::Drop) => {
            write_part(out, &r.body, 0..len / 2)?;
            let _ = out.shutdown(Shutdown::Both);
            return Ok(false);
        }
        Some(BodyFault::Corrupt) => {
            let k = len / 2;
            write_part(out, &r.body, 0..k)?;
            let mut byte = [0];
            read_part(&r.body, k, &mut byte)?;
            out.write_all(&[byte[0] ^ 0xff])?;
            write_part(out, &r.body, k + 1..len)?;
        }
    }
    Ok(true)
}

/// Writes bytes `range` of the body. File content goes through a 1 MiB buffer: std's `io::copy`
/// no longer uses sendfile from a file to a socket and would copy in 8 KiB steps.
fn write_part(mut out: &TcpStream, body: &Body, range: std::ops::Range<u64>) -> io::Result<()> {
    match body {
        Body::Owned(v) => out.write_all(&v[range.start as usize..range.end as usize]),
        Body::Content(Content::Bytes(b), r) => {
            out.write_all(&b[(r.start + range.start) as usize..(r.start + range.end) as usize])
        }
        Body::Content(Content::File(p), r) => {
            let mut f = std::fs::File::open(p)?;
            f.seek(SeekFrom::Start(r.start + range.start))?;
            let mut left = range.end - range.start;
            let mut buf = vec![0; left.min(1 << 20) as usize];
            while left > 0 {
                let n = f.read(&mut buf[..left.min(1 << 20) as usize])?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                out.write_all(&buf[..n])?;
                left -= n as u64;
            }
            Ok(())
        }
    }
}

fn read_part(body: &Body, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    match body {
        Body::Owned(v) => buf.copy_from_slice(&v[offset as usize..][..buf.len()]),
        Body::Content(Content::Bytes(b), r) => buf.copy_from_slice(&b[(r.start + offset) as usize..][..buf.len()]),
        Body::Content(Content::File(p), r) => {
            let mut f = std::fs::File::open(p)?;
            f.seek(SeekFrom::Start(r.start + offset))?;
            f.read_exact(buf)?;
        }
    }
    Ok(())
}
