/*!
The download engine: a fixed pool of workers takes tasks from one queue. A task is a whole file, streamed
and verified as it arrives, or one range of a large file, written at its offset into a preallocated
temporary file and verified by the worker that finishes the last range. Transient failures are retried
with backoff and resumed with `Range`; content that fails verification is fetched once more from scratch,
then reported with both hashes. A file appears under its final name only once verified; on failure no
temporary file is left. Memory: one buffer per worker, whatever the file sizes.

Takes a plan (what to fetch, where, with which hash); never chooses files. Reports progress through a
callback; never prints.
*/

use crate::error::{Context, Error, Kind, Result, integrity};
use crate::hub::{self, Hub, redact};
use crate::regions::Regions;
use crate::{debug, retry, warn};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BUFFER: usize = 1 << 20;
/// An attempt that failed still made progress, and so starts the retry count again, only if it brought
/// this much beyond the furthest byte had before: a server that sends the same first KiB and then
/// stalls, every time, must not keep a fetch busy forever.
const PROGRESS: u64 = 1 << 20;

/// What a downloaded file must hash to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    /// sha256 of the content (LFS files), lowercase hex.
    Sha256(String),
    /// Git blob id, sha1 of `blob <len>\0<content>` (regular files), lowercase hex.
    GitBlob(String),
}

/// Where a job's bytes go.
#[derive(Clone, Debug)]
pub enum Dest {
    /// A file of its own, written under a temporary name beside it and renamed into place once
    /// verified (the directory sink). A file already there is taken as done.
    File(PathBuf),
    /// The job's `size` bytes at `offset` of a file shared with other jobs (the NAR sink), written in
    /// place: on failure they stay, and the caller throws the whole file away. Each region is marked in
    /// `regions`, if given, once final.
    At { file: Arc<File>, offset: u64, path: PathBuf, regions: Option<Arc<Regions>> },
}

/// One file to fetch from `url` into `dest`.
#[derive(Clone, Debug)]
pub struct Job {
    /// The repo path, for messages.
    pub name: String,
    pub url: String,
    pub size: u64,
    pub expected: Expected,
    pub dest: Dest,
    /// Places on this machine where the same content may already be (checked like a download).
    pub local: Vec<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Workers, i.e. requests in flight.
    pub jobs: usize,
    /// Files larger than twice this are fetched as ranges of this size.
    pub chunk: u64,
    /// Cache folders (`HF_HUB_CACHE` layout) on this machine whose blobs may be copied instead of downloaded.
    pub local_caches: Vec<PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options { jobs: 8, chunk: 64 << 20, local_caches: Vec::new() }
    }
}

