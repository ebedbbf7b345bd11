/*!
When to try again: transient network failures (`Error::is_transient`) are retried with
exponential backoff and jitter, never sooner than the server's `Retry-After`, and given up after a few
attempts that made no progress.
*/

use crate::error::Result;
use crate::warn;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const MAX_ATTEMPTS: u32 = 5;
const BASE: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How long to wait before attempt `attempt` (1 = the first retry).
pub fn backoff(attempt: u32, retry_after: Duration) -> Duration {
    let exp = BASE.saturating_mul(1 << attempt.saturating_sub(1).min(8)).min(MAX_BACKOFF);
    let jitter_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() % 250);
    (exp + Duration::from_millis(jitter_ms as u64)).max(retry_after.min(MAX_RETRY_AFTER))
}

/// Runs `attempt` (`what` it does, for the warnings) until it succeeds, fails for good, or fails transiently `MAX_ATTEMPTS` times in a row.
/// An attempt that made progress before failing (it sets the flag it is given, e.g. when bytes arrived)
/// starts the count again, so a long download survives any number of isolated drops.
pub fn retrying<T>(what: &str, mut attempt: impl FnMut(&mut bool) -> Result<T>) -> Result<T> {
    let mut failures = 0;
    loop {
        let mut progressed = false;
        match attempt(&mut progressed) {
            Err(e) if e.is_transient() => {
                failures = if progressed { 1 } else { failures + 1 };
                if failures >= MAX_ATTEMPTS {
                    return Err(e);
                }
                let wait = backoff(failures, e.retry_after());
                warn!("{what}: {e}; retrying in {:.1}s", wait.as_secs_f32());
                std::thread::sleep(wait);
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        assert!(backoff(1, Duration::ZERO) >= BASE && backoff(1, Duration::ZERO) < BASE * 2);
        assert!(backoff(3, Duration::ZERO) >= BASE * 4);
        assert!(backoff(30, Duration::ZERO) <= MAX_BACKOFF + Duration::from_millis(250));
        assert_eq!(backoff(1, Duration::from_secs(42)), Duration::from_secs(42));
        assert_eq!(backoff(1, Duration::from_secs(9999)), MAX_RETRY_AFTER);
    }
}
