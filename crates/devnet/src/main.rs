//! `rollup-devnet`: write a devnet's genesis files, or run the beacon adapter.

use alloy_eips::BlockNumberOrTag;
use clap::{Parser, Subcommand};
use rollup_devnet::{BeaconAdapter, DevnetSpec, l1_origin, write_all_atomically};
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
    /// Write genesis.json (op-reth --chain) and rollup.json (--kona.config-file) for a new devnet
    /// whose L1 origin is the L1's latest block (or --l1-origin).
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
        Command::Init { l1_rpc, out, chain_id, block_time, force, l1_origin: at } => {
            let at = at.map_or(BlockNumberOrTag::Latest, BlockNumberOrTag::Number);
            let origin = l1_origin(&l1_rpc, at).await?;
            let spec = DevnetSpec { l2_chain_id: chain_id, block_time, ..DevnetSpec::default() };
            let artifacts = spec.build(&origin)?;
            let genesis = out.join("genesis.json");
            let rollup = out.join("rollup.json");
            write_all_atomically(
                &[
                    (genesis.clone(), serde_json::to_vec_pretty(&artifacts.genesis)?),
                    (rollup.clone(), serde_json::to_vec_pretty(&artifacts.rollup)?),
                ],
                force,
            )?;
            println!("genesis  {} (L2 genesis {:#x})", genesis.display(), artifacts.genesis_hash);
            println!(
                "rollup   {} (L1 origin {} {:#x})",
                rollup.display(),
                origin.block.number,
                origin.block.hash
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
