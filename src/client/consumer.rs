//! The consumer with caller-chosen partitions (group membership comes with the group
//! coordinator): `assign`, `seek`, `seek_to_beginning`/`end`, `auto.offset.reset`
//! (earliest, latest, none), fetching from every leader at once (`fetch.min.bytes`,
//! `fetch.max.wait.ms`, `fetch.max.bytes`, `max.partition.fetch.bytes`, `max.poll.records`),
//! decompression, CRC checks (`check.crcs`), leader changes and OFFSET_OUT_OF_RANGE.

use super::cluster::Cluster;
use super::{ClientError, Properties};
use crate::protocol::messages::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use crate::protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use crate::protocol::record_batch::{decode_records, verify_crc, BatchIter};
use crate::protocol::{ApiKey, ErrorCode, RequestBody, ResponseBody};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub type TopicPartition = (String, i32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
    None,
}

#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub auto_offset_reset: OffsetReset,
    pub fetch_min_bytes: i32,
    pub fetch_max_wait: Duration,
    pub fetch_max_bytes: i32,
    pub max_partition_fetch_bytes: i32,
    pub max_poll_records: usize,
    pub check_crcs: bool,
    pub isolation_level: i8,
}

impl ConsumerConfig {
    pub fn from_properties(p: &Properties) -> Result<ConsumerConfig, ClientError> {
        let reset = match p.get("auto.offset.reset").unwrap_or("latest").trim() {
            "earliest" => OffsetReset::Earliest,
            "latest" => OffsetReset::Latest,
            "none" => OffsetReset::None,
            other => {
                return Err(ClientError::Config(format!(
                "invalid value {other:?} for auto.offset.reset: expected earliest, latest or none"
            )))
            }
        };
        let isolation_level = match p
            .get("isolation.level")
            .unwrap_or("read_uncommitted")
            .trim()
        {
            "read_uncommitted" => 0,
            "read_committed" => 1,
            other => {
                return Err(ClientError::Config(format!(
                    "invalid value {other:?} for isolation.level"
                )))
            }
        };
        Ok(ConsumerConfig {
            auto_offset_reset: reset,
            fetch_min_bytes: p.num("fetch.min.bytes", 1)?,
            fetch_max_wait: p.ms("fetch.max.wait.ms", 500)?,
            fetch_max_bytes: p.num("fetch.max.bytes", 52_428_800)?,
            max_partition_fetch_bytes: p.num("max.partition.fetch.bytes", 1_048_576)?,
            max_poll_records: p.num("max.poll.records", 500usize)?.max(1),
            check_crcs: p.bool("check.crcs", true)?,
            isolation_level,
        })
    }
}

/// A consumed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub log_append_time: bool,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    At(i64),
    Earliest,
    Latest,
}

/// A consumer of assigned partitions.
pub struct Consumer {
    pub cluster: Arc<Cluster>,
    pub config: ConsumerConfig,
    assignment: Vec<TopicPartition>,
    positions: HashMap<TopicPartition, Position>,
    buffered: VecDeque<ConsumerRecord>,
    /// Bumped by every seek or assignment change of a partition, so the answer of a fetch
    /// sent before it is dropped for that partition.
    epochs: HashMap<TopicPartition, u64>,
    /// The next fetch, sent while the application processes the records already returned.
    in_flight: Option<InFlightFetch>,
}

type FetchTask = tokio::task::JoinHandle<Result<(i32, i16, ResponseBody), ClientError>>;

/// Fetch requests on their way, with the partition epochs they were sent under.
struct InFlightFetch {
    tasks: Vec<FetchTask>,
    epochs: HashMap<TopicPartition, u64>,
}

impl Consumer {
    pub async fn new(properties: &Properties) -> Result<Consumer, ClientError> {
        let config = ConsumerConfig::from_properties(properties)?;
        let cluster = Cluster::new(properties.client_config("kfk-consumer")?);
        cluster.any_connection().await?;
        Ok(Consumer {
            cluster,
            config,
            assignment: Vec::new(),
            positions: HashMap::new(),
            buffered: VecDeque::new(),
            epochs: HashMap::new(),
            in_flight: None,
        })
    }

    /// Consumes exactly these partitions from now on.
    pub async fn assign(&mut self, partitions: Vec<TopicPartition>) -> Result<(), ClientError> {
        let mut topics: Vec<String> = partitions.iter().map(|p| p.0.clone()).collect();
        topics.dedup();
        self.cluster.refresh(&topics).await?;
        self.positions.retain(|tp, _| partitions.contains(tp));
        for tp in &partitions {
            self.bump(tp);
        }
        self.buffered.retain(|r| {
            partitions
                .iter()
                .any(|(t, p)| *t == r.topic && *p == r.partition)
        });
        self.assignment = partitions;
        Ok(())
    }

