//! `kfk storage format` (Kafka's `kafka-storage.sh format`): writes `meta.properties`
//! (version 1, cluster.id, node.id, directory.id) in every log dir and the bootstrap
//! metadata — a `bootstrap.checkpoint` snapshot holding the FeatureLevelRecord of
//! `metadata.version` — that the first active controller commits. With a dynamic quorum
//! (`--standalone`, `--initial-controllers`) the metadata log dir also gets the bootstrap
//! snapshot `00000000000000000000-0000000000.checkpoint` naming the initial voters.

use super::config::BrokerConfig;
use crate::metadata::image::{encode_record, METADATA_VERSION_LEVEL};
use crate::metadata::quorum::entries::encode_snapshot;
use crate::metadata::METADATA_TOPIC;
use crate::protocol::metadata::feature_level_record::FeatureLevelRecord;
use crate::protocol::Uuid;
use std::collections::BTreeMap;
use std::path::Path;

/// How the quorum of a dynamic-quorum controller starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialControllers {
    /// A static quorum (`controller.quorum.voters`), or a broker-only node.
    Static,
    /// `--standalone`: this controller alone.
    Standalone,
    /// `--initial-controllers id@host:port:directory-id,...`.
    List(Vec<(i32, String, u16)>),
    /// `--no-initial-controllers`: joins an existing dynamic quorum later.
    None,
}

/// The records of a freshly formatted cluster's bootstrap snapshot.
pub fn bootstrap_records() -> Vec<Vec<u8>> {
    vec![encode_record(&FeatureLevelRecord {
        name: "metadata.version".into(),
        feature_level: METADATA_VERSION_LEVEL,
        ..Default::default()
    })]
}

/// Formats every log dir of `config`; returns one line per dir, as Kafka prints them.
pub fn format(
    config: &BrokerConfig,
    cluster_id: &str,
    initial: &InitialControllers,
    ignore_formatted: bool,
) -> Result<Vec<String>, String> {
    if Uuid::parse(cluster_id).is_none() {
        return Err(format!(
            "Cluster ID string {cluster_id} does not appear to be a valid UUID (make one with `kfk storage random-uuid`)"
        ));
    }
    let dynamic = !config.quorum_bootstrap_servers.is_empty();
    match initial {
        InitialControllers::Static if dynamic && config.process_roles.controller => {
            return Err("Because controller.quorum.voters is not set on this controller, you must specify one of the following: --standalone, --initial-controllers, or --no-initial-controllers.".into())
        }
        InitialControllers::Static => {}
        _ if !config.process_roles.controller => {
            return Err("You can only use --standalone, --initial-controllers or --no-initial-controllers on a controller".into())
        }
        _ if !dynamic => {
            return Err("You cannot use --standalone, --initial-controllers or --no-initial-controllers with controller.quorum.voters; use controller.quorum.bootstrap.servers".into())
        }
        _ => {}
    }
    let mut lines = Vec::new();
    let mut formatted_any = false;
    for dir in &config.log_dirs {
        let meta = dir.join("meta.properties");
        if meta.exists() {
            if ignore_formatted {
                lines.push(format!(
                    "All of the log directories are already formatted ({}).",
                    dir.display()
                ));
                continue;
            }
            return Err(format!(
                "Log directory {} is already formatted. Use --ignore-formatted to ignore this directory and format the others.",
                dir.display()
            ));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let text = format!(
            "#\n#kfk storage format\nversion=1\ncluster.id={cluster_id}\nnode.id={}\ndirectory.id={}\n",
            config.node_id,
            Uuid::random()
        );
        write_synced(&meta, text.as_bytes())?;
        lines.push(format!(
            "Formatting metadata directory {} with metadata.version 4.1-IV1.",
            dir.display()
        ));
        formatted_any = true;
    }
    if formatted_any {
        // The bootstrap metadata lives beside the first log dir's meta.properties.
        let first = &config.log_dirs[0];
        let snapshot = encode_snapshot(&bootstrap_records(), 0, None);
        write_synced(&first.join("bootstrap.checkpoint"), &snapshot)?;
        let voters: Vec<(i32, String, u16)> = match initial {
            InitialControllers::Standalone => {
                let l = config
                    .listeners
                    .iter()
                    .zip(&config.advertised_listeners)
                    .find(|(l, _)| config.controller_listener_names.contains(&l.name))
                    .map(|(_, a)| a.clone())
                    .ok_or("--standalone needs a controller listener")?;
                let host = if l.host.is_empty() {
                    "localhost".to_string()
                } else {
                    l.host
                };
                vec![(config.node_id, host, l.port)]
            }
            InitialControllers::List(v) => v.clone(),
            _ => Vec::new(),
        };
        if !voters.is_empty() {
            let dir = first.join(format!("{METADATA_TOPIC}-0"));
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let members: BTreeMap<u64, openraft::BasicNode> = voters
                .iter()
                .map(|(id, host, port)| {
                    (
                        *id as u64,
                        openraft::BasicNode {
                            addr: format!("{host}:{port}"),
                        },
                    )
                })
                .collect();
            let ids = members.keys().copied().collect();
            let membership = openraft::Membership::new(vec![ids], members);
            let snapshot = encode_snapshot(&bootstrap_records(), 0, Some(&membership));
            write_synced(
                &dir.join("00000000000000000000-0000000000.checkpoint"),
                &snapshot,
            )?;
        }
    }
    Ok(lines)
}

/// Parses `--initial-controllers`: `id@host:port:directory-id` entries, comma-separated.
pub fn parse_initial_controllers(text: &str) -> Result<Vec<(i32, String, u16)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|v| {
            let bad = || {
                format!("--initial-controllers: {v:?} is not of the form id@host:port:directory-id")
            };
            let (id, rest) = v.split_once('@').ok_or_else(bad)?;
            let mut parts = rest.rsplitn(3, ':');
            let _dir = parts.next().ok_or_else(bad)?;
            let port = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
            let host = parts.next().ok_or_else(bad)?.to_string();
            Ok((id.parse().map_err(|_| bad())?, host, port))
        })
        .collect()
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        std::fs::write(&tmp, bytes)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(parent) = path.parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The bootstrap records a formatted log dir holds (`bootstrap.checkpoint`), or the
/// defaults when there is none.
pub fn read_bootstrap(dir: &Path) -> Vec<Vec<u8>> {
    std::fs::read(dir.join("bootstrap.checkpoint"))
        .ok()
        .and_then(|d| crate::metadata::quorum::entries::decode_snapshot(&d).ok())
        .unwrap_or_else(bootstrap_records)
}
