//! `kfk consumer-groups` (kafka-consumer-groups): list, describe and delete groups, delete
//! their offsets and reset them, with Kafka's flags, messages and output columns.

use super::CliError;
use crate::client::admin::{GroupAdmin, GroupDescription};
use crate::client::consumer::Consumer;
use crate::client::{ClientError, Properties};
use crate::protocol::ErrorCode;
use clap::Args;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

type TopicPartition = (String, i32);

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  kfk consumer-groups --bootstrap-server localhost:9092 --list\n  kfk consumer-groups --bootstrap-server localhost:9092 --describe --group my-group\n  kfk consumer-groups --bootstrap-server localhost:9092 --reset-offsets --group my-group --topic test --to-earliest --execute"
)]
pub struct ConsumerGroupsArgs {
    /// The broker(s) to connect to, host:port[,host:port...].
    #[arg(long, value_name = "SERVERS")]
    pub bootstrap_server: String,
    /// A .properties file of client properties.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<PathBuf>,
    /// List all consumer groups.
    #[arg(long, group = "action")]
    pub list: bool,
    /// Describe consumer groups and their offsets lag.
    #[arg(long, group = "action")]
    pub describe: bool,
    /// Delete consumer groups (they must have no members).
    #[arg(long, group = "action")]
    pub delete: bool,
    /// Delete committed offsets of a group (for --topic).
    #[arg(long, group = "action")]
    pub delete_offsets: bool,
    /// Reset the committed offsets of a group (inactive groups only).
    #[arg(long, group = "action")]
    pub reset_offsets: bool,
    /// The consumer group (repeatable).
    #[arg(long, value_name = "GROUP")]
    pub group: Vec<String>,
    /// Apply to every group.
    #[arg(long)]
    pub all_groups: bool,
    /// With --list: filter by state (comma-separated); with --describe: show the group state.
    #[arg(long, value_name = "STATES", num_args = 0..=1, default_missing_value = "")]
    pub state: Option<String>,
    /// With --describe: show members.
    #[arg(long)]
    pub members: bool,
    /// With --describe: show offsets and lag (the default).
    #[arg(long)]
    pub offsets: bool,
    /// With --describe --members: show each member's assignment.
    #[arg(long)]
    pub verbose: bool,
    /// Topic, optionally with partitions: `t` or `t:0,1` (repeatable).
    #[arg(long, value_name = "TOPIC")]
    pub topic: Vec<String>,
    /// Reset every topic the group has offsets for.
    #[arg(long)]
    pub all_topics: bool,
    /// Reset to the earliest offset.
    #[arg(long, group = "scenario")]
    pub to_earliest: bool,
    /// Reset to the latest offset.
    #[arg(long, group = "scenario")]
    pub to_latest: bool,
    /// Reset to the current committed offset.
    #[arg(long, group = "scenario")]
    pub to_current: bool,
    /// Reset to this offset (clamped to the partition's range).
    #[arg(long, value_name = "OFFSET", group = "scenario")]
    pub to_offset: Option<i64>,
    /// Shift the committed offsets by N (may be negative).
    #[arg(long, value_name = "N", allow_hyphen_values = true, group = "scenario")]
    pub shift_by: Option<i64>,
    /// Reset to the first offset at or after a time: YYYY-MM-DDTHH:mm:SS.sss[Z|±hh:mm].
    #[arg(long, value_name = "DATETIME", group = "scenario")]
    pub to_datetime: Option<String>,
    /// Reset to the offset at now minus an ISO-8601 duration: PnDTnHnMn.nS.
    #[arg(long, value_name = "DURATION", group = "scenario")]
    pub by_duration: Option<String>,
    /// Reset to the offsets of a CSV file (topic,partition,offset).
    #[arg(long, value_name = "FILE", group = "scenario")]
    pub from_file: Option<PathBuf>,
    /// Show the new offsets without applying them (the default).
    #[arg(long)]
    pub dry_run: bool,
    /// Apply the reset.
    #[arg(long)]
    pub execute: bool,
    /// Print the new offsets as CSV (for --from-file).
    #[arg(long)]
    pub export: bool,
    /// Timeout for the requests, in ms.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub timeout: u64,
}

fn failed(e: ClientError) -> CliError {
    CliError::Failed(e.to_string())
}

