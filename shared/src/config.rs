//! Configuration: built-in `config/default.toml`, then the file given with `--config`, then
//! environment variables `RATHAUS_SECTION__KEY`. Unknown keys are rejected so that a typo fails
//! at start-up instead of silently falling back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use url::Url;

use crate::error::{Error, Result};

/// The built-in defaults, compiled in so that `rathaus serve` needs no file at all.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Environment prefix; `RATHAUS_SERVER__BIND` sets `server.bind`.
pub const ENV_PREFIX: &str = "RATHAUS_";

/// Environment variables with our prefix that are not configuration: the command line's
/// `RATHAUS_CONFIG` (the file to load) and test harness settings.
const ENV_NOT_CONFIG: &[&str] = &["config", "test_database_url", "log", "failpoint"];

/// What a redacted secret prints as.
const REDACTED: &str = "[redacted]";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub actor: ActorConfig,
    pub federation: FederationConfig,
    pub policy: PolicyConfig,
    pub log: LogConfig,
    pub site: SiteConfig,
    pub metrics: MetricsConfig,
    pub retention: RetentionConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub public_url: Url,
    pub shutdown_grace_seconds: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// May carry a password, so it is a secret; printed with the password masked.
    #[serde(serialize_with = "serialize_database_url")]
    pub url: SecretString,
    pub max_connections: u32,
}

impl DatabaseConfig {
    /// True when no URL is set and the embedded SQLite file is used.
    pub fn url_is_default(&self) -> bool {
        self.url.expose_secret().is_empty()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ActorConfig {
    pub username: String,
    pub display_name: String,
    pub summary: String,
    #[serde(rename = "type")]
    pub kind: ActorKind,
    /// Profile picture URL; empty for none.
    pub icon_url: String,
    /// Imprint (Impressum) and privacy notice (Datenschutzerklärung) links shown on the profile.
    pub imprint_url: String,
    pub privacy_url: String,
}

/// How long personal data of comments is kept.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days after a consultation ended before its comments' authors are pseudonymised; 0: never.
    pub pseudonymise_after_days: u32,
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// A separate listen address (e.g. `127.0.0.1:9091`) that serves only `/metrics`, for a
    /// scraper on the same host or network; empty in the file: none.
    #[serde(with = "metrics_bind")]
    pub bind: Option<SocketAddr>,
    /// A bearer token that opens `/metrics` on the public address; empty: closed there.
    #[serde(serialize_with = "serialize_secret")]
    pub token: SecretString,
}

impl MetricsConfig {
    pub fn token_set(&self) -> bool {
        !self.token.expose_secret().is_empty()
    }

    /// Compares in constant time, so the token cannot be guessed byte by byte.
    pub fn token_matches(&self, presented: &str) -> bool {
        self.token_set()
            && aws_lc_rs::constant_time::verify_slices_are_equal(
                self.token.expose_secret().as_bytes(),
                presented.as_bytes(),
            )
            .is_ok()
    }
}

/// The public pages and the Open Data: who publishes, in which colour, under which licence.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The town hall's name on pages and as Open Data publisher; empty: `actor.display_name`.
    pub name: String,
    /// Main colour of header and links, checked for contrast when loaded.
    pub color: BrandColor,
    /// Language of pages when the browser asks for neither German nor English.
    pub language: Language,
    /// Time zone dates are shown in (IANA name, e.g. `Europe/Berlin`).
    #[serde(with = "time_zone")]
    pub time_zone: chrono_tz::Tz,
    /// Where people report accessibility barriers (e-mail address or URL).
    pub accessibility_contact: String,
    /// The enforcement body named in the accessibility statement (Schlichtungsstelle).
    #[serde(with = "optional_url")]
    pub accessibility_enforcement_url: Option<Url>,
    /// Open Data licence (a DCAT-AP.de licence URI).
    #[serde(with = "optional_url")]
    pub licence: Option<Url>,
    /// `dcatde:politicalGeocodingURI`: the municipality in DCAT-AP.de's vocabulary; empty to leave out.
    #[serde(with = "optional_url")]
    pub political_geocoding_uri: Option<Url>,
}

