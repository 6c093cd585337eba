//! Internal topics (issue 11, item 4): clients cannot create, see or damage the metadata
//! log, cannot append to `__consumer_offsets`, and a restart never deletes a partition
//! directory the metadata does not know.

mod common;

use common::{batch_of, RawClient, TestBroker};
use kfk::protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use kfk::protocol::messages::delete_topics_request::{DeleteTopicState, DeleteTopicsRequest};
use kfk::protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kfk::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};

fn create(client: &mut RawClient, name: &str) -> (i16, Option<String>) {
    let ResponseBody::CreateTopics(r) = client.call(
        ApiKey::CreateTopics,
        7,
        RequestBody::CreateTopics(CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: name.into(),
                num_partitions: 1,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        }),
    ) else {
        panic!("not CreateTopics")
    };
    (r.topics[0].error_code, r.topics[0].error_message.clone())
}

fn delete(client: &mut RawClient, name: &str) -> i16 {
    let ResponseBody::DeleteTopics(r) = client.call(
        ApiKey::DeleteTopics,
        6,
        RequestBody::DeleteTopics(DeleteTopicsRequest {
            topics: vec![DeleteTopicState {
                name: Some(name.into()),
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        }),
    ) else {
        panic!("not DeleteTopics")
    };
    r.responses[0].error_code
}

/// (error code, is_internal) of `name` in a Metadata answer, without auto-creation.
fn describe(client: &mut RawClient, name: &str) -> (i16, bool) {
    let ResponseBody::Metadata(m) = client.call(
        ApiKey::Metadata,
        12,
        RequestBody::Metadata(MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some(name.into()),
                ..Default::default()
            }]),
            allow_auto_topic_creation: false,
            ..Default::default()
        }),
    ) else {
        panic!("not Metadata")
    };
    (m.topics[0].error_code, m.topics[0].is_internal)
}

fn all_topics(client: &mut RawClient) -> Vec<String> {
    let ResponseBody::Metadata(m) = client.call(
        ApiKey::Metadata,
        12,
        RequestBody::Metadata(MetadataRequest {
            topics: None,
            ..Default::default()
        }),
    ) else {
        panic!("not Metadata")
    };
    let mut names: Vec<String> = m.topics.into_iter().filter_map(|t| t.name).collect();
    names.sort();
    names
}

#[test]
fn internal_topics_are_refused_to_clients_and_survive_a_restart() {
    let mut broker = TestBroker::start();
    let mut client = RawClient::connect(&broker.bootstrap());
    assert_eq!(client.create_topic("orders", 2, &[]), 0);
    assert_eq!(
        client.produce("orders", 0, batch_of(&["o1", "o2"], None)).0,
        0
    );
    assert_eq!(
        create(&mut client, "__consumer_offsets").0,
        ErrorCode::INVALID_REQUEST.0
    );

    let (code, message) = create(&mut client, "__cluster_metadata");
    assert_eq!(code, ErrorCode::INVALID_REQUEST.0);
    assert_eq!(
        message.as_deref(),
        Some("Creation of internal topic __cluster_metadata is prohibited.")
    );
    assert_eq!(
        describe(&mut client, "__cluster_metadata").0,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
    );
    assert_eq!(
        client
            .produce("__cluster_metadata", 0, batch_of(&["junk"], None))
            .0,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
    );

    // __consumer_offsets exists once asked for (as Kafka's Metadata auto-creation does),
    // is flagged internal, and refuses producers.
    let ResponseBody::Metadata(_) = client.call(
        ApiKey::Metadata,
        12,
        RequestBody::Metadata(MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some("__consumer_offsets".into()),
                ..Default::default()
            }]),
            allow_auto_topic_creation: true,
            ..Default::default()
        }),
    ) else {
        panic!()
    };
    assert_eq!(describe(&mut client, "__consumer_offsets"), (0, true));
    assert_eq!(
        client
            .produce("__consumer_offsets", 0, batch_of(&["junk"], None))
            .0,
        ErrorCode::INVALID_TOPIC_EXCEPTION.0
    );
    assert_eq!(
        delete(&mut client, "__consumer_offsets"),
        ErrorCode::INVALID_REQUEST.0,
        "kfk keeps its internal topics (a known difference from Kafka)"
    );
    assert_eq!(
        delete(&mut client, "__cluster_metadata"),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
    );

    // Only Kafka's fixed set is internal: any other name starting with "__" is a user topic.
    assert_eq!(create(&mut client, "__mine").0, 0);
    assert_eq!(describe(&mut client, "__mine"), (0, false));
    assert_eq!(client.produce("__mine", 0, batch_of(&["m"], None)).0, 0);

    let before = all_topics(&mut client);
    assert_eq!(before, ["__consumer_offsets", "__mine", "orders"]);
    broker.stop();
    broker.restart();
    let mut client = RawClient::connect(&broker.bootstrap());
    assert_eq!(all_topics(&mut client), before);
    let values: Vec<_> = client
        .fetch_all("orders", 0)
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    assert_eq!(values, [0, 1]);
    assert_eq!(client.fetch_all("__mine", 0).len(), 1);
}

#[test]
fn a_partition_dir_the_metadata_does_not_know_is_set_aside_not_deleted() {
    let mut broker = TestBroker::start();
    let mut client = RawClient::connect(&broker.bootstrap());
    assert_eq!(client.create_topic("known", 1, &[]), 0);
    assert_eq!(client.produce("known", 0, batch_of(&["k"], None)).0, 0);
    broker.stop();
    // A partition dir from elsewhere (another cluster's copy, a restored backup).
    let ghost = broker.dir.join("ghost-0");
    std::fs::create_dir_all(&ghost).unwrap();
    std::fs::write(ghost.join("00000000000000000000.log"), b"precious").unwrap();
    broker.restart();

    let entries: Vec<String> = std::fs::read_dir(&broker.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let stray: Vec<&String> = entries
        .iter()
        .filter(|n| n.starts_with("ghost-0."))
        .collect();
    assert_eq!(stray.len(), 1, "{entries:?}");
    let suffix = stray[0].strip_prefix("ghost-0.").unwrap();
    let id = suffix.strip_suffix("-stray").expect("ends with -stray");
    assert!(
        id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(
        std::fs::read(broker.dir.join(stray[0]).join("00000000000000000000.log")).unwrap(),
        b"precious"
    );
    assert!(!entries.contains(&"ghost-0".to_string()));
    assert!(
        broker
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("stray")),
        "the broker logs it"
    );
    // A later start leaves the stray directory alone.
    broker.stop();
    broker.restart();
    assert!(broker.dir.join(stray[0]).exists());
    let mut client = RawClient::connect(&broker.bootstrap());
    assert_eq!(client.fetch_all("known", 0).len(), 1);
}
