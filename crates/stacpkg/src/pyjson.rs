//! JSON text exactly as Python's `json.dumps` writes it with its defaults, which users of the
//! original compare byte for byte (the terminal preview, `asset-lock validate` lines).

use std::fmt::Write;

/// Append `text` as a JSON string: ASCII only, `\uXXXX` escapes (surrogate pairs above the BMP).
pub(crate) fn string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn non_ascii_and_controls_are_escaped_like_python() {
        let mut out = String::new();
        super::string("µ\u{1}😀\\\"", &mut out);
        assert_eq!(out, r#""\u00b5\u0001\ud83d\ude00\\\"""#);
    }
}
