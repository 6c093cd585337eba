//! Raft entries as Kafka record batches in `__cluster_metadata-0`.
//!
//! Each entry is one batch whose partition leader epoch is the entry's term: a normal entry
//! is a data batch of KRaft records; the blank entry a new leader commits is a control batch
//! holding a LeaderChange record (what Kafka's leader writes when its epoch starts); a
//! membership entry is a control batch holding KRaftVersion and KRaftVoters records. Kafka's
//! `kafka-dump-log --cluster-metadata-decoder` reads all three.

use super::{Command, TypeConfig};
use crate::protocol::codec::{Decoder, Encoder, Message, VersionedMessage};
use crate::protocol::messages::{
    k_raft_version_record::KRaftVersionRecord,
    leader_change_message::{self, LeaderChangeMessage},
    snapshot_footer_record::SnapshotFooterRecord,
    snapshot_header_record::SnapshotHeaderRecord,
    voters_record::{self, VotersRecord},
};
use crate::protocol::record_batch::{self, BatchBuilder, BatchHeader, ATTR_CONTROL};
use crate::protocol::{Compression, Uuid};
use bytes::Bytes;
use openraft::{BasicNode, Entry, EntryPayload, LogId, Membership};
use std::collections::{BTreeMap, BTreeSet};

/// Kafka's control record types (`ControlRecordType`).
pub const LEADER_CHANGE: i16 = 2;
pub const SNAPSHOT_HEADER: i16 = 3;
pub const SNAPSHOT_FOOTER: i16 = 4;
pub const KRAFT_VERSION: i16 = 5;
pub const KRAFT_VOTERS: i16 = 6;

/// The listener name voters' endpoints carry in membership records.
pub const CONTROLLER_LISTENER: &str = "CONTROLLER";

fn control_key(kind: i16) -> Vec<u8> {
    let mut k = Vec::with_capacity(4);
    k.extend_from_slice(&0i16.to_be_bytes());
    k.extend_from_slice(&kind.to_be_bytes());
    k
}

fn encode_message<M: Message>(m: &M, version: i16) -> Vec<u8> {
    let mut e = Encoder::new();
    let encoded = m.encode(&mut e, version);
    debug_assert!(encoded.is_ok(), "control record encodes");
    e.into_bytes().to_vec()
}

/// A batch of `records` ((key, value) pairs) at base offset `base` with leader epoch `epoch`,
/// flagged as control records when `control`.
pub fn batch(
    records: &[(Option<Vec<u8>>, Vec<u8>)],
    control: bool,
    base: i64,
    epoch: i32,
) -> Bytes {
    batch_with_header(records, None, control, base, epoch)
}

/// As [`batch`], with a header on the last record when `last_header` is given.
fn batch_with_header(
    records: &[(Option<Vec<u8>>, Vec<u8>)],
    last_header: Option<(&str, &[u8])>,
    control: bool,
    base: i64,
    epoch: i32,
) -> Bytes {
    let now = crate::time::now_ms();
    let mut b = BatchBuilder::new();
    for (i, (k, v)) in records.iter().enumerate() {
        match last_header.filter(|_| i + 1 == records.len()) {
            Some((hk, hv)) => b.append(now, k.as_deref(), Some(v), &[(hk, Some(hv))]),
            None => b.append(now, k.as_deref(), Some(v), &[]),
        };
    }
    let mut bytes = b.build(Compression::None).to_vec();
    if control {
        let attrs = i16::from_be_bytes([bytes[21], bytes[22]]) | ATTR_CONTROL;
        bytes[21..23].copy_from_slice(&attrs.to_be_bytes());
    }
    record_batch::set_base_offset(&mut bytes, base);
    record_batch::set_partition_leader_epoch(&mut bytes, epoch);
    let crc = record_batch::compute_crc(&bytes);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(bytes)
}

