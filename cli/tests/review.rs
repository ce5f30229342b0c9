//! `isogate diff`, `who-can` and `coverage`, run as a user would, with
//! their exact output and exit codes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::Command;

fn isogate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .args(args)
        .output()
        .expect("run isogate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn temp_file(name: &str, text: &str) -> String {
    let dir: PathBuf = std::env::temp_dir().join(format!("isogate-review-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

const OLD: &str = r#"{"version": 1, "rules": [
  {"id": "notes-read", "effect": "allow", "commands": ["read_note"], "windows": ["main"],
   "origins": ["http://127.0.0.1:*"],
   "args": {"type": "object", "properties": {"id": {"type": "integer", "minimum": 0, "maximum": 100}}, "required": ["id"]}},
  {"id": "fs", "effect": "allow", "commands": ["plugin:fs|*"], "windows": ["*"],
   "args": {"type": "object", "additional": true}},
  {"id": "no-fs-write", "effect": "deny", "commands": ["plugin:fs|write"], "windows": ["*"]}
]}"#;

const NEW: &str = r#"{"version": 1, "rules": [
  {"id": "notes-read", "effect": "allow", "commands": ["read_note"], "windows": ["main", "editor-*"],
   "origins": ["http://127.0.0.1:*"],
   "args": {"type": "object", "properties": {"id": {"type": "integer", "minimum": 0, "maximum": 1000}}, "required": ["id"]}},
  {"id": "fs", "effect": "allow", "commands": ["plugin:fs|*"], "windows": ["*"],
   "args": {"type": "object", "additional": true}},
  {"id": "no-fs-in-editor", "effect": "deny", "commands": ["plugin:fs|*"], "windows": ["editor-*"]},
  {"id": "clicked", "effect": "allow", "events": ["clicked"], "windows": ["main"]}
]}"#;

#[test]
fn diff_prints_every_change_and_fails_on_widening() {
    let (old, new) = (temp_file("old.json", OLD), temp_file("new.json", NEW));
    let (code, stdout, stderr) = isogate(&["diff", &old, "--", &new]);
    assert_eq!((code, stderr.as_str()), (1, ""));
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            r#"widened: command `plugin:fs|write` in any window but not `editor-*` at any origin with args {"type":"object","additional":true}: allowed by rule `fs`; before: denied by rule `no-fs-write` (e.g. window `a` at origin `null`)"#,
            r#"widened: command `read_note` in windows `editor-*` at origins `http://127.0.0.1:*` with args {"type":"object","properties":{"id":{"type":"integer","maximum":1000,"minimum":0}},"required":["id"]}: allowed by rule `notes-read`; before: no rule allowed it (e.g. window `editor-` at origin `http://127.0.0.1`)"#,
            r#"widened: command `read_note` in window `main` at origins `http://127.0.0.1:*` with args {"type":"object","properties":{"id":{"type":"integer","maximum":1000,"minimum":0}},"required":["id"]}: allowed by rule `notes-read`; before: allowed by rule `notes-read` with arguments not shown to include these (e.g. window `main` at origin `http://127.0.0.1`)"#,
            r#"widened: event `clicked` in window `main` at any origin with payload {"type":"null"}: allowed by rule `clicked`; before: no rule allowed it (e.g. window `main` at origin `null`)"#,
            r#"narrowed: command `plugin:fs|*` (other than `plugin:fs|write`) in windows `editor-*` at any origin with args {"type":"object","additional":true}: was allowed by rule `fs`; now: denied by rule `no-fs-in-editor` (e.g. window `editor-` at origin `null`)"#,
            r#"deny lifted: command `plugin:fs|write` in any window but not `editor-*` at any origin: was denied by rule `no-fs-write`; now no deny rule applies (e.g. window `a` at origin `null`)"#,
            r#"deny added: command `plugin:fs|*` (other than `plugin:fs|write`) in windows `editor-*` at any origin: now denied by rule `no-fs-in-editor`; before no deny rule applied (e.g. window `editor-` at origin `null`)"#,
            "summary: widened 4, narrowed 1, deny lifted 1, deny added 1; access widens",
        ]
    );
    // `--allow-widen` reports the same and exits 0.
    let (code, again, _) = isogate(&["diff", "--allow-widen", &old, "--", &new]);
    assert_eq!((code, again), (0, stdout));
    // The reverse only narrows: exit 0.
    let (code, reverse, _) = isogate(&["diff", &new, "--", &old]);
    assert_eq!(code, 1, "{reverse}");
    assert!(reverse.contains(
        "widened: command `plugin:fs|*` (other than `plugin:fs|write`) in windows `editor-*`"
    ));
}

