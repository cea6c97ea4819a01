//! Writes the TypeScript declarations of the wire types to `web/sdk/wire/`, one file per resource
//! as here, and fails when what it wrote differs from what was there: a Rust change that was not
//! regenerated and committed fails `cargo test`. ts-rs renders each declaration; this module only
//! groups them into files, adds the imports between files, and writes the constants, which ts-rs
//! does not export. The route map `routes.ts` beside them is written by `src/openapi/routes.rs`,
//! from the operations table; this module names it in `index.ts` and leaves it to that test.

use super::generated::{assert_up_to_date, Strays, GENERATED_MARK};
use super::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use ts_rs::{Config, Dummy, TS};

pub(crate) const OUT_DIR: &str = "web/sdk/wire";
/// Written into `OUT_DIR` by the OpenAPI module's test, which has the operations table.
pub(crate) const ROUTES_FILE: &str = "routes.ts";
const HEADER: &str =
    "// Generated from the Rust wire types in src/protocol/ by `cargo test --lib`: do not edit by hand.\n\
                      // Change the Rust type, run `cargo test --lib`, and commit the result.\n";

/// `i64` holds seqs, epochs and counts, all far below 2^53, so they stay plain numbers.
pub(crate) fn config() -> Config {
    Config::new().with_large_int("number").with_import_extension(Some("ts"))
}

#[derive(Default)]
struct Files {
    /// File name of each declared type, by its TypeScript name.
    home: BTreeMap<String, &'static str>,
    /// Per file, in declaration order: each declaration and the type names it refers to.
    decls: BTreeMap<&'static str, Vec<(String, Vec<String>)>>,
}

impl Files {
    fn declare<T: TS + ?Sized + 'static>(&mut self, file: &'static str) {
        let cfg = config();
        let name = T::ident(&cfg);
        assert!(self.home.insert(name.clone(), file).is_none(), "{name} is declared twice");
        let mut decl = T::docs().unwrap_or_default();
        decl.push_str("export ");
        decl.push_str(&T::decl(&cfg));
        let deps = <T::WithoutGenerics as TS>::dependencies(&cfg).into_iter().map(|d| d.ts_name).collect();
        self.decls.entry(file).or_default().push((decl, deps));
    }

    /// The `import type` lines `file` needs to refer to each of `names`.
    fn imports<'a>(&self, file: &str, names: impl IntoIterator<Item = &'a String>) -> String {
        let mut imports: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for name in names {
            let home = self.home.get(name).unwrap_or_else(|| panic!("{name} (used in {file}) is not declared"));
            if *home != file {
                imports.entry(home).or_default().insert(name);
            }
        }
        let mut text = String::new();
        for (home, names) in &imports {
            let names = names.iter().copied().collect::<Vec<_>>().join(", ");
            writeln!(text, "import type {{ {names} }} from './{home}';").unwrap();
        }
        text
    }

    fn render(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (file, decls) in &self.decls {
            let mut text = String::from(HEADER);
            text.push_str(&self.imports(file, decls.iter().flat_map(|(_, deps)| deps)));
            for (decl, _) in decls {
                write!(text, "\n{decl}\n").unwrap();
            }
            out.insert(file.to_string(), text);
        }
        out
    }
}

