//! Broker configuration with Kafka's property names: read from a TOML file (quoted keys such
//! as `"log.dir" = "..."` or dotted keys `log.retention.hours = 168`) or a Java
//! `.properties` file such as an existing `server.properties`, then `--override key=value`.
//!
//! Every key is implemented, known but not used by kfk yet (a warning, once), or unknown (an
//! error naming it). Bad values are errors naming the key. Defaults follow Kafka's, except
//! where ARCHITECTURE.md's table says otherwise (listeners on loopback, `./kfk-data`, ...).

use crate::log::config::{topic_config, validate_topic_config, TOPIC_CONFIGS};

/// Kafka's topic configs (names, kinds, defaults, validation) for the admin handlers; the log
/// owns them, the handlers see them only here.
pub mod topic_configs {
    pub use crate::log::config::{
        topic_config, validate_topic_config, ConfigKind, NO_DEFAULT_SYNONYM, TOPIC_CONFIGS,
    };
}
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A configuration problem, naming the key (or file) at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// One listener, `NAME://host:port`: its name (mapped to a security protocol by
/// `listener.security.protocol.map`), host (empty: every interface) and port (0: any free one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Listener {
    pub fn parse(text: &str) -> Result<Listener, ConfigError> {
        let bad = || {
            ConfigError(format!(
                "listener {text:?} is not of the form NAME://host:port (e.g. PLAINTEXT://localhost:9092)"
            ))
        };
        let (name, rest) = text.split_once("://").ok_or_else(bad)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = port.parse().map_err(|_| bad())?;
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            return Err(bad());
        }
        Ok(Listener {
            name: name.to_ascii_uppercase(),
            host,
            port,
        })
    }
}

/// What a node does (`process.roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessRoles {
    pub broker: bool,
    pub controller: bool,
}

/// One voter of `controller.quorum.voters` (`id@host:port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumVoter {
    pub node_id: i32,
    pub host: String,
    pub port: u16,
}

/// Kafka's default `listener.security.protocol.map`: each protocol's own name.
const DEFAULT_PROTOCOL_MAP: &str =
    "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";

/// Broker keys kfk implements, with Kafka's defaults (kfk's own where ARCHITECTURE.md says);
/// the limits among them are in `crate::limits`.
const IMPLEMENTED: &[(&str, &str)] = &[
    ("node.id", "1"),
    ("broker.id", "-1"),
    ("listeners", "PLAINTEXT://localhost:9092"),
    ("advertised.listeners", ""),
    ("log.dirs", ""),
    ("log.dir", "./kfk-data"),
    ("num.partitions", "1"),
    ("default.replication.factor", "1"),
    ("auto.create.topics.enable", "true"),
    ("delete.topic.enable", "true"),
    ("log.retention.hours", "168"),
    ("log.retention.minutes", ""),
    ("log.roll.hours", "168"),
    ("log.retention.check.interval.ms", "300000"),
    ("log.flush.scheduler.interval.ms", "1000"),
    ("log.flush.offset.checkpoint.interval.ms", "60000"),
    ("replica.high.watermark.checkpoint.interval.ms", "5000"),
    ("log.cleaner.enable", "true"),
    ("log.cleaner.backoff.ms", "15000"),
    ("producer.id.expiration.check.interval.ms", "600000"),
    ("offsets.topic.num.partitions", "50"),
    ("offsets.topic.replication.factor", "1"),
    ("offsets.retention.minutes", "10080"),
    ("offsets.retention.check.interval.ms", "600000"),
    ("group.initial.rebalance.delay.ms", "0"),
    ("group.min.session.timeout.ms", "6000"),
    ("group.max.session.timeout.ms", "1800000"),
    ("cluster.id", ""),
    ("process.roles", ""),
    ("controller.quorum.voters", ""),
    ("controller.quorum.bootstrap.servers", ""),
    ("controller.listener.names", ""),
    ("listener.security.protocol.map", DEFAULT_PROTOCOL_MAP),
    ("inter.broker.listener.name", ""),
    ("broker.rack", ""),
    ("kfk.metrics.listener", ""),
    ("broker.heartbeat.interval.ms", "2000"),
    ("broker.session.timeout.ms", "9000"),
    ("replica.lag.time.max.ms", "30000"),
    ("auto.leader.rebalance.enable", "true"),
    ("replica.selector.class", ""),
    ("leader.imbalance.check.interval.seconds", "300"),
    ("leader.imbalance.per.broker.percentage", "10"),
    ("replica.fetch.max.bytes", "1048576"),
    ("replica.fetch.response.max.bytes", "10485760"),
    ("replica.fetch.wait.max.ms", "500"),
    ("replica.fetch.backoff.ms", "1000"),
    ("controller.quorum.election.timeout.ms", "1000"),
    ("controller.quorum.fetch.timeout.ms", "2000"),
    (
        "metadata.log.max.record.bytes.between.snapshots",
        "20971520",
    ),
    ("metadata.max.retention.bytes", "104857600"),
    ("metadata.max.retention.ms", "604800000"),
    ("socket.send.buffer.bytes", "102400"),
    ("socket.receive.buffer.bytes", "102400"),
];

