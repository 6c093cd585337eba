//! The broker's side of partition replication: starts the follower fetchers (reaching
//! leaders at their inter-broker endpoints), sends leaders' ISR changes to the active
//! controller as AlterPartition (v3, `NewIsrWithEpochs`) and hands the answers back to the
//! partitions, and runs the leaders' periodic ISR shrink check
//! (`replica.lag.time.max.ms`).

use super::Broker;
use crate::protocol::messages::alter_partition_request::{
    AlterPartitionRequest, BrokerState, PartitionData, TopicData,
};
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};
use crate::replication::fetcher::{self, FetcherContext};
use crate::replication::IsrChange;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// AlterPartition version kfk sends (the first with `NewIsrWithEpochs`).
const ALTER_PARTITION_VERSION: i16 = 3;

/// Starts the replication tasks of a cluster broker.
pub fn start(broker: &Arc<Broker>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    broker.replicas.set_isr_change_sender(tx);
    tasks.push(tokio::spawn(send_isr_changes(broker.clone(), rx)));
    tasks.push(tokio::spawn(shrink_isrs(broker.clone())));
    let endpoint_broker = broker.clone();
    let throttle_broker = broker.clone();
    let ctx = FetcherContext {
        local_id: broker.node_id,
        broker_epoch: broker_epoch_of(broker),
        endpoint: Arc::new(move |id| inter_broker_endpoint(&endpoint_broker, id)),
        max_bytes: broker.config.replica_fetch_max_bytes,
        response_max_bytes: broker.config.replica_fetch_response_max_bytes,
        wait_max: Duration::from_millis(broker.config.replica_fetch_wait_max_ms),
        backoff: Duration::from_millis(broker.config.replica_fetch_backoff_ms),
        throttle: Arc::new(move |topic, partition| {
            let b = &throttle_broker;
            b.replicas
                .throttle_rate("follower.replication.throttled.rate")
                .filter(|_| {
                    b.replicas.is_throttled_replica(
                        "follower.replication.throttled.replicas",
                        topic,
                        partition,
                        b.node_id,
                    )
                })
        }),
    };
    let manager: fetcher::Manager = broker.clone();
    tasks.push(tokio::spawn(fetcher::run(
        manager,
        ctx,
        broker.shutdown_signal(),
    )));
    tasks
}

