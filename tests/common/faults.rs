//! The fault harness's workload and checker. A workload is librdkafka (the `rdkafka` crate)
//! as an idempotent acks=all producer writing unique values, with a delivery callback per
//! record (acknowledged at partition/offset, or failed), and a consumer that reads
//! everything while the faults happen. The checker judges the recorded history against a
//! final read of every partition: acknowledged records lost, one offset holding two values,
//! duplicates, and records read during the run that later vanished.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the producer saw.
#[derive(Debug, Default, Clone)]
pub struct History {
    /// value → (partition, offset, when acknowledged).
    pub acked: BTreeMap<String, (i32, i64, Instant)>,
    /// Acknowledged by a client that tells no position per record (kcat, kfk's console
    /// producer: every record, when it exits successfully).
    pub acked_unplaced: BTreeSet<String>,
    /// value → error.
    pub failed: BTreeMap<String, String>,
    pub sent: usize,
    /// value → when it was handed to the producer.
    pub sent_at: BTreeMap<String, Instant>,
    /// (partition, offset) → value, as the concurrent consumer read it during the run.
    pub read_during: BTreeMap<(i32, i64), String>,
}

struct Recorder(Arc<Mutex<History>>);

impl ClientContext for Recorder {}

impl ProducerContext for Recorder {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let mut h = self.0.lock().unwrap();
        match result {
            // librdkafka acknowledges some records implicitly (a later sequence was
            // acknowledged) without knowing their offset (-1001): placed nowhere.
            Ok(m) if m.offset() < 0 => {
                let v = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                h.acked_unplaced.insert(v);
            }
            Ok(m) => {
                let v = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                h.acked
                    .insert(v, (m.partition(), m.offset(), Instant::now()));
            }
            Err((e, m)) => {
                let v = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                h.failed.insert(v, e.to_string());
            }
        }
    }
}

/// A running workload: a producer thread and a consumer thread.
pub struct Workload {
    history: Arc<Mutex<History>>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workload {
    /// Starts producing `v-<n>` round-robin over `partitions` of `topic` (about one record
    /// per millisecond) and consuming everything.
    pub fn start(bootstrap: &str, topic: &str, partitions: i32) -> Workload {
        Self::start_configured(bootstrap, topic, partitions, true)
    }

    /// [`Workload::start`] with librdkafka's own defaults but for idempotence and acks=all
    /// (request timeout 30 s, metadata refreshed every 5 min or on errors), as an
    /// application that tunes nothing.
    pub fn start_with_client_defaults(bootstrap: &str, topic: &str, partitions: i32) -> Workload {
        Self::start_configured(bootstrap, topic, partitions, false)
    }

    fn start_configured(bootstrap: &str, topic: &str, partitions: i32, tuned: bool) -> Workload {
        let history = Arc::new(Mutex::new(History::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", bootstrap)
            .set("enable.idempotence", "true")
            .set("acks", "all");
        if tuned {
            config
                .set("linger.ms", "2")
                .set("message.timeout.ms", "120000")
                .set("request.timeout.ms", "5000")
                .set("retry.backoff.ms", "100")
                .set("retry.backoff.max.ms", "500")
                .set("topic.metadata.refresh.interval.ms", "1000");
        }
        let producer: ThreadedProducer<Recorder> = config
            .create_with_context(Recorder(history.clone()))
            .expect("producer");
        let mut threads = Vec::new();
        {
            let (stop, history, topic) = (stop.clone(), history.clone(), topic.to_string());
            threads.push(std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Acquire) {
                    let value = format!("v-{n}");
                    let record = BaseRecord::to(&topic)
                        .payload(&value)
                        .key("")
                        .partition((n % partitions as u64) as i32);
                    let at = Instant::now();
                    if producer.send(record).is_ok() {
                        let mut h = history.lock().unwrap();
                        h.sent += 1;
                        h.sent_at.insert(value.clone(), at);
                        n += 1;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                let _ = rdkafka::producer::Producer::flush(&producer, Duration::from_secs(60));
            }));
        }
        {
            let (stop, history) = (stop.clone(), history.clone());
            let consumer = consumer(bootstrap, topic, partitions);
            threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                        let v =
                            String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                        history
                            .lock()
                            .unwrap()
                            .read_during
                            .insert((m.partition(), m.offset()), v);
                    }
                }
            }));
        }
        Workload {
            history,
            stop,
            threads,
        }
    }

    /// Acknowledgements so far.
    pub fn acked(&self) -> usize {
        self.history.lock().unwrap().acked.len()
    }

    /// One past the highest offset acknowledged on `partition` (0 for none).
    pub fn acked_end(&self, partition: i32) -> i64 {
        self.history
            .lock()
            .unwrap()
            .acked
            .values()
            .filter(|a| a.0 == partition)
            .map(|a| a.1 + 1)
            .max()
            .unwrap_or(0)
    }

    /// The latest acknowledgement of `partition`, if any.
    pub fn last_ack(&self, partition: i32) -> Option<Instant> {
        self.history
            .lock()
            .unwrap()
            .acked
            .values()
            .filter(|a| a.0 == partition)
            .map(|a| a.2)
            .max()
    }

    /// The longest time between two acknowledgements of `partition` within `from..to`.
    pub fn longest_gap(history: &History, partition: i32, from: Instant, to: Instant) -> Duration {
        let mut times: Vec<Instant> = history
            .acked
            .values()
            .filter(|a| a.0 == partition && a.2 >= from && a.2 <= to)
            .map(|a| a.2)
            .collect();
        times.sort();
        let mut gap = times.first().map_or(to - from, |t| *t - from);
        for w in times.windows(2) {
            gap = gap.max(w[1] - w[0]);
        }
        gap
    }

    /// The `q` quantile (0..1) of send-to-acknowledgement latency of the records sent
    /// within `from..to`.
    pub fn latency_quantile(history: &History, from: Instant, to: Instant, q: f64) -> Duration {
        let mut l: Vec<Duration> = history
            .acked
            .iter()
            .filter_map(|(v, a)| {
                let sent = history.sent_at.get(v)?;
                (*sent >= from && *sent <= to).then(|| a.2.saturating_duration_since(*sent))
            })
            .collect();
        l.sort();
        l.get(((l.len() as f64 - 1.0) * q).round().max(0.0) as usize)
            .copied()
            .unwrap_or_default()
    }

    /// Stops producing (flushing what is in flight) and consuming; the history.
    pub fn stop(self) -> History {
        self.stop.store(true, Ordering::Release);
        for t in self.threads {
            let _ = t.join();
        }
        let h = self.history.lock().unwrap().clone();
        h
    }
}

