//! Metrics for operators: a Prometheus text endpoint (`GET /metrics`) on
//! `kfk.metrics.listener` (`host:port`; off when empty). Every metric Kafka also has carries
//! the name the Prometheus JMX exporter's usual Kafka rules (`kafka-2_0_0.yml`,
//! `lowercaseOutputName: true`) give Kafka's JMX bean, so existing dashboards and alerts work:
//! `kafka.controller:type=KafkaController,name=ActiveBrokerCount` is
//! `kafka_controller_kafkacontroller_activebrokercount`, a `...PerSec` meter's count is
//! `kafka_<domain>_<type>_<name>_total`, a request histogram is
//! `kafka_network_requestmetrics_<name>{request,quantile}` with `..._count`, the socket
//! server's per-listener metrics `kafka_server_socket_server_metrics_*`, the process's the
//! exporter's own `process_*`. Figures only kfk has are named `kfk_*`. The README lists them.
//!
//! kfk has no separate network threads and request handler pool: both kinds of work run on
//! the tokio workers, so the network processor and request handler idle ratios are one figure,
//! the workers' idle share since the previous scrape.

use super::Broker;
use crate::replication::partition::Role;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub request: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestVersionLabels {
    request: &'static str,
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    request: &'static str,
    error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QuantileLabels {
    request: &'static str,
    quantile: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabels {
    pub topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    topic: String,
    partition: String,
}

/// Label names as the exporter's rules write them (`clientId`, `networkProcessor`).
#[allow(non_snake_case)]
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FetcherLabels {
    clientId: String,
    topic: String,
    partition: String,
}

#[allow(non_snake_case)]
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientIdLabel {
    clientId: String,
}

#[allow(non_snake_case)]
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: String,
    networkProcessor: &'static str,
}

/// One listener's connections: open now, accepted so far.
#[derive(Debug, Default)]
struct ListenerConnections {
    open: Arc<std::sync::atomic::AtomicI64>,
    created: u64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    group: String,
    topic: String,
    partition: String,
}

/// Kafka's request-time percentiles (Yammer histograms' 50th .. 999th).
const QUANTILES: [(f64, &str); 6] = [
    (0.50, "0.50"),
    (0.75, "0.75"),
    (0.95, "0.95"),
    (0.98, "0.98"),
    (0.99, "0.99"),
    (0.999, "0.999"),
];

/// Exponential bucket bounds in ms: 0.1 ms doubling up to ~14 minutes.
const BUCKETS: usize = 24;

/// A latency distribution whose percentiles are read at scrape time: counts per exponential
/// bucket (a percentile is its bucket's upper bound).
#[derive(Debug, Default)]
struct Latency {
    buckets: [AtomicU64; BUCKETS + 1],
    count: AtomicU64,
}

impl Latency {
    fn bound_ms(i: usize) -> f64 {
        0.1 * f64::from(1u32 << i.min(30))
    }

    fn observe(&self, ms: f64) {
        let i = (0..BUCKETS)
            .find(|i| ms <= Self::bound_ms(*i))
            .unwrap_or(BUCKETS);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn quantile(&self, q: f64) -> f64 {
        let total = self.count();
        if total == 0 {
            return 0.0;
        }
        let rank = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                return Self::bound_ms(i.min(BUCKETS - 1));
            }
        }
        Self::bound_ms(BUCKETS - 1)
    }
}

/// What the previous scrape saw, for the figures that are rates over the time between two.
#[derive(Debug)]
struct LastScrape {
    at: Instant,
    busy: Duration,
    connections_created: HashMap<String, u64>,
}

/// The counters the broker updates as it serves.
pub struct BrokerMetrics {
    requests: Family<RequestVersionLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    total_time: Mutex<HashMap<&'static str, Arc<Latency>>>,
    queue_time: Mutex<HashMap<&'static str, Arc<Latency>>>,
    pub bytes_in: Family<TopicLabels, Counter>,
    pub bytes_out: Family<TopicLabels, Counter>,
    pub messages_in: Family<TopicLabels, Counter>,
    failed_produce: Family<TopicLabels, Counter>,
    failed_fetch: Family<TopicLabels, Counter>,
    /// ISR changes this broker's leaderships got through the controller.
    pub isr_shrinks: Counter,
    pub isr_expands: Counter,
    connections: Mutex<HashMap<String, ListenerConnections>>,
    last_scrape: Mutex<Option<LastScrape>>,
}

