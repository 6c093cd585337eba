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

use crate::log::{LogConfig, SharedLog};
use crate::protocol::codec::{Decoder, Encoder, Message, VersionedMessage};
use crate::protocol::metadata::{
    config_record::ConfigRecord, partition_record::PartitionRecord,
    producer_ids_record::ProducerIdsRecord, remove_topic_record::RemoveTopicRecord,
    topic_record::TopicRecord,
};
use crate::protocol::record_batch::BatchBuilder;
use crate::protocol::{Compression, ErrorCode, Uuid};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
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
const FRAME_VERSION: u32 = 1;
/// `ConfigRecord.resource_type` values (Kafka's `ConfigResource.Type`).
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct PartitionMeta {
    pub index: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopicMeta {
    pub name: String,
    pub id: Uuid,
    pub partitions: Vec<PartitionMeta>,
    /// Topic-level config overrides.
    pub configs: BTreeMap<String, String>,
}

impl TopicMeta {
    pub fn is_internal(&self) -> bool {
        is_internal_topic(&self.name)
    }
}

#[derive(Debug, Default, Clone)]
struct Image {
    topics: BTreeMap<String, TopicMeta>,
    names_by_id: HashMap<Uuid, String>,
    broker_configs: BTreeMap<String, String>,
    /// First producer id not yet persisted as allocated.
    producer_id_limit: i64,
    next_producer_id: i64,
}

/// What applying a committed record changed, for the broker to react to.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataChange {
    /// A topic appeared, or gained partitions: its partition logs must exist.
    TopicPartitionsChanged(String),
    /// A topic was removed: its partition logs go.
    TopicRemoved(TopicMeta),
    /// A topic's config overrides changed.
    TopicConfigChanged(String),
    /// A broker-level (dynamic) config changed: every topic's defaults may have.
    BrokerConfigChanged,
    /// A producer-id block was allocated.
    ProducerIdsAllocated,
}

/// The metadata log and the image built from it.
#[derive(Debug)]
pub struct MetadataStore {
    log: Arc<SharedLog>,
    node_id: i32,
    image: RwLock<Image>,
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

fn encode_record<M: VersionedMessage>(m: &M) -> Vec<u8> {
    let version = M::MAX_VERSION;
    let mut e = Encoder::new();
    e.put_uvarint(FRAME_VERSION);
    e.put_uvarint(M::API_KEY as u32);
    e.put_uvarint(version as u32);
    // Every field is set within the version: encoding cannot be refused.
    let encoded = m.encode(&mut e, version);
    debug_assert!(
        encoded.is_ok(),
        "metadata record encodes at its max version"
    );
    e.into_bytes().to_vec()
}

impl MetadataStore {
    /// Replays the metadata log.
    pub fn open(log: Arc<SharedLog>, node_id: i32) -> Result<MetadataStore, String> {
        let store = MetadataStore {
            log,
            node_id,
            image: RwLock::new(Image::default()),
        };
        store.replay()?;
        Ok(store)
    }

    /// The default config of the metadata log.
    pub fn log_config() -> LogConfig {
        LogConfig::default()
    }

    fn replay(&self) -> Result<(), String> {
        let mut image = Image::default();
        self.log
            .scan_records(|_, record| match record.value {
                Some(value) => apply(&mut image, &value)
                    .map(|_| ())
                    .map_err(|e| format!("metadata record at offset {}: {e}", record.offset)),
                None => Ok(()),
            })
            .map_err(|e| format!("replaying the metadata log: {e}"))?;
        image.next_producer_id = image.producer_id_limit;
        *self.image.write().unwrap_or_else(|e| e.into_inner()) = image;
        Ok(())
    }

