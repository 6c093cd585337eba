//! One partition's on-disk log and the manager of all logs of the data dirs, in Kafka's
//! on-disk format so a kfk data directory reads like a Kafka one.
//!
//! Layering (Kafka's nouns): `index` (offset and time indexes) → `segment` (one `.log` file
//! with its indexes) → `unified_log::Log` (segments, offsets, recovery, retention, producer
//! state, leader epochs) → `manager::LogManager` (data dirs, checkpoints, background tasks).
//! Everything touches files through `io::LogFs` so crash tests can drop unsynced writes.
//!
//! Must not: know about requests, connections or leadership; uses only `protocol`'s record
//! batch parsing. Called by: the broker's partition layer, `kfk dump-log`.

pub mod checkpoint;
pub mod cleaner;
pub mod config;
pub mod dir_health;
pub mod index;
pub mod io;
pub mod leader_epoch;
pub mod manager;
pub mod producer_state;
pub mod replica_move;
pub mod segment;
pub mod unified_log;

pub use config::LogConfig;
pub use io::{LogFs, OsFs, SimulatedFs};
pub use unified_log::{AppendError, AppendInfo, AppendRules, Log, OpenOptions, SharedLog};
