//! Kafka clients: connections, cluster metadata, the producer and the consumer, configured
//! with Kafka's property names and defaults. Work against a kfk broker and any other
//! Kafka-compatible broker.
//!
//! Must not: use the broker or log modules (only `protocol` and `partitioner`).

pub mod admin;
pub mod assignor;
pub mod cluster;
pub mod connection;
pub mod consumer;
pub mod group;
pub mod producer;
pub mod topic_pattern;

/// A client failure (the outbound connection layer's error, shared by every client).
pub use crate::net::ClientError;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a client waits in silence (for metadata, for acknowledgements, to leave a group)
/// before it logs one warning saying what it waits for and until when; Kafka's timeouts
/// themselves are unchanged.
pub const WAIT_WARNING: Duration = Duration::from_secs(5);

/// Settings shared by every client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub bootstrap_servers: Vec<String>,
    pub client_id: String,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// How long to keep trying the bootstrap servers before giving up.
    pub bootstrap_timeout: Duration,
    pub reconnect_backoff: Duration,
    pub reconnect_backoff_max: Duration,
    pub metadata_max_age: Duration,
    /// `send.buffer.bytes` (-1: the OS default).
    pub send_buffer_bytes: i32,
    /// `receive.buffer.bytes` (-1: the OS default).
    pub receive_buffer_bytes: i32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bootstrap_servers: vec!["localhost:9092".into()],
            client_id: "kfk".into(),
            request_timeout: Duration::from_millis(30_000),
            connect_timeout: Duration::from_millis(5_000),
            bootstrap_timeout: Duration::from_millis(5_000),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_millis(1_000),
            metadata_max_age: Duration::from_millis(300_000),
            send_buffer_bytes: 131_072,
            receive_buffer_bytes: 65_536,
        }
    }
}

/// Kafka-style properties (`key=value`), with typed getters that name the key on error.
#[derive(Debug, Clone, Default)]
pub struct Properties(pub BTreeMap<String, String>);

impl Properties {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.0.insert(key.to_string(), value.into());
    }

    pub fn num<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, ClientError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| ClientError::Config(format!("invalid value {v:?} for {key}"))),
        }
    }

    pub fn ms(&self, key: &str, default_ms: u64) -> Result<Duration, ClientError> {
        Ok(Duration::from_millis(self.num(key, default_ms)?))
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ClientError> {
        match self.get(key).map(str::trim) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(ClientError::Config(format!(
                "invalid value {v:?} for {key}: expected true or false"
            ))),
        }
    }

    /// The settings every client shares.
    pub fn client_config(&self, default_client_id: &str) -> Result<ClientConfig, ClientError> {
        let d = ClientConfig::default();
        let servers: Vec<String> = self
            .get("bootstrap.servers")
            .unwrap_or("localhost:9092")
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if servers.is_empty() {
            return Err(ClientError::Config("bootstrap.servers is empty".into()));
        }
        for s in &servers {
            if s.rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .is_none()
            {
                return Err(ClientError::Config(format!(
                    "bootstrap server {s:?} is not host:port"
                )));
            }
        }
        Ok(ClientConfig {
            bootstrap_servers: servers,
            client_id: self
                .get("client.id")
                .unwrap_or(default_client_id)
                .to_string(),
            request_timeout: self.ms("request.timeout.ms", d.request_timeout.as_millis() as u64)?,
            connect_timeout: self.ms("socket.connection.setup.timeout.ms", 5_000)?,
            bootstrap_timeout: self.ms("kfk.bootstrap.timeout.ms", 5_000)?,
            reconnect_backoff: self.ms("reconnect.backoff.ms", 50)?,
            reconnect_backoff_max: self.ms("reconnect.backoff.max.ms", 1_000)?,
            metadata_max_age: self.ms("metadata.max.age.ms", 300_000)?,
            send_buffer_bytes: self.buffer_bytes("send.buffer.bytes", d.send_buffer_bytes)?,
            receive_buffer_bytes: self
                .buffer_bytes("receive.buffer.bytes", d.receive_buffer_bytes)?,
        })
    }

    /// A socket buffer size: -1 (the OS default) or a size in bytes.
    fn buffer_bytes(&self, key: &str, default: i32) -> Result<i32, ClientError> {
        let v: i32 = self.num(key, default)?;
        if v < -1 {
            return Err(ClientError::Config(format!(
                "invalid value {v} for {key}: -1 (the OS default) or a size in bytes"
            )));
        }
        Ok(v)
    }
}

/// Reads a Java `.properties` file (as `--producer.config` / `--consumer.config` take).
pub fn read_properties_file(
    path: &std::path::Path,
) -> Result<BTreeMap<String, String>, ClientError> {
    crate::properties::read_file(path).map_err(|e| ClientError::Config(e.to_string()))
}
