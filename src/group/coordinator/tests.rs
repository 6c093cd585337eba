//! The state machine with controlled time: no clock, no network.

use super::*;
use crate::protocol::record_batch::decode_records;

#[derive(Default)]
struct MemLog {
    batches: Mutex<Vec<(i32, Bytes)>>,
    fail: std::sync::atomic::AtomicBool,
}

impl OffsetsLog for MemLog {
    fn append(&self, partition: i32, batch: Bytes) -> Result<(), ErrorCode> {
        if self.fail.load(Ordering::Relaxed) {
            return Err(ErrorCode::KAFKA_STORAGE_ERROR);
        }
        self.batches.lock().unwrap().push((partition, batch));
        Ok(())
    }
}

impl MemLog {
    fn records(&self) -> Vec<GroupRecord> {
        let mut out = Vec::new();
        for (_, b) in self.batches.lock().unwrap().iter() {
            for r in decode_records(b, 1 << 20).unwrap() {
                if let Some(rec) = GroupRecord::decode(&r.key.unwrap(), r.value.as_ref()).unwrap() {
                    out.push(rec);
                }
            }
        }
        out
    }
}

const SESSION: i32 = 10_000;
const REBALANCE: i32 = 20_000;

fn req(member: &str, instance: Option<&str>, meta: &'static [u8]) -> JoinRequest {
    JoinRequest {
        group_id: "g".into(),
        member_id: member.into(),
        group_instance_id: instance.map(String::from),
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: SESSION,
        rebalance_timeout_ms: REBALANCE,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(meta))],
        require_known_member_id: true,
    }
}

fn now_or_later<T>(w: Waiting<T>) -> Result<T, oneshot::Receiver<T>> {
    match w {
        Waiting::Ready(t) => Ok(t),
        Waiting::Later(mut rx) => rx.try_recv().map_err(|_| rx),
    }
}

fn ready<T: std::fmt::Debug>(w: Waiting<T>) -> T {
    now_or_later(w).expect("an answer now")
}

/// Joins a new dynamic member through the MEMBER_ID_REQUIRED round; returns its id and the
/// pending join.
fn join_new(
    c: &Coordinator,
    now: i64,
) -> (
    String,
    Result<JoinGroupResponse, oneshot::Receiver<JoinGroupResponse>>,
) {
    let first = ready(c.join(req("", None, b"m"), now));
    assert_eq!(ErrorCode(first.error_code), ErrorCode::MEMBER_ID_REQUIRED);
    assert!(first.member_id.starts_with("c-"));
    let id = first.member_id.clone();
    (id.clone(), now_or_later(c.join(req(&id, None, b"m"), now)))
}

fn sync_leader(
    c: &Coordinator,
    log: &MemLog,
    gen: i32,
    leader: &str,
    members: &[&str],
    now: i64,
) -> SyncGroupResponse {
    let assignments = members
        .iter()
        .map(|m| (m.to_string(), Bytes::from(format!("a-{m}"))))
        .collect();
    ready(c.sync("g", gen, leader, None, None, None, assignments, log, now))
}

#[test]
fn one_member_joins_syncs_and_heartbeats() {
    let c = Coordinator::new(GroupConfig::default());
    let log = MemLog::default();
    let (id, joined) = join_new(&c, 0);
    let joined = joined.expect("a lone member completes the join at once");
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.generation_id, 1);
    assert_eq!(joined.leader, id);
    assert_eq!(joined.protocol_name.as_deref(), Some("range"));
    assert_eq!(joined.members.len(), 1);
    assert_eq!(
        c.state_of("g"),
        Some((GroupState::CompletingRebalance, 1, 1))
    );
    let synced = sync_leader(&c, &log, 1, &id, &[&id], 1);
    assert_eq!(synced.error_code, 0);
    assert_eq!(synced.assignment, Bytes::from(format!("a-{id}")));
    assert_eq!(c.state_of("g").unwrap().0, GroupState::Stable);
    assert_eq!(c.heartbeat("g", 1, &id, None, 2), ErrorCode::NONE);
    // The group metadata went to __consumer_offsets, in the group's partition.
    let records = log.records();
    assert!(
        matches!(&records[0], GroupRecord::Group { value: Some(v), .. } if v.generation == 1 && v.members.len() == 1)
    );
    assert_eq!(log.batches.lock().unwrap()[0].0, partition_for("g", 50));
}