#[test]
fn diff_json_and_exit_codes() {
    let old = temp_file(
        "small-old.json",
        r#"{"version": 1, "rules": [{"id": "greet", "effect": "allow", "commands": ["greet"], "windows": ["main"],
            "args": {"type": "object", "properties": {"name": {"type": "string", "max_length": 32}}}}]}"#,
    );
    let narrower = temp_file(
        "small-narrower.json",
        r#"{"version": 1, "rules": [{"id": "greet", "effect": "allow", "commands": ["greet"], "windows": ["main"],
            "args": {"type": "object", "properties": {"name": {"type": "string", "max_length": 16}}}}]}"#,
    );
    let wider = temp_file(
        "small-wider.json",
        r#"{"version": 1, "rules": [{"id": "greet", "effect": "allow", "commands": ["greet"], "windows": ["main", "editor-*"],
            "origins": ["https://*.example.com"],
            "args": {"type": "object", "properties": {"name": {"type": "string", "max_length": 16}}}}]}"#,
    );
    let (code, stdout, _) = isogate(&["diff", "--json", &old, "--", &old]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "{\"findings\":[],\"limits\":[],\"widens\":false}\n")
    );
    let (code, stdout, _) = isogate(&["diff", &old, "--", &narrower]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        stdout.lines().last(),
        Some("summary: widened 0, narrowed 1, deny lifted 0, deny added 0; access does not widen")
    );
    let (code, stdout, _) = isogate(&["diff", "--json", &old, "--", &wider]);
    assert_eq!(code, 1);
    assert_eq!(
        stdout,
        concat!(
            r#"{"findings":[{"change":"widened","constraint":{"type":"object","properties":{"name":{"type":"string","max_length":16}}},"#,
            r#""example":{"name":"greet","origin":"https://o0.example.com","window":"editor-"},"kind":"command","names":["greet"],"#,
            r#""origins":[{"all_of":["https://*.example.com"],"none_of":[]}],"other":{"rules":[],"state":"not-allowed"},"other_than":[],"#,
            r#""rules":["greet"],"windows":[{"all_of":["editor-*"],"none_of":[]}]},"#,
            r#"{"change":"narrowed","constraint":{"type":"object","properties":{"name":{"type":"string","max_length":32}}},"#,
            r#""example":{"name":"greet","origin":"null","window":"main"},"kind":"command","names":["greet"],"#,
            r#""origins":[{"all_of":[],"none_of":["https://*.example.com"]}],"other":{"rules":[],"state":"not-allowed"},"other_than":[],"#,
            r#""rules":["greet"],"windows":[{"all_of":["main"],"none_of":[]}]},"#,
            r#"{"change":"narrowed","constraint":{"type":"object","properties":{"name":{"type":"string","max_length":32}}},"#,
            r#""example":{"name":"greet","origin":"https://o0.example.com","window":"main"},"kind":"command","names":["greet"],"#,
            r#""origins":[{"all_of":["https://*.example.com"],"none_of":[]}],"other":{"rules":["greet"],"state":"other-args"},"other_than":[],"#,
            r#""rules":["greet"],"windows":[{"all_of":["main"],"none_of":[]}]}],"limits":[],"widens":true}"#,
            "\n"
        )
    );
    // Limits: a larger limit widens.
    let limited = temp_file(
        "small-limited.json",
        r#"{"version": 1, "limits": {"max_args": 4, "rate": {"per_second": 5, "burst": 10}}, "rules": []}"#,
    );
    let empty = temp_file("empty.json", r#"{"version": 1, "rules": []}"#);
    let (code, stdout, _) = isogate(&["diff", &limited, "--", &empty]);
    assert_eq!(code, 1);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "widened: limit `max_args` 4 -> 64",
            "widened: limit `rate.per_second` 5 -> none",
            "widened: limit `rate.burst` 10 -> none",
            "summary: widened 3, narrowed 0, deny lifted 0, deny added 0; access widens",
        ]
    );
    // Errors: a policy that does not load, a missing side.
    let broken = temp_file("broken.json", r#"{"version": 1, "rules": [{"id": "x"}]}"#);
    let (code, stdout, stderr) = isogate(&["diff", &old, "--", &broken]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.contains("broken.json:1:26: missing field `effect`"),
        "{stderr}"
    );
    let (code, _, stderr) = isogate(&["diff", &old]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("Usage: isogate diff [OPTIONS] OLD... -- NEW..."),
        "{stderr}"
    );
}

