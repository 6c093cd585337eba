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
//! Must not: parse requests or know about connections. Uses `log` and `protocol`.

pub mod partition;
pub mod purgatory;
pub mod replica_manager;

pub mod fetcher;
pub mod throttle;

pub use partition::{FollowerState, IsrChange, Partition, ReadResult, Role};
pub use replica_manager::{FetchIsolation, FollowerFetchState, ReadSpec, ReplicaManager};