fn consumer(bootstrap: &str, topic: &str, partitions: i32) -> BaseConsumer {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "fault-checker")
        .set("enable.auto.commit", "false")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).expect("assign");
    consumer
}

/// Every record of `topic` up to each partition's high watermark: (partition, offset) →
/// value.
pub fn read_all(bootstrap: &str, topic: &str, partitions: i32) -> BTreeMap<(i32, i64), String> {
    let c = consumer(bootstrap, topic, partitions);
    let mut ends = BTreeMap::new();
    for p in 0..partitions {
        let (_, high) = c
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .expect("watermarks");
        ends.insert(p, high);
    }
    let mut out = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = |out: &BTreeMap<(i32, i64), String>| {
        ends.iter()
            .all(|(p, end)| *end == 0 || out.range((*p, end - 1)..=(*p, end - 1)).next().is_some())
    };
    while !done(&out) && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            let m: OwnedMessage = m.detach();
            let v = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
            out.insert((m.partition(), m.offset()), v);
        }
    }
    out
}

/// What a fresh consumer read back of one partition: the high watermark it asked for
/// (ListOffsets latest, before reading) and what it got below it.
#[derive(Debug, Default, Clone)]
pub struct PartitionReadBack {
    pub high_watermark: i64,
    pub read: usize,
    /// The highest offset read, -1 for none.
    pub last_offset: i64,
}

/// A read-back as a separate client does it: a fresh consumer asks each partition's high
/// watermark (ListOffsets latest) once the producer has stopped, then reads every partition
/// from offset 0 until it has the record just below it, or `timeout` passes. No replica file
/// is looked at. Consumer errors (fetch errors, offset resets) are kept to explain a stall.
pub struct ReadBack {
    pub records: BTreeMap<(i32, i64), String>,
    pub partitions: BTreeMap<i32, PartitionReadBack>,
    pub errors: Vec<String>,
    pub took: Duration,
}

