//! The group coordinator: Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup), committed offsets, and the records of `__consumer_offsets`.
//!
//! The state machine in [`coordinator`] takes the time as an argument (no clock of its own),
//! so tests drive session expiry and rebalance timeouts with controlled time; the broker calls
//! [`Coordinator::tick`] on a timer. Every record goes through [`OffsetsLog`], which the broker
//! implements with the same partition-append path as a produce.
//!
//! Must not: touch the network or segment files.

pub mod coordinator;
pub mod records;

pub use coordinator::{Coordinator, GroupConfig, GroupState, Waiting};
pub use records::GroupRecord;

use crate::protocol::ErrorCode;
use bytes::Bytes;

/// Name of the internal topic holding committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Where the coordinator's records go: partition `partition` of `__consumer_offsets`.
pub trait OffsetsLog: Send + Sync {
    /// Appends one record batch; an error is the code the coordinator reports.
    fn append(&self, partition: i32, batch: Bytes) -> Result<(), ErrorCode>;
}

/// Java's `String.hashCode` (UTF-16 code units, wrapping).
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The `__consumer_offsets` partition of a group, as Kafka computes it:
/// `Utils.abs(groupId.hashCode) % partitions` (where `Utils.abs(MIN_VALUE)` is 0).
pub fn partition_for(group_id: &str, partitions: i32) -> i32 {
    let h = java_string_hash(group_id);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_and_partition_match_kafka() {
        // Values from Java: "".hashCode() = 0, "a" = 97, "hello" = 99162322, and
        // "polygenelubricants".hashCode() = Integer.MIN_VALUE.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        assert_eq!(partition_for("hello", 50), 99_162_322 % 50);
        // Non-BMP characters hash as two UTF-16 units, as in Java.
        assert_eq!(java_string_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);
        for g in ["my-group", "g", "console-consumer-1", "ÄÖÜ"] {
            let p = partition_for(g, 50);
            assert!((0..50).contains(&p));
        }
    }
}
