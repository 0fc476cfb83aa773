//! Layer titles and ZIP member names: package-relative paths that must stay inside the package.

use crate::error::{Error, Result};

/// A package-relative path made safe: no absolute path, no backslash, no `..`, no control
/// characters; empty and `.` components are dropped (`a/./b` → `a/b`), and nothing may be left
/// empty.
pub(super) fn safe_relative_path(value: &str) -> Result<String> {
    if value.chars().any(char::is_control) {
        // Shown escaped: the raw characters could rewrite the user's terminal.
        return Err(Error::UnsafePath {
            path: value.escape_default().to_string(),
            control: true,
        });
    }
    let unsafe_path = || Error::UnsafePath {
        path: value.to_string(),
        control: false,
    };
    if value.is_empty() || value.starts_with('/') || value.contains('\\') {
        return Err(unsafe_path());
    }
    let parts: Vec<&str> = value
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return Err(unsafe_path());
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_refused_and_harmless_dots_dropped() {
        for bad in [
            "",
            "/etc/passwd",
            "../escaped.txt",
            "a/../../b",
            "a\\b",
            ".",
            "./",
            "a/..",
            "a\u{1b}[2J",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad:?}");
        }
        assert_eq!(safe_relative_path("a/./b.txt").unwrap(), "a/b.txt");
        assert_eq!(safe_relative_path("docs//x").unwrap(), "docs/x");
        assert_eq!(
            safe_relative_path("../escaped.txt")
                .unwrap_err()
                .to_string(),
            "unsafe package path: ../escaped.txt"
        );
        assert_eq!(
            safe_relative_path("x\u{1b}y").unwrap_err().to_string(),
            "unsafe package path (control characters): x\\u{1b}y"
        );
    }
}
