//! Kafka's own tools (from the reference jars, by main class) against a kfk broker (issue 13,
//! item 3): topics, console producer and consumer, configs, get-offsets, delete-records,
//! consumer-groups, the perf tools, the verifiable producer and consumer, and the dump tool
//! reading kfk's segment files and its `__cluster_metadata` log like Kafka's own.

mod common;

use common::{kafka_tool, require_kafka_reference, run_with_input, TestBroker};
use std::path::Path;
use std::time::Duration;

/// Runs a tool and insists on exit 0: its stdout.
fn ok(script: &Path, tool: &str, args: &[&str]) -> String {
    let (out, err, code) = kafka_tool(script, tool, args);
    assert_eq!(code, 0, "{tool} {args:?} exited {code}:\n{out}\n{err}");
    out
}

fn with_input(script: &Path, tool: &str, args: &[&str], input: &str) -> String {
    let mut all = vec!["tool", tool];
    all.extend_from_slice(args);
    let (out, err, code) = run_with_input(script, &all, input.as_bytes(), Duration::from_secs(120));
    assert_eq!(code, 0, "{tool} {args:?} exited {code}:\n{err}");
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn kafkas_admin_and_console_tools_work_against_kfk() {
    let Some(script) = require_kafka_reference("kafkas_admin_and_console_tools_work_against_kfk")
    else {
        return;
    };
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    let bs = bs.as_str();

    // kafka-topics
    let out = ok(
        &script,
        "kafka-topics",
        &[
            "--bootstrap-server",
            bs,
            "--create",
            "--topic",
            "ktools",
            "--partitions",
            "3",
            "--replication-factor",
            "1",
            "--config",
            "retention.ms=3600000",
        ],
    );
    assert!(out.contains("Created topic ktools."), "{out}");
    let out = ok(
        &script,
        "kafka-topics",
        &["--bootstrap-server", bs, "--list"],
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), ["ktools"], "{out}");
    let out = ok(
        &script,
        "kafka-topics",
        &["--bootstrap-server", bs, "--describe", "--topic", "ktools"],
    );
    assert!(
        out.contains("Topic: ktools\tTopicId: ") && out.contains("PartitionCount: 3"),
        "{out}"
    );
    assert!(out.contains("Configs: retention.ms=3600000"), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("Leader: 1\tReplicas: 1\tIsr: 1"))
            .count(),
        3,
        "{out}"
    );
    ok(
        &script,
        "kafka-topics",
        &[
            "--bootstrap-server",
            bs,
            "--alter",
            "--topic",
            "ktools",
            "--partitions",
            "4",
        ],
    );

    // kafka-console-producer with keys, kafka-console-consumer printing them.
    let input: String = (0..40).map(|i| format!("k{i}:v{i}\n")).collect();
    with_input(
        &script,
        "kafka-console-producer",
        &[
            "--bootstrap-server",
            bs,
            "--topic",
            "ktools",
            "--reader-property",
            "parse.key=true",
            "--reader-property",
            "key.separator=:",
        ],
        &input,
    );
    let out = ok(
        &script,
        "kafka-console-consumer",
        &[
            "--bootstrap-server",
            bs,
            "--topic",
            "ktools",
            "--from-beginning",
            "--max-messages",
            "40",
            "--formatter-property",
            "print.key=true",
            "--formatter-property",
            "key.separator=:",
        ],
    );
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    let mut want: Vec<String> = (0..40).map(|i| format!("k{i}:v{i}")).collect();
    want.sort();
    assert_eq!(lines, want);

    // kafka-get-offsets: the sum over partitions is what was produced.
    let out = ok(
        &script,
        "kafka-get-offsets",
        &["--bootstrap-server", bs, "--topic", "ktools"],
    );
    let total: i64 = out
        .lines()
        .map(|l| l.rsplit(':').next().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!((out.lines().count(), total), (4, 40), "{out}");
    let p0_end: i64 = out
        .lines()
        .find(|l| l.starts_with("ktools:0:"))
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // kafka-delete-records on partition 0.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("delete.json");
    std::fs::write(
        &json,
        r#"{"partitions":[{"topic":"ktools","partition":0,"offset":2}],"version":1}"#,
    )
    .unwrap();
    let out = ok(
        &script,
        "kafka-delete-records",
        &[
            "--bootstrap-server",
            bs,
            "--offset-json-file",
            json.to_str().unwrap(),
        ],
    );
    assert!(
        out.contains("partition: ktools-0\tlow_watermark: 2"),
        "{out}"
    );
    let out = ok(
        &script,
        "kafka-get-offsets",
        &[
            "--bootstrap-server",
            bs,
            "--topic",
            "ktools",
            "--partitions",
            "0",
            "--time",
            "-2",
        ],
    );
    assert_eq!(out.trim(), "ktools:0:2");
    assert!(p0_end >= 2);

    // kafka-configs: alter, describe, delete a topic config; describe the broker.
    ok(
        &script,
        "kafka-configs",
        &[
            "--bootstrap-server",
            bs,
            "--entity-type",
            "topics",
            "--entity-name",
            "ktools",
            "--alter",
            "--add-config",
            "max.message.bytes=2000000,cleanup.policy=compact",
        ],
    );
    let out = ok(
        &script,
        "kafka-configs",
        &[
            "--bootstrap-server",
            bs,
            "--entity-type",
            "topics",
            "--entity-name",
            "ktools",
            "--describe",
        ],
    );
    for want in [
        "max.message.bytes=2000000",
        "cleanup.policy=compact",
        "retention.ms=3600000",
    ] {
        assert!(out.contains(want), "{want} in {out}");
    }
    ok(
        &script,
        "kafka-configs",
        &[
            "--bootstrap-server",
            bs,
            "--entity-type",
            "topics",
            "--entity-name",
            "ktools",
            "--alter",
            "--delete-config",
            "cleanup.policy",
        ],
    );
    let out = ok(
        &script,
        "kafka-configs",
        &[
            "--bootstrap-server",
            bs,
            "--entity-type",
            "topics",
            "--entity-name",
            "ktools",
            "--describe",
        ],
    );
    assert!(!out.contains("cleanup.policy"), "{out}");
    let out = ok(
        &script,
        "kafka-configs",
        &[
            "--bootstrap-server",
            bs,
            "--entity-type",
            "brokers",
            "--entity-name",
            "1",
            "--describe",
            "--all",
        ],
    );
    assert!(out.contains("num.partitions=1"), "{out}");

    // kafka-consumer-groups after a console consumer group read everything.
    ok(
        &script,
        "kafka-console-consumer",
        &[
            "--bootstrap-server",
            bs,
            "--topic",
            "ktools",
            "--group",
            "ktools-group",
            "--from-beginning",
            "--max-messages",
            "38",
        ],
    );
    let out = ok(
        &script,
        "kafka-consumer-groups",
        &["--bootstrap-server", bs, "--list"],
    );
    assert!(out.lines().any(|l| l == "ktools-group"), "{out}");
    let out = ok(
        &script,
        "kafka-consumer-groups",
        &[
            "--bootstrap-server",
            bs,
            "--describe",
            "--group",
            "ktools-group",
        ],
    );
    let lags: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("ktools-group"))
        .map(|l| l.split_whitespace().nth(5).unwrap())
        .collect();
    assert_eq!(lags, ["0"; 4], "{out}");

    // kafka-topics --delete
    ok(
        &script,
        "kafka-topics",
        &["--bootstrap-server", bs, "--delete", "--topic", "ktools"],
    );
    let out = ok(
        &script,
        "kafka-topics",
        &["--bootstrap-server", bs, "--list"],
    );
    assert!(!out.contains("ktools"), "{out}");
}

