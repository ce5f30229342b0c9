//! Compiled argument and payload constraints, and checking values against
//! them. Checking never allocates unless asked for a trace of where a value
//! failed (only done once a message is already denied).

use super::errors::quote;
use super::path::{PathFail, PathRule};
use crate::message::Json;
use regex::Regex;
use regex_automata::dfa::{dense::DFA, Automaton};
use regex_automata::util::start;
use regex_automata::Anchored;
use serde_json::{Number, Value};
use std::cmp::Ordering;

/// A compiled constraint: a type with its bounds, and optionally an enum.
#[derive(Debug, Clone)]
pub(crate) struct Constraint {
    pub kind: Kind,
    /// When set, the value must also equal one of these (see [`json_eq`]).
    pub one_of: Option<Vec<Value>>,
}

/// The type-specific part of a constraint.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Any,
    Null,
    Boolean,
    String {
        pattern: Option<Pattern>,
        min_length: Option<usize>,
        max_length: Option<usize>,
    },
    Integer {
        minimum: Option<Number>,
        maximum: Option<Number>,
    },
    Number {
        minimum: Option<Number>,
        maximum: Option<Number>,
    },
    Array {
        items: Box<Constraint>,
        min_items: Option<usize>,
        max_items: Option<usize>,
    },
    Object {
        /// Sorted by name, for binary search.
        properties: Vec<(String, Constraint)>,
        required: Vec<String>,
        additional: bool,
    },
    Path(PathRule),
    /// `{"type": "grant"}`: any value here; the host's grants decide
    /// (`crate::grant`). Only a top-level argument of a command rule.
    Grant,
}

/// A compiled, anchored regex and its source as written.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub source: String,
    pub regex: Regex,
    /// The same anchored pattern as a dense DFA, when it is small (most
    /// argument patterns are): a full match is then one table walk over
    /// the string, without the general engine's per-search set-up.
    pub dfa: Option<Box<DFA<Vec<u32>>>>,
}

impl Pattern {
    /// Whether the whole of `s` matches.
    pub(crate) fn full_match(&self, s: &str) -> bool {
        if let Some(dfa) = &self.dfa {
            if let Some(matched) = dfa_full_match(dfa, s) {
                return matched;
            }
        }
        self.regex.is_match(s)
    }
}

/// Runs the anchored DFA over all of `s` by hand: one table step per byte,
/// then the end-of-input step, whose state says whether the pattern (which
/// ends in `$`) matched. A tight loop, where the library's general search
/// would bring a large function into the hot path. `None` if the DFA gave
/// up (it is built without quit bytes, so it never does; the regex would
/// answer).
fn dfa_full_match(dfa: &DFA<Vec<u32>>, s: &str) -> Option<bool> {
    let start = start::Config::new().anchored(Anchored::Yes);
    let mut state = dfa.start_state(&start).ok()?;
    for &b in s.as_bytes() {
        state = dfa.next_state(state, b);
        if dfa.is_special_state(state) {
            if dfa.is_dead_state(state) {
                return Some(false);
            }
            if dfa.is_quit_state(state) {
                return None;
            }
        }
    }
    Some(dfa.is_match_state(dfa.next_eoi_state(state)))
}

/// One step into a value, for locating a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step<'v> {
    Key(&'v str),
    Index(usize),
}

