//! `cargo fuzz run request_frame`: any bytes through the broker's frame entry point, and the
//! record batches of any produce it decodes through validation. Neither may panic.
//! Seed corpus: `tests/fixtures/*.bin`; give a writable corpus first so libFuzzer does not
//! write into the fixtures: `mkdir -p corpus/request_frame && cargo fuzz run request_frame
//! corpus/request_frame ../tests/fixtures` (on stable Rust, with `RUSTC_BOOTSTRAP=1`).
#![no_main]

use bytes::Bytes;
use kfk::protocol::frame::decode_request_frame;
use kfk::protocol::record_batch::{validate, BatchIter};
use kfk::protocol::RequestBody;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let frame = Bytes::copy_from_slice(data);
    if let Ok(request) = decode_request_frame(&frame) {
        if let RequestBody::Produce(p) = request.body {
            for t in &p.topic_data {
                for pd in &t.partition_data {
                    for (_, batch) in BatchIter::new(pd.records.clone().unwrap_or_default()) {
                        let _ = validate(&batch, 1 << 20);
                    }
                }
            }
        }
    }
});