#[test]
fn a_second_member_triggers_a_rebalance_seen_through_heartbeats() {
    let c = Coordinator::new(GroupConfig::default());
    let log = MemLog::default();
    let (a, _) = join_new(&c, 0);
    sync_leader(&c, &log, 1, &a, &[&a], 0);
    let (b, b_join) = join_new(&c, 100);
    let mut b_join = b_join.expect_err("b waits for a to rejoin");
    assert_eq!(
        c.heartbeat("g", 1, &a, None, 200),
        ErrorCode::REBALANCE_IN_PROGRESS
    );
    let a_join = ready(c.join(req(&a, None, b"m"), 300));
    let b_join = b_join.try_recv().expect("b's join completes with a's");
    assert_eq!(a_join.generation_id, 2);
    assert_eq!(b_join.generation_id, 2);
    assert_eq!(a_join.leader, a, "the old leader stays leader");
    assert_eq!(a_join.members.len(), 2);
    assert!(b_join.members.is_empty(), "followers get no member list");
    // The follower's sync waits for the leader's.
    let mut b_sync =
        now_or_later(c.sync("g", 2, &b, None, None, None, vec![], &log, 400)).unwrap_err();
    sync_leader(&c, &log, 2, &a, &[&a, &b], 500);
    assert_eq!(
        b_sync.try_recv().unwrap().assignment,
        Bytes::from(format!("a-{b}"))
    );
    // A stale generation is fenced.
    assert_eq!(
        c.heartbeat("g", 1, &a, None, 600),
        ErrorCode::ILLEGAL_GENERATION
    );
    assert_eq!(
        c.check_commit("g", 1, &a, None, 600),
        ErrorCode::ILLEGAL_GENERATION
    );
    assert_eq!(
        c.heartbeat("g", 2, "nobody", None, 600),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        c.check_commit("g", 2, "nobody", None, 600),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        ready(c.join(req("nobody", None, b"m"), 600)).error_code,
        ErrorCode::UNKNOWN_MEMBER_ID.0
    );
    assert_eq!(
        ready(c.sync("g", 1, &a, None, None, None, vec![], &log, 600)).error_code,
        ErrorCode::ILLEGAL_GENERATION.0
    );
}

#[test]
fn session_expiry_removes_a_member_and_rebalances() {
    let c = Coordinator::new(GroupConfig::default());
    let log = MemLog::default();
    let (a, _) = join_new(&c, 0);
    sync_leader(&c, &log, 1, &a, &[&a], 0);
    let (b, b_join) = join_new(&c, 0);
    ready(c.join(req(&a, None, b"m"), 0));
    b_join.unwrap_err().try_recv().unwrap();
    sync_leader(&c, &log, 2, &a, &[&a, &b], 0);
    // a keeps heartbeating, b goes silent.
    for t in (3000..=9000).step_by(3000) {
        assert_eq!(c.heartbeat("g", 2, &a, None, t), ErrorCode::NONE);
        c.tick(&log, t);
    }
    assert_eq!(c.state_of("g").unwrap(), (GroupState::Stable, 2, 2));
    assert_eq!(c.heartbeat("g", 2, &a, None, 10_000), ErrorCode::NONE);
    c.tick(&log, i64::from(SESSION)); // b's session (from its last contact at 0) is over
    assert_eq!(
        c.state_of("g").unwrap(),
        (GroupState::PreparingRebalance, 2, 1)
    );
    assert_eq!(
        c.heartbeat("g", 2, &b, None, 10_001),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        c.heartbeat("g", 2, &a, None, 10_001),
        ErrorCode::REBALANCE_IN_PROGRESS
    );
    let j = ready(c.join(req(&a, None, b"m"), 10_002));
    assert_eq!((j.generation_id, j.members.len()), (3, 1));
}

