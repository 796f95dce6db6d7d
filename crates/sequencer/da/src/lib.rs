//! Data availability (DA) for the sequencer.
//!
//! Every block the sequencer executes (SOFT) is posted as a blob to a DA layer under the chain's
//! [`Namespace`]; once the DA block that includes it is final, the sequencer moves forkchoice
//! `finalized` to it (FIRM). This crate is that seam:
//!
//! - [`DaClient`]: submit a blob under a namespace and get back the DA height that includes it,
//!   ask for the highest final DA height, read blobs back, and the largest blob accepted.
//!   `sequencer-celestia`'s `CelestiaDa` implements it over `celestia-rpc` (`blob.Submit`,
//!   `blob.Get`, `header.NetworkHead`, `blob.GetAll`).
//! - [`Namespace`]: a Celestia version-0 namespace (at most 10 user bytes, reserved ids refused).
//! - [`redact_url`] / [`redact_urls`]: node URLs (and messages quoting them) without their
//!   credentials, for every log line and error that names a node.
//!
//! The in-process DA the node's tests run against (blocks on a clock, switches that stall
//! finality or fail submissions) is a test fixture: `sequencer_testing::LocalDa`.

mod namespace;
mod redact;

pub use namespace::{NAMESPACE_SIZE, NAMESPACE_USER_BYTES, Namespace, NamespaceError};
pub use redact::{redact_url, redact_urls};

use alloy_primitives::{B256, Bytes};
use std::ops::RangeInclusive;

/// A height on the DA layer.
pub type DaHeight = u64;

/// Where a blob landed on the DA layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inclusion {
    /// DA height whose block includes the blob.
    pub height: DaHeight,
    /// Commitment to the blob (Celestia's share commitment; the test fixture's keccak256).
    pub commitment: B256,
}

/// Errors of a DA client.
#[derive(Debug, thiserror::Error)]
pub enum DaError {
    /// The DA layer refused or failed the submission; the caller retries.
    #[error("DA submission failed: {0}")]
    Submit(String),
    /// The DA layer could not be queried.
    #[error("DA query failed: {0}")]
    Query(String),
    /// The DA layer answered with a blob other than the one asked for: other bytes under the
    /// commitment looked up, another namespace, or a commitment its own bytes do not have.
    /// The answer is not trusted: the blob is not counted as posted.
    #[error("DA answer at height {height} does not match: {message}")]
    Mismatch {
        /// The DA height of the answer.
        height: DaHeight,
        /// What differs.
        message: String,
    },
    /// The blob is larger than the DA layer accepts.
    #[error("blob of {size} bytes exceeds the DA limit of {max} bytes")]
    BlobTooLarge {
        /// Size of the blob.
        size: usize,
        /// Largest accepted blob.
        max: usize,
    },
}

/// A data-availability layer as the sequencer sees it.
///
/// Implementations must be cheap to share (`Arc`) and safe to call concurrently.
#[async_trait::async_trait]
pub trait DaClient: Send + Sync + 'static {
    /// Submits `blob` under `namespace` and returns where it was included. Returns once the
    /// blob is in a DA block (not necessarily final).
    async fn submit(&self, namespace: &Namespace, blob: Bytes) -> Result<Inclusion, DaError>;

    /// The highest DA height that is final: blobs included at or below it can no longer be
    /// reverted.
    async fn finalized_height(&self) -> Result<DaHeight, DaError>;

    /// All blobs under `namespace` included at `height`, in inclusion order. An answer that is
    /// not self-consistent (a blob of another namespace, or whose commitment is not that of its
    /// bytes) is [`DaError::Mismatch`].
    async fn blobs(&self, namespace: &Namespace, height: DaHeight) -> Result<Vec<Bytes>, DaError>;

    /// The largest blob [`submit`](Self::submit) accepts: batches are cut to fit it.
    fn max_blob_size(&self) -> usize;

    /// The commitment [`submit`](Self::submit) reports for `blob` under `namespace`, computed
    /// locally, so a submission can be recorded (and looked for) before it is sent.
    fn commitment(&self, namespace: &Namespace, blob: &[u8]) -> Result<B256, DaError>;

    /// The first height in `heights` whose block holds `blob` under `namespace`, byte for byte:
    /// how a submission whose answer was lost (timeout, crash) is found again. Looked up by its
    /// [`commitment`](Self::commitment), then compared: a blob under that commitment with other
    /// bytes is [`DaError::Mismatch`], never a find.
    async fn find(
        &self,
        namespace: &Namespace,
        blob: &[u8],
        heights: RangeInclusive<DaHeight>,
    ) -> Result<Option<DaHeight>, DaError>;
}
