//! Record-batch compression codecs as Kafka's clients write them: gzip, snappy (the Java
//! client's xerial framing on write; xerial or plain snappy on read, as librdkafka may send
//! either), LZ4 frames (independent 64 KiB blocks, no checksums, as Java's
//! `KafkaLZ4BlockOutputStream`), zstd.
//!
//! Decompression always runs with a byte cap so a small hostile batch cannot expand without
//! bound. Must not: know about batches beyond the compression attribute bits.
//!
//! xerial snappy layout: magic `82 53 4e 41 50 50 59 00` ("\x82SNAPPY\0"), i32 version (1),
//! i32 minimum compatible version (1), then blocks of `i32 compressed length | raw snappy`.

use std::fmt;
use std::io::{Read, Write};

/// The codec in bits 0–2 of a batch's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

impl Compression {
    /// The codec of the attribute bits; `None` for the reserved values 5–7.
    pub fn from_attributes(attributes: i16) -> Option<Compression> {
        Some(match attributes & 0x07 {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            _ => return None,
        })
    }

    /// Kafka's name (`compression.type` values).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    pub fn parse(name: &str) -> Option<Compression> {
        Some(match name.to_ascii_lowercase().as_str() {
            "none" | "uncompressed" => Compression::None,
            "gzip" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            "lz4" => Compression::Lz4,
            "zstd" => Compression::Zstd,
            _ => return None,
        })
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A decompression failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompressionError {
    /// The output would exceed the cap.
    TooLarge { limit_bytes: usize },
    /// The compressed data is corrupt (codec's message).
    Corrupt { codec: Compression, reason: String },
}

impl fmt::Display for CompressionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompressionError::TooLarge { limit_bytes } => {
                write!(f, "decompressed data exceeds {limit_bytes} bytes")
            }
            CompressionError::Corrupt { codec, reason } => {
                write!(f, "corrupt {codec} data: {reason}")
            }
        }
    }
}

impl std::error::Error for CompressionError {}

const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_BYTES: usize = 16;
/// Java's `SnappyOutputStream` default block size.
const XERIAL_BLOCK_BYTES: usize = 32 * 1024;

/// Codec levels (KIP-390: `compression.gzip.level`, `compression.lz4.level`,
/// `compression.zstd.level`), with Kafka's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Levels {
    pub gzip: i32,
    pub lz4: i32,
    pub zstd: i32,
}

impl Default for Levels {
    fn default() -> Self {
        Levels {
            gzip: -1,
            lz4: 9,
            zstd: 3,
        }
    }
}

impl Levels {
    /// Checks one level as Kafka does (gzip -1 or 1–9, zstd -131072–22), and refuses lz4
    /// levels other than Kafka's default 9: kfk's lz4 encoder has a single (fast) mode.
    pub fn check(key: &str, level: i32) -> Result<(), String> {
        let ok = match key {
            "compression.gzip.level" => level == -1 || (1..=9).contains(&level),
            "compression.zstd.level" => (-131_072..=22).contains(&level),
            "compression.lz4.level" => {
                if (1..=17).contains(&level) && level != 9 {
                    return Err(format!(
                        "{level} is not supported: kfk's lz4 encoder has one level, Kafka's default 9"
                    ));
                }
                level == 9
            }
            _ => return Err(format!("{key} is not a compression level")),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{level} is outside the valid range of {key}"))
        }
    }
}

/// Compresses `data` with `codec` at Kafka's default levels.
pub fn compress(codec: Compression, data: &[u8]) -> Vec<u8> {
    compress_at(codec, data, &Levels::default())
}

/// Compresses `data` with `codec` at `levels`.
pub fn compress_at(codec: Compression, data: &[u8], levels: &Levels) -> Vec<u8> {
    match codec {
        Compression::None => data.to_vec(),
        Compression::Gzip => {
            let level = u32::try_from(levels.gzip)
                .map_or(flate2::Compression::default(), flate2::Compression::new);
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), level);
            write_all_infallible(&mut enc, data);
            enc.finish().unwrap_or_default()
        }
        Compression::Snappy => snappy_xerial_compress(data),
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            write_all_infallible(&mut enc, data);
            enc.finish().unwrap_or_default()
        }
        Compression::Zstd => zstd::bulk::compress(data, levels.zstd).unwrap_or_default(),
    }
}