pub fn read_back(bootstrap: &str, topic: &str, partitions: i32, timeout: Duration) -> ReadBack {
    let started = Instant::now();
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("read-back-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        // An out-of-range offset must show, not silently jump to the end.
        .set("auto.offset.reset", "error")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .create()
        .expect("consumer");
    let mut per: BTreeMap<i32, PartitionReadBack> = BTreeMap::new();
    let mut errors = Vec::new();
    for p in 0..partitions {
        let high = loop {
            match c.fetch_watermarks(topic, p, Duration::from_secs(10)) {
                Ok((_, high)) => break high,
                Err(e) if started.elapsed() < timeout => {
                    errors.push(format!("partition {p}: ListOffsets: {e}"));
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("partition {p}: no high watermark within {timeout:?}: {e}"),
            }
        };
        per.insert(
            p,
            PartitionReadBack {
                high_watermark: high,
                last_offset: -1,
                ..Default::default()
            },
        );
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Offset(0))
            .unwrap();
    }
    c.assign(&tpl).expect("assign");
    let mut records = BTreeMap::new();
    let done = |per: &BTreeMap<i32, PartitionReadBack>| {
        per.values().all(|r| r.last_offset >= r.high_watermark - 1)
    };
    while !done(&per) && started.elapsed() < timeout {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let m: OwnedMessage = m.detach();
                let v = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                if let Some(r) = per.get_mut(&m.partition()) {
                    if m.offset() < r.high_watermark {
                        r.read += 1;
                    }
                    r.last_offset = r.last_offset.max(m.offset());
                }
                records.insert((m.partition(), m.offset()), v);
            }
            Some(Err(e)) if errors.len() < 100 => errors.push(format!("{e}")),
            _ => {}
        }
    }
    ReadBack {
        records,
        partitions: per,
        errors,
        took: started.elapsed(),
    }
}

impl ReadBack {
    /// One line per partition: the high watermark read to, records read below it, and the
    /// producer's acknowledgements there (count and highest offset).
    pub fn per_partition(&self, history: &History) -> String {
        let mut out = String::new();
        for (p, r) in &self.partitions {
            let acked: Vec<i64> = history
                .acked
                .values()
                .filter(|a| a.0 == *p)
                .map(|a| a.1)
                .collect();
            let lost = history
                .acked
                .iter()
                .filter(|(v, a)| a.0 == *p && self.records.get(&(a.0, a.1)) != Some(*v))
                .count();
            out.push_str(&format!(
                "\n  partition {p}: high watermark {}, read {} (last offset {}), acknowledged {} (highest offset {}), not read back {lost}",
                r.high_watermark,
                r.read,
                r.last_offset,
                acked.len(),
                acked.iter().max().copied().unwrap_or(-1),
            ));
        }
        out
    }
}

/// The checker's verdict.
#[derive(Debug, Default)]
pub struct Report {
    pub sent: usize,
    pub acked: usize,
    pub failed: usize,
    pub read: usize,
    /// Acknowledged values absent from the final read.
    pub lost: Vec<String>,
    /// Offsets whose value differs from the acknowledged one (or from what was read there
    /// during the run).
    pub inconsistent: Vec<(i32, i64)>,
    /// Values read at more than one offset.
    pub duplicates: Vec<String>,
    /// Read during the run, gone from the final read.
    pub vanished: Vec<(i32, i64)>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.lost.is_empty()
            && self.inconsistent.is_empty()
            && self.duplicates.is_empty()
            && self.vanished.is_empty()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "checker: sent {}, acknowledged {}, failed {}, read {}; lost {}, inconsistent offsets {}, duplicates {}, vanished {}",
            self.sent,
            self.acked,
            self.failed,
            self.read,
            self.lost.len(),
            self.inconsistent.len(),
            self.duplicates.len(),
            self.vanished.len()
        )?;
        for (what, list) in [
            (
                "lost",
                format!("{:?}", self.lost.iter().take(10).collect::<Vec<_>>()),
            ),
            (
                "inconsistent",
                format!(
                    "{:?}",
                    self.inconsistent.iter().take(10).collect::<Vec<_>>()
                ),
            ),
            (
                "duplicates",
                format!("{:?}", self.duplicates.iter().take(10).collect::<Vec<_>>()),
            ),
            (
                "vanished",
                format!("{:?}", self.vanished.iter().take(10).collect::<Vec<_>>()),
            ),
        ] {
            if list != "[]" {
                write!(f, "\n  {what} (first 10): {list}")?;
            }
        }
        Ok(())
    }
}

