//! Consumer groups end to end: `kfk console-consumer --group` processes sharing a topic,
//! rebalancing when one joins and when one is killed; kfk, librdkafka (kcat -G) and
//! kafka-python in one group; resuming from committed offsets across consumer and broker
//! restarts; `kfk consumer-groups` describe, reset, delete.

mod common;

use common::{require_python_module, require_tool, run_with_input, RawClient, TestBroker};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn kfk() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_kfk"))
}

/// A consumer process whose stdout lines are collected.
struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn spawn(program: &Path, args: &[&str]) -> Running {
        let mut child = Command::new(program)
            .args(args)
            .env_remove("LD_LIBRARY_PATH")
            .env("KFK_LOG", "kfk=info")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let sink = lines.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(l);
            }
        });
        let sink = errors.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(l);
            }
        });
        Running {
            child,
            lines,
            errors,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn terminate(&mut self) -> i32 {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().expect("wait");
        status.code().unwrap_or(-1)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn group_consumer(broker: &TestBroker, topic: &str, group: &str) -> Running {
    let b = broker.bootstrap();
    Running::spawn(
        kfk(),
        &[
            "console-consumer",
            "--bootstrap-server",
            &b,
            "--topic",
            topic,
            "--group",
            group,
            "--from-beginning",
            "--consumer-property",
            "session.timeout.ms=6000",
            "--consumer-property",
            "heartbeat.interval.ms=1000",
            "--consumer-property",
            "auto.commit.interval.ms=1000",
        ],
    )
}

fn consumer_groups(broker: &TestBroker, args: &[&str]) -> (String, String, i32) {
    let b = broker.bootstrap();
    let mut all = vec!["consumer-groups", "--bootstrap-server", &b];
    all.extend_from_slice(args);
    let (out, err, code) = run_with_input(kfk(), &all, b"", Duration::from_secs(60));
    (String::from_utf8_lossy(&out).into_owned(), err, code)
}

/// `(client id, partitions)` of each member, or `None` while the group is rebalancing.
fn members(broker: &TestBroker, group: &str) -> Option<Vec<(String, Vec<i32>)>> {
    let (out, _, code) = consumer_groups(
        broker,
        &["--describe", "--group", group, "--members", "--verbose"],
    );
    if code != 0 || out.contains("rebalancing") || out.contains("no active members") {
        return None;
    }
    let mut v = Vec::new();
    for line in out.lines().skip_while(|l| !l.starts_with("GROUP")).skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 7 {
            continue;
        }
        let assignment = cols[cols.len() - 1];
        let parts: Vec<i32> = if assignment == "-" {
            Vec::new()
        } else {
            assignment
                .split(['(', ')', ','])
                .filter_map(|x| x.parse().ok())
                .collect()
        };
        v.push((cols[4].to_string(), parts));
    }
    Some(v)
}

/// Waits until the group is stable with `n` members splitting `partitions` without overlap,
/// each owning at most `max_each`.
fn wait_for_split(
    broker: &TestBroker,
    group: &str,
    n: usize,
    partitions: i32,
    max_each: usize,
) -> Vec<(String, Vec<i32>)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    while Instant::now() < deadline {
        if let Some(m) = members(broker, group) {
            let mut all: Vec<i32> = m.iter().flat_map(|(_, p)| p.clone()).collect();
            all.sort_unstable();
            if m.len() == n
                && all == (0..partitions).collect::<Vec<_>>()
                && m.iter().all(|(_, p)| p.len() <= max_each)
            {
                return m;
            }
            last = Some(m);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("group {group} never split {partitions} partitions over {n} members: {last:?}");
}

fn produce_keyed(broker: &TestBroker, topic: &str, range: std::ops::RangeInclusive<u32>) {
    let input: String = range.map(|i| format!("k{i}:v{i}\n")).collect();
    let b = broker.bootstrap();
    let (_, err, code) = run_with_input(
        kfk(),
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            topic,
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ],
        input.as_bytes(),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}");
}

/// Waits until the consumers together printed every value of `expected`.
fn wait_for_all(consumers: &[&Running], expected: &HashSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen: HashSet<String> = consumers.iter().flat_map(|c| c.lines()).collect();
        let missing = expected.difference(&seen).count();
        if missing == 0 {
            return;
        }
        if Instant::now() > deadline {
            let errs: Vec<String> = consumers
                .iter()
                .flat_map(|c| c.errors.lock().unwrap().clone())
                .collect();
            panic!("{missing} records never consumed; consumer logs: {errs:#?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn values(range: std::ops::RangeInclusive<u32>) -> HashSet<String> {
    range.map(|i| format!("v{i}")).collect()
}

#[test]
fn console_consumers_share_partitions_rebalance_on_join_and_after_kill9() {
    let broker = TestBroker::start();
    let mut raw = RawClient::connect(&broker.bootstrap());
    assert_eq!(raw.create_topic("g6", 6, &[]), 0);

    let mut consumers: Vec<Running> = (0..3).map(|_| group_consumer(&broker, "g6", "g")).collect();
    let split = wait_for_split(&broker, "g", 3, 6, 2);
    assert!(split.iter().all(|(_, p)| p.len() == 2), "{split:?}");
    produce_keyed(&broker, "g6", 1..=3000);
    let refs: Vec<&Running> = consumers.iter().collect();
    wait_for_all(&refs, &values(1..=3000));

    // A fourth member: the partitions are divided again (range: 2, 2, 1, 1).
    consumers.push(group_consumer(&broker, "g6", "g"));
    let split = wait_for_split(&broker, "g", 4, 6, 2);
    assert!(split.iter().all(|(_, p)| !p.is_empty()), "{split:?}");
    produce_keyed(&broker, "g6", 3001..=6000);
    let refs: Vec<&Running> = consumers.iter().collect();
    wait_for_all(&refs, &values(1..=6000));

    // kill -9 one member: after the session timeout (6 s here) its partitions move.
    let killed_at = Instant::now();
    let mut victim = consumers.remove(0);
    victim.child.kill().unwrap();
    victim.child.wait().unwrap();
    produce_keyed(&broker, "g6", 6001..=9000);
    wait_for_split(&broker, "g", 3, 6, 2);
    assert!(
        killed_at.elapsed() >= Duration::from_secs(4),
        "the dead member was removed before its session could expire"
    );
    let refs: Vec<&Running> = consumers.iter().collect();
    wait_for_all(&refs[..], &values(6001..=9000));

    // At least once overall; duplicates only of what the killed member had not committed.
    let victim_lines: HashSet<String> = victim.lines().into_iter().collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for line in consumers
        .iter()
        .flat_map(|c| c.lines())
        .chain(victim.lines())
    {
        *counts.entry(line).or_default() += 1;
    }
    for v in values(1..=9000) {
        assert!(counts.contains_key(&v), "{v} never consumed");
    }
    let dups: Vec<&String> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(v, _)| v)
        .collect();
    assert!(
        dups.iter().all(|v| victim_lines.contains(*v)),
        "duplicates that the killed member never saw: {:?}",
        dups.iter()
            .filter(|v| !victim_lines.contains(**v))
            .take(5)
            .collect::<Vec<_>>()
    );
    for mut c in consumers {
        assert_eq!(c.terminate(), 0, "{:?}", c.errors.lock().unwrap());
        assert!(c
            .errors
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("Processed a total of")));
    }
}

#[test]
fn kfk_kcat_and_kafka_python_share_one_group_without_overlap() {
    let test = "kfk_kcat_and_kafka_python_share_one_group_without_overlap";
    let Some(kcat) = require_tool(test, "kcat") else {
        return;
    };
    if !require_python_module(test, "kafka") {
        return;
    }
    let broker = TestBroker::start();
    let mut raw = RawClient::connect(&broker.bootstrap());
    assert_eq!(raw.create_topic("mixed", 6, &[]), 0);
    let b = broker.bootstrap();
    let ours = group_consumer(&broker, "mixed", "mx");
    let theirs = Running::spawn(
        &kcat,
        &[
            "-b",
            &b,
            "-G",
            "mx",
            "-X",
            "auto.offset.reset=earliest",
            "-u",
            "-q",
            "-f",
            "%s\n",
            "mixed",
        ],
    );
    let script = format!(
        "import sys\nfrom kafka import KafkaConsumer\nc = KafkaConsumer('mixed', bootstrap_servers='{b}', group_id='mx', auto_offset_reset='earliest', client_id='kafka-python')\nfor m in c:\n    print(m.value.decode(), flush=True)\n"
    );
    let python = Running::spawn(Path::new("python3"), &["-c", &script]);
    let split = wait_for_split(&broker, "mx", 3, 6, 2);
    let clients: Vec<&str> = split.iter().map(|(c, _)| c.as_str()).collect();
    assert!(clients.contains(&"rdkafka"), "{split:?}");
    assert!(clients.contains(&"kafka-python"), "{split:?}");
    assert!(clients.contains(&"console-consumer"), "{split:?}");
    produce_keyed(&broker, "mixed", 1..=1200);
    let all = [&ours, &theirs, &python];
    wait_for_all(&all, &values(1..=1200));
    let mut seen: HashMap<String, usize> = HashMap::new();
    for c in all {
        let lines = c.lines();
        assert!(!lines.is_empty(), "a member consumed nothing");
        for l in lines {
            *seen.entry(l).or_default() += 1;
        }
    }
    let overlap: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(overlap.is_empty(), "records consumed twice: {overlap:?}");
}

fn consume_group(broker: &TestBroker, topic: &str, group: &str, extra: &[&str]) -> Vec<String> {
    let b = broker.bootstrap();
    let mut args = vec![
        "console-consumer",
        "--bootstrap-server",
        &b,
        "--topic",
        topic,
        "--group",
        group,
        "--from-beginning",
    ];
    args.extend_from_slice(extra);
    if !extra.contains(&"--timeout-ms") {
        args.extend_from_slice(&["--timeout-ms", "4000"]);
    }
    let (out, err, code) = run_with_input(kfk(), &args, b"", Duration::from_secs(60));
    assert_eq!(code, 0, "{err}");
    String::from_utf8_lossy(&out)
        .lines()
        .map(str::to_string)
        .collect()
}

/// `(partition, current, log end, lag)` rows of `--describe`.
fn describe_offsets(broker: &TestBroker, group: &str) -> BTreeMap<i32, (String, i64, String)> {
    let (out, err, code) = consumer_groups(broker, &["--describe", "--group", group]);
    assert_eq!(code, 0, "{err}");
    let mut rows = BTreeMap::new();
    for line in out.lines().skip_while(|l| !l.starts_with("GROUP")).skip(1) {
        let c: Vec<&str> = line.split_whitespace().collect();
        rows.insert(
            c[2].parse().unwrap(),
            (c[3].to_string(), c[4].parse().unwrap(), c[5].to_string()),
        );
    }
    rows
}

#[test]
fn committed_offsets_survive_consumer_and_broker_restarts_and_can_be_reset() {
    let mut broker = TestBroker::start();
    let mut raw = RawClient::connect(&broker.bootstrap());
    assert_eq!(raw.create_topic("r", 3, &[]), 0);
    produce_keyed(&broker, "r", 1..=300);

    let first = consume_group(&broker, "r", "rg", &["--max-messages", "100"]);
    assert_eq!(first.len(), 100);
    let second = consume_group(&broker, "r", "rg", &["--max-messages", "100"]);
    assert_eq!(second.len(), 100);
    let a: HashSet<&String> = first.iter().collect();
    assert!(
        second.iter().all(|v| !a.contains(v)),
        "re-read committed records"
    );

    let rows = describe_offsets(&broker, "rg");
    let committed: i64 = rows.values().map(|r| r.0.parse::<i64>().unwrap_or(0)).sum();
    let end: i64 = rows.values().map(|r| r.1).sum();
    let lag: i64 = rows.values().map(|r| r.2.parse::<i64>().unwrap()).sum();
    assert_eq!((committed, end, lag), (200, 300, 100), "{rows:?}");

    // The broker reads the offsets back from __consumer_offsets.
    broker.stop();
    broker.restart();
    assert_eq!(describe_offsets(&broker, "rg"), rows);
    let (out, _, _) = consumer_groups(&broker, &["--list"]);
    assert!(out.lines().any(|l| l == "rg"), "{out}");

    let rest = consume_group(&broker, "r", "rg", &[]);
    assert_eq!(rest.len(), 100);
    let mut all: Vec<String> = first.into_iter().chain(second).chain(rest).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 300);

    // Reset: a dry run changes nothing, --execute rewinds to the start.
    let (out, _, code) = consumer_groups(
        &broker,
        &[
            "--reset-offsets",
            "--group",
            "rg",
            "--topic",
            "r",
            "--to-earliest",
            "--dry-run",
        ],
    );
    assert_eq!(code, 0);
    assert!(out.contains("NEW-OFFSET"), "{out}");
    assert!(consume_group(&broker, "r", "rg", &["--timeout-ms", "1500"]).is_empty());
    let (_, err, code) = consumer_groups(
        &broker,
        &[
            "--reset-offsets",
            "--group",
            "rg",
            "--topic",
            "r",
            "--to-earliest",
            "--execute",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(consume_group(&broker, "r", "rg", &[]).len(), 300);

    // Delete the group: it is gone from the list.
    let (out, _, code) = consumer_groups(&broker, &["--delete", "--group", "rg"]);
    assert_eq!(code, 0);
    assert!(out.contains("Deletion of requested consumer groups ('rg') was successful."));
    let (out, _, _) = consumer_groups(&broker, &["--list"]);
    assert!(!out.lines().any(|l| l == "rg"), "{out}");
}

#[test]
fn resetting_an_active_group_is_refused_with_kafkas_message() {
    let broker = TestBroker::start();
    let mut raw = RawClient::connect(&broker.bootstrap());
    assert_eq!(raw.create_topic("busy", 2, &[]), 0);
    let mut c = group_consumer(&broker, "busy", "active");
    wait_for_split(&broker, "active", 1, 2, 2);
    let (_, err, code) = consumer_groups(
        &broker,
        &[
            "--reset-offsets",
            "--group",
            "active",
            "--all-topics",
            "--to-earliest",
            "--execute",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("Assignments can only be reset if the group 'active' is inactive, but the current state is Stable."),
        "{err}"
    );
    assert_eq!(c.terminate(), 0);
}

#[test]
fn consumer_groups_bad_input_is_one_line_and_a_non_zero_exit() {
    let broker = TestBroker::start();
    for bad in [
        vec!["--describe"],
        vec!["--list", "--describe"],
        vec!["--reset-offsets", "--group", "g", "--topic", "t"],
        vec!["--reset-offsets", "--group", "g", "--to-earliest"],
        vec![
            "--reset-offsets",
            "--group",
            "g",
            "--all-topics",
            "--to-datetime",
            "yesterday",
        ],
        vec!["--delete-offsets", "--group", "g"],
        vec!["--describe", "--group", "g", "--bogus"],
    ] {
        let (_, err, code) = consumer_groups(&broker, &bad);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{bad:?}: {err}");
    }
    let (_, err, code) = consumer_groups(&broker, &["--describe", "--group", "missing"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "kfk consumer-groups: Error: Consumer group 'missing' does not exist."
    );
}

/// A console consumer in `group` that prints `Partition:P<TAB>Offset:O<TAB>value` lines.
fn positioned_consumer(broker: &TestBroker, topic: &str, group: &str, strategy: &str) -> Running {
    let b = broker.bootstrap();
    let strategy = format!("partition.assignment.strategy={strategy}");
    Running::spawn(
        kfk(),
        &[
            "console-consumer",
            "--bootstrap-server",
            &b,
            "--topic",
            topic,
            "--group",
            group,
            "--from-beginning",
            "--property",
            "print.partition=true",
            "--property",
            "print.offset=true",
            "--consumer-property",
            "session.timeout.ms=6000",
            "--consumer-property",
            &strategy,
        ],
    )
}

/// Produces `rounds` rounds of 60 keyed records (keys over every partition), one round every
/// 200 ms, on a thread: records keep arriving while the members join and rebalance.
fn produce_while_joining(
    broker: &TestBroker,
    topic: &str,
    rounds: u32,
) -> std::thread::JoinHandle<()> {
    let (b, topic) = (broker.bootstrap(), topic.to_string());
    std::thread::spawn(move || {
        for round in 0..rounds {
            let input: String = (0..60).map(|i| format!("k{i}:r{round}-{i}\n")).collect();
            let (_, err, code) = run_with_input(
                kfk(),
                &[
                    "console-producer",
                    "--bootstrap-server",
                    &b,
                    "--topic",
                    &topic,
                    "--property",
                    "parse.key=true",
                    "--property",
                    "key.separator=:",
                ],
                input.as_bytes(),
                Duration::from_secs(60),
            );
            assert_eq!(code, 0, "{err}");
            std::thread::sleep(Duration::from_millis(200));
        }
    })
}

/// `(partition, offset)` of each `Partition:P<TAB>Offset:O<TAB>value` line.
fn positions(lines: &[String]) -> Vec<(i32, i64)> {
    lines
        .iter()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let p = f.next()?.strip_prefix("Partition:")?.parse().ok()?;
            let o = f.next()?.strip_prefix("Offset:")?.parse().ok()?;
            Some((p, o))
        })
        .collect()
}

/// Every member got records, together they printed every offset of the topic, and no
/// offset was printed by two members.
fn assert_split_without_overlap(broker: &TestBroker, topic: &str, members: &[&Running]) {
    let mut raw = RawClient::connect(&broker.bootstrap());
    let (_, partitions) = raw.topic_id(topic);
    let expected: HashSet<(i32, i64)> = (0..partitions as i32)
        .flat_map(|p| {
            let n = raw.fetch_all(topic, p).len() as i64;
            (0..n).map(move |o| (p, o))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen: HashSet<(i32, i64)> =
            members.iter().flat_map(|m| positions(&m.lines())).collect();
        if expected.is_subset(&seen) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} offsets never printed",
            expected.difference(&seen).count(),
            expected.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut owner: HashMap<(i32, i64), usize> = HashMap::new();
    for (i, m) in members.iter().enumerate() {
        let printed = positions(&m.lines());
        assert!(!printed.is_empty(), "member {i} printed nothing");
        for at in printed {
            if let Some(other) = owner.insert(at, i) {
                panic!("offset {at:?} printed by members {other} and {i}");
            }
        }
    }
}

/// Issue 11, item 2: members started in the same instant each fetch exactly what they own.
#[test]
fn console_consumers_started_together_each_print_only_their_partitions() {
    let broker = TestBroker::start();
    let mut raw = RawClient::connect(&broker.bootstrap());
    for (n, strategy) in [
        (2, "range"),
        (3, "range"),
        (4, "range"),
        (3, "cooperative-sticky"),
    ] {
        let topic = format!("together-{n}-{strategy}");
        let group = format!("g-{n}-{strategy}");
        assert_eq!(raw.create_topic(&topic, 6, &[]), 0);
        let producer = produce_while_joining(&broker, &topic, 15);
        let members: Vec<Running> = (0..n)
            .map(|_| positioned_consumer(&broker, &topic, &group, strategy))
            .collect();
        producer.join().unwrap();
        wait_for_split(&broker, &group, n, 6, 6usize.div_ceil(n));
        // Records after the group settled reach every member.
        produce_while_joining(&broker, &topic, 2).join().unwrap();
        let refs: Vec<&Running> = members.iter().collect();
        assert_split_without_overlap(&broker, &topic, &refs);
    }
}

/// Issue 11, item 2 with third-party members: kfk, librdkafka (kcat -G) and kafka-python
/// started together in one group.
#[test]
fn kfk_kcat_and_kafka_python_started_together_print_disjoint_offsets() {
    let test = "kfk_kcat_and_kafka_python_started_together_print_disjoint_offsets";
    let Some(kcat) = require_tool(test, "kcat") else {
        return;
    };
    if !require_python_module(test, "kafka") {
        return;
    }
    let broker = TestBroker::start();
    let mut raw = RawClient::connect(&broker.bootstrap());
    assert_eq!(raw.create_topic("together-mixed", 6, &[]), 0);
    let b = broker.bootstrap();
    let producer = produce_while_joining(&broker, "together-mixed", 15);
    let ours = positioned_consumer(&broker, "together-mixed", "mixed-together", "range");
    let theirs = Running::spawn(
        &kcat,
        &[
            "-b",
            &b,
            "-G",
            "mixed-together",
            "-X",
            "auto.offset.reset=earliest",
            "-X",
            "session.timeout.ms=6000",
            "-X",
            "partition.assignment.strategy=range",
            "-u",
            "-q",
            "-f",
            "Partition:%p\tOffset:%o\t%s\n",
            "together-mixed",
        ],
    );
    let script = format!(
        "from kafka import KafkaConsumer\nc = KafkaConsumer('together-mixed', bootstrap_servers='{b}', group_id='mixed-together', auto_offset_reset='earliest', session_timeout_ms=6000, client_id='kafka-python')\nfor m in c:\n    print('Partition:%d\\tOffset:%d\\t%s' % (m.partition, m.offset, m.value.decode()), flush=True)\n"
    );
    let python = Running::spawn(Path::new("python3"), &["-c", &script]);
    producer.join().unwrap();
    wait_for_split(&broker, "mixed-together", 3, 6, 2);
    produce_while_joining(&broker, "together-mixed", 2)
        .join()
        .unwrap();
    assert_split_without_overlap(&broker, "together-mixed", &[&ours, &theirs, &python]);
}
