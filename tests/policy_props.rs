//! `Policy::decide` against a deliberately naive reference evaluator,
//! written from `docs/POLICY.md` alone: a loop over every rule, string
//! comparisons, a recursive glob, origins split by hand, regexes compiled
//! on every call. Generated spaces are small so names, windows and origins
//! collide often.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use isogate::{Limits, MessageKind, Policy, PolicySource, Request};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{json, Value};

// ---------------------------------------------------------------- spaces

const CMD_NAMES: &[&str] = &[
    "read",
    "read_file",
    "write",
    "plugin:fs|read",
    "plugin:fs|write",
    "plugin:fsx|read",
];
const CMD_RULE_NAMES: &[&str] = &[
    "read",
    "read_file",
    "write",
    "plugin:fs|read",
    "plugin:fs|*",
    "plugin:fsx|*",
];
const EVENT_NAMES: &[&str] = &["opened", "read"];
const WINDOWS: &[&str] = &["main", "settings", "editor-1", "editor-22", "xeditor-1"];
const RULE_WINDOWS: &[&str] = &["main", "settings", "editor-*", "*", "*-1", "edit*2"];
const ORIGINS: &[&str] = &[
    "http://127.0.0.1:1420",
    "http://127.0.0.1",
    "http://localhost:80",
    "http://LOCALHOST",
    "https://app.example.com",
    "https://APP.example.com:443",
    "https://example.com",
    "https://app.example.com.evil.net",
    "null",
    "tauri://localhost",
    "http://localhost/",
];
const RULE_ORIGINS: &[&str] = &[
    "*",
    "http://127.0.0.1:*",
    "http://localhost",
    "https://*.example.com",
    "https://example.com",
    "tauri://localhost",
    "https://app.example.com:443",
];

fn arg_constraints() -> Vec<Option<Value>> {
    vec![
        None,
        Some(
            json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 5}}, "required": ["n"]}),
        ),
        Some(
            json!({"type": "object", "properties": {"s": {"type": "string", "pattern": "a|b"}, "n": {"type": "number"}}}),
        ),
        Some(json!({"type": "object", "additional": true})),
        Some(
            json!({"type": "object", "properties": {"p": {"type": "path", "base": "/notes", "glob": "*.md"}}, "required": ["p"]}),
        ),
        Some(
            json!({"type": "object", "properties": {"n": {"enum": [1, "x"]}, "s": {"type": "string", "max_length": 1}}}),
        ),
        // Numbers where a comparison through `f64` would go wrong.
        Some(
            json!({"type": "object", "properties": {"n": {"enum": [9007199254740993_u64, -0.0]},
                   "x": {"type": "number", "minimum": 9007199254740992.0, "maximum": 18446744073709551615_u64}}}),
        ),
    ]
}

fn payload_constraints() -> Vec<Option<Value>> {
    vec![
        None,
        Some(json!({"type": "any"})),
        Some(json!({"type": "object", "properties": {"n": {"type": "integer"}}})),
        Some(json!({"type": "array", "items": {"type": "integer", "minimum": 0}, "max_items": 2})),
    ]
}

fn arg_values() -> Vec<Value> {
    // `{}` thrice: it is what rules without `args` accept.
    vec![
        json!({}),
        json!({}),
        json!({}),
        json!({"n": 3}),
        json!({"n": 9}),
        json!({"n": 1.0}),
        json!({"n": "x"}),
        json!({"n": 0}),
        json!({"n": 9007199254740993_u64}),
        json!({"n": 9007199254740992.0}),
        json!({"x": 9007199254740991_u64}),
        json!({"x": 18446744073709551615_u64}),
        json!({"x": 18446744073709551615.0}),
        json!({"s": "a"}),
        json!({"s": "ab"}),
        json!({"n": 3, "s": "b"}),
        json!({"p": "a.md"}),
        json!({"p": "../a.md"}),
        json!({"p": "/notes/x/a.md"}),
        json!({"p": "/notes//b.md"}),
        json!({"p": "%2e%2e/a.md"}),
        json!({"p": "C:a.md"}),
        json!({"p": "//notes/a.md"}),
        json!({"p": "con.md"}),
        json!({"extra": true}),
    ]
}

