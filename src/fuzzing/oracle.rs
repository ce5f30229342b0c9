//! The oracle the crate's JSON reader is held to: `serde_json`, plus the
//! rules the documents add to JSON.
//!
//! - Messages (`docs/WIRE.md` section 4): the framing `u32 json_len ||
//!   json || body`, the size limit, a limit scan over the raw bytes (a
//!   text over a depth or count limit anywhere is `OverLimit`, even when it
//!   is also invalid), then `serde_json` into a `Value` that refuses
//!   duplicate keys at any depth, then the field rules.
//! - Policy files: `serde_json` into a `Value` that keeps the first of
//!   duplicate keys and counts the others.
//!
//! Where serde_json reads JSON differently from the documents, the oracle
//! follows the documents:
//!
//! - `-0` (no fraction, no exponent) is the integer 0 (`docs/POLICY.md`
//!   section 8), where serde_json reads the double -0.0: the text is
//!   rewritten before serde_json reads it ([`minus_zero_as_zero`]).
//! - serde_json refuses a 128th nested container. For messages that is
//!   also the documented cap (`docs/WIRE.md` section 4: more than 127 is
//!   invalid). A policy file may nest 128 deep: the oracle has no answer
//!   for a text exactly 128 deep ([`PolicyJson::TooDeepForSerde`]).

use crate::message::{valid_name, DecodeError, Limits, MessageKind, MAX_CALL_ID, MAX_DEPTH_CAP};
use crate::policy::json::MAX_JSON_DEPTH;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// A message the oracle accepts.
#[derive(Debug)]
pub(super) struct Decoded<'a> {
    pub(super) kind: MessageKind,
    /// `None` for an event.
    pub(super) id: Option<u64>,
    pub(super) name: String,
    /// A command's arguments or an event's payload.
    pub(super) args: Value,
    /// Empty for an event.
    pub(super) body: &'a [u8],
}

/// `message::decode` as the documents state it, on serde_json.
pub(super) fn decode<'a>(plaintext: &'a [u8], limits: &Limits) -> Result<Decoded<'a>, DecodeError> {
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
    let (value, duplicates) = read(&minus_zero_as_zero(json)).ok_or(DecodeError::Invalid)?;
    let Value::Object(mut fields) = value else {
        return Err(DecodeError::Invalid);
    };
    if duplicates > 0
        || fields.keys().any(|k| {
            !matches!(
                k.as_str(),
                "kind" | "id" | "cmd" | "args" | "event" | "payload"
            )
        })
    {
        return Err(DecodeError::Invalid);
    }
    let string = |v: Option<Value>| match v {
        Some(Value::String(s)) => Ok(s),
        _ => Err(DecodeError::Invalid),
    };
    let kind = string(fields.remove("kind"))?;
    match kind.as_str() {
        "invoke" => {
            if fields.contains_key("event") || fields.contains_key("payload") {
                return Err(DecodeError::Invalid);
            }
            // An integer (`u64`), not a double such as `1.0`.
            let id = fields
                .get("id")
                .and_then(Value::as_u64)
                .filter(|&id| id <= MAX_CALL_ID)
                .ok_or(DecodeError::Invalid)?;
            let cmd = string(fields.remove("cmd"))?;
            let args = fields.remove("args").ok_or(DecodeError::Invalid)?;
            let arg_count = args.as_object().ok_or(DecodeError::Invalid)?.len();
            if !valid_name(&cmd) {
                return Err(DecodeError::Invalid);
            }
            if arg_count > limits.max_args {
                return Err(DecodeError::OverLimit);
            }
            Ok(Decoded {
                kind: MessageKind::Invoke,
                id: Some(id),
                name: cmd,
                args,
                body,
            })
        }
        "emit" => {
            if ["id", "cmd", "args"]
                .iter()
                .any(|k| fields.contains_key(*k))
                || !body.is_empty()
            {
                return Err(DecodeError::Invalid);
            }
            let event = string(fields.remove("event"))?;
            let payload = fields.remove("payload").ok_or(DecodeError::Invalid)?;
            if !valid_name(&event) {
                return Err(DecodeError::Invalid);
            }
            Ok(Decoded {
                kind: MessageKind::Emit,
                id: None,
                name: event,
                args: payload,
                body: &[],
            })
        }
        _ => Err(DecodeError::Invalid),
    }
}

