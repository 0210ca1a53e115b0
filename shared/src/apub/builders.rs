//! Pure builders for the JSON Rathaus publishes. No I/O: unit-tested on their own.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{AS_CONTEXT, PUBLIC, SECURITY_CONTEXT, Urls};
use crate::store::announcements::AnnouncementView;

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Actor documents need the security context too: JSON-LD peers (Fedify, Ghost, Hollo) drop
/// `publicKey` without it and then cannot verify our signatures.
pub fn actor_context() -> Value {
    json!([
        AS_CONTEXT,
        SECURITY_CONTEXT,
        {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "toot": "http://joinmastodon.org/ns#",
            "discoverable": "toot:discoverable",
            "indexable": "toot:indexable",
            "schema": "http://schema.org#",
            "PropertyValue": "schema:PropertyValue",
            "value": "schema:value"
        }
    ])
}

/// What the actor document shows about the town hall.
#[derive(Debug, Clone)]
pub struct ActorProfile<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub summary_html: &'a str,
    pub public_key_pem: &'a str,
    pub published: DateTime<Utc>,
    pub icon_url: Option<&'a str>,
    /// (label, URL) pairs shown as profile fields, e.g. imprint and privacy notice.
    pub links: Vec<(&'a str, &'a str)>,
}

pub fn actor_document(urls: &Urls, p: &ActorProfile<'_>) -> Value {
    let attachment: Vec<Value> = p
        .links
        .iter()
        .map(|(label, url)| {
            let shown = html_escape(url.trim_start_matches("https://").trim_start_matches("http://"));
            json!({
                "type": "PropertyValue",
                "name": label,
                "value": format!(
                    "<a href=\"{}\" rel=\"nofollow noopener noreferrer\" target=\"_blank\">{shown}</a>",
                    html_escape(url)
                ),
            })
        })
        .collect();
    let mut doc = json!({
        "@context": actor_context(),
        "id": urls.actor(),
        "type": p.kind,
        "preferredUsername": urls.username(),
        "name": p.name,
        "summary": p.summary_html,
        "url": urls.profile(),
        "inbox": urls.inbox(),
        "outbox": urls.outbox(),
        "followers": urls.followers(),
        "endpoints": { "sharedInbox": urls.shared_inbox() },
        "manuallyApprovesFollowers": false,
        "discoverable": true,
        "indexable": true,
        "published": ts(p.published),
        "publicKey": {
            "id": urls.key_id(),
            "owner": urls.actor(),
            "publicKeyPem": p.public_key_pem,
        },
        "attachment": attachment,
    });
    if let Some(icon) = p.icon_url {
        doc["icon"] = json!({ "type": "Image", "url": icon });
    }
    doc
}

/// The instance actor: signs our fetches, so servers in authorized-fetch mode answer them.
pub fn instance_actor_document(urls: &Urls, public_key_pem: &str) -> Value {
    json!({
        "@context": [AS_CONTEXT, SECURITY_CONTEXT],
        "id": urls.instance_actor(),
        "type": "Application",
        "preferredUsername": urls.host(),
        "inbox": urls.shared_inbox(),
        "outbox": format!("{}/outbox", urls.instance_actor()),
        "endpoints": { "sharedInbox": urls.shared_inbox() },
        "manuallyApprovesFollowers": true,
        "url": format!("{}/about", urls.base()),
        "publicKey": {
            "id": urls.instance_key_id(),
            "owner": urls.instance_actor(),
            "publicKeyPem": public_key_pem,
        },
    })
}

/// WebFinger for `acct:username@host`, looping back to the actor.
pub fn webfinger(urls: &Urls) -> Value {
    json!({
        "subject": format!("acct:{}@{}", urls.username(), urls.host()),
        "aliases": [urls.actor(), urls.profile()],
        "links": [
            { "rel": "self", "type": "application/activity+json", "href": urls.actor() },
            { "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": urls.profile() },
        ],
    })
}

