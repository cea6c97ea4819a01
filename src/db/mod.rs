//! PostgreSQL access. All SQL lives in this module tree, one file per table group; the rest of
//! the server sees typed functions. Only opening the connection (a Hyperdrive socket) is wasm-only.

pub mod admin;
pub mod attempts;
pub mod conversations;
pub mod devices;
pub mod messages;
pub mod sessions;
pub mod users;

use crate::error::{log_error, ApiError};
use tokio_postgres::error::SqlState;

pub use tokio_postgres::Client;

/// Maps a driver error to the API error: a lost connection is a 503 the client may retry, anything
/// else a 500. The SQLSTATE goes to the log; query parameters (which may hold secrets) never do.
pub fn db_error(context: &'static str) -> impl Fn(tokio_postgres::Error) -> ApiError {
    move |e| {
        if e.is_closed() {
            log_error(context, "database connection closed");
            return ApiError::database_unavailable();
        }
        let code = e.code().map(|c| c.code().to_string()).unwrap_or_else(|| "none".into());
        log_error(context, &format!("database error (SQLSTATE {code})"));
        ApiError::internal()
    }
}

pub fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Escapes `%`, `_` and `\` so user search text matches literally inside a LIKE pattern.
pub fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(target_arch = "wasm32")]
pub async fn connect(env: &worker::Env) -> Result<Client, ApiError> {
    let hyperdrive = env
        .hyperdrive("HYPERDRIVE")
        .map_err(|_| ApiError::misconfigured("The HYPERDRIVE binding is missing from wrangler.toml."))?;
    let socket = hyperdrive.connect().map_err(|e| {
        log_error("db.connect", &format!("socket: {e}"));
        ApiError::database_unavailable()
    })?;
    let mut config = tokio_postgres::Config::new();
    config
        .user(hyperdrive.user())
        .password(hyperdrive.password())
        .dbname(hyperdrive.database())
        .host(hyperdrive.host())
        .port(hyperdrive.port())
        // Lets an operator tell this service's sessions apart in pg_stat_activity.
        .application_name("e2e-chat");
    let (client, connection) = config.connect_raw(socket, tokio_postgres::NoTls).await.map_err(|e| {
        log_error("db.connect", &format!("handshake: {}", e.code().map(|c| c.code()).unwrap_or("no SQLSTATE")));
        ApiError::database_unavailable()
    })?;
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = connection.await {
            log_error("db.connection", &format!("ended: {}", e.code().map(|c| c.code()).unwrap_or("no SQLSTATE")));
        }
    });
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::like_literal;

    #[test]
    fn search_text_matches_literally() {
        assert_eq!(like_literal("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(like_literal("Ada"), "Ada");
    }
}
