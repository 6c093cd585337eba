//! `kfk get-offsets` (kafka-get-offsets, Kafka's `GetOffsetShell`): the offsets of partitions
//! at a time (latest, earliest, max-timestamp, or the first offset at or after a timestamp),
//! chosen by topic regex and partition ids or by Kafka's topic-partition patterns, printed
//! `topic:partition:offset` in Kafka's order (by `topic-partition` as text).

use super::CliError;
use crate::client::consumer::{Consumer, TopicPartition};
use crate::client::topic_pattern::TopicPattern;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  kfk get-offsets --bootstrap-server localhost:9092 --topic orders\n  kfk get-offsets --bootstrap-server localhost:9092 --topic-partitions 'orders:0-3,logs.*' --time earliest"
)]
pub struct GetOffsetsArgs {
    /// The broker(s) to connect to, host:port[,host:port...].
    #[arg(long, value_name = "SERVERS", required_unless_present = "broker_list")]
    pub bootstrap_server: Option<String>,
    /// Same as --bootstrap-server (the older name).
    #[arg(long, value_name = "SERVERS", hide_short_help = true)]
    pub broker_list: Option<String>,
    /// Topic-partition patterns, comma separated: TOPIC_REGEX[:PARTITIONS], where PARTITIONS
    /// is N, N-M (M excluded), N- or -M; no regex matches every topic, no PARTITIONS every
    /// partition. Not with --topic or --partitions.
    #[arg(long, value_name = "PATTERNS", conflicts_with_all = ["topic", "partitions"])]
    pub topic_partitions: Option<String>,
    /// The topic, or a regular expression matching topics (default: every topic).
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Comma-separated partition ids (default: every partition).
    #[arg(long, value_name = "IDS")]
    pub partitions: Option<String>,
    /// -1 or latest, -2 or earliest, -3 or max-timestamp, -4 or earliest-local, -5 or
    /// latest-tiered, or a timestamp in ms (the first offset at or after it).
    #[arg(
        long,
        value_name = "TIME",
        default_value = "latest",
        allow_hyphen_values = true
    )]
    pub time: String,
    /// Client properties file.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<PathBuf>,
    /// Leave out internal topics (__consumer_offsets).
    #[arg(long)]
    pub exclude_internal_topics: bool,
}

/// `--time` as a ListOffsets timestamp.
fn parse_time(text: &str) -> Result<i64, CliError> {
    Ok(match text.trim() {
        "latest" => -1,
        "earliest" => -2,
        "max-timestamp" => -3,
        "earliest-local" => -4,
        "latest-tiered" => -5,
        t => t.parse().map_err(|_| {
            CliError::Usage(format!(
                "--time: Malformed time argument {t}. Please use -1 or latest / -2 or earliest / -3 or max-timestamp / -4 or earliest-local / -5 or latest-tiered, or a specified long format timestamp"
            ))
        })?,
    })
}

/// One topic-partition pattern: a topic regex (`None`: any topic) and a partition range
/// `[lo, hi)`.
#[derive(Debug)]
struct Pattern {
    topic: Option<TopicPattern>,
    partitions: (i32, i32),
}

impl Pattern {
    fn matches(&self, topic: &str, partition: i32) -> bool {
        self.topic.as_ref().is_none_or(|t| t.matches(topic))
            && (self.partitions.0..self.partitions.1).contains(&partition)
    }
}

/// Kafka's `([^:,]*)(?::(?:([0-9]*)|(?:([0-9]*)-([0-9]*))))?`, one per comma.
fn parse_patterns(text: &str) -> Result<Vec<Pattern>, CliError> {
    let bad = |p: &str, why: String| CliError::Usage(format!("--topic-partitions {p:?}: {why}"));
    text.split(',')
        .map(|p| {
            let (topic, spec) = match p.split_once(':') {
                Some((t, s)) => (t, Some(s)),
                None => (p, None),
            };
            let topic = match topic {
                "" => None,
                t => Some(TopicPattern::new(t).map_err(|e| bad(p, e))?),
            };
            let number = |s: &str, default: i32| -> Result<i32, CliError> {
                if s.is_empty() {
                    return Ok(default);
                }
                s.parse()
                    .map_err(|_| bad(p, format!("{s:?} is not a partition number")))
            };
            let partitions = match spec {
                None | Some("") => (0, i32::MAX),
                Some(s) => match s.split_once('-') {
                    Some((lo, hi)) => (number(lo, 0)?, number(hi, i32::MAX)?),
                    None => {
                        let n = number(s, 0)?;
                        (n, n.saturating_add(1))
                    }
                },
            };
            Ok(Pattern { topic, partitions })
        })
        .collect()
}

