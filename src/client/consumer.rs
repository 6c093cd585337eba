//! The consumer: caller-chosen partitions (`assign`, `seek`, `seek_to_beginning`/`end`) or
//! group membership (`subscribe` to topics or a pattern, with `group.id`: partitions
//! assigned by the group, committed offsets resumed, auto-commit, rebalance listener, see
//! [`super::group`]); `auto.offset.reset` (earliest, latest, none), fetching from every
//! leader at once (`fetch.min.bytes`, `fetch.max.wait.ms`, `fetch.max.bytes`,
//! `max.partition.fetch.bytes`, `max.poll.records`), decompression, CRC checks
//! (`check.crcs`), leader changes and OFFSET_OUT_OF_RANGE.

use super::assignor;
use super::cluster::Cluster;
use super::group::{GroupSettings, Membership};
use super::{ClientError, Properties};
use crate::protocol::messages::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use crate::protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use crate::protocol::record_batch::{decode_records, verify_crc, BatchIter};
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub type TopicPartition = (String, i32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
    None,
}

#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub auto_offset_reset: OffsetReset,
    pub fetch_min_bytes: i32,
    pub fetch_max_wait: Duration,
    pub fetch_max_bytes: i32,
    pub max_partition_fetch_bytes: i32,
    pub max_poll_records: usize,
    pub check_crcs: bool,
    pub isolation_level: i8,
}

/// The consumer properties kfk knows (Kafka's names); others get a warning, as the
/// producer's do.
const KNOWN_KEYS: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "group.id",
    "group.instance.id",
    "group.protocol",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "partition.assignment.strategy",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "auto.offset.reset",
    "fetch.min.bytes",
    "fetch.max.wait.ms",
    "fetch.max.bytes",
    "max.partition.fetch.bytes",
    "max.poll.records",
    "check.crcs",
    "isolation.level",
    "exclude.internal.topics",
    "allow.auto.create.topics",
    "request.timeout.ms",
    "default.api.timeout.ms",
    "metadata.max.age.ms",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "socket.connection.setup.timeout.ms",
    "send.buffer.bytes",
    "receive.buffer.bytes",
    "key.deserializer",
    "value.deserializer",
    "security.protocol",
    "client.rack",
    "kfk.bootstrap.timeout.ms",
];

impl ConsumerConfig {
    pub fn from_properties(p: &Properties) -> Result<ConsumerConfig, ClientError> {
        for k in p.0.keys() {
            if !KNOWN_KEYS.contains(&k.as_str()) {
                tracing::warn!(key = %k, "the consumer property is not a known config; ignored");
            }
        }
        let reset = match p.get("auto.offset.reset").unwrap_or("latest").trim() {
            "earliest" => OffsetReset::Earliest,
            "latest" => OffsetReset::Latest,
            "none" => OffsetReset::None,
            other => {
                return Err(ClientError::Config(format!(
                "invalid value {other:?} for auto.offset.reset: expected earliest, latest or none"
            )))
            }
        };
        let isolation_level = match p
            .get("isolation.level")
            .unwrap_or("read_uncommitted")
            .trim()
        {
            "read_uncommitted" => 0,
            "read_committed" => 1,
            other => {
                return Err(ClientError::Config(format!(
                    "invalid value {other:?} for isolation.level"
                )))
            }
        };
        Ok(ConsumerConfig {
            auto_offset_reset: reset,
            fetch_min_bytes: p.num("fetch.min.bytes", 1)?,
            fetch_max_wait: p.ms("fetch.max.wait.ms", 500)?,
            fetch_max_bytes: p.num("fetch.max.bytes", 52_428_800)?,
            max_partition_fetch_bytes: p.num("max.partition.fetch.bytes", 1_048_576)?,
            max_poll_records: p.num("max.poll.records", 500usize)?.max(1),
            check_crcs: p.bool("check.crcs", true)?,
            isolation_level,
        })
    }
}

/// A consumed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub log_append_time: bool,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    At(i64),
    Earliest,
    Latest,
}

