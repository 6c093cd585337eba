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

use super::partition::{IsrChange, Partition, Role};
use crate::log::cleaner::CleanerMemory;
use crate::log::dir_health::FailureHandler;
use crate::log::manager::{LogManager, TopicPartition};
use crate::log::producer_state::ProducerEntry;
use crate::log::unified_log::LogError;
use crate::log::{checkpoint, AppendError, AppendInfo, LogConfig};
use crate::metadata::MetadataStore;
use crate::protocol::{ErrorCode, Uuid};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
#[cfg(test)]
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

/// What the request paths need besides the partitions, given by the broker at start.
#[derive(Debug, Clone)]
pub struct ReplicaContext {
    /// This broker's id.
    pub node_id: i32,
    /// The cluster metadata: whether a partition exists, the throttle configs, the
    /// brokers' racks.
    pub metadata: Option<Arc<MetadataStore>>,
    /// Set when the broker stops: waiting produces and fetches answer at once.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
    /// `queued.max.requests`: each fetch read pass holds one.
    pub read_slots: Option<Arc<tokio::sync::Semaphore>>,
    /// `fetch.max.bytes`.
    pub fetch_max_bytes: usize,
    /// `broker.rack`.
    pub rack: Option<String>,
    /// `replica.selector.class` is Kafka's `RackAwareReplicaSelector` (KIP-392).
    pub rack_aware_selector: bool,
    /// The config file's values, for throttle rates no dynamic config sets.
    pub file_configs: BTreeMap<String, String>,
}

impl Default for ReplicaContext {
    fn default() -> Self {
        ReplicaContext {
            node_id: -1,
            metadata: None,
            stop: None,
            read_slots: None,
            fetch_max_bytes: 57_671_680,
            rack: None,
            rack_aware_selector: false,
            file_configs: BTreeMap::new(),
        }
    }
}

#[derive(Debug)]
pub struct ReplicaManager {
    logs: Arc<LogManager>,
    context: ReplicaContext,
    /// `leader.replication.throttled.rate`: bytes sent to throttled followers.
    pub(in crate::replication) leader_throttle: super::throttle::Throttle,
    partitions: RwLock<HashMap<TopicPartition, Arc<Partition>>>,
    /// High watermarks checkpointed before this start, taken by each replicated
    /// partition the first time the metadata describes it.
    checkpointed_hws: std::sync::Mutex<BTreeMap<TopicPartition, i64>>,
    /// Where leaders' ISR changes go (the broker sends them to the controller).
    isr_changes: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<IsrChange>>>,
}

/// What a follower fetches next for one partition.
#[derive(Debug, Clone)]
pub struct FollowerFetchState {
    pub topic: String,
    pub index: i32,
    pub topic_id: Uuid,
    pub leader_epoch: i32,
    pub log_end_offset: i64,
    pub log_start_offset: i64,
    /// The epoch of the last batch in the log (-1: empty).
    pub last_fetched_epoch: i32,
}

fn unknown(topic: &str, index: i32) -> AppendError {
    AppendError {
        code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        message: format!("{topic}-{index} does not exist"),
    }
}

impl ReplicaManager {
    pub fn new(logs: Arc<LogManager>) -> ReplicaManager {
        ReplicaManager::with_context(logs, ReplicaContext::default())
    }

    /// The manager of a running broker's partitions.
    pub fn with_context(logs: Arc<LogManager>, context: ReplicaContext) -> ReplicaManager {
        let mut checkpointed = BTreeMap::new();
        for dir in logs.dirs() {
            if let Ok(hws) =
                checkpoint::read_offsets(logs.fs().as_ref(), &dir.join(HIGH_WATERMARK_FILE))
            {
                checkpointed.extend(hws);
            }
        }
        ReplicaManager {
            logs,
            context,
            leader_throttle: Default::default(),
            partitions: RwLock::new(HashMap::new()),
            checkpointed_hws: std::sync::Mutex::new(checkpointed),
            isr_changes: std::sync::Mutex::new(None),
        }
    }

    pub(in crate::replication) fn context(&self) -> &ReplicaContext {
        &self.context
    }

