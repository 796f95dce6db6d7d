//! `rollup`: op-reth with kona-node (the OP Stack consensus node) in the same process.
//!
//! `rollup node [op-reth flags] [--kona.* flags]` runs op-reth and, when any `--kona.*` flag asks
//! for it, installs the kona ExEx: kona's actors drive reth through reth's own engine API
//! handler, called in-process (no engine RPC, no JWT), and derive from L2 blocks that reth's ExEx
//! notifications keep in memory. Without kona flags, and for every other subcommand (`init`, `db`, ...), the binary is
//! plain op-reth.

mod engine;
mod exex;

use clap::Parser;
use reth_chainspec::ForkCondition;
use reth_node_builder::Node as _;
use reth_optimism_cli::{Cli, chainspec::OpChainSpecParser, commands::Commands};
use reth_optimism_forks::{OpHardfork, OpHardforks};
use reth_optimism_node::{OpEngineApiBuilder, OpEngineValidatorBuilder, OpNode, args::RollupArgs};
use rollup_cli::{KonaArgs, NodeCliConfig};

#[global_allocator]
static ALLOC: reth_cli_util::allocator::Allocator = reth_cli_util::allocator::new_allocator();

/// op-reth's rollup arguments plus the kona consensus node's.
#[derive(Debug, Clone, clap::Args)]
struct RollupExt {
    #[command(flatten)]
    rollup: RollupArgs,
    #[command(flatten)]
    kona: KonaArgs,
}

fn main() {
    reth_cli_util::sigsegv_handler::install();
    if std::env::var_os("RUST_BACKTRACE").is_none() {
        // SAFETY: single-threaded at this point; nothing else reads the environment yet.
        unsafe { std::env::set_var("RUST_BACKTRACE", "1") };
    }

    let cli = Cli::<OpChainSpecParser, RollupExt>::parse();

    // Validate the kona configuration before reth opens its database, so that a bad flag is one
    // line naming it and a non-zero exit, not a half-started node.
    let kona = match &cli.command {
        Commands::Node(command) if command.ext.kona.is_requested() => {
            use reth_chainspec::EthChainSpec as _;
            let chain_id = command.chain.chain().id();
            match NodeCliConfig::builder()
                .args(command.ext.kona.clone())
                .l2_chain_id(chain_id)
                .build()
                .and_then(|config| {
                    let execution = execution_forks(command.chain.as_ref());
                    rollup_cli::check_execution_forks(&config.rollup_config, &execution)?;
                    Ok(config)
                }) {
                Ok(config) => Some(config),
                Err(err) => {
                    eprintln!("error: {err}");
                    std::process::exit(2);
                }
            }
        }
        _ => None,
    };

    if let Err(err) = cli.run(async move |builder, ext| {
        let op_node = OpNode::new(ext.rollup);
        // reth's own OP engine API handler, built with its add-ons, is handed to the kona ExEx
        // as well as to the auth server: kona calls it in-process (see `engine.rs`). Without
        // kona the receiver is dropped and the handover is a no-op.
        let (engine_api_tx, engine_api_rx) = tokio::sync::oneshot::channel();
        let engine_api = engine::HandoverEngineApiBuilder::new(
            OpEngineApiBuilder::<OpEngineValidatorBuilder>::default(),
            engine_api_tx,
        );
        let handle = builder
            .with_types::<OpNode>()
            .with_components(op_node.components())
            .with_add_ons(op_node.add_ons().with_engine_api(engine_api))
            .install_exex_if(kona.is_some(), "kona-node", async move |ctx| {
                let config =
                    kona.ok_or_else(|| eyre::eyre!("kona ExEx installed without a config"))?;
                // Not awaited here: reth builds its add-ons (and the handler) only after every
                // ExEx has launched; the ExEx future waits for it.
                Ok(exex::run(ctx, config, engine_api_rx))
            })
            .launch_with_debug_capabilities()
            .await?;
        handle.node_exit_future.await
    }) {
        eprintln!("Error: {err:?}");
        std::process::exit(1);
    }
}

/// The OP forks the execution chain spec (`--chain`) schedules, named as the rollup config names
/// them, so that the two layers can be checked to agree before either starts.
fn execution_forks(chain: &impl OpHardforks) -> Vec<(&'static str, Option<u64>)> {
    [
        ("Canyon", OpHardfork::Canyon),
        ("Ecotone", OpHardfork::Ecotone),
        ("Fjord", OpHardfork::Fjord),
        ("Granite", OpHardfork::Granite),
        ("Holocene", OpHardfork::Holocene),
        ("Isthmus", OpHardfork::Isthmus),
        ("Jovian", OpHardfork::Jovian),
        ("Interop", OpHardfork::Interop),
    ]
    .into_iter()
    .map(|(name, fork)| {
        let time = match chain.op_fork_activation(fork) {
            ForkCondition::Never => None,
            ForkCondition::Timestamp(time) => Some(time),
            // OP forks after Bedrock are timestamp forks; a block or TTD condition means active
            // from genesis.
            _ => Some(0),
        };
        (name, time)
    })
    .collect()
}
