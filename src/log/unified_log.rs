//! One partition's log (Kafka's `UnifiedLog`): its segments, log start and end offsets, the
//! recovery point, the leader-epoch cache and the idempotent-producer state.
//!
//! Owns: validating and appending batches (offsets and leader epoch stamped in place, bytes
//! otherwise untouched), rolling segments, reading whole batches as file regions, offset
//! lookups by timestamp, the flush policy, retention, `DeleteRecords`, truncation, recovery
//! at open. Must not: know about requests, leadership or the high watermark's meaning (the
//! partition layer passes the bounds). Callers serialise access (a `Mutex`); fsync runs
//! outside that lock through [`SharedLog::flush_to`] (group commit).
//!
//! Directory `<topic>-<partition>/`: segments (`<base>.log`, `.index`, `.timeindex`),
//! producer snapshots `<offset>.snapshot`, `leader-epoch-checkpoint`, `partition.metadata`.

use super::checkpoint;
use super::config::LogConfig;
use super::io::{LogFile, LogFs};
use super::leader_epoch::LeaderEpochCache;
use super::producer_state::{ProducerStateManager, SequenceCheck};
use super::segment::{FileRegion, LogSegment, SegmentLimits};
use crate::protocol::record_batch::{self, BatchHeader, BatchIter, BATCH_HEADER_BYTES};
use crate::protocol::{Compression, ErrorCode};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Batches with a body up to this size are written with one write (header and body copied
/// into one buffer); larger ones as two writes, without the copy.
const COALESCE_WRITE_BYTES: usize = 256 << 10;

pub use crate::limits::DECOMPRESS_LIMIT_BYTES;
const SNAPSHOTS_KEPT: usize = 2;

/// An operating error of the log, with the partition and what was being done.
#[derive(Debug)]
pub struct LogError {
    pub context: String,
    pub source: io::Error,
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.source)
    }
}

impl std::error::Error for LogError {}

/// Why an append was refused: the Kafka error code for that partition, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendError {
    pub code: ErrorCode,
    pub message: String,
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for AppendError {}

fn refuse(code: ErrorCode, message: impl Into<String>) -> AppendError {
    AppendError {
        code,
        message: message.into(),
    }
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// The LogAppendTime stamped, or -1 for CreateTime topics.
    pub log_append_time: i64,
    pub log_start_offset: i64,
    pub record_count: i64,
    /// The batch was a retry of one already in the log: nothing was written.
    pub duplicate: bool,
    /// The leader epoch the leader appended in (-1 for a follower's append).
    pub leader_epoch: i32,
}

/// What a leader's append accepts beyond a valid batch: Produce v3+ carries one batch per
/// partition, and zstd only from Produce v7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendRules {
    pub one_batch: bool,
    pub zstd: bool,
}

impl AppendRules {
    /// A produce request's: one batch per partition, zstd from Produce v7 (`zstd`).
    pub const fn produce(zstd: bool) -> AppendRules {
        AppendRules {
            one_batch: true,
            zstd,
        }
    }

    /// Any number of batches in any codec (the broker's own records).
    pub const ANY: AppendRules = AppendRules {
        one_batch: false,
        zstd: true,
    };
}

/// Where a reopened log's state comes from.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions {
    /// Whether the log dir was shut down cleanly (no recovery scan needed).
    pub clean_shutdown: bool,
    /// First offset not known to be durable (from `recovery-point-offset-checkpoint`).
    pub recovery_point: i64,
    /// From `log-start-offset-checkpoint`.
    pub log_start_offset: i64,
}

/// What recovery at open found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub segments_scanned: usize,
    pub bytes_truncated: u64,
    pub segments_deleted: usize,
}

/// A segment taken for cleaning.
#[derive(Debug, Clone)]
pub struct CleanableSegment {
    pub base_offset: i64,
    pub region: FileRegion,
    /// Where the cleaned copy is written before it is swapped in.
    pub cleaned_path: PathBuf,
}

/// Files to sync for a flush, taken under the log lock and synced outside it.
#[derive(Debug)]
pub struct PendingFlush {
    file: Arc<dyn LogFile>,
    up_to: i64,
    messages: i64,
}

#[derive(Debug)]
pub struct Log {
    fs: Arc<dyn LogFs>,
    dir: PathBuf,
    topic: String,
    partition: i32,
    config: LogConfig,
    /// Segments by base offset; `None` until first used (inactive segments open lazily).
    segments: BTreeMap<i64, Option<LogSegment>>,
    log_start_offset: i64,
    log_end_offset: i64,
    recovery_point: i64,
    leader_epochs: LeaderEpochCache,
    producers: ProducerStateManager,
    unflushed_messages: i64,
    last_flush_ms: i64,
    /// Segments below this base were compacted by the last pass (dirty-ratio bookkeeping).
    cleaned_up_to: i64,
    /// The earliest delete horizon of tombstones the cleaner kept: a pass is due then.
    next_tombstone_horizon_ms: Option<i64>,
    /// Reused for joining a stamped header with its batch body (one write per batch).
    write_buffer: Vec<u8>,
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> LogError {
    let context = context.into();
    move |source| LogError { context, source }
}

fn parse_base_offset(path: &Path, ext: &str) -> Option<i64> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(ext)?;
    (stem.len() == 20).then(|| stem.parse().ok()).flatten()
}

fn storage_error(e: io::Error) -> AppendError {
    refuse(ErrorCode::KAFKA_STORAGE_ERROR, e.to_string())
}

