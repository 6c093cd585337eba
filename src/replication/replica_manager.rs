//! `ReplicaManager`: every partition of this broker and the only way to write or read one.
//!
//! Owns the partitions map and the log manager behind it (so no caller reaches a segment
//! file): creating and removing partitions as the metadata says, leader appends and follower
//! appends, reads with a fetch isolation, offsets by timestamp and by leader epoch,
//! DeleteRecords, truncation, and the periodic work on the logs (flush, retention, checkpoints
//! including `replication-offset-checkpoint` with each partition's high watermark, compaction,
//! idle producer expiry). Blocking methods do file I/O: callers run them off the async workers.
//!
//! Must not: parse requests or decide which partitions exist (the metadata does).

use super::partition::{Partition, ReadResult};
use super::purgatory::DelayedOperation;
use crate::log::cleaner::CleanerMemory;
use crate::log::dir_health::FailureHandler;
use crate::log::manager::{LogManager, TopicPartition};
use crate::log::producer_state::ProducerEntry;
use crate::log::unified_log::LogError;
use crate::log::{checkpoint, AppendError, AppendInfo, LogConfig};
use crate::protocol::{ErrorCode, Uuid};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// Kafka's checkpoint of each partition's high watermark, one per log dir.
pub const HIGH_WATERMARK_FILE: &str = "replication-offset-checkpoint";

/// One partition's read of a fetch.
#[derive(Debug, Clone, Copy)]
pub struct ReadSpec {
    pub offset: i64,
    pub max_bytes: u64,
    pub isolation: FetchIsolation,
    /// KIP-74: return at least one whole batch even above `max_bytes`.
    pub min_one_batch: bool,
    /// The reader's view of the leader epoch (-1: unknown).
    pub current_leader_epoch: i32,
}

/// How far a fetch may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchIsolation {
    /// Followers read up to the log end.
    LogEnd,
    /// Consumers read up to the high watermark.
    HighWatermark,
}

#[derive(Debug)]
pub struct ReplicaManager {
    logs: Arc<LogManager>,
    partitions: RwLock<HashMap<TopicPartition, Arc<Partition>>>,
}

fn unknown(topic: &str, index: i32) -> AppendError {
    AppendError {
        code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        message: format!("{topic}-{index} does not exist"),
    }
}

impl ReplicaManager {
    pub fn new(logs: Arc<LogManager>) -> ReplicaManager {
        ReplicaManager {
            logs,
            partitions: RwLock::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::RwLockReadGuard<'_, HashMap<TopicPartition, Arc<Partition>>> {
        self.partitions.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        self.map().get(&(topic.to_string(), index)).cloned()
    }

    /// Every partition this node holds, as (topic, index).
    pub fn local_partitions(&self) -> Vec<TopicPartition> {
        self.map().keys().cloned().collect()
    }

    /// The partitions of `topic`, by index.
    pub fn partitions_of(&self, topic: &str) -> Vec<Arc<Partition>> {
        let mut out: Vec<Arc<Partition>> = self
            .map()
            .values()
            .filter(|p| p.topic == topic)
            .cloned()
            .collect();
        out.sort_by_key(|p| p.index);
        out
    }

    /// Opens (or creates) the log of a partition the metadata names, and the partition
    /// over it. Blocking.
    pub fn create_partition(
        &self,
        topic: &str,
        index: i32,
        topic_id: Uuid,
        config: LogConfig,
        leader_epoch: i32,
    ) -> Result<Arc<Partition>, LogError> {
        if let Some(p) = self.get(topic, index) {
            return Ok(p);
        }
        let log = self
            .logs
            .get_or_create(topic, index, config, &topic_id.to_string())?;
        let partition = Arc::new(Partition::new(topic, index, topic_id, log, leader_epoch));
        let mut map = self.partitions.write().unwrap_or_else(|e| e.into_inner());
        Ok(map
            .entry((topic.to_string(), index))
            .or_insert(partition)
            .clone())
    }

    /// Removes a partition and deletes its log (the topic was deleted). Blocking.
    pub fn remove_partition(&self, topic: &str, index: i32) -> io::Result<()> {
        self.partitions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(topic.to_string(), index));
        self.logs.delete(topic, index)
    }

