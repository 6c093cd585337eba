//! Kafka's primitive wire types: fixed-width big-endian integers, (unsigned) varints, classic
//! and compact strings/bytes/arrays, UUIDs, tagged-field sections.
//!
//! Owns: the bounded [`Decoder`] and the chunking [`Encoder`] that the generated message code
//! (`protocol/messages/`) calls. Must not: do I/O, or allocate from a length it has not checked
//! against the bytes that remain. Called by: generated code, headers, the frame entry point.
//!
//! Layouts (all integers big-endian):
//! - `string`: i16 length (-1 = null) + UTF-8 bytes; compact: uvarint(length + 1) (0 = null).
//! - `bytes`/`records`: i32 length (-1 = null) + bytes; compact: uvarint(length + 1).
//! - array: i32 count (-1 = null) + elements; compact: uvarint(count + 1).
//! - tagged fields (flexible versions): uvarint count, then per field uvarint tag, uvarint size,
//!   `size` bytes, in ascending tag order.

use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

/// Records fields at least this large are handed on as their own [`Bytes`] chunk by the
/// encoder instead of being copied, so a produce/fetch payload is never memcpy'd.
pub const ZERO_COPY_MIN_BYTES: usize = 4096;

/// Upper bound on the initial capacity of a decoded array: the rest grows on demand, so a
/// count that passes the remaining-bytes check still cannot reserve a large block up front.
const ARRAY_PREALLOC_MAX: usize = 256;

/// Why a decode failed, without the field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ended before a value of `needed` bytes.
    UnexpectedEof { needed: usize, remaining: usize },
    /// A length or count is negative (other than -1 for null) or larger than the bytes left.
    InvalidLength { length: i64, remaining: usize },
    /// A varint runs past its maximum width.
    VarintTooLong,
    /// A string is not UTF-8.
    InvalidUtf8,
    /// A null was read for a field that is not nullable at this version.
    NullNotAllowed,
    /// The version is outside the message's valid range.
    UnsupportedVersion { version: i16 },
    /// An API key that no spec defines.
    UnknownApiKey { api_key: i16 },
    /// A frame's length prefix disagrees with the frame, or bytes remain after the body.
    BadFrame(&'static str),
    /// Anything else, with a short static description.
    Invalid(&'static str),
}

/// A decode failure with the path of fields (outermost first) where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub kind: DecodeErrorKind,
    /// Field names from the outermost struct inwards; filled in on the error path only.
    pub path: Vec<&'static str>,
}

impl DecodeError {
    pub fn new(kind: DecodeErrorKind) -> Self {
        DecodeError {
            kind,
            path: Vec::new(),
        }
    }

