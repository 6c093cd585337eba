//! Restarts: after a clean stop or `kill -9` (under every flush policy), every acknowledged
//! record is read back, offsets continue, topics keep their ids, configs and idempotent
//! producer state persist, and producer ids are never reused.

mod common;

use common::{batch_of, RawClient, TestBroker};
use kfk::protocol::messages::describe_configs_request::{
    DescribeConfigsRequest, DescribeConfigsResource,
};
use kfk::protocol::{ApiKey, RequestBody, ResponseBody};

fn retention_of(client: &mut RawClient, topic: &str) -> Option<String> {
    let body = RequestBody::DescribeConfigs(DescribeConfigsRequest {
        resources: vec![DescribeConfigsResource {
            resource_type: 2,
            resource_name: topic.into(),
            configuration_keys: Some(vec!["retention.ms".into()]),
            ..Default::default()
        }],
        ..Default::default()
    });
    let ResponseBody::DescribeConfigs(r) = client.call(ApiKey::DescribeConfigs, 4, body) else {
        panic!()
    };
    r.results[0].configs.first().and_then(|c| c.value.clone())
}

fn values(n: std::ops::Range<usize>) -> Vec<String> {
    n.map(|i| format!("record-{i}")).collect()
}

#[test]
fn a_clean_restart_keeps_records_offsets_topic_ids_configs_and_producer_state() {
    let mut broker = TestBroker::start();
    let mut c = RawClient::connect(&broker.bootstrap());
    assert_eq!(
        c.create_topic("kept", 2, &[("retention.ms", "123456789")]),
        0
    );
    let (id, partitions) = c.topic_id("kept");
    assert_eq!(partitions, 2);
    let (pid, epoch) = c.init_producer_id();
    let all = values(0..100);
    for (i, chunk) in all.chunks(10).enumerate() {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        assert_eq!(
            c.produce(
                "kept",
                0,
                batch_of(&refs, Some((pid, epoch, (i * 10) as i32)))
            ),
            (0, (i * 10) as i64)
        );
    }
    broker.stop();
    broker.restart();
    let mut c = RawClient::connect(&broker.bootstrap());
    assert_eq!(c.topic_id("kept"), (id, 2), "same topic id after restart");
    assert_eq!(retention_of(&mut c, "kept").as_deref(), Some("123456789"));
    let got: Vec<String> = c
        .fetch_all("kept", 0)
        .into_iter()
        .map(|(_, v)| String::from_utf8(v.unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(got, all);
    // The retry of the last batch is a duplicate; a gap is refused; the next batch continues.
    let last: Vec<&str> = all[90..].iter().map(String::as_str).collect();
    assert_eq!(
        c.produce("kept", 0, batch_of(&last, Some((pid, epoch, 90)))),
        (0, 90),
        "duplicate answered with the original offset"
    );
    assert_eq!(
        c.produce("kept", 0, batch_of(&["x"], Some((pid, epoch, 105))))
            .0,
        45,
        "OUT_OF_ORDER_SEQUENCE_NUMBER"
    );
    assert_eq!(
        c.produce("kept", 0, batch_of(&["next"], Some((pid, epoch, 100)))),
        (0, 100),
        "offsets continue"
    );
    let (pid2, _) = c.init_producer_id();
    assert!(
        pid2 > pid,
        "producer ids are never reused after a restart ({pid2} after {pid})"
    );
}

#[test]
fn kill_9_loses_nothing_acknowledged_under_every_flush_policy() {
    for policy in [
        None,
        Some("log.flush.interval.messages=1"),
        Some("log.flush.interval.ms=10"),
    ] {
        let extra: Vec<&str> = policy.map(|p| vec!["--override", p]).unwrap_or_default();
        let mut broker = TestBroker::start_with(&extra);
        let mut c = RawClient::connect(&broker.bootstrap());
        assert_eq!(c.create_topic("k9", 1, &[]), 0);
        let all = values(0..500);
        for chunk in all.chunks(5) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            assert_eq!(c.produce("k9", 0, batch_of(&refs, None)).0, 0);
        }
        broker.kill9();
        broker.restart();
        let mut c = RawClient::connect(&broker.bootstrap());
        let got: Vec<String> = c
            .fetch_all("k9", 0)
            .into_iter()
            .map(|(_, v)| String::from_utf8(v.unwrap().to_vec()).unwrap())
            .collect();
        assert_eq!(got, all, "policy {policy:?}");
        assert_eq!(
            c.produce("k9", 0, batch_of(&["after"], None)),
            (0, 500),
            "policy {policy:?}: offsets continue"
        );
    }
}

/// `(dir, is_future, offset_lag)` of each replica of `topic`-0 DescribeLogDirs reports.
fn replicas_of(client: &mut RawClient, topic: &str) -> Vec<(String, bool, i64)> {
    use kfk::protocol::messages::describe_log_dirs_request::DescribeLogDirsRequest;
    let body = RequestBody::DescribeLogDirs(DescribeLogDirsRequest {
        topics: None,
        ..Default::default()
    });
    let ResponseBody::DescribeLogDirs(r) = client.call(ApiKey::DescribeLogDirs, 4, body) else {
        panic!()
    };
    let mut out = Vec::new();
    for d in r.results {
        for t in d.topics.iter().filter(|t| t.name == topic) {
            for p in t.partitions.iter().filter(|p| p.partition_index == 0) {
                out.push((d.log_dir.clone(), p.is_future_key, p.offset_lag));
            }
        }
    }
    out.sort();
    out
}

fn alter_log_dir(client: &mut RawClient, topic: &str, partition: i32, dir: &str) -> i16 {
    use kfk::protocol::messages::alter_replica_log_dirs_request::{
        AlterReplicaLogDir, AlterReplicaLogDirTopic, AlterReplicaLogDirsRequest,
    };
    let body = RequestBody::AlterReplicaLogDirs(AlterReplicaLogDirsRequest {
        dirs: vec![AlterReplicaLogDir {
            path: dir.into(),
            topics: vec![AlterReplicaLogDirTopic {
                name: topic.into(),
                partitions: vec![partition],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let ResponseBody::AlterReplicaLogDirs(r) = client.call(ApiKey::AlterReplicaLogDirs, 2, body)
    else {
        panic!()
    };
    r.results[0].partitions[0].error_code
}

/// Issue 25 item 9: AlterReplicaLogDirs moves a replica between a broker's log dirs (JBOD)
/// while it is written to: DescribeLogDirs shows the future replica in the target dir while
/// it copies (throttled by `replica.alter.log.dirs.io.max.bytes.per.second`), then the replica
/// there alone; every record reads back, and the replica stays there after a restart.
#[test]
fn a_replica_moves_between_log_dirs_while_written_and_stays_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let dirs = format!("{},{}", a.display(), b.display());
    let mut broker = TestBroker::start_on(std::path::Path::new(&dirs), &[]);
    let mut client = RawClient::connect(&broker.bootstrap());
    assert_eq!(client.create_topic("moving", 1, &[]), 0);
    let first: Vec<String> = values(0..2000)
        .iter()
        .map(|v| format!("{v}-{}", "x".repeat(200)))
        .collect();
    for chunk in first.chunks(100) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        assert_eq!(client.produce("moving", 0, batch_of(&refs, None)).0, 0);
    }
    let before = replicas_of(&mut client, "moving");
    assert_eq!(before.len(), 1, "{before:?}");
    let (source, target) = if before[0].0 == a.display().to_string() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let target_name = target.display().to_string();
    // Errors as Kafka's: a path that is no log dir; the move to where it is is a no-op.
    assert_eq!(
        alter_log_dir(&mut client, "moving", 0, "/nowhere"),
        57,
        "LOG_DIR_NOT_FOUND"
    );
    assert_eq!(
        alter_log_dir(&mut client, "moving", 0, &source.display().to_string()),
        0
    );
    assert_eq!(replicas_of(&mut client, "moving"), before);
    // Throttled to 50 kB/s, the ~450 kB copy takes seconds: the future replica shows.
    let set = |key: &str| {
        let (_, err, code) = common::run_with_input(
            std::path::Path::new(env!("CARGO_BIN_EXE_kfk")),
            &[
                "configs",
                "--bootstrap-server",
                &broker.bootstrap(),
                "--entity-type",
                "brokers",
                "--entity-name",
                "1",
                "--alter",
                key,
                if key == "--add-config" {
                    "replica.alter.log.dirs.io.max.bytes.per.second=50000"
                } else {
                    "replica.alter.log.dirs.io.max.bytes.per.second"
                },
            ],
            b"",
            std::time::Duration::from_secs(30),
        );
        assert_eq!(code, 0, "{err}");
    };
    set("--add-config");
    assert_eq!(alter_log_dir(&mut client, "moving", 0, &target_name), 0);
    let copying = common::cluster::wait_until(std::time::Duration::from_secs(5), || {
        replicas_of(&mut client, "moving")
            .iter()
            .any(|(d, future, lag)| *d == target_name && *future && *lag > 0)
    });
    assert!(copying, "{:?}", replicas_of(&mut client, "moving"));
    let second: Vec<String> = values(2000..2500);
    for chunk in second.chunks(50) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        assert_eq!(client.produce("moving", 0, batch_of(&refs, None)).0, 0);
    }
    set("--delete-config");
    let moved = common::cluster::wait_until(std::time::Duration::from_secs(20), || {
        replicas_of(&mut client, "moving") == vec![(target_name.clone(), false, 0)]
    });
    assert!(moved, "{:?}", replicas_of(&mut client, "moving"));
    assert!(!source.join("moving-0").exists());
    let names = |d: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("moving"))
            .collect()
    };
    // The old dir goes right after the swap.
    let cleaned = common::cluster::wait_until(std::time::Duration::from_secs(5), || {
        names(source).is_empty() && names(target) == vec!["moving-0"]
    });
    assert!(cleaned, "{:?} {:?}", names(source), names(target));
    let expected: Vec<String> = first.iter().chain(second.iter()).cloned().collect();
    let read = |client: &mut RawClient| -> Vec<String> {
        client
            .fetch_all("moving", 0)
            .into_iter()
            .map(|(_, v)| String::from_utf8(v.unwrap().to_vec()).unwrap())
            .collect()
    };
    assert_eq!(read(&mut client), expected);
    broker.stop();
    broker.restart();
    let mut client = RawClient::connect(&broker.bootstrap());
    assert_eq!(
        replicas_of(&mut client, "moving"),
        vec![(target_name, false, 0)]
    );
    assert_eq!(read(&mut client), expected);
}