    /// Appends the records as one batch and syncs it.
    /// Commits `records` (one batch, synced), then applies them to the image: what changed.
    fn commit(&self, records: &[Vec<u8>]) -> Result<Vec<MetadataChange>, ErrorCode> {
        let now = crate::time::now_ms();
        let mut b = BatchBuilder::new();
        for r in records {
            b.append(now, None, Some(r), &[]);
        }
        let batch = b.build(Compression::None);
        let info = self.log.append_as_leader(&batch, 0, now).map_err(|e| {
            tracing::error!(error = %e, "metadata log append failed");
            ErrorCode::KAFKA_STORAGE_ERROR
        })?;
        self.log.flush_to(info.last_offset + 1, now).map_err(|e| {
            tracing::error!(error = %e, "metadata log sync failed");
            ErrorCode::KAFKA_STORAGE_ERROR
        })?;
        let mut image = self.image.write().unwrap_or_else(|e| e.into_inner());
        let mut changes: Vec<MetadataChange> = Vec::new();
        for r in records {
            match apply(&mut image, &Bytes::copy_from_slice(r)) {
                Ok(Some(change)) if !changes.contains(&change) => changes.push(change),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "applying a committed metadata record failed")
                }
            }
        }
        Ok(changes)
    }

    pub fn topic(&self, name: &str) -> Option<TopicMeta> {
        self.image
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .topics
            .get(name)
            .cloned()
    }

    pub fn topic_name_by_id(&self, id: &Uuid) -> Option<String> {
        self.image
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .names_by_id
            .get(id)
            .cloned()
    }

    pub fn topics(&self) -> Vec<TopicMeta> {
        self.image
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .topics
            .values()
            .cloned()
            .collect()
    }

    pub fn broker_configs(&self) -> BTreeMap<String, String> {
        self.image
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .broker_configs
            .clone()
    }

    /// Creates a topic with `partitions` partitions on this node and its config overrides.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<Vec<MetadataChange>, ErrorCode> {
        if self.topic(name).is_some() {
            return Err(ErrorCode::TOPIC_ALREADY_EXISTS);
        }
        let id = Uuid::random();
        let mut records = vec![encode_record(&TopicRecord {
            name: name.to_string(),
            topic_id: id,
            ..Default::default()
        })];
        for p in 0..partitions {
            records.push(self.partition_record(id, p));
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

    fn partition_record(&self, topic_id: Uuid, partition: i32) -> Vec<u8> {
        encode_record(&PartitionRecord {
            partition_id: partition,
            topic_id,
            replicas: vec![self.node_id],
            isr: vec![self.node_id],
            leader: self.node_id,
            leader_epoch: 0,
            partition_epoch: 0,
            directories: vec![Uuid::ZERO],
            ..Default::default()
        })
    }

    /// Grows a topic to `count` partitions.
    pub fn add_partitions(&self, name: &str, count: i32) -> Result<Vec<MetadataChange>, ErrorCode> {
        let topic = self
            .topic(name)
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
        let current = topic.partitions.len() as i32;
        if count <= current {
            return Err(ErrorCode::INVALID_PARTITIONS);
        }
        let records: Vec<Vec<u8>> = (current..count)
            .map(|p| self.partition_record(topic.id, p))
            .collect();
        self.commit(&records)
    }

    /// Removes a topic.
    pub fn delete_topic(&self, name: &str) -> Result<Vec<MetadataChange>, ErrorCode> {
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

    /// The next producer id: never one handed out before, across restarts.
    pub fn allocate_producer_id(&self) -> Result<i64, ErrorCode> {
        {
            let mut image = self.image.write().unwrap_or_else(|e| e.into_inner());
            if image.next_producer_id < image.producer_id_limit {
                image.next_producer_id += 1;
                return Ok(image.next_producer_id - 1);
            }
        }
        let limit = self
            .image
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .producer_id_limit;
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

/// Applies one record value to the image; what it changed (`None` for records kfk does not
/// act on yet, such as broker registrations or features).
fn apply(image: &mut Image, value: &Bytes) -> Result<Option<MetadataChange>, String> {
    let mut d = Decoder::new(value);
    let err = |e: crate::protocol::DecodeError| e.to_string();
    let frame = d.uvarint().map_err(err)?;
    if frame != FRAME_VERSION {
        return Err(format!("unknown frame version {frame}"));
    }
    let api_key = d.uvarint().map_err(err)? as i16;
    let version = d.uvarint().map_err(err)? as i16;
    let change = match api_key {
        k if k == TopicRecord::API_KEY => {
            let r = TopicRecord::decode(&mut d, version).map_err(err)?;
            image.names_by_id.insert(r.topic_id, r.name.clone());
            image.topics.insert(
                r.name.clone(),
                TopicMeta {
                    name: r.name.clone(),
                    id: r.topic_id,
                    partitions: Vec::new(),
                    configs: BTreeMap::new(),
                },
            );
            Some(MetadataChange::TopicPartitionsChanged(r.name))
        }
        k if k == PartitionRecord::API_KEY => {
            let r = PartitionRecord::decode(&mut d, version).map_err(err)?;
            let name = image
                .names_by_id
                .get(&r.topic_id)
                .cloned()
                .ok_or("partition of an unknown topic")?;
            if let Some(t) = image.topics.get_mut(&name) {
                let meta = PartitionMeta {
                    index: r.partition_id,
                    leader: r.leader,
                    leader_epoch: r.leader_epoch,
                    replicas: r.replicas,
                    isr: r.isr,
                };
                match t.partitions.iter_mut().find(|p| p.index == r.partition_id) {
                    Some(p) => *p = meta,
                    None => t.partitions.push(meta),
                }
                t.partitions.sort_by_key(|p| p.index);
            }
            Some(MetadataChange::TopicPartitionsChanged(name))
        }
        k if k == ConfigRecord::API_KEY => {
            let r = ConfigRecord::decode(&mut d, version).map_err(err)?;
            let (target, change) = match r.resource_type {
                RESOURCE_TOPIC => (
                    image
                        .topics
                        .get_mut(&r.resource_name)
                        .map(|t| &mut t.configs),
                    MetadataChange::TopicConfigChanged(r.resource_name.clone()),
                ),
                RESOURCE_BROKER => (
                    Some(&mut image.broker_configs),
                    MetadataChange::BrokerConfigChanged,
                ),
                _ => return Ok(None),
            };
            let Some(map) = target else {
                return Ok(None);
            };
            match r.value {
                Some(v) => map.insert(r.name, v),
                None => map.remove(&r.name),
            };
            Some(change)
        }
        k if k == RemoveTopicRecord::API_KEY => {
            let r = RemoveTopicRecord::decode(&mut d, version).map_err(err)?;
            let name = image.names_by_id.remove(&r.topic_id);
            name.and_then(|n| image.topics.remove(&n))
                .map(MetadataChange::TopicRemoved)
        }
        k if k == ProducerIdsRecord::API_KEY => {
            let r = ProducerIdsRecord::decode(&mut d, version).map_err(err)?;
            image.producer_id_limit = image.producer_id_limit.max(r.next_producer_id);
            Some(MetadataChange::ProducerIdsAllocated)
        }
        _ => None,
    };
    Ok(change)
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
