//! Shared helpers for black-box tests: a `kfk broker` child process on 127.0.0.1 port 0
//! with a temporary data dir, and the `KFK_REQUIRE_INTEROP` rule for third-party tools.
#![allow(dead_code)]

pub mod cluster;
pub mod proxy;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A broker process started by a test; killed when dropped.
pub struct TestBroker {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub log: Arc<Mutex<Vec<String>>>,
    extra: Vec<String>,
}

impl TestBroker {
    /// A broker on a fresh temporary data dir.
    pub fn start() -> TestBroker {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> TestBroker {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("data");
        let mut b = Self::spawn(dir, extra.iter().map(|s| s.to_string()).collect());
        b._tmp = Some(tmp);
        b
    }

    /// A broker on an existing data dir (kept after the test: the caller owns it).
    pub fn start_on(dir: &Path, extra: &[&str]) -> TestBroker {
        Self::spawn(
            dir.to_path_buf(),
            extra.iter().map(|s| s.to_string()).collect(),
        )
    }

    fn spawn(dir: PathBuf, extra: Vec<String>) -> TestBroker {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kfk"));
        cmd.args([
            "broker",
            "start",
            "--listeners",
            "PLAINTEXT://127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&dir)
        .args(&extra);
        cmd.env(
            "KFK_LOG",
            std::env::var("KFK_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        );
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start kfk broker");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on 127.0.0.1:").nth(1) {
                    let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = tx.send(port.parse::<u16>().unwrap_or(0));
                }
                sink.lock().unwrap().push(line);
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("broker did not start: {:?}", log.lock().unwrap()));
        TestBroker {
            child: Some(child),
            port,
            dir,
            _tmp: None,
            log,
            extra,
        }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// SIGTERM and wait: a clean shutdown.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child process.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let asked = Instant::now();
            let status = child.wait().expect("wait");
            if asked.elapsed() > Duration::from_secs(3) {
                eprintln!(
                    "the broker took {:?} to stop: {:#?}",
                    asked.elapsed(),
                    self.log.lock().unwrap()
                );
            }
            assert!(
                status.success(),
                "broker exited with {status}: {:?}",
                self.log.lock().unwrap()
            );
        }
    }

    /// SIGKILL: the process dies without any shutdown work.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a broker again on the same data dir (after `stop` or `kill9`).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop or kill the broker first");
        let mut again = Self::spawn(self.dir.clone(), self.extra.clone());
        self.port = again.port;
        self.log = again.log.clone();
        self.child = again.child.take();
    }

    /// A `/proc/<pid>/status` field of the broker in KiB (`VmRSS`, `VmHWM`, ...).
    fn status_kib(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// The broker's resident set size in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS")
    }

    /// The broker's peak resident set size in KiB so far.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM")
    }

    pub fn is_alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Raises this test process's open-files limit to the hard limit (tests with many sockets).
pub fn raise_fd_limit() {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: get/setrlimit only touch the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// A consumer's Fetch (v12 layout, by topic name) of one partition from `offset`: up to
/// `max_bytes`, waiting up to `max_wait_ms` for at least one byte.
pub fn fetch_request(
    topic: &str,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
    max_bytes: i32,
) -> kfk::protocol::messages::fetch_request::FetchRequest {
    use kfk::protocol::messages::fetch_request::*;
    FetchRequest {
        replica_id: -1,
        max_wait_ms,
        min_bytes: i32::from(max_wait_ms > 0),
        max_bytes,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition,
                fetch_offset: offset,
                partition_max_bytes: max_bytes,
                current_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Opens `count` connections that each send a Fetch v12 of `topic`-0 at `offset` with
/// `max_wait_ms` 30000 and never read the answer: long-polls parked at the log end.
pub fn park_long_polls(
    addr: &str,
    topic: &str,
    offset: i64,
    count: usize,
) -> Vec<std::net::TcpStream> {
    use std::io::Write;
    let body = kfk::protocol::RequestBody::Fetch(fetch_request(topic, 0, offset, 30_000, 1 << 20));
    let frame: Vec<u8> = kfk::protocol::frame::encode_request_frame(
        kfk::protocol::ApiKey::Fetch,
        12,
        1,
        Some("long-poll"),
        &body,
    )
    .expect("encode")
    .concat();
    (0..count)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            s.write_all(&frame).expect("send the fetch");
            s
        })
        .collect()
}

/// The path of a third-party tool, or `None` after printing `SKIPPED <test>: needs <tool>`;
/// with `KFK_REQUIRE_INTEROP=1` a missing tool fails the test instead.
pub fn require_tool(test: &str, tool: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("KFK_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("{test}: needs {tool}, which is not installed (KFK_REQUIRE_INTEROP=1)");
        }
        println!("SKIPPED {test}: needs {tool}");
    }
    found
}

/// Whether `python3 -c "import <module>"` works; same skip/fail rule as [`require_tool`].
pub fn require_python_module(test: &str, module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("KFK_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("{test}: needs the Python module {module} (KFK_REQUIRE_INTEROP=1)");
        }
        println!("SKIPPED {test}: needs python3 -m {module}");
    }
    ok
}

