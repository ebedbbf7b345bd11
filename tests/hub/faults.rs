//! The faults tests inject (`Fault`), and the real-Hub mode's rate limit: which request a fault hits,
//! and what the Hub answers instead.

use super::http::{Body, BodyFault, Response};
use super::{Fault, Mode, QUOTA, Redirect, Role, State, WINDOW_SECS, fake_sha};
use std::time::{Duration, Instant};

impl State {
    /// Once a `RateLimit` fault has fired, every request to the Hub host until the window resets.
    pub(super) fn rate_limited(&self, role: Role, names: &[String]) -> Option<Response<'static>> {
        if role != Role::Api {
            return None;
        }
        let mut until = self.limited_until.lock().unwrap();
        let now = Instant::now();
        if until.is_none_or(|t| t <= now) {
            let mut faults = self.faults.lock().unwrap();
            let i = faults.iter().position(|f| matches!(f, Fault::RateLimit { path, .. } if matches(names, path)))?;
            let Fault::RateLimit { reset, .. } = faults.remove(i) else { unreachable!() };
            *until = Some(now + Duration::from_secs(reset));
        }
        let left = (*until)?.saturating_duration_since(now).as_millis().div_ceil(1000);
        let body = Body::Owned(b"Too many requests".to_vec());
        Some(Response::new(429, body).header("RateLimit", format!("\"api\";r=0;t={left}")))
    }

    /// The real Hub's `RateLimit` and `RateLimit-Policy` headers on an answer of the Hub host.
    pub(super) fn quota_headers<'a>(&self, response: Response<'a>) -> Response<'a> {
        if self.mode != Mode::Real {
            return response;
        }
        let elapsed = self.started.elapsed().as_secs();
        let mut window = self.window.lock().unwrap();
        if window.0 != elapsed / WINDOW_SECS {
            *window = (elapsed / WINDOW_SECS, 0);
        }
        window.1 += 1;
        let (left, reset) = (QUOTA.saturating_sub(window.1), WINDOW_SECS - elapsed % WINDOW_SECS);
        response
            .header("RateLimit", format!("\"api\";r={left};t={reset}"))
            .header("RateLimit-Policy", format!("\"fixed window\";\"api\";q={QUOTA};w={WINDOW_SECS}"))
    }

    /// Fires an `ExpireCdnUrls` fault matching `names`: a new signing secret.
    pub(super) fn expire_cdn_urls(&self, names: &[String]) {
        let mut faults = self.faults.lock().unwrap();
        if let Some(i) = faults.iter().position(|f| matches!(f, Fault::ExpireCdnUrls { path } if matches(names, path)))
        {
            faults.remove(i);
            let mut secret = self.secret.lock().unwrap();
            *secret = fake_sha(&secret);
        }
    }

    /// The answer to a request a `Redirect` fault matches, if any.
    pub(super) fn redirect(&self, role: Role, names: &[String], target: &str) -> Option<Response<'static>> {
        let faults = self.faults.lock().unwrap();
        let to = faults.iter().find_map(|f| match f {
            Fault::Redirect { path, to } if matches(names, path) => Some(*to),
            _ => None,
        })?;
        let (here, there) = if role == Role::Api { (&self.endpoint, &self.cdn) } else { (&self.cdn, &self.endpoint) };
        let location = match to {
            Redirect::Itself => format!("{here}{target}"),
            Redirect::OtherHost => format!("{there}{target}"),
            Redirect::Onward => format!("{here}{target}{}hop", if target.contains('?') { '&' } else { '?' }),
        };
        Some(Response::redirect(302, location))
    }

    /// The answer with the content resized, if a `Resized` fault matches `names` and the answer is
    /// content (whole, or a range of it).
    pub(super) fn resized<'a>(&self, names: &[String], response: Response<'a>) -> Response<'a> {
        let Body::Content(content, range) = &response.body else { return response };
        let by = {
            let mut faults = self.faults.lock().unwrap();
            let found = faults.iter().position(|f| match f {
                Fault::Resized { path, .. } | Fault::ResizedAlways { path, .. } => matches(names, path),
                _ => false,
            });
            match found.map(|i| (i, faults[i].clone())) {
                Some((_, Fault::ResizedAlways { by, .. })) => by,
                Some((i, Fault::Resized { by, .. })) => {
                    faults.remove(i);
                    by
                }
                _ => return response,
            }
        };
        let mut bytes = content.read();
        let size = (bytes.len() as u64).saturating_add_signed(by);
        bytes.resize(size as usize, b'#');
        let (start, end) = match response.status {
            206 => (range.start, range.end.min(size)),
            _ => (0, size),
        };
        let mut headers: Vec<_> = response.headers.into_iter().filter(|(name, _)| *name != "Content-Range").collect();
        if response.status == 206 {
            if start >= end {
                return Response::error(416, None, "range not satisfiable")
                    .header("Content-Range", format!("bytes */{size}"));
            }
            headers.push(("Content-Range", format!("bytes {start}-{}/{size}", end - 1)));
        }
        Response { status: response.status, headers, body: Body::Owned(bytes[start as usize..end as usize].to_vec()) }
    }

    pub(super) fn take_status_fault(&self, names: &[String]) -> Option<Response<'static>> {
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

    pub(super) fn take_body_fault(&self, names: &[String]) -> Option<BodyFault> {
        let mut faults = self.faults.lock().unwrap();
        let i = faults.iter().position(|f| match f {
            Fault::DropMidBody { path }
            | Fault::CorruptByte { path }
            | Fault::CorruptAlways { path }
            | Fault::Stall { path }
            | Fault::Throttle { path, .. } => matches(names, path),
            Fault::Status { .. }
            | Fault::RateLimit { .. }
            | Fault::ExpireCdnUrls { .. }
            | Fault::Redirect { .. }
            | Fault::Resized { .. }
            | Fault::ResizedAlways { .. } => false,
        })?;
        Some(match &faults[i] {
            Fault::CorruptAlways { .. } => BodyFault::Corrupt,
            Fault::Stall { .. } => BodyFault::Stall,
            Fault::Throttle { bytes_per_sec, .. } => BodyFault::Throttle(*bytes_per_sec),
            _ => match faults.remove(i) {
                Fault::DropMidBody { .. } => BodyFault::Drop,
                _ => BodyFault::Corrupt,
            },
        })
    }
}

/// Whole path segments only, as `Path::ends_with`: "config.json" is not "tokenizer_config.json".
pub(super) fn matches(names: &[String], suffix: &str) -> bool {
    let suffix = format!("/{}", suffix.trim_start_matches('/'));
    names.iter().any(|n| n.ends_with(&suffix))
}
