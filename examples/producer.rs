//! A library producer: keyed records (murmur2 partitioning as the Java client does), acks=all,
//! idempotence, batching with linger.ms and lz4 compression.
//!
//! `cargo run --example producer -- localhost:9092 my-topic`

use kfk::client::producer::{Producer, ProducerRecord};
use kfk::client::Properties;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let bootstrap = args.get(1).map_or("localhost:9092", String::as_str);
    let topic = args.get(2).map_or("example", String::as_str);
    let mut props = Properties::default();
    props.set("bootstrap.servers", bootstrap);
    props.set("acks", "all");
    props.set("enable.idempotence", "true");
    props.set("linger.ms", "5");
    props.set("compression.type", "lz4");
    let producer = Producer::new(&props).await?;
    let mut deliveries = Vec::new();
    for i in 0..1000 {
        deliveries.push(
            producer
                .send(ProducerRecord {
                    topic: topic.to_string(),
                    key: Some(format!("user-{}", i % 10).into()),
                    value: Some(format!("event {i}").into()),
                    headers: vec![("source".into(), Some("example".into()))],
                    ..Default::default()
                })
                .await?,
        );
    }
    let mut last = None;
    for d in deliveries {
        last = Some(d.await??);
    }
    producer.close().await;
    println!("1000 records acknowledged; the last went to {last:?}");
    Ok(())
}
