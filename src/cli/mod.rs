//! The `kfk` command line: clap definitions of every subcommand, one file per subcommand, and
//! the exit-code policy (0 success, 1 failure of the work, 2 bad usage; a closed stdout is
//! success). Turns flags into configs and calls `broker::run`, `client`, `protocol`, `log`.
//!
//! Must not: hold broker or client logic; each subcommand file only parses, calls, prints.

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

pub mod broker;
pub mod configs;
pub mod console_consumer;
pub mod console_producer;
pub mod consumer_groups;
pub mod delete_records;
pub mod dev;
pub mod dump_log;
pub mod generate;
pub mod get_offsets;
pub mod leader_election;
pub mod log_dirs;
pub mod message_formatter;
pub mod metadata_quorum;
pub mod perf;
pub mod reassign_partitions;
pub mod signals;
pub mod storage;
pub mod topics;

/// Apache Kafka as one binary: a broker and the Kafka command-line tools, speaking Kafka's
/// wire protocol.
#[derive(Parser, Debug)]
#[command(
    name = "kfk",
    version,
    about,
    long_about = None,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands, named after Kafka's `kafka-*.sh` tools.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a Kafka-compatible broker (`kfk broker start`).
    Broker(broker::BrokerArgs),
    /// Read lines from stdin and produce them to a topic (kafka-console-producer).
    ConsoleProducer(console_producer::ConsoleProducerArgs),
    /// Consume records from a topic and print them (kafka-console-consumer).
    ConsoleConsumer(console_consumer::ConsoleConsumerArgs),
    /// Create, list, describe, alter and delete topics (kafka-topics).
    Topics(topics::TopicsArgs),
    /// List, describe, delete consumer groups and reset their offsets (kafka-consumer-groups).
    ConsumerGroups(consumer_groups::ConsumerGroupsArgs),
    /// Describe and alter topic and broker configs (kafka-configs).
    Configs(configs::ConfigsArgs),
    /// Measure producer throughput and latency (kafka-producer-perf-test).
    ProducerPerfTest(perf::ProducerPerfArgs),
    /// Measure consumer throughput (kafka-consumer-perf-test).
    ConsumerPerfTest(perf::ConsumerPerfArgs),
    /// Print the batches, records and index entries of log segment files (kafka-dump-log).
    DumpLog(dump_log::DumpLogArgs),
    /// Format storage for a cluster node and make cluster ids (kafka-storage).
    Storage(storage::StorageArgs),
    /// Describe the metadata quorum: leader, epoch, voters, lag (kafka-metadata-quorum).
    MetadataQuorum(metadata_quorum::MetadataQuorumArgs),
    /// Elect preferred or unclean partition leaders (kafka-leader-election).
    LeaderElection(leader_election::LeaderElectionArgs),
    /// Move partitions between brokers: generate, execute, verify, cancel, list
    /// (kafka-reassign-partitions).
    ReassignPartitions(reassign_partitions::ReassignPartitionsArgs),
    /// Offsets of partitions at a time: latest, earliest, max-timestamp or a timestamp
    /// (kafka-get-offsets).
    GetOffsets(get_offsets::GetOffsetsArgs),
    /// Delete records below given offsets of partitions (kafka-delete-records).
    DeleteRecords(delete_records::DeleteRecordsArgs),
    /// Describe the brokers' log directories and the partitions in them (kafka-log-dirs).
    LogDirs(log_dirs::LogDirsArgs),
    /// Developer conveniences: a local multi-node cluster (`kfk dev cluster --nodes 3`).
    Dev(dev::DevArgs),
    /// Print a shell completion script for kfk.
    Completions(generate::CompletionsArgs),
    /// Print kfk's man page (roff).
    Man(generate::ManArgs),
}

/// Runs the command line and returns the process exit code.
/// Kafka's script names kfk answers to when invoked through a link (`kafka-topics.sh` acts
/// as `kfk topics`), so existing scripts keep working.
const DROP_IN_NAMES: &[(&str, &str)] = &[
    ("kafka-console-producer", "console-producer"),
    ("kafka-console-consumer", "console-consumer"),
    ("kafka-topics", "topics"),
    ("kafka-consumer-groups", "consumer-groups"),
    ("kafka-configs", "configs"),
    ("kafka-producer-perf-test", "producer-perf-test"),
    ("kafka-consumer-perf-test", "consumer-perf-test"),
    ("kafka-dump-log", "dump-log"),
    ("kafka-storage", "storage"),
    ("kafka-metadata-quorum", "metadata-quorum"),
    ("kafka-leader-election", "leader-election"),
    ("kafka-reassign-partitions", "reassign-partitions"),
    ("kafka-get-offsets", "get-offsets"),
    ("kafka-delete-records", "delete-records"),
    ("kafka-log-dirs", "log-dirs"),
];

