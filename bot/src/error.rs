//! The one error type of the bot crate.

/// Errors of the bot crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("matrix: {0}")]
    Matrix(Box<matrix_sdk::Error>),
    #[error("matrix client: {0}")]
    Build(Box<matrix_sdk::ClientBuildError>),
    #[error(transparent)]
    Shared(#[from] rathaus_shared::Error),
    #[error("{0}")]
    Other(String),
}

impl From<matrix_sdk::Error> for Error {
    fn from(e: matrix_sdk::Error) -> Self {
        Error::Matrix(Box::new(e))
    }
}

impl From<matrix_sdk::ClientBuildError> for Error {
    fn from(e: matrix_sdk::ClientBuildError) -> Self {
        Error::Build(Box::new(e))
    }
}
