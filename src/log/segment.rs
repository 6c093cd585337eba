//! One log segment: `<20-digit base offset>.log` holding v2 record batches exactly as on the
//! wire, with its `.index` and `.timeindex`.
//!
//! Owns: appending stamped batches and their index entries, finding the batch that holds an
//! offset (index floor + forward scan of batch headers), returning whole batches as a file
//! region, time lookups, recovery (CRC and length checked batch by batch, torn tail
//! truncated, indexes rebuilt). Must not: assign offsets or decide when to roll (`Log` does).

use super::index::{OffsetIndex, TimeIndex};
use super::io::{LogFile, LogFs};
use crate::protocol::record_batch::{
    self, BatchHeader, BATCH_HEADER_BYTES, LOG_OVERHEAD_BYTES, MAGIC_V2,
};
use bytes::Bytes;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `00000000000000000042` for 42.
pub fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

pub fn log_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!("{}.log", file_stem(base_offset)))
}

pub fn index_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!("{}.index", file_stem(base_offset)))
}

pub fn time_index_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!("{}.timeindex", file_stem(base_offset)))
}

/// A byte range of a segment file holding whole batches; a server can `sendfile` it.
#[derive(Debug, Clone)]
pub struct FileRegion {
    pub file: Arc<dyn LogFile>,
    pub position: u64,
    pub length: u64,
}

impl FileRegion {
    /// The bytes of the region (the copy fallback when `sendfile` does not apply).
    pub fn read_bytes(&self) -> io::Result<Bytes> {
        let mut buf = Vec::new();
        self.read_into(&mut buf)?;
        Ok(Bytes::from(buf))
    }

    /// Reads the region into `buf` (resized to fit; a reused buffer is not zeroed again).
    pub fn read_into(&self, buf: &mut Vec<u8>) -> io::Result<()> {
        let len = usize::try_from(self.length).map_err(|_| io::ErrorKind::InvalidInput)?;
        buf.resize(len, 0);
        self.file.read_exact_at(buf, self.position)
    }
}

/// Sizes and intervals a segment needs.
#[derive(Debug, Clone, Copy)]
pub struct SegmentLimits {
    pub index_interval_bytes: u64,
    pub max_index_bytes: usize,
}

#[derive(Debug)]
pub struct LogSegment {
    pub base_offset: i64,
    dir: PathBuf,
    log: Arc<dyn LogFile>,
    size: u64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_last_index_entry: u64,
    /// Largest record timestamp in the segment (-1 when none): retention judges by it.
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    /// The max timestamp of the first batch: `segment.ms` rolls are measured from it.
    first_batch_timestamp: Option<i64>,
    /// One past the last offset stored (the base offset when empty).
    next_offset: i64,
}

/// A batch header found in a segment, with its position.
#[derive(Debug, Clone, Copy)]
pub struct LocatedBatch {
    pub position: u64,
    pub header: BatchHeader,
}

impl LogSegment {
    /// Creates a new, empty segment with preallocated indexes.
    pub fn create(
        fs: &dyn LogFs,
        dir: &Path,
        base_offset: i64,
        limits: SegmentLimits,
    ) -> io::Result<LogSegment> {
        let log = fs.open(&log_path(dir, base_offset), true)?;
        log.set_len(0)?;
        let mut offset_index = OffsetIndex::open(
            fs,
            &index_path(dir, base_offset),
            base_offset,
            limits.max_index_bytes,
        )?;
        let mut time_index = TimeIndex::open(
            fs,
            &time_index_path(dir, base_offset),
            base_offset,
            limits.max_index_bytes,
        )?;
        offset_index.truncate_to_position(0)?;
        time_index.truncate_to_offset(base_offset)?;
        offset_index.preallocate()?;
        time_index.preallocate()?;
        Ok(LogSegment::assemble(
            dir,
            base_offset,
            log,
            0,
            offset_index,
            time_index,
        ))
    }

    fn assemble(
        dir: &Path,
        base_offset: i64,
        log: Arc<dyn LogFile>,
        size: u64,
        offset_index: OffsetIndex,
        time_index: TimeIndex,
    ) -> LogSegment {
        LogSegment {
            base_offset,
            dir: dir.to_path_buf(),
            log,
            size,
            offset_index,
            time_index,
            bytes_since_last_index_entry: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            first_batch_timestamp: None,
            next_offset: base_offset,
        }
    }

