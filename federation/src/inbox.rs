//! The inbox. Checks run cheapest first, and nothing is fetched before the request is known
//! to be signed, for us, and about someone we could have to deal with (the order is recorded
//! in ARCHITECTURE.md): the inbox exists, the body is ActivityPub JSON, a signature is
//! present, the body fits, digest and date are right, the signature was made for our host,
//! the JSON has an id, actor and type; a `Delete` from an actor we never saw ends here; then
//! the sender's key is found (`senders`), the activity's actor must own it, and the activity,
//! read into the typed wire shapes of `activities`, becomes a command for `shared`'s durable
//! inbox queue (`services::inbox`), whose outcome the request waits for. Bad input gets a 4xx
//! with a reason and changes nothing.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use rathaus_shared::domain::Network;
use rathaus_shared::services::inbox::{Inbound, Reaction as ReactionKind};
use rathaus_shared::services::remote::{self, RemoteActorData};
use rathaus_shared::services::{comments, content};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::activities::{Activity, Created, Envelope, HasId, Node, Post, Ref};
use crate::error::{Error, Result};
use crate::protocol::{depth, host_of, is_activity_json};
use crate::senders;
use crate::signatures::{self, SignatureError};
use crate::state::FedState;

/// Nesting deeper than this is no real activity.
const MAX_DEPTH: usize = 32;

