//! The ActivityPub wire shapes the inbox understands, as serde types (Lemmy's `protocol/`
//! idea: the store's rows never learn them). They read JSON as real servers send it: an id or
//! an embedded object, one value or an array, fields we do not know. What a server sends in a
//! shape we do not expect is read as absent, exactly as the inbox always treated it; the
//! handlers then answer with a reason.

use std::collections::BTreeMap;

use serde::de::{self, DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Object types the inbox reads as a comment.
const POST_TYPES: [&str; 3] = ["Note", "Article", "Page"];

/// A field read leniently: a value of another shape counts as missing, as it always did.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Maybe<T> {
        Yes(T),
        No(IgnoredAny),
    }
    Ok(match Option::<Maybe<T>>::deserialize(d)? {
        Some(Maybe::Yes(value)) => Some(value),
        _ => None,
    })
}

/// One value or many: `"x"` and `["x"]` read the same; missing or `null` is none. Items of
/// another shape are skipped (servers put things into `tag` or `url` we do not know).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> OneOrMany<T> {
    pub fn first(&self) -> Option<&T> {
        self.0.first()
    }
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = match Value::deserialize(d)? {
            Value::Null => Vec::new(),
            Value::Array(items) => items,
            one => vec![one],
        };
        Ok(Self(
            items
                .into_iter()
                .filter_map(|item| T::deserialize(item).ok())
                .collect(),
        ))
    }
}

/// An id, or the object itself embedded (`actor`, `object`, `inReplyTo`, `attributedTo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref<T> {
    Id(String),
    Object(T),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Ref<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(id) => Ok(Ref::Id(id)),
            object @ Value::Object(_) => T::deserialize(object)
                .map(Ref::Object)
                .map_err(de::Error::custom),
            _ => Err(de::Error::custom("expected an id or an object")),
        }
    }
}

/// Anything with an id.
pub trait HasId {
    fn id(&self) -> Option<&str>;
}

impl<T: HasId> Ref<T> {
    /// The id, whether given as a string or inside the embedded object.
    pub fn id(&self) -> Option<&str> {
        match self {
            Ref::Id(id) => Some(id),
            Ref::Object(object) => object.id(),
        }
    }
}

impl<T: HasId> HasId for Box<T> {
    fn id(&self) -> Option<&str> {
        (**self).id()
    }
}

/// What the inbox reads of an object it only needs to name: its id and types.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Node {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    #[serde(rename = "type", default)]
    pub types: OneOrMany<String>,
}

impl HasId for Node {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

impl Node {
    pub fn has_type(&self, kind: &str) -> bool {
        self.types.iter().any(|t| t == kind)
    }
}

impl Ref<Node> {
    /// True only for an embedded object of that type (an id says nothing about its type).
    pub fn has_type(&self, kind: &str) -> bool {
        matches!(self, Ref::Object(node) if node.has_type(kind))
    }
}

/// What the inbox reads before it knows the sender: who claims to send what, under which id.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Envelope {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub actor: Option<Ref<Node>>,
    #[serde(rename = "type", default)]
    pub types: OneOrMany<String>,
}

impl Envelope {
    /// The first type, for dispatch and logs.
    pub fn kind(&self) -> Option<&str> {
        self.types.first().map(String::as_str)
    }
}

/// The activities Rathaus understands; any other type is [`Activity::Unknown`] and ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type")]
pub enum Activity {
    Follow(Follow),
    Undo(Undo),
    Create(Create),
    Update(Update),
    Delete(Delete),
    /// We never follow anyone, so answers to follows are not expected.
    Accept(Answer),
    Reject(Answer),
    Like(Reaction),
    Announce(Reaction),
    /// A report about a comment, an announcement or our actor: for the moderators.
    Flag(Flag),
    #[serde(other)]
    Unknown,
}

/// `Follow`: the object is the actor to be followed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Follow {
    #[serde(default, deserialize_with = "lenient")]
    pub object: Option<Ref<Node>>,
}

/// `Undo` of a Follow, Like or Announce: the object is the activity, embedded or by id.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Undo {
    #[serde(default, deserialize_with = "lenient")]
    pub object: Option<Ref<Node>>,
}