impl std::fmt::Debug for BrokerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BrokerMetrics")
    }
}

impl Default for BrokerMetrics {
    fn default() -> Self {
        BrokerMetrics {
            requests: Family::default(),
            errors: Family::default(),
            total_time: Mutex::new(HashMap::new()),
            queue_time: Mutex::new(HashMap::new()),
            bytes_in: Family::default(),
            bytes_out: Family::default(),
            messages_in: Family::default(),
            failed_produce: Family::default(),
            failed_fetch: Family::default(),
            isr_shrinks: Counter::default(),
            isr_expands: Counter::default(),
            connections: Mutex::new(HashMap::new()),
            last_scrape: Mutex::new(None),
        }
    }
}

fn latency_of(map: &Mutex<HashMap<&'static str, Arc<Latency>>>, api: &'static str) -> Arc<Latency> {
    map.lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(api)
        .or_default()
        .clone()
}

impl BrokerMetrics {
    /// One request of `api` at `version`: how long it waited before a handler took it and
    /// how long it took, in ms.
    pub fn request(&self, api: &'static str, version: i16, queue_ms: f64, total_ms: f64) {
        self.requests
            .get_or_create(&RequestVersionLabels {
                request: api,
                version: version.to_string(),
            })
            .inc();
        latency_of(&self.total_time, api).observe(total_ms);
        latency_of(&self.queue_time, api).observe(queue_ms);
    }

    /// The error codes a response of `api` carries (NONE included, as Kafka counts them);
    /// produce and fetch errors also per topic.
    pub fn response(
        &self,
        api: &'static str,
        body: &crate::protocol::ResponseBody,
        topic_of: impl Fn(&crate::protocol::Uuid) -> Option<String>,
    ) {
        use crate::protocol::{ErrorCode, ResponseBody as R};
        let count = |code: i16| {
            self.errors
                .get_or_create(&ErrorLabels {
                    request: api,
                    error: ErrorCode(code).name(),
                })
                .inc();
        };
        let failed = |family: &Family<TopicLabels, Counter>, topic: String| {
            family.get_or_create(&TopicLabels { topic }).inc();
        };
        match body {
            R::Produce(r) => {
                for t in &r.responses {
                    for p in &t.partition_responses {
                        count(p.error_code);
                        if p.error_code != 0 {
                            failed(&self.failed_produce, t.name.clone());
                        }
                    }
                }
            }
            R::Fetch(r) => {
                count(r.error_code);
                for t in &r.responses {
                    for p in &t.partitions {
                        count(p.error_code);
                        if p.error_code != 0 {
                            let topic = if t.topic.is_empty() {
                                topic_of(&t.topic_id).unwrap_or_default()
                            } else {
                                t.topic.clone()
                            };
                            failed(&self.failed_fetch, topic);
                        }
                    }
                }
            }
            R::ListOffsets(r) => r
                .topics
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| count(p.error_code)),
            R::Metadata(r) => r.topics.iter().for_each(|t| count(t.error_code)),
            R::OffsetCommit(r) => r
                .topics
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| count(p.error_code)),
            R::FindCoordinator(r) if r.coordinators.is_empty() => count(r.error_code),
            R::FindCoordinator(r) => r.coordinators.iter().for_each(|c| count(c.error_code)),
            R::JoinGroup(r) => count(r.error_code),
            R::SyncGroup(r) => count(r.error_code),
            R::Heartbeat(r) => count(r.error_code),
            R::LeaveGroup(r) => count(r.error_code),
            R::InitProducerId(r) => count(r.error_code),
            R::ApiVersions(r) => count(r.error_code),
            R::CreateTopics(r) => r.topics.iter().for_each(|t| count(t.error_code)),
            _ => {}
        }
    }

    pub fn bytes_in(&self, topic: &str, bytes: u64, records: u64) {
        let l = TopicLabels {
            topic: topic.to_string(),
        };
        self.bytes_in.get_or_create(&l).inc_by(bytes);
        self.messages_in.get_or_create(&l).inc_by(records);
    }

    pub fn bytes_out(&self, topic: &str, bytes: u64) {
        self.bytes_out
            .get_or_create(&TopicLabels {
                topic: topic.to_string(),
            })
            .inc_by(bytes);
    }

    /// A connection accepted on `listener`; the returned guard counts it open until dropped.
    pub fn connection_opened(&self, listener: &str) -> ConnectionGuard {
        let mut all = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        let l = all.entry(listener.to_string()).or_default();
        l.created += 1;
        l.open.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(l.open.clone())
    }

    /// `listener → (open, accepted so far)`.
    fn connection_counts(&self) -> HashMap<String, (i64, u64)> {
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(l, c)| (l.clone(), (c.open.load(Ordering::Relaxed), c.created)))
            .collect()
    }
}

