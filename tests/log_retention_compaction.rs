//! Retention (time, size, log start / DeleteRecords) and compaction (last value per key,
//! tombstones removed after their delete horizon) with time controlled by the test.

use bytes::Bytes;
use kfk::log::cleaner::clean;
use kfk::log::{Log, LogConfig, LogFs, OpenOptions, SharedLog, SimulatedFs};
use kfk::protocol::record_batch::{decode_records, BatchBuilder, BatchIter};
use kfk::protocol::{Compression, ErrorCode};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const HOUR_MS: i64 = 3_600_000;

fn cfg(pairs: &[(&str, &str)]) -> LogConfig {
    let mut m: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    m.insert(
        "message.timestamp.after.max.ms".into(),
        i64::MAX.to_string(),
    );
    m.insert(
        "message.timestamp.before.max.ms".into(),
        i64::MAX.to_string(),
    );
    LogConfig::from_map(&m).unwrap()
}

fn open(config: LogConfig) -> (Arc<SimulatedFs>, Log) {
    let fs = SimulatedFs::new();
    let log = Log::open(
        fs.clone() as Arc<dyn LogFs>,
        Path::new("/d/t-0"),
        "t",
        0,
        config,
        OpenOptions::default(),
    )
    .unwrap()
    .0;
    (fs, log)
}

fn record_batch(timestamp: i64, records: &[(&str, Option<&str>)]) -> Bytes {
    let mut b = BatchBuilder::new();
    for (k, v) in records {
        b.append(timestamp, Some(k.as_bytes()), v.map(str::as_bytes), &[]);
    }
    b.build(Compression::None)
}

/// `(offset, key, value)` of every record in the log.
fn contents(log: &mut Log) -> Vec<(i64, String, Option<String>)> {
    let mut out = Vec::new();
    let leo = log.log_end_offset();
    let mut offset = log.log_start_offset();
    while offset < leo {
        let Some(region) = log.read(offset, 1 << 20, leo, true).unwrap() else {
            break;
        };
        for (header, b) in BatchIter::new(region.read_bytes().unwrap()) {
            for r in decode_records(&b, 1 << 20).unwrap() {
                let text = |b: Bytes| String::from_utf8(b.to_vec()).unwrap();
                out.push((
                    r.offset,
                    r.key.map(text).unwrap_or_default(),
                    r.value.map(text),
                ));
            }
            // Compaction leaves gaps: continue after the batch, not after its last record.
            offset = header.next_offset();
        }
    }
    out
}

#[test]
fn time_retention_deletes_whole_segments_past_retention_ms() {
    let (_, mut log) = open(cfg(&[
        ("segment.bytes", "500"),
        ("retention.ms", &(24 * HOUR_MS).to_string()),
    ]));
    let t0 = 1_700_000_000_000;
    for hour in 0..48 {
        log.append_as_leader(
            &record_batch(
                t0 + hour * HOUR_MS,
                &[("k", Some("a value of some length"))],
            ),
            0,
            t0 + hour * HOUR_MS,
        )
        .unwrap();
    }
    let segments_before = log.segment_count();
    let now = t0 + 48 * HOUR_MS;
    let deleted = log.enforce_retention(now, log.log_end_offset()).unwrap();
    assert!(deleted > 0 && log.segment_count() == segments_before - deleted);
    // Everything older than 24 h is gone at segment granularity, nothing younger.
    let first_kept = contents(&mut log)[0].0;
    assert_eq!(log.log_start_offset(), first_kept);
    assert!(
        first_kept <= 24,
        "records younger than retention.ms are kept ({first_kept})"
    );
    assert!(
        first_kept >= 20,
        "whole segments past retention.ms are deleted ({first_kept})"
    );
    assert_eq!(
        log.read(0, 100, log.log_end_offset(), true).unwrap_err(),
        ErrorCode::OFFSET_OUT_OF_RANGE
    );
    // Far in the future everything goes, and the log continues at the same offset.
    log.enforce_retention(now + 100 * HOUR_MS, log.log_end_offset())
        .unwrap();
    assert_eq!(log.log_start_offset(), 48);
    let next = log
        .append_as_leader(&record_batch(now, &[("k", Some("v"))]), 0, now)
        .unwrap();
    assert_eq!(next.base_offset, 48);
}

