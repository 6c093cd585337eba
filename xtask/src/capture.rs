//! `xtask capture --port P --out DIR`: a minimal stand-in broker on 127.0.0.1 that answers
//! just enough (ApiVersions, Metadata, InitProducerId, Produce, Fetch, ListOffsets,
//! FindCoordinator, JoinGroup) for real clients to send their requests, and saves every
//! request frame as `DIR/<seq>-<api>-v<version>.bin`. Used to record the golden frames in
//! `tests/fixtures/`; it stores nothing and is not a broker.

use bytes::Bytes;
use kfk::protocol::frame::{decode_request_frame, encode_response_frame};
use kfk::protocol::messages::*;
use kfk::protocol::{ApiKey, RequestBody, ResponseBody};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const CAPTURED_APIS: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::ApiVersions,
    ApiKey::InitProducerId,
];

pub fn run(port: u16, out: PathBuf) -> Result<(), String> {
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("bind: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    eprintln!("capturing on 127.0.0.1:{port} into {}", out.display());
    let seq = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming().flatten() {
        let (out, seq) = (out.clone(), seq.clone());
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, port, &out, &seq) {
                eprintln!("connection ended: {e}");
            }
        });
    }
    Ok(())
}

fn serve(mut stream: TcpStream, port: u16, out: &Path, seq: &AtomicUsize) -> std::io::Result<()> {
    loop {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len)?;
        let size = i32::from_be_bytes(len) as usize;
        let mut frame = len.to_vec();
        frame.resize(4 + size, 0);
        stream.read_exact(&mut frame[4..])?;
        let frame = Bytes::from(frame);
        let request = match decode_request_frame(&frame) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("undecodable frame: {e}");
                continue;
            }
        };
        let n = seq.fetch_add(1, Ordering::SeqCst);
        let name = format!(
            "{n:03}-{}-v{}.bin",
            request.api_key.name(),
            request.api_version
        );
        std::fs::write(out.join(&name), &frame)?;
        eprintln!("saved {name}");
        let Some(body) = answer(&request.body, port) else {
            continue;
        };
        let chunks = encode_response_frame(
            request.api_key,
            request.api_version,
            request.header.correlation_id,
            &body,
        )
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        for c in chunks {
            stream.write_all(&c)?;
        }
    }
}

fn answer(body: &RequestBody, port: u16) -> Option<ResponseBody> {
    Some(match body {
        RequestBody::ApiVersions(_) => {
            ResponseBody::ApiVersions(api_versions_response::ApiVersionsResponse {
                api_keys: CAPTURED_APIS
                    .iter()
                    .map(|k| api_versions_response::ApiVersion {
                        api_key: *k as i16,
                        min_version: kfk::broker::versions::range(*k).0,
                        max_version: kfk::broker::versions::range(*k).1,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::Metadata(m) => {
            let names: Vec<String> = match &m.topics {
                Some(t) if !t.is_empty() => t.iter().filter_map(|t| t.name.clone()).collect(),
                _ => vec!["golden".to_string()],
            };
            ResponseBody::Metadata(metadata_response::MetadataResponse {
                brokers: vec![metadata_response::MetadataResponseBroker {
                    node_id: 1,
                    host: "127.0.0.1".into(),
                    port: i32::from(port),
                    ..Default::default()
                }],
                cluster_id: Some("capture".into()),
                controller_id: 1,
                topics: names
                    .into_iter()
                    .map(|name| metadata_response::MetadataResponseTopic {
                        name: Some(name),
                        topic_id: kfk::protocol::Uuid([7; 16]),
                        partitions: vec![metadata_response::MetadataResponsePartition {
                            partition_index: 0,
                            leader_id: 1,
                            replica_nodes: vec![1],
                            isr_nodes: vec![1],
                            ..Default::default()
                        }],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::InitProducerId(_) => {
            ResponseBody::InitProducerId(init_producer_id_response::InitProducerIdResponse {
                producer_id: 1000,
                producer_epoch: 0,
                ..Default::default()
            })
        }
        RequestBody::Produce(p) => ResponseBody::Produce(produce_response::ProduceResponse {
            responses: p
                .topic_data
                .iter()
                .map(|t| produce_response::TopicProduceResponse {
                    name: t.name.clone(),
                    partition_responses: t
                        .partition_data
                        .iter()
                        .map(|pd| produce_response::PartitionProduceResponse {
                            index: pd.index,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::FindCoordinator(f) if f.coordinator_keys.is_empty() => {
            ResponseBody::FindCoordinator(find_coordinator_response::FindCoordinatorResponse {
                node_id: 1,
                host: "127.0.0.1".into(),
                port: i32::from(port),
                ..Default::default()
            })
        }
        RequestBody::FindCoordinator(f) => {
            ResponseBody::FindCoordinator(find_coordinator_response::FindCoordinatorResponse {
                coordinators: f
                    .coordinator_keys
                    .iter()
                    .map(|k| find_coordinator_response::Coordinator {
                        key: k.clone(),
                        node_id: 1,
                        host: "127.0.0.1".into(),
                        port: i32::from(port),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::ListOffsets(l) => {
            ResponseBody::ListOffsets(list_offsets_response::ListOffsetsResponse {
                topics: l
                    .topics
                    .iter()
                    .map(|t| list_offsets_response::ListOffsetsTopicResponse {
                        name: t.name.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| list_offsets_response::ListOffsetsPartitionResponse {
                                partition_index: p.partition_index,
                                offset: 0,
                                timestamp: -1,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::Fetch(f) => {
            std::thread::sleep(std::time::Duration::from_millis(
                f.max_wait_ms.clamp(0, 500) as u64,
            ));
            ResponseBody::Fetch(fetch_response::FetchResponse {
                responses: f
                    .topics
                    .iter()
                    .map(|t| fetch_response::FetchableTopicResponse {
                        topic: t.topic.clone(),
                        topic_id: t.topic_id,
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| fetch_response::PartitionData {
                                partition_index: p.partition,
                                records: Some(Bytes::new()),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        _ => return None,
    })
}
