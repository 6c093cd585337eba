//! `kfk console-producer` and `kfk console-consumer` end to end: pipes of a million lines,
//! keys and headers, interop with kcat in both directions for every codec, and bad input.

mod common;

use common::{require_tool, run_with_input, TestBroker};
use std::path::Path;
use std::time::Duration;

fn kfk() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_kfk"))
}

fn produce(broker: &TestBroker, topic: &str, input: &[u8], extra: &[&str]) -> (String, i32) {
    let b = broker.bootstrap();
    let mut args = vec![
        "console-producer",
        "--bootstrap-server",
        &b,
        "--topic",
        topic,
    ];
    args.extend_from_slice(extra);
    let (_, err, code) = run_with_input(kfk(), &args, input, Duration::from_secs(120));
    (err, code)
}

fn consume(broker: &TestBroker, topic: &str, n: usize, extra: &[&str]) -> (Vec<u8>, String, i32) {
    let b = broker.bootstrap();
    let max = n.to_string();
    let mut args = vec![
        "console-consumer",
        "--bootstrap-server",
        &b,
        "--topic",
        topic,
        "--from-beginning",
        "--max-messages",
        &max,
        "--timeout-ms",
        "10000",
    ];
    args.extend_from_slice(extra);
    run_with_input(kfk(), &args, b"", Duration::from_secs(120))
}

#[test]
fn a_million_lines_round_trip_through_pipes_in_order() {
    let broker = TestBroker::start();
    let input: String = (1..=1_000_000).map(|i| format!("{i}\n")).collect();
    let (err, code) = produce(
        &broker,
        "million",
        input.as_bytes(),
        &["--producer-property", "linger.ms=5"],
    );
    assert_eq!(code, 0, "{err}");
    let (out, err, code) = consume(&broker, "million", 1_000_000, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out == input.as_bytes(),
        "the consumer printed exactly the produced lines ({} bytes vs {})",
        out.len(),
        input.len()
    );
    assert!(
        err.contains("Processed a total of 1000000 messages"),
        "{err}"
    );
}

#[test]
fn keys_and_headers_round_trip_with_parse_key_and_print_key() {
    let broker = TestBroker::start();
    let input = "h1:a,h2:b\tk1:v1\n\tk2:v2\nh3:c\tNULL:v3\n";
    let props = [
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=:",
        "--property",
        "parse.headers=true",
        "--property",
        "null.marker=NULL",
    ];
    let (err, code) = produce(&broker, "keyed", input.as_bytes(), &props);
    assert_eq!(code, 0, "{err}");
    let fmt = [
        "--property",
        "print.key=true",
        "--property",
        "print.headers=true",
        "--property",
        "key.separator=|",
        "--property",
        "print.offset=true",
    ];
    let (out, err, code) = consume(&broker, "keyed", 3, &fmt);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "Offset:0|h1:a,h2:b|k1|v1\nOffset:1|NO_HEADERS|k2|v2\nOffset:2|h3:c|null|v3\n"
    );
}

#[test]
fn kfk_and_kcat_interoperate_both_ways_in_every_codec() {
    let Some(kcat) = require_tool("kfk_and_kcat_interoperate_both_ways_in_every_codec", "kcat")
    else {
        return;
    };
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let input: String = (0..500)
            .map(|i| format!("k{i}\t{codec} value {i} {}\n", "z".repeat(i % 40)))
            .collect();
        let expected: String = input.lines().map(|l| l.replace('\t', ":") + "\n").collect();
        // kfk console-producer -> kcat.
        let topic = format!("to-kcat-{codec}");
        let (err, code) = produce(
            &broker,
            &topic,
            input.as_bytes(),
            &["--compression-codec", codec, "--property", "parse.key=true"],
        );
        assert_eq!(code, 0, "{codec}: {err}");
        let (out, err, code) = run_with_input(
            &kcat,
            &[
                "-b",
                &b,
                "-C",
                "-t",
                &topic,
                "-o",
                "beginning",
                "-e",
                "-f",
                "%k:%s\n",
            ],
            b"",
            Duration::from_secs(30),
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            expected,
            "kfk -> kcat, {codec}"
        );
        // kcat -> kfk console-consumer.
        let topic = format!("from-kcat-{codec}");
        let (_, err, code) = run_with_input(
            &kcat,
            &["-b", &b, "-P", "-t", &topic, "-K", "\t", "-z", codec],
            input.as_bytes(),
            Duration::from_secs(30),
        );
        assert_eq!(code, 0, "{err}");
        let (out, err, code) = consume(
            &broker,
            &topic,
            500,
            &[
                "--property",
                "print.key=true",
                "--property",
                "key.separator=:",
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            expected,
            "kcat -> kfk, {codec}"
        );
    }
}

