//! What every handler and the delivery worker share.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use rathaus_shared::App;
use rathaus_shared::services::bridge;
use rathaus_shared::services::inbox::Intake;

use crate::client::{Egress, HttpClient};
use crate::senders::{KeyFetches, KnownSenders};
use crate::signatures::Signer;

#[derive(Debug, Clone)]
pub struct FedState {
    pub app: App,
    pub client: HttpClient,
    /// The town hall's actor: signs deliveries.
    pub signer: Signer,
    /// The instance actor: signs fetches.
    pub fetch_signer: Signer,
    /// Recent fetches of senders' keys, so strangers cannot make us fetch at will.
    pub key_fetches: Arc<KeyFetches>,
    /// Senders whose key verified lately (the inbox's hot lookup).
    pub known_senders: Arc<KnownSenders>,
    /// The inbox's durable queue: verified activities are applied through it.
    pub intake: Intake,
    /// Rendered public pages (see `pages::cache`).
    pub pages: Arc<crate::pages::cache::PageCache>,
    /// Bridge actors' signers, loaded on first use.
    bridge_signers: Arc<std::sync::Mutex<std::collections::HashMap<String, Signer>>>,
}

impl FedState {
    /// Loads both actors' keys from the store and builds the HTTP client from the config.
    pub async fn new(app: App) -> crate::Result<Self> {
        let urls = app.urls();
        let (actor, _) = app.ensure_local_actor().await?;
        let instance = app.instance_actor().await?;
        let fed = &app.config.federation;
        let egress = Egress {
            allow_private: fed.allow_private_addresses,
            allowed_hosts: fed.allowed_private_hosts.clone(),
        };
        let client = HttpClient::new(
            egress,
            Duration::from_secs(fed.request_timeout_seconds),
            fed.per_host_concurrency.max(1),
        )?;
        Ok(Self {
            signer: Signer::from_pem(&urls.key_id(), &actor.private_key_pem)?,
            fetch_signer: Signer::from_pem(&urls.instance_key_id(), &instance.private_key_pem)?,
            client,
            key_fetches: Arc::default(),
            known_senders: Arc::default(),
            bridge_signers: Arc::default(),
            intake: Intake::start(app.clone()),
            pages: Arc::default(),
            app,
        })
    }

    /// Who signs a delivery: the town hall's actor, or the bridge actor named by `owner`
    /// (a `local_actor` username, `bridge:<handle>`). An unknown owner is final.
    pub async fn signer_for(&self, owner: Option<&str>) -> Result<Signer, String> {
        let Some(owner) = owner else {
            return Ok(self.signer.clone());
        };
        if let Some(s) = self
            .bridge_signers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(owner)
        {
            return Ok(s.clone());
        }
        let handle = owner
            .strip_prefix("bridge:")
            .ok_or_else(|| format!("unknown signer {owner}"))?;
        let pem = bridge::signing_key(&self.app, owner)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no key for signer {owner}"))?;
        let signer = Signer::from_pem(&self.app.urls().bridge_key_id(handle), &pem)
            .map_err(|e| e.to_string())?;
        let mut map = self
            .bridge_signers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if map.len() > 1024 {
            map.clear();
        }
        map.insert(owner.to_owned(), signer.clone());
        Ok(signer)
    }
}

impl FromRef<FedState> for App {
    fn from_ref(state: &FedState) -> App {
        state.app.clone()
    }
}
