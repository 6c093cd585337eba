//! The consumer's group membership through the library: manual commits and resume,
//! cooperative-sticky rebalancing (only moved partitions are revoked), static membership
//! (a restarted member with the same `group.instance.id` rejoins without a rebalance), and
//! `max.poll.interval.ms` (a member that stops polling leaves the group).

mod common;

use common::{batch_of, RawClient, TestBroker};
use kfk::client::consumer::{Consumer, RebalanceListener, Subscription, TopicPartition};
use kfk::client::Properties;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Events {
    assigned: Vec<Vec<TopicPartition>>,
    revoked: Vec<Vec<TopicPartition>>,
}

struct Listener(Arc<Mutex<Events>>);

impl RebalanceListener for Listener {
    fn on_partitions_assigned(&mut self, p: &[TopicPartition]) {
        self.0.lock().unwrap().assigned.push(p.to_vec());
    }
    fn on_partitions_revoked(&mut self, p: &[TopicPartition]) {
        self.0.lock().unwrap().revoked.push(p.to_vec());
    }
}

fn props(broker: &TestBroker, group: &str, extra: &[(&str, &str)]) -> Properties {
    let mut p = Properties::default();
    p.set("bootstrap.servers", broker.bootstrap());
    p.set("group.id", group);
    p.set("auto.offset.reset", "earliest");
    p.set("session.timeout.ms", "6000");
    p.set("heartbeat.interval.ms", "500");
    for (k, v) in extra {
        p.set(k, *v);
    }
    p
}

fn topic_with(broker: &TestBroker, name: &str, partitions: i32, per_partition: usize) {
    let mut raw = RawClient::connect(&broker.bootstrap());
    assert_eq!(raw.create_topic(name, partitions, &[]), 0);
    for p in 0..partitions {
        let values: Vec<String> = (0..per_partition).map(|i| format!("p{p}-{i}")).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        if !refs.is_empty() {
            assert_eq!(raw.produce(name, p, batch_of(&refs, None)).0, 0);
        }
    }
}

async fn poll_until(c: &mut Consumer, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        for r in c.poll(Duration::from_millis(200)).await.unwrap() {
            out.push(String::from_utf8_lossy(&r.value.unwrap_or_default()).into_owned());
        }
    }
    out
}

#[test]
fn manual_commits_are_where_the_next_member_resumes() {
    let broker = TestBroker::start();
    topic_with(&broker, "manual", 2, 50);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let p = props(
            &broker,
            "mg",
            &[("enable.auto.commit", "false"), ("max.poll.records", "10")],
        );
        let mut c = Consumer::new(&p).await.unwrap();
        c.subscribe(Subscription::Topics(vec!["manual".into()]))
            .unwrap();
        let first = poll_until(&mut c, 30).await;
        assert!(first.len() >= 30);
        // Commit exactly 30 records' worth: the next offsets after what we handled.
        let mut next: std::collections::BTreeMap<TopicPartition, i64> = Default::default();
        for v in &first[..30] {
            let (p, i) = v[1..].split_once('-').unwrap();
            let tp = ("manual".to_string(), p.parse().unwrap());
            let o: i64 = i.parse::<i64>().unwrap() + 1;
            let e = next.entry(tp).or_insert(0);
            *e = (*e).max(o);
        }
        c.commit_sync(Some(next.clone().into_iter().collect()))
            .await
            .unwrap();
        let tps: Vec<TopicPartition> = next.keys().cloned().collect();
        let committed = c.committed(&tps).await.unwrap();
        for (tp, o) in &next {
            assert_eq!(committed[tp], *o);
        }
        c.close().await.unwrap();
        // No auto-commit happened at close: the next member starts from the manual commit.
        let mut d = Consumer::new(&p).await.unwrap();
        d.subscribe(Subscription::Topics(vec!["manual".into()]))
            .unwrap();
        let rest = poll_until(&mut d, 70).await;
        assert_eq!(rest.len(), 70, "exactly the records after the commit");
        let mut all: Vec<&String> = first[..30].iter().chain(rest.iter()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 100);
        // Async commit of the current position.
        let task = d.commit_async(None).await.unwrap();
        task.await.unwrap().unwrap();
        d.close().await.unwrap();
    });
}

