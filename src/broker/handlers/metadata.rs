//! Metadata (with auto topic creation), DescribeTopicPartitions and DescribeCluster.

use crate::broker::Broker;
use crate::group::OFFSETS_TOPIC;
use crate::metadata::{is_internal_topic, TopicMeta, METADATA_TOPIC};
use crate::protocol::messages::describe_cluster_request::DescribeClusterRequest;
use crate::protocol::messages::describe_cluster_response::{
    DescribeClusterBroker, DescribeClusterResponse,
};
use crate::protocol::messages::describe_topic_partitions_request::DescribeTopicPartitionsRequest;
use crate::protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponse, DescribeTopicPartitionsResponsePartition,
    DescribeTopicPartitionsResponseTopic,
};
use crate::protocol::messages::metadata_request::MetadataRequest;
use crate::protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use crate::protocol::{ErrorCode, ResponseBody, Uuid};
use std::collections::BTreeMap;

/// The replicas of a partition on brokers that are not live (fenced or unregistered); none
/// on a single node.
fn offline(live: Option<&[i32]>, replicas: &[i32]) -> Vec<i32> {
    match live {
        None => Vec::new(),
        Some(live) => replicas
            .iter()
            .copied()
            .filter(|r| !live.contains(r))
            .collect(),
    }
}

/// The unfenced brokers of a cluster (`None` on a single node).
fn live_broker_ids(broker: &Broker) -> Option<Vec<i32>> {
    broker.is_cluster().then(|| {
        broker
            .metadata
            .brokers()
            .iter()
            .filter(|b| !b.fenced)
            .map(|b| b.id)
            .collect()
    })
}

