//! What the points API accepts at most: what the handler checks and what
//! `build.rs` documents, from one place.

use pointquery::filter::Limits;

/// `limit` bounds of `GET /points`: 100 by default, at most 10,000.
pub const LIMITS: Limits = Limits {
    default: 100,
    max: 10_000,
};

/// Longest name, in characters: the guide's `VARCHAR(100)`.
pub const MAX_NAME_CHARS: usize = 100;