    /// Whether the broker is stopping.
    pub fn is_stopping(&self) -> bool {
        self.context.stop.as_ref().is_some_and(|s| *s.borrow())
    }

    /// Completes once the broker stops (never without a stop signal).
    pub(in crate::replication) async fn stopped(&self) {
        match &self.context.stop {
            Some(stop) => {
                let _ = stop.clone().wait_for(|s| *s).await;
            }
            None => std::future::pending().await,
        }
    }

    /// The partition, when this broker leads it: the one leadership check of produce,
    /// fetch, ListOffsets, OffsetForLeaderEpoch, DeleteRecords and the coordinators, as
    /// Kafka's `getPartitionOrError`. The partition's role (set from the metadata) decides;
    /// a partition this broker holds no replica of is NOT_LEADER_OR_FOLLOWER when the
    /// metadata knows it and UNKNOWN_TOPIC_OR_PARTITION otherwise.
    pub fn leader_partition(&self, topic: &str, index: i32) -> Result<Arc<Partition>, ErrorCode> {
        match self.get(topic, index) {
            Some(p) if p.is_leader() => Ok(p),
            Some(_) => Err(ErrorCode::NOT_LEADER_OR_FOLLOWER),
            None if self
                .context
                .metadata
                .as_ref()
                .is_some_and(|m| m.partition_leader(topic, index).is_some()) =>
            {
                Err(ErrorCode::NOT_LEADER_OR_FOLLOWER)
            }
            None => Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        }
    }