/// Called around rebalances (Java's `ConsumerRebalanceListener`).
pub trait RebalanceListener: Send + Sync {
    /// Before partitions are taken away (offsets are still committable).
    fn on_partitions_revoked(&mut self, _partitions: &[TopicPartition]) {}
    /// After partitions are assigned (positions are set from committed offsets).
    fn on_partitions_assigned(&mut self, _partitions: &[TopicPartition]) {}
    /// When the membership was lost: the partitions may already belong to others.
    fn on_partitions_lost(&mut self, partitions: &[TopicPartition]) {
        self.on_partitions_revoked(partitions);
    }
}

/// Topics a group member subscribes to.
#[derive(Clone)]
pub enum Subscription {
    Topics(Vec<String>),
    /// Every (non-internal) topic whose name the predicate accepts, re-checked every
    /// `metadata.max.age.ms`.
    Pattern(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

/// A consumer of assigned partitions.
pub struct Consumer {
    pub cluster: Arc<Cluster>,
    pub config: ConsumerConfig,
    assignment: Vec<TopicPartition>,
    positions: HashMap<TopicPartition, Position>,
    buffered: VecDeque<ConsumerRecord>,
    /// Bumped by every seek or assignment change of a partition, so the answer of a fetch
    /// sent before it is dropped for that partition.
    epochs: HashMap<TopicPartition, u64>,
    /// The next fetch, sent while the application processes the records already returned.
    in_flight: Option<InFlightFetch>,
    /// Group membership (with `group.id`).
    group: Option<Membership>,
    subscription: Option<Subscription>,
    /// The topics the subscription resolved to at the last rebalance.
    subscribed_topics: Vec<String>,
    listener: Option<Box<dyn RebalanceListener>>,
    next_auto_commit: Instant,
    next_topic_check: Instant,
}

type FetchTask = tokio::task::JoinHandle<Result<(i32, i16, ResponseBody), ClientError>>;

/// Fetch requests on their way, with the partition epochs they were sent under.
struct InFlightFetch {
    tasks: Vec<FetchTask>,
    epochs: HashMap<TopicPartition, u64>,
}

impl Consumer {
    pub async fn new(properties: &Properties) -> Result<Consumer, ClientError> {
        let config = ConsumerConfig::from_properties(properties)?;
        let group_settings = GroupSettings::from_properties(properties)?;
        let cluster = Cluster::new(properties.client_config("kfk-consumer")?);
        cluster.any_connection().await?;
        let group = group_settings.map(|s| Membership::new(s, cluster.clone()));
        Ok(Consumer {
            cluster,
            config,
            assignment: Vec::new(),
            positions: HashMap::new(),
            buffered: VecDeque::new(),
            epochs: HashMap::new(),
            in_flight: None,
            group,
            subscription: None,
            subscribed_topics: Vec::new(),
            listener: None,
            next_auto_commit: Instant::now(),
            next_topic_check: Instant::now(),
        })
    }

    /// The group membership (`group.id` set).
    pub fn group(&self) -> Option<&Membership> {
        self.group.as_ref()
    }

    /// The group membership, for calls that need `group.id`.
    fn member(&mut self) -> Result<&mut Membership, ClientError> {
        self.group
            .as_mut()
            .ok_or_else(|| ClientError::Config("this call needs group.id".into()))
    }

    /// Joins the group for `subscription` at the next `poll`.
    pub fn subscribe(&mut self, subscription: Subscription) -> Result<(), ClientError> {
        let Some(group) = &self.group else {
            return Err(ClientError::Config(
                "subscribe needs group.id (use assign without a group)".into(),
            ));
        };
        group.request_rejoin();
        self.subscription = Some(subscription);
        Ok(())
    }

    pub fn set_rebalance_listener(&mut self, listener: Box<dyn RebalanceListener>) {
        self.listener = Some(listener);
    }

    /// The offsets a commit stores now: for each assigned partition, the offset of the next
    /// record `poll` returns.
    pub fn committable(&self) -> Vec<(TopicPartition, i64)> {
        let mut first_buffered: HashMap<(&str, i32), i64> = HashMap::new();
        for r in &self.buffered {
            first_buffered
                .entry((r.topic.as_str(), r.partition))
                .or_insert(r.offset);
        }
        self.assignment
            .iter()
            .filter_map(|tp| {
                let at = first_buffered.get(&(tp.0.as_str(), tp.1)).copied().or(
                    match self.positions.get(tp) {
                        Some(Position::At(o)) => Some(*o),
                        _ => None,
                    },
                )?;
                Some((tp.clone(), at))
            })
            .collect()
    }

    /// Commits `offsets` (or, with `None`, every assigned partition's position) and waits
    /// for the answer.
    pub async fn commit_sync(
        &mut self,
        offsets: Option<Vec<(TopicPartition, i64)>>,
    ) -> Result<(), ClientError> {
        let offsets = offsets.unwrap_or_else(|| self.committable());
        let group = self.member()?;
        group.commit(&offsets).await
    }

    /// Sends a commit without waiting; the returned task holds its outcome.
    pub async fn commit_async(
        &mut self,
        offsets: Option<Vec<(TopicPartition, i64)>>,
    ) -> Result<tokio::task::JoinHandle<Result<(), ClientError>>, ClientError> {
        let offsets = offsets.unwrap_or_else(|| self.committable());
        let group = self.member()?;
        group.commit_async(&offsets).await
    }

    /// The group's committed offsets for `tps` (-1: none).
    pub async fn committed(
        &mut self,
        tps: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>, ClientError> {
        let group = self.member()?;
        group.committed(tps).await
    }

    /// Commits (with auto-commit), tells the listener, and leaves the group.
    pub async fn close(&mut self) -> Result<(), ClientError> {
        let mut result = Ok(());
        if self.subscription.is_some() {
            if let Some(g) = &self.group {
                if g.settings.auto_commit && !g.needs_rejoin() {
                    let offsets = self.committable();
                    if let Some(g) = self.group.as_mut() {
                        result = g.commit(&offsets).await;
                    }
                }
            }
            let assigned = self.assignment.clone();
            if let Some(l) = self.listener.as_mut() {
                l.on_partitions_revoked(&assigned);
            }
        }
        if let Some(g) = self.group.as_mut() {
            g.leave().await;
        }
        self.subscription = None;
        result
    }

    /// Rebalances when needed and auto-commits when due.
    async fn maintain_group(&mut self) -> Result<(), ClientError> {
        let Some(group) = &self.group else {
            return Ok(());
        };
        group.polled();
        if let Some(e) = group.take_fatal() {
            return Err(e);
        }
        if self.subscription.is_none() {
            return Ok(());
        }
        if let Some(Subscription::Pattern(_)) = &self.subscription {
            if Instant::now() >= self.next_topic_check {
                self.next_topic_check = Instant::now() + self.cluster.config.metadata_max_age;
                if self.resolve_subscription().await? != self.subscribed_topics {
                    group.request_rejoin();
                }
            }
        }
        if group.needs_rejoin() {
            self.rebalance().await?;
        } else if group.coordinator_is_lost() {
            let group = self.group.as_mut().expect("checked above");
            if let Err(e) = group.rediscover_coordinator().await {
                if !e.is_retriable() {
                    return Err(e);
                }
                tracing::debug!(error = %e, "the group coordinator is not found yet");
            }
        }
        let auto_commit = self.group.as_ref().is_some_and(|g| g.settings.auto_commit);
        if auto_commit && Instant::now() >= self.next_auto_commit {
            self.auto_commit().await;
        }
        Ok(())
    }

    async fn auto_commit(&mut self) {
        let Some(group) = self.group.as_ref() else {
            return;
        };
        self.next_auto_commit = Instant::now() + group.settings.auto_commit_interval;
        let offsets = self.committable();
        if let Some(g) = self.group.as_mut() {
            if let Err(e) = g.commit(&offsets).await {
                tracing::warn!(error = %e, "auto-commit failed");
            }
        }
    }

    async fn resolve_subscription(&self) -> Result<Vec<String>, ClientError> {
        let mut topics = match &self.subscription {
            None => Vec::new(),
            Some(Subscription::Topics(t)) => t.clone(),
            Some(Subscription::Pattern(matches)) => {
                self.cluster.refresh(&[]).await?;
                self.cluster
                    .user_topic_names()
                    .into_iter()
                    .filter(|t| matches(t))
                    .collect()
            }
        };
        topics.sort();
        topics.dedup();
        Ok(topics)
    }

    /// One rebalance: eager (everything revoked, committed first) unless every configured
    /// assignor is cooperative, in which case only the partitions that move are revoked.
    async fn rebalance(&mut self) -> Result<(), ClientError> {
        let Some(group) = self.group.as_ref() else {
            return Ok(());
        };
        let cooperative = group
            .settings
            .assignors
            .iter()
            .all(|a| assignor::is_cooperative(a));
        let auto_commit = group.settings.auto_commit;
        let lost = group.take_lost();
        let current = self.assignment.clone();
        let owned = if lost {
            if let Some(l) = self.listener.as_mut() {
                l.on_partitions_lost(&current);
            }
            self.assign_local(Vec::new());
            Vec::new()
        } else if cooperative {
            current
        } else {
            if auto_commit {
                self.auto_commit().await;
            }
            if let Some(l) = self.listener.as_mut() {
                l.on_partitions_revoked(&current);
            }
            self.assign_local(Vec::new());
            Vec::new()
        };
        let topics = self.resolve_subscription().await?;
        self.subscribed_topics = topics.clone();
        self.next_topic_check = Instant::now() + self.cluster.config.metadata_max_age;
        if !topics.is_empty() {
            self.cluster.refresh(&topics).await?;
        }
        let group = self.group.as_mut().expect("checked above");
        let result = group.rebalance(&topics, &owned).await?;
        let revoked: Vec<TopicPartition> = owned
            .iter()
            .filter(|tp| !result.assigned.contains(tp))
            .cloned()
            .collect();
        let added: Vec<TopicPartition> = result
            .assigned
            .iter()
            .filter(|tp| !owned.contains(tp))
            .cloned()
            .collect();
        if !revoked.is_empty() {
            if auto_commit {
                let offsets: Vec<(TopicPartition, i64)> = self
                    .committable()
                    .into_iter()
                    .filter(|(tp, _)| revoked.contains(tp))
                    .collect();
                if let Some(g) = self.group.as_mut() {
                    if let Err(e) = g.commit(&offsets).await {
                        tracing::warn!(error = %e, "commit before revocation failed");
                    }
                }
            }
            if let Some(l) = self.listener.as_mut() {
                l.on_partitions_revoked(&revoked);
            }
            // KIP-429: rejoin so the revoked partitions can be given to their new owner.
            if let Some(g) = self.group.as_ref() {
                g.request_rejoin();
            }
        }
        self.assign_local(result.assigned.clone());
        if !added.is_empty() {
            let committed = match self.group.as_mut() {
                Some(g) => g.committed(&added).await?,
                None => HashMap::new(),
            };
            for tp in &added {
                match committed.get(tp) {
                    Some(o) if *o >= 0 => self.seek(tp, *o),
                    _ => {
                        self.positions.remove(tp);
                    }
                }
            }
        }
        if let Some(l) = self.listener.as_mut() {
            l.on_partitions_assigned(&added);
        }
        tracing::info!(
            generation = result.generation,
            protocol = %result.protocol,
            assigned = ?result.assigned,
            "joined the group"
        );
        Ok(())
    }

    /// Sets the assignment without a metadata round trip (group rebalances).
    fn assign_local(&mut self, partitions: Vec<TopicPartition>) {
        self.positions.retain(|tp, _| partitions.contains(tp));
        for tp in &partitions {
            self.bump(tp);
        }
        self.buffered.retain(|r| {
            partitions
                .iter()
                .any(|(t, p)| *t == r.topic && *p == r.partition)
        });
        self.assignment = partitions;
    }

    /// Consumes exactly these partitions from now on.
    pub async fn assign(&mut self, partitions: Vec<TopicPartition>) -> Result<(), ClientError> {
        let mut topics: Vec<String> = partitions.iter().map(|p| p.0.clone()).collect();
        topics.dedup();
        self.cluster.refresh(&topics).await?;
        self.positions.retain(|tp, _| partitions.contains(tp));
        for tp in &partitions {
            self.bump(tp);
        }
        self.buffered.retain(|r| {
            partitions
                .iter()
                .any(|(t, p)| *t == r.topic && *p == r.partition)
        });
        self.assignment = partitions;
        Ok(())
    }

    pub fn assignment(&self) -> &[TopicPartition] {
        &self.assignment
    }

    fn bump(&mut self, tp: &TopicPartition) {
        *self.epochs.entry(tp.clone()).or_default() += 1;
    }

    pub fn seek(&mut self, tp: &TopicPartition, offset: i64) {
        self.bump(tp);
        self.positions.insert(tp.clone(), Position::At(offset));
        self.buffered
            .retain(|r| !(r.topic == tp.0 && r.partition == tp.1));
    }

    pub fn seek_to_beginning(&mut self, tps: &[TopicPartition]) {
        for tp in tps {
            self.bump(tp);
            self.positions.insert(tp.clone(), Position::Earliest);
            self.buffered
                .retain(|r| !(r.topic == tp.0 && r.partition == tp.1));
        }
    }

    pub fn seek_to_end(&mut self, tps: &[TopicPartition]) {
        for tp in tps {
            self.bump(tp);
            self.positions.insert(tp.clone(), Position::Latest);
            self.buffered
                .retain(|r| !(r.topic == tp.0 && r.partition == tp.1));
        }
    }

    /// The next offset to be returned for `tp` (resolving earliest/latest positions).
    pub async fn position(&mut self, tp: &TopicPartition) -> Result<i64, ClientError> {
        self.resolve_positions().await?;
        match self.positions.get(tp) {
            Some(Position::At(o)) => Ok(*o),
            _ => Err(ClientError::Config(format!(
                "{}-{} is not assigned",
                tp.0, tp.1
            ))),
        }
    }

    /// `(earliest, latest)` offsets of partitions, by ListOffsets. Retriable errors (a leader
    /// that moved, a new leader whose high watermark has not caught up yet:
    /// OFFSET_NOT_AVAILABLE) are asked again with fresh metadata, for up to 60 s (the Java
    /// client's `default.api.timeout.ms`).
    pub async fn offsets_for(
        &self,
        tps: &[TopicPartition],
        timestamp: i64,
    ) -> Result<HashMap<TopicPartition, i64>, ClientError> {
        const DEFAULT_API_TIMEOUT: Duration = Duration::from_secs(60);
        let deadline = Instant::now() + DEFAULT_API_TIMEOUT;
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.offsets_for_once(tps, timestamp).await {
                Err(e) if e.is_retriable() && Instant::now() + backoff < deadline => {
                    tracing::debug!(error = %e, "ListOffsets: retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    let topics: Vec<String> = tps.iter().map(|tp| tp.0.clone()).collect();
                    let _ = self.cluster.refresh(&topics).await;
                }
                other => return other,
            }
        }
    }

    async fn offsets_for_once(
        &self,
        tps: &[TopicPartition],
        timestamp: i64,
    ) -> Result<HashMap<TopicPartition, i64>, ClientError> {
        let mut by_leader: HashMap<i32, Vec<TopicPartition>> = HashMap::new();
        for tp in tps {
            by_leader
                .entry(self.leader(tp)?)
                .or_default()
                .push(tp.clone());
        }
        let mut out = HashMap::new();
        for (node, tps) in by_leader {
            let conn = self.cluster.connection(node).await?;
            let mut topics: Vec<ListOffsetsTopic> = Vec::new();
            for (t, p) in &tps {
                let part = ListOffsetsPartition {
                    partition_index: *p,
                    current_leader_epoch: -1,
                    timestamp,
                    ..Default::default()
                };
                match topics.iter_mut().find(|x| &x.name == t) {
                    Some(x) => x.partitions.push(part),
                    None => topics.push(ListOffsetsTopic {
                        name: t.clone(),
                        partitions: vec![part],
                        ..Default::default()
                    }),
                }
            }
            let request = RequestBody::ListOffsets(ListOffsetsRequest {
                replica_id: -1,
                isolation_level: self.config.isolation_level,
                topics,
                ..Default::default()
            });
            let (_, body) = conn.call(ApiKey::ListOffsets, request).await?;
            let ResponseBody::ListOffsets(r) = body else {
                return Err(ClientError::Protocol(
                    "ListOffsets answered with another API".into(),
                ));
            };
            for t in r.topics {
                for p in t.partitions {
                    if p.error_code != 0 {
                        return Err(ClientError::Broker(
                            ErrorCode(p.error_code),
                            format!("ListOffsets for {}-{}", t.name, p.partition_index),
                        ));
                    }
                    out.insert((t.name.clone(), p.partition_index), p.offset);
                }
            }
        }
        Ok(out)
    }

    fn leader(&self, tp: &TopicPartition) -> Result<i32, ClientError> {
        let topic = self.cluster.topic(&tp.0).ok_or_else(|| {
            ClientError::Broker(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!("topic {} not found", tp.0),
            )
        })?;
        topic
            .partitions
            .iter()
            .find(|p| p.index == tp.1)
            .map(|p| p.leader)
            .filter(|l| *l >= 0)
            .ok_or_else(|| {
                ClientError::Broker(
                    ErrorCode::LEADER_NOT_AVAILABLE,
                    format!("no leader for {}-{}", tp.0, tp.1),
                )
            })
    }

    async fn resolve_positions(&mut self) -> Result<(), ClientError> {
        for (wanted, ts) in [(Position::Earliest, -2i64), (Position::Latest, -1)] {
            let mut tps: Vec<TopicPartition> = self
                .assignment
                .iter()
                .filter(|tp| self.positions.get(*tp).copied() == Some(wanted))
                .cloned()
                .collect();
            if wanted == Position::Earliest
                && self.config.auto_offset_reset == OffsetReset::Earliest
            {
                tps.extend(
                    self.assignment
                        .iter()
                        .filter(|tp| !self.positions.contains_key(*tp))
                        .cloned(),
                );
            }
            if wanted == Position::Latest && self.config.auto_offset_reset == OffsetReset::Latest {
                tps.extend(
                    self.assignment
                        .iter()
                        .filter(|tp| !self.positions.contains_key(*tp))
                        .cloned(),
                );
            }
            if tps.is_empty() {
                continue;
            }
            for (tp, offset) in self.offsets_for(&tps, ts).await? {
                self.positions.insert(tp, Position::At(offset));
            }
        }
        if let Some(tp) = self
            .assignment
            .iter()
            .find(|tp| !self.positions.contains_key(*tp))
        {
            return Err(ClientError::Broker(
                ErrorCode::OFFSET_OUT_OF_RANGE,
                format!(
                    "no position for {}-{} and auto.offset.reset=none",
                    tp.0, tp.1
                ),
            ));
        }
        Ok(())
    }

    /// Records from the assigned partitions: waits up to `timeout` for some.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>, ClientError> {
        let deadline = Instant::now() + timeout;
        let wake = self.group.as_ref().map(|g| g.wake.clone());
        loop {
            self.maintain_group().await?;
            if !self.buffered.is_empty() {
                let n = self.buffered.len().min(self.config.max_poll_records);
                let records: Vec<ConsumerRecord> = self.buffered.drain(..n).collect();
                if self.buffered.is_empty() && self.in_flight.is_none() {
                    // Pipelining: the next fetch travels while the caller handles these.
                    self.in_flight = Some(self.launch_fetch(self.config.fetch_max_wait).await);
                }
                return Ok(records);
            }
            if self.assignment.is_empty() {
                let sleep = tokio::time::sleep_until(deadline.into());
                match &wake {
                    Some(w) => tokio::select! {
                        _ = sleep => return Ok(Vec::new()),
                        _ = w.notified() => continue,
                    },
                    None => {
                        sleep.await;
                        return Ok(Vec::new());
                    }
                }
            }
            self.resolve_positions().await?;
            let wait = self
                .config
                .fetch_max_wait
                .min(deadline.saturating_duration_since(Instant::now()));
            match &wake {
                // A rebalance (flagged by the heartbeat task) interrupts the fetch wait.
                Some(w) => tokio::select! {
                    r = self.fetch_once(wait) => r?,
                    _ = w.notified() => {}
                },
                None => self.fetch_once(wait).await?,
            }
            if self.buffered.is_empty() && Instant::now() >= deadline {
                return Ok(Vec::new());
            }
        }
    }

    /// One fetch from every leader at once; decoded records go to the buffer.
    async fn fetch_once(&mut self, wait: Duration) -> Result<(), ClientError> {
        let flight = match self.in_flight.take() {
            Some(f) => f,
            None => self.launch_fetch(wait).await,
        };
        self.complete_fetch(flight).await
    }

    /// Sends a fetch to every leader of the assigned partitions (without waiting).
    async fn launch_fetch(&mut self, wait: Duration) -> InFlightFetch {
        let mut by_leader: HashMap<i32, Vec<TopicPartition>> = HashMap::new();
        for tp in &self.assignment {
            match self.leader(tp) {
                Ok(l) => by_leader.entry(l).or_default().push(tp.clone()),
                Err(_) => {
                    let topics: Vec<String> = self.assignment.iter().map(|t| t.0.clone()).collect();
                    let _ = self.cluster.refresh(&topics).await;
                }
            }
        }
        let mut tasks = Vec::new();
        for (node, tps) in by_leader {
            let request = self.fetch_request(&tps, wait);
            let cluster = self.cluster.clone();
            tasks.push(tokio::spawn(async move {
                let conn = cluster.connection(node).await?;
                let version = conn.version_for(ApiKey::Fetch).ok_or_else(|| {
                    ClientError::Unsupported("the broker does not support Fetch".into())
                })?;
                let request = request(version);
                let body = conn.call_at(ApiKey::Fetch, version, request).await?;
                Ok::<_, ClientError>((node, version, body))
            }));
        }
        let epochs = self
            .assignment
            .iter()
            .map(|tp| (tp.clone(), self.epochs.get(tp).copied().unwrap_or(0)))
            .collect();
        InFlightFetch { tasks, epochs }
    }

    /// Takes the answers of a fetch into the buffer (skipping partitions sought since).
    async fn complete_fetch(&mut self, flight: InFlightFetch) -> Result<(), ClientError> {
        let mut refresh = false;
        for t in flight.tasks {
            match t.await.map_err(|e| ClientError::Protocol(e.to_string()))? {
                Ok((_, _, ResponseBody::Fetch(r))) => {
                    if r.error_code != 0 {
                        return Err(ClientError::Broker(
                            ErrorCode(r.error_code),
                            "fetch failed".into(),
                        ));
                    }
                    for topic in r.responses {
                        let name = if topic.topic.is_empty() {
                            self.topic_by_id(&topic.topic_id)
                        } else {
                            Some(topic.topic.clone())
                        };
                        let Some(name) = name else { continue };
                        for p in topic.partitions {
                            let tp = (name.clone(), p.partition_index);
                            if flight.epochs.get(&tp)
                                != Some(&self.epochs.get(&tp).copied().unwrap_or(0))
                            {
                                continue; // sought or reassigned after this fetch was sent
                            }
                            refresh |= self.take_partition(
                                &name,
                                p.partition_index,
                                p.error_code,
                                p.records.unwrap_or_default(),
                            )?;
                        }
                    }
                }
                Ok(_) => {
                    return Err(ClientError::Protocol(
                        "Fetch answered with another API".into(),
                    ))
                }
                Err(e) if e.is_retriable() => refresh = true,
                Err(e) => return Err(e),
            }
        }
        if refresh {
            let topics: Vec<String> = self.assignment.iter().map(|t| t.0.clone()).collect();
            let _ = self.cluster.refresh(&topics).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    fn topic_by_id(&self, id: &crate::protocol::Uuid) -> Option<String> {
        self.assignment
            .iter()
            .map(|t| &t.0)
            .find(|t| self.cluster.topic(t).is_some_and(|i| &i.id == id))
            .cloned()
    }

    /// A request builder for `tps` at a version chosen once the connection is known.
    fn fetch_request(
        &self,
        tps: &[TopicPartition],
        wait: Duration,
    ) -> impl FnOnce(i16) -> RequestBody {
        let mut topics: Vec<(String, crate::protocol::Uuid, Vec<FetchPartition>)> = Vec::new();
        for tp in tps {
            let Some(Position::At(offset)) = self.positions.get(tp).copied() else {
                continue;
            };
            let id = self.cluster.topic(&tp.0).map(|t| t.id).unwrap_or_default();
            let part = FetchPartition {
                partition: tp.1,
                current_leader_epoch: -1,
                fetch_offset: offset,
                last_fetched_epoch: -1,
                log_start_offset: -1,
                partition_max_bytes: self.config.max_partition_fetch_bytes,
                ..Default::default()
            };
            match topics.iter_mut().find(|t| t.0 == tp.0) {
                Some(t) => t.2.push(part),
                None => topics.push((tp.0.clone(), id, vec![part])),
            }
        }
        let config = self.config.clone();
        move |version| {
            RequestBody::Fetch(FetchRequest {
                replica_id: -1,
                max_wait_ms: i32::try_from(wait.as_millis()).unwrap_or(i32::MAX),
                min_bytes: config.fetch_min_bytes,
                max_bytes: config.fetch_max_bytes,
                isolation_level: config.isolation_level,
                session_id: 0,
                session_epoch: -1,
                topics: topics
                    .into_iter()
                    .map(|(name, id, partitions)| FetchTopic {
                        topic: if version < 13 { name } else { String::new() },
                        topic_id: if version >= 13 {
                            id
                        } else {
                            Default::default()
                        },
                        partitions,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
    }

    /// Decodes one partition's answer; returns whether metadata should be refreshed.
    fn take_partition(
        &mut self,
        topic: &str,
        partition: i32,
        error_code: i16,
        records: Bytes,
    ) -> Result<bool, ClientError> {
        let tp = (topic.to_string(), partition);
        let Some(Position::At(position)) = self.positions.get(&tp).copied() else {
            return Ok(false);
        };
        let code = ErrorCode(error_code);
        if code == ErrorCode::OFFSET_OUT_OF_RANGE {
            match self.config.auto_offset_reset {
                OffsetReset::Earliest => self.positions.insert(tp, Position::Earliest),
                OffsetReset::Latest => self.positions.insert(tp, Position::Latest),
                OffsetReset::None => {
                    return Err(ClientError::Broker(
                        code,
                        format!("offset {position} is out of range for {topic}-{partition}"),
                    ))
                }
            };
            return Ok(false);
        }
        if !code.is_ok() {
            if code.is_retriable() {
                return Ok(true);
            }
            return Err(ClientError::Broker(
                code,
                format!("fetching {topic}-{partition}"),
            ));
        }
        let mut next = position;
        for (header, batch) in BatchIter::new(records) {
            if header.last_offset() < position {
                continue;
            }
            if self.config.check_crcs {
                verify_crc(&batch).map_err(|e| {
                    ClientError::Protocol(format!(
                        "{topic}-{partition} at offset {}: {e}",
                        header.base_offset
                    ))
                })?;
            }
            if !header.is_control() {
                let decoded = decode_records(&batch, 256 << 20).map_err(|e| {
                    ClientError::Protocol(format!(
                        "{topic}-{partition} at offset {}: {e}",
                        header.base_offset
                    ))
                })?;
                for r in decoded.into_iter().filter(|r| r.offset >= position) {
                    self.buffered.push_back(ConsumerRecord {
                        topic: topic.to_string(),
                        partition,
                        offset: r.offset,
                        timestamp: r.timestamp,
                        log_append_time: header.is_log_append_time(),
                        key: r.key,
                        value: r.value,
                        headers: r.headers.into_iter().map(|h| (h.key, h.value)).collect(),
                    });
                }
            }
            next = next.max(header.next_offset());
        }
        self.positions.insert(tp, Position::At(next));
        Ok(false)
    }
}
