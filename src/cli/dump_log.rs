//! `kfk dump-log --files F[,F...]` (kafka-dump-log): prints the batches of `.log` segment
//! files (records with `--deep-iteration`, keys and payloads with `--print-data-log`), and the
//! entries of `.index` and `.timeindex` files, in Kafka's line format.

use super::CliError;
use crate::log::index::{OFFSET_ENTRY_BYTES, TIME_ENTRY_BYTES};
use crate::protocol::record_batch::{
    self, decode_records, BatchHeader, BATCH_HEADER_BYTES, LOG_OVERHEAD_BYTES,
};
use bytes::Bytes;
use clap::Args;
use std::io::Write;
use std::path::Path;

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  kfk dump-log --files kfk-data/orders-0/00000000000000000000.log --print-data-log"
)]
pub struct DumpLogArgs {
    /// Comma-separated segment files to dump: `.log`, `.index`, `.timeindex`.
    #[arg(long, value_delimiter = ',', required = true)]
    pub files: Vec<String>,
    /// Print every record, not just the batch headers.
    #[arg(long)]
    pub deep_iteration: bool,
    /// Print record keys and payloads (implies --deep-iteration).
    #[arg(long)]
    pub print_data_log: bool,
    /// Check each index entry against the log segment beside it and report mismatches.
    #[arg(long)]
    pub index_sanity_check: bool,
}

pub fn run(args: &DumpLogArgs) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    for file in &args.files {
        let path = Path::new(file);
        writeln!(out, "Dumping {file}")?;
        let data = std::fs::read(path)
            .map_err(|e| CliError::Failed(format!("cannot read {file}: {e}")))?;
        let base_offset = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0);
        match path.extension().and_then(|e| e.to_str()) {
            Some("log") => dump_log(&mut out, Bytes::from(data), base_offset, args)?,
            Some("index") => {
                dump_index(&mut out, &data, base_offset, path, args.index_sanity_check)?
            }
            Some("timeindex") => dump_time_index(&mut out, &data, base_offset)?,
            _ => {
                return Err(CliError::Usage(format!(
                    "--files: {file} is not a .log, .index or .timeindex file"
                )))
            }
        }
    }
    Ok(())
}

fn timestamp_type(h: &BatchHeader) -> &'static str {
    if h.is_log_append_time() {
        "LogAppendTime"
    } else {
        "CreateTime"
    }
}

fn dump_log(
    out: &mut impl Write,
    data: Bytes,
    base_offset: i64,
    args: &DumpLogArgs,
) -> Result<(), CliError> {
    writeln!(out, "Log starting offset: {base_offset}")?;
    let mut position = 0usize;
    while position + LOG_OVERHEAD_BYTES <= data.len() {
        let rest = &data[position..];
        let header = match BatchHeader::parse(rest) {
            Ok(h) if h.total_size() >= BATCH_HEADER_BYTES && h.total_size() <= rest.len() => h,
            _ => {
                writeln!(
                    out,
                    "Found {} invalid bytes at the end of {base_offset:020}.log",
                    rest.len()
                )?;
                return Ok(());
            }
        };
        let batch = data.slice(position..position + header.total_size());
        let valid = record_batch::verify_crc(&batch).is_ok();
        let horizon = if header.has_delete_horizon() {
            format!("OptionalLong[{}]", header.base_timestamp)
        } else {
            "OptionalLong.empty".into()
        };
        writeln!(
            out,
            "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {} producerId: {} producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} isControl: {} deleteHorizonMs: {horizon} position: {position} {}: {} size: {} magic: {} compresscodec: {} crc: {} isvalid: {valid}",
            header.base_offset,
            header.last_offset(),
            header.records_count,
            header.base_sequence,
            header.last_sequence(),
            header.producer_id,
            header.producer_epoch,
            header.partition_leader_epoch,
            header.is_transactional(),
            header.is_control(),
            timestamp_type(&header),
            header.max_timestamp,
            header.total_size(),
            header.magic,
            header.compression().map_or("unknown", |c| c.name()),
            header.crc,
        )?;
        if args.deep_iteration || args.print_data_log {
            dump_records(out, &batch, &header, args.print_data_log)?;
        }
        position += header.total_size();
    }
    Ok(())
}

fn dump_records(
    out: &mut impl Write,
    batch: &Bytes,
    header: &BatchHeader,
    print_data: bool,
) -> Result<(), CliError> {
    let records = match decode_records(batch, 64 << 20) {
        Ok(r) => r,
        Err(e) => {
            writeln!(out, "| could not read records: {e}")?;
            return Ok(());
        }
    };
    for r in records {
        let len = |b: &Option<Bytes>| b.as_ref().map_or(-1, |b| b.len() as i64);
        let sequence = if header.base_sequence < 0 {
            -1
        } else {
            header
                .base_sequence
                .wrapping_add((r.offset - header.base_offset) as i32)
        };
        let keys: Vec<&str> = r.headers.iter().map(|h| h.key.as_str()).collect();
        write!(
            out,
            "| offset: {} {}: {} keySize: {} valueSize: {} sequence: {sequence} headerKeys: [{}]",
            r.offset,
            timestamp_type(header),
            r.timestamp,
            len(&r.key),
            len(&r.value),
            keys.join(",")
        )?;
        if print_data {
            if let Some(k) = &r.key {
                write!(out, " key: {}", String::from_utf8_lossy(k))?;
            }
            write!(
                out,
                " payload: {}",
                r.value
                    .as_ref()
                    .map_or(String::new(), |v| String::from_utf8_lossy(v).into_owned())
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn dump_index(
    out: &mut impl Write,
    data: &[u8],
    base_offset: i64,
    path: &Path,
    sanity_check: bool,
) -> Result<(), CliError> {
    let log = std::fs::read(path.with_extension("log"))
        .ok()
        .map(Bytes::from);
    let mut last = None;
    for entry in data.chunks_exact(OFFSET_ENTRY_BYTES) {
        let relative = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]);
        let position = u32::from_be_bytes([entry[4], entry[5], entry[6], entry[7]]);
        if last.is_some_and(|(r, p)| relative <= r || position <= p) {
            break; // preallocated zeros after the last entry
        }
        let offset = base_offset + i64::from(relative);
        writeln!(out, "offset: {offset} position: {position}")?;
        if sanity_check {
            if let Some(log) = &log {
                let ok = BatchHeader::parse(log.get(position as usize..).unwrap_or(&[]))
                    .is_ok_and(|h| h.last_offset() == offset);
                if !ok {
                    writeln!(out, "Index mismatch: offset {offset} does not end the batch at position {position}")?;
                }
            }
        }
        last = Some((relative, position));
    }
    Ok(())
}

fn dump_time_index(out: &mut impl Write, data: &[u8], base_offset: i64) -> Result<(), CliError> {
    let mut last_ts = i64::MIN;
    for entry in data.chunks_exact(TIME_ENTRY_BYTES) {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&entry[..8]);
        let timestamp = i64::from_be_bytes(ts);
        let relative = u32::from_be_bytes([entry[8], entry[9], entry[10], entry[11]]);
        if timestamp <= last_ts || (timestamp == 0 && relative == 0) {
            break;
        }
        writeln!(
            out,
            "timestamp: {timestamp} offset: {}",
            base_offset + i64::from(relative)
        )?;
        last_ts = timestamp;
    }
    Ok(())
}
