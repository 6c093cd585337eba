//! Record batches, magic v2: header parsing, validation (framing, CRC32C, record walk), the
//! in-place rewrites a broker does on append, record decoding and a batch builder.
//!
//! Must not: do I/O. Called by: the log (validation, offset stamping, recovery scans), the
//! producer (builder), the consumer and `dump-log` (record decoding).
//!
//! Batch layout (big-endian), 61 header bytes then the records:
//! ```text
//!  0 base_offset            i64    (stamped by the broker; not under the CRC)
//!  8 batch_length           i32    bytes after this field
//! 12 partition_leader_epoch i32    (stamped by the broker; not under the CRC)
//! 16 magic                  i8     = 2
//! 17 crc                    u32    CRC32C of bytes 21..end
//! 21 attributes             i16    bits 0-2 codec, 3 LogAppendTime, 4 transactional,
//!                                  5 control, 6 delete horizon set (KIP-534)
//! 23 last_offset_delta      i32
//! 27 base_timestamp         i64    (the delete horizon when bit 6 is set)
//! 35 max_timestamp          i64
//! 43 producer_id            i64
//! 51 producer_epoch         i16
//! 53 base_sequence          i32
//! 57 records_count          i32
//! 61 records...                    (compressed as one block when the codec is not none)
//! ```
//! A record: `varint length | i8 attributes | varlong timestamp_delta | varint offset_delta |
//! varint key_length (-1 null) | key | varint value_length (-1 null) | value | varint
//! header_count | (varint key_length | key | varint value_length (-1 null) | value)*`.

use super::codec::{varint_len, varlong_len, Decoder, Encoder};
use super::compression::{self, Compression, CompressionError};
use super::error::ErrorCode;
use bytes::Bytes;
use std::fmt;

pub const BATCH_HEADER_BYTES: usize = 61;
/// Bytes before `batch_length` counts: base offset + the length itself.
pub const LOG_OVERHEAD_BYTES: usize = 12;
pub const MAGIC_V2: i8 = 2;
const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;
const MAX_TIMESTAMP_OFFSET: usize = 35;
const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
const MAGIC_OFFSET: usize = 16;

pub const ATTR_COMPRESSION_MASK: i16 = 0x07;
pub const ATTR_LOG_APPEND_TIME: i16 = 0x08;
pub const ATTR_TRANSACTIONAL: i16 = 0x10;
pub const ATTR_CONTROL: i16 = 0x20;
pub const ATTR_DELETE_HORIZON: i16 = 0x40;

/// "No producer id / epoch / sequence" values of non-idempotent batches.
pub const NO_PRODUCER_ID: i64 = -1;
pub const NO_PRODUCER_EPOCH: i16 = -1;
pub const NO_SEQUENCE: i32 = -1;

/// Why a batch was refused, with the Kafka error code a produce answer carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// Too short, length fields disagree, or a record overruns: CORRUPT_MESSAGE.
    Framing(&'static str),
    /// Magic other than 2: UNSUPPORTED_FOR_MESSAGE_FORMAT.
    UnsupportedMagic(i8),
    /// Stored CRC differs from the computed one: CORRUPT_MESSAGE.
    CrcMismatch { stored: u32, computed: u32 },
    /// Reserved compression bits: CORRUPT_MESSAGE.
    UnknownCompression(i16),
    /// Decompression failed or exceeded its cap: CORRUPT_MESSAGE.
    Compression(CompressionError),
    /// Record count or offset deltas inconsistent with the header: INVALID_RECORD.
    InvalidRecord(String),
}

impl BatchError {
    /// The error code Kafka answers a produce of such a batch with.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            BatchError::UnsupportedMagic(_) => ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT,
            BatchError::InvalidRecord(_) => ErrorCode::INVALID_RECORD,
            _ => ErrorCode::CORRUPT_MESSAGE,
        }
    }
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Framing(why) => write!(f, "malformed batch: {why}"),
            BatchError::UnsupportedMagic(m) => write!(f, "unsupported magic {m}"),
            BatchError::CrcMismatch { stored, computed } => {
                write!(
                    f,
                    "CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
            BatchError::UnknownCompression(a) => {
                write!(f, "unknown compression in attributes {a:#x}")
            }
            BatchError::Compression(e) => write!(f, "{e}"),
            BatchError::InvalidRecord(why) => write!(f, "invalid record: {why}"),
        }
    }
}

impl std::error::Error for BatchError {}

/// The fixed header of a v2 batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

impl BatchHeader {
    /// Parses the 61-byte header at the start of `batch` (magic is not checked here).
    pub fn parse(batch: &[u8]) -> Result<BatchHeader, BatchError> {
        if batch.len() < BATCH_HEADER_BYTES {
            return Err(BatchError::Framing("shorter than a batch header"));
        }
        Ok(BatchHeader {
            base_offset: be_i64(batch, 0),
            batch_length: be_i32(batch, 8),
            partition_leader_epoch: be_i32(batch, 12),
            magic: batch[MAGIC_OFFSET] as i8,
            crc: be_i32(batch, CRC_OFFSET) as u32,
            attributes: be_i16(batch, ATTRIBUTES_OFFSET),
            last_offset_delta: be_i32(batch, 23),
            base_timestamp: be_i64(batch, 27),
            max_timestamp: be_i64(batch, MAX_TIMESTAMP_OFFSET),
            producer_id: be_i64(batch, 43),
            producer_epoch: be_i16(batch, 51),
            base_sequence: be_i32(batch, 53),
            records_count: be_i32(batch, 57),
        })
    }

