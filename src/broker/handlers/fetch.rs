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
use crate::replication::purgatory::DelayedOperation;
use crate::replication::{FetchIsolation, ReadSpec};
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    waiting: &DelayedOperation,
) -> (Vec<FetchableTopicResponse>, usize, Vec<FileRegion>) {
    let replica = if version >= 15 {
        request.replica_state.replica_id
    } else {
        request.replica_id
    };
    let follower = replica >= 0;
    let isolation = if follower {
        FetchIsolation::LogEnd
    } else {
        FetchIsolation::HighWatermark
    };
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
                    (isolation, replica, request.rack_id.as_str()),
                    version,
                    waiting,
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
    (isolation, replica, rack): (FetchIsolation, i32, &str),
    version: i16,
    waiting: &DelayedOperation,
) -> PartitionData {
    // KIP-392: with the rack-aware selector, a follower serves consumers (up to its own
    // high watermark), and the leader points a consumer of another rack to an in-sync
    // replica in the consumer's rack.
    let follower_read = replica < 0
        && broker.config.rack_aware_replica_selector
        && broker
            .replicas
            .get(topic, p.partition)
            .is_some_and(|part| matches!(part.role(), crate::replication::Role::Follower { .. }));
    if !follower_read {
        if let Err(code) = broker.check_leader(topic, p.partition) {
            return partition_error(p.partition, code);
        }
        if replica < 0 && version >= 11 && !rack.is_empty() {
            if let Some(preferred) = preferred_read_replica(broker, topic, p, rack) {
                let mut data = partition_error(p.partition, ErrorCode::NONE);
                if let Some(part) = broker.replicas.get(topic, p.partition) {
                    data.high_watermark = part.high_watermark();
                    data.last_stable_offset = part.high_watermark();
                    data.log_start_offset = part.log_start_offset();
                }
                data.preferred_read_replica = preferred;
                return data;
            }
        }
    }
    if replica >= 0 && p.last_fetched_epoch >= 0 {
        // A follower whose last epoch ends here before its fetch offset diverged: it
        // truncates to where the logs agree before fetching on (KIP-320).
        if let Some(diverging) = diverging_epoch(broker, topic, p) {
            return diverging;
        }
    }
    let Budget {
        remaining,
        total,
        regions,
    } = budget;
    // A throttled follower (`leader.replication.throttled.replicas`) gets nothing while
    // the leader's `leader.replication.throttled.rate` budget is spent.
    let throttle = (replica >= 0)
        .then(|| broker.throttle_rate("leader.replication.throttled.rate"))
        .flatten()
        .filter(|_| {
            broker.is_throttled_replica(
                "leader.replication.throttled.replicas",
                topic,
                p.partition,
                replica,
            )
        });
    // What the budget allows now (at least one batch once it is positive).
    let budget = throttle.map(|rate| broker.leader_throttle.available(rate));
    let held_back = budget == Some(0);
    let max_bytes = usize::try_from(p.partition_max_bytes)
        .unwrap_or(0)
        .min(*remaining) as u64;
    let spec = ReadSpec {
        offset: p.fetch_offset,
        max_bytes: budget.map_or(max_bytes, |b| b.min(max_bytes)),
        isolation,
        // KIP-74: the first partition with data returns at least one whole batch; a
        // throttled one, one batch whenever its budget is positive.
        min_one_batch: (*total == 0 || budget.is_some()) && !held_back,
        current_leader_epoch: p.current_leader_epoch,
    };
    let read = match tokio::task::block_in_place(|| {
        broker
            .replicas
            .read(topic, p.partition, &spec, Some(waiting))
    }) {
        Ok(r) => r,
        Err(code) => {
            let mut e = partition_error(p.partition, code);
            if let Some(partition) = broker.replicas.get(topic, p.partition) {
                e.high_watermark = partition.high_watermark();
                e.log_start_offset = partition.log_start_offset();
            }
            return e;
        }
    };
    if replica >= 0 {
        broker.replicas.follower_fetched(
            topic,
            p.partition,
            replica,
            p.fetch_offset,
            read.log_end_offset,
            crate::time::now_ms(),
        );
    }
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
            broker.metrics.bytes_out(topic, region.length);
            if let Some(rate) = throttle {
                broker.leader_throttle.record(region.length, rate);
            }
            data.records = Some(placeholder);
            regions.push(region);
            return data;
        }
        match tokio::task::block_in_place(|| region.read_bytes()) {
            Ok(bytes) if version < 10 && has_zstd(&bytes) => {
                return partition_error(p.partition, ErrorCode::UNSUPPORTED_COMPRESSION_TYPE)
            }
            Ok(bytes) => {
                broker.metrics.bytes_out(topic, bytes.len() as u64);
                if let Some(rate) = throttle {
                    broker.leader_throttle.record(bytes.len() as u64, rate);
                }
                *remaining = remaining.saturating_sub(bytes.len());
                *total += bytes.len();
                data.records = Some(bytes);
            }
            Err(e) => {
                let what = format!("reading a segment failed: {e}");
                broker.replicas.storage_failed(topic, p.partition, &what);
                return partition_error(p.partition, ErrorCode::KAFKA_STORAGE_ERROR);
            }
        }
    }
    data
}