/// A topic as Metadata describes it; `live` lists the unfenced brokers of a cluster. A
/// partition without a leader answers LEADER_NOT_AVAILABLE, as Kafka's.
fn topic_entry(t: &TopicMeta, live: Option<&[i32]>) -> MetadataResponseTopic {
    MetadataResponseTopic {
        name: Some(t.name.clone()),
        topic_id: t.id,
        is_internal: t.is_internal(),
        partitions: t
            .partitions
            .iter()
            .map(|p| MetadataResponsePartition {
                error_code: if p.leader < 0 {
                    ErrorCode::LEADER_NOT_AVAILABLE.0
                } else {
                    0
                },
                partition_index: p.index,
                leader_id: p.leader,
                leader_epoch: p.leader_epoch,
                replica_nodes: p.replicas.clone(),
                isr_nodes: p.isr.clone(),
                offline_replicas: offline(live, &p.replicas),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn error_entry(name: Option<String>, id: Uuid, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: code.0,
        name,
        topic_id: id,
        ..Default::default()
    }
}

pub fn handle(
    broker: &Broker,
    request: MetadataRequest,
    version: i16,
    listener: usize,
) -> ResponseBody {
    let (node_id, host, port) = broker.endpoint(listener);
    let live = live_broker_ids(broker);
    let entry = |t: &TopicMeta| topic_entry(t, live.as_deref());
    let topics = match request.topics {
        // null (v1+) or an empty list at v0: every topic.
        None => broker.metadata.topics().iter().map(entry).collect(),
        Some(list) if list.is_empty() && version == 0 => {
            broker.metadata.topics().iter().map(entry).collect()
        }
        Some(list) => list
            .into_iter()
            .map(|t| {
                let name = match t.name {
                    Some(n) => n,
                    None => match broker.metadata.topic_name_by_id(&t.topic_id) {
                        Some(n) => n,
                        None => return error_entry(None, t.topic_id, ErrorCode::UNKNOWN_TOPIC_ID),
                    },
                };
                if let Some(topic) = broker.metadata.topic(&name) {
                    return topic_entry(&topic, live.as_deref());
                }
                let auto = broker.config.auto_create_topics_enable
                    && (version < 4 || request.allow_auto_topic_creation);
                if auto && name == OFFSETS_TOPIC {
                    // As Kafka: the offsets topic is created on demand, with its own config.
                    let created = tokio::task::block_in_place(|| broker.ensure_offsets_topic());
                    if let (Ok(()), Some(topic)) = (created, broker.metadata.topic(&name)) {
                        return topic_entry(&topic, live.as_deref());
                    }
                }
                if !auto || name == METADATA_TOPIC || is_internal_topic(&name) {
                    return error_entry(
                        Some(name),
                        Uuid::ZERO,
                        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    );
                }
                match tokio::task::block_in_place(|| {
                    broker.create_topic(&name, -1, -1, &BTreeMap::new(), false)
                }) {
                    // Usable at once on one node, so answered like any other topic.
                    Ok(topic) => topic_entry(&topic, live.as_deref()),
                    Err(e) if e.code == ErrorCode::TOPIC_ALREADY_EXISTS => {
                        broker.metadata.topic(&name).map_or_else(
                            || {
                                error_entry(
                                    Some(name.clone()),
                                    Uuid::ZERO,
                                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                                )
                            },
                            |t| topic_entry(&t, live.as_deref()),
                        )
                    }
                    Err(e) => {
                        tracing::info!(topic = %name, "auto-creation refused: {}", e.message);
                        error_entry(Some(name), Uuid::ZERO, e.code)
                    }
                }
            })
            .collect(),
    };
    let brokers = broker
        .live_brokers(listener)
        .into_iter()
        .map(|(node_id, host, port, rack)| MetadataResponseBroker {
            node_id,
            host,
            port,
            rack,
            ..Default::default()
        })
        .collect();
    let _ = (node_id, host, port);
    ResponseBody::Metadata(MetadataResponse {
        brokers,
        cluster_id: Some(broker.cluster_id.clone()),
        controller_id: broker.active_controller().unwrap_or(-1),
        topics,
        ..Default::default()
    })
}

pub fn describe_cluster(
    broker: &Broker,
    request: DescribeClusterRequest,
    listener: usize,
) -> ResponseBody {
    // KIP-919: a controller listener describes the controllers (endpoint type 2), a client
    // listener the brokers (1); asking one for the other's kind is an error, as in Kafka.
    let on_controller = broker.listeners.get(listener).is_some_and(|l| l.controller);
    let wanted = if request.endpoint_type == 0 {
        1
    } else {
        request.endpoint_type
    };
    let served = if on_controller { 2 } else { 1 };
    if wanted != served {
        return ResponseBody::DescribeCluster(DescribeClusterResponse {
            error_code: ErrorCode::UNSUPPORTED_ENDPOINT_TYPE.0,
            error_message: Some(format!(
                "The request was sent to an endpoint of type {}, but we wanted an endpoint of type {}",
                if on_controller { "CONTROLLER" } else { "BROKER" },
                if wanted == 2 { "CONTROLLER" } else { "BROKER" }
            )),
            endpoint_type: served,
            cluster_id: broker.cluster_id.clone(),
            controller_id: -1,
            ..Default::default()
        });
    }
    if on_controller {
        let voters = broker.quorum_voters();
        let controllers: Vec<DescribeClusterBroker> = if voters.is_empty() {
            let (node_id, host, port) = broker.endpoint(listener);
            vec![DescribeClusterBroker {
                broker_id: node_id,
                host,
                port,
                ..Default::default()
            }]
        } else {
            voters
                .into_iter()
                .map(|(id, host, port)| DescribeClusterBroker {
                    broker_id: id,
                    host,
                    port: i32::from(port),
                    ..Default::default()
                })
                .collect()
        };
        return ResponseBody::DescribeCluster(DescribeClusterResponse {
            endpoint_type: 2,
            cluster_id: broker.cluster_id.clone(),
            controller_id: broker.active_controller().unwrap_or(-1),
            brokers: controllers,
            ..Default::default()
        });
    }
    let brokers = broker
        .live_brokers(listener)
        .into_iter()
        .map(|(node_id, host, port, rack)| DescribeClusterBroker {
            broker_id: node_id,
            host,
            port,
            rack,
            ..Default::default()
        })
        .collect();
    ResponseBody::DescribeCluster(DescribeClusterResponse {
        endpoint_type: 1,
        cluster_id: broker.cluster_id.clone(),
        controller_id: broker.active_controller().unwrap_or(-1),
        brokers,
        ..Default::default()
    })
}

/// "Not requested" for the authorized-operations fields, as Kafka sends it.
const NO_AUTHORIZED_OPERATIONS: i32 = i32::MIN;

/// DescribeTopicPartitions (KIP-966; what Kafka 4's admin client and `kafka-topics --describe`
/// use): the named topics, or every topic when none is named, sorted by name, from the cursor
/// on, at most `response_partition_limit` partitions, with a cursor to the rest.
pub fn describe_topic_partitions(
    broker: &Broker,
    request: DescribeTopicPartitionsRequest,
) -> ResponseBody {
    let live = live_broker_ids(broker);
    let mut names: Vec<String> = if request.topics.is_empty() {
        broker
            .metadata
            .topics()
            .into_iter()
            .map(|t| t.name)
            .collect()
    } else {
        request.topics.into_iter().map(|t| t.name).collect()
    };
    names.sort();
    names.dedup();
    let limit = usize::try_from(request.response_partition_limit.max(1)).unwrap_or(1);
    let (first_topic, first_partition) = request
        .cursor
        .map_or((String::new(), 0), |c| (c.topic_name, c.partition_index));
    let mut budget = limit;
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for name in names.into_iter().filter(|n| *n >= first_topic) {
        let Some(topic) = broker.metadata.topic(&name) else {
            topics.push(DescribeTopicPartitionsResponseTopic {
                error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
                name: Some(name),
                topic_authorized_operations: NO_AUTHORIZED_OPERATIONS,
                ..Default::default()
            });
            continue;
        };
        let start = if name == first_topic {
            first_partition
        } else {
            0
        };
        let mut partitions = Vec::new();
        for p in topic.partitions.iter().filter(|p| p.index >= start) {
            if budget == 0 {
                next_cursor = Some(Cursor {
                    topic_name: name.clone(),
                    partition_index: p.index,
                    ..Default::default()
                });
                break;
            }
            budget -= 1;
            partitions.push(DescribeTopicPartitionsResponsePartition {
                partition_index: p.index,
                leader_id: p.leader,
                leader_epoch: p.leader_epoch,
                replica_nodes: p.replicas.clone(),
                isr_nodes: p.isr.clone(),
                offline_replicas: offline(live.as_deref(), &p.replicas),
                eligible_leader_replicas: Some(Vec::new()),
                last_known_elr: Some(Vec::new()),
                ..Default::default()
            });
        }
        if !partitions.is_empty() {
            topics.push(DescribeTopicPartitionsResponseTopic {
                name: Some(name),
                topic_id: topic.id,
                is_internal: topic.is_internal(),
                partitions,
                topic_authorized_operations: NO_AUTHORIZED_OPERATIONS,
                ..Default::default()
            });
        }
        if next_cursor.is_some() {
            break;
        }
    }
    ResponseBody::DescribeTopicPartitions(DescribeTopicPartitionsResponse {
        topics,
        next_cursor,
        ..Default::default()
    })
}
