//! `LogManager`: every partition log of the data dirs (`log.dirs`).
//!
//! Owns: one directory per partition (`<topic>-<partition>`), opening all logs at start in
//! parallel (inactive segments stay closed until used), creating them in the dir with the
//! fewest partitions, deleting them, the per-dir checkpoints (`recovery-point-offset-checkpoint`,
//! `log-start-offset-checkpoint`), the clean-shutdown marker (`.kafka_cleanshutdown`), and the
//! periodic flush / retention / compaction passes the broker schedules.
//!
//! Must not: decide which partitions exist (the broker's metadata does) or their configs.

use super::checkpoint;
use super::config::LogConfig;
use super::dir_health::{DirHealth, FailureHandler, FailureReporter};
use super::io::LogFs;
use super::unified_log::{Log, LogError, OpenOptions, RecoveryReport, SharedLog};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";
pub const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";
pub const LOG_START_FILE: &str = "log-start-offset-checkpoint";

/// `(topic, partition)`.
pub type TopicPartition = (String, i32);

/// Splits `orders-3` into `("orders", 3)`.
pub fn parse_partition_dir(name: &str) -> Option<TopicPartition> {
    let (topic, partition) = name.rsplit_once('-')?;
    let partition: i32 = partition.parse().ok()?;
    (!topic.is_empty() && partition >= 0).then(|| (topic.to_string(), partition))
}

#[derive(Debug)]
struct Entry {
    dir: PathBuf,
    log: Arc<SharedLog>,
}

#[derive(Debug)]
pub struct LogManager {
    fs: Arc<dyn LogFs>,
    dirs: Vec<PathBuf>,
    /// One per dir, in the order of `dirs`.
    health: Vec<Arc<DirHealth>>,
    reporter: Arc<FailureReporter>,
    logs: Mutex<HashMap<TopicPartition, Entry>>,
    /// Replicas being copied to another log dir (`replica_move`).
    futures: Mutex<HashMap<TopicPartition, super::replica_move::FutureReplica>>,
    /// Log dirs asked for partitions not created here yet (AlterReplicaLogDirs before the
    /// replica exists): where they are created.
    preferred: Mutex<HashMap<TopicPartition, PathBuf>>,
}

/// What opening the data dirs found.
#[derive(Debug, Default)]
pub struct StartupReport {
    pub partitions: usize,
    pub clean_shutdown: bool,
    pub recovery: RecoveryReport,
}

