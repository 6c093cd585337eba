//! The broker started from config files as Kafka users have them (issue 11, item 3): Kafka 4's
//! own single-node `server.properties` starts one combined node with both listeners bound.

mod common;

use common::RawClient;
use kfk::protocol::messages::api_versions_request::ApiVersionsRequest;
use kfk::protocol::messages::metadata_request::MetadataRequest;
use kfk::protocol::{ApiKey, RequestBody, ResponseBody};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `kfk broker start` child with the given config file; its first stderr line (the
/// "started" line) is returned. Killed on drop.
struct Started {
    child: Child,
    banner: String,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(config: &Path, data: &Path) -> Result<Started, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kfk"))
        .args(["broker", "start", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .env("KFK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kfk");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) {
        if line.contains(" started in ") {
            return Ok(Started {
                child,
                banner: line,
            });
        }
        lines.push(line);
    }
    let _ = child.kill();
    let status = child.wait().unwrap();
    Err(format!("{status}: {}", lines.join("\n")))
}

fn kafka_4_config(
    dir: &Path,
    client_port: u16,
    controller_port: u16,
    edit: &dyn Fn(String) -> String,
) -> std::path::PathBuf {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/kafka-4-server.properties"
    ))
    .unwrap()
    .replace("9092", &client_port.to_string())
    .replace("9093", &controller_port.to_string());
    let path = dir.join("server.properties");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

fn metadata_broker(addr: &str) -> (String, i32) {
    let mut c = RawClient::connect(addr);
    let ResponseBody::Metadata(m) = c.call(
        ApiKey::Metadata,
        12,
        RequestBody::Metadata(MetadataRequest {
            topics: Some(Vec::new()),
            ..Default::default()
        }),
    ) else {
        panic!("not Metadata")
    };
    (m.brokers[0].host.clone(), m.brokers[0].port)
}

#[test]
fn kafka_4s_single_node_server_properties_starts_one_combined_node() {
    let tmp = tempfile::tempdir().unwrap();
    let (client_port, controller_port) = (free_port(), free_port());
    let config = kafka_4_config(tmp.path(), client_port, controller_port, &|t| t);
    let broker = start(&config, &tmp.path().join("data")).expect("the broker starts");
    // Empty hosts bind every interface, and both listeners are bound.
    assert!(
        broker.banner.contains(&format!("0.0.0.0:{client_port}"))
            && broker
                .banner
                .contains(&format!("0.0.0.0:{controller_port}")),
        "{}",
        broker.banner
    );

    // The client listener serves clients and advertises advertised.listeners' entry.
    let client = format!("127.0.0.1:{client_port}");
    assert_eq!(
        metadata_broker(&client),
        ("localhost".to_string(), i32::from(client_port))
    );
    let mut raw = RawClient::connect(&client);
    assert_eq!(raw.create_topic("on-kafka-4-config", 1, &[]), 0);
    let (code, _) = raw.produce("on-kafka-4-config", 0, common::batch_of(&["v"], None));
    assert_eq!(code, 0);

    // The controller listener answers ApiVersions with the controller's APIs only, and closes
    // the connection of a client that sends it a Metadata request.
    let controller = format!("127.0.0.1:{controller_port}");
    let mut c = RawClient::connect(&controller);
    let ResponseBody::ApiVersions(v) = c.call(
        ApiKey::ApiVersions,
        3,
        RequestBody::ApiVersions(ApiVersionsRequest {
            client_software_name: "test".into(),
            client_software_version: "1".into(),
            ..Default::default()
        }),
    ) else {
        panic!("not ApiVersions")
    };
    let keys: Vec<i16> = v.api_keys.iter().map(|k| k.api_key).collect();
    assert!(keys.contains(&(ApiKey::CreateTopics as i16)), "{keys:?}");
    assert!(!keys.contains(&(ApiKey::Produce as i16)), "{keys:?}");
    assert!(!keys.contains(&(ApiKey::Metadata as i16)), "{keys:?}");
    let frame: Vec<u8> = kfk::protocol::frame::encode_request_frame(
        ApiKey::Metadata,
        12,
        1,
        Some("test"),
        &RequestBody::Metadata(MetadataRequest::default()),
    )
    .unwrap()
    .concat();
    let mut s = TcpStream::connect(&controller).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&frame).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut buf).unwrap_or(0), 0, "closed without an answer");
}

#[test]
fn an_empty_host_without_advertised_listeners_advertises_the_canonical_host_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (client_port, controller_port) = (free_port(), free_port());
    let config = kafka_4_config(tmp.path(), client_port, controller_port, &|t| {
        t.lines()
            .filter(|l| !l.starts_with("advertised.listeners"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    let _broker = start(&config, &tmp.path().join("data")).expect("the broker starts");
    let expected = Command::new("hostname").arg("-f").output().unwrap();
    let expected = String::from_utf8_lossy(&expected.stdout).trim().to_string();
    let (host, port) = metadata_broker(&format!("127.0.0.1:{client_port}"));
    assert_eq!((host, port), (expected, i32::from(client_port)));
}

#[test]
fn advertising_0_0_0_0_is_refused_at_start_as_kafka_refuses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (client_port, controller_port) = (free_port(), free_port());
    let config = kafka_4_config(tmp.path(), client_port, controller_port, &|t| {
        t.replace("PLAINTEXT://localhost:", "PLAINTEXT://0.0.0.0:")
    });
    let err = start(&config, &tmp.path().join("data"))
        .err()
        .expect("refused");
    assert!(err.contains("nonroutable meta-address 0.0.0.0"), "{err}");
}

#[test]
fn the_older_controller_quorum_voters_form_also_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let (client_port, controller_port) = (free_port(), free_port());
    let config = kafka_4_config(tmp.path(), client_port, controller_port, &|t| {
        t.replace(
            &format!("controller.quorum.bootstrap.servers=localhost:{controller_port}"),
            &format!("controller.quorum.voters=1@localhost:{controller_port}"),
        )
    });
    let _broker = start(&config, &tmp.path().join("data")).expect("the broker starts");
    assert_eq!(
        metadata_broker(&format!("127.0.0.1:{client_port}")).1,
        i32::from(client_port)
    );
}