/// An open connection, counted in `connection_count` while it lives.
pub struct ConnectionGuard(Arc<std::sync::atomic::AtomicI64>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

fn gauge_f64(registry: &mut Registry, name: &str, help: &str, value: f64) {
    let g: Gauge<f64, AtomicU64> = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

/// The tokio workers' busy time so far and how many there are (the runtime the broker runs
/// on); read on a worker before rendering.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuntimeLoad {
    pub busy: Duration,
    pub workers: usize,
}

impl RuntimeLoad {
    pub fn current() -> RuntimeLoad {
        let m = tokio::runtime::Handle::current().metrics();
        let workers = m.num_workers();
        RuntimeLoad {
            busy: (0..workers).map(|w| m.worker_total_busy_duration(w)).sum(),
            workers,
        }
    }
}

/// The process's own figures, as the JMX exporter's `process_*` collector reports them.
struct ProcessStats {
    cpu_seconds: f64,
    resident_bytes: f64,
    open_fds: f64,
    max_fds: f64,
    start_time_seconds: f64,
}

fn process_stats() -> ProcessStats {
    // SAFETY: sysconf only reads a system constant.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK).max(1) as f64,
            libc::sysconf(libc::_SC_PAGESIZE).max(1) as f64,
        )
    };
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let field = |n: usize| -> f64 {
        fields
            .get(n - 3)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let boot_time = std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    let resident_pages = std::fs::read_to_string("/proc/self/statm")
        .unwrap_or_default()
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()) as f64;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we pass.
    let max_fds = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur as f64
    } else {
        0.0
    };
    ProcessStats {
        cpu_seconds: (field(14) + field(15)) / ticks,
        resident_bytes: resident_pages * page,
        open_fds,
        max_fds,
        start_time_seconds: boot_time + field(22) / ticks,
    }
}

/// The whole text exposition, read at scrape time; `load` is the runtime's busy time now.
/// High watermarks of partitions led elsewhere, for the consumer lag: `(topic, partition)`
/// to the leader's answer.
pub type RemoteEnds = HashMap<(String, i32), i64>;

pub fn render(broker: &Broker, load: RuntimeLoad, remote: &RemoteEnds) -> String {
    let m = &broker.metrics;
    let mut r = Registry::default();
    requests(&mut r, m);
    topics(&mut r, m);
    controller(&mut r, broker);
    network(&mut r, m, load);
    let process = process_stats();
    let cpu: Counter<f64, AtomicU64> = Counter::default();
    cpu.inc_by(process.cpu_seconds);
    r.register(
        "process_cpu_seconds",
        "Process CPU time (user + system) in seconds",
        cpu,
    );
    gauge_f64(
        &mut r,
        "process_resident_memory_bytes",
        "Resident memory in bytes",
        process.resident_bytes,
    );
    gauge_f64(
        &mut r,
        "process_open_fds",
        "Open file descriptors",
        process.open_fds,
    );
    gauge_f64(
        &mut r,
        "process_max_fds",
        "The open file descriptors limit",
        process.max_fds,
    );
    gauge_f64(
        &mut r,
        "process_start_time_seconds",
        "Start time since the Unix epoch in seconds",
        process.start_time_seconds,
    );
    replication(&mut r, broker);
    logs(&mut r, broker);
    groups(&mut r, broker, remote);
    let mut out = String::new();
    if encode(&mut out, &r).is_err() {
        out.clear();
    }
    out
}

