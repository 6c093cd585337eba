//! Random but valid values of generated messages for the round-trip tests (test builds only).
//! `Sample::sample(rng, version)` fills every field that exists at `version` and leaves the
//! others at their defaults, so encode → decode must give back an equal value.

use super::codec::Uuid;
use bytes::Bytes;

/// A value that the round-trip tests can generate at a given version.
pub trait Sample {
    fn sample(rng: &mut SampleRng, version: i16) -> Self;
}

/// A small seeded xorshift generator: reproducible and dependency-free.
pub struct SampleRng {
    state: u64,
    /// Nesting depth, to keep recursive arrays small.
    depth: u32,
}

impl SampleRng {
    pub fn new(seed: u64) -> Self {
        SampleRng {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            depth: 0,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn i8(&mut self) -> i8 {
        self.next_u64() as i8
    }
    pub fn i16(&mut self) -> i16 {
        self.next_u64() as i16
    }
    pub fn i32(&mut self) -> i32 {
        self.next_u64() as i32
    }
    pub fn i64(&mut self) -> i64 {
        self.next_u64() as i64
    }
    pub fn u16(&mut self) -> u16 {
        self.next_u64() as u16
    }
    #[allow(dead_code)]
    pub fn u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() % 1_000_000) as f64 / 7.0
    }
    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
    pub fn uuid(&mut self) -> Uuid {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        Uuid(b)
    }
    pub fn string(&mut self) -> String {
        let n = self.below(12) as usize;
        (0..n)
            .map(|_| (b'a' + self.below(26) as u8) as char)
            .collect()
    }
    pub fn bytes(&mut self) -> Bytes {
        let n = self.below(24) as usize;
        Bytes::from((0..n).map(|_| self.next_u64() as u8).collect::<Vec<u8>>())
    }
    pub fn vec<T>(&mut self, mut element: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let n = if self.depth > 3 { 0 } else { self.below(4) };
        self.depth += 1;
        let out = (0..n).map(|_| element(self)).collect();
        self.depth -= 1;
        out
    }
    /// `None` one time in four when null is allowed, else a value.
    pub fn maybe_null<T>(
        &mut self,
        allowed: bool,
        value: impl FnOnce(&mut Self) -> T,
    ) -> Option<T> {
        if allowed && self.below(4) == 0 {
            None
        } else {
            Some(value(self))
        }
    }
}

/// Samples of `T` at each valid version survive encode → decode unchanged, and
/// `encoded_len` equals the bytes written.
pub fn round_trip_all_versions<T>()
where
    T: super::codec::VersionedMessage + Sample + PartialEq + std::fmt::Debug,
{
    for version in T::MIN_VERSION..=T::MAX_VERSION {
        for seed in 0..24u64 {
            let mut rng = SampleRng::new(seed * 1000 + version as u64 + 1);
            let value = T::sample(&mut rng, version);
            let bytes = match value.encode_to_bytes(version) {
                Ok(b) => b,
                Err(e) => panic!(
                    "{} v{version} seed {seed}: encode failed: {e}",
                    std::any::type_name::<T>()
                ),
            };
            assert_eq!(
                bytes.len(),
                value.encoded_len(version),
                "{} v{version}: encoded_len",
                std::any::type_name::<T>()
            );
            match T::decode_all(&bytes, version) {
                Ok(back) => assert_eq!(
                    back,
                    value,
                    "{} v{version} seed {seed}",
                    std::any::type_name::<T>()
                ),
                Err(e) => panic!(
                    "{} v{version} seed {seed}: decode failed: {e}",
                    std::any::type_name::<T>()
                ),
            }
        }
    }
}
