//! Group membership of the consumer (Kafka's classic group protocol): finding the
//! coordinator, JoinGroup (with the MEMBER_ID_REQUIRED handshake) and SyncGroup as leader or
//! follower, a heartbeat task on its own connection, committed offsets (OffsetCommit /
//! OffsetFetch) and LeaveGroup.
//!
//! The consumer drives rebalances from `poll` (as Java's does); the heartbeat task only
//! keeps the session alive and raises flags ([`Membership::needs_rejoin`]) that wake `poll`.

use super::assignor::{self, Subscription, TopicPartition};
use super::cluster::Cluster;
use super::connection::Connection;
use super::{ClientError, Properties};
use crate::protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use crate::protocol::messages::heartbeat_request::HeartbeatRequest;
use crate::protocol::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use crate::protocol::messages::leave_group_request::{LeaveGroupRequest, MemberIdentity};
use crate::protocol::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use crate::protocol::messages::offset_fetch_request::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use crate::protocol::messages::sync_group_request::{SyncGroupRequest, SyncGroupRequestAssignment};
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Group settings with Kafka's property names.
#[derive(Debug, Clone)]
pub struct GroupSettings {
    /// `group.id`
    pub group_id: String,
    /// `group.instance.id` (static membership)
    pub instance_id: Option<String>,
    /// `session.timeout.ms` (30000 here; Java's default is 45000)
    pub session_timeout: Duration,
    /// `max.poll.interval.ms`, also the rebalance timeout
    pub max_poll_interval: Duration,
    /// `heartbeat.interval.ms`
    pub heartbeat_interval: Duration,
    /// `partition.assignment.strategy`, by protocol name, in preference order
    pub assignors: Vec<String>,
    /// `enable.auto.commit`
    pub auto_commit: bool,
    /// `auto.commit.interval.ms`
    pub auto_commit_interval: Duration,
    /// `retry.backoff.ms`
    pub retry_backoff: Duration,
}

impl GroupSettings {
    /// `None` without `group.id`.
    pub fn from_properties(p: &Properties) -> Result<Option<GroupSettings>, ClientError> {
        let Some(group_id) = p.get("group.id").map(str::trim).filter(|g| !g.is_empty()) else {
            return Ok(None);
        };
        let mut assignors = Vec::new();
        let strategy = p
            .get("partition.assignment.strategy")
            .unwrap_or("range,cooperative-sticky");
        for name in strategy.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let short = name.rsplit('.').next().unwrap_or(name);
            let protocol = match short {
                "range" | "RangeAssignor" => "range",
                "roundrobin" | "RoundRobinAssignor" => "roundrobin",
                "sticky" | "StickyAssignor" => "sticky",
                "cooperative-sticky" | "CooperativeStickyAssignor" => "cooperative-sticky",
                other => {
                    return Err(ClientError::Config(format!(
                        "invalid value {other:?} for partition.assignment.strategy: expected {}",
                        assignor::ASSIGNORS.join(", ")
                    )))
                }
            };
            if !assignors.iter().any(|a| a == protocol) {
                assignors.push(protocol.to_string());
            }
        }
        if assignors.is_empty() {
            return Err(ClientError::Config(
                "partition.assignment.strategy is empty".into(),
            ));
        }
        let settings = GroupSettings {
            group_id: group_id.to_string(),
            instance_id: p
                .get("group.instance.id")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            session_timeout: p.ms("session.timeout.ms", 30_000)?,
            max_poll_interval: p.ms("max.poll.interval.ms", 300_000)?,
            heartbeat_interval: p.ms("heartbeat.interval.ms", 3_000)?,
            assignors,
            auto_commit: p.bool("enable.auto.commit", true)?,
            auto_commit_interval: p.ms("auto.commit.interval.ms", 5_000)?,
            retry_backoff: p.ms("retry.backoff.ms", 100)?,
        };
        if settings.heartbeat_interval >= settings.session_timeout {
            return Err(ClientError::Config(
                "heartbeat.interval.ms must be lower than session.timeout.ms".into(),
            ));
        }
        Ok(Some(settings))
    }
}