#[test]
fn kafkas_perf_and_verifiable_tools_work_against_kfk() {
    let Some(script) = require_kafka_reference("kafkas_perf_and_verifiable_tools_work_against_kfk")
    else {
        return;
    };
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    let bs = bs.as_str();
    let out = ok(
        &script,
        "kafka-producer-perf-test",
        &[
            "--topic",
            "kperf",
            "--num-records",
            "20000",
            "--record-size",
            "100",
            "--throughput",
            "-1",
            "--producer-props",
            &format!("bootstrap.servers={bs}"),
        ],
    );
    assert!(
        out.lines()
            .last()
            .is_some_and(|l| l.starts_with("20000 records sent")),
        "{out}"
    );
    let out = ok(
        &script,
        "kafka-consumer-perf-test",
        &[
            "--bootstrap-server",
            bs,
            "--topic",
            "kperf",
            "--messages",
            "20000",
        ],
    );
    let row = out.lines().last().unwrap();
    assert_eq!(row.split(", ").nth(4), Some("20000"), "{out}");

    // kafka-transactions describe-producers (DescribeProducers): the perf test's idempotent
    // producer, with the last sequence it wrote.
    let out = ok(
        &script,
        "kafka-transactions",
        &[
            "--bootstrap-server",
            bs,
            "describe-producers",
            "--topic",
            "kperf",
            "--partition",
            "0",
        ],
    );
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 1, "{out}");
    let last_sequence: i64 = rows[0][3].parse().unwrap();
    assert!(
        rows[0][0].parse::<i64>().unwrap() >= 0 && last_sequence >= 0,
        "{out}"
    );
    assert_eq!(rows[0][5], "None", "{out}");

    // The verifiable producer acknowledges every record; the verifiable consumer reads and
    // commits them all.
    let out = ok(
        &script,
        "kafka-verifiable-producer",
        &[
            "--bootstrap-server",
            bs,
            "--topic",
            "kverify",
            "--max-messages",
            "500",
            "--acks",
            "-1",
        ],
    );
    let acked = out
        .lines()
        .filter(|l| l.contains("\"name\":\"producer_send_success\""))
        .count();
    assert_eq!(acked, 500, "{out}");
    assert!(
        out.contains("\"name\":\"tool_data\"") && out.contains("\"acked\":500"),
        "{out}"
    );
    let out = ok(
        &script,
        "kafka-verifiable-consumer",
        &[
            "--bootstrap-server",
            bs,
            "--topic",
            "kverify",
            "--group-id",
            "kverify-group",
            "--max-messages",
            "500",
        ],
    );
    let consumed: u64 = out
        .lines()
        .filter(|l| l.contains("\"name\":\"records_consumed\""))
        .map(|l| {
            let count = l.split("\"count\":").nth(1).unwrap();
            count
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(consumed, 500, "{out}");
    assert!(
        out.contains("\"name\":\"offsets_committed\"") && out.contains("\"success\":true"),
        "{out}"
    );
}

#[test]
fn kafkas_dump_tool_reads_kfks_segments_and_metadata_log() {
    let Some(script) =
        require_kafka_reference("kafkas_dump_tool_reads_kfks_segments_and_metadata_log")
    else {
        return;
    };
    let mut broker = TestBroker::start();
    let bs = broker.bootstrap();
    let input: String = (0..25).map(|i| format!("line-{i}\n")).collect();
    let (_, err, code) = run_with_input(
        Path::new(env!("CARGO_BIN_EXE_kfk")),
        &[
            "console-producer",
            "--bootstrap-server",
            &bs,
            "--topic",
            "kdump",
            "--producer-property",
            "compression.type=zstd",
        ],
        input.as_bytes(),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}");
    broker.stop();
    let dir = broker.dir.clone();
    let segment = dir.join("kdump-0/00000000000000000000.log");
    let out = ok(
        &script,
        "kafka-dump-log",
        &[
            "--files",
            segment.to_str().unwrap(),
            "--print-data-log",
            "--deep-iteration",
        ],
    );
    assert!(out.contains("compresscodec: zstd"), "{out}");
    for i in [0, 24] {
        assert!(
            out.contains(&format!("payload: line-{i}\n")),
            "line-{i} in {out}"
        );
    }
    let index = dir.join("kdump-0/00000000000000000000.index");
    let (_, err, code) = kafka_tool(
        &script,
        "kafka-dump-log",
        &["--files", index.to_str().unwrap(), "--index-sanity-check"],
    );
    assert_eq!(code, 0, "{err}");

    let metadata = dir.join("__cluster_metadata-0/00000000000000000000.log");
    let out = ok(
        &script,
        "kafka-dump-log",
        &[
            "--files",
            metadata.to_str().unwrap(),
            "--cluster-metadata-decoder",
        ],
    );
    assert!(
        out.contains("\"type\":\"TOPIC_RECORD\"") && out.contains("\"name\":\"kdump\""),
        "{out}"
    );
    assert!(out.contains("PARTITION_RECORD"), "{out}");
    assert!(!out.contains("Exception"), "{out}");
}

/// Issue 25 item 8: `kfk console-consumer` takes Kafka's `--formatter` classes and
/// `--key-deserializer` / `--value-deserializer` by class name and prints exactly what
/// Kafka's console consumer prints for the same records (numbers as Java's toString).
#[test]
fn formatters_and_deserializers_print_as_kafkas_console_consumer() {
    let Some(script) =
        require_kafka_reference("formatters_and_deserializers_print_as_kafkas_console_consumer")
    else {
        return;
    };
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    let mut client = common::RawClient::connect(&bs);
    assert_eq!(client.create_topic("typed", 1, &[]), 0);
    let mut b = kfk::protocol::record_batch::BatchBuilder::new();
    for (i, x) in [
        1.5f64,
        1e10,
        0.001,
        1e-4,
        123456789.0,
        -0.0,
        100.0,
        9999999.0,
        1e7,
    ]
    .iter()
    .enumerate()
    {
        b.append(
            1000 + i as i64,
            Some(&(i as i32 - 3).to_be_bytes()),
            Some(&x.to_be_bytes()),
            &[],
        );
    }
    let (code, _) = client.produce("typed", 0, b.build(kfk::protocol::Compression::None));
    assert_eq!(code, 0);
    assert_eq!(client.create_topic("texts", 1, &[]), 0);
    let mut b = kfk::protocol::record_batch::BatchBuilder::new();
    b.append(
        1,
        Some(&7i64.to_be_bytes()),
        Some(b"2c2b5e1e-8a4b-4e8e-9c2c-6b2a1f1d7a10"),
        &[("h", Some(b"x"))],
    );
    b.append(2, None, Some(b"plain"), &[]);
    b.append(3, Some(&8i64.to_be_bytes()), None, &[]);
    let (code, _) = client.produce("texts", 0, b.build(kfk::protocol::Compression::None));
    assert_eq!(code, 0);

    const SER: &str = "org.apache.kafka.common.serialization.";
    let typed = [
        "--key-deserializer".to_string(),
        format!("{SER}IntegerDeserializer"),
        "--value-deserializer".into(),
        format!("{SER}DoubleDeserializer"),
        "--formatter-property".into(),
        "print.key=true".into(),
    ];
    let runs: Vec<(&str, usize, Vec<String>)> = vec![
        ("typed", 9, typed.to_vec()),
        (
            "typed",
            9,
            [
                &typed[..],
                &[
                    "--formatter".into(),
                    "org.apache.kafka.tools.consumer.LoggingMessageFormatter".into(),
                ],
            ]
            .concat(),
        ),
        (
            "typed",
            9,
            vec![
                "--formatter".into(),
                "org.apache.kafka.tools.consumer.NoOpMessageFormatter".into(),
            ],
        ),
        (
            "texts",
            1,
            vec![
                "--key-deserializer".into(),
                format!("{SER}LongDeserializer"),
                "--value-deserializer".into(),
                format!("{SER}UUIDDeserializer"),
                "--formatter-property".into(),
                "print.key=true".into(),
                "--formatter-property".into(),
                "print.headers=true".into(),
                "--formatter-property".into(),
                "print.offset=true".into(),
                "--formatter-property".into(),
                "print.value=false".into(),
            ],
        ),
        (
            "texts",
            3,
            vec![
                "--value-deserializer".into(),
                format!("{SER}StringDeserializer"),
                "--formatter-property".into(),
                "print.partition=true".into(),
                "--formatter-property".into(),
                "null.literal=NIL".into(),
            ],
        ),
    ];
    for (topic, n, extra) in runs {
        let max = n.to_string();
        let mut args = vec![
            "--bootstrap-server",
            bs.as_str(),
            "--topic",
            topic,
            "--from-beginning",
            "--max-messages",
            &max,
            "--timeout-ms",
            "10000",
        ];
        args.extend(extra.iter().map(String::as_str));
        let kafkas = ok(&script, "kafka-console-consumer", &args);
        let mut kfks_args = vec!["console-consumer"];
        kfks_args.extend_from_slice(&args);
        let (out, err, code) = run_with_input(
            Path::new(env!("CARGO_BIN_EXE_kfk")),
            &kfks_args,
            b"",
            Duration::from_secs(60),
        );
        assert_eq!(code, 0, "{extra:?}: {err}");
        assert_eq!(String::from_utf8_lossy(&out), kafkas, "{extra:?}");
    }
    // A record a deserializer refuses stops the consumer with the reason, unless skipped.
    let refused = |skip: bool| {
        let mut args = vec![
            "console-consumer",
            "--bootstrap-server",
            bs.as_str(),
            "--topic",
            "texts",
            "--from-beginning",
            "--max-messages",
            "3",
            "--timeout-ms",
            "5000",
            "--key-deserializer",
            "org.apache.kafka.common.serialization.LongDeserializer",
            "--property",
            "print.key=true",
        ];
        if skip {
            args.push("--skip-message-on-error");
        }
        run_with_input(
            Path::new(env!("CARGO_BIN_EXE_kfk")),
            &args,
            b"",
            Duration::from_secs(60),
        )
    };
    let (out, err, code) = refused(false);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("Size of data received by LongDeserializer is not 8"),
        "{err}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out),
        "7\t2c2b5e1e-8a4b-4e8e-9c2c-6b2a1f1d7a10\n"
    );
    let (out, err, code) = refused(true);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        String::from_utf8_lossy(&out),
        "7\t2c2b5e1e-8a4b-4e8e-9c2c-6b2a1f1d7a10\n8\tnull\n"
    );
}

