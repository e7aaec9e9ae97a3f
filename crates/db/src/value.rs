//! The database layer's own vocabulary for what a statement takes and
//! gives back. It mirrors the WIT `db` interface case for case, so the
//! runtime converts between the two by moving values, never copying
//! their bytes; this crate itself knows nothing of wasm.

/// A statement parameter or a result cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// boolean
    Boolean(bool),
    /// smallint, integer and bigint (range-checked), or real/double.
    Int(i64),
    /// real and double precision.
    Float(f64),
    /// text, varchar, char and name.
    Text(String),
    /// bytea.
    Bytes(Vec<u8>),
    /// JSON text: json and jsonb.
    Json(String),
    /// PostGIS geometry or geography as EWKB.
    Geometry(Vec<u8>),
    /// A timestamp column as RFC 3339 text (columns only).
    Timestamp(String),
}

/// A statement's rows, each cell owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// Column names, in select-list order.
    pub columns: Vec<String>,
    /// The rows, one value per column.
    pub rows: Vec<Vec<Value>>,
}

/// A statement's rows packed into one buffer
/// (`geofn_contract::packed`), for large results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedRows {
    /// Column names, in select-list order.
    pub columns: Vec<String>,
    /// Number of rows in `cells`.
    pub count: u32,
    /// The cells, row after row.
    pub cells: Vec<u8>,
}

/// PostgreSQL's own report of why a statement failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryFailure {
    /// SQLSTATE, e.g. "23505" for a unique violation.
    pub code: String,
    /// The server's message.
    pub message: String,
    /// The constraint involved, when PostgreSQL names one.
    pub constraint: Option<String>,
}

/// Why a call on a handler's database session failed: what the handler
/// is told, so every message says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    /// No connection could be had in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A parameter's value does not fit the type PostgreSQL inferred.
    #[error("bad parameter: {0}")]
    BadParameter(String),
    /// Refused by the host before reaching PostgreSQL.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// PostgreSQL rejected or failed the statement.
    #[error("query failed ({}): {}", .0.code, .0.message)]
    QueryFailed(QueryFailure),
    /// A result column has a type with no [`Value`].
    #[error("unsupported type: {0}")]
    UnsupportedType(String),
}
