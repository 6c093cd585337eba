//! The broker: listener, per-connection tasks, request dispatch (`handlers/`, one file per
//! API family), the partitions map and cluster metadata, config.
//!
//! [`start`] opens the data dirs (recovering after an unclean stop), replays the metadata
//! log, binds the listeners and runs until [`RunningBroker::shutdown`]: stop accepting, let
//! in-flight requests finish, then close every log (flush, checkpoints, clean-shutdown
//! marker). [`run`] does that for `kfk broker start`, stopping on SIGINT/SIGTERM.

pub mod config;
pub mod connection;
pub mod handlers;
pub mod metadata;
pub mod partition;
pub mod server;
pub mod splice;

use crate::group::{Coordinator, GroupConfig, GroupRecord, OffsetsLog, OFFSETS_TOPIC};
use crate::log::manager::LogManager;
use crate::log::{checkpoint, LogConfig, LogFs, OsFs};
use crate::protocol::ErrorCode;
use config::BrokerConfig;
use metadata::{
    is_internal_topic, now_ms, validate_topic_name, MetadataStore, TopicMeta, METADATA_TOPIC,
};
use partition::Partition;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use tokio::sync::{watch, Semaphore};

/// Shared state of a running broker.
#[derive(Debug)]
pub struct Broker {
    pub config: BrokerConfig,
    pub cluster_id: String,
    pub node_id: i32,
    /// Every bound listener, in the order of `listeners`.
    pub listeners: Vec<ListenerState>,
    pub logs: Arc<LogManager>,
    pub metadata: MetadataStore,
    partitions: RwLock<HashMap<(String, i32), Arc<Partition>>>,
    /// `queued.max.request.bytes`: bytes of requests being read or handled, in KiB permits.
    pub request_bytes: Arc<Semaphore>,
    /// `queued.max.requests`: requests being handled at once.
    pub request_slots: Arc<Semaphore>,
    /// `max.connections`.
    pub connection_slots: Arc<Semaphore>,
    /// The group coordinator (every group's `__consumer_offsets` partition is local).
    pub groups: Coordinator,
    /// Serializes the lazy creation of `__consumer_offsets`.
    offsets_topic_creation: std::sync::Mutex<()>,
    shutdown: watch::Sender<bool>,
    /// Set when the broker halts on a failure it must not serve through (a failed log dir
    /// holding the metadata log, or the only log dir): why.
    halted: watch::Sender<Option<String>>,
}

/// A listener of a running broker: what it advertises and whether it serves the
/// controller's APIs only (`controller.listener.names`).
#[derive(Debug)]
pub struct ListenerState {
    pub name: String,
    pub controller: bool,
    /// The advertised host: the listener's (or its `advertised.listeners` entry), the
    /// machine's canonical host name for an empty host.
    pub advertised_host: String,
    /// The advertised port (with port 0, the bound port once bound).
    advertised_port: std::sync::atomic::AtomicU16,
}

impl ListenerState {
    pub fn advertised_port(&self) -> u16 {
        self.advertised_port
            .load(std::sync::atomic::Ordering::Acquire)
    }
}

