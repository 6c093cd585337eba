//! Partition assignors of the consumer protocol, run by the group leader: `range`,
//! `roundrobin`, `sticky` (eager) and `cooperative-sticky` (KIP-429), with the embedded
//! consumer-protocol encoding of subscriptions and assignments (`i16` version + struct), so
//! Java, librdkafka and kafka-python members can share a group with kfk members.
//!
//! Members are ordered as Java orders them (`MemberInfo`: group instance id when set, then
//! member id), so range and round-robin give the same answer as Java for the same group.

use crate::protocol::codec::{Decoder, Encoder, Message};
use crate::protocol::messages::consumer_protocol_assignment::{
    ConsumerProtocolAssignment, TopicPartition as AssignedTopic,
};
use crate::protocol::messages::consumer_protocol_subscription::{
    ConsumerProtocolSubscription, TopicPartition as OwnedTopic,
};
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub type TopicPartition = (String, i32);

/// The assignors kfk knows, by their protocol names.
pub const ASSIGNORS: &[&str] = &["range", "roundrobin", "sticky", "cooperative-sticky"];

/// Whether the assignor follows the cooperative protocol (members keep partitions across a
/// rebalance and give up only those that move).
pub fn is_cooperative(name: &str) -> bool {
    name == "cooperative-sticky"
}

/// One member's subscription as the leader sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subscription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub topics: Vec<String>,
    pub owned: Vec<TopicPartition>,
    pub generation: i32,
    pub user_data: Option<Bytes>,
}

/// The subscription version kfk writes (v3 carries owned partitions, generation, rack).
const SUBSCRIPTION_VERSION: i16 = 3;
/// Assignments are written at v0, which every client reads (later versions add nothing
/// kfk uses).
const ASSIGNMENT_VERSION: i16 = 0;

fn group_by_topic(tps: &[TopicPartition]) -> Vec<(String, Vec<i32>)> {
    let mut by: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in tps {
        by.entry(t.as_str()).or_default().push(*p);
    }
    by.into_iter()
        .map(|(t, mut ps)| {
            ps.sort_unstable();
            (t.to_string(), ps)
        })
        .collect()
}

/// Encodes our subscription metadata for JoinGroup.
pub fn encode_subscription(
    topics: &[String],
    owned: &[TopicPartition],
    generation: i32,
    user_data: Option<Bytes>,
) -> Bytes {
    let sub = ConsumerProtocolSubscription {
        topics: topics.to_vec(),
        user_data,
        owned_partitions: group_by_topic(owned)
            .into_iter()
            .map(|(topic, partitions)| OwnedTopic { topic, partitions })
            .collect(),
        generation_id: generation,
        rack_id: None,
    };
    let mut e = Encoder::with_capacity(2 + sub.encoded_len(SUBSCRIPTION_VERSION));
    e.put_i16(SUBSCRIPTION_VERSION);
    // Every field is valid at v3: encoding cannot fail.
    let _ = sub.encode(&mut e, SUBSCRIPTION_VERSION);
    e.into_bytes()
}

/// Decodes a member's subscription metadata (any version; a newer one is read as the newest
/// we know, as Java does).
pub fn decode_subscription(
    member_id: &str,
    instance_id: Option<&str>,
    metadata: &Bytes,
) -> Result<Subscription, String> {
    let mut d = Decoder::new(metadata);
    let version = d.i16().map_err(|e| e.to_string())?;
    if version < 0 {
        return Err(format!("subscription version {version}"));
    }
    let sub = ConsumerProtocolSubscription::decode(&mut d, version.min(3))
        .map_err(|e| format!("member {member_id}: bad subscription: {e}"))?;
    Ok(Subscription {
        member_id: member_id.to_string(),
        instance_id: instance_id.map(str::to_string),
        topics: sub.topics,
        owned: sub
            .owned_partitions
            .into_iter()
            .flat_map(|t| {
                let topic = t.topic;
                t.partitions.into_iter().map(move |p| (topic.clone(), p))
            })
            .collect(),
        generation: sub.generation_id,
        user_data: sub.user_data,
    })
}

pub fn encode_assignment(partitions: &[TopicPartition], user_data: Option<Bytes>) -> Bytes {
    let a = ConsumerProtocolAssignment {
        assigned_partitions: group_by_topic(partitions)
            .into_iter()
            .map(|(topic, partitions)| AssignedTopic { topic, partitions })
            .collect(),
        user_data,
    };
    let mut e = Encoder::with_capacity(2 + a.encoded_len(ASSIGNMENT_VERSION));
    e.put_i16(ASSIGNMENT_VERSION);
    let _ = a.encode(&mut e, ASSIGNMENT_VERSION);
    e.into_bytes()
}

