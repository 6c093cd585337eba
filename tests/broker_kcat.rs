//! The broker against Debian's kcat (librdkafka 2.0.2, the strictest parser here) and a
//! golden check of the ApiVersions answer.

mod common;

use bytes::Bytes;
use common::{require_tool, run_with_input, TestBroker};
use kfk::protocol::frame::{decode_response_payload, encode_request_frame};
use kfk::protocol::messages::api_versions_request::ApiVersionsRequest;
use kfk::protocol::{ApiKey, RequestBody, ResponseBody};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

/// ARCHITECTURE.md's table: (API key, min, max); max is the highest stable spec version.
const ADVERTISED: &[(i16, i16, i16)] = &[
    (0, 0, 11), // Produce (v0-2 advertised for librdkafka, refused)
    (1, 4, 17), // Fetch
    (2, 1, 10), // ListOffsets
    (3, 0, 12), // Metadata
    (8, 2, 9),  // OffsetCommit
    (9, 1, 9),  // OffsetFetch
    (10, 0, 6), // FindCoordinator
    (11, 0, 9), // JoinGroup
    (12, 0, 4), // Heartbeat
    (13, 0, 5), // LeaveGroup
    (14, 0, 5), // SyncGroup
    (15, 0, 5), // DescribeGroups
    (16, 0, 5), // ListGroups
    (18, 0, 4), // ApiVersions
    (19, 2, 7), // CreateTopics
    (20, 1, 6), // DeleteTopics
    (21, 0, 2), // DeleteRecords
    (22, 0, 5), // InitProducerId
    (23, 2, 4), // OffsetForLeaderEpoch
    (32, 1, 4), // DescribeConfigs
    (33, 0, 2), // AlterConfigs
    (34, 1, 2), // AlterReplicaLogDirs
    (35, 1, 4), // DescribeLogDirs
    (37, 0, 3), // CreatePartitions
    (42, 0, 2), // DeleteGroups
    (43, 0, 2), // ElectLeaders (forwarded to the active controller)
    (44, 0, 1), // IncrementalAlterConfigs
    (45, 0, 0), // AlterPartitionReassignments (forwarded to the active controller)
    (46, 0, 0), // ListPartitionReassignments
    (47, 0, 0), // OffsetDelete
    (55, 0, 2), // DescribeQuorum (answered by the active controller)
    (60, 0, 1), // DescribeCluster
    (61, 0, 0), // DescribeProducers
    (75, 0, 0), // DescribeTopicPartitions
    (80, 0, 0), // AddRaftVoter (dynamic quorum, forwarded to the active controller)
    (81, 0, 0), // RemoveRaftVoter
];

fn roundtrip(addr: &str, api: ApiKey, version: i16, body: RequestBody) -> ResponseBody {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for chunk in encode_request_frame(api, version, 42, Some("test"), &body).unwrap() {
        s.write_all(&chunk).unwrap();
    }
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut payload = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut payload).unwrap();
    let response = decode_response_payload(api, version, &Bytes::from(payload)).unwrap();
    assert_eq!(response.correlation_id, 42);
    response.body
}

#[test]
fn api_versions_answer_equals_the_advertised_table_at_every_version() {
    let broker = TestBroker::start();
    for version in 0..=4 {
        let ResponseBody::ApiVersions(r) = roundtrip(
            &broker.bootstrap(),
            ApiKey::ApiVersions,
            version,
            RequestBody::ApiVersions(ApiVersionsRequest {
                client_software_name: "t".into(),
                client_software_version: "1".into(),
                ..Default::default()
            }),
        ) else {
            panic!("not ApiVersions")
        };
        assert_eq!(r.error_code, 0);
        let got: Vec<(i16, i16, i16)> = r
            .api_keys
            .iter()
            .map(|k| (k.api_key, k.min_version, k.max_version))
            .collect();
        assert_eq!(got, ADVERTISED, "v{version}");
        assert!(
            r.supported_features.is_empty() && r.finalized_features.is_empty(),
            "no features: librdkafka 2.0.2 misparses them"
        );
        assert!(r.unknown_tagged_fields.is_empty());
    }
}