/// Every implemented key with its default: [`IMPLEMENTED`] and the limits.
fn implemented() -> impl Iterator<Item = (&'static str, &'static str)> {
    IMPLEMENTED.iter().copied().chain(
        crate::limits::BROKER_LIMITS
            .iter()
            .map(|l| (l.name, l.default)),
    )
}

/// Broker keys Kafka leaves unset (null) by default: DescribeConfigs gives them no value and
/// no DEFAULT_CONFIG synonym until they are set, as Kafka's does (kfk derives the effective
/// value, e.g. `log.retention.ms` from `log.retention.hours`).
pub const NULL_DEFAULT: &[&str] = &[
    "advertised.listeners",
    "broker.rack",
    "controller.listener.names",
    "inter.broker.listener.name",
    "log.dirs",
    "log.flush.interval.ms",
    "log.retention.minutes",
    "log.retention.ms",
    "log.roll.jitter.ms",
    "log.roll.ms",
    "process.roles",
    "replica.selector.class",
];

/// The default of an implemented key.
fn default_of(key: &str) -> Option<&'static str> {
    implemented().find(|(k, _)| *k == key).map(|(_, d)| d)
}

/// Keys Kafka knows that kfk accepts but does not act on yet.
const KNOWN_UNUSED: &[&str] = &[
    "num.network.threads",
    "num.io.threads",
    "num.recovery.threads.per.data.dir",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "transaction.state.log.num.partitions",
    "zookeeper.connect",
    "zookeeper.connection.timeout.ms",
    "metadata.log.dir",
    "log.segment.delete.delay.ms",
    "group.coordinator.rebalance.protocols",
    "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.min.isr",
    "offsets.topic.segment.bytes",
    "offsets.commit.timeout.ms",
    "log.preallocate",
    "log.roll.jitter.ms",
    "log.local.retention.bytes",
    "log.local.retention.ms",
    "remote.log.storage.system.enable",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.zstd.level",
    "unclean.leader.election.enable",
    "follower.replication.throttled.replicas",
    "leader.replication.throttled.replicas",
];

/// How kfk treats a broker key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    Implemented,
    KnownUnused,
    Unknown,
}

/// The class of `key`.
pub fn key_class(key: &str) -> KeyClass {
    if default_of(key).is_some()
        || TOPIC_CONFIGS.iter().any(|d| d.broker_name == key && d.used)
        || key == "log.roll.ms"
        || key == "log.retention.ms"
    {
        return KeyClass::Implemented;
    }
    if KNOWN_UNUSED.contains(&key) || TOPIC_CONFIGS.iter().any(|d| d.broker_name == key) {
        return KeyClass::KnownUnused;
    }
    KeyClass::Unknown
}

/// The broker's configuration, typed.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Every key set by file or override (Kafka names), for DescribeConfigs.
    pub raw: BTreeMap<String, String>,
    pub node_id: i32,
    /// Every listener to bind, clients' and controllers'.
    pub listeners: Vec<Listener>,
    /// What each listener tells clients to connect to, in the order of `listeners`
    /// (`advertised.listeners` where it names the listener, else the listener itself).
    pub advertised_listeners: Vec<Listener>,
    /// `process.roles` (unset: a combined single node, as kfk always ran).
    pub process_roles: ProcessRoles,
    /// `controller.listener.names`: listeners that serve the controller's APIs only.
    pub controller_listener_names: Vec<String>,
    /// `inter.broker.listener.name`.
    pub inter_broker_listener_name: String,
    /// `controller.quorum.voters` (static quorum); empty with a dynamic quorum.
    pub quorum_voters: Vec<QuorumVoter>,
    /// `controller.quorum.bootstrap.servers` (dynamic quorum, `host:port` each).
    pub quorum_bootstrap_servers: Vec<String>,
    /// `socket.send.buffer.bytes` / `socket.receive.buffer.bytes` (-1: the OS default).
    pub socket_send_buffer_bytes: i32,
    pub socket_receive_buffer_bytes: i32,
    pub log_dirs: Vec<PathBuf>,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub socket_request_max_bytes: usize,
    /// `fetch.max.bytes`: the most one fetch response carries, whatever the client asks.
    pub fetch_max_bytes: usize,
    pub queued_max_requests: usize,
    pub queued_max_request_bytes: usize,
    pub connections_max_idle_ms: u64,
    /// `kfk.request.receive.timeout.ms`: how long one request frame may take to arrive.
    pub request_receive_timeout: std::time::Duration,
    pub max_connections: usize,
    pub retention_check_interval_ms: u64,
    pub flush_scheduler_interval_ms: u64,
    pub checkpoint_interval_ms: u64,
    /// `replica.high.watermark.checkpoint.interval.ms`: how old a restarted broker's high
    /// watermarks can be.
    pub high_watermark_checkpoint_interval_ms: u64,
    pub cleaner_enable: bool,
    pub cleaner_backoff_ms: u64,
    /// `log.cleaner.dedupe.buffer.size` and `log.cleaner.io.buffer.size`.
    pub cleaner_memory: crate::log::cleaner::CleanerMemory,
    pub producer_id_expiration_ms: i64,
    pub producer_id_expiration_check_interval_ms: u64,
    pub offsets_topic_num_partitions: i32,
    pub offsets_retention_ms: i64,
    pub offsets_retention_check_interval_ms: u64,
    pub group_initial_rebalance_delay_ms: u64,
    pub group_min_session_timeout_ms: i32,
    pub group_max_session_timeout_ms: i32,
    pub group_max_size: usize,
    pub offset_metadata_max_bytes: usize,
    pub cluster_id: Option<String>,
    /// `broker.rack`.
    pub rack: Option<String>,
    /// `kfk.metrics.listener`: `host:port` of the Prometheus endpoint (off when unset).
    pub metrics_listener: Option<String>,
    pub broker_heartbeat_interval_ms: u64,
    pub broker_session_timeout_ms: u64,
    /// `replica.lag.time.max.ms`: a follower not caught up for this long leaves the ISR.
    pub replica_lag_time_max_ms: u64,
    /// `auto.leader.rebalance.enable`, `leader.imbalance.check.interval.seconds`,
    /// `leader.imbalance.per.broker.percentage`.
    pub auto_leader_rebalance: bool,
    /// `replica.selector.class` is Kafka's RackAwareReplicaSelector (KIP-392): consumers
    /// with a `client.rack` read from an in-sync replica in their rack.
    pub rack_aware_replica_selector: bool,
    pub leader_imbalance_check_interval_s: u64,
    pub leader_imbalance_percent: u32,
    /// `replica.fetch.max.bytes` (per partition), `replica.fetch.response.max.bytes`.
    pub replica_fetch_max_bytes: i32,
    pub replica_fetch_response_max_bytes: i32,
    /// `replica.fetch.wait.max.ms`, `replica.fetch.backoff.ms`.
    pub replica_fetch_wait_max_ms: u64,
    pub replica_fetch_backoff_ms: u64,
    pub quorum_election_timeout_ms: u64,
    pub quorum_fetch_timeout_ms: u64,
    pub metadata_snapshot_bytes: u64,
    pub metadata_retention_bytes: u64,
    /// Topic-config defaults from the broker-level keys (`log.segment.bytes` → `segment.bytes`).
    pub topic_defaults: BTreeMap<String, String>,
    /// Keys set that kfk does not act on yet (warned about once at start).
    pub unused_keys: Vec<String>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig::from_map(BTreeMap::new())
            .unwrap_or_else(|e| unreachable!("defaults are valid: {e}"))
    }
}

fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| {
        ConfigError(format!(
            "invalid value {value:?} for {key}: not a valid number"
        ))
    })
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(ConfigError(format!(
            "invalid value {other:?} for {key}: expected true or false"
        ))),
    }
}

impl BrokerConfig {
    /// Builds the config from Kafka-named keys; unknown keys and bad values are errors.
    pub fn from_map(raw: BTreeMap<String, String>) -> Result<BrokerConfig, ConfigError> {
        let mut unused_keys = Vec::new();
        for key in raw.keys() {
            match key_class(key) {
                KeyClass::Implemented => {}
                KeyClass::KnownUnused => unused_keys.push(key.clone()),
                KeyClass::Unknown => {
                    return Err(ConfigError(format!("unknown config key {key:?}")))
                }
            }
        }
        let get = |key: &str| -> String {
            raw.get(key)
                .cloned()
                .unwrap_or_else(|| default_of(key).unwrap_or("").to_string())
        };
        let num = |key: &str| -> Result<i64, ConfigError> { parse_num(key, &get(key)) };
        let positive = |key: &str| -> Result<u64, ConfigError> {
            let v = num(key)?;
            u64::try_from(v).map_err(|_| {
                ConfigError(format!("invalid value {v} for {key}: must not be negative"))
            })
        };
        let listeners = parse_listeners("listeners", &get("listeners"))?;
        let log_dirs: Vec<PathBuf> = match get("log.dirs") {
            s if !s.trim().is_empty() => s.split(',').map(|d| PathBuf::from(d.trim())).collect(),
            _ => vec![PathBuf::from(get("log.dir"))],
        };
        let broker_id = num("broker.id")?;
        let node_id = if raw.contains_key("node.id") || broker_id < 0 {
            num("node.id")?
        } else {
            broker_id
        };
        let node_id = i32::try_from(node_id)
            .map_err(|_| ConfigError(format!("invalid value {node_id} for node.id")))?;
        let default_rf = num("default.replication.factor")?;
        let num_partitions = num("num.partitions")?;
        if num_partitions < 1 {
            return Err(ConfigError(format!(
                "invalid value {num_partitions} for num.partitions: must be at least 1"
            )));
        }
        let topic_defaults = topic_defaults(&raw)?;
        let network = Network::from_keys(&get, node_id, listeners)?;
        Ok(BrokerConfig {
            node_id,
            listeners: network.listeners,
            advertised_listeners: network.advertised,
            process_roles: network.roles,
            controller_listener_names: network.controller_listener_names,
            inter_broker_listener_name: network.inter_broker_listener_name,
            quorum_voters: network.voters,
            quorum_bootstrap_servers: network.bootstrap_servers,
            socket_send_buffer_bytes: socket_buffer("socket.send.buffer.bytes", &get)?,
            socket_receive_buffer_bytes: socket_buffer("socket.receive.buffer.bytes", &get)?,
            log_dirs,
            num_partitions: num_partitions as i32,
            default_replication_factor: i16::try_from(default_rf).map_err(|_| {
                ConfigError(format!(
                    "invalid value {default_rf} for default.replication.factor"
                ))
            })?,
            auto_create_topics_enable: parse_bool(
                "auto.create.topics.enable",
                &get("auto.create.topics.enable"),
            )?,
            delete_topic_enable: parse_bool("delete.topic.enable", &get("delete.topic.enable"))?,
            socket_request_max_bytes: positive("socket.request.max.bytes")? as usize,
            fetch_max_bytes: positive("fetch.max.bytes")?.max(1024) as usize,
            queued_max_requests: positive("queued.max.requests")?.max(1) as usize,
            queued_max_request_bytes: positive("queued.max.request.bytes")? as usize,
            connections_max_idle_ms: positive("connections.max.idle.ms")?,
            request_receive_timeout: std::time::Duration::from_millis(
                positive("kfk.request.receive.timeout.ms")?.max(1),
            ),
            max_connections: positive("max.connections")? as usize,
            retention_check_interval_ms: positive("log.retention.check.interval.ms")?.max(1),
            flush_scheduler_interval_ms: positive("log.flush.scheduler.interval.ms")?.max(1),
            checkpoint_interval_ms: positive("log.flush.offset.checkpoint.interval.ms")?.max(1),
            high_watermark_checkpoint_interval_ms: positive(
                "replica.high.watermark.checkpoint.interval.ms",
            )?
            .max(1),
            cleaner_enable: parse_bool("log.cleaner.enable", &get("log.cleaner.enable"))?,
            cleaner_backoff_ms: positive("log.cleaner.backoff.ms")?.max(1),
            cleaner_memory: crate::log::cleaner::CleanerMemory {
                dedupe_buffer_bytes: positive("log.cleaner.dedupe.buffer.size")?.max(1024) as usize,
                io_buffer_bytes: positive("log.cleaner.io.buffer.size")?.max(1024) as usize,
            },
            producer_id_expiration_ms: num("producer.id.expiration.ms")?,
            producer_id_expiration_check_interval_ms: positive(
                "producer.id.expiration.check.interval.ms",
            )?
            .max(1),
            offsets_topic_num_partitions: num("offsets.topic.num.partitions")?.clamp(1, 10_000)
                as i32,
            offsets_retention_ms: num("offsets.retention.minutes")?.saturating_mul(60_000),
            offsets_retention_check_interval_ms: positive("offsets.retention.check.interval.ms")?
                .max(1),
            group_initial_rebalance_delay_ms: positive("group.initial.rebalance.delay.ms")?,
            group_min_session_timeout_ms: num("group.min.session.timeout.ms")? as i32,
            group_max_session_timeout_ms: num("group.max.session.timeout.ms")? as i32,
            group_max_size: positive("group.max.size")? as usize,
            offset_metadata_max_bytes: positive("offset.metadata.max.bytes")? as usize,
            cluster_id: Some(get("cluster.id")).filter(|s| !s.is_empty()),
            rack: Some(get("broker.rack")).filter(|s| !s.is_empty()),
            metrics_listener: Some(get("kfk.metrics.listener")).filter(|s| !s.trim().is_empty()),
            broker_heartbeat_interval_ms: positive("broker.heartbeat.interval.ms")?.max(10),
            broker_session_timeout_ms: positive("broker.session.timeout.ms")?.max(100),
            replica_lag_time_max_ms: positive("replica.lag.time.max.ms")?.max(10),
            auto_leader_rebalance: get("auto.leader.rebalance.enable").trim() != "false",
            rack_aware_replica_selector: match get("replica.selector.class").trim() {
                "" => false,
                c if c.ends_with("RackAwareReplicaSelector") => true,
                other => {
                    return Err(ConfigError(format!(
                        "replica.selector.class {other}: kfk knows only org.apache.kafka.common.replica.RackAwareReplicaSelector"
                    )))
                }
            },
            leader_imbalance_check_interval_s: positive("leader.imbalance.check.interval.seconds")?
                .max(1),
            leader_imbalance_percent: u32::try_from(positive(
                "leader.imbalance.per.broker.percentage",
            )?)
            .unwrap_or(10),
            replica_fetch_max_bytes: i32::try_from(positive("replica.fetch.max.bytes")?)
                .unwrap_or(i32::MAX),
            replica_fetch_response_max_bytes: i32::try_from(positive(
                "replica.fetch.response.max.bytes",
            )?)
            .unwrap_or(i32::MAX),
            replica_fetch_wait_max_ms: positive("replica.fetch.wait.max.ms")?.max(1),
            replica_fetch_backoff_ms: positive("replica.fetch.backoff.ms")?,
            quorum_election_timeout_ms: positive("controller.quorum.election.timeout.ms")?.max(10),
            quorum_fetch_timeout_ms: positive("controller.quorum.fetch.timeout.ms")?.max(10),
            metadata_snapshot_bytes: positive("metadata.log.max.record.bytes.between.snapshots")?
                .max(1),
            metadata_retention_bytes: positive("metadata.max.retention.bytes")?,
            topic_defaults,
            unused_keys,
            raw,
        })
    }

