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
}

/// An in-memory file system that models a machine crash: writes land in a volatile image,
/// `sync_data` copies it to the durable image, and [`SimulatedFs::crash`] drops whatever was
/// not synced. Renames, creations and removals count as durable at once (as after a directory
/// sync). Counts `sync_data` calls so tests can check the flush policy.
#[derive(Debug, Default)]
pub struct SimulatedFs {
    files: Mutex<BTreeMap<PathBuf, Arc<SimFile>>>,
    syncs: Arc<AtomicU64>,
    now_ms: AtomicU64,
    sync_delay_us: Arc<AtomicU64>,
}

#[derive(Debug, Default)]
struct SimFile {
    volatile: Mutex<Vec<u8>>,
    durable: Mutex<Vec<u8>>,
    syncs: Arc<AtomicU64>,
    /// How long a sync takes (a disk's fsync latency), in microseconds.
    sync_delay_us: Arc<AtomicU64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
        lock(&self.volatile).resize(
            usize::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?,
            0,
        );
        Ok(())
    }
    fn sync_data(&self) -> io::Result<()> {
        let delay = self.sync_delay_us.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_micros(delay));
        }
        let snapshot = lock(&self.volatile).clone();
        *lock(&self.durable) = snapshot;
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl SimulatedFs {
    pub fn new() -> Arc<SimulatedFs> {
        Arc::new(SimulatedFs::default())
    }

    /// Drops every write that was not synced, in every file.
    pub fn crash(&self) {
        for file in lock(&self.files).values() {
            let durable = lock(&file.durable).clone();
            *lock(&file.volatile) = durable;
        }
    }

    /// `sync_data` calls so far, over all files.
    pub fn sync_count(&self) -> u64 {
        self.syncs.load(Ordering::SeqCst)
    }

    /// Makes every sync take `delay`, as a real disk's fsync does.
    pub fn set_sync_delay(&self, delay: std::time::Duration) {
        self.sync_delay_us
            .store(delay.as_micros() as u64, Ordering::SeqCst);
    }

    fn new_file(&self) -> Arc<SimFile> {
        Arc::new(SimFile {
            syncs: self.syncs.clone(),
            sync_delay_us: self.sync_delay_us.clone(),
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
        let file = self.new_file();
        files.insert(path.to_path_buf(), file.clone());
        Ok(file)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        lock(&self.files)
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| Self::not_found(path))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut files = lock(&self.files);
        let file = files.remove(from).ok_or_else(|| Self::not_found(from))?;
        files.insert(to.to_path_buf(), file);
        Ok(())
    }
    fn exists(&self, path: &Path) -> bool {
        let files = lock(&self.files);
        files.contains_key(path) || files.keys().any(|k| k.starts_with(path))
    }
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        lock(&self.files).retain(|k, _| !k.starts_with(dir));
        Ok(())
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let files = lock(&self.files);
        let mut out: Vec<PathBuf> = files
            .keys()
            .filter_map(|k| {
                let rest = k.strip_prefix(dir).ok()?;
                let first = rest.components().next()?;
                Some(dir.join(first))
            })
            .collect();
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
        let file = self.new_file();
        file.write_all_at(data, 0)?;
        file.sync_data()?;
        lock(&self.files).insert(path.to_path_buf(), file);
        Ok(())
    }
    fn modified_ms(&self, path: &Path) -> Option<i64> {
        self.exists(path)
            .then(|| self.now_ms.load(Ordering::SeqCst) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_drops_unsynced_writes_only() {
        let fs = SimulatedFs::new();
        let f = fs.open(Path::new("/d/a"), true).unwrap();
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
}
