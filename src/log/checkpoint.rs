//! Kafka's small text state files, written atomically (temp + fsync + rename):
//!
//! - offset checkpoints (`recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`,
//!   `replication-offset-checkpoint`) in each log dir: `0\n<count>\n<topic> <partition> <offset>\n...`
//! - `leader-epoch-checkpoint` per partition: `0\n<count>\n<epoch> <start offset>\n...`
//! - `partition.metadata` per partition: `version: 0\ntopic_id: <base64 uuid>\n`
//! - `meta.properties` in each log dir (`key=value` lines).
//!
//! A file that does not parse is an error naming the file; callers decide to rebuild.

use super::io::LogFs;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A state file that exists but cannot be parsed.
#[derive(Debug)]
pub struct CheckpointError {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for CheckpointError {}

fn bad(path: &Path, reason: impl Into<String>) -> CheckpointError {
    CheckpointError {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Parses the `0\n<count>\n<line>...` frame shared by the checkpoint files, returning the
/// entry lines. `Ok(None)` when the file does not exist.
fn read_versioned_lines(
    fs: &dyn LogFs,
    path: &Path,
) -> Result<Option<Vec<String>>, CheckpointError> {
    if !fs.exists(path) {
        return Ok(None);
    }
    let bytes = fs.read(path).map_err(|e| bad(path, e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| bad(path, "not UTF-8"))?;
    let mut lines = text.lines();
    if lines.next() != Some("0") {
        return Err(bad(path, "unknown version"));
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| bad(path, "bad entry count"))?;
    let entries: Vec<String> = lines
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect();
    if entries.len() != count {
        return Err(bad(
            path,
            format!("expected {count} entries, found {}", entries.len()),
        ));
    }
    Ok(Some(entries))
}

fn write_versioned_lines(fs: &dyn LogFs, path: &Path, lines: &[String]) -> std::io::Result<()> {
    let mut text = format!("0\n{}\n", lines.len());
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    fs.write_atomic(path, text.as_bytes())
}

/// `(topic, partition) → offset` checkpoint of a log dir.
pub fn read_offsets(
    fs: &dyn LogFs,
    path: &Path,
) -> Result<BTreeMap<(String, i32), i64>, CheckpointError> {
    let mut out = BTreeMap::new();
    for line in read_versioned_lines(fs, path)?.unwrap_or_default() {
        let mut parts = line.split(' ');
        let (Some(topic), Some(partition), Some(offset), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad(path, format!("bad line {line:?}")));
        };
        let partition = partition
            .parse()
            .map_err(|_| bad(path, format!("bad partition in {line:?}")))?;
        let offset = offset
            .parse()
            .map_err(|_| bad(path, format!("bad offset in {line:?}")))?;
        out.insert((topic.to_string(), partition), offset);
    }
    Ok(out)
}

pub fn write_offsets(
    fs: &dyn LogFs,
    path: &Path,
    offsets: &BTreeMap<(String, i32), i64>,
) -> std::io::Result<()> {
    let lines: Vec<String> = offsets
        .iter()
        .map(|((t, p), o)| format!("{t} {p} {o}"))
        .collect();
    write_versioned_lines(fs, path, &lines)
}

/// `leader-epoch-checkpoint`: `(epoch, start offset)` pairs in order.
pub fn read_leader_epochs(
    fs: &dyn LogFs,
    path: &Path,
) -> Result<Option<Vec<(i32, i64)>>, CheckpointError> {
    let Some(lines) = read_versioned_lines(fs, path)? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        let parsed = line
            .split_once(' ')
            .and_then(|(e, o)| Some((e.parse().ok()?, o.parse().ok()?)));
        out.push(parsed.ok_or_else(|| bad(path, format!("bad line {line:?}")))?);
    }
    Ok(Some(out))
}

pub fn write_leader_epochs(
    fs: &dyn LogFs,
    path: &Path,
    epochs: &[(i32, i64)],
) -> std::io::Result<()> {
    let lines: Vec<String> = epochs.iter().map(|(e, o)| format!("{e} {o}")).collect();
    write_versioned_lines(fs, path, &lines)
}

/// `key=value` (or `key: value`) lines, as in `meta.properties` and `partition.metadata`.
pub fn read_properties(
    fs: &dyn LogFs,
    path: &Path,
) -> Result<Option<BTreeMap<String, String>>, CheckpointError> {
    if !fs.exists(path) {
        return Ok(None);
    }
    let bytes = fs.read(path).map_err(|e| bad(path, e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| bad(path, "not UTF-8"))?;
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (k, v) = line
            .split_once('=')
            .or_else(|| line.split_once(':'))
            .ok_or_else(|| bad(path, format!("bad line {line:?}")))?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(Some(out))
}

/// Writes `partition.metadata` as Kafka does (`version: 0`, `topic_id: ...`).
pub fn write_partition_metadata(
    fs: &dyn LogFs,
    path: &Path,
    topic_id: &str,
) -> std::io::Result<()> {
    fs.write_atomic(
        path,
        format!("version: 0\ntopic_id: {topic_id}\n").as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::io::SimulatedFs;

    #[test]
    fn offset_checkpoints_round_trip_in_kafka_format() {
        let fs = SimulatedFs::new();
        let path = Path::new("/d/recovery-point-offset-checkpoint");
        let mut offsets = BTreeMap::new();
        offsets.insert(("orders".to_string(), 0), 42);
        offsets.insert(("orders".to_string(), 1), 7);
        write_offsets(fs.as_ref(), path, &offsets).unwrap();
        assert_eq!(
            String::from_utf8(fs.read(path).unwrap()).unwrap(),
            "0\n2\norders 0 42\norders 1 7\n"
        );
        assert_eq!(read_offsets(fs.as_ref(), path).unwrap(), offsets);
    }

    #[test]
    fn a_truncated_checkpoint_is_an_error_naming_the_file() {
        let fs = SimulatedFs::new();
        let path = Path::new("/d/leader-epoch-checkpoint");
        fs.write_atomic(path, b"0\n3\n0 0\n").unwrap();
        let err = read_leader_epochs(fs.as_ref(), path).unwrap_err();
        assert!(err.to_string().contains("leader-epoch-checkpoint"));
    }
}
