/*!
Room on the disks a fetch fills. Before a download, the folders it will write to are checked against
what the plan will put there, so that a disk too small is one error at the start, not "no space left"
half-way through a download of gigabytes. A disk that fills anyway (something else took the room
meanwhile) is reported by the write that failed (`download`).
*/

use crate::debug;
use crate::error::{Error, Kind, Result};
use crate::render::human_size;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A file's data takes whole blocks: 4 KiB on ext4, xfs, btrfs and tmpfs as they are usually made.
const BLOCK: u64 = 4096;

/// What a cache folder of files of these sizes takes on a disk: each file's blocks, and a block more for
/// its link in the snapshot and its line in the tree listing.
pub fn on_disk(sizes: impl IntoIterator<Item = u64>) -> u64 {
    sizes.into_iter().map(|size| size.div_ceil(BLOCK) * BLOCK + BLOCK).sum()
}

/// What the NAR of such a folder takes: the files' bytes, and less than a KiB of framing per file (its
/// entry, its link's, their folders').
pub fn nar(sizes: impl IntoIterator<Item = u64>) -> u64 {
    sizes.into_iter().map(|size| size + 1024).sum::<u64>() + BLOCK
}

/// Bytes free on the file system of `dir` for this user (root may use the blocks kept for it), and the
/// file system's device.
fn free(dir: &Path) -> io::Result<(u64, u64)> {
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())?;
    // SAFETY: statvfs fills the struct it is given, from a NUL-terminated path.
    let mut fs: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut fs) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let blocks = if unsafe { libc::geteuid() } == 0 { fs.f_bfree } else { fs.f_bavail };
    #[allow(clippy::useless_conversion, reason = "the fields are narrower on some platforms")]
    let (blocks, block) = (u64::from(blocks), u64::from(fs.f_frsize));
    Ok((blocks.saturating_mul(block), std::fs::metadata(dir)?.dev()))
}

/// Refuses a fetch that needs more room than there is: `at_once` are folders and the bytes they will
/// hold at the same moment; folders on one file system add up. A folder whose file system cannot be
/// asked is not checked (the writes will say what is wrong with it).
pub fn check(at_once: &[(&Path, u64)]) -> Result<()> {
    // (device, folders, bytes needed, bytes free)
    let mut disks: Vec<(u64, Vec<&Path>, u64, u64)> = Vec::new();
    for &(dir, need) in at_once {
        let (free, dev) = match free(dir) {
            Ok(free) => free,
            Err(e) => {
                debug!("free space in {}: {e}", dir.display());
                continue;
            }
        };
        match disks.iter_mut().find(|d| d.0 == dev) {
            Some(disk) => {
                if !disk.1.contains(&dir) {
                    disk.1.push(dir);
                }
                disk.2 += need;
            }
            None => disks.push((dev, vec![dir], need, free)),
        }
    }
    for (_, dirs, need, free) in disks {
        if need > free {
            let named: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            let place = match &named[..] {
                [one] => one.clone(),
                many => format!("{} (one file system)", many.join(" and ")),
            };
            let (need, free) = (human_size(need), human_size(free));
            let msg = format!("not enough space: the fetch needs {need} in {place}, which has {free} free");
            return Err(Error::new(Kind::Failed, msg));
        }
    }
    Ok(())
}

/// The error of a write that failed: a full disk (or quota) says so in words and names the folder.
pub fn write_error(e: io::Error, file: &Path) -> Error {
    if matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded) {
        let dir = file.parent().unwrap_or(file);
        Error::new(Kind::Failed, format!("no space left in {}", dir.display()))
    } else {
        Error::from(e).context(file.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_on_disk() {
        assert_eq!(on_disk([]), 0);
        assert_eq!(on_disk([0, 1, 4096, 4097]), 4096 + 8192 + 8192 + 12288);
        assert_eq!(nar([10, 20]), 30 + 2048 + 4096);
    }

    #[test]
    fn checks_add_up_per_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let (free, _) = free(dir.path()).unwrap();
        assert!(check(&[(dir.path(), 1)]).is_ok());
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let half = free / 2 + (1 << 30);
        let e = check(&[(dir.path(), half), (&sub, 0), (dir.path(), half)]).unwrap_err();
        let want = format!("in {} and {} (one file system), which has ", dir.path().display(), sub.display());
        assert!(
            e.to_string().starts_with("not enough space: the fetch needs ") && e.to_string().contains(&want),
            "{e}"
        );
        assert!(check(&[(&dir.path().join("missing"), u64::MAX)]).is_ok(), "not asked, not refused");
    }

    #[test]
    fn full_disks_say_so() {
        let e = write_error(io::Error::from_raw_os_error(libc::ENOSPC), Path::new("/tmp/x/blobs/.a.part"));
        assert_eq!(e.to_string(), "no space left in /tmp/x/blobs");
        let e = write_error(io::Error::from_raw_os_error(libc::EIO), Path::new("/tmp/x/blobs/.a.part"));
        assert!(e.to_string().starts_with("/tmp/x/blobs/.a.part: "), "{e}");
    }
}
