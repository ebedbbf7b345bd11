/*!
The Hub client: endpoint and token, revision lookup, the paginated recursive tree listing, and the HTTP
requests the download engine makes. It decides where the token may go (only to the endpoint's own origin,
never to a redirect target elsewhere) and turns the Hub's answers (401/403, `X-Error-Code`, 404, 429, 5xx)
into errors that say what to do. Never writes files, never knows the cache layout.
*/

use crate::error::{Context, Error, Kind, Result};
use crate::repo::Repo;
use crate::{debug, retry};
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use ureq::http::{HeaderMap, Response};

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
const MAX_REDIRECTS: usize = 10;
/// Bound on a JSON answer; a tree page of 1,000 entries is well under 1 MiB.
const MAX_JSON: u64 = 256 << 20;

/// Where [`Token::from_env`] looks, for messages.
const TOKEN_SOURCES: &str = "HF_TOKEN, HUGGING_FACE_HUB_TOKEN or the file $HF_TOKEN_PATH (default $HF_HOME/token)";

/// A Hub access token, and where it was read. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Token {
    secret: String,
    /// `HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN` or the file's path; `None` for a value given in code.
    source: Option<String>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Token {
    /// The same sources, in the same order, as `huggingface_hub`: `HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN`,
    /// then the file `$HF_TOKEN_PATH` or `$HF_HOME/token` (default `~/.cache/huggingface/token`).
    pub fn from_env() -> Option<Token> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        for name in ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"] {
            if let Some(t) = var(name) {
                return Token::clean(&t, Some(name.to_owned()));
            }
        }
        let path = var("HF_TOKEN_PATH").map(PathBuf::from).or_else(|| Some(hf_home()?.join("token")))?;
        Token::clean(&std::fs::read_to_string(&path).ok()?, Some(path.display().to_string()))
    }

    fn clean(raw: &str, source: Option<String>) -> Option<Token> {
        let t: String = raw.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        let t = t.trim();
        (!t.is_empty()).then(|| Token { secret: t.to_owned(), source })
    }

    /// A token given explicitly, cleaned like one read from a file; none if it is blank.
    pub fn from_value(raw: &str) -> Option<Token> {
        Token::clean(raw, None)
    }

    /// `the token` or `the token from HF_TOKEN`, for messages.
    fn described(&self) -> String {
        self.source.as_ref().map_or_else(|| "the token".to_owned(), |s| format!("the token from {s}"))
    }
}

/// `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`, as `huggingface_hub` has it.
pub fn hf_home() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("HF_HOME")
        .or_else(|| var("XDG_CACHE_HOME").map(|c| c.join("huggingface")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/huggingface")))
}

/// What the Hub says a ref points at.
#[derive(Debug, Deserialize)]
pub struct Revision {
    /// The repo's id now: another one than asked when the repo was renamed (or the id is a legacy
    /// alias such as `gpt2`), since the Hub redirects old ids.
    pub id: Option<String>,
    #[serde(rename = "sha")]
    pub commit: String,
}

/// One file of the tree listing at a commit.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Entry {
    pub path: String,
    pub size: u64,
    /// Git blob id: of the content for regular files, of the pointer for LFS files.
    pub oid: String,
    pub lfs: Option<Lfs>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Lfs {
    /// sha256 of the content.
    pub oid: String,
    pub size: u64,
}

impl Entry {
    /// The name of its blob in the cache: what `huggingface_hub` takes from the ETag.
    pub fn etag(&self) -> &str {
        self.lfs.as_ref().map_or(&self.oid, |l| &l.oid)
    }
}

/// `/api/{type}s/<id>/refs`: every kind of ref, each with what a user passes as `--ref`.
#[derive(Debug, Default, Deserialize)]
pub struct Refs {
    #[serde(default)]
    pub branches: Vec<GitRef>,
    #[serde(default)]
    pub tags: Vec<GitRef>,
    #[serde(default)]
    pub converts: Vec<GitRef>,
    #[serde(default, rename = "pullRequests")]
    pub pull_requests: Vec<GitRef>,
}

#[derive(Debug, Deserialize)]
pub struct GitRef {
    /// `main`, `v1.0`; for conversions and pull requests the short name (`parquet`, `1`).
    pub name: String,
    /// `refs/heads/main`, `refs/tags/v1.0`, `refs/convert/parquet`, `refs/pr/1`.
    #[serde(rename = "ref")]
    pub full: String,
    #[serde(rename = "targetCommit")]
    pub commit: String,
}

impl GitRef {
    /// What `--ref` takes for it: the name of a branch or tag, the full ref of the others.
    pub fn as_ref_arg(&self) -> &str {
        if self.full.starts_with("refs/heads/") || self.full.starts_with("refs/tags/") {
            &self.name
        } else {
            &self.full
        }
    }
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    oid: String,
    lfs: Option<Lfs>,
}

/// How long a download may go without receiving a byte before the attempt is given up (and retried, a
/// few times): `HF_HUB_DOWNLOAD_TIMEOUT` seconds, as huggingface_hub reads it, default 10.
pub fn download_timeout() -> Result<Duration> {
    let Some(value) = std::env::var("HF_HUB_DOWNLOAD_TIMEOUT").ok().filter(|v| !v.trim().is_empty()) else {
        return Ok(Duration::from_secs(10));
    };
    value.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s > 0.0).map(Duration::from_secs_f64).ok_or_else(
        || crate::error::usage(format!("HF_HUB_DOWNLOAD_TIMEOUT={value}: expected a number of seconds, such as 10")),
    )
}

