//! Follower fetchers: this broker's replicas of partitions led elsewhere copy their leaders'
//! logs with Kafka's Fetch (replica id, or `ReplicaState` from v15; current leader epoch and
//! last fetched epoch). One fetcher per source broker (`num.replica.fetchers` = 1), batched
//! across that leader's partitions, bounded by `replica.fetch.max.bytes` per partition and
//! `replica.fetch.response.max.bytes` per response. The leader's batches are appended
//! unchanged (offsets, epochs, CRCs; producer state and the leader-epoch cache follow them);
//! a `DivergingEpoch` answer truncates to where the two logs agree; the follower's log start
//! follows the leader's; OFFSET_OUT_OF_RANGE below the leader's log start restarts the log
//! there.
//!
//! Must not: decide who leads (the metadata does, through [`ReplicaManager`]).

use super::replica_manager::{FollowerFetchState, ReplicaManager};
use crate::net::{Connection, ConnectionConfig};
use crate::protocol::messages::fetch_request::{
    FetchPartition, FetchRequest, FetchTopic, ReplicaState,
};
use crate::protocol::messages::fetch_response::PartitionData;
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The replica manager, as the broker holds it.
pub type Manager = Arc<dyn AsRef<ReplicaManager> + Send + Sync>;

/// The follower throttle rate of a partition (`None`: not throttled).
pub type ThrottleOf = Arc<dyn Fn(&str, i32) -> Option<u64> + Send + Sync>;

/// What the fetchers need from the broker.
#[derive(Clone)]
pub struct FetcherContext {
    pub local_id: i32,
    /// This broker's current broker epoch (`ReplicaState.ReplicaEpoch`).
    pub broker_epoch: Arc<AtomicI64>,
    /// `host:port` of a broker's inter-broker listener, if it is registered.
    pub endpoint: Arc<dyn Fn(i32) -> Option<String> + Send + Sync>,
    pub max_bytes: i32,
    pub response_max_bytes: i32,
    pub wait_max: Duration,
    pub backoff: Duration,
    /// `follower.replication.throttled.rate` for a throttled partition of this follower
    /// (`follower.replication.throttled.replicas`), `None` when not throttled.
    pub throttle: ThrottleOf,
}

impl std::fmt::Debug for FetcherContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetcherContext")
            .field("local_id", &self.local_id)
            .finish()
    }
}

/// Keeps one fetcher task per leader this broker follows, until `shutdown` turns true.
pub async fn run(manager: Manager, ctx: FetcherContext, mut shutdown: watch::Receiver<bool>) {
    let mut tasks: HashMap<i32, tokio::task::JoinHandle<()>> = HashMap::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        tasks.retain(|_, t| !t.is_finished());
        for leader in manager
            .as_ref()
            .as_ref()
            .follower_fetch_states()
            .into_keys()
        {
            if tasks.contains_key(&leader) {
                continue;
            }
            let m = manager.clone();
            let c = ctx.clone();
            let s = shutdown.clone();
            tasks.insert(leader, tokio::spawn(fetch_from(m, c, leader, s)));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = shutdown.wait_for(|s| *s) => {}
        }
    }
    for t in tasks.into_values() {
        t.abort();
    }
}

