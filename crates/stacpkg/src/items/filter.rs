//! Item selection by id, collection and provider (ref §4).
//!
//! All given filters must match (AND); values within one filter are alternatives (OR). Provider
//! names of an item are the non-empty strings of `provider`, `oam:producer_name` and
//! `providers[]` (each element's `name`, or the element itself when it is a string). The same rule
//! applies to JSON items and to table rows, so every adapter selects the same items (SPEC §3).

use std::collections::HashSet;

use super::value::{Json, Object};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_schema::DataType;

use super::schema::{COLLECTION, ID, PROPERTIES};

/// Column and member names that carry provider names.
pub(super) const PROVIDER: &str = "provider";
/// OpenAerialMap's producer name member.
pub(super) const OAM_PRODUCER_NAME: &str = "oam:producer_name";
/// STAC `providers` list.
pub(super) const PROVIDERS: &str = "providers";

/// Which items to keep. An empty filter keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemFilter {
    /// Keep items whose `id` is one of these.
    pub item_ids: HashSet<String>,
    /// Keep items whose `collection` is one of these.
    pub collections: HashSet<String>,
    /// Keep items with a provider name among these.
    pub providers: HashSet<String>,
}

impl ItemFilter {
    /// True when no filter is set.
    pub fn is_empty(&self) -> bool {
        self.item_ids.is_empty() && self.collections.is_empty() && self.providers.is_empty()
    }

    /// Whether a STAC item (JSON) is selected.
    pub(crate) fn matches_json(&self, item: &Object<'_>) -> bool {
        if !self.item_ids.is_empty()
            && !item
                .get(ID)
                .and_then(Json::as_str)
                .is_some_and(|id| self.item_ids.contains(id))
        {
            return false;
        }
        if !self.collections.is_empty()
            && !item
                .get(COLLECTION)
                .and_then(Json::as_str)
                .is_some_and(|c| self.collections.contains(c))
        {
            return false;
        }
        if !self.providers.is_empty() {
            let mut found = false;
            let mut check = |name: &str| found |= !name.is_empty() && self.providers.contains(name);
            let scopes = [Some(item), item.get(PROPERTIES).and_then(Json::as_object)];
            for scope in scopes.into_iter().flatten() {
                for key in [PROVIDER, OAM_PRODUCER_NAME] {
                    if let Some(name) = scope.get(key).and_then(Json::as_str) {
                        check(name);
                    }
                }
                if let Some(Json::Array(providers)) = scope.get(PROVIDERS) {
                    for p in providers {
                        match p {
                            Json::Str(name) => check(name),
                            Json::Object(o) => {
                                if let Some(name) = o.get("name").and_then(Json::as_str) {
                                    check(name);
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            if !found {
                return false;
            }
        }
        true
    }

    /// The rows of an items batch that are selected.
    pub fn mask(&self, batch: &RecordBatch) -> BooleanArray {
        let rows = batch.num_rows();
        let mut keep = vec![true; rows];
        let column = |name: &str| batch.column_by_name(name);
        let string_in = |array: Option<&ArrayRef>, set: &HashSet<String>, keep: &mut [bool]| {
            let strings = array.and_then(|a| a.as_any().downcast_ref::<StringArray>());
            for (row, k) in keep.iter_mut().enumerate() {
                *k &= strings.is_some_and(|s| s.is_valid(row) && set.contains(s.value(row)));
            }
        };
        if !self.item_ids.is_empty() {
            string_in(column(ID), &self.item_ids, &mut keep);
        }
        if !self.collections.is_empty() {
            string_in(column(COLLECTION), &self.collections, &mut keep);
        }
        if !self.providers.is_empty() {
            let mut any = vec![false; rows];
            for name in [PROVIDER, OAM_PRODUCER_NAME] {
                if let Some(s) = column(name).and_then(|a| a.as_any().downcast_ref::<StringArray>())
                {
                    for (row, a) in any.iter_mut().enumerate() {
                        *a |= s.is_valid(row) && self.providers.contains(s.value(row));
                    }
                }
            }
            if let Some(list) = column(PROVIDERS).and_then(|a| a.as_list_opt::<i32>()) {
                for (row, a) in any.iter_mut().enumerate() {
                    if list.is_valid(row) {
                        *a |= self.any_provider(&list.value(row));
                    }
                }
            }
            for (k, a) in keep.iter_mut().zip(any) {
                *k &= a;
            }
        }
        BooleanArray::from(keep)
    }

    fn any_provider(&self, values: &ArrayRef) -> bool {
        let names = match values.data_type() {
            DataType::Utf8 => values.as_any().downcast_ref::<StringArray>(),
            DataType::Struct(_) => values
                .as_struct()
                .column_by_name("name")
                .and_then(|n| n.as_any().downcast_ref::<StringArray>()),
            _ => None,
        };
        names.is_some_and(|names| {
            names
                .iter()
                .flatten()
                .any(|n| !n.is_empty() && self.providers.contains(n))
        })
    }

    /// Apply the filter to a batch (a no-op without filters).
    pub fn apply(&self, batch: RecordBatch) -> Result<RecordBatch, arrow_schema::ArrowError> {
        if self.is_empty() {
            return Ok(batch);
        }
        arrow_select::filter::filter_record_batch(&batch, &self.mask(&batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::value::from_value;
    use serde_json::json;

    fn filter(ids: &[&str], collections: &[&str], providers: &[&str]) -> ItemFilter {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        ItemFilter {
            item_ids: set(ids),
            collections: set(collections),
            providers: set(providers),
        }
    }

    #[test]
    fn providers_match_names_strings_and_oam_producer() {
        let by_name =
            from_value(json!({"id": "a", "properties": {"providers": [{"name": "Pierre d'Huy"}]}}));
        let by_oam =
            from_value(json!({"id": "b", "properties": {"oam:producer_name": "Provider C"}}));
        let f = filter(&[], &[], &["Pierre d'Huy", "Provider C"]);
        assert!(f.matches_json(by_name.as_object().unwrap()));
        assert!(f.matches_json(by_oam.as_object().unwrap()));
        let f = filter(&[], &[], &["Nobody"]);
        assert!(!f.matches_json(by_name.as_object().unwrap()));
    }

    #[test]
    fn filters_are_anded_across_options() {
        let item = from_value(json!({"id": "a", "collection": "c1"}));
        let item = item.as_object().unwrap();
        assert!(filter(&["a"], &["c1"], &[]).matches_json(item));
        assert!(!filter(&["a"], &["c2"], &[]).matches_json(item));
        assert!(filter(&["a", "z"], &[], &[]).matches_json(item));
    }
}
