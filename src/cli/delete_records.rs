//! `kfk delete-records` (kafka-delete-records): moves partitions' log start up to the offsets
//! of Kafka's JSON file (`{"partitions": [{"topic": "t", "partition": 0, "offset": 10}],
//! "version": 1}`; offset -1 means the high watermark) through DeleteRecords to each leader,
//! printing each partition's new low watermark or error as Kafka's tool does. Unlike
//! Kafka's tool (which exits 0 and waits a minute for an unknown topic), a partition that
//! fails makes the exit code 1, and an unknown partition fails at once.

use super::CliError;
use crate::client::cluster::Cluster;
use crate::protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic,
};
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  echo '{\"partitions\": [{\"topic\": \"orders\", \"partition\": 0, \"offset\": 100}], \"version\": 1}' > delete.json\n  kfk delete-records --bootstrap-server localhost:9092 --offset-json-file delete.json"
)]
pub struct DeleteRecordsArgs {
    /// The broker(s) to connect to, host:port[,host:port...].
    #[arg(long, value_name = "SERVERS", required = true)]
    pub bootstrap_server: Option<String>,
    /// The partitions and the offsets to delete records below:
    /// {"partitions": [{"topic": "foo", "partition": 1, "offset": 1}], "version": 1}.
    #[arg(long, value_name = "FILE", required = true)]
    pub offset_json_file: Option<PathBuf>,
    /// Client properties file.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<PathBuf>,
}

type TopicPartition = (String, i32);

/// `(topic, partition) → offset` from Kafka's JSON file.
fn read_offsets(file: &std::path::Path) -> Result<BTreeMap<TopicPartition, i64>, CliError> {
    let bad = |why: String| CliError::Usage(format!("--offset-json-file: {why}"));
    let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let list = v
        .get("partitions")
        .and_then(|p| p.as_array())
        .ok_or_else(|| bad("no \"partitions\" list".into()))?;
    let mut out = BTreeMap::new();
    for p in list {
        let topic = p.get("topic").and_then(|t| t.as_str());
        let partition = p
            .get("partition")
            .and_then(|n| n.as_i64())
            .and_then(|n| i32::try_from(n).ok());
        let offset = p.get("offset").and_then(|n| n.as_i64());
        let (Some(t), Some(n), Some(o)) = (topic, partition, offset) else {
            return Err(bad(format!(
                "{p} needs \"topic\", \"partition\" and \"offset\""
            )));
        };
        if out.insert((t.to_string(), n), o).is_some() {
            return Err(bad(format!("{t}-{n} is listed twice")));
        }
    }
    if out.is_empty() {
        return Err(bad("the partition list is empty".into()));
    }
    Ok(out)
}

pub fn run(args: &DeleteRecordsArgs) -> Result<(), CliError> {
    let file = args.offset_json_file.clone().unwrap_or_default();
    let offsets = read_offsets(&file)?;
    let servers = args.bootstrap_server.clone().unwrap_or_default();
    let props = super::admin_properties(&args.command_config, &servers)?;
    super::with_admin(&props, "kfk-delete-records", move |admin| async move {
        println!("Executing records delete operation");
        let outcomes = delete(&admin.cluster, &offsets).await?;
        println!("Records delete operation completed:");
        let mut failed = 0;
        for ((topic, partition), outcome) in &outcomes {
            match outcome {
                Ok(low) => println!("partition: {topic}-{partition}\tlow_watermark: {low}"),
                Err(code) => {
                    failed += 1;
                    println!(
                        "partition: {topic}-{partition}\terror: {}",
                        super::java_exception(*code)
                    );
                }
            }
        }
        if failed > 0 {
            return Err(CliError::Failed(format!(
                "{failed} of {} partitions failed",
                outcomes.len()
            )));
        }
        Ok(())
    })
}

/// DeleteRecords to each partition's leader: each partition's new low watermark or error.
async fn delete(
    cluster: &Cluster,
    offsets: &BTreeMap<TopicPartition, i64>,
) -> Result<BTreeMap<TopicPartition, Result<i64, ErrorCode>>, CliError> {
    let topics: Vec<String> = offsets.keys().map(|(t, _)| t.clone()).collect();
    cluster
        .refresh(&topics)
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let mut outcomes = BTreeMap::new();
    let mut by_leader: BTreeMap<i32, Vec<(&TopicPartition, i64)>> = BTreeMap::new();
    for (tp, offset) in offsets {
        match cluster.leader(&tp.0, tp.1) {
            Some(leader) if leader >= 0 => by_leader.entry(leader).or_default().push((tp, *offset)),
            Some(_) => {
                outcomes.insert(tp.clone(), Err(ErrorCode::LEADER_NOT_AVAILABLE));
            }
            None => {
                outcomes.insert(tp.clone(), Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
            }
        }
    }
    for (leader, parts) in by_leader {
        let mut request = DeleteRecordsRequest {
            timeout_ms: 30_000,
            ..Default::default()
        };
        for ((topic, partition), offset) in &parts {
            let entry = DeleteRecordsPartition {
                partition_index: *partition,
                offset: *offset,
                ..Default::default()
            };
            match request.topics.iter_mut().find(|t| &t.name == topic) {
                Some(t) => t.partitions.push(entry),
                None => request.topics.push(DeleteRecordsTopic {
                    name: topic.clone(),
                    partitions: vec![entry],
                    ..Default::default()
                }),
            }
        }
        let answer = match cluster.connection(leader).await {
            Ok(conn) => conn
                .call(ApiKey::DeleteRecords, RequestBody::DeleteRecords(request))
                .await
                .map(|(_, body)| body),
            Err(e) => Err(e),
        };
        match answer {
            Ok(ResponseBody::DeleteRecords(r)) => {
                for t in r.topics {
                    for p in t.partitions {
                        let outcome = match ErrorCode(p.error_code) {
                            ErrorCode::NONE => Ok(p.low_watermark),
                            code => Err(code),
                        };
                        outcomes.insert((t.name.clone(), p.partition_index), outcome);
                    }
                }
            }
            Ok(_) => {
                return Err(CliError::Failed(
                    "DeleteRecords answered with another API".into(),
                ))
            }
            Err(e) => {
                tracing::warn!(broker = leader, error = %e, "DeleteRecords failed");
                for (tp, _) in parts {
                    outcomes.insert(tp.clone(), Err(ErrorCode::REQUEST_TIMED_OUT));
                }
            }
        }
    }
    Ok(outcomes)
}