    /// Reads a config file (TOML, or Java properties for `.properties` files or when TOML
    /// does not parse) and applies `overrides` (`key=value`) on top.
    pub fn load(file: Option<&Path>, overrides: &[String]) -> Result<BrokerConfig, ConfigError> {
        let mut raw = match file {
            Some(path) => read_config_file(path)?,
            None => BTreeMap::new(),
        };
        for o in overrides {
            let (k, v) = o.split_once('=').ok_or_else(|| {
                ConfigError(format!("--override {o:?} is not of the form key=value"))
            })?;
            raw.insert(k.trim().to_string(), v.trim().to_string());
        }
        BrokerConfig::from_map(raw)
    }

    /// The configured value or default of a broker key (for DescribeConfigs).
    /// Whether this node belongs to a cluster of several nodes (a metadata quorum of more
    /// than itself). Otherwise it is a single node with its own metadata log, as ever.
    pub fn is_cluster(&self) -> bool {
        (!self.quorum_bootstrap_servers.is_empty() && !self.bootstraps_only_itself())
            || self.quorum_voters.iter().any(|v| v.node_id != self.node_id)
            || !(self.process_roles.broker && self.process_roles.controller)
    }

    /// A combined node whose `controller.quorum.bootstrap.servers` names only its own
    /// controller listener (Kafka 4's shipped single-node config): a single node, unless it
    /// was formatted as the founder of a dynamic quorum (see the startup).
    pub fn bootstraps_only_itself(&self) -> bool {
        let own: Vec<&Listener> = self
            .listeners
            .iter()
            .filter(|l| self.controller_listener_names.contains(&l.name))
            .collect();
        self.process_roles.broker
            && self.process_roles.controller
            && !self.quorum_bootstrap_servers.is_empty()
            && self.quorum_bootstrap_servers.iter().all(|b| {
                let (host, port) = b.rsplit_once(':').unwrap_or((b, ""));
                own.iter().any(|l| {
                    port.parse() == Ok(l.port)
                        && (host == l.host
                            || ["localhost", "127.0.0.1", "::1", "[::1]", ""].contains(&host))
                })
            })
    }

