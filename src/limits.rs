//! Every limit of kfk in one place: the configurable ones with their Kafka name and default
//! (the broker's config reads its defaults from here), and the fixed ones, each with the reason
//! for its value. A client can drive no memory or time past these.
//!
//! Must not: depend on other modules of the crate (it may use `protocol` constants).

/// A configurable limit: its property name (Kafka's where Kafka has one; kfk's own start
/// with `kfk.`) and default.
#[derive(Debug, Clone, Copy)]
pub struct ConfigLimit {
    pub name: &'static str,
    pub default: &'static str,
}

const fn limit(name: &'static str, default: &'static str) -> ConfigLimit {
    ConfigLimit { name, default }
}

/// The broker's configurable limits.
pub const BROKER_LIMITS: &[ConfigLimit] = &[
    // The largest request frame; larger ones close the connection.
    limit("socket.request.max.bytes", "104857600"),
    // The most one fetch response carries, whatever the client asks.
    limit("fetch.max.bytes", "57671680"),
    // Requests being read and handled at once (parked fetches and group waits hold none).
    limit("queued.max.requests", "500"),
    // Bytes held in requests being read or handled, over all connections (a frame's first
    // `UNCHARGED_FRAME_BYTES` are not counted).
    limit("queued.max.request.bytes", "268435456"),
    // An idle connection is closed after this.
    limit("connections.max.idle.ms", "600000"),
    // A request frame must arrive whole within this.
    limit("kfk.request.receive.timeout.ms", "30000"),
    limit("max.connections", "2147483647"),
    // The log cleaner's key map (24 bytes a key) and read window.
    limit("log.cleaner.dedupe.buffer.size", "134217728"),
    limit("log.cleaner.io.buffer.size", "524288"),
    // Idle producers' idempotence state is forgotten after this.
    limit("producer.id.expiration.ms", "86400000"),
    limit("group.max.size", "2147483647"),
    // The metadata a committed offset may carry.
    limit("offset.metadata.max.bytes", "4096"),
];

/// The default of a configurable limit.
pub fn default_of(name: &str) -> Option<&'static str> {
    BROKER_LIMITS
        .iter()
        .find(|l| l.name == name)
        .map(|l| l.default)
}

/// Partitions one CreateTopics or CreatePartitions request may create (Kafka's controller
/// refuses more with POLICY_VIOLATION), checked before anything is allocated.
pub const MAX_PARTITIONS_PER_REQUEST: i64 = 10_000;

/// What one batch may decompress to while it is validated or re-compressed (the walk over its
/// records streams; re-compression holds it).
pub const DECOMPRESS_LIMIT_BYTES: usize = 64 << 20;

/// A request frame's first bytes not charged to `queued.max.request.bytes`, so small requests
/// never wait for memory that stalled large frames hold (bounded by the connection count).
pub const UNCHARGED_FRAME_BYTES: usize = 16 << 10;

/// The first read step of a frame; steps then double with the bytes received, up to
/// `READ_STEP_BYTES`, so a frame's buffer is never more than twice what arrived.
pub const FIRST_READ_STEP_BYTES: usize = 4 << 10;
pub const READ_STEP_BYTES: usize = 64 << 10;

/// Fetched record regions of at least this size go from the segment file with `sendfile`;
/// smaller ones are copied into the response (one vectored write for small answers).
pub const SPLICE_MIN_BYTES: usize = 64 << 10;

/// The largest region sent from its file (above `fetch.max.bytes`' default).
pub const SPLICE_MAX_BYTES: usize = 64 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_named_once_and_the_splice_threshold_keeps_zero_copy() {
        let mut names: Vec<&str> = BROKER_LIMITS.iter().map(|l| l.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), BROKER_LIMITS.len());
        // Placeholders must be handed on as chunks of their own by the encoder.
        const { assert!(SPLICE_MIN_BYTES >= crate::protocol::codec::ZERO_COPY_MIN_BYTES) };
        assert!(
            SPLICE_MAX_BYTES as u64
                >= default_of("fetch.max.bytes")
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
        );
    }
}
