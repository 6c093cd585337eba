//! The state machine: the metadata image (openraft's `RaftStateMachine`), and its snapshots.
//!
//! Applying an entry applies its KRaft records to the shared image and hands what changed to
//! the broker. A snapshot is the image written as KRaft records in Kafka's snapshot layout,
//! `<end offset %020d>-<epoch %010d>.checkpoint` in `__cluster_metadata-0/`, beside a small
//! `.kfk.json` holding openraft's snapshot meta (last entry, membership). A node that is too
//! far behind receives the leader's snapshot and replaces its image with it.

use super::entries::{self, decode_snapshot, encode_snapshot};
use super::{Applied, QuorumShared, TypeConfig};
use crate::metadata::image::{Image, MetadataChange};
use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, OptionalSend, StorageError, StorageIOError,
    StoredMembership,
};
use serde::{Deserialize, Serialize};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SnapshotSidecar {
    meta: SnapshotMeta<u64, BasicNode>,
}

#[derive(Debug, Clone)]
struct StoredSnapshot {
    meta: SnapshotMeta<u64, BasicNode>,
    data: Vec<u8>,
}

#[derive(Debug)]
pub struct StateMachine {
    shared: Arc<QuorumShared>,
    dir: PathBuf,
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, BasicNode>,
    /// Offset the next applied record has.
    next_offset: i64,
    /// The newest snapshot, shared with the snapshot builders.
    current: Arc<std::sync::Mutex<Option<StoredSnapshot>>>,
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

fn snapshot_name(end_offset: i64, epoch: u64) -> String {
    format!("{end_offset:020}-{epoch:010}.checkpoint")
}

/// `(end offset, epoch)` from a snapshot id (its file name without extension).
fn parse_snapshot_id(id: &str) -> Option<(i64, u64)> {
    let (a, b) = id.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

impl StateMachine {
    /// Loads the newest snapshot of `dir`, if any, into the shared image.
    pub fn open(dir: &Path, shared: Arc<QuorumShared>) -> Result<StateMachine, String> {
        let mut sm = StateMachine {
            shared,
            dir: dir.to_path_buf(),
            last_applied: None,
            membership: StoredMembership::default(),
            next_offset: 0,
            current: Default::default(),
        };
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| {
                n.ends_with(".checkpoint")
                    && parse_snapshot_id(n.trim_end_matches(".checkpoint")).is_some()
            })
            .collect();
        names.sort();
        while let Some(name) = names.pop() {
            let path = dir.join(&name);
            let sidecar = path.with_extension("checkpoint.kfk.json");
            let (Ok(data), Ok(side)) = (std::fs::read(&path), std::fs::read(&sidecar)) else {
                continue;
            };
            let Ok(side) = serde_json::from_slice::<SnapshotSidecar>(&side) else {
                continue;
            };
            let stored = StoredSnapshot {
                meta: side.meta,
                data,
            };
            sm.load(&stored)?;
            *sm.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(stored);
            break;
        }
        Ok(sm)
    }

    /// Replaces the image with a snapshot's.
    fn load(&mut self, s: &StoredSnapshot) -> Result<(), String> {
        let (end, _) = parse_snapshot_id(&s.meta.snapshot_id)
            .ok_or_else(|| format!("bad snapshot id {}", s.meta.snapshot_id))?;
        let records = decode_snapshot(&s.data)?;
        let image = Image::from_records(&records, end - 1)?;
        *self.shared.image.write().unwrap_or_else(|e| e.into_inner()) = image;
        self.last_applied = s.meta.last_log_id;
        self.membership = s.meta.last_membership.clone();
        self.next_offset = end;
        if let Some(last) = s.meta.last_log_id {
            self.shared.positions().snapshot_end = Some((last.index, end));
        }
        self.shared.set_applied(self.next_offset - 1);
        Ok(())
    }

    fn write_files(dir: &Path, s: &StoredSnapshot) -> std::io::Result<()> {
        let path = dir.join(format!("{}.checkpoint", s.meta.snapshot_id));
        let tmp = path.with_extension("checkpoint.part");
        std::fs::write(&tmp, &s.data)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        let side = serde_json::to_vec(&SnapshotSidecar {
            meta: s.meta.clone(),
        })
        .map_err(io_err)?;
        let side_path = path.with_extension("checkpoint.kfk.json");
        std::fs::write(&side_path, side)?;
        std::fs::File::open(dir)?.sync_all()?;
        // Older snapshots are no longer needed.
        for e in std::fs::read_dir(dir)?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let keep = name.starts_with(&s.meta.snapshot_id);
            if !keep && (name.ends_with(".checkpoint") || name.ends_with(".checkpoint.kfk.json")) {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        let records = self
            .shared
            .image
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .to_records();
        let epoch = self.last_applied.map_or(0, |l| l.leader_id.term);
        let data = encode_snapshot(&records, epoch as i32, Some(self.membership.membership()));
        let id = snapshot_name(self.next_offset, epoch);
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id: id.trim_end_matches(".checkpoint").to_string(),
        };
        let stored = StoredSnapshot { meta, data };
        let dir = self.dir.clone();
        let s2 = stored.clone();
        tokio::task::block_in_place(|| Self::write_files(&dir, &s2))
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        tracing::info!(snapshot = %stored.meta.snapshot_id, bytes = stored.data.len(), "wrote a metadata snapshot");
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(stored.clone());
        Ok(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError<u64>> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut results = Vec::new();
        let mut changes: Vec<MetadataChange> = Vec::new();
        {
            let mut image = self.shared.image.write().unwrap_or_else(|e| e.into_inner());
            for entry in entries {
                let count = entries::record_count(&entry);
                let base = self.next_offset;
                match &entry.payload {
                    EntryPayload::Normal(c) => {
                        for (i, r) in c.records.iter().enumerate() {
                            match image.apply(r, base + i as i64) {
                                Ok(Some(change)) if !changes.contains(&change) => {
                                    changes.push(change)
                                }
                                Ok(_) => {}
                                Err(e) => {
                                    tracing::error!(error = %e, "applying a committed metadata record failed")
                                }
                            }
                        }
                    }
                    EntryPayload::Membership(m) => {
                        self.membership = StoredMembership::new(Some(entry.log_id), m.clone());
                    }
                    EntryPayload::Blank => {}
                }
                self.next_offset = base + count;
                image.offset = image.offset.max(self.next_offset - 1);
                self.last_applied = Some(entry.log_id);
                results.push(Applied {
                    last_offset: self.next_offset - 1,
                });
            }
        }
        self.shared.set_applied(self.next_offset - 1);
        if !changes.is_empty() {
            let _ = self.shared.changes.send(changes);
        }
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        StateMachine {
            shared: self.shared.clone(),
            dir: self.dir.clone(),
            last_applied: self.last_applied,
            membership: self.membership.clone(),
            next_offset: self.next_offset,
            current: self.current.clone(),
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: snapshot.into_inner(),
        };
        let dir = self.dir.clone();
        let s2 = stored.clone();
        tokio::task::block_in_place(|| Self::write_files(&dir, &s2))
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        self.load(&stored)
            .map_err(|e| StorageIOError::write_snapshot(None, &io_err(e)))?;
        self.shared
            .snapshots_installed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(snapshot = %meta.snapshot_id, "installed a metadata snapshot from the leader");
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(stored);
        let _ = self.shared.changes.send(vec![MetadataChange::Reset]);
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        let current = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Ok(current.map(|s| Snapshot {
            meta: s.meta.clone(),
            snapshot: Box::new(Cursor::new(s.data.clone())),
        }))
    }
}
