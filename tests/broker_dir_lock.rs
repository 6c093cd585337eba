//! A data dir serves one broker at a time: kfk locks `<dir>/.lock` as Kafka does (an fcntl
//! lock, the kind Java's `FileChannel.tryLock` takes), so a second kfk broker, or an Apache
//! Kafka broker, on a live dir is refused before it touches anything there, and kfk refuses
//! a dir a running Apache Kafka uses.

mod common;

use common::{run_with_input, RawClient, TestBroker};
use std::path::Path;
use std::time::Duration;

const LOCKED: &str = "Failed to acquire lock on file .lock in";

fn kfk_broker_on(dir: &Path) -> (String, i32) {
    let (_, err, code) = run_with_input(
        Path::new(env!("CARGO_BIN_EXE_kfk")),
        &[
            "broker",
            "start",
            "--listeners",
            "PLAINTEXT://127.0.0.1:0",
            "--data-dir",
            dir.to_str().unwrap(),
        ],
        b"",
        Duration::from_secs(30),
    );
    (err, code)
}

#[test]
fn a_second_kfk_broker_on_a_live_data_dir_is_refused_and_leaves_it_alone() {
    let mut first = TestBroker::start();
    assert_eq!(
        RawClient::connect(&first.bootstrap()).create_topic("t", 1, &[]),
        0
    );
    let (err, code) = kfk_broker_on(&first.dir);
    assert_ne!(code, 0, "a second broker started on a live dir: {err}");
    assert!(
        err.contains(&format!(
            "{LOCKED} {}. A Kafka instance in another process or thread is using this directory.",
            first.dir.display()
        )),
        "{err}"
    );
    assert!(!err.contains("recovered"), "it opened the logs: {err}");
    assert!(
        !first.dir.join(".kafka_cleanshutdown").exists(),
        "the refused broker wrote the clean-shutdown marker into the live dir"
    );
    // The first broker goes on serving; once it stops, the dir can be used again.
    assert_eq!(
        RawClient::connect(&first.bootstrap()).create_topic("u", 1, &[]),
        0
    );
    first.stop();
    first.restart();
    assert_eq!(
        RawClient::connect(&first.bootstrap()).create_topic("v", 1, &[]),
        0
    );
}

/// The reverse direction needs a Kafka of its own on a dir of this test's (not the shared
/// reference broker): `kafka.Kafka` with a single-node config whose `log.dirs` is kfk's.
fn apache_kafka_on(script: &Path, dir: &Path) -> (String, i32) {
    let port = |_| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (p, c) = (port(0), port(1));
    let config = dir.with_extension("properties");
    std::fs::write(
        &config,
        format!(
            "process.roles=broker,controller\nnode.id=1\ncontroller.quorum.voters=1@127.0.0.1:{c}\n\
             listeners=PLAINTEXT://127.0.0.1:{p},CONTROLLER://127.0.0.1:{c}\n\
             controller.listener.names=CONTROLLER\ninter.broker.listener.name=PLAINTEXT\n\
             listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n\
             log.dirs={}\n",
            dir.display()
        ),
    )
    .unwrap();
    let (out, err, code) = run_with_input(
        script,
        &["run", "kafka.Kafka", config.to_str().unwrap()],
        b"",
        Duration::from_secs(120),
    );
    (String::from_utf8_lossy(&out).into_owned() + &err, code)
}

#[test]
fn kfk_and_apache_kafka_refuse_each_others_live_data_dirs() {
    let test = "kfk_and_apache_kafka_refuse_each_others_live_data_dirs";
    let Some(script) = common::require_kafka_reference(test) else {
        return;
    };
    // kfk on a dir a running Apache Kafka uses.
    let kafka = common::apache_kafka(test).expect("reference broker");
    let kafka_dir = kafka.dir.join("data");
    let (err, code) = kfk_broker_on(&kafka_dir);
    assert_ne!(code, 0, "kfk started on Apache Kafka's live dir: {err}");
    assert!(
        err.contains(&format!("{LOCKED} {}", kafka_dir.display())),
        "{err}"
    );
    assert!(!kafka_dir.join(".kafka_cleanshutdown").exists());

    // Apache Kafka on a dir a running kfk broker uses.
    let kfk = TestBroker::start();
    let (output, code) = apache_kafka_on(&script, &kfk.dir);
    assert_ne!(code, 0, "Apache Kafka started on kfk's live dir: {output}");
    assert!(
        output.contains(&format!("{LOCKED} {}", kfk.dir.display())),
        "{output}"
    );
    assert_eq!(
        RawClient::connect(&kfk.bootstrap()).create_topic("t", 1, &[]),
        0
    );
}
