//! Invoked through a link named after one of Kafka's scripts, `kfk` acts as that tool.

use std::process::Command;

#[test]
fn links_named_after_kafka_scripts_run_their_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    for (link, usage) in [
        ("kafka-console-producer.sh", "Usage: kfk console-producer"),
        ("kafka-console-consumer", "Usage: kfk console-consumer"),
        ("kafka-consumer-groups.sh", "Usage: kfk consumer-groups"),
        ("kafka-dump-log.sh", "Usage: kfk dump-log"),
    ] {
        let path = dir.path().join(link);
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kfk"), &path).unwrap();
        let out = Command::new(&path).arg("--help").output().unwrap();
        assert!(out.status.success(), "{link}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(usage), "{link}: {text}");
    }
    // A bad flag through a link: one line naming it, exit 2.
    let path = dir.path().join("kafka-consumer-groups.sh");
    let out = Command::new(&path).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--bogus"), "{err}");
}
