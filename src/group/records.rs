//! The records of `__consumer_offsets` in Kafka's format: a key is an `int16` version (the
//! record type: 0/1 offset commit, 2 group metadata) followed by that key struct; a value is an
//! `int16` version followed by the value struct; a deletion is a tombstone (null value).
//! Offsets are written as `OffsetCommitValue` v3 (v1 when an expire timestamp is set), group
//! metadata as `GroupMetadataValue` v3, as Kafka does.

use crate::protocol::codec::{Decoder, Encoder, Message};
use crate::protocol::coordinator::group_metadata_key::GroupMetadataKey;
use crate::protocol::coordinator::group_metadata_value::GroupMetadataValue;
use crate::protocol::coordinator::offset_commit_key::OffsetCommitKey;
use crate::protocol::coordinator::offset_commit_value::OffsetCommitValue;
use crate::protocol::record_batch::BatchBuilder;
use crate::protocol::Compression;
use bytes::Bytes;

/// One decoded `__consumer_offsets` record.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupRecord {
    /// An offset commit; `None` is a tombstone (the offset was deleted or expired).
    Offset {
        key: OffsetCommitKey,
        value: Option<OffsetCommitValue>,
    },
    /// A group's metadata; `None` is a tombstone (the group was deleted).
    Group {
        key: GroupMetadataKey,
        value: Option<GroupMetadataValue>,
    },
}

/// A key: its record type (Kafka 4.x's coordinator-key `apiKey`: 0 the legacy offset commit,
/// 1 offset commit, 2 group metadata) followed by the key struct at version 0.
fn keyed(record_type: i16, key: &impl Message) -> Vec<u8> {
    versioned_as(record_type, 0, key)
}

fn versioned(version: i16, m: &impl Message) -> Vec<u8> {
    versioned_as(version, version, m)
}

/// `prefix` (an int16), then `m` encoded at `version`.
fn versioned_as(prefix: i16, version: i16, m: &impl Message) -> Vec<u8> {
    let mut e = Encoder::with_capacity(2 + m.encoded_len(version));
    e.put_i16(prefix);
    // Every field the structs hold is valid at these versions, so encoding cannot fail.
    let encoded = m.encode(&mut e, version);
    debug_assert!(encoded.is_ok());
    e.into_bytes().to_vec()
}

impl GroupRecord {
    pub fn offset(
        group: &str,
        topic: &str,
        partition: i32,
        value: Option<OffsetCommitValue>,
    ) -> Self {
        GroupRecord::Offset {
            key: OffsetCommitKey {
                group: group.to_string(),
                topic: topic.to_string(),
                partition,
            },
            value,
        }
    }

    pub fn group(group: &str, value: Option<GroupMetadataValue>) -> Self {
        GroupRecord::Group {
            key: GroupMetadataKey {
                group: group.to_string(),
            },
            value,
        }
    }

    /// The group this record belongs to.
    pub fn group_id(&self) -> &str {
        match self {
            GroupRecord::Offset { key, .. } => &key.group,
            GroupRecord::Group { key, .. } => &key.group,
        }
    }

    /// `(key, value)` bytes as Kafka writes them.
    pub fn encode(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        match self {
            GroupRecord::Offset { key, value } => {
                let value = value.as_ref().map(|v| {
                    let version = if v.expire_timestamp >= 0 { 1 } else { 3 };
                    versioned(version, v)
                });
                (keyed(1, key), value)
            }
            GroupRecord::Group { key, value } => {
                (keyed(2, key), value.as_ref().map(|v| versioned(3, v)))
            }
        }
    }

