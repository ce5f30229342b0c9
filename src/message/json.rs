//! JSON borrowed from the opened plaintext, and the strict one-pass parser
//! that builds it within the message limits.
//!
//! The policy checks and the router read arguments where they lie: strings
//! without escapes are slices of the plaintext, objects are small sorted
//! vectors, and nothing is copied into a `serde_json::Value` unless the app
//! asks for one ([`Json::to_value`]).

use super::DecodeError;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::fmt;

/// A JSON value borrowed from a message. Same shape as
/// [`serde_json::Value`], with the number semantics of `docs/POLICY.md`
/// section 8: a number without fraction or exponent from -2^63 to
/// 2^64 - 1 is an integer (`u64`, or `i64` when negative; `-0` is the
/// integer 0, where serde_json reads -0.0), the rest are correctly rounded
/// `f64`.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string: borrowed when it had no escapes.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object (keys unique).
    Object(Object<'a>),
}

/// A JSON object with unique keys, kept sorted by key (the order
/// `serde_json::Map` iterates in).
#[derive(Debug, Clone, Default)]
pub struct Object<'a> {
    entries: Entries<'a>,
}

/// One key and its value.
pub(crate) type Entry<'a> = (Cow<'a, str>, Json<'a>);

/// An object's entries: its own, or (a message's arguments) in slots on
/// the gate's stack.
#[derive(Clone)]
enum Entries<'a> {
    Owned(Vec<Entry<'a>>),
    Borrowed(&'a [Entry<'a>]),
}

impl Default for Entries<'_> {
    fn default() -> Self {
        Entries::Owned(Vec::new())
    }
}

impl<'a> std::ops::Deref for Entries<'a> {
    type Target = [Entry<'a>];
    fn deref(&self) -> &[Entry<'a>] {
        match self {
            Entries::Owned(v) => v,
            Entries::Borrowed(s) => s,
        }
    }
}

impl fmt::Debug for Entries<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl PartialEq for Object<'_> {
    fn eq(&self, other: &Self) -> bool {
        *self.entries == *other.entries
    }
}

/// How many argument entries [`ArgSlots`] holds.
const ARG_SLOTS: usize = 4;

/// Room on the caller's stack for the entries of a message's arguments
/// object, so that decoding a call with up to [`ARG_SLOTS`] arguments
/// allocates nothing for them.
pub(crate) struct ArgSlots<'a>([Entry<'a>; ARG_SLOTS]);

impl ArgSlots<'_> {
    pub(crate) fn new() -> Self {
        Self(std::array::from_fn(|_| (Cow::Borrowed(""), Json::Null)))
    }
}

static NULL: Json<'static> = Json::Null;

impl<'a> Json<'a> {
    /// Borrows a `serde_json::Value` (strings are not copied).
    pub fn from_value(value: &'a Value) -> Json<'a> {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(Cow::Borrowed(s)),
            Value::Array(items) => Json::Array(items.iter().map(Json::from_value).collect()),
            Value::Object(map) => Json::Object(Object::from_map(map)),
        }
    }

    /// An owned `serde_json::Value` with the same content.
    pub fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.as_ref().to_owned()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(o) => Value::Object(o.to_map()),
        }
    }

    /// The same value owning its strings, free of the plaintext.
    pub fn into_owned(self) -> Json<'static> {
        match self {
            Json::Null => Json::Null,
            Json::Bool(b) => Json::Bool(b),
            Json::Number(n) => Json::Number(n),
            Json::String(s) => Json::String(Cow::Owned(s.into_owned())),
            Json::Array(items) => Json::Array(items.into_iter().map(Json::into_owned).collect()),
            Json::Object(o) => Json::Object(o.into_owned()),
        }
    }

    /// The JSON type's name: `null`, `boolean`, `integer` (a number without
    /// fraction or exponent from -2^63 to 2^64 - 1), `number`, `string`,
    /// `array` or `object`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Number(n) if n.is_f64() => "number",
            Json::Number(_) => "integer",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// Whether this is `true` or `false`.
    pub fn is_boolean(&self) -> bool {
        matches!(self, Json::Bool(_))
    }

    /// Whether this is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Json::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The number as `i64`, if it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    /// The number as `u64`, if it is a non-negative integer that fits.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number()?.as_u64()
    }

    /// The number as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number()?.as_f64()
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    /// An object's value for `key`, or `None` (also for non-objects).
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.as_object()?.get(key)
    }

    /// An array's item at `index`, or `None` (also for non-arrays).
    pub fn get_index(&self, index: usize) -> Option<&Json<'a>> {
        self.as_array()?.get(index)
    }
}

