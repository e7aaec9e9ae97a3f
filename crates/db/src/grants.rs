//! What a handler's role may reach beyond its own schema: exactly what its
//! manifest's `[database]` section lists, nothing more, set again at every
//! load so that a narrower manifest takes access away.
//!
//! - `read = ["points"]`: another handler's schema, every table in it now
//!   and later (`SELECT`); `write = [...]` adds `INSERT`, `UPDATE`,
//!   `DELETE` and the use of its sequences.
//! - `read = ["schema.table"]`: one table of any schema.
//!
//! Other handlers' schemas come first on the role's search path, after its
//! own, so its SQL names their tables unqualified.

use deadpool_postgres::{Object, Transaction};

use crate::roles::{HandlerRole, RoleError, check, ident, role_name};
use geofn_contract::access::DatabaseAccess;

/// Arbitrary constant key of the advisory lock that serialises grants
/// across replicas ("geofngrn" in ASCII).
const GRANT_LOCK: i64 = 0x6765_6f66_6e67_726e;

/// What one entry of `[database]` names.
enum Target<'a> {
    /// All of another handler's schema.
    Handler(&'a str),
    /// One table: schema and name.
    Table(&'a str, &'a str),
}

fn target(entry: &str) -> Target<'_> {
    match entry.split_once('.') {
        Some((schema, table)) => Target::Table(schema, table),
        None => Target::Handler(entry),
    }
}

/// Revokes whatever `role` holds outside its own schema, grants what
/// `access` lists, sets its search path, and checks the role again.
pub async fn apply(
    client: &mut Object,
    role: &HandlerRole,
    access: &DatabaseAccess,
    database: &str,
) -> Result<(), RoleError> {
    let tx = crate::lock::locked_transaction(client, GRANT_LOCK)
        .await
        .map_err(role.failed("starting to set its grants"))?;
    revoke_all(&tx, role).await?;
    let mut search_path = vec![ident(&role.schema)];
    let entries = access
        .read
        .iter()
        .map(|e| (e, false))
        .chain(access.write.iter().map(|e| (e, true)));
    for (entry, write) in entries {
        let sql = match target(entry) {
            Target::Handler(handler) => {
                let owner = role_name(handler, database);
                let sql = "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)";
                exists(&tx, role, entry, sql, &owner).await?;
                let sql = "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)";
                exists(&tx, role, entry, sql, handler).await?;
                if !search_path.contains(&ident(handler)) {
                    search_path.push(ident(handler));
                }
                schema_grants(&role.role, &owner, handler, write)
            }
            Target::Table(schema, table) => {
                let qualified = format!("{}.{}", ident(schema), ident(table));
                let sql = "SELECT to_regclass($1) IS NOT NULL";
                exists(&tx, role, entry, sql, &qualified).await?;
                table_grants(&tx, role, &qualified, schema, write).await?
            }
        };
        tx.batch_execute(&sql)
            .await
            .map_err(role.failed("granting what its manifest lists"))?;
    }
    search_path.push("public".to_owned());
    tx.batch_execute(&format!(
        "ALTER ROLE {} SET search_path = {}",
        ident(&role.role),
        search_path.join(", ")
    ))
    .await
    .map_err(role.failed("setting its search path"))?;
    check(&tx, role).await?;
    tx.commit()
        .await
        .map_err(role.failed("committing its grants"))
}

/// Fails with [`RoleError::NoSuchTable`] unless `sql` answers true.
async fn exists(
    tx: &Transaction<'_>,
    role: &HandlerRole,
    entry: &str,
    sql: &str,
    name: &str,
) -> Result<(), RoleError> {
    let found: bool = tx
        .query_one(sql, &[&name])
        .await
        .map_err(role.failed("looking up what its manifest lists"))?
        .get(0);
    if found {
        Ok(())
    } else {
        Err(RoleError::NoSuchTable {
            handler: role.handler.clone(),
            table: entry.to_owned(),
        })
    }
}

