//! Log compaction (`cleanup.policy=compact`): keeps the last record of every key in the
//! inactive segments, and removes tombstones (null values) once their batch's delete horizon
//! (KIP-534: set to now + `delete.retention.ms` the first time the cleaner keeps them) has
//! passed. Records without a key are dropped.
//!
//! Runs in three steps so appends and reads are not blocked: (1) under the log lock, take the
//! inactive segments' files; (2) without the lock, build the key map (128-bit key digests,
//! bounded by `log.cleaner.dedupe.buffer.size`: the segments whose keys fit are cleaned this
//! pass, the rest in later ones) and write each cleaned segment to `<base>.log.cleaned`,
//! reading and writing a window at a time (`log.cleaner.io.buffer.size`), synced; (3) under
//! the lock, swap each cleaned file in by rename and rebuild its indexes. Batches that lose nothing are copied byte for byte;
//! others are re-encoded with the surviving records, keeping offsets (see
//! `record_batch::rebuild`). Must not: touch the active segment.

use super::segment::FileRegion;
use super::unified_log::{CleanableSegment, SharedLog, DECOMPRESS_LIMIT_BYTES};
use crate::protocol::record_batch::{self, BatchIter, Record};
use bytes::Bytes;
use std::collections::HashMap;
use std::io;

/// What one cleaning pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanStats {
    pub segments_cleaned: usize,
    pub records_removed: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// Memory the cleaner may use: Kafka's `log.cleaner.dedupe.buffer.size` (the key → offset map,
/// 24 bytes an entry at a 0.9 load factor, as Kafka's `SkimpyOffsetMap`) and
/// `log.cleaner.io.buffer.size` (the read window; a larger batch is read whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanerMemory {
    pub dedupe_buffer_bytes: usize,
    pub io_buffer_bytes: usize,
}

impl Default for CleanerMemory {
    fn default() -> Self {
        CleanerMemory {
            dedupe_buffer_bytes: 128 << 20,
            io_buffer_bytes: 512 << 10,
        }
    }
}

impl CleanerMemory {
    /// How many keys the map holds.
    fn max_keys(&self) -> usize {
        (self.dedupe_buffer_bytes as f64 * 0.9 / 24.0).max(1.0) as usize
    }
}

/// Cleans `log` when its policy has `compact` and it is due (dirty ratio, compaction lag, or
/// a tombstone horizon passed), within `memory`.
pub fn clean(log: &SharedLog, now_ms: i64) -> io::Result<CleanStats> {
    clean_within(log, now_ms, CleanerMemory::default())
}

/// [`clean`] with explicit memory bounds.
pub fn clean_within(log: &SharedLog, now_ms: i64, memory: CleanerMemory) -> io::Result<CleanStats> {
    let (mut segments, config, fs) = {
        let mut l = log.lock();
        if !l.config().compact || !l.compaction_due(now_ms)? {
            return Ok(CleanStats::default());
        }
        (
            l.cleanable_segments(now_ms)?,
            l.config().clone(),
            l.fs().clone(),
        )
    };
    let (latest, mapped) = latest_offsets(&segments, memory)?;
    if mapped == 0 {
        if !segments.is_empty() {
            tracing::warn!(
                dedupe_buffer_bytes = memory.dedupe_buffer_bytes,
                "log.cleaner.dedupe.buffer.size cannot hold the keys of one segment: nothing compacted"
            );
        }
        return Ok(CleanStats::default());
    }
    // Only the segments whose keys all fit in the map are cleaned this pass.
    segments.truncate(mapped);
    let mut stats = CleanStats::default();
    let mut cleaned = Vec::new();
    let mut earliest_horizon: Option<i64> = None;
    for segment in &segments {
        let file = fs.open(&segment.cleaned_path, true)?;
        file.set_len(0)?;
        let mut written = 0u64;
        let mut horizon_kept: Option<i64> = None;
        for_each_batch(&segment.region, memory.io_buffer_bytes, |header, batch| {
            stats.bytes_before += batch.len() as u64;
            let (out, removed, horizon) =
                clean_batch(&header, &batch, &latest, now_ms, config.delete_retention_ms)?;
            stats.records_removed += removed;
            if let Some(h) = horizon {
                horizon_kept = Some(horizon_kept.map_or(h, |k: i64| k.min(h)));
            }
            if let Some(out) = out {
                file.write_all_at(&out, written)?;
                written += out.len() as u64;
            }
            Ok(())
        })?;
        file.sync_data()?;
        stats.bytes_after += written;
        if let Some(h) = horizon_kept {
            earliest_horizon = Some(earliest_horizon.map_or(h, |e: i64| e.min(h)));
        }
        cleaned.push(segment.base_offset);
    }
    let mut l = log.lock();
    for base in cleaned {
        if l.replace_segment(base)? {
            stats.segments_cleaned += 1;
        }
    }
    l.finish_compaction(segments.last().map(|s| s.base_offset), earliest_horizon);
    Ok(stats)
}

