//! The advertised-version table of ARCHITECTURE.md: which APIs this broker serves (on a
//! client listener, and on a controller listener), and their version ranges. An API is
//! advertised only when implemented; its max is the highest version kfk implements; its min
//! is the specs' lowest valid version (Kafka 4.4's, after KIP-896's removals).
//!
//! Must not: handle requests. Called by: the connection (what to refuse) and ApiVersions.

use crate::protocol::messages::api_versions_response::ApiVersion;
use crate::protocol::ApiKey;

/// The `(min, max)` range kfk advertises for `api` when it serves it: min is the specs' lowest
/// valid version (Kafka 4.4's, after KIP-896's removals), max the highest version kfk
/// implements (`protocol::implemented_max`).
pub fn range(api: ApiKey) -> (i16, i16) {
    let min = match api {
        // Kafka 4.x advertises Produce from v0 (old librdkafka picks its message format from
        // the range, KAFKA-18659) but refuses v0-2 requests; so does kfk (the frame decoder
        // knows only the specs' 3+).
        ApiKey::Produce => 0,
        _ => api.valid_versions().0,
    };
    (min, crate::protocol::implemented_max(api))
}

/// The APIs this broker implements and therefore advertises.
pub const IMPLEMENTED: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::DeleteRecords,
    ApiKey::DescribeLogDirs,
    ApiKey::AlterReplicaLogDirs,
    ApiKey::InitProducerId,
    ApiKey::OffsetForLeaderEpoch,
    ApiKey::DescribeConfigs,
    ApiKey::AlterConfigs,
    ApiKey::CreatePartitions,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::DescribeCluster,
    ApiKey::DescribeProducers,
    ApiKey::DescribeTopicPartitions,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::SyncGroup,
    ApiKey::DescribeGroups,
    ApiKey::ListGroups,
    ApiKey::DeleteGroups,
    ApiKey::OffsetDelete,
    ApiKey::DescribeQuorum,
    ApiKey::AddRaftVoter,
    ApiKey::RemoveRaftVoter,
    ApiKey::ElectLeaders,
    ApiKey::AlterPartitionReassignments,
    ApiKey::ListPartitionReassignments,
];

/// The APIs a controller listener (`controller.listener.names`) serves, as Kafka's
/// controller does: no produce, fetch, metadata or group APIs.
pub const CONTROLLER_APIS: &[ApiKey] = &[
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::CreatePartitions,
    ApiKey::DescribeConfigs,
    ApiKey::AlterConfigs,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::DescribeCluster,
    ApiKey::BrokerRegistration,
    ApiKey::BrokerHeartbeat,
    ApiKey::AllocateProducerIds,
    ApiKey::AlterPartition,
    ApiKey::DescribeQuorum,
    ApiKey::AddRaftVoter,
    ApiKey::RemoveRaftVoter,
    ApiKey::ElectLeaders,
    ApiKey::AlterPartitionReassignments,
    ApiKey::ListPartitionReassignments,
];

/// The APIs served on a client listener, or on a controller listener.
pub fn served_apis(controller_listener: bool) -> &'static [ApiKey] {
    if controller_listener {
        CONTROLLER_APIS
    } else {
        IMPLEMENTED
    }
}

/// Whether `api_key` at `version` is advertised (and so served) on a client listener, or a
/// controller listener.
pub fn is_advertised(api_key: ApiKey, version: i16, controller_listener: bool) -> bool {
    let (min, max) = range(api_key);
    served_apis(controller_listener).contains(&api_key) && (min..=max).contains(&version)
}

/// The advertised `(key, min, max)` list of a client or controller listener, by API key as
/// Kafka lists it.
pub fn advertised(controller_listener: bool) -> Vec<ApiVersion> {
    let mut keys = served_apis(controller_listener).to_vec();
    keys.sort_by_key(|k| *k as i16);
    keys.iter()
        .map(|k| {
            let (min, max) = range(*k);
            ApiVersion {
                api_key: *k as i16,
                min_version: min,
                max_version: max,
                ..Default::default()
            }
        })
        .collect()
}
