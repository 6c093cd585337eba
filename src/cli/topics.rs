//! `kfk topics` (kafka-topics): list, describe, create, alter (more partitions) and delete
//! topics, with Kafka's flags and output lines.

use super::CliError;
use crate::client::admin::{AdminError, GroupAdmin, RESOURCE_TOPIC};
use crate::client::topic_pattern::TopicPattern;
use crate::client::ClientError;
use crate::protocol::messages::metadata_response::MetadataResponseTopic;
use crate::protocol::ErrorCode;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  kfk topics --bootstrap-server localhost:9092 --create --topic test --partitions 3\n  kfk topics --bootstrap-server localhost:9092 --describe --topic 'te.*'\n  kfk topics --bootstrap-server localhost:9092 --alter --topic test --partitions 6"
)]
pub struct TopicsArgs {
    /// The broker(s) to connect to, host:port[,host:port...].
    #[arg(long, value_name = "SERVERS")]
    pub bootstrap_server: String,
    /// A .properties file of client properties.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<PathBuf>,
    /// List the topics.
    #[arg(long)]
    pub list: bool,
    /// Describe topics: partitions, leaders, replicas, ISR, config overrides.
    #[arg(long)]
    pub describe: bool,
    /// Create a topic.
    #[arg(long)]
    pub create: bool,
    /// Add partitions to a topic.
    #[arg(long)]
    pub alter: bool,
    /// Delete topics.
    #[arg(long)]
    pub delete: bool,
    /// The topic (a regular expression except with --create).
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Number of partitions (create: default the broker's num.partitions; alter: new total).
    #[arg(long, value_name = "N")]
    pub partitions: Option<i32>,
    /// Replication factor (default the broker's default.replication.factor).
    #[arg(long, value_name = "N")]
    pub replication_factor: Option<i16>,
    /// Replicas per partition: broker ids, partitions separated by commas (`1:2,1:2`).
    #[arg(long, value_name = "LIST")]
    pub replica_assignment: Option<String>,
    /// A topic config override KEY=VALUE (repeatable), with --create.
    #[arg(long, value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// With --alter/--delete/--describe: do nothing when the topic does not exist.
    #[arg(long)]
    pub if_exists: bool,
    /// With --create: do nothing when the topic exists.
    #[arg(long)]
    pub if_not_exists: bool,
    /// Leave out internal topics (__consumer_offsets).
    #[arg(long)]
    pub exclude_internal: bool,
    /// Describe only partitions whose ISR is smaller than their replicas.
    #[arg(long)]
    pub under_replicated_partitions: bool,
    /// Describe only partitions without a live leader.
    #[arg(long)]
    pub unavailable_partitions: bool,
    /// Describe only partitions whose ISR is below min.insync.replicas.
    #[arg(long)]
    pub under_min_isr_partitions: bool,
    /// Describe only replicated partitions whose ISR equals min.insync.replicas.
    #[arg(long)]
    pub at_min_isr_partitions: bool,
    /// Describe only topics with config overrides (their summary line).
    #[arg(long)]
    pub topics_with_overrides: bool,
}

fn failed(e: ClientError) -> CliError {
    CliError::Failed(e.to_string())
}

/// Kafka's wording: `Error while executing topic command : <why>`.
fn command_error(why: impl std::fmt::Display) -> CliError {
    CliError::Failed(format!("Error while executing topic command : {why}"))
}

pub fn run(args: &TopicsArgs) -> Result<(), CliError> {
    let actions = [
        args.list,
        args.describe,
        args.create,
        args.alter,
        args.delete,
    ];
    if actions.iter().filter(|a| **a).count() != 1 {
        return Err(CliError::Usage(
            "exactly one of --list, --describe, --create, --alter, --delete is required".into(),
        ));
    }
    if (args.create || args.alter || args.delete) && args.topic.is_none() {
        return Err(CliError::Usage(
            "--topic is required with this action".into(),
        ));
    }
    if args.alter && args.partitions.is_none() {
        return Err(CliError::Usage(
            "--alter needs --partitions (the new partition count)".into(),
        ));
    }
    if args.replica_assignment.is_some()
        && (args.partitions.is_some() || args.replication_factor.is_some())
        && args.create
    {
        return Err(CliError::Usage(
            "--replica-assignment cannot be used with --partitions or --replication-factor".into(),
        ));
    }
    let mut configs = Vec::new();
    for c in &args.config {
        let (k, v) = c.split_once('=').ok_or_else(|| {
            CliError::Usage(format!("--config {c:?} is not of the form KEY=VALUE"))
        })?;
        configs.push((k.trim().to_string(), v.to_string()));
    }
    if !configs.is_empty() && !args.create {
        return Err(CliError::Usage(
            "--config works with --create; use kfk configs --alter for existing topics".into(),
        ));
    }
    let assignment = match &args.replica_assignment {
        None => None,
        Some(text) => Some(parse_assignment(text)?),
    };
    let pattern = match (&args.topic, args.create) {
        (Some(t), false) => {
            Some(TopicPattern::new(t).map_err(|e| CliError::Usage(format!("--topic {t:?}: {e}")))?)
        }
        _ => None,
    };
    let props = super::admin_properties(&args.command_config, &args.bootstrap_server)?;
    let props = &props;
    super::with_admin(props, "kfk-topics", |admin| async move {
        if args.create {
            return create(&admin, args, &configs, assignment).await;
        }
        let metadata = admin.metadata(None).await.map_err(failed)?;
        let mut topics: Vec<MetadataResponseTopic> = metadata
            .topics
            .into_iter()
            .filter(|t| t.error_code == 0)
            .filter(|t| !(args.exclude_internal && t.is_internal))
            .filter(|t| {
                pattern
                    .as_ref()
                    .is_none_or(|p| p.matches(t.name.as_deref().unwrap_or("")))
            })
            .collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        if topics.is_empty() && args.topic.is_some() && !args.if_exists && !args.list {
            return Err(command_error(format!(
                "Topic '{}' does not exist as expected",
                args.topic.as_deref().unwrap_or("")
            )));
        }
        if args.list {
            for t in &topics {
                println!("{}", t.name.as_deref().unwrap_or(""));
            }
            Ok(())
        } else if args.describe {
            describe(&admin, args, &topics).await
        } else if args.alter {
            let count = args.partitions.unwrap_or(0);
            for t in &topics {
                let name = t.name.clone().unwrap_or_default();
                let r = admin
                    .create_partitions(&name, count, assignment.clone())
                    .await
                    .map_err(failed)?;
                r.map_err(|e| command_error(alter_message(&e, &name, count, t.partitions.len())))?;
            }
            Ok(())
        } else {
            for t in &topics {
                let name = t.name.clone().unwrap_or_default();
                if t.is_internal {
                    return Err(command_error(format!(
                        "Topic {name} is a kafka internal topic and is not allowed to be marked for deletion."
                    )));
                }
                admin
                    .delete_topic(&name)
                    .await
                    .map_err(failed)?
                    .map_err(command_error)?;
            }
            Ok(())
        }
    })
}

fn alter_message(e: &AdminError, name: &str, count: i32, current: usize) -> String {
    match e.code {
        ErrorCode::INVALID_PARTITIONS if (count as usize) < current => format!(
            "The topic {name} currently has {current} partition(s); {count} would not be an increase."
        ),
        _ => e.to_string(),
    }
}

/// `1:2,1:2` → partition 0 on brokers [1, 2], partition 1 on [1, 2].
fn parse_assignment(text: &str) -> Result<Vec<Vec<i32>>, CliError> {
    text.split(',')
        .map(|p| {
            p.split(':')
                .map(|b| b.trim().parse::<i32>())
                .collect::<Result<Vec<i32>, _>>()
                .map_err(|_| {
                    CliError::Usage(format!(
                        "--replica-assignment {text:?}: expected broker ids like 1:2,1:2"
                    ))
                })
        })
        .collect()
}

async fn create(
    admin: &GroupAdmin,
    args: &TopicsArgs,
    configs: &[(String, String)],
    assignment: Option<Vec<Vec<i32>>>,
) -> Result<(), CliError> {
    let name = args.topic.clone().unwrap_or_default();
    let result = admin
        .create_topic(
            &name,
            args.partitions.unwrap_or(-1),
            args.replication_factor.unwrap_or(-1),
            assignment.unwrap_or_default(),
            configs,
        )
        .await
        .map_err(failed)?;
    match result {
        Ok(()) => {
            if name.contains('.') || name.contains('_') {
                println!("WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.");
            }
            println!("Created topic {name}.");
            Ok(())
        }
        Err(e) if e.code == ErrorCode::TOPIC_ALREADY_EXISTS && args.if_not_exists => Ok(()),
        Err(e) if e.code == ErrorCode::TOPIC_ALREADY_EXISTS => {
            Err(command_error(format!("Topic '{name}' already exists.")))
        }
        Err(e) => Err(command_error(e)),
    }
}

async fn describe(
    admin: &GroupAdmin,
    args: &TopicsArgs,
    topics: &[MetadataResponseTopic],
) -> Result<(), CliError> {
    let partition_filter = args.under_replicated_partitions
        || args.unavailable_partitions
        || args.under_min_isr_partitions
        || args.at_min_isr_partitions;
    for t in topics {
        let name = t.name.clone().unwrap_or_default();
        let configs = admin
            .describe_configs(RESOURCE_TOPIC, &name)
            .await
            .map_err(failed)?
            .map_err(command_error)?;
        // Overrides: what the topic itself sets (DYNAMIC_TOPIC_CONFIG, source 1).
        let overrides: Vec<String> = configs
            .iter()
            .filter(|c| c.config_source == 1)
            .map(|c| format!("{}={}", c.name, c.value.as_deref().unwrap_or("")))
            .collect();
        let min_isr: usize = configs
            .iter()
            .find(|c| c.name == "min.insync.replicas")
            .and_then(|c| c.value.as_deref()?.parse().ok())
            .unwrap_or(1);
        if args.topics_with_overrides && overrides.is_empty() {
            continue;
        }
        let rf = t.partitions.first().map_or(0, |p| p.replica_nodes.len());
        let summary = format!(
            "Topic: {name}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {rf}\tConfigs: {}",
            t.topic_id,
            t.partitions.len(),
            overrides.join(",")
        );
        let mut partitions: Vec<_> = t.partitions.iter().collect();
        partitions.sort_by_key(|p| p.partition_index);
        let shown: Vec<_> = partitions
            .into_iter()
            .filter(|p| {
                if !partition_filter {
                    return true;
                }
                let (isr, replicas) = (p.isr_nodes.len(), p.replica_nodes.len());
                (args.under_replicated_partitions && isr < replicas)
                    || (args.unavailable_partitions && p.leader_id < 0)
                    || (args.under_min_isr_partitions && isr < min_isr)
                    || (args.at_min_isr_partitions && replicas > 1 && isr == min_isr)
            })
            .collect();
        if partition_filter {
            // Kafka prints only the matching partition lines.
            for p in shown {
                println!("{}", partition_line(&name, p));
            }
            continue;
        }
        println!("{summary}");
        if args.topics_with_overrides {
            continue;
        }
        for p in shown {
            println!("{}", partition_line(&name, p));
        }
    }
    Ok(())
}

fn partition_line(
    topic: &str,
    p: &crate::protocol::messages::metadata_response::MetadataResponsePartition,
) -> String {
    let list = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    let leader = if p.leader_id < 0 {
        "none".to_string()
    } else {
        p.leader_id.to_string()
    };
    format!(
        "\tTopic: {topic}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}\tElr: \tLastKnownElr: ",
        p.partition_index,
        list(&p.replica_nodes),
        list(&p.isr_nodes)
    )
}
