//! Keyset pagination cursors. A cursor is the sort key of the last row a page returned, encoded
//! as an opaque URL-safe string; a cursor made by one listing is refused by another.

use crate::error::ApiError;
use crate::protocol::Page;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

/// Messages, newest first: the last row's (created_at, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// Users, alphabetically: the last row's (display_name, id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCursor {
    pub display_name: String,
    pub id: Uuid,
}

/// Audit entries, newest first: the last row's id (an identity column, so it orders by time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceCursor {
    pub id: i64,
}

/// Conversations, by id: the last row's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdCursor {
    pub id: Uuid,
}

const ID_TAG: u8 = b'c';
const MESSAGE_TAG: u8 = b'm';
const NAME_TAG: u8 = b'n';
const SEQUENCE_TAG: u8 = b's';

fn invalid() -> ApiError {
    ApiError::bad_request(
        "invalid_cursor",
        "The cursor is not one this listing gave out. Start again without a cursor.",
    )
}

fn decode_tagged(raw: &str, tag: u8) -> Result<Vec<u8>, ApiError> {
    let bytes = B64URL.decode(raw).map_err(|_| invalid())?;
    match bytes.split_first() {
        Some((first, rest)) if *first == tag => Ok(rest.to_vec()),
        _ => Err(invalid()),
    }
}

fn encode_tagged(tag: u8, body: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(1 + body.len());
    bytes.push(tag);
    bytes.extend_from_slice(body);
    B64URL.encode(bytes)
}

fn split_uuid(bytes: &[u8]) -> Result<(Uuid, &[u8]), ApiError> {
    if bytes.len() < 16 {
        return Err(invalid());
    }
    let (id, rest) = bytes.split_at(16);
    Ok((Uuid::from_slice(id).map_err(|_| invalid())?, rest))
}

/// What a listing's cursor is: the sort key of a page's last row, as an opaque string.
pub trait Cursor: Sized {
    fn encode(&self) -> String;
    fn decode(raw: &str) -> Result<Self, ApiError>;
}

impl Cursor for MessageCursor {
    fn encode(&self) -> String {
        let mut body = Vec::with_capacity(24);
        body.extend_from_slice(self.id.as_bytes());
        body.extend_from_slice(&self.created_at.timestamp_micros().to_be_bytes());
        encode_tagged(MESSAGE_TAG, &body)
    }

    fn decode(raw: &str) -> Result<Self, ApiError> {
        let bytes = decode_tagged(raw, MESSAGE_TAG)?;
        let (id, rest) = split_uuid(&bytes)?;
        let micros = i64::from_be_bytes(rest.try_into().map_err(|_| invalid())?);
        // A row's time is well inside what PostgreSQL can hold (4713 BC to 294276 AD); a time
        // outside would fail in the database instead of being refused here.
        let created_at = DateTime::from_timestamp_micros(micros)
            .filter(|t| (-4000..=200_000).contains(&chrono::Datelike::year(t)))
            .ok_or_else(invalid)?;
        Ok(Self { created_at, id })
    }
}

impl Cursor for NameCursor {
    fn encode(&self) -> String {
        let mut body = Vec::with_capacity(16 + self.display_name.len());
        body.extend_from_slice(self.id.as_bytes());
        body.extend_from_slice(self.display_name.as_bytes());
        encode_tagged(NAME_TAG, &body)
    }

    fn decode(raw: &str) -> Result<Self, ApiError> {
        let bytes = decode_tagged(raw, NAME_TAG)?;
        let (id, rest) = split_uuid(&bytes)?;
        let display_name = String::from_utf8(rest.to_vec()).ok().filter(|n| !n.contains('\0')).ok_or_else(invalid)?;
        Ok(Self { display_name, id })
    }
}

impl Cursor for SequenceCursor {
    fn encode(&self) -> String {
        encode_tagged(SEQUENCE_TAG, &self.id.to_be_bytes())
    }

    fn decode(raw: &str) -> Result<Self, ApiError> {
        let bytes = decode_tagged(raw, SEQUENCE_TAG)?;
        Ok(Self { id: i64::from_be_bytes(bytes.as_slice().try_into().map_err(|_| invalid())?) })
    }
}

impl Cursor for IdCursor {
    fn encode(&self) -> String {
        encode_tagged(ID_TAG, self.id.as_bytes())
    }

    fn decode(raw: &str) -> Result<Self, ApiError> {
        let bytes = decode_tagged(raw, ID_TAG)?;
        Ok(Self { id: Uuid::from_slice(&bytes).map_err(|_| invalid())? })
    }
}

/// One page a client asked for: it starts after the row `after` names (from the start without
/// one) and holds at most `limit` rows. Every keyset listing reads it, fetches `fetch()` rows and
/// makes its page with `page`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<C> {
    pub after: Option<C>,
    pub limit: i64,
}

impl<C: Cursor> PageRequest<C> {
    /// Reads `?limit=` and then `?cursor=`, refusing either when it is not valid.
    pub fn parse(cursor: Option<&str>, limit: Option<&str>) -> Result<Self, ApiError> {
        let limit = parse_limit(limit)?;
        Ok(Self { after: cursor.map(C::decode).transpose()?, limit })
    }

    /// The rows to ask the database for: one more than the page holds (see `into_page`).
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// The page made from the rows fetched; `cursor_of` gives a row's sort key.
    pub fn page<T>(&self, rows: Vec<T>, cursor_of: impl Fn(&T) -> C) -> Page<T> {
        into_page(rows, self.limit, |row| cursor_of(row).encode())
    }
}