    /// Opens an existing segment's files without reading its batches; [`LogSegment::recover`]
    /// must follow (or use [`LogSegment::open`]).
    pub fn open_unchecked(
        fs: &dyn LogFs,
        dir: &Path,
        base_offset: i64,
        limits: SegmentLimits,
    ) -> io::Result<LogSegment> {
        let log = fs.open(&log_path(dir, base_offset), false)?;
        let size = log.len()?;
        let offset_index = OffsetIndex::open(
            fs,
            &index_path(dir, base_offset),
            base_offset,
            limits.max_index_bytes,
        )?;
        let time_index = TimeIndex::open(
            fs,
            &time_index_path(dir, base_offset),
            base_offset,
            limits.max_index_bytes,
        )?;
        Ok(LogSegment::assemble(
            dir,
            base_offset,
            log,
            size,
            offset_index,
            time_index,
        ))
    }

    /// Opens an existing segment whose files were closed cleanly: sizes from the files,
    /// timestamps from the time index, the next offset from a scan after the last index
    /// entry. When the indexes fail a sanity check or the tail does not parse, the segment
    /// is recovered instead (indexes rebuilt, a torn tail cut off).
    pub fn open(
        fs: &dyn LogFs,
        dir: &Path,
        base_offset: i64,
        limits: SegmentLimits,
    ) -> io::Result<LogSegment> {
        let mut segment = LogSegment::open_unchecked(fs, dir, base_offset, limits)?;
        match segment.load_tail() {
            Ok(()) => Ok(segment),
            Err(e) => {
                tracing::warn!(segment = base_offset, dir = %dir.display(), error = %e, "segment or index inconsistent; rebuilding");
                let cut = segment.recover(limits, |_| {})?;
                if cut > 0 {
                    tracing::warn!(
                        segment = base_offset,
                        bytes = cut,
                        "truncated a corrupt tail"
                    );
                }
                Ok(segment)
            }
        }
    }

    /// Checks the indexes against the log (a sample of entries must point at batches ending
    /// at the indexed offset) and reads the state the indexes do not hold.
    fn load_tail(&mut self) -> io::Result<()> {
        let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
        if self.size == 0 {
            // An empty segment: whatever its (preallocated) index files hold is not an entry.
            self.offset_index.truncate_to_position(0)?;
            self.time_index.truncate_to_offset(self.base_offset)?;
            return Ok(());
        }
        let entries: Vec<(i64, u32)> = self.offset_index.entries().collect();
        let step = (entries.len() / 32).max(1);
        for (offset, position) in entries.iter().step_by(step).chain(entries.last()) {
            let header = self
                .header_at(u64::from(*position))?
                .ok_or_else(|| invalid(format!("index entry past the end ({position})")))?;
            if header.last_offset() != *offset {
                return Err(invalid(format!(
                    "index entry {offset}@{position} points at a batch ending at {}",
                    header.last_offset()
                )));
            }
        }
        if let Some((ts, offset)) = self.time_index.entries().last() {
            if offset < self.base_offset || ts < 0 {
                return Err(invalid("time index out of range".into()));
            }
            self.max_timestamp = ts;
            self.offset_of_max_timestamp = offset;
        }
        let (_, start) = self.offset_index.lookup(i64::MAX);
        let tail: Vec<BatchHeader> = self
            .batches_from(u64::from(start))
            .map(|r| r.map(|l| l.header))
            .collect::<io::Result<_>>()?;
        for header in &tail {
            self.next_offset = header.next_offset();
            if header.max_timestamp > self.max_timestamp {
                self.max_timestamp = header.max_timestamp;
                self.offset_of_max_timestamp = header.last_offset();
            }
        }
        let first = self.batches_from(0).next().transpose()?;
        self.first_batch_timestamp = first.map(|l| l.header.max_timestamp);
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    pub fn first_batch_timestamp(&self) -> Option<i64> {
        self.first_batch_timestamp
    }

    pub fn log_file(&self) -> &Arc<dyn LogFile> {
        &self.log
    }

    pub fn offset_index(&self) -> &OffsetIndex {
        &self.offset_index
    }

    pub fn time_index(&self) -> &TimeIndex {
        &self.time_index
    }

    /// Preallocates the index files (the segment becomes the active one).
    pub fn preallocate_indexes(&mut self) -> io::Result<()> {
        self.offset_index.preallocate()?;
        self.time_index.preallocate()
    }

    /// Whether the indexes have room for one more entry.
    pub fn indexes_full(&self) -> bool {
        self.offset_index.is_full() || self.time_index.is_full()
    }

    /// Appends one batch whose base offset and epoch are already stamped. `parts` are the
    /// batch bytes in order (a stamped header copy and the untouched body, say).
    pub fn append(
        &mut self,
        parts: &[&[u8]],
        header: &BatchHeader,
        limits: SegmentLimits,
    ) -> io::Result<()> {
        let position = self.size;
        let mut at = position;
        for part in parts {
            self.log.write_all_at(part, at)?;
            at += part.len() as u64;
        }
        let written = at - position;
        assert_eq!(
            written as usize,
            header.total_size(),
            "batch parts must add up to the batch length"
        );
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = header.last_offset();
        }
        self.first_batch_timestamp
            .get_or_insert(header.max_timestamp);
        if self.bytes_since_last_index_entry > limits.index_interval_bytes || position == 0 {
            let pos32 = u32::try_from(position)
                .map_err(|_| io::Error::other("segment larger than 4 GiB"))?;
            self.offset_index.append(header.last_offset(), pos32)?;
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp)?;
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += written;
        self.size = at;
        self.next_offset = header.next_offset();
        Ok(())
    }