    /// Sets aside every log on disk whose partition `known` does not accept (its metadata is
    /// gone): renamed `-stray`, never deleted. Returns the new paths. Blocking.
    pub fn set_aside_unknown(
        &self,
        known: impl Fn(&str, i32) -> bool,
    ) -> io::Result<Vec<(TopicPartition, PathBuf)>> {
        let mut out = Vec::new();
        for (topic, index) in self.logs.partitions() {
            if known(&topic, index) || self.get(&topic, index).is_some() {
                continue;
            }
            if let Some(path) = self.logs.set_aside_stray(&topic, index)? {
                out.push(((topic, index), path));
            }
        }
        Ok(out)
    }

    /// Appends as the leader (see [`Partition::append_records`]). Blocking.
    pub fn append_records(
        &self,
        topic: &str,
        index: i32,
        records: &Bytes,
        required_acks: i16,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        let partition = self
            .get(topic, index)
            .ok_or_else(|| unknown(topic, index))?;
        partition.append_records(records, required_acks, now_ms)
    }

    /// The acks=all wait, a delayed operation like a long-polling fetch: until the high
    /// watermark of every `(topic, index, end offset)` reaches its end offset or `deadline`
    /// passes. Returns, in order, whether each partition's records were replicated in time
    /// (a partition that vanished meanwhile counts as not). Only appends to these partitions
    /// wake the wait. On one node the leader's append already moved the high watermark, so
    /// this answers at once.
    pub async fn await_acks(&self, pending: &[(&str, i32, i64)], deadline: Instant) -> Vec<bool> {
        let partitions: Vec<Option<Arc<Partition>>> = pending
            .iter()
            .map(|(topic, index, _)| self.get(topic, *index))
            .collect();
        let replicated = |i: usize| {
            partitions[i]
                .as_ref()
                .is_some_and(|p| p.high_watermark() >= pending[i].2)
        };
        let operation = DelayedOperation::new();
        operation
            .until(
                deadline,
                |op| partitions.iter().flatten().for_each(|p| p.watch(op)),
                || (0..pending.len()).all(replicated),
            )
            .await;
        (0..pending.len()).map(replicated).collect()
    }

    /// Appends what a leader sent, keeping its offsets and epochs. Blocking.
    pub fn append_as_follower(
        &self,
        topic: &str,
        index: i32,
        records: &Bytes,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        let partition = self
            .get(topic, index)
            .ok_or_else(|| unknown(topic, index))?;
        partition.append_as_follower(records, now_ms)
    }

    /// Removes everything from `offset` on in a partition. Blocking.
    pub fn truncate_to(&self, topic: &str, index: i32, offset: i64) -> io::Result<()> {
        let partition = self
            .get(topic, index)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{topic}-{index}")))?;
        partition.truncate_to(offset)
    }

    /// Whole batches as `spec` asks; `operation` (a waiting fetch) is registered to be woken
    /// when the partition grows, before the read, so no append is missed. Blocking (it may
    /// open a segment).
    pub fn read(
        &self,
        topic: &str,
        index: i32,
        spec: &ReadSpec,
        operation: Option<&DelayedOperation>,
    ) -> Result<ReadResult, ErrorCode> {
        let partition = self.partition(topic, index)?;
        if let Some(op) = operation {
            partition.watch(op);
        }
        partition.check_epoch(spec.current_leader_epoch)?;
        partition.read(
            spec.offset,
            spec.max_bytes,
            spec.min_one_batch,
            spec.isolation == FetchIsolation::LogEnd,
        )
    }

    fn partition(&self, topic: &str, index: i32) -> Result<Arc<Partition>, ErrorCode> {
        self.get(topic, index)
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    }

    /// ListOffsets: `(offset, timestamp, leader epoch)` for a special (-1 latest, -2
    /// earliest, -3 max timestamp) or real timestamp; `(-1, -1, -1)` when no record matches.
    /// Blocking for lookups by timestamp.
    pub fn list_offset(
        &self,
        topic: &str,
        index: i32,
        timestamp: i64,
        current_leader_epoch: i32,
    ) -> Result<(i64, i64, i32), ErrorCode> {
        let partition = self.partition(topic, index)?;
        partition.check_epoch(current_leader_epoch)?;
        let epoch = partition.leader_epoch();
        Ok(match partition.offset_for(timestamp)? {
            Some((offset, ts)) => (offset, ts, epoch),
            None => (-1, -1, -1),
        })
    }

