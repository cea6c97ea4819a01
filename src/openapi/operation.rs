//! What the document says about one REST operation, and the parameters and answers several share.

use super::{wire, WireType};
use crate::cursor::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::db::throttles::PUSH_SUBSCRIPTION_CHANGES;
use crate::protocol::{ErrorBody, PHONE_PATTERN, UUID_PATTERN};
use crate::router::Endpoint;
use schemars::{json_schema, Schema, SchemaGenerator};
use ts_rs::TS;
use uuid::Uuid;

pub struct Operation {
    pub endpoint: Endpoint,
    pub id: &'static str,
    pub summary: &'static str,
    pub description: Option<String>,
    pub auth: Auth,
    pub parameters: Vec<Parameter>,
    pub request: Option<RequestBody>,
    /// The answers particular to this operation; see `Operation::all_responses`.
    pub responses: Vec<Response>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Public,
    /// `Authorization: Bearer <token>`.
    Bearer,
}

#[derive(Clone, Copy)]
pub enum Location {
    /// Always required.
    Path,
    /// Always optional.
    Query,
}

#[derive(Clone)]
pub struct Parameter {
    pub name: &'static str,
    pub location: Location,
    pub ty: WireType,
    pub description: Option<&'static str>,
}

pub struct RequestBody {
    pub required: bool,
    pub ty: WireType,
    /// `application/json`, or `application/octet-stream` for raw bytes (an attachment's part).
    pub media_type: &'static str,
}

pub const JSON: &str = "application/json";
pub const OCTET_STREAM: &str = "application/octet-stream";

#[derive(Clone)]
pub struct Response {
    pub status: u16,
    pub description: String,
    /// None for answers without a body (204, 101).
    pub body: Option<WireType>,
    /// What the body is: JSON, or bytes (`OCTET_STREAM`).
    pub media_type: &'static str,
}

impl Operation {
    fn new(endpoint: Endpoint, id: &'static str, summary: &'static str, auth: Auth) -> Self {
        Operation {
            endpoint,
            id,
            summary,
            description: None,
            auth,
            parameters: vec![],
            request: None,
            responses: vec![],
        }
    }

    /// An operation anyone may call; it lists every answer it gives.
    pub fn public(endpoint: Endpoint, id: &'static str, summary: &'static str) -> Self {
        Self::new(endpoint, id, summary, Auth::Public)
    }

    /// An operation for a signed-in caller. Besides its own answers it gives the ones every such
    /// operation gives (`signed_in_answers`).
    pub fn signed_in(endpoint: Endpoint, id: &'static str, summary: &'static str) -> Self {
        Self::new(endpoint, id, summary, Auth::Bearer)
    }

    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    pub fn params(mut self, parameters: impl IntoIterator<Item = Parameter>) -> Self {
        self.parameters.extend(parameters);
        self
    }

    pub fn body(mut self, ty: WireType) -> Self {
        self.request = Some(RequestBody { required: true, ty, media_type: JSON });
        self
    }

    pub fn optional_body(mut self, ty: WireType) -> Self {
        self.request = Some(RequestBody { required: false, ty, media_type: JSON });
        self
    }

    /// A body of raw bytes rather than JSON.
    pub fn bytes_body(mut self) -> Self {
        self.request = Some(RequestBody { required: true, ty: bytes(), media_type: OCTET_STREAM });
        self
    }

    pub fn answers(mut self, responses: impl IntoIterator<Item = Response>) -> Self {
        self.responses.extend(responses);
        self
    }

