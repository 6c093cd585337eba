//! The wall clock in Kafka's unit: milliseconds since the Unix epoch. One function for every
//! module (timestamps, timers, retention), so there is one definition of "now".
//!
//! Must not: depend on other modules of the crate.

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