/// Decodes an assignment from SyncGroup (empty bytes: nothing assigned).
pub fn decode_assignment(bytes: &Bytes) -> Result<Vec<TopicPartition>, String> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut d = Decoder::new(bytes);
    let version = d.i16().map_err(|e| e.to_string())?;
    if version < 0 {
        return Err(format!("assignment version {version}"));
    }
    let a = ConsumerProtocolAssignment::decode(&mut d, version.min(3))
        .map_err(|e| format!("bad assignment: {e}"))?;
    Ok(a.assigned_partitions
        .into_iter()
        .flat_map(|t| {
            let topic = t.topic;
            t.partitions.into_iter().map(move |p| (topic.clone(), p))
        })
        .collect())
}

/// Java's `StickyAssignor` user data (v1: the member's partitions and generation), which
/// the eager sticky assignor reads because members revoke everything before joining.
pub fn encode_sticky_user_data(owned: &[TopicPartition], generation: i32) -> Bytes {
    let mut e = Encoder::with_capacity(64);
    let topics = group_by_topic(owned);
    e.put_i32(topics.len() as i32);
    for (t, ps) in &topics {
        e.put_string(Some(t), false);
        e.put_i32(ps.len() as i32);
        for p in ps {
            e.put_i32(*p);
        }
    }
    e.put_i32(generation);
    e.into_bytes()
}

pub fn decode_sticky_user_data(data: &Bytes) -> Option<(Vec<TopicPartition>, i32)> {
    let mut d = Decoder::new(data);
    let n = usize::try_from(d.i32().ok()?).ok()?;
    let mut out = Vec::new();
    for _ in 0..n.min(data.len()) {
        let topic = d.string(false).ok()?;
        let m = usize::try_from(d.i32().ok()?).ok()?;
        for _ in 0..m.min(data.len()) {
            out.push((topic.clone(), d.i32().ok()?));
        }
    }
    let generation = d.i32().unwrap_or(-1);
    Some((out, generation))
}

