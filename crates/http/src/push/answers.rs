//! The problems a push or rollback answers with.

use http::StatusCode;

use geofn_handler_set::fleet::store::StoreError;

use crate::problem::Problem;

/// The push itself is malformed.
pub fn bad(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-push",
        "Invalid push",
        detail,
    )
}

/// The component would not load.
pub fn refused(reason: &str, detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        &format!("component-{reason}"),
        "Component refused",
        detail,
    )
}

/// The fleet store failed or found nothing.
pub fn store_failure(err: StoreError) -> Problem {
    match err {
        StoreError::NoSuchVersion(detail) => Problem::new(
            StatusCode::NOT_FOUND,
            "no-such-version",
            "No such version",
            detail,
        ),
        StoreError::Unavailable(detail) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "Database unavailable",
            detail,
        )
        .retry_after(1),
        StoreError::Pull(detail) => Problem::new(
            StatusCode::BAD_GATEWAY,
            "oci-pull",
            "Artifact unavailable",
            detail,
        ),
        other => {
            tracing::error!(error = %other, "fleet store failed");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store-failed",
                "Store failed",
                "the version could not be stored",
            )
        }
    }
}
