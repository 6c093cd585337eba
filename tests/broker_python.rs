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
