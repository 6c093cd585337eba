//! A kfk broker inside a Rust program: start it on a free loopback port with a temporary data
//! directory, produce and consume through it, shut it down cleanly.
//!
//! `cargo run --example embedded_broker`

use kfk::broker::config::BrokerConfig;
use kfk::client::consumer::Consumer;
use kfk::client::producer::{Producer, ProducerRecord};
use kfk::client::Properties;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("kfk-embedded-{}", std::process::id()));
    let config = BrokerConfig::load(
        None,
        &[
            "listeners=PLAINTEXT://127.0.0.1:0".to_string(),
            format!("log.dirs={}", dir.display()),
        ],
    )?;
    let broker = kfk::broker::start(config).await?;
    let bootstrap = broker.local_addr().to_string();
    println!("broker listening on {bootstrap}");

    let mut props = Properties::default();
    props.set("bootstrap.servers", bootstrap.clone());
    let producer = Producer::new(&props).await?;
    for i in 0..10 {
        let delivery = producer
            .send(ProducerRecord {
                topic: "embedded".into(),
                value: Some(format!("hello {i}").into()),
                ..Default::default()
            })
            .await?;
        let meta = delivery.await??;
        println!(
            "sent to partition {} at offset {}",
            meta.partition, meta.offset
        );
    }
    producer.close().await;

    props.set("auto.offset.reset", "earliest");
    let mut consumer = Consumer::new(&props).await?;
    let info = consumer
        .cluster
        .wait_for_topic("embedded", false, Duration::from_secs(5))
        .await?;
    let partitions = info
        .partitions
        .iter()
        .map(|p| ("embedded".to_string(), p.index))
        .collect();
    consumer.assign(partitions).await?;
    let mut seen = 0;
    while seen < 10 {
        for r in consumer.poll(Duration::from_secs(1)).await? {
            println!(
                "read {:?}",
                String::from_utf8_lossy(&r.value.unwrap_or_default())
            );
            seen += 1;
        }
    }
    broker.shutdown().await?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
