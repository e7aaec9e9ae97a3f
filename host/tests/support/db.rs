//! A private PostgreSQL cluster for one test.

use geofn_pgcluster::{ClusterOptions, PgCluster};
use tempfile::TempDir;

/// A private PostgreSQL cluster for one test.
pub struct TestDb {
    pub cluster: PgCluster,
    options: ClusterOptions,
    _dir: TempDir,
}

impl TestDb {
    /// Starts a fresh cluster; durability settings off, it is thrown away.
    pub fn start() -> Self {
        Self::start_with(ClusterOptions::default())
    }

    /// Starts a fresh cluster with extra options.
    pub fn start_with(mut options: ClusterOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("geofn-pg-")
            .tempdir_in("/tmp")
            .unwrap();
        options.settings.extend([
            ("fsync".into(), "off".into()),
            ("full_page_writes".into(), "off".into()),
        ]);
        options.immediate_stop = true;
        let cluster =
            PgCluster::start(dir.path(), options.clone()).expect("starting a test cluster");
        Self {
            cluster,
            options,
            _dir: dir,
        }
    }

    /// A streaming replica of this cluster (`pg_basebackup -R`), with the
    /// extra server `settings` (e.g. `recovery_min_apply_delay`).
    pub fn standby(&self, settings: &[(&str, &str)]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("geofn-pg-standby-")
            .tempdir_in("/tmp")
            .unwrap();
        let mut options = self.options.clone();
        options
            .settings
            .extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let cluster = PgCluster::start_standby(dir.path(), &self.cluster, options.clone())
            .expect("starting a standby");
        Self {
            cluster,
            options,
            _dir: dir,
        }
    }

    /// Stops PostgreSQL (immediate: like a crash of the database server).
    pub fn stop(&mut self) {
        self.cluster.stop().unwrap();
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.cluster.restart(&self.options).unwrap();
    }

    /// A direct connection as the cluster's superuser, to check what the
    /// host stored; the points handler's schema is first on its search path.
    pub async fn client(&self) -> tokio_postgres::Client {
        let mut config = self.cluster.config();
        config.options("-c search_path=points,public");
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connecting to the test cluster");
        tokio::spawn(connection);
        client
    }

    /// Stores named points straight in the table (no handler involved), for
    /// tests that read them back through the API.
    pub async fn insert_points(&self, points: &[(&str, f64, f64)]) {
        let client = self.client().await;
        for (name, lon, lat) in points {
            client
                .execute(
                    "INSERT INTO points (name, geom) VALUES ($1, ST_SetSRID(ST_MakePoint($2, $3), 4326))",
                    &[name, lon, lat],
                )
                .await
                .unwrap();
        }
    }

    /// Rows in `points`.
    pub async fn count_points(&self) -> i64 {
        self.client()
            .await
            .query_one("SELECT count(*) FROM points", &[])
            .await
            .unwrap()
            .get(0)
    }
}
