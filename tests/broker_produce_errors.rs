//! Produce validation end to end: a bad CRC gets CORRUPT_MESSAGE and nothing is appended, a
//! batch over max.message.bytes gets MESSAGE_TOO_LARGE, an unknown partition its own error
//! without failing the others, and a failed acks=0 produce closes the connection.

mod common;

use common::{batch_of, RawClient, TestBroker};
use kfk::protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kfk::protocol::{ApiKey, RequestBody, ResponseBody};
use std::io::{Read, Write};

#[test]
fn bad_batches_get_kafkas_error_codes_and_nothing_is_appended() {
    let broker = TestBroker::start_with(&["--override", "message.max.bytes=2000"]);
    let mut c = RawClient::connect(&broker.bootstrap());
    assert_eq!(c.create_topic("v", 2, &[]), 0);
    assert_eq!(c.produce("v", 0, batch_of(&["ok"], None)), (0, 0));
    let mut corrupt = batch_of(&["flipped"], None).to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    assert_eq!(c.produce("v", 0, corrupt.into()).0, 2, "CORRUPT_MESSAGE");
    let big = "x".repeat(5000);
    assert_eq!(
        c.produce("v", 0, batch_of(&[&big], None)).0,
        10,
        "MESSAGE_TOO_LARGE"
    );
    assert_eq!(
        c.produce("v", 0, batch_of(&["next"], None)),
        (0, 1),
        "nothing was appended by the refused batches"
    );

    // One request, three partitions: only the bad one fails.
    let body = RequestBody::Produce(ProduceRequest {
        acks: 1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: "v".into(),
            partition_data: [0, 1, 7]
                .iter()
                .map(|&p| PartitionProduceData {
                    index: p,
                    records: Some(batch_of(&["m"], None)),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    });
    let ResponseBody::Produce(r) = c.call(ApiKey::Produce, 9, body) else {
        panic!()
    };
    let codes: Vec<i16> = r.responses[0]
        .partition_responses
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(codes, vec![0, 0, 3]);
    assert_eq!(c.fetch_all("v", 0).len(), 3);
}

#[test]
fn a_failed_acks_0_produce_closes_the_connection() {
    let broker = TestBroker::start();
    let mut s = std::net::TcpStream::connect(broker.bootstrap()).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let body = RequestBody::Produce(ProduceRequest {
        acks: 0,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: "missing".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(batch_of(&["m"], None)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    for chunk in
        kfk::protocol::frame::encode_request_frame(ApiKey::Produce, 9, 1, None, &body).unwrap()
    {
        s.write_all(&chunk).unwrap();
    }
    let mut buf = [0u8; 16];
    assert_eq!(
        s.read(&mut buf).unwrap(),
        0,
        "no answer, and the connection is closed"
    );
}

#[test]
fn a_long_polling_fetch_is_woken_by_a_produce() {
    use kfk::protocol::messages::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
    let broker = TestBroker::start();
    let mut c = RawClient::connect(&broker.bootstrap());
    assert_eq!(c.create_topic("poll", 1, &[]), 0);
    let addr = broker.bootstrap();
    let producer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        RawClient::connect(&addr).produce("poll", 0, batch_of(&["wake"], None))
    });
    let started = std::time::Instant::now();
    let body = RequestBody::Fetch(FetchRequest {
        replica_id: -1,
        max_wait_ms: 10_000,
        min_bytes: 1,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: "poll".into(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: 0,
                partition_max_bytes: 1 << 20,
                current_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let ResponseBody::Fetch(r) = c.call(ApiKey::Fetch, 12, body) else {
        panic!()
    };
    let waited = started.elapsed();
    assert_eq!(producer.join().unwrap(), (0, 0));
    assert!(
        !r.responses[0].partitions[0]
            .records
            .clone()
            .unwrap_or_default()
            .is_empty(),
        "the fetch returns the new record"
    );
    assert!(
        waited >= std::time::Duration::from_millis(250)
            && waited < std::time::Duration::from_secs(3),
        "woken by the append, not the 10 s deadline: {waited:?}"
    );
}
