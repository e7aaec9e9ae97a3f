//! Where a pushed component comes from: the request body, or a registry.
//! A tag is resolved here, once, to the digest every replica then pulls;
//! the fleet stores the pinned reference, never the tag.

use std::sync::Arc;

use axum::body::to_bytes;
use axum::extract::Request;
use http::{StatusCode, header};
use sha2::Digest as _;

use geofn_handler_set::fleet::store::{Component, MAX_COMPONENT_BYTES};
use geofn_oci::{OciError, OciRef, Registry};

use crate::problem::Problem;

use super::answers::bad;

/// A pushed component, and how the fleet keeps it.
#[derive(Debug)]
pub struct Pushed {
    /// Its bytes.
    pub bytes: Arc<[u8]>,
    /// Hex SHA-256 of them.
    pub sha256: String,
    /// `oci://…@sha256:…` when pulled from a registry: stored instead of
    /// the bytes, and pulled by every replica.
    pub pinned: Option<String>,
}

impl Pushed {
    /// The form the fleet store keeps.
    pub fn stored(&self) -> Component<'_> {
        match &self.pinned {
            Some(reference) => Component::Reference(reference, self.bytes.len()),
            None => Component::Bytes(&self.bytes),
        }
    }
}

/// The component of `request`: its body, or, with `source`, the artifact
/// the source names (the body must then be empty).
pub async fn component(
    registry: &Registry,
    source: Option<&str>,
    request: Request,
) -> Result<Pushed, Problem> {
    let Some(source) = source else {
        let bytes = body(request).await?;
        let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
        return Ok(Pushed {
            bytes,
            sha256,
            pinned: None,
        });
    };
    let sent_a_body = to_bytes(request.into_body(), 0)
        .await
        .map_or(true, |bytes| !bytes.is_empty());
    if sent_a_body {
        return Err(bad(
            "give the component as the body or as source=oci://..., not both",
        ));
    }
    let reference = OciRef::parse(source).map_err(registry_problem)?;
    let pinned = registry
        .resolve(&reference)
        .await
        .map_err(registry_problem)?;
    let pulled = registry.pull(&pinned).await.map_err(registry_problem)?;
    tracing::info!(source = %reference, pinned = %pinned, cached = pulled.cached, "component pulled for a push");
    Ok(Pushed {
        bytes: pulled.bytes,
        sha256: pulled.sha256,
        pinned: Some(pinned.to_string()),
    })
}

/// An artifact that could not be had, as the pusher should hear it: their
/// mistake (4xx) or the registry's trouble (502).
pub fn registry_problem(err: OciError) -> Problem {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    Problem::new(
        status,
        &format!("oci-{}", err.label()),
        "Artifact unavailable",
        err.to_string(),
    )
}

/// The request body, within [`MAX_COMPONENT_BYTES`].
async fn body(request: Request) -> Result<Arc<[u8]>, Problem> {
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "component-too-large",
            "Component too large",
            format!("components are at most {MAX_COMPONENT_BYTES} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_COMPONENT_BYTES) {
        return Err(too_large());
    }
    let bytes = to_bytes(request.into_body(), MAX_COMPONENT_BYTES)
        .await
        .map_err(|_| too_large())?;
    if bytes.is_empty() {
        return Err(bad("the body must be the component (application/wasm)"));
    }
    Ok(Arc::from(&bytes[..]))
}
