//! ListOffsets (earliest, latest, by timestamp, max timestamp), OffsetForLeaderEpoch,
//! DeleteRecords and InitProducerId (idempotent producers get a new id at epoch 0 every time;
//! transactional ids are refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, fatal in
//! clients, so they stop rather than retry).

use crate::broker::Broker;
use crate::protocol::messages::delete_records_request::DeleteRecordsRequest;
use crate::protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsResponse, DeleteRecordsTopicResult,
};
use crate::protocol::messages::describe_producers_request::DescribeProducersRequest;
use crate::protocol::messages::describe_producers_response::{
    DescribeProducersResponse, PartitionResponse, ProducerState, TopicResponse,
};
use crate::protocol::messages::init_producer_id_request::InitProducerIdRequest;
use crate::protocol::messages::init_producer_id_response::InitProducerIdResponse;
use crate::protocol::messages::list_offsets_request::ListOffsetsRequest;
use crate::protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use crate::protocol::messages::offset_for_leader_epoch_request::OffsetForLeaderEpochRequest;
use crate::protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderEpochResponse, OffsetForLeaderTopicResult,
};
use crate::protocol::{ErrorCode, ResponseBody};

pub fn list_offsets(broker: &Broker, request: ListOffsetsRequest, version: i16) -> ResponseBody {
    // Kafka's debugging replica id (-2) may ask any replica; everyone else, the leader.
    let only_from_leader = request.replica_id != -2;
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = ListOffsetsPartitionResponse {
                        partition_index: p.partition_index,
                        timestamp: -1,
                        offset: -1,
                        ..Default::default()
                    };
                    // A lookup by timestamp reads segment files: off the async workers.
                    let found = broker
                        .replicas
                        .leader_partition(&t.name, p.partition_index)
                        .and_then(|_| {
                            tokio::task::block_in_place(|| {
                                broker.replicas.list_offset(
                                    &t.name,
                                    p.partition_index,
                                    p.timestamp,
                                    p.current_leader_epoch,
                                    only_from_leader,
                                )
                            })
                        });
                    match found {
                        Ok((offset, ts, epoch)) => {
                            r.offset = offset;
                            r.timestamp = ts;
                            if version >= 4 {
                                r.leader_epoch = epoch;
                            }
                        }
                        Err(code) => r.error_code = code.0,
                    }
                    r
                })
                .collect();
            ListOffsetsTopicResponse {
                name: t.name,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    ResponseBody::ListOffsets(ListOffsetsResponse {
        topics,
        ..Default::default()
    })
}

pub fn offset_for_leader_epoch(
    broker: &Broker,
    request: OffsetForLeaderEpochRequest,
) -> ResponseBody {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = EpochEndOffset {
                        partition: p.partition,
                        leader_epoch: -1,
                        end_offset: -1,
                        ..Default::default()
                    };
                    match broker
                        .replicas
                        .leader_partition(&t.topic, p.partition)
                        .and_then(|_| {
                            broker.replicas.end_offset_for_epoch(
                                &t.topic,
                                p.partition,
                                p.current_leader_epoch,
                                p.leader_epoch,
                            )
                        }) {
                        Ok((epoch, end)) => (r.leader_epoch, r.end_offset) = (epoch, end),
                        Err(code) => r.error_code = code.0,
                    }
                    r
                })
                .collect();
            OffsetForLeaderTopicResult {
                topic: t.topic,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    ResponseBody::OffsetForLeaderEpoch(OffsetForLeaderEpochResponse {
        topics,
        ..Default::default()
    })
}

pub fn delete_records(broker: &Broker, request: DeleteRecordsRequest) -> ResponseBody {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = DeleteRecordsPartitionResult {
                        partition_index: p.partition_index,
                        low_watermark: -1,
                        ..Default::default()
                    };
                    match broker
                        .replicas
                        .leader_partition(&t.name, p.partition_index)
                        .and_then(|_| {
                            tokio::task::block_in_place(|| {
                                broker
                                    .replicas
                                    .delete_records(&t.name, p.partition_index, p.offset)
                            })
                        }) {
                        Ok(low) => r.low_watermark = low,
                        Err(code) => r.error_code = code.0,
                    }
                    r
                })
                .collect();
            DeleteRecordsTopicResult {
                name: t.name,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    ResponseBody::DeleteRecords(DeleteRecordsResponse {
        topics,
        ..Default::default()
    })
}

