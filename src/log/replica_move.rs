//! Moving a partition's replica between the log dirs of one broker (JBOD, Kafka's
//! AlterReplicaLogDirs): a *future* replica is created in the target dir as
//! `<topic>-<partition>.<32 hex digits>-future`, filled batch by batch from the current log
//! (bytes unchanged, as a follower appends), and once it has caught up it takes the current
//! log's place under the log's lock: the future dir becomes `<topic>-<partition>` in the
//! target dir, the old one is renamed `...-delete` and removed. Appends and reads go on
//! against the current log the whole time.
//!
//! A move does not survive a restart: leftover `-future` and `-delete` dirs are removed when
//! the dirs are opened (the move can be asked for again).
//!
//! Must not: decide which partitions move or how fast (the broker's mover does).

use super::manager::{LogManager, TopicPartition};
use super::unified_log::{Log, LogError, OpenOptions};
use crate::protocol::record_batch::BatchHeader;
use std::io;
use std::path::{Path, PathBuf};

/// A replica being copied to another log dir.
#[derive(Debug)]
pub(super) struct FutureReplica {
    /// The target log dir.
    dir: PathBuf,
    log: Log,
    /// Base offset and CRC of the last batch copied: the current log must still hold that
    /// batch, else it was truncated under the copy and the copy starts over.
    last_copied: Option<(i64, u32)>,
}

impl FutureReplica {
    /// Drops the copy and its directory.
    pub(super) fn delete(self) -> io::Result<()> {
        self.log.delete()
    }
}

/// Why a move cannot start.
#[derive(Debug)]
pub enum MoveError {
    /// The path is not one of the broker's log dirs (LOG_DIR_NOT_FOUND).
    NotALogDir,
    /// The target dir, or the replica's own, is offline (KAFKA_STORAGE_ERROR).
    Offline,
    /// This broker holds no replica of the partition (REPLICA_NOT_AVAILABLE); the target
    /// is remembered for when it does.
    NoReplica,
    Io(LogError),
}

/// Where a move stands after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveProgress {
    /// Still copying: this many offsets behind the current log, this many bytes copied now.
    Copying { lag: i64, copied: u64 },
    /// The future replica has taken the current one's place.
    Done,
}

/// A future replica as DescribeLogDirs shows it.
#[derive(Debug, Clone)]
pub struct FutureInfo {
    pub partition: TopicPartition,
    pub dir: PathBuf,
    pub size_bytes: u64,
    /// Offsets behind the current replica.
    pub lag: i64,
}

fn io_error(context: String) -> impl FnOnce(io::Error) -> LogError {
    move |source| LogError { context, source }
}

/// Whether `name` is a future or deleted replica's dir, left by a move a restart cut short.
pub(super) fn is_leftover(name: &str) -> bool {
    name.ends_with("-future") || name.ends_with("-delete")
}

impl LogManager {
    /// The configured log dir `path` names (compared as given, then canonical).
    pub fn log_dir_named(&self, path: &Path) -> Option<PathBuf> {
        let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        self.dirs()
            .iter()
            .find(|d| d.as_path() == path || canonical(d) == canonical(path))
            .cloned()
    }