#[test]
fn rebalance_timeout_drops_members_that_do_not_rejoin() {
    let c = Coordinator::new(GroupConfig::default());
    let log = MemLog::default();
    let (a, _) = join_new(&c, 0);
    sync_leader(&c, &log, 1, &a, &[&a], 0);
    let (b, b_join) = join_new(&c, 0);
    ready(c.join(req(&a, None, b"m"), 0));
    b_join.unwrap_err().try_recv().unwrap();
    sync_leader(&c, &log, 2, &a, &[&a, &b], 0);
    // c joins; b heartbeats (so its session lives) but never rejoins.
    let (_, c_join) = join_new(&c, 1000);
    let mut c_join = c_join.unwrap_err();
    let _a_join = c.join(req(&a, None, b"m"), 1000); // answered with c's
    for t in (1000..21_000).step_by(3000) {
        assert_eq!(
            c.heartbeat("g", 2, &b, None, t),
            ErrorCode::REBALANCE_IN_PROGRESS
        );
        c.tick(&log, t);
        assert!(c_join.try_recv().is_err(), "still waiting for b at {t}");
    }
    c.tick(&log, 1000 + i64::from(REBALANCE));
    let j = c_join
        .try_recv()
        .expect("the rebalance timeout completes the join");
    assert_eq!(j.generation_id, 3);
    assert_eq!(
        c.state_of("g").unwrap(),
        (GroupState::CompletingRebalance, 3, 2)
    );
    assert_eq!(
        c.heartbeat("g", 3, &b, None, 21_001),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
}

#[test]
fn static_member_rejoins_without_a_rebalance_and_fences_its_old_id() {
    let c = Coordinator::new(GroupConfig::default());
    let log = MemLog::default();
    let first = ready(c.join(req("", Some("i-1"), b"m"), 0));
    assert_eq!(
        first.error_code, 0,
        "static members skip MEMBER_ID_REQUIRED"
    );
    let old = first.member_id.clone();
    sync_leader(&c, &log, 1, &old, &[&old], 0);
    // The process restarts: same instance id, no member id, same metadata.
    let again = ready(c.join(req("", Some("i-1"), b"m"), 5000));
    assert_eq!(again.error_code, 0);
    assert_ne!(again.member_id, old);
    assert_eq!(again.generation_id, 1, "no new generation");
    assert!(
        again.skip_assignment,
        "the returning leader keeps the assignment"
    );
    assert_eq!(c.state_of("g").unwrap(), (GroupState::Stable, 1, 1));
    let synced = ready(c.sync(
        "g",
        1,
        &again.member_id,
        Some("i-1"),
        None,
        None,
        vec![],
        &log,
        5001,
    ));
    assert_eq!(synced.assignment, Bytes::from(format!("a-{old}")));
    assert_eq!(
        c.heartbeat("g", 1, &old, Some("i-1"), 5002),
        ErrorCode::FENCED_INSTANCE_ID
    );
    assert_eq!(
        c.check_commit("g", 1, &old, Some("i-1"), 5002),
        ErrorCode::FENCED_INSTANCE_ID
    );
    // New metadata for the same protocol: still no rebalance (as Kafka, only a change of the
    // protocol the group would select forces one).
    let new_meta = ready(c.join(req("", Some("i-1"), b"other"), 6000));
    assert_eq!(new_meta.generation_id, 1);
    let mut other = req("", Some("i-1"), b"m");
    other.protocols = vec![
        ("roundrobin".into(), Bytes::from_static(b"m")),
        ("range".into(), Bytes::from_static(b"m")),
    ];
    let changed = ready(c.join(other, 7000));
    assert_eq!(
        changed.generation_id, 2,
        "a new selected protocol rebalances"
    );
}

#[test]
fn leave_group_batched_and_session_bounds() {
    let c = Coordinator::new(GroupConfig::default());
    let log = MemLog::default();
    let (a, _) = join_new(&c, 0);
    sync_leader(&c, &log, 1, &a, &[&a], 0);
    let results = c
        .leave("g", &[(a.clone(), None), ("x".into(), None)], &log, 10)
        .unwrap();
    assert_eq!(results, vec![ErrorCode::NONE, ErrorCode::UNKNOWN_MEMBER_ID]);
    assert_eq!(c.state_of("g").unwrap(), (GroupState::Empty, 2, 0));
    assert!(
        matches!(log.records().last(), Some(GroupRecord::Group { value: Some(v), .. }) if v.members.is_empty())
    );
    let mut short = req("", None, b"m");
    short.session_timeout_ms = 100;
    assert_eq!(
        ready(c.join(short, 0)).error_code,
        ErrorCode::INVALID_SESSION_TIMEOUT.0
    );
    let mut other = req("", None, b"m");
    other.protocol_type = String::new();
    assert_eq!(
        ready(c.join(other, 0)).error_code,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0
    );
}

#[test]
fn group_max_size_is_enforced() {
    let c = Coordinator::new(GroupConfig {
        max_size: 1,
        ..Default::default()
    });
    let (_a, joined) = join_new(&c, 0);
    joined.unwrap();
    assert_eq!(
        ready(c.join(req("", None, b"m"), 1)).error_code,
        ErrorCode::GROUP_MAX_SIZE_REACHED.0
    );
}

#[test]
fn initial_rebalance_delay_waits_for_more_members() {
    let c = Coordinator::new(GroupConfig {
        initial_rebalance_delay_ms: 3000,
        ..Default::default()
    });
    let log = MemLog::default();
    let (_a, a_join) = join_new(&c, 0);
    let mut a_join = a_join.unwrap_err();
    let (_b, b_join) = join_new(&c, 1000);
    let mut b_join = b_join.unwrap_err();
    c.tick(&log, 2999);
    assert!(a_join.try_recv().is_err());
    c.tick(&log, 3000);
    assert_eq!(a_join.try_recv().unwrap().generation_id, 1);
    assert_eq!(b_join.try_recv().unwrap().generation_id, 1);
}

#[test]
fn offsets_commit_fetch_reload_delete_and_expire() {
    let c = Coordinator::new(GroupConfig {
        offsets_retention_ms: 1000,
        ..Default::default()
    });
    let log = MemLog::default();
    let off = |o: i64, ts: i64| CommittedOffset {
        offset: o,
        leader_epoch: 0,
        metadata: String::new(),
        commit_timestamp: ts,
        expire_timestamp: -1,
    };
    assert_eq!(c.check_commit("solo", -1, "", None, 0), ErrorCode::NONE);
    c.commit(
        "solo",
        vec![(("t".into(), 0), off(5, 0)), (("t".into(), 1), off(7, 0))],
        &log,
        0,
    )
    .unwrap();
    assert_eq!(c.fetch_offsets("solo").len(), 2);
    // A new coordinator reading the same records sees the same offsets.
    let reloaded = Coordinator::new(GroupConfig::default());
    for r in log.records() {
        reloaded.load(r, 10);
    }
    assert_eq!(reloaded.fetch_offsets("solo"), c.fetch_offsets("solo"));
    assert_eq!(
        c.delete_offsets("solo", &[("t".into(), 1)], &log, 20)
            .unwrap(),
        vec![ErrorCode::NONE]
    );
    assert_eq!(c.fetch_offsets("solo").len(), 1);
    // A failed write changes nothing.
    log.fail.store(true, Ordering::Relaxed);
    assert!(c
        .commit("solo", vec![(("t".into(), 0), off(9, 30))], &log, 30)
        .is_err());
    assert_eq!(c.fetch_offsets("solo")[&("t".to_string(), 0)].offset, 5);
    log.fail.store(false, Ordering::Relaxed);
    assert_eq!(c.expire_offsets(&log, 999), 0);
    assert_eq!(c.expire_offsets(&log, 1000), 1);
    assert!(
        c.list().is_empty(),
        "an empty group without offsets is gone"
    );
    let again = Coordinator::new(GroupConfig::default());
    for r in log.records() {
        again.load(r, 2000);
    }
    assert!(again.list().is_empty());
}

#[test]
fn delete_group_refuses_active_groups() {
    let c = Coordinator::new(GroupConfig::default());
    let log = MemLog::default();
    let (a, _) = join_new(&c, 0);
    sync_leader(&c, &log, 1, &a, &[&a], 0);
    assert_eq!(c.delete_group("g", &log, 1), ErrorCode::NON_EMPTY_GROUP);
    assert_eq!(
        c.delete_group("nope", &log, 1),
        ErrorCode::GROUP_ID_NOT_FOUND
    );
    c.leave("g", &[(a, None)], &log, 2).unwrap();
    assert_eq!(c.delete_group("g", &log, 3), ErrorCode::NONE);
    assert!(c.describe("g").is_none());
}

/// A log whose appends look at the coordinator: if the coordinator held its groups lock
/// across an append, the look would deadlock (std's mutex is not reentrant), and the test,
/// run on its own thread, would time out.
struct PeekingLog<'a> {
    coordinator: &'a Coordinator,
    inner: MemLog,
    /// What the coordinator reported during each append: (committed offsets of "g", state).
    seen: Mutex<Vec<(usize, Option<GroupState>)>>,
}

