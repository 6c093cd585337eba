//! Hostile input through the broker's frame entry point: tens of thousands of seeded random
//! and mutated frames must never panic, and decoding any frame may allocate at most
//! 2 × its size + 64 KiB at its peak (a counting global allocator measures it).
//!
//! The allocator counts per thread, so the harness's other threads do not disturb it.

use bytes::Bytes;
use kfk::protocol::frame::{decode_request_frame, encode_request_frame, FrameError};
use kfk::protocol::messages::{metadata_request, produce_request};
use kfk::protocol::record_batch::{validate, BatchBuilder, BatchIter};
use kfk::protocol::{ApiKey, Compression, RequestBody};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct CountingAllocator;

thread_local! {
    // Per thread, so other threads of the test harness cannot disturb a measurement.
    static CURRENT_BYTES: Cell<isize> = const { Cell::new(0) };
    static PEAK_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = CURRENT_BYTES.try_with(|c| {
        let now = c.get() + delta;
        c.set(now);
        let _ = PEAK_BYTES.try_with(|p| p.set(p.get().max(now)));
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters only
// observe sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Bytes this thread allocated at the peak of `f`, above what it held when `f` started.
fn peak_allocation_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = CURRENT_BYTES.with(Cell::get);
    PEAK_BYTES.with(|p| p.set(start));
    let out = f();
    let peak = PEAK_BYTES.with(Cell::get);
    (out, (peak - start).max(0) as usize)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<Bytes> {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<Bytes> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "bin"))
        .map(|e| Bytes::from(std::fs::read(e.path()).expect("fixture")))
        .collect();
    out.sort();
    let mut builder = BatchBuilder::new();
    for i in 0..50 {
        builder.append(
            i,
            Some(b"key"),
            Some(format!("value-{i}").as_bytes()),
            &[("h", Some(b"v"))],
        );
    }
    for codec in [Compression::None, Compression::Zstd] {
        let produce = produce_request::ProduceRequest {
            acks: -1,
            timeout_ms: 1000,
            topic_data: vec![produce_request::TopicProduceData {
                name: "t".into(),
                partition_data: vec![produce_request::PartitionProduceData {
                    index: 0,
                    records: Some(builder.build(codec)),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        for version in [3, 9, 11] {
            let body = RequestBody::Produce(produce.clone());
            out.push(
                encode_request_frame(ApiKey::Produce, version, 1, Some("x"), &body)
                    .unwrap()
                    .concat()
                    .into(),
            );
        }
    }
    let metadata = RequestBody::Metadata(metadata_request::MetadataRequest::default());
    out.push(
        encode_request_frame(ApiKey::Metadata, 0, 1, None, &metadata)
            .unwrap()
            .concat()
            .into(),
    );
    out
}

/// Large or boundary values a mutation writes over 4 bytes.
const NASTY: [u32; 7] = [
    0x7fff_ffff,
    0xffff_ffff,
    0x8000_0000,
    0x0338_0000,
    0x0000_ffff,
    0xffff_fffe,
    0x0100_0000,
];

fn mutate(rng: &mut Rng, seed: &Bytes) -> Vec<u8> {
    let mut f = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(f.len());
        match rng.below(6) {
            0 => f[at] ^= 1 << rng.below(8),
            1 => f[at] = rng.next() as u8,
            2 if at + 4 <= f.len() => {
                f[at..at + 4].copy_from_slice(&NASTY[rng.below(NASTY.len())].to_be_bytes())
            }
            3 => f.truncate(at.max(4)),
            4 => f.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
            _ if at + 2 <= f.len() => {
                f[at..at + 2].copy_from_slice(&(rng.next() as u16 | 0x8000).to_be_bytes())
            }
            _ => {}
        }
    }
    // Most mutations keep the size prefix honest so the body decoder is exercised.
    if rng.below(8) != 0 && f.len() >= 4 {
        let size = (f.len() - 4) as u32;
        f[0..4].copy_from_slice(&size.to_be_bytes());
    }
    f
}

fn random_frame(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(300);
    let mut f: Vec<u8> = (0..len + 12).map(|_| rng.next() as u8).collect();
    f[0..4].copy_from_slice(&((len + 8) as u32).to_be_bytes());
    // A real API key and a version in or near its range, so bodies get decoded.
    let key = kfk::protocol::messages::ALL_API_KEYS
        [rng.below(kfk::protocol::messages::ALL_API_KEYS.len())];
    let (_, max) = key.valid_versions();
    f[4..6].copy_from_slice(&(key as i16).to_be_bytes());
    f[6..8].copy_from_slice(&(rng.below(max as usize + 2) as i16).to_be_bytes());
    f
}

#[test]
fn random_and_mutated_frames_never_panic_and_stay_within_the_allocation_bound() {
    let seeds = seeds();
    let mut rng = Rng(0x005e_ed0f_4b1d);
    let (mut decoded, mut refused, mut batches) = (0, 0, 0);
    for i in 0..40_000 {
        let frame = if i % 4 == 0 {
            random_frame(&mut rng)
        } else {
            let seed = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, seed)
        };
        let frame = Bytes::from(frame);
        let (result, peak) = peak_allocation_of(|| decode_request_frame(&frame));
        let bound = 2 * frame.len() + 64 * 1024;
        assert!(
            peak <= bound,
            "frame {i} ({} bytes) allocated {peak} > {bound}: {:02x?}",
            frame.len(),
            &frame[..]
        );
        match result {
            Ok(request) => {
                decoded += 1;
                // Whatever records a hostile produce carries, validation answers without panic.
                if let RequestBody::Produce(p) = request.body {
                    for t in &p.topic_data {
                        for pd in &t.partition_data {
                            for (_, batch) in BatchIter::new(pd.records.clone().unwrap_or_default())
                            {
                                batches += 1;
                                let _ = validate(&batch, 1 << 20);
                            }
                        }
                    }
                }
            }
            Err(
                FrameError::Framing(_)
                | FrameError::Body { .. }
                | FrameError::UnsupportedVersion { .. }
                | FrameError::UnknownApiKey { .. },
            ) => refused += 1,
        }
    }
    println!("decoded {decoded}, refused {refused}, produce batches validated {batches}");
    assert!(
        decoded > 1000 && refused > 1000,
        "the generator must exercise both outcomes"
    );
}

#[test]
fn metadata_v0_frame_claiming_54_million_topics_allocates_nothing_large() {
    let mut frame = vec![0, 0, 0, 14, 0, 3, 0, 0, 0, 0, 0, 1, 0, 0];
    frame.extend_from_slice(&54_000_000i32.to_be_bytes());
    let frame = Bytes::from(frame);
    let (result, peak) = peak_allocation_of(|| decode_request_frame(&frame));
    assert!(result.is_err());
    assert!(peak <= 2 * 18 + 64 * 1024, "peak {peak}");
}

#[test]
fn the_counting_allocator_sees_allocations() {
    let (v, peak) = peak_allocation_of(|| vec![1u8; 1 << 20]);
    assert_eq!(v.len(), 1 << 20);
    assert!(peak >= 1 << 20, "peak {peak}");
}