/// What the oracle says of a policy file's JSON.
#[derive(Debug, PartialEq)]
pub(super) enum PolicyJson {
    /// JSON: its value (the first of duplicate keys kept) and how many
    /// keys were duplicates.
    Json(Value, usize),
    /// Not JSON, or a byte order mark, or nested deeper than
    /// `MAX_JSON_DEPTH`.
    Refused,
    /// Nested exactly `MAX_JSON_DEPTH` (128) deep, which the policy reader
    /// accepts and serde_json cannot read.
    TooDeepForSerde,
}

/// `policy::json::parse` as the documents state it, on serde_json.
pub(super) fn policy_json(text: &str) -> PolicyJson {
    // serde_json refuses a byte order mark as it refuses any other byte
    // before the value; the policy reader says so in its own words.
    match nesting(text.as_bytes()) {
        n if n > MAX_JSON_DEPTH => PolicyJson::Refused,
        n => match read(&minus_zero_as_zero(text.as_bytes())) {
            Some((value, duplicates)) => PolicyJson::Json(value, duplicates),
            None if n == MAX_JSON_DEPTH => PolicyJson::TooDeepForSerde,
            None => PolicyJson::Refused,
        },
    }
}

/// serde_json's `Value` of `json`, the first of duplicate keys kept, and
/// how many keys were duplicates; `None` when it is not JSON.
fn read(json: &[u8]) -> Option<(Value, usize)> {
    let mut duplicates = 0;
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = Counting(&mut duplicates).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some((value, duplicates))
}

/// Reads a value, counting duplicate keys at any depth.
struct Counting<'c>(&'c mut usize);

impl<'de> DeserializeSeed<'de> for Counting<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Counting<'_> {
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
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Counting(&mut *self.0))? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let v = map.next_value_seed(Counting(&mut *self.0))?;
            if out.contains_key(key.as_ref()) {
                *self.0 += 1;
            } else {
                out.insert(key.into_owned(), v);
            }
        }
        Ok(Value::Object(out))
    }
}

