//! kfk: Apache Kafka as one Rust binary. The library holds every module; `src/main.rs` is the
//! `kfk` command line.

pub mod broker;
pub mod cli;
pub mod client;
pub mod group;
pub mod log;
pub mod partitioner;
pub mod properties;
pub mod protocol;
