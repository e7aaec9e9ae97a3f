//! Database roles: a handler's SQL never runs as the host's role.
//!
//! Every handler gets a login role of its own, named `NAME@DATABASE` (roles
//! are shared by every database of a server, so the database is part of the
//! name), that can reach nothing but:
//! - its own schema, named like the handler, where it may create objects;
//! - what every role may use: `public`'s functions and types (PostGIS),
//!   and tables granted to `PUBLIC` (PostGIS's `spatial_ref_sys`);
//! - the tables its manifest's `[database]` section lists.
//!
//! It is no superuser, may create no role, database or extension, belongs to
//! no other role (so `SET ROLE`, `SET SESSION AUTHORIZATION` and their
//! `set_config` forms lead nowhere), may not create objects in `public`, and
//! has no privilege on the host's tables. PostgreSQL enforces all of it,
//! whatever SQL a handler sends; [`provision`] sets it up and then checks it.
//!
//! No password is stored or configured: each is an HMAC of the role name
//! keyed with a secret only the host's role can read ([`Secret`]), so every
//! replica derives the same one. The host sets it as a SCRAM verifier, so the
//! password itself never appears in SQL or in the server's logs.

use deadpool_postgres::{GenericClient, Object, Transaction};
use sha2::{Digest, Sha256};

use crate::secret::Secret;

/// Arbitrary constant key of the advisory lock that serialises role changes
/// across replicas ("geofnrol" in ASCII): concurrent `GRANT`s on one object
/// fail with "tuple concurrently updated".
const ROLE_LOCK: i64 = 0x6765_6f66_6e72_6f6c;
/// PostgreSQL's longest identifier, in bytes.
const MAX_IDENTIFIER: usize = 63;

/// Why a handler's role could not be set up as it must be.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    /// The host's own role may not create roles.
    #[error(
        "the database role {host:?} may not create roles, and handlers' SQL must run under roles \
         of their own: grant it CREATEROLE (ALTER ROLE \"{host}\" CREATEROLE), or, knowing that \
         every handler then runs as {host:?}, start with --unsafe-handler-sql-as-host-role"
    )]
    CannotCreateRoles {
        /// The host's role.
        host: String,
    },
    /// The role exists with powers the host cannot or will not take away.
    #[error("the role {role:?} of handler {handler:?} {why}; fix it as a superuser")]
    Privileged {
        /// Handler name.
        handler: String,
        /// Its role.
        role: String,
        /// What is wrong.
        why: String,
    },
    /// The manifest grants access to a table, or another handler's
    /// schema, that does not exist here.
    #[error("handler {handler:?} is granted {table:?}, which does not exist in this database")]
    NoSuchTable {
        /// Handler name.
        handler: String,
        /// The table or handler as written.
        table: String,
    },
    /// No connection of the host's own could be had.
    #[error("no database connection to set up handler roles with: {0}")]
    Unavailable(String),
    /// A statement failed.
    #[error("{context} for handler {handler:?}: {source}")]
    Query {
        /// Handler name.
        handler: String,
        /// What the host was doing.
        context: &'static str,
        /// PostgreSQL's answer.
        source: tokio_postgres::Error,
    },
}

/// A handler's role: its name, its schema and its password.
#[derive(Clone)]
pub struct HandlerRole {
    /// The handler.
    pub handler: String,
    /// Its login role.
    pub role: String,
    /// Its own schema.
    pub schema: String,
    /// Its password, derived from the secret.
    pub password: String,
}

impl std::fmt::Debug for HandlerRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerRole")
            .field("handler", &self.handler)
            .field("role", &self.role)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl HandlerRole {
    /// Turns a failed statement into a [`RoleError`] saying what the host
    /// was doing for this handler.
    pub(super) fn failed(
        &self,
        context: &'static str,
    ) -> impl Fn(tokio_postgres::Error) -> RoleError + '_ {
        move |source| RoleError::Query {
            handler: self.handler.clone(),
            context,
            source,
        }
    }

    /// The role of `handler` in `database`.
    pub fn new(handler: &str, database: &str, secret: &Secret) -> Self {
        let role = role_name(handler, database);
        Self {
            handler: handler.to_owned(),
            password: secret.sign("role-password", &role),
            role,
            schema: handler.to_owned(),
        }
    }
}

