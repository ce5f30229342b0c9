//! Policy learning end to end: record traffic through a gate in learning
//! mode (debug builds), learn a policy from it, load it, replay the traffic
//! under it (all allowed) and check that anything else is denied; the same
//! through the `isogate learn` command.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// Learning mode (`Gate::with_learning`) exists in debug builds only; in
// release builds only the record-format test runs.
#![cfg_attr(not(debug_assertions), allow(dead_code, unused_imports))]

use isogate::danger::{self, Sealer};
use isogate::learn::{self, Options};
use isogate::{Call, DiscardReason, Gate, MessageKind, Policy, PolicySource, Request, Sender};
use serde_json::{json, Value};
use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex};

const KEY: [u8; 32] = [3; 32];
const ORIGIN: &str = "isogate-app://localhost";

/// Allows every command and event with any arguments: the policy to record
/// under while learning.
const PERMISSIVE: &str = r#"{"version": 1, "rules": [
  {"id": "all-commands", "effect": "allow", "windows": ["*"],
   "commands": ["read_note", "set_theme", "add", "greet", "upload", "plugin:fs|stat"],
   "args": {"type": "object", "additional": true}},
  {"id": "all-events", "effect": "allow", "windows": ["*"], "events": ["note-opened"],
   "payload": {"type": "any"}}
]}"#;

