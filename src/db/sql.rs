//! How every statement is sent: unnamed, with its parameters' types given, in one round trip.
//!
//! `Client::query(&str, …)` first prepares a *named* statement (Parse/Describe/Sync, an answer,
//! then Bind/Execute/Sync): two round trips, and a statement that lives on one server connection.
//! In production Hyperdrive pools connections in transaction mode, and so does the PgBouncer that
//! stands in for it locally (scripts/pgbouncer.mjs): outside a transaction, consecutive
//! messages of one client may reach different server connections, where a statement prepared on
//! another one does not exist (and a name may clash with another client's). So every statement
//! here goes as tokio-postgres's `query_typed`/`execute_typed` send it: Parse (unnamed, with the
//! parameter types), Bind, Describe, Execute and Sync in one message, answered at once — which
//! also halves the round trips of every query.
//!
//! The types come from the Rust values through [`Param`]: each parameter type this layer accepts
//! knows its PostgreSQL type ([`PgType`]), so a call reads as before:
//! `sql::query(client, SQL, &[&id, &name])`. Result columns must be built-in types, since
//! tokio-postgres looks an unknown type's OID up with a named statement (the schema has none).

use tokio_postgres::types::{Json, Timestamp, ToSql, Type};
use tokio_postgres::{Error, GenericClient, Row};
use uuid::Uuid;

/// The PostgreSQL type a Rust value is sent as.
pub trait PgType {
    const TYPE: Type;
}

/// A query parameter: a value and its PostgreSQL type. Implemented for every `ToSql` value whose
/// type is a [`PgType`]; `&dyn Param` becomes the `&dyn ToSql` tokio-postgres encodes.
pub trait Param: ToSql + Sync {
    fn pg_type(&self) -> Type;
}

impl<T: PgType + ToSql + Sync> Param for T {
    fn pg_type(&self) -> Type {
        T::TYPE
    }
}

macro_rules! pg_types {
    ($($rust:ty => $pg:ident),+ $(,)?) => {
        $(impl PgType for $rust {
            const TYPE: Type = Type::$pg;
        })+
    };
}

pg_types! {
    bool => BOOL,
    i32 => INT4,
    i64 => INT8,
    f64 => FLOAT8,
    str => TEXT,
    String => TEXT,
    Uuid => UUID,
    chrono::DateTime<chrono::Utc> => TIMESTAMPTZ,
    Timestamp<chrono::DateTime<chrono::Utc>> => TIMESTAMPTZ,
    serde_json::Value => JSONB,
    [u8] => BYTEA,
    Vec<u8> => BYTEA,
}

impl<T> PgType for Json<T> {
    const TYPE: Type = Type::JSONB;
}

/// A NULL is sent as the type of the value it stands for.
impl<T: PgType> PgType for Option<T> {
    const TYPE: Type = T::TYPE;
}

impl<T: PgType + ?Sized> PgType for &T {
    const TYPE: Type = T::TYPE;
}

/// A value that may be an element of an array parameter, with the array's type.
pub trait ArrayElement {
    const ARRAY: Type;
}

macro_rules! array_elements {
    ($($rust:ty => $pg:ident),+ $(,)?) => {
        $(impl ArrayElement for $rust {
            const ARRAY: Type = Type::$pg;
        })+
    };
}

array_elements! {
    bool => BOOL_ARRAY,
    i32 => INT4_ARRAY,
    i64 => INT8_ARRAY,
    String => TEXT_ARRAY,
    &str => TEXT_ARRAY,
    Uuid => UUID_ARRAY,
    // bytea[]: a Vec<u8> element is one bytea (a `[u8]` or `Vec<u8>` alone is a bytea, not an array).
    Vec<u8> => BYTEA_ARRAY,
    &[u8] => BYTEA_ARRAY,
}

/// An array with NULL elements is the array of the type they stand for.
impl<T: ArrayElement> ArrayElement for Option<T> {
    const ARRAY: Type = T::ARRAY;
}

impl<T: ArrayElement> PgType for [T] {
    const TYPE: Type = T::ARRAY;
}

impl<T: ArrayElement> PgType for Vec<T> {
    const TYPE: Type = T::ARRAY;
}

/// The protocol's text enums (`text_enum!`) are stored as their text.
macro_rules! text_enums {
    ($($name:ty),+ $(,)?) => {
        $(impl PgType for $name {
            const TYPE: Type = Type::TEXT;
        })+
    };
}

text_enums!(
    crate::protocol::ConversationKind,
    crate::protocol::MemberRole,
    crate::protocol::MessageKind,
    crate::protocol::MessageDeletion,
    crate::protocol::ReceiptKind,
    crate::protocol::GroupAdds,
);

/// The parameters as tokio-postgres's typed calls take them.
fn typed<'a>(params: &'a [&'a dyn Param]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params.iter().map(|&p| (p as &(dyn ToSql + Sync), p.pg_type())).collect()
}

