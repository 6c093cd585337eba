//! What can go wrong with an outbound request: the transport's failures, and a Kafka error
//! code as the peer answered it. Shared by every client (`client::ClientError` is this type).

use crate::protocol::ErrorCode;
use std::fmt;

/// A client failure. Broker answers keep their Kafka error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// No broker could be reached (the message names the addresses and why).
    Unreachable(String),
    /// A connection closed under a request.
    Disconnected(String),
    /// No answer within `request.timeout.ms`.
    Timeout(String),
    /// The broker answered with an error.
    Broker(ErrorCode, String),
    /// The broker lacks an API or version we need.
    Unsupported(String),
    /// The peer broke the protocol.
    Protocol(String),
    /// Bad configuration (names the property).
    Config(String),
    /// `buffer.memory` stayed full for `max.block.ms`, or the metadata did not arrive.
    Blocked(String),
    /// The client was closed.
    Closed,
}

impl ClientError {
    /// Whether retrying may succeed (Kafka's retriable errors and transport failures).
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Broker(code, _) => code.is_retriable(),
            other => other.is_transport(),
        }
    }

    /// Whether the failure is the transport's (no broker reached, a connection dropped or
    /// timed out), so another broker or a new connection may answer.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            ClientError::Disconnected(_) | ClientError::Timeout(_) | ClientError::Unreachable(_)
        )
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Unreachable(m)
            | ClientError::Protocol(m)
            | ClientError::Config(m)
            | ClientError::Blocked(m)
            | ClientError::Unsupported(m)
            | ClientError::Timeout(m) => f.write_str(m),
            ClientError::Disconnected(m) => write!(f, "disconnected: {m}"),
            ClientError::Broker(code, m) if m.is_empty() => write!(f, "{}", code.name()),
            ClientError::Broker(code, m) => write!(f, "{}: {m}", code.name()),
            ClientError::Closed => f.write_str("the client is closed"),
        }
    }
}

impl std::error::Error for ClientError {}
