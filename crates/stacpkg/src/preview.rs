//! The bounded text preview shown instead of binary when stdout is a terminal (ref §2.1).
//!
//! The format is the Python original's, byte for byte: first 20 rows, a header, a dashed
//! separator, ` | ` between columns, cells as Python `str()` of the value (nested values as
//! compact JSON with sorted keys), whitespace runs collapsed, columns at most 48 wide and shrunk
//! to the terminal width, and a `N rows x M columns` footer.

use std::fmt::Write as _;

use crate::pyjson::string as json_string;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema, TimeUnit};

/// Rows shown.
pub const PREVIEW_ROWS: usize = 20;
/// Widest a column gets.
const MAX_COLUMN_WIDTH: usize = 48;
/// Narrowest terminal considered.
const MIN_WIDTH: usize = 20;

/// Collects the first [`PREVIEW_ROWS`] rows and a row count from a batch stream.
#[derive(Debug, Default)]
pub struct Preview {
    head: Vec<RecordBatch>,
    kept: usize,
    rows: u64,
}

impl Preview {
    /// Take a batch into the preview (only its first rows are kept).
    pub fn push(&mut self, batch: &RecordBatch) {
        self.rows += batch.num_rows() as u64;
        if self.kept < PREVIEW_ROWS {
            let take = (PREVIEW_ROWS - self.kept).min(batch.num_rows());
            self.head.push(batch.slice(0, take));
            self.kept += take;
        }
    }

    /// Whether the preview has all the rows it shows.
    pub fn is_full(&self) -> bool {
        self.kept >= PREVIEW_ROWS
    }

    /// Render with `total_rows` (when known from metadata) or the rows seen.
    pub fn render(&self, schema: &Schema, total_rows: Option<u64>, width: usize) -> String {
        render(schema, &self.head, total_rows.unwrap_or(self.rows), width)
    }
}

/// Render the preview of a table whose first rows are `head`.
pub fn render(schema: &Schema, head: &[RecordBatch], total_rows: u64, width: usize) -> String {
    let ncols = schema.fields().len();
    if ncols == 0 {
        return format!("{total_rows} rows x 0 columns\n");
    }
    let headers: Vec<String> = schema.fields().iter().map(|f| clean(f.name())).collect();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for batch in head {
        for row in 0..batch.num_rows() {
            if rows.len() >= PREVIEW_ROWS {
                break;
            }
            rows.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| clean(&cell(c.as_ref(), row)))
                    .collect(),
            );
        }
    }
    let mut widths: Vec<usize> = (0..ncols)
        .map(|i| {
            let longest = rows
                .iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].chars().count()])
                .max()
                .unwrap_or(0);
            longest.min(MAX_COLUMN_WIDTH)
        })
        .collect();
    let width = width.max(MIN_WIDTH);
    let budget = width.saturating_sub(3 * (ncols - 1));
    while widths.iter().sum::<usize>() > budget {
        // Shrink the column with the largest surplus over 4 (leftmost on ties).
        let (index, surplus) = widths
            .iter()
            .enumerate()
            .map(|(i, w)| (i, w - (*w).min(4)))
            .fold((0, 0), |best, cur| if cur.1 > best.1 { cur } else { best });
        if surplus == 0 {
            break;
        }
        widths[index] -= 1;
    }
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| pad(&clip(c, *w), *w))
            .collect();
        out.push_str(&parts.join(" | "));
        out.push('\n');
    };
    line(&headers, &mut out);
    let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&dashes.join("-+-"));
    out.push('\n');
    for row in &rows {
        line(row, &mut out);
    }
    let _ = write!(out, "{total_rows} rows x {ncols} columns");
    if total_rows > PREVIEW_ROWS as u64 {
        let _ = write!(out, " (showing first {PREVIEW_ROWS})");
    }
    out.push('\n');
    out
}

fn clean(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let keep = width.saturating_sub(3);
    let mut clipped: String = text.chars().take(keep).collect();
    clipped.push_str("...");
    clipped
}

fn pad(text: &str, width: usize) -> String {
    let len = text.chars().count();
    let mut padded = text.to_string();
    padded.extend(std::iter::repeat_n(' ', width.saturating_sub(len)));
    padded
}

/// Python `str()` of a top-level value; nested values as compact sorted JSON.
fn cell(array: &dyn Array, row: usize) -> String {
    if array.is_null(row) {
        return String::new();
    }
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row).to_string(),
        DataType::Binary => bytes_repr(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => bytes_repr(array.as_binary::<i64>().value(row)),
        DataType::Struct(_) | DataType::List(_) | DataType::LargeList(_) | DataType::Map(_, _) => {
            let mut out = String::new();
            json(array, row, &mut out);
            out
        }
        _ => scalar(array, row).unwrap_or_else(|| format!("<{}>", array.data_type())),
    }
}

fn scalar(array: &dyn Array, row: usize) -> Option<String> {
    Some(match array.data_type() {
        DataType::Boolean => if array.as_boolean().value(row) {
            "True"
        } else {
            "False"
        }
        .into(),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).to_string(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).to_string(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).to_string(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).to_string(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::Float32 => {
            python_float(f64::from(array.as_primitive::<Float32Type>().value(row)))
        }
        DataType::Float64 => python_float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Timestamp(unit, tz) => {
            let micros = match unit {
                TimeUnit::Second => {
                    array.as_primitive::<TimestampSecondType>().value(row) * 1_000_000
                }
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(row) * 1000
                }
                TimeUnit::Microsecond => {
                    array.as_primitive::<TimestampMicrosecondType>().value(row)
                }
                TimeUnit::Nanosecond => {
                    array.as_primitive::<TimestampNanosecondType>().value(row) / 1000
                }
            };
            python_datetime(micros, tz.is_some())
        }
        _ => return None,
    })
}

