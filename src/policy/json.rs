//! The policy file's JSON, read by the message reader
//! (`message::json::Parser`, the crate's one JSON lexer) into a tree that
//! remembers where every key and value starts.
//!
//! serde cannot give positions of values after the fact, and policy errors
//! must say `FILE:LINE:COL`. The builder here walks the grammar with the
//! reader's primitives, notes byte offsets and turns them into lines and
//! columns as it goes; it limits nesting to [`MAX_JSON_DEPTH`] and refuses
//! what strict JSON (RFC 8259) refuses, with an error for people: comments,
//! trailing commas, trailing data, lone surrogates, raw control characters
//! in strings. Duplicate keys do not stop it (so that the other errors of
//! the file are still reported); they are listed in
//! [`Document::duplicates`] and the first occurrence is kept.

use crate::message::{Fault, Parser};
use serde_json::{Number, Value};

/// Deepest nesting of arrays and objects in a policy file.
pub(crate) const MAX_JSON_DEPTH: usize = 128;

/// A 1-based line and column; columns count Unicode characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A JSON value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub pos: Pos,
    pub value: Json,
}

/// One `"key": value` member of an object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

/// A JSON value whose children carry positions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// A number's value and its token as written (errors quote that).
    Number(Number, String),
    String(String),
    Array(Vec<Node>),
    /// Members in file order, without duplicates.
    Object(Vec<Member>),
}

/// A key that appeared twice in one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Duplicate {
    pub key: String,
    /// Where the second occurrence starts.
    pub pos: Pos,
    /// Where the first occurrence starts.
    pub first: Pos,
    /// JSON pointer of the member.
    pub pointer: String,
}

/// A parsed file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    pub root: Node,
    pub duplicates: Vec<Duplicate>,
}

/// Why the text is not JSON; parsing stops at the first such error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub pos: Pos,
    pub message: String,
    /// JSON pointer of the value being parsed when it failed.
    pub pointer: String,
}

/// Parses one JSON text.
pub(crate) fn parse(text: &str) -> Result<Document, SyntaxError> {
    let bytes = text.as_bytes();
    let mut b = Builder {
        text,
        // Depth is the builder's to check (its own error); no item limit.
        p: Parser::new(text, MAX_JSON_DEPTH, usize::MAX),
        lines: Lines {
            bytes,
            at: 0,
            pos: Pos { line: 1, column: 1 },
        },
        path: Vec::new(),
        duplicates: Vec::new(),
    };
    if text.starts_with('\u{feff}') {
        return Err(SyntaxError {
            pos: Pos { line: 1, column: 1 },
            message: "file starts with a byte order mark; save it as UTF-8 without one".to_owned(),
            pointer: String::new(),
        });
    }
    match b.document() {
        Ok(root) => Ok(Document {
            root,
            duplicates: b.duplicates,
        }),
        Err(Fail { at, message }) => Err(SyntaxError {
            pos: b.lines.pos(at),
            message,
            pointer: b.pointer(),
        }),
    }
}

impl Node {
    /// The value as a plain `serde_json::Value` (for enums and payloads).
    pub(crate) fn to_value(&self) -> Value {
        match &self.value {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n, _) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Json::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|m| (m.key.clone(), m.value.to_value()))
                    .collect(),
            ),
        }
    }

    /// "a string", "an object", ... for error messages.
    pub(crate) fn kind_name(&self) -> &'static str {
        match &self.value {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(..) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub(crate) fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Walks the grammar over the reader's tokens, building the tree.
struct Builder<'t> {
    text: &'t str,
    p: Parser<'t>,
    lines: Lines<'t>,
    /// Escaped pointer segments of the value being parsed.
    path: Vec<String>,
    duplicates: Vec<Duplicate>,
}

/// A syntax error before it has a line and column: its byte offset.
struct Fail {
    at: usize,
    message: String,
}

/// Lines and columns of byte offsets, counted from the last offset asked
/// about (the builder asks in file order, so the file is counted once).
struct Lines<'t> {
    bytes: &'t [u8],
    at: usize,
    pos: Pos,
}

