//! Cluster metadata: topics (with their topic ids), partitions, topic and broker configs and
//! producer-id blocks, kept as Kafka's KRaft records in the metadata log
//! `<log dir>/__cluster_metadata-0` and replayed at start.
//!
//! Metadata changes one way only: records are committed (appended as one batch and synced, so
//! a change is all or nothing), then applied to the in-memory image; each apply reports what
//! changed ([`MetadataChange`]), and the broker reacts to that (creating or deleting partition
//! logs, reloading configs). With a cluster the same records will come through the Raft log.
//!
//! Record layout (as KRaft's `MetadataRecordSerde`): key null; value = uvarint frame version
//! (1) | uvarint api key (record type) | uvarint version | the record at that version.
//!
//! Must not: touch partition logs. Uses `log` (its own log) and `protocol`.

pub mod controller;
pub mod image;
pub mod quorum;

pub use image::{
    BrokerMeta, Image, MetadataChange, PartitionMeta, TopicMeta, NO_LEADER, NO_LEADER_CHANGE,
    RESOURCE_BROKER, RESOURCE_TOPIC,
};

use crate::log::{LogConfig, SharedLog};
use crate::protocol::metadata::{
    config_record::ConfigRecord, partition_record::PartitionRecord,
    producer_ids_record::ProducerIdsRecord, remove_topic_record::RemoveTopicRecord,
    topic_record::TopicRecord,
};
use crate::protocol::record_batch::BatchBuilder;
use crate::protocol::{Compression, ErrorCode, Uuid};
use image::encode_record;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// The metadata log's topic: never visible to clients, never created or deleted by them.
pub const METADATA_TOPIC: &str = "__cluster_metadata";
/// Kafka's internal topics (`Topic.INTERNAL_TOPICS`): flagged internal in Metadata, not
/// creatable by clients, not writable by producers. Not every name starting with `__`.
pub const INTERNAL_TOPICS: &[&str] = &[
    "__consumer_offsets",
    "__transaction_state",
    "__share_group_state",
];

/// Whether `name` is one of Kafka's internal topics.
pub fn is_internal_topic(name: &str) -> bool {
    INTERNAL_TOPICS.contains(&name)
}
/// Producer ids are handed out in blocks; a block is persisted before its first id is used.
const PRODUCER_ID_BLOCK: i64 = 1000;

/// Where committed records go: this node's own metadata log (a single node), or the Raft
/// quorum (a cluster; only the active controller's writes succeed).
enum Writer {
    Local(Arc<SharedLog>),
    Quorum(quorum::Quorum),
}

/// The metadata log and the image built from it.
pub struct MetadataStore {
    writer: Writer,
    node_id: i32,
    image: Arc<RwLock<Image>>,
    /// Held from a change's checks to its commit, so two changes never pass their checks
    /// against the same image (two creates of one topic).
    write_lock: std::sync::Mutex<()>,
    /// Set once this node is stopping: a commit that times out then is expected (the whole
    /// cluster may be stopping) and is not warned about.
    stopping: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for MetadataStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataStore")
            .field("node_id", &self.node_id)
            .field("quorum", &self.quorum().is_some())
            .finish()
    }
}

/// Kafka's rule for topic names: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("topic name is empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("topic name {name:?} is not allowed"));
    }
    if name.len() > 249 {
        return Err(format!(
            "topic name is {} characters long; the limit is 249",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "topic name {name:?} contains {c:?}; legal characters are [a-zA-Z0-9._-]"
        ));
    }
    Ok(())
}

impl MetadataStore {
    /// A single node's store: replays its own metadata log.
    pub fn open(log: Arc<SharedLog>, node_id: i32) -> Result<MetadataStore, String> {
        let store = MetadataStore {
            writer: Writer::Local(log),
            write_lock: std::sync::Mutex::new(()),
            stopping: std::sync::atomic::AtomicBool::new(false),
            node_id,
            image: Arc::new(RwLock::new(Image {
                offset: -1,
                ..Default::default()
            })),
        };
        store.replay()?;
        Ok(store)
    }

    /// A cluster node's store over a started quorum sharing `image`.
    pub fn with_quorum(
        q: quorum::Quorum,
        image: Arc<RwLock<Image>>,
        node_id: i32,
    ) -> MetadataStore {
        MetadataStore {
            writer: Writer::Quorum(q),
            write_lock: std::sync::Mutex::new(()),
            stopping: std::sync::atomic::AtomicBool::new(false),
            node_id,
            image,
        }
    }

