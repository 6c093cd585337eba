//! How `kfk console-consumer` prints a record: Kafka's message formatters
//! (`DefaultMessageFormatter`, `LoggingMessageFormatter`, `NoOpMessageFormatter`, by their 4.x
//! class names under `org.apache.kafka.tools.consumer` or the older `kafka.tools`), their
//! properties (`print.key`, `key.separator`, ...), and Kafka's deserializers for keys and
//! values (`StringDeserializer`, `IntegerDeserializer`, ... by class name), which print
//! numbers as Java's `toString` does.
//!
//! Must not: consume; it only turns a [`ConsumerRecord`] into bytes.

use super::CliError;
use crate::client::consumer::ConsumerRecord;
use std::borrow::Cow;
use std::io::Write;

/// Which of Kafka's formatters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatterKind {
    /// `DefaultMessageFormatter`: the fields the properties ask for, in Kafka's order.
    Default,
    /// `LoggingMessageFormatter`: as the default, and each record logged at info level.
    Logging,
    /// `NoOpMessageFormatter`: prints nothing.
    NoOp,
}

impl FormatterKind {
    /// A formatter by Kafka class name (`--formatter`).
    pub fn parse(class: &str) -> Result<FormatterKind, CliError> {
        let simple = class
            .strip_prefix("org.apache.kafka.tools.consumer.")
            .or_else(|| class.strip_prefix("kafka.tools."))
            .unwrap_or("");
        match simple {
            "DefaultMessageFormatter" => Ok(FormatterKind::Default),
            "LoggingMessageFormatter" => Ok(FormatterKind::Logging),
            "NoOpMessageFormatter" => Ok(FormatterKind::NoOp),
            _ => Err(CliError::Usage(format!(
                "--formatter {class}: not a formatter kfk has (org.apache.kafka.tools.consumer.DefaultMessageFormatter, LoggingMessageFormatter or NoOpMessageFormatter)"
            ))),
        }
    }
}

/// Kafka's deserializers, by what they turn bytes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deserializer {
    /// `ByteArrayDeserializer` (the console consumer's default): the bytes unchanged.
    ByteArray,
    /// `StringDeserializer`: UTF-8, invalid sequences replaced.
    String,
    Short,
    Integer,
    Long,
    Float,
    Double,
    /// `UUIDDeserializer`: the text of a UUID, checked.
    Uuid,
}

impl Deserializer {
    /// A deserializer by Kafka class name; `flag` names where it came from in errors.
    pub fn parse(flag: &str, class: &str) -> Result<Deserializer, CliError> {
        let simple = class
            .trim()
            .strip_prefix("org.apache.kafka.common.serialization.")
            .unwrap_or("");
        Ok(match simple {
            "ByteArrayDeserializer" => Deserializer::ByteArray,
            "StringDeserializer" => Deserializer::String,
            "ShortDeserializer" => Deserializer::Short,
            "IntegerDeserializer" => Deserializer::Integer,
            "LongDeserializer" => Deserializer::Long,
            "FloatDeserializer" => Deserializer::Float,
            "DoubleDeserializer" => Deserializer::Double,
            "UUIDDeserializer" => Deserializer::Uuid,
            _ => return Err(CliError::Usage(format!(
                "{flag} {class}: not a deserializer kfk has (org.apache.kafka.common.serialization.StringDeserializer, ByteArrayDeserializer, ShortDeserializer, IntegerDeserializer, LongDeserializer, FloatDeserializer, DoubleDeserializer, UUIDDeserializer)"
            ))),
        })
    }

