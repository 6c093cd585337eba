//! `kfk console-consumer` (kafka-console-consumer): prints records of a topic (or of topics
//! matching `--include`) with Kafka's `DefaultMessageFormatter` properties and field order.
//! Prints `Processed a total of N messages` on stderr at exit; a closed stdout (`| head`)
//! ends it quietly with exit 0. Without `--partition` it joins a consumer group: `--group`, or
//! a generated `console-consumer-NNNNN` group with auto-commit off (as Kafka does); with
//! `--partition` it reads that partition directly. SIGINT/SIGTERM close the consumer
//! cleanly (commit, LeaveGroup).

use super::CliError;
use crate::client::consumer::{Consumer, ConsumerRecord, Subscription, TopicPartition};
use crate::client::topic_pattern::TopicPattern;
use crate::client::{read_properties_file, ClientError, Properties};
use clap::Args;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  kfk console-consumer --bootstrap-server localhost:9092 --topic test --from-beginning\n  kfk console-consumer --bootstrap-server localhost:9092 --topic test --partition 0 --offset 42 --max-messages 10 --property print.key=true"
)]
pub struct ConsoleConsumerArgs {
    /// The broker(s) to connect to, host:port[,host:port...].
    #[arg(long, value_name = "SERVERS")]
    pub bootstrap_server: String,
    /// The topic to consume.
    #[arg(long, required_unless_present = "include", conflicts_with = "include")]
    pub topic: Option<String>,
    /// Consume every topic whose name matches this regular expression (anchored).
    #[arg(long, value_name = "REGEX", visible_alias = "whitelist")]
    pub include: Option<String>,
    /// Consume only this partition.
    #[arg(long)]
    pub partition: Option<i32>,
    /// Where to start: earliest, latest or an offset (needs --partition). Default latest.
    #[arg(long, value_name = "OFFSET")]
    pub offset: Option<String>,
    /// Start from the earliest offset (when there is no committed offset).
    #[arg(long)]
    pub from_beginning: bool,
    /// Exit after this many messages.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// Exit when no message arrives for this long.
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// The consumer group to join (default: a generated group that commits nothing).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// read_committed or read_uncommitted (default).
    #[arg(long, value_name = "LEVEL", default_value = "read_uncommitted")]
    pub isolation_level: String,
    /// A consumer property KEY=VALUE (repeatable).
    #[arg(long = "consumer-property", value_name = "KEY=VALUE")]
    pub consumer_property: Vec<String>,
    /// A .properties file of consumer properties.
    #[arg(long = "consumer.config", value_name = "FILE")]
    pub consumer_config: Option<PathBuf>,
    /// A formatter property KEY=VALUE (repeatable): print.timestamp, print.partition,
    /// print.offset, print.headers, print.key, print.value, key.separator, line.separator,
    /// headers.separator, null.literal.
    #[arg(
        long = "property",
        visible_alias = "formatter-property",
        value_name = "KEY=VALUE"
    )]
    pub property: Vec<String>,
    /// Skip records that cannot be printed instead of stopping.
    #[arg(long)]
    pub skip_message_on_error: bool,
}

/// Kafka's `DefaultMessageFormatter`.
#[derive(Debug, Clone)]
pub struct Formatter {
    pub print_timestamp: bool,
    pub print_partition: bool,
    pub print_offset: bool,
    pub print_headers: bool,
    pub print_key: bool,
    pub print_value: bool,
    pub key_separator: String,
    pub line_separator: String,
    pub headers_separator: String,
    pub null_literal: String,
}

