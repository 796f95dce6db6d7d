use crate::{DaClient, DaError, DaHeight, Inclusion, Namespace};
use alloy_primitives::{Bytes, keccak256};
use parking_lot::Mutex;
use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

/// Largest blob [`LocalDa`] accepts (Celestia's practical limit is ~2 MB per blob).
pub const LOCAL_MAX_BLOB_SIZE: usize = 2 * 1024 * 1024;

/// Blobs by (DA height, namespace user bytes).
type BlobStore = BTreeMap<(DaHeight, [u8; 10]), Vec<Bytes>>;

/// An in-process DA layer whose blocks advance on a clock.
///
/// The DA height is `1 + elapsed / block_time`. A submitted blob lands in the next DA block
/// (`current + 1`) and is final once `current >= inclusion + finality_depth` (Celestia: depth 0,
/// single-slot finality). Nothing is persisted: after a restart the sequencer re-submits every
/// block above forkchoice `finalized`, which a real DA layer tolerates (duplicate blobs).
#[derive(Debug)]
pub struct LocalDa {
    start: Instant,
    block_time: Duration,
    finality_depth: u64,
    /// When set, `finalized_height` stays where it was (a stalled DA layer).
    hold_finality: AtomicBool,
    held_at: Mutex<Option<DaHeight>>,
    fail_submissions: AtomicBool,
    blobs: Mutex<BlobStore>,
    max_blob_size: usize,
}

impl LocalDa {
    /// A local DA producing a block every `block_time`, final `finality_depth` blocks later.
    pub fn new(block_time: Duration, finality_depth: u64) -> Self {
        Self {
            start: Instant::now(),
            block_time: block_time.max(Duration::from_millis(1)),
            finality_depth,
            hold_finality: AtomicBool::new(false),
            held_at: Mutex::new(None),
            fail_submissions: AtomicBool::new(false),
            blobs: Mutex::new(BTreeMap::new()),
            max_blob_size: LOCAL_MAX_BLOB_SIZE,
        }
    }

    /// The same DA accepting blobs of at most `max` bytes (to exercise batch splitting).
    pub const fn with_max_blob_size(mut self, max: usize) -> Self {
        self.max_blob_size = max;
        self
    }

    /// Every blob stored under `namespace`, by DA height.
    pub fn all_blobs(&self, namespace: &Namespace) -> Vec<(DaHeight, Bytes)> {
        self.blobs
            .lock()
            .iter()
            .filter(|((_, ns), _)| ns == namespace.user_bytes())
            .flat_map(|((height, _), blobs)| blobs.iter().map(|blob| (*height, blob.clone())))
            .collect()
    }

    /// The current DA height (the last produced DA block).
    pub fn current_height(&self) -> DaHeight {
        let elapsed = self.start.elapsed().as_nanos() / self.block_time.as_nanos().max(1);
        1 + u64::try_from(elapsed).unwrap_or(u64::MAX - 1)
    }

    /// Stalls (`true`) or resumes (`false`) finality, to model a DA outage.
    pub fn hold_finality(&self, hold: bool) {
        let mut held = self.held_at.lock();
        if hold {
            *held = Some(self.final_now());
        } else {
            *held = None;
        }
        self.hold_finality.store(hold, Ordering::SeqCst);
    }

    /// Makes every submission fail (`true`) until switched back.
    pub fn fail_submissions(&self, fail: bool) {
        self.fail_submissions.store(fail, Ordering::SeqCst);
    }

    /// Number of blobs stored under `namespace` across all heights.
    pub fn blob_count(&self, namespace: &Namespace) -> usize {
        self.blobs
            .lock()
            .iter()
            .filter(|((_, ns), _)| ns == namespace.user_bytes())
            .map(|(_, v)| v.len())
            .sum()
    }

    fn final_now(&self) -> DaHeight {
        self.current_height().saturating_sub(self.finality_depth)
    }
}

#[async_trait::async_trait]
impl DaClient for LocalDa {
    async fn submit(&self, namespace: &Namespace, blob: Bytes) -> Result<Inclusion, DaError> {
        if self.fail_submissions.load(Ordering::SeqCst) {
            return Err(DaError::Submit("local DA told to fail submissions".into()));
        }
        if blob.len() > self.max_blob_size {
            return Err(DaError::BlobTooLarge { size: blob.len(), max: self.max_blob_size });
        }
        let height = self.current_height() + 1;
        let commitment = keccak256(&blob);
        self.blobs.lock().entry((height, *namespace.user_bytes())).or_default().push(blob);
        Ok(Inclusion { height, commitment })
    }

    async fn finalized_height(&self) -> Result<DaHeight, DaError> {
        if self.hold_finality.load(Ordering::SeqCst)
            && let Some(h) = *self.held_at.lock()
        {
            return Ok(h);
        }
        Ok(self.final_now())
    }

    async fn blobs(&self, namespace: &Namespace, height: DaHeight) -> Result<Vec<Bytes>, DaError> {
        Ok(self.blobs.lock().get(&(height, *namespace.user_bytes())).cloned().unwrap_or_default())
    }

    fn max_blob_size(&self) -> usize {
        self.max_blob_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn submit_then_final() {
        let da = LocalDa::new(Duration::from_millis(20), 0);
        let ns: Namespace = "0xabcdef".parse().unwrap();
        let inc = da.submit(&ns, Bytes::from_static(b"hello")).await.unwrap();
        assert!(da.finalized_height().await.unwrap() < inc.height);
        while da.finalized_height().await.unwrap() < inc.height {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(da.blobs(&ns, inc.height).await.unwrap(), vec![Bytes::from_static(b"hello")]);
        assert_eq!(da.blob_count(&ns), 1);
    }

    #[tokio::test]
    async fn hold_and_fail() {
        let da = LocalDa::new(Duration::from_millis(5), 0);
        let ns: Namespace = "0xabcdef".parse().unwrap();
        da.hold_finality(true);
        let held = da.finalized_height().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(da.finalized_height().await.unwrap(), held);
        da.hold_finality(false);
        assert!(da.finalized_height().await.unwrap() > held);
        da.fail_submissions(true);
        assert!(da.submit(&ns, Bytes::new()).await.is_err());
    }
}
