//! Celestia data availability for the sequencer.
//!
//! - [`CelestiaDa`]: the sequencer's [`DaClient`](sequencer_da::DaClient) over the real
//!   `celestia-rpc` client, speaking celestia-node's JSON-RPC (`blob.Submit`, `blob.Get`,
//!   `blob.GetAll`, `header.NetworkHead`). A submission is trusted only once `blob.Get` by
//!   commitment at the returned height gives the same bytes back; a blob looked for again
//!   (`find`) counts only if the bytes under its commitment are ours, and blobs read back
//!   (`blobs`) must be of the namespace asked for and have the commitment of their bytes —
//!   anything else is `DaError::Mismatch`. The node's URL is only ever shown redacted
//!   (`sequencer_da::redact_url`). Celestia's finality is per
//!   block (CometBFT): a blob is final once the header of its height exists, which is what
//!   `finalized_height` reports.
//! - [`LocalCelestiaNode`]: a Celestia-compatible DA node for development and tests. It serves
//!   the same JSON-RPC (the server traits `celestia-rpc` exports), makes a block every
//!   `block_time` with a real, signed `ExtendedHeader` (a local validator key; celestia-types
//!   validates each one a client decodes) and keeps the blobs on disk. The sequencer reaches it
//!   through [`CelestiaDa`], exactly as it reaches a real network: there is no second code path.

mod client;
mod error;
mod local_node;

pub use client::{
    CelestiaDa, CelestiaDaConfig, DEFAULT_MAX_BLOB_SIZE, DEFAULT_MAX_GAS_PRICE_MULTIPLIER,
    bumped_gas_price,
};
pub use error::CelestiaError;
pub use local_node::{LocalCelestiaNode, LocalNodeConfig};
