//! Who signed an inbox request. A key belongs to the actor whose own document lists it, and
//! that document counts only if it was fetched from the actor's id and served as ActivityPub
//! JSON (the class of Mastodon's CVE-2024-23832: a file uploaded to a shared host must never
//! become someone's actor). Fetching on behalf of strangers is bounded: one attempt per key
//! and minute, whatever its outcome, and every failure looks the same to the sender.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rathaus_shared::services::remote::{self, RemoteActorData};
use serde::Deserialize;
use serde_json::Value;

use crate::activities::{ActorDocument, KeyDocument};
use crate::client::FetchError;
use crate::error::{Error, Result};
use crate::protocol::{host_of, parse_actor, same_document, without_fragment};
use crate::signatures::{PendingSignature, SignatureError};
use crate::state::FedState;

/// A key is fetched again at most this often, whether the last attempt worked or not.
pub const REFETCH_AFTER: chrono::Duration = chrono::Duration::seconds(60);

/// The one answer for every failure that involved fetching: what failed (a refused
/// connection, a 404, a document of the wrong shape) is logged, never told, so the inbox
/// cannot be used to probe other hosts.
const UNVERIFIABLE: &str =
    "cannot verify the sender: its key could not be fetched from the actor that owns it";

/// More remembered attempts than this and the old ones are dropped.
const MAX_REMEMBERED: usize = 10_000;

/// The last fetch of one key and what came of it.
#[derive(Debug, Clone)]
struct Attempt {
    at: DateTime<Utc>,
    outcome: Result<RemoteActorData, String>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Attempt>>>;

/// Senders whose stored key verified a request lately, per key id: the inbox's hot lookup,
/// kept in memory so a flood costs no query per request. Only successes are kept, for
/// [`KNOWN_FOR`]; a signature the kept key does not verify goes to the store (where another
/// process may have stored a newer key) and on to a fetch, as without it.
#[derive(Debug, Default)]
pub struct KnownSenders {
    keys: Mutex<HashMap<String, (RemoteActorData, DateTime<Utc>)>>,
}

/// How long a verified sender is kept in memory.
const KNOWN_FOR: chrono::Duration = chrono::Duration::seconds(60);

impl KnownSenders {
    fn get(&self, key_id: &str, now: DateTime<Utc>) -> Option<RemoteActorData> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(key_id)
            .filter(|(_, at)| now - *at < KNOWN_FOR)
            .map(|(a, _)| a.clone())
    }

    fn keep(&self, key_id: &str, actor: &RemoteActorData, now: DateTime<Utc>) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= MAX_REMEMBERED && !keys.contains_key(key_id) {
            keys.retain(|_, (_, at)| now - *at < KNOWN_FOR);
        }
        keys.insert(key_id.to_owned(), (actor.clone(), now));
    }

    pub fn forget(&self, key_id: &str) {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key_id);
    }
}

/// Recent key fetches, per key id. Requests for the same key wait for one fetch in flight
/// and then share its outcome for [`REFETCH_AFTER`].
#[derive(Debug, Default)]
pub struct KeyFetches {
    slots: Mutex<HashMap<String, Slot>>,
}

impl KeyFetches {
    fn slot(&self, key_id: &str, now: DateTime<Utc>) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() >= MAX_REMEMBERED && !slots.contains_key(key_id) {
            // Keep attempts still in their minute (and fetches in flight).
            slots.retain(|_, slot| {
                slot.try_lock()
                    .map(|a| a.as_ref().is_some_and(|a| now - a.at < REFETCH_AFTER))
                    .unwrap_or(true)
            });
        }
        slots.entry(key_id.to_owned()).or_default().clone()
    }

    /// The outcome of `fetch`, run only if this key was not tried within the last minute.
    async fn once_a_minute<F>(
        &self,
        key_id: &str,
        now: DateTime<Utc>,
        fetch: F,
    ) -> Result<RemoteActorData>
    where
        F: Future<Output = Result<RemoteActorData>>,
    {
        let slot = self.slot(key_id, now);
        let mut last = slot.lock().await;
        if let Some(attempt) = last.as_ref()
            && now - attempt.at < REFETCH_AFTER
        {
            return attempt.outcome.clone().map_err(Error::Unauthorized);
        }
        let result = fetch.await;
        let outcome = match &result {
            Ok(actor) => Ok(actor.clone()),
            Err(Error::Unauthorized(reason)) => Err(reason.clone()),
            Err(_) => Err(UNVERIFIABLE.to_owned()),
        };
        *last = Some(Attempt { at: now, outcome });
        result
    }
}

