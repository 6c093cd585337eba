//! Metrics for operators: a Prometheus text endpoint (`GET /metrics`) on
//! `kfk.metrics.listener` (`host:port`; off when empty), with names after Kafka's JMX
//! metrics: requests and their latency per API (`kafka_network_request_*`), bytes in and out
//! per topic (`kafka_server_brokertopicmetrics_*`), the controller's state
//! (`kafka_controller_kafkacontroller_*`), the metadata log (`kafka_server_raft_metrics_*`,
//! applied offset and lag), each partition's log end offset and high watermark
//! (`kafka_log_*`) and each group's committed offsets (`kafka_group_committed_offset`; lag
//! is the high watermark minus it).

use super::Broker;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub request: &'static str,
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    group: String,
    topic: String,
    partition: String,
}

fn latency_histogram() -> Histogram {
    // 0.1 ms .. ~26 s.
    Histogram::new(exponential_buckets(0.1, 2.0, 19))
}

/// The counters the broker updates as it serves.
pub struct BrokerMetrics {
    pub requests: Family<RequestLabels, Counter>,
    pub request_time_ms: Family<RequestLabels, Histogram, fn() -> Histogram>,
    pub bytes_in: Family<TopicLabels, Counter>,
    pub bytes_out: Family<TopicLabels, Counter>,
    pub messages_in: Family<TopicLabels, Counter>,
    /// ISR changes this broker's leaderships got through the controller.
    pub isr_shrinks: Counter,
    pub isr_expands: Counter,
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
            request_time_ms: Family::new_with_constructor(latency_histogram),
            bytes_in: Family::default(),
            bytes_out: Family::default(),
            messages_in: Family::default(),
            isr_shrinks: Counter::default(),
            isr_expands: Counter::default(),
        }
    }
}

