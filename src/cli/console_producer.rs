//! `kfk console-producer` (kafka-console-producer): reads stdin line by line and produces
//! each line as a record, with Kafka's flags, effective defaults (linger 1000 ms, request
//! timeout 1500 ms, retries 3, acks -1) and precedence (`--producer.config` file <
//! `--producer-property` < explicit flags). Streams in bounded memory; at EOF waits for
//! every record. Unlike Kafka's tool, any failed record is reported on stderr with its line
//! number and the exit code is non-zero.

use super::CliError;
use crate::client::producer::{DeliveryFuture, Producer, ProducerRecord};
use crate::client::{read_properties_file, Properties};
use bytes::Bytes;
use clap::Args;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

#[derive(Args, Debug)]
#[command(
    after_help = "Unlike Kafka's tool, a record that fails is reported on stderr with its line number and the broker's error, and the exit code is then non-zero.\n\nExamples:\n  seq 1000 | kfk console-producer --bootstrap-server localhost:9092 --topic test\n  printf 'k1\\tv1\\n' | kfk console-producer --broker-list localhost:9092 --topic test --property parse.key=true"
)]
pub struct ConsoleProducerArgs {
    /// The broker(s) to connect to, host:port[,host:port...].
    #[arg(long, value_name = "SERVERS", required_unless_present = "broker_list")]
    pub bootstrap_server: Option<String>,
    /// Deprecated alias of --bootstrap-server.
    #[arg(long, value_name = "SERVERS", hide_short_help = true)]
    pub broker_list: Option<String>,
    /// The topic to produce to.
    #[arg(long)]
    pub topic: String,
    /// Send each record synchronously, waiting for its acknowledgement.
    #[arg(long)]
    pub sync: bool,
    /// Compression: none, gzip, snappy, lz4 or zstd (gzip when given without a value).
    #[arg(long, value_name = "CODEC", num_args = 0..=1, default_missing_value = "gzip")]
    pub compression_codec: Option<String>,
    /// Bytes per batch (batch.size). Default 16384.
    #[arg(long, value_name = "BYTES")]
    pub batch_size: Option<String>,
    /// linger.ms: how long to wait to fill a batch. Default 1000.
    #[arg(long, value_name = "MS")]
    pub timeout: Option<String>,
    /// acks: -1 (all), 0 or 1. Default -1.
    #[arg(long, value_name = "ACKS", allow_hyphen_values = true)]
    pub request_required_acks: Option<String>,
    /// request.timeout.ms. Default 1500.
    #[arg(long, value_name = "MS")]
    pub request_timeout_ms: Option<String>,
    /// retries. Default 3.
    #[arg(long, value_name = "N")]
    pub message_send_max_retries: Option<String>,
    /// retry.backoff.ms. Default 100.
    #[arg(long, value_name = "MS")]
    pub retry_backoff_ms: Option<String>,
    /// max.block.ms: how long a full buffer may block. Default 60000.
    #[arg(long, value_name = "MS")]
    pub max_block_ms: Option<String>,
    /// buffer.memory. Default 33554432.
    #[arg(long, value_name = "BYTES")]
    pub max_memory_bytes: Option<String>,
    /// metadata.max.age.ms. Default 300000.
    #[arg(long, value_name = "MS")]
    pub metadata_expiry_ms: Option<String>,
    /// A producer property KEY=VALUE (repeatable; --producer-property is Kafka's older name).
    #[arg(
        long = "command-property",
        visible_alias = "producer-property",
        value_name = "KEY=VALUE"
    )]
    pub producer_property: Vec<String>,
    /// A .properties file of producer properties (--producer.config is Kafka's older name).
    #[arg(
        long = "command-config",
        visible_alias = "producer.config",
        value_name = "FILE"
    )]
    pub producer_config: Option<PathBuf>,
    /// A line-reader property KEY=VALUE (repeatable): parse.key, key.separator,
    /// parse.headers, headers.delimiter, headers.separator, headers.key.separator,
    /// ignore.error, null.marker.
    /// (--property is Kafka's older name.)
    #[arg(
        long = "reader-property",
        visible_alias = "property",
        value_name = "KEY=VALUE"
    )]
    pub property: Vec<String>,
}

fn key_value(flag: &str, text: &str) -> Result<(String, String), CliError> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| CliError::Usage(format!("{flag} {text:?} is not of the form KEY=VALUE")))
}

