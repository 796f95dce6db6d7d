//! `rollup-devnet`: write a devnet's genesis files, run the beacon adapter, or take a withdrawal
//! to L1.

use alloy_primitives::B256;
use alloy_signer_local::PrivateKeySigner;
use clap::{Parser, Subcommand};
use rollup_devnet::{
    BeaconAdapter, DEFAULT_ISTHMUS_DELAY, DEV_DEPLOYER_KEY, DevnetSpec, WithdrawalClient,
    deploy_op_chain, write_all_atomically,
};
use rollup_op_contracts::{ContractsPackage, DEFAULT_PACKAGE_DIR, L1Deployment};
use std::{net::SocketAddr, path::PathBuf, time::Duration};
use url::Url;

#[derive(Debug, Parser)]
#[command(name = "rollup-devnet", about = "Local OP Stack devnet tooling for the rollup binary")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Deploy the OP L1 contracts on the L1, then write genesis.json (op-reth --chain, with the
    /// L2 predeploys), rollup.json (--kona.config-file) and addresses.json (the L1 contracts) for
    /// a new devnet whose L1 origin is the L1's latest block once the contracts are in (or
    /// --l1-origin).
    Init {
        /// L1 JSON-RPC URL (anvil).
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        l1_rpc: Url,
        /// Directory the two files are written to.
        #[arg(long, default_value = ".devnet")]
        out: PathBuf,
        /// L2 chain id.
        #[arg(long, default_value_t = 42_069)]
        chain_id: u64,
        /// L2 block time in seconds.
        #[arg(long, default_value_t = 2)]
        block_time: u64,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
        /// Number of the L1 block to start from (default: the latest). An older block starts the
        /// L2 chain in the past: the sequencer catches up as fast as it builds.
        #[arg(long, value_name = "NUMBER")]
        l1_origin: Option<u64>,
        /// Seconds after genesis at which Isthmus activates (0: at genesis). The forks before it
        /// are active at genesis.
        #[arg(long, default_value_t = DEFAULT_ISTHMUS_DELAY, value_name = "SECONDS")]
        isthmus_delay: u64,
        /// The unpacked npm package @eth-optimism/contracts-bedrock (`npm ci --prefix tests`).
        #[arg(long, default_value = DEFAULT_PACKAGE_DIR)]
        contracts: PathBuf,
    },
    /// Take a withdrawal from L2 to L1 through the devnet's OptimismPortal: prove it with the
    /// output root the node's proposer posted, then finalize it after the finalization period.
    Withdraw {
        #[command(subcommand)]
        step: WithdrawStep,
        #[command(flatten)]
        endpoints: WithdrawArgs,
    },
    /// Serve the beacon API endpoints kona needs in front of anvil, and keep anvil's blocks one
    /// per slot (kona asks for blobs by slot).
    Beacon {
        /// anvil's URL (its own beacon genesis endpoint is passed through).
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        l1_rpc: Url,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:5052")]
        listen: SocketAddr,
        /// L1 slot time in seconds (anvil's --block-time).
        #[arg(long, default_value_t = 2)]
        seconds_per_slot: u64,
    },
}

#[derive(Debug, Subcommand)]
enum WithdrawStep {
    /// Prove the withdrawal an L2 transaction started (L2ToL1MessagePasser.initiateWithdrawal,
    /// or the L2 bridge's withdraw), against the first output proposed at or after its block.
    Prove {
        /// The L2 transaction that started the withdrawal.
        #[arg(long, value_name = "HASH")]
        tx: B256,
    },
    /// Finalize a proven withdrawal (waiting for the finalization period, up to --max-wait):
    /// the portal makes its call on L1, e.g. sends the ETH.
    Finalize {
        /// The L2 transaction that started the withdrawal.
        #[arg(long, value_name = "HASH")]
        tx: B256,
        /// Longest wait for the finalization period to pass, in seconds.
        #[arg(long, default_value_t = 120, value_name = "SECONDS")]
        max_wait: u64,
    },
}

