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

/// Item 9: stalled large frames hold their share of `queued.max.request.bytes` only until
/// `kfk.request.receive.timeout.ms`; small requests are served all along and large ones
/// once the stalled frames are dropped.
#[test]
fn stalled_large_frames_do_not_freeze_other_connections() {
    use std::io::{Read, Write};
    let broker = TestBroker::start_with(&[
        "--override",
        "queued.max.request.bytes=4194304",
        "--override",
        "kfk.request.receive.timeout.ms=2000",
    ]);
    let addr = broker.bootstrap();
    let mut admin = RawClient::connect(&addr);
    assert_eq!(admin.create_topic("served", 1, &[]), 0);
    // Three frames that declare 10 MiB, deliver 1.5 MiB each (more than the 4 MiB cap
    // together) and stall.
    let stalled: Vec<std::net::TcpStream> = (0..3)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            let mut frame = (10i32 << 20).to_be_bytes().to_vec();
            frame.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 1]);
            frame.resize(4 + 1_500_000, 0);
            s.write_all(&frame).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));

    let started = Instant::now();
    let mut client = RawClient::connect(&addr);
    for i in 0..20 {
        let (code, _) = client.produce("served", 0, batch_of(&[&format!("small-{i}")], None));
        assert_eq!(code, 0);
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "small requests waited {took:?}"
    );

    // A request larger than the uncharged allowance waits at most for the timeout.
    let big = "x".repeat(600_000);
    let started = Instant::now();
    assert_eq!(client.produce("served", 0, batch_of(&[&big], None)).0, 0);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "a large request waited {took:?}"
    );

    // The stalled connections were closed.
    for mut s in stalled {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 16];
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)), "still open");
    }
}

/// Item 10: one CreateTopics or CreatePartitions makes at most 10,000 partitions, refused
/// before anything is allocated (a request naming 2^31-1 partitions is answered at once).
#[test]
fn more_than_ten_thousand_partitions_in_one_request_is_a_policy_violation() {
    use kfk::protocol::messages::create_partitions_request::{
        CreatePartitionsRequest, CreatePartitionsTopic,
    };
    use kfk::protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
    use kfk::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};
    let broker = TestBroker::start();
    let mut client = RawClient::connect(&broker.bootstrap());
    let rss_before = broker.rss_kib();
    let create = |client: &mut RawClient, topics: Vec<(&str, i32)>| {
        let ResponseBody::CreateTopics(r) = client.call(
            ApiKey::CreateTopics,
            7,
            RequestBody::CreateTopics(CreateTopicsRequest {
                topics: topics
                    .into_iter()
                    .map(|(name, n)| CreatableTopic {
                        name: name.into(),
                        num_partitions: n,
                        replication_factor: 1,
                        ..Default::default()
                    })
                    .collect(),
                timeout_ms: 10_000,
                ..Default::default()
            }),
        ) else {
            panic!()
        };
        r.topics
            .iter()
            .map(|t| (t.error_code, t.error_message.clone()))
            .collect::<Vec<_>>()
    };
    let started = Instant::now();
    let huge = create(&mut client, vec![("huge", i32::MAX)]);
    assert_eq!(huge[0].0, ErrorCode::POLICY_VIOLATION.0, "{huge:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let split = create(&mut client, vec![("half-a", 6_000), ("half-b", 6_000)]);
    assert!(
        split.iter().all(|r| r.0 == ErrorCode::POLICY_VIOLATION.0),
        "{split:?}"
    );
    assert!(broker.rss_kib() < rss_before + 32 * 1024, "memory grew");

    assert_eq!(client.create_topic("grows", 1, &[]), 0);
    let ResponseBody::CreatePartitions(r) = client.call(
        ApiKey::CreatePartitions,
        3,
        RequestBody::CreatePartitions(CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: "grows".into(),
                count: 10_002,
                assignments: None,
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        }),
    ) else {
        panic!()
    };
    assert_eq!(r.results[0].error_code, ErrorCode::POLICY_VIOLATION.0);
    assert_eq!(client.topic_id("grows").1, 1, "nothing was added");
}

/// Item 10: a fetch response carries at most the broker's `fetch.max.bytes`, whatever the
/// client asks for (at least one batch, as Kafka).
#[test]
fn fetch_responses_are_capped_by_the_brokers_fetch_max_bytes() {
    use kfk::protocol::{ApiKey, RequestBody, ResponseBody};
    let broker = TestBroker::start_with(&["--override", "fetch.max.bytes=1048576"]);
    let mut client = RawClient::connect(&broker.bootstrap());
    assert_eq!(client.create_topic("big", 1, &[]), 0);
    let value = "v".repeat(100_000);
    for _ in 0..40 {
        assert_eq!(client.produce("big", 0, batch_of(&[&value], None)).0, 0);
    }
    let ResponseBody::Fetch(r) = client.call(
        ApiKey::Fetch,
        12,
        RequestBody::Fetch(common::fetch_request("big", 0, 0, 0, 50 << 20)),
    ) else {
        panic!()
    };
    let records = r.responses[0].partitions[0].records.clone().unwrap();
    assert!(
        records.len() <= (1 << 20) + 200_000 && records.len() > 500_000,
        "{} bytes",
        records.len()
    );
    assert_eq!(
        client.fetch_all("big", 0).len(),
        40,
        "the rest comes in later fetches"
    );
}

/// Item 10: a produce's compressed batch is validated by streaming its records, so a small
/// batch that decompresses to tens of megabytes costs the broker no such memory.
#[test]
fn validating_a_compressed_batch_streams_its_records() {
    use kfk::protocol::record_batch::BatchBuilder;
    use kfk::protocol::Compression;
    let broker = TestBroker::start();
    let mut client = RawClient::connect(&broker.bootstrap());
    assert_eq!(client.create_topic("bomb", 1, &[]), 0);
    let huge = vec![0u8; 48 << 20];
    let mut b = BatchBuilder::new();
    b.append(0, None, Some(&huge), &[]);
    let batch = b.build(Compression::Zstd);
    assert!(batch.len() < 64 << 10, "{} bytes compressed", batch.len());
    drop(huge);
    let before = broker.peak_rss_kib();
    for _ in 0..3 {
        let (code, _) = client.produce("bomb", 0, batch.clone());
        assert_eq!(code, 0);
    }
    let grown_mib = (broker.peak_rss_kib() - before) / 1024;
    assert!(grown_mib < 16, "peak RSS grew by {grown_mib} MiB");
}
