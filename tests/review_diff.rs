//! `policy::review::diff` against brute force: generated policy pairs
//! (exact names and plugin wildcards, overlapping window globs, origin
//! patterns, constraints, scoped denies; commands, events and `deliver`
//! rules) and every message of a fixed grid, decided by `Policy::decide`
//! under both.
//!
//! - Sound: every message the new policy allows and the old one refuses is
//!   covered by a `widened` finding (and the reverse by a `narrowed` one);
//!   every message an old deny rule refused that no new deny rule refuses
//!   is covered by a `deny-lifted` finding. No widening reported means no
//!   message is newly allowed.
//! - Exact about scope: every message a finding covers did change, unless
//!   the finding only says the other side's arguments were not shown to
//!   include the rule's (`other-args`); each finding's example sender is
//!   in its scope.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use isogate::review::{diff, Change, Other};
use isogate::{MessageKind, Policy, PolicySource, Request};
use proptest::prelude::*;
use serde_json::{json, Value};

const COMMANDS: &[&str] = &["a", "b", "plugin:fs|*", "plugin:fs|x", "plugin:gx|*"];
const EVENTS: &[&str] = &["a", "e"];
const WINDOWS: &[&str] = &["main", "m*", "*n", "editor-*", "*", "editor-main", "x"];
const ORIGINS: &[&str] = &[
    "*",
    "http://a.com",
    "http://*.a.com",
    "https://a.com",
    "http://a.com:*",
    "tauri://localhost",
    "http://[::1]",
];
const ARGS: &[&str] = &[
    r#"{"type": "object", "additional": true}"#,
    r#"{"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 3}}}"#,
    r#"{"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 9}}, "required": ["n"]}"#,
    r#"{"type": "object", "properties": {"n": {"enum": [1, 2]}}}"#,
    r#"{"type": "object", "properties": {"n": {"type": "number", "maximum": 5}}, "additional": true}"#,
    r#"{"type": "object", "properties": {"s": {"type": "string", "pattern": "[a-c]+"}}}"#,
    r#"{"type": "object", "properties": {"s": {"type": "string"}, "n": {"type": "integer"}}}"#,
];
const PAYLOADS: &[&str] = &[
    r#"{"type": "any"}"#,
    r#"{"type": "integer", "minimum": 0, "maximum": 3}"#,
    r#"{"enum": [1, "x"]}"#,
    r#"{"type": "number"}"#,
];

const MSG_NAMES: &[&str] = &[
    "a",
    "b",
    "plugin:fs|x",
    "plugin:fs|y",
    "plugin:fs|",
    "plugin:gx|z",
    "e",
];
const MSG_WINDOWS: &[&str] = &[
    "main",
    "m",
    "mn",
    "editor-1",
    "editor-main",
    "editor-",
    "editor-n",
    "x",
    "n",
    "q",
];
const MSG_ORIGINS: &[&str] = &[
    "http://a.com",
    "http://b.a.com",
    "https://a.com",
    "http://a.com:8080",
    "null",
    "tauri://localhost",
    "http://[::1]",
    "https://x.a.com",
];

fn msg_args() -> Vec<Value> {
    vec![
        json!({}),
        json!({"n": 1}),
        json!({"n": 3}),
        json!({"n": 7}),
        json!({"n": 1.0}),
        json!({"n": -1}),
        json!({"s": "ab"}),
        json!({"s": "d"}),
        json!({"x": 1}),
        json!({"n": 2, "x": 1}),
    ]
}

fn msg_payloads() -> Vec<Value> {
    vec![
        json!(null),
        json!(1),
        json!(2),
        json!(7),
        json!("x"),
        json!(1.5),
        json!({"a": 1}),
    ]
}

/// One generated rule, as JSON text.
fn rule() -> impl Strategy<Value = GenRule> {
    (
        any::<bool>(),                                        // allow?
        prop::sample::select(vec![0u8, 0, 0, 0, 1, 2]),       // commands, events, deliver
        prop::collection::btree_set(0..COMMANDS.len(), 1..3), // names
        prop::collection::btree_set(0..WINDOWS.len(), 1..3),  // windows
        prop::option::of(prop::collection::btree_set(0..ORIGINS.len(), 1..3)),
        prop::option::of(0..ARGS.len()),
    )
        .prop_map(|(allow, command, names, windows, origins, args)| {
            (
                allow,
                command,
                names.into_iter().collect(),
                windows.into_iter().collect(),
                origins.map(|o| o.into_iter().collect()),
                args,
            )
        })
}

type GenRule = (
    bool,
    u8,
    Vec<usize>,
    Vec<usize>,
    Option<Vec<usize>>,
    Option<usize>,
);

