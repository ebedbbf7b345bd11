/*!
Persistent storage for outputs that must survive garbage collection: the configuration
(`$XDG_CONFIG_HOME/nix-hug/config`, overridden by `NIX_HUG_PERSIST_DIR` and `NIX_HUG_AUTO_PERSIST`), and
the manifest `nix-hug-manifest.json` of the persist directory, a local binary cache filled by
`nix copy`. The manifest never loses data: every change is a read-modify-write under an exclusive lock,
written to a temporary file, synced and renamed into place; a manifest that cannot be read is an error
that leaves it untouched. Never calls nix itself (the commands do, through `nix.rs`).
*/

use crate::error::{Context, Error, Kind, Result, usage};
use crate::filter::Filters;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "nix-hug-manifest.json";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub persist_dir: Option<PathBuf>,
    pub auto_persist: bool,
    /// The file it was read from, or would be, for messages.
    pub path: PathBuf,
}

impl Config {
    /// The config file (if any), then the environment, which wins.
    pub fn load() -> Result<Config> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        let dir = var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")))
            .unwrap_or_default();
        let path = dir.join("nix-hug").join("config");
        let mut config = match fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config { path, ..Config::default() },
            Err(e) => return Err(Error::from(e).context(path.display())),
        };
        if let Some(dir) = var("NIX_HUG_PERSIST_DIR") {
            config.persist_dir = Some(PathBuf::from(dir));
        }
        if let Some(v) = var("NIX_HUG_AUTO_PERSIST") {
            config.auto_persist = parse_bool(&v.to_string_lossy())
                .ok_or_else(|| usage(format!("NIX_HUG_AUTO_PERSIST={v:?}: expected true or false")))?;
        }
        Ok(config)
    }

    /// `key=value` lines; blank lines and `#` comments are ignored; anything else is an error naming the line.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let mut config = Config { path: path.to_owned(), ..Config::default() };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| usage(format!("{}:{}: {why}", path.display(), n + 1));
            let (key, value) = line.split_once('=').ok_or_else(|| bad("expected key=value"))?;
            let value = value.trim();
            match key.trim() {
                "persist_dir" if value.is_empty() => return Err(bad("persist_dir is empty")),
                "persist_dir" => config.persist_dir = Some(PathBuf::from(value)),
                "auto_persist" => {
                    config.auto_persist =
                        parse_bool(value).ok_or_else(|| bad("auto_persist: expected true or false"))?
                }
                other => return Err(bad(&format!("unknown key {other:?} (known: persist_dir, auto_persist)"))),
            }
        }
        Ok(config)
    }

    /// The persist directory, or an error that says how to set one.
    pub fn persist_dir(&self) -> Result<&Path> {
        self.persist_dir.as_deref().ok_or_else(|| {
            usage(format!(
                "no persist directory configured: add `persist_dir=/some/dir` to {} or set NIX_HUG_PERSIST_DIR",
                self.path.display()
            ))
        })
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

/// One exported output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub repo_id: String,
    /// `model` or `dataset`.
    #[serde(rename = "type")]
    pub kind: String,
    pub rev: String,
    pub filters: Filters,
    pub file_tree_hash: String,
    pub store_path: String,
    /// Bytes of the files.
    pub size: u64,
    /// When it was exported, RFC 3339 UTC.
    pub exported: String,
}