fn payload_values() -> Vec<Value> {
    vec![
        Value::Null,
        Value::Null,
        json!({}),
        json!({"n": 1}),
        json!([1]),
        json!([1, 2, 3]),
        json!([-1]),
    ]
}

// ------------------------------------------------------------ generation

#[derive(Debug, Clone)]
struct GenRule {
    id: String,
    deny: bool,
    event: bool,
    names: Vec<&'static str>,
    windows: Vec<&'static str>,
    origins: Option<Vec<&'static str>>,
    constraint: Option<Value>,
    file: usize,
}

impl GenRule {
    fn to_json(&self) -> Value {
        let mut r = json!({
            "id": self.id,
            "effect": if self.deny { "deny" } else { "allow" },
            "windows": self.windows,
        });
        let key = if self.event { "events" } else { "commands" };
        r[key] = json!(self.names);
        if let Some(o) = &self.origins {
            r["origins"] = json!(o);
        }
        if let Some(c) = &self.constraint {
            r[if self.event { "payload" } else { "args" }] = c.clone();
        }
        r
    }
}

fn rule_strategy() -> impl Strategy<Value = GenRule> {
    (
        select(vec!["a", "b", "c", "d"]),
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.25),
        subsequence(RULE_WINDOWS.to_vec(), 1..=2),
        prop::option::weighted(0.5, subsequence(RULE_ORIGINS.to_vec(), 1..=2)),
        any::<prop::sample::Index>(),
        0..3usize,
    )
        .prop_flat_map(|(prefix, deny, event, windows, origins, c_seed, file)| {
            let pool = if event { EVENT_NAMES } else { CMD_RULE_NAMES };
            let constraints = if event {
                payload_constraints()
            } else {
                arg_constraints()
            };
            let constraint = if deny {
                None
            } else {
                constraints[c_seed.index(constraints.len())].clone()
            };
            subsequence(pool.to_vec(), 1..=2).prop_map(move |names| GenRule {
                id: prefix.to_owned(),
                deny,
                event,
                names,
                windows: windows.clone(),
                origins: origins.clone(),
                constraint: constraint.clone(),
                file,
            })
        })
}

#[derive(Debug, Clone)]
struct GenRequest {
    window: &'static str,
    origin: &'static str,
    event: bool,
    name: &'static str,
    args: Value,
}

fn request_strategy() -> impl Strategy<Value = GenRequest> {
    (
        select(WINDOWS.to_vec()),
        select(ORIGINS.to_vec()),
        prop::bool::weighted(0.3),
        select(CMD_NAMES.to_vec()),
        select(EVENT_NAMES.to_vec()),
        select(arg_values()),
        select(payload_values()),
    )
        .prop_map(
            |(window, origin, event, cmd, ev, args, payload)| GenRequest {
                window,
                origin,
                event,
                name: if event { ev } else { cmd },
                args: if event { payload } else { args },
            },
        )
}

fn policy_strategy() -> impl Strategy<Value = Vec<GenRule>> {
    prop::collection::vec(rule_strategy(), 1..9).prop_map(|mut rules| {
        // Unique ids whose order differs from generation order.
        for (i, r) in rules.iter_mut().enumerate() {
            r.id = format!("{}{}", r.id, 9 - i);
        }
        rules
    })
}

fn files_of(rules: &[GenRule]) -> Vec<String> {
    (0..3)
        .map(|f| {
            let rs: Vec<Value> = rules
                .iter()
                .filter(|r| r.file == f)
                .map(GenRule::to_json)
                .collect();
            json!({"version": 1, "rules": rs}).to_string()
        })
        .collect()
}

fn load(files: &[String], order: &[usize]) -> Result<Policy, isogate::PolicyErrors> {
    let names = ["f0.json", "f1.json", "f2.json"];
    let sources: Vec<PolicySource<'_>> = order
        .iter()
        .map(|&i| PolicySource {
            name: names[i],
            text: &files[i],
        })
        .collect();
    Policy::load(&sources)
}

