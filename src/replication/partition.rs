//! One partition of this broker: its log (reachable only inside `replication`), leader epoch,
//! high watermark, and the fetches and produces waiting for it to grow.
//!
//! Every write goes through [`Partition::append_records`] (produce, the group coordinator's
//! records): append, sync when the flush policy asks, then advance the high watermark and wake
//! the operations waiting on this partition only. The high watermark never passes a record that
//! a machine crash could still lose under the flush policy, so no consumer reads a record whose
//! offset a crash would hand out again. On one node the in-sync replicas are this broker, so
//! the high watermark starts at the log end and follows it.
//!
//! With replicas on other brokers (Kafka's ISR model) the partition is the leader or a
//! follower, as the metadata says. The leader tracks each follower's log end (reported by its
//! fetches) and last caught-up time; the high watermark is the lowest log end over the
//! "maximal" ISR (the committed ISR plus a pending change's members), frozen while the
//! committed ISR is below `min.insync.replicas`. Followers that catch up join the ISR, those
//! that lag `replica.lag.time.max.ms` leave it, through one AlterPartition at a time
//! ([`IsrChange`]). A follower's high watermark follows its leader's.
//! Must not: parse requests.

use super::purgatory::{DelayedOperation, Waiters};
use crate::log::producer_state::ProducerEntry;
use crate::log::segment::FileRegion;
use crate::log::{AppendError, AppendInfo, AppendRules, LogConfig, SharedLog};
use crate::protocol::{ErrorCode, Uuid};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// This broker's part in a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower {
        leader: i32,
    },
    /// Not led by anyone this broker knows (no leader elected).
    Leaderless,
}

/// What the leader knows of one follower.
#[derive(Debug, Clone, Copy)]
pub struct FollowerState {
    /// Its log end offset (its last fetch offset), -1 until it fetched in this epoch.
    pub log_end_offset: i64,
    pub last_caught_up_ms: i64,
    pub last_fetch_ms: i64,
}

/// Replication state of a partition, as the metadata and the followers' fetches set it.
#[derive(Debug)]
struct ReplicaSet {
    local: i32,
    role: Role,
    replicas: Vec<i32>,
    isr: Vec<i32>,
    /// An ISR change sent to the controller and not answered yet.
    pending_isr: Option<Vec<i32>>,
    partition_epoch: i32,
    followers: HashMap<i32, FollowerState>,
    /// Offset at which this leader's epoch started.
    epoch_start_offset: i64,
}

impl ReplicaSet {
    /// The committed ISR plus the members of a pending change.
    fn maximal_isr(&self) -> Vec<i32> {
        let mut m = self.isr.clone();
        for r in self.pending_isr.iter().flatten() {
            if !m.contains(r) {
                m.push(*r);
            }
        }
        m
    }
}

/// An ISR change the leader asks the controller for (AlterPartition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrChange {
    pub topic: String,
    pub index: i32,
    pub topic_id: Uuid,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub new_isr: Vec<i32>,
}

#[derive(Debug)]
pub struct Partition {
    pub topic: String,
    pub index: i32,
    pub topic_id: Uuid,
    pub(in crate::replication) log: Arc<SharedLog>,
    leader_epoch: AtomicI32,
    high_watermark: AtomicI64,
    /// A follower's: its leader's high watermark as the last fetch answer gave it.
    leader_high_watermark: AtomicI64,
    /// Operations parked until this partition's high watermark moves.
    waiters: Waiters,
    /// Followers' fetches parked until this partition's log end moves.
    log_end_waiters: Waiters,
    replica_set: Mutex<ReplicaSet>,
}

/// What a read returned, with the offsets a fetch response reports.
#[derive(Debug)]
pub struct ReadResult {
    pub records: Option<FileRegion>,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

fn storage_error(what: impl std::fmt::Display) -> AppendError {
    AppendError {
        code: ErrorCode::KAFKA_STORAGE_ERROR,
        message: what.to_string(),
    }
}

impl Partition {
    pub(in crate::replication) fn new(
        topic: &str,
        index: i32,
        topic_id: Uuid,
        log: Arc<SharedLog>,
        leader_epoch: i32,
    ) -> Partition {
        let leo = log.lock().log_end_offset();
        Partition {
            topic: topic.to_string(),
            index,
            topic_id,
            log,
            leader_epoch: AtomicI32::new(leader_epoch),
            high_watermark: AtomicI64::new(leo),
            leader_high_watermark: AtomicI64::new(-1),
            waiters: Waiters::default(),
            log_end_waiters: Waiters::default(),
            replica_set: Mutex::new(ReplicaSet {
                local: -1,
                role: Role::Leader,
                replicas: Vec::new(),
                isr: Vec::new(),
                pending_isr: None,
                partition_epoch: 0,
                followers: HashMap::new(),
                epoch_start_offset: 0,
            }),
        }
    }

