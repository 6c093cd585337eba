//! ListOffsets (earliest, latest, by timestamp, max timestamp), OffsetForLeaderEpoch,
//! DeleteRecords and InitProducerId (idempotent producers get a new id at epoch 0 every time;
//! transactional ids are refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, fatal in
//! clients, so they stop rather than retry).

use crate::broker::Broker;
use crate::protocol::messages::delete_records_request::DeleteRecordsRequest;
use crate::protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsResponse, DeleteRecordsTopicResult,
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

/// ListOffsets special timestamps.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

fn lookup(
    broker: &Broker,
    topic: &str,
    index: i32,
    timestamp: i64,
    current_epoch: i32,
) -> Result<(i64, i64, i32), ErrorCode> {
    let partition = broker
        .partition(topic, index)
        .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
    partition.check_epoch(current_epoch)?;
    let epoch = partition.leader_epoch();
    let mut log = partition.log.lock();
    let found = match timestamp {
        LATEST | LATEST_TIERED => Some((partition.high_watermark(), -1)),
        EARLIEST | EARLIEST_LOCAL => Some((log.log_start_offset(), -1)),
        MAX_TIMESTAMP => log
            .offset_of_max_timestamp()
            .map_err(|_| ErrorCode::KAFKA_STORAGE_ERROR)?,
        t if t >= 0 => log
            .offset_for_timestamp(t)
            .map_err(|_| ErrorCode::KAFKA_STORAGE_ERROR)?,
        _ => return Err(ErrorCode::INVALID_REQUEST),
    };
    Ok(match found {
        Some((offset, ts)) => (offset, ts, epoch),
        None => (-1, -1, -1),
    })
}

pub fn list_offsets(broker: &Broker, request: ListOffsetsRequest, version: i16) -> ResponseBody {
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
                    let found = tokio::task::block_in_place(|| {
                        lookup(
                            broker,
                            &t.name,
                            p.partition_index,
                            p.timestamp,
                            p.current_leader_epoch,
                        )
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
                    match broker.partition(&t.topic, p.partition) {
                        None => r.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
                        Some(partition) => match partition.check_epoch(p.current_leader_epoch) {
                            Err(code) => r.error_code = code.0,
                            Ok(()) => {
                                let log = partition.log.lock();
                                let (epoch, end) = log
                                    .leader_epochs()
                                    .end_offset_for(p.leader_epoch, log.log_end_offset());
                                r.leader_epoch = epoch;
                                r.end_offset = end;
                            }
                        },
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
                    match broker.partition(&t.name, p.partition_index) {
                        None => r.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
                        Some(partition) => {
                            let hw = partition.high_watermark();
                            match tokio::task::block_in_place(|| {
                                partition.log.lock().delete_records_before(p.offset, hw)
                            }) {
                                Ok(low) => r.low_watermark = low,
                                Err(code) => r.error_code = code.0,
                            }
                        }
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

pub fn init_producer_id(broker: &Broker, request: InitProducerIdRequest) -> ResponseBody {
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
        match tokio::task::block_in_place(|| broker.metadata.allocate_producer_id()) {
            Ok(id) => (r.producer_id, r.producer_epoch) = (id, 0),
            Err(code) => r.error_code = code.0,
        }
    }
    ResponseBody::InitProducerId(r)
}