pub fn run(args: &ConsumerGroupsArgs) -> Result<(), CliError> {
    let actions = [
        args.list,
        args.describe,
        args.delete,
        args.delete_offsets,
        args.reset_offsets,
    ];
    if actions.iter().filter(|a| **a).count() != 1 {
        return Err(CliError::Usage(
            "exactly one of --list, --describe, --delete, --delete-offsets, --reset-offsets is required".into(),
        ));
    }
    if !args.list && args.group.is_empty() && !args.all_groups {
        return Err(CliError::Usage(
            "--group or --all-groups is required with this action".into(),
        ));
    }
    if args.execute && args.dry_run {
        return Err(CliError::Usage(
            "--execute and --dry-run cannot be used together".into(),
        ));
    }
    let mut props = super::admin_properties(&args.command_config, &args.bootstrap_server)?;
    if props.get("request.timeout.ms").is_none() {
        props.set("request.timeout.ms", args.timeout.to_string());
    }
    let props = &props;
    super::with_admin(props, "kfk-consumer-groups", |admin| async move {
        if args.list {
            return list(&admin, args).await;
        }
        let groups = if args.all_groups {
            admin
                .list_groups()
                .await
                .map_err(failed)?
                .into_iter()
                .map(|g| g.group_id)
                .collect()
        } else {
            args.group.clone()
        };
        if args.describe {
            describe(&admin, props, args, &groups).await
        } else if args.delete {
            delete(&admin, &groups).await
        } else if args.delete_offsets {
            delete_offsets(&admin, args, &groups).await
        } else {
            reset(&admin, props, args, &groups).await
        }
    })
}

async fn list(admin: &GroupAdmin, args: &ConsumerGroupsArgs) -> Result<(), CliError> {
    let groups = admin.list_groups().await.map_err(failed)?;
    match &args.state {
        None => {
            for g in groups {
                println!("{}", g.group_id);
            }
        }
        Some(filter) => {
            let wanted: Vec<String> = filter
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
            let rows: Vec<[String; 2]> = groups
                .into_iter()
                .filter(|g| wanted.is_empty() || wanted.contains(&g.state.to_ascii_lowercase()))
                .map(|g| [g.group_id, g.state])
                .collect();
            print_table(&["GROUP", "STATE"], &rows);
        }
    }
    Ok(())
}

/// Columns padded to the widest cell, as Kafka's tool prints them.
fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$} ", w = widths[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

/// Log-end offsets (or earliest, or by timestamp) of partitions, via a plain consumer.
async fn list_offsets(
    props: &Properties,
    tps: &[TopicPartition],
    timestamp: i64,
) -> Result<HashMap<TopicPartition, i64>, CliError> {
    if tps.is_empty() {
        return Ok(HashMap::new());
    }
    let mut p = props.clone();
    p.0.remove("group.id");
    let consumer = Consumer::new(&p).await.map_err(failed)?;
    let mut topics: Vec<String> = tps.iter().map(|t| t.0.clone()).collect();
    topics.sort();
    topics.dedup();
    consumer.cluster.refresh(&topics).await.map_err(failed)?;
    let known: Vec<TopicPartition> = tps
        .iter()
        .filter(|(t, p)| {
            consumer
                .cluster
                .topic(t)
                .is_some_and(|i| i.partitions.iter().any(|x| x.index == *p))
        })
        .cloned()
        .collect();
    consumer
        .offsets_for(&known, timestamp)
        .await
        .map_err(failed)
}

async fn describe(
    admin: &GroupAdmin,
    props: &Properties,
    args: &ConsumerGroupsArgs,
    groups: &[String],
) -> Result<(), CliError> {
    let mut missing = Vec::new();
    for group in groups {
        let d = admin.describe(group).await.map_err(failed)?;
        let committed = admin.committed(group).await.map_err(failed)?;
        if d.state == "Dead" && committed.is_empty() {
            missing.push(group.clone());
            continue;
        }
        if args.state.is_some() {
            describe_state(&d);
        } else if args.members {
            describe_members(&d, args.verbose);
        } else {
            describe_offsets(props, &d, &committed).await?;
        }
    }
    if !missing.is_empty() {
        return Err(CliError::Failed(format!(
            "Error: Consumer group '{}' does not exist.",
            missing.join("', '")
        )));
    }
    Ok(())
}

fn state_notice(d: &GroupDescription) {
    match d.state.as_str() {
        "PreparingRebalance" | "CompletingRebalance" => {
            println!("\nWarning: Consumer group '{}' is rebalancing.", d.group_id)
        }
        "Empty" | "Dead" => println!("\nConsumer group '{}' has no active members.", d.group_id),
        _ => {}
    }
}

