//! Local devnet tooling for the `rollup` binary.
//!
//! A devnet is anvil as L1 plus `rollup node --kona.mode sequencer`. Two things are missing for
//! that out of the box, and this crate provides them:
//!
//! - [`deploy_op_chain`]: the OP L1 contracts deployed on the L1 from the npm package's
//!   artifacts (see `rollup-op-contracts`), and the L2 predeploys pointing back at them.
//! - [`DevnetSpec`]: the L2 genesis that op-reth loads with `--chain` and the rollup config kona
//!   reads with `--kona.config-file`, consistent with each other (the rollup config names the
//!   genesis hash op-reth computes, see [`genesis_header`]), with the L1 (the L1 origin follows
//!   the deployment) and with the contracts (portal and system config addresses). Every OP hard
//!   fork through Holocene is active at genesis; Isthmus activates [`DEFAULT_ISTHMUS_DELAY`]
//!   seconds later unless told otherwise, so its upgrade transactions run as on live chains.
//! - [`BeaconAdapter`]: the beacon API endpoints kona 0.1.3 needs and anvil does not serve.
//! - [`WithdrawalClient`]: proving and finalizing an L2 → L1 withdrawal on the devnet's portal
//!   with the output roots the node's built-in proposer posts (`rollup-devnet withdraw`).
//!
//! The predeploy set is the package's (0.17.3, the last on npm): no preinstalls beyond EIP-4788's
//! beacon roots contract, and no governance token.

mod beacon;
pub use beacon::BeaconAdapter;

mod error;
pub use error::DevnetError;

mod files;
pub use files::write_all_atomically;

mod genesis;
pub use genesis::{
    BASEFEE_SCALAR, BLOBBASEFEE_SCALAR, DEFAULT_ISTHMUS_DELAY, DEV_ACCOUNTS, DevnetArtifacts,
    DevnetSpec, EIP1559_DENOMINATOR, EIP1559_DENOMINATOR_CANYON, EIP1559_ELASTICITY,
    GENESIS_BASE_FEE, L1Origin, OpChainContracts, base_fee_params, genesis_header,
    holocene_genesis_extra_data,
};

mod l1;
pub use l1::{DEV_DEPLOYER_KEY, deploy_op_chain, l1_origin, latest_l1_origin};

pub mod withdraw;
pub use withdraw::{Proven, Withdrawal, WithdrawalClient};
