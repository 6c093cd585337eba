//! The Java client (Apache Kafka's kafka-clients at the pinned release) against a kfk broker
//! (issue 13, item 2): `tests/interop/java/src/Interop.java`, compiled with javac at test
//! time, runs one scenario per call and prints one line per fact; these tests judge them.

mod common;

use common::{apache_kafka, java_interop, run_with_input, RawClient, TestBroker};
use kfk::partitioner::java_partition;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Runs one scenario to its end: its stdout lines.
fn java(classpath: &str, args: &[&str]) -> Vec<String> {
    let mut all = vec![
        "-cp",
        classpath,
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
        "Interop",
    ];
    all.extend_from_slice(args);
    let (out, err, code) = run_with_input(Path::new("java"), &all, b"", Duration::from_secs(180));
    let out = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(code, 0, "java Interop {args:?} failed:\n{out}\n{err}");
    out.lines().map(str::to_string).collect()
}

fn fields<'a>(lines: &'a [String], tag: &str) -> Vec<Vec<&'a str>> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(tag)?.strip_prefix(' '))
        .map(|rest| rest.split(' ').collect())
        .collect()
}

fn one<'a>(lines: &'a [String], tag: &str) -> Vec<&'a str> {
    let found = fields(lines, tag);
    assert_eq!(found.len(), 1, "one {tag} line in {lines:#?}");
    found.into_iter().next().unwrap()
}

fn kfk(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kfk"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kfk {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn java_producer_defaults_every_codec_headers_and_keyed_placement() {
    let Some(cp) = java_interop("java_producer_defaults_every_codec_headers_and_keyed_placement")
    else {
        return;
    };
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    kfk(&[
        "topics",
        "--bootstrap-server",
        &bs,
        "--create",
        "--topic",
        "java-codecs",
        "--partitions",
        "6",
    ]);
    let lines = java(&cp, &["produce", &bs, "java-codecs", "200"]);
    let sent = fields(&lines, "SENT");
    assert_eq!(sent.len(), 5 * 200);
    let mut placed: BTreeMap<(i32, i64), (String, String)> = BTreeMap::new();
    for s in &sent {
        let [codec, key, partition, offset] = s[..] else {
            panic!("{s:?}")
        };
        let partition: i32 = partition.parse().unwrap();
        assert_eq!(
            partition,
            java_partition(key.as_bytes(), 6),
            "{key} placed as kfk's partitioner places it"
        );
        let fresh = placed.insert(
            (partition, offset.parse().unwrap()),
            (codec.to_string(), key.to_string()),
        );
        assert!(fresh.is_none(), "offset given twice: {s:?}");
    }
    // Every record reads back from its offset with its key, value and headers.
    let got = fields(&lines, "GOT");
    assert_eq!(got.len(), sent.len(), "read back all: {:?}", &got[..3]);
    for g in got {
        let [partition, offset, key, value, codec_header, i_header] = g[..] else {
            panic!("{g:?}")
        };
        let (codec, sent_key) = &placed[&(partition.parse().unwrap(), offset.parse().unwrap())];
        assert_eq!(key, sent_key);
        let i = key.strip_prefix("key-").unwrap();
        assert_eq!(value, format!("{codec}-{i}"));
        assert_eq!((codec_header, i_header), (codec.as_str(), i));
    }
    // kfk's own consumer reads the Java producer's compressed batches too.
    let out = kfk(&[
        "console-consumer",
        "--bootstrap-server",
        &bs,
        "--topic",
        "java-codecs",
        "--from-beginning",
        "--max-messages",
        "1000",
        "--property",
        "print.headers=true",
    ]);
    assert_eq!(out.lines().count(), 1000);
    assert!(out.lines().any(|l| l.starts_with("codec:zstd,i:7\tzstd-7")));
}

#[test]
fn java_consumer_assign_seek_and_offsets_for_times() {
    let Some(cp) = java_interop("java_consumer_assign_seek_and_offsets_for_times") else {
        return;
    };
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    kfk(&[
        "topics",
        "--bootstrap-server",
        &bs,
        "--create",
        "--topic",
        "java-assign",
        "--partitions",
        "1",
    ]);
    let lines = java(&cp, &["assign", &bs, "java-assign"]);
    assert_eq!(one(&lines, "SEEK"), ["3", "v3", one(&lines, "SEEK")[2]]);
    assert_eq!(one(&lines, "TIMES"), ["5", "5000"]);
    assert_eq!(one(&lines, "TIMES_BETWEEN"), ["7"]);
    assert_eq!(one(&lines, "TIMES_FUTURE"), ["null"]);
    assert_eq!(one(&lines, "BEGIN"), ["0"]);
    assert_eq!(one(&lines, "END"), ["10"]);
    assert_eq!(one(&lines, "POSITION_END"), ["10"]);
}

