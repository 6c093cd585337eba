//! The producer under faults: back-pressure while the broker is paused (SIGSTOP), and an
//! idempotent producer whose connections a proxy keeps cutting mid-stream. Nothing
//! acknowledged may go missing, nothing may be duplicated, order must hold.

mod common;

use bytes::Bytes;
use common::{RawClient, TestBroker};
use kfk::client::producer::{Producer, ProducerRecord};
use kfk::client::{ClientError, Properties};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn props(pairs: &[(&str, &str)]) -> Properties {
    let mut p = Properties::default();
    for (k, v) in pairs {
        p.set(k, *v);
    }
    p
}

fn record(topic: &str, i: usize) -> ProducerRecord {
    ProducerRecord {
        topic: topic.into(),
        partition: Some(0),
        value: Some(Bytes::from(format!("r{i}"))),
        ..Default::default()
    }
}

fn values(broker: &TestBroker, topic: &str) -> Vec<String> {
    RawClient::connect(&broker.bootstrap())
        .fetch_all(topic, 0)
        .into_iter()
        .map(|(_, v)| String::from_utf8(v.unwrap().to_vec()).unwrap())
        .collect()
}

#[test]
fn a_full_buffer_blocks_then_fails_after_max_block_ms_and_loses_nothing_acknowledged() {
    let broker = TestBroker::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let b = broker.bootstrap();
        let producer = Producer::new(&props(&[
            ("bootstrap.servers", &b),
            ("buffer.memory", "4000"),
            ("max.block.ms", "1000"),
            ("linger.ms", "0"),
            ("batch.size", "500"),
        ]))
        .await
        .unwrap();
        let mut acked = Vec::new();
        for i in 0..50 {
            acked.push(producer.send(record("bp", i)).await.unwrap());
        }
        producer.flush().await;
        // SAFETY: pausing our own child process.
        unsafe { libc::kill(broker.pid(), libc::SIGSTOP) };
        let mut pending = Vec::new();
        let started = Instant::now();
        let mut i = 50;
        let err = loop {
            match producer.send(record("bp", i)).await {
                Ok(d) => pending.push(d),
                Err(e) => break e,
            }
            i += 1;
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "send never blocked"
            );
        };
        let blocked_for = started.elapsed();
        assert!(matches!(err, ClientError::Blocked(_)), "{err}");
        assert!(
            err.to_string().contains("max.block.ms") && err.to_string().contains("buffer.memory"),
            "a clear message: {err}"
        );
        assert!(
            blocked_for >= Duration::from_millis(1000),
            "blocked for {blocked_for:?}"
        );
        // SAFETY: resuming our own child process.
        unsafe { libc::kill(broker.pid(), libc::SIGCONT) };
        producer.flush().await;
        for d in acked.into_iter().chain(pending) {
            d.await
                .unwrap()
                .expect("every queued record is delivered after the broker resumes");
        }
        let expected: Vec<String> = (0..i).map(|n| format!("r{n}")).collect();
        assert_eq!(
            values(&broker, "bp"),
            expected,
            "all there, once each, in order"
        );
    });
}

/// A TCP proxy that cuts each connection after a growing number of client bytes.
fn cutting_proxy(
    listener: TcpListener,
    target: Arc<std::sync::Mutex<String>>,
    stop: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
) {
    listener.set_nonblocking(true).unwrap();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let Ok((client, _)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        client.set_nonblocking(false).unwrap();
        n += 1;
        let addr = target.lock().unwrap().clone();
        let Ok(server) = TcpStream::connect(&addr) else {
            continue;
        };
        // Each connection is cut after a budget of request bytes that grows with every new
        // connection, so the run makes progress but sees several cuts mid-request.
        let budget = 20_000 * n + (n * 7_919) % 5_000;
        let cuts = cuts.clone();
        relay(client, server, move |c_read, s_write| {
            let mut sent = 0usize;
            let mut buf = [0u8; 4096];
            while let Ok(k) = c_read.read(&mut buf) {
                if k == 0 {
                    break;
                }
                let k = k.min(budget - sent);
                if s_write.write_all(&buf[..k]).is_err() {
                    break;
                }
                sent += k;
                if sent >= budget {
                    cuts.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        });
    }
}

/// Joins `client` to `server`: `forward` passes the client's bytes on as it likes and
/// returns to cut the connection (both ends are shut down); the server's bytes go back
/// unchanged.
fn relay(
    client: TcpStream,
    server: TcpStream,
    forward: impl FnOnce(&mut TcpStream, &mut TcpStream) + Send + 'static,
) {
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (mut s_read, mut c_write) = (server, client);
    std::thread::spawn(move || {
        forward(&mut c_read, &mut s_write);
        let _ = s_write.shutdown(std::net::Shutdown::Both);
        let _ = c_read.shutdown(std::net::Shutdown::Both);
    });
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut s_read, &mut c_write);
        let _ = c_write.shutdown(std::net::Shutdown::Both);
    });
}