/// A time as people in the town read it: in the site's time zone, with its abbreviation
/// (`01.12.2026 19:00 CET`), never in UTC.
pub fn local_time(t: DateTime<Utc>, tz: chrono_tz::Tz, format: &str) -> String {
    t.with_timezone(&tz).format(format).to_string()
}

/// What the bridge actor document shows about a Matrix citizen.
#[derive(Debug, Clone)]
pub struct BridgeProfile<'a> {
    pub handle: &'a str,
    /// The Matrix display name, if any.
    pub name: Option<&'a str>,
    pub matrix_user_id: &'a str,
    pub public_key_pem: &'a str,
    pub published: DateTime<Utc>,
}

/// A Matrix citizen as a fediverse Person: named, linked to Matrix, and marked as bridged
/// (its own key, never the town hall's).
pub fn bridge_actor_document(urls: &Urls, p: &BridgeProfile<'_>) -> Value {
    let id = urls.bridge_actor(p.handle);
    let matrix_to = format!("https://matrix.to/#/{}", p.matrix_user_id);
    json!({
        "@context": actor_context(),
        "id": id,
        "type": "Person",
        "preferredUsername": format!("matrix_{}", p.handle),
        "name": p.name.unwrap_or(p.matrix_user_id),
        "summary": format!(
            "<p>Schreibt über Matrix ({}); von {} ins Fediverse gebrückt. / Writes on Matrix; bridged into the fediverse by {}.</p>",
            html_escape(p.matrix_user_id),
            html_escape(&urls.host()),
            html_escape(&urls.host()),
        ),
        "url": matrix_to,
        "inbox": urls.shared_inbox(),
        "endpoints": { "sharedInbox": urls.shared_inbox() },
        "manuallyApprovesFollowers": true,
        "discoverable": false,
        "indexable": false,
        "published": ts(p.published),
        "attachment": [{
            "type": "PropertyValue",
            "name": "Matrix",
            "value": format!("<a href=\"{0}\" rel=\"nofollow noopener noreferrer\" target=\"_blank\">{1}</a>", html_escape(&matrix_to), html_escape(p.matrix_user_id)),
        }],
        "publicKey": {
            "id": urls.bridge_key_id(p.handle),
            "owner": id,
            "publicKeyPem": p.public_key_pem,
        },
    })
}

/// A published Matrix comment as a public Note by its bridge actor, in reply to the
/// announcement or to the comment it answers.
pub fn bridged_note(
    urls: &Urls,
    comment_id: i64,
    handle: &str,
    in_reply_to: &str,
    content_html: &str,
    published: DateTime<Utc>,
    updated: Option<DateTime<Utc>>,
) -> Value {
    let mut note = json!({
        "id": urls.comment(comment_id),
        "type": "Note",
        "attributedTo": urls.bridge_actor(handle),
        "inReplyTo": in_reply_to,
        "content": content_html,
        "published": ts(published),
        "to": [PUBLIC],
        "cc": [urls.actor()],
        "url": urls.comment(comment_id),
    });
    if let Some(updated) = updated {
        note["updated"] = json!(ts(updated));
    }
    note
}

/// An activity by a bridge actor about its Note (`Create`, `Update`, or `Delete` with a
/// Tombstone), addressed like the Note.
pub fn bridged_activity(
    urls: &Urls,
    kind: &str,
    activity_id: &str,
    handle: &str,
    note: Value,
) -> Value {
    let object = if kind == "Delete" {
        json!({ "id": note["id"], "type": "Tombstone" })
    } else {
        note
    };
    json!({
        "@context": AS_CONTEXT,
        "id": activity_id,
        "type": kind,
        "actor": urls.bridge_actor(handle),
        "published": ts(Utc::now()),
        "to": [PUBLIC],
        "cc": [urls.actor()],
        "object": object,
    })
}

