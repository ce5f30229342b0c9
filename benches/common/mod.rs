//! Fixtures shared by the criterion benchmarks (`benches/gate.rs`) and the
//! side-by-side comparison crate (`bench/`, which includes this file by
//! path), so both measure exactly the same messages, policies and gates.

#![allow(dead_code, clippy::expect_used, clippy::panic)]

use isogate::danger::{self, Sealer};
use isogate::{Call, Gate, Policy, PolicySource, Sender};
use serde_json::Value;

/// The launch key of every benchmark (fixed, so runs are repeatable).
pub const KEY: [u8; 32] = [
    0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
    0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4,
];
/// The sender every envelope is sealed for and arrives from.
pub const WINDOW: &str = "main";
/// The sender's origin.
pub const ORIGIN: &str = "http://127.0.0.1:8917";
/// The sender as the transport reports it.
pub const SENDER: Sender<'static> = Sender {
    window: WINDOW,
    origin: ORIGIN,
};
/// Plaintext sizes measured: 64 B and 1 KiB carry their bytes in the JSON
/// arguments; 16 KiB and up carry them in the binary body.
pub const SIZES: [usize; 5] = [64, 1024, 16 * 1024, 256 * 1024, 4 * 1024 * 1024];
/// Largest size whose bytes travel inside the JSON (`args.note`).
pub const MAX_JSON_CARRIED: usize = 1024;
/// `limits.max_message_bytes` of the benchmark policies: room for 4 MiB.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// `64 B`, `1 KiB`, `4 MiB`.
pub fn size_label(bytes: usize) -> String {
    // Whole MiB or KiB: the low 20 or 10 bits are zero.
    if bytes >= 1 << 20 && bytes.trailing_zeros() >= 20 {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.trailing_zeros() >= 10 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} B")
    }
}

/// The one rule of the whole-gate benchmarks: `greet` with a full-match
/// regex on `name` and a length bound on the optional `note`.
const GREET_RULE: &str = r#"{"id": "greet", "effect": "allow", "commands": ["greet"],
  "windows": ["main"], "origins": ["http://127.0.0.1:*"],
  "args": {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "pattern": "[A-Za-z][A-Za-z ]{0,31}"},
    "note": {"type": "string", "max_length": 4096}}}}"#;

/// A path-scoped rule.
const READ_NOTE_RULE: &str = r#"{"id": "read-note", "effect": "allow", "commands": ["read_note"],
  "windows": ["main", "editor-*"], "origins": ["http://127.0.0.1:*"],
  "args": {"type": "object", "required": ["path"], "properties": {
    "path": {"type": "path", "base": "/home/user/notes", "glob": "**/*.md"}}}}"#;

/// Which rule a policy starts with (the one a decision benchmark asks about).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lead {
    /// `greet`, regex constraint.
    Greet,
    /// `read_note`, path scope.
    ReadNote,
}

/// A policy with `commands` commands, one rule each: the lead rule, then
/// the other constrained rule, then fillers (`cmd_0002`, ...) that each
/// carry a regex constraint of their own.
pub fn policy_text(commands: usize, lead: Lead) -> String {
    let (first, second) = match lead {
        Lead::Greet => (GREET_RULE, READ_NOTE_RULE),
        Lead::ReadNote => (READ_NOTE_RULE, GREET_RULE),
    };
    let mut rules = vec![first.to_owned()];
    if commands >= 2 {
        rules.push(second.to_owned());
    }
    for i in 2..commands {
        rules.push(format!(
            r#"{{"id": "cmd-{i:04}", "effect": "allow", "commands": ["cmd_{i:04}"],
  "windows": ["main", "editor-*"], "origins": ["http://127.0.0.1:*"],
  "args": {{"type": "object", "required": ["q"], "properties": {{
    "q": {{"type": "string", "pattern": "[a-z]{{1,16}}-{i}"}}}}}}}}"#
        ));
    }
    format!(
        r#"{{"version": 1, "limits": {{"max_message_bytes": {MAX_MESSAGE_BYTES}}}, "rules": [{}]}}"#,
        rules.join(",\n")
    )
}

