//! Input validation shared by every resource: body parsing, the NUL check, field rules and their
//! limits, base64. A leaf: it imports no other protocol module, so each resource can use it.

use crate::error::ApiError;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::de::DeserializeOwned;
use uuid::Uuid;

pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MIN_PASSWORD_CHARS: usize = 10;
/// PBKDF2 pre-hashes long keys, so this bound is about sanity, not cost.
pub const MAX_PASSWORD_BYTES: usize = 1024;
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
pub const MAX_TITLE_CHARS: usize = 128;
pub const MAX_CLIENT_MSG_ID_CHARS: usize = 64;

/// PostgreSQL text cannot hold U+0000, which JSON can carry as `\u0000`. Text with it is refused
/// on the way in, with a reason, instead of failing in the database as a 500.
pub fn contains_escaped_nul(json: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, &byte) in json.iter().enumerate() {
        if byte == b'\\' {
            backslashes += 1;
            continue;
        }
        if byte == b'u' && backslashes % 2 == 1 && json[i + 1..].starts_with(b"0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

pub fn nul_refused() -> ApiError {
    ApiError::bad_request("invalid_text", "Text may not contain the NUL character (U+0000).")
}

/// Parses a JSON request body, telling malformed JSON apart from well-formed JSON of the wrong shape.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(payload_too_large());
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("invalid_json", "The request body is empty; send a JSON object."));
    }
    if contains_escaped_nul(body) {
        return Err(nul_refused());
    }
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::bad_request("invalid_field", format!("The request body has the wrong shape: {e}."))
        }
        _ => ApiError::bad_request("invalid_json", format!("The request body is not valid JSON: {e}.")),
    })
}

pub fn payload_too_large() -> ApiError {
    ApiError::new(413, "payload_too_large", format!("The request body is larger than {} KiB.", MAX_BODY_BYTES / 1024))
}

/// E.164 allows at most 15 digits; fewer than 7 is no real number.
pub const MIN_PHONE_DIGITS: usize = 7;
pub const MAX_PHONE_DIGITS: usize = 15;
/// `validate_phone`'s rule as the OpenAPI document states it (a test checks the two agree).
pub const PHONE_PATTERN: &str = r"^\+[1-9][0-9]{6,14}$";

/// E.164: a plus sign, a country code that does not start with 0, at most 15 digits in all.
pub fn validate_phone(raw: &str) -> Result<String, ApiError> {
    let phone = raw.trim();
    let digits = phone.strip_prefix('+').unwrap_or("");
    let valid = (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if valid {
        Ok(phone.to_string())
    } else {
        Err(ApiError::bad_request(
            "invalid_phone",
            "Enter the phone number in international format, starting with + and the country code, like +14155550123.",
        ))
    }
}

pub fn validate_display_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_DISPLAY_NAME_CHARS {
        return Err(ApiError::bad_request(
            "invalid_display_name",
            format!("The display name must be 1 to {MAX_DISPLAY_NAME_CHARS} characters."),
        ));
    }
    refuse_deceptive_characters(name, "invalid_display_name", "The display name")?;
    Ok(name.to_string())
}

/// Characters no name, title or label may hold, because they make text shown to other people
/// read as something it is not, while each of them is invisible itself:
///
/// - U+202A–U+202E (LRE, RLE, PDF, LRO, RLO), the bidirectional embeddings and overrides, and
///   U+2066–U+2069 (LRI, RLI, FSI, PDI), the isolates: they reorder what follows them, so
///   "Bob\u{202E}nimda" shows as "Bobadmin", and a name can end a sentence the app builds around
///   it in the wrong direction ("Trojan Source", CVE-2021-42574).
/// - U+200E, U+200F and U+061C (LRM, RLM, ALM), the invisible direction marks of Unicode's
///   bidirectional algorithm (UAX #9), which move neighbouring punctuation and digits.
/// - U+200B–U+200D (zero width space, non-joiner, joiner), U+2060–U+2064 (word joiner and the
///   invisible operators) and U+FEFF (zero width no-break space): nothing on screen, so "Ada" and
///   "A\u{200B}da" look the same to the person choosing whom to talk to while being two names.
///
/// - Other characters that show nothing, or a blank, where they stand: U+00AD (soft hyphen),
///   U+034F (combining grapheme joiner), U+115F, U+1160, U+3164 and U+FFA0 (the Hangul fillers,
///   which make a name that looks empty), U+17B4 and U+17B5 (Khmer inherent vowels), U+180E
///   (Mongolian vowel separator), U+2028 and U+2029 (line and paragraph separators), U+206A–U+206F
///   (deprecated format controls) and U+FFF9–U+FFFB (interlinear annotation).
///
/// Variation selectors and tag characters stay allowed: emoji need them (❤️, flags of regions).
///
/// Refusing the joiners also refuses the emoji sequences built with U+200D (like 👩‍💻) and the
/// Persian and Indic spellings that need U+200C; a name is something to tell people apart by, and
/// a display name here is plain text chosen by anyone, so that is the side to err on.
pub fn is_deceptive_character(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}'..='\u{200F}' | '\u{061C}')
        || is_invisible_character(c)
}

