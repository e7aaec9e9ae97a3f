//! What a handler may be called, and how its manifest names tables: the
//! name is also its database schema, a metric label and part of URLs, so
//! both sides check it the same way.

/// Schemas a handler's own schema must not be: they exist in every database.
const RESERVED_SCHEMAS: &[&str] = &["public", "information_schema"];

/// Whether a handler name is usable in files, URLs and metric labels, and
/// as the name of the handler's own schema: PostgreSQL's identifier limit
/// is 63 bytes, and the schemas every database already has are not free.
pub fn valid_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !RESERVED_SCHEMAS.contains(&name)
        && !name.starts_with("pg_")
}

/// Whether `name` is a handler name or `schema.table`, each part of the
/// latter a plain lower-case SQL identifier (nothing to escape).
pub fn valid_table(name: &str) -> bool {
    let plain = |part: &str| {
        (1..=63).contains(&part.len())
            && part.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    match name.split_once('.') {
        Some((schema, table)) => plain(schema) && plain(table),
        None => valid_name(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_and_not_the_databases_own() {
        assert!(valid_name("points"));
        assert!(valid_name("few-instances"));
        for bad in ["", "A", "a b", "public", "pg_x", "information_schema"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(valid_table("other.places"));
        for bad in ["Points", "a.b.c", "x; drop", "\"q\"", "", "public", "a.B"] {
            assert!(!valid_table(bad), "{bad}");
        }
    }
}