/// `json` with every `-0` token outside strings (a `-` after no letter,
/// digit, `.`, `+` or `-`, then a `0`, then neither a digit, `.`, `e` nor
/// `E`) written ` 0`: the same length, the same structure for the limit
/// scan, and where a value may start both are a value; where none may,
/// both are an error.
fn minus_zero_as_zero(json: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    for (i, (b, in_string)) in outside_strings(json).enumerate() {
        match b {
            _ if in_string => {}
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

/// Depth and per-container counts over the raw JSON bytes, a byte at a
/// time: `OverLimit` at the first container deeper than `max_depth` (capped
/// at `MAX_DEPTH_CAP`) or the first comma that starts an entry past
/// `max_items`, `Invalid` at a close with nothing open, `Ok` otherwise
/// (also for an unterminated string). Brackets and commas inside strings do
/// not count; a backslash in a string escapes the byte after it.
pub(crate) fn scan_limits(json: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    let max_depth = limits.max_depth.min(MAX_DEPTH_CAP);
    let mut counts = [0usize; MAX_DEPTH_CAP];
    let mut depth = 0usize;
    for (b, in_string) in outside_strings(json) {
        if in_string {
            continue;
        }
        match b {
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

/// The deepest nesting of brackets outside strings.
fn nesting(json: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for (b, in_string) in outside_strings(json) {
        match b {
            _ if in_string => {}
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Each byte, and whether it is inside a string (quotes included; a
/// backslash in a string escapes the byte after it).
fn outside_strings(json: &[u8]) -> impl Iterator<Item = (u8, bool)> + '_ {
    let (mut in_string, mut escaped) = (false, false);
    json.iter().map(move |&b| {
        let inside = in_string;
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        }
        (b, inside || b == b'"')
    })
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

    fn oracle(json: &str, limits: &Limits) -> Result<(MessageKind, Value), DecodeError> {
        let p = crate::danger::plaintext(json, b"");
        decode(&p, limits).map(|d| (d.kind, d.args))
    }

    fn ours(json: &str, limits: &Limits) -> Result<(MessageKind, Value), DecodeError> {
        let p = crate::danger::plaintext(json, b"");
        message::Message::decode(&p, limits).map(|m| (m.kind(), m.args().to_value()))
    }

    fn emit(payload: &str) -> String {
        format!(r#"{{"kind":"emit","event":"e","payload":{payload}}}"#)
    }

    #[test]
    fn an_array_is_no_message() {
        let json = r#"["invoke",7,"greet",{"name":"Ada"}]"#;
        assert_eq!(oracle(json, &Limits::default()), Err(DecodeError::Invalid));
        assert_eq!(ours(json, &Limits::default()), Err(DecodeError::Invalid));
        super::super::message_differential(&crate::danger::plaintext(json, b""));
    }

    #[test]
    fn minus_zero_is_read_as_zero() {
        let d = Limits::default();
        let json = r#"{"kind":"invoke","id":-0,"cmd":"a","args":{"a":-0,"b":[-0,-0.0,-0e1,0e-0,-01],"-0":"-0"}}"#;
        let rewritten = minus_zero_as_zero(json.as_bytes());
        assert_eq!(
            std::str::from_utf8(&rewritten).unwrap(),
            r#"{"kind":"invoke","id": 0,"cmd":"a","args":{"a": 0,"b":[ 0,-0.0,-0e1,0e-0,-01],"-0":"-0"}}"#
        );
        // `-01` is no JSON, before and after.
        assert_eq!(oracle(json, &d), Err(DecodeError::Invalid));
        let ok = json.replace(",-01", "");
        let p = crate::danger::plaintext(&ok, b"");
        let r = decode(&p, &d).unwrap();
        assert_eq!(r.id, Some(0));
        assert_eq!(
            r.args.to_string(),
            r#"{"-0":"-0","a":0,"b":[0,-0.0,-0.0,0.0]}"#
        );
        assert_eq!(ours(&ok, &d), Ok((MessageKind::Invoke, r.args.clone())));
        super::super::message_differential(&p);
        // serde_json alone reads -0.0.
        assert!(serde_json::from_str::<Value>("-0").unwrap().is_f64());
    }

    #[test]
    fn field_rules() {
        let d = Limits::default();
        for (json, want) in [
            (r#"{"kind":"invoke","id":1,"cmd":"a","args":{}}"#, true),
            (
                r#"{"kind":"invoke","id":1,"cmd":"a","args":{},"x":1}"#,
                false,
            ),
            (r#"{"kind":"invoke","id":1.0,"cmd":"a","args":{}}"#, false),
            (
                r#"{"kind":"invoke","id":1,"cmd":"a","args":{"x":1,"x":1}}"#,
                false,
            ),
            (
                r#"{"kind":"invoke","id":1,"cmd":"a","args":[[{"x":1,"x":1}]]}"#,
                false,
            ),
            (r#"{"kind":"emit","event":"e","payload":null}"#, true),
            (r#"{"kind":"emit","event":"e"}"#, false),
            (
                r#"{"kind":"emit","event":"e","payload":1,"cmd":"a"}"#,
                false,
            ),
        ] {
            assert_eq!(oracle(json, &d).is_ok(), want, "{json}");
            assert_eq!(ours(json, &d).is_ok(), want, "{json}");
        }
        let args: Vec<String> = (0..65).map(|i| format!(r#""a{i}":1"#)).collect();
        let wide = format!(
            r#"{{"kind":"invoke","id":1,"cmd":"c","args":{{{}}}}}"#,
            args.join(",")
        );
        assert_eq!(oracle(&wide, &d), Err(DecodeError::OverLimit));
        // Over a limit, and invalid before it: over the limit.
        let deep = emit(&format!("[x,{}{}", "[".repeat(40), "]".repeat(40)));
        assert_eq!(oracle(&deep, &d), Err(DecodeError::OverLimit));
        assert_eq!(ours(&deep, &d), Err(DecodeError::OverLimit));
    }

    #[test]
    fn numbers_with_huge_exponents_and_many_digits() {
        let d = Limits::default();
        // 0.000…1 (70,000 zeros) times 10^655360: infinite, out of range.
        let tiny_times_huge = emit(&format!("0.{}1e655360", "0".repeat(70_000)));
        assert_eq!(oracle(&tiny_times_huge, &d), Err(DecodeError::Invalid));
        assert_eq!(ours(&tiny_times_huge, &d), oracle(&tiny_times_huge, &d));
        // 10^70000 times 10^-700000: zero.
        let huge_times_tiny = emit(&format!("1{}e-700000", "0".repeat(70_000)));
        assert_eq!(
            oracle(&huge_times_tiny, &d),
            Ok((MessageKind::Emit, serde_json::json!(0.0)))
        );
        assert_eq!(ours(&huge_times_tiny, &d), oracle(&huge_times_tiny, &d));
        // 10^70000 times 10^-69999 is 10.
        let ten = emit(&format!("1{}e-69999", "0".repeat(70_000)));
        assert_eq!(
            oracle(&ten, &d),
            Ok((MessageKind::Emit, serde_json::json!(10.0)))
        );
        assert_eq!(ours(&ten, &d), oracle(&ten, &d));
    }

    #[test]
    fn serde_json_nests_at_most_127_deep() {
        // The message object is depth 1: a payload 126 deep is 127 in all.
        let at = |n: usize| emit(&format!("{}{}", "[".repeat(n), "]".repeat(n)));
        assert!(oracle(&at(126), &huge()).is_ok());
        assert_eq!(ours(&at(126), &huge()), oracle(&at(126), &huge()));
        assert_eq!(oracle(&at(127), &huge()), Err(DecodeError::Invalid));
        assert_eq!(ours(&at(127), &huge()), oracle(&at(127), &huge()));
        assert_eq!(oracle(&at(128), &huge()), Err(DecodeError::OverLimit));
        assert_eq!(ours(&at(128), &huge()), oracle(&at(128), &huge()));
    }

    #[test]
    fn policy_json_follows_the_documents() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(matches!(policy_json(&deep(127)), PolicyJson::Json(..)));
        assert_eq!(policy_json(&deep(128)), PolicyJson::TooDeepForSerde);
        assert_eq!(policy_json(&deep(129)), PolicyJson::Refused);
        assert_eq!(policy_json("\u{feff}{}"), PolicyJson::Refused);
        assert_eq!(
            policy_json(r#"{"a":{"x":1,"x":[2]},"a":3,"b":-0}"#),
            PolicyJson::Json(serde_json::json!({"a": {"x": 1}, "b": 0}), 2)
        );
        assert_eq!(policy_json("[1,]"), PolicyJson::Refused);
        // Brackets in strings do not nest.
        assert_eq!(nesting(br#"["[[\"[", {"a": "]]"}]"#), 2);
        for text in [
            "{}",
            "\u{feff}{}",
            &deep(128),
            &deep(129),
            r#"{"a":1,"a":2}"#,
            "[-0, 1e400]",
        ] {
            super::super::policy_json_differential(text.as_bytes());
        }
    }

    /// JSON-ish text: tokens, broken tokens, escapes, comments, a byte
    /// order mark, non-ASCII and control characters.
    fn jsonish() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let token = prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            " ",
            "\n",
            "\"",
            "\"k\":",
            "\"a\"",
            "\\",
            "\\u",
            "\\n",
            "\\ud83d\\ude00",
            "\\ud800",
            "d800",
            "00e9",
            "-",
            "0",
            "1",
            "-0",
            "01",
            ".",
            "5",
            "e",
            "E+",
            "1e400",
            "true",
            "tru",
            "null",
            "false",
            "/",
            "/*",
            "é",
            "😀",
            "\u{1}",
            "\t",
            "\u{feff}",
            "x",
        ]);
        prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        #[test]
        fn the_policy_reader_agrees_with_serde_json(text in jsonish()) {
            super::super::policy_json_differential(text.as_bytes());
        }

        #[test]
        fn the_policy_reader_agrees_on_a_policy_with_edits(
            edits in proptest::collection::vec((0usize..4096, jsonish()), 1..4)
        ) {
            let mut text = include_str!("../../policies/demo.json").to_owned();
            for (at, insert) in edits {
                let mut at = at % (text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.insert_str(at, &insert);
            }
            super::super::policy_json_differential(text.as_bytes());
        }
    }
}
