//! Crash tests for the partition log.
//!
//! - Cut points: the last segment is truncated at many byte positions, bytes in its tail are
//!   flipped, index files are deleted or scrambled; reopening after an unclean stop yields
//!   exactly the batches fully written before the damage, offsets continue without gaps, and
//!   no corrupt batch is ever returned.
//! - Machine crashes ([`SimulatedFs::crash`] drops unsynced writes): with `flush.messages=1`
//!   nothing acknowledged is lost and every acknowledged batch was synced; with the default
//!   policy only the unflushed tail is lost; concurrent producers share syncs (group commit).
//! - Producer state and leader epochs survive the same crashes (rebuilt when files are gone).

use bytes::Bytes;
use kfk::log::{Log, LogConfig, LogFs, OpenOptions, SharedLog, SimulatedFs};
use kfk::protocol::record_batch::{decode_records, verify_crc, BatchBuilder, BatchIter};
use kfk::protocol::Compression;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const DIR: &str = "/data/t-0";

fn cfg(pairs: &[(&str, &str)]) -> LogConfig {
    let mut m: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    m.entry("message.timestamp.after.max.ms".into())
        .or_insert_with(|| i64::MAX.to_string());
    m.entry("message.timestamp.before.max.ms".into())
        .or_insert_with(|| i64::MAX.to_string());
    LogConfig::from_map(&m).unwrap()
}

fn batch(n: usize, tag: usize, producer: Option<(i64, i32)>) -> Bytes {
    let mut b = BatchBuilder::new();
    if let Some((pid, seq)) = producer {
        b.producer_id = pid;
        b.producer_epoch = 0;
        b.base_sequence = seq;
    }
    for i in 0..n {
        b.append(
            1_000 + tag as i64,
            Some(format!("k{tag}").as_bytes()),
            Some(format!("value-{tag}-{i}").as_bytes()),
            &[],
        );
    }
    b.build(if tag.is_multiple_of(3) {
        Compression::Gzip
    } else {
        Compression::None
    })
}

fn open(fs: &Arc<SimulatedFs>, config: &LogConfig, clean: bool) -> Log {
    let options = OpenOptions {
        clean_shutdown: clean,
        recovery_point: 0,
        log_start_offset: 0,
    };
    Log::open(
        fs.clone() as Arc<dyn LogFs>,
        Path::new(DIR),
        "t",
        0,
        config.clone(),
        options,
    )
    .unwrap()
    .0
}