    fn set(&self) -> std::sync::MutexGuard<'_, ReplicaSet> {
        self.replica_set.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn role(&self) -> Role {
        self.set().role
    }

    /// A follower's lag: its leader's last known high watermark minus this log's end (0 when
    /// not known), as Kafka's FetcherLagMetrics.
    pub fn follower_lag(&self) -> i64 {
        let leader = self.leader_high_watermark.load(Ordering::Acquire);
        if leader < 0 {
            return 0;
        }
        (leader - self.log_end_offset()).max(0)
    }

    /// `(log start offset, segments)`. Blocking.
    pub fn log_start_and_segments(&self) -> (i64, usize) {
        let log = self.log.lock();
        (log.log_start_offset(), log.segment_count())
    }

    /// Bytes of the partition's segments on disk. Blocking.
    pub fn size_bytes(&self) -> u64 {
        self.log.lock().size_bytes().unwrap_or(0)
    }

    /// The partition's `min.insync.replicas`.
    pub fn min_insync_replicas(&self) -> i32 {
        self.log.lock().config().min_insync_replicas
    }

    /// Whether the metadata has not described this partition yet.
    /// Whether this broker leads the partition as the metadata last said (a partition whose
    /// metadata is not applied yet leads nothing).
    pub(in crate::replication) fn is_leader(&self) -> bool {
        let s = self.set();
        s.role == Role::Leader && s.local >= 0
    }

    pub(in crate::replication) fn role_is_unset(&self) -> bool {
        self.set().local < 0
    }

    /// `(log start, log end, epoch of the last batch or -1)`: where a follower's next fetch
    /// starts.
    pub(in crate::replication) fn fetch_position(&self) -> (i64, i64, i32) {
        let log = self.log.lock();
        let epoch = log.leader_epochs().latest_epoch().unwrap_or(-1);
        (log.log_start_offset(), log.log_end_offset(), epoch)
    }

    /// `(replicas, committed ISR, partition epoch)`.
    pub fn replication(&self) -> (Vec<i32>, Vec<i32>, i32) {
        let s = self.set();
        (s.replicas.clone(), s.isr.clone(), s.partition_epoch)
    }

    /// What the leader knows of each follower.
    pub fn followers(&self) -> Vec<(i32, FollowerState)> {
        self.set().followers.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Applies the metadata's view of this partition: `leader`, its epoch, the partition
    /// epoch, replicas and ISR. Becoming the leader of a new epoch starts that epoch at the
    /// log end and treats the ISR as caught up now; becoming a follower caps the high
    /// watermark at the log end. `initial_high_watermark` (from the checkpoint) applies the
    /// first time, for a partition with other replicas. Blocking (it may write the
    /// leader-epoch checkpoint).
    #[allow(clippy::too_many_arguments)]
    pub(in crate::replication) fn apply_metadata(
        &self,
        local: i32,
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        replicas: &[i32],
        isr: &[i32],
        now_ms: i64,
    ) {
        let mut s = self.set();
        tracing::debug!(topic = %self.topic, partition = self.index, leader, leader_epoch, partition_epoch, ?isr, was = ?s.role, "applying the partition's metadata");
        let first = s.local < 0;
        s.local = local;
        let new_epoch = leader_epoch != self.leader_epoch() || first;
        let role = if leader == local {
            Role::Leader
        } else if leader >= 0 {
            Role::Follower { leader }
        } else {
            Role::Leaderless
        };
        if role == Role::Leader && (new_epoch || s.role != Role::Leader) {
            let leo = {
                let mut log = self.log.lock();
                if let Err(e) = log.assign_leader_epoch(leader_epoch) {
                    tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "writing the leader-epoch checkpoint failed");
                }
                log.log_end_offset()
            };
            s.epoch_start_offset = leo;
            s.followers = replicas
                .iter()
                .filter(|r| **r != local)
                .map(|r| {
                    let caught_up = if isr.contains(r) { now_ms } else { -1 };
                    (
                        *r,
                        FollowerState {
                            log_end_offset: -1,
                            last_caught_up_ms: caught_up,
                            last_fetch_ms: -1,
                        },
                    )
                })
                .collect();
            s.pending_isr = None;
        }
        if partition_epoch != s.partition_epoch || new_epoch {
            s.pending_isr = None;
        }
        if role == Role::Leader && s.replicas != replicas {
            // A reassignment added or dropped replicas: track the new ones from scratch.
            s.followers.retain(|r, _| replicas.contains(r));
            for r in replicas.iter().filter(|r| **r != local) {
                s.followers.entry(*r).or_insert(FollowerState {
                    log_end_offset: -1,
                    last_caught_up_ms: -1,
                    last_fetch_ms: -1,
                });
            }
        }
        if role != Role::Leader {
            s.followers.clear();
            s.pending_isr = None;
            let leo = self.log_end_offset();
            self.high_watermark.fetch_min(leo, Ordering::AcqRel);
        }
        s.role = role;
        s.replicas = replicas.to_vec();
        s.isr = isr.to_vec();
        s.partition_epoch = partition_epoch;
        self.leader_epoch.store(leader_epoch, Ordering::Release);
        let leader_now = role == Role::Leader;
        drop(s);
        if leader_now {
            self.maybe_advance_high_watermark();
        }
        // Waiting produces and fetches re-check their partition's state.
        self.waiters.wake_all();
        self.log_end_waiters.wake_all();
    }

