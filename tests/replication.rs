//! Partition replication across a kfk cluster (RF > 1): followers copy their leaders' logs
//! byte for byte, acks=all waits for the in-sync replicas, the ISR shrinks and grows, and
//! leadership moves to an in-sync replica when its broker goes away.

mod common;
#[path = "common/faults.rs"]
mod faults;

use common::cluster::{wait_until, TestCluster};
use common::run_with_input;
use std::path::Path;
use std::time::{Duration, Instant};

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
    // Through the first node with a client listener.
    let via = c
        .nodes
        .iter()
        .find(|n| n.roles.contains("broker"))
        .map_or(1, |n| n.id);
    let (_, err, code) = kfk(
        &[
            "topics",
            "--bootstrap-server",
            &c.bootstrap(via),
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

    // A produce to a follower is refused with the leader's id, epoch and endpoint
    // (KIP-951, Produce v10+), so clients go there without asking for metadata.
    let (leader, _, _) = partitions_seen_by(&c, 1, "r3")[0].clone();
    let follower = if leader == 1 { 2 } else { 1 };
    let mut raw = common::RawClient::connect(&c.bootstrap(follower));
    use kfk::protocol::messages::produce_request::*;
    let body = kfk::protocol::RequestBody::Produce(ProduceRequest {
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: "r3".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(common::batch_of(&["misdirected"], None)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let kfk::protocol::ResponseBody::Produce(r) =
        raw.call(kfk::protocol::ApiKey::Produce, 11, body)
    else {
        panic!("not a produce response")
    };
    let p = &r.responses[0].partition_responses[0];
    assert_eq!(
        p.error_code,
        kfk::protocol::ErrorCode::NOT_LEADER_OR_FOLLOWER.0
    );
    assert_eq!(p.current_leader.leader_id, leader);
    assert!(p.current_leader.leader_epoch >= 0);
    let ep = r
        .node_endpoints
        .iter()
        .find(|e| e.node_id == leader)
        .expect("the leader's endpoint");
    assert_eq!(
        format!("{}:{}", ep.host, ep.port),
        c.bootstrap(leader),
        "{:?}",
        r.node_endpoints
    );
}

/// Waits until every partition of `topic` has its full ISR on every running node's view,
/// and the replicas' logs are identical byte for byte.
fn wait_healed(c: &TestCluster, topic: &str, partitions: i32, nodes: &[i32], timeout: Duration) {
    let healed = wait_until(timeout, || {
        nodes.iter().all(|id| {
            let ps = partitions_seen_by(c, *id, topic);
            ps.len() == partitions as usize && ps.iter().all(|p| p.2.len() == p.1.len())
        })
    });
    if !healed {
        dump_logs(c);
    }
    assert!(
        healed,
        "the ISR did not come back: {:?}",
        nodes
            .iter()
            .map(|id| (id, partitions_seen_by(c, *id, topic)))
            .collect::<Vec<_>>()
    );
    logs_agree(c, topic, partitions, nodes, timeout, false);
}

/// Waits until the replicas' logs of every partition of `topic` agree byte for byte:
/// `whole`, the logs are identical (once the workload has stopped); otherwise each is a
/// prefix of the longest (a workload still appending makes the files, read one after the
/// other, differ by the batches written in between).
fn logs_agree(
    c: &TestCluster,
    topic: &str,
    partitions: i32,
    nodes: &[i32],
    timeout: Duration,
    whole: bool,
) {
    for p in 0..partitions {
        let agree = wait_until(timeout, || {
            let logs: Vec<Vec<u8>> = nodes.iter().map(|id| log_bytes(c, *id, topic, p)).collect();
            let shortest = logs.iter().map(Vec::len).min().unwrap_or(0);
            logs.iter().all(|l| {
                if whole {
                    *l == logs[0]
                } else {
                    l[..shortest] == logs[0][..shortest]
                }
            })
        });
        assert!(
            agree,
            "partition {p}: replica logs differ ({:?} bytes)",
            nodes
                .iter()
                .map(|id| log_bytes(c, *id, topic, p).len())
                .collect::<Vec<_>>()
        );
    }
}

/// The nodes' replication log lines (on failure, to see why).
fn dump_logs(c: &TestCluster) {
    for n in &c.nodes {
        let log = n.log.lock().unwrap();
        for l in log.iter().filter(|l| {
            [
                "ISR",
                "replica",
                "fetch",
                "diverg",
                "truncat",
                "leader",
                "fenc",
                "regist",
                "panicked",
                "AlterPartition",
                "out-of-sync",
                "ERROR",
                "WARN",
                "partition's metadata",
            ]
            .iter()
            .any(|k| l.contains(k))
        }) {
            eprintln!("node {}: {}", n.id, &l[..l.len().min(400)]);
        }
    }
}

fn leader_of(c: &TestCluster, topic: &str, partition: i32, ask: i32) -> i32 {
    partitions_seen_by(c, ask, topic)
        .get(partition as usize)
        .map_or(-1, |p| p.0)
}

/// Ends a fault test: stops the workload, waits until the ISR of `topic` (3 partitions) is
/// whole again on `brokers` and their logs are identical, reads everything back, prints the
/// checker's report and asserts it clean; with `none_failed`, also that the producer gave
/// up on no record (a fault it rides out with retries). Returns the history and final read.
fn judge(
    c: &TestCluster,
    workload: faults::Workload,
    topic: &str,
    brokers: &[i32],
    none_failed: bool,
) -> (
    faults::History,
    std::collections::BTreeMap<(i32, i64), String>,
) {
    let history = workload.stop();
    wait_healed(c, topic, 3, brokers, Duration::from_secs(30));
    logs_agree(c, topic, 3, brokers, Duration::from_secs(30), true);
    let bootstrap: Vec<String> = brokers.iter().map(|b| c.bootstrap(*b)).collect();
    let read = faults::read_all(&bootstrap.join(","), topic, 3);
    let report = faults::check(&history, &read);
    println!("{} records reported failed; {report}", history.failed.len());
    assert!(report.is_clean(), "{report}");
    if none_failed {
        assert!(
            history.failed.is_empty(),
            "{:?}",
            history.failed.iter().take(5).collect::<Vec<_>>()
        );
    }
    (history, read)
}

/// How many rounds a fault test runs: `KFK_FAULT_ROUNDS` (the soak mode: e.g. 20 or 100),
/// else `default`.
fn rounds(default: usize) -> usize {
    std::env::var("KFK_FAULT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Fault test 1: kill -9 the leader of partition 0 five times in a row (`KFK_FAULT_ROUNDS`
/// for a soak), restarting it each time, under an idempotent acks=all producer; the checker
/// finds nothing lost, duplicated or inconsistent, and the replicas end identical. Prints
/// the failover times (kill -9 to the first acknowledgement on partition 0).
#[test]
fn killing_a_leader_five_times_loses_no_acknowledged_record() {
    let mut c = TestCluster::start(3, FAST);
    create(&c, "f1", 3, 3, 2);
    wait_healed(&c, "f1", 3, &[1, 2, 3], Duration::from_secs(10));
    let workload = faults::Workload::start(&c.bootstrap_all(), "f1", 3);
    assert!(wait_until(Duration::from_secs(10), || workload.acked() > 200));
    let session = Duration::from_millis(3000);
    let mut pauses = Vec::new();
    for round in 0..rounds(5) {
        let leader = leader_of(&c, "f1", 0, if round % 3 == 0 { 1 } else { 2 });
        let leader = if leader < 0 {
            leader_of(&c, "f1", 0, 3)
        } else {
            leader
        };
        assert!(leader > 0, "partition 0 has no leader before round {round}");
        c.kill9(leader);
        let killed = Instant::now();
        // Producers resume on partition 0 within the session timeout + 5 s.
        let resumed = wait_until(session + Duration::from_secs(5), || {
            workload.last_ack(0).is_some_and(|t| t > killed)
        });
        let pause = killed.elapsed();
        assert!(resumed, "round {round}: no acknowledgement on partition 0 for {pause:?} after killing node {leader}");
        pauses.push(pause);
        c.start_node(leader);
        let live: Vec<i32> = (1..=3).collect();
        wait_healed(&c, "f1", 3, &live, Duration::from_secs(30));
    }
    judge(&c, workload, "f1", &[1, 2, 3], true);
    let mut sorted = pauses.clone();
    sorted.sort();
    let q = |f: f64| sorted[((sorted.len() as f64 - 1.0) * f).round() as usize];
    println!(
        "failover (kill -9 to the next acknowledgement on partition 0) over {} kills: p50 {:?}, p99 {:?}; each: {pauses:?}",
        pauses.len(),
        q(0.5),
        q(0.99)
    );
}

/// Issue 25 item 15's shape: a 3-partition RF 3 topic (min ISR 2) under an idempotent
/// acks=all librdkafka producer (its default settings) for about 45 s, while the leader of
/// partition 0 is kill -9'd and restarted at once four times, 8 s apart, without waiting for
/// the ISR to heal. Once the producer stops, the leader of partition 0 is killed and restarted
/// once more and a separate consumer, bootstrapped from that restarted broker, asks each
/// partition's high watermark (ListOffsets latest) and reads every partition from 0 up to it
/// through Fetch (no replica files): every acknowledged record must come back at its
/// acknowledged offset within 120 s. The report gives per partition the high watermark read
/// to, records read and acknowledged. `KFK_FAULT_ROUNDS` sets the number of kills.
///
/// Before the fix the last step read partition 0 to high watermark 0 ("one partition's worth
/// missing"): the restarted broker answered from the image it stopped with, as the leader,
/// with a 60 s old checkpointed high watermark.
#[test]
fn acknowledged_records_read_back_after_leader_kills_without_waiting_for_the_isr() {
    // Kafka's default broker session and heartbeat, as the report's cluster had.
    let mut c = TestCluster::start(
        3,
        &[
            "broker.session.timeout.ms=9000",
            "broker.heartbeat.interval.ms=2000",
        ],
    );
    create(&c, "f15", 3, 3, 2);
    wait_healed(&c, "f15", 3, &[1, 2, 3], Duration::from_secs(10));
    let workload = faults::Workload::start_with_client_defaults(&c.bootstrap_all(), "f15", 3);
    assert!(wait_until(Duration::from_secs(10), || workload.acked() > 200));
    std::thread::sleep(Duration::from_secs(4));
    let leader_of_0 = |c: &TestCluster| {
        (1..=3)
            .map(|ask| leader_of(c, "f15", 0, ask))
            .find(|l| *l > 0)
    };
    let mut killed = Vec::new();
    for round in 0..rounds(4) {
        if let Some(leader) = leader_of_0(&c) {
            c.kill9(leader);
            c.start_node(leader);
            killed.push(leader);
        } else {
            println!("round {round}: partition 0 has no leader; no kill");
        }
        std::thread::sleep(Duration::from_secs(8));
    }
    std::thread::sleep(Duration::from_secs(4));
    let history = workload.stop();
    let last = leader_of_0(&c).expect("partition 0 has a leader");
    c.kill9(last);
    c.start_node(last);
    killed.push(last);
    let back = faults::read_back(&c.bootstrap(last), "f15", 3, Duration::from_secs(120));
    let report = faults::check(&history, &back.records);
    let per_partition = back.per_partition(&history);
    println!(
        "killed {killed:?}; read back through node {last} in {:?}; {report}{per_partition}",
        back.took
    );
    if !back.errors.is_empty() {
        println!(
            "consumer errors: {:?}",
            &back.errors[..back.errors.len().min(20)]
        );
    }
    if !report.lost.is_empty() || !report.inconsistent.is_empty() {
        dump_logs(&c);
        for id in 1..=3 {
            println!("node {id}: {:?}", partitions_seen_by(&c, id, "f15"));
        }
    }
    assert!(
        report.lost.is_empty() && report.inconsistent.is_empty(),
        "{report}{per_partition}"
    );
}

/// ListOffsets latest of `topic`-`partition` asked of node `id`: `(error code, offset)`, or
/// `None` when the node does not answer.
fn latest_offset_from(c: &TestCluster, id: i32, topic: &str, partition: i32) -> Option<(i16, i64)> {
    use kfk::protocol::messages::list_offsets_request::{
        ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
    };
    use kfk::protocol::{ApiKey, RequestBody, ResponseBody};
    let addr = c.bootstrap(id);
    let topic = topic.to_string();
    let ask = move || {
        common::RawClient::connect(&addr).call(
            ApiKey::ListOffsets,
            7,
            RequestBody::ListOffsets(ListOffsetsRequest {
                replica_id: -1,
                topics: vec![ListOffsetsTopic {
                    name: topic,
                    partitions: vec![ListOffsetsPartition {
                        partition_index: partition,
                        current_leader_epoch: -1,
                        timestamp: -1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
    };
    match std::panic::catch_unwind(ask) {
        Ok(ResponseBody::ListOffsets(r)) => {
            let p = &r.topics.first()?.partitions.first()?;
            Some((p.error_code, p.offset))
        }
        _ => None,
    }
}

/// The cause of issue 25 item 15: a leader killed (kill -9) and restarted at once answered
/// clients from the image it stopped with — itself the leader at its old epoch — with the
/// high watermark of its last checkpoint (written every 60 s then), so a reader asking it
/// for the high watermark (ListOffsets latest) read a partition's worth too little. Now a
/// restarted broker serves no client before it has applied its own registration (as Kafka
/// enables request processing once caught up), its high watermarks are checkpointed every
/// `replica.high.watermark.checkpoint.interval.ms` (5 s), and a leader whose high watermark
/// is below the start of its epoch answers OFFSET_NOT_AVAILABLE (as Kafka). Every answer the
/// restarted broker gives in its first seconds is checked: its view of the partition is
/// newer than the one it died with, and no high watermark it reports is below what had been
/// acknowledged before the kill.
#[test]
fn a_restarted_leader_answers_from_the_clusters_metadata_not_the_one_it_stopped_with() {
    let mut c = TestCluster::start(
        3,
        &[
            "broker.session.timeout.ms=9000",
            "broker.heartbeat.interval.ms=2000",
        ],
    );
    create(&c, "f15r", 3, 3, 2);
    wait_healed(&c, "f15r", 3, &[1, 2, 3], Duration::from_secs(10));
    let workload = faults::Workload::start_with_client_defaults(&c.bootstrap_all(), "f15r", 3);
    assert!(wait_until(Duration::from_secs(10), || workload.acked() > 200));
    let view = |c: &TestCluster, id: i32| -> Option<(i32, i32)> {
        let m = c.metadata(id)?;
        let t = m
            .topics
            .iter()
            .find(|t| t.name.as_deref() == Some("f15r"))?;
        let p = t.partitions.iter().find(|p| p.partition_index == 0)?;
        Some((p.leader_id, p.leader_epoch))
    };
    for round in 0..rounds(3) {
        std::thread::sleep(Duration::from_secs(3));
        let (leader, epoch) = (1..=3)
            .filter_map(|id| view(&c, id))
            .find(|v| v.0 > 0)
            .expect("partition 0 has a leader");
        let acked = workload.acked_end(0);
        c.kill9(leader);
        c.start_node(leader);
        let started = Instant::now();
        let mut answers = Vec::new();
        while started.elapsed() < Duration::from_secs(4) {
            if let Some((l, e)) = view(&c, leader) {
                assert!(
                    e > epoch,
                    "round {round}: restarted node {leader} answered from the image it stopped with: leader {l} at epoch {e} (it died leading epoch {epoch}) after {:?}",
                    started.elapsed()
                );
                answers.push((l, e));
            }
            if let Some((code, offset)) = latest_offset_from(&c, leader, "f15r", 0) {
                assert!(
                    code != 0 || offset >= acked,
                    "round {round}: restarted node {leader} reported high watermark {offset} of partition 0, below the {acked} acknowledged before it was killed"
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            !answers.is_empty(),
            "round {round}: node {leader} never answered"
        );
        println!(
            "round {round}: node {leader} (leader at epoch {epoch}) restarted; its views: {:?}",
            {
                let mut a = answers.clone();
                a.dedup();
                a
            }
        );
        wait_healed(&c, "f15r", 3, &[1, 2, 3], Duration::from_secs(30));
    }
    judge(&c, workload, "f15r", &[1, 2, 3], true);
}

/// Fault test 1 with the other clients: kcat (librdkafka's tool), kafka-python, the Java
/// client and kfk's console producer, each an idempotent acks=all producer of its own values
/// into one topic, while the leader of partition 0 is killed (kill -9) three times
/// (`KFK_FAULT_ROUNDS` for more) and restarted; Kafka's verifiable producer (reference jars)
/// runs alongside as a second workload. The Java client, kafka-python and the verifiable
/// producer report each record's acknowledgement; kcat and kfk's producer acknowledge
/// everything by exiting successfully. Kafka's verifiable consumer reads the topic in a
/// group throughout (its coordinator moves with the kills). The checker finds nothing
/// acknowledged lost, duplicated or inconsistent, and the verifiable consumer read every
/// offset with its final value and nothing that later vanished.
#[test]
fn killing_a_leader_loses_nothing_acknowledged_to_kcat_kafka_python_java_or_kfk() {
    use faults::{Ack, ExternalProducer};
    use std::process::Command;
    let test = "killing_a_leader_loses_nothing_acknowledged_to_kcat_kafka_python_java_or_kfk";
    let Some(kcat) = common::require_tool(test, "kcat") else {
        return;
    };
    if !common::require_python_module(test, "kafka") {
        return;
    }
    let Some(classpath) = common::java_interop(test) else {
        return;
    };
    let Some(reference) = common::require_kafka_reference(test) else {
        return;
    };
    let mut c = TestCluster::start(3, FAST);
    create(&c, "f1c", 3, 3, 2);
    wait_healed(&c, "f1c", 3, &[1, 2, 3], Duration::from_secs(10));
    let bs = c.bootstrap_all();
    let mut kcat_cmd = Command::new(kcat);
    kcat_cmd.args(["-P", "-b", &bs, "-t", "f1c", "-K", ":"]);
    for x in [
        "acks=all",
        "enable.idempotence=true",
        "linger.ms=5",
        "request.timeout.ms=5000",
        "message.timeout.ms=120000",
        "retry.backoff.ms=100",
        "topic.metadata.refresh.interval.ms=1000",
    ] {
        kcat_cmd.args(["-X", x]);
    }
    let mut python = Command::new("python3");
    python
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/kafka_python_failover.py"))
        .args([&bs, "f1c"]);
    let mut java = Command::new("java");
    java.args([
        "-cp",
        &classpath,
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
        "Interop",
        "failover-produce",
        &bs,
        "f1c",
    ]);
    let mut kfk_cmd = Command::new(env!("CARGO_BIN_EXE_kfk"));
    kfk_cmd.args([
        "console-producer",
        "--bootstrap-server",
        &bs,
        "--topic",
        "f1c",
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=:",
        "--request-required-acks",
        "-1",
        "--timeout",
        "5",
        "--request-timeout-ms",
        "5000",
        "--message-send-max-retries",
        "2147483647",
        "--metadata-expiry-ms",
        "1000",
        "--producer-property",
        "enable.idempotence=true",
        "--producer-property",
        "delivery.timeout.ms=120000",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let verifiable_config = dir.path().join("verifiable.properties");
    std::fs::write(
        &verifiable_config,
        "enable.idempotence=true\nretries=2147483647\nlinger.ms=5\nrequest.timeout.ms=5000\n\
         delivery.timeout.ms=120000\nretry.backoff.ms=100\nretry.backoff.max.ms=500\n\
         metadata.max.age.ms=1000\n",
    )
    .unwrap();
    let verifiable_config = verifiable_config.to_str().unwrap().to_string();
    let mut verifiable = Command::new(&reference);
    verifiable.args([
        "tool",
        "kafka-verifiable-producer",
        "--bootstrap-server",
        &bs,
        "--topic",
        "f1c",
        "--throughput",
        "250",
        "--acks",
        "-1",
        "--value-prefix",
        "7",
        // Keyed, so every partition gets records all the time: unkeyed, the Java client's
        // sticky partitioner can stay off partition 0 for longer than the failover window.
        "--repeating-keys",
        "30",
        "--producer.config",
        &verifiable_config,
    ]);
    let consumer_config = dir.path().join("consumer.properties");
    std::fs::write(
        &consumer_config,
        "request.timeout.ms=5000\nmetadata.max.age.ms=1000\nretry.backoff.ms=100\n\
         retry.backoff.max.ms=500\nheartbeat.interval.ms=500\n",
    )
    .unwrap();
    let mut verifiable_consumer = Command::new(&reference);
    verifiable_consumer.args([
        "tool",
        "kafka-verifiable-consumer",
        "--bootstrap-server",
        &bs,
        "--topic",
        "f1c",
        "--group-id",
        "f1c-verifiable",
        "--reset-policy",
        "earliest",
        "--session-timeout",
        "6000",
        "--verbose",
        "--consumer.config",
        consumer_config.to_str().unwrap(),
    ]);
    let verifiable_consumer = faults::VerifiableConsumer::start(verifiable_consumer);
    let every = Duration::from_millis(4);
    let producers = vec![
        ExternalProducer::start(
            "kafka-verifiable-producer",
            verifiable,
            "",
            None,
            Ack::Verifiable,
            every,
        ),
        ExternalProducer::start("kcat", kcat_cmd, "kcat", Some(":"), Ack::OnExit, every),
        ExternalProducer::start("kafka-python", python, "py", None, Ack::PerRecord, every),
        ExternalProducer::start("java", java, "java", None, Ack::PerRecord, every),
        ExternalProducer::start("kfk", kfk_cmd, "kfk", Some(":"), Ack::OnExit, every),
    ];
    let per_record: Vec<&ExternalProducer> = producers
        .iter()
        .filter(|p| p.name != "kcat" && p.name != "kfk")
        .collect();
    assert!(
        wait_until(Duration::from_secs(60), || per_record
            .iter()
            .all(|p| p.progress() > 100)
            && verifiable_consumer.read() > 100),
        "the clients did not start producing (the verifiable consumer read {}): {}",
        verifiable_consumer.read(),
        per_record
            .iter()
            .map(|p| format!(
                "{} acknowledged {}: {}",
                p.name,
                p.progress(),
                p.stderr_tail()
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let session = Duration::from_millis(3000);
    let mut pauses = Vec::new();
    for round in 0..rounds(3) {
        let leader = (1..=3)
            .map(|ask| leader_of(&c, "f1c", 0, ask))
            .find(|l| *l > 0)
            .expect("partition 0 has a leader");
        c.kill9(leader);
        let killed = Instant::now();
        let resumed = wait_until(session + Duration::from_secs(10), || {
            per_record
                .iter()
                .all(|p| p.last_ack(0).is_some_and(|t| t > killed))
        });
        let each: Vec<String> = per_record
            .iter()
            .map(|p| match p.first_ack_after(0, killed) {
                Some(t) => format!("{} {:.2}s", p.name, (t - killed).as_secs_f64()),
                None => format!("{} -", p.name),
            })
            .collect();
        assert!(
            resumed,
            "round {round}: a per-record client acknowledged nothing on partition 0 \
             for {:?} after node {leader} was killed: {each:?}",
            killed.elapsed()
        );
        pauses.push(each.join(", "));
        c.start_node(leader);
        wait_healed(&c, "f1c", 3, &[1, 2, 3], Duration::from_secs(30));
    }
    let histories: Vec<(String, faults::History)> = producers
        .into_iter()
        .map(|p| (p.name.clone(), p.stop(Duration::from_secs(150))))
        .collect();
    wait_healed(&c, "f1c", 3, &[1, 2, 3], Duration::from_secs(30));
    logs_agree(&c, "f1c", 3, &[1, 2, 3], Duration::from_secs(30), true);
    let read = faults::read_all(&c.bootstrap_all(), "f1c", 3);
    println!("failover of the Java client, kafka-python and Kafka's verifiable producer (kill -9 to each one's first acknowledgement on partition 0): {pauses:?}");
    for (name, history) in &histories {
        let report = faults::check(history, &read);
        println!("{name}: {report}");
        assert!(report.is_clean(), "{name}: {report}");
        assert!(
            history.sent > 0 && report.acked == history.sent,
            "{name}: {report}"
        );
        assert!(
            history.failed.is_empty(),
            "{name}: {:?}",
            history.failed.iter().take(5).collect::<Vec<_>>()
        );
    }
    let consumed = verifiable_consumer.finish(&read, Duration::from_secs(60));
    println!("{consumed}");
    assert!(consumed.is_clean(), "{consumed}\n{}", consumed.stderr);
}

/// Fault test 2: SIGTERM (a controlled shutdown) of a partition's leader: its leaderships
/// move to in-sync replicas before it stops, so no error reaches the producer and the
/// partition's acknowledgements pause less than 3 s.
#[test]
fn a_controlled_shutdown_of_a_leader_moves_its_partitions_without_errors() {
    let mut c = TestCluster::start(3, FAST);
    create(&c, "f2", 3, 3, 2);
    wait_healed(&c, "f2", 3, &[1, 2, 3], Duration::from_secs(10));
    let workload = faults::Workload::start(&c.bootstrap_all(), "f2", 3);
    assert!(wait_until(Duration::from_secs(10), || workload.acked() > 200));
    let mut windows = Vec::new();
    for _ in 0..rounds(1) {
        // Every follower in sync, so every leadership can move.
        wait_healed(&c, "f2", 3, &[1, 2, 3], Duration::from_secs(10));
        let leader = leader_of(&c, "f2", 0, 1);
        assert!(leader > 0);
        let before = Instant::now();
        c.stop(leader);
        let stopped = before.elapsed();
        std::thread::sleep(Duration::from_secs(3));
        let after = Instant::now();
        c.start_node(leader);
        wait_healed(&c, "f2", 3, &[1, 2, 3], Duration::from_secs(30));
        windows.push((leader, stopped, before, after));
    }
    let (history, _) = judge(&c, workload, "f2", &[1, 2, 3], true);
    for (leader, stopped, before, after) in &windows {
        let gap = faults::Workload::longest_gap(&history, 0, *before, *after);
        let p99 = faults::Workload::latency_quantile(&history, *before, *after, 0.99);
        let p50 = faults::Workload::latency_quantile(&history, *before, *after, 0.5);
        println!(
            "controlled shutdown of node {leader} took {stopped:?}; longest pause of partition 0: {gap:?}; produce latency around it p50 {p50:?}, p99 {p99:?}"
        );
        assert!(gap < Duration::from_secs(3), "partition 0 paused {gap:?}");
    }
}

/// Fault test 3: SIGSTOP a partition's leader for twice the session timeout, then SIGCONT:
/// it is fenced and replaced meanwhile, never acknowledges what the new leader lacks,
/// truncates what it must and rejoins the ISR.
#[test]
fn a_paused_leader_is_replaced_and_rejoins_without_acknowledging_anything_lost() {
    let c = TestCluster::start(3, FAST);
    create(&c, "f3", 3, 3, 2);
    wait_healed(&c, "f3", 3, &[1, 2, 3], Duration::from_secs(10));
    let workload = faults::Workload::start(&c.bootstrap_all(), "f3", 3);
    assert!(wait_until(Duration::from_secs(10), || workload.acked() > 200));
    for _ in 0..rounds(1) {
        let leader = leader_of(&c, "f3", 0, 1);
        assert!(leader > 0);
        c.signal(leader, libc::SIGSTOP);
        let paused = Instant::now();
        let other = if leader == 1 { 2 } else { 1 };
        // Fenced after the session timeout (3 s; a new controller first gives every broker a
        // full session), then replaced by an in-sync replica.
        let replaced = wait_until(Duration::from_secs(6), || {
            let l = leader_of(&c, "f3", 0, other);
            l > 0 && l != leader
        });
        assert!(
            replaced,
            "partition 0 is still not led by another broker after {:?}: {:?}",
            paused.elapsed(),
            partitions_seen_by(&c, other, "f3")
        );
        std::thread::sleep(Duration::from_secs(6).saturating_sub(paused.elapsed()));
        assert!(
            workload.last_ack(0).is_some_and(|t| t > paused),
            "no acknowledgement from the new leader"
        );
        c.signal(leader, libc::SIGCONT);
        wait_healed(&c, "f3", 3, &[1, 2, 3], Duration::from_secs(30));
    }
    judge(&c, workload, "f3", &[1, 2, 3], true);
}

/// Fault test 4: cut a partition's leader off from both other nodes (controller and data
/// links; clients still reach it). Its followers stop fetching, so it cannot advance its high
/// watermark: what it takes meanwhile times out and is retried or reported failed, never
/// acknowledged. The majority fences it and elects an in-sync replica, which acknowledges.
/// Healed, the old leader truncates its unreplicated tail and rejoins the ISR.
#[test]
fn a_leader_cut_off_from_its_peers_acknowledges_nothing_the_majority_lacks() {
    let c = TestCluster::start_with_links(3, FAST);
    create(&c, "f4", 3, 3, 2);
    wait_healed(&c, "f4", 3, &[1, 2, 3], Duration::from_secs(10));
    let workload = faults::Workload::start(&c.bootstrap_all(), "f4", 3);
    assert!(wait_until(Duration::from_secs(10), || workload.acked() > 200));
    let mut probes = Vec::new();
    for round in 0..rounds(1) {
        let leader = leader_of(&c, "f4", 0, 1);
        assert!(leader > 0);
        let truncations = c.log_count(leader, "truncating a diverged replica");
        let majority: Vec<i32> = (1..=3).filter(|i| *i != leader).collect();
        c.isolate(leader);
        let cut = Instant::now();
        // Besides the workload's requests in flight at the cut (which its followers may
        // already have fetched), one acks=all write sent straight to the cut-off leader: it
        // must be refused or time out, and if appended, be truncated once healed.
        let probe_value = format!("probe-{round}");
        let probe = {
            let (addr, value) = (c.bootstrap(leader), probe_value.clone());
            std::thread::spawn(move || {
                common::RawClient::connect(&addr).produce_within(
                    "f4",
                    0,
                    common::batch_of(&[&value], None),
                    4000,
                )
            })
        };
        let replaced = wait_until(Duration::from_secs(15), || {
            let l = leader_of(&c, "f4", 0, majority[0]);
            majority.contains(&l)
        });
        if !replaced {
            dump_logs(&c);
        }
        assert!(
            replaced,
            "the majority did not elect another leader of partition 0 within {:?}: {:?}",
            cut.elapsed(),
            partitions_seen_by(&c, majority[0], "f4")
        );
        let elected = cut.elapsed();
        // The new leader acknowledges while the old one is still cut off.
        assert!(
            wait_until(Duration::from_secs(15), || workload
                .last_ack(0)
                .is_some_and(|t| t > cut + elected)),
            "no acknowledgement from the majority's leader of partition 0"
        );
        // The cut-off node still believes it leads partition 0 (nothing told it otherwise).
        let isolated_view = leader_of(&c, "f4", 0, leader);
        let (probe_error, _) = probe.join().expect("probe");
        // REQUEST_TIMED_OUT or NOT_ENOUGH_REPLICAS_AFTER_APPEND: appended, never acknowledged;
        // NOT_ENOUGH_REPLICAS / NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH: refused.
        assert!(
            [7, 20, 19, 6, 74].contains(&probe_error),
            "the cut-off leader answered an acks=all write with error {probe_error}"
        );
        let probe_appended = [7, 20].contains(&probe_error);
        probes.push(probe_value);
        c.heal_all();
        let healed = Instant::now();
        wait_healed(&c, "f4", 3, &[1, 2, 3], Duration::from_secs(30));
        let truncated = c.log_count(leader, "truncating a diverged replica") > truncations;
        println!(
            "fault test 4: node {leader} cut off; the majority elected a leader after {elected:?} \
         (the cut-off node meanwhile named {isolated_view} as leader); healed and back in \
         the ISR after {:?}; a write sent to it meanwhile got error {probe_error}; the old \
         leader truncated its unreplicated tail: {truncated}",
            healed.elapsed(),
        );
        if !truncated {
            dump_logs(&c);
        }
        // It took a write while cut off (the probe) that nobody else has.
        assert!(
            truncated || !probe_appended,
            "the cut-off leader appended the probe (error {probe_error}) but truncated nothing"
        );
    }
    // Requests the cut-off leader timed out may be reported failed (never acknowledged).
    let (_, read) = judge(&c, workload, "f4", &[1, 2, 3], false);
    let kept: Vec<_> = read.values().filter(|v| probes.contains(v)).collect();
    assert!(kept.is_empty(), "unacknowledged probes survived: {kept:?}");
}

/// Fault test 5, with a separate controller (so the quorum survives): kill -9 both
/// followers, then the leader. Below min.insync.replicas nothing is acknowledged; no
/// replica outside the ISR is elected when the followers return; once the last in-sync
/// replica returns it leads again, the followers catch up, and every record the producer
/// kept retrying is acknowledged.
#[test]
fn losing_every_replica_acknowledges_nothing_and_elects_only_from_the_isr() {
    let mut c = TestCluster::start_roles(&["controller", "broker", "broker", "broker"], FAST);
    create(&c, "f5", 3, 3, 2);
    let brokers = [2, 3, 4];
    wait_healed(&c, "f5", 3, &brokers, Duration::from_secs(10));
    let workload = faults::Workload::start(
        &format!("{},{},{}", c.bootstrap(2), c.bootstrap(3), c.bootstrap(4)),
        "f5",
        3,
    );
    assert!(wait_until(Duration::from_secs(10), || workload.acked() > 200));
    for _ in 0..rounds(1) {
        let leader = leader_of(&c, "f5", 0, 2);
        assert!(leader > 0);
        let followers: Vec<i32> = brokers.iter().copied().filter(|b| *b != leader).collect();
        for f in &followers {
            c.kill9(*f);
        }
        // The followers leave the ISR (fenced after the session timeout): acks=all stops.
        assert!(
            wait_until(Duration::from_secs(10), || {
                let ps = partitions_seen_by(&c, leader, "f5");
                ps.len() == 3 && ps.iter().all(|p| p.2 == [leader])
            }),
            "{:?}",
            partitions_seen_by(&c, leader, "f5")
        );
        std::thread::sleep(Duration::from_millis(500));
        let acked_below_min_isr = workload.acked();
        // Operators see it: the leader's gauge and kfk topics --under-min-isr-partitions.
        assert!(
            c.scrape(leader)
                .contains("kafka_server_replicamanager_underminisrpartitioncount 3"),
            "{}",
            c.scrape(leader)
        );
        let (out, err, code) = kfk(
            &[
                "topics",
                "--bootstrap-server",
                &c.bootstrap(leader),
                "--describe",
                "--under-min-isr-partitions",
            ],
            b"",
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.lines().count(), 3, "{out}");
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(
            workload.acked(),
            acked_below_min_isr,
            "records were acknowledged while the ISR was below min.insync.replicas"
        );
        c.kill9(leader);
        // The followers come back; they are not in the ISR, so nobody leads.
        for f in &followers {
            c.start_node(*f);
        }
        let unled = |c: &TestCluster| {
            let ps = partitions_seen_by(c, followers[0], "f5");
            ps.len() == 3 && ps.iter().all(|p| p.0 == -1 && p.2 == [leader])
        };
        assert!(
            wait_until(Duration::from_secs(15), || unled(&c)),
            "{:?}",
            partitions_seen_by(&c, followers[0], "f5")
        );
        std::thread::sleep(Duration::from_secs(2));
        if !unled(&c) {
            dump_logs(&c);
        }
        assert!(
            unled(&c),
            "a replica outside the ISR was elected: {:?}",
            partitions_seen_by(&c, followers[0], "f5")
        );
        assert_eq!(workload.acked(), acked_below_min_isr);
        // The last in-sync replica returns: it leads, the others catch up and rejoin.
        c.start_node(leader);
        wait_healed(&c, "f5", 3, &brokers, Duration::from_secs(30));
        assert!(
            wait_until(Duration::from_secs(30), || workload.acked()
                > acked_below_min_isr + 100),
            "acknowledgements did not resume"
        );
    }
    judge(&c, workload, "f5", &brokers, true);
}

/// The coordinator of a consumer group (FindCoordinator v3, asked at `addr`).
fn coordinator_of(addr: &str, group: &str) -> i32 {
    use kfk::protocol::messages::find_coordinator_request::FindCoordinatorRequest;
    let mut raw = common::RawClient::connect(addr);
    let kfk::protocol::ResponseBody::FindCoordinator(r) = raw.call(
        kfk::protocol::ApiKey::FindCoordinator,
        3,
        kfk::protocol::RequestBody::FindCoordinator(FindCoordinatorRequest {
            key: group.into(),
            ..Default::default()
        }),
    ) else {
        panic!("not a FindCoordinator response")
    };
    if r.error_code == 0 {
        r.node_id
    } else {
        -1
    }
}

/// Committed offsets of `group` summed over `topic`'s partitions, via `addr`.
fn committed_sum(addr: &str, group: &str) -> Option<i64> {
    let (out, _, code) = kfk(
        &[
            "consumer-groups",
            "--bootstrap-server",
            addr,
            "--describe",
            "--group",
            group,
        ],
        b"",
    );
    if code != 0 {
        return None;
    }
    let mut sum = 0;
    let mut rows = 0;
    for l in out.lines().filter(|l| l.starts_with(group)) {
        let cols: Vec<&str> = l.split_whitespace().collect();
        sum += cols.get(3)?.parse::<i64>().ok()?;
        rows += 1;
    }
    (rows > 0).then_some(sum)
}

/// Fault test 6: a follower's disk fails (its data dir, a small tmpfs, fills up: writes
/// fail with "no space left on device"), then the leader's. Each broker halts, as Kafka does
/// when its only log dir fails; leadership moves to an in-sync replica; once the disk is
/// freed the broker restarts, recovers its log and catches up. Nothing acknowledged is lost
/// and the replicas end identical.
#[test]
fn a_failing_disk_halts_the_broker_which_catches_up_once_repaired() {
    let test = "a_failing_disk_halts_the_broker_which_catches_up_once_repaired";
    let Some(mut c) = TestCluster::start_on_small_disks(test, 3, 64, FAST) else {
        return;
    };
    create(&c, "f6", 3, 3, 2);
    wait_healed(&c, "f6", 3, &[1, 2, 3], Duration::from_secs(10));
    let workload = faults::Workload::start(&c.bootstrap_all(), "f6", 3);
    assert!(wait_until(Duration::from_secs(10), || workload.acked() > 200));
    for _ in 0..rounds(1) {
        let leader = leader_of(&c, "f6", 0, 1);
        assert!(leader > 0);
        let follower = (1..=3).find(|i| *i != leader).unwrap();
        for (what, node) in [("follower", follower), ("leader", leader)] {
            let other = (1..=3).find(|i| *i != node).unwrap();
            let halts = c.log_count(node, "halting the broker");
            let failed = Instant::now();
            c.fill_disk(node);
            let halted = wait_until(Duration::from_secs(20), || c.exited(node));
            if !halted {
                dump_logs(&c);
            }
            assert!(halted, "the {what} (node {node}) still runs on a full disk");
            let halted_after = failed.elapsed();
            assert!(
                c.log_count(node, "halting the broker") > halts,
                "the {what} stopped without halting"
            );
            let moved = wait_until(Duration::from_secs(15), || {
                let l = leader_of(&c, "f6", 0, other);
                l > 0 && l != node
            });
            assert!(moved, "{:?}", partitions_seen_by(&c, other, "f6"));
            let since = Instant::now();
            assert!(
                wait_until(Duration::from_secs(15), || workload
                    .last_ack(0)
                    .is_some_and(|t| t > since)),
                "no acknowledgement on partition 0 with the {what} down"
            );
            c.free_disk(node);
            c.start_node(node);
            let restarted = Instant::now();
            wait_healed(&c, "f6", 3, &[1, 2, 3], Duration::from_secs(30));
            println!(
                "fault test 6: the {what}'s disk (node {node}) filled: halted after \
             {halted_after:?}; freed and restarted, back in the ISR with an identical log \
             after {:?}",
                restarted.elapsed()
            );
        }
    }
    judge(&c, workload, "f6", &[1, 2, 3], false);
}

/// `__consumer_offsets` is replicated (min(3, brokers) replicas here): when the group's
/// coordinator dies, the new leader of its offsets partition loads the group, and a
/// consumer resumes where the group committed.
#[test]
fn a_group_survives_the_loss_of_its_coordinator() {
    let mut c = TestCluster::start(3, FAST);
    create(&c, "g1", 3, 3, 2);
    let input: String = (0..300).map(|i| format!("k{i}\tv{i}\n")).collect();
    let (_, err, code) = kfk(
        &[
            "console-producer",
            "--bootstrap-server",
            &c.bootstrap_all(),
            "--topic",
            "g1",
            "--property",
            "parse.key=true",
        ],
        input.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let consume = |c: &TestCluster, via: i32, n: usize| -> Vec<String> {
        let (out, err, code) = kfk(
            &[
                "console-consumer",
                "--bootstrap-server",
                &c.bootstrap(via),
                "--topic",
                "g1",
                "--group",
                "survivors",
                "--from-beginning",
                "--max-messages",
                &n.to_string(),
                "--timeout-ms",
                "20000",
            ],
            b"",
        );
        assert_eq!(code, 0, "{err}");
        out.lines().map(str::to_string).collect()
    };
    let first = consume(&c, 1, 150);
    assert_eq!(first.len(), 150);
    let offsets = c
        .nodes
        .iter()
        .find(|n| n.id == 1)
        .map(|_| partitions_seen_by(&c, 1, "__consumer_offsets"))
        .unwrap_or_default();
    assert!(
        offsets.iter().all(|p| p.1.len() == 3),
        "__consumer_offsets is not replicated three times: {:?}",
        offsets.first()
    );
    let coordinator = coordinator_of(&c.bootstrap(1), "survivors");
    assert!(coordinator > 0);
    let before = committed_sum(&c.bootstrap(1), "survivors");
    assert_eq!(before, Some(150));
    c.kill9(coordinator);
    let other = if coordinator == 1 { 2 } else { 1 };
    assert!(
        wait_until(Duration::from_secs(10), || {
            let now = coordinator_of(&c.bootstrap(other), "survivors");
            now > 0 && now != coordinator
        }),
        "the group has no new coordinator"
    );
    assert!(
        wait_until(Duration::from_secs(10), || committed_sum(
            &c.bootstrap(other),
            "survivors"
        ) == Some(150)),
        "the committed offsets did not survive: {:?}",
        committed_sum(&c.bootstrap(other), "survivors")
    );
    let rest = consume(&c, other, 150);
    let mut all: Vec<String> = first.into_iter().chain(rest).collect();
    all.sort();
    let mut want: Vec<String> = (0..300).map(|i| format!("v{i}")).collect();
    want.sort();
    assert_eq!(all, want, "every record once across the two consumers");
    c.start_node(coordinator);
}

/// kfk's console consumer in a group keeps running through kill -9 of its group coordinator
/// and then of the next one (each also leads partitions of the topic): it finds the new
/// coordinator, rejoins and fetches from the new leaders, and reads every record produced
/// before, between and after the kills (at least once; a rebalance may redeliver).
#[test]
fn kfks_console_consumer_in_a_group_reads_through_coordinator_and_leader_kills() {
    use std::collections::BTreeSet;
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};
    let mut c = TestCluster::start(3, FAST);
    create(&c, "cg", 3, 3, 2);
    wait_healed(&c, "cg", 3, &[1, 2, 3], Duration::from_secs(10));
    let bs = c.bootstrap_all();
    let produce = |range: std::ops::Range<usize>| {
        let input: String = range.map(|i| format!("k{i}\tv{i}\n")).collect();
        let (_, err, code) = kfk(
            &[
                "console-producer",
                "--bootstrap-server",
                &bs,
                "--topic",
                "cg",
                "--property",
                "parse.key=true",
                "--request-required-acks",
                "-1",
                "--producer-property",
                "enable.idempotence=true",
            ],
            input.as_bytes(),
        );
        assert_eq!(code, 0, "{err}");
    };
    let mut consumer = Command::new(env!("CARGO_BIN_EXE_kfk"))
        .args([
            "console-consumer",
            "--bootstrap-server",
            &bs,
            "--topic",
            "cg",
            "--group",
            "through-kills",
            "--from-beginning",
            "--consumer-property",
            "metadata.max.age.ms=1000",
            "--consumer-property",
            "request.timeout.ms=5000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let read = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let reader = {
        let read = read.clone();
        let out = consumer.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                read.lock().unwrap().insert(line);
            }
        })
    };
    let stderr = Arc::new(Mutex::new(String::new()));
    {
        let stderr = stderr.clone();
        let err = consumer.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                let mut s = stderr.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
                if s.len() > 8192 {
                    let cut = s.len() - 4096;
                    let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
                    s.drain(..cut);
                }
            }
        });
    }
    /// Kills the consumer however the test ends.
    struct Reaped(std::process::Child);
    impl Drop for Reaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut consumer = Reaped(consumer);
    let wait_read = |n: usize, phase: &str, consumer: &mut Reaped| {
        let ok = wait_until(Duration::from_secs(60), || {
            read.lock().unwrap().len() >= n || consumer.0.try_wait().unwrap().is_some()
        }) && read.lock().unwrap().len() >= n;
        if !ok {
            let _ = consumer.0.kill();
            let _ = consumer.0.wait();
            let out = stderr.lock().unwrap().clone();
            panic!(
                "{phase}: kfk's console consumer read {} of {n} distinct records; its stderr: {out}",
                read.lock().unwrap().len()
            );
        }
    };
    produce(0..500);
    wait_read(500, "before the kills", &mut consumer);
    for round in 0..2 {
        let coordinator = (1..=3)
            .map(|n| coordinator_of(&c.bootstrap(n), "through-kills"))
            .find(|&n| n > 0)
            .expect("the group has a coordinator");
        c.kill9(coordinator);
        let at = Instant::now();
        let base = 500 * (round + 1);
        produce(base..base + 500);
        let produced = at.elapsed();
        wait_read(
            base + 500,
            &format!("after killing coordinator {coordinator}"),
            &mut consumer,
        );
        println!(
            "round {round}: killed coordinator {coordinator}; 500 more produced in {:.2}s, \
             all read {:.2}s after the kill",
            produced.as_secs_f64(),
            at.elapsed().as_secs_f64()
        );
        // Back to three nodes before the next kill, so min.insync.replicas=2 still holds.
        c.start_node(coordinator);
        wait_healed(&c, "cg", 3, &[1, 2, 3], Duration::from_secs(30));
    }
    let want: BTreeSet<String> = (0..1500).map(|i| format!("v{i}")).collect();
    assert_eq!(
        *read.lock().unwrap(),
        want,
        "every record read, nothing else"
    );
    assert!(
        consumer.0.try_wait().unwrap().is_none(),
        "the console consumer exited during the kills"
    );
    drop(consumer);
    let _ = reader.join();
}

/// kafka-python's admin client against a 3-node cluster: elect_leaders (preferred) moves a
/// partition's leadership back to its first replica; describe_log_dirs lists each broker's
/// partitions with their sizes.
#[test]
fn kafka_python_elects_preferred_leaders_and_describes_log_dirs() {
    if !common::require_python_module(
        "kafka_python_elects_preferred_leaders_and_describes_log_dirs",
        "kafka",
    ) {
        return;
    }
    let mut c = TestCluster::start(3, FAST);
    create(&c, "el", 3, 3, 2);
    wait_healed(&c, "el", 3, &[1, 2, 3], Duration::from_secs(10));
    let (_, err, code) = kfk(
        &[
            "console-producer",
            "--bootstrap-server",
            &c.bootstrap_all(),
            "--topic",
            "el",
        ],
        b"a\nb\nc\n",
    );
    assert_eq!(code, 0, "{err}");
    // Move partition 0's leadership away from its preferred replica.
    let (_, replicas, _) = partitions_seen_by(&c, 1, "el")[0].clone();
    let preferred = replicas[0];
    c.stop(preferred);
    let other = if preferred == 1 { 2 } else { 1 };
    assert!(wait_until(Duration::from_secs(10), || {
        let l = leader_of(&c, "el", 0, other);
        l > 0 && l != preferred
    }));
    c.start_node(preferred);
    wait_healed(&c, "el", 3, &[1, 2, 3], Duration::from_secs(30));
    assert_ne!(leader_of(&c, "el", 0, other), preferred);
    let script = format!(
        "from kafka.admin import KafkaAdminClient\n\
         a = KafkaAdminClient(bootstrap_servers='{}')\n\
         r = a.elect_leaders(0, {{'el': [0]}})\n\
         print('elected', [(t.topic, [(p.partition_id, p.error_code) for p in t.partition_result]) for t in r.replica_election_results])\n\
         for b in a.describe_log_dirs():\n\
         \x20   for res in b['log_dirs']:\n\
         \x20       for t in res['topics']:\n\
         \x20           if t['name'] == 'el':\n\
         \x20               for p in t['partitions']:\n\
         \x20                   print('logdir', b['broker'], t['name'], p['partition_index'], p['partition_size'])\n",
        c.bootstrap(other)
    );
    let (out, err, code) = run_with_input(
        Path::new("python3"),
        &["-c", &script],
        b"",
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "kafka-python: {err}");
    let out = String::from_utf8_lossy(&out).into_owned();
    assert!(out.contains("elected [('el', [(0, 0)])]"), "{out}");
    assert!(
        wait_until(Duration::from_secs(5), || leader_of(&c, "el", 0, other)
            == preferred),
        "partition 0 is led by {} after the preferred election",
        leader_of(&c, "el", 0, other)
    );
    // kfk's tool (and Kafka's) find nothing left to elect.
    let (out2, err, code) = kfk(
        &[
            "leader-election",
            "--bootstrap-server",
            &c.bootstrap(other),
            "--election-type",
            "PREFERRED",
            "--topic",
            "el",
            "--partition",
            "0",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out2, "Valid replica already elected for partitions el-0\n");
    if let Some(script) = common::require_kafka_reference(
        "kafka_python_elects_preferred_leaders_and_describes_log_dirs",
    ) {
        let (theirs, err, code) = common::kafka_tool(
            &script,
            "kafka-leader-election",
            &[
                "--bootstrap-server",
                &c.bootstrap(other),
                "--election-type",
                "PREFERRED",
                "--all-topic-partitions",
            ],
        );
        assert_eq!(code, 0, "kafka-leader-election: {theirs}{err}");
    }
    let sizes: Vec<&str> = out.lines().filter(|l| l.starts_with("logdir")).collect();
    assert_eq!(
        sizes.len(),
        9,
        "three partitions on each of three brokers: {out}"
    );
    assert!(
        sizes.iter().any(|l| !l.ends_with(" 0")),
        "a partition with records has a size: {out}"
    );
}

/// Partition reassignment with kafka-python's admin client: a replica moves to a fourth
/// broker; the new replica catches up (its log identical to the leader's) before the old
/// one is dropped and its log deleted.
#[test]
fn kafka_python_reassigns_a_partition_to_another_broker() {
    if !common::require_python_module(
        "kafka_python_reassigns_a_partition_to_another_broker",
        "kafka",
    ) {
        return;
    }
    let c = TestCluster::start_roles(
        &[
            "broker,controller",
            "broker,controller",
            "broker,controller",
            "broker",
        ],
        FAST,
    );
    let (_, err, code) = kfk(
        &[
            "topics",
            "--bootstrap-server",
            &c.bootstrap(1),
            "--create",
            "--topic",
            "ra",
            "--replica-assignment",
            "1:2",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let input: String = (0..500).map(|i| format!("r{i}\n")).collect();
    let (_, err, code) = kfk(
        &[
            "console-producer",
            "--bootstrap-server",
            &c.bootstrap(1),
            "--topic",
            "ra",
        ],
        input.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let script = format!(
        "from kafka.admin import KafkaAdminClient\n\
         from kafka import TopicPartition\n\
         a = KafkaAdminClient(bootstrap_servers='{}')\n\
         print('altered', a.alter_partition_reassignments({{TopicPartition('ra', 0): [1, 4]}}))\n\
         print('listed', a.list_partition_reassignments())\n",
        c.bootstrap(3)
    );
    let (out, err, code) = run_with_input(
        Path::new("python3"),
        &["-c", &script],
        b"",
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "kafka-python: {err}");
    let out = String::from_utf8_lossy(&out).into_owned();
    assert!(
        out.contains("altered {TopicPartition(topic='ra', partition=0): None}"),
        "{out}"
    );
    assert!(
        wait_until(Duration::from_secs(20), || {
            partitions_seen_by(&c, 3, "ra")
                .first()
                .is_some_and(|p| p.1 == [1, 4] && p.2 == [1, 4])
        }),
        "{:?}",
        partitions_seen_by(&c, 3, "ra")
    );
    let leader_log = log_bytes(&c, 1, "ra", 0);
    assert!(!leader_log.is_empty());
    assert!(wait_until(Duration::from_secs(10), || log_bytes(
        &c, 4, "ra", 0
    ) == leader_log));
    assert!(
        wait_until(Duration::from_secs(10), || !c
            .node(2)
            .dir
            .join("ra-0")
            .exists()),
        "the old replica's log is still on broker 2"
    );
    let (out, _, _) = run_with_input(
        Path::new("python3"),
        &[
            "-c",
            &format!(
                "from kafka.admin import KafkaAdminClient\n\
                 print(KafkaAdminClient(bootstrap_servers='{}').list_partition_reassignments())\n",
                c.bootstrap(1)
            ),
        ],
        b"",
        Duration::from_secs(60),
    );
    assert_eq!(String::from_utf8_lossy(&out).trim(), "{}");
}

/// Rack-aware follower fetching (KIP-392): with `replica.selector.class` set to Kafka's
/// RackAwareReplicaSelector, a librdkafka consumer with `client.rack` reads from the in-sync
/// replica in its rack, not from the leader.
#[test]
fn a_consumer_reads_from_the_replica_in_its_rack() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::Message;
    let mut extra = FAST.to_vec();
    extra.extend([
        "broker.rack=rack-{id}",
        "replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector",
    ]);
    let c = TestCluster::start(3, &extra);
    create(&c, "rr", 1, 3, 1);
    wait_healed(&c, "rr", 1, &[1, 2, 3], Duration::from_secs(10));
    let input: String = (0..200).map(|i| format!("x{i}\n")).collect();
    let (_, err, code) = kfk(
        &[
            "console-producer",
            "--bootstrap-server",
            &c.bootstrap_all(),
            "--topic",
            "rr",
        ],
        input.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let leader = leader_of(&c, "rr", 0, 1);
    let follower = (1..=3).find(|n| *n != leader).unwrap();
    wait_healed(&c, "rr", 1, &[1, 2, 3], Duration::from_secs(10));
    logs_agree(&c, "rr", 1, &[1, 2, 3], Duration::from_secs(10), true);
    let bytes_out = |id: i32| -> u64 {
        c.scrape(id)
            .lines()
            .find(|l| l.starts_with("kafka_server_brokertopicmetrics_bytesout_total{topic=\"rr\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    };
    let leader_before = bytes_out(leader);
    let consumer: BaseConsumer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", c.bootstrap_all())
        .set("group.id", "rack-reader")
        .set("client.rack", format!("rack-{follower}"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset("rr", 0, rdkafka::Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).expect("assign");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < 200 && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            got.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    assert_eq!(got.len(), 200);
    assert!(
        bytes_out(follower) > 0,
        "the follower in the consumer's rack served nothing"
    );
    assert_eq!(
        bytes_out(leader),
        leader_before,
        "the leader served the consumer's records itself"
    );
}

/// Replication throttles: with `leader.replication.throttled.rate` set and the topic's
/// `leader.replication.throttled.replicas` naming every replica, a follower copies no faster
/// than the rate; removing the rate lets it catch up.
#[test]
fn a_throttled_follower_copies_no_faster_than_the_rate() {
    let c = TestCluster::start(3, FAST);
    let (_, err, code) = kfk(
        &[
            "topics",
            "--bootstrap-server",
            &c.bootstrap(1),
            "--create",
            "--topic",
            "th",
            "--replica-assignment",
            "1:2",
            "--config",
            "leader.replication.throttled.replicas=*",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let via = c.bootstrap(1);
    let configs = |args: &[&str]| {
        let mut all = vec![
            "configs",
            "--bootstrap-server",
            &via,
            "--entity-type",
            "brokers",
            "--entity-name",
            "1",
            "--alter",
        ];
        all.extend_from_slice(args);
        let (_, err, code) = kfk(&all, b"");
        assert_eq!(code, 0, "{err}");
    };
    configs(&["--add-config", "leader.replication.throttled.rate=10000"]);
    // 200 KB, acknowledged by the leader alone (acks=1).
    let line = "y".repeat(999);
    let input: String = (0..200).map(|_| format!("{line}\n")).collect();
    let (_, err, code) = kfk(
        &[
            "console-producer",
            "--bootstrap-server",
            &c.bootstrap(1),
            "--topic",
            "th",
            "--request-required-acks",
            "1",
        ],
        input.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    std::thread::sleep(Duration::from_secs(2));
    let (leader, follower) = (
        log_bytes(&c, 1, "th", 0).len(),
        log_bytes(&c, 2, "th", 0).len(),
    );
    assert!(leader > 150_000, "{leader}");
    assert!(
        follower < 80_000,
        "the follower copied {follower} of {leader} bytes in about 2 s at 10 KB/s"
    );
    configs(&["--delete-config", "leader.replication.throttled.rate"]);
    assert!(
        wait_until(Duration::from_secs(15), || log_bytes(&c, 2, "th", 0)
            == log_bytes(&c, 1, "th", 0)),
        "the follower did not catch up once the throttle was removed"
    );
}

/// `kfk reassign-partitions` as Kafka's tool, side by side with Kafka's own
/// `kafka-reassign-partitions` on a 4-broker cluster: --generate proposes a placement on the
/// listed brokers (the current assignment printed byte for byte as Kafka's tool prints it);
/// --execute with --throttle moves a partition to other brokers and sets Kafka's throttle
/// configs; --verify reports progress as Kafka's tool does and clears the throttles once
/// complete; Kafka's tool executes a plan kfk's verifies, and the other way round; bad
/// input is refused naming the flag.
#[test]
fn kfk_reassign_partitions_moves_partitions_as_kafkas_tool() {
    let test = "kfk_reassign_partitions_moves_partitions_as_kafkas_tool";
    let c = TestCluster::start_roles(
        &[
            "broker,controller",
            "broker,controller",
            "broker,controller",
            "broker",
        ],
        FAST,
    );
    let bs = c.bootstrap(1);
    let (_, err, code) = kfk(
        &[
            "topics",
            "--bootstrap-server",
            &bs,
            "--create",
            "--topic",
            "rp",
            "--replica-assignment",
            "1:2,2:3",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let input: String = (0..300).map(|i| format!("r{i}\n")).collect();
    let (_, err, code) = kfk(
        &[
            "console-producer",
            "--bootstrap-server",
            &bs,
            "--topic",
            "rp",
        ],
        input.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let topics = dir.path().join("topics.json");
    std::fs::write(&topics, r#"{"version":1,"topics":[{"topic":"rp"}]}"#).unwrap();
    let topics = topics.to_str().unwrap().to_string();
    let reassign = |args: &[&str]| {
        let mut all = vec!["reassign-partitions", "--bootstrap-server", &bs];
        all.extend_from_slice(args);
        kfk(&all, b"")
    };

    // --generate: the current assignment, then a proposal on brokers 2,3,4.
    let (out, err, code) = reassign(&[
        "--topics-to-move-json-file",
        &topics,
        "--broker-list",
        "2,3,4",
        "--generate",
    ]);
    assert_eq!(code, 0, "{err}");
    // Each replica's current log dir, as Kafka 4.4's tool prints it (4.1 printed "any").
    let d = |id: i32| {
        let node = c.nodes.iter().find(|n| n.id == id).unwrap();
        serde_json::Value::String(node.dir.display().to_string()).to_string()
    };
    let current = format!(
        r#"{{"version":1,"partitions":[{{"topic":"rp","partition":0,"replicas":[1,2],"log_dirs":[{},{}]}},{{"topic":"rp","partition":1,"replicas":[2,3],"log_dirs":[{},{}]}}]}}"#,
        d(1),
        d(2),
        d(2),
        d(3)
    );
    let current = current.as_str();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        ["Current partition replica assignment", current, ""],
        "{out}"
    );
    assert_eq!(
        lines[3], "Proposed partition reassignment configuration",
        "{out}"
    );
    let proposed: serde_json::Value = serde_json::from_str(lines[4]).unwrap();
    let parts = proposed["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{out}");
    for p in parts {
        let replicas: Vec<i64> = p["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_i64().unwrap())
            .collect();
        assert_eq!(replicas.len(), 2, "{out}");
        assert!(
            replicas.iter().all(|r| (2..=4).contains(r)) && replicas[0] != replicas[1],
            "{out}"
        );
    }

    // --execute with a throttle: partition 0 moves from 1,2 to 3,4.
    let plan = dir.path().join("plan.json");
    std::fs::write(
        &plan,
        r#"{"version":1,"partitions":[{"topic":"rp","partition":0,"replicas":[3,4],"log_dirs":["any","any"]}]}"#,
    )
    .unwrap();
    let plan = plan.to_str().unwrap().to_string();
    let (out, err, code) = reassign(&[
        "--reassignment-json-file",
        &plan,
        "--execute",
        "--throttle",
        "50000000",
    ]);
    assert_eq!(code, 0, "{err}");
    let rollback = format!(
        r#"{{"version":1,"partitions":[{{"topic":"rp","partition":0,"replicas":[1,2],"log_dirs":[{},{}]}}]}}"#,
        d(1),
        d(2)
    );
    assert_eq!(
        out,
        format!(
            "Current partition replica assignment\n\n{rollback}\n\nSave this to use as the \
             --reassignment-json-file option during rollback\nWarning: You must run --verify \
             periodically, until the reassignment completes, to ensure the throttle is \
             removed.\nThe inter-broker throttle limit was set to 50000000 B/s\nSuccessfully \
             started partition reassignment for rp-0\n"
        )
    );
    let (topic_configs, _, _) = kfk(
        &[
            "configs",
            "--bootstrap-server",
            &bs,
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            "rp",
        ],
        b"",
    );
    assert!(
        topic_configs.contains("leader.replication.throttled.replicas=0:1,0:2")
            && topic_configs.contains("follower.replication.throttled.replicas=0:3,0:4"),
        "{topic_configs}"
    );
    // --verify until complete: then the throttles are cleared.
    let mut last = String::new();
    let done = wait_until(Duration::from_secs(30), || {
        let (out, err, code) = reassign(&["--reassignment-json-file", &plan, "--verify"]);
        assert_eq!(code, 0, "{err}");
        last = out;
        last.contains("is completed.")
    });
    assert!(done, "{last}");
    assert_eq!(
        last,
        "Status of partition reassignment:\nReassignment of partition rp-0 is completed.\n\n\
         Clearing broker-level throttles on brokers 1,2,3,4\nClearing topic-level throttles on topic rp\n"
    );
    let (topic_configs, _, _) = kfk(
        &[
            "configs",
            "--bootstrap-server",
            &bs,
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            "rp",
        ],
        b"",
    );
    assert!(!topic_configs.contains("throttled"), "{topic_configs}");
    assert_eq!(
        partitions_seen_by(&c, 1, "rp")[0].1,
        vec![3, 4],
        "partition 0 did not move"
    );
    let (out, _, code) = reassign(&["--list"]);
    assert_eq!(
        (out.as_str(), code),
        ("No partition reassignments found.\n", 0)
    );

    // Refusals: an unknown broker, a bad file, two actions.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"version":1,"partitions":[{"topic":"rp","partition":0,"replicas":[3,9]}]}"#,
    )
    .unwrap();
    let (_, err, code) = reassign(&[
        "--reassignment-json-file",
        bad.to_str().unwrap(),
        "--execute",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("Unknown broker id 9"), "{err}");
    std::fs::write(&bad, "{not json").unwrap();
    let (_, err, code) = reassign(&[
        "--reassignment-json-file",
        bad.to_str().unwrap(),
        "--execute",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--reassignment-json-file"), "{err}");
    let (_, err, code) = reassign(&["--list", "--verify", "--reassignment-json-file", &plan]);
    assert_eq!(code, 2, "{err}");

    // Kafka's own tool against the same cluster: its --generate prints the same current
    // assignment; it executes the rollback plan, and kfk's --verify and Kafka's agree.
    let Some(script) = common::require_kafka_reference(test) else {
        return;
    };
    let (theirs, err, code) = common::kafka_tool(
        &script,
        "kafka-reassign-partitions",
        &[
            "--bootstrap-server",
            &bs,
            "--topics-to-move-json-file",
            &topics,
            "--broker-list",
            "1,2,3",
            "--generate",
        ],
    );
    assert_eq!(code, 0, "{theirs}{err}");
    let moved = format!(
        r#"{{"version":1,"partitions":[{{"topic":"rp","partition":0,"replicas":[3,4],"log_dirs":[{},{}]}},{{"topic":"rp","partition":1,"replicas":[2,3],"log_dirs":[{},{}]}}]}}"#,
        d(3),
        d(4),
        d(2),
        d(3)
    );
    let moved = moved.as_str();
    assert_eq!(
        theirs.lines().take(3).collect::<Vec<_>>(),
        ["Current partition replica assignment", moved, ""],
        "{theirs}"
    );
    let back = dir.path().join("back.json");
    std::fs::write(&back, rollback).unwrap();
    let back = back.to_str().unwrap().to_string();
    let (theirs, err, code) = common::kafka_tool(
        &script,
        "kafka-reassign-partitions",
        &[
            "--bootstrap-server",
            &bs,
            "--reassignment-json-file",
            &back,
            "--execute",
        ],
    );
    assert_eq!(code, 0, "{theirs}{err}");
    assert!(
        theirs.contains("Successfully started partition reassignment for rp-0"),
        "{theirs}"
    );
    let done = wait_until(Duration::from_secs(30), || {
        let (out, _, _) = reassign(&[
            "--reassignment-json-file",
            &back,
            "--verify",
            "--preserve-throttles",
        ]);
        out.contains("is completed.")
    });
    assert!(done);
    let (ours, err, code) = reassign(&["--reassignment-json-file", &back, "--verify"]);
    assert_eq!(code, 0, "{err}");
    let (theirs, err, code) = common::kafka_tool(
        &script,
        "kafka-reassign-partitions",
        &[
            "--bootstrap-server",
            &bs,
            "--reassignment-json-file",
            &back,
            "--verify",
        ],
    );
    assert_eq!(code, 0, "{theirs}{err}");
    assert_eq!(ours, theirs);
    assert_eq!(partitions_seen_by(&c, 1, "rp")[0].1, vec![1, 2]);
}
