//! Crash-safe file writes, the one implementation every binary of the project uses (keys,
//! genesis and config files, the sequencer's FIRM record, devnet files).
//!
//! The bytes go to a temporary file beside the target, created with the final mode, fsynced,
//! then moved into place and the directory entry synced: a reader — or the next start after a
//! crash or a kill — sees the old file or the complete new one, never a torn write, and a key
//! file is never readable by others, not even for a moment. [`write_new`] never replaces an
//! existing file (a hard link, unlike a rename, refuses an existing target); [`replace`] does.

use std::{
    fs::{self, OpenOptions},
    io::{self, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

/// Writes `contents` to a temporary file beside `path` (mode `mode`, fsynced) and hands it to
/// `publish`, which moves it into place; the temporary file is gone afterwards either way.
fn via_temp_file(
    path: &Path,
    contents: &[u8],
    mode: u32,
    publish: impl FnOnce(&Path, &Path) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        // `mode` is filtered by the umask; make the result exact.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(contents)?;
        f.sync_all()?;
        publish(&tmp, path)?;
        // Make the new directory entry durable too.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// Creates `path` with `contents` and `mode`, atomically; fails with
/// [`io::ErrorKind::AlreadyExists`] if `path` exists (it is never overwritten).
pub fn write_new(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    // A hard link, unlike a rename, refuses an existing target.
    via_temp_file(path, contents, mode, |tmp, path| fs::hard_link(tmp, path))
}

/// Replaces (or creates) `path` with `contents` and `mode`, atomically.
pub fn replace(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    via_temp_file(path, contents, mode, |tmp, path| fs::rename(tmp, path))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn new_refuses_existing_and_replace_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_new(&path, b"one", 0o600).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let err = write_new(&path, b"two", 0o600).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"one");
        replace(&path, b"three", 0o644).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"three");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir").join("f");
        assert!(write_new(&missing, b"x", 0o600).is_err());
        assert!(replace(&missing, b"x", 0o600).is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