    /// The quorum, in a cluster.
    pub fn quorum(&self) -> Option<&quorum::Quorum> {
        match &self.writer {
            Writer::Quorum(q) => Some(q),
            Writer::Local(_) => None,
        }
    }

    /// A fresh, empty image to share with a quorum.
    pub fn new_image() -> Arc<RwLock<Image>> {
        Arc::new(RwLock::new(Image {
            offset: -1,
            ..Default::default()
        }))
    }

    /// The default config of the metadata log.
    pub fn log_config() -> LogConfig {
        LogConfig::default()
    }

    fn replay(&self) -> Result<(), String> {
        let Writer::Local(log) = &self.writer else {
            return Ok(());
        };
        let mut image = Image {
            offset: -1,
            ..Default::default()
        };
        log.scan_records(|_, record| match record.value {
            Some(value) => image
                .apply(&value, record.offset)
                .map(|_| ())
                .map_err(|e| format!("metadata record at offset {}: {e}", record.offset)),
            None => Ok(()),
        })
        .map_err(|e| format!("replaying the metadata log: {e}"))?;
        image.next_producer_id = image.producer_id_limit;
        *self.image.write().unwrap_or_else(|e| e.into_inner()) = image;
        Ok(())
    }

    /// Commits `records` (one batch, synced), then applies them to the image: what changed.
    /// In a cluster the records go through the quorum (NOT_CONTROLLER on a node that is not
    /// the active controller; REQUEST_TIMED_OUT when no majority acknowledges them within
    /// the quorum's commit timeout — they may still commit later, or be discarded when
    /// another leader takes over); every node's state machine applies them and hands the
    /// changes to its broker, so this returns none.
    pub fn commit(&self, records: &[Vec<u8>]) -> Result<Vec<MetadataChange>, ErrorCode> {
        let log = match &self.writer {
            Writer::Local(log) => log,
            Writer::Quorum(q) => {
                let raft = q.raft.clone();
                let cmd = quorum::Command {
                    records: records.to_vec(),
                };
                if !q.has_quorum() {
                    // A leader cut off from the majority commits nothing: say so at once.
                    return Err(ErrorCode::REQUEST_TIMED_OUT);
                }
                let wait = q.commit_timeout;
                let handle = tokio::runtime::Handle::current();
                let r = tokio::task::block_in_place(|| {
                    let Ok(written) =
                        handle.block_on(tokio::time::timeout(wait, raft.client_write(cmd)))
                    else {
                        let timeout_ms = wait.as_millis() as u64;
                        if self.stopping.load(std::sync::atomic::Ordering::Acquire) {
                            tracing::debug!(
                                timeout_ms,
                                "the quorum did not commit a metadata change while this node stops"
                            );
                        } else {
                            tracing::warn!(
                                timeout_ms,
                                "the quorum did not commit a metadata change in time"
                            );
                        }
                        return Err(ErrorCode::REQUEST_TIMED_OUT);
                    };
                    written.map_err(|e| match e {
                        openraft::error::RaftError::APIError(
                            openraft::error::ClientWriteError::ForwardToLeader(_),
                        ) => ErrorCode::NOT_CONTROLLER,
                        e => {
                            tracing::warn!(error = %e, "metadata commit failed");
                            ErrorCode::NOT_CONTROLLER
                        }
                    })
                });
                return r.map(|_| Vec::new());
            }
        };
        let now = crate::time::now_ms();
        let mut b = BatchBuilder::new();
        for r in records {
            b.append(now, None, Some(r), &[]);
        }
        let batch = b.build(Compression::None);
        let info = log.append_as_leader(&batch, 0, now).map_err(|e| {
            tracing::error!(error = %e, "metadata log append failed");
            ErrorCode::KAFKA_STORAGE_ERROR
        })?;
        log.flush_to(info.last_offset + 1, now).map_err(|e| {
            tracing::error!(error = %e, "metadata log sync failed");
            ErrorCode::KAFKA_STORAGE_ERROR
        })?;
        let mut image = self.image.write().unwrap_or_else(|e| e.into_inner());
        let mut changes: Vec<MetadataChange> = Vec::new();
        for (i, r) in records.iter().enumerate() {
            match image.apply(r, info.base_offset + i as i64) {
                Ok(Some(change)) if !changes.contains(&change) => changes.push(change),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "applying a committed metadata record failed")
                }
            }
        }
        Ok(changes)
    }

    fn lock_writes(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write_lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Image> {
        self.image.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the whole image.
    pub fn image(&self) -> Image {
        self.read().clone()
    }

    /// Offset of the last applied metadata record (-1: none).
    pub fn applied_offset(&self) -> i64 {
        self.read().offset
    }

    pub fn topic(&self, name: &str) -> Option<TopicMeta> {
        self.read().topics.get(name).cloned()
    }

    /// The leader of `topic`-`index` (-1: none), or `None` when the partition is unknown.
    /// Read in place: the produce and fetch paths ask it for every partition.
    pub fn partition_leader(&self, topic: &str, index: i32) -> Option<i32> {
        self.read()
            .topics
            .get(topic)?
            .partitions
            .iter()
            .find(|p| p.index == index)
            .map(|p| p.leader)
    }

    /// `(leader, leader epoch)` of a partition.
    pub fn partition_leader_and_epoch(&self, topic: &str, index: i32) -> Option<(i32, i32)> {
        self.read()
            .topics
            .get(topic)?
            .partitions
            .iter()
            .find(|p| p.index == index)
            .map(|p| (p.leader, p.leader_epoch))
    }

    pub fn topic_name_by_id(&self, id: &Uuid) -> Option<String> {
        self.read().names_by_id.get(id).cloned()
    }

    pub fn topics(&self) -> Vec<TopicMeta> {
        self.read().topics.values().cloned().collect()
    }

    pub fn broker_configs(&self) -> BTreeMap<String, String> {
        self.read().broker_configs.clone()
    }

    /// The dynamic configs set for broker `node` alone.
    pub fn configs_of_broker(&self, node: i32) -> BTreeMap<String, String> {
        self.read()
            .per_broker_configs
            .get(&node.to_string())
            .cloned()
            .unwrap_or_default()
    }

    /// The dynamic configs in force on broker `node`: the cluster-wide ones, under its own.
    pub fn effective_broker_configs(&self, node: i32) -> BTreeMap<String, String> {
        let image = self.read();
        let mut out = image.broker_configs.clone();
        if let Some(own) = image.per_broker_configs.get(&node.to_string()) {
            out.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }

    /// This node is stopping (see `stopping`).
    pub fn set_stopping(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Release);
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Registered brokers (empty on a single node).
    pub fn brokers(&self) -> Vec<BrokerMeta> {
        self.read().brokers.values().cloned().collect()
    }

    /// Creates a topic with `partitions` partitions on this node and its config overrides.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<Vec<MetadataChange>, ErrorCode> {
        let assignment: Vec<Vec<i32>> = (0..partitions).map(|_| vec![self.node_id]).collect();
        self.create_topic_assigned(name, &assignment, configs)
    }

    /// Creates a topic whose partition `p` has the replicas `assignment[p]` (the first is
    /// the leader).
    pub fn create_topic_assigned(
        &self,
        name: &str,
        assignment: &[Vec<i32>],
        configs: &BTreeMap<String, String>,
    ) -> Result<Vec<MetadataChange>, ErrorCode> {
        let _w = self.lock_writes();
        if self.topic(name).is_some() {
            return Err(ErrorCode::TOPIC_ALREADY_EXISTS);
        }
        let id = Uuid::random();
        let mut records = vec![encode_record(&TopicRecord {
            name: name.to_string(),
            topic_id: id,
            ..Default::default()
        })];
        for (p, replicas) in assignment.iter().enumerate() {
            records.push(partition_record(id, p as i32, replicas));
        }
        for (k, v) in configs {
            records.push(encode_record(&ConfigRecord {
                resource_type: RESOURCE_TOPIC,
                resource_name: name.to_string(),
                name: k.clone(),
                value: Some(v.clone()),
                ..Default::default()
            }));
        }
        self.commit(&records)
    }

    /// Grows a topic to `count` partitions (on this node).
    pub fn add_partitions(&self, name: &str, count: i32) -> Result<Vec<MetadataChange>, ErrorCode> {
        let topic = self
            .topic(name)
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
        let current = topic.partitions.len() as i32;
        let assignment: Vec<Vec<i32>> = (current..count.max(current))
            .map(|_| vec![self.node_id])
            .collect();
        self.add_partitions_assigned(name, &assignment)
    }

    /// Adds partitions with the given replicas after the existing ones.
    pub fn add_partitions_assigned(
        &self,
        name: &str,
        assignment: &[Vec<i32>],
    ) -> Result<Vec<MetadataChange>, ErrorCode> {
        let _w = self.lock_writes();
        let topic = self
            .topic(name)
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
        let current = topic.partitions.len() as i32;
        if assignment.is_empty() {
            return Err(ErrorCode::INVALID_PARTITIONS);
        }
        let records: Vec<Vec<u8>> = assignment
            .iter()
            .enumerate()
            .map(|(i, r)| partition_record(topic.id, current + i as i32, r))
            .collect();
        self.commit(&records)
    }

    /// Removes a topic.
    pub fn delete_topic(&self, name: &str) -> Result<Vec<MetadataChange>, ErrorCode> {
        let _w = self.lock_writes();
        let topic = self
            .topic(name)
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
        self.commit(&[encode_record(&RemoveTopicRecord {
            topic_id: topic.id,
            ..Default::default()
        })])
    }

    /// Sets (`Some`) or removes (`None`) configs of a topic (`RESOURCE_TOPIC`) or of the
    /// broker (`RESOURCE_BROKER`, resource name "" for the cluster default).
    pub fn alter_configs(
        &self,
        resource_type: i8,
        resource_name: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<Vec<MetadataChange>, ErrorCode> {
        let records: Vec<Vec<u8>> = changes
            .iter()
            .map(|(k, v)| {
                encode_record(&ConfigRecord {
                    resource_type,
                    resource_name: resource_name.to_string(),
                    name: k.clone(),
                    value: v.clone(),
                    ..Default::default()
                })
            })
            .collect();
        if records.is_empty() {
            return Ok(Vec::new());
        }
        self.commit(&records)
    }

    /// Commits a producer-id block of `size` ids for `broker` and returns its first id (the
    /// controller's side of AllocateProducerIds).
    pub fn allocate_producer_id_block(
        &self,
        broker: i32,
        broker_epoch: i64,
        size: i64,
    ) -> Result<i64, ErrorCode> {
        let _w = self.lock_writes();
        let start = self.read().producer_id_limit;
        self.commit(&[encode_record(&ProducerIdsRecord {
            broker_id: broker,
            broker_epoch,
            next_producer_id: start + size,
            ..Default::default()
        })])?;
        Ok(start)
    }

    /// The next producer id: never one handed out before, across restarts (a single node).
    pub fn allocate_producer_id(&self) -> Result<i64, ErrorCode> {
        {
            let mut image = self.image.write().unwrap_or_else(|e| e.into_inner());
            if image.next_producer_id < image.producer_id_limit {
                image.next_producer_id += 1;
                return Ok(image.next_producer_id - 1);
            }
        }
        let limit = self.read().producer_id_limit;
        let record = ProducerIdsRecord {
            broker_id: self.node_id,
            broker_epoch: 0,
            next_producer_id: limit + PRODUCER_ID_BLOCK,
            ..Default::default()
        };
        self.commit(&[encode_record(&record)])?;
        let mut image = self.image.write().unwrap_or_else(|e| e.into_inner());
        image.next_producer_id = image.next_producer_id.max(limit) + 1;
        Ok(image.next_producer_id - 1)
    }
}

/// A new partition with `replicas`, led by the first.
fn partition_record(topic_id: Uuid, partition: i32, replicas: &[i32]) -> Vec<u8> {
    encode_record(&PartitionRecord {
        partition_id: partition,
        topic_id,
        replicas: replicas.to_vec(),
        isr: replicas.to_vec(),
        leader: replicas.first().copied().unwrap_or(NO_LEADER),
        leader_epoch: 0,
        partition_epoch: 0,
        directories: vec![Uuid::ZERO; replicas.len()],
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafkas_rule() {
        assert!(validate_topic_name("orders.v1_x-2").is_ok());
        for bad in ["", ".", "..", "../../x", "a/b", "é", &"x".repeat(250)] {
            assert!(validate_topic_name(bad).is_err(), "{bad:?}");
        }
    }
}