/// `handler@database`, or, when that is longer than PostgreSQL allows,
/// `geofn_` and a hash of it.
pub fn role_name(handler: &str, database: &str) -> String {
    let name = format!("{handler}@{database}");
    if name.len() <= MAX_IDENTIFIER {
        name
    } else {
        format!(
            "geofn_{}",
            &hex::encode(Sha256::digest(name.as_bytes()))[..32]
        )
    }
}

/// `name` as a quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as a quoted SQL string literal.
pub(super) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Creates or repairs `role` so that it has exactly the powers this module
/// describes and its own schema (what it may reach beyond it is
/// [`crate::grants`]'s), and checks the result. Idempotent; one transaction
/// under an advisory lock, so replicas may race.
pub async fn provision(client: &mut Object, role: &HandlerRole) -> Result<(), RoleError> {
    let tx = crate::lock::locked_transaction(client, ROLE_LOCK)
        .await
        .map_err(role.failed("starting to set up its role"))?;
    login_role(&tx, role).await?;
    let member_of: Vec<String> = tx
        .query(
            "SELECT g.rolname::text FROM pg_auth_members m \
             JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member \
             WHERE r.rolname = $1",
            &[&role.role],
        )
        .await
        .map_err(role.failed("reading its memberships"))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    for group in member_of {
        tx.batch_execute(&format!(
            "REVOKE {} FROM {}",
            ident(&group),
            ident(&role.role)
        ))
        .await
        .map_err(role.failed("revoking a membership"))?;
    }
    // The host acts for the role (never the other way round): it grants
    // others access to the role's tables and hands it tables it adopts.
    tx.batch_execute(&format!(
        "DO $$ BEGIN \
           IF NOT pg_has_role(current_user, {role}, 'MEMBER') THEN \
             EXECUTE format('GRANT %I TO %I', {role}, current_user); \
           END IF; \
         END $$",
        role = literal(&role.role)
    ))
    .await
    .map_err(role.failed("making the host a member of its role"))?;
    own_schema(&tx, role).await?;
    tx.execute(
        "INSERT INTO geofn_handler_roles (role, handler) VALUES ($1, $2) \
         ON CONFLICT (role) DO UPDATE SET handler = excluded.handler",
        &[&role.role, &role.handler],
    )
    .await
    .map_err(role.failed("recording its role"))?;
    tx.batch_execute(&format!(
        "GRANT EXECUTE ON FUNCTION geofn_claim_migration(text, text, text) TO {}",
        ident(&role.role)
    ))
    .await
    .map_err(role.failed("letting it record its migrations"))?;
    check(&tx, role).await?;
    tx.commit()
        .await
        .map_err(role.failed("committing its role"))
}

/// Sets the role's password again, with every attribute it must have: for
/// when its connections are refused because it changed its own password.
pub async fn reset_login(client: &mut Object, role: &HandlerRole) -> Result<(), RoleError> {
    let tx = client
        .transaction()
        .await
        .map_err(role.failed("starting to reset its login"))?;
    login_role(&tx, role).await?;
    tx.commit()
        .await
        .map_err(role.failed("committing its login"))
}

/// `CREATE` or `ALTER ROLE`: a login with the derived password and no
/// power. Only a superuser may even name SUPERUSER, REPLICATION or
/// BYPASSRLS in an `ALTER ROLE`; a role that has one of them can only have
/// been given it by a superuser, and [`check`] refuses it.
async fn login_role(tx: &Transaction<'_>, role: &HandlerRole) -> Result<(), RoleError> {
    let row = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1), \
                    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
            &[&role.role],
        )
        .await
        .map_err(role.failed("looking up its role"))?;
    let (exists, host_is_superuser): (bool, bool) = (row.get(0), row.get(1));
    let attributes = if !exists || host_is_superuser {
        "LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    } else {
        "LOGIN NOINHERIT NOCREATEDB NOCREATEROLE"
    };
    let verb = if exists { "ALTER" } else { "CREATE" };
    let verifier = postgres_protocol::password::scram_sha_256(role.password.as_bytes());
    tx.batch_execute(&format!(
        "{verb} ROLE {} {attributes} PASSWORD {}",
        ident(&role.role),
        literal(&verifier)
    ))
    .await
    .map_err(role.failed("creating its role"))
}

