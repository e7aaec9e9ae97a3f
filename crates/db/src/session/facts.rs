//! What a statement cost around its own run, for its trace span.

/// What the last statement cost around its own run, for its trace span:
/// how long it waited for a pooled connection, where it ran, and how many
/// rows it returned when the answer no longer says (rendered as JSON).
#[derive(Debug, Clone, Copy, Default)]
pub struct CallFacts {
    /// Time spent checking a connection out of the pool (zero when the
    /// lane already held one).
    pub pool_wait: std::time::Duration,
    /// It ran on the read replica (else on the primary).
    pub on_replica: bool,
    /// Rows behind an answer rendered as one JSON array: counted where
    /// they are rendered, so the span need not scan the JSON again.
    pub rendered_rows: Option<u64>,
}
