//! The inbox: every check that needs no network comes first (signature present, body size,
//! digest, date window, JSON shape), then the sender's key is looked up (fetched once, signed,
//! and refreshed when a signature fails), then the activity is dispatched to a `shared` service.
//! Bad input gets a 4xx with a reason and changes nothing.

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use rathaus_shared::entities::Network;
use rathaus_shared::services::{comments, follows};
use rathaus_shared::store::{self, actors, state as kv};
use serde_json::{Value, json};

use crate::client::FetchError;
use crate::error::{Error, Result};
use crate::protocol::{depth, first_type, has_type, host_of, id_of, many, parse_actor};
use crate::signatures::{self, SignatureError};
use crate::state::FedState;

/// Nesting deeper than this is no real activity.
const MAX_DEPTH: usize = 32;
/// A cached key is refetched after a failed verification only if it is older than this.
const KEY_REFRESH_AFTER: chrono::Duration = chrono::Duration::seconds(60);

pub fn routes() -> Router<FedState> {
    Router::new()
        .route("/inbox", post(inbox))
        .route("/users/{name}/inbox", post(inbox))
}

fn accepted(note: &str) -> (StatusCode, Json<Value>) {
    (StatusCode::ACCEPTED, Json(json!({ "status": note })))
}

fn signature_error(e: SignatureError) -> Error {
    match e {
        SignatureError::Malformed(_) => Error::BadRequest(e.to_string()),
        _ => Error::Unauthorized(e.to_string()),
    }
}

/// # POST /inbox, POST /users/{name}/inbox
async fn inbox(State(state): State<FedState>, request: Request) -> Response {
    let response = handle_inbox(&state, request).await.into_response();
    state.app.metrics.inbox(response.status().as_u16());
    response
}

