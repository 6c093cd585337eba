//! Committed offsets: which commits a group accepts, OffsetCommit, OffsetFetch,
//! OffsetDelete, DeleteGroups and retention (`offsets.retention.minutes`). Every change is
//! written to `__consumer_offsets` first, without the groups lock, and applied once it is in
//! the log: a failed append changes nothing.

use super::*;

impl Coordinator {
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

    /// Writes committed offsets (one batch, without the groups lock) and applies them once
    /// they are in the log.
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
        self.write(log, group_id, &records, now)?;
        let mut groups = self.lock();
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
        let (results, records) = {
            let groups = self.lock();
            let Some(group) = groups.get(group_id) else {
                return Err(ErrorCode::GROUP_ID_NOT_FOUND);
            };
            Self::plan_offset_deletion(group, partitions)?
        };
        self.write(log, group_id, &records, now)?;
        let mut groups = self.lock();
        if let Some(group) = groups.get_mut(group_id) {
            for (tp, code) in partitions.iter().zip(&results) {
                if code.is_ok() {
                    group.offsets.remove(tp);
                }
            }
        }
        Ok(results)
    }

    /// Which partitions' offsets may go (not those of topics an active consumer group
    /// subscribes to), and the tombstones that delete them.
    fn plan_offset_deletion(
        group: &Group,
        partitions: &[(String, i32)],
    ) -> Result<(Vec<ErrorCode>, Vec<GroupRecord>), ErrorCode> {
        let group_id = group.id.as_str();
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
        Ok((results, records))
    }

    /// DeleteGroups for one group: only an empty group (or one that only stores offsets).
    pub fn delete_group(&self, group_id: &str, log: &dyn OffsetsLog, now: i64) -> ErrorCode {
        let records = {
            let groups = self.lock();
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
            records
        };
        if let Err(code) = self.write(log, group_id, &records, now) {
            return code;
        }
        // A member that joined meanwhile keeps the group (its next rebalance writes the
        // group again); otherwise it is gone, as the log now says.
        let mut groups = self.lock();
        if groups
            .get(group_id)
            .is_some_and(|g| g.state == GroupState::Empty)
        {
            groups.remove(group_id);
        }
        tracing::info!(group = group_id, "deleted group");
        ErrorCode::NONE
    }

    /// Removes offsets past `offsets.retention.minutes` (KIP-211: for a consumer group, once
    /// it has been empty that long; for a group that only stores offsets, from the commit),
    /// then empty groups with no offsets left. Returns how many offsets expired.
    pub fn expire_offsets(&self, log: &dyn OffsetsLog, now: i64) -> usize {
        let retention = self.config.offsets_retention_ms;
        // Found under the lock...
        let plans: Vec<ExpiryPlan> = self
            .lock()
            .values()
            .filter(|g| g.state == GroupState::Empty)
            .filter_map(|group| {
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
                let drop_group = group.offsets.len() == expired.len() && group.members.is_empty();
                (!expired.is_empty() || drop_group).then(|| ExpiryPlan {
                    group_id: group.id.clone(),
                    expired,
                    drop_group,
                })
            })
            .collect();
        // ...written without it, and applied once in the log.
        let mut expired_total = 0;
        for ExpiryPlan {
            group_id,
            expired,
            drop_group,
        } in plans
        {
            let mut records: Vec<GroupRecord> = expired
                .iter()
                .map(|(t, p)| GroupRecord::offset(&group_id, t, *p, None))
                .collect();
            if drop_group {
                records.push(GroupRecord::group(&group_id, None));
            }
            if self.write(log, &group_id, &records, now).is_err() {
                continue;
            }
            let mut groups = self.lock();
            let Some(group) = groups.get_mut(&group_id) else {
                continue;
            };
            for tp in &expired {
                group.offsets.remove(tp);
            }
            expired_total += expired.len();
            if drop_group && group.state == GroupState::Empty && group.offsets.is_empty() {
                groups.remove(&group_id);
            }
        }
        expired_total
    }
}

/// What `expire_offsets` found for one group: the offsets that expired, and whether the group
/// goes too.
struct ExpiryPlan {
    group_id: String,
    expired: Vec<(String, i32)>,
    drop_group: bool,
}
