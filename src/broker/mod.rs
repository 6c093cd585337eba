//! The broker: listeners, per-connection tasks, request dispatch (`handlers/`, one file per
//! API family), and the state they share ([`Broker`]): config, listeners, the partitions (through
//! [`ReplicaManager`]), the cluster metadata, the group coordinator, the request limits.
//!
//! [`startup`] opens the data dirs, replays the metadata log, binds the listeners, runs the
//! timers and shuts down; [`topic_admin`] creates, deletes and reconfigures topics by
//! committing metadata records and reacting to what they changed. Must not: use `client`.

pub mod config;
pub mod connection;
pub mod controller;
pub mod controller_channel;
pub mod handlers;
pub mod metrics;
pub mod raft_network;
pub mod replication;
pub mod server;
pub mod splice;
pub mod startup;
pub mod storage;
pub mod topic_admin;
pub mod versions;

pub use startup::{run, start, start_with_fs, RunningBroker};

use crate::group::{Coordinator, OffsetsLog, OFFSETS_TOPIC};
use crate::metadata::{MetadataStore, METADATA_TOPIC};
use crate::protocol::ErrorCode;
use crate::replication::ReplicaManager;
use config::BrokerConfig;
use std::fmt;
use tokio::sync::{watch, Semaphore};

/// Why the broker could not start, serve or stop (operating errors; Kafka outcomes travel as
/// error codes in responses instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerError {
    /// The configuration cannot run (a bad value, a node of another cluster, a runtime).
    Config(String),
    /// A data dir or log could not be opened, written or closed.
    Storage(String),
    /// A listener could not be bound.
    Listen(String),
    /// The metadata log could not be replayed.
    Metadata(String),
    /// The broker halted after a failed log dir it cannot serve without.
    Halted(String),
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrokerError::Config(m)
            | BrokerError::Storage(m)
            | BrokerError::Listen(m)
            | BrokerError::Metadata(m) => f.write_str(m),
            BrokerError::Halted(m) => write!(f, "the broker halted: {m}"),
        }
    }
}

impl std::error::Error for BrokerError {}

/// A refused admin operation, as Kafka answers it: its error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    pub code: ErrorCode,
    pub message: String,
}

impl AdminError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AdminError {
        AdminError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

/// Shared state of a running broker.
#[derive(Debug)]
pub struct Broker {
    pub config: BrokerConfig,
    pub cluster_id: String,
    pub node_id: i32,
    /// Every bound listener, in the order of `listeners`.
    pub listeners: Vec<ListenerState>,
    /// Every partition of this broker: the only way to their logs.
    pub replicas: ReplicaManager,
    pub metadata: std::sync::Arc<MetadataStore>,
    /// `queued.max.request.bytes`: bytes of requests being read or handled, in KiB permits.
    pub request_bytes: std::sync::Arc<Semaphore>,
    /// `queued.max.requests`: requests being handled at once.
    pub request_slots: std::sync::Arc<Semaphore>,
    /// `max.connections`.
    pub connection_slots: std::sync::Arc<Semaphore>,
    /// The group coordinator (every group's `__consumer_offsets` partition is local).
    pub groups: Coordinator,
    /// Request, byte and record counters for the metrics endpoint.
    pub metrics: metrics::BrokerMetrics,
    /// The cluster's control plane (registration, heartbeats, forwarding).
    pub control: controller::ControlPlane,
    /// Serializes the lazy creation of `__consumer_offsets`.
    offsets_topic_creation: std::sync::Mutex<()>,
    shutdown: watch::Sender<bool>,
    /// Set when the broker halts on a failure it must not serve through (a failed log dir
    /// holding the metadata log, or the only log dir): why.
    halted: watch::Sender<Option<String>>,
}

/// A listener of a running broker: what it advertises and whether it serves the
/// controller's APIs only (`controller.listener.names`).
#[derive(Debug)]
pub struct ListenerState {
    pub name: String,
    pub controller: bool,
    /// The advertised host: the listener's (or its `advertised.listeners` entry), the
    /// machine's canonical host name for an empty host.
    pub advertised_host: String,
    /// The advertised port (with port 0, the bound port once bound).
    advertised_port: std::sync::atomic::AtomicU16,
}

impl ListenerState {
    pub fn advertised_port(&self) -> u16 {
        self.advertised_port
            .load(std::sync::atomic::Ordering::Acquire)
    }
}

impl Broker {
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Stops serving at once, as Kafka halts on a failed log dir it cannot do without:
    /// nothing more is acknowledged, and no clean-shutdown marker is written, so the next
    /// start recovers the logs. [`run`] exits the process with status 1.
    pub fn halt(&self, reason: String) {
        tracing::error!("halting the broker: {reason}");
        self.halted.send_replace(Some(reason));
        // send_replace: stored even when no task has subscribed yet (send would drop it).
        self.shutdown.send_replace(true);
    }