#[test]
fn cooperative_sticky_revokes_only_the_partitions_that_move() {
    let broker = TestBroker::start();
    topic_with(&broker, "coop", 6, 0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let p = props(
            &broker,
            "cg",
            &[("partition.assignment.strategy", "cooperative-sticky")],
        );
        let ev1 = Arc::new(Mutex::new(Events::default()));
        let mut a = Consumer::new(&p).await.unwrap();
        a.set_rebalance_listener(Box::new(Listener(ev1.clone())));
        a.subscribe(Subscription::Topics(vec!["coop".into()]))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while a.assignment().len() < 6 && Instant::now() < deadline {
            a.poll(Duration::from_millis(100)).await.unwrap();
        }
        assert_eq!(a.assignment().len(), 6);
        let before: Vec<TopicPartition> = a.assignment().to_vec();
        let mut b = Consumer::new(&p).await.unwrap();
        let b_task = tokio::spawn(async move {
            b.subscribe(Subscription::Topics(vec!["coop".into()]))
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            while b.assignment().len() < 3 && Instant::now() < deadline {
                b.poll(Duration::from_millis(100)).await.unwrap();
            }
            b
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while (a.assignment().len() != 3 || !b_task.is_finished()) && Instant::now() < deadline {
            a.poll(Duration::from_millis(100)).await.unwrap();
        }
        let mut b = b_task.await.unwrap();
        assert_eq!(a.assignment().len(), 3);
        assert_eq!(b.assignment().len(), 3);
        let all_revoked = ev1.lock().unwrap().revoked.clone();
        let revoked: Vec<TopicPartition> = all_revoked.iter().flatten().cloned().collect();
        assert_eq!(
            revoked.len(),
            3,
            "only the moved partitions: {all_revoked:?}"
        );
        assert!(a.assignment().iter().all(|tp| before.contains(tp)));
        assert!(revoked.iter().all(|tp| b.assignment().contains(tp)));
        b.close().await.unwrap();
        a.close().await.unwrap();
    });
}

/// A consumer polling on its own task; its assignment and generation are published after
/// every poll, and polling can be paused.
struct Poller {
    state: Arc<Mutex<(Vec<TopicPartition>, i32)>>,
    pause: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Consumer>,
}

impl Poller {
    fn start(mut c: Consumer, topic: &str) -> Poller {
        c.subscribe(Subscription::Topics(vec![topic.into()]))
            .unwrap();
        let state = Arc::new(Mutex::new((Vec::new(), -1)));
        let (pause, stop) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (s, pa, st) = (state.clone(), pause.clone(), stop.clone());
        let task = tokio::spawn(async move {
            while !st.load(Ordering::Relaxed) {
                if pa.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                c.poll(Duration::from_millis(50)).await.unwrap();
                *s.lock().unwrap() = (c.assignment().to_vec(), c.group().unwrap().generation());
            }
            c
        });
        Poller {
            state,
            pause,
            stop,
            task,
        }
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.state.lock().unwrap().0.clone()
    }

    fn generation(&self) -> i32 {
        self.state.lock().unwrap().1
    }

    async fn stop(self) -> Consumer {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn a_static_member_rejoins_without_a_rebalance() {
    let broker = TestBroker::start();
    topic_with(&broker, "stat", 4, 0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let p1 = props(&broker, "sg", &[("group.instance.id", "one")]);
        let p2 = props(&broker, "sg", &[("group.instance.id", "two")]);
        let a = Poller::start(Consumer::new(&p1).await.unwrap(), "stat");
        let b = Poller::start(Consumer::new(&p2).await.unwrap(), "stat");
        wait_until("a stable split", || {
            a.assignment().len() == 2
                && b.assignment().len() == 2
                && a.generation() == b.generation()
        })
        .await;
        let generation = b.generation();
        let a_parts = a.assignment();
        // A static member's close sends no LeaveGroup; it comes back as the same instance.
        let mut old = a.stop().await;
        old.close().await.unwrap();
        drop(old);
        let a2 = Poller::start(Consumer::new(&p1).await.unwrap(), "stat");
        wait_until("the static member back", || !a2.assignment().is_empty()).await;
        assert_eq!(a2.assignment(), a_parts, "the same partitions come back");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            b.generation(),
            generation,
            "the other member saw no rebalance"
        );
        assert_eq!(a2.generation(), generation);
        b.stop().await.close().await.unwrap();
        a2.stop().await.close().await.unwrap();
    });
}

#[test]
fn a_member_that_stops_polling_leaves_after_max_poll_interval() {
    let broker = TestBroker::start();
    topic_with(&broker, "slow", 2, 0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let p = props(&broker, "pg", &[("max.poll.interval.ms", "2000")]);
        let a = Poller::start(Consumer::new(&p).await.unwrap(), "slow");
        let b = Poller::start(Consumer::new(&p).await.unwrap(), "slow");
        wait_until("a split", || {
            a.assignment().len() == 1 && b.assignment().len() == 1
        })
        .await;
        // `a` stops polling; `b` keeps going and ends up with both partitions.
        let paused = Instant::now();
        a.pause.store(true, Ordering::Relaxed);
        wait_until("b owning both", || b.assignment().len() == 2).await;
        assert!(
            paused.elapsed() >= Duration::from_millis(1500),
            "removed too early"
        );
        // When `a` polls again it rejoins (its partitions were lost, not revoked).
        a.pause.store(false, Ordering::Relaxed);
        wait_until("a split again", || {
            a.assignment().len() == 1 && b.assignment().len() == 1
        })
        .await;
        a.stop().await.close().await.unwrap();
        b.stop().await.close().await.unwrap();
    });
}
