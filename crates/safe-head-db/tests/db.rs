//! The safe-head database through its public API: lookups, overwrites, reorg and reset
//! truncation, reopening, crash tails, and refusal of foreign files.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_eips::BlockNumHash;
use alloy_primitives::B256;
use rollup_safe_head_db::{DEFAULT_RETENTION, SafeHeadDb, SafeHeadDbError, SafeHeadEntry};
use std::{
    fs::{self, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
};

/// Block `number` of fork `fork` (the hash tells forks apart).
fn block(number: u64, fork: u8) -> BlockNumHash {
    let mut hash = B256::repeat_byte(fork);
    hash[..8].copy_from_slice(&number.to_be_bytes());
    BlockNumHash::new(number, hash)
}

fn entry(l1: u64, l2: u64) -> SafeHeadEntry {
    SafeHeadEntry { l1_block: block(l1, 1), safe_head: block(l2, 2) }
}

struct Db {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Db {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kona").join("safe_head.db");
        Self { _dir: dir, path }
    }

    fn open(&self) -> SafeHeadDb {
        SafeHeadDb::open(&self.path, DEFAULT_RETENTION).unwrap()
    }
}

/// Records `(l1, l2)` pairs of fork 1 (L1) and 2 (L2).
fn record(db: &SafeHeadDb, pairs: &[(u64, u64)]) {
    for &(l1, l2) in pairs {
        db.record(block(l1, 1), block(l2, 2)).unwrap();
    }
}

fn all(db: &SafeHeadDb) -> Vec<(u64, u64)> {
    db.entries_above(0)
        .into_iter()
        .chain(db.safe_head_at(0))
        .map(|e| (e.l1_block.number, e.safe_head.number))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

#[test]
fn lookups_answer_the_highest_l1_block_at_or_below() {
    let t = Db::new();
    let db = t.open();
    assert_eq!(db.safe_head_at(100), None, "empty");
    assert_eq!(db.latest(), None);
    assert!(db.is_empty());
    record(&db, &[(10, 100), (12, 110), (15, 130)]);

    assert_eq!(db.safe_head_at(9), None, "below the oldest entry");
    assert_eq!(db.safe_head_at(0), None);
    assert_eq!(db.safe_head_at(10), Some(entry(10, 100)), "exact");
    assert_eq!(db.safe_head_at(11), Some(entry(10, 100)), "between entries");
    assert_eq!(db.safe_head_at(12), Some(entry(12, 110)));
    assert_eq!(db.safe_head_at(14), Some(entry(12, 110)));
    assert_eq!(db.safe_head_at(15), Some(entry(15, 130)));
    assert_eq!(db.safe_head_at(u64::MAX), Some(entry(15, 130)), "above the newest");
    assert_eq!(db.latest(), Some(entry(15, 130)));
    assert_eq!(db.earliest(), Some(entry(10, 100)));
    assert_eq!(db.len(), 3);
    assert_eq!(db.entries_above(10), vec![entry(12, 110), entry(15, 130)]);
    assert_eq!(db.entries_above(15), vec![]);
}

#[test]
fn the_same_l1_block_recorded_again_keeps_the_later_safe_head() {
    let t = Db::new();
    let db = t.open();
    record(&db, &[(10, 100), (12, 110), (12, 111), (12, 112)]);
    assert_eq!(all(&db), vec![(10, 100), (12, 112)]);
    assert_eq!(
        file_len(&t.path),
        12 + 2 * 84,
        "the newest record is overwritten in place, not appended"
    );
    drop(db);
    assert_eq!(all(&t.open()), vec![(10, 100), (12, 112)]);
}

#[test]
fn recording_an_older_l1_block_replaces_everything_from_it_on() {
    let t = Db::new();
    let db = t.open();
    record(&db, &[(10, 100), (12, 110), (14, 120), (16, 130)]);
    // L1 reorged at 13: derivation goes over 13.. again, on the new fork.
    db.record(block(13, 7), block(115, 7)).unwrap();
    assert_eq!(all(&db), vec![(10, 100), (12, 110), (13, 115)]);
    assert_eq!(db.latest().unwrap().l1_block, block(13, 7));
    assert_eq!(db.safe_head_at(16).unwrap().safe_head, block(115, 7));
    // The same L1 number on another fork replaces it too.
    db.record(block(12, 8), block(111, 8)).unwrap();
    assert_eq!(all(&db), vec![(10, 100), (12, 111)]);
    assert_eq!(db.latest().unwrap().l1_block, block(12, 8));
    drop(db);
    let db = t.open();
    assert_eq!(all(&db), vec![(10, 100), (12, 111)]);
    assert_eq!(file_len(&t.path), 12 + 2 * 84);
}

#[test]
fn a_reset_removes_the_entries_above_its_safe_head() {
    let t = Db::new();
    let db = t.open();
    record(&db, &[(10, 100), (12, 110), (14, 120), (16, 130)]);
    assert_eq!(db.remove_above_safe_head(130).unwrap(), 0, "nothing above");
    assert_eq!(db.remove_above_safe_head(115).unwrap(), 2);
    assert_eq!(all(&db), vec![(10, 100), (12, 110)]);
    assert_eq!(db.remove_above_safe_head(110).unwrap(), 0, "a safe head equal to it stays");
    assert_eq!(db.remove_above_safe_head(0).unwrap(), 2);
    assert!(db.is_empty());
    record(&db, &[(11, 105)]);
    drop(db);
    assert_eq!(all(&t.open()), vec![(11, 105)]);
}

#[test]
fn removing_from_an_l1_block_removes_it_and_everything_after() {
    let t = Db::new();
    let db = t.open();
    record(&db, &[(10, 100), (12, 110), (14, 120)]);
    assert_eq!(db.remove_from_l1(15).unwrap(), 0);
    assert_eq!(db.remove_from_l1(13).unwrap(), 1);
    assert_eq!(all(&db), vec![(10, 100), (12, 110)]);
    assert_eq!(db.remove_from_l1(12).unwrap(), 1);
    assert_eq!(all(&db), vec![(10, 100)]);
    record(&db, &[(11, 104)]);
    drop(db);
    assert_eq!(all(&t.open()), vec![(10, 100), (11, 104)]);
}

#[test]
fn reopening_reproduces_the_state() {
    let t = Db::new();
    let db = t.open();
    let pairs: Vec<(u64, u64)> = (1..=300).map(|n| (n * 2, n * 12)).collect();
    record(&db, &pairs);
    db.remove_from_l1(500).unwrap();
    let before = db.entries_above(0);
    drop(db);
    let db = t.open();
    assert_eq!(db.entries_above(0), before);
    assert_eq!(db.latest().unwrap().l1_block.number, 498);
    assert_eq!(db.safe_head_at(301), Some(entry(300, 150 * 12)));
}

#[test]
fn a_torn_tail_is_dropped_at_open_and_records_append_after_it() {
    let t = Db::new();
    let db = t.open();
    record(&db, &[(10, 100), (12, 110), (14, 120)]);
    drop(db);
    let valid = file_len(&t.path);
    // A write cut short by a kill: half a record.
    let record_bytes = fs::read(&t.path).unwrap()[12..12 + 84].to_vec();
    OpenOptions::new().append(true).open(&t.path).unwrap().write_all(&record_bytes[..40]).unwrap();

    let db = t.open();
    assert_eq!(all(&db), vec![(10, 100), (12, 110), (14, 120)]);
    assert_eq!(file_len(&t.path), valid, "the file was truncated to its valid prefix");
    record(&db, &[(15, 125)]);
    drop(db);
    assert_eq!(all(&t.open()), vec![(10, 100), (12, 110), (14, 120), (15, 125)]);
}

#[test]
fn garbage_or_a_corrupt_record_ends_the_file() {
    let t = Db::new();
    let db = t.open();
    record(&db, &[(10, 100), (12, 110), (14, 120)]);
    drop(db);
    // The second record's safe head hash is damaged (a torn overwrite), then garbage follows.
    let mut bytes = fs::read(&t.path).unwrap();
    bytes[12 + 84 + 60] ^= 0xff;
    bytes.extend_from_slice(&[0xab; 200]);
    fs::write(&t.path, &bytes).unwrap();

    let db = t.open();
    assert_eq!(all(&db), vec![(10, 100)], "the corrupt record and all after it are dropped");
    assert_eq!(file_len(&t.path), 12 + 84);
    record(&db, &[(11, 105), (13, 115)]);
    drop(db);
    assert_eq!(all(&t.open()), vec![(10, 100), (11, 105), (13, 115)]);
}

#[test]
fn zeroes_after_a_power_loss_are_dropped() {
    let t = Db::new();
    let db = t.open();
    record(&db, &[(10, 100)]);
    drop(db);
    // The file grew, its data never reached the disk.
    OpenOptions::new().append(true).open(&t.path).unwrap().write_all(&[0; 84 * 3]).unwrap();
    let db = t.open();
    assert_eq!(all(&db), vec![(10, 100)]);
    assert_eq!(file_len(&t.path), 12 + 84);
}

#[test]
fn the_retention_bounds_the_entries_and_the_file() {
    let t = Db::new();
    let retention = 100;
    let db = SafeHeadDb::open(&t.path, retention).unwrap();
    let mut largest = 0;
    for n in 1..=2_000 {
        db.record(block(n, 1), block(n * 6, 2)).unwrap();
        largest = largest.max(file_len(&t.path));
        assert!(db.len() <= retention);
    }
    assert_eq!(db.len(), retention);
    assert_eq!(db.earliest().unwrap().l1_block.number, 1_901);
    assert_eq!(db.latest().unwrap().l1_block.number, 2_000);
    assert_eq!(db.safe_head_at(1_900), None, "evicted");
    assert_eq!(db.safe_head_at(1_901).unwrap().safe_head.number, 1_901 * 6);
    // 100 retained, compacted before 100 + 16 (the smallest slack) more.
    assert!(largest <= 12 + 116 * 84, "largest file {largest} bytes");
    drop(db);
    let db = SafeHeadDb::open(&t.path, retention).unwrap();
    assert_eq!(db.len(), retention);
    assert_eq!(db.latest().unwrap().l1_block.number, 2_000);
    // No temporary files of the compactions are left behind.
    assert_eq!(fs::read_dir(t.path.parent().unwrap()).unwrap().count(), 1);
}

#[test]
fn a_reset_never_brings_back_a_voided_entry() {
    let t = Db::new();
    let db = SafeHeadDb::open(&t.path, 10).unwrap();
    for n in 1..=20 {
        db.record(block(n, 1), block(n * 10, 2)).unwrap();
    }
    // Safe head 105: entries from L1 11 (safe head 110) on are void, and none are served.
    db.remove_above_safe_head(105).unwrap();
    assert!(db.latest().is_none_or(|e| e.safe_head.number <= 105));
    drop(db);
    let db = SafeHeadDb::open(&t.path, 10).unwrap();
    assert!(
        db.entries_above(0).iter().all(|e| e.safe_head.number <= 105),
        "{:?}",
        db.entries_above(0)
    );
}

#[test]
fn another_file_or_format_is_refused_and_left_alone() {
    let t = Db::new();
    fs::create_dir_all(t.path.parent().unwrap()).unwrap();
    fs::write(&t.path, b"{\"not\": \"a database\"}").unwrap();
    let err = SafeHeadDb::open(&t.path, 10).unwrap_err();
    assert!(matches!(err, SafeHeadDbError::NotASafeHeadDb { .. }), "{err}");
    assert!(err.to_string().contains("not a safe head database"), "{err}");
    assert_eq!(fs::read(&t.path).unwrap(), b"{\"not\": \"a database\"}");

    // A later format version.
    let db = t.open_fresh();
    record(&db, &[(1, 1)]);
    drop(db);
    let mut bytes = fs::read(&t.path).unwrap();
    bytes[11] = 2;
    fs::write(&t.path, &bytes).unwrap();
    let err = SafeHeadDb::open(&t.path, 10).unwrap_err();
    assert!(
        matches!(err, SafeHeadDbError::UnsupportedVersion { found: 2, supported: 1, .. }),
        "{err}"
    );
    assert_eq!(fs::read(&t.path).unwrap(), bytes, "untouched");

    assert!(matches!(SafeHeadDb::open(&t.path, 0), Err(SafeHeadDbError::ZeroRetention)));
}

#[test]
fn an_empty_file_is_an_empty_database() {
    let t = Db::new();
    fs::create_dir_all(t.path.parent().unwrap()).unwrap();
    fs::write(&t.path, b"").unwrap();
    let db = t.open();
    assert!(db.is_empty());
    record(&db, &[(3, 30)]);
    drop(db);
    assert_eq!(all(&t.open()), vec![(3, 30)]);
}

impl Db {
    /// Removes whatever is at the path and opens a new database there.
    fn open_fresh(&self) -> SafeHeadDb {
        let _ = fs::remove_file(&self.path);
        self.open()
    }
}

/// Where [`killed_mid_write_the_file_still_opens`]'s child process writes; set only in the child.
const CHILD_PATH_VAR: &str = "SAFE_HEAD_DB_TEST_CHILD_PATH";

/// The child of [`killed_mid_write_the_file_still_opens`]: records, overwrites and re-derives
/// as fast as it can until it is killed. A no-op as a test of its own.
#[test]
fn child_writer() {
    let Some(path) = std::env::var_os(CHILD_PATH_VAR) else { return };
    let db = SafeHeadDb::open(PathBuf::from(path), 1_000).unwrap();
    let mut l2 = 0;
    for n in 1u64.. {
        let l1 = n / 4 + 1;
        l2 += 1;
        db.record(block(l1, 1), block(l2, 2)).unwrap();
        if n % 97 == 0 {
            db.remove_from_l1(l1.saturating_sub(3)).unwrap();
        }
    }
}

#[test]
fn killed_mid_write_the_file_still_opens() {
    let t = Db::new();
    for round in 0..3 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_writer", "--nocapture"])
            .env(CHILD_PATH_VAR, &t.path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Let it write (and compact: 1 000 retained) for a while, then SIGKILL it.
        let target = 12 + 84 * 200;
        for _ in 0..2_000 {
            if fs::metadata(&t.path).is_ok_and(|m| m.len() > target) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(20 * round));
        child.kill().unwrap();
        child.wait().unwrap();

        let db = SafeHeadDb::open(&t.path, 1_000).unwrap();
        let entries = db.entries_above(0);
        assert!(!entries.is_empty(), "round {round}: the child wrote");
        for pair in entries.windows(2) {
            assert!(pair[0].l1_block.number < pair[1].l1_block.number, "sorted: {pair:?}");
            assert!(pair[0].safe_head.number < pair[1].safe_head.number, "{pair:?}");
        }
        let latest = db.latest().unwrap();
        assert_eq!(db.safe_head_at(latest.l1_block.number), Some(latest));
        assert_eq!(latest.l1_block, block(latest.l1_block.number, 1));
        drop(db);
        fs::remove_file(&t.path).unwrap();
    }
}
