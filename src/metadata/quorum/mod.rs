//! The metadata quorum: controllers replicate `__cluster_metadata-0` with Raft (`openraft`
//! 0.9, pinned). The Raft leader is the active controller, the only writer; every node
//! applies committed entries to its image ([`state_machine`]). The network between voters is
//! the broker's business (it implements `RaftNetworkFactory` over the controller listener).
//!
//! Timers, with Kafka's names: `controller.quorum.election.timeout.ms` bounds openraft's
//! election timeout. openraft draws a node's timeout once, at start, and its followers refuse
//! votes for that long after hearing from a leader (the leader lease), so two nodes that drew
//! close values split their votes round after round. kfk gives each node its own timeout
//! instead, spread by node id over 50–90 % of the configured one: the voter with the
//! shortest timeout stands first, and is elected at the latest when the next one's lease
//! ends, well within the configured timeout after the leader's last heartbeat;
//! `controller.quorum.fetch.timeout.ms` bounds the leader's heartbeat interval (a tenth of
//! the smaller of the two), so a follower hears from a live leader several times per timeout.

pub mod entries;
pub mod log_store;
pub mod state_machine;

use super::image::{Image, MetadataChange};
use crate::log::SharedLog;
use openraft::{BasicNode, Raft, RaftNetworkFactory, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use std::io::Cursor;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{mpsc, watch};

/// A committed command: KRaft record values, applied in order as one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub records: Vec<Vec<u8>>,
}

/// What applying an entry gave: the offset of its last record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub last_offset: i64,
}

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Command,
        R = Applied,
        NodeId = u64,
        Node = BasicNode,
);

pub type MetaRaft = Raft<TypeConfig>;

#[derive(Debug, Clone)]
pub(crate) struct EntryPos {
    pub base: i64,
    pub last: i64,
    pub term: u64,
}

/// Index → offsets of the entries kept in the log.
#[derive(Debug, Default)]
pub(crate) struct Positions {
    pub first_index: u64,
    pub entries: Vec<EntryPos>,
    /// (last index, end offset) of the last snapshot installed or loaded.
    pub snapshot_end: Option<(u64, i64)>,
}

/// State the log store, the state machine and the metadata store share.
#[derive(Debug)]
pub struct QuorumShared {
    pub image: Arc<RwLock<Image>>,
    pub changes: mpsc::UnboundedSender<Vec<MetadataChange>>,
    positions: Mutex<Positions>,
    state: Mutex<log_store::QuorumStateFile>,
    /// Voter ids (for LeaderChange records).
    pub voters: Vec<i32>,
    /// Offset of the last applied record (-1: none), and a watch of it.
    applied: AtomicI64,
    applied_watch: watch::Sender<i64>,
    pub snapshots_installed: AtomicU64,
}

impl QuorumShared {
    /// `quorum-state` as held in memory.
    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, log_store::QuorumStateFile> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn positions(&self) -> std::sync::MutexGuard<'_, Positions> {
        self.positions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_applied(&self, offset: i64) {
        self.applied.store(offset, Ordering::Release);
        self.applied_watch.send_replace(offset);
    }

    /// Offset of the last record applied to the image.
    pub fn applied_offset(&self) -> i64 {
        self.applied.load(Ordering::Acquire)
    }

    pub fn watch_applied(&self) -> watch::Receiver<i64> {
        self.applied_watch.subscribe()
    }

    /// Offset of the last record in the local log (-1: none).
    pub fn log_end_offset(&self) -> i64 {
        let p = self.positions();
        p.entries
            .last()
            .map(|e| e.last)
            .or(p.snapshot_end.map(|s| s.1 - 1))
            .unwrap_or(-1)
    }

    /// Offset of the last record of the entry `index` (for the committed index), if known.
    pub fn offset_of_index(&self, index: u64) -> Option<i64> {
        let p = self.positions();
        if index < p.first_index {
            return p.snapshot_end.filter(|s| s.0 == index).map(|s| s.1 - 1);
        }
        p.entries
            .get((index - p.first_index) as usize)
            .map(|e| e.last)
    }
}