impl Log {
    /// Opens (or creates) the log in `dir`, recovering after an unclean stop.
    pub fn open(
        fs: Arc<dyn LogFs>,
        dir: &Path,
        topic: &str,
        partition: i32,
        config: LogConfig,
        options: OpenOptions,
    ) -> Result<(Log, RecoveryReport), LogError> {
        let name = format!("{topic}-{partition}");
        let created = !fs.exists(dir);
        fs.create_dir_all(dir)
            .map_err(io_err(format!("{name}: create {}", dir.display())))?;
        if created {
            // The new directory's entry survives a machine crash only once its parent is
            // synced (as Kafka's `Utils.flushDir` on a new log).
            if let Some(parent) = dir.parent() {
                fs.sync_dir(parent)
                    .map_err(io_err(format!("{name}: sync {}", parent.display())))?;
            }
        }
        let mut bases = Vec::new();
        for path in fs
            .list_dir(dir)
            .map_err(io_err(format!("{name}: list {}", dir.display())))?
        {
            if let Some(base) = parse_base_offset(&path, ".log") {
                bases.push(base);
            } else if path
                .extension()
                .is_some_and(|e| e == "cleaned" || e == "tmp")
            {
                let _ = fs.remove_file(&path);
            }
        }
        bases.sort_unstable();
        let mut log = Log {
            fs,
            dir: dir.to_path_buf(),
            topic: topic.to_string(),
            partition,
            config,
            segments: bases.iter().map(|&b| (b, None)).collect(),
            log_start_offset: options.log_start_offset.max(0),
            log_end_offset: 0,
            recovery_point: options.recovery_point,
            leader_epochs: LeaderEpochCache::default(),
            producers: ProducerStateManager::new(),
            unflushed_messages: 0,
            last_flush_ms: 0,
            cleaned_up_to: i64::MIN,
            next_tombstone_horizon_ms: None,
            write_buffer: Vec::new(),
        };
        let report = log.load(options).map_err(io_err(format!("{name}: open")))?;
        Ok((log, report))
    }

    fn limits(&self) -> SegmentLimits {
        SegmentLimits {
            index_interval_bytes: self.config.index_interval_bytes,
            max_index_bytes: self.config.segment_index_bytes,
        }
    }

    fn load(&mut self, options: OpenOptions) -> io::Result<RecoveryReport> {
        let mut report = RecoveryReport::default();
        if self.segments.is_empty() {
            let base = self.log_start_offset;
            let segment = LogSegment::create(self.fs.as_ref(), &self.dir, base, self.limits())?;
            self.segments.insert(base, Some(segment));
            self.fs.sync_dir(&self.dir)?;
        }
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let first_dirty = if options.clean_shutdown {
            *bases.last().unwrap_or(&0)
        } else {
            // Recovery starts with the segment holding the recovery point.
            bases
                .iter()
                .rev()
                .find(|&&b| b <= options.recovery_point)
                .copied()
                .unwrap_or(bases[0])
        };
        let mut truncated_at: Option<usize> = None;
        for (i, &base) in bases.iter().enumerate().filter(|(_, &b)| b >= first_dirty) {
            if self.segments.get(&base).is_some_and(Option::is_some) {
                continue; // created just now
            }
            let limits = self.limits();
            let segment = if options.clean_shutdown {
                LogSegment::open(self.fs.as_ref(), &self.dir, base, limits)?
            } else {
                let mut s = LogSegment::open_unchecked(self.fs.as_ref(), &self.dir, base, limits)?;
                let cut = s.recover(limits, |_| {})?;
                report.segments_scanned += 1;
                if cut > 0 {
                    tracing::warn!(topic = %self.topic, partition = self.partition, segment = base, bytes = cut, "recovery truncated a torn or corrupt tail");
                    report.bytes_truncated += cut;
                    truncated_at = Some(i);
                }
                s
            };
            self.segments.insert(base, Some(segment));
            if truncated_at.is_some() {
                break;
            }
        }
        if let Some(i) = truncated_at {
            for &base in &bases[i + 1..] {
                if let Some(slot) = self.segments.remove(&base) {
                    report.bytes_truncated += self.delete_slot(base, slot)?;
                    report.segments_deleted += 1;
                }
            }
        }
        let active_base = *self.segments.keys().next_back().unwrap_or(&0);
        self.active_segment()?.preallocate_indexes()?;
        self.log_end_offset = self.active_segment()?.next_offset().max(active_base);
        self.log_start_offset = self
            .log_start_offset
            .max(*self.segments.keys().next().unwrap_or(&0))
            .min(self.log_end_offset);
        self.load_leader_epochs()?;
        self.load_producer_state()?;
        if !options.clean_shutdown {
            // What recovery kept may sit only in the page cache: make it durable first.
            self.active_segment()?.flush()?;
        }
        self.recovery_point = self.log_end_offset;
        Ok(report)
    }

    fn delete_slot(&self, base: i64, slot: Option<LogSegment>) -> io::Result<u64> {
        let segment = match slot {
            Some(s) => s,
            None => LogSegment::open_unchecked(self.fs.as_ref(), &self.dir, base, self.limits())?,
        };
        let size = segment.size();
        segment.delete(self.fs.as_ref())?;
        Ok(size)
    }

    fn leader_epoch_path(&self) -> PathBuf {
        self.dir.join("leader-epoch-checkpoint")
    }

