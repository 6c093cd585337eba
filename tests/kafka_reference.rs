//! The reference itself (issue 13, item 1): every main class in `scripts/kafka-reference.sh`'s
//! table of the pinned release exists and answers `--help`, so a class that moved between
//! releases fails here rather than deep inside another test.

mod common;

use common::{require_kafka_reference, run_with_input};
use std::time::Duration;

#[test]
fn every_tool_in_the_table_is_a_main_class_of_the_pinned_release() {
    let Some(script) =
        require_kafka_reference("every_tool_in_the_table_is_a_main_class_of_the_pinned_release")
    else {
        return;
    };
    let (table, _, code) = run_with_input(&script, &["tools"], b"", Duration::from_secs(30));
    assert_eq!(code, 0);
    let table = String::from_utf8(table).unwrap();
    let tools: Vec<(&str, &str)> = table.lines().filter_map(|l| l.split_once(' ')).collect();
    assert!(tools.len() >= 18, "{table}");
    let mut broken = Vec::new();
    for (name, class) in &tools {
        let (out, err, _) = run_with_input(
            &script,
            &["tool", name, "--help"],
            b"",
            Duration::from_secs(120),
        );
        let text = format!("{}{err}", String::from_utf8_lossy(&out));
        let missing = text.contains("Could not find or load main class")
            || text.contains("ClassNotFoundException")
            || text.contains("NoClassDefFoundError");
        if missing || !text.to_lowercase().contains("usage") {
            broken.push(format!(
                "{name} ({class}): {}",
                text.lines().take(3).collect::<Vec<_>>().join(" | ")
            ));
        }
    }
    assert!(
        broken.is_empty(),
        "tools without a working main class:\n{}",
        broken.join("\n")
    );
}
