//! `kfk broker start`: a Kafka-compatible broker. With no arguments: node 1 on
//! localhost:9092 (loopback only), data in `./kfk-data`.

use super::CliError;
use crate::broker::config::BrokerConfig;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(disable_help_subcommand = true)]
pub struct BrokerArgs {
    #[command(subcommand)]
    pub command: BrokerCommand,
}

#[derive(Subcommand, Debug)]
pub enum BrokerCommand {
    /// Start a broker and run until SIGINT/SIGTERM (then shut down cleanly).
    #[command(
        after_help = "Examples:\n  kfk broker start\n  kfk broker start --config server.properties --override log.retention.hours=1\n  kfk broker start --data-dir /var/lib/kfk --listeners PLAINTEXT://:9092 (every interface, advertising this host name)"
    )]
    Start(StartArgs),
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Config file: TOML (Kafka's property names as keys) or a Java .properties file such
    /// as an existing server.properties.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Set a config key (Kafka's property name), over the config file. Repeatable.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Data directory (log.dirs); wins over the config file. Default ./kfk-data.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Listeners (the `listeners` key), e.g. PLAINTEXT://localhost:9092 or several separated
    /// by commas. An empty host binds every interface and advertises this machine's host
    /// name; port 0 takes any free port, which is then advertised.
    #[arg(long, value_name = "NAME://HOST:PORT")]
    pub listeners: Option<String>,
}

pub fn run(args: &BrokerArgs) -> Result<(), CliError> {
    let BrokerCommand::Start(start) = &args.command;
    let mut overrides = start.overrides.clone();
    if let Some(l) = &start.listeners {
        overrides.push(format!("listeners={l}"));
    }
    if let Some(dir) = &start.data_dir {
        overrides.push(format!("log.dirs={}", dir.display()));
    }
    let config = BrokerConfig::load(start.config.as_deref(), &overrides)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kfk-broker")
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    runtime
        .block_on(crate::broker::run(config))
        .map_err(|e| CliError::Failed(e.to_string()))
}
