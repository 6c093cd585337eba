//! `kfk console-producer` and `kfk console-consumer` end to end: pipes of a million lines,
//! keys and headers, interop with kcat in both directions for every codec, and bad input.

mod common;

use common::{require_tool, run_with_input, TestBroker};
use std::path::Path;
use std::time::Duration;

fn kfk() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_kfk"))
}

fn produce(broker: &TestBroker, topic: &str, input: &[u8], extra: &[&str]) -> (String, i32) {
    let b = broker.bootstrap();
    let mut args = vec![
        "console-producer",
        "--bootstrap-server",
        &b,
        "--topic",
        topic,
    ];
    args.extend_from_slice(extra);
    let (_, err, code) = run_with_input(kfk(), &args, input, Duration::from_secs(120));
    (err, code)
}

fn consume(broker: &TestBroker, topic: &str, n: usize, extra: &[&str]) -> (Vec<u8>, String, i32) {
    let b = broker.bootstrap();
    let max = n.to_string();
    let mut args = vec![
        "console-consumer",
        "--bootstrap-server",
        &b,
        "--topic",
        topic,
        "--from-beginning",
        "--max-messages",
        &max,
        "--timeout-ms",
        "10000",
    ];
    args.extend_from_slice(extra);
    run_with_input(kfk(), &args, b"", Duration::from_secs(120))
}

#[test]
fn a_million_lines_round_trip_through_pipes_in_order() {
    let broker = TestBroker::start();
    let input: String = (1..=1_000_000).map(|i| format!("{i}\n")).collect();
    let (err, code) = produce(
        &broker,
        "million",
        input.as_bytes(),
        &["--producer-property", "linger.ms=5"],
    );
    assert_eq!(code, 0, "{err}");
    let (out, err, code) = consume(&broker, "million", 1_000_000, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out == input.as_bytes(),
        "the consumer printed exactly the produced lines ({} bytes vs {})",
        out.len(),
        input.len()
    );
    assert!(
        err.contains("Processed a total of 1000000 messages"),
        "{err}"
    );
}

#[test]
fn keys_and_headers_round_trip_with_parse_key_and_print_key() {
    let broker = TestBroker::start();
    let input = "h1:a,h2:b\tk1:v1\n\tk2:v2\nh3:c\tNULL:v3\n";
    let props = [
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=:",
        "--property",
        "parse.headers=true",
        "--property",
        "null.marker=NULL",
    ];
    let (err, code) = produce(&broker, "keyed", input.as_bytes(), &props);
    assert_eq!(code, 0, "{err}");
    let fmt = [
        "--property",
        "print.key=true",
        "--property",
        "print.headers=true",
        "--property",
        "key.separator=|",
        "--property",
        "print.offset=true",
    ];
    let (out, err, code) = consume(&broker, "keyed", 3, &fmt);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "Offset:0|h1:a,h2:b|k1|v1\nOffset:1|NO_HEADERS|k2|v2\nOffset:2|h3:c|null|v3\n"
    );
}

#[test]
fn kfk_and_kcat_interoperate_both_ways_in_every_codec() {
    let Some(kcat) = require_tool("kfk_and_kcat_interoperate_both_ways_in_every_codec", "kcat")
    else {
        return;
    };
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let input: String = (0..500)
            .map(|i| format!("k{i}\t{codec} value {i} {}\n", "z".repeat(i % 40)))
            .collect();
        let expected: String = input.lines().map(|l| l.replace('\t', ":") + "\n").collect();
        // kfk console-producer -> kcat.
        let topic = format!("to-kcat-{codec}");
        let (err, code) = produce(
            &broker,
            &topic,
            input.as_bytes(),
            &["--compression-codec", codec, "--property", "parse.key=true"],
        );
        assert_eq!(code, 0, "{codec}: {err}");
        let (out, err, code) = run_with_input(
            &kcat,
            &[
                "-b",
                &b,
                "-C",
                "-t",
                &topic,
                "-o",
                "beginning",
                "-e",
                "-f",
                "%k:%s\n",
            ],
            b"",
            Duration::from_secs(30),
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            expected,
            "kfk -> kcat, {codec}"
        );
        // kcat -> kfk console-consumer.
        let topic = format!("from-kcat-{codec}");
        let (_, err, code) = run_with_input(
            &kcat,
            &["-b", &b, "-P", "-t", &topic, "-K", "\t", "-z", codec],
            input.as_bytes(),
            Duration::from_secs(30),
        );
        assert_eq!(code, 0, "{err}");
        let (out, err, code) = consume(
            &broker,
            &topic,
            500,
            &[
                "--property",
                "print.key=true",
                "--property",
                "key.separator=:",
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            expected,
            "kcat -> kfk, {codec}"
        );
    }
}

/// Runs kfk with `args`; asserts one line on stderr mentioning `mentions` and a non-zero exit.
fn assert_refused(args: &[&str], input: &[u8], mentions: &str) {
    let (_, err, code) = run_with_input(kfk(), args, input, Duration::from_secs(30));
    assert_ne!(code, 0, "{args:?} must fail");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{args:?}: {err}"
    );
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("Processed a total"))
        .collect();
    assert!(lines.len() <= 3, "{args:?}: a short error, got: {err}");
    assert!(
        err.contains(mentions),
        "{args:?}: error should mention {mentions:?}: {err}"
    );
}

