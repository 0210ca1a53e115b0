//! Test support: each test gets its own store, on SQLite and — when
//! `RATHAUS_TEST_DATABASE_URL` is set — on PostgreSQL in a schema of its own.

use std::future::Future;
use std::path::PathBuf;

use crate::config::Config;
use crate::store::Store;

/// The variable CI sets to a PostgreSQL database for tests.
pub const PG_ENV: &str = "RATHAUS_TEST_DATABASE_URL";

/// A store made for one test, cleaned up by [`TestStore::cleanup`].
#[derive(Debug)]
pub struct TestStore {
    pub store: Store,
    pub backend: &'static str,
    sqlite_file: Option<PathBuf>,
    pg: Option<(String, String)>,
}

impl TestStore {
    /// A migrated SQLite store in a fresh temporary file.
    pub async fn sqlite() -> Self {
        let path = std::env::temp_dir().join(format!("rathaus-test-{}.db", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let store = Store::connect(&url, 4).await.expect("sqlite store");
        store.migrate().await.expect("migrate sqlite");
        Self {
            store,
            backend: "sqlite",
            sqlite_file: Some(path),
            pg: None,
        }
    }

    /// A migrated PostgreSQL store in a fresh schema, if the variable is set. A set variable
    /// whose server does not answer fails the test: silence would hide a broken CI.
    pub async fn postgres() -> Option<Self> {
        let url = std::env::var(PG_ENV).ok().filter(|u| !u.is_empty())?;
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = Store::connect(&url, 1)
            .await
            .expect("connect to RATHAUS_TEST_DATABASE_URL");
        sea_orm::ConnectionTrait::execute_unprepared(
            admin.db(),
            &format!("CREATE SCHEMA \"{schema}\""),
        )
        .await
        .expect("create test schema");
        admin.close().await.expect("close admin connection");
        let store = Store::connect_in_schema(&url, &schema, 4)
            .await
            .expect("pg store");
        store.migrate().await.expect("migrate postgres");
        Some(Self {
            store,
            backend: "postgres",
            sqlite_file: None,
            pg: Some((url, schema)),
        })
    }

    /// Drops what the test made.
    pub async fn cleanup(self) {
        let Self {
            store,
            sqlite_file,
            pg,
            ..
        } = self;
        let _ = store.close().await;
        if let Some(path) = sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        if let Some((url, schema)) = pg
            && let Ok(admin) = Store::connect(&url, 1).await
        {
            let _ = sea_orm::ConnectionTrait::execute_unprepared(
                admin.db(),
                &format!("DROP SCHEMA \"{schema}\" CASCADE"),
            )
            .await;
            let _ = admin.close().await;
        }
    }
}

/// Every backend this run tests on: SQLite always, PostgreSQL when configured.
pub async fn test_stores() -> Vec<TestStore> {
    let mut stores = vec![TestStore::sqlite().await];
    if let Some(pg) = TestStore::postgres().await {
        stores.push(pg);
    }
    stores
}

/// Runs `test` once per backend with a fresh store; a failure names the backend.
pub async fn for_each_store<F, Fut>(test: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    for ts in test_stores().await {
        eprintln!("-- store backend: {}", ts.backend);
        test(ts.store.clone()).await;
        ts.cleanup().await;
    }
}

/// A consultation open for a week from now (by the app's clock), and its Note's URL.
pub async fn open_consultation(app: &crate::App) -> String {
    let view = crate::services::announcements::announce(
        app,
        crate::services::announcements::Announce {
            text: "Wie soll der Platz aussehen?".into(),
            closes_at: Some(app.now() + chrono::Duration::days(7)),
            author: "cli".into(),
            ..Default::default()
        },
    )
    .await
    .expect("announce");
    app.urls().announcement(view.announcement.id)
}

/// The built-in configuration, for tests that need one.
pub fn default_config() -> Config {
    Config::load_from(None, &[]).expect("default config loads")
}
