//! [`ReplicaManager::fetch`]: Kafka's `ReplicaManager.fetchMessages` with its `DelayedFetch`.
//! One call per fetch request: for each partition the leader or follower check, a
//! follower's diverging epoch (KIP-320), KIP-392's preferred read replica, the leader's
//! replication throttle, the read (whole batches up to the high watermark for consumers, the
//! log end for followers) and a follower's progress; below `min_bytes` the fetch waits in the
//! purgatory until one of its partitions grows (an append wakes only the fetches waiting on
//! its partition) or `max_wait` passes. Each read pass holds a `queued.max.requests` slot;
//! the wait holds none, as in Kafka's purgatory. `read_committed` sees last stable offset =
//! high watermark. A reader without zstd (Fetch below v10) never gets zstd batches
//! (UNSUPPORTED_COMPRESSION_TYPE for that partition).
//!
//! Must not: know about requests or responses (the fetch handler turns them into
//! [`FetchParams`] and [`PartitionRead`]s).

use super::partition::{Partition, ReadResult, Role};
use super::purgatory::DelayedOperation;
use super::replica_manager::{FetchIsolation, ReadSpec, ReplicaManager};
use crate::limits::{SPLICE_MAX_BYTES, SPLICE_MIN_BYTES};
use crate::log::segment::FileRegion;
use crate::protocol::record_batch::BatchIter;
use crate::protocol::{Compression, ErrorCode};
use bytes::Bytes;
use std::time::{Duration, Instant};

/// Who fetches, and how much and how long.
#[derive(Debug, Clone)]
pub struct FetchParams {
    /// The fetching follower's broker id, or -1 for a consumer.
    pub replica_id: i32,
    pub min_bytes: usize,
    /// The response's byte budget (capped by the broker's `fetch.max.bytes`).
    pub max_bytes: usize,
    pub max_wait: Duration,
    /// The consumer's rack (KIP-392), empty for none.
    pub rack: String,
    /// Whether the reader takes zstd batches (Fetch v10+). Only such a reader gets records
    /// as file regions; an older one's bytes are checked for zstd.
    pub zstd: bool,
    /// Whether the reader takes a preferred read replica (Fetch v11+).
    pub preferred_replica: bool,
}

/// One partition of a fetch.
#[derive(Debug, Clone)]
pub struct FetchPartition {
    /// `None`: a topic id this broker does not know (UNKNOWN_TOPIC_ID).
    pub topic: Option<String>,
    pub partition: i32,
    pub fetch_offset: i64,
    pub max_bytes: i32,
    /// The reader's view of the leader epoch (-1: unknown).
    pub current_leader_epoch: i32,
    /// A follower's epoch of its last fetched batch (-1: none).
    pub last_fetched_epoch: i32,
}

/// Records of a partition read.
#[derive(Debug)]
pub enum FetchedRecords {
    Bytes(Bytes),
    /// A region sent from its segment file (between `SPLICE_MIN_BYTES` and
    /// `SPLICE_MAX_BYTES` long).
    File(FileRegion),
}