    /// Starts moving the replica of `topic`-`partition` to `target` (one of the log dirs).
    /// `Ok(false)`: it is there already (a move to another dir under way is cancelled);
    /// `Ok(true)`: a move is under way.
    pub fn start_move(
        &self,
        topic: &str,
        partition: i32,
        target: &Path,
    ) -> Result<bool, MoveError> {
        let target = self.log_dir_named(target).ok_or(MoveError::NotALogDir)?;
        if !self.online_dirs().contains(&target) {
            return Err(MoveError::Offline);
        }
        let tp = (topic.to_string(), partition);
        let Some(current) = self.get(topic, partition) else {
            self.preferred_dirs().insert(tp, target);
            return Err(MoveError::NoReplica);
        };
        if current.is_offline() {
            return Err(MoveError::Offline);
        }
        let mut futures = self.futures();
        if let Some(f) = futures.get(&tp) {
            if f.dir == target {
                return Ok(true);
            }
        }
        if let Some(f) = futures.remove(&tp) {
            let _ = f.delete();
        }
        if self.dir_of(topic, partition).as_deref() == Some(target.as_path()) {
            return Ok(false);
        }
        let (config, metadata) = {
            let l = current.lock();
            (
                l.config().clone(),
                self.fs().read(&l.dir().join("partition.metadata")).ok(),
            )
        };
        let path = target.join(format!(
            "{topic}-{partition}.{}-future",
            crate::ids::random_hex()
        ));
        let (log, _) = Log::open(
            self.fs().clone(),
            &path,
            topic,
            partition,
            config,
            OpenOptions {
                clean_shutdown: true,
                ..OpenOptions::default()
            },
        )
        .map_err(MoveError::Io)?;
        if let Some(bytes) = metadata {
            self.fs()
                .write_atomic(&path.join("partition.metadata"), &bytes)
                .map_err(|e| {
                    MoveError::Io(io_error(format!("{topic}-{partition}: partition.metadata"))(e))
                })?;
        }
        tracing::info!(topic, partition, to = %target.display(), "moving a replica to another log dir");
        futures.insert(
            tp,
            FutureReplica {
                dir: target,
                log,
                last_copied: None,
            },
        );
        Ok(true)
    }

    /// The partitions with a move under way.
    pub fn moves(&self) -> Vec<TopicPartition> {
        let mut out: Vec<TopicPartition> = self.futures().keys().cloned().collect();
        out.sort();
        out
    }

    /// Every future replica, for DescribeLogDirs.
    pub fn future_replicas(&self) -> Vec<FutureInfo> {
        let mut futures = self.futures();
        let mut out = Vec::new();
        for (tp, f) in futures.iter_mut() {
            let current_end = self
                .get(&tp.0, tp.1)
                .map_or(0, |l| l.lock().log_end_offset());
            out.push(FutureInfo {
                partition: tp.clone(),
                dir: f.dir.clone(),
                size_bytes: f.log.size_bytes().unwrap_or(0),
                lag: (current_end - f.log.log_end_offset()).max(0),
            });
        }
        out
    }

