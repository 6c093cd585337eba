//! DescribeConfigs, AlterConfigs (whole-set replace) and IncrementalAlterConfigs (set,
//! delete, append, subtract) for topics and the broker. Changed topic configs take effect
//! on the running logs at once. Broker resources accept the dynamic topic defaults
//! (`log.retention.ms`, ...); other broker keys are static (INVALID_CONFIG).

use crate::broker::config::topic_configs::{
    validate_topic_config, ConfigKind, NO_DEFAULT_SYNONYM, TOPIC_CONFIGS,
};
use crate::broker::config::{BrokerConfig, NULL_DEFAULT};
use crate::broker::Broker;
use crate::metadata::{RESOURCE_BROKER, RESOURCE_TOPIC};

/// Dynamic broker configs of replication throttles (bytes/s). The log-dir move throttle is
/// accepted (Kafka's reassignment tool clears it) though kfk moves no replica between a
/// broker's log dirs.
const THROTTLE_RATES: &[&str] = &[
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
];
use crate::protocol::messages::alter_configs_request::AlterConfigsRequest;
use crate::protocol::messages::alter_configs_response::{
    AlterConfigsResourceResponse, AlterConfigsResponse,
};
use crate::protocol::messages::describe_configs_request::DescribeConfigsRequest;
use crate::protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult,
    DescribeConfigsSynonym,
};
use crate::protocol::messages::incremental_alter_configs_request::IncrementalAlterConfigsRequest;
use crate::protocol::messages::incremental_alter_configs_response::{
    self as inc, IncrementalAlterConfigsResponse,
};
use crate::protocol::{ErrorCode, ResponseBody};
use std::collections::BTreeMap;

/// `DescribeConfigsResponse` config sources.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_DYNAMIC_BROKER: i8 = 2;
const SOURCE_DYNAMIC_DEFAULT_BROKER: i8 = 3;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

fn config_type(kind: ConfigKind) -> i8 {
    match kind {
        ConfigKind::Bool => 1,
        ConfigKind::Int { .. } => 3,
        ConfigKind::Long { .. } => 5,
        ConfigKind::Ratio => 6,
        ConfigKind::CleanupPolicy => 7,
        _ => 2,
    }
}

fn describe_topic(
    broker: &Broker,
    name: &str,
    keys: &Option<Vec<String>>,
    synonyms: bool,
    version: i16,
) -> Result<Vec<DescribeConfigsResourceResult>, (ErrorCode, String)> {
    let topic = broker.metadata.topic(name).ok_or((
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        format!("topic '{name}' does not exist"),
    ))?;
    let dynamic_default = broker.metadata.broker_configs();
    let dynamic_own = broker.metadata.configs_of_broker(broker.node_id);
    let mut out = Vec::new();
    for d in TOPIC_CONFIGS {
        if keys
            .as_ref()
            .is_some_and(|k| !k.iter().any(|k| k == d.name))
        {
            continue;
        }
        let mut chain: Vec<(String, String, i8)> = Vec::new();
        if let Some(v) = topic.configs.get(d.name) {
            chain.push((d.name.to_string(), v.clone(), SOURCE_TOPIC));
        }
        let has_broker_name = !d.broker_name.is_empty();
        for (dynamic, source) in [
            (&dynamic_own, SOURCE_DYNAMIC_BROKER),
            (&dynamic_default, SOURCE_DYNAMIC_DEFAULT_BROKER),
        ] {
            if let Some(v) = dynamic.get(d.broker_name).filter(|_| has_broker_name) {
                chain.push((d.broker_name.to_string(), v.clone(), source));
            }
        }
        if let Some(v) = broker.config.topic_defaults.get(d.name) {
            chain.push((d.broker_name.to_string(), v.clone(), SOURCE_STATIC_BROKER));
        }
        chain.push((
            d.broker_name.to_string(),
            d.default.to_string(),
            SOURCE_DEFAULT,
        ));
        let (_, value, source) = chain[0].clone();
        out.push(DescribeConfigsResourceResult {
            name: d.name.to_string(),
            value: Some(value),
            config_source: source,
            synonyms: if synonyms {
                chain
                    .into_iter()
                    .filter(|(_, _, source)| {
                        *source != SOURCE_DEFAULT || !NO_DEFAULT_SYNONYM.contains(&d.name)
                    })
                    .map(|(name, value, source)| DescribeConfigsSynonym {
                        name,
                        value: Some(value),
                        source,
                        ..Default::default()
                    })
                    .collect()
            } else {
                Vec::new()
            },
            config_type: if version >= 3 { config_type(d.kind) } else { 0 },
            ..Default::default()
        });
    }
    Ok(out)
}