impl Entry {
    /// Two entries for the same output replace each other.
    fn same_output(&self, other: &Entry) -> bool {
        self.store_path == other.store_path
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    entries: Vec<Entry>,
}

/// The persist directory: a binary cache plus the manifest.
pub struct Persist {
    dir: PathBuf,
}

impl Persist {
    pub fn new(dir: &Path) -> Persist {
        Persist { dir: dir.to_owned() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The binary cache URL for `nix copy`, uncompressed (xz, Nix's default, is far too slow for weights).
    pub fn cache_url(&self) -> String {
        format!("file://{}?compression=none", self.dir.display())
    }

    pub fn entries(&self) -> Result<Vec<Entry>> {
        Ok(self.read()?.entries)
    }

    /// Adds or replaces the entry for the same output, under the lock, atomically.
    pub fn record(&self, entry: Entry) -> Result<()> {
        fs::create_dir_all(&self.dir).with_context(|| self.dir.display())?;
        let lock_path = self.dir.join(format!("{MANIFEST}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| lock_path.display())?;
        lock.lock().with_context(|| lock_path.display())?;
        let mut manifest = self.read()?;
        manifest.entries.retain(|e| !e.same_output(&entry));
        manifest.entries.push(entry);
        self.write(&manifest)
        // The lock goes with `lock`.
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir.join(MANIFEST)
    }

    fn read(&self) -> Result<Manifest> {
        let path = self.manifest_path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<Manifest>(&bytes).ok().filter(|m| m.version == 1).ok_or_else(|| {
                Error::new(
                    Kind::Io,
                    format!(
                        "{} is corrupt or of an unknown version; it was left as it is: fix or move it",
                        path.display()
                    ),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest { version: 1, entries: Vec::new() }),
            Err(e) => Err(Error::from(e).context(path.display())),
        }
    }

    fn write(&self, manifest: &Manifest) -> Result<()> {
        let path = self.manifest_path();
        let tmp = self.dir.join(format!(".{MANIFEST}.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&tmp)?;
            serde_json::to_writer_pretty(&mut file, manifest)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            fs::rename(&tmp, &path)?;
            File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::from(e).context(path.display())
        })
    }
}

/// Now, as RFC 3339 UTC (`2026-11-24T14:19:16Z`).
pub fn now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files() {
        let path = Path::new("/etc/nix-hug/config");
        let c = Config::parse("# models\npersist_dir = /persist/my models\nauto_persist=TRUE\n\n", path).unwrap();
        assert_eq!(c.persist_dir.as_deref(), Some(Path::new("/persist/my models")));
        assert!(c.auto_persist);
        for (text, line) in [("persist_dir\n", 1), ("\nauto_persist=maybe", 2), ("color=red", 1), ("persist_dir=", 1)] {
            let e = Config::parse(text, path).unwrap_err();
            assert!(e.to_string().starts_with(&format!("/etc/nix-hug/config:{line}: ")), "{e}");
        }
        let e = Config::parse("", path).unwrap().persist_dir().unwrap_err();
        assert!(e.to_string().contains("NIX_HUG_PERSIST_DIR") && e.to_string().contains("/etc/nix-hug/config"), "{e}");
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_962_756), "2026-11-29T14:32:36Z");
    }

    fn entry(path: &str) -> Entry {
        Entry {
            repo_id: "acme/tiny-bert".into(),
            kind: "model".into(),
            rev: "0".repeat(40),
            filters: Filters::default(),
            file_tree_hash: "sha256-x".into(),
            store_path: path.into(),
            size: 1,
            exported: now(),
        }
    }

    #[test]
    fn manifest_keeps_every_entry_and_refuses_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let persist = Persist::new(&dir.path().join("a dir with spaces"));
        assert!(persist.entries().unwrap().is_empty());
        std::thread::scope(|s| {
            for i in 0..8 {
                let persist = &persist;
                s.spawn(move || persist.record(entry(&format!("/nix/store/{i}"))).unwrap());
            }
        });
        assert_eq!(persist.entries().unwrap().len(), 8, "concurrent records all land");
        persist.record(entry("/nix/store/3")).unwrap();
        assert_eq!(persist.entries().unwrap().len(), 8, "the same output replaces its entry");

        let manifest = persist.dir().join(MANIFEST);
        fs::write(&manifest, b"{ not json").unwrap();
        assert!(persist.entries().unwrap_err().to_string().contains("left as it is"));
        assert!(persist.record(entry("/nix/store/9")).is_err());
        assert_eq!(fs::read(&manifest).unwrap(), b"{ not json", "a corrupt manifest is never overwritten");
    }
}
