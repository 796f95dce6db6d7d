//! The sequencer node: everything between the RPC that accepts transactions and the Engine API
//! and DA layer that make blocks SOFT and FIRM.
//!
//! ```text
//!  eth_sendRawTransaction ─► Mempool ──forward──► reth txpool
//!                                                    │
//!  every block_time:  forkchoiceUpdated(attrs) ─► getPayload ─► consensus ─► newPayload
//!                     ─► forkchoiceUpdated(head = safe = block)               ══ SOFT
//!                     ─► DA task: submit batch blob under the namespace      ══ PENDING
//!                     ─► DA height final ─► forkchoiceUpdated(finalized)      ══ FIRM
//! ```
//!
//! - [`Mempool`]: decodes EIP-2718 transactions, recovers the signer, checks the chain id and
//!   nonces (too low refused, gaps accepted but reported), orders per sender; per-sender and
//!   nonce-gap limits, replacement by fee bump, a lifetime, and every eviction recorded with its
//!   reason ([`MempoolLimits`], [`EvictionReason`]). With `execution.rpc_url`, a sender's pooled
//!   transactions may not cost more than its balance, and a max fee below the latest base fee
//!   is refused ([`rpc`]).
//! - Transactions reach the block through reth's own pool: an Ethereum chain's payload
//!   attributes cannot carry transactions (OP's can), so the sequencer forwards its ready
//!   transactions with `eth_sendRawTransaction` on the authenticated endpoint just before each
//!   `forkchoiceUpdated` with attributes, then reconciles with what the built payload contains.
//!   Consequence: a transaction sent to reth's own `eth_sendRawTransaction` skips the mempool's
//!   rules and still lands in a block (counted, `sequencer_foreign_txs_total`); the sequencer's
//!   RPC is the supported path.
//! - [`launch`] / [`NodeHandle`]: the main loop. The producer task is the only writer of forkchoice (it owns
//!   the [`ForkchoiceTracker`](sequencer_engine::ForkchoiceTracker)); the DA task submits batches
//!   and reports finality back. Back-pressure: production pauses while
//!   `soft - firm >= max_soft_ahead`.
//! - [`da_journal`]: the DA submissions not FIRM yet, on disk, so that a restart or a lost answer
//!   neither posts a batch twice nor leaves a gap.
//! - [`FirmRecord`]: the last FIRM block, persisted by the sequencer itself, so a restart against
//!   an execution client that lost finalized blocks is refused instead of re-finalizing heights.
//! - [`Consensus`] / [`SingleValidator`]: a single validator decides alone, on a timer.
//! - [`launch_bft`]: a validator of a set; blocks are proposed when it leads a Simplex view
//!   (built and executed through `RethExecution`), committed when the set finalizes them, and
//!   posted to DA with their finality certificates (crate `sequencer-consensus`).
//! - [`rpc`]: `eth_sendRawTransaction`, `eth_chainId` and `sequencer_*` status methods.
//! - [`batch`]: the DA blob format (a domain-separated signed RLP batch of blocks; version 4 with
//!   certificates).
//! - [`history`]: the chain's history read back from DA alone (`sequencer da-history`).

pub mod batch;
mod bft;
mod consensus;
pub mod da_journal;
mod da_task;
mod error;
mod firm_record;
pub mod history;
mod mempool;
pub mod metrics;
mod producer;
pub mod rpc;
mod sequencer;
mod status;

pub use consensus::{Consensus, SingleValidator};
pub use error::NodeError;
pub use firm_record::FirmRecord;
pub use mempool::{
    Eviction, EvictionReason, InsertOutcome, MAX_TX_BYTES, Mempool, MempoolLimits, MempoolStatus,
    PooledTx, SenderGap, TxLookup, TxStatus, max_cost,
};
pub use sequencer::{
    BftSetup, MAX_RPC_REQUEST_BYTES, NodeConfig, NodeHandle, ShutdownOutcome, consensus_dir,
    da_journal_path, launch, launch_bft, requests_dir,
};
pub use status::{PendingDa, SequencerStatus, StatusHandle};