/// What the heartbeat task and the consumer share.
#[derive(Debug)]
struct Shared {
    member_id: String,
    generation: i32,
    protocol: Option<String>,
    /// Joined and synced: heartbeats are sent.
    stable: bool,
    /// A rebalance is needed (the coordinator said so, or our subscription changed).
    rejoin: bool,
    /// Our membership is gone (unknown member, fenced generation): partitions are lost,
    /// not revoked, and nothing is committed for them.
    lost: bool,
    /// The coordinator moved or failed: look it up again.
    coordinator_lost: bool,
    /// The coordinator's address, for the heartbeat connection.
    coordinator_addr: Option<String>,
    last_poll: Instant,
    closed: bool,
    /// A fatal error for the consumer (e.g. a fenced static member).
    fatal: Option<ClientError>,
}

/// One consumer's membership in a group.
pub struct Membership {
    pub settings: GroupSettings,
    cluster: Arc<Cluster>,
    shared: Arc<Mutex<Shared>>,
    /// Woken when a flag is raised.
    pub wake: Arc<Notify>,
    coordinator: Option<Connection>,
    heartbeat_task: Option<tokio::task::JoinHandle<()>>,
    /// Partitions assigned in the current generation.
    pub assigned: Vec<TopicPartition>,
}

/// The outcome of a completed rebalance.
#[derive(Debug, Default)]
pub struct Rebalanced {
    pub assigned: Vec<TopicPartition>,
    pub protocol: String,
    pub generation: i32,
}

fn unexpected(api: ApiKey) -> ClientError {
    ClientError::Protocol(format!("{} answered with another API", api.name()))
}

