//! Hostile clients: random and mutated frames, frames that lie about their length, 1,000
//! connections that each declare a 100 MiB frame and stall, a topic named `../../x`. The
//! broker stays up, its RSS grows by less than 64 MiB, no file appears outside the data
//! directory, and a well-behaved client on another connection keeps working throughout.

mod common;

use common::{batch_of, raise_fd_limit, RawClient, TestBroker};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "bin"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    out.sort();
    out
}

/// Sends `frame` on a new connection and gives the broker a moment to answer or close.
fn send_once(addr: &str, frame: &[u8]) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(30)));
    let _ = s.write_all(frame);
    let mut buf = [0u8; 4096];
    let _ = s.read(&mut buf);
}

#[test]
fn hostile_clients_cannot_hurt_the_broker_or_its_other_clients() {
    raise_fd_limit();
    let mut broker = TestBroker::start();
    let addr = broker.bootstrap();
    let mut setup = RawClient::connect(&addr);
    assert_eq!(setup.create_topic("good", 1, &[]), 0);
    std::thread::sleep(Duration::from_millis(200));
    let rss_before = broker.rss_kib();

    // A well-behaved client keeps producing and reading back the whole time.
    let stop = Arc::new(AtomicBool::new(false));
    let good_ops = Arc::new(AtomicUsize::new(0));
    let good = {
        let (stop, good_ops, addr) = (stop.clone(), good_ops.clone(), addr.clone());
        std::thread::spawn(move || {
            let mut c = RawClient::connect(&addr);
            let mut n = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let (code, offset) = c.produce("good", 0, batch_of(&["fine"], None));
                assert_eq!((code, offset), (0, n), "the good client's produce failed");
                n += 1;
                good_ops.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
            n
        })
    };

    // 1,000 random and mutated frames.
    let seeds = seeds();
    let mut rng = Rng(0x00c0_ffee);
    for i in 0..1000 {
        let mut f = if i % 3 == 0 {
            let n = rng.below(200) + 8;
            let mut f: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            f[0..4].copy_from_slice(&((n - 4) as u32).to_be_bytes());
            f
        } else {
            let mut f = seeds[rng.below(seeds.len())].clone();
            for _ in 0..1 + rng.below(4) {
                let at = 4 + rng.below(f.len() - 4);
                f[at] = rng.next() as u8;
            }
            f
        };
        if i % 10 == 0 {
            // Lying lengths: claims more than it sends, or less.
            let claim = if i % 20 == 0 { f.len() as u32 * 50 } else { 3 };
            f[0..4].copy_from_slice(&claim.to_be_bytes());
        }
        send_once(&addr, &f);
    }
    // Oversized declaration: refused at once.
    send_once(&addr, &(200u32 << 20).to_be_bytes());

    // 1,000 connections each declaring a 100 MiB frame and stalling after a few bytes.
    let mut stalled = Vec::new();
    for _ in 0..1000 {
        if let Ok(mut s) = TcpStream::connect(&addr) {
            let _ = s.write_all(&(100u32 << 20).to_be_bytes());
            let _ = s.write_all(&[0, 3, 0, 1, 0, 0, 0, 9]);
            stalled.push(s);
        }
    }
    assert!(
        stalled.len() >= 900,
        "only {} stalled connections opened",
        stalled.len()
    );
    std::thread::sleep(Duration::from_millis(500));
    let rss_stalled = broker.rss_kib();

    // A topic name that tries to leave the data directory.
    let code = setup.create_topic("../../x", 1, &[]);
    assert_eq!(code, 17, "INVALID_TOPIC_EXCEPTION");
    let (code, _) = setup.produce("../../x", 0, batch_of(&["escape"], None));
    assert_eq!(
        code, 3,
        "UNKNOWN_TOPIC_OR_PARTITION: no such topic can exist"
    );
    let mut meta = RawClient::connect(&addr);
    let body = kfk::protocol::RequestBody::Metadata(
        kfk::protocol::messages::metadata_request::MetadataRequest {
            topics: Some(vec![
                kfk::protocol::messages::metadata_request::MetadataRequestTopic {
                    name: Some("../../x".into()),
                    ..Default::default()
                },
            ]),
            allow_auto_topic_creation: true,
            ..Default::default()
        },
    );
    let kfk::protocol::ResponseBody::Metadata(r) =
        meta.call(kfk::protocol::ApiKey::Metadata, 12, body)
    else {
        panic!()
    };
    assert_eq!(
        r.topics[0].error_code, 17,
        "auto-creation refuses the name too"
    );

    drop(stalled);
    stop.store(true, Ordering::Relaxed);
    let produced = good.join().expect("the good client kept working");
    assert!(produced > 10 && good_ops.load(Ordering::Relaxed) as i64 == produced);
    assert!(broker.is_alive(), "the broker is still running");
    let rss_after = broker.rss_kib();
    println!("RSS KiB: before {rss_before}, with 1,000 stalled 100 MiB frames {rss_stalled}, after {rss_after}; good client ops {produced}");
    assert!(
        rss_stalled.max(rss_after) < rss_before + 64 * 1024,
        "RSS grew from {rss_before} to {} KiB",
        rss_stalled.max(rss_after)
    );
    let outside = broker.dir.parent().unwrap();
    let stray: Vec<_> = std::fs::read_dir(outside)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "data")
        .collect();
    assert!(stray.is_empty(), "files outside the data dir: {stray:?}");
    assert!(!broker.dir.join("x").exists() && !std::path::Path::new("/x-0").exists());
    broker.stop();
}