impl SiteConfig {
    /// The publisher's name: `site.name`, or the actor's display name.
    pub fn publisher<'a>(&'a self, actor: &'a ActorConfig) -> &'a str {
        if self.name.trim().is_empty() {
            &actor.display_name
        } else {
            &self.name
        }
    }
}

/// The two languages of everything a citizen reads: the site's default (`site.language`) and
/// the language a page is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    De,
    En,
}

impl Language {
    /// Picks the German or the English text; both stand side by side where they are used.
    pub fn t<'a>(self, de: &'a str, en: &'a str) -> &'a str {
        match self {
            Language::De => de,
            Language::En => en,
        }
    }

    /// The BCP 47 code: `de` or `en`.
    pub fn code(self) -> &'static str {
        self.t("de", "en")
    }

    pub fn other(self) -> Language {
        match self {
            Language::De => Language::En,
            Language::En => Language::De,
        }
    }

    /// Ours among a language tag's primary subtag (`de-AT` → German), case-insensitive.
    pub fn from_tag(tag: &str) -> Option<Language> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "de" => Some(Language::De),
            "en" => Some(Language::En),
            _ => None,
        }
    }
}

/// The brand colour (`#rrggbb`). It is only made when it reaches 4.5:1 against the pages' light
/// background `#f3f5f8` (and so against white), as WCAG AA asks for link text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct BrandColor((u8, u8, u8));

impl BrandColor {
    pub fn rgb(self) -> (u8, u8, u8) {
        self.0
    }
}

impl std::str::FromStr for BrandColor {
    type Err = String;

    fn from_str(raw: &str) -> std::result::Result<Self, String> {
        let rgb =
            parse_hex_color(raw).ok_or_else(|| format!("`{raw}` must be a colour like #0b5394"))?;
        let ratio = contrast(rgb, SOFT_BACKGROUND);
        if ratio < 4.5 {
            return Err(format!(
                "`{raw}` has a contrast of {ratio:.1}:1 against the pages' light background; WCAG AA needs 4.5:1, choose a darker colour"
            ));
        }
        Ok(Self(rgb))
    }
}

impl TryFrom<String> for BrandColor {
    type Error = String;

    fn try_from(raw: String) -> std::result::Result<Self, String> {
        raw.parse()
    }
}

impl From<BrandColor> for String {
    fn from(c: BrandColor) -> String {
        c.to_string()
    }
}

impl std::fmt::Display for BrandColor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (r, g, b) = self.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

/// `#rrggbb` → (r, g, b).
pub fn parse_hex_color(s: &str) -> Option<(u8, u8, u8)> {
    let hex = s.strip_prefix('#')?;
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some((byte(0)?, byte(2)?, byte(4)?))
}

/// WCAG 2.1 relative luminance.
fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
    let channel = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
}

/// WCAG 2.1 contrast ratio of two colours.
pub fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// WCAG 2.1 contrast ratio of a colour against white.
pub fn contrast_with_white(rgb: (u8, u8, u8)) -> f64 {
    contrast(rgb, (255, 255, 255))
}

/// The light background of highlighted boxes on the pages (`--soft` in the style sheet);
/// links in the brand colour sit on it too.
pub const SOFT_BACKGROUND: (u8, u8, u8) = (0xf3, 0xf5, 0xf8);

/// ActivityStreams actor types Mastodon accepts; Service and Application show a bot badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum ActorKind {
    Organization,
    Service,
    Application,
    Person,
    Group,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FederationConfig {
    pub allow_private_addresses: bool,
    /// `host[:port]` that may be fetched from and delivered to although they resolve to
    /// private addresses (a city's own internal Mastodon). A host without a port means its
    /// standard port (80/443). Every other private address stays refused.
    #[serde(with = "host_list")]
    pub allowed_private_hosts: Vec<AllowedHost>,
    /// Deliveries in flight at once, over all hosts.
    pub delivery_concurrency: usize,
    /// Deliveries in flight at once to one host.
    pub per_host_concurrency: usize,
    /// How long a delivery is retried before it is given up.
    pub retry_hours: u64,
    /// The constant part of the pause between attempts (attempts⁴ + this many seconds).
    pub retry_min_seconds: u64,
    /// Connect plus response timeout for one outgoing request.
    pub request_timeout_seconds: u64,
    /// Largest inbox body accepted.
    pub max_inbox_bytes: usize,
    /// How long an inbox request waits for its activity to be applied after it was durably
    /// queued; then it is answered 202 `queued` and applied later. 0: answer once queued.
    pub inbox_apply_wait_ms: u64,
    /// How long a claimed delivery stays reserved for its worker; after a crash the job is
    /// claimed again once this has passed. Must exceed the request timeout.
    pub delivery_lease_seconds: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Rules file; empty in the file (`None`): the built-in `config/policy.toml`.
    #[serde(with = "optional_path")]
    pub file: Option<PathBuf>,
    /// Rate limits per author and per instance.
    pub author_per_hour: u32,
    pub author_burst: u32,
    pub instance_per_hour: u32,
    pub instance_burst: u32,
    /// What happens to a comment over a rate limit: `hold` or `reject`.
    pub rate_limit_action: crate::entities::RuleAction,
    /// Tell fediverse authors why their comment was rejected / held (a reply naming the
    /// rule's public reason, which they can answer to ask for a review).
    pub notify_on_reject: bool,
    pub notify_on_hold: bool,
}

