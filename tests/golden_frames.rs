//! Golden frames captured from real clients (`tests/fixtures/README.md`) decode through the
//! broker's frame entry point to exactly what the clients sent.

use bytes::Bytes;
use kfk::protocol::compression::Compression;
use kfk::protocol::frame::decode_request_frame;
use kfk::protocol::record_batch::{decode_records, validate, BatchIter};
use kfk::protocol::{ApiKey, Request, RequestBody};

fn fixture(name: &str) -> Bytes {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn decode(name: &str) -> Request {
    decode_request_frame(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn kcat_opens_with_api_versions_v3_naming_librdkafka() {
    let req = decode("kcat-ApiVersions-v3.bin");
    assert_eq!((req.api_key, req.api_version), (ApiKey::ApiVersions, 3));
    assert_eq!(req.header.client_id.as_deref(), Some("rdkafka"));
    let RequestBody::ApiVersions(body) = req.body else {
        panic!("not ApiVersions")
    };
    assert_eq!(body.client_software_name, "librdkafka");
    assert_eq!(body.client_software_version, "2.0.2");
}

#[test]
fn kafka_python_opens_with_api_versions_v4() {
    let req = decode("kafka-python-ApiVersions-v4.bin");
    assert_eq!((req.api_key, req.api_version), (ApiKey::ApiVersions, 4));
    let RequestBody::ApiVersions(body) = req.body else {
        panic!("not ApiVersions")
    };
    assert_eq!(body.client_software_name, "kafka-python");
}

#[test]
fn metadata_requests_name_the_topic() {
    for (name, version) in [
        ("kcat-Metadata-v4.bin", 4),
        ("kafka-python-Metadata-v12.bin", 12),
    ] {
        let req = decode(name);
        assert_eq!(
            (req.api_key, req.api_version),
            (ApiKey::Metadata, version),
            "{name}"
        );
        let RequestBody::Metadata(body) = req.body else {
            panic!("not Metadata")
        };
        let topics = body.topics.unwrap_or_default();
        let names: Vec<_> = topics.iter().filter_map(|t| t.name.as_deref()).collect();
        assert!(names.is_empty() || names == ["golden"], "{name}: {names:?}");
    }
}

/// The one batch of a single-partition produce to `golden`, with the request's acks.
fn produced_batch(name: &str) -> (Bytes, i16) {
    let req = decode(name);
    assert_eq!(req.api_key, ApiKey::Produce, "{name}");
    let RequestBody::Produce(body) = req.body else {
        panic!("not Produce")
    };
    assert_eq!(body.topic_data.len(), 1, "{name}");
    let topic = &body.topic_data[0];
    assert_eq!(topic.name, "golden");
    assert_eq!(topic.partition_data.len(), 1);
    let records = topic.partition_data[0].records.clone().expect("records");
    let mut batches = BatchIter::new(records);
    let (_, batch) = batches.next().expect("one batch");
    assert!(
        batches.next().is_none() && !batches.partial_tail(),
        "{name}: exactly one batch"
    );
    (batch, body.acks)
}

/// Checks the three golden records; `repeat` is how often kafka-python's capture repeats the
/// value (so that every codec actually compresses: it sends small batches uncompressed).
fn assert_golden_records(name: &str, batch: &Bytes, codec: Compression, repeat: usize) {
    let header = validate(batch, 1 << 20).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(header.compression(), Some(codec), "{name}: codec");
    let records = decode_records(batch, 1 << 20).unwrap();
    assert_eq!(records.len(), 3, "{name}");
    for (i, r) in records.iter().enumerate() {
        let n = i + 1;
        assert_eq!(r.key.as_deref(), Some(format!("k{n}").as_bytes()), "{name}");
        assert_eq!(
            r.value.as_deref(),
            Some(format!("golden-{n}").repeat(repeat).as_bytes()),
            "{name}"
        );
        assert_eq!(r.headers.len(), 1, "{name}");
        assert_eq!(r.headers[0].key, "h1");
        assert_eq!(r.headers[0].value.as_deref(), Some(&b"v1"[..]));
        assert_eq!(r.offset, i as i64);
    }
}

const CODECS: [(&str, Compression); 5] = [
    ("none", Compression::None),
    ("gzip", Compression::Gzip),
    ("snappy", Compression::Snappy),
    ("lz4", Compression::Lz4),
    ("zstd", Compression::Zstd),
];

#[test]
fn kcat_produce_v7_decodes_to_the_sent_records_in_every_codec() {
    for (suffix, codec) in CODECS {
        let name = format!("kcat-Produce-v7-{suffix}.bin");
        let (batch, _) = produced_batch(&name);
        assert_golden_records(&name, &batch, codec, 1);
    }
}

#[test]
fn kafka_python_produce_v9_decodes_to_the_sent_records_in_every_codec() {
    for (suffix, codec) in CODECS {
        let name = format!("kafka-python-Produce-v9-{suffix}.bin");
        let (batch, acks) = produced_batch(&name);
        assert_eq!(acks, 1);
        assert_golden_records(&name, &batch, codec, 20);
    }
}

#[test]
fn kcat_idempotent_produce_carries_producer_id_and_sequence() {
    let init = decode("kcat-InitProducerId-v4.bin");
    let RequestBody::InitProducerId(body) = init.body else {
        panic!("not InitProducerId")
    };
    assert_eq!(body.transactional_id, None);
    let (batch, acks) = produced_batch("kcat-Produce-v7-idempotent.bin");
    assert_eq!(acks, -1, "idempotence implies acks=all");
    let header = validate(&batch, 1 << 20).unwrap();
    assert_eq!(
        (
            header.producer_id,
            header.producer_epoch,
            header.base_sequence
        ),
        (1000, 0, 0)
    );
    let records = decode_records(&batch, 1 << 20).unwrap();
    assert_eq!(records[0].value.as_deref(), Some(&b"idem-1"[..]));
}

#[test]
fn fetch_and_list_offsets_requests_address_partition_zero_of_golden() {
    for name in ["kcat-Fetch-v11.bin", "kafka-python-Fetch-v12.bin"] {
        let req = decode(name);
        let RequestBody::Fetch(body) = req.body else {
            panic!("not Fetch")
        };
        assert_eq!(body.replica_id, -1, "{name}");
        assert_eq!(body.topics.len(), 1, "{name}");
        assert_eq!(body.topics[0].topic, "golden", "{name}");
        assert_eq!(body.topics[0].partitions[0].partition, 0, "{name}");
        assert_eq!(body.topics[0].partitions[0].fetch_offset, 0, "{name}");
    }
    for name in [
        "kcat-ListOffsets-v2.bin",
        "kafka-python-ListOffsets-v10.bin",
    ] {
        let req = decode(name);
        let RequestBody::ListOffsets(body) = req.body else {
            panic!("not ListOffsets")
        };
        assert_eq!(body.topics[0].name, "golden", "{name}");
        assert_eq!(
            body.topics[0].partitions[0].timestamp, -2,
            "{name}: earliest"
        );
    }
}

#[test]
fn join_group_requests_carry_the_consumer_protocol() {
    for (name, version) in [
        ("kcat-JoinGroup-v5.bin", 5),
        ("kafka-python-JoinGroup-v7.bin", 7),
    ] {
        let req = decode(name);
        assert_eq!(req.api_version, version);
        let RequestBody::JoinGroup(body) = req.body else {
            panic!("not JoinGroup")
        };
        assert_eq!(body.group_id, "capture-group", "{name}");
        assert_eq!(body.protocol_type, "consumer", "{name}");
        assert!(!body.protocols.is_empty(), "{name}");
        assert!(body.session_timeout_ms > 0, "{name}");
    }
    for name in [
        "kcat-FindCoordinator-v2.bin",
        "kafka-python-FindCoordinator-v6.bin",
    ] {
        let RequestBody::FindCoordinator(body) = decode(name).body else {
            panic!("not FindCoordinator")
        };
        assert!(
            body.key == "capture-group" || body.coordinator_keys == ["capture-group"],
            "{name}"
        );
    }
}
