//! Group administration for `kfk consumer-groups` (the parts of Kafka's Admin client it
//! needs): list and describe groups, read, commit and delete committed offsets, delete
//! groups, all through each group's coordinator.

use super::assignor::{self, TopicPartition};
use super::cluster::Cluster;
use super::connection::Connection;
use super::group::{
    fetch_offsets, find_group_coordinator, offset_commit_request, send_offset_commit,
};
use super::ClientError;
use crate::protocol::messages::delete_groups_request::DeleteGroupsRequest;
use crate::protocol::messages::describe_groups_request::DescribeGroupsRequest;
use crate::protocol::messages::list_groups_request::ListGroupsRequest;
use crate::protocol::messages::offset_delete_request::{
    OffsetDeleteRequest, OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
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
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (node, host, port) = match find_group_coordinator(&conn, group).await {
                Err(ClientError::Broker(code, _)) if code.is_retriable() && attempts < 20 => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
                other => other?,
            };
            let c = Connection::connect(&format!("{host}:{port}"), &self.cluster.config).await?;
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
        let mut offsets = fetch_offsets(&conn, group, None).await?;
        offsets.retain(|_, o| *o >= 0);
        Ok(offsets)
    }

    /// Commits offsets outside group membership (generation -1): the coordinator accepts it
    /// only while the group has no members.
    pub async fn commit(
        &self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<Vec<(TopicPartition, ErrorCode)>, ClientError> {
        let (conn, _) = self.coordinator(group).await?;
        let offsets: Vec<(TopicPartition, i64)> =
            offsets.iter().map(|(tp, o)| (tp.clone(), *o)).collect();
        let request = offset_commit_request(group, -1, String::new(), None, &offsets);
        send_offset_commit(&conn, request).await
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

/// Config resource types (DescribeConfigs / IncrementalAlterConfigs).
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

/// A failed admin operation: Kafka's error code and the broker's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    pub code: ErrorCode,
    pub message: Option<String>,
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.message {
            Some(m) if !m.is_empty() => f.write_str(m),
            _ => f.write_str(self.code.name()),
        }
    }
}

fn admin_result(code: i16, message: Option<String>) -> Result<(), AdminError> {
    if code == 0 {
        Ok(())
    } else {
        Err(AdminError {
            code: ErrorCode(code),
            message,
        })
    }
}

impl GroupAdmin {
    /// Sends `body` to any broker (on one node: the controller) at the negotiated version.
    async fn call_any(
        &self,
        api: ApiKey,
        body: RequestBody,
    ) -> Result<(i16, ResponseBody), ClientError> {
        let conn = self.cluster.any_connection().await?;
        conn.call(api, body).await
    }

    /// Metadata for `topics` (every topic with `None`).
    pub async fn metadata(
        &self,
        topics: Option<Vec<String>>,
    ) -> Result<crate::protocol::messages::metadata_response::MetadataResponse, ClientError> {
        use crate::protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
        let request = MetadataRequest {
            topics: topics.map(|ts| {
                ts.into_iter()
                    .map(|name| MetadataRequestTopic {
                        name: Some(name),
                        ..Default::default()
                    })
                    .collect()
            }),
            allow_auto_topic_creation: false,
            ..Default::default()
        };
        let (_, body) = self
            .call_any(ApiKey::Metadata, RequestBody::Metadata(request))
            .await?;
        match body {
            ResponseBody::Metadata(r) => Ok(r),
            _ => Err(unexpected(ApiKey::Metadata)),
        }
    }

