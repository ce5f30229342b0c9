//! The message decoder as it was before the one-pass parser (commit
//! `fbfc8ab`, `src/message.rs`): a limit scan, then `serde_json` into a
//! strict `serde_json::Value` (duplicate keys refused at any depth, unknown
//! fields refused, a field given as `null` present). Kept verbatim in
//! behaviour as the oracle `message_differential` holds the new decoder to.
//!
//! Only the limit scan differs in form: this is the byte-at-a-time scanner
//! that the block-skipping `scan_limits` replaced (`src/message/mod.rs`
//! tests it against this form).
//!
//! Two documented differences can be switched on: [`Arrays::Refused`] and
//! [`MinusZero::Integer`].

use crate::message::{valid_name, DecodeError, Limits, MessageKind, MAX_CALL_ID, MAX_DEPTH_CAP};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// A message the old decoder accepted.
#[derive(Debug)]
pub(super) struct Decoded<'a> {
    pub(super) kind: MessageKind,
    /// `None` for an event.
    pub(super) id: Option<u64>,
    pub(super) name: Cow<'a, str>,
    /// A command's arguments or an event's payload.
    pub(super) args: Value,
    /// Empty for an event.
    pub(super) body: &'a [u8],
}

/// How the oracle reads a JSON array where the message object belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arrays {
    /// As the old decoder did: serde's derived `Deserialize` also takes a
    /// struct as the sequence of its fields in declaration order, so
    /// `["invoke",1,"greet",{}]` was a valid command.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the tests pin the old decoder's behaviour")
    )]
    Accepted,
    /// As `docs/WIRE.md` section 4 says ("one object"): invalid.
    Refused,
}

/// How the oracle reads the number `-0` (no fraction, no exponent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MinusZero {
    /// As the old decoder did, with serde_json: the double -0.0 (so not an
    /// integer, and not a valid call id).
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the tests pin the old decoder's behaviour")
    )]
    Double,
    /// As `docs/POLICY.md` section 8 says (and `docs/WIRE.md` section 4 for
    /// the call id): the integer 0. The text is rewritten before serde_json
    /// reads it: each `-0` token outside strings becomes ` 0`.
    Integer,
}

/// The old `message::decode`. With [`Arrays::Refused`], a message JSON
/// that is an array (which passed the limit scan) is invalid instead of
/// being read as the sequence of the message's fields. With
/// [`MinusZero::Integer`], `-0` is read as `0`. Nothing else changes.
pub(super) fn decode<'a>(
    plaintext: &'a [u8],
    limits: &Limits,
    arrays: Arrays,
    minus_zero: MinusZero,
) -> Result<Decoded<'a>, DecodeError> {
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
    scan_limits(json, limits)?;
    if arrays == Arrays::Refused && is_array(json) {
        return Err(DecodeError::Invalid);
    }
    let json = match minus_zero {
        MinusZero::Double => Cow::Borrowed(json),
        MinusZero::Integer => minus_zero_as_zero(json),
    };
    let raw: RawMessage<'_> = serde_json::from_slice(&json).map_err(|_| DecodeError::Invalid)?;
    let message = match raw.kind.as_ref() {
        "invoke" => {
            if raw.event.is_some() || raw.payload.is_some() {
                return Err(DecodeError::Invalid);
            }
            let id = raw.id.ok_or(DecodeError::Invalid)?;
            let cmd = raw.cmd.ok_or(DecodeError::Invalid)?;
            let args = raw.args.ok_or(DecodeError::Invalid)?.0;
            let arg_count = args.as_object().ok_or(DecodeError::Invalid)?.len();
            if id > MAX_CALL_ID || !valid_name(&cmd) {
                return Err(DecodeError::Invalid);
            }
            if arg_count > limits.max_args {
                return Err(DecodeError::OverLimit);
            }
            Decoded {
                kind: MessageKind::Invoke,
                id: Some(id),
                name: Cow::Owned(cmd.into_owned()),
                args,
                body,
            }
        }
        "emit" => {
            if raw.id.is_some() || raw.cmd.is_some() || raw.args.is_some() || !body.is_empty() {
                return Err(DecodeError::Invalid);
            }
            let event = raw.event.ok_or(DecodeError::Invalid)?;
            let payload = raw.payload.ok_or(DecodeError::Invalid)?.0;
            if !valid_name(&event) {
                return Err(DecodeError::Invalid);
            }
            Decoded {
                kind: MessageKind::Emit,
                id: None,
                name: Cow::Owned(event.into_owned()),
                args: payload,
                body: &[],
            }
        }
        _ => return Err(DecodeError::Invalid),
    };
    Ok(message)
}