fn requests(r: &mut Registry, m: &BrokerMetrics) {
    r.register(
        "kafka_network_requestmetrics_requests",
        "Requests served, per API and version (RequestsPerSec)",
        m.requests.clone(),
    );
    r.register(
        "kafka_network_requestmetrics_errors",
        "Error codes in responses, per API and error, NONE included (ErrorsPerSec)",
        m.errors.clone(),
    );
    for (name, help, map) in [
        (
            "kafka_network_requestmetrics_totaltimems",
            "Time to serve a request, per API, in ms (TotalTimeMs percentiles)",
            &m.total_time,
        ),
        (
            "kafka_network_requestmetrics_requestqueuetimems",
            "Time a request waited before a handler took it, per API, in ms (RequestQueueTimeMs percentiles)",
            &m.queue_time,
        ),
    ] {
        let quantiles: Family<QuantileLabels, Gauge<f64, AtomicU64>> = Family::default();
        let counts: Family<RequestLabels, Gauge> = Family::default();
        for (api, latency) in map.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            for (q, label) in QUANTILES {
                quantiles
                    .get_or_create(&QuantileLabels {
                        request: api,
                        quantile: label,
                    })
                    .set(latency.quantile(q));
            }
            counts
                .get_or_create(&RequestLabels { request: api })
                .set(i64::try_from(latency.count()).unwrap_or(i64::MAX));
        }
        r.register(name, help, quantiles);
        r.register(format!("{name}_count"), format!("{help}: how many"), counts);
    }
}

fn topics(r: &mut Registry, m: &BrokerMetrics) {
    for (name, help, family) in [
        (
            "kafka_server_brokertopicmetrics_bytesin",
            "Record bytes appended, per topic (BytesInPerSec)",
            &m.bytes_in,
        ),
        (
            "kafka_server_brokertopicmetrics_messagesin",
            "Records appended, per topic (MessagesInPerSec)",
            &m.messages_in,
        ),
        (
            "kafka_server_brokertopicmetrics_bytesout",
            "Record bytes fetched, per topic (BytesOutPerSec)",
            &m.bytes_out,
        ),
        (
            "kafka_server_brokertopicmetrics_failedproducerequests",
            "Partitions of produce requests that failed, per topic (FailedProduceRequestsPerSec)",
            &m.failed_produce,
        ),
        (
            "kafka_server_brokertopicmetrics_failedfetchrequests",
            "Partitions of fetch requests that failed, per topic (FailedFetchRequestsPerSec)",
            &m.failed_fetch,
        ),
    ] {
        r.register(name, help, family.clone());
    }
}

fn controller(r: &mut Registry, broker: &Broker) {
    // On a single node this broker is the only one, registered and unfenced.
    let brokers = broker.metadata.brokers();
    let (active, fenced) = if broker.is_cluster() {
        (
            brokers.iter().filter(|b| !b.fenced).count() as i64,
            brokers.iter().filter(|b| b.fenced).count() as i64,
        )
    } else {
        (1, 0)
    };
    let is_active = broker.is_active_controller() || !broker.is_cluster();
    gauge(
        r,
        "kafka_controller_kafkacontroller_activecontrollercount",
        "1 on the active controller",
        i64::from(is_active),
    );
    gauge(
        r,
        "kafka_controller_kafkacontroller_activebrokercount",
        "Registered brokers that are not fenced",
        active,
    );
    gauge(
        r,
        "kafka_controller_kafkacontroller_fencedbrokercount",
        "Registered brokers that are fenced",
        fenced,
    );
    let topics = broker.metadata.topics();
    let offline = topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .filter(|p| p.leader < 0)
        .count();
    gauge(
        r,
        "kafka_controller_kafkacontroller_offlinepartitionscount",
        "Partitions without a leader (on the active controller; 0 elsewhere)",
        if is_active { offline as i64 } else { 0 },
    );
    gauge(
        r,
        "kafka_controller_kafkacontroller_globaltopiccount",
        "Topics in the cluster",
        topics.len() as i64,
    );
    gauge(
        r,
        "kafka_controller_kafkacontroller_globalpartitioncount",
        "Partitions in the cluster",
        topics.iter().map(|t| t.partitions.len()).sum::<usize>() as i64,
    );
    let applied = broker.metadata.applied_offset();
    gauge(
        r,
        "kafka_server_broker_metadata_metrics_last_applied_record_offset",
        "Offset of the last metadata record this node applied",
        applied,
    );
    if let Some(q) = broker.metadata.quorum() {
        let metrics = q.raft.metrics().borrow().clone();
        let committed = q
            .shared
            .state()
            .committed
            .and_then(|c| q.shared.offset_of_index(c.index))
            .unwrap_or(applied);
        gauge(
            r,
            "kafka_server_raft_metrics_current_leader",
            "The active controller's node id (-1: none)",
            metrics.current_leader.map_or(-1, |l| l as i64),
        );
        gauge(
            r,
            "kafka_server_raft_metrics_current_epoch",
            "The quorum's epoch (Raft term)",
            metrics.current_term as i64,
        );
        gauge(
            r,
            "kafka_server_raft_metrics_high_watermark",
            "End of the committed metadata log",
            committed + 1,
        );
        gauge(
            r,
            "kafka_server_raft_metrics_log_end_offset",
            "End of this node's metadata log",
            q.shared.log_end_offset() + 1,
        );
        gauge(
            r,
            "kfk_metadata_lag_records",
            "Committed metadata records this node has not applied yet",
            (committed - applied).max(0),
        );
    }
}

