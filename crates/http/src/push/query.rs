//! What a push says besides its component, from the query string: routes
//! (`route=GET /x`, repeated), database access (`read=table`,
//! `write=table`, repeated), where the component is (`source=oci://…`)
//! and limits (every other key).

use std::collections::BTreeMap;

use serde_json::json;

use geofn_contract::names::valid_table;
use geofn_contract::route::parse_route;
use geofn_handler_set::fleet::store::PushSpec;

/// A push's query string, read.
#[derive(Debug, Default)]
pub struct PushQuery {
    /// Routes, limits and access as given.
    pub spec: PushSpec,
    /// Whether `read`/`write` were given at all (none given: keep the
    /// component's or the running version's).
    pub access_given: bool,
    /// `oci://REGISTRY/REPO:TAG|@sha256:…`: the component is pulled from
    /// there, not sent as the body.
    pub source: Option<String>,
}

/// Reads `query`; why not, for the caller.
pub fn parse_query(query: &str) -> Result<PushQuery, String> {
    let mut push = PushQuery::default();
    let mut limits: BTreeMap<String, u64> = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "route" => {
                if parse_route(&value).is_none() {
                    return Err(format!("route {value:?} is not \"METHOD /path\""));
                }
                push.spec.routes.push(value.into_owned());
            }
            "read" | "write" => {
                if !valid_table(&value) {
                    return Err(format!("{key}={value:?} is not `table` or `schema.table`"));
                }
                push.access_given = true;
                let list = if key == "read" {
                    &mut push.spec.database.read
                } else {
                    &mut push.spec.database.write
                };
                list.push(value.into_owned());
            }
            "source" => {
                if push.source.replace(value.into_owned()).is_some() {
                    return Err("source is given once".into());
                }
            }
            _ => {
                let number = value
                    .parse()
                    .map_err(|_| format!("{key} must be a whole number, got {value:?}"))?;
                limits.insert(key.into_owned(), number);
            }
        }
    }
    push.spec.limits =
        serde_json::from_value(json!(limits)).map_err(|e| format!("unknown or bad limit: {e}"))?;
    Ok(push)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_routes_access_source_and_limits() {
        let push = parse_query(
            "route=GET%20%2Fx&read=public.t&source=oci%3A%2F%2Fr.example%2Fh%3A1&memory_mib=8",
        )
        .unwrap();
        assert_eq!(push.spec.routes, ["GET /x"]);
        assert!(push.access_given);
        assert_eq!(push.spec.database.read, ["public.t"]);
        assert_eq!(push.source.as_deref(), Some("oci://r.example/h:1"));
        assert_eq!(push.spec.limits.memory_mib, Some(8));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for query in [
            "route=nope",
            "read=a;b",
            "memory_mib=lots",
            "colour=3",
            "source=oci://a/b&source=oci://a/c",
        ] {
            assert!(parse_query(query).is_err(), "{query}");
        }
    }
}
