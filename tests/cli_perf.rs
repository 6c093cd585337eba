//! `kfk producer-perf-test` and `kfk consumer-perf-test` against a kfk broker: Kafka's output
//! lines, and bad input as one line with a non-zero exit.

mod common;

use common::{run_with_input, TestBroker};
use std::path::Path;
use std::time::Duration;

fn kfk(args: &[&str]) -> (String, String, i32) {
    let (out, err, code) = run_with_input(
        Path::new(env!("CARGO_BIN_EXE_kfk")),
        args,
        b"",
        Duration::from_secs(120),
    );
    (String::from_utf8_lossy(&out).into_owned(), err, code)
}

#[test]
fn perf_tools_print_kafkas_lines_and_count_every_record() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    let servers = format!("bootstrap.servers={b}");
    let (out, err, code) = kfk(&[
        "producer-perf-test",
        "--topic",
        "perf",
        "--num-records",
        "50000",
        "--record-size",
        "100",
        "--throughput",
        "-1",
        "--producer-props",
        &servers,
        "acks=1",
        "linger.ms=5",
        "--print-metrics",
    ]);
    assert_eq!(code, 0, "{err}");
    let last = out
        .lines()
        .find(|l| l.starts_with("50000 records sent, "))
        .unwrap_or_else(|| panic!("{out}"));
    // "N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency,
    //  P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th."
    let parts: Vec<&str> = last.split(", ").collect();
    assert_eq!(parts.len(), 8, "{last}");
    assert!(
        parts[1].ends_with(" MB/sec)") && parts[1].contains(" records/sec ("),
        "{last}"
    );
    assert!(parts[2].ends_with(" ms avg latency") && parts[3].ends_with(" ms max latency"));
    assert!(parts[7].ends_with(" ms 99.9th."), "{last}");
    assert!(out.contains("producer-metrics:record-send-total"), "{out}");

    // Throttled: 200 records at 100/s take about two seconds.
    let started = std::time::Instant::now();
    let (_, err, code) = kfk(&[
        "producer-perf-test",
        "--topic",
        "perf",
        "--num-records",
        "200",
        "--record-size",
        "10",
        "--throughput",
        "100",
        "--bootstrap-server",
        &b,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        started.elapsed() >= Duration::from_millis(1800),
        "{:?}",
        started.elapsed()
    );

    let payloads = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(payloads.path(), "alpha\nbeta\ngamma\n").unwrap();
    let (out, err, code) = kfk(&[
        "producer-perf-test",
        "--topic",
        "perf",
        "--num-records",
        "750",
        "--payload-file",
        payloads.path().to_str().unwrap(),
        "--throughput",
        "-1",
        "--bootstrap-server",
        &b,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Number of messages read: 3"), "{out}");

    let (out, err, code) = kfk(&[
        "consumer-perf-test",
        "--bootstrap-server",
        &b,
        "--topic",
        "perf",
        "--messages",
        "50950",
        "--timeout",
        "10000",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
    );
    let cols: Vec<&str> = lines[1].split(", ").collect();
    assert_eq!(cols.len(), 10, "{out}");
    assert_eq!(cols[4], "50950", "every record counted: {out}");

    for bad in [
        vec![
            "producer-perf-test",
            "--topic",
            "t",
            "--num-records",
            "1",
            "--throughput",
            "-1",
        ],
        vec![
            "producer-perf-test",
            "--topic",
            "t",
            "--num-records",
            "x",
            "--throughput",
            "1",
        ],
        vec![
            "producer-perf-test",
            "--topic",
            "t",
            "--num-records",
            "1",
            "--throughput",
            "-1",
            "--record-size",
            "1",
            "--producer-props",
            "acks",
        ],
        vec!["consumer-perf-test", "--topic", "t", "--messages", "1"],
    ] {
        let (_, err, code) = kfk(&bad);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{bad:?}: {err}");
    }
}

/// As Kafka's ConsumerPerformance, `--socket-buffer-size` (2 MiB by default) becomes the
/// consumer's `receive.buffer.bytes`: a bad size is refused under that property's name.
#[test]
fn consumer_perf_test_sets_the_receive_buffer_from_socket_buffer_size() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    let (_, err, code) = kfk(&[
        "consumer-perf-test",
        "--bootstrap-server",
        &b,
        "--topic",
        "t",
        "--messages",
        "1",
        "--socket-buffer-size",
        "-5",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("receive.buffer.bytes"), "{err}");
    let (out, _, _) = kfk(&["consumer-perf-test", "--help"]);
    assert!(
        out.contains("--socket-buffer-size") && out.contains("2097152"),
        "{out}"
    );
}
