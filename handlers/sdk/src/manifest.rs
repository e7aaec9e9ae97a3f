//! The handler's own manifest, embedded in its component: name, routes,
//! limits, database access and schema migrations travel with the code as
//! one artifact (the host reads the `geofn-handler` custom section).
//!
//! ```ignore
//! geofn_guest::handler_manifest!(include_str!("../geofn-handler.toml"));
//! ```

/// `text` as a byte array of its own length, at compile time.
pub const fn bytes<const N: usize>(text: &str) -> [u8; N] {
    let source = text.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = source[i];
        i += 1;
    }
    out
}

/// Embeds a manifest (TOML text, usually `include_str!` of the crate's
/// `geofn-handler.toml`) in the component, where the host finds it.
#[macro_export]
macro_rules! handler_manifest {
    ($text:expr) => {
        $crate::embed_section!("geofn-handler", $text);
    };
}

/// `text` as a custom section named `name` of the component: how a
/// handler's manifest and OpenAPI fragment travel inside its `.wasm`.
#[doc(hidden)]
#[macro_export]
macro_rules! embed_section {
    ($name:literal, $text:expr) => {
        const _: () = {
            const TEXT: &str = $text;
            #[allow(unsafe_code)]
            #[unsafe(link_section = $name)]
            #[used]
            static SECTION: [u8; TEXT.len()] = $crate::manifest::bytes(TEXT);
        };
    };
}

/// Embeds the handler's part of the service's OpenAPI document (JSON: an
/// OpenAPI 3.0 document or just its `paths` and `components`, keyed by the
/// routes' paths as the manifest writes them), where the host finds it to
/// serve `GET /api`. Optional: without it the routes still appear, with
/// their path parameters and problem answers.
///
/// ```ignore
/// geofn_guest::handler_openapi!(include_str!("../openapi.json"));
/// ```
#[macro_export]
macro_rules! handler_openapi {
    ($text:expr) => {
        $crate::embed_section!("geofn-openapi", $text);
    };
}
