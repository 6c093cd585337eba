//! Random identifiers from the operating system's randomness (the `uuid` crate): never from a
//! clock or a process id. Kafka UUIDs (topic, cluster, directory ids) are
//! `protocol::Uuid::random`, built on the same source.
//!
//! Must not: depend on other modules of the crate.

/// 16 random bytes shaped as a version 4 UUID (so never all zero).
pub fn random_uuid_bytes() -> [u8; 16] {
    uuid::Uuid::new_v4().into_bytes()
}

/// A random number below `n` (generated names such as `console-consumer-NNNNN`, as Kafka's
/// tools pick them).
pub fn random_below(n: u32) -> u32 {
    let bytes = random_uuid_bytes();
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) % n.max(1)
}

/// A random UUID in its usual hyphenated form (Kafka's member ids are `client_id-<uuid>`).
pub fn random_uuid_string() -> String {
    uuid::Uuid::from_bytes(random_uuid_bytes())
        .hyphenated()
        .to_string()
}

/// A random hex string of 32 digits (a UUID without dashes, as Kafka names stray logs).
pub fn random_hex() -> String {
    uuid::Uuid::from_bytes(random_uuid_bytes())
        .simple()
        .to_string()
}