/// Runs kfk with `args`; asserts one line on stderr mentioning `mentions` and a non-zero exit.
fn assert_refused(args: &[&str], input: &[u8], mentions: &str) {
    let (_, err, code) = run_with_input(kfk(), args, input, Duration::from_secs(30));
    assert_ne!(code, 0, "{args:?} must fail");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{args:?}: {err}"
    );
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("Processed a total"))
        .collect();
    assert!(lines.len() <= 3, "{args:?}: a short error, got: {err}");
    assert!(
        err.contains(mentions),
        "{args:?}: error should mention {mentions:?}: {err}"
    );
}

#[test]
fn bad_input_gets_one_clear_line_and_a_non_zero_exit() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    assert_refused(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "t",
            "--no-such-flag",
        ],
        b"",
        "--no-such-flag",
    );
    assert_refused(
        &["console-producer", "--bootstrap-server", &b],
        b"",
        "--topic",
    );
    assert_refused(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "t",
            "--property",
            "parse.key",
        ],
        b"",
        "parse.key",
    );
    assert_refused(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "t",
            "--property",
            "parse.key=true",
        ],
        b"no separator here\n",
        "No key separator found on line number 1",
    );
    assert_refused(
        &[
            "console-producer",
            "--bootstrap-server",
            "127.0.0.1:1",
            "--topic",
            "t",
        ],
        b"x\n",
        "no broker reachable at 127.0.0.1:1",
    );
    assert_refused(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "t",
            "--request-required-acks",
            "7",
        ],
        b"x\n",
        "acks",
    );
    assert_refused(
        &["console-consumer", "--bootstrap-server", &b],
        b"",
        "--topic",
    );
    assert_refused(
        &[
            "console-consumer",
            "--bootstrap-server",
            &b,
            "--topic",
            "t",
            "--offset",
            "12",
        ],
        b"",
        "--partition",
    );
    assert_refused(
        &[
            "console-consumer",
            "--bootstrap-server",
            &b,
            "--topic",
            "t",
            "--property",
            "print.bogus=true",
        ],
        b"",
        "print.bogus",
    );
    assert_refused(
        &[
            "console-consumer",
            "--bootstrap-server",
            "127.0.0.1:1",
            "--topic",
            "t",
        ],
        b"",
        "no broker reachable",
    );
}

