//! `kfk consumer-groups --reset-offsets` against Kafka's own tool (issue 11, item 13): every
//! scenario runs once with kfk's tool and once with Apache Kafka's `ConsumerGroupCommand`
//! (from the reference jars) on twin groups of one kfk broker that start from the same
//! committed offsets; the printed plans, the exports and the committed offsets must agree.

mod common;

use common::{kafka_tool, require_kafka_reference, run_with_input, RawClient, TestBroker};
use kfk::protocol::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kfk::protocol::record_batch::BatchBuilder;
use kfk::protocol::{ApiKey, Compression, RequestBody, ResponseBody};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

const TOPIC: &str = "resettable";
/// Committed offsets every scenario starts from, per partition.
const START: [i64; 3] = [5, 2, 9];
/// Records are this far apart, so a time boundary halfway between two stays between them
/// however long the scenarios before it take (each tool reads the clock when it runs).
const STEP_MS: i64 = 10 * 60_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn commit(client: &mut RawClient, group: &str, offsets: &[i64]) {
    let ResponseBody::OffsetCommit(r) = client.call(
        ApiKey::OffsetCommit,
        8,
        RequestBody::OffsetCommit(OffsetCommitRequest {
            group_id: group.into(),
            generation_id_or_member_epoch: -1,
            member_id: String::new(),
            topics: vec![OffsetCommitRequestTopic {
                name: TOPIC.into(),
                partitions: offsets
                    .iter()
                    .enumerate()
                    .map(|(p, o)| OffsetCommitRequestPartition {
                        partition_index: p as i32,
                        committed_offset: *o,
                        committed_leader_epoch: -1,
                        committed_metadata: Some(String::new()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }),
    ) else {
        panic!("not OffsetCommit")
    };
    assert!(r.topics[0].partitions.iter().all(|p| p.error_code == 0));
}

/// `(topic, partition, offset)` rows of a reset plan table or an export, whatever the order.
fn rows(text: &str) -> BTreeSet<(String, i32, i64)> {
    text.lines()
        .filter_map(|l| {
            let cols: Vec<&str> = if l.contains(',') {
                l.split(',').collect()
            } else {
                l.split_whitespace().skip(1).collect()
            };
            match cols[..] {
                [topic, partition, offset] => Some((
                    topic.to_string(),
                    partition.parse().ok()?,
                    offset.parse().ok()?,
                )),
                _ => None,
            }
        })
        .collect()
}

fn kfk_tool(args: &[&str]) -> (String, String, i32) {
    let (out, err, code) = run_with_input(
        Path::new(env!("CARGO_BIN_EXE_kfk")),
        args,
        b"",
        Duration::from_secs(60),
    );
    (String::from_utf8_lossy(&out).into_owned(), err, code)
}

#[test]
fn every_reset_scenario_matches_kafkas_own_tool() {
    let test = "every_reset_scenario_matches_kafkas_own_tool";
    let Some(reference) = require_kafka_reference(test) else {
        return;
    };
    let broker = TestBroker::start();
    let bootstrap = broker.bootstrap();
    let mut client = RawClient::connect(&bootstrap);
    assert_eq!(client.create_topic(TOPIC, 3, &[]), 0);
    // Ten records a partition, one a step, the last a step ago.
    let t0 = now_ms() - 10 * STEP_MS;
    for p in 0..3 {
        for i in 0..10 {
            let mut b = BatchBuilder::new();
            b.append(
                t0 + i * STEP_MS,
                None,
                Some(format!("p{p}-{i}").as_bytes()),
                &[],
            );
            let (code, _) = client.produce(TOPIC, p, b.build(Compression::None));
            assert_eq!(code, 0);
        }
    }
    let utc = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%S%.3f")
            .to_string()
    };
    let plus_two_hours = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms + 2 * 3_600_000)
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%S%.3f+02:00")
            .to_string()
    };
    let csv = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        csv.path(),
        format!("{TOPIC},0,3\n{TOPIC},1,7\n{TOPIC},2,1\n"),
    )
    .unwrap();
    let csv_path = csv.path().to_str().unwrap().to_string();
    let scenarios: Vec<Vec<String>> = [
        vec!["--to-earliest".to_string()],
        vec!["--to-latest".into()],
        vec!["--to-current".into()],
        vec!["--to-offset".into(), "4".into()],
        vec!["--to-offset".into(), "100".into()],
        vec!["--shift-by".into(), "3".into()],
        vec!["--shift-by".into(), "-4".into()],
        vec!["--to-datetime".into(), utc(t0 + 3 * STEP_MS + STEP_MS / 2)],
        vec!["--to-datetime".into(), plus_two_hours(t0 + 6 * STEP_MS)],
        vec!["--to-datetime".into(), utc(t0 + 60 * STEP_MS)],
        // 5.5 steps back: between the fifth and sixth record from the end.
        vec!["--by-duration".into(), "PT55M".into()],
        vec!["--by-duration".into(), "P1D".into()],
        vec!["--from-file".into(), csv_path],
    ]
    .into_iter()
    .collect();
    for (n, scenario) in scenarios.iter().enumerate() {
        let scenario: Vec<&str> = scenario.iter().map(String::as_str).collect();
        let (ours, theirs) = (format!("kfk-{n}"), format!("kafka-{n}"));
        commit(&mut client, &ours, &START);
        commit(&mut client, &theirs, &START);
        let args = |group: &str, mode: &[&'static str]| -> Vec<String> {
            let mut a: Vec<String> = [
                "--bootstrap-server",
                &bootstrap,
                "--reset-offsets",
                "--group",
                group,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            if !scenario.contains(&"--from-file") {
                a.extend(["--topic".to_string(), TOPIC.to_string()]);
            }
            a.extend(scenario.iter().map(|s| s.to_string()));
            a.extend(mode.iter().map(|s| s.to_string()));
            a
        };
        for mode in [&["--dry-run", "--export"][..], &["--execute"][..]] {
            let kfk_args = args(&ours, mode);
            let mut kfk_all: Vec<&str> = vec!["consumer-groups"];
            kfk_all.extend(kfk_args.iter().map(String::as_str));
            let (kfk_out, kfk_err, kfk_code) = kfk_tool(&kfk_all);
            let java_args = args(&theirs, mode);
            let java_all: Vec<&str> = java_args.iter().map(String::as_str).collect();
            let (java_out, java_err, java_code) =
                kafka_tool(&reference, "kafka-consumer-groups", &java_all);
            assert_eq!(
                (kfk_code, rows(&kfk_out)),
                (java_code, rows(&java_out)),
                "{scenario:?} {mode:?}\nkfk: {kfk_out}{kfk_err}\nkafka: {java_out}{java_err}"
            );
            assert!(!rows(&kfk_out).is_empty(), "{scenario:?}: {kfk_out}");
        }
        // Both tools committed the same offsets.
        let committed = |group: &str| {
            let (out, err, code) = kfk_tool(&[
                "consumer-groups",
                "--bootstrap-server",
                &bootstrap,
                "--describe",
                "--group",
                group,
            ]);
            assert_eq!(code, 0, "{err}");
            out.lines()
                .filter_map(|l| {
                    let c: Vec<&str> = l.split_whitespace().collect();
                    (c.len() >= 4 && c[1] == TOPIC).then(|| (c[2].to_string(), c[3].to_string()))
                })
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(committed(&ours), committed(&theirs), "{scenario:?}");
    }
}