    /// Whole size on disk/wire: `batch_length` + 12.
    pub fn total_size(&self) -> usize {
        usize::try_from(self.batch_length).unwrap_or(0) + LOG_OVERHEAD_BYTES
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    pub fn compression(&self) -> Option<Compression> {
        Compression::from_attributes(self.attributes)
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes & ATTR_LOG_APPEND_TIME != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & ATTR_DELETE_HORIZON != 0
    }

    /// The last sequence number of an idempotent batch (wrapping as Kafka does).
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        let last = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        (last % (i64::from(i32::MAX) + 1)) as i32
    }
}

/// CRC32C of a batch's bytes from `attributes` to the end.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..])
}

/// Checks framing and magic of the batch at the start of `batch`, which must be exactly one
/// batch long; returns its header. No CRC or record walk.
pub fn check_framing(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(batch)?;
    if header.magic != MAGIC_V2 {
        return Err(BatchError::UnsupportedMagic(header.magic));
    }
    if header.batch_length < (BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES) as i32
        || header.total_size() != batch.len()
    {
        return Err(BatchError::Framing("batch length disagrees with the bytes"));
    }
    if header.records_count < 0 {
        return Err(BatchError::InvalidRecord(format!(
            "negative record count {}",
            header.records_count
        )));
    }
    Ok(header)
}

/// Verifies the stored CRC32C of one whole batch.
pub fn verify_crc(batch: &[u8]) -> Result<(), BatchError> {
    let header = BatchHeader::parse(batch)?;
    let computed = compute_crc(batch);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    Ok(())
}

/// Full validation of one batch as a broker does before appending: framing, magic 2, CRC32C,
/// compression codec, and a walk over every record (decompressed with `decompress_limit_bytes`
/// as cap) checking that each is well formed, the count matches the header and offset deltas
/// run 0, 1, 2, ... up to `last_offset_delta`. Nothing is allocated for uncompressed batches.
pub fn validate(batch: &[u8], decompress_limit_bytes: usize) -> Result<BatchHeader, BatchError> {
    validate_batch(batch, decompress_limit_bytes).map(|v| v.header)
}

/// What [`validate_batch`] learnt in its one walk over a batch's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidBatch {
    pub header: BatchHeader,
    /// Records whose key is null (a compacted topic refuses them).
    pub keyless_records: i32,
}

/// [`validate`], also counting the records without a key, so that a compacted topic's
/// append decodes each batch once.
pub fn validate_batch(
    batch: &[u8],
    decompress_limit_bytes: usize,
) -> Result<ValidBatch, BatchError> {
    let header = check_framing(batch)?;
    verify_crc(batch)?;
    let codec = header
        .compression()
        .ok_or(BatchError::UnknownCompression(header.attributes))?;
    let body = &batch[BATCH_HEADER_BYTES..];
    let (count, keyless_records) = match codec {
        Compression::None => walk_records(SliceSource { body, pos: 0 }, header.records_count)?,
        _ => {
            // Streamed: the decompressed records are walked as they come, never held whole.
            let reader = compression::decoder(codec, body, decompress_limit_bytes)
                .map_err(BatchError::Compression)?;
            walk_records(
                RecordStream::new(reader, codec, decompress_limit_bytes),
                header.records_count,
            )?
        }
    };
    if header.records_count > 0 && count - 1 != header.last_offset_delta {
        return Err(BatchError::InvalidRecord(format!(
            "last offset delta {} but {} records",
            header.last_offset_delta, count
        )));
    }
    Ok(ValidBatch {
        header,
        keyless_records,
    })
}

/// Where the record walk reads from: a slice (uncompressed batches, read in place) or a stream
/// of decompressed bytes. Positions count the bytes consumed so far.
trait RecordSource {
    /// The next byte, `None` at the end of the records.
    fn next_byte(&mut self) -> Result<Option<u8>, BatchError>;
    /// Skips `n` bytes (a key, value or header), which must all be there.
    fn skip(&mut self, n: u64) -> Result<(), BatchError>;
    fn position(&self) -> u64;

    fn varint(&mut self) -> Result<i64, BatchError> {
        let mut raw: u64 = 0;
        for i in 0..10 {
            let b = self
                .next_byte()?
                .ok_or(BatchError::Framing("malformed record"))?;
            raw |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64));
            }
        }
        Err(BatchError::Framing("malformed record"))
    }

    /// Skips a length-prefixed field of a record ending at `end` (`-1` = null where
    /// `nullable`); whether it was null.
    fn skip_field(&mut self, end: u64, nullable: bool) -> Result<bool, BatchError> {
        let len = self.varint()?;
        if len == -1 && nullable {
            return Ok(true);
        }
        let len = u64::try_from(len).map_err(|_| BatchError::Framing("malformed record"))?;
        if len > end.saturating_sub(self.position()) {
            return Err(BatchError::Framing("malformed record"));
        }
        self.skip(len).map(|()| false)
    }
}