/// A WebFinger answer for a bridge actor (`acct:matrix_<handle>@host`).
pub fn bridge_webfinger(urls: &Urls, handle: &str) -> Value {
    json!({
        "subject": format!("acct:matrix_{handle}@{}", urls.host()),
        "aliases": [urls.bridge_actor(handle)],
        "links": [{
            "rel": "self",
            "type": "application/activity+json",
            "href": urls.bridge_actor(handle),
        }],
    })
}

/// The Note content: title, text, and for consultations how long they run (in `tz`).
fn note_content(view: &AnnouncementView, tz: chrono_tz::Tz) -> String {
    let a = &view.announcement;
    let mut html = String::new();
    if let Some(title) = &a.title {
        html.push_str(&format!("<p><strong>{}</strong></p>", html_escape(title)));
    }
    html.push_str(&a.body_html);
    if let Some(c) = &view.consultation
        && let Some(result) = &c.result_html
    {
        html.push_str("<p><strong>Ergebnis der Beteiligung / Result</strong></p>");
        html.push_str(result);
    } else if let Some(closed) = view.consultation.as_ref().and_then(|c| c.closed_at) {
        html.push_str(&format!(
            "<p>Die Beteiligung wurde am {} beendet. / This consultation closed on {}.</p>",
            local_time(closed, tz, "%d.%m.%Y %H:%M %Z"),
            local_time(closed, tz, "%Y-%m-%d %H:%M %Z"),
        ));
    } else if let Some(c) = &view.consultation {
        html.push_str(&format!(
            "<p>Beteiligung bis {} – antworten Sie auf diesen Beitrag. / Open for comments until {} – reply to this post.</p>",
            local_time(c.closes_at, tz, "%d.%m.%Y %H:%M %Z"),
            local_time(c.closes_at, tz, "%Y-%m-%d %H:%M %Z"),
        ));
    }
    html
}

/// An announcement as a public Note to our followers.
pub fn note(urls: &Urls, view: &AnnouncementView, tz: chrono_tz::Tz) -> Value {
    let a = &view.announcement;
    let content = note_content(view, tz);
    let mut note = json!({
        "id": urls.announcement(a.id),
        "type": "Note",
        "attributedTo": urls.actor(),
        "content": content,
        "contentMap": { "de": content },
        "published": ts(a.created_at),
        "to": [PUBLIC],
        "cc": [urls.followers()],
        "url": urls.announcement(a.id),
        "replies": urls.replies(a.id),
        "sensitive": false,
        "tag": [],
    });
    if a.updated_at != a.created_at {
        note["updated"] = json!(ts(a.updated_at));
    }
    if let Some(c) = &view.consultation {
        note["endTime"] = json!(ts(c.closed_at.unwrap_or(c.closes_at)));
    }
    note
}

/// What a retracted announcement's id answers with.
pub fn tombstone(urls: &Urls, view: &AnnouncementView) -> Value {
    let a = &view.announcement;
    json!({
        "@context": AS_CONTEXT,
        "id": urls.announcement(a.id),
        "type": "Tombstone",
        "formerType": "Note",
        "published": ts(a.created_at),
        "deleted": ts(a.retracted_at.unwrap_or(a.updated_at)),
    })
}

/// Adds the context to a bare object so it can be served on its own.
pub fn with_context(mut object: Value) -> Value {
    if let Value::Object(map) = &mut object {
        map.insert("@context".into(), json!(AS_CONTEXT));
    }
    object
}

fn wrap(urls: &Urls, kind: &str, id: &str, object: Value, to: Value, cc: Value) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": kind,
        "actor": urls.actor(),
        "published": ts(Utc::now()),
        "to": to,
        "cc": cc,
        "object": object,
    })
}

pub fn create(urls: &Urls, activity_id: &str, note: Value) -> Value {
    let (to, cc) = (note["to"].clone(), note["cc"].clone());
    wrap(urls, "Create", activity_id, note, to, cc)
}

/// A correction: Mastodon shows it as an edit because `updated` is set on the Note.
pub fn update(urls: &Urls, activity_id: &str, note: Value) -> Value {
    let (to, cc) = (note["to"].clone(), note["cc"].clone());
    wrap(urls, "Update", activity_id, note, to, cc)
}

