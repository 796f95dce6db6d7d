//! The one error type of the ExEx core.

/// Why the kona ExEx stopped.
#[derive(Debug, thiserror::Error)]
pub enum KonaExExError {
    /// The node configuration was rejected.
    #[error(transparent)]
    Config(#[from] rollup_cli::CliError),
    /// kona's node service could not be put together.
    #[error("kona node service: {0}")]
    Wiring(&'static str),
    /// The L2 buffer rejected a chain-state event.
    #[error("L2 buffer: {0}")]
    Provider(#[from] rollup_providers_local::ProviderError),
    /// The host (reth) side failed: its notification stream errored or it stopped accepting
    /// processed-height reports.
    #[error("ExEx context: {0}")]
    Context(String),
    /// A kona actor failed; the others were stopped.
    #[error("kona actor `{actor}` failed: {error}")]
    ActorSystem {
        /// The actor that failed first.
        actor: &'static str,
        /// Its error.
        error: String,
    },
    /// A kona actor returned although nobody asked it to stop.
    #[error("kona actor `{actor}` exited unexpectedly")]
    ActorExited {
        /// The actor.
        actor: &'static str,
    },
    /// The runtime kona runs on could not be created.
    #[error("kona runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The L1 RPC serves another chain than the rollup config's L1.
    #[error(
        "--kona.l1-eth-rpc {url} serves L1 chain id {actual}, but the rollup config expects {expected}"
    )]
    L1ChainIdMismatch {
        /// The L1 RPC URL.
        url: String,
        /// The chain id it reported.
        actual: u64,
        /// `l1_chain_id` of the rollup config.
        expected: u64,
    },
}

impl KonaExExError {
    /// Whether starting kona again can cure this failure. Actor failures can (a lost peer, an
    /// engine error, a panic); a wrong L1, a bad config, a broken host or a wiring bug cannot,
    /// and restarting would only repeat them.
    pub const fn is_restartable(&self) -> bool {
        matches!(self, Self::ActorSystem { .. } | Self::ActorExited { .. })
    }

    /// The actor whose failure this is, if it is an actor's.
    pub const fn failed_actor(&self) -> Option<&'static str> {
        match self {
            Self::ActorSystem { actor, .. } | Self::ActorExited { actor } => Some(actor),
            _ => None,
        }
    }
}
