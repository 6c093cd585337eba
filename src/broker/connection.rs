//! One client connection: reads size-prefixed frames, decodes them, dispatches each to its
//! handler and writes the response, one request at a time, so responses keep request order.
//!
//! Frames are read incrementally: memory grows with the bytes that actually arrive (never
//! from the length prefix), and every KiB beyond a frame's first 16 KiB counts against
//! `queued.max.request.bytes` across all connections (small requests never wait for that
//! memory). A frame must arrive whole within `kfk.request.receive.timeout.ms`, so a stalled
//! large frame holds its share of the cap for a bounded time before its connection closes. A frame over `socket.request.max.bytes`, a malformed frame, an
//! unknown API or an unadvertised version closes this connection only, with a logged reason.
//! An idle connection is closed after `connections.max.idle.ms`.

use super::handlers::{self, Outcome};
use super::splice;
use super::versions;
use super::Broker;
use crate::protocol::frame::{decode_request_frame, encode_response_frame, FrameError};
use crate::protocol::messages::api_versions_response::ApiVersionsResponse;
use crate::protocol::{ApiKey, ErrorCode, ResponseBody};
use bytes::{Bytes, BytesMut};
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use crate::limits::{FIRST_READ_STEP_BYTES, READ_STEP_BYTES, UNCHARGED_FRAME_BYTES};

/// Why a connection ends.
enum Closed {
    /// The peer closed it or went idle: nothing to report.
    Quietly,
    /// A protocol violation: logged.
    Because(String),
}

/// A response to write: encoded chunks, and the file regions its placeholder chunks stand for.
struct Reply {
    chunks: Vec<Bytes>,
    regions: Vec<crate::replication::FileRegion>,
}

/// A whole request frame with the request-bytes permits it holds.
struct Frame {
    bytes: Bytes,
    _permits: Vec<OwnedSemaphorePermit>,
    /// When the whole frame had arrived (the start of its queue time).
    received: std::time::Instant,
}

pub async fn handle(broker: Arc<Broker>, stream: TcpStream, peer: SocketAddr, listener: usize) {
    let origin = handlers::Origin { peer, listener };
    let controller_listener = broker.listeners.get(listener).is_some_and(|l| l.controller);
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let mut stop = broker.shutdown_signal();
    let idle = Duration::from_millis(broker.config.connections_max_idle_ms.max(1));
    // A broker of a cluster answers clients once its metadata is the cluster's (see
    // `ControlPlane::caught_up`); Raft messages, which bring that metadata to a broker-only
    // node, and the controller's listeners never wait.
    let mut ready = controller_listener || *broker.control.caught_up.borrow();
    loop {
        let frame = tokio::select! {
            f = read_frame(&broker, &mut reader, idle) => f,
            _ = stop.wait_for(|s| *s) => return,
        };
        let frame = match frame {
            Ok(f) => f,
            Err(Closed::Quietly) => return,
            Err(Closed::Because(why)) => {
                tracing::warn!(%peer, "closing connection: {why}");
                return;
            }
        };
        // ApiVersions waits for nothing either: the controller channel (and any client)
        // negotiates versions first on every connection.
        let api_versions =
            frame.bytes.get(4..6) == Some(&(ApiKey::ApiVersions as i16).to_be_bytes()[..]);
        if !ready && !api_versions && !super::raft_network::is_raft_frame(&frame.bytes) {
            let mut caught_up = broker.control.caught_up.subscribe();
            tokio::select! {
                _ = caught_up.wait_for(|r| *r) => ready = true,
                _ = stop.wait_for(|s| *s) => return,
            }
        }
        match respond(&broker, frame, origin, controller_listener).await {
            Ok(None) => {}
            Ok(Some(reply)) => {
                if let Err(e) = write_reply(&mut writer, reply).await {
                    if e.kind() == std::io::ErrorKind::UnexpectedEof {
                        tracing::warn!(%peer, "closing connection: {e}");
                    } else {
                        tracing::debug!(%peer, error = %e, "write failed");
                    }
                    return;
                }
            }
            Err(why) => {
                tracing::warn!(%peer, "closing connection: {why}");
                return;
            }
        }
    }
}

