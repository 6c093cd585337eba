//! Requests from this node to a controller (or another node's controller listener): broker
//! registration and heartbeats, admin requests forwarded to the active controller, producer
//! id blocks, and the private Raft frames. One cached connection per address; a failed
//! exchange drops it, the next call reconnects.
//!
//! Not the client library (`broker/` must not use `client/`): a small frame exchange over
//! `protocol`'s encoders with a deadline.

use crate::protocol::frame::{decode_response_payload, encode_request_frame};
use crate::protocol::{ApiKey, RequestBody, ResponseBody};
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// Largest response accepted from a controller (a metadata snapshot chunk or a forwarded
/// answer).
const MAX_RESPONSE_BYTES: usize = 256 << 20;

#[derive(Debug, Default)]
pub struct ControllerChannel {
    conns: Mutex<HashMap<String, Vec<TcpStream>>>,
    next_id: std::sync::atomic::AtomicI32,
}

impl ControllerChannel {
    async fn connection(&self, addr: &str, timeout: Duration) -> Result<TcpStream, String> {
        if let Some(c) = self.conns.lock().await.get_mut(addr).and_then(|v| v.pop()) {
            return Ok(c);
        }
        let s = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("connecting to {addr} timed out"))?
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        let _ = s.set_nodelay(true);
        Ok(s)
    }

    async fn give_back(&self, addr: &str, conn: TcpStream) {
        let mut conns = self.conns.lock().await;
        let pool = conns.entry(addr.to_string()).or_default();
        if pool.len() < 4 {
            pool.push(conn);
        }
    }

    /// Sends one frame (`chunks`, size prefix included) and returns the response payload
    /// (size prefix removed) whose correlation id is `correlation_id`.
    pub async fn exchange(
        &self,
        addr: &str,
        chunks: &[Bytes],
        timeout: Duration,
    ) -> Result<Bytes, String> {
        let mut conn = self.connection(addr, timeout).await?;
        let result = tokio::time::timeout(timeout, async {
            for c in chunks {
                conn.write_all(c).await.map_err(|e| e.to_string())?;
            }
            let mut prefix = [0u8; 4];
            conn.read_exact(&mut prefix)
                .await
                .map_err(|e| e.to_string())?;
            let size = i32::from_be_bytes(prefix);
            let size = usize::try_from(size)
                .ok()
                .filter(|s| *s >= 4 && *s <= MAX_RESPONSE_BYTES)
                .ok_or_else(|| format!("response size {size} out of range"))?;
            let mut buf = BytesMut::zeroed(size);
            conn.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
            Ok::<Bytes, String>(buf.freeze())
        })
        .await
        .map_err(|_| format!("no answer from {addr} within {} ms", timeout.as_millis()))?
        .map_err(|e| format!("exchange with {addr}: {e}"))?;
        self.give_back(addr, conn).await;
        Ok(result)
    }

    pub fn correlation_id(&self) -> i32 {
        self.next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            & i32::MAX
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
        let id = self.correlation_id();
        let chunks = encode_request_frame(api_key, version, id, Some("kfk-broker"), body)
            .map_err(|e| e.to_string())?;
        let payload = self.exchange(addr, &chunks, timeout).await?;
        let response =
            decode_response_payload(api_key, version, &payload).map_err(|e| e.to_string())?;
        if response.correlation_id != id {
            return Err(format!(
                "{addr} answered correlation id {} to request {id}",
                response.correlation_id
            ));
        }
        Ok(response.body)
    }
}