/// Loads the generated rules; allow rules the loader reports as fully
/// shadowed by a deny (a load error by design) are dropped and the rest
/// reloaded. Any other load error is a generator or loader bug.
fn load_valid(mut rules: Vec<GenRule>) -> (Vec<GenRule>, Vec<String>, Policy) {
    loop {
        let files = files_of(&rules);
        match load(&files, &[0, 1, 2]) {
            Ok(p) => return (rules, files, p),
            Err(e) => {
                let mut dropped = false;
                for err in &e.0 {
                    let m = &err.message;
                    assert!(
                        m.starts_with("allow rule `") && m.contains("can never allow anything"),
                        "unexpected load error: {e}\n{files:#?}"
                    );
                    let id = m["allow rule `".len()..].split('`').next().unwrap();
                    // The naive evaluator must agree that the deny covers it.
                    let shadowed = rules.iter().find(|r| r.id == id).unwrap().clone();
                    assert!(naive_shadowed(&rules, &shadowed), "{m}");
                    rules.retain(|r| r.id != id);
                    dropped = true;
                }
                assert!(dropped);
            }
        }
    }
}

/// A spot check of the shadowing claim: for every request in the
/// generated space that the allow rule's names and scope cover, some deny
/// rule's names and scope cover it too.
fn naive_shadowed(rules: &[GenRule], allow: &GenRule) -> bool {
    let names: &[&str] = if allow.event { EVENT_NAMES } else { CMD_NAMES };
    for &name in names {
        for &window in WINDOWS {
            for &origin in ORIGINS {
                if covers(allow, name, window, origin)
                    && !rules.iter().any(|d| {
                        d.deny && d.event == allow.event && covers(d, name, window, origin)
                    })
                {
                    return false;
                }
            }
        }
    }
    true
}

// ------------------------------------------------------ naive reference

fn naive_glob(p: &[char], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) => naive_glob(rest, s) || (!s.is_empty() && naive_glob(p, &s[1..])),
        Some((c, rest)) => s.first() == Some(c) && naive_glob(rest, &s[1..]),
    }
}

fn glob(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    naive_glob(&p, &s)
}

fn name_matches(rule_name: &str, name: &str) -> bool {
    match rule_name.strip_suffix('*') {
        Some(prefix) if rule_name.starts_with("plugin:") => {
            name.starts_with(prefix) && name.len() > prefix.len()
        }
        _ => rule_name == name,
    }
}

/// (scheme, host, port) per section 7, everything lowercased.
fn naive_origin(s: &str, pattern: bool) -> Option<(String, String, Option<String>)> {
    let (scheme, rest) = s.split_once("://")?;
    if rest.contains(['/', '?', '#', '@']) || rest.is_empty() {
        return None;
    }
    let (host, port) = match rest.split_once(':') {
        Some((h, p)) => (h, Some(p.to_owned())),
        None => (rest, None),
    };
    let host = host.to_lowercase();
    let bare = if pattern {
        host.strip_prefix("*.").unwrap_or(&host)
    } else {
        &host
    };
    if bare
        .split('.')
        .any(|l| l.is_empty() || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return None;
    }
    let scheme = scheme.to_lowercase();
    let port = port.or_else(|| match scheme.as_str() {
        "http" | "ws" => Some("80".to_owned()),
        "https" | "wss" => Some("443".to_owned()),
        _ => None,
    });
    Some((scheme, host, port))
}

fn origin_matches(pattern: &str, origin: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let (Some(p), Some(o)) = (naive_origin(pattern, true), naive_origin(origin, false)) else {
        return false;
    };
    let host_ok = match p.1.strip_prefix("*.") {
        Some(suffix) => o.1.ends_with(&format!(".{suffix}")),
        None => p.1 == o.1,
    };
    p.0 == o.0 && host_ok && (p.2.as_deref() == Some("*") || p.2 == o.2)
}

