//! The proposer against a real anvil with the OP contracts of the npm package deployed: which
//! block it proposes and when, its restart and replacement logic, and its refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alloy_eips::BlockNumHash;
use alloy_network::EthereumWallet;
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use anvil_testing::{Anvil, DEV_KEY_0, contracts_package_dir, free_port};
use async_trait::async_trait;
use rollup_op_contracts::{
    ContractsPackage, L1DeployConfig, L1Deployer, L1Deployment, bindings::L2OutputOracle,
};
use rollup_proposer::{
    L2Output, L2Outputs, OracleAddress, OutputProposer, OutputsError, ProposalHead, ProposerConfig,
    ProposerError, Tick,
};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};
use url::Url;

/// anvil's third development key: 0x3C44…93BC, the proposer the oracle names here.
const PROPOSER_KEY: &str = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
/// anvil's fourth development key: not the proposer.
const OTHER_KEY: &str = "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
const L2_BLOCK_TIME: u64 = 2;
const SUBMISSION_INTERVAL: u64 = 10;

/// A test double of the L2 node: a head the test moves, and made-up outputs with timestamps on
/// the oracle's L2 clock. It computes no state: the proposer only carries what it is given.
#[derive(Debug, Clone)]
struct FakeOutputs {
    head: Arc<Mutex<Option<u64>>>,
    asked: Arc<Mutex<Vec<ProposalHead>>>,
    genesis_time: u64,
}

impl FakeOutputs {
    fn new(genesis_time: u64) -> Self {
        Self {
            head: Arc::new(Mutex::new(None)),
            asked: Arc::new(Mutex::new(Vec::new())),
            genesis_time,
        }
    }

    fn set_head(&self, head: u64) {
        *self.head.lock().unwrap() = Some(head);
    }

    fn root(number: u64) -> B256 {
        keccak256(number.to_be_bytes())
    }
}

#[async_trait]
impl L2Outputs for FakeOutputs {
    async fn head(&self, head: ProposalHead) -> Result<Option<u64>, OutputsError> {
        self.asked.lock().unwrap().push(head);
        Ok(*self.head.lock().unwrap())
    }

    async fn output(&self, number: u64) -> Result<L2Output, OutputsError> {
        Ok(L2Output {
            block: BlockNumHash::new(number, keccak256(number.to_le_bytes())),
            timestamp: self.genesis_time + number * L2_BLOCK_TIME,
            root: Self::root(number),
        })
    }
}

struct Chain {
    anvil: Anvil,
    deployment: L1Deployment,
    genesis_time: u64,
}

/// Deploys the OP contracts with the oracle's L2 genesis `age` seconds before the L1 head, so
/// that blocks up to `age / L2_BLOCK_TIME - 1` are old enough to propose.
async fn deploy(anvil: Anvil, age: u64) -> Chain {
    let deployer: PrivateKeySigner = DEV_KEY_0.parse().unwrap();
    let owner = deployer.address();
    let proposer = PROPOSER_KEY.parse::<PrivateKeySigner>().unwrap().address();
    let provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(deployer)).connect_http(anvil.url());
    let package = ContractsPackage::open(contracts_package_dir()).unwrap();
    let config = L1DeployConfig {
        l2_chain_id: 42_069,
        l2_block_time: L2_BLOCK_TIME,
        batcher: owner,
        unsafe_block_signer: owner,
        proposer,
        challenger: owner,
        guardian: owner,
        gas_limit: 30_000_000,
        basefee_scalar: 1368,
        blobbasefee_scalar: 810_949,
        batch_inbox: Address::repeat_byte(0xff),
        submission_interval: SUBMISSION_INTERVAL,
        finalization_period: 12,
    };
    let deployer = L1Deployer::new(&provider, owner, &package, config);
    let deployment = deployer.deploy().await.unwrap();
    let now = provider
        .get_block_by_number(alloy_eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    let genesis_time = now - age;
    deployer.initialize_output_oracle(&deployment, genesis_time).await.unwrap();
    Chain { anvil, deployment, genesis_time }
}

fn proposer(
    chain: &Chain,
    key: &str,
    outputs: FakeOutputs,
    tune: impl FnOnce(ProposerConfig) -> ProposerConfig,
) -> OutputProposer<FakeOutputs> {
    let config = tune(ProposerConfig::new(
        chain.anvil.url(),
        OracleAddress::FromPortal(chain.deployment.optimism_portal_proxy),
    ));
    OutputProposer::new(config, key.parse().unwrap(), outputs)
}

