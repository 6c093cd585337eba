//! One partition as the broker sees it: its log, leader epoch and high watermark.
//!
//! Every write goes through [`Partition::append`] (produce, the group coordinator's offset
//! commits later on), which is where acks, leadership and, with replication, ISR waits live.
//! On one node the high watermark is the log end after each append. Must not: parse requests.

use crate::log::segment::FileRegion;
use crate::log::{AppendError, AppendInfo, SharedLog};
use crate::protocol::{ErrorCode, Uuid};
use bytes::Bytes;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::Arc;

#[derive(Debug)]
pub struct Partition {
    pub topic: String,
    pub index: i32,
    pub topic_id: Uuid,
    pub log: Arc<SharedLog>,
    leader_epoch: AtomicI32,
    high_watermark: AtomicI64,
}

/// What a read returned, with the offsets a fetch response reports.
#[derive(Debug)]
pub struct ReadResult {
    pub records: Option<FileRegion>,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

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
        }
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    /// Appends `records` as the leader. Returns the append and whether the flush policy
    /// wants a sync before the answer (the caller runs it off the async workers).
    pub fn append(&self, records: &Bytes, now_ms: i64) -> Result<(AppendInfo, bool), AppendError> {
        let mut log = self.log.lock();
        let info = log.append_as_leader(records, self.leader_epoch(), now_ms)?;
        let flush = !info.duplicate && log.needs_flush(now_ms);
        // One node: the data is on every in-sync replica once it is in the local log.
        self.high_watermark
            .store(log.log_end_offset(), Ordering::Release);
        Ok((info, flush))
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
        let mut log = self.log.lock();
        let high_watermark = self.high_watermark();
        let bound = if follower {
            log.log_end_offset()
        } else {
            high_watermark
        };
        let records = log.read(offset, max_bytes, bound, min_one_batch)?;
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
