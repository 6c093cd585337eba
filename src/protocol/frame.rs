//! Frames: the 4-byte size prefix, request/response headers and typed bodies.
//!
//! Owns: the broker's entry point [`decode_request_frame`] (one size-prefixed frame in, header
//! plus typed request out, or an error naming the API, version and field) and the matching
//! encoders for both sides. Must not: do I/O or decide what a broker supports (the advertised
//! version ranges are the broker's, `broker::versions`).
//!
//! Layout of a request frame: `i32 size | i16 api_key | i16 api_version | i32 correlation_id |
//! [header v1+: i16-length client_id] | [header v2: tagged fields] | body`. A response frame:
//! `i32 size | i32 correlation_id | [header v1: tagged fields] | body`.

use super::codec::{DecodeError, DecodeErrorKind, Decoder, EncodeError, Encoder, Message};
use super::messages::request_header::RequestHeader;
use super::messages::response_header::ResponseHeader;
use super::messages::{ApiKey, RequestBody, ResponseBody};
use bytes::Bytes;
use std::fmt;

/// Size of the frame length prefix.
pub const FRAME_PREFIX_BYTES: usize = 4;

/// A decoded request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub header: RequestHeader,
    pub api_key: ApiKey,
    pub api_version: i16,
    pub body: RequestBody,
    /// Bytes the frame carried after the body. Kafka's request parser ignores them (and
    /// librdkafka's Metadata v12 "all topics" request carries 3); the broker logs them.
    pub trailing_bytes: usize,
}

/// Why a request frame could not be turned into a [`Request`].
#[derive(Debug, Clone, PartialEq)]
pub enum FrameError {
    /// The size prefix disagrees with the frame, or the frame is shorter than a header.
    Framing(DecodeError),
    /// An API key no spec defines; the header fields read so far are given.
    UnknownApiKey {
        api_key: i16,
        api_version: i16,
        correlation_id: i32,
    },
    /// A version outside the spec's valid range. The header is decoded (ApiVersions must be
    /// answered with UNSUPPORTED_VERSION, KIP-511), the body is not.
    UnsupportedVersion {
        api_key: ApiKey,
        header: RequestHeader,
    },
    /// The header or body failed to decode at the named field.
    Body {
        api_key: ApiKey,
        api_version: i16,
        correlation_id: i32,
        error: DecodeError,
    },
}

impl FrameError {
    /// The correlation id, when the frame got far enough to carry one.
    pub fn correlation_id(&self) -> Option<i32> {
        match self {
            FrameError::Framing(_) => None,
            FrameError::UnknownApiKey { correlation_id, .. } => Some(*correlation_id),
            FrameError::UnsupportedVersion { header, .. } => Some(header.correlation_id),
            FrameError::Body { correlation_id, .. } => Some(*correlation_id),
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Framing(e) => write!(f, "malformed frame: {e}"),
            FrameError::UnknownApiKey {
                api_key,
                api_version,
                ..
            } => {
                write!(f, "unknown API key {api_key} (version {api_version})")
            }
            FrameError::UnsupportedVersion { api_key, header } => write!(
                f,
                "{} version {} is outside the valid range {:?}",
                api_key.name(),
                header.request_api_version,
                api_key.valid_versions()
            ),
            FrameError::Body {
                api_key,
                api_version,
                error,
                ..
            } => {
                write!(f, "{} v{api_version} request: {error}", api_key.name())
            }
        }
    }
}

impl std::error::Error for FrameError {}

fn framing(why: &'static str) -> FrameError {
    FrameError::Framing(DecodeError::new(DecodeErrorKind::BadFrame(why)))
}

/// Checks the size prefix of `frame` and returns the payload after it (zero-copy).
pub fn frame_payload(frame: &Bytes) -> Result<Bytes, FrameError> {
    if frame.len() < FRAME_PREFIX_BYTES {
        return Err(framing("shorter than the size prefix"));
    }
    let size = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
    if usize::try_from(size).ok() != Some(frame.len() - FRAME_PREFIX_BYTES) {
        return Err(framing("size prefix does not match the frame length"));
    }
    Ok(frame.slice(FRAME_PREFIX_BYTES..))
}

/// Decodes one size-prefixed request frame into its header and typed body. `records` fields
/// of the body are slices of `frame`, not copies. Bytes after the body are counted in
/// [`Request::trailing_bytes`], not refused (Kafka's parser ignores them); a body that ends
/// too early is an error.
pub fn decode_request_frame(frame: &Bytes) -> Result<Request, FrameError> {
    decode_request_payload(&frame_payload(frame)?)
}

