//! Process death loses nothing: a child process appends under each flush policy, printing
//! each acknowledged offset; the parent kills it with SIGKILL mid-stream, reopens the log as
//! after an unclean stop, and checks that every acknowledged record is there (the page cache
//! survives the process). A plain `main` (harness = false): the same binary is the child
//! when `KFK_KILL_CHILD_DIR` is set.

use bytes::Bytes;
use kfk::log::{Log, LogConfig, LogFs, OpenOptions, OsFs, SharedLog};
use kfk::protocol::record_batch::{decode_records, BatchBuilder, BatchIter};
use kfk::protocol::Compression;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

const POLICIES: [(&str, &[(&str, &str)]); 3] = [
    ("default (page cache)", &[]),
    ("flush.messages=1", &[("flush.messages", "1")]),
    ("flush.ms=5", &[("flush.ms", "5")]),
];

fn config(policy: usize) -> LogConfig {
    let mut m: BTreeMap<String, String> = POLICIES[policy]
        .1
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    m.insert("segment.bytes".into(), "65536".into());
    LogConfig::from_map(&m).unwrap()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn open(dir: &Path, policy: usize) -> Log {
    let options = OpenOptions {
        clean_shutdown: false,
        recovery_point: 0,
        log_start_offset: 0,
    };
    Log::open(
        Arc::new(OsFs) as Arc<dyn LogFs>,
        dir,
        "t",
        0,
        config(policy),
        options,
    )
    .unwrap()
    .0
}

fn child(dir: &str, policy: usize) {
    let log = SharedLog::new(open(Path::new(dir), policy));
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let mut b = BatchBuilder::new();
        for j in 0..4 {
            b.append(
                now_ms(),
                None,
                Some(format!("v{}", i * 4 + j).as_bytes()),
                &[],
            );
        }
        let info = log
            .append_as_leader(&b.build(Compression::None), 0, now_ms())
            .unwrap();
        writeln!(out, "ack {}", info.last_offset).unwrap();
        out.flush().unwrap();
    }
}

fn parent(policy: usize) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .env("KFK_KILL_CHILD_DIR", dir.path())
        .env("KFK_KILL_POLICY", policy.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut last_acked = -1i64;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        last_acked = line
            .trim_start_matches("ack ")
            .parse()
            .map_err(|_| format!("bad line {line:?}"))?;
        if last_acked >= 3999 {
            child.kill().map_err(|e| e.to_string())?; // SIGKILL
            break;
        }
    }
    let _ = child.wait();
    let mut log = open(dir.path(), policy);
    let leo = log.log_end_offset();
    if leo <= last_acked {
        return Err(format!(
            "{}: log end {leo} but offset {last_acked} was acknowledged",
            POLICIES[policy].0
        ));
    }
    let mut offset = 0;
    while offset <= last_acked {
        let region = log
            .read(offset, 1 << 20, leo, true)
            .map_err(|e| e.to_string())?
            .ok_or("missing data")?;
        for (_, batch) in BatchIter::new(region.read_bytes().map_err(|e| e.to_string())?) {
            for r in decode_records(&batch, 1 << 20).map_err(|e| e.to_string())? {
                let value: Bytes = r.value.ok_or("null value")?;
                if value != format!("v{}", r.offset).as_bytes() {
                    return Err(format!("offset {} holds {value:?}", r.offset));
                }
                offset = r.offset + 1;
            }
        }
    }
    println!(
        "{}: killed after offset {last_acked} was acknowledged; {leo} records recovered",
        POLICIES[policy].0
    );
    Ok(())
}

fn main() {
    if let Ok(dir) = std::env::var("KFK_KILL_CHILD_DIR") {
        let policy = std::env::var("KFK_KILL_POLICY")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        child(&dir, policy);
        return;
    }
    let mut failed = 0;
    for (policy, (name, _)) in POLICIES.iter().enumerate() {
        if let Err(e) = parent(policy) {
            eprintln!("FAILED sigkill_loses_nothing_acknowledged [{name}]: {e}");
            failed += 1;
        }
    }
    println!("{} passed, {failed} failed", POLICIES.len() - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}
