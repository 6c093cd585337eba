//! `kfk configs` (kafka-configs): describe and alter topic and broker configs, with Kafka's
//! flags and output lines. Changed topic configs take effect on the broker without a restart.

use super::CliError;
use crate::client::admin::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::client::ClientError;
use crate::protocol::messages::describe_configs_response::DescribeConfigsResourceResult;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  kfk configs --bootstrap-server localhost:9092 --describe --topic test\n  kfk configs --bootstrap-server localhost:9092 --alter --entity-type topics --entity-name test --add-config retention.ms=60000,cleanup.policy=compact\n  kfk configs --bootstrap-server localhost:9092 --alter --entity-type brokers --entity-default --delete-config log.retention.ms"
)]
pub struct ConfigsArgs {
    /// The broker(s) to connect to, host:port[,host:port...].
    #[arg(long, value_name = "SERVERS")]
    pub bootstrap_server: String,
    /// A .properties file of client properties.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<PathBuf>,
    /// Show configs.
    #[arg(long)]
    pub describe: bool,
    /// Change configs.
    #[arg(long)]
    pub alter: bool,
    /// topics or brokers.
    #[arg(long, value_name = "TYPE")]
    pub entity_type: Option<String>,
    /// The topic name or broker id.
    #[arg(long, value_name = "NAME")]
    pub entity_name: Option<String>,
    /// The cluster-wide default for brokers.
    #[arg(long)]
    pub entity_default: bool,
    /// Shorthand for --entity-type topics --entity-name TOPIC.
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Shorthand for --entity-type brokers --entity-name ID.
    #[arg(long, value_name = "ID")]
    pub broker: Option<String>,
    /// With --describe: every config, not only the overrides.
    #[arg(long)]
    pub all: bool,
    /// Configs to set: k1=v1,k2=[v1,v2],... (repeatable).
    #[arg(long, value_name = "CONFIGS")]
    pub add_config: Vec<String>,
    /// Configs to remove: k1,k2 (repeatable).
    #[arg(long, value_name = "KEYS")]
    pub delete_config: Vec<String>,
}

fn failed(e: ClientError) -> CliError {
    CliError::Failed(e.to_string())
}

/// Splits `k1=v1,k2=[a,b]` on top-level commas.
fn parse_add_config(text: &str) -> Result<Vec<(String, String)>, CliError> {
    let mut out = Vec::new();
    let (mut depth, mut current) = (0, String::new());
    let mut parts = Vec::new();
    for c in text.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    for p in parts.into_iter().filter(|p| !p.trim().is_empty()) {
        let (k, v) = p.split_once('=').ok_or_else(|| {
            CliError::Usage(format!("--add-config {p:?} is not of the form KEY=VALUE"))
        })?;
        let v = v.trim();
        let v = v
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(v);
        out.push((k.trim().to_string(), v.to_string()));
    }
    Ok(out)
}

const SOURCES: &[&str] = &[
    "UNKNOWN",
    "DYNAMIC_TOPIC_CONFIG",
    "DYNAMIC_BROKER_CONFIG",
    "DYNAMIC_DEFAULT_BROKER_CONFIG",
    "STATIC_BROKER_CONFIG",
    "DEFAULT_CONFIG",
    "DYNAMIC_BROKER_LOGGER_CONFIG",
    "CLIENT_METRICS_CONFIG",
    "GROUP_CONFIG",
];

fn source_name(s: i8) -> &'static str {
    SOURCES.get(s as usize).copied().unwrap_or("UNKNOWN")
}

fn config_line(c: &DescribeConfigsResourceResult) -> String {
    let value = if c.is_sensitive {
        "null".to_string()
    } else {
        c.value.clone().unwrap_or_else(|| "null".into())
    };
    let synonyms: Vec<String> = c
        .synonyms
        .iter()
        .map(|s| {
            format!(
                "{}:{}={}",
                source_name(s.source),
                s.name,
                s.value.as_deref().unwrap_or("null")
            )
        })
        .collect();
    format!(
        "  {}={value} sensitive={} synonyms={{{}}}",
        c.name,
        c.is_sensitive,
        synonyms.join(", ")
    )
}