    /// OffsetForLeaderEpoch: `(epoch, end offset)` of the largest epoch ≤ `leader_epoch`.
    pub fn end_offset_for_epoch(
        &self,
        topic: &str,
        index: i32,
        current_leader_epoch: i32,
        leader_epoch: i32,
    ) -> Result<(i32, i64), ErrorCode> {
        let partition = self.partition(topic, index)?;
        partition.check_epoch(current_leader_epoch)?;
        Ok(partition.end_offset_for_epoch(leader_epoch))
    }

    /// DescribeProducers: `(producer id, its state)` of a partition, by id.
    pub fn active_producers(
        &self,
        topic: &str,
        index: i32,
    ) -> Result<Vec<(i64, ProducerEntry)>, ErrorCode> {
        Ok(self.partition(topic, index)?.active_producers())
    }

    /// DeleteRecords: the new log start. Blocking.
    pub fn delete_records(&self, topic: &str, index: i32, offset: i64) -> Result<i64, ErrorCode> {
        self.partition(topic, index)?.delete_records_before(offset)
    }

    /// Replays every record of a partition (internal topics at start). Blocking.
    pub fn scan_records(
        &self,
        topic: &str,
        index: i32,
        f: impl FnMut(
            &crate::protocol::record_batch::BatchHeader,
            crate::protocol::record_batch::Record,
        ) -> Result<(), String>,
    ) -> Result<(), String> {
        let partition = self
            .partition(topic, index)
            .map_err(|c| format!("{topic}-{index}: {}", c.name()))?;
        partition.scan_records(f)
    }

    /// Applies a topic's changed config to its running logs.
    pub fn set_config(&self, topic: &str, config: &LogConfig) {
        for p in self.partitions_of(topic) {
            p.set_config(config.clone());
        }
    }

    /// Takes a partition's log dir offline after an I/O error seen outside its log (sending
    /// a region of it).
    pub fn storage_failed(&self, topic: &str, index: i32, what: &str) {
        if let Some(p) = self.get(topic, index) {
            p.storage_failed(what);
        }
    }

    /// The high watermark of every partition.
    pub fn high_watermarks(&self) -> BTreeMap<TopicPartition, i64> {
        self.map()
            .iter()
            .map(|(tp, p)| (tp.clone(), p.high_watermark()))
            .collect()
    }

    // ---- The logs' periodic work --------------------------------------------------------

    /// Installs what happens when a log dir fails.
    pub fn on_dir_failure(&self, handler: FailureHandler) {
        self.logs.on_dir_failure(handler);
    }

    pub fn dirs(&self) -> &[PathBuf] {
        self.logs.dirs()
    }

    pub fn online_dirs(&self) -> Vec<PathBuf> {
        self.logs.online_dirs()
    }

    pub fn dir_of(&self, topic: &str, index: i32) -> Option<PathBuf> {
        self.logs.dir_of(topic, index)
    }

    /// Flushes the logs whose `flush.ms` has passed. Blocking.
    pub fn flush_due(&self, now_ms: i64) -> io::Result<()> {
        self.logs.flush_due(now_ms)
    }

    /// Retention on every log, never at or above a partition's high watermark. Blocking.
    pub fn enforce_retention(&self, now_ms: i64) -> io::Result<usize> {
        let hw = |tp: &TopicPartition| self.get(&tp.0, tp.1).map_or(0, |p| p.high_watermark());
        self.logs.enforce_retention(now_ms, &hw)
    }

    /// Compacts the logs that are due. Blocking.
    pub fn compact(&self, now_ms: i64, memory: CleanerMemory) -> io::Result<usize> {
        self.logs.compact(now_ms, memory)
    }

    /// Forgets idle producers in every log.
    pub fn remove_expired_producers(&self, now_ms: i64, expiration_ms: i64) -> usize {
        self.logs.remove_expired_producers(now_ms, expiration_ms)
    }

    /// Writes the recovery-point and log-start checkpoints, and each online dir's
    /// `replication-offset-checkpoint` with its partitions' high watermarks. Blocking.
    pub fn checkpoint(&self) -> io::Result<()> {
        self.logs.checkpoint()?;
        self.write_high_watermarks()
    }

