//! Partitioners. Keyed records: murmur2 exactly as the Java client
//! (`Utils.toPositive(Utils.murmur2(key)) % partitions`), so keys land where Java puts them.
//! Null keys: uniform sticky (stay on one partition until `batch.size` bytes went to it, then
//! move on, KIP-794). Options for librdkafka-compatible placement: `consistent_random` and
//! `murmur2_random` (librdkafka's names: CRC32 or murmur2 of the key, random for null keys).
//!
//! Must not: use any other module.

/// Java's `Utils.murmur2`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len() as u32;
    let mut h: u32 = SEED ^ length;
    let mut chunks = data.chunks_exact(4);
    for c in chunks.by_ref() {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Java's `Utils.toPositive`.
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition the Java client picks for `key` among `partitions`.
pub fn java_partition(key: &[u8], partitions: i32) -> i32 {
    to_positive(murmur2(key)) % partitions.max(1)
}

/// How keys map to partitions (`partitioner` property).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionerKind {
    /// Java's default: murmur2 for keys, uniform sticky for null keys.
    Default,
    /// librdkafka `murmur2_random`: murmur2 for keys, random for null keys.
    Murmur2Random,
    /// librdkafka `consistent_random`: CRC32 for keys, random for null keys.
    ConsistentRandom,
    /// librdkafka `consistent`: CRC32 of the key (null keys hash as empty).
    Consistent,
    /// `random`: ignores keys.
    Random,
}

impl PartitionerKind {
    pub fn parse(name: &str) -> Option<PartitionerKind> {
        Some(match name {
            "default"
            | "murmur2"
            | "org.apache.kafka.clients.producer.internals.DefaultPartitioner"
            | "org.apache.kafka.clients.producer.internals.BuiltInPartitioner" => {
                PartitionerKind::Default
            }
            "murmur2_random" => PartitionerKind::Murmur2Random,
            "consistent_random" => PartitionerKind::ConsistentRandom,
            "consistent" => PartitionerKind::Consistent,
            "random" => PartitionerKind::Random,
            _ => return None,
        })
    }
}

/// Chooses partitions; keeps the sticky state for null keys.
#[derive(Debug)]
pub struct Partitioner {
    kind: PartitionerKind,
    /// Bytes after which a sticky partition is left (`batch.size`).
    sticky_bytes: usize,
    sticky: Option<(i32, usize)>,
    rng: u64,
}

impl Partitioner {
    pub fn new(kind: PartitionerKind, sticky_bytes: usize) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Partitioner {
            kind,
            sticky_bytes: sticky_bytes.max(1),
            sticky: None,
            rng: seed,
        }
    }

    fn random(&mut self, n: i32) -> i32 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % n.max(1) as u64) as i32
    }

    /// The partition for a record of `size` bytes with `key` among `partitions`.
    pub fn partition(&mut self, key: Option<&[u8]>, size: usize, partitions: i32) -> i32 {
        let partitions = partitions.max(1);
        match (self.kind, key) {
            (PartitionerKind::Random, _) => self.random(partitions),
            (PartitionerKind::Default | PartitionerKind::Murmur2Random, Some(k)) => {
                java_partition(k, partitions)
            }
            (PartitionerKind::ConsistentRandom | PartitionerKind::Consistent, Some(k)) => {
                (crc32fast::hash(k) % partitions as u32) as i32
            }
            (PartitionerKind::Consistent, None) => {
                (crc32fast::hash(&[]) % partitions as u32) as i32
            }
            (PartitionerKind::Murmur2Random | PartitionerKind::ConsistentRandom, None) => {
                self.random(partitions)
            }
            (PartitionerKind::Default, None) => self.sticky(size, partitions),
        }
    }

    fn sticky(&mut self, size: usize, partitions: i32) -> i32 {
        match self.sticky {
            Some((p, bytes)) if p < partitions && bytes < self.sticky_bytes => {
                self.sticky = Some((p, bytes + size));
                p
            }
            previous => {
                let mut p = self.random(partitions);
                if partitions > 1 && previous.is_some_and(|(old, _)| old == p) {
                    p = (p + 1) % partitions;
                }
                self.sticky = Some((p, size));
                p
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_clients_test_vectors() {
        // From Apache Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58897971
        );
        assert_eq!(murmur2(b"abc"), 479470107);
    }

    #[test]
    fn keyed_records_land_where_java_puts_them() {
        let mut p = Partitioner::new(PartitionerKind::Default, 16384);
        for key in ["21", "foobar", "user-42", ""] {
            assert_eq!(
                p.partition(Some(key.as_bytes()), 10, 12),
                to_positive(murmur2(key.as_bytes())) % 12
            );
        }
    }

    #[test]
    fn null_keys_stick_to_a_partition_until_batch_size_bytes() {
        let mut p = Partitioner::new(PartitionerKind::Default, 1000);
        let first = p.partition(None, 100, 6);
        for _ in 0..9 {
            assert_eq!(
                p.partition(None, 100, 6),
                first,
                "ten records of 100 bytes fill batch.size"
            );
        }
        assert_ne!(
            p.partition(None, 100, 6),
            first,
            "moves on after batch.size bytes"
        );
    }

    #[test]
    fn consistent_uses_librdkafkas_crc32() {
        let mut p = Partitioner::new(PartitionerKind::Consistent, 1);
        assert_eq!(
            p.partition(Some(b"key"), 1, 10),
            (crc32fast::hash(b"key") % 10) as i32
        );
    }
}
