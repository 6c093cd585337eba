//! Kafka's `ReplicaManager.applyDelta`: what committed metadata means for this broker's
//! partitions. A topic's partitions placed here get their logs (created or opened) and their
//! leader, epochs, replicas and ISR from the metadata, which sets each partition's role;
//! replicas reassigned away and removed topics lose their logs; after the image was replaced
//! (a snapshot) partitions it no longer places here go. The role changes come back to the
//! broker, which starts or stops coordinating what a partition holds.
//!
//! Must not: decide a topic's config (the broker hands it in) or know about coordinators.

use super::partition::Role;
use super::replica_manager::ReplicaManager;
use crate::log::unified_log::LogError;
use crate::log::LogConfig;
use crate::metadata::{Image, TopicMeta, METADATA_TOPIC};

/// One partition's role before and after a metadata change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChange {
    pub topic: String,
    pub index: i32,
    pub before: Role,
    pub after: Role,
}

impl ReplicaManager {
    /// Brings `topic`'s partitions on this broker in line with the metadata; `cluster`: a
    /// replica reassigned to other brokers is deleted. The partitions whose role changed.
    /// Blocking.
    pub fn apply_topic(
        &self,
        topic: &TopicMeta,
        config: &LogConfig,
        cluster: bool,
    ) -> Result<Vec<RoleChange>, (i32, LogError)> {
        let local = self.context().node_id;
        let mut changes = Vec::new();
        for p in &topic.partitions {
            if !p.replicas.contains(&local) {
                if cluster && self.get(&topic.name, p.index).is_some() {
                    tracing::info!(topic = %topic.name, partition = p.index, "deleting a replica reassigned to other brokers");
                    if let Err(e) = self.remove_partition(&topic.name, p.index) {
                        tracing::error!(error = %e, "deleting the partition log failed");
                    }
                }
                continue;
            }
            self.create_partition(
                &topic.name,
                p.index,
                topic.id,
                config.clone(),
                p.leader_epoch,
            )
            .map_err(|e| (p.index, e))?;
            let moved = self.apply_partition_metadata(
                &topic.name,
                p.index,
                local,
                p.leader,
                p.leader_epoch,
                p.partition_epoch,
                &p.replicas,
                &p.isr,
                crate::time::now_ms(),
            );
            if let Some((before, after)) = moved.filter(|(b, a)| b != a) {
                changes.push(RoleChange {
                    topic: topic.name.clone(),
                    index: p.index,
                    before,
                    after,
                });
            }
        }
        Ok(changes)
    }

    /// A removed topic: its partitions' logs go. Blocking.
    pub fn remove_topic(&self, topic: &TopicMeta) {
        for p in &topic.partitions {
            if let Err(e) = self.remove_partition(&topic.name, p.index) {
                tracing::error!(topic = %topic.name, partition = p.index, error = %e, "deleting the partition log failed");
            }
        }
    }

    /// After the image was replaced (and its topics applied): deletes the logs of partitions
    /// the image no longer places on this broker. Blocking.
    pub fn remove_unplaced(&self, image: &Image) {
        let local = self.context().node_id;
        for (topic, index) in self.local_partitions() {
            if topic == METADATA_TOPIC {
                continue;
            }
            let mine = image.topics.get(&topic).is_some_and(|t| {
                t.partitions
                    .iter()
                    .any(|p| p.index == index && p.replicas.contains(&local))
            });
            if !mine {
                tracing::info!(%topic, partition = index, "deleting a partition the metadata no longer places here");
                if let Err(e) = self.remove_partition(&topic, index) {
                    tracing::error!(error = %e, "deleting the partition log failed");
                }
            }
        }
    }
}