/// `Create`: the object must be embedded; only posts (Note, Article, Page) are read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Create {
    #[serde(default, deserialize_with = "lenient")]
    pub object: Option<Ref<Box<Created>>>,
}

/// `Update` of a post (an edit) or of the sender itself (a profile or key change).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Update {
    #[serde(default, deserialize_with = "lenient")]
    pub object: Option<Ref<Box<Updated>>>,
}

/// `Delete` of a post (by id, or as a Tombstone) or of the sending actor itself.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Delete {
    #[serde(default, deserialize_with = "lenient")]
    pub object: Option<Ref<Node>>,
}

impl Delete {
    pub fn target(&self) -> Option<&str> {
        self.object.as_ref().and_then(Ref::id)
    }
}

/// `Accept` or `Reject` of a Follow.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Answer {
    #[serde(default, deserialize_with = "lenient")]
    pub object: Option<Ref<Node>>,
}

/// `Like` or `Announce` of an object.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reaction {
    #[serde(default, deserialize_with = "lenient")]
    pub object: Option<Ref<Node>>,
}

/// `Flag`: the reported actor and posts, with the reporter's words.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Flag {
    #[serde(default)]
    pub object: OneOrMany<Ref<Node>>,
    #[serde(default, deserialize_with = "lenient")]
    pub content: Option<String>,
}

/// A link as `url` carries it: a plain URL or a `Link` object with `href`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Link {
    #[serde(default, deserialize_with = "lenient")]
    pub href: Option<String>,
}

impl HasId for Link {
    fn id(&self) -> Option<&str> {
        self.href.as_deref()
    }
}

/// A `tag` entry: a mention, hashtag or emoji.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Tag {
    #[serde(rename = "type", default)]
    pub types: OneOrMany<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub href: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
}

/// An `attachment` entry (media are not taken over; the original is linked).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    #[serde(rename = "type", default)]
    pub types: OneOrMany<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub url: OneOrMany<Ref<Link>>,
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
}

/// A post: what a reply from the fediverse is read from.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Post {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    #[serde(rename = "type", default)]
    pub types: OneOrMany<String>,
    #[serde(default)]
    pub attributed_to: OneOrMany<Ref<Node>>,
    #[serde(default, deserialize_with = "lenient")]
    pub in_reply_to: Option<Ref<Node>>,
    /// HTML.
    #[serde(default, deserialize_with = "lenient")]
    pub content: Option<String>,
    /// The same content per language; Mastodon names the post's one language here. Some
    /// servers send only this, without `content`.
    #[serde(default, deserialize_with = "lenient")]
    pub content_map: Option<BTreeMap<String, Value>>,
    /// The content warning (plain text on Mastodon).
    #[serde(default, deserialize_with = "lenient")]
    pub summary: Option<String>,
    /// Marked sensitive by its author.
    #[serde(default, deserialize_with = "lenient")]
    pub sensitive: Option<bool>,
    /// RFC 3339, read when used (an unreadable time is "now", not an error).
    #[serde(default, deserialize_with = "lenient")]
    pub published: Option<String>,
    /// The human-readable original.
    #[serde(default)]
    pub url: OneOrMany<Ref<Link>>,
    #[serde(default)]
    pub to: OneOrMany<Ref<Node>>,
    #[serde(default)]
    pub cc: OneOrMany<Ref<Node>>,
    #[serde(default)]
    pub tag: OneOrMany<Tag>,
    #[serde(default)]
    pub attachment: OneOrMany<Attachment>,
}

impl HasId for Post {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

impl Post {
    pub fn is_post(&self) -> bool {
        self.types.iter().any(|t| POST_TYPES.contains(&t.as_str()))
    }

    /// Addressed to the public: `as:Public` in `to` (public) or `cc` (Mastodon's unlisted),
    /// in any of the forms JSON-LD allows. Direct and followers-only posts are not.
    pub fn is_public(&self) -> bool {
        self.to
            .iter()
            .chain(self.cc.iter())
            .filter_map(Ref::id)
            .any(|id| {
                matches!(
                    id,
                    "https://www.w3.org/ns/activitystreams#Public" | "as:Public" | "Public"
                )
            })
    }

