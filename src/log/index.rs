//! Sparse per-segment indexes, in Kafka's file formats:
//!
//! - offset index (`.index`): 8-byte entries `u32 relative offset | u32 position`, the
//!   relative offset being that of the last record of the batch starting at `position`;
//! - time index (`.timeindex`): 12-byte entries `i64 timestamp | u32 relative offset`, the
//!   largest timestamp seen so far and the offset holding it.
//!
//! Entries are strictly increasing. The active segment's files are preallocated to
//! `segment.index.bytes` and trimmed to their entries on roll and close, like Kafka's. Entries
//! live in memory too (a `Vec`) so floor lookups are binary searches; each append is written
//! through to the file. Must not: read the log file (the segment owns that).

use super::io::{LogFile, LogFs};
use std::io;
use std::path::Path;
use std::sync::Arc;

pub const OFFSET_ENTRY_BYTES: usize = 8;
pub const TIME_ENTRY_BYTES: usize = 12;

/// A sparse index of fixed-size entries: the shared machinery of both index kinds.
#[derive(Debug)]
struct SparseIndex<E> {
    file: Arc<dyn LogFile>,
    entries: Vec<E>,
    /// Raw bytes of entries not yet written to the file (written behind, in one write).
    pending: Vec<u8>,
    max_entries: usize,
    entry_bytes: usize,
}

/// Unwritten index bytes that trigger a write: indexes are rebuilt by recovery for any
/// segment past the recovery point, so writing them behind is safe.
const PENDING_WRITE_BYTES: usize = 4096;

impl<E: Copy> SparseIndex<E> {
    fn open(
        fs: &dyn LogFs,
        path: &Path,
        max_bytes: usize,
        entry_bytes: usize,
        parse: impl Fn(&[u8]) -> E,
        valid_after: impl Fn(Option<&E>, &E) -> bool,
    ) -> io::Result<Self> {
        let file = fs.open(path, true)?;
        let len = usize::try_from(file.len()?).unwrap_or(0);
        let mut raw = vec![0u8; len - len % entry_bytes];
        file.read_exact_at(&mut raw, 0)?;
        let mut entries: Vec<E> = Vec::with_capacity(raw.len() / entry_bytes);
        for chunk in raw.chunks_exact(entry_bytes) {
            let e = parse(chunk);
            if !valid_after(entries.last(), &e) {
                break; // preallocated zeros or a torn tail
            }
            entries.push(e);
        }
        let max_entries = (max_bytes / entry_bytes).max(entries.len() + 1);
        Ok(SparseIndex {
            file,
            entries,
            pending: Vec::new(),
            max_entries,
            entry_bytes,
        })
    }

    fn is_full(&self) -> bool {
        self.entries.len() >= self.max_entries
    }

    fn push(&mut self, e: E, raw: &[u8]) -> io::Result<()> {
        self.entries.push(e);
        self.pending.extend_from_slice(raw);
        if self.pending.len() >= PENDING_WRITE_BYTES {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Writes the entries not yet in the file.
    fn write_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self.entries.len() - self.pending.len() / self.entry_bytes;
        self.file
            .write_all_at(&self.pending, (written * self.entry_bytes) as u64)?;
        self.pending.clear();
        Ok(())
    }

    /// Keeps only entries satisfying `keep` (a prefix) and rewrites the file length.
    fn truncate_while(&mut self, keep: impl Fn(&E) -> bool) -> io::Result<()> {
        self.write_pending()?;
        let n = self.entries.iter().take_while(|e| keep(e)).count();
        self.entries.truncate(n);
        self.file.set_len((n * self.entry_bytes) as u64)
    }

    fn preallocate(&mut self) -> io::Result<()> {
        self.write_pending()?;
        self.file
            .set_len((self.max_entries * self.entry_bytes) as u64)
    }

    fn trim(&mut self) -> io::Result<()> {
        self.write_pending()?;
        self.file
            .set_len((self.entries.len() * self.entry_bytes) as u64)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.write_pending()?;
        self.file.sync_data()
    }
}

/// Offset index of one segment.
#[derive(Debug)]
pub struct OffsetIndex {
    base_offset: i64,
    inner: SparseIndex<(u32, u32)>,
}

impl OffsetIndex {
    pub fn open(
        fs: &dyn LogFs,
        path: &Path,
        base_offset: i64,
        max_bytes: usize,
    ) -> io::Result<OffsetIndex> {
        let inner = SparseIndex::open(
            fs,
            path,
            max_bytes,
            OFFSET_ENTRY_BYTES,
            |b| {
                (
                    u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                    u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                )
            },
            |prev, e| match prev {
                None => true,
                Some(p) => e.0 > p.0 && e.1 > p.1,
            },
        )?;
        Ok(OffsetIndex { base_offset, inner })
    }

