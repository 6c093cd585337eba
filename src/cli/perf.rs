//! `kfk producer-perf-test` and `kfk consumer-perf-test` (Kafka's ProducerPerformance and
//! ConsumerPerformance): the same flags and the same output lines, so scripts that parse
//! Kafka's numbers parse ours.

use super::CliError;
use crate::client::consumer::{Consumer, Subscription};
use crate::client::producer::{DeliveryFuture, Producer, ProducerRecord};
use crate::client::{read_properties_file, ClientError, Properties};
use bytes::Bytes;
use clap::Args;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  kfk producer-perf-test --topic perf --num-records 1000000 --record-size 100 --throughput -1 --producer-props bootstrap.servers=localhost:9092 acks=1"
)]
pub struct ProducerPerfArgs {
    /// The topic to produce to.
    #[arg(long)]
    pub topic: String,
    /// How many records to send.
    #[arg(long, value_name = "N")]
    pub num_records: u64,
    /// Size of each record in bytes (random uppercase letters).
    #[arg(long, value_name = "BYTES", conflicts_with = "payload_file")]
    pub record_size: Option<usize>,
    /// Records are taken at random from this file's entries.
    #[arg(long, value_name = "FILE")]
    pub payload_file: Option<PathBuf>,
    /// Separates the entries of --payload-file.
    #[arg(long, value_name = "DELIM", default_value = "\\n")]
    pub payload_delimiter: String,
    /// Target records per second; -1 for no limit.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub throughput: f64,
    /// Producer properties KEY=VALUE (bootstrap.servers, acks, linger.ms, ...).
    #[arg(long, value_name = "KEY=VALUE", num_args = 1..)]
    pub producer_props: Vec<String>,
    /// A .properties file of producer properties.
    #[arg(long = "producer.config", value_name = "FILE")]
    pub producer_config: Option<PathBuf>,
    /// The broker(s) to connect to (overrides bootstrap.servers).
    #[arg(long, value_name = "SERVERS")]
    pub bootstrap_server: Option<String>,
    /// Print the producer's counters at the end.
    #[arg(long)]
    pub print_metrics: bool,
}

fn failed(e: ClientError) -> CliError {
    CliError::Failed(e.to_string())
}

fn properties(
    file: &Option<PathBuf>,
    pairs: &[String],
    flag: &str,
    bootstrap: &Option<String>,
) -> Result<Properties, CliError> {
    let mut props = Properties(match file {
        Some(f) => read_properties_file(f).map_err(|e| CliError::Usage(format!("{flag}: {e}")))?,
        None => BTreeMap::new(),
    });
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("{p:?} is not of the form KEY=VALUE")))?;
        props.set(k.trim(), v);
    }
    if let Some(b) = bootstrap {
        props.set("bootstrap.servers", b.clone());
    }
    if props.get("bootstrap.servers").is_none() {
        return Err(CliError::Usage(
            "--bootstrap-server (or bootstrap.servers in the properties) is required".into(),
        ));
    }
    Ok(props)
}

/// A small xorshift generator (the payloads only need to look random).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Kafka's `Stats`: 5 s windows, totals and a latency sample for percentiles.
struct Stats {
    start: Instant,
    count: u64,
    bytes: u64,
    max_latency: u64,
    total_latency: u64,
    sample: Vec<u32>,
    sampling: u64,
    window_start: Instant,
    window_count: u64,
    window_bytes: u64,
    window_max: u64,
    window_total: u64,
}

impl Stats {
    fn new(records: u64) -> Stats {
        let now = Instant::now();
        Stats {
            start: now,
            count: 0,
            bytes: 0,
            max_latency: 0,
            total_latency: 0,
            sample: Vec::new(),
            sampling: (records / records.clamp(1, 500_000)).max(1),
            window_start: now,
            window_count: 0,
            window_bytes: 0,
            window_max: 0,
            window_total: 0,
        }
    }

    fn record(&mut self, latency_ms: u64, bytes: usize, now: Instant) {
        if self.count.is_multiple_of(self.sampling) {
            self.sample.push(latency_ms.min(u64::from(u32::MAX)) as u32);
        }
        self.count += 1;
        self.bytes += bytes as u64;
        self.total_latency += latency_ms;
        self.max_latency = self.max_latency.max(latency_ms);
        self.window_count += 1;
        self.window_bytes += bytes as u64;
        self.window_total += latency_ms;
        self.window_max = self.window_max.max(latency_ms);
        if now.saturating_duration_since(self.window_start) >= Duration::from_secs(5) {
            self.print_window();
            self.window_start = now;
            self.window_count = 0;
            self.window_bytes = 0;
            self.window_total = 0;
            self.window_max = 0;
        }
    }