/// Writes to an in-memory encoder, whose writes cannot fail.
fn write_all_infallible(w: &mut impl Write, data: &[u8]) {
    let result = w.write_all(data);
    debug_assert!(result.is_ok(), "in-memory compression write failed");
}

fn snappy_xerial_compress(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + XERIAL_HEADER_BYTES);
    out.extend_from_slice(XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut encoder = snap::raw::Encoder::new();
    for block in data.chunks(XERIAL_BLOCK_BYTES) {
        let compressed = encoder.compress_vec(block).unwrap_or_default();
        out.extend_from_slice(&(compressed.len() as i32).to_be_bytes());
        out.extend_from_slice(&compressed);
    }
    out
}

fn corrupt(codec: Compression, reason: impl fmt::Display) -> CompressionError {
    CompressionError::Corrupt {
        codec,
        reason: reason.to_string(),
    }
}

/// Decompresses `data`, failing once the output would exceed `limit_bytes`.
pub fn decompress(
    codec: Compression,
    data: &[u8],
    limit_bytes: usize,
) -> Result<Vec<u8>, CompressionError> {
    match codec {
        Compression::None => {
            if data.len() > limit_bytes {
                return Err(CompressionError::TooLarge { limit_bytes });
            }
            Ok(data.to_vec())
        }
        Compression::Gzip => {
            read_capped(codec, flate2::read::MultiGzDecoder::new(data), limit_bytes)
        }
        Compression::Snappy => snappy_decompress(data, limit_bytes),
        Compression::Lz4 => {
            read_capped(codec, lz4_flex::frame::FrameDecoder::new(data), limit_bytes)
        }
        Compression::Zstd => {
            let dec =
                zstd::stream::read::Decoder::with_buffer(data).map_err(|e| corrupt(codec, e))?;
            read_capped(codec, dec, limit_bytes)
        }
    }
}

/// A streaming decoder of `data`: what it yields is never held whole (the broker walks a
/// batch's records through it). Snappy blocks are decoded one at a time, each checked against
/// `limit_bytes` before it is allocated.
pub fn decoder<'a>(
    codec: Compression,
    data: &'a [u8],
    limit_bytes: usize,
) -> Result<Box<dyn Read + 'a>, CompressionError> {
    Ok(match codec {
        Compression::None => Box::new(data),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(data)),
        Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(data)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(data).map_err(|e| corrupt(codec, e))?)
        }
        Compression::Snappy if data.starts_with(XERIAL_MAGIC) => Box::new(XerialReader {
            data,
            pos: XERIAL_HEADER_BYTES.min(data.len()),
            block: std::io::Cursor::new(Vec::new()),
            limit_bytes,
        }),
        Compression::Snappy => {
            let mut out = Vec::new();
            snappy_raw_block(data, limit_bytes, &mut out)?;
            Box::new(std::io::Cursor::new(out))
        }
    })
}

/// Xerial-framed snappy, one block at a time.
struct XerialReader<'a> {
    data: &'a [u8],
    pos: usize,
    block: std::io::Cursor<Vec<u8>>,
    limit_bytes: usize,
}

impl Read for XerialReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.block.read(buf)?;
            if n > 0 || buf.is_empty() || self.pos >= self.data.len() {
                return Ok(n);
            }
            let invalid = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
            let len_bytes = self
                .data
                .get(self.pos..self.pos + 4)
                .ok_or_else(|| invalid("truncated xerial block length"))?;
            let len = i32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
            let len = usize::try_from(len).map_err(|_| invalid("negative xerial block length"))?;
            self.pos += 4;
            let block = self
                .data
                .get(self.pos..self.pos + len)
                .ok_or_else(|| invalid("truncated xerial block"))?;
            self.pos += len;
            let mut out = Vec::new();
            snappy_raw_block(block, self.limit_bytes, &mut out)
                .map_err(|e| invalid(&e.to_string()))?;
            self.block = std::io::Cursor::new(out);
        }
    }
}

fn read_capped(
    codec: Compression,
    reader: impl Read,
    limit_bytes: usize,
) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(codec, e))?;
    if out.len() > limit_bytes {
        return Err(CompressionError::TooLarge { limit_bytes });
    }
    Ok(out)
}

