//! Plaintext message decoding under hard limits (`docs/WIRE.md`, section 4).
//!
//! One strict pass over the JSON checks the limits as it goes (before the
//! allocation each would bound), rejects duplicate keys at any depth and
//! unknown fields, and leaves the arguments borrowed from the plaintext
//! ([`Json`]).

mod json;

pub use json::{Json, Object};

pub(crate) use json::ArgSlots;
pub(crate) use json::{Fault, Parser};
use std::borrow::Cow;

/// Longest command or event name, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// Deepest nesting any policy may allow.
pub const MAX_DEPTH_CAP: usize = 128;
/// Largest caller-chosen call id (JavaScript's `Number.MAX_SAFE_INTEGER`).
pub const MAX_CALL_ID: u64 = (1 << 53) - 1;

/// Decoding limits; a policy may set its own (see `docs/POLICY.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest plaintext (length prefix, JSON and body), in bytes.
    pub max_message_bytes: usize,
    /// Deepest nesting of arrays and objects in the JSON (the message object is depth 1).
    pub max_depth: usize,
    /// Most entries in any one array or object.
    pub max_items: usize,
    /// Most keys in a command's `args`.
    pub max_args: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 1024 * 1024,
            max_depth: 32,
            max_items: 10_000,
            max_args: 64,
        }
    }
}

impl Limits {
    /// The longest binary envelope that can carry a message within these
    /// limits: the longest header (`docs/WIRE.md` section 2: version,
    /// lengths, the longest window and origin, the nonce), the plaintext
    /// and the tag. A host may refuse longer ones unread.
    pub fn max_envelope_len(&self) -> usize {
        use crate::envelope::{MAX_ORIGIN_LEN, TAG_LEN};
        const MAX_HEADER_LEN: usize =
            1 + 1 + crate::names::MAX_WINDOW_LEN + 2 + MAX_ORIGIN_LEN + 12;
        MAX_HEADER_LEN
            .saturating_add(self.max_message_bytes)
            .saturating_add(TAG_LEN)
    }
}

/// An opened, decoded message, borrowing from the plaintext.
#[derive(Debug, Clone, PartialEq)]
pub enum Message<'a> {
    /// A command call, which gets one reply.
    Invoke {
        /// Caller-chosen id, echoed in the reply.
        id: u64,
        /// Command name.
        cmd: Cow<'a, str>,
        /// Arguments (always an object).
        args: Json<'a>,
        /// Raw binary argument (may be empty).
        body: &'a [u8],
    },
    /// A fire-and-forget event.
    Emit {
        /// Event name.
        event: Cow<'a, str>,
        /// Payload.
        payload: Json<'a>,
    },
}

impl<'a> Message<'a> {
    /// The arguments (an object) of a command, or the payload of an event.
    pub fn args(&self) -> &Json<'a> {
        match self {
            Message::Invoke { args, .. } => args,
            Message::Emit { payload, .. } => payload,
        }
    }

    /// The command or event name.
    pub fn name(&self) -> &str {
        match self {
            Message::Invoke { cmd, .. } => cmd,
            Message::Emit { event, .. } => event,
        }
    }

    /// Which primitive this is.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Invoke { .. } => MessageKind::Invoke,
            Message::Emit { .. } => MessageKind::Emit,
        }
    }
}

/// What a message is: the two primitives the frontend sends (`invoke`,
/// `emit`), and `deliver`, an event the core sends to a window (policy
/// `deliver` rules, audit events). Only `invoke` and `emit` exist on the
/// wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// `invoke`: a command with one reply.
    Invoke,
    /// `emit`: an event without reply.
    Emit,
    /// `deliver`: an event from the core to a window.
    Deliver,
}

impl MessageKind {
    /// The name (`invoke`, `emit` or `deliver`).
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Invoke => "invoke",
            MessageKind::Emit => "emit",
            MessageKind::Deliver => "deliver",
        }
    }
}

/// Why a plaintext was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Not a valid message (layout, JSON, schema, names).
    Invalid,
    /// Over a size, depth or count limit.
    OverLimit,
}

