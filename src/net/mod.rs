//! The one outbound connection layer: every request kfk sends to another process — the
//! clients', the replica fetchers' and the controller channel's — goes through
//! [`Connection`] (framing, correlation ids, ApiVersions negotiation, timeouts). The client
//! side of TLS and SASL lands here.
//!
//! Must not: use anything of the crate but `protocol`.

pub mod connection;
pub mod error;

pub use connection::{Connection, ConnectionConfig, PendingResponse};
pub use error::ClientError;