pub enum Event<'a> {
    /// `n` bytes of a file written (they may later be discarded and fetched again after a failure).
    Bytes { name: &'a str, n: u64 },
    /// A file is verified and in place.
    Done { name: &'a str, size: u64 },
    /// A file was copied from a verified local copy instead of downloaded (`Done` follows).
    Reused { name: &'a str, size: u64 },
}

struct FileState {
    job: Job,
    /// For a `Dest::File`, the temporary name it is written under.
    tmp: Option<PathBuf>,
    ranges_left: AtomicUsize,
    /// A local copy of the right size, tried before the network.
    local: Option<PathBuf>,
    /// Where a range was redirected: later ranges go straight there, sparing the Hub, until that
    /// (signed, expiring) URL is refused.
    final_url: Mutex<Option<String>>,
}

struct Task {
    file: usize,
    range: Option<(u64, u64)>,
}

/// Downloads every job; on error, removes what it wrote and returns the first failure.
pub fn download(hub: &Hub, jobs: Vec<Job>, opts: Options, progress: &(dyn Fn(Event) + Sync)) -> Result<()> {
    let mut files = Vec::new();
    let mut tasks = Vec::new();
    let mut dests = std::collections::HashSet::new();
    for job in jobs {
        let (first, tmp) = match &job.dest {
            Dest::File(dest) => (dests.insert(Ok(dest.clone())) && !dest.exists(), Some(temp_name(dest))),
            Dest::At { offset, .. } => (dests.insert(Err(*offset)), None),
        };
        if !first {
            continue;
        }
        let file = files.len();
        let chunk = opts.chunk.max(1);
        let local =
            job.local.iter().find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() == job.size)).cloned();
        let ranges = if job.size > 2 * chunk && local.is_none() { job.size.div_ceil(chunk) } else { 1 };
        if ranges > 1 {
            for i in 0..ranges {
                tasks.push(Task { file, range: Some((i * chunk, ((i + 1) * chunk).min(job.size) - 1)) });
            }
        } else {
            tasks.push(Task { file, range: None });
        }
        files.push(FileState {
            job,
            tmp,
            ranges_left: AtomicUsize::new(ranges as usize),
            local,
            final_url: Mutex::new(None),
        });
    }
    // Large files first, so their ranges spread over every worker and the small files fill the gaps.
    tasks.sort_by_key(|t| std::cmp::Reverse(files[t.file].job.size));
    for f in files.iter().filter(|f| f.ranges_left.load(Ordering::Relaxed) > 1) {
        if let Some(tmp) = &f.tmp {
            File::create(tmp).and_then(|file| file.set_len(f.job.size)).with_context(|| tmp.display().to_string())?;
        }
    }

    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.clamp(1, tasks.len().max(1)) {
            s.spawn(|| {
                let mut buf = vec![0u8; BUFFER];
                while !failed.load(Ordering::Relaxed) {
                    let Some(task) = tasks.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                    let file = &files[task.file];
                    if let Err(e) = run_task(hub, file, task.range, &mut buf, progress).context(&file.job.name) {
                        failed.store(true, Ordering::Relaxed);
                        first_error.lock().unwrap().get_or_insert(e);
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap() {
        None => Ok(()),
        Some(e) => {
            for tmp in files.iter().filter_map(|f| f.tmp.as_ref()) {
                let _ = fs::remove_file(tmp);
            }
            Err(e)
        }
    }
}

fn temp_name(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    dest.with_file_name(format!(".{name}.part"))
}

/// Where a job's bytes go: the file, the offset of its first byte there, the path for messages, and
/// where final regions are marked (a shared file only).
struct Place {
    file: Arc<File>,
    base: u64,
    path: PathBuf,
    regions: Option<Arc<Regions>>,
}

impl Place {
    /// For a `Dest::File`, its temporary file, made afresh when `fresh` (else the one preallocated for
    /// its ranges).
    fn of(file: &FileState, fresh: bool) -> Result<Place> {
        match (&file.job.dest, &file.tmp) {
            (Dest::At { file, offset, path, regions }, _) => {
                Ok(Place { file: file.clone(), base: *offset, path: path.clone(), regions: regions.clone() })
            }
            (Dest::File(_), Some(tmp)) => {
                let opened = OpenOptions::new().read(true).write(true).create(fresh).truncate(fresh).open(tmp);
                Ok(Place {
                    file: Arc::new(opened.with_context(|| tmp.display().to_string())?),
                    base: 0,
                    path: tmp.clone(),
                    regions: None,
                })
            }
            (Dest::File(dest), None) => unreachable!("{}: a file of its own has a temporary name", dest.display()),
        }
    }

    fn write(&self, bytes: &[u8], pos: u64) -> Result<()> {
        self.file.write_all_at(bytes, self.base + pos).map_err(|e| crate::space::write_error(e, &self.path))
    }

    /// Bytes `start..end` of the job are final.
    fn done(&self, start: u64, end: u64) {
        if let Some(regions) = &self.regions {
            regions.done(self.base + start, self.base + end);
        }
    }

    /// The job's `size` bytes as written, to read back.
    fn reader(&self, size: u64) -> Region<'_> {
        Region { file: &self.file, pos: self.base, end: self.base + size }
    }
}

/// Bytes `pos..end` of a file, read in order.
struct Region<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for Region<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(usize::try_from(self.end - self.pos).unwrap_or(usize::MAX));
        let n = self.file.read_at(&mut buf[..n], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

fn run_task(
    hub: &Hub,
    file: &FileState,
    range: Option<(u64, u64)>,
    buf: &mut [u8],
    progress: &(dyn Fn(Event) + Sync),
) -> Result<()> {
    let job = &file.job;
    let place = Place::of(file, range.is_none())?;
    match range {
        None if file.local.as_ref().is_some_and(|local| copy_local(local, job, &place, buf).is_ok()) => {
            progress(Event::Reused { name: &job.name, size: job.size });
            place.done(0, job.size);
        }
        None => {
            let mut verified = stream_whole(hub, job, &place, buf, progress);
            if let Err(e) = &verified
                && e.kind() == Kind::Integrity
            {
                // Corruption in transit is rare but possible: one fresh attempt before giving up.
                warn!("{}: {e}; downloading it once more", job.name);
                verified = stream_whole(hub, job, &place, buf, progress);
            }
            verified?;
            place.done(0, job.size);
        }
        Some((start, end)) => {
            if let Err(e) = fetch_range(hub, file, &place, start, end, buf, progress) {
                if e.kind() != Kind::Integrity {
                    return Err(e);
                }
                warn!("{}: {e}; downloading bytes {start}-{end} once more", job.name);
                fetch_range(hub, file, &place, start, end, buf, progress)?;
            }
            place.done(start, end + 1);
            if file.ranges_left.fetch_sub(1, Ordering::AcqRel) != 1 {
                return Ok(());
            }
            if let Err(e) = hash_read(place.reader(job.size), job, buf, |_| Ok(())) {
                if e.kind() != Kind::Integrity {
                    return Err(e);
                }
                // As for a whole file: once more from scratch, by this worker, then the error.
                warn!("{}: {e}; downloading it once more", job.name);
                if let Some(regions) = &place.regions {
                    regions.spoil();
                }
                stream_whole(hub, job, &place, buf, progress)?;
            }
        }
    }
    if let (Dest::File(dest), Some(tmp)) = (&job.dest, &file.tmp) {
        fs::rename(tmp, dest).with_context(|| dest.display().to_string())?;
    }
    progress(Event::Done { name: &job.name, size: job.size });
    Ok(())
}

/// Streams a whole file into its place, hashing as it goes, resuming after transient failures.
fn stream_whole(hub: &Hub, job: &Job, place: &Place, buf: &mut [u8], progress: &(dyn Fn(Event) + Sync)) -> Result<()> {
    let mut hasher = Hasher::new(&job.expected, job.size);
    let (mut written, mut furthest) = (0u64, 0u64);
    retry::retrying(&job.name, |progressed| {
        let before = furthest;
        let range = (written > 0).then_some((written, None));
        let (url, resp) = hub.get(&job.url, range)?;
        check(&resp, &url)?;
        check_size(&resp, job.size)?;
        match (range, resp.status().as_u16()) {
            (Some((start, _)), 206) => check_content_range(&resp, start, &url)?,
            (Some(_), _) => {
                // The server ignored the range: start over.
                hasher = Hasher::new(&job.expected, job.size);
                written = 0;
            }
            _ => {}
        }
        let mut body = resp.into_body().into_reader();
        copy(&mut body, place, written, job.size - written, buf, &url, |chunk| {
            hasher.update(chunk);
            written += chunk.len() as u64;
            furthest = furthest.max(written);
            *progressed = furthest >= before + PROGRESS;
            progress(Event::Bytes { name: &job.name, n: chunk.len() as u64 });
        })
    })?;
    hasher.verify(&job.expected)
}

/// Copies a local file that should hold the same content, verifying it like a download; a copy that
/// does not verify (changed, truncated) is simply not used.
fn copy_local(local: &Path, job: &Job, place: &Place, buf: &mut [u8]) -> Result<()> {
    let mut pos = 0;
    let verified = File::open(local).map_err(Error::from).and_then(|input| {
        hash_read(input, job, buf, |chunk| {
            place.write(chunk, pos)?;
            pos += chunk.len() as u64;
            Ok(())
        })
    });
    match &verified {
        Ok(()) => debug!("{}: copied from {}", job.name, local.display()),
        Err(e) => debug!("{}: not using {}: {e}", job.name, local.display()),
    }
    verified
}

/// Reads `input` to its end, checking it against the job's hash and handing each chunk to `sink`.
fn hash_read(mut input: impl Read, job: &Job, buf: &mut [u8], mut sink: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let mut hasher = Hasher::new(&job.expected, job.size);
    loop {
        let n = input.read(buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        sink(&buf[..n])?;
    }
    hasher.verify(&job.expected)
}

/// Fetches bytes `start..=end` of a file into their place.
fn fetch_range(
    hub: &Hub,
    file: &FileState,
    place: &Place,
    start: u64,
    end: u64,
    buf: &mut [u8],
    progress: &(dyn Fn(Event) + Sync),
) -> Result<()> {
    let mut pos = start;
    retry::retrying(&file.job.name, |progressed| {
        let before = pos;
        let cached = file.final_url.lock().unwrap().clone();
        let (final_url, resp) = hub.get(cached.as_deref().unwrap_or(&file.job.url), Some((pos, Some(end))))?;
        if cached.is_some() && matches!(resp.status().as_u16(), 401 | 403 | 410) {
            *file.final_url.lock().unwrap() = None;
            let msg = format!("{} refused the signed URL it was sent to earlier (expired)", redact(&final_url));
            return Err(Error::transient(msg + "; asking the Hub for a new one", Duration::ZERO));
        }
        check(&resp, &final_url)?;
        if resp.status().as_u16() != 206 {
            return Err(Error::new(Kind::Network, format!("{} ignored a Range request", redact(&final_url))));
        }
        check_content_range(&resp, pos, &final_url)?;
        check_size(&resp, file.job.size)?;
        *file.final_url.lock().unwrap() = Some(final_url.clone());
        let mut body = resp.into_body().into_reader();
        copy(&mut body, place, pos, end + 1 - pos, buf, &final_url, |chunk| {
            pos += chunk.len() as u64;
            *progressed = pos >= before + PROGRESS;
            progress(Event::Bytes { name: &file.job.name, n: chunk.len() as u64 });
        })
    })
}

fn check(resp: &ureq::http::Response<ureq::Body>, url: &str) -> Result<()> {
    if resp.status().is_success() { Ok(()) } else { Err(hub::status_error(resp, url)) }
}

fn check_content_range(resp: &ureq::http::Response<ureq::Body>, start: u64, url: &str) -> Result<()> {
    let got = resp.headers().get("content-range").and_then(|v| v.to_str().ok()).unwrap_or("");
    let first = got.strip_prefix("bytes ").and_then(|r| r.split('-').next()).and_then(|s| s.parse::<u64>().ok());
    if first == Some(start) {
        Ok(())
    } else {
        Err(Error::new(
            Kind::Network,
            format!("{} answered Content-Range {got:?} for a range starting at {start}", redact(url)),
        ))
    }
}

/// Refuses an answer whose size contradicts the listing's: a whole file (200) of another length, or a
/// range (206) of a file of another size. That is a corrupt download, as content that fails its hash
/// is, found before a byte of it is kept.
fn check_size(resp: &ureq::http::Response<ureq::Body>, size: u64) -> Result<()> {
    let header = |name| resp.headers().get(name).and_then(|v| v.to_str().ok());
    let (served, what) = match resp.status().as_u16() {
        206 => (header("content-range").and_then(|r| r.rsplit_once('/')).map(|(_, total)| total), "server's copy has"),
        _ => (header("content-length"), "server sends"),
    };
    match served.and_then(|n| n.trim().parse::<u64>().ok()) {
        Some(served) if served != size => {
            Err(integrity(format!("corrupt download: expected {size} bytes, as listed, but the {what} {served}")))
        }
        _ => Ok(()),
    }
}

/// Copies exactly `want` bytes from `body` into `place`, from byte `at` of the job on; a shorter body is
/// a transient error, a longer one is cut.
fn copy(
    body: &mut impl Read,
    place: &Place,
    at: u64,
    want: u64,
    buf: &mut [u8],
    url: &str,
    mut on_chunk: impl FnMut(&[u8]),
) -> Result<()> {
    let mut left = want;
    while left > 0 {
        let cap = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match body.read(&mut buf[..cap]) {
            Ok(0) => {
                return Err(Error::transient(
                    format!("{}: connection closed {left} bytes before the end", redact(url)),
                    Duration::ZERO,
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) => {
                let secs = hub::download_timeout().map_or(0.0, |t| t.as_secs_f64());
                let why = format!("no data for {secs}s (HF_HUB_DOWNLOAD_TIMEOUT) with {left} bytes to go");
                return Err(Error::transient(format!("{}: {why}", redact(url)), Duration::ZERO));
            }
            Err(e) => return Err(Error::transient(format!("{}: {e}", redact(url)), Duration::ZERO)),
        };
        place.write(&buf[..n], at + (want - left))?;
        on_chunk(&buf[..n]);
        left -= n as u64;
    }
    Ok(())
}

/// A read that waited `HF_HUB_DOWNLOAD_TIMEOUT` for data (ureq reports it inside an I/O error).
fn is_timeout(e: &std::io::Error) -> bool {
    let inner = e.get_ref().and_then(|inner| inner.downcast_ref::<ureq::Error>());
    e.kind() == std::io::ErrorKind::TimedOut || matches!(inner, Some(ureq::Error::Timeout(_)))
}

enum Hasher {
    Sha256(Sha256),
    GitBlob(Sha1),
}

impl Hasher {
    fn new(expected: &Expected, size: u64) -> Hasher {
        match expected {
            Expected::Sha256(_) => Hasher::Sha256(Sha256::new()),
            Expected::GitBlob(_) => {
                let mut h = Sha1::new();
                h.update(format!("blob {size}\0").as_bytes());
                Hasher::GitBlob(h)
            }
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::GitBlob(h) => h.update(data),
        }
    }

    fn verify(self, expected: &Expected) -> Result<()> {
        let (got, want, what) = match (self, expected) {
            (Hasher::Sha256(h), Expected::Sha256(w)) => (crate::nar::hex(&h.finalize()), w, "sha256"),
            (Hasher::GitBlob(h), Expected::GitBlob(w)) => (crate::nar::hex(&h.finalize()), w, "git blob sha1"),
            _ => unreachable!("a hasher is made for its expectation"),
        };
        if got.eq_ignore_ascii_case(want) {
            Ok(())
        } else {
            Err(integrity(format!("{what} mismatch: expected {want}, got {got}")))
        }
    }
}