    /// Copies up to `max_bytes` more of the current log to the future replica; once it has
    /// caught up, swaps it in. Blocking (file I/O).
    pub fn move_step(
        &self,
        topic: &str,
        partition: i32,
        max_bytes: u64,
    ) -> Result<MoveProgress, LogError> {
        let tp = (topic.to_string(), partition);
        let Some(current) = self.get(topic, partition) else {
            // The partition went away (deleted): so does its future.
            if let Some(f) = self.futures().remove(&tp) {
                let _ = f.delete();
            }
            return Ok(MoveProgress::Done);
        };
        let mut futures = self.futures();
        let Some(f) = futures.get_mut(&tp) else {
            return Ok(MoveProgress::Done);
        };
        let name = format!("{topic}-{partition}");
        let (start, end) = {
            let l = current.lock();
            (l.log_start_offset(), l.log_end_offset())
        };
        let still_holds = |f: &FutureReplica| match f.last_copied {
            None => true,
            Some((base, crc)) => batch_at(&current, base).is_some_and(|h| h.crc == crc),
        };
        if !still_holds(f) || f.log.log_end_offset() > end || f.log.log_end_offset() < start {
            // Truncated or retention passed the copy: start again from the log start.
            f.log
                .truncate_fully_and_start_at(start)
                .map_err(io_error(format!("{name}: restart the copy")))?;
            f.last_copied = None;
        }
        let from = f.log.log_end_offset();
        if from < end {
            let copied = copy(&mut current.lock(), f, from, end, max_bytes, &name)?;
            let lag = end - f.log.log_end_offset();
            if lag > 0 || copied > 0 {
                return Ok(MoveProgress::Copying { lag, copied });
            }
        }
        // Caught up: the rest is copied and the replicas swapped under the log's lock.
        let mut guard = current.lock();
        loop {
            let end = guard.log_end_offset();
            let from = f.log.log_end_offset();
            if from >= end || copy(&mut guard, f, from, end, 1 << 20, &name)? == 0 {
                break;
            }
        }
        let Some(f) = futures.remove(&tp) else {
            return Ok(MoveProgress::Done);
        };
        let FutureReplica { dir, mut log, .. } = f;
        log.close()
            .map_err(io_error(format!("{name}: close the future replica")))?;
        let future_path = log.dir().to_path_buf();
        drop(log);
        let old_path = guard.dir().to_path_buf();
        let trash = old_path.with_file_name(format!("{name}.{}-delete", crate::ids::random_hex()));
        let final_path = dir.join(&name);
        let fs = self.fs();
        let renamed = fs
            .rename(&old_path, &trash)
            .and_then(|()| fs.rename(&future_path, &final_path))
            .and_then(|()| fs.sync_dir(&dir))
            .and_then(|()| old_path.parent().map_or(Ok(()), |p| fs.sync_dir(p)));
        renamed.map_err(io_error(format!("{name}: swap in the moved replica")))?;
        let (moved, _) = Log::open(
            fs.clone(),
            &final_path,
            topic,
            partition,
            guard.config().clone(),
            OpenOptions {
                clean_shutdown: true,
                recovery_point: guard.log_end_offset(),
                log_start_offset: guard.log_start_offset(),
            },
        )?;
        current.replace(&mut guard, moved, self.health_of(&dir));
        drop(guard);
        self.set_dir(&tp, dir.clone());
        drop(futures);
        if let Err(e) = fs.remove_dir_all(&trash) {
            tracing::warn!(topic, partition, error = %e, "cannot remove the moved replica's old dir");
        }
        let _ = self.checkpoint();
        tracing::info!(topic, partition, to = %dir.display(), "moved a replica to another log dir");
        Ok(MoveProgress::Done)
    }
}

/// The header of the batch at `base` in `log`, if it holds one there.
fn batch_at(log: &super::SharedLog, base: i64) -> Option<BatchHeader> {
    let region = log.lock().read(base, 1, i64::MAX, true).ok()??;
    let bytes = region.read_bytes().ok()?;
    let header = BatchHeader::parse(&bytes).ok()?;
    (header.base_offset == base).then_some(header)
}

/// Appends `current`'s batches from `from` (below `end`, at most `max_bytes` but at least one
/// batch) to the future replica; the bytes copied.
fn copy(
    current: &mut Log,
    f: &mut FutureReplica,
    from: i64,
    end: i64,
    max_bytes: u64,
    name: &str,
) -> Result<u64, LogError> {
    let region = current
        .read(from, max_bytes.max(1), end, true)
        .map_err(|code| LogError {
            context: format!("{name}: read at {from} to copy it"),
            source: io::Error::other(code.name()),
        })?;
    let Some(region) = region else {
        return Ok(0);
    };
    let bytes = region
        .read_bytes()
        .map_err(io_error(format!("{name}: read at {from} to copy it")))?;
    let mut last = None;
    for (header, _) in crate::protocol::record_batch::BatchIter::new(bytes.clone()) {
        last = Some((header.base_offset, header.crc));
    }
    f.log
        .append_as_follower(&bytes, crate::time::now_ms())
        .map_err(|e| LogError {
            context: format!("{name}: append to the future replica"),
            source: io::Error::other(e.message),
        })?;
    if last.is_some() {
        f.last_copied = last;
    }
    Ok(bytes.len() as u64)
}

/// Removes the `-future` and `-delete` dirs a restart left in `dir`.
pub(super) fn remove_leftovers(fs: &dyn super::LogFs, dir: &Path) {
    let Ok(entries) = fs.list_dir(dir) else {
        return;
    };
    for path in entries {
        let leftover = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_leftover);
        if leftover {
            tracing::info!(path = %path.display(), "removing a replica left by an unfinished move between log dirs");
            if let Err(e) = fs.remove_dir_all(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove it");
            }
        }
    }
}