    pub fn value_of(&self, key: &str) -> Option<String> {
        self.raw
            .get(key)
            .cloned()
            .or_else(|| default_of(key).map(str::to_string))
    }

    /// Kafka's default of a broker key kfk describes: an implemented key's, or a topic
    /// config's broker synonym's.
    pub fn default_value(key: &str) -> Option<&'static str> {
        if NULL_DEFAULT.contains(&key) {
            return None;
        }
        default_of(key).or_else(|| {
            TOPIC_CONFIGS
                .iter()
                .find(|d| !d.broker_name.is_empty() && d.broker_name == key)
                .map(|d| d.default)
        })
    }

    /// Every implemented broker key with its value and whether it was set explicitly.
    pub fn describe(&self) -> Vec<(String, String, bool)> {
        let mut out: Vec<(String, String, bool)> = implemented()
            .map(|(k, d)| {
                (
                    k.to_string(),
                    self.raw.get(k).cloned().unwrap_or_else(|| d.to_string()),
                    self.raw.contains_key(k),
                )
            })
            .collect();
        for d in TOPIC_CONFIGS.iter().filter(|d| !d.broker_name.is_empty()) {
            if !out.iter().any(|(k, _, _)| k == d.broker_name) {
                let value = self
                    .raw
                    .get(d.broker_name)
                    .cloned()
                    .unwrap_or_else(|| d.default.to_string());
                out.push((
                    d.broker_name.to_string(),
                    value,
                    self.raw.contains_key(d.broker_name),
                ));
            }
        }
        out.sort();
        out
    }
}

/// The listeners, roles and quorum keys, checked together as Kafka checks them.
struct Network {
    listeners: Vec<Listener>,
    advertised: Vec<Listener>,
    roles: ProcessRoles,
    controller_listener_names: Vec<String>,
    inter_broker_listener_name: String,
    voters: Vec<QuorumVoter>,
    bootstrap_servers: Vec<String>,
}

