//! ActivityPub shapes Rathaus sends, built as JSON by pure functions, and the URL scheme.
//! Kept here (not in `federation`) because services store the exact activity they enqueue in
//! the same transaction as the row it is about.

mod builders;
mod urls;

pub use builders::*;
pub use urls::Urls;

/// The ActivityStreams public collection.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
pub const AS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";
pub const SECURITY_CONTEXT: &str = "https://w3id.org/security/v1";
/// The media type of ActivityPub documents.
pub const ACTIVITY_JSON: &str = "application/activity+json";