/// The verified sender of a request: the stored actor whose key this is, else the key's
/// owner fetched (at most once a minute per key) and stored.
pub async fn sender(state: &FedState, pending: &PendingSignature) -> Result<RemoteActorData> {
    let key_id = pending.key_id.as_str();
    let now = state.app.now();
    if let Some(actor) = state.known_senders.get(key_id, now) {
        if actor
            .public_key_pem
            .as_deref()
            .is_some_and(|pem| pending.verify(pem).is_ok())
        {
            return Ok(actor);
        }
        state.known_senders.forget(key_id);
    }
    if let Some(known) = remote::actor_with_key(&state.app, key_id).await?
        && let Some(pem) = &known.actor.public_key_pem
    {
        if pending.verify(pem).is_ok() {
            state.known_senders.keep(key_id, &known.actor, now);
            return Ok(known.actor);
        }
        if now - known.fetched_at < REFETCH_AFTER {
            return Err(Error::Unauthorized(
                SignatureError::BadSignature.to_string(),
            ));
        }
        // The sender may have rotated its key: fetch once more below.
    }
    let actor = state
        .key_fetches
        .once_a_minute(key_id, now, async {
            let actor = key_owner(state, key_id).await?;
            remote::remember_actor(&state.app, actor.clone()).await?;
            Ok(actor)
        })
        .await?;
    let pem = actor
        .public_key_pem
        .as_deref()
        .ok_or_else(|| Error::Unauthorized(UNVERIFIABLE.into()))?;
    pending
        .verify(pem)
        .map_err(|e| Error::Unauthorized(e.to_string()))?;
    state.known_senders.keep(key_id, &actor, now);
    Ok(actor)
}

/// Logs why a fetch failed (host and reason, not the URL: it may name a person) and returns
/// the answer the sender gets.
fn unverifiable(url: &str, reason: &dyn std::fmt::Display) -> Error {
    tracing::info!(
        host = host_of(url).unwrap_or_default(),
        reason = %reason,
        "sender's key not verifiable"
    );
    Error::Unauthorized(UNVERIFIABLE.into())
}

fn fetch_failed(url: &str, e: FetchError) -> Error {
    unverifiable(url, &e)
}

/// The document served at `url`, which must say it is that document. If it names another
/// id on the same host (GoToSocial serves a stub of the actor at its key URL), the document
/// at that id is fetched instead and must name itself.
async fn fetch_document(state: &FedState, url: &str, follow_id: bool) -> Result<(Value, String)> {
    let doc = state
        .client
        .fetch_json(url, &state.fetch_signer)
        .await
        .map_err(|e| fetch_failed(url, e))?;
    let id = document_id(&doc).ok_or_else(|| unverifiable(url, &"the document has no id"))?;
    if same_document(&id, url) {
        return Ok((doc, url.to_owned()));
    }
    if !follow_id || host_of(&id) != host_of(url) {
        return Err(unverifiable(url, &"the document has another id"));
    }
    let doc = state
        .client
        .fetch_json(&id, &state.fetch_signer)
        .await
        .map_err(|e| fetch_failed(&id, e))?;
    match document_id(&doc) {
        Some(again) if same_document(&again, &id) => Ok((doc, id)),
        _ => Err(unverifiable(&id, &"the document has another id")),
    }
}

fn document_id(doc: &Value) -> Option<String> {
    doc.get("id")
        .and_then(Value::as_str)
        .filter(|id| host_of(id).is_some())
        .map(str::to_owned)
}