impl<'a> Object<'a> {
    /// Borrows a `serde_json::Map` (strings are not copied).
    pub fn from_map(map: &'a Map<String, Value>) -> Object<'a> {
        let mut entries: Vec<_> = map
            .iter()
            .map(|(k, v)| (Cow::Borrowed(k.as_str()), Json::from_value(v)))
            .collect();
        // Already sorted unless serde_json keeps insertion order.
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Object {
            entries: Entries::Owned(entries),
        }
    }

    /// The same object owning its strings, free of the plaintext.
    pub fn into_owned(self) -> Object<'static> {
        let owned = |(k, v): Entry<'a>| (Cow::Owned(k.into_owned()), v.into_owned());
        let entries = match self.entries {
            Entries::Owned(v) => v.into_iter().map(owned).collect(),
            Entries::Borrowed(s) => s.iter().cloned().map(owned).collect(),
        };
        Object {
            entries: Entries::Owned(entries),
        }
    }

    /// An owned `serde_json::Map` with the same content.
    pub fn to_map(&self) -> Map<String, Value> {
        self.entries
            .iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.to_value()))
            .collect()
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        let i = self.position(key)?;
        self.entries.get(i).map(|(_, v)| v)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    fn position(&self, key: &str) -> Option<usize> {
        // Argument objects are small: a scan beats a binary search there.
        if self.entries.len() <= 8 {
            self.entries.iter().position(|(k, _)| k == key)
        } else {
            self.entries
                .binary_search_by(|(k, _)| k.as_ref().cmp(key))
                .ok()
        }
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, sorted by key.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Json<'a>)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_ref())
    }
}

/// `args["name"]`: the value, or `null` when the key is absent (as
/// `serde_json::Value` indexes).
impl<'a> std::ops::Index<&str> for Object<'a> {
    type Output = Json<'a>;
    fn index(&self, key: &str) -> &Json<'a> {
        self.get(key).unwrap_or(&NULL)
    }
}

/// `value["name"]`: an object's value, or `null`.
impl<'a> std::ops::Index<&str> for Json<'a> {
    type Output = Json<'a>;
    fn index(&self, key: &str) -> &Json<'a> {
        self.get(key).unwrap_or(&NULL)
    }
}

/// `value[2]`: an array's item, or `null`.
impl<'a> std::ops::Index<usize> for Json<'a> {
    type Output = Json<'a>;
    fn index(&self, index: usize) -> &Json<'a> {
        self.get_index(index).unwrap_or(&NULL)
    }
}

impl From<Value> for Json<'static> {
    fn from(value: Value) -> Self {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Number(n) => Json::Number(n),
            Value::String(s) => Json::String(Cow::Owned(s)),
            Value::Array(items) => Json::Array(items.into_iter().map(Json::from).collect()),
            Value::Object(map) => Json::Object(Object::from(map)),
        }
    }
}

impl From<Map<String, Value>> for Object<'static> {
    fn from(map: Map<String, Value>) -> Self {
        let mut entries: Vec<_> = map
            .into_iter()
            .map(|(k, v)| (Cow::<str>::Owned(k), Json::from(v)))
            .collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Object {
            entries: Entries::Owned(entries),
        }
    }
}

impl PartialEq<Value> for Json<'_> {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Json::Null, Value::Null) => true,
            (Json::Bool(a), Value::Bool(b)) => a == b,
            (Json::Number(a), Value::Number(b)) => a == b,
            (Json::String(a), Value::String(b)) => a == b,
            (Json::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
            }
            (Json::Object(a), Value::Object(b)) => a == b,
            _ => false,
        }
    }
}