#[test]
fn size_retention_keeps_at_most_retention_bytes() {
    let (_, mut log) = open(cfg(&[
        ("segment.bytes", "400"),
        ("retention.bytes", "1000"),
    ]));
    let now = 1_700_000_000_000;
    for i in 0..60 {
        log.append_as_leader(
            &record_batch(now, &[("k", Some(&format!("value number {i}")))]),
            0,
            now,
        )
        .unwrap();
    }
    log.enforce_retention(now, log.log_end_offset()).unwrap();
    assert!(
        log.size_bytes().unwrap() <= 1000 + 400,
        "at most retention.bytes plus the active segment"
    );
    assert_eq!(
        contents(&mut log).last().unwrap().2.as_deref(),
        Some("value number 59")
    );
}

#[test]
fn retention_never_deletes_at_or_above_the_high_watermark() {
    let (_, mut log) = open(cfg(&[("segment.bytes", "300"), ("retention.ms", "1")]));
    let t0 = 1_000;
    for _ in 0..20 {
        log.append_as_leader(&record_batch(t0, &[("k", Some("v"))]), 0, t0)
            .unwrap();
    }
    log.enforce_retention(t0 + HOUR_MS, 5).unwrap();
    assert!(log.log_start_offset() <= 5);
}

#[test]
fn delete_records_moves_the_log_start() {
    let (_, mut log) = open(cfg(&[("segment.bytes", "300")]));
    for _ in 0..20 {
        log.append_as_leader(&record_batch(1_000, &[("k", Some("v"))]), 0, 1_000)
            .unwrap();
    }
    assert_eq!(
        log.delete_records_before(25, 20),
        Err(ErrorCode::OFFSET_OUT_OF_RANGE)
    );
    assert_eq!(log.delete_records_before(13, 20), Ok(13));
    assert_eq!(log.log_start_offset(), 13);
    assert_eq!(contents(&mut log)[0].0, 13);
    assert_eq!(
        log.read(12, 100, 20, true).unwrap_err(),
        ErrorCode::OFFSET_OUT_OF_RANGE
    );
}