fn covers(r: &GenRule, name: &str, window: &str, origin: &str) -> bool {
    r.names.iter().any(|n| name_matches(n, name))
        && r.windows.iter().any(|w| glob(w, window))
        && r.origins
            .as_ref()
            .map_or(true, |os| os.iter().any(|o| origin_matches(o, origin)))
}

/// A number's exact value as a decimal: sign, whole digits (no leading
/// zeros), fraction digits (no trailing zeros). Every double has a finite
/// decimal expansion, which 1100 places hold.
fn exact_decimal(n: &serde_json::Number) -> (bool, String, String) {
    let text = match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => u.to_string(),
        (None, Some(i)) => i.to_string(),
        (None, None) => format!("{:.1100}", n.as_f64().unwrap()),
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let whole = whole.trim_start_matches('0').to_owned();
    let frac = frac.trim_end_matches('0').to_owned();
    let zero = whole.is_empty() && frac.is_empty();
    (negative && !zero, whole, frac)
}

/// Section 8: numbers compare by exact value.
fn cmp_numbers(a: &Value, b: &Value) -> std::cmp::Ordering {
    let (an, aw, af) = exact_decimal(a.as_number().unwrap());
    let (bn, bw, bf) = exact_decimal(b.as_number().unwrap());
    let magnitude = aw.len().cmp(&bw.len()).then(aw.cmp(&bw)).then(af.cmp(&bf));
    match (an, bn) {
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
        (false, true) => std::cmp::Ordering::Greater,
        (true, false) => std::cmp::Ordering::Less,
    }
}

fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => cmp_numbers(a, b).is_eq(),
        _ => a == b,
    }
}

/// A segment a Windows router reads as something else than a plain name
/// (section 9, step 7), tested the way the text words it.
fn naive_windows_segment(seg: &str) -> bool {
    let devices: Vec<String> = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
        .iter()
        .map(|d| d.to_string())
        .chain(["COM", "LPT"].iter().flat_map(|p| {
            "0123456789\u{b9}\u{b2}\u{b3}"
                .chars()
                .map(move |d| format!("{p}{d}"))
        }))
        .collect();
    let stem = seg
        .split('.')
        .next()
        .unwrap()
        .trim_matches(' ')
        .to_uppercase();
    seg.contains(['<', '>', ':', '"', '|', '?', '*'])
        || seg.ends_with('.')
        || seg.ends_with(' ')
        || devices.contains(&stem)
        || seg
            .char_indices()
            .any(|(i, c)| c == '~' && seg[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
}

fn naive_path(c: &Value, v: &Value) -> bool {
    naive_path_with(c, v, true)
}

/// Section 9; `windows: false` leaves out the Windows forms (step 3's
/// leading `//` and step 7) to tell which paths only they refuse.
fn naive_path_with(c: &Value, v: &Value, windows: bool) -> bool {
    let Some(s) = v.as_str() else { return false };
    if s.is_empty() || s.contains(['\0', '%', '\\']) || s.chars().any(char::is_control) {
        return false;
    }
    if windows && s.starts_with("//") {
        return false;
    }
    let segs: Vec<&str> = s
        .split('/')
        .filter(|x| !x.is_empty() && *x != ".")
        .collect();
    if segs.contains(&"..") {
        return false;
    }
    let base: Vec<&str> = c["base"]
        .as_str()
        .unwrap()
        .split('/')
        .filter(|x| !x.is_empty())
        .collect();
    let under: Vec<&str> = if s.starts_with('/') {
        if segs.len() < base.len() || segs[..base.len()] != base[..] {
            return false;
        }
        segs[base.len()..].to_vec()
    } else {
        segs
    };
    if windows && under.iter().any(|x| naive_windows_segment(x)) {
        return false;
    }
    if !c["allow_hidden"].as_bool().unwrap_or(false) && under.iter().any(|x| x.starts_with('.')) {
        return false;
    }
    match c["glob"].as_str() {
        None => true,
        Some(g) => {
            let g: Vec<&str> = g.split('/').collect();
            seg_glob(&g, &under)
        }
    }
}

fn seg_glob(g: &[&str], s: &[&str]) -> bool {
    match g.split_first() {
        None => s.is_empty(),
        Some((&"**", rest)) => seg_glob(rest, s) || (!s.is_empty() && seg_glob(g, &s[1..])),
        Some((p, rest)) => !s.is_empty() && glob(p, s[0]) && seg_glob(rest, &s[1..]),
    }
}

fn naive_check(c: &Value, v: &Value) -> bool {
    let ty = c.get("type").and_then(Value::as_str).unwrap_or("any");
    let num = |key: &str| c.get(key).and_then(Value::as_f64);
    let ok = match ty {
        "any" => true,
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" | "number" => {
            let is = if ty == "integer" {
                v.is_i64() || v.is_u64()
            } else {
                v.is_number()
            };
            is && c.get("minimum").map_or(true, |m| cmp_numbers(v, m).is_ge())
                && c.get("maximum").map_or(true, |m| cmp_numbers(v, m).is_le())
        }
        "string" => match v.as_str() {
            None => false,
            Some(s) => {
                let n = s.chars().count() as f64;
                num("min_length").map_or(true, |m| n >= m)
                    && num("max_length").map_or(true, |m| n <= m)
                    && c.get("pattern").and_then(Value::as_str).map_or(true, |p| {
                        regex::Regex::new(&format!("^(?:{p})$"))
                            .unwrap()
                            .is_match(s)
                    })
            }
        },
        "array" => match v.as_array() {
            None => false,
            Some(a) => {
                let n = a.len() as f64;
                num("min_items").map_or(true, |m| n >= m)
                    && num("max_items").map_or(true, |m| n <= m)
                    && a.iter().all(|x| naive_check(&c["items"], x))
            }
        },
        "object" => match v.as_object() {
            None => false,
            Some(o) => {
                let empty = serde_json::Map::new();
                let props = c
                    .get("properties")
                    .and_then(Value::as_object)
                    .unwrap_or(&empty);
                let additional = c
                    .get("additional")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let required: Vec<&str> = c
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().map(|x| x.as_str().unwrap()).collect())
                    .unwrap_or_default();
                required.iter().all(|k| o.contains_key(*k))
                    && o.iter().all(|(k, x)| match props.get(k) {
                        Some(pc) => naive_check(pc, x),
                        None => additional,
                    })
            }
        },
        "path" => naive_path(c, v),
        other => panic!("type {other}"),
    };
    ok && c
        .get("enum")
        .and_then(Value::as_array)
        .map_or(true, |e| e.iter().any(|x| json_equal(x, v)))
}