#[test]
fn who_can_lists_what_a_sender_may_send() {
    let new = temp_file("who-new.json", NEW);
    let (code, stdout, stderr) = isogate(&[
        "who-can",
        "--window",
        "main",
        "--origin",
        "http://127.0.0.1:1420",
        &new,
    ]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            r#"command `read_note` with args {"type":"object","properties":{"id":{"type":"integer","maximum":1000,"minimum":0}},"required":["id"]}: rule `notes-read`"#,
            r#"command `plugin:fs|*` with args {"type":"object","additional":true}: rule `fs`"#,
            r#"event `clicked` with payload {"type":"null"}: rule `clicked`"#,
            "receive: every event the core sends (the policy has no `deliver` rules)",
        ]
    );
    let (code, stdout, _) = isogate(&["who-can", "--window", "x", "--origin", "null", &new]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.lines().next(),
        Some(r#"command `plugin:fs|*` with args {"type":"object","additional":true}: rule `fs`"#)
    );
    let (code, _, stderr) = isogate(&["who-can", "--window", "a b", "--origin", "null", &new]);
    assert_eq!(code, 2, "{stderr}");

    // With `deliver` rules: what the window may receive, too.
    let egress = temp_file(
        "who-egress.json",
        r#"{"version": 1, "rules": [
          {"id": "fs", "effect": "allow", "commands": ["plugin:fs|*"], "windows": ["*"]},
          {"id": "no-fs-in-editor", "effect": "deny", "commands": ["plugin:fs|*"], "windows": ["editor-*"]},
          {"id": "balance", "effect": "allow", "deliver": ["balance"], "windows": ["main", "editor-*"],
           "payload": {"type": "object", "properties": {"amount": {"type": "integer"}}, "required": ["amount"]}},
          {"id": "no-output", "effect": "deny", "deliver": ["terminal-output"], "windows": ["editor-*"]}
        ]}"#,
    );
    let (code, stdout, _) = isogate(&[
        "who-can", "--window", "editor-1", "--origin", "null", &egress,
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "denied: command `plugin:fs|*`: by rule `no-fs-in-editor`",
            r#"receive: event `balance` with payload {"type":"object","properties":{"amount":{"type":"integer"}},"required":["amount"]}: rule `balance`"#,
            "receive: denied: event `terminal-output`: by rule `no-output`",
        ]
    );
    let (code, stdout, _) = isogate(&["who-can", "--window", "other", "--origin", "null", &egress]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            r#"command `plugin:fs|*` with args {"type":"object"}: rule `fs`"#,
            "receive: nothing (no `deliver` rule allows this window any event)",
        ]
    );
    let (code, stdout, _) = isogate(&[
        "who-can", "--window", "main", "--origin", "null", "--json", &egress,
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        concat!(
            r#"{"delivery_governed":true,"#,
            r#""may_receive":[{"allowed_by":[{"constraint":{"type":"object","properties":{"amount":{"type":"integer"}},"required":["amount"]},"rule":"balance"}],"#,
            r#""denied_by":[],"kind":"deliver","name":"balance","other_than":[]}],"#,
            r#""may_send":[{"allowed_by":[{"constraint":{"type":"object"},"rule":"fs"}],"denied_by":[],"kind":"command","name":"plugin:fs|*","other_than":[]}],"#,
            r#""origin":"null","window":"main"}"#,
            "\n"
        )
    );
    // Egress in the diff: a policy without `deliver` rules delivers
    // everything, so dropping them widens.
    let (code, stdout, _) = isogate(&["diff", &egress, "--", &new]);
    assert_eq!(code, 1);
    assert!(stdout.contains("widened: delivered event `*` in any window at any origin: the new policy has no `deliver` rules, so every event the core sends is delivered; before: only what `deliver` rules allowed\n"), "{stdout}");
    assert!(stdout.contains("deny lifted: delivered event `terminal-output` in windows `editor-*` at any origin: was denied by rule `no-output`"), "{stdout}");
}