    /// The header of the batch at `position`, if a whole header lies within the segment.
    fn header_at(&self, position: u64) -> io::Result<Option<BatchHeader>> {
        if position + BATCH_HEADER_BYTES as u64 > self.size {
            return Ok(None);
        }
        let mut buf = [0u8; BATCH_HEADER_BYTES];
        self.log.read_exact_at(&mut buf, position)?;
        let header = BatchHeader::parse(&buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        if header.batch_length < (BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES) as i32
            || position + header.total_size() as u64 > self.size
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "bad batch at position {position} of segment {}",
                    self.base_offset
                ),
            ));
        }
        Ok(Some(header))
    }

    /// Batch headers from `position` to the end of the segment.
    pub fn batches_from(
        &self,
        position: u64,
    ) -> impl Iterator<Item = io::Result<LocatedBatch>> + '_ {
        let mut next = Some(position);
        std::iter::from_fn(move || {
            let position = next?;
            match self.header_at(position) {
                Ok(Some(header)) => {
                    next = Some(position + header.total_size() as u64);
                    Some(Ok(LocatedBatch { position, header }))
                }
                Ok(None) => {
                    next = None;
                    None
                }
                Err(e) => {
                    next = None;
                    Some(Err(e))
                }
            }
        })
    }

    /// The first batch whose last offset is ≥ `offset`.
    pub fn find_batch(&self, offset: i64) -> io::Result<Option<LocatedBatch>> {
        let (_, start) = self.offset_index.lookup(offset);
        for located in self.batches_from(u64::from(start)) {
            let located = located?;
            if located.header.last_offset() >= offset {
                return Ok(Some(located));
            }
        }
        Ok(None)
    }

    /// Whole batches from the one holding `offset`: at most `max_bytes` (at least one batch
    /// when `min_one_batch`), none reaching `upper_bound` (an offset).
    pub fn read(
        &self,
        offset: i64,
        max_bytes: u64,
        upper_bound: i64,
        min_one_batch: bool,
    ) -> io::Result<Option<FileRegion>> {
        let Some(first) = self.find_batch(offset)? else {
            return Ok(None);
        };
        let mut end = first.position;
        // Jump over whole batches the index vouches for, then scan the last few headers.
        let limit = first.position.saturating_add(max_bytes);
        let mut scan_from = first.position;
        if let Some((_, p)) = self.offset_index.floor_by_position(limit, upper_bound) {
            if u64::from(p) > first.position {
                scan_from = u64::from(p);
                end = scan_from;
            }
        }
        for located in self.batches_from(scan_from) {
            let located = located?;
            let batch_end = located.position + located.header.total_size() as u64;
            if located.header.last_offset() >= upper_bound {
                break;
            }
            let first_batch = located.position == first.position;
            if batch_end - first.position > max_bytes && !(first_batch && min_one_batch) {
                break;
            }
            end = batch_end;
        }
        if end == first.position {
            return Ok(None);
        }
        Ok(Some(FileRegion {
            file: self.log.clone(),
            position: first.position,
            length: end - first.position,
        }))
    }

    /// The first batch with a max timestamp ≥ `timestamp`: `(its base offset ≥ floor,
    /// max timestamp)`. Records inside the batch are not inspected (the caller may).
    pub fn find_by_timestamp(
        &self,
        timestamp: i64,
        min_offset: i64,
    ) -> io::Result<Option<LocatedBatch>> {
        let start_offset = self.time_index.lookup(timestamp).max(min_offset);
        let (_, start) = self.offset_index.lookup(start_offset);
        for located in self.batches_from(u64::from(start)) {
            let located = located?;
            if located.header.max_timestamp >= timestamp
                && located.header.last_offset() >= min_offset
            {
                return Ok(Some(located));
            }
        }
        Ok(None)
    }

    /// Scans the whole segment after an unclean stop: each batch's framing, magic and CRC are
    /// checked, indexes are rebuilt, and everything from the first bad batch on is cut off.
    /// Returns the bytes truncated. `on_batch` sees every valid batch in order.
    pub fn recover(
        &mut self,
        limits: SegmentLimits,
        mut on_batch: impl FnMut(&BatchHeader),
    ) -> io::Result<u64> {
        self.offset_index.truncate_to_position(0)?;
        self.time_index.truncate_to_offset(self.base_offset)?;
        let file_size = self.log.len()?;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = self.base_offset;
        self.first_batch_timestamp = None;
        self.next_offset = self.base_offset;
        self.bytes_since_last_index_entry = 0;
        let mut position = 0u64;
        let mut buf = Vec::new();
        while let Some(header) = self.valid_batch_at(position, file_size, &mut buf) {
            self.append_indexes_only(position, &header, header.total_size() as u64, limits)?;
            on_batch(&header);
            position += header.total_size() as u64;
        }
        self.size = position;
        let truncated = file_size - position;
        if truncated > 0 {
            self.log.set_len(position)?;
        }
        Ok(truncated)
    }

    /// Reads and fully checks the batch at `position`; `None` when it is missing or bad.
    fn valid_batch_at(
        &self,
        position: u64,
        file_size: u64,
        buf: &mut Vec<u8>,
    ) -> Option<BatchHeader> {
        if position + BATCH_HEADER_BYTES as u64 > file_size {
            return None;
        }
        let mut head = [0u8; BATCH_HEADER_BYTES];
        self.log.read_exact_at(&mut head, position).ok()?;
        let header = BatchHeader::parse(&head).ok()?;
        if header.magic != MAGIC_V2
            || header.batch_length < (BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES) as i32
        {
            return None;
        }
        let total = header.total_size() as u64;
        if position + total > file_size {
            return None;
        }
        buf.resize(total as usize, 0);
        self.log.read_exact_at(buf, position).ok()?;
        record_batch::verify_crc(buf).ok()?;
        if header.base_offset < self.next_offset || header.last_offset_delta < 0 {
            return None;
        }
        Some(header)
    }

    /// Index bookkeeping for a batch already in the file (recovery, rebuilds).
    fn append_indexes_only(
        &mut self,
        position: u64,
        header: &BatchHeader,
        total: u64,
        limits: SegmentLimits,
    ) -> io::Result<()> {
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = header.last_offset();
        }
        self.first_batch_timestamp
            .get_or_insert(header.max_timestamp);
        if self.bytes_since_last_index_entry > limits.index_interval_bytes || position == 0 {
            let pos32 = u32::try_from(position)
                .map_err(|_| io::Error::other("segment larger than 4 GiB"))?;
            self.offset_index.append(header.last_offset(), pos32)?;
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp)?;
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += total;
        self.size = position + total;
        self.next_offset = header.next_offset();
        Ok(())
    }

    /// Removes every batch whose base offset is ≥ `offset` (the log is cut at a batch
    /// boundary). Returns the bytes removed.
    pub fn truncate_to(&mut self, offset: i64, limits: SegmentLimits) -> io::Result<u64> {
        let Some(located) = self.find_batch(offset)? else {
            return Ok(0);
        };
        let cut = if located.header.base_offset >= offset {
            located.position
        } else {
            located.position + located.header.total_size() as u64
        };
        let removed = self.size - cut;
        self.log.set_len(cut)?;
        self.size = cut;
        let _ = self.recover(limits, |_| {})?;
        Ok(removed)
    }

    /// Marks the segment inactive: records the final max timestamp in the time index, trims
    /// the preallocated index files, and syncs everything.
    pub fn close_active(&mut self) -> io::Result<()> {
        if self.max_timestamp >= 0 {
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp)?;
        }
        self.offset_index.trim()?;
        self.time_index.trim()?;
        self.flush()
    }

    /// Syncs the log and index files.
    pub fn flush(&mut self) -> io::Result<()> {
        self.log.sync_data()?;
        self.offset_index.sync()?;
        self.time_index.sync()
    }

    /// Deletes the segment's files.
    pub fn delete(self, fs: &dyn LogFs) -> io::Result<()> {
        for path in [
            log_path(&self.dir, self.base_offset),
            index_path(&self.dir, self.base_offset),
            time_index_path(&self.dir, self.base_offset),
        ] {
            match fs.remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}
