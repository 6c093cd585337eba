//! Produce: per partition, validation and append through `ReplicaManager::append_records`
//! (acks 0/1/all; `all` refused below `min.insync.replicas`, then answered once the high
//! watermark passes the records — a purgatory wait, at once on one node). Produce
//! v0–2 is advertised only because librdkafka needs it (KAFKA-18659) and is refused; a
//! transactional produce is refused as ARCHITECTURE.md says.

use super::Outcome;
use crate::broker::Broker;
use crate::protocol::messages::produce_request::ProduceRequest;
use crate::protocol::messages::produce_response::{
    PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};
use crate::protocol::record_batch::BatchIter;
use crate::protocol::{Compression, ErrorCode, ResponseBody};
use crate::time::now_ms;
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn failed(index: i32, code: ErrorCode, message: impl Into<String>) -> PartitionProduceResponse {
    PartitionProduceResponse {
        index,
        error_code: code.0,
        base_offset: -1,
        log_append_time_ms: -1,
        log_start_offset: -1,
        error_message: Some(message.into()),
        ..Default::default()
    }
}

/// Checks that hold before the log sees the records.
fn precheck(records: &Bytes, version: i16) -> Result<(), (ErrorCode, String)> {
    let mut batches = BatchIter::new(records.clone());
    let mut count = 0;
    for (header, _) in batches.by_ref() {
        count += 1;
        if version < 7 && header.compression() == Some(Compression::Zstd) {
            return Err((
                ErrorCode::UNSUPPORTED_COMPRESSION_TYPE,
                "zstd needs Produce v7 or later".into(),
            ));
        }
    }
    if count != 1 && !batches.partial_tail() {
        return Err((
            ErrorCode::INVALID_RECORD,
            format!("Produce v3+ carries exactly one record batch per partition, not {count}"),
        ));
    }
    Ok(())
}

/// A partition's answer, and after an append the offset just past its records (what the high
/// watermark must reach for acks=all).
fn produce_partition(
    broker: &Broker,
    topic: &str,
    index: i32,
    records: Option<Bytes>,
    acks: i16,
    version: i16,
) -> (PartitionProduceResponse, Option<(i32, i64)>) {
    if crate::metadata::is_internal_topic(topic) {
        let why = format!("Cannot append to internal topic {topic}");
        return (failed(index, ErrorCode::INVALID_TOPIC_EXCEPTION, why), None);
    }
    if let Err(code) = broker.check_leader(topic, index) {
        let why = format!("this broker does not lead {topic}-{index}");
        return (failed(index, code, why), None);
    }
    if broker.replicas.get(topic, index).is_none() {
        let why = format!("{topic}-{index} does not exist");
        return (
            failed(index, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, why),
            None,
        );
    }
    let records = records.unwrap_or_default();
    if let Err((code, why)) = precheck(&records, version) {
        return (failed(index, code, why), None);
    }
    let appended = tokio::task::block_in_place(|| {
        broker
            .replicas
            .append_records(topic, index, &records, acks, now_ms())
    });
    match appended {
        Ok(info) => {
            broker
                .metrics
                .bytes_in(topic, records.len() as u64, info.record_count.max(0) as u64);
            (
                PartitionProduceResponse {
                    index,
                    error_code: 0,
                    base_offset: info.base_offset,
                    log_append_time_ms: info.log_append_time,
                    log_start_offset: info.log_start_offset,
                    ..Default::default()
                },
                Some((info.leader_epoch, info.last_offset + 1)),
            )
        }
        Err(e) => {
            tracing::debug!(topic, partition = index, error = %e, "produce refused");
            (failed(index, e.code, e.message), None)
        }
    }
}

