//! Media types of package files, named as the Python original names them (ref §8): Parquet and
//! JSON by name, everything else by Python's `mimetypes.guess_type`, which starts from Python's
//! built-in table and lets the host's `mime.types` files override it. Following the same rules
//! keeps `inspect` output byte-compatible on the same host.

use std::collections::HashMap;
use std::path::Path;

use super::mime_table::DEFAULT_TYPES;

/// Parquet tables (`*.parquet`).
pub const PARQUET: &str = "application/vnd.apache.parquet";
/// `*.json` files.
pub const JSON: &str = "application/json";
/// Anything without a known type.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// The files Python's `mimetypes` reads after its built-in table, in its order (later wins).
pub const HOST_FILES: &[&str] = &[
    "/etc/mime.types",
    "/etc/httpd/mime.types",
    "/etc/httpd/conf/mime.types",
    "/etc/apache/mime.types",
    "/etc/apache2/mime.types",
    "/usr/local/etc/httpd/conf/mime.types",
    "/usr/local/lib/netscape/mime.types",
    "/usr/local/etc/httpd/conf/mime.types",
    "/usr/local/etc/mime.types",
];

/// Suffixes that stand for two (`.tgz` = `.tar.gz`), matched case-insensitively.
const SUFFIXES: &[(&str, &str)] = &[
    (".svgz", ".svg.gz"),
    (".tgz", ".tar.gz"),
    (".taz", ".tar.gz"),
    (".tz", ".tar.gz"),
    (".tbz2", ".tar.bz2"),
    (".txz", ".tar.xz"),
];

/// Compression suffixes, matched case-sensitively and looked through.
const ENCODINGS: &[&str] = &[".gz", ".Z", ".bz2", ".xz", ".br"];

/// An extension → media type table.
#[derive(Debug, Clone)]
pub struct MediaTypes {
    types: HashMap<String, String>,
}

impl MediaTypes {
    /// Python's built-in table only.
    pub fn builtin() -> Self {
        MediaTypes {
            types: DEFAULT_TYPES
                .iter()
                .map(|(ext, t)| (ext.to_string(), t.to_string()))
                .collect(),
        }
    }

    /// The built-in table with the host's `mime.types` files applied, as Python's module-level
    /// `mimetypes` sees it.
    pub fn host() -> Self {
        let mut table = Self::builtin();
        for file in HOST_FILES {
            // Python skips files that are missing or unreadable as a whole.
            if let Ok(text) = std::fs::read_to_string(file) {
                table.read_mime_types(&text);
            }
        }
        table
    }

    /// Apply one `mime.types` file: `type ext ext …` per line, `#` starts a comment word.
    pub fn read_mime_types(&mut self, text: &str) {
        for line in text.lines() {
            let mut words = line
                .split_whitespace()
                .take_while(|word| !word.starts_with('#'));
            let Some(media_type) = words.next() else {
                continue;
            };
            for ext in words {
                self.types.insert(format!(".{ext}"), media_type.to_string());
            }
        }
    }

    /// The media type of a package file named `name` (its last path component).
    pub fn of(&self, name: &str) -> String {
        if name.ends_with(".parquet") {
            return PARQUET.into();
        }
        if path_suffix(name) == ".json" {
            return JSON.into();
        }
        self.guess(name).unwrap_or(OCTET_STREAM).to_string()
    }

    /// The media type of a package file pushed as its own layer (ref §9.1: Parquet by name,
    /// then `mimetypes`, without `inspect`'s JSON rule).
    pub fn of_layer(&self, name: &str) -> String {
        if name.ends_with(".parquet") {
            return PARQUET.into();
        }
        self.guess(name).unwrap_or(OCTET_STREAM).to_string()
    }

