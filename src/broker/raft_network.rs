//! The Raft messages between controllers, on the controller listener: a request in Kafka's
//! framing (size, request header v1) with the private API key [`RAFT_API_KEY`], whose body is
//! the openraft message as JSON; the response is Kafka's response header v0 and the JSON
//! result. Kafka's own tools never send that key, so they still talk to the listener.

use super::controller_channel::ControllerChannel;
use super::Broker;
use crate::metadata::quorum::TypeConfig;
use bytes::{BufMut, Bytes, BytesMut};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// kfk's private API key for Raft messages (far above Kafka's keys).
pub const RAFT_API_KEY: i16 = 32001;

#[derive(Debug, Serialize, Deserialize)]
enum RaftRpc {
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<u64>),
    Snapshot(InstallSnapshotRequest<TypeConfig>),
}

/// Creates a client per peer; all share one connection cache. A peer's address comes from
/// this node's own `controller.quorum.voters` (as in Kafka, each node's config says how it
/// reaches the others), else from the membership.
#[derive(Debug, Clone, Default)]
pub struct Network {
    channel: Arc<ControllerChannel>,
    addrs: std::collections::HashMap<u64, String>,
}

impl Network {
    pub fn new(addrs: std::collections::HashMap<u64, String>) -> Network {
        Network {
            channel: Arc::default(),
            addrs,
        }
    }
}

pub struct Peer {
    target: u64,
    addr: String,
    channel: Arc<ControllerChannel>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Peer {
        Peer {
            target,
            addr: self
                .addrs
                .get(&target)
                .cloned()
                .unwrap_or_else(|| node.addr.clone()),
            channel: self.channel.clone(),
        }
    }
}

#[derive(Debug)]
struct Transport(String);

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Transport {}

impl Peer {
    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        rpc: RaftRpc,
        timeout: Duration,
    ) -> Result<T, Transport> {
        let body = serde_json::to_vec(&rpc).map_err(|e| Transport(e.to_string()))?;
        let payload = self
            .channel
            .raw(&self.addr, RAFT_API_KEY, Bytes::from(body), timeout)
            .await
            .map_err(Transport)?;
        serde_json::from_slice(&payload).map_err(|e| Transport(e.to_string()))
    }
}

type Rpc<T, E = openraft::error::Infallible> =
    Result<T, RPCError<u64, BasicNode, RaftError<u64, E>>>;

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<AppendEntriesResponse<u64>> {
        let r: Result<AppendEntriesResponse<u64>, RaftError<u64>> = self
            .call(RaftRpc::Append(rpc), option.hard_ttl())
            .await
            .map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))?;
        r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<InstallSnapshotResponse<u64>, InstallSnapshotError> {
        let r: Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>> = self
            .call(RaftRpc::Snapshot(rpc), option.hard_ttl())
            .await
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn vote(&mut self, rpc: VoteRequest<u64>, option: RPCOption) -> Rpc<VoteResponse<u64>> {
        let r: Result<VoteResponse<u64>, RaftError<u64>> = self
            .call(RaftRpc::Vote(rpc), option.hard_ttl())
            .await
            .map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))?;
        r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

/// Whether a frame (size prefix included) carries the private Raft key.
pub fn is_raft_frame(frame: &[u8]) -> bool {
    frame.len() >= 6 && i16::from_be_bytes([frame[4], frame[5]]) == RAFT_API_KEY
}

/// Serves one Raft frame: the response chunks.
pub async fn serve(broker: &Arc<Broker>, frame: &Bytes) -> Result<Vec<Bytes>, String> {
    let bad = || "malformed Raft frame".to_string();
    let header = frame.get(4..14).ok_or_else(bad)?;
    let correlation_id = i32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    let client_len = i16::from_be_bytes([header[8], header[9]]);
    let body_at = 14 + usize::try_from(client_len.max(0)).map_err(|_| bad())?;
    let body = frame.get(body_at..).ok_or_else(bad)?;
    let rpc: RaftRpc = serde_json::from_slice(body).map_err(|e| format!("Raft frame: {e}"))?;
    let quorum = broker
        .metadata
        .quorum()
        .ok_or("a Raft message reached a node without a quorum")?;
    let raft = quorum.raft.clone();
    let json = match rpc {
        RaftRpc::Append(r) => serde_json::to_vec(&raft.append_entries(r).await),
        RaftRpc::Vote(r) => serde_json::to_vec(&raft.vote(r).await),
        RaftRpc::Snapshot(r) => serde_json::to_vec(&raft.install_snapshot(r).await),
    }
    .map_err(|e| e.to_string())?;
    let mut b = BytesMut::with_capacity(8 + json.len());
    b.put_i32((4 + json.len()) as i32);
    b.put_i32(correlation_id);
    b.put_slice(&json);
    Ok(vec![b.freeze()])
}
