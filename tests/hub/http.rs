//! Just enough HTTP/1.1 for the test Hub: request heads, responses with an owned body or a range
//! of a file's content, single `Range: bytes=` ranges, and the body faults (a drop mid-body, a
//! flipped byte) applied while writing.

use super::Content;
use serde_json::{Value, json};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, TcpStream};

/// A parsed request head.
pub(super) struct Head {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub keep_alive: bool,
}

impl Head {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads the request line and headers (and skips any body); `None` at a clean end of stream.
pub(super) fn read_head(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Head>> {
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
pub(super) struct Response<'a> {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body<'a>,
}

pub(super) enum Body<'a> {
    Owned(Vec<u8>),
    /// `range` of a file's content.
    Content(&'a Content, std::ops::Range<u64>),
}

impl Body<'_> {
    pub(super) fn len(&self) -> u64 {
        match self {
            Body::Owned(v) => v.len() as u64,
            Body::Content(_, r) => r.end - r.start,
        }
    }
}

impl<'a> Response<'a> {
    pub(super) fn new(status: u16, body: Body<'a>) -> Self {
        Response { status, headers: Vec::new(), body }
    }

    pub(super) fn json(value: &Value) -> Self {
        Response::new(200, Body::Owned(value.to_string().into_bytes())).header("Content-Type", "application/json")
    }

    /// An error as the Hub sends it: `X-Error-Code` (read by huggingface_hub) and a JSON body.
    pub(super) fn error(status: u16, code: Option<&str>, message: &str) -> Self {
        let mut r = Response::json(&json!({ "error": message }));
        r.status = status;
        if let Some(code) = code {
            r = r.header("X-Error-Code", code);
        }
        r.header("X-Error-Message", message)
    }

    pub(super) fn redirect(status: u16, location: String) -> Self {
        Response::new(status, Body::Owned(Vec::new())).header("Location", location)
    }

    pub(super) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

pub(super) enum BodyFault {
    Drop,
    Corrupt,
    Stall,
    /// Bytes per second.
    Throttle(u64),
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` as a half-open range; `None` for anything else (served
/// whole, as RFC 9110 allows), `Err` when unsatisfiable.
pub(super) fn parse_range(header: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
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
pub(super) fn percent_decode(s: &str) -> Option<String> {
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
pub(super) fn write_response(
    mut out: &TcpStream,
    head: &Head,
    r: Response,
    fault: Option<BodyFault>,
) -> io::Result<bool> {
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
        Some(BodyFault::Stall) => {
            write_part(out, &r.body, 0..len.min(1024))?;
            // Until the client closes the connection, or the Hub shuts it down when it stops.
            let _ = out.read(&mut [0]);
            return Ok(false);
        }
        Some(BodyFault::Throttle(bytes_per_sec)) => {
            // A tenth of a second's worth at a time.
            let step = (bytes_per_sec / 10).max(1);
            for start in (0..len).step_by(step as usize) {
                write_part(out, &r.body, start..(start + step).min(len))?;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
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