impl LogManager {
    /// Opens every partition log under `dirs`. `config_for(topic)` gives each topic's config.
    /// After an unclean stop, segments after each recovery point are scanned and repaired.
    pub fn open(
        fs: Arc<dyn LogFs>,
        dirs: Vec<PathBuf>,
        config_for: &(dyn Fn(&str) -> LogConfig + Sync),
    ) -> Result<(LogManager, StartupReport), LogError> {
        let mut report = StartupReport {
            clean_shutdown: true,
            ..StartupReport::default()
        };
        let mut work = Vec::new();
        for dir in &dirs {
            fs.create_dir_all(dir).map_err(|source| LogError {
                context: format!("create {}", dir.display()),
                source,
            })?;
            let marker = dir.join(CLEAN_SHUTDOWN_FILE);
            let clean = fs.exists(&marker);
            report.clean_shutdown &= clean;
            let recovery = checkpoint::read_offsets(fs.as_ref(), &dir.join(RECOVERY_POINT_FILE)).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "recovery checkpoint unreadable; recovering every segment");
                BTreeMap::new()
            });
            let starts = checkpoint::read_offsets(fs.as_ref(), &dir.join(LOG_START_FILE))
                .unwrap_or_default();
            super::replica_move::remove_leftovers(fs.as_ref(), dir);
            let entries = fs.list_dir(dir).map_err(|source| LogError {
                context: format!("list {}", dir.display()),
                source,
            })?;
            for path in entries {
                let Some(tp) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(parse_partition_dir)
                else {
                    continue;
                };
                let options = OpenOptions {
                    clean_shutdown: clean,
                    recovery_point: recovery.get(&tp).copied().unwrap_or(0),
                    log_start_offset: starts.get(&tp).copied().unwrap_or(0),
                };
                work.push((dir.clone(), path, tp, options));
            }
            if clean {
                let _ = fs.remove_file(&marker);
            }
        }
        if work.is_empty() {
            report.clean_shutdown = true; // a new (or empty) data dir has nothing to recover
        }
        let opened = open_in_parallel(&fs, work, config_for)?;
        let reporter = Arc::new(FailureReporter::default());
        let health: Vec<Arc<DirHealth>> = dirs
            .iter()
            .map(|d| Arc::new(DirHealth::new(d, reporter.clone())))
            .collect();
        let health_of = |dir: &Path| {
            let i = dirs.iter().position(|d| d == dir).unwrap_or(0);
            health[i].clone()
        };
        let mut logs = HashMap::new();
        for (tp, dir, log, r) in opened {
            report.recovery.segments_scanned += r.segments_scanned;
            report.recovery.bytes_truncated += r.bytes_truncated;
            report.recovery.segments_deleted += r.segments_deleted;
            let log = Arc::new(SharedLog::watched(log, health_of(&dir)));
            logs.insert(tp, Entry { dir, log });
        }
        report.partitions = logs.len();
        let manager = LogManager {
            fs,
            dirs,
            health,
            reporter,
            logs: Mutex::new(logs),
            futures: Mutex::new(HashMap::new()),
            preferred: Mutex::new(HashMap::new()),
        };
        manager.checkpoint().map_err(|source| LogError {
            context: "write checkpoints".into(),
            source,
        })?;
        Ok((manager, report))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TopicPartition, Entry>> {
        self.logs.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn fs(&self) -> &Arc<dyn LogFs> {
        &self.fs
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Installs what happens when a log dir fails (the broker's policy: halt, or serve
    /// KAFKA_STORAGE_ERROR for that dir). Installed once.
    pub fn on_dir_failure(&self, handler: FailureHandler) {
        self.reporter.install(handler);
    }

    /// The log dir holding `topic-partition`.
    pub fn dir_of(&self, topic: &str, partition: i32) -> Option<PathBuf> {
        self.lock()
            .get(&(topic.to_string(), partition))
            .map(|e| e.dir.clone())
    }

    /// The dirs still online.
    pub fn online_dirs(&self) -> Vec<PathBuf> {
        self.health
            .iter()
            .filter(|h| !h.is_offline())
            .map(|h| h.dir().to_path_buf())
            .collect()
    }

    pub(super) fn futures(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<TopicPartition, super::replica_move::FutureReplica>>
    {
        self.futures.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn preferred_dirs(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<TopicPartition, PathBuf>> {
        self.preferred.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `tp` now lives in `dir` (a finished move).
    pub(super) fn set_dir(&self, tp: &TopicPartition, dir: PathBuf) {
        if let Some(e) = self.lock().get_mut(tp) {
            e.dir = dir;
        }
    }

    pub(super) fn health_of(&self, dir: &Path) -> Arc<DirHealth> {
        let i = self.dirs.iter().position(|d| d == dir).unwrap_or(0);
        self.health[i].clone()
    }

    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<SharedLog>> {
        self.lock()
            .get(&(topic.to_string(), partition))
            .map(|e| e.log.clone())
    }

    pub fn partitions(&self) -> Vec<TopicPartition> {
        let mut out: Vec<TopicPartition> = self.lock().keys().cloned().collect();
        out.sort();
        out
    }

    pub fn all(&self) -> Vec<(TopicPartition, Arc<SharedLog>)> {
        self.lock()
            .iter()
            .map(|(tp, e)| (tp.clone(), e.log.clone()))
            .collect()
    }

    /// The log of `topic-partition`, created (in the data dir with the fewest partitions,
    /// with `partition.metadata` naming `topic_id`) when it does not exist.
    pub fn get_or_create(
        &self,
        topic: &str,
        partition: i32,
        config: LogConfig,
        topic_id: &str,
    ) -> Result<Arc<SharedLog>, LogError> {
        let tp = (topic.to_string(), partition);
        let mut logs = self.lock();
        if let Some(e) = logs.get(&tp) {
            return Ok(e.log.clone());
        }
        let online = self.online_dirs();
        let preferred = self
            .preferred_dirs()
            .remove(&tp)
            .filter(|d| online.contains(d));
        let dir = preferred
            .or_else(|| {
                online
                    .iter()
                    .min_by_key(|d| logs.values().filter(|e| &e.dir == *d).count())
                    .cloned()
            })
            .ok_or_else(|| LogError {
                context: format!("{topic}-{partition}: create"),
                source: io::Error::other("every log dir is offline"),
            })?;
        let path = dir.join(format!("{topic}-{partition}"));
        let health = self.health_of(&dir);
        let opened = Log::open(
            self.fs.clone(),
            &path,
            topic,
            partition,
            config,
            OpenOptions {
                clean_shutdown: true,
                ..OpenOptions::default()
            },
        );
        let (log, _) = opened.inspect_err(|e| health.fail(&e.to_string()))?;
        checkpoint::write_partition_metadata(
            self.fs.as_ref(),
            &path.join("partition.metadata"),
            topic_id,
        )
        .map_err(|source| {
            let e = LogError {
                context: format!("{topic}-{partition}: write partition.metadata"),
                source,
            };
            health.fail(&e.to_string());
            e
        })?;
        let shared = Arc::new(SharedLog::watched(log, health));
        logs.insert(
            tp,
            Entry {
                dir,
                log: shared.clone(),
            },
        );
        Ok(shared)
    }

    /// Deletes a partition's log and its directory.
    pub fn delete(&self, topic: &str, partition: i32) -> io::Result<()> {
        if let Some(f) = self.futures().remove(&(topic.to_string(), partition)) {
            f.delete()?;
        }
        let Some(entry) = self.lock().remove(&(topic.to_string(), partition)) else {
            return Ok(());
        };
        let dir = entry.log.lock().dir().to_path_buf();
        self.fs.remove_dir_all(&dir)
    }

    /// Sets a partition's log aside without deleting it, as Kafka does with logs its metadata
    /// does not know: the directory becomes `<topic>-<partition>.<32 hex digits>-stray`
    /// (skipped at every later start). Returns the new path.
    pub fn set_aside_stray(&self, topic: &str, partition: i32) -> io::Result<Option<PathBuf>> {
        let Some(entry) = self.lock().remove(&(topic.to_string(), partition)) else {
            return Ok(None);
        };
        let dir = entry.log.lock().dir().to_path_buf();
        let stray = dir.with_file_name(format!(
            "{topic}-{partition}.{}-stray",
            crate::ids::random_hex()
        ));
        self.fs.rename(&dir, &stray)?;
        if let Some(parent) = dir.parent() {
            self.fs.sync_dir(parent)?;
        }
        Ok(Some(stray))
    }

    /// Writes each online dir's recovery-point and log-start checkpoints; a dir whose
    /// checkpoint cannot be written goes offline.
    pub fn checkpoint(&self) -> io::Result<()> {
        let logs = self.all_with_dirs();
        for dir in &self.online_dirs() {
            let mut recovery = BTreeMap::new();
            let mut starts = BTreeMap::new();
            for (tp, d, log) in &logs {
                if d == dir {
                    let l = log.lock();
                    recovery.insert(tp.clone(), l.recovery_point());
                    starts.insert(tp.clone(), l.log_start_offset());
                }
            }
            let written = checkpoint::write_offsets(
                self.fs.as_ref(),
                &dir.join(RECOVERY_POINT_FILE),
                &recovery,
            )
            .and_then(|()| {
                checkpoint::write_offsets(self.fs.as_ref(), &dir.join(LOG_START_FILE), &starts)
            });
            if let Err(e) = written {
                self.health_of(dir)
                    .fail(&format!("writing checkpoints failed: {e}"));
                return Err(e);
            }
        }
        Ok(())
    }

    fn all_with_dirs(&self) -> Vec<(TopicPartition, PathBuf, Arc<SharedLog>)> {
        self.lock()
            .iter()
            .map(|(tp, e)| (tp.clone(), e.dir.clone(), e.log.clone()))
            .collect()
    }

    /// Flushes the logs whose `flush.ms` has passed.
    pub fn flush_due(&self, now_ms: i64) -> io::Result<()> {
        for (_, log) in self.all().into_iter().filter(|(_, l)| !l.is_offline()) {
            let (due, leo) = {
                let l = log.lock();
                (l.needs_flush(now_ms), l.log_end_offset())
            };
            if due {
                log.flush_to(leo, now_ms)?;
            }
        }
        Ok(())
    }

    /// Applies retention to every log; `high_watermark(tp)` bounds what may go.
    pub fn enforce_retention(
        &self,
        now_ms: i64,
        high_watermark: &dyn Fn(&TopicPartition) -> i64,
    ) -> io::Result<usize> {
        let mut deleted = 0;
        for (tp, log) in self.all().into_iter().filter(|(_, l)| !l.is_offline()) {
            let result = log.lock().enforce_retention(now_ms, high_watermark(&tp));
            match result {
                Ok(n) => deleted += n,
                Err(e) => {
                    log.fail(&format!("retention failed: {e}"));
                    return Err(e);
                }
            }
        }
        Ok(deleted)
    }

    /// Forgets idempotent producers silent for `expiration_ms` in every log.
    pub fn remove_expired_producers(&self, now_ms: i64, expiration_ms: i64) -> usize {
        self.all()
            .iter()
            .map(|(_, log)| log.lock().remove_expired_producers(now_ms, expiration_ms))
            .sum()
    }

    /// Compacts every log whose policy has `compact` and that is dirty enough.
    pub fn compact(&self, now_ms: i64, memory: super::cleaner::CleanerMemory) -> io::Result<usize> {
        let mut cleaned = 0;
        for (_, log) in self.all().into_iter().filter(|(_, l)| !l.is_offline()) {
            match super::cleaner::clean_within(&log, now_ms, memory) {
                Ok(r) => cleaned += r.segments_cleaned,
                Err(e) => {
                    log.fail(&format!("compaction failed: {e}"));
                    return Err(e);
                }
            }
        }
        Ok(cleaned)
    }

    /// Clean shutdown: closes every log, writes checkpoints and the clean-shutdown marker.
    /// Offline dirs are left as they are: no clean-shutdown marker, so the next start
    /// recovers them.
    pub fn shutdown(&self) -> io::Result<()> {
        for (_, log) in self.all().into_iter().filter(|(_, l)| !l.is_offline()) {
            log.lock().close()?;
        }
        self.checkpoint()?;
        for dir in &self.online_dirs() {
            self.fs.write_atomic(&dir.join(CLEAN_SHUTDOWN_FILE), b"")?;
        }
        Ok(())
    }
}

type Opened = (TopicPartition, PathBuf, Log, RecoveryReport);

fn open_in_parallel(
    fs: &Arc<dyn LogFs>,
    work: Vec<(PathBuf, PathBuf, TopicPartition, OpenOptions)>,
    config_for: &(dyn Fn(&str) -> LogConfig + Sync),
) -> Result<Vec<Opened>, LogError> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    let queue = Mutex::new(work);
    let results: Mutex<Vec<Result<Opened, LogError>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let Some((dir, path, tp, options)) =
                    queue.lock().unwrap_or_else(|e| e.into_inner()).pop()
                else {
                    break;
                };
                let result = Log::open(fs.clone(), &path, &tp.0, tp.1, config_for(&tp.0), options)
                    .map(|(log, r)| (tp, dir, log, r));
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .collect()
}

/// Raises the soft open-files limit to the hard limit; returns the soft limit now in force.
pub fn raise_open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    Some(limit.rlim_cur)
}

/// Whether `path` is one of the manager's partition directories.
pub fn is_partition_dir(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_partition_dir)
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_dirs_parse_from_the_last_dash() {
        assert_eq!(
            parse_partition_dir("my-topic-12"),
            Some(("my-topic".to_string(), 12))
        );
        assert_eq!(
            parse_partition_dir("__consumer_offsets-0"),
            Some(("__consumer_offsets".to_string(), 0))
        );
        assert_eq!(parse_partition_dir("nodash"), None);
        assert_eq!(parse_partition_dir("-3"), None);
    }
}