    /// Prepends the enclosing field name (called while the error propagates outwards).
    #[cold]
    pub fn in_field(mut self, name: &'static str) -> Self {
        self.path.insert(0, name);
        self
    }
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeErrorKind::UnexpectedEof { needed, remaining } => {
                write!(f, "needed {needed} bytes, {remaining} remain")
            }
            DecodeErrorKind::InvalidLength { length, remaining } => {
                write!(
                    f,
                    "invalid length {length} with {remaining} bytes remaining"
                )
            }
            DecodeErrorKind::VarintTooLong => f.write_str("varint too long"),
            DecodeErrorKind::InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            DecodeErrorKind::NullNotAllowed => f.write_str("null for a non-nullable field"),
            DecodeErrorKind::UnsupportedVersion { version } => {
                write!(f, "unsupported version {version}")
            }
            DecodeErrorKind::UnknownApiKey { api_key } => write!(f, "unknown API key {api_key}"),
            DecodeErrorKind::BadFrame(why) => write!(f, "bad frame: {why}"),
            DecodeErrorKind::Invalid(why) => f.write_str(why),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "field {}: {}", self.path.join("."), self.kind)
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why an encode was refused (Kafka's `UnsupportedVersionException` cases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// A non-ignorable field holds a non-default value at a version that lacks it.
    FieldNotInVersion { field: &'static str, version: i16 },
    /// A null in a field that is not nullable at this version.
    NullNotAllowed { field: &'static str, version: i16 },
    /// A string, bytes or array longer than its length prefix can express.
    TooLong { field: &'static str, length: usize },
    /// The version is outside the message's valid range.
    UnsupportedVersion { version: i16 },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::FieldNotInVersion { field, version } => {
                write!(
                    f,
                    "field {field} has a non-default value but does not exist at version {version}"
                )
            }
            EncodeError::NullNotAllowed { field, version } => {
                write!(
                    f,
                    "field {field} is null but not nullable at version {version}"
                )
            }
            EncodeError::TooLong { field, length } => {
                write!(f, "field {field} is too long ({length})")
            }
            EncodeError::UnsupportedVersion { version } => {
                write!(f, "unsupported version {version}")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

/// A Kafka UUID (topic ids, directory ids): 16 bytes, printed as Kafka prints it, in URL-safe
/// base64 without padding (22 characters).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    pub const ZERO: Uuid = Uuid([0; 16]);

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }

    /// A random id (topic, cluster, directory): a version 4 UUID from the OS's randomness, so
    /// never the zero id Kafka reserves, and (as Kafka's `Uuid.randomUuid`) never one whose
    /// text starts with '-', which command lines would take for a flag.
    pub fn random() -> Uuid {
        loop {
            let id = Uuid(uuid::Uuid::new_v4().into_bytes());
            // Base64 '-' is 62: the first character comes from the top six bits.
            if id.0[0] >> 2 != 62 {
                return id;
            }
        }
    }

    /// Parses Kafka's 22-character URL-safe base64 form.
    pub fn parse(text: &str) -> Option<Uuid> {
        let bytes = base64_url_decode(text)?;
        let array: [u8; 16] = bytes.try_into().ok()?;
        Some(Uuid(array))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base64_url_encode(&self.0))
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

fn base64_url_encode(input: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(input)
}

fn base64_url_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

/// An unknown tagged field kept as its raw payload (a zero-copy slice of the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTaggedField {
    pub tag: u32,
    pub data: Bytes,
}

/// Reads wire values from a [`Bytes`] buffer, checking every length against what remains.
pub struct Decoder<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
}

type DResult<T> = Result<T, DecodeError>;

fn eof(needed: usize, remaining: usize) -> DecodeError {
    DecodeError::new(DecodeErrorKind::UnexpectedEof { needed, remaining })
}

fn bad_length(length: i64, remaining: usize) -> DecodeError {
    DecodeError::new(DecodeErrorKind::InvalidLength { length, remaining })
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a Bytes) -> Self {
        Decoder {
            buf,
            pos: 0,
            end: buf.len(),
        }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.end - self.pos
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize) -> DResult<&'a [u8]> {
        if n > self.remaining() {
            return Err(eof(n, self.remaining()));
        }
        let start = self.pos;
        self.pos += n;
        Ok(&self.buf[start..start + n])
    }

    /// A zero-copy slice of the next `n` bytes.
    pub fn take_bytes(&mut self, n: usize) -> DResult<Bytes> {
        if n > self.remaining() {
            return Err(eof(n, self.remaining()));
        }
        let start = self.pos;
        self.pos += n;
        Ok(self.buf.slice(start..start + n))
    }

    /// The rest of the input as a zero-copy slice.
    pub fn rest(&mut self) -> Bytes {
        let start = self.pos;
        self.pos = self.end;
        self.buf.slice(start..self.end)
    }

    fn array<const N: usize>(&mut self) -> DResult<[u8; N]> {
        let s = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub fn i8(&mut self) -> DResult<i8> {
        Ok(i8::from_be_bytes(self.array()?))
    }
    pub fn i16(&mut self) -> DResult<i16> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    pub fn i32(&mut self) -> DResult<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> DResult<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    pub fn u16(&mut self) -> DResult<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> DResult<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn f64(&mut self) -> DResult<f64> {
        Ok(f64::from_be_bytes(self.array()?))
    }
    pub fn bool(&mut self) -> DResult<bool> {
        Ok(self.i8()? != 0)
    }
    pub fn uuid(&mut self) -> DResult<Uuid> {
        Ok(Uuid(self.array()?))
    }

    /// Unsigned LEB128 varint of at most 5 bytes (Kafka's `readUnsignedVarint`).
    pub fn uvarint(&mut self) -> DResult<u32> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.take(1)?[0];
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::new(DecodeErrorKind::VarintTooLong))
    }

    /// Zig-zag varint (records).
    pub fn varint(&mut self) -> DResult<i32> {
        let raw = self.uvarint()?;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    /// Zig-zag varlong of at most 10 bytes.
    pub fn varlong(&mut self) -> DResult<i64> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let b = self.take(1)?[0];
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
        }
        Err(DecodeError::new(DecodeErrorKind::VarintTooLong))
    }

    /// A length prefix: `None` for null; checked against the remaining bytes times
    /// `min_unit` (the least bytes one unit can take on the wire).
    fn length(&mut self, compact: bool, wide: bool, min_unit: usize) -> DResult<Option<usize>> {
        let length: i64 = if compact {
            i64::from(self.uvarint()?) - 1
        } else if wide {
            i64::from(self.i32()?)
        } else {
            i64::from(self.i16()?)
        };
        if length == -1 {
            return Ok(None);
        }
        let remaining = self.remaining();
        match usize::try_from(length) {
            Ok(n) if n.saturating_mul(min_unit.max(1)) <= remaining => Ok(Some(n)),
            _ => Err(bad_length(length, remaining)),
        }
    }

    pub fn nullable_string(&mut self, compact: bool) -> DResult<Option<String>> {
        match self.length(compact, false, 1)? {
            None => Ok(None),
            Some(n) => {
                let raw = self.take(n)?;
                match std::str::from_utf8(raw) {
                    Ok(s) => Ok(Some(s.to_owned())),
                    Err(_) => Err(DecodeError::new(DecodeErrorKind::InvalidUtf8)),
                }
            }
        }
    }

    pub fn string(&mut self, compact: bool) -> DResult<String> {
        self.nullable_string(compact)?.ok_or_else(null_not_allowed)
    }

    pub fn nullable_bytes(&mut self, compact: bool) -> DResult<Option<Bytes>> {
        match self.length(compact, true, 1)? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take_bytes(n)?)),
        }
    }

    pub fn bytes(&mut self, compact: bool) -> DResult<Bytes> {
        self.nullable_bytes(compact)?.ok_or_else(null_not_allowed)
    }

    /// An array count, `None` for null, checked so that `count * min_element_bytes` fits in
    /// what remains.
    pub fn array_len(&mut self, compact: bool, min_element_bytes: usize) -> DResult<Option<usize>> {
        self.length(compact, true, min_element_bytes)
    }

    /// Decodes `count` elements with `element`, reserving capacity only up to a small cap.
    pub fn array_of<T>(
        &mut self,
        count: usize,
        mut element: impl FnMut(&mut Self) -> DResult<T>,
    ) -> DResult<Vec<T>> {
        let mut out = Vec::with_capacity(count.min(ARRAY_PREALLOC_MAX));
        for _ in 0..count {
            out.push(element(self)?);
        }
        Ok(out)
    }

    /// A decoder over the next `n` bytes (a tagged field's payload); advances past them.
    pub fn sub(&mut self, n: usize) -> DResult<Decoder<'a>> {
        if n > self.remaining() {
            return Err(eof(n, self.remaining()));
        }
        let start = self.pos;
        self.pos += n;
        Ok(Decoder {
            buf: self.buf,
            pos: start,
            end: start + n,
        })
    }

    /// Reads a tagged-field section: `known` is called for every tag with a sub-decoder over
    /// its payload and returns `false` for tags it does not know, which are kept raw.
    pub fn tagged_fields(
        &mut self,
        unknown: &mut Vec<RawTaggedField>,
        mut known: impl FnMut(u32, &mut Decoder<'a>) -> DResult<bool>,
    ) -> DResult<()> {
        let count = self.uvarint()? as usize;
        if count > self.remaining() {
            return Err(bad_length(count as i64, self.remaining()));
        }
        for _ in 0..count {
            let tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            let mut sub = self.sub(size)?;
            if !known(tag, &mut sub)? {
                unknown.push(RawTaggedField {
                    tag,
                    data: sub.rest(),
                });
            }
        }
        Ok(())
    }
}