/// `json` with every `-0` token outside strings (a `-` after no letter,
/// digit, `.`, `+` or `-`, then a `0`, then neither a digit, `.`, `e` nor
/// `E`) written ` 0`: the same length, the
/// same structure for the limit scan, and where a value may start both
/// are a value; where none may, both are an error.
fn minus_zero_as_zero(json: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in json.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            // Not an exponent's sign (`0e-0`): after `e`, `E` and anything
            // else a number holds, a `-` starts no number.
            b'-' if !i
                .checked_sub(1)
                .and_then(|p| json.get(p))
                .is_some_and(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'))
                && json.get(i + 1) == Some(&b'0')
                && !json
                    .get(i + 2)
                    .is_some_and(|&c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E')) =>
            {
                let text = out.get_or_insert_with(|| json.to_vec());
                if let Some(minus) = text.get_mut(i) {
                    *minus = b' ';
                }
            }
            _ => {}
        }
    }
    match out {
        Some(text) => Cow::Owned(text),
        None => Cow::Borrowed(json),
    }
}

/// Whether the JSON text's first token opens an array.
fn is_array(json: &[u8]) -> bool {
    json.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|&b| b == b'[')
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessage<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    // `present`: a field given as `null` is present (`"payload": null` is a
    // valid payload; `"id": null` is invalid), not absent as serde's
    // `Option` would have it.
    #[serde(default, deserialize_with = "present")]
    id: Option<u64>,
    #[serde(borrow, default, deserialize_with = "present")]
    cmd: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "present")]
    args: Option<StrictValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    event: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "present")]
    payload: Option<StrictValue>,
}

/// Deserializes a field that is in the JSON; absence is `default`'s `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A JSON value whose objects have no duplicate keys, at any depth.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let StrictValue(v) = map.next_value()?;
            if out.insert(key.into_owned(), v).is_some() {
                return Err(de::Error::custom("duplicate key"));
            }
        }
        Ok(Value::Object(out))
    }
}