impl<'a> Message<'a> {
    /// Decodes a plaintext (`u32 json_len || json || body`, `docs/WIRE.md`
    /// section 4) within `limits`, as the gate does after opening an
    /// envelope (for tools that decide on captured plaintexts).
    ///
    /// A JSON text that breaks a limit is `OverLimit` even when it is also
    /// invalid further on (or before: the limits are then found by a scan).
    pub fn decode(plaintext: &'a [u8], limits: &Limits) -> Result<Self, DecodeError> {
        decode_in(plaintext, limits, None)
    }
}

/// [`Message::decode`], with a command's arguments kept in `slots` (on the caller's
/// stack) while they fit: no allocation for them.
pub(crate) fn decode_in<'s, 'a: 's>(
    plaintext: &'a [u8],
    limits: &Limits,
    slots: Option<&'s mut ArgSlots<'a>>,
) -> Result<Message<'s>, DecodeError> {
    if plaintext.len() > limits.max_message_bytes {
        return Err(DecodeError::OverLimit);
    }
    let (len, rest) = plaintext
        .split_first_chunk::<4>()
        .ok_or(DecodeError::Invalid)?;
    let json_len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| DecodeError::Invalid)?;
    if json_len > rest.len() {
        return Err(DecodeError::Invalid);
    }
    let (json, body) = rest.split_at(json_len);
    let fields = match parse_fields(json, limits, slots) {
        Ok(fields) => fields,
        // Over a limit anywhere (not only before the first error) is
        // `OverLimit`, whatever else is wrong: a scan that allocates nothing
        // tells which.
        Err(e) => {
            return Err(match scan_limits(json, limits) {
                Err(DecodeError::OverLimit) => DecodeError::OverLimit,
                _ => e,
            })
        }
    };
    let message = match fields.kind.as_deref() {
        Some([b'i', b'n', b'v', b'o', b'k', b'e']) => {
            if fields.event.is_some() || fields.payload.is_some() {
                return Err(DecodeError::Invalid);
            }
            let id = fields.id.ok_or(DecodeError::Invalid)?;
            let cmd = fields.cmd.ok_or(DecodeError::Invalid)?;
            let args = fields.args.ok_or(DecodeError::Invalid)?;
            let arg_count = args.as_object().ok_or(DecodeError::Invalid)?.len();
            if id > MAX_CALL_ID || !valid_name(&cmd) {
                return Err(DecodeError::Invalid);
            }
            if arg_count > limits.max_args {
                return Err(DecodeError::OverLimit);
            }
            Message::Invoke {
                id,
                cmd,
                args,
                body,
            }
        }
        Some([b'e', b'm', b'i', b't']) => {
            if fields.id.is_some()
                || fields.cmd.is_some()
                || fields.args.is_some()
                || !body.is_empty()
            {
                return Err(DecodeError::Invalid);
            }
            let event = fields.event.ok_or(DecodeError::Invalid)?;
            let payload = fields.payload.ok_or(DecodeError::Invalid)?;
            if !valid_name(&event) {
                return Err(DecodeError::Invalid);
            }
            Message::Emit { event, payload }
        }
        _ => return Err(DecodeError::Invalid),
    };
    Ok(message)
}

/// The message object's fields, each at most once. A field given as `null`
/// is present (`"payload": null` is a valid payload; `"id": null` is
/// invalid).
#[derive(Debug, Default, PartialEq)]
struct Fields<'a> {
    kind: Option<Cow<'a, [u8]>>,
    id: Option<u64>,
    cmd: Option<Cow<'a, str>>,
    args: Option<Json<'a>>,
    event: Option<Cow<'a, str>>,
    payload: Option<Json<'a>>,
}

