//! A small JSON parser that remembers where every key and value starts.
//!
//! serde cannot give positions of values after the fact, and policy errors
//! must say `FILE:LINE:COL`. This parser is a recursive descent over bytes:
//! it never indexes, never panics, limits nesting to [`MAX_JSON_DEPTH`], and
//! rejects everything strict JSON (RFC 8259) rejects: comments, trailing
//! commas, trailing data, lone surrogates, raw control characters in strings.
//! Duplicate keys do not stop parsing (so that the other errors of the file
//! are still reported); they are listed in [`Document::duplicates`] and the
//! first occurrence is kept.

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

fn err_at(pos: Pos, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        pos,
        message: message.into(),
        pointer: String::new(),
    }
}

/// Parses one JSON text.
pub(crate) fn parse(text: &str) -> Result<Document, SyntaxError> {
    let mut p = Parser {
        bytes: text.as_bytes(),
        at: 0,
        pos: Pos { line: 1, column: 1 },
        path: Vec::new(),
        duplicates: Vec::new(),
    };
    if text.starts_with('\u{feff}') {
        return Err(p.fail("file starts with a byte order mark; save it as UTF-8 without one"));
    }
    let root = p.document().map_err(|mut e| {
        e.pointer = p.pointer();
        e
    })?;
    Ok(Document {
        root,
        duplicates: p.duplicates,
    })
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

struct Parser<'t> {
    bytes: &'t [u8],
    at: usize,
    pos: Pos,
    /// Escaped pointer segments of the value being parsed.
    path: Vec<String>,
    duplicates: Vec<Duplicate>,
}