/// As [`decode_request_frame`], for a payload whose size prefix was already removed.
pub fn decode_request_payload(payload: &Bytes) -> Result<Request, FrameError> {
    if payload.len() < 8 {
        return Err(framing("shorter than a request header"));
    }
    let api_key_raw = i16::from_be_bytes([payload[0], payload[1]]);
    let api_version = i16::from_be_bytes([payload[2], payload[3]]);
    let correlation_id = i32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]);
    let Some(api_key) = ApiKey::from_i16(api_key_raw) else {
        return Err(FrameError::UnknownApiKey {
            api_key: api_key_raw,
            api_version,
            correlation_id,
        });
    };
    let body_error = |error: DecodeError| FrameError::Body {
        api_key,
        api_version,
        correlation_id,
        error,
    };
    let mut d = Decoder::new(payload);
    let header_version = api_key.request_header_version(api_version);
    let header = RequestHeader::decode(&mut d, header_version)
        .map_err(|e| body_error(e.in_field("RequestHeader")))?;
    let (min, max) = api_key.valid_versions();
    if !(min..=max).contains(&api_version) {
        return Err(FrameError::UnsupportedVersion { api_key, header });
    }
    let body = RequestBody::decode(api_key, &mut d, api_version).map_err(body_error)?;
    Ok(Request {
        header,
        api_key,
        api_version,
        body,
        trailing_bytes: d.remaining(),
    })
}

/// Encodes a request frame (size prefix, header, body) as chunks for a vectored write.
pub fn encode_request_frame(
    api_key: ApiKey,
    api_version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    body: &RequestBody,
) -> Result<Vec<Bytes>, EncodeError> {
    let header = RequestHeader {
        request_api_key: api_key as i16,
        request_api_version: api_version,
        correlation_id,
        client_id: client_id.map(str::to_owned),
        unknown_tagged_fields: Vec::new(),
    };
    let header_version = api_key.request_header_version(api_version);
    let size = header.encoded_len(header_version) + body.encoded_len(api_version);
    let mut e = Encoder::with_capacity(size.min(64 * 1024) + FRAME_PREFIX_BYTES);
    e.put_i32(frame_size(size, "request")?);
    header.encode(&mut e, header_version)?;
    body.encode(&mut e, api_version)?;
    Ok(e.into_chunks())
}

fn frame_size(size: usize, field: &'static str) -> Result<i32, EncodeError> {
    i32::try_from(size).map_err(|_| EncodeError::TooLong {
        field,
        length: size,
    })
}

/// Encodes a response frame for `api_key`/`api_version` (header version chosen by the rules
/// of the specs: ApiVersions always answers in header v0).
pub fn encode_response_frame(
    api_key: ApiKey,
    api_version: i16,
    correlation_id: i32,
    body: &ResponseBody,
) -> Result<Vec<Bytes>, EncodeError> {
    let header = ResponseHeader {
        correlation_id,
        unknown_tagged_fields: Vec::new(),
    };
    let header_version = api_key.response_header_version(api_version);
    let size = header.encoded_len(header_version) + body.encoded_len(api_version);
    let mut e = Encoder::with_capacity(size.min(64 * 1024) + FRAME_PREFIX_BYTES);
    e.put_i32(frame_size(size, "response")?);
    header.encode(&mut e, header_version)?;
    body.encode(&mut e, api_version)?;
    Ok(e.into_chunks())
}

/// A decoded response.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub correlation_id: i32,
    pub body: ResponseBody,
}