    /// The language, when the server declares exactly one (`contentMap` with one key).
    pub fn language(&self) -> Option<&str> {
        let map = self.content_map.as_ref()?;
        (map.len() == 1)
            .then(|| map.keys().next().map(String::as_str))
            .flatten()
    }

    /// The first link to the original.
    pub fn original_url(&self) -> Option<&str> {
        self.url.first().and_then(Ref::id)
    }

    /// The HTML to read and its language. `content` when it has any text (as Mastodon reads
    /// a post); else `contentMap` in `preferred` (the site's language, `de` also matching
    /// `de-AT`), else its first entry.
    pub fn body(&self, preferred: &str) -> Option<(&str, Option<&str>)> {
        if let Some(content) = self.content.as_deref().filter(|c| !c.trim().is_empty()) {
            return Some((content, self.language()));
        }
        let texts = || {
            self.content_map
                .iter()
                .flatten()
                .filter_map(|(lang, v)| v.as_str().map(|text| (lang.as_str(), text)))
        };
        let primary = |lang: &str| lang.split('-').next().unwrap_or_default().to_owned();
        texts()
            .find(|(lang, _)| primary(lang).eq_ignore_ascii_case(preferred))
            .or_else(|| texts().next())
            .map(|(lang, text)| (text, Some(lang)))
            .or_else(|| self.content.as_deref().map(|c| (c, self.language())))
    }
}

/// The object of a Create: a post, or another kind of object, which is ignored.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "always held boxed inside `Ref::Object`; the common case is a post"
)]
pub enum Created {
    Post(Post),
    Other(Node),
}

impl<'de> Deserialize<'de> for Created {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let node = Node::deserialize(&value).map_err(de::Error::custom)?;
        if !POST_TYPES.iter().any(|t| node.has_type(t)) {
            return Ok(Created::Other(node));
        }
        Post::deserialize(value)
            .map(Created::Post)
            .map_err(de::Error::custom)
    }
}

impl HasId for Created {
    fn id(&self) -> Option<&str> {
        match self {
            Created::Post(post) => post.id(),
            Created::Other(node) => node.id(),
        }
    }
}

/// The object of an Update, read both ways: whether it is the sender's own actor document or
/// a post is told by its id, which only the handler can compare with the verified sender.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    pub post: Post,
    pub actor: ActorDocument,
}

impl<'de> Deserialize<'de> for Updated {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Ok(Updated {
            post: Post::deserialize(&value).map_err(de::Error::custom)?,
            actor: ActorDocument::deserialize(value).map_err(de::Error::custom)?,
        })
    }
}

impl HasId for Updated {
    fn id(&self) -> Option<&str> {
        self.post.id()
    }
}

/// `endpoints` of an actor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    #[serde(default, deserialize_with = "lenient")]
    pub shared_inbox: Option<String>,
}

/// One of an actor's public keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKey {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub owner: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub public_key_pem: Option<String>,
}

/// An actor document, fetched or embedded in an Update. Checked by `protocol::parse_actor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActorDocument {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    #[serde(rename = "type", default)]
    pub types: OneOrMany<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub preferred_username: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub inbox: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub endpoints: Option<Endpoints>,
    #[serde(default)]
    pub public_key: OneOrMany<PublicKey>,
}

impl ActorDocument {
    /// The PEM of the key with `key_id` (any key if none is asked for).
    pub fn public_key_pem(&self, key_id: Option<&str>) -> Option<&str> {
        self.public_key
            .iter()
            .find(|k| key_id.is_none_or(|id| k.id.as_deref() == Some(id)))
            .and_then(|k| k.public_key_pem.as_deref())
    }

    /// Looks like an actor (it has an inbox), not a bare key document.
    pub fn is_actor(&self) -> bool {
        self.inbox.is_some()
    }

    /// True if one of its keys has exactly this id.
    pub fn lists_key(&self, key_id: &str) -> bool {
        self.public_key
            .iter()
            .any(|k| k.id.as_deref() == Some(key_id))
    }
}

/// A key served on its own (`CryptographicKey`), naming its actor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct KeyDocument {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub owner: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub controller: Option<String>,
}

