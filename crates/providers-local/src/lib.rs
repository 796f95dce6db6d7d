//! L2 chain data for kona's derivation, served from memory.
//!
//! Inside the `rollup` binary, kona-node runs in the same process as reth. Instead of asking the
//! execution layer for L2 blocks over JSON-RPC (kona-node's `AlloyL2ChainProvider`), derivation
//! reads them from a [`BufferedL2Provider`] that reth's ExEx notifications keep current:
//!
//! - [`ChainStateEvent`]: the reth-free form of an ExEx notification (committed, reorged,
//!   reverted chains of [`SealedL2Block`]s).
//! - [`ChainBuffer`]: the recent canonical chain, exact under any sequence of events: a lookup by
//!   number or hash never returns a block that was reorged out, and an event that does not fit
//!   the buffered chain (a reorg deeper than the buffer, a gap, a conflict, a detached chain) is
//!   a typed error ([`ProviderError::inconsistency`]) that leaves it untouched; the host then
//!   re-seeds it ([`BufferedL2Provider::reseed_from_fallback`]).
//! - [`BufferedL2Provider`]: implements kona-derive's `L2ChainProvider` and kona-protocol's
//!   `BatchValidationProvider` over the buffer, with a bounded window of recent blocks and an
//!   optional [`L2BlockSource`] fallback (reth's database) for older ones.
//!
//! Nothing here depends on reth.

mod block;
pub use block::SealedL2Block;

mod buffer;
pub use buffer::{Applied, ChainBuffer, DEFAULT_BUFFER_CAPACITY};

mod error;
pub use error::{ProviderError, SourceError};

mod event;
pub use event::ChainStateEvent;

mod provider;
pub use provider::{BufferMetrics, BufferedL2Provider, L2BlockSource};