    fn write_high_watermarks(&self) -> io::Result<()> {
        let hws = self.high_watermarks();
        for dir in self.logs.online_dirs() {
            let in_dir: BTreeMap<TopicPartition, i64> = hws
                .iter()
                .filter(|(tp, _)| self.logs.dir_of(&tp.0, tp.1).as_deref() == Some(dir.as_path()))
                .map(|(tp, hw)| (tp.clone(), *hw))
                .collect();
            checkpoint::write_offsets(
                self.logs.fs().as_ref(),
                &dir.join(HIGH_WATERMARK_FILE),
                &in_dir,
            )?;
        }
        Ok(())
    }

    /// Clean shutdown: checkpoints, then every log closed and the clean-shutdown marker
    /// written. Blocking.
    pub fn shutdown(&self) -> io::Result<()> {
        self.write_high_watermarks()?;
        self.logs.shutdown()
    }

    /// The high-watermark checkpoint of `dir` (for tests and tools).
    pub fn read_high_watermarks(&self, dir: &Path) -> BTreeMap<TopicPartition, i64> {
        checkpoint::read_offsets(self.logs.fs().as_ref(), &dir.join(HIGH_WATERMARK_FILE))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::io::OsFs;
    use crate::protocol::record_batch::{set_base_offset, BatchBuilder};
    use crate::protocol::Compression;
    use std::time::Duration;

    fn one_record(value: &[u8]) -> Bytes {
        let mut b = BatchBuilder::new();
        b.append(1, None, Some(value), &[]);
        b.build(Compression::None)
    }

    fn manager(dir: &Path, topics: &[&str]) -> ReplicaManager {
        let (logs, _) = LogManager::open(Arc::new(OsFs), vec![dir.to_path_buf()], &|_| {
            LogConfig::default()
        })
        .unwrap();
        let manager = ReplicaManager::new(Arc::new(logs));
        for topic in topics {
            manager
                .create_partition(topic, 0, Uuid::default(), LogConfig::default(), 0)
                .unwrap();
        }
        manager
    }

    #[test]
    fn acks_all_waits_for_the_high_watermark_and_only_its_partition_wakes_it() {
        let dir = tempfile::tempdir().unwrap();
        let replicas = Arc::new(manager(dir.path(), &["a", "b"]));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            // A leader append moves the high watermark itself: the wait answers at once.
            let info = replicas
                .append_records("a", 0, &one_record(b"x"), -1, 1)
                .unwrap();
            let soon = Instant::now() + Duration::from_millis(1);
            assert_eq!(
                replicas
                    .await_acks(&[("a", 0, info.last_offset + 1)], soon)
                    .await,
                [true]
            );

            // Records past the high watermark (a follower's view; as a leader, what the other
            // replicas have not fetched yet): the wait runs to its deadline...
            let mut batch = one_record(b"y").to_vec();
            set_base_offset(&mut batch, 1);
            replicas
                .append_as_follower("a", 0, &Bytes::from(batch), 2)
                .unwrap();
            let short = Instant::now() + Duration::from_millis(30);
            assert_eq!(replicas.await_acks(&[("a", 0, 2)], short).await, [false]);

            // ...and waiting on two partitions, an append to one does not end it: it ends when
            // the high watermark of the other reaches its records too.
            let a = replicas.get("a", 0).unwrap();
            let r = replicas.clone();
            let started = Instant::now();
            let other_then_own = async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                r.append_records("b", 0, &one_record(b"z"), -1, 3).unwrap();
                tokio::time::sleep(Duration::from_millis(200)).await;
                a.advance_high_watermark(2);
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            let (acked, ()) = tokio::join!(
                replicas.await_acks(&[("a", 0, 2), ("b", 0, 1)], deadline),
                other_then_own
            );
            assert_eq!(acked, [true, true]);
            assert!(started.elapsed() >= Duration::from_millis(220));

            // A partition that does not exist never counts as replicated.
            let short = Instant::now() + Duration::from_millis(10);
            assert_eq!(replicas.await_acks(&[("gone", 0, 1)], short).await, [false]);
        });
    }
}
