//! The sequencer's own record of its last FIRM block.
//!
//! reth keeps its newest blocks in memory unless told to persist every block, so after a crash
//! or restart it can come back *below* a block the sequencer already finalized on DA. Resuming
//! from such a reth would rebuild heights that DA already holds, with different hashes: two
//! final blocks at one height. The record makes that a refusal to start instead.

use crate::NodeError;
use alloy_primitives::B256;
use sequencer_engine::BlockRef;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The last FIRM block, as written to `[sequencer] state_path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirmRecord {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
}

impl From<BlockRef> for FirmRecord {
    fn from(b: BlockRef) -> Self {
        Self { number: b.number, hash: b.hash }
    }
}

impl FirmRecord {
    /// Reads the record; `None` if the file does not exist yet (first start).
    pub fn load(path: &Path) -> Result<Option<Self>, NodeError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(NodeError::Io { context: format!("{}", path.display()), source });
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| NodeError::Resume(format!("{}: not a FIRM record ({e})", path.display())))
    }

    /// Replaces the record atomically.
    pub fn store(&self, path: &Path) -> Result<(), NodeError> {
        let mut json = serde_json::to_vec(self).map_err(|e| NodeError::Io {
            context: format!("{}: encode FIRM record", path.display()),
            source: e.into(),
        })?;
        json.push(b'\n');
        rollup_fs::replace(path, &json, 0o644)
            .map_err(|source| NodeError::Io { context: format!("{}", path.display()), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_missing_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(FirmRecord::load(&path).unwrap(), None);
        let r = FirmRecord { number: 7, hash: B256::with_last_byte(7) };
        r.store(&path).unwrap();
        assert_eq!(FirmRecord::load(&path).unwrap(), Some(r));
        std::fs::write(&path, "{").unwrap();
        let err = FirmRecord::load(&path).unwrap_err().to_string();
        assert!(err.contains("not a FIRM record"), "{err}");
    }

    /// A run killed mid-write leaves a temporary file beside the record, under the name this
    /// process would use (same pid after a container restart): the next write neither fails on
    /// it nor reads it, and the record is the new one.
    #[test]
    fn a_leftover_temporary_file_does_not_break_or_leak_into_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let stale = dir.path().join(format!(".state.json.tmp-{}", std::process::id()));
        std::fs::write(&stale, r#"{"number":999,"hash":"0x00"}"#).unwrap();
        let r = FirmRecord { number: 7, hash: B256::with_last_byte(7) };
        r.store(&path).unwrap();
        assert_eq!(FirmRecord::load(&path).unwrap(), Some(r));
        let next = FirmRecord { number: 8, hash: B256::with_last_byte(8) };
        next.store(&path).unwrap();
        assert_eq!(FirmRecord::load(&path).unwrap(), Some(next));
        assert!(stale.exists(), "someone else's file is left alone");
    }
}
