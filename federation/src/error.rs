//! The crate's error type, and how domain errors become HTTP answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Shared(#[from] rathaus_shared::Error),
    #[error("io: {0}")]
    Io(std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl IntoResponse for Error {
    /// The caller's mistakes get a 4xx with the reason; internal faults a bare 500.
    fn into_response(self) -> Response {
        use rathaus_shared::Error as S;
        let (status, message) = match &self {
            Error::Shared(S::NotFound(what)) => {
                (StatusCode::NOT_FOUND, format!("not found: {what}"))
            }
            Error::Shared(S::Invalid(why)) => (StatusCode::UNPROCESSABLE_ENTITY, why.clone()),
            _ => {
                tracing::error!(error = %self, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_owned(),
                )
            }
        };
        (status, message).into_response()
    }
}
