//! `cargo run -p xtask -- generate [--specs DIR]`: regenerates `src/protocol/{messages,
//! coordinator,metadata}` from Kafka's JSON specs (default `../shared/kafka-protocol-4.4`).
//! `cargo run -p xtask -- check [--specs DIR]`: exits non-zero when the committed code is stale.
//! `cargo run -p xtask -- capture --port P --out DIR`: records real clients' request frames.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut specs = repo.join("../shared/kafka-protocol-4.4");
    let mut command = None;
    let mut port = 0u16;
    let mut out = repo.join("tests/fixtures/captured");
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--specs" => {
                let Some(dir) = args.get(i + 1) else {
                    eprintln!("error: --specs needs a directory");
                    return ExitCode::from(2);
                };
                specs = PathBuf::from(dir);
                i += 1;
            }
            "--port" | "--out" => {
                let Some(value) = args.get(i + 1) else {
                    eprintln!("error: {} needs a value", args[i]);
                    return ExitCode::from(2);
                };
                if args[i] == "--port" {
                    match value.parse() {
                        Ok(p) => port = p,
                        Err(_) => {
                            eprintln!("error: --port {value:?} is not a port number");
                            return ExitCode::from(2);
                        }
                    }
                } else {
                    out = PathBuf::from(value);
                }
                i += 1;
            }
            "generate" | "check" | "capture" => command = Some(args[i].clone()),
            other => {
                eprintln!(
                    "error: unknown argument {other:?}; usage: xtask generate|check [--specs DIR]"
                );
                return ExitCode::from(2);
            }
        }
        i += 1;
    }
    let result = match command.as_deref() {
        Some("generate") => xtask::write_all(&specs, &repo).map(|files| {
            println!("wrote {} files from {}", files.len(), specs.display());
        }),
        Some("check") => xtask::stale_files(&specs, &repo).and_then(|stale| {
            if stale.is_empty() {
                println!("generated code is up to date");
                Ok(())
            } else {
                Err(format!("stale generated files: {stale:?}"))
            }
        }),
        Some("capture") => xtask::capture::run(port, out),
        _ => Err(
            "usage: xtask generate|check [--specs DIR] | capture --port P --out DIR".to_string(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
