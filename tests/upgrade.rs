//! Upgrade: a data directory written by kfk 0.1.0 (`tests/fixtures/datadir-kfk-0.1.0.tar.gz`,
//! described in `tests/fixtures/README.md`) starts with today's broker and serves every topic,
//! record, topic config and committed offset it held.

mod common;

use common::{run_with_input, TestBroker};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn kfk() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_kfk"))
}

fn unpack_fixture(into: &Path) -> std::path::PathBuf {
    let archive = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/datadir-kfk-0.1.0.tar.gz"
    );
    let status = Command::new("tar")
        .args(["xzf", archive, "-C"])
        .arg(into)
        .status()
        .expect("tar");
    assert!(status.success(), "unpacking {archive}");
    into.join("data")
}

fn tool(broker: &TestBroker, args: &[&str]) -> String {
    let (out, err, code) = run_with_input(kfk(), args, b"", Duration::from_secs(60));
    let out = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(
        code,
        0,
        "kfk {args:?}: {out}\n{err}\nbroker: {:?}",
        broker.log.lock().unwrap()
    );
    out
}

fn consume_all(broker: &TestBroker, topic: &str, n: usize) -> Vec<String> {
    let bootstrap = broker.bootstrap();
    let max = n.to_string();
    let out = tool(
        broker,
        &[
            "console-consumer",
            "--bootstrap-server",
            &bootstrap,
            "--topic",
            topic,
            "--from-beginning",
            "--max-messages",
            &max,
            "--timeout-ms",
            "10000",
            "--property",
            "print.key=true",
        ],
    );
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn a_data_dir_written_by_kfk_0_1_0_starts_and_serves_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = unpack_fixture(tmp.path());
    let broker = TestBroker::start_on(&dir, &[]);
    let bootstrap = broker.bootstrap();

    let listed = tool(
        &broker,
        &["topics", "--bootstrap-server", &bootstrap, "--list"],
    );
    let topics: Vec<&str> = listed.lines().collect();
    assert_eq!(
        topics,
        ["__consumer_offsets", "compacted", "orders", "plain"]
    );

    let mut expected: Vec<String> = (1..=300).map(|i| format!("k{i}\tv{i}")).collect();
    expected.sort();
    assert_eq!(consume_all(&broker, "orders", 300), expected);
    let mut plain: Vec<String> = (1..=20).map(|i| format!("null\t{i}")).collect();
    plain.sort();
    assert_eq!(consume_all(&broker, "plain", 20), plain);
    let compacted = consume_all(&broker, "compacted", 50);
    for k in 0..5 {
        let last = (1..=50).filter(|i| i % 5 == k).max().unwrap();
        assert!(
            compacted.contains(&format!("k{k}\tc{last}")),
            "the latest value of k{k} is kept: {compacted:?}"
        );
    }

    let configs = tool(
        &broker,
        &[
            "configs",
            "--bootstrap-server",
            &bootstrap,
            "--describe",
            "--topic",
            "orders",
        ],
    );
    assert!(configs.contains("retention.ms=999999999"), "{configs}");

    let described = tool(
        &broker,
        &[
            "consumer-groups",
            "--bootstrap-server",
            &bootstrap,
            "--describe",
            "--group",
            "fixture-group",
        ],
    );
    for (partition, offset) in [(0, 98), (1, 96), (2, 106)] {
        let row = described
            .lines()
            .find(|l| {
                l.split_whitespace()
                    .take(3)
                    .eq(["fixture-group", "orders", &partition.to_string()])
            })
            .unwrap_or_else(|| panic!("no row for orders-{partition}: {described}"));
        let fields: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(fields[3], offset.to_string(), "{row}");
        assert_eq!(fields[4], offset.to_string(), "{row}");
    }
}
