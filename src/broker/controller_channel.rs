//! Requests from this node to a controller (or another node's controller listener): broker
//! registration and heartbeats, admin requests forwarded to the active controller, producer
//! id blocks, and the private Raft frames, all over the one outbound connection layer
//! ([`crate::net::Connection`]). A pooled connection carries one request at a time, so a
//! slow forwarded request never holds a heartbeat up behind it; a failed or late exchange
//! drops its connection, the next call connects again.

use crate::net::{Connection, ConnectionConfig};
use crate::protocol::{ApiKey, RequestBody, ResponseBody};
use bytes::Bytes;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::Mutex;

/// Idle connections kept per address.
const POOLED_PER_ADDRESS: usize = 4;

#[derive(Debug, Default)]
pub struct ControllerChannel {
    conns: Mutex<HashMap<String, Vec<Connection>>>,
}

impl ControllerChannel {
    async fn connection(&self, addr: &str, timeout: Duration) -> Result<Connection, String> {
        while let Some(c) = self.conns.lock().await.get_mut(addr).and_then(|v| v.pop()) {
            if !c.is_dead() {
                return Ok(c);
            }
        }
        let config = ConnectionConfig {
            client_id: "kfk-broker".into(),
            connect_timeout: timeout,
            // Each call has its own deadline (below); the connection's is only a backstop.
            request_timeout: Duration::from_secs(300),
            send_buffer_bytes: -1,
            receive_buffer_bytes: -1,
        };
        let connect = Connection::connect(addr, config);
        tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| format!("connecting to {addr} timed out"))?
            .map_err(|e| format!("connecting to {addr}: {e}"))
    }

    async fn give_back(&self, addr: &str, conn: Connection) {
        let mut conns = self.conns.lock().await;
        let pool = conns.entry(addr.to_string()).or_default();
        if pool.len() < POOLED_PER_ADDRESS && !conn.is_dead() {
            pool.push(conn);
        }
    }

    /// One exchange on a pooled connection within `timeout`; the connection goes back to
    /// the pool only after a timely answer.
    async fn exchange<T, F>(
        &self,
        addr: &str,
        timeout: Duration,
        call: impl FnOnce(Connection) -> F,
    ) -> Result<T, String>
    where
        F: std::future::Future<Output = Result<T, crate::net::ClientError>>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        let conn = self.connection(addr, timeout).await?;
        match tokio::time::timeout_at(deadline, call(conn.clone())).await {
            Err(_) => Err(format!(
                "no answer from {addr} within {} ms",
                timeout.as_millis()
            )),
            Ok(Err(e)) => Err(format!("exchange with {addr}: {e}")),
            Ok(Ok(answer)) => {
                self.give_back(addr, conn).await;
                Ok(answer)
            }
        }
    }

    /// Sends a Kafka request and decodes its response.
    pub async fn request(
        &self,
        addr: &str,
        api_key: ApiKey,
        version: i16,
        body: &RequestBody,
        timeout: Duration,
    ) -> Result<ResponseBody, String> {
        let body = body.clone();
        self.exchange(addr, timeout, move |c| async move {
            c.call_at(api_key, version, body).await
        })
        .await
    }

    /// Sends `body` under the private `api_key` and returns the answer's body.
    pub async fn raw(
        &self,
        addr: &str,
        api_key: i16,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, String> {
        self.exchange(addr, timeout, move |c| async move {
            c.call_raw(api_key, body).await
        })
        .await
    }
}