impl PolicyConfig {
    pub fn rate_limits(&self) -> crate::policy::ratelimit::RateLimitConfig {
        crate::policy::ratelimit::RateLimitConfig {
            author_per_hour: self.author_per_hour,
            author_burst: self.author_burst,
            instance_per_hour: self.instance_per_hour,
            instance_burst: self.instance_burst,
            action: self.rate_limit_action,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The Matrix bot. Absent section: `rathaus serve` runs without the bot.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixConfig {
    pub homeserver_url: Url,
    pub user_id: String,
    #[serde(
        default,
        serialize_with = "serialize_secret_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub password: Option<SecretString>,
    #[serde(
        default,
        serialize_with = "serialize_secret_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub access_token: Option<SecretString>,
    #[serde(default = "default_device_name")]
    pub device_name: String,
    #[serde(default)]
    pub press_rooms: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderation_room: Option<String>,
    #[serde(default)]
    pub public_rooms: Vec<String>,
    #[serde(default)]
    pub press_officers: Vec<String>,
    #[serde(default)]
    pub moderators: Vec<String>,
}

fn default_device_name() -> String {
    "Rathaus".to_owned()
}

fn serialize_secret_opt<S: Serializer>(
    value: &Option<SecretString>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_str(REDACTED),
        None => s.serialize_none(),
    }
}

fn serialize_secret<S: Serializer>(
    value: &SecretString,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    if value.expose_secret().is_empty() {
        s.serialize_str("")
    } else {
        s.serialize_str(REDACTED)
    }
}

fn serialize_database_url<S: Serializer>(
    value: &SecretString,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url(value.expose_secret()))
}

/// Masks the password of a URL, keeping the rest readable for operators.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            // Cannot fail: the URL has a password, so it has a host.
            let _ = url.set_password(Some("redacted"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) if raw.is_empty() => String::new(),
        Err(_) => REDACTED.to_owned(),
    }
}

