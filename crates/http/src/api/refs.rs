//! References inside a handler's fragment: pointed at its own components
//! under their prefixed names, or at the host's `Problem`; anything else
//! dropped, so the document never sends a client to another one.

use std::collections::BTreeSet;

use geofn_contract::openapi::Fragment;
use serde_json::Value;

/// The host's problem answer, which every operation may give.
pub const PROBLEM_RESPONSE: &str = "#/components/responses/Problem";
/// The host's problem document schema.
pub const PROBLEM_SCHEMA: &str = "#/components/schemas/Problem";

/// `#/components/schemas/Point` for each component a fragment defines.
pub fn defined_components(fragment: &Fragment) -> BTreeSet<String> {
    fragment
        .components
        .iter()
        .flat_map(|(kind, named)| {
            named.as_object().into_iter().flat_map(move |named| {
                named
                    .keys()
                    .map(move |n| format!("#/components/{kind}/{n}"))
            })
        })
        .collect()
}

/// Points a fragment's references at its components' prefixed names. A
/// reference to anything else (another document, a component it does not
/// define) is dropped: the host's document never sends a client elsewhere.
pub fn prefix_refs(value: &mut Value, handler: &str, defined: &BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref").and_then(Value::as_str) {
                if defined.contains(target) {
                    let (kind, name) = target["#/components/".len()..]
                        .split_once('/')
                        .unwrap_or_default();
                    map["$ref"] = format!("#/components/{kind}/{handler}.{name}").into();
                } else if target != PROBLEM_RESPONSE && target != PROBLEM_SCHEMA {
                    map.remove("$ref");
                }
            }
            map.values_mut()
                .for_each(|v| prefix_refs(v, handler, defined));
        }
        Value::Array(list) => list
            .iter_mut()
            .for_each(|v| prefix_refs(v, handler, defined)),
        _ => {}
    }
}