/// Depth and per-container counts over the raw JSON bytes, a byte at a
/// time: `OverLimit` at the first container deeper than `max_depth` (capped
/// at `MAX_DEPTH_CAP`) or the first comma that starts an entry past
/// `max_items`, `Invalid` at a close with nothing open, `Ok` otherwise
/// (also for an unterminated string). Brackets and commas inside strings do
/// not count; a backslash in a string escapes the byte after it.
pub(crate) fn scan_limits(json: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    let max_depth = limits.max_depth.min(MAX_DEPTH_CAP);
    let mut counts = [0usize; MAX_DEPTH_CAP];
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
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
                if *count >= limits.max_items {
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
    use crate::message;

    fn huge() -> Limits {
        Limits {
            max_message_bytes: usize::MAX,
            max_depth: usize::MAX,
            max_items: usize::MAX,
            max_args: usize::MAX,
        }
    }

    fn old(json: &str, limits: &Limits) -> Result<(MessageKind, Value), DecodeError> {
        let p = crate::danger::plaintext(json, b"");
        decode(&p, limits, Arrays::Accepted, MinusZero::Double).map(|d| (d.kind, d.args))
    }

    fn new(json: &str, limits: &Limits) -> Result<(MessageKind, Value), DecodeError> {
        let p = crate::danger::plaintext(json, b"");
        message::decode(&p, limits).map(|m| (m.kind(), m.args().to_value()))
    }

    fn emit(payload: &str) -> String {
        format!(r#"{{"kind":"emit","event":"e","payload":{payload}}}"#)
    }

    #[test]
    fn the_old_decoder_read_an_array_as_the_message_fields() {
        let d = Limits::default();
        let json = r#"["invoke",7,"greet",{"name":"Ada"}]"#;
        assert_eq!(
            old(json, &d),
            Ok((MessageKind::Invoke, serde_json::json!({"name": "Ada"})))
        );
        let p = crate::danger::plaintext(json, b"");
        assert_eq!(
            decode(&p, &d, Arrays::Refused, MinusZero::Integer).err(),
            Some(DecodeError::Invalid)
        );
        assert_eq!(new(json, &d), Err(DecodeError::Invalid));
        super::super::message_differential(&p);
    }

    #[test]
    fn minus_zero_is_read_as_zero_when_asked() {
        let d = Limits::default();
        let json = r#"{"kind":"invoke","id":-0,"cmd":"a","args":{"a":-0,"b":[-0,-0.0,-0e1,0e-0,-01],"-0":"-0"}}"#;
        let p = crate::danger::plaintext(json, b"");
        // The old decoder: -0.0, which is no call id.
        assert_eq!(old(json, &d), Err(DecodeError::Invalid));
        let rewritten = minus_zero_as_zero(json.as_bytes());
        assert_eq!(
            std::str::from_utf8(&rewritten).unwrap(),
            r#"{"kind":"invoke","id": 0,"cmd":"a","args":{"a": 0,"b":[ 0,-0.0,-0e1,0e-0,-01],"-0":"-0"}}"#
        );
        // `-01` is no JSON, before and after.
        assert_eq!(
            decode(&p, &d, Arrays::Refused, MinusZero::Integer).err(),
            Some(DecodeError::Invalid)
        );
        let ok = json.replace(",-01", "");
        let p = crate::danger::plaintext(&ok, b"");
        let r = decode(&p, &d, Arrays::Refused, MinusZero::Integer).unwrap();
        assert_eq!(r.id, Some(0));
        assert_eq!(
            r.args.to_string(),
            r#"{"-0":"-0","a":0,"b":[0,-0.0,-0.0,0.0]}"#
        );
        assert_eq!(new(&ok, &d), Ok((MessageKind::Invoke, r.args.clone())));
        super::super::message_differential(&p);
    }

    #[test]
    fn whitespace_before_the_id() {
        for json in [
            r#"{"kind":"invoke","id": 1,"cmd":"a","args":{}}"#,
            "{\"kind\":\"invoke\",\"id\":\n\t\r 1,\"cmd\":\"a\",\"args\":{}}",
        ] {
            let d = Limits::default();
            assert_eq!(
                old(json, &d),
                Ok((MessageKind::Invoke, serde_json::json!({})))
            );
            assert_eq!(new(json, &d), old(json, &d), "{json}");
        }
    }

    #[test]
    fn numbers_with_huge_exponents_and_many_digits() {
        let d = Limits::default();
        // 0.000…1 (70,000 zeros) times 10^655360: infinite, out of range.
        let tiny_times_huge = emit(&format!("0.{}1e655360", "0".repeat(70_000)));
        assert_eq!(old(&tiny_times_huge, &d), Err(DecodeError::Invalid));
        assert_eq!(new(&tiny_times_huge, &d), old(&tiny_times_huge, &d));
        // 10^70000 times 10^-700000: zero.
        let huge_times_tiny = emit(&format!("1{}e-700000", "0".repeat(70_000)));
        assert_eq!(
            old(&huge_times_tiny, &d),
            Ok((MessageKind::Emit, serde_json::json!(0.0)))
        );
        assert_eq!(new(&huge_times_tiny, &d), old(&huge_times_tiny, &d));
        // 10^70000 times 10^-69999 is 10.
        let ten = emit(&format!("1{}e-69999", "0".repeat(70_000)));
        assert_eq!(
            old(&ten, &d),
            Ok((MessageKind::Emit, serde_json::json!(10.0)))
        );
        assert_eq!(new(&ten, &d), old(&ten, &d));
    }

    #[test]
    fn serde_json_nested_at_most_127_deep() {
        // The message object is depth 1: a payload 126 deep is 127 in all.
        let at = |n: usize| emit(&format!("{}{}", "[".repeat(n), "]".repeat(n)));
        assert!(old(&at(126), &huge()).is_ok());
        assert_eq!(new(&at(126), &huge()), old(&at(126), &huge()));
        assert_eq!(old(&at(127), &huge()), Err(DecodeError::Invalid));
        assert_eq!(new(&at(127), &huge()), old(&at(127), &huge()));
        assert_eq!(old(&at(128), &huge()), Err(DecodeError::OverLimit));
        assert_eq!(new(&at(128), &huge()), old(&at(128), &huge()));
    }
}
