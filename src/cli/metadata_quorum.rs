//! `kfk metadata-quorum` (kafka-metadata-quorum): `describe --status` and
//! `describe --replication` of the metadata quorum, printed as Kafka's tool prints them,
//! through a broker (`--bootstrap-server`) or a controller (`--bootstrap-controller`).

use super::CliError;
use crate::protocol::messages::describe_cluster_request::DescribeClusterRequest;
use crate::protocol::messages::describe_quorum_request::{
    DescribeQuorumRequest, PartitionData, TopicData,
};
use crate::protocol::messages::describe_quorum_response::{DescribeQuorumResponse, ReplicaState};
use crate::protocol::{ApiKey, RequestBody, ResponseBody};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    disable_help_subcommand = true,
    after_help = "Examples:\n  kfk metadata-quorum --bootstrap-server localhost:9092 describe --status\n  kfk metadata-quorum --bootstrap-controller localhost:9093 describe --replication"
)]
pub struct MetadataQuorumArgs {
    /// A broker to ask (host:port[,host:port...]).
    #[arg(
        long,
        value_name = "SERVERS",
        required_unless_present = "bootstrap_controller",
        conflicts_with = "bootstrap_controller"
    )]
    pub bootstrap_server: Option<String>,
    /// A controller to ask, on its controller listener.
    #[arg(long, value_name = "CONTROLLERS")]
    pub bootstrap_controller: Option<String>,
    /// Client properties file (as Kafka's --command-config).
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: QuorumCommand,
}

#[derive(Subcommand, Debug)]
pub enum QuorumCommand {
    /// Describe the metadata quorum.
    #[command(
        after_help = "Example:\n  kfk metadata-quorum --bootstrap-server localhost:9092 describe --status"
    )]
    Describe(DescribeArgs),
    /// Add the controller of --command-config (its node.id, controller listener and the
    /// directory.id of its formatted metadata dir) to a dynamic quorum.
    #[command(
        after_help = "Example:\n  kfk metadata-quorum --bootstrap-controller localhost:9093 --command-config controller.properties add-controller"
    )]
    AddController,
    /// Remove a controller from a dynamic quorum.
    #[command(
        after_help = "Example:\n  kfk metadata-quorum --bootstrap-controller localhost:9093 remove-controller --controller-id 3 --controller-directory-id 0aNV2c2ATvWc0Zd3hUXbmw"
    )]
    RemoveController(RemoveControllerArgs),
}

#[derive(Args, Debug)]
pub struct RemoveControllerArgs {
    /// The node id of the controller to remove.
    #[arg(long, value_name = "ID")]
    pub controller_id: i32,
    /// The directory id of the controller to remove (its meta.properties directory.id).
    #[arg(long, value_name = "UUID")]
    pub controller_directory_id: String,
}

#[derive(Args, Debug)]
pub struct DescribeArgs {
    /// Leader, epoch, high watermark, lag and the voters.
    #[arg(
        long,
        conflicts_with = "replication",
        required_unless_present = "replication"
    )]
    pub status: bool,
    /// Each replica's log end offset, lag and fetch times.
    #[arg(long)]
    pub replication: bool,
    /// With --replication: print human-readable times and lags.
    #[arg(long)]
    pub human_readable: bool,
}

