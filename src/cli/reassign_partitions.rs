//! `kfk reassign-partitions` (kafka-reassign-partitions): propose a new replica placement for
//! some topics (`--generate`), start moving partitions to the replicas of a JSON plan
//! (`--execute`, optionally throttled), follow it (`--verify`, which clears the throttles once
//! done), list or cancel what is moving. Kafka's JSON formats and messages.

use super::CliError;
use crate::client::admin::GroupAdmin;
use crate::protocol::messages::alter_partition_reassignments_request::{
    AlterPartitionReassignmentsRequest, ReassignablePartition, ReassignableTopic,
};
use crate::protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsRequest;
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};
use clap::{ArgGroup, Args};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    group(ArgGroup::new("action").required(true).args(["generate", "execute", "verify", "cancel", "list"])),
    after_help = "Examples:\n  kfk reassign-partitions --bootstrap-server localhost:9092 --topics-to-move-json-file topics.json --broker-list 1,2,3 --generate\n  kfk reassign-partitions --bootstrap-server localhost:9092 --reassignment-json-file plan.json --execute --throttle 50000000\n  kfk reassign-partitions --bootstrap-server localhost:9092 --reassignment-json-file plan.json --verify"
)]
pub struct ReassignPartitionsArgs {
    /// The broker(s) to connect to (host:port[,host:port...]).
    #[arg(long, value_name = "SERVERS", required = true)]
    pub bootstrap_server: Option<String>,
    /// Client properties file.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<PathBuf>,
    /// Propose a placement of the topics of --topics-to-move-json-file on --broker-list
    /// (printed; nothing changes).
    #[arg(long, requires_all = ["topics_to_move_json_file", "broker_list"])]
    pub generate: bool,
    /// Start the reassignment of --reassignment-json-file.
    #[arg(long, requires = "reassignment_json_file")]
    pub execute: bool,
    /// Report the progress of --reassignment-json-file; clears the throttles once complete.
    #[arg(long, requires = "reassignment_json_file")]
    pub verify: bool,
    /// Cancel the reassignments of --reassignment-json-file still running.
    #[arg(long, requires = "reassignment_json_file")]
    pub cancel: bool,
    /// List the reassignments in progress.
    #[arg(long)]
    pub list: bool,
    /// {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]}]}
    #[arg(long, value_name = "FILE")]
    pub reassignment_json_file: Option<PathBuf>,
    /// {"version":1,"topics":[{"topic":"t"}]} (with --generate).
    #[arg(long, value_name = "FILE")]
    pub topics_to_move_json_file: Option<PathBuf>,
    /// The broker ids to place the topics on, "1,2,3" (with --generate).
    #[arg(long, value_name = "IDS")]
    pub broker_list: Option<String>,
    /// Place replicas without regard to racks (with --generate).
    #[arg(long)]
    pub disable_rack_aware: bool,
    /// Replication throttle in B/s on the brokers moving data (with --execute); -1: none.
    #[arg(long, value_name = "BYTES_PER_SEC", default_value_t = -1, allow_negative_numbers = true)]
    pub throttle: i64,
    /// Throttle in B/s of moves between the log dirs of a broker (with --execute and
    /// log_dirs in the plan); -1: none.
    #[arg(long, value_name = "BYTES_PER_SEC", default_value_t = -1, allow_negative_numbers = true)]
    pub replica_alter_log_dirs_throttle: i64,
    /// Execute although other reassignments are running (or change their throttle).
    #[arg(long)]
    pub additional: bool,
    /// Leave the throttles in place (with --verify or --cancel).
    #[arg(long)]
    pub preserve_throttles: bool,
    /// Milliseconds to wait for log dir moves to start (a replica moved to a new broker takes
    /// its log dir once it exists there).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout: u64,
}

/// A topic partition.
type Tp = (String, i32);
/// A partition's target replicas, as in the plan file.
type Plan = Vec<(Tp, Vec<i32>)>;
/// A replica: (topic, partition, broker).
type Replica = (String, i32, i32);
/// The log dirs the plan names (not "any"): replica → dir.
type ReplicaDirs = BTreeMap<Replica, String>;
/// Partitions to move (`Some(replicas)`) or whose move to cancel (`None`).
type Targets = Vec<(Tp, Option<Vec<i32>>)>;
/// Reassignments in progress: partition → (replicas, adding, removing).
type Ongoing = BTreeMap<Tp, (Vec<i32>, Vec<i32>, Vec<i32>)>;
/// topic → partition → (source brokers, destination brokers).
type Moves = BTreeMap<String, BTreeMap<i32, (BTreeSet<i32>, BTreeSet<i32>)>>;

const BROKER_THROTTLES: [&str; 3] = [
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
];
const TOPIC_THROTTLES: [&str; 2] = [
    "leader.replication.throttled.replicas",
    "follower.replication.throttled.replicas",
];