async fn read_frame(
    broker: &Broker,
    reader: &mut (impl AsyncRead + Unpin),
    idle: Duration,
) -> Result<Frame, Closed> {
    let mut prefix = [0u8; 4];
    match tokio::time::timeout(idle, reader.read_exact(&mut prefix)).await {
        Err(_) => return Err(Closed::Quietly),
        Ok(Err(_)) => return Err(Closed::Quietly),
        Ok(Ok(_)) => {}
    }
    let size = i32::from_be_bytes(prefix);
    let max = broker.config.socket_request_max_bytes;
    let size = match usize::try_from(size) {
        Ok(s) if s > 0 && s <= max => s,
        _ => {
            return Err(Closed::Because(format!(
                "frame size {size} is outside 1..={max} (socket.request.max.bytes)"
            )))
        }
    };
    let mut buf = BytesMut::with_capacity(4 + size.min(FIRST_READ_STEP_BYTES));
    buf.extend_from_slice(&prefix);
    let mut permits = Vec::new();
    let receive_timeout = broker.config.request_receive_timeout;
    let deadline = tokio::time::Instant::now() + receive_timeout;
    let too_slow = || {
        Closed::Because(format!(
            "a frame of {size} bytes did not arrive within {} ms (kfk.request.receive.timeout.ms)",
            receive_timeout.as_millis()
        ))
    };
    while buf.len() < 4 + size {
        let step = buf.len().clamp(FIRST_READ_STEP_BYTES, READ_STEP_BYTES);
        let want = (4 + size - buf.len()).min(step);
        let charged = (buf.len() + want).saturating_sub(buf.len().max(UNCHARGED_FRAME_BYTES));
        if charged > 0 {
            let kib = u32::try_from(charged.div_ceil(1024)).unwrap_or(u32::MAX);
            let acquire = broker.request_bytes.clone().acquire_many_owned(kib);
            let permit = tokio::time::timeout_at(deadline, acquire)
                .await
                .map_err(|_| too_slow())?
                .map_err(|_| Closed::Quietly)?;
            permits.push(permit);
        }
        buf.reserve(want);
        let mut limited = (&mut *reader).take(want as u64);
        let step_deadline = deadline.min(tokio::time::Instant::now() + idle);
        match tokio::time::timeout_at(step_deadline, limited.read_buf(&mut buf)).await {
            Err(_) if step_deadline == deadline => return Err(too_slow()),
            Err(_) => {
                return Err(Closed::Because(format!(
                    "no data for {} ms in the middle of a frame",
                    idle.as_millis()
                )))
            }
            Ok(Err(e)) => return Err(Closed::Because(format!("read failed: {e}"))),
            Ok(Ok(0)) => return Err(Closed::Quietly),
            Ok(Ok(_)) => {}
        }
    }
    Ok(Frame {
        bytes: buf.freeze(),
        _permits: permits,
        received: std::time::Instant::now(),
    })
}

