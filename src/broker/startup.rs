//! Start-up, timers and shutdown of a broker.
//!
//! [`start`] checks the data dirs (`meta.properties`), opens every log (recovering after an
//! unclean stop), replays the metadata log and reacts to it (opening each partition, setting
//! aside logs the metadata does not know), loads the groups from `__consumer_offsets`, binds
//! the listeners and starts the periodic work. [`RunningBroker::shutdown`] stops accepting, lets
//! in-flight requests finish, then closes every log (flush, checkpoints, clean-shutdown
//! marker). [`run`] does that for `kfk broker start`, stopping on SIGINT/SIGTERM and exiting
//! with status 1 if the broker halts.

use super::config::BrokerConfig;
use super::{server, Broker, BrokerError, ListenerState};
use crate::group::{Coordinator, GroupConfig, GroupRecord, OFFSETS_TOPIC};
use crate::log::io::{DirLock, LOCK_FILE};
use crate::log::manager::LogManager;
use crate::log::{checkpoint, LogConfig, LogFs, OsFs};
use crate::metadata::{MetadataChange, MetadataStore, METADATA_TOPIC};
use crate::protocol::Uuid;
use crate::replication::{ReplicaContext, ReplicaManager};
use crate::time::now_ms;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{watch, Semaphore};

/// A broker started by [`start`].
#[derive(Debug)]
pub struct RunningBroker {
    pub broker: Arc<Broker>,
    pub addrs: Vec<SocketAddr>,
    server: tokio::task::JoinHandle<()>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The log dirs' `.lock`s, released once the logs are closed.
    _dir_locks: Vec<DirLock>,
}

/// The log dirs, prepared: the cluster id, whether it was made up here (no formatted dir, no
/// `cluster.id`), and the dirs' locks, held while the broker runs.
struct PreparedDirs {
    cluster_id: String,
    cluster_id_was_random: bool,
    locks: Vec<DirLock>,
}

/// Creates each log dir, locks it (`.lock`, as Kafka: a second broker on the same dir, kfk or
/// Kafka, is refused before it reads or writes anything there), and reads or writes its
/// `meta.properties`.
fn prepare_log_dirs(fs: &dyn LogFs, config: &BrokerConfig) -> Result<PreparedDirs, BrokerError> {
    let storage = |m: String| BrokerError::Storage(m);
    let mut cluster_id: Option<String> = config.cluster_id.clone();
    let mut locks = Vec::with_capacity(config.log_dirs.len());
    for dir in &config.log_dirs {
        let created = !fs.exists(dir);
        fs.create_dir_all(dir)
            .map_err(|e| storage(format!("cannot create log dir {}: {e}", dir.display())))?;
        if created {
            // A new log dir's entry survives a machine crash once its parent is synced.
            let parent = match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => std::path::Path::new("."),
            };
            fs.sync_dir(parent)
                .map_err(|e| storage(format!("cannot sync {}: {e}", parent.display())))?;
        }
        let lock = fs.lock_dir(dir).map_err(|e| {
            storage(format!(
                "cannot lock file {LOCK_FILE} in {}: {e}",
                dir.display()
            ))
        })?;
        let Some(lock) = lock else {
            return Err(storage(format!(
                "Failed to acquire lock on file {LOCK_FILE} in {}. A Kafka instance in another process or thread is using this directory.",
                dir.display()
            )));
        };
        locks.push(lock);
        let path = dir.join("meta.properties");
        let props = checkpoint::read_properties(fs, &path).map_err(|e| storage(e.to_string()))?;
        let Some(props) = props else { continue };
        if let Some(node) = props.get("node.id") {
            if node.parse::<i32>().ok() != Some(config.node_id) {
                return Err(BrokerError::Config(format!(
                    "{} belongs to node.id {node}, but this broker is node.id {}",
                    path.display(),
                    config.node_id
                )));
            }
        }
        if let Some(id) = props.get("cluster.id") {
            match &cluster_id {
                Some(existing) if existing != id => {
                    return Err(BrokerError::Config(format!(
                        "{} has cluster.id {id}, expected {existing}",
                        path.display()
                    )))
                }
                _ => cluster_id = Some(id.clone()),
            }
        }
    }
    let made_up = cluster_id.is_none();
    let cluster_id = cluster_id.unwrap_or_else(|| Uuid::random().to_string());
    let prepared = PreparedDirs {
        cluster_id,
        cluster_id_was_random: made_up,
        locks,
    };
    if made_up && config.is_cluster() {
        return Ok(prepared);
    }
    let cluster_id = &prepared.cluster_id;
    for dir in &config.log_dirs {
        let path = dir.join("meta.properties");
        if !fs.exists(&path) {
            let text = format!(
                "#\n#kfk meta.properties\nversion=1\ncluster.id={cluster_id}\nnode.id={}\ndirectory.id={}\n",
                config.node_id,
                Uuid::random()
            );
            fs.write_atomic(&path, text.as_bytes())
                .map_err(|e| storage(format!("cannot write {}: {e}", path.display())))?;
        }
    }
    Ok(prepared)
}