/// An uncompressed batch's records, read in place.
struct SliceSource<'a> {
    body: &'a [u8],
    pos: usize,
}

impl RecordSource for SliceSource<'_> {
    #[inline(always)]
    fn next_byte(&mut self) -> Result<Option<u8>, BatchError> {
        let b = self.body.get(self.pos).copied();
        self.pos += usize::from(b.is_some());
        Ok(b)
    }

    #[inline(always)]
    fn skip(&mut self, n: u64) -> Result<(), BatchError> {
        let overrun = BatchError::Framing("record overruns the batch");
        let n = usize::try_from(n).map_err(|_| overrun.clone())?;
        if n > self.body.len() - self.pos {
            return Err(overrun);
        }
        self.pos += n;
        Ok(())
    }

    #[inline(always)]
    fn position(&self) -> u64 {
        self.pos as u64
    }
}

/// Walks the records of `source`, checking each record's structure and offset delta; returns
/// the count, which must equal `expected_count`. A stream source keeps memory bounded by its
/// read buffer whatever the batch decompresses to.
/// Walks every record: `(records, records with a null key)`.
fn walk_records(
    mut source: impl RecordSource,
    expected_count: i32,
) -> Result<(i32, i32), BatchError> {
    let malformed = || BatchError::Framing("malformed record");
    let mut count: i32 = 0;
    let mut keyless = 0;
    // Each record starts with its length; the source's clean end is the end of the records.
    while let Some(first) = source.next_byte()? {
        if count == expected_count {
            return Err(BatchError::InvalidRecord(format!(
                "more records than the header's count {expected_count}"
            )));
        }
        let mut raw = u64::from(first & 0x7f);
        let mut more = first & 0x80 != 0;
        let mut shift = 7;
        while more {
            let b = source.next_byte()?.ok_or_else(malformed)?;
            if shift > 63 {
                return Err(malformed());
            }
            raw |= u64::from(b & 0x7f) << shift;
            more = b & 0x80 != 0;
            shift += 7;
        }
        let length = ((raw >> 1) as i64) ^ -((raw & 1) as i64);
        let length = u64::try_from(length).map_err(|_| malformed())?;
        let end = source.position() + length;
        source.next_byte()?.ok_or_else(malformed)?; // attributes
        source.varint()?; // timestamp delta
        let offset_delta = source.varint()?;
        if offset_delta != i64::from(count) {
            return Err(BatchError::InvalidRecord(format!(
                "offset delta {offset_delta} where {count} was expected"
            )));
        }
        keyless += i32::from(source.skip_field(end, true)?); // key
        source.skip_field(end, true)?; // value
        let headers = source.varint()?;
        if headers < 0 || headers as u64 > end.saturating_sub(source.position()) {
            return Err(malformed());
        }
        for _ in 0..headers {
            source.skip_field(end, false)?;
            source.skip_field(end, true)?;
        }
        if source.position() != end {
            return Err(BatchError::Framing(
                "record length disagrees with its fields",
            ));
        }
        count += 1;
    }
    if count != expected_count {
        return Err(BatchError::InvalidRecord(format!(
            "{count} records but the header says {expected_count}"
        )));
    }
    Ok((count, keyless))
}

/// Decompressed record bytes read as they come, counted against the decompression cap.
struct RecordStream<R> {
    inner: std::io::BufReader<R>,
    codec: Compression,
    consumed: u64,
    limit_bytes: u64,
}

impl<R: std::io::Read> RecordStream<R> {
    fn new(inner: R, codec: Compression, limit_bytes: usize) -> Self {
        RecordStream {
            inner: std::io::BufReader::with_capacity(16 << 10, inner),
            codec,
            consumed: 0,
            limit_bytes: u64::try_from(limit_bytes).unwrap_or(u64::MAX),
        }
    }

    fn io_error(codec: Compression, e: std::io::Error) -> BatchError {
        BatchError::Compression(CompressionError::Corrupt {
            codec,
            reason: e.to_string(),
        })
    }

    fn count(&mut self, n: u64) -> Result<(), BatchError> {
        self.consumed += n;
        if self.consumed > self.limit_bytes {
            return Err(BatchError::Compression(CompressionError::TooLarge {
                limit_bytes: self.limit_bytes as usize,
            }));
        }
        Ok(())
    }
}

impl<R: std::io::Read> RecordSource for RecordStream<R> {
    fn next_byte(&mut self) -> Result<Option<u8>, BatchError> {
        use std::io::BufRead;
        let codec = self.codec;
        let buf = self
            .inner
            .fill_buf()
            .map_err(|e| Self::io_error(codec, e))?;
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        self.inner.consume(1);
        self.count(1)?;
        Ok(Some(b))
    }

