//! Reading ActivityPub JSON as real servers send it: ids that are strings or embedded objects,
//! fields that are one value or an array, types that may be arrays.

use rathaus_shared::store::actors::RemoteActorData;
use serde_json::Value;
use url::Url;

/// The id of a value that is either an id string or an object with `id`.
pub fn id_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(map) => map.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// One value or many, as a list; `null`/missing is empty.
pub fn many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// True if `value["type"]` is, or contains, `kind`.
pub fn has_type(value: &Value, kind: &str) -> bool {
    many(&value["type"])
        .iter()
        .any(|t| t.as_str() == Some(kind))
}

/// The first type name, for dispatch and logs.
pub fn first_type(value: &Value) -> &str {
    many(&value["type"])
        .first()
        .and_then(|t| t.as_str())
        .unwrap_or("")
}

/// `host[:port]` of a URL.
pub fn host_of(url: &str) -> Option<String> {
    let u = Url::parse(url).ok()?;
    let host = u.host_str()?;
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    })
}

/// Depth of nested arrays and objects; bounded to refuse pathological documents.
pub fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The public key (PEM) with `key_id` in an actor document; `publicKey` may be one or many.
pub fn public_key_pem<'a>(actor: &'a Value, key_id: Option<&str>) -> Option<&'a str> {
    many(&actor["publicKey"])
        .into_iter()
        .find(|k| key_id.is_none_or(|id| k["id"].as_str() == Some(id)))
        .and_then(|k| k["publicKeyPem"].as_str())
}

/// What we keep of a fetched actor document. `fetched_from` is the URL we asked; the id must
/// live on the same host (Mastodon's rule against one server speaking for another).
pub fn parse_actor(
    doc: &Value,
    fetched_from: &str,
    key_id: Option<&str>,
) -> Result<RemoteActorData, String> {
    let id = doc["id"].as_str().ok_or("the actor has no id")?;
    let host = host_of(id).ok_or("the actor id is not a URL")?;
    if host_of(fetched_from).as_deref() != Some(host.as_str()) {
        return Err(format!("actor {id} was served from another host"));
    }
    let inbox = doc["inbox"].as_str().ok_or("the actor has no inbox")?;
    if host_of(inbox).is_none() {
        return Err("the actor's inbox is not a URL".into());
    }
    let shared_inbox = doc["endpoints"]["sharedInbox"]
        .as_str()
        .filter(|u| host_of(u).is_some())
        .map(str::to_owned);
    let username = doc["preferredUsername"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| id.rsplit('/').next().unwrap_or(id).to_owned());
    Ok(RemoteActorData {
        ap_id: id.to_owned(),
        username,
        domain: host,
        display_name: doc["name"]
            .as_str()
            .map(str::to_owned)
            .filter(|n| !n.is_empty()),
        inbox: inbox.to_owned(),
        shared_inbox,
        public_key_pem: public_key_pem(doc, key_id).map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ids_types_and_lists_in_all_their_forms() {
        assert_eq!(id_of(&json!("https://a/1")), Some("https://a/1"));
        assert_eq!(id_of(&json!({"id": "https://a/2"})), Some("https://a/2"));
        assert_eq!(id_of(&json!(3)), None);
        assert_eq!(many(&json!(null)).len(), 0);
        assert_eq!(many(&json!("x")).len(), 1);
        assert_eq!(many(&json!(["x", "y"])).len(), 2);
        assert!(has_type(&json!({"type": ["Note", "Object"]}), "Note"));
        assert_eq!(first_type(&json!({"type": "Create"})), "Create");
        assert_eq!(
            host_of("http://localhost:8080/x").as_deref(),
            Some("localhost:8080")
        );
        assert_eq!(depth(&json!({"a": [{"b": 1}]})), 3);
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
