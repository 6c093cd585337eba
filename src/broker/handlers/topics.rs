//! CreateTopics (validate-only and per-topic configs), DeleteTopics (by name or id) and
//! CreatePartitions.

use crate::broker::{AdminError, Broker};
use crate::protocol::messages::create_partitions_request::CreatePartitionsRequest;
use crate::protocol::messages::create_partitions_response::{
    CreatePartitionsResponse, CreatePartitionsTopicResult,
};
use crate::protocol::messages::create_topics_request::CreateTopicsRequest;
use crate::protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult, CreateTopicsResponse,
};
use crate::protocol::messages::delete_topics_request::DeleteTopicsRequest;
use crate::protocol::messages::delete_topics_response::{
    DeletableTopicResult, DeleteTopicsResponse,
};
use crate::protocol::{ErrorCode, ResponseBody, Uuid};
use std::collections::BTreeMap;

use crate::limits::MAX_PARTITIONS_PER_REQUEST;
const TOO_MANY_PARTITIONS: &str = "Excessively large number of partitions per request.";

/// CreateTopics. `from_controller_listener`: a broker of the cluster may ask the active
/// controller (on its controller listener) for `__consumer_offsets`, which is then created
/// with the broker's own settings for it.
pub fn create_topics(
    broker: &Broker,
    request: CreateTopicsRequest,
    version: i16,
    from_controller_listener: bool,
) -> ResponseBody {
    let requested: i64 = request
        .topics
        .iter()
        .map(|t| match (t.assignments.len(), t.num_partitions) {
            (0, -1) => i64::from(broker.config.num_partitions),
            (0, n) => i64::from(n).max(0),
            (n, _) => n as i64,
        })
        .sum();
    if requested > MAX_PARTITIONS_PER_REQUEST {
        let topics = request
            .topics
            .into_iter()
            .map(|t| CreatableTopicResult {
                name: t.name,
                error_code: ErrorCode::POLICY_VIOLATION.0,
                error_message: Some(TOO_MANY_PARTITIONS.into()),
                num_partitions: -1,
                replication_factor: -1,
                ..Default::default()
            })
            .collect();
        return ResponseBody::CreateTopics(CreateTopicsResponse {
            topics,
            ..Default::default()
        });
    }
    let mut seen = std::collections::HashSet::new();
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let mut r = CreatableTopicResult {
                name: t.name.clone(),
                num_partitions: -1,
                replication_factor: -1,
                ..Default::default()
            };
            if !seen.insert(t.name.clone()) {
                r.error_code = ErrorCode::INVALID_REQUEST.0;
                r.error_message = Some(format!(
                    "topic '{}' appears more than once in the request",
                    t.name
                ));
                return r;
            }
            if from_controller_listener && t.name == crate::group::OFFSETS_TOPIC {
                match tokio::task::block_in_place(|| broker.ensure_offsets_topic()) {
                    Ok(()) => {
                        if let Some(topic) = broker.metadata.topic(&t.name) {
                            r.topic_id = topic.id;
                            r.num_partitions = topic.partitions.len() as i32;
                            r.replication_factor = 1;
                        }
                    }
                    Err(code) => r.error_code = code.0,
                }
                return r;
            }
            let configs: BTreeMap<String, String> = t
                .configs
                .iter()
                .filter_map(|c| c.value.clone().map(|v| (c.name.clone(), v)))
                .collect();
            let (partitions, rf) = if t.assignments.is_empty() {
                (t.num_partitions, t.replication_factor)
            } else {
                let rf = t
                    .assignments
                    .iter()
                    .map(|a| a.broker_ids.len())
                    .max()
                    .unwrap_or(0) as i16;
                (t.assignments.len() as i32, rf)
            };
            let mut assignment: Vec<(i32, Vec<i32>)> = t
                .assignments
                .iter()
                .map(|a| (a.partition_index, a.broker_ids.clone()))
                .collect();
            assignment.sort_by_key(|a| a.0);
            if assignment.iter().enumerate().any(|(i, a)| a.0 != i as i32) {
                r.error_code = ErrorCode::INVALID_REPLICA_ASSIGNMENT.0;
                r.error_message =
                    Some("partitions in the replica assignment must be 0..n, each once".into());
                return r;
            }
            let created = tokio::task::block_in_place(|| {
                if assignment.is_empty() {
                    broker.create_topic(&t.name, partitions, rf, &configs, request.validate_only)
                } else {
                    let a = assignment.into_iter().map(|a| a.1).collect();
                    broker.create_topic_assigned(&t.name, a, &configs, request.validate_only)
                }
            });
            match created {
                Ok(topic) => {
                    r.topic_id = topic.id;
                    r.num_partitions = if partitions == -1 {
                        broker.config.num_partitions
                    } else {
                        partitions
                    };
                    r.replication_factor = 1;
                    if version >= 5 {
                        let effective = broker.effective_topic_configs(&configs);
                        r.configs = Some(
                            crate::broker::config::topic_configs::TOPIC_CONFIGS
                                .iter()
                                .map(|d| CreatableTopicConfigs {
                                    name: d.name.to_string(),
                                    value: Some(
                                        effective
                                            .get(d.name)
                                            .cloned()
                                            .unwrap_or_else(|| d.default.to_string()),
                                    ),
                                    config_source: if configs.contains_key(d.name) { 1 } else { 5 },
                                    ..Default::default()
                                })
                                .collect(),
                        );
                    }
                }
                Err(e) => {
                    r.error_code = e.code.0;
                    r.error_message = Some(e.message);
                }
            }
            r
        })
        .collect();
    ResponseBody::CreateTopics(CreateTopicsResponse {
        topics,
        ..Default::default()
    })
}

