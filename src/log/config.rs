//! Topic-level log configuration with Kafka's names, defaults and broker-level synonyms
//! (`segment.bytes` ← `log.segment.bytes`, ...). One table, [`TOPIC_CONFIGS`], drives
//! parsing, validation, DescribeConfigs and the broker's defaults.
//!
//! Must not: read files or know about requests.

use crate::protocol::compression::{Compression, Levels};
use std::collections::BTreeMap;
use std::fmt;

/// How a config value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    Long {
        min: i64,
    },
    Int {
        min: i64,
    },
    Ratio,
    Bool,
    CleanupPolicy,
    TimestampType,
    Compression,
    /// A codec level (KIP-390), checked by `compression::Levels::check`.
    Level,
    /// A list or string kfk accepts and stores but does not act on.
    Text,
}

/// One topic config: its name, its broker-level synonym (the broker default), Kafka's
/// default, and whether kfk acts on it.
#[derive(Debug, Clone, Copy)]
pub struct TopicConfigDef {
    pub name: &'static str,
    pub broker_name: &'static str,
    pub default: &'static str,
    pub kind: ConfigKind,
    /// False for configs kfk stores but does not act on yet.
    pub used: bool,
}

const fn def(
    name: &'static str,
    broker_name: &'static str,
    default: &'static str,
    kind: ConfigKind,
    used: bool,
) -> TopicConfigDef {
    TopicConfigDef {
        name,
        broker_name,
        default,
        kind,
        used,
    }
}

const MAX: &str = "9223372036854775807";

/// Kafka's topic configs (TopicConfig / LogConfig, as of 4.4.0), alphabetical.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def(
        "cleanup.policy",
        "log.cleanup.policy",
        "delete",
        ConfigKind::CleanupPolicy,
        true,
    ),
    def(
        "compression.gzip.level",
        "compression.gzip.level",
        "-1",
        ConfigKind::Level,
        true,
    ),
    def(
        "compression.lz4.level",
        "compression.lz4.level",
        "9",
        ConfigKind::Level,
        true,
    ),
    def(
        "compression.type",
        "compression.type",
        "producer",
        ConfigKind::Compression,
        true,
    ),
    def(
        "compression.zstd.level",
        "compression.zstd.level",
        "3",
        ConfigKind::Level,
        true,
    ),
    def(
        "delete.retention.ms",
        "log.cleaner.delete.retention.ms",
        "86400000",
        ConfigKind::Long { min: 0 },
        true,
    ),
    def(
        "errors.deadletterqueue.group.enable",
        "",
        "false",
        ConfigKind::Bool,
        false,
    ),
    def(
        "file.delete.delay.ms",
        "log.segment.delete.delay.ms",
        "60000",
        ConfigKind::Long { min: 0 },
        false,
    ),
    def(
        "flush.messages",
        "log.flush.interval.messages",
        MAX,
        ConfigKind::Long { min: 1 },
        true,
    ),
    def(
        "flush.ms",
        "log.flush.interval.ms",
        MAX,
        ConfigKind::Long { min: 0 },
        true,
    ),
    def(
        "follower.replication.throttled.replicas",
        "follower.replication.throttled.replicas",
        "",
        ConfigKind::Text,
        false,
    ),
    def(
        "index.interval.bytes",
        "log.index.interval.bytes",
        "4096",
        ConfigKind::Int { min: 0 },
        true,
    ),
    def(
        "leader.replication.throttled.replicas",
        "leader.replication.throttled.replicas",
        "",
        ConfigKind::Text,
        false,
    ),
    def(
        "local.retention.bytes",
        "log.local.retention.bytes",
        "-2",
        ConfigKind::Long { min: -2 },
        false,
    ),
    def(
        "local.retention.ms",
        "log.local.retention.ms",
        "-2",
        ConfigKind::Long { min: -2 },
        false,
    ),
    def(
        "max.compaction.lag.ms",
        "log.cleaner.max.compaction.lag.ms",
        MAX,
        ConfigKind::Long { min: 1 },
        true,
    ),
    def(
        "max.decompressed.message.bytes",
        "max.decompressed.message.bytes",
        "2147483639",
        ConfigKind::Int { min: 0 },
        false,
    ),
    def(
        "max.message.bytes",
        "message.max.bytes",
        "1048588",
        ConfigKind::Int { min: 0 },
        true,
    ),
    def(
        "message.timestamp.after.max.ms",
        "log.message.timestamp.after.max.ms",
        "3600000",
        ConfigKind::Long { min: 0 },
        true,
    ),
    def(
        "message.timestamp.before.max.ms",
        "log.message.timestamp.before.max.ms",
        MAX,
        ConfigKind::Long { min: 0 },
        true,
    ),
    def(
        "message.timestamp.type",
        "log.message.timestamp.type",
        "CreateTime",
        ConfigKind::TimestampType,
        true,
    ),
    def(
        "min.cleanable.dirty.ratio",
        "log.cleaner.min.cleanable.ratio",
        "0.5",
        ConfigKind::Ratio,
        true,
    ),
    def(
        "min.compaction.lag.ms",
        "log.cleaner.min.compaction.lag.ms",
        "0",
        ConfigKind::Long { min: 0 },
        true,
    ),
    def(
        "min.insync.replicas",
        "min.insync.replicas",
        "1",
        ConfigKind::Int { min: 1 },
        true,
    ),
    def(
        "preallocate",
        "log.preallocate",
        "false",
        ConfigKind::Bool,
        false,
    ),
    def(
        "remote.copy.lag.bytes",
        "log.remote.copy.lag.bytes",
        "-1",
        ConfigKind::Long { min: -1 },
        false,
    ),
    def(
        "remote.copy.lag.ms",
        "log.remote.copy.lag.ms",
        "0",
        ConfigKind::Long { min: 0 },
        false,
    ),
    def(
        "remote.log.copy.disable",
        "",
        "false",
        ConfigKind::Bool,
        false,
    ),
    def(
        "remote.log.delete.on.disable",
        "",
        "false",
        ConfigKind::Bool,
        false,
    ),
    def(
        "remote.storage.enable",
        "remote.log.storage.system.enable",
        "false",
        ConfigKind::Bool,
        false,
    ),
    def(
        "retention.bytes",
        "log.retention.bytes",
        "-1",
        ConfigKind::Long { min: -1 },
        true,
    ),
    def(
        "retention.ms",
        "log.retention.ms",
        "604800000",
        ConfigKind::Long { min: -1 },
        true,
    ),
    def(
        "segment.bytes",
        "log.segment.bytes",
        "1073741824",
        ConfigKind::Int { min: 14 },
        true,
    ),
    def(
        "segment.index.bytes",
        "log.index.size.max.bytes",
        "10485760",
        ConfigKind::Int { min: 4 },
        true,
    ),
    def(
        "segment.jitter.ms",
        "log.roll.jitter.ms",
        "0",
        ConfigKind::Long { min: 0 },
        false,
    ),
    def(
        "segment.ms",
        "log.roll.ms",
        "604800000",
        ConfigKind::Long { min: 1 },
        true,
    ),
    def(
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
        "false",
        ConfigKind::Bool,
        false,
    ),
];