fn names_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Network {
    fn from_keys(
        get: &dyn Fn(&str) -> String,
        node_id: i32,
        listeners: Vec<Listener>,
    ) -> Result<Network, ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        let protocols = parse_protocol_map(&get("listener.security.protocol.map"))?;
        let mut seen = std::collections::BTreeSet::new();
        for l in &listeners {
            if !seen.insert(l.name.clone()) {
                return err(format!(
                    "listeners: the listener name {} appears twice",
                    l.name
                ));
            }
            match protocols.get(&l.name).map(String::as_str) {
                Some("PLAINTEXT") => {}
                Some(other) => {
                    return err(format!(
                        "listeners: {} uses security protocol {other}; only PLAINTEXT is supported (no SSL or SASL yet)",
                        l.name
                    ))
                }
                None => {
                    return err(format!(
                        "listeners: {} has no security protocol in listener.security.protocol.map",
                        l.name
                    ))
                }
            }
        }
        let roles = match get("process.roles").trim() {
            "" => ProcessRoles {
                broker: true,
                controller: true,
            },
            text => {
                let mut roles = ProcessRoles {
                    broker: false,
                    controller: false,
                };
                for r in text.split(',').map(str::trim) {
                    match r {
                        "broker" => roles.broker = true,
                        "controller" => roles.controller = true,
                        other => {
                            return err(format!(
                                "invalid value {other:?} in process.roles: expected broker and/or controller"
                            ))
                        }
                    }
                }
                roles
            }
        };
        let controller_listener_names = names_list(&get("controller.listener.names"));
        for name in &controller_listener_names {
            // A broker-only node names the controllers' listener without having it.
            if roles.controller && !listeners.iter().any(|l| &l.name == name) {
                return err(format!(
                    "controller.listener.names: {name} is not one of the listeners"
                ));
            }
        }
        let process_roles_set = !get("process.roles").trim().is_empty();
        if process_roles_set && controller_listener_names.is_empty() {
            return err("controller.listener.names must name a listener when process.roles contains controller".into());
        }
        if roles.broker
            && !listeners
                .iter()
                .any(|l| !controller_listener_names.contains(&l.name))
        {
            return err(
                "listeners: no listener for clients (every listener is a controller listener)"
                    .into(),
            );
        }
        let inter_broker_listener_name = match get("inter.broker.listener.name").trim() {
            "" => listeners
                .iter()
                .find(|l| !controller_listener_names.contains(&l.name))
                .map(|l| l.name.clone())
                .unwrap_or_default(),
            name => {
                let name = name.to_ascii_uppercase();
                if !listeners.iter().any(|l| l.name == name) {
                    return err(format!(
                        "inter.broker.listener.name: {name} is not one of the listeners"
                    ));
                }
                if controller_listener_names.contains(&name) {
                    return err(format!(
                        "inter.broker.listener.name: {name} is a controller listener"
                    ));
                }
                name
            }
        };
        let advertised = Self::advertised(&get("advertised.listeners"), &listeners)?;
        let voters = parse_voters(&get("controller.quorum.voters"))?;
        if process_roles_set && !roles.controller && voters.iter().any(|v| v.node_id == node_id) {
            return err(format!(
                "controller.quorum.voters names this node ({node_id}), but process.roles does not contain controller"
            ));
        }
        if process_roles_set && !(roles.broker && roles.controller) && voters.is_empty() {
            return err(format!(
                "process.roles={}: a broker-only or controller-only node needs controller.quorum.voters (kfk runs static quorums)",
                get("process.roles").trim()
            ));
        }
        if !voters.is_empty() && roles.controller && !voters.iter().any(|v| v.node_id == node_id) {
            return err(format!(
                "controller.quorum.voters does not name this node ({node_id}), but process.roles contains controller"
            ));
        }
        if roles.controller
            && !voters.is_empty()
            && voters.iter().any(|v| v.node_id != node_id)
            && controller_listener_names.is_empty()
        {
            return err("controller.listener.names must name a listener when controller.quorum.voters names several nodes".into());
        }
        let bootstrap_servers: Vec<String> = get("controller.quorum.bootstrap.servers")
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if !voters.is_empty() && !bootstrap_servers.is_empty() {
            return err(
                "set controller.quorum.voters or controller.quorum.bootstrap.servers, not both"
                    .into(),
            );
        }
        if process_roles_set && voters.is_empty() && bootstrap_servers.is_empty() {
            return err("process.roles needs controller.quorum.voters or controller.quorum.bootstrap.servers".into());
        }
        Ok(Network {
            listeners,
            advertised,
            roles,
            controller_listener_names,
            inter_broker_listener_name,
            voters,
            bootstrap_servers,
        })
    }

    /// For each listener, what it advertises: its `advertised.listeners` entry, else itself.
    fn advertised(value: &str, listeners: &[Listener]) -> Result<Vec<Listener>, ConfigError> {
        let given = if value.trim().is_empty() {
            Vec::new()
        } else {
            parse_listeners("advertised.listeners", value)?
        };
        for a in &given {
            if !listeners.iter().any(|l| l.name == a.name) {
                return Err(ConfigError(format!(
                    "advertised.listeners: {} is not one of the listeners",
                    a.name
                )));
            }
        }
        let effective: Vec<Listener> = listeners
            .iter()
            .map(|l| given.iter().find(|a| a.name == l.name).unwrap_or(l).clone())
            .collect();
        if effective.iter().any(|a| a.host == "0.0.0.0") {
            return Err(ConfigError(
                "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address (or set advertised.listeners when a listener binds 0.0.0.0)".into(),
            ));
        }
        Ok(effective)
    }
}

fn parse_protocol_map(value: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (name, protocol) = pair.split_once(':').ok_or_else(|| {
                ConfigError(format!(
                    "listener.security.protocol.map: {pair:?} is not NAME:PROTOCOL"
                ))
            })?;
            Ok((
                name.trim().to_ascii_uppercase(),
                protocol.trim().to_ascii_uppercase(),
            ))
        })
        .collect()
}

fn parse_voters(value: &str) -> Result<Vec<QuorumVoter>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|v| {
            let bad = || {
                ConfigError(format!(
                    "controller.quorum.voters: {v:?} is not of the form id@host:port"
                ))
            };
            let (id, address) = v.split_once('@').ok_or_else(bad)?;
            let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
            Ok(QuorumVoter {
                node_id: id.trim().parse().map_err(|_| bad())?,
                host: host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
                port: port.parse().map_err(|_| bad())?,
            })
        })
        .collect()
}

