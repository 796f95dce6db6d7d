//! Crash-safe file writes, the one implementation every binary of the project uses (keys,
//! genesis and config files, the sequencer's FIRM record, devnet files).
//!
//! The bytes go to a temporary file beside the target, created with the final mode, fsynced,
//! then moved into place and the directory entry synced: a reader — or the next start after a
//! crash or a kill — sees the old file or the complete new one, never a torn write, and a key
//! file is never readable by others, not even for a moment. [`write_new`] never replaces an
//! existing file (a hard link, unlike a rename, refuses an existing target); [`replace`] does.
//!
//! Each write gets a temporary name of its own (`.<name>.tmp-<pid>-<random>-<counter>`), made
//! with `create_new` and retried under another name if taken: a temporary file left by a run
//! that crashed mid-write (whose pid may well be ours again, as in a container where the writer
//! is always pid 1), or one of a concurrent writer, can neither block a write nor be reused or
//! removed by it. Readers only ever open the target, so a leftover is never picked up.

use std::{
    collections::hash_map::RandomState,
    fs::{self, File, OpenOptions},
    hash::{BuildHasher, Hasher},
    io::{self, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

/// Names tried before giving up on finding a free temporary name (each one is new: a collision
/// means a leftover or a concurrent writer holds that exact name).
const TEMP_NAME_ATTEMPTS: u32 = 64;

/// A per-process random tag: the pid alone repeats across restarts (containers, pid reuse).
fn process_tag() -> u64 {
    static TAG: OnceLock<u64> = OnceLock::new();
    // std's RandomState has keys from the OS's randomness: hashing the clock with them gives a
    // value another run will not repeat, which is all this needs (uniqueness, not secrecy),
    // without a dependency (this crate has none, so it resolves in both workspaces).
    *TAG.get_or_init(|| {
        let mut h = RandomState::new().build_hasher();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        h.write_u128(now.map_or(0, |d| d.as_nanos()));
        h.finish()
    })
}

/// Creates a temporary file beside `path` under a name no one else holds (mode `mode`), and
/// returns it with its path. Only `create_new` claims a name, so an existing file under a
/// candidate name — whoever left it — is never opened, truncated or removed; the next name
/// is tried instead.
fn create_temp_file(dir: &Path, name: &str, mode: u32) -> io::Result<(File, PathBuf)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last = None;
    for _ in 0..TEMP_NAME_ATTEMPTS {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp =
            dir.join(format!(".{name}.tmp-{}-{:016x}-{n}", std::process::id(), process_tag()));
        match OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp) {
            Ok(file) => return Ok((file, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

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
    // Nothing to clean up when no temporary file could be made: a name that was taken belongs
    // to someone else.
    let (mut f, tmp) = create_temp_file(&dir, &name, mode)?;
    let result = (|| {
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
    fn a_leftover_temporary_file_neither_blocks_nor_leaks_into_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        // What a run that crashed mid-write left, under the name this process would have used
        // before temporary names were unique (the pid repeats: pid 1 in every container start).
        let stale = dir.path().join(format!(".f.tmp-{}", std::process::id()));
        fs::write(&stale, b"torn").unwrap();
        write_new(&path, b"one", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        replace(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        // The leftover is someone else's: neither used nor removed.
        assert_eq!(fs::read(&stale).unwrap(), b"torn");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn concurrent_writers_of_one_file_do_not_collide() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let writers: Vec<_> = (0..8u8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        replace(&path, &[i; 4096], 0o644)?;
                    }
                    io::Result::Ok(())
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap().unwrap();
        }
        // One writer's complete contents, and no temporary file left.
        let contents = fs::read(&path).unwrap();
        assert_eq!(contents.len(), 4096);
        assert!(contents.iter().all(|b| *b == contents[0]));
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
