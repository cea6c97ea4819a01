//! Routing decisions, CORS and security headers: pure logic, unit-tested natively. The wasm glue
//! in `http.rs` applies them to real requests.

use crate::config::Config;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Health,
    OpenApi,
    Register,
    Login,
    Logout,
    LogoutAll,
    Me,
    UpdateMe,
    ListUsers,
    GetUser,
    CreateGroup,
    ListConversations,
    GetConversation,
    UpdateConversation,
    ListMessages,
    DeleteMessage,
    LeaveGroup,
    RegisterDevice,
    ListUserDevices,
    LookupDevices,
    DeleteDevice,
    BindDevice,
    RequestLink,
    ListPendingLinks,
    LinkStatus,
    ApproveLink,
    DeleteLink,
    ResetDevices,
    UploadKeyPackages,
    KeyPackageCount,
    ClaimKeyPackages,
    AdminListUsers,
    AdminDeleteUser,
    AdminAudit,
    AdminStats,
    CreateAttachment,
    UploadAttachmentPart,
    CompleteAttachment,
    DownloadAttachment,
    CancelAttachment,
    PushServerKey,
    SubscribePush,
    UnsubscribePush,
    GetNotifications,
    SetNotifications,
    WebSocket,
}

/// The whole REST surface, one row per operation. The OpenAPI document is checked against it.
pub const ROUTES: &[(&str, &str, Endpoint)] = &[
    ("GET", "/health", Endpoint::Health),
    ("GET", "/openapi.json", Endpoint::OpenApi),
    ("POST", "/auth/register", Endpoint::Register),
    ("POST", "/auth/login", Endpoint::Login),
    ("POST", "/auth/logout", Endpoint::Logout),
    ("POST", "/auth/logout-all", Endpoint::LogoutAll),
    ("GET", "/auth/me", Endpoint::Me),
    ("PATCH", "/auth/me", Endpoint::UpdateMe),
    ("GET", "/users", Endpoint::ListUsers),
    ("GET", "/users/:phone", Endpoint::GetUser),
    ("POST", "/conversations", Endpoint::CreateGroup),
    ("GET", "/conversations", Endpoint::ListConversations),
    ("GET", "/conversations/:peerId", Endpoint::GetConversation),
    ("PATCH", "/conversations/:peerId", Endpoint::UpdateConversation),
    ("GET", "/conversations/:peerId/messages", Endpoint::ListMessages),
    ("DELETE", "/conversations/:id/messages/:messageId", Endpoint::DeleteMessage),
    ("POST", "/conversations/:id/leave", Endpoint::LeaveGroup),
    ("POST", "/devices", Endpoint::RegisterDevice),
    ("GET", "/users/:id/devices", Endpoint::ListUserDevices),
    ("POST", "/devices/lookup", Endpoint::LookupDevices),
    ("POST", "/devices/reset", Endpoint::ResetDevices),
    ("POST", "/devices/links", Endpoint::RequestLink),
    ("GET", "/devices/links", Endpoint::ListPendingLinks),
    ("GET", "/devices/links/:id", Endpoint::LinkStatus),
    ("DELETE", "/devices/links/:id", Endpoint::DeleteLink),
    ("POST", "/devices/links/:id/approve", Endpoint::ApproveLink),
    ("DELETE", "/devices/:id", Endpoint::DeleteDevice),
    ("POST", "/devices/:id/bind", Endpoint::BindDevice),
    ("POST", "/devices/:id/key-packages", Endpoint::UploadKeyPackages),
    ("GET", "/devices/:id/key-packages/count", Endpoint::KeyPackageCount),
    ("POST", "/users/:id/key-packages/claim", Endpoint::ClaimKeyPackages),
    ("GET", "/admin/users", Endpoint::AdminListUsers),
    ("DELETE", "/admin/users/:id", Endpoint::AdminDeleteUser),
    ("GET", "/admin/audit", Endpoint::AdminAudit),
    ("GET", "/admin/stats", Endpoint::AdminStats),
    ("POST", "/conversations/:id/attachments", Endpoint::CreateAttachment),
    ("PUT", "/attachments/:id/parts/:n", Endpoint::UploadAttachmentPart),
    ("POST", "/attachments/:id/complete", Endpoint::CompleteAttachment),
    ("GET", "/attachments/:id", Endpoint::DownloadAttachment),
    ("DELETE", "/attachments/:id", Endpoint::CancelAttachment),
    ("GET", "/push/vapid-public-key", Endpoint::PushServerKey),
    ("POST", "/devices/me/push", Endpoint::SubscribePush),
    ("DELETE", "/devices/me/push", Endpoint::UnsubscribePush),
    ("GET", "/conversations/:id/notifications", Endpoint::GetNotifications),
    ("PUT", "/conversations/:id/notifications", Endpoint::SetNotifications),
    ("GET", "/ws", Endpoint::WebSocket),
];

