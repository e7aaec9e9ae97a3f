//! RFC 9457 problem documents: the body of every error, whether the host or
//! a handler answers it. `type` is a stable URN clients branch on;
//! `detail` is for people and never carries internals.

use serde::{Deserialize, Serialize};

/// Media type of problem documents.
pub const CONTENT_TYPE: &str = "application/problem+json";
/// Prefix of every problem type geofn defines: `urn:geofn:problem:{slug}`.
pub const TYPE_PREFIX: &str = "urn:geofn:problem:";

/// A problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// `urn:geofn:problem:{slug}`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary, the same for every problem of this kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// The request parameter or body field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

impl Problem {
    /// A problem of kind `urn:geofn:problem:{slug}`.
    pub fn new(status: u16, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("{TYPE_PREFIX}{slug}"),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            parameter: None,
        }
    }

    /// The same problem, naming the parameter or field at fault.
    pub fn with_parameter(mut self, parameter: &str) -> Self {
        self.parameter = Some(parameter.to_owned());
        self
    }

    /// The slug of a geofn problem type (`not-found` of
    /// `urn:geofn:problem:not-found`).
    pub fn slug(&self) -> Option<&str> {
        self.kind.strip_prefix(TYPE_PREFIX)
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_has_the_rfc_9457_members() {
        let problem = Problem::new(400, "invalid-parameter", "Invalid parameter", "limit: 0")
            .with_parameter("limit");
        let json: serde_json::Value = serde_json::from_slice(&problem.to_json()).unwrap();
        assert_eq!(json["type"], "urn:geofn:problem:invalid-parameter");
        assert_eq!(json["status"], 400);
        assert_eq!(json["parameter"], "limit");
        assert_eq!(problem.slug(), Some("invalid-parameter"));
        let plain = Problem::new(404, "not-found", "Not found", "no such point");
        assert!(
            !String::from_utf8(plain.to_json())
                .unwrap()
                .contains("parameter")
        );
    }
}