/// Decodes and handles one frame: the response chunks, `None` for no response, or why the
/// connection must close.
async fn respond(
    broker: &Arc<Broker>,
    frame: Frame,
    origin: handlers::Origin,
    controller_listener: bool,
) -> Result<Option<Reply>, String> {
    let plain = |chunks: Vec<Bytes>| Reply {
        chunks,
        regions: Vec::new(),
    };
    let peer = origin.peer;
    if super::raft_network::is_raft_frame(&frame.bytes) {
        // Controllers talk Raft on their controller listener; a node that is not (yet) a
        // voter — a broker-only node, or a controller waiting to join a dynamic quorum —
        // follows the metadata log on its inter-broker listener.
        let inter_broker = broker
            .listeners
            .get(origin.listener)
            .is_some_and(|l| l.name == broker.config.inter_broker_listener_name);
        let static_voter = broker
            .config
            .quorum_voters
            .iter()
            .any(|v| v.node_id == broker.node_id);
        let follower_listener = inter_broker && !static_voter;
        if !controller_listener && !follower_listener {
            return Err("a Raft message on a client listener".into());
        }
        return super::raft_network::serve(broker, &frame.bytes)
            .await
            .map(|c| Some(plain(c)));
    }
    let request = match decode_request_frame(&frame.bytes) {
        Ok(r) => r,
        Err(FrameError::UnsupportedVersion {
            api_key: ApiKey::ApiVersions,
            header,
        }) => {
            // KIP-511: answer in the v0 body with UNSUPPORTED_VERSION and our range.
            let body = ResponseBody::ApiVersions(ApiVersionsResponse {
                error_code: ErrorCode::UNSUPPORTED_VERSION.0,
                api_keys: versions::advertised(controller_listener),
                ..Default::default()
            });
            return encode_response_frame(ApiKey::ApiVersions, 0, header.correlation_id, &body)
                .map(|c| Some(plain(c)))
                .map_err(|e| e.to_string());
        }
        Err(e) => return Err(e.to_string()),
    };
    if request.trailing_bytes > 0 {
        tracing::debug!(
            %peer,
            api = request.api_key.name(),
            version = request.api_version,
            bytes = request.trailing_bytes,
            "ignoring bytes after the request body"
        );
    }
    let (api_key, version, correlation_id) = (
        request.api_key,
        request.api_version,
        request.header.correlation_id,
    );
    if !versions::is_advertised(api_key, version, controller_listener) {
        if api_key == ApiKey::ApiVersions {
            let body = ResponseBody::ApiVersions(ApiVersionsResponse {
                error_code: ErrorCode::UNSUPPORTED_VERSION.0,
                api_keys: versions::advertised(controller_listener),
                ..Default::default()
            });
            return encode_response_frame(ApiKey::ApiVersions, 0, correlation_id, &body)
                .map(|c| Some(plain(c)))
                .map_err(|e| e.to_string());
        }
        return Err(format!(
            "{} v{version} is not served on this {} listener",
            api_key.name(),
            if controller_listener {
                "controller"
            } else {
                "client"
            }
        ));
    }
    // A JoinGroup or SyncGroup may wait for the rest of its group (up to the rebalance
    // timeout) without doing work, and a Fetch may wait for data (up to its max wait): they
    // hold no request slot while waiting (a Fetch takes one for each read), so hundreds of
    // parked requests cannot starve other clients.
    let _slot = if matches!(
        api_key,
        ApiKey::JoinGroup | ApiKey::SyncGroup | ApiKey::Fetch
    ) {
        None
    } else {
        Some(
            broker
                .request_slots
                .acquire()
                .await
                .map_err(|_| "shutting down".to_string())?,
        )
    };
    let encode = |body: &ResponseBody| {
        encode_response_frame(api_key, version, correlation_id, body).map_err(|e| {
            format!(
                "cannot encode the {} v{version} response: {e}",
                api_key.name()
            )
        })
    };
    let started = std::time::Instant::now();
    let outcome = handlers::dispatch(broker, request, origin).await;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    broker.metrics.request(
        api_key.name(),
        version,
        ms(started.duration_since(frame.received)),
        ms(frame.received.elapsed()),
    );
    if let Outcome::Respond(body) | Outcome::RespondSpliced(body, _) = &outcome {
        broker.metrics.response(api_key.name(), body, |id| {
            broker.metadata.topic_name_by_id(id)
        });
    }
    match outcome {
        Outcome::Respond(body) => encode(&body).map(|c| Some(plain(c))),
        Outcome::RespondSpliced(body, regions) => {
            encode(&body).map(|chunks| Some(Reply { chunks, regions }))
        }
        Outcome::NoResponse => Ok(None),
        Outcome::Close(why) => Err(why),
    }
}

/// Writes a reply: runs of chunks with vectored writes (large record chunks are not copied),
/// and each placeholder chunk as its file region (`splice::send_region`).
async fn write_reply(writer: &mut OwnedWriteHalf, reply: Reply) -> std::io::Result<()> {
    let mut regions = reply.regions.into_iter();
    let mut run: Vec<Bytes> = Vec::new();
    for chunk in reply.chunks {
        if !splice::is_placeholder(&chunk) {
            run.push(chunk);
            continue;
        }
        write_chunks(writer, std::mem::take(&mut run)).await?;
        let region = regions.next().ok_or_else(|| {
            std::io::Error::other("a records placeholder without its file region")
        })?;
        assert_eq!(
            region.length,
            chunk.len() as u64,
            "a placeholder stands for a region of its own length"
        );
        splice::send_region(writer, &region).await?;
    }
    write_chunks(writer, run).await
}

/// Writes the chunks with vectored writes (large record chunks are not copied).
async fn write_chunks(
    writer: &mut (impl AsyncWrite + Unpin),
    chunks: Vec<Bytes>,
) -> std::io::Result<()> {
    let mut index = 0;
    let mut offset = 0;
    while index < chunks.len() {
        let slices: Vec<IoSlice<'_>> = std::iter::once(&chunks[index][offset..])
            .chain(chunks[index + 1..].iter().map(|c| &c[..]))
            .take(64)
            .map(IoSlice::new)
            .collect();
        let mut written = writer.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while index < chunks.len() && written > 0 {
            let left = chunks[index].len() - offset;
            if written >= left {
                written -= left;
                index += 1;
                offset = 0;
            } else {
                offset += written;
                written = 0;
            }
        }
    }
    writer.flush().await
}
