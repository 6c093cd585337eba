//! Scale check of the group coordinator (run by `scripts/group-scale.sh`, which starts the
//! broker and samples its CPU and memory):
//!
//! 1. `heartbeat`: GROUPS groups of MEMBERS kfk consumers each (default 20 × 10 = 200) on
//!    their own topics stay in their groups for SECONDS (default 300), polling and
//!    heartbeating; every rebalance after the first is counted (there should be none).
//! 2. `leave`: a Stable group of N members (default 50); one member closes (LeaveGroup) and
//!    the time until the last remaining member has its new assignment (its SyncGroup
//!    answer) is printed.
//!
//! Usage: `group_scale <bootstrap> heartbeat [GROUPS MEMBERS SECONDS]` or
//! `group_scale <bootstrap> leave [N]`.

use kfk::client::consumer::{Consumer, RebalanceListener, Subscription, TopicPartition};
use kfk::client::Properties;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Recorder {
    rebalances: Arc<AtomicUsize>,
    assigned_at: Arc<Mutex<Vec<Instant>>>,
}

impl RebalanceListener for Recorder {
    fn on_partitions_assigned(&mut self, _partitions: &[TopicPartition]) {
        self.rebalances.fetch_add(1, Ordering::Relaxed);
        self.assigned_at.lock().unwrap().push(Instant::now());
    }
}

fn props(bootstrap: &str, group: &str) -> Properties {
    let mut p = Properties::default();
    p.set("bootstrap.servers", bootstrap);
    p.set("group.id", group);
    p.set("auto.offset.reset", "earliest");
    p
}

async fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    use kfk::protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
    use kfk::protocol::{ApiKey, RequestBody};
    let config = kfk::client::ClientConfig {
        client_id: "group-scale".into(),
        ..Default::default()
    };
    let conn = kfk::client::connection::Connection::connect(bootstrap, &config)
        .await
        .expect("connect");
    let request = RequestBody::CreateTopics(CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 10_000,
        ..Default::default()
    });
    conn.call(ApiKey::CreateTopics, request)
        .await
        .expect("create topic");
}

/// Starts a member that polls until `stop` is set; returns its task.
fn member(
    bootstrap: String,
    group: String,
    topic: String,
    rebalances: Arc<AtomicUsize>,
    assigned_at: Arc<Mutex<Vec<Instant>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut c = Consumer::new(&props(&bootstrap, &group))
            .await
            .expect("consumer");
        c.set_rebalance_listener(Box::new(Recorder {
            rebalances,
            assigned_at,
        }));
        c.subscribe(Subscription::Topics(vec![topic])).unwrap();
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = c.poll(Duration::from_millis(500)).await {
                eprintln!("poll failed: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let _ = c.close().await;
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bootstrap = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:9092".into());
    let mode = args.get(2).map(String::as_str).unwrap_or("heartbeat");
    let num = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    match mode {
        "heartbeat" => {
            let (groups, members, seconds) = (num(3, 20), num(4, 10), num(5, 300));
            let rebalances = Arc::new(AtomicUsize::new(0));
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut tasks = Vec::new();
            for g in 0..groups {
                let topic = format!("scale-{g}");
                create_topic(&bootstrap, &topic, members as i32).await;
                for _ in 0..members {
                    tasks.push(member(
                        bootstrap.clone(),
                        format!("scale-group-{g}"),
                        topic.clone(),
                        rebalances.clone(),
                        Arc::new(Mutex::new(Vec::new())),
                        stop.clone(),
                    ));
                }
            }
            let total = (groups * members) as usize;
            let start = Instant::now();
            // Settled: every member has had an assignment and none for 5 s.
            let (mut last, mut quiet_since) = (0, Instant::now());
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let now = rebalances.load(Ordering::Relaxed);
                if now != last {
                    (last, quiet_since) = (now, Instant::now());
                }
                if (now >= total && quiet_since.elapsed() > Duration::from_secs(5))
                    || start.elapsed() > Duration::from_secs(120)
                {
                    break;
                }
            }
            let settled = rebalances.load(Ordering::Relaxed);
            println!(
                "settled: {settled} assignments for {total} members in {:.1} s",
                start.elapsed().as_secs_f64()
            );
            println!("READY");
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            let after = rebalances.load(Ordering::Relaxed);
            println!(
                "after {seconds} s: {} further member assignments (0 means no rebalance)",
                after - settled
            );
            stop.store(true, Ordering::Relaxed);
            for t in tasks {
                let _ = t.await;
            }
        }
        "leave" => {
            let n = num(3, 50) as usize;
            let topic = "scale-leave".to_string();
            create_topic(&bootstrap, &topic, n as i32).await;
            let rebalances = Arc::new(AtomicUsize::new(0));
            let mut stops = Vec::new();
            let mut times = Vec::new();
            let mut tasks = Vec::new();
            for _ in 0..n {
                let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let at = Arc::new(Mutex::new(Vec::new()));
                tasks.push(member(
                    bootstrap.clone(),
                    "scale-leave-group".into(),
                    topic.clone(),
                    rebalances.clone(),
                    at.clone(),
                    stop.clone(),
                ));
                stops.push(stop);
                times.push(at);
            }
            // Stable: all members assigned in the same generation, then quiet for 5 s.
            let start = Instant::now();
            let mut quiet_since = Instant::now();
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let now = rebalances.load(Ordering::Relaxed);
                if now != last {
                    last = now;
                    quiet_since = Instant::now();
                }
                if now >= n && quiet_since.elapsed() > Duration::from_secs(5) {
                    break;
                }
                if start.elapsed() > Duration::from_secs(180) {
                    panic!("the group did not settle: {now} assignments");
                }
            }
            println!(
                "{n} members stable after {:.1} s",
                start.elapsed().as_secs_f64() - 5.0
            );
            // One member leaves, at a random point of the heartbeat cycle.
            let jitter = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos() as u64)
                % 3000;
            tokio::time::sleep(Duration::from_millis(jitter)).await;
            let t0 = Instant::now();
            stops[0].store(true, Ordering::Relaxed);
            let deadline = t0 + Duration::from_secs(60);
            let last_sync = loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let done: Vec<Instant> = times[1..]
                    .iter()
                    .filter_map(|t| t.lock().unwrap().iter().copied().find(|i| *i > t0))
                    .collect();
                if done.len() == n - 1 {
                    break done.into_iter().max().unwrap();
                }
                if Instant::now() > deadline {
                    panic!(
                        "only {} of {} members got a new assignment",
                        done.len(),
                        n - 1
                    );
                }
            };
            println!(
                "LeaveGroup -> last member's SyncGroup answer: {} ms (limit: heartbeat.interval.ms 3000 + 1000)",
                (last_sync - t0).as_millis()
            );
            for s in &stops {
                s.store(true, Ordering::Relaxed);
            }
            for t in tasks {
                let _ = t.await;
            }
        }
        other => eprintln!("unknown mode {other}: heartbeat or leave"),
    }
}
