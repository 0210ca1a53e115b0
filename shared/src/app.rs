//! The application handle both fronts receive: configuration plus store, opened and migrated.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::apub::Urls;
use crate::config::Config;
use crate::entities::local_actor;
use crate::error::{Error, Result};
use crate::store::{self, Store};

/// Everything a front needs to call services. Cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub store: Store,
    /// Woken after a service queued deliveries, so the worker need not poll for them.
    pub delivery_wakeup: Arc<Notify>,
}

/// The instance actor's row name; a `.` can never appear in a configured username.
pub const INSTANCE_ACTOR: &str = "instance.actor";

impl App {
    /// Prepares the data directory, connects, applies migrations and makes sure the actor has
    /// its key pair (generated once, then reused on every start).
    pub async fn open(config: Config) -> Result<Self> {
        if config.database.url_is_default() {
            std::fs::create_dir_all(&config.data_dir).map_err(|e| {
                Error::Config(format!(
                    "data_dir: cannot create {}: {e}",
                    config.data_dir.display()
                ))
            })?;
        }
        let store = Store::connect(&config.database_url(), config.database.max_connections).await?;
        Self::with_store(config, store).await
    }

    /// Like [`App::open`] over an existing store (tests bring their own).
    pub async fn with_store(config: Config, store: Store) -> Result<Self> {
        store.migrate().await?;
        let app = Self {
            config: Arc::new(config),
            store,
            delivery_wakeup: Arc::new(Notify::new()),
        };
        let (actor, created) = app.ensure_local_actor().await?;
        if created {
            tracing::info!(actor = %actor.username, "generated a new key pair for the actor");
        }
        app.instance_actor().await?;
        Ok(app)
    }

    /// The instance actor (signs fetches), created with its own key on first use.
    pub async fn instance_actor(&self) -> Result<local_actor::Model> {
        Ok(
            store::actors::ensure_local_actor(self.store.db(), INSTANCE_ACTOR, store::now())
                .await?
                .0,
        )
    }

    /// Every public URL, derived from the configuration.
    pub fn urls(&self) -> Urls {
        Urls::new(&self.config.server.public_url, &self.config.actor.username)
    }

    /// Tells the delivery worker that new jobs are waiting.
    pub fn wake_delivery(&self) {
        self.delivery_wakeup.notify_one();
    }

    /// The town hall's actor row, created with a key on first use.
    pub async fn ensure_local_actor(&self) -> Result<(local_actor::Model, bool)> {
        store::actors::ensure_local_actor(
            self.store.db(),
            &self.config.actor.username,
            store::now(),
        )
        .await
    }
}