async fn view<C: SolCall>(url: &Url, to: Address, call: C) -> C::Return {
    let provider = ProviderBuilder::new().connect_http(url.clone());
    let answer = provider
        .call(TransactionRequest::default().to(to).input(call.abi_encode().into()))
        .block(alloy_eips::BlockNumberOrTag::Latest.into())
        .await
        .unwrap();
    C::abi_decode_returns(&answer).unwrap()
}

/// The oracle's outputs, oldest first: (L2 block, output root).
async fn outputs_on_l1(chain: &Chain) -> Vec<(u64, B256)> {
    let url = chain.anvil.url();
    let oracle = chain.deployment.l2_output_oracle_proxy;
    let count = view(&url, oracle, L2OutputOracle::nextOutputIndexCall {}).await;
    let mut outputs = Vec::new();
    for index in 0..count.to::<u64>() {
        let output = view(
            &url,
            oracle,
            L2OutputOracle::getL2OutputCall { _l2OutputIndex: U256::from(index) },
        )
        .await;
        outputs.push((u64::try_from(output.l2BlockNumber).unwrap(), output.outputRoot));
    }
    outputs
}

async fn rpc(url: &Url, method: &'static str, params: serde_json::Value) {
    let provider = ProviderBuilder::new().connect_http(url.clone());
    let _: serde_json::Value = provider.raw_request(method.into(), params).await.unwrap();
}

#[tokio::test]
async fn proposes_the_oracles_next_block_once_it_is_final_and_old_enough() {
    // Genesis 30 s ago at 2 s blocks: block 10 is 10 s old, block 20 lies 10 s in the future.
    let chain = deploy(Anvil::start(), 30).await;
    let outputs = FakeOutputs::new(chain.genesis_time);
    let mut proposer = proposer(&chain, PROPOSER_KEY, outputs.clone(), |c| c);

    // No head yet, then a head below the oracle's next block: nothing is due.
    assert_eq!(proposer.tick().await.unwrap(), Tick::NotDue { next: 10, head: None });
    outputs.set_head(9);
    assert_eq!(proposer.tick().await.unwrap(), Tick::NotDue { next: 10, head: Some(9) });
    assert!(outputs_on_l1(&chain).await.is_empty());
    // The default rule asks for the finalized head, never the safe one.
    assert!(outputs.asked.lock().unwrap().iter().all(|head| *head == ProposalHead::Finalized));

    // Block 10 final: proposed (anvil mines on send), then confirmed with index 0.
    outputs.set_head(25);
    let Tick::Sent { l2_block: 10, tx } = proposer.tick().await.unwrap() else {
        panic!("block 10 not proposed")
    };
    // anvil answers a transaction before its automine has mined it: until then the proposal is
    // pending (seen in CI on a loaded machine).
    let mut tick = proposer.tick().await.unwrap();
    for _ in 0..100 {
        if tick != (Tick::Waiting { l2_block: 10 }) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        tick = proposer.tick().await.unwrap();
    }
    assert_eq!(tick, Tick::Proposed { l2_block: 10, index: 0, tx });
    assert_eq!(outputs_on_l1(&chain).await, vec![(10, FakeOutputs::root(10))]);

    // Block 20 is final but younger than L1's head: the oracle would refuse it, so it waits.
    assert_eq!(proposer.tick().await.unwrap(), Tick::NotDue { next: 20, head: Some(25) });
    assert_eq!(outputs_on_l1(&chain).await.len(), 1);
}