/// Parses the message object: known fields only, each once, of the right
/// JSON type, and nothing after it.
fn parse_fields<'s, 'a: 's>(
    json: &'a [u8],
    limits: &Limits,
    mut slots: Option<&'s mut ArgSlots<'a>>,
) -> Result<Fields<'s>, DecodeError> {
    let max_depth = limits.max_depth.min(MAX_DEPTH_CAP);
    // One UTF-8 check for the whole text: each string is then a slice of it.
    let json = std::str::from_utf8(json).map_err(|_| DecodeError::Invalid)?;
    if let Some(f) = frame_layout(json, max_depth, limits.max_items, &mut slots) {
        return Ok(f);
    }
    any_layout(json, max_depth, limits.max_items, slots)
}

/// The fields in any order and spacing, each at most once.
fn any_layout<'s, 'a: 's>(
    json: &'a str,
    max_depth: usize,
    max_items: usize,
    mut slots: Option<&'s mut ArgSlots<'a>>,
) -> Result<Fields<'s>, DecodeError> {
    fn once<T>(slot: &mut Option<T>, value: T) -> Result<(), DecodeError> {
        match slot.replace(value) {
            None => Ok(()),
            Some(_) => Err(DecodeError::Invalid),
        }
    }
    let mut p = Parser::new(json, max_depth, max_items);
    let mut f = Fields::default();
    p.open(b'{', 0)?;
    if !p.empty(b'}') {
        let mut count = 0;
        loop {
            let key = p.key_bytes()?;
            // Byte patterns, not `&str` ones: no `memcmp` call per field.
            match key.as_ref() {
                [b'k', b'i', b'n', b'd'] => once(&mut f.kind, p.string_bytes()?)?,
                [b'i', b'd'] => {
                    // A non-negative integer: `1.0`, `-0` and `1e2` are not.
                    let n = p.number()?.as_u64().ok_or(DecodeError::Invalid)?;
                    once(&mut f.id, n)?;
                }
                [b'c', b'm', b'd'] => once(&mut f.cmd, p.string()?)?,
                [b'a', b'r', b'g', b's'] => {
                    let args = match slots.take() {
                        Some(slots) => p.value_in(1, slots)?,
                        // Given twice (invalid): no slots left.
                        None => p.value(1)?,
                    };
                    once(&mut f.args, args)?;
                }
                [b'e', b'v', b'e', b'n', b't'] => once(&mut f.event, p.string()?)?,
                [b'p', b'a', b'y', b'l', b'o', b'a', b'd'] => once(&mut f.payload, p.value(1)?)?,
                _ => return Err(DecodeError::Invalid),
            }
            count += 1;
            if !p.more(b'}', count)? {
                break;
            }
        }
    }
    if !p.at_end() {
        return Err(DecodeError::Invalid);
    }
    Ok(f)
}

/// The fields read straight from the layout the isolation frame writes:
/// `frame.js` stringifies `{kind, id, cmd, args}` or `{kind, event,
/// payload}`, in that order and without whitespace, so the field names are
/// matched as one run of bytes each instead of parsed key by key. `None`
/// when the text differs from that layout anywhere or has any error (or the
/// limits are too tight for four fields): the general loop then reads it
/// from the start and finds the error. Either way the fields are the same.
fn frame_layout<'s, 'a: 's>(
    json: &'a str,
    max_depth: usize,
    max_items: usize,
    slots: &mut Option<&'s mut ArgSlots<'a>>,
) -> Option<Fields<'s>> {
    // The general loop's limit checks on the message object itself.
    if max_depth == 0 || max_items < 4 {
        return None;
    }
    let mut p = Parser::new(json, max_depth, max_items);
    let f = if p.skip(br#"{"kind":"invoke","id":"#) {
        let id = p.number().ok()?.as_u64()?;
        if !p.skip(br#","cmd":"#) {
            return None;
        }
        let cmd = p.string().ok()?;
        if !p.skip(br#","args":"#) {
            return None;
        }
        let args = match slots.take() {
            Some(slots) => p.value_in(1, slots).ok()?,
            None => p.value(1).ok()?,
        };
        Fields {
            kind: Some(Cow::Borrowed(b"invoke")),
            id: Some(id),
            cmd: Some(cmd),
            args: Some(args),
            ..Fields::default()
        }
    } else if p.skip(br#"{"kind":"emit","event":"#) {
        let event = p.string().ok()?;
        if !p.skip(br#","payload":"#) {
            return None;
        }
        Fields {
            kind: Some(Cow::Borrowed(b"emit")),
            event: Some(event),
            payload: Some(p.value(1).ok()?),
            ..Fields::default()
        }
    } else {
        return None;
    };
    (p.skip(b"}") && p.at_end()).then_some(f)
}

