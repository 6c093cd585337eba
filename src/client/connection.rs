//! The connection to one broker: [`crate::net::Connection`], made with a client's settings.

pub use super::ClientConfig;
pub use crate::net::connection::{Connection, ConnectionConfig, PendingResponse};

impl From<&ClientConfig> for ConnectionConfig {
    fn from(c: &ClientConfig) -> ConnectionConfig {
        ConnectionConfig {
            client_id: c.client_id.clone(),
            connect_timeout: c.connect_timeout,
            request_timeout: c.request_timeout,
            send_buffer_bytes: c.send_buffer_bytes,
            receive_buffer_bytes: c.receive_buffer_bytes,
        }
    }
}