/// A retraction: Delete with a Tombstone, addressed like the Note was.
pub fn delete(urls: &Urls, activity_id: &str, object_id: &str) -> Value {
    wrap(
        urls,
        "Delete",
        activity_id,
        json!({ "id": object_id, "type": "Tombstone" }),
        json!([PUBLIC]),
        json!([urls.followers()]),
    )
}

/// Accepts a Follow; the Follow is embedded because some servers cannot dereference its id.
pub fn accept(urls: &Urls, activity_id: &str, follow: Value, follower: &str) -> Value {
    let mut follow = follow;
    if let Value::Object(map) = &mut follow {
        map.remove("@context");
    }
    json!({
        "@context": AS_CONTEXT,
        "id": activity_id,
        "type": "Accept",
        "actor": urls.actor(),
        "to": [follower],
        "object": follow,
    })
}

/// An `OrderedCollection` summary whose items are on pages.
pub fn ordered_collection(id: &str, total: u64, first_page: &str) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": "OrderedCollection",
        "totalItems": total,
        "first": first_page,
    })
}

pub fn ordered_collection_page(
    id: &str,
    part_of: &str,
    items: Vec<Value>,
    next: Option<String>,
) -> Value {
    let mut page = json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "orderedItems": items,
    });
    if let Some(next) = next {
        page["next"] = json!(next);
    }
    page
}

/// Who a reply is for: their actor id, profile URL (or the id) and handle `@user@domain`.
#[derive(Debug, Clone)]
pub struct Addressee<'a> {
    pub actor: &'a str,
    pub url: &'a str,
    pub handle: &'a str,
}

fn mention_html(to: &Addressee<'_>) -> String {
    format!(
        "<span class=\"h-card\"><a href=\"{}\" class=\"u-url mention\">{}</a></span>",
        html_escape(to.url),
        html_escape(to.handle)
    )
}

/// A reply Note that mentions its addressee, so their server notifies them.
/// `public`: an official answer everybody sees; otherwise a direct note only they see.
pub fn reply_note(
    urls: &Urls,
    id: &str,
    in_reply_to: &str,
    to: &Addressee<'_>,
    body_html: &str,
    public: bool,
    published: DateTime<Utc>,
) -> Value {
    let content = format!("<p>{}</p>{body_html}", mention_html(to));
    let (to_list, cc_list) = if public {
        (json!([PUBLIC]), json!([urls.followers(), to.actor]))
    } else {
        (json!([to.actor]), json!([]))
    };
    json!({
        "id": id,
        "type": "Note",
        "attributedTo": urls.actor(),
        "inReplyTo": in_reply_to,
        "content": content,
        "contentMap": { "de": content },
        "published": ts(published),
        "to": to_list,
        "cc": cc_list,
        "url": id,
        "sensitive": false,
        "tag": [{ "type": "Mention", "href": to.actor, "name": to.handle }],
    })
}

