//! Handler artifacts through an OCI registry: what `geofn publish` writes
//! and what replicas pull. A fleet pins a digest and never follows a tag.
//!
//! - [`reference`]: references, `oci://REGISTRY/REPOSITORY`, by tag or digest.
//! - [`layout`]: the CNCF Wasm artifact layout, written and checked.
//! - [`registry`]: resolve, pull (verified, bounded, cached), publish.
//! - [`credentials`]: the auth files container tools write.
//! - [`error`]: why, with a label and a status.

#![deny(missing_docs)]

pub mod credentials;
pub mod error;
pub mod layout;
pub mod reference;
pub mod registry;

pub use error::OciError;
pub use reference::OciRef;
pub use registry::{Pulled, Registry, RegistrySettings};
