//! Every way out of its database role the probe knows, each reported as refused or not.

use geofn_guest::db;
use geofn_guest::http::{self, Problem};
use geofn_guest::{Request, Response};
use serde_json::json;

use crate::args::param;

/// Each way out of the handler's database role this probe knows; `{host}`
/// and `{marker}` are replaced with the host's role and a file prefix.
const ESCAPES: &[(&str, &str)] = &[
    ("set-role", r#"SET ROLE "{host}""#),
    (
        "set-role-in-do",
        r#"DO $$ BEGIN EXECUTE 'SET ROLE "{host}"'; END $$"#,
    ),
    (
        "set-config-role",
        "SELECT set_config('role', '{host}', false)",
    ),
    (
        "set-session-authorization",
        r#"SET SESSION AUTHORIZATION "{host}""#,
    ),
    (
        "set-session-authorization-in-do",
        r#"DO $$ BEGIN EXECUTE 'SET SESSION AUTHORIZATION "{host}"'; END $$"#,
    ),
    (
        "set-config-session-authorization",
        "SELECT set_config('session_authorization', '{host}', false)",
    ),
    (
        "copy-to-program",
        "COPY (SELECT 1) TO PROGRAM 'id > {marker}-program'",
    ),
    (
        "copy-to-program-in-do",
        "DO $$ BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''id > {marker}-do-program'''; END $$",
    ),
    (
        "copy-to-file-in-do",
        "DO $$ BEGIN EXECUTE 'COPY (SELECT 1) TO ''{marker}-file'''; END $$",
    ),
    (
        "copy-from-file-in-do",
        "DO $$ BEGIN CREATE TEMP TABLE IF NOT EXISTS stolen (line text); \
         EXECUTE 'COPY stolen FROM ''/etc/passwd'''; END $$",
    ),
    ("pg-read-file", "SELECT pg_read_file('/etc/passwd')"),
    (
        "pg-read-binary-file",
        "SELECT pg_read_binary_file('/etc/passwd')",
    ),
    ("pg-ls-dir", "SELECT pg_ls_dir('.')"),
    ("pg-stat-file", "SELECT pg_stat_file('/etc/passwd')"),
    ("lo-import", "SELECT lo_import('/etc/passwd')"),
    (
        "lo-export",
        "SELECT lo_export(lo_from_bytea(0, 'x'::bytea), '{marker}-lo')",
    ),
    (
        "read-host-versions",
        "SELECT count(*) FROM geofn_handler_versions",
    ),
    (
        "write-host-versions",
        "INSERT INTO geofn_handler_versions (name, version, sha256, component, routes, active) \
         VALUES ('evil', 99, 'x', '\\x00'::bytea, '{}', true)",
    ),
    (
        "activate-host-version",
        "UPDATE geofn_handler_versions SET active = true",
    ),
    ("read-host-secret", "SELECT value FROM geofn_secrets"),
    (
        "read-host-migrations",
        "SELECT count(*) FROM geofn_migrations",
    ),
    ("drop-host-table", "DROP TABLE geofn_handler_versions"),
    ("notify-fleet", "NOTIFY geofn_handlers, 'probe'"),
    (
        "pg-notify-fleet",
        "SELECT pg_notify('geofn_handlers', 'probe')",
    ),
    (
        "create-role",
        "CREATE ROLE evil LOGIN SUPERUSER PASSWORD 'evil'",
    ),
    ("alter-self-superuser", "ALTER ROLE CURRENT_USER SUPERUSER"),
    (
        "alter-self-createrole",
        "ALTER ROLE CURRENT_USER CREATEROLE",
    ),
    ("alter-self-bypassrls", "ALTER ROLE CURRENT_USER BYPASSRLS"),
    (
        "alter-self-connection-limit",
        "ALTER ROLE CURRENT_USER CONNECTION LIMIT 1000",
    ),
    ("grant-host-role", r#"GRANT "{host}" TO CURRENT_USER"#),
    (
        "grant-server-files",
        "GRANT pg_read_server_files TO CURRENT_USER",
    ),
    (
        "grant-server-programs",
        "GRANT pg_execute_server_program TO CURRENT_USER",
    ),
    ("create-database", "CREATE DATABASE evil"),
    ("create-extension", "CREATE EXTENSION IF NOT EXISTS dblink"),
    (
        "create-trusted-extension",
        "CREATE EXTENSION IF NOT EXISTS pgcrypto",
    ),
    ("create-in-public", "CREATE TABLE public.evil (x int)"),
    ("create-schema", "CREATE SCHEMA evil"),
    (
        "create-c-function",
        "CREATE FUNCTION evil_system(cstring) RETURNS int AS 'libc.so.6', 'system' LANGUAGE C",
    ),
    (
        "load-library-in-do",
        "DO $$ BEGIN EXECUTE 'LOAD ''auto_explain'''; END $$",
    ),
    ("alter-system", "ALTER SYSTEM SET log_statement = 'all'"),
    (
        "terminate-host",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{host}'",
    ),
    ("read-password-hashes", "SELECT rolpassword FROM pg_authid"),
    // The points handler's table, in its schema.
    (
        "read-undeclared-table",
        "SELECT count(*) FROM points.points",
    ),
    ("write-undeclared-table", "DELETE FROM points.points"),
    (
        "create-in-another-schema",
        "CREATE TABLE points.evil (x int)",
    ),
];

/// Reads of what the handler's role must not see, through `query-json`.
const JSON_READS: &[(&str, &str)] = &[
    (
        "json-read-host-versions",
        "SELECT name, sha256 FROM geofn_handler_versions",
    ),
    (
        "json-read-password-hashes",
        "SELECT rolname, rolpassword FROM pg_authid",
    ),
];

/// Runs every attempt of [`ESCAPES`] and [`JSON_READS`]; each should come back refused. Then
/// sends the one thing any role may do, a `NOTIFY` on the fleet's channel,
/// hidden from the host's own check: it runs, and replicas must ignore it.
pub fn escape(request: &Request) -> Response {
    let host = param(request, "host_role").unwrap_or_else(|| "postgres".into());
    let marker = param(request, "marker").unwrap_or_else(|| "/tmp/geofn-escape".into());
    let plain = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-@/.".contains(&b))
    };
    if !plain(&host) || !plain(&marker) {
        return Problem::new(400, "bad-parameter", "Bad parameter", "plain names only")
            .into_response();
    }
    let mut outcomes = serde_json::Map::new();
    for (name, template) in ESCAPES {
        let sql = template
            .replace("{host}", &host)
            .replace("{marker}", &marker);
        let outcome = match db::execute(&sql, &[]) {
            Ok(rows) => json!({ "refused": false, "rows": rows }),
            Err(err) => json!({ "refused": true, "error": format!("{err:?}") }),
        };
        outcomes.insert((*name).to_owned(), outcome);
    }
    // The same reads through `query-json`, whose rows the host renders:
    // confined exactly as `execute` and `query` are.
    for (name, sql) in JSON_READS {
        let outcome = match db::query_json(sql, &[]) {
            Ok(body) => json!({ "refused": false, "body": String::from_utf8_lossy(&body) }),
            Err(err) => json!({ "refused": true, "error": format!("{err:?}") }),
        };
        outcomes.insert((*name).to_owned(), outcome);
    }
    let hidden_notify = "DO $$ BEGIN EXECUTE 'NOTI' || 'FY geofn_handlers, ''probe'''; END $$";
    let sent = db::execute(hidden_notify, &[]).map_err(|e| format!("{e:?}"));
    http::json(
        200,
        &json!({ "attempts": outcomes, "hidden_notify": format!("{sent:?}") }),
    )
}
