//! Compatibility bugs that real clients hit (issue 11): requests as librdkafka ≥ 2.x sends
//! them, checked with the exact captured frame and with the clients themselves.

mod common;

use bytes::Bytes;
use common::{require_python_module, require_tool, run_with_input, RawClient, TestBroker};
use kfk::protocol::frame::{decode_request_frame, decode_response_payload};
use kfk::protocol::{ApiKey, RequestBody, ResponseBody};
use std::process::Command;
use std::time::Duration;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// confluent-kafka 2.16's `AdminClient.list_topics()` request: Metadata v12 for all topics,
/// with 3 bytes after the body (librdkafka issue 5049).
const LIBRDKAFKA_METADATA: &str = "confluent-kafka-2.16-Metadata-v12-all-topics.bin";

#[test]
fn librdkafka_metadata_v12_with_trailing_bytes_decodes_as_all_topics() {
    let req = decode_request_frame(&Bytes::from(fixture(LIBRDKAFKA_METADATA))).unwrap();
    assert_eq!((req.api_key, req.api_version), (ApiKey::Metadata, 12));
    assert_eq!(req.trailing_bytes, 3);
    let RequestBody::Metadata(body) = req.body else {
        panic!("not Metadata")
    };
    assert_eq!(body.topics, None, "null topics: every topic");
}

#[test]
fn the_broker_answers_librdkafkas_metadata_v12_frame_and_keeps_the_connection() {
    let broker = TestBroker::start();
    let mut client = RawClient::connect(&broker.bootstrap());
    assert_eq!(client.create_topic("seen-by-librdkafka", 2, &[]), 0);
    for _ in 0..2 {
        let payload = client
            .call_raw(&fixture(LIBRDKAFKA_METADATA))
            .expect("the broker closed the connection instead of answering");
        let response =
            decode_response_payload(ApiKey::Metadata, 12, &Bytes::from(payload)).unwrap();
        assert_eq!(response.correlation_id, 3);
        let ResponseBody::Metadata(m) = response.body else {
            panic!("not Metadata")
        };
        let names: Vec<_> = m.topics.iter().filter_map(|t| t.name.clone()).collect();
        assert_eq!(names, ["seen-by-librdkafka"]);
    }
}

#[test]
fn confluent_kafka_admin_list_topics_works() {
    let test = "confluent_kafka_admin_list_topics_works";
    if !require_python_module(test, "confluent_kafka") {
        return;
    }
    let broker = TestBroker::start();
    let mut client = RawClient::connect(&broker.bootstrap());
    assert_eq!(client.create_topic("listed", 3, &[]), 0);
    let script = r#"
import sys
from confluent_kafka.admin import AdminClient
md = AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(timeout=10)
for name, t in sorted(md.topics.items()):
    print(name, len(t.partitions), t.error)
"#;
    let out = Command::new("python3")
        .args(["-c", script, &broker.bootstrap()])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "listed 3 None");
}

#[test]
fn kcat_lists_metadata_with_auto_creation_allowed() {
    let Some(kcat) = require_tool("kcat_lists_metadata_with_auto_creation_allowed", "kcat") else {
        return;
    };
    let broker = TestBroker::start();
    let mut client = RawClient::connect(&broker.bootstrap());
    assert_eq!(client.create_topic("listed-by-kcat", 1, &[]), 0);
    let (out, err, code) = run_with_input(
        &kcat,
        &[
            "-b",
            &broker.bootstrap(),
            "-L",
            "-X",
            "allow.auto.create.topics=true",
        ],
        b"",
        Duration::from_secs(30),
    );
    let out = String::from_utf8_lossy(&out);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("topic \"listed-by-kcat\" with 1 partitions"),
        "{out}"
    );
}