/// Every record in the log, batch by batch, each batch CRC-checked.
fn all_values(log: &mut Log) -> Vec<String> {
    let leo = log.log_end_offset();
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < leo {
        let region = log
            .read(offset, 1 << 20, leo, true)
            .unwrap()
            .expect("data below the log end");
        for (_, b) in BatchIter::new(region.read_bytes().unwrap()) {
            verify_crc(&b).expect("no corrupt batch is ever returned");
            for r in decode_records(&b, 1 << 24).unwrap() {
                assert_eq!(r.offset, out.len() as i64, "offsets without gaps");
                out.push(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
                offset = r.offset + 1;
            }
        }
    }
    out
}

fn expected_values(batches: usize, per_batch: usize) -> Vec<String> {
    (0..batches)
        .flat_map(|t| (0..per_batch).map(move |i| format!("value-{t}-{i}")))
        .collect()
}

/// Builds a log of `n` batches of 3 records (small segments) and returns the fs, the
/// config, and the byte end of every batch within the last segment.
fn written_log(n: usize) -> (Arc<SimulatedFs>, LogConfig, PathBuf, Vec<u64>) {
    let fs = SimulatedFs::new();
    let config = cfg(&[("segment.bytes", "2000"), ("index.interval.bytes", "150")]);
    let mut log = open(&fs, &config, false);
    let mut ends = Vec::new();
    for t in 0..n {
        log.append_as_leader(&batch(3, t, Some((42, (t * 3) as i32))), 0, 2_000)
            .unwrap();
    }
    let last_base = *log.segment_bases().last().unwrap();
    let last = PathBuf::from(DIR).join(format!("{last_base:020}.log"));
    let mut position = 0u64;
    let data = fs.read(&last).unwrap();
    for (h, _) in BatchIter::new(Bytes::from(data)) {
        position += h.total_size() as u64;
        ends.push(position);
    }
    (fs, config, last, ends)
}

#[test]
fn truncating_the_last_segment_anywhere_keeps_exactly_the_whole_batches() {
    let n = 30;
    let (_, _, _, ends) = written_log(n);
    let in_last = ends.len();
    let total_last = *ends.last().unwrap();
    for cut in (0..=total_last)
        .step_by(7)
        .chain([total_last - 1, 1, 60, 61, 62])
    {
        let (fs, config, last, ends) = written_log(n);
        fs.with_file(&last, |data| data.truncate(cut as usize))
            .unwrap();
        let mut log = open(&fs, &config, false);
        let whole = ends.iter().filter(|&&e| e <= cut).count();
        let kept = n - in_last + whole;
        assert_eq!(
            all_values(&mut log),
            expected_values(kept, 3),
            "cut at {cut}"
        );
        let info = log
            .append_as_leader(&batch(3, 999, None), 0, 2_000)
            .unwrap();
        assert_eq!(
            info.base_offset,
            kept as i64 * 3,
            "offsets continue after the cut at {cut}"
        );
    }
}

#[test]
fn flipped_bytes_in_the_tail_cut_the_log_before_the_damaged_batch() {
    let n = 30;
    for flip in [5usize, 17, 21, 40, 61, 70, 100, 200, 333] {
        let (fs, config, last, ends) = written_log(n);
        let in_last = ends.len();
        let size = *ends.last().unwrap() as usize;
        let at = size - 1 - (flip % size);
        fs.with_file(&last, |data| data[at] ^= 0x5a).unwrap();
        let mut log = open(&fs, &config, false);
        let damaged = ends.iter().position(|&e| e as usize > at).unwrap();
        let kept = n - in_last + damaged;
        let values = all_values(&mut log);
        // Bytes 0..8 (base offset) and 12..16 (epoch) are outside the CRC: a flip there is
        // either caught as a broken offset sequence or changes nothing the CRC protects.
        let start = if damaged == 0 {
            0
        } else {
            ends[damaged - 1] as usize
        };
        let outside_crc = (at - start) < 8 || (12..16).contains(&(at - start));
        if !outside_crc {
            assert_eq!(values, expected_values(kept, 3), "flip at {at}");
        } else {
            assert!(
                values.len() >= kept * 3 - 3 && values.len() <= n * 3,
                "flip at {at} outside the CRC"
            );
        }
    }
}

#[test]
fn missing_or_scrambled_indexes_are_rebuilt() {
    for damage in 0..4 {
        let (fs, config, last, _) = written_log(40);
        let base = last.file_stem().unwrap().to_str().unwrap().to_string();
        let index = PathBuf::from(DIR).join(format!("{base}.index"));
        let time_index = PathBuf::from(DIR).join(format!("{base}.timeindex"));
        match damage {
            0 => fs.remove_file(&index).unwrap(),
            1 => fs.remove_file(&time_index).unwrap(),
            2 => {
                fs.with_file(&index, |d| {
                    d.iter_mut()
                        .for_each(|b| *b = b.wrapping_mul(31).wrapping_add(7))
                })
                .unwrap();
            }
            _ => {
                fs.with_file(&index, |d| d.truncate(3)).unwrap();
            }
        }
        let mut log = open(&fs, &config, false);
        assert_eq!(
            all_values(&mut log),
            expected_values(40, 3),
            "damage {damage}"
        );
        assert_eq!(
            log.offset_for_timestamp(1_020).unwrap(),
            Some((60, 1_020)),
            "damage {damage}"
        );
    }
}

#[test]
fn producer_state_and_leader_epochs_survive_crashes_and_missing_files() {
    for remove_files in [false, true] {
        let fs = SimulatedFs::new();
        let config = cfg(&[("segment.bytes", "2000"), ("flush.messages", "1")]);
        let shared = SharedLog::new(open(&fs, &config, false));
        for t in 0..20 {
            let epoch = if t < 10 { 1 } else { 4 };
            shared
                .append_as_leader(&batch(3, t, Some((42, (t * 3) as i32))), epoch, 2_000)
                .unwrap();
        }
        drop(shared);
        fs.crash();
        if remove_files {
            for p in fs.list_dir(Path::new(DIR)).unwrap() {
                let name = p.file_name().unwrap().to_str().unwrap().to_string();
                if name.ends_with(".snapshot") || name == "leader-epoch-checkpoint" {
                    fs.remove_file(&p).unwrap();
                }
            }
        }
        let mut log = open(&fs, &config, false);
        assert_eq!(
            log.leader_epochs().entries(),
            &[(1, 0), (4, 30)],
            "removed files: {remove_files}"
        );
        // A retry of the last batch is a duplicate; the next sequence is accepted.
        let dup = log
            .append_as_leader(&batch(3, 19, Some((42, 57))), 4, 2_000)
            .unwrap();
        assert!(
            dup.duplicate && dup.base_offset == 57,
            "removed files: {remove_files}: {dup:?}"
        );
        let gap = log
            .append_as_leader(&batch(3, 20, Some((42, 70))), 4, 2_000)
            .unwrap_err();
        assert_eq!(
            gap.code,
            kfk::protocol::ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
        );
        let next = log
            .append_as_leader(&batch(3, 20, Some((42, 60))), 4, 2_000)
            .unwrap();
        assert_eq!(next.base_offset, 60);
    }
}

#[test]
fn with_flush_messages_1_a_machine_crash_loses_nothing_acknowledged() {
    let fs = SimulatedFs::new();
    let config = cfg(&[("flush.messages", "1"), ("segment.bytes", "3000")]);
    let shared = SharedLog::new(open(&fs, &config, false));
    let before = fs.sync_count();
    let acked = 50;
    for t in 0..acked {
        shared
            .append_as_leader(&batch(2, t, None), 0, 2_000)
            .unwrap();
    }
    assert!(
        fs.sync_count() - before >= acked as u64,
        "at least one fdatasync per acknowledged batch"
    );
    drop(shared);
    fs.crash();
    let mut log = open(&fs, &config, false);
    assert_eq!(all_values(&mut log), expected_values(acked, 2));
}

#[test]
fn with_the_default_policy_a_machine_crash_loses_only_the_unflushed_tail() {
    let fs = SimulatedFs::new();
    let config = cfg(&[("segment.bytes", "3000")]);
    let mut log = open(&fs, &config, false);
    for t in 0..50 {
        log.append_as_leader(&batch(2, t, None), 0, 2_000).unwrap();
    }
    let synced_up_to = *log.segment_bases().last().unwrap();
    drop(log);
    fs.crash();
    let mut log = open(&fs, &config, false);
    let values = all_values(&mut log);
    let all = expected_values(50, 2);
    assert_eq!(values[..], all[..values.len()], "what survives is a prefix");
    assert_eq!(
        values.len() as i64,
        synced_up_to,
        "rolled (synced) segments survive, the active one's unsynced tail does not"
    );
}

#[test]
fn concurrent_producers_share_fsyncs_through_group_commit() {
    let fs = SimulatedFs::new();
    fs.set_sync_delay(std::time::Duration::from_millis(2));
    let config = cfg(&[("flush.messages", "1")]);
    let shared = Arc::new(SharedLog::new(open(&fs, &config, false)));
    let before = fs.sync_count();
    let (threads, per_thread) = (8, 25);
    std::thread::scope(|s| {
        for th in 0..threads {
            let shared = shared.clone();
            s.spawn(move || {
                for i in 0..per_thread {
                    shared
                        .append_as_leader(&batch(1, th * 1000 + i, None), 0, 2_000)
                        .unwrap();
                }
            });
        }
    });
    let syncs = fs.sync_count() - before;
    let batches = (threads * per_thread) as u64;
    println!("{batches} acknowledged batches, {syncs} fdatasyncs");
    assert!(
        syncs < batches / 2,
        "group commit: {syncs} syncs for {batches} batches"
    );
    drop(shared);
    fs.crash();
    let mut log = open(&fs, &config, false);
    assert_eq!(all_values(&mut log).len(), batches as usize);
}