    /// Starts the high watermark of a replicated partition at its checkpointed value (never
    /// above the log end), before the partition serves anyone.
    pub(in crate::replication) fn set_initial_high_watermark(&self, offset: i64) {
        let leo = self.log_end_offset();
        self.high_watermark
            .store(offset.min(leo).max(0), Ordering::Release);
    }

    /// The leader's high watermark: the lowest log end over the maximal ISR (a member whose
    /// log end is unknown holds it), not moving while the committed ISR is below
    /// `min.insync.replicas` (when the partition has other replicas).
    fn maybe_advance_high_watermark(&self) {
        let leo = self.log_end_offset();
        let min_isr = i64::from(self.log.lock().config().min_insync_replicas);
        let s = self.set();
        if s.role != Role::Leader {
            return;
        }
        if s.replicas.len() > 1 && (s.isr.len() as i64) < min_isr {
            return;
        }
        let mut hw = leo;
        for r in s.maximal_isr() {
            if r == s.local {
                continue;
            }
            let end = s.followers.get(&r).map_or(-1, |f| f.log_end_offset);
            hw = hw.min(end);
        }
        drop(s);
        if hw >= 0 {
            self.advance_high_watermark(hw);
        }
    }

    /// A follower's fetch reached the leader: `fetch_offset` is its log end, `leader_end`
    /// the leader's log end when the fetch was read. Moves the high watermark; returns an
    /// ISR expansion to ask for when the follower caught up (its log end at least the high
    /// watermark and past the start of this leader's epoch).
    pub(in crate::replication) fn follower_fetched(
        &self,
        replica: i32,
        fetch_offset: i64,
        leader_end: i64,
        now_ms: i64,
    ) -> Option<IsrChange> {
        let change = {
            let mut s = self.set();
            if s.role != Role::Leader {
                return None;
            }
            let epoch_start = s.epoch_start_offset;
            let f = s.followers.get_mut(&replica)?;
            f.log_end_offset = fetch_offset;
            f.last_fetch_ms = now_ms;
            if fetch_offset >= leader_end {
                f.last_caught_up_ms = now_ms;
            }
            let hw = self.high_watermark();
            let in_isr = s.isr.contains(&replica);
            if !in_isr {
                tracing::debug!(topic = %self.topic, partition = self.index, replica, fetch_offset, high_watermark = hw, epoch_start, pending = ?s.pending_isr, "an out-of-sync follower fetched");
            }
            if s.pending_isr.is_none()
                && !in_isr
                && fetch_offset >= hw
                && fetch_offset >= epoch_start
            {
                let mut new_isr = s.isr.clone();
                new_isr.push(replica);
                new_isr.sort_by_key(|r| s.replicas.iter().position(|x| x == r));
                s.pending_isr = Some(new_isr.clone());
                Some(self.isr_change(&s, new_isr))
            } else {
                None
            }
        };
        self.maybe_advance_high_watermark();
        change
    }

