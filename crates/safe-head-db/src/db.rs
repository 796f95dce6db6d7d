//! [`SafeHeadDb`]: the entries in memory, mirrored into one file; see the crate docs.

use crate::{
    SafeHeadDbError, SafeHeadDbMetrics,
    format::{self, HEADER_LEN, Header, RECORD_LEN, VERSION},
};
use alloy_eips::BlockNumHash;
use parking_lot::Mutex;
use std::{
    fmt,
    fs::{self, File, OpenOptions},
    io::{self, Read},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
};
use tracing::{debug, info, warn};

/// Entries kept by default: one week of 12-second L1 blocks (op-challenger looks back at most a
/// dispute game's duration, which is 3.5 days on OP Mainnet). About 4.2 MB of file.
pub const DEFAULT_RETENTION: usize = 7 * 24 * 60 * 60 / 12;

/// Fewest records beyond the retention the file may hold before it is compacted, so that a tiny
/// retention does not rewrite the file on every record.
const MIN_COMPACTION_SLACK: usize = 16;

/// Mode of a new database file: nothing secret in it.
const FILE_MODE: u32 = 0o644;

/// Records beyond `retention` that the file may hold before it is compacted: an eighth of it, so
/// compactions are rare (every ~6 300 records by default) and the file stays within 9/8 of the
/// retention.
const fn compaction_slack(retention: usize) -> usize {
    let slack = retention / 8;
    if slack > MIN_COMPACTION_SLACK { slack } else { MIN_COMPACTION_SLACK }
}

/// The L2 safe head derivation had reached once it had read L1 up to `l1_block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SafeHeadEntry {
    /// The L1 block (the one the safe head's attributes were derived from).
    pub l1_block: BlockNumHash,
    /// The L2 safe head.
    pub safe_head: BlockNumHash,
}

/// Which L2 safe head derivation reached from each L1 block, in memory and in one file; see
/// the crate docs. Internally synchronized: share it as `Arc<SafeHeadDb>`.
pub struct SafeHeadDb {
    path: PathBuf,
    retention: usize,
    inner: Mutex<Inner>,
}

impl fmt::Debug for SafeHeadDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafeHeadDb")
            .field("path", &self.path)
            .field("retention", &self.retention)
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

/// The state behind the lock.
struct Inner {
    /// The open file; `None` after a compaction replaced the file but it could not be opened
    /// again (the next write tries).
    file: Option<File>,
    /// Every record the file holds (or should hold), oldest first: the newest `retention` are
    /// served. Memory is the truth: a failed write leaves the file behind, and the next write
    /// repairs it from here.
    entries: Vec<SafeHeadEntry>,
    /// How many records the file holds, when `stale_from` is `None`.
    on_disk: usize,
    /// The first entry whose record on disk may be wrong since a write failed.
    stale_from: Option<usize>,
}

