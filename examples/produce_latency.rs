//! Produce latency on one connection, optionally while many idle long-polling fetches wait on
//! another topic: `cargo run --release --example produce_latency -- HOST:PORT PARKED COUNT`.
//! Sends COUNT produce requests (one 100-byte record each, acks=1) one after another and
//! prints `parked=N p50_us=.. p99_us=.. max_us=..`. Used by scripts/bench-longpoll-latency.sh.

use kfk::protocol::frame::{decode_response_payload, encode_request_frame};
use kfk::protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use kfk::protocol::messages::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use kfk::protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kfk::protocol::record_batch::BatchBuilder;
use kfk::protocol::{ApiKey, Compression, RequestBody, ResponseBody};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

fn call(s: &mut TcpStream, api: ApiKey, version: i16, body: RequestBody) -> ResponseBody {
    let frame = encode_request_frame(api, version, 1, Some("latency"), &body)
        .expect("encode")
        .concat();
    s.write_all(&frame).expect("send");
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("answer");
    let mut payload = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut payload).expect("answer");
    decode_response_payload(api, version, &payload.into())
        .expect("decode")
        .body
}

fn create(s: &mut TcpStream, topic: &str) {
    call(
        s,
        ApiKey::CreateTopics,
        7,
        RequestBody::CreateTopics(CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: topic.into(),
                num_partitions: 1,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 10_000,
            ..Default::default()
        }),
    );
}

fn park(addr: &str, topic: &str, count: usize) -> Vec<TcpStream> {
    let body = RequestBody::Fetch(FetchRequest {
        replica_id: -1,
        max_wait_ms: 30_000,
        min_bytes: 1,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition: 0,
                partition_max_bytes: 1 << 20,
                current_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let frame = encode_request_frame(ApiKey::Fetch, 12, 1, Some("idle"), &body)
        .expect("encode")
        .concat();
    (0..count)
        .map(|_| {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(&frame).expect("park");
            s
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = args.get(1).map_or("127.0.0.1:9092", String::as_str);
    let parked: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(0);
    let count: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(5000);
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).ok();
    let (hot, idle) = (format!("latency-{parked}"), format!("idle-{parked}"));
    create(&mut s, &hot);
    create(&mut s, &idle);
    let _waiting = park(addr, &idle, parked);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let value = vec![b'x'; 100];
    let mut latencies_us = Vec::with_capacity(count);
    for _ in 0..count {
        let mut b = BatchBuilder::new();
        b.append(0, None, Some(&value), &[]);
        let body = RequestBody::Produce(ProduceRequest {
            acks: 1,
            timeout_ms: 10_000,
            topic_data: vec![TopicProduceData {
                name: hot.clone(),
                partition_data: vec![PartitionProduceData {
                    index: 0,
                    records: Some(b.build(Compression::None)),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        let started = Instant::now();
        let ResponseBody::Produce(r) = call(&mut s, ApiKey::Produce, 9, body) else {
            panic!("not a produce answer")
        };
        latencies_us.push(started.elapsed().as_micros() as u64);
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    }
    latencies_us.sort_unstable();
    let at = |q: f64| latencies_us[((latencies_us.len() - 1) as f64 * q) as usize];
    println!(
        "parked={parked} p50_us={} p99_us={} max_us={}",
        at(0.5),
        at(0.99),
        latencies_us[latencies_us.len() - 1]
    );
}