    fn isr_change(&self, s: &ReplicaSet, new_isr: Vec<i32>) -> IsrChange {
        IsrChange {
            topic: self.topic.clone(),
            index: self.index,
            topic_id: self.topic_id,
            leader_epoch: self.leader_epoch(),
            partition_epoch: s.partition_epoch,
            new_isr,
        }
    }

    /// The ISR shrink a leader asks for: the followers that have not caught up within
    /// `lag_max_ms` leave (one change in flight at a time).
    pub(in crate::replication) fn isr_shrink(
        &self,
        now_ms: i64,
        lag_max_ms: i64,
    ) -> Option<IsrChange> {
        let mut s = self.set();
        if s.role != Role::Leader || s.pending_isr.is_some() {
            return None;
        }
        let local = s.local;
        let keep: Vec<i32> = s
            .isr
            .iter()
            .copied()
            .filter(|r| {
                *r == local
                    || s.followers
                        .get(r)
                        .is_some_and(|f| now_ms - f.last_caught_up_ms <= lag_max_ms)
            })
            .collect();
        if keep == s.isr || keep.is_empty() {
            return None;
        }
        s.pending_isr = Some(keep.clone());
        Some(self.isr_change(&s, keep))
    }

    /// The controller's answer to an ISR change: the partition's state after it, or an
    /// error (the change is dropped; the metadata brings the truth).
    pub(in crate::replication) fn isr_change_done(
        &self,
        change: &IsrChange,
        result: Result<(i32, i32, Vec<i32>), ErrorCode>,
    ) {
        {
            let mut s = self.set();
            if s.pending_isr.as_ref() != Some(&change.new_isr) {
                return;
            }
            s.pending_isr = None;
            if let Ok((leader_epoch, partition_epoch, isr)) = result {
                if leader_epoch == self.leader_epoch() && partition_epoch > s.partition_epoch {
                    s.isr = isr;
                    s.partition_epoch = partition_epoch;
                }
            }
        }
        self.maybe_advance_high_watermark();
    }

    /// A follower's high watermark: its leader's, never above its own log end.
    pub(in crate::replication) fn follow_high_watermark(&self, leader_high_watermark: i64) {
        self.leader_high_watermark
            .store(leader_high_watermark, Ordering::Release);
        let leo = self.log_end_offset();
        self.advance_high_watermark(leader_high_watermark.min(leo));
    }

    /// acks=all: whether the records up to `end_offset`, appended in `leader_epoch`, are
    /// replicated: `None` while waiting; NOT_LEADER_OR_FOLLOWER once this broker no longer
    /// leads that epoch; NOT_ENOUGH_REPLICAS_AFTER_APPEND when the high watermark passed
    /// them while the ISR is below `min.insync.replicas`.
    pub fn acks_outcome(
        &self,
        leader_epoch: i32,
        end_offset: i64,
    ) -> Option<Result<(), ErrorCode>> {
        let s = self.set();
        if s.role != Role::Leader || self.leader_epoch() != leader_epoch {
            return Some(Err(ErrorCode::NOT_LEADER_OR_FOLLOWER));
        }
        if self.high_watermark() < end_offset {
            return None;
        }
        let min_isr = self.log.lock().config().min_insync_replicas;
        if s.replicas.len() > 1 && (s.isr.len() as i32) < min_isr {
            return Some(Err(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND));
        }
        Some(Ok(()))
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log.lock().log_start_offset()
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log.lock().log_end_offset()
    }

    /// Appends `records` as the leader and makes them visible: with `required_acks` -1 the
    /// in-sync replicas must number at least `min.insync.replicas`; the log is synced first
    /// when the flush policy asks; then the high watermark moves past the records and the
    /// operations waiting on this partition wake. Blocking (file I/O, fsync): call it off the
    /// async workers.
    pub(in crate::replication) fn append_records(
        &self,
        records: &Bytes,
        required_acks: i16,
        now_ms: i64,
        rules: AppendRules,
    ) -> Result<AppendInfo, AppendError> {
        let isr_size = {
            let s = self.set();
            if s.role != Role::Leader {
                return Err(AppendError {
                    code: ErrorCode::NOT_LEADER_OR_FOLLOWER,
                    message: format!("this broker does not lead {}-{}", self.topic, self.index),
                });
            }
            s.isr.len().max(1) as i32
        };
        if required_acks == -1 {
            let min_isr = self.log.lock().config().min_insync_replicas;
            if isr_size < min_isr {
                return Err(AppendError {
                    code: ErrorCode::NOT_ENOUGH_REPLICAS,
                    message: format!(
                        "the in-sync replicas of {}-{} ({isr_size}) are fewer than min.insync.replicas ({min_isr})",
                        self.topic, self.index
                    ),
                });
            }
        }
        let info = self
            .log
            .append_as_leader_with(records, self.leader_epoch(), now_ms, rules)?;
        self.log_end_waiters.wake_all();
        self.maybe_advance_high_watermark();
        Ok(info)
    }