    fn skip(&mut self, n: u64) -> Result<(), BatchError> {
        use std::io::Read;
        self.count(n)?;
        let codec = self.codec;
        let skipped = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())
            .map_err(|e| Self::io_error(codec, e))?;
        if skipped != n {
            return Err(BatchError::Framing("record overruns the batch"));
        }
        Ok(())
    }

    fn position(&self) -> u64 {
        self.consumed
    }
}

/// Writes `base_offset` into the batch in place (not under the CRC).
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Writes the partition leader epoch into the batch in place (not under the CRC).
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[PARTITION_LEADER_EPOCH_OFFSET..PARTITION_LEADER_EPOCH_OFFSET + 4]
        .copy_from_slice(&epoch.to_be_bytes());
}

/// Stamps LogAppendTime: sets the timestamp-type bit, writes `timestamp_ms` as the max
/// timestamp and recomputes the CRC (both fields are under it).
pub fn set_log_append_time(batch: &mut [u8], timestamp_ms: i64) {
    let (head, body) = batch.split_at_mut(BATCH_HEADER_BYTES);
    set_log_append_time_split(head, body, timestamp_ms);
}

/// [`set_log_append_time`] for a batch held as a header copy (61 bytes) and its untouched
/// body, as the log appends it without copying the body.
pub fn set_log_append_time_split(head: &mut [u8], body: &[u8], timestamp_ms: i64) {
    let attributes = be_i16(head, ATTRIBUTES_OFFSET) | ATTR_LOG_APPEND_TIME;
    head[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    head[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8]
        .copy_from_slice(&timestamp_ms.to_be_bytes());
    let crc = crc32c::crc32c_append(
        crc32c::crc32c(&head[ATTRIBUTES_OFFSET..BATCH_HEADER_BYTES]),
        body,
    );
    head[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Rewrites an idempotent batch's base sequence in place and recomputes the CRC (the field
/// is under it): a producer renumbers the batches that follow one the broker refused.
pub fn set_base_sequence(batch: &mut [u8], base_sequence: i32) {
    const BASE_SEQUENCE_OFFSET: usize = 53;
    batch[BASE_SEQUENCE_OFFSET..BASE_SEQUENCE_OFFSET + 4]
        .copy_from_slice(&base_sequence.to_be_bytes());
    let crc = compute_crc(batch);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Splits one whole batch into consecutive batches of its records, each at most
/// max(largest record, half the records' bytes) of encoded records (so a batch of more than
/// one record always yields at least two), with the batch's codec, producer id and epoch;
/// sequences run on from the batch's base sequence. Each part comes with its record count.
/// For a producer whose batch the broker found too large (MESSAGE_TOO_LARGE).
pub fn split(
    batch: &Bytes,
    levels: &compression::Levels,
    decompress_limit_bytes: usize,
) -> Result<Vec<(Bytes, usize)>, BatchError> {
    let header = check_framing(batch)?;
    let codec = header
        .compression()
        .ok_or(BatchError::UnknownCompression(header.attributes))?;
    let records = decode_records(batch, decompress_limit_bytes)?;
    let headers_of = |r: &Record| -> Vec<(String, Option<Bytes>)> {
        r.headers
            .iter()
            .map(|h| (h.key.clone(), h.value.clone()))
            .collect()
    };
    let size_of = |r: &Record| {
        let h = headers_of(r);
        let h: Vec<(&str, Option<&[u8]>)> =
            h.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        let body = record_body_len(0, 0, r.key.as_deref(), r.value.as_deref(), &h);
        varint_len(body as i32) + body
    };
    let sizes: Vec<usize> = records.iter().map(size_of).collect();
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let limit = largest.max(sizes.iter().sum::<usize>() / 2);
    let mut parts = Vec::new();
    let mut builder = BatchBuilder::new();
    let mut filled = 0usize;
    let mut sequence = header.base_sequence;
    let mut finish = |builder: &mut BatchBuilder, sequence: &mut i32| {
        let mut b = std::mem::take(builder);
        let n = b.len();
        b.producer_id = header.producer_id;
        b.producer_epoch = header.producer_epoch;
        b.base_sequence = *sequence;
        b.transactional = header.is_transactional();
        if *sequence != NO_SEQUENCE {
            *sequence = sequence.wrapping_add(n) & i32::MAX;
        }
        parts.push((b.build_at(codec, levels), n as usize));
    };
    for (r, size) in records.iter().zip(&sizes) {
        if !builder.is_empty() && filled + size > limit {
            finish(&mut builder, &mut sequence);
            filled = 0;
        }
        let h = headers_of(r);
        let h: Vec<(&str, Option<&[u8]>)> =
            h.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        builder.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &h);
        filled += size;
    }
    if !builder.is_empty() {
        finish(&mut builder, &mut sequence);
    }
    Ok(parts)
}

/// A record header (key is never null; value may be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    pub key: String,
    pub value: Option<Bytes>,
}

/// One decoded record with absolute offset and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<RecordHeader>,
}

/// Decodes the records of one whole batch. Uncompressed keys and values are slices of
/// `batch`; compressed batches are decompressed (capped) first.
pub fn decode_records(
    batch: &Bytes,
    decompress_limit_bytes: usize,
) -> Result<Vec<Record>, BatchError> {
    let header = check_framing(batch)?;
    let codec = header
        .compression()
        .ok_or(BatchError::UnknownCompression(header.attributes))?;
    let body = match codec {
        Compression::None => batch.slice(BATCH_HEADER_BYTES..),
        _ => Bytes::from(
            compression::decompress(codec, &batch[BATCH_HEADER_BYTES..], decompress_limit_bytes)
                .map_err(BatchError::Compression)?,
        ),
    };
    let malformed = |_| BatchError::Framing("malformed record");
    let mut d = Decoder::new(&body);
    let mut out = Vec::with_capacity(
        usize::try_from(header.records_count)
            .unwrap_or(0)
            .min(body.len()),
    );
    while d.remaining() > 0 {
        let length = usize::try_from(d.varint().map_err(malformed)?)
            .map_err(|_| BatchError::Framing("negative record length"))?;
        let record = d.take_bytes(length).map_err(malformed)?;
        out.push(decode_record(&record, &header).map_err(malformed)?);
    }
    Ok(out)
}

fn decode_record(
    record: &Bytes,
    header: &BatchHeader,
) -> Result<Record, super::codec::DecodeError> {
    let mut d = Decoder::new(record);
    let _attributes = d.i8()?;
    let timestamp_delta = d.varlong()?;
    let offset_delta = d.varint()?;
    let key = varint_bytes(&mut d)?;
    let value = varint_bytes(&mut d)?;
    let header_count = usize::try_from(d.varint()?).map_err(|_| bad("negative header count"))?;
    if header_count > d.remaining() {
        return Err(bad("header count overruns the record"));
    }
    let mut headers = Vec::with_capacity(header_count);
    for _ in 0..header_count {
        let key = varint_bytes(&mut d)?.ok_or_else(|| bad("null header key"))?;
        let key = String::from_utf8(key.to_vec()).map_err(|_| bad("header key is not UTF-8"))?;
        headers.push(RecordHeader {
            key,
            value: varint_bytes(&mut d)?,
        });
    }
    let timestamp = if header.is_log_append_time() {
        header.max_timestamp
    } else {
        header.base_timestamp.wrapping_add(timestamp_delta)
    };
    Ok(Record {
        offset: header.base_offset + i64::from(offset_delta),
        timestamp,
        key,
        value,
        headers,
    })
}

fn bad(why: &'static str) -> super::codec::DecodeError {
    super::codec::DecodeError::new(super::codec::DecodeErrorKind::Invalid(why))
}

fn varint_bytes(d: &mut Decoder<'_>) -> Result<Option<Bytes>, super::codec::DecodeError> {
    let len = d.varint()?;
    if len < 0 {
        return Ok(None);
    }
    Ok(Some(d.take_bytes(len as usize)?))
}

/// Iterates the whole batches of a buffer holding several (a produce's records, a fetch
/// answer, a segment file). A trailing partial batch, which fetch answers may carry, ends
/// the iteration; [`BatchIter::partial_tail`] tells whether one was seen.
pub struct BatchIter {
    buf: Bytes,
    pos: usize,
    partial_tail: bool,
}

impl BatchIter {
    pub fn new(buf: Bytes) -> Self {
        BatchIter {
            buf,
            pos: 0,
            partial_tail: false,
        }
    }

    /// Whether the buffer ended in the middle of a batch.
    pub fn partial_tail(&self) -> bool {
        self.partial_tail
    }
}

impl Iterator for BatchIter {
    type Item = (BatchHeader, Bytes);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.buf[self.pos..];
        if rest.is_empty() {
            return None;
        }
        let header = match BatchHeader::parse(rest) {
            Ok(h) if h.batch_length >= 0 && h.total_size() <= rest.len() => h,
            _ => {
                self.partial_tail = true;
                return None;
            }
        };
        let start = self.pos;
        self.pos += header.total_size();
        Some((header, self.buf.slice(start..self.pos)))
    }
}