    pub fn assignment(&self) -> &[TopicPartition] {
        &self.assignment
    }

    fn bump(&mut self, tp: &TopicPartition) {
        *self.epochs.entry(tp.clone()).or_default() += 1;
    }

    pub fn seek(&mut self, tp: &TopicPartition, offset: i64) {
        self.bump(tp);
        self.positions.insert(tp.clone(), Position::At(offset));
        self.buffered
            .retain(|r| !(r.topic == tp.0 && r.partition == tp.1));
    }

    pub fn seek_to_beginning(&mut self, tps: &[TopicPartition]) {
        for tp in tps {
            self.bump(tp);
            self.positions.insert(tp.clone(), Position::Earliest);
            self.buffered
                .retain(|r| !(r.topic == tp.0 && r.partition == tp.1));
        }
    }

    pub fn seek_to_end(&mut self, tps: &[TopicPartition]) {
        for tp in tps {
            self.bump(tp);
            self.positions.insert(tp.clone(), Position::Latest);
            self.buffered
                .retain(|r| !(r.topic == tp.0 && r.partition == tp.1));
        }
    }

    /// The next offset to be returned for `tp` (resolving earliest/latest positions).
    pub async fn position(&mut self, tp: &TopicPartition) -> Result<i64, ClientError> {
        self.resolve_positions().await?;
        match self.positions.get(tp) {
            Some(Position::At(o)) => Ok(*o),
            _ => Err(ClientError::Config(format!(
                "{}-{} is not assigned",
                tp.0, tp.1
            ))),
        }
    }

    /// `(earliest, latest)` offsets of partitions, by ListOffsets.
    pub async fn offsets_for(
        &self,
        tps: &[TopicPartition],
        timestamp: i64,
    ) -> Result<HashMap<TopicPartition, i64>, ClientError> {
        let mut by_leader: HashMap<i32, Vec<TopicPartition>> = HashMap::new();
        for tp in tps {
            by_leader
                .entry(self.leader(tp)?)
                .or_default()
                .push(tp.clone());
        }
        let mut out = HashMap::new();
        for (node, tps) in by_leader {
            let conn = self.cluster.connection(node).await?;
            let mut topics: Vec<ListOffsetsTopic> = Vec::new();
            for (t, p) in &tps {
                let part = ListOffsetsPartition {
                    partition_index: *p,
                    current_leader_epoch: -1,
                    timestamp,
                    max_num_offsets: 1,
                    ..Default::default()
                };
                match topics.iter_mut().find(|x| &x.name == t) {
                    Some(x) => x.partitions.push(part),
                    None => topics.push(ListOffsetsTopic {
                        name: t.clone(),
                        partitions: vec![part],
                        ..Default::default()
                    }),
                }
            }
            let request = RequestBody::ListOffsets(ListOffsetsRequest {
                replica_id: -1,
                isolation_level: self.config.isolation_level,
                topics,
                ..Default::default()
            });
            let (_, body) = conn.call(ApiKey::ListOffsets, request).await?;
            let ResponseBody::ListOffsets(r) = body else {
                return Err(ClientError::Protocol(
                    "ListOffsets answered with another API".into(),
                ));
            };
            for t in r.topics {
                for p in t.partitions {
                    if p.error_code != 0 {
                        return Err(ClientError::Broker(
                            ErrorCode(p.error_code),
                            format!("ListOffsets for {}-{}", t.name, p.partition_index),
                        ));
                    }
                    out.insert((t.name.clone(), p.partition_index), p.offset);
                }
            }
        }
        Ok(out)
    }

    fn leader(&self, tp: &TopicPartition) -> Result<i32, ClientError> {
        let topic = self.cluster.topic(&tp.0).ok_or_else(|| {
            ClientError::Broker(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!("topic {} not found", tp.0),
            )
        })?;
        topic
            .partitions
            .iter()
            .find(|p| p.index == tp.1)
            .map(|p| p.leader)
            .filter(|l| *l >= 0)
            .ok_or_else(|| {
                ClientError::Broker(
                    ErrorCode::LEADER_NOT_AVAILABLE,
                    format!("no leader for {}-{}", tp.0, tp.1),
                )
            })
    }

