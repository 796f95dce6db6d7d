//! `sequencer`: a PoA sequencer that executes blocks on reth through the Engine API (SOFT) and
//! finalizes them once their data is final on the DA layer (FIRM).
//!
//! - `sequencer keygen --output PATH`: a new ed25519 validator key (mode 0600, never
//!   overwrites); prints the public key.
//! - `sequencer genesis --config genesis-config.toml --output genesis.json`: a genesis for
//!   `reth node --chain genesis.json`.
//! - `sequencer run --config config.toml`: validates the config, then runs until SIGTERM/SIGINT.
//! - `sequencer da --data-dir DIR`: the local Celestia-compatible DA node (what
//!   `network = "local"` talks to), until SIGTERM/SIGINT.
//! - `sequencer da-history --config config.toml`: reads the chain's history back from DA alone
//!   and checks it: each block once, no gap, signed by the validator set, the hash reth has.

use clap::{Parser, Subcommand};
use commonware_runtime::{Runner as _, Supervisor as _};
use eyre::{WrapErr, eyre};
use sequencer_celestia::{CelestiaDa, CelestiaDaConfig, LocalCelestiaNode, LocalNodeConfig};
use sequencer_config::{Config, GenesisConfig, ValidatorKey};
use sequencer_consensus::{BftConfig, Peer, ValidatorSet, start_network};
use sequencer_da::redact_url;
use sequencer_node::{BftSetup, NodeConfig, ShutdownOutcome, SingleValidator, launch, launch_bft};
use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;
use tracing::info;