    /// Appends batches the leader stamped (offsets and epochs kept), as a follower does.
    /// Blocking.
    pub(in crate::replication) fn append_as_follower(
        &self,
        records: &Bytes,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        if self.log.is_offline() {
            return Err(storage_error("the log directory is offline"));
        }
        let result = self.log.lock().append_as_follower(records, now_ms);
        if result.is_ok() {
            self.log_end_waiters.wake_all();
        }
        if let Err(e) = &result {
            if e.code == ErrorCode::KAFKA_STORAGE_ERROR {
                self.log.fail(&e.message);
            }
        }
        result
    }

    /// Removes everything from `offset` on (a follower that diverged from its leader; tests
    /// of readers that race with truncation). The high watermark never stays above the log end.
    pub(in crate::replication) fn truncate_to(&self, offset: i64) -> std::io::Result<()> {
        let mut log = self.log.lock();
        log.truncate_to(offset)?;
        let leo = log.log_end_offset();
        self.high_watermark.fetch_min(leo, Ordering::AcqRel);
        Ok(())
    }

    /// Empties the log and restarts it at `offset` (a follower behind its leader's log
    /// start). Blocking.
    pub(in crate::replication) fn restart_at(&self, offset: i64) -> std::io::Result<()> {
        let mut log = self.log.lock();
        log.truncate_fully_and_start_at(offset)?;
        self.high_watermark.store(offset, Ordering::Release);
        Ok(())
    }

    /// Moves the high watermark up to `offset` (never down) and wakes this partition's
    /// waiting operations when it moved.
    pub(in crate::replication) fn advance_high_watermark(&self, offset: i64) {
        if self.high_watermark.fetch_max(offset, Ordering::AcqRel) < offset {
            self.waiters.wake_all();
        }
    }

    /// Registers `operation` to be woken when the high watermark next moves. Register before
    /// checking its condition, so a change in between is not missed.
    pub fn watch(&self, operation: &DelayedOperation) {
        operation.watch(&self.waiters);
    }

    /// Registers `operation` (a follower's fetch) to be woken when the log end next moves.
    pub fn watch_log_end(&self, operation: &DelayedOperation) {
        operation.watch(&self.log_end_waiters);
    }

    /// Whole batches from `offset`, bounded by the high watermark (consumers) or the log
    /// end (`follower`).
    pub(in crate::replication) fn read(
        &self,
        offset: i64,
        max_bytes: u64,
        min_one_batch: bool,
        follower: bool,
    ) -> Result<ReadResult, ErrorCode> {
        if self.log.is_offline() {
            return Err(ErrorCode::KAFKA_STORAGE_ERROR);
        }
        let mut log = self.log.lock();
        let high_watermark = self.high_watermark();
        let bound = if follower {
            log.log_end_offset()
        } else {
            high_watermark
        };
        let records = match log.read(offset, max_bytes, bound, min_one_batch) {
            Err(ErrorCode::KAFKA_STORAGE_ERROR) => {
                drop(log);
                self.log.fail("a read failed");
                return Err(ErrorCode::KAFKA_STORAGE_ERROR);
            }
            other => other?,
        };
        Ok(ReadResult {
            records,
            high_watermark,
            log_start_offset: log.log_start_offset(),
            log_end_offset: log.log_end_offset(),
        })
    }

    /// Takes the partition's log directory offline after an I/O error seen outside the log
    /// (sending a region that could not be read).
    pub(in crate::replication) fn storage_failed(&self, what: &str) {
        self.log.fail(what);
    }

