//! The producer, with Kafka's property names and defaults: partitioner (murmur2 keys,
//! sticky null keys), per-partition batches (`batch.size`, `linger.ms`), compression,
//! `buffer.memory` back-pressure up to `max.block.ms`, `acks`, retries bounded by
//! `delivery.timeout.ms` with `retry.backoff.ms`, and the idempotent producer (producer id,
//! sequence numbers, up to `max.in.flight.requests.per.connection` batches in flight per
//! partition, order kept across retries: after a failure the partition's failed batches are
//! resent in sequence order before anything new).
//!
//! Every record gets a delivery result (its offset or its error); `flush` and `close` wait
//! for all of them. Nothing is dropped silently.

use super::cluster::Cluster;
use super::{ClientError, Properties};
use crate::partitioner::{Partitioner, PartitionerKind};
use crate::protocol::compression::Levels;
use crate::protocol::messages::init_producer_id_request::InitProducerIdRequest;
use crate::protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use crate::protocol::record_batch::{BatchBuilder, NO_PRODUCER_EPOCH, NO_PRODUCER_ID};
use crate::protocol::{ApiKey, Compression, ErrorCode, RequestBody, ResponseBody};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Producer settings (Kafka's names; defaults as the Java client's).
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    pub acks: i16,
    pub batch_size: usize,
    pub linger: Duration,
    pub compression: Compression,
    /// `compression.{gzip,lz4,zstd}.level` (KIP-390).
    pub compression_levels: Levels,
    pub buffer_memory: usize,
    pub max_block: Duration,
    pub retries: u32,
    pub delivery_timeout: Duration,
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`: retries back off exponentially from `retry.backoff.ms` up to
    /// this (KIP-580), with ±20 % jitter.
    pub retry_backoff_max: Duration,
    pub enable_idempotence: bool,
    pub max_in_flight: usize,
    pub max_request_size: usize,
    pub partitioner: PartitionerKind,
}

const KNOWN_KEYS: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "acks",
    "batch.size",
    "linger.ms",
    "compression.type",
    "buffer.memory",
    "max.block.ms",
    "retries",
    "delivery.timeout.ms",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "enable.idempotence",
    "max.in.flight.requests.per.connection",
    "max.request.size",
    "request.timeout.ms",
    "metadata.max.age.ms",
    "partitioner",
    "partitioner.class",
    "key.serializer",
    "value.serializer",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "socket.connection.setup.timeout.ms",
    "kfk.bootstrap.timeout.ms",
    "send.buffer.bytes",
    "receive.buffer.bytes",
    "security.protocol",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.zstd.level",
];

impl ProducerConfig {
    pub fn from_properties(p: &Properties) -> Result<ProducerConfig, ClientError> {
        for k in p.0.keys() {
            if !KNOWN_KEYS.contains(&k.as_str()) {
                tracing::warn!(key = %k, "the producer property is not a known config; ignored");
            }
        }
        if let Some(sp) = p
            .get("security.protocol")
            .filter(|s| !s.eq_ignore_ascii_case("PLAINTEXT"))
        {
            return Err(ClientError::Config(format!(
                "security.protocol={sp} is not supported (PLAINTEXT only)"
            )));
        }
        let acks = match p.get("acks").unwrap_or("all").trim() {
            "all" | "-1" => -1,
            "1" => 1,
            "0" => 0,
            other => {
                return Err(ClientError::Config(format!(
                    "invalid value {other:?} for acks: expected all, -1, 0 or 1"
                )))
            }
        };
        let compression = match p.get("compression.type") {
            None => Compression::None,
            Some(c) => Compression::parse(c.trim()).ok_or_else(|| ClientError::Config(format!("invalid value {c:?} for compression.type: expected none, gzip, snappy, lz4 or zstd")))?,
        };
        let mut compression_levels = Levels::default();
        for (key, slot) in [
            ("compression.gzip.level", &mut compression_levels.gzip),
            ("compression.lz4.level", &mut compression_levels.lz4),
            ("compression.zstd.level", &mut compression_levels.zstd),
        ] {
            let level: i32 = p.num(key, *slot)?;
            Levels::check(key, level)
                .map_err(|why| ClientError::Config(format!("invalid value for {key}: {why}")))?;
            *slot = level;
        }
        let partitioner_name = p
            .get("partitioner")
            .or(p.get("partitioner.class"))
            .unwrap_or("default");
        let partitioner = PartitionerKind::parse(partitioner_name).ok_or_else(|| {
            ClientError::Config(format!(
                "invalid value {partitioner_name:?} for partitioner"
            ))
        })?;
        let idempotence_explicit = p.get("enable.idempotence").is_some();
        let mut enable_idempotence = p.bool("enable.idempotence", true)?;
        let max_in_flight: usize = p.num("max.in.flight.requests.per.connection", 5)?;
        let retries: u32 = p.num("retries", i32::MAX as u32)?;
        if enable_idempotence && (acks != -1 || max_in_flight > 5 || retries == 0) {
            if idempotence_explicit {
                return Err(ClientError::Config("enable.idempotence=true needs acks=all, retries > 0 and max.in.flight.requests.per.connection <= 5".into()));
            }
            enable_idempotence = false; // as the Java client: implicit idempotence yields to explicit acks/retries
        }
        Ok(ProducerConfig {
            acks,
            batch_size: p.num("batch.size", 16_384)?,
            linger: p.ms("linger.ms", 5)?,
            compression,
            compression_levels,
            buffer_memory: p.num("buffer.memory", 33_554_432)?,
            max_block: p.ms("max.block.ms", 60_000)?,
            retries,
            delivery_timeout: p.ms("delivery.timeout.ms", 120_000)?,
            retry_backoff: p.ms("retry.backoff.ms", 100)?,
            retry_backoff_max: p.ms("retry.backoff.max.ms", 1_000)?,
            enable_idempotence,
            max_in_flight: max_in_flight.max(1),
            max_request_size: p.num("max.request.size", 1_048_576)?,
            partitioner,
        })
    }
}

/// A record to send.
#[derive(Debug, Clone, Default)]
pub struct ProducerRecord {
    pub topic: String,
    pub partition: Option<i32>,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
    pub timestamp: Option<i64>,
}

/// Where a record landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    pub topic: String,
    pub partition: i32,
    /// -1 with acks=0.
    pub offset: i64,
}

pub type DeliveryResult = Result<RecordMetadata, ClientError>;

/// The outcome of one batch, shared by the delivery futures of its records (one allocation
/// per batch instead of a channel per record). A batch the broker found too large is split
/// and its parts complete on their own, so the outcome is kept per run of records.
#[derive(Debug)]
struct BatchCompletion {
    topic: String,
    partition: i32,
    state: Mutex<CompletionState>,
}

/// The outcome of the records `first..first + count` of a batch: their base offset (-1 with
/// acks=0), or why they failed.
#[derive(Debug)]
struct RunOutcome {
    first: u32,
    count: u32,
    outcome: Result<i64, ClientError>,
}

#[derive(Debug, Default)]
struct CompletionState {
    /// One entry while the batch is whole; one per part once split.
    outcomes: Vec<RunOutcome>,
    wakers: Vec<std::task::Waker>,
}

impl BatchCompletion {
    fn new(topic: &str, partition: i32) -> Arc<BatchCompletion> {
        Arc::new(BatchCompletion {
            topic: topic.to_string(),
            partition,
            state: Mutex::new(CompletionState::default()),
        })
    }

    /// Sets the outcome of the records `first..first + count` (once: a later outcome for
    /// records that have one is ignored).
    fn complete(&self, first: u32, count: u32, outcome: Result<i64, ClientError>) {
        let wakers = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if s.outcomes
                .iter()
                .any(|r| r.first < first + count && first < r.first + r.count)
            {
                return;
            }
            s.outcomes.push(RunOutcome {
                first,
                count,
                outcome,
            });
            std::mem::take(&mut s.wakers)
        };
        for w in wakers {
            w.wake();
        }
    }

    fn result(&self, index: u32) -> Option<DeliveryResult> {
        self.result_in(&self.state.lock().unwrap_or_else(|e| e.into_inner()), index)
    }

    fn result_in(&self, s: &CompletionState, index: u32) -> Option<DeliveryResult> {
        let run = s
            .outcomes
            .iter()
            .find(|r| (r.first..r.first + r.count).contains(&index))?;
        Some(match &run.outcome {
            Ok(base) => Ok(RecordMetadata {
                topic: self.topic.clone(),
                partition: self.partition,
                offset: if *base < 0 {
                    -1
                } else {
                    base + i64::from(index - run.first)
                },
            }),
            Err(e) => Err(e.clone()),
        })
    }
}

/// The records `first..first + count` of a batch's completion, as the producer holds them:
/// dropping it unresolved (the producer went away) fails those records instead of leaving
/// their futures pending.
struct Completer {
    completion: Arc<BatchCompletion>,
    first: u32,
    /// Set when the batch is sealed.
    count: u32,
}

impl Completer {
    fn complete(&self, outcome: Result<i64, ClientError>) {
        if self.count > 0 {
            self.completion.complete(self.first, self.count, outcome);
        }
    }

    /// The records `offset..offset + count` of these, completed on their own (a part of a
    /// split batch).
    fn part(&self, offset: u32, count: u32) -> Completer {
        Completer {
            completion: self.completion.clone(),
            first: self.first + offset,
            count,
        }
    }

    /// Drops this without an outcome: its records' outcomes come from its parts.
    fn hand_over(mut self) {
        self.count = 0;
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        self.complete(Err(ClientError::Closed));
    }
}

/// The producer dropped a record's batch without an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryDropped;

impl std::fmt::Display for DeliveryDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the producer was dropped before the record's outcome was known")
    }
}

impl std::error::Error for DeliveryDropped {}

/// Resolves when the record is acknowledged or has failed.
#[derive(Debug)]
pub struct DeliveryFuture {
    completion: Arc<BatchCompletion>,
    index: u32,
}

impl DeliveryFuture {
    /// The outcome if it is known already (never waits).
    pub fn try_result(&self) -> Option<DeliveryResult> {
        self.completion.result(self.index)
    }
}

impl std::future::Future for DeliveryFuture {
    type Output = Result<DeliveryResult, DeliveryDropped>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let c = &self.completion;
        let mut s = c.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(result) = c.result_in(&s, self.index) {
            return std::task::Poll::Ready(Ok(result));
        }
        if !s.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            s.wakers.push(cx.waker().clone());
        }
        std::task::Poll::Pending
    }
}

type TopicPartition = (String, i32);

struct OpenBatch {
    builder: BatchBuilder,
    completion: Completer,
    /// The batch's share of `buffer.memory`, merged into one permit (released at once).
    permits: Option<OwnedSemaphorePermit>,
    created: Instant,
}

struct SealedBatch {
    bytes: Bytes,
    records: usize,
    base_sequence: i32,
    completion: Completer,
    _permits: Option<OwnedSemaphorePermit>,
    created: Instant,
    not_before: Instant,
    /// Sends that failed and were retried.
    retries: u32,
}

#[derive(Default)]
struct PartitionQueue {
    open: Option<OpenBatch>,
    ready: VecDeque<SealedBatch>,
    in_flight: usize,
    /// Base sequences of the batches in flight (idempotent producers).
    in_flight_sequences: std::collections::BTreeSet<i32>,
    next_sequence: i32,
    /// Failed batches wait here until the partition's in-flight batches are all back.
    retry: Vec<SealedBatch>,
    /// Idempotent producers: the lowest base sequence of a batch the broker refused (not
    /// appended, so the broker still expects that sequence). Once nothing of the partition
    /// is in flight, the batches not yet acknowledged are renumbered from there.
    resequence_from: Option<i32>,
    /// Why the last send of the partition failed (for the warning below).
    last_error: Option<String>,
    /// Whether the partition's records have been waiting for [`super::WAIT_WARNING`] and
    /// that was logged; cleared by the next acknowledgement.
    warned: bool,
}

struct State {
    partitioner: Partitioner,
    /// Per topic, per partition: looked up by `&str`, so a record costs no key allocation.
    queues: HashMap<String, HashMap<i32, PartitionQueue>>,
    /// Records not yet delivered or failed.
    outstanding: usize,
    flushing: bool,
    closed: bool,
    producer_id: i64,
    producer_epoch: i16,
}

struct Inner {
    cluster: Arc<Cluster>,
    config: ProducerConfig,
    state: Mutex<State>,
    wake: Notify,
    idle: Notify,
    buffer: Arc<Semaphore>,
}

/// A Kafka producer. Cheap to clone; the background sender stops on `close`.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

impl Producer {
    /// Creates a producer from Kafka-named properties and starts its sender task.
    pub async fn new(properties: &Properties) -> Result<Producer, ClientError> {
        let config = ProducerConfig::from_properties(properties)?;
        let mut client = properties.client_config("kfk-producer")?;
        if properties.get("receive.buffer.bytes").is_none() {
            client.receive_buffer_bytes = 32_768; // the Java producer's default
        }
        let cluster = Cluster::new(client);
        cluster.any_connection().await?;
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                partitioner: Partitioner::new(config.partitioner, config.batch_size),
                queues: HashMap::new(),
                outstanding: 0,
                flushing: false,
                closed: false,
                producer_id: NO_PRODUCER_ID,
                producer_epoch: NO_PRODUCER_EPOCH,
            }),
            buffer: Arc::new(Semaphore::new(
                config.buffer_memory.clamp(1, Semaphore::MAX_PERMITS),
            )),
            config,
            cluster,
            wake: Notify::new(),
            idle: Notify::new(),
        });
        if inner.config.enable_idempotence {
            init_producer_id(&inner).await?;
        }
        tokio::spawn(sender_loop(inner.clone()));
        Ok(Producer { inner })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a record; waits (up to `max.block.ms`) for metadata and for room in
    /// `buffer.memory`. The returned future gives the record's offset or error.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture, ClientError> {
        let inner = &self.inner;
        // One clock read per record: the record's timestamp and the metadata-age check.
        let now = crate::time::now_ms();
        let timestamp = record.timestamp.unwrap_or(now);
        let partitions = match inner.cluster.partition_count(&record.topic) {
            Some(n) => {
                if inner.cluster.is_stale_at(now) {
                    inner.cluster.refresh_in_background();
                }
                n
            }
            None => inner
                .cluster
                .wait_for_topic(&record.topic, true, inner.config.max_block)
                .await
                .map_err(|e| {
                    ClientError::Blocked(format!(
                        "no metadata for topic {} within max.block.ms ({} ms): {e}",
                        record.topic,
                        inner.config.max_block.as_millis()
                    ))
                })?
                .partitions
                .len() as i32,
        };
        let headers: Vec<(&str, Option<&[u8]>)> = record
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        let size = record.key.as_ref().map_or(0, Bytes::len)
            + record.value.as_ref().map_or(0, Bytes::len)
            + headers
                .iter()
                .map(|(k, v)| k.len() + v.map_or(0, <[u8]>::len))
                .sum::<usize>()
            + 32;
        if size > inner.config.max_request_size || size > inner.config.buffer_memory {
            return Err(ClientError::Broker(
                ErrorCode::MESSAGE_TOO_LARGE,
                format!("the record is {size} bytes, more than max.request.size or buffer.memory"),
            ));
        }
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        // Fast path without a timer; only a full buffer arms the max.block.ms deadline.
        let permit = match inner.buffer.clone().try_acquire_many_owned(permits) {
            Ok(p) => p,
            Err(_) => match tokio::time::timeout(inner.config.max_block, inner.buffer.clone().acquire_many_owned(permits)).await {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => return Err(ClientError::Closed),
                Err(_) => {
                    return Err(ClientError::Blocked(format!(
                        "failed to allocate {size} bytes within max.block.ms ({} ms): buffer.memory ({} bytes) is full because the broker is not keeping up or is unreachable",
                        inner.config.max_block.as_millis(),
                        inner.config.buffer_memory
                    )))
                }
            },
        };
        let wake = {
            let mut state = self.lock();
            if state.closed {
                return Err(ClientError::Closed);
            }
            let partition = match record.partition {
                Some(p) if p >= 0 && p < partitions => p,
                Some(p) => {
                    return Err(ClientError::Broker(
                        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                        format!("partition {p} of {} does not exist", record.topic),
                    ))
                }
                None => state
                    .partitioner
                    .partition(record.key.as_deref(), size, partitions),
            };
            let batch_size = inner.config.batch_size;
            let pid = (state.producer_id, state.producer_epoch);
            let queue = queue_mut(&mut state.queues, &record.topic, partition);
            let would_overflow = queue.open.as_ref().is_some_and(|b| {
                !b.builder.is_empty()
                    && b.builder.estimated_size()
                        + b.builder.record_size(
                            timestamp,
                            record.key.as_deref(),
                            record.value.as_deref(),
                            &headers,
                        )
                        > batch_size
            });
            let mut sealed = false;
            if would_overflow {
                sealed = true;
                seal(
                    queue,
                    inner.config.compression,
                    &inner.config.compression_levels,
                    &pid,
                );
            }
            let open = queue.open.get_or_insert_with(|| OpenBatch {
                builder: BatchBuilder::with_capacity(batch_size.min(1 << 20)),
                completion: Completer {
                    completion: BatchCompletion::new(&record.topic, partition),
                    first: 0,
                    count: 0,
                },
                permits: None,
                created: Instant::now(),
            });
            let index = open.builder.append(
                timestamp,
                record.key.as_deref(),
                record.value.as_deref(),
                &headers,
            );
            open.completion.count += 1;
            let delivery = DeliveryFuture {
                completion: open.completion.completion.clone(),
                index: index as u32,
            };
            match open.permits.as_mut() {
                Some(p) => p.merge(permit),
                None => open.permits = Some(permit),
            }
            let full = open.builder.estimated_size() >= batch_size;
            state.outstanding += 1;
            (sealed || full, delivery)
        };
        let (wake, delivery) = wake;
        if wake {
            inner.wake.notify_one();
        }
        Ok(delivery)
    }

    /// Sends everything queued now and waits until every record has its result.
    pub async fn flush(&self) {
        loop {
            let notified = self.inner.idle.notified();
            {
                let mut state = self.lock();
                if state.outstanding == 0 {
                    state.flushing = false;
                    return;
                }
                state.flushing = true;
            }
            self.inner.wake.notify_one();
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }

    /// Flushes, then stops the sender.
    pub async fn close(&self) {
        self.flush().await;
        self.lock().closed = true;
        self.inner.wake.notify_one();
    }

    /// The producer id in use (-1 when not idempotent).
    pub fn producer_id(&self) -> i64 {
        self.lock().producer_id
    }
}

/// The queue of `topic`-`partition`, created on first use (allocating only then).
fn queue_mut<'a>(
    queues: &'a mut HashMap<String, HashMap<i32, PartitionQueue>>,
    topic: &str,
    partition: i32,
) -> &'a mut PartitionQueue {
    if !queues.contains_key(topic) {
        queues.insert(topic.to_string(), HashMap::new());
    }
    match queues.get_mut(topic) {
        Some(partitions) => partitions.entry(partition).or_default(),
        None => unreachable!("the topic's map was inserted just above"),
    }
}

/// Closes the partition's open batch: assigns its sequence and builds its bytes.
fn seal(queue: &mut PartitionQueue, codec: Compression, levels: &Levels, pid: &(i64, i16)) {
    let Some(mut open) = queue.open.take() else {
        return;
    };
    if open.builder.is_empty() {
        return;
    }
    let records = open.builder.len() as usize;
    if pid.0 >= 0 {
        open.builder.producer_id = pid.0;
        open.builder.producer_epoch = pid.1;
        open.builder.base_sequence = queue.next_sequence;
        queue.next_sequence = queue.next_sequence.wrapping_add(records as i32) & i32::MAX;
    }
    let now = Instant::now();
    queue.ready.push_back(SealedBatch {
        bytes: open.builder.build_at(codec, levels),
        records,
        base_sequence: open.builder.base_sequence,
        completion: open.completion,
        _permits: open.permits,
        created: open.created,
        not_before: now,
        retries: 0,
    });
}

/// KIP-580: the wait before retry number `retries` (1 for the first): `retry.backoff.ms`
/// doubled per retry, capped at `retry.backoff.max.ms`, with ±20 % random jitter.
fn retry_backoff(config: &ProducerConfig, retries: u32) -> Duration {
    let base =
        config.retry_backoff.as_secs_f64() * 2f64.powi(retries.saturating_sub(1).min(30) as i32);
    let max = config
        .retry_backoff_max
        .max(config.retry_backoff)
        .as_secs_f64();
    let jitter = 0.8 + 0.4 * random_unit();
    Duration::from_secs_f64(base.min(max) * jitter)
}

/// A number in [0, 1) from the standard library's OS-seeded hasher (jitter, not secrets).
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// InitProducerId, retried on retriable errors (a broker that just started answers
/// COORDINATOR_LOAD_IN_PROGRESS until it holds a block of producer ids) and on transport
/// failures (a broker just killed; a timed-out or dropped connection is dead, so the retry
/// goes to another broker) with the producer's backoff, for up to `max.block.ms`, as the
/// Java client does.
async fn init_producer_id(inner: &Arc<Inner>) -> Result<(), ClientError> {
    let deadline = Instant::now() + inner.config.max_block;
    let mut retries = 0;
    loop {
        match try_init_producer_id(inner).await {
            Err(e) if e.is_retriable() && Instant::now() < deadline => {
                retries += 1;
                let wait = retry_backoff(&inner.config, retries);
                tracing::debug!(error = %e, retries, "InitProducerId: retrying");
                tokio::time::sleep(wait.min(deadline.saturating_duration_since(Instant::now())))
                    .await;
            }
            other => return other,
        }
    }
}

async fn try_init_producer_id(inner: &Arc<Inner>) -> Result<(), ClientError> {
    let conn = inner.cluster.any_connection().await?;
    if conn.version_for(ApiKey::InitProducerId).is_none() {
        tracing::warn!("the broker does not support InitProducerId; idempotence is off");
        return Ok(());
    }
    let request = RequestBody::InitProducerId(InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    });
    let (_, body) = conn.call(ApiKey::InitProducerId, request).await?;
    let ResponseBody::InitProducerId(r) = body else {
        return Err(ClientError::Protocol(
            "InitProducerId answered with another API".into(),
        ));
    };
    if r.error_code != 0 {
        return Err(ClientError::Broker(
            ErrorCode(r.error_code),
            "InitProducerId failed".into(),
        ));
    }
    let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
    state.producer_id = r.producer_id;
    state.producer_epoch = r.producer_epoch;
    Ok(())
}

/// Splits a batch the broker found too large into smaller ones (Kafka's `splitAndReenqueue`,
/// but always into parts of at most half the batch, or the largest record, so a topic limit
/// below `batch.size` cannot make it resend the same batch forever: KAFKA-8350). The parts
/// keep the batch's sequence range and go out at once, without using a retry; a part of one
/// record that is still too large then fails alone.
fn split_batch(
    config: &ProducerConfig,
    batch: &SealedBatch,
) -> Result<Vec<(Bytes, usize)>, crate::protocol::record_batch::BatchError> {
    crate::protocol::record_batch::split(
        &batch.bytes,
        &config.compression_levels,
        config.max_request_size.saturating_mul(2).max(1 << 20),
    )
}

/// The sealed batches of `parts` (from [`split_batch`]), each completing its own records of
/// `batch`.
fn into_parts(batch: SealedBatch, parts: Vec<(Bytes, usize)>) -> Vec<SealedBatch> {
    let SealedBatch {
        completion,
        _permits: mut permits,
        created,
        base_sequence,
        ..
    } = batch;
    let now = Instant::now();
    let mut offset = 0u32;
    let mut sequence = base_sequence;
    let mut out = Vec::with_capacity(parts.len());
    for (bytes, records) in parts {
        let count = records as u32;
        out.push(SealedBatch {
            bytes,
            records,
            base_sequence: sequence,
            completion: completion.part(offset, count),
            // The buffer memory goes back when the first part is done.
            _permits: permits.take(),
            created,
            not_before: now,
            retries: 0,
        });
        offset += count;
        if sequence >= 0 {
            sequence = sequence.wrapping_add(count as i32) & i32::MAX;
        }
    }
    completion.hand_over();
    out
}

/// The broker refused `batch` (not appended): in an idempotent producer the batches after it
/// must take over its sequence numbers.
fn note_refused(queue: &mut PartitionQueue, batch: &SealedBatch) {
    if batch.base_sequence >= 0 {
        let from = queue
            .resequence_from
            .map_or(batch.base_sequence, |f| f.min(batch.base_sequence));
        queue.resequence_from = Some(from);
    }
}

/// Renumbers the batches of a partition not yet acknowledged (none in flight) from where the
/// broker's sequence stands, after it refused a batch: in sequence order, consecutively,
/// rewriting each batch's base sequence (under its CRC).
fn resequence(queue: &mut PartitionQueue, from: i32) {
    let mut batches: Vec<SealedBatch> = std::mem::take(&mut queue.retry);
    batches.extend(queue.ready.drain(..));
    batches.sort_by_key(|b| b.base_sequence);
    let mut next = batches.first().map_or(from, |b| b.base_sequence.min(from));
    for b in &mut batches {
        if b.base_sequence != next {
            let mut bytes = b.bytes.to_vec();
            crate::protocol::record_batch::set_base_sequence(&mut bytes, next);
            b.bytes = Bytes::from(bytes);
            b.base_sequence = next;
        }
        next = next.wrapping_add(b.records as i32) & i32::MAX;
    }
    tracing::debug!(
        from,
        next,
        batches = batches.len(),
        "renumbered the batches after a refused one"
    );
    queue.next_sequence = next;
    queue.ready.extend(batches);
    queue.resequence_from = None;
}

/// Logs once when the oldest record of a partition has waited [`super::WAIT_WARNING`]
/// without an acknowledgement: for what, and how long it may still wait.
fn warn_when_waiting(
    config: &ProducerConfig,
    tp: &TopicPartition,
    leader: i32,
    queue: &mut PartitionQueue,
    now: Instant,
) {
    if queue.warned {
        return;
    }
    let Some(oldest) = queue
        .ready
        .iter()
        .chain(queue.retry.iter())
        .map(|b| b.created)
        .min()
    else {
        return;
    };
    let waited = now.saturating_duration_since(oldest);
    if waited < super::WAIT_WARNING {
        return;
    }
    queue.warned = true;
    let why = match (&queue.last_error, leader) {
        (Some(e), _) => format!("the last attempt failed: {e}"),
        (None, l) if l < 0 => "the partition has no leader".to_string(),
        (None, _) => "waiting for the leader's answer".to_string(),
    };
    tracing::warn!(
        "records for {}-{} not acknowledged after {} s ({why}); retrying until delivery.timeout.ms ({} ms) after each was sent",
        tp.0,
        tp.1,
        waited.as_secs(),
        config.delivery_timeout.as_millis()
    );
}

/// A request ready to go to one broker.
struct Outgoing {
    node: i32,
    batches: Vec<(TopicPartition, SealedBatch)>,
}

async fn sender_loop(inner: Arc<Inner>) {
    loop {
        let (outgoing, next_wake, closed) = collect_ready(&inner);
        // Requests are submitted here, in order, so a partition's batches reach the broker
        // in sequence order; only the waiting for answers runs concurrently.
        for out in outgoing {
            dispatch(&inner, out).await;
        }
        if closed {
            return;
        }
        let sleep = next_wake.map_or(Duration::from_millis(100), |t| {
            t.saturating_duration_since(Instant::now())
        });
        let _ = tokio::time::timeout(sleep.max(Duration::from_micros(200)), inner.wake.notified())
            .await;
    }
}

/// Seals batches whose linger passed (or all, when flushing) and takes the sendable ones,
/// grouped by leader. Returns also when to look again.
fn collect_ready(inner: &Arc<Inner>) -> (Vec<Outgoing>, Option<Instant>, bool) {
    let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    let pid = (state.producer_id, state.producer_epoch);
    let flushing = state.flushing || state.closed;
    let mut next_wake: Option<Instant> = None;
    let mut by_node: HashMap<i32, Outgoing> = HashMap::new();
    let config = &inner.config;
    let mut keys: Vec<TopicPartition> = state
        .queues
        .iter()
        .flat_map(|(t, parts)| parts.keys().map(move |p| (t.clone(), *p)))
        .collect();
    keys.sort();
    for tp in keys {
        let leader = inner.cluster.leader(&tp.0, tp.1).unwrap_or(-1);
        let queue = queue_mut(&mut state.queues, &tp.0, tp.1);
        warn_when_waiting(config, &tp, leader, queue, now);
        if let Some(open) = &queue.open {
            let due = open.created + config.linger;
            if flushing || due <= now {
                seal(queue, config.compression, &config.compression_levels, &pid);
            } else {
                next_wake = Some(next_wake.map_or(due, |w: Instant| w.min(due)));
            }
        }
        if let Some(from) = queue.resequence_from {
            if queue.in_flight > 0 {
                continue;
            }
            resequence(queue, from);
        }
        if !queue.retry.is_empty() {
            if queue.in_flight > 0 {
                continue;
            }
            let mut retry = std::mem::take(&mut queue.retry);
            retry.sort_by_key(|b| b.base_sequence);
            for b in retry.into_iter().rev() {
                queue.ready.push_front(b);
            }
        }
        if leader < 0 {
            continue;
        }
        let limit = if pid.0 >= 0 {
            config.max_in_flight
        } else {
            config.max_in_flight.max(1)
        };
        if queue.in_flight < limit {
            if let Some(front) = queue.ready.front() {
                if front.not_before > now {
                    next_wake = Some(
                        next_wake.map_or(front.not_before, |w: Instant| w.min(front.not_before)),
                    );
                    continue;
                }
                let batch = queue.ready.pop_front().expect("front exists");
                queue.in_flight += 1;
                queue.in_flight_sequences.insert(batch.base_sequence);
                by_node
                    .entry(leader)
                    .or_insert_with(|| Outgoing {
                        node: leader,
                        batches: Vec::new(),
                    })
                    .batches
                    .push((tp.clone(), batch));
            }
        }
        if !queue.ready.is_empty() && queue.in_flight < limit {
            next_wake = Some(now);
        }
    }
    (
        by_node.into_values().collect(),
        next_wake,
        state.closed && state.outstanding == 0,
    )
}

async fn dispatch(inner: &Arc<Inner>, out: Outgoing) {
    let mut topics: Vec<TopicProduceData> = Vec::new();
    for ((topic, partition), batch) in &out.batches {
        let data = PartitionProduceData {
            index: *partition,
            records: Some(batch.bytes.clone()),
            ..Default::default()
        };
        match topics.iter_mut().find(|t| &t.name == topic) {
            Some(t) => t.partition_data.push(data),
            None => topics.push(TopicProduceData {
                name: topic.clone(),
                partition_data: vec![data],
                ..Default::default()
            }),
        }
    }
    let timeout_ms =
        i32::try_from(inner.cluster.config.request_timeout.as_millis()).unwrap_or(i32::MAX);
    let request = RequestBody::Produce(ProduceRequest {
        transactional_id: None,
        acks: inner.config.acks,
        timeout_ms,
        topic_data: topics,
        ..Default::default()
    });
    let submitted = match inner.cluster.connection(out.node).await {
        Err(e) => Err(e),
        Ok(conn) => match conn.version_for(ApiKey::Produce) {
            None => Err(ClientError::Unsupported(format!(
                "the broker at {} does not support Produce v3+",
                conn.addr
            ))),
            Some(v) if inner.config.acks == 0 => conn
                .send_only(ApiKey::Produce, v, request)
                .await
                .map(|()| None),
            Some(v) => conn.submit(ApiKey::Produce, v, request).await.map(Some),
        },
    };
    let inner = inner.clone();
    tokio::spawn(async move {
        let result = match submitted {
            Ok(Some(pending)) => pending.response().await.map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        complete(inner, out, result).await;
    });
}

/// Hands each batch of a finished request its outcome: delivered, retried, or failed.
async fn complete(
    inner: Arc<Inner>,
    out: Outgoing,
    result: Result<Option<ResponseBody>, ClientError>,
) {
    let answers: HashMap<TopicPartition, (i16, i64, String)> = match &result {
        Ok(Some(ResponseBody::Produce(r))) => r
            .responses
            .iter()
            .flat_map(|t| {
                t.partition_responses.iter().map(move |p| {
                    (
                        (t.name.clone(), p.index),
                        (
                            p.error_code,
                            p.base_offset,
                            p.error_message.clone().unwrap_or_default(),
                        ),
                    )
                })
            })
            .collect(),
        _ => HashMap::new(),
    };
    if let Err(e) = &result {
        if e.is_retriable() {
            inner.cluster.drop_connection(out.node);
        }
    }
    let mut refresh = false;
    {
        let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
        for (tp, batch) in out.batches {
            let outcome: Result<i64, ClientError> = match (&result, answers.get(&tp)) {
                (Ok(None), _) => Ok(-1),
                (Ok(Some(_)), Some((0, base, _))) => Ok(*base),
                (Ok(Some(_)), Some((code, _, _)))
                    if *code == ErrorCode::DUPLICATE_SEQUENCE_NUMBER.0 =>
                {
                    Ok(-1)
                }
                (Ok(Some(_)), Some((code, _, msg))) => {
                    Err(ClientError::Broker(ErrorCode(*code), msg.clone()))
                }
                (Ok(Some(_)), None) => Err(ClientError::Protocol(format!(
                    "no answer for {}-{}",
                    tp.0, tp.1
                ))),
                (Err(e), _) => Err(e.clone()),
            };
            let queue = queue_mut(&mut state.queues, &tp.0, tp.1);
            queue.in_flight = queue.in_flight.saturating_sub(1);
            let refused = match &outcome {
                Err(ClientError::Broker(code, _)) => Some(*code),
                _ => None,
            };
            // A batch after one that is to be resent (or renumbered) finds the broker
            // expecting an earlier sequence: it goes again after that one.
            let idempotent_gap = matches!(
                refused,
                Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER | ErrorCode::UNKNOWN_PRODUCER_ID)
            ) && (queue
                .retry
                .iter()
                .chain(queue.ready.iter())
                .any(|b| b.base_sequence < batch.base_sequence)
                || queue
                    .resequence_from
                    .is_some_and(|from| from < batch.base_sequence));
            if refused == Some(ErrorCode::MESSAGE_TOO_LARGE) && batch.records > 1 {
                match split_batch(&inner.config, &batch) {
                    Ok(parts) => {
                        tracing::warn!(topic = %tp.0, partition = tp.1, parts = parts.len(), "the broker found a batch too large (MESSAGE_TOO_LARGE); sending its records in smaller batches");
                        queue.retry.extend(into_parts(batch, parts));
                    }
                    Err(e) => {
                        tracing::warn!(topic = %tp.0, partition = tp.1, error = %e, "cannot split a batch the broker found too large");
                        note_refused(queue, &batch);
                        batch.completion.complete(outcome);
                        state.outstanding -= batch.records;
                    }
                }
                continue;
            }
            match outcome {
                Ok(base) => {
                    queue.last_error = None;
                    queue.warned = false;
                    batch.completion.complete(Ok(base));
                    state.outstanding -= batch.records;
                }
                Err(e)
                    if (e.is_retriable() || idempotent_gap)
                        && batch.created.elapsed() < inner.config.delivery_timeout
                        && inner.config.retries > 0 =>
                {
                    refresh |= true;
                    tracing::debug!(topic = %tp.0, partition = tp.1, error = %e, "retrying a batch");
                    queue.last_error = Some(e.to_string());
                    let mut batch = batch;
                    batch.retries += 1;
                    batch.not_before = Instant::now() + retry_backoff(&inner.config, batch.retries);
                    queue_mut(&mut state.queues, &tp.0, tp.1).retry.push(batch);
                }
                Err(e) => {
                    if refused.is_some() && !e.is_retriable() && !idempotent_gap {
                        note_refused(queue, &batch);
                    }
                    batch.completion.complete(Err(e));
                    state.outstanding -= batch.records;
                }
            }
        }
        if state.outstanding == 0 {
            inner.idle.notify_waiters();
        }
    }
    if refresh {
        let topics: Vec<String> = inner
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .queues
            .keys()
            .cloned()
            .collect();
        let _ = inner.cluster.refresh(&topics).await;
    }
    inner.wake.notify_one();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_retry_backoff_max_ms_with_jitter() {
        let mut p = Properties::default();
        p.set("retry.backoff.ms", "100");
        p.set("retry.backoff.max.ms", "1000");
        let config = ProducerConfig::from_properties(&p).unwrap();
        for (retry, nominal_ms) in [
            (1, 100.0),
            (2, 200.0),
            (3, 400.0),
            (4, 800.0),
            (5, 1000.0),
            (12, 1000.0),
        ] {
            let ms = retry_backoff(&config, retry).as_secs_f64() * 1000.0;
            assert!(
                (nominal_ms * 0.79..=nominal_ms * 1.21).contains(&ms),
                "retry {retry}: {ms} ms, expected about {nominal_ms}"
            );
        }
    }

    #[test]
    fn compression_levels_are_read_and_checked() {
        let mut p = Properties::default();
        p.set("compression.zstd.level", "19");
        p.set("compression.gzip.level", "1");
        let config = ProducerConfig::from_properties(&p).unwrap();
        assert_eq!(
            (
                config.compression_levels.zstd,
                config.compression_levels.gzip
            ),
            (19, 1)
        );
        p.set("compression.lz4.level", "12");
        let err = ProducerConfig::from_properties(&p).unwrap_err().to_string();
        assert!(err.contains("compression.lz4.level"), "{err}");
        p.set("compression.lz4.level", "9");
        p.set("compression.gzip.level", "11");
        assert!(ProducerConfig::from_properties(&p).is_err());
    }
}