impl PartialEq<Map<String, Value>> for Object<'_> {
    fn eq(&self, other: &Map<String, Value>) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(k, v)| other.get(k).is_some_and(|w| v == w))
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(v) => s.serialize_str(v),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(o) => o.serialize(s),
        }
    }
}

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// The compact JSON text.
impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

/// The strict parser, and the crate's only JSON lexer: RFC 8259 JSON
/// exactly as `serde_json` reads it (no comments, no trailing commas, no
/// lone surrogates, no control characters in strings, no non-finite
/// numbers), plus what the message format adds: no duplicate keys, at most
/// `max_depth` nested containers and `max_items` entries in any one.
/// Limits are checked before the allocation they would bound. Values are
/// serde_json's but for `-0`, the integer 0 here (`docs/POLICY.md`
/// section 8).
///
/// The policy reader (`policy::json`) builds its spanned tree from the
/// same primitives (`next_token`, `expect`, `skip`, `empty`, `more`,
/// `string`, `number`), with the byte offset ([`Parser::offset`]) for
/// positions and the [`Fault`] of a bad string or number for its error
/// messages.
pub(crate) struct Parser<'a> {
    /// The JSON text, already checked as UTF-8 in one pass, so a string
    /// without escapes becomes a `str` by slicing it.
    text: &'a str,
    /// `text`'s bytes, which the grammar is read from.
    bytes: &'a [u8],
    pos: usize,
    max_depth: usize,
    max_items: usize,
    /// What the last failed string or number got wrong, and where.
    fault: Option<(Fault, usize)>,
}

/// Why a string or number token is not JSON. A message only sees
/// [`DecodeError::Invalid`]; the policy reader words each one for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// A string without its closing quote (at the opening quote).
    Unterminated,
    /// A control character (below U+0020) in a string (at it).
    Control,
    /// A backslash not followed by one of the nine escapes (at the
    /// backslash).
    Escape,
    /// `\u` without four hex digits (at the backslash).
    UnicodeEscape,
    /// A surrogate `\u` escape without its other half (at the backslash).
    Surrogate,
    /// A `0` followed by a digit (at the number).
    LeadingZero,
    /// No digit where a number starts (at the number).
    NoDigit,
    /// No digit after the `.` (at the number).
    FractionDigit,
    /// No digit in the exponent (at the number).
    ExponentDigit,
    /// A number whose nearest `f64` is infinite (at the number).
    OutOfRange,
}

type Parsed<T> = Result<T, DecodeError>;

/// A string as the text holds it: a span without escapes, or the bytes its
/// escapes decode to.
enum RawString {
    Span(usize, usize),
    Unescaped(Vec<u8>),
}

/// The decoder before this one parsed with serde_json, whose recursion
/// limit refuses a 128th nested container (the message object counts) as
/// invalid. Only `max_depth` 128 (`MAX_DEPTH_CAP`) lets a message get there;
/// it is refused the same way.
const SERDE_JSON_NESTING: usize = 127;

impl<'a> Parser<'a> {
    /// A parser over `json`.
    pub(crate) fn new(json: &'a str, max_depth: usize, max_items: usize) -> Self {
        Self {
            text: json,
            bytes: json.as_bytes(),
            pos: 0,
            max_depth,
            max_items,
            fault: None,
        }
    }

    /// The byte offset the parser is at.
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    /// What the last failed string or number got wrong, and at which byte
    /// offset; `None` when the failure was elsewhere (a structural token).
    pub(crate) fn fault(&self) -> Option<(Fault, usize)> {
        self.fault
    }