/// Apache Kafka's reference jars (`scripts/kafka-reference.sh fetch`, run by `.ci/run`) and a
/// `java` to run them; `None` after printing `SKIPPED` when they are missing, a failure with
/// `KFK_REQUIRE_INTEROP=1`.
pub fn require_kafka_reference(test: &str) -> Option<PathBuf> {
    require_tool(test, "java")?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let versions = std::fs::read_to_string(root.join("tests/interop/versions.env")).ok()?;
    let version = versions
        .lines()
        .find_map(|l| l.strip_prefix("KAFKA_VERSION="))?
        .trim()
        .to_string();
    let done = root.join(format!("target/kafka-reference/{version}/.complete"));
    if !done.exists() {
        if std::env::var("KFK_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("{test}: needs Apache Kafka's jars: run scripts/kafka-reference.sh fetch (KFK_REQUIRE_INTEROP=1)");
        }
        println!("SKIPPED {test}: needs Apache Kafka's jars (scripts/kafka-reference.sh fetch)");
        return None;
    }
    Some(root.join("scripts/kafka-reference.sh"))
}

/// Compiles `tests/interop/java/src/Interop.java` (the Java client's scenarios) once per
/// test binary: the classpath to run it with, or `None` after `SKIPPED`.
pub fn java_interop(test: &str) -> Option<String> {
    let script = require_kafka_reference(test)?;
    require_tool(test, "javac")?;
    static CLASSPATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    Some(
        CLASSPATH
            .get_or_init(|| {
                let root = Path::new(env!("CARGO_MANIFEST_DIR"));
                let (libs, err, code) =
                    run_with_input(&script, &["classpath"], b"", Duration::from_secs(600));
                assert_eq!(code, 0, "kafka-reference.sh classpath: {err}");
                let libs = String::from_utf8(libs).unwrap().trim().to_string();
                let classes: PathBuf = root.join("target/interop-java/classes");
                std::fs::create_dir_all(&classes).unwrap();
                let out = Command::new("javac")
                    .args(["-nowarn", "-d"])
                    .arg(&classes)
                    .args(["-cp", &libs])
                    .arg(root.join("tests/interop/java/src/Interop.java"))
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "javac: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                format!("{}:{libs}", classes.display())
            })
            .clone(),
    )
}

/// Runs one of Kafka's own tools from the reference jars by its script name
/// (`kafka-consumer-groups`, ...): (stdout, stderr, exit code).
pub fn kafka_tool(script: &Path, tool: &str, args: &[&str]) -> (String, String, i32) {
    let mut all = vec!["tool", tool];
    all.extend_from_slice(args);
    let (out, err, code) = run_with_input(script, &all, b"", Duration::from_secs(120));
    (String::from_utf8_lossy(&out).into_owned(), err, code)
}

