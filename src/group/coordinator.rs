//! The classic group state machine, as Kafka's `GroupCoordinator` runs it:
//! Empty → PreparingRebalance → CompletingRebalance → Stable (→ Dead when deleted).
//!
//! A JoinGroup waits until every known member has rejoined (or the rebalance timeout passes,
//! removing those that did not); the first member, or the old leader if still present, is the
//! leader and gets every member's metadata for the chosen protocol; its SyncGroup hands out the
//! assignments. Heartbeats keep a member's session; a member silent for its session timeout is
//! removed and the group rebalances. Static members (`group.instance.id`) rejoining with
//! unchanged metadata take their old place without a rebalance; the member id they replace is
//! fenced. Time comes in as `now` (ms) on every call, so tests control it.

use super::records::{batch, GroupRecord};
use super::{partition_for, OffsetsLog};
use crate::protocol::coordinator::group_metadata_value::{GroupMetadataValue, MemberMetadata};
use crate::protocol::coordinator::offset_commit_value::OffsetCommitValue;
use crate::protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use crate::protocol::messages::join_group_response::{JoinGroupResponse, JoinGroupResponseMember};
use crate::protocol::messages::sync_group_response::SyncGroupResponse;
use crate::protocol::ErrorCode;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::oneshot;

/// Broker settings the coordinator follows (Kafka's names in the comments).
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms`
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`
    pub initial_rebalance_delay_ms: i64,
    /// `group.max.size`
    pub max_size: usize,
    /// `offsets.topic.num.partitions`
    pub offsets_partitions: i32,
    /// `offsets.retention.minutes`, in ms
    pub offsets_retention_ms: i64,
    /// `offset.metadata.max.bytes`
    pub offset_metadata_max_bytes: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 0,
            max_size: usize::MAX,
            offsets_partitions: 50,
            offsets_retention_ms: 7 * 24 * 3_600_000,
            offset_metadata_max_bytes: 4096,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// The name Kafka reports (DescribeGroups, ListGroups).
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// An answer now, or one that arrives when the group moves on.
#[derive(Debug)]
pub enum Waiting<T> {
    Ready(T),
    Later(oneshot::Receiver<T>),
}

/// A JoinGroup as the coordinator needs it.
#[derive(Debug, Clone, Default)]
pub struct JoinRequest {
    pub group_id: String,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// v4+: an unknown member first gets MEMBER_ID_REQUIRED with its new id.
    pub require_known_member_id: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
    pub expire_timestamp: i64,
}

#[derive(Debug)]
struct Member {
    id: String,
    instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout_ms: i32,
    rebalance_timeout_ms: i32,
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    last_heartbeat: i64,
    /// Order of first join: the leader is the earliest member.
    joined_at: u64,
    join_waiter: Option<oneshot::Sender<JoinGroupResponse>>,
    sync_waiter: Option<oneshot::Sender<SyncGroupResponse>>,
    /// Rejoined in the current rebalance (a static member may be in the group without).
    rejoined: bool,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug)]
struct Group {
    id: String,
    state: GroupState,
    state_since: i64,
    protocol_type: Option<String>,
    protocol: Option<String>,
    generation: i32,
    leader: Option<String>,
    members: HashMap<String, Member>,
    /// group.instance.id → member id.
    static_members: HashMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with when they lapse.
    pending: HashMap<String, i64>,
    offsets: BTreeMap<(String, i32), CommittedOffset>,
    /// PreparingRebalance: the join completes by this time whoever has rejoined.
    rebalance_deadline: i64,
    /// PreparingRebalance from Empty: not before this time (initial rebalance delay).
    not_before: i64,
    /// CompletingRebalance: members that have not sent SyncGroup by then are removed.
    sync_deadline: i64,
}

