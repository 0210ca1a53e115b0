//! A small ActivityPub instance on `activitypub_federation` (the library Lemmy uses, axum
//! flavour) with one Person. Everything it receives goes through the crate's verifying inbox
//! (`receive_activity`: body Digest, HTTP signature, the sender fetched with a signed GET);
//! everything it sends goes through the crate's signing send path (`SendActivityTask`).
//!
//! It keeps what it knows in memory: the actors it fetched, the notes it received or wrote,
//! the follows that were accepted, and the inbox requests it refused (for failure messages).

use std::fmt;
use std::sync::{Arc, Mutex};

use activitypub_federation::activity_sending::SendActivityTask;
use activitypub_federation::axum::inbox::{ActivityData, receive_activity};
use activitypub_federation::axum::json::FederationJson;
use activitypub_federation::config::{Data, FederationConfig, FederationMiddleware};
use activitypub_federation::error::Error as ApfError;
use activitypub_federation::fetch::object_id::ObjectId;
use activitypub_federation::kinds::activity::{
    AcceptType, CreateType, DeleteType, FollowType, UpdateType,
};
use activitypub_federation::kinds::object::NoteType;
use activitypub_federation::kinds::public;
use activitypub_federation::protocol::context::WithContext;
use activitypub_federation::protocol::helpers::deserialize_one_or_many;
use activitypub_federation::protocol::public_key::PublicKey;
use activitypub_federation::protocol::tombstone::Tombstone;
use activitypub_federation::traits::{Activity, Actor, Object};
use anyhow::{Result, ensure};
use async_trait::async_trait;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

const AS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";
const SECURITY_CONTEXT: &str = "https://w3id.org/security/v1";

/// The peer's memory, shared by its handlers (the crate's `app_data`).
#[derive(Debug)]
pub struct PeerState {
    me: DbActor,
    actors: Mutex<Vec<DbActor>>,
    notes: Mutex<Vec<DbNote>>,
    accepted: Mutex<Vec<Url>>,
    refused: Mutex<Vec<String>>,
}

type Handle = Arc<PeerState>;

/// Why the peer refused or failed something; the status tells the sender.
#[derive(Debug)]
pub enum PeerError {
    /// From the crate: parsing, fetching the sender, its signature or the body's digest.
    Federation(ApfError),
    /// Understood, but against the peer's rules (a note by someone else, a stray Accept).
    Refused(String),
}

impl From<ApfError> for PeerError {
    fn from(e: ApfError) -> Self {
        PeerError::Federation(e)
    }
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Federation(e) => write!(f, "{e}"),
            PeerError::Refused(why) => write!(f, "refused: {why}"),
        }
    }
}

impl std::error::Error for PeerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PeerError::Federation(e) => Some(e),
            PeerError::Refused(_) => None,
        }
    }
}

impl PeerError {
    /// The crate's examples answer 500 to everything, which senders retry for days. A fault of
    /// the request is a 4xx (final, except 401: a key may have rotated); only our own is 500.
    fn status(&self) -> StatusCode {
        use ApfError as E;
        match self {
            PeerError::Refused(_) => StatusCode::FORBIDDEN,
            // http-signature-normalization's errors (no signature, expired, headers missing)
            // arrive as `Other`.
            PeerError::Federation(
                E::ActivitySignatureInvalid | E::ActivityBodyDigestInvalid | E::Other(_),
            ) => StatusCode::UNAUTHORIZED,
            PeerError::Federation(
                E::ParseReceivedActivity { .. } | E::UrlParse(_) | E::UrlVerificationError(_),
            ) => StatusCode::BAD_REQUEST,
            // The sender's actor could not be fetched, so its signature cannot be checked.
            PeerError::Federation(
                E::NotFound
                | E::ObjectDeleted(_)
                | E::RequestLimit
                | E::ResponseBodyLimit
                | E::DomainResolveError(_)
                | E::ResolveInternalIpError(..)
                | E::Reqwest(_)
                | E::ReqwestMiddleware(_)
                | E::ParseFetchedObject(..)
                | E::FetchInvalidContentType(_)
                | E::FetchWrongId(_),
            ) => StatusCode::UNAUTHORIZED,
            PeerError::Federation(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for PeerError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            return status.into_response();
        }
        (status, self.to_string()).into_response()
    }
}

/// The crate's `verify_domains_match` compares domains only; on loopback every instance is
/// `localhost`, so the peer compares scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> Result<(), PeerError> {
    if a.origin() == b.origin() {
        Ok(())
    } else {
        Err(PeerError::Refused(format!("{a} is not on the host of {b}")))
    }
}