/// Minimal HTML escaping for text placed into HTML we build.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::entities::AnnouncementKind;
    use crate::store::announcements::{Announcement, Consultation};

    fn urls() -> Urls {
        Urls::new(
            &url::Url::parse("https://rathaus.example").expect("url"),
            "rathaus",
        )
    }

    fn view(consult: bool, updated: bool) -> AnnouncementView {
        let t0 = Utc
            .with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
            .single()
            .expect("t");
        AnnouncementView {
            announcement: Announcement {
                id: 7,
                kind: if consult {
                    AnnouncementKind::Consultation
                } else {
                    AnnouncementKind::Announcement
                },
                title: Some("Radweg <Hauptstraße>".into()),
                body_markdown: "x".into(),
                body_html: "<p>Text</p>".into(),
                author: "cli".into(),
                created_at: t0,
                updated_at: if updated {
                    t0 + chrono::Duration::hours(1)
                } else {
                    t0
                },
                retracted_at: None,
            },
            consultation: consult.then(|| Consultation {
                announcement_id: 7,
                opens_at: t0,
                closes_at: Utc
                    .with_ymd_and_hms(2026, 12, 1, 18, 0, 0)
                    .single()
                    .expect("t"),
                closed_at: None,
                result_markdown: None,
                result_html: None,
                result_at: None,
            }),
        }
    }

    #[test]
    fn note_is_public_to_followers_with_escaped_title() {
        let n = note(&urls(), &view(false, false), chrono_tz::Europe::Berlin);
        assert_eq!(n["id"], "https://rathaus.example/announcements/7");
        assert_eq!(n["to"], json!([PUBLIC]));
        assert_eq!(
            n["cc"],
            json!(["https://rathaus.example/users/rathaus/followers"])
        );
        assert_eq!(
            n["content"],
            "<p><strong>Radweg &lt;Hauptstraße&gt;</strong></p><p>Text</p>"
        );
        assert_eq!(n["published"], "2026-11-24T10:00:00Z");
        assert!(n.get("updated").is_none());
        assert!(n.get("endTime").is_none());
    }

    #[test]
    fn corrected_consultation_note_has_updated_and_end_time() {
        let n = note(&urls(), &view(true, true), chrono_tz::Europe::Berlin);
        assert_eq!(n["updated"], "2026-11-24T11:00:00Z");
        assert_eq!(n["endTime"], "2026-12-01T18:00:00Z");
        assert!(
            n["content"]
                .as_str()
                .expect("content")
                .contains("Beteiligung bis 01.12.2026 19:00 CET")
        );
    }

    #[test]
    fn activities_wrap_with_our_actor_and_addressing() {
        let u = urls();
        let n = note(&u, &view(false, false), chrono_tz::Europe::Berlin);
        let c = create(&u, "https://rathaus.example/activities/1", n.clone());
        assert_eq!(c["type"], "Create");
        assert_eq!(c["actor"], u.actor());
        assert_eq!(c["to"], n["to"]);
        assert_eq!(c["object"]["id"], n["id"]);
        let d = delete(
            &u,
            "https://rathaus.example/activities/2",
            &u.announcement(7),
        );
        assert_eq!(
            d["object"],
            json!({"id": u.announcement(7), "type": "Tombstone"})
        );
        let follow = json!({"@context": AS_CONTEXT, "id": "https://s/f/1", "type": "Follow", "actor": "https://s/u", "object": u.actor()});
        let a = accept(
            &u,
            "https://rathaus.example/activities/3",
            follow,
            "https://s/u",
        );
        assert_eq!(a["object"]["id"], "https://s/f/1");
        assert!(a["object"].get("@context").is_none());
        assert_eq!(a["to"], json!(["https://s/u"]));
    }

    #[test]
    fn actor_has_security_context_key_and_links() {
        let u = urls();
        let doc = actor_document(
            &u,
            &ActorProfile {
                kind: "Organization",
                name: "Stadt",
                summary_html: "<p>Hallo</p>",
                public_key_pem: "PEM",
                published: Utc
                    .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                    .single()
                    .expect("t"),
                icon_url: Some("https://rathaus.example/icon.png"),
                links: vec![("Impressum", "https://stadt.example/impressum")],
            },
        );
        assert_eq!(doc["@context"][1], SECURITY_CONTEXT);
        assert_eq!(doc["publicKey"]["id"], u.key_id());
        assert_eq!(doc["publicKey"]["owner"], u.actor());
        assert_eq!(doc["endpoints"]["sharedInbox"], u.shared_inbox());
        assert_eq!(doc["attachment"][0]["name"], "Impressum");
        assert!(
            doc["attachment"][0]["value"]
                .as_str()
                .expect("v")
                .contains("href=\"https://stadt.example/impressum\"")
        );
        assert_eq!(doc["icon"]["url"], "https://rathaus.example/icon.png");
        let wf = webfinger(&u);
        assert_eq!(wf["subject"], "acct:rathaus@rathaus.example");
        assert_eq!(wf["links"][0]["href"], u.actor());
    }
}
