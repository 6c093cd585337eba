//! One partition as the broker sees it: its log, leader epoch, high watermark, and the
//! fetches waiting for it to grow.
//!
//! Every write goes through [`Partition::append_records`] (produce, the group coordinator's
//! records): append, sync when the flush policy asks, then advance the high watermark and wake
//! the fetches waiting on this partition only. The high watermark never passes a record that a
//! machine crash could still lose under the flush policy, so no consumer reads a record whose
//! offset a crash would hand out again. On one node the in-sync replicas are this broker.
//! Must not: parse requests.

use crate::log::segment::FileRegion;
use crate::log::{AppendError, AppendInfo, SharedLog};
use crate::protocol::{ErrorCode, Uuid};
use bytes::Bytes;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;

#[derive(Debug)]
pub struct Partition {
    pub topic: String,
    pub index: i32,
    pub topic_id: Uuid,
    pub log: Arc<SharedLog>,
    leader_epoch: AtomicI32,
    high_watermark: AtomicI64,
    /// Fetches parked until this partition's high watermark moves.
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

impl Partition {
    pub fn new(
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

    /// Appends `records` as the leader and makes them visible: with `required_acks` -1 the
    /// in-sync replicas must number at least `min.insync.replicas`; the log is synced first
    /// when the flush policy asks; then the high watermark moves past the records and the
    /// fetches waiting on this partition wake. Blocking (file I/O, fsync): call it off the
    /// async workers.
    pub fn append_records(
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

    /// Moves the high watermark up to `offset` (never down) and wakes this partition's
    /// waiting fetches when it moved.
    fn advance_high_watermark(&self, offset: i64) {
        if self.high_watermark.fetch_max(offset, Ordering::AcqRel) < offset {
            self.waiters.wake_all();
        }
    }

    /// Registers `waiter` to be notified when the high watermark next moves. Register
    /// before reading, so an append between the read and the wait is not missed.
    pub fn wake_on_append(&self, waiter: &Arc<Notify>) {
        self.waiters.register(waiter);
    }

    /// Whole batches from `offset`, bounded by the high watermark (consumers) or the log
    /// end (`follower`).
    pub fn read(
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

/// Fetches waiting on one partition. Each waiter is a fetch's `Notify`, held weakly: a fetch
/// that ends without being woken leaves a dead entry, pruned as the list grows.
#[derive(Debug, Default)]
struct Waiters {
    list: Mutex<Vec<Weak<Notify>>>,
}

impl Waiters {
    fn register(&self, waiter: &Arc<Notify>) {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        if list.len() >= 64 && list.len().is_power_of_two() {
            list.retain(|w| w.strong_count() > 0);
        }
        list.push(Arc::downgrade(waiter));
    }

    fn wake_all(&self) {
        let woken = std::mem::take(&mut *self.list.lock().unwrap_or_else(|e| e.into_inner()));
        for w in woken.iter().filter_map(Weak::upgrade) {
            w.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waking_a_partition_wakes_only_its_own_waiters() {
        let (a, b) = (Waiters::default(), Waiters::default());
        let (on_a, on_b) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        a.register(&on_a);
        b.register(&on_b);
        a.wake_all();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let wait = std::time::Duration::from_millis(50);
            assert!(tokio::time::timeout(wait, on_a.notified()).await.is_ok());
            assert!(tokio::time::timeout(wait, on_b.notified()).await.is_err());
        });
    }

    #[test]
    fn dead_waiters_are_pruned_as_the_list_grows() {
        let waiters = Waiters::default();
        let live = Arc::new(Notify::new());
        waiters.register(&live);
        for _ in 0..1000 {
            waiters.register(&Arc::new(Notify::new()));
        }
        assert!(waiters.list.lock().unwrap().len() < 200);
    }
}