pub fn routes() -> Router<FedState> {
    Router::new()
        .route("/inbox", post(shared_inbox))
        .route("/users/{name}/inbox", post(actor_inbox))
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

/// # POST /inbox
async fn shared_inbox(State(state): State<FedState>, request: Request) -> Response {
    let response = handle_inbox(&state, request).await.into_response();
    state.app.metrics.inbox(response.status().as_u16());
    response
}

/// # POST /users/{name}/inbox
/// Only our actor has an inbox: a signature for any other path is no good here.
async fn actor_inbox(
    State(state): State<FedState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let response = if name == state.app.urls().username() {
        handle_inbox(&state, request).await.into_response()
    } else {
        Error::NotFound(format!("there is no actor {name} here")).into_response()
    };
    state.app.metrics.inbox(response.status().as_u16());
    response
}

/// `host[:port]` as a signed `Host` header may write it: lower case, and without the
/// scheme's standard port.
fn normal_host(host: &str, scheme: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    let standard = match scheme {
        "https" => ":443",
        _ => ":80",
    };
    host.strip_suffix(standard)
        .map(str::to_owned)
        .unwrap_or(host)
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
    let content_type = headers.get("content-type").map(String::as_str);
    if !content_type.is_some_and(|t| is_activity_json(t, true)) {
        return Err(Error::UnsupportedMediaType(format!(
            "the body must be application/activity+json, application/ld+json with the \
             ActivityStreams profile, or application/json, not `{}`",
            content_type.unwrap_or_default()
        )));
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
    // A request signed for another server, replayed to us, is not ours to accept.
    let public = &state.app.config.server.public_url;
    let ours = normal_host(&state.app.config.public_host(), public.scheme());
    if normal_host(&pending.host, public.scheme()) != ours {
        return Err(Error::Unauthorized(format!(
            "the signature was made for host `{}`, not for {ours}",
            pending.host
        )));
    }

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
    let app = &state.app;
    // Deletes of actors we never saw arrive by the million when a server shuts down: nothing
    // of theirs is stored here, so there is nothing to check, fetch or forget.
    if matches!(activity, Ok(Activity::Delete(_)))
        && remote::known_actor(app, &actor_id).await?.is_none()
        && remote::actor_with_key(app, &pending.key_id)
            .await?
            .is_none()
    {
        return Ok(accepted("ignored: delete by an unknown actor"));
    }

    // Whose key signed it?
    let signer = senders::sender(state, &pending).await?;
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
    let activity = activity
        .map_err(|e| Error::BadRequest(format!("the {kind} activity is malformed: {e}")))?;
    let command = match command_of(state, activity, value, &activity_id, signer).await? {
        Step::Done(result) => {
            tracing::info!(kind = %kind, result, "inbox activity handled");
            return Ok(accepted(result));
        }
        Step::Queue(command) => *command,
    };
    let wait = Duration::from_millis(app.config.federation.inbox_apply_wait_ms);
    let result = match state.intake.submit(&activity_id, &command, wait).await? {
        Some(applied) => applied?,
        None => "queued",
    };
    tracing::info!(kind = %kind, result, "inbox activity handled");
    Ok(accepted(result))
}

/// What to do with a verified activity.
enum Step {
    /// Nothing to keep (ignored kinds), or done already (an actor's update).
    Done(&'static str),
    /// Queued durably, then applied by `shared`'s inbox writer in order with the rest.
    Queue(Box<Inbound>),
}

/// Reads a verified activity into the command the services apply. Checks that need no store
/// (attribution, shape, something to read) refuse here, before anything is queued. `raw` is
/// the activity as received (a Follow is echoed in our Accept).
async fn command_of(
    state: &FedState,
    activity: Activity,
    raw: Value,
    activity_id: &str,
    signer: RemoteActorData,
) -> Result<Step> {
    let app = &state.app;
    let urls = app.urls();
    let command = match activity {
        Activity::Follow(follow) => {
            if follow.object.as_ref().and_then(Ref::id) != Some(urls.actor().as_str()) {
                return Err(Error::Unprocessable(format!(
                    "only {} can be followed here",
                    urls.actor()
                )));
            }
            Inbound::Follow {
                follower: signer,
                activity: raw,
            }
        }
        Activity::Undo(undo) => Inbound::Undo {
            object_id: undo.object.as_ref().and_then(Ref::id).map(str::to_owned),
            follow: undo.object.as_ref().is_some_and(|o| o.has_type("Follow")),
            actor_id: signer.ap_id,
        },
        Activity::Delete(delete) => {
            let target = delete
                .target()
                .ok_or_else(|| Error::BadRequest("Delete without an object".into()))?;
            if target == signer.ap_id {
                // The account is gone: so is everything of theirs here.
                Inbound::EraseAuthor {
                    author_id: signer.ap_id,
                }
            } else {
                Inbound::DeleteObject {
                    object_id: target.to_owned(),
                    author_id: signer.ap_id,
                }
            }
        }
        Activity::Create(create) => {
            let Some(Ref::Object(created)) = create.object else {
                return Err(Error::Unprocessable("Create must embed its object".into()));
            };
            let Created::Post(post) = *created else {
                return Ok(Step::Done("ignored object type"));
            };
            let Some(reply) = reply_of(&post, &signer, app.config.site.language.code(), app.now())?
            else {
                return Ok(Step::Done("ignored: not a reply"));
            };
            Inbound::Reply(reply)
        }
        Activity::Update(update) => {
            let Some(Ref::Object(updated)) = update.object else {
                return Ok(Step::Done("ignored update"));
            };
            if updated.id() == Some(signer.ap_id.as_str()) {
                // A profile or key change. Only the actor's own server speaks for its key and
                // inboxes: keep the document as fetched from its id, not the embedded copy.
                if remote::already_handled(app, activity_id).await? {
                    return Ok(Step::Done("duplicate"));
                }
                let fresh = senders::refetch_actor(state, &signer).await?;
                remote::remember_actor(app, fresh).await?;
                if let Some(key_id) = &signer.key_id {
                    state.known_senders.forget(key_id);
                }
                remote::mark_handled(app, activity_id).await?;
                return Ok(Step::Done("actor updated"));
            }
            let post = &updated.post;
            check_attribution(post, &signer)?;
            let id = post
                .id
                .as_deref()
                .ok_or_else(|| Error::BadRequest("Update object has no id".into()))?;
            let (text, _) = post
                .body(app.config.site.language.code())
                .unwrap_or_default();
            Inbound::Edit {
                origin_id: id.to_owned(),
                author_id: signer.ap_id.clone(),
                content_html: text.to_owned(),
                warning: warning_of(post),
            }
        }
        Activity::Flag(flag) => Inbound::Report {
            domain: host_of(&signer.ap_id).unwrap_or_default(),
            objects: flag
                .object
                .iter()
                .filter_map(Ref::id)
                .map(str::to_owned)
                .collect(),
            content: flag.content,
        },
        Activity::Like(like) => reaction(ReactionKind::Like, activity_id, like.object.as_ref()),
        Activity::Announce(boost) => {
            reaction(ReactionKind::Boost, activity_id, boost.object.as_ref())
        }
        Activity::Accept(_) | Activity::Reject(_) | Activity::Unknown => {
            return Ok(Step::Done("ignored activity type"));
        }
    };
    Ok(Step::Queue(Box::new(command)))
}

/// A Like or boost: counted when it names an announcement of ours (checked when applied).
fn reaction(kind: ReactionKind, activity_id: &str, object: Option<&Ref<Node>>) -> Inbound {
    Inbound::React {
        kind,
        activity_id: activity_id.to_owned(),
        object_id: object.and_then(Ref::id).unwrap_or_default().to_owned(),
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

/// A post's content warning and sensitive flag.
fn warning_of(post: &Post) -> content::Warning {
    content::Warning {
        text: post.summary.clone(),
        sensitive: post.sensitive.unwrap_or(false),
    }
}

/// A post that replies to something: the submission for the comments service. A `published`
/// time after `now` is clamped to `now`. The text is `content`, else `contentMap` in the
/// site's `language`; the link to the original is kept only when it is an http(s) URL.
fn reply_of(
    post: &Post,
    signer: &RemoteActorData,
    language: &str,
    now: DateTime<Utc>,
) -> Result<Option<comments::Submission>> {
    check_attribution(post, signer)?;
    let Some(in_reply_to) = post.in_reply_to.as_ref().and_then(Ref::id) else {
        return Ok(None);
    };
    let id = post.id.clone().unwrap_or_default();
    let (text, text_language) = post
        .body(language)
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
        origin_url: post.original_url().and_then(content::web_url),
        in_reply_to: in_reply_to.to_owned(),
        author_id: signer.ap_id.clone(),
        author_name: signer
            .display_name
            .clone()
            .or_else(|| Some(format!("@{}@{}", signer.username, signer.domain))),
        author_domain: signer.domain.clone(),
        content_html: text.to_owned(),
        language: text_language.map(str::to_owned),
        warning: warning_of(post),
        created_at: published.min(now),
        received_at: now,
        public: post.is_public(),
        privileged: false,
    }))
}