/// Topic configs whose broker synonym has no default of its own in Kafka's broker config
/// (`log.retention.ms` is unset, `log.retention.hours` decides; the throttled-replica lists
/// and remote storage have no broker synonym), so DescribeConfigs lists no DEFAULT_CONFIG
/// synonym for them, as Kafka's.
pub const NO_DEFAULT_SYNONYM: &[&str] = &[
    "errors.deadletterqueue.group.enable",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "leader.replication.throttled.replicas",
    "remote.log.copy.disable",
    "remote.log.delete.on.disable",
    "remote.storage.enable",
    "retention.ms",
    "segment.jitter.ms",
    "segment.ms",
];

/// The definition of topic config `name`.
pub fn topic_config(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// A config value that does not pass its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub name: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid value for {}: {}", self.name, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// Checks `value` against the kind of config `name` (which must be a known topic config).
pub fn validate_topic_config(name: &str, value: &str) -> Result<(), ConfigError> {
    let err = |reason: String| ConfigError {
        name: name.to_string(),
        reason,
    };
    let Some(d) = topic_config(name) else {
        return Err(err("unknown topic config".into()));
    };
    let value = value.trim();
    match d.kind {
        ConfigKind::Long { min } | ConfigKind::Int { min } => {
            let v: i64 = value
                .parse()
                .map_err(|_| err(format!("{value:?} is not a number")))?;
            if v < min {
                return Err(err(format!("{v} is below the minimum {min}")));
            }
            if matches!(d.kind, ConfigKind::Int { .. }) && i32::try_from(v).is_err() {
                return Err(err(format!("{v} does not fit in an int")));
            }
        }
        ConfigKind::Ratio => {
            let v: f64 = value
                .parse()
                .map_err(|_| err(format!("{value:?} is not a number")))?;
            if !(0.0..=1.0).contains(&v) {
                return Err(err(format!("{v} is not between 0 and 1")));
            }
        }
        ConfigKind::Bool => {
            if value != "true" && value != "false" {
                return Err(err(format!("{value:?} is not true or false")));
            }
        }
        ConfigKind::CleanupPolicy => {
            let ok = !value.is_empty()
                && value
                    .split(',')
                    .all(|p| matches!(p.trim(), "delete" | "compact"));
            if !ok {
                return Err(err(format!(
                    "{value:?} is not a list of delete and compact"
                )));
            }
        }
        ConfigKind::TimestampType => {
            if value != "CreateTime" && value != "LogAppendTime" {
                return Err(err(format!("{value:?} is not CreateTime or LogAppendTime")));
            }
        }
        ConfigKind::Compression => {
            if !matches!(
                value,
                "producer" | "uncompressed" | "gzip" | "snappy" | "lz4" | "zstd"
            ) {
                return Err(err(format!(
                    "{value:?} is not one of producer, uncompressed, gzip, snappy, lz4, zstd"
                )));
            }
        }
        ConfigKind::Level => {
            let v: i32 = value
                .parse()
                .map_err(|_| err(format!("{value:?} is not a number")))?;
            crate::protocol::compression::Levels::check(name, v).map_err(err)?;
        }
        ConfigKind::Text => {}
    }
    Ok(())
}

/// The typed configuration one `Log` runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub segment_bytes: u64,
    pub segment_ms: i64,
    pub segment_index_bytes: usize,
    pub index_interval_bytes: u64,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub compact: bool,
    pub delete: bool,
    pub delete_retention_ms: i64,
    pub min_compaction_lag_ms: i64,
    pub max_compaction_lag_ms: i64,
    pub min_cleanable_dirty_ratio: f64,
    pub flush_messages: i64,
    pub flush_ms: i64,
    pub max_message_bytes: usize,
    pub log_append_time: bool,
    pub timestamp_before_max_ms: i64,
    pub timestamp_after_max_ms: i64,
    pub min_insync_replicas: i32,
    /// `compression.type`: `None` for `producer` (batches stored as they came), else the
    /// codec every batch is stored with (re-compressed on append when it differs).
    pub compression: Option<Compression>,
    /// `compression.{gzip,lz4,zstd}.level`, for re-compression.
    pub compression_levels: Levels,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig::from_map(&BTreeMap::new())
            .unwrap_or_else(|e| unreachable!("defaults are valid: {e}"))
    }
}