fn network(r: &mut Registry, m: &BrokerMetrics, load: RuntimeLoad) {
    let now = Instant::now();
    let mut last = m.last_scrape.lock().unwrap_or_else(|e| e.into_inner());
    let counts = m.connection_counts();
    let created_now: HashMap<String, u64> =
        counts.iter().map(|(l, (_, c))| (l.clone(), *c)).collect();
    let (idle, rates) = match last.as_ref() {
        Some(prev) if now > prev.at => {
            let wall = (now - prev.at).as_secs_f64();
            let busy = load.busy.saturating_sub(prev.busy).as_secs_f64();
            let capacity = wall * load.workers.max(1) as f64;
            let idle = (1.0 - busy / capacity).clamp(0.0, 1.0);
            let rates: HashMap<String, f64> = created_now
                .iter()
                .map(|(l, n)| {
                    let before = prev.connections_created.get(l).copied().unwrap_or(0);
                    (l.clone(), n.saturating_sub(before) as f64 / wall)
                })
                .collect();
            (idle, rates)
        }
        _ => (1.0, HashMap::new()),
    };
    *last = Some(LastScrape {
        at: now,
        busy: load.busy,
        connections_created: created_now.clone(),
    });
    drop(last);
    gauge_f64(
        r,
        "kafka_network_socketserver_networkprocessoravgidle_percent",
        "Idle share of the threads doing network work since the previous scrape (kfk: the tokio workers)",
        idle,
    );
    gauge_f64(
        r,
        "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
        "Idle share of the threads handling requests since the previous scrape (kfk: the tokio workers)",
        idle,
    );
    let open: Family<ListenerLabels, Gauge> = Family::default();
    let created: Family<ListenerLabels, Counter> = Family::default();
    for (listener, (n, total)) in &counts {
        let l = ListenerLabels {
            listener: listener.clone(),
            networkProcessor: "0",
        };
        open.get_or_create(&l).set(*n);
        created.get_or_create(&l).inc_by(*total);
    }
    r.register(
        "kafka_server_socket_server_metrics_connection_count",
        "Open connections, per listener",
        open,
    );
    r.register(
        "kafka_server_socket_server_metrics_connection_creation",
        "Connections accepted, per listener",
        created,
    );
    let rate: Family<ListenerLabels, Gauge<f64, AtomicU64>> = Family::default();
    for (listener, per_second) in rates {
        rate.get_or_create(&ListenerLabels {
            listener,
            networkProcessor: "0",
        })
        .set(per_second);
    }
    r.register(
        "kafka_server_socket_server_metrics_connection_creation_rate",
        "Connections accepted per second since the previous scrape, per listener",
        rate,
    );
}

