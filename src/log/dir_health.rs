//! The health of one log directory (Kafka's `LogDirFailureChannel`): an I/O error on any log
//! of the directory (a failed write or fsync, a read that cannot be served) takes the whole
//! directory offline at once, and the failure is reported once to whoever installed a
//! handler (the broker, which halts or answers KAFKA_STORAGE_ERROR for that directory's
//! partitions). An offline directory never comes back while the process runs.
//!
//! Must not: decide what a failure means for the node. Called by: `SharedLog`, `LogManager`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Called once per failed directory: its path and what failed.
pub type FailureHandler = Box<dyn Fn(&Path, &str) + Send + Sync>;

/// Where failures of a manager's directories are reported.
#[derive(Default)]
pub struct FailureReporter {
    handler: OnceLock<FailureHandler>,
}

impl std::fmt::Debug for FailureReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailureReporter")
            .field("installed", &self.handler.get().is_some())
            .finish()
    }
}

impl FailureReporter {
    /// Installs the handler (once; later calls are ignored).
    pub fn install(&self, handler: FailureHandler) {
        let _ = self.handler.set(handler);
    }
}

/// One log directory's state, shared by every log in it.
#[derive(Debug)]
pub struct DirHealth {
    dir: PathBuf,
    offline: AtomicBool,
    reporter: Arc<FailureReporter>,
}

impl DirHealth {
    pub fn new(dir: &Path, reporter: Arc<FailureReporter>) -> DirHealth {
        DirHealth {
            dir: dir.to_path_buf(),
            offline: AtomicBool::new(false),
            reporter,
        }
    }

    /// A directory nobody watches (a log opened on its own, by tests or tools).
    pub fn unwatched(dir: &Path) -> Arc<DirHealth> {
        Arc::new(DirHealth::new(dir, Arc::new(FailureReporter::default())))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn is_offline(&self) -> bool {
        self.offline.load(Ordering::Acquire)
    }

    /// Takes the directory offline for `what` failed; the first failure is reported.
    pub fn fail(&self, what: &str) {
        if self.offline.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::error!(dir = %self.dir.display(), "log directory failed: {what}");
        if let Some(handler) = self.reporter.handler.get() {
            handler(&self.dir, what);
        }
    }
}