    /// Why the broker halted, if it did.
    pub fn halted(&self) -> Option<String> {
        self.halted.borrow().clone()
    }

    /// What a failed log dir means: the broker halts when the dir is its only one or holds
    /// the metadata log; otherwise the dir's partitions answer KAFKA_STORAGE_ERROR.
    fn log_dir_failed(&self, dir: &std::path::Path, what: &str) {
        let holds_metadata = self.replicas.dir_of(METADATA_TOPIC, 0).as_deref() == Some(dir);
        if self.replicas.online_dirs().is_empty() || holds_metadata {
            self.halt(format!(
                "log dir {} failed ({what}){}",
                dir.display(),
                if holds_metadata {
                    " and it holds the metadata log"
                } else {
                    ", and no log dir is left"
                }
            ));
        } else {
            tracing::error!(
                dir = %dir.display(),
                "log dir offline ({what}): its partitions answer KAFKA_STORAGE_ERROR until a restart"
            );
        }
    }

    /// `(node id, host, port)` of this broker as clients of `listener` must reach it (Kafka
    /// answers with the endpoint of the listener a request arrived on).
    pub fn endpoint(&self, listener: usize) -> (i32, String, i32) {
        let l = self.listeners.get(listener).unwrap_or(&self.listeners[0]);
        (
            self.node_id,
            l.advertised_host.clone(),
            i32::from(l.advertised_port()),
        )
    }
}

impl AsRef<ReplicaManager> for Broker {
    fn as_ref(&self) -> &ReplicaManager {
        &self.replicas
    }
}

/// The coordinator's records go through the same append path as a produce (acks=all,
/// `offsets.commit.timeout.ms` 5 s).
impl OffsetsLog for Broker {
    fn append(&self, partition: i32, batch: bytes::Bytes) -> Result<(), ErrorCode> {
        if self.replicas.get(OFFSETS_TOPIC, partition).is_none() {
            self.ensure_offsets_topic()?;
        }
        let params = crate::replication::AppendParams {
            acks: -1,
            timeout: std::time::Duration::from_secs(5),
            origin: crate::replication::AppendOrigin::Coordinator,
            rules: crate::replication::AppendRules::ANY,
            entries: vec![crate::replication::AppendEntry {
                topic: OFFSETS_TOPIC.to_string(),
                partition,
                records: batch,
            }],
        };
        let handle = tokio::runtime::Handle::current();
        let result = tokio::task::block_in_place(|| handle.block_on(self.replicas.append(params)));
        match result.into_iter().next() {
            Some(r) if r.error != ErrorCode::NONE => {
                tracing::warn!(
                    partition,
                    error = r.error.name(),
                    message = r.message.as_deref().unwrap_or(""),
                    "a {OFFSETS_TOPIC} write failed"
                );
                Err(r.error)
            }
            _ => Ok(()),
        }
    }
}
