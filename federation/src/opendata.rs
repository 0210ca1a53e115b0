//! Open Data over HTTP: `/open-data/{id}/` lists a consultation's files, each served under
//! its own name so that `csv-metadata.json` finds its tables by relative URL (CSV on the Web).

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use rathaus_shared::services::announcements::{self, AnnouncementView};
use rathaus_shared::services::export;

use crate::error::Error;
use crate::pages::{self, Viewer, views};
use crate::state::FedState;

pub fn routes() -> Router<FedState> {
    Router::new()
        .route("/open-data/{id}", get(redirect))
        .route("/open-data/{id}/", get(dataset))
        .route("/open-data/{id}/{file}", get(file))
}

fn parse_id(raw: &str) -> Result<i64, Error> {
    raw.parse()
        .map_err(|_| Error::NotFound(format!("no dataset {raw}")))
}

/// The announcement, unless it was retracted: then its data is withdrawn with it.
async fn published(state: &FedState, id: i64) -> Result<AnnouncementView, Error> {
    let view = announcements::get(&state.app, id).await?;
    if view.announcement.retracted_at.is_some() {
        return Err(Error::NotFound(format!(
            "announcement {id} was retracted; its data is withdrawn"
        )));
    }
    Ok(view)
}

/// # GET /open-data/{id} → the folder form, so relative links resolve.
async fn redirect(Path(id): Path<String>) -> Response {
    Redirect::permanent(&format!("/open-data/{}/", id.replace('/', ""))).into_response()
}

/// # GET /open-data/{id}/
async fn dataset(
    State(state): State<FedState>,
    Path(id): Path<String>,
    viewer: Viewer,
) -> Response {
    let result = async {
        let id = parse_id(&id)?;
        let view = published(&state, id).await?;
        let export = export::consultation(&state.app, id).await?;
        Ok::<_, Error>((view, export.listing()))
    }
    .await;
    match result {
        Ok((view, files)) => viewer.respond(
            StatusCode::OK,
            views::open_data_dataset(
                &viewer.frame(&state),
                &view,
                &files,
                state
                    .app
                    .config
                    .site
                    .licence
                    .as_ref()
                    .map_or("", |u| u.as_str()),
            ),
        ),
        Err(e) => viewer.error(&state, e),
    }
}

/// # GET /open-data/{id}/{file}
async fn file(
    State(state): State<FedState>,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, Error> {
    let id = parse_id(&id)?;
    published(&state, id).await?;
    if export::streamed_columns(&name).is_some() {
        return streamed(&state, id, name).await;
    }
    let export = export::consultation(&state.app, id).await?;
    let not_found = || Error::NotFound(format!("dataset {id} has no file {name}"));
    let (name, media) = export
        .listing()
        .into_iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(not_found)?;
    let data = export.file(name)?.ok_or_else(not_found)?;
    Ok(download(id, name, media, Body::from(data)))
}

/// A table that grows with the comments, streamed a page of comments at a time: a download
/// holds one page in memory, however large the consultation.
async fn streamed(state: &FedState, id: i64, name: String) -> Result<Response, Error> {
    use futures_util::StreamExt;
    let header = export::stream_header(&name)?;
    let app = state.app.clone();
    let file = name.clone();
    // `None`: the last page was sent (or failed).
    let pages = futures_util::stream::unfold(Some(None), move |cursor| {
        let (app, file) = (app.clone(), file.clone());
        async move {
            let after = cursor?;
            match export::stream_page(&app, id, &file, after).await {
                Ok(Some((rows, next))) => Some((Ok(Bytes::from(rows)), Some(next))),
                Ok(None) => None,
                Err(e) => {
                    tracing::error!(error = %e, dataset = id, "streaming an export failed");
                    Some((Err(std::io::Error::other(e.to_string())), None))
                }
            }
        }
    });
    let body =
        futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(header))]).chain(pages);
    Ok(download(
        id,
        &name,
        "text/csv; charset=utf-8",
        Body::from_stream(body),
    ))
}

/// A file of dataset `id` with our headers.
fn download(id: i64, name: &str, media: &'static str, body: Body) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"beteiligung-{id}-{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    // Open Data is meant to be fetched from anywhere, including browser-based tools.
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    pages::security_headers(headers);
    response
}
