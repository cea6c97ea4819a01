//! Builds the OpenAPI document `src/openapi.json`, which the worker serves and the integration
//! tests check every response against. The schemas come from the wire types in `src/protocol/`
//! through schemars (JSON Schema 2020-12, OpenAPI 3.1's dialect); the paths come from the router's
//! table and, per endpoint, the row in `operations.rs`. `cargo test --lib` rewrites the file and
//! fails when it changed, like the TypeScript wire types.

mod operation;
mod operations;
mod routes;

use crate::protocol::generated::{assert_up_to_date, Strays};
use crate::protocol::{ClientFrame, PushPayload, ServerEvent, MAX_BODY_BYTES, UUID_PATTERN};
use crate::router::{Endpoint, ROUTES};
use operation::{Auth, Location, Operation};
use operations::operations;
use schemars::generate::{Contract, SchemaSettings};
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use ts_rs::TS;

const DIR: &str = "src";
const FILE: &str = "openapi.json";

/// Makes the schema of a type: a `$ref` to `#/components/schemas/<name>` for a named type.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

pub fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// A type as both generated documents name it: its schema here, and its TypeScript name (as ts-rs
/// declares it in `web/sdk/wire/`) in the route map `routes.rs` writes.
#[derive(Clone, Copy)]
pub struct WireType {
    pub schema: SchemaFn,
    pub ts_name: fn(&ts_rs::Config) -> String,
}

pub fn wire<T: JsonSchema + TS>() -> WireType {
    WireType { schema: schema::<T>, ts_name: <T as TS>::name }
}

/// Schemas of what the server writes are closed: it sends exactly the fields a type has, so a
/// field the document does not know fails the integration tests. Request schemas stay open, since
/// the server ignores fields it does not know.
fn close_objects(schema: &mut Schema) {
    if schema.get("properties").is_some() && schema.get("additionalProperties").is_none() {
        schema.insert("additionalProperties".into(), false.into());
    }
}

/// Every id is written hyphenated, and read so in URLs (`parse_uuid`); `format: uuid` alone is
/// not checked by every validator, so the pattern says it.
fn uuid_pattern(schema: &mut Schema) {
    if schema.get("format").and_then(Value::as_str) == Some("uuid") {
        schema.insert("pattern".into(), UUID_PATTERN.into());
    }
}

/// Doc comments arrive with their line breaks; a description reads better as running text, with
/// only the blank lines between paragraphs kept.
fn unwrap_description(schema: &mut Schema) {
    if let Some(Value::String(text)) = schema.get_mut("description") {
        *text =
            text.split("\n\n").map(|p| p.split('\n').collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n\n");
    }
}

fn generator(contract: Contract) -> SchemaGenerator {
    let closed = matches!(contract, Contract::Serialize);
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas/".into();
        s.meta_schema = None;
        s.contract = contract;
    });
    let settings = settings
        .with_transform(RecursiveTransform(unwrap_description))
        .with_transform(RecursiveTransform(uuid_pattern));
    if closed { settings.with_transform(RecursiveTransform(close_objects)) } else { settings }.into_generator()
}

/// One generator for what clients send and one for what the server sends: serde may read and write
/// a type differently (defaults, skipped fields), and only the written shapes are closed.
struct Generators {
    requests: SchemaGenerator,
    responses: SchemaGenerator,
}

impl Generators {
    /// Every named schema either side made. A type both sides use must come out the same.
    fn definitions(mut self) -> Map<String, Value> {
        let mut all = self.responses.take_definitions(true);
        for (name, schema) in self.requests.take_definitions(true) {
            match all.get(&name) {
                Some(existing) => assert_eq!(existing, &schema, "{name} is read and written differently"),
                None => {
                    all.insert(name, schema);
                }
            }
        }
        all
    }
}