fn socket_buffer(key: &str, get: &dyn Fn(&str) -> String) -> Result<i32, ConfigError> {
    let v: i32 = parse_num(key, &get(key))?;
    if v < -1 {
        return Err(ConfigError(format!(
            "invalid value {v} for {key}: -1 (the OS default) or a size in bytes"
        )));
    }
    Ok(v)
}

fn parse_listeners(key: &str, value: &str) -> Result<Vec<Listener>, ConfigError> {
    let list: Vec<Listener> = value
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| Listener::parse(s.trim()))
        .collect::<Result<_, _>>()
        .map_err(|e| ConfigError(format!("{key}: {e}")))?;
    if list.is_empty() {
        return Err(ConfigError(format!(
            "{key} must name at least one listener"
        )));
    }
    Ok(list)
}

/// Topic-config defaults from broker keys, with `log.retention.{ms,minutes,hours}` and
/// `log.roll.{ms,hours}` resolved by Kafka's precedence.
fn topic_defaults(raw: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for d in TOPIC_CONFIGS {
        if let Some(v) = raw.get(d.broker_name) {
            validate_topic_config(d.name, v).map_err(|e| {
                ConfigError(format!(
                    "invalid value {v:?} for {}: {}",
                    d.broker_name, e.reason
                ))
            })?;
            out.insert(d.name.to_string(), v.clone());
        }
    }
    let ms_of = |key: &str, unit_ms: i64| -> Result<Option<i64>, ConfigError> {
        match raw.get(key) {
            None => Ok(None),
            Some(v) => {
                let n: i64 = parse_num(key, v)?;
                Ok(Some(if n < 0 { -1 } else { n.saturating_mul(unit_ms) }))
            }
        }
    };
    let retention = match ms_of("log.retention.ms", 1)? {
        Some(v) => Some(v),
        None => match ms_of("log.retention.minutes", 60_000)? {
            Some(v) => Some(v),
            None => ms_of("log.retention.hours", 3_600_000)?,
        },
    };
    if let Some(v) = retention {
        out.insert("retention.ms".into(), v.to_string());
    }
    let roll = match ms_of("log.roll.ms", 1)? {
        Some(v) => Some(v),
        None => ms_of("log.roll.hours", 3_600_000)?,
    };
    if let Some(v) = roll {
        out.insert("segment.ms".into(), v.max(1).to_string());
    }
    debug_assert!(out.keys().all(|k| topic_config(k).is_some()));
    Ok(out)
}

fn read_config_file(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    let is_properties = path.extension().is_some_and(|e| e == "properties");
    if is_properties {
        return parse_properties(path, &text);
    }
    match text.parse::<toml::Table>() {
        Ok(table) => {
            let mut out = BTreeMap::new();
            flatten_toml("", &toml::Value::Table(table), &mut out)
                .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
            Ok(out)
        }
        Err(toml_err) if path.extension().is_some_and(|e| e == "toml") => {
            Err(ConfigError(format!("{}: {toml_err}", path.display())))
        }
        Err(_) => parse_properties(path, &text),
    }
}

fn flatten_toml(
    prefix: &str,
    value: &toml::Value,
    out: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    let text = match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_toml(&key, v, out)?;
            }
            return Ok(());
        }
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => items
            .iter()
            .map(|i| match i {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(n) => Ok(n.to_string()),
                other => Err(format!("{prefix}: unsupported list item {other}")),
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(","),
        toml::Value::Datetime(d) => d.to_string(),
    };
    out.insert(prefix.to_string(), text);
    Ok(())
}

