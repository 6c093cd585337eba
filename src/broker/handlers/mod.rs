//! Request dispatch: one file per API family. Each handler turns every per-topic or
//! per-partition problem into that entry's error code, so one bad partition never fails a
//! whole request. Handlers never touch segment files (they go through `Partition` and the
//! metadata store).

/// KIP-951: the response's node endpoints (of `$ty`, Produce's or Fetch's type) from the
/// endpoints [`LeaderHints`] collected.
macro_rules! node_endpoints {
    ($endpoints:expr, $ty:ident) => {
        $endpoints
            .into_iter()
            .map(|(node_id, (host, port, rack))| $ty {
                node_id,
                host,
                port,
                rack,
                ..Default::default()
            })
            .collect::<Vec<_>>()
    };
}

pub mod api_versions;
pub mod configs;
pub mod fetch;
pub mod groups;
pub mod metadata;
pub mod offsets;
pub mod produce;
pub mod topics;

use super::Broker;
use crate::protocol::{ErrorCode, Request, RequestBody, ResponseBody};
use std::net::SocketAddr;
use std::sync::Arc;

/// What the connection does after a request.
pub enum Outcome {
    Respond(ResponseBody),
    /// A response whose placeholder records chunks are sent from these file regions, in
    /// order (see `broker::splice`).
    RespondSpliced(ResponseBody, Vec<crate::replication::FileRegion>),
    /// acks=0 produces get no answer.
    NoResponse,
    /// Close the connection (logged with the reason), e.g. a failed acks=0 produce.
    Close(String),
}

/// Where a request came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub peer: SocketAddr,
    /// Index of the listener it arrived on (answers name that listener's endpoint).
    pub listener: usize,
}

pub async fn dispatch(broker: &Arc<Broker>, request: Request, origin: Origin) -> Outcome {
    let peer = origin.peer;
    let controller_listener = broker
        .listeners
        .get(origin.listener)
        .is_some_and(|l| l.controller);
    let version = request.api_version;
    let client_id = request.header.client_id.clone().unwrap_or_default();
    let b = broker.as_ref();
    let respond = Outcome::Respond;
    if broker.is_cluster() && super::controller::is_forwarded(request.api_key) {
        let local_broker = broker.clone();
        let body = super::controller::forward_admin(
            broker,
            request.api_key,
            version,
            request.body,
            move |body| {
                let b = local_broker.clone();
                async move { admin_write(&b, body, version, controller_listener) }
            },
        )
        .await;
        return respond(body);
    }
    if let Some(answer) = groups::not_coordinator(b, &request.body) {
        return respond(answer);
    }
    match request.body {
        RequestBody::BrokerRegistration(r) => respond(super::controller::broker_registration(b, r)),
        RequestBody::BrokerHeartbeat(r) => respond(super::controller::broker_heartbeat(b, r)),
        RequestBody::AllocateProducerIds(r) => {
            respond(super::controller::allocate_producer_ids(b, r))
        }
        RequestBody::DescribeQuorum(_) => respond(super::controller::describe_quorum(b)),
        RequestBody::AddRaftVoter(r) => respond(super::controller::add_raft_voter(b, r)),
        RequestBody::RemoveRaftVoter(r) => respond(super::controller::remove_raft_voter(b, r)),
        RequestBody::AlterPartition(r) => respond(super::controller::alter_partition(b, r)),
        RequestBody::ElectLeaders(r) => respond(super::controller::elect_leaders(b, r, version)),
        RequestBody::AlterPartitionReassignments(r) => {
            respond(super::controller::alter_partition_reassignments(b, r))
        }
        RequestBody::ListPartitionReassignments(r) => {
            respond(super::controller::list_partition_reassignments(b, r))
        }
        RequestBody::ApiVersions(_) => respond(api_versions::handle(controller_listener)),
        RequestBody::Metadata(r) => respond(metadata::handle(b, r, version, origin.listener)),
        RequestBody::Produce(r) => produce::handle(broker, r, version, origin.listener).await,
        RequestBody::Fetch(r) => {
            let (body, regions) = fetch::handle(broker, r, version, origin.listener).await;
            Outcome::RespondSpliced(body, regions)
        }
        RequestBody::ListOffsets(r) => respond(offsets::list_offsets(b, r, version)),
        RequestBody::OffsetForLeaderEpoch(r) => respond(offsets::offset_for_leader_epoch(b, r)),
        RequestBody::DeleteRecords(r) => respond(offsets::delete_records(b, r)),
        RequestBody::DescribeLogDirs(r) => respond(offsets::describe_log_dirs(b, r, version)),
        RequestBody::AlterReplicaLogDirs(r) => respond(offsets::alter_replica_log_dirs(b, r)),
        RequestBody::InitProducerId(r) => respond(offsets::init_producer_id(broker, r).await),
        RequestBody::DescribeProducers(r) => respond(offsets::describe_producers(b, r)),
        RequestBody::CreateTopics(r) => respond(topics::create_topics(b, r, version, false)),
        RequestBody::DeleteTopics(r) => respond(topics::delete_topics(b, r, version)),
        RequestBody::CreatePartitions(r) => respond(topics::create_partitions(b, r)),
        RequestBody::DescribeTopicPartitions(r) => {
            respond(metadata::describe_topic_partitions(b, r))
        }
        RequestBody::DescribeCluster(r) => {
            respond(metadata::describe_cluster(b, r, origin.listener))
        }
        RequestBody::DescribeConfigs(r) => respond(configs::describe_configs(b, r, version)),
        RequestBody::AlterConfigs(r) => respond(configs::alter_configs(b, r)),
        RequestBody::IncrementalAlterConfigs(r) => {
            respond(configs::incremental_alter_configs(b, r))
        }
        RequestBody::FindCoordinator(r) => respond(ResponseBody::FindCoordinator(
            groups::find_coordinator(b, r, version, origin.listener),
        )),
        RequestBody::JoinGroup(r) => respond(ResponseBody::JoinGroup(
            groups::join_group(broker, r, version, &client_id, peer).await,
        )),
        RequestBody::SyncGroup(r) => respond(ResponseBody::SyncGroup(
            groups::sync_group(broker, r, version).await,
        )),
        RequestBody::Heartbeat(r) => respond(ResponseBody::Heartbeat(groups::heartbeat(b, r))),
        RequestBody::LeaveGroup(r) => {
            respond(ResponseBody::LeaveGroup(groups::leave_group(b, r, version)))
        }
        RequestBody::OffsetCommit(r) => respond(ResponseBody::OffsetCommit(groups::offset_commit(
            b, r, version,
        ))),
        RequestBody::OffsetFetch(r) => respond(ResponseBody::OffsetFetch(groups::offset_fetch(
            b, r, version,
        ))),
        RequestBody::ListGroups(r) => respond(ResponseBody::ListGroups(groups::list_groups(b, r))),
        RequestBody::DescribeGroups(r) => {
            respond(ResponseBody::DescribeGroups(groups::describe_groups(b, r)))
        }
        RequestBody::DeleteGroups(r) => {
            respond(ResponseBody::DeleteGroups(groups::delete_groups(b, r)))
        }
        RequestBody::OffsetDelete(r) => {
            respond(ResponseBody::OffsetDelete(groups::offset_delete(b, r)))
        }
        other => Outcome::Close(format!(
            "{} is not served by this broker",
            other.api_key().name()
        )),
    }
}