/// Builds one v2 batch from records, as a producer does.
pub struct BatchBuilder {
    base_timestamp: Option<i64>,
    max_timestamp: i64,
    /// The encoded records, appended in place (no allocation per record).
    records: Encoder,
    count: i32,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub partition_leader_epoch: i32,
    pub transactional: bool,
}

impl Default for BatchBuilder {
    fn default() -> Self {
        BatchBuilder {
            base_timestamp: None,
            max_timestamp: -1,
            records: Encoder::new(),
            count: 0,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            partition_leader_epoch: -1,
            transactional: false,
        }
    }
}

/// The encoded size of a record body (without its own length prefix).
fn record_body_len(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&str, Option<&[u8]>)],
) -> usize {
    let opt = |b: Option<&[u8]>| b.map_or(varint_len(-1), |b| varint_len(b.len() as i32) + b.len());
    1 + varlong_len(timestamp_delta)
        + varint_len(offset_delta)
        + opt(key)
        + opt(value)
        + varint_len(headers.len() as i32)
        + headers
            .iter()
            .map(|(k, v)| varint_len(k.len() as i32) + k.len() + opt(*v))
            .sum::<usize>()
}

impl BatchBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder whose record buffer is allocated once for about `bytes` of records (the
    /// producer passes `batch.size`, so a batch never reallocates as it fills).
    pub fn with_capacity(bytes: usize) -> Self {
        BatchBuilder {
            records: Encoder::with_capacity(bytes),
            ..Self::default()
        }
    }

    pub fn len(&self) -> i32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the batch would take uncompressed.
    pub fn estimated_size(&self) -> usize {
        BATCH_HEADER_BYTES + self.records.len()
    }

    /// The bytes one more record would add.
    pub fn record_size(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) -> usize {
        let delta = timestamp - self.base_timestamp.unwrap_or(timestamp);
        let body = record_body_len(delta, self.count, key, value, headers);
        varint_len(body as i32) + body
    }

    /// Appends a record with its timestamp (ms) and returns its offset delta.
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) -> i32 {
        let base = *self.base_timestamp.get_or_insert(timestamp);
        let delta = timestamp - base;
        let offset_delta = self.count;
        let body = record_body_len(delta, offset_delta, key, value, headers);
        let e = &mut self.records;
        e.put_varint(body as i32);
        e.put_i8(0);
        e.put_varlong(delta);
        e.put_varint(offset_delta);
        put_varint_bytes(e, key);
        put_varint_bytes(e, value);
        e.put_varint(headers.len() as i32);
        for (k, v) in headers {
            put_varint_bytes(e, Some(k.as_bytes()));
            put_varint_bytes(e, *v);
        }
        self.max_timestamp = self.max_timestamp.max(timestamp);
        self.count += 1;
        offset_delta
    }

    /// The finished batch at base offset 0, compressed with `codec`, CRC computed.
    pub fn build(&self, codec: Compression) -> Bytes {
        self.build_at(codec, &compression::Levels::default())
    }

    /// As [`BatchBuilder::build`], at the given codec levels.
    pub fn build_at(&self, codec: Compression, levels: &compression::Levels) -> Bytes {
        let records = self.records.contiguous();
        let body = match codec {
            Compression::None => None,
            c => Some(compression::compress_at(c, records, levels)),
        };
        let body: &[u8] = body.as_deref().unwrap_or(records);
        let mut attributes = codec as i16;
        if self.transactional {
            attributes |= ATTR_TRANSACTIONAL;
        }
        let header = BatchHeader {
            base_offset: 0,
            batch_length: 0,
            partition_leader_epoch: self.partition_leader_epoch,
            magic: MAGIC_V2,
            crc: 0,
            attributes,
            last_offset_delta: (self.count - 1).max(0),
            base_timestamp: self.base_timestamp.unwrap_or(-1),
            max_timestamp: self.max_timestamp,
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            records_count: self.count,
        };
        let out = assemble(&header, body);
        Bytes::from(out)
    }
}

