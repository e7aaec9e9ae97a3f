//! What a database span says about its statement: the operation, a short
//! low-cardinality summary (OpenTelemetry's `db.operation.name` and
//! `db.query.summary`), and the text with its literals masked
//! (`db.query.text`).
//!
//! Handlers send parameterised SQL and the values travel apart, never into
//! a span; a literal written into the text itself (`WHERE token = 'abc'`)
//! is masked too, so no value reaches a collector either way.

use std::borrow::Cow;

/// The longest `db.query.text` kept: a span is not a place for a
/// thousand-line statement.
pub const MAX_TEXT_BYTES: usize = 2048;

/// The statement's first keyword, upper case (`SELECT`, `INSERT`, `WITH`).
pub fn operation(sql: &str) -> String {
    words(sql).next().unwrap_or_default().to_ascii_uppercase()
}

/// `OPERATION target`: the operation and the first table it names after
/// `FROM`, `INTO`, `UPDATE` or `JOIN` (`SELECT points`, `INSERT
/// points.point`); the operation alone when there is none (`BEGIN`).
pub fn summary(sql: &str) -> String {
    let op = operation(sql);
    let mut words = words(sql).skip(if op == "UPDATE" { 0 } else { 1 });
    while let Some(word) = words.next() {
        let keyword = word.to_ascii_uppercase();
        if matches!(keyword.as_str(), "FROM" | "INTO" | "UPDATE" | "JOIN")
            && let Some(target) = words.next()
            && target.chars().next().is_some_and(is_identifier_start)
        {
            return format!("{op} {target}");
        }
    }
    op
}

/// The text with every string literal, dollar-quoted string and number
/// replaced by `?`, cut to [`MAX_TEXT_BYTES`]; `$1` placeholders,
/// identifiers and quoted identifiers stay.
pub fn masked(sql: &str) -> Cow<'_, str> {
    let bytes = sql.as_bytes();
    if !bytes
        .iter()
        .any(|b| b.is_ascii_digit() || *b == b'\'' || *b == b'$')
        && sql.len() <= MAX_TEXT_BYTES
    {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len().min(MAX_TEXT_BYTES));
    let mut i = 0;
    while i < bytes.len() && out.len() < MAX_TEXT_BYTES {
        let b = bytes[i];
        match b {
            b'\'' => {
                i = skip_quoted(bytes, i + 1, b'\'');
                out.push('?');
            }
            b'"' => {
                let end = skip_quoted(bytes, i + 1, b'"');
                out.push_str(&sql[i..end]);
                i = end;
            }
            b'$' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let end = i + 1 + count_while(&bytes[i + 1..], u8::is_ascii_digit);
                out.push_str(&sql[i..end]);
                i = end;
            }
            b'$' => match dollar_tag(bytes, i) {
                Some(tag_end) => {
                    let tag = &sql[i..tag_end];
                    i = sql[tag_end..]
                        .find(tag)
                        .map_or(bytes.len(), |at| tag_end + at + tag.len());
                    out.push('?');
                }
                None => {
                    out.push('$');
                    i += 1;
                }
            },
            b'0'..=b'9' => {
                i += count_while(&bytes[i..], |c| c.is_ascii_alphanumeric() || *c == b'.');
                out.push('?');
            }
            _ if is_identifier_byte(b) => {
                let end = i + count_while(&bytes[i..], |c| is_identifier_byte(*c) || *c == b'$');
                out.push_str(&sql[i..end]);
                i = end;
            }
            _ => {
                out.push(char::from(b));
                i += 1;
            }
        }
    }
    let mut cut = i < bytes.len();
    if out.len() > MAX_TEXT_BYTES {
        cut = true;
        let mut end = MAX_TEXT_BYTES;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    if cut {
        out.push('…');
    }
    Cow::Owned(out)
}

/// Words of the statement: runs of identifier characters and dots, quotes
/// kept, everything else a separator.
fn words(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '"')))
        .filter(|w| !w.is_empty())
}

fn is_identifier_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '"'
}

fn is_identifier_byte(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn count_while(bytes: &[u8], keep: impl Fn(&u8) -> bool) -> usize {
    bytes.iter().take_while(|b| keep(b)).count()
}

/// The index after the closing `quote` (a doubled quote is an escaped one).
fn skip_quoted(bytes: &[u8], mut i: usize, quote: u8) -> usize {
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// The end of a `$tag$` opening a dollar-quoted string at `start`.
fn dollar_tag(bytes: &[u8], start: usize) -> Option<usize> {
    let len = count_while(&bytes[start + 1..], |c| {
        is_identifier_byte(*c) || c.is_ascii_digit()
    });
    (bytes.get(start + 1 + len) == Some(&b'$')).then_some(start + len + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_and_summaries_name_the_statement_and_its_table() {
        let insert = "INSERT INTO points (geom) VALUES (ST_SetSRID(ST_MakePoint($1, $2), 4326))";
        assert_eq!(operation(insert), "INSERT");
        assert_eq!(summary(insert), "INSERT points");
        assert_eq!(
            summary("select id, ST_X(geom) from points.point where id > $1 limit 100"),
            "SELECT points.point"
        );
        assert_eq!(summary("update regions set name = $1"), "UPDATE regions");
        assert_eq!(summary("SELECT 1"), "SELECT");
        assert_eq!(summary("BEGIN"), "BEGIN");
        assert_eq!(summary("  "), "");
    }

    #[test]
    fn literals_are_masked_and_placeholders_kept() {
        assert_eq!(
            masked("SELECT * FROM t WHERE token = 'sec''ret' AND n > 42 AND id = $1"),
            "SELECT * FROM t WHERE token = ? AND n > ? AND id = $1"
        );
        assert_eq!(
            masked("SELECT $fn$ body 'x' $fn$, \"Col1\", ST_X(geom), 1.5e3"),
            "SELECT ?, \"Col1\", ST_X(geom), ?"
        );
        let plain = "SELECT id FROM points";
        assert!(matches!(masked(plain), Cow::Borrowed(text) if text == plain));
    }

    #[test]
    fn long_statements_are_cut_on_a_character_boundary() {
        let long = format!("SELECT '{}' , {}", "x".repeat(10), "é".repeat(4000));
        let text = masked(&long);
        assert!(
            text.len() <= MAX_TEXT_BYTES + '…'.len_utf8(),
            "{}",
            text.len()
        );
        assert!(text.starts_with("SELECT ? , é"));
        assert!(text.ends_with('…'));
    }
}