/// The error for a null read where the field is not nullable (used by generated code).
pub fn null_field() -> DecodeError {
    null_not_allowed()
}

fn null_not_allowed() -> DecodeError {
    DecodeError::new(DecodeErrorKind::NullNotAllowed)
}

/// Writes wire values. Small values go into one growing buffer; large `records` payloads are
/// kept as their own chunks (see [`ZERO_COPY_MIN_BYTES`]) so a writer can send them with a
/// vectored write without copying.
#[derive(Default)]
pub struct Encoder {
    buf: BytesMut,
    chunks: Vec<Bytes>,
    /// Total bytes written so far, over `chunks` and `buf`.
    len: usize,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Encoder {
            buf: BytesMut::with_capacity(capacity),
            chunks: Vec::new(),
            len: 0,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn put_slice(&mut self, data: &[u8]) {
        self.buf.put_slice(data);
        self.len += data.len();
    }

    pub fn put_i8(&mut self, v: i8) {
        self.put_slice(&v.to_be_bytes());
    }
    pub fn put_i16(&mut self, v: i16) {
        self.put_slice(&v.to_be_bytes());
    }
    pub fn put_i32(&mut self, v: i32) {
        self.put_slice(&v.to_be_bytes());
    }
    pub fn put_i64(&mut self, v: i64) {
        self.put_slice(&v.to_be_bytes());
    }
    pub fn put_u16(&mut self, v: u16) {
        self.put_slice(&v.to_be_bytes());
    }
    pub fn put_u32(&mut self, v: u32) {
        self.put_slice(&v.to_be_bytes());
    }
    pub fn put_f64(&mut self, v: f64) {
        self.put_slice(&v.to_be_bytes());
    }
    pub fn put_bool(&mut self, v: bool) {
        self.put_i8(i8::from(v));
    }
    pub fn put_uuid(&mut self, v: &Uuid) {
        self.put_slice(&v.0);
    }

    pub fn put_uvarint(&mut self, mut v: u32) {
        let mut tmp = [0u8; 5];
        let mut n = 0;
        while v >= 0x80 {
            tmp[n] = (v as u8) | 0x80;
            v >>= 7;
            n += 1;
        }
        tmp[n] = v as u8;
        self.put_slice(&tmp[..=n]);
    }

    pub fn put_varint(&mut self, v: i32) {
        self.put_uvarint(((v << 1) ^ (v >> 31)) as u32);
    }

    pub fn put_varlong(&mut self, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        let mut tmp = [0u8; 10];
        let mut n = 0;
        while z >= 0x80 {
            tmp[n] = (z as u8) | 0x80;
            z >>= 7;
            n += 1;
        }
        tmp[n] = z as u8;
        self.put_slice(&tmp[..=n]);
    }

    /// A length prefix; `None` writes null.
    pub fn put_length(&mut self, length: Option<usize>, compact: bool, wide: bool) {
        match (length, compact) {
            (None, true) => self.put_uvarint(0),
            (Some(n), true) => self.put_uvarint(n as u32 + 1),
            (None, false) if wide => self.put_i32(-1),
            (None, false) => self.put_i16(-1),
            (Some(n), false) if wide => self.put_i32(n as i32),
            (Some(n), false) => self.put_i16(n as i16),
        }
    }

    pub fn put_string(&mut self, v: Option<&str>, compact: bool) {
        self.put_length(v.map(str::len), compact, false);
        if let Some(s) = v {
            self.put_slice(s.as_bytes());
        }
    }

    pub fn put_bytes(&mut self, v: Option<&[u8]>, compact: bool) {
        self.put_length(v.map(<[u8]>::len), compact, true);
        if let Some(b) = v {
            self.put_slice(b);
        }
    }

    /// A `records` field: large payloads are handed on as their own chunk, not copied.
    pub fn put_records(&mut self, v: Option<&Bytes>, compact: bool) {
        self.put_length(v.map(Bytes::len), compact, true);
        if let Some(b) = v {
            self.put_chunk(b);
        }
    }

    /// Appends `data`, as its own chunk when it is large enough to be worth not copying.
    pub fn put_chunk(&mut self, data: &Bytes) {
        if data.len() < ZERO_COPY_MIN_BYTES {
            self.put_slice(data);
            return;
        }
        if !self.buf.is_empty() {
            self.chunks.push(self.buf.split().freeze());
        }
        self.chunks.push(data.clone());
        self.len += data.len();
    }

    /// Writes a tagged field: tag, payload size, payload.
    pub fn put_raw_tagged(&mut self, field: &RawTaggedField) {
        self.put_uvarint(field.tag);
        self.put_uvarint(field.data.len() as u32);
        self.put_slice(&field.data);
    }

    /// The bytes written so far when they are one contiguous buffer (nothing was handed on
    /// with [`Encoder::put_chunk`]); empty otherwise.
    pub fn contiguous(&self) -> &[u8] {
        debug_assert!(self.chunks.is_empty(), "contiguous() on a chunked encoder");
        if self.chunks.is_empty() {
            &self.buf
        } else {
            &[]
        }
    }

    /// The written bytes as chunks in order (large records payloads are shared, not copied).
    pub fn into_chunks(mut self) -> Vec<Bytes> {
        if !self.buf.is_empty() {
            self.chunks.push(self.buf.split().freeze());
        }
        self.chunks
    }

    /// The written bytes as one contiguous buffer (copies shared chunks if there are any).
    pub fn into_bytes(self) -> Bytes {
        if self.chunks.is_empty() {
            return self.buf.freeze();
        }
        let mut out = BytesMut::with_capacity(self.len);
        for chunk in self.into_chunks() {
            out.put_slice(&chunk);
        }
        out.freeze()
    }
}

/// Size of `v` as an unsigned varint.
pub const fn uvarint_len(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0x0fff_ffff => 4,
        _ => 5,
    }
}

