//! Configs that used to be accepted and ignored (issue 11, items 6, 7, 7a): honoured now.

mod common;

use bytes::Bytes;
use common::{batch_of, require_python_module, RawClient, TestBroker};
use kfk::protocol::messages::init_producer_id_request::InitProducerIdRequest;
use kfk::protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kfk::protocol::record_batch::{decode_records, validate, BatchBuilder, BatchIter};
use kfk::protocol::{ApiKey, Compression, ErrorCode, RequestBody, ResponseBody};
use std::process::Command;

fn produce_acks(client: &mut RawClient, topic: &str, acks: i16, batch: Bytes) -> i16 {
    let ResponseBody::Produce(r) = client.call(
        ApiKey::Produce,
        9,
        RequestBody::Produce(ProduceRequest {
            acks,
            timeout_ms: 10_000,
            topic_data: vec![TopicProduceData {
                name: topic.into(),
                partition_data: vec![PartitionProduceData {
                    index: 0,
                    records: Some(batch),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }),
    ) else {
        panic!("not Produce")
    };
    r.responses[0].partition_responses[0].error_code
}

#[test]
fn acks_all_below_min_insync_replicas_is_refused_on_one_node_too() {
    let broker = TestBroker::start();
    let mut client = RawClient::connect(&broker.bootstrap());
    assert_eq!(
        client.create_topic("strict", 1, &[("min.insync.replicas", "2")]),
        0
    );
    assert_eq!(
        produce_acks(&mut client, "strict", -1, batch_of(&["a"], None)),
        ErrorCode::NOT_ENOUGH_REPLICAS.0
    );
    assert_eq!(
        produce_acks(&mut client, "strict", 1, batch_of(&["b"], None)),
        0
    );
    assert_eq!(
        client.fetch_all("strict", 0).len(),
        1,
        "only the acks=1 record"
    );

    // The broker-level default applies to topics without their own value.
    let broker = TestBroker::start_with(&["--override", "min.insync.replicas=2"]);
    let mut client = RawClient::connect(&broker.bootstrap());
    assert_eq!(client.create_topic("defaulted", 1, &[]), 0);
    assert_eq!(
        produce_acks(&mut client, "defaulted", -1, batch_of(&["a"], None)),
        ErrorCode::NOT_ENOUGH_REPLICAS.0
    );
}

fn init_producer_id(client: &mut RawClient, producer_id: i64, epoch: i16) -> (i16, i64, i16) {
    let ResponseBody::InitProducerId(r) = client.call(
        ApiKey::InitProducerId,
        4,
        RequestBody::InitProducerId(InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: 60_000,
            producer_id,
            producer_epoch: epoch,
            ..Default::default()
        }),
    ) else {
        panic!("not InitProducerId")
    };
    (r.error_code, r.producer_id, r.producer_epoch)
}

#[test]
fn init_producer_id_without_a_transactional_id_always_allocates_a_new_id() {
    let broker = TestBroker::start();
    let mut client = RawClient::connect(&broker.bootstrap());
    let (code, victim, epoch) = init_producer_id(&mut client, -1, -1);
    assert_eq!((code, epoch), (0, 0));
    // Naming another producer's id and epoch neither bumps nor fences it.
    let (code, other, epoch) = init_producer_id(&mut client, victim, 0);
    assert_eq!((code, epoch), (0, 0));
    assert_ne!(other, victim);
    assert_eq!(client.create_topic("idem", 1, &[]), 0);
    let (code, _) = client.produce("idem", 0, batch_of(&["v"], Some((victim, 0, 0))));
    assert_eq!(code, 0, "the first producer is not fenced");
    for (id, epoch) in [(victim, -1), (-1, 3)] {
        assert_eq!(
            init_producer_id(&mut client, id, epoch).0,
            ErrorCode::INVALID_REQUEST.0,
            "({id}, {epoch})"
        );
    }
}

/// The stored batches of `topic`-0: (codec, values).
fn stored(client: &mut RawClient, topic: &str) -> Vec<(Option<Compression>, Vec<String>)> {
    let ResponseBody::Fetch(r) = client.call(
        ApiKey::Fetch,
        12,
        RequestBody::Fetch(common::fetch_request(topic, 0, 0, 0, 1 << 20)),
    ) else {
        panic!("not Fetch")
    };
    let records = r.responses[0].partitions[0].records.clone().unwrap();
    BatchIter::new(records)
        .map(|(h, batch)| {
            validate(&batch, 1 << 20).expect("a valid batch, CRC included");
            let values = decode_records(&batch, 1 << 20)
                .unwrap()
                .into_iter()
                .map(|r| String::from_utf8(r.value.unwrap().to_vec()).unwrap())
                .collect();
            (h.compression(), values)
        })
        .collect()
}

fn batch_with(codec: Compression, values: &[&str]) -> Bytes {
    let mut b = BatchBuilder::new();
    for v in values {
        b.append(1_700_000_000_000, None, Some(v.as_bytes()), &[]);
    }
    b.build(codec)
}

#[test]
fn a_topic_compression_type_recompresses_batches_whose_codec_differs() {
    let broker = TestBroker::start_with(&[
        "--override",
        "log.message.timestamp.before.max.ms=9223372036854775807",
    ]);
    let mut client = RawClient::connect(&broker.bootstrap());
    for (setting, codec) in [
        ("uncompressed", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ] {
        let topic = format!("forced-{setting}");
        assert_eq!(
            client.create_topic(&topic, 1, &[("compression.type", setting)]),
            0,
            "{setting}"
        );
        for from in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let (code, _) = client.produce(&topic, 0, batch_with(from, &["one", "two"]));
            assert_eq!(code, 0, "{setting} from {from}");
        }
        let batches = stored(&mut client, &topic);
        assert_eq!(batches.len(), 3);
        for (stored_codec, values) in batches {
            assert_eq!(stored_codec, Some(codec), "{setting}");
            assert_eq!(values, ["one", "two"]);
        }
    }
    // compression.type=producer keeps each producer's codec.
    assert_eq!(client.create_topic("as-produced", 1, &[]), 0);
    for from in [Compression::Gzip, Compression::Lz4] {
        assert_eq!(
            client.produce("as-produced", 0, batch_with(from, &["x"])).0,
            0
        );
    }
    let codecs: Vec<_> = stored(&mut client, "as-produced")
        .into_iter()
        .map(|b| b.0)
        .collect();
    assert_eq!(codecs, [Some(Compression::Gzip), Some(Compression::Lz4)]);
    // Levels are checked like Kafka's, and kfk refuses the lz4 levels it cannot honour.
    assert_eq!(
        client.create_topic("bad-level", 1, &[("compression.zstd.level", "99")]),
        ErrorCode::INVALID_CONFIG.0
    );
    assert_eq!(
        client.create_topic("lz4-hc", 1, &[("compression.lz4.level", "12")]),
        ErrorCode::INVALID_CONFIG.0
    );
}

#[test]
fn confluent_kafka_creates_topics_with_a_compression_type_and_reads_them_back() {
    let test = "confluent_kafka_creates_topics_with_a_compression_type_and_reads_them_back";
    if !require_python_module(test, "confluent_kafka") {
        return;
    }
    let broker = TestBroker::start();
    let script = r#"
import sys
from confluent_kafka import Producer, Consumer
from confluent_kafka.admin import AdminClient, NewTopic
b = sys.argv[1]
admin = AdminClient({"bootstrap.servers": b})
for codec in ["lz4", "gzip", "snappy", "zstd", "uncompressed", "producer"]:
    t = "ck-" + codec
    admin.create_topics([NewTopic(t, 1, 1, config={"compression.type": codec})])[t].result(10)
    p = Producer({"bootstrap.servers": b, "compression.type": "gzip" if codec != "gzip" else "lz4"})
    for i in range(50):
        p.produce(t, value=("%s-%d" % (codec, i)).encode())
    assert p.flush(10) == 0
    c = Consumer({"bootstrap.servers": b, "group.id": "g-" + codec, "auto.offset.reset": "earliest"})
    c.subscribe([t])
    got = []
    while len(got) < 50:
        m = c.poll(10)
        assert m is not None and m.error() is None, m and m.error()
        got.append(m.value().decode())
    c.close()
    assert got == ["%s-%d" % (codec, i) for i in range(50)], got
print("ok")
"#;
    let out = Command::new("python3")
        .args(["-c", script, &broker.bootstrap()])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim() == "ok",
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
