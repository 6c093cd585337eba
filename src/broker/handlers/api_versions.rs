//! ApiVersions: the implemented APIs with the ranges of ARCHITECTURE.md's table. No
//! supported or finalized features are listed (librdkafka 2.0.2 misparses tagged fields it
//! does not know).

use crate::broker::versions::advertised;
use crate::protocol::messages::api_versions_response::ApiVersionsResponse;
use crate::protocol::ResponseBody;

pub fn handle(controller_listener: bool) -> ResponseBody {
    ResponseBody::ApiVersions(ApiVersionsResponse {
        api_keys: advertised(controller_listener),
        ..Default::default()
    })
}
