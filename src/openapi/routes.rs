//! The REST routes as one TypeScript type, `web/sdk/wire/routes.ts`: for each `METHOD /template`
//! of the router's table, its path parameters, query, request body and success body, named as
//! `web/sdk/wire/` declares them, taken from the same operations table as the OpenAPI document.
//! The SDK's `Api` calls a route by its key and takes every type from here, so it cannot declare a
//! response the server does not send.

use super::operation::{Location, Operation};
use super::operations::operations;
use crate::protocol::generated::{assert_up_to_date, Strays, GENERATED_MARK};
use crate::protocol::typescript::{config, imports_of_wire_types, OUT_DIR, ROUTES_FILE};
use crate::router::ROUTES;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use ts_rs::Config;

/// The fields of one route's entry, in TypeScript; the type names it uses go into `names`.
fn entry(op: &Operation, method: &str, template: &str, cfg: &Config, names: &mut BTreeSet<String>) -> Option<String> {
    let mut name = |ty: fn(&Config) -> String| {
        let ts = ty(cfg);
        names.extend(ts.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').map(String::from));
        ts
    };
    // The one answer a call succeeds with. The WebSocket upgrade (101) has none: it is not a fetch
    // call, and the socket's events are the unions of events.ts.
    let mut successes = op.all_responses(method).into_iter().filter(|r| (200..300).contains(&r.status));
    let success = successes.next()?;
    assert!(successes.next().is_none(), "{} has more than one success", op.id);
    // The SDK reads an empty body (a 204) as null.
    let response = success.body.map_or("null".to_string(), |body| name(body.ts_name));

    let in_template: Vec<&str> = template.split('/').filter_map(|s| s.strip_prefix(':')).collect();
    let path_params: Vec<_> = op.parameters.iter().filter(|p| matches!(p.location, Location::Path)).collect();
    let documented: Vec<&str> = path_params.iter().map(|p| p.name).collect();
    assert_eq!(in_template, documented, "{}: the path parameters of {template}", op.id);
    let params = if path_params.is_empty() {
        "params?: never".to_string()
    } else {
        let fields: Vec<String> = path_params.iter().map(|p| format!("{}: {}", p.name, name(p.ty.ts_name))).collect();
        format!("params: {{ {} }}", fields.join("; "))
    };
    let query: Vec<String> = op
        .parameters
        .iter()
        .filter(|p| matches!(p.location, Location::Query))
        .map(|p| format!("{}?: {}", p.name, name(p.ty.ts_name)))
        .collect();
    let query =
        if query.is_empty() { "query?: never".to_string() } else { format!("query?: {{ {} }}", query.join("; ")) };
    let body = match &op.request {
        None => "body?: never".to_string(),
        Some(body) => format!("body{}: {}", if body.required { "" } else { "?" }, name(body.ty.ts_name)),
    };
    Some(format!("{params}; {query}; {body}; response: {response}"))
}

fn rendered() -> String {
    let cfg = config();
    let table = operations();
    let mut names = BTreeSet::new();
    let mut entries = String::new();
    for (method, template, endpoint) in ROUTES {
        let op = table.iter().find(|op| op.endpoint == *endpoint).unwrap_or_else(|| panic!("{endpoint:?} has no row"));
        if let Some(fields) = entry(op, method, template, &cfg, &mut names) {
            write!(entries, "  /** {} */\n  '{method} {template}': {{ {fields} }};\n", op.summary).unwrap();
        }
    }
    let mut text = format!(
        "// Generated from the router's table and the operations in src/openapi/ by `cargo test --lib`: \
         {GENERATED_MARK}.\n\
         // Change the Rust source, run `cargo test --lib`, and commit the result.\n"
    );
    text.push_str(&imports_of_wire_types(ROUTES_FILE, &names));
    text.push_str(
        "\n/**\n * Every REST route by `METHOD /template`: its `:name` path parameters, its query, its request body\n \
         * and the body of its success (null when the server sends none). An absent part is `?: never`.\n \
         * `GET /ws` is not here: it upgrades to the WebSocket, whose events are the unions of events.ts.\n \
         */\nexport type Routes = {\n",
    );
    text.push_str(&entries);
    text.push_str("};\n");
    text
}

#[test]
fn the_typescript_route_map_is_up_to_date() {
    let files = BTreeMap::from([(ROUTES_FILE.to_string(), rendered())]);
    assert_up_to_date(&format!("The TypeScript route map ({OUT_DIR}/{ROUTES_FILE})"), OUT_DIR, &files, Strays::Keep);
}

#[test]
fn route_map_generation_is_deterministic() {
    assert_eq!(rendered(), rendered());
}