/// Section 5, step by step, over every rule.
fn naive_decide(rules: &[GenRule], req: &GenRequest) -> (bool, Option<String>) {
    let in_scope: Vec<&GenRule> = rules
        .iter()
        .filter(|r| r.event == req.event && covers(r, req.name, req.window, req.origin))
        .collect();
    let smallest = |it: Vec<&GenRule>| it.iter().map(|r| r.id.clone()).min();
    if let Some(id) = smallest(in_scope.iter().copied().filter(|r| r.deny).collect()) {
        return (false, Some(id));
    }
    let passing: Vec<&GenRule> = in_scope
        .iter()
        .copied()
        .filter(|r| {
            !r.deny
                && match &r.constraint {
                    Some(c) => naive_check(c, &req.args),
                    None if r.event => req.args.is_null(),
                    None => req.args == json!({}),
                }
        })
        .collect();
    match smallest(passing) {
        Some(id) => (true, Some(id)),
        None => (false, None),
    }
}

// ----------------------------------------------------------------- tests

/// One file's limits: bytes, depth, items, args, (per second, burst).
type LimitSet = (
    Option<usize>,
    Option<usize>,
    Option<usize>,
    Option<usize>,
    Option<(u32, u32)>,
);

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decide_matches_the_naive_reference(
        rules in policy_strategy(),
        requests in prop::collection::vec(request_strategy(), 32),
    ) {
        let (rules, files, policy) = load_valid(rules);
        let reversed = load(&files, &[2, 1, 0]).unwrap();
        for req in &requests {
            let r = Request {
                window: req.window,
                origin: req.origin,
                kind: if req.event { MessageKind::Emit } else { MessageKind::Invoke },
                name: req.name,
                args: &req.args,
            };
            let got = policy.decide(&r);
            let want = naive_decide(&rules, req);
            prop_assert_eq!(
                (got.allowed, got.rule.clone()),
                want,
                "request {:?}\nreason: {}\npolicy files: {:#?}",
                req, got.reason, files
            );
            prop_assert_eq!(&reversed.decide(&r), &got);
            let explained = policy.explain(&r);
            prop_assert_eq!((explained.allowed, explained.rule), (got.allowed, got.rule));
        }
    }

    #[test]
    fn limits_compose_to_the_minimum(
        sets in prop::collection::vec(
            (prop::option::of(1usize..5_000_000), prop::option::of(2usize..=128),
             prop::option::of(4usize..100_000), prop::option::of(0usize..10_000),
             prop::option::of((1u32..1000, 1u32..1000))),
            1..4),
    ) {
        let files: Vec<String> = sets
            .iter()
            .map(|(bytes, depth, items, args, rate)| {
                let mut l = json!({});
                if let Some(v) = bytes { l["max_message_bytes"] = json!(v); }
                if let Some(v) = depth { l["max_depth"] = json!(v); }
                if let Some(v) = items { l["max_items"] = json!(v); }
                if let Some(v) = args { l["max_args"] = json!(v); }
                if let Some((p, b)) = rate { l["rate"] = json!({"per_second": p, "burst": b}); }
                json!({"version": 1, "limits": l, "rules": []}).to_string()
            })
            .collect();
        let sources: Vec<PolicySource<'_>> = files
            .iter()
            .map(|t| PolicySource { name: "l.json", text: t })
            .collect();
        let p = Policy::load(&sources).unwrap();
        let d = Limits::default();
        let min = |f: fn(&LimitSet) -> Option<usize>, dflt: usize| {
            sets.iter().filter_map(f).min().unwrap_or(dflt)
        };
        prop_assert_eq!(p.limits(), Limits {
            max_message_bytes: min(|s| s.0, d.max_message_bytes),
            max_depth: min(|s| s.1, d.max_depth),
            max_items: min(|s| s.2, d.max_items),
            max_args: min(|s| s.3, d.max_args),
        });
        let rate = sets.iter().filter_map(|s| s.4).reduce(|a, b| (a.0.min(b.0), a.1.min(b.1)));
        prop_assert_eq!(p.rate().map(|r| (r.per_second, r.burst)), rate);
    }
}