fn parse_properties(path: &Path, text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    crate::properties::parse(text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_safe_single_node() {
        let c = BrokerConfig::default();
        assert_eq!(
            c.listeners,
            vec![Listener {
                name: "PLAINTEXT".into(),
                host: "localhost".into(),
                port: 9092
            }]
        );
        assert_eq!(c.log_dirs, vec![PathBuf::from("./kfk-data")]);
        assert_eq!(c.node_id, 1);
        assert_eq!(c.group_initial_rebalance_delay_ms, 0);
    }

    #[test]
    fn toml_dotted_and_quoted_keys_and_properties_both_work() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("kfk.toml");
        std::fs::write(
            &toml_path,
            "\"log.dir\" = \"/tmp/x\"\nlog.retention.hours = 1\nnum.partitions = 3\n",
        )
        .unwrap();
        let c = BrokerConfig::load(Some(&toml_path), &["num.partitions=5".into()]).unwrap();
        assert_eq!(c.log_dirs, vec![PathBuf::from("/tmp/x")]);
        assert_eq!(c.topic_defaults["retention.ms"], "3600000");
        assert_eq!(c.num_partitions, 5, "overrides win over the file");
        let props = dir.path().join("server.properties");
        std::fs::write(
            &props,
            "# comment\nlog.dirs=/a,/b\nnum.io.threads=8\nlisteners = PLAINTEXT://127.0.0.1:0\n",
        )
        .unwrap();
        let c = BrokerConfig::load(Some(&props), &[]).unwrap();
        assert_eq!(c.log_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(c.unused_keys, vec!["num.io.threads".to_string()]);
        assert_eq!(c.listeners[0].port, 0);
    }

    fn load(pairs: &[&str]) -> Result<BrokerConfig, ConfigError> {
        let overrides: Vec<String> = pairs.iter().map(|s| s.to_string()).collect();
        BrokerConfig::load(None, &overrides)
    }

    /// Kafka 4's shipped single-node `config/server.properties` (its keys and values).
    const KAFKA_4_SINGLE_NODE: &[&str] = &[
        "process.roles=broker,controller",
        "node.id=1",
        "controller.quorum.bootstrap.servers=localhost:9093",
        "listeners=PLAINTEXT://:9092,CONTROLLER://:9093",
        "inter.broker.listener.name=PLAINTEXT",
        "advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
    ];

    #[test]
    fn kafka_4s_single_node_server_properties_is_one_combined_node() {
        let c = load(KAFKA_4_SINGLE_NODE).unwrap();
        assert_eq!(
            c.process_roles,
            ProcessRoles {
                broker: true,
                controller: true
            }
        );
        let names: Vec<&str> = c.listeners.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["PLAINTEXT", "CONTROLLER"]);
        assert!(c.listeners.iter().all(|l| l.host.is_empty()));
        assert_eq!(c.controller_listener_names, ["CONTROLLER"]);
        assert_eq!(c.inter_broker_listener_name, "PLAINTEXT");
        assert_eq!(c.quorum_bootstrap_servers, ["localhost:9093"]);
        let advertised: Vec<(&str, u16)> = c
            .advertised_listeners
            .iter()
            .map(|l| (l.host.as_str(), l.port))
            .collect();
        assert_eq!(advertised, [("localhost", 9092), ("localhost", 9093)]);

        // The older static-quorum form.
        let mut voters = KAFKA_4_SINGLE_NODE.to_vec();
        voters[2] = "controller.quorum.voters=1@localhost:9093";
        let c = load(&voters).unwrap();
        assert_eq!(
            c.quorum_voters,
            [QuorumVoter {
                node_id: 1,
                host: "localhost".into(),
                port: 9093
            }]
        );
    }

    #[test]
    fn listener_and_quorum_mistakes_are_refused_naming_the_key() {
        let refused = |pairs: &[&str], mentions: &str| {
            let err = load(pairs).unwrap_err();
            assert!(err.0.contains(mentions), "{pairs:?}: {err}");
        };
        refused(
            &["listeners=PLAINTEXT://0.0.0.0:9092"],
            "nonroutable meta-address 0.0.0.0",
        );
        refused(
            &[
                "listeners=PLAINTEXT://:9092",
                "advertised.listeners=PLAINTEXT://0.0.0.0:9092",
            ],
            "nonroutable meta-address 0.0.0.0",
        );
        refused(
            &["listeners=PLAINTEXT://:9092,EXTERNAL://:9094"],
            "EXTERNAL has no security protocol",
        );
        refused(
            &[
                "listeners=PLAINTEXT://:9092",
                "advertised.listeners=OTHER://h:1",
            ],
            "advertised.listeners: OTHER",
        );
        refused(
            &[
                "process.roles=broker,controller",
                "controller.quorum.voters=1@localhost:9093",
            ],
            "controller.listener.names",
        );
        refused(
            &[
                "process.roles=broker,controller",
                "node.id=3",
                "listeners=PLAINTEXT://:9092,CONTROLLER://:9093",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "controller.quorum.voters=1@a:9093,2@b:9093",
            ],
            "does not name this node (3)",
        );
        refused(&["process.roles=broker"], "controller.listener.names");
        refused(
            &[
                "process.roles=broker",
                "node.id=4",
                "listeners=PLAINTEXT://:9092",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "controller.quorum.voters=4@a:9093",
            ],
            "does not contain controller",
        );
        refused(
            &[
                "listeners=PLAINTEXT://:9092",
                "inter.broker.listener.name=REPLICATION",
            ],
            "inter.broker.listener.name",
        );
    }

    #[test]
    fn an_empty_host_with_an_advertised_name_and_extra_named_listeners_are_accepted() {
        let c = load(&[
            "listeners=PLAINTEXT://0.0.0.0:9092,EXTERNAL://:9094",
            "advertised.listeners=PLAINTEXT://broker1:9092",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT",
        ])
        .unwrap();
        assert_eq!(c.advertised_listeners[0].host, "broker1");
        assert_eq!(
            c.advertised_listeners[1].host, "",
            "advertises the host name"
        );
        assert_eq!(c.inter_broker_listener_name, "PLAINTEXT");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let err = BrokerConfig::load(None, &["no.such.key=1".into()]).unwrap_err();
        assert!(err.0.contains("no.such.key"), "{err}");
        let err = BrokerConfig::load(None, &["num.partitions=many".into()]).unwrap_err();
        assert!(err.0.contains("num.partitions"), "{err}");
        let err = BrokerConfig::load(None, &["log.segment.bytes=-5".into()]).unwrap_err();
        assert!(err.0.contains("log.segment.bytes"), "{err}");
        let err = BrokerConfig::load(None, &["listeners=SSL://localhost:9093".into()]).unwrap_err();
        assert!(err.0.contains("PLAINTEXT"), "{err}");
    }
}
