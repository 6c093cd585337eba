//! Kafka's wire format, with no I/O: frame length prefix, request/response headers, the
//! generated message types, record batches (magic v2), compression codecs, `ErrorCode` and
//! `ApiKey`.
//!
//! Must not: use any other module of the crate, touch sockets or files. Called by: every other
//! module (broker, client, log, group).

pub mod codec;
pub mod coordinator;
pub mod messages;
pub mod metadata;
#[cfg(test)]
pub(crate) mod sample;

pub use codec::{DecodeError, DecodeErrorKind, Decoder, EncodeError, Encoder, Message, Uuid, VersionedMessage};
pub use messages::ApiKey;