/// Producer properties with Kafka's precedence and the console tool's effective defaults.
pub fn producer_properties(args: &ConsoleProducerArgs) -> Result<Properties, CliError> {
    let mut props = Properties(match &args.producer_config {
        Some(f) => read_properties_file(f)
            .map_err(|e| CliError::Usage(format!("--producer.config: {e}")))?,
        None => BTreeMap::new(),
    });
    for p in &args.producer_property {
        let (k, v) = key_value("--producer-property", p)?;
        props.set(&k, v);
    }
    let servers = args
        .bootstrap_server
        .clone()
        .or_else(|| args.broker_list.clone())
        .unwrap_or_default();
    props.set("bootstrap.servers", servers);
    if props.get("client.id").is_none() {
        props.set("client.id", "console-producer");
    }
    // Explicit flags win; their defaults apply only where nothing else set the key.
    let merge = |props: &mut Properties, key: &str, flag: &Option<String>, default: &str| match flag
    {
        Some(v) => props.set(key, v.clone()),
        None if props.get(key).is_none() => props.set(key, default),
        None => {}
    };
    merge(
        &mut props,
        "compression.type",
        &args.compression_codec,
        "none",
    );
    merge(&mut props, "batch.size", &args.batch_size, "16384");
    merge(&mut props, "linger.ms", &args.timeout, "1000");
    merge(&mut props, "acks", &args.request_required_acks, "-1");
    merge(
        &mut props,
        "request.timeout.ms",
        &args.request_timeout_ms,
        "1500",
    );
    merge(&mut props, "retries", &args.message_send_max_retries, "3");
    merge(
        &mut props,
        "retry.backoff.ms",
        &args.retry_backoff_ms,
        "100",
    );
    merge(&mut props, "max.block.ms", &args.max_block_ms, "60000");
    merge(
        &mut props,
        "buffer.memory",
        &args.max_memory_bytes,
        "33554432",
    );
    merge(
        &mut props,
        "metadata.max.age.ms",
        &args.metadata_expiry_ms,
        "300000",
    );
    Ok(props)
}

/// `(key, value, headers)` of one input line.
pub type ParsedLine = (Option<Bytes>, Option<Bytes>, Vec<(String, Option<Bytes>)>);

/// How lines become records (Kafka's `LineMessageReader` properties).
#[derive(Debug, Clone)]
pub struct LineReader {
    pub parse_key: bool,
    pub key_separator: String,
    pub parse_headers: bool,
    pub headers_delimiter: String,
    pub headers_separator: String,
    pub headers_key_separator: String,
    pub ignore_error: bool,
    pub null_marker: Option<String>,
}