impl BrokerMetrics {
    /// One request of `api` served in `ms`.
    pub fn request(&self, api: &'static str, ms: f64) {
        let l = RequestLabels { request: api };
        self.requests.get_or_create(&l).inc();
        self.request_time_ms.get_or_create(&l).observe(ms);
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
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

/// The whole text exposition, read at scrape time.
pub fn render(broker: &Broker) -> String {
    let m = &broker.metrics;
    let mut r = Registry::default();
    r.register(
        "kafka_network_request_requests",
        "Requests served, per API",
        m.requests.clone(),
    );
    r.register(
        "kafka_network_request_total_time_ms",
        "Time to serve a request, per API, in milliseconds",
        m.request_time_ms.clone(),
    );
    r.register(
        "kafka_server_brokertopicmetrics_bytes_in",
        "Record bytes appended, per topic",
        m.bytes_in.clone(),
    );
    r.register(
        "kafka_server_brokertopicmetrics_messages_in",
        "Records appended, per topic",
        m.messages_in.clone(),
    );
    r.register(
        "kafka_server_brokertopicmetrics_bytes_out",
        "Record bytes fetched, per topic",
        m.bytes_out.clone(),
    );
    let brokers = broker.metadata.brokers();
    gauge(
        &mut r,
        "kafka_controller_kafkacontroller_active_controller_count",
        "1 on the active controller",
        i64::from(broker.is_active_controller()),
    );
    gauge(
        &mut r,
        "kafka_controller_kafkacontroller_fenced_broker_count",
        "Registered brokers that are fenced",
        brokers.iter().filter(|b| b.fenced).count() as i64,
    );
    gauge(
        &mut r,
        "kafka_controller_kafkacontroller_active_broker_count",
        "Registered brokers that are not fenced",
        brokers.iter().filter(|b| !b.fenced).count() as i64,
    );
    let applied = broker.metadata.applied_offset();
    gauge(
        &mut r,
        "kafka_server_metadata_last_applied_record_offset",
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
            &mut r,
            "kafka_server_raft_metrics_current_leader",
            "The active controller's node id (-1: none)",
            metrics.current_leader.map_or(-1, |l| l as i64),
        );
        gauge(
            &mut r,
            "kafka_server_raft_metrics_current_epoch",
            "The quorum's epoch (Raft term)",
            metrics.current_term as i64,
        );
        gauge(
            &mut r,
            "kafka_server_raft_metrics_high_watermark",
            "End of the committed metadata log",
            committed + 1,
        );
        gauge(
            &mut r,
            "kafka_server_raft_metrics_log_end_offset",
            "End of this node's metadata log",
            q.shared.log_end_offset() + 1,
        );
        gauge(
            &mut r,
            "kafka_server_metadata_lag_records",
            "Committed metadata records this node has not applied yet",
            (committed - applied).max(0),
        );
    }
    // Replication, as Kafka's ReplicaManager and controller gauges name it.
    let (mut led, mut under_replicated, mut under_min_isr) = (0i64, 0i64, 0i64);
    for (topic, index) in broker.replicas.local_partitions() {
        let Some(p) = broker.replicas.get(&topic, index) else {
            continue;
        };
        if p.role() != crate::replication::Role::Leader {
            continue;
        }
        let (replicas, isr, _) = p.replication();
        led += 1;
        if isr.len() < replicas.len() {
            under_replicated += 1;
        }
        if (isr.len() as i32) < p.min_insync_replicas() {
            under_min_isr += 1;
        }
    }
    gauge(
        &mut r,
        "kafka_server_replicamanager_leader_count",
        "Partitions this broker leads",
        led,
    );
    gauge(
        &mut r,
        "kafka_server_replicamanager_under_replicated_partitions",
        "Partitions led here whose ISR is smaller than their replicas",
        under_replicated,
    );
    gauge(
        &mut r,
        "kafka_server_replicamanager_under_min_isr_partition_count",
        "Partitions led here whose ISR is below min.insync.replicas",
        under_min_isr,
    );
    if broker.is_active_controller() {
        let offline = broker
            .metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| p.leader < 0)
            .count();
        gauge(
            &mut r,
            "kafka_controller_kafkacontroller_offline_partitions_count",
            "Partitions without a leader",
            offline as i64,
        );
    }
    r.register(
        "kafka_server_replicamanager_isr_shrinks",
        "ISR shrinks of partitions led here",
        m.isr_shrinks.clone(),
    );
    r.register(
        "kafka_server_replicamanager_isr_expands",
        "ISR expansions of partitions led here",
        m.isr_expands.clone(),
    );
    let log_end: Family<PartitionLabels, Gauge> = Family::default();
    let hw: Family<PartitionLabels, Gauge> = Family::default();
    for (topic, index) in broker.replicas.local_partitions() {
        if let Some(p) = broker.replicas.get(&topic, index) {
            let l = PartitionLabels {
                topic: topic.clone(),
                partition: index.to_string(),
            };
            log_end.get_or_create(&l).set(p.log_end_offset());
            hw.get_or_create(&l).set(p.high_watermark());
        }
    }
    r.register(
        "kafka_log_log_end_offset",
        "Log end offset per partition",
        log_end,
    );
    r.register(
        "kafka_log_high_watermark",
        "High watermark per partition",
        hw,
    );
    let committed: Family<GroupLabels, Gauge> = Family::default();
    for g in broker.groups.list() {
        for ((topic, partition), o) in broker.groups.fetch_offsets(&g.group_id) {
            committed
                .get_or_create(&GroupLabels {
                    group: g.group_id.clone(),
                    topic,
                    partition: partition.to_string(),
                })
                .set(o.offset);
        }
    }
    r.register(
        "kafka_group_committed_offset",
        "Committed offset per group and partition (lag = high watermark - this)",
        committed,
    );
    let mut out = String::new();
    if encode(&mut out, &r).is_err() {
        out.clear();
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
                let text = tokio::task::spawn_blocking(move || render(&b2))
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