/// A broker started by [`start`].
#[derive(Debug)]
pub struct RunningBroker {
    pub broker: Arc<Broker>,
    pub addrs: Vec<SocketAddr>,
    server: tokio::task::JoinHandle<()>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Broker {
    pub fn partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(topic.to_string(), index))
            .cloned()
    }

    pub fn partitions_of(&self, topic: &str) -> Vec<Arc<Partition>> {
        let map = self.partitions.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<Arc<Partition>> =
            map.values().filter(|p| p.topic == topic).cloned().collect();
        out.sort_by_key(|p| p.index);
        out
    }

    pub fn all_partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Stops serving at once, as Kafka halts on a failed log dir it cannot do without:
    /// nothing more is acknowledged, and no clean-shutdown marker is written, so the next
    /// start recovers the logs. [`run`] exits the process with status 1.
    pub fn halt(&self, reason: String) {
        tracing::error!("halting the broker: {reason}");
        self.halted.send_replace(Some(reason));
        let _ = self.shutdown.send(true);
    }

    /// Why the broker halted, if it did.
    pub fn halted(&self) -> Option<String> {
        self.halted.borrow().clone()
    }

    /// What a failed log dir means: the broker halts when the dir is its only one or holds
    /// the metadata log; otherwise the dir's partitions answer KAFKA_STORAGE_ERROR.
    fn log_dir_failed(&self, dir: &std::path::Path, what: &str) {
        let holds_metadata = self.logs.dir_of(METADATA_TOPIC, 0).as_deref() == Some(dir);
        if self.logs.online_dirs().is_empty() || holds_metadata {
            self.halt(format!(
                "log dir {} failed ({what}){}",
                dir.display(),
                if holds_metadata {
                    " and it holds the metadata log"
                } else {
                    ", and no log dir is left"
                }
            ));
        } else {
            tracing::error!(
                dir = %dir.display(),
                "log dir offline ({what}): its partitions answer KAFKA_STORAGE_ERROR until a restart"
            );
        }
    }

    /// Broker-level topic defaults (config file and dynamic broker configs), then the
    /// topic's own overrides.
    pub fn effective_topic_configs(
        &self,
        overrides: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut values = self.config.topic_defaults.clone();
        for (k, v) in self.metadata.broker_configs() {
            if let Some(d) = crate::log::config::TOPIC_CONFIGS
                .iter()
                .find(|d| d.broker_name == k)
            {
                values.insert(d.name.to_string(), v);
            }
        }
        values.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        values
    }

    pub fn log_config_for(&self, topic: &TopicMeta) -> LogConfig {
        LogConfig::from_map(&self.effective_topic_configs(&topic.configs)).unwrap_or_else(|e| {
            tracing::warn!(topic = %topic.name, error = %e, "invalid stored topic config; using defaults");
            LogConfig::default()
        })
    }

    /// Creates the logs and partition objects of `topic` that do not exist yet.
    pub fn ensure_partitions(&self, topic: &TopicMeta) -> Result<(), ErrorCode> {
        let config = self.log_config_for(topic);
        let id = topic.id.to_string();
        for p in &topic.partitions {
            if self.partition(&topic.name, p.index).is_some() {
                continue;
            }
            let log = self
                .logs
                .get_or_create(&topic.name, p.index, config.clone(), &id)
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot create partition log");
                    ErrorCode::KAFKA_STORAGE_ERROR
                })?;
            let partition = Arc::new(Partition::new(
                &topic.name,
                p.index,
                topic.id,
                log,
                p.leader_epoch,
            ));
            self.partitions
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert((topic.name.clone(), p.index), partition);
        }
        Ok(())
    }

    /// Creates a topic for a client (metadata, then logs): Kafka's internal topics and the
    /// metadata topic are refused, as Kafka refuses them. Errors carry Kafka's code and a
    /// message.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<TopicMeta, (ErrorCode, String)> {
        if name == METADATA_TOPIC || is_internal_topic(name) {
            return Err((
                ErrorCode::INVALID_REQUEST,
                format!("Creation of internal topic {name} is prohibited."),
            ));
        }
        self.create_any_topic(name, partitions, replication_factor, configs, validate_only)
    }

    /// Creates a topic, internal ones included (the broker's own `__consumer_offsets`).
    fn create_any_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<TopicMeta, (ErrorCode, String)> {
        validate_topic_name(name).map_err(|m| (ErrorCode::INVALID_TOPIC_EXCEPTION, m))?;
        let partitions = if partitions == -1 {
            self.config.num_partitions
        } else {
            partitions
        };
        let rf = if replication_factor == -1 {
            self.config.default_replication_factor
        } else {
            replication_factor
        };
        if partitions < 1 {
            return Err((
                ErrorCode::INVALID_PARTITIONS,
                format!("number of partitions must be at least 1, not {partitions}"),
            ));
        }
        if rf < 1 {
            return Err((
                ErrorCode::INVALID_REPLICATION_FACTOR,
                format!("replication factor must be at least 1, not {rf}"),
            ));
        }
        if rf > 1 {
            return Err((
                ErrorCode::INVALID_REPLICATION_FACTOR,
                format!("replication factor {rf} is larger than the number of brokers (1)"),
            ));
        }
        for (k, v) in configs {
            crate::log::config::validate_topic_config(k, v)
                .map_err(|e| (ErrorCode::INVALID_CONFIG, e.to_string()))?;
        }
        if self.metadata.topic(name).is_some() {
            return Err((
                ErrorCode::TOPIC_ALREADY_EXISTS,
                format!("topic '{name}' already exists"),
            ));
        }
        if let Some(other) = self
            .metadata
            .topics()
            .into_iter()
            .find(|t| t.name != name && t.name.replace('.', "_") == name.replace('.', "_"))
        {
            return Err((
                ErrorCode::INVALID_TOPIC_EXCEPTION,
                format!(
                    "topic '{name}' collides with existing topic '{}'",
                    other.name
                ),
            ));
        }
        if validate_only {
            return Ok(TopicMeta {
                name: name.to_string(),
                id: crate::protocol::Uuid::ZERO,
                partitions: Vec::new(),
                configs: configs.clone(),
            });
        }
        let topic = self
            .metadata
            .create_topic(name, partitions, configs)
            .map_err(|c| (c, format!("cannot create topic '{name}'")))?;
        self.ensure_partitions(&topic)
            .map_err(|c| (c, "cannot create the partition logs".into()))?;
        tracing::info!(topic = name, partitions, id = %topic.id, "created topic");
        Ok(topic)
    }

    /// Deletes a topic: metadata first, then its logs. kfk keeps its internal topics (the
    /// group coordinator lives on `__consumer_offsets`; Kafka would delete it).
    pub fn delete_topic(&self, name: &str) -> Result<TopicMeta, (ErrorCode, String)> {
        if !self.config.delete_topic_enable {
            return Err((
                ErrorCode::TOPIC_DELETION_DISABLED,
                "topic deletion is disabled (delete.topic.enable=false)".into(),
            ));
        }
        if is_internal_topic(name) {
            return Err((
                ErrorCode::INVALID_REQUEST,
                format!("kfk does not delete the internal topic {name}"),
            ));
        }
        let topic = self
            .metadata
            .delete_topic(name)
            .map_err(|code| (code, format!("cannot delete topic '{name}'")))?;
        let removed: Vec<Arc<Partition>> = {
            let mut map = self.partitions.write().unwrap_or_else(|e| e.into_inner());
            topic
                .partitions
                .iter()
                .filter_map(|p| map.remove(&(name.to_string(), p.index)))
                .collect()
        };
        for p in removed {
            if let Err(e) = self.logs.delete(&p.topic, p.index) {
                tracing::error!(topic = name, partition = p.index, error = %e, "deleting the partition log failed");
            }
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(topic)
    }

    /// Applies changed topic configs to the running logs (no restart needed).
    pub fn reload_topic_configs(&self, name: &str) {
        if let Some(topic) = self.metadata.topic(name) {
            let config = self.log_config_for(&topic);
            for p in self.partitions_of(name) {
                p.log.lock().set_config(config.clone());
            }
        }
    }

    /// Creates `__consumer_offsets` (compacted, `offsets.topic.num.partitions` partitions)
    /// unless it exists.
    pub fn ensure_offsets_topic(&self) -> Result<(), ErrorCode> {
        if self.metadata.topic(OFFSETS_TOPIC).is_some() {
            return Ok(());
        }
        let _guard = self
            .offsets_topic_creation
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if self.metadata.topic(OFFSETS_TOPIC).is_some() {
            return Ok(());
        }
        let configs: BTreeMap<String, String> = [
            ("cleanup.policy", "compact"),
            ("segment.bytes", "104857600"),
            ("compression.type", "producer"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        match self.create_any_topic(
            OFFSETS_TOPIC,
            self.config.offsets_topic_num_partitions,
            1,
            &configs,
            false,
        ) {
            Ok(_) | Err((ErrorCode::TOPIC_ALREADY_EXISTS, _)) => Ok(()),
            Err((code, why)) => {
                tracing::error!(error = %why, "cannot create {OFFSETS_TOPIC}");
                Err(code)
            }
        }
    }

    /// `(node id, host, port)` of this broker as clients of `listener` must reach it (Kafka
    /// answers with the endpoint of the listener a request arrived on).
    pub fn endpoint(&self, listener: usize) -> (i32, String, i32) {
        let l = self.listeners.get(listener).unwrap_or(&self.listeners[0]);
        (
            self.node_id,
            l.advertised_host.clone(),
            i32::from(l.advertised_port()),
        )
    }
}

/// The coordinator's records go through the same append path as a produce.
impl OffsetsLog for Broker {
    fn append(&self, partition: i32, batch: bytes::Bytes) -> Result<(), ErrorCode> {
        let p = match self.partition(OFFSETS_TOPIC, partition) {
            Some(p) => p,
            None => {
                self.ensure_offsets_topic()?;
                self.partition(OFFSETS_TOPIC, partition)
                    .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?
            }
        };
        p.append_records(&batch, -1, now_ms()).map_err(|e| {
            tracing::error!(partition, error = %e, "appending to {OFFSETS_TOPIC} failed");
            e.code
        })?;
        Ok(())
    }
}

/// Reads or writes `meta.properties` in each log dir; returns the cluster id.
fn prepare_log_dirs(fs: &dyn LogFs, config: &BrokerConfig) -> Result<String, String> {
    let mut cluster_id: Option<String> = config.cluster_id.clone();
    for dir in &config.log_dirs {
        let created = !fs.exists(dir);
        fs.create_dir_all(dir)
            .map_err(|e| format!("cannot create log dir {}: {e}", dir.display()))?;
        if created {
            // A new log dir's entry survives a machine crash once its parent is synced.
            let parent = match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => std::path::Path::new("."),
            };
            fs.sync_dir(parent)
                .map_err(|e| format!("cannot sync {}: {e}", parent.display()))?;
        }
        let path = dir.join("meta.properties");
        if let Some(props) = checkpoint::read_properties(fs, &path).map_err(|e| e.to_string())? {
            if let Some(node) = props.get("node.id") {
                if node.parse::<i32>().ok() != Some(config.node_id) {
                    return Err(format!(
                        "{} belongs to node.id {node}, but this broker is node.id {}",
                        path.display(),
                        config.node_id
                    ));
                }
            }
            if let Some(id) = props.get("cluster.id") {
                match &cluster_id {
                    Some(existing) if existing != id => {
                        return Err(format!(
                            "{} has cluster.id {id}, expected {existing}",
                            path.display()
                        ))
                    }
                    _ => cluster_id = Some(id.clone()),
                }
            }
        }
    }
    let cluster_id = cluster_id.unwrap_or_else(|| metadata::random_uuid().to_string());
    for dir in &config.log_dirs {
        let path = dir.join("meta.properties");
        if !fs.exists(&path) {
            let text = format!("#\n#kfk meta.properties\nversion=1\ncluster.id={cluster_id}\nnode.id={}\ndirectory.id={}\n", config.node_id, metadata::random_uuid());
            fs.write_atomic(&path, text.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    Ok(cluster_id)
}

/// Opens the data dirs and metadata, binds the listeners and starts serving.
pub async fn start(config: BrokerConfig) -> Result<RunningBroker, String> {
    start_with_fs(config, Arc::new(OsFs)).await
}

/// [`start`] on a given file system (tests run brokers on a simulated, fault-injecting
/// disk). Needs tokio's multi-threaded runtime: request handlers move their file I/O off the
/// async workers with `block_in_place`, which a current-thread runtime cannot do.
pub async fn start_with_fs(
    config: BrokerConfig,
    fs: Arc<dyn LogFs>,
) -> Result<RunningBroker, String> {
    if tokio::runtime::Handle::current().runtime_flavor()
        != tokio::runtime::RuntimeFlavor::MultiThread
    {
        return Err("the kfk broker needs tokio's multi-threaded runtime (e.g. #[tokio::main] or Runtime::new()); a current-thread runtime cannot move its file I/O off the async workers".into());
    }
    if let Some(limit) = crate::log::manager::raise_open_files_limit() {
        if limit < 4096 {
            tracing::warn!(
                limit,
                "the open-files limit is low; many partitions or segments may exhaust it"
            );
        }
    }
    for key in &config.unused_keys {
        tracing::warn!(key = %key, "config key is known to Kafka but not used by kfk yet");
    }
    let cluster_id = prepare_log_dirs(fs.as_ref(), &config)?;
    let dirs = config.log_dirs.clone();
    let (logs, report) =
        tokio::task::spawn_blocking(move || LogManager::open(fs, dirs, &|_| LogConfig::default()))
            .await
            .map_err(|e| format!("opening the logs panicked: {e}"))?
            .map_err(|e| e.to_string())?;
    if !report.clean_shutdown {
        tracing::warn!(
            scanned = report.recovery.segments_scanned,
            truncated_bytes = report.recovery.bytes_truncated,
            "recovered after an unclean shutdown"
        );
    }
    let logs = Arc::new(logs);
    let metadata_log = logs
        .get_or_create(
            METADATA_TOPIC,
            0,
            MetadataStore::log_config(),
            "AAAAAAAAAAAAAAAAAAAAAQ",
        )
        .map_err(|e| e.to_string())?;
    let metadata = MetadataStore::open(metadata_log, config.node_id)?;
    let listeners = listener_states(&config);
    let (shutdown, _) = watch::channel(false);
    let groups = Coordinator::new(group_config(&config));
    let broker = Arc::new(Broker {
        cluster_id,
        node_id: config.node_id,
        listeners,
        request_bytes: Arc::new(Semaphore::new(
            (config.queued_max_request_bytes / 1024).clamp(1, Semaphore::MAX_PERMITS),
        )),
        request_slots: Arc::new(Semaphore::new(config.queued_max_requests)),
        connection_slots: Arc::new(Semaphore::new(
            config.max_connections.min(Semaphore::MAX_PERMITS),
        )),
        config,
        logs,
        metadata,
        partitions: RwLock::new(HashMap::new()),
        groups,
        offsets_topic_creation: std::sync::Mutex::new(()),
        shutdown,
        halted: watch::channel(None).0,
    });
    let watcher = Arc::downgrade(&broker);
    broker.logs.on_dir_failure(Box::new(move |dir, what| {
        if let Some(b) = watcher.upgrade() {
            b.log_dir_failed(dir, what);
        }
    }));
    load_partitions(&broker)?;
    let loader = broker.clone();
    tokio::task::spawn_blocking(move || load_groups(&loader))
        .await
        .map_err(|e| format!("loading the groups panicked: {e}"))??;
    let mut bound = Vec::new();
    let mut addrs = Vec::new();
    for (i, listener) in broker.config.listeners.iter().enumerate() {
        let b = server::bind(i, listener).await?;
        let port = b.addrs.first().map_or(listener.port, |a| a.port());
        let state = &broker.listeners[i];
        if state.advertised_port() == 0 {
            state
                .advertised_port
                .store(port, std::sync::atomic::Ordering::Release);
        }
        addrs.extend(b.addrs.iter().copied());
        bound.push(b);
    }
    let server = tokio::spawn(server::serve(broker.clone(), bound));
    let tasks = spawn_background_tasks(&broker);
    Ok(RunningBroker {
        broker,
        addrs,
        server,
        tasks,
    })
}

/// Each listener's advertised endpoint before binding (port 0 until bound).
fn listener_states(config: &BrokerConfig) -> Vec<ListenerState> {
    config
        .listeners
        .iter()
        .zip(&config.advertised_listeners)
        .map(|(l, a)| ListenerState {
            name: l.name.clone(),
            controller: config.controller_listener_names.contains(&l.name),
            advertised_host: if a.host.is_empty() {
                server::canonical_host_name()
            } else {
                a.host.clone()
            },
            advertised_port: std::sync::atomic::AtomicU16::new(a.port),
        })
        .collect()
}

fn group_config(c: &BrokerConfig) -> GroupConfig {
    GroupConfig {
        min_session_timeout_ms: c.group_min_session_timeout_ms,
        max_session_timeout_ms: c.group_max_session_timeout_ms,
        initial_rebalance_delay_ms: i64::try_from(c.group_initial_rebalance_delay_ms)
            .unwrap_or(i64::MAX),
        max_size: c.group_max_size,
        offsets_partitions: c.offsets_topic_num_partitions,
        offsets_retention_ms: c.offsets_retention_ms,
        offset_metadata_max_bytes: c.offset_metadata_max_bytes,
    }
}

/// Reads every `__consumer_offsets` partition from its start and replays the records into
/// the coordinator: committed offsets and group metadata survive a restart.
fn load_groups(broker: &Broker) -> Result<(), String> {
    let now = now_ms();
    let mut records = 0u64;
    for p in broker.partitions_of(OFFSETS_TOPIC) {
        p.log
            .scan_records(|header, r| {
                let Some(key) = r.key.filter(|_| !header.is_control()) else {
                    return Ok(());
                };
                match GroupRecord::decode(&key, r.value.as_ref()) {
                    Ok(Some(record)) => {
                        broker.groups.load(record, now);
                        records += 1;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(
                        partition = p.index,
                        offset = r.offset,
                        error = %e,
                        "skipping an unreadable {OFFSETS_TOPIC} record"
                    ),
                }
                Ok(())
            })
            .map_err(|e| format!("reading {OFFSETS_TOPIC}-{}: {e}", p.index))?;
    }
    if records > 0 {
        tracing::info!(
            records,
            groups = broker.groups.list().len(),
            "loaded groups and offsets from {OFFSETS_TOPIC}"
        );
    }
    Ok(())
}

/// Partition objects for every topic; partition dirs that the metadata does not know are
/// set aside as `-stray` directories (never deleted: the metadata may be what is wrong).
fn load_partitions(broker: &Arc<Broker>) -> Result<(), String> {
    let topics = broker.metadata.topics();
    for topic in &topics {
        broker
            .ensure_partitions(topic)
            .map_err(|c| format!("cannot open topic {}: {}", topic.name, c.name()))?;
        broker.reload_topic_configs(&topic.name);
    }
    for (topic, partition) in broker.logs.partitions() {
        let known = topic == METADATA_TOPIC
            || topics
                .iter()
                .any(|t| t.name == topic && t.partitions.iter().any(|p| p.index == partition));
        if !known {
            match broker.logs.set_aside_stray(&topic, partition) {
                Ok(Some(path)) => tracing::warn!(
                    topic = %topic,
                    partition,
                    path = %path.display(),
                    "the metadata does not know this partition: its log is set aside as a stray directory"
                ),
                Ok(None) => {}
                Err(e) => {
                    return Err(format!(
                        "cannot set aside the stray log of {topic}-{partition}: {e}"
                    ))
                }
            }
        }
    }
    Ok(())
}

fn spawn_background_tasks(broker: &Arc<Broker>) -> Vec<tokio::task::JoinHandle<()>> {
    let every = |ms: u64, b: &Arc<Broker>, job: fn(&Broker)| {
        let b = b.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(ms));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut stop = b.shutdown_signal();
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                let b2 = b.clone();
                let _ = tokio::task::spawn_blocking(move || job(&b2)).await;
            }
        })
    };
    let c = &broker.config;
    let mut tasks = vec![
        every(c.flush_scheduler_interval_ms, broker, |b| {
            if let Err(e) = b.logs.flush_due(now_ms()) {
                tracing::error!(error = %e, "scheduled flush failed");
            }
        }),
        every(c.retention_check_interval_ms, broker, |b| {
            let hw =
                |tp: &(String, i32)| b.partition(&tp.0, tp.1).map_or(0, |p| p.high_watermark());
            match b.logs.enforce_retention(now_ms(), &hw) {
                Ok(n) if n > 0 => tracing::info!(segments = n, "retention deleted segments"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "retention failed"),
            }
        }),
        every(c.checkpoint_interval_ms, broker, |b| {
            if let Err(e) = b.logs.checkpoint() {
                tracing::error!(error = %e, "writing checkpoints failed");
            }
        }),
    ];
    tasks.push(every(100, broker, |b| b.groups.tick(b, now_ms())));
    tasks.push(every(c.offsets_retention_check_interval_ms, broker, |b| {
        let n = b.groups.expire_offsets(b, now_ms());
        if n > 0 {
            tracing::info!(offsets = n, "expired committed offsets");
        }
    }));
    tasks.push(every(
        c.producer_id_expiration_check_interval_ms,
        broker,
        |b| {
            let n = b
                .logs
                .remove_expired_producers(now_ms(), b.config.producer_id_expiration_ms);
            if n > 0 {
                tracing::info!(producers = n, "expired idle producer ids");
            }
        },
    ));
    if c.cleaner_enable {
        tasks.push(every(c.cleaner_backoff_ms, broker, |b| {
            if let Err(e) = b.logs.compact(now_ms(), b.config.cleaner_memory) {
                tracing::error!(error = %e, "compaction failed");
            }
        }));
    }
    tasks
}

impl RunningBroker {
    /// The first bound address (with port 0, the port the OS chose).
    pub fn local_addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Stops accepting, lets in-flight requests finish (up to 5 s), then closes every log:
    /// flush, checkpoints, clean-shutdown marker.
    pub async fn shutdown(self) -> Result<(), String> {
        let _ = self.broker.shutdown.send(true);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.server).await;
        for t in self.tasks {
            let _ = t.await;
        }
        if let Some(reason) = self.broker.halted() {
            return Err(format!("the broker halted: {reason}"));
        }
        let logs = self.broker.logs.clone();
        tokio::task::spawn_blocking(move || logs.shutdown())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("clean shutdown failed: {e}"))
    }
}

