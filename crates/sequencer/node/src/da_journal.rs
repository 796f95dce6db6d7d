//! [`DaJournal`]: the DA submissions that are not FIRM yet, kept on disk so that a restart, or a
//! submission whose answer was lost, neither posts a batch twice nor leaves a gap.
//!
//! A batch is recorded (with the commitment its blob will have) before it is sent, and its DA
//! height once the DA layer answers. After a restart the DA task looks each recorded batch up on
//! the DA layer by its commitment: a batch that is there is awaited, not sent again; one that is
//! not is sent again. Entries go once the FIRM record covering their blocks is written (not
//! when their DA block is final: a crash in between would leave a restart below FIRM without
//! them, posting their blocks again). The file is replaced atomically.

use alloy_primitives::B256;
use sequencer_da::DaHeight;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One submitted (or about to be submitted) batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// First block of the batch.
    pub first: u64,
    /// Last block of the batch.
    pub last: u64,
    /// Hash of its last block (the batch is only adopted for the same chain).
    pub last_hash: B256,
    /// The blob's DA commitment.
    pub commitment: B256,
    /// The DA finalized height when the batch was first sent: it cannot be included below.
    pub sent_after: DaHeight,
    /// The DA height that includes it, once known.
    pub height: Option<DaHeight>,
}

/// The journal; see the module docs.
#[derive(Debug, Default)]
pub struct DaJournal {
    path: Option<PathBuf>,
    entries: Vec<JournalEntry>,
}

impl DaJournal {
    /// Loads the journal at `path` (empty if the file does not exist); `None` keeps it in memory.
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        let entries = match path {
            Some(path) => match std::fs::read(path) {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(format!("{}: {e}", path.display())),
            },
            None => Vec::new(),
        };
        Ok(Self { path: path.map(Path::to_path_buf), entries })
    }

    /// The recorded batches, oldest first.
    pub fn entries(&self) -> &[JournalEntry] {
        &self.entries
    }

    /// Records a batch about to be sent.
    pub fn record(&mut self, entry: JournalEntry) -> Result<(), String> {
        self.entries.retain(|e| e.commitment != entry.commitment);
        self.entries.push(entry);
        self.store()
    }

    /// Notes the DA height of the batch with `commitment`.
    pub fn included(&mut self, commitment: B256, height: DaHeight) -> Result<(), String> {
        if let Some(entry) = self.entries.iter_mut().find(|e| e.commitment == commitment) {
            entry.height = Some(height);
        }
        self.store()
    }

    /// Forgets the batch with `commitment` (it will not be sent in that form).
    pub fn forget(&mut self, commitment: B256) -> Result<(), String> {
        self.entries.retain(|e| e.commitment != commitment);
        self.store()
    }

    /// Forgets every batch whose blocks are all at or below `firm`, which must be durably
    /// recorded FIRM already.
    pub fn firm(&mut self, firm: u64) -> Result<(), String> {
        let before = self.entries.len();
        self.entries.retain(|e| e.last > firm);
        if self.entries.len() == before { Ok(()) } else { self.store() }
    }

    fn store(&self) -> Result<(), String> {
        let Some(path) = &self.path else { return Ok(()) };
        let json = serde_json::to_vec_pretty(&self.entries).map_err(|e| e.to_string())?;
        rollup_fs::replace(path, &json, 0o644).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(first: u64, last: u64, commitment: u8) -> JournalEntry {
        JournalEntry {
            first,
            last,
            last_hash: B256::repeat_byte(last as u8),
            commitment: B256::repeat_byte(commitment),
            sent_after: 3,
            height: None,
        }
    }

    #[test]
    fn survives_a_reload_and_forgets_firm_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.json");
        let mut journal = DaJournal::load(Some(&path)).unwrap();
        journal.record(entry(1, 4, 1)).unwrap();
        journal.record(entry(5, 6, 2)).unwrap();
        journal.included(B256::repeat_byte(1), 9).unwrap();
        let reloaded = DaJournal::load(Some(&path)).unwrap();
        assert_eq!(reloaded.entries().len(), 2);
        assert_eq!(reloaded.entries()[0].height, Some(9));
        let mut journal = reloaded;
        journal.firm(4).unwrap();
        assert_eq!(DaJournal::load(Some(&path)).unwrap().entries(), &[entry(5, 6, 2)]);
        journal.forget(B256::repeat_byte(2)).unwrap();
        assert!(DaJournal::load(Some(&path)).unwrap().entries().is_empty());
    }

    #[test]
    fn a_corrupt_journal_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.json");
        std::fs::write(&path, b"{not json").unwrap();
        let err = DaJournal::load(Some(&path)).unwrap_err();
        assert!(err.contains("journal.json"), "{err}");
    }
}
