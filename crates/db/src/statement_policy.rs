//! What SQL a handler may send, judged from its text before it reaches
//! PostgreSQL. Not the security boundary (the handler's role is, see
//! [`crate::roles`]): this gives clear `forbidden` errors for statements
//! that would break the pooling contract or reach beyond the data, and
//! spots statements that leave state on their connection.

use crate::value::DbError;

/// Statements that would leave transaction or session state on a connection
/// other requests reuse; handlers get `db-error::forbidden` for them.
const SESSION_KEYWORDS: &[&str] = &[
    "BEGIN",
    "START",
    "COMMIT",
    "END",
    "ROLLBACK",
    "ABORT",
    "SAVEPOINT",
    "RELEASE",
    "PREPARE",
    "SET",
    "RESET",
    "LISTEN",
    "UNLISTEN",
    "DISCARD",
    "DEALLOCATE",
];

/// Statements that reach beyond the database's data: files and programs
/// on the server (`COPY`), server libraries (`LOAD`), other sessions and
/// the fleet's channel (`NOTIFY`). The handler's role is refused all of it
/// by PostgreSQL anyway; refusing them here first gives a clear error and
/// a second wall.
const OUTSIDE_KEYWORDS: &[&str] = &["COPY", "LOAD", "NOTIFY"];

/// Function names refused for the same reason, wherever they appear.
const OUTSIDE_FUNCTIONS: &[&str] = &["pg_notify"];

/// Fragments of statements that leave state behind on a connection beyond
/// the statement itself (settings, session-level advisory locks, temporary
/// tables, cursors). A session that ran one is reset before its connection
/// is reused. Data-only statements — nearly all — cost nothing extra.
const SESSION_STATE_MARKERS: &[&str] = &[
    "set_config",
    "pg_advisory_lock",
    "pg_try_advisory_lock",
    "temporary",
    "temp ",
    "declare",
];

/// Whether `sql` may leave state on its connection: one of the markers, or
/// an anonymous code block (which can run anything).
pub fn leaves_session_state(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    first_keyword(sql).eq_ignore_ascii_case("DO")
        || SESSION_STATE_MARKERS.iter().any(|m| lower.contains(m))
}

/// Refuses session control and statements that reach beyond the data.
pub fn refuse(sql: &str) -> Result<(), DbError> {
    let keyword = first_keyword(sql);
    let is = |list: &[&str]| list.iter().any(|k| k.eq_ignore_ascii_case(keyword));
    if is(SESSION_KEYWORDS) {
        return Err(DbError::Forbidden(format!(
            "{} is transaction or session control; each db call runs in its own \
             transaction on a shared connection",
            keyword.to_ascii_uppercase()
        )));
    }
    if is(OUTSIDE_KEYWORDS) {
        return Err(DbError::Forbidden(format!(
            "{} reaches beyond the handler's tables; handlers may not run it",
            keyword.to_ascii_uppercase()
        )));
    }
    let lower = sql.to_ascii_lowercase();
    if lower.contains("request.jwt") && lower.contains("set_config") {
        return Err(DbError::Forbidden(
            "request.jwt.claims is set by the host from the caller's verified token; \
             handlers may read it, not set it"
                .to_owned(),
        ));
    }
    if let Some(function) = OUTSIDE_FUNCTIONS.iter().find(|f| lower.contains(*f)) {
        return Err(DbError::Forbidden(format!(
            "{function} reaches beyond the handler's tables; handlers may not call it"
        )));
    }
    Ok(())
}

/// The first word of a statement, after whitespace and comments.
fn first_keyword(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, tail)| tail);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, tail)| tail);
        } else {
            break;
        }
    }
    let end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    &rest[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_keyword_skips_comments() {
        assert_eq!(first_keyword("  -- hi\n /* x */ begin;"), "begin");
        assert_eq!(first_keyword("SELECT 1"), "SELECT");
        assert_eq!(first_keyword(""), "");
    }

    #[test]
    fn session_state_is_spotted() {
        assert!(leaves_session_state("SELECT set_config('a', 'b', false)"));
        assert!(leaves_session_state("select PG_ADVISORY_LOCK(1)"));
        assert!(leaves_session_state("CREATE TEMP TABLE t (a int)"));
        assert!(!leaves_session_state("SELECT pg_advisory_xact_lock(1)"));
        assert!(!leaves_session_state(
            "INSERT INTO points (name) VALUES ($1)"
        ));
    }

    #[test]
    fn session_control_and_the_outside_are_refused() {
        for sql in [
            "/**/ SET search_path = x",
            "copy (select 1) to program 'id'",
            "NOTIFY geofn_handlers",
            "SELECT PG_NOTIFY('geofn_handlers', 'x')",
            "LOAD 'plugin'",
            "SELECT set_config('request.jwt.claims', '{}', false)",
            "select SET_CONFIG('Request.JWT.claims', $1, true)",
        ] {
            assert!(matches!(refuse(sql), Err(DbError::Forbidden(_))), "{sql}");
        }
        assert!(refuse("select * from settings").is_ok());
        assert!(refuse("UPDATE t SET a = 1").is_ok());
        assert!(refuse("SELECT copy_count FROM loads").is_ok());
    }
}