fn policy_text(rules: &[GenRule]) -> String {
    let quoted = |xs: Vec<&str>| {
        xs.iter()
            .map(|x| format!("\"{x}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = Vec::new();
    for (i, (allow, command, names, windows, origins, args)) in rules.iter().enumerate() {
        let (field, pool) = match command {
            0 => ("commands", COMMANDS),
            1 => ("events", EVENTS),
            _ => ("deliver", EVENTS),
        };
        let mut names: Vec<&str> = names.iter().map(|&n| pool[n % pool.len()]).collect();
        names.dedup();
        let mut r = format!(
            r#"{{"id": "r{i}", "effect": "{}", "{field}": [{}], "windows": [{}]"#,
            if *allow { "allow" } else { "deny" },
            quoted(names),
            quoted(windows.iter().map(|&w| WINDOWS[w]).collect())
        );
        if let Some(o) = origins {
            r.push_str(&format!(
                r#", "origins": [{}]"#,
                quoted(o.iter().map(|&o| ORIGINS[o]).collect())
            ));
        }
        if let (true, Some(a)) = (*allow, args) {
            if *command == 0 {
                r.push_str(&format!(r#", "args": {}"#, ARGS[*a]));
            } else {
                r.push_str(&format!(
                    r#", "payload": {}"#,
                    PAYLOADS[*a % PAYLOADS.len()]
                ));
            }
        }
        r.push('}');
        out.push(r);
    }
    format!(r#"{{"version": 1, "rules": [{}]}}"#, out.join(",\n"))
}

fn load(text: &str) -> Option<Policy> {
    Policy::load(&[PolicySource {
        name: "p.json",
        text,
    }])
    .ok()
}

fn check_pair(old: &Policy, new: &Policy) -> Result<(), TestCaseError> {
    let d = diff(old, new);
    let commands = msg_args();
    let events = msg_payloads();
    let mut newly_allowed = 0;
    for (kind, values) in [
        (MessageKind::Invoke, &commands),
        (MessageKind::Emit, &events),
        (MessageKind::Deliver, &events),
    ] {
        for name in MSG_NAMES {
            for window in MSG_WINDOWS {
                for origin in MSG_ORIGINS {
                    for args in values.iter() {
                        let req = Request {
                            window,
                            origin,
                            kind,
                            name,
                            args,
                        };
                        let (o, n) = (old.decide(&req), new.decide(&req));
                        let covered = |change: Change| {
                            d.findings
                                .iter()
                                .any(|f| f.change == change && f.covers(&req))
                        };
                        if n.allowed && !o.allowed {
                            newly_allowed += 1;
                            prop_assert!(
                                covered(Change::Widened),
                                "missed widening: {req:?}\nold: {}\nnew: {}\n{:#?}",
                                o.reason,
                                n.reason,
                                d.lines()
                            );
                        }
                        if o.allowed && !n.allowed {
                            prop_assert!(
                                covered(Change::Narrowed),
                                "missed narrowing: {req:?}\n{:#?}",
                                d.lines()
                            );
                        }
                        let old_deny = !o.allowed && o.rule.is_some();
                        let new_deny = !n.allowed && n.rule.is_some();
                        if old_deny && !new_deny {
                            prop_assert!(
                                covered(Change::DenyLifted),
                                "missed lifted deny: {req:?}\n{:#?}",
                                d.lines()
                            );
                        }
                        if new_deny && !old_deny {
                            prop_assert!(
                                covered(Change::DenyAdded),
                                "missed added deny: {req:?}\n{:#?}",
                                d.lines()
                            );
                        }
                        // Exact: what a finding covers did change, unless
                        // it only says the arguments were not shown to be
                        // included.
                        for f in d.findings.iter().filter(|f| f.covers(&req)) {
                            let exact = matches!(
                                f.other,
                                Other::NotAllowed | Other::DeniedBy(_) | Other::NoDeny
                            );
                            let real = match f.change {
                                Change::Widened => n.allowed && !o.allowed,
                                Change::Narrowed => o.allowed && !n.allowed,
                                Change::DenyLifted => old_deny && !new_deny,
                                Change::DenyAdded => new_deny && !old_deny,
                            };
                            prop_assert!(!exact || real, "not a change: {req:?}: {}", f.line());
                        }
                    }
                }
            }
        }
    }
    let widened = d.findings.iter().any(|f| f.change == Change::Widened);
    if !widened {
        prop_assert_eq!(newly_allowed, 0);
    }
    // Scope is exact: a widening where nothing allowed the message before
    // (or a deny refused it) is real for the finding's example sender.
    for f in d
        .findings
        .iter()
        .filter(|f| f.change == Change::Widened)
        .filter(|f| matches!(f.other, Other::NotAllowed | Other::DeniedBy(_)))
    {
        let values = if f.kind == MessageKind::Invoke {
            &commands
        } else {
            &events
        };
        for args in values {
            let req = Request {
                window: &f.example.window,
                origin: &f.example.origin,
                kind: f.kind,
                name: &f.example.name,
                args,
            };
            if f.covers(&req) {
                prop_assert!(
                    new.decide(&req).allowed && !old.decide(&req).allowed,
                    "not a widening: {req:?}: {}",
                    f.line()
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn diff_is_sound_and_scopes_exact(
        old in prop::collection::vec(rule(), 0..4),
        new in prop::collection::vec(rule(), 0..4),
    ) {
        let (Some(o), Some(n)) = (load(&policy_text(&old)), load(&policy_text(&new))) else {
            // A generated allow rule a deny fully shadows does not load.
            return Ok(());
        };
        check_pair(&o, &n)?;
        // The same policy: nothing changes.
        let same = diff(&o, &o);
        prop_assert!(same.findings.is_empty(), "{:#?}", same.lines());
    }

    /// A new policy that is the old one plus rules: nothing narrows.
    #[test]
    fn adding_allow_rules_never_narrows(
        old in prop::collection::vec(rule(), 0..3),
        extra in prop::collection::vec(rule(), 1..3),
    ) {
        let extra: Vec<GenRule> = extra.into_iter().map(|mut r| { r.0 = true;
                // A first `deliver` rule governs delivery: that narrows.
                r.1 = r.1.min(1); r }).collect();
        let both: Vec<GenRule> = old.iter().cloned().chain(extra).collect();
        let (Some(o), Some(n)) = (load(&policy_text(&old)), load(&policy_text(&both))) else {
            return Ok(());
        };
        check_pair(&o, &n)?;
        let d = diff(&o, &n);
        prop_assert!(!d.findings.iter().any(|f| f.change == Change::Narrowed), "{:#?}", d.lines());
    }
}
