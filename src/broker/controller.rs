//! The cluster's control plane on each node: the active controller's duties (broker
//! registration and heartbeats, fencing on session expiry, controlled shutdown, producer-id
//! blocks), the broker's side of its lifecycle (register, heartbeat, ask to shut down), and
//! forwarding of admin requests from any node to the active controller (NOT_CONTROLLER is
//! retried here, never answered to a client).

use super::Broker;
use crate::metadata::controller::Registration;
use crate::protocol::messages::add_raft_voter_request::AddRaftVoterRequest;
use crate::protocol::messages::add_raft_voter_response::AddRaftVoterResponse;
use crate::protocol::messages::allocate_producer_ids_request::AllocateProducerIdsRequest;
use crate::protocol::messages::allocate_producer_ids_response::AllocateProducerIdsResponse;
use crate::protocol::messages::broker_heartbeat_request::BrokerHeartbeatRequest;
use crate::protocol::messages::broker_heartbeat_response::BrokerHeartbeatResponse;
use crate::protocol::messages::broker_registration_request::{self, BrokerRegistrationRequest};
use crate::protocol::messages::broker_registration_response::BrokerRegistrationResponse;
use crate::protocol::messages::remove_raft_voter_request::RemoveRaftVoterRequest;
use crate::protocol::messages::remove_raft_voter_response::RemoveRaftVoterResponse;
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody, Uuid};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Producer ids per AllocateProducerIds block (Kafka's).
const PRODUCER_ID_BLOCK: i64 = 1000;
/// How long InitProducerId waits for a producer-id block before answering
/// COORDINATOR_LOAD_IN_PROGRESS (below every client's request timeout).
const PRODUCER_ID_WAIT: Duration = Duration::from_millis(1000);
/// How long a forwarded admin request keeps retrying while no controller answers.
const FORWARD_DEADLINE: Duration = Duration::from_secs(30);

/// Control-plane state of a cluster node.
#[derive(Debug)]
pub struct ControlPlane {
    pub channel: Arc<super::controller_channel::ControllerChannel>,
    /// Controller side: when each broker last sent a heartbeat.
    heartbeats: Mutex<HashMap<i32, Instant>>,
    /// Controller side: when this node last tried to fence (broker, epoch).
    fence_attempts: Mutex<HashMap<(i32, i64), Instant>>,
    /// Controller side: the Raft term in which this node last became active.
    active_term: Mutex<Option<u64>>,
    /// Controller side: the last auto leader rebalance check.
    last_rebalance_check: Mutex<Option<Instant>>,
    /// Broker side.
    pub incarnation_id: Uuid,
    pub broker_epoch: AtomicI64,
    pub fenced: AtomicBool,
    /// Broker side: whether this node has applied the metadata up to its own registration,
    /// so its view of leaders, ISRs and epochs is the cluster's. Until then requests on its
    /// client listeners wait: a restarted broker would otherwise answer from the image it
    /// stopped with (itself still the leader, a stale high watermark), as Kafka's broker
    /// does not (it enables request processing once caught up).
    pub caught_up: tokio::sync::watch::Sender<bool>,
    /// Broker side: this node's producer-id blocks.
    producer_ids: Mutex<ProducerIdBlocks>,
}

/// A broker's producer ids (cluster mode): the block it hands out from, the next block
/// once fetched, and whether a fetch from the controller is under way. As Kafka's
/// `RPCProducerIdManager`, the next block is fetched in the background when the current one
/// is 90 % used, so InitProducerId never waits on the controller for long.
#[derive(Debug, Default)]
struct ProducerIdBlocks {
    next: i64,
    end: i64,
    prefetched: Option<(i64, i64)>,
    fetching: bool,
}

impl ProducerIdBlocks {
    /// Takes an id, moving to the prefetched block when the current one is used up.
    fn take(&mut self) -> Option<i64> {
        if self.next >= self.end {
            (self.next, self.end) = self.prefetched.take()?;
        }
        self.next += 1;
        Some(self.next - 1)
    }

    /// Whether a fetch should start now (and marks it started): no next block yet and at
    /// most a tenth of the current one left.
    fn start_fetch(&mut self) -> bool {
        let low = self.end - self.next <= PRODUCER_ID_BLOCK / 10;
        let start = low && self.prefetched.is_none() && !self.fetching;
        self.fetching |= start;
        start
    }
}

impl Default for ControlPlane {
    fn default() -> Self {
        ControlPlane {
            channel: Default::default(),
            heartbeats: Mutex::new(HashMap::new()),
            fence_attempts: Mutex::new(HashMap::new()),
            active_term: Mutex::new(None),
            last_rebalance_check: Mutex::new(None),
            incarnation_id: Uuid::random(),
            broker_epoch: AtomicI64::new(-1),
            fenced: AtomicBool::new(true),
            caught_up: tokio::sync::watch::channel(false).0,
            producer_ids: Mutex::new(ProducerIdBlocks::default()),
        }
    }
}

impl Broker {
    /// Whether this node is part of a multi-node cluster (a metadata quorum).
    pub fn is_cluster(&self) -> bool {
        self.metadata.quorum().is_some()
    }

    /// The active controller's node id, if known.
    pub fn active_controller(&self) -> Option<i32> {
        match self.metadata.quorum() {
            Some(q) => q.raft.metrics().borrow().current_leader.map(|n| n as i32),
            None => Some(self.node_id),
        }
    }

    pub fn is_active_controller(&self) -> bool {
        match self.metadata.quorum() {
            Some(q) => {
                let m = q.raft.metrics().borrow().clone();
                m.current_leader == Some(self.node_id as u64)
                    && m.state == openraft::ServerState::Leader
            }
            None => true,
        }
    }

    /// `(id, host, port, rack)` of every broker clients may use, as reached through the
    /// listener a request came in on: on a single node itself; in a cluster every
    /// registered, unfenced broker (its endpoint of the same listener name).
    pub fn live_brokers(&self, listener: usize) -> Vec<(i32, String, i32, Option<String>)> {
        if !self.is_cluster() {
            let (id, host, port) = self.endpoint(listener);
            return vec![(id, host, port, self.config.rack.clone())];
        }
        let name = self
            .listeners
            .get(listener)
            .map(|l| l.name.clone())
            .unwrap_or_default();
        self.metadata
            .brokers()
            .into_iter()
            .filter(|b| !b.fenced)
            .filter_map(|b| {
                let ep = b
                    .endpoints
                    .iter()
                    .find(|e| e.0 == name)
                    .or(b.endpoints.first())?;
                Some((b.id, ep.1.clone(), i32::from(ep.2), b.rack.clone()))
            })
            .collect()
    }

    /// `(id, host, port)` of broker `id` for clients of `listener`, if it is live.
    pub fn broker_endpoint(&self, id: i32, listener: usize) -> Option<(i32, String, i32)> {
        self.live_brokers(listener)
            .into_iter()
            .find(|b| b.0 == id)
            .map(|b| (b.0, b.1, b.2))
    }

    /// `host:port` of a controller's controller listener: its `controller.quorum.voters`
    /// entry, else (a dynamic quorum) its address in the current membership.
    pub fn controller_addr(&self, id: i32) -> Option<String> {
        self.quorum_voters()
            .into_iter()
            .find(|v| v.0 == id)
            .map(|v| format!("{}:{}", v.1, v.2))
    }

    /// `(id, host, port)` of the voters of the metadata quorum: `controller.quorum.voters`
    /// for a static quorum, the current membership for a dynamic one (empty on a single
    /// node, and on a node that has not heard from the quorum yet).
    pub fn quorum_voters(&self) -> Vec<(i32, String, u16)> {
        if !self.config.quorum_voters.is_empty() {
            return self
                .config
                .quorum_voters
                .iter()
                .map(|v| (v.node_id, v.host.clone(), v.port))
                .collect();
        }
        let Some(q) = self.metadata.quorum() else {
            return Vec::new();
        };
        let m = q.raft.metrics().borrow().membership_config.clone();
        let membership = m.membership();
        membership
            .voter_ids()
            .map(|id| {
                let addr = membership
                    .get_node(&id)
                    .map(|n| n.addr.clone())
                    .unwrap_or_default();
                let (host, port) = crate::metadata::quorum::entries::split_addr(&addr);
                (id as i32, host, port)
            })
            .collect()
    }

    /// Whether `id` is a voter of the metadata quorum.
    pub fn is_quorum_voter(&self, id: i32) -> bool {
        self.quorum_voters().iter().any(|v| v.0 == id)
    }

    /// A producer id never handed out before: from the metadata log on a single node, from
    /// a controller-allocated block in a cluster. Blocking.
    ///
    /// In a cluster the ids come in blocks from the controller (AllocateProducerIds); when
    /// no block has arrived within [`PRODUCER_ID_WAIT`] (the controller is being elected,
    /// say) the answer is COORDINATOR_LOAD_IN_PROGRESS, which clients retry, as Kafka's.
    pub async fn allocate_producer_id(self: &Arc<Self>) -> Result<i64, ErrorCode> {
        if !self.is_cluster() {
            return tokio::task::block_in_place(|| self.metadata.allocate_producer_id());
        }
        let deadline = Instant::now() + PRODUCER_ID_WAIT;
        loop {
            let (id, fetch) = {
                let mut ids = self
                    .control
                    .producer_ids
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let id = ids.take();
                (id, ids.start_fetch())
            };
            if fetch {
                tokio::spawn(fetch_producer_id_block(self.clone()));
            }
            if let Some(id) = id {
                return Ok(id);
            }
            if Instant::now() >= deadline || self.is_shutting_down() {
                return Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.config.broker_session_timeout_ms.max(5000))
    }

    /// Sends `body` to the active controller, retrying (new controller, NOT_CONTROLLER)
    /// until `deadline`.
    pub async fn send_to_controller(
        &self,
        api_key: ApiKey,
        version: i16,
        body: &RequestBody,
        deadline: Instant,
    ) -> Result<ResponseBody, String> {
        let mut last = String::from("no active controller");
        let mut next_voter = 0usize;
        while Instant::now() < deadline && !self.is_shutting_down() {
            // The active controller when this node knows it; else the voters in turn (a
            // broker-only node learns of the leader only once it follows the log), or the
            // `controller.quorum.bootstrap.servers` of a dynamic quorum.
            let known = self
                .active_controller()
                .filter(|c| self.is_quorum_voter(*c))
                .and_then(|c| self.controller_addr(c));
            let target = known.or_else(|| {
                next_voter += 1;
                let voters = &self.config.quorum_voters;
                let bootstrap = &self.config.quorum_bootstrap_servers;
                if voters.is_empty() {
                    bootstrap.get(next_voter % bootstrap.len().max(1)).cloned()
                } else {
                    let v = &voters[next_voter % voters.len()];
                    Some(format!("{}:{}", v.host, v.port))
                }
            });
            if let Some(addr) = target {
                // Never past the caller's deadline: a controller that stopped answering (a
                // paused process) must not hold a heartbeat past the broker's session.
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(100));
                match self
                    .control
                    .channel
                    .request(
                        &addr,
                        api_key,
                        version,
                        body,
                        self.request_timeout().min(left),
                    )
                    .await
                {
                    Ok(r) if !has_not_controller(&r) => return Ok(r),
                    Ok(_) => last = format!("{addr} is no longer the controller"),
                    Err(e) => last = e,
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(last)
    }
}

/// Whether a response says NOT_CONTROLLER (anywhere in it).
pub fn has_not_controller(body: &ResponseBody) -> bool {
    let nc = ErrorCode::NOT_CONTROLLER.0;
    match body {
        ResponseBody::CreateTopics(r) => r.topics.iter().any(|t| t.error_code == nc),
        ResponseBody::DeleteTopics(r) => r.responses.iter().any(|t| t.error_code == nc),
        ResponseBody::CreatePartitions(r) => r.results.iter().any(|t| t.error_code == nc),
        ResponseBody::AlterConfigs(r) => r.responses.iter().any(|t| t.error_code == nc),
        ResponseBody::IncrementalAlterConfigs(r) => r.responses.iter().any(|t| t.error_code == nc),
        ResponseBody::BrokerRegistration(r) => r.error_code == nc,
        ResponseBody::BrokerHeartbeat(r) => r.error_code == nc,
        ResponseBody::AllocateProducerIds(r) => r.error_code == nc,
        ResponseBody::AddRaftVoter(r) => r.error_code == nc,
        ResponseBody::AlterPartition(r) => r.error_code == nc,
        ResponseBody::ElectLeaders(r) => r.error_code == nc,
        ResponseBody::AlterPartitionReassignments(r) => r.error_code == nc,
        ResponseBody::RemoveRaftVoter(r) => r.error_code == nc,
        ResponseBody::DescribeQuorum(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .any(|p| p.error_code == ErrorCode::NOT_LEADER_OR_FOLLOWER.0),
        _ => false,
    }
}

/// The admin writes a cluster forwards to its active controller.
pub fn is_forwarded(api: ApiKey) -> bool {
    matches!(
        api,
        ApiKey::CreateTopics
            | ApiKey::DeleteTopics
            | ApiKey::CreatePartitions
            | ApiKey::AlterConfigs
            | ApiKey::IncrementalAlterConfigs
            | ApiKey::DescribeQuorum
            | ApiKey::AddRaftVoter
            | ApiKey::RemoveRaftVoter
            | ApiKey::ElectLeaders
            | ApiKey::AlterPartitionReassignments
    )
}

/// The deadline a request names (`timeout_ms` of the topic APIs), else [`FORWARD_DEADLINE`].
fn deadline_of(body: &RequestBody) -> Duration {
    let ms = match body {
        RequestBody::CreateTopics(r) => r.timeout_ms,
        RequestBody::DeleteTopics(r) => r.timeout_ms,
        RequestBody::CreatePartitions(r) => r.timeout_ms,
        RequestBody::AddRaftVoter(r) => r.timeout_ms,
        RequestBody::ElectLeaders(r) => r.timeout_ms,
        RequestBody::AlterPartitionReassignments(r) => r.timeout_ms,
        _ => -1,
    };
    match u64::try_from(ms) {
        Ok(ms) if ms > 0 => Duration::from_millis(ms).min(FORWARD_DEADLINE),
        _ => FORWARD_DEADLINE,
    }
}

/// The answer to an admin request no controller handled in time: `code` for every item.
fn failed_answer(body: &RequestBody, code: ErrorCode, why: &str) -> ResponseBody {
    use crate::protocol::messages::{
        alter_configs_response, create_partitions_response, create_topics_response,
        delete_topics_response, describe_quorum_response, incremental_alter_configs_response,
    };
    let msg = Some(why.to_string());
    match body {
        RequestBody::CreateTopics(r) => {
            ResponseBody::CreateTopics(create_topics_response::CreateTopicsResponse {
                topics: r
                    .topics
                    .iter()
                    .map(|t| create_topics_response::CreatableTopicResult {
                        name: t.name.clone(),
                        error_code: code.0,
                        error_message: msg.clone(),
                        num_partitions: -1,
                        replication_factor: -1,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::DeleteTopics(r) => {
            ResponseBody::DeleteTopics(delete_topics_response::DeleteTopicsResponse {
                responses: r
                    .topic_names
                    .iter()
                    .cloned()
                    .map(Some)
                    .chain(r.topics.iter().map(|t| t.name.clone()))
                    .map(|name| delete_topics_response::DeletableTopicResult {
                        name,
                        error_code: code.0,
                        error_message: msg.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::CreatePartitions(r) => {
            ResponseBody::CreatePartitions(create_partitions_response::CreatePartitionsResponse {
                results: r
                    .topics
                    .iter()
                    .map(
                        |t| create_partitions_response::CreatePartitionsTopicResult {
                            name: t.name.clone(),
                            error_code: code.0,
                            error_message: msg.clone(),
                            ..Default::default()
                        },
                    )
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::AlterConfigs(r) => {
            ResponseBody::AlterConfigs(alter_configs_response::AlterConfigsResponse {
                responses: r
                    .resources
                    .iter()
                    .map(|x| alter_configs_response::AlterConfigsResourceResponse {
                        error_code: code.0,
                        error_message: msg.clone(),
                        resource_type: x.resource_type,
                        resource_name: x.resource_name.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::IncrementalAlterConfigs(r) => ResponseBody::IncrementalAlterConfigs(
            incremental_alter_configs_response::IncrementalAlterConfigsResponse {
                responses: r
                    .resources
                    .iter()
                    .map(
                        |x| incremental_alter_configs_response::AlterConfigsResourceResponse {
                            error_code: code.0,
                            error_message: msg.clone(),
                            resource_type: x.resource_type,
                            resource_name: x.resource_name.clone(),
                            ..Default::default()
                        },
                    )
                    .collect(),
                ..Default::default()
            },
        ),
        RequestBody::AlterPartitionReassignments(_) => ResponseBody::AlterPartitionReassignments(
            crate::protocol::messages::alter_partition_reassignments_response::AlterPartitionReassignmentsResponse {
                error_code: code.0,
                error_message: msg.clone(),
                ..Default::default()
            },
        ),
        RequestBody::ElectLeaders(_) => ResponseBody::ElectLeaders(
            crate::protocol::messages::elect_leaders_response::ElectLeadersResponse {
                error_code: code.0,
                ..Default::default()
            },
        ),
        RequestBody::AddRaftVoter(_) => ResponseBody::AddRaftVoter(AddRaftVoterResponse {
            error_code: code.0,
            error_message: msg,
            ..Default::default()
        }),
        RequestBody::RemoveRaftVoter(_) => ResponseBody::RemoveRaftVoter(RemoveRaftVoterResponse {
            error_code: code.0,
            error_message: msg,
            ..Default::default()
        }),
        _ => ResponseBody::DescribeQuorum(describe_quorum_response::DescribeQuorumResponse {
            error_code: code.0,
            error_message: msg,
            ..Default::default()
        }),
    }
}

/// Handles an admin write in a cluster: here when this node is the active controller,
/// otherwise at the active controller; a NOT_CONTROLLER answer (leadership moved meanwhile)
/// is retried until a controller answers or the request's timeout passes, which answers
/// REQUEST_TIMED_OUT (as Kafka's forwarding does).
pub async fn forward_admin<F, Fut>(
    broker: &Arc<Broker>,
    api_key: ApiKey,
    version: i16,
    body: RequestBody,
    local: F,
) -> ResponseBody
where
    F: Fn(RequestBody) -> Fut,
    Fut: std::future::Future<Output = ResponseBody>,
{
    let wait = deadline_of(&body);
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline && !broker.is_shutting_down() {
        if broker.is_active_controller() {
            let r = local(body.clone()).await;
            if !has_not_controller(&r) {
                return r;
            }
        } else if let Some(addr) = broker
            .active_controller()
            .filter(|c| *c != broker.node_id)
            .and_then(|c| broker.controller_addr(c))
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match broker
                .control
                .channel
                .request(
                    &addr,
                    api_key,
                    version,
                    &body,
                    left.max(Duration::from_millis(100)),
                )
                .await
            {
                Ok(r) if !has_not_controller(&r) => return r,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "forwarding to the controller failed; retrying")
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    failed_answer(
        &body,
        ErrorCode::REQUEST_TIMED_OUT,
        &format!(
            "no active controller answered within {} ms",
            wait.as_millis()
        ),
    )
}

/// A broker that is not a voter follows the metadata log as a Raft learner (a non-voting
/// member the leader replicates to), at its inter-broker endpoint. Added on registration and,
/// after a change of controller, on its next heartbeat.
fn follow_as_learner(broker: &Broker, id: i32, endpoints: &[(String, String, u16)]) {
    let Some(q) = broker.metadata.quorum() else {
        return;
    };
    if broker.is_quorum_voter(id) {
        return;
    }
    let known = q
        .raft
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .learner_ids()
        .any(|l| l == id as u64);
    if known {
        return;
    }
    let ep = endpoints
        .iter()
        .find(|e| e.0 == broker.config.inter_broker_listener_name)
        .or(endpoints.first());
    let Some((_, host, port)) = ep else {
        return;
    };
    let node = openraft::BasicNode {
        addr: format!("{host}:{port}"),
    };
    let raft = q.raft.clone();
    let handle = tokio::runtime::Handle::current();
    let added = tokio::task::block_in_place(|| {
        handle.block_on(tokio::time::timeout(
            Duration::from_secs(5),
            raft.add_learner(id as u64, node, false),
        ))
    });
    match added {
        Ok(Ok(_)) => tracing::info!(
            broker = id,
            "the broker follows the metadata log as a learner"
        ),
        Ok(Err(e)) => {
            tracing::warn!(broker = id, error = %e, "adding the broker as a learner failed")
        }
        Err(_) => tracing::warn!(broker = id, "adding the broker as a learner timed out"),
    }
}

/// BrokerRegistration, on the active controller.
pub fn broker_registration(broker: &Broker, r: BrokerRegistrationRequest) -> ResponseBody {
    let reply = |code: ErrorCode, epoch: i64| {
        ResponseBody::BrokerRegistration(BrokerRegistrationResponse {
            error_code: code.0,
            broker_epoch: epoch,
            ..Default::default()
        })
    };
    if !broker.is_active_controller() {
        return reply(ErrorCode::NOT_CONTROLLER, -1);
    }
    if r.cluster_id != broker.cluster_id {
        tracing::error!(broker = r.broker_id, theirs = %r.cluster_id, ours = %broker.cluster_id, "refused a broker of another cluster");
        return reply(ErrorCode::INCONSISTENT_CLUSTER_ID, -1);
    }
    let reg = Registration {
        broker_id: r.broker_id,
        incarnation_id: r.incarnation_id,
        endpoints: r
            .listeners
            .iter()
            .map(|l: &broker_registration_request::Listener| {
                (l.name.clone(), l.host.clone(), l.port)
            })
            .collect(),
        rack: r.rack.clone(),
        features: r
            .features
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    f.min_supported_version,
                    f.max_supported_version,
                )
            })
            .collect(),
    };
    follow_as_learner(broker, r.broker_id, &reg.endpoints);
    match tokio::task::block_in_place(|| broker.metadata.register_broker(&reg)) {
        Ok(epoch) => {
            broker
                .control
                .heartbeats
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(r.broker_id, Instant::now());
            tracing::info!(broker = r.broker_id, epoch, "registered broker");
            reply(ErrorCode::NONE, epoch)
        }
        Err(code) => reply(code, -1),
    }
}

/// BrokerHeartbeat, on the active controller.
pub fn broker_heartbeat(broker: &Broker, r: BrokerHeartbeatRequest) -> ResponseBody {
    let reply = |code: ErrorCode, caught_up: bool, fenced: bool, shut_down: bool| {
        ResponseBody::BrokerHeartbeat(BrokerHeartbeatResponse {
            error_code: code.0,
            is_caught_up: caught_up,
            is_fenced: fenced,
            should_shut_down: shut_down,
            ..Default::default()
        })
    };
    if !broker.is_active_controller() {
        return reply(ErrorCode::NOT_CONTROLLER, false, true, false);
    }
    let Some(b) = broker
        .metadata
        .brokers()
        .into_iter()
        .find(|b| b.id == r.broker_id)
    else {
        return reply(ErrorCode::STALE_BROKER_EPOCH, false, true, false);
    };
    if b.epoch != r.broker_epoch {
        return reply(ErrorCode::STALE_BROKER_EPOCH, false, true, false);
    }
    broker
        .control
        .heartbeats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(r.broker_id, Instant::now());
    follow_as_learner(broker, r.broker_id, &b.endpoints);
    let caught_up = r.current_metadata_offset >= b.registered_at;
    let result = tokio::task::block_in_place(|| -> Result<(bool, bool), ErrorCode> {
        if r.want_shut_down {
            let done = broker
                .metadata
                .begin_controlled_shutdown(r.broker_id, r.broker_epoch)?;
            return Ok((b.fenced, done));
        }
        if r.want_fence {
            broker.metadata.fence_broker(r.broker_id, r.broker_epoch)?;
            return Ok((true, false));
        }
        if b.fenced && caught_up {
            broker
                .metadata
                .unfence_broker(r.broker_id, r.broker_epoch)?;
            tracing::info!(
                broker = r.broker_id,
                "unfenced broker (caught up with the metadata log)"
            );
            return Ok((false, false));
        }
        Ok((b.fenced, false))
    });
    match result {
        Ok((fenced, shut_down)) => reply(ErrorCode::NONE, caught_up, fenced, shut_down),
        Err(code) => reply(code, caught_up, b.fenced, false),
    }
}

/// AllocateProducerIds, on the active controller.
pub fn allocate_producer_ids(broker: &Broker, r: AllocateProducerIdsRequest) -> ResponseBody {
    let reply = |code: ErrorCode, start: i64, len: i32| {
        ResponseBody::AllocateProducerIds(AllocateProducerIdsResponse {
            error_code: code.0,
            producer_id_start: start,
            producer_id_len: len,
            ..Default::default()
        })
    };
    if !broker.is_active_controller() {
        return reply(ErrorCode::NOT_CONTROLLER, -1, 0);
    }
    match tokio::task::block_in_place(|| {
        broker
            .metadata
            .allocate_producer_id_block(r.broker_id, r.broker_epoch, PRODUCER_ID_BLOCK)
    }) {
        Ok(start) => reply(ErrorCode::NONE, start, PRODUCER_ID_BLOCK as i32),
        Err(code) => reply(code, -1, 0),
    }
}

/// Fetches this node's next producer-id block from the controller (one fetch at a time:
/// [`ProducerIdBlocks::start_fetch`] marked it started).
async fn fetch_producer_id_block(broker: Arc<Broker>) {
    let body = RequestBody::AllocateProducerIds(AllocateProducerIdsRequest {
        broker_id: broker.node_id,
        broker_epoch: broker.control.broker_epoch.load(Ordering::Acquire),
        ..Default::default()
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let block = match broker
        .send_to_controller(ApiKey::AllocateProducerIds, 0, &body, deadline)
        .await
    {
        Ok(ResponseBody::AllocateProducerIds(r)) if r.error_code == 0 && r.producer_id_len > 0 => {
            Some((
                r.producer_id_start,
                r.producer_id_start + i64::from(r.producer_id_len),
            ))
        }
        Ok(ResponseBody::AllocateProducerIds(r)) => {
            tracing::warn!(
                error = ErrorCode(r.error_code).name(),
                "AllocateProducerIds refused"
            );
            None
        }
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "no producer-id block from the controller");
            None
        }
    };
    let mut ids = broker
        .control
        .producer_ids
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    ids.prefetched = block;
    ids.fetching = false;
}

/// The active controller's timer: fences brokers whose heartbeats stopped for
/// `broker.session.timeout.ms`. A newly active controller gives every broker a full session
/// first, as Kafka's does.
pub async fn run_controller_duties(broker: Arc<Broker>) {
    let session = Duration::from_millis(broker.config.broker_session_timeout_ms);
    let mut tick = tokio::time::interval(Duration::from_millis(
        (broker.config.broker_session_timeout_ms / 10).clamp(50, 1000),
    ));
    let mut stop = broker.shutdown_signal();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if !broker.is_active_controller() {
            *broker
                .control
                .active_term
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = None;
            continue;
        }
        let term = broker
            .metadata
            .quorum()
            .map(|q| q.raft.metrics().borrow().current_term);
        let newly_active = {
            let mut t = broker
                .control
                .active_term
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let fresh = *t != term;
            *t = term;
            fresh
        };
        if newly_active
            && !broker
                .metadata
                .image()
                .features
                .contains_key("metadata.version")
        {
            // The first controller of a new cluster commits the bootstrap metadata.
            let records = super::storage::read_bootstrap(&broker.config.log_dirs[0]);
            match tokio::task::block_in_place(|| broker.metadata.commit(&records)) {
                Ok(_) => tracing::info!("committed the bootstrap metadata (metadata.version)"),
                Err(code) => {
                    tracing::warn!(error = ?code, "committing the bootstrap metadata failed")
                }
            }
        }
        if broker.metadata.quorum().is_some_and(|q| !q.has_quorum()) {
            // Cut off from the majority: nothing can be committed, and the brokers that
            // cannot reach this controller are not dead for that.
            continue;
        }
        // Reassignments whose new replicas caught up drop their old replicas.
        if broker.metadata.has_reassignments() {
            if let Err(code) =
                tokio::task::block_in_place(|| broker.metadata.complete_reassignments())
            {
                tracing::warn!(error = code.name(), "completing reassignments failed");
            }
        }
        // Preferred leaders back where a broker leads too few of its own partitions.
        if broker.config.auto_leader_rebalance {
            let every = Duration::from_secs(broker.config.leader_imbalance_check_interval_s);
            let due = {
                let mut last = broker
                    .control
                    .last_rebalance_check
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let due = newly_active || last.is_none_or(|t: Instant| t.elapsed() >= every);
                if newly_active || due {
                    *last = Some(Instant::now());
                }
                due && !newly_active
            };
            if due {
                let moves = broker
                    .metadata
                    .imbalanced_partitions(broker.config.leader_imbalance_percent);
                if !moves.is_empty() {
                    tracing::info!(
                        partitions = moves.len(),
                        "moving leaderships back to preferred replicas"
                    );
                    let _ = tokio::task::block_in_place(|| {
                        broker.metadata.elect_leaders(true, Some(&moves))
                    });
                }
            }
        }
        let now = Instant::now();
        let brokers = broker.metadata.brokers();
        let expired: Vec<(i32, i64)> = {
            let mut hb = broker
                .control
                .heartbeats
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if newly_active {
                tracing::info!(node = broker.node_id, "became the active controller");
                hb.clear();
            }
            brokers
                .iter()
                .filter(|b| !b.fenced)
                .filter(|b| {
                    let seen = *hb.entry(b.id).or_insert(now);
                    now.duration_since(seen) > session
                })
                .map(|b| (b.id, b.epoch))
                .collect()
        };
        for (id, epoch) in expired {
            // One attempt per session timeout and broker: a controller that cannot commit
            // (cut off from the quorum) must not hold the metadata write lock in a loop.
            {
                let mut tried = broker
                    .control
                    .fence_attempts
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if tried
                    .get(&(id, epoch))
                    .is_some_and(|t| now.duration_since(*t) < session)
                {
                    continue;
                }
                tried.insert((id, epoch), now);
            }
            tracing::warn!(
                broker = id,
                "fencing broker: no heartbeat for {} ms (broker.session.timeout.ms)",
                session.as_millis()
            );
            if let Err(code) =
                tokio::task::block_in_place(|| broker.metadata.fence_broker(id, epoch))
            {
                tracing::warn!(broker = id, error = ?code, "fencing failed");
            }
        }
    }
}

/// The broker's side: registers with the active controller, then heartbeats every
/// `broker.heartbeat.interval.ms` with its applied metadata offset; re-registers after a
/// STALE_BROKER_EPOCH (the controller lost it); refuses to go on in another cluster.
pub async fn run_broker_lifecycle(broker: Arc<Broker>) {
    let interval = Duration::from_millis(broker.config.broker_heartbeat_interval_ms);
    let mut stop = broker.shutdown_signal();
    let mut registered = false;
    let mut last_lag_warning = Instant::now();
    loop {
        if broker.is_shutting_down() {
            return;
        }
        let deadline = Instant::now() + interval.max(Duration::from_secs(1));
        if !*broker.control.caught_up.borrow() {
            if registered && sees_own_registration(&broker) {
                tracing::info!("caught up with the cluster's metadata; serving clients");
                broker.control.caught_up.send_replace(true);
            } else if last_lag_warning.elapsed() > Duration::from_secs(10) {
                last_lag_warning = Instant::now();
                tracing::warn!(
                    registered,
                    "not serving clients yet: this broker has not caught up with the cluster's metadata (its own registration)"
                );
            }
        }
        if !registered {
            match register(&broker, deadline).await {
                Ok(epoch) => {
                    broker.control.broker_epoch.store(epoch, Ordering::Release);
                    registered = true;
                    continue;
                }
                Err(Some(fatal)) => {
                    broker.halt(fatal);
                    return;
                }
                Err(None) => {}
            }
        } else {
            let applied = broker.metadata.applied_offset();
            let body = RequestBody::BrokerHeartbeat(BrokerHeartbeatRequest {
                broker_id: broker.node_id,
                broker_epoch: broker.control.broker_epoch.load(Ordering::Acquire),
                current_metadata_offset: applied,
                want_fence: false,
                want_shut_down: false,
                ..Default::default()
            });
            match broker
                .send_to_controller(ApiKey::BrokerHeartbeat, 1, &body, deadline)
                .await
            {
                Ok(ResponseBody::BrokerHeartbeat(r)) => {
                    if r.error_code == ErrorCode::STALE_BROKER_EPOCH.0 {
                        tracing::warn!(
                            "the controller no longer knows this broker's epoch; registering again"
                        );
                        registered = false;
                        continue;
                    }
                    let was = broker.control.fenced.swap(r.is_fenced, Ordering::AcqRel);
                    if was != r.is_fenced {
                        tracing::info!(fenced = r.is_fenced, "broker fencing changed");
                    }
                    if !r.is_caught_up && last_lag_warning.elapsed() > Duration::from_secs(5) {
                        last_lag_warning = Instant::now();
                        tracing::warn!(applied, "this broker lags the committed metadata");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "heartbeat failed"),
            }
        }
        // While fenced, heartbeat often: the broker is unfenced as soon as it has caught up.
        let wait = if !*broker.control.caught_up.borrow() {
            Duration::from_millis(20)
        } else if broker.control.fenced.load(Ordering::Acquire) {
            interval.min(Duration::from_millis(200))
        } else {
            interval
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Whether this node's image holds its registration of this incarnation (everything the
/// controller committed before it, such as moving this broker's leaderships away, with it).
fn sees_own_registration(broker: &Broker) -> bool {
    broker
        .metadata
        .brokers()
        .iter()
        .any(|b| b.id == broker.node_id && b.incarnation_id == broker.control.incarnation_id)
}

/// Registers; `Err(Some(reason))` when the broker must not go on.
async fn register(broker: &Broker, deadline: Instant) -> Result<i64, Option<String>> {
    let listeners = broker
        .listeners
        .iter()
        .filter(|l| !l.controller)
        .map(|l| broker_registration_request::Listener {
            name: l.name.clone(),
            host: l.advertised_host.clone(),
            port: l.advertised_port(),
            security_protocol: 0,
            ..Default::default()
        })
        .collect();
    let body = RequestBody::BrokerRegistration(BrokerRegistrationRequest {
        broker_id: broker.node_id,
        cluster_id: broker.cluster_id.clone(),
        incarnation_id: broker.control.incarnation_id,
        listeners,
        features: vec![broker_registration_request::Feature {
            name: "metadata.version".into(),
            min_supported_version: 7,
            max_supported_version: crate::metadata::image::METADATA_VERSION_LEVEL,
            ..Default::default()
        }],
        rack: broker.config.rack.clone(),
        previous_broker_epoch: broker.control.broker_epoch.load(Ordering::Acquire),
        ..Default::default()
    });
    match broker
        .send_to_controller(ApiKey::BrokerRegistration, 4, &body, deadline)
        .await
    {
        Ok(ResponseBody::BrokerRegistration(r)) if r.error_code == 0 => {
            tracing::info!(epoch = r.broker_epoch, "registered with the controller");
            Ok(r.broker_epoch)
        }
        Ok(ResponseBody::BrokerRegistration(r))
            if r.error_code == ErrorCode::INCONSISTENT_CLUSTER_ID.0 =>
        {
            Err(Some(format!(
                "the controller belongs to another cluster than this node's cluster.id {}; refusing to join",
                broker.cluster_id
            )))
        }
        Ok(_) => Err(None),
        Err(e) => {
            tracing::debug!(error = %e, "registration failed; retrying");
            Err(None)
        }
    }
}

/// Controlled shutdown (SIGTERM): asks the controller until it answers ShouldShutDown (it
/// moved every leadership away), or `timeout` passes.
pub async fn controlled_shutdown(broker: &Broker, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let body = RequestBody::BrokerHeartbeat(BrokerHeartbeatRequest {
            broker_id: broker.node_id,
            broker_epoch: broker.control.broker_epoch.load(Ordering::Acquire),
            current_metadata_offset: broker.metadata.applied_offset(),
            want_fence: false,
            want_shut_down: true,
            ..Default::default()
        });
        let step = Instant::now() + Duration::from_secs(2);
        match broker
            .send_to_controller(ApiKey::BrokerHeartbeat, 1, &body, step.min(deadline))
            .await
        {
            Ok(ResponseBody::BrokerHeartbeat(r)) if r.should_shut_down || r.error_code != 0 => {
                tracing::info!("controlled shutdown: the controller released this broker");
                return;
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    tracing::warn!("controlled shutdown: no answer from the controller; stopping anyway");
}

/// DescribeQuorum (what `kafka-metadata-quorum describe` asks), answered by the active
/// controller from its Raft state: leader, epoch, high watermark (the end of the committed
/// metadata), and each voter's log end offset as far as the leader knows it. On a single
/// node the node itself is the quorum.
pub fn describe_quorum(broker: &Broker) -> ResponseBody {
    use crate::protocol::messages::describe_quorum_response::{
        DescribeQuorumResponse, Listener, Node, PartitionData, ReplicaState, TopicData,
    };
    let now = crate::time::now_ms();
    let voters = broker.quorum_voters();
    let voters_config: Vec<(i32, String, u16)> = if voters.is_empty() {
        let l = broker
            .listeners
            .iter()
            .find(|l| l.controller)
            .or(broker.listeners.first());
        l.map(|l| {
            vec![(
                broker.node_id,
                l.advertised_host.clone(),
                l.advertised_port(),
            )]
        })
        .unwrap_or_default()
    } else {
        voters
    };
    let nodes = voters_config
        .iter()
        .map(|(id, host, port)| Node {
            node_id: *id,
            listeners: vec![Listener {
                name: broker
                    .config
                    .controller_listener_names
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "CONTROLLER".into()),
                host: host.clone(),
                port: *port,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    let replica = |id: i32, end: i64, caught_up: bool| ReplicaState {
        replica_id: id,
        replica_directory_id: Uuid::ZERO,
        log_end_offset: end,
        last_fetch_timestamp: if end >= 0 { now } else { -1 },
        last_caught_up_timestamp: if caught_up { now } else { -1 },
        ..Default::default()
    };
    let partition = match broker.metadata.quorum() {
        None => {
            let end = broker.metadata.applied_offset() + 1;
            PartitionData {
                partition_index: 0,
                leader_id: broker.node_id,
                leader_epoch: 0,
                high_watermark: end,
                current_voters: vec![replica(broker.node_id, end, true)],
                ..Default::default()
            }
        }
        Some(q) => {
            let m = q.raft.metrics().borrow().clone();
            if m.current_leader != Some(broker.node_id as u64)
                || m.state != openraft::ServerState::Leader
            {
                PartitionData {
                    partition_index: 0,
                    error_code: ErrorCode::NOT_LEADER_OR_FOLLOWER.0,
                    leader_id: m.current_leader.map_or(-1, |l| l as i32),
                    leader_epoch: m.current_term as i32,
                    ..Default::default()
                }
            } else {
                let end_of = |index: Option<u64>| {
                    index
                        .and_then(|i| q.shared.offset_of_index(i))
                        .map_or(0, |o| o + 1)
                };
                let high_watermark = q.shared.applied_offset() + 1;
                let leader_end = end_of(m.last_log_index);
                let replication = m.replication.clone().unwrap_or_default();
                let voter_ids: std::collections::BTreeSet<u64> =
                    m.membership_config.membership().voter_ids().collect();
                let current_voters = voter_ids
                    .iter()
                    .map(|id| {
                        if *id == broker.node_id as u64 {
                            return replica(*id as i32, leader_end, true);
                        }
                        match replication.get(id) {
                            Some(matched) => {
                                let end = end_of(matched.map(|l| l.index));
                                replica(*id as i32, end, end >= leader_end)
                            }
                            None => replica(*id as i32, -1, false),
                        }
                    })
                    .collect();
                let observers = m
                    .membership_config
                    .membership()
                    .learner_ids()
                    .map(|id| match replication.get(&id) {
                        Some(matched) => {
                            let end = end_of(matched.map(|l| l.index));
                            replica(id as i32, end, end >= leader_end)
                        }
                        None => replica(id as i32, -1, false),
                    })
                    .collect();
                PartitionData {
                    partition_index: 0,
                    leader_id: broker.node_id,
                    leader_epoch: m.current_term as i32,
                    high_watermark,
                    current_voters,
                    observers,
                    ..Default::default()
                }
            }
        }
    };
    ResponseBody::DescribeQuorum(DescribeQuorumResponse {
        topics: vec![TopicData {
            topic_name: crate::metadata::METADATA_TOPIC.into(),
            partitions: vec![partition],
            ..Default::default()
        }],
        nodes,
        ..Default::default()
    })
}

/// Why a voter change cannot start here: another cluster, a static quorum (its voters are
/// fixed by `controller.quorum.voters`, as Kafka's kraft.version 0), or not the active
/// controller.
fn voter_change_refused(
    broker: &Broker,
    cluster_id: &Option<String>,
) -> Option<(ErrorCode, String)> {
    if let Some(c) = cluster_id
        .as_ref()
        .filter(|c| !c.is_empty() && **c != broker.cluster_id)
    {
        return Some((
            ErrorCode::INCONSISTENT_CLUSTER_ID,
            format!(
                "cluster id {c} is not this cluster's ({})",
                broker.cluster_id
            ),
        ));
    }
    if broker.metadata.quorum().is_none() || !broker.config.quorum_voters.is_empty() {
        return Some((
            ErrorCode::UNSUPPORTED_VERSION,
            "the voters of a static quorum (controller.quorum.voters) cannot change; a dynamic quorum uses controller.quorum.bootstrap.servers".into(),
        ));
    }
    if !broker.is_active_controller() {
        return Some((
            ErrorCode::NOT_CONTROLLER,
            "not the active controller".into(),
        ));
    }
    None
}

/// Runs a membership change of the metadata quorum within `timeout`.
fn change_voters<F, Fut>(timeout: Duration, change: F) -> Result<(), (ErrorCode, String)>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let handle = tokio::runtime::Handle::current();
    match tokio::task::block_in_place(|| handle.block_on(tokio::time::timeout(timeout, change()))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if e.contains("forward") || e.contains("leader") => {
            Err((ErrorCode::NOT_CONTROLLER, e))
        }
        Ok(Err(e)) => Err((ErrorCode::UNKNOWN_SERVER_ERROR, e)),
        Err(_) => Err((
            ErrorCode::REQUEST_TIMED_OUT,
            format!(
                "the voter change did not complete within {} ms",
                timeout.as_millis()
            ),
        )),
    }
}

/// AddRaftVoter (KIP-853) on the active controller of a dynamic quorum: the new controller
/// follows the log as a learner at its controller endpoint until it has caught up, then
/// becomes a voter (one voter change at a time, as Kafka).
pub fn add_raft_voter(broker: &Broker, r: AddRaftVoterRequest) -> ResponseBody {
    let answer = |(code, msg): (ErrorCode, String)| {
        if code != ErrorCode::NONE {
            tracing::warn!(voter = r.voter_id, error = %msg, "adding a controller failed");
        }
        ResponseBody::AddRaftVoter(AddRaftVoterResponse {
            error_code: code.0,
            error_message: (code != ErrorCode::NONE).then_some(msg),
            ..Default::default()
        })
    };
    if let Some(refused) = voter_change_refused(broker, &r.cluster_id) {
        return answer(refused);
    }
    if broker.is_quorum_voter(r.voter_id) || r.voter_id < 0 {
        return answer((
            ErrorCode::DUPLICATE_VOTER,
            format!("node {} is already a voter", r.voter_id),
        ));
    }
    let listener = r
        .listeners
        .iter()
        .find(|l| broker.config.controller_listener_names.contains(&l.name))
        .or(r.listeners.first());
    let Some(listener) = listener else {
        return answer((
            ErrorCode::INVALID_REQUEST,
            "the new voter names no listener".into(),
        ));
    };
    let Some(q) = broker.metadata.quorum() else {
        return answer((ErrorCode::UNKNOWN_SERVER_ERROR, "no quorum".into()));
    };
    let id = r.voter_id as u64;
    let node = openraft::BasicNode {
        addr: format!("{}:{}", listener.host, listener.port),
    };
    let raft = q.raft.clone();
    let learner = raft
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .learner_ids()
        .any(|l| l == id);
    let timeout = Duration::from_millis(u64::try_from(r.timeout_ms).unwrap_or(0).max(1000));
    let result = change_voters(timeout, || async move {
        if learner {
            // A combined node follows the log at its inter-broker endpoint; as a voter it is
            // reached at its controller endpoint.
            raft.change_membership(
                openraft::ChangeMembers::SetNodes([(id, node)].into_iter().collect()),
                true,
            )
            .await
            .map_err(|e| e.to_string())?;
        } else {
            raft.add_learner(id, node, true)
                .await
                .map_err(|e| e.to_string())?;
        }
        raft.change_membership(
            openraft::ChangeMembers::AddVoterIds([id].into_iter().collect()),
            false,
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(())
    });
    match result {
        Ok(()) => {
            tracing::info!(voter = r.voter_id, addr = %format!("{}:{}", listener.host, listener.port), "controller added to the metadata quorum");
            answer((ErrorCode::NONE, String::new()))
        }
        Err(e) => answer(e),
    }
}

/// RemoveRaftVoter (KIP-853) on the active controller of a dynamic quorum.
pub fn remove_raft_voter(broker: &Broker, r: RemoveRaftVoterRequest) -> ResponseBody {
    let answer = |(code, msg): (ErrorCode, String)| {
        if code != ErrorCode::NONE {
            tracing::warn!(voter = r.voter_id, error = %msg, "removing a controller failed");
        }
        ResponseBody::RemoveRaftVoter(RemoveRaftVoterResponse {
            error_code: code.0,
            error_message: (code != ErrorCode::NONE).then_some(msg),
            ..Default::default()
        })
    };
    if let Some(refused) = voter_change_refused(broker, &r.cluster_id) {
        return answer(refused);
    }
    let voters = broker.quorum_voters();
    if !voters.iter().any(|v| v.0 == r.voter_id) {
        return answer((
            ErrorCode::VOTER_NOT_FOUND,
            format!("node {} is not a voter", r.voter_id),
        ));
    }
    if voters.len() == 1 {
        return answer((
            ErrorCode::INVALID_REQUEST,
            "cannot remove the last voter of the quorum".into(),
        ));
    }
    let Some(q) = broker.metadata.quorum() else {
        return answer((ErrorCode::UNKNOWN_SERVER_ERROR, "no quorum".into()));
    };
    let raft = q.raft.clone();
    let id = r.voter_id as u64;
    let result = change_voters(FORWARD_DEADLINE, || async move {
        raft.change_membership(
            openraft::ChangeMembers::RemoveVoters([id].into_iter().collect()),
            false,
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(())
    });
    match result {
        Ok(()) => {
            tracing::info!(
                voter = r.voter_id,
                "controller removed from the metadata quorum"
            );
            answer((ErrorCode::NONE, String::new()))
        }
        Err(e) => answer(e),
    }
}

/// AlterPartition (v3, `NewIsrWithEpochs`) from a partition leader, on the active
/// controller: each partition's ISR compare-and-set, answered with its state afterwards.
pub fn alter_partition(
    broker: &Broker,
    r: crate::protocol::messages::alter_partition_request::AlterPartitionRequest,
) -> ResponseBody {
    use crate::protocol::messages::alter_partition_response::{
        AlterPartitionResponse, PartitionData, TopicData,
    };
    if !broker.is_active_controller() {
        return ResponseBody::AlterPartition(AlterPartitionResponse {
            error_code: ErrorCode::NOT_CONTROLLER.0,
            ..Default::default()
        });
    }
    let handle = tokio::runtime::Handle::current();
    let topics = r
        .topics
        .iter()
        .map(|t| TopicData {
            topic_id: t.topic_id,
            partitions: t
                .partitions
                .iter()
                .map(|p| {
                    let isr: Vec<i32> = if p.new_isr_with_epochs.is_empty() {
                        p.new_isr.clone()
                    } else {
                        p.new_isr_with_epochs.iter().map(|b| b.broker_id).collect()
                    };
                    let result = tokio::task::block_in_place(|| {
                        let _ = &handle;
                        broker.metadata.alter_partition(
                            r.broker_id,
                            r.broker_epoch,
                            t.topic_id,
                            p.partition_index,
                            p.leader_epoch,
                            p.partition_epoch,
                            &isr,
                        )
                    });
                    match result {
                        Ok(s) => PartitionData {
                            partition_index: p.partition_index,
                            leader_id: s.leader,
                            leader_epoch: s.leader_epoch,
                            isr: s.isr,
                            partition_epoch: s.partition_epoch,
                            ..Default::default()
                        },
                        Err(code) => PartitionData {
                            partition_index: p.partition_index,
                            error_code: code.0,
                            leader_id: -1,
                            leader_epoch: -1,
                            partition_epoch: -1,
                            ..Default::default()
                        },
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ResponseBody::AlterPartition(AlterPartitionResponse {
        topics,
        ..Default::default()
    })
}

/// ElectLeaders (preferred or unclean) on the active controller (v0 is a preferred
/// election).
pub fn elect_leaders(
    broker: &Broker,
    r: crate::protocol::messages::elect_leaders_request::ElectLeadersRequest,
    version: i16,
) -> ResponseBody {
    use crate::protocol::messages::elect_leaders_response::{
        ElectLeadersResponse, PartitionResult, ReplicaElectionResult,
    };
    if broker.is_cluster() && !broker.is_active_controller() {
        return ResponseBody::ElectLeaders(ElectLeadersResponse {
            error_code: ErrorCode::NOT_CONTROLLER.0,
            ..Default::default()
        });
    }
    let preferred = version == 0 || r.election_type == 0;
    let wanted: Option<Vec<(String, i32)>> = r.topic_partitions.as_ref().map(|tps| {
        tps.iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic.clone(), *p)))
            .collect()
    });
    let result =
        tokio::task::block_in_place(|| broker.metadata.elect_leaders(preferred, wanted.as_deref()));
    let results = match result {
        Ok(r) => r,
        Err(code) => {
            return ResponseBody::ElectLeaders(ElectLeadersResponse {
                error_code: code.0,
                ..Default::default()
            })
        }
    };
    let mut by_topic: std::collections::BTreeMap<String, Vec<PartitionResult>> = Default::default();
    for (topic, index, code) in results {
        by_topic.entry(topic).or_default().push(PartitionResult {
            partition_id: index,
            error_code: code.0,
            error_message: (code != ErrorCode::NONE).then(|| code.name().to_string()),
            ..Default::default()
        });
    }
    ResponseBody::ElectLeaders(ElectLeadersResponse {
        replica_election_results: by_topic
            .into_iter()
            .map(|(topic, partition_result)| ReplicaElectionResult {
                topic,
                partition_result,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

/// AlterPartitionReassignments on the active controller.
pub fn alter_partition_reassignments(
    broker: &Broker,
    r: crate::protocol::messages::alter_partition_reassignments_request::AlterPartitionReassignmentsRequest,
) -> ResponseBody {
    use crate::protocol::messages::alter_partition_reassignments_response::{
        AlterPartitionReassignmentsResponse, ReassignablePartitionResponse,
        ReassignableTopicResponse,
    };
    if broker.is_cluster() && !broker.is_active_controller() {
        return ResponseBody::AlterPartitionReassignments(AlterPartitionReassignmentsResponse {
            error_code: ErrorCode::NOT_CONTROLLER.0,
            ..Default::default()
        });
    }
    let changes: Vec<(String, i32, Option<Vec<i32>>)> = r
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.clone(), p.partition_index, p.replicas.clone()))
        })
        .collect();
    let results = match tokio::task::block_in_place(|| {
        broker.metadata.alter_reassignments(&changes)
    }) {
        Ok(r) => r,
        Err(code) => {
            return ResponseBody::AlterPartitionReassignments(AlterPartitionReassignmentsResponse {
                error_code: code.0,
                ..Default::default()
            })
        }
    };
    let mut by_topic: std::collections::BTreeMap<String, Vec<ReassignablePartitionResponse>> =
        Default::default();
    for (topic, index, code, message) in results {
        by_topic
            .entry(topic)
            .or_default()
            .push(ReassignablePartitionResponse {
                partition_index: index,
                error_code: code.0,
                error_message: message,
                ..Default::default()
            });
    }
    ResponseBody::AlterPartitionReassignments(AlterPartitionReassignmentsResponse {
        responses: by_topic
            .into_iter()
            .map(|(name, partitions)| ReassignableTopicResponse {
                name,
                partitions,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

/// ListPartitionReassignments, from this node's image.
pub fn list_partition_reassignments(
    broker: &Broker,
    r: crate::protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsRequest,
) -> ResponseBody {
    use crate::protocol::messages::list_partition_reassignments_response::{
        ListPartitionReassignmentsResponse, OngoingPartitionReassignment, OngoingTopicReassignment,
    };
    let wanted = |topic: &str, index: i32| match &r.topics {
        None => true,
        Some(ts) => ts
            .iter()
            .any(|t| t.name == topic && t.partition_indexes.contains(&index)),
    };
    let mut by_topic: std::collections::BTreeMap<String, Vec<OngoingPartitionReassignment>> =
        Default::default();
    for (topic, index, replicas, adding, removing) in broker.metadata.reassignments() {
        if wanted(&topic, index) {
            by_topic
                .entry(topic)
                .or_default()
                .push(OngoingPartitionReassignment {
                    partition_index: index,
                    replicas,
                    adding_replicas: adding,
                    removing_replicas: removing,
                    ..Default::default()
                });
        }
    }
    ResponseBody::ListPartitionReassignments(ListPartitionReassignmentsResponse {
        topics: by_topic
            .into_iter()
            .map(|(name, partitions)| OngoingTopicReassignment {
                name,
                partitions,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_ids_come_from_the_current_block_then_the_prefetched_one() {
        let mut ids = ProducerIdBlocks::default();
        assert_eq!(ids.take(), None, "no block yet");
        assert!(ids.start_fetch(), "nothing left: fetch");
        assert!(!ids.start_fetch(), "one fetch at a time");
        (ids.prefetched, ids.fetching) = (Some((1000, 2000)), false);
        assert_eq!(ids.take(), Some(1000));
        assert!(!ids.start_fetch(), "plenty left");
        for want in 1001..1900 {
            assert_eq!(ids.take(), Some(want));
        }
        assert!(ids.start_fetch(), "a tenth left: prefetch");
        (ids.prefetched, ids.fetching) = (Some((5000, 6000)), false);
        assert!(!ids.start_fetch(), "already prefetched");
        let rest: Vec<i64> = (0..101).filter_map(|_| ids.take()).collect();
        assert_eq!(rest.first(), Some(&1900));
        assert_eq!(rest[99], 1999, "the current block is used up first");
        assert_eq!(rest[100], 5000, "then the prefetched block");
    }
}
