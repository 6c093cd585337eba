//! The active controller's broker-lifecycle and ISR changes, as KRaft records: registration
//! (a new broker epoch, fenced), unfencing once caught up, fencing (session expiry, or a
//! broker that asks), controlled shutdown, AlterPartition from partition leaders.
//!
//! A broker that is fenced, re-registers or shuts down leaves the ISR of its partitions (the
//! ISR never becomes empty: its last member stays, as in Kafka) and loses their leadership to
//! the first other replica in the ISR that is unfenced; with none, the partition has no leader
//! (-1) until an ISR member is unfenced (leaders come only from the ISR). A leader change
//! bumps the leader epoch; every change bumps the partition epoch (PartitionChangeRecord).

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

/// Whether `broker` may lead or join an ISR: registered, unfenced, not shutting down.
fn eligible(image: &super::Image, broker: i32) -> bool {
    image
        .brokers
        .get(&broker)
        .is_some_and(|b| !b.fenced && !b.in_controlled_shutdown)
}

/// `unclean.leader.election.enable` of a topic: its override, else the cluster-wide dynamic
/// config, else false (Kafka's default).
fn unclean_allowed(image: &super::Image, t: &TopicMeta) -> bool {
    const KEY: &str = "unclean.leader.election.enable";
    t.configs
        .get(KEY)
        .or_else(|| image.broker_configs.get(KEY))
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// A reassignment's answer for one partition: `(topic, index, error, message)`.
pub type ReassignmentResult = (String, i32, ErrorCode, Option<String>);

/// A reassignment under way: `(topic, index, replicas, adding, removing)`.
pub type Reassignment = (String, i32, Vec<i32>, Vec<i32>, Vec<i32>);

/// A partition's state as an AlterPartition answer reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub isr: Vec<i32>,
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

    /// Records taking `broker` out of every ISR (never emptying one) and moving its
    /// leaderships to the first eligible replica of the remaining ISR (or none).
    fn lose_leadership(image: &super::Image, broker: i32) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for t in image.topics.values() {
            for p in &t.partitions {
                let in_isr = p.isr.contains(&broker);
                if p.leader != broker && !in_isr {
                    continue;
                }
                let mut isr: Vec<i32> = p.isr.iter().copied().filter(|r| *r != broker).collect();
                if isr.is_empty() {
                    isr = p.isr.clone();
                }
                let mut leader = if p.leader == broker {
                    p.replicas
                        .iter()
                        .copied()
                        .find(|r| *r != broker && isr.contains(r) && eligible(image, *r))
                        .unwrap_or(NO_LEADER)
                } else {
                    p.leader
                };
                if leader == NO_LEADER && unclean_allowed(image, t) {
                    if let Some(r) = p
                        .replicas
                        .iter()
                        .copied()
                        .find(|r| *r != broker && eligible(image, *r))
                    {
                        tracing::warn!(topic = %t.name, partition = p.index, leader = r, "unclean leader election: records the ISR had and this replica lacks are lost");
                        leader = r;
                        isr = vec![r];
                    }
                }
                if leader == p.leader && isr == p.isr {
                    continue;
                }
                out.push(encode_record(&PartitionChangeRecord {
                    partition_id: p.index,
                    topic_id: t.id,
                    leader: if leader == p.leader {
                        super::image::NO_LEADER_CHANGE
                    } else {
                        leader
                    },
                    isr: (isr != p.isr).then_some(isr),
                    ..Default::default()
                }));
            }
        }
        out
    }

    /// ElectLeaders: `preferred` moves each partition's leadership to its first replica when
    /// that replica is in the ISR and eligible; otherwise (unclean) a leaderless partition
    /// gets any eligible replica, the loss logged. `partitions` `None` means every partition
    /// (then partitions needing no election are left out of the answer, as Kafka does).
    pub fn elect_leaders(
        &self,
        preferred: bool,
        partitions: Option<&[(String, i32)]>,
    ) -> Result<Vec<(String, i32, ErrorCode)>, ErrorCode> {
        let _w = self.lock_writes();
        let image = self.read().clone();
        let wanted: Vec<(String, i32)> = match partitions {
            Some(p) => p.to_vec(),
            None => image
                .topics
                .values()
                .flat_map(|t| t.partitions.iter().map(|p| (t.name.clone(), p.index)))
                .collect(),
        };
        let mut results = Vec::new();
        let mut records = Vec::new();
        for (topic, index) in wanted {
            let Some(t) = image.topics.get(&topic) else {
                results.push((topic, index, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
                continue;
            };
            let Some(p) = t.partitions.iter().find(|p| p.index == index) else {
                results.push((topic, index, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
                continue;
            };
            let outcome = if preferred {
                let first = p.replicas.first().copied().unwrap_or(NO_LEADER);
                if p.leader == first {
                    Err(ErrorCode::ELECTION_NOT_NEEDED)
                } else if p.isr.contains(&first) && eligible(&image, first) {
                    Ok((first, None))
                } else {
                    Err(ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE)
                }
            } else if p.leader >= 0 {
                Err(ErrorCode::ELECTION_NOT_NEEDED)
            } else if let Some(r) = p.isr.iter().copied().find(|r| eligible(&image, *r)) {
                Ok((r, None))
            } else if let Some(r) = p.replicas.iter().copied().find(|r| eligible(&image, *r)) {
                tracing::warn!(topic = %t.name, partition = p.index, leader = r, "unclean leader election (ElectLeaders): records the ISR had and this replica lacks are lost");
                Ok((r, Some(vec![r])))
            } else {
                Err(ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE)
            };
            match outcome {
                Ok((leader, isr)) => {
                    records.push(encode_record(&PartitionChangeRecord {
                        partition_id: p.index,
                        topic_id: t.id,
                        leader,
                        isr,
                        ..Default::default()
                    }));
                    results.push((topic, index, ErrorCode::NONE));
                }
                Err(ErrorCode::ELECTION_NOT_NEEDED) if partitions.is_none() => {}
                Err(code) => results.push((topic, index, code)),
            }
        }
        if !records.is_empty() {
            self.commit(&records)?;
        }
        Ok(results)
    }

    /// AlterPartitionReassignments: per partition a target replica list (`None` cancels a
    /// reassignment under way). The partition's replicas become the target plus the
    /// original ones; the new replicas catch up and join the ISR, then
    /// [`MetadataStore::complete_reassignments`] drops the old ones. A reassignment that
    /// only removes replicas completes at once.
    pub fn alter_reassignments(
        &self,
        changes: &[(String, i32, Option<Vec<i32>>)],
    ) -> Result<Vec<ReassignmentResult>, ErrorCode> {
        let _w = self.lock_writes();
        let image = self.read().clone();
        let mut results = Vec::new();
        let mut records = Vec::new();
        for (topic, index, target) in changes {
            let Some(t) = image.topics.get(topic) else {
                results.push((
                    topic.clone(),
                    *index,
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    None,
                ));
                continue;
            };
            let Some(p) = t.partitions.iter().find(|p| p.index == *index) else {
                results.push((
                    topic.clone(),
                    *index,
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    None,
                ));
                continue;
            };
            let original: Vec<i32> = p
                .replicas
                .iter()
                .copied()
                .filter(|r| !p.adding.contains(r))
                .collect();
            let target = match target {
                None if p.adding.is_empty() && p.removing.is_empty() => {
                    results.push((
                        topic.clone(),
                        *index,
                        ErrorCode::NO_REASSIGNMENT_IN_PROGRESS,
                        None,
                    ));
                    continue;
                }
                None => original.clone(),
                // The partition's own replicas, with nothing under way: nothing to do (as
                // Kafka, whatever brokers are registered: a single node registers none).
                Some(target)
                    if *target == original && p.adding.is_empty() && p.removing.is_empty() =>
                {
                    results.push((topic.clone(), *index, ErrorCode::NONE, None));
                    continue;
                }
                Some(target) => {
                    let mut seen = target.clone();
                    seen.sort_unstable();
                    seen.dedup();
                    if target.is_empty() || seen.len() != target.len() {
                        results.push((
                            topic.clone(),
                            *index,
                            ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                            Some(format!("{target:?} is empty or names a broker twice")),
                        ));
                        continue;
                    }
                    if let Some(b) = target.iter().find(|b| !image.brokers.contains_key(b)) {
                        results.push((
                            topic.clone(),
                            *index,
                            ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                            Some(format!("broker {b} is not registered")),
                        ));
                        continue;
                    }
                    target.clone()
                }
            };
            let adding: Vec<i32> = target
                .iter()
                .copied()
                .filter(|r| !original.contains(r))
                .collect();
            let removing: Vec<i32> = original
                .iter()
                .copied()
                .filter(|r| !target.contains(r))
                .collect();
            if adding.is_empty() {
                // Nothing to catch up: the target replicas at once.
                match Self::finish_reassignment(&image, t, p, &target) {
                    Some(r) => {
                        records.push(r);
                        results.push((topic.clone(), *index, ErrorCode::NONE, None));
                    }
                    None => results.push((
                        topic.clone(),
                        *index,
                        ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                        Some("no replica of the target is in sync".into()),
                    )),
                }
                continue;
            }
            let mut replicas = target.clone();
            replicas.extend(original.iter().copied().filter(|r| !target.contains(r)));
            records.push(encode_record(&PartitionChangeRecord {
                partition_id: p.index,
                topic_id: t.id,
                leader: super::image::NO_LEADER_CHANGE,
                replicas: Some(replicas),
                adding_replicas: Some(adding),
                removing_replicas: Some(removing),
                ..Default::default()
            }));
            results.push((topic.clone(), *index, ErrorCode::NONE, None));
        }
        if !records.is_empty() {
            self.commit(&records)?;
        }
        Ok(results)
    }

    /// The record ending a reassignment at `target`: replicas = target, the ISR kept to
    /// it, the leader kept when it stays (its epoch bumped, as a replica left) or the first
    /// eligible in-sync replica of the target. `None` when no target replica is in sync.
    fn finish_reassignment(
        image: &super::Image,
        t: &TopicMeta,
        p: &super::image::PartitionMeta,
        target: &[i32],
    ) -> Option<Vec<u8>> {
        let isr: Vec<i32> = p
            .isr
            .iter()
            .copied()
            .filter(|r| target.contains(r))
            .collect();
        if isr.is_empty() {
            return None;
        }
        let leader = if target.contains(&p.leader) {
            p.leader
        } else {
            target
                .iter()
                .copied()
                .find(|r| isr.contains(r) && eligible(image, *r))
                .unwrap_or(NO_LEADER)
        };
        let removed = p.replicas.iter().any(|r| !target.contains(r));
        Some(encode_record(&PartitionChangeRecord {
            partition_id: p.index,
            topic_id: t.id,
            leader: if leader == p.leader && !removed {
                super::image::NO_LEADER_CHANGE
            } else {
                leader
            },
            isr: Some(isr),
            replicas: Some(target.to_vec()),
            adding_replicas: Some(Vec::new()),
            removing_replicas: Some(Vec::new()),
            ..Default::default()
        }))
    }

    /// Whether a reassignment is under way somewhere (a cheap check before completing).
    pub fn has_reassignments(&self) -> bool {
        self.read()
            .topics
            .values()
            .any(|t| t.partitions.iter().any(|p| !p.adding.is_empty()))
    }

    /// Partitions with a reassignment under way: `(topic, index, replicas, adding,
    /// removing)`.
    pub fn reassignments(&self) -> Vec<Reassignment> {
        self.read()
            .topics
            .values()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .filter(|p| !p.adding.is_empty() || !p.removing.is_empty())
                    .map(|p| {
                        (
                            t.name.clone(),
                            p.index,
                            p.replicas.clone(),
                            p.adding.clone(),
                            p.removing.clone(),
                        )
                    })
            })
            .collect()
    }

    /// Completes the reassignments whose new replicas all joined the ISR.
    pub fn complete_reassignments(&self) -> Result<usize, ErrorCode> {
        let _w = self.lock_writes();
        let image = self.read().clone();
        let mut records = Vec::new();
        for t in image.topics.values() {
            for p in &t.partitions {
                if p.adding.is_empty() || !p.adding.iter().all(|r| p.isr.contains(r)) {
                    continue;
                }
                let target: Vec<i32> = p
                    .replicas
                    .iter()
                    .copied()
                    .filter(|r| !p.removing.contains(r))
                    .collect();
                if let Some(r) = Self::finish_reassignment(&image, t, p, &target) {
                    tracing::info!(topic = %t.name, partition = p.index, replicas = ?target, "reassignment complete");
                    records.push(r);
                }
            }
        }
        if !records.is_empty() {
            self.commit(&records)?;
        }
        Ok(records.len())
    }

    /// Brokers whose share of non-preferred leaderships is above `imbalance_percent`
    /// (Kafka's `leader.imbalance.per.broker.percentage`): the partitions whose preferred
    /// leader is such a broker, to elect (auto leader rebalance).
    pub fn imbalanced_partitions(&self, imbalance_percent: u32) -> Vec<(String, i32)> {
        let image = self.read().clone();
        let mut preferred: std::collections::BTreeMap<i32, Vec<(String, i32, bool)>> =
            Default::default();
        for t in image.topics.values() {
            for p in &t.partitions {
                if let Some(first) = p.replicas.first() {
                    preferred.entry(*first).or_default().push((
                        t.name.clone(),
                        p.index,
                        p.leader == *first,
                    ));
                }
            }
        }
        let mut out = Vec::new();
        for (broker, parts) in preferred {
            if !eligible(&image, broker) {
                continue;
            }
            let not_led = parts.iter().filter(|p| !p.2).count();
            if not_led * 100 > parts.len() * imbalance_percent as usize {
                out.extend(parts.into_iter().filter(|p| !p.2).map(|(t, i, _)| (t, i)));
            }
        }
        out
    }

    /// AlterPartition from a partition's leader: a compare-and-set of the ISR on the leader
    /// epoch and partition epoch. A replica may join only while it is eligible. Returns the
    /// partition's state after the change.
    #[allow(clippy::too_many_arguments)]
    pub fn alter_partition(
        &self,
        broker: i32,
        broker_epoch: i64,
        topic_id: Uuid,
        partition: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        new_isr: &[i32],
    ) -> Result<PartitionState, ErrorCode> {
        let _w = self.lock_writes();
        let image = self.read().clone();
        match image.brokers.get(&broker) {
            Some(b) if broker_epoch < 0 || b.epoch == broker_epoch => {}
            _ => return Err(ErrorCode::STALE_BROKER_EPOCH),
        }
        let Some(t) = image.topics.values().find(|t| t.id == topic_id) else {
            return Err(ErrorCode::UNKNOWN_TOPIC_ID);
        };
        let Some(p) = t.partitions.iter().find(|p| p.index == partition) else {
            return Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        };
        let state = |p: &super::image::PartitionMeta| PartitionState {
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            isr: p.isr.clone(),
        };
        if p.leader != broker {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        if leader_epoch != p.leader_epoch {
            return Err(ErrorCode::FENCED_LEADER_EPOCH);
        }
        if partition_epoch != p.partition_epoch {
            return Err(ErrorCode::INVALID_UPDATE_VERSION);
        }
        if !new_isr.contains(&broker) || new_isr.iter().any(|r| !p.replicas.contains(r)) {
            return Err(ErrorCode::INVALID_REQUEST);
        }
        if new_isr
            .iter()
            .any(|r| !p.isr.contains(r) && !eligible(&image, *r))
        {
            return Err(ErrorCode::INELIGIBLE_REPLICA);
        }
        let mut isr = new_isr.to_vec();
        isr.sort_by_key(|r| p.replicas.iter().position(|x| x == r));
        isr.dedup();
        if isr == p.isr {
            return Ok(state(p));
        }
        let record = encode_record(&PartitionChangeRecord {
            partition_id: partition,
            topic_id,
            leader: super::image::NO_LEADER_CHANGE,
            isr: Some(isr),
            ..Default::default()
        });
        self.commit(&[record])?;
        let after = self.read();
        after
            .topics
            .values()
            .find(|t| t.id == topic_id)
            .and_then(|t| t.partitions.iter().find(|p| p.index == partition))
            .map(state)
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
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
                } else if p.leader == NO_LEADER
                    && p.replicas.contains(&broker)
                    && unclean_allowed(&image, t)
                    && !p.isr.iter().any(|r| eligible(&image, *r))
                {
                    tracing::warn!(topic = %t.name, partition = p.index, leader = broker, "unclean leader election: records the ISR had and this replica lacks are lost");
                    records.push(encode_record(&PartitionChangeRecord {
                        partition_id: p.index,
                        topic_id: t.id,
                        leader: broker,
                        isr: Some(vec![broker]),
                        ..Default::default()
                    }));
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
        // Released once it leads nothing another in-sync replica could take over (a
        // partition whose only in-sync replica is this broker goes offline with it).
        let image = self.read();
        let movable = image.topics.values().any(|t| {
            t.partitions.iter().any(|p| {
                p.leader == broker && p.isr.iter().any(|r| *r != broker && eligible(&image, *r))
            })
        });
        Ok(!movable)
    }
}