impl Config {
    /// Loads defaults, then `file` (which must exist when given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &env)
    }

    /// Like [`Config::load`] with an explicit environment, so tests need not touch the process's.
    pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> Result<Self> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(Error::Config(format!(
                    "config file {} does not exist or is not a file",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(env_provider(env));
        let config: Config = figment.extract().map_err(|e| Error::Config(one_line(&e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: URL shapes, names, combinations.
    fn validate(&self) -> Result<()> {
        let url = &self.server.public_url;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::Config(format!(
                "server.public_url: `{url}` must be an http or https URL with a host"
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::Config(format!(
                "server.public_url: `{url}` must not have a query or fragment"
            )));
        }
        let name = &self.actor.username;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(Error::Config(format!(
                "actor.username: `{name}` may only contain a-z, 0-9 and _"
            )));
        }
        let db = self.database.url.expose_secret();
        if !db.is_empty() {
            let scheme = db.split(':').next().unwrap_or_default();
            if !matches!(scheme, "sqlite" | "postgres" | "postgresql") || !db.contains("://") {
                return Err(Error::Config(format!(
                    "database.url: `{}` must start with sqlite:// or postgres://",
                    redact_url(db)
                )));
            }
        }
        if self.database.max_connections == 0 {
            return Err(Error::Config(
                "database.max_connections: must be at least 1".into(),
            ));
        }
        let token = self.metrics.token.expose_secret();
        if !token.is_empty() && token.len() < 16 {
            return Err(Error::Config(
                "metrics.token: use at least 16 characters".into(),
            ));
        }
        if let Some(m) = &self.matrix {
            if m.password.is_none() && m.access_token.is_none() {
                return Err(Error::Config(
                    "matrix: set either matrix.password or matrix.access_token".into(),
                ));
            }
            if !m.user_id.starts_with('@') || !m.user_id.contains(':') {
                return Err(Error::Config(format!(
                    "matrix.user_id: `{}` must look like @name:server",
                    m.user_id
                )));
            }
        }
        Ok(())
    }

    /// The database URL to connect to: the configured one, or the SQLite file in `data_dir`.
    pub fn database_url(&self) -> String {
        let url = self.database.url.expose_secret();
        if url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("rathaus.db").display()
            )
        } else {
            url.to_owned()
        }
    }

    /// The effective configuration as TOML with every secret redacted.
    pub fn to_redacted_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Config(format!("cannot render config: {e}")))
    }

    /// `host` or `host:port` of the public URL: the domain part of the actor's handle.
    pub fn public_host(&self) -> String {
        let url = &self.server.public_url;
        let host = url.host_str().unwrap_or("localhost");
        match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }
}

// Settings that are strings in the file and typed here, with messages naming the expected
// form (figment puts the key in front). An empty string means "not set" where the type is an
// `Option`; it is printed back as an empty string, so the printed config loads again.

/// `""` → `None`; else `parse`, or an error saying what was expected instead of `raw`.
fn parse_optional<T, E: serde::de::Error>(
    raw: &str,
    parse: impl FnOnce(&str) -> Option<T>,
    expected: &str,
) -> std::result::Result<Option<T>, E> {
    if raw.is_empty() {
        return Ok(None);
    }
    match parse(raw) {
        Some(value) => Ok(Some(value)),
        None => Err(E::custom(format!("`{raw}` is not {expected}"))),
    }
}

/// `None` → `""`, so the printed config loads again.
fn serialize_optional<T: std::fmt::Display, S: Serializer>(
    value: Option<T>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&value.map(|v| v.to_string()).unwrap_or_default())
}

mod metrics_bind {
    use super::*;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<SocketAddr>, D::Error> {
        let raw = String::deserialize(d)?;
        parse_optional(&raw, |r| r.parse().ok(), "an address like 127.0.0.1:9091")
    }

    pub fn serialize<S: Serializer>(
        value: &Option<SocketAddr>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serialize_optional(value.as_ref(), s)
    }
}

mod time_zone {
    use super::*;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<chrono_tz::Tz, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map_err(|_| {
            serde::de::Error::custom(format!(
                "`{raw}` is not an IANA time zone such as Europe/Berlin"
            ))
        })
    }

    pub fn serialize<S: Serializer>(
        value: &chrono_tz::Tz,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(value.name())
    }
}

/// One entry of `federation.allowed_private_hosts`: a lower-case host name or IP literal and,
/// if given, a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    pub host: String,
    pub port: Option<u16>,
}

impl AllowedHost {
    /// True if `url` names this host (and this port, or the scheme's standard one).
    pub fn matches(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case(&self.host)
            && match self.port {
                Some(port) => url.port_or_known_default() == Some(port),
                None => url.port().is_none(),
            }
    }
}

impl std::str::FromStr for AllowedHost {
    type Err = String;

    fn from_str(raw: &str) -> std::result::Result<Self, String> {
        let bad = || format!("`{raw}` is not a host or host:port");
        let url = Url::parse(&format!("http://{}/", raw.trim())).map_err(|_| bad())?;
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
        if url.path() != "/" || !url.username().is_empty() || raw.contains(['/', '@', '?', '#']) {
            return Err(bad());
        }
        // `url` drops the default port 80; keep what was written.
        let port = match url.port() {
            Some(port) => Some(port),
            None if raw.trim().ends_with(":80") => Some(80),
            None => None,
        };
        Ok(Self {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase(),
            port,
        })
    }
}

impl std::fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(port) => write!(f, "{host}:{port}"),
            None => f.write_str(&host),
        }
    }
}

