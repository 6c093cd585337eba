//! Other ecosystems' clients against a kfk broker (issue 13, item 5): franz-go with kadm (Go),
//! KafkaJS (Node) and aiokafka (Python). Each smoke program under `tests/interop/` creates a
//! topic, produces keyed records with headers, consumes them all in a group, commits, and reads
//! the group back through the admin API; it prints `OK ...` lines and fails loudly otherwise.
//! The programs are built by `scripts/interop-deps.sh` (run by `.ci/run`) at the versions of
//! `tests/interop/versions.env`.

mod common;

use common::{require_python_module, require_tool, run_with_input, TestBroker};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn version(name: &str) -> String {
    let pins = std::fs::read_to_string(root().join("tests/interop/versions.env")).unwrap();
    pins.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} is not pinned"))
        .trim()
        .to_string()
}

/// A built artifact of `scripts/interop-deps.sh`, or `None` after `SKIPPED`; a failure with
/// `KFK_REQUIRE_INTEROP=1`.
fn built(test: &str, path: PathBuf) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    if std::env::var("KFK_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!(
            "{test}: needs {} (scripts/interop-deps.sh; KFK_REQUIRE_INTEROP=1)",
            path.display()
        );
    }
    println!("SKIPPED {test}: needs scripts/interop-deps.sh");
    None
}

/// Runs a smoke program against a fresh broker and checks its report.
fn smoke(program: &Path, args: &[&str], env_node_path: Option<&Path>) {
    let broker = TestBroker::start();
    let bootstrap = broker.bootstrap();
    let mut all: Vec<&str> = args.to_vec();
    all.push(&bootstrap);
    all.push("smoke-topic");
    let (out, err, code) = if let Some(node_path) = env_node_path {
        // NODE_PATH for KafkaJS: run through env(1) so run_with_input stays one helper.
        let np = format!("NODE_PATH={}", node_path.display());
        let mut with_env = vec![np.as_str(), program.to_str().unwrap()];
        with_env.extend_from_slice(&all);
        run_with_input(
            Path::new("/usr/bin/env"),
            &with_env,
            b"",
            Duration::from_secs(150),
        )
    } else {
        run_with_input(program, &all, b"", Duration::from_secs(150))
    };
    let out = String::from_utf8_lossy(&out);
    assert_eq!(code, 0, "{program:?} {args:?}:\n{out}\n{err}");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("OK ")).collect();
    assert_eq!(
        lines,
        [
            "OK created smoke-topic",
            "OK produced 200",
            lines.get(2).copied().unwrap_or("missing"),
            "OK committed 200",
            "OK described smoke-topic-group Empty",
        ],
        "{out}"
    );
    assert!(lines[2].starts_with("OK consumed 200"), "{out}");
}

#[test]
fn franz_go_with_kadm_produces_consumes_in_a_group_and_administers() {
    let test = "franz_go_with_kadm_produces_consumes_in_a_group_and_administers";
    let Some(program) = built(test, root().join("target/interop-go/franz-smoke")) else {
        return;
    };
    smoke(&program, &[], None);
}

#[test]
fn kafkajs_produces_consumes_in_a_group_and_administers() {
    let test = "kafkajs_produces_consumes_in_a_group_and_administers";
    let Some(node) = require_tool(test, "node") else {
        return;
    };
    let Some(modules) = built(
        test,
        root().join("target/interop-node/node_modules/kafkajs"),
    ) else {
        return;
    };
    let script = root().join("tests/interop/kafkajs/smoke.js");
    smoke(
        &node,
        &[script.to_str().unwrap()],
        Some(modules.parent().unwrap()),
    );
}

#[test]
fn aiokafka_produces_consumes_in_a_group_and_administers() {
    let test = "aiokafka_produces_consumes_in_a_group_and_administers";
    if !require_python_module(test, "aiokafka") {
        return;
    }
    let script = root().join("tests/interop/aiokafka_smoke.py");
    smoke(Path::new("python3"), &[script.to_str().unwrap()], None);
}

/// The Go module and the npm package pin what versions.env pins, so the one file is the truth.
#[test]
fn the_ecosystem_clients_build_at_the_pinned_versions() {
    let go_mod = std::fs::read_to_string(root().join("tests/interop/franz/go.mod")).unwrap();
    for (module, pin) in [
        ("github.com/twmb/franz-go ", "FRANZ_GO_VERSION"),
        (
            "github.com/twmb/franz-go/pkg/kadm ",
            "FRANZ_GO_KADM_VERSION",
        ),
    ] {
        let want = format!("{module}{}", version(pin));
        assert!(go_mod.contains(&want), "go.mod requires {want}");
    }
    let package =
        std::fs::read_to_string(root().join("tests/interop/kafkajs/package.json")).unwrap();
    let want = format!("\"kafkajs\": \"{}\"", version("KAFKAJS_VERSION"));
    assert!(package.contains(&want), "package.json: {want}");
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(
        ci.contains("aiokafka==$AIOKAFKA_VERSION"),
        ".ci/run pins aiokafka"
    );
    assert!(
        ci.contains("scripts/interop-deps.sh"),
        ".ci/run builds the clients"
    );
}
