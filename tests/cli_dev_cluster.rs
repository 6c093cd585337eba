//! `kfk dev cluster --nodes 3`, then the README's producer and consumer lines against it,
//! then Ctrl-C stops every node; what it prints (issue 25 item 13: its banner and warnings,
//! no colour codes, no Raft noise or ERROR lines), and a node that cannot start ending it at
//! once.

mod common;

use common::run_with_input;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A base port with base..base+2, base+100.. and base+200.. free.
fn free_base() -> u16 {
    for _ in 0..200 {
        let base = 20_000 + (std::process::id() as u16 % 1000) * 30 + (rand_u16() % 30);
        let ok = (0..3).all(|i| {
            [base + i, base + 100 + i, base + 200 + i]
                .iter()
                .all(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        });
        if ok {
            return base;
        }
    }
    panic!("no free ports for a dev cluster");
}

fn rand_u16() -> u16 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.subsec_nanos() % 65_521) as u16
}

#[test]
fn a_dev_cluster_serves_the_readme_lines_and_stops_on_ctrl_c() {
    let tmp = tempfile::tempdir().unwrap();
    let base = free_base();
    let mut cluster = Command::new(env!("CARGO_BIN_EXE_kfk"))
        .args([
            "dev",
            "cluster",
            "--nodes",
            "3",
            "--port",
            &base.to_string(),
            "--controller-port",
            &(base + 100).to_string(),
            "--override",
            "kfk.metrics.listener=",
            "--data-dir",
        ])
        .arg(tmp.path().join("c"))
        .env_remove("KFK_LOG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kfk dev cluster");
    let stdout = cluster.stdout.take().unwrap();
    let stderr = cluster.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let mut banner = Vec::new();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let bootstrap = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the dev cluster printed no bootstrap list within 60 s");
        banner.push(line.clone());
        if let Some(list) = line.strip_prefix("bootstrap servers: ") {
            break list.to_string();
        }
    };
    // The metrics listener is off: no URL for it.
    let rest = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    assert_eq!(rest, "stop with Ctrl-C", "{banner:?}");
    let servers: Vec<&str> = bootstrap.split(',').collect();
    assert_eq!(servers.len(), 3, "{bootstrap}");
    assert_eq!(servers[0], format!("127.0.0.1:{base}"));
    let kfk = Path::new(env!("CARGO_BIN_EXE_kfk"));
    // The README's lines: seq 1000 | kfk console-producer --broker-list ..., then a consumer
    // through another node.
    let input: String = (1..=1000).map(|i| format!("{i}\n")).collect();
    let (_, err, code) = run_with_input(
        kfk,
        &[
            "console-producer",
            "--broker-list",
            &format!("{},{}", servers[0], servers[1]),
            "--topic",
            "test",
        ],
        input.as_bytes(),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}");
    let (out, err, code) = run_with_input(
        kfk,
        &[
            "console-consumer",
            "--bootstrap-server",
            servers[2],
            "--topic",
            "test",
            "--from-beginning",
            "--timeout-ms",
            "3000",
        ],
        b"",
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}");
    let mut got: Vec<u32> = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    got.sort_unstable();
    assert_eq!(got, (1..=1000).collect::<Vec<u32>>());
    // Ctrl-C: every node stops (a controlled shutdown each), then the command exits.
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(cluster.id() as i32, libc::SIGINT) };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = cluster.try_wait().unwrap() {
            assert!(status.success(), "kfk dev cluster exited with {status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "kfk dev cluster did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for p in [base, base + 1, base + 2] {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", p)).is_err(),
            "a node still listens on {p}"
        );
    }
    // Its own lines and the nodes' start and stop lines; no start-up chatter, no Raft state
    // or unreachable-peer noise, no ERROR on a clean Ctrl-C, no colour codes in a pipe.
    let errors = errors.join().unwrap();
    assert!(errors.len() <= 12, "{errors:#?}");
    for l in &errors {
        assert!(
            !l.contains('\x1b')
                && !l.contains("ERROR")
                && !l.contains("openraft")
                && !l.contains("Raft"),
            "{errors:#?}"
        );
    }
}

/// A node that cannot start (its client port is taken) ends `kfk dev cluster` at once,
/// saying so, instead of a 60 s wait for a cluster that cannot form.
#[test]
fn a_dev_cluster_whose_node_cannot_start_says_so_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let base = free_base();
    let _taken = std::net::TcpListener::bind(("127.0.0.1", base)).unwrap();
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kfk"))
        .args([
            "dev",
            "cluster",
            "--nodes",
            "3",
            "--port",
            &base.to_string(),
            "--data-dir",
        ])
        .arg(tmp.path().join("c"))
        .env_remove("KFK_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.contains("cannot listen on 127.0.0.1:"), "{err}");
    assert!(err.contains("node 1 could not start"), "{err}");
}
