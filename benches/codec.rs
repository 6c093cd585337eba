//! `cargo bench --bench codec`: the protocol hot paths against the figures of issue 2.
//! - decode + re-encode of a ProduceRequest carrying 1 MiB of record batches (< 100 µs);
//! - validating a 1 MiB uncompressed batch: CRC32C and record walk (>= 5 GB/s).
//!
//! Plain `Instant` timing, median of many runs; no benchmark framework needed.

use bytes::Bytes;
use kfk::protocol::frame::{decode_request_frame, encode_request_frame};
use kfk::protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kfk::protocol::record_batch::{validate, BatchBuilder};
use kfk::protocol::{ApiKey, Compression, RequestBody};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn median_of(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn batch_of(total_bytes: usize, value_bytes: usize) -> Bytes {
    let value = vec![b'v'; value_bytes];
    let mut b = BatchBuilder::new();
    while b.estimated_size() < total_bytes {
        b.append(1_700_000_000_000, Some(b"key"), Some(&value), &[]);
    }
    b.build(Compression::None)
}

fn produce_frame(records: Bytes) -> Bytes {
    let body = RequestBody::Produce(ProduceRequest {
        acks: 1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: "bench".into(),
            partition_data: (0..64)
                .map(|i| {
                    let chunk = records.len() / 64;
                    PartitionProduceData {
                        index: i,
                        records: Some(records.slice(0..chunk)),
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    });
    encode_request_frame(ApiKey::Produce, 9, 1, Some("bench"), &body)
        .unwrap()
        .concat()
        .into()
}

fn main() {
    let one_mib = 1 << 20;
    // One 1 MiB batch per partition in one request, and 64 partitions of 16 KiB each.
    for (label, frame) in [
        ("1 partition x 1 MiB batch", {
            let body = RequestBody::Produce(ProduceRequest {
                acks: 1,
                timeout_ms: 1000,
                topic_data: vec![TopicProduceData {
                    name: "bench".into(),
                    partition_data: vec![PartitionProduceData {
                        index: 0,
                        records: Some(batch_of(one_mib, 1000)),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            });
            Bytes::from(
                encode_request_frame(ApiKey::Produce, 9, 1, Some("bench"), &body)
                    .unwrap()
                    .concat(),
            )
        }),
        (
            "64 partitions x 16 KiB",
            produce_frame(batch_of(one_mib, 1000)),
        ),
    ] {
        let t = median_of(2000, || {
            let request = decode_request_frame(black_box(&frame)).unwrap();
            let chunks =
                encode_request_frame(ApiKey::Produce, 9, 2, Some("bench"), &request.body).unwrap();
            black_box(chunks);
        });
        println!(
            "produce decode + re-encode, {label} ({} bytes): {:.1} us",
            frame.len(),
            t.as_secs_f64() * 1e6
        );
    }
    for value_bytes in [1000, 100] {
        let batch = batch_of(one_mib, value_bytes);
        let t = median_of(500, || {
            black_box(validate(black_box(&batch), 64 << 20).unwrap());
        });
        let gbps = batch.len() as f64 / t.as_secs_f64() / 1e9;
        println!("validate 1 MiB uncompressed batch of {value_bytes}-byte values: {:.1} us, {gbps:.2} GB/s", t.as_secs_f64() * 1e6);
    }
    let batch = batch_of(one_mib, 1000);
    let t = median_of(500, || {
        black_box(crc32c::crc32c(black_box(&batch)));
    });
    println!(
        "CRC32C alone over 1 MiB: {:.2} GB/s",
        batch.len() as f64 / t.as_secs_f64() / 1e9
    );
}
