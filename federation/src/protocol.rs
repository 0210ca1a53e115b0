//! Checks on ActivityPub documents that the wire types in `activities` cannot express: hosts,
//! nesting depth, and whether an actor document may speak for the host it came from.

use rathaus_shared::services::remote::RemoteActorData;
use serde_json::Value;
use url::Url;

use crate::activities::ActorDocument;

/// `host[:port]` of a URL.
pub fn host_of(url: &str) -> Option<String> {
    let u = Url::parse(url).ok()?;
    let host = u.host_str()?;
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    })
}

/// Whether a `Content-Type` names ActivityPub JSON: `application/activity+json`, or
/// `application/ld+json` with the ActivityStreams profile (Mastodon's rule since
/// CVE-2024-23832). `plain_json_too` also admits `application/json`, which some servers POST.
pub fn is_activity_json(content_type: &str, plain_json_too: bool) -> bool {
    let mut parts = content_type.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default().to_ascii_lowercase();
    match essence.as_str() {
        "application/activity+json" => true,
        "application/json" => plain_json_too,
        "application/ld+json" => parts.any(|p| {
            let Some((name, value)) = p.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("profile")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|profile| profile == "https://www.w3.org/ns/activitystreams")
        }),
        _ => false,
    }
}

/// The URL without its fragment: documents are compared by the URL they are served at.
pub fn without_fragment(url: &str) -> &str {
    url.split('#').next().unwrap_or(url)
}

/// True if `id` names the document at `url` (fragments aside; both must be URLs).
pub fn same_document(id: &str, url: &str) -> bool {
    match (Url::parse(id), Url::parse(url)) {
        (Ok(mut a), Ok(mut b)) => {
            a.set_fragment(None);
            b.set_fragment(None);
            a == b
        }
        _ => false,
    }
}

/// Depth of nested arrays and objects; bounded to refuse pathological documents.
pub fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// What we keep of a fetched actor document. `fetched_from` is the URL we asked; the id must
/// live on the same host (Mastodon's rule against one server speaking for another).
pub fn parse_actor(
    doc: &ActorDocument,
    fetched_from: &str,
    key_id: Option<&str>,
) -> Result<RemoteActorData, String> {
    let id = doc.id.as_deref().ok_or("the actor has no id")?;
    let host = host_of(id).ok_or("the actor id is not a URL")?;
    if host_of(fetched_from).as_deref() != Some(host.as_str()) {
        return Err(format!("actor {id} was served from another host"));
    }
    let inbox = doc.inbox.as_deref().ok_or("the actor has no inbox")?;
    if host_of(inbox).is_none() {
        return Err("the actor's inbox is not a URL".into());
    }
    let shared_inbox = doc
        .endpoints
        .as_ref()
        .and_then(|e| e.shared_inbox.as_deref())
        .filter(|u| host_of(u).is_some())
        .map(str::to_owned);
    let username = doc
        .preferred_username
        .clone()
        .unwrap_or_else(|| id.rsplit('/').next().unwrap_or(id).to_owned());
    Ok(RemoteActorData {
        ap_id: id.to_owned(),
        username,
        domain: host,
        display_name: doc.name.clone().filter(|n| !n.is_empty()),
        inbox: inbox.to_owned(),
        shared_inbox,
        public_key_pem: doc.public_key_pem(key_id).map(str::to_owned),
        key_id: doc
            .public_key
            .iter()
            .find(|k| key_id.is_none_or(|id| k.id.as_deref() == Some(id)))
            .and_then(|k| k.id.clone()),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hosts_and_depth() {
        assert_eq!(
            host_of("http://localhost:8080/x").as_deref(),
            Some("localhost:8080")
        );
        assert_eq!(depth(&json!({"a": [{"b": 1}]})), 3);
    }

    #[test]
    fn activitypub_media_types() {
        for ok in [
            "application/activity+json",
            "Application/Activity+JSON; charset=utf-8",
            "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            "application/ld+json;profile=\"https://www.w3.org/ns/activitystreams https://w3id.org/security/v1\"",
        ] {
            assert!(is_activity_json(ok, false), "{ok}");
        }
        for bad in [
            "",
            "application/ld+json",
            "application/ld+json; profile=\"https://example.com/other\"",
            "text/plain",
            "text/html; charset=utf-8",
            "application/activity+jsonx",
            "application/json",
        ] {
            assert!(!is_activity_json(bad, false), "{bad}");
        }
        assert!(is_activity_json("application/json; charset=utf-8", true));
        assert!(!is_activity_json("text/plain", true));
    }

    #[test]
    fn actor_parsing_checks_the_host_and_picks_the_key() {
        let doc = json!({
            "id": "https://social.example/users/ursula",
            "type": "Person",
            "preferredUsername": "ursula",
            "name": "Ursula",
            "inbox": "https://social.example/users/ursula/inbox",
            "endpoints": {"sharedInbox": "https://social.example/inbox"},
            "publicKey": [{"id": "https://social.example/users/ursula#other", "publicKeyPem": "A"},
                          {"id": "https://social.example/users/ursula#main-key", "publicKeyPem": "B"}],
        });
        let doc: ActorDocument = serde_json::from_value(doc).expect("actor document");
        let a = parse_actor(
            &doc,
            "https://social.example/users/ursula",
            Some("https://social.example/users/ursula#main-key"),
        )
        .expect("parses");
        assert_eq!(a.domain, "social.example");
        assert_eq!(a.public_key_pem.as_deref(), Some("B"));
        assert_eq!(
            a.shared_inbox.as_deref(),
            Some("https://social.example/inbox")
        );
        let err =
            parse_actor(&doc, "https://evil.example/users/ursula", None).expect_err("other host");
        assert!(err.contains("another host"), "{err}");
    }
}