/// Opens the data dirs and metadata, binds the listeners and starts serving.
pub async fn start(config: BrokerConfig) -> Result<RunningBroker, BrokerError> {
    start_with_fs(config, Arc::new(OsFs)).await
}

/// [`start`] on a given file system (tests run brokers on a simulated, fault-injecting
/// disk). Needs tokio's multi-threaded runtime: request handlers move their file I/O off the
/// async workers with `block_in_place`, which a current-thread runtime cannot do.
pub async fn start_with_fs(
    config: BrokerConfig,
    fs: Arc<dyn LogFs>,
) -> Result<RunningBroker, BrokerError> {
    if tokio::runtime::Handle::current().runtime_flavor()
        != tokio::runtime::RuntimeFlavor::MultiThread
    {
        return Err(BrokerError::Config("the kfk broker needs tokio's multi-threaded runtime (e.g. #[tokio::main] or Runtime::new()); a current-thread runtime cannot move its file I/O off the async workers".into()));
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
    let PreparedDirs {
        cluster_id,
        cluster_id_was_random,
        locks: dir_locks,
    } = prepare_log_dirs(fs.as_ref(), &config)?;
    let dirs = config.log_dirs.clone();
    let (logs, report) =
        tokio::task::spawn_blocking(move || LogManager::open(fs, dirs, &|_| LogConfig::default()))
            .await
            .map_err(|e| BrokerError::Storage(format!("opening the logs panicked: {e}")))?
            .map_err(|e| BrokerError::Storage(e.to_string()))?;
    if !report.clean_shutdown {
        tracing::warn!(
            scanned = report.recovery.segments_scanned,
            truncated_bytes = report.recovery.bytes_truncated,
            "recovered after an unclean shutdown"
        );
    }
    let metadata_log = logs
        .get_or_create(
            METADATA_TOPIC,
            0,
            MetadataStore::log_config(),
            "AAAAAAAAAAAAAAAAAAAAAQ",
        )
        .map_err(|e| BrokerError::Storage(e.to_string()))?;
    // Kafka 4's single-node config (bootstrap servers naming this node) runs as a single
    // node, unless the node was formatted as a dynamic quorum's founder (--standalone,
    // --initial-controllers) or already ran as one.
    let founder = config.bootstraps_only_itself() && {
        let dir = metadata_log.lock().dir().to_path_buf();
        dir.join("00000000000000000000-0000000000.checkpoint")
            .exists()
            || dir.join("quorum-state").exists()
    };
    let (metadata, changes) = if config.is_cluster() || founder {
        if cluster_id_was_random {
            return Err(BrokerError::Config(
                "this node is one of several controllers (controller.quorum.voters) but its data dir is not formatted: run `kfk storage format -t <cluster id> -c <config>` on every node with the same cluster id".into(),
            ));
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let image = MetadataStore::new_image();
        let static_voters: Vec<(u64, String)> = config
            .quorum_voters
            .iter()
            .map(|v| (v.node_id as u64, format!("{}:{}", v.host, v.port)))
            .collect();
        // A dynamic quorum starts from the voters `kfk storage format` wrote into the
        // bootstrap snapshot (none with --no-initial-controllers: the node waits to be
        // added); later ones come from the log.
        let voters = if static_voters.is_empty() {
            initial_dynamic_voters(metadata_log.lock().dir()).map_err(BrokerError::Metadata)?
        } else {
            static_voters.clone()
        };
        let settings = crate::metadata::quorum::QuorumSettings {
            cluster_id: cluster_id.clone(),
            election_timeout_ms: config.quorum_election_timeout_ms,
            fetch_timeout_ms: config.quorum_fetch_timeout_ms,
            snapshot_every_bytes: config.metadata_snapshot_bytes,
            retention_bytes: config.metadata_retention_bytes,
        };
        let quorum = crate::metadata::quorum::start(
            config.node_id as u64,
            &voters,
            metadata_log,
            &settings,
            super::raft_network::Network::new(static_voters.into_iter().collect()),
            image.clone(),
            tx,
        )
        .await
        .map_err(BrokerError::Metadata)?;
        (
            MetadataStore::with_quorum(quorum, image, config.node_id),
            Some(rx),
        )
    } else {
        let m = MetadataStore::open(metadata_log, config.node_id).map_err(BrokerError::Metadata)?;
        (m, None)
    };
    let listeners = listener_states(&config);
    let groups = Coordinator::new(group_config(&config));
    let metadata = Arc::new(metadata);
    let shutdown = watch::channel(false).0;
    let request_slots = Arc::new(Semaphore::new(config.queued_max_requests));
    let replicas = ReplicaManager::with_context(
        Arc::new(logs),
        ReplicaContext {
            node_id: config.node_id,
            metadata: Some(metadata.clone()),
            stop: Some(shutdown.subscribe()),
            read_slots: Some(request_slots.clone()),
            fetch_max_bytes: config.fetch_max_bytes,
            rack: config.rack.clone(),
            rack_aware_selector: config.rack_aware_replica_selector,
            file_configs: config.raw.clone(),
        },
    );
    let broker = Arc::new(Broker {
        cluster_id,
        node_id: config.node_id,
        listeners,
        request_bytes: Arc::new(Semaphore::new(
            (config.queued_max_request_bytes / 1024).clamp(1, Semaphore::MAX_PERMITS),
        )),
        request_slots,
        connection_slots: Arc::new(Semaphore::new(
            config.max_connections.min(Semaphore::MAX_PERMITS),
        )),
        config,
        replicas,
        metadata,
        groups,
        control: Default::default(),
        metrics: Default::default(),
        offsets_topic_creation: std::sync::Mutex::new(()),
        shutdown,
        halted: watch::channel(None).0,
    });
    if !broker.is_cluster() || !broker.config.process_roles.broker {
        // Nothing to catch up with: a single node's metadata is its own.
        broker.control.caught_up.send_replace(true);
    }
    let watcher = Arc::downgrade(&broker);
    broker.replicas.on_dir_failure(Box::new(move |dir, what| {
        if let Some(b) = watcher.upgrade() {
            b.log_dir_failed(dir, what);
        }
    }));
    if let Some(q) = broker.metadata.quorum() {
        // Apply what this node knows is committed before opening partitions, so that a
        // restart starts from its own image.
        let committed = q.shared.state().committed;
        if let Some(target) = committed.and_then(|c| q.shared.offset_of_index(c.index)) {
            let mut applied = q.shared.watch_applied();
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                applied.wait_for(|a| *a >= target),
            )
            .await;
        }
    }
    let loader = broker.clone();
    let cluster = broker.is_cluster();
    tokio::task::spawn_blocking(move || {
        load_partitions(&loader, !cluster)?;
        // In a cluster a broker coordinates the groups of the offsets partitions it leads,
        // loaded as it becomes their leader.
        if cluster {
            Ok(())
        } else {
            load_groups(&loader)
        }
    })
    .await
    .map_err(|e| BrokerError::Storage(format!("loading the partitions panicked: {e}")))??;
    let mut bound = Vec::new();
    let mut addrs = Vec::new();
    for (i, listener) in broker.config.listeners.iter().enumerate() {
        let b = server::bind(i, listener)
            .await
            .map_err(BrokerError::Listen)?;
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
    let mut tasks = spawn_background_tasks(&broker);
    if let Some(addr) = broker.config.metrics_listener.clone() {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| BrokerError::Listen(format!("kfk.metrics.listener {addr}: {e}")))?;
        if let Ok(bound) = listener.local_addr() {
            tracing::info!(%bound, "serving Prometheus metrics at /metrics");
        }
        tasks.push(tokio::spawn(super::metrics::serve(
            broker.clone(),
            listener,
        )));
    }
    if let Some(mut rx) = changes {
        let b = broker.clone();
        tasks.push(tokio::spawn(async move {
            let mut stop = b.shutdown_signal();
            loop {
                let changes = tokio::select! {
                    c = rx.recv() => match c { Some(c) => c, None => return },
                    _ = stop.wait_for(|s| *s) => return,
                };
                if let Err(e) = tokio::task::block_in_place(|| b.react(&changes)) {
                    tracing::error!(error = %e, "applying a metadata change to the partitions failed");
                }
            }
        }));
        if broker.config.process_roles.controller {
            tasks.push(tokio::spawn(super::controller::run_controller_duties(
                broker.clone(),
            )));
        }
        if broker.config.process_roles.broker {
            tasks.push(tokio::spawn(super::controller::run_broker_lifecycle(
                broker.clone(),
            )));
            tasks.extend(super::replication::start(&broker));
        }
    }
    Ok(RunningBroker {
        broker,
        addrs,
        server,
        tasks,
        _dir_locks: dir_locks,
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
fn load_groups(broker: &Broker) -> Result<(), BrokerError> {
    let now = now_ms();
    let mut records = 0u64;
    for p in broker.replicas.partitions_of(OFFSETS_TOPIC) {
        broker
            .replicas
            .scan_records(OFFSETS_TOPIC, p.index, |header, r| {
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
            .map_err(|e| {
                BrokerError::Storage(format!("reading {OFFSETS_TOPIC}-{}: {e}", p.index))
            })?;
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

/// Reacts to the replayed metadata (every partition opened, with its config); logs that the
/// metadata does not know are set aside as `-stray` directories (never deleted: the metadata
/// may be what is wrong).
fn load_partitions(broker: &Broker, set_aside_strays: bool) -> Result<(), BrokerError> {
    let topics = broker.metadata.topics();
    let replayed: Vec<MetadataChange> = topics
        .iter()
        .map(|t| MetadataChange::TopicPartitionsChanged(t.name.clone()))
        .collect();
    broker
        .react(&replayed)
        .map_err(|e| BrokerError::Storage(format!("cannot open the partitions: {e}")))?;
    if !set_aside_strays {
        return Ok(());
    }
    let known = |topic: &str, partition: i32| {
        topic == METADATA_TOPIC
            || topics
                .iter()
                .any(|t| t.name == topic && t.partitions.iter().any(|p| p.index == partition))
    };
    let strays = broker
        .replicas
        .set_aside_unknown(known)
        .map_err(|e| BrokerError::Storage(format!("cannot set aside a stray log: {e}")))?;
    for ((topic, partition), path) in strays {
        tracing::warn!(
            topic = %topic,
            partition,
            path = %path.display(),
            "the metadata does not know this partition: its log is set aside as a stray directory"
        );
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
                    _ = stop.wait_for(|s| *s) => return,
                }
                let b2 = b.clone();
                let _ = tokio::task::spawn_blocking(move || job(&b2)).await;
            }
        })
    };
    let c = &broker.config;
    let mut tasks = vec![
        every(c.flush_scheduler_interval_ms, broker, |b| {
            if let Err(e) = b.replicas.flush_due(now_ms()) {
                tracing::error!(error = %e, "scheduled flush failed");
            }
        }),
        every(c.retention_check_interval_ms, broker, |b| {
            match b.replicas.enforce_retention(now_ms()) {
                Ok(n) if n > 0 => tracing::info!(segments = n, "retention deleted segments"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "retention failed"),
            }
        }),
        every(c.checkpoint_interval_ms, broker, |b| {
            if let Err(e) = b.replicas.checkpoint() {
                tracing::error!(error = %e, "writing checkpoints failed");
            }
        }),
        every(c.high_watermark_checkpoint_interval_ms, broker, |b| {
            if let Err(e) = b.replicas.write_high_watermarks() {
                tracing::error!(error = %e, "writing the high-watermark checkpoint failed");
            }
        }),
        every(100, broker, |b| b.groups.tick(b, now_ms())),
        tokio::spawn(super::replication::move_between_log_dirs(broker.clone())),
        every(c.offsets_retention_check_interval_ms, broker, |b| {
            let n = b.groups.expire_offsets(b, now_ms());
            if n > 0 {
                tracing::info!(offsets = n, "expired committed offsets");
            }
        }),
        every(c.producer_id_expiration_check_interval_ms, broker, |b| {
            let n = b
                .replicas
                .remove_expired_producers(now_ms(), b.config.producer_id_expiration_ms);
            if n > 0 {
                tracing::info!(producers = n, "expired idle producer ids");
            }
        }),
    ];
    if c.cleaner_enable {
        tasks.push(every(c.cleaner_backoff_ms, broker, |b| {
            if let Err(e) = b.replicas.compact(now_ms(), b.config.cleaner_memory) {
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
    /// flush, checkpoints, clean-shutdown marker. After a halt nothing is closed cleanly (the
    /// next start recovers) and the halt is the error.
    pub async fn shutdown(self) -> Result<(), BrokerError> {
        self.broker.metadata.set_stopping();
        if self.broker.is_cluster()
            && self.broker.config.process_roles.broker
            && self.broker.halted().is_none()
        {
            super::controller::controlled_shutdown(
                &self.broker,
                std::time::Duration::from_secs(10),
            )
            .await;
        }
        // send_replace: stored even when no task has subscribed yet (send would drop it).
        self.broker.shutdown.send_replace(true);
        if tokio::time::timeout(std::time::Duration::from_secs(5), self.server)
            .await
            .is_err()
        {
            tracing::warn!("connections still open after 5 s; closing the logs anyway");
        }
        // Background work ends at its next check of the shutdown signal; a job stuck in
        // I/O must not keep the broker from closing its logs.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        for t in self.tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout_at(deadline, t).await.is_err() {
                tracing::warn!("a background task did not stop within 10 s; abandoning it");
                abort.abort();
            }
        }
        if let Some(q) = self.broker.metadata.quorum() {
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(5), q.raft.shutdown()).await;
        }
        if let Some(reason) = self.broker.halted() {
            return Err(BrokerError::Halted(reason));
        }
        let broker = self.broker.clone();
        tokio::task::spawn_blocking(move || broker.replicas.shutdown())
            .await
            .map_err(|e| BrokerError::Storage(e.to_string()))?
            .map_err(|e| BrokerError::Storage(format!("clean shutdown failed: {e}")))
    }
}

/// `kfk broker start`: runs until SIGINT or SIGTERM, then shuts down cleanly.
pub async fn run(config: BrokerConfig) -> Result<(), BrokerError> {
    let dirs: Vec<String> = config
        .log_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    let started = std::time::Instant::now();
    // Handlers first: a SIGTERM that arrives once the start line is printed must find them
    // (before they exist, the default action would kill the process uncleanly).
    let mut stop = StopSignals::install()
        .map_err(|e| BrokerError::Config(format!("cannot handle signals: {e}")))?;
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

/// The initial voters of a dynamic quorum: the KRaftVoters record of the bootstrap snapshot
/// `00000000000000000000-0000000000.checkpoint` in the metadata log dir, if there is one.
fn initial_dynamic_voters(dir: &std::path::Path) -> Result<Vec<(u64, String)>, String> {
    let path = dir.join("00000000000000000000-0000000000.checkpoint");
    match std::fs::read(&path) {
        Ok(data) => crate::metadata::quorum::entries::snapshot_voters(&data)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}