impl Membership {
    pub fn new(settings: GroupSettings, cluster: Arc<Cluster>) -> Membership {
        Membership {
            settings,
            cluster,
            shared: Arc::new(Mutex::new(Shared {
                member_id: String::new(),
                generation: -1,
                protocol: None,
                stable: false,
                rejoin: true,
                lost: false,
                coordinator_lost: false,
                coordinator_addr: None,
                last_poll: Instant::now(),
                closed: false,
                fatal: None,
            })),
            wake: Arc::new(Notify::new()),
            coordinator: None,
            heartbeat_task: None,
            assigned: Vec::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn member_id(&self) -> String {
        self.lock().member_id.clone()
    }

    pub fn generation(&self) -> i32 {
        self.lock().generation
    }

    /// Marks a poll (for `max.poll.interval.ms`).
    pub fn polled(&self) {
        self.lock().last_poll = Instant::now();
    }

    /// Whether `poll` must rebalance before fetching more.
    pub fn needs_rejoin(&self) -> bool {
        let s = self.lock();
        s.rejoin || !s.stable
    }

    /// Whether the coordinator went away (connection refused, NOT_COORDINATOR, ...): `poll`
    /// looks the new one up and heartbeats go there. The membership is kept, as the Java
    /// client keeps it: the new coordinator loaded the group from `__consumer_offsets`, and
    /// it answers with an error (and so a rejoin) only if it does not know this member.
    pub fn coordinator_is_lost(&self) -> bool {
        self.lock().coordinator_lost
    }

    /// Looks the coordinator up again after [`Membership::coordinator_is_lost`]; on failure
    /// the flag stays up for the next poll.
    pub async fn rediscover_coordinator(&mut self) -> Result<(), ClientError> {
        match self.coordinator().await {
            Ok(_) => Ok(()),
            Err(e) => {
                self.lock().coordinator_lost = true;
                Err(e)
            }
        }
    }

    /// Asks for a rebalance at the next poll (e.g. the subscription changed).
    pub fn request_rejoin(&self) {
        self.lock().rejoin = true;
        self.wake.notify_one();
    }

    /// Takes the "membership lost" flag.
    pub fn take_lost(&self) -> bool {
        std::mem::take(&mut self.lock().lost)
    }

    pub fn take_fatal(&self) -> Option<ClientError> {
        self.lock().fatal.take()
    }

    /// The coordinator connection, looked up and connected when needed (retrying until
    /// `request.timeout.ms`).
    pub async fn coordinator(&mut self) -> Result<Connection, ClientError> {
        if self.lock().coordinator_lost {
            self.coordinator = None;
            self.lock().coordinator_lost = false;
        }
        if let Some(c) = self.coordinator.as_ref().filter(|c| !c.is_dead()) {
            return Ok(c.clone());
        }
        let deadline = Instant::now() + self.cluster.config.request_timeout;
        loop {
            match self.find_coordinator().await {
                Ok(addr) => {
                    // JoinGroup waits up to the rebalance timeout for the other members.
                    let timeout = self
                        .cluster
                        .config
                        .request_timeout
                        .max(self.settings.max_poll_interval + Duration::from_secs(5));
                    let conn =
                        Connection::connect_with_timeout(&addr, &self.cluster.config, timeout)
                            .await?;
                    self.coordinator = Some(conn.clone());
                    self.lock().coordinator_addr = Some(addr);
                    return Ok(conn);
                }
                Err(e) if e.is_retriable() && Instant::now() < deadline => {
                    tracing::debug!(group = %self.settings.group_id, error = %e, "coordinator lookup failed; retrying");
                    tokio::time::sleep(self.settings.retry_backoff).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// FindCoordinator: the coordinator's `host:port`.
    async fn find_coordinator(&self) -> Result<String, ClientError> {
        let conn = self.cluster.any_connection().await?;
        let (_, host, port) = find_group_coordinator(&conn, &self.settings.group_id).await?;
        Ok(format!("{host}:{port}"))
    }

    /// Notes a coordinator-level error: the coordinator must be looked up again.
    fn coordinator_error(&mut self, code: ErrorCode) -> bool {
        if matches!(
            code,
            ErrorCode::NOT_COORDINATOR
                | ErrorCode::COORDINATOR_NOT_AVAILABLE
                | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        ) {
            self.coordinator = None;
            return true;
        }
        false
    }

    /// Joins (or rejoins) the group and syncs: returns this member's new assignment. Runs
    /// the assignor when elected leader. `owned` is what we keep across a cooperative
    /// rebalance (empty for eager protocols). Retries retriable failures.
    pub async fn rebalance(
        &mut self,
        topics: &[String],
        owned: &[TopicPartition],
    ) -> Result<Rebalanced, ClientError> {
        {
            let mut s = self.lock();
            s.stable = false;
            s.rejoin = false;
        }
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            match self.join_and_sync(topics, owned).await {
                Ok(r) => {
                    self.assigned = r.assigned.clone();
                    {
                        let mut s = self.lock();
                        s.stable = true;
                        s.generation = r.generation;
                        s.protocol = Some(r.protocol.clone());
                        s.last_poll = Instant::now();
                    }
                    self.start_heartbeats();
                    return Ok(r);
                }
                Err(ClientError::Broker(code, why)) => {
                    let retry = match code {
                        ErrorCode::MEMBER_ID_REQUIRED => true,
                        ErrorCode::UNKNOWN_MEMBER_ID => {
                            self.reset_member();
                            true
                        }
                        ErrorCode::ILLEGAL_GENERATION => {
                            self.lock().generation = -1;
                            true
                        }
                        ErrorCode::REBALANCE_IN_PROGRESS => true,
                        c if self.coordinator_error(c) => true,
                        c => c.is_retriable(),
                    };
                    if !retry || attempts > 1000 {
                        return Err(ClientError::Broker(code, why));
                    }
                    if code != ErrorCode::MEMBER_ID_REQUIRED {
                        tokio::time::sleep(self.settings.retry_backoff).await;
                    }
                }
                Err(e) if e.is_retriable() && attempts <= 1000 => {
                    self.coordinator = None;
                    tokio::time::sleep(self.settings.retry_backoff).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn reset_member(&self) {
        let mut s = self.lock();
        s.member_id.clear();
        s.generation = -1;
    }

    async fn join_and_sync(
        &mut self,
        topics: &[String],
        owned: &[TopicPartition],
    ) -> Result<Rebalanced, ClientError> {
        let conn = self.coordinator().await?;
        let (member_id, generation) = {
            let s = self.lock();
            (s.member_id.clone(), s.generation)
        };
        let protocols = self
            .settings
            .assignors
            .iter()
            .map(|name| {
                let (owned_now, user_data) = match name.as_str() {
                    // Eager sticky: owned partitions travel in Java's user data format.
                    "sticky" => (
                        Vec::new(),
                        Some(assignor::encode_sticky_user_data(
                            &self.assigned,
                            generation,
                        )),
                    ),
                    n if assignor::is_cooperative(n) => (owned.to_vec(), None),
                    _ => (Vec::new(), None),
                };
                JoinGroupRequestProtocol {
                    name: name.clone(),
                    metadata: assignor::encode_subscription(
                        topics, &owned_now, generation, user_data,
                    ),
                    ..Default::default()
                }
            })
            .collect();
        let api = ApiKey::JoinGroup;
        let join = JoinGroupRequest {
            group_id: self.settings.group_id.clone(),
            session_timeout_ms: millis(self.settings.session_timeout),
            rebalance_timeout_ms: millis(self.settings.max_poll_interval),
            member_id,
            group_instance_id: self.settings.instance_id.clone(),
            protocol_type: "consumer".into(),
            protocols,
            reason: None,
            ..Default::default()
        };
        let (_, body) = conn.call(api, RequestBody::JoinGroup(join)).await?;
        let ResponseBody::JoinGroup(r) = body else {
            return Err(unexpected(api));
        };
        let code = ErrorCode(r.error_code);
        if code == ErrorCode::MEMBER_ID_REQUIRED {
            self.lock().member_id = r.member_id;
            return Err(ClientError::Broker(code, "JoinGroup".into()));
        }
        if !code.is_ok() {
            return Err(ClientError::Broker(
                code,
                format!("JoinGroup {}", self.settings.group_id),
            ));
        }
        {
            let mut s = self.lock();
            s.member_id = r.member_id.clone();
            s.generation = r.generation_id;
        }
        let protocol = r.protocol_name.clone().unwrap_or_default();
        let assignments = if r.leader == r.member_id {
            self.lead(&protocol, &r.members).await?
        } else {
            Vec::new()
        };
        let api = ApiKey::SyncGroup;
        let sync = SyncGroupRequest {
            group_id: self.settings.group_id.clone(),
            generation_id: r.generation_id,
            member_id: r.member_id.clone(),
            group_instance_id: self.settings.instance_id.clone(),
            protocol_type: Some("consumer".into()),
            protocol_name: Some(protocol.clone()),
            assignments,
            ..Default::default()
        };
        let (_, body) = conn.call(api, RequestBody::SyncGroup(sync)).await?;
        let ResponseBody::SyncGroup(s) = body else {
            return Err(unexpected(api));
        };
        let code = ErrorCode(s.error_code);
        if !code.is_ok() {
            return Err(ClientError::Broker(
                code,
                format!("SyncGroup {}", self.settings.group_id),
            ));
        }
        let assigned = assignor::decode_assignment(&s.assignment).map_err(ClientError::Protocol)?;
        tracing::debug!(group = %self.settings.group_id, generation = r.generation_id, ?assigned, "joined");
        Ok(Rebalanced {
            assigned,
            protocol,
            generation: r.generation_id,
        })
    }

    /// As leader: decodes every member's subscription, looks up the topics and runs the
    /// group's assignor.
    async fn lead(
        &self,
        protocol: &str,
        members: &[crate::protocol::messages::join_group_response::JoinGroupResponseMember],
    ) -> Result<Vec<SyncGroupRequestAssignment>, ClientError> {
        let mut subs: Vec<Subscription> = Vec::new();
        for m in members {
            match assignor::decode_subscription(
                &m.member_id,
                m.group_instance_id.as_deref(),
                &m.metadata,
            ) {
                Ok(s) => subs.push(s),
                Err(e) => {
                    tracing::warn!(member = %m.member_id, error = %e, "unreadable subscription; the member gets nothing");
                    subs.push(Subscription {
                        member_id: m.member_id.clone(),
                        ..Default::default()
                    });
                }
            }
        }
        let mut topics: Vec<String> = subs.iter().flat_map(|s| s.topics.clone()).collect();
        topics.sort();
        topics.dedup();
        self.cluster.refresh(&topics).await?;
        let counts: HashMap<String, i32> = topics
            .iter()
            .filter_map(|t| self.cluster.partition_count(t).map(|n| (t.clone(), n)))
            .collect();
        let plan = assignor::assign(protocol, &subs, &counts).map_err(ClientError::Protocol)?;
        Ok(plan
            .into_iter()
            .map(|(member_id, tps)| SyncGroupRequestAssignment {
                member_id,
                assignment: assignor::encode_assignment(&tps, None),
                ..Default::default()
            })
            .collect())
    }

    fn start_heartbeats(&mut self) {
        if self
            .heartbeat_task
            .as_ref()
            .is_some_and(|t| !t.is_finished())
        {
            return;
        }
        let shared = self.shared.clone();
        let wake = self.wake.clone();
        let settings = self.settings.clone();
        let cluster = self.cluster.clone();
        self.heartbeat_task = Some(tokio::spawn(heartbeat_loop(
            shared, wake, settings, cluster,
        )));
    }

    /// OffsetCommit of `offsets` (next offsets to consume) with the current generation (or
    /// as a simple group with generation -1 when not a member).
    pub async fn commit(&mut self, offsets: &[(TopicPartition, i64)]) -> Result<(), ClientError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.commit_once(offsets).await {
                Err(ClientError::Broker(code, why)) => {
                    let retry = self.coordinator_error(code)
                        || code == ErrorCode::REQUEST_TIMED_OUT
                        || code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION && attempts < 3;
                    match code {
                        ErrorCode::REBALANCE_IN_PROGRESS => self.request_rejoin(),
                        ErrorCode::ILLEGAL_GENERATION | ErrorCode::UNKNOWN_MEMBER_ID => {
                            let mut s = self.lock();
                            s.lost = true;
                            s.rejoin = true;
                            if code == ErrorCode::UNKNOWN_MEMBER_ID {
                                s.member_id.clear();
                                s.generation = -1;
                            }
                        }
                        _ => {}
                    }
                    if !retry || attempts >= 5 {
                        return Err(ClientError::Broker(code, why));
                    }
                    tokio::time::sleep(self.settings.retry_backoff).await;
                }
                Err(e) if e.is_retriable() && attempts < 5 => {
                    self.coordinator = None;
                    tokio::time::sleep(self.settings.retry_backoff).await;
                }
                other => return other,
            }
        }
    }

    async fn commit_once(&mut self, offsets: &[(TopicPartition, i64)]) -> Result<(), ClientError> {
        let (conn, request) = self.commit_request(offsets).await?;
        commit_call(conn, request).await
    }

    /// Sends an OffsetCommit without waiting for its answer: the returned task has it
    /// (errors are also logged).
    pub async fn commit_async(
        &mut self,
        offsets: &[(TopicPartition, i64)],
    ) -> Result<tokio::task::JoinHandle<Result<(), ClientError>>, ClientError> {
        let (conn, request) = self.commit_request(offsets).await?;
        Ok(tokio::spawn(async move {
            let result = commit_call(conn, request).await;
            if let Err(e) = &result {
                tracing::warn!(error = %e, "asynchronous commit failed");
            }
            result
        }))
    }

    async fn commit_request(
        &mut self,
        offsets: &[(TopicPartition, i64)],
    ) -> Result<(Connection, RequestBody), ClientError> {
        let conn = self.coordinator().await?;
        let (member_id, generation) = {
            let s = self.lock();
            if s.stable {
                (s.member_id.clone(), s.generation)
            } else {
                (String::new(), -1)
            }
        };
        let request = offset_commit_request(
            &self.settings.group_id,
            generation,
            member_id,
            self.settings.instance_id.clone(),
            offsets,
        );
        Ok((conn, request))
    }

    /// The group's committed offsets for `tps` (-1 where none).
    pub async fn committed(
        &mut self,
        tps: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>, ClientError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.committed_once(tps).await {
                Err(ClientError::Broker(code, why)) => {
                    if !(self.coordinator_error(code) || code.is_retriable()) || attempts >= 10 {
                        return Err(ClientError::Broker(code, why));
                    }
                    tokio::time::sleep(self.settings.retry_backoff).await;
                }
                Err(e) if e.is_retriable() && attempts < 10 => {
                    self.coordinator = None;
                    tokio::time::sleep(self.settings.retry_backoff).await;
                }
                other => return other,
            }
        }
    }

    async fn committed_once(
        &mut self,
        tps: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>, ClientError> {
        let conn = self.coordinator().await?;
        Ok(fetch_offsets(&conn, &self.settings.group_id, Some(tps))
            .await?
            .into_iter()
            .collect())
    }

    /// Leaves the group (static members stay, as in Java: their session timeout decides)
    /// and stops heartbeating.
    pub async fn leave(&mut self) {
        let member_id = {
            let mut s = self.lock();
            s.closed = true;
            s.member_id.clone()
        };
        self.wake.notify_waiters();
        if let Some(t) = self.heartbeat_task.take() {
            t.abort();
        }
        if member_id.is_empty() || self.settings.instance_id.is_some() {
            return;
        }
        let Ok(conn) = self.coordinator().await else {
            return;
        };
        let api = ApiKey::LeaveGroup;
        let Some(version) = conn.version_for(api) else {
            return;
        };
        let request = LeaveGroupRequest {
            group_id: self.settings.group_id.clone(),
            member_id: if version < 3 {
                member_id.clone()
            } else {
                String::new()
            },
            members: if version >= 3 {
                vec![MemberIdentity {
                    member_id,
                    group_instance_id: None,
                    reason: Some("the consumer is being closed".into()),
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        match conn
            .call_at(api, version, RequestBody::LeaveGroup(request))
            .await
        {
            Ok(_) => tracing::debug!(group = %self.settings.group_id, "left the group"),
            Err(e) => {
                tracing::debug!(group = %self.settings.group_id, error = %e, "LeaveGroup failed")
            }
        }
        self.reset_member();
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        if let Some(t) = self.heartbeat_task.take() {
            t.abort();
        }
    }
}

async fn commit_call(conn: Connection, request: RequestBody) -> Result<(), ClientError> {
    match send_offset_commit(&conn, request)
        .await?
        .into_iter()
        .find(|(_, code)| !code.is_ok())
    {
        Some(((t, p), code)) => Err(ClientError::Broker(code, format!("committing {t}-{p}"))),
        None => Ok(()),
    }
}

// ---- Requests shared with the group admin client ------------------------------------------

/// FindCoordinator for `group` on `conn` (batched keys from v4): `(node id, host, port)`.
pub(crate) async fn find_group_coordinator(
    conn: &Connection,
    group: &str,
) -> Result<(i32, String, i32), ClientError> {
    let api = ApiKey::FindCoordinator;
    let version = conn.version_for(api).ok_or_else(|| {
        ClientError::Unsupported("the broker does not support FindCoordinator".into())
    })?;
    let batched = version >= 4;
    let request = FindCoordinatorRequest {
        key: if batched { String::new() } else { group.into() },
        key_type: 0,
        coordinator_keys: if batched {
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
    let (code, message, node, host, port) = if batched {
        let c = r
            .coordinators
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Protocol("FindCoordinator: no coordinator".into()))?;
        (c.error_code, c.error_message, c.node_id, c.host, c.port)
    } else {
        (r.error_code, r.error_message, r.node_id, r.host, r.port)
    };
    if code != 0 {
        return Err(ClientError::Broker(
            ErrorCode(code),
            message.unwrap_or_else(|| format!("finding the coordinator of group '{group}'")),
        ));
    }
    Ok((node, host, port))
}

/// An OffsetCommit of `offsets` (the next offsets to consume).
pub(crate) fn offset_commit_request(
    group: &str,
    generation: i32,
    member_id: String,
    instance_id: Option<String>,
    offsets: &[(TopicPartition, i64)],
) -> RequestBody {
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for ((t, p), o) in offsets {
        topics
            .entry(t.as_str())
            .or_default()
            .push(OffsetCommitRequestPartition {
                partition_index: *p,
                committed_offset: *o,
                committed_leader_epoch: -1,
                committed_metadata: Some(String::new()),
                ..Default::default()
            });
    }
    RequestBody::OffsetCommit(OffsetCommitRequest {
        group_id: group.into(),
        generation_id_or_member_epoch: generation,
        member_id,
        group_instance_id: instance_id,
        retention_time_ms: -1,
        topics: topics
            .into_iter()
            .map(|(name, partitions)| OffsetCommitRequestTopic {
                name: name.to_string(),
                partitions,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

/// Sends an OffsetCommit: each partition with its result.
pub(crate) async fn send_offset_commit(
    conn: &Connection,
    request: RequestBody,
) -> Result<Vec<(TopicPartition, ErrorCode)>, ClientError> {
    let api = ApiKey::OffsetCommit;
    let (_, body) = conn.call(api, request).await?;
    let ResponseBody::OffsetCommit(r) = body else {
        return Err(unexpected(api));
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

/// OffsetFetch of `group` for `partitions` (`None`: every offset the group has); -1 where
/// there is none. Any error code fails the call.
pub(crate) async fn fetch_offsets(
    conn: &Connection,
    group: &str,
    partitions: Option<&[TopicPartition]>,
) -> Result<BTreeMap<TopicPartition, i64>, ClientError> {
    let api = ApiKey::OffsetFetch;
    let version = conn.version_for(api).ok_or_else(|| {
        ClientError::Unsupported("the broker does not support OffsetFetch".into())
    })?;
    let by_topic = partitions.map(|tps| {
        let mut by: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for (t, p) in tps {
            by.entry(t.clone()).or_default().push(*p);
        }
        by
    });
    let request = if version >= 8 {
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: group.into(),
                member_id: None,
                member_epoch: -1,
                topics: by_topic.map(|by| {
                    by.into_iter()
                        .map(|(name, partition_indexes)| OffsetFetchRequestTopics {
                            name,
                            partition_indexes,
                            ..Default::default()
                        })
                        .collect()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }
    } else {
        OffsetFetchRequest {
            group_id: group.into(),
            topics: by_topic.map(|by| {
                by.into_iter()
                    .map(|(name, partition_indexes)| OffsetFetchRequestTopic {
                        name,
                        partition_indexes,
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        }
    };
    let ResponseBody::OffsetFetch(r) = conn
        .call_at(api, version, RequestBody::OffsetFetch(request))
        .await?
    else {
        return Err(unexpected(api));
    };
    let check = |code: i16| {
        if code == 0 {
            Ok(())
        } else {
            Err(ClientError::Broker(
                ErrorCode(code),
                format!("OffsetFetch of group '{group}'"),
            ))
        }
    };
    // (partition, offset, error) per topic, whichever layout the version has.
    let mut rows: Vec<(String, i32, i64, i16)> = Vec::new();
    if version >= 8 {
        for g in r.groups {
            check(g.error_code)?;
            for t in g.topics {
                rows.extend(t.partitions.into_iter().map(|p| {
                    (
                        t.name.clone(),
                        p.partition_index,
                        p.committed_offset,
                        p.error_code,
                    )
                }));
            }
        }
    } else {
        check(r.error_code)?;
        for t in r.topics {
            rows.extend(t.partitions.into_iter().map(|p| {
                (
                    t.name.clone(),
                    p.partition_index,
                    p.committed_offset,
                    p.error_code,
                )
            }));
        }
    }
    let mut out = BTreeMap::new();
    for (t, p, offset, code) in rows {
        check(code)?;
        out.insert((t, p), offset);
    }
    Ok(out)
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// Sends a heartbeat every `heartbeat.interval.ms` while the member is stable, on its own
/// connection so a slow request on the coordinator connection never delays it. Raises the
/// flags `poll` acts on; leaves the group when `max.poll.interval.ms` passes without a poll.
async fn heartbeat_loop(
    shared: Arc<Mutex<Shared>>,
    wake: Arc<Notify>,
    settings: GroupSettings,
    cluster: Arc<Cluster>,
) {
    let lock = || shared.lock().unwrap_or_else(|e| e.into_inner());
    let mut conn: Option<Connection> = None;
    let mut next = Instant::now() + settings.heartbeat_interval;
    loop {
        tokio::time::sleep_until(next.into()).await;
        next = Instant::now() + settings.heartbeat_interval;
        let (stable, member_id, generation, last_poll, closed, coordinator) = {
            let s = lock();
            (
                s.stable && !s.rejoin,
                s.member_id.clone(),
                s.generation,
                s.last_poll,
                s.closed,
                s.coordinator_addr.clone(),
            )
        };
        if closed {
            return;
        }
        if !stable {
            continue;
        }
        if last_poll.elapsed() > settings.max_poll_interval {
            tracing::warn!(
                group = %settings.group_id,
                "consumer poll timeout has expired: the time between polls exceeded max.poll.interval.ms ({} ms); leaving the group",
                settings.max_poll_interval.as_millis()
            );
            if let Some(c) = &conn {
                let _ = c
                    .call(
                        ApiKey::LeaveGroup,
                        RequestBody::LeaveGroup(LeaveGroupRequest {
                            group_id: settings.group_id.clone(),
                            member_id: member_id.clone(),
                            members: vec![MemberIdentity {
                                member_id,
                                group_instance_id: settings.instance_id.clone(),
                                ..Default::default()
                            }],
                            ..Default::default()
                        }),
                    )
                    .await;
            }
            let mut s = lock();
            s.member_id.clear();
            s.generation = -1;
            s.stable = false;
            s.rejoin = true;
            s.lost = true;
            wake.notify_one();
            continue;
        }
        if conn
            .as_ref()
            .is_none_or(|c| c.is_dead() || Some(&c.addr) != coordinator.as_ref())
        {
            let Some(addr) = coordinator.clone() else {
                continue;
            };
            match Connection::connect(&addr, &cluster.config).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::debug!(error = %e, "heartbeat connection failed");
                    lock().coordinator_lost = true;
                    wake.notify_one();
                    continue;
                }
            }
        }
        let Some(c) = conn.clone() else { continue };
        let request = RequestBody::Heartbeat(HeartbeatRequest {
            group_id: settings.group_id.clone(),
            generation_id: generation,
            member_id: member_id.clone(),
            group_instance_id: settings.instance_id.clone(),
            ..Default::default()
        });
        let code = match c.call(ApiKey::Heartbeat, request).await {
            Ok((_, ResponseBody::Heartbeat(r))) => ErrorCode(r.error_code),
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "heartbeat failed");
                conn = None;
                next = Instant::now() + settings.retry_backoff;
                continue;
            }
        };
        let mut s = lock();
        if s.generation != generation || s.member_id != member_id {
            continue; // a rebalance happened meanwhile
        }
        match code {
            ErrorCode::NONE => {}
            ErrorCode::REBALANCE_IN_PROGRESS => {
                s.rejoin = true;
                wake.notify_one();
            }
            ErrorCode::ILLEGAL_GENERATION | ErrorCode::UNKNOWN_MEMBER_ID => {
                tracing::info!(group = %settings.group_id, error = code.name(), "membership lost; rejoining");
                if code == ErrorCode::UNKNOWN_MEMBER_ID {
                    s.member_id.clear();
                }
                s.generation = -1;
                s.stable = false;
                s.rejoin = true;
                s.lost = true;
                wake.notify_one();
            }
            ErrorCode::FENCED_INSTANCE_ID => {
                s.fatal = Some(ClientError::Broker(
                    code,
                    format!(
                        "group.instance.id {:?} is used by another member",
                        settings.instance_id.as_deref().unwrap_or("")
                    ),
                ));
                wake.notify_one();
                return;
            }
            ErrorCode::NOT_COORDINATOR
            | ErrorCode::COORDINATOR_NOT_AVAILABLE
            | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => {
                s.coordinator_lost = true;
                s.coordinator_addr = None;
                conn = None;
                wake.notify_one();
            }
            other => {
                tracing::debug!(error = other.name(), "heartbeat error");
            }
        }
    }
}