/// A Hub endpoint is `https://host[:port]` (or `http://`, for a mirror on the local network).
pub fn check_endpoint(endpoint: &str) -> Result<()> {
    let endpoint = endpoint.trim_end_matches('/');
    if !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        || origin(endpoint).len() <= "https://".len()
    {
        return Err(crate::error::usage(format!("invalid Hub endpoint {endpoint:?}: expected https://host[:port]")));
    }
    Ok(())
}

pub struct Hub {
    endpoint: String,
    token: Option<Token>,
    agent: ureq::Agent,
}

impl Hub {
    pub fn new(endpoint: &str, token: Option<Token>) -> Result<Hub> {
        let endpoint = endpoint.trim_end_matches('/');
        check_endpoint(endpoint)?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("nix-hug/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_per_read(Some(download_timeout()?))
            .max_idle_connections_per_host(64)
            .tls_config(crate::tls::config()?)
            .build()
            .new_agent();
        Ok(Hub { endpoint: endpoint.to_owned(), token, agent })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The commit a ref (branch, tag, `refs/pr/N`, or a commit) points at.
    pub fn revision(&self, repo: &Repo, rev: &str) -> Result<Revision> {
        let url = format!("{}/api/{}/{repo}/revision/{}", self.endpoint, repo.kind.plural(), quote(rev, false));
        let info: Revision = retry::retrying(&format!("resolving {rev:?}"), |_| self.get_json(&url, repo))
            .with_context(|| format!("resolving {rev:?}"))?;
        if !crate::repo::is_commit(&info.commit) {
            return Err(Error::new(
                Kind::Integrity,
                format!("the Hub answered {:?}, not a commit id, for {rev:?}", info.commit),
            ));
        }
        Ok(info)
    }

    /// The branches, tags, conversions and pull requests of the repo, with the commits they point at.
    pub fn refs(&self, repo: &Repo) -> Result<Refs> {
        let url = format!("{}/api/{}/{repo}/refs?include_prs=1", self.endpoint, repo.kind.plural());
        retry::retrying("listing refs", |_| self.get_json(&url, repo)).context("listing refs")
    }

    /// Every file of the repo at `commit`, following `Link: <…>; rel="next"` pages.
    pub fn tree(&self, repo: &Repo, commit: &str) -> Result<Vec<Entry>> {
        let mut next =
            Some(format!("{}/api/{}/{repo}/tree/{commit}?recursive=true", self.endpoint, repo.kind.plural()));
        let mut files = Vec::new();
        let mut read = std::collections::HashSet::new();
        while let Some(url) = next.take() {
            if !read.insert(url.clone()) {
                let msg = format!("the tree listing links back to a page it already sent ({})", redact(&url));
                return Err(Error::new(Kind::Integrity, msg));
            }
            let (page, link): (Vec<RawEntry>, _) = retry::retrying("listing files", |_| {
                let (url, mut resp) = self.get(&url, None)?;
                self.check_status(&resp, repo, &url)?;
                let link = next_link(resp.headers()).map(|l| resolve(&url, &l)).transpose()?;
                Ok((read_json(&mut resp, &url)?, link))
            })
            .context("listing files")?;
            files.extend(page.into_iter().filter(|e| e.kind == "file").map(|e| Entry {
                path: e.path,
                size: e.size,
                oid: e.oid,
                lfs: e.lfs,
            }));
            next = link;
        }
        for e in &files {
            let bad = |what: &str, v: &str| {
                Error::new(Kind::Integrity, format!("tree listing: {:?} has an invalid {what} {v:?}", e.path))
            };
            if !is_hex(&e.oid, 40) {
                return Err(bad("oid", &e.oid));
            }
            if let Some(lfs) = &e.lfs {
                if !is_hex(&lfs.oid, 64) {
                    return Err(bad("lfs.oid", &lfs.oid));
                }
                if lfs.size != e.size {
                    return Err(bad("size", &e.size.to_string()));
                }
            }
        }
        Ok(files)
    }

    /// `{endpoint}/[datasets/|spaces/]org/name/resolve/<commit>/<path>`, percent-encoded as the Hub expects.
    pub fn resolve_url(&self, repo: &Repo, commit: &str, path: &str) -> String {
        format!("{}/{}{repo}/resolve/{commit}/{}", self.endpoint, repo.kind.url_prefix(), quote(path, true))
    }

    /// A GET (optionally ranged) that follows redirects itself so the token only goes to the endpoint.
    /// Returns the final URL with the response, so a caller can send further ranges straight there.
    /// A redirect back to a URL of the same chain ends it at once: that is a loop.
    pub fn get(&self, url: &str, range: Option<(u64, Option<u64>)>) -> Result<(String, Response<ureq::Body>)> {
        let mut chain = vec![url.to_owned()];
        while chain.len() <= MAX_REDIRECTS {
            let here = chain.last().unwrap();
            let resp = self.send("GET", here, range)?;
            let Some(loc) = location(&resp) else { return Ok((chain.pop().unwrap(), resp)) };
            let next = resolve(here, &loc)?;
            if chain.contains(&next) {
                let msg = if next == *here {
                    format!("{} redirects to itself", redact(here))
                } else {
                    format!("{} redirects back to {}: a redirect loop", redact(here), redact(&next))
                };
                return Err(Error::new(Kind::Network, msg));
            }
            chain.push(next);
        }
        Err(Error::new(Kind::Network, format!("more than {MAX_REDIRECTS} redirects from {}", redact(url))))
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str, repo: &Repo) -> Result<T> {
        let (final_url, mut resp) = self.get(url, None)?;
        self.check_status(&resp, repo, &final_url)?;
        read_json(&mut resp, &final_url)
    }

    /// Maps a Hub answer that is not a success to an error that says what to do. A gated repo
    /// answers 401 to a missing or refused token, 403 to a valid one without access.
    fn check_status(&self, resp: &Response<ureq::Body>, repo: &Repo, url: &str) -> Result<()> {
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let code = header(resp, "x-error-code").unwrap_or("");
        // The Hub also answers 401 for a repo that does not exist; these say the token is at fault.
        let refused = code == "GatedRepo"
            || header(resp, "x-error-message").is_some_and(|m| m.starts_with("Invalid credentials"));
        let token_help = "set HF_TOKEN (or log in with `hf auth login`) with a token that has access";
        let what = repo.kind.as_str();
        let err = match (status, code, &self.token) {
            (401, _, Some(token)) if refused => Error::new(
                Kind::Failed,
                format!("the Hub refused {} (invalid or expired): set a valid one", token.described()),
            ),
            (401, "GatedRepo", None) => Error::new(
                Kind::Failed,
                format!("{what} {repo} is gated and no token is set: set {TOKEN_SOURCES} to a token with access"),
            ),
            (_, "GatedRepo", token) => Error::new(
                Kind::Failed,
                format!(
                    "{what} {repo} is gated and {} has no access to it yet: request access at {}/{}{repo}",
                    token.as_ref().map_or_else(|| "the token".to_owned(), Token::described),
                    origin(url),
                    repo.kind.url_prefix()
                ),
            ),
            (_, "RevisionNotFound", _) => Error::new(Kind::NoSuchRevision, "no such branch, tag or commit"),
            (_, "EntryNotFound", _) => Error::new(Kind::NotFound, "no such file at this commit".to_owned()),
            (404 | 401, _, _) | (_, "RepoNotFound", _) => Error::new(
                Kind::NotFound,
                format!("{what} {repo} not found at {} (if it is private or gated, {token_help})", origin(url)),
            ),
            (403, _, _) => Error::new(Kind::Failed, format!("access to {what} {repo} denied (403): {token_help}")),
            _ => status_error(resp, url),
        };
        Err(err)
    }

    fn send(&self, method: &str, url: &str, range: Option<(u64, Option<u64>)>) -> Result<Response<ureq::Body>> {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        let authorized = self.token.is_some() && origin(url) == origin(&self.endpoint);
        if let (Some(token), true) = (&self.token, authorized) {
            req = req.header("Authorization", format!("Bearer {}", token.secret));
        }
        if let Some((start, end)) = range {
            req = req.header("Range", format!("bytes={start}-{}", end.map(|e| e.to_string()).unwrap_or_default()));
        }
        let req = req.body(()).map_err(|e| Error::new(Kind::Usage, format!("invalid URL {}: {e}", redact(url))))?;
        let resp = self.agent.run(req).map_err(|e| {
            debug!("{method} {} -> {e}", redact(url));
            transport_error(e, url)
        })?;
        debug!(
            "{method} {} -> {}{}",
            redact(url),
            resp.status().as_u16(),
            if authorized { " (with token)" } else { "" }
        );
        Ok(resp)
    }
}

/// Resolves a `Location` or `Link` target against the URL that sent it (RFC 3986, section 5), without
/// the fragment, which no server is sent.
fn resolve(base: &str, target: &str) -> Result<String> {
    use iri_string::format::ToDedicatedString;
    use iri_string::types::{UriAbsoluteStr, UriReferenceStr};
    let invalid = |_| Error::new(Kind::Network, format!("{} sent an invalid URL {:?}", redact(base), redact(target)));
    let (base, target) = (UriAbsoluteStr::new(base).map_err(invalid)?, UriReferenceStr::new(target).map_err(invalid)?);
    Ok(target.resolve_against(base).to_dedicated_string().to_absolute().to_string())
}

fn read_json<T: serde::de::DeserializeOwned>(resp: &mut Response<ureq::Body>, url: &str) -> Result<T> {
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_JSON)
        .read_to_vec()
        .map_err(|e| Error::transient(format!("reading {}: {e}", redact(url)), Duration::ZERO))?;
    serde_json::from_slice(&body)
        .map_err(|e| Error::new(Kind::Network, format!("unexpected answer from {}: {e}", redact(url))))
}

fn location(resp: &Response<ureq::Body>) -> Option<String> {
    if !resp.status().is_redirection() {
        return None;
    }
    resp.headers().get("location")?.to_str().ok().map(str::to_owned)
}

/// `Link: <https://…?cursor=…>; rel="next"`.
fn next_link(headers: &HeaderMap) -> Option<String> {
    headers.get_all("link").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).find_map(|part| {
        let (url, params) = part.trim().split_once(';')?;
        let is_next = params.split(';').any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        is_next.then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

fn header<'a>(resp: &'a Response<ureq::Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The error for an answer that is not a success, when there is no more specific advice to give.
pub fn status_error(resp: &Response<ureq::Body>, url: &str) -> Error {
    let status = resp.status().as_u16();
    let mut msg = format!("{} answered {status}", redact(url));
    match status {
        408 | 429 | 500..=599 => {
            let seconds = |v: &str| v.trim().parse().ok().map(Duration::from_secs);
            let mut after = header(resp, "retry-after").and_then(seconds);
            // Over its quota the Hub may send no `Retry-After`, only when the window resets.
            if status == 429
                && let Some(reset) = header(resp, "ratelimit").and_then(rate_limit_reset)
            {
                msg += &format!(": rate limited, the Hub's quota resets in {}s", reset.as_secs());
                after = after.max(Some(reset));
            }
            Error::transient(msg, after.unwrap_or_default())
        }
        // A file's request is refused so when nothing was listed first (a lock entry's files).
        401 | 403 => Error::new(
            Kind::Failed,
            format!("{msg}: a private or gated repository needs a token with access ({TOKEN_SOURCES})"),
        ),
        404 => Error::new(Kind::NotFound, msg),
        _ => Error::new(Kind::Network, msg),
    }
}

/// The `t` of `RateLimit: "api";r=0;t=55`: seconds until the quota resets.
fn rate_limit_reset(value: &str) -> Option<Duration> {
    value.split(';').find_map(|p| p.trim().strip_prefix("t=")?.parse().ok()).map(Duration::from_secs)
}

fn transport_error(e: ureq::Error, url: &str) -> Error {
    if let Some(tls) = crate::tls::handshake_error(&e, origin(url)) {
        return tls;
    }
    use std::io::ErrorKind::{AddrNotAvailable, ConnectionRefused, HostUnreachable, NetworkUnreachable};
    let unreachable = match &e {
        ureq::Error::HostNotFound => Some("host not found".to_owned()),
        // A failed DNS lookup has no ErrorKind of its own; this is the message std gives it.
        ureq::Error::Io(io) if io.to_string().starts_with("failed to lookup address information") => {
            Some("host not found".to_owned())
        }
        ureq::Error::ConnectionFailed => Some("connection failed".to_owned()),
        ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => Some("timed out".to_owned()),
        ureq::Error::Io(io)
            if matches!(io.kind(), ConnectionRefused | NetworkUnreachable | HostUnreachable | AddrNotAvailable) =>
        {
            Some(io.kind().to_string())
        }
        _ => None,
    };
    // Still transient: a network that is down for a moment comes back within the retries.
    let msg = match unreachable {
        Some(why) => format!("cannot reach {} ({why}): check your network or HF_ENDPOINT", origin(url)),
        None => format!("{}: {e}", redact(url)),
    };
    match e {
        ureq::Error::Io(_) | ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            Error::transient(msg, Duration::ZERO)
        }
        _ => Error::new(Kind::Network, msg),
    }
}

/// `scheme://authority` of a URL.
pub fn origin(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    &url[..end]
}

/// A URL fit for a message: the query (which may carry a CDN signature) is dropped.
pub fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Percent-encodes like Python's `urllib.parse.quote`: `A-Za-z0-9_.-~` stay, and `/` when `keep_slash`.
pub fn quote(s: &str, keep_slash: bool) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-').remove(b'~');
    const PATH: &AsciiSet = &SEGMENT.remove(b'/');
    utf8_percent_encode(s, if keep_slash { PATH } else { SEGMENT }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_matches_the_python_client() {
        assert_eq!(quote("weird name+x.bin", true), "weird%20name%2Bx.bin");
        assert_eq!(quote("a#b?c%", true), "a%23b%3Fc%25");
        assert_eq!(quote("é/ü.txt", true), "%C3%A9/%C3%BC.txt");
        assert_eq!(quote("refs/pr/1", false), "refs%2Fpr%2F1");
    }

    #[test]
    fn origins_and_links() {
        assert_eq!(origin("https://huggingface.co/api/x?y"), "https://huggingface.co");
        assert_eq!(origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        let hub = Hub::new("http://127.0.0.1:1/", None).unwrap();
        assert_eq!(hub.endpoint(), "http://127.0.0.1:1");
        assert!(Hub::new("ftp://x", None).is_err());
        let mut h = HeaderMap::new();
        h.insert("link", r#"<http://h/p?cursor=2>; rel="next", <http://h/p>; rel="first""#.parse().unwrap());
        assert_eq!(next_link(&h).as_deref(), Some("http://h/p?cursor=2"));
    }

    #[test]
    fn redirect_targets_resolve_against_their_url() {
        let cases = [
            ("http://h:1/a/b?c", "/x", Some("http://h:1/x")),
            ("http://h:1/a/b?c", "d", Some("http://h:1/a/d")),
            ("http://h:1/a/b", "http://o/z", Some("http://o/z")),
            ("https://h/a/b", "//cdn.example/z?s=1", Some("https://cdn.example/z?s=1")),
            ("http://h/a/b/c", "../d", Some("http://h/a/d")),
            ("http://h/a/b", "?cursor=2", Some("http://h/a/b?cursor=2")),
            ("http://h/a?x", "/p?next=http://o/q", Some("http://h/p?next=http://o/q")),
            ("http://h/a", "/x#part", Some("http://h/x")),
            ("http://h/a", "/a b", None),
            ("http://h/a", "/%zz", None),
        ];
        for (base, target, expected) in cases {
            assert_eq!(resolve(base, target).ok().as_deref(), expected, "{target:?} against {base:?}");
        }
        let err = resolve("http://h/a?sig=1", "/a b?sig=2").unwrap_err().to_string();
        assert_eq!(err, r#"http://h/a sent an invalid URL "/a b""#);
    }

    #[test]
    fn unreachable_endpoints_say_so() {
        let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", refused.local_addr().unwrap());
        drop(refused);
        let hub = Hub::new(&endpoint, Token::from_value("hf_secret")).unwrap();
        let e = hub.send("GET", &format!("{endpoint}/api/models/a/b?x=1"), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("cannot reach {endpoint} (connection refused): check your network or HF_ENDPOINT")
        );
        assert!(e.is_transient(), "transient");

        // As std reports a failed lookup (a real one would leave loopback).
        let lookup = std::io::Error::other("failed to lookup address information: Name or service not known");
        let e = transport_error(ureq::Error::Io(lookup), "https://hub.invalid/api");
        assert_eq!(
            e.to_string(),
            "cannot reach https://hub.invalid (host not found): check your network or HF_ENDPOINT"
        );
        let e = transport_error(ureq::Error::HostNotFound, "https://hub.invalid/api?token=x");
        assert_eq!(
            e.to_string(),
            "cannot reach https://hub.invalid (host not found): check your network or HF_ENDPOINT"
        );
        let e = transport_error(ureq::Error::Io(std::io::ErrorKind::ConnectionReset.into()), "http://h/a?sig=1");
        assert!(e.to_string().starts_with("http://h/a: "), "{e}");
    }

    #[test]
    fn token_never_shows() {
        assert_eq!(format!("{:?}", Token::from_value("hf_secret")), "Some(***)");
        assert!(Token::from_value(" \n").is_none());
        assert_eq!(Token::from_value("hf_x\r\n").unwrap().secret, "hf_x");
    }

    #[test]
    fn rate_limit_headers() {
        assert_eq!(rate_limit_reset("\"api\";r=0;t=55"), Some(Duration::from_secs(55)));
        assert_eq!(rate_limit_reset("\"api\";r=0"), None);
        assert_eq!(rate_limit_reset("\"api\";r=0;t=soon"), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

        /// Any header value a server may send: `Some` or `None`, never a panic; a next link it finds
        /// comes out of the header, without its angle brackets.
        #[test]
        fn link_headers(values in proptest::collection::vec(proptest::prop_oneof![
            proptest::prelude::any::<String>(),
            r#"(<[a-z:/?=&.,;<>0-9 ]{0,24}>? ?(; ?(rel=("?)(next|prev|first)("?)|[a-z]{0,4}=?[a-z"]{0,4}))* ?,? ?){0,3}"#,
        ], 0..3)) {
            let mut headers = HeaderMap::new();
            for value in &values {
                if let Ok(value) = value.parse() {
                    headers.append("link", value);
                }
            }
            if let Some(url) = next_link(&headers) {
                proptest::prop_assert!(values.iter().any(|v| v.contains(url.as_str())), "{url:?} from {values:?}");
                proptest::prop_assert!(!url.starts_with('<') && !url.ends_with('>'), "{url:?}");
            }
        }

        /// A well-formed next link is found, whatever else the header holds.
        #[test]
        fn next_links_are_found(
            url in "https?://[a-z0-9.]{1,12}(:[0-9]{1,5})?/[a-zA-Z0-9/?=&%._-]{0,30}",
            before in r#"(<[a-z:/]{0,10}>; rel="(prev|first)", ){0,2}"#,
            quoted in proptest::prelude::any::<bool>(),
        ) {
            let rel = if quoted { r#"rel="next""# } else { "rel=next" };
            let mut headers = HeaderMap::new();
            headers.insert("link", format!("{before}<{url}>; {rel}").parse().unwrap());
            proptest::prop_assert_eq!(next_link(&headers), Some(url));
        }

        /// Any `RateLimit` value: `Some` or `None`, never a panic; `t=N` is N seconds.
        #[test]
        fn rate_limit_values(value in proptest::prop_oneof![
            proptest::prelude::any::<String>(),
            r#"("api"|"[a-z]{0,5}")?(; ?[rtq]=[0-9a-z+-]{0,22})*"#,
        ]) {
            if let Some(reset) = rate_limit_reset(&value) {
                let t = value.split(';').find_map(|p| p.trim().strip_prefix("t=")?.parse::<u64>().ok());
                proptest::prop_assert_eq!(Some(reset.as_secs()), t);
            }
        }

        #[test]
        fn rate_limit_resets_are_read(policy in "\"[a-z]{1,8}\"", r in 0u64..100_000, t in proptest::prelude::any::<u64>()) {
            let value = format!("{policy};r={r};t={t}");
            proptest::prop_assert_eq!(rate_limit_reset(&value), Some(Duration::from_secs(t)));
        }
    }
}