/// Size of `v` as a zig-zag varint.
pub const fn varint_len(v: i32) -> usize {
    uvarint_len(((v << 1) ^ (v >> 31)) as u32)
}

/// Size of `v` as a zig-zag varlong.
pub const fn varlong_len(v: i64) -> usize {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    let mut n = 1;
    while z >= 0x80 {
        z >>= 7;
        n += 1;
    }
    n
}

/// Size of a length prefix (string: `wide` false; bytes/arrays: true).
pub const fn length_len(length: Option<usize>, compact: bool, wide: bool) -> usize {
    if compact {
        match length {
            None => 1,
            Some(n) => uvarint_len(n as u32 + 1),
        }
    } else if wide {
        4
    } else {
        2
    }
}

/// Size of a raw tagged field.
pub fn raw_tagged_len(field: &RawTaggedField) -> usize {
    uvarint_len(field.tag) + uvarint_len(field.data.len() as u32) + field.data.len()
}

/// A struct that can be read and written at a given version of its message.
pub trait Message: Sized + Default {
    /// Reads one value at `version`.
    fn decode(d: &mut Decoder<'_>, version: i16) -> Result<Self, DecodeError>;
    /// Writes the value at `version`; refuses values that `version` cannot express.
    fn encode(&self, e: &mut Encoder, version: i16) -> Result<(), EncodeError>;
    /// The bytes `encode` writes at `version`.
    fn encoded_len(&self, version: i16) -> usize;
}

/// A top-level message of the specs with its valid versions.
pub trait VersionedMessage: Message {
    /// The `apiKey` of the spec (-1 where it has none).
    const API_KEY: i16;
    const MIN_VERSION: i16;
    const MAX_VERSION: i16;
    /// The lowest flexible version, if any.
    const FLEXIBLE_MIN: Option<i16>;

