//! Serving our ActivityPub documents: WebFinger, actors, NodeInfo, outbox, followers,
//! announcements (JSON for servers, HTML for people, by content negotiation), activities.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use rathaus_shared::apub::{self, ActorProfile};
use rathaus_shared::services::transparency::page_in_range;
use rathaus_shared::services::{announcements, bridge, follows, queue};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::pages::{self, Viewer};
use crate::state::FedState;

const PAGE_SIZE: u64 = 20;

pub fn routes() -> Router<FedState> {
    Router::new()
        .route("/.well-known/webfinger", get(webfinger))
        .route("/.well-known/nodeinfo", get(nodeinfo_links))
        .route("/.well-known/host-meta", get(host_meta))
        .route("/nodeinfo/2.1", get(nodeinfo))
        .route("/users/{name}", get(actor))
        .route("/@{name}", get(profile))
        .route("/actor", get(instance_actor))
        .route("/users/{name}/outbox", get(outbox))
        .route("/users/{name}/followers", get(followers))
        .route("/announcements/{id}", get(announcement))
        .route("/announcements/{id}/replies", get(replies))
        .route("/comments/{id}", get(comment))
        .route("/bridge/matrix/{handle}", get(bridge_actor))
        .route("/activities/{id}", get(activity))
        .route("/answers/{id}", get(answer))
}

/// An ActivityPub JSON answer with the right media type.
pub fn activity_json(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            "application/activity+json; charset=utf-8",
        )],
        body.to_string(),
    )
        .into_response()
}

/// True when the client asks for ActivityPub JSON rather than HTML.
pub fn wants_activity_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept.contains("application/activity+json")
                || (accept.contains("application/ld+json") && accept.contains("activitystreams"))
                || accept.contains("application/ld+json")
        })
}

fn check_name(state: &FedState, name: &str) -> Result<()> {
    if name != state.app.config.actor.username {
        return Err(Error::NotFound(format!("no actor named {name}")));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct WebfingerQuery {
    resource: Option<String>,
}

/// # GET /.well-known/webfinger?resource=acct:NAME@HOST
async fn webfinger(
    State(state): State<FedState>,
    Query(q): Query<WebfingerQuery>,
) -> Result<Response> {
    let urls = state.app.urls();
    let resource = q
        .resource
        .ok_or_else(|| Error::BadRequest("the resource parameter is missing".into()))?;
    let ours = [
        format!("acct:{}@{}", urls.username(), urls.host()),
        urls.actor(),
        urls.profile(),
    ];
    if !ours.iter().any(|r| r.eq_ignore_ascii_case(&resource)) {
        // A Matrix citizen's bridge actor: `acct:matrix_<handle>@host` or its URL.
        let handle = resource
            .strip_prefix("acct:matrix_")
            .and_then(|r| r.strip_suffix(&format!("@{}", urls.host())))
            .or_else(|| urls.bridge_handle(&resource));
        if let Some(handle) = handle {
            bridge::actor_document(&state.app, handle).await?;
            return Ok((
                [(header::CONTENT_TYPE, "application/jrd+json; charset=utf-8")],
                apub::bridge_webfinger(&urls, handle).to_string(),
            )
                .into_response());
        }
        return Err(Error::NotFound(format!("no such resource: {resource}")));
    }
    Ok((
        [(header::CONTENT_TYPE, "application/jrd+json; charset=utf-8")],
        apub::webfinger(&urls).to_string(),
    )
        .into_response())
}

/// # GET /.well-known/host-meta
async fn host_meta(State(state): State<FedState>) -> Response {
    let base = state.app.urls().base().to_owned();
    (
        [(header::CONTENT_TYPE, "application/xrd+xml; charset=utf-8")],
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\
             <Link rel=\"lrdd\" template=\"{base}/.well-known/webfinger?resource={{uri}}\"/></XRD>\n"
        ),
    )
        .into_response()
}

/// # GET /.well-known/nodeinfo
async fn nodeinfo_links(State(state): State<FedState>) -> Json<Value> {
    let base = state.app.urls().base().to_owned();
    Json(json!({
        "links": [{
            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
            "href": format!("{base}/nodeinfo/2.1"),
        }]
    }))
}

/// # GET /nodeinfo/2.1
async fn nodeinfo(State(state): State<FedState>) -> Result<Response> {
    let posts = announcements::count(&state.app).await?;
    let body = json!({
        "version": "2.1",
        "software": {
            "name": "rathaus",
            "version": env!("CARGO_PKG_VERSION"),
            "repository": "https://example.invalid/rathaus",
        },
        "protocols": ["activitypub"],
        "services": { "inbound": [], "outbound": [] },
        "openRegistrations": false,
        "usage": { "users": { "total": 1, "activeMonth": 1, "activeHalfyear": 1 }, "localPosts": posts },
        "metadata": { "nodeName": state.app.config.actor.display_name },
    });
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\"",
        )],
        body.to_string(),
    )
        .into_response())
}