impl Lines<'_> {
    fn pos(&mut self, offset: usize) -> Pos {
        let offset = offset.min(self.bytes.len());
        if offset < self.at {
            self.at = 0;
            self.pos = Pos { line: 1, column: 1 };
        }
        for &b in self.bytes.get(self.at..offset).unwrap_or_default() {
            if b == b'\n' {
                self.pos.line += 1;
                self.pos.column = 1;
            } else if b & 0xC0 != 0x80 {
                // Only the first byte of a UTF-8 sequence starts a column.
                self.pos.column += 1;
            }
        }
        self.at = offset;
        self.pos
    }
}

impl Builder<'_> {
    fn document(&mut self) -> Result<Node, Fail> {
        self.ws()?;
        let root = self.value(0)?;
        if self.ws()?.is_some() {
            return Err(self.here(format!(
                "unexpected {} after the end of the JSON value",
                self.describe_next()
            )));
        }
        Ok(root)
    }

    /// Skips whitespace; the next byte. A `/` there starts a comment.
    fn ws(&mut self) -> Result<Option<u8>, Fail> {
        match self.p.next_token() {
            Some(b'/') => Err(self.here("comments are not allowed in JSON")),
            next => Ok(next),
        }
    }

    fn here(&self, message: impl Into<String>) -> Fail {
        Fail {
            at: self.p.offset(),
            message: message.into(),
        }
    }

    /// The next character, in backticks, or "end of file".
    fn describe_next(&self) -> String {
        let rest = self
            .text
            .as_bytes()
            .get(self.p.offset()..)
            .unwrap_or_default();
        match std::str::from_utf8(rest)
            .ok()
            .and_then(|s| s.chars().next())
            .or_else(|| rest.first().map(|&b| char::from(b)))
        {
            None => "end of file".to_owned(),
            Some(c) if c.is_control() => format!("character U+{:04X}", u32::from(c)),
            Some(c) => format!("`{c}`"),
        }
    }

    /// The error for the string or number token that just failed.
    fn token_error(&self) -> Fail {
        let Some((fault, at)) = self.p.fault() else {
            return self.here("invalid JSON");
        };
        let message = match fault {
            Fault::Unterminated => "unterminated string",
            Fault::Control => "control character in string; write it as an escape",
            Fault::Escape => "invalid escape in string",
            Fault::UnicodeEscape => "invalid `\\u` escape",
            Fault::Surrogate => "unpaired surrogate in `\\u` escape",
            Fault::LeadingZero => "numbers cannot have leading zeros",
            Fault::NoDigit => "invalid number",
            Fault::FractionDigit => "invalid number: expected a digit after `.`",
            Fault::ExponentDigit => "invalid number: expected a digit in the exponent",
            Fault::OutOfRange => "number out of range",
        };
        Fail {
            at,
            message: message.to_owned(),
        }
    }

    /// A value, whitespace before it already skipped.
    fn value(&mut self, depth: usize) -> Result<Node, Fail> {
        let at = self.p.offset();
        let pos = self.lines.pos(at);
        let value = match self.p.next_token() {
            Some(b'{') => self.object(depth + 1)?,
            Some(b'[') => self.array(depth + 1)?,
            Some(b'"') => Json::String(self.string()?),
            Some(b't') => self.literal("true", Json::Bool(true))?,
            Some(b'f') => self.literal("false", Json::Bool(false))?,
            Some(b'n') => self.literal("null", Json::Null)?,
            Some(b'-' | b'0'..=b'9') => {
                let n = self.p.number().map_err(|_| self.token_error())?;
                // The token is ASCII (the grammar), so on char boundaries.
                let token = self.text.get(at..self.p.offset()).unwrap_or_default();
                Json::Number(n, token.to_owned())
            }
            _ => {
                return Err(self.here(format!(
                    "expected a JSON value, found {}",
                    self.describe_next()
                )))
            }
        };
        Ok(Node { pos, value })
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, Fail> {
        if self.p.skip(word.as_bytes()) {
            Ok(value)
        } else {
            Err(self.here(format!("invalid literal, expected `{word}`")))
        }
    }

    fn string(&mut self) -> Result<String, Fail> {
        match self.p.string() {
            Ok(s) => Ok(s.into_owned()),
            Err(_) => Err(self.token_error()),
        }
    }

    /// Opens a container at `depth` (the root container is 1).
    fn open(&mut self, byte: u8, depth: usize) -> Result<(), Fail> {
        if depth > MAX_JSON_DEPTH {
            return Err(self.here(format!("nesting is deeper than {MAX_JSON_DEPTH} levels")));
        }
        self.p.expect(byte).map_err(|_| self.here("invalid JSON"))
    }

    fn object(&mut self, depth: usize) -> Result<Json, Fail> {
        self.open(b'{', depth)?;
        let mut members: Vec<Member> = Vec::new();
        self.ws()?;
        if self.p.empty(b'}') {
            return Ok(Json::Object(members));
        }
        loop {
            match self.ws()? {
                Some(b'"') => {}
                Some(b'}') => return Err(self.here("trailing comma before `}`")),
                _ => {
                    return Err(self.here(format!(
                        "expected a string key, found {}",
                        self.describe_next()
                    )))
                }
            }
            let key_pos = self.lines.pos(self.p.offset());
            let key = self.string()?;
            self.ws()?;
            if self.p.expect(b':').is_err() {
                return Err(self.here(format!(
                    "expected `:` after key, found {}",
                    self.describe_next()
                )));
            }
            self.ws()?;
            self.path.push(escape_pointer(&key));
            // On error the path stays pushed: it locates the failure.
            let value = self.value(depth)?;
            let pointer = self.pointer();
            self.path.pop();
            match members.iter().find(|m| m.key == key) {
                Some(first) => self.duplicates.push(Duplicate {
                    key,
                    pos: key_pos,
                    first: first.key_pos,
                    pointer,
                }),
                None => members.push(Member {
                    key,
                    key_pos,
                    value,
                }),
            }
            self.ws()?;
            // No limit on members (`usize::MAX` items): `more` only reads
            // the `,` or the `}`.
            match self.p.more(b'}', 0) {
                Ok(true) => {}
                Ok(false) => return Ok(Json::Object(members)),
                Err(_) => {
                    return Err(self.here(format!(
                        "expected `,` or `}}` after an object member, found {}",
                        self.describe_next()
                    )))
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, Fail> {
        self.open(b'[', depth)?;
        let mut items = Vec::new();
        self.ws()?;
        if self.p.empty(b']') {
            return Ok(Json::Array(items));
        }
        loop {
            if self.ws()? == Some(b']') {
                return Err(self.here("trailing comma before `]`"));
            }
            self.path.push(items.len().to_string());
            let item = self.value(depth)?;
            self.path.pop();
            items.push(item);
            self.ws()?;
            match self.p.more(b']', 0) {
                Ok(true) => {}
                Ok(false) => return Ok(Json::Array(items)),
                Err(_) => {
                    return Err(self.here(format!(
                        "expected `,` or `]` after an array item, found {}",
                        self.describe_next()
                    )))
                }
            }
        }
    }

    fn pointer(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            out.push('/');
            out.push_str(seg);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Pos {
        Pos { line, column }
    }

    fn err(text: &str) -> SyntaxError {
        parse(text).unwrap_err()
    }

    #[test]
    fn positions_of_keys_and_values() {
        let doc = parse("{\n  \"a\": [1, \"é\", {\"b\": null}],\n  \"c\":true}").unwrap();
        assert_eq!(doc.root.pos, at(1, 1));
        let Json::Object(members) = &doc.root.value else {
            panic!()
        };
        assert_eq!(members[0].key, "a");
        assert_eq!(members[0].key_pos, at(2, 3));
        assert_eq!(members[0].value.pos, at(2, 8));
        let Json::Array(items) = &members[0].value.value else {
            panic!()
        };
        assert_eq!(items[1].pos, at(2, 12));
        // `é` is two bytes but one column.
        assert_eq!(items[2].pos, at(2, 17));
        assert_eq!(members[1].key_pos, at(3, 3));
        assert_eq!(members[1].value.pos, at(3, 7));
    }

    #[test]
    fn values_convert_like_serde() {
        let text = r#"{"a":[1,-2,2.5,1e2,18446744073709551615,"x\u00e9\ud83d\ude00",true,null]}"#;
        let doc = parse(text).unwrap();
        let expected: Value = serde_json::from_str(text).unwrap();
        assert_eq!(doc.root.to_value(), expected);
    }

    /// The number tokens the edges of `docs/POLICY.md` section 8
    /// ("Numbers") are about, then generated ones.
    fn number_tokens() -> Vec<String> {
        let mut tokens: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "-0e0",
            "0e-5",
            "1",
            "-1",
            "1.0",
            "1e0",
            "1E+0",
            "10e-1",
            "9007199254740991",
            "9007199254740992",
            "9007199254740993",
            "9007199254740993.0",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "-18446744073709551616",
            "123456789012345678901234567890",
            "0.1",
            "1e308",
            "1e309",
            "-1e309",
            "1e400",
            "1e-400",
            "-1e-400",
            "4.9e-324",
            "2.4e-324",
            "2.5e-324",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "2.2250738585072011e-308",
        ]
        .iter()
        .map(|t| (*t).to_owned())
        .collect();
        tokens.push(format!("1{}", "0".repeat(400)));
        tokens.push(format!("-1{}", "0".repeat(400)));
        tokens.push(format!("1{}e-700000", "0".repeat(70_000)));
        tokens.push(format!("1{}e-69999", "0".repeat(70_000)));
        tokens.push(format!("0.{}1e655360", "0".repeat(70_000)));
        let mut next = crate::test_rng::xorshift(808);
        for _ in 0..3000 {
            let mut t = String::new();
            if next() % 3 == 0 {
                t.push('-');
            }
            let digits = match next() % 4 {
                0 => 1,
                1 => 1 + next() as usize % 5,
                2 => 15 + next() as usize % 6,
                _ => 17 + next() as usize % 30,
            };
            for i in 0..digits {
                let d = next() % 10;
                t.push(char::from(
                    b'0' + if i == 0 && digits > 1 { 1 + d % 9 } else { d } as u8,
                ));
            }
            if next() % 3 == 0 {
                t.push('.');
                for _ in 0..1 + next() % 20 {
                    t.push(char::from(b'0' + (next() % 10) as u8));
                }
            }
            if next() % 3 == 0 {
                t.push_str(["e", "E-", "e+", "e-"][next() as usize % 4]);
                t.push_str(&(next() % 420).to_string());
            }
            tokens.push(t);
        }
        tokens
    }

    #[test]
    fn numbers_read_as_the_message_reader_reads_them() {
        for token in number_tokens() {
            let ours = parse(&token).map(|d| d.root.value);
            let json = format!(r#"{{"kind":"emit","event":"e","payload":{token}}}"#);
            let plain = crate::danger::plaintext(&json, b"");
            let message =
                crate::message::Message::decode(&plain, &crate::message::Limits::default());
            let theirs = message.as_ref().map(|m| m.args());
            match (&ours, &theirs) {
                (Ok(Json::Number(a, _)), Ok(crate::message::Json::Number(b))) => {
                    // Same representation (integer or double), same bits.
                    assert_eq!(
                        (a.as_u64(), a.as_i64(), a.as_f64().map(f64::to_bits)),
                        (b.as_u64(), b.as_i64(), b.as_f64().map(f64::to_bits)),
                        "{token}"
                    );
                    assert_eq!(a.is_f64(), b.is_f64(), "{token}");
                }
                (Err(e), Err(_)) => assert_eq!(e.message, "number out of range", "{token}"),
                _ => panic!("{token}: policy {ours:?}, message {theirs:?}"),
            }
        }
    }

    #[test]
    fn duplicate_keys_at_any_depth() {
        let doc = parse("{\"a\": {\"x\": 1,\n \"x\": 2}, \"a\": 3}").unwrap();
        assert_eq!(
            doc.duplicates,
            vec![
                Duplicate {
                    key: "x".into(),
                    pos: at(2, 2),
                    first: at(1, 8),
                    pointer: "/a/x".into()
                },
                Duplicate {
                    key: "a".into(),
                    pos: at(2, 11),
                    first: at(1, 2),
                    pointer: "/a".into()
                }
            ]
        );
        // The first occurrence is kept.
        assert_eq!(doc.root.to_value(), serde_json::json!({"a": {"x": 1}}));
    }

    #[test]
    fn pointer_escapes() {
        let doc = parse(r#"{"a/b~": {"k": 1, "k": 2}}"#).unwrap();
        assert_eq!(doc.duplicates[0].pointer, "/a~1b~0/k");
    }

    #[test]
    fn syntax_errors_with_positions() {
        let cases: &[(&str, Pos, &str)] = &[
            ("{\"a\": 1,}", at(1, 9), "trailing comma before `}`"),
            ("[1,\n 2,\n]", at(3, 1), "trailing comma before `]`"),
            (
                "{\"a\": 1} x",
                at(1, 10),
                "unexpected `x` after the end of the JSON value",
            ),
            ("// c\n{}", at(1, 1), "comments are not allowed in JSON"),
            (
                "{\"a\": 1 /* c */}",
                at(1, 9),
                "comments are not allowed in JSON",
            ),
            ("{\"a\" 1}", at(1, 6), "expected `:` after key, found `1`"),
            ("{a: 1}", at(1, 2), "expected a string key, found `a`"),
            ("[01]", at(1, 2), "numbers cannot have leading zeros"),
            (
                "[1.]",
                at(1, 2),
                "invalid number: expected a digit after `.`",
            ),
            ("[tru]", at(1, 2), "invalid literal, expected `true`"),
            ("\"abc", at(1, 1), "unterminated string"),
            (
                "\"a\tb\"",
                at(1, 3),
                "control character in string; write it as an escape",
            ),
            ("\"\\x\"", at(1, 2), "invalid escape in string"),
            (
                "\"\\ud800\"",
                at(1, 2),
                "unpaired surrogate in `\\u` escape",
            ),
            ("[1e999]", at(1, 2), "number out of range"),
            ("", at(1, 1), "expected a JSON value, found end of file"),
            (
                "[1 2]",
                at(1, 4),
                "expected `,` or `]` after an array item, found `2`",
            ),
            (
                "\u{feff}{}",
                at(1, 1),
                "file starts with a byte order mark; save it as UTF-8 without one",
            ),
        ];
        for (text, pos, message) in cases {
            let e = err(text);
            assert_eq!((&e.pos, e.message.as_str()), (pos, *message), "{text:?}");
        }
    }

    #[test]
    fn depth_is_limited() {
        let ok = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert!(parse(&ok).is_ok());
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH + 1),
            "]".repeat(MAX_JSON_DEPTH + 1)
        );
        let e = err(&deep);
        assert_eq!(e.message, "nesting is deeper than 128 levels");
        assert_eq!(e.pos, at(1, MAX_JSON_DEPTH + 1));
        // Far deeper input fails the same way, without exhausting the stack.
        let e = err(&"{\"a\":".repeat(100_000));
        assert_eq!(e.message, "nesting is deeper than 128 levels");
    }

    #[test]
    fn agrees_with_serde_on_validity() {
        for text in [
            "{}",
            "[]",
            "0",
            "-0",
            "1.5e-3",
            "\"\\u0041\"",
            "[[],{}]",
            " {\"a\" : [ 1 , 2 ] } ",
            "{\"a\":1,}",
            "[,]",
            "[1,]",
            "01",
            "+1",
            ".5",
            "1.",
            "nul",
            "\"\\u12\"",
            "{\"a\"}",
            "[\"a\" \"b\"]",
            "{} {}",
            "NaN",
            "Infinity",
            "-",
            "\"\u{7f}\"",
        ] {
            assert_eq!(
                parse(text).is_ok(),
                serde_json::from_str::<Value>(text).is_ok(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn never_panics_on_garbage() {
        // A small deterministic generator: every prefix of tricky inputs and
        // pseudo-random byte soups over the JSON alphabet.
        let seeds = [
            "{\"a\": [1, {\"b\": \"\\ud83d\\ude00\"}], \"c\": -1.5e+10}",
            "[\"\\u",
            "{\"\\",
            "[-",
            "[1e",
            "{\"a\":{\"a\":{\"a\":",
        ];
        for seed in seeds {
            for end in 0..=seed.len() {
                if let Some(prefix) = seed.get(..end) {
                    let _ = parse(prefix);
                }
            }
        }
        let alphabet = b"{}[]\",:\\/ \n-+.eE0123456789tfnlrsua\x01";
        let mut state = 0x2545_f491_u32;
        for _ in 0..2000 {
            let len = (state % 40) as usize;
            let mut s = String::new();
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                s.push(char::from(alphabet[(state as usize) % alphabet.len()]));
            }
            let _ = parse(&s);
            assert_eq!(
                parse(&s).is_ok(),
                serde_json::from_str::<Value>(&s).is_ok(),
                "{s:?}"
            );
        }
    }
}
