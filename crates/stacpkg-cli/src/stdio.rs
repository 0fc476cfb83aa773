//! Standard streams: binary tables go to a pipe, a text preview to a terminal (ref §2.1), and a
//! command that needs piped input refuses an interactive terminal instead of blocking.

use std::io::{BufWriter, IsTerminal, Write};

use stacpkg::BatchReader;
use stacpkg::preview::Preview;

use crate::exit::UsageError;

/// Terminal width when neither `COLUMNS` nor the terminal says.
const FALLBACK_WIDTH: usize = 120;

/// Fail with a hint when stdin is an interactive terminal.
pub(crate) fn require_piped_stdin(what: &str) -> Result<(), UsageError> {
    if std::io::stdin().is_terminal() {
        return Err(UsageError(format!(
            "stdin is a terminal: this command reads {what} from stdin; pipe one in or give a file (for example `stacpkg items from-json items.json | stacpkg items to-parquet items.parquet`)"
        )));
    }
    Ok(())
}

/// Write a table to stdout: an Arrow IPC stream to a pipe or file, a preview to a terminal.
pub(crate) fn emit(reader: BatchReader) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    if stdout.is_terminal() {
        let schema = reader.schema();
        let known = reader.known_rows();
        let mut preview = Preview::default();
        for batch in reader {
            preview.push(&batch?);
            // With the total known from metadata, rows past the preview need not be decoded.
            if known.is_some() && preview.is_full() {
                break;
            }
        }
        let text = preview.render(&schema, known, terminal_width());
        let mut out = stdout.lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    } else {
        let out = BufWriter::with_capacity(1 << 20, stdout.lock());
        stacpkg::ipc::write_stream(out, reader, "stdout")?;
    }
    Ok(())
}

fn terminal_width() -> usize {
    if let Some(columns) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
    {
        return columns;
    }
    terminal_size::terminal_size()
        .map(|(w, _)| usize::from(w.0))
        .unwrap_or(FALLBACK_WIDTH)
}