    fn print_window(&self) {
        let elapsed = self.window_start.elapsed().as_millis().max(1) as f64;
        println!(
            "{} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
            self.window_count,
            1000.0 * self.window_count as f64 / elapsed,
            1000.0 * self.window_bytes as f64 / elapsed / (1024.0 * 1024.0),
            self.window_total as f64 / self.window_count.max(1) as f64,
            self.window_max as f64
        );
    }

    fn print_total(&mut self) {
        let elapsed = self.start.elapsed().as_millis().max(1) as f64;
        self.sample.sort_unstable();
        let pct = |p: f64| -> u32 {
            if self.sample.is_empty() {
                return 0;
            }
            let i = ((p * self.sample.len() as f64) as usize).min(self.sample.len() - 1);
            self.sample[i]
        };
        println!(
            "{} records sent, {:.6} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
            self.count,
            1000.0 * self.count as f64 / elapsed,
            1000.0 * self.bytes as f64 / elapsed / (1024.0 * 1024.0),
            self.total_latency as f64 / self.count.max(1) as f64,
            self.max_latency as f64,
            pct(0.5),
            pct(0.95),
            pct(0.99),
            pct(0.999)
        );
    }
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(total: u64, what: &str) -> Progress {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
            "{what} {{bar:40}} {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})"
        )) {
            bar.set_style(style);
        }
        Progress { bar: Some(bar) }
    }

    fn set(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_position(n);
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

pub fn producer_perf(args: &ProducerPerfArgs) -> Result<(), CliError> {
    let props = properties(
        &args.producer_config,
        &args.producer_props,
        "--producer.config",
        &args.bootstrap_server,
    )?;
    crate::client::producer::ProducerConfig::from_properties(&props)
        .map_err(|e| CliError::Usage(format!("--producer-props: {e}")))?;
    let payloads: Vec<Bytes> = match (&args.payload_file, args.record_size) {
        (Some(f), _) => {
            let text = std::fs::read(f)
                .map_err(|e| CliError::Usage(format!("--payload-file {}: {e}", f.display())))?;
            let delim = args
                .payload_delimiter
                .replace("\\n", "\n")
                .replace("\\t", "\t");
            let text = String::from_utf8_lossy(&text).into_owned();
            let list: Vec<Bytes> = text
                .split(delim.as_str())
                .filter(|s| !s.is_empty())
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect();
            if list.is_empty() {
                return Err(CliError::Usage(format!(
                    "--payload-file {}: no payloads in the file",
                    f.display()
                )));
            }
            println!("Reading payloads from: {}", f.display());
            println!("Number of messages read: {}", list.len());
            list
        }
        (None, Some(size)) => {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
            let v: Vec<u8> = (0..size).map(|_| b'A' + (rng.next() % 26) as u8).collect();
            vec![Bytes::from(v)]
        }
        (None, None) => {
            return Err(CliError::Usage(
                "either --record-size or --payload-file is required".into(),
            ))
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    runtime.block_on(async {
        let producer = Producer::new(&props).await.map_err(failed)?;
        let n = args.num_records;
        let mut stats = Stats::new(n);
        let progress = Progress::new(n, "producing");
        let (mut errors, mut first_error) = (0u64, None::<String>);
        // Deliveries in send order; completed ones are taken from the front as we go (no
        // task or channel per record), so a record's latency is read within microseconds of
        // its acknowledgement unless the producer is blocked.
        let mut pending: VecDeque<(Instant, usize, DeliveryFuture)> = VecDeque::new();
        let mut settle = |r: Result<crate::client::producer::DeliveryResult, _>,
                          sent: Instant,
                          acked: Instant,
                          bytes: usize,
                          stats: &mut Stats| match r {
            Ok(Ok(_)) => {
                stats.record(
                    acked.saturating_duration_since(sent).as_millis() as u64,
                    bytes,
                    acked,
                );
                if stats.count.is_multiple_of(4096) {
                    progress.set(stats.count);
                }
            }
            Ok(Err(e)) => {
                errors += 1;
                first_error.get_or_insert(e.to_string());
            }
            Err(_) => errors += 1,
        };
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let start = Instant::now();
        let mut failure = None;
        for i in 0..n {
            let value = payloads[if payloads.len() == 1 {
                0
            } else {
                (rng.next() % payloads.len() as u64) as usize
            }]
            .clone();
            let bytes = value.len();
            let record = ProducerRecord {
                topic: args.topic.clone(),
                value: Some(value),
                ..Default::default()
            };
            // One clock read per record: this record's send time, and the time at which
            // the acknowledgements found below are read.
            let now = Instant::now();
            match producer.send(record).await {
                Ok(d) => pending.push_back((now, bytes, d)),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            while let Some((_, _, d)) = pending.front() {
                let Some(r) = d.try_result() else { break };
                let (sent, bytes, _) = pending.pop_front().expect("front exists");
                settle(Ok(r), sent, now, bytes, &mut stats);
            }
            if args.throughput > 0.0 {
                // Kafka's ThroughputThrottler: stay at or below the target rate.
                let due = Duration::from_secs_f64((i + 1) as f64 / args.throughput);
                let elapsed = start.elapsed();
                if due > elapsed {
                    tokio::time::sleep(due - elapsed).await;
                }
            }
        }
        producer.flush().await;
        for (sent, bytes, d) in pending.drain(..) {
            let r = d.await;
            settle(r.map_err(|_| ()), sent, Instant::now(), bytes, &mut stats);
        }
        progress.finish();
        stats.print_total();
        if args.print_metrics {
            println!();
            println!(
                "{:<60} : {}",
                "producer-metrics:record-send-total", stats.count
            );
            println!("{:<60} : {}", "producer-metrics:record-error-total", errors);
            println!(
                "{:<60} : {:.3}",
                "producer-metrics:record-size-avg",
                stats.bytes as f64 / stats.count.max(1) as f64
            );
        }
        producer.close().await;
        if let Some(e) = failure {
            return Err(failed(e));
        }
        if errors > 0 {
            return Err(CliError::Failed(format!(
                "{errors} records failed: {}",
                first_error.unwrap_or_default()
            )));
        }
        Ok(())
    })
}

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  kfk consumer-perf-test --bootstrap-server localhost:9092 --topic perf --messages 1000000"
)]
pub struct ConsumerPerfArgs {
    /// The broker(s) to connect to, host:port[,host:port...].
    #[arg(long, value_name = "SERVERS", visible_alias = "broker-list")]
    pub bootstrap_server: String,
    /// The topic to consume.
    #[arg(long)]
    pub topic: String,
    /// How many messages to consume.
    #[arg(long, value_name = "N")]
    pub messages: u64,
    /// The consumer group (default: perf-consumer-NNNNN).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// max.partition.fetch.bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1_048_576)]
    pub fetch_size: i32,
    /// The socket receive buffer (receive.buffer.bytes), as Kafka's tool sets it.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 2_097_152,
        allow_negative_numbers = true
    )]
    pub socket_buffer_size: i32,
    /// Start from the latest offset instead of the earliest.
    #[arg(long)]
    pub from_latest: bool,
    /// Give up when no message arrives for this long (ms).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout: u64,
    /// Print a line per reporting interval.
    #[arg(long)]
    pub show_detailed_stats: bool,
    /// The reporting interval (ms) of --show-detailed-stats.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub reporting_interval: u64,
    /// Do not print the header line.
    #[arg(long)]
    pub hide_header: bool,
    /// Consumer properties KEY=VALUE (repeatable).
    #[arg(long = "consumer-property", value_name = "KEY=VALUE")]
    pub consumer_property: Vec<String>,
    /// A .properties file of consumer properties.
    #[arg(long = "consumer.config", value_name = "FILE")]
    pub consumer_config: Option<PathBuf>,
}

