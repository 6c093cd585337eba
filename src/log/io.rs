//! The file layer under the log: positional reads and writes, `fdatasync`, directory
//! operations. [`OsFs`] is the real one; [`SimulatedFs`] keeps files in memory and, on
//! [`SimulatedFs::crash`], throws away every byte that was not made durable by a sync — the
//! machine-crash model the durability tests use. Everything in `log/` goes through [`LogFs`].
//!
//! Must not: know about batches, offsets or Kafka. Called by: `log/` only.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One open file.
#[allow(clippy::len_without_is_empty)]
pub trait LogFile: Send + Sync + std::fmt::Debug {
    /// Reads exactly `buf.len()` bytes at `position`.
    fn read_exact_at(&self, buf: &mut [u8], position: u64) -> io::Result<()>;
    /// Writes all of `data` at `position`.
    fn write_all_at(&self, data: &[u8], position: u64) -> io::Result<()>;
    fn len(&self) -> io::Result<u64>;
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes the data durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// The OS file, when there is one (for `sendfile`).
    fn os_file(&self) -> Option<&std::fs::File> {
        None
    }
}

/// A file system for logs.
pub trait LogFs: Send + Sync + std::fmt::Debug {
    /// Opens `path` for reading and writing, creating it when `create` is set.
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn LogFile>>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn exists(&self, path: &Path) -> bool;
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The entries of `dir` (full paths), sorted.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// Whole-file read.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Replaces `path` atomically and durably: temp file, sync, rename, sync the directory.
    fn write_atomic(&self, path: &Path, data: &[u8]) -> io::Result<()>;
    /// Last modification time in ms since the epoch.
    fn modified_ms(&self, path: &Path) -> Option<i64>;
    /// Makes the entries of `dir` durable: files and directories created, renamed or removed
    /// in it survive a machine crash only after this (`fsync` of the directory).
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes the exclusive lock on `<dir>/.lock` that says a broker uses `dir`, held until
    /// the returned [`DirLock`] drops; `Ok(None)` when another broker (or an Apache Kafka
    /// broker, whose `FileChannel.tryLock` takes the same kind of lock) holds it.
    fn lock_dir(&self, dir: &Path) -> io::Result<Option<DirLock>>;
}

/// The lock file Kafka takes in every log dir and its metadata log dir.
pub const LOCK_FILE: &str = ".lock";

/// A held data-dir lock ([`LogFs::lock_dir`]); dropping it releases the lock.
#[derive(Debug)]
pub struct DirLock {
    /// The open lock file: an fcntl open-file-description lock lives as long as this
    /// descriptor. `None` on a simulated file system.
    _file: Option<std::fs::File>,
}

/// An exclusive fcntl lock on the whole of `file` (`F_OFD_SETLK`): it excludes other open
/// file descriptions, in this process or another, and conflicts with the classic POSIX
/// record locks Java takes, so kfk and Apache Kafka exclude each other. `Ok(false)` when held
/// elsewhere.
fn try_lock_exclusive(file: &std::fs::File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: an all-zero `flock` is a valid value of this plain C struct.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    // l_start = 0, l_len = 0: the whole file; l_pid must be 0 for OFD locks.
    // SAFETY: `file` is an open descriptor for the duration of the call, and `lock` a valid
    // `flock` that fcntl only reads.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &lock) };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(e),
    }
}

/// The operating system's files.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsFs;

#[derive(Debug)]
struct OsFile(std::fs::File);

impl LogFile for OsFile {
    fn read_exact_at(&self, buf: &mut [u8], position: u64) -> io::Result<()> {
        self.0.read_exact_at(buf, position)
    }
    fn write_all_at(&self, data: &[u8], position: u64) -> io::Result<()> {
        self.0.write_all_at(data, position)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn os_file(&self) -> Option<&std::fs::File> {
        Some(&self.0)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl LogFs for OsFs {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn LogFile>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        Ok(Arc::new(OsFile(file)))
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(dir)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<io::Result<_>>()?;
        out.sort();
        Ok(out)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn write_atomic(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let tmp = path.with_extension("tmp");
        {
            let f = std::fs::File::create(&tmp)?;
            f.write_all_at(data, 0)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        match path.parent() {
            Some(dir) => sync_dir(dir),
            None => Ok(()),
        }
    }
    fn modified_ms(&self, path: &Path) -> Option<i64> {
        let modified = std::fs::metadata(path).ok()?.modified().ok()?;
        let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
        i64::try_from(since.as_millis()).ok()
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        sync_dir(dir)
    }
    fn lock_dir(&self, dir: &Path) -> io::Result<Option<DirLock>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))?;
        Ok(try_lock_exclusive(&file)?.then_some(DirLock { _file: Some(file) }))
    }
}

/// Faults a [`SimulatedFs`] injects (a failing disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `sync_data` and `sync_dir` fail.
    Sync,
    /// Writes fail.
    Write,
}