fn replication(r: &mut Registry, broker: &Broker) {
    let m = &broker.metrics;
    let (mut led, mut hosted, mut under_replicated, mut under_min_isr) = (0i64, 0i64, 0i64, 0i64);
    let lag: Family<FetcherLabels, Gauge> = Family::default();
    let mut max_lag = 0i64;
    for (topic, index) in broker.replicas.local_partitions() {
        let Some(p) = broker.replicas.get(&topic, index) else {
            continue;
        };
        hosted += 1;
        match p.role() {
            crate::replication::Role::Leader => {
                let (replicas, isr, _) = p.replication();
                led += 1;
                if isr.len() < replicas.len() {
                    under_replicated += 1;
                }
                if (isr.len() as i32) < p.min_insync_replicas() {
                    under_min_isr += 1;
                }
            }
            crate::replication::Role::Follower { leader } => {
                let behind = p.follower_lag();
                max_lag = max_lag.max(behind);
                lag.get_or_create(&FetcherLabels {
                    clientId: format!("ReplicaFetcherThread-0-{leader}"),
                    topic: topic.clone(),
                    partition: index.to_string(),
                })
                .set(behind);
            }
            crate::replication::Role::Leaderless => {}
        }
    }
    gauge(
        r,
        "kafka_server_replicamanager_leadercount",
        "Partitions this broker leads",
        led,
    );
    gauge(
        r,
        "kafka_server_replicamanager_partitioncount",
        "Partitions this broker holds",
        hosted,
    );
    gauge(
        r,
        "kafka_server_replicamanager_underreplicatedpartitions",
        "Partitions led here whose ISR is smaller than their replicas",
        under_replicated,
    );
    gauge(
        r,
        "kafka_server_replicamanager_underminisrpartitioncount",
        "Partitions led here whose ISR is below min.insync.replicas",
        under_min_isr,
    );
    r.register(
        "kafka_server_replicamanager_isrshrinks",
        "ISR shrinks of partitions led here (IsrShrinksPerSec)",
        m.isr_shrinks.clone(),
    );
    r.register(
        "kafka_server_replicamanager_isrexpands",
        "ISR expansions of partitions led here (IsrExpandsPerSec)",
        m.isr_expands.clone(),
    );
    r.register(
        "kafka_server_fetcherlagmetrics_consumerlag",
        "Offsets a follower replica here is behind its leader's high watermark (ConsumerLag)",
        lag,
    );
    let max: Family<ClientIdLabel, Gauge> = Family::default();
    max.get_or_create(&ClientIdLabel {
        clientId: "Replica".into(),
    })
    .set(max_lag);
    r.register(
        "kafka_server_replicafetchermanager_maxlag",
        "The largest follower lag on this broker (MaxLag)",
        max,
    );
}

fn logs(r: &mut Registry, broker: &Broker) {
    let size: Family<PartitionLabels, Gauge> = Family::default();
    let log_end: Family<PartitionLabels, Gauge> = Family::default();
    let log_start: Family<PartitionLabels, Gauge> = Family::default();
    let segments: Family<PartitionLabels, Gauge> = Family::default();
    let hw: Family<PartitionLabels, Gauge> = Family::default();
    for (topic, index) in broker.replicas.local_partitions() {
        if let Some(p) = broker.replicas.get(&topic, index) {
            let l = PartitionLabels {
                topic: topic.clone(),
                partition: index.to_string(),
            };
            let (start, count) = p.log_start_and_segments();
            size.get_or_create(&l)
                .set(i64::try_from(p.size_bytes()).unwrap_or(i64::MAX));
            log_end.get_or_create(&l).set(p.log_end_offset());
            log_start.get_or_create(&l).set(start);
            segments
                .get_or_create(&l)
                .set(i64::try_from(count).unwrap_or(i64::MAX));
            hw.get_or_create(&l).set(p.high_watermark());
        }
    }
    r.register(
        "kafka_log_log_size",
        "Bytes on disk per partition (Size)",
        size,
    );
    r.register(
        "kafka_log_log_logendoffset",
        "Log end offset per partition (LogEndOffset)",
        log_end,
    );
    r.register(
        "kafka_log_log_logstartoffset",
        "Log start offset per partition (LogStartOffset)",
        log_start,
    );
    r.register(
        "kafka_log_log_numlogsegments",
        "Segments per partition (NumLogSegments)",
        segments,
    );
    r.register("kfk_log_high_watermark", "High watermark per partition", hw);
}

fn groups(r: &mut Registry, broker: &Broker, remote: &RemoteEnds) {
    let committed: Family<GroupLabels, Gauge> = Family::default();
    let lag: Family<GroupLabels, Gauge> = Family::default();
    for g in broker.groups.list() {
        for ((topic, partition), o) in broker.groups.fetch_offsets(&g.group_id) {
            let l = GroupLabels {
                group: g.group_id.clone(),
                topic: topic.clone(),
                partition: partition.to_string(),
            };
            committed.get_or_create(&l).set(o.offset);
            let end = match broker.replicas.get(&topic, partition) {
                Some(p) if p.role() == Role::Leader => Some(p.high_watermark()),
                local => remote
                    .get(&(topic.clone(), partition))
                    .copied()
                    .or(local.map(|p| p.high_watermark())),
            };
            if let Some(end) = end {
                lag.get_or_create(&l).set((end - o.offset).max(0));
            }
        }
    }
    r.register(
        "kfk_consumergroup_current_offset",
        "Committed offset per group and partition",
        committed,
    );
    r.register(
        "kfk_consumergroup_lag",
        "High watermark minus the committed offset, per group and partition",
        lag,
    );
}

