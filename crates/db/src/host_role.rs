//! The host's own database role, and what it may do: whether handlers can
//! have roles of their own depends on it.

use deadpool_postgres::GenericClient;

/// What the host's own role may do, read once at start.
#[derive(Debug, Clone)]
pub struct HostRole {
    /// Its name.
    pub name: String,
    /// The database it is connected to.
    pub database: String,
    /// Whether it is a superuser.
    pub superuser: bool,
    /// Whether it may create roles.
    pub createrole: bool,
    /// `server_version_num`, e.g. 150018.
    pub server_version: i32,
}

impl HostRole {
    /// Reads the connected role's powers.
    pub async fn inspect(client: &impl GenericClient) -> Result<Self, tokio_postgres::Error> {
        let row = client
            .query_one(
                "SELECT current_user::text, current_database()::text, rolsuper, rolcreaterole, \
                 current_setting('server_version_num')::int \
                 FROM pg_roles WHERE rolname = current_user",
                &[],
            )
            .await?;
        Ok(Self {
            name: row.get(0),
            database: row.get(1),
            superuser: row.get(2),
            createrole: row.get(3),
            server_version: row.get(4),
        })
    }

    /// Whether it can give handlers roles of their own.
    pub fn can_create_roles(&self) -> bool {
        self.superuser || self.createrole
    }
}
