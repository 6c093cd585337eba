//! ApiVersions: the implemented APIs with the ranges of ARCHITECTURE.md's table. No
//! supported or finalized features are listed (librdkafka 2.0.2 misparses tagged fields it
//! does not know).

use super::IMPLEMENTED;
use crate::protocol::messages::api_versions_response::{ApiVersion, ApiVersionsResponse};
use crate::protocol::ResponseBody;

/// The advertised `(key, min, max)` list, by API key as Kafka lists it.
pub fn advertised() -> Vec<ApiVersion> {
    let mut keys = IMPLEMENTED.to_vec();
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

pub fn handle() -> ResponseBody {
    ResponseBody::ApiVersions(ApiVersionsResponse {
        api_keys: advertised(),
        ..Default::default()
    })
}