/// An actor: the peer's own (with its private key) or one it fetched.
#[derive(Debug, Clone)]
pub struct DbActor {
    id: ObjectId<DbActor>,
    name: String,
    inbox: Url,
    shared_inbox: Option<Url>,
    public_key_pem: String,
    private_key_pem: Option<String>,
}

/// An actor document as the peer serves and reads it (any actor type).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActorJson {
    id: ObjectId<DbActor>,
    #[serde(rename = "type")]
    kind: String,
    preferred_username: String,
    inbox: Url,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endpoints: Option<Endpoints>,
    public_key: PublicKey,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Endpoints {
    #[serde(default)]
    shared_inbox: Option<Url>,
}

#[async_trait]
impl Object for DbActor {
    type DataType = Handle;
    type Kind = ActorJson;
    type Error = PeerError;

    fn id(&self) -> &Url {
        self.id.inner()
    }

    async fn read_from_id(id: Url, data: &Data<Handle>) -> Result<Option<Self>, PeerError> {
        if *data.me.id.inner() == id {
            return Ok(Some(data.me.clone()));
        }
        let actors = data.actors.lock().expect("actors lock");
        Ok(actors.iter().find(|a| *a.id.inner() == id).cloned())
    }

    async fn into_json(self, _data: &Data<Handle>) -> Result<ActorJson, PeerError> {
        Ok(ActorJson {
            public_key: self.public_key(),
            id: self.id,
            kind: "Person".into(),
            preferred_username: self.name,
            inbox: self.inbox,
            endpoints: self.shared_inbox.map(|url| Endpoints {
                shared_inbox: Some(url),
            }),
        })
    }

    async fn verify(
        json: &ActorJson,
        fetched_from: &Url,
        _data: &Data<Handle>,
    ) -> Result<(), PeerError> {
        same_origin(json.id.inner(), fetched_from)?;
        // The key must be this actor's, or one actor could sign as another.
        if json.public_key.owner != *json.id.inner() {
            return Err(PeerError::Refused(format!(
                "the key of {} belongs to {}",
                json.id, json.public_key.owner
            )));
        }
        Ok(())
    }

    async fn from_json(json: ActorJson, data: &Data<Handle>) -> Result<Self, PeerError> {
        let actor = DbActor {
            id: json.id,
            name: json.preferred_username,
            inbox: json.inbox,
            shared_inbox: json.endpoints.and_then(|e| e.shared_inbox),
            public_key_pem: json.public_key.public_key_pem,
            private_key_pem: None,
        };
        let mut actors = data.actors.lock().expect("actors lock");
        actors.retain(|a| a.id != actor.id);
        actors.push(actor.clone());
        Ok(actor)
    }
}

impl Actor for DbActor {
    fn public_key_pem(&self) -> &str {
        &self.public_key_pem
    }

    fn private_key_pem(&self) -> Option<String> {
        self.private_key_pem.clone()
    }

    fn inbox(&self) -> Url {
        self.inbox.clone()
    }

    fn shared_inbox(&self) -> Option<Url> {
        self.shared_inbox.clone()
    }
}

/// A note the peer received or wrote: a thin newtype over its wire shape.
#[derive(Debug, Clone)]
pub struct DbNote(pub NoteJson);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteJson {
    pub id: ObjectId<DbNote>,
    #[serde(rename = "type")]
    kind: NoteType,
    pub attributed_to: ObjectId<DbActor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<ObjectId<DbNote>>,
    pub content: String,
    #[serde(deserialize_with = "deserialize_one_or_many")]
    pub to: Vec<Url>,
    #[serde(default, deserialize_with = "deserialize_one_or_many")]
    pub cc: Vec<Url>,
    #[serde(default)]
    pub tag: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
}