/// Judges `history` against `final_read`.
pub fn check(history: &History, final_read: &BTreeMap<(i32, i64), String>) -> Report {
    let mut report = Report {
        sent: history.sent,
        acked: history.acked.len() + history.acked_unplaced.len(),
        failed: history.failed.len(),
        read: final_read.len(),
        ..Default::default()
    };
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for v in final_read.values() {
        *seen.entry(v.as_str()).or_default() += 1;
    }
    report.duplicates = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(v, _)| v.to_string())
        .collect();
    for (v, (p, o, _)) in &history.acked {
        match final_read.get(&(*p, *o)) {
            Some(got) if got == v => {}
            Some(_) => report.inconsistent.push((*p, *o)),
            None if seen.contains_key(v.as_str()) => report.inconsistent.push((*p, *o)),
            None => report.lost.push(v.clone()),
        }
    }
    for v in &history.acked_unplaced {
        if !seen.contains_key(v.as_str()) {
            report.lost.push(v.clone());
        }
    }
    let inconsistent: BTreeSet<(i32, i64)> = report.inconsistent.iter().copied().collect();
    for ((p, o), v) in &history.read_during {
        match final_read.get(&(*p, *o)) {
            Some(got) if got == v => {}
            Some(_) if !inconsistent.contains(&(*p, *o)) => report.inconsistent.push((*p, *o)),
            Some(_) => {}
            None => report.vanished.push((*p, *o)),
        }
    }
    report
}

/// A third-party producer as a workload: a process fed one unique value per line on stdin
/// (about one every `every`), producing it with key = value. Clients that print
/// `ACK value partition offset` / `FAIL value error` per record ([`Ack::PerRecord`]: the Java
/// client, kafka-python) are recorded as they answer; for the others ([`Ack::OnExit`]: kcat,
/// kfk's console producer) a successful exit acknowledges every line.
pub struct ExternalProducer {
    pub name: String,
    child: std::process::Child,
    history: Arc<Mutex<History>>,
    stop: Arc<AtomicBool>,
    feeder: Option<std::thread::JoinHandle<()>>,
    reader: Option<std::thread::JoinHandle<()>>,
    stderr: Arc<Mutex<Vec<String>>>,
    ack: Ack,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    PerRecord,
    OnExit,
    /// Kafka's `kafka-verifiable-producer`: makes its own values and prints a JSON line per
    /// record (`producer_send_success` with partition and offset, or `producer_send_error`);
    /// runs until SIGTERM, when it flushes and exits.
    Verifiable,
}