fn timestamp(t: std::time::SystemTime) -> String {
    // yyyy-MM-dd HH:mm:ss:SSS (UTC), Kafka's date format.
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}:{:03}",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

pub fn consumer_perf(args: &ConsumerPerfArgs) -> Result<(), CliError> {
    let mut props = properties(
        &args.consumer_config,
        &args.consumer_property,
        "--consumer.config",
        &Some(args.bootstrap_server.clone()),
    )?;
    let group = args
        .group
        .clone()
        .unwrap_or_else(|| format!("perf-consumer-{}", crate::ids::random_below(100_000)));
    props.set("group.id", group);
    props.set("max.partition.fetch.bytes", args.fetch_size.to_string());
    props.set("receive.buffer.bytes", args.socket_buffer_size.to_string());
    props.set(
        "auto.offset.reset",
        if args.from_latest {
            "latest"
        } else {
            "earliest"
        },
    );
    if props.get("enable.auto.commit").is_none() {
        props.set("enable.auto.commit", "true");
    }
    crate::client::consumer::ConsumerConfig::from_properties(&props)
        .map_err(|e| CliError::Usage(format!("--consumer-property: {e}")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    runtime.block_on(async {
        let mut consumer = Consumer::new(&props).await.map_err(failed)?;
        consumer
            .cluster
            .wait_for_topic(&args.topic, false, Duration::from_secs(5))
            .await
            .map_err(failed)?;
        consumer
            .subscribe(Subscription::Topics(vec![args.topic.clone()]))
            .map_err(failed)?;
        let header_detailed = "time, threadId, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec";
        let header = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec";
        if !args.hide_header {
            println!(
                "{}",
                if args.show_detailed_stats {
                    header_detailed
                } else {
                    header
                }
            );
        }
        let progress = Progress::new(args.messages, "consuming");
        let start_wall = std::time::SystemTime::now();
        let start = Instant::now();
        let (mut messages, mut bytes) = (0u64, 0u64);
        let mut last = Instant::now();
        let mut first_fetch: Option<Instant> = None;
        let (mut report_at, mut report_msgs, mut report_bytes) = (Instant::now(), 0u64, 0u64);
        let interval = Duration::from_millis(args.reporting_interval.max(1));
        while messages < args.messages {
            let records = consumer
                .poll(Duration::from_millis(100))
                .await
                .map_err(failed)?;
            if records.is_empty() {
                if last.elapsed() > Duration::from_millis(args.timeout) {
                    eprintln!(
                        "WARNING: Exiting before consuming the expected number of messages: timeout ({} ms) exceeded. You can use the --timeout option to increase the timeout.",
                        args.timeout
                    );
                    break;
                }
                continue;
            }
            first_fetch.get_or_insert_with(Instant::now);
            last = Instant::now();
            for r in &records {
                if messages >= args.messages {
                    break;
                }
                messages += 1;
                bytes += (r.value.as_ref().map_or(0, Bytes::len)
                    + r.key.as_ref().map_or(0, Bytes::len)) as u64;
            }
            progress.set(messages);
            if args.show_detailed_stats && report_at.elapsed() >= interval {
                let secs = report_at.elapsed().as_secs_f64();
                let mb = bytes as f64 / (1024.0 * 1024.0);
                let window_mb = (bytes - report_bytes) as f64 / (1024.0 * 1024.0);
                let window_n = messages - report_msgs;
                println!(
                    "{}, 0, {mb:.4}, {:.4}, {messages}, {:.4}, 0, {}, {:.4}, {:.4}",
                    timestamp(std::time::SystemTime::now()),
                    window_mb / secs,
                    window_n as f64 / secs,
                    (secs * 1000.0) as u64,
                    window_mb / secs,
                    window_n as f64 / secs
                );
                (report_at, report_msgs, report_bytes) = (Instant::now(), messages, bytes);
            }
        }
        progress.finish();
        let end_wall = std::time::SystemTime::now();
        let total = start.elapsed().as_secs_f64().max(1e-9);
        let rebalance_ms = first_fetch.map_or(0, |f| (f - start).as_millis() as u64);
        let fetch_secs = first_fetch.map_or(total, |f| f.elapsed().as_secs_f64().max(1e-9));
        let mb = bytes as f64 / (1024.0 * 1024.0);
        if !args.show_detailed_stats {
            println!(
                "{}, {}, {mb:.4}, {:.4}, {messages}, {:.4}, {rebalance_ms}, {}, {:.4}, {:.4}",
                timestamp(start_wall),
                timestamp(end_wall),
                mb / total,
                messages as f64 / total,
                (fetch_secs * 1000.0) as u64,
                mb / fetch_secs,
                messages as f64 / fetch_secs
            );
        }
        let _ = consumer.close().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_use_kafkas_date_format() {
        let t = std::time::UNIX_EPOCH + Duration::from_millis(1_614_556_800_123);
        assert_eq!(timestamp(t), "2021-03-01 00:00:00:123");
    }

    #[test]
    fn percentiles_come_from_the_sorted_sample() {
        let mut s = Stats::new(1000);
        for i in 0..1000 {
            s.record(i, 10, Instant::now());
        }
        s.sample.sort_unstable();
        assert_eq!(s.sample.len(), 1000);
        assert_eq!(s.sample[500], 500);
        assert_eq!(s.max_latency, 999);
    }
}
