//! Java `.properties` text (`server.properties`, `--producer.config` files), parsed by the
//! `java-properties` crate as Java's `Properties.load` reads it: `key=value`, `key: value` or
//! `key value`, `#`/`!` comments, `\` line continuations, escapes such as `\=`, `\:` and
//! `\uXXXX`.
//!
//! Must not: know what the keys mean. Called by: the broker's config, the client tools.

use std::collections::BTreeMap;
use std::fmt;

/// Why a properties text could not be read: the line and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertiesError(pub String);

impl fmt::Display for PropertiesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PropertiesError {}

/// The key/value pairs of a properties text (a later key wins, as in Java).
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, PropertiesError> {
    let map = java_properties::read(text.as_bytes()).map_err(|e| {
        let line = e
            .line_number()
            .map_or(String::new(), |n| format!("line {n}: "));
        PropertiesError(format!("{line}{e}"))
    })?;
    Ok(map.into_iter().collect())
}

/// Reads and parses a properties file.
pub fn read_file(path: &std::path::Path) -> Result<BTreeMap<String, String>, PropertiesError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| PropertiesError(format!("cannot read {}: {e}", path.display())))?;
    parse(&text).map_err(|e| PropertiesError(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn javas_escapes_continuations_and_separators_are_understood() {
        let text = "# comment\n! also a comment\na=1\nb : 2\nc 3\nkey\\=with\\:colon=v\\=x\nunicode=caf\\u00e9\nlong = first, \\\n    second\nempty=\n";
        let p = parse(text).unwrap();
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], "2");
        assert_eq!(p["c"], "3");
        assert_eq!(p["key=with:colon"], "v=x");
        assert_eq!(p["unicode"], "café");
        assert_eq!(p["long"], "first, second");
        assert_eq!(p["empty"], "");
    }

    #[test]
    fn a_broken_escape_is_an_error_naming_the_line() {
        let err = parse("ok=1\nbad=\\u12\n").unwrap_err();
        assert!(err.0.contains("line 2"), "{err}");
    }
}