    /// Records `fault` at `at`: an invalid message.
    #[cold]
    fn fail(&mut self, fault: Fault, at: usize) -> DecodeError {
        self.fault = Some((fault, at));
        DecodeError::Invalid
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Skips whitespace and returns the next byte, without consuming it.
    #[inline]
    pub(crate) fn next_token(&mut self) -> Option<u8> {
        while let Some(b) = self.peek() {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    /// Skips whitespace and consumes `byte`, or fails.
    #[inline]
    pub(crate) fn expect(&mut self, byte: u8) -> Parsed<()> {
        if self.next_token() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(DecodeError::Invalid)
        }
    }

    /// Consumes `bytes` if the text goes on with exactly them.
    #[inline]
    pub(crate) fn skip(&mut self, bytes: &[u8]) -> bool {
        let end = self.pos + bytes.len();
        if self.bytes.get(self.pos..end) == Some(bytes) {
            self.pos = end;
            true
        } else {
            false
        }
    }

    /// Whether only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.next_token().is_none()
    }

    /// Opens a container nested inside `depth` others.
    pub(crate) fn open(&mut self, byte: u8, depth: usize) -> Parsed<()> {
        self.expect(byte)?;
        if depth >= self.max_depth {
            return Err(DecodeError::OverLimit);
        }
        if depth >= SERDE_JSON_NESTING {
            return Err(DecodeError::Invalid);
        }
        Ok(())
    }

    /// After an object's or array's `count`-th entry: `Ok(true)` when
    /// another follows (a comma), `Ok(false)` at `close`.
    #[inline]
    pub(crate) fn more(&mut self, close: u8, count: usize) -> Parsed<bool> {
        match self.next_token() {
            Some(b',') => {
                self.pos += 1;
                if count >= self.max_items {
                    return Err(DecodeError::OverLimit);
                }
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(DecodeError::Invalid),
        }
    }

    /// Consumes `close` if it comes next (an empty container).
    #[inline]
    pub(crate) fn empty(&mut self, close: u8) -> bool {
        if self.next_token() == Some(close) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// An object key and its colon.
    #[inline]
    pub(crate) fn key(&mut self) -> Parsed<Cow<'a, str>> {
        let key = self.string()?;
        self.expect(b':')?;
        Ok(key)
    }

    /// An object key and its colon, as bytes (escapes decoded, UTF-8 not
    /// checked): for keys compared with fixed ASCII names.
    #[inline]
    pub(crate) fn key_bytes(&mut self) -> Parsed<Cow<'a, [u8]>> {
        let key = self.string_bytes()?;
        self.expect(b':')?;
        Ok(key)
    }

    /// A value nested inside `depth` containers.
    pub(crate) fn value(&mut self, depth: usize) -> Parsed<Json<'a>> {
        match self.next_token().ok_or(DecodeError::Invalid)? {
            b'"' => self.string().map(Json::String),
            b'{' => self.object(depth).map(Json::Object),
            b'[' => self.array(depth).map(Json::Array),
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'n' => self.literal("null", Json::Null),
            _ => self.number().map(Json::Number),
        }
    }

