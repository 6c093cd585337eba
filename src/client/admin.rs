//! Group administration for `kfk consumer-groups` (the parts of Kafka's Admin client it
//! needs): list and describe groups, read, commit and delete committed offsets, delete
//! groups, all through each group's coordinator.

use super::assignor::{self, TopicPartition};
use super::cluster::Cluster;
use super::connection::Connection;
use super::ClientError;
use crate::protocol::messages::delete_groups_request::DeleteGroupsRequest;
use crate::protocol::messages::describe_groups_request::DescribeGroupsRequest;
use crate::protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use crate::protocol::messages::list_groups_request::ListGroupsRequest;
use crate::protocol::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use crate::protocol::messages::offset_delete_request::{
    OffsetDeleteRequest, OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use crate::protocol::messages::offset_fetch_request::{
    OffsetFetchRequest, OffsetFetchRequestGroup,
};
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    pub state: String,
}

/// A member as DescribeGroups reports it, with its assignment decoded.
#[derive(Debug, Clone)]
pub struct MemberDescription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub host: String,
    pub assignment: Vec<TopicPartition>,
}

#[derive(Debug, Clone)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<MemberDescription>,
    /// `(node id, host, port)` of the coordinator.
    pub coordinator: (i32, String, i32),
}

fn unexpected(api: ApiKey) -> ClientError {
    ClientError::Protocol(format!("{} answered with another API", api.name()))
}

fn check(code: i16, what: impl Into<String>) -> Result<(), ClientError> {
    if code == 0 {
        Ok(())
    } else {
        Err(ClientError::Broker(ErrorCode(code), what.into()))
    }
}

pub struct GroupAdmin {
    pub cluster: Arc<Cluster>,
}

impl GroupAdmin {
    pub fn new(cluster: Arc<Cluster>) -> GroupAdmin {
        GroupAdmin { cluster }
    }

    /// The coordinator of `group`: a connection and its `(node, host, port)`.
    pub async fn coordinator(
        &self,
        group: &str,
    ) -> Result<(Connection, (i32, String, i32)), ClientError> {
        let conn = self.cluster.any_connection().await?;
        let api = ApiKey::FindCoordinator;
        let version = conn.version_for(api).ok_or_else(|| {
            ClientError::Unsupported("the broker does not support FindCoordinator".into())
        })?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let request = FindCoordinatorRequest {
                key: if version < 4 {
                    group.into()
                } else {
                    String::new()
                },
                key_type: 0,
                coordinator_keys: if version >= 4 {
                    vec![group.into()]
                } else {
                    Vec::new()
                },
                ..Default::default()
            };
            let ResponseBody::FindCoordinator(r) = conn
                .call_at(api, version, RequestBody::FindCoordinator(request))
                .await?
            else {
                return Err(unexpected(api));
            };
            let (code, node, host, port) = match r.coordinators.into_iter().next() {
                Some(c) if version >= 4 => (c.error_code, c.node_id, c.host, c.port),
                _ => (r.error_code, r.node_id, r.host, r.port),
            };
            if ErrorCode(code).is_retriable() && attempts < 20 {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
            check(code, format!("finding the coordinator of group '{group}'"))?;
            let c = Connection::connect(
                &format!("{host}:{port}"),
                &self.cluster.config.client_id,
                self.cluster.config.connect_timeout,
                self.cluster.config.request_timeout,
            )
            .await?;
            return Ok((c, (node, host, port)));
        }
    }

    /// Every group of every broker.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>, ClientError> {
        self.cluster.refresh(&[]).await?;
        let mut out = Vec::new();
        for node in self.cluster.broker_ids() {
            let conn = self.cluster.connection(node).await?;
            let (_, body) = conn
                .call(
                    ApiKey::ListGroups,
                    RequestBody::ListGroups(ListGroupsRequest::default()),
                )
                .await?;
            let ResponseBody::ListGroups(r) = body else {
                return Err(unexpected(ApiKey::ListGroups));
            };
            check(r.error_code, "ListGroups")?;
            out.extend(r.groups.into_iter().map(|g| GroupListing {
                group_id: g.group_id,
                protocol_type: g.protocol_type,
                state: g.group_state,
            }));
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out.dedup_by(|a, b| a.group_id == b.group_id);
        Ok(out)
    }

    pub async fn describe(&self, group: &str) -> Result<GroupDescription, ClientError> {
        let (conn, coordinator) = self.coordinator(group).await?;
        let (_, body) = conn
            .call(
                ApiKey::DescribeGroups,
                RequestBody::DescribeGroups(DescribeGroupsRequest {
                    groups: vec![group.to_string()],
                    ..Default::default()
                }),
            )
            .await?;
        let ResponseBody::DescribeGroups(r) = body else {
            return Err(unexpected(ApiKey::DescribeGroups));
        };
        let g = r
            .groups
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Protocol("DescribeGroups: no group".into()))?;
        check(g.error_code, format!("describing group '{group}'"))?;
        let consumer = g.protocol_type == "consumer" || g.protocol_type.is_empty();
        Ok(GroupDescription {
            group_id: g.group_id,
            state: g.group_state,
            protocol_type: g.protocol_type,
            protocol: g.protocol_data,
            members: g
                .members
                .into_iter()
                .map(|m| MemberDescription {
                    assignment: if consumer {
                        assignor::decode_assignment(&m.member_assignment).unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                    member_id: m.member_id,
                    instance_id: m.group_instance_id,
                    client_id: m.client_id,
                    host: m.client_host,
                })
                .collect(),
            coordinator,
        })
    }

