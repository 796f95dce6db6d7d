//! Local devnet tooling for the `rollup` binary.
//!
//! A devnet is anvil as L1 plus `rollup node --kona.mode sequencer`. Two things are missing for
//! that out of the box, and this crate provides them:
//!
//! - [`DevnetSpec`]: from a running L1, the L2 genesis that op-reth loads with `--chain` and the
//!   rollup config kona reads with `--kona.config-file`, consistent with each other (the rollup
//!   config names the genesis hash op-reth computes, see [`genesis_header`]) and with the L1 (its
//!   latest block is the L1 origin). Every OP hard fork through Isthmus is active at genesis.
//! - [`BeaconAdapter`]: the beacon API endpoints kona 0.1.3 needs and anvil does not serve.
//!
//! The devnet has no L1 contracts: deposits and system-config updates from L1 are not available,
//! and the rollup config's contract addresses are zero.

mod beacon;
pub use beacon::BeaconAdapter;

mod error;
pub use error::DevnetError;

mod files;
pub use files::write_all_atomically;

mod genesis;
pub use genesis::{
    DEV_ACCOUNTS, DevnetArtifacts, DevnetSpec, EIP1559_DENOMINATOR, EIP1559_DENOMINATOR_CANYON,
    EIP1559_ELASTICITY, GENESIS_BASE_FEE, L1Origin, base_fee_params, genesis_header,
    holocene_genesis_extra_data,
};

mod l1;
pub use l1::{l1_origin, latest_l1_origin};