/// An in-memory file system that models a machine crash: writes land in a volatile image,
/// `sync_data` copies it to the durable image, and [`SimulatedFs::crash`] drops whatever was
/// not made durable — file contents not synced, and directory entries (files and
/// directories created or renamed) whose directory was not synced since. A directory whose
/// parent the model does not know (the test's root) is durable. Removals count as durable at
/// once. Faults ([`SimulatedFs::inject`]) make syncs or writes under a path fail, as a failing
/// disk does. Counts `sync_data` calls so tests can check the flush policy.
#[derive(Debug, Default)]
pub struct SimulatedFs {
    files: Mutex<BTreeMap<PathBuf, Arc<SimFile>>>,
    /// Known directories and whether their own entry is durable.
    dirs: Mutex<BTreeMap<PathBuf, bool>>,
    /// Files whose directory entry is durable.
    durable_entries: Mutex<std::collections::BTreeSet<PathBuf>>,
    shared: Arc<SimShared>,
    now_ms: AtomicU64,
}

/// What every file of one [`SimulatedFs`] shares.
#[derive(Debug, Default)]
struct SimShared {
    syncs: AtomicU64,
    /// How long a sync takes (a disk's fsync latency), in microseconds.
    sync_delay_us: AtomicU64,
    faults: Mutex<Vec<(PathBuf, Fault)>>,
}