#[test]
fn coverage_counts_rules_from_records_and_open_lines() {
    let policy = temp_file("cov.json", OLD);
    let traffic = temp_file(
        "traffic.jsonl",
        concat!(
            r#"{"kind":"invoke","name":"read_note","window":"main","origin":"http://127.0.0.1:1420","args":{"id":3},"body_len":0,"allowed":true}"#,
            "\n",
            r#"{"kind":"invoke","name":"read_note","window":"main","origin":"http://127.0.0.1:1420","args":{"id":300},"body_len":0,"allowed":false}"#,
            "\n",
            r#"{"kind":"invoke","name":"plugin:fs|write","window":"main","origin":"null","args":{},"body_len":0,"allowed":false}"#,
            "\n\n",
            r#"{"outcome":"dispatched","reason":null,"cmd":"read_note","kind":"invoke","rule":"notes-read","reply":null}"#,
            "\n",
            r#"{"outcome":"discarded","reason":"replay","cmd":null,"kind":null,"rule":null,"reply":null}"#,
            "\n",
            r#"{"outcome":"discarded","reason":"denied","cmd":"x","kind":"invoke","rule":"gone","reply":null}"#,
            "\n",
        ),
    );
    let (code, stdout, stderr) = isogate(&["coverage", &traffic, &policy]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "used: rule `fs` (allow): decided 0, matched 1 (never decided: a deny or an allow rule with a smaller id did)",
            "used: rule `no-fs-write` (deny): decided 1, matched 1",
            "used: rule `notes-read` (allow): decided 2, matched 1",
            "unknown: rule `gone` decided 1 messages in the traffic but is not in the policy",
            "default deny: 1 messages",
            "not decided by the policy: 1 lines discarded as `replay`",
            "note: 2 lines were `isogate open` output, which names only the deciding rule: they count in `decided`, not in `matched`",
            "summary: 5 messages (3 records, 2 open lines); 0 of 3 rules unused",
        ]
    );
    let (code, stdout, _) = isogate(&["coverage", "--json", &traffic, &policy]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        concat!(
            r#"{"default_denied":1,"messages":5,"not_decided":{"replay":1},"open_lines":2,"records":3,"#,
            r#""rules":[{"decided":0,"effect":"allow","matched":1,"rule":"fs","used":true},"#,
            r#"{"decided":1,"effect":"deny","matched":1,"rule":"no-fs-write","used":true},"#,
            r#"{"decided":2,"effect":"allow","matched":1,"rule":"notes-read","used":true}],"#,
            r#""unknown_rules":{"gone":1}}"#,
            "\n"
        )
    );
    let unused = temp_file(
        "unused.jsonl",
        r#"{"kind":"emit","name":"clicked","window":"main","origin":"null","args":null,"body_len":0,"allowed":false}"#,
    );
    let (code, stdout, _) = isogate(&["coverage", &unused, &policy]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "unused: rule `fs` (allow): no message",
            "unused: rule `no-fs-write` (deny): no message",
            "unused: rule `notes-read` (allow): no message",
            "default deny: 1 messages",
            "summary: 1 messages (1 records, 0 open lines); 3 of 3 rules unused: `fs`, `no-fs-write`, `notes-read`",
        ]
    );
    let bad = temp_file("bad.jsonl", "{\"kind\":\"invoke\"}\n");
    let (code, stdout, stderr) = isogate(&["coverage", &bad, &policy]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains("bad.jsonl:1: missing field"), "{stderr}");
}