    /// `mimetypes.guess_type(name)[0]`.
    fn guess(&self, name: &str) -> Option<&str> {
        let path = url_path(name);
        let (mut base, mut ext) = splitext(&path);
        while let Some((_, whole)) = SUFFIXES
            .iter()
            .find(|(short, _)| ext.to_lowercase() == *short)
        {
            let joined = format!("{base}{whole}");
            let (b, e) = splitext(&joined);
            (base, ext) = (b.to_string(), e.to_string());
        }
        if ENCODINGS.contains(&ext.as_str()) {
            let (_, e) = splitext(&base);
            ext = e.to_string();
        }
        self.types.get(&ext.to_lowercase()).map(String::as_str)
    }
}

/// `pathlib.PurePath.suffix`: the last `.part` of the name, unless the name starts with its
/// only dot or ends with a dot.
fn path_suffix(name: &str) -> &str {
    match name.rfind('.') {
        Some(i) if i > 0 && i < name.len() - 1 => &name[i..],
        _ => "",
    }
}

/// `os.path.splitext` on a file name: leading dots never start an extension.
fn splitext(path: &str) -> (String, String) {
    let start = path.rfind('/').map_or(0, |i| i + 1);
    let Some(dot) = path.rfind('.').filter(|&d| d >= start) else {
        return (path.to_string(), String::new());
    };
    if path[start..dot].bytes().all(|b| b == b'.') {
        return (path.to_string(), String::new());
    }
    (path[..dot].to_string(), path[dot..].to_string())
}

/// What `guess_type` looks at: a name that parses as a URL with a scheme of two or more
/// characters (`ab:c.txt`) is reduced to its path, without query and fragment.
fn url_path(name: &str) -> String {
    let Some((scheme, rest)) = name.split_once(':') else {
        return name.to_string();
    };
    let valid = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid {
        return name.to_string();
    }
    let rest = rest.split('#').next().unwrap_or_default();
    let rest = rest.split('?').next().unwrap_or_default();
    rest.to_string()
}

/// The media type of `path` with the host's table.
pub fn of_path(table: &MediaTypes, path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    table.of(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_json_are_named_before_guessing() {
        let table = MediaTypes::builtin();
        assert_eq!(table.of("items.parquet"), PARQUET);
        assert_eq!(table.of(".parquet"), PARQUET);
        assert_eq!(table.of("provenance.json"), JSON);
        // `.json` alone has no suffix in pathlib and no extension in splitext.
        assert_eq!(table.of(".json"), OCTET_STREAM);
        assert_eq!(table.of("UPPER.JSON"), JSON);
    }

    #[test]
    fn guesses_follow_python_mimetypes() {
        let table = MediaTypes::builtin();
        assert_eq!(table.of("README.md"), "text/markdown");
        assert_eq!(table.of("notes.TXT"), "text/plain");
        assert_eq!(table.of("scene.tif"), "image/tiff");
        assert_eq!(table.of("archive.tar.gz"), "application/x-tar");
        assert_eq!(table.of("archive.tgz"), "application/x-tar");
        assert_eq!(table.of("archive.TGZ"), "application/x-tar");
        // Encodings are case-sensitive: `.GZ` is just an unknown extension.
        assert_eq!(table.of("archive.tar.GZ"), OCTET_STREAM);
        assert_eq!(table.of("data.gz"), OCTET_STREAM);
        assert_eq!(table.of("no_extension"), OCTET_STREAM);
        assert_eq!(table.of(".hidden"), OCTET_STREAM);
        assert_eq!(table.of("..txt"), OCTET_STREAM);
        assert_eq!(table.of("a.b."), OCTET_STREAM);
        assert_eq!(table.of("ab:c.png?x=1"), "image/png");
    }

    #[test]
    fn host_files_override_and_extend_the_builtin_table() {
        let mut table = MediaTypes::builtin();
        assert_eq!(table.of("a.xml"), "text/xml");
        table.read_mime_types(
            "# comment line\napplication/xml xml xsd # trailing words\n\
             application/geo+json\tgeojson\n\nbare/type\n",
        );
        assert_eq!(table.of("a.xml"), "application/xml");
        assert_eq!(table.of("a.XSD"), "application/xml");
        assert_eq!(table.of("a.geojson"), "application/geo+json");
        assert_eq!(table.of("a.trailing"), OCTET_STREAM);
    }
}