impl Formatter {
    pub fn from_properties(pairs: &[String]) -> Result<Formatter, CliError> {
        let mut f = Formatter {
            print_timestamp: false,
            print_partition: false,
            print_offset: false,
            print_headers: false,
            print_key: false,
            print_value: true,
            key_separator: "\t".into(),
            line_separator: "\n".into(),
            headers_separator: ",".into(),
            null_literal: "null".into(),
        };
        for p in pairs {
            let (k, v) = p.split_once('=').ok_or_else(|| {
                CliError::Usage(format!("--property {p:?} is not of the form KEY=VALUE"))
            })?;
            let flag = || -> Result<bool, CliError> {
                match v.trim().to_ascii_lowercase().as_str() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    other => Err(CliError::Usage(format!(
                        "--property {k}={other}: expected true or false"
                    ))),
                }
            };
            match k.trim() {
                "print.timestamp" => f.print_timestamp = flag()?,
                "print.partition" => f.print_partition = flag()?,
                "print.offset" => f.print_offset = flag()?,
                "print.headers" => f.print_headers = flag()?,
                "print.key" => f.print_key = flag()?,
                "print.value" => f.print_value = flag()?,
                "key.separator" => f.key_separator = unescape(v),
                "line.separator" => f.line_separator = unescape(v),
                "headers.separator" => f.headers_separator = unescape(v),
                "null.literal" => f.null_literal = v.to_string(),
                "key.deserializer" | "value.deserializer" | "headers.deserializer" => {}
                other => {
                    return Err(CliError::Usage(format!(
                        "--property {other}: unknown formatter property"
                    )))
                }
            }
        }
        Ok(f)
    }

    /// Writes one record in Kafka's field order.
    pub fn write(&self, out: &mut impl Write, r: &ConsumerRecord) -> std::io::Result<()> {
        let text = |b: &Option<bytes::Bytes>| {
            b.as_ref()
                .map_or_else(|| self.null_literal.clone().into_bytes(), |b| b.to_vec())
        };
        if self.print_timestamp {
            write!(
                out,
                "{}:{}",
                if r.log_append_time {
                    "LogAppendTime"
                } else {
                    "CreateTime"
                },
                r.timestamp
            )?;
            out.write_all(self.key_separator.as_bytes())?;
        }
        if self.print_partition {
            write!(out, "Partition:{}", r.partition)?;
            out.write_all(self.key_separator.as_bytes())?;
        }
        if self.print_offset {
            write!(out, "Offset:{}", r.offset)?;
            out.write_all(self.key_separator.as_bytes())?;
        }
        if self.print_headers {
            if r.headers.is_empty() {
                out.write_all(b"NO_HEADERS")?;
            }
            for (i, (k, v)) in r.headers.iter().enumerate() {
                if i > 0 {
                    out.write_all(self.headers_separator.as_bytes())?;
                }
                out.write_all(k.as_bytes())?;
                out.write_all(b":")?;
                out.write_all(&text(v))?;
            }
            out.write_all(self.key_separator.as_bytes())?;
        }
        if self.print_key {
            out.write_all(&text(&r.key))?;
            if self.print_value {
                out.write_all(self.key_separator.as_bytes())?;
            }
        }
        if self.print_value {
            out.write_all(&text(&r.value))?;
        }
        out.write_all(self.line_separator.as_bytes())
    }
}

fn unescape(s: &str) -> String {
    s.replace("\\t", "\t")
        .replace("\\n", "\n")
        .replace("\\r", "\r")
}

fn consumer_properties(args: &ConsoleConsumerArgs) -> Result<Properties, CliError> {
    let mut props = Properties(match &args.consumer_config {
        Some(f) => read_properties_file(f)
            .map_err(|e| CliError::Usage(format!("--consumer.config: {e}")))?,
        None => BTreeMap::new(),
    });
    for p in &args.consumer_property {
        let (k, v) = p.split_once('=').ok_or_else(|| {
            CliError::Usage(format!(
                "--consumer-property {p:?} is not of the form KEY=VALUE"
            ))
        })?;
        props.set(k.trim(), v);
    }
    props.set("bootstrap.servers", args.bootstrap_server.clone());
    props.set("isolation.level", args.isolation_level.clone());
    if props.get("client.id").is_none() {
        props.set("client.id", "console-consumer");
    }
    if args.partition.is_none() {
        match &args.group {
            Some(g) => props.set("group.id", g.clone()),
            None if props.get("group.id").is_some() => {}
            None => {
                // Kafka's console consumer: a throwaway group that commits nothing.
                props.set(
                    "group.id",
                    format!("console-consumer-{}", crate::ids::random_below(100_000)),
                );
                if props.get("enable.auto.commit").is_none() {
                    props.set("enable.auto.commit", "false");
                }
            }
        }
    } else if let Some(g) = &args.group {
        props.set("group.id", g.clone());
    }
    if args.from_beginning
        || (args.partition.is_none() && args.offset.as_deref() == Some("earliest"))
    {
        props.set("auto.offset.reset", "earliest");
    } else if (args.partition.is_none() && args.offset.as_deref() == Some("latest"))
        || props.get("auto.offset.reset").is_none()
    {
        props.set("auto.offset.reset", "latest");
    }
    crate::client::consumer::ConsumerConfig::from_properties(&props)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(props)
}