fn describe_state(d: &GroupDescription) {
    let (node, host, port) = &d.coordinator;
    println!();
    print_table(
        &[
            "GROUP",
            "COORDINATOR (ID)",
            "ASSIGNMENT-STRATEGY",
            "STATE",
            "#MEMBERS",
        ],
        &[[
            d.group_id.clone(),
            format!("{host}:{port} ({node})"),
            d.protocol.clone(),
            d.state.clone(),
            d.members.len().to_string(),
        ]],
    );
}

fn describe_members(d: &GroupDescription, verbose: bool) {
    state_notice(d);
    println!();
    if verbose {
        let rows: Vec<[String; 7]> = d
            .members
            .iter()
            .map(|m| {
                [
                    d.group_id.clone(),
                    m.member_id.clone(),
                    m.instance_id.clone().unwrap_or_else(|| "-".into()),
                    m.host.clone(),
                    m.client_id.clone(),
                    m.assignment.len().to_string(),
                    assignment_text(&m.assignment),
                ]
            })
            .collect();
        print_table(
            &[
                "GROUP",
                "CONSUMER-ID",
                "GROUP-INSTANCE-ID",
                "HOST",
                "CLIENT-ID",
                "#PARTITIONS",
                "ASSIGNMENT",
            ],
            &rows,
        );
    } else {
        let rows: Vec<[String; 5]> = d
            .members
            .iter()
            .map(|m| {
                [
                    d.group_id.clone(),
                    m.member_id.clone(),
                    m.host.clone(),
                    m.client_id.clone(),
                    m.assignment.len().to_string(),
                ]
            })
            .collect();
        print_table(
            &["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"],
            &rows,
        );
    }
}

/// `t(0,1),u(2)` as Kafka prints assignments; `-` when empty.
fn assignment_text(tps: &[TopicPartition]) -> String {
    if tps.is_empty() {
        return "-".into();
    }
    let mut by: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in tps {
        by.entry(t).or_default().push(*p);
    }
    by.into_iter()
        .map(|(t, mut ps)| {
            ps.sort_unstable();
            let list: Vec<String> = ps.iter().map(i32::to_string).collect();
            format!("{t}({})", list.join(","))
        })
        .collect::<Vec<_>>()
        .join(",")
}

async fn describe_offsets(
    props: &Properties,
    d: &GroupDescription,
    committed: &BTreeMap<TopicPartition, i64>,
) -> Result<(), CliError> {
    let mut owner: BTreeMap<TopicPartition, (String, String, String)> = BTreeMap::new();
    for m in &d.members {
        for tp in &m.assignment {
            owner.insert(
                tp.clone(),
                (m.member_id.clone(), m.host.clone(), m.client_id.clone()),
            );
        }
    }
    let tps: BTreeSet<TopicPartition> = owner.keys().chain(committed.keys()).cloned().collect();
    let tps: Vec<TopicPartition> = tps.into_iter().collect();
    let ends = list_offsets(props, &tps, -1).await?;
    state_notice(d);
    println!();
    let dash = || "-".to_string();
    let rows: Vec<[String; 9]> = tps
        .iter()
        .map(|tp| {
            let current = committed.get(tp).copied();
            let end = ends.get(tp).copied();
            let lag = match (current, end) {
                (Some(c), Some(e)) => (e - c).max(0).to_string(),
                _ => dash(),
            };
            let (member, host, client) = owner
                .get(tp)
                .cloned()
                .unwrap_or_else(|| (dash(), dash(), dash()));
            [
                d.group_id.clone(),
                tp.0.clone(),
                tp.1.to_string(),
                current.map_or_else(dash, |c| c.to_string()),
                end.map_or_else(dash, |e| e.to_string()),
                lag,
                member,
                host,
                client,
            ]
        })
        .collect();
    print_table(
        &[
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
        ],
        &rows,
    );
    Ok(())
}

async fn delete(admin: &GroupAdmin, groups: &[String]) -> Result<(), CliError> {
    let results = admin.delete_groups(groups).await.map_err(failed)?;
    let ok: Vec<&str> = results
        .iter()
        .filter(|(_, c)| c.is_ok())
        .map(|(g, _)| g.as_str())
        .collect();
    let bad: Vec<&(String, ErrorCode)> = results.iter().filter(|(_, c)| !c.is_ok()).collect();
    if !ok.is_empty() {
        println!(
            "Deletion of requested consumer groups ('{}') was successful.",
            ok.join("', '")
        );
    }
    if !bad.is_empty() {
        println!("Deletion of some consumer groups failed:");
        for (g, c) in &bad {
            println!(
                "* Group '{g}' could not be deleted due to: {}",
                describe_error(*c, g)
            );
        }
        return Err(CliError::Failed("deleting consumer groups failed".into()));
    }
    Ok(())
}

