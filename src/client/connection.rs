//! One client connection to one broker: correlation ids, ApiVersions negotiation (the highest
//! version both sides support), pipelined requests (responses come back in request order),
//! request timeouts. A failed connection fails every pending call and reports itself dead so
//! the cluster reconnects.
//!
//! Must not: know about producers or consumers.

/// The settings a connection is made with (part of its API).
pub use super::ClientConfig;
use super::ClientError;
use crate::protocol::frame::{decode_response_payload, encode_request_frame};
use crate::protocol::messages::api_versions_request::ApiVersionsRequest;
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// Largest response frame a client accepts.
const MAX_RESPONSE_BYTES: usize = 512 << 20;

type Reply = oneshot::Sender<Result<ResponseBody, ClientError>>;

struct Call {
    api: ApiKey,
    version: i16,
    body: RequestBody,
    /// `None` for requests that get no response (acks=0 produce).
    reply: Option<Reply>,
}

struct Pending {
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    reply: Reply,
}

/// A connection to one broker.
#[derive(Debug, Clone)]
pub struct Connection {
    calls: mpsc::Sender<Call>,
    dead: Arc<AtomicBool>,
    pub addr: String,
    /// The broker's advertised `(min, max)` per API.
    versions: Arc<HashMap<ApiKey, (i16, i16)>>,
    request_timeout: Duration,
}

/// `send.buffer.bytes` / `receive.buffer.bytes` on a new socket (-1 keeps the OS default).
fn size_buffers(stream: &TcpStream, config: &ClientConfig) {
    let socket = socket2::SockRef::from(stream);
    if let Ok(bytes) = usize::try_from(config.send_buffer_bytes) {
        let _ = socket.set_send_buffer_size(bytes);
    }
    if let Ok(bytes) = usize::try_from(config.receive_buffer_bytes) {
        let _ = socket.set_recv_buffer_size(bytes);
    }
}

impl Connection {
    /// Connects with the client's settings, starts the I/O tasks and negotiates API versions.
    pub async fn connect(addr: &str, config: &ClientConfig) -> Result<Connection, ClientError> {
        Self::connect_with_timeout(addr, config, config.request_timeout).await
    }