    /// The printed form of `bytes`, or why they cannot be read (Kafka's
    /// SerializationException message). `ByteArrayDeserializer` prints the bytes (Kafka's
    /// formatter prints the Java array's identity, `[B@6d3af739`).
    fn render<'a>(self, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, String> {
        let fixed = |n: usize, name: &str| -> Result<&'a [u8], String> {
            if bytes.len() == n {
                Ok(bytes)
            } else {
                Err(format!("Size of data received by {name} is not {n}"))
            }
        };
        let owned = |s: String| Ok(Cow::Owned(s.into_bytes()));
        match self {
            Deserializer::ByteArray => Ok(Cow::Borrowed(bytes)),
            Deserializer::String => Ok(match String::from_utf8_lossy(bytes) {
                Cow::Borrowed(_) => Cow::Borrowed(bytes),
                Cow::Owned(s) => Cow::Owned(s.into_bytes()),
            }),
            Deserializer::Short => {
                let b = fixed(2, "ShortDeserializer")?;
                owned(i16::from_be_bytes([b[0], b[1]]).to_string())
            }
            Deserializer::Integer => {
                let b = fixed(4, "IntegerDeserializer")?;
                owned(i32::from_be_bytes([b[0], b[1], b[2], b[3]]).to_string())
            }
            Deserializer::Long => {
                let b = fixed(8, "LongDeserializer")?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                owned(i64::from_be_bytes(a).to_string())
            }
            Deserializer::Float => {
                let b = fixed(4, "Deserializer")?;
                let f = f32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                owned(java_floating(
                    f.is_nan(),
                    f.is_infinite(),
                    f == 0.0,
                    f.is_sign_negative(),
                    f.abs() >= 1e-3 && f.abs() < 1e7,
                    &format!("{f}"),
                    &format!("{f:e}"),
                ))
            }
            Deserializer::Double => {
                let b = fixed(8, "Deserializer")?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                let d = f64::from_be_bytes(a);
                owned(java_floating(
                    d.is_nan(),
                    d.is_infinite(),
                    d == 0.0,
                    d.is_sign_negative(),
                    d.abs() >= 1e-3 && d.abs() < 1e7,
                    &format!("{d}"),
                    &format!("{d:e}"),
                ))
            }
            Deserializer::Uuid => {
                let text = String::from_utf8_lossy(bytes);
                match uuid::Uuid::parse_str(&text) {
                    Ok(u) if text.len() == 36 => owned(u.hyphenated().to_string()),
                    _ => Err(format!("Error deserializing \"{text}\" to UUID")),
                }
            }
        }
    }
}

/// Java's `Double.toString` / `Float.toString` from Rust's shortest round-trip forms:
/// decimal for magnitudes in [10^-3, 10^7) with at least one fraction digit, else
/// `d.dddE±n`; `NaN`, `Infinity`, `-0.0`.
fn java_floating(
    nan: bool,
    infinite: bool,
    zero: bool,
    negative: bool,
    decimal: bool,
    plain: &str,
    scientific: &str,
) -> String {
    if nan {
        return "NaN".into();
    }
    if infinite {
        return if negative { "-Infinity" } else { "Infinity" }.into();
    }
    if zero {
        return if negative { "-0.0" } else { "0.0" }.into();
    }
    if decimal {
        return if plain.contains('.') {
            plain.to_string()
        } else {
            format!("{plain}.0")
        };
    }
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_string()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exponent}")
}

/// Kafka's `DefaultMessageFormatter` (and the two others, by [`FormatterKind`]).
#[derive(Debug, Clone)]
pub struct Formatter {
    pub kind: FormatterKind,
    pub print_timestamp: bool,
    pub print_partition: bool,
    pub print_offset: bool,
    pub print_headers: bool,
    pub print_key: bool,
    pub print_value: bool,
    pub key_separator: String,
    pub line_separator: String,
    pub headers_separator: String,
    pub null_literal: String,
    pub key_deserializer: Deserializer,
    pub value_deserializer: Deserializer,
}

/// A record the formatter cannot print (a deserializer refused its key or value).
#[derive(Debug)]
pub enum FormatError {
    Io(std::io::Error),
    Deserialize(String),
}

impl From<std::io::Error> for FormatError {
    fn from(e: std::io::Error) -> Self {
        FormatError::Io(e)
    }
}

fn unescape(s: &str) -> String {
    s.replace("\\t", "\t")
        .replace("\\n", "\n")
        .replace("\\r", "\r")
}

