//! Fetch: the request becomes one [`ReplicaManager::fetch`](crate::replication::ReplicaManager::fetch)
//! (leader checks, reads, the long-poll wait and follower progress live there) and its reads
//! the response. Fetch sessions are declined (session id 0: every fetch is a full fetch);
//! records read as file regions go out with `sendfile` behind placeholders
//! ([`splice`]).

use crate::broker::splice;
use crate::broker::Broker;
use crate::protocol::messages::fetch_request::FetchRequest;
use crate::protocol::messages::fetch_response::{
    FetchResponse, FetchableTopicResponse, NodeEndpoint, PartitionData,
};
use crate::protocol::ResponseBody;
use crate::replication::{FetchParams, FetchPartition, FetchedRecords, FileRegion};
use std::sync::Arc;
use std::time::Duration;

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
        .map(|t| match version {
            13.. => broker.metadata.topic_name_by_id(&t.topic_id),
            _ => Some(t.topic.clone()),
        })
        .collect();
    let params = FetchParams {
        replica_id: match version {
            15.. => request.replica_state.replica_id,
            _ => request.replica_id,
        },
        min_bytes: usize::try_from(request.min_bytes).unwrap_or(0),
        max_bytes: usize::try_from(request.max_bytes).unwrap_or(0),
        max_wait: Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0)),
        rack: request.rack_id.clone(),
        zstd: version >= 10,
        preferred_replica: version >= 11,
    };
    let partitions: Vec<FetchPartition> = request
        .topics
        .iter()
        .zip(&names)
        .flat_map(|(t, name)| {
            t.partitions.iter().map(|p| FetchPartition {
                topic: name.clone(),
                partition: p.partition,
                fetch_offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes,
                current_leader_epoch: p.current_leader_epoch,
                last_fetched_epoch: p.last_fetched_epoch,
            })
        })
        .collect();
    let mut reads = broker
        .replicas
        .fetch(&params, &partitions)
        .await
        .into_iter();
    let mut regions = Vec::new();
    // KIP-951 (v12+): the current leader of a partition this broker does not lead.
    let mut hints = super::LeaderHints::new(broker, listener, version >= 12);
    let mut responses = Vec::with_capacity(request.topics.len());
    for (t, name) in request.topics.iter().zip(&names) {
        let mut out = Vec::with_capacity(t.partitions.len());
        for (p, read) in t.partitions.iter().zip(reads.by_ref()) {
            let mut data = PartitionData {
                partition_index: p.partition,
                error_code: read.error.0,
                high_watermark: read.high_watermark,
                last_stable_offset: read.last_stable_offset,
                log_start_offset: read.log_start_offset,
                preferred_read_replica: read.preferred_read_replica,
                ..Default::default()
            };
            if let Some((epoch, end_offset)) = read.diverging_epoch {
                (data.diverging_epoch.epoch, data.diverging_epoch.end_offset) = (epoch, end_offset);
            }
            if let Some(name) = name.as_deref().filter(|_| !read.records.is_empty()) {
                broker.metrics.bytes_out(name, read.records.len());
            }
            if let Some((leader, epoch)) =
                hints.get(name.as_deref().unwrap_or(""), p.partition, data.error_code)
            {
                data.current_leader.leader_id = leader;
                data.current_leader.leader_epoch = epoch;
            }
            data.records = Some(match read.records {
                FetchedRecords::Bytes(bytes) => bytes,
                // Within the splice sizes (`ReplicaManager::fetch` picks regions by them).
                FetchedRecords::File(region) => match splice::placeholder(&region) {
                    Some(placeholder) => {
                        regions.push(region);
                        placeholder
                    }
                    None => {
                        tracing::error!(
                            len = region.length,
                            "a file region outside the splice sizes"
                        );
                        data.error_code = crate::protocol::ErrorCode::UNKNOWN_SERVER_ERROR.0;
                        Default::default()
                    }
                },
            });
            out.push(data);
        }
        let (topic, topic_id) = match version {
            13.. => (String::new(), t.topic_id),
            _ => (t.topic.clone(), Default::default()),
        };
        responses.push(FetchableTopicResponse {
            topic,
            topic_id,
            partitions: out,
            ..Default::default()
        });
    }
    let node_endpoints = match version {
        16.. => node_endpoints!(hints.endpoints, NodeEndpoint),
        _ => Vec::new(),
    };
    let body = ResponseBody::Fetch(FetchResponse {
        session_id: 0,
        responses,
        node_endpoints,
        ..Default::default()
    });
    (body, regions)
}