fn voters_of(membership: &Membership<u64, BasicNode>) -> VotersRecord {
    let voter_ids: BTreeSet<u64> = membership.voter_ids().collect();
    VotersRecord {
        version: 0,
        voters: voter_ids
            .iter()
            .map(|id| {
                let addr = membership
                    .get_node(id)
                    .map(|n| n.addr.clone())
                    .unwrap_or_default();
                let (host, port) = split_addr(&addr);
                voters_record::Voter {
                    voter_id: *id as i32,
                    voter_directory_id: Uuid::ZERO,
                    endpoints: vec![voters_record::Endpoint {
                        name: CONTROLLER_LISTENER.into(),
                        host,
                        port,
                        ..Default::default()
                    }],
                    k_raft_version_feature: voters_record::KRaftVersionFeature {
                        min_supported_version: 0,
                        max_supported_version: 1,
                        ..Default::default()
                    },
                    ..Default::default()
                }
            })
            .collect(),
        ..Default::default()
    }
}

/// The header of a KRaftVoters record holding openraft's exact membership (JSON).
const MEMBERSHIP_HEADER: &str = "kfk.membership";

/// `host:port` split at the last colon (port 0 when missing).
pub fn split_addr(addr: &str) -> (String, u16) {
    match addr.rsplit_once(':') {
        Some((h, p)) => (
            h.trim_matches(|c| c == '[' || c == ']').to_string(),
            p.parse().unwrap_or(0),
        ),
        None => (addr.to_string(), 0),
    }
}

/// How many records (offsets) an entry takes in the log.
pub fn record_count(entry: &Entry<TypeConfig>) -> i64 {
    match &entry.payload {
        EntryPayload::Blank => 1,
        EntryPayload::Normal(c) => c.records.len().max(1) as i64,
        EntryPayload::Membership(_) => 2,
    }
}

/// The batch of `entry` at base offset `base`; `leader` names the leader of the entry's
/// term for a blank entry's LeaderChange record.
pub fn encode_entry(entry: &Entry<TypeConfig>, base: i64, leader: i32, voters: &[i32]) -> Bytes {
    let epoch = entry.log_id.leader_id.term as i32;
    match &entry.payload {
        EntryPayload::Blank => {
            let voters: Vec<leader_change_message::Voter> = voters
                .iter()
                .map(|id| leader_change_message::Voter {
                    voter_id: *id,
                    ..Default::default()
                })
                .collect();
            let m = LeaderChangeMessage {
                version: 0,
                leader_id: leader,
                voters: voters.clone(),
                granting_voters: voters,
                ..Default::default()
            };
            batch(
                &[(Some(control_key(LEADER_CHANGE)), encode_message(&m, 0))],
                true,
                base,
                epoch,
            )
        }
        EntryPayload::Normal(c) if c.records.is_empty() => batch(
            &[(
                None,
                super::super::image::encode_record(
                    &crate::protocol::metadata::no_op_record::NoOpRecord::default(),
                ),
            )],
            false,
            base,
            epoch,
        ),
        EntryPayload::Normal(c) => {
            let records: Vec<(Option<Vec<u8>>, Vec<u8>)> =
                c.records.iter().map(|r| (None, r.clone())).collect();
            batch(&records, false, base, epoch)
        }
        EntryPayload::Membership(m) => {
            let version = KRaftVersionRecord {
                version: 0,
                k_raft_version: 1,
                ..Default::default()
            };
            // Kafka's KRaftVoters record holds one set of voters; openraft's membership may
            // be a joint configuration (old and new voters while a change is under way) and
            // lists learners: kfk keeps the exact membership in a header of that record, which
            // Kafka's readers ignore.
            let exact = serde_json::to_vec(m).unwrap_or_default();
            batch_with_header(
                &[
                    (
                        Some(control_key(KRAFT_VERSION)),
                        encode_message(&version, 0),
                    ),
                    (
                        Some(control_key(KRAFT_VOTERS)),
                        encode_message(&voters_of(m), 0),
                    ),
                ],
                Some((MEMBERSHIP_HEADER, &exact)),
                true,
                base,
                epoch,
            )
        }
    }
}