#[test]
fn api_versions_at_an_unknown_version_answers_v0_with_unsupported_version() {
    let broker = TestBroker::start();
    let mut s = TcpStream::connect(broker.bootstrap()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // ApiVersions v9 (unknown), header v2: key, version, correlation id, client id, no tags.
    let frame: Vec<u8> = [
        &[0, 0, 0, 13][..],
        &[0, 18, 0, 9, 0, 0, 0, 7, 0, 1, b'x', 0, 0],
    ]
    .concat();
    s.write_all(&frame).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut payload = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut payload).unwrap();
    let r = decode_response_payload(ApiKey::ApiVersions, 0, &Bytes::from(payload)).unwrap();
    assert_eq!(r.correlation_id, 7);
    let ResponseBody::ApiVersions(body) = r.body else {
        panic!()
    };
    assert_eq!(body.error_code, 35, "UNSUPPORTED_VERSION");
    assert_eq!(
        body.api_keys
            .iter()
            .find(|k| k.api_key == 18)
            .map(|k| k.max_version),
        Some(4)
    );
}

#[test]
fn kcat_lists_metadata() {
    let Some(kcat) = require_tool("kcat_lists_metadata", "kcat") else {
        return;
    };
    let broker = TestBroker::start();
    let out = Command::new(&kcat)
        .args(["-b", &broker.bootstrap(), "-L", "-t", "listed"])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!(
            "broker 1 at 127.0.0.1:{} (controller)",
            broker.port
        )),
        "{text}"
    );
    assert!(
        text.contains("topic \"listed\" with 1 partitions"),
        "auto-created: {text}"
    );
}

#[test]
fn kcat_round_trips_keys_and_headers_in_every_codec() {
    let Some(kcat) = require_tool("kcat_round_trips_keys_and_headers_in_every_codec", "kcat")
    else {
        return;
    };
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    let mut expected = String::new();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let input: String = (0..200)
            .map(|i| format!("key-{codec}-{i}:value {codec} {i} {}\n", "x".repeat(i % 50)))
            .collect();
        let (_, err, code) = run_with_input(
            &kcat,
            &[
                "-b", &b, "-P", "-t", "codecs", "-K:", "-H", "h1=v1", "-H", "h2=", "-z", codec,
            ],
            input.as_bytes(),
            Duration::from_secs(30),
        );
        assert_eq!(code, 0, "{codec}: {err}");
        for line in input.lines() {
            let (k, v) = line.split_once(':').unwrap();
            expected.push_str(&format!("{k}|{v}|h1=v1,h2=\n"));
        }
    }
    let (out, err, code) = run_with_input(
        &kcat,
        &[
            "-b",
            &b,
            "-C",
            "-t",
            "codecs",
            "-o",
            "beginning",
            "-e",
            "-f",
            "%k|%s|%h\n",
        ],
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

#[test]
fn kcat_idempotent_producer_writes_each_record_once_in_order() {
    let Some(kcat) = require_tool(
        "kcat_idempotent_producer_writes_each_record_once_in_order",
        "kcat",
    ) else {
        return;
    };
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    let input: String = (0..5000).map(|i| format!("{i}\n")).collect();
    let (_, err, code) = run_with_input(
        &kcat,
        &[
            "-b",
            &b,
            "-P",
            "-t",
            "idem",
            "-X",
            "enable.idempotence=true",
            "-X",
            "linger.ms=2",
        ],
        input.as_bytes(),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}");
    let (out, err, code) = run_with_input(
        &kcat,
        &["-b", &b, "-C", "-t", "idem", "-o", "beginning", "-e"],
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8(out).unwrap(), input);
}