#[test]
fn compaction_keeps_the_last_value_per_key_and_drops_tombstones_after_the_horizon() {
    let config = cfg(&[
        ("cleanup.policy", "compact"),
        ("segment.bytes", "300"),
        ("delete.retention.ms", &HOUR_MS.to_string()),
        ("min.cleanable.dirty.ratio", "0.01"),
    ]);
    let (_, log) = open(config);
    let shared = SharedLog::new(log);
    let t0 = 1_700_000_000_000;
    let mut expected: BTreeMap<String, Option<String>> = BTreeMap::new();
    for round in 0..10 {
        for key in ["a", "b", "c", "d"] {
            let value = if key == "d" && round == 8 {
                None
            } else {
                Some(format!("{key}{round}"))
            };
            let v = value.as_deref();
            shared
                .append_as_leader(&record_batch(t0 + round, &[(key, v)]), 0, t0)
                .unwrap();
            expected.insert(key.to_string(), value);
        }
    }
    // "d" gets a tombstone in round 8 and a new value in round 9; "e" only a tombstone.
    shared
        .append_as_leader(&record_batch(t0 + 11, &[("e", None)]), 0, t0)
        .unwrap();
    shared
        .append_as_leader(&record_batch(t0 + 12, &[("z", Some("filler"))]), 0, t0)
        .unwrap();
    shared.lock().roll().unwrap();
    let before: Vec<_> = contents(&mut shared.lock());

    let stats = clean(&shared, t0 + 1000).unwrap();
    assert!(
        stats.segments_cleaned > 0 && stats.records_removed > 0,
        "{stats:?}"
    );
    let after = contents(&mut shared.lock());
    let mut latest: BTreeMap<String, (i64, Option<String>)> = BTreeMap::new();
    for (offset, key, value) in &before {
        latest.insert(key.clone(), (*offset, value.clone()));
    }
    let kept: BTreeMap<String, (i64, Option<String>)> = after
        .iter()
        .map(|(o, k, v)| (k.clone(), (*o, v.clone())))
        .collect();
    assert_eq!(after.len(), kept.len(), "one record per key remains");
    assert_eq!(
        kept, latest,
        "the last value of every key, at its original offset, tombstones still there"
    );
    assert!(kept["e"].1.is_none());

    // Before the horizon the tombstone stays; after it, it is removed.
    clean(&shared, t0 + 2000).unwrap();
    assert!(contents(&mut shared.lock())
        .iter()
        .any(|(_, k, _)| k == "e"));
    clean(&shared, t0 + 1000 + HOUR_MS + 1).unwrap();
    let final_contents = contents(&mut shared.lock());
    assert!(
        !final_contents.iter().any(|(_, k, _)| k == "e"),
        "tombstone past its delete horizon is removed"
    );
    assert_eq!(
        final_contents
            .iter()
            .find(|(_, k, _)| k == "d")
            .unwrap()
            .2
            .as_deref(),
        Some("d9")
    );
    // Offsets continue after compaction.
    let info = shared
        .append_as_leader(&record_batch(t0, &[("a", Some("new"))]), 0, t0)
        .unwrap();
    assert_eq!(info.base_offset, 42);
}

#[test]
fn compacted_topics_refuse_records_without_a_key() {
    let (_, mut log) = open(cfg(&[("cleanup.policy", "compact")]));
    let mut b = BatchBuilder::new();
    b.append(1_000, None, Some(b"v"), &[]);
    let err = log
        .append_as_leader(&b.build(Compression::None), 0, 1_000)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_RECORD);
    assert_eq!(log.log_end_offset(), 0, "nothing is appended");
}

#[test]
fn log_append_time_topics_stamp_the_append_time_and_keep_the_crc_valid() {
    let (_, mut log) = open(cfg(&[("message.timestamp.type", "LogAppendTime")]));
    let info = log
        .append_as_leader(
            &record_batch(5, &[("k", Some("v")), ("k2", Some("w"))]),
            0,
            1_700_000_123_456,
        )
        .unwrap();
    assert_eq!(info.log_append_time, 1_700_000_123_456);
    let region = log
        .read(0, 1 << 20, log.log_end_offset(), true)
        .unwrap()
        .unwrap();
    let bytes = region.read_bytes().unwrap();
    let header = kfk::protocol::record_batch::validate(&bytes, 1 << 20)
        .expect("CRC recomputed after stamping");
    assert!(header.is_log_append_time());
    let records = decode_records(&bytes, 1 << 20).unwrap();
    assert!(
        records.iter().all(|r| r.timestamp == 1_700_000_123_456),
        "{records:?}"
    );
}

/// The latest value of each key, from `contents`.
fn latest_values(log: &mut Log) -> BTreeMap<String, Vec<Option<String>>> {
    let mut by_key: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for (_, k, v) in contents(log) {
        by_key.entry(k).or_default().push(v);
    }
    by_key
}

