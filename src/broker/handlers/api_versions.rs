//! ApiVersions: the implemented APIs with the ranges of ARCHITECTURE.md's table. No
//! supported or finalized features are listed (librdkafka 2.0.2 misparses tagged fields it
//! does not know).

use super::served_apis;
use crate::protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};
use crate::protocol::ResponseBody;

/// The advertised `(key, min, max)` list of a client or controller listener, by API key as
/// Kafka lists it.
pub fn advertised(controller_listener: bool) -> Vec<ApiVersion> {
    let mut keys = served_apis(controller_listener).to_vec();
    keys.sort_by_key(|k| *k as i16);
    keys.iter()
        .map(|k| {
            let (min, max) = k.advertised_range();
            ApiVersion {
                api_key: *k as i16,
                min_version: min,
                max_version: max,
                ..Default::default()
            }
        })
        .collect()
}

pub fn handle(controller_listener: bool) -> ResponseBody {
    ResponseBody::ApiVersions(ApiVersionsResponse {
        api_keys: advertised(controller_listener),
        ..Default::default()
    })
}
