//! A produce's record bytes are never copied by the codec: decoding slices them out of the
//! frame buffer, and encoding hands the same slice on as its own chunk.

use bytes::Bytes;
use kfk::protocol::frame::{decode_request_frame, encode_request_frame};
use kfk::protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kfk::protocol::record_batch::BatchBuilder;
use kfk::protocol::{ApiKey, Compression, RequestBody};

fn one_mib_of_batches() -> Bytes {
    let value = vec![b'x'; 1000];
    let mut out = Vec::new();
    while out.len() < 1 << 20 {
        let mut b = BatchBuilder::new();
        for _ in 0..16 {
            b.append(0, None, Some(&value), &[]);
        }
        out.extend_from_slice(&b.build(Compression::None));
    }
    Bytes::from(out)
}

#[test]
fn produce_records_are_slices_of_the_frame_and_are_encoded_as_their_own_chunk() {
    let records = one_mib_of_batches();
    let body = RequestBody::Produce(ProduceRequest {
        acks: 1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: "t".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(records.clone()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    for version in [3, 9] {
        let frame: Bytes = encode_request_frame(ApiKey::Produce, version, 1, Some("c"), &body)
            .unwrap()
            .concat()
            .into();
        let request = decode_request_frame(&frame).unwrap();
        let RequestBody::Produce(decoded) = &request.body else {
            panic!("not a produce")
        };
        let decoded_records = decoded.topic_data[0].partition_data[0]
            .records
            .as_ref()
            .unwrap();
        assert_eq!(decoded_records, &records);
        let frame_range = frame.as_ptr() as usize..frame.as_ptr() as usize + frame.len();
        assert!(
            frame_range.contains(&(decoded_records.as_ptr() as usize)),
            "records must point into the frame"
        );

        let chunks =
            encode_request_frame(ApiKey::Produce, version, 2, Some("c"), &request.body).unwrap();
        assert!(
            chunks.iter().any(|c| c.as_ptr() == decoded_records.as_ptr() && c.len() == decoded_records.len()),
            "re-encoding must hand the records on as their own chunk"
        );
    }
}
