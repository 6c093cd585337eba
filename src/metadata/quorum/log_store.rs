//! The Raft log in `__cluster_metadata-0` (openraft's `RaftLogStorage`).
//!
//! Entry `i` is one record batch; batches are consecutive in offsets, so an entry's base
//! offset is the previous entry's last offset + 1. kfk keeps the index → offset map in memory
//! (rebuilt at start by scanning batch headers from the first kept entry, whose index and
//! offset `quorum-state` records). An append returns only after fsync. The vote, the last
//! purged entry and (as a hint for a fast restart) the committed entry live in
//! `quorum-state`, a JSON file with Kafka's field names plus kfk's.

use super::entries::{decode_entry, encode_entry};
use super::{Positions, QuorumShared, TypeConfig};
use crate::log::SharedLog;
use crate::protocol::record_batch::BatchIter;
use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, StorageError, StorageIOError, Vote};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::PathBuf;
use std::sync::Arc;

/// `quorum-state`: Kafka's fields (leaderId, leaderEpoch, votedId, currentVoters) for
/// operators and tools, and kfk's Raft state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QuorumStateFile {
    #[serde(rename = "clusterId", default)]
    pub cluster_id: String,
    #[serde(rename = "leaderId", default)]
    pub leader_id: i64,
    #[serde(rename = "leaderEpoch", default)]
    pub leader_epoch: u64,
    #[serde(rename = "votedId", default)]
    pub voted_id: i64,
    #[serde(rename = "appliedOffset", default)]
    pub applied_offset: i64,
    #[serde(rename = "currentVoters", default)]
    pub current_voters: Vec<serde_json::Value>,
    #[serde(default)]
    pub data_version: i32,
    #[serde(rename = "kfkVote", default)]
    pub vote: Option<Vote<u64>>,
    #[serde(rename = "kfkCommitted", default)]
    pub committed: Option<LogId<u64>>,
    #[serde(rename = "kfkLastPurged", default)]
    pub last_purged: Option<LogId<u64>>,
    /// Offset of the first batch after the purged entries.
    #[serde(rename = "kfkFirstOffset", default)]
    pub first_offset: i64,
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

#[derive(Clone)]
pub struct LogStore {
    pub(super) log: Arc<SharedLog>,
    pub(super) shared: Arc<QuorumShared>,
    state_path: PathBuf,
}

impl Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore")
            .field("state", &self.state_path)
            .finish()
    }
}

