//! librdkafka (the `rdkafka` crate's bundled build) against the broker inside `cargo test`:
//! 100,000 records with idempotence and acks=all, consumed back byte-identical and in order
//! per partition.

mod common;

use common::TestBroker;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

const RECORDS: usize = 100_000;
const PARTITIONS: i32 = 3;

#[test]
fn librdkafka_idempotent_acks_all_round_trip_of_100k_records() {
    let broker = TestBroker::start_with(&["--override", "num.partitions=3"]);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let payload = |i: usize| format!("value-{i}-{}", "p".repeat(i % 97));
    for i in 0..RECORDS {
        let (key, value) = (format!("key-{i}"), payload(i));
        let headers = OwnedHeaders::new().insert(Header {
            key: "n",
            value: Some(&i.to_string()),
        });
        let mut record = BaseRecord::to("rd")
            .key(&key)
            .payload(&value)
            .partition(i as i32 % PARTITIONS)
            .headers(headers);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, r)) => {
                    assert!(
                        matches!(
                            e.rdkafka_error_code(),
                            Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                        ),
                        "send failed: {e}"
                    );
                    producer.poll(Duration::from_millis(10));
                    record = r;
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(60))
        .expect("every record acknowledged");

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", "unused")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset("rd", p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).expect("assign");
    let mut next_index = [0usize; PARTITIONS as usize];
    let mut received = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while received < RECORDS {
        assert!(
            Instant::now() < deadline,
            "only {received} of {RECORDS} records came back"
        );
        let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let msg = msg.expect("consume");
        let p = msg.partition() as usize;
        let i = next_index[p] * PARTITIONS as usize + p;
        assert_eq!(
            msg.offset() as usize,
            next_index[p],
            "offsets are dense and in order"
        );
        assert_eq!(msg.key(), Some(format!("key-{i}").as_bytes()));
        assert_eq!(
            msg.payload(),
            Some(payload(i).as_bytes()),
            "byte-identical, in order per partition"
        );
        let h = msg.headers().expect("headers").get(0);
        assert_eq!((h.key, h.value), ("n", Some(i.to_string().as_bytes())));
        next_index[p] += 1;
        received += 1;
    }
}
