//! The L1 side of a new devnet: its OP contracts and its L1 origin.

use crate::{
    BASEFEE_SCALAR, BLOBBASEFEE_SCALAR, DevnetError, DevnetSpec, L1Origin, OpChainContracts,
};
use alloy_eips::{BlockNumHash, BlockNumberOrTag};
use alloy_network::EthereumWallet;
use alloy_primitives::U256;
use alloy_provider::{Provider, ProviderBuilder, RootProvider};
use alloy_signer_local::PrivateKeySigner;
use rollup_op_contracts::{
    ContractsPackage, L1DeployConfig, L1Deployer, L2PredeployBuilder, L2PredeployConfig,
};
use url::Url;

/// The latest L1 block, as the devnet's L1 origin.
pub async fn latest_l1_origin(l1_rpc: &Url) -> Result<L1Origin, DevnetError> {
    l1_origin(l1_rpc, BlockNumberOrTag::Latest).await
}

/// The L1 block `at`, as the devnet's L1 origin. An older block than the latest gives an L2
/// chain that starts in the past, which the sequencer then builds as fast as it can to catch up.
pub async fn l1_origin(l1_rpc: &Url, at: BlockNumberOrTag) -> Result<L1Origin, DevnetError> {
    let fail = |reason: String| DevnetError::L1 { url: l1_rpc.to_string(), reason };
    let provider = RootProvider::<alloy_provider::network::Ethereum>::new_http(l1_rpc.clone());
    let chain_id = provider.get_chain_id().await.map_err(|e| fail(e.to_string()))?;
    let block = provider
        .get_block_by_number(at)
        .await
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| fail(format!("no L1 block {at}")))?;
    Ok(L1Origin {
        block: BlockNumHash::new(block.header.number, block.header.hash),
        timestamp: block.header.timestamp,
        chain_id,
    })
}

/// anvil's first development key ("test test … junk"): the devnet's deployer and the owner of
/// its L1 contracts, proxy admins, guardian and challenger. Never use it anywhere real.
pub const DEV_DEPLOYER_KEY: &str =
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// Deploys the OP L1 contracts of `spec` on the L1 at `l1_rpc`, picks the L1 origin (`at`, or
/// the latest block once the contracts are in), starts the output oracle at the origin's time
/// (the L2 genesis time) and builds the L2 predeploys that point back at the L1 contracts.
pub async fn deploy_op_chain(
    l1_rpc: &Url,
    package: &ContractsPackage,
    spec: &DevnetSpec,
    at: Option<u64>,
) -> Result<(L1Origin, OpChainContracts), DevnetError> {
    let signer: PrivateKeySigner =
        DEV_DEPLOYER_KEY.parse().map_err(|e| DevnetError::Spec(format!("deployer key: {e}")))?;
    let owner = signer.address();
    let provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(l1_rpc.clone());
    let config = L1DeployConfig {
        l2_chain_id: spec.l2_chain_id,
        l2_block_time: spec.block_time,
        batcher: spec.batcher,
        unsafe_block_signer: owner,
        proposer: spec.proposer,
        challenger: owner,
        guardian: owner,
        gas_limit: spec.gas_limit,
        basefee_scalar: BASEFEE_SCALAR,
        blobbasefee_scalar: BLOBBASEFEE_SCALAR,
        batch_inbox: spec.batch_inbox(),
        submission_interval: 10,
        finalization_period: 12,
    };
    let deployer = L1Deployer::new(&provider, owner, package, config);
    let l1 = deployer.deploy().await?;
    let origin = match at {
        Some(number) if number < l1.deployed_at_block => {
            return Err(DevnetError::Spec(format!(
                "L1 origin {number} is before the OP contracts' deployment (L1 block {})",
                l1.deployed_at_block
            )));
        }
        Some(number) => l1_origin(l1_rpc, BlockNumberOrTag::Number(number)).await?,
        None => l1_origin(l1_rpc, BlockNumberOrTag::Latest).await?,
    };
    deployer.initialize_output_oracle(&l1, origin.timestamp).await?;
    tracing::info!(
        target: "devnet",
        portal = %l1.optimism_portal_proxy,
        system_config = %l1.system_config_proxy,
        deployed_at = l1.deployed_at_block,
        origin = origin.block.number,
        "OP L1 contracts deployed"
    );
    let predeploys = L2PredeployBuilder::new(
        package,
        L2PredeployConfig {
            l1_chain_id: origin.chain_id,
            l2_chain_id: spec.l2_chain_id,
            l1_cross_domain_messenger: l1.l1_cross_domain_messenger_proxy,
            l1_standard_bridge: l1.l1_standard_bridge_proxy,
            l1_erc721_bridge: l1.l1_erc721_bridge_proxy,
            proxy_admin_owner: owner,
            fee_vault_recipient: owner,
            fee_vault_min_withdrawal: U256::from(10u64).pow(U256::from(19u64)),
            ecotone_at_genesis: true,
            fjord_at_genesis: true,
        },
    )
    .build()?;
    Ok((origin, OpChainContracts { l1, predeploys }))
}
