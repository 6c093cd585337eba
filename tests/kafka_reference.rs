//! The reference itself (issue 13, item 1): every main class in `scripts/kafka-reference.sh`'s
//! table of the pinned release exists and answers `--help`, so a class that moved between
//! releases fails here rather than deep inside another test; and the API versions kfk
//! advertises against the pinned broker's (issue 26 item 0).

mod common;

use common::{require_kafka_reference, run_with_input};
use std::time::Duration;

#[test]
fn every_tool_in_the_table_is_a_main_class_of_the_pinned_release() {
    let Some(script) =
        require_kafka_reference("every_tool_in_the_table_is_a_main_class_of_the_pinned_release")
    else {
        return;
    };
    let (table, _, code) = run_with_input(&script, &["tools"], b"", Duration::from_secs(30));
    assert_eq!(code, 0);
    let table = String::from_utf8(table).unwrap();
    let tools: Vec<(&str, &str)> = table.lines().filter_map(|l| l.split_once(' ')).collect();
    assert!(tools.len() >= 18, "{table}");
    let mut broken = Vec::new();
    for (name, class) in &tools {
        let (out, err, _) = run_with_input(
            &script,
            &["tool", name, "--help"],
            b"",
            Duration::from_secs(120),
        );
        let text = format!("{}{err}", String::from_utf8_lossy(&out));
        let missing = text.contains("Could not find or load main class")
            || text.contains("ClassNotFoundException")
            || text.contains("NoClassDefFoundError");
        if missing || !text.to_lowercase().contains("usage") {
            broken.push(format!(
                "{name} ({class}): {}",
                text.lines().take(3).collect::<Vec<_>>().join(" | ")
            ));
        }
    }
    assert!(
        broken.is_empty(),
        "tools without a working main class:\n{}",
        broken.join("\n")
    );
}

/// The versions kfk advertises against the reference broker's ApiVersions (issue 26 item 0):
/// every API kfk serves on a client listener Kafka serves too, from the same lowest version
/// (Kafka 4.x's floor); kfk's highest is Kafka's, or lower for the versions kfk does not
/// implement yet (`protocol::implemented_max`), listed here so a new difference fails.
#[test]
fn kfk_advertises_the_reference_brokers_versions_or_the_ones_it_implements() {
    use kfk::protocol::messages::api_versions_request::ApiVersionsRequest;
    use kfk::protocol::{ApiKey, RequestBody, ResponseBody};
    let test = "kfk_advertises_the_reference_brokers_versions_or_the_ones_it_implements";
    let Some(kafka) = common::apache_kafka(test) else {
        return;
    };
    let kfk = common::TestBroker::start();
    let versions = |bootstrap: &str| {
        let addr = bootstrap.split(',').next().unwrap();
        let mut c = common::RawClient::connect(addr);
        let ResponseBody::ApiVersions(r) = c.call(
            ApiKey::ApiVersions,
            3,
            RequestBody::ApiVersions(ApiVersionsRequest {
                client_software_name: "kfk-test".into(),
                client_software_version: "1".into(),
                ..Default::default()
            }),
        ) else {
            panic!("not ApiVersions")
        };
        assert_eq!(r.error_code, 0);
        r.api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect::<std::collections::BTreeMap<i16, (i16, i16)>>()
    };
    let ours = versions(&kfk.bootstrap());
    let theirs = versions(&kafka.bootstrap);
    let name = |k: i16| ApiKey::from_i16(k).map_or(format!("{k}"), |a| a.name().to_string());
    let mut lower = Vec::new();
    let mut wrong = Vec::new();
    for (key, (min, max)) in &ours {
        match theirs.get(key) {
            None => wrong.push(format!("{}: Kafka does not serve it", name(*key))),
            Some((kmin, _)) if kmin != min => {
                wrong.push(format!("{}: min {min}, Kafka's {kmin}", name(*key)))
            }
            Some((_, kmax)) if kmax < max => {
                wrong.push(format!("{}: max {max} above Kafka's {kmax}", name(*key)))
            }
            Some((_, kmax)) if kmax > max => lower.push(format!("{} {max}<{kmax}", name(*key))),
            Some(_) => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "{wrong:#?}\nkfk: {ours:?}\nKafka: {theirs:?}"
    );
    println!("below Kafka 4.4.0: {lower:?}");
    assert_eq!(lower, EXPECTED_LOWER, "kfk: {ours:?}\nKafka: {theirs:?}");
}

/// The APIs whose newest versions (Kafka 4.4.0's) kfk does not implement yet, as
/// "Name kfk's max<Kafka's max", by API key.
const EXPECTED_LOWER: &[&str] = &[
    "Produce 11<13",
    "Fetch 17<18",
    "ListOffsets 10<11",
    "Metadata 12<13",
    "OffsetCommit 9<10",
    "OffsetFetch 9<10",
    "DescribeGroups 5<6",
    "ApiVersions 4<5",
    "DescribeLogDirs 4<5",
    "DeleteGroups 2<3",
    "AlterPartitionReassignments 0<1",
    "DescribeCluster 1<2",
    "AddRaftVoter 0<1",
];