/// Where to start: `None` = the reset policy, else an offset or earliest/latest marker.
enum Start {
    Reset,
    Earliest,
    Latest,
    At(i64),
}

fn start_of(args: &ConsoleConsumerArgs) -> Result<Start, CliError> {
    match args.offset.as_deref() {
        None => Ok(Start::Reset),
        Some("earliest") => Ok(Start::Earliest),
        Some("latest") => Ok(Start::Latest),
        Some(n) => {
            let n: i64 = n.parse().map_err(|_| {
                CliError::Usage(format!(
                    "--offset {n:?}: expected earliest, latest or a number"
                ))
            })?;
            if args.partition.is_none() {
                return Err(CliError::Usage("--offset needs --partition".into()));
            }
            if n < 0 {
                return Err(CliError::Usage(format!(
                    "--offset {n}: must not be negative"
                )));
            }
            Ok(Start::At(n))
        }
    }
}

pub fn run(args: &ConsoleConsumerArgs) -> Result<(), CliError> {
    let props = consumer_properties(args)?;
    let formatter = Formatter::from_properties(&args.property)?;
    let start = start_of(args)?;
    let include = match &args.include {
        Some(re) => Some(
            TopicPattern::new(re).map_err(|e| CliError::Usage(format!("--include {re:?}: {e}")))?,
        ),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let mut processed = 0u64;
    let result = runtime.block_on(async {
        let commits = props.get("enable.auto.commit") != Some("false");
        let finishing = match props.get("group.id").filter(|_| args.partition.is_none()) {
            Some(g) => format!(
                "{}leaving group {g} (at most {} s)",
                if commits {
                    "committing offsets and "
                } else {
                    ""
                },
                CLOSE_TIMEOUT.as_secs()
            ),
            None => "stopping".to_string(),
        };
        let interrupt = super::signals::Interrupt::install("console-consumer", finishing)
            .map_err(|e| CliError::Failed(format!("installing signal handlers: {e}")))?;
        consume(
            args,
            props,
            &formatter,
            start,
            include,
            &mut processed,
            interrupt,
        )
        .await
    });
    // Not waiting for blocking work (a name lookup) the runtime may still hold.
    runtime.shutdown_background();
    eprintln!("Processed a total of {processed} messages");
    result
}

/// How long closing may take (committing offsets, leaving the group): the Java consumer's
/// default close timeout.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

async fn consume(
    args: &ConsoleConsumerArgs,
    props: Properties,
    formatter: &Formatter,
    start: Start,
    include: Option<TopicPattern>,
    processed: &mut u64,
    mut interrupt: super::signals::Interrupt,
) -> Result<(), CliError> {
    let mut consumer = tokio::select! {
        c = open(args, props, start, include) => c?,
        // Interrupted while connecting or joining: nothing read, nothing to commit.
        _ = interrupt.received() => return Ok(()),
    };
    let result = print_records(args, &mut consumer, formatter, processed, &mut interrupt).await;
    match tokio::time::timeout(CLOSE_TIMEOUT, consumer.close()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("kfk console-consumer: committing offsets at close failed: {e}"),
        Err(_) => eprintln!(
            "kfk console-consumer: gave up closing after {} s (the group coordinator did not answer); offsets since the last commit were not committed",
            CLOSE_TIMEOUT.as_secs()
        ),
    }
    result
}

/// Connects, subscribes (or assigns) and positions the consumer.
async fn open(
    args: &ConsoleConsumerArgs,
    props: Properties,
    start: Start,
    include: Option<TopicPattern>,
) -> Result<Consumer, CliError> {
    let failed = |e: ClientError| CliError::Failed(e.to_string());
    let mut consumer = Consumer::new(&props).await.map_err(failed)?;
    if args.partition.is_none() {
        let subscription = match (&args.topic, include) {
            (Some(t), _) => Subscription::Topics(vec![t.clone()]),
            (None, Some(p)) => Subscription::Pattern(Arc::new(move |t: &str| p.matches(t))),
            (None, None) => unreachable!("clap requires --topic or --include"),
        };
        if let Subscription::Topics(t) = &subscription {
            consumer
                .cluster
                .wait_for_topic(&t[0], false, Duration::from_secs(5))
                .await
                .map_err(failed)?;
        }
        consumer.subscribe(subscription).map_err(failed)?;
    } else {
        let (Some(topic), Some(p)) = (&args.topic, args.partition) else {
            return Err(CliError::Usage("--partition needs --topic".into()));
        };
        let info = consumer
            .cluster
            .wait_for_topic(topic, false, Duration::from_secs(5))
            .await
            .map_err(failed)?;
        if !info.partitions.iter().any(|x| x.index == p) {
            return Err(CliError::Usage(format!(
                "--partition {p}: no such partition of {topic}"
            )));
        }
        let assignment: Vec<TopicPartition> = vec![(topic.clone(), p)];
        consumer.assign(assignment.clone()).await.map_err(failed)?;
        match start {
            Start::Reset => {}
            Start::Earliest => consumer.seek_to_beginning(&assignment),
            Start::Latest => consumer.seek_to_end(&assignment),
            Start::At(n) => {
                for tp in &assignment {
                    consumer.seek(tp, n);
                }
            }
        }
    }
    Ok(consumer)
}

async fn print_records(
    args: &ConsoleConsumerArgs,
    consumer: &mut Consumer,
    formatter: &Formatter,
    processed: &mut u64,
    interrupt: &mut super::signals::Interrupt,
) -> Result<(), CliError> {
    let failed = |e: ClientError| CliError::Failed(e.to_string());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(256 << 10, stdout.lock());
    let idle_limit = args.timeout_ms.map(Duration::from_millis);
    let mut last = Instant::now();
    loop {
        if args.max_messages.is_some_and(|m| *processed >= m) {
            break;
        }
        let wait = idle_limit.map_or(Duration::from_millis(1000), |l| {
            l.saturating_sub(last.elapsed())
                .max(Duration::from_millis(1))
        });
        let records = tokio::select! {
            r = consumer.poll(wait) => r.map_err(failed)?,
            _ = interrupt.received() => break,
        };
        if records.is_empty() {
            out.flush()?;
            if idle_limit.is_some_and(|l| last.elapsed() >= l) {
                break;
            }
            continue;
        }
        last = Instant::now();
        for (i, r) in records.iter().enumerate() {
            if args.max_messages.is_some_and(|m| *processed >= m) {
                // Not printed: rewind so a group commit at close does not skip them.
                let mut rewind: BTreeMap<TopicPartition, i64> = BTreeMap::new();
                for u in &records[i..] {
                    rewind
                        .entry((u.topic.clone(), u.partition))
                        .or_insert(u.offset);
                }
                for (tp, o) in rewind {
                    consumer.seek(&tp, o);
                }
                break;
            }
            formatter.write(&mut out, r)?;
            *processed += 1;
        }
        out.flush()?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatter_prints_kafkas_fields_in_kafkas_order() {
        let f = Formatter::from_properties(&[
            "print.timestamp=true".into(),
            "print.partition=true".into(),
            "print.offset=true".into(),
            "print.headers=true".into(),
            "print.key=true".into(),
        ])
        .unwrap();
        let r = ConsumerRecord {
            topic: "t".into(),
            partition: 2,
            offset: 7,
            timestamp: 99,
            log_append_time: false,
            key: None,
            value: Some("v".into()),
            headers: vec![("h".into(), Some("x".into())), ("n".into(), None)],
        };
        let mut out = Vec::new();
        f.write(&mut out, &r).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "CreateTime:99\tPartition:2\tOffset:7\th:x,n:null\tnull\tv\n"
        );
        let r2 = ConsumerRecord {
            headers: vec![],
            ..r
        };
        let mut out = Vec::new();
        Formatter::from_properties(&["print.headers=true".into()])
            .unwrap()
            .write(&mut out, &r2)
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "NO_HEADERS\tv\n");
    }
}
