/*!
The progress of a download on stderr, drawn with `indicatif` in the shape of `hf download`'s bars: one
for the whole download and, below it, one for each of the few largest files in flight, removed when the
file is done:

```text
nix-hug:  45%|####      | 1.2 GiB/2.7 GiB [00:10<00:12, 120.0 MiB/s]
  …0001-of-00002.safetensors  61%|######    | 1.1 GiB/1.9 GiB 61.2 MiB/s
  …0002-of-00002.safetensors   8%|          | 63.0 MiB/800.0 MiB 58.8 MiB/s
```

Shown only when stderr is a terminal that can move its cursor (`TERM` set, and not `dumb`), and neither
`--debug` (its lines would break the bars up) nor `--quiet` is on; otherwise nothing is drawn and stderr
holds the run's messages alone. Fed by the download engine's events from any worker thread; messages
meanwhile go above the bars (see `msg`). Cleared when dropped, whether the download succeeded or not.
Plain text, never colour, so there is nothing for `NO_COLOR` to turn off.
*/

use crate::download::Event;
use crate::msg;
use crate::render::human_size;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

/// A file this large gets a bar of its own when it starts downloading, if fewer than `FILE_BARS` are
/// shown. The engine starts the largest files first, so the bars are those of the largest in flight.
const OWN_BAR: u64 = 8 << 20;
const FILE_BARS: usize = 3;
/// File names on their bars are cut to this many characters, from the left (the end is what tells
/// shards apart), so that a bar fits on a line of 80 columns.
const NAME: usize = 26;
/// How often the total is redrawn: with a steady tick, indicatif shows its bytes at ticks only (the
/// files' bars are redrawn as their bytes come, at most twenty times a second).
const TICK: Duration = Duration::from_millis(50);

pub struct Progress(Option<Bars>);

struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    /// The size of each file large enough for a bar of its own, by name.
    large: HashMap<String, u64>,
    file_style: ProgressStyle,
    files: Mutex<Files>,
}

#[derive(Default)]
struct Files {
    /// The large files that have started.
    started: HashSet<String>,
    /// The bars shown, by file name.
    bars: Vec<(String, ProgressBar)>,
}

impl Progress {
    /// The progress of downloading `files` (name and size), starting now.
    pub fn new<'a>(files: impl IntoIterator<Item = (&'a str, u64)>) -> Progress {
        if !std::io::stderr().is_terminal() || msg::debug_enabled() || msg::quiet() {
            return Progress(None);
        }
        let mut total = 0;
        let mut large = HashMap::new();
        for (name, size) in files {
            total += size;
            if size >= OWN_BAR {
                large.insert(name.to_owned(), size);
            }
        }
        let name_width = large.keys().map(|name| name.chars().count()).max().unwrap_or(0).min(NAME);
        // Hidden as well on a terminal that cannot move the cursor (`TERM` unset or `dumb`).
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        if multi.is_hidden() {
            return Progress(None);
        }
        let total = multi.add(
            ProgressBar::new(total)
                .with_style(style("nix-hug: {percent:>3}%|{bar:10}| {done}/{size} [{elapsed}<{eta}, {rate}]")),
        );
        // Redrawn while no bytes come too (a stalled connection, a wait before a retry): the clock
        // goes on and the speed falls.
        total.enable_steady_tick(TICK);
        let file_style =
            style(&format!("  {{prefix:<{name_width}}} {{percent:>3}}%|{{bar:10}}| {{done}}/{{size}} {{rate}}"));
        msg::show_bars(&multi);
        Progress(Some(Bars { multi, total, large, file_style, files: Mutex::default() }))
    }

    pub fn update(&self, event: &Event) {
        let Some(bars) = &self.0 else { return };
        match *event {
            Event::Bytes { name, n } => {
                bars.total.inc(n);
                if bars.large.contains_key(name) {
                    bars.file_bytes(name, n);
                }
            }
            Event::Reused { size, .. } => {
                // Under the lock, so that two files reused at once both come off.
                let _files = bars.files.lock().unwrap();
                bars.total.set_length(bars.total.length().unwrap_or(0).saturating_sub(size));
            }
            Event::Done { name, .. } if bars.large.contains_key(name) => {
                let mut files = bars.files.lock().unwrap();
                if let Some(i) = files.bars.iter().position(|(shown, _)| shown == name) {
                    let (_, bar) = files.bars.remove(i);
                    bar.finish_and_clear();
                    bars.multi.remove(&bar);
                }
            }
            Event::Done { .. } => {}
        }
    }

    /// Clears the bars: the download is over.
    pub fn finish(&self) {
        if let Some(bars) = &self.0 {
            bars.total.disable_steady_tick();
            msg::hide_bars();
        }
    }
}

