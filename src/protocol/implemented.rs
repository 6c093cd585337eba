//! The highest version of each API that kfk's code speaks: what its handlers answer and its
//! clients send. The specs (Apache Kafka 4.4.0's) define later versions of some APIs that kfk
//! does not implement yet; those are capped here at the version kfk had implemented from the
//! 4.0 specs, so neither the broker advertises nor the client sends them.
//! `tests/kafka_reference.rs` compares the resulting table with the reference broker's
//! ApiVersions.
//!
//! Must not: depend on anything but the generated API table.

use super::ApiKey;

/// The highest version of `api` kfk implements: the specs' latest stable version, or lower
/// where kfk does not implement the later ones (the spec's version in the comment).
pub fn implemented_max(api: ApiKey) -> i16 {
    let cap = match api {
        ApiKey::AddRaftVoter => 0,                // 1
        ApiKey::AlterPartitionReassignments => 0, // 1
        ApiKey::ApiVersions => 4,                 // 5
        ApiKey::BrokerHeartbeat => 1,             // 2
        ApiKey::ConsumerGroupDescribe => 0,       // 1
        ApiKey::ConsumerGroupHeartbeat => 0,      // 1
        ApiKey::DeleteGroups => 2,                // 3
        ApiKey::DescribeCluster => 1,             // 2
        ApiKey::DescribeGroups => 5,              // 6
        ApiKey::DescribeLogDirs => 4,             // 5
        ApiKey::EndTxn => 4,                      // 5
        ApiKey::Fetch => 17,                      // 18
        ApiKey::ListOffsets => 10,                // 11
        ApiKey::ListTransactions => 1,            // 2
        ApiKey::Metadata => 12,                   // 13
        ApiKey::OffsetCommit => 9,                // 10
        ApiKey::OffsetFetch => 9,                 // 10
        ApiKey::Produce => 11,                    // 13
        ApiKey::TxnOffsetCommit => 4,             // 6
        ApiKey::Vote => 1,                        // 2
        ApiKey::WriteTxnMarkers => 1,             // 2
        _ => i16::MAX,
    };
    cap.min(api.latest_stable_version())
}