impl SafeHeadDb {
    /// Opens the database at `path`, creating it (and its directory) if missing, serving at most
    /// `retention` entries (see [`DEFAULT_RETENTION`]).
    ///
    /// A torn, corrupt or out-of-order record ends the file: it and everything after it are
    /// dropped and the file is truncated to the valid prefix (logged and counted). A file with
    /// another header is refused and left alone.
    pub fn open(path: impl Into<PathBuf>, retention: usize) -> Result<Self, SafeHeadDbError> {
        let path = path.into();
        if retention == 0 {
            return Err(SafeHeadDbError::ZeroRetention);
        }
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            fs::create_dir_all(dir)
                .map_err(SafeHeadDbError::io(&path, "create the directory of"))?;
        }
        // Atomic: a crash never leaves a file without its header.
        match rollup_fs::write_new(&path, &format::header(), FILE_MODE) {
            Ok(()) => {
                info!(target: "safe_head_db", path = %path.display(), retention, "created the safe head database")
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(SafeHeadDbError::io(&path, "create")(err)),
        }
        let mut file = open_file(&path).map_err(SafeHeadDbError::io(&path, "open"))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(SafeHeadDbError::io(&path, "read"))?;
        if bytes.is_empty() {
            // An empty file (made by hand, say) is an empty database.
            file.write_all_at(&format::header(), 0)
                .map_err(SafeHeadDbError::io(&path, "write the header of"))?;
            bytes = format::header().to_vec();
        }
        match format::read_header(&bytes) {
            Header::Current => {}
            Header::Version(found) => {
                return Err(SafeHeadDbError::UnsupportedVersion {
                    path,
                    found,
                    supported: VERSION,
                });
            }
            Header::Foreign => return Err(SafeHeadDbError::NotASafeHeadDb { path }),
        }

        let mut entries: Vec<SafeHeadEntry> =
            Vec::with_capacity((bytes.len() - HEADER_LEN) / RECORD_LEN);
        for record in bytes[HEADER_LEN..].chunks(RECORD_LEN) {
            let Some(entry) = format::decode(record) else { break };
            // Records are sorted by L1 number; one that is not was not written by us.
            if entries.last().is_some_and(|last| last.l1_block.number >= entry.l1_block.number) {
                break;
            }
            entries.push(entry);
        }
        let valid = format::offset(entries.len());
        let dropped = bytes.len() as u64 - valid;
        if dropped > 0 {
            warn!(target: "safe_head_db", path = %path.display(), dropped_bytes = dropped, kept = entries.len(), "dropping a torn or corrupt tail of the safe head database (a crash during a write)");
            metrics::counter!(SafeHeadDbMetrics::DROPPED_ON_OPEN).increment(dropped);
            file.set_len(valid).map_err(SafeHeadDbError::io(&path, "truncate"))?;
        }

        let on_disk = entries.len();
        let db = Self {
            path,
            retention,
            inner: Mutex::new(Inner { file: Some(file), entries, on_disk, stale_from: None }),
        };
        {
            let mut inner = db.inner.lock();
            // A lower retention than the file was written with.
            if inner.entries.len() > retention + compaction_slack(retention) {
                db.compact(&mut inner)?;
            }
            let served = inner.served(retention);
            info!(target: "safe_head_db", path = %db.path.display(), entries = served.len(), oldest_l1 = ?served.first().map(|e| e.l1_block.number), latest_l1 = ?served.last().map(|e| e.l1_block.number), "safe head database opened");
            inner.report(retention);
        }
        Ok(db)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The most entries served.
    pub const fn retention(&self) -> usize {
        self.retention
    }

    /// Records that derivation reached `safe_head` from L1 up to `l1_block`.
    ///
    /// If `l1_block`'s number is at or below the newest entry's, every entry from that number
    /// on is removed first: derivation went over those L1 blocks again, and the new answer
    /// replaces the old ones (the same L1 block recorded twice keeps the later safe head).
    ///
    /// On a write error the entry is still recorded in memory and served; the error is
    /// returned, and the next write repairs the file.
    pub fn record(
        &self,
        l1_block: BlockNumHash,
        safe_head: BlockNumHash,
    ) -> Result<(), SafeHeadDbError> {
        let entry = SafeHeadEntry { l1_block, safe_head };
        let mut inner = self.inner.lock();
        if inner.stale_from.is_none() && inner.entries.last() == Some(&entry) {
            return Ok(());
        }
        let at = inner.entries.partition_point(|e| e.l1_block.number < l1_block.number);
        // Overwriting the newest entry of the same L1 block is the common case (several L2
        // blocks per L1 block); anything else re-derived older L1 blocks.
        let rederived = inner.entries[at..].iter().filter(|e| e.l1_block != l1_block).count();
        if rederived > 0 {
            debug!(target: "safe_head_db", l1 = l1_block.number, removed = rederived, "re-derived L1 blocks replace newer safe head entries");
            metrics::counter!(SafeHeadDbMetrics::REMOVED, "reason" => "rederived")
                .increment(rederived as u64);
        }
        inner.entries.truncate(at);
        inner.entries.push(entry);
        metrics::counter!(SafeHeadDbMetrics::RECORDS).increment(1);
        let written = inner.persist(&self.path, at);
        inner.report(self.retention);
        written.map_err(SafeHeadDbError::io(&self.path, "write"))?;
        if inner.entries.len() > self.retention + compaction_slack(self.retention) {
            self.compact(&mut inner)?;
        }
        Ok(())
    }

    /// Removes every entry from the first one whose safe head is above L2 block `number` on
    /// (the engine was reset to safe head `number`: what was derived after it is void). Returns
    /// how many entries were removed.
    ///
    /// Safe heads only grow along the entries (each reset removes what was above it), so this
    /// removes exactly the entries whose safe head is above `number`.
    pub fn remove_above_safe_head(&self, number: u64) -> Result<usize, SafeHeadDbError> {
        let mut inner = self.inner.lock();
        let at = inner.entries.iter().position(|e| e.safe_head.number > number);
        self.remove_from_index(&mut inner, at, "safe_head_reset")
    }

    /// Removes every entry with L1 number `number` or above (that L1 block is no longer
    /// canonical). Returns how many entries were removed.
    pub fn remove_from_l1(&self, number: u64) -> Result<usize, SafeHeadDbError> {
        let mut inner = self.inner.lock();
        let at = inner.entries.partition_point(|e| e.l1_block.number < number);
        self.remove_from_index(&mut inner, Some(at), "l1_reorg")
    }

    /// The entry with the highest L1 number at or below `l1_number`: the safe head once L1 up
    /// to `l1_number` was derived. `None` when `l1_number` is below the oldest entry, or the
    /// database is empty.
    pub fn safe_head_at(&self, l1_number: u64) -> Option<SafeHeadEntry> {
        let inner = self.inner.lock();
        let served = inner.served(self.retention);
        let above = served.partition_point(|e| e.l1_block.number <= l1_number);
        above.checked_sub(1).map(|index| served[index])
    }

    /// The newest entry.
    pub fn latest(&self) -> Option<SafeHeadEntry> {
        self.inner.lock().served(self.retention).last().copied()
    }

    /// The oldest entry served.
    pub fn earliest(&self) -> Option<SafeHeadEntry> {
        self.inner.lock().served(self.retention).first().copied()
    }

    /// The entries with an L1 number above `l1_number`, oldest first.
    pub fn entries_above(&self, l1_number: u64) -> Vec<SafeHeadEntry> {
        let inner = self.inner.lock();
        let served = inner.served(self.retention);
        served[served.partition_point(|e| e.l1_block.number <= l1_number)..].to_vec()
    }

    /// How many entries are served.
    pub fn len(&self) -> usize {
        self.inner.lock().served(self.retention).len()
    }

    /// Whether no entry is served.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes the entries from index `at` on (nothing when `None`), counted under `reason`.
    fn remove_from_index(
        &self,
        inner: &mut Inner,
        at: Option<usize>,
        reason: &'static str,
    ) -> Result<usize, SafeHeadDbError> {
        let Some(at) = at.filter(|at| *at < inner.entries.len()) else { return Ok(0) };
        let removed = inner.entries.len() - at;
        inner.entries.truncate(at);
        metrics::counter!(SafeHeadDbMetrics::REMOVED, "reason" => reason).increment(removed as u64);
        let written = inner.persist(&self.path, at);
        inner.report(self.retention);
        written.map_err(SafeHeadDbError::io(&self.path, "truncate"))?;
        Ok(removed)
    }

    /// Rewrites the file with the served entries only, atomically, and opens it again.
    fn compact(&self, inner: &mut Inner) -> Result<(), SafeHeadDbError> {
        let keep_from = inner.entries.len().saturating_sub(self.retention);
        let kept = &inner.entries[keep_from..];
        let mut bytes = Vec::with_capacity(HEADER_LEN + kept.len() * RECORD_LEN);
        bytes.extend_from_slice(&format::header());
        for entry in kept {
            format::encode(entry, &mut bytes);
        }
        let result = rollup_fs::replace(&self.path, &bytes, FILE_MODE);
        if let Err(err) = result {
            metrics::counter!(SafeHeadDbMetrics::WRITE_ERRORS).increment(1);
            return Err(SafeHeadDbError::io(&self.path, "compact")(err));
        }
        inner.entries.drain(..keep_from);
        inner.on_disk = inner.entries.len();
        inner.stale_from = None;
        metrics::counter!(SafeHeadDbMetrics::COMPACTIONS).increment(1);
        debug!(target: "safe_head_db", dropped = keep_from, kept = inner.entries.len(), "safe head database compacted");
        // The old handle points at the replaced file.
        inner.file = None;
        inner.file = Some(open_file(&self.path).map_err(SafeHeadDbError::io(&self.path, "open"))?);
        Ok(())
    }
}

impl Inner {
    /// The entries served: the newest `retention`.
    fn served(&self, retention: usize) -> &[SafeHeadEntry] {
        &self.entries[self.entries.len().saturating_sub(retention)..]
    }