#[test]
fn max_compaction_lag_rolls_and_compacts_whatever_the_dirty_ratio() {
    let config = cfg(&[
        ("cleanup.policy", "compact"),
        ("max.compaction.lag.ms", "1000"),
        ("min.cleanable.dirty.ratio", "0.99"),
    ]);
    let (_, log) = open(config);
    let shared = SharedLog::new(log);
    let t0 = 1_700_000_000_000;
    let append = |now: i64, key: &str, value: &str| {
        shared
            .append_as_leader(&record_batch(now, &[(key, Some(value))]), 0, now)
            .unwrap();
    };
    for i in 0..50 {
        append(t0, &format!("k{i}"), &format!("{i:0>200}"));
    }
    // A record more than max.compaction.lag.ms after the active segment's first one rolls it.
    append(t0 + 2_000, "k0", "k0-new");
    assert_eq!(
        shared.lock().segment_count(),
        2,
        "rolled by max.compaction.lag.ms"
    );
    append(t0 + 4_000, "filler", "f");
    clean(&shared, t0 + 4_000).unwrap();
    assert_eq!(latest_values(&mut shared.lock())["k0"].len(), 1);

    // A small dirty tail (well below the 0.99 ratio) is compacted once it is overdue.
    append(t0 + 6_000, "k1", "k1-new");
    append(t0 + 8_000, "filler2", "f");
    assert!(shared.lock().compaction_due(t0 + 8_000).unwrap());
    let stats = clean(&shared, t0 + 8_000).unwrap();
    assert!(stats.records_removed > 0, "{stats:?}");
    let values = latest_values(&mut shared.lock());
    assert_eq!(values["k1"], [Some("k1-new".to_string())]);
    assert_eq!(values.len(), 52);
}

#[test]
fn the_cleaner_map_is_bounded_by_the_dedupe_buffer_and_cleans_what_fits() {
    use kfk::log::cleaner::{clean_within, CleanerMemory};
    let config = cfg(&[
        ("cleanup.policy", "compact"),
        ("segment.bytes", "2000"),
        ("min.cleanable.dirty.ratio", "0.01"),
    ]);
    let (_, log) = open(config);
    let shared = SharedLog::new(log);
    let t0 = 1_700_000_000_000;
    for round in 0..3 {
        for i in 0..40 {
            shared
                .append_as_leader(
                    &record_batch(t0, &[(&format!("key-{i:03}"), Some(&format!("r{round}")))]),
                    0,
                    t0,
                )
                .unwrap();
        }
    }
    shared.lock().roll().unwrap();
    let segments = shared.lock().segment_count();
    assert!(segments > 4, "{segments}");
    // Room for 30 keys (24 bytes each at a 0.9 load factor): the first segments only.
    let small = CleanerMemory {
        dedupe_buffer_bytes: 30 * 24 * 10 / 9 + 1,
        io_buffer_bytes: 256,
    };
    let stats = clean_within(&shared, t0 + 1, small).unwrap();
    assert!(
        stats.segments_cleaned > 0 && stats.segments_cleaned < segments - 1,
        "cleaned only what the map covers: {stats:?}"
    );
    // With enough memory every key ends with its last value; nothing is lost on the way.
    let stats = clean_within(&shared, t0 + 2, CleanerMemory::default()).unwrap();
    assert!(stats.records_removed > 0, "{stats:?}");
    let values = latest_values(&mut shared.lock());
    assert_eq!(values.len(), 40);
    assert!(
        values.values().all(|v| v == &[Some("r2".to_string())]),
        "{values:?}"
    );
}

#[test]
fn idle_producers_expire_after_producer_id_expiration_ms() {
    let (_, mut log) = open(cfg(&[]));
    let t0 = 1_700_000_000_000;
    for (producer_id, ts) in [(7, t0), (8, t0 + 9_000)] {
        let mut b = BatchBuilder::new();
        b.producer_id = producer_id;
        b.producer_epoch = 0;
        b.base_sequence = 0;
        b.append(ts, Some(b"k"), Some(b"v"), &[]);
        log.append_as_leader(&b.build(Compression::None), 0, ts)
            .unwrap();
    }
    assert_eq!(log.producers().len(), 2);
    assert_eq!(log.remove_expired_producers(t0 + 10_000, 5_000), 1);
    assert!(
        log.producers().get(7).is_none(),
        "the idle producer is forgotten"
    );
    assert!(log.producers().get(8).is_some(), "the recent one is kept");
}
