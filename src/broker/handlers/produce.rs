//! Produce: the request becomes one [`ReplicaManager::append`](crate::replication::ReplicaManager::append)
//! (validation, leader check, append and the acks=all wait live there) and its results the
//! response. Produce v0–2 is advertised only because librdkafka needs it (KAFKA-18659) and
//! is refused; a transactional produce is refused as ARCHITECTURE.md says.

use super::Outcome;
use crate::broker::Broker;
use crate::protocol::messages::produce_request::ProduceRequest;
use crate::protocol::messages::produce_response::{
    NodeEndpoint, PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};
use crate::protocol::{ErrorCode, ResponseBody};
use crate::replication::{AppendEntry, AppendOrigin, AppendParams, AppendResult, AppendRules};
use std::sync::Arc;
use std::time::Duration;

/// Why the whole request is refused, if it is.
fn refusal(request: &ProduceRequest, version: i16) -> Option<(ErrorCode, String)> {
    if version < 3 {
        return Some((
            ErrorCode::UNSUPPORTED_VERSION,
            "Produce v0-2 (message format v0/v1) is not supported; use v3 or later".into(),
        ));
    }
    let transactional_id = request.transactional_id.as_deref().unwrap_or_default();
    if !transactional_id.is_empty() {
        tracing::info!(transactional_id = ?request.transactional_id, "refusing a transactional produce: transactions are not supported");
        return Some((
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            "transactions are not supported by this broker".into(),
        ));
    }
    None
}

pub async fn handle(
    broker: &Arc<Broker>,
    request: ProduceRequest,
    version: i16,
    listener: usize,
) -> Outcome {
    let entries: Vec<AppendEntry> = request
        .topic_data
        .iter()
        .flat_map(|t| {
            t.partition_data.iter().map(|p| AppendEntry {
                topic: t.name.clone(),
                partition: p.index,
                records: p.records.clone().unwrap_or_default(),
            })
        })
        .collect();
    let results = match refusal(&request, version) {
        Some((code, why)) => (entries.iter())
            .map(|_| AppendResult::refused(code, why.clone()))
            .collect(),
        None => {
            let params = AppendParams {
                acks: request.acks,
                timeout: Duration::from_millis(request.timeout_ms.max(0) as u64),
                origin: AppendOrigin::Client,
                rules: AppendRules::produce(version >= 7),
                entries,
            };
            broker.replicas.append(params).await
        }
    };
    let mut results = results.into_iter();
    let mut any_error = false;
    // KIP-951 (Produce v10+): where the partitions this broker does not lead went.
    let mut hints = super::LeaderHints::new(broker, listener, version >= 10);
    let mut responses = Vec::with_capacity(request.topic_data.len());
    for t in &request.topic_data {
        let mut partition_responses = Vec::with_capacity(t.partition_data.len());
        for (p, a) in t.partition_data.iter().zip(results.by_ref()) {
            if a.error == ErrorCode::NONE {
                let bytes = p.records.as_ref().map_or(0, |b| b.len() as u64);
                (broker.metrics).bytes_in(&t.name, bytes, a.record_count as u64);
            }
            any_error |= a.error != ErrorCode::NONE;
            let mut r = PartitionProduceResponse {
                index: p.index,
                error_code: a.error.0,
                error_message: a.message,
                base_offset: a.base_offset,
                log_append_time_ms: a.log_append_time,
                log_start_offset: a.log_start_offset,
                ..Default::default()
            };
            let hint = hints.get(&t.name, p.index, r.error_code);
            if let Some((leader, epoch)) = hint {
                (r.current_leader.leader_id, r.current_leader.leader_epoch) = (leader, epoch);
            }
            partition_responses.push(r);
        }
        responses.push(TopicProduceResponse {
            name: t.name.clone(),
            partition_responses,
            ..Default::default()
        });
    }
    if request.acks == 0 {
        // No answer; a failure closes the connection so the client notices.
        return if any_error {
            Outcome::Close("an acks=0 produce failed".into())
        } else {
            Outcome::NoResponse
        };
    }
    Outcome::Respond(ResponseBody::Produce(ProduceResponse {
        responses,
        node_endpoints: node_endpoints!(hints.endpoints, NodeEndpoint),
        ..Default::default()
    }))
}