/// The actor that owns `key_id`: its own document (fetched from its id) lists that exact key.
/// The key URL may serve the actor itself, or a key document that names its owner.
async fn key_owner(state: &FedState, key_id: &str) -> Result<RemoteActorData> {
    let url = without_fragment(key_id);
    let (doc, from) = fetch_document(state, url, true).await?;
    let actor = ActorDocument::deserialize(&doc).unwrap_or_default();
    if actor.is_actor() {
        return owned_key(&actor, &from, key_id);
    }
    let key = KeyDocument::deserialize(&doc).unwrap_or_default();
    let is_the_key = key
        .id
        .as_deref()
        .is_some_and(|id| id == key_id || id == url);
    let owner = key
        .owner()
        .filter(|_| is_the_key)
        .ok_or_else(|| unverifiable(url, &"neither an actor nor the key"))?
        .to_owned();
    if host_of(&owner) != host_of(url) {
        return Err(unverifiable(url, &"the key's owner is on another host"));
    }
    let (owner_doc, from) = fetch_document(state, &owner, false).await?;
    let actor = ActorDocument::deserialize(&owner_doc).unwrap_or_default();
    if !actor.is_actor() {
        return Err(unverifiable(&owner, &"the key's owner is no actor"));
    }
    owned_key(&actor, &from, key_id)
}

/// The actor, if its document lists `key_id` exactly.
fn owned_key(actor: &ActorDocument, from: &str, key_id: &str) -> Result<RemoteActorData> {
    if !actor.lists_key(key_id) {
        return Err(unverifiable(from, &"the actor does not list the key"));
    }
    parse_actor(actor, from, Some(key_id)).map_err(|reason| unverifiable(from, &reason))
}

/// The actor's document as its server serves it now: for an `Update` of the actor, whose
/// embedded copy is never trusted for keys and inboxes. Keeps the key the sender signed
/// with if the document still lists it.
pub async fn refetch_actor(state: &FedState, signer: &RemoteActorData) -> Result<RemoteActorData> {
    let (doc, from) = fetch_document(state, &signer.ap_id, false).await?;
    let actor = ActorDocument::deserialize(&doc).unwrap_or_default();
    if !actor.is_actor() {
        return Err(unverifiable(&from, &"no actor"));
    }
    let key_id = signer.key_id.as_deref().filter(|k| actor.lists_key(k));
    parse_actor(&actor, &from, key_id).map_err(|reason| unverifiable(&from, &reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(n: u32) -> RemoteActorData {
        RemoteActorData {
            ap_id: format!("https://a.example/u/{n}"),
            username: format!("u{n}"),
            domain: "a.example".into(),
            display_name: None,
            inbox: format!("https://a.example/u/{n}/inbox"),
            shared_inbox: None,
            public_key_pem: None,
            key_id: None,
        }
    }

    #[tokio::test]
    async fn a_key_is_fetched_once_a_minute_whatever_the_outcome() {
        let fetches = KeyFetches::default();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).expect("time");
        let failing = || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err::<RemoteActorData, _>(Error::Unauthorized("gone".into()))
        };
        for s in [0, 10, 59] {
            let err = fetches
                .once_a_minute("k1", t0 + chrono::Duration::seconds(s), failing())
                .await
                .expect_err("fails");
            assert_eq!(err.to_string(), "gone");
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        fetches
            .once_a_minute("k1", t0 + chrono::Duration::seconds(61), failing())
            .await
            .expect_err("fails again");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);

        // A success is remembered as well, per key.
        let ok = || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(actor(1))
        };
        for _ in 0..3 {
            let got = fetches.once_a_minute("k2", t0, ok()).await.expect("ok");
            assert_eq!(got, actor(1));
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn concurrent_requests_for_one_key_share_one_fetch() {
        let fetches = Arc::new(KeyFetches::default());
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).expect("time");
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (fetches, calls) = (fetches.clone(), calls.clone());
            tasks.spawn(async move {
                fetches
                    .once_a_minute("k", t0, async {
                        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        Err::<RemoteActorData, _>(Error::Unauthorized("no".into()))
                    })
                    .await
                    .is_err()
            });
        }
        while let Some(failed) = tasks.join_next().await {
            assert!(failed.expect("task"));
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_memory_of_attempts_is_bounded() {
        let fetches = KeyFetches::default();
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).expect("time");
        for i in 0..MAX_REMEMBERED + 10 {
            let _ = fetches
                .once_a_minute(&format!("k{i}"), t0, async {
                    Err::<RemoteActorData, _>(Error::Unauthorized("no".into()))
                })
                .await;
        }
        // All within their minute: still remembered.
        let later = t0 + chrono::Duration::seconds(120);
        let _ = fetches
            .once_a_minute("fresh", later, async {
                Err::<RemoteActorData, _>(Error::Unauthorized("no".into()))
            })
            .await;
        let len = fetches.slots.lock().expect("lock").len();
        assert!(len < 10, "old attempts are dropped, {len} left");
    }
}