    pub fn entries(&self) -> impl Iterator<Item = (i64, u32)> + '_ {
        self.inner
            .entries
            .iter()
            .map(|&(r, p)| (self.base_offset + i64::from(r), p))
    }

    /// The last entry whose position is ≤ `position` and whose offset is < `offset_bound`:
    /// a batch boundary a read can jump to without scanning the batches before it.
    pub fn floor_by_position(&self, position: u64, offset_bound: i64) -> Option<(i64, u32)> {
        let entries = &self.inner.entries;
        let n = entries.partition_point(|&(r, p)| {
            u64::from(p) <= position && self.base_offset + i64::from(r) < offset_bound
        });
        (n > 0).then(|| {
            (
                self.base_offset + i64::from(entries[n - 1].0),
                entries[n - 1].1,
            )
        })
    }

    pub fn len(&self) -> usize {
        self.inner.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.entries.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.inner.is_full()
    }

    /// Adds an entry for the batch at `position` whose last offset is `offset`. Entries that
    /// would not increase are skipped.
    pub fn append(&mut self, offset: i64, position: u32) -> io::Result<()> {
        let relative = u32::try_from(offset - self.base_offset)
            .map_err(|_| io::Error::other("offset overflows the index"))?;
        if let Some(&(r, p)) = self.inner.entries.last() {
            if relative <= r || position <= p {
                return Ok(());
            }
        }
        let mut raw = [0u8; OFFSET_ENTRY_BYTES];
        raw[..4].copy_from_slice(&relative.to_be_bytes());
        raw[4..].copy_from_slice(&position.to_be_bytes());
        self.inner.push((relative, position), &raw)
    }

    /// The entry with the largest offset ≤ `target`: `(offset, position)`, or the segment
    /// start when there is none.
    pub fn lookup(&self, target: i64) -> (i64, u32) {
        let entries = &self.inner.entries;
        let Ok(relative) = u32::try_from(target - self.base_offset) else {
            return if target < self.base_offset {
                (self.base_offset, 0)
            } else {
                self.last_or_start()
            };
        };
        match entries.partition_point(|&(r, _)| r <= relative) {
            0 => (self.base_offset, 0),
            n => (
                self.base_offset + i64::from(entries[n - 1].0),
                entries[n - 1].1,
            ),
        }
    }

    fn last_or_start(&self) -> (i64, u32) {
        self.inner
            .entries
            .last()
            .map_or((self.base_offset, 0), |&(r, p)| {
                (self.base_offset + i64::from(r), p)
            })
    }

    /// Drops entries at or past byte `position` of the log (after a log truncation).
    pub fn truncate_to_position(&mut self, position: u32) -> io::Result<()> {
        self.inner.truncate_while(|&(_, p)| p < position)
    }

    pub fn preallocate(&mut self) -> io::Result<()> {
        self.inner.preallocate()
    }

    pub fn trim(&mut self) -> io::Result<()> {
        self.inner.trim()
    }

    pub fn sync(&mut self) -> io::Result<()> {
        self.inner.sync()
    }
}

/// Time index of one segment.
#[derive(Debug)]
pub struct TimeIndex {
    base_offset: i64,
    inner: SparseIndex<(i64, u32)>,
}

impl TimeIndex {
    pub fn open(
        fs: &dyn LogFs,
        path: &Path,
        base_offset: i64,
        max_bytes: usize,
    ) -> io::Result<TimeIndex> {
        let inner = SparseIndex::open(
            fs,
            path,
            max_bytes,
            TIME_ENTRY_BYTES,
            |b| {
                let mut ts = [0u8; 8];
                ts.copy_from_slice(&b[..8]);
                (
                    i64::from_be_bytes(ts),
                    u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
                )
            },
            |prev, e| match prev {
                None => e.0 > 0 || e.1 > 0,
                Some(p) => e.0 > p.0 && e.1 >= p.1,
            },
        )?;
        Ok(TimeIndex { base_offset, inner })
    }