mod exit_codes {
    use super::{isogate, temp_file};
    use isogate::review;
    use isogate::{Policy, PolicySource};
    use proptest::prelude::*;

    const NAMES: &[&str] = &["greet", "plugin:fs|*", "plugin:fs|read"];
    const WINDOWS: &[&str] = &["main", "editor-*", "*"];
    const ORIGINS: &[&str] = &["http://127.0.0.1:*", "https://*.example.com"];
    const ARGS: &[&str] = &[
        r#"{"type": "object"}"#,
        r#"{"type": "object", "additional": true}"#,
        r#"{"type": "object", "properties": {"n": {"type": "integer", "maximum": 3}}}"#,
    ];

    type Rule = (bool, usize, usize, Option<usize>, usize);

    fn text(rules: &[Rule]) -> String {
        let rules: Vec<String> = rules
            .iter()
            .enumerate()
            .map(|(i, (allow, name, window, origin, args))| {
                let mut r = format!(
                    r#"{{"id": "r{i}", "effect": "{}", "commands": ["{}"], "windows": ["{}"]"#,
                    if *allow { "allow" } else { "deny" },
                    NAMES[*name],
                    WINDOWS[*window]
                );
                if let Some(o) = origin {
                    r.push_str(&format!(r#", "origins": ["{}"]"#, ORIGINS[*o]));
                }
                if *allow {
                    r.push_str(&format!(r#", "args": {}"#, ARGS[*args]));
                }
                r + "}"
            })
            .collect();
        format!(r#"{{"version": 1, "rules": [{}]}}"#, rules.join(", "))
    }

    fn rule() -> impl Strategy<Value = Rule> {
        (
            any::<bool>(),
            0..NAMES.len(),
            0..WINDOWS.len(),
            prop::option::of(0..ORIGINS.len()),
            0..ARGS.len(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// The exit code is 1 exactly when the library's diff widens (0
        /// with `--allow-widen`), and `--json` says the same.
        #[test]
        fn exit_code_follows_widening(
            old in prop::collection::vec(rule(), 0..3),
            new in prop::collection::vec(rule(), 0..3),
            case in 0u32..1_000_000,
        ) {
            let (old, new) = (text(&old), text(&new));
            let load = |t: &str| Policy::load(&[PolicySource { name: "p.json", text: t }]);
            let (Ok(o), Ok(n)) = (load(&old), load(&new)) else {
                return Ok(());
            };
            let widens = review::diff(&o, &n).widens();
            let old_file = temp_file(&format!("prop-old-{case}.json"), &old);
            let new_file = temp_file(&format!("prop-new-{case}.json"), &new);
            let (code, stdout, stderr) = isogate(&["diff", &old_file, "--", &new_file]);
            prop_assert_eq!(code, i32::from(widens), "{}{}", stdout, stderr);
            let (code, _, _) = isogate(&["diff", "--allow-widen", &old_file, "--", &new_file]);
            prop_assert_eq!(code, 0);
            let (_, json, _) = isogate(&["diff", "--json", &old_file, "--", &new_file]);
            let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&doc["widens"], &serde_json::json!(widens));
        }
    }
}
