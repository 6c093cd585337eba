//! The group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups, OffsetDelete.
//!
//! The state machine lives in `group::Coordinator`; this file maps requests of every version
//! onto it and its answers back onto the version's fields. On one node this broker coordinates
//! every group. Calls that write `__consumer_offsets` run in `block_in_place` (they append to
//! the log like a produce).

use super::super::Broker;
use crate::group::coordinator::{CommittedOffset, JoinRequest};
use crate::group::{GroupState, Waiting};
use crate::protocol::messages::delete_groups_request::DeleteGroupsRequest;
use crate::protocol::messages::delete_groups_response::{
    DeletableGroupResult, DeleteGroupsResponse,
};
use crate::protocol::messages::describe_groups_request::DescribeGroupsRequest;
use crate::protocol::messages::describe_groups_response::{DescribeGroupsResponse, DescribedGroup};
use crate::protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use crate::protocol::messages::find_coordinator_response::{
    Coordinator as CoordinatorEntry, FindCoordinatorResponse,
};
use crate::protocol::messages::heartbeat_request::HeartbeatRequest;
use crate::protocol::messages::heartbeat_response::HeartbeatResponse;
use crate::protocol::messages::join_group_request::JoinGroupRequest;
use crate::protocol::messages::join_group_response::JoinGroupResponse;
use crate::protocol::messages::leave_group_request::LeaveGroupRequest;
use crate::protocol::messages::leave_group_response::{LeaveGroupResponse, MemberResponse};
use crate::protocol::messages::list_groups_request::ListGroupsRequest;
use crate::protocol::messages::list_groups_response::{ListGroupsResponse, ListedGroup};
use crate::protocol::messages::offset_commit_request::OffsetCommitRequest;
use crate::protocol::messages::offset_commit_response::{
    OffsetCommitResponse, OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use crate::protocol::messages::offset_delete_request::OffsetDeleteRequest;
use crate::protocol::messages::offset_delete_response::{
    OffsetDeleteResponse, OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use crate::protocol::messages::offset_fetch_request::OffsetFetchRequest;
use crate::protocol::messages::offset_fetch_response::{
    OffsetFetchResponse, OffsetFetchResponseGroup, OffsetFetchResponsePartition,
    OffsetFetchResponsePartitions, OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use crate::protocol::messages::sync_group_request::SyncGroupRequest;
use crate::protocol::messages::sync_group_response::SyncGroupResponse;
use crate::protocol::ErrorCode;
use crate::time::now_ms;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// FindCoordinator key types.
const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

/// Group operations allowed to everyone (no ACLs): READ, DELETE, DESCRIBE (AclOperation
/// codes 3, 6, 8) as the bit field DescribeGroups reports.
const GROUP_AUTHORIZED_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

/// `(error, message, node id, host, port)` for one coordinator key.
fn locate(
    broker: &Broker,
    key: &str,
    key_type: i8,
    listener: usize,
) -> (ErrorCode, Option<String>, i32, String, i32) {
    let fail = |code: ErrorCode, why: String| (code, Some(why), -1, String::new(), -1);
    match key_type {
        KEY_TYPE_GROUP => {
            if let Err(code) = tokio::task::block_in_place(|| broker.ensure_offsets_topic()) {
                return fail(
                    ErrorCode::COORDINATOR_NOT_AVAILABLE,
                    format!("the offsets topic is not available: {}", code.name()),
                );
            }
            if broker.is_cluster() {
                let partition = broker.groups.partition_of(key);
                let leader = broker
                    .metadata
                    .topic(crate::group::OFFSETS_TOPIC)
                    .and_then(|t| {
                        t.partitions
                            .iter()
                            .find(|p| p.index == partition)
                            .map(|p| p.leader)
                    });
                return match leader.and_then(|l| broker.broker_endpoint(l, listener)) {
                    Some((node, host, port)) => (ErrorCode::NONE, None, node, host, port),
                    None => fail(
                        ErrorCode::COORDINATOR_NOT_AVAILABLE,
                        format!(
                            "the leader of {}-{partition} is not available",
                            crate::group::OFFSETS_TOPIC
                        ),
                    ),
                };
            }
            let (node, host, port) = broker.endpoint(listener);
            (ErrorCode::NONE, None, node, host, port)
        }
        KEY_TYPE_TRANSACTION => {
            tracing::info!(
                transactional_id = key,
                "refusing a transaction coordinator lookup: transactions are not supported"
            );
            fail(
                ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                "transactions are not supported by this broker".into(),
            )
        }
        other => fail(
            ErrorCode::INVALID_REQUEST,
            format!("unknown coordinator key type {other}"),
        ),
    }
}

pub fn find_coordinator(
    broker: &Broker,
    r: FindCoordinatorRequest,
    version: i16,
    listener: usize,
) -> FindCoordinatorResponse {
    if version >= 4 {
        let coordinators = r
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let (code, message, node_id, host, port) =
                    locate(broker, &key, r.key_type, listener);
                CoordinatorEntry {
                    key,
                    node_id,
                    host,
                    port,
                    error_code: code.0,
                    error_message: message,
                    ..Default::default()
                }
            })
            .collect();
        return FindCoordinatorResponse {
            coordinators,
            ..Default::default()
        };
    }
    let (code, message, node_id, host, port) = locate(broker, &r.key, r.key_type, listener);
    FindCoordinatorResponse {
        error_code: code.0,
        error_message: message,
        node_id,
        host,
        port,
        ..Default::default()
    }
}

/// Waits for an answer the coordinator gives when the group moves on; a broker shutting
/// down answers `on_shutdown` instead (clients then look for the coordinator again).
async fn wait<T>(broker: &Broker, waiting: Waiting<T>, on_shutdown: impl FnOnce() -> T) -> T {
    match waiting {
        Waiting::Ready(t) => t,
        Waiting::Later(rx) => {
            let mut stop = broker.shutdown_signal();
            if *stop.borrow() {
                return on_shutdown();
            }
            tokio::select! {
                answer = rx => answer.unwrap_or_else(|_| on_shutdown()),
                _ = stop.wait_for(|s| *s) => on_shutdown(),
            }
        }
    }
}

pub async fn join_group(
    broker: &Arc<Broker>,
    r: JoinGroupRequest,
    version: i16,
    client_id: &str,
    peer: SocketAddr,
) -> JoinGroupResponse {
    let member_id = r.member_id.clone();
    let request = JoinRequest {
        group_id: r.group_id,
        member_id: r.member_id,
        group_instance_id: r.group_instance_id,
        client_id: client_id.to_string(),
        client_host: format!("/{}", peer.ip()),
        session_timeout_ms: r.session_timeout_ms,
        rebalance_timeout_ms: if version >= 1 {
            r.rebalance_timeout_ms
        } else {
            r.session_timeout_ms
        },
        protocol_type: r.protocol_type,
        protocols: r
            .protocols
            .into_iter()
            .map(|p| (p.name, p.metadata))
            .collect(),
        require_known_member_id: version >= 4,
    };
    let waiting = broker.groups.join(request, now_ms());
    let mut response = wait(broker, waiting, || JoinGroupResponse {
        error_code: ErrorCode::NOT_COORDINATOR.0,
        generation_id: -1,
        member_id,
        ..Default::default()
    })
    .await;
    if version < 7 && response.protocol_name.is_none() {
        // Non-nullable before v7.
        response.protocol_name = Some(String::new());
    }
    response
}

pub async fn sync_group(
    broker: &Arc<Broker>,
    r: SyncGroupRequest,
    version: i16,
) -> SyncGroupResponse {
    let assignments = r
        .assignments
        .into_iter()
        .map(|a| (a.member_id, a.assignment))
        .collect();
    let waiting = tokio::task::block_in_place(|| {
        broker.groups.sync(
            &r.group_id,
            r.generation_id,
            &r.member_id,
            r.group_instance_id.as_deref(),
            r.protocol_type.as_deref(),
            r.protocol_name.as_deref(),
            assignments,
            broker.as_ref(),
            now_ms(),
        )
    });
    let mut response = wait(broker, waiting, || SyncGroupResponse {
        error_code: ErrorCode::NOT_COORDINATOR.0,
        ..Default::default()
    })
    .await;
    if version < 5 {
        response.protocol_type = None;
        response.protocol_name = None;
    }
    response
}

pub fn heartbeat(broker: &Broker, r: HeartbeatRequest) -> HeartbeatResponse {
    let code = broker.groups.heartbeat(
        &r.group_id,
        r.generation_id,
        &r.member_id,
        r.group_instance_id.as_deref(),
        now_ms(),
    );
    HeartbeatResponse {
        error_code: code.0,
        ..Default::default()
    }
}

pub fn leave_group(broker: &Broker, r: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    let members: Vec<(String, Option<String>)> = if version >= 3 {
        r.members
            .into_iter()
            .map(|m| (m.member_id, m.group_instance_id))
            .collect()
    } else {
        vec![(r.member_id, None)]
    };
    let result = tokio::task::block_in_place(|| {
        broker.groups.leave(&r.group_id, &members, broker, now_ms())
    });
    match result {
        Err(code) => LeaveGroupResponse {
            error_code: code.0,
            ..Default::default()
        },
        Ok(codes) if version < 3 => LeaveGroupResponse {
            error_code: codes.first().map_or(0, |c| c.0),
            ..Default::default()
        },
        Ok(codes) => LeaveGroupResponse {
            members: members
                .into_iter()
                .zip(codes)
                .map(|((member_id, group_instance_id), code)| MemberResponse {
                    member_id,
                    group_instance_id,
                    error_code: code.0,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
    }
}

/// Whether `topic`-`partition` exists.
fn partition_exists(broker: &Broker, topic: &str, partition: i32) -> bool {
    broker
        .metadata
        .topic(topic)
        .is_some_and(|t| t.partitions.iter().any(|p| p.index == partition))
}

pub fn offset_commit(
    broker: &Broker,
    r: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let now = now_ms();
    let (generation, member_id) = if version >= 1 {
        (r.generation_id_or_member_epoch, r.member_id.as_str())
    } else {
        (-1, "")
    };
    let group_error = if r.group_id.is_empty() {
        ErrorCode::INVALID_GROUP_ID
    } else {
        broker.groups.check_commit(
            &r.group_id,
            generation,
            member_id,
            r.group_instance_id.as_deref(),
            now,
        )
    };
    let expire_timestamp = if (2..=4).contains(&version) && r.retention_time_ms >= 0 {
        now.saturating_add(r.retention_time_ms)
    } else {
        -1
    };
    // Per partition: its error, or the offset to store.
    let mut results: Vec<(String, Vec<(i32, ErrorCode)>)> = Vec::new();
    let mut offsets = Vec::new();
    for topic in r.topics {
        let mut partitions = Vec::new();
        for p in topic.partitions {
            let code = if !group_error.is_ok() {
                group_error
            } else if !partition_exists(broker, &topic.name, p.partition_index) {
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            } else if p.committed_metadata.as_ref().map_or(0, String::len)
                > broker.groups.config.offset_metadata_max_bytes
            {
                ErrorCode::OFFSET_METADATA_TOO_LARGE
            } else {
                offsets.push((
                    (topic.name.clone(), p.partition_index),
                    CommittedOffset {
                        offset: p.committed_offset,
                        leader_epoch: if version >= 6 {
                            p.committed_leader_epoch
                        } else {
                            -1
                        },
                        metadata: p.committed_metadata.unwrap_or_default(),
                        commit_timestamp: now,
                        expire_timestamp,
                    },
                ));
                ErrorCode::NONE
            };
            partitions.push((p.partition_index, code));
        }
        results.push((topic.name, partitions));
    }
    let stored = if offsets.is_empty() {
        Ok(())
    } else {
        tokio::task::block_in_place(|| broker.groups.commit(&r.group_id, offsets, broker, now))
    };
    let write_error = stored.err();
    OffsetCommitResponse {
        topics: results
            .into_iter()
            .map(|(name, partitions)| OffsetCommitResponseTopic {
                name,
                partitions: partitions
                    .into_iter()
                    .map(|(partition_index, code)| OffsetCommitResponsePartition {
                        partition_index,
                        error_code: match (code, write_error) {
                            (ErrorCode::NONE, Some(e)) => e.0,
                            (c, _) => c.0,
                        },
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// A partition and its committed offset, if any.
type PartitionOffset = (i32, Option<CommittedOffset>);

/// One group's committed offsets for `topics` (`None`: every partition it has an offset for).
/// Partitions without an offset answer -1 with empty metadata, as Kafka does.
fn fetch_group_offsets(
    broker: &Broker,
    group_id: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
) -> Vec<(String, Vec<PartitionOffset>)> {
    let committed = broker.groups.fetch_offsets(group_id);
    match topics {
        Some(topics) => topics
            .into_iter()
            .map(|(name, partitions)| {
                let entries = partitions
                    .into_iter()
                    .map(|p| (p, committed.get(&(name.clone(), p)).cloned()))
                    .collect();
                (name, entries)
            })
            .collect(),
        None => {
            let mut by_topic: BTreeMap<String, Vec<PartitionOffset>> = BTreeMap::new();
            for ((t, p), o) in committed {
                by_topic.entry(t).or_default().push((p, Some(o)));
            }
            by_topic.into_iter().collect()
        }
    }
}

pub fn offset_fetch(broker: &Broker, r: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
    if version >= 8 {
        let groups = r
            .groups
            .into_iter()
            .map(|g| {
                let topics = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name, t.partition_indexes))
                        .collect()
                });
                let fetched = fetch_group_offsets(broker, &g.group_id, topics);
                OffsetFetchResponseGroup {
                    group_id: g.group_id,
                    topics: fetched
                        .into_iter()
                        .map(|(name, partitions)| OffsetFetchResponseTopics {
                            name,
                            partitions: partitions
                                .into_iter()
                                .map(|(partition_index, o)| OffsetFetchResponsePartitions {
                                    partition_index,
                                    committed_offset: o.as_ref().map_or(-1, |o| o.offset),
                                    committed_leader_epoch: o
                                        .as_ref()
                                        .map_or(-1, |o| o.leader_epoch),
                                    metadata: Some(o.map(|o| o.metadata).unwrap_or_default()),
                                    error_code: 0,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    error_code: 0,
                    ..Default::default()
                }
            })
            .collect();
        return OffsetFetchResponse {
            groups,
            ..Default::default()
        };
    }
    let topics = r.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name, t.partition_indexes))
            .collect()
    });
    let fetched = fetch_group_offsets(broker, &r.group_id, topics);
    OffsetFetchResponse {
        topics: fetched
            .into_iter()
            .map(|(name, partitions)| OffsetFetchResponseTopic {
                name,
                partitions: partitions
                    .into_iter()
                    .map(|(partition_index, o)| OffsetFetchResponsePartition {
                        partition_index,
                        committed_offset: o.as_ref().map_or(-1, |o| o.offset),
                        committed_leader_epoch: o.as_ref().map_or(-1, |o| o.leader_epoch),
                        metadata: Some(o.map(|o| o.metadata).unwrap_or_default()),
                        error_code: 0,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        error_code: 0,
        ..Default::default()
    }
}

pub fn list_groups(broker: &Broker, r: ListGroupsRequest) -> ListGroupsResponse {
    let wanted_state = |s: GroupState| {
        r.states_filter.is_empty()
            || r.states_filter
                .iter()
                .any(|f| f.eq_ignore_ascii_case(s.name()))
    };
    // Every group here is a classic group.
    let classic_wanted = r.types_filter.is_empty()
        || r.types_filter
            .iter()
            .any(|t| t.eq_ignore_ascii_case("classic"));
    let groups = if classic_wanted {
        broker
            .groups
            .list()
            .into_iter()
            .filter(|g| wanted_state(g.state))
            .map(|g| ListedGroup {
                group_id: g.group_id,
                protocol_type: g.protocol_type,
                group_state: g.state.name().to_string(),
                group_type: "classic".to_string(),
                ..Default::default()
            })
            .collect()
    } else {
        Vec::new()
    };
    ListGroupsResponse {
        groups,
        ..Default::default()
    }
}

pub fn describe_groups(broker: &Broker, r: DescribeGroupsRequest) -> DescribeGroupsResponse {
    let groups = r
        .groups
        .into_iter()
        .map(|id| {
            let mut described = broker
                .groups
                .describe(&id)
                .unwrap_or_else(|| DescribedGroup {
                    error_code: 0,
                    group_id: id,
                    group_state: GroupState::Dead.name().to_string(),
                    authorized_operations: i32::MIN,
                    ..Default::default()
                });
            if r.include_authorized_operations {
                described.authorized_operations = GROUP_AUTHORIZED_OPERATIONS;
            }
            described
        })
        .collect();
    DescribeGroupsResponse {
        groups,
        ..Default::default()
    }
}

pub fn delete_groups(broker: &Broker, r: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let results = r
        .groups_names
        .into_iter()
        .map(|group_id| {
            let code = tokio::task::block_in_place(|| {
                broker.groups.delete_group(&group_id, broker, now_ms())
            });
            DeletableGroupResult {
                group_id,
                error_code: code.0,
                ..Default::default()
            }
        })
        .collect();
    DeleteGroupsResponse {
        results,
        ..Default::default()
    }
}

pub fn offset_delete(broker: &Broker, r: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let mut known = Vec::new();
    for t in &r.topics {
        for p in &t.partitions {
            if partition_exists(broker, &t.name, p.partition_index) {
                known.push((t.name.clone(), p.partition_index));
            }
        }
    }
    let result = tokio::task::block_in_place(|| {
        broker
            .groups
            .delete_offsets(&r.group_id, &known, broker, now_ms())
    });
    let codes: BTreeMap<(String, i32), ErrorCode> = match result {
        Err(code) => {
            return OffsetDeleteResponse {
                error_code: code.0,
                ..Default::default()
            }
        }
        Ok(codes) => known.into_iter().zip(codes).collect(),
    };
    OffsetDeleteResponse {
        topics: r
            .topics
            .into_iter()
            .map(|t| OffsetDeleteResponseTopic {
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| OffsetDeleteResponsePartition {
                        partition_index: p.partition_index,
                        error_code: codes
                            .get(&(t.name.clone(), p.partition_index))
                            .copied()
                            .unwrap_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                            .0,
                    })
                    .collect(),
                name: t.name,
            })
            .collect(),
        ..Default::default()
    }
}

/// In a cluster, whether this broker coordinates `group` (it leads the group's
/// `__consumer_offsets` partition).
fn coordinates(broker: &Broker, group: &str) -> bool {
    coordinator_error(broker, group).is_none()
}

/// Why this broker cannot serve `group` now: NOT_COORDINATOR when it does not lead the
/// group's `__consumer_offsets` partition, COORDINATOR_LOAD_IN_PROGRESS when it leads it
/// but has not replayed its groups yet (a request answered meanwhile would see the group
/// empty: a member told UNKNOWN_MEMBER_ID rejoins as a new one and the rebalance then waits
/// for its old self's session to expire), as Kafka's coordinator answers while loading.
fn coordinator_error(broker: &Broker, group: &str) -> Option<ErrorCode> {
    if !broker.is_cluster() {
        return None;
    }
    let partition = broker.groups.partition_of(group);
    if broker
        .replicas
        .leader_partition(crate::group::OFFSETS_TOPIC, partition)
        .is_err()
    {
        Some(ErrorCode::NOT_COORDINATOR)
    } else if !broker.groups.is_loaded(partition) {
        Some(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
    } else {
        None
    }
}

/// NOT_COORDINATOR for a group request that reached a broker not coordinating its group
/// (the client looks the coordinator up again), COORDINATOR_LOAD_IN_PROGRESS while it
/// loads the group's partition (the client retries); see [`coordinator_error`].
pub fn not_coordinator(
    broker: &Broker,
    body: &crate::protocol::RequestBody,
) -> Option<crate::protocol::ResponseBody> {
    use crate::protocol::{RequestBody as Q, ResponseBody as A};
    if !broker.is_cluster() {
        return None;
    }
    match body {
        Q::JoinGroup(r) => coordinator_error(broker, &r.group_id).map(|code| {
            A::JoinGroup(JoinGroupResponse {
                error_code: code.0,
                generation_id: -1,
                member_id: r.member_id.clone(),
                ..Default::default()
            })
        }),
        Q::SyncGroup(r) => coordinator_error(broker, &r.group_id).map(|code| {
            A::SyncGroup(SyncGroupResponse {
                error_code: code.0,
                ..Default::default()
            })
        }),
        Q::Heartbeat(r) => coordinator_error(broker, &r.group_id).map(|code| {
            A::Heartbeat(HeartbeatResponse {
                error_code: code.0,
                ..Default::default()
            })
        }),
        Q::LeaveGroup(r) => coordinator_error(broker, &r.group_id).map(|code| {
            A::LeaveGroup(LeaveGroupResponse {
                error_code: code.0,
                ..Default::default()
            })
        }),
        Q::OffsetCommit(r) => coordinator_error(broker, &r.group_id).map(|code| {
            A::OffsetCommit(OffsetCommitResponse {
                topics: r
                    .topics
                    .iter()
                    .map(|t| OffsetCommitResponseTopic {
                        name: t.name.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| OffsetCommitResponsePartition {
                                partition_index: p.partition_index,
                                error_code: code.0,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }),
        Q::OffsetDelete(r) => coordinator_error(broker, &r.group_id).map(|code| {
            A::OffsetDelete(OffsetDeleteResponse {
                error_code: code.0,
                ..Default::default()
            })
        }),
        Q::OffsetFetch(r) if !r.group_id.is_empty() => {
            coordinator_error(broker, &r.group_id).map(|code| {
                A::OffsetFetch(OffsetFetchResponse {
                    error_code: code.0,
                    ..Default::default()
                })
            })
        }
        Q::OffsetFetch(r) if r.groups.iter().any(|g| !coordinates(broker, &g.group_id)) => {
            Some(A::OffsetFetch(OffsetFetchResponse {
                groups: r
                    .groups
                    .iter()
                    .map(|g| OffsetFetchResponseGroup {
                        group_id: g.group_id.clone(),
                        error_code: coordinator_error(broker, &g.group_id).map_or(0, |c| c.0),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }))
        }
        _ => None,
    }
}