    fn load_leader_epochs(&mut self) -> io::Result<()> {
        let path = self.leader_epoch_path();
        let loaded = match checkpoint::read_leader_epochs(self.fs.as_ref(), &path) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(error = %e, "leader epoch checkpoint unreadable; rebuilding from the log");
                None
            }
        };
        let mut cache = match loaded {
            Some(entries) => LeaderEpochCache::from_entries(entries),
            None => {
                let mut cache = LeaderEpochCache::default();
                self.for_each_batch_from(self.log_start_offset, |h| {
                    cache.assign(h.partition_leader_epoch, h.base_offset);
                })?;
                cache
            }
        };
        cache.truncate_from_end(self.log_end_offset);
        self.leader_epochs = cache;
        self.save_leader_epochs()
    }

    fn save_leader_epochs(&self) -> io::Result<()> {
        checkpoint::write_leader_epochs(
            self.fs.as_ref(),
            &self.leader_epoch_path(),
            self.leader_epochs.entries(),
        )
    }

    fn snapshot_offsets(&self) -> io::Result<Vec<i64>> {
        let mut out: Vec<i64> = self
            .fs
            .list_dir(&self.dir)?
            .iter()
            .filter_map(|p| parse_base_offset(p, ".snapshot"))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    fn snapshot_path(&self, offset: i64) -> PathBuf {
        self.dir.join(format!("{offset:020}.snapshot"))
    }

    /// Loads the newest usable producer snapshot at or below the log end and replays the
    /// batches after it.
    fn load_producer_state(&mut self) -> io::Result<()> {
        let mut from = self.log_start_offset;
        let mut state = ProducerStateManager::new();
        for offset in self.snapshot_offsets()?.into_iter().rev() {
            if offset > self.log_end_offset {
                let _ = self.fs.remove_file(&self.snapshot_path(offset));
                continue;
            }
            if let Some(s) = self
                .fs
                .read(&self.snapshot_path(offset))
                .ok()
                .and_then(|b| ProducerStateManager::from_snapshot(&b))
            {
                state = s;
                from = offset;
                break;
            }
        }
        self.for_each_batch_from(from, |h| state.update(h))?;
        self.producers = state;
        Ok(())
    }

    fn write_producer_snapshot(&self, offset: i64) -> io::Result<()> {
        self.fs
            .write_atomic(&self.snapshot_path(offset), &self.producers.snapshot())?;
        let offsets = self.snapshot_offsets()?;
        for old in offsets.iter().rev().skip(SNAPSHOTS_KEPT) {
            let _ = self.fs.remove_file(&self.snapshot_path(*old));
        }
        Ok(())
    }

    /// Calls `f` for every batch header with a base offset ≥ `offset`, in order.
    fn for_each_batch_from(
        &mut self,
        offset: i64,
        mut f: impl FnMut(&BatchHeader),
    ) -> io::Result<()> {
        let first = self
            .segments
            .range(..=offset)
            .next_back()
            .map(|(b, _)| *b)
            .unwrap_or(i64::MIN);
        let bases: Vec<i64> = self.segments.range(first..).map(|(b, _)| *b).collect();
        for base in bases {
            let segment = self.segment(base)?;
            for located in segment.batches_from(0) {
                let located = located?;
                if located.header.base_offset >= offset {
                    f(&located.header);
                }
            }
        }
        Ok(())
    }

    /// The segment at `base`, opening it on first use.
    fn segment(&mut self, base: i64) -> io::Result<&mut LogSegment> {
        let limits = self.limits();
        let (fs, dir) = (self.fs.clone(), self.dir.clone());
        let slot = self
            .segments
            .get_mut(&base)
            .ok_or_else(|| io::Error::other(format!("no segment {base}")))?;
        if slot.is_none() {
            *slot = Some(LogSegment::open(fs.as_ref(), &dir, base, limits)?);
        }
        slot.as_mut()
            .ok_or_else(|| io::Error::other("segment vanished"))
    }

    fn active_segment(&mut self) -> io::Result<&mut LogSegment> {
        let base = *self
            .segments
            .keys()
            .next_back()
            .ok_or_else(|| io::Error::other("log has no segment"))?;
        self.segment(base)
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn partition(&self) -> i32 {
        self.partition
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Changes the config (topic configs altered at run time).
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// Starts leader epoch `epoch` at the log end (this replica became the leader in it),
    /// so followers asking for the end of an older epoch learn where it stopped.
    pub fn assign_leader_epoch(&mut self, epoch: i32) -> io::Result<()> {
        if self.leader_epochs.assign(epoch, self.log_end_offset) {
            self.save_leader_epochs()?;
        }
        Ok(())
    }

    pub fn leader_epochs(&self) -> &LeaderEpochCache {
        &self.leader_epochs
    }

    pub fn producers(&self) -> &ProducerStateManager {
        &self.producers
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    pub fn segment_bases(&self) -> Vec<i64> {
        self.segments.keys().copied().collect()
    }

    /// Total bytes of all segments (opens every segment).
    pub fn size_bytes(&mut self) -> io::Result<u64> {
        let bases = self.segment_bases();
        let mut total = 0;
        for b in bases {
            total += self.segment(b)?.size();
        }
        Ok(total)
    }

    /// Validates `records` (one or more batches) and appends them as the leader at
    /// `leader_epoch`. Nothing is appended when any batch is refused.
    pub fn append_as_leader(
        &mut self,
        records: &Bytes,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        self.append_as_leader_with(records, leader_epoch, now_ms, AppendRules::ANY)
    }

    /// [`Log::append_as_leader`] under a produce request's `rules`.
    pub fn append_as_leader_with(
        &mut self,
        records: &Bytes,
        leader_epoch: i32,
        now_ms: i64,
        rules: AppendRules,
    ) -> Result<AppendInfo, AppendError> {
        // The batch headers once, then each batch validated (and decoded) once.
        let mut iter = BatchIter::new(records.clone());
        let framed: Vec<(BatchHeader, Bytes)> = iter.by_ref().collect();
        if !rules.zstd
            && framed
                .iter()
                .any(|(h, _)| h.compression() == Some(Compression::Zstd))
        {
            return Err(refuse(
                ErrorCode::UNSUPPORTED_COMPRESSION_TYPE,
                "zstd needs Produce v7 or later",
            ));
        }
        if rules.one_batch && framed.len() != 1 && !iter.partial_tail() {
            return Err(refuse(
                ErrorCode::INVALID_RECORD,
                format!(
                    "Produce v3+ carries exactly one record batch per partition, not {}",
                    framed.len()
                ),
            ));
        }
        let mut batches = Vec::with_capacity(framed.len());
        for (header, batch) in framed {
            self.validate_batch(&header, &batch, now_ms)?;
            batches.push(self.apply_topic_compression(header, batch)?);
        }
        if iter.partial_tail() || batches.is_empty() {
            return Err(refuse(
                ErrorCode::CORRUPT_MESSAGE,
                "records do not hold whole record batches",
            ));
        }
        if batches.len() == 1 {
            if let SequenceCheck::Duplicate(dup) = self.producers.check(&batches[0].0) {
                return Ok(AppendInfo {
                    base_offset: dup.first_offset(),
                    last_offset: dup.last_offset,
                    log_append_time: -1,
                    log_start_offset: self.log_start_offset,
                    record_count: i64::from(dup.offset_delta) + 1,
                    duplicate: true,
                    leader_epoch,
                });
            }
        }
        for (header, _) in &batches {
            if let SequenceCheck::Reject(code, why) = self.producers.check(header) {
                return Err(refuse(code, why));
            }
        }
        let log_append_time = if self.config.log_append_time {
            now_ms
        } else {
            -1
        };
        let mut info = AppendInfo {
            base_offset: self.log_end_offset,
            last_offset: -1,
            log_append_time,
            log_start_offset: self.log_start_offset,
            record_count: 0,
            duplicate: false,
            leader_epoch,
        };
        for (_, batch) in &batches {
            let stamped = self
                .append_batch(batch, leader_epoch, log_append_time, now_ms)
                .map_err(storage_error)?;
            info.last_offset = stamped.last_offset();
            info.record_count += i64::from(stamped.records_count);
        }
        info.log_start_offset = self.log_start_offset;
        Ok(info)
    }

    /// Appends batches a leader already stamped, as a follower does: offsets, partition leader
    /// epochs and CRCs are kept, byte for byte. The first batch must start at the log end and
    /// each must follow the previous one; every batch is fully validated first.
    pub fn append_as_follower(
        &mut self,
        records: &Bytes,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        let mut batches = Vec::new();
        let mut next = self.log_end_offset;
        let mut iter = BatchIter::new(records.clone());
        for (header, batch) in iter.by_ref() {
            record_batch::validate(&batch, DECOMPRESS_LIMIT_BYTES)
                .map_err(|e| refuse(e.error_code(), e.to_string()))?;
            if header.base_offset != next {
                return Err(refuse(
                    ErrorCode::OFFSET_OUT_OF_RANGE,
                    format!(
                        "a follower's batch at offset {} where {next} was expected",
                        header.base_offset
                    ),
                ));
            }
            next = header.next_offset();
            batches.push((header, batch));
        }
        if iter.partial_tail() || batches.is_empty() {
            return Err(refuse(
                ErrorCode::CORRUPT_MESSAGE,
                "records do not hold whole record batches",
            ));
        }
        let mut info = AppendInfo {
            base_offset: self.log_end_offset,
            last_offset: -1,
            log_append_time: -1,
            log_start_offset: self.log_start_offset,
            record_count: 0,
            duplicate: false,
            leader_epoch: -1,
        };
        for (header, batch) in &batches {
            self.append_stamped(
                &batch[..BATCH_HEADER_BYTES],
                &batch[BATCH_HEADER_BYTES..],
                header,
                now_ms,
            )
            .map_err(storage_error)?;
            info.last_offset = header.last_offset();
            info.record_count += i64::from(header.records_count);
        }
        Ok(info)
    }

    /// A batch as the topic's `compression.type` stores it: unchanged (the zero-copy path)
    /// under `producer` or when the codecs match, else re-compressed, as Kafka's leader does.
    fn apply_topic_compression(
        &self,
        header: BatchHeader,
        batch: Bytes,
    ) -> Result<(BatchHeader, Bytes), AppendError> {
        let Some(codec) = self.config.compression else {
            return Ok((header, batch));
        };
        if header.compression() == Some(codec) {
            return Ok((header, batch));
        }
        let rebuilt = record_batch::recompress(
            &batch,
            codec,
            &self.config.compression_levels,
            DECOMPRESS_LIMIT_BYTES,
        )
        .map_err(|e| refuse(e.error_code(), e.to_string()))?;
        let header =
            BatchHeader::parse(&rebuilt).map_err(|e| refuse(e.error_code(), e.to_string()))?;
        Ok((header, Bytes::from(rebuilt)))
    }

    fn validate_batch(
        &self,
        header: &BatchHeader,
        batch: &Bytes,
        now_ms: i64,
    ) -> Result<(), AppendError> {
        if batch.len() > self.config.max_message_bytes {
            return Err(refuse(
                ErrorCode::MESSAGE_TOO_LARGE,
                format!(
                    "batch of {} bytes exceeds max.message.bytes {}",
                    batch.len(),
                    self.config.max_message_bytes
                ),
            ));
        }
        let checked = record_batch::validate_batch(batch, DECOMPRESS_LIMIT_BYTES)
            .map_err(|e| refuse(e.error_code(), e.to_string()))?;
        debug_assert_eq!(&checked.header, header);
        if header.is_transactional() || header.is_control() {
            return Err(refuse(
                ErrorCode::INVALID_TXN_STATE,
                "transactions are not supported by this broker",
            ));
        }
        if !self.config.log_append_time {
            let ts = header.max_timestamp;
            if ts >= 0
                && (now_ms.saturating_sub(ts) > self.config.timestamp_before_max_ms
                    || ts.saturating_sub(now_ms) > self.config.timestamp_after_max_ms)
            {
                return Err(refuse(
                    ErrorCode::INVALID_TIMESTAMP,
                    format!("timestamp {ts} is out of the accepted range around {now_ms}"),
                ));
            }
        }
        if self.config.compact && checked.keyless_records > 0 {
            return Err(refuse(
                ErrorCode::INVALID_RECORD,
                "compacted topics refuse records without a key",
            ));
        }
        Ok(())
    }

    /// Stamps and writes one validated batch at the log end; returns the stamped header.
    fn append_batch(
        &mut self,
        batch: &Bytes,
        leader_epoch: i32,
        log_append_time: i64,
        now_ms: i64,
    ) -> io::Result<BatchHeader> {
        let mut head = [0u8; BATCH_HEADER_BYTES];
        head.copy_from_slice(&batch[..BATCH_HEADER_BYTES]);
        let base_offset = self.log_end_offset;
        record_batch::set_base_offset(&mut head, base_offset);
        record_batch::set_partition_leader_epoch(&mut head, leader_epoch);
        if log_append_time >= 0 {
            record_batch::set_log_append_time_split(
                &mut head,
                &batch[BATCH_HEADER_BYTES..],
                log_append_time,
            );
        }
        let header = BatchHeader::parse(&head).map_err(|e| io::Error::other(e.to_string()))?;
        let body = &batch[BATCH_HEADER_BYTES..];
        if body.len() <= COALESCE_WRITE_BYTES {
            // One write per batch: the stamped header and the body, copied side by side.
            let mut joined = std::mem::take(&mut self.write_buffer);
            joined.clear();
            joined.extend_from_slice(&head);
            joined.extend_from_slice(body);
            let result = self.append_stamped(&joined, &[], &header, now_ms);
            self.write_buffer = joined;
            result?;
        } else {
            self.append_stamped(&head, body, &header, now_ms)?;
        }
        Ok(header)
    }

    /// Appends a batch whose offsets are already stamped (leader path and followers).
    fn append_stamped(
        &mut self,
        head: &[u8],
        body: &[u8],
        header: &BatchHeader,
        now_ms: i64,
    ) -> io::Result<()> {
        assert_eq!(
            header.base_offset, self.log_end_offset,
            "appends must continue the log without gaps"
        );
        self.maybe_roll(header, now_ms)?;
        let limits = self.limits();
        self.active_segment()?
            .append(&[head, body], header, limits)?;
        if self
            .leader_epochs
            .assign(header.partition_leader_epoch, header.base_offset)
        {
            self.save_leader_epochs()?;
        }
        self.producers.update(header);
        self.log_end_offset = header.next_offset();
        self.unflushed_messages += i64::from(header.records_count);
        Ok(())
    }

    fn maybe_roll(&mut self, header: &BatchHeader, now_ms: i64) -> io::Result<()> {
        // A compacted log rolls by max.compaction.lag.ms too, so no record waits in the
        // active (never compacted) segment longer than that (Kafka's `maxSegmentMs`).
        let segment_ms = if self.config.compact {
            self.config
                .segment_ms
                .min(self.config.max_compaction_lag_ms)
        } else {
            self.config.segment_ms
        };
        let segment_bytes = self.config.segment_bytes;
        let active = self.active_segment()?;
        if active.is_empty() {
            return Ok(());
        }
        let too_big = active.size() + header.total_size() as u64 > segment_bytes;
        let batch_time = if header.max_timestamp >= 0 {
            header.max_timestamp
        } else {
            now_ms
        };
        let too_old = active
            .first_batch_timestamp()
            .is_some_and(|first| batch_time - first > segment_ms);
        let offsets_overflow = header.last_offset() - active.base_offset > i64::from(i32::MAX);
        if too_big || too_old || active.indexes_full() || offsets_overflow {
            self.roll()?;
        }
        Ok(())
    }

    /// Closes the active segment (trimmed, synced) and starts a new one at the log end.
    pub fn roll(&mut self) -> io::Result<()> {
        let base = self.log_end_offset;
        if self.segments.contains_key(&base) {
            return Ok(());
        }
        self.active_segment()?.close_active()?;
        // Its files are closed until a read needs them again, so file handles stay few.
        let old = *self.segments.keys().next_back().unwrap_or(&base);
        self.segments.insert(old, None);
        self.write_producer_snapshot(base)?;
        let segment = LogSegment::create(self.fs.as_ref(), &self.dir, base, self.limits())?;
        self.segments.insert(base, Some(segment));
        // The new segment's files survive a machine crash only once the directory is synced.
        self.fs.sync_dir(&self.dir)?;
        self.recovery_point = self.recovery_point.max(base);
        self.unflushed_messages = 0;
        Ok(())
    }

    /// Whether the flush policy asks for a flush now.
    pub fn needs_flush(&self, now_ms: i64) -> bool {
        self.unflushed_messages > 0
            && (self.unflushed_messages >= self.config.flush_messages
                || (self.config.flush_ms != i64::MAX
                    && now_ms - self.last_flush_ms >= self.config.flush_ms))
    }

    /// What a flush up to the current log end must sync (taken under the lock).
    pub fn begin_flush(&mut self) -> io::Result<PendingFlush> {
        let up_to = self.log_end_offset;
        let messages = self.unflushed_messages;
        Ok(PendingFlush {
            file: self.active_segment()?.log_file().clone(),
            up_to,
            messages,
        })
    }

    /// Records a completed flush.
    pub fn finish_flush(&mut self, done: PendingFlush, now_ms: i64) {
        self.recovery_point = self.recovery_point.max(done.up_to);
        self.unflushed_messages = (self.unflushed_messages - done.messages).max(0);
        self.last_flush_ms = now_ms;
    }

    /// Whole batches starting with the one that holds `offset`, up to `max_bytes` (at least
    /// one batch when `min_one_batch`), none reaching `upper_bound` (the high watermark for
    /// consumers, the log end for followers). OFFSET_OUT_OF_RANGE outside
    /// `[log_start_offset, log_end_offset]`.
    pub fn read(
        &mut self,
        offset: i64,
        max_bytes: u64,
        upper_bound: i64,
        min_one_batch: bool,
    ) -> Result<Option<FileRegion>, ErrorCode> {
        if offset < self.log_start_offset || offset > self.log_end_offset {
            return Err(ErrorCode::OFFSET_OUT_OF_RANGE);
        }
        let upper_bound = upper_bound.min(self.log_end_offset);
        if offset >= upper_bound {
            return Ok(None);
        }
        let first = self
            .segments
            .range(..=offset)
            .next_back()
            .map(|(b, _)| *b)
            .unwrap_or(i64::MIN);
        let bases: Vec<i64> = self.segments.range(first..).map(|(b, _)| *b).collect();
        for base in bases {
            let segment = self
                .segment(base)
                .map_err(|_| ErrorCode::KAFKA_STORAGE_ERROR)?;
            match segment.read(offset, max_bytes, upper_bound, min_one_batch) {
                Ok(Some(region)) => return Ok(Some(region)),
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(topic = %self.topic, partition = self.partition, error = %e, "read failed");
                    return Err(ErrorCode::KAFKA_STORAGE_ERROR);
                }
            }
        }
        Ok(None)
    }

    /// ListOffsets by timestamp: the first record with a timestamp ≥ `timestamp`, as
    /// `(offset, its timestamp)`; `None` when there is none.
    pub fn offset_for_timestamp(&mut self, timestamp: i64) -> io::Result<Option<(i64, i64)>> {
        for base in self.segment_bases() {
            let log_start = self.log_start_offset;
            let segment = self.segment(base)?;
            if segment.max_timestamp() < timestamp {
                continue;
            }
            let mut position = match segment.find_by_timestamp(timestamp, log_start)? {
                Some(located) => Some(located.position),
                None => continue,
            };
            while let Some(p) = position {
                let Some(located) = segment.batches_from(p).next().transpose()? else {
                    break;
                };
                let region = FileRegion {
                    file: segment.log_file().clone(),
                    position: p,
                    length: located.header.total_size() as u64,
                };
                let records =
                    record_batch::decode_records(&region.read_bytes()?, DECOMPRESS_LIMIT_BYTES)
                        .map_err(|e| io::Error::other(e.to_string()))?;
                if let Some(r) = records
                    .iter()
                    .find(|r| r.timestamp >= timestamp && r.offset >= log_start)
                {
                    return Ok(Some((r.offset, r.timestamp)));
                }
                position = Some(p + located.header.total_size() as u64);
            }
        }
        Ok(None)
    }

    /// ListOffsets MAX_TIMESTAMP: the offset of the first record with the largest timestamp.
    pub fn offset_of_max_timestamp(&mut self) -> io::Result<Option<(i64, i64)>> {
        let mut best = -1;
        for base in self.segment_bases() {
            best = best.max(self.segment(base)?.max_timestamp());
        }
        if best < 0 {
            return Ok(None);
        }
        self.offset_for_timestamp(best)
    }

    /// Deletes segments past retention (time and size, when `cleanup.policy` has `delete`)
    /// and those wholly below the log start; never anything at or above `high_watermark`.
    /// Returns how many segments were deleted.
    pub fn enforce_retention(&mut self, now_ms: i64, high_watermark: i64) -> io::Result<usize> {
        self.delete_old_segments(high_watermark, Some(now_ms))
    }

    /// Deletes oldest segments while one of the rules applies: wholly below the log start,
    /// and, when `now_ms` is given and the policy has `delete`, `retention.ms` (judged by the
    /// segment's largest record timestamp, the file's mtime when it has none) or
    /// `retention.bytes`.
    fn delete_old_segments(
        &mut self,
        high_watermark: i64,
        now_ms: Option<i64>,
    ) -> io::Result<usize> {
        let mut deleted = 0;
        loop {
            let bases = self.segment_bases();
            let Some(&oldest) = bases.first() else { break };
            let config = self.config.clone();
            let by_size = now_ms.is_some() && config.delete && config.retention_bytes >= 0;
            let total = if by_size { self.size_bytes()? } else { 0 };
            let (log_start, mtime) = (
                self.log_start_offset,
                self.fs
                    .modified_ms(&super::segment::log_path(&self.dir, oldest)),
            );
            let segment = self.segment(oldest)?;
            if segment.is_empty() || segment.next_offset() > high_watermark {
                break;
            }
            let largest = match segment.max_timestamp() {
                -1 => mtime.unwrap_or(i64::MAX),
                ts => ts,
            };
            let expired = now_ms.is_some_and(|now| {
                config.delete
                    && config.retention_ms >= 0
                    && now.saturating_sub(largest) > config.retention_ms
            });
            let oversize =
                by_size && total.saturating_sub(segment.size()) >= config.retention_bytes as u64;
            let below_start = segment.next_offset() <= log_start;
            if !(expired || oversize || below_start) {
                break;
            }
            if bases.len() == 1 {
                self.roll()?;
            }
            if let Some(slot) = self.segments.remove(&oldest) {
                self.delete_slot(oldest, slot)?;
                deleted += 1;
            }
            let new_start = *self.segments.keys().next().unwrap_or(&self.log_end_offset);
            self.log_start_offset = self.log_start_offset.max(new_start);
        }
        if deleted > 0 {
            self.leader_epochs
                .truncate_from_start(self.log_start_offset);
            self.save_leader_epochs()?;
        }
        Ok(deleted)
    }

    /// DeleteRecords: moves the log start to `offset` (-1: the high watermark), which must be
    /// ≤ `high_watermark`, and deletes the segments wholly below it. Returns the new log start.
    pub fn delete_records_before(
        &mut self,
        offset: i64,
        high_watermark: i64,
    ) -> Result<i64, ErrorCode> {
        let offset = if offset == -1 { high_watermark } else { offset };
        if offset < 0 || offset > high_watermark {
            return Err(ErrorCode::OFFSET_OUT_OF_RANGE);
        }
        if offset > self.log_start_offset {
            self.log_start_offset = offset;
            self.delete_old_segments(high_watermark, None)
                .map_err(|_| ErrorCode::KAFKA_STORAGE_ERROR)?;
        }
        Ok(self.log_start_offset)
    }

    /// Deletes every segment whose base offset is `from` or later.
    fn delete_segments_from(&mut self, from: i64) -> io::Result<()> {
        let doomed: Vec<i64> = self.segments.range(from..).map(|(b, _)| *b).collect();
        for base in doomed {
            if let Some(slot) = self.segments.remove(&base) {
                self.delete_slot(base, slot)?;
            }
        }
        Ok(())
    }

    /// Creates an empty segment at `offset` (its directory entry synced).
    fn start_segment_at(&mut self, offset: i64) -> io::Result<()> {
        let segment = LogSegment::create(self.fs.as_ref(), &self.dir, offset, self.limits())?;
        self.segments.insert(offset, Some(segment));
        self.fs.sync_dir(&self.dir)
    }

    /// Removes every batch and restarts the log, empty, at `offset` (Kafka's
    /// `truncateFullyAndStartAt`): a replica that installed a snapshot, or a follower whose
    /// leader's log starts after its own end.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> io::Result<()> {
        self.delete_segments_from(i64::MIN)?;
        self.start_segment_at(offset)?;
        self.active_segment()?.preallocate_indexes()?;
        self.log_start_offset = offset;
        self.log_end_offset = offset;
        self.recovery_point = offset;
        self.leader_epochs.truncate_from_end(i64::MIN);
        self.save_leader_epochs()?;
        self.producers = ProducerStateManager::new();
        Ok(())
    }

    /// Removes every batch from `offset` on (a follower diverged from its leader); the log
    /// continues from there. At or past the log end only the leader-epoch cache can lose
    /// entries, as in Kafka: an epoch this replica started as leader without appending
    /// anything before another leader took over conflicts with the new leader's epochs.
    pub fn truncate_to(&mut self, offset: i64) -> io::Result<()> {
        if offset < self.log_end_offset {
            self.delete_segments_from(offset)?;
            if self.segments.is_empty() {
                self.start_segment_at(offset)?;
                self.log_start_offset = self.log_start_offset.min(offset);
            } else {
                let limits = self.limits();
                self.active_segment()?.truncate_to(offset, limits)?;
            }
            let active = self.active_segment()?;
            active.preallocate_indexes()?;
            self.log_end_offset = active.next_offset();
            self.recovery_point = self.recovery_point.min(self.log_end_offset);
            self.producers.truncate_to(self.log_end_offset);
        }
        let epochs = self.leader_epochs.entries().len();
        self.leader_epochs.truncate_from_end(self.log_end_offset);
        if self.leader_epochs.entries().len() != epochs {
            self.save_leader_epochs()?;
        }
        Ok(())
    }

    /// Forgets idempotent producers silent for `expiration_ms` (`producer.id.expiration.ms`):
    /// their state no longer grows without bound. Returns how many were removed.
    pub fn remove_expired_producers(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers
            .remove_expired(now_ms.saturating_sub(expiration_ms));
        before - self.producers.len()
    }

    /// Clean close: final time-index entry, trimmed indexes, everything synced, producer
    /// snapshot at the log end, leader epochs saved.
    pub fn close(&mut self) -> io::Result<()> {
        self.active_segment()?.close_active()?;
        self.write_producer_snapshot(self.log_end_offset)?;
        self.save_leader_epochs()?;
        self.recovery_point = self.log_end_offset;
        self.unflushed_messages = 0;
        Ok(())
    }

    pub fn fs(&self) -> &Arc<dyn LogFs> {
        &self.fs
    }

    /// Whether a compaction pass is due: enough dirty bytes among the inactive segments
    /// (`min.cleanable.dirty.ratio`), a dirty segment older than `max.compaction.lag.ms`
    /// (compacted then whatever the ratio), or a kept tombstone's delete horizon has passed.
    pub fn compaction_due(&mut self, now_ms: i64) -> io::Result<bool> {
        let bases = self.segment_bases();
        if bases.len() < 2 {
            return Ok(false);
        }
        if self.next_tombstone_horizon_ms.is_some_and(|h| now_ms >= h) {
            return Ok(true);
        }
        let (mut total, mut dirty) = (0u64, 0u64);
        let (max_lag, cleaned_up_to) = (self.config.max_compaction_lag_ms, self.cleaned_up_to);
        for &base in &bases[..bases.len() - 1] {
            let segment = self.segment(base)?;
            let size = segment.size();
            total += size;
            if base >= cleaned_up_to {
                dirty += size;
                let overdue = segment
                    .first_batch_timestamp()
                    .is_some_and(|first| now_ms.saturating_sub(first) >= max_lag);
                if overdue {
                    return Ok(true);
                }
            }
        }
        Ok(dirty > 0 && dirty as f64 / total as f64 >= self.config.min_cleanable_dirty_ratio)
    }

    /// The inactive segments old enough to compact (`min.compaction.lag.ms`), oldest first.
    pub fn cleanable_segments(&mut self, now_ms: i64) -> io::Result<Vec<CleanableSegment>> {
        let bases = self.segment_bases();
        let lag = self.config.min_compaction_lag_ms;
        let mut out = Vec::new();
        for &base in bases.iter().take(bases.len().saturating_sub(1)) {
            let cleaned_path = self
                .dir
                .join(format!("{}.log.cleaned", super::segment::file_stem(base)));
            let segment = self.segment(base)?;
            if segment.max_timestamp() > now_ms.saturating_sub(lag) {
                break;
            }
            let region = FileRegion {
                file: segment.log_file().clone(),
                position: 0,
                length: segment.size(),
            };
            out.push(CleanableSegment {
                base_offset: base,
                region,
                cleaned_path,
            });
        }
        Ok(out)
    }

    /// Swaps in `<base>.log.cleaned` for segment `base` and rebuilds its indexes. Returns
    /// false (and removes the cleaned file) when the segment is gone or became active.
    pub fn replace_segment(&mut self, base: i64) -> io::Result<bool> {
        let cleaned = self
            .dir
            .join(format!("{}.log.cleaned", super::segment::file_stem(base)));
        let active = *self.segments.keys().next_back().unwrap_or(&base);
        if !self.segments.contains_key(&base) || base == active {
            let _ = self.fs.remove_file(&cleaned);
            return Ok(false);
        }
        self.segments.insert(base, None);
        self.fs
            .rename(&cleaned, &super::segment::log_path(&self.dir, base))?;
        self.fs.sync_dir(&self.dir)?;
        let limits = self.limits();
        let mut segment = LogSegment::open(self.fs.as_ref(), &self.dir, base, limits)?;
        segment.recover(limits, |_| {})?;
        segment.close_active()?;
        self.segments.insert(base, Some(segment));
        Ok(true)
    }

    /// Records the end of a compaction pass.
    pub fn finish_compaction(
        &mut self,
        last_cleaned_base: Option<i64>,
        earliest_horizon_ms: Option<i64>,
    ) {
        if let Some(last) = last_cleaned_base {
            self.cleaned_up_to = self
                .segments
                .range(last + 1..)
                .next()
                .map_or(last + 1, |(b, _)| *b);
        }
        self.next_tombstone_horizon_ms = earliest_horizon_ms;
    }

    /// Deletes the log's directory and everything in it.
    pub fn delete(self) -> io::Result<()> {
        self.fs.remove_dir_all(&self.dir)
    }
}

/// A log shared between request handlers: appends and reads take the log lock briefly;
/// flushes sync outside it, and concurrent flushers share one sync (group commit).
#[derive(Debug)]
pub struct SharedLog {
    log: Mutex<Log>,
    /// The health of the log's directory: an I/O error here takes the directory offline.
    /// Replaced when the replica moves to another log dir.
    health: Mutex<Arc<super::dir_health::DirHealth>>,
    flush: Mutex<FlushState>,
    flushed: Condvar,
}

/// Group-commit bookkeeping: at most one sync runs; callers whose offsets it covers wait
/// for it instead of syncing again.
#[derive(Debug, Default)]
struct FlushState {
    sync_in_progress: bool,
}

impl SharedLog {
    /// Every record from the log start to the log end, in order, with its batch's header: the
    /// replay of an internal log (cluster metadata, `__consumer_offsets`). Reads 1 MiB at a
    /// time and decodes without holding the log's lock.
    pub fn scan_records(
        &self,
        mut f: impl FnMut(&BatchHeader, record_batch::Record) -> Result<(), String>,
    ) -> Result<(), String> {
        let (mut offset, end) = {
            let l = self.lock();
            (l.log_start_offset(), l.log_end_offset())
        };
        while offset < end {
            let region = self
                .lock()
                .read(offset, 1 << 20, end, true)
                .map_err(|e| format!("read at offset {offset}: {e}"))?;
            let Some(region) = region else { break };
            let bytes = region
                .read_bytes()
                .map_err(|e| format!("read at offset {offset}: {e}"))?;
            let before = offset;
            for (header, batch) in BatchIter::new(bytes) {
                offset = offset.max(header.next_offset());
                let records = record_batch::decode_records(&batch, 64 << 20)
                    .map_err(|e| format!("batch at offset {}: {e}", header.base_offset))?;
                for record in records {
                    f(&header, record)?;
                }
            }
            if offset <= before {
                break;
            }
        }
        Ok(())
    }

    /// A log whose directory nobody watches (tests, tools).
    pub fn new(log: Log) -> Self {
        let dir = log.dir().parent().unwrap_or(log.dir()).to_path_buf();
        SharedLog::watched(log, super::dir_health::DirHealth::unwatched(&dir))
    }

    /// A log of a managed directory: its I/O errors take `health`'s directory offline.
    pub fn watched(log: Log, health: Arc<super::dir_health::DirHealth>) -> Self {
        SharedLog {
            health: Mutex::new(health),
            log: Mutex::new(log),
            flush: Mutex::new(FlushState::default()),
            flushed: Condvar::new(),
        }
    }

    /// Whether the log's directory is offline after an I/O error (nothing is read or
    /// written then: KAFKA_STORAGE_ERROR).
    pub fn is_offline(&self) -> bool {
        self.health().is_offline()
    }

    fn health(&self) -> Arc<super::dir_health::DirHealth> {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts `log` (the same partition, opened in another log dir whose health is `health`)
    /// in place of the one `guard` holds: a replica moved between log dirs. The caller holds
    /// the log's lock throughout, so no append or read sees the move half done.
    pub fn replace(
        &self,
        guard: &mut MutexGuard<'_, Log>,
        log: Log,
        health: Arc<super::dir_health::DirHealth>,
    ) {
        **guard = log;
        *self.health.lock().unwrap_or_else(|e| e.into_inner()) = health;
    }

    /// Takes the log's directory offline after an I/O error on this log.
    pub fn fail(&self, what: &str) {
        let name = {
            let l = self.lock();
            format!("{}-{}", l.topic(), l.partition())
        };
        self.health().fail(&format!("{name}: {what}"));
    }

    /// The log, for a short critical section (never held across `.await`).
    pub fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends as the leader, then syncs if the flush policy asks for it, before returning:
    /// when this returns, the records are as durable as the policy promises. An I/O error
    /// takes the directory offline.
    pub fn append_as_leader(
        &self,
        records: &Bytes,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, AppendError> {
        self.append_as_leader_with(records, leader_epoch, now_ms, AppendRules::ANY)
    }

    /// [`SharedLog::append_as_leader`] under a produce request's `rules`.
    pub fn append_as_leader_with(
        &self,
        records: &Bytes,
        leader_epoch: i32,
        now_ms: i64,
        rules: AppendRules,
    ) -> Result<AppendInfo, AppendError> {
        if self.is_offline() {
            return Err(refuse(
                ErrorCode::KAFKA_STORAGE_ERROR,
                "the log directory is offline",
            ));
        }
        let (info, sync) = {
            let mut log = self.lock();
            let info = match log.append_as_leader_with(records, leader_epoch, now_ms, rules) {
                Ok(info) => info,
                Err(e) => {
                    drop(log);
                    if e.code == ErrorCode::KAFKA_STORAGE_ERROR {
                        self.fail(&format!("append failed: {}", e.message));
                    }
                    return Err(e);
                }
            };
            // A retry of a batch whose first append is still being synced waits for that
            // sync too when every message must be durable before its answer.
            let sync = if info.duplicate {
                log.config.flush_messages <= 1 && log.recovery_point <= info.last_offset
            } else {
                log.needs_flush(now_ms)
            };
            (info, sync)
        };
        if sync {
            self.flush_to(info.last_offset + 1, now_ms)
                .map_err(storage_error)?;
        }
        Ok(info)
    }

    /// Makes every offset below `target` durable. One caller at a time syncs everything
    /// appended so far; callers arriving meanwhile wait and usually find themselves covered.
    /// A failed sync takes the directory offline: what it should have made durable may be
    /// lost, so nothing of this directory is served again until a restart recovers it.
    pub fn flush_to(&self, target: i64, now_ms: i64) -> io::Result<()> {
        if self.is_offline() {
            return Err(io::Error::other("the log directory is offline"));
        }
        let result = self.flush_to_inner(target, now_ms);
        if let Err(e) = &result {
            self.fail(&format!("fsync failed: {e}"));
        }
        result
    }

    fn flush_to_inner(&self, target: i64, now_ms: i64) -> io::Result<()> {
        let mut state = self.flush.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.lock().recovery_point >= target {
                return Ok(());
            }
            if !state.sync_in_progress {
                break;
            }
            state = self.flushed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.sync_in_progress = true;
        drop(state);
        let result = self.sync_all_appended(now_ms);
        self.flush
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .sync_in_progress = false;
        self.flushed.notify_all();
        result
    }

    fn sync_all_appended(&self, now_ms: i64) -> io::Result<()> {
        let pending = self.lock().begin_flush()?;
        pending.file.sync_data()?;
        self.lock().finish_flush(pending, now_ms);
        Ok(())
    }
}
