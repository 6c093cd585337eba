//! kfk's producer and consumer against a broker nobody here wrote: librdkafka's mock
//! cluster (the `rdkafka` crate's `mocking` module), inside `cargo test`.

use bytes::Bytes;
use kfk::client::consumer::Consumer;
use kfk::client::producer::{Producer, ProducerRecord};
use kfk::client::Properties;
use rdkafka::mocking::MockCluster;
use std::time::Duration;

#[test]
fn kfk_clients_work_against_librdkafkas_mock_cluster() {
    let cluster = MockCluster::new(3).expect("mock cluster");
    cluster.create_topic("mocked", 4, 1).expect("topic");
    let bootstrap = cluster.bootstrap_servers();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut p = Properties::default();
        p.set("bootstrap.servers", bootstrap.clone());
        p.set("linger.ms", "2");
        let producer = Producer::new(&p).await.expect("producer");
        let mut sent = Vec::new();
        for i in 0..2000 {
            let key = format!("key-{}", i % 37);
            let d = producer
                .send(ProducerRecord {
                    topic: "mocked".into(),
                    key: Some(Bytes::from(key.clone())),
                    value: Some(Bytes::from(format!("v{i}"))),
                    ..Default::default()
                })
                .await
                .unwrap();
            sent.push((key, format!("v{i}"), d));
        }
        producer.flush().await;
        let mut per_partition: std::collections::BTreeMap<i32, Vec<(String, String)>> =
            Default::default();
        for (key, value, d) in sent {
            let meta = d.await.unwrap().expect("acknowledged by the mock cluster");
            assert_eq!(
                meta.partition,
                kfk::partitioner::java_partition(key.as_bytes(), 4),
                "keys land where Java puts them"
            );
            per_partition
                .entry(meta.partition)
                .or_default()
                .push((key, value));
        }
        let mut c = Properties::default();
        c.set("bootstrap.servers", bootstrap);
        c.set("auto.offset.reset", "earliest");
        let mut consumer = Consumer::new(&c).await.expect("consumer");
        consumer
            .assign((0..4).map(|p| ("mocked".to_string(), p)).collect())
            .await
            .unwrap();
        let mut got: std::collections::BTreeMap<i32, Vec<(String, String)>> = Default::default();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while got.values().map(Vec::len).sum::<usize>() < 2000
            && std::time::Instant::now() < deadline
        {
            for r in consumer
                .poll(Duration::from_millis(500))
                .await
                .expect("poll")
            {
                let text = |b: Option<Bytes>| String::from_utf8(b.unwrap().to_vec()).unwrap();
                got.entry(r.partition)
                    .or_default()
                    .push((text(r.key), text(r.value)));
            }
        }
        assert_eq!(
            got, per_partition,
            "every record back, in order per partition"
        );
    });
}
