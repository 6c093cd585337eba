//! Partition replication across a kfk cluster (RF > 1): followers copy their leaders' logs
//! byte for byte, acks=all waits for the in-sync replicas, the ISR shrinks and grows, and
//! leadership moves to an in-sync replica when its broker goes away.

mod common;

use common::cluster::{wait_until, TestCluster};
use common::run_with_input;
use std::path::Path;
use std::time::Duration;

/// Replica lag and broker sessions short enough for fault tests.
const FAST: &[&str] = &[
    "replica.lag.time.max.ms=2000",
    "broker.session.timeout.ms=3000",
    "replica.fetch.backoff.ms=200",
];

fn kfk(args: &[&str], input: &[u8]) -> (String, String, i32) {
    let (out, err, code) = run_with_input(
        Path::new(env!("CARGO_BIN_EXE_kfk")),
        args,
        input,
        Duration::from_secs(60),
    );
    (String::from_utf8_lossy(&out).into_owned(), err, code)
}

fn create(c: &TestCluster, topic: &str, partitions: i32, rf: i32, min_isr: i32) {
    let (_, err, code) = kfk(
        &[
            "topics",
            "--bootstrap-server",
            &c.bootstrap(1),
            "--create",
            "--topic",
            topic,
            "--partitions",
            &partitions.to_string(),
            "--replication-factor",
            &rf.to_string(),
            "--config",
            &format!("min.insync.replicas={min_isr}"),
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
}

/// `(leader, replicas, isr)` of every partition of `topic` as node `id` reports it.
fn partitions_seen_by(c: &TestCluster, id: i32, topic: &str) -> Vec<(i32, Vec<i32>, Vec<i32>)> {
    let Some(m) = c.metadata(id) else {
        return Vec::new();
    };
    let Some(t) = m.topics.iter().find(|t| t.name.as_deref() == Some(topic)) else {
        return Vec::new();
    };
    let mut ps: Vec<_> = t.partitions.iter().collect();
    ps.sort_by_key(|p| p.partition_index);
    ps.iter()
        .map(|p| {
            let mut isr = p.isr_nodes.clone();
            isr.sort_unstable();
            (p.leader_id, p.replica_nodes.clone(), isr)
        })
        .collect()
}

/// Every segment file of `topic`-`partition` on node `id`, concatenated.
fn log_bytes(c: &TestCluster, id: i32, topic: &str, partition: i32) -> Vec<u8> {
    let dir = c.node(id).dir.join(format!("{topic}-{partition}"));
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "log"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .flat_map(|p| std::fs::read(p).unwrap_or_default())
        .collect()
}

#[test]
fn rf3_partitions_replicate_byte_for_byte_and_acks_all_waits_for_the_isr() {
    let c = TestCluster::start(3, FAST);
    create(&c, "r3", 3, 3, 2);
    assert!(
        wait_until(Duration::from_secs(5), || {
            let ps = partitions_seen_by(&c, 1, "r3");
            ps.len() == 3 && ps.iter().all(|p| p.1.len() == 3 && p.2 == [1, 2, 3])
        }),
        "{:?}",
        partitions_seen_by(&c, 1, "r3")
    );
    // Leaders spread over the three brokers.
    let leaders: std::collections::BTreeSet<i32> = partitions_seen_by(&c, 1, "r3")
        .iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(leaders.len(), 3, "{:?}", partitions_seen_by(&c, 1, "r3"));
    // Keyed, so every partition gets records.
    let input: String = (0..600).map(|i| format!("key-{i}\tvalue-{i}\n")).collect();
    let (_, err, code) = kfk(
        &[
            "console-producer",
            "--bootstrap-server",
            &c.bootstrap_all(),
            "--topic",
            "r3",
            "--request-required-acks",
            "-1",
            "--property",
            "parse.key=true",
        ],
        input.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    // The followers hold the leaders' bytes exactly.
    for p in 0..3 {
        assert!(
            wait_until(Duration::from_secs(10), || {
                let a = log_bytes(&c, 1, "r3", p);
                !a.is_empty() && a == log_bytes(&c, 2, "r3", p) && a == log_bytes(&c, 3, "r3", p)
            }),
            "partition {p}: replica logs differ ({} / {} / {} bytes)",
            log_bytes(&c, 1, "r3", p).len(),
            log_bytes(&c, 2, "r3", p).len(),
            log_bytes(&c, 3, "r3", p).len()
        );
    }
    let (out, err, code) = kfk(
        &[
            "console-consumer",
            "--bootstrap-server",
            &c.bootstrap(2),
            "--topic",
            "r3",
            "--from-beginning",
            "--max-messages",
            "600",
            "--timeout-ms",
            "20000",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let mut got: Vec<&str> = out.lines().collect();
    got.sort_unstable();
    let mut want: Vec<String> = (0..600).map(|i| format!("value-{i}")).collect();
    want.sort_unstable();
    assert_eq!(got, want);
}