/// The entry at `index` stored as `batch`.
pub fn decode_entry(batch: &Bytes, index: u64) -> Result<Entry<TypeConfig>, String> {
    let header = BatchHeader::parse(batch).map_err(|e| e.to_string())?;
    let term = header.partition_leader_epoch.max(0) as u64;
    let records = record_batch::decode_records(batch, 64 << 20).map_err(|e| e.to_string())?;
    let payload = if header.is_control() {
        let mut payload = EntryPayload::Blank;
        for r in &records {
            let kind = r
                .key
                .as_ref()
                .filter(|k| k.len() >= 4)
                .map(|k| i16::from_be_bytes([k[2], k[3]]));
            let exact = r
                .headers
                .iter()
                .find(|h| h.key == MEMBERSHIP_HEADER)
                .and_then(|h| h.value.as_ref())
                .and_then(|v| serde_json::from_slice::<Membership<u64, BasicNode>>(v).ok());
            if let (Some(KRAFT_VOTERS), Some(m)) = (kind, exact) {
                payload = EntryPayload::Membership(m);
            } else if kind == Some(KRAFT_VOTERS) {
                let nodes: BTreeMap<u64, BasicNode> = decode_voters(r.value.as_ref())?
                    .into_iter()
                    .map(|(id, addr)| (id, BasicNode { addr }))
                    .collect();
                let ids: BTreeSet<u64> = nodes.keys().copied().collect();
                payload = EntryPayload::Membership(Membership::new(vec![ids], nodes));
            }
        }
        payload
    } else {
        EntryPayload::Normal(Command {
            records: records
                .iter()
                .filter_map(|r| r.value.as_ref().map(|v| v.to_vec()))
                .filter(|v| {
                    super::super::image::record_type(v)
                        != Some(crate::protocol::metadata::no_op_record::NoOpRecord::API_KEY)
                })
                .collect(),
        })
    };
    Ok(Entry {
        log_id: LogId::new(openraft::CommittedLeaderId::new(term, 0), index),
        payload,
    })
}

/// A snapshot file in Kafka's layout: a SnapshotHeader control batch, the records in data
/// batches, a SnapshotFooter control batch; offsets from 0, leader epoch `epoch`.
pub fn encode_snapshot(
    records: &[Vec<u8>],
    epoch: i32,
    voters: Option<&Membership<u64, BasicNode>>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = 0i64;
    let header = SnapshotHeaderRecord {
        version: 0,
        last_contained_log_timestamp: crate::time::now_ms(),
        ..Default::default()
    };
    let mut control = vec![(
        Some(control_key(SNAPSHOT_HEADER)),
        encode_message(&header, 0),
    )];
    if let Some(m) = voters {
        let version = KRaftVersionRecord {
            version: 0,
            k_raft_version: 1,
            ..Default::default()
        };
        control.push((
            Some(control_key(KRAFT_VERSION)),
            encode_message(&version, 0),
        ));
        control.push((
            Some(control_key(KRAFT_VOTERS)),
            encode_message(&voters_of(m), 0),
        ));
    }
    let n = control.len() as i64;
    out.extend_from_slice(&batch(&control, true, offset, epoch));
    offset += n;
    for chunk in records.chunks(512) {
        let rs: Vec<(Option<Vec<u8>>, Vec<u8>)> = chunk.iter().map(|r| (None, r.clone())).collect();
        out.extend_from_slice(&batch(&rs, false, offset, epoch));
        offset += chunk.len() as i64;
    }
    let footer = SnapshotFooterRecord {
        version: 0,
        ..Default::default()
    };
    out.extend_from_slice(&batch(
        &[(
            Some(control_key(SNAPSHOT_FOOTER)),
            encode_message(&footer, 0),
        )],
        true,
        offset,
        epoch,
    ));
    out
}