impl Bars {
    fn file_bytes(&self, name: &str, n: u64) {
        let mut files = self.files.lock().unwrap();
        let starting = files.started.insert(name.to_owned());
        if let Some((_, bar)) = files.bars.iter().find(|(shown, _)| shown == name) {
            bar.inc(n);
        } else if starting && files.bars.len() < FILE_BARS {
            // Only a file that is just starting: the speed of one under way would be wrong at first.
            let size = self.large[name];
            let bar = ProgressBar::new(size).with_style(self.file_style.clone()).with_prefix(short(name));
            // The largest on top, below the total.
            let at = files.bars.iter().take_while(|(_, shown)| shown.length() >= Some(size)).count();
            let bar = self.multi.insert(at + 1, bar.with_position(n));
            // Drawn at once, for the total's ticks to show it even if no more bytes come; its speed is
            // that of the bytes after these first ones.
            bar.tick();
            bar.reset_eta();
            files.bars.insert(at, (name.to_owned(), bar));
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `template` with sizes, times and speeds written as the rest of nix-hug writes them, and `#` bars.
fn style(template: &str) -> ProgressStyle {
    // Bytes fetched again after a failure count twice: never show more than all.
    let done = |s: &ProgressState| s.pos().min(s.len().unwrap_or(0));
    ProgressStyle::with_template(template)
        .expect("the bar templates are valid")
        .progress_chars("# ")
        .with_key("done", move |s: &ProgressState, w: &mut dyn Write| _ = w.write_str(&human_size(done(s))))
        .with_key("size", |s: &ProgressState, w: &mut dyn Write| _ = w.write_str(&human_size(s.len().unwrap_or(0))))
        .with_key("elapsed", |s: &ProgressState, w: &mut dyn Write| _ = w.write_str(&clock(s.elapsed().as_secs())))
        .with_key("eta", |s: &ProgressState, w: &mut dyn Write| {
            _ = w.write_str(&speed(s).map_or("?".into(), |_| clock(s.eta().as_secs())))
        })
        .with_key("rate", |s: &ProgressState, w: &mut dyn Write| {
            _ = w.write_str(&speed(s).map_or("?/s".into(), |rate| format!("{}/s", human_size(rate))))
        })
}

/// The speed of a bar, in bytes per second, once it means something.
fn speed(s: &ProgressState) -> Option<u64> {
    known(s.elapsed(), s.per_sec())
}

/// `per_sec` after `elapsed`, unless it is too early to tell: in its first second a bar has seen too
/// few bytes (the first ones, say, that came in a burst).
fn known(elapsed: Duration, per_sec: f64) -> Option<u64> {
    (elapsed >= Duration::from_secs(1) && per_sec >= 1.0).then_some(per_sec as u64)
}

/// `name`, cut from the left to `NAME` characters.
fn short(name: &str) -> String {
    let chars = name.chars().count();
    if chars <= NAME {
        name.to_owned()
    } else {
        format!("…{}", name.chars().skip(chars - NAME + 1).collect::<String>())
    }
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
    fn clocks() {
        assert_eq!(clock(0), "00:00");
        assert_eq!(clock(65), "01:05");
        assert_eq!(clock(7387), "2:03:07");
    }

    #[test]
    fn names_are_cut_from_the_left() {
        assert_eq!(short("model.safetensors"), "model.safetensors");
        assert_eq!(short("data/train-00001.parquet"), "data/train-00001.parquet");
        assert_eq!(short("model-00001-of-00002.safetensors"), "…0001-of-00002.safetensors");
        assert_eq!(short("ünïcödé/model-00001.safetensors").chars().count(), NAME);
    }

    #[test]
    fn speeds() {
        let secs = Duration::from_secs;
        assert_eq!(known(secs(0), 3e9), None, "too early");
        assert_eq!(known(Duration::from_millis(999), 1536.0), None);
        assert_eq!(known(secs(1), 1536.7), Some(1536));
        assert_eq!(known(secs(5), 0.0), None, "nothing yet");
        assert_eq!(known(secs(5), 0.5), None);
    }
}