    /// Decodes a record; `Ok(None)` for record types this coordinator does not use (the
    /// KIP-848 and share-group records).
    pub fn decode(key: &Bytes, value: Option<&Bytes>) -> Result<Option<GroupRecord>, String> {
        let mut d = Decoder::new(key);
        // The record type; each key struct is at version 0 (the legacy type 0 has the
        // layout of type 1).
        let key_version = d.i16().map_err(|e| e.to_string())?;
        let value_of = |bytes: &Bytes| -> Result<(i16, Bytes), String> {
            let mut d = Decoder::new(bytes);
            let version = d.i16().map_err(|e| e.to_string())?;
            Ok((version, d.rest()))
        };
        match key_version {
            0 | 1 => {
                let key = OffsetCommitKey::decode(&mut d, 0).map_err(|e| e.to_string())?;
                let value = match value {
                    None => None,
                    Some(v) => {
                        let (version, body) = value_of(v)?;
                        if !(0..=4).contains(&version) {
                            return Err(format!("unknown OffsetCommitValue version {version}"));
                        }
                        let mut d = Decoder::new(&body);
                        Some(
                            OffsetCommitValue::decode(&mut d, version)
                                .map_err(|e| e.to_string())?,
                        )
                    }
                };
                Ok(Some(GroupRecord::Offset { key, value }))
            }
            2 => {
                let key = GroupMetadataKey::decode(&mut d, 0).map_err(|e| e.to_string())?;
                let value = match value {
                    None => None,
                    Some(v) => {
                        let (version, body) = value_of(v)?;
                        if !(0..=4).contains(&version) {
                            return Err(format!("unknown GroupMetadataValue version {version}"));
                        }
                        let mut d = Decoder::new(&body);
                        Some(
                            GroupMetadataValue::decode(&mut d, version)
                                .map_err(|e| e.to_string())?,
                        )
                    }
                };
                Ok(Some(GroupRecord::Group { key, value }))
            }
            _ => Ok(None),
        }
    }
}

/// One uncompressed batch holding `records`, timestamped `now_ms`.
pub fn batch(records: &[GroupRecord], now_ms: i64) -> Bytes {
    let mut b = BatchBuilder::new();
    for r in records {
        let (key, value) = r.encode();
        b.append(now_ms, Some(&key), value.as_deref(), &[]);
    }
    b.build(Compression::None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_commit_key_and_values_use_kafkas_versions() {
        let r = GroupRecord::offset(
            "g",
            "t",
            3,
            Some(OffsetCommitValue {
                offset: 42,
                leader_epoch: 5,
                metadata: "m".into(),
                commit_timestamp: 1000,
                ..Default::default()
            }),
        );
        let (key, value) = r.encode();
        // version 1, "g", "t", partition 3
        assert_eq!(key, [0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3]);
        let value = value.unwrap();
        assert_eq!(&value[..2], &[0, 3]);
        let back = GroupRecord::decode(&Bytes::from(key), Some(&Bytes::from(value))).unwrap();
        assert_eq!(back, Some(r));

        let mut expiring = OffsetCommitValue {
            offset: 1,
            commit_timestamp: 10,
            expire_timestamp: 20,
            ..Default::default()
        };
        let (_, v) = GroupRecord::offset("g", "t", 0, Some(expiring.clone())).encode();
        assert_eq!(&v.unwrap()[..2], &[0, 1]);
        expiring.expire_timestamp = -1;
        let (_, v) = GroupRecord::offset("g", "t", 0, Some(expiring)).encode();
        assert_eq!(&v.unwrap()[..2], &[0, 3]);
    }

    #[test]
    fn group_metadata_and_tombstones_round_trip() {
        let r = GroupRecord::group(
            "grp",
            Some(GroupMetadataValue {
                protocol_type: "consumer".into(),
                generation: 7,
                protocol: Some("range".into()),
                leader: Some("m-1".into()),
                current_state_timestamp: 99,
                ..Default::default()
            }),
        );
        let (key, value) = r.encode();
        assert_eq!(&key[..2], &[0, 2]);
        assert_eq!(&value.as_ref().unwrap()[..2], &[0, 3]);
        let back = GroupRecord::decode(&Bytes::from(key.clone()), value.map(Bytes::from).as_ref());
        assert_eq!(back.unwrap(), Some(r));
        assert_eq!(
            GroupRecord::decode(&Bytes::from(key), None).unwrap(),
            Some(GroupRecord::group("grp", None))
        );
        // A KIP-848 record type is skipped, not an error.
        assert_eq!(
            GroupRecord::decode(&Bytes::from_static(&[0, 5, 0, 0]), None),
            Ok(None)
        );
        assert!(GroupRecord::decode(&Bytes::from_static(&[0]), None).is_err());
    }
}
