//! Model-based test of the partition log: random batches (sizes, keys, timestamps) appended
//! with small segments and indexes so rolls of every kind happen, reopened now and then;
//! every read and offset/time lookup is checked against an in-memory model.

use bytes::Bytes;
use kfk::log::{Log, LogConfig, OpenOptions, SimulatedFs};
use kfk::protocol::record_batch::{decode_records, verify_crc, BatchBuilder, BatchIter};
use kfk::protocol::{Compression, ErrorCode};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Debug, Clone, PartialEq)]
struct ModelRecord {
    offset: i64,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

fn config(rng: &mut Rng) -> LogConfig {
    let mut m = BTreeMap::new();
    m.insert(
        "segment.bytes".to_string(),
        (1500 + rng.below(20_000)).to_string(),
    );
    m.insert(
        "index.interval.bytes".to_string(),
        (rng.below(1200)).to_string(),
    );
    m.insert(
        "segment.index.bytes".to_string(),
        (40 + rng.below(400)).to_string(),
    );
    m.insert(
        "segment.ms".to_string(),
        (50_000 + rng.below(200_000)).to_string(),
    );
    m.insert(
        "message.timestamp.after.max.ms".to_string(),
        i64::MAX.to_string(),
    );
    LogConfig::from_map(&m).unwrap()
}

/// `(timestamp, key, value)` of a record as sent.
type SentRecord = (i64, Option<Bytes>, Option<Bytes>);

fn random_batch(rng: &mut Rng, clock: &mut i64) -> (Bytes, Vec<SentRecord>) {
    let mut b = BatchBuilder::new();
    let mut recs = Vec::new();
    for _ in 0..1 + rng.below(8) {
        *clock += rng.below(3000) as i64;
        let ts = *clock - rng.below(500) as i64; // some out-of-order timestamps
        let key = (rng.below(4) != 0).then(|| Bytes::from(format!("k{}", rng.below(50))));
        let value = (rng.below(10) != 0).then(|| Bytes::from(vec![b'v'; rng.below(300) as usize]));
        b.append(ts, key.as_deref(), value.as_deref(), &[]);
        recs.push((ts, key, value));
    }
    let codec = [
        Compression::None,
        Compression::None,
        Compression::Lz4,
        Compression::Gzip,
    ][rng.below(4) as usize];
    (b.build(codec), recs)
}

fn read_all_records(region_bytes: &Bytes) -> Vec<ModelRecord> {
    let mut out = Vec::new();
    let mut iter = BatchIter::new(region_bytes.clone());
    for (_, batch) in iter.by_ref() {
        verify_crc(&batch).expect("no corrupt batch is ever returned");
        for r in decode_records(&batch, 1 << 24).unwrap() {
            out.push(ModelRecord {
                offset: r.offset,
                timestamp: r.timestamp,
                key: r.key,
                value: r.value,
            });
        }
    }
    assert!(!iter.partial_tail(), "reads return whole batches");
    out
}

fn check_reads(log: &mut Log, model: &[ModelRecord], batch_starts: &[i64], rng: &mut Rng) {
    let leo = log.log_end_offset();
    assert_eq!(leo, model.len() as i64);
    for _ in 0..20 {
        let offset = rng.below(leo as u64 + 1) as i64;
        let max_bytes = 1 + rng.below(4000);
        let region = log.read(offset, max_bytes, leo, true).unwrap();
        if offset == leo {
            assert!(region.is_none());
            continue;
        }
        let region = region.expect("data below the log end");
        let bytes = region.read_bytes().unwrap();
        let got = read_all_records(&bytes);
        // The first batch is the one holding `offset`.
        let batch_start = *batch_starts.iter().rev().find(|&&s| s <= offset).unwrap();
        assert_eq!(
            got[0].offset, batch_start,
            "read({offset}) must start at its batch"
        );
        let expected = &model[batch_start as usize..batch_start as usize + got.len()];
        assert_eq!(got, expected);
        assert!(
            bytes.len() as u64 <= max_bytes
                || got.last().map(|r| r.offset)
                    < batch_starts
                        .iter()
                        .find(|&&s| s > offset)
                        .copied()
                        .or(Some(leo)),
            "only a single batch may exceed max_bytes"
        );
        // Bounded by an upper offset: nothing at or past it.
        let upper = offset + 1 + rng.below(20) as i64;
        if let Some(r) = log.read(offset, 1 << 20, upper, true).unwrap() {
            let recs = read_all_records(&r.read_bytes().unwrap());
            let last_batch_end = recs.last().unwrap().offset;
            assert!(
                last_batch_end
                    < upper.max(
                        batch_starts
                            .iter()
                            .find(|&&s| s > offset)
                            .copied()
                            .unwrap_or(leo)
                    ),
                "upper bound respected"
            );
        }
    }
    assert_eq!(
        log.read(leo + 1, 100, leo, true).unwrap_err(),
        ErrorCode::OFFSET_OUT_OF_RANGE
    );
    assert_eq!(
        log.read(-1, 100, leo, true).unwrap_err(),
        ErrorCode::OFFSET_OUT_OF_RANGE
    );
    for _ in 0..10 {
        let target = model.first().map_or(0, |r| r.timestamp) - 1000
            + rng.below(model.len() as u64 * 3000 + 3000) as i64;
        let expected = model
            .iter()
            .find(|r| r.timestamp >= target)
            .map(|r| (r.offset, r.timestamp));
        assert_eq!(
            log.offset_for_timestamp(target).unwrap(),
            expected,
            "offset for timestamp {target}"
        );
    }
    let max_ts = model.iter().map(|r| r.timestamp).max();
    let expected_max = max_ts
        .and_then(|m| model.iter().find(|r| r.timestamp == m))
        .map(|r| (r.offset, r.timestamp));
    assert_eq!(log.offset_of_max_timestamp().unwrap(), expected_max);
}

#[test]
fn random_appends_reads_and_lookups_match_the_model() {
    for seed in 1..=6u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let fs = SimulatedFs::new();
        let dir = Path::new("/data/t-0");
        let cfg = config(&mut rng);
        let (mut log, _) = Log::open(
            fs.clone() as Arc<dyn kfk::log::LogFs>,
            dir,
            "t",
            0,
            cfg.clone(),
            OpenOptions::default(),
        )
        .unwrap();
        let mut model: Vec<ModelRecord> = Vec::new();
        let mut batch_starts = Vec::new();
        let mut clock = 1_700_000_000_000i64;
        for step in 0..400 {
            let (batch, recs) = random_batch(&mut rng, &mut clock);
            let info = log.append_as_leader(&batch, 3, clock).unwrap();
            assert_eq!(
                info.base_offset,
                model.len() as i64,
                "offsets continue without gaps"
            );
            batch_starts.push(info.base_offset);
            for (i, (ts, key, value)) in recs.into_iter().enumerate() {
                model.push(ModelRecord {
                    offset: info.base_offset + i as i64,
                    timestamp: ts,
                    key,
                    value,
                });
            }
            assert_eq!(info.last_offset, model.len() as i64 - 1);
            if step % 50 == 49 {
                check_reads(&mut log, &model, &batch_starts, &mut rng);
            }
            if step % 97 == 96 {
                let clean = rng.below(2) == 0;
                if clean {
                    log.close().unwrap();
                }
                drop(log);
                let options = OpenOptions {
                    clean_shutdown: clean,
                    recovery_point: 0,
                    log_start_offset: 0,
                };
                log = Log::open(fs.clone(), dir, "t", 0, cfg.clone(), options)
                    .unwrap()
                    .0;
                assert_eq!(
                    log.log_end_offset(),
                    model.len() as i64,
                    "seed {seed}: reopen keeps every batch"
                );
            }
        }
        assert!(
            log.segment_count() > 3,
            "seed {seed}: the test must roll segments ({})",
            log.segment_count()
        );
        check_reads(&mut log, &model, &batch_starts, &mut rng);
        assert_eq!(log.leader_epochs().entries(), &[(3, 0)]);
    }
}