/// Re-encodes a batch keeping only `records` (a subset of its own, as compaction leaves
/// them): base offset, last offset delta, producer fields, epoch and codec are kept; offset
/// deltas stay as they were. With `delete_horizon_ms` the horizon flag is set and the base
/// timestamp holds the horizon (KIP-534); record timestamps stay right because their deltas
/// are taken from the new base.
pub fn rebuild(
    header: &BatchHeader,
    records: &[Record],
    delete_horizon_ms: Option<i64>,
) -> Vec<u8> {
    let min_ts = records
        .iter()
        .map(|r| r.timestamp)
        .min()
        .unwrap_or(header.base_timestamp);
    let base_timestamp = delete_horizon_ms.unwrap_or(if header.has_delete_horizon() {
        header.base_timestamp
    } else {
        min_ts
    });
    let mut body = Encoder::new();
    for r in records {
        let headers: Vec<(&str, Option<&[u8]>)> = r
            .headers
            .iter()
            .map(|h| (h.key.as_str(), h.value.as_deref()))
            .collect();
        let ts_delta = r.timestamp - base_timestamp;
        let offset_delta = (r.offset - header.base_offset) as i32;
        let len = record_body_len(
            ts_delta,
            offset_delta,
            r.key.as_deref(),
            r.value.as_deref(),
            &headers,
        );
        body.put_varint(len as i32);
        body.put_i8(0);
        body.put_varlong(ts_delta);
        body.put_varint(offset_delta);
        put_varint_bytes(&mut body, r.key.as_deref());
        put_varint_bytes(&mut body, r.value.as_deref());
        body.put_varint(headers.len() as i32);
        for (k, v) in &headers {
            put_varint_bytes(&mut body, Some(k.as_bytes()));
            put_varint_bytes(&mut body, *v);
        }
    }
    let plain = body.into_bytes();
    let codec = header.compression().unwrap_or(Compression::None);
    let payload = match codec {
        Compression::None => plain.to_vec(),
        c => compression::compress(c, &plain),
    };
    let mut attributes = header.attributes;
    let mut max_timestamp = header.max_timestamp;
    if delete_horizon_ms.is_some() {
        attributes |= ATTR_DELETE_HORIZON;
    }
    if !header.is_log_append_time() {
        max_timestamp = records
            .iter()
            .map(|r| r.timestamp)
            .max()
            .unwrap_or(header.max_timestamp);
    }
    let rebuilt = BatchHeader {
        attributes,
        base_timestamp,
        max_timestamp,
        records_count: records.len() as i32,
        ..*header
    };
    assemble(&rebuilt, &payload)
}