impl LineReader {
    pub fn from_properties(pairs: &[String]) -> Result<LineReader, CliError> {
        let mut r = LineReader {
            parse_key: false,
            key_separator: "\t".into(),
            parse_headers: false,
            headers_delimiter: "\t".into(),
            headers_separator: ",".into(),
            headers_key_separator: ":".into(),
            ignore_error: false,
            null_marker: None,
        };
        let flag = |v: &str, k: &str| -> Result<bool, CliError> {
            match v.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(CliError::Usage(format!(
                    "--property {k}={other}: expected true or false"
                ))),
            }
        };
        for p in pairs {
            let (k, v) = key_value("--property", p)?;
            match k.as_str() {
                "parse.key" => r.parse_key = flag(&v, &k)?,
                "key.separator" => r.key_separator = v,
                "parse.headers" => r.parse_headers = flag(&v, &k)?,
                "headers.delimiter" => r.headers_delimiter = v,
                "headers.separator" => r.headers_separator = v,
                "headers.key.separator" => r.headers_key_separator = v,
                "ignore.error" => r.ignore_error = flag(&v, &k)?,
                "null.marker" => r.null_marker = Some(v),
                other => return Err(CliError::Usage(format!("--property {other}: unknown line-reader property (known: parse.key, key.separator, parse.headers, headers.delimiter, headers.separator, headers.key.separator, ignore.error, null.marker)"))),
            }
        }
        if r.key_separator.is_empty() || r.headers_delimiter.is_empty() {
            return Err(CliError::Usage(
                "--property: separators must not be empty".into(),
            ));
        }
        Ok(r)
    }

    fn nullable(&self, s: &[u8]) -> Option<Bytes> {
        match &self.null_marker {
            Some(m) if m.as_bytes() == s => None,
            _ => Some(Bytes::copy_from_slice(s)),
        }
    }

    /// Turns line `n` into `(key, value, headers)`. Lines are bytes: a line that is not
    /// UTF-8 is sent unchanged (header keys, which Kafka keeps as strings, are read lossily).
    pub fn parse(&self, line: &[u8], n: u64) -> Result<ParsedLine, String> {
        let shown = || String::from_utf8_lossy(line).into_owned();
        let mut rest = line;
        let mut headers = Vec::new();
        if self.parse_headers {
            match split_once(rest, self.headers_delimiter.as_bytes()) {
                Some((h, r)) => {
                    for pair in
                        split_all(h, self.headers_separator.as_bytes()).filter(|p| !p.is_empty())
                    {
                        let key = |k: &[u8]| String::from_utf8_lossy(k).into_owned();
                        match split_once(pair, self.headers_key_separator.as_bytes()) {
                            Some((k, v)) => headers.push((key(k), self.nullable(v))),
                            None if self.ignore_error => headers.push((key(pair), None)),
                            None => {
                                return Err(format!(
                                    "No header key separator found in pair '{}' on line number {n}",
                                    String::from_utf8_lossy(pair)
                                ))
                            }
                        }
                    }
                    rest = r;
                }
                None if self.ignore_error => {}
                None => {
                    return Err(format!(
                        "No headers delimiter found on line number {n}: '{}'",
                        shown()
                    ))
                }
            }
        }
        if self.parse_key {
            return match split_once(rest, self.key_separator.as_bytes()) {
                Some((k, v)) => Ok((self.nullable(k), self.nullable(v), headers)),
                None if self.ignore_error => Ok((None, self.nullable(rest), headers)),
                None => Err(format!(
                    "No key separator found on line number {n}: '{}'",
                    shown()
                )),
            };
        }
        Ok((None, self.nullable(rest), headers))
    }
}

/// Where `needle` (not empty) first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [one] => hay.iter().position(|b| b == one),
        _ => hay.windows(needle.len()).position(|w| w == needle),
    }
}

fn split_once<'a>(hay: &'a [u8], needle: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let at = find(hay, needle)?;
    Some((&hay[..at], &hay[at + needle.len()..]))
}

fn split_all<'a>(mut hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        match split_once(hay, needle) {
            Some((part, rest)) => {
                hay = rest;
                Some(part)
            }
            None => {
                done = true;
                Some(hay)
            }
        }
    })
}

