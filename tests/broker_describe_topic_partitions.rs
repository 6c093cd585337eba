//! DescribeTopicPartitions (issue 13, item 7), which Kafka 4's admin client and
//! `kafka-topics --describe` use when a broker offers it: topics sorted by name, a partition
//! limit with a cursor to the rest, unknown topics answered with their error. The Java admin
//! and Kafka's own tool run against it in `tests/java_client.rs` and `tests/kafka_tools.rs`.

mod common;

use common::{RawClient, TestBroker};
use kfk::protocol::messages::describe_topic_partitions_request::{
    Cursor, DescribeTopicPartitionsRequest, TopicRequest,
};
use kfk::protocol::messages::describe_topic_partitions_response::DescribeTopicPartitionsResponse;
use kfk::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};

fn describe(
    client: &mut RawClient,
    topics: &[&str],
    limit: i32,
    cursor: Option<(String, i32)>,
) -> DescribeTopicPartitionsResponse {
    let ResponseBody::DescribeTopicPartitions(r) = client.call(
        ApiKey::DescribeTopicPartitions,
        0,
        RequestBody::DescribeTopicPartitions(DescribeTopicPartitionsRequest {
            topics: topics
                .iter()
                .map(|t| TopicRequest {
                    name: t.to_string(),
                    ..Default::default()
                })
                .collect(),
            response_partition_limit: limit,
            cursor: cursor.map(|(topic_name, partition_index)| Cursor {
                topic_name,
                partition_index,
                ..Default::default()
            }),
            ..Default::default()
        }),
    ) else {
        panic!("not DescribeTopicPartitions")
    };
    r
}

#[test]
fn partitions_are_paged_by_the_limit_with_a_cursor_and_unknown_topics_say_so() {
    let broker = TestBroker::start();
    let mut client = RawClient::connect(&broker.bootstrap());
    for (name, partitions) in [("b-topic", 3), ("a-topic", 2), ("c-topic", 4)] {
        assert_eq!(client.create_topic(name, partitions, &[]), 0);
    }
    // All topics (none named), three partitions a page: sorted by name, then by partition.
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let r = describe(&mut client, &[], 3, cursor);
        pages += 1;
        for t in &r.topics {
            assert_eq!(t.error_code, 0);
            assert!(!t.is_internal);
            for p in &t.partitions {
                assert_eq!(
                    (p.leader_id, &p.replica_nodes, &p.isr_nodes),
                    (1, &vec![1], &vec![1])
                );
                seen.push((t.name.clone().unwrap(), p.partition_index));
            }
        }
        match r.next_cursor {
            Some(c) => cursor = Some((c.topic_name, c.partition_index)),
            None => break,
        }
    }
    let want: Vec<(String, i32)> = [("a-topic", 2), ("b-topic", 3), ("c-topic", 4)]
        .iter()
        .flat_map(|(t, n)| (0..*n).map(move |p| (t.to_string(), p)))
        .collect();
    assert_eq!(seen, want);
    assert_eq!(pages, 3);

    // Named topics, one of them unknown.
    let r = describe(&mut client, &["c-topic", "nope"], 2000, None);
    let answered: Vec<(Option<String>, i16, usize)> = r
        .topics
        .iter()
        .map(|t| (t.name.clone(), t.error_code, t.partitions.len()))
        .collect();
    assert_eq!(
        answered,
        [
            (Some("c-topic".into()), 0, 4),
            (
                Some("nope".into()),
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
                0
            )
        ]
    );
    assert!(r.next_cursor.is_none());
}