pub fn delete_topics(broker: &Broker, request: DeleteTopicsRequest, version: i16) -> ResponseBody {
    let targets: Vec<(Option<String>, Uuid)> = if version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::ZERO))
            .collect()
    };
    let responses = targets
        .into_iter()
        .map(|(name, id)| {
            let mut r = DeletableTopicResult {
                name: name.clone(),
                topic_id: id,
                ..Default::default()
            };
            let resolved = name.or_else(|| broker.metadata.topic_name_by_id(&id));
            match resolved {
                None => {
                    r.error_code = if id.is_zero() {
                        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
                    } else {
                        ErrorCode::UNKNOWN_TOPIC_ID.0
                    }
                }
                Some(name) => match tokio::task::block_in_place(|| broker.delete_topic(&name)) {
                    Ok(topic) => {
                        r.name = Some(name);
                        r.topic_id = if version >= 6 { topic.id } else { Uuid::ZERO };
                    }
                    Err(e) => {
                        r.name = Some(name);
                        r.error_code = e.code.0;
                        r.error_message = Some(e.message);
                    }
                },
            }
            r
        })
        .collect();
    ResponseBody::DeleteTopics(DeleteTopicsResponse {
        responses,
        ..Default::default()
    })
}

pub fn create_partitions(broker: &Broker, request: CreatePartitionsRequest) -> ResponseBody {
    let added: i64 = request
        .topics
        .iter()
        .map(|t| {
            let current = broker
                .metadata
                .topic(&t.name)
                .map_or(0, |m| m.partitions.len() as i64);
            (i64::from(t.count) - current).max(0)
        })
        .sum();
    if added > MAX_PARTITIONS_PER_REQUEST {
        let results = request
            .topics
            .into_iter()
            .map(|t| CreatePartitionsTopicResult {
                name: t.name,
                error_code: ErrorCode::POLICY_VIOLATION.0,
                error_message: Some(TOO_MANY_PARTITIONS.into()),
                ..Default::default()
            })
            .collect();
        return ResponseBody::CreatePartitions(CreatePartitionsResponse {
            results,
            ..Default::default()
        });
    }
    let results = request
        .topics
        .into_iter()
        .map(|t| {
            let mut r = CreatePartitionsTopicResult { name: t.name.clone(), ..Default::default() };
            let outcome = match broker.metadata.topic(&t.name) {
                None => Err(AdminError::new(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, format!("topic '{}' does not exist", t.name))),
                Some(topic) if t.count <= topic.partitions.len() as i32 => Err(AdminError::new(ErrorCode::INVALID_PARTITIONS, format!("topic currently has {} partitions, {} would not increase the number of partitions", topic.partitions.len(), t.count))),
                Some(topic) if t.assignments.as_ref().is_some_and(|a| a.len() as i32 != t.count - topic.partitions.len() as i32) => Err(AdminError::new(ErrorCode::INVALID_REPLICA_ASSIGNMENT, format!("the assignment names {} new partitions; {} are being added", t.assignments.as_ref().map_or(0, Vec::len), t.count - topic.partitions.len() as i32))),
                Some(_) if request.validate_only => Ok(()),
                Some(_) => {
                    let a = t.assignments.as_ref().map(|a| a.iter().map(|x| x.broker_ids.clone()).collect());
                    tokio::task::block_in_place(|| broker.add_partitions(&t.name, t.count, a))
                }
            };
            if let Err(e) = outcome {
                r.error_code = e.code.0;
                r.error_message = Some(e.message);
            }
            r
        })
        .collect();
    ResponseBody::CreatePartitions(CreatePartitionsResponse {
        results,
        ..Default::default()
    })
}