fn read_json(flag: &str, file: &Option<PathBuf>) -> Result<serde_json::Value, CliError> {
    let file = file
        .as_ref()
        .ok_or_else(|| CliError::Usage(format!("{flag} is required")))?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::Usage(format!("{flag} {}: {e}", file.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{flag} {}: not valid JSON: {e}", file.display())))
}

fn check_version(flag: &str, v: &serde_json::Value) -> Result<(), CliError> {
    match v.get("version").map(serde_json::Value::as_i64) {
        None | Some(Some(1)) => Ok(()),
        Some(other) => Err(CliError::Usage(format!(
            "{flag}: Not supported version field value {}",
            other.map_or("(not a number)".to_string(), |n| n.to_string())
        ))),
    }
}

/// The plan of --reassignment-json-file, checked as Kafka's tool checks it, and the log dirs
/// it names.
fn parse_plan(args: &ReassignPartitionsArgs) -> Result<(Plan, ReplicaDirs), CliError> {
    const FLAG: &str = "--reassignment-json-file";
    let v = read_json(FLAG, &args.reassignment_json_file)?;
    check_version(FLAG, &v)?;
    let mut plan = Plan::new();
    let mut dirs_of = ReplicaDirs::new();
    for p in v
        .get("partitions")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let topic = p.get("topic").and_then(|t| t.as_str());
        let partition = p.get("partition").and_then(|n| n.as_i64());
        let replicas: Option<Vec<i32>> =
            p.get("replicas").and_then(|r| r.as_array()).and_then(|r| {
                r.iter()
                    .map(|b| b.as_i64().and_then(|b| i32::try_from(b).ok()))
                    .collect()
            });
        let (Some(topic), Some(partition), Some(replicas)) = (topic, partition, replicas) else {
            return Err(CliError::Usage(format!(
                "{FLAG}: {p} needs \"topic\", \"partition\" and \"replicas\" (a list of broker ids)"
            )));
        };
        let partition = i32::try_from(partition)
            .map_err(|_| CliError::Usage(format!("{FLAG}: partition {partition} out of range")))?;
        if let Some(dirs) = p.get("log_dirs").and_then(|d| d.as_array()) {
            if dirs.len() != replicas.len() {
                return Err(CliError::Usage(format!(
                    "{FLAG}: Size of replicas list {replicas:?} is different from size of log dirs list for partition {topic}-{partition}"
                )));
            }
            for (broker, dir) in replicas.iter().zip(dirs) {
                match dir.as_str() {
                    Some("any") => {}
                    Some(d) => {
                        dirs_of.insert((topic.to_string(), partition, *broker), d.to_string());
                    }
                    None => {
                        return Err(CliError::Usage(format!(
                            "{FLAG}: log_dirs of {topic}-{partition} must be strings (\"any\" or a path)"
                        )))
                    }
                }
            }
        }
        plan.push(((topic.to_string(), partition), replicas));
    }
    if plan.is_empty() {
        return Err(CliError::Usage(format!(
            "{FLAG}: Partition reassignment list cannot be empty"
        )));
    }
    if plan.iter().any(|(_, r)| r.is_empty()) {
        return Err(CliError::Usage(format!(
            "{FLAG}: Partition replica list cannot be empty"
        )));
    }
    let mut seen = BTreeSet::new();
    for ((t, p), replicas) in &plan {
        if !seen.insert((t.clone(), *p)) {
            return Err(CliError::Usage(format!(
                "{FLAG}: Partition reassignment contains duplicate topic partitions: {t}-{p}"
            )));
        }
        let distinct: BTreeSet<&i32> = replicas.iter().collect();
        if distinct.len() != replicas.len() {
            return Err(CliError::Usage(format!(
                "{FLAG}: Partition replica lists may not contain duplicate entries: {t}-{p} lists a broker twice"
            )));
        }
    }
    Ok((plan, dirs_of))
}

/// Kafka's reassignment JSON, compact, partitions sorted by topic then partition; a
/// replica's log dir is the one in `dirs` (where it is now) or "any".
fn plan_json(
    assignment: &BTreeMap<(String, i32), Vec<i32>>,
    dirs: &BTreeMap<Replica, String>,
) -> String {
    let partitions: Vec<String> = assignment
        .iter()
        .map(|((t, p), replicas)| {
            let list = replicas
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let dirs = replicas
                .iter()
                .map(|b| {
                    let dir = dirs.get(&(t.clone(), *p, *b)).map_or("any", String::as_str);
                    serde_json::Value::String(dir.to_string()).to_string()
                })
                .collect::<Vec<_>>()
                .join(",");
            format!(
                "{{\"topic\":{},\"partition\":{p},\"replicas\":[{list}],\"log_dirs\":[{dirs}]}}",
                serde_json::Value::String(t.clone())
            )
        })
        .collect();
    format!(
        "{{\"version\":1,\"partitions\":[{}]}}",
        partitions.join(",")
    )
}

fn joined<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn run(args: &ReassignPartitionsArgs) -> Result<(), CliError> {
    // Parse the files before connecting: a bad file is a usage error.
    let plan = if args.execute || args.verify || args.cancel {
        Some(parse_plan(args)?)
    } else {
        None
    };
    let generate = if args.generate {
        Some(parse_generate_args(args)?)
    } else {
        None
    };
    let servers = args.bootstrap_server.clone().unwrap_or_default();
    let props = super::admin_properties(&args.command_config, &servers)?;
    let (execute, verify, cancel, list) = (args.execute, args.verify, args.cancel, args.list);
    let (throttle, additional, preserve) =
        (args.throttle, args.additional, args.preserve_throttles);
    let (dir_throttle, timeout) = (
        args.replica_alter_log_dirs_throttle,
        std::time::Duration::from_millis(args.timeout),
    );
    let rack_aware = !args.disable_rack_aware;
    super::with_admin(
        &props,
        "reassign-partitions-tool",
        move |admin| async move {
            if let Some((brokers, topics)) = generate {
                return generate_plan(&admin, &brokers, &topics, rack_aware).await;
            }
            if list {
                return list_reassignments(&admin).await;
            }
            let (plan, dirs) = plan.unwrap_or_default();
            if execute {
                execute_plan(&admin, &plan, &dirs, (throttle, dir_throttle), additional).await?;
                execute_moves(&admin, &dirs, timeout).await
            } else if verify {
                verify_plan(&admin, &plan, &dirs, preserve).await
            } else if cancel {
                cancel_plan(&admin, &plan, preserve).await
            } else {
                Err(CliError::Usage(
                    "one of --generate, --execute, --verify, --cancel or --list is required".into(),
                ))
            }
        },
    )
}

/// (--broker-list, topics of --topics-to-move-json-file).
fn parse_generate_args(args: &ReassignPartitionsArgs) -> Result<(Vec<i32>, Vec<String>), CliError> {
    const FLAG: &str = "--topics-to-move-json-file";
    let list = args.broker_list.as_deref().unwrap_or_default();
    let brokers: Vec<i32> = list
        .split(',')
        .map(|b| {
            b.trim().parse::<i32>().map_err(|_| {
                CliError::Usage(format!(
                    "--broker-list: {b:?} is not a broker id (\"1,2,3\")"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    if brokers.iter().collect::<BTreeSet<_>>().len() != brokers.len() {
        return Err(CliError::Usage(format!(
            "--broker-list: Broker list contains duplicate entries: {list}"
        )));
    }
    let v = read_json(FLAG, &args.topics_to_move_json_file)?;
    check_version(FLAG, &v)?;
    let topics: Vec<String> = v
        .get("topics")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
        .map(|t| {
            t.get("topic")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .ok_or_else(|| CliError::Usage(format!("{FLAG}: {t} needs \"topic\"")))
        })
        .collect::<Result<_, _>>()?;
    if topics.iter().collect::<BTreeSet<_>>().len() != topics.len() {
        return Err(CliError::Usage(format!(
            "{FLAG}: List of topics to reassign contains duplicate entries"
        )));
    }
    if topics.is_empty() {
        return Err(CliError::Usage(format!("{FLAG}: no topics listed")));
    }
    Ok((brokers, topics))
}

async fn call(
    admin: &GroupAdmin,
    api: ApiKey,
    body: RequestBody,
) -> Result<ResponseBody, CliError> {
    let conn = admin
        .cluster
        .any_connection()
        .await
        .map_err(|e| CliError::Failed(format!("--bootstrap-server: {e}")))?;
    conn.call(api, body)
        .await
        .map(|(_, r)| r)
        .map_err(|e| CliError::Failed(e.to_string()))
}

/// Replicas of every partition of `topics` (all must exist).
async fn current_assignment(
    admin: &GroupAdmin,
    topics: &BTreeSet<String>,
) -> Result<BTreeMap<(String, i32), Vec<i32>>, CliError> {
    let m = admin
        .metadata(Some(topics.iter().cloned().collect()))
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let mut out = BTreeMap::new();
    for t in m.topics {
        let name = t.name.unwrap_or_default();
        if t.error_code != 0 {
            return Err(CliError::Failed(format!(
                "Topic {name} not found ({})",
                ErrorCode(t.error_code).name()
            )));
        }
        for p in t.partitions {
            out.insert((name.clone(), p.partition_index), p.replica_nodes);
        }
    }
    Ok(out)
}

/// (id, rack) of every registered broker.
async fn brokers(admin: &GroupAdmin) -> Result<Vec<(i32, Option<String>)>, CliError> {
    let m = admin
        .metadata(Some(Vec::new()))
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?;
    Ok(m.brokers.into_iter().map(|b| (b.node_id, b.rack)).collect())
}

/// Reassignments in progress: partition → (replicas, adding, removing).
async fn ongoing(admin: &GroupAdmin) -> Result<Ongoing, CliError> {
    let body = RequestBody::ListPartitionReassignments(ListPartitionReassignmentsRequest {
        timeout_ms: 30_000,
        topics: None,
        ..Default::default()
    });
    let ResponseBody::ListPartitionReassignments(r) =
        call(admin, ApiKey::ListPartitionReassignments, body).await?
    else {
        return Err(CliError::Failed(
            "unexpected answer to ListPartitionReassignments".into(),
        ));
    };
    if r.error_code != 0 {
        return Err(CliError::Failed(format!(
            "listing reassignments failed: {}{}",
            ErrorCode(r.error_code).name(),
            r.error_message
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )));
    }
    let mut out = BTreeMap::new();
    for t in r.topics {
        for p in t.partitions {
            out.insert(
                (t.name.clone(), p.partition_index),
                (p.replicas, p.adding_replicas, p.removing_replicas),
            );
        }
    }
    Ok(out)
}

/// AlterPartitionReassignments: `Some(replicas)` moves, `None` cancels. Per-partition errors.
async fn alter(
    admin: &GroupAdmin,
    targets: &[(Tp, Option<Vec<i32>>)],
) -> Result<BTreeMap<(String, i32), String>, CliError> {
    let mut by_topic: BTreeMap<&str, Vec<ReassignablePartition>> = BTreeMap::new();
    for ((t, p), replicas) in targets {
        by_topic.entry(t).or_default().push(ReassignablePartition {
            partition_index: *p,
            replicas: replicas.clone(),
            ..Default::default()
        });
    }
    let body = RequestBody::AlterPartitionReassignments(AlterPartitionReassignmentsRequest {
        timeout_ms: 30_000,
        topics: by_topic
            .into_iter()
            .map(|(name, partitions)| ReassignableTopic {
                name: name.to_string(),
                partitions,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    });
    let ResponseBody::AlterPartitionReassignments(r) =
        call(admin, ApiKey::AlterPartitionReassignments, body).await?
    else {
        return Err(CliError::Failed(
            "unexpected answer to AlterPartitionReassignments".into(),
        ));
    };
    if r.error_code != 0 {
        return Err(CliError::Failed(format!(
            "reassignment refused: {}{}",
            ErrorCode(r.error_code).name(),
            r.error_message
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )));
    }
    let mut errors = BTreeMap::new();
    for t in r.responses {
        for p in t.partitions.into_iter().filter(|p| p.error_code != 0) {
            errors.insert(
                (t.name.clone(), p.partition_index),
                p.error_message
                    .unwrap_or_else(|| ErrorCode(p.error_code).name().to_string()),
            );
        }
    }
    Ok(errors)
}

/// The placement for --generate: each partition's first replica round-robin from a random
/// start; without racks the following replicas shifted as Kafka's `assignReplicasToBrokers`
/// does, with racks the next brokers of an order interleaving the racks.
fn propose(brokers: &[(i32, Option<String>)], partitions: i32, rf: usize) -> Vec<Vec<i32>> {
    let mut by_rack: BTreeMap<Option<String>, Vec<i32>> = BTreeMap::new();
    for (id, rack) in brokers {
        by_rack.entry(rack.clone()).or_default().push(*id);
    }
    let mut order = Vec::new();
    let deepest = by_rack.values().map(Vec::len).max().unwrap_or(0);
    for i in 0..deepest {
        for ids in by_rack.values() {
            if let Some(id) = ids.get(i) {
                order.push(*id);
            }
        }
    }
    let n = order.len();
    let racks = brokers.iter().any(|(_, r)| r.is_some());
    let random = crate::protocol::Uuid::random().0;
    let start = usize::from(random[0]) % n;
    let mut shift = usize::from(random[1]) % n;
    (0..partitions as usize)
        .map(|p| {
            if p > 0 && p % n == 0 {
                shift += 1;
            }
            let first = (p + start) % n;
            let mut replicas = vec![order[first]];
            for j in 0..rf.saturating_sub(1) {
                // With racks, the next brokers of the interleaved order (other racks first).
                let offset = match (racks, n > 1) {
                    (true, _) => j + 1,
                    (false, true) => 1 + (shift + j) % (n - 1),
                    (false, false) => 0,
                };
                replicas.push(order[(first + offset) % n]);
            }
            replicas
        })
        .collect()
}

async fn generate_plan(
    admin: &GroupAdmin,
    broker_list: &[i32],
    topics: &[String],
    rack_aware: bool,
) -> Result<(), CliError> {
    let current = current_assignment(admin, &topics.iter().cloned().collect()).await?;
    let chosen: Vec<(i32, Option<String>)> = brokers(admin)
        .await?
        .into_iter()
        .filter(|(id, _)| broker_list.contains(id))
        .map(|(id, rack)| (id, rack.filter(|_| rack_aware)))
        .collect();
    let rackless = chosen.iter().filter(|(_, r)| r.is_none()).count();
    if rack_aware && rackless != 0 && rackless != chosen.len() {
        return Err(CliError::Failed(
            "Not all brokers have rack information. Add --disable-rack-aware in command line to make replica assignment without rack information.".into(),
        ));
    }
    if chosen.is_empty() {
        return Err(CliError::Failed(format!(
            "--broker-list: none of the brokers {} is registered",
            joined(broker_list)
        )));
    }
    let mut proposed = BTreeMap::new();
    for topic in topics {
        let parts: Vec<(&(String, i32), &Vec<i32>)> =
            current.iter().filter(|((t, _), _)| t == topic).collect();
        let rf = parts.first().map_or(1, |(_, r)| r.len());
        if rf > chosen.len() {
            return Err(CliError::Failed(format!(
                "Replication factor: {rf} larger than available brokers: {}.",
                chosen.len()
            )));
        }
        for (p, replicas) in propose(&chosen, parts.len() as i32, rf)
            .into_iter()
            .enumerate()
        {
            proposed.insert((topic.clone(), p as i32), replicas);
        }
    }
    let dirs = current_dirs(admin, &current).await;
    println!(
        "Current partition replica assignment\n{}\n",
        plan_json(&current, &dirs)
    );
    println!(
        "Proposed partition reassignment configuration\n{}",
        plan_json(&proposed, &BTreeMap::new())
    );
    Ok(())
}

/// Moves replicas between log dirs as the plan's log_dirs ask (Kafka's `executeMoves`):
/// AlterReplicaLogDirs to each replica's broker, asked again every 100 ms for a replica that
/// does not exist there yet (it is being reassigned to that broker), up to `timeout`.
async fn execute_moves(
    admin: &GroupAdmin,
    dirs: &ReplicaDirs,
    timeout: std::time::Duration,
) -> Result<(), CliError> {
    if dirs.is_empty() {
        return Ok(());
    }
    let deadline = std::time::Instant::now() + timeout;
    let mut pending = dirs.clone();
    loop {
        let mut by_broker: BTreeMap<i32, Vec<(&Replica, &String)>> = BTreeMap::new();
        for (key, dir) in &pending {
            by_broker.entry(key.2).or_default().push((key, dir));
        }
        let mut started = Vec::new();
        for (broker, replicas) in by_broker {
            for (key, code) in alter_log_dirs(admin, broker, &replicas).await? {
                match code {
                    ErrorCode::NONE => started.push(key),
                    ErrorCode::REPLICA_NOT_AVAILABLE => {}
                    code => {
                        return Err(CliError::Failed(format!(
                            "moving replica {}-{} of broker {} to log dir {} failed: {}",
                            key.0,
                            key.1,
                            key.2,
                            dirs[&key],
                            code.name()
                        )))
                    }
                }
            }
        }
        for key in started {
            let dir = pending.remove(&key).unwrap_or_default();
            println!(
                "Successfully started moving log directory to {dir} for replica {}-{} with broker {} ",
                key.0, key.1, key.2
            );
        }
        if pending.is_empty() {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            let names: Vec<String> = pending
                .keys()
                .map(|(t, p, b)| format!("{t}-{p}-{b}"))
                .collect();
            return Err(CliError::Failed(format!(
                "Timed out before log directory move{} could be started for: {}",
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// AlterReplicaLogDirs for `replicas` (all of `broker`), sent to that broker: each one's
/// error code.
async fn alter_log_dirs(
    admin: &GroupAdmin,
    broker: i32,
    replicas: &[(&Replica, &String)],
) -> Result<Vec<(Replica, ErrorCode)>, CliError> {
    use crate::protocol::messages::alter_replica_log_dirs_request::{
        AlterReplicaLogDir, AlterReplicaLogDirTopic, AlterReplicaLogDirsRequest,
    };
    let mut request = AlterReplicaLogDirsRequest::default();
    for ((topic, partition, _), dir) in replicas {
        let entry = match request.dirs.iter_mut().position(|d| &d.path == *dir) {
            Some(i) => &mut request.dirs[i],
            None => {
                request.dirs.push(AlterReplicaLogDir {
                    path: (*dir).clone(),
                    ..Default::default()
                });
                request.dirs.last_mut().expect("just pushed")
            }
        };
        match entry.topics.iter_mut().find(|t| &t.name == topic) {
            Some(t) => t.partitions.push(*partition),
            None => entry.topics.push(AlterReplicaLogDirTopic {
                name: topic.clone(),
                partitions: vec![*partition],
                ..Default::default()
            }),
        }
    }
    let conn = admin
        .cluster
        .connection(broker)
        .await
        .map_err(|e| CliError::Failed(format!("broker {broker}: {e}")))?;
    let (_, body) = conn
        .call(
            ApiKey::AlterReplicaLogDirs,
            RequestBody::AlterReplicaLogDirs(request),
        )
        .await
        .map_err(|e| CliError::Failed(format!("broker {broker}: {e}")))?;
    let ResponseBody::AlterReplicaLogDirs(r) = body else {
        return Err(CliError::Failed(
            "unexpected answer to AlterReplicaLogDirs".into(),
        ));
    };
    Ok(r.results
        .into_iter()
        .flat_map(|t| {
            t.partitions.into_iter().map(move |p| {
                (
                    (t.topic_name.clone(), p.partition_index, broker),
                    ErrorCode(p.error_code),
                )
            })
        })
        .collect())
}

/// Where each replica of the plan's log_dirs stands (Kafka's log-dir move states), one line
/// each.
async fn log_dir_move_states(
    admin: &GroupAdmin,
    dirs: &ReplicaDirs,
) -> Result<Vec<String>, CliError> {
    let brokers: BTreeSet<i32> = dirs.keys().map(|(_, _, b)| *b).collect();
    // replica → (current dir, future dir)
    let found = replica_dirs(admin, brokers).await;
    Ok(dirs
        .iter()
        .map(|((t, p, b), target)| match found.get(&(t.clone(), *p, *b)) {
            None | Some((None, _)) => format!(
                "Partition {t}-{p} is not found in any live log dir on broker {b}. There is likely an offline log directory on the broker."
            ),
            Some((Some(current), _)) if current == target => {
                format!("Reassignment of replica {t}-{p}-{b} completed successfully.")
            }
            Some((Some(_), Some(future))) if future == target => {
                format!("Reassignment of replica {t}-{p}-{b} is still in progress.")
            }
            Some((Some(_), Some(future))) => format!(
                "Partition {t}-{p} on broker {b} is being moved to log dir {future} instead of {target}."
            ),
            Some((Some(current), None)) => format!(
                "Partition {t}-{p} on broker {b} is not being moved from log dir {current} to {target}."
            ),
        })
        .collect())
}

/// The log dir each replica of `assignment` is in now (as Kafka 4.4's tool prints the
/// current assignment); a broker that does not answer leaves its replicas out ("any").
async fn current_dirs(
    admin: &GroupAdmin,
    assignment: &BTreeMap<(String, i32), Vec<i32>>,
) -> BTreeMap<Replica, String> {
    let brokers: BTreeSet<i32> = assignment.values().flatten().copied().collect();
    replica_dirs(admin, brokers)
        .await
        .into_iter()
        .filter(|((t, p, _), _)| assignment.contains_key(&(t.clone(), *p)))
        .filter_map(|(replica, (current, _))| Some((replica, current?)))
        .collect()
}

/// Every replica on `brokers` with its current and future log dir, from DescribeLogDirs to
/// each broker; a broker that does not answer is left out.
async fn replica_dirs(
    admin: &GroupAdmin,
    brokers: BTreeSet<i32>,
) -> BTreeMap<Replica, (Option<String>, Option<String>)> {
    use crate::protocol::messages::describe_log_dirs_request::DescribeLogDirsRequest;
    let mut found: BTreeMap<Replica, (Option<String>, Option<String>)> = BTreeMap::new();
    for broker in brokers {
        let Ok(conn) = admin.cluster.connection(broker).await else {
            continue;
        };
        let request = RequestBody::DescribeLogDirs(DescribeLogDirsRequest {
            topics: None,
            ..Default::default()
        });
        let Ok((_, ResponseBody::DescribeLogDirs(r))) =
            conn.call(ApiKey::DescribeLogDirs, request).await
        else {
            continue;
        };
        for d in r.results.iter().filter(|d| d.error_code == 0) {
            for t in &d.topics {
                for p in &t.partitions {
                    let e = found
                        .entry((t.name.clone(), p.partition_index, broker))
                        .or_default();
                    if p.is_future_key {
                        e.1 = Some(d.log_dir.clone());
                    } else {
                        e.0 = Some(d.log_dir.clone());
                    }
                }
            }
        }
    }
    found
}

/// `(inter-broker, log-dir)` throttles in B/s; -1: none.
type Throttles = (i64, i64);

async fn execute_plan(
    admin: &GroupAdmin,
    plan: &Plan,
    dirs: &ReplicaDirs,
    (throttle, dir_throttle): Throttles,
    additional: bool,
) -> Result<(), CliError> {
    let running = ongoing(admin).await?;
    if !additional && !running.is_empty() {
        return Err(CliError::Failed(
            "Cannot execute because there is an existing partition assignment.  Use --additional to override this and create a new partition assignment in addition to the existing one. The --additional flag can also be used to change the throttle by resubmitting the current reassignment.".into(),
        ));
    }
    let known: BTreeSet<i32> = brokers(admin).await?.into_iter().map(|b| b.0).collect();
    if let Some(b) = plan
        .iter()
        .flat_map(|(_, r)| r)
        .find(|b| !known.contains(b))
    {
        return Err(CliError::Failed(format!("Unknown broker id {b}")));
    }
    let topics: BTreeSet<String> = plan.iter().map(|((t, _), _)| t.clone()).collect();
    let all = current_assignment(admin, &topics).await?;
    let mut current = BTreeMap::new();
    for (tp, _) in plan {
        let replicas = all.get(tp).ok_or_else(|| {
            CliError::Failed(format!("Unable to find partition: {}-{}", tp.0, tp.1))
        })?;
        current.insert(tp.clone(), replicas.clone());
    }
    let current_dirs = current_dirs(admin, &current).await;
    println!(
        "Current partition replica assignment\n\n{}\n\nSave this to use as the --reassignment-json-file option during rollback",
        plan_json(&current, &current_dirs)
    );
    let dir_throttle = if dirs.is_empty() { -1 } else { dir_throttle };
    if throttle >= 0 || dir_throttle >= 0 {
        println!("Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.");
    }
    if throttle >= 0 {
        set_throttles(admin, plan, &current, &running, throttle).await?;
        println!("The inter-broker throttle limit was set to {throttle} B/s");
    }
    if dir_throttle >= 0 {
        let brokers: BTreeSet<i32> = dirs.keys().map(|(_, _, b)| *b).collect();
        let rate = vec![(
            "replica.alter.log.dirs.io.max.bytes.per.second".to_string(),
            dir_throttle.to_string(),
        )];
        for b in brokers {
            alter_configs(admin, 4, &b.to_string(), &rate, &[]).await?;
        }
        println!("The replica-alter-dir throttle limit was set to {dir_throttle} B/s");
    }
    let targets: Targets = plan
        .iter()
        .map(|(tp, r)| (tp.clone(), Some(r.clone())))
        .collect();
    let errors = alter(admin, &targets).await?;
    if !errors.is_empty() {
        let lines: Vec<String> = errors
            .iter()
            .map(|((t, p), e)| format!("{t}-{p}: {e}"))
            .collect();
        return Err(CliError::Failed(format!(
            "Error reassigning partition(s):\n{}",
            lines.join("\n")
        )));
    }
    let names: BTreeSet<(String, i32)> = plan.iter().map(|(tp, _)| tp.clone()).collect();
    println!(
        "Successfully started partition reassignment{} for {}",
        if names.len() == 1 { "" } else { "s" },
        joined(names.iter().map(|(t, p)| format!("{t}-{p}")))
    );
    Ok(())
}

/// Kafka's throttle settings for a reassignment: the topics' throttled replicas (leaders:
/// the current replicas, "partition:broker"; followers: the replicas being added) and the
/// rate on every broker involved.
async fn set_throttles(
    admin: &GroupAdmin,
    plan: &Plan,
    current: &BTreeMap<(String, i32), Vec<i32>>,
    running: &Ongoing,
    rate: i64,
) -> Result<(), CliError> {
    // topic → partition → (sources, destinations)
    let mut moves: Moves = BTreeMap::new();
    for ((t, p), (replicas, adding, _)) in running {
        let sources = replicas
            .iter()
            .filter(|r| !adding.contains(r))
            .copied()
            .collect();
        moves
            .entry(t.clone())
            .or_default()
            .insert(*p, (sources, adding.iter().copied().collect()));
    }
    for ((t, p), target) in plan {
        let parts = moves.entry(t.clone()).or_default();
        let sources: BTreeSet<i32> = match parts.get(p) {
            Some((s, _)) => s.clone(),
            None => current
                .get(&(t.clone(), *p))
                .map(|r| r.iter().copied().collect())
                .unwrap_or_default(),
        };
        let dests = target
            .iter()
            .filter(|b| !sources.contains(b))
            .copied()
            .collect();
        parts.insert(*p, (sources, dests));
    }
    let mut involved = BTreeSet::new();
    for (topic, parts) in &moves {
        let leaders: BTreeSet<String> = parts
            .iter()
            .flat_map(|(p, (s, _))| s.iter().map(move |b| format!("{p}:{b}")))
            .collect();
        let followers: BTreeSet<String> = parts
            .iter()
            .flat_map(|(p, (_, d))| d.iter().map(move |b| format!("{p}:{b}")))
            .collect();
        for (_, (s, d)) in parts.iter() {
            involved.extend(s.iter().chain(d.iter()).copied());
        }
        let set = [
            (TOPIC_THROTTLES[0].to_string(), joined(leaders)),
            (TOPIC_THROTTLES[1].to_string(), joined(followers)),
        ];
        alter_configs(admin, 2, topic, &set, &[]).await?;
    }
    for b in involved {
        let set = [
            (BROKER_THROTTLES[0].to_string(), rate.to_string()),
            (BROKER_THROTTLES[1].to_string(), rate.to_string()),
        ];
        alter_configs(admin, 4, &b.to_string(), &set, &[]).await?;
    }
    Ok(())
}

async fn alter_configs(
    admin: &GroupAdmin,
    resource_type: i8,
    name: &str,
    set: &[(String, String)],
    delete: &[String],
) -> Result<(), CliError> {
    admin
        .alter_configs(resource_type, name, set, delete)
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?
        .map_err(|e| CliError::Failed(format!("changing the configs of {name}: {e}")))
}

/// Removes the reassignment throttles from every broker and from the plan's topics.
async fn clear_throttles(admin: &GroupAdmin, plan: &Plan) -> Result<(), CliError> {
    let mut ids: BTreeSet<i32> = brokers(admin).await?.into_iter().map(|b| b.0).collect();
    ids.extend(plan.iter().flat_map(|(_, r)| r.iter().copied()));
    println!(
        "Clearing broker-level throttles on broker{} {}",
        if ids.len() == 1 { "" } else { "s" },
        joined(&ids)
    );
    let delete: Vec<String> = BROKER_THROTTLES.iter().map(|s| s.to_string()).collect();
    for b in &ids {
        alter_configs(admin, 4, &b.to_string(), &[], &delete).await?;
    }
    let topics: BTreeSet<&str> = plan.iter().map(|((t, _), _)| t.as_str()).collect();
    println!(
        "Clearing topic-level throttles on topic{} {}",
        if topics.len() == 1 { "" } else { "s" },
        joined(&topics)
    );
    let delete: Vec<String> = TOPIC_THROTTLES.iter().map(|s| s.to_string()).collect();
    for t in topics {
        alter_configs(admin, 2, t, &[], &delete).await?;
    }
    Ok(())
}

async fn verify_plan(
    admin: &GroupAdmin,
    plan: &Plan,
    dirs: &ReplicaDirs,
    preserve: bool,
) -> Result<(), CliError> {
    let running = ongoing(admin).await?;
    let topics: BTreeSet<String> = plan.iter().map(|((t, _), _)| t.clone()).collect();
    let current = current_assignment(admin, &topics).await.unwrap_or_default();
    println!("Status of partition reassignment:");
    let mut sorted: Vec<&((String, i32), Vec<i32>)> = plan.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for ((t, p), target) in sorted {
        if running.contains_key(&(t.clone(), *p)) {
            println!("Reassignment of partition {t}-{p} is still in progress.");
            continue;
        }
        let now = current.get(&(t.clone(), *p)).cloned().unwrap_or_default();
        if &now == target {
            println!("Reassignment of partition {t}-{p} is completed.");
        } else {
            println!(
                "There is no active reassignment of partition {t}-{p}, but replica set is {} rather than {}.",
                joined(&now),
                joined(target)
            );
        }
    }
    // Kafka's tool then prints the log dir move states (a blank line when there are none).
    let moves = log_dir_move_states(admin, dirs).await?;
    if moves.is_empty() {
        println!();
    }
    for line in &moves {
        println!("{line}");
    }
    let moving = moves.iter().any(|l| l.ends_with("is still in progress."));
    if running.is_empty() && !moving && !preserve {
        clear_throttles(admin, plan).await?;
    }
    Ok(())
}

async fn cancel_plan(admin: &GroupAdmin, plan: &Plan, preserve: bool) -> Result<(), CliError> {
    let running = ongoing(admin).await?;
    let cancel: Targets = plan
        .iter()
        .filter(|(tp, _)| running.contains_key(tp))
        .map(|(tp, _)| (tp.clone(), None))
        .collect();
    if cancel.is_empty() {
        println!("None of the specified partition reassignments are active.");
    } else {
        let errors = alter(admin, &cancel).await?;
        if !errors.is_empty() {
            let lines: Vec<String> = errors
                .iter()
                .map(|((t, p), e)| format!("{t}-{p}: {e}"))
                .collect();
            return Err(CliError::Failed(format!(
                "Error cancelling partition reassignment{} for:\n{}",
                if errors.len() == 1 { "" } else { "s" },
                lines.join("\n")
            )));
        }
        let names: BTreeSet<String> = cancel
            .iter()
            .map(|((t, p), _)| format!("{t}-{p}"))
            .collect();
        println!(
            "Successfully cancelled partition reassignment{} for: {}",
            if names.len() == 1 { "" } else { "s" },
            joined(&names)
        );
    }
    print!("None of the specified partition moves are active.");
    if !preserve {
        clear_throttles(admin, plan).await?;
    }
    Ok(())
}

async fn list_reassignments(admin: &GroupAdmin) -> Result<(), CliError> {
    let running = ongoing(admin).await?;
    if running.is_empty() {
        println!("No partition reassignments found.");
        return Ok(());
    }
    println!("Current partition reassignments:");
    for ((t, p), (replicas, adding, removing)) in &running {
        let mut line = format!("{t}-{p}: replicas: {}.", joined(replicas));
        if !adding.is_empty() {
            line.push_str(&format!(" adding: {}.", joined(adding)));
        }
        if !removing.is_empty() {
            line.push_str(&format!(" removing: {}.", joined(removing)));
        }
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_spread_replicas_over_distinct_brokers() {
        let brokers: Vec<(i32, Option<String>)> = (1..=4).map(|i| (i, None)).collect();
        for _ in 0..50 {
            let plan = propose(&brokers, 8, 3);
            assert_eq!(plan.len(), 8);
            let mut leaders = BTreeMap::new();
            for replicas in &plan {
                assert_eq!(replicas.len(), 3);
                assert_eq!(
                    replicas.iter().collect::<BTreeSet<_>>().len(),
                    3,
                    "{plan:?}"
                );
                *leaders.entry(replicas[0]).or_insert(0) += 1;
            }
            // Leaders round-robin: each broker leads 8 / 4 partitions.
            assert!(leaders.values().all(|n| *n == 2), "{leaders:?}");
        }
    }

    #[test]
    fn racks_alternate_in_each_partition() {
        let brokers = vec![
            (1, Some("a".to_string())),
            (2, Some("a".to_string())),
            (3, Some("b".to_string())),
            (4, Some("b".to_string())),
        ];
        let rack = |b: i32| if b <= 2 { "a" } else { "b" };
        for _ in 0..50 {
            for replicas in propose(&brokers, 6, 2) {
                assert_ne!(rack(replicas[0]), rack(replicas[1]), "{replicas:?}");
            }
        }
    }

    #[test]
    fn plans_print_as_kafka_json() {
        let mut a = BTreeMap::new();
        a.insert(("t".to_string(), 1), vec![2, 3]);
        a.insert(("t".to_string(), 0), vec![1]);
        assert_eq!(
            plan_json(&a, &BTreeMap::new()),
            r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1],"log_dirs":["any"]},{"topic":"t","partition":1,"replicas":[2,3],"log_dirs":["any","any"]}]}"#
        );
        // Where a replica is now, as Kafka 4.4's tool prints the current assignment.
        let dirs = BTreeMap::from([(("t".to_string(), 1, 3), "/d/b".to_string())]);
        assert_eq!(
            plan_json(&a, &dirs),
            r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1],"log_dirs":["any"]},{"topic":"t","partition":1,"replicas":[2,3],"log_dirs":["any","/d/b"]}]}"#
        );
    }
}