#[test]
fn an_idempotent_producer_keeps_order_and_writes_once_when_connections_drop() {
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let advertised = format!("advertised.listeners=PLAINTEXT://127.0.0.1:{proxy_port}");
    let broker = TestBroker::start_with(&["--override", &advertised]);
    let target = Arc::new(std::sync::Mutex::new(broker.bootstrap()));
    let stop = Arc::new(AtomicBool::new(false));
    let cuts = Arc::new(AtomicUsize::new(0));
    let proxy_thread = {
        let (target, stop, cuts) = (target.clone(), stop.clone(), cuts.clone());
        std::thread::spawn(move || cutting_proxy(proxy, target, stop, cuts))
    };
    let total = 20_000;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let bootstrap = format!("127.0.0.1:{proxy_port}");
        let producer = Producer::new(&props(&[
            ("bootstrap.servers", &bootstrap),
            ("linger.ms", "1"),
            ("batch.size", "2000"),
            ("request.timeout.ms", "3000"),
            ("retry.backoff.ms", "20"),
        ]))
        .await
        .unwrap();
        assert!(producer.producer_id() >= 0, "idempotence is on by default");
        let mut deliveries = Vec::new();
        for i in 0..total {
            deliveries.push(producer.send(record("chaos", i)).await.unwrap());
        }
        producer.flush().await;
        let mut last = -1i64;
        for d in deliveries {
            let meta = d.await.unwrap().expect("delivered despite the cuts");
            assert!(meta.offset > last, "offsets increase in send order");
            last = meta.offset;
        }
    });
    stop.store(true, Ordering::Relaxed);
    let _ = proxy_thread.join();
    assert!(
        cuts.load(Ordering::Relaxed) > 0,
        "the proxy must actually cut connections"
    );
    let expected: Vec<String> = (0..total).map(|n| format!("r{n}")).collect();
    assert_eq!(
        values(&broker, "chaos"),
        expected,
        "once each, in order ({} cuts)",
        cuts.load(Ordering::Relaxed)
    );
}

/// A TCP proxy to `target` that, on its first connection, drops the client's
/// `cut_at`-th request (1-based) and closes that connection without an answer; later
/// connections pass untouched until `stop` is set, which also closes every open one.
fn frame_cutting_proxy(
    listener: TcpListener,
    target: String,
    cut_at: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let mut open: Vec<TcpStream> = Vec::new();
        let mut first = true;
        while !stop.load(Ordering::Relaxed) {
            let Ok((client, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            client.set_nonblocking(false).unwrap();
            let server = TcpStream::connect(&target).unwrap();
            open.push(client.try_clone().unwrap());
            open.push(server.try_clone().unwrap());
            let cut_at = if first { cut_at } else { usize::MAX };
            first = false;
            relay(client, server, move |c_read, s_write| {
                // Forward whole frames (4-byte length, then the request) and count them.
                let mut n = 0;
                loop {
                    let mut len = [0u8; 4];
                    if c_read.read_exact(&mut len).is_err() {
                        break;
                    }
                    let mut frame = vec![0u8; i32::from_be_bytes(len) as usize];
                    if c_read.read_exact(&mut frame).is_err() {
                        break;
                    }
                    n += 1;
                    if n == cut_at {
                        break;
                    }
                    if s_write.write_all(&len).is_err() || s_write.write_all(&frame).is_err() {
                        break;
                    }
                }
            });
        }
        for s in open {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    })
}

/// The bug behind a failover failure of kfk's console producer: the first send to a topic
/// asked for metadata over a connection that had just been closed under it (a leader killed)
/// and gave up at once with "no metadata ... connection closed" instead of asking again
/// within `max.block.ms`.
#[test]
fn a_metadata_request_cut_off_mid_flight_is_asked_again_not_failed() {
    let broker = TestBroker::start();
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let bootstrap = proxy.local_addr().unwrap().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    // Request 1 of the bootstrap connection is ApiVersions, request 2 the first Metadata.
    let proxy_thread = frame_cutting_proxy(proxy, broker.bootstrap(), 2, stop.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let producer = Producer::new(&props(&[
            ("bootstrap.servers", &bootstrap),
            ("enable.idempotence", "false"),
            ("max.block.ms", "10000"),
        ]))
        .await
        .unwrap();
        let delivery = producer
            .send(record("cut-meta", 0))
            .await
            .expect("the metadata is asked for again, not given up on");
        producer.flush().await;
        delivery.await.unwrap().expect("delivered");
    });
    stop.store(true, Ordering::Relaxed);
    proxy_thread.join().unwrap();
    assert_eq!(values(&broker, "cut-meta"), vec!["r0"]);
}

/// When every bootstrap address is gone, metadata comes from the brokers the cluster named
/// (as the Java client, which bootstraps once and then asks the brokers it knows).
#[test]
fn metadata_comes_from_known_brokers_once_the_bootstrap_address_is_gone() {
    use kfk::client::cluster::Cluster;
    let broker = TestBroker::start();
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let bootstrap = proxy.local_addr().unwrap().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let proxy_thread = frame_cutting_proxy(proxy, broker.bootstrap(), usize::MAX, stop.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let config = props(&[
            ("bootstrap.servers", &bootstrap),
            ("kfk.bootstrap.timeout.ms", "1000"),
        ])
        .client_config("test")
        .unwrap();
        let cluster = Cluster::new(config);
        cluster
            .refresh(&[])
            .await
            .expect("bootstrapped through the proxy");
        assert_eq!(
            cluster.broker_ids(),
            vec![1],
            "the broker advertises itself"
        );
        // The bootstrap address goes away for good: its listener and connections close.
        stop.store(true, Ordering::Relaxed);
        proxy_thread.join().unwrap();
        let topic = cluster
            .wait_for_topic("known-brokers", true, Duration::from_secs(10))
            .await
            .expect("asked the broker the metadata named");
        assert_eq!(topic.partitions.len(), 1);
    });
}
