//! `cargo bench --bench log`: the partition log against the plain file system, in one run.
//! - append 1 KiB records in 16 KiB batches vs plain sequential `write()` of the same bytes
//!   (bar: >= 80%);
//! - read back from the page cache through `Log::read` + the file region vs a plain file
//!   read (bar: >= 80%);
//! - open a log dir holding 1,000 segments after a clean shutdown (bar: < 1 s, also under
//!   an open-files soft limit of 1024, set before the reopen).
//!
//! Files go to `target/kfk-bench` (the disk the project builds on) or `KFK_BENCH_DIR`.

use bytes::Bytes;
use kfk::log::manager::LogManager;
use kfk::log::{Log, LogConfig, LogFs, OpenOptions, OsFs};
use kfk::protocol::record_batch::BatchBuilder;
use kfk::protocol::Compression;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

const TOTAL_BYTES: usize = 512 << 20;
const BATCH_BYTES: usize = 16 << 10;

fn bench_dir() -> PathBuf {
    let dir = std::env::var("KFK_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/kfk-bench"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

fn batch_16k() -> Bytes {
    let value = vec![b'x'; 1000];
    let mut b = BatchBuilder::new();
    while b.estimated_size() + 1024 <= BATCH_BYTES {
        b.append(1_700_000_000_000, None, Some(&value), &[]);
    }
    b.build(Compression::None)
}

fn mb_per_s(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

fn main() {
    let dir = bench_dir();
    let batch = batch_16k();
    let batches = TOTAL_BYTES / batch.len();
    let bytes = batches * batch.len();

    // Plain sequential write() vs the log (validation, stamping, index entries), alternated
    // three times so page-cache writeback hits both alike; the best run of each counts.
    let plain = dir.join("plain.bin");
    let log_dir = dir.join("t-0");
    let (mut write_s, mut append_s) = (f64::MAX, f64::MAX);
    let mut log = None;
    for round in 0..3 {
        let _ = std::fs::remove_file(&plain);
        let start = Instant::now();
        {
            let mut f = std::fs::File::create(&plain).expect("create");
            for _ in 0..batches {
                f.write_all(&batch).expect("write");
            }
        }
        write_s = write_s.min(start.elapsed().as_secs_f64());
        drop(log.take());
        let _ = std::fs::remove_dir_all(&log_dir);
        let (mut l, _) = Log::open(
            Arc::new(OsFs) as Arc<dyn LogFs>,
            &log_dir,
            "t",
            0,
            LogConfig::default(),
            OpenOptions::default(),
        )
        .expect("open");
        let start = Instant::now();
        for _ in 0..batches {
            l.append_as_leader(&batch, 0, 1_700_000_000_000)
                .expect("append");
        }
        append_s = append_s.min(start.elapsed().as_secs_f64());
        log = Some(l);
        let _ = round;
    }
    let mut log = log.expect("log");
    println!(
        "append {} MiB in 16 KiB batches of 1 KiB records: log {:.0} MB/s, plain write() {:.0} MB/s, ratio {:.2}",
        bytes >> 20,
        mb_per_s(bytes, append_s),
        mb_per_s(bytes, write_s),
        write_s / append_s
    );

    // Reads from the page cache: plain 1 MiB reads vs Log::read regions of up to 1 MiB.
    let start = Instant::now();
    let mut f = std::fs::File::open(&plain).expect("open");
    let mut buf = vec![0u8; 1 << 20];
    let mut read_plain = 0;
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        read_plain += n;
    }
    let plain_read_s = start.elapsed().as_secs_f64();
    let leo = log.log_end_offset();
    let start = Instant::now();
    let (mut offset, mut read_log) = (0i64, 0usize);
    let records_per_batch = (leo / batches as i64).max(1);
    let mut data = Vec::new();
    while offset < leo {
        let region = log
            .read(offset, 1 << 20, leo, true)
            .expect("read")
            .expect("region");
        region.read_into(&mut data).expect("bytes");
        read_log += data.len();
        offset += (data.len() / batch.len()) as i64 * records_per_batch;
    }
    let log_read_s = start.elapsed().as_secs_f64();
    println!(
        "read back from page cache: log {:.0} MB/s, plain read() {:.0} MB/s, ratio {:.2}",
        mb_per_s(read_log, log_read_s),
        mb_per_s(read_plain, plain_read_s),
        plain_read_s / log_read_s
    );
    drop(log);

    // 1,000 segments, cleanly shut down, then reopened.
    let many = dir.join("many");
    let mut m = BTreeMap::new();
    m.insert("segment.bytes".to_string(), (BATCH_BYTES + 100).to_string());
    let config = LogConfig::from_map(&m).expect("config");
    {
        let cfg = config.clone();
        let (manager, _) =
            LogManager::open(Arc::new(OsFs), vec![many.clone()], &move |_| cfg.clone())
                .expect("manager");
        let log = manager
            .get_or_create("many", 0, config.clone(), "AAAAAAAAAAAAAAAAAAAAAA")
            .expect("log");
        for _ in 0..1000 {
            log.append_as_leader(&batch, 0, 1_700_000_000_000)
                .expect("append");
        }
        println!("segments written: {}", log.lock().segment_count());
        manager.shutdown().expect("shutdown");
    }
    lower_open_files_limit(1024);
    let cfg = config.clone();
    let start = Instant::now();
    let (manager, report) =
        LogManager::open(Arc::new(OsFs), vec![many.clone()], &move |_| cfg.clone())
            .expect("reopen");
    let open_s = start.elapsed().as_secs_f64();
    let segments = manager.get("many", 0).expect("log").lock().segment_count();
    println!(
        "open after clean shutdown: {segments} segments in {:.1} ms (clean: {}, open-files soft limit {})",
        open_s * 1000.0,
        report.clean_shutdown,
        soft_nofile()
    );
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}

/// Lowers the soft open-files limit, as `ulimit -n` would, for the reopen measurement.
fn lower_open_files_limit(soft: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = soft.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn soft_nofile() -> String {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .map(|l| l.split_whitespace().nth(3).unwrap_or("?").to_string())
        })
        .unwrap_or_else(|| "?".into())
}