/// Quorum settings, from the broker config.
#[derive(Debug, Clone)]
pub struct QuorumSettings {
    pub cluster_id: String,
    pub election_timeout_ms: u64,
    pub fetch_timeout_ms: u64,
    /// `metadata.log.max.record.bytes.between.snapshots`.
    pub snapshot_every_bytes: u64,
    /// `metadata.max.retention.bytes`: how much log to keep behind a snapshot.
    pub retention_bytes: u64,
}

/// Average bytes of one metadata entry, to turn Kafka's byte limits into openraft's entry
/// counts.
const ENTRY_BYTES_ESTIMATE: u64 = 256;

impl QuorumSettings {
    fn raft_config(&self, node_id: u64) -> openraft::Config {
        let election = self.election_timeout_ms.max(50);
        let own = election * (5 + (node_id.saturating_sub(1) % 5)) / 10;
        openraft::Config {
            cluster_name: self.cluster_id.clone(),
            election_timeout_min: own,
            election_timeout_max: own + 1,
            heartbeat_interval: (election.min(self.fetch_timeout_ms.max(50)) / 10).max(10),
            install_snapshot_timeout: self.fetch_timeout_ms.max(election) * 2,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(
                (self.snapshot_every_bytes / ENTRY_BYTES_ESTIMATE).max(8),
            ),
            max_in_snapshot_log_to_keep: self.retention_bytes / ENTRY_BYTES_ESTIMATE,
            purge_batch_size: 1,
            ..Default::default()
        }
    }
}

/// A started quorum member.
pub struct Quorum {
    pub raft: MetaRaft,
    pub shared: Arc<QuorumShared>,
    /// How long a write waits for a majority: twice `controller.quorum.fetch.timeout.ms`.
    pub commit_timeout: std::time::Duration,
}

impl Quorum {
    /// Whether this node, as leader, heard from a majority within the commit timeout (a
    /// leader cut off from the others cannot commit, and should not try to).
    pub fn has_quorum(&self) -> bool {
        let m = self.raft.metrics().borrow().clone();
        match m.millis_since_quorum_ack {
            Some(ms) => ms <= self.commit_timeout.as_millis() as u64,
            None => true,
        }
    }
}

impl std::fmt::Debug for Quorum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quorum").finish()
    }
}

/// Opens the metadata log as a Raft log and starts the Raft node `node_id`.
pub async fn start<N: RaftNetworkFactory<TypeConfig>>(
    node_id: u64,
    voters: &[(u64, String)],
    log: Arc<SharedLog>,
    settings: &QuorumSettings,
    network: N,
    image: Arc<RwLock<Image>>,
    changes: mpsc::UnboundedSender<Vec<MetadataChange>>,
) -> Result<Quorum, String> {
    let dir = log.lock().dir().to_path_buf();
    let shared = Arc::new(QuorumShared {
        image,
        changes,
        positions: Mutex::new(Positions::default()),
        state: Mutex::new(Default::default()),
        voters: voters.iter().map(|v| v.0 as i32).collect(),
        applied: AtomicI64::new(-1),
        applied_watch: watch::channel(-1).0,
        snapshots_installed: AtomicU64::new(0),
    });
    let log_store = log_store::LogStore::open(log, shared.clone())?;
    let state_machine = state_machine::StateMachine::open(&dir, shared.clone())?;
    shared.state().cluster_id = settings.cluster_id.clone();
    let config = Arc::new(
        settings
            .raft_config(node_id)
            .validate()
            .map_err(|e| format!("quorum settings: {e}"))?,
    );
    let raft = Raft::new(node_id, config, network, log_store, state_machine)
        .await
        .map_err(|e| format!("starting the metadata quorum: {e}"))?;
    // A static quorum: every voter initialises the same membership; only a node with an
    // empty log does (the others already hold it).
    let members: std::collections::BTreeMap<u64, BasicNode> = voters
        .iter()
        .map(|(id, addr)| (*id, BasicNode { addr: addr.clone() }))
        .collect();
    if voters.iter().any(|v| v.0 == node_id) {
        match raft.is_initialized().await {
            Ok(false) => {
                if let Err(e) = raft.initialize(members).await {
                    tracing::debug!(error = %e, "quorum already initialised");
                }
            }
            Ok(true) => {}
            Err(e) => return Err(format!("starting the metadata quorum: {e}")),
        }
    }
    Ok(Quorum {
        raft,
        shared,
        commit_timeout: std::time::Duration::from_millis((settings.fetch_timeout_ms * 2).max(1000)),
    })
}