fn describe_broker(
    broker: &Broker,
    name: &str,
    keys: &Option<Vec<String>>,
    synonyms: bool,
    version: i16,
) -> Result<Vec<DescribeConfigsResourceResult>, (ErrorCode, String)> {
    if !name.is_empty() && name != broker.node_id.to_string() {
        return Err((
            ErrorCode::INVALID_REQUEST,
            format!("broker {name} is not this broker ({})", broker.node_id),
        ));
    }
    // The default resource ("") shows the cluster-wide dynamic configs only; a broker's
    // own dynamic configs win over them.
    let dynamic_default = broker.metadata.broker_configs();
    let dynamic_own = if name.is_empty() {
        BTreeMap::new()
    } else {
        broker.metadata.configs_of_broker(broker.node_id)
    };
    Ok(broker
        .config
        .describe()
        .into_iter()
        .filter(|(k, _, _)| keys.as_ref().is_none_or(|keys| keys.contains(k)))
        .map(|(k, v, explicit)| {
            let own_value = dynamic_own.get(&k).cloned();
            let default_value = dynamic_default.get(&k).cloned();
            let source = if own_value.is_some() {
                SOURCE_DYNAMIC_BROKER
            } else if default_value.is_some() {
                SOURCE_DYNAMIC_DEFAULT_BROKER
            } else if explicit {
                SOURCE_STATIC_BROKER
            } else {
                SOURCE_DEFAULT
            };
            let read_only = !TOPIC_CONFIGS.iter().any(|d| d.broker_name == k);
            // Kafka's synonyms of a broker key: itself from each source that sets it, most
            // specific first.
            let mut chain: Vec<(String, i8)> = Vec::new();
            if synonyms {
                if let Some(d) = &own_value {
                    chain.push((d.clone(), SOURCE_DYNAMIC_BROKER));
                }
                if let Some(d) = &default_value {
                    chain.push((d.clone(), SOURCE_DYNAMIC_DEFAULT_BROKER));
                }
            }
            // The default resource's synonyms are its dynamic values only (as Kafka's).
            if synonyms && !name.is_empty() {
                if explicit {
                    chain.push((v.clone(), SOURCE_STATIC_BROKER));
                }
                if let Some(d) = BrokerConfig::default_value(&k) {
                    chain.push((d.to_string(), SOURCE_DEFAULT));
                }
            }
            let value = match own_value.or(default_value) {
                Some(d) => Some(d),
                None if !explicit && NULL_DEFAULT.contains(&k.as_str()) => None,
                None => Some(v),
            };
            DescribeConfigsResourceResult {
                synonyms: chain
                    .into_iter()
                    .map(|(value, source)| DescribeConfigsSynonym {
                        name: k.clone(),
                        value: Some(value),
                        source,
                        ..Default::default()
                    })
                    .collect(),
                name: k,
                value,
                read_only,
                config_source: source,
                config_type: if version >= 3 { 2 } else { 0 },
                ..Default::default()
            }
        })
        .collect())
}

pub fn describe_configs(
    broker: &Broker,
    request: DescribeConfigsRequest,
    version: i16,
) -> ResponseBody {
    let results = request
        .resources
        .into_iter()
        .map(|r| {
            let described = match r.resource_type {
                RESOURCE_TOPIC => describe_topic(
                    broker,
                    &r.resource_name,
                    &r.configuration_keys,
                    request.include_synonyms,
                    version,
                ),
                RESOURCE_BROKER => describe_broker(
                    broker,
                    &r.resource_name,
                    &r.configuration_keys,
                    request.include_synonyms,
                    version,
                ),
                other => Err((
                    ErrorCode::INVALID_REQUEST,
                    format!("resource type {other} is not supported"),
                )),
            };
            let mut result = DescribeConfigsResult {
                resource_type: r.resource_type,
                resource_name: r.resource_name,
                ..Default::default()
            };
            match described {
                Ok(configs) => result.configs = configs,
                Err((code, message)) => {
                    result.error_code = code.0;
                    result.error_message = Some(message);
                }
            }
            result
        })
        .collect();
    ResponseBody::DescribeConfigs(DescribeConfigsResponse {
        results,
        ..Default::default()
    })
}

