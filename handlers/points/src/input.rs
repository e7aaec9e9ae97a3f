//! Validation of everything a client sends, before any database call.

use geofn_guest::Request;
use geofn_guest::error::{Error, Result};
use geofn_guest::router::Ctx;
use serde_json::Value;

use crate::bounds::MAX_NAME_CHARS;

/// A point as a client asks to store it.
#[derive(Debug, PartialEq)]
pub struct NewPoint {
    pub name: String,
    pub longitude: f64,
    pub latitude: f64,
}

/// Parses and checks a `POST /point` body.
pub fn new_point(request: &Request) -> Result<NewPoint> {
    if !request.body_may_be_json() {
        return Err(Error::new(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    let body: Value = serde_json::from_slice(&request.body).map_err(|err| {
        Error::new(
            400,
            "malformed-json",
            "Malformed JSON",
            format!("the body is not valid JSON: {err}"),
        )
    })?;
    let Value::Object(fields) = body else {
        return Err(Error::new(
            400,
            "malformed-json",
            "Malformed JSON",
            "the body must be a JSON object with longitude, latitude and name",
        ));
    };
    let longitude = coordinate(&fields, "longitude", 180.0)?;
    let latitude = coordinate(&fields, "latitude", 90.0)?;
    let name = name(&fields)?;
    Ok(NewPoint {
        name,
        longitude,
        latitude,
    })
}

fn coordinate(fields: &serde_json::Map<String, Value>, field: &str, bound: f64) -> Result<f64> {
    let value = match fields.get(field) {
        None | Some(Value::Null) => return Err(bad(field, format!("{field} is required"))),
        Some(Value::Number(n)) => n.as_f64(),
        Some(_) => None,
    };
    let Some(value) = value.filter(|v| v.is_finite()) else {
        return Err(bad(field, format!("{field} must be a finite number")));
    };
    if !(-bound..=bound).contains(&value) {
        return Err(bad(
            field,
            format!("{field} must be between -{bound} and {bound}, got {value}"),
        ));
    }
    Ok(value)
}

fn name(fields: &serde_json::Map<String, Value>) -> Result<String> {
    let name = match fields.get("name") {
        None | Some(Value::Null) => return Err(bad("name", "name is required")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(bad("name", "name must be a string")),
    };
    if name.trim().is_empty() {
        return Err(bad("name", "name must not be empty"));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(bad(
            "name",
            format!("name must be at most {MAX_NAME_CHARS} characters, got {chars}"),
        ));
    }
    if name.contains('\0') {
        // PostgreSQL text cannot hold NUL; say so instead of failing later.
        return Err(bad("name", "name must not contain NUL characters"));
    }
    Ok(name.clone())
}

/// The `{id}` of the route: a positive integer.
pub fn point_id(ctx: &Ctx) -> Result<i64> {
    match ctx.param::<i64>("id") {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(bad(
            "id",
            format!(
                "a point id is a positive integer, got {:?}",
                ctx.request.path
            ),
        )),
    }
}

fn bad(parameter: &str, detail: impl Into<String>) -> Error {
    Error::bad_parameter(parameter, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_id(raw: &str) -> Ctx {
        Ctx::new(
            request(""),
            "/points/{id}".into(),
            vec![("id".into(), raw.into())],
        )
    }

    #[test]
    fn ids_are_positive_integers() {
        assert_eq!(point_id(&by_id("42")).ok(), Some(42));
        for bad in ["0", "-1", "x", "", "9223372036854775808"] {
            assert!(point_id(&by_id(bad)).is_err(), "{bad}");
        }
    }

    fn request(body: &str) -> Request {
        Request {
            method: "POST".into(),
            path: "/point".into(),
            query: String::new(),
            headers: vec![(
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_valid_body_parses_and_integers_count_as_coordinates() {
        let point = new_point(&request(
            r#"{"longitude": 2, "latitude": -0.5, "name": "P"}"#,
        ))
        .ok();
        assert_eq!(
            point,
            Some(NewPoint {
                name: "P".into(),
                longitude: 2.0,
                latitude: -0.5
            })
        );
    }

    #[test]
    fn out_of_range_and_wrong_types_are_refused() {
        for body in [
            r#"{"longitude": 180.5, "latitude": 0, "name": "P"}"#,
            r#"{"longitude": 0, "latitude": "0", "name": "P"}"#,
            r#"{"longitude": 0, "latitude": 0, "name": ["P"]}"#,
            r#"{"longitude": 0, "latitude": 0}"#,
        ] {
            let refused = new_point(&request(body)).err().map(|e| e.problem().status);
            assert_eq!(refused, Some(400), "{body}");
        }
    }
}
