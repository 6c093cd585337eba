//! How the binary is built (issue 11, items 15 and 16): a stripped release profile with a
//! separate one for profiling, and no unmaintained crates in the lock file. Checked on the
//! manifest and lock file, not by building.

fn manifest() -> toml::Table {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    text.parse().unwrap()
}

#[test]
fn the_release_profile_is_stripped_and_profiling_has_its_own_profile() {
    let m = manifest();
    let profiles = m["profile"].as_table().expect("[profile] tables");
    let release = profiles["release"].as_table().expect("[profile.release]");
    assert_eq!(release.get("strip"), Some(&toml::Value::Boolean(true)));
    assert!(
        release
            .get("debug")
            .is_none_or(|d| matches!(d, toml::Value::Integer(0) | toml::Value::Boolean(false))),
        "release keeps debug info: {release:?}"
    );
    let profiling = profiles["profiling"]
        .as_table()
        .expect("[profile.profiling]");
    assert_eq!(profiling["inherits"].as_str(), Some("release"));
    assert!(matches!(
        profiling["debug"],
        toml::Value::Integer(1 | 2) | toml::Value::Boolean(true)
    ));
}

#[test]
fn the_lock_file_has_no_unmaintained_number_prefix() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    assert!(
        !lock.contains("name = \"number_prefix\""),
        "number_prefix (unmaintained) is back in Cargo.lock"
    );
}
