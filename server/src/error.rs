//! The domain error of the whole server and its one mapping to gRPC status.
//!
//! Every fallible operation in `core`, `meta` and `blobs` returns [`Error`].
//! The conversion into [`tonic::Status`] is a single exhaustive `match`, so a
//! new variant does not compile until it has a status code. Internal failures
//! are logged in full here and reach the caller only as a generic message.

use tonic::{Code, Status};

/// Result alias used across the server.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, classified by what the caller can do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The request is malformed: a bad path, id, field or message order.
    #[error("{0}")]
    InvalidArgument(String),
    /// The namespace, entry or upload does not exist (or has expired).
    #[error("{0}")]
    NotFound(String),
    /// The target exists and the request said it must not.
    #[error("{0}")]
    AlreadyExists(String),
    /// The system is not in the state the request needs (version mismatch,
    /// a directory where a file is expected, a BLOB's second path, ...).
    #[error("{0}")]
    FailedPrecondition(String),
    /// A read range starts past the end of the file.
    #[error("{0}")]
    OutOfRange(String),
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// The caller did not prove who it is.
    #[error("{0}")]
    Unauthenticated(String),
    /// A limit or quota would be exceeded.
    #[error("{0}")]
    ResourceExhausted(String),
    /// A concurrent operation conflicts; retrying may succeed.
    #[error("{0}")]
    Aborted(String),
    /// Stored content does not match its recorded digest or size.
    #[error("{0}")]
    DataLoss(String),
    /// The server is shutting down or a dependency is unreachable.
    #[error("{0}")]
    Unavailable(String),
    /// The metadata store failed. Logged in full, returned as INTERNAL.
    #[error("metadata store: {0}")]
    Metadata(String),
    /// A blob backend failed. Logged in full, returned as UNAVAILABLE.
    #[error("blob backend: {0}")]
    Backend(String),
    /// A bug or an impossible state. Logged in full, returned as INTERNAL.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// Whether this error is a storage or internal failure (as opposed to a
    /// verdict on the request). A grouped metadata commit containing such a
    /// failure is abandoned whole.
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            Error::Metadata(_) | Error::Backend(_) | Error::Internal(_)
        )
    }

    /// The gRPC code this error maps to.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument(_) => Code::InvalidArgument,
            Error::NotFound(_) => Code::NotFound,
            Error::AlreadyExists(_) => Code::AlreadyExists,
            Error::FailedPrecondition(_) => Code::FailedPrecondition,
            Error::OutOfRange(_) => Code::OutOfRange,
            Error::PermissionDenied(_) => Code::PermissionDenied,
            Error::Unauthenticated(_) => Code::Unauthenticated,
            Error::ResourceExhausted(_) => Code::ResourceExhausted,
            Error::Aborted(_) => Code::Aborted,
            Error::DataLoss(_) => Code::DataLoss,
            Error::Unavailable(_) => Code::Unavailable,
            Error::Metadata(_) => Code::Internal,
            Error::Backend(_) => Code::Unavailable,
            Error::Internal(_) => Code::Internal,
        }
    }

    /// The message the caller sees: the reason for verdicts, a generic text
    /// for faults (whose details stay in the log).
    pub fn public_message(&self) -> String {
        match self {
            Error::Metadata(_) => "metadata store error".to_owned(),
            Error::Backend(_) => "storage backend error".to_owned(),
            Error::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Status {
        if err.is_fault() {
            tracing::error!(error = %err, "request failed");
        }
        if matches!(err, Error::Backend(_)) {
            crate::metrics::metrics().backend_errors.inc();
        }
        Status::new(err.code(), err.public_message())
    }
}

macro_rules! from_redb {
    ($($ty:ty),* $(,)?) => {
        $(impl From<$ty> for Error {
            fn from(err: $ty) -> Self {
                Error::Metadata(err.to_string())
            }
        })*
    };
}

from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
);

impl From<prost::DecodeError> for Error {
    fn from(err: prost::DecodeError) -> Self {
        Error::Metadata(format!("corrupt record: {err}"))
    }
}

/// Shorthand constructors, so call sites read as sentences.
pub fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

/// A NOT_FOUND error.
pub fn not_found(msg: impl Into<String>) -> Error {
    Error::NotFound(msg.into())
}

/// A FAILED_PRECONDITION error.
pub fn precondition(msg: impl Into<String>) -> Error {
    Error::FailedPrecondition(msg.into())
}

/// A blob backend fault from an I/O error.
pub fn backend_io(context: &str, err: std::io::Error) -> Error {
    Error::Backend(format!("{context}: {err}"))
}