/// A whole batch: `header`'s fields (its length and CRC computed here) followed by `body`.
/// Re-encodes a whole batch with another codec (a topic's `compression.type` differing from
/// the producer's): the records are decompressed (at most `decompress_limit_bytes`) and
/// compressed again at `levels`; every other header field is kept and the CRC recomputed.
pub fn recompress(
    batch: &[u8],
    codec: Compression,
    levels: &compression::Levels,
    decompress_limit_bytes: usize,
) -> Result<Vec<u8>, BatchError> {
    let header = BatchHeader::parse(batch)?;
    let from = header
        .compression()
        .ok_or(BatchError::UnknownCompression(header.attributes))?;
    let body = &batch[BATCH_HEADER_BYTES..];
    let plain = match from {
        Compression::None => body.to_vec(),
        c => compression::decompress(c, body, decompress_limit_bytes)
            .map_err(BatchError::Compression)?,
    };
    let payload = match codec {
        Compression::None => plain,
        c => compression::compress_at(c, &plain, levels),
    };
    let attributes = (header.attributes & !ATTR_COMPRESSION_MASK) | codec as i16;
    Ok(assemble(
        &BatchHeader {
            attributes,
            ..header
        },
        &payload,
    ))
}

fn assemble(header: &BatchHeader, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(BATCH_HEADER_BYTES + body.len());
    out.extend_from_slice(&header.base_offset.to_be_bytes());
    out.extend_from_slice(
        &((BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES + body.len()) as i32).to_be_bytes(),
    );
    out.extend_from_slice(&header.partition_leader_epoch.to_be_bytes());
    out.push(MAGIC_V2 as u8);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&header.attributes.to_be_bytes());
    out.extend_from_slice(&header.last_offset_delta.to_be_bytes());
    out.extend_from_slice(&header.base_timestamp.to_be_bytes());
    out.extend_from_slice(&header.max_timestamp.to_be_bytes());
    out.extend_from_slice(&header.producer_id.to_be_bytes());
    out.extend_from_slice(&header.producer_epoch.to_be_bytes());
    out.extend_from_slice(&header.base_sequence.to_be_bytes());
    out.extend_from_slice(&header.records_count.to_be_bytes());
    out.extend_from_slice(body);
    let crc = compute_crc(&out);
    out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