impl LogConfig {
    /// Builds a config from topic-level `values` (missing keys take Kafka's defaults).
    pub fn from_map(values: &BTreeMap<String, String>) -> Result<LogConfig, ConfigError> {
        for (k, v) in values {
            validate_topic_config(k, v)?;
        }
        let get = |name: &str| -> &str {
            values
                .get(name)
                .map(String::as_str)
                .or_else(|| topic_config(name).map(|d| d.default))
                .unwrap_or("")
        };
        let long = |name: &str| get(name).trim().parse::<i64>().unwrap_or(0);
        let policy = get("cleanup.policy");
        Ok(LogConfig {
            segment_bytes: long("segment.bytes").max(14) as u64,
            segment_ms: long("segment.ms"),
            segment_index_bytes: long("segment.index.bytes").max(4) as usize,
            index_interval_bytes: long("index.interval.bytes").max(0) as u64,
            retention_ms: long("retention.ms"),
            retention_bytes: long("retention.bytes"),
            compact: policy.contains("compact"),
            delete: policy.contains("delete"),
            delete_retention_ms: long("delete.retention.ms"),
            min_compaction_lag_ms: long("min.compaction.lag.ms"),
            max_compaction_lag_ms: long("max.compaction.lag.ms"),
            min_cleanable_dirty_ratio: get("min.cleanable.dirty.ratio")
                .trim()
                .parse()
                .unwrap_or(0.5),
            flush_messages: long("flush.messages"),
            flush_ms: long("flush.ms"),
            max_message_bytes: long("max.message.bytes").max(0) as usize,
            log_append_time: get("message.timestamp.type") == "LogAppendTime",
            timestamp_before_max_ms: long("message.timestamp.before.max.ms"),
            timestamp_after_max_ms: long("message.timestamp.after.max.ms"),
            min_insync_replicas: long("min.insync.replicas") as i32,
            compression: match get("compression.type").trim() {
                "producer" => None,
                "uncompressed" => Some(Compression::None),
                other => Compression::parse(other),
            },
            compression_levels: Levels {
                gzip: long("compression.gzip.level") as i32,
                lz4: long("compression.lz4.level") as i32,
                zstd: long("compression.zstd.level") as i32,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafkas() {
        let c = LogConfig::default();
        assert_eq!(c.segment_bytes, 1 << 30);
        assert_eq!(c.retention_ms, 7 * 24 * 3600 * 1000);
        assert_eq!(c.index_interval_bytes, 4096);
        assert!(c.delete && !c.compact);
        assert_eq!(c.flush_messages, i64::MAX);
    }

    #[test]
    fn bad_values_name_the_config() {
        let mut m = BTreeMap::new();
        m.insert("retention.ms".to_string(), "soon".to_string());
        assert_eq!(LogConfig::from_map(&m).unwrap_err().name, "retention.ms");
        m.clear();
        m.insert("cleanup.policy".to_string(), "compact,delete".to_string());
        let c = LogConfig::from_map(&m).unwrap();
        assert!(c.compact && c.delete);
        assert!(validate_topic_config("compression.type", "gzip").is_ok());
        assert!(validate_topic_config("compression.type", "brotli").is_err());
        assert!(validate_topic_config("compression.zstd.level", "23").is_err());
        m.clear();
        m.insert("compression.type".to_string(), "uncompressed".to_string());
        assert_eq!(
            LogConfig::from_map(&m).unwrap().compression,
            Some(Compression::None)
        );
        assert!(validate_topic_config("no.such.config", "1").is_err());
    }
}