/// A key's 128-bit digest (two SipHash passes with different keys), as Kafka's map keeps an
/// MD5 of each key instead of the key.
fn digest(key: &[u8]) -> u128 {
    use std::hash::Hasher;
    let half = |salt: u8| {
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new_with_keys(0x6b66_6b2d_636c_6561, u64::from(salt));
        h.write(key);
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

/// Key digest → offset of the key's last record, over the first segments whose keys all fit
/// in `memory`'s map; also how many segments that is.
fn latest_offsets(
    segments: &[CleanableSegment],
    memory: CleanerMemory,
) -> io::Result<(HashMap<u128, i64>, usize)> {
    let max_keys = memory.max_keys();
    let mut latest: HashMap<u128, i64> = HashMap::new();
    for (i, segment) in segments.iter().enumerate() {
        let mut added: Vec<(u128, Option<i64>)> = Vec::new();
        let mut full = false;
        for_each_batch(&segment.region, memory.io_buffer_bytes, |header, batch| {
            if header.is_control() || full {
                return Ok(());
            }
            for r in decode(&batch)? {
                if let Some(key) = r.key {
                    let d = digest(&key);
                    let before = latest.insert(d, r.offset);
                    added.push((d, before));
                    if latest.len() > max_keys {
                        full = true;
                        break;
                    }
                }
            }
            Ok(())
        })?;
        if full {
            // Undo this segment's entries: it is cleaned in a later pass.
            for (d, before) in added.into_iter().rev() {
                match before {
                    Some(o) => latest.insert(d, o),
                    None => latest.remove(&d),
                };
            }
            return Ok((latest, i));
        }
    }
    Ok((latest, segments.len()))
}

/// Calls `f` with every whole batch of `region`, reading `window_bytes` at a time (a larger
/// batch is read whole): memory stays bounded by the window and the largest batch.
fn for_each_batch(
    region: &FileRegion,
    window_bytes: usize,
    mut f: impl FnMut(record_batch::BatchHeader, Bytes) -> io::Result<()>,
) -> io::Result<()> {
    let window = window_bytes.max(record_batch::BATCH_HEADER_BYTES) as u64;
    let mut pos = 0u64;
    while pos < region.length {
        let want = window.min(region.length - pos);
        let mut buf = vec![0u8; want as usize];
        region.file.read_exact_at(&mut buf, region.position + pos)?;
        let bytes = Bytes::from(buf);
        let mut consumed = 0u64;
        for (header, batch) in BatchIter::new(bytes.clone()) {
            consumed += batch.len() as u64;
            f(header, batch)?;
        }
        if consumed == 0 {
            // One batch larger than the window: read exactly that batch.
            let header = record_batch::BatchHeader::parse(&bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let size = header.total_size() as u64;
            if header.batch_length < 0 || size > region.length - pos {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a batch overruns its segment",
                ));
            }
            let mut whole = vec![0u8; size as usize];
            region
                .file
                .read_exact_at(&mut whole, region.position + pos)?;
            f(header, Bytes::from(whole))?;
            consumed = size;
        }
        pos += consumed;
    }
    Ok(())
}

fn decode(batch: &Bytes) -> io::Result<Vec<Record>> {
    record_batch::decode_records(batch, DECOMPRESS_LIMIT_BYTES)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

/// One batch as the cleaner leaves it (`None`: nothing of it survives), the records removed,
/// and the delete horizon it keeps for its tombstones.
fn clean_batch(
    header: &record_batch::BatchHeader,
    batch: &Bytes,
    latest: &HashMap<u128, i64>,
    now_ms: i64,
    delete_retention_ms: i64,
) -> io::Result<(Option<Vec<u8>>, u64, Option<i64>)> {
    if header.is_control() {
        return Ok((Some(batch.to_vec()), 0, None));
    }
    let records = decode(batch)?;
    let horizon = header.has_delete_horizon().then_some(header.base_timestamp);
    let keep: Vec<Record> = records
        .iter()
        .filter(|r| {
            let Some(key) = &r.key else { return false };
            // Keys past the mapped segments are not in the map: kept until a later pass.
            let is_latest = latest.get(&digest(key)).is_none_or(|o| *o == r.offset);
            let tombstone_expired = r.value.is_none() && horizon.is_some_and(|h| now_ms >= h);
            is_latest && !tombstone_expired
        })
        .cloned()
        .collect();
    let removed = (records.len() - keep.len()) as u64;
    let has_tombstone = keep.iter().any(|r| r.value.is_none());
    let new_horizon =
        (has_tombstone && horizon.is_none()).then(|| now_ms.saturating_add(delete_retention_ms));
    let kept_horizon = new_horizon.or(horizon.filter(|_| has_tombstone));
    if keep.is_empty() {
        return Ok((None, removed, kept_horizon));
    }
    let out = if keep.len() == records.len() && new_horizon.is_none() {
        batch.to_vec()
    } else {
        record_batch::rebuild(header, &keep, new_horizon)
    };
    Ok((Some(out), removed, kept_horizon))
}