impl KeyDocument {
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref().or(self.controller.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fixture(name: &str) -> Value {
        let text = match name {
            "actor" => include_str!("../../integration-tests/fixtures/mastodon/actor.json"),
            "follow" => include_str!("../../integration-tests/fixtures/mastodon/follow.json"),
            "undo_follow" => {
                include_str!("../../integration-tests/fixtures/mastodon/undo_follow.json")
            }
            "create_reply" => {
                include_str!("../../integration-tests/fixtures/mastodon/create_reply.json")
            }
            "create_reply_unlisted" => {
                include_str!("../../integration-tests/fixtures/mastodon/create_reply_unlisted.json")
            }
            "update_reply" => {
                include_str!("../../integration-tests/fixtures/mastodon/update_reply.json")
            }
            "delete_reply" => {
                include_str!("../../integration-tests/fixtures/mastodon/delete_reply.json")
            }
            "delete_actor" => {
                include_str!("../../integration-tests/fixtures/mastodon/delete_actor.json")
            }
            other => panic!("no fixture {other}"),
        };
        serde_json::from_str(text).expect("fixture is JSON")
    }

    fn activity(value: &Value) -> Activity {
        Activity::deserialize(value).expect("reads as an activity")
    }

    const URSULA: &str = "https://social.example/users/ursula";
    const NOTE: &str = "https://social.example/users/ursula/statuses/113456789012345678";

    #[test]
    fn mastodon_envelopes_name_id_actor_and_type() {
        for (name, kind) in [
            ("follow", "Follow"),
            ("undo_follow", "Undo"),
            ("create_reply", "Create"),
            ("update_reply", "Update"),
            ("delete_reply", "Delete"),
            ("delete_actor", "Delete"),
        ] {
            let e = Envelope::deserialize(&fixture(name)).expect(name);
            assert_eq!(e.kind(), Some(kind), "{name}");
            assert_eq!(e.actor.as_ref().and_then(Ref::id), Some(URSULA), "{name}");
            assert!(
                e.id.as_deref()
                    .is_some_and(|id| id.starts_with("https://social.example/")),
                "{name}"
            );
        }
    }

    #[test]
    fn mastodon_follow_and_undo() {
        let Activity::Follow(f) = activity(&fixture("follow")) else {
            panic!("not a Follow");
        };
        assert_eq!(
            f.object.as_ref().and_then(Ref::id),
            Some("https://rathaus.example/users/rathaus")
        );
        let Activity::Undo(u) = activity(&fixture("undo_follow")) else {
            panic!("not an Undo");
        };
        let object = u.object.expect("object");
        assert!(object.has_type("Follow"));
        assert_eq!(
            object.id(),
            Some("https://social.example/3f6c2b9e-4d1a-4e7b-8c05-91a2d7e4b6f3")
        );
        // An Undo naming the Follow only by id says nothing about its type.
        let by_id = json!({"type": "Undo", "object": "https://social.example/f/1"});
        let Activity::Undo(u) = activity(&by_id) else {
            panic!("not an Undo");
        };
        let object = u.object.expect("object");
        assert!(!object.has_type("Follow"));
        assert_eq!(object.id(), Some("https://social.example/f/1"));
    }

    #[test]
    fn mastodon_replies_read_as_posts() {
        for name in ["create_reply", "create_reply_unlisted"] {
            let Activity::Create(c) = activity(&fixture(name)) else {
                panic!("{name}: not a Create");
            };
            let Some(Ref::Object(created)) = c.object else {
                panic!("{name}: object not embedded");
            };
            let Created::Post(post) = *created else {
                panic!("{name}: not a post");
            };
            assert!(post.is_post());
            assert_eq!(
                post.in_reply_to.as_ref().and_then(Ref::id),
                Some("https://rathaus.example/announcements/1")
            );
            assert!(
                post.attributed_to.iter().any(|a| a.id() == Some(URSULA)),
                "{name}"
            );
            assert!(post.content.as_deref().is_some_and(|c| c.contains("<p>")));
            assert_eq!(post.language(), Some("de"), "{name}");
            assert!(
                post.original_url()
                    .is_some_and(|u| u.starts_with("https://social.example/@ursula/")),
                "{name}"
            );
            assert!(
                post.tag
                    .iter()
                    .any(|t| t.types.iter().any(|k| k == "Mention")
                        && t.href.as_deref() == Some("https://rathaus.example/users/rathaus")),
                "{name}: the mention of us"
            );
            assert!(post.published.is_some());
            assert!(!post.to.is_empty() && !post.cc.is_empty(), "{name}");
        }
    }

    #[test]
    fn mastodon_update_and_deletes() {
        let Activity::Update(u) = activity(&fixture("update_reply")) else {
            panic!("not an Update");
        };
        let Some(Ref::Object(updated)) = u.object else {
            panic!("object not embedded");
        };
        assert_eq!(updated.id(), Some(NOTE));
        assert!(updated.post.content.is_some());
        assert!(!updated.actor.is_actor(), "a Note is no actor");

        let Activity::Delete(d) = activity(&fixture("delete_reply")) else {
            panic!("not a Delete");
        };
        assert_eq!(d.target(), Some(NOTE));
        assert!(d.object.expect("object").has_type("Tombstone"));
        let Activity::Delete(d) = activity(&fixture("delete_actor")) else {
            panic!("not a Delete");
        };
        assert_eq!(d.target(), Some(URSULA));
    }

    #[test]
    fn mastodon_actor_document() {
        let actor = ActorDocument::deserialize(&fixture("actor")).expect("actor");
        assert!(actor.is_actor());
        assert_eq!(actor.id.as_deref(), Some(URSULA));
        assert_eq!(actor.preferred_username.as_deref(), Some("ursula"));
        assert_eq!(
            actor.endpoints.and_then(|e| e.shared_inbox).as_deref(),
            Some("https://social.example/inbox")
        );
        assert!(actor.public_key.first().is_some_and(|k| {
            k.owner.as_deref() == Some(URSULA)
                && k.public_key_pem
                    .as_deref()
                    .is_some_and(|p| p.contains("PUBLIC KEY"))
        }));
    }

    #[test]
    fn single_values_and_arrays_read_the_same() {
        let single = json!({
            "id": "https://a.example/n/1", "type": "Note",
            "to": "https://www.w3.org/ns/activitystreams#Public",
            "cc": {"id": "https://a.example/followers", "type": "Collection"},
            "tag": {"type": "Mention", "href": "https://r.example/users/rathaus"},
            "attachment": {"type": "Document", "mediaType": "image/png", "url": "https://a.example/i.png"},
            "attributedTo": "https://a.example/u/a",
            "url": {"type": "Link", "href": "https://a.example/@a/1"},
        });
        let many = json!({
            "id": "https://a.example/n/1", "type": ["Note"],
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [{"id": "https://a.example/followers", "type": "Collection"}],
            "tag": [{"type": "Mention", "href": "https://r.example/users/rathaus"}],
            "attachment": [{"type": "Document", "mediaType": "image/png", "url": ["https://a.example/i.png"]}],
            "attributedTo": [{"id": "https://a.example/u/a", "type": "Person"}],
            "url": ["https://a.example/@a/1"],
        });
        let a = Post::deserialize(&single).expect("single");
        let b = Post::deserialize(&many).expect("many");
        for p in [&a, &b] {
            assert!(p.is_post());
            assert_eq!(
                p.to.ids(),
                vec!["https://www.w3.org/ns/activitystreams#Public"]
            );
            assert_eq!(p.cc.ids(), vec!["https://a.example/followers"]);
            assert_eq!(
                p.tag.first().and_then(|t| t.href.as_deref()),
                Some("https://r.example/users/rathaus")
            );
            assert_eq!(
                p.attachment
                    .first()
                    .and_then(|x| x.url.first())
                    .and_then(Ref::id),
                Some("https://a.example/i.png")
            );
            assert_eq!(p.attributed_to.ids(), vec!["https://a.example/u/a"]);
            assert_eq!(p.original_url(), Some("https://a.example/@a/1"));
        }
        // Null and missing are empty; items of unknown shapes are skipped.
        let odd =
            Post::deserialize(&json!({"to": null, "tag": [5, {"type": "Hashtag", "name": "#x"}]}))
                .expect("odd");
        assert!(odd.to.is_empty() && odd.cc.is_empty());
        assert_eq!(odd.tag.0.len(), 1);
    }

    #[test]
    fn actors_may_be_ids_or_objects() {
        for actor in [
            json!("https://a.example/u/a"),
            json!({"id": "https://a.example/u/a", "type": "Person"}),
        ] {
            let e = Envelope::deserialize(
                &json!({"id": "https://a.example/1", "type": "Like", "actor": actor}),
            )
            .expect("envelope");
            assert_eq!(
                e.actor.as_ref().and_then(Ref::id),
                Some("https://a.example/u/a")
            );
        }
    }

    #[test]
    fn missing_or_odd_envelope_fields_read_as_absent() {
        let e = Envelope::deserialize(&json!({"actor": 5, "id": ["x"], "unknown": {"deep": true}}))
            .expect("envelope");
        assert!(e.id.is_none() && e.actor.is_none() && e.kind().is_none());
        // Not an object at all: refused.
        assert!(Envelope::deserialize(&json!("Create")).is_err());
    }

    #[test]
    fn every_understood_type_and_the_unknown_ones() {
        let read = |v: Value| activity(&v);
        assert!(matches!(
            read(json!({"type": "Accept", "object": "https://r/f/1"})),
            Activity::Accept(_)
        ));
        assert!(matches!(
            read(json!({"type": "Reject", "object": {"id": "https://r/f/1", "type": "Follow"}})),
            Activity::Reject(_)
        ));
        assert!(matches!(
            read(json!({"type": "Like", "object": "https://r/announcements/1"})),
            Activity::Like(_)
        ));
        assert!(matches!(
            read(json!({"type": "Announce", "object": {"id": "https://r/announcements/1"}})),
            Activity::Announce(_)
        ));
        let Activity::Flag(f) = read(json!({
            "type": "Flag", "content": "Spam",
            "object": ["https://a.example/u/a", "https://a.example/n/1"],
        })) else {
            panic!("not a Flag");
        };
        assert_eq!(f.object.0.len(), 2);
        assert_eq!(f.content.as_deref(), Some("Spam"));
        assert!(matches!(
            read(json!({"type": "Move", "object": "x", "target": "y"})),
            Activity::Unknown
        ));
        assert!(matches!(
            read(json!({"type": "EmojiReact", "content": 5})),
            Activity::Unknown
        ));
        // Known types with missing fields still read; the handler answers with the reason.
        let Activity::Create(c) = read(json!({"type": "Create"})) else {
            panic!("not a Create");
        };
        assert!(c.object.is_none());
        let Activity::Delete(d) = read(json!({"type": "Delete", "object": 5})) else {
            panic!("not a Delete");
        };
        assert!(d.target().is_none());
    }

    #[test]
    fn create_reads_posts_only() {
        let read = |object: Value| match activity(&json!({"type": "Create", "object": object})) {
            Activity::Create(c) => c.object,
            other => panic!("not a Create: {other:?}"),
        };
        for kind in [
            json!("Note"),
            json!("Article"),
            json!("Page"),
            json!(["Object", "Note"]),
        ] {
            let object = read(json!({"id": "https://a/1", "type": kind}));
            assert!(
                matches!(&object, Some(Ref::Object(c)) if matches!(**c, Created::Post(_))),
                "{kind}"
            );
        }
        // Another kind of object is kept only by id and type, whatever else it carries.
        assert!(matches!(
            read(json!({"id": "https://a/1", "type": "Question", "published": 5, "oneOf": []})),
            Some(Ref::Object(c)) if matches!(&*c, Created::Other(n) if n.has_type("Question"))
        ));
        assert!(matches!(read(json!("https://a/1")), Some(Ref::Id(_))));
        assert!(read(json!(5)).is_none());
        // Odd fields of a post read as absent, as the inbox always treated them.
        let Some(Ref::Object(c)) = read(json!({
            "id": "https://a/1", "type": "Note", "content": 5, "inReplyTo": [1],
            "published": "yesterday", "contentMap": {"de": "a", "en": "b"},
        })) else {
            panic!("not embedded");
        };
        let Created::Post(post) = *c else {
            panic!("not a post");
        };
        assert!(post.content.is_none() && post.in_reply_to.is_none());
        assert_eq!(post.language(), None, "two languages name none");
        assert_eq!(post.published.as_deref(), Some("yesterday"));
    }

    #[test]
    fn content_map_alone_is_read_in_the_site_language_first() {
        let post = |v: Value| Post::deserialize(&v).expect("post");
        let both = post(json!({
            "type": "Note",
            "contentMap": {"en-GB": "<p>Trees</p>", "de-AT": "<p>Bäume</p>"},
        }));
        assert_eq!(both.body("de"), Some(("<p>Bäume</p>", Some("de-AT"))));
        assert_eq!(both.body("en"), Some(("<p>Trees</p>", Some("en-GB"))));
        // No entry in the site language: the first one.
        let other = post(
            json!({"type": "Note", "contentMap": {"it": "<p>Alberi</p>", "fr": "<p>Arbres</p>"}}),
        );
        assert_eq!(other.body("de"), Some(("<p>Arbres</p>", Some("fr"))));
        // Blank `content` is no content; entries that are no text are skipped.
        let blank = post(
            json!({"type": "Note", "content": " ", "contentMap": {"de": 5, "en": "<p>x</p>"}}),
        );
        assert_eq!(blank.body("de"), Some(("<p>x</p>", Some("en"))));
        // `content` wins when it has text, with the one declared language.
        let full =
            post(json!({"type": "Note", "content": "<p>a</p>", "contentMap": {"de": "<p>b</p>"}}));
        assert_eq!(full.body("en"), Some(("<p>a</p>", Some("de"))));
        assert_eq!(post(json!({"type": "Note"})).body("de"), None);
        assert_eq!(
            post(json!({"type": "Note", "content": ""})).body("de"),
            Some(("", None)),
            "empty content is read (and refused as hollow later)"
        );
    }

    #[test]
    fn content_warnings_are_read() {
        let p = Post::deserialize(&json!({
            "type": "Note", "content": "<p>x</p>", "summary": "Politik", "sensitive": true,
        }))
        .expect("post");
        assert_eq!(
            (p.summary.as_deref(), p.sensitive),
            (Some("Politik"), Some(true))
        );
        let Activity::Create(c) = activity(&fixture("create_reply")) else {
            panic!("not a Create");
        };
        let Some(Ref::Object(created)) = c.object else {
            panic!("not embedded");
        };
        let Created::Post(p) = *created else {
            panic!("not a post");
        };
        assert_eq!(
            (p.summary, p.sensitive),
            (None, Some(false)),
            "Mastodon's null and false"
        );
    }

    #[test]
    fn update_of_an_actor_reads_its_document() {
        let Activity::Update(u) = activity(&json!({
            "type": "Update", "actor": URSULA,
            "object": {
                "id": URSULA, "type": "Person", "inbox": format!("{URSULA}/inbox"),
                "name": "Ursula B.", "publicKey": {"id": format!("{URSULA}#main-key"), "publicKeyPem": "PEM"},
                "attachment": [{"type": "PropertyValue", "name": "x", "value": "y"}],
            },
        })) else {
            panic!("not an Update");
        };
        let Some(Ref::Object(updated)) = u.object else {
            panic!("not embedded");
        };
        assert_eq!(updated.id(), Some(URSULA));
        assert!(updated.actor.is_actor());
        assert_eq!(updated.actor.name.as_deref(), Some("Ursula B."));
        assert_eq!(updated.actor.public_key_pem(None), Some("PEM"));
    }

    #[test]
    fn a_key_document_names_its_owner() {
        let key = KeyDocument::deserialize(&json!({
            "id": "https://a/k", "type": "CryptographicKey", "controller": "https://a/u/a",
        }))
        .expect("key");
        assert_eq!(key.owner(), Some("https://a/u/a"));
        assert!(
            !ActorDocument::deserialize(&json!({"id": "https://a/k", "owner": "https://a/u/a"}))
                .expect("doc")
                .is_actor()
        );
    }

    impl OneOrMany<Ref<Node>> {
        fn ids(&self) -> Vec<&str> {
            self.iter().filter_map(Ref::id).collect()
        }
    }
}