pub async fn init_producer_id(
    broker: &std::sync::Arc<Broker>,
    request: InitProducerIdRequest,
) -> ResponseBody {
    let mut r = InitProducerIdResponse {
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    if request.transactional_id.as_deref() == Some("") {
        r.error_code = ErrorCode::INVALID_REQUEST.0;
    } else if request.transactional_id.is_some() {
        tracing::info!(transactional_id = ?request.transactional_id, "refusing InitProducerId for a transactional id: transactions are not supported");
        r.error_code = ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED.0;
    } else if (request.producer_id == -1) != (request.producer_epoch == -1) {
        // As Kafka: a producer id without an epoch (or the reverse) is malformed.
        r.error_code = ErrorCode::INVALID_REQUEST.0;
    } else {
        // Without a transactional id Kafka always hands out a new producer id at epoch 0,
        // whatever id and epoch the request names: epoch bumps belong to transactional ids,
        // so no client can bump (and so fence) another producer's epoch.
        match broker.allocate_producer_id().await {
            Ok(id) => (r.producer_id, r.producer_epoch) = (id, 0),
            Err(code) => r.error_code = code.0,
        }
    }
    ResponseBody::InitProducerId(r)
}

/// DescribeProducers (what `kafka-transactions describe-producers` asks): the idempotent
/// producers each partition keeps state for. No transactions here, so no open transaction.
pub fn describe_producers(broker: &Broker, request: DescribeProducersRequest) -> ResponseBody {
    let topics = request
        .topics
        .into_iter()
        .map(|t| TopicResponse {
            partitions: t
                .partition_indexes
                .iter()
                .map(
                    |&index| match broker.replicas.active_producers(&t.name, index) {
                        Ok(producers) => PartitionResponse {
                            partition_index: index,
                            active_producers: producers
                                .into_iter()
                                .map(|(id, e)| ProducerState {
                                    producer_id: id,
                                    producer_epoch: i32::from(e.producer_epoch),
                                    last_sequence: e.last_sequence(),
                                    last_timestamp: e.last_timestamp(),
                                    coordinator_epoch: e.coordinator_epoch,
                                    current_txn_start_offset: -1,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        },
                        Err(code) => PartitionResponse {
                            partition_index: index,
                            error_code: code.0,
                            error_message: Some(format!("{}-{index}: {}", t.name, code.name())),
                            ..Default::default()
                        },
                    },
                )
                .collect(),
            name: t.name,
            ..Default::default()
        })
        .collect();
    ResponseBody::DescribeProducers(DescribeProducersResponse {
        topics,
        ..Default::default()
    })
}

/// DescribeLogDirs: each log dir with its partitions (size, lag behind the high watermark),
/// filtered as asked (all when `topics` is null), and (v4+) the dir's total and usable
/// bytes; an offline dir answers KAFKA_STORAGE_ERROR.
pub fn describe_log_dirs(
    broker: &Broker,
    r: crate::protocol::messages::describe_log_dirs_request::DescribeLogDirsRequest,
    version: i16,
) -> ResponseBody {
    use crate::protocol::messages::describe_log_dirs_response::{
        DescribeLogDirsPartition, DescribeLogDirsResponse, DescribeLogDirsResult,
        DescribeLogDirsTopic,
    };
    let wanted = |topic: &str, index: i32| match &r.topics {
        None => true,
        Some(ts) => ts
            .iter()
            .any(|t| t.topic == topic && t.partitions.contains(&index)),
    };
    let online = broker.replicas.online_dirs();
    let futures = tokio::task::block_in_place(|| broker.replicas.future_replicas());
    let mut results = Vec::new();
    for dir in broker.replicas.dirs() {
        let mut topics: std::collections::BTreeMap<String, Vec<DescribeLogDirsPartition>> =
            Default::default();
        let is_online = online.contains(dir);
        if is_online {
            for (topic, index) in broker.replicas.local_partitions() {
                if topic == crate::metadata::METADATA_TOPIC || !wanted(&topic, index) {
                    continue;
                }
                if broker.replicas.dir_of(&topic, index).as_deref() != Some(dir.as_path()) {
                    continue;
                }
                let Some(p) = broker.replicas.get(&topic, index) else {
                    continue;
                };
                let size = tokio::task::block_in_place(|| p.size_bytes());
                topics
                    .entry(topic)
                    .or_default()
                    .push(DescribeLogDirsPartition {
                        partition_index: index,
                        partition_size: size as i64,
                        offset_lag: (p.high_watermark() - p.log_end_offset()).max(0),
                        is_future_key: false,
                        ..Default::default()
                    });
            }
            // A replica being moved here shows as a future replica, lagging the current one.
            for f in futures.iter().filter(|f| &f.dir == dir) {
                let (topic, index) = &f.partition;
                if !wanted(topic, *index) {
                    continue;
                }
                topics
                    .entry(topic.clone())
                    .or_default()
                    .push(DescribeLogDirsPartition {
                        partition_index: *index,
                        partition_size: i64::try_from(f.size_bytes).unwrap_or(i64::MAX),
                        offset_lag: f.lag,
                        is_future_key: true,
                        ..Default::default()
                    });
            }
        }
        let (total, usable) = if version >= 4 {
            disk_space(dir)
        } else {
            (-1, -1)
        };
        results.push(DescribeLogDirsResult {
            error_code: if is_online {
                0
            } else {
                ErrorCode::KAFKA_STORAGE_ERROR.0
            },
            log_dir: dir.display().to_string(),
            topics: topics
                .into_iter()
                .map(|(name, partitions)| DescribeLogDirsTopic {
                    name,
                    partitions,
                    ..Default::default()
                })
                .collect(),
            total_bytes: total,
            usable_bytes: usable,
            ..Default::default()
        });
    }
    ResponseBody::DescribeLogDirs(DescribeLogDirsResponse {
        results,
        ..Default::default()
    })
}

/// AlterReplicaLogDirs (v1+): moves replicas of this broker between its log dirs (JBOD), or
/// records the dir of a replica not created here yet (REPLICA_NOT_AVAILABLE, as Kafka).
pub fn alter_replica_log_dirs(
    broker: &Broker,
    r: crate::protocol::messages::alter_replica_log_dirs_request::AlterReplicaLogDirsRequest,
) -> ResponseBody {
    use crate::protocol::messages::alter_replica_log_dirs_response::{
        AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult,
        AlterReplicaLogDirsResponse,
    };
    let mut results: Vec<AlterReplicaLogDirTopicResult> = Vec::new();
    for dir in r.dirs {
        let path = std::path::PathBuf::from(&dir.path);
        for t in dir.topics {
            let partitions = t
                .partitions
                .iter()
                .map(|&index| {
                    let known = broker.metadata.topic(&t.name).is_some();
                    let code = if !known {
                        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    } else {
                        tokio::task::block_in_place(|| {
                            broker.replicas.alter_log_dir(&t.name, index, &path)
                        })
                    };
                    AlterReplicaLogDirPartitionResult {
                        partition_index: index,
                        error_code: code.0,
                        ..Default::default()
                    }
                })
                .collect::<Vec<_>>();
            match results.iter_mut().find(|x| x.topic_name == t.name) {
                Some(x) => x.partitions.extend(partitions),
                None => results.push(AlterReplicaLogDirTopicResult {
                    topic_name: t.name,
                    partitions,
                    ..Default::default()
                }),
            }
        }
    }
    ResponseBody::AlterReplicaLogDirs(AlterReplicaLogDirsResponse {
        results,
        ..Default::default()
    })
}

/// `(total, usable)` bytes of the file system holding `dir` (-1 when unknown).
fn disk_space(dir: &std::path::Path) -> (i64, i64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return (-1, -1);
    };
    // SAFETY: statvfs reads a NUL-terminated path and fills the struct we own.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return (-1, -1);
    }
    let frsize = st.f_frsize as i64;
    (
        (st.f_blocks as i64).saturating_mul(frsize),
        (st.f_bavail as i64).saturating_mul(frsize),
    )
}