    /// CreateTopics for one topic: `assignments` (partition → brokers) or a partition count
    /// and replication factor (-1: the broker's defaults).
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        assignments: Vec<Vec<i32>>,
        configs: &[(String, String)],
    ) -> Result<Result<(), AdminError>, ClientError> {
        use crate::protocol::messages::create_topics_request::{
            CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
        };
        let with_assignments = !assignments.is_empty();
        let request = CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: name.into(),
                num_partitions: if with_assignments { -1 } else { partitions },
                replication_factor: if with_assignments {
                    -1
                } else {
                    replication_factor
                },
                assignments: assignments
                    .into_iter()
                    .enumerate()
                    .map(|(i, broker_ids)| CreatableReplicaAssignment {
                        partition_index: i as i32,
                        broker_ids,
                        ..Default::default()
                    })
                    .collect(),
                configs: configs
                    .iter()
                    .map(|(k, v)| CreatableTopicConfig {
                        name: k.clone(),
                        value: Some(v.clone()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            timeout_ms: i32::try_from(self.cluster.config.request_timeout.as_millis())
                .unwrap_or(30_000),
            validate_only: false,
            ..Default::default()
        };
        let (_, body) = self
            .call_any(ApiKey::CreateTopics, RequestBody::CreateTopics(request))
            .await?;
        let ResponseBody::CreateTopics(r) = body else {
            return Err(unexpected(ApiKey::CreateTopics));
        };
        let t = r
            .topics
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Protocol("CreateTopics: no result".into()))?;
        Ok(admin_result(t.error_code, t.error_message))
    }

    pub async fn delete_topic(&self, name: &str) -> Result<Result<(), AdminError>, ClientError> {
        use crate::protocol::messages::delete_topics_request::{
            DeleteTopicState, DeleteTopicsRequest,
        };
        let conn = self.cluster.any_connection().await?;
        let api = ApiKey::DeleteTopics;
        let version = conn.version_for(api).ok_or_else(|| {
            ClientError::Unsupported("the broker does not support DeleteTopics".into())
        })?;
        let request = DeleteTopicsRequest {
            topics: if version >= 6 {
                vec![DeleteTopicState {
                    name: Some(name.into()),
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            topic_names: if version < 6 {
                vec![name.into()]
            } else {
                Vec::new()
            },
            timeout_ms: 30_000,
            ..Default::default()
        };
        let ResponseBody::DeleteTopics(r) = conn
            .call_at(api, version, RequestBody::DeleteTopics(request))
            .await?
        else {
            return Err(unexpected(api));
        };
        let t = r
            .responses
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Protocol("DeleteTopics: no result".into()))?;
        Ok(admin_result(t.error_code, t.error_message))
    }

    pub async fn create_partitions(
        &self,
        name: &str,
        count: i32,
        assignments: Option<Vec<Vec<i32>>>,
    ) -> Result<Result<(), AdminError>, ClientError> {
        use crate::protocol::messages::create_partitions_request::{
            CreatePartitionsAssignment, CreatePartitionsRequest, CreatePartitionsTopic,
        };
        let request = CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: name.into(),
                count,
                assignments: assignments.map(|a| {
                    a.into_iter()
                        .map(|broker_ids| CreatePartitionsAssignment {
                            broker_ids,
                            ..Default::default()
                        })
                        .collect()
                }),
                ..Default::default()
            }],
            timeout_ms: 30_000,
            validate_only: false,
            ..Default::default()
        };
        let (_, body) = self
            .call_any(
                ApiKey::CreatePartitions,
                RequestBody::CreatePartitions(request),
            )
            .await?;
        let ResponseBody::CreatePartitions(r) = body else {
            return Err(unexpected(ApiKey::CreatePartitions));
        };
        let t = r
            .results
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Protocol("CreatePartitions: no result".into()))?;
        Ok(admin_result(t.error_code, t.error_message))
    }

    /// DescribeConfigs of one resource, with synonyms.
    pub async fn describe_configs(
        &self,
        resource_type: i8,
        name: &str,
    ) -> Result<
        Result<
            Vec<
                crate::protocol::messages::describe_configs_response::DescribeConfigsResourceResult,
            >,
            AdminError,
        >,
        ClientError,
    > {
        use crate::protocol::messages::describe_configs_request::{
            DescribeConfigsRequest, DescribeConfigsResource,
        };
        let request = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type,
                resource_name: name.into(),
                configuration_keys: None,
                ..Default::default()
            }],
            include_synonyms: true,
            include_documentation: false,
            ..Default::default()
        };
        let (_, body) = self
            .call_any(
                ApiKey::DescribeConfigs,
                RequestBody::DescribeConfigs(request),
            )
            .await?;
        let ResponseBody::DescribeConfigs(r) = body else {
            return Err(unexpected(ApiKey::DescribeConfigs));
        };
        let res = r
            .results
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Protocol("DescribeConfigs: no result".into()))?;
        Ok(admin_result(res.error_code, res.error_message).map(|()| res.configs))
    }

    /// IncrementalAlterConfigs: set `set`, delete `delete`.
    pub async fn alter_configs(
        &self,
        resource_type: i8,
        name: &str,
        set: &[(String, String)],
        delete: &[String],
    ) -> Result<Result<(), AdminError>, ClientError> {
        use crate::protocol::messages::incremental_alter_configs_request::{
            AlterConfigsResource, AlterableConfig, IncrementalAlterConfigsRequest,
        };
        let configs = set
            .iter()
            .map(|(k, v)| AlterableConfig {
                name: k.clone(),
                config_operation: 0,
                value: Some(v.clone()),
                ..Default::default()
            })
            .chain(delete.iter().map(|k| AlterableConfig {
                name: k.clone(),
                config_operation: 1,
                value: None,
                ..Default::default()
            }))
            .collect();
        let request = IncrementalAlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type,
                resource_name: name.into(),
                configs,
                ..Default::default()
            }],
            validate_only: false,
            ..Default::default()
        };
        let (_, body) = self
            .call_any(
                ApiKey::IncrementalAlterConfigs,
                RequestBody::IncrementalAlterConfigs(request),
            )
            .await?;
        let ResponseBody::IncrementalAlterConfigs(r) = body else {
            return Err(unexpected(ApiKey::IncrementalAlterConfigs));
        };
        let res =
            r.responses.into_iter().next().ok_or_else(|| {
                ClientError::Protocol("IncrementalAlterConfigs: no result".into())
            })?;
        Ok(admin_result(res.error_code, res.error_message))
    }
}
