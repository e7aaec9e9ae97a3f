//! Why a request was refused before its handler ran, in the words of
//! RFC 6750: what status, what `WWW-Authenticate` says, what the caller
//! reads. Nothing here names a secret or key material.

/// Why a presented token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Not three base64url parts with JSON in them.
    Malformed,
    /// Longer than any token an issuer makes.
    TooLong,
    /// `none`, an HMAC algorithm, or one the key is not for.
    Algorithm,
    /// No key of the issuer has its `kid`, even after asking again.
    UnknownKey,
    /// The signature does not verify (a forged or altered token).
    Signature,
    /// Past its `exp`, or without one.
    Expired,
    /// Before its `nbf`.
    NotYetValid,
    /// Another issuer's.
    Issuer,
    /// Meant for another audience.
    Audience,
}

/// Why a request did not get past the host's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The route needs a token and none was sent.
    Missing,
    /// The route needs a token and this host verifies none.
    NotConfigured,
    /// A token was sent and is not valid.
    Invalid(Invalid),
    /// The token is valid and lacks this scope.
    InsufficientScope(String),
}

impl Invalid {
    /// A short, stable label for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Invalid::Malformed => "malformed",
            Invalid::TooLong => "too-long",
            Invalid::Algorithm => "algorithm",
            Invalid::UnknownKey => "unknown-key",
            Invalid::Signature => "signature",
            Invalid::Expired => "expired",
            Invalid::NotYetValid => "not-yet-valid",
            Invalid::Issuer => "issuer",
            Invalid::Audience => "audience",
        }
    }

    fn detail(self) -> &'static str {
        match self {
            Invalid::Malformed => "the bearer token is not a well-formed JWT",
            Invalid::TooLong => "the bearer token is longer than any this server accepts",
            Invalid::Algorithm => "the token's algorithm is not one its issuer's key signs with",
            Invalid::UnknownKey => "the token names a signing key the issuer does not publish",
            Invalid::Signature => "the token's signature does not verify",
            Invalid::Expired => "the token has expired (or has no expiry)",
            Invalid::NotYetValid => "the token is not valid yet",
            Invalid::Issuer => "the token was issued by another issuer",
            Invalid::Audience => "the token is meant for another audience",
        }
    }
}

impl Refusal {
    /// Every label [`label`](Self::label) can give: metrics start at zero.
    pub const LABELS: &'static [&'static str] = &[
        "missing",
        "not-configured",
        "malformed",
        "too-long",
        "algorithm",
        "unknown-key",
        "signature",
        "expired",
        "not-yet-valid",
        "issuer",
        "audience",
        "insufficient-scope",
    ];

    /// A short, stable label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::NotConfigured => "not-configured",
            Refusal::Invalid(why) => why.label(),
            Refusal::InsufficientScope(_) => "insufficient-scope",
        }
    }

    /// 401 for no or a bad token, 403 for a good one without the scope.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::InsufficientScope(_) => 403,
            _ => 401,
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 §3): no error code when
    /// no token was sent, `invalid_token` or `insufficient_scope` otherwise.
    pub fn challenge(&self) -> String {
        const REALM: &str = "Bearer realm=\"geofn\"";
        match self {
            Refusal::Missing | Refusal::NotConfigured => REALM.to_owned(),
            Refusal::Invalid(why) => format!(
                "{REALM}, error=\"invalid_token\", error_description=\"{}\"",
                why.detail()
            ),
            Refusal::InsufficientScope(scope) => {
                format!("{REALM}, error=\"insufficient_scope\", scope=\"{scope}\"")
            }
        }
    }

    /// What the caller is told in the problem document.
    pub fn detail(&self) -> String {
        match self {
            Refusal::Missing => {
                "this route needs a bearer token: send Authorization: Bearer <JWT>".to_owned()
            }
            Refusal::NotConfigured => {
                "this route needs a bearer token, and this server is configured to verify none"
                    .to_owned()
            }
            Refusal::Invalid(why) => why.detail().to_owned(),
            Refusal::InsufficientScope(scope) => {
                format!("the token is valid but lacks the scope {scope:?} this route needs")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_is_listed_and_challenges_follow_rfc_6750() {
        let all = [
            Refusal::Missing,
            Refusal::NotConfigured,
            Refusal::Invalid(Invalid::Malformed),
            Refusal::Invalid(Invalid::TooLong),
            Refusal::Invalid(Invalid::Algorithm),
            Refusal::Invalid(Invalid::UnknownKey),
            Refusal::Invalid(Invalid::Signature),
            Refusal::Invalid(Invalid::Expired),
            Refusal::Invalid(Invalid::NotYetValid),
            Refusal::Invalid(Invalid::Issuer),
            Refusal::Invalid(Invalid::Audience),
            Refusal::InsufficientScope("w".into()),
        ];
        let labels: Vec<_> = all.iter().map(Refusal::label).collect();
        assert_eq!(labels, Refusal::LABELS);
        assert_eq!(Refusal::Missing.challenge(), "Bearer realm=\"geofn\"");
        assert!(
            Refusal::Invalid(Invalid::Expired)
                .challenge()
                .contains("error=\"invalid_token\"")
        );
        let scope = Refusal::InsufficientScope("points:write".into());
        assert_eq!(scope.status(), 403);
        assert!(
            scope
                .challenge()
                .contains("error=\"insufficient_scope\", scope=\"points:write\"")
        );
    }
}
