//! Asset hrefs of an items table that carry secrets: the query string of a signed http(s) URL,
//! or credentials (`user:password@`) in any URL.
//!
//! A package never stores them ([`strip_secrets`], used by `build` for `items.parquet`, as the
//! lock already does for locations). Plain item streams keep what the user gave, and the writers
//! say how many such hrefs passed through ([`count_secrets`]).
//!
//! The hrefs looked at are every asset's `href` and every `alternate.<key>.href`.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field};

use super::schema::ASSETS;
use crate::error::{Error, Result};
use crate::store::strip_secrets as stripped;

const HREF: &str = "href";
const ALTERNATE: &str = "alternate";

/// Asset hrefs in `batch` that carry a signed URL's query string or credentials.
pub fn count_secrets(batch: &RecordBatch) -> u64 {
    let Some(assets) = batch.column_by_name(ASSETS).and_then(|c| c.as_struct_opt()) else {
        return 0;
    };
    let mut count = 0;
    for asset in assets.columns() {
        let Some(asset) = asset.as_struct_opt() else {
            continue;
        };
        count += count_column(asset.column_by_name(HREF));
        if let Some(alternates) = asset
            .column_by_name(ALTERNATE)
            .and_then(|c| c.as_struct_opt())
        {
            for alternate in alternates.columns() {
                if let Some(alternate) = alternate.as_struct_opt() {
                    count += count_column(alternate.column_by_name(HREF));
                }
            }
        }
    }
    count
}

fn count_column(column: Option<&ArrayRef>) -> u64 {
    match column.and_then(|c| c.as_string_opt::<i32>()) {
        Some(hrefs) => hrefs
            .iter()
            .flatten()
            .filter(|h| stripped(h).is_some())
            .count() as u64,
        None => 0,
    }
}

/// `batch` with every asset href that carries a signed URL's query string or credentials
/// replaced by its unsigned, credential-free location; and how many were replaced. Other
/// columns are shared, not copied.
pub fn strip_secrets(batch: &RecordBatch) -> Result<(RecordBatch, u64)> {
    let Some(index) = batch.schema().index_of(ASSETS).ok() else {
        return Ok((batch.clone(), 0));
    };
    let Some(assets) = batch.column(index).as_struct_opt() else {
        return Ok((batch.clone(), 0));
    };
    let mut count = 0;
    let assets = map_members(assets, &mut |_, asset| {
        let Some(asset) = asset.as_struct_opt() else {
            return Ok(None);
        };
        map_members(asset, &mut |member, value| match member {
            HREF => Ok(strip_column(value, &mut count)),
            ALTERNATE => match value.as_struct_opt() {
                Some(alternates) => map_members(alternates, &mut |_, alternate| match alternate
                    .as_struct_opt()
                {
                    Some(alternate) => map_members(alternate, &mut |member, value| {
                        Ok(if member == HREF {
                            strip_column(value, &mut count)
                        } else {
                            None
                        })
                    }),
                    None => Ok(None),
                }),
                None => Ok(None),
            },
            _ => Ok(None),
        })
    })?;
    let Some(assets) = assets else {
        return Ok((batch.clone(), 0));
    };
    let mut columns = batch.columns().to_vec();
    columns[index] = assets;
    let batch = RecordBatch::try_new(batch.schema(), columns)
        .map_err(|e| Error::arrow("failed to rebuild the items' assets", e))?;
    Ok((batch, count))
}

/// A string column with secrets stripped, when any value had some.
fn strip_column(column: &ArrayRef, count: &mut u64) -> Option<ArrayRef> {
    let hrefs = column.as_string_opt::<i32>()?;
    let before = *count;
    let replaced: StringArray = hrefs
        .iter()
        .map(|href| {
            href.map(|h| match stripped(h) {
                Some(clean) => {
                    *count += 1;
                    std::borrow::Cow::Owned(clean)
                }
                None => std::borrow::Cow::Borrowed(h),
            })
        })
        .collect();
    (*count > before).then(|| Arc::new(replaced) as ArrayRef)
}

type MemberMap<'a> = dyn FnMut(&str, &ArrayRef) -> Result<Option<ArrayRef>> + 'a;

/// A struct whose members `map` may replace (same type); `None` when it replaced none.
fn map_members(array: &StructArray, map: &mut MemberMap<'_>) -> Result<Option<ArrayRef>> {
    let DataType::Struct(fields) = array.data_type() else {
        return Ok(None);
    };
    let mut columns = array.columns().to_vec();
    let mut changed = false;
    for (field, column) in fields.iter().zip(columns.iter_mut()) {
        if let Some(new) = map(field.name(), column)? {
            *column = new;
            changed = true;
        }
    }
    if !changed {
        return Ok(None);
    }
    let fields: Vec<Field> = fields
        .iter()
        .zip(&columns)
        .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
        .collect();
    let rebuilt = StructArray::try_new(fields.into(), columns, array.nulls().cloned())
        .map_err(|e| Error::arrow("failed to rebuild the items' assets", e))?;
    Ok(Some(Arc::new(rebuilt)))
}
