//! The listener: binds `PLAINTEXT://host:port` (for `localhost`, both 127.0.0.1 and ::1 on
//! the same port), accepts connections up to `max.connections`, and hands each to its own
//! task. Stops accepting on shutdown and waits for the connection tasks to finish.

use super::config::Listener;
use super::connection;
use super::Broker;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// Binds the listener's addresses; returns the sockets and their local addresses.
pub async fn bind(listener: &Listener) -> Result<(Vec<TcpListener>, Vec<SocketAddr>), String> {
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
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
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
    Ok((sockets, addrs))
}

/// Accepts connections on every socket until shutdown, then waits for them to finish.
pub async fn serve(broker: Arc<Broker>, sockets: Vec<TcpListener>) {
    let mut accepting = JoinSet::new();
    for socket in sockets {
        accepting.spawn(accept_loop(broker.clone(), socket));
    }
    while accepting.join_next().await.is_some() {}
}

async fn accept_loop(broker: Arc<Broker>, socket: TcpListener) {
    let mut connections = JoinSet::new();
    let mut stop = broker.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            a = socket.accept() => a,
            _ = stop.changed() => break,
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
        let b = broker.clone();
        connections.spawn(async move {
            connection::handle(b, stream, peer).await;
            drop(slot);
        });
    }
    drop(socket);
    while connections.join_next().await.is_some() {}
}
