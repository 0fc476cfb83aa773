//! Content checksums as evidence: multihashes (lowercase hex, as STAC's `file:checksum` and the
//! lock's `file_checksum` hold them), where they come from, and how bytes are hashed.
//!
//! A multihash is `<varint code><varint digest length><digest>`: SHA-256 is `1220…`, SHA-512
//! `1340…`, SHA-1 `1114…` and MD5 `d50110…` — the four the Python original's helpers know. An
//! ETag is a store's validator, not a checksum; only a strong, single-part, S3-style ETag (32 hex
//! digits) is read as an MD5, and only when the caller asks for it ([`Strategy::UseEtag`]).
//!
//! SHA digests are computed by *ring*, which uses the CPU's SHA extensions where it has them.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;

/// A hash function a multihash can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// MD5 (multihash code `0xd5`): only ever read from ETags or given checksums.
    Md5,
    /// SHA-1 (`0x11`).
    Sha1,
    /// SHA-256 (`0x12`): what stacpkg computes.
    Sha256,
    /// SHA-512 (`0x13`).
    Sha512,
}

const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::Sha1,
    Algorithm::Sha256,
    Algorithm::Sha512,
    Algorithm::Md5,
];

impl Algorithm {
    /// The multihash code.
    pub fn code(self) -> u64 {
        match self {
            Algorithm::Md5 => 0xd5,
            Algorithm::Sha1 => 0x11,
            Algorithm::Sha256 => 0x12,
            Algorithm::Sha512 => 0x13,
        }
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Md5 => 16,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    /// The lowercase name (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// An algorithm by one of its names, as the original's helpers accept them (`sha256`,
    /// `sha-256`, `sha2-256`, …; any case).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name.trim().to_ascii_lowercase().as_str() {
            "md5" => Some(Algorithm::Md5),
            "sha1" | "sha-1" => Some(Algorithm::Sha1),
            "sha256" | "sha-256" | "sha2-256" => Some(Algorithm::Sha256),
            "sha512" | "sha-512" | "sha2-512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    /// The multihash prefix in hex (`1220` for SHA-256).
    fn prefix(self) -> String {
        let mut bytes = varint(self.code());
        bytes.extend(varint(self.digest_len() as u64));
        hex(&bytes)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
    out
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    out
}

fn is_lower_hex(text: &str) -> bool {
    !text.is_empty()
        && text.len().is_multiple_of(2)
        && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The multihash of `digest` under `algorithm`, or `None` when the digest has the wrong length.
pub fn from_digest(algorithm: Algorithm, digest: &[u8]) -> Option<String> {
    (digest.len() == algorithm.digest_len())
        .then(|| format!("{}{}", algorithm.prefix(), hex(digest)))
}

fn from_hex_digest(algorithm: Algorithm, digest: &str) -> Option<String> {
    let digest = digest.trim().to_ascii_lowercase();
    (is_lower_hex(&digest) && digest.len() == algorithm.digest_len() * 2)
        .then(|| format!("{}{digest}", algorithm.prefix()))
}

/// The algorithm of a (normalised) multihash, when it is one of the four and has the right
/// length.
pub fn algorithm_of(multihash: &str) -> Option<Algorithm> {
    if !is_lower_hex(multihash) {
        return None;
    }
    ALGORITHMS.into_iter().find(|algorithm| {
        let prefix = algorithm.prefix();
        multihash.len() == prefix.len() + algorithm.digest_len() * 2
            && multihash.starts_with(&prefix)
    })
}

/// A checksum in any form the original accepts, as a lowercase multihash: a multihash in hex
/// (any case), or `ALGORITHM:HEX` / `ALGORITHM=HEX` (`sha256:…`, `sha-256=…`). `None` when the
/// text is none of these.
pub fn normalize(value: &str) -> Option<String> {
    let text = value.trim().to_ascii_lowercase();
    if algorithm_of(&text).is_some() {
        return Some(text);
    }
    let (name, digest) = text.split_once([':', '='])?;
    from_hex_digest(Algorithm::from_name(name)?, digest)
}

/// The MD5 multihash an ETag stands for, when it is a strong, single-part, S3-style ETag (32 hex
/// digits, quoted or not). Weak (`W/`), multipart (`…-N`) and every other store's ETags are no
/// checksum.
pub fn from_etag(etag: &str) -> Option<String> {
    if etag.starts_with("W/") {
        return None;
    }
    let text = etag.trim().trim_matches('"');
    if text.contains('-') {
        return None;
    }
    from_hex_digest(Algorithm::Md5, text)
}

/// The SHA-256 multihash of an S3 `x-amz-checksum-sha256` value (base64), when the object's
/// checksum covers the full object: a composite checksum (`checksum type` `COMPOSITE`, or a
/// value ending in `-N` parts) is a checksum of part checksums, not of the bytes.
pub fn from_s3_sha256(value: &str, checksum_type: Option<&str>) -> Option<String> {
    if checksum_type.is_some_and(|t| !t.trim().eq_ignore_ascii_case("FULL_OBJECT")) {
        return None;
    }
    let value = value.trim();
    if value.contains('-') {
        return None;
    }
    let digest = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    from_digest(Algorithm::Sha256, &digest)
}

/// Where `asset-lock derive` takes a row's `file_checksum` from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Strategy {
    /// The item asset's `file:checksum`, else a full-object checksum the store reports, else
    /// none.
    #[default]
    Metadata,
    /// As [`Strategy::Metadata`], then an MD5 from a strong single-part S3-style ETag.
    UseEtag,
    /// As [`Strategy::Metadata`], then read the object and hash it (SHA-256).
    CalculateIfNeeded,
    /// Read and hash (SHA-256) every object.
    CalculateAlways,
}

impl Strategy {
    /// Every strategy, in the order they are documented.
    pub const ALL: [Strategy; 4] = [
        Strategy::Metadata,
        Strategy::UseEtag,
        Strategy::CalculateIfNeeded,
        Strategy::CalculateAlways,
    ];

    /// The name (`calculate-if-needed`).
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Metadata => "metadata",
            Strategy::UseEtag => "use-etag",
            Strategy::CalculateIfNeeded => "calculate-if-needed",
            Strategy::CalculateAlways => "calculate-always",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no [`Strategy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported checksum strategy `{0}`: expected metadata, use-etag, calculate-if-needed or calculate-always"
)]
pub struct UnknownStrategy(pub String);

impl FromStr for Strategy {
    type Err = UnknownStrategy;

    /// A strategy by name, in any case, with `_` for `-` (`calculate_if_needed`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase().replace('_', "-");
        Strategy::ALL
            .into_iter()
            .find(|s| s.name() == wanted)
            .ok_or_else(|| UnknownStrategy(text.to_string()))
    }
}

/// Incremental hashing of a byte stream into a multihash.
pub struct Hasher {
    algorithm: Algorithm,
    state: State,
}

enum State {
    Ring(ring::digest::Context),
    Md5(md5::Md5),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// A hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        use md5::Digest as _;
        let ring = |a| State::Ring(ring::digest::Context::new(a));
        let state = match algorithm {
            Algorithm::Md5 => State::Md5(md5::Md5::new()),
            Algorithm::Sha1 => ring(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
            Algorithm::Sha256 => ring(&ring::digest::SHA256),
            Algorithm::Sha512 => ring(&ring::digest::SHA512),
        };
        Hasher { algorithm, state }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Hash `bytes` next.
    pub fn update(&mut self, bytes: &[u8]) {
        use md5::Digest as _;
        match &mut self.state {
            State::Ring(context) => context.update(bytes),
            State::Md5(md5) => md5.update(bytes),
        }
    }

    /// The multihash of everything hashed.
    pub fn finish(self) -> String {
        use md5::Digest as _;
        let digest: Vec<u8> = match self.state {
            State::Ring(context) => context.finish().as_ref().to_vec(),
            State::Md5(md5) => md5.finalize().to_vec(),
        };
        from_digest(self.algorithm, &digest).expect("digests have their algorithm's length")
    }
}

/// The SHA-256 every copy records, plus the algorithm of a checksum the bytes must match when it
/// is another one.
#[derive(Debug)]
pub struct Evidence {
    sha256: Hasher,
    other: Option<Hasher>,
    expected: Option<String>,
}

/// Bytes that do not match the checksum they were expected to have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("checksum mismatch: expected {expected}, got {actual}")]
pub struct Mismatch {
    /// The checksum the bytes should have had.
    pub expected: String,
    /// The checksum they have, in the expected one's algorithm.
    pub actual: String,
}

impl Evidence {
    /// Hash for a SHA-256 and, when `expected` is a known multihash, check the bytes against it.
    pub fn new(expected: Option<&str>) -> Self {
        let expected = expected.and_then(normalize);
        let other = expected
            .as_deref()
            .and_then(algorithm_of)
            .filter(|a| *a != Algorithm::Sha256)
            .map(Hasher::new);
        Evidence {
            sha256: Hasher::new(Algorithm::Sha256),
            other,
            expected,
        }
    }

    /// Hash `bytes` next.
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        if let Some(other) = &mut self.other {
            other.update(bytes);
        }
    }

    /// The SHA-256 multihash of the bytes, or the mismatch with the expected checksum.
    pub fn finish(self) -> Result<String, Mismatch> {
        let sha256 = self.sha256.finish();
        let Some(expected) = self.expected else {
            return Ok(sha256);
        };
        let actual = match self.other {
            Some(other) => other.finish(),
            None => sha256.clone(),
        };
        if actual == expected {
            Ok(sha256)
        } else {
            Err(Mismatch { expected, actual })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256_ABC: &str = "1220ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn sha256_of_known_bytes_is_the_multihash_of_the_standard_vector() {
        let mut hasher = Hasher::new(Algorithm::Sha256);
        hasher.update(b"a");
        hasher.update(b"bc");
        assert_eq!(hasher.finish(), SHA256_ABC);
        let mut md5 = Hasher::new(Algorithm::Md5);
        md5.update(b"abc");
        assert_eq!(md5.finish(), "d50110900150983cd24fb0d6963f7d28e17f72");
        let mut sha1 = Hasher::new(Algorithm::Sha1);
        sha1.update(b"abc");
        assert_eq!(
            sha1.finish(),
            "1114a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let mut sha512 = Hasher::new(Algorithm::Sha512);
        sha512.update(b"abc");
        assert!(sha512.finish().starts_with("1340ddaf35a193617aba"));
    }

    #[test]
    fn every_accepted_spelling_normalises_like_the_original() {
        let digest = &SHA256_ABC[4..];
        for text in [
            SHA256_ABC.to_string(),
            SHA256_ABC.to_uppercase(),
            format!("  {SHA256_ABC} "),
            format!("sha256:{digest}"),
            format!("SHA-256={}", digest.to_uppercase()),
            format!("sha2-256:{digest}"),
        ] {
            assert_eq!(normalize(&text).as_deref(), Some(SHA256_ABC), "{text}");
        }
        assert_eq!(
            normalize("md5:900150983cd24fb0d6963f7d28e17f72").as_deref(),
            Some("d50110900150983cd24fb0d6963f7d28e17f72")
        );
        for bad in [
            "",
            "1220ab",
            "sha256:xyz",
            "sha256:abcd",
            "crc32:12345678",
            &SHA256_ABC[..SHA256_ABC.len() - 2],
            "zz20ba78",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
        assert_eq!(algorithm_of(SHA256_ABC), Some(Algorithm::Sha256));
        assert_eq!(algorithm_of(&SHA256_ABC.to_uppercase()), None);
    }

    #[test]
    fn only_strong_single_part_hex_etags_are_md5_checksums() {
        let md5 = "d50110900150983cd24fb0d6963f7d28e17f72";
        assert_eq!(
            from_etag("\"900150983cd24fb0d6963f7d28e17f72\"").as_deref(),
            Some(md5)
        );
        assert_eq!(
            from_etag("900150983CD24FB0D6963F7D28E17F72").as_deref(),
            Some(md5)
        );
        for not_md5 in [
            "W/\"900150983cd24fb0d6963f7d28e17f72\"",
            "\"900150983cd24fb0d6963f7d28e17f72-2\"",
            "\"65920080-3e9\"",
            "\"0x8DC3A1B2C3D4E5F\"",
            "\"abc\"",
        ] {
            assert_eq!(from_etag(not_md5), None, "{not_md5}");
        }
    }

    #[test]
    fn s3_checksums_count_only_when_they_cover_the_full_object() {
        let base64 = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
        assert_eq!(from_s3_sha256(base64, None).as_deref(), Some(SHA256_ABC));
        assert_eq!(
            from_s3_sha256(base64, Some("FULL_OBJECT")).as_deref(),
            Some(SHA256_ABC)
        );
        assert_eq!(from_s3_sha256(base64, Some("COMPOSITE")), None);
        assert_eq!(from_s3_sha256(&format!("{base64}-3"), None), None);
        assert_eq!(from_s3_sha256("not base64!", None), None);
    }

    #[test]
    fn strategies_parse_with_dashes_or_underscores() {
        for strategy in Strategy::ALL {
            assert_eq!(strategy.name().parse::<Strategy>(), Ok(strategy));
            let underscored = strategy.name().replace('-', "_").to_uppercase();
            assert_eq!(underscored.parse::<Strategy>(), Ok(strategy));
        }
        let err = "sha256".parse::<Strategy>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported checksum strategy `sha256`: expected metadata, use-etag, calculate-if-needed or calculate-always"
        );
    }

    #[test]
    fn evidence_checks_the_expected_checksum_in_its_own_algorithm() {
        let mut ok = Evidence::new(Some("md5:900150983cd24fb0d6963f7d28e17f72"));
        ok.update(b"abc");
        assert_eq!(ok.finish().as_deref(), Ok(SHA256_ABC));
        let mut bad = Evidence::new(Some(SHA256_ABC));
        bad.update(b"abd");
        let mismatch = bad.finish().unwrap_err();
        assert_eq!(mismatch.expected, SHA256_ABC);
        assert_ne!(mismatch.actual, SHA256_ABC);
        assert!(mismatch.actual.starts_with("1220"));
        let mut unchecked = Evidence::new(None);
        unchecked.update(b"abc");
        assert_eq!(unchecked.finish().as_deref(), Ok(SHA256_ABC));
    }
}
