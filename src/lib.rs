//! kfk: Apache Kafka as one Rust binary. The library holds every module; `src/main.rs` is the
//! `kfk` command line.

pub mod broker;
pub mod cli;
pub mod client;
pub mod group;
pub mod ids;
pub mod limits;
pub mod log;
pub mod metadata;
pub mod net;
pub mod partitioner;
pub mod properties;
pub mod protocol;
pub mod replication;
pub mod time;
