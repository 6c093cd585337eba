//! Idempotent-producer state of one partition: per producer id, its epoch and the metadata of
//! its last five batches, so retries are recognised as duplicates and gaps refused.
//!
//! Rules (Kafka's `ProducerAppendInfo.checkSequence`): a batch with an epoch below the known
//! one is INVALID_PRODUCER_EPOCH; a new epoch must start at sequence 0 unless the producer was
//! unknown; within an epoch the first sequence must follow the last one
//! (OUT_OF_ORDER_SEQUENCE_NUMBER otherwise); a producer with no state accepts any sequence. A
//! batch equal (first and last sequence) to one of the last five is a duplicate: answered
//! with the original offsets, not appended again.
//!
//! Snapshot file `<offset>.snapshot` (Kafka's version 1 layout, big-endian):
//! `i16 version=1 | u32 crc32c(rest) | i32 count | count × (i64 producer_id | i16 epoch |
//! i32 last_sequence | i64 last_offset | i32 offset_delta | i64 timestamp |
//! i32 coordinator_epoch | i64 current_txn_first_offset)`.

use crate::protocol::record_batch::{BatchHeader, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE};
use crate::protocol::ErrorCode;
use std::collections::{HashMap, VecDeque};

/// How many batches per producer are remembered for duplicate detection (the client's max
/// in-flight requests with idempotence).
pub const BATCHES_KEPT: usize = 5;
const SNAPSHOT_VERSION: i16 = 1;
const SNAPSHOT_ENTRY_BYTES: usize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub last_offset: i64,
    pub offset_delta: i32,
    pub timestamp: i64,
}

impl BatchMetadata {
    pub fn first_offset(&self) -> i64 {
        self.last_offset - i64::from(self.offset_delta)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub producer_epoch: i16,
    pub batches: VecDeque<BatchMetadata>,
    pub coordinator_epoch: i32,
}

impl ProducerEntry {
    pub fn last_sequence(&self) -> i32 {
        self.batches.back().map_or(NO_SEQUENCE, |b| b.last_sequence)
    }

    pub fn last_timestamp(&self) -> i64 {
        self.batches.back().map_or(-1, |b| b.timestamp)
    }
}

/// The verdict on an idempotent batch before it is appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it.
    Accept,
    /// Already appended: answer with these offsets.
    Duplicate(BatchMetadata),
    /// Refuse with this error.
    Reject(ErrorCode, String),
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
}

fn in_sequence(last: i32, next: i32) -> bool {
    next == last.wrapping_add(1) || (next == 0 && last == i32::MAX)
}