fn describe_error(code: ErrorCode, group: &str) -> String {
    match code {
        ErrorCode::NON_EMPTY_GROUP => {
            "org.apache.kafka.common.errors.GroupNotEmptyException: The group is not empty."
                .to_string()
        }
        ErrorCode::GROUP_ID_NOT_FOUND => format!(
            "org.apache.kafka.common.errors.GroupIdNotFoundException: The group id does not exist: {group}"
        ),
        other => other.name().to_string(),
    }
}

/// `--topic t` / `t:0,1` against the cluster: the partitions meant.
async fn topic_partitions(
    props: &Properties,
    specs: &[String],
) -> Result<Vec<TopicPartition>, CliError> {
    let mut p = props.clone();
    p.0.remove("group.id");
    let consumer = Consumer::new(&p).await.map_err(failed)?;
    let mut out = Vec::new();
    for spec in specs {
        let (topic, parts) = match spec.split_once(':') {
            Some((t, ps)) => {
                let list: Result<Vec<i32>, _> =
                    ps.split(',').map(|x| x.trim().parse::<i32>()).collect();
                let list = list.map_err(|_| {
                    CliError::Usage(format!("--topic {spec}: expected TOPIC or TOPIC:P[,P...]"))
                })?;
                (t.to_string(), Some(list))
            }
            None => (spec.clone(), None),
        };
        consumer
            .cluster
            .refresh(std::slice::from_ref(&topic))
            .await
            .map_err(failed)?;
        let Some(info) = consumer.cluster.topic(&topic) else {
            return Err(CliError::Failed(format!("topic '{topic}' does not exist")));
        };
        match parts {
            Some(ps) => out.extend(ps.into_iter().map(|p| (topic.clone(), p))),
            None => out.extend(info.partitions.iter().map(|p| (topic.clone(), p.index))),
        }
    }
    Ok(out)
}

async fn delete_offsets(
    admin: &GroupAdmin,
    args: &ConsumerGroupsArgs,
    groups: &[String],
) -> Result<(), CliError> {
    let [group] = groups else {
        return Err(CliError::Usage(
            "--delete-offsets takes exactly one --group".into(),
        ));
    };
    if args.topic.is_empty() {
        return Err(CliError::Usage("--delete-offsets needs --topic".into()));
    }
    let mut tps = Vec::new();
    for spec in &args.topic {
        match spec.split_once(':') {
            Some((t, ps)) => {
                for p in ps.split(',') {
                    let p = p.trim().parse::<i32>().map_err(|_| {
                        CliError::Usage(format!("--topic {spec}: expected TOPIC or TOPIC:P[,P...]"))
                    })?;
                    tps.push((t.to_string(), p));
                }
            }
            None => {
                let committed = admin.committed(group).await.map_err(failed)?;
                let mut found: Vec<TopicPartition> = committed
                    .keys()
                    .filter(|(t, _)| t == spec)
                    .cloned()
                    .collect();
                if found.is_empty() {
                    found.push((spec.clone(), 0));
                }
                tps.extend(found);
            }
        }
    }
    match admin.delete_offsets(group, &tps).await.map_err(failed)? {
        Err(code) => {
            let why = match code {
                ErrorCode::GROUP_ID_NOT_FOUND => format!("Group '{group}' does not exist"),
                ErrorCode::NON_EMPTY_GROUP => "The group is not empty.".to_string(),
                other => other.name().to_string(),
            };
            Err(CliError::Failed(format!(
                "Encounter some unknown error: {why}"
            )))
        }
        Ok(results) => {
            let all_ok = results.iter().all(|(_, c)| c.is_ok());
            println!(
                "Request {} for deleting offsets with topic {} group {group}",
                if all_ok { "succeed" } else { "failed" },
                args.topic.join(",")
            );
            println!();
            println!("{:<30} {:<15} {:<15}", "TOPIC", "PARTITION", "STATUS");
            for ((t, p), c) in &results {
                let status = if c.is_ok() {
                    "Successful".to_string()
                } else {
                    format!("Error: {}", c.name())
                };
                println!("{t:<30} {p:<15} {status:<15}");
            }
            if all_ok {
                Ok(())
            } else {
                Err(CliError::Failed("deleting some offsets failed".into()))
            }
        }
    }
}