    /// Every answer of the operation under `method`: its own; those any request may get before a
    /// handler runs (`before_any_handler`), merged into its own where it has the status already;
    /// and, signed in, `signed_in_answers`.
    pub fn all_responses(&self, method: &str) -> Vec<Response> {
        let mut all = self.responses.clone();
        for shared in before_any_handler(method) {
            match all.iter_mut().find(|r| r.status == shared.status) {
                // Every 400 names its codes: the operation's own, then the ones any request has.
                Some(own) if own.status == 400 => {
                    let own_codes = own.description.trim_end_matches('.');
                    own.description = format!("{own_codes}. As for any request: {}", shared.description)
                }
                // The operation's own 413 or 415 says the same, or more (`too_large`).
                Some(_) => {}
                None => all.push(shared),
            }
        }
        if self.auth == Auth::Bearer {
            // An operation's own 503 (`storage_unavailable` too) names the shared one's code as well.
            for shared in signed_in_answers() {
                if !all.iter().any(|r| r.status == shared.status) {
                    all.push(shared);
                }
            }
        }
        all
    }
}

// ---- parameters -----------------------------------------------------------------------------

/// An id as the server writes and reads it in a URL (`parse_uuid`): hyphenated. `format: uuid`
/// alone is not checked by every validator, and says nothing of the form.
fn uuid_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "format": "uuid", "pattern": UUID_PATTERN })
}

pub fn uuid() -> WireType {
    WireType { schema: uuid_schema, ts_name: <Uuid as TS>::name }
}

pub fn uuid_in_path(name: &'static str) -> Parameter {
    Parameter { name, location: Location::Path, ty: uuid(), description: None }
}

fn phone_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": PHONE_PATTERN })
}

/// A phone number in the path: E.164, as `validate_phone` reads it.
pub fn phone_in_path(name: &'static str) -> Parameter {
    Parameter {
        name,
        location: Location::Path,
        ty: WireType { schema: phone_schema, ts_name: <String as TS>::name },
        description: Some("E.164, e.g. +14155550123 (the + may be sent as %2B)."),
    }
}

pub fn in_query(name: &'static str, ty: WireType, description: Option<&'static str>) -> Parameter {
    Parameter { name, location: Location::Query, ty, description }
}

fn own_device_schema(_: &mut SchemaGenerator) -> Schema {
    let uuid = UUID_PATTERN.trim_start_matches('^').trim_end_matches('$');
    json_schema!({ "type": "string", "pattern": format!("^(me|{uuid})$") })
}

/// The `:id` of the key-package routes, which also take `me`.
pub fn own_device() -> Parameter {
    Parameter {
        name: "id",
        location: Location::Path,
        ty: WireType { schema: own_device_schema, ts_name: <String as TS>::name },
        description: Some("A device id of the caller's, or `me` for the device this session acts as."),
    }
}

fn limit_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT })
}

/// A cursor's form (`src/cursor.rs`): unpadded base64url, never empty. Only one the listing gave
/// out is read; no schema can say which those are.
fn cursor_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9_-]+$" })
}

/// `?cursor=&limit=`, which every listing takes.
pub fn page() -> Vec<Parameter> {
    let cursor = in_query(
        "cursor",
        WireType { schema: cursor_schema, ts_name: <String as TS>::name },
        Some("Opaque cursor from the previous page's `nextCursor`; any other is 400 `invalid_cursor`."),
    );
    let limit = WireType { schema: limit_schema, ts_name: <u32 as TS>::name };
    vec![cursor, in_query("limit", limit, None)]
}

/// The user listings' search text; `api/users.rs` refuses a longer one.
fn search_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "maxLength": 64 })
}

/// `?cursor=&limit=&q=`, which the user listings take.
pub fn searched_page() -> Vec<Parameter> {
    let description = "Part of the display name (case-insensitive) or the start of the phone number.";
    let q = WireType { schema: search_schema, ts_name: <String as TS>::name };
    [page(), vec![in_query("q", q, Some(description))]].concat()
}

// ---- answers --------------------------------------------------------------------------------

pub fn ok(status: u16, description: impl Into<String>, body: WireType) -> Response {
    Response { status, description: description.into(), body: Some(body), media_type: JSON }
}

/// A success whose body is raw bytes.
pub fn ok_bytes(status: u16, description: impl Into<String>) -> Response {
    Response { status, description: description.into(), body: Some(bytes()), media_type: OCTET_STREAM }
}