#[derive(Debug, PartialEq, Eq)]
pub struct Matched {
    pub endpoint: Endpoint,
    /// The route's template, like `/users/:phone`: what the log names instead of the path, which
    /// may hold a phone number.
    pub template: &'static str,
    /// The `:param` segments of the template, percent-decoded, in order.
    pub params: Vec<String>,
}

pub enum Resolution {
    Route(Matched),
    /// An OPTIONS request (a CORS preflight) for a path that exists; `allow` is what the path takes.
    Preflight {
        allow: String,
    },
    /// The path exists but does not take this method: a 405 whose `Allow` header names the
    /// methods it does take (RFC 9110 §15.5.6 requires the header).
    MethodNotAllowed {
        error: ApiError,
        allow: String,
    },
}

/// Decides what answers `method path`. Methods are matched exactly, as RFC 9110 §9.1 says they
/// are case-sensitive: the runtime hands over the method the client sent (the Fetch standard
/// upper-cases only GET, HEAD, POST, PUT, DELETE and OPTIONS on the way in), never a guess.
///
/// Every method a path does not take is 405 with `Allow`, whether HTTP defines it (PUT, PATCH,
/// HEAD), a draft or extension does (QUERY, PROPFIND) or nobody does. RFC 9110 lets a server
/// answer 501 for a method it does not recognize, but this router knows every method each path
/// takes, and 405 tells the client which ones: a 501 could not. HEAD is refused the same way: this
/// is an API, not a general-purpose server (RFC 9110 §9.1), its clients never send HEAD, and
/// answering it would run the GET (some GETs create the resource they name) only to drop its
/// body; the `Allow` names GET instead.
pub fn resolve(method: &str, path: &str) -> Result<Resolution, ApiError> {
    let segments = split_path(path)?;
    let matching: Vec<(&str, &'static str, Endpoint, Vec<String>)> = ROUTES
        .iter()
        .filter_map(|&(route_method, template, endpoint)| {
            match_template(template, &segments).map(|params| (route_method, template, endpoint, params))
        })
        .collect();
    // A path is the most specific template it fits: `/devices/links` is the link requests' path,
    // not a device whose id is "links", so DELETE there is 405 rather than a device's invalid id.
    let Some(most_specific) = matching.iter().map(|(_, template, _, _)| literal_segments(template)).max() else {
        return Err(ApiError::not_found(format!("There is no API route {path}.")));
    };
    let mut allowed: Vec<&str> = Vec::new();
    for (route_method, template, endpoint, params) in matching {
        if literal_segments(template) != most_specific {
            continue;
        }
        if method == route_method {
            return Ok(Resolution::Route(Matched { endpoint, template, params }));
        }
        if !allowed.contains(&route_method) {
            allowed.push(route_method);
        }
    }
    // Every path that exists answers a preflight (CORS), so OPTIONS is always allowed.
    allowed.push("OPTIONS");
    let allow = allowed.join(", ");
    if method == "OPTIONS" {
        return Ok(Resolution::Preflight { allow });
    }
    let error = ApiError::new(
        405,
        "method_not_allowed",
        format!("{path} does not accept {}; it accepts {allow}.", printable_method(method)),
    );
    Ok(Resolution::MethodNotAllowed { error, allow })
}

/// Which segments of a template are literal, left to right: compared as a whole, a literal
/// segment outranks a parameter at the first place two templates differ.
fn literal_segments(template: &str) -> Vec<bool> {
    template.split('/').filter(|s| !s.is_empty()).map(|s| !s.starts_with(':')).collect()
}

/// The method as a message may quote it: an HTTP token is printable ASCII already, so this only
/// guards the message against whatever a runtime might let through.
fn printable_method(method: &str) -> String {
    let shown: String = method.chars().filter(|c| c.is_ascii_graphic()).take(32).collect();
    if shown.is_empty() {
        "this method".to_string()
    } else {
        shown
    }
}

fn split_path(path: &str) -> Result<Vec<String>, ApiError> {
    path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect()
}

fn match_template(template: &str, segments: &[String]) -> Option<Vec<String>> {
    let parts: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        if part.starts_with(':') {
            params.push(segment.clone());
        } else if part != segment {
            return None;
        }
    }
    Some(params)
}