/// The metadata records of a snapshot file (control batches skipped); an error when the
/// header or footer is missing.
/// `(id, host:port)` of each voter a KRaftVoters record value names.
fn decode_voters(value: Option<&Bytes>) -> Result<Vec<(u64, String)>, String> {
    let value = value.cloned().unwrap_or_default();
    let voters = VotersRecord::decode(&mut Decoder::new(&value), 0).map_err(|e| e.to_string())?;
    Ok(voters
        .voters
        .iter()
        .map(|v| {
            let addr = v
                .endpoints
                .first()
                .map(|e| format!("{}:{}", e.host, e.port))
                .unwrap_or_default();
            (v.voter_id as u64, addr)
        })
        .collect())
}

/// The voters a snapshot's KRaftVoters control record names (`(id, host:port)` of each),
/// empty when it has none: the initial voters of a dynamic quorum, from the bootstrap
/// snapshot `kfk storage format --standalone` or `--initial-controllers` wrote.
pub fn snapshot_voters(data: &[u8]) -> Result<Vec<(u64, String)>, String> {
    let mut out = Vec::new();
    for (h, batch) in record_batch::BatchIter::new(Bytes::copy_from_slice(data)) {
        if !h.is_control() {
            continue;
        }
        for r in record_batch::decode_records(&batch, 16 << 20).map_err(|e| e.to_string())? {
            let kind = r
                .key
                .as_ref()
                .filter(|k| k.len() >= 4)
                .map(|k| i16::from_be_bytes([k[2], k[3]]));
            if kind != Some(KRAFT_VOTERS) {
                continue;
            }
            out = decode_voters(r.value.as_ref())?;
        }
    }
    Ok(out)
}

pub fn decode_snapshot(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut records = Vec::new();
    let (mut header, mut footer) = (false, false);
    for (h, batch) in record_batch::BatchIter::new(Bytes::copy_from_slice(data)) {
        let rs = record_batch::decode_records(&batch, 256 << 20).map_err(|e| e.to_string())?;
        if h.is_control() {
            for r in rs {
                match r
                    .key
                    .as_ref()
                    .filter(|k| k.len() >= 4)
                    .map(|k| i16::from_be_bytes([k[2], k[3]]))
                {
                    Some(SNAPSHOT_HEADER) => header = true,
                    Some(SNAPSHOT_FOOTER) => footer = true,
                    _ => {}
                }
            }
        } else {
            records.extend(rs.into_iter().filter_map(|r| r.value.map(|v| v.to_vec())));
        }
    }
    if !(header && footer) {
        return Err("the snapshot has no SnapshotHeader or SnapshotFooter record".into());
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::entry::RaftEntry;

    fn node(port: u16) -> BasicNode {
        BasicNode {
            addr: format!("127.0.0.1:{port}"),
        }
    }

    #[test]
    fn a_joint_membership_with_learners_survives_the_log() {
        let nodes: BTreeMap<u64, BasicNode> = (1..=4).map(|i| (i, node(9000 + i as u16))).collect();
        let joint = Membership::new(
            vec![
                [1, 2, 3].into_iter().collect(),
                [1, 2].into_iter().collect(),
            ],
            nodes,
        );
        let mut entry = Entry::<TypeConfig>::new_membership(LogId::default(), joint.clone());
        entry.log_id.index = 7;
        let bytes = encode_entry(&entry, 40, 1, &[1, 2, 3]);
        let back = decode_entry(&bytes, 7).expect("decodes");
        match back.payload {
            EntryPayload::Membership(m) => {
                assert_eq!(m, joint);
                assert_eq!(m.learner_ids().collect::<Vec<_>>(), [4]);
            }
            other => panic!("not a membership: {other:?}"),
        }
        // Kafka's readers see one KRaftVoters record naming the union of the voters.
        let records = record_batch::decode_records(&bytes, 1 << 20).expect("records");
        let voters = VotersRecord::decode(
            &mut Decoder::new(records[1].value.as_ref().expect("value")),
            0,
        )
        .expect("voters");
        let ids: Vec<i32> = voters.voters.iter().map(|v| v.voter_id).collect();
        assert_eq!(ids, [1, 2, 3]);
    }
}
