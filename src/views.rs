//! Rows to wire views: the db layer returns its tables' columns, and this is where they take the
//! shape the REST API and the hub send (bytes as base64, members inside their conversation).
//! Shared by `api` and `hub`, so neither has to reach into the other.

use crate::db::admin::AuditRow;
use crate::db::conversations::ConversationRow;
use crate::db::departures::DepartureRow;
use crate::db::devices::{ClaimedRow, DeviceRow, PackageCount};
use crate::db::members::MemberRow;
use crate::db::messages::MessageRow;
use crate::db::receipts::ReceiptRow;
use crate::db::users::UserRow;
use crate::protocol::{encode, ClaimResponse, ClaimedKeyPackage, KeyPackageCount};
use crate::protocol::{
    Account, AuditEntry, ConversationView, DepartureView, DeviceView, MemberView, MessageView, Profile, ReceiptKind,
    ServerEvent, UserSummary,
};
use uuid::Uuid;

pub fn user_summary(row: UserRow) -> UserSummary {
    UserSummary {
        id: row.id,
        // Only a deleted account's tombstone has no phone, and lookups leave those out.
        phone: row.phone.unwrap_or_default(),
        display_name: row.display_name,
        created_at: row.created_at,
        last_seen_at: row.last_seen_at,
        online: row.online,
    }
}

pub fn account(row: UserRow) -> Account {
    let (is_admin, group_adds) = (row.is_admin, row.group_adds);
    Account { user: user_summary(row), is_admin, group_adds }
}

pub fn profile(user: UserRow, devices: Vec<DeviceRow>) -> Profile {
    Profile { user: user_summary(user), devices: devices.into_iter().map(device).collect() }
}

pub fn device(row: DeviceRow) -> DeviceView {
    DeviceView {
        id: row.id,
        label: row.label,
        credential: encode(&row.credential),
        created_at: row.created_at,
        last_seen_at: row.last_seen_at,
        approved_by: row.approved_by,
        approval: row.approval.as_deref().map(encode),
        removed_at: row.removed_at,
        revoked_by: row.revoked_by,
        revocation: row.revocation.as_deref().map(encode),
        revocation_keeps: row.revocation_keeps,
    }
}

pub fn message(row: MessageRow) -> MessageView {
    MessageView {
        id: row.id,
        conversation_id: row.conversation_id,
        seq: row.seq,
        sender_id: row.sender_id,
        sender_device_id: row.sender_device_id,
        kind: row.kind,
        epoch: row.epoch,
        ciphertext: encode(&row.ciphertext),
        deleted: row.deleted,
        client_msg_id: row.client_msg_id,
        created_at: row.created_at,
        add_user_ids: row.commit_adds,
        remove_user_ids: row.commit_removes,
        departures: row.commit_departures,
        sender_role: row.sender_role,
    }
}

fn member(row: MemberRow) -> MemberView {
    MemberView {
        user_id: row.user_id,
        display_name: row.display_name,
        role: row.role,
        joined_at: row.joined_at,
        joined_seq: row.joined_seq,
    }
}

/// Conversations with their members, from the members of all of them (in the order they are to
/// be listed).
pub fn departure(row: DepartureRow) -> DepartureView {
    DepartureView {
        user_id: row.user_id,
        device_id: row.device_id,
        signature: encode(&row.signature),
        left_at: row.left_at,
    }
}

pub fn conversations(
    rows: Vec<ConversationRow>,
    members: Vec<MemberRow>,
    departures: Vec<DepartureRow>,
) -> Vec<ConversationView> {
    let mut views: Vec<ConversationView> = rows
        .into_iter()
        .map(|row| ConversationView {
            id: row.id,
            kind: row.kind,
            title: row.title,
            created_by: row.created_by,
            created_at: row.created_at,
            epoch: row.epoch,
            last_seq: row.last_seq,
            members: Vec::new(),
            departures: Vec::new(),
            disappear_after_seconds: row.disappear_after_seconds,
        })
        .collect();
    for m in members {
        if let Some(view) = views.iter_mut().find(|v| v.id == m.conversation_id) {
            view.members.push(member(m));
        }
    }
    for d in departures {
        if let Some(view) = views.iter_mut().find(|v| v.id == d.conversation_id) {
            view.departures.push(departure(d));
        }
    }
    views
}

pub fn audit_entry(row: AuditRow) -> AuditEntry {
    AuditEntry {
        id: row.id,
        actor_id: row.actor_id,
        action: row.action,
        target: row.target,
        detail: row.detail,
        at: row.at,
    }
}

pub fn key_package_count(count: PackageCount) -> KeyPackageCount {
    KeyPackageCount { available: count.available, has_last_resort: count.has_last_resort }
}

/// The packages a claim handed out, and the devices it found none for.
pub fn claim(rows: Vec<ClaimedRow>) -> ClaimResponse {
    let mut response = ClaimResponse { key_packages: Vec::new(), missing_device_ids: Vec::new() };
    for row in rows {
        match row.key_package {
            Some(data) => response.key_packages.push(ClaimedKeyPackage {
                device_id: row.device_id,
                key_package: encode(&data),
                last_resort: row.last_resort,
            }),
            None => response.missing_device_ids.push(row.device_id),
        }
    }
    response
}

