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
                        assignment: m.assignment.clone(),
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
    /// A per-process random salt for member ids.
    salt: u64,
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
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        Coordinator {
            config,
            groups: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            salt: h.finish(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Group>> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `client_id-<uuid>` as Kafka forms member ids.
    fn new_member_id(&self, client_id: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut x = self.salt ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut words = [0u64; 2];
        for w in &mut words {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *w = x;
        }
        let (a, b) = (words[0], words[1]);
        format!(
            "{client_id}-{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
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

    // ---- JoinGroup -------------------------------------------------------------------

    pub fn join(&self, req: JoinRequest, now: i64) -> Waiting<JoinGroupResponse> {
        if req.session_timeout_ms < self.config.min_session_timeout_ms
            || req.session_timeout_ms > self.config.max_session_timeout_ms
        {
            return Waiting::Ready(join_error(
                ErrorCode::INVALID_SESSION_TIMEOUT,
                &req.member_id,
            ));
        }
        if req.group_id.is_empty() {
            return Waiting::Ready(join_error(ErrorCode::INVALID_GROUP_ID, &req.member_id));
        }
        let mut groups = self.lock();
        let is_new_group = !groups.contains_key(&req.group_id);
        if is_new_group && !req.member_id.is_empty() {
            return Waiting::Ready(join_error(ErrorCode::UNKNOWN_MEMBER_ID, &req.member_id));
        }
        let group = groups
            .entry(req.group_id.clone())
            .or_insert_with(|| Group::new(&req.group_id, now));
        if !group.supports(&req.protocol_type, &req.protocols) {
            let r = join_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, &req.member_id);
            if group.members.is_empty() && group.offsets.is_empty() && is_new_group {
                groups.remove(&req.group_id);
            }
            return Waiting::Ready(r);
        }
        if req.member_id.is_empty() {
            self.join_unknown_member(group, req, now)
        } else {
            self.join_known_member(group, req, now)
        }
    }

    fn join_unknown_member(
        &self,
        group: &mut Group,
        req: JoinRequest,
        now: i64,
    ) -> Waiting<JoinGroupResponse> {
        let new_id = self.new_member_id(&req.client_id);
        if let Some(instance) = req.group_instance_id.clone() {
            if let Some(old_id) = group.static_members.get(&instance).cloned() {
                if group.members.contains_key(&old_id) {
                    return self.replace_static_member(group, &old_id, new_id, req, now);
                }
            }
            // A new static member joins at once (no MEMBER_ID_REQUIRED round).
            return self.add_member_and_rebalance(group, new_id, req, now);
        }
        if group.members.len() + group.pending.len() >= self.config.max_size {
            return Waiting::Ready(join_error(ErrorCode::GROUP_MAX_SIZE_REACHED, ""));
        }
        if req.require_known_member_id {
            group
                .pending
                .insert(new_id.clone(), now + i64::from(req.session_timeout_ms));
            return Waiting::Ready(join_error(ErrorCode::MEMBER_ID_REQUIRED, &new_id));
        }
        self.add_member_and_rebalance(group, new_id, req, now)
    }

    fn join_known_member(
        &self,
        group: &mut Group,
        req: JoinRequest,
        now: i64,
    ) -> Waiting<JoinGroupResponse> {
        let id = req.member_id.clone();
        if group.is_fenced(req.group_instance_id.as_deref(), &id) {
            return Waiting::Ready(join_error(ErrorCode::FENCED_INSTANCE_ID, &id));
        }
        if group.pending.remove(&id).is_some() {
            if group.members.len() >= self.config.max_size {
                return Waiting::Ready(join_error(ErrorCode::GROUP_MAX_SIZE_REACHED, &id));
            }
            return self.add_member_and_rebalance(group, id, req, now);
        }
        if !group.members.contains_key(&id) {
            return Waiting::Ready(join_error(ErrorCode::UNKNOWN_MEMBER_ID, &id));
        }
        match group.state {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(group, req, now),
            GroupState::CompletingRebalance => {
                let same = group.members[&id].protocols == req.protocols;
                if same {
                    // A retried join: answer with the current generation.
                    let (tx, rx) = oneshot::channel();
                    let _ = tx.send(self.join_response(group, &id));
                    Waiting::Later(rx)
                } else {
                    self.update_member_and_rebalance(group, req, now)
                }
            }
            GroupState::Stable => {
                let member = &group.members[&id];
                let is_leader = group.leader.as_deref() == Some(&id);
                if is_leader || member.protocols != req.protocols {
                    self.update_member_and_rebalance(group, req, now)
                } else {
                    let mut r = self.join_response(group, &id);
                    r.members.clear();
                    Waiting::Ready(r)
                }
            }
            GroupState::Empty | GroupState::Dead => {
                Waiting::Ready(join_error(ErrorCode::UNKNOWN_MEMBER_ID, &id))
            }
        }
    }

    fn new_member(req: &JoinRequest, id: String, now: i64, order: u64) -> Member {
        Member {
            id,
            instance_id: req.group_instance_id.clone(),
            client_id: req.client_id.clone(),
            client_host: req.client_host.clone(),
            session_timeout_ms: req.session_timeout_ms,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            protocols: req.protocols.clone(),
            assignment: Bytes::new(),
            last_heartbeat: now,
            joined_at: order,
            join_waiter: None,
            sync_waiter: None,
            rejoined: false,
        }
    }

    fn add_member_and_rebalance(
        &self,
        group: &mut Group,
        id: String,
        req: JoinRequest,
        now: i64,
    ) -> Waiting<JoinGroupResponse> {
        if group.members.len() >= self.config.max_size {
            return Waiting::Ready(join_error(ErrorCode::GROUP_MAX_SIZE_REACHED, &id));
        }
        let order = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut member = Self::new_member(&req, id.clone(), now, order);
        let (tx, rx) = oneshot::channel();
        member.join_waiter = Some(tx);
        member.rejoined = true;
        if group.members.is_empty() {
            group.protocol_type = Some(req.protocol_type.clone());
        }
        if let Some(instance) = &req.group_instance_id {
            group.static_members.insert(instance.clone(), id.clone());
        }
        group.members.insert(id, member);
        self.prepare_rebalance(group, now);
        self.try_complete_join(group, now);
        Waiting::Later(rx)
    }

    fn update_member_and_rebalance(
        &self,
        group: &mut Group,
        req: JoinRequest,
        now: i64,
    ) -> Waiting<JoinGroupResponse> {
        let (tx, rx) = oneshot::channel();
        if let Some(m) = group.members.get_mut(&req.member_id) {
            m.protocols = req.protocols;
            m.session_timeout_ms = req.session_timeout_ms;
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            m.last_heartbeat = now;
            m.rejoined = true;
            if let Some(old) = m.join_waiter.replace(tx) {
                let _ = old.send(join_error(ErrorCode::UNKNOWN_MEMBER_ID, &req.member_id));
            }
        }
        self.prepare_rebalance(group, now);
        self.try_complete_join(group, now);
        Waiting::Later(rx)
    }

    /// A static member rejoining with a new member id: the old id is fenced; in a Stable group
    /// whose selected protocol stays the same there is no rebalance (KIP-345).
    fn replace_static_member(
        &self,
        group: &mut Group,
        old_id: &str,
        new_id: String,
        req: JoinRequest,
        now: i64,
    ) -> Waiting<JoinGroupResponse> {
        let Some(mut member) = group.members.remove(old_id) else {
            return Waiting::Ready(join_error(ErrorCode::UNKNOWN_MEMBER_ID, ""));
        };
        if let Some(w) = member.join_waiter.take() {
            let _ = w.send(join_error(ErrorCode::FENCED_INSTANCE_ID, old_id));
        }
        if let Some(w) = member.sync_waiter.take() {
            let _ = w.send(sync_error(ErrorCode::FENCED_INSTANCE_ID));
        }
        member.protocols = req.protocols.clone();
        member.id = new_id.clone();
        member.client_id = req.client_id.clone();
        member.client_host = req.client_host.clone();
        member.session_timeout_ms = req.session_timeout_ms;
        member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        member.last_heartbeat = now;
        if let Some(instance) = &req.group_instance_id {
            group
                .static_members
                .insert(instance.clone(), new_id.clone());
        }
        if group.leader.as_deref() == Some(old_id) {
            group.leader = Some(new_id.clone());
        }
        group.members.insert(new_id.clone(), member);
        // As Kafka: only a change of the protocol the group would select forces a rebalance
        // (new metadata alone does not; a consumer leader notices subscription changes).
        let unchanged = group.select_protocol() == group.protocol;
        if group.state == GroupState::Stable && unchanged {
            tracing::info!(group = %group.id, member = %new_id, "static member rejoined without a rebalance");
            let mut r = self.join_response(group, &new_id);
            r.members.clear();
            // KIP-814: a returning leader is told not to compute a new assignment.
            r.skip_assignment = group.leader.as_deref() == Some(&new_id);
            return Waiting::Ready(r);
        }
        let mut req = req;
        req.member_id = new_id;
        self.update_member_and_rebalance(group, req, now)
    }

    fn prepare_rebalance(&self, group: &mut Group, now: i64) {
        match group.state {
            GroupState::PreparingRebalance => return,
            GroupState::CompletingRebalance => {
                for m in group.members.values_mut() {
                    if let Some(w) = m.sync_waiter.take() {
                        let _ = w.send(sync_error(ErrorCode::REBALANCE_IN_PROGRESS));
                    }
                }
            }
            _ => {}
        }
        let from_empty = group.state == GroupState::Empty;
        for m in group.members.values_mut() {
            if m.join_waiter.is_none() {
                m.rejoined = false;
            }
        }
        group.rebalance_deadline = now + group.max_rebalance_timeout();
        group.not_before = if from_empty {
            now + self.config.initial_rebalance_delay_ms
        } else {
            now
        };
        tracing::debug!(group = %group.id, generation = group.generation, "preparing rebalance");
        group.transition(GroupState::PreparingRebalance, now);
    }

    /// Completes the join phase when every member has rejoined and no new member is still
    /// on its MEMBER_ID_REQUIRED round (or when forced by the rebalance timeout).
    fn try_complete_join(&self, group: &mut Group, now: i64) {
        if group.state != GroupState::PreparingRebalance || now < group.not_before {
            return;
        }
        let all_in = group.members.values().all(|m| m.rejoined) && group.pending.is_empty();
        if all_in || now >= group.rebalance_deadline {
            self.complete_join(group, now);
        }
    }

    fn complete_join(&self, group: &mut Group, now: i64) {
        // Dynamic members that did not rejoin in time are out.
        let gone: Vec<String> = group
            .members
            .values()
            .filter(|m| !m.rejoined && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            tracing::info!(group = %group.id, member = %id, "member did not rejoin within the rebalance timeout");
            group.members.remove(&id);
        }
        group.pending.clear();
        group.generation += 1;
        if group.members.is_empty() {
            group.protocol = None;
            group.leader = None;
            group.transition(GroupState::Empty, now);
            return;
        }
        group.protocol = group.select_protocol();
        if group
            .leader
            .as_ref()
            .is_none_or(|l| !group.members.contains_key(l))
        {
            group.leader = group
                .members
                .values()
                .min_by_key(|m| m.joined_at)
                .map(|m| m.id.clone());
        }
        group.transition(GroupState::CompletingRebalance, now);
        group.sync_deadline = now + group.max_rebalance_timeout();
        tracing::info!(group = %group.id, generation = group.generation, members = group.members.len(), protocol = ?group.protocol, "rebalance: join complete");
        let ids: Vec<String> = group.members.keys().cloned().collect();
        for id in ids {
            let response = self.join_response(group, &id);
            if let Some(m) = group.members.get_mut(&id) {
                m.last_heartbeat = now;
                m.rejoined = false;
                m.assignment = Bytes::new();
                if let Some(w) = m.join_waiter.take() {
                    let _ = w.send(response);
                }
            }
        }
    }

    fn join_response(&self, group: &Group, member_id: &str) -> JoinGroupResponse {
        let protocol = group.protocol.clone().unwrap_or_default();
        let is_leader = group.leader.as_deref() == Some(member_id);
        let mut members = Vec::new();
        if is_leader {
            let mut all: Vec<&Member> = group.members.values().collect();
            all.sort_by_key(|m| m.joined_at);
            members = all
                .into_iter()
                .map(|m| JoinGroupResponseMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    metadata: m.metadata_for(&protocol),
                    ..Default::default()
                })
                .collect();
        }
        JoinGroupResponse {
            error_code: 0,
            generation_id: group.generation,
            protocol_type: group.protocol_type.clone(),
            protocol_name: group.protocol.clone(),
            leader: group.leader.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            members,
            ..Default::default()
        }
    }

    // ---- SyncGroup -------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    pub fn sync(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
        log: &dyn OffsetsLog,
        now: i64,
    ) -> Waiting<SyncGroupResponse> {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return Waiting::Ready(sync_error(ErrorCode::UNKNOWN_MEMBER_ID));
        };
        if group.is_fenced(instance_id, member_id) {
            return Waiting::Ready(sync_error(ErrorCode::FENCED_INSTANCE_ID));
        }
        if !group.members.contains_key(member_id) {
            return Waiting::Ready(sync_error(ErrorCode::UNKNOWN_MEMBER_ID));
        }
        if generation != group.generation {
            return Waiting::Ready(sync_error(ErrorCode::ILLEGAL_GENERATION));
        }
        if protocol_type.is_some_and(|t| Some(t) != group.protocol_type.as_deref())
            || protocol_name.is_some_and(|p| Some(p) != group.protocol.as_deref())
        {
            return Waiting::Ready(sync_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL));
        }
        match group.state {
            GroupState::PreparingRebalance => {
                Waiting::Ready(sync_error(ErrorCode::REBALANCE_IN_PROGRESS))
            }
            GroupState::Stable => {
                let a = group.members[member_id].assignment.clone();
                Waiting::Ready(sync_answer(ErrorCode::NONE, group, a))
            }
            GroupState::Empty | GroupState::Dead => {
                Waiting::Ready(sync_error(ErrorCode::UNKNOWN_MEMBER_ID))
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = group.members.get_mut(member_id) {
                    m.last_heartbeat = now;
                    if let Some(old) = m.sync_waiter.replace(tx) {
                        let _ = old.send(sync_error(ErrorCode::REBALANCE_IN_PROGRESS));
                    }
                }
                if group.leader.as_deref() == Some(member_id) {
                    self.complete_sync(group, assignments, log, now);
                }
                Waiting::Later(rx)
            }
        }
    }

    fn complete_sync(
        &self,
        group: &mut Group,
        assignments: Vec<(String, Bytes)>,
        log: &dyn OffsetsLog,
        now: i64,
    ) {
        let mut by_member: HashMap<String, Bytes> = assignments.into_iter().collect();
        for m in group.members.values_mut() {
            m.assignment = by_member.remove(&m.id).unwrap_or_default();
        }
        let record = group.metadata_record(now);
        let group_id = group.id.clone();
        match self.write(log, &group_id, &[record], now) {
            Ok(()) => {
                group.transition(GroupState::Stable, now);
                tracing::info!(group = %group.id, generation = group.generation, "rebalance complete: group is stable");
                let ids: Vec<String> = group.members.keys().cloned().collect();
                for id in ids {
                    let answer = sync_answer(
                        ErrorCode::NONE,
                        group,
                        group.members[&id].assignment.clone(),
                    );
                    if let Some(w) = group
                        .members
                        .get_mut(&id)
                        .and_then(|m| m.sync_waiter.take())
                    {
                        let _ = w.send(answer);
                    }
                }
            }
            Err(code) => {
                for m in group.members.values_mut() {
                    m.assignment = Bytes::new();
                    if let Some(w) = m.sync_waiter.take() {
                        let _ = w.send(sync_error(code));
                    }
                }
                self.prepare_rebalance(group, now);
            }
        }
    }

    // ---- Heartbeat and LeaveGroup ----------------------------------------------------

    pub fn heartbeat(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        now: i64,
    ) -> ErrorCode {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        };
        if group.is_fenced(instance_id, member_id) {
            return ErrorCode::FENCED_INSTANCE_ID;
        }
        let state = group.state;
        let current_generation = group.generation;
        let Some(member) = group.members.get_mut(member_id) else {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        };
        match state {
            GroupState::Empty | GroupState::Dead => ErrorCode::UNKNOWN_MEMBER_ID,
            _ if generation != current_generation => ErrorCode::ILLEGAL_GENERATION,
            GroupState::PreparingRebalance => {
                member.last_heartbeat = now;
                ErrorCode::REBALANCE_IN_PROGRESS
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                member.last_heartbeat = now;
                ErrorCode::NONE
            }
        }
    }

    /// Removes members; each entry's own error (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID).
    pub fn leave(
        &self,
        group_id: &str,
        members: &[(String, Option<String>)],
        log: &dyn OffsetsLog,
        now: i64,
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return Err(ErrorCode::UNKNOWN_MEMBER_ID);
        };
        let mut results = Vec::with_capacity(members.len());
        let mut removed = false;
        for (member_id, instance_id) in members {
            let id = match instance_id {
                Some(instance) => match group.static_members.get(instance) {
                    // An empty member id leaves by instance id (admin removal).
                    Some(current) if member_id.is_empty() || current == member_id => {
                        current.clone()
                    }
                    Some(_) => {
                        results.push(ErrorCode::FENCED_INSTANCE_ID);
                        continue;
                    }
                    None => {
                        results.push(ErrorCode::UNKNOWN_MEMBER_ID);
                        continue;
                    }
                },
                None => member_id.clone(),
            };
            if group.pending.remove(&id).is_some() {
                results.push(ErrorCode::NONE);
                continue;
            }
            if self.remove_member(group, &id, now) {
                tracing::info!(group = group_id, member = %id, "member left the group");
                results.push(ErrorCode::NONE);
                removed = true;
            } else {
                results.push(ErrorCode::UNKNOWN_MEMBER_ID);
            }
        }
        if removed {
            self.after_removal(group, log, now);
        }
        Ok(results)
    }

    fn remove_member(&self, group: &mut Group, id: &str, _now: i64) -> bool {
        let Some(mut m) = group.members.remove(id) else {
            return false;
        };
        if let Some(w) = m.join_waiter.take() {
            let _ = w.send(join_error(ErrorCode::UNKNOWN_MEMBER_ID, id));
        }
        if let Some(w) = m.sync_waiter.take() {
            let _ = w.send(sync_error(ErrorCode::UNKNOWN_MEMBER_ID));
        }
        if let Some(instance) = &m.instance_id {
            if group.static_members.get(instance).is_some_and(|x| x == id) {
                group.static_members.remove(instance);
            }
        }
        true
    }

    fn after_removal(&self, group: &mut Group, log: &dyn OffsetsLog, now: i64) {
        match group.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(group, now);
                self.try_complete_join(group, now);
            }
            GroupState::PreparingRebalance => self.try_complete_join(group, now),
            _ => {}
        }
        if group.state == GroupState::Empty {
            let record = group.metadata_record(now);
            let id = group.id.clone();
            let _ = self.write(log, &id, &[record], now);
        }
    }

    /// Timers: session expiry, rebalance and sync timeouts, lapsed pending members.
    pub fn tick(&self, log: &dyn OffsetsLog, now: i64) {
        let mut groups = self.lock();
        for group in groups.values_mut() {
            group.pending.retain(|_, until| *until > now);
            let expired: Vec<String> = group
                .members
                .values()
                .filter(|m| {
                    m.join_waiter.is_none()
                        && m.sync_waiter.is_none()
                        && m.last_heartbeat + i64::from(m.session_timeout_ms) <= now
                })
                .map(|m| m.id.clone())
                .collect();
            let mut removed = false;
            for id in expired {
                tracing::info!(group = %group.id, member = %id, "member session expired");
                removed |= self.remove_member(group, &id, now);
            }
            if group.state == GroupState::CompletingRebalance && now >= group.sync_deadline {
                let lagging: Vec<String> = group
                    .members
                    .values()
                    .filter(|m| m.sync_waiter.is_none())
                    .map(|m| m.id.clone())
                    .collect();
                for id in lagging {
                    tracing::info!(group = %group.id, member = %id, "member did not sync within the rebalance timeout");
                    removed |= self.remove_member(group, &id, now);
                }
                if !removed {
                    // Everyone is waiting but the leader never synced (it is waiting too).
                    self.prepare_rebalance(group, now);
                }
            }
            if removed {
                self.after_removal(group, log, now);
            }
            self.try_complete_join(group, now);
            if group.state == GroupState::Empty && removed {
                // written by after_removal
            }
        }
    }

    // ---- Offsets ---------------------------------------------------------------------

    /// Checks a commit against the group; `Ok` means the offsets may be written.
    pub fn check_commit(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        now: i64,
    ) -> ErrorCode {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            // An unknown group: a simple (offsets-only) group when no generation is claimed,
            // else a commit from a generation that is gone.
            return if generation < 0 {
                ErrorCode::NONE
            } else {
                ErrorCode::ILLEGAL_GENERATION
            };
        };
        if generation < 0 && group.state == GroupState::Empty {
            return ErrorCode::NONE; // a group that only stores offsets
        }
        if group.is_fenced(instance_id, member_id) {
            return ErrorCode::FENCED_INSTANCE_ID;
        }
        if !group.members.contains_key(member_id) {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        }
        if generation != group.generation {
            return ErrorCode::ILLEGAL_GENERATION;
        }
        match group.state {
            GroupState::CompletingRebalance => ErrorCode::REBALANCE_IN_PROGRESS,
            GroupState::Stable | GroupState::PreparingRebalance => {
                if let Some(m) = group.members.get_mut(member_id) {
                    m.last_heartbeat = now;
                }
                ErrorCode::NONE
            }
            _ => ErrorCode::UNKNOWN_MEMBER_ID,
        }
    }

    /// Writes committed offsets (one batch) and then applies them.
    pub fn commit(
        &self,
        group_id: &str,
        offsets: Vec<((String, i32), CommittedOffset)>,
        log: &dyn OffsetsLog,
        now: i64,
    ) -> Result<(), ErrorCode> {
        let records: Vec<GroupRecord> = offsets
            .iter()
            .map(|((t, p), o)| {
                GroupRecord::offset(
                    group_id,
                    t,
                    *p,
                    Some(OffsetCommitValue {
                        offset: o.offset,
                        leader_epoch: o.leader_epoch,
                        metadata: o.metadata.clone(),
                        commit_timestamp: o.commit_timestamp,
                        expire_timestamp: o.expire_timestamp,
                        ..Default::default()
                    }),
                )
            })
            .collect();
        let mut groups = self.lock();
        self.write(log, group_id, &records, now)?;
        let group = groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::new(group_id, now));
        group.offsets.extend(offsets);
        Ok(())
    }

    /// Committed offsets of a group: all of them, or those asked for.
    pub fn fetch_offsets(&self, group_id: &str) -> BTreeMap<(String, i32), CommittedOffset> {
        self.lock()
            .get(group_id)
            .map(|g| g.offsets.clone())
            .unwrap_or_default()
    }

    /// OffsetDelete: refused for topics an active consumer group subscribes to.
    pub fn delete_offsets(
        &self,
        group_id: &str,
        partitions: &[(String, i32)],
        log: &dyn OffsetsLog,
        now: i64,
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return Err(ErrorCode::GROUP_ID_NOT_FOUND);
        };
        let subscribed = if group.state == GroupState::Empty {
            Vec::new()
        } else if group.protocol_type.as_deref() == Some("consumer") {
            group.subscribed_topics().unwrap_or_default()
        } else {
            return Err(ErrorCode::NON_EMPTY_GROUP);
        };
        let mut results = Vec::new();
        let mut records = Vec::new();
        for (t, p) in partitions {
            if subscribed.contains(t) {
                results.push(ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC);
            } else {
                if group.offsets.contains_key(&(t.clone(), *p)) {
                    records.push(GroupRecord::offset(group_id, t, *p, None));
                }
                results.push(ErrorCode::NONE);
            }
        }
        self.write(log, group_id, &records, now)?;
        for (tp, code) in partitions.iter().zip(&results) {
            if code.is_ok() {
                group.offsets.remove(tp);
            }
        }
        Ok(results)
    }

    /// DeleteGroups for one group: only an empty group (or one that only stores offsets).
    pub fn delete_group(&self, group_id: &str, log: &dyn OffsetsLog, now: i64) -> ErrorCode {
        let mut groups = self.lock();
        let Some(group) = groups.get(group_id) else {
            return ErrorCode::GROUP_ID_NOT_FOUND;
        };
        if group.state != GroupState::Empty {
            return ErrorCode::NON_EMPTY_GROUP;
        }
        let mut records: Vec<GroupRecord> = group
            .offsets
            .keys()
            .map(|(t, p)| GroupRecord::offset(group_id, t, *p, None))
            .collect();
        records.push(GroupRecord::group(group_id, None));
        if let Err(code) = self.write(log, group_id, &records, now) {
            return code;
        }
        groups.remove(group_id);
        tracing::info!(group = group_id, "deleted group");
        ErrorCode::NONE
    }

    /// Removes offsets past `offsets.retention.minutes` (KIP-211: for a consumer group, once
    /// it has been empty that long; for a group that only stores offsets, from the commit),
    /// then empty groups with no offsets left. Returns how many offsets expired.
    pub fn expire_offsets(&self, log: &dyn OffsetsLog, now: i64) -> usize {
        let retention = self.config.offsets_retention_ms;
        let mut groups = self.lock();
        let mut expired_total = 0;
        let mut dead = Vec::new();
        for group in groups.values_mut() {
            if group.state != GroupState::Empty {
                continue;
            }
            let expired: Vec<(String, i32)> = group
                .offsets
                .iter()
                .filter(|(_, o)| {
                    if o.expire_timestamp >= 0 {
                        o.expire_timestamp <= now
                    } else if group.protocol_type.is_some() {
                        group.state_since.max(o.commit_timestamp) + retention <= now
                    } else {
                        o.commit_timestamp + retention <= now
                    }
                })
                .map(|(tp, _)| tp.clone())
                .collect();
            let mut records: Vec<GroupRecord> = expired
                .iter()
                .map(|(t, p)| GroupRecord::offset(&group.id, t, *p, None))
                .collect();
            let drop_group = group.offsets.len() == expired.len() && group.members.is_empty();
            if drop_group {
                records.push(GroupRecord::group(&group.id, None));
            }
            if records.is_empty() {
                continue;
            }
            if self.write(log, &group.id, &records, now).is_ok() {
                for tp in &expired {
                    group.offsets.remove(tp);
                }
                expired_total += expired.len();
                if drop_group {
                    dead.push(group.id.clone());
                }
            }
        }
        for id in dead {
            groups.remove(&id);
        }
        expired_total
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

#[cfg(test)]
mod tests;
