/*!
The temporary folders of a run (which can hold gigabytes of a download), and everything that removes
them: dropping one, whether the command succeeded or not; Ctrl-C (SIGINT) or SIGTERM, after which the
progress bars are cleared and the process exits at once with 130 or 143, as shells report those
signals; and, for a run that could not remove its own (killed with -9, a power loss), the next run that
makes one, once that run's process is gone.
*/

use crate::error::{Error, Result};
use crate::{info, msg, warn};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The folders to remove on a signal.
static FOLDERS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Waits for the signals on a thread of its own, for the rest of the run.
pub fn handle_signals() -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            // Held until the exit, so that no folder is dropped from the list half removed.
            let folders = FOLDERS.lock().unwrap_or_else(|e| e.into_inner());
            for dir in folders.iter() {
                remove(dir);
            }
            msg::last_line(format_args!("nix-hug: interrupted"), 128 + signal);
        }
    });
    Ok(())
}

/// `dir` is removed if a signal ends the run before `keep_on_interrupt(dir)`.
fn remove_on_interrupt(dir: &Path) {
    FOLDERS.lock().unwrap_or_else(|e| e.into_inner()).push(dir.to_owned());
}

fn keep_on_interrupt(dir: &Path) {
    FOLDERS.lock().unwrap_or_else(|e| e.into_inner()).retain(|d| d != dir);
}

/// Removes `dir`, again if download workers still write into it meanwhile.
fn remove(dir: &Path) {
    for _ in 0..20 {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => std::thread::sleep(std::time::Duration::from_millis(5)),
            _ => return,
        }
    }
}

/// Removes the folders `<prefix><pid>-…` in `base` that belong to this user and whose process is gone.
/// Returns those it removed.
pub fn remove_left_behind(base: &Path, prefix: &str) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(base) else { return Vec::new() };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name.to_str().and_then(|n| n.strip_prefix(prefix)?.split('-').next()?.parse::<libc::pid_t>().ok());
        let Some(pid) = pid.filter(|&pid| pid > 0) else { continue };
        let ours = entry.metadata().is_ok_and(|m| m.is_dir() && m.uid() == uid);
        // kill(pid, 0) sends nothing, it only asks: ESRCH means there is no such process.
        // SAFETY: signal 0 is never delivered.
        let gone = unsafe { libc::kill(pid, 0) } != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if ours && gone && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed
}

/// A fresh folder under the system's temporary folder (`TMPDIR`), only for us (0700), removed with
/// everything in it when dropped, whether the command succeeded or not, or when Ctrl-C ends the run.
pub struct TempDir(PathBuf);

const TEMP_PREFIX: &str = "nix-hug-";

impl TempDir {
    pub fn new() -> Result<TempDir> {
        // Absolute, so the folder can be named in a file:// URL even when TMPDIR is relative.
        let base = std::path::absolute(std::env::temp_dir())?;
        for dir in remove_left_behind(&base, TEMP_PREFIX) {
            info!("removed {}, left behind by a run that was killed", dir.display());
        }
        // The pid in the name is how a later run tells a folder whose process is gone.
        let dir = tempfile::Builder::new()
            .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
            .tempdir_in(&base)
            .map_err(|e| Error::from(e).context(format!("creating a folder in {}", base.display())))?
            .keep();
        remove_on_interrupt(&dir);
        Ok(TempDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            warn!("could not remove the temporary folder {}: {e}", self.0.display());
        }
        keep_on_interrupt(&self.0);
    }
}

#[cfg(test)]
mod tests {
    fn names(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[test]
    fn removes_only_what_a_dead_process_left() {
        let base = tempfile::tempdir().unwrap();
        let dead = i32::MAX; // above any pid_max
        let mine = std::process::id();
        let stays = [format!("nix-hug-{mine}-2f"), "nix-hug-x-3f".into(), format!("other-{dead}")];
        for name in stays.iter().chain([&format!("nix-hug-{dead}-1f")]) {
            std::fs::create_dir(base.path().join(name)).unwrap();
        }
        std::fs::write(base.path().join(format!("nix-hug-{dead}-4f")), "a file").unwrap();
        let removed = super::remove_left_behind(base.path(), "nix-hug-");
        assert_eq!(removed, [base.path().join(format!("nix-hug-{dead}-1f"))]);
        let mut kept = stays.to_vec();
        kept.push(format!("nix-hug-{dead}-4f"));
        kept.sort();
        assert_eq!(names(base.path()), kept, "a file, a live process's folder and other names stay");
    }
}