/// Issue 25 item 9: log_dirs in a reassignment plan move replicas between a broker's log dirs
/// (JBOD). kfk's reassign-partitions starts the moves (with --replica-alter-log-dirs-throttle)
/// printing Kafka's lines, and its --verify reports the moves as Kafka's tool does, while they
/// run and once done (then the throttles are cleared).
#[test]
fn reassignment_log_dirs_move_replicas_and_verify_as_kafkas_tool() {
    let Some(script) =
        require_kafka_reference("reassignment_log_dirs_move_replicas_and_verify_as_kafkas_tool")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let broker = TestBroker::start_on(Path::new(&format!("{},{}", a.display(), b.display())), &[]);
    let bs = broker.bootstrap();
    let kfk = |args: &[&str]| {
        let (out, err, code) = run_with_input(
            Path::new(env!("CARGO_BIN_EXE_kfk")),
            args,
            b"",
            Duration::from_secs(60),
        );
        assert_eq!(code, 0, "{args:?}: {err}");
        String::from_utf8_lossy(&out).into_owned()
    };
    kfk(&[
        "topics",
        "--bootstrap-server",
        &bs,
        "--create",
        "--topic",
        "jbod",
        "--partitions",
        "2",
    ]);
    let lines: String = (0..4000)
        .map(|i| format!("k{i}\t{i:06}-{}\n", "y".repeat(100)))
        .collect();
    let (_, err, code) = run_with_input(
        Path::new(env!("CARGO_BIN_EXE_kfk")),
        &[
            "console-producer",
            "--bootstrap-server",
            &bs,
            "--topic",
            "jbod",
            "--property",
            "parse.key=true",
        ],
        lines.as_bytes(),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}");
    let dir_of = |p: i32| {
        if a.join(format!("jbod-{p}")).exists() {
            (a.display().to_string(), b.display().to_string())
        } else {
            (b.display().to_string(), a.display().to_string())
        }
    };
    let (_, other0) = dir_of(0);
    let (here1, _) = dir_of(1);
    let plan = tmp.path().join("plan.json");
    std::fs::write(
        &plan,
        format!(
            r#"{{"version":1,"partitions":[{{"topic":"jbod","partition":0,"replicas":[1],"log_dirs":["{other0}"]}},{{"topic":"jbod","partition":1,"replicas":[1],"log_dirs":["any"]}}]}}"#
        ),
    )
    .unwrap();
    let plan = plan.to_str().unwrap();
    let out = kfk(&[
        "reassign-partitions",
        "--bootstrap-server",
        &bs,
        "--execute",
        "--reassignment-json-file",
        plan,
        "--replica-alter-log-dirs-throttle",
        "20000",
    ]);
    assert!(out.contains("The replica-alter-dir throttle limit was set to 20000 B/s\nSuccessfully started partition reassignments for jbod-0,jbod-1\n"), "{out}");
    assert!(
        out.contains(&format!("Successfully started moving log directory to {other0} for replica jbod-0 with broker 1 \n")),
        "{out}"
    );
    let verify = [
        "--bootstrap-server",
        bs.as_str(),
        "--verify",
        "--reassignment-json-file",
        plan,
    ];
    let kfks = kfk(&[&["reassign-partitions"][..], &verify].concat());
    let kafkas = ok(&script, "kafka-reassign-partitions", &verify);
    assert!(
        kfks.contains("Reassignment of replica jbod-0-1 is still in progress."),
        "{kfks}"
    );
    assert_eq!(kfks, kafkas, "left kfk, right Kafka's tool (moving)");
    kfk(&[
        "configs",
        "--bootstrap-server",
        &bs,
        "--entity-type",
        "brokers",
        "--entity-name",
        "1",
        "--alter",
        "--delete-config",
        "replica.alter.log.dirs.io.max.bytes.per.second",
    ]);
    let moved = common::cluster::wait_until(Duration::from_secs(20), || {
        Path::new(&other0).join("jbod-0").exists()
            && kfk(&[&["reassign-partitions"][..], &verify].concat())
                .contains("completed successfully")
    });
    assert!(moved);
    let kfks = kfk(&[&["reassign-partitions"][..], &verify].concat());
    let kafkas = ok(&script, "kafka-reassign-partitions", &verify);
    assert_eq!(kfks, kafkas, "left kfk, right Kafka's tool (moved)");
    assert!(kfks.contains("Reassignment of replica jbod-0-1 completed successfully.\nClearing broker-level throttles on broker 1\n"), "{kfks}");
    assert!(Path::new(&here1).join("jbod-1").exists());
}