/// A TOML list of strings, or one string with entries separated by commas or spaces (the
/// environment's form: `RATHAUS_FEDERATION__ALLOWED_PRIVATE_HOSTS=intern.example:8443`).
mod host_list {
    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Vec<AllowedHost>, D::Error> {
        let entries = match Raw::deserialize(d)? {
            Raw::One(text) => text
                .split([',', ' '])
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect(),
            Raw::Many(list) => list,
        };
        entries
            .iter()
            .map(|e| e.parse().map_err(serde::de::Error::custom))
            .collect()
    }

    pub fn serialize<S: Serializer>(
        value: &[AllowedHost],
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(value.iter().map(ToString::to_string))
    }
}

mod optional_url {
    use super::*;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<Url>, D::Error> {
        let raw = String::deserialize(d)?;
        parse_optional(&raw, |r| Url::parse(r).ok(), "a URL")
    }

    pub fn serialize<S: Serializer>(
        value: &Option<Url>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serialize_optional(value.as_ref(), s)
    }
}

mod optional_path {
    use super::*;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<PathBuf>, D::Error> {
        let raw = String::deserialize(d)?;
        parse_optional(&raw, |r| Some(PathBuf::from(r)), "a path")
    }

    pub fn serialize<S: Serializer>(
        value: &Option<PathBuf>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serialize_optional(value.as_ref().map(|p| p.display()), s)
    }
}

/// `RATHAUS_SECTION__KEY` variables, minus the ones that configure tests rather than Rathaus.
fn env_provider(env: &[(String, String)]) -> figment::providers::Serialized<figment::value::Dict> {
    use figment::value::{Dict, Value};
    let mut root = Dict::new();
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let key = rest.to_ascii_lowercase();
        if key.is_empty() || ENV_NOT_CONFIG.contains(&key.as_str()) {
            continue;
        }
        let parts: Vec<&str> = key.split("__").collect();
        let value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw.clone()));
        insert_path(&mut root, &parts, value);
    }
    figment::providers::Serialized::defaults(root).profile(figment::Profile::Default)
}

fn insert_path(dict: &mut figment::value::Dict, parts: &[&str], value: figment::value::Value) {
    use figment::value::{Dict, Value};
    match parts {
        [] => {}
        [last] => {
            dict.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry((*first).to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, sub) = entry {
                insert_path(sub, rest, value);
            }
        }
    }
}

