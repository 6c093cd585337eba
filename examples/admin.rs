//! Admin calls from Rust: create a topic with a config override, list the topics, read a
//! topic's configs and a group's committed offsets.
//!
//! `cargo run --example admin -- localhost:9092`

use kfk::client::admin::{GroupAdmin, RESOURCE_TOPIC};
use kfk::client::cluster::Cluster;
use kfk::client::Properties;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bootstrap = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "localhost:9092".into());
    let mut props = Properties::default();
    props.set("bootstrap.servers", bootstrap);
    let admin = GroupAdmin::new(Cluster::new(props.client_config("admin-example")?));
    match admin
        .create_topic(
            "admin-example",
            3,
            -1,
            Vec::new(),
            &[("retention.ms".into(), "3600000".into())],
        )
        .await?
    {
        Ok(()) => println!("created admin-example"),
        Err(e) => println!("not created: {e}"),
    }
    for t in admin.metadata(None).await?.topics {
        println!(
            "topic {} ({} partitions)",
            t.name.unwrap_or_default(),
            t.partitions.len()
        );
    }
    if let Ok(configs) = admin
        .describe_configs(RESOURCE_TOPIC, "admin-example")
        .await?
    {
        for c in configs.iter().filter(|c| c.config_source == 1) {
            println!(
                "override {}={}",
                c.name,
                c.value.clone().unwrap_or_default()
            );
        }
    }
    for g in admin.list_groups().await? {
        println!(
            "group {} is {}: {:?}",
            g.group_id,
            g.state,
            admin.committed(&g.group_id).await?
        );
    }
    Ok(())
}