#[test]
fn a_closed_stdout_ends_the_consumer_quietly() {
    let broker = TestBroker::start();
    let input: String = (0..20_000).map(|i| format!("{i}\n")).collect();
    assert_eq!(produce(&broker, "headed", input.as_bytes(), &[]).1, 0);
    let script = format!(
        "{} console-consumer --bootstrap-server {} --topic headed --from-beginning | head -3",
        kfk().display(),
        broker.bootstrap()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &format!("set -o pipefail; {script}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "exit 0 on a closed pipe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\n1\n2\n");
}

#[test]
fn kfk_and_kafka_python_interoperate_both_ways_in_every_codec() {
    if !common::require_python_module(
        "kfk_and_kafka_python_interoperate_both_ways_in_every_codec",
        "kafka",
    ) {
        return;
    }
    let python = Path::new("/usr/bin/env");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/kafka_python_console.py"
    );
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let input: String = (0..300)
            .map(|i| format!("k{i}\t{codec} value {i} {}\n", "q".repeat(i % 30)))
            .collect();
        let expected: String = input.lines().map(|l| l.replace('\t', ":") + "\n").collect();
        // kfk console-producer -> kafka-python.
        let topic = format!("to-py-{codec}");
        let (err, code) = produce(
            &broker,
            &topic,
            input.as_bytes(),
            &["--compression-codec", codec, "--property", "parse.key=true"],
        );
        assert_eq!(code, 0, "{codec}: {err}");
        let (out, err, code) = run_with_input(
            python,
            &["python3", script, "consume", &b, &topic, "300"],
            b"",
            Duration::from_secs(60),
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            expected,
            "kfk -> kafka-python, {codec}"
        );
        // kafka-python -> kfk console-consumer.
        let topic = format!("from-py-{codec}");
        let (_, err, code) = run_with_input(
            python,
            &["python3", script, "produce", &b, &topic, codec],
            input.as_bytes(),
            Duration::from_secs(60),
        );
        assert_eq!(code, 0, "{err}");
        let (out, err, code) = consume(
            &broker,
            &topic,
            300,
            &[
                "--property",
                "print.key=true",
                "--property",
                "key.separator=:",
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            expected,
            "kafka-python -> kfk, {codec}"
        );
    }
}

/// Issue 11, item 14: lines are bytes; a line that is not UTF-8 is sent unchanged.
#[test]
fn lines_that_are_not_utf8_are_produced_unchanged() {
    let broker = TestBroker::start();
    let mut client = common::RawClient::connect(&broker.bootstrap());
    assert_eq!(client.create_topic("bytes", 1, &[]), 0);
    let input: &[u8] = b"plain\n\xff\xfe latin-1 \xe9t\xe9\n\x00\x80\r\nlast";
    let (err, code) = produce(&broker, "bytes", input, &[]);
    assert_eq!(code, 0, "{err}");
    let values: Vec<Vec<u8>> = client
        .fetch_all("bytes", 0)
        .into_iter()
        .map(|(_, v)| v.unwrap().to_vec())
        .collect();
    assert_eq!(
        values,
        [
            b"plain".to_vec(),
            b"\xff\xfe latin-1 \xe9t\xe9".to_vec(),
            b"\x00\x80".to_vec(),
            b"last".to_vec()
        ]
    );
}

/// Issue 11, item 6: the consumer warns about properties it does not know, as the producer
/// does, and refuses bad socket buffer sizes naming the key.
#[test]
fn unknown_consumer_properties_are_warned_about() {
    let broker = TestBroker::start();
    let mut client = common::RawClient::connect(&broker.bootstrap());
    assert_eq!(client.create_topic("warned", 1, &[]), 0);
    assert_eq!(
        client
            .produce("warned", 0, common::batch_of(&["x"], None))
            .0,
        0
    );
    let (_, err, code) = consume(
        &broker,
        "warned",
        1,
        &["--consumer-property", "fetch.mni.bytes=1"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("fetch.mni.bytes") && err.contains("not a known config"),
        "{err}"
    );
    let (_, err, code) = consume(
        &broker,
        "warned",
        1,
        &["--consumer-property", "receive.buffer.bytes=-5"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("receive.buffer.bytes"), "{err}");
}

/// Kafka 4.4 renamed the console tools' property flags (--command-property,
/// --command-config, --formatter-property, --reader-property) and warns about the old names;
/// kfk takes both and gives the same notice on stderr (Kafka's go to stdout), never among the
/// records.
#[test]
fn the_console_tools_take_kafka_4_4s_flag_names_and_warn_about_the_old_ones() {
    let broker = TestBroker::start();
    let (err, code) = produce(
        &broker,
        "renamed",
        b"k1:v1\n",
        &[
            "--property",
            "parse.key=true",
            "--property=key.separator=:",
            "--producer-property",
            "acks=all",
        ],
    );
    assert_eq!(code, 0, "{err}");
    for (old, new) in [
        ("--property", "--reader-property"),
        ("--producer-property", "--command-property"),
    ] {
        let notice = format!(
            "Warning: {old} is deprecated and will be removed in a future version. Use {new} instead."
        );
        assert_eq!(err.matches(&notice).count(), 1, "{err}");
    }
    let (err, code) = produce(
        &broker,
        "renamed",
        b"k2:v2\n",
        &[
            "--reader-property",
            "parse.key=true",
            "--reader-property",
            "key.separator=:",
            "--command-property",
            "acks=all",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("deprecated"), "{err}");
    let (out, err, code) = consume(
        &broker,
        "renamed",
        2,
        &[
            "--property",
            "print.key=true",
            "--consumer-property",
            "fetch.min.bytes=1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8_lossy(&out), "k1\tv1\nk2\tv2\n");
    for (old, new) in [
        ("--property", "--formatter-property"),
        ("--consumer-property", "--command-property"),
    ] {
        let notice = format!(
            "Option {old} is deprecated and will be removed in a future version. Use {new} instead."
        );
        assert!(err.contains(&notice), "{err}");
    }
    let (out, err, code) = consume(
        &broker,
        "renamed",
        2,
        &[
            "--formatter-property",
            "print.key=true",
            "--command-property",
            "fetch.min.bytes=1",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8_lossy(&out), "k1\tv1\nk2\tv2\n");
    assert!(!err.contains("deprecated"), "{err}");
}

/// Issue 25 item 2: a topic with `max.message.bytes=1000` and a batch holding a 2000-byte
/// record between two small ones: the broker refuses the batch (MESSAGE_TOO_LARGE), the
/// producer splits it and resends the parts, the big record fails alone and the two small
/// ones arrive in order (the idempotent producer renumbers the one after the refused record).
#[test]
fn an_oversized_record_fails_alone_and_the_records_batched_with_it_arrive() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    let (_, err, code) = run_with_input(
        kfk(),
        &[
            "topics",
            "--bootstrap-server",
            &b,
            "--create",
            "--topic",
            "small",
            "--config",
            "max.message.bytes=1000",
        ],
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{err}");
    let input = format!("ok1\n{}\nok2\n", "a".repeat(2000));
    let (err, code) = produce(&broker, "small", input.as_bytes(), &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("line 2:") && err.contains("MESSAGE_TOO_LARGE"),
        "{err}"
    );
    assert!(
        !err.contains("line 1:") && !err.contains("line 3:"),
        "{err}"
    );
    assert!(
        err.contains("1 of 3 records were not acknowledged"),
        "{err}"
    );
    let (out, err, code) = consume(&broker, "small", 2, &["--property", "print.offset=true"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        String::from_utf8_lossy(&out),
        "Offset:0\tok1\nOffset:1\tok2\n"
    );
}

/// A record over the producer's `max.request.size` fails alone, as the Java producer's send
/// does: the lines after it are still sent, and the summary counts it.
#[test]
fn a_record_over_max_request_size_fails_alone_and_the_next_lines_are_sent() {
    let broker = TestBroker::start();
    let input = format!("{}\nok\n", "a".repeat(2000));
    let (err, code) = produce(
        &broker,
        "big",
        input.as_bytes(),
        &["--producer-property", "max.request.size=1500"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("line 1:") && err.contains("max.request.size"),
        "{err}"
    );
    assert!(
        err.contains("1 of 2 records were not acknowledged"),
        "{err}"
    );
    let (out, err, code) = consume(&broker, "big", 1, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8_lossy(&out), "ok\n");
}

/// A console tool run with its stdin, stdout and stderr held by the test, to signal it
/// mid-work.
struct Interactive {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Interactive {
    fn spawn(args: &[&str], log: &str) -> Interactive {
        use std::io::BufRead;
        let mut child = std::process::Command::new(kfk())
            .args(args)
            .env("KFK_LOG", log)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn kfk");
        let stdin = child.stdin.take();
        let collect = |from: Box<dyn std::io::Read + Send>| {
            let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let sink = lines.clone();
            std::thread::spawn(move || {
                for l in std::io::BufReader::new(from).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(l);
                }
            });
            lines
        };
        let stderr = collect(Box::new(child.stderr.take().expect("stderr")));
        let stdout = collect(Box::new(child.stdout.take().expect("stdout")));
        Interactive {
            child,
            stdin,
            stderr,
            stdout,
        }
    }

    fn stdout_lines(&self) -> usize {
        self.stdout.lock().unwrap().len()
    }

    fn write(&mut self, text: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    fn wait_for(&self, text: &str, timeout: Duration) -> bool {
        let until = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < until {
            if self.stderr().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// The exit code, if it exits within `timeout`.
    fn exit_within(&mut self, timeout: Duration) -> Option<i32> {
        let until = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Interactive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Issue 25 item 3: SIGINT (and SIGTERM) right after a line is read — while the producer
/// still waits for the topic to be auto-created — sends that line before the tool exits, as
/// Kafka's shutdown hook closes (and so flushes) the producer. Before, the signal killed
/// the process with the record still held (linger.ms is 1000 in the console producer).
#[test]
fn a_signal_right_after_a_line_is_read_sends_it_before_exiting() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    for (sig, topic) in [(libc::SIGINT, "auto-int"), (libc::SIGTERM, "auto-term")] {
        let mut p = Interactive::spawn(
            &[
                "console-producer",
                "--bootstrap-server",
                &b,
                "--topic",
                topic,
            ],
            "kfk::cli::console_producer=debug",
        );
        p.write("held\n");
        assert!(
            p.wait_for("read line=1", Duration::from_secs(20)),
            "{}",
            p.stderr()
        );
        p.signal(sig);
        assert_eq!(
            p.exit_within(Duration::from_secs(30)),
            Some(0),
            "{}",
            p.stderr()
        );
        let (out, err, code) = consume(&broker, topic, 1, &[]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(String::from_utf8_lossy(&out), "held\n", "{}", p.stderr());
    }
}

/// A second signal exits at once, even while the producer still waits for a broker that is
/// gone (kfk's choice: the JVM has no such escape).
#[test]
fn a_second_signal_exits_the_producer_at_once() {
    let mut broker = TestBroker::start();
    let b = broker.bootstrap();
    let (err, code) = produce(&broker, "gone", b"0\n", &[]);
    assert_eq!(code, 0, "{err}");
    let mut p = Interactive::spawn(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "gone",
        ],
        "kfk::cli::console_producer=debug",
    );
    p.write("first\n");
    assert!(
        p.wait_for("read line=1", Duration::from_secs(20)),
        "{}",
        p.stderr()
    );
    broker.kill9();
    p.write("second\n");
    assert!(
        p.wait_for("read line=2", Duration::from_secs(20)),
        "{}",
        p.stderr()
    );
    p.signal(libc::SIGINT);
    assert!(
        p.wait_for("sending the records read so far", Duration::from_secs(5)),
        "{}",
        p.stderr()
    );
    assert_eq!(
        p.exit_within(Duration::from_secs(2)),
        None,
        "it waits to send"
    );
    p.signal(libc::SIGINT);
    assert_eq!(
        p.exit_within(Duration::from_secs(5)),
        Some(130),
        "{}",
        p.stderr()
    );
}

/// Issue 25 item 4: Ctrl-C ends a group consumer whose broker is gone within the Java
/// consumer's close timeout (30 s), saying what it waits for; a second Ctrl-C at once.
/// Before, the close took 196 s, silently.
#[test]
fn ctrl_c_ends_a_group_consumer_whose_broker_is_gone() {
    let mut broker = TestBroker::start();
    let b = broker.bootstrap();
    let (err, code) = produce(&broker, "cg", b"1\n2\n", &[]);
    assert_eq!(code, 0, "{err}");
    let consumer = |group: &str| {
        Interactive::spawn(
            &[
                "console-consumer",
                "--bootstrap-server",
                &b,
                "--topic",
                "cg",
                "--group",
                group,
                "--from-beginning",
            ],
            "kfk::cli=debug",
        )
    };
    let mut first = consumer("g1");
    let mut second = consumer("g2");
    for c in [&first, &second] {
        // In its group once it has read the records.
        let read = (0..1000).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            c.stdout_lines() == 2
        });
        assert!(read, "{}", c.stderr());
    }
    broker.kill9();
    std::thread::sleep(Duration::from_secs(1));
    // One Ctrl-C: the close is bounded and says what it waits for.
    first.signal(libc::SIGINT);
    assert!(
        first.wait_for(
            "committing offsets and leaving group g1 (at most 30 s)",
            Duration::from_secs(5)
        ),
        "{}",
        first.stderr()
    );
    let code = first.exit_within(Duration::from_secs(40));
    assert!(
        code.is_some(),
        "still running 40 s after Ctrl-C: {}",
        first.stderr()
    );
    assert!(
        first.stderr().contains("Processed a total of 2 messages"),
        "{}",
        first.stderr()
    );
    // Two: at once.
    second.signal(libc::SIGINT);
    assert!(
        second.wait_for("leaving group g2", Duration::from_secs(5)),
        "{}",
        second.stderr()
    );
    second.signal(libc::SIGINT);
    assert_eq!(
        second.exit_within(Duration::from_secs(5)),
        Some(130),
        "{}",
        second.stderr()
    );
}

/// Issue 25 item 5: a producer that waits (for a topic the cluster does not know, with
/// auto-creation off; for a broker that died) keeps Kafka's timeouts but says, once, after a
/// few seconds what it waits for and how long it may still wait.
#[test]
fn a_waiting_producer_says_what_it_waits_for() {
    let mut broker = TestBroker::start_with(&["--override", "auto.create.topics.enable=false"]);
    let b = broker.bootstrap();
    let mut unknown = Interactive::spawn(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "nope",
        ],
        "warn",
    );
    unknown.write("x\n");
    assert!(
        unknown.wait_for(
            "still waiting for metadata of topic nope after 5 s: the cluster does not have it (is auto.create.topics.enable off?); giving up in",
            Duration::from_secs(15)
        ),
        "{}",
        unknown.stderr()
    );
    let (_, err, code) = run_with_input(
        kfk(),
        &[
            "topics",
            "--bootstrap-server",
            &b,
            "--create",
            "--topic",
            "known",
        ],
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{err}");
    let mut dead = Interactive::spawn(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "known",
        ],
        "kfk::cli::console_producer=debug,warn",
    );
    dead.write("1\n");
    assert!(
        dead.wait_for("read line=1", Duration::from_secs(20)),
        "{}",
        dead.stderr()
    );
    broker.kill9();
    assert!(
        dead.wait_for(
            "records for known-0 not acknowledged after 5 s",
            Duration::from_secs(15)
        ),
        "{}",
        dead.stderr()
    );
    assert!(
        dead.stderr().contains("delivery.timeout.ms (120000 ms)"),
        "{}",
        dead.stderr()
    );
    let _ = unknown.exit_within(Duration::ZERO);
}