fn actor_doc(
    state: &FedState,
    public_key_pem: &str,
    published: chrono::DateTime<chrono::Utc>,
) -> Value {
    let c = &state.app.config.actor;
    let summary = rathaus_shared::markdown::to_html(&c.summary);
    let mut links = Vec::new();
    if !c.imprint_url.is_empty() {
        links.push(("Impressum", c.imprint_url.as_str()));
    }
    if !c.privacy_url.is_empty() {
        links.push(("Datenschutz", c.privacy_url.as_str()));
    }
    let kind = format!("{:?}", c.kind);
    apub::actor_document(
        &state.app.urls(),
        &ActorProfile {
            kind: &kind,
            name: &c.display_name,
            summary_html: &summary,
            public_key_pem,
            published,
            icon_url: (!c.icon_url.is_empty()).then_some(c.icon_url.as_str()),
            links,
        },
    )
}

/// # GET /users/{name}
/// The town hall's actor; browsers are sent to the profile page.
async fn actor(
    State(state): State<FedState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    check_name(&state, &name)?;
    if !wants_activity_json(&headers) {
        return Ok(Redirect::to(&state.app.urls().profile()).into_response());
    }
    let (actor, _) = state.app.ensure_local_actor().await?;
    Ok(activity_json(
        StatusCode::OK,
        actor_doc(&state, &actor.public_key_pem, actor.created_at),
    ))
}

/// # GET /@{name}
/// The profile page people reach from Mastodon; servers are sent to the actor.
async fn profile(
    State(state): State<FedState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    viewer: Viewer,
) -> Result<Response> {
    check_name(&state, &name)?;
    if wants_activity_json(&headers) {
        return Ok(Redirect::to(&state.app.urls().actor()).into_response());
    }
    Ok(pages::profile(&state, &viewer).await)
}

/// # GET /actor
async fn instance_actor(State(state): State<FedState>) -> Result<Response> {
    let instance = state.app.instance_actor().await?;
    Ok(activity_json(
        StatusCode::OK,
        apub::instance_actor_document(&state.app.urls(), &instance.public_key_pem),
    ))
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<u64>,
}

/// A paged collection's summary (no `?page`).
fn collection_summary(id: &str, total: u64) -> Response {
    activity_json(
        StatusCode::OK,
        apub::ordered_collection(id, total, &format!("{id}?page=1")),
    )
}

/// Page `page` (from 1) of a collection of `total` items, linking the next page if any.
fn collection_page(id: &str, total: u64, page: u64, items: Vec<Value>) -> Response {
    let next = (page * PAGE_SIZE < total).then(|| format!("{id}?page={}", page + 1));
    activity_json(
        StatusCode::OK,
        apub::ordered_collection_page(&format!("{id}?page={page}"), id, items, next),
    )
}

/// # GET /users/{name}/outbox[?page=N]
/// Announcements as `Create` activities, newest first.
async fn outbox(
    State(state): State<FedState>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    check_name(&state, &name)?;
    let urls = state.app.urls();
    let total = announcements::count(&state.app).await?;
    let id = urls.outbox();
    let Some(page) = q.page else {
        return Ok(collection_summary(&id, total));
    };
    let page = page_in_range(page, total, PAGE_SIZE);
    let views = announcements::page(&state.app, page - 1, PAGE_SIZE).await?;
    let items = views
        .iter()
        .filter(|v| v.announcement.retracted_at.is_none())
        .map(|view| {
            let note = apub::note(&urls, view, state.app.config.site.time_zone);
            apub::create(
                &urls,
                &format!("{}/activity", urls.announcement(view.announcement.id)),
                note,
            )
        })
        .collect();
    Ok(collection_page(&id, total, page, items))
}