pub fn run(args: &ConfigsArgs) -> Result<(), CliError> {
    if args.describe == args.alter {
        return Err(CliError::Usage(
            "exactly one of --describe or --alter is required".into(),
        ));
    }
    let (kind, name): (&str, Option<String>) = match (&args.topic, &args.broker, &args.entity_type)
    {
        (Some(t), None, None) => ("topics", Some(t.clone())),
        (None, Some(b), None) => ("brokers", Some(b.clone())),
        (None, None, Some(t)) if t == "topics" || t == "brokers" => {
            (t.as_str(), args.entity_name.clone())
        }
        (None, None, Some(t)) => {
            return Err(CliError::Usage(format!(
                "--entity-type {t}: only topics and brokers are supported"
            )))
        }
        (None, None, None) => {
            return Err(CliError::Usage(
                "--entity-type (with --entity-name or --entity-default), --topic or --broker is required".into(),
            ))
        }
        _ => {
            return Err(CliError::Usage(
                "use one of --topic, --broker or --entity-type".into(),
            ))
        }
    };
    if kind == "topics" && args.entity_default {
        return Err(CliError::Usage(
            "--entity-default works with --entity-type brokers".into(),
        ));
    }
    if args.alter && name.is_none() && !args.entity_default {
        return Err(CliError::Usage(
            "--alter needs --entity-name or --entity-default".into(),
        ));
    }
    if args.alter && args.add_config.is_empty() && args.delete_config.is_empty() {
        return Err(CliError::Usage(
            "--alter needs --add-config or --delete-config".into(),
        ));
    }
    let mut set = Vec::new();
    for a in &args.add_config {
        set.extend(parse_add_config(a)?);
    }
    let delete: Vec<String> = args
        .delete_config
        .iter()
        .flat_map(|d| d.split(','))
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    let props = super::admin_properties(&args.command_config, &args.bootstrap_server)?;
    let props = &props;
    super::with_admin(props, "kfk-configs", |admin| async move {
        let resource_type = if kind == "topics" {
            RESOURCE_TOPIC
        } else {
            RESOURCE_BROKER
        };
        // The default broker entity is the empty name.
        let entities: Vec<String> = match (&name, args.entity_default) {
            (_, true) => vec![String::new()],
            (Some(n), false) => vec![n.clone()],
            (None, false) if kind == "topics" => {
                let mut v: Vec<String> = admin
                    .metadata(None)
                    .await
                    .map_err(failed)?
                    .topics
                    .into_iter()
                    .filter_map(|t| t.name)
                    .collect();
                v.sort();
                v
            }
            (None, false) => admin
                .metadata(Some(Vec::new()))
                .await
                .map_err(failed)?
                .brokers
                .into_iter()
                .map(|b| b.node_id.to_string())
                .collect(),
        };
        let label = |e: &str| -> String {
            match (kind, e.is_empty()) {
                ("topics", _) => format!("topic {e}"),
                (_, true) => "brokers in the cluster".to_string(),
                _ => format!("broker {e}"),
            }
        };
        if args.alter {
            for e in &entities {
                admin
                    .alter_configs(resource_type, e, &set, &delete)
                    .await
                    .map_err(failed)?
                    .map_err(|err| {
                        CliError::Failed(format!(
                            "Error while executing config command with args '{}': {err}",
                            std::env::args().skip(1).collect::<Vec<_>>().join(" ")
                        ))
                    })?;
                if e.is_empty() {
                    println!("Completed updating default config for brokers in the cluster.");
                } else {
                    println!("Completed updating config for {}.", label(e));
                }
            }
            return Ok(());
        }
        for e in &entities {
            let configs = admin
                .describe_configs(resource_type, e)
                .await
                .map_err(failed)?
                .map_err(|err| CliError::Failed(err.to_string()))?;
            let wanted: Vec<&DescribeConfigsResourceResult> = configs
                .iter()
                .filter(|c| {
                    args.all
                        || match (kind, e.is_empty()) {
                            ("topics", _) => c.config_source == 1,
                            (_, true) => c.config_source == 3,
                            _ => c.config_source == 2,
                        }
                })
                .collect();
            let heading = match (args.all, kind, e.is_empty()) {
                (true, "topics", _) => format!("All configs for topic {e} are:"),
                (true, _, _) => format!("All configs for broker {e} are:"),
                (false, "topics", _) => format!("Dynamic configs for topic {e} are:"),
                (false, _, true) => "Default configs for brokers in the cluster are:".to_string(),
                (false, _, false) => format!("Dynamic configs for broker {e} are:"),
            };
            println!("{heading}");
            for c in wanted {
                println!("{}", config_line(c));
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_config_lists_split_on_top_level_commas() {
        assert_eq!(
            parse_add_config("a=1,b=[x,y],c=z").unwrap(),
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x,y".to_string()),
                ("c".to_string(), "z".to_string())
            ]
        );
        assert!(parse_add_config("novalue").is_err());
    }
}
