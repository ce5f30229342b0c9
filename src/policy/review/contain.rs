//! Whether one constraint provably accepts everything another accepts
//! (`docs/POLICY.md`, "Reviewing policies"), and constraints written back
//! as policy JSON.

use super::super::constraint::{cmp_numbers, Constraint, Kind};
use crate::message::Json;
use serde_json::{json, Map, Number, Value};
use std::cmp::Ordering;

/// Most values a constraint with finitely many accepted values is tried
/// with one by one; past it the structural comparison decides.
const MAX_FINITE: usize = 256;

/// Whether every value `new` accepts is accepted by one of `olds`
/// (provably: `false` means "not shown", not "shown not to").
pub(crate) fn covered(olds: &[&Constraint], new: &Constraint) -> bool {
    // An old rule with `grant` arguments also needs them granted: it can
    // cover only messages whose such arguments need a grant under the new
    // rule too, or cannot be there at all.
    let usable: Vec<&Constraint> = olds
        .iter()
        .copied()
        .filter(|o| {
            o.grant_properties()
                .iter()
                .all(|g| new.grant_properties().contains(g) || !may_have(new, g))
        })
        .collect();
    let olds = usable.as_slice();
    if let Some(values) = finite_values(new) {
        return values.iter().all(|v| {
            let v = Json::from_value(v);
            olds.iter().any(|o| o.check(&v, None).is_ok())
        });
    }
    olds.iter().any(|o| contains(o, new))
}

/// Whether `old` accepts every value `new` accepts, shown structurally.
pub(crate) fn contains(old: &Constraint, new: &Constraint) -> bool {
    if old.one_of.is_none() && matches!(old.kind, Kind::Any) {
        return true;
    }
    if let Some(values) = finite_values(new) {
        return values
            .iter()
            .all(|v| old.check(&Json::from_value(v), None).is_ok());
    }
    match (&old.one_of, &new.one_of) {
        (None, _) => {}
        // Each new value is an old one: then the types decide.
        (Some(vo), Some(vn)) if vn.iter().all(|v| vo.contains(v)) => {
            let strip = |c: &Constraint| Constraint {
                kind: c.kind.clone(),
                one_of: None,
            };
            return contains(&strip(old), &strip(new));
        }
        (Some(_), _) => return false,
    }
    match (&old.kind, &new.kind) {
        (
            Kind::String {
                pattern: po,
                min_length: lo,
                max_length: ho,
            },
            Kind::String {
                pattern: pn,
                min_length: ln,
                max_length: hn,
            },
        ) => {
            lo.unwrap_or(0) <= ln.unwrap_or(0)
                && upper_len(*ho, *hn)
                && match (po, pn) {
                    (None, _) => true,
                    (Some(a), Some(b)) => a.source == b.source,
                    (Some(_), None) => false,
                }
        }
        (
            Kind::String {
                pattern: None,
                min_length,
                max_length,
            },
            Kind::Path(_),
        ) => {
            min_length.unwrap_or(0) <= 1
                && upper_len(*max_length, Some(super::super::path::MAX_PATH_LEN))
        }
        (
            Kind::Integer {
                minimum: lo,
                maximum: ho,
            }
            | Kind::Number {
                minimum: lo,
                maximum: ho,
            },
            Kind::Integer {
                minimum: ln,
                maximum: hn,
            },
        )
        | (
            Kind::Number {
                minimum: lo,
                maximum: ho,
            },
            Kind::Number {
                minimum: ln,
                maximum: hn,
            },
        ) => {
            bound(lo.as_ref(), ln.as_ref(), Ordering::Less)
                && bound(ho.as_ref(), hn.as_ref(), Ordering::Greater)
        }
        (
            Kind::Array {
                items: io,
                min_items: lo,
                max_items: ho,
            },
            Kind::Array {
                items: inew,
                min_items: ln,
                max_items: hn,
            },
        ) => {
            lo.unwrap_or(0) <= ln.unwrap_or(0)
                && upper_len(*ho, *hn)
                && (*hn == Some(0) || contains(io, inew))
        }
        (
            Kind::Object {
                properties: po,
                required: ro,
                additional: ao,
            },
            Kind::Object {
                properties: pn,
                required: rn,
                additional: an,
            },
        ) => {
            ro.iter().all(|r| rn.contains(r))
                && pn.iter().all(|(k, cn)| match get(po, k) {
                    Some(co) => contains(co, cn),
                    None => *ao,
                })
                && (!*an
                    || (*ao
                        && po.iter().all(|(k, co)| {
                            get(pn, k).is_some()
                                || (co.one_of.is_none() && matches!(co.kind, Kind::Any))
                        })))
        }
        // The same grant requirement (top-level arguments only; `covered`
        // checks which arguments need grants).
        (Kind::Grant, Kind::Grant) => true,
        (Kind::Path(o), Kind::Path(n)) => {
            o.base == n.base
                && (o.allow_hidden || !n.allow_hidden)
                && match (&o.glob, &n.glob) {
                    (None, _) => true,
                    (Some(g), _) if g.source.split('/').all(|s| s == "**") => true,
                    (Some(g), Some(h)) => g.source == h.source,
                    (Some(_), None) => false,
                }
        }
        _ => false,
    }
}