/// The arguments as `kfk` parses them: a drop-in name becomes its subcommand.
/// The arguments `kfk` runs with, given how it was invoked: under a Kafka script's name
/// (`kafka-topics.sh`, `kafka-server-start`) it acts as that tool.
pub fn effective_args(args: Vec<std::ffi::OsString>) -> Result<Vec<std::ffi::OsString>, String> {
    let Some(first) = args.first() else {
        return Ok(args);
    };
    let name = std::path::Path::new(first)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let name = name.strip_suffix(".sh").unwrap_or(name);
    if name == "kafka-server-start" {
        return server_start_args(args.into_iter().skip(1).collect());
    }
    match DROP_IN_NAMES.iter().find(|(alias, _)| *alias == name) {
        Some((_, sub)) => {
            let mut out = vec![std::ffi::OsString::from("kfk"), (*sub).into()];
            out.extend(args.into_iter().skip(1));
            Ok(out)
        }
        None if name.starts_with("kafka-")
            || name.starts_with("connect-")
            || name.starts_with("zookeeper-")
            || name == "trogdor" =>
        {
            Err(format!("kfk does not provide {name}; see kfk --help"))
        }
        None => Ok(args),
    }
}

/// `kafka-server-start.sh [-daemon] server.properties [--override property=value]*` as
/// `kfk broker start --config server.properties --override ...`.
fn server_start_args(rest: Vec<std::ffi::OsString>) -> Result<Vec<std::ffi::OsString>, String> {
    const USAGE: &str =
        "USAGE: kafka-server-start.sh [-daemon] server.properties [--override property=value]*";
    let mut out: Vec<std::ffi::OsString> = vec!["kfk".into(), "broker".into(), "start".into()];
    let mut rest = rest.into_iter().peekable();
    match rest.peek().and_then(|a| a.to_str()) {
        Some("-daemon") => {
            return Err(format!(
            "-daemon is not supported: run kfk under a service manager (or nohup) instead; {USAGE}"
        ))
        }
        Some("--help" | "-h" | "--version" | "-V") => {}
        Some(flag) if flag.starts_with('-') => return Err(USAGE.to_string()),
        Some(_) => {
            out.push("--config".into());
            out.extend(rest.next());
        }
        None => return Err(USAGE.to_string()),
    }
    out.extend(rest);
    Ok(out)
}