impl Formatter {
    /// A formatter of `kind` configured by `KEY=VALUE` pairs (`--formatter-config` file first,
    /// then `--property`), as Kafka's formatters read them.
    pub fn from_properties(kind: FormatterKind, pairs: &[String]) -> Result<Formatter, CliError> {
        let mut f = Formatter {
            kind,
            print_timestamp: false,
            print_partition: false,
            print_offset: false,
            print_headers: false,
            print_key: false,
            print_value: true,
            key_separator: "\t".into(),
            line_separator: "\n".into(),
            headers_separator: ",".into(),
            null_literal: "null".into(),
            key_deserializer: Deserializer::ByteArray,
            value_deserializer: Deserializer::ByteArray,
        };
        for p in pairs {
            let (k, v) = p.split_once('=').ok_or_else(|| {
                CliError::Usage(format!("--property {p:?} is not of the form KEY=VALUE"))
            })?;
            let flag = || -> Result<bool, CliError> {
                match v.trim().to_ascii_lowercase().as_str() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    other => Err(CliError::Usage(format!(
                        "--property {k}={other}: expected true or false"
                    ))),
                }
            };
            match k.trim() {
                "print.timestamp" => f.print_timestamp = flag()?,
                "print.partition" => f.print_partition = flag()?,
                "print.offset" => f.print_offset = flag()?,
                "print.headers" => f.print_headers = flag()?,
                "print.key" => f.print_key = flag()?,
                "print.value" => f.print_value = flag()?,
                "key.separator" => f.key_separator = unescape(v),
                "line.separator" => f.line_separator = unescape(v),
                "headers.separator" => f.headers_separator = unescape(v),
                "null.literal" => f.null_literal = v.to_string(),
                "key.deserializer" => {
                    f.key_deserializer = Deserializer::parse("--property key.deserializer", v)?
                }
                "value.deserializer" => {
                    f.value_deserializer = Deserializer::parse("--property value.deserializer", v)?
                }
                // Header values print as bytes; a header deserializer changes nothing here.
                "headers.deserializer" => {}
                other => {
                    return Err(CliError::Usage(format!(
                        "--property {other}: unknown formatter property"
                    )))
                }
            }
        }
        Ok(f)
    }

    /// Writes one record in Kafka's field order, each field followed by the key separator
    /// only when another field follows (as Kafka's formatter does).
    pub fn write(&self, out: &mut impl Write, r: &ConsumerRecord) -> Result<(), FormatError> {
        if self.kind == FormatterKind::NoOp {
            return Ok(());
        }
        let null = self.null_literal.as_bytes();
        // As Kafka's formatter: a null key or value is the null literal, which the
        // deserializer then reads like any bytes (so a null read as a long is an error).
        let key = if self.print_key {
            let bytes = r.key.as_deref().unwrap_or(null);
            self.key_deserializer
                .render(bytes)
                .map_err(FormatError::Deserialize)?
        } else {
            Cow::Borrowed(&[][..])
        };
        let value = if self.print_value {
            let bytes = r.value.as_deref().unwrap_or(null);
            self.value_deserializer
                .render(bytes)
                .map_err(FormatError::Deserialize)?
        } else {
            Cow::Borrowed(&[][..])
        };
        let sep = self.key_separator.as_bytes();
        let after_headers = self.print_key || self.print_value;
        let after_offset = self.print_headers || after_headers;
        let after_partition = self.print_offset || after_offset;
        let after_timestamp = self.print_partition || after_partition;
        if self.print_timestamp {
            let kind = if r.log_append_time {
                "LogAppendTime"
            } else {
                "CreateTime"
            };
            write!(out, "{kind}:{}", r.timestamp)?;
            if after_timestamp {
                out.write_all(sep)?;
            }
        }
        if self.print_partition {
            write!(out, "Partition:{}", r.partition)?;
            if after_partition {
                out.write_all(sep)?;
            }
        }
        if self.print_offset {
            write!(out, "Offset:{}", r.offset)?;
            if after_offset {
                out.write_all(sep)?;
            }
        }
        if self.print_headers {
            if r.headers.is_empty() {
                out.write_all(b"NO_HEADERS")?;
            }
            for (i, (k, v)) in r.headers.iter().enumerate() {
                if i > 0 {
                    out.write_all(self.headers_separator.as_bytes())?;
                }
                out.write_all(k.as_bytes())?;
                out.write_all(b":")?;
                out.write_all(v.as_deref().unwrap_or(null))?;
            }
            if after_headers {
                out.write_all(sep)?;
            }
        }
        if self.print_key {
            out.write_all(&key)?;
            if self.print_value {
                out.write_all(sep)?;
            }
        }
        if self.print_value {
            out.write_all(&value)?;
        }
        out.write_all(self.line_separator.as_bytes())?;
        if self.kind == FormatterKind::Logging {
            tracing::info!("{}", logged(r));
        }
        Ok(())
    }
}

