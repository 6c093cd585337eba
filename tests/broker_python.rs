//! kafka-python against the broker: producer in every codec, consumer with assign and
//! seek_to_beginning, and the admin client on topics and configs (tests/interop/).

mod common;

use common::{require_python_module, TestBroker};
use std::process::Command;

#[test]
fn kafka_python_producer_consumer_and_admin_client_work() {
    if !require_python_module(
        "kafka_python_producer_consumer_and_admin_client_work",
        "kafka",
    ) {
        return;
    }
    let broker = TestBroker::start();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/kafka_python_broker.py"
    );
    let out = Command::new("python3")
        .args([script, &broker.bootstrap()])
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{stdout}\n{stderr}\nbroker: {:?}",
        broker.log.lock().unwrap()
    );
    assert!(
        stdout.contains("all checks passed (1500 records)"),
        "{stdout}"
    );
}

/// kafka-python's own integration suite (its PyPI sdist at the pinned version, fetched by
/// scripts/interop-deps.sh) against one kfk node started as Kafka's `kafka-server-start.sh`
/// would start the suite's broker (node.id 0 and the fixture's settings), with
/// KAFKA_VERSION=4.0.0. Only its transaction and ACL tests may fail (kfk has neither yet),
/// and its SSL tests, which spawn a broker of their own with a TLS listener (issue 27).
#[test]
fn kafka_pythons_integration_suite_passes_but_for_transactions_acls_and_tls() {
    let test = "kafka_pythons_integration_suite_passes_but_for_transactions_acls_and_tls";
    for module in ["kafka", "pytest", "pytest_timeout", "pytest_mock", "py"] {
        if !require_python_module(test, module) {
            return;
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let versions = std::fs::read_to_string(root.join("tests/interop/versions.env")).unwrap();
    let version = versions
        .lines()
        .find_map(|l| l.strip_prefix("KAFKA_PYTHON_VERSION="))
        .unwrap()
        .trim();
    let suite = root.join(format!("target/kafka-python-suite/kafka_python-{version}"));
    if !suite.join("test/integration").is_dir() {
        if std::env::var("KFK_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("{test}: needs kafka-python's test suite: run scripts/interop-deps.sh");
        }
        println!("SKIPPED {test}: needs kafka-python's test suite (scripts/interop-deps.sh)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = tmp.path().join("kafka.properties");
    std::fs::write(
        &config,
        format!(
            "node.id=0\nlisteners=PLAINTEXT://127.0.0.1:{port}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
             log.dirs={}\nnum.partitions=4\ndefault.replication.factor=1\n\
             replica.lag.time.max.ms=1000\noffsets.topic.replication.factor=1\n\
             log.cleaner.enable=false\noffsets.topic.num.partitions=2\n\
             group.min.session.timeout.ms=1000\ngroup.initial.rebalance.delay.ms=0\n",
            tmp.path().join("data").display()
        ),
    )
    .unwrap();
    let link = tmp.path().join("kafka-server-start.sh");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kfk"), &link).unwrap();
    let mut kfk = Command::new(&link)
        .arg(&config)
        .env("KFK_LOG", "warn")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let up = common::cluster::wait_until(std::time::Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "the broker did not start");
    let out = Command::new("python3")
        .args([
            "-m",
            "pytest",
            "test/integration",
            "-p",
            "no:cacheprovider",
            "--timeout",
            "120",
            "-q",
            "-rfE",
            "-W",
            "ignore",
            "-p",
            "no:logging",
        ])
        .current_dir(&suite)
        .env("KAFKA_VERSION", "4.0.0")
        .env("KAFKA_URI", format!("kafka://127.0.0.1:{port}"))
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let _ = kfk.kill();
    let _ = kfk.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("FAILED ") || l.starts_with("ERROR "))
        .collect();
    let unexpected: Vec<&&str> = failed
        .iter()
        .filter(|l| {
            let name = l.split_whitespace().nth(1).unwrap_or("");
            !(name.contains("transaction")
                || name.contains("acl")
                || name.starts_with("test/integration/test_ssl_integration.py"))
        })
        .collect();
    // pytest's summary line: "5 failed, 57 passed, 11 skipped, 2 errors in 15.83s".
    let summary = stdout
        .lines()
        .rfind(|l| l.contains(" passed") && l.contains(" in "))
        .unwrap_or("")
        .trim_matches(|c| c == '=' || c == ' ')
        .to_string();
    println!("kafka-python {version} integration suite: {summary}; failed: {failed:#?}");
    assert!(unexpected.is_empty(), "{unexpected:#?}\n{stdout}");
    let passed: usize = summary
        .split(", ")
        .find_map(|part| part.trim().strip_suffix(" passed"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 45, "{summary}");
}