/// A `tag` entry: the peer writes Mentions and reads any kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tag {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl DbNote {
    fn remember(self, data: &Data<Handle>) -> Self {
        let mut notes = data.notes.lock().expect("notes lock");
        notes.retain(|n| n.0.id != self.0.id);
        notes.push(self.clone());
        self
    }
}

#[async_trait]
impl Object for DbNote {
    type DataType = Handle;
    type Kind = NoteJson;
    type Error = PeerError;

    fn id(&self) -> &Url {
        self.0.id.inner()
    }

    async fn read_from_id(id: Url, data: &Data<Handle>) -> Result<Option<Self>, PeerError> {
        let notes = data.notes.lock().expect("notes lock");
        Ok(notes.iter().find(|n| *n.0.id.inner() == id).cloned())
    }

    async fn delete(&self, data: &Data<Handle>) -> Result<(), PeerError> {
        let mut notes = data.notes.lock().expect("notes lock");
        notes.retain(|n| n.0.id != self.0.id);
        Ok(())
    }

    async fn into_json(self, _data: &Data<Handle>) -> Result<NoteJson, PeerError> {
        Ok(self.0)
    }

    async fn verify(
        json: &NoteJson,
        expected: &Url,
        _data: &Data<Handle>,
    ) -> Result<(), PeerError> {
        same_origin(json.id.inner(), expected)?;
        same_origin(json.attributed_to.inner(), expected)
    }

    async fn from_json(json: NoteJson, data: &Data<Handle>) -> Result<Self, PeerError> {
        Ok(DbNote(json).remember(data))
    }
}

/// `Follow`, sent by the peer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Follow {
    id: Url,
    #[serde(rename = "type")]
    kind: FollowType,
    actor: ObjectId<DbActor>,
    object: ObjectId<DbActor>,
}

#[async_trait]
impl Activity for Follow {
    type DataType = Handle;
    type Error = PeerError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, _data: &Data<Handle>) -> Result<(), PeerError> {
        Ok(())
    }

    async fn receive(self, _data: &Data<Handle>) -> Result<(), PeerError> {
        Err(PeerError::Refused("this peer takes no followers".into()))
    }
}

/// `Accept` of one of the peer's follows, the Follow embedded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Accept {
    id: Url,
    #[serde(rename = "type")]
    kind: AcceptType,
    actor: ObjectId<DbActor>,
    object: Follow,
}

#[async_trait]
impl Activity for Accept {
    type DataType = Handle;
    type Error = PeerError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, data: &Data<Handle>) -> Result<(), PeerError> {
        if self.object.actor != data.me.id || self.object.object != self.actor {
            return Err(PeerError::Refused(format!(
                "{} answers a follow that is not ours to it",
                self.id
            )));
        }
        Ok(())
    }

    async fn receive(self, data: &Data<Handle>) -> Result<(), PeerError> {
        data.accepted
            .lock()
            .expect("accepted lock")
            .push(self.object.id);
        Ok(())
    }
}

/// `Create` or `Update` of a Note, by its author.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteActivity<K> {
    id: Url,
    #[serde(rename = "type")]
    kind: K,
    actor: ObjectId<DbActor>,
    #[serde(deserialize_with = "deserialize_one_or_many")]
    to: Vec<Url>,
    #[serde(default, deserialize_with = "deserialize_one_or_many")]
    cc: Vec<Url>,
    object: NoteJson,
}

pub type CreateNote = NoteActivity<CreateType>;
pub type UpdateNote = NoteActivity<UpdateType>;

#[async_trait]
impl<K: fmt::Debug + Send + Sync> Activity for NoteActivity<K> {
    type DataType = Handle;
    type Error = PeerError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, data: &Data<Handle>) -> Result<(), PeerError> {
        if self.object.attributed_to != self.actor {
            return Err(PeerError::Refused(format!(
                "{} is not by {}",
                self.object.id, self.actor
            )));
        }
        DbNote::verify(&self.object, &self.id, data).await
    }

    async fn receive(self, data: &Data<Handle>) -> Result<(), PeerError> {
        DbNote::from_json(self.object, data).await?;
        Ok(())
    }
}

