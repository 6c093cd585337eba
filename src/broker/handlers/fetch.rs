//! Fetch: whole batches from each partition up to the high watermark, sent as stored. Below
//! `min_bytes` the request waits until one of its partitions grows (an append wakes only the
//! fetches waiting on its partition) or `max_wait_ms` passes. Each read pass holds a
//! `queued.max.requests` slot; the wait holds none, as in Kafka's purgatory. Fetch sessions are declined (session id 0: every fetch is a full fetch);
//! `read_committed` sees last stable offset = high watermark. Consumers below Fetch v10
//! never get zstd batches (UNSUPPORTED_COMPRESSION_TYPE for that partition).

use crate::broker::splice;
use crate::broker::Broker;
use crate::log::segment::FileRegion;
use crate::protocol::messages::fetch_request::{FetchPartition, FetchRequest};
use crate::protocol::messages::fetch_response::{
    FetchResponse, FetchableTopicResponse, PartitionData,
};
use crate::protocol::record_batch::BatchIter;
use crate::protocol::{Compression, ErrorCode, ResponseBody};
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

fn partition_error(index: i32, code: ErrorCode) -> PartitionData {
    PartitionData {
        partition_index: index,
        error_code: code.0,
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        records: Some(Bytes::new()),
        ..Default::default()
    }
}

fn has_zstd(records: &Bytes) -> bool {
    BatchIter::new(records.clone()).any(|(h, _)| h.compression() == Some(Compression::Zstd))
}

/// One pass over the requested partitions: the answer, the bytes it carries, and the file
/// regions its placeholder records stand for.
fn read_all(
    broker: &Broker,
    request: &FetchRequest,
    names: &[Option<String>],
    version: i16,
    waiter: &Arc<Notify>,
) -> (Vec<FetchableTopicResponse>, usize, Vec<FileRegion>) {
    let follower = request.replica_id >= 0 || request.replica_state.replica_id >= 0;
    // The client's max_bytes, capped by the broker's fetch.max.bytes.
    let mut remaining = usize::try_from(request.max_bytes)
        .unwrap_or(0)
        .min(broker.config.fetch_max_bytes)
        .max(1);
    let mut total = 0usize;
    let mut regions = Vec::new();
    let mut topics = Vec::with_capacity(request.topics.len());
    for (t, name) in request.topics.iter().zip(names) {
        let partitions = t
            .partitions
            .iter()
            .map(|p| match name {
                None => partition_error(p.partition, ErrorCode::UNKNOWN_TOPIC_ID),
                Some(name) => read_partition(
                    broker,
                    name,
                    p,
                    Budget {
                        remaining: &mut remaining,
                        total: &mut total,
                        regions: &mut regions,
                    },
                    follower,
                    version,
                    waiter,
                ),
            })
            .collect();
        topics.push(FetchableTopicResponse {
            topic: if version < 13 {
                t.topic.clone()
            } else {
                String::new()
            },
            topic_id: if version >= 13 {
                t.topic_id
            } else {
                Default::default()
            },
            partitions,
            ..Default::default()
        });
    }
    (topics, total, regions)
}

/// The response's byte budget: what is left of `max_bytes`, what was read so far, and the
/// regions sent from their files.
struct Budget<'a> {
    remaining: &'a mut usize,
    total: &'a mut usize,
    regions: &'a mut Vec<FileRegion>,
}

fn read_partition(
    broker: &Broker,
    topic: &str,
    p: &FetchPartition,
    budget: Budget<'_>,
    follower: bool,
    version: i16,
    waiter: &Arc<Notify>,
) -> PartitionData {
    let Budget {
        remaining,
        total,
        regions,
    } = budget;
    let Some(partition) = broker.partition(topic, p.partition) else {
        return partition_error(p.partition, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    };
    partition.wake_on_append(waiter);
    if let Err(code) = partition.check_epoch(p.current_leader_epoch) {
        return partition_error(p.partition, code);
    }
    let max = usize::try_from(p.partition_max_bytes)
        .unwrap_or(0)
        .min(*remaining) as u64;
    // KIP-74: the first partition with data returns at least one whole batch.
    let min_one = *total == 0;
    let read = match tokio::task::block_in_place(|| {
        partition.read(p.fetch_offset, max, min_one, follower)
    }) {
        Ok(r) => r,
        Err(code) => {
            let mut e = partition_error(p.partition, code);
            e.high_watermark = partition.high_watermark();
            e.log_start_offset = partition.log.lock().log_start_offset();
            return e;
        }
    };
    let mut data = PartitionData {
        partition_index: p.partition,
        high_watermark: read.high_watermark,
        last_stable_offset: read.high_watermark,
        log_start_offset: read.log_start_offset,
        records: Some(Bytes::new()),
        ..Default::default()
    };
    if let Some(region) = read.records {
        // Fetch v10+ never filters zstd batches, so large regions go out from the file.
        if let Some(placeholder) = (version >= 10)
            .then(|| splice::placeholder(&region))
            .flatten()
        {
            *remaining = remaining.saturating_sub(placeholder.len());
            *total += placeholder.len();
            data.records = Some(placeholder);
            regions.push(region);
            return data;
        }
        match tokio::task::block_in_place(|| region.read_bytes()) {
            Ok(bytes) if version < 10 && has_zstd(&bytes) => {
                return partition_error(p.partition, ErrorCode::UNSUPPORTED_COMPRESSION_TYPE)
            }
            Ok(bytes) => {
                *remaining = remaining.saturating_sub(bytes.len());
                *total += bytes.len();
                data.records = Some(bytes);
            }
            Err(e) => {
                partition
                    .log
                    .fail(&format!("reading a segment failed: {e}"));
                return partition_error(p.partition, ErrorCode::KAFKA_STORAGE_ERROR);
            }
        }
    }
    data
}

/// The response, and the file regions its placeholder records stand for (in order).
pub async fn handle(
    broker: &Arc<Broker>,
    request: FetchRequest,
    version: i16,
) -> (ResponseBody, Vec<FileRegion>) {
    let names: Vec<Option<String>> = request
        .topics
        .iter()
        .map(|t| {
            if version >= 13 {
                broker.metadata.topic_name_by_id(&t.topic_id)
            } else {
                Some(t.topic.clone())
            }
        })
        .collect();
    let deadline =
        Instant::now() + Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0));
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let waiter = Arc::new(Notify::new());
    let mut shutdown = broker.shutdown_signal();
    let (responses, regions) = loop {
        let (topics, total, regions) = {
            let Ok(_slot) = broker.request_slots.acquire().await else {
                break (Vec::new(), Vec::new());
            };
            read_all(broker, &request, &names, version, &waiter)
        };
        let has_error = topics
            .iter()
            .flat_map(|t| &t.partitions)
            .any(|p| p.error_code != 0);
        let now = Instant::now();
        if total >= min_bytes || has_error || now >= deadline || broker.is_shutting_down() {
            break (topics, regions);
        }
        tokio::select! {
            _ = waiter.notified() => {}
            _ = tokio::time::sleep_until(deadline.into()) => {}
            _ = shutdown.changed() => {}
        }
    };
    let body = ResponseBody::Fetch(FetchResponse {
        session_id: 0,
        responses,
        ..Default::default()
    });
    (body, regions)
}