impl Parser<'_> {
    fn document(&mut self) -> Result<Node, SyntaxError> {
        self.skip_ws()?;
        let root = self.value(0)?;
        self.skip_ws()?;
        if self.peek().is_some() {
            return Err(self.fail(format!(
                "unexpected {} after the end of the JSON value",
                self.describe_next()
            )));
        }
        Ok(root)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        if b == b'\n' {
            self.pos.line += 1;
            self.pos.column = 1;
        } else if b & 0xC0 != 0x80 {
            // Only the first byte of a UTF-8 sequence starts a new column.
            self.pos.column += 1;
        }
        Some(b)
    }

    fn fail(&self, message: impl Into<String>) -> SyntaxError {
        err_at(self.pos, message)
    }

    /// The next character, in backticks, or "end of file".
    fn describe_next(&self) -> String {
        let rest = self.bytes.get(self.at..).unwrap_or_default();
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

    fn skip_ws(&mut self) -> Result<(), SyntaxError> {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => {
                    self.bump();
                }
                b'/' => return Err(self.fail("comments are not allowed in JSON")),
                _ => break,
            }
        }
        Ok(())
    }

    fn expect_literal(&mut self, word: &str) -> Result<(), SyntaxError> {
        let start = self.pos;
        for expected in word.bytes() {
            if self.peek() != Some(expected) {
                return Err(err_at(start, format!("invalid literal, expected `{word}`")));
            }
            self.bump();
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Node, SyntaxError> {
        let pos = self.pos;
        let value = match self.peek() {
            Some(b'{') => self.object(depth + 1)?,
            Some(b'[') => self.array(depth + 1)?,
            Some(b'"') => Json::String(self.string()?),
            Some(b't') => {
                self.expect_literal("true")?;
                Json::Bool(true)
            }
            Some(b'f') => {
                self.expect_literal("false")?;
                Json::Bool(false)
            }
            Some(b'n') => {
                self.expect_literal("null")?;
                Json::Null
            }
            Some(b'-' | b'0'..=b'9') => {
                let (n, token) = self.number()?;
                Json::Number(n, token)
            }
            _ => {
                return Err(self.fail(format!(
                    "expected a JSON value, found {}",
                    self.describe_next()
                )))
            }
        };
        Ok(Node { pos, value })
    }

    fn enter(&self, depth: usize) -> Result<(), SyntaxError> {
        if depth > MAX_JSON_DEPTH {
            return Err(self.fail(format!("nesting is deeper than {MAX_JSON_DEPTH} levels")));
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<Json, SyntaxError> {
        self.enter(depth)?;
        self.bump(); // `{`
        let mut members: Vec<Member> = Vec::new();
        self.skip_ws()?;
        if self.peek() == Some(b'}') {
            self.bump();
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws()?;
            let key_pos = self.pos;
            if self.peek() != Some(b'"') {
                let message = if self.peek() == Some(b'}') {
                    "trailing comma before `}`".to_owned()
                } else {
                    format!("expected a string key, found {}", self.describe_next())
                };
                return Err(self.fail(message));
            }
            let key = self.string()?;
            self.skip_ws()?;
            if self.peek() != Some(b':') {
                return Err(self.fail(format!(
                    "expected `:` after key, found {}",
                    self.describe_next()
                )));
            }
            self.bump();
            self.skip_ws()?;
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
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b'}') => {
                    self.bump();
                    return Ok(Json::Object(members));
                }
                _ => {
                    return Err(self.fail(format!(
                        "expected `,` or `}}` after an object member, found {}",
                        self.describe_next()
                    )))
                }
            };
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, SyntaxError> {
        self.enter(depth)?;
        self.bump(); // `[`
        let mut items = Vec::new();
        self.skip_ws()?;
        if self.peek() == Some(b']') {
            self.bump();
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws()?;
            if self.peek() == Some(b']') {
                return Err(self.fail("trailing comma before `]`"));
            }
            self.path.push(items.len().to_string());
            let item = self.value(depth)?;
            self.path.pop();
            items.push(item);
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b']') => {
                    self.bump();
                    return Ok(Json::Array(items));
                }
                _ => {
                    return Err(self.fail(format!(
                        "expected `,` or `]` after an array item, found {}",
                        self.describe_next()
                    )))
                }
            };
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

    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        self.bump(); // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let here = self.pos;
            match self.bump() {
                None => return Err(err_at(start, "unterminated string".to_owned())),
                Some(b'"') => break,
                Some(b'\\') => {
                    let c = self.escape(here)?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                Some(b) if b < 0x20 => {
                    return Err(err_at(
                        here,
                        "control character in string; write it as an escape".to_owned(),
                    ))
                }
                Some(b) => out.push(b),
            }
        }
        // The input is a `&str` and escapes produce whole characters, so
        // this cannot fail; the error path only keeps the code panic-free.
        String::from_utf8(out).map_err(|_| err_at(start, "invalid UTF-8 in string".to_owned()))
    }

    fn escape(&mut self, at: Pos) -> Result<char, SyntaxError> {
        let bad = |message: &str| err_at(at, message.to_owned());
        Ok(match self.bump() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let hi = self.hex4().ok_or_else(|| bad("invalid `\\u` escape"))?;
                if (0xD800..0xDC00).contains(&hi) {
                    if self.bump() != Some(b'\\') || self.bump() != Some(b'u') {
                        return Err(bad("unpaired surrogate in `\\u` escape"));
                    }
                    let lo = self.hex4().ok_or_else(|| bad("invalid `\\u` escape"))?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(bad("unpaired surrogate in `\\u` escape"));
                    }
                    let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    char::from_u32(code).ok_or_else(|| bad("invalid `\\u` escape"))?
                } else {
                    char::from_u32(hi).ok_or_else(|| bad("unpaired surrogate in `\\u` escape"))?
                }
            }
            _ => return Err(bad("invalid escape in string")),
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = char::from(self.bump()?).to_digit(16)?;
            v = v * 16 + d;
        }
        Some(v)
    }

    /// A number's value and its token.
    fn number(&mut self) -> Result<(Number, String), SyntaxError> {
        let start = self.pos;
        let from = self.at;
        let bad = |message: &str| err_at(start, message.to_owned());
        if self.peek() == Some(b'-') {
            self.bump();
        }
        match self.peek() {
            Some(b'0') => {
                self.bump();
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(bad("numbers cannot have leading zeros"));
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(bad("invalid number")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.bump();
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(bad("invalid number: expected a digit after `.`"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.bump();
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.bump();
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(bad("invalid number: expected a digit in the exponent"));
            }
            self.digits();
        }
        let token = self
            .bytes
            .get(from..self.at)
            .ok_or_else(|| bad("invalid number"))?;
        // The same value the message reader gives the same token
        // (`docs/POLICY.md` section 8, "Numbers"), so that enum values and
        // bounds compare with what a message holds.
        let n =
            crate::number::from_token(token, integer).ok_or_else(|| bad("number out of range"))?;
        // The token is ASCII (the grammar above), so this never fails.
        let text = std::str::from_utf8(token).map_err(|_| bad("invalid number"))?;
        Ok((n, text.to_owned()))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.bump();
        }
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
            let message = crate::message::decode(&plain, &crate::message::Limits::default());
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
