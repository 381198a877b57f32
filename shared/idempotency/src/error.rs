//! The store's error type.

/// A boxed source error from a backend client.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store call failed. Every variant means "nothing was decided": callers
/// must treat the message as not processed (fail closed), never as new.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached (connection refused, timeout, I/O).
    #[error("idempotency backend {backend} is unavailable")]
    Unavailable {
        /// Which backend (`redis`, `dynamodb`, `embedded`).
        backend: &'static str,
        /// The client's error.
        #[source]
        source: BoxError,
    },
    /// The backend answered with an error.
    #[error("idempotency backend {backend} failed: {operation}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// What the store was doing.
        operation: &'static str,
        /// The client's error.
        #[source]
        source: BoxError,
    },
    /// A stored record could not be understood.
    #[error("idempotency record {key:?} in {backend} is corrupt: {reason}")]
    Corrupt {
        /// Which backend.
        backend: &'static str,
        /// The record's key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The blocking task running an embedded-store transaction panicked or was cancelled.
    #[error("idempotency store task failed")]
    Task(#[source] tokio::task::JoinError),
    /// The store names a backend this build was compiled without.
    #[error(
        "the {backend} idempotency store is not in this build: enable the `{feature}` feature of switchyard-idempotency"
    )]
    NotBuilt {
        /// Which backend (`redis`, `dynamodb`, `embedded`).
        backend: &'static str,
        /// The cargo feature that builds it.
        feature: &'static str,
    },
    /// The store needs a client the caller did not give (`dynamodb:<table>`
    /// opened without a DynamoDB client).
    #[error("the {backend} idempotency store needs a client, and none was given")]
    NoClient {
        /// Which backend.
        backend: &'static str,
    },
    /// The backend returned a different number of results than requests sent.
    #[error("idempotency backend {backend} returned {got} results for {expected} requests")]
    ResultCount {
        /// Which backend.
        backend: &'static str,
        /// How many requests were sent.
        expected: usize,
        /// How many results came back.
        got: usize,
    },
}