fn load(name: &str, text: &str) -> Policy {
    Policy::load(&[PolicySource { name, text }]).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn echo(call: Call<'_>) -> Result<Value, Value> {
    Ok(json!(call.cmd))
}

/// The traffic of a small app: (window, envelope maker).
enum Msg {
    Invoke(&'static str, Value, Vec<u8>),
    Emit(&'static str, Value),
}

fn traffic() -> Vec<(&'static str, Msg)> {
    use Msg::{Emit, Invoke};
    let mut out = vec![
        (
            "main",
            Invoke(
                "read_note",
                json!({"path": "/home/ada/notes/todo.md"}),
                vec![],
            ),
        ),
        (
            "main",
            Invoke(
                "read_note",
                json!({"path": "/home/ada/notes/work/plan.md"}),
                vec![],
            ),
        ),
        (
            "main",
            Invoke(
                "read_note",
                json!({"path": "/home/ada/notes/todo.md"}),
                vec![],
            ),
        ),
        (
            "settings",
            Invoke("set_theme", json!({"theme": "dark"}), vec![]),
        ),
        (
            "settings",
            Invoke("set_theme", json!({"theme": "light"}), vec![]),
        ),
        (
            "settings",
            Invoke("set_theme", json!({"theme": "dark"}), vec![]),
        ),
        (
            "settings",
            Invoke("set_theme", json!({"theme": "light"}), vec![]),
        ),
        ("main", Invoke("add", json!({"a": 2, "b": 40}), vec![])),
        (
            "main",
            Invoke("add", json!({"a": -5, "b": 7, "round": true}), vec![]),
        ),
        ("main", Invoke("greet", json!({"name": "Ada"}), vec![])),
        (
            "settings",
            Invoke("greet", json!({"name": "Grace Hopper"}), vec![]),
        ),
        ("main", Invoke("upload", json!({}), vec![7; 300])),
        (
            "main",
            Invoke(
                "plugin:fs|stat",
                json!({"paths": ["/tmp/a", "/tmp/b/c"]}),
                vec![],
            ),
        ),
        (
            "main",
            Emit("note-opened", json!({"id": 3, "title": "todo"})),
        ),
        (
            "main",
            Emit("note-opened", json!({"id": 12, "title": "plan"})),
        ),
    ];
    out.push((
        "editor-1",
        Invoke(
            "read_note",
            json!({"path": "/home/ada/notes/todo.md"}),
            vec![],
        ),
    ));
    out
}

/// Seals every message of `traffic` for its window (one frame load each).
fn seal_all(traffic: &[(&'static str, Msg)]) -> Vec<(&'static str, Vec<u8>)> {
    let mut sealers: Vec<(&str, Sealer)> = Vec::new();
    let mut out = Vec::new();
    for (i, (window, msg)) in traffic.iter().enumerate() {
        if !sealers.iter().any(|(w, _)| w == window) {
            let load = u32::try_from(sealers.len()).unwrap() + 1;
            sealers.push((window, Sealer::new(KEY, window, ORIGIN, load)));
        }
        let sealer = &mut sealers.iter_mut().find(|(w, _)| w == window).unwrap().1;
        let envelope = match msg {
            Msg::Invoke(cmd, args, body) => {
                let json = json!({"kind": "invoke", "id": i, "cmd": cmd, "args": args});
                sealer.seal_json(&json.to_string(), body)
            }
            Msg::Emit(event, payload) => sealer.emit(event, payload.clone()),
        };
        out.push((*window, envelope));
    }
    out
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `envelopes` through a fresh gate with `policy`; returns the
/// discard reasons (an empty list: everything passed).
fn replay(policy: Policy, envelopes: &[(&str, Vec<u8>)]) -> Vec<DiscardReason> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let gate = Gate::new(danger::key_from_bytes(KEY), policy, echo)
        .with_audit(move |e| sink.lock().unwrap().push(e.reason));
    for (window, envelope) in envelopes {
        gate.handle(
            Sender {
                window,
                origin: ORIGIN,
            },
            envelope,
        );
    }
    let reasons = log.lock().unwrap().iter().flatten().copied().collect();
    reasons
}

#[cfg(debug_assertions)]
fn record() -> (String, Vec<(&'static str, Vec<u8>)>) {
    let recording = Shared::default();
    let gate = Gate::new(
        danger::key_from_bytes(KEY),
        load("permissive.json", PERMISSIVE),
        echo,
    )
    .with_learning(recording.clone());
    let envelopes = seal_all(&traffic());
    for (window, envelope) in &envelopes {
        gate.handle(
            Sender {
                window,
                origin: ORIGIN,
            },
            envelope,
        );
    }
    let text = String::from_utf8(recording.0.lock().unwrap().clone()).unwrap();
    (text, envelopes)
}

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

#[cfg(debug_assertions)]
#[test]
fn isogate_learn_prints_a_policy_that_composes_with_the_existing_one() {
    let (recording, envelopes) = record();
    let dir = std::env::temp_dir().join(format!("isogate-learn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let traffic = dir.join("traffic.jsonl");
    std::fs::write(&traffic, &recording).unwrap();

    // Alone: stdout is the policy.
    let out = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .arg("learn")
        .arg(&traffic)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let learned = String::from_utf8(out.stdout).unwrap();
    let learned_path = dir.join("learned.json");
    std::fs::write(&learned_path, &learned).unwrap();
    assert_eq!(replay(load("learned.json", &learned), &envelopes), []);
    check_with_cli(&[&learned_path]);

    // With an existing policy: what it allows is not learned again, ids do
    // not clash, and the two files compose.
    let existing = r#"{"version": 1, "rules": [
      {"id": "greet", "effect": "allow", "commands": ["greet"], "windows": ["*"],
       "args": {"type": "object", "properties": {"name": {"type": "string"}}}},
      {"id": "no-upload", "effect": "deny", "commands": ["upload"], "windows": ["*"]}
    ]}"#;
    let existing_path = dir.join("existing.json");
    std::fs::write(&existing_path, existing).unwrap();
    let extra_path = dir.join("extra.json");
    let out = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .arg("learn")
        .arg(&traffic)
        .arg("--policy")
        .arg(&existing_path)
        .arg("--output")
        .arg(&extra_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("2 of 16 messages already allowed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 messages denied by rule `no-upload` were not learned"),
        "{stderr}"
    );
    let extra = std::fs::read_to_string(&extra_path).unwrap();
    assert!(!extra.contains(r#""greet""#), "{extra}");
    assert!(!extra.contains(r#""upload""#), "{extra}");
    check_with_cli(&[&existing_path, &extra_path]);
    let composed = Policy::load(&[
        PolicySource {
            name: "existing.json",
            text: existing,
        },
        PolicySource {
            name: "extra.json",
            text: &extra,
        },
    ])
    .unwrap();
    // Everything but the denied upload passes under the composition.
    assert_eq!(replay(composed, &envelopes), [DiscardReason::Denied]);

    // Bad input: a usage error, with the line.
    std::fs::write(&traffic, "{\"kind\":\"invoke\"}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .arg("learn")
        .arg(&traffic)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("traffic.jsonl: line 1: "));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `isogate check FILES...` accepts the files.
#[cfg(debug_assertions)]
fn check_with_cli(files: &[&std::path::Path]) {
    let out = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .args(["check"])
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Policy::from_files(files).unwrap();
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
