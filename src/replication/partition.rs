//! One partition of this broker: its log (reachable only inside `replication`), leader epoch,
//! high watermark, and the fetches and produces waiting for it to grow.
//!
//! Every write goes through [`Partition::append_records`] (produce, the group coordinator's
//! records): append, sync when the flush policy asks, then advance the high watermark and wake
//! the operations waiting on this partition only. The high watermark never passes a record that
//! a machine crash could still lose under the flush policy, so no consumer reads a record whose
//! offset a crash would hand out again. On one node the in-sync replicas are this broker, so
//! the high watermark starts at the log end and follows it.
//! Must not: parse requests.

use super::purgatory::{DelayedOperation, Waiters};
use crate::log::producer_state::ProducerEntry;
use crate::log::segment::FileRegion;
use crate::log::{AppendError, AppendInfo, LogConfig, SharedLog};
use crate::protocol::{ErrorCode, Uuid};
use bytes::Bytes;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::Arc;

#[derive(Debug)]
pub struct Partition {
    pub topic: String,
    pub index: i32,
    pub topic_id: Uuid,
    pub(in crate::replication) log: Arc<SharedLog>,
    leader_epoch: AtomicI32,
    high_watermark: AtomicI64,
    /// Operations parked until this partition's high watermark moves.
    waiters: Waiters,
}

/// What a read returned, with the offsets a fetch response reports.
#[derive(Debug)]
pub struct ReadResult {
    pub records: Option<FileRegion>,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

/// The in-sync replicas of a partition on one node: this broker.
const ISR_SIZE: i32 = 1;

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
            waiters: Waiters::default(),
        }
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
    ) -> Result<AppendInfo, AppendError> {
        if required_acks == -1 {
            let min_isr = self.log.lock().config().min_insync_replicas;
            if ISR_SIZE < min_isr {
                return Err(AppendError {
                    code: ErrorCode::NOT_ENOUGH_REPLICAS,
                    message: format!(
                        "the in-sync replicas of {}-{} ({ISR_SIZE}) are fewer than min.insync.replicas ({min_isr})",
                        self.topic, self.index
                    ),
                });
            }
        }
        let info = self
            .log
            .append_as_leader(records, self.leader_epoch(), now_ms)?;
        self.advance_high_watermark(info.last_offset + 1);
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
    pub(in crate::replication) fn offset_for(
        &self,
        timestamp: i64,
    ) -> Result<Option<(i64, i64)>, ErrorCode> {
        const LATEST: i64 = -1;
        const EARLIEST: i64 = -2;
        const MAX_TIMESTAMP: i64 = -3;
        const EARLIEST_LOCAL: i64 = -4;
        const LATEST_TIERED: i64 = -5;
        let mut log = self.log.lock();
        match timestamp {
            LATEST | LATEST_TIERED => Ok(Some((self.high_watermark(), -1))),
            EARLIEST | EARLIEST_LOCAL => Ok(Some((log.log_start_offset(), -1))),
            MAX_TIMESTAMP => log
                .offset_of_max_timestamp()
                .map_err(|_| ErrorCode::KAFKA_STORAGE_ERROR),
            t if t >= 0 => log
                .offset_for_timestamp(t)
                .map_err(|_| ErrorCode::KAFKA_STORAGE_ERROR),
            _ => Err(ErrorCode::INVALID_REQUEST),
        }
    }

    /// DescribeProducers: the idempotent producers this partition keeps state for.
    pub(in crate::replication) fn active_producers(&self) -> Vec<(i64, ProducerEntry)> {
        self.log.lock().producers().active()
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