pub async fn handle(
    broker: &Arc<Broker>,
    request: ProduceRequest,
    version: i16,
    listener: usize,
) -> Outcome {
    let refuse_all: Option<(ErrorCode, String)> = if version < 3 {
        Some((
            ErrorCode::UNSUPPORTED_VERSION,
            "Produce v0-2 (message format v0/v1) is not supported; use v3 or later".into(),
        ))
    } else if request
        .transactional_id
        .as_deref()
        .is_some_and(|t| !t.is_empty())
    {
        tracing::info!(transactional_id = ?request.transactional_id, "refusing a transactional produce: transactions are not supported");
        Some((
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            "transactions are not supported by this broker".into(),
        ))
    } else if !matches!(request.acks, -1..=1) {
        Some((
            ErrorCode::INVALID_REQUIRED_ACKS,
            format!("acks must be -1, 0 or 1, not {}", request.acks),
        ))
    } else {
        None
    };
    let mut any_error = false;
    let mut responses = Vec::with_capacity(request.topic_data.len());
    // acks=all: (topic position, partition position, leader epoch of the append, offset the
    // high watermark must reach).
    let mut pending: Vec<(usize, usize, i32, i64)> = Vec::new();
    for topic in request.topic_data {
        let mut partition_responses = Vec::with_capacity(topic.partition_data.len());
        for p in topic.partition_data {
            let (r, end) = match &refuse_all {
                Some((code, why)) => (failed(p.index, *code, why.clone()), None),
                None => produce_partition(
                    broker,
                    &topic.name,
                    p.index,
                    p.records,
                    request.acks,
                    version,
                ),
            };
            any_error |= r.error_code != 0;
            if let Some((epoch, end)) = end.filter(|_| request.acks == -1) {
                pending.push((responses.len(), partition_responses.len(), epoch, end));
            }
            partition_responses.push(r);
        }
        responses.push(TopicProduceResponse {
            name: topic.name,
            partition_responses,
            ..Default::default()
        });
    }
    if !pending.is_empty() {
        await_replication(broker, &mut responses, &pending, request.timeout_ms).await;
    }
    if request.acks == 0 {
        // No answer; a failure closes the connection so the client notices.
        return if any_error {
            Outcome::Close("an acks=0 produce failed".into())
        } else {
            Outcome::NoResponse
        };
    }
    // KIP-951 (Produce v10+): where the partitions this broker does not lead went.
    let mut endpoints = std::collections::BTreeMap::new();
    if version >= 10 && broker.is_cluster() {
        for t in &mut responses {
            for p in &mut t.partition_responses {
                if [
                    ErrorCode::NOT_LEADER_OR_FOLLOWER.0,
                    ErrorCode::FENCED_LEADER_EPOCH.0,
                ]
                .contains(&p.error_code)
                {
                    if let Some((leader, epoch)) =
                        super::leader_hint(broker, &t.name, p.index, listener, &mut endpoints)
                    {
                        p.current_leader.leader_id = leader;
                        p.current_leader.leader_epoch = epoch;
                    }
                }
            }
        }
    }
    Outcome::Respond(ResponseBody::Produce(ProduceResponse {
        responses,
        node_endpoints: endpoints
            .into_iter()
            .map(|(node_id, (host, port, rack))| {
                crate::protocol::messages::produce_response::NodeEndpoint {
                    node_id,
                    host,
                    port,
                    rack,
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    }))
}

/// acks=all: waits (in the purgatory, woken only by these partitions) until the in-sync
/// replicas have every appended batch; a partition still short of it at `timeout_ms` answers
/// REQUEST_TIMED_OUT, as Kafka's `DelayedProduce`. Its records stay in the log.
async fn await_replication(
    broker: &Broker,
    responses: &mut [TopicProduceResponse],
    pending: &[(usize, usize, i32, i64)],
    timeout_ms: i32,
) {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms.max(0) as u64);
    let watched: Vec<(&str, i32, i32, i64)> = pending
        .iter()
        .map(|&(t, p, epoch, end)| {
            let topic = responses[t].name.as_str();
            (topic, responses[t].partition_responses[p].index, epoch, end)
        })
        .collect();
    // A broker that stops answers at once (clients retry at the new leaders) rather than
    // holding the produce to its deadline.
    let mut stop = broker.shutdown_signal();
    let outcomes = tokio::select! {
        o = broker.replicas.await_acks(&watched, deadline) => o,
        _ = stop.wait_for(|s| *s) => vec![Err(ErrorCode::NOT_LEADER_OR_FOLLOWER); watched.len()],
    };
    for (&(t, p, _, _), outcome) in pending.iter().zip(outcomes) {
        let Err(code) = outcome else { continue };
        let r = &mut responses[t].partition_responses[p];
        r.error_code = code.0;
        r.error_message = Some(match code {
            ErrorCode::REQUEST_TIMED_OUT => {
                format!("the in-sync replicas did not have the records within {timeout_ms} ms")
            }
            ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND => {
                "the records were written while the ISR was below min.insync.replicas".into()
            }
            _ => "this broker lost the partition's leadership before the records were replicated"
                .into(),
        });
    }
}