/// Why a value failed a constraint. Borrows from the constraint (`'c`) and
/// the value (`'v`), so building it costs nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fail<'c, 'v> {
    Type {
        expected: &'static str,
        got: &'static str,
    },
    NotInEnum,
    Pattern(&'c str),
    TooShort(usize),
    TooLong(usize),
    Below(&'c Number),
    Above(&'c Number),
    TooFewItems(usize),
    TooManyItems(usize),
    Unknown(&'v str),
    Missing(&'c str),
    Path(PathFail, &'c PathRule),
}

/// The JSON type name of a value, as used in messages.
pub(crate) fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Compares numbers by value, exactly (see [`crate::number::cmp`]).
pub(crate) fn cmp_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    crate::number::cmp(a, b)
}

/// JSON equality between an allowed value (from the policy) and a
/// message's value, where numbers compare by value, exactly (`1` equals
/// `1.0`, `0` equals `-0.0`; 9007199254740993 is not 9007199254740992.0).
pub(crate) fn json_eq(a: &Value, b: &Json<'_>) -> bool {
    match (a, b) {
        (Value::Null, Json::Null) => true,
        (Value::Bool(x), Json::Bool(y)) => x == y,
        (Value::Number(x), Json::Number(y)) => crate::number::eq(x, y),
        (Value::String(x), Json::String(y)) => x == y,
        (Value::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, p)| y.get(k).is_some_and(|q| json_eq(p, q)))
        }
        _ => false,
    }
}

impl Constraint {
    /// The names of the top-level properties typed `grant` (of an `args`
    /// object constraint), in name order.
    pub(crate) fn grant_properties(&self) -> Vec<String> {
        match &self.kind {
            Kind::Object { properties, .. } => properties
                .iter()
                .filter(|(_, c)| matches!(c.kind, Kind::Grant))
                .map(|(name, _)| name.clone())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether a `grant` type appears anywhere but as a top-level property.
    pub(crate) fn has_nested_grant(&self, top: bool) -> bool {
        match &self.kind {
            Kind::Grant => !top,
            Kind::Array { items, .. } => items.has_nested_grant(false),
            Kind::Object { properties, .. } => properties
                .iter()
                .any(|(_, c)| c.has_nested_grant(false) && !(top && matches!(c.kind, Kind::Grant))),
            _ => false,
        }
    }

    /// The empty object `{}` and nothing else: what a command rule without
    /// `args` accepts.
    pub(crate) fn empty_object() -> Self {
        Constraint {
            kind: Kind::Object {
                properties: Vec::new(),
                required: Vec::new(),
                additional: false,
            },
            one_of: None,
        }
    }

    /// `null` and nothing else: what an event rule without `payload` accepts.
    pub(crate) fn null() -> Self {
        Constraint {
            kind: Kind::Null,
            one_of: None,
        }
    }

    /// Checks `v`. When `trace` is given and the check fails, it receives
    /// the steps from `v` to the failing value, innermost first.
    pub(crate) fn check<'c, 'v>(
        &'c self,
        v: &'v Json<'_>,
        mut trace: Option<&mut Vec<Step<'v>>>,
    ) -> Result<(), Fail<'c, 'v>> {
        let wrong = |expected| Fail::Type {
            expected,
            got: v.type_name(),
        };
        match &self.kind {
            Kind::Any => {}
            Kind::Null => {
                if !v.is_null() {
                    return Err(wrong("null"));
                }
            }
            Kind::Boolean => {
                if !v.is_boolean() {
                    return Err(wrong("boolean"));
                }
            }
            Kind::String {
                pattern,
                min_length,
                max_length,
            } => {
                let s = v.as_str().ok_or_else(|| wrong("string"))?;
                check_length(s, *min_length, *max_length)?;
                if let Some(p) = pattern {
                    if !p.full_match(s) {
                        return Err(Fail::Pattern(&p.source));
                    }
                }
            }
            Kind::Integer { minimum, maximum } => {
                let n = v
                    .as_number()
                    .filter(|n| !n.is_f64())
                    .ok_or_else(|| wrong("integer"))?;
                check_bounds(n, minimum.as_ref(), maximum.as_ref())?;
            }
            Kind::Number { minimum, maximum } => {
                let n = v.as_number().ok_or_else(|| wrong("number"))?;
                check_bounds(n, minimum.as_ref(), maximum.as_ref())?;
            }
            Kind::Array {
                items,
                min_items,
                max_items,
            } => {
                let a = v.as_array().ok_or_else(|| wrong("array"))?;
                if let Some(min) = min_items {
                    if a.len() < *min {
                        return Err(Fail::TooFewItems(*min));
                    }
                }
                if let Some(max) = max_items {
                    if a.len() > *max {
                        return Err(Fail::TooManyItems(*max));
                    }
                }
                for (i, item) in a.iter().enumerate() {
                    if let Err(fail) = items.check(item, trace.as_deref_mut()) {
                        if let Some(t) = trace {
                            t.push(Step::Index(i));
                        }
                        return Err(fail);
                    }
                }
            }
            Kind::Object {
                properties,
                required,
                additional,
            } => {
                let o = v.as_object().ok_or_else(|| wrong("object"))?;
                for name in required {
                    if !o.contains_key(name) {
                        return Err(Fail::Missing(name));
                    }
                }
                for (key, value) in o.iter() {
                    // A few properties: a scan of short compares beats a
                    // binary search of `memcmp` calls.
                    let found = if properties.len() <= 8 {
                        properties.iter().position(|(k, _)| k == key).ok_or(())
                    } else {
                        properties
                            .binary_search_by(|(k, _)| k.as_str().cmp(key))
                            .map_err(|_| ())
                    };
                    match found {
                        Ok(i) => {
                            let Some((_, c)) = properties.get(i) else {
                                continue;
                            };
                            if let Err(fail) = c.check(value, trace.as_deref_mut()) {
                                if let Some(t) = trace {
                                    t.push(Step::Key(key));
                                }
                                return Err(fail);
                            }
                        }
                        Err(_) if *additional => {}
                        Err(_) => return Err(Fail::Unknown(key)),
                    }
                }
            }
            Kind::Path(rule) => {
                let s = v.as_str().ok_or_else(|| wrong("path (a string)"))?;
                rule.check(s).map_err(|f| Fail::Path(f, rule))?;
            }
            // Decided by the grants (`Policy::verdict`), not here.
            Kind::Grant => {}
        }
        match &self.one_of {
            Some(values) if !values.iter().any(|e| json_eq(e, v)) => Err(Fail::NotInEnum),
            _ => Ok(()),
        }
    }
}

fn check_length<'c>(
    s: &str,
    min: Option<usize>,
    max: Option<usize>,
) -> Result<(), Fail<'c, 'static>> {
    // A character is 1 to 4 bytes, so the byte length often settles it
    // without counting: `bytes <= max` passes the maximum, `bytes / 4 >=
    // min` passes the minimum, `bytes < min` fails it.
    let bytes = s.len();
    let settled = max.map_or(true, |m| bytes <= m) && min.map_or(true, |m| bytes / 4 >= m);
    if settled {
        return Ok(());
    }
    if let Some(min) = min {
        if bytes < min {
            return Err(Fail::TooShort(min));
        }
    }
    // Count at most one past the maximum: long inputs stop early.
    let cap = max.map_or(usize::MAX, |m| m.saturating_add(1));
    let len = s.chars().take(cap).count();
    if let Some(min) = min {
        if len < min {
            return Err(Fail::TooShort(min));
        }
    }
    if let Some(max) = max {
        if len > max {
            return Err(Fail::TooLong(max));
        }
    }
    Ok(())
}

fn check_bounds<'c>(
    n: &Number,
    min: Option<&'c Number>,
    max: Option<&'c Number>,
) -> Result<(), Fail<'c, 'static>> {
    if let Some(min) = min {
        if !matches!(
            cmp_numbers(n, min),
            Some(Ordering::Greater | Ordering::Equal)
        ) {
            return Err(Fail::Below(min));
        }
    }
    if let Some(max) = max {
        if !matches!(cmp_numbers(n, max), Some(Ordering::Less | Ordering::Equal)) {
            return Err(Fail::Above(max));
        }
    }
    Ok(())
}

/// Describes a failure in words. `subject` names the checked value
/// ("argument `a.b`", "payload"); `root_args` is true when the failing
/// value is the args object itself (for "unknown argument" wording).
pub(crate) fn describe(
    fail: &Fail<'_, '_>,
    subject: &str,
    value: &Json<'_>,
    root_args: bool,
) -> String {
    match fail {
        Fail::Type { expected, got } => format!("{subject} must be {expected}, not {got}"),
        Fail::NotInEnum => format!(
            "{subject} is {}, which is not one of the allowed values",
            short(value)
        ),
        Fail::Pattern(p) => format!("{subject} does not match pattern {}", quote(p)),
        Fail::TooShort(n) => format!("{subject} is shorter than {n} characters"),
        Fail::TooLong(n) => format!("{subject} is longer than {n} characters"),
        Fail::Below(m) => format!("{subject} is {}, below minimum {m}", short(value)),
        Fail::Above(m) => format!("{subject} is {}, above maximum {m}", short(value)),
        Fail::TooFewItems(n) => format!("{subject} has fewer than {n} items"),
        Fail::TooManyItems(n) => format!("{subject} has more than {n} items"),
        Fail::Unknown(k) if root_args => format!("unknown argument {}", quote(k)),
        Fail::Unknown(k) => format!("{subject} has unknown field {}", quote(k)),
        Fail::Missing(k) if root_args => format!("missing argument {}", quote(k)),
        Fail::Missing(k) => format!("{subject} lacks required field {}", quote(k)),
        Fail::Path(f, rule) => format!("{subject} {}", f.describe(rule)),
    }
}

/// A value for a message: numbers and short strings as is, others by type.
fn short(v: &Json<'_>) -> String {
    match v {
        Json::Number(n) => n.to_string(),
        Json::String(s) if s.chars().count() <= 40 => format!("`{s}`"),
        Json::Bool(b) => b.to_string(),
        Json::Null => "null".to_owned(),
        other => format!("a {}", other.type_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn j(v: &Value) -> Json<'_> {
        Json::from_value(v)
    }

    #[test]
    fn number_comparisons() {
        let n = |v: Value| v.as_number().unwrap().clone();
        assert_eq!(
            cmp_numbers(&n(json!(1)), &n(json!(1.0))),
            Some(Ordering::Equal)
        );
        assert_eq!(
            cmp_numbers(&n(json!(u64::MAX)), &n(json!(i64::MIN))),
            Some(Ordering::Greater)
        );
        assert!(json_eq(
            &json!({"a": [1, 2.0]}),
            &j(&json!({"a": [1.0, 2]}))
        ));
        assert!(!json_eq(&json!({"a": 1}), &j(&json!({"a": 1, "b": 2}))));
        assert!(!json_eq(&json!("1"), &j(&json!(1))));
        // Exact, not through `f64`: 2^53 + 1 is no double.
        assert!(!json_eq(
            &json!(9007199254740993u64),
            &j(&json!(9007199254740992.0))
        ));
        assert!(json_eq(
            &json!(9007199254740992u64),
            &j(&json!(9007199254740992.0))
        ));
        assert!(json_eq(&json!(0), &j(&json!(-0.0))));
        assert_eq!(
            cmp_numbers(
                &n(json!(9007199254740993u64)),
                &n(json!(9007199254740992.0))
            ),
            Some(Ordering::Greater)
        );
    }

    /// `null`, `boolean` and `any` take exactly their values; a wrong type
    /// is named with the type expected and the type given.
    #[test]
    fn simple_kinds_take_their_type() {
        let of = |kind| Constraint { kind, one_of: None };
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!("true"),
            json!([]),
            json!({}),
        ];
        let (any, null_only, boolean_only) = (of(Kind::Any), of(Kind::Null), of(Kind::Boolean));
        for v in &values {
            let v = j(v);
            let got = v.type_name();
            assert!(any.check(&v, None).is_ok());
            let null = null_only.check(&v, None);
            if got == "null" {
                assert!(null.is_ok());
            } else {
                assert!(matches!(null, Err(Fail::Type { expected: "null", got: g }) if g == got));
            }
            let boolean = boolean_only.check(&v, None);
            if got == "boolean" {
                assert!(boolean.is_ok(), "{got}");
            } else {
                assert!(
                    matches!(boolean, Err(Fail::Type { expected: "boolean", got: g }) if g == got),
                    "{got}"
                );
            }
        }
    }

    /// `minItems` and `maxItems` are inclusive.
    #[test]
    fn item_counts_are_inclusive() {
        let c = Constraint {
            kind: Kind::Array {
                items: Box::new(Constraint {
                    kind: Kind::Any,
                    one_of: None,
                }),
                min_items: Some(2),
                max_items: Some(3),
            },
            one_of: None,
        };
        let check = |v: Value| c.check(&j(&v), None).map_err(|f| format!("{f:?}"));
        assert_eq!(check(json!([])), Err("TooFewItems(2)".to_owned()));
        assert_eq!(check(json!([1])), Err("TooFewItems(2)".to_owned()));
        assert_eq!(check(json!([1, 2])), Ok(()));
        assert_eq!(check(json!([1, 2, 3])), Ok(()));
        assert_eq!(
            check(json!([1, 2, 3, 4])),
            Err("TooManyItems(3)".to_owned())
        );
    }

    /// Integers compare exactly, past the 53 bits a float holds.
    #[test]
    fn big_integers_compare_exactly() {
        let n = |v: Value| v.as_number().unwrap().clone();
        let two_53 = 1u64 << 53;
        assert_eq!(
            cmp_numbers(&n(json!(two_53 + 1)), &n(json!(two_53))),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp_numbers(&n(json!(-(two_53 as i64) - 1)), &n(json!(-(two_53 as i64)))),
            Some(Ordering::Less)
        );
        assert!(!json_eq(&json!(two_53 + 1), &j(&json!(two_53))));
        let c = Constraint {
            kind: Kind::Integer {
                minimum: Some(Number::from(two_53 + 1)),
                maximum: None,
            },
            one_of: None,
        };
        assert!(matches!(
            c.check(&j(&json!(two_53)), None),
            Err(Fail::Below(_))
        ));
        assert!(c.check(&j(&json!(two_53 + 1)), None).is_ok());
    }

    /// Every JSON type in an `enum`: equal, unequal, and other types.
    #[test]
    fn enum_values_compare_as_json() {
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(2),
            json!("a"),
            json!([1, "x"]),
            json!({"k": [null]}),
        ];
        for (i, a) in values.iter().enumerate() {
            for (k, b) in values.iter().enumerate() {
                assert_eq!(json_eq(a, &j(b)), i == k, "{a} vs {b}");
            }
        }
        // Arrays and objects: same prefix or subset is not equal.
        assert!(!json_eq(&json!([1]), &j(&json!([1, 2]))));
        assert!(!json_eq(&json!([1, 2]), &j(&json!([1]))));
        assert!(!json_eq(&json!([1, 2]), &j(&json!([1, 3]))));
        assert!(!json_eq(&json!({"a": 1, "b": 2}), &j(&json!({"a": 1}))));
        assert!(!json_eq(&json!({"a": 1}), &j(&json!({"a": 2}))));
        assert!(!json_eq(&json!({"a": 1}), &j(&json!({"b": 1}))));
        assert!(!json_eq(&json!("a"), &j(&json!("b"))));
    }

    #[test]
    fn type_names_tell_integers_from_numbers() {
        assert_eq!(type_of(&json!(1)), "integer");
        assert_eq!(type_of(&json!(1.5)), "number");
        assert_eq!(type_of(&json!(null)), "null");
        assert_eq!(type_of(&json!("s")), "string");
    }

    /// A failing value is quoted up to 40 characters, then named by type.
    #[test]
    fn short_values_are_quoted_long_ones_named() {
        let forty = "é".repeat(40);
        let forty_one = "é".repeat(41);
        let v40 = json!(forty);
        let v41 = json!(forty_one);
        let v40 = j(&v40);
        let v41 = j(&v41);
        assert_eq!(
            describe(&Fail::NotInEnum, "argument `x`", &v40, false),
            format!("argument `x` is `{forty}`, which is not one of the allowed values")
        );
        assert_eq!(
            describe(&Fail::NotInEnum, "argument `x`", &v41, false),
            "argument `x` is a string, which is not one of the allowed values"
        );
    }

    /// Counts every time, as before the byte-length shortcuts.
    fn length_reference(s: &str, min: Option<usize>, max: Option<usize>) -> bool {
        let n = s.chars().count();
        min.map_or(true, |m| n >= m) && max.map_or(true, |m| n <= m)
    }

    #[test]
    fn length_shortcuts_agree_with_counting() {
        let pieces = ["", "a", "é", "€", "😀", "ab", "a😀", "éé€"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let s = format!("{a}{b}{c}");
                    for min in [None, Some(0), Some(1), Some(2), Some(3), Some(4), Some(7)] {
                        for max in [None, Some(0), Some(1), Some(2), Some(3), Some(5), Some(12)] {
                            assert_eq!(
                                check_length(&s, min, max).is_ok(),
                                length_reference(&s, min, max),
                                "{s:?} {min:?} {max:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bounds_are_inclusive() {
        let c = Constraint {
            kind: Kind::Integer {
                minimum: Some(Number::from(-2)),
                maximum: Some(Number::from(5)),
            },
            one_of: None,
        };
        assert!(c.check(&j(&json!(-2)), None).is_ok());
        assert!(c.check(&j(&json!(5)), None).is_ok());
        assert!(matches!(c.check(&j(&json!(6)), None), Err(Fail::Above(_))));
        assert!(matches!(c.check(&j(&json!(-3)), None), Err(Fail::Below(_))));
        assert!(matches!(
            c.check(&j(&json!(1.0)), None),
            Err(Fail::Type { .. })
        ));
    }

    #[test]
    fn trace_points_at_the_failing_value() {
        let inner = Constraint {
            kind: Kind::Integer {
                minimum: None,
                maximum: Some(Number::from(3)),
            },
            one_of: None,
        };
        let c = Constraint {
            kind: Kind::Object {
                properties: vec![(
                    "xs".into(),
                    Constraint {
                        kind: Kind::Array {
                            items: Box::new(inner),
                            min_items: None,
                            max_items: None,
                        },
                        one_of: None,
                    },
                )],
                required: vec![],
                additional: false,
            },
            one_of: None,
        };
        let v = json!({"xs": [1, 2, 9]});
        let v = j(&v);
        let mut trace = Vec::new();
        assert!(c.check(&v, Some(&mut trace)).is_err());
        assert_eq!(trace, vec![Step::Index(2), Step::Key("xs")]);
        assert!(matches!(
            c.check(&j(&json!({"y": 1})), None),
            Err(Fail::Unknown("y"))
        ));
    }
}
