//! The JSON Schemas derived from the wire types follow the serde attributes, as the OpenAPI
//! document built from them will need: camelCase names, flattened structs, the `type` tag, and
//! fields that are skipped or defaulted not being required.

use super::*;
use schemars::generate::SchemaSettings;
use schemars::{schema_for, JsonSchema, Schema};
use serde_json::Value;

/// The schema of a response body: what the server writes.
fn serialized<T: JsonSchema>() -> Schema {
    SchemaSettings::default().for_serialize().into_generator().into_root_schema_for::<T>()
}

fn property_names(schema: &Value) -> Vec<&str> {
    schema["properties"].as_object().unwrap().keys().map(String::as_str).collect()
}

fn required(schema: &Value) -> Vec<&str> {
    schema["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

#[test]
fn views_have_the_camel_case_names_they_serialize_with() {
    let schema = schema_for!(MessageView);
    let names = property_names(schema.as_value());
    for name in ["conversationId", "senderDeviceId", "clientMsgId", "createdAt", "kind", "seq"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains('_')), "{names:?}");
}

#[test]
fn flattened_structs_contribute_their_fields() {
    let schema = serialized::<Account>();
    let names = property_names(schema.as_value());
    assert!(names.contains(&"displayName") && names.contains(&"isAdmin"), "{names:?}");
}

#[test]
fn server_events_are_tagged_and_skipped_fields_are_optional() {
    let schema = serialized::<ServerEvent>();
    let variants = schema.as_value()["oneOf"].as_array().expect("a tagged union");
    let ack = variants
        .iter()
        .find(|v| v["properties"]["type"]["const"] == "ack")
        .unwrap_or_else(|| panic!("no ack variant in {variants:?}"));
    let ack_required = required(ack);
    assert!(ack_required.contains(&"ref") && ack_required.contains(&"message"), "{ack_required:?}");
    assert!(!ack_required.contains(&"welcome"), "welcome is skipped when absent: {ack_required:?}");
}

#[test]
fn defaulted_request_fields_are_not_required() {
    let schema = schema_for!(SyncRequest);
    assert!(required(schema.as_value()).is_empty(), "{:?}", schema.as_value()["required"]);
    let schema = schema_for!(SendMessageEvent);
    let send = required(schema.as_value());
    assert!(send.contains(&"clientMsgId") && !send.contains(&"epoch"), "{send:?}");
}

#[test]
fn client_events_are_one_union_named_like_their_typescript() {
    let schema = schema_for!(ClientEventWire);
    assert_eq!(schema.as_value()["title"], "ClientEvent");
    assert_eq!(schema.as_value()["oneOf"].as_array().map(Vec::len), Some(5));
}