#[derive(Debug, Parser)]
#[command(name = "sequencer", version, about = "PoA sequencer with Celestia DA")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a validator key (ed25519), written with mode 0600; refuses to overwrite.
    Keygen {
        /// Where to write the key.
        #[arg(long)]
        output: PathBuf,
    },
    /// Write a reth-loadable genesis from a genesis config TOML; refuses to overwrite.
    Genesis {
        /// Genesis config TOML.
        #[arg(long)]
        config: PathBuf,
        /// Output genesis JSON.
        #[arg(long)]
        output: PathBuf,
    },
    /// Run the sequencer.
    Run {
        /// Node config TOML.
        #[arg(long)]
        config: PathBuf,
    },
    /// Read the chain's history back from DA and check it against the validator set and reth.
    DaHistory {
        /// Node config TOML (the DA node, namespace, validators and reth to compare with).
        #[arg(long)]
        config: PathBuf,
        /// First DA height to read.
        #[arg(long, default_value_t = 1)]
        from_height: u64,
    },
    /// Run the local Celestia-compatible DA node (celestia-node's JSON-RPC: blob and header
    /// methods, signed headers, blobs kept in DATA_DIR).
    Da {
        /// JSON-RPC listen address.
        #[arg(long, default_value = "127.0.0.1:26658")]
        listen: SocketAddr,
        /// Time between DA blocks, in milliseconds (Celestia: ~6000).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
        block_time_ms: u64,
        /// Where blobs are kept across restarts.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen { output } => keygen(&output),
        Command::Genesis { config, output } => genesis(&config, &output),
        Command::Run { config } => run(&config),
        Command::DaHistory { config, from_height } => da_history(&config, from_height),
        Command::Da { listen, block_time_ms, data_dir } => {
            da(listen, Duration::from_millis(block_time_ms), data_dir)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line per problem; config errors already carry one line per field.
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn keygen(output: &std::path::Path) -> eyre::Result<()> {
    let key = ValidatorKey::generate();
    key.write_new(output).map_err(|e| eyre!("--output {e}"))?;
    println!("{}", key.public());
    Ok(())
}

fn genesis(config: &std::path::Path, output: &std::path::Path) -> eyre::Result<()> {
    let cfg = GenesisConfig::load(config).map_err(|e| eyre!("--config {e}"))?;
    let g = cfg.write(output).map_err(|e| match e {
        sequencer_config::GenesisError::Field { .. } => eyre!("{}: {e}", config.display()),
        other => eyre!("--output {other}"),
    })?;
    println!(
        "wrote {} (chain id {}, {} accounts)",
        output.display(),
        g.config.chain_id,
        g.alloc.len()
    );
    Ok(())
}

fn run(config_path: &std::path::Path) -> eyre::Result<()> {
    let cfg = Config::load_validated(config_path).map_err(|e| eyre!("invalid config\n{e}"))?;
    init_tracing();
    if cfg.consensus.validators.len() == 1 {
        let consensus =
            Arc::new(SingleValidator::new(&cfg.consensus.validators, cfg.consensus.key.clone())?);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .wrap_err("tokio runtime")?;
        return runtime.block_on(serve(cfg, Role::Single(consensus)));
    }
    // A validator set runs on commonware's tokio runtime (consensus needs its storage for the
    // vote journal); everything else runs on the same tokio runtime underneath.
    let dir = sequencer_node::consensus_dir(&cfg.sequencer.state_path);
    let runner = commonware_runtime::tokio::Runner::new(
        commonware_runtime::tokio::Config::new().with_storage_directory(dir.join("journal")),
    );
    runner.start(|context| async move {
        let set = ValidatorSet::new(cfg.chain_id, &cfg.consensus.validators)?;
        let peers: Vec<Peer> = cfg
            .consensus
            .peers
            .iter()
            .map(|(key, address)| Peer { key: *key, address: *address })
            .collect();
        let network =
            start_network(&context, &set, &cfg.consensus.key, cfg.consensus.listen_addr, &peers)?;
        info!(
            listen = %cfg.consensus.listen_addr,
            validators = set.participants().len(),
            quorum = set.quorum(),
            "validator p2p listening"
        );
        let config = BftConfig::new(set, cfg.consensus.key.clone(), cfg.sequencer.block_time);
        let setup = BftSetup {
            context: context.child("consensus"),
            config,
            network,
            certificates_dir: Some(dir.join("certificates")),
        };
        serve(cfg, Role::Set(Box::new(setup))).await
    })
}

/// Who decides this node's blocks.
enum Role {
    Single(Arc<SingleValidator>),
    Set(Box<BftSetup>),
}

/// Runs the node until SIGTERM/SIGINT.
async fn serve(cfg: sequencer_config::ValidatedConfig, role: Role) -> eyre::Result<()> {
    if let Some(addr) = cfg.metrics.listen_addr {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .install()
            .map_err(|e| eyre!("metrics.listen_addr: {addr}: {e}"))?;
        sequencer_node::metrics::describe();
        info!(%addr, "Prometheus metrics listening");
    }
    let da = Arc::new(
        CelestiaDa::connect(celestia_config(&cfg))
            .await
            .map_err(|e| eyre!("celestia.rpc_url: {e}"))?,
    );
    let node_cfg = NodeConfig::from_validated(&cfg);
    info!(
        chain_id = cfg.chain_id,
        validator = %cfg.consensus.key.public(),
        validators = cfg.consensus.validators.len(),
        engine = %redact_url(node_cfg.engine_url.as_str()),
        block_time = ?node_cfg.block_time,
        max_soft_ahead = node_cfg.max_soft_ahead,
        namespace = %cfg.da.namespace,
        celestia = %redact_url(cfg.da.rpc_url.as_str()),
        network = ?cfg.da.network,
        "starting sequencer"
    );
    let engine_url = redact_url(node_cfg.engine_url.as_str());
    let cancel = CancellationToken::new();
    let node = match role {
        Role::Single(consensus) => launch(node_cfg, consensus, da, cancel).await,
        Role::Set(setup) => launch_bft(node_cfg, *setup, da, cancel).await,
    }
    .map_err(|e| eyre!("cannot start (execution.reth_url {engine_url}): {e}"))?;
    let grace = cfg.sequencer.shutdown_timeout;
    match node.run_until(shutdown_signal(), grace).await? {
        ShutdownOutcome::Clean => info!("stopped cleanly"),
        ShutdownOutcome::Abandoned => {
            info!(?grace, "stopped; in-flight work abandoned after the grace period")
        }
    }
    Ok(())
}

fn da(listen: SocketAddr, block_time: Duration, data_dir: PathBuf) -> eyre::Result<()> {
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("tokio runtime")?;
    runtime.block_on(async move {
        let node = LocalCelestiaNode::start(LocalNodeConfig {
            listen,
            block_time,
            data_dir: Some(data_dir),
        })
        .await
        .map_err(|e| eyre!("local DA node: {e}"))?;
        info!(url = %redact_url(&node.url()), "local DA node serving; point celestia.rpc_url at it");
        shutdown_signal().await;
        node.stop().await;
        info!("local DA node stopped");
        Ok(())
    })
}

fn da_history(config_path: &std::path::Path, from_height: u64) -> eyre::Result<()> {
    use sequencer_da::DaClient;
    let cfg = Config::load_validated(config_path).map_err(|e| eyre!("invalid config\n{e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("tokio runtime")?;
    runtime.block_on(async move {
        let da = CelestiaDa::connect(celestia_config(&cfg)).await.map_err(|e| eyre!("celestia.rpc_url: {e}"))?;
        let head = da.finalized_height().await.map_err(|e| eyre!("celestia.rpc_url: {e}"))?;
        let history = sequencer_node::history::History::read(&da, &cfg.da.namespace, from_height..=head)
            .await
            .map_err(|e| eyre!("celestia.rpc_url: {e}"))?;
        let check = history.check(&cfg.consensus.validators);
        let engine = sequencer_engine::EngineClient::new(
            cfg.execution.reth_url.clone(),
            cfg.execution.jwt_secret,
            NodeConfig::from_validated(&cfg).fork,
        );
        let mut mismatched = Vec::new();
        for (number, hash) in &check.blocks {
            let block = engine
                .block(alloy_eips::BlockNumberOrTag::Number(*number))
                .await
                .map_err(|e| eyre!("execution.reth_url: {e}"))?;
            if block.map(|(b, _)| b.hash) != Some(*hash) {
                mismatched.push(*number);
            }
        }
        let range = |blocks: &std::collections::BTreeMap<u64, _>| match (blocks.keys().next(), blocks.keys().next_back()) {
            (Some(first), Some(last)) => format!("{first}..={last}"),
            _ => "none".into(),
        };
        println!(
            "DA heights {from_height}..={head}: {} batches, blocks {} ({} blocks); duplicates {:?}; gaps {:?}; unreadable blobs {}; batches signed outside the validator set {:?}; hashes differing from reth {:?}",
            history.batches.len(),
            range(&check.blocks),
            check.blocks.len(),
            check.duplicates,
            check.gaps,
            history.unreadable.len(),
            check.foreign_signers,
            mismatched,
        );
        // A validator set's blocks must also be proven final by its own signatures.
        let mut certified = true;
        if cfg.consensus.validators.len() > 1 {
            let genesis = engine
                .block(alloy_eips::BlockNumberOrTag::Number(0))
                .await
                .map_err(|e| eyre!("execution.reth_url: {e}"))?
                .ok_or_else(|| eyre!("execution.reth_url: no genesis block"))?
                .0;
            let set = sequencer_consensus::ValidatorSet::new(cfg.chain_id, &cfg.consensus.validators)?
                .bound_to(genesis.hash);
            let c = history.certification(&set);
            println!(
                "finality certificates: {} blocks covered by a quorum's signatures; uncovered {:?}; bad certificates {:?}; copies posted by other validators {}",
                c.certified, c.uncertified, c.bad_certificates, check.copies
            );
            certified = c.uncertified.is_empty() && c.bad_certificates.is_empty();
        }
        if check.is_clean() && history.unreadable.is_empty() && mismatched.is_empty() && certified {
            println!("ok: every block once, no gap, signed by the validator set, as reth has it");
            Ok(())
        } else {
            Err(eyre!("the DA history does not check out (see above)"))
        }
    })
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

/// The Celestia client's settings from the validated `[celestia]` section.
fn celestia_config(cfg: &sequencer_config::ValidatedConfig) -> CelestiaDaConfig {
    let mut config = CelestiaDaConfig::new(cfg.da.rpc_url.as_str());
    config.auth_token = cfg.da.auth_token.as_ref().map(|t| t.expose().to_owned());
    config.gas_price = cfg.da.gas_price;
    config.max_gas_price = cfg.da.max_gas_price;
    config
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(%e, "cannot listen for SIGTERM; stopping on SIGINT only");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => info!("SIGINT received, shutting down"),
    }
}