/// `Delete` of a Note, as a Tombstone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteNote {
    id: Url,
    #[serde(rename = "type")]
    kind: DeleteType,
    actor: ObjectId<DbActor>,
    #[serde(deserialize_with = "deserialize_one_or_many")]
    to: Vec<Url>,
    object: Tombstone,
}

#[async_trait]
impl Activity for DeleteNote {
    type DataType = Handle;
    type Error = PeerError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn actor(&self) -> &Url {
        self.actor.inner()
    }

    async fn verify(&self, _data: &Data<Handle>) -> Result<(), PeerError> {
        same_origin(&self.object.id, self.actor.inner())
    }

    async fn receive(self, data: &Data<Handle>) -> Result<(), PeerError> {
        let note = ObjectId::<DbNote>::from(self.object.id)
            .dereference_local(data)
            .await;
        if let Ok(note) = note
            && note.0.attributed_to == self.actor
        {
            note.delete(data).await?;
        }
        Ok(())
    }
}

/// What the inbox takes. Anything else fails to parse in the crate and is answered 400.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Inbound {
    Accept(Accept),
    Create(CreateNote),
    Update(UpdateNote),
    Delete(DeleteNote),
}

#[async_trait]
impl Activity for Inbound {
    type DataType = Handle;
    type Error = PeerError;

    fn id(&self) -> &Url {
        match self {
            Inbound::Accept(a) => a.id(),
            Inbound::Create(a) => a.id(),
            Inbound::Update(a) => a.id(),
            Inbound::Delete(a) => a.id(),
        }
    }

    fn actor(&self) -> &Url {
        match self {
            Inbound::Accept(a) => a.actor(),
            Inbound::Create(a) => a.actor(),
            Inbound::Update(a) => a.actor(),
            Inbound::Delete(a) => a.actor(),
        }
    }

    async fn verify(&self, data: &Data<Handle>) -> Result<(), PeerError> {
        // The crate checked the domains only (see `same_origin`).
        same_origin(self.id(), self.actor())?;
        match self {
            Inbound::Accept(a) => a.verify(data).await,
            Inbound::Create(a) => a.verify(data).await,
            Inbound::Update(a) => a.verify(data).await,
            Inbound::Delete(a) => a.verify(data).await,
        }
    }

    async fn receive(self, data: &Data<Handle>) -> Result<(), PeerError> {
        match self {
            Inbound::Accept(a) => a.receive(data).await,
            Inbound::Create(a) => a.receive(data).await,
            Inbound::Update(a) => a.receive(data).await,
            Inbound::Delete(a) => a.receive(data).await,
        }
    }
}

/// # GET /users/NAME
/// With the security context too: JSON-LD peers drop `publicKey` without it.
async fn actor(data: Data<Handle>) -> Result<FederationJson<WithContext<ActorJson>>, PeerError> {
    let json = data.me.clone().into_json(&data).await?;
    let context = json!([AS_CONTEXT, SECURITY_CONTEXT]);
    Ok(FederationJson(WithContext::new(json, context)))
}

/// # POST /users/NAME/inbox
/// The crate reads the body (at most 1 MiB), checks its Digest, fetches the sender, verifies
/// the signature, then calls `verify` and `receive` of the activity.
async fn inbox(data: Data<Handle>, activity: Result<ActivityData, Response>) -> Response {
    let outcome = match activity {
        Ok(activity) => {
            receive_activity::<WithContext<Inbound>, DbActor, Handle>(activity, &data).await
        }
        // The crate answers 500 when the body cannot be read; on loopback that is its cap.
        Err(_) => {
            let refused = "the body is larger than 1 MiB";
            data.refused
                .lock()
                .expect("refused lock")
                .push(refused.into());
            return (StatusCode::PAYLOAD_TOO_LARGE, refused).into_response();
        }
    };
    match outcome {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => {
            data.refused
                .lock()
                .expect("refused lock")
                .push(e.to_string());
            e.into_response()
        }
    }
}