/// Every row of a statement. `db` is a connection or a transaction.
pub async fn query(db: &impl GenericClient, sql: &str, params: &[&dyn Param]) -> Result<Vec<Row>, Error> {
    db.client().query_typed(sql, &typed(params)).await
}

/// The one row of a statement; an error if it returns none or several.
pub async fn query_one(db: &impl GenericClient, sql: &str, params: &[&dyn Param]) -> Result<Row, Error> {
    db.client().query_typed_one(sql, &typed(params)).await
}

/// The row of a statement that returns at most one; an error if it returns several.
pub async fn query_opt(db: &impl GenericClient, sql: &str, params: &[&dyn Param]) -> Result<Option<Row>, Error> {
    db.client().query_typed_opt(sql, &typed(params)).await
}

/// Runs a statement; returns how many rows it changed.
pub async fn execute(db: &impl GenericClient, sql: &str, params: &[&dyn Param]) -> Result<u64, Error> {
    db.client().execute_typed(sql, &typed(params)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ConversationKind, GroupAdds, MemberRole, MessageDeletion, MessageKind, ReceiptKind};
    use bytes::BytesMut;
    use chrono::{DateTime, Utc};

    /// Checks that `value` goes as `expected`, and that its `ToSql` encodes it as that type: a type
    /// it does not accept would fail every statement that sends it, at run time.
    fn goes_as(value: &dyn Param, expected: Type) {
        let ty = value.pg_type();
        assert_eq!(ty, expected);
        let mut out = BytesMut::new();
        if let Err(e) = value.to_sql_checked(&ty, &mut out) {
            panic!("a value sent as {ty} does not encode: {e}");
        }
    }

    #[test]
    fn each_parameter_goes_as_the_postgres_type_of_its_rust_type() {
        let id = Uuid::from_u128(1);
        let at: DateTime<Utc> = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let bytes: &[u8] = b"\x00\x01";
        let ids: &[Uuid] = &[id, id];
        goes_as(&true, Type::BOOL);
        goes_as(&7_i32, Type::INT4);
        goes_as(&7_i64, Type::INT8);
        goes_as(&1.5_f64, Type::FLOAT8);
        goes_as(&"text", Type::TEXT);
        goes_as(&String::from("text"), Type::TEXT);
        goes_as(&id, Type::UUID);
        goes_as(&at, Type::TIMESTAMPTZ);
        goes_as(&Timestamp::Value(at), Type::TIMESTAMPTZ);
        goes_as(&Timestamp::<DateTime<Utc>>::NegInfinity, Type::TIMESTAMPTZ);
        goes_as(&serde_json::json!({"a": 1}), Type::JSONB);
        goes_as(&Json(vec![1, 2]), Type::JSONB);
        goes_as(&bytes, Type::BYTEA);
        goes_as(&bytes.to_vec(), Type::BYTEA);
        goes_as(&ids, Type::UUID_ARRAY);
        goes_as(&ids.to_vec(), Type::UUID_ARRAY);
        goes_as(&vec![1_i32, 2], Type::INT4_ARRAY);
        goes_as(&vec![1_i64, 2], Type::INT8_ARRAY);
        goes_as(&vec![String::from("a")], Type::TEXT_ARRAY);
        goes_as(&vec![bytes.to_vec()], Type::BYTEA_ARRAY);
        goes_as(&vec![bytes], Type::BYTEA_ARRAY);
        goes_as(&vec![true, false], Type::BOOL_ARRAY);
        goes_as(&vec!["a", "b"], Type::TEXT_ARRAY);
    }

    #[test]
    fn a_text_enum_goes_as_text() {
        goes_as(&MemberRole::Admin, Type::TEXT);
        goes_as(&ConversationKind::Group, Type::TEXT);
        goes_as(&MessageKind::Commit, Type::TEXT);
        goes_as(&MessageDeletion::Expired, Type::TEXT);
        goes_as(&ReceiptKind::Read, Type::TEXT);
        goes_as(&GroupAdds::Contacts, Type::TEXT);
    }

    #[test]
    fn a_null_goes_as_the_type_of_what_it_stands_for() {
        let no_ids: Option<&[Uuid]> = None;
        goes_as(&None::<Uuid>, Type::UUID);
        goes_as(&None::<i64>, Type::INT8);
        goes_as(&None::<&str>, Type::TEXT);
        goes_as(&None::<Vec<u8>>, Type::BYTEA);
        goes_as(&None::<Timestamp<DateTime<Utc>>>, Type::TIMESTAMPTZ);
        goes_as(&no_ids, Type::UUID_ARRAY);
        goes_as(&vec![Some(Uuid::from_u128(1)), None], Type::UUID_ARRAY);
        goes_as(&Some(3_i32), Type::INT4);
    }

    #[test]
    fn a_text_enum_is_written_as_its_text() {
        let mut out = BytesMut::new();
        MemberRole::Owner.to_sql_checked(&Type::TEXT, &mut out).unwrap();
        assert_eq!(&out[..], b"owner");
    }
}
