//! The safe-head database: for each L1 block derivation finished with, the L2 safe head it had
//! reached — what op-node's `--safedb.path` keeps and `optimism_safeHeadAtL1Block` serves.
//!
//! op-challenger and output proposers ask a rollup node "which L2 block was safe once L1 block
//! `n` had been derived?"; the answer must survive restarts, so kona's engine actor records every
//! safe-head move into a [`SafeHeadDb`] and kona's RPC answers from it. kona-node 0.1.3 keeps no
//! such record (its RPC answers "method not found").
//!
//! # Semantics
//!
//! Entries are `(L1 block, L2 safe head)` pairs, sorted by L1 number, one per L1 block:
//!
//! - [`SafeHeadDb::record`] appends; recording an L1 number at or below the newest entry's first
//!   removes every entry from that number on (derivation re-ran those L1 blocks after a reorg or
//!   a reset), so the same L1 block recorded twice keeps the later safe head.
//! - [`SafeHeadDb::safe_head_at`] answers with the entry of the highest L1 number at or below the
//!   one asked for (op-node's rule), and nothing below the oldest entry.
//! - Resets and reorgs: [`SafeHeadDb::remove_above_safe_head`] (the engine went back to an older
//!   safe head) and [`SafeHeadDb::remove_from_l1`] (an L1 block left the canonical chain).
//! - Bounded: the newest `retention` entries are served ([`DEFAULT_RETENTION`]: a week of 12 s
//!   L1 blocks); the file is compacted to them once it holds an eighth more.
//!
//! # File and durability
//!
//! One file: a header (magic and format version; another format is refused, never
//! overwritten) and fixed-size records, each with a CRC-32C. A record is one positioned write
//! (an append, or an overwrite of the newest record when the L1 block is the same), and
//! removing entries shrinks the file first. Nothing is fsynced per record — the database is
//! written for every consolidated block, and it can always be rebuilt by deriving again — so:
//!
//! - a killed process (SIGKILL included) keeps everything it wrote: the kernel has it;
//! - after a power loss or an OS crash, the newest records may be missing or torn. On open, a
//!   record that fails its checksum, is cut short, or is out of order ends the file: it and
//!   everything after it are dropped and the file is truncated to the valid prefix, so the
//!   database always opens.
//!
//! Compaction rewrites the file atomically (`rollup-fs`: temporary file, fsync, rename). One
//! [`SafeHeadDb`] per file: two instances writing the same file would corrupt each other's
//! records (they would be dropped at the next open, not misread).

mod db;
pub use db::{DEFAULT_RETENTION, SafeHeadDb, SafeHeadEntry};

mod error;
pub use error::SafeHeadDbError;

mod format;

mod metrics;
pub use metrics::SafeHeadDbMetrics;