async fn handle_inbox(state: &FedState, request: Request) -> Result<(StatusCode, Json<Value>)> {
    let (parts, body) = request.into_parts();
    let mut headers = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = value
            .to_str()
            .map_err(|_| Error::BadRequest(format!("header {name} is not text")))?;
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v: &mut String| {
                v.push_str(", ");
                v.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    // 401 before reading anything else: peers that knock with RFC 9421 first fall back to
    // draft-cavage on it, and unsigned requests never make us fetch anything.
    if !headers.contains_key("signature") {
        return Err(Error::Unauthorized(
            "a draft-cavage HTTP signature (Signature header) is required".into(),
        ));
    }
    let limit = state.app.config.federation.max_inbox_bytes;
    if let Some(len) = headers
        .get("content-length")
        .and_then(|l| l.parse::<usize>().ok())
        && len > limit
    {
        return Err(Error::TooLarge(format!(
            "the body is larger than {limit} bytes"
        )));
    }
    let body = axum::body::to_bytes(Body::new(body), limit)
        .await
        .map_err(|_| Error::TooLarge(format!("the body is larger than {limit} bytes")))?;
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| parts.uri.path().to_owned());
    let pending = signatures::begin_verify(
        parts.method.as_str(),
        &path,
        &headers,
        Some(&body),
        SystemTime::now(),
    )
    .map_err(signature_error)?;

    let activity: Value = serde_json::from_slice(&body)
        .map_err(|e| Error::BadRequest(format!("the body is not JSON: {e}")))?;
    if depth(&activity) > MAX_DEPTH {
        return Err(Error::BadRequest(format!(
            "JSON nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let activity_id = activity["id"]
        .as_str()
        .filter(|id| host_of(id).is_some())
        .ok_or_else(|| Error::BadRequest("the activity has no id URL".into()))?
        .to_owned();
    let actor_id = id_of(&activity["actor"])
        .ok_or_else(|| Error::BadRequest("the activity has no actor".into()))?
        .to_owned();
    let kind = first_type(&activity).to_owned();
    if kind.is_empty() {
        return Err(Error::BadRequest("the activity has no type".into()));
    }

    // Whose key signed it?
    let signer = match sender(state, &pending).await {
        Ok(signer) => signer,
        // An account deletion: the actor (and its key) is already gone at the origin. If we
        // never knew it there is nothing to forget.
        Err(Error::Unauthorized(_))
            if kind == "Delete" && id_of(&activity["object"]) == Some(actor_id.as_str()) =>
        {
            return Ok(accepted("ignored: unknown deleted actor"));
        }
        Err(e) => return Err(e),
    };
    if signer.ap_id != actor_id {
        return Err(Error::Forbidden(format!(
            "the activity's actor is not the owner of key {}",
            pending.key_id
        )));
    }
    if host_of(&activity_id) != host_of(&actor_id) {
        return Err(Error::Forbidden(
            "the activity id is not on the actor's host".into(),
        ));
    }
    let db = state.app.store.db();
    if kv::inbound_seen(db, &activity_id).await? {
        return Ok(accepted("duplicate"));
    }
    let result = dispatch(state, &kind, &activity, signer).await?;
    kv::record_inbound(db, &activity_id, store::now()).await?;
    tracing::info!(kind = %kind, result, "inbox activity handled");
    Ok(accepted(result))
}

/// Finds the verified sender: the cached actor's key, else a signed fetch of the key's owner.
async fn sender(
    state: &FedState,
    pending: &signatures::PendingSignature,
) -> Result<rathaus_shared::store::actors::RemoteActorData> {
    let db = state.app.store.db();
    let key_id = pending.key_id.as_str();
    let actor_guess = key_id.split('#').next().unwrap_or(key_id);
    if let Some(cached) = actors::remote_actor_by_ap_id(db, actor_guess).await?
        && let Some(pem) = &cached.public_key_pem
    {
        if pending.verify(pem).is_ok() {
            return Ok(to_data(cached));
        }
        if store::now() - cached.fetched_at < KEY_REFRESH_AFTER {
            return Err(Error::Unauthorized(
                SignatureError::BadSignature.to_string(),
            ));
        }
        // The sender may have rotated its key: fetch once more below.
    }
    let actor = fetch_key_owner(state, key_id).await?;
    let pem = actor.public_key_pem.clone().ok_or_else(|| {
        Error::Unauthorized(format!("no public key {key_id} in the actor document"))
    })?;
    pending.verify(&pem).map_err(signature_error)?;
    actors::upsert_remote_actor(db, actor.clone(), store::now()).await?;
    Ok(actor)
}

fn to_data(
    m: rathaus_shared::entities::remote_actor::Model,
) -> rathaus_shared::store::actors::RemoteActorData {
    rathaus_shared::store::actors::RemoteActorData {
        ap_id: m.ap_id,
        username: m.username,
        domain: m.domain,
        display_name: m.display_name,
        inbox: m.inbox,
        shared_inbox: m.shared_inbox,
        public_key_pem: m.public_key_pem,
    }
}

fn fetch_error(e: FetchError) -> Error {
    Error::Unauthorized(format!("cannot verify the sender: {e}"))
}

/// Fetches the document behind a key id: an actor with that key, or a key with an owner.
async fn fetch_key_owner(
    state: &FedState,
    key_id: &str,
) -> Result<rathaus_shared::store::actors::RemoteActorData> {
    let url = key_id.split('#').next().unwrap_or(key_id);
    let doc = state
        .client
        .fetch_json(url, &state.fetch_signer)
        .await
        .map_err(fetch_error)?;
    let (doc, from) = if doc.get("publicKey").is_some() || doc.get("inbox").is_some() {
        (doc, url.to_owned())
    } else if let Some(owner) = doc["owner"].as_str().or_else(|| doc["controller"].as_str()) {
        if host_of(owner) != host_of(url) {
            return Err(Error::Unauthorized(
                "the key's owner is on another host".into(),
            ));
        }
        let owner_doc = state
            .client
            .fetch_json(owner, &state.fetch_signer)
            .await
            .map_err(fetch_error)?;
        (owner_doc, owner.to_owned())
    } else {
        return Err(Error::Unauthorized(format!(
            "{url} is neither an actor nor a key"
        )));
    };
    parse_actor(&doc, &from, Some(key_id))
        .map_err(|reason| Error::Unauthorized(format!("cannot verify the sender: {reason}")))
}

/// Runs the use case for one verified activity. Returns a short word for the log.
async fn dispatch(
    state: &FedState,
    kind: &str,
    activity: &Value,
    signer: rathaus_shared::store::actors::RemoteActorData,
) -> Result<&'static str> {
    let app = &state.app;
    let urls = app.urls();
    let object = &activity["object"];
    match kind {
        "Follow" => {
            if id_of(object) != Some(urls.actor().as_str()) {
                return Err(Error::Unprocessable(format!(
                    "only {} can be followed here",
                    urls.actor()
                )));
            }
            follows::follow(app, signer, activity.clone()).await?;
            Ok("follow accepted")
        }
        "Undo" => {
            let is_follow = has_type(object, "Follow") || {
                // An Undo naming the Follow only by id: match it against the stored follow.
                let db = app.store.db();
                match (
                    id_of(object),
                    actors::remote_actor_by_ap_id(db, &signer.ap_id).await?,
                ) {
                    (Some(follow_id), Some(actor)) => actors::follower_of(db, actor.id)
                        .await?
                        .is_some_and(|f| f.follow_activity_id == follow_id),
                    _ => false,
                }
            };
            if is_follow {
                follows::unfollow(app, &signer.ap_id).await?;
                return Ok("unfollowed");
            }
            Ok("ignored undo")
        }
        "Delete" => {
            let target = id_of(object)
                .ok_or_else(|| Error::BadRequest("Delete without an object".into()))?;
            if target == signer.ap_id {
                follows::forget_actor(app, &signer.ap_id).await?;
                return Ok("actor forgotten");
            }
            if comments::delete_comment(app, target, &signer.ap_id).await? {
                Ok("comment erased")
            } else {
                Ok("ignored delete")
            }
        }
        "Create" => {
            if !object.is_object() {
                return Err(Error::Unprocessable("Create must embed its object".into()));
            }
            if !["Note", "Article", "Page"]
                .iter()
                .any(|t| has_type(object, t))
            {
                return Ok("ignored object type");
            }
            let Some(reply) = reply_of(object, &signer)? else {
                return Ok("ignored: not a reply");
            };
            match comments::submit_comment(app, reply).await? {
                comments::SubmitOutcome::Stored(_) => Ok("comment stored"),
                comments::SubmitOutcome::Duplicate(_) => Ok("duplicate comment"),
                comments::SubmitOutcome::NotForUs => Ok("ignored: not a reply to us"),
            }
        }
        "Update" => {
            if id_of(object) == Some(signer.ap_id.as_str()) && object.is_object() {
                // A profile or key change: keep the new document.
                let fresh =
                    parse_actor(object, &signer.ap_id, None).map_err(Error::Unprocessable)?;
                let fresh = rathaus_shared::store::actors::RemoteActorData {
                    public_key_pem: fresh.public_key_pem.or(signer.public_key_pem.clone()),
                    ..fresh
                };
                actors::upsert_remote_actor(app.store.db(), fresh, store::now()).await?;
                return Ok("actor updated");
            }
            if !object.is_object() {
                return Ok("ignored update");
            }
            check_attribution(object, &signer)?;
            let id =
                id_of(object).ok_or_else(|| Error::BadRequest("Update object has no id".into()))?;
            let content = object["content"].as_str().unwrap_or_default();
            match comments::edit_comment(app, id, &signer.ap_id, content).await? {
                Some(_) => Ok("comment edited"),
                None => Ok("ignored update"),
            }
        }
        _ => Ok("ignored activity type"),
    }
}

/// The object must be by the sender and live on the sender's host.
fn check_attribution(
    object: &Value,
    signer: &rathaus_shared::store::actors::RemoteActorData,
) -> Result<()> {
    let by_sender = many(&object["attributedTo"])
        .iter()
        .any(|a| id_of(a) == Some(signer.ap_id.as_str()));
    if !by_sender {
        return Err(Error::Forbidden(
            "the object is not attributed to the sender".into(),
        ));
    }
    let id = id_of(object).ok_or_else(|| Error::BadRequest("the object has no id".into()))?;
    if host_of(id) != host_of(&signer.ap_id) {
        return Err(Error::Forbidden(
            "the object is not on the sender's host".into(),
        ));
    }
    Ok(())
}

/// A Note that replies to something: the submission for the comments service.
fn reply_of(
    object: &Value,
    signer: &rathaus_shared::store::actors::RemoteActorData,
) -> Result<Option<comments::Submission>> {
    check_attribution(object, signer)?;
    let Some(in_reply_to) = id_of(&object["inReplyTo"]) else {
        return Ok(None);
    };
    let id = id_of(object).unwrap_or_default().to_owned();
    let content = object["content"]
        .as_str()
        .ok_or_else(|| Error::Unprocessable("the Note has no content".into()))?;
    let published = object["published"]
        .as_str()
        .and_then(|p| DateTime::parse_from_rfc3339(p).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(store::now);
    let url = match &object["url"] {
        Value::String(u) => Some(u.clone()),
        other => many(other)
            .first()
            .and_then(|v| v["href"].as_str().or(v.as_str()))
            .map(str::to_owned),
    };
    Ok(Some(comments::Submission {
        network: Network::Fediverse,
        origin_id: id,
        origin_url: url,
        in_reply_to: in_reply_to.to_owned(),
        author_id: signer.ap_id.clone(),
        author_name: signer
            .display_name
            .clone()
            .or_else(|| Some(format!("@{}@{}", signer.username, signer.domain))),
        author_domain: signer.domain.clone(),
        content_html: content.to_owned(),
        // Mastodon names the language as the one key of `contentMap`.
        language: object["contentMap"]
            .as_object()
            .and_then(|m| (m.len() == 1).then(|| m.keys().next().cloned()).flatten()),
        created_at: published.min(store::now()),
        privileged: false,
    }))
}
