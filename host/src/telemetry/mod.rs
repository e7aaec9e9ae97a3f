//! What the host tells operators: Prometheus metrics and request ids.
//!
//! - [`metrics`]: metric names, recording helpers, and the `/metrics` text.
//! - [`request_id`]: `X-Request-Id`, kept from the client or minted here.

pub mod metrics;
pub mod request_id;