fn operation_json(method: &str, op: &Operation, generators: &mut Generators) -> Value {
    let mut out = Map::new();
    out.insert("operationId".into(), op.id.into());
    out.insert("summary".into(), op.summary.into());
    if let Some(description) = &op.description {
        out.insert("description".into(), description.as_str().into());
    }
    let security = match op.auth {
        Auth::Public => json!([]),
        Auth::Bearer => json!([{ "bearer": [] }]),
    };
    out.insert("security".into(), security);
    if !op.parameters.is_empty() {
        let parameters = op.parameters.iter().map(|p| {
            let mut param = json!({
                "name": p.name,
                "in": match p.location { Location::Path => "path", Location::Query => "query" },
                "required": matches!(p.location, Location::Path),
                "schema": (p.ty.schema)(&mut generators.requests),
            });
            if let Some(description) = p.description {
                param["description"] = description.into();
            }
            param
        });
        out.insert("parameters".into(), parameters.collect());
    }
    if let Some(body) = &op.request {
        let schema = (body.ty.schema)(&mut generators.requests);
        out.insert(
            "requestBody".into(),
            json!({ "required": body.required, "content": { body.media_type: { "schema": schema } } }),
        );
    }
    let mut responses = Map::new();
    for response in op.all_responses(method) {
        let mut entry = json!({ "description": response.description });
        if let Some(body) = response.body {
            entry["content"] = json!({ response.media_type: { "schema": (body.schema)(&mut generators.responses) } });
        }
        let previous = responses.insert(response.status.to_string(), entry);
        assert!(previous.is_none(), "{} lists {} twice", op.id, response.status);
    }
    out.insert("responses".into(), responses.into());
    out.into()
}

/// `/users/:id/devices` as OpenAPI writes it: `/users/{id}/devices`.
fn openapi_path(template: &str) -> String {
    let segments: Vec<String> =
        template.split('/').map(|s| s.strip_prefix(':').map_or(s.to_string(), |name| format!("{{{name}}}"))).collect();
    segments.join("/")
}

pub fn document() -> Value {
    let mut generators =
        Generators { requests: generator(Contract::Deserialize), responses: generator(Contract::Serialize) };
    let table = operations();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for (method, template, endpoint) in ROUTES {
        let op = table.iter().find(|op| op.endpoint == *endpoint).unwrap_or_else(|| panic!("{endpoint:?} has no row"));
        let path = paths.entry(openapi_path(template)).or_default();
        path.insert(method.to_lowercase(), operation_json(method, op, &mut generators));
    }
    // The socket's events travel inside `/ws`, outside any response; listed so the document names them.
    generators.requests.subschema_for::<ClientFrame>();
    generators.responses.subschema_for::<ServerEvent>();
    // So is what a push carries, encrypted to the subscription (RFC 8291), to the service worker.
    generators.responses.subschema_for::<PushPayload>();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "E2E Chat API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "REST API of E2E Chat. Every error is `{{ \"error\": {{ \"code\", \"message\" }} }}`. Message bodies \
                 are MLS ciphertext; the server never sees plaintext. Request bodies are JSON, at most {} KiB.",
                MAX_BODY_BYTES / 1024
            ),
        },
        "servers": [{ "url": "http://127.0.0.1:8787", "description": "wrangler dev" }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "schemas": generators.definitions(),
        },
    })
}

fn rendered() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap();
    text.push('\n');
    text
}

#[test]
fn the_openapi_document_is_up_to_date() {
    let files = BTreeMap::from([(FILE.to_string(), rendered())]);
    assert_up_to_date(&format!("The OpenAPI document ({DIR}/{FILE})"), DIR, &files, Strays::Keep);
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(rendered(), rendered());
}

#[test]
fn every_endpoint_has_exactly_one_operation() {
    let table = operations();
    for (_, template, endpoint) in ROUTES {
        let rows = table.iter().filter(|op| op.endpoint == *endpoint).count();
        assert_eq!(rows, 1, "{endpoint:?} ({template}) has {rows} rows in the operations table");
    }
    let routed = |endpoint: &Endpoint| ROUTES.iter().any(|(_, _, e)| e == endpoint);
    for op in &table {
        assert!(routed(&op.endpoint), "{:?} has an operation but no route", op.endpoint);
    }
    let mut ids: Vec<&str> = table.iter().map(|op| op.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), table.len(), "operationIds are unique");
}

#[test]
fn every_reference_names_a_schema_of_the_document() {
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    out.push(target);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let doc = document();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let name = target.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{target}"));
        assert!(doc["components"]["schemas"].get(name).is_some(), "{target} is not defined");
    }
}

#[test]
fn responses_are_closed_and_requests_open() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    for name in ["AuthResponse", "Account", "MessageView", "ErrorBody", "ErrorDetail", "DatabaseHealth"] {
        assert_eq!(schemas[name]["additionalProperties"], false, "{name}");
    }
    for name in ["RegisterRequest", "CreateGroupRequest", "ClaimRequest"] {
        assert!(schemas[name].get("additionalProperties").is_none(), "{name}");
    }
}