/// The patterns `--topic` and `--partitions` stand for.
fn patterns_of(args: &GetOffsetsArgs) -> Result<Vec<Pattern>, CliError> {
    if let Some(tp) = &args.topic_partitions {
        return parse_patterns(tp);
    }
    let topic = match &args.topic {
        Some(t) => {
            Some(TopicPattern::new(t).map_err(|e| CliError::Usage(format!("--topic {t:?}: {e}")))?)
        }
        None => None,
    };
    let ids: Vec<i32> = match &args.partitions {
        Some(list) => list
            .split(',')
            .map(|n| {
                n.trim().parse().map_err(|_| {
                    CliError::Usage(format!("--partitions: {n:?} is not a partition id"))
                })
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    if ids.is_empty() {
        return Ok(vec![Pattern {
            topic,
            partitions: (0, i32::MAX),
        }]);
    }
    Ok(ids
        .into_iter()
        .map(|n| Pattern {
            topic: topic.clone(),
            partitions: (n, n.saturating_add(1)),
        })
        .collect())
}

pub fn run(args: &GetOffsetsArgs) -> Result<(), CliError> {
    let time = parse_time(&args.time)?;
    let patterns = patterns_of(args)?;
    let servers = args
        .bootstrap_server
        .clone()
        .or_else(|| args.broker_list.clone())
        .unwrap_or_default();
    let props = super::admin_properties(&args.command_config, &servers)?;
    let failed = |e: crate::client::ClientError| CliError::Failed(e.to_string());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    runtime.block_on(async {
        let consumer = Consumer::new(&props).await.map_err(failed)?;
        consumer.cluster.refresh(&[]).await.map_err(failed)?;
        let mut wanted: Vec<TopicPartition> = Vec::new();
        for name in consumer.cluster.topic_names() {
            let Some(info) = consumer.cluster.topic(&name) else {
                continue;
            };
            if args.exclude_internal_topics && info.internal {
                continue;
            }
            for p in &info.partitions {
                if patterns.iter().any(|pat| pat.matches(&name, p.index)) {
                    wanted.push((name.clone(), p.index));
                }
            }
        }
        if wanted.is_empty() {
            return Err(CliError::Failed(
                "Could not match any topic-partitions with the specified filters".into(),
            ));
        }
        let offsets = consumer.offsets_for(&wanted, time).await.map_err(failed)?;
        let mut lines: Vec<(String, String)> = offsets
            .into_iter()
            .filter(|(_, offset)| *offset >= 0)
            .map(|((t, p), offset)| (format!("{t}-{p}"), format!("{t}:{p}:{offset}")))
            .collect();
        lines.sort();
        for (_, line) in lines {
            println!("{line}");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_partition_patterns_read_as_kafkas() {
        let p = parse_patterns("orders:1-3,logs.*,:5-,x:-2,y:7").unwrap();
        assert!(p[0].matches("orders", 1) && p[0].matches("orders", 2));
        assert!(!p[0].matches("orders", 3) && !p[0].matches("orders2", 1));
        assert!(p[1].matches("logs-a", 99));
        assert!(p[2].matches("anything", 5) && !p[2].matches("anything", 4));
        assert!(p[3].matches("x", 1) && !p[3].matches("x", 2));
        assert!(p[4].matches("y", 7) && !p[4].matches("y", 8));
        assert!(parse_patterns("t:a").is_err());
        assert_eq!(parse_time("max-timestamp").unwrap(), -3);
        assert_eq!(parse_time("1700000000000").unwrap(), 1_700_000_000_000);
        assert!(parse_time("bogus").is_err());
    }
}
