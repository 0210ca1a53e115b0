//! The one error type of the `shared` crate.

/// Errors of the domain layer. Fronts map them: `NotFound`/`Invalid` are the caller's fault
/// (HTTP 4xx, a bot reply saying what was wrong), the rest are internal faults.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is unusable; the message names the key and is one line.
    #[error("config: {0}")]
    Config(String),
    /// The store could not be reached or a query failed.
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// A key could not be generated or parsed.
    #[error("crypto: {0}")]
    Crypto(String),
    /// Something the caller asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// It existed and was withdrawn (an erased person's answer or notice): HTTP 410.
    #[error("gone: {0}")]
    Gone(String),
    /// The caller's input breaks a rule; the message says which.
    #[error("invalid: {0}")]
    Invalid(String),
    /// Stored state cannot be read (e.g. a cursor that is not a number); the message names it.
    /// Nothing may carry on from a guess: a cursor read as 0 would replay the whole log.
    #[error("corrupt state: {0}")]
    Corrupt(String),
    /// A file could not be read or written.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
