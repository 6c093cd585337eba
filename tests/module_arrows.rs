//! The arrows between modules (`../shared/ARCHITECTURE.md`, "Modules and who may use whom"):
//! reads every `crate::` path in `src/` — in `use` lines, grouped imports and inline paths,
//! and `super::` chains that climb to the crate root — and fails when a module refers to one
//! the table does not allow.

use std::path::{Path, PathBuf};

/// Leaves every module may use: Java properties, limits, time and id helpers.
const LEAVES: &[&str] = &["properties", "limits", "time", "ids"];

/// Who may use whom, besides itself and the leaves. An entry `a::b` allows only paths under
/// `a::b`; an entry `a` allows all of `a`.
fn allowed(module: &str, file: &str) -> Option<Vec<&'static str>> {
    Some(match module {
        "protocol" | "partitioner" | "properties" | "time" | "ids" => vec![],
        // `limits` may name protocol constants.
        "limits" => vec!["protocol"],
        "log" => vec!["protocol"],
        "metadata" => vec!["protocol", "log"],
        "net" => vec!["protocol"],
        "replication" => vec!["log", "protocol", "metadata", "net"],
        "client" => vec!["protocol", "partitioner", "net"],
        "group" => vec!["protocol"],
        "broker" => vec![
            "protocol",
            "partitioner",
            "log",
            "metadata",
            "replication",
            "group",
            "net",
        ],
        // The CLI starts a broker (`broker::run` with its `BrokerConfig`) and reads segment
        // files only in `dump-log`.
        "cli" if file == "cli/dump_log.rs" => {
            vec!["broker::run", "broker::config", "client", "protocol", "log"]
        }
        // `kfk storage format` and `kfk dev cluster` prepare data dirs as a broker's start-up
        // does (`broker::storage`).
        "cli" => vec![
            "broker::run",
            "broker::config",
            "broker::storage",
            "client",
            "protocol",
        ],
        _ => return None,
    })
}

#[derive(Debug, PartialEq)]
struct Violation {
    file: String,
    line: usize,
    path: String,
}