    async fn resolve_positions(&mut self) -> Result<(), ClientError> {
        for (wanted, ts) in [(Position::Earliest, -2i64), (Position::Latest, -1)] {
            let mut tps: Vec<TopicPartition> = self
                .assignment
                .iter()
                .filter(|tp| self.positions.get(*tp).copied() == Some(wanted))
                .cloned()
                .collect();
            if wanted == Position::Earliest
                && self.config.auto_offset_reset == OffsetReset::Earliest
            {
                tps.extend(
                    self.assignment
                        .iter()
                        .filter(|tp| !self.positions.contains_key(*tp))
                        .cloned(),
                );
            }
            if wanted == Position::Latest && self.config.auto_offset_reset == OffsetReset::Latest {
                tps.extend(
                    self.assignment
                        .iter()
                        .filter(|tp| !self.positions.contains_key(*tp))
                        .cloned(),
                );
            }
            if tps.is_empty() {
                continue;
            }
            for (tp, offset) in self.offsets_for(&tps, ts).await? {
                self.positions.insert(tp, Position::At(offset));
            }
        }
        if let Some(tp) = self
            .assignment
            .iter()
            .find(|tp| !self.positions.contains_key(*tp))
        {
            return Err(ClientError::Broker(
                ErrorCode::OFFSET_OUT_OF_RANGE,
                format!(
                    "no position for {}-{} and auto.offset.reset=none",
                    tp.0, tp.1
                ),
            ));
        }
        Ok(())
    }