impl ExternalProducer {
    /// Starts `cmd`, feeding it `<prefix>-<n>` lines (`<prefix>-<n><sep><prefix>-<n>` with
    /// `key_separator`, for clients that parse a key from the line).
    pub fn start(
        name: &str,
        mut cmd: std::process::Command,
        prefix: &str,
        key_separator: Option<&str>,
        ack: Ack,
        every: Duration,
    ) -> ExternalProducer {
        use std::io::{BufRead, Write};
        use std::process::Stdio;
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let history = Arc::new(Mutex::new(History::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut stdin = child.stdin.take().expect("stdin");
        let feeder = (ack != Ack::Verifiable).then(|| {
            let (stop, history, prefix) = (stop.clone(), history.clone(), prefix.to_string());
            let sep = key_separator.map(str::to_string);
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Acquire) {
                    let value = format!("{prefix}-{n}");
                    let line = match &sep {
                        Some(sep) => format!("{value}{sep}{value}\n"),
                        None => format!("{value}\n"),
                    };
                    let at = Instant::now();
                    if stdin.write_all(line.as_bytes()).is_err() || stdin.flush().is_err() {
                        break;
                    }
                    let mut h = history.lock().unwrap();
                    h.sent += 1;
                    h.sent_at.insert(value, at);
                    drop(h);
                    n += 1;
                    std::thread::sleep(every);
                }
                // Dropping stdin ends the client's input: it flushes and exits.
            })
        });
        let stdout = child.stdout.take().expect("stdout");
        let reader = {
            let history = history.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                {
                    let mut h = history.lock().unwrap();
                    if line.starts_with('{') {
                        record_verifiable(&mut h, &line);
                        continue;
                    }
                    let f: Vec<&str> = line.splitn(4, ' ').collect();
                    match f.as_slice() {
                        ["ACK", v, p, o] => {
                            if let (Ok(p), Ok(o)) = (p.parse(), o.parse()) {
                                h.acked.insert(v.to_string(), (p, o, Instant::now()));
                            }
                        }
                        ["FAIL", v, rest @ ..] => {
                            h.failed.insert(v.to_string(), rest.join(" "));
                        }
                        _ => {}
                    }
                }
            })
        };
        let stderr = Arc::new(Mutex::new(Vec::new()));
        {
            let (pipe, sink) = (child.stderr.take().expect("stderr"), stderr.clone());
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
        }
        ExternalProducer {
            name: name.to_string(),
            child,
            history,
            stop,
            feeder,
            reader: Some(reader),
            stderr,
            ack,
        }
    }

    /// Acknowledgements so far (per-record clients) or lines sent (the others).
    pub fn progress(&self) -> usize {
        let h = self.history.lock().unwrap();
        match self.ack {
            Ack::PerRecord | Ack::Verifiable => h.acked.len(),
            Ack::OnExit => h.sent,
        }
    }

    /// The latest acknowledgement of `partition` (per-record clients).
    pub fn last_ack(&self, partition: i32) -> Option<Instant> {
        self.history
            .lock()
            .unwrap()
            .acked
            .values()
            .filter(|a| a.0 == partition)
            .map(|a| a.2)
            .max()
    }

    /// The first acknowledgement of `partition` after `t` (per-record clients).
    pub fn first_ack_after(&self, partition: i32, t: Instant) -> Option<Instant> {
        self.history
            .lock()
            .unwrap()
            .acked
            .values()
            .filter(|a| a.0 == partition && a.2 > t)
            .map(|a| a.2)
            .min()
    }

    /// Ends the input and waits (up to `timeout`) for the client to deliver what it holds
    /// and exit: the history. Panics when the client fails or does not exit.
    pub fn stop(mut self, timeout: Duration) -> History {
        self.stop.store(true, Ordering::Release);
        match self.feeder.take() {
            Some(f) => {
                let _ = f.join();
            }
            // SAFETY: signalling our own child process.
            None => unsafe {
                libc::kill(self.child.id() as i32, libc::SIGTERM);
            },
        }
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "{} did not exit within {timeout:?} after its input ended:\n{}",
                    self.name,
                    self.stderr_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        // The JVM exits 143 after SIGTERM (its shutdown hook flushed the producer).
        let stopped = self.ack == Ack::Verifiable && status.code() == Some(143);
        assert!(
            status.success() || stopped,
            "{} failed ({status}):\n{}",
            self.name,
            self.stderr_tail()
        );
        let mut h = self.history.lock().unwrap().clone();
        if self.ack == Ack::OnExit {
            h.acked_unplaced = h.sent_at.keys().cloned().collect();
        }
        if self.ack == Ack::Verifiable {
            h.sent = h.acked.len() + h.failed.len();
        }
        h
    }

    pub fn stderr_tail(&self) -> String {
        let e = self.stderr.lock().unwrap();
        e[e.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for ExternalProducer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One JSON line of `kafka-verifiable-producer` into `h`.
fn record_verifiable(h: &mut History, line: &str) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
        return;
    };
    let value = v["value"].as_str().unwrap_or_default().to_string();
    match v["name"].as_str() {
        Some("producer_send_success") => {
            let (p, o) = (v["partition"].as_i64(), v["offset"].as_i64());
            if let (Some(p), Some(o)) = (p, o) {
                h.acked.insert(value, (p as i32, o, Instant::now()));
            }
        }
        Some("producer_send_error") => {
            h.failed
                .insert(value, v["message"].as_str().unwrap_or_default().to_string());
        }
        _ => {}
    }
}

