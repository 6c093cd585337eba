//! Zero-copy fetch: large record regions go from the segment file to the socket with
//! `sendfile`, never copied into the broker's memory; a segment that shrinks while it is
//! being sent closes the connection instead of sending bytes that are not there.

mod common;

use common::{batch_of, RawClient};
use kfk::broker::config::BrokerConfig;
use kfk::broker::{handlers, splice, start_with_fs};
use kfk::log::{LogFs, OsFs};
use kfk::protocol::messages::fetch_request::FetchRequest;
use kfk::protocol::{ApiKey, RequestBody, ResponseBody};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

fn fetch_request(topic: &str, max_bytes: i32) -> FetchRequest {
    common::fetch_request(topic, 0, 0, 0, max_bytes)
}

fn broker_on_disk(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
) -> kfk::broker::RunningBroker {
    let config = BrokerConfig::load(
        None,
        &[
            "listeners=PLAINTEXT://127.0.0.1:0".into(),
            format!("log.dirs={}", dir.display()),
        ],
    )
    .unwrap();
    let fs: Arc<dyn LogFs> = Arc::new(OsFs);
    rt.block_on(start_with_fs(config, fs)).unwrap()
}

#[test]
fn large_fetches_carry_placeholders_for_regions_sent_from_the_file() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let running = broker_on_disk(&rt, tmp.path());
    let mut client = RawClient::connect(&running.local_addr().to_string());
    assert_eq!(client.create_topic("spliced", 1, &[]), 0);
    let value = "z".repeat(200_000);
    for _ in 0..5 {
        assert_eq!(client.produce("spliced", 0, batch_of(&[&value], None)).0, 0);
    }
    let (body, regions) = rt.block_on(handlers::fetch::handle(
        &running.broker,
        fetch_request("spliced", 8 << 20),
        12,
        0,
    ));
    let ResponseBody::Fetch(r) = body else {
        panic!()
    };
    let records = r.responses[0].partitions[0].records.clone().unwrap();
    assert!(
        splice::is_placeholder(&records),
        "records were copied into memory"
    );
    assert_eq!(regions.len(), 1);
    assert_eq!(regions[0].length as usize, records.len());
    // Through the socket the client gets the real bytes.
    assert_eq!(client.fetch_all("spliced", 0).len(), 5);
    rt.block_on(running.shutdown()).unwrap();
}

#[test]
fn a_segment_that_shrinks_while_it_is_sent_closes_the_connection() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let running = broker_on_disk(&rt, tmp.path());
    let addr = running.local_addr().to_string();
    let mut client = RawClient::connect(&addr);
    assert_eq!(client.create_topic("shrinking", 1, &[]), 0);
    let value = "s".repeat(500_000);
    for _ in 0..16 {
        assert_eq!(
            client.produce("shrinking", 0, batch_of(&[&value], None)).0,
            0
        );
    }
    // A reader that takes nothing yet: the broker's sendfile stops when the socket buffers
    // are full, in the middle of the 8 MB region.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket
        .connect(&addr.parse::<std::net::SocketAddr>().unwrap().into())
        .unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    let frame = kfk::protocol::frame::encode_request_frame(
        ApiKey::Fetch,
        12,
        1,
        Some("slow"),
        &RequestBody::Fetch(fetch_request("shrinking", 16 << 20)),
    )
    .unwrap()
    .concat();
    stream.write_all(&frame).unwrap();
    std::thread::sleep(Duration::from_millis(500));

    // Follower truncation (or retention) cuts the segment under the send.
    running
        .broker
        .replicas
        .truncate_to("shrinking", 0, 1)
        .unwrap();

    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).unwrap();
    let declared = i32::from_be_bytes(prefix) as usize;
    let mut received = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received += n,
            Err(e) => panic!("the connection was neither finished nor closed: {e}"),
        }
    }
    assert!(
        received < declared,
        "the whole response ({declared} bytes) arrived although the segment shrank"
    );
    assert!(declared > 7_000_000, "{declared}");
    rt.block_on(running.shutdown()).unwrap();
}