    /// Decodes a whole buffer at `version`, refusing trailing bytes.
    fn decode_all(buf: &Bytes, version: i16) -> Result<Self, DecodeError> {
        if !(Self::MIN_VERSION..=Self::MAX_VERSION).contains(&version) {
            return Err(DecodeError::new(DecodeErrorKind::UnsupportedVersion {
                version,
            }));
        }
        let mut d = Decoder::new(buf);
        let value = Self::decode(&mut d, version)?;
        if d.remaining() != 0 {
            return Err(DecodeError::new(DecodeErrorKind::BadFrame(
                "trailing bytes after message",
            )));
        }
        Ok(value)
    }

    /// Encodes into one buffer at `version`.
    fn encode_to_bytes(&self, version: i16) -> Result<Bytes, EncodeError> {
        if !(Self::MIN_VERSION..=Self::MAX_VERSION).contains(&version) {
            return Err(EncodeError::UnsupportedVersion { version });
        }
        let mut e = Encoder::with_capacity(self.encoded_len(version));
        self.encode(&mut e, version)?;
        Ok(e.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_their_edges() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ] {
            let mut e = Encoder::new();
            e.put_varlong(v);
            assert_eq!(e.len(), varlong_len(v));
            let b = e.into_bytes();
            assert_eq!(Decoder::new(&b).varlong().unwrap(), v);
        }
        for v in [0i32, 1, -1, 300, -300, i32::MAX, i32::MIN] {
            let mut e = Encoder::new();
            e.put_varint(v);
            assert_eq!(e.len(), varint_len(v));
            let b = e.into_bytes();
            assert_eq!(Decoder::new(&b).varint().unwrap(), v);
        }
    }