/// Kafka's `kafka-verifiable-consumer` (reference jars) as a group member reading a topic
/// from the start while the faults happen (`--verbose`: a `record_data` JSON line per
/// record). What it read is judged like the harness's own concurrent consumer: every offset
/// it read must hold the same value in the final read, and it must have read all of it.
pub struct VerifiableConsumer {
    child: std::process::Child,
    read: Arc<Mutex<VerifiableRead>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

/// What the verifiable consumer reported.
#[derive(Debug, Default)]
pub struct VerifiableRead {
    /// (partition, offset) → value, first read.
    pub records: BTreeMap<(i32, i64), String>,
    /// Offsets read again with another value.
    pub conflicts: Vec<(i32, i64)>,
    /// Records delivered again (a rebalance or a coordinator move re-reads from the last
    /// commit: at-least-once, allowed).
    pub redelivered: usize,
    pub commits_ok: usize,
    pub commits_failed: usize,
    pub rebalances: usize,
}

impl VerifiableConsumer {
    pub fn start(mut cmd: std::process::Command) -> VerifiableConsumer {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start kafka-verifiable-consumer: {e}"));
        let read = Arc::new(Mutex::new(VerifiableRead::default()));
        let (stdout, sink) = (child.stdout.take().expect("stdout"), read.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let mut r = sink.lock().unwrap();
                match v["name"].as_str() {
                    Some("record_data") => {
                        let (Some(p), Some(o)) = (v["partition"].as_i64(), v["offset"].as_i64())
                        else {
                            continue;
                        };
                        let value = v["value"].as_str().unwrap_or_default().to_string();
                        let at = (p as i32, o);
                        match r.records.get(&at) {
                            None => {
                                r.records.insert(at, value);
                            }
                            Some(old) if *old == value => r.redelivered += 1,
                            Some(_) => r.conflicts.push(at),
                        }
                    }
                    Some("offsets_committed") => {
                        if v["success"].as_bool() == Some(true) {
                            r.commits_ok += 1;
                        } else {
                            r.commits_failed += 1;
                        }
                    }
                    Some("partitions_assigned") => r.rebalances += 1,
                    _ => {}
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (pipe, sink) = (child.stderr.take().expect("stderr"), stderr.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        VerifiableConsumer {
            child,
            read,
            stderr,
        }
    }

    /// Records read so far.
    pub fn read(&self) -> usize {
        self.read.lock().unwrap().records.len()
    }

    /// Waits up to `timeout` until it has read every offset of `final_read`, then stops it
    /// (SIGTERM: it commits and leaves the group) and judges what it read against
    /// `final_read`.
    pub fn finish(
        mut self,
        final_read: &BTreeMap<(i32, i64), String>,
        timeout: Duration,
    ) -> VerifiableReport {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let r = self.read.lock().unwrap();
            if final_read.keys().all(|k| r.records.contains_key(k)) {
                break;
            }
            drop(r);
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let r = self.read.lock().unwrap();
        let as_history = History {
            read_during: r.records.clone(),
            ..Default::default()
        };
        let judged = check(&as_history, final_read);
        VerifiableReport {
            read: r.records.len(),
            missed: final_read
                .keys()
                .filter(|k| !r.records.contains_key(k))
                .count(),
            inconsistent: judged.inconsistent.len() + r.conflicts.len(),
            vanished: judged.vanished.len(),
            redelivered: r.redelivered,
            commits_ok: r.commits_ok,
            commits_failed: r.commits_failed,
            rebalances: r.rebalances,
            stderr: {
                let e = self.stderr.lock().unwrap();
                e[e.len().saturating_sub(20)..].join("\n")
            },
        }
    }
}

impl Drop for VerifiableConsumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The verifiable consumer's verdict.
#[derive(Debug)]
pub struct VerifiableReport {
    pub read: usize,
    /// Offsets of the final read it never read.
    pub missed: usize,
    /// Offsets it read with a value other than the final one (or two values).
    pub inconsistent: usize,
    /// Offsets it read that are gone from the final read.
    pub vanished: usize,
    pub redelivered: usize,
    pub commits_ok: usize,
    pub commits_failed: usize,
    pub rebalances: usize,
    pub stderr: String,
}

impl VerifiableReport {
    pub fn is_clean(&self) -> bool {
        self.missed == 0 && self.inconsistent == 0 && self.vanished == 0
    }
}

impl std::fmt::Display for VerifiableReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "kafka-verifiable-consumer: read {} offsets ({} redelivered after rebalances, {} assignments, commits {} ok / {} failed); missed {}, inconsistent {}, vanished {}",
            self.read,
            self.redelivered,
            self.rebalances,
            self.commits_ok,
            self.commits_failed,
            self.missed,
            self.inconsistent,
            self.vanished
        )
    }
}
