//! One outbound connection to one broker or controller: correlation ids, ApiVersions
//! negotiation (the highest version both sides support), pipelined requests (responses come
//! back in request order), request timeouts, and raw frames of a private API key (the
//! controllers' Raft messages). A failed connection fails every pending call and reports
//! itself dead so its owner reconnects. Used by the clients, the replica fetchers and the
//! controller channel.
//!
//! Must not: know about producers, consumers, fetchers or controllers.

use super::ClientError;
use crate::protocol::frame::{decode_response_payload, encode_request_frame};
use crate::protocol::messages::api_versions_request::ApiVersionsRequest;
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// Largest response frame a client accepts.
const MAX_RESPONSE_BYTES: usize = 512 << 20;

/// A response's payload after its size prefix (correlation id first).
type Reply = oneshot::Sender<Result<Bytes, ClientError>>;

/// What goes out: a Kafka request, or a raw body under a private API key (version 0).
/// Requests are the common case and travel unboxed (no allocation per request).
#[allow(clippy::large_enum_variant)]
enum Outgoing {
    Request {
        api: ApiKey,
        version: i16,
        body: RequestBody,
    },
    Raw {
        api_key: i16,
        body: Bytes,
    },
}

struct Call {
    outgoing: Outgoing,
    /// `None` for requests that get no response (acks=0 produce).
    reply: Option<Reply>,
}

struct Pending {
    correlation_id: i32,
    reply: Reply,
}

/// The settings a connection is made with.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    pub client_id: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// `send.buffer.bytes` (-1: the OS default).
    pub send_buffer_bytes: i32,
    /// `receive.buffer.bytes` (-1: the OS default).
    pub receive_buffer_bytes: i32,
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
fn size_buffers(stream: &TcpStream, config: &ConnectionConfig) {
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
    pub async fn connect(
        addr: &str,
        config: impl Into<ConnectionConfig>,
    ) -> Result<Connection, ClientError> {
        let config = config.into();
        let timeout = config.request_timeout;
        Self::connect_with_timeout(addr, config, timeout).await
    }

    /// As [`Connection::connect`], with another request timeout (a group's JoinGroup waits
    /// up to the rebalance timeout).
    pub async fn connect_with_timeout(
        addr: &str,
        config: impl Into<ConnectionConfig>,
        request_timeout: Duration,
    ) -> Result<Connection, ClientError> {
        let config = &config.into();
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
        let outgoing = Outgoing::Request { api, version, body };
        self.send(outgoing, Some(tx)).await?;
        Ok(PendingResponse {
            rx,
            api,
            version,
            conn: self.clone(),
        })
    }

    /// Sends `body` under the private `api_key` (version 0, this connection's correlation id
    /// and client id) and waits for the answer's payload after its correlation id.
    pub async fn call_raw(&self, api_key: i16, body: Bytes) -> Result<Bytes, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.send(Outgoing::Raw { api_key, body }, Some(tx)).await?;
        Ok(self.payload(rx, "a raw").await?.slice(4..))
    }

    /// Waits for a response payload (correlation id first), up to the request timeout.
    async fn payload(
        &self,
        rx: oneshot::Receiver<Result<Bytes, ClientError>>,
        name: &str,
    ) -> Result<Bytes, ClientError> {
        match tokio::time::timeout(self.request_timeout, rx).await {
            Err(_) => {
                // A late response would arrive out of step: this connection is done.
                self.dead.store(true, Ordering::Release);
                Err(ClientError::Timeout(format!(
                    "{name} request to {} got no answer within {} ms",
                    self.addr,
                    self.request_timeout.as_millis()
                )))
            }
            Ok(Err(_)) => Err(ClientError::Disconnected(self.addr.clone())),
            Ok(Ok(r)) => r,
        }
    }

    async fn send(&self, outgoing: Outgoing, reply: Option<Reply>) -> Result<(), ClientError> {
        self.calls
            .send(Call { outgoing, reply })
            .await
            .map_err(|_| ClientError::Disconnected(self.addr.clone()))
    }
}

/// A submitted request's response.
pub struct PendingResponse {
    rx: oneshot::Receiver<Result<Bytes, ClientError>>,
    api: ApiKey,
    version: i16,
    conn: Connection,
}

impl PendingResponse {
    /// Waits for the response, up to the connection's request timeout, and decodes it.
    pub async fn response(self) -> Result<ResponseBody, ClientError> {
        let conn = self.conn;
        let payload = conn.payload(self.rx, self.api.name()).await?;
        decode_response_payload(self.api, self.version, &payload)
            .map(|r| r.body)
            .map_err(|e| {
                // What follows would be read out of step: this connection is done.
                conn.dead.store(true, Ordering::Release);
                ClientError::Protocol(e.to_string())
            })
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
        self.send(Outgoing::Request { api, version, body }, None)
            .await
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
            let chunks = match encode(&call.outgoing, correlation_id, &client_id) {
                Ok(c) => c,
                Err(e) => {
                    if let Some(reply) = call.reply {
                        let _ = reply.send(Err(e));
                    }
                    continue;
                }
            };
            if let Some(reply) = call.reply {
                if pending_tx
                    .send(Pending {
                        correlation_id,
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
            let answered = payload
                .get(..4)
                .map(|id| i32::from_be_bytes([id[0], id[1], id[2], id[3]]));
            let result = match answered {
                Some(id) if id == pending.correlation_id => Ok(payload),
                Some(id) => Err(ClientError::Protocol(format!(
                    "correlation id {id} where {} was expected",
                    pending.correlation_id
                ))),
                None => Err(ClientError::Protocol("a response without a header".into())),
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

/// The frame of one outgoing call (size prefix included).
fn encode(
    outgoing: &Outgoing,
    correlation_id: i32,
    client_id: &str,
) -> Result<Vec<Bytes>, ClientError> {
    match outgoing {
        Outgoing::Request { api, version, body } => {
            encode_request_frame(*api, *version, correlation_id, Some(client_id), body).map_err(
                |e| ClientError::Protocol(format!("cannot encode {} v{version}: {e}", api.name())),
            )
        }
        Outgoing::Raw { api_key, body } => {
            let id = client_id.as_bytes();
            let size = 2 + 2 + 4 + 2 + id.len() + body.len();
            let mut b = BytesMut::with_capacity(4 + size - body.len());
            b.put_i32(
                i32::try_from(size).map_err(|_| ClientError::Protocol("frame too large".into()))?,
            );
            b.put_i16(*api_key);
            b.put_i16(0);
            b.put_i32(correlation_id);
            b.put_i16(id.len() as i16);
            b.put_slice(id);
            Ok(vec![b.freeze(), body.clone()])
        }
    }
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