    /// ListOffsets: `(offset, timestamp)` for a special or real timestamp (`None`: no such
    /// record). Blocking for lookups by timestamp (they read segments).
    /// ListOffsets on this partition. `only_from_leader` (every client but Kafka's debugging
    /// replica id -2) requires this broker to lead it now: the metadata image can name this
    /// broker leader a moment before the partition has taken the role (and its epoch's start
    /// offset), and a follower's high watermark may lag what its leader acknowledged.
    pub(in crate::replication) fn offset_for(
        &self,
        timestamp: i64,
        only_from_leader: bool,
    ) -> Result<Option<(i64, i64)>, ErrorCode> {
        if only_from_leader && self.role() != Role::Leader {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        const LATEST: i64 = -1;
        const EARLIEST: i64 = -2;
        const MAX_TIMESTAMP: i64 = -3;
        const EARLIEST_LOCAL: i64 = -4;
        const LATEST_TIERED: i64 = -5;
        match timestamp {
            // Not under the log's lock: the replica set is locked before the log elsewhere.
            LATEST | LATEST_TIERED => self.latest_offset().map(|hw| Some((hw, -1))),
            EARLIEST | EARLIEST_LOCAL => Ok(Some((self.log.lock().log_start_offset(), -1))),
            MAX_TIMESTAMP => self
                .log
                .lock()
                .offset_of_max_timestamp()
                .map_err(|_| ErrorCode::KAFKA_STORAGE_ERROR),
            t if t >= 0 => self
                .log
                .lock()
                .offset_for_timestamp(t)
                .map_err(|_| ErrorCode::KAFKA_STORAGE_ERROR),
            _ => Err(ErrorCode::INVALID_REQUEST),
        }
    }

    /// ListOffsets latest: the high watermark, or OFFSET_NOT_AVAILABLE while this leader's
    /// high watermark is below the start of its epoch (a new leader, or one restarted with
    /// an older checkpointed high watermark, has not heard from its followers yet; its high
    /// watermark says less than the previous leader acknowledged). Kafka answers the same;
    /// clients ask again.
    fn latest_offset(&self) -> Result<i64, ErrorCode> {
        let s = self.set();
        let hw = self.high_watermark();
        if s.role == Role::Leader && s.replicas.len() > 1 && hw < s.epoch_start_offset {
            return Err(ErrorCode::OFFSET_NOT_AVAILABLE);
        }
        Ok(hw)
    }

    /// DescribeProducers: the idempotent producers this partition keeps state for.
    pub(in crate::replication) fn active_producers(&self) -> Vec<(i64, ProducerEntry)> {
        self.log.lock().producers().active()
    }

    /// `(epoch, end offset)` of the largest epoch ≤ `leader_epoch` here (a follower's
    /// divergence check).
    pub fn end_offset_for_leader_epoch(&self, leader_epoch: i32) -> (i32, i64) {
        self.end_offset_for_epoch(leader_epoch)
    }

    /// OffsetForLeaderEpoch: `(epoch, end offset)` of the largest epoch ≤ `leader_epoch`.
    pub(in crate::replication) fn end_offset_for_epoch(&self, leader_epoch: i32) -> (i32, i64) {
        let log = self.log.lock();
        log.leader_epochs()
            .end_offset_for(leader_epoch, log.log_end_offset())
    }

    /// DeleteRecords: moves the log start to `offset` (-1: the high watermark). Blocking.
    pub(in crate::replication) fn delete_records_before(
        &self,
        offset: i64,
    ) -> Result<i64, ErrorCode> {
        let hw = self.high_watermark();
        self.log.lock().delete_records_before(offset, hw)
    }

    /// Applies a changed topic config to the running log.
    pub(in crate::replication) fn set_config(&self, config: LogConfig) {
        self.log.lock().set_config(config);
    }

    /// Every record from the log start, in order (replaying an internal topic). Blocking.
    pub(in crate::replication) fn scan_records(
        &self,
        f: impl FnMut(
            &crate::protocol::record_batch::BatchHeader,
            crate::protocol::record_batch::Record,
        ) -> Result<(), String>,
    ) -> Result<(), String> {
        self.log.scan_records(f)
    }

    /// Checks a client's view of the leader epoch (-1: unknown, accepted).
    pub fn check_epoch(&self, current_leader_epoch: i32) -> Result<(), ErrorCode> {
        let epoch = self.leader_epoch();
        match current_leader_epoch {
            e if e < 0 || e == epoch => Ok(()),
            e if e < epoch => Err(ErrorCode::FENCED_LEADER_EPOCH),
            _ => Err(ErrorCode::UNKNOWN_LEADER_EPOCH),
        }
    }
}
