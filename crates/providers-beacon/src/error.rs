//! The error of a beacon API request.

/// Why a beacon API request failed. The display names the request's path (never the base URL,
/// which may carry credentials) and, for a refusal, the beacon node's own message.
#[derive(Debug, thiserror::Error)]
pub enum BeaconError {
    /// The request did not get an answer (connection refused, timeout, broken body).
    #[error("beacon API {path}: {source}")]
    Transport {
        /// The request's path, e.g. `eth/v1/beacon/blob_sidecars/33`.
        path: String,
        /// The transport error, its URL removed.
        #[source]
        source: reqwest::Error,
    },
    /// The beacon node answered with an error status.
    #[error("beacon API answered {status} to {path}: {message}")]
    Status {
        /// The request's path.
        path: String,
        /// The HTTP status code.
        status: u16,
        /// The node's `message` field, or the start of its body when it sent no JSON error.
        message: String,
    },
    /// The beacon node answered success with a body that is not the expected JSON.
    #[error("beacon API {path}: unexpected answer: {source}")]
    Decode {
        /// The request's path.
        path: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
}

impl BeaconError {
    /// The kind of failure, as the failure metric labels it.
    pub const fn kind(&self) -> FailureKind {
        match self {
            Self::Transport { .. } => FailureKind::Transport,
            Self::Status { .. } => FailureKind::Status,
            Self::Decode { .. } => FailureKind::Decode,
        }
    }
}

/// The kinds of [`BeaconError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No answer.
    Transport,
    /// An error status.
    Status,
    /// A success status with an unexpected body.
    Decode,
}

impl FailureKind {
    /// The metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Transport => "transport",
            Self::Status => "status",
            Self::Decode => "decode",
        }
    }
}