/// The module path of a source file relative to `src/`: `broker/handlers/fetch.rs` is
/// `broker::handlers::fetch`, `broker/mod.rs` is `broker`.
fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Source without comments and string literals, so a doc comment or a message that names a
/// path is not taken for a use of it. Line breaks are kept for line numbers.
fn strip(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let chars: Vec<char> = source.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                if chars[i] == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 2;
        } else if c == 'r' && matches!(chars.get(i + 1), Some('"') | Some('#')) && {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            !prev.is_some_and(|p| p.is_alphanumeric() || p == '_')
        } {
            // Raw string r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some('\n') => out.push('\n'),
                    _ => {}
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if chars.get(i) == Some(&'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '"') or a lifetime ('a): skip literals only.
            if chars.get(i + 1) == Some(&'\\') {
                let close = (i + 2..chars.len().min(i + 12)).find(|&k| chars[k] == '\'');
                i = close.map_or(i + 1, |k| k + 1);
                out.push_str("' '");
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Expands the path that starts just after `crate::` (or a `super::` chain) into the full
/// paths it names: `log::{Log, index::Entry}` gives `log::Log` and `log::index::Entry`.
fn expand(text: &str, prefix: &str, out: &mut Vec<String>) {
    let mut path = String::from(prefix);
    let mut rest = text.trim_start();
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            expand_group(group, &path, out);
            return;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let segment = &rest[..end];
        if !segment.is_empty() {
            if !path.is_empty() {
                path.push_str("::");
            }
            path.push_str(segment);
        }
        match rest[end..].trim_start().strip_prefix("::") {
            Some(after) if !segment.is_empty() => rest = after.trim_start(),
            _ => {
                out.push(path);
                return;
            }
        }
    }
}

/// The items of a `{...}` group (the text after `{`), split at top-level commas.
fn expand_group(group: &str, prefix: &str, out: &mut Vec<String>) {
    let mut depth = 0;
    let mut item = String::new();
    for ch in group.chars() {
        match ch {
            '}' | ',' if depth == 0 => {
                if !item.trim().is_empty() {
                    expand(&item, prefix, out);
                }
                if ch == '}' {
                    return;
                }
                item.clear();
            }
            '{' => {
                depth += 1;
                item.push(ch);
            }
            '}' => {
                depth -= 1;
                item.push(ch);
            }
            _ => item.push(ch),
        }
    }
}

/// Every crate-level path one file names, with its line, resolved to start at the crate root
/// (`crate::log::Log`, or `super::super::log::Log` from `broker/handlers/x.rs`).
fn crate_paths(rel: &str, source: &str) -> Vec<(usize, String)> {
    let stripped = strip(source);
    let own = module_path(rel);
    let mut found = Vec::new();
    let line_of = |pos: usize| stripped[..pos].matches('\n').count() + 1;
    let boundary = |pos: usize| {
        pos == 0 || {
            let p = stripped.as_bytes()[pos - 1];
            !(p.is_ascii_alphanumeric() || p == b'_' || p == b':')
        }
    };
    for (pos, _) in stripped.match_indices("crate::") {
        if !boundary(pos) {
            continue;
        }
        let mut paths = Vec::new();
        expand(&stripped[pos + "crate::".len()..], "", &mut paths);
        found.extend(paths.into_iter().map(|p| (line_of(pos), p)));
    }
    for (pos, _) in stripped.match_indices("super::") {
        if !boundary(pos) {
            continue;
        }
        let mut rest = &stripped[pos..];
        let mut ups = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r.trim_start();
        }
        // `super` of a file's module: `broker/handlers/fetch.rs` is broker::handlers::fetch,
        // whose super is broker::handlers.
        if ups > own.len() {
            continue;
        }
        let base = &own[..own.len() - ups];
        let prefix = base.join("::");
        let mut paths = Vec::new();
        expand(rest, &prefix, &mut paths);
        found.extend(paths.into_iter().map(|p| (line_of(pos), p)));
    }
    found
}

fn check_file(rel: &str, source: &str) -> Vec<Violation> {
    let module = module_path(rel)[0].clone();
    let Some(allowed) = allowed(&module, rel) else {
        return vec![Violation {
            file: rel.to_string(),
            line: 0,
            path: format!("module `{module}` is not in the table"),
        }];
    };
    let mut violations = Vec::new();
    for (line, path) in crate_paths(rel, source) {
        let top = path.split("::").next().unwrap_or("");
        if top.is_empty() || top == module || LEAVES.contains(&top) || top == "self" {
            continue;
        }
        let ok = allowed
            .iter()
            .any(|a| path == *a || path.starts_with(&format!("{a}::")));
        if !ok {
            violations.push(Violation {
                file: rel.to_string(),
                line,
                path,
            });
        }
    }
    violations
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_what_the_architecture_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut paths_seen = 0;
    for file in &files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        // The binary and the crate root are not modules of the table.
        if rel == "main.rs" || rel == "lib.rs" {
            continue;
        }
        let source = std::fs::read_to_string(file).unwrap();
        paths_seen += crate_paths(&rel, &source).len();
        violations.extend(check_file(&rel, &source));
    }
    // The scan must have found the crate's paths, or it proves nothing.
    assert!(
        paths_seen > 500,
        "only {paths_seen} crate paths found in src/"
    );
    let report: Vec<String> = violations
        .iter()
        .map(|v| format!("src/{}:{}: {}", v.file, v.line, v.path))
        .collect();
    assert!(
        report.is_empty(),
        "paths ARCHITECTURE.md does not allow:\n{}",
        report.join("\n")
    );
}

#[test]
fn a_forbidden_path_is_found_in_every_form() {
    let src = r#"
use crate::protocol::ErrorCode;
use crate::{client::producer::Producer, protocol::ApiKey};
use crate::client::{
    consumer::Consumer,
    admin::{Admin, AdminError},
};
fn f() {
    let _ = crate::broker::run;
    let _ = super::super::super::client::cluster::Cluster::new();
    // crate::client in a comment is no use
    let _ = "crate::client in a string is no use";
}
"#;
    let paths: Vec<String> = check_file("log/segment/inner.rs", src)
        .into_iter()
        .map(|v| format!("{}:{}", v.line, v.path))
        .collect();
    assert_eq!(
        paths,
        [
            "3:client::producer::Producer",
            "4:client::consumer::Consumer",
            "4:client::admin::Admin",
            "4:client::admin::AdminError",
            "9:broker::run",
            "10:client::cluster::Cluster::new",
        ]
    );
    // The same lines are fine from the CLI except the broker's internals.
    let from_cli = check_file(
        "cli/x.rs",
        "use crate::broker::handlers::fetch;\nuse crate::broker::run;\nuse crate::client::admin::Admin;\n",
    );
    assert_eq!(
        from_cli,
        [Violation {
            file: "cli/x.rs".into(),
            line: 1,
            path: "broker::handlers::fetch".into()
        }]
    );
    // Replication reaches other brokers through `net`, never through the client.
    let from_replication = check_file(
        "replication/fetcher.rs",
        "use crate::net::Connection;\nuse crate::client::connection::Connection;\n",
    );
    assert_eq!(from_replication.len(), 1);
    assert_eq!(from_replication[0].path, "client::connection::Connection");
    // `net` is a leaf over `protocol`.
    assert_eq!(
        check_file("net/connection.rs", "use crate::client::ClientConfig;").len(),
        1
    );
    // `log` in the CLI only for dump-log.
    assert_eq!(check_file("cli/topics.rs", "use crate::log::Log;").len(), 1);
    assert!(check_file("cli/dump_log.rs", "use crate::log::Log;").is_empty());
}