/// The broker epoch, shared with the fetchers (updated as the broker registers).
fn broker_epoch_of(broker: &Arc<Broker>) -> Arc<AtomicI64> {
    let shared = Arc::new(AtomicI64::new(-1));
    let out = shared.clone();
    let b = broker.clone();
    tokio::spawn(async move {
        let mut stop = b.shutdown_signal();
        loop {
            shared.store(
                b.control
                    .broker_epoch
                    .load(std::sync::atomic::Ordering::Acquire),
                std::sync::atomic::Ordering::Release,
            );
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });
    out
}

/// `host:port` of broker `id`'s inter-broker listener, from its registration.
pub(crate) fn inter_broker_endpoint(broker: &Broker, id: i32) -> Option<String> {
    let b = broker.metadata.brokers().into_iter().find(|b| b.id == id)?;
    let name = &broker.config.inter_broker_listener_name;
    let ep = b
        .endpoints
        .iter()
        .find(|e| &e.0 == name)
        .or(b.endpoints.first())?;
    Some(format!("{}:{}", ep.1, ep.2))
}

async fn send_isr_changes(
    broker: Arc<Broker>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<IsrChange>,
) {
    let mut stop = broker.shutdown_signal();
    loop {
        let change = tokio::select! {
            c = rx.recv() => match c { Some(c) => c, None => return },
            _ = stop.wait_for(|s| *s) => return,
        };
        let result = alter_partition(&broker, &change).await;
        match &result {
            Ok((_, _, isr)) => {
                let before = broker
                    .replicas
                    .get(&change.topic, change.index)
                    .map_or(0, |p| p.replication().1.len());
                if isr.len() < before {
                    broker.metrics.isr_shrinks.inc();
                } else if isr.len() > before {
                    broker.metrics.isr_expands.inc();
                }
                tracing::info!(topic = %change.topic, partition = change.index, ?isr, "the controller changed the ISR")
            }
            Err(code) => {
                tracing::info!(topic = %change.topic, partition = change.index, error = code.name(), "the controller refused an ISR change")
            }
        }
        tokio::task::block_in_place(|| broker.replicas.isr_change_done(&change, result));
    }
}

/// One AlterPartition at the active controller: `(leader epoch, partition epoch, ISR)`.
async fn alter_partition(
    broker: &Broker,
    change: &IsrChange,
) -> Result<(i32, i32, Vec<i32>), ErrorCode> {
    let epoch = broker
        .control
        .broker_epoch
        .load(std::sync::atomic::Ordering::Acquire);
    let body = RequestBody::AlterPartition(AlterPartitionRequest {
        broker_id: broker.node_id,
        broker_epoch: epoch,
        topics: vec![TopicData {
            topic_id: change.topic_id,
            partitions: vec![PartitionData {
                partition_index: change.index,
                leader_epoch: change.leader_epoch,
                new_isr_with_epochs: change
                    .new_isr
                    .iter()
                    .map(|id| BrokerState {
                        broker_id: *id,
                        broker_epoch: -1,
                        ..Default::default()
                    })
                    .collect(),
                leader_recovery_state: 0,
                partition_epoch: change.partition_epoch,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = broker
        .send_to_controller(
            ApiKey::AlterPartition,
            ALTER_PARTITION_VERSION,
            &body,
            deadline,
        )
        .await
        .map_err(|e| {
            // Expected while the cluster stops with this node.
            if broker.metadata.is_stopping() {
                tracing::debug!(error = %e, "AlterPartition reached no controller");
            } else {
                tracing::warn!(error = %e, "AlterPartition reached no controller");
            }
            ErrorCode::REQUEST_TIMED_OUT
        })?;
    let ResponseBody::AlterPartition(r) = answer else {
        return Err(ErrorCode::UNKNOWN_SERVER_ERROR);
    };
    if r.error_code != 0 {
        return Err(ErrorCode(r.error_code));
    }
    let p = r
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or(ErrorCode::UNKNOWN_SERVER_ERROR)?;
    if p.error_code != 0 {
        return Err(ErrorCode(p.error_code));
    }
    Ok((p.leader_epoch, p.partition_epoch, p.isr.clone()))
}

/// Every half `replica.lag.time.max.ms`, leaders drop followers that stopped catching up.
async fn shrink_isrs(broker: Arc<Broker>) {
    let lag = broker.config.replica_lag_time_max_ms;
    let mut stop = broker.shutdown_signal();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis((lag / 2).max(10))) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        broker
            .replicas
            .shrink_isrs(crate::time::now_ms(), lag as i64);
    }
}

/// Moves replicas between this broker's log dirs (AlterReplicaLogDirs), Kafka's
/// `ReplicaAlterLogDirsThread`: each move copies its partition's current log to the future
/// replica step by step, at most `replica.alter.log.dirs.io.max.bytes.per.second` (a dynamic
/// broker config; unlimited by default) over all moves, then swaps it in. Runs on every
/// broker, one node or a cluster.
pub async fn move_between_log_dirs(broker: Arc<Broker>) {
    const THROTTLE_KEY: &str = "replica.alter.log.dirs.io.max.bytes.per.second";
    const UNTHROTTLED_STEP_BYTES: u64 = 16 << 20;
    let mut stop = broker.shutdown_signal();
    let mut tokens: f64 = 0.0;
    let mut last = Instant::now();
    loop {
        let moves = broker.replicas.log_dir_moves();
        let idle = if moves.is_empty() {
            Duration::from_millis(500)
        } else {
            Duration::from_millis(100)
        };
        tokio::select! {
            _ = tokio::time::sleep(idle) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if moves.is_empty() {
            last = Instant::now();
            continue;
        }
        let rate = broker.replicas.throttle_rate(THROTTLE_KEY);
        let now = Instant::now();
        tokens = match rate {
            // A one-second bucket: at most a second's worth at once.
            Some(r) => (tokens + r as f64 * (now - last).as_secs_f64()).min(r as f64),
            None => UNTHROTTLED_STEP_BYTES as f64,
        };
        last = now;
        for (topic, partition) in moves {
            if tokens < 1.0 {
                break;
            }
            let b = broker.clone();
            let max_bytes = tokens as u64;
            let (t, p) = (topic.clone(), partition);
            let step =
                tokio::task::spawn_blocking(move || b.replicas.log_dir_move_step(&t, p, max_bytes))
                    .await;
            match step {
                Ok(Ok(crate::log::replica_move::MoveProgress::Copying { copied, .. })) => {
                    if rate.is_some() {
                        tokens -= copied as f64;
                    }
                }
                Ok(Ok(crate::log::replica_move::MoveProgress::Done)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(%topic, partition, error = %e, "moving a replica between log dirs failed; retrying");
                }
                Err(e) => {
                    tracing::error!(%topic, partition, error = %e, "a log-dir move step panicked")
                }
            }
        }
    }
}