/// The invisible characters among `is_deceptive_character`s (the rest are direction controls).
fn is_invisible_character(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
        || matches!(
            c,
            '\u{00AD}' | '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{17B4}' | '\u{17B5}'
        )
        || matches!(c, '\u{180E}' | '\u{2028}' | '\u{2029}' | '\u{206A}'..='\u{206F}' | '\u{FFF9}'..='\u{FFFB}')
}

/// `name_pattern` in words, for the document's descriptions.
pub const NAME_RULE: &str = "Shown to other people, so it may not hold control characters, invisible characters \
    (U+200B–U+200D, U+2060–U+2064, U+FEFF, U+00AD, U+034F, U+115F, U+1160, U+17B4, U+17B5, U+180E, U+2028, U+2029, \
    U+206A–U+206F, U+3164, U+FFA0, U+FFF9–U+FFFB) or text-direction controls (U+202A–U+202E, U+2066–U+2069, U+200E, \
    U+200F, U+061C), which could make it pass for another. White space around it is trimmed.";

/// What a display name, group title or device label may be, as the OpenAPI document states it:
/// no control or `is_deceptive_character`, and something besides white space (the validators
/// trim it, and refuse what is left empty). Built from the same predicates the validators use.
pub fn name_pattern() -> String {
    let refused = |c: char| c.is_control() || is_deceptive_character(c);
    let refused_class = character_class(refused);
    let blank_class = character_class(|c| refused(c) || c.is_whitespace());
    format!("^[^{refused_class}]*[^{blank_class}][^{refused_class}]*$")
}

/// The characters `keep` accepts, as the ranges of a regular expression class (`\u0000-\u001F…`).
/// Every such character here is in the Basic Multilingual Plane, where `\uXXXX` is read alike by
/// JavaScript, Python and every JSON Schema validator.
fn character_class(keep: impl Fn(char) -> bool) -> String {
    let mut class = String::new();
    let mut run: Option<(u32, u32)> = None;
    let close = |(first, last): (u32, u32), class: &mut String| {
        class.push_str(&format!("\\u{first:04X}"));
        if last > first {
            class.push_str(&format!("-\\u{last:04X}"));
        }
    };
    for c in (0..=0x10FFFF).filter_map(char::from_u32).filter(|&c| keep(c)) {
        let code = u32::from(c);
        assert!(code <= 0xFFFF, "U+{code:04X} is outside the Basic Multilingual Plane");
        run = match run {
            Some((first, last)) if last + 1 == code => Some((first, code)),
            Some(done) => {
                close(done, &mut class);
                Some((code, code))
            }
            None => Some((code, code)),
        };
    }
    if let Some(done) = run {
        close(done, &mut class);
    }
    class
}

/// Refuses control characters (U+0000–U+001F, U+007F–U+009F) and `is_deceptive_character`s in
/// `text`, naming the first one found: `what` starts the message ("The display name").
pub fn refuse_deceptive_characters(text: &str, code: &'static str, what: &str) -> Result<(), ApiError> {
    let Some(found) = text.chars().find(|&c| c.is_control() || is_deceptive_character(c)) else { return Ok(()) };
    let why = if found.is_control() {
        "a control character"
    } else if is_invisible_character(found) {
        "an invisible character, which makes names that look alike differ"
    } else {
        "an invisible text-direction control, which can make it display as other text"
    };
    Err(ApiError::bad_request(code, format!("{what} cannot contain U+{:04X}, {why}.", u32::from(found))))
}

