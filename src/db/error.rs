//! The db layer's one error type. It keeps what callers decide on (the database is unavailable,
//! a unique key refused a write) and where in the db layer it happened, for the log; it becomes
//! the API error in one place, `From<DbError> for ApiError`.

use crate::error::{log_error, ApiError};
use std::fmt;
use std::panic::Location;
use tokio_postgres::error::SqlState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbErrorKind {
    /// No connection: it closed, or could not be opened. Trying again shortly may work.
    Unavailable,
    /// The Hyperdrive binding is missing from the Worker's configuration.
    NotConfigured,
    /// A unique key refused the write; callers that expect this turn it into their own answer.
    UniqueViolation,
    /// A row the statement depends on was gone (deleted by a concurrent request).
    MissingRow,
    /// Anything else the database refused, with the SQLSTATE it gave.
    Failed { sqlstate: String },
    /// The client failed without the server refusing anything: most often a row that does not
    /// decode (a value this code does not know, such as an enum text from a newer schema). Kept
    /// as the client's own message, for the log.
    Client(String),
}

/// A failed database operation: what went wrong and the line of the db layer where it did. The
/// line is taken by `?` (through `#[track_caller]`), so it always names the query that failed.
/// Query parameters, which may hold secrets, are never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    pub kind: DbErrorKind,
    pub location: &'static Location<'static>,
}

impl DbError {
    #[track_caller]
    pub fn new(kind: DbErrorKind) -> Self {
        Self { kind, location: Location::caller() }
    }

    /// A row that must exist after what the statement did was not found.
    #[track_caller]
    pub fn missing_row() -> Self {
        Self::new(DbErrorKind::MissingRow)
    }

    pub fn is_unique_violation(&self) -> bool {
        self.kind == DbErrorKind::UniqueViolation
    }

    pub fn is_unavailable(&self) -> bool {
        self.kind == DbErrorKind::Unavailable
    }
}

impl From<tokio_postgres::Error> for DbError {
    #[track_caller]
    fn from(e: tokio_postgres::Error) -> Self {
        let kind = if e.is_closed() {
            DbErrorKind::Unavailable
        } else if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            DbErrorKind::UniqueViolation
        } else if let Some(code) = e.code() {
            DbErrorKind::Failed { sqlstate: code.code().to_string() }
        } else {
            DbErrorKind::Client(e.to_string())
        };
        Self::new(kind)
    }
}

impl fmt::Display for DbErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbErrorKind::Unavailable => f.write_str("database unavailable (connection closed or not opened)"),
            DbErrorKind::NotConfigured => f.write_str("the HYPERDRIVE binding is missing"),
            DbErrorKind::UniqueViolation => f.write_str("database error (SQLSTATE 23505, unique violation)"),
            DbErrorKind::MissingRow => f.write_str("a row the statement depends on is gone"),
            DbErrorKind::Failed { sqlstate } => write!(f, "database error (SQLSTATE {sqlstate})"),
            DbErrorKind::Client(message) => write!(f, "database client error: {message}"),
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}:{}", self.kind, self.location.file(), self.location.line())
    }
}

impl std::error::Error for DbError {}

/// The one conversion to what the client sees: a lost connection is a 503 the client may retry,
/// anything else a 500. The detail and the line that failed go to the log, never to the client.
impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        let context = format!("db {}:{}", e.location.file(), e.location.line());
        log_error(&context, &e.kind.to_string());
        match e.kind {
            DbErrorKind::Unavailable => ApiError::database_unavailable(),
            DbErrorKind::NotConfigured => {
                ApiError::misconfigured("The HYPERDRIVE binding is missing from wrangler.toml.")
            }
            _ => ApiError::internal(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_that_failed_is_where_the_error_was_made() {
        let e = DbError::missing_row();
        assert_eq!((e.location.file(), e.location.line()), (file!(), line!() - 1));
        assert!(e.to_string().ends_with(&format!("{}:{}", file!(), line!() - 2)));
    }

    #[test]
    fn only_a_lost_connection_is_worth_retrying() {
        let unavailable = ApiError::from(DbError::new(DbErrorKind::Unavailable));
        assert_eq!((unavailable.status, unavailable.code), (503, "database_unavailable"));
        for kind in [
            DbErrorKind::UniqueViolation,
            DbErrorKind::MissingRow,
            DbErrorKind::Failed { sqlstate: "42P01".into() },
            DbErrorKind::Client("x".into()),
        ] {
            let e = ApiError::from(DbError::new(kind));
            assert_eq!((e.status, e.code), (500, "internal"));
        }
        assert_eq!(ApiError::from(DbError::new(DbErrorKind::NotConfigured)).code, "server_misconfigured");
    }

    #[test]
    fn the_kind_is_told_apart_for_callers() {
        assert!(DbError::new(DbErrorKind::UniqueViolation).is_unique_violation());
        assert!(DbError::new(DbErrorKind::Unavailable).is_unavailable());
        assert!(!DbError::missing_row().is_unique_violation());
    }
}