#[test]
fn bad_input_gets_one_clear_line_and_a_non_zero_exit() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    assert_refused(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "t",
            "--no-such-flag",
        ],
        b"",
        "--no-such-flag",
    );
    assert_refused(
        &["console-producer", "--bootstrap-server", &b],
        b"",
        "--topic",
    );
    assert_refused(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "t",
            "--property",
            "parse.key",
        ],
        b"",
        "parse.key",
    );
    assert_refused(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "t",
            "--property",
            "parse.key=true",
        ],
        b"no separator here\n",
        "No key separator found on line number 1",
    );
    assert_refused(
        &[
            "console-producer",
            "--bootstrap-server",
            "127.0.0.1:1",
            "--topic",
            "t",
        ],
        b"x\n",
        "no broker reachable at 127.0.0.1:1",
    );
    assert_refused(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "t",
            "--request-required-acks",
            "7",
        ],
        b"x\n",
        "acks",
    );
    assert_refused(
        &["console-consumer", "--bootstrap-server", &b],
        b"",
        "--topic",
    );
    assert_refused(
        &[
            "console-consumer",
            "--bootstrap-server",
            &b,
            "--topic",
            "t",
            "--offset",
            "12",
        ],
        b"",
        "--partition",
    );
    assert_refused(
        &[
            "console-consumer",
            "--bootstrap-server",
            &b,
            "--topic",
            "t",
            "--property",
            "print.bogus=true",
        ],
        b"",
        "print.bogus",
    );
    assert_refused(
        &[
            "console-consumer",
            "--bootstrap-server",
            "127.0.0.1:1",
            "--topic",
            "t",
        ],
        b"",
        "no broker reachable",
    );
}

#[test]
fn a_closed_stdout_ends_the_consumer_quietly() {
    let broker = TestBroker::start();
    let input: String = (0..20_000).map(|i| format!("{i}\n")).collect();
    assert_eq!(produce(&broker, "headed", input.as_bytes(), &[]).1, 0);
    let script = format!(
        "{} console-consumer --bootstrap-server {} --topic headed --from-beginning | head -3",
        kfk().display(),
        broker.bootstrap()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &format!("set -o pipefail; {script}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "exit 0 on a closed pipe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\n1\n2\n");
}

#[test]
fn kfk_and_kafka_python_interoperate_both_ways_in_every_codec() {
    if !common::require_python_module(
        "kfk_and_kafka_python_interoperate_both_ways_in_every_codec",
        "kafka",
    ) {
        return;
    }
    let python = Path::new("/usr/bin/env");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/kafka_python_console.py"
    );
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let input: String = (0..300)
            .map(|i| format!("k{i}\t{codec} value {i} {}\n", "q".repeat(i % 30)))
            .collect();
        let expected: String = input.lines().map(|l| l.replace('\t', ":") + "\n").collect();
        // kfk console-producer -> kafka-python.
        let topic = format!("to-py-{codec}");
        let (err, code) = produce(
            &broker,
            &topic,
            input.as_bytes(),
            &["--compression-codec", codec, "--property", "parse.key=true"],
        );
        assert_eq!(code, 0, "{codec}: {err}");
        let (out, err, code) = run_with_input(
            python,
            &["python3", script, "consume", &b, &topic, "300"],
            b"",
            Duration::from_secs(60),
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            expected,
            "kfk -> kafka-python, {codec}"
        );
        // kafka-python -> kfk console-consumer.
        let topic = format!("from-py-{codec}");
        let (_, err, code) = run_with_input(
            python,
            &["python3", script, "produce", &b, &topic, codec],
            input.as_bytes(),
            Duration::from_secs(60),
        );
        assert_eq!(code, 0, "{err}");
        let (out, err, code) = consume(
            &broker,
            &topic,
            300,
            &[
                "--property",
                "print.key=true",
                "--property",
                "key.separator=:",
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            expected,
            "kafka-python -> kfk, {codec}"
        );
    }
}

/// Issue 11, item 14: lines are bytes; a line that is not UTF-8 is sent unchanged.
#[test]
fn lines_that_are_not_utf8_are_produced_unchanged() {
    let broker = TestBroker::start();
    let mut client = common::RawClient::connect(&broker.bootstrap());
    assert_eq!(client.create_topic("bytes", 1, &[]), 0);
    let input: &[u8] = b"plain\n\xff\xfe latin-1 \xe9t\xe9\n\x00\x80\r\nlast";
    let (err, code) = produce(&broker, "bytes", input, &[]);
    assert_eq!(code, 0, "{err}");
    let values: Vec<Vec<u8>> = client
        .fetch_all("bytes", 0)
        .into_iter()
        .map(|(_, v)| v.unwrap().to_vec())
        .collect();
    assert_eq!(
        values,
        [
            b"plain".to_vec(),
            b"\xff\xfe latin-1 \xe9t\xe9".to_vec(),
            b"\x00\x80".to_vec(),
            b"last".to_vec()
        ]
    );
}

/// Issue 11, item 6: the consumer warns about properties it does not know, as the producer
/// does, and refuses bad socket buffer sizes naming the key.
#[test]
fn unknown_consumer_properties_are_warned_about() {
    let broker = TestBroker::start();
    let mut client = common::RawClient::connect(&broker.bootstrap());
    assert_eq!(client.create_topic("warned", 1, &[]), 0);
    assert_eq!(
        client
            .produce("warned", 0, common::batch_of(&["x"], None))
            .0,
        0
    );
    let (_, err, code) = consume(
        &broker,
        "warned",
        1,
        &["--consumer-property", "fetch.mni.bytes=1"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("fetch.mni.bytes") && err.contains("not a known config"),
        "{err}"
    );
    let (_, err, code) = consume(
        &broker,
        "warned",
        1,
        &["--consumer-property", "receive.buffer.bytes=-5"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("receive.buffer.bytes"), "{err}");
}