impl OffsetsLog for PeekingLog<'_> {
    fn append(&self, partition: i32, batch: Bytes) -> Result<(), ErrorCode> {
        let offsets = self.coordinator.fetch_offsets("g").len();
        let state = self.coordinator.state_of("g").map(|s| s.0);
        self.seen.lock().unwrap().push((offsets, state));
        self.inner.append(partition, batch)
    }
}

#[test]
fn records_are_written_first_and_applied_after_without_the_groups_lock() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let c = Coordinator::new(GroupConfig::default());
        let log = PeekingLog {
            coordinator: &c,
            inner: MemLog::default(),
            seen: Mutex::new(Vec::new()),
        };
        let off = CommittedOffset {
            offset: 5,
            leader_epoch: 0,
            metadata: String::new(),
            commit_timestamp: 0,
            expire_timestamp: -1,
        };
        c.commit("g", vec![(("t".into(), 0), off)], &log, 0)
            .unwrap();
        // During the append the offset was not applied yet; after it, it is.
        assert_eq!(log.seen.lock().unwrap().last().unwrap().0, 0);
        assert_eq!(c.fetch_offsets("g").len(), 1);

        let (id, _) = join_new(&c, 1);
        let assignments = vec![(id.clone(), Bytes::from_static(b"x"))];
        let synced = ready(c.sync("g", 1, &id, None, None, None, assignments, &log, 2));
        assert_eq!(synced.error_code, 0);
        // The group became Stable only once its metadata record was in the log.
        assert_eq!(
            log.seen.lock().unwrap().last().unwrap().1,
            Some(GroupState::CompletingRebalance)
        );
        assert_eq!(c.state_of("g").unwrap().0, GroupState::Stable);
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the coordinator appended while holding its groups lock (deadlock)");
}