    fn report(&self, retention: usize) {
        let served = self.served(retention);
        metrics::gauge!(SafeHeadDbMetrics::ENTRIES).set(served.len() as f64);
        metrics::gauge!(SafeHeadDbMetrics::LATEST_L1_BLOCK)
            .set(served.last().map_or(0, |e| e.l1_block.number) as f64);
    }

    /// Makes the file match `entries`, which changed from index `from` on (and from where an
    /// earlier write failed, if one did).
    fn persist(&mut self, path: &Path, from: usize) -> io::Result<()> {
        let repair = self.stale_from.is_some();
        let from = self.stale_from.map_or(from, |stale| stale.min(from)).min(self.entries.len());
        // Until this write completes, the file may be wrong from here on.
        self.stale_from = Some(from);
        let result = self.write_tail(path, from, repair);
        if result.is_ok() {
            self.on_disk = self.entries.len();
            self.stale_from = None;
        } else {
            metrics::counter!(SafeHeadDbMetrics::WRITE_ERRORS).increment(1);
        }
        result
    }

    fn write_tail(&mut self, path: &Path, from: usize, repair: bool) -> io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            file @ None => file.insert(open_file(path)?),
        };
        // Shrink first: a crash between the two leaves fewer entries, never an entry that was
        // removed next to the one that replaces it. Appending, or overwriting the newest record
        // in place, needs no shrinking (one write).
        if repair || self.entries.len() < self.on_disk {
            file.set_len(format::offset(from))?;
        }
        let tail = &self.entries[from..];
        if tail.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(tail.len() * RECORD_LEN);
        for entry in tail {
            format::encode(entry, &mut bytes);
        }
        file.write_all_at(&bytes, format::offset(from))
    }
}