/// # GET /users/{name}/followers[?page=N]
async fn followers(
    State(state): State<FedState>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    check_name(&state, &name)?;
    let urls = state.app.urls();
    let total = follows::count(&state.app).await?;
    let id = urls.followers();
    let Some(page) = q.page else {
        return Ok(collection_summary(&id, total));
    };
    let page = page_in_range(page, total, PAGE_SIZE);
    let ids = follows::follower_ids(&state.app, (page - 1) * PAGE_SIZE, PAGE_SIZE).await?;
    Ok(collection_page(
        &id,
        total,
        page,
        ids.into_iter().map(Value::from).collect(),
    ))
}

/// # GET /announcements/{id}/replies[?page=N]
/// The published comments of both networks, as Mastodon fetches them to show a full thread:
/// fediverse comments by their own ids, Matrix comments by their bridged Notes.
async fn replies(
    State(state): State<FedState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::NotFound(format!("announcement {id}")))?;
    let view = announcements::get(&state.app, id).await?;
    if view.announcement.retracted_at.is_some() {
        return Err(rathaus_shared::Error::Gone(format!("announcement {id} was retracted")).into());
    }
    let collection = state.app.urls().replies(id);
    let page = q.page.unwrap_or(0);
    let (total, items) = bridge::replies(&state.app, id, page.max(1), PAGE_SIZE).await?;
    if q.page.is_none() {
        return Ok(collection_summary(&collection, total));
    }
    let page = page_in_range(page, total, PAGE_SIZE);
    Ok(collection_page(
        &collection,
        total,
        page,
        items.into_iter().map(Value::from).collect(),
    ))
}

/// # GET /comments/{id}
/// A bridged Matrix comment's Note for servers (410 once it is no longer public); people are
/// sent to the comment on its announcement's page.
async fn comment(
    State(state): State<FedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::NotFound(format!("comment {id}")))?;
    if !wants_activity_json(&headers) {
        let page = bridge::comment_page(&state.app, id).await?;
        return Ok(Redirect::to(&page).into_response());
    }
    let note = bridge::comment_note(&state.app, id).await;
    Ok(activity_json(StatusCode::OK, note?))
}

/// # GET /bridge/matrix/{handle}
/// A Matrix citizen's bridge actor (410 once they opted out or were erased).
async fn bridge_actor(
    State(state): State<FedState>,
    Path(handle): Path<String>,
) -> Result<Response> {
    if !handle.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::NotFound(format!("bridge actor {handle}")));
    }
    Ok(activity_json(
        StatusCode::OK,
        bridge::actor_document(&state.app, &handle).await?,
    ))
}

/// # GET /announcements/{id}
/// The Note (or its Tombstone, 410) for servers; the announcement's page for people.
async fn announcement(
    State(state): State<FedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    viewer: Viewer,
) -> Result<Response> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::NotFound(format!("announcement {id}")))?;
    if !wants_activity_json(&headers) {
        return Ok(pages::announcement(&state, &viewer, id).await);
    }
    let view = announcements::get(&state.app, id).await?;
    let urls = state.app.urls();
    if view.announcement.retracted_at.is_some() {
        return Ok(activity_json(
            StatusCode::GONE,
            apub::tombstone(&urls, &view),
        ));
    }
    Ok(activity_json(
        StatusCode::OK,
        apub::with_context(apub::note(&urls, &view, state.app.config.site.time_zone)),
    ))
}

/// # GET /activities/{id}
/// Activities we sent stay dereferenceable by their id.
async fn activity(State(state): State<FedState>, Path(id): Path<String>) -> Result<Response> {
    let ap_id = format!("{}/activities/{id}", state.app.urls().base());
    let found = queue::sent_activity(&state.app, &ap_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("activity {id}")))?;
    let payload: Value =
        serde_json::from_str(&found).map_err(|e| Error::Internal(e.to_string()))?;
    // Tombstoned by an erasure: it named a person whose data is gone.
    let status = if payload["type"] == "Tombstone" {
        StatusCode::GONE
    } else {
        StatusCode::OK
    };
    Ok(activity_json(status, payload))
}

/// # GET /answers/{id}
/// An official answer as the Note federated into the citizen's thread.
async fn answer(State(state): State<FedState>, Path(id): Path<String>) -> Result<Response> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::NotFound(format!("answer {id}")))?;
    let note = rathaus_shared::services::comments::answer_note(&state.app, id).await?;
    Ok(activity_json(StatusCode::OK, note))
}
