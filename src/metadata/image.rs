//! The in-memory metadata image, built by applying KRaft records in log order, and the
//! records that rebuild it (a snapshot's contents).
//!
//! Record layout (as KRaft's `MetadataRecordSerde`): key null; value = uvarint frame version
//! (1) | uvarint api key (record type) | uvarint version | the record at that version.

use crate::protocol::codec::{Decoder, Encoder, Message, VersionedMessage};
use crate::protocol::metadata::{
    broker_registration_change_record::BrokerRegistrationChangeRecord,
    config_record::ConfigRecord,
    feature_level_record::FeatureLevelRecord,
    fence_broker_record::FenceBrokerRecord,
    partition_change_record::PartitionChangeRecord,
    partition_record::PartitionRecord,
    producer_ids_record::ProducerIdsRecord,
    register_broker_record::{BrokerEndpoint, RegisterBrokerRecord},
    remove_topic_record::RemoveTopicRecord,
    topic_record::TopicRecord,
    unfence_broker_record::UnfenceBrokerRecord,
    unregister_broker_record::UnregisterBrokerRecord,
};
use crate::protocol::Uuid;
use std::collections::{BTreeMap, HashMap};

const FRAME_VERSION: u32 = 1;
/// `ConfigRecord.resource_type` values (Kafka's `ConfigResource.Type`).
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
/// `PartitionChangeRecord.leader`: no change (-2) and no leader (-1).
pub const NO_LEADER_CHANGE: i32 = -2;
pub const NO_LEADER: i32 = -1;
/// The `metadata.version` kfk formats with: Kafka 4.1's latest production level (4.1-IV1).
pub const METADATA_VERSION_LEVEL: i16 = 27;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PartitionMeta {
    pub index: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// A reassignment under way: replicas joining, and leaving once they joined.
    pub adding: Vec<i32>,
    pub removing: Vec<i32>,
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
        super::is_internal_topic(&self.name)
    }
}

/// A registered broker, as its last RegisterBrokerRecord and the fencing records after it
/// describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerMeta {
    pub id: i32,
    pub epoch: i64,
    pub incarnation_id: Uuid,
    /// (listener name, host, port).
    pub endpoints: Vec<(String, String, u16)>,
    pub rack: Option<String>,
    pub fenced: bool,
    pub in_controlled_shutdown: bool,
    /// Metadata offset of its registration: it is caught up once it has applied this far.
    pub registered_at: i64,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Image {
    pub topics: BTreeMap<String, TopicMeta>,
    pub names_by_id: HashMap<Uuid, String>,
    /// Dynamic broker configs for every broker (`--entity-default`): ConfigRecords of
    /// resource name "".
    pub broker_configs: BTreeMap<String, String>,
    /// Dynamic configs of one broker (`--entity-name 1`), by broker id as written in the
    /// ConfigRecord: they win over `broker_configs` on that broker.
    pub per_broker_configs: BTreeMap<String, BTreeMap<String, String>>,
    pub brokers: BTreeMap<i32, BrokerMeta>,
    pub features: BTreeMap<String, i16>,
    /// First producer id not yet persisted as allocated.
    pub producer_id_limit: i64,
    pub next_producer_id: i64,
    /// Offset of the last record applied (-1: none).
    pub offset: i64,
}

/// What applying a committed record changed, for the broker to react to.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataChange {
    /// A topic appeared, or gained partitions, or a partition's leadership changed: its
    /// partition logs must exist where this node is a replica.
    TopicPartitionsChanged(String),
    /// A topic was removed: its partition logs go.
    TopicRemoved(TopicMeta),
    /// A topic's config overrides changed.
    TopicConfigChanged(String),
    /// A broker-level (dynamic) config changed: every topic's defaults may have.
    BrokerConfigChanged,
    /// A producer-id block was allocated.
    ProducerIdsAllocated,
    /// A broker registered, was fenced or unfenced.
    BrokersChanged,
    /// The whole image was replaced (a snapshot was installed): reconcile everything.
    Reset,
}