pub fn validate_password(password: String) -> Result<String, ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::bad_request(
            "weak_password",
            format!("The password must be at least {MIN_PASSWORD_CHARS} characters."),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::bad_request(
            "invalid_password",
            format!("The password must be at most {MAX_PASSWORD_BYTES} bytes."),
        ));
    }
    Ok(password)
}

pub fn validate_title(raw: &str) -> Result<String, ApiError> {
    let title = raw.trim();
    let chars = title.chars().count();
    if chars == 0 || chars > MAX_TITLE_CHARS {
        return Err(ApiError::bad_request(
            "invalid_title",
            format!("A group title is 1 to {MAX_TITLE_CHARS} characters."),
        ));
    }
    refuse_deceptive_characters(title, "invalid_title", "A group title")?;
    Ok(title.to_string())
}

pub fn validate_client_msg_id(id: &str) -> Result<(), ApiError> {
    let chars = id.chars().count();
    if chars == 0 || chars > MAX_CLIENT_MSG_ID_CHARS {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("clientMsgId must be 1 to {MAX_CLIENT_MSG_ID_CHARS} characters."),
        ));
    }
    Ok(())
}

pub fn validate_epoch(epoch: i64) -> Result<i64, ApiError> {
    if epoch < 0 {
        return Err(ApiError::bad_request("invalid_field", "epoch cannot be negative."));
    }
    Ok(epoch)
}

/// A UUID as the server writes every id: 36 characters, hyphenated. The OpenAPI document gives
/// every id (`format: uuid`) this pattern, and ids in the URL are held to it.
pub const UUID_PATTERN: &str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// An id in the URL: only the hyphenated form, as the document says. (The uuid crate also reads
/// 32 bare hex digits, braces and `urn:uuid:`, which no client is told it may send.)
pub fn parse_uuid(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    let refused = || ApiError::bad_request("invalid_id", format!("{what} must be a UUID, not {raw:?}."));
    if raw.len() != 36 {
        return Err(refused());
    }
    Uuid::try_parse(raw).map_err(|_| refused())
}

/// Standard base64 of `min_bytes` to `max_bytes` bytes, with its padding, as `decode` reads it:
/// groups of four characters for three bytes, then a last group for one byte (`xx==`) or two
/// (`xxx=`). The engine refuses leftover bits in the last character, so before `==` it encodes
/// 2 bits (A, Q, g or w) and before `=` 4. Lengths alone cannot say how many bytes a string holds
/// (44 characters are 31 to 33 bytes), so the document's byte bounds are this pattern.
pub fn base64_pattern(min_bytes: usize, max_bytes: usize) -> String {
    const TAILS: [(usize, &str); 3] =
        [(0, ""), (1, "[A-Za-z0-9+/][AQgw]=="), (2, "[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=")];
    let mut alternatives = Vec::new();
    for (tail_bytes, tail) in TAILS {
        if max_bytes < tail_bytes {
            continue;
        }
        // Full groups g such that min_bytes <= 3g + tail_bytes <= max_bytes.
        let fewest = min_bytes.saturating_sub(tail_bytes).div_ceil(3);
        let most = (max_bytes - tail_bytes) / 3;
        if fewest > most {
            continue;
        }
        let groups = if fewest == most { format!("{{{most}}}") } else { format!("{{{fewest},{most}}}") };
        alternatives.push(format!("(?:[A-Za-z0-9+/]{{4}}){groups}{tail}"));
    }
    format!("^(?:{})$", alternatives.join("|"))
}

/// The length in base64 of `bytes` bytes, for the document's `minLength`/`maxLength`.
pub const fn base64_len(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

/// Decodes a base64 field that must be non-empty and at most `max` bytes.
pub fn decode(field: &str, raw: &str, max: usize) -> Result<Vec<u8>, ApiError> {
    let bytes = B64
        .decode(raw.as_bytes())
        .map_err(|_| ApiError::bad_request("invalid_field", format!("{field} must be standard base64.")))?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request("invalid_field", format!("{field} is empty.")));
    }
    if bytes.len() > max {
        return Err(ApiError::new(413, "too_large", format!("{field} is limited to {max} bytes.")));
    }
    Ok(bytes)
}

/// Like `decode`, for a field of exactly `len` bytes (a MAC, a signature).
pub fn decode_exact(field: &str, raw: &str, len: usize) -> Result<Vec<u8>, ApiError> {
    // Any other length is a malformed field (400), not a payload too large to take (413).
    let bytes = decode(field, raw, usize::MAX)?;
    if bytes.len() != len {
        return Err(ApiError::bad_request("invalid_field", format!("{field} is {len} bytes.")));
    }
    Ok(bytes)
}

