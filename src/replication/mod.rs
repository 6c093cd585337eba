//! Partitions and their replicas: the only way to append to or read a partition.
//!
//! [`ReplicaManager`] owns every [`Partition`] of this broker; a partition owns its log (which
//! nothing outside this module can reach), its leader epoch and high watermark, and the
//! fetches waiting for it to grow ([`purgatory`]). Produce, fetch, ListOffsets,
//! OffsetForLeaderEpoch, DeleteRecords and the group coordinator's records all go through the
//! manager. Its API is shaped for the replicas to come: leader appends and follower appends
//! (keeping the leader's offsets and epochs), truncation, fetch isolation (log end for
//! followers, high watermark for consumers), the high-watermark checkpoint.
//!
//! The request paths enter through two protocol-free calls, [`ReplicaManager::append`]
//! (`append.rs`: leader check, validation, append, the acks=all wait) and
//! [`ReplicaManager::fetch`] (`fetch.rs`: leader/follower checks, diverging epochs, KIP-392,
//! throttles, follower progress, the long-poll wait); `delta.rs` turns committed metadata
//! into partitions and roles (Kafka's `applyDelta`).
//!
//! Must not: parse requests or know about connections. Uses `log`, `protocol` and
//! `metadata`.

pub mod append;
pub mod delta;
pub mod fetch;
pub mod partition;
pub mod purgatory;
pub mod replica_manager;

pub mod fetcher;
pub mod throttle;

/// A fetch's records as a region of a segment file (sent with `sendfile`), and a produce's
/// rules: the log's types, as the request paths see them.
pub use crate::log::segment::FileRegion;
pub use crate::log::AppendRules;
pub use append::{AppendEntry, AppendOrigin, AppendParams, AppendResult};
pub use delta::RoleChange;
pub use fetch::{FetchParams, FetchPartition, FetchedRecords, PartitionRead};
pub use partition::{FollowerState, IsrChange, Partition, ReadResult, Role};
pub use replica_manager::{
    FetchIsolation, FollowerFetchState, ReadSpec, ReplicaContext, ReplicaManager,
};

#[cfg(test)]
pub(crate) mod test_support {
    use crate::log::manager::LogManager;
    use crate::log::{LogConfig, OsFs};
    use crate::protocol::record_batch::BatchBuilder;
    use crate::protocol::{Compression, Uuid};
    use crate::replication::{ReplicaContext, ReplicaManager};
    use bytes::Bytes;
    use std::path::Path;
    use std::sync::Arc;

    pub fn batch(values: &[&[u8]], codec: Compression) -> Bytes {
        let mut b = BatchBuilder::new();
        for v in values {
            b.append(1, Some(b"k"), Some(v), &[]);
        }
        b.build(codec)
    }

    /// Broker 1's manager: each `(topic, leader, replicas)` a partition 0 as the metadata
    /// gives it.
    pub fn manager(dir: &Path, partitions: &[(&str, i32, &[i32])]) -> ReplicaManager {
        let (logs, _) = LogManager::open(Arc::new(OsFs), vec![dir.to_path_buf()], &|_| {
            LogConfig::default()
        })
        .unwrap();
        let context = ReplicaContext {
            node_id: 1,
            ..Default::default()
        };
        let manager = ReplicaManager::with_context(Arc::new(logs), context);
        for (topic, leader, replicas) in partitions {
            manager
                .create_partition(topic, 0, Uuid::default(), LogConfig::default(), 0)
                .unwrap();
            manager.apply_partition_metadata(topic, 0, 1, *leader, 0, 0, replicas, replicas, 0);
        }
        manager
    }

    pub fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }
}
