//! The leader-epoch cache of one partition: `(epoch, start offset)` pairs, saved as Kafka's
//! `leader-epoch-checkpoint`. Answers OffsetForLeaderEpoch (the end offset of an epoch) and is
//! truncated with the log. Must not: do I/O itself (the log saves it).

/// Epochs in increasing order with the first offset written in each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderEpochCache {
    entries: Vec<(i32, i64)>,
}

impl LeaderEpochCache {
    pub fn from_entries(mut entries: Vec<(i32, i64)>) -> Self {
        entries.sort();
        entries.dedup_by_key(|e| e.0);
        LeaderEpochCache { entries }
    }

    pub fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.0)
    }

    /// Records that `epoch` starts at `start_offset`, if it is newer than the latest.
    /// Returns whether the cache changed.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || self.latest_epoch().is_some_and(|latest| epoch <= latest) {
            return false;
        }
        self.entries.push((epoch, start_offset));
        true
    }

    /// The end offset of `requested`: `(epoch, end offset)` where the epoch is the largest
    /// known ≤ `requested` and the end offset is the next epoch's start (or `log_end_offset`).
    /// `(-1, -1)` when `requested` is older than every known epoch (Kafka's UNDEFINED).
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        match self.entries.partition_point(|e| e.0 <= requested) {
            0 => (-1, -1),
            n if n == self.entries.len() => (self.entries[n - 1].0, log_end_offset),
            n => (self.entries[n - 1].0, self.entries[n].1),
        }
    }

    /// Drops epochs starting at or after `offset` (the log was truncated there).
    pub fn truncate_from_end(&mut self, offset: i64) {
        self.entries.retain(|e| e.1 < offset);
    }

    /// Moves the earliest kept epoch's start up to `offset` (the log start moved).
    pub fn truncate_from_start(&mut self, offset: i64) {
        let keep_from = self
            .entries
            .partition_point(|e| e.1 <= offset)
            .saturating_sub(1);
        self.entries.drain(..keep_from);
        if let Some(first) = self.entries.first_mut() {
            first.1 = first.1.max(offset);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_offsets_follow_the_next_epoch_start() {
        let mut c = LeaderEpochCache::default();
        assert!(c.assign(0, 0));
        assert!(c.assign(2, 10));
        assert!(!c.assign(1, 20), "older epochs are ignored");
        assert_eq!(c.end_offset_for(0, 30), (0, 10));
        assert_eq!(c.end_offset_for(1, 30), (0, 10));
        assert_eq!(c.end_offset_for(2, 30), (2, 30));
        assert_eq!(c.end_offset_for(-5, 30), (-1, -1));
        c.truncate_from_end(10);
        assert_eq!(c.entries(), &[(0, 0)]);
        c.assign(3, 12);
        c.truncate_from_start(15);
        assert_eq!(c.entries(), &[(3, 15)]);
    }
}
