//! Topic administration: create, delete and grow topics, change topic and broker configs,
//! create `__consumer_offsets` on first use. Each operation commits metadata records and then
//! reacts to what they changed ([`Broker::react`]): partition logs are created or deleted and
//! running logs get their new config. Replaying the metadata log at start goes through the
//! same reaction.
//!
//! Kafka's outcomes come back as [`AdminError`] (an error code and message for the response).

use super::{AdminError, Broker};
use crate::group::OFFSETS_TOPIC;
use crate::log::LogConfig;
use crate::metadata::{
    is_internal_topic, validate_topic_name, MetadataChange, TopicMeta, METADATA_TOPIC,
};
use crate::protocol::ErrorCode;
use crate::replication::Role;
use std::collections::BTreeMap;

impl Broker {
    /// Broker-level topic defaults (config file and dynamic broker configs), then the
    /// topic's own overrides.
    pub fn effective_topic_configs(
        &self,
        overrides: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut values = self.config.topic_defaults.clone();
        for (k, v) in self.metadata.effective_broker_configs(self.node_id) {
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

    /// Brings the partitions in line with committed metadata changes. Blocking.
    pub fn react(&self, changes: &[MetadataChange]) -> Result<(), AdminError> {
        for change in changes {
            match change {
                MetadataChange::TopicPartitionsChanged(name) => {
                    if let Some(topic) = self.metadata.topic(name) {
                        self.open_partitions(&topic)?;
                    }
                }
                MetadataChange::TopicRemoved(topic) => self.replicas.remove_topic(topic),
                MetadataChange::TopicConfigChanged(name) => self.reload_topic_configs(name),
                MetadataChange::BrokerConfigChanged => {
                    for t in self.metadata.topics() {
                        self.reload_topic_configs(&t.name);
                    }
                }
                MetadataChange::ProducerIdsAllocated | MetadataChange::BrokersChanged => {}
                MetadataChange::Reset => self.reconcile_partitions()?,
            }
        }
        Ok(())
    }

    /// After the image was replaced: opens this node's partitions of every topic, and
    /// deletes the logs of partitions the image no longer gives this node.
    fn reconcile_partitions(&self) -> Result<(), AdminError> {
        for t in &self.metadata.topics() {
            self.open_partitions(t)?;
        }
        self.replicas.remove_unplaced(&self.metadata.image());
        Ok(())
    }

    /// Applies `topic` to this broker's partitions (`ReplicaManager::apply_topic`), and
    /// starts or stops coordinating the groups of `__consumer_offsets` partitions whose
    /// leadership moved.
    fn open_partitions(&self, topic: &TopicMeta) -> Result<(), AdminError> {
        let changes = self
            .replicas
            .apply_topic(topic, &self.log_config_for(topic), self.is_cluster())
            .map_err(|(index, e)| {
                tracing::error!(error = %e, "cannot create partition log");
                AdminError::new(
                    ErrorCode::KAFKA_STORAGE_ERROR,
                    format!("cannot create the log of {}-{index}", topic.name),
                )
            })?;
        if topic.name != OFFSETS_TOPIC || !self.is_cluster() {
            return Ok(());
        }
        for c in changes {
            if c.after == Role::Leader {
                self.load_group_partition(c.index);
            } else if c.before == Role::Leader {
                let n = self.groups.unload_partition(c.index);
                tracing::info!(
                    partition = c.index,
                    groups = n,
                    "no longer the coordinator of {OFFSETS_TOPIC}-{}",
                    c.index
                );
            }
        }
        Ok(())
    }

    /// This broker became the leader of `__consumer_offsets`-`index`: it coordinates the
    /// groups of that partition, whose state it replays from its replica. Blocking.
    pub fn load_group_partition(&self, index: i32) {
        let now = crate::time::now_ms();
        self.groups.unload_partition(index);
        let mut records = 0u64;
        let result = self
            .replicas
            .scan_records(OFFSETS_TOPIC, index, |header, r| {
                let Some(key) = r.key.filter(|_| !header.is_control()) else {
                    return Ok(());
                };
                if let Ok(Some(record)) = crate::group::GroupRecord::decode(&key, r.value.as_ref())
                {
                    self.groups.load(record, now);
                    records += 1;
                }
                Ok(())
            });
        // Served from now on even if the replay failed (logged below), as before loading
        // was tracked: a broken partition must not keep its groups waiting for ever.
        self.groups.mark_loaded(index);
        match result {
            Ok(()) => tracing::info!(
                partition = index,
                records,
                "now the coordinator of {OFFSETS_TOPIC}-{index}: its groups loaded"
            ),
            Err(e) => {
                tracing::error!(partition = index, error = %e, "loading {OFFSETS_TOPIC}-{index} failed")
            }
        }
    }

    /// Applies the effective config of topic `name` to its running logs (no restart needed).
    pub fn reload_topic_configs(&self, name: &str) {
        if let Some(topic) = self.metadata.topic(name) {
            self.replicas.set_config(name, &self.log_config_for(&topic));
        }
    }

    /// Creates a topic for a client: Kafka's internal topics and the metadata topic are
    /// refused, as Kafka refuses them. Blocking.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<TopicMeta, AdminError> {
        if name == METADATA_TOPIC || is_internal_topic(name) {
            return Err(AdminError::new(
                ErrorCode::INVALID_REQUEST,
                format!("Creation of internal topic {name} is prohibited."),
            ));
        }
        self.create_any_topic(
            name,
            partitions,
            replication_factor,
            None,
            configs,
            validate_only,
        )
    }

    /// Creates a topic with an explicit replica assignment (`--replica-assignment`):
    /// partition `p` on the brokers `assignment[p]`. Blocking.
    pub fn create_topic_assigned(
        &self,
        name: &str,
        assignment: Vec<Vec<i32>>,
        configs: &BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<TopicMeta, AdminError> {
        if name == METADATA_TOPIC || is_internal_topic(name) {
            return Err(AdminError::new(
                ErrorCode::INVALID_REQUEST,
                format!("Creation of internal topic {name} is prohibited."),
            ));
        }
        let partitions = assignment.len() as i32;
        let rf = assignment.iter().map(Vec::len).max().unwrap_or(0) as i16;
        self.create_any_topic(
            name,
            partitions,
            rf,
            Some(assignment),
            configs,
            validate_only,
        )
    }

    /// Brokers that may take new partitions: every unfenced broker not shutting down (on a
    /// single node, this one).
    fn placeable_brokers(&self) -> Vec<(i32, Option<String>)> {
        if !self.is_cluster() {
            return vec![(self.node_id, self.config.rack.clone())];
        }
        self.metadata
            .brokers()
            .into_iter()
            .filter(|b| !b.fenced && !b.in_controlled_shutdown)
            .map(|b| (b.id, b.rack))
            .collect()
    }

    /// Kafka's striped placement: the brokers interleaved by rack (one of each rack in
    /// turn), then partitions round-robin from a random start, each partition's replicas the
    /// next `rf` brokers of the stripe (so a partition's replicas sit on different racks
    /// while racks last), so leaders and replicas spread evenly over brokers and racks.
    fn place(&self, partitions: i32, rf: i16) -> Result<Vec<Vec<i32>>, AdminError> {
        let brokers = self.placeable_brokers();
        if (brokers.len() as i64) < i64::from(rf) {
            return Err(AdminError::new(
                ErrorCode::INVALID_REPLICATION_FACTOR,
                format!(
                    "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only {} broker(s) are registered.",
                    brokers.len()
                ),
            ));
        }
        let mut by_rack: BTreeMap<Option<String>, Vec<i32>> = BTreeMap::new();
        for (id, rack) in brokers {
            by_rack.entry(rack).or_default().push(id);
        }
        let mut striped = Vec::new();
        let deepest = by_rack.values().map(Vec::len).max().unwrap_or(0);
        for i in 0..deepest {
            for ids in by_rack.values() {
                if let Some(id) = ids.get(i) {
                    striped.push(*id);
                }
            }
        }
        let n = striped.len();
        let start = usize::from(crate::protocol::Uuid::random().0[0]) % n;
        Ok((0..partitions as usize)
            .map(|p| {
                (0..rf as usize)
                    .map(|k| striped[(start + p + k) % n])
                    .collect()
            })
            .collect())
    }

    /// Checks an explicit assignment: every broker registered, no broker twice in one
    /// partition, the same replication factor everywhere.
    fn check_assignment(&self, assignment: &[Vec<i32>]) -> Result<(), AdminError> {
        let known: Vec<i32> = if self.is_cluster() {
            self.metadata.brokers().iter().map(|b| b.id).collect()
        } else {
            vec![self.node_id]
        };
        for (p, replicas) in assignment.iter().enumerate() {
            if let Some(b) = replicas.iter().find(|b| !known.contains(b)) {
                return Err(AdminError::new(
                    ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                    format!("partition {p} is assigned to broker {b}, which is not registered"),
                ));
            }
            let mut seen = replicas.clone();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != replicas.len() || replicas.is_empty() {
                return Err(AdminError::new(
                    ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                    format!("partition {p} has an empty or duplicated replica list {replicas:?}"),
                ));
            }
        }
        Ok(())
    }

    /// A topic created through the active controller from a node that is not it (automatic
    /// creation, `__consumer_offsets`): forwarded as a CreateTopics request, then awaited in
    /// this node's image.
    fn create_topic_at_controller(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &BTreeMap<String, String>,
    ) -> Result<TopicMeta, AdminError> {
        use crate::protocol::messages::create_topics_request::{
            CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
        };
        let body = crate::protocol::RequestBody::CreateTopics(CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: name.to_string(),
                num_partitions: partitions,
                replication_factor,
                configs: configs
                    .iter()
                    .map(|(k, v)| CreatableTopicConfig {
                        name: k.clone(),
                        value: Some(v.clone()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            timeout_ms: 30_000,
            ..Default::default()
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let handle = tokio::runtime::Handle::current();
        let answer = tokio::task::block_in_place(|| {
            handle.block_on(self.send_to_controller(
                crate::protocol::ApiKey::CreateTopics,
                7,
                &body,
                deadline,
            ))
        })
        .map_err(|e| AdminError::new(ErrorCode::REQUEST_TIMED_OUT, e))?;
        if let crate::protocol::ResponseBody::CreateTopics(r) = answer {
            if let Some(t) = r.topics.first().filter(|t| t.error_code != 0) {
                return Err(AdminError::new(
                    ErrorCode(t.error_code),
                    t.error_message.clone().unwrap_or_default(),
                ));
            }
        }
        // Committed; wait for this node to apply it.
        while std::time::Instant::now() < deadline {
            if let Some(t) = self.metadata.topic(name) {
                return Ok(t);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Err(AdminError::new(
            ErrorCode::REQUEST_TIMED_OUT,
            format!("topic '{name}' was created but this node has not applied it yet"),
        ))
    }

    /// Creates a topic, internal ones included (the broker's own `__consumer_offsets`).
    fn create_any_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        assignment: Option<Vec<Vec<i32>>>,
        configs: &BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<TopicMeta, AdminError> {
        if self.is_cluster()
            && !self.is_active_controller()
            && assignment.is_none()
            && !validate_only
        {
            if let Some(t) = self.metadata.topic(name) {
                let _ = t;
                return Err(AdminError::new(
                    ErrorCode::TOPIC_ALREADY_EXISTS,
                    format!("topic '{name}' already exists"),
                ));
            }
            return self.create_topic_at_controller(name, partitions, replication_factor, configs);
        }
        validate_topic_name(name)
            .map_err(|m| AdminError::new(ErrorCode::INVALID_TOPIC_EXCEPTION, m))?;
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
            return Err(AdminError::new(
                ErrorCode::INVALID_PARTITIONS,
                format!("number of partitions must be at least 1, not {partitions}"),
            ));
        }
        if rf < 1 {
            return Err(AdminError::new(
                ErrorCode::INVALID_REPLICATION_FACTOR,
                format!("replication factor must be at least 1, not {rf}"),
            ));
        }
        if let Some(a) = &assignment {
            self.check_assignment(a)?;
        }
        for (k, v) in configs {
            crate::log::config::validate_topic_config(k, v)
                .map_err(|e| AdminError::new(ErrorCode::INVALID_CONFIG, e.to_string()))?;
        }
        if self.metadata.topic(name).is_some() {
            return Err(AdminError::new(
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
            return Err(AdminError::new(
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
        let assignment = match assignment {
            Some(a) => a,
            None => self.place(partitions, rf)?,
        };
        let changes = self
            .metadata
            .create_topic_assigned(name, &assignment, configs)
            .map_err(|c| AdminError::new(c, format!("cannot create topic '{name}'")))?;
        self.react(&changes)?;
        let topic = self
            .metadata
            .topic(name)
            .ok_or_else(|| AdminError::new(ErrorCode::UNKNOWN_SERVER_ERROR, "topic vanished"))?;
        tracing::info!(topic = name, partitions, id = %topic.id, "created topic");
        Ok(topic)
    }

    /// Grows a topic to `count` partitions. Blocking.
    pub fn add_partitions(
        &self,
        name: &str,
        count: i32,
        assignment: Option<Vec<Vec<i32>>>,
    ) -> Result<(), AdminError> {
        let current = self
            .metadata
            .topic(name)
            .map_or(0, |t| t.partitions.len() as i32);
        let assignment = match assignment {
            Some(a) => {
                self.check_assignment(&a)?;
                a
            }
            None => self.place((count - current).max(0), 1)?,
        };
        let changes = self
            .metadata
            .add_partitions_assigned(name, &assignment)
            .map_err(|c| AdminError::new(c, "cannot add partitions"))?;
        self.react(&changes)
    }

    /// Deletes a topic: metadata first, then its logs. kfk keeps its internal topics (the
    /// group coordinator lives on `__consumer_offsets`; Kafka would delete it). Blocking.
    pub fn delete_topic(&self, name: &str) -> Result<TopicMeta, AdminError> {
        if !self.config.delete_topic_enable {
            return Err(AdminError::new(
                ErrorCode::TOPIC_DELETION_DISABLED,
                "topic deletion is disabled (delete.topic.enable=false)",
            ));
        }
        if is_internal_topic(name) {
            return Err(AdminError::new(
                ErrorCode::INVALID_REQUEST,
                format!("kfk does not delete the internal topic {name}"),
            ));
        }
        let topic = self.metadata.topic(name).ok_or_else(|| {
            AdminError::new(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!("topic '{name}' does not exist"),
            )
        })?;
        let changes = self
            .metadata
            .delete_topic(name)
            .map_err(|code| AdminError::new(code, format!("cannot delete topic '{name}'")))?;
        self.react(&changes)?;
        tracing::info!(topic = name, "deleted topic");
        Ok(topic)
    }

    /// Sets or removes configs of a topic or of the broker, then applies them to the running
    /// logs. Blocking.
    pub fn alter_configs(
        &self,
        resource_type: i8,
        resource_name: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<(), AdminError> {
        let applied = self
            .metadata
            .alter_configs(resource_type, resource_name, changes)
            .map_err(|c| AdminError::new(c, "cannot store the configs"))?;
        self.react(&applied)
    }

    /// Creates `__consumer_offsets` (compacted, `offsets.topic.num.partitions` partitions)
    /// unless it exists. Blocking.
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
        // One replica on a single node. In a cluster `offsets.topic.replication.factor` when
        // set (creation then waits, COORDINATOR_NOT_AVAILABLE, until that many brokers are
        // registered, as Kafka's), else min(3, live brokers) (ARCHITECTURE.md).
        let rf = if !self.is_cluster() {
            1
        } else if let Some(v) = self.config.raw.get("offsets.topic.replication.factor") {
            v.trim().parse::<i16>().unwrap_or(3).max(1)
        } else {
            let live = self
                .metadata
                .brokers()
                .iter()
                .filter(|b| !b.fenced && !b.in_controlled_shutdown)
                .count();
            live.clamp(1, 3) as i16
        };
        match self.create_any_topic(
            OFFSETS_TOPIC,
            self.config.offsets_topic_num_partitions,
            rf,
            None,
            &configs,
            false,
        ) {
            Ok(_) => Ok(()),
            Err(e) if e.code == ErrorCode::TOPIC_ALREADY_EXISTS => Ok(()),
            Err(e) if e.code == ErrorCode::INVALID_REPLICATION_FACTOR => {
                tracing::info!(error = %e, "{OFFSETS_TOPIC} waits for more brokers");
                Err(ErrorCode::COORDINATOR_NOT_AVAILABLE)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot create {OFFSETS_TOPIC}");
                Err(e.code)
            }
        }
    }
}
