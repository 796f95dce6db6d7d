//! `rollup-devnet`: write a devnet's genesis files, or run the beacon adapter.

use clap::{Parser, Subcommand};
use rollup_devnet::{
    BeaconAdapter, DEFAULT_ISTHMUS_DELAY, DevnetSpec, deploy_op_chain, write_all_atomically,
};
use rollup_op_contracts::{ContractsPackage, DEFAULT_PACKAGE_DIR};
use std::{net::SocketAddr, path::PathBuf};
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