/// Decodes a response payload (size prefix already removed) to a request of `api_key` at
/// `api_version`.
pub fn decode_response_payload(
    api_key: ApiKey,
    api_version: i16,
    payload: &Bytes,
) -> Result<Response, FrameError> {
    let mut d = Decoder::new(payload);
    let header_version = api_key.response_header_version(api_version);
    let fail = |error: DecodeError| FrameError::Body {
        api_key,
        api_version,
        correlation_id: -1,
        error,
    };
    let header = ResponseHeader::decode(&mut d, header_version)
        .map_err(|e| fail(e.in_field("ResponseHeader")))?;
    let body = ResponseBody::decode(api_key, &mut d, api_version).map_err(fail)?;
    Ok(Response {
        correlation_id: header.correlation_id,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::messages::api_versions_request::ApiVersionsRequest;
    use crate::protocol::messages::metadata_request::MetadataRequest;

    fn concat(chunks: Vec<Bytes>) -> Bytes {
        chunks.concat().into()
    }

    #[test]
    fn metadata_v0_frame_claiming_54_million_topics_is_an_error() {
        // size 14 | key 3 | version 0 | correlation 1 | client id "" | topic count 54e6.
        let mut frame = vec![0, 0, 0, 14, 0, 3, 0, 0, 0, 0, 0, 1, 0, 0];
        frame.extend_from_slice(&54_000_000i32.to_be_bytes());
        assert_eq!(frame.len(), 18);
        let err = decode_request_frame(&Bytes::from(frame)).unwrap_err();
        match err {
            FrameError::Body {
                api_key: ApiKey::Metadata,
                api_version: 0,
                error,
                ..
            } => {
                assert_eq!(error.path, vec!["Topics"]);
                assert!(matches!(
                    error.kind,
                    DecodeErrorKind::InvalidLength {
                        length: 54_000_000,
                        ..
                    }
                ));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn request_frames_round_trip_through_the_entry_point() {
        let body = RequestBody::Metadata(MetadataRequest {
            topics: None,
            ..Default::default()
        });
        for version in 1..=12 {
            let frame = concat(
                encode_request_frame(ApiKey::Metadata, version, 7, Some("kfk"), &body).unwrap(),
            );
            let req = decode_request_frame(&frame).unwrap();
            assert_eq!(req.header.correlation_id, 7);
            assert_eq!(req.header.client_id.as_deref(), Some("kfk"));
            assert_eq!(req.body, body);
        }
    }

    #[test]
    fn api_versions_at_an_unknown_version_keeps_its_header_for_the_error_answer() {
        let body = RequestBody::ApiVersions(ApiVersionsRequest::default());
        let mut frame =
            concat(encode_request_frame(ApiKey::ApiVersions, 4, 9, Some("x"), &body).unwrap())
                .to_vec();
        frame[6..8].copy_from_slice(&99i16.to_be_bytes());
        match decode_request_frame(&Bytes::from(frame)).unwrap_err() {
            FrameError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                header,
            } => {
                assert_eq!(header.correlation_id, 9);
                assert_eq!(header.request_api_version, 99);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bytes_after_the_body_are_counted_not_refused() {
        let body = RequestBody::Metadata(MetadataRequest {
            topics: None,
            ..Default::default()
        });
        let mut frame =
            concat(encode_request_frame(ApiKey::Metadata, 12, 3, Some("x"), &body).unwrap())
                .to_vec();
        frame.extend_from_slice(&[0, 0, 0]);
        let size = i32::try_from(frame.len() - 4).unwrap();
        frame[..4].copy_from_slice(&size.to_be_bytes());
        let req = decode_request_frame(&Bytes::from(frame)).unwrap();
        assert_eq!(req.trailing_bytes, 3);
        assert_eq!(req.body, body);
    }

    #[test]
    fn a_body_that_ends_early_is_still_an_error() {
        let body = RequestBody::Metadata(MetadataRequest {
            topics: Some(Vec::new()),
            ..Default::default()
        });
        let mut frame =
            concat(encode_request_frame(ApiKey::Metadata, 12, 3, Some("x"), &body).unwrap())
                .to_vec();
        frame.truncate(frame.len() - 2);
        let size = i32::try_from(frame.len() - 4).unwrap();
        frame[..4].copy_from_slice(&size.to_be_bytes());
        assert!(matches!(
            decode_request_frame(&Bytes::from(frame)),
            Err(FrameError::Body {
                api_key: ApiKey::Metadata,
                ..
            })
        ));
    }

    #[test]
    fn size_prefix_must_match_the_frame() {
        let frame = Bytes::from_static(&[0, 0, 0, 9, 0, 18, 0, 0]);
        assert!(matches!(
            decode_request_frame(&frame),
            Err(FrameError::Framing(_))
        ));
    }

    #[test]
    fn unknown_api_key_is_reported_with_its_correlation_id() {
        let frame = Bytes::from_static(&[0, 0, 0, 10, 0x7f, 0x00, 0, 0, 0, 0, 0, 5, 0, 0]);
        assert_eq!(
            decode_request_frame(&frame).unwrap_err(),
            FrameError::UnknownApiKey {
                api_key: 0x7f00,
                api_version: 0,
                correlation_id: 5
            }
        );
    }
}