/// [`policy_text`], loaded.
pub fn policy(commands: usize, lead: Lead) -> Policy {
    let text = policy_text(commands, lead);
    Policy::load(&[PolicySource {
        name: "bench.json",
        text: &text,
    }])
    .unwrap_or_else(|e| panic!("benchmark policy: {e}"))
}

/// The router of every benchmark gate: reads the arguments, does nothing
/// with them.
pub type NoopRouter = fn(Call<'_>) -> Result<Value, Value>;

/// A router that reads what the floor's handler reads (the id, `name`,
/// `note` and the body's length) and answers their sum, as the floor does.
pub fn noop_router(call: Call<'_>) -> Result<Value, Value> {
    let len = |key| call.args[key].as_str().map_or(0, str::len);
    let sum = call.id as usize + len("name") + len("note") + call.body.len();
    Ok(Value::from(sum))
}

/// A fresh gate (empty replay state) with the one-rule policy. The policy
/// is compiled once and cloned: a timing loop that needs a fresh replay
/// state every pass must not also recompile regexes between passes (that
/// would evict the caches the measured messages run in).
pub fn gate() -> Gate<NoopRouter> {
    static GREET: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    Gate::new(
        danger::key_from_bytes(KEY),
        GREET.get_or_init(|| policy(1, Lead::Greet)).clone(),
        noop_router as NoopRouter,
    )
}

/// The smallest message: `{"kind":"invoke","id":1,"cmd":"greet","args":{"name":"Ada"}}`.
pub const SMALL_JSON: &str = r#"{"kind":"invoke","id":1,"cmd":"greet","args":{"name":"Ada"}}"#;

/// Deterministic filler text (letters and spaces) or bytes.
fn filler(len: usize, text: bool) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let b = x.to_le_bytes()[0];
            if text {
                match b % 27 {
                    26 => b' ',
                    n => b'a' + n,
                }
            } else {
                b
            }
        })
        .collect()
}

/// A plaintext of exactly `size` bytes (at least 64): the JSON carries the
/// bytes up to [`MAX_JSON_CARRIED`], the binary body beyond.
pub fn plaintext(size: usize) -> Vec<u8> {
    assert!(size >= 4 + SMALL_JSON.len(), "smallest message is 64 bytes");
    if size == 4 + SMALL_JSON.len() {
        return danger::plaintext(SMALL_JSON, &[]);
    }
    if size <= MAX_JSON_CARRIED {
        let head = r#"{"kind":"invoke","id":1,"cmd":"greet","args":{"name":"Ada","note":""}}"#;
        let note_len = size - 4 - head.len();
        let note = String::from_utf8(filler(note_len, true)).expect("ascii filler");
        let json = format!(
            r#"{{"kind":"invoke","id":1,"cmd":"greet","args":{{"name":"Ada","note":"{note}"}}}}"#
        );
        let p = danger::plaintext(&json, &[]);
        assert_eq!(p.len(), size);
        return p;
    }
    body_plaintext(&payload(size - 4 - SMALL_JSON.len()))
}

/// `len` deterministic binary bytes.
pub fn payload(len: usize) -> Vec<u8> {
    filler(len, false)
}

/// The small `greet` JSON with `payload` as the binary body.
pub fn body_plaintext(payload: &[u8]) -> Vec<u8> {
    danger::plaintext(SMALL_JSON, payload)
}

/// Envelopes of one frame load, sealed at the given sequence numbers.
pub fn seal_pool(plaintext: &[u8], load_id: u32, seqs: std::ops::Range<u64>) -> Vec<Vec<u8>> {
    let sealer = Sealer::new(KEY, WINDOW, ORIGIN, load_id);
    seqs.map(|seq| sealer.seal_at(seq, plaintext)).collect()
}