impl ProducerStateManager {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Every producer with state here, by id (DescribeProducers).
    pub fn active(&self) -> Vec<(i64, ProducerEntry)> {
        let mut out: Vec<(i64, ProducerEntry)> = self
            .producers
            .iter()
            .map(|(id, e)| (*id, e.clone()))
            .collect();
        out.sort_by_key(|(id, _)| *id);
        out
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Checks an incoming batch (with its own, not yet assigned, offsets).
    pub fn check(&self, header: &BatchHeader) -> SequenceCheck {
        if header.producer_id == NO_PRODUCER_ID {
            return SequenceCheck::Accept;
        }
        let Some(entry) = self.producers.get(&header.producer_id) else {
            return SequenceCheck::Accept;
        };
        let (epoch, first, last) = (
            header.producer_epoch,
            header.base_sequence,
            header.last_sequence(),
        );
        if epoch < entry.producer_epoch {
            return SequenceCheck::Reject(
                ErrorCode::INVALID_PRODUCER_EPOCH,
                format!(
                    "epoch {epoch} of producer {} is older than the current epoch {}",
                    header.producer_id, entry.producer_epoch
                ),
            );
        }
        if epoch == entry.producer_epoch {
            if let Some(dup) = entry
                .batches
                .iter()
                .find(|b| b.first_sequence == first && b.last_sequence == last)
            {
                return SequenceCheck::Duplicate(*dup);
            }
        }
        if epoch != entry.producer_epoch {
            if first != 0 && entry.producer_epoch != NO_PRODUCER_EPOCH {
                return SequenceCheck::Reject(
                    ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
                    format!(
                        "new epoch {epoch} of producer {} must start at sequence 0, not {first}",
                        header.producer_id
                    ),
                );
            }
            return SequenceCheck::Accept;
        }
        let current_last = entry.last_sequence();
        if current_last != NO_SEQUENCE && !in_sequence(current_last, first) {
            return SequenceCheck::Reject(
                ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
                format!(
                    "producer {} sent sequence {first} after {current_last} (epoch {epoch})",
                    header.producer_id
                ),
            );
        }
        SequenceCheck::Accept
    }

    /// Records an appended batch (its header carries the assigned offsets).
    pub fn update(&mut self, header: &BatchHeader) {
        if header.producer_id == NO_PRODUCER_ID {
            return;
        }
        let entry = self
            .producers
            .entry(header.producer_id)
            .or_insert_with(|| ProducerEntry {
                producer_epoch: header.producer_epoch,
                batches: VecDeque::new(),
                coordinator_epoch: -1,
            });
        if header.producer_epoch != entry.producer_epoch {
            entry.producer_epoch = header.producer_epoch;
            entry.batches.clear();
        }
        if entry.batches.len() == BATCHES_KEPT {
            entry.batches.pop_front();
        }
        entry.batches.push_back(BatchMetadata {
            first_sequence: header.base_sequence,
            last_sequence: header.last_sequence(),
            last_offset: header.last_offset(),
            offset_delta: header.last_offset_delta,
            timestamp: header.max_timestamp,
        });
    }

    /// Forgets batches at or past `offset` (after a truncation); producers left without
    /// batches are removed.
    pub fn truncate_to(&mut self, offset: i64) {
        for entry in self.producers.values_mut() {
            entry.batches.retain(|b| b.last_offset < offset);
        }
        self.producers.retain(|_, e| !e.batches.is_empty());
    }

    /// Removes producers whose last write is older than `expiry_before_ms`.
    pub fn remove_expired(&mut self, expiry_before_ms: i64) {
        self.producers
            .retain(|_, e| e.last_timestamp() >= expiry_before_ms);
    }

    /// The snapshot bytes (last batch of each producer, in producer id order).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut ids: Vec<&i64> = self.producers.keys().collect();
        ids.sort();
        let mut body = Vec::with_capacity(4 + ids.len() * SNAPSHOT_ENTRY_BYTES);
        body.extend_from_slice(&(ids.len() as i32).to_be_bytes());
        for id in ids {
            let entry = &self.producers[id];
            let Some(last) = entry.batches.back() else {
                continue;
            };
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&entry.producer_epoch.to_be_bytes());
            body.extend_from_slice(&last.last_sequence.to_be_bytes());
            body.extend_from_slice(&last.last_offset.to_be_bytes());
            body.extend_from_slice(&last.offset_delta.to_be_bytes());
            body.extend_from_slice(&last.timestamp.to_be_bytes());
            body.extend_from_slice(&entry.coordinator_epoch.to_be_bytes());
            body.extend_from_slice(&(-1i64).to_be_bytes());
        }
        let mut out = Vec::with_capacity(6 + body.len());
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Loads a snapshot; `None` when it is corrupt (the caller rebuilds by scanning).
    pub fn from_snapshot(bytes: &[u8]) -> Option<ProducerStateManager> {
        if bytes.len() < 10 || i16::from_be_bytes([bytes[0], bytes[1]]) != SNAPSHOT_VERSION {
            return None;
        }
        let crc = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        let body = &bytes[6..];
        if crc32c::crc32c(body) != crc {
            return None;
        }
        let count =
            usize::try_from(i32::from_be_bytes([body[0], body[1], body[2], body[3]])).ok()?;
        let entries = &body[4..];
        if entries.len() != count.checked_mul(SNAPSHOT_ENTRY_BYTES)? {
            return None;
        }
        let mut producers = HashMap::with_capacity(count);
        for e in entries.chunks_exact(SNAPSHOT_ENTRY_BYTES) {
            let i64_at = |at: usize| i64::from_be_bytes(e[at..at + 8].try_into().unwrap_or([0; 8]));
            let i32_at = |at: usize| i32::from_be_bytes(e[at..at + 4].try_into().unwrap_or([0; 4]));
            let epoch = i16::from_be_bytes([e[8], e[9]]);
            let last_sequence = i32_at(10);
            let last_offset = i64_at(14);
            let offset_delta = i32_at(22);
            let batch = BatchMetadata {
                first_sequence: last_sequence.wrapping_sub(offset_delta).max(0),
                last_sequence,
                last_offset,
                offset_delta,
                timestamp: i64_at(26),
            };
            producers.insert(
                i64_at(0),
                ProducerEntry {
                    producer_epoch: epoch,
                    batches: VecDeque::from([batch]),
                    coordinator_epoch: i32_at(34),
                },
            );
        }
        Some(ProducerStateManager { producers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::record_batch::BatchBuilder;
    use crate::protocol::Compression;

    fn header(pid: i64, epoch: i16, seq: i32, records: usize, base_offset: i64) -> BatchHeader {
        let mut b = BatchBuilder::new();
        b.producer_id = pid;
        b.producer_epoch = epoch;
        b.base_sequence = seq;
        for _ in 0..records {
            b.append(1, None, Some(b"v"), &[]);
        }
        let mut h = BatchHeader::parse(&b.build(Compression::None)).unwrap();
        h.base_offset = base_offset;
        h
    }

    #[test]
    fn sequences_must_follow_and_retries_are_duplicates() {
        let mut s = ProducerStateManager::new();
        let first = header(7, 0, 0, 3, 0);
        assert_eq!(s.check(&first), SequenceCheck::Accept);
        s.update(&first);
        let second = header(7, 0, 3, 2, 3);
        assert_eq!(s.check(&second), SequenceCheck::Accept);
        s.update(&second);
        match s.check(&header(7, 0, 0, 3, 99)) {
            SequenceCheck::Duplicate(m) => assert_eq!((m.first_offset(), m.last_offset), (0, 2)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.check(&header(7, 0, 9, 1, 5)),
            SequenceCheck::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, _)
        ));
        assert!(matches!(
            s.check(&header(7, 1, 4, 1, 5)),
            SequenceCheck::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, _)
        ));
        assert_eq!(s.check(&header(7, 1, 0, 1, 5)), SequenceCheck::Accept);
        s.update(&header(7, 1, 0, 1, 5));
        assert!(matches!(
            s.check(&header(7, 0, 5, 1, 6)),
            SequenceCheck::Reject(ErrorCode::INVALID_PRODUCER_EPOCH, _)
        ));
        assert_eq!(
            s.check(&header(8, 0, 42, 1, 6)),
            SequenceCheck::Accept,
            "unknown producers accept any sequence"
        );
    }

    #[test]
    fn snapshot_round_trips_and_detects_corruption() {
        let mut s = ProducerStateManager::new();
        s.update(&header(7, 2, 10, 3, 100));
        s.update(&header(9, 0, 0, 1, 103));
        let bytes = s.snapshot();
        let back = ProducerStateManager::from_snapshot(&bytes).unwrap();
        assert_eq!(
            back.get(7).unwrap().batches.back(),
            s.get(7).unwrap().batches.back()
        );
        assert_eq!(back.check(&header(7, 2, 13, 1, 104)), SequenceCheck::Accept);
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(ProducerStateManager::from_snapshot(&bad).is_none());
    }
}
