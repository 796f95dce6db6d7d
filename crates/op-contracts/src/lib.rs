//! The OP Stack contracts, from the forge artifacts of the published npm package
//! `@eth-optimism/contracts-bedrock` (pinned to [`PINNED_VERSION`]): the bytecode and storage
//! layouts come from the package, never from copied Solidity or deploy scripts.
//!
//! - [`ContractsPackage`]: opens the unpacked package and reads one contract's [`Artifact`].
//! - [`L1Deployer`]: deploys the L1 side on a running L1 (anvil on a devnet): `ProxyAdmin`,
//!   ERC-1967 proxies, `SuperchainConfig`, `SystemConfig`, `OptimismPortal` with
//!   `L2OutputOracle` (that version's proof system), `L1CrossDomainMessenger`,
//!   `L1StandardBridge`, `L1ERC721Bridge` and `OptimismMintableERC20Factory`, each initialized
//!   through `ProxyAdmin.upgradeAndCall`, and reports their [`L1Deployment`] addresses.
//! - [`L2PredeployBuilder`]: the predeploy accounts of an L2 genesis: 2048 proxies at
//!   `0x4200…` administered by the L2 `ProxyAdmin`, implementations at `0xc0d3…`, constructors
//!   and initializers run in revm so immutables and storage are what the contracts write.
//! - [`bindings`]: the typed calls (alloy `sol!`) this crate and its users make.

pub mod bindings;

mod artifacts;
pub use artifacts::{
    Artifact, ContractsPackage, DEFAULT_PACKAGE_DIR, PINNED_VERSION, StorageEntry,
};

mod error;
pub use error::OpContractsError;

mod l1;
pub use l1::{DEFAULT_RESOURCE_CONFIG, L1DeployConfig, L1Deployer, L1Deployment};

pub mod predeploys;
pub use predeploys::{L2PredeployBuilder, L2PredeployConfig};
