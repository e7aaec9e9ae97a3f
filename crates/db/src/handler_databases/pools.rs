//! Each handler's pools, on the primary and on the read replica, logged
//! in as its role with its deadline as `statement_timeout`.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use geofn_contract::access::DatabaseAccess;

use super::{CONNECTION_CHECK_MS, CONNECTION_CHECK_SINCE, HandlerDatabases, RoleMode, Server};
use crate::handler_pools::{HandlerConnections, HandlerDb, PoolKey, Shared};
use crate::pool::CONNECT_TIMEOUT;
use crate::resolve::HedgedConnect;
use crate::roles::{HandlerRole, ident};

impl HandlerDatabases {
    /// The pools of `handler`: `share` connections whose statements time
    /// out after `deadline`, on a search path that reaches `access`, on
    /// the primary and on the read replica if there is one. Reuses the
    /// pools it gave before when nothing of that changed.
    pub async fn pool(
        &self,
        handler: &str,
        access: &DatabaseAccess,
        share: usize,
        deadline: Duration,
    ) -> HandlerConnections {
        let (role, search_path) = match self.mode {
            RoleMode::PerHandler => (Some(self.role(handler)), None),
            // Without roles of their own, handlers' connections get the
            // search path their role would have had.
            RoleMode::HostRole => {
                let mut path = vec![ident(handler)];
                path.extend(
                    access
                        .read
                        .iter()
                        .chain(&access.write)
                        .filter(|e| !e.contains('.'))
                        .map(|e| ident(e)),
                );
                path.push("public".into());
                (None, Some(path.join(",")))
            }
        };
        let key = PoolKey {
            share,
            deadline,
            search_path,
        };
        let primary = self
            .pool_on(&self.primary, handler, role.as_ref(), &key)
            .await;
        let replica = match &self.replica {
            Some(server) => Some(self.pool_on(server, handler, role.as_ref(), &key).await),
            None => None,
        };
        HandlerConnections { primary, replica }
    }

    /// Whether handlers have pools on a read replica.
    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    async fn pool_on(
        &self,
        server: &Server,
        handler: &str,
        role: Option<&HandlerRole>,
        key: &PoolKey,
    ) -> Arc<HandlerDb> {
        let mut pools = server.pools.lock().await;
        if let Some(existing) = pools.get(handler)
            && existing.key() == key
        {
            return existing.clone();
        }
        let config = self.connection_config(
            &server.base,
            role,
            &format!("geofn:{handler}"),
            key.deadline,
            key.search_path.as_deref(),
        );
        let manager = Manager::from_connect(
            config,
            HedgedConnect {
                tls: self.tls.clone(),
            },
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(key.share)
            .timeouts(Timeouts {
                wait: Some(self.wait),
                create: Some(CONNECT_TIMEOUT),
                recycle: Some(CONNECT_TIMEOUT),
            })
            .runtime(Runtime::Tokio1)
            .build()
            .expect("a pool with a runtime and positive size builds");
        let db = Arc::new(HandlerDb::new(
            handler,
            role.map_or_else(|| self.host.name.clone(), |r| r.role.clone()),
            pool,
            Shared {
                total: server.total.clone(),
                wait: self.wait,
                tls: self.tls.clone(),
            },
            // A login restored on the primary reaches the replica by
            // replication; there a refused login most often means the role
            // is not replayed yet, which repairing would not help.
            role.filter(|_| std::ptr::eq(server, &self.primary))
                .map(|role| (self.host_pool.clone(), role.clone())),
            key.clone(),
        ));
        pools.insert(handler.to_owned(), db.clone());
        db
    }

    /// Connection settings as `role` (the host's own when `None`), with
    /// this statement timeout and, when given, search path.
    pub(super) fn connection_config(
        &self,
        base: &tokio_postgres::Config,
        role: Option<&HandlerRole>,
        application: &str,
        statement_timeout: Duration,
        search_path: Option<&str>,
    ) -> tokio_postgres::Config {
        let mut config = base.clone();
        if let Some(role) = role {
            config.user(&role.role).password(role.password.as_bytes());
        }
        config.application_name(application);
        let mut options = config.get_options().unwrap_or_default().to_owned();
        options.push_str(&format!(
            " -c statement_timeout={}",
            statement_timeout.as_millis()
        ));
        if self.host.server_version >= CONNECTION_CHECK_SINCE {
            options.push_str(&format!(
                " -c client_connection_check_interval={CONNECTION_CHECK_MS}"
            ));
        }
        if let Some(path) = search_path {
            options.push_str(&format!(" -c search_path={path}"));
        }
        config.options(options.trim_start());
        config
    }
}
