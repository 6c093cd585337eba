//! [`ReplicaManager::append`]: Kafka's `ReplicaManager.appendRecords` with its
//! `DelayedProduce`. One call per produce request: for each partition the origin's checks,
//! the leader check, validation and the append; then, for acks=all, the wait in the
//! purgatory until the in-sync replicas have every appended batch (at once on one node).
//! A partition still short of it at the timeout answers REQUEST_TIMED_OUT; its records stay
//! in the log, as in Kafka.
//!
//! Must not: know about requests or responses (the produce handler turns them into
//! [`AppendParams`] and [`AppendResult`]s).

use super::partition::Partition;
use super::replica_manager::ReplicaManager;
use crate::log::AppendRules;
use crate::protocol::ErrorCode;
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Who appends (Kafka's `AppendOrigin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOrigin {
    /// A producer: internal topics are refused.
    Client,
    /// A coordinator of this broker writing its own records (`__consumer_offsets`).
    Coordinator,
}

/// One partition's records of an append.
#[derive(Debug, Clone)]
pub struct AppendEntry {
    pub topic: String,
    pub partition: i32,
    pub records: Bytes,
}

/// An append of records to partitions this broker leads.
#[derive(Debug, Clone)]
pub struct AppendParams {
    /// 0, 1 or -1 (all in-sync replicas).
    pub acks: i16,
    /// How long acks=all waits for the in-sync replicas.
    pub timeout: Duration,
    pub origin: AppendOrigin,
    /// What the request's version allows (one batch per partition, zstd).
    pub rules: AppendRules,
    pub entries: Vec<AppendEntry>,
}

/// One partition's outcome, in the order of [`AppendParams::entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    pub error: ErrorCode,
    /// Why, when refused.
    pub message: Option<String>,
    pub base_offset: i64,
    /// The LogAppendTime stamped, or -1.
    pub log_append_time: i64,
    pub log_start_offset: i64,
    /// Records in the appended batches (a retried duplicate's too; 0 when refused).
    pub record_count: i64,
}

impl AppendResult {
    /// A partition refused with `error` and why.
    pub fn refused(error: ErrorCode, message: String) -> AppendResult {
        AppendResult {
            error,
            message: Some(message),
            base_offset: -1,
            log_append_time: -1,
            log_start_offset: -1,
            record_count: 0,
        }
    }
}

impl ReplicaManager {
    /// Appends every entry and answers as `params.acks` asks. File I/O runs on this worker
    /// (`block_in_place`).
    pub async fn append(&self, params: AppendParams) -> Vec<AppendResult> {
        if !matches!(params.acks, -1..=1) {
            let why = format!("acks must be -1, 0 or 1, not {}", params.acks);
            let refused = AppendResult::refused(ErrorCode::INVALID_REQUIRED_ACKS, why);
            return vec![refused; params.entries.len()];
        }
        let now = crate::time::now_ms();
        let mut results = Vec::with_capacity(params.entries.len());
        // acks=all: (result position, partition, leader epoch of the append, offset the
        // high watermark must reach).
        let mut pending: Vec<(usize, Arc<Partition>, i32, i64)> = Vec::new();
        tokio::task::block_in_place(|| {
            for entry in &params.entries {
                match self.append_one(entry, &params, now) {
                    Ok((result, partition, epoch, end)) => {
                        if params.acks == -1 {
                            pending.push((results.len(), partition, epoch, end));
                        }
                        results.push(result);
                    }
                    Err(refused) => results.push(refused),
                }
            }
        });
        if !pending.is_empty() {
            let deadline = Instant::now() + params.timeout;
            let outcomes = self.await_replication(&pending, deadline).await;
            for ((i, _, _, _), outcome) in pending.iter().zip(outcomes) {
                if let Err(code) = outcome {
                    let why = match code {
                        ErrorCode::REQUEST_TIMED_OUT => format!(
                            "the in-sync replicas did not have the records within {} ms",
                            params.timeout.as_millis()
                        ),
                        ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND => {
                            "the records were written while the ISR was below min.insync.replicas"
                                .into()
                        }
                        _ => "this broker lost the partition's leadership before the records were replicated".into(),
                    };
                    results[*i].error = code;
                    results[*i].message = Some(why);
                }
            }
        }
        results
    }