// ------------------------------------------------------------ path space

/// Segments for generated path arguments: plain names, and the POSIX and
/// Windows forms section 9 refuses (or names close to them that pass).
const PATH_SEGMENTS: &[&str] = &[
    "notes",
    "sub",
    "x",
    "a.md",
    "a b.md",
    "2024-01-01.md",
    "日本語.md",
    "メモ：会議.md",
    "",
    ".",
    "..",
    "%2e",
    "a\\b.md",
    ".git",
    "~",
    "a~b.md",
    "GIT~1",
    "PROGRA~1",
    "C:",
    "c:",
    "C:a.md",
    "a.md:s",
    "x::$DATA",
    "?",
    "??",
    "UNC",
    "server",
    "*.md",
    "a|b.md",
    "CON",
    "con.md",
    "nul",
    "NUL.md",
    "COM1.md",
    "com0",
    "LPT\u{b9}.md",
    "COM\u{b2}",
    "CON .md",
    "CONIN$",
    "COM10.md",
    "console.md",
    ".. ",
    "... ",
    "...",
    "a.md.",
    "a.md ",
    " a.md",
];
const PATH_PREFIXES: &[&str] = &["", "/", "//", "///", "./", "/notes/", "//notes/", "/./"];

/// One rule per path constraint, command `pN` for constraint N.
fn path_constraints() -> Vec<Value> {
    vec![
        json!({"type": "path", "base": "/notes", "glob": "**/*.md"}),
        json!({"type": "path", "base": "/notes", "allow_hidden": true}),
        json!({"type": "path", "base": "/", "glob": "**"}),
        json!({"type": "path", "base": "/notes/sub", "glob": "*"}),
    ]
}