    /// Every committed offset of `group`.
    pub async fn committed(
        &self,
        group: &str,
    ) -> Result<BTreeMap<TopicPartition, i64>, ClientError> {
        let (conn, _) = self.coordinator(group).await?;
        let api = ApiKey::OffsetFetch;
        let version = conn.version_for(api).ok_or_else(|| {
            ClientError::Unsupported("the broker does not support OffsetFetch".into())
        })?;
        let request = if version >= 8 {
            OffsetFetchRequest {
                groups: vec![OffsetFetchRequestGroup {
                    group_id: group.into(),
                    member_id: None,
                    member_epoch: -1,
                    topics: None,
                    ..Default::default()
                }],
                ..Default::default()
            }
        } else {
            OffsetFetchRequest {
                group_id: group.into(),
                topics: None,
                ..Default::default()
            }
        };
        let ResponseBody::OffsetFetch(r) = conn
            .call_at(api, version, RequestBody::OffsetFetch(request))
            .await?
        else {
            return Err(unexpected(api));
        };
        let mut out = BTreeMap::new();
        if version >= 8 {
            for g in r.groups {
                check(g.error_code, "OffsetFetch")?;
                for t in g.topics {
                    for p in t.partitions {
                        if p.error_code == 0 && p.committed_offset >= 0 {
                            out.insert((t.name.clone(), p.partition_index), p.committed_offset);
                        }
                    }
                }
            }
        } else {
            check(r.error_code, "OffsetFetch")?;
            for t in r.topics {
                for p in t.partitions {
                    if p.error_code == 0 && p.committed_offset >= 0 {
                        out.insert((t.name.clone(), p.partition_index), p.committed_offset);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Commits offsets outside group membership (generation -1): the coordinator accepts it
    /// only while the group has no members.
    pub async fn commit(
        &self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<Vec<(TopicPartition, ErrorCode)>, ClientError> {
        let (conn, _) = self.coordinator(group).await?;
        let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for ((t, p), o) in offsets {
            topics
                .entry(t.as_str())
                .or_default()
                .push(OffsetCommitRequestPartition {
                    partition_index: *p,
                    committed_offset: *o,
                    committed_leader_epoch: -1,
                    commit_timestamp: -1,
                    committed_metadata: Some(String::new()),
                    ..Default::default()
                });
        }
        let request = OffsetCommitRequest {
            group_id: group.into(),
            generation_id_or_member_epoch: -1,
            member_id: String::new(),
            retention_time_ms: -1,
            topics: topics
                .into_iter()
                .map(|(name, partitions)| OffsetCommitRequestTopic {
                    name: name.into(),
                    partitions,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let (_, body) = conn
            .call(ApiKey::OffsetCommit, RequestBody::OffsetCommit(request))
            .await?;
        let ResponseBody::OffsetCommit(r) = body else {
            return Err(unexpected(ApiKey::OffsetCommit));
        };
        Ok(r.topics
            .into_iter()
            .flat_map(|t| {
                let name = t.name;
                t.partitions
                    .into_iter()
                    .map(move |p| ((name.clone(), p.partition_index), ErrorCode(p.error_code)))
            })
            .collect())
    }

    /// DeleteGroups: each group with its result.
    pub async fn delete_groups(
        &self,
        groups: &[String],
    ) -> Result<Vec<(String, ErrorCode)>, ClientError> {
        let mut out = Vec::new();
        for g in groups {
            let (conn, _) = self.coordinator(g).await?;
            let (_, body) = conn
                .call(
                    ApiKey::DeleteGroups,
                    RequestBody::DeleteGroups(DeleteGroupsRequest {
                        groups_names: vec![g.clone()],
                        ..Default::default()
                    }),
                )
                .await?;
            let ResponseBody::DeleteGroups(r) = body else {
                return Err(unexpected(ApiKey::DeleteGroups));
            };
            for res in r.results {
                out.push((res.group_id, ErrorCode(res.error_code)));
            }
        }
        Ok(out)
    }

    /// OffsetDelete: the group-level error, or each partition's result.
    pub async fn delete_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<Result<Vec<(TopicPartition, ErrorCode)>, ErrorCode>, ClientError> {
        let (conn, _) = self.coordinator(group).await?;
        let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (t, p) in partitions {
            topics.entry(t.as_str()).or_default().push(*p);
        }
        let request = OffsetDeleteRequest {
            group_id: group.into(),
            topics: topics
                .into_iter()
                .map(|(name, ps)| OffsetDeleteRequestTopic {
                    name: name.into(),
                    partitions: ps
                        .into_iter()
                        .map(|partition_index| OffsetDeleteRequestPartition { partition_index })
                        .collect(),
                })
                .collect(),
        };
        let (_, body) = conn
            .call(ApiKey::OffsetDelete, RequestBody::OffsetDelete(request))
            .await?;
        let ResponseBody::OffsetDelete(r) = body else {
            return Err(unexpected(ApiKey::OffsetDelete));
        };
        if r.error_code != 0 {
            return Ok(Err(ErrorCode(r.error_code)));
        }
        Ok(Ok(r
            .topics
            .into_iter()
            .flat_map(|t| {
                let name = t.name;
                t.partitions
                    .into_iter()
                    .map(move |p| ((name.clone(), p.partition_index), ErrorCode(p.error_code)))
            })
            .collect()))
    }
}
