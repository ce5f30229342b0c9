//! The traffic of a small app, sealed, recorded through a gate in learning
//! mode (debug builds) and replayed under a policy: shared by the library's
//! learning test (`tests/learn.rs`) and the `isogate learn` command's test
//! (`cli/tests/learn.rs`), which include this file with `#[path]`.

use isogate::danger::{self, Sealer};
use isogate::{Call, DiscardReason, Gate, Policy, PolicySource, Sender};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex};

const KEY: [u8; 32] = [3; 32];
pub const ORIGIN: &str = "isogate-app://localhost";

/// Allows every command and event with any arguments: the policy to record
/// under while learning.
const PERMISSIVE: &str = r#"{"version": 1, "rules": [
  {"id": "all-commands", "effect": "allow", "windows": ["*"],
   "commands": ["read_note", "set_theme", "add", "greet", "upload", "plugin:fs|stat"],
   "args": {"type": "object", "additional": true}},
  {"id": "all-events", "effect": "allow", "windows": ["*"], "events": ["note-opened"],
   "payload": {"type": "any"}}
]}"#;

pub fn load(name: &str, text: &str) -> Policy {
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
pub fn replay(policy: Policy, envelopes: &[(&str, Vec<u8>)]) -> Vec<DiscardReason> {
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
pub fn record() -> (String, Vec<(&'static str, Vec<u8>)>) {
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