/// Every table and sequence of `schema` (a handler's, owned by `owner`),
/// now and later.
fn schema_grants(grantee: &str, owner: &str, schema: &str, write: bool) -> String {
    let (tables, sequences) = if write {
        ("SELECT, INSERT, UPDATE, DELETE", "USAGE, SELECT")
    } else {
        ("SELECT", "SELECT")
    };
    let (grantee, owner, schema) = (ident(grantee), ident(owner), ident(schema));
    format!(
        "GRANT USAGE ON SCHEMA {schema} TO {grantee}; \
         GRANT {tables} ON ALL TABLES IN SCHEMA {schema} TO {grantee}; \
         GRANT {sequences} ON ALL SEQUENCES IN SCHEMA {schema} TO {grantee}; \
         ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} \
           GRANT {tables} ON TABLES TO {grantee}; \
         ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} \
           GRANT {sequences} ON SEQUENCES TO {grantee};"
    )
}

/// One table, with the sequences its columns draw from when writing.
async fn table_grants(
    tx: &Transaction<'_>,
    role: &HandlerRole,
    qualified: &str,
    schema: &str,
    write: bool,
) -> Result<String, RoleError> {
    let name = ident(&role.role);
    let privileges = if write {
        "SELECT, INSERT, UPDATE, DELETE"
    } else {
        "SELECT"
    };
    let mut sql = format!(
        "GRANT USAGE ON SCHEMA {} TO {name}; GRANT {privileges} ON TABLE {qualified} TO {name};",
        ident(schema)
    );
    if write {
        let sequences = tx
            .query(
                "SELECT n.nspname::text, s.relname::text FROM pg_depend d \
                 JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' \
                 JOIN pg_namespace n ON n.oid = s.relnamespace \
                 WHERE d.refobjid = $1::text::regclass AND d.deptype IN ('a', 'i')",
                &[&qualified],
            )
            .await
            .map_err(role.failed("finding the table's sequences"))?;
        for row in sequences {
            sql.push_str(&format!(
                " GRANT USAGE, SELECT ON SEQUENCE {}.{} TO {name};",
                ident(row.get(0)),
                ident(row.get(1))
            ));
        }
    }
    Ok(sql)
}

/// Takes back every privilege `role` holds outside its own schema: on
/// tables and sequences, on schemas, and in other roles' default privileges.
async fn revoke_all(tx: &Transaction<'_>, role: &HandlerRole) -> Result<(), RoleError> {
    let name = ident(&role.role);
    let grantee = "(SELECT oid FROM pg_roles WHERE rolname = $1)";
    let mut sql = String::new();
    let relations = tx
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text, c.relkind = 'S' \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 CROSS JOIN LATERAL aclexplode(c.relacl) a \
                 WHERE a.grantee = {grantee} AND n.nspname <> $2 GROUP BY 1, 2, 3"
            ),
            &[&role.role, &role.schema],
        )
        .await
        .map_err(role.failed("reading its grants"))?;
    for row in relations {
        let kind = if row.get::<_, bool>(2) {
            "SEQUENCE"
        } else {
            "TABLE"
        };
        sql.push_str(&format!(
            "REVOKE ALL ON {kind} {}.{} FROM {name}; ",
            ident(row.get(0)),
            ident(row.get(1))
        ));
    }
    let schemas = tx
        .query(
            &format!(
                "SELECT n.nspname::text FROM pg_namespace n \
                 CROSS JOIN LATERAL aclexplode(n.nspacl) a \
                 WHERE a.grantee = {grantee} AND n.nspname <> $2 GROUP BY 1"
            ),
            &[&role.role, &role.schema],
        )
        .await
        .map_err(role.failed("reading its schema grants"))?;
    for row in schemas {
        sql.push_str(&format!(
            "REVOKE ALL ON SCHEMA {} FROM {name}; ",
            ident(row.get(0))
        ));
    }
    let defaults = tx
        .query(
            &format!(
                "SELECT pg_get_userbyid(d.defaclrole)::text, n.nspname::text, d.defaclobjtype = 'S' \
                 FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace \
                 CROSS JOIN LATERAL aclexplode(d.defaclacl) a \
                 WHERE a.grantee = {grantee} AND $2::text IS NOT NULL GROUP BY 1, 2, 3"
            ),
            &[&role.role, &role.schema],
        )
        .await
        .map_err(role.failed("reading its default privileges"))?;
    for row in defaults {
        let kind = if row.get::<_, bool>(2) {
            "SEQUENCES"
        } else {
            "TABLES"
        };
        sql.push_str(&format!(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} REVOKE ALL ON {kind} FROM {name}; ",
            ident(row.get(0)),
            ident(row.get(1))
        ));
    }
    if !sql.is_empty() {
        tx.batch_execute(&sql)
            .await
            .map_err(role.failed("revoking what it held"))?;
    }
    Ok(())
}