/// The in-sync replica in the consumer's rack to read from instead of this leader (one
/// whose log reaches the fetch offset), when the rack-aware selector is on and this leader
/// is not in that rack.
fn preferred_read_replica(
    broker: &Broker,
    topic: &str,
    p: &FetchPartition,
    rack: &str,
) -> Option<i32> {
    if !broker.config.rack_aware_replica_selector || broker.config.rack.as_deref() == Some(rack) {
        return None;
    }
    let partition = broker.replicas.get(topic, p.partition)?;
    let (_, isr, _) = partition.replication();
    let followers = partition.followers();
    let brokers = broker.metadata.brokers();
    isr.into_iter().find(|r| {
        *r != broker.node_id
            && brokers
                .iter()
                .any(|b| b.id == *r && !b.fenced && b.rack.as_deref() == Some(rack))
            && followers
                .iter()
                .any(|(id, f)| id == r && f.log_end_offset >= p.fetch_offset)
    })
}

/// A follower's fetch whose last fetched epoch does not end where this leader's log says:
/// the answer naming the epoch and its end offset here (epoch -1 and the log start when this
/// log no longer knows that epoch).
fn diverging_epoch(broker: &Broker, topic: &str, p: &FetchPartition) -> Option<PartitionData> {
    let partition = broker.replicas.get(topic, p.partition)?;
    let (epoch, end) = partition.end_offset_for_leader_epoch(p.last_fetched_epoch);
    if epoch == p.last_fetched_epoch && end >= p.fetch_offset {
        return None;
    }
    let (epoch, end) = if epoch < 0 {
        (-1, partition.log_start_offset())
    } else {
        (epoch, end)
    };
    let mut data = PartitionData {
        partition_index: p.partition,
        high_watermark: partition.high_watermark(),
        last_stable_offset: partition.high_watermark(),
        log_start_offset: partition.log_start_offset(),
        records: Some(Bytes::new()),
        ..Default::default()
    };
    data.diverging_epoch.epoch = epoch;
    data.diverging_epoch.end_offset = end;
    Some(data)
}

/// The response, and the file regions its placeholder records stand for (in order).
pub async fn handle(
    broker: &Arc<Broker>,
    request: FetchRequest,
    version: i16,
    listener: usize,
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
    // Parked in the purgatory of the partitions it reads, woken by their appends only.
    let waiting = DelayedOperation::new();
    let mut shutdown = broker.shutdown_signal();
    let (responses, regions) = loop {
        let (topics, total, regions) = {
            let Ok(_slot) = broker.request_slots.acquire().await else {
                break (Vec::new(), Vec::new());
            };
            read_all(broker, &request, &names, version, &waiting)
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
            _ = waiting.wait(deadline) => {}
            _ = shutdown.wait_for(|s| *s) => {}
        }
    };
    // KIP-951: current leader (v12+) and its endpoint (v16+) for the partitions this
    // broker does not lead.
    let mut responses = responses;
    let mut endpoints = std::collections::BTreeMap::new();
    if version >= 12 && broker.is_cluster() {
        for (t, name) in responses.iter_mut().zip(&names) {
            let Some(name) = name else { continue };
            for p in &mut t.partitions {
                if [
                    ErrorCode::NOT_LEADER_OR_FOLLOWER.0,
                    ErrorCode::FENCED_LEADER_EPOCH.0,
                ]
                .contains(&p.error_code)
                {
                    if let Some((leader, epoch)) = super::leader_hint(
                        broker,
                        name,
                        p.partition_index,
                        listener,
                        &mut endpoints,
                    ) {
                        p.current_leader.leader_id = leader;
                        p.current_leader.leader_epoch = epoch;
                    }
                }
            }
        }
    }
    let node_endpoints = if version >= 16 {
        endpoints
            .into_iter()
            .map(|(node_id, (host, port, rack))| {
                crate::protocol::messages::fetch_response::NodeEndpoint {
                    node_id,
                    host,
                    port,
                    rack,
                    ..Default::default()
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let body = ResponseBody::Fetch(FetchResponse {
        session_id: 0,
        responses,
        node_endpoints,
        ..Default::default()
    });
    (body, regions)
}
