//! The one error type of the ExEx core.

/// An error from outside this crate (reth's notification stream, a kona actor), kept whole so
/// that its source chain reaches the operator.
pub type BoxedError = Box<dyn std::error::Error + Send + Sync + 'static>;

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
    /// reth's chain-notification stream failed.
    #[error("reth's ExEx notification stream: {0}")]
    Notifications(#[source] BoxedError),
    /// reth stopped taking the ExEx's processed-height reports.
    #[error("reth stopped accepting ExEx events ({0})")]
    HostClosed(&'static str),
    /// A kona actor failed; the others were stopped.
    #[error("kona actor `{actor}` failed: {source}")]
    ActorSystem {
        /// The actor that failed first.
        actor: &'static str,
        /// Its error, with kona's own source chain.
        #[source]
        source: ActorError,
    },
    /// A kona actor (or the task running them) panicked; the others were stopped.
    #[error("kona actor `{actor}` panicked: {message}")]
    ActorPanicked {
        /// The actor, or `supervisor` for the task that runs them.
        actor: &'static str,
        /// The panic message.
        message: String,
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
    /// An L1 read of the L1 watcher failed.
    #[error("L1 {what} read failed: {source}")]
    L1Read {
        /// What was read (block, logs).
        what: &'static str,
        /// The transport's error.
        #[source]
        source: BoxedError,
    },
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
        matches!(
            self,
            Self::ActorSystem { .. } | Self::ActorPanicked { .. } | Self::ActorExited { .. }
        )
    }

    /// The actor whose failure this is, if it is an actor's.
    pub const fn failed_actor(&self) -> Option<&'static str> {
        match self {
            Self::ActorSystem { actor, .. }
            | Self::ActorPanicked { actor, .. }
            | Self::ActorExited { actor } => Some(actor),
            _ => None,
        }
    }
}

/// A kona actor's error as it was raised: the message of every level of its source chain,
/// captured inside the actor's task. (Some kona errors hold sources that are not `Send`, so they
/// cannot leave the task as they are; capturing keeps the chain an operator reads.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorError {
    message: String,
    source: Option<Box<ActorError>>,
}

impl ActorError {
    /// Captures `error` and its source chain.
    pub fn capture(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut message = error.to_string();
        if message.is_empty() {
            message = format!("{error:?}");
        }
        Self { message, source: error.source().map(|source| Box::new(Self::capture(source))) }
    }

    /// The message of this level only.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ActorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ActorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|source| source as &(dyn std::error::Error + 'static))
    }
}
