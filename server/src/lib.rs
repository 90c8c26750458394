//! Arca: a gRPC storage service for AI applications, agents and MCP servers.
//!
//! Layers, each in its own module, each talking only to the one below:
//!
//! - [`api`]: the gRPC services (thin), health, reflection and [`serve`].
//! - [`core`]: policy: namespace and tree rules, uploads, reclaim.
//! - [`meta`]: redb tables and the grouped committer.
//! - [`blobs`]: the blob backend trait and its backends.
//!
//! Beside them: [`config`], [`error`] (the one error enum and its gRPC
//! mapping), [`paths`] (the one path normalisation), [`ids`] and [`grid`]
//! (where bytes land), [`presign`] (URLs the server signs and serves),
//! [`metrics`] (Prometheus series on their own port).

pub mod api;
pub mod archive;
pub mod auth;
pub mod blobs;
pub mod config;
pub mod core;
pub mod error;
pub mod fuzzing;
pub mod grid;
pub mod hashing;
pub mod ids;
pub mod meta;
pub mod metrics;
pub mod mime;
pub mod paths;
pub mod presign;
pub mod webdav;

pub use api::serve;
pub use config::Config;
pub use error::{Error, Result};

/// Selects rustls' ring provider for the process. Two providers are linked
/// (tonic's ring, the AWS SDK's aws-lc-rs), so rustls cannot pick one by
/// itself; installing twice is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
