//! Limits (issue 11): what one client does cannot stall or exhaust the broker for the others.

mod common;

use common::{
    batch_of, park_long_polls, raise_fd_limit, require_python_module, RawClient, TestBroker,
};
use std::process::Command;
use std::time::{Duration, Instant};

/// Item 8: a long-polling Fetch holds no `queued.max.requests` slot while it waits.
#[test]
fn six_hundred_parked_long_polls_do_not_delay_a_new_producer() {
    raise_fd_limit();
    let broker = TestBroker::start();
    let mut admin = RawClient::connect(&broker.bootstrap());
    assert_eq!(admin.create_topic("idle", 1, &[]), 0);
    assert_eq!(admin.create_topic("busy", 1, &[]), 0);
    // More parked fetches than `queued.max.requests` (500).
    let _parked = park_long_polls(&broker.bootstrap(), "idle", 0, 600);
    std::thread::sleep(Duration::from_millis(500));

    let started = Instant::now();
    let mut client = RawClient::connect(&broker.bootstrap());
    for i in 0..20 {
        let (code, offset) = client.produce("busy", 0, batch_of(&[&format!("r{i}")], None));
        assert_eq!((code, offset), (0, i));
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "connecting and producing 20 records took {took:?} with 600 parked long-polls"
    );
}

/// Item 2a: a kafka-python producer auto-creates a topic and a fresh kafka-python consumer (no
/// group) subscribing to it gets its partitions, both at once, even when earlier clients left more
/// long-polls parked than `queued.max.requests`. They used to hold every request slot, so
/// the new clients' Metadata requests queued behind them for their whole `max_wait_ms` (30 s)
/// and the assignment stayed empty meanwhile.
#[test]
fn a_fresh_kafka_python_consumer_gets_its_partitions_despite_parked_long_polls() {
    let test = "a_fresh_kafka_python_consumer_gets_its_partitions_despite_parked_long_polls";
    if !require_python_module(test, "kafka") {
        return;
    }
    raise_fd_limit();
    let broker = TestBroker::start_with(&["--override", "queued.max.requests=50"]);
    let mut admin = RawClient::connect(&broker.bootstrap());
    assert_eq!(admin.create_topic("left-behind", 1, &[]), 0);
    let _parked = park_long_polls(&broker.bootstrap(), "left-behind", 0, 60);
    std::thread::sleep(Duration::from_millis(300));
    let script = r#"
import sys, time
from kafka import KafkaConsumer, KafkaProducer
b = sys.argv[1]
started = time.time()
p = KafkaProducer(bootstrap_servers=b, api_version=(4, 0))
p.send("auto-created", b"hello").get(timeout=40)
c = KafkaConsumer(bootstrap_servers=b, api_version=(4, 0), group_id=None,
                  auto_offset_reset="earliest")
c.subscribe(["auto-created"])
got = []
while not got and time.time() - started < 40:
    for records in c.poll(200).values():
        got.extend(r.value for r in records)
print(sorted(tp.partition for tp in c.assignment()), got, "%.1f" % (time.time() - started))
"#;
    let out = Command::new("python3")
        .args(["-c", script, &broker.bootstrap()])
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fields: Vec<&str> = stdout.trim().rsplitn(2, ' ').collect();
    let seconds: f64 = fields[0].parse().unwrap();
    assert_eq!(fields[1], "[0] [b'hello']", "{stdout}");
    assert!(seconds < 5.0, "the consumer needed {seconds} s: {stdout}");
}
