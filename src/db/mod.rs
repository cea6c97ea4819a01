//! PostgreSQL access. All SQL lives in this module tree, one file per table; the rest of the
//! server sees typed functions that return rows (plain structs of a table's columns) and fail
//! with `DbError`. Turning rows into wire views is the views module's job, and a `DbError` becomes
//! the client's error in one place (`From<DbError> for ApiError`). Every statement goes through
//! `sql` (unnamed, typed, one round trip: what a pooler in transaction mode allows). Only opening
//! the connection (a Hyperdrive socket) is wasm-only.

pub mod admin;
pub mod attachments;
pub mod commits;
pub mod conversations;
pub mod departures;
pub mod devices;
mod error;
pub mod links;
pub mod login_networks;
pub mod members;
pub mod messages;
pub mod push;
pub mod receipts;
pub mod sessions;
#[cfg(target_arch = "wasm32")]
mod socket;
pub mod sql;
pub mod throttles;
pub mod users;

pub use error::{DbError, DbErrorKind};
pub use tokio_postgres::Client;

pub type DbResult<T> = Result<T, DbError>;

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
pub async fn connect(env: &worker::Env) -> DbResult<Client> {
    use crate::error::log_error;
    let hyperdrive = env.hyperdrive("HYPERDRIVE").map_err(|_| DbError::new(DbErrorKind::NotConfigured))?;
    // Hyperdrive's own socket, wrapped in our stream adapter rather than workers-rs's (socket.rs).
    let raw: &worker::worker_sys::Hyperdrive = wasm_bindgen::JsCast::unchecked_ref(hyperdrive.as_ref());
    let socket = raw.connect().and_then(socket::StreamSocket::new).map_err(|e| {
        log_error("db.connect", &format!("socket: {e:?}"));
        DbError::new(DbErrorKind::Unavailable)
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
        DbError::new(DbErrorKind::Unavailable)
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