/// The line Kafka's `LoggingMessageFormatter` logs for a record (its spelling kept: a null
/// key is followed by no comma).
fn logged(r: &ConsumerRecord) -> String {
    let kind = if r.log_append_time {
        "LogAppendTime"
    } else {
        "CreateTime"
    };
    let key = match &r.key {
        None => "null".to_string(),
        Some(k) => format!("{},", String::from_utf8_lossy(k)),
    };
    let value = match &r.value {
        None => "null".into(),
        Some(v) => String::from_utf8_lossy(v),
    };
    format!("{kind}:{},key:{key}value:{value}", r.timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: Option<&[u8]>, value: Option<&[u8]>) -> ConsumerRecord {
        ConsumerRecord {
            topic: "t".into(),
            partition: 2,
            offset: 7,
            timestamp: 99,
            log_append_time: false,
            key: key.map(bytes::Bytes::copy_from_slice),
            value: value.map(bytes::Bytes::copy_from_slice),
            headers: vec![("h".into(), Some("x".into())), ("n".into(), None)],
        }
    }

    fn printed(f: &Formatter, r: &ConsumerRecord) -> String {
        let mut out = Vec::new();
        f.write(&mut out, r).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formatter_prints_kafkas_fields_in_kafkas_order() {
        let props: Vec<String> = [
            "print.timestamp=true",
            "print.partition=true",
            "print.offset=true",
            "print.headers=true",
            "print.key=true",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let f = Formatter::from_properties(FormatterKind::Default, &props).unwrap();
        let r = record(None, Some(b"v"));
        assert_eq!(
            printed(&f, &r),
            "CreateTime:99\tPartition:2\tOffset:7\th:x,n:null\tnull\tv\n"
        );
        let r2 = ConsumerRecord {
            headers: vec![],
            ..r.clone()
        };
        let f = Formatter::from_properties(FormatterKind::Default, &["print.headers=true".into()])
            .unwrap();
        assert_eq!(printed(&f, &r2), "NO_HEADERS\tv\n");
        // No separator after the last field printed.
        let f = Formatter::from_properties(
            FormatterKind::Default,
            &["print.offset=true".into(), "print.value=false".into()],
        )
        .unwrap();
        assert_eq!(printed(&f, &r), "Offset:7\n");
        let f = Formatter::from_properties(FormatterKind::NoOp, &[]).unwrap();
        assert_eq!(printed(&f, &r), "");
    }

    #[test]
    fn numbers_print_as_javas_to_string() {
        let d = |x: f64| {
            String::from_utf8(
                Deserializer::Double
                    .render(&x.to_be_bytes())
                    .unwrap()
                    .into_owned(),
            )
            .unwrap()
        };
        for (x, java) in [
            (1.5, "1.5"),
            (1e10, "1.0E10"),
            (0.001, "0.001"),
            (1e-4, "1.0E-4"),
            (123456789.0, "1.23456789E8"),
            (-0.0, "-0.0"),
            (f64::NAN, "NaN"),
            (1e7, "1.0E7"),
            (9999999.0, "9999999.0"),
            (100.0, "100.0"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(d(x), java, "{x}");
        }
        let f = |x: f32| {
            String::from_utf8(
                Deserializer::Float
                    .render(&x.to_be_bytes())
                    .unwrap()
                    .into_owned(),
            )
            .unwrap()
        };
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(3.0e9), "3.0E9");
        assert_eq!(
            Deserializer::Integer
                .render(&(-42i32).to_be_bytes())
                .unwrap(),
            Cow::Owned::<[u8]>(b"-42".to_vec())
        );
        assert_eq!(
            Deserializer::Long.render(b"abc").unwrap_err(),
            "Size of data received by LongDeserializer is not 8"
        );
        assert!(Deserializer::Uuid.render(b"not-a-uuid").is_err());
        assert_eq!(
            Deserializer::Uuid
                .render(b"2c2b5e1e-8a4b-4e8e-9c2c-6b2a1f1d7a10")
                .unwrap()
                .as_ref(),
            b"2c2b5e1e-8a4b-4e8e-9c2c-6b2a1f1d7a10"
        );
    }

    #[test]
    fn formatters_and_deserializers_go_by_kafkas_class_names() {
        for name in [
            "org.apache.kafka.tools.consumer.LoggingMessageFormatter",
            "kafka.tools.LoggingMessageFormatter",
        ] {
            assert_eq!(FormatterKind::parse(name).unwrap(), FormatterKind::Logging);
        }
        assert!(FormatterKind::parse("com.example.Mine").is_err());
        assert_eq!(
            Deserializer::parse(
                "x",
                "org.apache.kafka.common.serialization.UUIDDeserializer"
            )
            .unwrap(),
            Deserializer::Uuid
        );
        assert!(Deserializer::parse("x", "StringDeserializer").is_err());
        let r = record(None, Some(b"v"));
        assert_eq!(logged(&r), "CreateTime:99,key:nullvalue:v");
    }
}
