//! The listeners: binds every `NAME://host:port` of `listeners` (for `localhost`, both
//! 127.0.0.1 and ::1 on the same port; an empty host or `0.0.0.0`, every interface), accepts
//! connections up to `max.connections`, and hands each to its own task with the index of its
//! listener. Stops accepting on shutdown and waits for the connection tasks to finish.

use super::config::Listener;
use super::connection;
use super::Broker;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// One listener's sockets.
#[derive(Debug)]
pub struct Bound {
    /// Index of the listener in the broker's config.
    pub listener: usize,
    pub sockets: Vec<TcpListener>,
    pub addrs: Vec<SocketAddr>,
}

/// Binds the listener's addresses.
pub async fn bind(index: usize, listener: &Listener) -> Result<Bound, String> {
    let first: Vec<SocketAddr> = match listener.host.as_str() {
        "localhost" => vec![SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            listener.port,
        )],
        "" | "0.0.0.0" => vec![SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            listener.port,
        )],
        host => tokio::net::lookup_host((host, listener.port))
            .await
            .map_err(|e| format!("cannot resolve listener host {host}: {e}"))?
            .take(1)
            .collect(),
    };
    let addr = *first
        .first()
        .ok_or_else(|| format!("listener host {} resolves to nothing", listener.host))?;
    let socket = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} ({}): {e}", listener.name))?;
    let bound = socket.local_addr().map_err(|e| e.to_string())?;
    let mut sockets = vec![socket];
    let mut addrs = vec![bound];
    if listener.host == "localhost" {
        // The same port on IPv6 loopback, where the machine has one.
        let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), bound.port());
        match TcpListener::bind(v6).await {
            Ok(s) => {
                sockets.push(s);
                addrs.push(v6);
            }
            Err(e) => tracing::debug!(error = %e, "no IPv6 loopback listener"),
        }
    }
    Ok(Bound {
        listener: index,
        sockets,
        addrs,
    })
}

/// Accepts connections on every socket until shutdown, then waits for them to finish.
pub async fn serve(broker: Arc<Broker>, bound: Vec<Bound>) {
    let mut accepting = JoinSet::new();
    for b in bound {
        for socket in b.sockets {
            accepting.spawn(accept_loop(broker.clone(), socket, b.listener));
        }
    }
    while accepting.join_next().await.is_some() {}
}

/// `socket.send.buffer.bytes` / `socket.receive.buffer.bytes` (-1 keeps the OS default).
fn size_buffers(broker: &Broker, stream: &TcpStream) {
    let socket = socket2::SockRef::from(stream);
    let (send, receive) = (
        broker.config.socket_send_buffer_bytes,
        broker.config.socket_receive_buffer_bytes,
    );
    if let Ok(bytes) = usize::try_from(send) {
        if let Err(e) = socket.set_send_buffer_size(bytes) {
            tracing::debug!(error = %e, "cannot set socket.send.buffer.bytes");
        }
    }
    if let Ok(bytes) = usize::try_from(receive) {
        if let Err(e) = socket.set_recv_buffer_size(bytes) {
            tracing::debug!(error = %e, "cannot set socket.receive.buffer.bytes");
        }
    }
}

async fn accept_loop(broker: Arc<Broker>, socket: TcpListener, listener: usize) {
    let mut connections = JoinSet::new();
    let mut stop = broker.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            a = socket.accept() => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(slot) = broker.connection_slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "max.connections reached; closing the new connection");
            continue;
        };
        size_buffers(&broker, &stream);
        let b = broker.clone();
        let counted = broker
            .metrics
            .connection_opened(&broker.listeners[listener].name);
        connections.spawn(async move {
            connection::handle(b, stream, peer, listener).await;
            drop(slot);
            drop(counted);
        });
    }
    drop(socket);
    while connections.join_next().await.is_some() {}
}

/// The machine's canonical host name (as Java's `InetAddress.getLocalHost()
/// .getCanonicalHostName()`): the host name, resolved to its canonical form when the
/// resolver knows one. What a listener with an empty host advertises.
pub fn canonical_host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    canonical_name_of(&name).unwrap_or(name)
}

fn canonical_name_of(name: &str) -> Option<String> {
    let c_name = std::ffi::CString::new(name).ok()?;
    // SAFETY: an all-zero addrinfo is a valid "no hints" value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_flags = libc::AI_CANONNAME;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut result: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid C string and hints; on success `result` is freed below with freeaddrinfo.
    let rc = unsafe { libc::getaddrinfo(c_name.as_ptr(), std::ptr::null(), &hints, &mut result) };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: getaddrinfo succeeded, so `result` points to a list whose first entry carries
    // the canonical name (a C string) when AI_CANONNAME was asked for.
    let canonical = unsafe {
        let c = (*result).ai_canonname;
        let out =
            (!c.is_null()).then(|| std::ffi::CStr::from_ptr(c).to_string_lossy().into_owned());
        libc::freeaddrinfo(result);
        out
    };
    canonical.filter(|c| !c.is_empty())
}
