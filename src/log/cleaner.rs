//! Log compaction (`cleanup.policy=compact`): keeps the last record of every key in the
//! inactive segments, and removes tombstones (null values) once their batch's delete horizon
//! (KIP-534: set to now + `delete.retention.ms` the first time the cleaner keeps them) has
//! passed. Records without a key are dropped.
//!
//! Runs in three steps so appends and reads are not blocked: (1) under the log lock, take the
//! inactive segments' files; (2) without the lock, build the key map and write each cleaned
//! segment to `<base>.log.cleaned`, synced; (3) under the lock, swap each cleaned file in by
//! rename and rebuild its indexes. Batches that lose nothing are copied byte for byte;
//! others are re-encoded with the surviving records, keeping offsets (see
//! `record_batch::rebuild`). Must not: touch the active segment.

use super::io::LogFile;
use super::segment::FileRegion;
use super::unified_log::{SharedLog, DECOMPRESS_LIMIT_BYTES};
use crate::protocol::record_batch::{self, BatchIter, Record};
use bytes::Bytes;
use std::collections::HashMap;
use std::io;
use std::sync::Arc;

/// What one cleaning pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanStats {
    pub segments_cleaned: usize,
    pub records_removed: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// A segment taken for cleaning.
#[derive(Debug, Clone)]
pub struct CleanableSegment {
    pub base_offset: i64,
    pub region: FileRegion,
    /// Where the cleaned copy is written before it is swapped in.
    pub cleaned_path: std::path::PathBuf,
}

/// Cleans `log` when its policy has `compact` and it is due (dirty ratio, or a tombstone
/// horizon passed).
pub fn clean(log: &SharedLog, now_ms: i64) -> io::Result<CleanStats> {
    let (segments, config, fs) = {
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
    if segments.is_empty() {
        return Ok(CleanStats::default());
    }
    let mut stats = CleanStats::default();
    let latest = latest_offsets(&segments)?;
    let mut cleaned = Vec::new();
    let mut earliest_horizon: Option<i64> = None;
    for segment in &segments {
        let bytes = segment.region.read_bytes()?;
        stats.bytes_before += bytes.len() as u64;
        let (out, removed, horizon) =
            clean_segment(&bytes, &latest, now_ms, config.delete_retention_ms)?;
        stats.records_removed += removed;
        stats.bytes_after += out.len() as u64;
        if let Some(h) = horizon {
            earliest_horizon = Some(earliest_horizon.map_or(h, |e: i64| e.min(h)));
        }
        let file = fs.open(&segment.cleaned_path, true)?;
        write_synced(&file, &out)?;
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

/// Key → offset of its last record, over the segments.
fn latest_offsets(segments: &[CleanableSegment]) -> io::Result<HashMap<Bytes, i64>> {
    let mut latest = HashMap::new();
    for segment in segments {
        for (_, batch) in BatchIter::new(segment.region.read_bytes()?) {
            for r in decode(&batch)? {
                if let Some(key) = r.key {
                    latest.insert(key, r.offset);
                }
            }
        }
    }
    Ok(latest)
}

fn decode(batch: &Bytes) -> io::Result<Vec<Record>> {
    record_batch::decode_records(batch, DECOMPRESS_LIMIT_BYTES)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

/// The cleaned bytes of one segment, the records removed, and the earliest delete horizon of
/// the tombstones it keeps.
fn clean_segment(
    bytes: &Bytes,
    latest: &HashMap<Bytes, i64>,
    now_ms: i64,
    delete_retention_ms: i64,
) -> io::Result<(Vec<u8>, u64, Option<i64>)> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut removed = 0u64;
    let mut horizon_kept: Option<i64> = None;
    for (header, batch) in BatchIter::new(bytes.clone()) {
        if header.is_control() {
            out.extend_from_slice(&batch);
            continue;
        }
        let records = decode(&batch)?;
        let horizon = header.has_delete_horizon().then_some(header.base_timestamp);
        let keep: Vec<Record> = records
            .iter()
            .filter(|r| {
                let Some(key) = &r.key else { return false };
                let is_latest = latest.get(key) == Some(&r.offset);
                let tombstone_expired = r.value.is_none() && horizon.is_some_and(|h| now_ms >= h);
                is_latest && !tombstone_expired
            })
            .cloned()
            .collect();
        removed += (records.len() - keep.len()) as u64;
        let has_tombstone = keep.iter().any(|r| r.value.is_none());
        let new_horizon = (has_tombstone && horizon.is_none())
            .then(|| now_ms.saturating_add(delete_retention_ms));
        if let Some(h) = new_horizon.or(horizon.filter(|_| has_tombstone)) {
            horizon_kept = Some(horizon_kept.map_or(h, |k| k.min(h)));
        }
        if keep.is_empty() {
            continue;
        }
        if keep.len() == records.len() && new_horizon.is_none() {
            out.extend_from_slice(&batch);
        } else {
            out.extend_from_slice(&record_batch::rebuild(&header, &keep, new_horizon));
        }
    }
    Ok((out, removed, horizon_kept))
}

/// Writes `data` to `file` from position 0 and syncs it.
pub fn write_synced(file: &Arc<dyn LogFile>, data: &[u8]) -> io::Result<()> {
    file.set_len(0)?;
    file.write_all_at(data, 0)?;
    file.sync_data()
}
