//! `kfk log-dirs --describe` (kafka-log-dirs): each broker's log directories and the
//! partitions in them (size, offset lag, whether a future replica), asked with
//! DescribeLogDirs and printed as Kafka's tool prints them: two lines, then one line of JSON.
//! Partitions are listed by topic and partition (Kafka's tool lists them in its hash map's
//! order).

use super::CliError;
use crate::protocol::messages::describe_log_dirs_request::DescribeLogDirsRequest;
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  kfk log-dirs --bootstrap-server localhost:9092 --describe --topic-list orders,payments"
)]
pub struct LogDirsArgs {
    /// The broker(s) to connect to, host:port[,host:port...].
    #[arg(long, value_name = "SERVERS", required = true)]
    pub bootstrap_server: Option<String>,
    /// Describe the log directories of the brokers.
    #[arg(long, required = true)]
    pub describe: bool,
    /// The brokers to ask, "0,1,2" (default: every broker).
    #[arg(long, value_name = "IDS")]
    pub broker_list: Option<String>,
    /// The topics to list, "topic1,topic2" (default: every topic).
    #[arg(long, value_name = "TOPICS")]
    pub topic_list: Option<String>,
    /// Client properties file.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<PathBuf>,
}

/// Kafka's JSON, field order kept.
#[derive(Serialize)]
struct Output {
    brokers: Vec<BrokerDirs>,
    version: i32,
}

#[derive(Serialize)]
struct BrokerDirs {
    broker: i32,
    #[serde(rename = "logDirs")]
    log_dirs: Vec<LogDir>,
}

#[derive(Serialize)]
struct LogDir {
    partitions: Vec<PartitionInDir>,
    error: Option<String>,
    #[serde(rename = "logDir")]
    log_dir: String,
}

#[derive(Serialize)]
struct PartitionInDir {
    partition: String,
    size: i64,
    #[serde(rename = "offsetLag")]
    offset_lag: i64,
    #[serde(rename = "isFuture")]
    is_future: bool,
}

fn list(text: &Option<String>) -> Vec<String> {
    text.as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn run(args: &LogDirsArgs) -> Result<(), CliError> {
    let wanted_brokers: Vec<i32> = list(&args.broker_list)
        .iter()
        .map(|b| {
            b.parse()
                .map_err(|_| CliError::Usage(format!("--broker-list: {b:?} is not a broker id")))
        })
        .collect::<Result<_, _>>()?;
    let topics = list(&args.topic_list);
    let servers = args.bootstrap_server.clone().unwrap_or_default();
    let props = super::admin_properties(&args.command_config, &servers)?;
    super::with_admin(&props, "kfk-log-dirs", move |admin| async move {
        let failed = |e: crate::client::ClientError| CliError::Failed(e.to_string());
        let cluster = &admin.cluster;
        cluster.refresh(&[]).await.map_err(failed)?;
        let mut existing = cluster.broker_ids();
        existing.sort_unstable();
        let brokers = if wanted_brokers.is_empty() {
            existing.clone()
        } else {
            let missing: Vec<String> = wanted_brokers
                .iter()
                .filter(|b| !existing.contains(b))
                .map(i32::to_string)
                .collect();
            if !missing.is_empty() {
                let have: Vec<String> = existing.iter().map(i32::to_string).collect();
                return Err(CliError::Failed(format!(
                    "ERROR: The given brokers do not exist from --broker-list: {}. Current existent brokers: {}",
                    missing.join(","),
                    have.join(",")
                )));
            }
            wanted_brokers.clone()
        };
        println!("Querying brokers for log directories information");
        let mut out = Output {
            brokers: Vec::new(),
            version: 1,
        };
        for broker in &brokers {
            let conn = cluster.connection(*broker).await.map_err(failed)?;
            let request = RequestBody::DescribeLogDirs(DescribeLogDirsRequest {
                topics: None,
                ..Default::default()
            });
            let (_, body) = conn
                .call(ApiKey::DescribeLogDirs, request)
                .await
                .map_err(failed)?;
            let ResponseBody::DescribeLogDirs(r) = body else {
                return Err(CliError::Failed(
                    "DescribeLogDirs answered with another API".into(),
                ));
            };
            if r.error_code != 0 {
                return Err(CliError::Failed(format!(
                    "broker {broker}: {}",
                    super::java_exception(ErrorCode(r.error_code))
                )));
            }
            let log_dirs = r
                .results
                .into_iter()
                .map(|d| {
                    let mut partitions: Vec<(String, i32, PartitionInDir)> = d
                        .topics
                        .iter()
                        .filter(|t| topics.is_empty() || topics.contains(&t.name))
                        .flat_map(|t| {
                            t.partitions.iter().map(|p| {
                                (
                                    t.name.clone(),
                                    p.partition_index,
                                    PartitionInDir {
                                        partition: format!("{}-{}", t.name, p.partition_index),
                                        size: p.partition_size,
                                        offset_lag: p.offset_lag,
                                        is_future: p.is_future_key,
                                    },
                                )
                            })
                        })
                        .collect();
                    partitions.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
                    LogDir {
                        partitions: partitions.into_iter().map(|p| p.2).collect(),
                        error: (d.error_code != 0).then(|| {
                            let full = super::java_exception(ErrorCode(d.error_code));
                            full.split(':').next().unwrap_or_default().to_string()
                        }),
                        log_dir: d.log_dir,
                    }
                })
                .collect();
            out.brokers.push(BrokerDirs {
                broker: *broker,
                log_dirs,
            });
        }
        let ids: Vec<String> = brokers.iter().map(i32::to_string).collect();
        println!(
            "Received log directory information from brokers {}",
            ids.join(",")
        );
        let json = serde_json::to_string(&out).map_err(|e| CliError::Failed(e.to_string()))?;
        println!("{json}");
        Ok(())
    })
}
