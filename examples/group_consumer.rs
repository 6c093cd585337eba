//! A group consumer: joins `my-group`, gets its share of the partitions, resumes from the
//! group's committed offsets, commits every 5 s (auto-commit) and on close, and leaves the
//! group cleanly on Ctrl-C. Start several to watch the partitions being divided.
//!
//! `cargo run --example group_consumer -- localhost:9092 my-topic my-group`

use kfk::client::consumer::{Consumer, RebalanceListener, Subscription, TopicPartition};
use kfk::client::Properties;
use std::time::Duration;

struct Log;

impl RebalanceListener for Log {
    fn on_partitions_revoked(&mut self, partitions: &[TopicPartition]) {
        eprintln!("revoked: {partitions:?}");
    }
    fn on_partitions_assigned(&mut self, partitions: &[TopicPartition]) {
        eprintln!("assigned: {partitions:?}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let bootstrap = args.get(1).map_or("localhost:9092", String::as_str);
    let topic = args.get(2).map_or("example", String::as_str);
    let group = args.get(3).map_or("example-group", String::as_str);
    let mut props = Properties::default();
    props.set("bootstrap.servers", bootstrap);
    props.set("group.id", group);
    props.set("auto.offset.reset", "earliest");
    let mut consumer = Consumer::new(&props).await?;
    consumer.set_rebalance_listener(Box::new(Log));
    consumer.subscribe(Subscription::Topics(vec![topic.to_string()]))?;
    loop {
        tokio::select! {
            records = consumer.poll(Duration::from_secs(1)) => {
                for r in records? {
                    println!("{}-{}@{}: {}", r.topic, r.partition, r.offset,
                        String::from_utf8_lossy(&r.value.unwrap_or_default()));
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    consumer.close().await?;
    Ok(())
}