#[test]
fn java_admin_client_topics_configs_records_offsets_and_groups() {
    let Some(cp) = java_interop("java_admin_client_topics_configs_records_offsets_and_groups")
    else {
        return;
    };
    let broker = TestBroker::start();
    let lines = java(&cp, &["admin", &broker.bootstrap(), "jadmin"]);
    assert_eq!(one(&lines, "CREATED"), ["jadmin-admin"]);
    assert_eq!(one(&lines, "CREATE_AGAIN"), ["TopicExistsException"]);
    assert_eq!(one(&lines, "LISTED"), ["true"]);
    assert_eq!(one(&lines, "DESCRIBED"), ["jadmin-admin", "2", "1", "true"]);
    assert_eq!(one(&lines, "PARTITIONS"), ["4"]);
    assert_eq!(one(&lines, "CLUSTER"), ["1", "1", "true"]);
    assert_eq!(
        fields(&lines, "CONFIG"),
        [
            vec!["retention.ms", "3600000", "DYNAMIC_TOPIC_CONFIG"],
            vec!["cleanup.policy", "delete", "DEFAULT_CONFIG"]
        ]
    );
    assert_eq!(one(&lines, "ALTERED"), ["7200000", "2000000"]);
    assert_eq!(one(&lines, "BROKER_CONFIG"), ["num.partitions", "1"]);
    assert_eq!(one(&lines, "OFFSETS"), ["4", "10", "9"]);
    assert_eq!(one(&lines, "GROUP_LIVE"), ["Stable", "1", "range"]);
    assert_eq!(one(&lines, "GROUP_LISTED"), ["true"]);
    assert_eq!(one(&lines, "GROUP_EMPTY"), ["Empty", "0"]);
    assert_eq!(one(&lines, "COMMITTED"), ["10"]);
    assert_eq!(one(&lines, "ALTERED_OFFSET"), ["5"]);
    assert_eq!(one(&lines, "GROUP_DELETED"), ["true"]);
    assert_eq!(one(&lines, "DELETED"), ["true"]);
}

#[test]
fn java_transactions_and_the_new_consumer_protocol_fail_clearly() {
    let Some(cp) = java_interop("java_transactions_and_the_new_consumer_protocol_fail_clearly")
    else {
        return;
    };
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    let init = java(&cp, &["transactions", &bs]);
    let init = one(&init, "INIT");
    assert_eq!(init[0], "TransactionalIdAuthorizationException");
    let ms: u64 = init[1].parse().unwrap();
    assert!(ms < 15_000, "refused, not timed out: {ms} ms");
    let poll = java(&cp, &["consumer-protocol", &bs, "anything"]);
    let poll = poll.iter().find(|l| l.starts_with("POLL")).unwrap();
    // The client words it from the broker's ApiVersions (no ConsumerGroupHeartbeat): 4.1
    // says "The cluster does not support the new CONSUMER group protocol...", earlier
    // releases "The cluster doesn't yet support the new consumer group protocol...".
    assert!(
        poll.starts_with("POLL UnsupportedVersionException")
            && poll
                .to_lowercase()
                .contains("support the new consumer group protocol"),
        "{poll}"
    );
}

