//! Delayed operations (Kafka's purgatory): a request that waits for a partition to reach a
//! condition — a long-polling fetch waiting for data, an acks=all produce waiting for the high
//! watermark — parks here with its deadline, keyed by the partitions it watches, and holds no
//! request slot meanwhile. An append (or any high-watermark move) wakes only the waiters of its
//! partition, which then re-check their condition.
//!
//! Each waiter is one `Notify`, held weakly by the partitions it watches: a waiter that ends
//! without being woken leaves dead entries, pruned as the lists grow.
//!
//! Must not: decide what a waiter waits for. Called by: `Partition`, fetch and produce.

use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;
use tokio::sync::Notify;

/// The waiters of one partition.
#[derive(Debug, Default)]
pub struct Waiters {
    list: Mutex<Vec<Weak<Notify>>>,
}

impl Waiters {
    /// Adds `waiter`, to be notified at the next [`Waiters::wake_all`].
    pub fn register(&self, waiter: &Arc<Notify>) {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        if list.len() >= 64 && list.len().is_power_of_two() {
            list.retain(|w| w.strong_count() > 0);
        }
        list.push(Arc::downgrade(waiter));
    }

    /// Notifies every registered waiter (each re-registers if it keeps waiting).
    pub fn wake_all(&self) {
        let woken = std::mem::take(&mut *self.list.lock().unwrap_or_else(|e| e.into_inner()));
        for w in woken.iter().filter_map(Weak::upgrade) {
            w.notify_one();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.list.lock().unwrap().len()
    }
}

/// One delayed operation: the partitions it watches register it before each check of its
/// condition, so a change between the check and the wait is not missed.
#[derive(Debug, Default)]
pub struct DelayedOperation {
    wake: Arc<Notify>,
}

impl DelayedOperation {
    pub fn new() -> DelayedOperation {
        DelayedOperation::default()
    }

    /// Watches a partition's waiters (call before checking the condition).
    pub fn watch(&self, waiters: &Waiters) {
        waiters.register(&self.wake);
    }

    /// Waits until a watched partition changes or `deadline` passes; `false` at the deadline.
    pub async fn wait(&self, deadline: Instant) -> bool {
        tokio::select! {
            _ = self.wake.notified() => true,
            _ = tokio::time::sleep_until(deadline.into()) => false,
        }
    }

    /// Checks `done` after each change of the watched partitions until it holds or the
    /// deadline passes: whether it held. `watch_all` registers the operation with every
    /// partition it depends on; a condition that already holds (acks=all on one node)
    /// returns without registering, otherwise it is registered before each re-check.
    pub async fn until(
        &self,
        deadline: Instant,
        mut watch_all: impl FnMut(&DelayedOperation),
        mut done: impl FnMut() -> bool,
    ) -> bool {
        if done() {
            return true;
        }
        loop {
            watch_all(self);
            if done() {
                return true;
            }
            if Instant::now() >= deadline || !self.wait(deadline).await {
                return done();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn an_append_to_one_partition_wakes_no_waiter_of_another() {
        let (a, b) = (Waiters::default(), Waiters::default());
        let (on_a, on_b) = (DelayedOperation::new(), DelayedOperation::new());
        on_a.watch(&a);
        on_b.watch(&b);
        a.wake_all();
        runtime().block_on(async {
            let soon = Instant::now() + Duration::from_millis(50);
            assert!(
                on_a.wait(soon).await,
                "the waiter of the appended partition wakes"
            );
            let soon = Instant::now() + Duration::from_millis(50);
            assert!(
                !on_b.wait(soon).await,
                "the other partition's waiter sleeps on"
            );
        });
    }

    #[test]
    fn dead_waiters_are_pruned_as_the_list_grows() {
        let waiters = Waiters::default();
        let live = DelayedOperation::new();
        live.watch(&waiters);
        for _ in 0..1000 {
            DelayedOperation::new().watch(&waiters);
        }
        assert!(waiters.len() < 200);
    }

    #[test]
    fn until_rechecks_after_each_wake_and_gives_up_at_the_deadline() {
        let waiters = Arc::new(Waiters::default());
        let value = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let op = DelayedOperation::new();
        runtime().block_on(async {
            let (w, v) = (waiters.clone(), value.clone());
            let bump = async move {
                for _ in 0..3 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    v.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    w.wake_all();
                }
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            let reached = op.until(
                deadline,
                |op| op.watch(&waiters),
                || value.load(std::sync::atomic::Ordering::SeqCst) >= 3,
            );
            let (reached, ()) = tokio::join!(reached, bump);
            assert!(reached);
            let soon = Instant::now() + Duration::from_millis(30);
            assert!(!op.until(soon, |op| op.watch(&waiters), || false).await);
        });
    }
}