    /// As [`Connection::connect`], with another request timeout (a group's JoinGroup waits
    /// up to the rebalance timeout).
    pub async fn connect_with_timeout(
        addr: &str,
        config: &ClientConfig,
        request_timeout: Duration,
    ) -> Result<Connection, ClientError> {
        let client_id = config.client_id.as_str();
        let connect_timeout = config.connect_timeout;
        let stream = match tokio::time::timeout(connect_timeout, TcpStream::connect(addr)).await {
            Err(_) => {
                return Err(ClientError::Unreachable(format!(
                    "{addr}: connection timed out"
                )))
            }
            Ok(Err(e)) => {
                return Err(ClientError::Unreachable(format!(
                    "{addr}: {}",
                    io_reason(&e)
                )))
            }
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        size_buffers(&stream, config);
        let (calls, rx) = mpsc::channel(64);
        let dead = Arc::new(AtomicBool::new(false));
        spawn_io(stream, rx, client_id.to_string(), dead.clone());
        let mut conn = Connection {
            calls,
            dead,
            addr: addr.to_string(),
            versions: Arc::new(HashMap::new()),
            request_timeout,
        };
        conn.versions = Arc::new(conn.negotiate().await?);
        Ok(conn)
    }

    async fn negotiate(&self) -> Result<HashMap<ApiKey, (i16, i16)>, ClientError> {
        let request = RequestBody::ApiVersions(ApiVersionsRequest {
            client_software_name: "kfk".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        });
        let mut version = crate::protocol::implemented_max(ApiKey::ApiVersions);
        loop {
            let ResponseBody::ApiVersions(r) = self
                .call_at(ApiKey::ApiVersions, version, request.clone())
                .await?
            else {
                return Err(ClientError::Protocol(
                    "ApiVersions answered with another API".into(),
                ));
            };
            if r.error_code == ErrorCode::UNSUPPORTED_VERSION.0 && version > 0 {
                // KIP-511: retry at the highest version the broker listed.
                let max = r
                    .api_keys
                    .iter()
                    .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                    .map_or(0, |k| k.max_version);
                version = max.min(version - 1);
                continue;
            }
            if r.error_code != 0 {
                return Err(ClientError::Broker(
                    ErrorCode(r.error_code),
                    "ApiVersions failed".into(),
                ));
            }
            return Ok(r
                .api_keys
                .iter()
                .filter_map(|k| {
                    ApiKey::from_i16(k.api_key).map(|a| (a, (k.min_version, k.max_version)))
                })
                .collect());
        }
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// The version to use for `api`: the highest both sides support.
    pub fn version_for(&self, api: ApiKey) -> Option<i16> {
        let (min, max) = *self.versions.get(&api)?;
        let ours = crate::protocol::implemented_max(api);
        let v = max.min(ours);
        (v >= min).then_some(v)
    }

    /// Sends `body` at the negotiated version of `api` and waits for the response.
    pub async fn call(
        &self,
        api: ApiKey,
        body: RequestBody,
    ) -> Result<(i16, ResponseBody), ClientError> {
        let version = self.version_for(api).ok_or_else(|| {
            ClientError::Unsupported(format!(
                "the broker at {} does not support {}",
                self.addr,
                api.name()
            ))
        })?;
        Ok((version, self.call_at(api, version, body).await?))
    }

    /// Sends `body` at `version` and waits for the response (up to the request timeout).
    pub async fn call_at(
        &self,
        api: ApiKey,
        version: i16,
        body: RequestBody,
    ) -> Result<ResponseBody, ClientError> {
        self.submit(api, version, body).await?.response().await
    }

    /// Queues a request; requests go out in the order they are submitted. The response is
    /// awaited separately, so a caller can keep submitting (pipelining) while earlier
    /// responses are outstanding.
    pub async fn submit(
        &self,
        api: ApiKey,
        version: i16,
        body: RequestBody,
    ) -> Result<PendingResponse, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.calls
            .send(Call {
                api,
                version,
                body,
                reply: Some(tx),
            })
            .await
            .map_err(|_| ClientError::Disconnected(self.addr.clone()))?;
        Ok(PendingResponse {
            rx,
            api,
            conn: self.clone(),
        })
    }
}

/// A submitted request's response.
pub struct PendingResponse {
    rx: oneshot::Receiver<Result<ResponseBody, ClientError>>,
    api: ApiKey,
    conn: Connection,
}

impl PendingResponse {
    /// Waits for the response, up to the connection's request timeout.
    pub async fn response(self) -> Result<ResponseBody, ClientError> {
        let conn = &self.conn;
        match tokio::time::timeout(conn.request_timeout, self.rx).await {
            Err(_) => {
                // A late response would arrive out of step: this connection is done.
                conn.dead.store(true, Ordering::Release);
                Err(ClientError::Timeout(format!(
                    "{} request to {} got no answer within {} ms",
                    self.api.name(),
                    conn.addr,
                    conn.request_timeout.as_millis()
                )))
            }
            Ok(Err(_)) => Err(ClientError::Disconnected(conn.addr.clone())),
            Ok(Ok(r)) => r,
        }
    }
}

impl Connection {
    /// Sends a request that gets no response (an acks=0 produce).
    pub async fn send_only(
        &self,
        api: ApiKey,
        version: i16,
        body: RequestBody,
    ) -> Result<(), ClientError> {
        self.calls
            .send(Call {
                api,
                version,
                body,
                reply: None,
            })
            .await
            .map_err(|_| ClientError::Disconnected(self.addr.clone()))
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => e.to_string(),
    }
}

fn spawn_io(
    stream: TcpStream,
    mut calls: mpsc::Receiver<Call>,
    client_id: String,
    dead: Arc<AtomicBool>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let (pending_tx, mut pending_rx) = mpsc::unbounded_channel::<Pending>();
    let dead_w = dead.clone();
    tokio::spawn(async move {
        let mut correlation_id: i32 = 0;
        while let Some(call) = calls.recv().await {
            correlation_id = correlation_id.wrapping_add(1);
            let chunks = match encode_request_frame(
                call.api,
                call.version,
                correlation_id,
                Some(&client_id),
                &call.body,
            ) {
                Ok(c) => c,
                Err(e) => {
                    if let Some(reply) = call.reply {
                        let _ = reply.send(Err(ClientError::Protocol(format!(
                            "cannot encode {} v{}: {e}",
                            call.api.name(),
                            call.version
                        ))));
                    }
                    continue;
                }
            };
            if let Some(reply) = call.reply {
                if pending_tx
                    .send(Pending {
                        correlation_id,
                        api: call.api,
                        version: call.version,
                        reply,
                    })
                    .is_err()
                {
                    break;
                }
            }
            let mut failed = false;
            for chunk in chunks {
                if writer.write_all(&chunk).await.is_err() {
                    failed = true;
                    break;
                }
            }
            if failed {
                break;
            }
        }
        dead_w.store(true, Ordering::Release);
    });
    tokio::spawn(async move {
        loop {
            let Ok(payload) = read_frame(&mut reader).await else {
                break;
            };
            let Some(pending) = pending_rx.recv().await else {
                break;
            };
            let result = match decode_response_payload(pending.api, pending.version, &payload) {
                Ok(r) if r.correlation_id == pending.correlation_id => Ok(r.body),
                Ok(r) => Err(ClientError::Protocol(format!(
                    "correlation id {} where {} was expected",
                    r.correlation_id, pending.correlation_id
                ))),
                Err(e) => Err(ClientError::Protocol(e.to_string())),
            };
            let fatal = result.is_err();
            let _ = pending.reply.send(result);
            if fatal {
                break;
            }
        }
        dead.store(true, Ordering::Release);
        pending_rx.close();
        while let Ok(p) = pending_rx.try_recv() {
            let _ = p
                .reply
                .send(Err(ClientError::Disconnected("connection closed".into())));
        }
    });
}

async fn read_frame(reader: &mut tokio::net::tcp::OwnedReadHalf) -> Result<Bytes, ClientError> {
    let mut len = [0u8; 4];
    reader
        .read_exact(&mut len)
        .await
        .map_err(|e| ClientError::Disconnected(e.to_string()))?;
    let size = usize::try_from(i32::from_be_bytes(len))
        .map_err(|_| ClientError::Protocol("negative response size".into()))?;
    if size > MAX_RESPONSE_BYTES {
        return Err(ClientError::Protocol(format!(
            "response of {size} bytes is too large"
        )));
    }
    let mut buf = BytesMut::with_capacity(size.min(1 << 20));
    while buf.len() < size {
        let want = (size - buf.len()).min(1 << 20);
        buf.reserve(want);
        let n = (&mut *reader)
            .take(want as u64)
            .read_buf(&mut buf)
            .await
            .map_err(|e| ClientError::Disconnected(e.to_string()))?;
        if n == 0 {
            return Err(ClientError::Disconnected(
                "connection closed mid-response".into(),
            ));
        }
    }
    Ok(buf.freeze())
}
