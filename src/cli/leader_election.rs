//! `kfk leader-election` (kafka-leader-election): a preferred or unclean leader election
//! for some partitions or all of them, printed as Kafka's tool prints the outcome.

use super::CliError;
use crate::protocol::messages::elect_leaders_request::{ElectLeadersRequest, TopicPartitions};
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};
use clap::{Args, ValueEnum};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  kfk leader-election --bootstrap-server localhost:9092 --election-type PREFERRED --all-topic-partitions\n  kfk leader-election --bootstrap-server localhost:9092 --election-type UNCLEAN --topic t --partition 0"
)]
pub struct LeaderElectionArgs {
    /// The broker(s) to connect to (host:port[,host:port...]).
    #[arg(long, value_name = "SERVERS", required = true)]
    pub bootstrap_server: Option<String>,
    /// Client properties file.
    #[arg(long, value_name = "FILE")]
    pub admin_config: Option<PathBuf>,
    /// The kind of election.
    #[arg(long, value_enum, ignore_case = true, value_name = "TYPE")]
    pub election_type: ElectionType,
    /// The topic of the partition to elect a leader for (with --partition).
    #[arg(long, value_name = "TOPIC", requires = "partition")]
    pub topic: Option<String>,
    /// The partition to elect a leader for (with --topic).
    #[arg(long, value_name = "N", requires = "topic")]
    pub partition: Option<i32>,
    /// Elect leaders for every partition.
    #[arg(long, conflicts_with_all = ["topic", "path_to_json_file"])]
    pub all_topic_partitions: bool,
    /// A JSON file of partitions: {"partitions": [{"topic": "t", "partition": 0}]}.
    #[arg(long, value_name = "FILE", conflicts_with = "topic")]
    pub path_to_json_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ElectionType {
    #[value(name = "PREFERRED")]
    Preferred,
    #[value(name = "UNCLEAN")]
    Unclean,
}

fn partitions_of(args: &LeaderElectionArgs) -> Result<Option<Vec<(String, i32)>>, CliError> {
    if args.all_topic_partitions {
        return Ok(None);
    }
    if let (Some(t), Some(p)) = (&args.topic, args.partition) {
        return Ok(Some(vec![(t.clone(), p)]));
    }
    let Some(file) = &args.path_to_json_file else {
        return Err(CliError::Usage(
            "one of --all-topic-partitions, --topic/--partition or --path-to-json-file is required"
                .into(),
        ));
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::Usage(format!("--path-to-json-file: {e}")))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("--path-to-json-file: {e}")))?;
    let list = v
        .get("partitions")
        .and_then(|p| p.as_array())
        .ok_or_else(|| CliError::Usage("--path-to-json-file: no \"partitions\" list".into()))?;
    list.iter()
        .map(|p| {
            let topic = p.get("topic").and_then(|t| t.as_str());
            let partition = p.get("partition").and_then(|n| n.as_i64());
            match (topic, partition) {
                (Some(t), Some(n)) => Ok((t.to_string(), n as i32)),
                _ => Err(CliError::Usage(format!(
                    "--path-to-json-file: {p} needs \"topic\" and \"partition\""
                ))),
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub fn run(args: &LeaderElectionArgs) -> Result<(), CliError> {
    let partitions = partitions_of(args)?;
    let servers = args.bootstrap_server.clone().unwrap_or_default();
    let props = super::admin_properties(&args.admin_config, &servers)?;
    let kind = match args.election_type {
        ElectionType::Preferred => "PREFERRED",
        ElectionType::Unclean => "UNCLEAN",
    };
    let request = ElectLeadersRequest {
        election_type: i8::from(args.election_type == ElectionType::Unclean),
        topic_partitions: partitions.map(|ps| {
            let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for (t, p) in ps {
                by_topic.entry(t).or_default().push(p);
            }
            by_topic
                .into_iter()
                .map(|(topic, partitions)| TopicPartitions {
                    topic,
                    partitions,
                    ..Default::default()
                })
                .collect()
        }),
        timeout_ms: 30_000,
        ..Default::default()
    };
    super::with_admin(&props, "kfk-leader-election", move |admin| async move {
        let conn = admin
            .cluster
            .any_connection()
            .await
            .map_err(|e| CliError::Failed(format!("--bootstrap-server: {e}")))?;
        let r = match conn
            .call(ApiKey::ElectLeaders, RequestBody::ElectLeaders(request))
            .await
            .map_err(|e| CliError::Failed(e.to_string()))?
        {
            (_, ResponseBody::ElectLeaders(r)) => r,
            _ => return Err(CliError::Failed("unexpected answer to ElectLeaders".into())),
        };
        if r.error_code != 0 {
            return Err(CliError::Failed(format!(
                "leader election failed: {}",
                ErrorCode(r.error_code).name()
            )));
        }
        let (mut done, mut not_needed, mut failed) = (Vec::new(), Vec::new(), Vec::new());
        for t in &r.replica_election_results {
            for p in &t.partition_result {
                let name = format!("{}-{}", t.topic, p.partition_id);
                match ErrorCode(p.error_code) {
                    ErrorCode::NONE => done.push(name),
                    ErrorCode::ELECTION_NOT_NEEDED => not_needed.push(name),
                    code => failed.push((name, code)),
                }
            }
        }
        if !done.is_empty() {
            println!(
                "Successfully completed leader election ({kind}) for partitions {}",
                done.join(", ")
            );
        }
        if !not_needed.is_empty() {
            println!(
                "Valid replica already elected for partitions {}",
                not_needed.join(", ")
            );
        }
        if failed.is_empty() {
            return Ok(());
        }
        for (name, code) in &failed {
            eprintln!(
                "Error completing leader election ({kind}) for partition: {name}: {}",
                code.name()
            );
        }
        Err(CliError::Failed(format!(
            "{} partition(s) did not get a leader",
            failed.len()
        )))
    })
}