pub fn run(args: &ConsoleProducerArgs) -> Result<(), CliError> {
    super::warn_deprecated_flags(
        "Warning: ",
        &[
            ("--producer-property", "--command-property"),
            ("--producer.config", "--command-config"),
            ("--property", "--reader-property"),
        ],
    );
    let props = producer_properties(args)?;
    let reader = LineReader::from_properties(&args.property)?;
    if let Err(e) = crate::client::producer::ProducerConfig::from_properties(&props) {
        return Err(CliError::Usage(e.to_string()));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let result = runtime.block_on(produce_stdin(args, props, reader));
    // Not waiting for the blocking thread that reads stdin: after a signal it may wait for
    // input forever.
    runtime.shutdown_background();
    result
}

async fn produce_stdin(
    args: &ConsoleProducerArgs,
    props: Properties,
    reader: LineReader,
) -> Result<(), CliError> {
    let mut interrupt = super::signals::Interrupt::install(
        "console-producer",
        "sending the records read so far".into(),
    )
    .map_err(|e| CliError::Failed(format!("installing signal handlers: {e}")))?;
    let producer = tokio::select! {
        p = Producer::new(&props) => p.map_err(|e| CliError::Failed(e.to_string()))?,
        // Interrupted before anything was read: nothing to send.
        _ = interrupt.received() => return Ok(()),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(u64, DeliveryFuture)>(100_000);
    let collector = tokio::spawn(async move {
        let mut failed = 0u64;
        while let Some((n, delivery)) = rx.recv().await {
            let outcome = delivery
                .await
                .unwrap_or(Err(crate::client::ClientError::Closed));
            if let Err(e) = outcome {
                failed += 1;
                eprintln!("kfk console-producer: line {n}: {e}");
            }
        }
        failed
    });
    let interactive = std::io::stdin().is_terminal();
    let mut input = tokio::io::BufReader::with_capacity(256 << 10, tokio::io::stdin());
    let mut buf: Vec<u8> = Vec::new();
    let mut n = 0u64;
    // Records that failed before they were queued (too large for max.request.size, ...).
    let mut refused = 0u64;
    let mut failure: Option<CliError> = None;
    loop {
        if interactive {
            let mut out = tokio::io::stdout();
            let _ = out.write_all(b">").await;
            let _ = out.flush().await;
        }
        buf.clear();
        // A signal stops the reading; a line already read is still sent below (the send is
        // never cut short), then everything held is flushed, as Kafka's shutdown hook does.
        let read = tokio::select! {
            biased;
            _ = interrupt.received() => break,
            r = input.read_until(b'\n', &mut buf) => r,
        };
        match read {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                failure = Some(CliError::Failed(format!("reading stdin: {e}")));
                break;
            }
        }
        n += 1;
        tracing::debug!(line = n, "read");
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (key, value, headers) = match reader.parse(line, n) {
            Ok(parts) => parts,
            Err(e) => {
                failure = Some(CliError::Usage(e));
                break;
            }
        };
        let record = ProducerRecord {
            topic: args.topic.clone(),
            key,
            value,
            headers,
            ..Default::default()
        };
        match producer.send(record).await {
            Ok(delivery) if args.sync => {
                if let Err(e) = delivery
                    .await
                    .unwrap_or(Err(crate::client::ClientError::Closed))
                {
                    eprintln!("kfk console-producer: line {n}: {e}");
                    refused += 1;
                }
            }
            Ok(delivery) => {
                if tx.send((n, delivery)).await.is_err() {
                    break;
                }
            }
            // This record alone fails (as the Java producer's send future would); the next
            // lines go on.
            Err(e @ crate::client::ClientError::Broker(..)) => {
                eprintln!("kfk console-producer: line {n}: {e}");
                refused += 1;
            }
            Err(e) => {
                failure = Some(CliError::Failed(format!("line {n}: {e}")));
                break;
            }
        }
    }
    producer.close().await;
    drop(tx);
    let failed = collector.await.unwrap_or(1) + refused;
    let summary = format!("{failed} of {n} records were not acknowledged");
    match failure {
        Some(f) => {
            if failed > 0 {
                eprintln!("kfk console-producer: {summary}");
            }
            Err(f)
        }
        None if failed > 0 => Err(CliError::Failed(summary)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_keys_headers_and_null_markers_like_kafkas_line_reader() {
        let r = LineReader::from_properties(&[
            "parse.key=true".into(),
            "key.separator=:".into(),
            "parse.headers=true".into(),
            "null.marker=NULL".into(),
        ])
        .unwrap();
        let (k, v, h) = r.parse(b"h1:a,h2:NULL\tkey:value", 1).unwrap();
        assert_eq!(k.as_deref(), Some(&b"key"[..]));
        assert_eq!(v.as_deref(), Some(&b"value"[..]));
        assert_eq!(
            h,
            vec![
                ("h1".to_string(), Some(Bytes::from_static(b"a"))),
                ("h2".to_string(), None)
            ]
        );
        let (k, _, _) = r.parse(b"\tNULL:v", 2).unwrap();
        assert_eq!(k, None);
        assert_eq!(
            r.parse(b"no-delimiter", 3).unwrap_err(),
            "No headers delimiter found on line number 3: 'no-delimiter'"
        );
        let r = LineReader::from_properties(&["parse.key=true".into()]).unwrap();
        assert_eq!(
            r.parse(b"novalue", 7).unwrap_err(),
            "No key separator found on line number 7: 'novalue'"
        );
        assert!(LineReader::from_properties(&["bogus=1".into()]).is_err());
    }

    #[test]
    fn lines_that_are_not_utf8_are_sent_unchanged() {
        let r = LineReader::from_properties(&["parse.key=true".into()]).unwrap();
        let (k, v, _) = r.parse(b"\xff\xfekey\t\x00\x80value\xc3", 1).unwrap();
        assert_eq!(k.as_deref(), Some(&b"\xff\xfekey"[..]));
        assert_eq!(v.as_deref(), Some(&b"\x00\x80value\xc3"[..]));
    }
}
