//! Cluster metadata as a client sees it: bootstrap, brokers, topics with their partitions'
//! leaders, one connection per broker (reconnected with backoff when it dies), refreshes on
//! errors and after `metadata.max.age.ms`.

use super::connection::Connection;
use super::{ClientConfig, ClientError};
use crate::protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody, Uuid};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many brokers one metadata refresh asks before it gives up.
const REFRESH_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct PartitionInfo {
    pub index: i32,
    pub leader: i32,
    pub leader_epoch: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopicInfo {
    pub name: String,
    pub id: Uuid,
    pub partitions: Vec<PartitionInfo>,
    /// Kafka's internal topics (`__consumer_offsets`, ...), as the broker flags them.
    pub internal: bool,
}

#[derive(Debug, Default)]
struct State {
    brokers: HashMap<i32, String>,
    topics: HashMap<String, TopicInfo>,
    connections: HashMap<i32, Connection>,
    bootstrap: Option<Connection>,
    refreshed: Option<Instant>,
}

/// Shared view of the cluster.
#[derive(Debug)]
pub struct Cluster {
    pub config: ClientConfig,
    state: Mutex<State>,
    /// Wall-clock ms of the last refresh (0: never), read without the lock on hot paths.
    refreshed_ms: std::sync::atomic::AtomicI64,
    /// A background refresh is under way ([`Cluster::refresh_in_background`]).
    refreshing: std::sync::atomic::AtomicBool,
}

impl Cluster {
    pub fn new(config: ClientConfig) -> Arc<Cluster> {
        Arc::new(Cluster {
            config,
            state: Mutex::new(State::default()),
            refreshed_ms: std::sync::atomic::AtomicI64::new(0),
            refreshing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection to any broker: a live one if there is one, else the bootstrap list in
    /// order and then the brokers the metadata named (a cluster may have lost every bootstrap
    /// address), retrying with backoff until `bootstrap_timeout`; the error names the
    /// addresses and the reason.
    pub async fn any_connection(&self) -> Result<Connection, ClientError> {
        if let Some(c) = self.lock().bootstrap.clone().filter(|c| !c.is_dead()) {
            return Ok(c);
        }
        let live: Vec<Connection> = self
            .lock()
            .connections
            .values()
            .filter(|c| !c.is_dead())
            .cloned()
            .collect();
        if let Some(c) = live.into_iter().next() {
            return Ok(c);
        }
        let deadline = Instant::now() + self.config.bootstrap_timeout;
        let mut backoff = self.config.reconnect_backoff;
        loop {
            let mut last = String::new();
            let mut addrs = self.config.bootstrap_servers.clone();
            let mut known: Vec<String> = self.lock().brokers.values().cloned().collect();
            known.sort();
            known.retain(|a| !addrs.contains(a));
            addrs.extend(known);
            for addr in &addrs {
                match Connection::connect(addr, &self.config).await {
                    Ok(c) => {
                        self.lock().bootstrap = Some(c.clone());
                        return Ok(c);
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            if Instant::now() + backoff > deadline {
                return Err(ClientError::Unreachable(format!(
                    "no broker reachable at {} after {} s: {}",
                    self.config.bootstrap_servers.join(","),
                    self.config.bootstrap_timeout.as_secs(),
                    last.rsplit(": ").next().unwrap_or(&last)
                )));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.config.reconnect_backoff_max);
        }
    }

    /// The connection to broker `node`, (re)connecting when needed.
    pub async fn connection(&self, node: i32) -> Result<Connection, ClientError> {
        if let Some(c) = self
            .lock()
            .connections
            .get(&node)
            .filter(|c| !c.is_dead())
            .cloned()
        {
            return Ok(c);
        }
        let addr = self.lock().brokers.get(&node).cloned();
        let addr = match addr {
            Some(a) => a,
            None => {
                self.refresh(&[]).await?;
                self.lock()
                    .brokers
                    .get(&node)
                    .cloned()
                    .ok_or_else(|| ClientError::Protocol(format!("unknown broker {node}")))?
            }
        };
        let conn = Connection::connect(&addr, &self.config).await?;
        self.lock().connections.insert(node, conn.clone());
        Ok(conn)
    }

    /// Forgets `conn` wherever it is kept (it failed under a request), so the next
    /// [`Cluster::any_connection`] picks or opens another.
    fn forget(&self, conn: &Connection) {
        let mut state = self.lock();
        if state
            .bootstrap
            .as_ref()
            .is_some_and(|c| c.addr == conn.addr)
        {
            state.bootstrap = None;
        }
        state.connections.retain(|_, c| c.addr != conn.addr);
    }

    /// Fetches metadata for `topics` (all known topics when empty) and updates the view.
    /// Topics that do not exist are auto-created only when `auto_create` is set. A
    /// connection that fails under the request (a broker just killed, a cut link) is
    /// forgotten and the request goes to another broker, up to [`REFRESH_ATTEMPTS`] in all.
    pub async fn refresh_topics(
        &self,
        topics: &[String],
        auto_create: bool,
    ) -> Result<(), ClientError> {
        let mut attempt = 1;
        loop {
            match self.refresh_once(topics, auto_create).await {
                Err(e) if e.is_transport() && attempt < REFRESH_ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "metadata refresh failed; trying another broker");
                    attempt += 1;
                }
                r => return r,
            }
        }
    }

    async fn refresh_once(&self, topics: &[String], auto_create: bool) -> Result<(), ClientError> {
        let conn = self.any_connection().await?;
        let request = RequestBody::Metadata(MetadataRequest {
            topics: if topics.is_empty() {
                None
            } else {
                Some(
                    topics
                        .iter()
                        .map(|t| MetadataRequestTopic {
                            name: Some(t.clone()),
                            ..Default::default()
                        })
                        .collect(),
                )
            },
            allow_auto_topic_creation: auto_create,
            ..Default::default()
        });
        let (_, body) = match conn.call(ApiKey::Metadata, request).await {
            Ok(r) => r,
            Err(e) => {
                self.forget(&conn);
                return Err(e);
            }
        };
        let ResponseBody::Metadata(m) = body else {
            return Err(ClientError::Protocol(
                "Metadata answered with another API".into(),
            ));
        };
        let mut state = self.lock();
        for b in &m.brokers {
            state
                .brokers
                .insert(b.node_id, format!("{}:{}", b.host, b.port));
        }
        for t in m.topics {
            let Some(name) = t.name else { continue };
            if t.error_code != 0 {
                state.topics.remove(&name);
                continue;
            }
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    index: p.partition_index,
                    leader: p.leader_id,
                    leader_epoch: p.leader_epoch,
                })
                .collect();
            partitions.sort_by_key(|p| p.index);
            state.topics.insert(
                name.clone(),
                TopicInfo {
                    name,
                    id: t.topic_id,
                    partitions,
                    internal: t.is_internal,
                },
            );
        }
        state.refreshed = Some(Instant::now());
        self.refreshed_ms
            .store(crate::time::now_ms(), std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Starts a refresh of the known topics on its own task unless one is under way (every
    /// topic, so one topic's refresh does not leave another's metadata stale); the caller goes
    /// on with the metadata it has (the Java producer's way with metadata past
    /// `metadata.max.age.ms`: only a topic it knows nothing of blocks a send).
    pub fn refresh_in_background(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let cluster = self.clone();
        let topics = self.topic_names();
        tokio::spawn(async move {
            if let Err(e) = cluster.refresh(&topics).await {
                tracing::debug!(error = %e, "background metadata refresh failed");
            }
            cluster.refreshing.store(false, Ordering::Release);
        });
    }

    /// Refreshes metadata for `topics` without auto-creation.
    pub async fn refresh(&self, topics: &[String]) -> Result<(), ClientError> {
        self.refresh_topics(topics, false).await
    }

    pub fn topic(&self, name: &str) -> Option<TopicInfo> {
        self.lock().topics.get(name).cloned()
    }

    /// The leader of `topic`-`partition`, if known (no copy of the metadata).
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.lock()
            .topics
            .get(topic)?
            .partitions
            .iter()
            .find(|p| p.index == partition)
            .map(|p| p.leader)
    }

    /// The partition count of a known topic (no copy of its metadata).
    pub fn partition_count(&self, name: &str) -> Option<i32> {
        self.lock()
            .topics
            .get(name)
            .map(|t| t.partitions.len() as i32)
            .filter(|n| *n > 0)
    }

    /// The ids of the known brokers.
    pub fn broker_ids(&self) -> Vec<i32> {
        let mut v: Vec<i32> = self.lock().brokers.keys().copied().collect();
        v.sort_unstable();
        v
    }

    pub fn topic_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.lock().topics.keys().cloned().collect();
        v.sort();
        v
    }

    /// The topics that are not internal (what a pattern subscription may match, as Java's
    /// `exclude.internal.topics=true`).
    pub fn user_topic_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .lock()
            .topics
            .values()
            .filter(|t| !t.internal)
            .map(|t| t.name.clone())
            .collect();
        v.sort();
        v
    }

    /// Whether the metadata is older than `metadata.max.age.ms`.
    /// [`Cluster::is_stale`] given the wall-clock time in ms the caller already has: no lock
    /// and no clock read (the producer's per-record check).
    pub fn is_stale_at(&self, now_ms: i64) -> bool {
        let refreshed = self.refreshed_ms.load(std::sync::atomic::Ordering::Acquire);
        refreshed == 0
            || now_ms.saturating_sub(refreshed) > self.config.metadata_max_age.as_millis() as i64
    }

    pub fn is_stale(&self) -> bool {
        self.lock()
            .refreshed
            .is_none_or(|t| t.elapsed() > self.config.metadata_max_age)
    }

    /// Waits for metadata of `topic`, asking for it (and auto-creation if `auto_create`) until
    /// `timeout`; brokers that cannot be reached or drop the connection are retried until
    /// then too. The error says why the topic is missing.
    pub async fn wait_for_topic(
        &self,
        topic: &str,
        auto_create: bool,
        timeout: Duration,
    ) -> Result<TopicInfo, ClientError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut warned = false;
        loop {
            let why = match self.refresh_topics(&[topic.to_string()], auto_create).await {
                Err(e) if e.is_transport() && Instant::now() < deadline => {
                    tracing::debug!(topic, error = %e, "no metadata yet; retrying");
                    tokio::time::sleep(
                        self.config.reconnect_backoff.max(Duration::from_millis(50)),
                    )
                    .await;
                    format!("no broker answers ({e})")
                }
                r => {
                    r?;
                    match self.topic(topic) {
                        Some(t)
                            if !t.partitions.is_empty()
                                && t.partitions.iter().all(|p| p.leader >= 0) =>
                        {
                            return Ok(t)
                        }
                        Some(_) => "some of its partitions have no leader".to_string(),
                        None if auto_create => {
                            "the cluster does not have it (is auto.create.topics.enable off?)"
                                .to_string()
                        }
                        None => "the cluster does not have it".to_string(),
                    }
                }
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(ClientError::Broker(
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    format!(
                        "topic {topic} not present in metadata after {} ms: {why}",
                        timeout.as_millis()
                    ),
                ));
            }
            if !warned && now - started >= super::WAIT_WARNING {
                warned = true;
                tracing::warn!(
                    "still waiting for metadata of topic {topic} after {} s: {why}; giving up in {} s",
                    (now - started).as_secs(),
                    (deadline - now).as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Forgets a connection that failed.
    pub fn drop_connection(&self, node: i32) {
        self.lock().connections.remove(&node);
    }
}