/// Whether an object `c` accepts can have property `name`.
fn may_have(c: &Constraint, name: &str) -> bool {
    match &c.kind {
        Kind::Object {
            properties,
            additional,
            ..
        } => *additional || properties.iter().any(|(k, _)| k == name),
        _ => true,
    }
}

fn get<'c>(props: &'c [(String, Constraint)], k: &str) -> Option<&'c Constraint> {
    props.iter().find(|(name, _)| name == k).map(|(_, c)| c)
}

/// `old` as an upper bound on lengths is at least `new` (`None`: none).
fn upper_len(old: Option<usize>, new: Option<usize>) -> bool {
    match (old, new) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(o), Some(n)) => o >= n,
    }
}

/// `old` bounds at least as loosely as `new` on its side: `Less` for
/// minimums (old <= new), `Greater` for maximums (old >= new).
fn bound(old: Option<&Number>, new: Option<&Number>, side: Ordering) -> bool {
    match (old, new) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(o), Some(n)) => {
            matches!(cmp_numbers(o, n), Some(c) if c == side || c == Ordering::Equal)
        }
    }
}

/// Every value a constraint accepts, when they are few and known: its
/// `enum` values in every form a message can give them (`1` and `1.0`),
/// `null`, `true` and `false`, or a short integer range.
pub(crate) fn finite_values(c: &Constraint) -> Option<Vec<Value>> {
    let values = match (&c.one_of, &c.kind) {
        (Some(values), _) => {
            let mut out = Vec::new();
            for v in values {
                out.extend(forms(v)?);
                if out.len() > MAX_FINITE {
                    return None;
                }
            }
            out
        }
        (None, Kind::Null) => vec![Value::Null],
        (None, Kind::Boolean) => vec![json!(false), json!(true)],
        (
            None,
            Kind::Integer {
                minimum: Some(lo),
                maximum: Some(hi),
            },
        ) => {
            let lo = integer(lo)?;
            let hi = integer(hi)?;
            if hi < lo || hi - lo >= MAX_FINITE as i128 {
                return None;
            }
            (lo..=hi).filter_map(int_value).collect()
        }
        _ => return None,
    };
    Some(
        values
            .into_iter()
            .filter(|v| c.check(&Json::from_value(v), None).is_ok())
            .collect(),
    )
}

fn integer(n: &Number) -> Option<i128> {
    n.as_u64()
        .map(i128::from)
        .or_else(|| n.as_i64().map(i128::from))
}

fn int_value(i: i128) -> Option<Value> {
    if let Ok(u) = u64::try_from(i) {
        return Some(Value::Number(Number::from(u)));
    }
    i64::try_from(i)
        .ok()
        .map(|s| Value::Number(Number::from(s)))
}