/// Java's member order: by group instance id when both have one, then by member id.
fn member_order(a: &Subscription, b: &Subscription) -> std::cmp::Ordering {
    match (&a.instance_id, &b.instance_id) {
        (Some(x), Some(y)) => x.cmp(y).then(a.member_id.cmp(&b.member_id)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    }
}

/// Runs assignor `name`. `partitions` maps each topic to its partition count (topics the
/// leader could not find are left out and get no assignment). Every member gets an entry.
pub fn assign(
    name: &str,
    members: &[Subscription],
    partitions: &HashMap<String, i32>,
) -> Result<BTreeMap<String, Vec<TopicPartition>>, String> {
    let mut sorted: Vec<&Subscription> = members.iter().collect();
    sorted.sort_by(|a, b| member_order(a, b));
    let mut out: BTreeMap<String, Vec<TopicPartition>> = members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect();
    match name {
        "range" => range(&sorted, partitions, &mut out),
        "roundrobin" => round_robin(&sorted, partitions, &mut out),
        "sticky" => {
            // Eager: owned partitions travel in the user data.
            let with_owned: Vec<Subscription> = sorted
                .iter()
                .map(|m| {
                    let mut m = (*m).clone();
                    if let Some((owned, generation)) =
                        m.user_data.as_ref().and_then(decode_sticky_user_data)
                    {
                        m.owned = owned;
                        m.generation = generation;
                    }
                    m
                })
                .collect();
            sticky(&with_owned, partitions, &mut out);
        }
        "cooperative-sticky" => {
            let owned: Vec<Subscription> = sorted.iter().map(|m| (*m).clone()).collect();
            sticky(&owned, partitions, &mut out);
            // KIP-429: a partition changing owner is first revoked by its old owner (which
            // then rejoins), and only assigned in the next rebalance.
            let previous: HashMap<&TopicPartition, &str> = owned
                .iter()
                .flat_map(|m| m.owned.iter().map(move |tp| (tp, m.member_id.as_str())))
                .collect();
            for (member, tps) in out.iter_mut() {
                tps.retain(|tp| previous.get(tp).is_none_or(|owner| owner == member));
            }
        }
        other => return Err(format!("unknown partition assignor {other:?}")),
    }
    for tps in out.values_mut() {
        tps.sort();
    }
    Ok(out)
}

fn topics_of(members: &[&Subscription], partitions: &HashMap<String, i32>) -> Vec<String> {
    let set: BTreeSet<&String> = members
        .iter()
        .flat_map(|m| m.topics.iter())
        .filter(|t| partitions.contains_key(*t))
        .collect();
    set.into_iter().cloned().collect()
}

fn range(
    members: &[&Subscription],
    partitions: &HashMap<String, i32>,
    out: &mut BTreeMap<String, Vec<TopicPartition>>,
) {
    for topic in topics_of(members, partitions) {
        let consumers: Vec<&&Subscription> = members
            .iter()
            .filter(|m| m.topics.contains(&topic))
            .collect();
        let n = partitions[&topic].max(0) as usize;
        let (each, extra) = (n / consumers.len(), n % consumers.len());
        for (i, m) in consumers.iter().enumerate() {
            let start = each * i + i.min(extra);
            let len = each + usize::from(i < extra);
            let list = out.entry(m.member_id.clone()).or_default();
            list.extend((start..start + len).map(|p| (topic.clone(), p as i32)));
        }
    }
}

fn round_robin(
    members: &[&Subscription],
    partitions: &HashMap<String, i32>,
    out: &mut BTreeMap<String, Vec<TopicPartition>>,
) {
    if members.is_empty() {
        return;
    }
    let mut next = 0usize;
    for topic in topics_of(members, partitions) {
        for p in 0..partitions[&topic] {
            // The next member in the circle that subscribes to the topic.
            for _ in 0..members.len() {
                let m = members[next % members.len()];
                next += 1;
                if m.topics.contains(&topic) {
                    out.entry(m.member_id.clone())
                        .or_default()
                        .push((topic.clone(), p));
                    break;
                }
            }
        }
    }
}

/// A balanced assignment that keeps as many owned partitions in place as it can: owned
/// partitions stay (a partition claimed by two members goes to the higher generation)
/// unless that would overfill a member, free partitions go to the least loaded eligible
/// member, then partitions move from the most to the least loaded until counts differ by at
/// most one wherever subscriptions allow.
fn sticky(
    members: &[Subscription],
    partitions: &HashMap<String, i32>,
    out: &mut BTreeMap<String, Vec<TopicPartition>>,
) {
    if members.is_empty() {
        return;
    }
    let all: Vec<TopicPartition> = {
        let refs: Vec<&Subscription> = members.iter().collect();
        topics_of(&refs, partitions)
            .into_iter()
            .flat_map(|t| (0..partitions[&t]).map(move |p| (t.clone(), p)))
            .collect()
    };
    let subscribed = |m: &Subscription, tp: &TopicPartition| m.topics.contains(&tp.0);
    // Owner claims, highest generation first.
    let mut owner: HashMap<TopicPartition, (usize, i32)> = HashMap::new();
    for (i, m) in members.iter().enumerate() {
        for tp in &m.owned {
            if !subscribed(m, tp) || partitions.get(&tp.0).is_none_or(|n| tp.1 >= *n) {
                continue;
            }
            match owner.get(tp) {
                Some((_, g)) if *g >= m.generation => {}
                _ => {
                    owner.insert(tp.clone(), (i, m.generation));
                }
            }
        }
    }
    let eligible: Vec<usize> = (0..members.len()).collect();
    let quota = all.len().div_ceil(members.len().max(1));
    let mut load: Vec<Vec<TopicPartition>> = vec![Vec::new(); members.len()];
    let mut free: Vec<TopicPartition> = Vec::new();
    for tp in &all {
        match owner.get(tp) {
            Some((i, _)) if load[*i].len() < quota => load[*i].push(tp.clone()),
            _ => free.push(tp.clone()),
        }
    }
    for tp in free {
        if let Some(&i) = eligible
            .iter()
            .filter(|&&i| subscribed(&members[i], &tp))
            .min_by_key(|&&i| (load[i].len(), i))
        {
            load[i].push(tp);
        }
    }
    // Balance: move from the most loaded to a less loaded eligible member.
    loop {
        let mut moved = false;
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(load[i].len()));
        'outer: for &from in &order {
            for k in (0..load[from].len()).rev() {
                let tp = load[from][k].clone();
                if let Some(to) = (0..members.len())
                    .filter(|&j| j != from && subscribed(&members[j], &tp))
                    .filter(|&j| load[j].len() + 1 < load[from].len())
                    .min_by_key(|&j| (load[j].len(), j))
                {
                    load[from].remove(k);
                    load[to].push(tp);
                    moved = true;
                    break 'outer;
                }
            }
        }
        if !moved {
            break;
        }
    }
    for (i, tps) in load.into_iter().enumerate() {
        out.entry(members[i].member_id.clone())
            .or_default()
            .extend(tps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[&str]) -> Subscription {
        Subscription {
            member_id: id.into(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            generation: -1,
            ..Default::default()
        }
    }

    fn counts(a: &BTreeMap<String, Vec<TopicPartition>>) -> Vec<usize> {
        a.values().map(Vec::len).collect()
    }

    #[test]
    fn range_matches_javas_split() {
        // Java's RangeAssignor: 7 partitions over 3 consumers = 3, 2, 2 in member order.
        let members = vec![
            member("c", &["t"]),
            member("a", &["t"]),
            member("b", &["t"]),
        ];
        let parts = HashMap::from([("t".to_string(), 7)]);
        let a = assign("range", &members, &parts).unwrap();
        assert_eq!(
            a["a"],
            vec![("t".into(), 0), ("t".into(), 1), ("t".into(), 2)]
        );
        assert_eq!(a["b"], vec![("t".into(), 3), ("t".into(), 4)]);
        assert_eq!(a["c"], vec![("t".into(), 5), ("t".into(), 6)]);
    }

    #[test]
    fn roundrobin_cycles_over_members_subscribed_to_each_topic() {
        let members = vec![member("a", &["t", "u"]), member("b", &["t"])];
        let parts = HashMap::from([("t".to_string(), 3), ("u".to_string(), 2)]);
        let a = assign("roundrobin", &members, &parts).unwrap();
        assert_eq!(
            a["a"],
            vec![
                ("t".into(), 0),
                ("t".into(), 2),
                ("u".into(), 0),
                ("u".into(), 1)
            ]
        );
        assert_eq!(a["b"], vec![("t".into(), 1)]);
    }

    #[test]
    fn every_assignor_covers_each_partition_exactly_once() {
        let parts = HashMap::from([("t".to_string(), 6), ("u".to_string(), 5)]);
        for n in 1..=7 {
            let members: Vec<Subscription> = (0..n)
                .map(|i| member(&format!("m{i}"), &["t", "u"]))
                .collect();
            for name in ["range", "roundrobin", "sticky", "cooperative-sticky"] {
                let a = assign(name, &members, &parts).unwrap();
                let mut all: Vec<TopicPartition> = a.values().flatten().cloned().collect();
                all.sort();
                all.dedup();
                assert_eq!(all.len(), 11, "{name} with {n} members");
                assert_eq!(a.values().map(Vec::len).sum::<usize>(), 11, "{name}");
                if name != "range" {
                    let c = counts(&a);
                    assert!(
                        c.iter().max().unwrap() - c.iter().min().unwrap() <= 1,
                        "{name} {c:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn sticky_keeps_owned_partitions_when_a_member_joins() {
        let parts = HashMap::from([("t".to_string(), 6)]);
        let mut a = member("a", &["t"]);
        a.owned = (0..3).map(|p| ("t".to_string(), p)).collect();
        a.generation = 5;
        let mut b = member("b", &["t"]);
        b.owned = (3..6).map(|p| ("t".to_string(), p)).collect();
        b.generation = 5;
        let c = member("c", &["t"]);
        let out = assign("sticky", &[a.clone(), b.clone(), c.clone()], &parts);
        // Eager sticky reads owned partitions from the user data only.
        assert_eq!(counts(&out.unwrap()), vec![2, 2, 2]);
        let mut a2 = a.clone();
        a2.user_data = Some(encode_sticky_user_data(&a.owned, 5));
        let mut b2 = b.clone();
        b2.user_data = Some(encode_sticky_user_data(&b.owned, 5));
        let out = assign("sticky", &[a2, b2, c.clone()], &parts).unwrap();
        assert!(out["a"].iter().all(|tp| a.owned.contains(tp)));
        assert!(out["b"].iter().all(|tp| b.owned.contains(tp)));
        assert_eq!(out["c"].len(), 2);
        // Cooperative: the two partitions that move are withheld this round.
        let coop = assign("cooperative-sticky", &[a.clone(), b.clone(), c], &parts).unwrap();
        assert_eq!(counts(&coop), vec![2, 2, 0]);
    }

    #[test]
    fn subscription_and_assignment_roundtrip() {
        let owned = vec![("t".to_string(), 1), ("t".to_string(), 0)];
        let bytes = encode_subscription(&["t".into()], &owned, 7, None);
        let s = decode_subscription("m", Some("i"), &bytes).unwrap();
        assert_eq!(s.topics, vec!["t".to_string()]);
        assert_eq!(s.owned, vec![("t".to_string(), 0), ("t".to_string(), 1)]);
        assert_eq!(s.generation, 7);
        let a = encode_assignment(&owned, None);
        let mut back = decode_assignment(&a).unwrap();
        back.sort();
        assert_eq!(back, vec![("t".to_string(), 0), ("t".to_string(), 1)]);
        assert!(decode_assignment(&Bytes::new()).unwrap().is_empty());
        assert!(decode_assignment(&Bytes::from_static(&[0, 0, 0xff])).is_err());
        let ud = encode_sticky_user_data(&owned, 3);
        assert_eq!(
            decode_sticky_user_data(&ud),
            Some((vec![("t".to_string(), 0), ("t".to_string(), 1)], 3))
        );
    }
}
