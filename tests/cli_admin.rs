//! `kfk topics` and `kfk configs` end to end against a kfk broker: Kafka's output lines, bad
//! input as one line and a non-zero exit, and kafka-python's admin client seeing the result.

mod common;

use common::{require_python_module, run_with_input, TestBroker};
use std::path::Path;
use std::time::Duration;

fn kfk(broker: &TestBroker, args: &[&str]) -> (String, String, i32) {
    let b = broker.bootstrap();
    let mut all = vec![args[0], "--bootstrap-server", &b];
    all.extend_from_slice(&args[1..]);
    let (out, err, code) = run_with_input(
        Path::new(env!("CARGO_BIN_EXE_kfk")),
        &all,
        b"",
        Duration::from_secs(60),
    );
    (String::from_utf8_lossy(&out).into_owned(), err, code)
}

#[test]
fn topics_create_list_describe_alter_delete_as_kafka_prints_them() {
    let broker = TestBroker::start();
    let (out, err, code) = kfk(
        &broker,
        &[
            "topics",
            "--create",
            "--topic",
            "orders",
            "--partitions",
            "3",
            "--config",
            "retention.ms=60000",
        ],
    );
    assert_eq!(
        (out.as_str(), code),
        ("Created topic orders.\n", 0),
        "{err}"
    );
    let (_, err, code) = kfk(&broker, &["topics", "--create", "--topic", "orders"]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("Error while executing topic command : Topic 'orders' already exists."),
        "{err}"
    );
    assert_eq!(
        kfk(
            &broker,
            &["topics", "--create", "--topic", "orders", "--if-not-exists"]
        )
        .2,
        0
    );
    kfk(&broker, &["topics", "--create", "--topic", "payments"]);

    let (out, _, code) = kfk(&broker, &["topics", "--list"]);
    assert_eq!(code, 0);
    assert_eq!(out, "orders\npayments\n");

    let (out, _, _) = kfk(&broker, &["topics", "--describe", "--topic", "ord.*"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("Topic: orders\tTopicId: "), "{out}");
    assert!(
        lines[0]
            .ends_with("\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: retention.ms=60000"),
        "{out}"
    );
    assert_eq!(
        lines[1],
        "\tTopic: orders\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\tElr: \tLastKnownElr: "
    );

    assert_eq!(
        kfk(
            &broker,
            &[
                "topics",
                "--alter",
                "--topic",
                "orders",
                "--partitions",
                "5"
            ]
        )
        .2,
        0
    );
    let (out, _, _) = kfk(
        &broker,
        &[
            "topics",
            "--describe",
            "--topic",
            "orders",
            "--topics-with-overrides",
        ],
    );
    assert!(out.contains("PartitionCount: 5"), "{out}");
    assert_eq!(out.lines().count(), 1);
    let (_, err, code) = kfk(
        &broker,
        &[
            "topics",
            "--alter",
            "--topic",
            "orders",
            "--partitions",
            "2",
        ],
    );
    assert_eq!(code, 1, "{err}");
    let (out, _, code) = kfk(
        &broker,
        &["topics", "--describe", "--under-replicated-partitions"],
    );
    assert_eq!((out.as_str(), code), ("", 0));
    let (_, err, code) = kfk(
        &broker,
        &[
            "topics",
            "--create",
            "--topic",
            "x",
            "--replication-factor",
            "3",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("The target replication factor of 3 cannot be reached because only 1 broker(s) are registered"),
        "{err}"
    );

    assert_eq!(
        kfk(&broker, &["topics", "--delete", "--topic", "payments"]).2,
        0
    );
    let (_, err, code) = kfk(&broker, &["topics", "--delete", "--topic", "payments"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Topic 'payments' does not exist as expected"),
        "{err}"
    );
    assert_eq!(
        kfk(
            &broker,
            &["topics", "--delete", "--topic", "payments", "--if-exists"]
        )
        .2,
        0
    );
    let (out, _, _) = kfk(&broker, &["topics", "--list"]);
    assert_eq!(out, "orders\n");

    // Bad input: one line naming the problem, exit 2.
    for bad in [
        vec!["topics", "--list", "--describe"],
        vec!["topics", "--create"],
        vec!["topics", "--create", "--topic", "t", "--config", "novalue"],
        vec!["topics", "--alter", "--topic", "orders"],
    ] {
        let (_, err, code) = kfk(&broker, &bad);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{bad:?}: {err}");
    }
}

#[test]
fn configs_describe_and_alter_topics_and_brokers() {
    let broker = TestBroker::start();
    kfk(&broker, &["topics", "--create", "--topic", "cfg"]);
    let (out, err, code) = kfk(
        &broker,
        &[
            "configs",
            "--alter",
            "--entity-type",
            "topics",
            "--entity-name",
            "cfg",
            "--add-config",
            "retention.ms=60000,cleanup.policy=[compact,delete]",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "Completed updating config for topic cfg.\n");
    let (out, _, _) = kfk(&broker, &["configs", "--describe", "--topic", "cfg"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Dynamic configs for topic cfg are:");
    assert!(lines.iter().any(|l| l.starts_with("  retention.ms=60000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=60000")), "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  cleanup.policy=compact,delete ")),
        "{out}"
    );
    assert_eq!(
        kfk(
            &broker,
            &[
                "configs",
                "--alter",
                "--topic",
                "cfg",
                "--delete-config",
                "retention.ms"
            ]
        )
        .2,
        0
    );
    let (out, _, _) = kfk(&broker, &["configs", "--describe", "--topic", "cfg"]);
    assert!(!out.contains("retention.ms"), "{out}");
    let (out, _, _) = kfk(
        &broker,
        &["configs", "--describe", "--topic", "cfg", "--all"],
    );
    assert!(out.contains("  segment.bytes="), "{out}");

    let (out, err, code) = kfk(
        &broker,
        &[
            "configs",
            "--alter",
            "--entity-type",
            "brokers",
            "--entity-default",
            "--add-config",
            "log.retention.ms=3600000",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "Completed updating default config for brokers in the cluster.\n"
    );
    let (out, _, _) = kfk(
        &broker,
        &[
            "configs",
            "--describe",
            "--entity-type",
            "brokers",
            "--entity-default",
        ],
    );
    assert!(out.contains("  log.retention.ms=3600000 "), "{out}");
    // The new default shows up in the topic's effective config (no restart).
    let (out, _, _) = kfk(
        &broker,
        &["configs", "--describe", "--topic", "cfg", "--all"],
    );
    assert!(out.contains("  retention.ms=3600000 "), "{out}");

    let (_, err, code) = kfk(
        &broker,
        &[
            "configs",
            "--alter",
            "--topic",
            "cfg",
            "--add-config",
            "no.such.config=1",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    let (_, err, code) = kfk(&broker, &["configs", "--describe"]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");

    if require_python_module("configs_describe_and_alter_topics_and_brokers", "kafka") {
        let script = format!(
            "from kafka.admin import KafkaAdminClient, ConfigResource, ConfigResourceType\n\
             a = KafkaAdminClient(bootstrap_servers='{}')\n\
             assert 'cfg' in a.list_topics()\n\
             r = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, 'cfg')])\n\
             print(r)\n",
            broker.bootstrap()
        );
        let (out, err, code) = run_with_input(
            Path::new("python3"),
            &["-c", &script],
            b"",
            Duration::from_secs(60),
        );
        assert_eq!(code, 0, "{err}");
        let out = String::from_utf8_lossy(&out);
        assert!(
            out.contains("'cleanup.policy'") && out.contains("compact,delete"),
            "{out}"
        );
    }
}

/// Config sources as Kafka reports them: a value from the config file or a flag is
/// STATIC_BROKER_CONFIG, with Kafka's default after it as DEFAULT_CONFIG; a topic config the
/// broker sets statically names the broker key (issue 13, item 7).
#[test]
fn configs_set_at_start_are_static_broker_configs() {
    let broker = TestBroker::start_with(&[
        "--override",
        "num.partitions=3",
        "--override",
        "log.segment.bytes=100000000",
    ]);
    let b = broker.bootstrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kfk"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let brokers = run(&[
        "configs",
        "--bootstrap-server",
        &b,
        "--entity-type",
        "brokers",
        "--entity-name",
        "1",
        "--describe",
        "--all",
    ]);
    for want in [
        "  num.partitions=3 sensitive=false synonyms={STATIC_BROKER_CONFIG:num.partitions=3, DEFAULT_CONFIG:num.partitions=1}",
        "  log.segment.bytes=100000000 sensitive=false synonyms={STATIC_BROKER_CONFIG:log.segment.bytes=100000000, DEFAULT_CONFIG:log.segment.bytes=1073741824}",
        "  log.retention.ms=null sensitive=false synonyms={}",
    ] {
        assert!(brokers.lines().any(|l| l == want), "{want}\n{brokers}");
    }
    run(&[
        "topics",
        "--bootstrap-server",
        &b,
        "--create",
        "--topic",
        "sourced",
    ]);
    let topic = run(&[
        "configs",
        "--bootstrap-server",
        &b,
        "--entity-type",
        "topics",
        "--entity-name",
        "sourced",
        "--describe",
        "--all",
    ]);
    let want = "  segment.bytes=100000000 sensitive=false synonyms={STATIC_BROKER_CONFIG:log.segment.bytes=100000000, DEFAULT_CONFIG:log.segment.bytes=1073741824}";
    assert!(topic.lines().any(|l| l == want), "{topic}");
}
