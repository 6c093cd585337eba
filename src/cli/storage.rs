//! `kfk storage` (kafka-storage): `random-uuid` prints a new cluster id; `format` prepares a
//! node's log dirs for a cluster (meta.properties, bootstrap metadata).

use super::CliError;
use crate::broker::config::BrokerConfig;
use crate::broker::storage::{format, parse_initial_controllers, InitialControllers};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    disable_help_subcommand = true,
    after_help = "Examples:\n  kfk storage random-uuid\n  kfk storage format -t $(kfk storage random-uuid) -c server.properties"
)]
pub struct StorageArgs {
    #[command(subcommand)]
    pub command: StorageCommand,
}

#[derive(Subcommand, Debug)]
pub enum StorageCommand {
    /// Print a new random cluster id.
    #[command(after_help = "Example:\n  kfk storage random-uuid")]
    RandomUuid,
    /// Format the log dirs of a node for a cluster (meta.properties and bootstrap metadata).
    #[command(
        after_help = "Examples:\n  kfk storage format -t $(kfk storage random-uuid) -c server.properties\n  kfk storage format -t MkU3OEVBNTcwNTJENDM2Qg -c controller.properties --standalone"
    )]
    Format(FormatArgs),
}

#[derive(Args, Debug)]
pub struct FormatArgs {
    /// The cluster id (every node of a cluster gets the same).
    #[arg(short = 't', long = "cluster-id", value_name = "ID")]
    pub cluster_id: String,
    /// The node's config file (server.properties or TOML).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: PathBuf,
    /// Set a config key over the config file. Repeatable.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Skip log dirs that are already formatted instead of failing.
    #[arg(short = 'g', long)]
    pub ignore_formatted: bool,
    /// A dynamic quorum of this controller alone.
    #[arg(short = 's', long, conflicts_with_all = ["initial_controllers", "no_initial_controllers"])]
    pub standalone: bool,
    /// A dynamic quorum's initial voters: id@host:port:directory-id,...
    #[arg(
        short = 'I',
        long,
        value_name = "VOTERS",
        conflicts_with = "no_initial_controllers"
    )]
    pub initial_controllers: Option<String>,
    /// A controller that joins an existing dynamic quorum later.
    #[arg(short = 'N', long)]
    pub no_initial_controllers: bool,
}

pub fn run(args: &StorageArgs) -> Result<(), CliError> {
    match &args.command {
        StorageCommand::RandomUuid => {
            println!("{}", crate::protocol::Uuid::random());
            Ok(())
        }
        StorageCommand::Format(f) => {
            let config = BrokerConfig::load(Some(&f.config), &f.overrides)
                .map_err(|e| CliError::Usage(format!("--config: {e}")))?;
            let initial = if f.standalone {
                InitialControllers::Standalone
            } else if let Some(list) = &f.initial_controllers {
                InitialControllers::List(parse_initial_controllers(list).map_err(CliError::Usage)?)
            } else if f.no_initial_controllers {
                InitialControllers::None
            } else {
                InitialControllers::Static
            };
            let lines = format(&config, &f.cluster_id, &initial, f.ignore_formatted)
                .map_err(CliError::Failed)?;
            for l in lines {
                println!("{l}");
            }
            Ok(())
        }
    }
}
