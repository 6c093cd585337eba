//! Group membership, the classic protocol's state machine: JoinGroup (with the
//! MEMBER_ID_REQUIRED handshake, static members, the initial rebalance delay), SyncGroup (the
//! leader's assignments, written as the group's metadata record before they are applied),
//! Heartbeat, LeaveGroup, and the timers (session expiry, rebalance and sync timeouts).
//!
//! Records go to `__consumer_offsets` without the groups lock held.

use super::*;

impl Coordinator {
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
                let leads = group.leader.as_deref() == Some(member_id);
                drop(groups);
                if leads {
                    self.complete_sync(group_id, generation, assignments, log, now);
                }
                Waiting::Later(rx)
            }
        }
    }

    /// The leader's SyncGroup: the group's metadata record with the new assignments is
    /// written first, without the groups lock; only once it is in the log are the assignments
    /// applied and the members answered (unless a newer rebalance overtook this one).
    fn complete_sync(
        &self,
        group_id: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
        log: &dyn OffsetsLog,
        now: i64,
    ) {
        let by_member: HashMap<String, Bytes> = assignments.into_iter().collect();
        let still_completing =
            |g: &Group| g.generation == generation && g.state == GroupState::CompletingRebalance;
        let record = {
            let groups = self.lock();
            match groups.get(group_id) {
                Some(g) if still_completing(g) => g.metadata_record_with(Some(&by_member), now),
                _ => return,
            }
        };
        let written = self.write(log, group_id, &[record], now);
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id).filter(|g| still_completing(g)) else {
            return;
        };
        match written {
            Ok(()) => {
                for m in group.members.values_mut() {
                    m.assignment = by_member.get(&m.id).cloned().unwrap_or_default();
                }
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
        let emptied = if removed {
            self.after_removal(group, now)
        } else {
            None
        };
        drop(groups);
        self.write_later(log, emptied.into_iter().collect(), now);
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

    /// Moves the group on after members left; an emptied group's metadata record is returned
    /// for the caller to write once it no longer holds the groups lock (as Kafka, the state
    /// changes first and a failed write is only logged).
    fn after_removal(&self, group: &mut Group, now: i64) -> Option<(String, GroupRecord)> {
        match group.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(group, now);
                self.try_complete_join(group, now);
            }
            GroupState::PreparingRebalance => self.try_complete_join(group, now),
            _ => {}
        }
        (group.state == GroupState::Empty).then(|| (group.id.clone(), group.metadata_record(now)))
    }

    /// Writes records produced under the groups lock, after it was released.
    fn write_later(&self, log: &dyn OffsetsLog, records: Vec<(String, GroupRecord)>, now: i64) {
        for (group_id, record) in records {
            let _ = self.write(log, &group_id, &[record], now);
        }
    }

    /// Timers: session expiry, rebalance and sync timeouts, lapsed pending members.
    pub fn tick(&self, log: &dyn OffsetsLog, now: i64) {
        let mut groups = self.lock();
        let mut emptied = Vec::new();
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
                emptied.extend(self.after_removal(group, now));
            }
            self.try_complete_join(group, now);
        }
        drop(groups);
        self.write_later(log, emptied, now);
    }
}