/// The admin writes, handled on this node (the active controller in a cluster).
fn admin_write(
    b: &Broker,
    body: RequestBody,
    version: i16,
    controller_listener: bool,
) -> ResponseBody {
    match body {
        RequestBody::CreateTopics(r) => topics::create_topics(b, r, version, controller_listener),
        RequestBody::DeleteTopics(r) => topics::delete_topics(b, r, version),
        RequestBody::CreatePartitions(r) => topics::create_partitions(b, r),
        RequestBody::AlterConfigs(r) => configs::alter_configs(b, r),
        RequestBody::IncrementalAlterConfigs(r) => configs::incremental_alter_configs(b, r),
        RequestBody::DescribeQuorum(_) => super::controller::describe_quorum(b),
        RequestBody::AddRaftVoter(r) => super::controller::add_raft_voter(b, r),
        RequestBody::RemoveRaftVoter(r) => super::controller::remove_raft_voter(b, r),
        RequestBody::ElectLeaders(r) => super::controller::elect_leaders(b, r, version),
        RequestBody::AlterPartitionReassignments(r) => {
            super::controller::alter_partition_reassignments(b, r)
        }
        other => unreachable!("{} is not an admin write", other.api_key().name()),
    }
}

/// KIP-951: for a partition answered NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH, the
/// leader and epoch this broker knows, and the endpoints (on the listener the request came
/// in on) of the leaders named, so clients go there without a metadata round trip.
pub(crate) fn leader_hint(
    broker: &crate::broker::Broker,
    topic: &str,
    partition: i32,
    listener: usize,
    endpoints: &mut std::collections::BTreeMap<i32, (String, i32, Option<String>)>,
) -> Option<(i32, i32)> {
    let (leader, epoch) = broker
        .metadata
        .partition_leader_and_epoch(topic, partition)?;
    if leader < 0 {
        return None;
    }
    if let Some(b) = broker
        .live_brokers(listener)
        .into_iter()
        .find(|b| b.0 == leader)
    {
        endpoints.insert(leader, (b.1, b.2, b.3));
    }
    Some((leader, epoch))
}

/// KIP-951: the current leader and epoch of the partitions a Produce or Fetch found this
/// broker does not lead (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH), in a cluster, and
/// the endpoints of those leaders for the response's node endpoints.
pub(crate) struct LeaderHints<'a> {
    broker: &'a crate::broker::Broker,
    listener: usize,
    /// Whether the request's version carries the hints.
    enabled: bool,
    pub endpoints: std::collections::BTreeMap<i32, (String, i32, Option<String>)>,
}

impl<'a> LeaderHints<'a> {
    pub fn new(broker: &'a crate::broker::Broker, listener: usize, enabled: bool) -> Self {
        let enabled = enabled && broker.is_cluster();
        let endpoints = Default::default();
        LeaderHints {
            broker,
            listener,
            enabled,
            endpoints,
        }
    }

    /// `(leader, epoch)` for a partition answered with `error_code`.
    pub fn get(&mut self, topic: &str, partition: i32, error_code: i16) -> Option<(i32, i32)> {
        let moved = [
            ErrorCode::NOT_LEADER_OR_FOLLOWER.0,
            ErrorCode::FENCED_LEADER_EPOCH.0,
        ];
        if !self.enabled || !moved.contains(&error_code) {
            return None;
        }
        leader_hint(
            self.broker,
            topic,
            partition,
            self.listener,
            &mut self.endpoints,
        )
    }
}
