//! Policy learning end to end: record traffic through a gate in learning
//! mode (debug builds), learn a policy from it, load it, replay the traffic
//! under it (all allowed) and check that anything else is denied. The same
//! through the `isogate learn` command: `cli/tests/learn.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// Learning mode (`Gate::with_learning`) exists in debug builds only; in
// release builds only the record-format test runs.
#![cfg_attr(not(debug_assertions), allow(dead_code, unused_imports))]

#[path = "common/learn_traffic.rs"]
mod learn_traffic;

use isogate::learn::{self, Options};
use isogate::{MessageKind, Request};
use learn_traffic::{load, record, replay, ORIGIN};
use serde_json::{json, Value};

#[cfg(debug_assertions)]
#[test]
fn learned_policy_allows_the_recorded_traffic_and_nothing_else() {
    let (recording, envelopes) = record();
    assert_eq!(recording.lines().count(), envelopes.len());
    let records = learn::parse_records(&recording).unwrap();
    let learned = learn::infer(&records, &Options::default());
    assert!(learned.notes.is_empty(), "{:?}", learned.notes);
    let text = learned.to_policy_json();
    let policy = load("learned.json", &text);

    // Every recorded message passes under the learned policy alone.
    assert_eq!(replay(load("learned.json", &text), &envelopes), []);

    // Every rule says what it was learned from.
    let file: Value = serde_json::from_str(&text).unwrap();
    for rule in file["rules"].as_array().unwrap() {
        assert!(
            rule["comment"].as_str().unwrap().starts_with("seen "),
            "{rule}"
        );
    }
    let theme = file["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["commands"] == json!(["set_theme"]))
        .unwrap();
    assert_eq!(theme["windows"], json!(["settings"]));
    assert_eq!(theme["origins"], json!([ORIGIN]));
    assert_eq!(
        theme["args"]["properties"]["theme"],
        json!({"type": "string", "enum": ["dark", "light"]})
    );
    assert_eq!(
        theme["comment"],
        json!("seen 4 times from window `settings` at origin `isogate-app://localhost`; `theme` took 2 values")
    );

    // Anything else is denied.
    let decide = |window: &str, kind: MessageKind, name: &str, args: Value| {
        policy
            .decide(&Request {
                window,
                origin: ORIGIN,
                kind,
                name,
                args: &args,
            })
            .allowed
    };
    let inv = MessageKind::Invoke;
    assert!(decide(
        "main",
        inv,
        "read_note",
        json!({"path": "/home/ada/notes/x/y.md"})
    ));
    assert!(decide(
        "editor-1",
        inv,
        "read_note",
        json!({"path": "/home/ada/notes/todo.md"})
    ));
    let denied = [
        ("main", inv, "delete_note", json!({})),
        ("main", inv, "set_theme", json!({"theme": "dark"})),
        (
            "editor-2",
            inv,
            "read_note",
            json!({"path": "/home/ada/notes/todo.md"}),
        ),
        ("main", inv, "read_note", json!({"path": "/etc/passwd"})),
        (
            "main",
            inv,
            "read_note",
            json!({"path": "/home/ada/notes/../.ssh/id"}),
        ),
        (
            "main",
            inv,
            "read_note",
            json!({"path": "/home/ada/notes/todo.txt"}),
        ),
        ("main", inv, "read_note", json!({})),
        ("settings", inv, "set_theme", json!({"theme": "blue"})),
        ("main", inv, "add", json!({"a": 41, "b": 1})),
        ("main", inv, "add", json!({"a": 2})),
        ("main", inv, "add", json!({"a": 2, "b": 7, "extra": 1})),
        (
            "main",
            inv,
            "greet",
            json!({"name": "Ada Lovelace, Countess"}),
        ),
        (
            "main",
            inv,
            "plugin:fs|stat",
            json!({"paths": ["/tmp/a", "/tmp/b", "/tmp/c"]}),
        ),
        ("main", inv, "plugin:fs|read", json!({"paths": ["/tmp/a"]})),
        ("main", MessageKind::Emit, "note-opened", json!({"id": 3})),
        (
            "main",
            MessageKind::Emit,
            "note-opened",
            json!({"id": 99, "title": "todo"}),
        ),
        (
            "settings",
            MessageKind::Emit,
            "note-opened",
            json!({"id": 3, "title": "todo"}),
        ),
    ];
    for (window, kind, name, args) in denied {
        assert!(
            !decide(window, kind, name, args.clone()),
            "{window} {name} {args}"
        );
    }
    let other_origin = policy.decide(&Request {
        window: "main",
        origin: "http://127.0.0.1:8917",
        kind: inv,
        name: "greet",
        args: &json!({"name": "Ada"}),
    });
    assert!(!other_origin.allowed);
}

/// Learning is pure over records: the documented record format is all it
/// needs (so this also runs in release builds, where learning mode does
/// not exist).
#[test]
fn learns_from_documented_records() {
    let lines = [
        r#"{"kind":"invoke","name":"open","window":"main","origin":"tauri://localhost","args":{"path":"/data/a.pdf","page":1},"body_len":0,"allowed":false}"#,
        r#"{"kind":"invoke","name":"open","window":"main","origin":"tauri://localhost","args":{"path":"/data/b/c.pdf","page":12},"body_len":0,"allowed":false}"#,
        r#"{"kind":"emit","name":"ping","window":"main","origin":"tauri://localhost","args":null,"body_len":0,"allowed":true}"#,
    ];
    let records = learn::parse_records(&lines.join("\n")).unwrap();
    let learned = learn::infer(&records, &Options::default());
    let text = learned.to_policy_json();
    let policy = load("learned.json", &text);
    let file: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        file["rules"][1]["args"],
        json!({"type": "object",
               "properties": {"page": {"type": "integer", "minimum": 1, "maximum": 12},
                              "path": {"type": "path", "base": "/data", "glob": "**/*.pdf"}},
               "required": ["page", "path"]})
    );
    assert_eq!(file["rules"][0]["payload"], json!({"type": "null"}));
    assert!(file["comment"]
        .as_str()
        .unwrap()
        .contains("2 of them denied"));
    for r in &records {
        let d = policy.decide(&Request {
            window: &r.window,
            origin: &r.origin,
            kind: r.kind,
            name: &r.name,
            args: &r.args,
        });
        assert!(d.allowed, "{}", d.reason);
    }
}
