use super::*;
use crate::protocol::{encode, Recipient, MAX_CIPHERTEXT_BYTES};
use crate::protocol::{CommitEvent, SendMessageEvent};

fn event(frame: &str) -> Result<ClientEvent, (Option<String>, &'static str)> {
    parse_client_event(frame).map(|e| e.event).map_err(|e| (e.reference, e.error.code))
}

#[test]
fn text_with_nul_in_an_event_is_refused_keeping_the_reference() {
    let event = parse_client_event(r#"{"type":"typing","id":"r1","conversationId":"\u0000","on":true}"#);
    let err = event.err().unwrap();
    assert_eq!((err.error.code, err.reference.as_deref()), ("invalid_text", Some("r1")));
}

#[test]
fn parses_a_send_message_to_a_user_or_a_conversation() {
    let to = Uuid::new_v4();
    let frame = format!(
        r#"{{"type":"send-message","id":"r1","toUserId":"{to}","clientMsgId":"c1","epoch":3,"ciphertext":"AQID"}}"#
    );
    let parsed = parse_client_event(&frame).unwrap();
    assert_eq!(parsed.reference.as_deref(), Some("r1"));
    assert_eq!(
        parsed.event,
        ClientEvent::SendMessage(OutgoingMessage {
            to: Recipient::User(to),
            client_msg_id: "c1".into(),
            epoch: 3,
            ciphertext: vec![1, 2, 3],
            timer_change: false,
            attachment_ids: vec![],
        })
    );
    let frame = format!(r#"{{"type":"send-message","conversationId":"{to}","clientMsgId":"c1","ciphertext":"AQID"}}"#);
    assert!(matches!(
        event(&frame),
        Ok(ClientEvent::SendMessage(OutgoingMessage { to: Recipient::Conversation(_), epoch: 0, .. }))
    ));
}

#[test]
fn a_send_message_names_at_most_ten_uploads_each_once() {
    let (c, a) = (Uuid::new_v4(), Uuid::new_v4());
    let send = |ids: &[Uuid]| {
        let ids: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
        event(&format!(
            r#"{{"type":"send-message","conversationId":"{c}","clientMsgId":"c1","ciphertext":"AQID","attachmentIds":[{}]}}"#,
            ids.join(",")
        ))
    };
    assert!(
        matches!(send(&[a]), Ok(ClientEvent::SendMessage(OutgoingMessage { ref attachment_ids, .. })) if attachment_ids == &[a])
    );
    assert_eq!(send(&[a, a]).unwrap_err().1, "invalid_field");
    let eleven: Vec<Uuid> = (0..11).map(|_| Uuid::new_v4()).collect();
    assert_eq!(send(&eleven).unwrap_err().1, "too_many_attachments");
    let bad = format!(
        r#"{{"type":"send-message","conversationId":"{c}","clientMsgId":"c1","ciphertext":"AQID","attachmentIds":["x"]}}"#
    );
    assert_eq!(event(&bad).unwrap_err().1, "invalid_field");
}

#[test]
fn every_bad_event_class_has_its_code_and_keeps_the_reference() {
    let id = Uuid::new_v4();
    assert_eq!(event("{nope").unwrap_err().1, "invalid_json");
    assert_eq!(event("[1]").unwrap_err().1, "invalid_event");
    assert_eq!(event(r#"{"id":"x"}"#).unwrap_err(), (Some("x".into()), "invalid_event"));
    assert_eq!(event(r#"{"type":"dance","id":7}"#).unwrap_err(), (Some("7".into()), "unknown_type"));
    assert_eq!(
        event(r#"{"type":"send-message","id":"m","clientMsgId":"c","ciphertext":"AQID"}"#).unwrap_err(),
        (Some("m".into()), "invalid_field")
    );
    let both = format!(
        r#"{{"type":"send-message","toUserId":"{id}","conversationId":"{id}","clientMsgId":"c","ciphertext":"AQID"}}"#
    );
    assert_eq!(event(&both).unwrap_err().1, "invalid_field");
    let not_base64 =
        format!(r#"{{"type":"send-message","toUserId":"{id}","clientMsgId":"c","ciphertext":"not base64!"}}"#);
    assert_eq!(event(&not_base64).unwrap_err().1, "invalid_field");
    let empty_id = format!(r#"{{"type":"send-message","toUserId":"{id}","clientMsgId":"","ciphertext":"AQID"}}"#);
    assert_eq!(event(&empty_id).unwrap_err().1, "invalid_field");
    assert_eq!(event(r#"{"type":"receipt","messageId":"x","kind":"read"}"#).unwrap_err().1, "invalid_field");
    let bad_kind = format!(r#"{{"type":"receipt","messageId":"{id}","kind":"seen"}}"#);
    assert_eq!(event(&bad_kind).unwrap_err().1, "invalid_field");
    assert_eq!(event(r#"{"type":"typing","conversationId":"x","on":true}"#).unwrap_err().1, "invalid_field");
}

#[test]
fn oversized_events_and_ciphertexts_are_refused() {
    use base64::Engine;
    assert_eq!(event(&" ".repeat(MAX_EVENT_BYTES + 1)).unwrap_err().1, "too_large");
    let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_CIPHERTEXT_BYTES + 1]);
    let frame =
        format!(r#"{{"type":"send-message","toUserId":"{}","clientMsgId":"c","ciphertext":"{big}"}}"#, Uuid::new_v4());
    assert_eq!(event(&frame).unwrap_err().1, "too_large");
    let fits = base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_CIPHERTEXT_BYTES]);
    let frame =
        format!(r#"{{"type":"send-message","toUserId":"{}","clientMsgId":"c","ciphertext":"{fits}"}}"#, Uuid::new_v4());
    assert!(event(&frame).is_ok());
}

#[test]
fn sync_takes_per_conversation_seqs() {
    let c = Uuid::new_v4();
    let parsed = event(&format!(r#"{{"type":"sync","after":{{"{c}":41}}}}"#)).unwrap();
    assert_eq!(parsed, ClientEvent::Sync(SyncRequest { after: [(c, 41)].into(), ..Default::default() }));
    let with_receipts = event(&format!(r#"{{"type":"sync","receiptsFrom":{{"{c}":7}}}}"#)).unwrap();
    assert_eq!(with_receipts, ClientEvent::Sync(SyncRequest { receipts_from: [(c, 7)].into(), ..Default::default() }));
    assert_eq!(event(r#"{"type":"sync"}"#).unwrap(), ClientEvent::Sync(SyncRequest::default()));
    let paged = event(r#"{"type":"sync","paged":true}"#).unwrap();
    assert_eq!(paged, ClientEvent::Sync(SyncRequest { paged: true, ..Default::default() }));
    assert!(event(r#"{"type":"sync","paged":"yes"}"#).is_err(), "paged is a boolean");
}

#[test]
fn server_events_are_tagged_and_camel_cased() {
    let json =
        serde_json::to_value(ServerEvent::Typing { conversation_id: Uuid::nil(), user_id: Uuid::nil(), on: true })
            .unwrap();
    assert_eq!(json["type"], "typing");
    assert_eq!(json["conversationId"], Uuid::nil().to_string());
    let error = serde_json::to_value(ServerEvent::error(Some("r".into()), &ApiError::forbidden("no"))).unwrap();
    assert_eq!(error, serde_json::json!({"type": "error", "code": "forbidden", "message": "no", "ref": "r"}));
}

#[test]
fn disconnect_names_exactly_the_sockets_it_should_close() {
    let phone = Uuid::from_u128(1);
    let laptop = Uuid::from_u128(2);
    let (ended, other, newer) = (Uuid::from_u128(10), Uuid::from_u128(11), Uuid::from_u128(12));
    // Ended sessions: their sockets close; a session started since stays.
    let revoke = Disconnect::sessions(vec![ended, other]);
    assert!(revoke.applies_to(Some(ended), Some(phone)));
    assert!(revoke.applies_to(Some(other), None));
    assert!(!revoke.applies_to(Some(newer), Some(phone)));
    assert!(!revoke.applies_to(None, Some(phone)));
    // A removed device: its own sockets, and those of the sessions that acted as it (one opened
    // before its session was bound to the device knows no device).
    let removed = Disconnect::device(laptop, vec![newer]);
    assert!(removed.applies_to(Some(ended), Some(laptop)));
    assert!(removed.applies_to(Some(newer), None));
    assert!(!removed.applies_to(Some(ended), Some(phone)));
    assert!(!removed.applies_to(None, None));
    // A deleted account: everything.
    assert!(Disconnect::account_deleted().applies_to(None, Some(phone)));
    assert_eq!(revoke.code, CLOSE_SESSION_ENDED);
    assert_eq!(removed.code, CLOSE_DEVICE_REMOVED);
    assert_eq!(revoke.event().to_json(), r#"{"type":"session-ended","reason":"session-ended"}"#);
    assert_eq!(removed.event().to_json(), r#"{"type":"session-ended","reason":"device-removed"}"#);
}

#[test]
fn session_end_reasons_are_kebab_cased_with_their_close_codes() {
    assert_text_enum_matches_serde!(SessionEndReason);
    assert_eq!((CLOSE_SESSION_ENDED, CLOSE_DEVICE_REMOVED), (4401, 4403));
}

#[test]
fn socket_close_reasons_are_kebab_cased_with_codes_apart_from_the_final_ones() {
    assert_text_enum_matches_serde!(SocketCloseReason);
    assert_eq!((CLOSE_SESSION_UNCONFIRMED, CLOSE_TOO_MANY_SOCKETS), (1013, 4429));
    // A client stops for good on a session's close codes; on these it must not.
    for reason in SocketCloseReason::ALL {
        assert!(SessionEndReason::ALL.iter().all(|end| end.close_code() != reason.close_code()));
    }
    let event = ServerEvent::SocketClosing { reason: SocketCloseReason::TooManySockets };
    assert_eq!(event.to_json(), r#"{"type":"socket-closing","reason":"too-many-sockets"}"#);
}

#[test]
fn every_wire_client_event_parses_under_its_tag_with_its_id() {
    let (c, u) = (Uuid::new_v4(), Uuid::new_v4());
    let events = [
        ClientEventWire::SendMessage(SendMessageEvent {
            conversation_id: None,
            to_user_id: Some(u),
            client_msg_id: "c1".into(),
            epoch: 2,
            ciphertext: encode(b"hi"),
            timer_change: true,
            attachment_ids: vec![c],
        }),
        ClientEventWire::Receipt(ReceiptRequest { message_id: u, kind: ReceiptKind::Read }),
        ClientEventWire::Typing(TypingRequest { conversation_id: c, on: true }),
        ClientEventWire::Sync(SyncRequest { after: [(c, 3)].into(), receipts_from: [(c, 1)].into(), paged: true }),
        ClientEventWire::Commit(CommitEvent {
            conversation_id: c,
            epoch: 4,
            client_msg_id: "k1".into(),
            commit: encode(b"commit"),
            welcome: Some(encode(b"welcome")),
            group_info: None,
            add_user_ids: vec![u],
            remove_user_ids: vec![],
        }),
    ];
    for (i, event) in events.into_iter().enumerate() {
        let frame = serde_json::to_string(&ClientFrame { id: Some(i.into()), event }).unwrap();
        let parsed = parse_client_event(&frame).unwrap_or_else(|e| panic!("{frame}: {e:?}"));
        assert_eq!(parsed.reference, Some(i.to_string()), "{frame}");
    }
}