/// The handler's schema: the host owns it (so the handler cannot drop or
/// give it away), the handler may use it and create objects in it, nobody
/// else may unless granted. Tables the host left in it (an earlier release's
/// own tables, moved there by a host migration) become the handler's.
async fn own_schema(tx: &Transaction<'_>, role: &HandlerRole) -> Result<(), RoleError> {
    let schema = ident(&role.schema);
    let name = ident(&role.role);
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; \
         REVOKE ALL ON SCHEMA {schema} FROM PUBLIC; \
         GRANT USAGE, CREATE ON SCHEMA {schema} TO {name}"
    ))
    .await
    .map_err(role.failed("creating its schema (the host's role needs CREATE on the database)"))?;
    let adopted = tx
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm') \
               AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)",
            &[&role.schema],
        )
        .await
        .map_err(role.failed("looking for tables to hand over"))?;
    for row in adopted {
        let table: String = row.get(0);
        tx.batch_execute(&format!(
            "ALTER TABLE {schema}.{} OWNER TO {name}",
            ident(&table)
        ))
        .await
        .map_err(role.failed("handing it a table of its schema"))?;
        tracing::info!(handler.name = %role.handler, table = %table, "handed the table over to its handler's role");
    }
    Ok(())
}

/// Fails unless the role ended up with no power beyond what it should have.
pub(super) async fn check(tx: &Transaction<'_>, role: &HandlerRole) -> Result<(), RoleError> {
    let row = tx
        .query_one(
            "SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls, \
                    EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid), \
                    has_database_privilege(r.oid, current_database(), 'CREATE'), \
                    has_schema_privilege(r.oid, 'public', 'CREATE') \
             FROM pg_roles r WHERE r.rolname = $1",
            &[&role.role],
        )
        .await
        .map_err(role.failed("checking its role"))?;
    let problems = [
        (0, "is a superuser"),
        (1, "may create roles"),
        (2, "may create databases"),
        (3, "may replicate"),
        (4, "bypasses row security"),
        (5, "is a member of another role"),
        (
            6,
            "may create schemas and extensions in the database (REVOKE CREATE ON DATABASE ... FROM PUBLIC)",
        ),
        (
            7,
            "may create objects in schema public (REVOKE CREATE ON SCHEMA public FROM PUBLIC)",
        ),
    ];
    match problems
        .iter()
        .find(|(column, _)| row.get::<_, bool>(*column))
    {
        Some((_, why)) => Err(RoleError::Privileged {
            handler: role.handler.clone(),
            role: role.role.clone(),
            why: (*why).to_owned(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_fit_postgresql() {
        assert_eq!(role_name("points", "gisdb"), "points@gisdb");
        let long = role_name(&"a".repeat(63), "gisdb");
        assert!(
            long.len() <= MAX_IDENTIFIER && long.starts_with("geofn_"),
            "{long}"
        );
        assert_ne!(long, role_name(&"b".repeat(63), "gisdb"));
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(ident("few-instances"), "\"few-instances\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn passwords_differ_per_role_and_secret() {
        let secret = Secret::from_bytes(b"one");
        let a = HandlerRole::new("points", "gisdb", &secret);
        let b = HandlerRole::new("features", "gisdb", &secret);
        let c = HandlerRole::new("points", "gisdb", &Secret::from_bytes(b"two"));
        assert_ne!(a.password, b.password);
        assert_ne!(a.password, c.password);
        assert_eq!(
            a.password,
            HandlerRole::new("points", "gisdb", &secret).password
        );
        assert!(!format!("{a:?}").contains(&a.password));
    }
}