fn declarations() -> Files {
    let mut files = Files::default();
    files.declare::<RegisterRequest>("auth.ts");
    files.declare::<LoginRequest>("auth.ts");
    files.declare::<Account>("auth.ts");
    files.declare::<GroupAdds>("auth.ts");
    files.declare::<UpdateAccountRequest>("auth.ts");
    files.declare::<AuthResponse>("auth.ts");
    files.declare::<UserSummary>("users.ts");
    files.declare::<Profile>("users.ts");
    files.declare::<RegisterDeviceRequest>("devices.ts");
    files.declare::<DeviceView>("devices.ts");
    files.declare::<DeviceList>("devices.ts");
    files.declare::<DeviceLookupRequest>("devices.ts");
    files.declare::<BindDeviceRequest>("devices.ts");
    files.declare::<RemoveDeviceRequest>("devices.ts");
    files.declare::<UserDevices>("devices.ts");
    files.declare::<DeviceLookup>("devices.ts");
    files.declare::<UploadKeyPackagesRequest>("devices.ts");
    files.declare::<KeyPackageCount>("devices.ts");
    files.declare::<ClaimRequest>("devices.ts");
    files.declare::<ClaimedKeyPackage>("devices.ts");
    files.declare::<ClaimResponse>("devices.ts");
    files.declare::<LinkRequest>("links.ts");
    files.declare::<PendingLinkView>("links.ts");
    files.declare::<PendingLinks>("links.ts");
    files.declare::<LinkStatus>("links.ts");
    files.declare::<LinkView>("links.ts");
    files.declare::<ApproveLinkRequest>("links.ts");
    files.declare::<ResetDevicesRequest>("links.ts");
    files.declare::<ConversationKind>("conversations.ts");
    files.declare::<MemberRole>("conversations.ts");
    files.declare::<ConversationView>("conversations.ts");
    files.declare::<MemberView>("conversations.ts");
    files.declare::<DepartureView>("conversations.ts");
    files.declare::<LeaveRequest>("conversations.ts");
    files.declare::<UpdateConversationRequest>("conversations.ts");
    files.declare::<CreateGroupRequest>("conversations.ts");
    files.declare::<CommitEvent>("conversations.ts");
    files.declare::<MessageKind>("messages.ts");
    files.declare::<MessageView>("messages.ts");
    files.declare::<MessageDeletion>("messages.ts");
    files.declare::<SendMessageEvent>("messages.ts");
    files.declare::<ReceiptKind>("messages.ts");
    files.declare::<ReceiptRequest>("messages.ts");
    files.declare::<TypingRequest>("messages.ts");
    files.declare::<SyncRequest>("messages.ts");
    files.declare::<ClientEventWire>("events.ts");
    files.declare::<ClientFrame>("events.ts");
    files.declare::<ServerEvent>("events.ts");
    files.declare::<SessionEndReason>("events.ts");
    files.declare::<SocketCloseReason>("events.ts");
    files.declare::<CreateAttachmentRequest>("attachments.ts");
    files.declare::<AttachmentUpload>("attachments.ts");
    files.declare::<AttachmentView>("attachments.ts");
    files.declare::<PushSubscriptionRequest>("push.ts");
    files.declare::<PushSubscriptionKeys>("push.ts");
    files.declare::<PushServerKey>("push.ts");
    files.declare::<NotificationSettingsRequest>("push.ts");
    files.declare::<NotificationSettings>("push.ts");
    files.declare::<PushPayload>("push.ts");
    files.declare::<AuditEntry>("admin.ts");
    files.declare::<AdminStats>("admin.ts");
    files.declare::<serde_json::Value>("meta.ts");
    files.declare::<Page<Dummy>>("meta.ts");
    files.declare::<Health>("meta.ts");
    files.declare::<DatabaseHealth>("meta.ts");
    files.declare::<ErrorBody>("meta.ts");
    files.declare::<ErrorDetail>("meta.ts");
    files
}