fn percent_decode(segment: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad_request("invalid_path", "The URL path is not validly percent-encoded.");
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return Err(crate::protocol::nul_refused());
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Headers every response carries. The API serves JSON only, so the CSP forbids everything.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
];

const ALLOWED_HEADERS: &str = "Authorization, Content-Type";

/// CORS headers for a response. Only origins on the allow-list are named; others get nothing, so
/// the browser withholds the response from their scripts. Tokens travel in the Authorization
/// header, never in cookies, so credentials mode is never needed.
/// `preflight`: for a preflight, the methods its path takes (the `Allow` of a 405 there), which
/// are the methods another origin may use on it.
pub fn cors_headers(config: &Config, origin: Option<&str>, preflight: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = vec![("Vary", "Origin".to_string())];
    let Some(origin) = origin.filter(|o| config.is_origin_allowed(o)) else { return headers };
    headers.push(("Access-Control-Allow-Origin", origin.to_string()));
    // A web app on another origin reads how long to wait after a 429.
    headers.push(("Access-Control-Expose-Headers", "Retry-After, X-Request-Id".to_string()));
    if let Some(methods) = preflight {
        headers.push(("Access-Control-Allow-Methods", methods.to_string()));
        headers.push(("Access-Control-Allow-Headers", ALLOWED_HEADERS.to_string()));
        headers.push(("Access-Control-Max-Age", "600".to_string()));
    }
    headers
}