/// Parses `--to-datetime` as Kafka's `Utils.getDateTime`: ISO-8601 `YYYY-MM-DDTHH:mm:SS[.sss]`
/// with a zone offset (`Z`, `+hh:mm`), or without one, which Kafka reads as UTC.
fn parse_datetime(s: &str) -> Option<i64> {
    let (_, time) = s.split_once('T')?;
    let timestamp = if time.contains(['+', '-', 'Z', 'z']) {
        s.parse::<jiff::Timestamp>().ok()?
    } else {
        // As Kafka: no zone means UTC.
        format!("{s}Z").parse::<jiff::Timestamp>().ok()?
    };
    Some(timestamp.as_millisecond())
}

/// Parses `--by-duration` as Java's `Duration.parse`: ISO-8601 `PnDTnHnMn.nS` (a day is 24
/// hours; years and months are refused), in milliseconds.
fn parse_duration(s: &str) -> Option<i64> {
    let span: jiff::Span = s.parse().ok()?;
    let ms = span
        .total((
            jiff::Unit::Millisecond,
            jiff::SpanRelativeTo::days_are_24_hours(),
        ))
        .ok()?;
    Some(ms as i64)
}

async fn reset(
    admin: &GroupAdmin,
    props: &Properties,
    args: &ConsumerGroupsArgs,
    groups: &[String],
) -> Result<(), CliError> {
    let scenarios = [
        args.to_earliest,
        args.to_latest,
        args.to_current,
        args.to_offset.is_some(),
        args.shift_by.is_some(),
        args.to_datetime.is_some(),
        args.by_duration.is_some(),
        args.from_file.is_some(),
    ];
    if scenarios.iter().filter(|s| **s).count() != 1 {
        return Err(CliError::Usage("--reset-offsets needs exactly one of --to-earliest, --to-latest, --to-current, --to-offset, --shift-by, --to-datetime, --by-duration, --from-file".into()));
    }
    if args.from_file.is_none() && args.topic.is_empty() && !args.all_topics {
        return Err(CliError::Usage(
            "--reset-offsets needs --topic or --all-topics".into(),
        ));
    }
    if !args.execute && !args.dry_run && !args.export {
        println!("WARN: No action will be performed as the --execute option is missing. You should add the --dry-run option explicitly if you are scripting this command and want to keep the current default behavior without prompting.");
    }
    let file_offsets: Option<Vec<(TopicPartition, i64)>> = match &args.from_file {
        None => None,
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| CliError::Usage(format!("--from-file {}: {e}", f.display())))?;
            let mut v = Vec::new();
            for (n, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let cols: Vec<&str> = line.split(',').map(str::trim).collect();
                let parsed = match cols.as_slice() {
                    [t, p, o] | [_, t, p, o] => p
                        .parse::<i32>()
                        .ok()
                        .zip(o.parse::<i64>().ok())
                        .map(|(p, o)| ((t.to_string(), p), o)),
                    _ => None,
                };
                v.push(parsed.ok_or_else(|| {
                    CliError::Usage(format!(
                        "--from-file {} line {}: expected topic,partition,offset",
                        f.display(),
                        n + 1
                    ))
                })?);
            }
            Some(v)
        }
    };
    let mut exported = Vec::new();
    for group in groups {
        let d = admin.describe(group).await.map_err(failed)?;
        if !matches!(d.state.as_str(), "Empty" | "Dead") {
            return Err(CliError::Failed(format!(
                "Assignments can only be reset if the group '{group}' is inactive, but the current state is {}.",
                d.state
            )));
        }
        let committed = admin.committed(group).await.map_err(failed)?;
        let tps: Vec<TopicPartition> = if let Some(f) = &file_offsets {
            f.iter().map(|(tp, _)| tp.clone()).collect()
        } else if args.all_topics {
            committed.keys().cloned().collect()
        } else {
            topic_partitions(props, &args.topic).await?
        };
        let earliest = list_offsets(props, &tps, -2).await?;
        let latest = list_offsets(props, &tps, -1).await?;
        let clamp = |tp: &TopicPartition, o: i64| -> i64 {
            let lo = earliest.get(tp).copied().unwrap_or(0);
            let hi = latest.get(tp).copied().unwrap_or(o);
            o.clamp(lo, hi.max(lo))
        };
        let mut new_offsets: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        if let Some(f) = &file_offsets {
            new_offsets.extend(f.iter().cloned());
        } else if let Some(dt) = &args.to_datetime {
            let ts = parse_datetime(dt).ok_or_else(|| {
                CliError::Usage(format!(
                    "--to-datetime {dt:?}: expected YYYY-MM-DDTHH:mm:SS.sss (with an optional Z or ±hh:mm)"
                ))
            })?;
            let found = list_offsets(props, &tps, ts).await?;
            for tp in &tps {
                let o = found.get(tp).copied().filter(|o| *o >= 0);
                new_offsets.insert(
                    tp.clone(),
                    o.unwrap_or_else(|| latest.get(tp).copied().unwrap_or(0)),
                );
            }
        } else if let Some(dur) = &args.by_duration {
            let ms = parse_duration(dur).ok_or_else(|| {
                CliError::Usage(format!("--by-duration {dur:?}: expected PnDTnHnMn.nS"))
            })?;
            let found = list_offsets(props, &tps, crate::time::now_ms() - ms).await?;
            for tp in &tps {
                let o = found.get(tp).copied().filter(|o| *o >= 0);
                new_offsets.insert(
                    tp.clone(),
                    o.unwrap_or_else(|| latest.get(tp).copied().unwrap_or(0)),
                );
            }
        } else {
            for tp in &tps {
                let current = committed.get(tp).copied();
                let o = if args.to_earliest {
                    earliest.get(tp).copied().unwrap_or(0)
                } else if args.to_latest {
                    latest.get(tp).copied().unwrap_or(0)
                } else if args.to_current {
                    current.unwrap_or_else(|| latest.get(tp).copied().unwrap_or(0))
                } else if let Some(o) = args.to_offset {
                    clamp(tp, o)
                } else if let Some(n) = args.shift_by {
                    let base = current.unwrap_or_else(|| latest.get(tp).copied().unwrap_or(0));
                    clamp(tp, base.saturating_add(n))
                } else {
                    unreachable!("one scenario is set")
                };
                new_offsets.insert(tp.clone(), o);
            }
        }
        if args.execute {
            let results = admin.commit(group, &new_offsets).await.map_err(failed)?;
            if let Some((tp, c)) = results.iter().find(|(_, c)| !c.is_ok()) {
                return Err(CliError::Failed(format!(
                    "resetting {}-{} of group '{group}' failed: {}",
                    tp.0,
                    tp.1,
                    c.name()
                )));
            }
        }
        exported.push((group.clone(), new_offsets));
    }
    if args.export {
        let many = exported.len() > 1;
        for (group, offsets) in &exported {
            for ((t, p), o) in offsets {
                if many {
                    println!("{group},{t},{p},{o}");
                } else {
                    println!("{t},{p},{o}");
                }
            }
        }
    } else {
        for (group, offsets) in &exported {
            println!();
            println!(
                "{:<30} {:<30} {:<10} {:<15}",
                "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"
            );
            for ((t, p), o) in offsets {
                println!("{group:<30} {t:<30} {p:<10} {o:<15}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_and_durations_parse_as_kafka_documents_them() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00.000"), Some(0));
        assert_eq!(parse_datetime("1970-01-01T00:00:01.500Z"), Some(1500));
        assert_eq!(
            parse_datetime("2026-12-02T01:00:00.000+01:00"),
            parse_datetime("2026-12-02T00:00:00.000Z")
        );
        assert_eq!(
            parse_datetime("2021-03-01T00:00:00"),
            Some(1_614_556_800_000)
        );
        assert_eq!(parse_datetime("yesterday"), None);
        assert_eq!(parse_duration("PT1H"), Some(3_600_000));
        assert_eq!(
            parse_duration("P1DT2M3.5S"),
            Some(86_400_000 + 120_000 + 3500)
        );
        assert_eq!(
            parse_datetime("2026-12-02T00:00:00-05:00"),
            parse_datetime("2026-12-02T05:00:00Z")
        );
        assert_eq!(parse_datetime("2026-02-30T00:00:00"), None, "no such day");
        assert_eq!(parse_duration("-PT6H"), Some(-6 * 3_600_000));
        assert_eq!(parse_duration("P2D"), Some(2 * 86_400_000));
        assert_eq!(parse_duration("P1Y"), None, "Java's Duration has no years");
        assert_eq!(parse_duration("P"), None);
        assert_eq!(parse_duration("1H"), None);
    }

    #[test]
    fn assignments_print_as_kafka_does() {
        assert_eq!(assignment_text(&[]), "-");
        assert_eq!(
            assignment_text(&[("t".into(), 1), ("t".into(), 0), ("u".into(), 2)]),
            "t(0,1),u(2)"
        );
    }
}