fn open_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

    fn id(number: u64, tag: u8) -> BlockNumHash {
        BlockNumHash::new(number, B256::with_last_byte(tag))
    }

    #[test]
    fn the_file_stays_within_its_bound_and_keeps_the_newest_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("safe_head.db");
        let retention = 20;
        let bound = format::offset(retention + compaction_slack(retention));
        let db = SafeHeadDb::open(&path, retention).unwrap();
        for n in 1..=500 {
            db.record(id(n, 1), id(n * 10, 2)).unwrap();
            let len = fs::metadata(&path).unwrap().len();
            assert!(len <= bound, "file of {len} bytes after {n} records (bound {bound})");
            assert!(db.len() <= retention);
        }
        assert_eq!(db.len(), retention);
        assert_eq!(db.earliest().unwrap().l1_block.number, 481);
        assert_eq!(db.latest().unwrap().l1_block.number, 500);
        assert_eq!(db.safe_head_at(480), None, "older entries are gone");
        drop(db);
        let reopened = SafeHeadDb::open(&path, retention).unwrap();
        assert_eq!(
            reopened.entries_above(0),
            (481..=500)
                .map(|n| SafeHeadEntry { l1_block: id(n, 1), safe_head: id(n * 10, 2) })
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_lower_retention_compacts_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("safe_head.db");
        let db = SafeHeadDb::open(&path, 1000).unwrap();
        for n in 1..=100 {
            db.record(id(n, 1), id(n, 2)).unwrap();
        }
        drop(db);
        let db = SafeHeadDb::open(&path, 10).unwrap();
        assert_eq!(db.len(), 10);
        assert_eq!(fs::metadata(&path).unwrap().len(), format::offset(10));
    }

    /// A write that fails (here: the handle is read-only) keeps the entry in memory, and the
    /// next write that succeeds brings the file up to date, truncations included.
    #[test]
    fn a_failed_write_is_repaired_by_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("safe_head.db");
        let db = SafeHeadDb::open(&path, 100).unwrap();
        for n in 1..=5 {
            db.record(id(n, 1), id(n, 2)).unwrap();
        }
        db.inner.lock().file = Some(File::open(&path).unwrap());
        assert!(db.record(id(3, 9), id(30, 9)).is_err(), "a read-only handle fails");
        assert!(db.record(id(4, 9), id(40, 9)).is_err());
        assert_eq!(db.latest().unwrap().safe_head, id(40, 9), "served from memory");
        assert_eq!(db.inner.lock().stale_from, Some(2));

        db.inner.lock().file = Some(open_file(&path).unwrap());
        db.record(id(5, 9), id(50, 9)).unwrap();
        drop(db);
        let reopened = SafeHeadDb::open(&path, 100).unwrap();
        let l1: Vec<_> = reopened.entries_above(0).iter().map(|e| e.l1_block).collect();
        assert_eq!(l1, vec![id(1, 1), id(2, 1), id(3, 9), id(4, 9), id(5, 9)]);
        assert_eq!(fs::metadata(&path).unwrap().len(), format::offset(5));
    }
}