impl SimShared {
    fn check(&self, path: &Path, fault: Fault) -> io::Result<()> {
        let hit = lock(&self.faults)
            .iter()
            .any(|(prefix, f)| *f == fault && path.starts_with(prefix));
        if hit {
            return Err(io::Error::other(format!(
                "injected {fault:?} failure at {}",
                path.display()
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct SimFile {
    /// Where the file is now (renames move it), for fault matching.
    path: Mutex<PathBuf>,
    volatile: Mutex<Vec<u8>>,
    durable: Mutex<Vec<u8>>,
    shared: Arc<SimShared>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimFile {
    fn path(&self) -> PathBuf {
        lock(&self.path).clone()
    }
}

impl LogFile for SimFile {
    fn read_exact_at(&self, buf: &mut [u8], position: u64) -> io::Result<()> {
        let data = lock(&self.volatile);
        let start = usize::try_from(position).map_err(|_| io::ErrorKind::InvalidInput)?;
        let end = start
            .checked_add(buf.len())
            .ok_or(io::ErrorKind::InvalidInput)?;
        if end > data.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past end",
            ));
        }
        buf.copy_from_slice(&data[start..end]);
        Ok(())
    }
    fn write_all_at(&self, data: &[u8], position: u64) -> io::Result<()> {
        self.shared.check(&self.path(), Fault::Write)?;
        let mut file = lock(&self.volatile);
        let start = usize::try_from(position).map_err(|_| io::ErrorKind::InvalidInput)?;
        if file.len() < start + data.len() {
            file.resize(start + data.len(), 0);
        }
        file[start..start + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(lock(&self.volatile).len() as u64)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.shared.check(&self.path(), Fault::Write)?;
        lock(&self.volatile).resize(
            usize::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?,
            0,
        );
        Ok(())
    }
    fn sync_data(&self) -> io::Result<()> {
        let delay = self.shared.sync_delay_us.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_micros(delay));
        }
        self.shared.check(&self.path(), Fault::Sync)?;
        let snapshot = lock(&self.volatile).clone();
        *lock(&self.durable) = snapshot;
        self.shared.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl SimulatedFs {
    pub fn new() -> Arc<SimulatedFs> {
        Arc::new(SimulatedFs::default())
    }

    /// A machine crash: drops every write that was not synced, and every file or directory
    /// whose entry was not made durable by a sync of its directory.
    pub fn crash(&self) {
        let dirs = lock(&self.dirs).clone();
        let durable_entries = lock(&self.durable_entries).clone();
        let survives_dirs = |path: &Path| {
            path.ancestors()
                .skip(1)
                .all(|a| dirs.get(a).copied().unwrap_or(true))
        };
        let mut files = lock(&self.files);
        files.retain(|path, _| durable_entries.contains(path) && survives_dirs(path));
        for file in files.values() {
            let durable = lock(&file.durable).clone();
            *lock(&file.volatile) = durable;
        }
        lock(&self.dirs).retain(|d, durable| *durable && survives_dirs(d));
    }

    /// `sync_data` calls so far, over all files.
    pub fn sync_count(&self) -> u64 {
        self.shared.syncs.load(Ordering::SeqCst)
    }

    /// Makes every sync take `delay`, as a real disk's fsync does.
    pub fn set_sync_delay(&self, delay: std::time::Duration) {
        self.shared
            .sync_delay_us
            .store(delay.as_micros() as u64, Ordering::SeqCst);
    }

    /// From now on, `fault` happens for every file and directory under `prefix`.
    pub fn inject(&self, prefix: &Path, fault: Fault) {
        lock(&self.shared.faults).push((prefix.to_path_buf(), fault));
    }

    /// Removes every injected fault (the disk was replaced).
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    fn new_file(&self, path: &Path) -> Arc<SimFile> {
        Arc::new(SimFile {
            path: Mutex::new(path.to_path_buf()),
            shared: self.shared.clone(),
            ..SimFile::default()
        })
    }

    /// Sets the modification time every file reports (tests control time).
    pub fn set_modified_ms(&self, ms: i64) {
        self.now_ms.store(ms.max(0) as u64, Ordering::SeqCst);
    }

    /// Direct access to a file's current bytes (for corruption tests).
    pub fn with_file<R>(&self, path: &Path, f: impl FnOnce(&mut Vec<u8>) -> R) -> Option<R> {
        let files = lock(&self.files);
        let file = files.get(path)?;
        let mut volatile = lock(&file.volatile);
        let out = f(&mut volatile);
        *lock(&file.durable) = volatile.clone();
        Some(out)
    }

    fn not_found(path: &Path) -> io::Error {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{}: no such file", path.display()),
        )
    }
}

impl LogFs for SimulatedFs {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn LogFile>> {
        let mut files = lock(&self.files);
        if let Some(f) = files.get(path) {
            return Ok(f.clone());
        }
        if !create {
            return Err(Self::not_found(path));
        }
        self.shared.check(path, Fault::Write)?;
        let file = self.new_file(path);
        files.insert(path.to_path_buf(), file.clone());
        Ok(file)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        lock(&self.durable_entries).remove(path);
        lock(&self.files)
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| Self::not_found(path))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.shared.check(to, Fault::Write)?;
        let mut files = lock(&self.files);
        let mut entries = lock(&self.durable_entries);
        let mut dirs = lock(&self.dirs);
        if let Some(file) = files.remove(from) {
            entries.remove(from);
            *lock(&file.path) = to.to_path_buf();
            files.insert(to.to_path_buf(), file);
            return Ok(());
        }
        if !dirs.contains_key(from) {
            return Err(Self::not_found(from));
        }
        // A directory: everything under it moves; its new entry is not durable yet.
        let moved: Vec<PathBuf> = files
            .keys()
            .filter(|k| k.starts_with(from))
            .cloned()
            .collect();
        for old in moved {
            let new = to.join(old.strip_prefix(from).unwrap_or(&old));
            if let Some(file) = files.remove(&old) {
                *lock(&file.path) = new.clone();
                if entries.remove(&old) {
                    entries.insert(new.clone());
                }
                files.insert(new, file);
            }
        }
        let moved_dirs: Vec<(PathBuf, bool)> = dirs
            .iter()
            .filter(|(d, _)| d.starts_with(from))
            .map(|(d, durable)| (d.clone(), *durable))
            .collect();
        for (old, durable) in moved_dirs {
            dirs.remove(&old);
            let new = to.join(old.strip_prefix(from).unwrap_or(&old));
            let is_root = new == to;
            dirs.insert(new, durable && !is_root);
        }
        Ok(())
    }
    fn exists(&self, path: &Path) -> bool {
        let files = lock(&self.files);
        files.contains_key(path)
            || files.keys().any(|k| k.starts_with(path))
            || lock(&self.dirs).contains_key(path)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut dirs = lock(&self.dirs);
        let mut missing: Vec<&Path> = dir
            .ancestors()
            .take_while(|a| !dirs.contains_key(*a))
            .collect();
        missing.reverse();
        for d in missing {
            if d.as_os_str().is_empty() || d.parent().is_none() {
                continue;
            }
            self.shared.check(d, Fault::Write)?;
            // A directory under no known directory is the test's root: durable.
            let parent_known = d.parent().is_some_and(|p| dirs.contains_key(p));
            dirs.insert(d.to_path_buf(), !parent_known);
        }
        Ok(())
    }
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        lock(&self.files).retain(|k, _| !k.starts_with(dir));
        lock(&self.durable_entries).retain(|k| !k.starts_with(dir));
        lock(&self.dirs).retain(|k, _| !k.starts_with(dir));
        Ok(())
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let files = lock(&self.files);
        let dirs = lock(&self.dirs);
        let mut out: Vec<PathBuf> = files
            .keys()
            .chain(dirs.keys())
            .filter_map(|k| {
                let rest = k.strip_prefix(dir).ok()?;
                let first = rest.components().next()?;
                Some(dir.join(first))
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let files = lock(&self.files);
        let f = files.get(path).ok_or_else(|| Self::not_found(path))?;
        let data = lock(&f.volatile).clone();
        Ok(data)
    }
    fn write_atomic(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.shared.check(path, Fault::Write)?;
        let file = self.new_file(path);
        file.write_all_at(data, 0)?;
        file.sync_data()?;
        if let Some(parent) = path.parent() {
            self.shared.check(parent, Fault::Sync)?;
        }
        lock(&self.files).insert(path.to_path_buf(), file);
        lock(&self.durable_entries).insert(path.to_path_buf());
        Ok(())
    }
    fn modified_ms(&self, path: &Path) -> Option<i64> {
        self.exists(path)
            .then(|| self.now_ms.load(Ordering::SeqCst) as i64)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.shared.check(dir, Fault::Sync)?;
        let files = lock(&self.files);
        let mut entries = lock(&self.durable_entries);
        for path in files.keys().filter(|p| p.parent() == Some(dir)) {
            entries.insert(path.clone());
        }
        for (d, durable) in lock(&self.dirs).iter_mut() {
            if d.parent() == Some(dir) {
                *durable = true;
            }
        }
        Ok(())
    }
    /// One simulated machine has one broker on its disk: the lock is always granted.
    fn lock_dir(&self, _dir: &Path) -> io::Result<Option<DirLock>> {
        Ok(Some(DirLock { _file: None }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_drops_unsynced_writes_only() {
        let fs = SimulatedFs::new();
        let f = fs.open(Path::new("/d/a"), true).unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        f.write_all_at(b"durable", 0).unwrap();
        f.sync_data().unwrap();
        f.write_all_at(b"-lost", 7).unwrap();
        assert_eq!(f.len().unwrap(), 12);
        fs.crash();
        assert_eq!(fs.read(Path::new("/d/a")).unwrap(), b"durable");
        assert_eq!(fs.sync_count(), 1);
        assert_eq!(
            fs.list_dir(Path::new("/d")).unwrap(),
            vec![PathBuf::from("/d/a")]
        );
    }

    #[test]
    fn a_crash_drops_entries_whose_directory_was_not_synced() {
        let fs = SimulatedFs::new();
        fs.create_dir_all(Path::new("/data")).unwrap();
        fs.create_dir_all(Path::new("/data/t-0")).unwrap();
        let f = fs.open(Path::new("/data/t-0/a.log"), true).unwrap();
        f.write_all_at(b"x", 0).unwrap();
        f.sync_data().unwrap();
        fs.sync_dir(Path::new("/data/t-0")).unwrap();
        // The file's entry is durable, but the partition directory's own entry is not.
        fs.crash();
        assert!(!fs.exists(Path::new("/data/t-0/a.log")));
        assert!(fs.exists(Path::new("/data")), "the test's root is durable");

        fs.create_dir_all(Path::new("/data/t-0")).unwrap();
        fs.sync_dir(Path::new("/data")).unwrap();
        let f = fs.open(Path::new("/data/t-0/a.log"), true).unwrap();
        f.write_all_at(b"x", 0).unwrap();
        f.sync_data().unwrap();
        fs.sync_dir(Path::new("/data/t-0")).unwrap();
        fs.crash();
        assert_eq!(fs.read(Path::new("/data/t-0/a.log")).unwrap(), b"x");
    }

    #[test]
    fn injected_faults_fail_syncs_and_writes_under_a_path() {
        let fs = SimulatedFs::new();
        let a = fs.open(Path::new("/one/a"), true).unwrap();
        let b = fs.open(Path::new("/two/b"), true).unwrap();
        fs.inject(Path::new("/one"), Fault::Sync);
        assert!(a.sync_data().is_err());
        assert!(fs.sync_dir(Path::new("/one")).is_err());
        assert!(b.sync_data().is_ok());
        fs.inject(Path::new("/two"), Fault::Write);
        assert!(b.write_all_at(b"x", 0).is_err());
        fs.clear_faults();
        assert!(a.sync_data().is_ok() && b.write_all_at(b"x", 0).is_ok());
    }
}