/// Checks and applies `changes` (`None` removes a key) to one resource.
fn apply_changes(
    broker: &Broker,
    resource_type: i8,
    name: &str,
    changes: Vec<(String, Option<String>)>,
    validate_only: bool,
) -> Result<(), (ErrorCode, String)> {
    match resource_type {
        RESOURCE_TOPIC => {
            if broker.metadata.topic(name).is_none() {
                return Err((
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    format!("topic '{name}' does not exist"),
                ));
            }
            for (k, v) in &changes {
                match v {
                    Some(v) => validate_topic_config(k, v)
                        .map_err(|e| (ErrorCode::INVALID_CONFIG, e.to_string()))?,
                    None if crate::broker::config::topic_configs::topic_config(k).is_none() => {
                        return Err((
                            ErrorCode::INVALID_CONFIG,
                            format!("unknown topic config {k}"),
                        ))
                    }
                    None => {}
                }
            }
        }
        RESOURCE_BROKER => {
            // Stored under the broker's id (its own) or "" (every broker's default); in a
            // cluster the controller stores them for every broker.
            let known = name.is_empty()
                || name == broker.node_id.to_string()
                || broker
                    .metadata
                    .brokers()
                    .iter()
                    .any(|b| b.id.to_string() == name);
            if !known {
                return Err((
                    ErrorCode::INVALID_REQUEST,
                    format!("broker {name} is not this broker ({})", broker.node_id),
                ));
            }
            for (k, v) in &changes {
                if THROTTLE_RATES.contains(&k.as_str()) {
                    if let Some(v) = v {
                        if v.trim().parse::<u64>().is_err() {
                            return Err((
                                ErrorCode::INVALID_CONFIG,
                                format!("{k}: {v} is not a number of bytes per second"),
                            ));
                        }
                    }
                    continue;
                }
                let Some(d) = TOPIC_CONFIGS.iter().find(|d| d.broker_name == k) else {
                    return Err((
                        ErrorCode::INVALID_CONFIG,
                        format!("broker config {k} cannot be changed at run time"),
                    ));
                };
                if let Some(v) = v {
                    validate_topic_config(d.name, v)
                        .map_err(|e| (ErrorCode::INVALID_CONFIG, format!("{k}: {}", e.reason)))?;
                }
            }
        }
        other => {
            return Err((
                ErrorCode::INVALID_REQUEST,
                format!("resource type {other} is not supported"),
            ))
        }
    }
    if validate_only {
        return Ok(());
    }
    tokio::task::block_in_place(|| broker.alter_configs(resource_type, name, &changes))
        .map_err(|e| (e.code, e.message))
}

fn current_overrides(broker: &Broker, resource_type: i8, name: &str) -> BTreeMap<String, String> {
    match resource_type {
        RESOURCE_TOPIC => broker
            .metadata
            .topic(name)
            .map(|t| t.configs)
            .unwrap_or_default(),
        _ if name.is_empty() => broker.metadata.broker_configs(),
        _ => name
            .parse()
            .map(|id| broker.metadata.configs_of_broker(id))
            .unwrap_or_default(),
    }
}

pub fn alter_configs(broker: &Broker, request: AlterConfigsRequest) -> ResponseBody {
    let responses = request
        .resources
        .into_iter()
        .map(|r| {
            // The legacy API replaces the whole set: keys not given are removed.
            let given: BTreeMap<String, Option<String>> = r
                .configs
                .iter()
                .map(|c| (c.name.clone(), c.value.clone()))
                .collect();
            let mut changes: Vec<(String, Option<String>)> = given.clone().into_iter().collect();
            for k in current_overrides(broker, r.resource_type, &r.resource_name).into_keys() {
                if !given.contains_key(&k) {
                    changes.push((k, None));
                }
            }
            let mut out = AlterConfigsResourceResponse {
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                ..Default::default()
            };
            if let Err((code, message)) = apply_changes(
                broker,
                r.resource_type,
                &r.resource_name,
                changes,
                request.validate_only,
            ) {
                out.error_code = code.0;
                out.error_message = Some(message);
            }
            out
        })
        .collect();
    ResponseBody::AlterConfigs(AlterConfigsResponse {
        responses,
        ..Default::default()
    })
}

pub fn incremental_alter_configs(
    broker: &Broker,
    request: IncrementalAlterConfigsRequest,
) -> ResponseBody {
    let responses = request
        .resources
        .into_iter()
        .map(|r| {
            let current = current_overrides(broker, r.resource_type, &r.resource_name);
            let mut changes = Vec::new();
            let mut error = None;
            for c in &r.configs {
                let list = |v: &str| -> Vec<String> {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                };
                let existing = current
                    .get(&c.name)
                    .cloned()
                    .or_else(|| {
                        TOPIC_CONFIGS
                            .iter()
                            .find(|d| d.name == c.name)
                            .map(|d| d.default.to_string())
                    })
                    .unwrap_or_default();
                match c.config_operation {
                    0 => changes.push((c.name.clone(), c.value.clone())),
                    1 => changes.push((c.name.clone(), None)),
                    2 => {
                        let mut items = list(&existing);
                        for v in list(c.value.as_deref().unwrap_or("")) {
                            if !items.contains(&v) {
                                items.push(v);
                            }
                        }
                        changes.push((c.name.clone(), Some(items.join(","))));
                    }
                    3 => {
                        let remove = list(c.value.as_deref().unwrap_or(""));
                        let items: Vec<String> = list(&existing)
                            .into_iter()
                            .filter(|i| !remove.contains(i))
                            .collect();
                        changes.push((c.name.clone(), Some(items.join(","))));
                    }
                    op => {
                        error = Some((
                            ErrorCode::INVALID_REQUEST,
                            format!("unknown config operation {op}"),
                        ))
                    }
                }
            }
            let mut out = inc::AlterConfigsResourceResponse {
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                ..Default::default()
            };
            let result = match error {
                Some(e) => Err(e),
                None => apply_changes(
                    broker,
                    r.resource_type,
                    &r.resource_name,
                    changes,
                    request.validate_only,
                ),
            };
            if let Err((code, message)) = result {
                out.error_code = code.0;
                out.error_message = Some(message);
            }
            out
        })
        .collect();
    ResponseBody::IncrementalAlterConfigs(IncrementalAlterConfigsResponse {
        responses,
        ..Default::default()
    })
}
