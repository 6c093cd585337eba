//! Replication throttles (Kafka's `leader.replication.throttled.rate` and
//! `follower.replication.throttled.rate`): a byte budget per second for the replicas a
//! topic's `*.replication.throttled.replicas` names. A leader sends throttled followers no
//! more than its rate; a follower fetches throttled partitions no faster than its rate.

use std::sync::Mutex;
use std::time::Instant;

/// A token bucket holding at most one second of bytes.
#[derive(Debug)]
pub struct Throttle {
    state: Mutex<(f64, Instant)>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            state: Mutex::new((0.0, Instant::now())),
        }
    }
}

impl Throttle {
    fn refill(state: &mut (f64, Instant), rate: u64) {
        let now = Instant::now();
        let elapsed = now.duration_since(state.1).as_secs_f64();
        state.0 = (state.0 + elapsed * rate as f64).min(rate as f64);
        state.1 = now;
    }

    /// Whether throttled bytes may go now at `rate` bytes/s.
    pub fn allows(&self, rate: u64) -> bool {
        self.available(rate) > 0
    }

    /// The bytes that may go now at `rate` bytes/s (0: wait).
    pub fn available(&self, rate: u64) -> u64 {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Self::refill(&mut s, rate);
        s.0.max(0.0) as u64
    }

    /// Spends `bytes` of the budget (it may go negative: the next ones wait longer).
    pub fn record(&self, bytes: u64, rate: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Self::refill(&mut s, rate);
        s.0 -= bytes as f64;
    }
}

/// Whether a topic's `*.replication.throttled.replicas` value (`*`, or
/// `partition:broker,...`) names `partition` on `broker`.
pub fn is_throttled(list: Option<&str>, partition: i32, broker: i32) -> bool {
    match list.map(str::trim) {
        None | Some("") => false,
        Some("*") => true,
        Some(l) => l.split(',').any(|e| {
            e.trim().split_once(':').is_some_and(|(p, b)| {
                p.trim().parse() == Ok(partition) && b.trim().parse() == Ok(broker)
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_replica_lists_are_read_as_kafka_writes_them() {
        assert!(is_throttled(Some("*"), 3, 2));
        assert!(is_throttled(Some("0:1,0:2, 1:3"), 1, 3));
        assert!(!is_throttled(Some("0:1,0:2"), 0, 3));
        assert!(!is_throttled(None, 0, 1));
        let t = Throttle::default();
        assert!(!t.allows(0));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(t.allows(1_000_000));
        t.record(10_000_000, 1_000_000);
        assert!(!t.allows(1_000_000));
    }
}