/// Encodes a message as a plaintext; the inverse of [`Message::decode`].
#[cfg(any(test, feature = "test-util"))]
pub fn encode(message: &Message<'_>) -> Vec<u8> {
    let (json, body): (serde_json::Value, &[u8]) = match message {
        Message::Invoke {
            id,
            cmd,
            args,
            body,
        } => (
            serde_json::json!({"kind": "invoke", "id": id, "cmd": cmd, "args": args}),
            body,
        ),
        Message::Emit { event, payload } => (
            serde_json::json!({"kind": "emit", "event": event, "payload": payload}),
            &[],
        ),
    };
    crate::danger::plaintext(&json.to_string(), body)
}

/// Whether a command or event name uses only the allowed alphabet and length.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'|' | b'/')
        })
}

/// Checks depth and per-container counts over the raw JSON bytes without
/// allocating, and without validating the JSON. Runs only once the parser
/// has failed, so that a text over a limit anywhere is `OverLimit` whatever
/// else is wrong with it, as when this scan ran first.
fn scan_limits(json: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    let max_depth = limits.max_depth.min(MAX_DEPTH_CAP);
    // Per open container: entries seen so far (a comma starts one more).
    // The JSON is at most 4 GiB (`json_len` is a u32), so a u32 holds any count.
    let mut counts = [0u32; MAX_DEPTH_CAP];
    let mut depth = 0usize;
    let mut i = 0usize;
    while let Some(&b) = json.get(i) {
        i += 1;
        match b {
            b'"' => match json::skip_string(json.get(i..).unwrap_or_default()) {
                Some(len) => i += len,
                // Unterminated: the parser refuses it.
                None => return Ok(()),
            },
            b'{' | b'[' => {
                if depth >= max_depth {
                    return Err(DecodeError::OverLimit);
                }
                if let Some(c) = counts.get_mut(depth) {
                    *c = 0;
                }
                depth += 1;
            }
            b'}' | b']' => depth = depth.checked_sub(1).ok_or(DecodeError::Invalid)?,
            b',' if depth > 0 => {
                let count = counts.get_mut(depth - 1).ok_or(DecodeError::Invalid)?;
                *count += 1;
                // `count` commas mean `count + 1` entries.
                if usize::try_from(*count).map_or(true, |c| c >= limits.max_items) {
                    return Err(DecodeError::OverLimit);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::danger::plaintext as plain;

    fn dec(json: &str) -> Result<Message<'static>, DecodeError> {
        let p: &'static [u8] = Box::leak(plain(json, b"").into_boxed_slice());
        Message::decode(p, &Limits::default())
    }

    #[test]
    fn decodes_invoke_and_emit() {
        let m = dec(r#"{"kind":"invoke","id":7,"cmd":"greet","args":{"name":"Ada"}}"#).unwrap();
        assert_eq!(m.name(), "greet");
        assert_eq!(m.kind(), MessageKind::Invoke);
        let e = dec(r#"{"kind":"emit","event":"clicked","payload":[1,2]}"#).unwrap();
        assert_eq!(
            e,
            Message::Emit {
                event: "clicked".into(),
                payload: Json::Array(vec![Json::Number(1u64.into()), Json::Number(2u64.into())])
            }
        );
    }

    #[test]
    fn arguments_in_stack_slots_decode_as_on_the_heap() {
        for n in [0, 1, 2, 7, 8, 9, 20] {
            // Keys in reverse order, so sorting matters in both regimes.
            let keys: Vec<String> = (0..n).rev().map(|i| format!("\"k{i:02}\":{i}")).collect();
            let dup = format!("{},\"k00\":0", keys.join(","));
            for (args, ok) in [(keys.join(","), true), (dup, false)] {
                if n == 0 && !ok {
                    continue;
                }
                let json = format!(r#"{{"kind":"invoke","id":1,"cmd":"c","args":{{{args}}}}}"#);
                let p = plain(&json, b"");
                let heap = Message::decode(&p, &Limits::default());
                let mut slots = ArgSlots::new();
                let stack = decode_in(&p, &Limits::default(), Some(&mut slots));
                assert_eq!(stack, heap, "{json}");
                assert_eq!(stack.is_ok(), ok, "{json}");
                if let Ok(m) = stack {
                    let o = m.args().as_object().unwrap();
                    assert_eq!(o.len(), n);
                    let sorted: Vec<String> = (0..n).map(|i| format!("k{i:02}")).collect();
                    assert!(o.keys().eq(sorted.iter().map(String::as_str)));
                    assert_eq!(o.get("k00").and_then(Json::as_u64), (n > 0).then_some(0));
                }
            }
        }
        // Arguments given twice: the second has no slots left, still invalid.
        let p = plain(
            r#"{"kind":"invoke","id":1,"cmd":"c","args":{},"args":{}}"#,
            b"",
        );
        let mut slots = ArgSlots::new();
        assert_eq!(
            decode_in(&p, &Limits::default(), Some(&mut slots)),
            Err(DecodeError::Invalid)
        );
    }

    #[test]
    fn the_frame_layout_reads_as_any_layout() {
        let texts = [
            r#"{"kind":"invoke","id":7,"cmd":"greet","args":{"name":"Ada"}}"#,
            r#"{"kind":"invoke","id":0,"cmd":"a\u0062","args":{}}"#,
            r#"{"kind":"invoke","id":9007199254740991,"cmd":"c","args":{"b":[1,{"c":null}],"a":"\n"}}"#,
            r#"{"kind":"invoke","id":1,"cmd":"c","args":{"k":1}}  "#,
            r#"{"kind":"invoke","id": 1,"cmd": "c","args": {"k":1}}"#,
            r#"{"kind":"emit","event":"clicked","payload":[1,2]}"#,
            r#"{"kind":"emit","event":"e","payload":null}"#,
            // Not the layout, or not valid: the general loop decides.
            r#"{"kind":"invoke","id":1,"cmd":"c","args":{},"cmd":"d"}"#,
            r#"{"kind":"invoke","id":1,"cmd":"c","args":{}} x"#,
            r#"{"kind":"invoke","id":1.0,"cmd":"c","args":{}}"#,
            r#"{"kind":"invoke","id":-0,"cmd":"c","args":{}}"#,
            r#"{"kind":"invoke","id":1,"cmd":"c","args":{"a":1,"a":2}}"#,
            r#"{"kind":"invoke","id":1,"cmd":"c","args":[]}"#,
            r#"{"kind":"invoke","id":1,"cmd":"c","args":{"#,
            r#"{"kind":"emit","event":"e","payload":1,"id":1}"#,
            r#"{"kind":"invoke","cmd":"c","id":1,"args":{}}"#,
            r#" {"kind":"invoke","id":1,"cmd":"c","args":{}}"#,
        ];
        for (i, text) in texts.iter().enumerate() {
            for (depth, items) in [(32, 10_000), (1, 10_000), (2, 3), (2, 4), (0, 10)] {
                let general = any_layout(text, depth, items, None);
                let mut slots = ArgSlots::new();
                let mut slot_ref = Some(&mut slots);
                match frame_layout(text, depth, items, &mut slot_ref) {
                    Some(fast) => assert_eq!(Ok(fast), general, "{text} at {depth}/{items}"),
                    // The first seven are what the frame writes: read by
                    // the shorter path under the default limits.
                    None => assert!(i >= 7 || depth != 32, "{text} not read by the frame layout"),
                }
            }
        }
    }

    #[test]
    fn call_ids_are_integers_in_range() {
        // `docs/WIRE.md` section 4: an integer as `docs/POLICY.md` section 8
        // defines it (no fraction, no exponent; `-0` is 0), 0 to 2^53 - 1.
        for (id, want) in [
            ("0", Some(0)),
            ("-0", Some(0)),
            ("7", Some(7)),
            ("9007199254740991", Some(MAX_CALL_ID)),
            ("9007199254740992", None),
            ("18446744073709551616", None),
            ("-1", None),
            ("1.0", None),
            ("1e0", None),
            ("0.0", None),
            ("-0.0", None),
            ("0e0", None),
            ("1e400", None),
            ("01", None),
            ("+1", None),
        ] {
            // The frame's layout (read by the shorter path) and another one.
            for json in [
                format!(r#"{{"kind":"invoke","id":{id},"cmd":"c","args":{{}}}}"#),
                format!(r#"{{"cmd":"c", "args":{{}}, "id": {id}, "kind":"invoke"}}"#),
            ] {
                let got = dec(&json).ok().map(|m| match m {
                    Message::Invoke { id, .. } => id,
                    Message::Emit { .. } => u64::MAX,
                });
                assert_eq!(got, want, "{json}");
            }
        }
    }

    #[test]
    fn body_travels_after_the_json() {
        let p = plain(
            r#"{"kind":"invoke","id":1,"cmd":"up","args":{}}"#,
            &[0, 255, 7],
        );
        match Message::decode(&p, &Limits::default()).unwrap() {
            Message::Invoke { body, .. } => assert_eq!(body, &[0, 255, 7]),
            other => panic!("{other:?}"),
        }
        let e = plain(r#"{"kind":"emit","event":"e","payload":null}"#, &[1]);
        assert_eq!(
            Message::decode(&e, &Limits::default()),
            Err(DecodeError::Invalid)
        );
    }

    #[test]
    fn rejects_schema_violations() {
        for bad in [
            r#"{"kind":"invoke","id":1,"cmd":"a","args":{},"extra":1}"#,
            r#"{"kind":"invoke","id":1,"cmd":"a","cmd":"b","args":{}}"#,
            r#"{"kind":"invoke","id":1,"cmd":"a","args":{"x":1,"x":2}}"#,
            r#"{"kind":"invoke","id":1,"cmd":"a","args":{"n":{"x":1,"x":2}}}"#,
            r#"{"kind":"invoke","id":1,"cmd":"a","args":[]}"#,
            r#"{"kind":"invoke","id":-1,"cmd":"a","args":{}}"#,
            r#"{"kind":"invoke","id":9007199254740992,"cmd":"a","args":{}}"#,
            r#"{"kind":"invoke","cmd":"a","args":{}}"#,
            r#"{"kind":"invoke","id":1,"cmd":"","args":{}}"#,
            r#"{"kind":"invoke","id":1,"cmd":"a b","args":{}}"#,
            r#"{"kind":"emit","event":"e","payload":1,"id":1}"#,
            r#"{"kind":"emit","event":"e"}"#,
            r#"{"kind":"other","event":"e","payload":1}"#,
            r#"{"kind":"invoke","id":1,"cmd":"a","args":{}} "x""#,
            r#"[]"#,
            "",
        ] {
            assert_eq!(dec(bad).err(), Some(DecodeError::Invalid), "{bad}");
        }
        assert_eq!(
            Message::decode(&[0, 0, 0, 9, b'{'], &Limits::default()),
            Err(DecodeError::Invalid)
        );
        assert_eq!(
            Message::decode(&[0, 0], &Limits::default()),
            Err(DecodeError::Invalid)
        );
        // Invalid UTF-8 in a string, raw, next to an escape, or a surrogate
        // encoded directly; and a non-ASCII byte outside strings.
        let head = br#"{"kind":"invoke","id":1,"cmd":"a","args":{"s":"#;
        let ok = [&head[..], "\"é\\n\"}}".as_bytes()].concat();
        let mut p = (ok.len() as u32).to_be_bytes().to_vec();
        p.extend_from_slice(&ok);
        assert!(Message::decode(&p, &Limits::default()).is_ok());
        for bad in [
            &b"\"\xff\"}}"[..],
            b"\"a\\n\xc3\"}}",
            b"[\"\xed\xa0\x80\"]}}",
            b"1\xc3\xa9}}",
        ] {
            let json = [&head[..], bad].concat();
            let mut p = (json.len() as u32).to_be_bytes().to_vec();
            p.extend_from_slice(&json);
            assert_eq!(
                Message::decode(&p, &Limits::default()),
                Err(DecodeError::Invalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn limits_are_enforced_before_parsing() {
        let deep = format!(
            r#"{{"kind":"emit","event":"e","payload":{}{}}}"#,
            "[".repeat(40),
            "]".repeat(40)
        );
        assert_eq!(dec(&deep).err(), Some(DecodeError::OverLimit));
        let many = format!(
            r#"{{"kind":"emit","event":"e","payload":[{}0]}}"#,
            "0,".repeat(10_000)
        );
        assert_eq!(dec(&many).err(), Some(DecodeError::OverLimit));
        let ok = format!(
            r#"{{"kind":"emit","event":"e","payload":[{}0]}}"#,
            "0,".repeat(9_998)
        );
        assert!(dec(&ok).is_ok());
        let args: Vec<String> = (0..65).map(|i| format!(r#""a{i}":1"#)).collect();
        let wide = format!(
            r#"{{"kind":"invoke","id":1,"cmd":"c","args":{{{}}}}}"#,
            args.join(",")
        );
        assert_eq!(dec(&wide).err(), Some(DecodeError::OverLimit));
        let small = Limits {
            max_message_bytes: 10,
            ..Limits::default()
        };
        assert_eq!(
            Message::decode(&plain("{}", &[0; 20]), &small),
            Err(DecodeError::OverLimit)
        );
        // Brackets inside strings do not count.
        let quoted = format!(
            r#"{{"kind":"emit","event":"e","payload":"{}"}}"#,
            "[".repeat(100)
        );
        assert!(dec(&quoted).is_ok());
    }

    #[test]
    fn encode_round_trips() {
        let json = r#"{"kind":"invoke","id":3,"cmd":"c","args":{"b":[1,{"c":null}]}}"#;
        let p = plain(json, b"xyz");
        let m = Message::decode(&p, &Limits::default()).unwrap();
        let again = encode(&m);
        assert_eq!(Message::decode(&again, &Limits::default()).unwrap(), m);
    }

    #[test]
    fn block_scan_agrees_with_the_byte_scan() {
        let limits = Limits {
            max_depth: 4,
            max_items: 5,
            ..Limits::default()
        };
        // A control character too: the scan passes over it in a string.
        let alphabet = b"\"\\{}[],a \x01";
        let mut next = crate::test_rng::xorshift(12345);
        for len in 0..200usize {
            for _ in 0..50 {
                let json: Vec<u8> = (0..len)
                    .map(|_| {
                        let x = next();
                        // Mostly plain bytes, so strings cross 16-byte blocks.
                        let r = (x % 64) as usize;
                        alphabet.get(r).copied().unwrap_or(b'x')
                    })
                    .collect();
                assert_eq!(
                    scan_limits(&json, &limits),
                    // The byte-at-a-time scanner the block skipping replaced.
                    crate::fuzzing::oracle::scan_limits(&json, &limits),
                    "{:?}",
                    String::from_utf8_lossy(&json)
                );
            }
        }
        let long = format!(r#"["{}\\"{}",1,2]"#, "a".repeat(40), "b".repeat(33));
        assert_eq!(scan_limits(long.as_bytes(), &limits), Ok(()));
        let escaped_end = format!(r#"["{}\\"#, "a".repeat(31));
        assert_eq!(scan_limits(escaped_end.as_bytes(), &limits), Ok(()));
    }
}