/// What a handler may not do (ARCHITECTURE.md: handlers decode, authorize, call one service
/// and encode): name a `log::` item, or read or write files.
const FILE_IO: &[&str] = &[
    "std::fs",
    "tokio::fs",
    "File::open",
    "File::create",
    "OpenOptions",
    ".read_bytes(",
    ".read_at(",
    ".write_at(",
    "sendfile",
];

fn check_handler(rel: &str, source: &str) -> Vec<String> {
    let mut found: Vec<String> = crate_paths(rel, source)
        .into_iter()
        .filter(|(_, p)| p == "log" || p.starts_with("log::"))
        .map(|(line, p)| format!("src/{rel}:{line}: {p}"))
        .collect();
    let stripped = strip(source);
    for (i, line) in stripped.lines().enumerate() {
        for io in FILE_IO.iter().filter(|io| line.contains(*io)) {
            found.push(format!("src/{rel}:{}: file I/O ({io})", i + 1));
        }
    }
    found
}

/// The log's internals: a partition's log, its segments and indexes.
const LOG_INTERNALS: &[&str] = &[
    "log::Log",
    "log::SharedLog",
    "log::unified_log",
    "log::segment",
    "log::index",
];

/// Only `replication/` reaches a partition's log (and `log/` itself, `metadata/` for the
/// metadata log, and `kfk dump-log`, which reads segment files).
fn check_log_internals(rel: &str, source: &str) -> Vec<String> {
    let exempt = ["log/", "replication/", "metadata/"];
    if exempt.iter().any(|e| rel.starts_with(e)) || rel == "cli/dump_log.rs" {
        return Vec::new();
    }
    crate_paths(rel, source)
        .into_iter()
        .filter(|(_, p)| {
            LOG_INTERNALS
                .iter()
                .any(|i| p == i || p.starts_with(&format!("{i}::")))
        })
        .map(|(line, p)| format!("src/{rel}:{line}: {p}"))
        .collect()
}

fn src_files() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let rel = f
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(&f).unwrap())
        })
        .collect()
}

#[test]
fn handlers_name_no_log_item_and_do_no_file_io() {
    let handlers: Vec<(String, String)> = src_files()
        .into_iter()
        .filter(|(rel, _)| rel.starts_with("broker/handlers/"))
        .collect();
    assert!(handlers.len() >= 8, "{} handler files", handlers.len());
    let found: Vec<String> = handlers
        .iter()
        .flat_map(|(rel, source)| check_handler(rel, source))
        .collect();
    assert!(
        found.is_empty(),
        "handlers reach the log:\n{}",
        found.join("\n")
    );
    // The rule finds each form.
    let bad = "use crate::log::segment::FileRegion;\nfn f() { let _ = std::fs::read(\"x\"); region.read_bytes(); }\n";
    assert_eq!(check_handler("broker/handlers/fetch.rs", bad).len(), 3);
}

#[test]
fn only_replication_reaches_a_partitions_log() {
    let found: Vec<String> = src_files()
        .iter()
        .flat_map(|(rel, source)| check_log_internals(rel, source))
        .collect();
    assert!(
        found.is_empty(),
        "a partition's log reached outside replication/:\n{}",
        found.join("\n")
    );
    let bad = "use crate::log::{SharedLog, LogConfig};\nfn f() { crate::log::segment::LogSegment::open(); }\n";
    assert_eq!(check_log_internals("broker/startup.rs", bad).len(), 2);
    assert!(check_log_internals("replication/partition.rs", bad).is_empty());
}