fn path_policy() -> Policy {
    let rules: Vec<Value> = path_constraints()
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            json!({"id": format!("p{i}"), "effect": "allow", "commands": [format!("p{i}")],
                   "windows": ["*"],
                   "args": {"type": "object", "properties": {"p": c}, "required": ["p"]}})
        })
        .collect();
    let text = json!({"version": 1, "rules": rules}).to_string();
    Policy::load(&[PolicySource {
        name: "paths.json",
        text: &text,
    }])
    .unwrap()
}

fn path_strategy() -> impl Strategy<Value = String> {
    (
        select(PATH_PREFIXES.to_vec()),
        prop::collection::vec(select(PATH_SEGMENTS.to_vec()), 0..5),
    )
        .prop_map(|(prefix, segs)| format!("{prefix}{}", segs.join("/")))
}

fn decide_path(policy: &Policy, rule: usize, path: &str) -> bool {
    let args = json!({"p": path});
    let name = format!("p{rule}");
    policy
        .decide(&Request {
            window: "main",
            origin: "http://127.0.0.1:1420",
            kind: MessageKind::Invoke,
            name: &name,
            args: &args,
        })
        .allowed
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Path arguments built from plain, POSIX and Windows segments are
    /// decided as the naive reading of section 9 decides them.
    #[test]
    fn paths_match_the_naive_reference(paths in prop::collection::vec(path_strategy(), 16)) {
        let policy = path_policy();
        for path in &paths {
            for (i, c) in path_constraints().iter().enumerate() {
                prop_assert_eq!(
                    decide_path(&policy, i, path),
                    naive_path(c, &json!(path)),
                    "path {:?} under constraint {}", path, c
                );
            }
        }
    }
}

/// The path space is not degenerate: under every constraint some
/// generated paths pass, and some are refused only by the Windows rules.
#[test]
fn generated_paths_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let policy = path_policy();
    let constraints = path_constraints();
    let mut allowed = vec![0; constraints.len()];
    let mut windows_only = vec![0; constraints.len()];
    for _ in 0..4000 {
        let path = path_strategy().new_tree(&mut runner).unwrap().current();
        for (i, c) in constraints.iter().enumerate() {
            if decide_path(&policy, i, &path) {
                allowed[i] += 1;
            } else if naive_path_with(c, &json!(path), false) {
                windows_only[i] += 1;
            }
        }
    }
    eprintln!("allowed {allowed:?}, refused only as Windows forms {windows_only:?}");
    assert!(allowed.iter().all(|&n| n >= 20), "{allowed:?}");
    assert!(windows_only.iter().all(|&n| n >= 20), "{windows_only:?}");
}

/// The generated space is not degenerate: every kind of outcome happens.
#[test]
fn generated_cases_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut allowed, mut denied_by_rule, mut default_deny, mut shadow_drops) = (0, 0, 0, 0);
    for _ in 0..200 {
        let rules = policy_strategy().new_tree(&mut runner).unwrap().current();
        let before = rules.len();
        let (rules, _, policy) = load_valid(rules);
        shadow_drops += before - rules.len();
        for _ in 0..24 {
            let req = request_strategy().new_tree(&mut runner).unwrap().current();
            let d = policy.decide(&Request {
                window: req.window,
                origin: req.origin,
                kind: if req.event {
                    MessageKind::Emit
                } else {
                    MessageKind::Invoke
                },
                name: req.name,
                args: &req.args,
            });
            match (d.allowed, d.rule.is_some()) {
                (true, _) => allowed += 1,
                (false, true) => denied_by_rule += 1,
                (false, false) => default_deny += 1,
            }
        }
    }
    eprintln!("allowed {allowed}, denied by rule {denied_by_rule}, default deny {default_deny}, shadowed rules dropped {shadow_drops}");
    assert!(allowed >= 200 && denied_by_rule >= 100 && default_deny >= 200);
}