/// Asks the leaders of the committed partitions this broker does not lead for their high
/// watermarks (ListOffsets, latest), so the coordinator can tell every group's lag. A leader
/// that does not answer within a second leaves its partitions out (or at a local follower's
/// high watermark).
pub async fn remote_high_watermarks(broker: &Broker) -> RemoteEnds {
    use crate::protocol::messages::list_offsets_request::{
        ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
    };
    use crate::protocol::{ApiKey, RequestBody, ResponseBody};
    let mut by_leader: HashMap<i32, std::collections::BTreeMap<String, Vec<i32>>> = HashMap::new();
    for g in broker.groups.list() {
        for (topic, partition) in broker.groups.fetch_offsets(&g.group_id).into_keys() {
            if broker
                .replicas
                .get(&topic, partition)
                .is_some_and(|p| p.role() == Role::Leader)
            {
                continue;
            }
            let Some(leader) = broker.metadata.partition_leader(&topic, partition) else {
                continue;
            };
            if leader < 0 || leader == broker.node_id {
                continue;
            }
            let parts = by_leader
                .entry(leader)
                .or_default()
                .entry(topic)
                .or_default();
            if !parts.contains(&partition) {
                parts.push(partition);
            }
        }
    }
    let asks = by_leader.into_iter().filter_map(|(leader, topics)| {
        let addr = super::replication::inter_broker_endpoint(broker, leader)?;
        let body = RequestBody::ListOffsets(ListOffsetsRequest {
            replica_id: -1,
            isolation_level: 0,
            topics: topics
                .into_iter()
                .map(|(name, partitions)| ListOffsetsTopic {
                    name,
                    partitions: partitions
                        .into_iter()
                        .map(|partition_index| ListOffsetsPartition {
                            partition_index,
                            current_leader_epoch: -1,
                            timestamp: -1,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            timeout_ms: 1000,
            ..Default::default()
        });
        let channel = broker.control.channel.clone();
        Some(async move {
            channel
                .request(&addr, ApiKey::ListOffsets, 7, &body, Duration::from_secs(1))
                .await
        })
    });
    let mut pending = tokio::task::JoinSet::new();
    for ask in asks {
        pending.spawn(ask);
    }
    let mut out = RemoteEnds::new();
    while let Some(Ok(answer)) = pending.join_next().await {
        let Ok(ResponseBody::ListOffsets(r)) = answer else {
            continue;
        };
        for t in r.topics {
            for p in t.partitions {
                if p.error_code == 0 && p.offset >= 0 {
                    out.insert((t.name.clone(), p.partition_index), p.offset);
                }
            }
        }
    }
    out
}

/// Serves `GET /metrics` on `addr` until the broker stops.
pub async fn serve(broker: Arc<Broker>, listener: tokio::net::TcpListener) {
    let mut stop = broker.shutdown_signal();
    loop {
        let (mut stream, _) = tokio::select! {
            a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
            _ = stop.wait_for(|s| *s) => return,
        };
        let b = broker.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut n = 0;
            let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                while n < buf.len() {
                    match stream.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return false,
                        Ok(k) => n += k,
                    }
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        return true;
                    }
                }
                false
            })
            .await;
            if read != Ok(true) {
                return;
            }
            let head = String::from_utf8_lossy(&buf[..n]);
            let path = head.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = if head.starts_with("GET ") && (path == "/metrics" || path == "/")
            {
                let b2 = b.clone();
                let load = RuntimeLoad::current();
                let remote = remote_high_watermarks(&b).await;
                let text = tokio::task::spawn_blocking(move || render(&b2, load, &remote))
                    .await
                    .unwrap_or_default();
                ("200 OK", text)
            } else {
                ("404 Not Found", "not found\n".to_string())
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_the_upper_bounds_of_their_buckets() {
        let l = Latency::default();
        for _ in 0..98 {
            l.observe(1.0);
        }
        l.observe(50.0);
        l.observe(50.0);
        assert_eq!(l.count(), 100);
        assert_eq!(l.quantile(0.5), 1.6);
        assert_eq!(l.quantile(0.99), 51.2);
        assert_eq!(Latency::default().quantile(0.99), 0.0);
    }
}