    fn literal(&mut self, word: &str, value: Json<'a>) -> Parsed<Json<'a>> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end) == Some(word.as_bytes()) {
            self.pos = end;
            Ok(value)
        } else {
            Err(DecodeError::Invalid)
        }
    }

    fn object(&mut self, depth: usize) -> Parsed<Object<'a>> {
        self.open(b'{', depth)?;
        let mut entries = Vec::new();
        if !self.empty(b'}') {
            loop {
                let key = self.key()?;
                let value = self.value(depth + 1)?;
                entries.push((key, value));
                if !self.more(b'}', entries.len())? {
                    break;
                }
            }
        }
        sort_unique(&mut entries)?;
        Ok(Object {
            entries: Entries::Owned(entries),
        })
    }

    /// A value nested inside `depth` containers; an object's entries go to
    /// `slots` while they fit (past that, to the heap as usual).
    pub(crate) fn value_in<'s>(
        &mut self,
        depth: usize,
        slots: &'s mut ArgSlots<'a>,
    ) -> Parsed<Json<'s>>
    where
        'a: 's,
    {
        if self.next_token() != Some(b'{') {
            return self.value(depth);
        }
        self.open(b'{', depth)?;
        let mut n = 0;
        let mut spilled: Option<Vec<Entry<'a>>> = None;
        if !self.empty(b'}') {
            loop {
                let key = self.key()?;
                let value = self.value(depth + 1)?;
                match (&mut spilled, slots.0.get_mut(n)) {
                    (Some(heap), _) => heap.push((key, value)),
                    (None, Some(slot)) => *slot = (key, value),
                    (None, None) => {
                        let mut heap: Vec<Entry<'a>> = slots
                            .0
                            .iter_mut()
                            .map(|e| std::mem::replace(e, (Cow::Borrowed(""), Json::Null)))
                            .collect();
                        heap.push((key, value));
                        spilled = Some(heap);
                    }
                }
                n += 1;
                if !self.more(b'}', n)? {
                    break;
                }
            }
        }
        let entries = match spilled {
            Some(mut heap) => {
                sort_unique(&mut heap)?;
                Entries::Owned(heap)
            }
            None => {
                let used = slots.0.get_mut(..n).ok_or(DecodeError::Invalid)?;
                sort_unique(used)?;
                let slots: &'s ArgSlots<'a> = slots;
                Entries::Borrowed(slots.0.get(..n).ok_or(DecodeError::Invalid)?)
            }
        };
        Ok(Json::Object(Object { entries }))
    }

    fn array(&mut self, depth: usize) -> Parsed<Vec<Json<'a>>> {
        self.open(b'[', depth)?;
        let mut items = Vec::new();
        if !self.empty(b']') {
            loop {
                items.push(self.value(depth + 1)?);
                if !self.more(b']', items.len())? {
                    break;
                }
            }
        }
        Ok(items)
    }

    /// A string: borrowed when it has no escapes.
    #[inline]
    pub(crate) fn string(&mut self) -> Parsed<Cow<'a, str>> {
        match self.raw_string()? {
            // Both ends are next to a quote, so on character boundaries.
            RawString::Span(start, end) => self
                .text
                .get(start..end)
                .map(Cow::Borrowed)
                .ok_or(DecodeError::Invalid),
            RawString::Unescaped(v) => String::from_utf8(v)
                .map(Cow::Owned)
                .map_err(|_| DecodeError::Invalid),
        }
    }

    /// A string's bytes, escapes decoded: borrowed when it has no escapes.
    #[inline]
    pub(crate) fn string_bytes(&mut self) -> Parsed<Cow<'a, [u8]>> {
        match self.raw_string()? {
            RawString::Span(start, end) => self
                .bytes
                .get(start..end)
                .map(Cow::Borrowed)
                .ok_or(DecodeError::Invalid),
            RawString::Unescaped(v) => Ok(Cow::Owned(v)),
        }
    }

    #[inline]
    fn raw_string(&mut self) -> Parsed<RawString> {
        self.expect(b'"')?;
        let start = self.pos;
        let open = start - 1;
        let bytes = self.bytes;
        let rest = bytes.get(start..).ok_or(DecodeError::Invalid)?;
        let Some(run) = find_special(rest) else {
            return Err(self.fail(Fault::Unterminated, open));
        };
        let at = start + run;
        match bytes.get(at) {
            Some(b'"') => {
                self.pos = at + 1;
                Ok(RawString::Span(start, at))
            }
            Some(b'\\') => {
                self.pos = at;
                let head = bytes.get(start..at).ok_or(DecodeError::Invalid)?;
                self.escaped_string(open, head).map(RawString::Unescaped)
            }
            _ => Err(self.fail(Fault::Control, at)),
        }
    }

    /// The rest of a string from its first backslash; `head` is what came
    /// before it, `open` the offset of its opening quote.
    fn escaped_string(&mut self, open: usize, head: &[u8]) -> Parsed<Vec<u8>> {
        let mut out = Vec::with_capacity(head.len() + 16);
        out.extend_from_slice(head);
        let bytes = self.bytes;
        loop {
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let at = self.pos;
                    let Some(&escape) = bytes.get(at + 1) else {
                        return Err(self.fail(Fault::Escape, at));
                    };
                    self.pos += 2;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape(at)?,
                        _ => return Err(self.fail(Fault::Escape, at)),
                    };
                    let mut utf8 = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
                Some(_) => {
                    let rest = bytes.get(self.pos..).ok_or(DecodeError::Invalid)?;
                    let Some(run) = find_special(rest) else {
                        return Err(self.fail(Fault::Unterminated, open));
                    };
                    if run == 0 {
                        return Err(self.fail(Fault::Control, self.pos));
                    }
                    let end = self.pos + run;
                    out.extend_from_slice(bytes.get(self.pos..end).ok_or(DecodeError::Invalid)?);
                    self.pos = end;
                }
                None => return Err(self.fail(Fault::Unterminated, open)),
            }
        }
    }

    /// The character of a `\uXXXX` escape (the `\u` already consumed; its
    /// backslash at `at`), joining a surrogate pair; a lone surrogate is
    /// invalid.
    fn unicode_escape(&mut self, at: usize) -> Parsed<char> {
        let Some(first) = self.hex4() else {
            return Err(self.fail(Fault::UnicodeEscape, at));
        };
        let code = match first {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(self.fail(Fault::Surrogate, at));
                }
                self.pos += 2;
                let Some(second) = self.hex4() else {
                    return Err(self.fail(Fault::UnicodeEscape, at));
                };
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.fail(Fault::Surrogate, at));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.fail(Fault::Surrogate, at)),
            _ => first,
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => Err(self.fail(Fault::UnicodeEscape, at)),
        }
    }

    /// Four hex digits.
    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.pos..self.pos + 4)?;
        let mut code = 0u32;
        for &d in digits {
            code = code * 16 + char::from(d).to_digit(16)?;
        }
        self.pos += 4;
        Some(code)
    }

    /// A number (`docs/POLICY.md` section 8, "Numbers"; the policy
    /// reader reads the same token to the same value): without fraction or
    /// exponent and from -2^63 to 2^64 - 1, an integer (`u64`, or `i64`
    /// when negative; `-0` is the integer 0); otherwise the nearest `f64`.
    /// A number whose `f64` is infinite is invalid, and so is a `0`
    /// followed by a digit (no JSON text goes on that way). Whitespace
    /// before it is skipped.
    pub(crate) fn number(&mut self) -> Parsed<Number> {
        // `"id": 1` has a space before the number, as JSON allows.
        self.next_token();
        let bytes = self.bytes;
        let start = self.pos;
        let mut i = start;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'0') => {
                i += 1;
                if bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    return Err(self.fail(Fault::LeadingZero, start));
                }
            }
            Some(b'1'..=b'9') => i = digits_end(bytes, i),
            _ => return Err(self.fail(Fault::NoDigit, start)),
        }
        let mut integer = true;
        if bytes.get(i) == Some(&b'.') {
            integer = false;
            let digits = i + 1;
            i = digits_end(bytes, digits);
            if i == digits {
                return Err(self.fail(Fault::FractionDigit, start));
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            integer = false;
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let digits = i;
            i = digits_end(bytes, digits);
            if i == digits {
                return Err(self.fail(Fault::ExponentDigit, start));
            }
        }
        self.pos = i;
        let token = bytes.get(start..i).ok_or(DecodeError::Invalid)?;
        match crate::number::from_token(token, integer) {
            Some(n) => Ok(n),
            None => Err(self.fail(Fault::OutOfRange, start)),
        }
    }
}

