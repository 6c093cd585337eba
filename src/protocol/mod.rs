//! Kafka's wire format, with no I/O: frame length prefix, request/response headers, the
//! generated message types, record batches (magic v2), compression codecs, `ErrorCode` and
//! `ApiKey`.
//!
//! Must not: use any other module of the crate, touch sockets or files. Called by: every other
//! module (broker, client, log, group).

pub mod codec;
pub mod compression;
pub mod coordinator;
pub mod error;
pub mod frame;
pub mod implemented;
pub mod messages;
pub mod metadata;
pub mod record_batch;
#[cfg(test)]
pub(crate) mod sample;

pub use codec::{
    DecodeError, DecodeErrorKind, Decoder, EncodeError, Encoder, Message, Uuid, VersionedMessage,
};
pub use compression::Compression;
pub use error::ErrorCode;
pub use frame::{decode_request_frame, FrameError, Request};
pub use implemented::implemented_max;
pub use messages::{ApiKey, RequestBody, ResponseBody};