/// Parses `?limit=`: absent means the default, anything outside 1..=100 is refused rather than
/// clamped so a client learns about its mistake.
pub fn parse_limit(raw: Option<&str>) -> Result<i64, ApiError> {
    let Some(raw) = raw else { return Ok(DEFAULT_LIMIT) };
    raw.parse::<i64>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
        ApiError::bad_request("invalid_limit", format!("limit must be a whole number from 1 to {MAX_LIMIT}."))
    })
}

/// Makes a page from `limit + 1` fetched rows: the extra row, if it came, only tells that another
/// page exists, which saves a count query. The cursor is the last returned row's sort key.
pub fn into_page<T>(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    let next_cursor = if has_more { rows.last().map(cursor_of) } else { None };
    Page { items: rows, next_cursor }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_cursors_round_trip_and_refuse_other_listings_cursors() {
        let cursor = IdCursor { id: Uuid::new_v4() };
        assert_eq!(IdCursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(IdCursor::decode(&SequenceCursor { id: 5 }.encode()).is_err());
        assert!(IdCursor::decode(&encode_tagged(ID_TAG, &[1, 2, 3])).is_err());
    }

    #[test]
    fn message_cursors_round_trip_to_the_microsecond() {
        let cursor = MessageCursor {
            created_at: DateTime::from_timestamp_micros(1_763_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(MessageCursor::decode(&cursor.encode()).unwrap(), cursor);
    }

    #[test]
    fn name_cursors_round_trip_any_unicode_name() {
        let cursor = NameCursor { display_name: "Zoë 🦀 O'Brien".into(), id: Uuid::new_v4() };
        assert_eq!(NameCursor::decode(&cursor.encode()).unwrap(), cursor);
    }

    #[test]
    fn cursors_the_database_could_not_hold_are_refused() {
        let far = MessageCursor { created_at: DateTime::from_timestamp_micros(i64::MIN / 2).unwrap(), id: Uuid::nil() };
        assert_eq!(MessageCursor::decode(&far.encode()).unwrap_err().code, "invalid_cursor");
        let nul = NameCursor { display_name: "A\0".into(), id: Uuid::nil() };
        assert_eq!(NameCursor::decode(&nul.encode()).unwrap_err().code, "invalid_cursor");
    }

    #[test]
    fn sequence_cursors_round_trip() {
        assert_eq!(SequenceCursor::decode(&SequenceCursor { id: 42 }.encode()).unwrap(), SequenceCursor { id: 42 });
    }

    #[test]
    fn a_cursor_from_another_listing_is_refused() {
        let users = NameCursor { display_name: "Ann".into(), id: Uuid::new_v4() }.encode();
        let err = MessageCursor::decode(&users).unwrap_err();
        assert_eq!((err.status, err.code), (400, "invalid_cursor"));
        assert!(SequenceCursor::decode(&users).is_err());
    }

    #[test]
    fn garbage_cursors_are_refused() {
        for raw in
            ["", "!!!", "bQ", "not base64 at all", &B64URL.encode([MESSAGE_TAG; 30]), &B64URL.encode([NAME_TAG, 1, 2])]
        {
            assert!(MessageCursor::decode(raw).is_err(), "{raw}");
            assert!(NameCursor::decode(raw).is_err(), "{raw}");
        }
        assert!(NameCursor::decode(&encode_tagged(NAME_TAG, &[[0u8; 16].as_slice(), &[0xff, 0xfe]].concat())).is_err());
    }

    #[test]
    fn limits_are_one_to_a_hundred() {
        assert_eq!(parse_limit(None).unwrap(), 50);
        assert_eq!(parse_limit(Some("1")).unwrap(), 1);
        assert_eq!(parse_limit(Some("100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", "", "1.5"] {
            assert_eq!(parse_limit(Some(bad)).unwrap_err().code, "invalid_limit", "{bad}");
        }
    }

    #[test]
    fn a_page_request_fetches_one_row_more_than_it_returns() {
        let request = PageRequest::<SequenceCursor>::parse(None, Some("2")).unwrap();
        assert_eq!((request.after, request.fetch()), (None, 3));
        let page = request.page(vec![9, 8, 7], |n| SequenceCursor { id: *n });
        assert_eq!(page.items, vec![9, 8]);
        assert_eq!(page.next_cursor.map(|c| SequenceCursor::decode(&c).unwrap()), Some(SequenceCursor { id: 8 }));
        assert!(request.page(vec![9, 8], |n| SequenceCursor { id: *n }).next_cursor.is_none());
    }

    #[test]
    fn a_page_request_checks_the_limit_before_the_cursor() {
        let err = PageRequest::<IdCursor>::parse(Some("garbage"), Some("0")).unwrap_err();
        assert_eq!(err.code, "invalid_limit");
        let err = PageRequest::<IdCursor>::parse(Some("garbage"), None).unwrap_err();
        assert_eq!(err.code, "invalid_cursor");
        let after = IdCursor { id: Uuid::new_v4() };
        let request = PageRequest::<IdCursor>::parse(Some(&after.encode()), None).unwrap();
        assert_eq!((request.after, request.limit), (Some(after), DEFAULT_LIMIT));
    }

    #[test]
    fn a_page_has_a_cursor_only_when_more_rows_exist() {
        let page = into_page(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!((page.items, page.next_cursor), (vec![1, 2], Some("2".to_string())));
        let last = into_page(vec![1, 2], 2, |n| n.to_string());
        assert_eq!((last.items, last.next_cursor), (vec![1, 2], None));
        assert!(into_page(Vec::<i32>::new(), 2, |n| n.to_string()).next_cursor.is_none());
    }
}