/// The running peer, `http://localhost:PORT/users/NAME`.
pub struct ApubPeer {
    config: FederationConfig<Handle>,
    server: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for ApubPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApubPeer")
            .field("actor", &self.state().me.id)
            .finish()
    }
}

impl ApubPeer {
    /// Serves the peer on 127.0.0.1:PORT as `http://localhost:PORT`: the crate rejects IP
    /// literals, and allows http and explicit ports only in debug mode.
    pub async fn start(port: u16, name: &str) -> Result<Self> {
        let base = format!("http://localhost:{port}");
        // The crate's `generate_actor_keypair` takes 3–20 s in a debug build (its bignum crate
        // is not optimised there). A key is only data: signing and verifying stay the crate's.
        let keys = rathaus_shared::keys::generate_rsa_keypair()?;
        let me = DbActor {
            id: ObjectId::parse(&format!("{base}/users/{name}"))?,
            name: name.to_owned(),
            inbox: Url::parse(&format!("{base}/users/{name}/inbox"))?,
            shared_inbox: None,
            public_key_pem: keys.public_pem,
            private_key_pem: Some(keys.private_pem),
        };
        let state = PeerState {
            me: me.clone(),
            actors: Mutex::default(),
            notes: Mutex::default(),
            accepted: Mutex::default(),
            refused: Mutex::default(),
        };
        let config = FederationConfig::builder()
            .domain(format!("localhost:{port}"))
            .app_data(Arc::new(state))
            .debug(true)
            // Without it fetches are signed with (created)/(expires) but no Date or Host, which
            // Fedify rejects (POSTs carry both either way, so Rathaus does not notice).
            .http_signature_compat(true)
            // Fetches signed, as servers in authorized-fetch mode require.
            .signed_fetch_actor(&me)
            .build()
            .await?;
        let app = axum::Router::new()
            .route(me.id.inner().path(), get(actor))
            .route(me.inbox.path(), post(inbox))
            .layer(FederationMiddleware::new(config.clone()));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { config, server })
    }

    fn state(&self) -> &PeerState {
        &self.config
    }

    pub fn actor_id(&self) -> &Url {
        self.state().me.id.inner()
    }

    pub fn inbox(&self) -> &Url {
        &self.state().me.inbox
    }

    /// Follow ids that were answered with a verified Accept.
    pub fn accepted(&self) -> Vec<Url> {
        self.state().accepted.lock().expect("accepted lock").clone()
    }

    /// A note that arrived (or that the peer wrote), by id.
    pub fn note(&self, id: &str) -> Option<NoteJson> {
        let notes = self.state().notes.lock().expect("notes lock");
        notes
            .iter()
            .find(|n| n.0.id.inner().as_str() == id)
            .map(|n| n.0.clone())
    }

    /// Why inbox requests were refused, for failure messages.
    pub fn refused(&self) -> Vec<String> {
        self.state().refused.lock().expect("refused lock").clone()
    }

    fn new_id(&self, kind: &str) -> Result<Url> {
        let id = uuid::Uuid::new_v4();
        Ok(Url::parse(&format!(
            "http://{}/{kind}/{id}",
            self.config.domain()
        ))?)
    }

    /// Follows `actor` (fetched by the crate) at its own inbox; returns the Follow's id.
    pub async fn follow(&self, actor: &str) -> Result<Url> {
        let data = self.config.to_request_data();
        let target = ObjectId::<DbActor>::parse(actor)?
            .dereference(&data)
            .await?;
        let follow = Follow {
            id: self.new_id("follows")?,
            kind: FollowType::Follow,
            actor: data.me.id.clone(),
            object: target.id.clone(),
        };
        let id = follow.id.clone();
        self.send(follow, vec![target.inbox()]).await?;
        Ok(id)
    }

    /// Replies in public to the note `in_reply_to`, mentioning its author; returns the reply's
    /// id.
    pub async fn reply(&self, in_reply_to: &str, content: &str) -> Result<Url> {
        let data = self.config.to_request_data();
        // From memory when it arrived here, else fetched from its id.
        let parent = ObjectId::<DbNote>::parse(in_reply_to)?
            .dereference(&data)
            .await?;
        let author = parent.0.attributed_to.dereference(&data).await?;
        let note = NoteJson {
            id: self.new_id("notes")?.into(),
            kind: NoteType::Note,
            attributed_to: data.me.id.clone(),
            in_reply_to: Some(parent.0.id),
            content: content.to_owned(),
            to: vec![public(), author.id.inner().clone()],
            cc: Vec::new(),
            tag: vec![Tag {
                kind: "Mention".into(),
                href: Some(author.id.inner().clone()),
                name: Some(format!(
                    "@{}@{}",
                    author.name,
                    author.id.inner().authority()
                )),
            }],
            published: Some(Utc::now()),
            updated: None,
        };
        let id = note.id.inner().clone();
        let note = DbNote(note).remember(&data).0;
        let inboxes = self.inboxes_of(&note).await?;
        let create = CreateNote {
            id: self.new_id("activities")?,
            kind: CreateType::Create,
            actor: data.me.id.clone(),
            to: note.to.clone(),
            cc: note.cc.clone(),
            object: note,
        };
        self.send(create, inboxes).await?;
        Ok(id)
    }

    /// Edits one of the peer's notes: Update with `updated` set.
    pub async fn edit(&self, id: &Url, content: &str) -> Result<()> {
        let data = self.config.to_request_data();
        let mut note = ObjectId::<DbNote>::from(id.clone())
            .dereference_local(&data)
            .await?
            .0;
        note.content = content.to_owned();
        note.updated = Some(Utc::now());
        let note = DbNote(note).remember(&data).0;
        let inboxes = self.inboxes_of(&note).await?;
        let update = UpdateNote {
            id: self.new_id("activities")?,
            kind: UpdateType::Update,
            actor: data.me.id.clone(),
            to: note.to.clone(),
            cc: note.cc.clone(),
            object: note,
        };
        self.send(update, inboxes).await
    }

    /// Deletes one of the peer's notes: Delete with a Tombstone, addressed as the note was.
    pub async fn delete(&self, id: &Url) -> Result<()> {
        let data = self.config.to_request_data();
        let note = ObjectId::<DbNote>::from(id.clone())
            .dereference_local(&data)
            .await?;
        note.delete(&data).await?;
        let inboxes = self.inboxes_of(&note.0).await?;
        let delete = DeleteNote {
            id: self.new_id("activities")?,
            kind: DeleteType::Delete,
            actor: data.me.id.clone(),
            to: note.0.to.clone(),
            object: Tombstone::new(id.clone()),
        };
        self.send(delete, inboxes).await
    }

    /// The shared inboxes (or inboxes) of the actors a note is addressed to, as servers
    /// deliver public posts.
    async fn inboxes_of(&self, note: &NoteJson) -> Result<Vec<Url>> {
        let data = self.config.to_request_data();
        let mut inboxes = Vec::new();
        for url in note.to.iter().chain(&note.cc).filter(|u| **u != public()) {
            let actor = ObjectId::<DbActor>::from(url.clone())
                .dereference(&data)
                .await?;
            inboxes.push(actor.shared_inbox_or_inbox());
        }
        inboxes.sort();
        inboxes.dedup();
        Ok(inboxes)
    }

    /// Signs and sends through the crate's send path. `prepare` silently drops inboxes it will
    /// not deliver to (local ones; outside debug mode also http, ports and local IPs), and
    /// `sign_and_send` reports success for any 4xx answer but 408 and 429 — so the test checks
    /// the receiving side, not this result.
    async fn send<A>(&self, activity: A, inboxes: Vec<Url>) -> Result<()>
    where
        A: Activity + Serialize + fmt::Debug + Send + Sync,
    {
        let data = self.config.to_request_data();
        let wanted = inboxes.len();
        let activity = WithContext::new_default(activity);
        let tasks = SendActivityTask::prepare(&activity, &data.me, inboxes, &data).await?;
        ensure!(
            tasks.len() == wanted,
            "the crate dropped {} of {wanted} inboxes",
            wanted - tasks.len()
        );
        for task in tasks {
            task.sign_and_send(&data).await?;
        }
        Ok(())
    }
}

impl Drop for ApubPeer {
    fn drop(&mut self) {
        self.server.abort();
    }
}