/// The limits and codes a client checks or shows, written from the Rust constants.
fn constants() -> String {
    let mut text = String::from(HEADER);
    text.push_str(
        "import type { SessionEndReason } from './events.ts';\n\
         import type { ConversationKind, MemberRole } from './conversations.ts';\n\
         import type { GroupAdds } from './auth.ts';\n\
         import type { MessageKind, ReceiptKind } from './messages.ts';\n\n",
    );
    macro_rules! numbers {
        ($($name:ident),+ $(,)?) => {
            $(writeln!(text, "export const {} = {};", stringify!($name), $name).unwrap();)+
        };
    }
    numbers!(
        MAX_BODY_BYTES,
        MIN_PASSWORD_CHARS,
        MAX_PASSWORD_BYTES,
        MAX_DISPLAY_NAME_CHARS,
        MAX_TITLE_CHARS,
        MAX_CLIENT_MSG_ID_CHARS,
        MAX_DEVICE_LABEL_CHARS,
        MAX_CREDENTIAL_BYTES,
        MAX_DEVICES_PER_USER,
        MAX_KEY_PACKAGES_PER_UPLOAD,
        MAX_KEY_PACKAGE_BYTES,
        MAX_GROUP_MEMBERS,
        MAX_HANDSHAKE_BYTES,
        MAX_CIPHERTEXT_BYTES,
        MAX_EVENT_BYTES,
        MAX_REF_CHARS,
        CLOSE_SESSION_ENDED,
        CLOSE_DEVICE_REMOVED,
        CLOSE_SESSION_UNCONFIRMED,
        CLOSE_TOO_MANY_SOCKETS,
        MAX_SOCKETS_PER_USER,
        DEVICE_KEY_BYTES,
        DEVICE_PROOF_BYTES,
        LINK_REQUEST_TTL_SECONDS,
        LINK_MAC_BYTES,
        MAX_ATTACHMENT_PLAINTEXT_BYTES,
        ATTACHMENT_TAG_BYTES,
        MAX_ATTACHMENT_BYTES,
        ATTACHMENT_PART_BYTES,
        DEFAULT_ATTACHMENT_QUOTA_BYTES,
        MAX_UNFINISHED_UPLOADS_PER_USER,
        MAX_ATTACHMENTS_PER_MESSAGE,
        UNREFERENCED_ATTACHMENT_GRACE_SECONDS,
        MAX_PUSH_ENDPOINT_CHARS,
        PUSH_P256DH_BYTES,
        PUSH_AUTH_BYTES,
        MAX_PUSH_PAYLOAD_BYTES,
    );
    writeln!(
        text,
        "/** What a device signs, followed by the session's id, to bind a session to itself. */\n\
         export const DEVICE_PROOF_CONTEXT = {DEVICE_PROOF_CONTEXT:?};\n\
         /** What a device signs to approve a new one: this, the user's id, `:`, the new device's id, \
         `:`, the base64 of its key. */\n\
         export const LINK_APPROVAL_CONTEXT = {LINK_APPROVAL_CONTEXT:?};\n\
         /** What a device signs to revoke one of its user's devices: this, the user's id, `:`, the \
         revoked device's id, `:`, the base64 of its key. */\n\
         export const DEVICE_REVOCATION_CONTEXT = {DEVICE_REVOCATION_CONTEXT:?};\n\
         /** What a device signs to leave a group: this, the conversation's id, `:`, its user's id, \
         `:`, its own id, `:`, the hex of its leaf's encryption key. */\n\
         export const DEPARTURE_CONTEXT = {DEPARTURE_CONTEXT:?};\n\
         /** A phone number as the server takes it (E.164), for a form to check before sending. */\n\
         export const PHONE_PATTERN = {PHONE_PATTERN:?};\n\
         /** The disappearing-messages timers a conversation may have, in seconds. */\n\
         export const DISAPPEAR_AFTER_CHOICES = {DISAPPEAR_AFTER_CHOICES:?} as const;\n\
         /** `mutedUntil` of a conversation muted until it is unmuted. */\n\
         export const MUTED_ALWAYS = {MUTED_ALWAYS:?};"
    )
    .unwrap();
    let close_codes =
        SessionEndReason::ALL.iter().map(|r| format!("'{}': {}", r.as_str(), r.close_code())).collect::<Vec<_>>();
    writeln!(
        text,
        "\n/** The close code of each way a session ends; a client does not reconnect after one. */\n\
         export const CLOSE_CODES = {{ {} }} as const satisfies Record<SessionEndReason, number>;",
        close_codes.join(", ")
    )
    .unwrap();
    macro_rules! values {
        ($($name:literal: $ty:ident),+ $(,)?) => {
            $(
                let all = $ty::ALL.iter().map(|v| format!("'{}'", v.as_str())).collect::<Vec<_>>().join(", ");
                writeln!(text, "export const {} = [{all}] as const satisfies readonly {}[];", $name, stringify!($ty))
                    .unwrap();
            )+
        };
    }
    values!(
        "CONVERSATION_KINDS": ConversationKind,
        "MEMBER_ROLES": MemberRole,
        "GROUP_ADDS": GroupAdds,
        "MESSAGE_KINDS": MessageKind,
        "RECEIPT_KINDS": ReceiptKind,
    );
    text
}

/// The `import type` lines a file of `OUT_DIR` that is not declared here needs to refer to each of
/// `names`, which must be wire types declared here (other words, such as `string`, are skipped).
/// Types TypeScript itself has, which a route may name without an import (raw bytes).
const TYPESCRIPT_BUILTINS: &[&str] = &["Uint8Array"];

pub(crate) fn imports_of_wire_types(file: &str, names: &BTreeSet<String>) -> String {
    let files = declarations();
    // A type name (capitalized) that no file declares would be used without an import: tsc would
    // only see it as an error in the app, so say here which declaration is missing.
    let undeclared: Vec<&String> = names
        .iter()
        .filter(|name| name.starts_with(|c: char| c.is_ascii_uppercase()) && !files.home.contains_key(*name))
        .filter(|name| !TYPESCRIPT_BUILTINS.contains(&name.as_str()))
        .collect();
    assert!(
        undeclared.is_empty(),
        "{file} uses {undeclared:?}, which no wire file declares: add them to declarations()"
    );
    files.imports(file, names.iter().filter(|name| files.home.contains_key(*name)))
}

fn index(files: &BTreeMap<String, String>) -> String {
    let mut text = String::from(HEADER);
    text.push('\n');
    let mut types: BTreeSet<&str> = files.keys().map(String::as_str).filter(|file| *file != "constants.ts").collect();
    types.insert(ROUTES_FILE);
    for file in types {
        writeln!(text, "export type * from './{file}';").unwrap();
    }
    text.push_str("export * from './constants.ts';\n");
    text
}

fn generated() -> BTreeMap<String, String> {
    let mut files = declarations().render();
    files.insert("constants.ts".into(), constants());
    let index = index(&files);
    files.insert("index.ts".into(), index);
    files
}

#[test]
fn the_typescript_wire_types_are_up_to_date() {
    let strays = Strays::Sweep { written_elsewhere: &[ROUTES_FILE] };
    assert_up_to_date("The TypeScript wire types", OUT_DIR, &generated(), strays);
}

#[test]
fn the_header_marks_a_file_as_generated() {
    assert!(HEADER.lines().next().unwrap().contains(GENERATED_MARK));
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(generated(), generated());
}