impl FetchedRecords {
    pub fn len(&self) -> u64 {
        match self {
            FetchedRecords::Bytes(b) => b.len() as u64,
            FetchedRecords::File(r) => r.length,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One partition's answer, in the order of the fetch's partitions.
#[derive(Debug)]
pub struct PartitionRead {
    pub error: ErrorCode,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    pub records: FetchedRecords,
    /// `(epoch, end offset)` where a follower's log diverged from this leader's.
    pub diverging_epoch: Option<(i32, i64)>,
    /// KIP-392: the replica the consumer should read from instead (-1: none).
    pub preferred_read_replica: i32,
}

impl PartitionRead {
    fn error(error: ErrorCode) -> PartitionRead {
        PartitionRead {
            error,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            records: FetchedRecords::Bytes(Bytes::new()),
            diverging_epoch: None,
            preferred_read_replica: -1,
        }
    }

    fn offsets(error: ErrorCode, high_watermark: i64, log_start_offset: i64) -> PartitionRead {
        PartitionRead {
            high_watermark,
            last_stable_offset: high_watermark,
            log_start_offset,
            ..PartitionRead::error(error)
        }
    }
}

fn has_zstd(records: &Bytes) -> bool {
    BatchIter::new(records.clone()).any(|(h, _)| h.compression() == Some(Compression::Zstd))
}

impl ReplicaManager {
    /// Reads every partition, waiting below `min_bytes` as Kafka's `DelayedFetch` does.
    pub async fn fetch(
        &self,
        params: &FetchParams,
        partitions: &[FetchPartition],
    ) -> Vec<PartitionRead> {
        let deadline = Instant::now() + params.max_wait;
        // Parked in the purgatory of the partitions it reads, woken by their appends only.
        let waiting = DelayedOperation::new();
        loop {
            let (reads, total) = {
                let _slot = match &self.context().read_slots {
                    Some(slots) => slots.acquire().await.ok(),
                    None => None,
                };
                tokio::task::block_in_place(|| self.read_pass(params, partitions, &waiting))
            };
            let has_error = reads.iter().any(|r| r.error != ErrorCode::NONE);
            if total >= params.min_bytes
                || has_error
                || Instant::now() >= deadline
                || self.is_stopping()
            {
                return reads;
            }
            tokio::select! {
                _ = waiting.wait(deadline) => {}
                _ = self.stopped() => {}
            }
        }
    }

    /// One pass over the partitions: the reads and the bytes they carry. Blocking.
    fn read_pass(
        &self,
        params: &FetchParams,
        partitions: &[FetchPartition],
        waiting: &DelayedOperation,
    ) -> (Vec<PartitionRead>, usize) {
        // The client's max_bytes, capped by the broker's fetch.max.bytes.
        let mut remaining = params.max_bytes.min(self.context().fetch_max_bytes).max(1);
        let mut total = 0usize;
        let reads = partitions
            .iter()
            .map(|p| {
                let Some(topic) = &p.topic else {
                    return PartitionRead::error(ErrorCode::UNKNOWN_TOPIC_ID);
                };
                let read = self.read_partition(params, topic, p, (remaining, total), waiting);
                let len = read.records.len() as usize;
                remaining = remaining.saturating_sub(len);
                total += len;
                read
            })
            .collect();
        (reads, total)
    }

    /// One partition's read, with `(remaining, total)` bytes of the response's budget.
    fn read_partition(
        &self,
        params: &FetchParams,
        topic: &str,
        p: &FetchPartition,
        (remaining, total): (usize, usize),
        waiting: &DelayedOperation,
    ) -> PartitionRead {
        let replica = params.replica_id;
        let ctx = self.context();
        // KIP-392: with the rack-aware selector, a follower serves consumers (up to its own
        // high watermark), and the leader points a consumer of another rack to an in-sync
        // replica in the consumer's rack.
        let follower = (replica < 0 && ctx.rack_aware_selector)
            .then(|| self.get(topic, p.partition))
            .flatten()
            .filter(|part| matches!(part.role(), Role::Follower { .. }));
        let (partition, leading) = match follower {
            Some(partition) => (partition, false),
            None => match self.leader_partition(topic, p.partition) {
                Ok(partition) => (partition, true),
                Err(code) => return PartitionRead::error(code),
            },
        };
        if leading && replica < 0 && params.preferred_replica && !params.rack.is_empty() {
            if let Some(preferred) = self.preferred_read_replica(&partition, p, &params.rack) {
                let mut read = PartitionRead::offsets(
                    ErrorCode::NONE,
                    partition.high_watermark(),
                    partition.log_start_offset(),
                );
                read.preferred_read_replica = preferred;
                return read;
            }
        }
        if replica >= 0 && p.last_fetched_epoch >= 0 {
            // A follower whose last epoch ends here before its fetch offset diverged: it
            // truncates to where the logs agree before fetching on (KIP-320).
            if let Some(diverging) = diverging_epoch(&partition, p) {
                return diverging;
            }
        }
        // A throttled follower (`leader.replication.throttled.replicas`) gets nothing while
        // the leader's `leader.replication.throttled.rate` budget is spent.
        let throttle = (replica >= 0)
            .then(|| self.throttle_rate("leader.replication.throttled.rate"))
            .flatten()
            .filter(|_| {
                self.is_throttled_replica(
                    "leader.replication.throttled.replicas",
                    topic,
                    p.partition,
                    replica,
                )
            });
        // What the budget allows now (at least one batch once it is positive).
        let budget = throttle.map(|rate| self.leader_throttle.available(rate));
        let held_back = budget == Some(0);
        let max_bytes = usize::try_from(p.max_bytes).unwrap_or(0).min(remaining) as u64;
        let spec = ReadSpec {
            offset: p.fetch_offset,
            max_bytes: budget.map_or(max_bytes, |b| b.min(max_bytes)),
            isolation: if replica >= 0 {
                FetchIsolation::LogEnd
            } else {
                FetchIsolation::HighWatermark
            },
            // KIP-74: the first partition with data returns at least one whole batch; a
            // throttled one, one batch whenever its budget is positive.
            min_one_batch: (total == 0 || budget.is_some()) && !held_back,
            current_leader_epoch: p.current_leader_epoch,
        };
        let read = match read_watched(&partition, &spec, waiting) {
            Ok(r) => r,
            Err(code) => {
                let mut e = PartitionRead::error(code);
                e.high_watermark = partition.high_watermark();
                e.log_start_offset = partition.log_start_offset();
                return e;
            }
        };
        if replica >= 0 {
            self.follower_fetched(
                topic,
                p.partition,
                replica,
                p.fetch_offset,
                read.log_end_offset,
                crate::time::now_ms(),
            );
        }
        let mut out =
            PartitionRead::offsets(ErrorCode::NONE, read.high_watermark, read.log_start_offset);
        let Some(region) = read.records else {
            return out;
        };
        let zero_copy = params.zstd
            && usize::try_from(region.length)
                .is_ok_and(|len| (SPLICE_MIN_BYTES..=SPLICE_MAX_BYTES).contains(&len));
        out.records = if zero_copy {
            FetchedRecords::File(region)
        } else {
            match region.read_bytes() {
                Ok(bytes) if !params.zstd && has_zstd(&bytes) => {
                    return PartitionRead::error(ErrorCode::UNSUPPORTED_COMPRESSION_TYPE)
                }
                Ok(bytes) => FetchedRecords::Bytes(bytes),
                Err(e) => {
                    let what = format!("reading a segment failed: {e}");
                    self.storage_failed(topic, p.partition, &what);
                    return PartitionRead::error(ErrorCode::KAFKA_STORAGE_ERROR);
                }
            }
        };
        if let Some(rate) = throttle {
            self.leader_throttle.record(out.records.len(), rate);
        }
        out
    }

    /// The in-sync replica in the consumer's rack to read from instead of this leader (one
    /// whose log reaches the fetch offset), when the rack-aware selector is on and this leader
    /// is not in that rack.
    fn preferred_read_replica(
        &self,
        partition: &Partition,
        p: &FetchPartition,
        rack: &str,
    ) -> Option<i32> {
        let ctx = self.context();
        if !ctx.rack_aware_selector || ctx.rack.as_deref() == Some(rack) {
            return None;
        }
        let (_, isr, _) = partition.replication();
        let followers = partition.followers();
        let brokers = ctx.metadata.as_ref()?.brokers();
        isr.into_iter().find(|r| {
            *r != ctx.node_id
                && brokers
                    .iter()
                    .any(|b| b.id == *r && !b.fenced && b.rack.as_deref() == Some(rack))
                && followers
                    .iter()
                    .any(|(id, f)| id == r && f.log_end_offset >= p.fetch_offset)
        })
    }
}

/// Whole batches as `spec` asks; `operation` (a waiting fetch) is registered to be woken
/// when the partition grows, before the read, so no append is missed. Blocking (it may
/// open a segment).
fn read_watched(
    partition: &Partition,
    spec: &ReadSpec,
    operation: &DelayedOperation,
) -> Result<ReadResult, ErrorCode> {
    let follower = spec.isolation == FetchIsolation::LogEnd;
    if follower {
        partition.watch_log_end(operation);
    } else {
        partition.watch(operation);
    }
    partition.check_epoch(spec.current_leader_epoch)?;
    partition.read(spec.offset, spec.max_bytes, spec.min_one_batch, follower)
}

/// A follower's fetch whose last fetched epoch does not end where this leader's log says:
/// the answer naming the epoch and its end offset here (epoch -1 and the log start when this
/// log no longer knows that epoch).
fn diverging_epoch(partition: &Partition, p: &FetchPartition) -> Option<PartitionRead> {
    let (epoch, end) = partition.end_offset_for_leader_epoch(p.last_fetched_epoch);
    if epoch == p.last_fetched_epoch && end >= p.fetch_offset {
        return None;
    }
    let (epoch, end) = if epoch < 0 {
        (-1, partition.log_start_offset())
    } else {
        (epoch, end)
    };
    let mut read = PartitionRead::offsets(
        ErrorCode::NONE,
        partition.high_watermark(),
        partition.log_start_offset(),
    );
    read.diverging_epoch = Some((epoch, end));
    Some(read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::test_support::{batch, manager, runtime};
    use crate::replication::{AppendEntry, AppendOrigin, AppendParams, AppendRules};
    use std::sync::Arc;

    fn params(replica_id: i32, min_bytes: usize, max_wait_ms: u64) -> FetchParams {
        FetchParams {
            replica_id,
            min_bytes,
            max_bytes: 1 << 20,
            max_wait: Duration::from_millis(max_wait_ms),
            rack: String::new(),
            zstd: true,
            preferred_replica: true,
        }
    }

    fn partition(topic: Option<&str>, fetch_offset: i64) -> FetchPartition {
        FetchPartition {
            topic: topic.map(str::to_string),
            partition: 0,
            fetch_offset,
            max_bytes: 1 << 20,
            current_leader_epoch: -1,
            last_fetched_epoch: -1,
        }
    }

    fn produce(replicas: &ReplicaManager, topic: &str, value: &[u8]) {
        let params = AppendParams {
            acks: 1,
            timeout: Duration::from_secs(1),
            origin: AppendOrigin::Client,
            rules: AppendRules::ANY,
            entries: vec![AppendEntry {
                topic: topic.into(),
                partition: 0,
                records: batch(&[value], Compression::None),
            }],
        };
        let result = runtime().block_on(replicas.append(params));
        assert_eq!(result[0].error, ErrorCode::NONE);
    }

    #[test]
    fn each_partition_is_answered_in_order_with_its_error_or_records() {
        let dir = tempfile::tempdir().unwrap();
        let replicas = manager(dir.path(), &[("a", 1, &[1]), ("f", 2, &[1, 2])]);
        produce(&replicas, "a", b"x");
        let reads = runtime().block_on(replicas.fetch(
            &params(-1, 0, 0),
            &[
                partition(None, 0),
                partition(Some("a"), 0),
                partition(Some("f"), 0),
                partition(Some("a"), 5),
            ],
        ));
        let codes: Vec<ErrorCode> = reads.iter().map(|r| r.error).collect();
        assert_eq!(
            codes,
            [
                ErrorCode::UNKNOWN_TOPIC_ID,
                ErrorCode::NONE,
                ErrorCode::NOT_LEADER_OR_FOLLOWER,
                ErrorCode::OFFSET_OUT_OF_RANGE
            ]
        );
        let FetchedRecords::Bytes(bytes) = &reads[1].records else {
            panic!("a small read comes as bytes")
        };
        let batches: Vec<_> = BatchIter::new(bytes.clone()).collect();
        assert_eq!(batches.len(), 1);
        assert_eq!(
            (batches[0].0.base_offset, batches[0].0.records_count),
            (0, 1)
        );
        assert_eq!((reads[1].high_watermark, reads[1].log_start_offset), (1, 0));
    }

    #[test]
    fn below_min_bytes_a_fetch_waits_until_its_partition_grows() {
        let dir = tempfile::tempdir().unwrap();
        let replicas = Arc::new(manager(dir.path(), &[("a", 1, &[1]), ("b", 1, &[1])]));
        let rt = runtime();
        // Nothing arrives: the fetch answers empty at max_wait.
        let started = std::time::Instant::now();
        let reads = rt.block_on(replicas.fetch(&params(-1, 1, 200), &[partition(Some("a"), 0)]));
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(reads[0].records.is_empty());
        // An append to another partition does not answer it; one to its own does.
        let waiting = {
            let r = replicas.clone();
            rt.spawn(async move {
                r.fetch(&params(-1, 1, 30_000), &[partition(Some("a"), 0)])
                    .await
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        produce(&replicas, "b", b"elsewhere");
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !waiting.is_finished(),
            "woken by another partition's append"
        );
        produce(&replicas, "a", b"here");
        let reads = rt.block_on(waiting).unwrap();
        assert_eq!(reads[0].error, ErrorCode::NONE);
        assert!(!reads[0].records.is_empty());
    }

    #[test]
    fn a_follower_whose_last_epoch_diverged_is_told_where_the_logs_agree() {
        let dir = tempfile::tempdir().unwrap();
        let replicas = manager(dir.path(), &[("r", 1, &[1, 2])]);
        produce(&replicas, "r", b"x");
        produce(&replicas, "r", b"y");
        // The follower claims epoch 0 ran to offset 5; here it ends at 2.
        let mut p = partition(Some("r"), 5);
        p.last_fetched_epoch = 0;
        let reads = runtime().block_on(replicas.fetch(&params(2, 0, 0), &[p]));
        assert_eq!(reads[0].error, ErrorCode::NONE);
        assert_eq!(reads[0].diverging_epoch, Some((0, 2)));
        assert!(reads[0].records.is_empty());
        // A follower in step reads up to the log end, past the high watermark.
        let mut p = partition(Some("r"), 0);
        p.last_fetched_epoch = 0;
        let reads = runtime().block_on(replicas.fetch(&params(2, 0, 0), &[p]));
        assert_eq!(reads[0].diverging_epoch, None);
        assert_eq!(
            BatchIter::new(match &reads[0].records {
                FetchedRecords::Bytes(b) => b.clone(),
                FetchedRecords::File(_) => panic!("small reads are bytes"),
            })
            .count(),
            2
        );
        assert_eq!(reads[0].high_watermark, 0, "follower 2 had not fetched yet");
    }
}