/// A running `Interop member`: its output lines arrive on a channel.
struct Member {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Member {
    fn start(cp: &str, bs: &str, topic: &str, group: &str, assignor: &str) -> Member {
        let mut child = Command::new("java")
            .args(["-cp", cp, "Interop", "member", bs, topic, group, assignor])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Member {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
    }

    /// The partitions of its latest assignment.
    fn assignment(&self) -> Option<BTreeSet<i32>> {
        let last = self
            .seen
            .iter()
            .rev()
            .find(|l| l.starts_with("ASSIGNED "))?;
        let parts = last.strip_prefix("ASSIGNED ").unwrap();
        Some(if parts == "-" {
            BTreeSet::new()
        } else {
            parts.split(',').map(|p| p.parse().unwrap()).collect()
        })
    }

    fn records(&self) -> BTreeSet<(i32, i64)> {
        self.seen
            .iter()
            .filter_map(|l| {
                let mut f = l.strip_prefix("REC ")?.split(' ');
                Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
            })
            .collect()
    }

    fn stop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the members' latest assignments split all `partitions` without overlap.
fn wait_for_split(members: &mut [&mut Member], partitions: i32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for m in members.iter_mut() {
            m.drain();
        }
        let assignments: Vec<Option<BTreeSet<i32>>> =
            members.iter().map(|m| m.assignment()).collect();
        if assignments
            .iter()
            .all(|a| a.as_ref().is_some_and(|a| !a.is_empty()))
        {
            let all: Vec<i32> = assignments.iter().flatten().flatten().copied().collect();
            let unique: BTreeSet<i32> = all.iter().copied().collect();
            if all.len() == partitions as usize && unique.len() == partitions as usize {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no clean split of {partitions} partitions: {assignments:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn produce(bs: &str, topic: &str, from: usize, count: usize) {
    let input: String = (from..from + count).map(|i| format!("{i}\n")).collect();
    let (_, err, code) = run_with_input(
        Path::new(env!("CARGO_BIN_EXE_kfk")),
        &[
            "console-producer",
            "--bootstrap-server",
            bs,
            "--topic",
            topic,
        ],
        input.as_bytes(),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}");
}

fn three_members_share_the_partitions_and_survive_a_kill(assignor: &str) {
    let test = format!("java_group_{assignor}");
    let Some(cp) = java_interop(&test) else {
        return;
    };
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    let topic = format!("java-group-{assignor}");
    let group = format!("java-group-{assignor}");
    kfk(&[
        "topics",
        "--bootstrap-server",
        &bs,
        "--create",
        "--topic",
        &topic,
        "--partitions",
        "6",
    ]);
    let mut a = Member::start(&cp, &bs, &topic, &group, assignor);
    let mut b = Member::start(&cp, &bs, &topic, &group, assignor);
    let mut c = Member::start(&cp, &bs, &topic, &group, assignor);
    wait_for_split(&mut [&mut a, &mut b, &mut c], 6, "three members");
    produce(&bs, &topic, 0, 600);
    let end = |bs: &str| -> BTreeMap<i32, i64> {
        let mut client = RawClient::connect(bs);
        (0..6)
            .map(|p| (p, client.fetch_all(&topic, p).len() as i64))
            .collect()
    };
    let all_records = |ends: &BTreeMap<i32, i64>| -> BTreeSet<(i32, i64)> {
        ends.iter()
            .flat_map(|(p, e)| (0..*e).map(move |o| (*p, o)))
            .collect()
    };
    let wait_consumed = |members: &mut [&mut Member], want: &BTreeSet<(i32, i64)>| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut got = BTreeSet::new();
            for m in members.iter_mut() {
                m.drain();
                got.extend(m.records());
            }
            if want.is_subset(&got) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {} records consumed",
                want.intersection(&got).count(),
                want.len()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let first = all_records(&end(&bs));
    assert_eq!(first.len(), 600);
    wait_consumed(&mut [&mut a, &mut b, &mut c], &first);

    // kill -9 one member: after its session times out (6 s) the others take its partitions
    // and nothing is lost (its uncommitted records may be read again).
    c.child.kill().unwrap();
    c.child.wait().unwrap();
    wait_for_split(&mut [&mut a, &mut b], 6, "after the kill");
    produce(&bs, &topic, 600, 600);
    let all = all_records(&end(&bs));
    assert_eq!(all.len(), 1200);
    wait_consumed(
        &mut [&mut a, &mut b],
        &all.difference(&first).copied().collect(),
    );
    a.stop();
    b.stop();

    // The group committed every offset.
    let out = kfk(&[
        "consumer-groups",
        "--bootstrap-server",
        &bs,
        "--describe",
        "--group",
        &group,
    ]);
    let lags: Vec<&str> = out
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(topic.as_str()))
        .filter_map(|l| l.split_whitespace().nth(5))
        .collect();
    assert_eq!(lags, ["0"; 6], "{out}");
    let mut stdin_closed = Vec::new();
    for m in [&mut a, &mut b] {
        m.drain();
        stdin_closed.push(m.seen.iter().any(|l| l == "CLOSED"));
    }
    assert_eq!(stdin_closed, [true, true]);
    let _ = std::io::stdout().flush();
}

#[test]
fn java_group_of_three_with_the_range_assignor() {
    three_members_share_the_partitions_and_survive_a_kill("range");
}

#[test]
fn java_group_of_three_with_the_cooperative_sticky_assignor() {
    three_members_share_the_partitions_and_survive_a_kill("cooperative-sticky");
}

#[test]
fn a_kafka_streams_word_count_runs_against_kfk() {
    let Some(cp) = java_interop("a_kafka_streams_word_count_runs_against_kfk") else {
        return;
    };
    let broker = TestBroker::start();
    let bs = broker.bootstrap();
    for topic in ["words-in", "counts-out"] {
        kfk(&[
            "topics",
            "--bootstrap-server",
            &bs,
            "--create",
            "--topic",
            topic,
            "--partitions",
            "3",
        ]);
    }
    let lines = java(&cp, &["streams", &bs, "words-in", "counts-out"]);
    assert!(fields(&lines, "STREAMS_ERROR").is_empty(), "{lines:#?}");
    let counts: BTreeMap<&str, &str> = fields(&lines, "COUNT")
        .into_iter()
        .map(|f| (f[0], f[1]))
        .collect();
    // 20 rounds of five lines: "the" 4 times a round, "dog" and "fox" twice, the rest once.
    let mut want: BTreeMap<&str, &str> = [
        "quick", "brown", "jumps", "over", "lazy", "sleeps", "a", "runs", "end",
    ]
    .into_iter()
    .map(|w| (w, "20"))
    .collect();
    want.insert("the", "80");
    want.insert("dog", "40");
    want.insert("fox", "40");
    assert_eq!(counts, want, "{lines:#?}");
    // Streams created its repartition and changelog topics through kfk's admin API.
    let topics = kfk(&["topics", "--bootstrap-server", &bs, "--list"]);
    assert!(
        topics.contains("-repartition") && topics.contains("-changelog"),
        "{topics}"
    );
}

/// On Apache Kafka, a kfk consumer and a Java consumer (both `range`) in one group split the
/// partitions without overlap and read every record once.
#[test]
fn kfk_and_java_consumers_share_a_group_on_apache_kafka() {
    let test = "kfk_and_java_consumers_share_a_group_on_apache_kafka";
    let Some(cp) = java_interop(test) else {
        return;
    };
    let Some(kafka) = apache_kafka(test) else {
        return;
    };
    let bs = kafka.bootstrap.as_str();
    let (topic, group) = ("mixed-group", "mixed-group");
    kfk(&[
        "topics",
        "--bootstrap-server",
        bs,
        "--create",
        "--topic",
        topic,
        "--partitions",
        "6",
    ]);
    let mut java_member = Member::start(&cp, bs, topic, group, "range");
    wait_for_split(&mut [&mut java_member], 6, "the Java member alone");
    let consumer = Command::new(env!("CARGO_BIN_EXE_kfk"))
        .args([
            "console-consumer",
            "--bootstrap-server",
            bs,
            "--topic",
            topic,
            "--group",
            group,
            "--consumer-property",
            "partition.assignment.strategy=range",
            "--property",
            "print.partition=true",
            "--timeout-ms",
            "10000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the group is rebalanced onto both: the Java member holds half.
    let deadline = Instant::now() + Duration::from_secs(60);
    let java_half = loop {
        java_member.drain();
        if let Some(a) = java_member.assignment().filter(|a| a.len() == 3) {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "no rebalance: {:?}",
            java_member.seen
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let input: String = (0..600).map(|i| format!("key{i}:v{i}\n")).collect();
    let (_, err, code) = run_with_input(
        Path::new(env!("CARGO_BIN_EXE_kfk")),
        &[
            "console-producer",
            "--bootstrap-server",
            bs,
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
    let out = consumer.wait_with_output().unwrap();
    let kfk_lines = String::from_utf8_lossy(&out.stdout).into_owned();
    let kfk_partitions: BTreeSet<i32> = kfk_lines
        .lines()
        .map(|l| {
            l.strip_prefix("Partition:")
                .and_then(|r| r.split('\t').next())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    java_member.drain();
    java_member.stop();
    java_member.drain();
    let java_records = java_member.records();
    let java_partitions: BTreeSet<i32> = java_records.iter().map(|(p, _)| *p).collect();
    assert!(
        kfk_partitions.is_disjoint(&java_half),
        "kfk {kfk_partitions:?}, Java {java_half:?}"
    );
    let all: BTreeSet<i32> = kfk_partitions.union(&java_half).copied().collect();
    assert_eq!(all, (0..6).collect());
    // Every record once: kfk committed what it read before leaving, so the Java member,
    // which then got every partition, read none of kfk's records again.
    assert!(java_partitions.is_subset(&java_half), "{java_partitions:?}");
    assert_eq!(kfk_lines.lines().count() + java_records.len(), 600);
}
