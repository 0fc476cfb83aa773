//! The one error line of SPEC §2: `stacpkg: error: <what>: <why>: <why>`.
//!
//! Every line goes through [`stacpkg::store::redact`] on its way out: whatever a message quotes,
//! no URL in it keeps credentials or a query string (a signed URL's signature).

use std::io::Write;

/// Print an error and its causes as one line on stderr.
pub(crate) fn report(error: &anyhow::Error) {
    print_line("error", error.chain());
}

/// Print a problem that does not stop the command (a row under `--keep-going`) as one line.
pub(crate) fn warn(error: &(dyn std::error::Error + 'static)) {
    let chain = std::iter::successors(Some(error), |e| e.source());
    print_line("warning", chain);
}

/// Print a one-line note (something worth knowing that is not a problem).
pub(crate) fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "stacpkg: note: {}", redact(text));
}

/// Print a one-line warning.
pub(crate) fn warn_line(text: &str) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "stacpkg: warning: {}",
        redact(text)
    );
}

fn redact(text: &str) -> String {
    stacpkg::store::redact(text)
}

/// The command line's words for a library error: the library never names a flag or an
/// environment variable of this program, so the hints that do are added here.
fn cli_text(cause: &(dyn std::error::Error + 'static)) -> String {
    use stacpkg::Error;
    if let Some(error) = cause.downcast_ref::<Error>() {
        match error {
            Error::OutputNotEmpty { .. } => {
                return format!("{error} (use --force to replace the package in it)");
            }
            Error::StreamMisfit { .. } => {
                return format!(
                    "{error} (--stream); run without --stream to scan the whole input first"
                );
            }
            Error::ChunkTooSmall {
                chunk_size,
                minimum,
            } => {
                return format!(
                    "--chunk-size-bytes {chunk_size} is below S3's smallest multipart part ({minimum} bytes, 5 MiB)"
                );
            }
            Error::RegistryUnavailable {
                plain_http_likely: true,
                ..
            } => {
                return format!("{error} (the registry may speak plain HTTP: try --plain-http)");
            }
            Error::CredentialsNeeded { host } => {
                return format!(
                    "{error}: set ORAS_USER and ORAS_PASS, or log in with `docker login {host}`"
                );
            }
            Error::TokenDenied {
                realm,
                repository,
                origin: None,
                status,
            } => {
                return format!(
                    "the token service {realm} refused access to `{repository}` without credentials (set ORAS_USER and ORAS_PASS) ({status})"
                );
            }
            _ => {}
        }
    }
    if let Some(error @ stacpkg::store::StoreError::PartTooSmall { .. }) =
        cause.downcast_ref::<stacpkg::store::StoreError>()
    {
        return format!("{error}; raise --chunk-size-bytes");
    }
    cause.to_string()
}

fn print_line<'a>(level: &str, chain: impl Iterator<Item = &'a (dyn std::error::Error + 'static)>) {
    let mut line = format!("stacpkg: {level}: ");
    let mut first = true;
    let mut previous = String::new();
    for cause in chain {
        let text = cli_text(cause);
        // Some sources repeat their child's text; say it once.
        if text.is_empty() || previous.ends_with(&text) {
            continue;
        }
        if !first {
            line.push_str(": ");
        }
        line.push_str(&text);
        previous = text;
        first = false;
    }
    let line: String = redact(&line)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Print a clap usage error as one line (help and version go to stdout as usual).
pub(crate) fn report_usage(error: &clap::Error) {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand
    ) {
        // clap would print the whole help; one line naming the command is enough.
        let path: Vec<String> = std::iter::once("stacpkg".to_string())
            .chain(std::env::args().skip(1).take_while(|a| !a.starts_with('-')))
            .collect();
        let path = path.join(" ");
        let _ = writeln!(
            std::io::stderr().lock(),
            "stacpkg: error: `{path}` requires a subcommand; see `{path} --help`"
        );
        return;
    }
    let rendered = error.render().to_string();
    let first = rendered
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments");
    let message = first.strip_prefix("error: ").unwrap_or(first);
    let _ = writeln!(
        std::io::stderr().lock(),
        "stacpkg: error: {}",
        redact(message)
    );
}

/// True when the error is a closed stdout pipe (the reader went away): a quiet, successful end.
pub(crate) fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<stacpkg::Error>()
            .is_some_and(stacpkg::Error::is_broken_pipe)
            || cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Say how many locations had credentials left out (the count only).
pub(crate) fn warn_dropped_credentials(count: u64, place: &str) {
    if count > 0 {
        warn_line(&format!(
            "left the credentials (user:password@) of {count} hrefs or endpoints out of {place}"
        ));
    }
}

/// Say how many query strings were left out (the count only: they may be signatures).
pub(crate) fn warn_dropped_queries(count: u64, place: &str) {
    if count > 0 {
        // The count only: the query strings themselves may be signatures.
        warn_line(&format!(
            "left the query strings of {count} signed or parameterised hrefs out of {place}; only their unsigned locations are kept"
        ));
    }
}

/// Warn of an asset whose `file:checksum` is in no accepted form (its lock row gets none).
pub(crate) fn warn_malformed_checksum(item_id: &str, asset_key: &str, value: &str) {
    warn_line(&format!(
        "item `{item_id}` asset `{asset_key}`: `file:checksum` `{}` is not a multihash or ALGORITHM:HEX checksum; its row gets none from it",
        value.escape_debug()
    ));
}