pub fn main() -> ExitCode {
    let args = match effective_args(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(why) => {
            eprintln!("{why}");
            return ExitCode::from(2);
        }
    };
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line: clap's first line, then where to look for more.
            let text = e.render().to_string();
            let before_usage = text.split("\n\nUsage:").next().unwrap_or(&text);
            let one_line = before_usage
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            eprintln!("kfk: {one_line} (see --help)");
            return ExitCode::from(2);
        }
    };
    let name = subcommand_name(&cli.command);
    init_logging(if name == "broker" {
        "info,openraft=warn"
    } else {
        "warn"
    });
    let result = match cli.command {
        Command::Completions(args) => generate::completions(&args),
        Command::Man(args) => generate::man(&args),
        Command::DumpLog(args) => dump_log::run(&args),
        Command::Storage(args) => storage::run(&args),
        Command::MetadataQuorum(args) => metadata_quorum::run(&args),
        Command::LeaderElection(args) => leader_election::run(&args),
        Command::ReassignPartitions(args) => reassign_partitions::run(&args),
        Command::GetOffsets(args) => get_offsets::run(&args),
        Command::DeleteRecords(args) => delete_records::run(&args),
        Command::LogDirs(args) => log_dirs::run(&args),
        Command::Dev(args) => dev::run(&args),
        Command::Broker(args) => broker::run(&args),
        Command::ConsoleProducer(args) => console_producer::run(&args),
        Command::ConsoleConsumer(args) => console_consumer::run(&args),
        Command::ConsumerGroups(args) => consumer_groups::run(&args),
        Command::Topics(args) => topics::run(&args),
        Command::Configs(args) => configs::run(&args),
        Command::ProducerPerfTest(args) => perf::producer_perf(&args),
        Command::ConsumerPerfTest(args) => perf::consumer_perf(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kfk {name}: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `tracing` to stderr; the level comes from `KFK_LOG` (or `RUST_LOG`), else `default`.
fn init_logging(default: &str) {
    use tracing_subscriber::layer::{Layer, SubscriberExt};
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = std::env::var("KFK_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.to_string());
    // Expected Raft noise shows only when someone asks for debug output.
    let quiet_raft = QuietRaftNoise {
        show: filter.contains("debug") || filter.contains("trace"),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour only for a person at a terminal: not in files, pipes or journals, nor with
    // NO_COLOR set (https://no-color.org).
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(filter)
        .with_filter(quiet_raft);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// openraft reports at ERROR and WARN what is expected whenever a cluster's nodes start or
/// stop: a peer it cannot reach yet (or any more), a vote answer that came late, the backoff
/// that follows. Those events print only when debug output is asked for; Raft errors of other
/// kinds print as they are.
struct QuietRaftNoise {
    show: bool,
}

impl<S> tracing_subscriber::layer::Filter<S> for QuietRaftNoise {
    fn enabled(
        &self,
        _: &tracing::Metadata<'_>,
        _: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        true
    }

    fn event_enabled(
        &self,
        event: &tracing::Event<'_>,
        _: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        if self.show || !event.metadata().target().starts_with("openraft") {
            return true;
        }
        let mut noise = RaftNoise(false);
        event.record(&mut noise);
        !noise.0
    }
}

/// Whether an openraft event's fields say it is expected noise.
struct RaftNoise(bool);

impl tracing::field::Visit for RaftNoise {
    fn record_debug(&mut self, _: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        const EXPECTED: [&str; 4] = [
            "Unreachable",
            "will be ignored because vote changed",
            "backoff mode",
            "Connection refused",
        ];
        let text = format!("{value:?}");
        self.0 |= EXPECTED.iter().any(|e| text.contains(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_script_names_act_as_their_subcommands() {
        let args = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        let ok = |v: &[&str]| Ok(args(v));
        assert_eq!(
            effective_args(args(&["/usr/bin/kafka-topics.sh", "--list"])),
            ok(&["kfk", "topics", "--list"])
        );
        assert_eq!(
            effective_args(args(&["kafka-console-consumer", "--topic", "t"])),
            ok(&["kfk", "console-consumer", "--topic", "t"])
        );
        assert_eq!(effective_args(args(&["kfk", "man"])), ok(&["kfk", "man"]));
        assert_eq!(
            effective_args(args(&["./kafka-dump-log.sh"])),
            ok(&["kfk", "dump-log"])
        );
        assert_eq!(
            effective_args(args(&[
                "bin/kafka-server-start.sh",
                "config/server.properties",
                "--override",
                "log.retention.hours=1"
            ])),
            ok(&[
                "kfk",
                "broker",
                "start",
                "--config",
                "config/server.properties",
                "--override",
                "log.retention.hours=1"
            ])
        );
        assert!(effective_args(args(&["kafka-server-start.sh"]))
            .unwrap_err()
            .contains("USAGE: kafka-server-start.sh"));
        assert!(
            effective_args(args(&["kafka-server-start", "-daemon", "s.properties"]))
                .unwrap_err()
                .contains("-daemon is not supported")
        );
        assert_eq!(
            effective_args(args(&["/opt/kafka/bin/kafka-acls.sh", "--list"])),
            Err("kfk does not provide kafka-acls; see kfk --help".to_string())
        );
    }
}

fn subcommand_name(command: &Command) -> &'static str {
    match command {
        Command::Broker(_) => "broker",
        Command::ConsoleProducer(_) => "console-producer",
        Command::ConsoleConsumer(_) => "console-consumer",
        Command::Topics(_) => "topics",
        Command::ConsumerGroups(_) => "consumer-groups",
        Command::Configs(_) => "configs",
        Command::ProducerPerfTest(_) => "producer-perf-test",
        Command::ConsumerPerfTest(_) => "consumer-perf-test",
        Command::DumpLog(_) => "dump-log",
        Command::Storage(_) => "storage",
        Command::MetadataQuorum(_) => "metadata-quorum",
        Command::LeaderElection(_) => "leader-election",
        Command::ReassignPartitions(_) => "reassign-partitions",
        Command::GetOffsets(_) => "get-offsets",
        Command::DeleteRecords(_) => "delete-records",
        Command::LogDirs(_) => "log-dirs",
        Command::Dev(_) => "dev",
        Command::Completions(_) => "completions",
        Command::Man(_) => "man",
    }
}

/// How Kafka's tools print a broker's error code: the Java exception's class name and its
/// default message (`org.apache.kafka.common.errors.OffsetOutOfRangeException: The requested
/// offset is not within the range of offsets maintained by the server.`). The class name is
/// the code's name in camel case, as Kafka names them; messages are Kafka's for the codes
/// the tools meet, else the code's name.
pub(crate) fn java_exception(code: crate::protocol::ErrorCode) -> String {
    use crate::protocol::ErrorCode as E;
    let message = match code {
        E::OFFSET_OUT_OF_RANGE => {
            "The requested offset is not within the range of offsets maintained by the server."
        }
        E::UNKNOWN_TOPIC_OR_PARTITION => "This server does not host this topic-partition.",
        E::NOT_LEADER_OR_FOLLOWER => {
            "For requests intended only for the leader, this error indicates that the broker is not the current leader. For requests intended for any replica, this error indicates that the broker is not a replica of the topic partition."
        }
        E::POLICY_VIOLATION => "Request parameters do not satisfy the configured policy.",
        E::KAFKA_STORAGE_ERROR => "Disk error when trying to access log file on the disk.",
        E::REQUEST_TIMED_OUT => "The request timed out.",
        E::TOPIC_AUTHORIZATION_FAILED => "Topic authorization failed.",
        other => other.name(),
    };
    let class: String = code
        .name()
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map_or(String::new(), |f| {
                f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase()
            })
        })
        .collect();
    format!("org.apache.kafka.common.errors.{class}Exception: {message}")
}

/// Kafka 4.4's notice for each deprecated flag of a console tool that the command line uses
/// (`prefix` + "--old is deprecated ..."), on stderr: Kafka's tools print it on stdout,
/// where kfk's print only records.
pub(crate) fn warn_deprecated_flags(prefix: &str, renamed: &[(&str, &str)]) {
    let used: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    for (old, new) in renamed {
        if used
            .iter()
            .any(|a| a == old || a.strip_prefix(old).is_some_and(|v| v.starts_with('=')))
        {
            eprintln!(
                "{prefix}{old} is deprecated and will be removed in a future version. Use {new} instead."
            );
        }
    }
}

/// Client properties of the admin tools: `--command-config`, then `--bootstrap-server`.
pub(crate) fn admin_properties(
    command_config: &Option<std::path::PathBuf>,
    bootstrap_server: &str,
) -> Result<crate::client::Properties, CliError> {
    let mut props = crate::client::Properties(match command_config {
        Some(f) => crate::client::read_properties_file(f)
            .map_err(|e| CliError::Usage(format!("--command-config: {e}")))?,
        None => std::collections::BTreeMap::new(),
    });
    props.set("bootstrap.servers", bootstrap_server);
    Ok(props)
}

/// Runs an admin tool's `work` on a current-thread runtime with a connected admin client.
pub(crate) fn with_admin<F, Fut>(
    props: &crate::client::Properties,
    client_id: &str,
    work: F,
) -> Result<(), CliError>
where
    F: FnOnce(crate::client::admin::GroupAdmin) -> Fut,
    Fut: std::future::Future<Output = Result<(), CliError>>,
{
    let config = props
        .client_config(client_id)
        .map_err(|e| CliError::Usage(format!("--bootstrap-server: {e}")))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    runtime.block_on(async {
        let cluster = crate::client::cluster::Cluster::new(config);
        cluster
            .any_connection()
            .await
            .map_err(|e| CliError::Failed(e.to_string()))?;
        work(crate::client::admin::GroupAdmin::new(cluster)).await
    })
}

/// A subcommand's failure: usage errors exit 2, everything else 1.
#[derive(Debug)]
pub enum CliError {
    /// Bad flags or values; the message names the flag.
    Usage(String),
    /// The work failed (I/O, broker errors).
    Failed(String),
    /// Writing to stdout failed.
    Io(std::io::Error),
}

impl CliError {
    fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => f.write_str(m),
            CliError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Io(e)
    }
}

/// The clap command tree (for completions and man pages).
pub fn command() -> clap::Command {
    Cli::command()
}
