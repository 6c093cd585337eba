//! The active controller's broker-lifecycle changes, as KRaft records: registration (a new
//! broker epoch, fenced), unfencing once caught up, fencing (session expiry, or a broker that
//! asks), controlled shutdown. With replication factor 1 a partition whose only replica is
//! fenced has no leader (-1) until that broker is unfenced again; every leader change bumps
//! the leader epoch (PartitionChangeRecord).

use super::image::{encode_record, NO_LEADER};
use super::{MetadataStore, TopicMeta};
use crate::protocol::metadata::{
    broker_registration_change_record::BrokerRegistrationChangeRecord,
    fence_broker_record::FenceBrokerRecord,
    partition_change_record::PartitionChangeRecord,
    register_broker_record::{BrokerEndpoint, BrokerFeature, RegisterBrokerRecord},
    unfence_broker_record::UnfenceBrokerRecord,
};
use crate::protocol::{ErrorCode, Uuid};

/// A broker's registration request, as the controller stores it.
#[derive(Debug, Clone)]
pub struct Registration {
    pub broker_id: i32,
    pub incarnation_id: Uuid,
    pub endpoints: Vec<(String, String, u16)>,
    pub rack: Option<String>,
    pub features: Vec<(String, i16, i16)>,
}

fn leader_change(t: &TopicMeta, partition: i32, leader: i32) -> Vec<u8> {
    encode_record(&PartitionChangeRecord {
        partition_id: partition,
        topic_id: t.id,
        leader,
        ..Default::default()
    })
}

impl MetadataStore {
    /// Registers (or re-registers) a broker, fenced, with a new epoch; the partitions it
    /// leads under an older incarnation lose their leader until it is unfenced. Returns the
    /// new broker epoch.
    pub fn register_broker(&self, r: &Registration) -> Result<i64, ErrorCode> {
        let _w = self.lock_writes();
        let image = self.read().clone();
        let previous = image.brokers.get(&r.broker_id);
        let epoch = (image.offset + 1).max(previous.map_or(0, |b| b.epoch + 1));
        let mut records = vec![encode_record(&RegisterBrokerRecord {
            broker_id: r.broker_id,
            incarnation_id: r.incarnation_id,
            broker_epoch: epoch,
            end_points: r
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
            features: r
                .features
                .iter()
                .map(|(name, min, max)| BrokerFeature {
                    name: name.clone(),
                    min_supported_version: *min,
                    max_supported_version: *max,
                    ..Default::default()
                })
                .collect(),
            rack: r.rack.clone(),
            fenced: true,
            in_controlled_shutdown: false,
            log_dirs: Vec::new(),
            ..Default::default()
        })];
        records.extend(Self::lose_leadership(&image, r.broker_id));
        self.commit(&records)?;
        Ok(epoch)
    }

    /// Records taking leadership away from `broker` (no other replica with RF 1).
    fn lose_leadership(image: &super::Image, broker: i32) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for t in image.topics.values() {
            for p in &t.partitions {
                if p.leader == broker {
                    let next = p
                        .isr
                        .iter()
                        .copied()
                        .find(|r| {
                            *r != broker
                                && image
                                    .brokers
                                    .get(r)
                                    .is_some_and(|b| !b.fenced && !b.in_controlled_shutdown)
                        })
                        .unwrap_or(NO_LEADER);
                    out.push(leader_change(t, p.index, next));
                }
            }
        }
        out
    }

    /// Unfences a caught-up broker and gives it back the leaderless partitions it holds.
    pub fn unfence_broker(&self, broker: i32, epoch: i64) -> Result<(), ErrorCode> {
        let _w = self.lock_writes();
        let image = self.read().clone();
        match image.brokers.get(&broker) {
            Some(b) if b.epoch == epoch && b.fenced => {}
            Some(b) if b.epoch == epoch => return Ok(()),
            _ => return Err(ErrorCode::STALE_BROKER_EPOCH),
        }
        let mut records = vec![encode_record(&UnfenceBrokerRecord {
            id: broker,
            epoch,
            ..Default::default()
        })];
        for t in image.topics.values() {
            for p in &t.partitions {
                if p.leader == NO_LEADER && p.isr.contains(&broker) {
                    records.push(leader_change(t, p.index, broker));
                }
            }
        }
        self.commit(&records).map(|_| ())
    }

    /// Fences a broker (its session expired, or it asked) and moves leadership off it.
    pub fn fence_broker(&self, broker: i32, epoch: i64) -> Result<(), ErrorCode> {
        let _w = self.lock_writes();
        let image = self.read().clone();
        match image.brokers.get(&broker) {
            Some(b) if b.epoch == epoch && !b.fenced => {}
            _ => return Ok(()),
        }
        let mut records = vec![encode_record(&FenceBrokerRecord {
            id: broker,
            epoch,
            ..Default::default()
        })];
        records.extend(Self::lose_leadership(&image, broker));
        self.commit(&records).map(|_| ())
    }

    /// Controlled shutdown: marks the broker shutting down and moves its leadership away.
    /// Returns whether it now leads nothing (it may stop).
    pub fn begin_controlled_shutdown(&self, broker: i32, epoch: i64) -> Result<bool, ErrorCode> {
        let _w = self.lock_writes();
        let image = self.read().clone();
        let Some(b) = image.brokers.get(&broker).filter(|b| b.epoch == epoch) else {
            return Err(ErrorCode::STALE_BROKER_EPOCH);
        };
        let mut records = Vec::new();
        if !b.in_controlled_shutdown {
            records.push(encode_record(&BrokerRegistrationChangeRecord {
                broker_id: broker,
                broker_epoch: epoch,
                fenced: -1,
                in_controlled_shutdown: 1,
                ..Default::default()
            }));
        }
        records.extend(Self::lose_leadership(&image, broker));
        if !records.is_empty() {
            self.commit(&records)?;
        }
        let leads = self
            .read()
            .topics
            .values()
            .any(|t| t.partitions.iter().any(|p| p.leader == broker));
        Ok(!leads)
    }
}