    /// Records from the assigned partitions: waits up to `timeout` for some.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.buffered.is_empty() {
                let n = self.buffered.len().min(self.config.max_poll_records);
                let records: Vec<ConsumerRecord> = self.buffered.drain(..n).collect();
                if self.buffered.is_empty() && self.in_flight.is_none() {
                    // Pipelining: the next fetch travels while the caller handles these.
                    self.in_flight = Some(self.launch_fetch(self.config.fetch_max_wait).await);
                }
                return Ok(records);
            }
            if self.assignment.is_empty() {
                tokio::time::sleep_until(deadline.into()).await;
                return Ok(Vec::new());
            }
            self.resolve_positions().await?;
            let wait = self
                .config
                .fetch_max_wait
                .min(deadline.saturating_duration_since(Instant::now()));
            self.fetch_once(wait).await?;
            if self.buffered.is_empty() && Instant::now() >= deadline {
                return Ok(Vec::new());
            }
        }
    }

    /// One fetch from every leader at once; decoded records go to the buffer.
    async fn fetch_once(&mut self, wait: Duration) -> Result<(), ClientError> {
        let flight = match self.in_flight.take() {
            Some(f) => f,
            None => self.launch_fetch(wait).await,
        };
        self.complete_fetch(flight).await
    }

    /// Sends a fetch to every leader of the assigned partitions (without waiting).
    async fn launch_fetch(&mut self, wait: Duration) -> InFlightFetch {
        let mut by_leader: HashMap<i32, Vec<TopicPartition>> = HashMap::new();
        for tp in &self.assignment {
            match self.leader(tp) {
                Ok(l) => by_leader.entry(l).or_default().push(tp.clone()),
                Err(_) => {
                    let topics: Vec<String> = self.assignment.iter().map(|t| t.0.clone()).collect();
                    let _ = self.cluster.refresh(&topics).await;
                }
            }
        }
        let mut tasks = Vec::new();
        for (node, tps) in by_leader {
            let request = self.fetch_request(&tps, wait);
            let cluster = self.cluster.clone();
            tasks.push(tokio::spawn(async move {
                let conn = cluster.connection(node).await?;
                let version = conn.version_for(ApiKey::Fetch).ok_or_else(|| {
                    ClientError::Unsupported("the broker does not support Fetch".into())
                })?;
                let request = request(version);
                let body = conn.call_at(ApiKey::Fetch, version, request).await?;
                Ok::<_, ClientError>((node, version, body))
            }));
        }
        let epochs = self
            .assignment
            .iter()
            .map(|tp| (tp.clone(), self.epochs.get(tp).copied().unwrap_or(0)))
            .collect();
        InFlightFetch { tasks, epochs }
    }

    /// Takes the answers of a fetch into the buffer (skipping partitions sought since).
    async fn complete_fetch(&mut self, flight: InFlightFetch) -> Result<(), ClientError> {
        let mut refresh = false;
        for t in flight.tasks {
            match t.await.map_err(|e| ClientError::Protocol(e.to_string()))? {
                Ok((_, _, ResponseBody::Fetch(r))) => {
                    if r.error_code != 0 {
                        return Err(ClientError::Broker(
                            ErrorCode(r.error_code),
                            "fetch failed".into(),
                        ));
                    }
                    for topic in r.responses {
                        let name = if topic.topic.is_empty() {
                            self.topic_by_id(&topic.topic_id)
                        } else {
                            Some(topic.topic.clone())
                        };
                        let Some(name) = name else { continue };
                        for p in topic.partitions {
                            let tp = (name.clone(), p.partition_index);
                            if flight.epochs.get(&tp)
                                != Some(&self.epochs.get(&tp).copied().unwrap_or(0))
                            {
                                continue; // sought or reassigned after this fetch was sent
                            }
                            refresh |= self.take_partition(
                                &name,
                                p.partition_index,
                                p.error_code,
                                p.records.unwrap_or_default(),
                            )?;
                        }
                    }
                }
                Ok(_) => {
                    return Err(ClientError::Protocol(
                        "Fetch answered with another API".into(),
                    ))
                }
                Err(e) if e.is_retriable() => refresh = true,
                Err(e) => return Err(e),
            }
        }
        if refresh {
            let topics: Vec<String> = self.assignment.iter().map(|t| t.0.clone()).collect();
            let _ = self.cluster.refresh(&topics).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    fn topic_by_id(&self, id: &crate::protocol::Uuid) -> Option<String> {
        self.assignment
            .iter()
            .map(|t| &t.0)
            .find(|t| self.cluster.topic(t).is_some_and(|i| &i.id == id))
            .cloned()
    }

    /// A request builder for `tps` at a version chosen once the connection is known.
    fn fetch_request(
        &self,
        tps: &[TopicPartition],
        wait: Duration,
    ) -> impl FnOnce(i16) -> RequestBody {
        let mut topics: Vec<(String, crate::protocol::Uuid, Vec<FetchPartition>)> = Vec::new();
        for tp in tps {
            let Some(Position::At(offset)) = self.positions.get(tp).copied() else {
                continue;
            };
            let id = self.cluster.topic(&tp.0).map(|t| t.id).unwrap_or_default();
            let part = FetchPartition {
                partition: tp.1,
                current_leader_epoch: -1,
                fetch_offset: offset,
                last_fetched_epoch: -1,
                log_start_offset: -1,
                partition_max_bytes: self.config.max_partition_fetch_bytes,
                ..Default::default()
            };
            match topics.iter_mut().find(|t| t.0 == tp.0) {
                Some(t) => t.2.push(part),
                None => topics.push((tp.0.clone(), id, vec![part])),
            }
        }
        let config = self.config.clone();
        move |version| {
            RequestBody::Fetch(FetchRequest {
                replica_id: -1,
                max_wait_ms: i32::try_from(wait.as_millis()).unwrap_or(i32::MAX),
                min_bytes: config.fetch_min_bytes,
                max_bytes: config.fetch_max_bytes,
                isolation_level: config.isolation_level,
                session_id: 0,
                session_epoch: -1,
                topics: topics
                    .into_iter()
                    .map(|(name, id, partitions)| FetchTopic {
                        topic: if version < 13 { name } else { String::new() },
                        topic_id: if version >= 13 {
                            id
                        } else {
                            Default::default()
                        },
                        partitions,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
    }

    /// Decodes one partition's answer; returns whether metadata should be refreshed.
    fn take_partition(
        &mut self,
        topic: &str,
        partition: i32,
        error_code: i16,
        records: Bytes,
    ) -> Result<bool, ClientError> {
        let tp = (topic.to_string(), partition);
        let Some(Position::At(position)) = self.positions.get(&tp).copied() else {
            return Ok(false);
        };
        let code = ErrorCode(error_code);
        if code == ErrorCode::OFFSET_OUT_OF_RANGE {
            match self.config.auto_offset_reset {
                OffsetReset::Earliest => self.positions.insert(tp, Position::Earliest),
                OffsetReset::Latest => self.positions.insert(tp, Position::Latest),
                OffsetReset::None => {
                    return Err(ClientError::Broker(
                        code,
                        format!("offset {position} is out of range for {topic}-{partition}"),
                    ))
                }
            };
            return Ok(false);
        }
        if !code.is_ok() {
            if code.is_retriable() {
                return Ok(true);
            }
            return Err(ClientError::Broker(
                code,
                format!("fetching {topic}-{partition}"),
            ));
        }
        let mut next = position;
        for (header, batch) in BatchIter::new(records) {
            if header.last_offset() < position {
                continue;
            }
            if self.config.check_crcs {
                verify_crc(&batch).map_err(|e| {
                    ClientError::Protocol(format!(
                        "{topic}-{partition} at offset {}: {e}",
                        header.base_offset
                    ))
                })?;
            }
            if !header.is_control() {
                let decoded = decode_records(&batch, 256 << 20).map_err(|e| {
                    ClientError::Protocol(format!(
                        "{topic}-{partition} at offset {}: {e}",
                        header.base_offset
                    ))
                })?;
                for r in decoded.into_iter().filter(|r| r.offset >= position) {
                    self.buffered.push_back(ConsumerRecord {
                        topic: topic.to_string(),
                        partition,
                        offset: r.offset,
                        timestamp: r.timestamp,
                        log_append_time: header.is_log_append_time(),
                        key: r.key,
                        value: r.value,
                        headers: r.headers.into_iter().map(|h| (h.key, h.value)).collect(),
                    });
                }
            }
            next = next.max(header.next_offset());
        }
        self.positions.insert(tp, Position::At(next));
        Ok(false)
    }
}