#[tokio::test]
async fn a_restart_waits_for_the_previous_runs_pending_proposal_instead_of_duplicating_it() {
    let chain = deploy(Anvil::start(), 1_000).await;
    let url = chain.anvil.url();
    rpc(&url, "evm_setAutomine", serde_json::json!([false])).await;
    let outputs = FakeOutputs::new(chain.genesis_time);
    outputs.set_head(25);

    // The first run sends block 10's proposal and dies before it is mined.
    let mut first = proposer(&chain, PROPOSER_KEY, outputs.clone(), |c| c);
    assert!(matches!(first.tick().await.unwrap(), Tick::Sent { l2_block: 10, .. }));
    drop(first);

    // The second run reads the oracle (still expecting 10) and finds the nonce taken in the
    // pool: it waits instead of sending a second proposal.
    let mut second = proposer(&chain, PROPOSER_KEY, outputs.clone(), |c| c);
    assert_eq!(second.tick().await.unwrap(), Tick::Waiting { l2_block: 10 });
    rpc(&url, "evm_mine", serde_json::json!([])).await;

    // The first run's proposal landed; the second goes on with block 20.
    assert!(matches!(second.tick().await.unwrap(), Tick::Sent { l2_block: 20, .. }));
    rpc(&url, "evm_mine", serde_json::json!([])).await;
    assert!(matches!(second.tick().await.unwrap(), Tick::Proposed { l2_block: 20, index: 1, .. }));
    assert_eq!(
        outputs_on_l1(&chain).await,
        vec![(10, FakeOutputs::root(10)), (20, FakeOutputs::root(20))],
        "one output per index, none skipped"
    );
}

#[tokio::test]
async fn an_unmined_proposal_is_replaced_at_higher_fees_with_the_same_output() {
    let chain = deploy(Anvil::start(), 1_000).await;
    let url = chain.anvil.url();
    rpc(&url, "evm_setAutomine", serde_json::json!([false])).await;
    let outputs = FakeOutputs::new(chain.genesis_time);
    outputs.set_head(15);
    let mut proposer =
        proposer(&chain, PROPOSER_KEY, outputs, |c| c.with_resubmission_timeout(Duration::ZERO));

    let Tick::Sent { l2_block: 10, tx: first } = proposer.tick().await.unwrap() else {
        panic!("block 10 not proposed")
    };
    let l1 = ProviderBuilder::new().connect_http(url.clone());
    let offered = |tx| {
        let l1 = l1.clone();
        async move { l1.get_transaction_by_hash(tx).await.unwrap().unwrap() }
    };
    // Read before it is replaced: the pool forgets a replaced transaction.
    let first_tx = offered(first).await;
    let Tick::Sent { l2_block: 10, tx: replacement } = proposer.tick().await.unwrap() else {
        panic!("the unmined proposal was not replaced")
    };
    assert_ne!(first, replacement);
    use alloy_consensus::Transaction as _;
    let replacement_tx = offered(replacement).await;
    assert_eq!(first_tx.nonce(), replacement_tx.nonce());
    assert!(
        alloy_consensus::Transaction::max_fee_per_gas(&replacement_tx)
            > alloy_consensus::Transaction::max_fee_per_gas(&first_tx)
    );
    assert_eq!(first_tx.input(), replacement_tx.input());
    assert_eq!(first_tx.inner.signer(), replacement_tx.inner.signer());

    rpc(&url, "evm_mine", serde_json::json!([])).await;
    assert_eq!(
        proposer.tick().await.unwrap(),
        Tick::Proposed { l2_block: 10, index: 0, tx: replacement }
    );
    assert_eq!(outputs_on_l1(&chain).await, vec![(10, FakeOutputs::root(10))]);
}

#[tokio::test]
async fn a_key_the_oracle_does_not_name_and_an_unreachable_l1_are_errors_not_panics() {
    let chain = deploy(Anvil::start(), 1_000).await;
    let outputs = FakeOutputs::new(chain.genesis_time);
    outputs.set_head(15);
    let mut stranger = proposer(&chain, OTHER_KEY, outputs.clone(), |c| c);
    let err = stranger.tick().await.unwrap_err();
    assert!(matches!(err, ProposerError::NotProposer { .. }), "{err}");
    assert_eq!(err.kind(), "not_proposer");
    let proposer_address = PROPOSER_KEY.parse::<PrivateKeySigner>().unwrap().address();
    assert!(err.to_string().contains(&proposer_address.to_string()), "{err}");
    assert!(outputs_on_l1(&chain).await.is_empty());

    let nowhere = Url::parse(&format!("http://127.0.0.1:{}", free_port())).unwrap();
    let mut cut_off = OutputProposer::new(
        ProposerConfig::new(nowhere, OracleAddress::At(chain.deployment.l2_output_oracle_proxy)),
        PROPOSER_KEY.parse().unwrap(),
        outputs,
    );
    let err = cut_off.tick().await.unwrap_err();
    assert_eq!(err.kind(), "l1", "{err}");
}