/// Encodes a metadata record as a record value at its highest version.
pub fn encode_record<M: VersionedMessage>(m: &M) -> Vec<u8> {
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

/// The metadata record type (api key) of a record value.
pub fn record_type(value: &[u8]) -> Option<i16> {
    let value = bytes::Bytes::copy_from_slice(value);
    let mut d = Decoder::new(&value);
    let _frame = d.uvarint().ok()?;
    d.uvarint().ok().map(|k| k as i16)
}

impl Image {
    /// Applies one record value found at `offset`; what it changed (`None` for records kfk
    /// does not act on).
    pub fn apply(&mut self, value: &[u8], offset: i64) -> Result<Option<MetadataChange>, String> {
        self.offset = self.offset.max(offset);
        let value = bytes::Bytes::copy_from_slice(value);
        let mut d = Decoder::new(&value);
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
                self.names_by_id.insert(r.topic_id, r.name.clone());
                self.topics.insert(
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
                let name = self
                    .names_by_id
                    .get(&r.topic_id)
                    .cloned()
                    .ok_or("partition of an unknown topic")?;
                if let Some(t) = self.topics.get_mut(&name) {
                    let meta = PartitionMeta {
                        index: r.partition_id,
                        leader: r.leader,
                        leader_epoch: r.leader_epoch,
                        partition_epoch: r.partition_epoch,
                        replicas: r.replicas,
                        isr: r.isr,
                        adding: r.adding_replicas,
                        removing: r.removing_replicas,
                    };
                    match t.partitions.iter_mut().find(|p| p.index == r.partition_id) {
                        Some(p) => *p = meta,
                        None => t.partitions.push(meta),
                    }
                    t.partitions.sort_by_key(|p| p.index);
                }
                Some(MetadataChange::TopicPartitionsChanged(name))
            }
            k if k == PartitionChangeRecord::API_KEY => {
                let r = PartitionChangeRecord::decode(&mut d, version).map_err(err)?;
                let Some(name) = self.names_by_id.get(&r.topic_id).cloned() else {
                    return Ok(None);
                };
                let Some(p) = self
                    .topics
                    .get_mut(&name)
                    .and_then(|t| t.partitions.iter_mut().find(|p| p.index == r.partition_id))
                else {
                    return Ok(None);
                };
                if let Some(isr) = r.isr {
                    p.isr = isr;
                }
                if let Some(replicas) = r.replicas {
                    p.replicas = replicas;
                }
                if let Some(adding) = r.adding_replicas {
                    p.adding = adding;
                }
                if let Some(removing) = r.removing_replicas {
                    p.removing = removing;
                }
                if r.leader != NO_LEADER_CHANGE {
                    p.leader = r.leader;
                    p.leader_epoch += 1;
                }
                p.partition_epoch += 1;
                Some(MetadataChange::TopicPartitionsChanged(name))
            }
            k if k == ConfigRecord::API_KEY => {
                let r = ConfigRecord::decode(&mut d, version).map_err(err)?;
                let (target, change) = match r.resource_type {
                    RESOURCE_TOPIC => (
                        self.topics
                            .get_mut(&r.resource_name)
                            .map(|t| &mut t.configs),
                        MetadataChange::TopicConfigChanged(r.resource_name.clone()),
                    ),
                    RESOURCE_BROKER if r.resource_name.is_empty() => (
                        Some(&mut self.broker_configs),
                        MetadataChange::BrokerConfigChanged,
                    ),
                    RESOURCE_BROKER => (
                        Some(
                            self.per_broker_configs
                                .entry(r.resource_name.clone())
                                .or_default(),
                        ),
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
                let name = self.names_by_id.remove(&r.topic_id);
                name.and_then(|n| self.topics.remove(&n))
                    .map(MetadataChange::TopicRemoved)
            }
            k if k == ProducerIdsRecord::API_KEY => {
                let r = ProducerIdsRecord::decode(&mut d, version).map_err(err)?;
                self.producer_id_limit = self.producer_id_limit.max(r.next_producer_id);
                Some(MetadataChange::ProducerIdsAllocated)
            }
            k if k == RegisterBrokerRecord::API_KEY => {
                let r = RegisterBrokerRecord::decode(&mut d, version).map_err(err)?;
                self.brokers.insert(
                    r.broker_id,
                    BrokerMeta {
                        id: r.broker_id,
                        epoch: r.broker_epoch,
                        incarnation_id: r.incarnation_id,
                        endpoints: r
                            .end_points
                            .into_iter()
                            .map(|e| (e.name, e.host, e.port))
                            .collect(),
                        rack: r.rack,
                        fenced: r.fenced,
                        in_controlled_shutdown: r.in_controlled_shutdown,
                        registered_at: offset,
                    },
                );
                Some(MetadataChange::BrokersChanged)
            }
            k if k == UnregisterBrokerRecord::API_KEY => {
                let r = UnregisterBrokerRecord::decode(&mut d, version).map_err(err)?;
                self.brokers.remove(&r.broker_id);
                Some(MetadataChange::BrokersChanged)
            }
            k if k == FenceBrokerRecord::API_KEY => {
                let r = FenceBrokerRecord::decode(&mut d, version).map_err(err)?;
                let b = self.brokers.get_mut(&r.id).filter(|b| b.epoch == r.epoch);
                b.map(|b| {
                    b.fenced = true;
                    MetadataChange::BrokersChanged
                })
            }
            k if k == UnfenceBrokerRecord::API_KEY => {
                let r = UnfenceBrokerRecord::decode(&mut d, version).map_err(err)?;
                let b = self.brokers.get_mut(&r.id).filter(|b| b.epoch == r.epoch);
                b.map(|b| {
                    b.fenced = false;
                    b.in_controlled_shutdown = false;
                    MetadataChange::BrokersChanged
                })
            }
            k if k == BrokerRegistrationChangeRecord::API_KEY => {
                let r = BrokerRegistrationChangeRecord::decode(&mut d, version).map_err(err)?;
                let b = self
                    .brokers
                    .get_mut(&r.broker_id)
                    .filter(|b| b.epoch == r.broker_epoch);
                b.map(|b| {
                    match r.fenced {
                        1 => b.fenced = true,
                        0 => b.fenced = false,
                        _ => {}
                    }
                    match r.in_controlled_shutdown {
                        1 => b.in_controlled_shutdown = true,
                        0 => b.in_controlled_shutdown = false,
                        _ => {}
                    }
                    MetadataChange::BrokersChanged
                })
            }
            k if k == FeatureLevelRecord::API_KEY => {
                let r = FeatureLevelRecord::decode(&mut d, version).map_err(err)?;
                self.features.insert(r.name, r.feature_level);
                None
            }
            _ => None,
        };
        Ok(change)
    }

    /// Records that rebuild this image from nothing (a snapshot's contents).
    pub fn to_records(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for (name, level) in &self.features {
            out.push(encode_record(&FeatureLevelRecord {
                name: name.clone(),
                feature_level: *level,
                ..Default::default()
            }));
        }
        for b in self.brokers.values() {
            out.push(encode_record(&RegisterBrokerRecord {
                broker_id: b.id,
                incarnation_id: b.incarnation_id,
                broker_epoch: b.epoch,
                end_points: b
                    .endpoints
                    .iter()
                    .map(|(name, host, port)| BrokerEndpoint {
                        name: name.clone(),
                        host: host.clone(),
                        port: *port,
                        security_protocol: 0,
                        ..Default::default()
                    })
                    .collect(),
                rack: b.rack.clone(),
                fenced: b.fenced,
                in_controlled_shutdown: b.in_controlled_shutdown,
                ..Default::default()
            }));
        }
        let per_broker = self
            .per_broker_configs
            .iter()
            .flat_map(|(b, configs)| configs.iter().map(move |(k, v)| (b.as_str(), k, v)));
        for (broker, k, v) in self
            .broker_configs
            .iter()
            .map(|(k, v)| ("", k, v))
            .chain(per_broker)
        {
            out.push(encode_record(&ConfigRecord {
                resource_type: RESOURCE_BROKER,
                resource_name: broker.to_string(),
                name: k.clone(),
                value: Some(v.clone()),
                ..Default::default()
            }));
        }
        for t in self.topics.values() {
            out.push(encode_record(&TopicRecord {
                name: t.name.clone(),
                topic_id: t.id,
                ..Default::default()
            }));
            for p in &t.partitions {
                out.push(encode_record(&PartitionRecord {
                    partition_id: p.index,
                    topic_id: t.id,
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                    leader: p.leader,
                    leader_epoch: p.leader_epoch,
                    partition_epoch: p.partition_epoch,
                    directories: vec![Uuid::ZERO; p.replicas.len()],
                    adding_replicas: p.adding.clone(),
                    removing_replicas: p.removing.clone(),
                    ..Default::default()
                }));
            }
            for (k, v) in &t.configs {
                out.push(encode_record(&ConfigRecord {
                    resource_type: RESOURCE_TOPIC,
                    resource_name: t.name.clone(),
                    name: k.clone(),
                    value: Some(v.clone()),
                    ..Default::default()
                }));
            }
        }
        if self.producer_id_limit > 0 {
            out.push(encode_record(&ProducerIdsRecord {
                broker_id: -1,
                broker_epoch: -1,
                next_producer_id: self.producer_id_limit,
                ..Default::default()
            }));
        }
        out
    }

    /// Rebuilds an image from `records` (a snapshot whose last record is at `offset`).
    pub fn from_records(records: &[Vec<u8>], offset: i64) -> Result<Image, String> {
        let mut image = Image {
            offset: -1,
            ..Default::default()
        };
        for r in records {
            image.apply(r, -1)?;
        }
        // Registration offsets before the snapshot are all caught up by now.
        for b in image.brokers.values_mut() {
            b.registered_at = -1;
        }
        image.offset = offset;
        image.next_producer_id = image.producer_id_limit;
        Ok(image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_survives_its_own_records() {
        let mut image = Image::default();
        let id = Uuid::random();
        let records = [
            encode_record(&TopicRecord {
                name: "t".into(),
                topic_id: id,
                ..Default::default()
            }),
            encode_record(&PartitionRecord {
                partition_id: 0,
                topic_id: id,
                replicas: vec![2],
                isr: vec![2],
                leader: 2,
                leader_epoch: 0,
                partition_epoch: 0,
                ..Default::default()
            }),
            encode_record(&RegisterBrokerRecord {
                broker_id: 2,
                broker_epoch: 7,
                end_points: vec![BrokerEndpoint {
                    name: "PLAINTEXT".into(),
                    host: "127.0.0.1".into(),
                    port: 9092,
                    ..Default::default()
                }],
                fenced: true,
                ..Default::default()
            }),
            encode_record(&UnfenceBrokerRecord {
                id: 2,
                epoch: 7,
                ..Default::default()
            }),
            encode_record(&PartitionChangeRecord {
                partition_id: 0,
                topic_id: id,
                leader: NO_LEADER,
                ..Default::default()
            }),
        ];
        for (i, r) in records.iter().enumerate() {
            image.apply(r, i as i64).unwrap();
        }
        assert!(!image.brokers[&2].fenced);
        let p = &image.topics["t"].partitions[0];
        assert_eq!(
            (p.leader, p.leader_epoch, p.partition_epoch),
            (NO_LEADER, 1, 1)
        );
        let mut rebuilt = Image::from_records(&image.to_records(), image.offset).unwrap();
        for b in image.brokers.values_mut() {
            b.registered_at = -1;
        }
        rebuilt.next_producer_id = image.next_producer_id;
        assert_eq!(rebuilt, image);
    }
}