fn put_varint_bytes(e: &mut Encoder, b: Option<&[u8]>) {
    match b {
        None => e.put_varint(-1),
        Some(b) => {
            e.put_varint(b.len() as i32);
            e.put_slice(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: usize = 64 << 20;

    fn sample_batch(codec: Compression) -> Bytes {
        let mut b = BatchBuilder::new();
        b.append(1000, Some(b"k1"), Some(b"v1"), &[("h", Some(b"x"))]);
        b.append(1005, None, Some(b""), &[]);
        b.append(1002, Some(b""), None, &[("n", None)]);
        b.build(codec)
    }

    #[test]
    fn built_batches_validate_and_decode_to_what_was_appended_in_every_codec() {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let batch = sample_batch(codec);
            let header = validate(&batch, CAP).unwrap();
            assert_eq!(header.records_count, 3);
            assert_eq!(header.last_offset_delta, 2);
            assert_eq!(header.max_timestamp, 1005);
            assert_eq!(header.compression(), Some(codec));
            let records = decode_records(&batch, CAP).unwrap();
            assert_eq!(records[0].key.as_deref(), Some(&b"k1"[..]));
            assert_eq!(
                records[0].headers,
                vec![RecordHeader {
                    key: "h".into(),
                    value: Some(Bytes::from_static(b"x"))
                }]
            );
            assert_eq!(records[1].key, None);
            assert_eq!(
                records[1].value.as_deref(),
                Some(&b""[..]),
                "empty value is not null"
            );
            assert_eq!(records[2].value, None);
            assert_eq!(
                records[2].key.as_deref(),
                Some(&b""[..]),
                "empty key is not null"
            );
            assert_eq!(records[1].timestamp, 1005);
            assert_eq!(records[2].offset, 2);
        }
    }

    #[test]
    fn a_flipped_bit_fails_the_crc() {
        let mut batch = sample_batch(Compression::None).to_vec();
        let last = batch.len() - 1;
        batch[last] ^= 1;
        assert!(matches!(
            validate(&batch, CAP),
            Err(BatchError::CrcMismatch { .. })
        ));
        assert_eq!(
            validate(&batch, CAP).unwrap_err().error_code(),
            ErrorCode::CORRUPT_MESSAGE
        );
    }

    #[test]
    fn stamping_offset_and_epoch_keeps_the_crc_valid() {
        let mut batch = sample_batch(Compression::Lz4).to_vec();
        set_base_offset(&mut batch, 1234);
        set_partition_leader_epoch(&mut batch, 7);
        let header = validate(&batch, CAP).unwrap();
        assert_eq!(
            (
                header.base_offset,
                header.partition_leader_epoch,
                header.last_offset()
            ),
            (1234, 7, 1236)
        );
    }

    #[test]
    fn log_append_time_rewrites_max_timestamp_and_crc() {
        let mut batch = sample_batch(Compression::None).to_vec();
        set_log_append_time(&mut batch, 99_999);
        let header = validate(&batch, CAP).unwrap();
        assert!(header.is_log_append_time());
        let records = decode_records(&Bytes::from(batch), CAP).unwrap();
        assert!(records.iter().all(|r| r.timestamp == 99_999));
    }

    #[test]
    fn record_count_mismatch_is_invalid_record() {
        let mut batch = sample_batch(Compression::None).to_vec();
        batch[57..61].copy_from_slice(&2i32.to_be_bytes());
        let crc = compute_crc(&batch);
        batch[17..21].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            validate(&batch, CAP).unwrap_err().error_code(),
            ErrorCode::INVALID_RECORD
        );
    }

    #[test]
    fn old_magic_is_refused() {
        let mut batch = sample_batch(Compression::None).to_vec();
        batch[16] = 1;
        assert_eq!(
            validate(&batch, CAP).unwrap_err(),
            BatchError::UnsupportedMagic(1)
        );
    }

    #[test]
    fn batch_iterator_stops_at_a_partial_tail() {
        let a = sample_batch(Compression::None);
        let b = sample_batch(Compression::Gzip);
        let mut buf = a.to_vec();
        buf.extend_from_slice(&b[..b.len() - 3]);
        let mut it = BatchIter::new(Bytes::from(buf));
        assert_eq!(it.next().map(|(_, bytes)| bytes), Some(a));
        assert!(it.next().is_none());
        assert!(it.partial_tail());
    }

    #[test]
    fn idempotent_last_sequence_wraps_like_kafka() {
        let mut h = BatchHeader::parse(&sample_batch(Compression::None)).unwrap();
        h.base_sequence = i32::MAX;
        h.last_offset_delta = 2;
        assert_eq!(h.last_sequence(), 1);
    }

    #[test]
    fn a_split_batch_keeps_every_record_in_order_with_sequences_running_on() {
        for codec in [Compression::None, Compression::Zstd] {
            let mut b = BatchBuilder::new();
            b.producer_id = 7;
            b.producer_epoch = 2;
            b.base_sequence = 40;
            let big = vec![b'a'; 2000];
            b.append(1000, None, Some(&big), &[]);
            b.append(1001, Some(b"k"), Some(b"ok"), &[("h", Some(b"x"))]);
            b.append(1002, None, Some(b"ok2"), &[]);
            let parts = split(&b.build(codec), &compression::Levels::default(), CAP).unwrap();
            assert_eq!(
                parts.iter().map(|p| p.1).collect::<Vec<_>>(),
                vec![1, 2],
                "the big record alone, then the rest"
            );
            let (first, second) = (
                validate(&parts[0].0, CAP).unwrap(),
                validate(&parts[1].0, CAP).unwrap(),
            );
            assert_eq!(
                (first.producer_id, first.producer_epoch, first.base_sequence),
                (7, 2, 40)
            );
            assert_eq!(
                (second.base_sequence, second.compression()),
                (41, Some(codec))
            );
            let rest = decode_records(&parts[1].0, CAP).unwrap();
            assert_eq!(rest[0].value.as_deref(), Some(&b"ok"[..]));
            assert_eq!(rest[0].timestamp, 1001);
            assert_eq!(rest[0].headers[0].key, "h");
            assert_eq!(rest[1].value.as_deref(), Some(&b"ok2"[..]));
        }
        // Equal records: halves.
        let mut b = BatchBuilder::new();
        for _ in 0..4 {
            b.append(1, None, Some(b"same"), &[]);
        }
        let parts = split(
            &b.build(Compression::None),
            &compression::Levels::default(),
            CAP,
        )
        .unwrap();
        assert_eq!(parts.iter().map(|p| p.1).collect::<Vec<_>>(), vec![2, 2]);
    }

    #[test]
    fn a_new_base_sequence_is_written_under_a_fresh_crc() {
        let mut b = BatchBuilder::new();
        b.producer_id = 1;
        b.base_sequence = 5;
        b.append(1, None, Some(b"v"), &[]);
        let mut bytes = b.build(Compression::None).to_vec();
        set_base_sequence(&mut bytes, 3);
        let h = validate(&bytes, CAP).unwrap();
        assert_eq!(h.base_sequence, 3);
    }
}