    pub fn entries(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.inner
            .entries
            .iter()
            .map(|&(t, r)| (t, self.base_offset + i64::from(r)))
    }

    pub fn is_full(&self) -> bool {
        self.inner.is_full()
    }

    /// The largest timestamp indexed, if any.
    pub fn last_timestamp(&self) -> Option<i64> {
        self.inner.entries.last().map(|e| e.0)
    }

    /// Adds `(timestamp, offset)` when the timestamp grows.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64) -> io::Result<()> {
        if self
            .inner
            .entries
            .last()
            .is_some_and(|&(t, _)| timestamp <= t)
        {
            return Ok(());
        }
        let relative = u32::try_from(offset - self.base_offset)
            .map_err(|_| io::Error::other("offset overflows the index"))?;
        let mut raw = [0u8; TIME_ENTRY_BYTES];
        raw[..8].copy_from_slice(&timestamp.to_be_bytes());
        raw[8..].copy_from_slice(&relative.to_be_bytes());
        self.inner.push((timestamp, relative), &raw)
    }

    /// The offset of the last entry whose timestamp is < `target` (where a scan for the
    /// first record with timestamp ≥ `target` can start), or the segment start.
    pub fn lookup(&self, target: i64) -> i64 {
        let entries = &self.inner.entries;
        match entries.partition_point(|&(t, _)| t < target) {
            0 => self.base_offset,
            n => self.base_offset + i64::from(entries[n - 1].1),
        }
    }

    /// Drops entries for offsets ≥ `offset`.
    pub fn truncate_to_offset(&mut self, offset: i64) -> io::Result<()> {
        let base = self.base_offset;
        self.inner
            .truncate_while(|&(_, r)| base + i64::from(r) < offset)
    }

    pub fn preallocate(&mut self) -> io::Result<()> {
        self.inner.preallocate()
    }

    pub fn trim(&mut self) -> io::Result<()> {
        self.inner.trim()
    }

    pub fn sync(&mut self) -> io::Result<()> {
        self.inner.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::io::SimulatedFs;

    #[test]
    fn offset_index_floor_lookup_and_reopen_after_preallocation() {
        let fs = SimulatedFs::new();
        let path = Path::new("/p/00000000000000000100.index");
        let mut idx = OffsetIndex::open(fs.as_ref(), path, 100, 1024).unwrap();
        idx.preallocate().unwrap();
        for (i, pos) in [(105, 4096), (120, 9000), (150, 20000)] {
            idx.append(i, pos).unwrap();
        }
        assert_eq!(idx.lookup(99), (100, 0));
        assert_eq!(idx.lookup(104), (100, 0));
        assert_eq!(idx.lookup(105), (105, 4096));
        assert_eq!(idx.lookup(149), (120, 9000));
        assert_eq!(idx.lookup(10_000), (150, 20000));
        // Reopen with the preallocated zeros still on disk: only real entries come back.
        idx.sync().unwrap();
        let again = OffsetIndex::open(fs.as_ref(), path, 100, 1024).unwrap();
        assert_eq!(again.len(), 3);
        idx.trim().unwrap();
        assert_eq!(fs.read(path).unwrap().len(), 24);
    }

    #[test]
    fn time_index_keeps_growing_timestamps_only() {
        let fs = SimulatedFs::new();
        let mut idx = TimeIndex::open(fs.as_ref(), Path::new("/p/0.timeindex"), 0, 1200).unwrap();
        idx.maybe_append(1000, 5).unwrap();
        idx.maybe_append(900, 9).unwrap();
        idx.maybe_append(2000, 12).unwrap();
        assert_eq!(
            idx.entries().collect::<Vec<_>>(),
            vec![(1000, 5), (2000, 12)]
        );
        assert_eq!(idx.lookup(500), 0);
        assert_eq!(idx.lookup(1500), 5);
        assert_eq!(idx.lookup(2001), 12);
    }
}
