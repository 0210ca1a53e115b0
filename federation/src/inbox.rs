//! The inbox: every check that needs no network comes first (signature present, body size,
//! digest, date window, JSON shape), then the sender's key is looked up (fetched once, signed,
//! and refreshed when a signature fails), then the activity, read into the typed wire shapes
//! of `activities`, is dispatched to a `shared` service. Bad input gets a 4xx with a reason
//! and changes nothing.

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
use rathaus_shared::domain::Network;
use rathaus_shared::services::remote::{self, RemoteActorData};
use rathaus_shared::services::{comments, follows};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::activities::{
    Activity, ActorDocument, Created, Envelope, HasId, KeyDocument, Post, Ref,
};
use crate::client::FetchError;
use crate::error::{Error, Result};
use crate::protocol::{depth, host_of, parse_actor};
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

    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| Error::BadRequest(format!("the body is not JSON: {e}")))?;
    if depth(&value) > MAX_DEPTH {
        return Err(Error::BadRequest(format!(
            "JSON nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let envelope = Envelope::deserialize(&value)
        .map_err(|e| Error::BadRequest(format!("the activity is not a JSON object: {e}")))?;
    let activity_id = envelope
        .id
        .as_deref()
        .filter(|id| host_of(id).is_some())
        .ok_or_else(|| Error::BadRequest("the activity has no id URL".into()))?
        .to_owned();
    let actor_id = envelope
        .actor
        .as_ref()
        .and_then(Ref::id)
        .ok_or_else(|| Error::BadRequest("the activity has no actor".into()))?
        .to_owned();
    let kind = envelope.kind().unwrap_or_default().to_owned();
    if kind.is_empty() {
        return Err(Error::BadRequest("the activity has no type".into()));
    }
    // Read now; a malformed activity is refused only after its sender is known, as always.
    let activity = Activity::deserialize(&value);
    let deletes_itself = matches!(
        &activity,
        Ok(Activity::Delete(d)) if d.target() == Some(actor_id.as_str())
    );

    // Whose key signed it?
    let signer = match sender(state, &pending).await {
        Ok(signer) => signer,
        // An account deletion: the actor (and its key) is already gone at the origin. If we
        // never knew it there is nothing to forget.
        Err(Error::Unauthorized(_)) if deletes_itself => {
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
    let app = &state.app;
    if remote::already_handled(app, &activity_id).await? {
        return Ok(accepted("duplicate"));
    }
    let activity = activity
        .map_err(|e| Error::BadRequest(format!("the {kind} activity is malformed: {e}")))?;
    let result = dispatch(state, activity, &value, signer).await?;
    remote::mark_handled(app, &activity_id).await?;
    tracing::info!(kind = %kind, result, "inbox activity handled");
    Ok(accepted(result))
}

/// Finds the verified sender: the cached actor's key, else a signed fetch of the key's owner.
async fn sender(
    state: &FedState,
    pending: &signatures::PendingSignature,
) -> Result<RemoteActorData> {
    let key_id = pending.key_id.as_str();
    let actor_guess = key_id.split('#').next().unwrap_or(key_id);
    if let Some(cached) = remote::known_actor(&state.app, actor_guess).await?
        && let Some(pem) = &cached.actor.public_key_pem
    {
        if pending.verify(pem).is_ok() {
            return Ok(cached.actor);
        }
        if state.app.now() - cached.fetched_at < KEY_REFRESH_AFTER {
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
    remote::remember_actor(&state.app, actor.clone()).await?;
    Ok(actor)
}

fn fetch_error(e: FetchError) -> Error {
    Error::Unauthorized(format!("cannot verify the sender: {e}"))
}

/// Fetches the document behind a key id: an actor with that key, or a key with an owner.
async fn fetch_key_owner(state: &FedState, key_id: &str) -> Result<RemoteActorData> {
    let url = key_id.split('#').next().unwrap_or(key_id);
    let doc = state
        .client
        .fetch_json(url, &state.fetch_signer)
        .await
        .map_err(fetch_error)?;
    // A document of another shape is neither an actor nor a key.
    let actor = ActorDocument::deserialize(&doc).unwrap_or_default();
    let key = KeyDocument::deserialize(&doc).unwrap_or_default();
    let (actor, from) = if actor.is_actor() {
        (actor, url.to_owned())
    } else if let Some(owner) = key.owner() {
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
        (
            ActorDocument::deserialize(&owner_doc).unwrap_or_default(),
            owner.to_owned(),
        )
    } else {
        return Err(Error::Unauthorized(format!(
            "{url} is neither an actor nor a key"
        )));
    };
    parse_actor(&actor, &from, Some(key_id))
        .map_err(|reason| Error::Unauthorized(format!("cannot verify the sender: {reason}")))
}

/// Runs the use case for one verified activity. `raw` is the activity as received (a Follow
/// is echoed in our Accept). Returns a short word for the log.
async fn dispatch(
    state: &FedState,
    activity: Activity,
    raw: &Value,
    signer: RemoteActorData,
) -> Result<&'static str> {
    let app = &state.app;
    let urls = app.urls();
    match activity {
        Activity::Follow(follow) => {
            if follow.object.as_ref().and_then(Ref::id) != Some(urls.actor().as_str()) {
                return Err(Error::Unprocessable(format!(
                    "only {} can be followed here",
                    urls.actor()
                )));
            }
            follows::follow(app, signer, raw.clone()).await?;
            Ok("follow accepted")
        }
        Activity::Undo(undo) => {
            let is_follow = match &undo.object {
                Some(object) if object.has_type("Follow") => true,
                // An Undo naming the Follow only by id: match it against the stored follow.
                Some(object) => match object.id() {
                    Some(follow_id) => follows::is_follow(app, &signer.ap_id, follow_id).await?,
                    None => false,
                },
                None => false,
            };
            if is_follow {
                follows::unfollow(app, &signer.ap_id).await?;
                return Ok("unfollowed");
            }
            Ok("ignored undo")
        }
        Activity::Delete(delete) => {
            let target = delete
                .target()
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
        Activity::Create(create) => {
            let Some(Ref::Object(created)) = create.object else {
                return Err(Error::Unprocessable("Create must embed its object".into()));
            };
            let Created::Post(post) = *created else {
                return Ok("ignored object type");
            };
            let Some(reply) = reply_of(&post, &signer, state.app.now())? else {
                return Ok("ignored: not a reply");
            };
            match comments::submit_comment(app, reply).await? {
                comments::SubmitOutcome::Stored(_) => Ok("comment stored"),
                comments::SubmitOutcome::Duplicate(_) => Ok("duplicate comment"),
                comments::SubmitOutcome::NotForUs => Ok("ignored: not a reply to us"),
            }
        }
        Activity::Update(update) => {
            let Some(Ref::Object(updated)) = update.object else {
                return Ok("ignored update");
            };
            if updated.id() == Some(signer.ap_id.as_str()) {
                // A profile or key change: keep the new document.
                let fresh = parse_actor(&updated.actor, &signer.ap_id, None)
                    .map_err(Error::Unprocessable)?;
                let fresh = RemoteActorData {
                    public_key_pem: fresh.public_key_pem.or(signer.public_key_pem.clone()),
                    ..fresh
                };
                remote::remember_actor(app, fresh).await?;
                return Ok("actor updated");
            }
            let post = &updated.post;
            check_attribution(post, &signer)?;
            let id = post
                .id
                .as_deref()
                .ok_or_else(|| Error::BadRequest("Update object has no id".into()))?;
            let content = post.content.as_deref().unwrap_or_default();
            match comments::edit_comment(app, id, &signer.ap_id, content).await? {
                Some(_) => Ok("comment edited"),
                None => Ok("ignored update"),
            }
        }
        Activity::Accept(_)
        | Activity::Reject(_)
        | Activity::Like(_)
        | Activity::Announce(_)
        | Activity::Flag(_)
        | Activity::Unknown => Ok("ignored activity type"),
    }
}

/// The object must be by the sender and live on the sender's host.
fn check_attribution(post: &Post, signer: &RemoteActorData) -> Result<()> {
    let by_sender = post
        .attributed_to
        .iter()
        .any(|a| a.id() == Some(signer.ap_id.as_str()));
    if !by_sender {
        return Err(Error::Forbidden(
            "the object is not attributed to the sender".into(),
        ));
    }
    let id = post
        .id
        .as_deref()
        .ok_or_else(|| Error::BadRequest("the object has no id".into()))?;
    if host_of(id) != host_of(&signer.ap_id) {
        return Err(Error::Forbidden(
            "the object is not on the sender's host".into(),
        ));
    }
    Ok(())
}

/// A post that replies to something: the submission for the comments service. A `published`
/// time after `now` is clamped to `now`.
fn reply_of(
    post: &Post,
    signer: &RemoteActorData,
    now: DateTime<Utc>,
) -> Result<Option<comments::Submission>> {
    check_attribution(post, signer)?;
    let Some(in_reply_to) = post.in_reply_to.as_ref().and_then(Ref::id) else {
        return Ok(None);
    };
    let id = post.id.clone().unwrap_or_default();
    let content = post
        .content
        .as_deref()
        .ok_or_else(|| Error::Unprocessable("the Note has no content".into()))?;
    let published = post
        .published
        .as_deref()
        .and_then(|p| DateTime::parse_from_rfc3339(p).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    Ok(Some(comments::Submission {
        network: Network::Fediverse,
        origin_id: id,
        origin_url: post.original_url().map(str::to_owned),
        in_reply_to: in_reply_to.to_owned(),
        author_id: signer.ap_id.clone(),
        author_name: signer
            .display_name
            .clone()
            .or_else(|| Some(format!("@{}@{}", signer.username, signer.domain))),
        author_domain: signer.domain.clone(),
        content_html: content.to_owned(),
        language: post.language().map(str::to_owned),
        created_at: published.min(now),
        privileged: false,
    }))
}
