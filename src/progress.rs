/*!
The progress of a download on stderr, in the shape of `hf download`'s bar:

```text
nix-hug:  45%|####      | 1.2 GiB/2.7 GiB [00:10<00:12, 120.0 MiB/s]
```

Shown only when stderr is a terminal and `--debug` is off (the debug lines would break it up); otherwise
the run prints its usual one line per step and nothing else. Fed by the download engine's events from
any worker thread, redrawn in place at most ten times a second, cleared when dropped. Plain text, never
colour, so there is nothing for `NO_COLOR` to turn off.
*/

use crate::download::Event;
use crate::msg;
use crate::render::human_size;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const REDRAW: Duration = Duration::from_millis(100);
const BAR: u64 = 10;

pub struct Progress {
    shown: bool,
    /// Bytes to download: files copied from a local cache instead come off it.
    total: AtomicU64,
    done: AtomicU64,
    start: Instant,
    last_draw: Mutex<Option<Instant>>,
}

impl Progress {
    /// The progress of downloading `total` bytes, starting now.
    pub fn new(total: u64) -> Progress {
        Progress {
            shown: std::io::stderr().is_terminal() && !msg::debug_enabled() && !msg::quiet(),
            total: AtomicU64::new(total),
            done: AtomicU64::new(0),
            start: Instant::now(),
            last_draw: Mutex::new(None),
        }
    }

    pub fn update(&self, event: &Event) {
        if !self.shown {
            return;
        }
        match event {
            Event::Bytes { n, .. } => {
                self.done.fetch_add(*n, Ordering::Relaxed);
            }
            Event::Reused { size, .. } => {
                self.total.fetch_sub(*size, Ordering::Relaxed);
            }
            Event::Done { .. } => {}
        }
        // Workers never wait for each other here: whoever finds the line busy skips this redraw.
        let Ok(mut last) = self.last_draw.try_lock() else { return };
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < REDRAW) {
            return;
        }
        *last = Some(now);
        let (done, total) = (self.done.load(Ordering::Relaxed), self.total.load(Ordering::Relaxed));
        msg::status(&line(done, total, now.duration_since(self.start)));
    }
}

impl Progress {
    /// Clears the status line: the download is over.
    pub fn finish(&self) {
        if self.shown {
            msg::clear_status();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The status line after `done` of `total` bytes in `elapsed`.
fn line(done: u64, total: u64, elapsed: Duration) -> String {
    // Bytes fetched again after a failure count twice: never show more than all.
    let done = done.min(total);
    let fraction = if total == 0 { 1.0 } else { done as f64 / total as f64 };
    let filled = (fraction * BAR as f64) as usize;
    let bar = format!("{:#<filled$}{:empty$}", "", "", empty = BAR as usize - filled);
    let secs = elapsed.as_secs_f64();
    let (eta, rate) = if done > 0 && secs > 0.0 {
        let rate = done as f64 / secs;
        (clock(((total - done) as f64 / rate).ceil() as u64), format!("{}/s", human_size(rate as u64)))
    } else {
        ("?".to_owned(), "?/s".to_owned())
    };
    format!(
        "nix-hug: {:3.0}%|{bar}| {}/{} [{}<{eta}, {rate}]",
        fraction * 100.0,
        human_size(done),
        human_size(total),
        clock(elapsed.as_secs())
    )
}

/// `01:05`, or `2:03:07` past an hour.
fn clock(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 { format!("{h}:{m:02}:{s:02}") } else { format!("{m:02}:{s:02}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let gib = 1u64 << 30;
        let cases = [
            (0, 1000, 0, "nix-hug:   0%|          | 0 B/1000 B [00:00<?, ?/s]"),
            (gib * 12 / 10, gib * 27 / 10, 10, "nix-hug:  44%|####      | 1.2 GiB/2.7 GiB [00:10<00:13, 122.9 MiB/s]"),
            (5 << 20, 5 << 20, 2, "nix-hug: 100%|##########| 5.0 MiB/5.0 MiB [00:02<00:00, 2.5 MiB/s]"),
            (9 << 20, 5 << 20, 2, "nix-hug: 100%|##########| 5.0 MiB/5.0 MiB [00:02<00:00, 2.5 MiB/s]"),
            (1 << 20, 4000 << 20, 1, "nix-hug:   0%|          | 1.0 MiB/3.9 GiB [00:01<1:06:39, 1.0 MiB/s]"),
            (0, 0, 0, "nix-hug: 100%|##########| 0 B/0 B [00:00<?, ?/s]"),
        ];
        for (done, total, secs, want) in cases {
            assert_eq!(line(done, total, Duration::from_secs(secs)), want, "{done}/{total} in {secs}s");
        }
    }

    #[test]
    fn clocks() {
        assert_eq!(clock(0), "00:00");
        assert_eq!(clock(65), "01:05");
        assert_eq!(clock(7387), "2:03:07");
    }
}