#[test]
fn a_failed_append_leaves_the_coordinators_state_unchanged() {
    let c = Coordinator::new(GroupConfig::default());
    let log = MemLog::default();
    let off = |o: i64| CommittedOffset {
        offset: o,
        leader_epoch: 0,
        metadata: String::new(),
        commit_timestamp: 0,
        expire_timestamp: -1,
    };
    c.commit(
        "g",
        vec![(("t".into(), 0), off(5)), (("t".into(), 1), off(6))],
        &log,
        0,
    )
    .unwrap();
    let before = c.fetch_offsets("g");
    log.fail.store(true, Ordering::Relaxed);
    assert!(c
        .commit("g", vec![(("t".into(), 0), off(9))], &log, 1)
        .is_err());
    assert!(c.delete_offsets("g", &[("t".into(), 1)], &log, 2).is_err());
    assert_ne!(c.delete_group("g", &log, 3), ErrorCode::NONE);
    assert_eq!(c.expire_offsets(&log, i64::MAX / 2), 0);
    assert_eq!(c.fetch_offsets("g"), before, "offsets unchanged");
    assert!(c.describe("g").is_some(), "the group is still there");

    // A SyncGroup whose metadata record cannot be written applies no assignment.
    log.fail.store(false, Ordering::Relaxed);
    let (id, _) = join_new(&c, 10);
    log.fail.store(true, Ordering::Relaxed);
    let assignments = vec![(id.clone(), Bytes::from_static(b"x"))];
    let synced = ready(c.sync("g", 1, &id, None, None, None, assignments, &log, 11));
    assert_ne!(synced.error_code, 0);
    assert_ne!(c.state_of("g").unwrap().0, GroupState::Stable);
    let described = c.describe("g").unwrap();
    assert!(described
        .members
        .iter()
        .all(|m| m.member_assignment.is_empty()));
}

#[test]
fn a_partition_counts_as_loaded_from_its_replay_until_it_is_unloaded() {
    let c = Coordinator::new(GroupConfig::default());
    assert!(!c.is_loaded(3), "nothing is loaded at first");
    c.mark_loaded(3);
    assert!(c.is_loaded(3));
    assert!(!c.is_loaded(4), "only the replayed partition");
    c.unload_partition(3);
    assert!(
        !c.is_loaded(3),
        "leadership lost: loaded again when regained"
    );
}