pub fn no_content(status: u16, description: &str) -> Response {
    Response { status, description: description.into(), body: None, media_type: JSON }
}

/// Every error has the same body, `ErrorBody`; the description names its codes.
pub fn error(status: u16, description: impl Into<String>) -> Response {
    Response { status, description: description.into(), body: Some(wire::<ErrorBody>()), media_type: JSON }
}

fn bytes_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "format": "binary" })
}

fn bytes_ts_name(_: &ts_rs::Config) -> String {
    "Uint8Array".to_string()
}

/// Raw bytes: an attachment's ciphertext, which the SDK sends and reads as a `Uint8Array`.
pub fn bytes() -> WireType {
    WireType { schema: bytes_schema, ts_name: bytes_ts_name }
}

/// What any request may be answered before its handler runs (`http.rs`, `router.rs`): text with
/// NUL in the path, query or body (PostgreSQL text cannot hold it) or a path that is not
/// percent-encoded UTF-8 is 400, whatever the route; a POST or DELETE body over the limit is 413
/// and one that is not JSON 415, whether the operation reads a body or not.
fn before_any_handler(method: &str) -> Vec<Response> {
    let mut answers = vec![error(
        400,
        "`invalid_text`: the path, the query or the body holds the NUL character (U+0000), which no text \
         can store; `invalid_path`: the path is not percent-encoded UTF-8.",
    )];
    if method == "POST" || method == "DELETE" {
        answers.push(body_too_large());
        answers.push(error(415, "`unsupported_media_type`: the body is not JSON (Content-Type: application/json)."));
    }
    answers
}

/// What a signed-in operation answers when the token is not good, when something fails inside,
/// and when the database does not answer.
fn signed_in_answers() -> Vec<Response> {
    vec![
        error(401, "Missing, malformed, forged, expired or revoked token (codes `unauthorized`, `token_revoked`)."),
        error(500, "`internal`, or `server_misconfigured` (e.g. JWT_SECRET missing or too short)."),
        database_unavailable(),
    ]
}

pub fn database_unavailable() -> Response {
    error(503, "`database_unavailable`: PostgreSQL did not answer; retry later.")
}

pub fn invalid_input() -> Response {
    error(
        400,
        "Invalid input (codes such as `invalid_json`, `invalid_field`, `invalid_id`, `invalid_cursor`, \
         `invalid_limit`).",
    )
}

pub fn invalid_id() -> Response {
    error(400, "`invalid_id`")
}

pub fn forbidden() -> Response {
    error(403, "`forbidden`")
}

pub fn not_a_member() -> Response {
    error(403, "`not_a_member`")
}

/// The key-package routes, for a device id that is not the one the session acts as.
pub fn other_device() -> Response {
    error(
        403,
        "This session acts as another of the caller's devices (code `forbidden`), or has not proved it runs \
         on this one (`device_not_bound`: bind it with `POST /devices/{id}/bind`); a session manages its own \
         device's packages.",
    )
}

pub fn not_found() -> Response {
    error(404, "`not_found`")
}

pub fn no_such_device() -> Response {
    error(404, "`not_found`: the caller has no device with this id.")
}

pub fn body_too_large() -> Response {
    error(413, "`payload_too_large`")
}

/// The 429 of an action that takes the account's password again (removing a device, a reset).
pub fn password_reentry_limited() -> Response {
    error(
        429,
        "`too_many_attempts`: 10 wrong passwords in this session (each session, the one a token names, has its \
         own count), then waits from 15 seconds doubling to 5 minutes (`Retry-After`).",
    )
}

/// The 429 of a change of this device's push subscription (subscribing; unsubscribing never is).
pub fn push_subscription_changes() -> Response {
    error(
        429,
        format!(
            "`too_many_subscription_changes`: this device's valid subscribe requests reached {} \
             within an hour of the first; nothing is changed, and `Retry-After` says when to try again.",
            PUSH_SUBSCRIPTION_CHANGES.limit
        ),
    )
}

pub fn not_json() -> Response {
    error(415, "`unsupported_media_type`")
}
