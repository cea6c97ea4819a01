//! Every wire type of the server (REST request and response bodies, socket events) and the
//! validation of input, one file per resource. `validate` is the leaf the others build on; every
//! public item is re-exported here, so `crate::protocol::X` names any of them.
//!
//! The OpenAPI document (`src/openapi.json`) is generated from these types by `src/openapi/`; the
//! integration tests check real responses against it.

/// Gives a wire enum stored in a text column its text both ways: `as_str` for SQL and messages,
/// `FromStr` and tokio-postgres's `FromSql` to read a row. Serde's renames stay the wire's
/// definition; a test per enum checks the two spell every value alike.
macro_rules! text_enum {
    ($name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("{other:?} is not a {}", stringify!($name))),
                }
            }
        }

        impl<'a> tokio_postgres::types::FromSql<'a> for $name {
            fn from_sql(
                ty: &tokio_postgres::types::Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                Ok(<&str as tokio_postgres::types::FromSql>::from_sql(ty, raw)?.parse::<$name>()?)
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <&str as tokio_postgres::types::FromSql>::accepts(ty)
            }
        }

        /// Written as its text, as it is read (a parameter of type TEXT: `db::sql`).
        impl tokio_postgres::types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &tokio_postgres::types::Type,
                out: &mut bytes::BytesMut,
            ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
                <&str as tokio_postgres::types::ToSql>::to_sql(&self.as_str(), ty, out)
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <&str as tokio_postgres::types::ToSql>::accepts(ty)
            }

            tokio_postgres::types::to_sql_checked!();
        }
    };
}

/// Asserts that serde spells every value of a `text_enum!` as its `as_str`.
#[cfg(test)]
macro_rules! assert_text_enum_matches_serde {
    ($name:ident) => {
        for value in $name::ALL {
            assert_eq!(serde_json::to_value(value).unwrap(), serde_json::json!(value.as_str()));
            assert_eq!(value.as_str().parse::<$name>().as_ref(), Ok(value));
        }
        assert!("nonsense".parse::<$name>().is_err());
        // Read from a row, an unknown text is an error the db layer reports (a 500), not a panic.
        let text = tokio_postgres::types::Type::TEXT;
        assert!(<$name as tokio_postgres::types::FromSql>::from_sql(&text, b"nonsense").is_err());
        for value in $name::ALL {
            let read = <$name as tokio_postgres::types::FromSql>::from_sql(&text, value.as_str().as_bytes());
            assert_eq!(read.ok().as_ref(), Some(value));
        }
    };
}

pub mod admin;
pub mod attachments;
pub mod auth;
pub mod conversations;
pub mod devices;
pub mod events;
pub mod links;
pub mod messages;
pub mod meta;
pub mod push;
pub mod users;
pub mod validate;

#[cfg(test)]
pub(crate) mod generated;
#[cfg(test)]
pub(crate) mod typescript;

#[cfg(test)]
mod schemas;

pub use admin::*;
pub use attachments::*;
pub use auth::*;
pub use conversations::*;
pub use devices::*;
pub use events::*;
pub use links::*;
pub use messages::*;
pub use meta::*;
pub use push::*;
pub use users::*;
pub use validate::*;