impl Group {
    fn new(id: &str, now: i64) -> Group {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            state_since: now,
            protocol_type: None,
            protocol: None,
            generation: 0,
            leader: None,
            members: HashMap::new(),
            static_members: HashMap::new(),
            pending: HashMap::new(),
            offsets: BTreeMap::new(),
            rebalance_deadline: 0,
            not_before: 0,
            sync_deadline: 0,
        }
    }

    fn transition(&mut self, state: GroupState, now: i64) {
        self.state = state;
        self.state_since = now;
    }

    fn is_fenced(&self, instance_id: Option<&str>, member_id: &str) -> bool {
        instance_id
            .and_then(|i| self.static_members.get(i))
            .is_some_and(|m| m != member_id)
    }

    /// Protocols every member (and the joining one) supports.
    fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if protocols.is_empty() || protocol_type.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(p, _)| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(q, _)| q == p))
            })
    }

    /// Each member votes for its most preferred protocol among those all support.
    fn select_protocol(&self) -> Option<String> {
        let mut ordered: Vec<&Member> = self.members.values().collect();
        ordered.sort_by_key(|m| m.joined_at);
        let first = ordered.first()?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(p, _)| p)
            .filter(|p| {
                ordered
                    .iter()
                    .all(|m| m.protocols.iter().any(|(q, _)| q == *p))
            })
            .collect();
        let mut votes: Vec<(&String, usize)> = candidates.iter().map(|c| (*c, 0)).collect();
        for m in &ordered {
            if let Some((p, _)) = m.protocols.iter().find(|(p, _)| candidates.contains(&p)) {
                if let Some(v) = votes.iter_mut().find(|(c, _)| *c == p) {
                    v.1 += 1;
                }
            }
        }
        // Most votes; ties go to the first member's preference order.
        let best = votes.iter().map(|v| v.1).max()?;
        votes
            .into_iter()
            .find(|v| v.1 == best)
            .map(|(p, _)| p.clone())
    }

    fn max_rebalance_timeout(&self) -> i64 {
        self.members
            .values()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    fn subscribed_topics(&self) -> Option<Vec<String>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol.as_deref()?;
        let mut topics = Vec::new();
        for m in self.members.values() {
            let meta = m.metadata_for(protocol);
            let mut d = crate::protocol::codec::Decoder::new(&meta);
            let Ok(version) = d.i16() else { return None };
            use crate::protocol::codec::Message;
            let sub = crate::protocol::messages::consumer_protocol_subscription::ConsumerProtocolSubscription::decode(&mut d, version.clamp(0, 3)).ok()?;
            topics.extend(sub.topics);
        }
        topics.sort();
        topics.dedup();
        Some(topics)
    }

    fn metadata_record(&self, now: i64) -> GroupRecord {
        self.metadata_record_with(None, now)
    }

    /// The group's metadata record, with `assignments` in place of the members' current ones
    /// when given (the record a SyncGroup writes before the assignments are applied).
    fn metadata_record_with(
        &self,
        assignments: Option<&HashMap<String, Bytes>>,
        now: i64,
    ) -> GroupRecord {
        let mut members: Vec<&Member> = self.members.values().collect();
        members.sort_by_key(|m| m.joined_at);
        let protocol = self.protocol.clone().unwrap_or_default();
        GroupRecord::group(
            &self.id,
            Some(GroupMetadataValue {
                protocol_type: self.protocol_type.clone().unwrap_or_default(),
                generation: self.generation,
                protocol: self.protocol.clone(),
                leader: self.leader.clone(),
                current_state_timestamp: now,
                members: members
                    .iter()
                    .map(|m| MemberMetadata {
                        member_id: m.id.clone(),
                        group_instance_id: m.instance_id.clone(),
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        rebalance_timeout: m.rebalance_timeout_ms,
                        session_timeout: m.session_timeout_ms,
                        subscription: m.metadata_for(&protocol),
                        assignment: match assignments {
                            Some(a) => a.get(&m.id).cloned().unwrap_or_default(),
                            None => m.assignment.clone(),
                        },
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
        )
    }
}

fn join_error(code: ErrorCode, member_id: &str) -> JoinGroupResponse {
    JoinGroupResponse {
        error_code: code.0,
        generation_id: -1,
        protocol_name: None,
        leader: String::new(),
        member_id: member_id.to_string(),
        ..Default::default()
    }
}

fn sync_answer(code: ErrorCode, group: &Group, assignment: Bytes) -> SyncGroupResponse {
    SyncGroupResponse {
        error_code: code.0,
        protocol_type: group.protocol_type.clone(),
        protocol_name: group.protocol.clone(),
        assignment,
        ..Default::default()
    }
}

fn sync_error(code: ErrorCode) -> SyncGroupResponse {
    SyncGroupResponse {
        error_code: code.0,
        ..Default::default()
    }
}

/// The coordinator of every group on this broker.
#[derive(Debug)]
pub struct Coordinator {
    pub config: GroupConfig,
    groups: Mutex<HashMap<String, Group>>,
    counter: AtomicU64,
    /// The `__consumer_offsets` partitions whose groups have been replayed into `groups`
    /// (a cluster node coordinates a partition's groups only once it has loaded them).
    loaded: Mutex<std::collections::HashSet<i32>>,
}

/// What [`Coordinator::describe`] and [`Coordinator::list`] report of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    pub state: GroupState,
}

impl Coordinator {
    pub fn new(config: GroupConfig) -> Coordinator {
        Coordinator {
            config,
            groups: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            loaded: Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// Notes that the groups of `partition` are loaded ([`Coordinator::load`] replayed it).
    pub fn mark_loaded(&self, partition: i32) {
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(partition);
    }

    /// Whether the groups of `partition` are loaded.
    pub fn is_loaded(&self, partition: i32) -> bool {
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&partition)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Group>> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `client_id-<uuid>` as Kafka forms member ids (a random UUID from the OS).
    fn new_member_id(&self, client_id: &str) -> String {
        format!("{client_id}-{}", crate::ids::random_uuid_string())
    }

    /// Forgets the groups of `__consumer_offsets`-`partition` (another broker coordinates
    /// them now); how many.
    pub fn unload_partition(&self, partition: i32) -> usize {
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&partition);
        let mut groups = self.lock();
        let before = groups.len();
        groups.retain(|id, _| partition_for(id, self.config.offsets_partitions) != partition);
        before - groups.len()
    }

    pub fn partition_of(&self, group_id: &str) -> i32 {
        partition_for(group_id, self.config.offsets_partitions)
    }

    fn write(
        &self,
        log: &dyn OffsetsLog,
        group_id: &str,
        records: &[GroupRecord],
        now: i64,
    ) -> Result<(), ErrorCode> {
        if records.is_empty() {
            return Ok(());
        }
        log.append(self.partition_of(group_id), batch(records, now))
            .map_err(|code| {
                tracing::error!(
                    group = group_id,
                    error = code.name(),
                    "writing to __consumer_offsets failed"
                );
                match code {
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION | ErrorCode::NOT_LEADER_OR_FOLLOWER => {
                        ErrorCode::NOT_COORDINATOR
                    }
                    ErrorCode::RECORD_LIST_TOO_LARGE | ErrorCode::MESSAGE_TOO_LARGE => {
                        ErrorCode::INVALID_COMMIT_OFFSET_SIZE
                    }
                    ErrorCode::KAFKA_STORAGE_ERROR => ErrorCode::COORDINATOR_NOT_AVAILABLE,
                    other => other,
                }
            })
    }

    // ---- Listing and describing ------------------------------------------------------

    pub fn list(&self) -> Vec<GroupListing> {
        let mut out: Vec<GroupListing> = self
            .lock()
            .values()
            .map(|g| GroupListing {
                group_id: g.id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state,
            })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    pub fn describe(&self, group_id: &str) -> Option<DescribedGroup> {
        let groups = self.lock();
        let g = groups.get(group_id)?;
        let stable = g.state == GroupState::Stable;
        let protocol = g.protocol.clone().unwrap_or_default();
        let mut members: Vec<&Member> = g.members.values().collect();
        members.sort_by_key(|m| m.joined_at);
        Some(DescribedGroup {
            error_code: 0,
            group_id: g.id.clone(),
            group_state: g.state.name().to_string(),
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol_data: if stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: members
                .into_iter()
                .map(|m| DescribedGroupMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    member_metadata: if stable {
                        m.metadata_for(&protocol)
                    } else {
                        Bytes::new()
                    },
                    member_assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                    ..Default::default()
                })
                .collect(),
            authorized_operations: i32::MIN,
            ..Default::default()
        })
    }

    // ---- Loading from __consumer_offsets ---------------------------------------------

    /// Applies one record read back from `__consumer_offsets` (in log order).
    pub fn load(&self, record: GroupRecord, now: i64) {
        let mut groups = self.lock();
        match record {
            GroupRecord::Offset { key, value } => match value {
                Some(v) => {
                    let group = groups
                        .entry(key.group.clone())
                        .or_insert_with(|| Group::new(&key.group, now));
                    group.offsets.insert(
                        (key.topic, key.partition),
                        CommittedOffset {
                            offset: v.offset,
                            leader_epoch: v.leader_epoch,
                            metadata: v.metadata,
                            commit_timestamp: v.commit_timestamp,
                            expire_timestamp: v.expire_timestamp,
                        },
                    );
                }
                None => {
                    if let Some(g) = groups.get_mut(&key.group) {
                        g.offsets.remove(&(key.topic, key.partition));
                    }
                }
            },
            GroupRecord::Group { key, value } => match value {
                None => {
                    groups.remove(&key.group);
                }
                Some(v) => {
                    let group = groups
                        .entry(key.group.clone())
                        .or_insert_with(|| Group::new(&key.group, now));
                    group.protocol_type = if v.protocol_type.is_empty() {
                        None
                    } else {
                        Some(v.protocol_type)
                    };
                    group.generation = v.generation;
                    group.protocol = v.protocol;
                    group.leader = v.leader;
                    group.members.clear();
                    group.static_members.clear();
                    let protocol = group.protocol.clone().unwrap_or_default();
                    for m in v.members {
                        let order = self.counter.fetch_add(1, Ordering::Relaxed);
                        if let Some(i) = &m.group_instance_id {
                            group.static_members.insert(i.clone(), m.member_id.clone());
                        }
                        group.members.insert(
                            m.member_id.clone(),
                            Member {
                                id: m.member_id,
                                instance_id: m.group_instance_id,
                                client_id: m.client_id,
                                client_host: m.client_host,
                                session_timeout_ms: m.session_timeout,
                                rebalance_timeout_ms: m.rebalance_timeout,
                                protocols: vec![(protocol.clone(), m.subscription)],
                                assignment: m.assignment,
                                last_heartbeat: now,
                                joined_at: order,
                                join_waiter: None,
                                sync_waiter: None,
                                rejoined: false,
                            },
                        );
                    }
                    let state = if group.members.is_empty() {
                        GroupState::Empty
                    } else {
                        GroupState::Stable
                    };
                    let since = if v.current_state_timestamp >= 0 {
                        v.current_state_timestamp
                    } else {
                        now
                    };
                    group.transition(state, since);
                }
            },
        }
    }

    /// The generation and state of a group (tests, tools).
    pub fn state_of(&self, group_id: &str) -> Option<(GroupState, i32, usize)> {
        self.lock()
            .get(group_id)
            .map(|g| (g.state, g.generation, g.members.len()))
    }
}

mod membership;
mod offsets;

#[cfg(test)]
mod tests;