/// A stored receipt as it stands: read if it was read, else delivered.
pub fn receipt(conversation_id: Uuid, row: ReceiptRow) -> ServerEvent {
    let (kind, at) = match row.read_at {
        Some(read_at) => (ReceiptKind::Read, read_at),
        None => (ReceiptKind::Delivered, row.delivered_at),
    };
    ServerEvent::Receipt { message_id: row.message_id, conversation_id, user_id: row.user_id, kind, at }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ConversationKind, MemberRole, MessageKind};
    use chrono::{DateTime, Utc};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn conversation(id: Uuid) -> ConversationRow {
        ConversationRow {
            id,
            kind: ConversationKind::Group,
            title: Some("Team".into()),
            created_by: None,
            created_at: at(0),
            epoch: 1,
            last_seq: 2,
            disappear_after_seconds: None,
        }
    }

    fn member_of(conversation_id: Uuid, name: &str) -> MemberRow {
        MemberRow {
            conversation_id,
            user_id: Uuid::new_v4(),
            display_name: name.into(),
            role: MemberRole::Member,
            joined_at: at(1),
            joined_seq: 0,
        }
    }

    #[test]
    fn bytes_go_out_as_base64() {
        let row = MessageRow {
            id: Uuid::nil(),
            conversation_id: Uuid::nil(),
            seq: 1,
            sender_id: Uuid::nil(),
            sender_device_id: None,
            kind: MessageKind::App,
            epoch: 0,
            ciphertext: vec![0xff, 0x00, 0x10],
            deleted: None,
            client_msg_id: "m1".into(),
            created_at: at(0),
            commit_adds: None,
            commit_removes: None,
            commit_departures: None,
            sender_role: None,
        };
        let commit = MessageRow {
            kind: MessageKind::Commit,
            commit_adds: Some(vec![Uuid::nil()]),
            commit_removes: Some(vec![]),
            commit_departures: None,
            sender_role: None,
            ..row.clone()
        };
        let json = serde_json::to_value(message(row)).unwrap();
        assert_eq!(json["ciphertext"], "/wAQ");
        assert!(json.get("addUserIds").is_none(), "only commits carry declarations");
        let json = serde_json::to_value(message(commit)).unwrap();
        assert_eq!(
            (json["addUserIds"].clone(), json["removeUserIds"].clone()),
            (serde_json::json!([Uuid::nil()]), serde_json::json!([]))
        );
    }

    #[test]
    fn members_go_into_their_own_conversation_in_order() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let views = conversations(
            vec![conversation(a), conversation(b)],
            vec![member_of(b, "Bo"), member_of(a, "Ann"), member_of(b, "Cy")],
            vec![DepartureRow {
                conversation_id: b,
                user_id: Uuid::nil(),
                device_id: Uuid::nil(),
                signature: vec![0xff, 0, 0x10],
                left_at: chrono::Utc::now(),
            }],
        );
        let names = |v: &ConversationView| v.members.iter().map(|m| m.display_name.clone()).collect::<Vec<_>>();
        assert_eq!((views[0].id, names(&views[0])), (a, vec!["Ann".to_string()]));
        assert_eq!((views[1].id, names(&views[1])), (b, vec!["Bo".to_string(), "Cy".to_string()]));
        assert!(views[0].departures.is_empty());
        assert_eq!(views[1].departures.iter().map(|d| d.signature.as_str()).collect::<Vec<_>>(), ["/wAQ"]);
    }

    #[test]
    fn a_claim_lists_devices_without_packages_apart() {
        let (with, without) = (Uuid::new_v4(), Uuid::new_v4());
        let response = claim(vec![
            ClaimedRow { device_id: with, key_package: Some(vec![1, 2, 3]), last_resort: true },
            ClaimedRow { device_id: without, key_package: None, last_resort: false },
        ]);
        assert_eq!(response.key_packages.len(), 1);
        assert_eq!((response.key_packages[0].device_id, response.key_packages[0].last_resort), (with, true));
        assert_eq!(response.key_packages[0].key_package, "AQID");
        assert_eq!(response.missing_device_ids, vec![without]);
    }

    #[test]
    fn a_receipt_is_read_once_read_and_delivered_before() {
        let row = ReceiptRow { message_id: Uuid::nil(), user_id: Uuid::nil(), delivered_at: at(5), read_at: None };
        let delivered = receipt(Uuid::nil(), row.clone());
        assert!(matches!(delivered, ServerEvent::Receipt { kind: ReceiptKind::Delivered, at: t, .. } if t == at(5)));
        let read = receipt(Uuid::nil(), ReceiptRow { read_at: Some(at(9)), ..row });
        assert!(matches!(read, ServerEvent::Receipt { kind: ReceiptKind::Read, at: t, .. } if t == at(9)));
    }

    #[test]
    fn a_tombstone_without_a_phone_shows_an_empty_one() {
        let row = UserRow {
            id: Uuid::nil(),
            phone: None,
            display_name: "Deleted account".into(),
            created_at: at(0),
            last_seen_at: None,
            online: false,
            is_admin: true,
            group_adds: crate::protocol::GroupAdds::Contacts,
        };
        let account = account(row);
        assert_eq!(serde_json::to_value(&account).unwrap()["groupAdds"], "contacts");
        assert_eq!((account.user.phone.as_str(), account.is_admin), ("", true));
    }
}