/// `kfk broker start`: runs until SIGINT or SIGTERM, then shuts down cleanly.
pub async fn run(config: BrokerConfig) -> Result<(), String> {
    let dirs: Vec<String> = config
        .log_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    let started = std::time::Instant::now();
    // Handlers first: a SIGTERM that arrives once the start line is printed must find them
    // (before they exist, the default action would kill the process uncleanly).
    let mut stop = StopSignals::install().map_err(|e| format!("cannot handle signals: {e}"))?;
    let running = start(config).await?;
    let b = &running.broker;
    let listeners: Vec<String> = running.addrs.iter().map(|a| a.to_string()).collect();
    let advertised: Vec<String> = b
        .listeners
        .iter()
        .map(|l| {
            format!(
                "{}://{}:{}{}",
                l.name,
                l.advertised_host,
                l.advertised_port(),
                if l.controller { " (controller)" } else { "" }
            )
        })
        .collect();
    eprintln!(
        "kfk broker {} started in {} ms: node.id {}, cluster.id {}, data in {}, listening on {} (advertised as {})",
        env!("CARGO_PKG_VERSION"),
        started.elapsed().as_millis(),
        b.node_id,
        b.cluster_id,
        dirs.join(","),
        listeners.join(", "),
        advertised.join(", ")
    );
    let mut halted = b.halted.subscribe();
    tokio::select! {
        _ = stop.recv() => {}
        _ = halted.wait_for(Option::is_some) => {}
    }
    if let Some(reason) = b.halted() {
        // As Kafka's Exit.halt: no clean shutdown, the next start recovers the logs.
        eprintln!("kfk broker: halted: {reason}");
        std::process::exit(1);
    }
    eprintln!("kfk broker: shutting down");
    running.shutdown().await?;
    eprintln!("kfk broker: stopped cleanly");
    Ok(())
}

/// SIGTERM and SIGINT, handled from the moment they are installed.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> std::io::Result<StopSignals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