fn snappy_decompress(data: &[u8], limit_bytes: usize) -> Result<Vec<u8>, CompressionError> {
    let codec = Compression::Snappy;
    if !data.starts_with(XERIAL_MAGIC) {
        let mut out = Vec::new();
        snappy_raw_block(data, limit_bytes, &mut out)?;
        return Ok(out);
    }
    if data.len() < XERIAL_HEADER_BYTES {
        return Err(corrupt(codec, "truncated xerial header"));
    }
    let mut out = Vec::new();
    let mut pos = XERIAL_HEADER_BYTES;
    while pos < data.len() {
        let Some(len_bytes) = data.get(pos..pos + 4) else {
            return Err(corrupt(codec, "truncated xerial block length"));
        };
        let len = i32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        let len =
            usize::try_from(len).map_err(|_| corrupt(codec, "negative xerial block length"))?;
        pos += 4;
        let Some(block) = data.get(pos..pos + len) else {
            return Err(corrupt(codec, "truncated xerial block"));
        };
        snappy_raw_block(block, limit_bytes, &mut out)?;
        pos += len;
    }
    Ok(out)
}

/// Appends one raw snappy block to `out`, checking its declared size against the cap first.
fn snappy_raw_block(
    block: &[u8],
    limit_bytes: usize,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let codec = Compression::Snappy;
    let size = snap::raw::decompress_len(block).map_err(|e| corrupt(codec, e))?;
    if out.len().saturating_add(size) > limit_bytes {
        return Err(CompressionError::TooLarge { limit_bytes });
    }
    let start = out.len();
    out.resize(start + size, 0);
    snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(|e| corrupt(codec, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn every_codec_round_trips() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for codec in ALL {
            let c = compress(codec, &data);
            assert_eq!(decompress(codec, &c, data.len()).unwrap(), data, "{codec}");
        }
    }

    #[test]
    fn levels_change_the_output_and_follow_kafkas_ranges() {
        let data: Vec<u8> = (0..100_000u32)
            .map(|i| (i % 97) as u8 ^ (i / 1000) as u8)
            .collect();
        for (codec, low, high) in [
            (
                Compression::Gzip,
                Levels {
                    gzip: 1,
                    ..Levels::default()
                },
                Levels {
                    gzip: 9,
                    ..Levels::default()
                },
            ),
            (
                Compression::Zstd,
                Levels {
                    zstd: 1,
                    ..Levels::default()
                },
                Levels {
                    zstd: 19,
                    ..Levels::default()
                },
            ),
        ] {
            let (fast, small) = (
                compress_at(codec, &data, &low),
                compress_at(codec, &data, &high),
            );
            assert_ne!(fast, small, "{codec}");
            assert_eq!(decompress(codec, &small, data.len()).unwrap(), data);
        }
        assert!(Levels::check("compression.gzip.level", 10).is_err());
        assert!(Levels::check("compression.gzip.level", -1).is_ok());
        assert!(Levels::check("compression.zstd.level", 22).is_ok());
        assert!(Levels::check("compression.zstd.level", 23).is_err());
        assert!(Levels::check("compression.lz4.level", 9).is_ok());
        assert!(Levels::check("compression.lz4.level", 12)
            .unwrap_err()
            .contains("not supported"));
    }

    #[test]
    fn decompression_stops_at_the_cap() {
        let data = vec![0u8; 1 << 20];
        for codec in ALL {
            let c = compress(codec, &data);
            assert_eq!(
                decompress(codec, &c, 1000).unwrap_err(),
                CompressionError::TooLarge { limit_bytes: 1000 },
                "{codec}"
            );
        }
    }

    #[test]
    fn plain_snappy_is_read_as_well_as_xerial() {
        let data = b"hello hello hello hello".to_vec();
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress(Compression::Snappy, &raw, 100).unwrap(), data);
        assert!(compress(Compression::Snappy, &data).starts_with(XERIAL_MAGIC));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for codec in ALL[1..].iter() {
            assert!(
                decompress(*codec, &[1, 2, 3, 4, 5, 6, 7, 8, 9], 1 << 20).is_err(),
                "{codec}"
            );
        }
    }
}
