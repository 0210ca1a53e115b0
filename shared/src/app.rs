//! The application handle both fronts receive: configuration plus store, opened and migrated.

use std::sync::{Arc, RwLock};

use tokio::sync::Notify;

use crate::policy::ratelimit::RateLimits;
use crate::policy::{self, Policy, RuleSpec};

use crate::apub::Urls;
use crate::clock::Clock;
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
    /// The compiled comment policy and the rate limiters.
    pub policy: Arc<PolicyState>,
    /// Counters and gauges for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The time services act at: the system clock, or a fixed one in tests.
    clock: Clock,
}

/// Rules compiled once, swapped as a whole when moderators change them.
#[derive(Debug)]
pub struct PolicyState {
    compiled: RwLock<Arc<Policy>>,
    pub limits: RateLimits,
    /// Fingerprints of stored texts, for the duplicate rule.
    pub fingerprints: policy::FingerprintMemo,
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
        let compiled = compile_policy(&config, &store).await?;
        let limits = RateLimits::new(&config.policy.rate_limits());
        let app = Self {
            config: Arc::new(config),
            store,
            delivery_wakeup: Arc::new(Notify::new()),
            policy: Arc::new(PolicyState {
                compiled: RwLock::new(Arc::new(compiled)),
                limits,
                fingerprints: policy::FingerprintMemo::default(),
            }),
            metrics: Arc::new(crate::metrics::Metrics::new()),
            clock: Clock::system(),
        };
        let (actor, created) = app.ensure_local_actor().await?;
        if created {
            tracing::info!(actor = %actor.username, "generated a new key pair for the actor");
        }
        app.instance_actor().await?;
        Ok(app)
    }

    /// The same app acting at the times `clock` gives (tests pass a fixed clock).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The current time as services see it.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The instance actor (signs fetches), created with its own key on first use.
    pub async fn instance_actor(&self) -> Result<local_actor::Model> {
        Ok(
            store::actors::ensure_local_actor(self.store.db(), INSTANCE_ACTOR, self.now())
                .await?
                .0,
        )
    }

    /// The rules in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy
            .compiled
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Recompiles the rules after a moderator changed them.
    pub async fn reload_policy(&self) -> Result<()> {
        let compiled = compile_policy(&self.config, &self.store).await?;
        *self
            .policy
            .compiled
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(compiled);
        Ok(())
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
        store::actors::ensure_local_actor(self.store.db(), &self.config.actor.username, self.now())
            .await
    }
}

/// The rules file (or the built-in one) plus the rules moderators added; a stored rule with
/// the same id replaces the file's.
async fn compile_policy(config: &Config, store: &Store) -> Result<Policy> {
    let text = match &config.policy.file {
        None => policy::DEFAULT_POLICY.to_owned(),
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!("policy.file: cannot read {}: {e}", path.display()))
        })?,
    };
    let mut rules = policy::parse_policy_file(&text)?;
    for row in store::policy::active_rules(store.db()).await? {
        let spec = stored_rule(&row)?;
        rules.retain(|r| r.id != spec.id);
        rules.push(spec);
    }
    Policy::compile(rules).map_err(|e| Error::Config(format!("policy: {e}")))
}

/// A stored rule row as a rule spec: its definition JSON plus the row's id, version, action.
pub fn stored_rule(row: &crate::entities::policy_rule::Model) -> Result<RuleSpec> {
    let mut def: serde_json::Value = serde_json::from_str(&row.definition)
        .map_err(|e| Error::Invalid(format!("rule {}: {e}", row.rule_key)))?;
    if let serde_json::Value::Object(map) = &mut def {
        map.insert("id".into(), row.rule_key.clone().into());
        map.insert("version".into(), row.version.into());
        map.insert("kind".into(), row.kind.clone().into());
        map.insert(
            "action".into(),
            serde_json::to_value(row.action).unwrap_or_default(),
        );
        map.insert("reason".into(), row.public_reason.clone().into());
    }
    serde_json::from_value(def).map_err(|e| Error::Invalid(format!("rule {}: {e}", row.rule_key)))
}