#[derive(Debug, clap::Args)]
struct WithdrawArgs {
    /// L1 JSON-RPC URL.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8545")]
    l1_rpc: Url,
    /// L2 JSON-RPC URL (a `rollup` node's; it proves against its chain).
    #[arg(long, global = true, default_value = "http://127.0.0.1:9545")]
    l2_rpc: Url,
    /// The devnet's addresses.json (`init` wrote it): where the OptimismPortal is.
    #[arg(long, global = true, default_value = ".devnet/addresses.json")]
    addresses: PathBuf,
    /// Hex private key of the L1 account that sends the proof and the finalization (anyone may;
    /// default: anvil's first development key).
    #[arg(long, global = true, env = "WITHDRAW_PRIVATE_KEY", hide_env_values = true)]
    private_key: Option<String>,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    if let Err(err) = run(Cli::parse()).await {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> eyre::Result<()> {
    match cli.command {
        Command::Init {
            l1_rpc,
            out,
            chain_id,
            block_time,
            force,
            l1_origin: at,
            isthmus_delay,
            contracts,
        } => {
            let genesis = out.join("genesis.json");
            let rollup = out.join("rollup.json");
            let addresses = out.join("addresses.json");
            // Refuse before deploying anything: a deployment whose files cannot be written is
            // wasted L1 state.
            for path in [&genesis, &rollup, &addresses] {
                if !force && path.exists() {
                    return Err(rollup_devnet::DevnetError::Exists(path.clone()).into());
                }
            }
            let package = ContractsPackage::open(contracts)?;
            let spec = DevnetSpec {
                l2_chain_id: chain_id,
                block_time,
                isthmus_delay,
                ..DevnetSpec::default()
            };
            let (origin, chain) = deploy_op_chain(&l1_rpc, &package, &spec, at).await?;
            let artifacts = spec.build(&origin, &chain)?;
            write_all_atomically(
                &[
                    (genesis.clone(), serde_json::to_vec_pretty(&artifacts.genesis)?),
                    (rollup.clone(), serde_json::to_vec_pretty(&artifacts.rollup)?),
                    (addresses.clone(), serde_json::to_vec_pretty(&chain.l1)?),
                ],
                force,
            )?;
            println!("genesis   {} (L2 genesis {:#x})", genesis.display(), artifacts.genesis_hash);
            println!(
                "rollup    {} (L1 origin {} {:#x}, Isthmus at {})",
                rollup.display(),
                origin.block.number,
                origin.block.hash,
                spec.isthmus_time(origin.timestamp)
            );
            println!(
                "addresses {} (OptimismPortal {}, SystemConfig {})",
                addresses.display(),
                chain.l1.optimism_portal_proxy,
                chain.l1.system_config_proxy
            );
        }
        Command::Withdraw { step, endpoints } => {
            let addresses = std::fs::read(&endpoints.addresses)
                .map_err(|e| eyre::eyre!("cannot read {}: {e}", endpoints.addresses.display()))?;
            let deployment: L1Deployment = serde_json::from_slice(&addresses)
                .map_err(|e| eyre::eyre!("{}: {e}", endpoints.addresses.display()))?;
            let key = endpoints.private_key.as_deref().unwrap_or(DEV_DEPLOYER_KEY);
            let signer: PrivateKeySigner =
                key.trim().parse().map_err(|e| eyre::eyre!("--private-key: {e}"))?;
            let client = WithdrawalClient::new(
                &endpoints.l1_rpc,
                &endpoints.l2_rpc,
                deployment.optimism_portal_proxy,
                signer,
            );
            match step {
                WithdrawStep::Prove { tx } => {
                    let proven = client.prove(tx).await?;
                    let how = match proven.tx {
                        Some(tx) => format!("in L1 transaction {tx}"),
                        None => "before".to_owned(),
                    };
                    println!(
                        "withdrawal {} proven {how} against output {} (L2 block {})",
                        proven.hash, proven.output_index, proven.output_block
                    );
                }
                WithdrawStep::Finalize { tx, max_wait } => {
                    let withdrawal = client.withdrawal(tx).await?;
                    match client.finalize(tx, Duration::from_secs(max_wait)).await? {
                        Some(l1_tx) => println!(
                            "withdrawal {} finalized in L1 transaction {l1_tx}: {} wei to {}",
                            withdrawal.hash,
                            withdrawal.transaction.value,
                            withdrawal.transaction.target
                        ),
                        None => println!("withdrawal {} was finalized before", withdrawal.hash),
                    }
                }
            }
        }
        Command::Beacon { l1_rpc, listen, seconds_per_slot } => {
            let (_, serve) = BeaconAdapter::new(l1_rpc, seconds_per_slot).bind(listen).await?;
            tokio::select! {
                _ = serve => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
    }
    Ok(())
}