    /// One partition's checks and append: its result, the partition, the leader epoch of
    /// the append and the offset just past its records. Blocking.
    #[allow(clippy::type_complexity)]
    fn append_one(
        &self,
        entry: &AppendEntry,
        params: &AppendParams,
        now_ms: i64,
    ) -> Result<(AppendResult, Arc<Partition>, i32, i64), AppendResult> {
        let (topic, index) = (entry.topic.as_str(), entry.partition);
        if params.origin == AppendOrigin::Client && crate::metadata::is_internal_topic(topic) {
            let why = format!("Cannot append to internal topic {topic}");
            return Err(AppendResult::refused(
                ErrorCode::INVALID_TOPIC_EXCEPTION,
                why,
            ));
        }
        let partition = self.leader_partition(topic, index).map_err(|code| {
            let why = if code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
                format!("{topic}-{index} does not exist")
            } else {
                format!("this broker does not lead {topic}-{index}")
            };
            AppendResult::refused(code, why)
        })?;
        match partition.append_records(&entry.records, params.acks, now_ms, params.rules) {
            Ok(info) => Ok((
                AppendResult {
                    error: ErrorCode::NONE,
                    message: None,
                    base_offset: info.base_offset,
                    log_append_time: info.log_append_time,
                    log_start_offset: info.log_start_offset,
                    record_count: info.record_count.max(0),
                },
                partition,
                info.leader_epoch,
                info.last_offset + 1,
            )),
            Err(e) => {
                tracing::debug!(topic, partition = index, error = %e, "append refused");
                Err(AppendResult::refused(e.code, e.message))
            }
        }
    }

    /// The acks=all wait, a delayed operation like a long-polling fetch: until the high
    /// watermark of every pending partition reaches its end offset or `deadline` passes.
    /// Only appends to these partitions wake it; a broker that stops answers at once
    /// (clients retry at the new leaders) with NOT_LEADER_OR_FOLLOWER. The answer per entry:
    /// replicated, NOT_LEADER_OR_FOLLOWER (leadership moved meanwhile),
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND, or REQUEST_TIMED_OUT at `deadline`.
    pub(in crate::replication) async fn await_replication(
        &self,
        pending: &[(usize, Arc<Partition>, i32, i64)],
        deadline: Instant,
    ) -> Vec<Result<(), ErrorCode>> {
        let outcome = |i: usize| pending[i].1.acks_outcome(pending[i].2, pending[i].3);
        let operation = super::purgatory::DelayedOperation::new();
        let wait = operation.until(
            deadline,
            |op| pending.iter().for_each(|p| p.1.watch(op)),
            || (0..pending.len()).all(|i| outcome(i).is_some()),
        );
        let stopped = self.stopped();
        tokio::select! {
            _ = wait => {}
            _ = stopped => return vec![Err(ErrorCode::NOT_LEADER_OR_FOLLOWER); pending.len()],
        }
        (0..pending.len())
            .map(|i| outcome(i).unwrap_or(Err(ErrorCode::REQUEST_TIMED_OUT)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Compression;
    use crate::replication::test_support::{batch, manager, runtime};

    fn params(acks: i16, rules: AppendRules, entries: &[(&str, Bytes)]) -> AppendParams {
        AppendParams {
            acks,
            timeout: Duration::from_millis(50),
            origin: AppendOrigin::Client,
            rules,
            entries: entries
                .iter()
                .map(|(topic, records)| AppendEntry {
                    topic: topic.to_string(),
                    partition: 0,
                    records: records.clone(),
                })
                .collect(),
        }
    }

    #[test]
    fn each_partition_gets_its_own_answer_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let replicas = manager(dir.path(), &[("a", 1, &[1]), ("f", 2, &[1, 2])]);
        let one = batch(&[b"x", b"y"], Compression::None);
        let results = runtime().block_on(replicas.append(params(
            -1,
            AppendRules::produce(true),
            &[
                ("a", one.clone()),
                ("f", one.clone()),
                ("gone", one.clone()),
                ("a", one),
            ],
        )));
        let codes: Vec<ErrorCode> = results.iter().map(|r| r.error).collect();
        assert_eq!(
            codes,
            [
                ErrorCode::NONE,
                ErrorCode::NOT_LEADER_OR_FOLLOWER,
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                ErrorCode::NONE
            ]
        );
        assert_eq!((results[0].base_offset, results[3].base_offset), (0, 2));
        assert_eq!(results[0].record_count, 2);
        assert!(results[1]
            .message
            .as_deref()
            .unwrap()
            .contains("does not lead f-0"));
    }

    #[test]
    fn the_requests_rules_and_origin_are_checked_before_the_log_changes() {
        let dir = tempfile::tempdir().unwrap();
        let replicas = manager(
            dir.path(),
            &[("a", 1, &[1]), ("__consumer_offsets", 1, &[1])],
        );
        let rt = runtime();
        let zstd = batch(&[b"x"], Compression::Zstd);
        let mut two = batch(&[b"x"], Compression::None).to_vec();
        two.extend_from_slice(&batch(&[b"y"], Compression::None));
        let two = Bytes::from(two);
        let code = |p: AppendParams| rt.block_on(replicas.append(p))[0].error;
        // zstd needs Produce v7; Produce v3+ carries one batch per partition.
        let v6 = AppendRules::produce(false);
        assert_eq!(
            code(params(1, v6, &[("a", zstd.clone())])),
            ErrorCode::UNSUPPORTED_COMPRESSION_TYPE
        );
        assert_eq!(
            code(params(1, AppendRules::produce(true), &[("a", two.clone())])),
            ErrorCode::INVALID_RECORD
        );
        assert_eq!(
            code(params(2, AppendRules::ANY, &[("a", zstd.clone())])),
            ErrorCode::INVALID_REQUIRED_ACKS
        );
        // A client may not write an internal topic; the coordinator may.
        let offsets = [("__consumer_offsets", two)];
        assert_eq!(
            code(params(1, AppendRules::ANY, &offsets)),
            ErrorCode::INVALID_TOPIC_EXCEPTION
        );
        let mut coordinator = params(-1, AppendRules::ANY, &offsets);
        coordinator.origin = AppendOrigin::Coordinator;
        assert_eq!(code(coordinator), ErrorCode::NONE);
        // Nothing refused reached the log of `a`; what the rules allow does.
        assert_eq!(replicas.get("a", 0).unwrap().log_end_offset(), 0);
        assert_eq!(
            code(params(1, AppendRules::produce(true), &[("a", zstd)])),
            ErrorCode::NONE
        );
        assert_eq!(replicas.get("a", 0).unwrap().log_end_offset(), 1);
    }

    #[test]
    fn acks_all_times_out_while_a_follower_lacks_the_records_and_they_stay() {
        let dir = tempfile::tempdir().unwrap();
        let replicas = manager(dir.path(), &[("r", 1, &[1, 2])]);
        let rt = runtime();
        let records = batch(&[b"x"], Compression::None);
        let result =
            rt.block_on(replicas.append(params(-1, AppendRules::ANY, &[("r", records.clone())])));
        assert_eq!(result[0].error, ErrorCode::REQUEST_TIMED_OUT);
        assert!(result[0]
            .message
            .as_deref()
            .unwrap()
            .contains("within 50 ms"));
        assert_eq!(replicas.get("r", 0).unwrap().log_end_offset(), 1);
        // acks=1 answers once the leader has them.
        let result = rt.block_on(replicas.append(params(1, AppendRules::ANY, &[("r", records)])));
        assert_eq!(
            (result[0].error, result[0].base_offset),
            (ErrorCode::NONE, 1)
        );
    }
}
