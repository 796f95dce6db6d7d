//! The crate's error type.

/// What can go wrong connecting to, or running, a Celestia node.
#[derive(Debug, thiserror::Error)]
pub enum CelestiaError {
    /// The node's JSON-RPC could not be reached or set up.
    #[error("celestia node {url}: {message}")]
    Connect {
        /// The node's URL, redacted ([`sequencer_da::redact_url`]).
        url: String,
        /// The client's error, as redacted text: the client's own error may quote the URL with
        /// its credentials, so it is not kept as a source.
        message: String,
    },
    /// The sequencer's namespace is not a valid Celestia namespace.
    #[error("namespace: {0}")]
    Namespace(String),
    /// The local node could not bind its RPC address or register its methods.
    #[error("local celestia node RPC: {0}")]
    Server(String),
    /// The local node's blob store could not be read or written.
    #[error("local celestia node store {path}: {message}")]
    Store {
        /// The store file.
        path: String,
        /// What went wrong.
        message: String,
    },
}