    /// A replication throttle rate in bytes/s (`leader.replication.throttled.rate`,
    /// `follower.replication.throttled.rate`, `replica.alter.log.dirs.io.max.bytes.per.second`):
    /// the dynamic broker config, else the file's, else none.
    pub fn throttle_rate(&self, key: &str) -> Option<u64> {
        self.context
            .metadata
            .as_ref()
            .and_then(|m| m.effective_broker_configs(self.context.node_id).remove(key))
            .or_else(|| self.context.file_configs.get(key).cloned())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|r| *r < i64::MAX as u64)
    }

    /// Whether `topic`'s `key` (a `*.replication.throttled.replicas` config) names
    /// `partition` on `replica`.
    pub fn is_throttled_replica(
        &self,
        key: &str,
        topic: &str,
        partition: i32,
        replica: i32,
    ) -> bool {
        self.context
            .metadata
            .as_ref()
            .and_then(|m| m.topic(topic))
            .is_some_and(|t| {
                super::throttle::is_throttled(
                    t.configs.get(key).map(String::as_str),
                    partition,
                    replica,
                )
            })
    }

    /// Sends leaders' ISR changes to `tx` from now on.
    pub fn set_isr_change_sender(&self, tx: tokio::sync::mpsc::UnboundedSender<IsrChange>) {
        *self.isr_changes.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    }

    fn send_isr_change(&self, change: IsrChange) {
        let tx = self
            .isr_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match tx {
            Some(tx) if tx.send(change.clone()).is_ok() => {}
            // Nobody to send it to (a single node): drop the pending change.
            _ => self.isr_change_done(&change, Err(ErrorCode::NOT_CONTROLLER)),
        }
    }

    /// Applies the metadata's leader, epochs, replicas and ISR of a partition this broker
    /// holds (see [`Partition::apply_metadata`]); its role before and after. Blocking.
    #[allow(clippy::too_many_arguments)]
    pub fn apply_partition_metadata(
        &self,
        topic: &str,
        index: i32,
        local: i32,
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        replicas: &[i32],
        isr: &[i32],
        now_ms: i64,
    ) -> Option<(Role, Role)> {
        let p = self.get(topic, index)?;
        let before = p.role();
        let was_unset = p.role_is_unset();
        if replicas.len() > 1 {
            let initial = self
                .checkpointed_hws
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&(topic.to_string(), index));
            if p.role_is_unset() {
                p.set_initial_high_watermark(initial.unwrap_or(0));
            }
        }
        p.apply_metadata(
            local,
            leader,
            leader_epoch,
            partition_epoch,
            replicas,
            isr,
            now_ms,
        );
        // A partition seen for the first time had no role before.
        let before = if was_unset { Role::Leaderless } else { before };
        Some((before, p.role()))
    }

    /// A follower's fetch of `topic`-`index` reached this leader (see
    /// [`Partition::follower_fetched`]); an ISR expansion it triggers goes to the controller.
    pub fn follower_fetched(
        &self,
        topic: &str,
        index: i32,
        replica: i32,
        fetch_offset: i64,
        leader_end: i64,
        now_ms: i64,
    ) {
        if let Some(change) = self
            .get(topic, index)
            .and_then(|p| p.follower_fetched(replica, fetch_offset, leader_end, now_ms))
        {
            self.send_isr_change(change);
        }
    }

    /// The leaders' periodic ISR check: followers lagging more than `lag_max_ms` leave.
    pub fn shrink_isrs(&self, now_ms: i64, lag_max_ms: i64) {
        let partitions: Vec<Arc<Partition>> = self.map().values().cloned().collect();
        for p in partitions {
            if let Some(change) = p.isr_shrink(now_ms, lag_max_ms) {
                tracing::info!(topic = %p.topic, partition = p.index, isr = ?change.new_isr, "shrinking the ISR");
                self.send_isr_change(change);
            }
        }
    }

    /// The controller answered an ISR change: `(leader epoch, partition epoch, ISR)`.
    pub fn isr_change_done(
        &self,
        change: &IsrChange,
        result: Result<(i32, i32, Vec<i32>), ErrorCode>,
    ) {
        if let Some(p) = self.get(&change.topic, change.index) {
            p.isr_change_done(change, result);
        }
    }

    /// The partitions this broker follows, by leader, with where each fetch starts.
    pub fn follower_fetch_states(&self) -> BTreeMap<i32, Vec<FollowerFetchState>> {
        let partitions: Vec<Arc<Partition>> = self.map().values().cloned().collect();
        let mut out: BTreeMap<i32, Vec<FollowerFetchState>> = BTreeMap::new();
        for p in partitions {
            if let Role::Follower { leader } = p.role() {
                let (log_start_offset, log_end_offset, last_fetched_epoch) = p.fetch_position();
                out.entry(leader).or_default().push(FollowerFetchState {
                    topic: p.topic.clone(),
                    index: p.index,
                    topic_id: p.topic_id,
                    leader_epoch: p.leader_epoch(),
                    log_end_offset,
                    log_start_offset,
                    last_fetched_epoch,
                });
            }
        }
        out
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

    /// Appends as the leader (see [`Partition::append_records`]); the request path goes
    /// through [`ReplicaManager::append`]. Blocking.
    #[cfg(test)]
    pub(crate) fn append_records(
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
        partition.append_records(records, required_acks, now_ms, crate::log::AppendRules::ANY)
    }

    /// The acks=all wait of [`ReplicaManager::append`] for `(topic, index, leader epoch of
    /// the append, end offset)` entries (a partition that is gone counts as not replicated).
    #[cfg(test)]
    pub(crate) async fn await_acks(
        &self,
        pending: &[(&str, i32, i32, i64)],
        deadline: Instant,
    ) -> Vec<Result<(), ErrorCode>> {
        let present: Vec<(usize, Arc<Partition>, i32, i64)> = pending
            .iter()
            .enumerate()
            .filter_map(|(i, (topic, index, epoch, end))| {
                self.get(topic, *index).map(|p| (i, p, *epoch, *end))
            })
            .collect();
        let mut out = vec![Err(ErrorCode::NOT_LEADER_OR_FOLLOWER); pending.len()];
        for (entry, outcome) in present
            .iter()
            .zip(self.await_replication(&present, deadline).await)
        {
            out[entry.0] = outcome;
        }
        out
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

    /// A follower's log diverged from its leader's at `epoch`, which the leader ends at
    /// `end_offset`: truncates to where both agree — the smaller of the leader's end and this
    /// log's own end for that epoch — never blindly to the high watermark. An epoch the
    /// leader no longer knows (`epoch` -1) truncates to the leader's log start. Blocking.
    pub fn truncate_diverged(
        &self,
        topic: &str,
        index: i32,
        epoch: i32,
        end_offset: i64,
        leader_log_start: i64,
    ) -> io::Result<()> {
        let partition = self
            .get(topic, index)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{topic}-{index}")))?;
        let target = if epoch < 0 {
            end_offset.max(leader_log_start).max(0)
        } else {
            let (own_epoch, own_end) = partition.end_offset_for_epoch(epoch);
            if own_epoch < 0 {
                end_offset.min(leader_log_start.max(0))
            } else {
                end_offset.min(own_end)
            }
        };
        let leo = partition.log_end_offset();
        if target < leo {
            tracing::info!(%topic, partition = index, from = leo, to = target, epoch, "truncating a diverged replica");
        } else {
            // Nothing to cut from the log; an epoch this replica began as leader without
            // writing in it leaves the epoch cache (else the leader answers the same
            // divergence forever).
            tracing::debug!(%topic, partition = index, at = leo, epoch, "a diverging epoch at the log end: truncating the epoch cache only");
        }
        partition.truncate_to(target)?;
        Ok(())
    }

    /// The leader's log starts past this follower's log end: the log restarts there empty.
    /// Blocking.
    pub fn restart_follower_at(&self, topic: &str, index: i32, offset: i64) -> io::Result<()> {
        let partition = self
            .get(topic, index)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{topic}-{index}")))?;
        partition.restart_at(offset)
    }

    /// After a fetch: the follower's high watermark follows the leader's, and its log start
    /// follows the leader's (DeleteRecords, retention). Blocking.
    pub fn follow_leader(&self, topic: &str, index: i32, high_watermark: i64, log_start: i64) {
        let Some(partition) = self.get(topic, index) else {
            return;
        };
        partition.follow_high_watermark(high_watermark);
        if log_start > partition.log_start_offset() {
            let target = log_start.min(partition.high_watermark());
            if target > partition.log_start_offset() {
                let _ = partition.delete_records_before(target);
            }
        }
    }

    /// Removes everything from `offset` on in a partition. Blocking.
    pub fn truncate_to(&self, topic: &str, index: i32, offset: i64) -> io::Result<()> {
        let partition = self
            .get(topic, index)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{topic}-{index}")))?;
        partition.truncate_to(offset)
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
        only_from_leader: bool,
    ) -> Result<(i64, i64, i32), ErrorCode> {
        let partition = self.partition(topic, index)?;
        partition.check_epoch(current_leader_epoch)?;
        let epoch = partition.leader_epoch();
        Ok(match partition.offset_for(timestamp, only_from_leader)? {
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

    /// AlterReplicaLogDirs for one replica: starts moving it to the log dir `path` (or
    /// notes the dir for a replica not created here yet), as Kafka answers it: NONE,
    /// LOG_DIR_NOT_FOUND, KAFKA_STORAGE_ERROR or REPLICA_NOT_AVAILABLE. Blocking.
    pub fn alter_log_dir(&self, topic: &str, index: i32, path: &Path) -> ErrorCode {
        use crate::log::replica_move::MoveError;
        match self.logs.start_move(topic, index, path) {
            Ok(_) => ErrorCode::NONE,
            Err(MoveError::NotALogDir) => ErrorCode::LOG_DIR_NOT_FOUND,
            Err(MoveError::Offline) => ErrorCode::KAFKA_STORAGE_ERROR,
            Err(MoveError::NoReplica) => ErrorCode::REPLICA_NOT_AVAILABLE,
            Err(MoveError::Io(e)) => {
                tracing::error!(topic, partition = index, error = %e, "cannot start moving a replica between log dirs");
                ErrorCode::KAFKA_STORAGE_ERROR
            }
        }
    }

    /// The partitions being moved between log dirs.
    pub fn log_dir_moves(&self) -> Vec<TopicPartition> {
        self.logs.moves()
    }

    /// Copies up to `max_bytes` of a moving replica (see `LogManager::move_step`). Blocking.
    pub fn log_dir_move_step(
        &self,
        topic: &str,
        index: i32,
        max_bytes: u64,
    ) -> Result<crate::log::replica_move::MoveProgress, crate::log::unified_log::LogError> {
        self.logs.move_step(topic, index, max_bytes)
    }

    /// The future replicas of moves under way. Blocking.
    pub fn future_replicas(&self) -> Vec<crate::log::replica_move::FutureInfo> {
        self.logs.future_replicas()
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

    /// Writes the recovery-point and log-start checkpoints. Blocking.
    pub fn checkpoint(&self) -> io::Result<()> {
        self.logs.checkpoint()
    }

    /// Writes each online dir's `replication-offset-checkpoint` with its partitions' high
    /// watermarks (every `replica.high.watermark.checkpoint.interval.ms`). Blocking.
    pub fn write_high_watermarks(&self) -> io::Result<()> {
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
                    .await_acks(&[("a", 0, info.leader_epoch, info.last_offset + 1)], soon)
                    .await,
                [Ok(())]
            );

            // Records past the high watermark (a follower's view; as a leader, what the other
            // replicas have not fetched yet): the wait runs to its deadline...
            let mut batch = one_record(b"y").to_vec();
            set_base_offset(&mut batch, 1);
            replicas
                .append_as_follower("a", 0, &Bytes::from(batch), 2)
                .unwrap();
            let short = Instant::now() + Duration::from_millis(30);
            assert_eq!(
                replicas.await_acks(&[("a", 0, 0, 2)], short).await,
                [Err(ErrorCode::REQUEST_TIMED_OUT)]
            );

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
                replicas.await_acks(&[("a", 0, 0, 2), ("b", 0, 0, 1)], deadline),
                other_then_own
            );
            assert_eq!(acked, [Ok(()), Ok(())]);
            assert!(started.elapsed() >= Duration::from_millis(220));

            // A partition that does not exist (any more) never counts as replicated.
            let short = Instant::now() + Duration::from_millis(10);
            assert_eq!(
                replicas.await_acks(&[("gone", 0, 0, 1)], short).await,
                [Err(ErrorCode::NOT_LEADER_OR_FOLLOWER)]
            );
        });
    }

    /// A replica led epoch 2 without appending in it (a restart applied the stale image),
    /// then followed a leader whose log has no epoch 2. The leader answers the divergence
    /// (epoch 1 ends at the log end); the follower has nothing to cut but drops epoch 2
    /// from its cache, as Kafka does, so its next fetch is an ordinary one instead of the
    /// same divergence again forever.
    #[test]
    fn a_diverging_epoch_at_the_log_end_truncates_the_epoch_cache() {
        let dir = tempfile::tempdir().unwrap();
        let replicas = manager(dir.path(), &["a"]);
        let lead = |epoch: i32, leader: i32| {
            replicas.apply_partition_metadata("a", 0, 1, leader, epoch, epoch, &[1, 2], &[1, 2], 0)
        };
        lead(1, 1);
        replicas
            .append_records("a", 0, &one_record(b"x"), -1, 1)
            .unwrap();
        lead(2, 1);
        lead(3, 2);
        let position = || replicas.follower_fetch_states()[&2][0].clone();
        assert_eq!(
            (position().log_end_offset, position().last_fetched_epoch),
            (1, 2)
        );
        replicas.truncate_diverged("a", 0, 1, 1, 0).unwrap();
        assert_eq!(
            (position().log_end_offset, position().last_fetched_epoch),
            (1, 1)
        );
        // The cache on disk agrees (a restart does not bring epoch 2 back).
        drop(replicas);
        let reopened = manager(dir.path(), &["a"]);
        reopened.apply_partition_metadata("a", 0, 1, 2, 3, 3, &[1, 2], &[1, 2], 0);
        assert_eq!(
            reopened.follower_fetch_states()[&2][0].last_fetched_epoch,
            1
        );
    }

    #[test]
    fn the_leaders_high_watermark_is_the_lowest_log_end_of_the_isr_and_the_isr_follows_the_followers(
    ) {
        let dir = tempfile::tempdir().unwrap();
        let replicas = manager(dir.path(), &["r"]);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        replicas.set_isr_change_sender(tx);
        let t0 = 1_000_000;
        replicas.apply_partition_metadata("r", 0, 1, 1, 3, 0, &[1, 2, 3], &[1, 2, 3], t0);
        let info = replicas
            .append_records("r", 0, &one_record(b"a"), -1, t0)
            .unwrap();
        assert_eq!(info.leader_epoch, 3);
        replicas
            .append_records("r", 0, &one_record(b"b"), -1, t0)
            .unwrap();
        let p = replicas.get("r", 0).unwrap();
        // Followers whose log end is unknown hold the high watermark.
        assert_eq!(p.high_watermark(), 0);
        replicas.follower_fetched("r", 0, 2, 2, 2, t0);
        assert_eq!(p.high_watermark(), 0);
        replicas.follower_fetched("r", 0, 3, 1, 2, t0);
        assert_eq!(p.high_watermark(), 1);
        assert_eq!(p.acks_outcome(3, 2), None);
        replicas.follower_fetched("r", 0, 3, 2, 2, t0);
        assert_eq!(p.high_watermark(), 2);
        assert_eq!(p.acks_outcome(3, 2), Some(Ok(())));
        // Another epoch's append is not acknowledged by this one's progress.
        assert_eq!(
            p.acks_outcome(2, 2),
            Some(Err(ErrorCode::NOT_LEADER_OR_FOLLOWER))
        );
        assert!(rx.try_recv().is_err(), "no ISR change while all keep up");

        // Replica 3 stops fetching: after replica.lag.time.max.ms it leaves the ISR, one
        // change at a time, with the epochs the controller compares.
        replicas.follower_fetched("r", 0, 2, 2, 2, t0 + 2_500);
        replicas.shrink_isrs(t0 + 2_500, 2_000);
        let change = rx.try_recv().expect("a shrink");
        assert_eq!(change.new_isr, [1, 2]);
        assert_eq!((change.leader_epoch, change.partition_epoch), (3, 0));
        replicas.shrink_isrs(t0 + 2_600, 2_000);
        assert!(rx.try_recv().is_err(), "one change in flight");
        // While the shrink is pending the old ISR still bounds the high watermark.
        replicas
            .append_records("r", 0, &one_record(b"c"), -1, t0 + 2_600)
            .unwrap();
        replicas.follower_fetched("r", 0, 2, 3, 3, t0 + 2_600);
        assert_eq!(p.high_watermark(), 2);
        replicas.isr_change_done(&change, Ok((3, 1, vec![1, 2])));
        assert_eq!(p.high_watermark(), 3);
        assert_eq!(p.replication().1, [1, 2]);

        // Replica 3 comes back and catches up: it rejoins.
        replicas.follower_fetched("r", 0, 3, 3, 3, t0 + 3_000);
        let change = rx.try_recv().expect("an expansion");
        assert_eq!(change.new_isr, [1, 2, 3]);
        assert_eq!(change.partition_epoch, 1);

        // Below min.insync.replicas acks=all is refused up front and the high watermark
        // stops.
        let config = LogConfig {
            min_insync_replicas: 2,
            ..LogConfig::default()
        };
        replicas.set_config("r", &config);
        replicas.apply_partition_metadata("r", 0, 1, 1, 3, 2, &[1, 2, 3], &[1], t0 + 4_000);
        let refused = replicas
            .append_records("r", 0, &one_record(b"d"), -1, t0 + 4_000)
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::NOT_ENOUGH_REPLICAS);
        replicas
            .append_records("r", 0, &one_record(b"d"), 1, t0 + 4_000)
            .unwrap();
        replicas.follower_fetched("r", 0, 2, 4, 4, t0 + 4_000);
        replicas.follower_fetched("r", 0, 3, 4, 4, t0 + 4_000);
        assert_eq!(p.high_watermark(), 3);

        // A new leader elsewhere: this replica follows, and refuses produces.
        replicas.apply_partition_metadata("r", 0, 1, 2, 4, 3, &[1, 2, 3], &[1, 2], t0 + 5_000);
        assert_eq!(p.role(), Role::Follower { leader: 2 });
        let refused = replicas
            .append_records("r", 0, &one_record(b"e"), 1, t0 + 5_000)
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
    }
}
