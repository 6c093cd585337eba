//! Flush ordering and failing disks (issue 11, item 5), on brokers running in this process
//! over the simulated disk of `kfk::log::SimulatedFs` (crashes drop what was not synced,
//! directory entries included; injected faults fail syncs).

mod common;

use bytes::Bytes;
use common::{batch_of, RawClient};
use kfk::broker::config::BrokerConfig;
use kfk::broker::{start_with_fs, RunningBroker};
use kfk::log::io::Fault;
use kfk::log::{LogFs, SimulatedFs};
use kfk::protocol::frame::{decode_response_payload, encode_request_frame};
use kfk::protocol::{ApiKey, RequestBody, ResponseBody};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn start(rt: &tokio::runtime::Runtime, fs: &Arc<SimulatedFs>, extra: &[&str]) -> RunningBroker {
    let mut overrides: Vec<String> = vec![
        "listeners=PLAINTEXT://127.0.0.1:0".into(),
        "log.dirs=/data".into(),
        "log.flush.interval.messages=1".into(),
    ];
    overrides.extend(extra.iter().map(|s| s.to_string()));
    let config = BrokerConfig::load(None, &overrides).unwrap();
    let fs: Arc<dyn LogFs> = fs.clone();
    rt.block_on(start_with_fs(config, fs)).unwrap()
}

/// One Fetch v12 of `topic`-0 from `offset` without waiting: (error, high watermark,
/// offsets of the records returned), or `None` when the broker closed the connection.
fn fetch_once(client: &mut RawClient, topic: &str, offset: i64) -> Option<(i16, i64, Vec<i64>)> {
    let body = RequestBody::Fetch(common::fetch_request(topic, 0, offset, 0, 1 << 20));
    let frame = encode_request_frame(ApiKey::Fetch, 12, 7, Some("t"), &body)
        .unwrap()
        .concat();
    let payload = client.call_raw(&frame)?;
    let ResponseBody::Fetch(r) = decode_response_payload(ApiKey::Fetch, 12, &Bytes::from(payload))
        .unwrap()
        .body
    else {
        panic!("not Fetch")
    };
    let p = &r.responses[0].partitions[0];
    let mut offsets = Vec::new();
    for (_, batch) in
        kfk::protocol::record_batch::BatchIter::new(p.records.clone().unwrap_or_default())
    {
        for rec in kfk::protocol::record_batch::decode_records(&batch, 1 << 20).unwrap() {
            offsets.push(rec.offset);
        }
    }
    Some((p.error_code, p.high_watermark, offsets))
}