/// A preflight from an origin that is not allowed is refused outright, so the reason is visible.
pub fn check_preflight(config: &Config, origin: Option<&str>) -> Result<(), ApiError> {
    match origin {
        Some(o) if config.is_origin_allowed(o) => Ok(()),
        _ => Err(ApiError::forbidden("This origin is not allowed to call the API (see ALLOWED_ORIGINS).")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Matched {
        match resolve(method, path) {
            Ok(Resolution::Route(m)) => m,
            Ok(Resolution::Preflight { .. }) => panic!("{method} {path} resolved to a preflight"),
            Ok(Resolution::MethodNotAllowed { error, .. }) => panic!("{method} {path}: {error}"),
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    #[test]
    fn resolves_every_route_with_its_params() {
        assert_eq!(route("GET", "/health").endpoint, Endpoint::Health);
        assert_eq!(route("POST", "/auth/register").endpoint, Endpoint::Register);
        assert_eq!(route("GET", "/auth/me").endpoint, Endpoint::Me);
        let m = route("GET", "/conversations/abc/messages");
        assert_eq!((m.endpoint, m.params), (Endpoint::ListMessages, vec!["abc".to_string()]));
        assert_eq!(route("DELETE", "/admin/users/xyz").params, vec!["xyz"]);
        assert_eq!(route("GET", "/users/").endpoint, Endpoint::ListUsers);
        assert_eq!(route("GET", "/users/%2B14155550123").template, "/users/:phone");
        assert_eq!(route("GET", "/admin/stats").endpoint, Endpoint::AdminStats);
        let m = route("PUT", "/attachments/abc/parts/2");
        assert_eq!((m.endpoint, m.params), (Endpoint::UploadAttachmentPart, vec!["abc".to_string(), "2".to_string()]));
        assert_eq!(route("POST", "/conversations/abc/attachments").endpoint, Endpoint::CreateAttachment);
        assert_eq!(refused("PATCH", "/attachments/abc").1, "GET, DELETE, OPTIONS");
        assert_eq!(route("POST", "/devices/me/push").endpoint, Endpoint::SubscribePush);
        assert_eq!(refused("GET", "/devices/me/push").1, "POST, DELETE, OPTIONS");
        let m = route("PUT", "/conversations/abc/notifications");
        assert_eq!((m.endpoint, m.params), (Endpoint::SetNotifications, vec!["abc".to_string()]));
    }

    /// The `Allow` of a 405, or a panic naming what was resolved instead.
    fn refused(method: &str, path: &str) -> (ApiError, String) {
        match resolve(method, path) {
            Ok(Resolution::MethodNotAllowed { error, allow }) => (error, allow),
            Ok(Resolution::Route(m)) => panic!("{method} {path} was routed to {:?}", m.endpoint),
            Ok(Resolution::Preflight { .. }) => panic!("{method} {path} resolved to a preflight"),
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    #[test]
    fn methods_are_matched_exactly_and_never_taken_for_get() {
        // workers-rs reads any method it has no variant for as GET; the router gets the real one.
        for method in ["QUERY", "PROPFIND", "HEAD", "PUT", "PATCH", "TRACE", "get", "Get", "BREW", ""] {
            let (error, allow) = refused(method, "/admin/stats");
            assert_eq!((error.status, error.code), (405, "method_not_allowed"), "{method}");
            assert_eq!(allow, "GET, OPTIONS", "{method}");
        }
        let (error, _) = refused("QUERY", "/users");
        assert_eq!(error.message, "/users does not accept QUERY; it accepts GET, OPTIONS.");
        let (error, _) = refused("X\u{1b}[31m", "/users");
        assert!(error.message.contains("does not accept X[31m;"), "{}", error.message);
    }

    #[test]
    fn a_405_allows_every_method_of_its_path_and_options() {
        assert_eq!(refused("PUT", "/conversations").1, "POST, GET, OPTIONS");
        assert_eq!(refused("GET", "/auth/login").1, "POST, OPTIONS");
        assert_eq!(refused("POST", "/devices/links/6f1c1f9e-3b1a-4c55-9a39-8d2f0b1c2d3e").1, "GET, DELETE, OPTIONS");
        assert_eq!(refused("GET", "/admin/users/x").1, "DELETE, OPTIONS");
        match resolve("OPTIONS", "/devices/links") {
            Ok(Resolution::Preflight { allow }) => assert_eq!(allow, "POST, GET, OPTIONS"),
            _ => panic!("OPTIONS /devices/links is a preflight"),
        }
    }

    #[test]
    fn a_literal_segment_outranks_a_parameter() {
        // `/devices/links` is not a device whose id is "links", nor `/devices/reset` one named "reset".
        assert_eq!(refused("DELETE", "/devices/links").1, "POST, GET, OPTIONS");
        assert_eq!(refused("DELETE", "/devices/reset").1, "POST, OPTIONS");
        assert_eq!(refused("POST", "/devices/links/bind").1, "GET, DELETE, OPTIONS");
        assert_eq!(route("DELETE", "/devices/links/abc").endpoint, Endpoint::DeleteLink);
        assert_eq!(route("DELETE", "/devices/abc").endpoint, Endpoint::DeleteDevice);
        assert_eq!(route("POST", "/devices/abc/bind").endpoint, Endpoint::BindDevice);
    }

    #[test]
    fn decodes_percent_encoded_params() {
        assert_eq!(route("GET", "/users/%2B14155550123").params, vec!["+14155550123"]);
        assert_eq!(route("GET", "/users/+14155550123").params, vec!["+14155550123"]);
        assert_eq!(resolve("GET", "/users/%zz").err().unwrap().code, "invalid_path");
        assert_eq!(resolve("GET", "/users/%ff").err().unwrap().code, "invalid_path");
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405() {
        assert_eq!(resolve("GET", "/nope").err().unwrap().status, 404);
        assert_eq!(resolve("GET", "/users/a/b/c").err().unwrap().status, 404);
        assert_eq!(refused("PUT", "/users").0.status, 405);
        assert_eq!(refused("GET", "/auth/login").0.status, 405);
        assert!(matches!(resolve("OPTIONS", "/auth/login"), Ok(Resolution::Preflight { .. })));
        assert_eq!(resolve("OPTIONS", "/nope").err().unwrap().status, 404);
        assert_eq!(resolve("QUERY", "/nope").err().unwrap().status, 404);
    }

    #[test]
    fn every_route_is_reachable() {
        for (method, template, endpoint) in ROUTES {
            let path = template.replace(":phone", "+14155550123").replace(":peerId", "p").replace(":id", "i");
            assert_eq!(route(method, &path).endpoint, *endpoint, "{method} {template}");
        }
    }

    #[test]
    fn the_openapi_document_lists_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(include_str!("openapi.json")).unwrap();
        let mut documented: Vec<String> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object().unwrap().keys().map(move |m| format!("{} {path}", m.to_uppercase()))
            })
            .collect();
        let mut routed: Vec<String> = ROUTES
            .iter()
            .map(|(method, template, _)| {
                let path: Vec<String> = template
                    .split('/')
                    .map(|s| s.strip_prefix(':').map_or(s.to_string(), |name| format!("{{{name}}}")))
                    .collect();
                format!("{method} {}", path.join("/"))
            })
            .collect();
        documented.sort();
        routed.sort();
        assert_eq!(documented, routed);
    }

    fn config(origins: &str) -> Config {
        Config::from_lookup(|name| (name == "ALLOWED_ORIGINS").then(|| origins.to_string()))
    }

    #[test]
    fn cors_names_only_allowed_origins() {
        let c = config("https://chat.example");
        let allowed = cors_headers(&c, Some("https://chat.example"), None);
        assert!(allowed.contains(&("Access-Control-Allow-Origin", "https://chat.example".to_string())));
        let denied = cors_headers(&c, Some("https://evil.example"), Some("GET, OPTIONS"));
        assert_eq!(denied, vec![("Vary", "Origin".to_string())]);
        assert!(cors_headers(&c, None, None).iter().all(|(k, _)| *k == "Vary"));
    }

    #[test]
    fn preflights_list_methods_and_headers_for_allowed_origins_only() {
        let c = config("https://chat.example");
        let headers = cors_headers(&c, Some("https://chat.example"), Some("GET, PATCH, OPTIONS"));
        assert!(headers.iter().any(|(k, v)| *k == "Access-Control-Allow-Headers" && v.contains("Authorization")));
        // Each path's own methods: PATCH /auth/me from a web app on another origin, say.
        assert!(headers.contains(&("Access-Control-Allow-Methods", "GET, PATCH, OPTIONS".to_string())));
        assert!(check_preflight(&c, Some("https://chat.example")).is_ok());
        assert_eq!(check_preflight(&c, Some("https://evil.example")).unwrap_err().status, 403);
        assert_eq!(check_preflight(&c, None).unwrap_err().status, 403);
    }
}
