//! Why an artifact could not be published or had, with a stable label per
//! reason and the HTTP status a push answers with.

/// Why an artifact could not be published or had.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// Not an artifact reference this host accepts.
    #[error("bad artifact reference {0}")]
    Reference(String),
    /// The registry did not answer (network, TLS, timeout).
    #[error("the registry does not answer: {0}")]
    Unreachable(String),
    /// The registry refused the credentials, or needs some.
    #[error("the registry refused access: {0}")]
    Denied(String),
    /// The registry has no such artifact.
    #[error("the registry has no {0}")]
    NotFound(String),
    /// The bytes are not the ones the digest names.
    #[error("the artifact's bytes do not match its digest: {0}")]
    DigestMismatch(String),
    /// Not a Wasm component artifact of the CNCF layout.
    #[error("not a Wasm component artifact: {0}")]
    Layout(String),
    /// Larger than a component may be.
    #[error("the component is {size} bytes; components are at most {max} bytes")]
    TooLarge {
        /// Its size, as declared or as read so far.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Anything else the registry answered.
    #[error("the registry failed: {0}")]
    Registry(String),
}

impl OciError {
    /// Every `result` of `geofn_oci_pulls_total`: the successes, then
    /// every [`label`](Self::label).
    pub const RESULTS: &'static [&'static str] = &[
        "pulled",
        "cached",
        "reference",
        "unreachable",
        "denied",
        "not-found",
        "digest-mismatch",
        "layout",
        "too-large",
        "registry",
    ];

    /// A short, stable label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            OciError::Reference(_) => "reference",
            OciError::Unreachable(_) => "unreachable",
            OciError::Denied(_) => "denied",
            OciError::NotFound(_) => "not-found",
            OciError::DigestMismatch(_) => "digest-mismatch",
            OciError::Layout(_) => "layout",
            OciError::TooLarge { .. } => "too-large",
            OciError::Registry(_) => "registry",
        }
    }

    /// The status a push answers with: the caller's mistake (4xx) or the
    /// registry's trouble (502).
    pub fn status(&self) -> u16 {
        match self {
            OciError::Reference(_) => 400,
            OciError::NotFound(_) => 404,
            OciError::Layout(_) | OciError::DigestMismatch(_) => 422,
            OciError::TooLarge { .. } => 413,
            OciError::Unreachable(_) | OciError::Denied(_) | OciError::Registry(_) => 502,
        }
    }

    /// What the client library said, sorted into a reason.
    pub(crate) fn from_client(err: oci_client::errors::OciDistributionError) -> Self {
        use oci_client::errors::OciDistributionError as E;
        let text = err.to_string();
        match err {
            E::AuthenticationFailure(_) | E::UnauthorizedError { .. } => OciError::Denied(text),
            E::ImageManifestNotFoundError(_) => OciError::NotFound(text),
            E::RequestError(inner) if inner.is_connect() || inner.is_timeout() => {
                OciError::Unreachable(text)
            }
            E::DigestError(_) => OciError::DigestMismatch(text),
            E::ServerError {
                code: 401 | 403, ..
            } => OciError::Denied(text),
            E::ServerError { code: 404, .. } => OciError::NotFound(text),
            E::RegistryError { envelope, .. }
                if envelope.errors.iter().any(|e| {
                    matches!(
                        e.code,
                        oci_client::errors::OciErrorCode::ManifestUnknown
                            | oci_client::errors::OciErrorCode::BlobUnknown
                            | oci_client::errors::OciErrorCode::NameUnknown
                    )
                }) =>
            {
                OciError::NotFound(text)
            }
            E::RegistryError { envelope, .. }
                if envelope.errors.iter().any(|e| {
                    matches!(
                        e.code,
                        oci_client::errors::OciErrorCode::Unauthorized
                            | oci_client::errors::OciErrorCode::Denied
                    )
                }) =>
            {
                OciError::Denied(text)
            }
            other if other.to_string().contains("error sending request") => {
                OciError::Unreachable(other.to_string())
            }
            other => OciError::Registry(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_is_a_counted_result() {
        let every = [
            OciError::Reference(String::new()),
            OciError::Unreachable(String::new()),
            OciError::Denied(String::new()),
            OciError::NotFound(String::new()),
            OciError::DigestMismatch(String::new()),
            OciError::Layout(String::new()),
            OciError::TooLarge { size: 2, max: 1 },
            OciError::Registry(String::new()),
        ];
        for err in every {
            assert!(OciError::RESULTS.contains(&err.label()), "{err}");
        }
    }
}