    #[test]
    fn uvarint_longer_than_five_bytes_is_an_error() {
        let b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(
            Decoder::new(&b).uvarint().unwrap_err().kind,
            DecodeErrorKind::VarintTooLong
        );
    }

    #[test]
    fn array_count_larger_than_remaining_bytes_is_refused_before_allocation() {
        let b = Bytes::from(54_000_000i32.to_be_bytes().to_vec());
        let err = Decoder::new(&b).array_len(false, 1).unwrap_err();
        assert!(matches!(
            err.kind,
            DecodeErrorKind::InvalidLength {
                length: 54_000_000,
                ..
            }
        ));
    }

    #[test]
    fn null_string_and_empty_string_are_distinct() {
        let b = Bytes::from_static(&[0xff, 0xff, 0x00, 0x00, 0x01]);
        let mut d = Decoder::new(&b);
        assert_eq!(d.nullable_string(false).unwrap(), None);
        assert_eq!(d.nullable_string(false).unwrap(), Some(String::new()));
        assert_eq!(d.nullable_string(true).unwrap(), Some(String::new()));
    }

    #[test]
    fn random_uuids_differ_and_are_never_zero() {
        let (a, b) = (Uuid::random(), Uuid::random());
        assert_ne!(a, b);
        assert!(!a.is_zero());
    }

    #[test]
    fn uuid_prints_as_kafka_base64_and_parses_back() {
        let id = Uuid([
            0xfb, 0x01, 0x2c, 0x39, 0x4e, 0x3c, 0x4f, 0xd4, 0x8b, 0x0f, 0x4d, 0x2e, 0x6b, 0x1d,
            0x88, 0x11,
        ]);
        let text = id.to_string();
        assert_eq!(text.len(), 22);
        assert_eq!(Uuid::parse(&text), Some(id));
    }

    #[test]
    fn large_records_are_handed_on_as_their_own_chunk() {
        let payload = Bytes::from(vec![7u8; 10_000]);
        let mut e = Encoder::new();
        e.put_i32(1);
        e.put_records(Some(&payload), false);
        e.put_i16(2);
        let chunks = e.into_chunks();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[1].as_ptr(), payload.as_ptr());
    }
}