/// Sorts an object's entries by key; a key given twice is invalid.
fn sort_unique(entries: &mut [Entry<'_>]) -> Parsed<()> {
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if entries
        .windows(2)
        .any(|w| matches!(w, [a, b] if a.0 == b.0))
    {
        return Err(DecodeError::Invalid);
    }
    Ok(())
}

/// The index just past the ASCII digits that start at `i`.
fn digits_end(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// The length of a string's rest after its opening quote, up to and
/// including the closing quote, or `None` when the string does not end.
/// For the limit scan, which validates nothing: a backslash escapes the
/// byte after it, and a control character is passed over.
pub(super) fn skip_string(s: &[u8]) -> Option<usize> {
    let mut i = 0usize;
    loop {
        let at = i + find_special(s.get(i..)?)?;
        match s.get(at) {
            Some(b'"') => return Some(at + 1),
            // A backslash: skip it and the byte it escapes.
            Some(b'\\') => i = at + 2,
            // A control character.
            _ => i = at + 1,
        }
    }
}

/// Whether `b` ends a run of plain string bytes.
fn is_special(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// The position of the first `"`, `\` or control character (below 0x20) in
/// `s`. Most strings (keys, names) are short: the first 32 bytes are tested
/// a word at a time; past those, whole 32-byte blocks are tested at once
/// (branch-free, so the compiler vectorizes the test) and long string
/// bodies are skipped at many bytes a cycle. Always inlined: the limit
/// scan's `skip_string` calls it too, and left to a hint the compiler
/// stops inlining it there, which made that scan 40% slower
/// (`BENCHMARKS.md`, "One JSON reader").
#[inline(always)]
fn find_special(s: &[u8]) -> Option<usize> {
    const WORD: usize = 8;
    const BLOCK: usize = 32;
    let mut at = 0usize;
    while at < BLOCK {
        let Some(word) = s
            .get(at..at + WORD)
            .and_then(|w| <[u8; WORD]>::try_from(w).ok())
        else {
            break;
        };
        if let Some(p) = special_in_word(u64::from_le_bytes(word)) {
            return Some(at + p);
        }
        at += WORD;
    }
    if at == BLOCK {
        for block in s.get(at..)?.chunks_exact(BLOCK) {
            // `|`, not `||`: no branch per byte, so the loop vectorizes.
            let hits = block.iter().fold(0u8, |hits, &b| {
                hits | u8::from((b == b'"') | (b == b'\\') | (b < 0x20))
            });
            if hits != 0 {
                break;
            }
            at += BLOCK;
        }
    }
    let rest = s.get(at..)?;
    rest.iter().position(|&b| is_special(b)).map(|p| at + p)
}

/// The index of the first special byte among eight (little-endian), by
/// the classic zero-byte test: `(x - 0x01..) & !x & 0x80..` flags each byte
/// of `x` that is zero (or below `n` for `x - n*0x01..`, `n <= 0x80`).
/// Flags above the first true one may be spurious; the lowest is exact.
#[inline]
fn special_in_word(w: u64) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let quote = w ^ (LO * u64::from(b'"'));
    let backslash = w ^ (LO * u64::from(b'\\'));
    let flags = (quote.wrapping_sub(LO) & !quote)
        | (backslash.wrapping_sub(LO) & !backslash)
        | (w.wrapping_sub(LO * 0x20) & !w);
    let flags = flags & HI;
    (flags != 0).then(|| (flags.trailing_zeros() / 8) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<Json<'_>, DecodeError> {
        let mut p = Parser::new(text, 32, 10_000);
        let v = p.value(0)?;
        if p.at_end() {
            Ok(v)
        } else {
            Err(DecodeError::Invalid)
        }
    }

    #[test]
    fn agrees_with_serde_json_on_valid_text() {
        for text in [
            // `-0` aside (see `minus_zero_is_the_integer_zero`).
            r#"{"b":[1,-2,3.5,0,1e3,1E-3,-0.0,1.0,1e0],"a":{"x":null,"y":true,"z":false}}"#,
            r#""\u00e9\ud83d\ude00\n\t\"\\\/\b\f\r""#,
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "2.2250738585072011e-308",
            "1e-400",
            "0.1",
            "[]",
            "{}",
            " [ 1 , { } , [ ] ] ",
            r#""plain ASCII and ünïcödé""#,
        ] {
            let reference: Value = serde_json::from_str(text).unwrap();
            let ours = parse(text).unwrap();
            assert_eq!(ours.to_value(), reference, "{text}");
            assert_eq!(ours, reference, "{text}");
            assert_eq!(ours.to_string(), reference.to_string(), "{text}");
        }
    }

    #[test]
    fn minus_zero_is_the_integer_zero() {
        // Written without fraction or exponent, `-0` is an integer
        // (`docs/POLICY.md` section 8), the integer 0; serde_json reads the
        // double -0.0. `-0.0` and `-0e0` stay doubles.
        let v = parse("[-0,-0.0,-0e0,0]").unwrap();
        let items = v.as_array().unwrap();
        assert_eq!(items[0], Json::Number(Number::from(0u64)));
        assert_eq!(items[0].type_name(), "integer");
        assert_eq!(items[0].to_string(), "0");
        for item in &items[1..3] {
            assert_eq!(item.type_name(), "number");
            assert!(item
                .as_f64()
                .is_some_and(|f| f == 0.0 && f.is_sign_negative()));
        }
        assert_eq!(items[3], items[0]);
        let serde: Value = serde_json::from_str("-0").unwrap();
        assert!(serde.is_f64());
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for text in [
            "",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            "tru",
            "nul",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"\\x\"",
            "\"a\u{1}\"",
            "\"abc",
            "1e400",
            "-1e400",
            "[1 2]",
            "{\"a\" 1}",
            "{1:2}",
            "NaN",
            "Infinity",
            "[1]]",
            "// c",
        ] {
            assert!(serde_json::from_str::<Value>(text).is_err(), "{text}");
            assert!(parse(text).is_err(), "{text}");
        }
        assert_eq!(parse(r#"{"a":1,"a":1}"#), Err(DecodeError::Invalid));
        assert_eq!(parse(r#"{"a":1,"\u0061":2}"#), Err(DecodeError::Invalid));
        // Outside strings, any non-ASCII byte is a syntax error.
        let mut p = Parser::new("[1,é]", 32, 10);
        assert_eq!(p.value(0), Err(DecodeError::Invalid));
    }

    #[test]
    fn limits_hold_while_parsing() {
        fn parse_with(text: &str, depth: usize, items: usize) -> Result<Json<'_>, DecodeError> {
            let mut p = Parser::new(text, depth, items);
            p.value(0)
        }
        assert_eq!(
            parse_with("[[1]]", 1, 9).err(),
            Some(DecodeError::OverLimit)
        );
        assert!(parse_with("[[1]]", 2, 9).is_ok());
        assert_eq!(
            parse_with("[1,2,3]", 9, 2).err(),
            Some(DecodeError::OverLimit)
        );
        assert!(parse_with("[1,2,3]", 9, 3).is_ok());
        assert_eq!(
            parse_with(r#"{"a":1,"b":2,"c":3}"#, 9, 2).err(),
            Some(DecodeError::OverLimit)
        );
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let text = r#"{"name":"Ada","note":"a\nb"}"#;
        let v = parse(text).unwrap();
        assert!(matches!(
            v.get("name"),
            Some(Json::String(Cow::Borrowed("Ada")))
        ));
        assert!(matches!(v.get("note"), Some(Json::String(Cow::Owned(s))) if s == "a\nb"));
        assert_eq!(v["missing"], Json::Null);
        assert_eq!(v["name"].as_str(), Some("Ada"));
    }

    #[test]
    fn word_scan_agrees_with_a_byte_scan() {
        let alphabet = [
            b'a', b'"', b'\\', 0x1f, 0x20, 0x7f, 0x80, 0xff, 0x00, b'!', b'#', b'[',
        ];
        let mut next = crate::test_rng::xorshift(7);
        for len in 0..120usize {
            for _ in 0..300 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        let x = next();
                        // Mostly plain bytes, so runs cross words and blocks.
                        if x % 8 == 0 {
                            alphabet[(x as usize / 8) % alphabet.len()]
                        } else {
                            b'a' + (x % 26) as u8
                        }
                    })
                    .collect();
                let expected = bytes.iter().position(|&b| is_special(b));
                assert_eq!(find_special(&bytes), expected, "{bytes:?}");
            }
        }
    }

    #[test]
    fn objects_iterate_like_serde_json_maps() {
        let text = r#"{"b":1,"a":2,"c":{"z":1,"y":2}}"#;
        let ours = parse(text).unwrap();
        let reference: Value = serde_json::from_str(text).unwrap();
        let keys: Vec<&str> = ours.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(Json::from_value(&reference), ours);
        assert_eq!(json!(ours), reference);
    }
}