pub fn encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_must_be_e164() {
        for ok in ["+1415555", "+447911123456", "+123456789012345"] {
            assert!(validate_phone(ok).is_ok(), "{ok}");
        }
        for bad in
            ["", "+", "14155550123", "+0123456789", "+1 415 555 0123", "+1234567890123456", "+12345a7890", "+123456"]
        {
            assert_eq!(validate_phone(bad).unwrap_err().code, "invalid_phone", "{bad}");
        }
    }

    #[test]
    fn display_names_are_1_to_64_characters_without_control_characters() {
        assert!(validate_display_name(&"é".repeat(64)).is_ok());
        assert_eq!(validate_display_name(&"é".repeat(65)).unwrap_err().code, "invalid_display_name");
        assert_eq!(validate_display_name("   ").unwrap_err().code, "invalid_display_name");
        assert_eq!(validate_display_name("a\u{0}b").unwrap_err().code, "invalid_display_name");
    }

    /// Every character the names refuse, as the comment on `is_deceptive_character` lists them.
    const REFUSED: &[char] = &[
        '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{2060}', '\u{2061}', '\u{2062}',
        '\u{2063}', '\u{2064}', '\u{FEFF}', '\u{00AD}', '\u{034F}', '\u{115F}', '\u{1160}', '\u{17B4}', '\u{17B5}',
        '\u{180E}', '\u{2028}', '\u{2029}', '\u{206A}', '\u{206B}', '\u{206C}', '\u{206D}', '\u{206E}', '\u{206F}',
        '\u{3164}', '\u{FFA0}', '\u{FFF9}', '\u{FFFA}', '\u{FFFB}',
    ];

    #[test]
    fn names_and_titles_refuse_bidi_controls_and_invisible_characters_anywhere() {
        for &c in REFUSED {
            // At either end a white-space one (U+2028, U+2029) is trimmed away, and so harmless.
            let ends = if c.is_whitespace() { vec![] } else { vec![format!("{c}Ada"), format!("Ada{c}")] };
            for text in [vec![format!("Bob{c}nimda")], ends].concat() {
                let err = validate_display_name(&text).unwrap_err();
                assert_eq!((err.status, err.code), (400, "invalid_display_name"), "{:?}", text);
                assert!(err.message.contains(&format!("U+{:04X}", u32::from(c))), "{}", err.message);
                assert_eq!(validate_title(&text).unwrap_err().code, "invalid_title", "{text:?}");
            }
        }
        let err = validate_display_name("Bob\u{202E}nimda").unwrap_err();
        assert_eq!(
            err.message,
            "The display name cannot contain U+202E, an invisible text-direction control, which can make it display \
             as other text."
        );
        let err = validate_title("A\u{200B}da").unwrap_err();
        assert_eq!(
            err.message,
            "A group title cannot contain U+200B, an invisible character, which makes names that look alike differ."
        );
        assert!(validate_title("x\u{7}").unwrap_err().message.contains("U+0007, a control character"));
    }

    #[test]
    fn only_the_listed_characters_are_refused() {
        let refused: Vec<u32> =
            (0..=0x10FFFF).filter_map(char::from_u32).filter(|&c| is_deceptive_character(c)).map(u32::from).collect();
        let mut listed: Vec<u32> = REFUSED.iter().map(|&c| u32::from(c)).collect();
        listed.sort();
        assert_eq!(refused, listed);
        // Their neighbours, and what names are made of, stay.
        for ok in ["Zoë", "مريم", "אבי", "李雷", "Ada 🙂", "O'Brien-Smith", "a\u{2009}b", "a\u{2065}b"] {
            assert!(validate_display_name(ok).is_ok(), "{ok:?}");
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Login {
        phone: String,
        password: String,
    }

    #[test]
    fn malformed_json_and_wrong_shapes_are_told_apart() {
        assert_eq!(parse_json::<Login>(b"{\"phone\":").unwrap_err().code, "invalid_json");
        assert_eq!(parse_json::<Login>(b"").unwrap_err().code, "invalid_json");
        assert_eq!(parse_json::<Login>(b"[1,2]").unwrap_err().code, "invalid_field");
        let err = parse_json::<Login>(br#"{"phone": 5, "password": "x"}"#).unwrap_err();
        assert_eq!(err.code, "invalid_field");
        assert!(err.message.contains("invalid type"), "{}", err.message);
        assert!(parse_json::<Login>(br#"{"password": "x"}"#).unwrap_err().message.contains("phone"));
    }

    #[test]
    fn text_with_nul_is_refused_and_only_that() {
        assert!(contains_escaped_nul(br#"{"q":"a\u0000"}"#));
        assert!(contains_escaped_nul(br#"{"q":"\\\u0000"}"#)); // an escaped backslash, then NUL
        assert!(!contains_escaped_nul(br#"{"q":"\\u0000"}"#)); // a backslash, then the text u0000
        assert!(!contains_escaped_nul(br#"{"q":"\u00e9 u0000"}"#));
        let err = parse_json::<serde_json::Value>(br#"{"displayName":"x\u0000"}"#).unwrap_err();
        assert_eq!((err.status, err.code), (400, "invalid_text"));
    }

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        let body = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(parse_json::<Login>(&body).unwrap_err().status, 413);
    }

    #[test]
    fn ids_must_be_hyphenated_uuids() {
        assert!(parse_uuid("6f1c1f9e-3b1a-4c55-9a39-8d2f0b1c2d3e", "peerId").is_ok());
        assert!(parse_uuid("6F1C1F9E-3B1A-4C55-9A39-8D2F0B1C2D3E", "peerId").is_ok());
        for other_forms in [
            "42",
            "6f1c1f9e3b1a4c559a398d2f0b1c2d3e",
            "{6f1c1f9e-3b1a-4c55-9a39-8d2f0b1c2d3e}",
            "urn:uuid:6f1c1f9e-3b1a-4c55-9a39-8d2f0b1c2d3e",
            "6f1c1f9e-3b1a-4c55-9a39-8d2f0b1c2d3g",
            "------------------------------------",
        ] {
            assert_eq!(parse_uuid(other_forms, "peerId").unwrap_err().code, "invalid_id", "{other_forms}");
        }
    }

    #[test]
    fn the_phone_pattern_says_what_validate_phone_does() {
        let digits_after_the_first = format!("{{{},{}}}", MIN_PHONE_DIGITS - 1, MAX_PHONE_DIGITS - 1);
        assert_eq!(PHONE_PATTERN, format!(r"^\+[1-9][0-9]{digits_after_the_first}$"));
    }

    #[test]
    fn the_name_pattern_excludes_controls_deceptive_characters_and_blank_names() {
        let pattern = name_pattern();
        assert!(
            pattern.starts_with(
                r"^[^\u0000-\u001F\u007F-\u009F\u00AD\u034F\u061C\u115F-\u1160\u17B4-\u17B5\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\u3164\uFEFF\uFFA0\uFFF9-\uFFFB]"
            ),
            "{pattern}"
        );
        // The middle class adds white space as Rust's trim sees it (space, U+00A0, U+3000, …).
        assert!(pattern.contains(r"[^\u0000-\u0020\u007F-\u00A0"), "{pattern}");
        assert!(pattern.contains(r"\u3000"), "{pattern}");
        assert!(pattern.ends_with("]*$"));
    }

    #[test]
    fn base64_patterns_bound_the_bytes_not_only_the_characters() {
        let group = "(?:[A-Za-z0-9+/]{4})";
        let (one, two) = ("[A-Za-z0-9+/][AQgw]==", "[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=");
        // 64 bytes: 21 groups and one byte over.
        assert_eq!(base64_pattern(64, 64), format!("^(?:{group}{{21}}{one})$"));
        // 32 bytes: 10 groups and two bytes over.
        assert_eq!(base64_pattern(32, 32), format!("^(?:{group}{{10}}{two})$"));
        assert_eq!(
            base64_pattern(1, 1024),
            format!("^(?:{group}{{1,341}}|{group}{{0,341}}{one}|{group}{{0,340}}{two})$")
        );
        assert_eq!(base64_pattern(3, 3), format!("^(?:{group}{{1}})$"));
    }

    #[test]
    fn base64_lengths() {
        assert_eq!((base64_len(1), base64_len(32), base64_len(64), base64_len(1024)), (4, 44, 88, 1368));
        assert_eq!(encode(&[0; 64]).len(), base64_len(64));
        assert_eq!(encode(&[7; 1024]).len(), base64_len(1024));
    }
}