/// A produce of one record with acks=-1: its error code and offset, or `None` when the
/// broker closed the connection instead of answering.
fn produce(client: &mut RawClient, topic: &str, value: &str) -> Option<(i16, i64)> {
    use kfk::protocol::messages::produce_request::*;
    let body = RequestBody::Produce(ProduceRequest {
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(batch_of(&[value], None)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let frame = encode_request_frame(ApiKey::Produce, 9, 9, Some("t"), &body)
        .unwrap()
        .concat();
    let payload = client.call_raw(&frame)?;
    let ResponseBody::Produce(r) =
        decode_response_payload(ApiKey::Produce, 9, &Bytes::from(payload))
            .unwrap()
            .body
    else {
        panic!("not Produce")
    };
    let p = &r.responses[0].partition_responses[0];
    Some((p.error_code, p.base_offset))
}

#[test]
fn with_flush_messages_1_the_high_watermark_waits_for_the_fsync() {
    let rt = runtime();
    let fs = SimulatedFs::new();
    let broker = start(&rt, &fs, &[]);
    let addr = broker.local_addr().to_string();
    let mut admin = RawClient::connect(&addr);
    assert_eq!(admin.create_topic("synced", 1, &[]), 0);

    fs.set_sync_delay(Duration::from_millis(800));
    let producer_addr = addr.clone();
    let producing = std::thread::spawn(move || {
        let mut client = RawClient::connect(&producer_addr);
        produce(&mut client, "synced", "durable-first")
    });
    std::thread::sleep(Duration::from_millis(300));
    // The record is in the log but its fsync has not finished: no consumer may see it.
    let mut consumer = RawClient::connect(&addr);
    assert_eq!(
        fetch_once(&mut consumer, "synced", 0),
        Some((0, 0, vec![])),
        "a record was readable before its fsync"
    );
    assert_eq!(producing.join().unwrap(), Some((0, 0)));
    fs.set_sync_delay(Duration::ZERO);
    assert_eq!(
        fetch_once(&mut consumer, "synced", 0),
        Some((0, 1, vec![0]))
    );
    rt.block_on(broker.shutdown()).unwrap();
}

#[test]
fn a_failed_fsync_halts_a_one_dir_broker_and_a_restart_loses_nothing_acknowledged() {
    let rt = runtime();
    let fs = SimulatedFs::new();
    let broker = start(&rt, &fs, &[]);
    let addr = broker.local_addr().to_string();
    let mut client = RawClient::connect(&addr);
    assert_eq!(client.create_topic("kept", 1, &[]), 0);
    for i in 0..5 {
        assert_eq!(produce(&mut client, "kept", &format!("r{i}")), Some((0, i)));
    }
    let mut consumer = RawClient::connect(&addr);
    assert_eq!(fetch_once(&mut consumer, "kept", 0).unwrap().1, 5);

    fs.inject(Path::new("/data"), Fault::Sync);
    let failed = produce(&mut client, "kept", "never-acknowledged");
    assert!(
        failed.is_none_or(|(code, _)| code != 0),
        "acknowledged despite a failed fsync: {failed:?}"
    );
    // Nothing after the failure is served: no consumer reads offset 5.
    if let Some((code, _, offsets)) = fetch_once(&mut consumer, "kept", 5) {
        assert!(offsets.is_empty() && code != 0, "served after the failure");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while broker.broker.halted().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let reason = broker.broker.halted().expect("the broker halted");
    assert!(reason.contains("/data"), "{reason}");
    assert!(
        rt.block_on(broker.shutdown()).is_err(),
        "no clean shutdown after a halt"
    );

    // The machine crashes; the disk is replaced; the broker recovers on restart.
    fs.crash();
    fs.clear_faults();
    let broker = start(&rt, &fs, &[]);
    let addr = broker.local_addr().to_string();
    let mut client = RawClient::connect(&addr);
    let values: Vec<String> = client
        .fetch_all("kept", 0)
        .into_iter()
        .map(|(_, v)| String::from_utf8(v.unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(values, ["r0", "r1", "r2", "r3", "r4"]);
    assert_eq!(produce(&mut client, "kept", "after"), Some((0, 5)));
    rt.block_on(broker.shutdown()).unwrap();
}

#[test]
fn with_several_log_dirs_a_failed_dir_goes_offline_and_the_others_keep_serving() {
    let rt = runtime();
    let fs = SimulatedFs::new();
    // The metadata log takes /d1; the next partitions fill the emptier dir first.
    let broker = start(&rt, &fs, &["log.dirs=/d1,/d2"]);
    let addr = broker.local_addr().to_string();
    let mut client = RawClient::connect(&addr);
    assert_eq!(client.create_topic("on-d2", 1, &[]), 0);
    assert_eq!(client.create_topic("on-d1", 1, &[]), 0);
    let dir_of = |t: &str| broker.broker.replicas.dir_of(t, 0).unwrap();
    assert_eq!(dir_of("on-d2"), Path::new("/d2"));
    assert_eq!(dir_of("on-d1"), Path::new("/d1"));
    assert_eq!(produce(&mut client, "on-d2", "a"), Some((0, 0)));

    fs.inject(Path::new("/d2"), Fault::Sync);
    let kafka_storage_error = 56;
    assert_eq!(
        produce(&mut client, "on-d2", "b").map(|r| r.0),
        Some(kafka_storage_error)
    );
    assert_eq!(
        produce(&mut client, "on-d2", "c").map(|r| r.0),
        Some(kafka_storage_error)
    );
    let mut consumer = RawClient::connect(&addr);
    assert_eq!(
        fetch_once(&mut consumer, "on-d2", 0).map(|r| r.0),
        Some(kafka_storage_error)
    );
    assert_eq!(produce(&mut client, "on-d1", "x"), Some((0, 0)));
    assert_eq!(fetch_once(&mut consumer, "on-d1", 0), Some((0, 1, vec![0])));
    assert!(broker.broker.halted().is_none());
    rt.block_on(broker.shutdown()).unwrap();
}

#[test]
fn the_broker_refuses_a_current_thread_runtime_with_a_clear_message() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fs: Arc<dyn LogFs> = SimulatedFs::new();
    let config = BrokerConfig::load(None, &["log.dirs=/data".into()]).unwrap();
    let err = rt
        .block_on(start_with_fs(config, fs))
        .unwrap_err()
        .to_string();
    assert!(err.contains("multi-threaded runtime"), "{err}");
}

/// Item 11: file I/O and fsync run off the async workers: two Metadata requests that
/// auto-create topics on a disk whose fsync takes 1.5 s do not stall a third client.
#[test]
fn slow_fsyncs_of_auto_created_topics_do_not_stall_other_clients() {
    use kfk::protocol::messages::api_versions_request::ApiVersionsRequest;
    use kfk::protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
    let rt = runtime();
    let fs = SimulatedFs::new();
    let broker = start(&rt, &fs, &[]);
    let addr = broker.local_addr().to_string();
    fs.set_sync_delay(Duration::from_millis(1500));
    let creators: Vec<_> = (0..2)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut c = RawClient::connect(&addr);
                c.call(
                    ApiKey::Metadata,
                    12,
                    RequestBody::Metadata(MetadataRequest {
                        topics: Some(vec![MetadataRequestTopic {
                            name: Some(format!("auto-{i}")),
                            ..Default::default()
                        }]),
                        allow_auto_topic_creation: true,
                        ..Default::default()
                    }),
                )
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let mut other = RawClient::connect(&addr);
    let ResponseBody::ApiVersions(_) = other.call(
        ApiKey::ApiVersions,
        3,
        RequestBody::ApiVersions(ApiVersionsRequest {
            client_software_name: "t".into(),
            client_software_version: "1".into(),
            ..Default::default()
        }),
    ) else {
        panic!()
    };
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(700),
        "another client waited {waited:?}"
    );
    for c in creators {
        c.join().unwrap();
    }
    fs.set_sync_delay(Duration::ZERO);
    rt.block_on(broker.shutdown()).unwrap();
}
