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
    logs: Mutex<HashMap<TopicPartition, Entry>>,
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
        let mut logs = HashMap::new();
        for (tp, dir, log, r) in opened {
            report.recovery.segments_scanned += r.segments_scanned;
            report.recovery.bytes_truncated += r.bytes_truncated;
            report.recovery.segments_deleted += r.segments_deleted;
            logs.insert(
                tp,
                Entry {
                    dir,
                    log: Arc::new(SharedLog::new(log)),
                },
            );
        }
        report.partitions = logs.len();
        let manager = LogManager {
            fs,
            dirs,
            logs: Mutex::new(logs),
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
        let dir = self
            .dirs
            .iter()
            .min_by_key(|d| logs.values().filter(|e| &e.dir == *d).count())
            .cloned()
            .ok_or_else(|| LogError {
                context: "no log dirs".into(),
                source: io::Error::other("empty log.dirs"),
            })?;
        let path = dir.join(format!("{topic}-{partition}"));
        let (log, _) = Log::open(
            self.fs.clone(),
            &path,
            topic,
            partition,
            config,
            OpenOptions {
                clean_shutdown: true,
                ..OpenOptions::default()
            },
        )?;
        checkpoint::write_partition_metadata(
            self.fs.as_ref(),
            &path.join("partition.metadata"),
            topic_id,
        )
        .map_err(|source| LogError {
            context: format!("{topic}-{partition}: write partition.metadata"),
            source,
        })?;
        let shared = Arc::new(SharedLog::new(log));
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
        let Some(entry) = self.lock().remove(&(topic.to_string(), partition)) else {
            return Ok(());
        };
        let dir = entry.log.lock().dir().to_path_buf();
        self.fs.remove_dir_all(&dir)
    }

    /// Writes each dir's recovery-point and log-start checkpoints.
    pub fn checkpoint(&self) -> io::Result<()> {
        let logs = self.all_with_dirs();
        for dir in &self.dirs {
            let mut recovery = BTreeMap::new();
            let mut starts = BTreeMap::new();
            for (tp, d, log) in &logs {
                if d == dir {
                    let l = log.lock();
                    recovery.insert(tp.clone(), l.recovery_point());
                    starts.insert(tp.clone(), l.log_start_offset());
                }
            }
            checkpoint::write_offsets(self.fs.as_ref(), &dir.join(RECOVERY_POINT_FILE), &recovery)?;
            checkpoint::write_offsets(self.fs.as_ref(), &dir.join(LOG_START_FILE), &starts)?;
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
        for (_, log) in self.all() {
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
        for (tp, log) in self.all() {
            deleted += log.lock().enforce_retention(now_ms, high_watermark(&tp))?;
        }
        Ok(deleted)
    }

    /// Compacts every log whose policy has `compact` and that is dirty enough.
    pub fn compact(&self, now_ms: i64) -> io::Result<usize> {
        let mut cleaned = 0;
        for (_, log) in self.all() {
            cleaned += super::cleaner::clean(&log, now_ms)?.segments_cleaned;
        }
        Ok(cleaned)
    }

    /// Clean shutdown: closes every log, writes checkpoints and the clean-shutdown marker.
    pub fn shutdown(&self) -> io::Result<()> {
        for (_, log) in self.all() {
            log.lock().close()?;
        }
        self.checkpoint()?;
        for dir in &self.dirs {
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
