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
use crate::log::unified_log::LogError;
use crate::log::{checkpoint, AppendError, AppendInfo, LogConfig};
use crate::protocol::{ErrorCode, Uuid};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

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
