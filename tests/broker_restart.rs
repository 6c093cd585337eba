//! Restarts: after a clean stop or `kill -9` (under every flush policy), every acknowledged
//! record is read back, offsets continue, topics keep their ids, configs and idempotent
//! producer state persist, and producer ids are never reused.

mod common;

use common::{batch_of, RawClient, TestBroker};
use kfk::protocol::messages::describe_configs_request::{
    DescribeConfigsRequest, DescribeConfigsResource,
};
use kfk::protocol::{ApiKey, RequestBody, ResponseBody};

fn retention_of(client: &mut RawClient, topic: &str) -> Option<String> {
    let body = RequestBody::DescribeConfigs(DescribeConfigsRequest {
        resources: vec![DescribeConfigsResource {
            resource_type: 2,
            resource_name: topic.into(),
            configuration_keys: Some(vec!["retention.ms".into()]),
            ..Default::default()
        }],
        ..Default::default()
    });
    let ResponseBody::DescribeConfigs(r) = client.call(ApiKey::DescribeConfigs, 4, body) else {
        panic!()
    };
    r.results[0].configs.first().and_then(|c| c.value.clone())
}

fn values(n: std::ops::Range<usize>) -> Vec<String> {
    n.map(|i| format!("record-{i}")).collect()
}

#[test]
fn a_clean_restart_keeps_records_offsets_topic_ids_configs_and_producer_state() {
    let mut broker = TestBroker::start();
    let mut c = RawClient::connect(&broker.bootstrap());
    assert_eq!(
        c.create_topic("kept", 2, &[("retention.ms", "123456789")]),
        0
    );
    let (id, partitions) = c.topic_id("kept");
    assert_eq!(partitions, 2);
    let (pid, epoch) = c.init_producer_id();
    let all = values(0..100);
    for (i, chunk) in all.chunks(10).enumerate() {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        assert_eq!(
            c.produce(
                "kept",
                0,
                batch_of(&refs, Some((pid, epoch, (i * 10) as i32)))
            ),
            (0, (i * 10) as i64)
        );
    }
    broker.stop();
    broker.restart();
    let mut c = RawClient::connect(&broker.bootstrap());
    assert_eq!(c.topic_id("kept"), (id, 2), "same topic id after restart");
    assert_eq!(retention_of(&mut c, "kept").as_deref(), Some("123456789"));
    let got: Vec<String> = c
        .fetch_all("kept", 0)
        .into_iter()
        .map(|(_, v)| String::from_utf8(v.unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(got, all);
    // The retry of the last batch is a duplicate; a gap is refused; the next batch continues.
    let last: Vec<&str> = all[90..].iter().map(String::as_str).collect();
    assert_eq!(
        c.produce("kept", 0, batch_of(&last, Some((pid, epoch, 90)))),
        (0, 90),
        "duplicate answered with the original offset"
    );
    assert_eq!(
        c.produce("kept", 0, batch_of(&["x"], Some((pid, epoch, 105))))
            .0,
        45,
        "OUT_OF_ORDER_SEQUENCE_NUMBER"
    );
    assert_eq!(
        c.produce("kept", 0, batch_of(&["next"], Some((pid, epoch, 100)))),
        (0, 100),
        "offsets continue"
    );
    let (pid2, _) = c.init_producer_id();
    assert!(
        pid2 > pid,
        "producer ids are never reused after a restart ({pid2} after {pid})"
    );
}

#[test]
fn kill_9_loses_nothing_acknowledged_under_every_flush_policy() {
    for policy in [
        None,
        Some("log.flush.interval.messages=1"),
        Some("log.flush.interval.ms=10"),
    ] {
        let extra: Vec<&str> = policy.map(|p| vec!["--override", p]).unwrap_or_default();
        let mut broker = TestBroker::start_with(&extra);
        let mut c = RawClient::connect(&broker.bootstrap());
        assert_eq!(c.create_topic("k9", 1, &[]), 0);
        let all = values(0..500);
        for chunk in all.chunks(5) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            assert_eq!(c.produce("k9", 0, batch_of(&refs, None)).0, 0);
        }
        broker.kill9();
        broker.restart();
        let mut c = RawClient::connect(&broker.bootstrap());
        let got: Vec<String> = c
            .fetch_all("k9", 0)
            .into_iter()
            .map(|(_, v)| String::from_utf8(v.unwrap().to_vec()).unwrap())
            .collect();
        assert_eq!(got, all, "policy {policy:?}");
        assert_eq!(
            c.produce("k9", 0, batch_of(&["after"], None)),
            (0, 500),
            "policy {policy:?}: offsets continue"
        );
    }
}