/// The values a message can hold that equal `v` as `enum` compares
/// (numbers by value: an integer and a double of the same value; `-0.0`
/// for zero). `None` when there are too many.
fn forms(v: &Value) -> Option<Vec<Value>> {
    Some(match v {
        Value::Number(n) => {
            let mut out = Vec::new();
            let exact = integer(n).or_else(|| {
                let f = n.as_f64()?;
                // Whole doubles within 2^64 in magnitude convert exactly.
                (f.fract() == 0.0 && f.abs() < 1.9e19).then_some(f as i128)
            });
            if let Some(i) = exact {
                out.extend(int_value(i));
                let f = i as f64;
                if f as i128 == i && f.abs() < 1.9e19 {
                    out.extend(Number::from_f64(f).map(Value::Number));
                    if i == 0 {
                        out.extend(Number::from_f64(-0.0).map(Value::Number));
                    }
                }
            } else {
                out.push(v.clone());
            }
            out
        }
        Value::Array(items) => {
            let mut out: Vec<Vec<Value>> = vec![Vec::new()];
            for item in items {
                let fs = forms(item)?;
                let mut next = Vec::new();
                for prefix in &out {
                    for f in &fs {
                        let mut p = prefix.clone();
                        p.push(f.clone());
                        next.push(p);
                    }
                }
                if next.len() > MAX_FINITE {
                    return None;
                }
                out = next;
            }
            out.into_iter().map(Value::Array).collect()
        }
        Value::Object(map) => {
            let mut out: Vec<Map<String, Value>> = vec![Map::new()];
            for (k, item) in map {
                let fs = forms(item)?;
                let mut next = Vec::new();
                for prefix in &out {
                    for f in &fs {
                        let mut p = prefix.clone();
                        p.insert(k.clone(), f.clone());
                        next.push(p);
                    }
                }
                if next.len() > MAX_FINITE {
                    return None;
                }
                out = next;
            }
            out.into_iter().map(Value::Object).collect()
        }
        other => vec![other.clone()],
    })
}

/// A constraint written back as policy JSON (`docs/POLICY.md` section 8),
/// keys in a fixed order; a default left out (`additional: false`).
pub(crate) fn to_json(c: &Constraint) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    match &c.kind {
        Kind::Any => put("type", json!("any")),
        Kind::Null => put("type", json!("null")),
        Kind::Boolean => put("type", json!("boolean")),
        Kind::String {
            pattern,
            min_length,
            max_length,
        } => {
            put("type", json!("string"));
            if let Some(p) = pattern {
                put("pattern", json!(p.source));
            }
            if let Some(n) = min_length {
                put("min_length", json!(n));
            }
            if let Some(n) = max_length {
                put("max_length", json!(n));
            }
        }
        Kind::Integer { minimum, maximum } | Kind::Number { minimum, maximum } => {
            let t = if matches!(c.kind, Kind::Integer { .. }) {
                "integer"
            } else {
                "number"
            };
            put("type", json!(t));
            if let Some(n) = minimum {
                put("minimum", Value::Number(n.clone()));
            }
            if let Some(n) = maximum {
                put("maximum", Value::Number(n.clone()));
            }
        }
        Kind::Array {
            items,
            min_items,
            max_items,
        } => {
            put("type", json!("array"));
            put("items", to_json(items));
            if let Some(n) = min_items {
                put("min_items", json!(n));
            }
            if let Some(n) = max_items {
                put("max_items", json!(n));
            }
        }
        Kind::Object {
            properties,
            required,
            additional,
        } => {
            put("type", json!("object"));
            if !properties.is_empty() {
                let props: Map<String, Value> = properties
                    .iter()
                    .map(|(k, c)| (k.clone(), to_json(c)))
                    .collect();
                put("properties", Value::Object(props));
            }
            if !required.is_empty() {
                put("required", json!(required));
            }
            if *additional {
                put("additional", json!(true));
            }
        }
        Kind::Grant => put("type", json!("grant")),
        Kind::Path(p) => {
            put("type", json!("path"));
            put("base", json!(p.base));
            if let Some(g) = &p.glob {
                put("glob", json!(g.source));
            }
            if p.allow_hidden {
                put("allow_hidden", json!(true));
            }
        }
    }
    if let Some(values) = &c.one_of {
        put("enum", Value::Array(values.clone()));
    }
    Value::Object(m)
}