/// The fetcher of the partitions led by `leader`; ends when it follows none of them.
async fn fetch_from(
    manager: Manager,
    ctx: FetcherContext,
    leader: i32,
    shutdown: watch::Receiver<bool>,
) {
    let mut conn: Option<Connection> = None;
    let throttle = super::throttle::Throttle::default();
    let config = ConnectionConfig {
        client_id: format!("kfk-replica-fetcher-{}", ctx.local_id),
        connect_timeout: Duration::from_secs(5),
        request_timeout: ctx.wait_max + Duration::from_secs(10),
        send_buffer_bytes: 131_072,
        // `replica.socket.receive.buffer.bytes`.
        receive_buffer_bytes: 65_536,
    };
    loop {
        if *shutdown.borrow() {
            return;
        }
        let mut states = manager
            .as_ref()
            .as_ref()
            .follower_fetch_states()
            .remove(&leader)
            .unwrap_or_default();
        if states.is_empty() {
            return;
        }
        // Throttled partitions wait while the follower's budget is spent.
        let rates: Vec<Option<u64>> = states
            .iter()
            .map(|s| (ctx.throttle)(&s.topic, s.index))
            .collect();
        let mut i = 0;
        states.retain(|_| {
            let keep = rates[i].is_none_or(|rate| throttle.allows(rate));
            i += 1;
            keep
        });
        if states.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        if conn.as_ref().is_none_or(Connection::is_dead) {
            let Some(addr) = (ctx.endpoint)(leader) else {
                tokio::time::sleep(ctx.backoff).await;
                continue;
            };
            match Connection::connect(&addr, config.clone()).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::debug!(leader, error = %e, "cannot reach the leader to fetch");
                    tokio::time::sleep(ctx.backoff).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.clone() else { continue };
        let Some(version) = c.version_for(ApiKey::Fetch).filter(|v| *v >= 12) else {
            tracing::warn!(leader, "the leader does not serve Fetch v12 or later");
            conn = None;
            tokio::time::sleep(ctx.backoff).await;
            continue;
        };
        let request = fetch_request(&ctx, &states, version);
        let response = match c
            .call_at(ApiKey::Fetch, version, RequestBody::Fetch(request))
            .await
        {
            Ok(ResponseBody::Fetch(r)) => r,
            Ok(_) => {
                conn = None;
                continue;
            }
            Err(e) => {
                tracing::debug!(leader, error = %e, "replica fetch failed");
                conn = None;
                tokio::time::sleep(ctx.backoff).await;
                continue;
            }
        };
        if response.error_code != 0 {
            tokio::time::sleep(ctx.backoff).await;
            continue;
        }
        let by_id: BTreeMap<(crate::protocol::Uuid, i32), &FollowerFetchState> =
            states.iter().map(|s| ((s.topic_id, s.index), s)).collect();
        let mut failed = false;
        for t in &response.responses {
            for p in &t.partitions {
                let Some(state) = by_id.get(&(t.topic_id, p.partition_index)) else {
                    continue;
                };
                if let Some(rate) = (ctx.throttle)(&state.topic, state.index) {
                    let bytes = p.records.as_ref().map_or(0, |r| r.len() as u64);
                    throttle.record(bytes, rate);
                }
                let m = manager.clone();
                let ok = tokio::task::block_in_place(|| apply(m.as_ref().as_ref(), state, p));
                failed |= !ok;
            }
        }
        if failed {
            tokio::time::sleep(ctx.backoff.min(Duration::from_millis(200))).await;
        }
    }
}

fn fetch_request(
    ctx: &FetcherContext,
    states: &[FollowerFetchState],
    version: i16,
) -> FetchRequest {
    let mut topics: BTreeMap<crate::protocol::Uuid, FetchTopic> = BTreeMap::new();
    for s in states {
        let t = topics.entry(s.topic_id).or_insert_with(|| FetchTopic {
            topic: if version < 13 {
                s.topic.clone()
            } else {
                String::new()
            },
            topic_id: if version >= 13 {
                s.topic_id
            } else {
                crate::protocol::Uuid::ZERO
            },
            ..Default::default()
        });
        t.partitions.push(FetchPartition {
            partition: s.index,
            current_leader_epoch: s.leader_epoch,
            fetch_offset: s.log_end_offset,
            last_fetched_epoch: s.last_fetched_epoch,
            log_start_offset: s.log_start_offset,
            partition_max_bytes: ctx.max_bytes,
            ..Default::default()
        });
    }
    FetchRequest {
        // Before v15 the replica id field; from v15 ReplicaState.
        replica_id: if version < 15 { ctx.local_id } else { -1 },
        replica_state: if version >= 15 {
            ReplicaState {
                replica_id: ctx.local_id,
                replica_epoch: ctx.broker_epoch.load(Ordering::Acquire),
                ..Default::default()
            }
        } else {
            ReplicaState::default()
        },
        max_wait_ms: ctx.wait_max.as_millis() as i32,
        min_bytes: 1,
        max_bytes: ctx.response_max_bytes,
        isolation_level: 0,
        session_id: 0,
        session_epoch: -1,
        topics: topics.into_values().collect(),
        ..Default::default()
    }
}

/// Applies one partition's answer; false when it failed (the fetcher backs off a little).
fn apply(manager: &ReplicaManager, state: &FollowerFetchState, p: &PartitionData) -> bool {
    let (topic, index) = (state.topic.as_str(), state.index);
    match ErrorCode(p.error_code) {
        ErrorCode::NONE => {}
        ErrorCode::OFFSET_OUT_OF_RANGE if p.log_start_offset > state.log_end_offset => {
            tracing::info!(%topic, partition = index, leader_log_start = p.log_start_offset, "the leader's log starts past ours: restarting the replica there");
            return manager
                .restart_follower_at(topic, index, p.log_start_offset)
                .is_ok();
        }
        code => {
            tracing::debug!(%topic, partition = index, error = code.name(), "replica fetch refused");
            return false;
        }
    }
    if p.diverging_epoch.epoch >= 0 || p.diverging_epoch.end_offset >= 0 {
        return manager
            .truncate_diverged(
                topic,
                index,
                p.diverging_epoch.epoch,
                p.diverging_epoch.end_offset,
                p.log_start_offset,
            )
            .is_ok();
    }
    if let Some(records) = p.records.as_ref().filter(|r| !r.is_empty()) {
        if let Err(e) = manager.append_as_follower(topic, index, records, crate::time::now_ms()) {
            tracing::warn!(%topic, partition = index, error = %e.message, "appending the leader's batches failed");
            return false;
        }
    }
    manager.follow_leader(topic, index, p.high_watermark, p.log_start_offset);
    true
}