/// figment errors can be chains spanning lines; operators get one line naming key and source.
fn one_line(err: &figment::Error) -> String {
    let mut parts = Vec::new();
    for e in err.clone() {
        let key = e.path.join(".");
        let source = match e.metadata.as_ref().and_then(|m| m.source.as_ref()) {
            Some(figment::Source::File(path)) => format!(" (in {})", path.display()),
            // Only our environment provider is built in code.
            Some(figment::Source::Code(_)) => " (from the environment)".to_owned(),
            _ => String::new(),
        };
        let msg = match &e.kind {
            figment::error::Kind::UnknownField(field, _) if key.is_empty() => {
                format!("unknown key `{field}`{source}")
            }
            figment::error::Kind::UnknownField(..) => format!("unknown key `{key}`{source}"),
            kind if key.is_empty() => format!("{kind}{source}"),
            kind => format!("{key}: {kind}{source}"),
        };
        parts.push(msg.replace('\n', " "));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let path = dir.path().join("rathaus.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }

    #[test]
    fn defaults_parse_to_the_embedded_setup() {
        let c = Config::load_from(None, &[]).expect("defaults load");
        assert_eq!(c.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.server.public_url.as_str(), "http://localhost:8080/");
        assert_eq!(c.actor.username, "rathaus");
        assert_eq!(c.actor.kind, ActorKind::Organization);
        assert!(!c.federation.allow_private_addresses);
        assert!(c.matrix.is_none());
        assert_eq!(c.database_url(), "sqlite://./data/rathaus.db?mode=rwc");
        assert_eq!(c.public_host(), "localhost:8080");
    }

    #[test]
    fn file_overrides_defaults_and_env_overrides_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            &dir,
            "[server]\nbind = \"127.0.0.1:9000\"\npublic_url = \"https://rathaus.example\"\n",
        );
        let c = Config::load_from(
            Some(&path),
            &env(&[
                ("RATHAUS_SERVER__BIND", "127.0.0.1:9100"),
                ("RATHAUS_DATA_DIR", "/var/lib/rathaus"),
                ("RATHAUS_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true"),
                ("RATHAUS_TEST_DATABASE_URL", "postgres://ignored"),
                ("OTHER", "ignored"),
            ]),
        )
        .expect("load");
        assert_eq!(c.server.bind.port(), 9100);
        assert_eq!(c.server.public_url.as_str(), "https://rathaus.example/");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/rathaus"));
        assert!(c.federation.allow_private_addresses);
        assert_eq!(c.public_host(), "rathaus.example");
    }

    #[test]
    fn allowed_private_hosts_come_as_a_list_or_one_string() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            &dir,
            "[federation]\nallowed_private_hosts = [\"Mastodon.Intern.example\", \"10.1.2.3:8443\", \"[fd00::1]:80\"]\n",
        );
        let c = Config::load_from(Some(&path), &[]).expect("load");
        let hosts: Vec<String> = c
            .federation
            .allowed_private_hosts
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            hosts,
            ["mastodon.intern.example", "10.1.2.3:8443", "[fd00::1]:80"]
        );
        let [intern, ip, v6] = &c.federation.allowed_private_hosts[..] else {
            panic!("three hosts");
        };
        let url = |u: &str| Url::parse(u).expect("url");
        assert!(intern.matches(&url("https://mastodon.intern.example/users/a")));
        assert!(intern.matches(&url("http://MASTODON.intern.example:80/x")));
        assert!(!intern.matches(&url("https://mastodon.intern.example:6379/")));
        assert!(!intern.matches(&url("https://other.intern.example/")));
        assert!(ip.matches(&url("https://10.1.2.3:8443/inbox")));
        assert!(!ip.matches(&url("https://10.1.2.3/inbox")));
        assert!(v6.matches(&url("http://[fd00::1]/inbox")));

        let c = Config::load_from(
            None,
            &env(&[(
                "RATHAUS_FEDERATION__ALLOWED_PRIVATE_HOSTS",
                "localhost:4000, localhost:4001",
            )]),
        )
        .expect("load");
        assert_eq!(c.federation.allowed_private_hosts.len(), 2);
        assert_eq!(c.federation.allowed_private_hosts[1].port, Some(4001));
        // The printed configuration loads again.
        let printed = toml::to_string(&c).expect("print");
        assert!(
            printed.contains("allowed_private_hosts = [\"localhost:4000\", \"localhost:4001\"]"),
            "{printed}"
        );

        for bad in [
            "http://x.example",
            "x.example/inbox",
            "user@x.example",
            "x.example:99999",
            "",
        ] {
            let err = Config::load_from(
                None,
                &env(&[(
                    "RATHAUS_FEDERATION__ALLOWED_PRIVATE_HOSTS",
                    &format!("[\"{bad}\"]"),
                )]),
            )
            .expect_err(bad);
            assert!(
                err.to_string().contains("allowed_private_hosts"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn unknown_key_in_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "[server]\nbidn = \"127.0.0.1:9000\"\n");
        let err = Config::load_from(Some(&path), &[]).expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.contains("unknown key `server.bidn`"), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }

    #[test]
    fn unknown_key_in_env_is_named() {
        let err = Config::load_from(None, &env(&[("RATHAUS_ACTOR__USERNAM", "x")]))
            .expect_err("must fail");
        assert!(
            err.to_string().contains("unknown key `actor.usernam`"),
            "{err}"
        );
    }

    #[test]
    fn unknown_top_level_section_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "[serverr]\nbind = \"x\"\n");
        let err = Config::load_from(Some(&path), &[]).expect_err("must fail");
        assert!(err.to_string().contains("unknown key `serverr`"), "{err}");
    }

    #[test]
    fn malformed_urls_and_addresses_are_rejected() {
        let cases = [
            (
                "RATHAUS_SERVER__PUBLIC_URL",
                "not a url",
                "server.public_url",
            ),
            (
                "RATHAUS_SERVER__PUBLIC_URL",
                "ftp://x.example",
                "server.public_url",
            ),
            ("RATHAUS_SERVER__BIND", "localhost", "server.bind"),
            ("RATHAUS_DATABASE__URL", "mysql://x/y", "database.url"),
            ("RATHAUS_ACTOR__USERNAME", "Rat Haus", "actor.username"),
            ("RATHAUS_SITE__COLOR", "blue", "site.color"),
            ("RATHAUS_SITE__COLOR", "#ffcc00", "4.5:1"),
            // 4.5:1 on white, but not on the light boxes.
            ("RATHAUS_SITE__COLOR", "#767676", "4.5:1"),
            ("RATHAUS_SITE__LICENCE", "dl-by-de", "site.licence"),
            ("RATHAUS_SITE__LANGUAGE", "fr", "site.language"),
            ("RATHAUS_SITE__TIME_ZONE", "Mars/Olympus", "site.time_zone"),
            ("RATHAUS_METRICS__BIND", "localhost", "metrics.bind"),
            ("RATHAUS_METRICS__TOKEN", "short", "metrics.token"),
        ];
        for (key, value, named) in cases {
            let err = Config::load_from(None, &env(&[(key, value)])).expect_err(value);
            assert!(err.to_string().contains(named), "{value}: {err}");
        }
    }

    #[test]
    fn settings_are_typed_when_loaded() {
        let c = Config::load_from(None, &[]).expect("defaults load");
        assert_eq!(c.site.time_zone, chrono_tz::Europe::Berlin);
        assert_eq!(c.site.color.rgb(), (0x0b, 0x53, 0x94));
        assert_eq!(c.site.language, Language::De);
        assert_eq!(c.metrics.bind, None);
        assert_eq!(c.policy.file, None);
        assert_eq!(c.site.political_geocoding_uri, None);
        assert_eq!(
            c.site.licence.as_ref().map(Url::as_str),
            Some("http://dcat-ap.de/def/licenses/dl-by-de/2.0")
        );
        let c = Config::load_from(
            None,
            &env(&[
                ("RATHAUS_METRICS__BIND", "127.0.0.1:9091"),
                ("RATHAUS_SITE__TIME_ZONE", "America/New_York"),
                ("RATHAUS_SITE__COLOR", "#0B5394"),
                ("RATHAUS_POLICY__FILE", "/etc/rathaus/policy.toml"),
            ]),
        )
        .expect("load");
        assert_eq!(
            c.metrics.bind,
            Some(SocketAddr::from(([127, 0, 0, 1], 9091)))
        );
        assert_eq!(c.site.time_zone, chrono_tz::America::New_York);
        assert_eq!(c.site.color.to_string(), "#0b5394");
        assert_eq!(
            c.policy.file,
            Some(PathBuf::from("/etc/rathaus/policy.toml"))
        );
        // Printed and loaded again, the typed values survive.
        let dir = tempfile::tempdir().expect("tempdir");
        let again = Config::load_from(
            Some(&write(&dir, &c.to_redacted_toml().expect("render"))),
            &[],
        )
        .expect("printed config loads");
        assert_eq!(again.metrics.bind, c.metrics.bind);
        assert_eq!(again.site.time_zone, c.site.time_zone);
        assert_eq!(again.site.color, c.site.color);
        assert_eq!(again.policy.file, c.policy.file);
        assert_eq!(again.site.licence, c.site.licence);
    }

    #[test]
    fn bad_typed_settings_name_their_key_and_the_expected_form() {
        let cases = [
            (
                "RATHAUS_SITE__COLOR",
                "blue",
                "site.color: `blue` must be a colour like #0b5394",
            ),
            (
                "RATHAUS_SITE__COLOR",
                "#ffcc00",
                "site.color: `#ffcc00` has a contrast of",
            ),
            (
                "RATHAUS_SITE__TIME_ZONE",
                "Mars/Olympus",
                "site.time_zone: `Mars/Olympus` is not an IANA time zone such as Europe/Berlin",
            ),
            (
                "RATHAUS_METRICS__BIND",
                "localhost",
                "metrics.bind: `localhost` is not an address like 127.0.0.1:9091",
            ),
            (
                "RATHAUS_SITE__POLITICAL_GEOCODING_URI",
                "Musterstadt",
                "site.political_geocoding_uri: `Musterstadt` is not a URL",
            ),
        ];
        for (key, value, expected) in cases {
            let err = Config::load_from(None, &env(&[(key, value)])).expect_err(value);
            let msg = err.to_string();
            assert!(msg.contains(expected), "{value}: {msg}");
            assert!(!msg.contains('\n'), "one line: {msg}");
        }
        // From a file the message names the file.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "[site]\ntime_zone = \"Europe/Bonn\"\n");
        let err = Config::load_from(Some(&path), &[]).expect_err("bad zone in file");
        let msg = err.to_string();
        assert!(msg.contains("site.time_zone: `Europe/Bonn`"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
    }

    #[test]
    fn the_command_lines_config_variable_is_not_a_setting() {
        let c = Config::load_from(
            None,
            &env(&[("RATHAUS_CONFIG", "/etc/rathaus/rathaus.toml")]),
        )
        .expect("RATHAUS_CONFIG is the --config flag's, not a key");
        assert_eq!(c.actor.username, "rathaus");
    }

    #[test]
    fn language_tags_pick_ours_by_primary_subtag() {
        assert_eq!(Language::from_tag("de-AT"), Some(Language::De));
        assert_eq!(Language::from_tag(" EN_gb"), Some(Language::En));
        assert_eq!(Language::from_tag("fr"), None);
        assert_eq!(Language::De.other().code(), "en");
        assert_eq!(Language::En.t("Ja", "Yes"), "Yes");
    }

    #[test]
    fn contrast_is_computed_as_wcag_defines_it() {
        let white = contrast_with_white((255, 255, 255));
        let black = contrast_with_white((0, 0, 0));
        assert!((white - 1.0).abs() < 1e-9, "{white}");
        assert!((black - 21.0).abs() < 1e-9, "{black}");
        // #767676 is the lightest grey that passes AA on white (4.54:1).
        let grey = contrast_with_white((0x76, 0x76, 0x76));
        assert!(grey > 4.5 && grey < 4.6, "{grey}");
        assert_eq!(parse_hex_color("#0B5394"), Some((0x0b, 0x53, 0x94)));
        // Symmetric, and the soft background is stricter than white.
        let brand = (0x0b, 0x53, 0x94);
        assert!((contrast(brand, (255, 255, 255)) - contrast((255, 255, 255), brand)).abs() < 1e-9);
        assert!(contrast(brand, SOFT_BACKGROUND) < contrast_with_white(brand));
        assert!(contrast(brand, SOFT_BACKGROUND) > 4.5);
        assert_eq!(parse_hex_color("0b5394"), None);
        assert_eq!(parse_hex_color("#0b539"), None);
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let err = Config::load_from(Some(Path::new("/nonexistent/rathaus.toml")), &[])
            .expect_err("must fail");
        assert!(
            err.to_string().contains("/nonexistent/rathaus.toml"),
            "{err}"
        );
    }

    #[test]
    fn secrets_are_redacted_when_printed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            &dir,
            "[database]\nurl = \"postgres://rathaus:hunter2@db.example/rathaus\"\n\
             [matrix]\nhomeserver_url = \"http://127.0.0.1:8008\"\nuser_id = \"@bot:localhost\"\n\
             password = \"sesame-open\"\n",
        );
        let c = Config::load_from(Some(&path), &[]).expect("load");
        let shown = c.to_redacted_toml().expect("render");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("sesame-open"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(shown.contains("db.example"), "{shown}");
        assert!(!format!("{c:?}").contains("sesame-open"));
        // The printed config is itself a valid config.
        let again = write(&dir, &shown);
        Config::load_from(Some(&again), &[]).expect("printed config loads");
    }

    #[test]
    fn shipped_example_configs_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("config dir") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with("example-") && name.ends_with(".toml") {
                Config::load_from(Some(&path), &[])
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                seen += 1;
            }
        }
        assert!(seen >= 1, "no example configs found in {}", dir.display());
    }

    #[test]
    fn matrix_needs_a_credential() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            &dir,
            "[matrix]\nhomeserver_url = \"http://127.0.0.1:8008\"\nuser_id = \"@bot:localhost\"\n",
        );
        let err = Config::load_from(Some(&path), &[]).expect_err("must fail");
        assert!(err.to_string().contains("matrix.password"), "{err}");
    }
}