impl LogStore {
    /// Opens the log: reads `quorum-state` and maps every kept batch to its entry index.
    pub fn open(log: Arc<SharedLog>, shared: Arc<QuorumShared>) -> Result<LogStore, String> {
        let dir = log.lock().dir().to_path_buf();
        let state_path = dir.join("quorum-state");
        let state: QuorumStateFile = match std::fs::read(&state_path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{}: {e}", state_path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (start, end) = {
                    let l = log.lock();
                    (l.log_start_offset(), l.log_end_offset())
                };
                if end > start {
                    return Err(format!(
                        "{} holds a single node's metadata log (no quorum-state): it cannot join a quorum; use a new data dir (kfk storage format) for a cluster",
                        dir.display()
                    ));
                }
                QuorumStateFile::default()
            }
            Err(e) => return Err(format!("{}: {e}", state_path.display())),
        };
        let first_index = state.last_purged.map_or(0, |l| l.index + 1);
        let mut positions = Positions {
            first_index,
            entries: Vec::new(),
            snapshot_end: None,
        };
        let (start, end) = {
            let l = log.lock();
            (l.log_start_offset(), l.log_end_offset())
        };
        let mut offset = start.max(state.first_offset);
        while offset < end {
            let region = log
                .lock()
                .read(offset, 1 << 20, end, true)
                .map_err(|e| format!("reading the metadata log at {offset}: {e:?}"))?;
            let Some(region) = region else { break };
            let bytes = region
                .read_bytes()
                .map_err(|e| format!("reading the metadata log at {offset}: {e}"))?;
            let before = offset;
            for (h, _) in BatchIter::new(bytes) {
                if h.base_offset < offset {
                    continue;
                }
                positions.entries.push(super::EntryPos {
                    base: h.base_offset,
                    last: h.last_offset(),
                    term: h.partition_leader_epoch.max(0) as u64,
                });
                offset = h.next_offset();
            }
            if offset <= before {
                break;
            }
        }
        *shared.positions() = positions;
        *shared.state() = state;
        Ok(LogStore {
            log,
            shared,
            state_path,
        })
    }

    fn save_state(&self, sync: bool) -> Result<(), std::io::Error> {
        let state = self.shared.state().clone();
        let bytes = serde_json::to_vec(&state).map_err(io_err)?;
        let fs = self.log.lock().fs().clone();
        if sync {
            fs.write_atomic(&self.state_path, &bytes)
        } else {
            let tmp = self.state_path.with_extension("tmp");
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, &self.state_path)
        }
    }

    fn read_range(&self, start: u64, end: u64) -> Result<Vec<Entry<TypeConfig>>, String> {
        let (first_index, spans) = {
            let p = self.shared.positions();
            let lo = start.max(p.first_index);
            let hi = end.min(p.first_index + p.entries.len() as u64);
            if lo >= hi {
                return Ok(Vec::new());
            }
            let a = &p.entries[(lo - p.first_index) as usize];
            let b = &p.entries[(hi - 1 - p.first_index) as usize];
            (lo, (a.base, b.last + 1))
        };
        let mut out = Vec::new();
        let mut offset = spans.0;
        let mut index = first_index;
        while offset < spans.1 {
            let region = self
                .log
                .lock()
                .read(offset, 1 << 20, spans.1, true)
                .map_err(|e| format!("reading the metadata log at {offset}: {e:?}"))?;
            let Some(region) = region else { break };
            let bytes = region.read_bytes().map_err(|e| e.to_string())?;
            let before = offset;
            for (h, batch) in BatchIter::new(bytes) {
                if h.base_offset < offset {
                    continue;
                }
                out.push(decode_entry(&batch, index)?);
                index += 1;
                offset = h.next_offset();
            }
            if offset <= before {
                break;
            }
        }
        Ok(out)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<u64>> {
        let start = match range.start_bound() {
            Bound::Included(s) => *s,
            Bound::Excluded(s) => s + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(e) => e + 1,
            Bound::Excluded(e) => *e,
            Bound::Unbounded => u64::MAX,
        };
        let this = self.clone();
        tokio::task::block_in_place(|| this.read_range(start, end))
            .map_err(|e| StorageIOError::read_logs(&io_err(e)).into())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<u64>> {
        let last_purged = self.shared.state().last_purged;
        let p = self.shared.positions();
        let last = p.entries.last().map(|e| {
            LogId::new(
                openraft::CommittedLeaderId::new(e.term, 0),
                p.first_index + p.entries.len() as u64 - 1,
            )
        });
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last.or(last_purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        {
            let mut s = self.shared.state();
            s.vote = Some(*vote);
            s.leader_epoch = vote.leader_id.term;
            s.voted_id = vote.leader_id.voted_for().map_or(-1, |n| n as i64);
            s.leader_id = if vote.is_committed() { s.voted_id } else { -1 };
        }
        let this = self.clone();
        tokio::task::block_in_place(|| this.save_state(true))
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        Ok(self.shared.state().vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<u64>>,
    ) -> Result<(), StorageError<u64>> {
        self.shared.state().committed = committed;
        let this = self.clone();
        tokio::task::block_in_place(|| this.save_state(false))
            .map_err(|e| StorageIOError::write(&e).into())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        Ok(self.shared.state().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let (leader, voters) = {
            let s = self.shared.state();
            let leader_term = s.vote.map(|v| (v.leader_id.term, v.leader_id.voted_for()));
            (leader_term, self.shared.voters.clone())
        };
        let now = crate::time::now_ms();
        let result = tokio::task::block_in_place(|| -> Result<(), std::io::Error> {
            let mut end = 0;
            for entry in entries {
                let base = self.log.lock().log_end_offset();
                let leader_id = match leader {
                    Some((term, Some(node))) if term == entry.log_id.leader_id.term => node as i32,
                    _ => -1,
                };
                let batch = encode_entry(&entry, base, leader_id, &voters);
                let info = self
                    .log
                    .lock()
                    .append_as_follower(&batch, now)
                    .map_err(|e| io_err(e.message))?;
                let mut p = self.shared.positions();
                let expected = p.first_index + p.entries.len() as u64;
                if entry.log_id.index != expected {
                    return Err(io_err(format!(
                        "metadata log entry {} appended where entry {expected} belongs",
                        entry.log_id.index
                    )));
                }
                p.entries.push(super::EntryPos {
                    base: info.base_offset,
                    last: info.last_offset,
                    term: entry.log_id.leader_id.term,
                });
                end = info.last_offset + 1;
            }
            if end > 0 {
                self.log.flush_to(end, now)?;
            }
            Ok(())
        });
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                callback.log_io_completed(Err(e));
                Err(StorageIOError::write_logs(&io_err(msg)).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let offset = {
            let mut p = self.shared.positions();
            if log_id.index < p.first_index {
                return Ok(());
            }
            let at = (log_id.index - p.first_index) as usize;
            let Some(pos) = p.entries.get(at).cloned() else {
                return Ok(());
            };
            p.entries.truncate(at);
            pos.base
        };
        tokio::task::block_in_place(|| self.log.lock().truncate_to(offset))
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let (first_offset, fully) = {
            let mut p = self.shared.positions();
            if log_id.index < p.first_index {
                return Ok(());
            }
            let n = (log_id.index + 1 - p.first_index) as usize;
            let result = if n <= p.entries.len() {
                let next = p.entries[n - 1].last + 1;
                p.entries.drain(..n);
                (next, false)
            } else {
                // Purging past the log's end: a snapshot was installed; the log restarts
                // where the snapshot ends.
                let end = match p.snapshot_end {
                    Some((index, end)) if index == log_id.index => end,
                    _ => self.log.lock().log_end_offset(),
                };
                p.entries.clear();
                (end, true)
            };
            p.first_index = log_id.index + 1;
            result
        };
        {
            let mut s = self.shared.state();
            s.last_purged = Some(log_id);
            s.first_offset = first_offset;
        }
        let this = self.clone();
        tokio::task::block_in_place(move || -> std::io::Result<()> {
            this.save_state(true)?;
            let mut log = this.log.lock();
            if fully {
                log.truncate_fully_and_start_at(first_offset)
            } else {
                let end = log.log_end_offset();
                log.delete_records_before(first_offset, end)
                    .map(|_| ())
                    .map_err(|e| io_err(format!("{e:?}")))
            }
        })
        .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}
