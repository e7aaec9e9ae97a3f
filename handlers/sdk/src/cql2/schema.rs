//! `/collections/{id}/queryables`: the queryables as a JSON Schema
//! (2020-12), as OGC API – Features Part 3 and QGIS read it.

use serde_json::{Map, Value, json};

use super::queryable::{Queryable, Type};

/// Media type of the queryables document.
pub const MEDIA_TYPE: &str = "application/schema+json";

/// The schema of `queryables`, `$id` being the document's own URL.
pub fn queryables_schema(id: &str, title: &str, queryables: &[Queryable]) -> Value {
    let properties: Map<String, Value> = queryables
        .iter()
        .map(|q| {
            let mut schema = match q.kind {
                Type::String => json!({ "type": "string" }),
                Type::Integer => json!({ "type": "integer" }),
                Type::Number => json!({ "type": "number" }),
                Type::Boolean => json!({ "type": "boolean" }),
                Type::Timestamp => json!({ "type": "string", "format": "date-time" }),
                Type::Geometry => json!({
                    "format": "geometry-any",
                    "x-ogc-role": "primary-geometry",
                }),
            };
            schema["title"] = json!(q.title);
            (q.name.to_owned(), schema)
        })
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": id,
        "type": "object",
        "title": title,
        "properties": properties,
        "additionalProperties": false,
    })
}