pub fn run(args: &MetadataQuorumArgs) -> Result<(), CliError> {
    let (flag, servers) = match (&args.bootstrap_server, &args.bootstrap_controller) {
        (Some(s), _) => ("--bootstrap-server", s.clone()),
        (None, Some(c)) => ("--bootstrap-controller", c.clone()),
        (None, None) => {
            return Err(CliError::Usage(
                "one of --bootstrap-server or --bootstrap-controller is required".into(),
            ))
        }
    };
    let d = match &args.command {
        QuorumCommand::Describe(d) => d,
        QuorumCommand::AddController => return add_controller(args, flag, &servers),
        QuorumCommand::RemoveController(r) => return remove_controller(args, r, flag, &servers),
    };
    let props = super::admin_properties(&args.command_config, &servers)?;
    let status = d.status;
    super::with_admin(&props, "kfk-metadata-quorum", move |admin| async move {
        let conn = admin
            .cluster
            .any_connection()
            .await
            .map_err(|e| CliError::Failed(format!("{flag}: {e}")))?;
        let request = DescribeQuorumRequest {
            topics: vec![TopicData {
                topic_name: "__cluster_metadata".into(),
                partitions: vec![PartitionData {
                    partition_index: 0,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let quorum = match conn
            .call(ApiKey::DescribeQuorum, RequestBody::DescribeQuorum(request))
            .await
            .map_err(|e| CliError::Failed(e.to_string()))?
        {
            (_, ResponseBody::DescribeQuorum(r)) => r,
            _ => {
                return Err(CliError::Failed(
                    "unexpected answer to DescribeQuorum".into(),
                ))
            }
        };
        let endpoint_type = if flag == "--bootstrap-controller" {
            2
        } else {
            1
        };
        let cluster_id = match conn
            .call(
                ApiKey::DescribeCluster,
                RequestBody::DescribeCluster(DescribeClusterRequest {
                    endpoint_type,
                    ..Default::default()
                }),
            )
            .await
        {
            Ok((_, ResponseBody::DescribeCluster(r))) => r.cluster_id,
            _ => String::new(),
        };
        let text = if status {
            format_status(&cluster_id, &quorum)?
        } else {
            format_replication(&quorum)?
        };
        print!("{text}");
        Ok(())
    })
}

/// The admin properties of a voter change: only the client keys of --command-config (it is
/// the controller's server config for add-controller).
fn voter_change_props(
    args: &MetadataQuorumArgs,
    servers: &str,
) -> Result<crate::client::Properties, CliError> {
    let mut props = super::admin_properties(&None, servers)?;
    if let Some(f) = &args.command_config {
        let all = crate::client::read_properties_file(f)
            .map_err(|e| CliError::Usage(format!("--command-config: {e}")))?;
        for (k, v) in all {
            if k.starts_with("request.timeout") || k.starts_with("client.id") {
                props.set(&k, v);
            }
        }
    }
    Ok(props)
}

/// Sends one voter-change request and turns its error code into the tool's error.
async fn voter_change(
    admin: &crate::client::admin::GroupAdmin,
    flag: &str,
    api: ApiKey,
    body: RequestBody,
) -> Result<(), CliError> {
    let conn = admin
        .cluster
        .any_connection()
        .await
        .map_err(|e| CliError::Failed(format!("{flag}: {e}")))?;
    let (code, message) = match conn
        .call(api, body)
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?
    {
        (_, ResponseBody::AddRaftVoter(r)) => (r.error_code, r.error_message),
        (_, ResponseBody::RemoveRaftVoter(r)) => (r.error_code, r.error_message),
        _ => {
            return Err(CliError::Failed(format!(
                "unexpected answer to {}",
                api.name()
            )))
        }
    };
    if code != 0 {
        let name = crate::protocol::ErrorCode(code).name();
        return Err(CliError::Failed(match message {
            Some(m) => format!("{name}: {m}"),
            None => name.to_string(),
        }));
    }
    Ok(())
}

/// `add-controller`: the controller's identity comes from its own config file (Kafka's
/// tool reads it the same way).
fn add_controller(args: &MetadataQuorumArgs, flag: &str, servers: &str) -> Result<(), CliError> {
    use crate::protocol::messages::add_raft_voter_request::{AddRaftVoterRequest, Listener};
    let file = args.command_config.as_ref().ok_or_else(|| {
        CliError::Usage(
            "add-controller: --command-config (the new controller's server config) is required"
                .into(),
        )
    })?;
    let config = crate::broker::config::BrokerConfig::load(Some(file), &[])
        .map_err(|e| CliError::Usage(format!("--command-config: {e}")))?;
    if !config.process_roles.controller {
        return Err(CliError::Usage(
            "--command-config: process.roles does not include controller".into(),
        ));
    }
    let dir = config.log_dirs.first().cloned().unwrap_or_default();
    let meta = crate::client::read_properties_file(&dir.join("meta.properties")).map_err(|e| {
        CliError::Usage(format!(
            "--command-config: the metadata dir {} is not formatted ({e})",
            dir.display()
        ))
    })?;
    let directory_id = meta
        .get("directory.id")
        .and_then(|d| crate::protocol::Uuid::parse(d))
        .unwrap_or(crate::protocol::Uuid::ZERO);
    let listeners: Vec<Listener> = config
        .listeners
        .iter()
        .zip(&config.advertised_listeners)
        .filter(|(l, _)| config.controller_listener_names.contains(&l.name))
        .map(|(l, a)| Listener {
            name: l.name.clone(),
            host: if a.host.is_empty() {
                "localhost".into()
            } else {
                a.host.clone()
            },
            port: a.port,
            ..Default::default()
        })
        .collect();
    if listeners.is_empty() {
        return Err(CliError::Usage(
            "--command-config: no listener of controller.listener.names".into(),
        ));
    }
    let endpoints: Vec<String> = listeners
        .iter()
        .map(|l| format!("{}://{}:{}", l.name, l.host, l.port))
        .collect();
    let request = AddRaftVoterRequest {
        cluster_id: meta.get("cluster.id").cloned(),
        timeout_ms: 30_000,
        voter_id: config.node_id,
        voter_directory_id: directory_id,
        listeners,
        ..Default::default()
    };
    let props = voter_change_props(args, servers)?;
    let node_id = config.node_id;
    super::with_admin(&props, "kfk-metadata-quorum", move |admin| async move {
        voter_change(
            &admin,
            flag,
            ApiKey::AddRaftVoter,
            RequestBody::AddRaftVoter(request),
        )
        .await?;
        println!(
            "Added controller {node_id} with directory id {directory_id} and endpoints: {}",
            endpoints.join(", ")
        );
        Ok(())
    })
}

fn remove_controller(
    args: &MetadataQuorumArgs,
    r: &RemoveControllerArgs,
    flag: &str,
    servers: &str,
) -> Result<(), CliError> {
    use crate::protocol::messages::remove_raft_voter_request::RemoveRaftVoterRequest;
    let directory_id =
        crate::protocol::Uuid::parse(&r.controller_directory_id).ok_or_else(|| {
            CliError::Usage(format!(
                "--controller-directory-id: {:?} is not a valid directory id",
                r.controller_directory_id
            ))
        })?;
    let request = RemoveRaftVoterRequest {
        cluster_id: None,
        voter_id: r.controller_id,
        voter_directory_id: directory_id,
        ..Default::default()
    };
    let props = voter_change_props(args, servers)?;
    let id = r.controller_id;
    super::with_admin(&props, "kfk-metadata-quorum", move |admin| async move {
        voter_change(
            &admin,
            flag,
            ApiKey::RemoveRaftVoter,
            RequestBody::RemoveRaftVoter(request),
        )
        .await?;
        println!("Removed KRaft controller {id} with directory id {directory_id}");
        Ok(())
    })
}

fn partition(
    q: &DescribeQuorumResponse,
) -> Result<&crate::protocol::messages::describe_quorum_response::PartitionData, CliError> {
    if q.error_code != 0 {
        return Err(CliError::Failed(format!(
            "DescribeQuorum failed: {}",
            q.error_message
                .clone()
                .unwrap_or_else(|| crate::protocol::ErrorCode(q.error_code).name().to_string())
        )));
    }
    let p = q
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| CliError::Failed("DescribeQuorum answered no partition".into()))?;
    if p.error_code != 0 {
        return Err(CliError::Failed(format!(
            "DescribeQuorum failed: {}",
            crate::protocol::ErrorCode(p.error_code).name()
        )));
    }
    Ok(p)
}

fn voters_json(q: &DescribeQuorumResponse, replicas: &[ReplicaState]) -> String {
    let items: Vec<String> = replicas
        .iter()
        .map(|r| {
            let endpoints: Vec<String> = q
                .nodes
                .iter()
                .find(|n| n.node_id == r.replica_id)
                .map(|n| {
                    n.listeners
                        .iter()
                        .map(|l| format!("\"{}://{}:{}\"", l.name, l.host, l.port))
                        .collect()
                })
                .unwrap_or_default();
            if endpoints.is_empty() {
                format!("{{\"id\": {}}}", r.replica_id)
            } else {
                format!(
                    "{{\"id\": {}, \"endpoints\": [{}]}}",
                    r.replica_id,
                    endpoints.join(", ")
                )
            }
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// Kafka's `describe --status` text.
pub fn format_status(cluster_id: &str, q: &DescribeQuorumResponse) -> Result<String, CliError> {
    let p = partition(q)?;
    let leader = p
        .current_voters
        .iter()
        .find(|r| r.replica_id == p.leader_id);
    let leader_end = leader.map_or(p.high_watermark, |l| l.log_end_offset);
    let leader_caught_up = leader.map_or(-1, |l| l.last_caught_up_timestamp);
    let followers = p
        .current_voters
        .iter()
        .chain(&p.observers)
        .filter(|r| r.replica_id != p.leader_id);
    let worst = followers.max_by_key(|r| leader_end - r.log_end_offset);
    let max_lag = worst.map_or(0, |r| leader_end - r.log_end_offset);
    let max_lag_ms = worst.map_or(0, |r| {
        if r.last_caught_up_timestamp < 0 || leader_caught_up < 0 {
            -1
        } else {
            leader_caught_up - r.last_caught_up_timestamp
        }
    });
    Ok(format!(
        "ClusterId:              {cluster_id}\nLeaderId:               {}\nLeaderEpoch:            {}\nHighWatermark:          {}\nMaxFollowerLag:         {max_lag}\nMaxFollowerLagTimeMs:   {max_lag_ms}\nCurrentVoters:          {}\nCurrentObservers:       {}\n",
        p.leader_id,
        p.leader_epoch,
        p.high_watermark,
        voters_json(q, &p.current_voters),
        voters_json(q, &p.observers),
    ))
}

/// Kafka's `describe --replication` table (columns padded, tab-separated).
pub fn format_replication(q: &DescribeQuorumResponse) -> Result<String, CliError> {
    let p = partition(q)?;
    let leader_end = p
        .current_voters
        .iter()
        .find(|r| r.replica_id == p.leader_id)
        .map_or(p.high_watermark, |l| l.log_end_offset);
    let row = |r: &ReplicaState, status: &str| {
        vec![
            r.replica_id.to_string(),
            r.replica_directory_id.to_string(),
            r.log_end_offset.to_string(),
            (leader_end - r.log_end_offset).max(0).to_string(),
            r.last_fetch_timestamp.to_string(),
            r.last_caught_up_timestamp.to_string(),
            status.to_string(),
        ]
    };
    let mut rows = vec![[
        "NodeId",
        "DirectoryId",
        "LogEndOffset",
        "Lag",
        "LastFetchTimestamp",
        "LastCaughtUpTimestamp",
        "Status",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    if let Some(l) = p
        .current_voters
        .iter()
        .find(|r| r.replica_id == p.leader_id)
    {
        rows.push(row(l, "Leader"));
    }
    for r in p
        .current_voters
        .iter()
        .filter(|r| r.replica_id != p.leader_id)
    {
        rows.push(row(r, "Follower"));
    }
    for r in &p.observers {
        rows.push(row(r, "Observer"));
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            out.push_str(&format!("{cell:<w$}\t", w = widths[c]));
        }
        out.push('\n');
    }
    Ok(out)
}