/// Runs a command with stdin bytes; returns (stdout, stderr, exit code). Killed and failed
/// after `timeout`.
pub fn run_with_input(
    program: &Path,
    args: &[&str],
    input: &[u8],
    timeout: Duration,
) -> (Vec<u8>, String, i32) {
    use std::io::{Read, Write};
    // cargo test puts target/ on LD_LIBRARY_PATH, where the bundled librdkafka of the rdkafka
    // dev-dependency (built without zlib) would shadow the system one kcat links.
    let mut child = Command::new(program)
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            let err = err_reader.join().unwrap_or_default();
            panic!(
                "{} {args:?} did not finish within {timeout:?}: {}",
                program.display(),
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    (
        out,
        String::from_utf8_lossy(&err).into_owned(),
        status.code().unwrap_or(-1),
    )
}

/// A minimal blocking protocol client on kfk's codec, for tests that need exact requests.
pub struct RawClient {
    stream: std::net::TcpStream,
    correlation_id: i32,
}

impl RawClient {
    pub fn connect(addr: &str) -> RawClient {
        let stream = std::net::TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        RawClient {
            stream,
            correlation_id: 0,
        }
    }

    /// Sends a request and reads its response.
    pub fn call(
        &mut self,
        api: kfk::protocol::ApiKey,
        version: i16,
        body: kfk::protocol::RequestBody,
    ) -> kfk::protocol::ResponseBody {
        use std::io::{Read, Write};
        self.correlation_id += 1;
        for chunk in kfk::protocol::frame::encode_request_frame(
            api,
            version,
            self.correlation_id,
            Some("kfk-test"),
            &body,
        )
        .expect("encode")
        {
            self.stream.write_all(&chunk).expect("write");
        }
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).expect("response length");
        let mut payload = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut payload).expect("response");
        let r = kfk::protocol::frame::decode_response_payload(
            api,
            version,
            &bytes::Bytes::from(payload),
        )
        .expect("decode");
        assert_eq!(r.correlation_id, self.correlation_id);
        r.body
    }

    /// Sends a whole frame as given (size prefix included) and returns the response payload
    /// after the size prefix, or `None` when the broker closed the connection instead.
    pub fn call_raw(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        use std::io::{Read, Write};
        self.stream.write_all(frame).ok()?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).ok()?;
        let mut payload = vec![0u8; usize::try_from(i32::from_be_bytes(len)).ok()?];
        self.stream.read_exact(&mut payload).ok()?;
        Some(payload)
    }

    /// Produces one batch (acks=-1) and returns (error code, base offset).
    pub fn produce(&mut self, topic: &str, partition: i32, batch: bytes::Bytes) -> (i16, i64) {
        self.produce_within(topic, partition, batch, 10_000)
    }

    /// Produces one batch (acks=-1) answered within `timeout_ms` (the request's timeout);
    /// returns (error code, base offset).
    pub fn produce_within(
        &mut self,
        topic: &str,
        partition: i32,
        batch: bytes::Bytes,
        timeout_ms: i32,
    ) -> (i16, i64) {
        use kfk::protocol::messages::produce_request::*;
        let body = kfk::protocol::RequestBody::Produce(ProduceRequest {
            acks: -1,
            timeout_ms,
            topic_data: vec![TopicProduceData {
                name: topic.into(),
                partition_data: vec![PartitionProduceData {
                    index: partition,
                    records: Some(batch),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        let kfk::protocol::ResponseBody::Produce(r) =
            self.call(kfk::protocol::ApiKey::Produce, 9, body)
        else {
            panic!("not a produce response")
        };
        let p = &r.responses[0].partition_responses[0];
        (p.error_code, p.base_offset)
    }

    /// Creates a topic; returns the error code.
    pub fn create_topic(&mut self, name: &str, partitions: i32, configs: &[(&str, &str)]) -> i16 {
        use kfk::protocol::messages::create_topics_request::*;
        let body = kfk::protocol::RequestBody::CreateTopics(CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: name.into(),
                num_partitions: partitions,
                replication_factor: 1,
                configs: configs
                    .iter()
                    .map(|(k, v)| CreatableTopicConfig {
                        name: k.to_string(),
                        value: Some(v.to_string()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        });
        let kfk::protocol::ResponseBody::CreateTopics(r) =
            self.call(kfk::protocol::ApiKey::CreateTopics, 7, body)
        else {
            panic!()
        };
        r.topics[0].error_code
    }

    /// The topic id and partition count from Metadata.
    pub fn topic_id(&mut self, name: &str) -> (kfk::protocol::Uuid, usize) {
        use kfk::protocol::messages::metadata_request::*;
        let body = kfk::protocol::RequestBody::Metadata(MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some(name.into()),
                ..Default::default()
            }]),
            allow_auto_topic_creation: false,
            ..Default::default()
        });
        let kfk::protocol::ResponseBody::Metadata(r) =
            self.call(kfk::protocol::ApiKey::Metadata, 12, body)
        else {
            panic!()
        };
        (r.topics[0].topic_id, r.topics[0].partitions.len())
    }

    /// (producer id, epoch) from InitProducerId.
    pub fn init_producer_id(&mut self) -> (i64, i16) {
        use kfk::protocol::messages::init_producer_id_request::*;
        let body = kfk::protocol::RequestBody::InitProducerId(InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: 60_000,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        });
        let kfk::protocol::ResponseBody::InitProducerId(r) =
            self.call(kfk::protocol::ApiKey::InitProducerId, 4, body)
        else {
            panic!()
        };
        assert_eq!(r.error_code, 0);
        (r.producer_id, r.producer_epoch)
    }

    /// Every record value of a partition from offset 0, via Fetch v12.
    pub fn fetch_all(&mut self, topic: &str, partition: i32) -> Vec<(i64, Option<bytes::Bytes>)> {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let body = kfk::protocol::RequestBody::Fetch(fetch_request(
                topic,
                partition,
                offset,
                0,
                1 << 20,
            ));
            let kfk::protocol::ResponseBody::Fetch(r) =
                self.call(kfk::protocol::ApiKey::Fetch, 12, body)
            else {
                panic!()
            };
            let p = &r.responses[0].partitions[0];
            assert_eq!(p.error_code, 0, "fetch error");
            let records = p.records.clone().unwrap_or_default();
            if records.is_empty() {
                return out;
            }
            for (_, batch) in kfk::protocol::record_batch::BatchIter::new(records) {
                kfk::protocol::record_batch::verify_crc(&batch).expect("valid batch");
                for r in
                    kfk::protocol::record_batch::decode_records(&batch, 1 << 26).expect("records")
                {
                    offset = r.offset + 1;
                    out.push((r.offset, r.value));
                }
            }
        }
    }
}

/// One batch of `values` (an idempotent one when `producer` is `Some((id, epoch, seq))`).
pub fn batch_of(values: &[&str], producer: Option<(i64, i16, i32)>) -> bytes::Bytes {
    let mut b = kfk::protocol::record_batch::BatchBuilder::new();
    if let Some((id, epoch, seq)) = producer {
        b.producer_id = id;
        b.producer_epoch = epoch;
        b.base_sequence = seq;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for v in values {
        b.append(now, None, Some(v.as_bytes()), &[]);
    }
    b.build(kfk::protocol::Compression::None)
}

/// One single-node Apache Kafka per test binary (`scripts/kafka-reference.sh start`), on free
/// loopback ports with a temp dir; stopped when the test process ends (the script watches our
/// pid). `None` after printing `SKIPPED` when the reference is missing.
pub struct ApacheKafka {
    pub bootstrap: String,
    /// Its work dir: `server.properties`, `server.log`, and the log dir `data/`.
    pub dir: PathBuf,
}

pub fn apache_kafka(test: &str) -> Option<&'static ApacheKafka> {
    let script = require_kafka_reference(test)?;
    static KAFKA: std::sync::OnceLock<ApacheKafka> = std::sync::OnceLock::new();
    Some(KAFKA.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("kfk-apache-kafka-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let pid = std::process::id().to_string();
        let (out, err, code) = run_with_input(
            &script,
            &["start", dir.to_str().unwrap(), &pid],
            b"",
            Duration::from_secs(180),
        );
        assert_eq!(code, 0, "starting Apache Kafka: {err}");
        ApacheKafka {
            bootstrap: String::from_utf8(out).unwrap().trim().to_string(),
            dir,
        }
    }))
}