/// Python's `str(datetime)`: `2024-01-02 03:04:05[.ffffff][+00:00]`.
fn python_datetime(micros: i64, aware: bool) -> String {
    let Some(dt) = chrono::DateTime::from_timestamp_micros(micros) else {
        return micros.to_string();
    };
    let mut text = dt.format("%Y-%m-%d %H:%M:%S").to_string();
    let fraction = micros.rem_euclid(1_000_000);
    if fraction != 0 {
        let _ = write!(text, ".{fraction:06}");
    }
    if aware {
        text.push_str("+00:00");
    }
    text
}

/// Python's `repr(float)`: shortest round-trip digits, scientific below 1e-4 and from 1e16.
pub fn python_float(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .into();
    }
    // `{:e}` gives the shortest round-trip digits as `d.ddde±x`.
    let sci = format!("{value:e}");
    let (mantissa, exponent) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exponent: i32 = exponent.parse().expect("exponent is an integer");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if !(-4..16).contains(&exponent) {
        let mut m = digits[..1].to_string();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let esign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{m}e{esign}{:02}", exponent.abs());
    }
    let point = exponent + 1; // digits before the decimal point
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
    } else {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    };
    format!("{sign}{text}")
}

fn bytes_repr(bytes: &[u8]) -> String {
    // Python picks double quotes only when the bytes contain ' and no ".
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = format!("b{quote}");
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if b as char == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push(quote);
    out
}

fn json(array: &dyn Array, row: usize, out: &mut String) {
    if array.is_null(row) {
        out.push_str("null");
        return;
    }
    match array.data_type() {
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut order: Vec<usize> = (0..fields.len()).collect();
            order.sort_by(|a, b| fields[*a].name().cmp(fields[*b].name()));
            out.push('{');
            for (n, i) in order.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                json_string(fields[i].name(), out);
                out.push(':');
                json(s.column(i).as_ref(), row, out);
            }
            out.push('}');
        }
        DataType::List(_) => list_json(&array.as_list::<i32>().value(row), out),
        DataType::LargeList(_) => list_json(&array.as_list::<i64>().value(row), out),
        DataType::Utf8 => json_string(array.as_string::<i32>().value(row), out),
        DataType::LargeUtf8 => json_string(array.as_string::<i64>().value(row), out),
        DataType::Boolean => out.push_str(if array.as_boolean().value(row) {
            "true"
        } else {
            "false"
        }),
        DataType::Float32 | DataType::Float64 => {
            let text = scalar(array, row).unwrap_or_default();
            out.push_str(match text.as_str() {
                "nan" => "NaN",
                "inf" => "Infinity",
                "-inf" => "-Infinity",
                other => other,
            });
        }
        DataType::Null => out.push_str("null"),
        _ => match scalar(array, row) {
            Some(text) if array.data_type().is_integer() => out.push_str(&text),
            // Values JSON has no type for (timestamps, bytes) are written as their str().
            Some(text) => json_string(&text, out),
            None => json_string(&cell(array, row), out),
        },
    }
}

fn list_json(values: &dyn Array, out: &mut String) {
    out.push('[');
    for i in 0..values.len() {
        if i > 0 {
            out.push(',');
        }
        json(values, i, out);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow_array::{Float64Array, Int64Array, StringArray};
    use arrow_schema::Field;

    #[test]
    fn python_float_matches_repr() {
        for (v, s) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (1e16, "1e+16"),
            (123456789.5, "123456789.5"),
            (-2.5e-7, "-2.5e-07"),
            (0.0001, "0.0001"),
            (1234567890123456.0, "1234567890123456.0"),
        ] {
            assert_eq!(python_float(v), s);
        }
    }

    #[test]
    fn bytes_repr_matches_python() {
        assert_eq!(
            bytes_repr(&[1, 3, 0, b'a', b'\'']),
            "b\"\\x01\\x03\\x00a'\""
        );
        assert_eq!(bytes_repr(b"ab"), "b'ab'");
    }

    #[test]
    fn preview_has_header_separator_and_footer() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
            Field::new("x", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![Some("a  b"), None])),
                Arc::new(Int64Array::from(vec![1, 22])),
                Arc::new(Float64Array::from(vec![1.0, 0.5])),
            ],
        )
        .unwrap();
        let text = render(&schema, &[batch], 2, 120);
        assert_eq!(
            text,
            "id  | n  | x  \n----+----+----\na b | 1  | 1.0\n    | 22 | 0.5\n2 rows x 3 columns\n"
        );
    }

    #[test]
    fn narrow_terminals_shrink_and_clip_wide_columns() {
        let schema = Arc::new(Schema::new(vec![Field::new("long", DataType::Utf8, true)]));
        let value = "x".repeat(60);
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(vec![value.as_str()]))],
        )
        .unwrap();
        let text = render(&schema, &[batch], 25, 120);
        let row = text.lines().nth(2).unwrap();
        assert_eq!(row.len(), 48);
        assert!(row.ends_with("..."));
        assert!(text.ends_with("25 rows x 1 columns (showing first 20)\n"));
    }
}
