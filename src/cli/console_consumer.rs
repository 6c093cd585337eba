//! `kfk console-consumer` (kafka-console-consumer): prints records of a topic (or of topics
//! matching `--include`) with Kafka's `DefaultMessageFormatter` properties and field order.
//! Prints `Processed a total of N messages` on stderr at exit; a closed stdout (`| head`)
//! ends it quietly with exit 0. Without `--partition` it joins a consumer group: `--group`, or
//! a generated `console-consumer-NNNNN` group with auto-commit off (as Kafka does); with
//! `--partition` it reads that partition directly. SIGINT/SIGTERM close the consumer
//! cleanly (commit, LeaveGroup).

use super::message_formatter::{Deserializer, FormatError, Formatter, FormatterKind};
use super::CliError;
use crate::client::consumer::{Consumer, Subscription, TopicPartition};
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
    /// A consumer property KEY=VALUE (repeatable; --consumer-property is Kafka's older name).
    #[arg(
        long = "command-property",
        visible_alias = "consumer-property",
        value_name = "KEY=VALUE"
    )]
    pub consumer_property: Vec<String>,
    /// A .properties file of consumer properties (--consumer.config is Kafka's older name).
    #[arg(
        long = "command-config",
        visible_alias = "consumer.config",
        value_name = "FILE"
    )]
    pub consumer_config: Option<PathBuf>,
    /// A formatter property KEY=VALUE (repeatable): print.timestamp, print.partition,
    /// print.offset, print.headers, print.key, print.value, key.separator, line.separator,
    /// headers.separator, null.literal.
    /// (--property is Kafka's older name.)
    #[arg(
        long = "formatter-property",
        visible_alias = "property",
        value_name = "KEY=VALUE"
    )]
    pub property: Vec<String>,
    /// Skip records that cannot be printed (a deserializer refuses them) instead of stopping.
    #[arg(long)]
    pub skip_message_on_error: bool,
    /// The formatter, by Kafka class name: org.apache.kafka.tools.consumer.
    /// DefaultMessageFormatter (default), LoggingMessageFormatter (also logs each record at
    /// info level) or NoOpMessageFormatter (prints nothing); kafka.tools.* names too.
    #[arg(long, value_name = "CLASS")]
    pub formatter: Option<String>,
    /// A .properties file of formatter properties (--property wins over it).
    #[arg(long = "formatter-config", value_name = "FILE")]
    pub formatter_config: Option<PathBuf>,
    /// How keys print, by Kafka deserializer class name: org.apache.kafka.common.
    /// serialization.StringDeserializer, ByteArrayDeserializer (default), ShortDeserializer,
    /// IntegerDeserializer, LongDeserializer, FloatDeserializer, DoubleDeserializer,
    /// UUIDDeserializer or VoidDeserializer.
    #[arg(long, value_name = "CLASS")]
    pub key_deserializer: Option<String>,
    /// How values print (the classes of --key-deserializer).
    #[arg(long, value_name = "CLASS")]
    pub value_deserializer: Option<String>,
}

/// The formatter the flags ask for: `--formatter`, configured from `--formatter-config`, then
/// `--property`, then `--key-deserializer` / `--value-deserializer`.
fn formatter_of(args: &ConsoleConsumerArgs) -> Result<Formatter, CliError> {
    let kind = match &args.formatter {
        Some(class) => FormatterKind::parse(class)?,
        None => FormatterKind::Default,
    };
    let mut pairs: Vec<String> = match &args.formatter_config {
        Some(file) => read_properties_file(file)
            .map_err(|e| CliError::Usage(format!("--formatter-config: {e}")))?
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        None => Vec::new(),
    };
    pairs.extend(args.property.iter().cloned());
    let mut f = Formatter::from_properties(kind, &pairs)?;
    if let Some(class) = &args.key_deserializer {
        f.key_deserializer = Deserializer::parse("--key-deserializer", class)?;
    }
    if let Some(class) = &args.value_deserializer {
        f.value_deserializer = Deserializer::parse("--value-deserializer", class)?;
    }
    Ok(f)
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
    super::warn_deprecated_flags(
        "Option ",
        &[
            ("--consumer-property", "--command-property"),
            ("--consumer.config", "--command-config"),
            ("--property", "--formatter-property"),
        ],
    );
    let props = consumer_properties(args)?;
    let formatter = formatter_of(args)?;
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
            *processed += 1;
            match formatter.write(&mut out, r) {
                Ok(()) => {}
                Err(FormatError::Io(e)) => return Err(e.into()),
                Err(FormatError::Deserialize(why)) if args.skip_message_on_error => {
                    eprintln!(
                        "kfk console-consumer: skipping offset {} of {}-{}: {why}",
                        r.offset, r.topic, r.partition
                    );
                }
                Err(FormatError::Deserialize(why)) => {
                    out.flush()?;
                    return Err(CliError::Failed(format!(
                        "offset {} of {}-{}: {why} (--skip-message-on-error skips such records)",
                        r.offset, r.topic, r.partition
                    )));
                }
            }
        }
        out.flush()?;
    }
    out.flush()?;
    Ok(())
}
