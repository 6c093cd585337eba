//! `kfk dump-log` prints segments and indexes in kafka-dump-log's line format.

use kfk::log::{Log, LogConfig, LogFs, OpenOptions, OsFs};
use kfk::protocol::record_batch::BatchBuilder;
use kfk::protocol::Compression;
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

fn kfk(args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_kfk"))
        .args(args)
        .output()
        .expect("run kfk");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn dump_log_prints_batches_records_and_index_entries_like_kafka() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("orders-0");
    let mut m = BTreeMap::new();
    m.insert("index.interval.bytes".to_string(), "0".to_string());
    m.insert(
        "message.timestamp.before.max.ms".to_string(),
        i64::MAX.to_string(),
    );
    let (mut log, _) = Log::open(
        Arc::new(OsFs) as Arc<dyn LogFs>,
        &part,
        "orders",
        0,
        LogConfig::from_map(&m).unwrap(),
        OpenOptions::default(),
    )
    .unwrap();
    let mut b = BatchBuilder::new();
    b.append(
        1_700_000_000_000,
        Some(b"k1"),
        Some(b"hello"),
        &[("h1", Some(b"x"))],
    );
    b.append(1_700_000_000_001, None, Some(b"world"), &[]);
    log.append_as_leader(&b.build(Compression::Gzip), 5, 1_700_000_000_002)
        .unwrap();
    let mut b = BatchBuilder::new();
    b.append(1_700_000_000_003, Some(b"k2"), None, &[]);
    log.append_as_leader(&b.build(Compression::None), 5, 1_700_000_000_004)
        .unwrap();
    log.close().unwrap();
    let seg = part.join("00000000000000000000.log");

    let (out, _, code) = kfk(&["dump-log", "--files", seg.to_str().unwrap()]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("Dumping {}", seg.display()));
    assert_eq!(lines[1], "Log starting offset: 0");
    assert!(lines[2].starts_with("baseOffset: 0 lastOffset: 1 count: 2 baseSequence: -1 lastSequence: -1 producerId: -1 producerEpoch: -1 partitionLeaderEpoch: 5 isTransactional: false isControl: false deleteHorizonMs: OptionalLong.empty position: 0 CreateTime: 1700000000001 size: "), "{}", lines[2]);
    assert!(
        lines[2].contains(" magic: 2 compresscodec: gzip crc: ")
            && lines[2].ends_with(" isvalid: true"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with("baseOffset: 2 lastOffset: 2 count: 1 "),
        "{}",
        lines[3]
    );

    let (out, _, _) = kfk(&[
        "dump-log",
        "--files",
        seg.to_str().unwrap(),
        "--print-data-log",
    ]);
    assert!(out.contains("| offset: 0 CreateTime: 1700000000000 keySize: 2 valueSize: 5 sequence: -1 headerKeys: [h1] key: k1 payload: hello"), "{out}");
    assert!(out.contains("| offset: 1 CreateTime: 1700000000001 keySize: -1 valueSize: 5 sequence: -1 headerKeys: [] payload: world"), "{out}");
    assert!(out.contains("| offset: 2 CreateTime: 1700000000003 keySize: 2 valueSize: -1 sequence: -1 headerKeys: [] key: k2 payload: "), "{out}");

    let index = part.join("00000000000000000000.index");
    let time_index = part.join("00000000000000000000.timeindex");
    let (out, _, _) = kfk(&[
        "dump-log",
        "--files",
        &format!("{},{}", index.display(), time_index.display()),
        "--index-sanity-check",
    ]);
    assert!(out.contains("offset: 1 position: 0"), "{out}");
    assert!(out.contains("timestamp: 1700000000001 offset: 1"), "{out}");
    assert!(!out.contains("mismatch"), "{out}");
}

#[test]
fn dump_log_refuses_bad_input_with_one_line_and_a_non_zero_exit() {
    let (_, err, code) = kfk(&[
        "dump-log",
        "--files",
        "/nonexistent/00000000000000000000.log",
    ]);
    assert_eq!(code, 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("cannot read /nonexistent"), "{err}");
    let (_, err, code) = kfk(&["dump-log"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--files"));
}
