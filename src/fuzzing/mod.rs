//! Fuzzing entry points, shared by the cargo-fuzz targets in `fuzz/` and by
//! `tests/fuzz_replay.rs`, which replays the committed corpus without
//! libFuzzer.
//!
//! Each function takes arbitrary bytes, runs them through the real code and
//! never panics, except through an `assert!` that states a security property:
//! a failing assertion is exactly the crash a fuzzer is looking for. All of
//! them are deterministic: a fixed key, fixed policies, no clock-dependent
//! checks (no audit sink and no rate in the gates built here).
//!
//! Not part of the stable API.

use crate::danger::{self, Sealer};
use crate::envelope;
use crate::message::{self, Json, Limits, Message};
use crate::{Call, Gate, MessageKind, Policy, PolicySource, Request, Router, Sender};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, OnceLock};

pub(crate) mod oracle;

/// The fixed launch key of every fuzzing gate.
pub const KEY: [u8; 32] = [0x42; 32];
/// The origin every fuzzing window lives at.
pub const ORIGIN: &str = "http://127.0.0.1:8917";
/// An origin no fuzzing window lives at.
pub const OTHER_ORIGIN: &str = "http://evil.test";
/// The windows the gate-sequence target seals for.
pub const WINDOWS: [&str; 2] = ["main", "settings"];

/// The policy the message and gate targets run under: commands with
/// argument constraints (a full-match pattern, a scoped path), an event, an
/// origin pattern, and a deny that must win in its own scope only. No rate:
/// a rate depends on the clock, and the targets must be deterministic.
pub const POLICY: &str = r#"{"version": 1, "rules": [
  {"id": "greet", "effect": "allow", "commands": ["greet"], "windows": ["main"],
   "origins": ["http://127.0.0.1:*"],
   "args": {"type": "object", "properties": {"name": {"type": "string", "pattern": "[A-Za-z]{1,16}"}},
            "required": ["name"]}},
  {"id": "notes", "effect": "allow", "commands": ["read_note"], "windows": ["main", "settings"],
   "args": {"type": "object", "properties": {"path": {"type": "path", "base": "/notes", "glob": "*.md"}},
            "required": ["path"]}},
  {"id": "upload", "effect": "allow", "commands": ["upload"], "windows": ["main", "settings"],
   "args": {"type": "object"}},
  {"id": "no-upload-in-settings", "effect": "deny", "commands": ["upload"], "windows": ["settings"]},
  {"id": "clicked", "effect": "allow", "events": ["clicked"], "windows": ["main"],
   "payload": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}}}
]}"#;

const MAIN: Sender<'static> = Sender {
    window: "main",
    origin: ORIGIN,
};

/// The fixed policy, compiled. `None` would mean the policy language no
/// longer accepts it; `tests/fuzz_replay.rs` checks that it loads.
pub fn fixed_policy() -> Option<Policy> {
    Policy::load(&[PolicySource {
        name: "fuzzing.json",
        text: POLICY,
    }])
    .ok()
}

/// One router call as the counting router saw it.
#[derive(Debug, Clone)]
struct Seen {
    id: u64,
    cmd: String,
    args: Value,
    body_len: usize,
    window: String,
    origin: String,
}

/// A router that records every call and answers with an empty object.
#[derive(Clone, Default)]
struct Recorder {
    calls: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Router for Recorder {
    fn call(&self, call: Call<'_>) -> Result<Value, Value> {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Seen {
                id: call.id,
                cmd: call.cmd.to_owned(),
                args: Value::Object(call.args.to_map()),
                body_len: call.body.len(),
                window: call.sender.window.to_owned(),
                origin: call.sender.origin.to_owned(),
            });
        Ok(json!({}))
    }
}

fn recording_gate(policy: Policy) -> (Gate<Recorder>, Recorder) {
    let router = Recorder::default();
    let gate = Gate::new(danger::key_from_bytes(KEY), policy, router.clone());
    (gate, router)
}

/// Envelope target: binary decode, header round trip, AEAD open with the
/// fixed key; the same for the bytes read as the text transport form; and
/// both through a gate, whose router must never be called (the fuzzer cannot
/// produce a valid tag for new bytes).
pub fn envelope_decode(data: &[u8]) {
    let key = danger::key_from_bytes(KEY);
    check_envelope(&key, data);
    let decoded = envelope::decode_base64(data);
    // Differential: the text decoder (SIMD where the CPU has it) agrees with
    // base64's scalar engines, chosen by alphabet as WIRE.md section 5 says.
    assert_eq!(decoded, reference_base64(data), "base64 decoders disagree");
    if let Some(bytes) = &decoded {
        check_envelope(&key, bytes);
    }
    let Some(policy) = fixed_policy() else { return };
    let (gate, router) = recording_gate(policy);
    let reply = gate.handle(MAIN, data);
    let text_reply = std::str::from_utf8(data)
        .ok()
        .and_then(|text| gate.handle(MAIN, text));
    let calls = router.take();
    // Seed files may hold envelopes sealed with the fixed key; such an
    // envelope may be dispatched once, never twice.
    assert!(calls.len() <= 1, "one envelope reached the router twice");
    assert_eq!(reply.is_some() || text_reply.is_some(), !calls.is_empty());
    // The text path and an envelope handed over (both opened in place) end
    // exactly as the binary path does on the decoded bytes, discard reason
    // included.
    if let (Ok(text), Some(bytes)) = (std::str::from_utf8(data), &decoded) {
        let (Some(p1), Some(p2), Some(p3)) = (fixed_policy(), fixed_policy(), fixed_policy())
        else {
            return;
        };
        let (by_text, _) = recording_gate(p1);
        let (by_bytes, _) = recording_gate(p2);
        let (by_owned, _) = recording_gate(p3);
        let a = by_text.handle(MAIN, text);
        let b = by_bytes.handle(MAIN, bytes);
        let c = by_owned.handle(MAIN, bytes.clone());
        assert_eq!(a, b, "text and binary transports answer differently");
        assert_eq!(c, b, "owned and borrowed envelopes answer differently");
        assert_eq!(
            by_text.counters(),
            by_bytes.counters(),
            "text and binary transports discard differently"
        );
        assert_eq!(
            by_owned.counters(),
            by_bytes.counters(),
            "owned and borrowed envelopes discard differently"
        );
    }
}

/// WIRE.md section 5 with base64's scalar engines: the standard alphabet
/// when the text uses `+` or `/`, else the URL-safe one; padding optional.
fn reference_base64(text: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
    use base64::Engine as _;
    if text.len() / 4 * 3 > envelope::MAX_ENVELOPE_LEN + 3 {
        return None;
    }
    if text.iter().any(|&b| b == b'+' || b == b'/') {
        STANDARD_PAD_INDIFFERENT.decode(text).ok()
    } else {
        URL_SAFE_PAD_INDIFFERENT.decode(text).ok()
    }
}

fn check_envelope(key: &crate::LaunchKey, bytes: &[u8]) {
    let Some(env) = envelope::decode(bytes) else {
        return;
    };
    // The header is exactly the bytes before the sealed part, and encoding
    // the decoded fields gives the same bytes back.
    assert_eq!(env.header.len() + env.sealed.len(), bytes.len());
    assert!(bytes.starts_with(env.header));
    assert!(env.sealed.len() >= envelope::TAG_LEN);
    let again = envelope::encode_header(env.window, env.origin, env.nonce);
    assert_eq!(again.as_deref(), Some(env.header));
    if let Some(plaintext) = envelope::open(key, &env) {
        assert_eq!(plaintext.len() + envelope::TAG_LEN, env.sealed.len());
    }
}

/// The limits the message target decodes under, strictest first.
fn limit_ladder(policy_limits: Limits) -> [Limits; 3] {
    let tiny = Limits {
        max_message_bytes: 256,
        max_depth: 3,
        max_items: 4,
        max_args: 2,
    };
    let huge = Limits {
        max_message_bytes: usize::MAX,
        max_depth: usize::MAX,
        max_items: usize::MAX,
        max_args: usize::MAX,
    };
    [tiny, policy_limits, huge]
}

fn at_most(a: &Limits, b: &Limits) -> bool {
    a.max_message_bytes <= b.max_message_bytes
        && a.max_depth <= b.max_depth
        && a.max_items <= b.max_items
        && a.max_args <= b.max_args
}

/// Message target: the bytes as a plaintext, decoded directly under several
/// limits (a message within stricter limits decodes the same under looser
/// ones, and encodes back to itself), then sealed with the fixed key and
/// handed to a gate so the code after the tag check runs: the router is
/// called only for a message that decodes and that the policy allows.
pub fn message_decode(data: &[u8]) {
    let Some(policy) = fixed_policy() else { return };
    differential(data, policy.limits());
    let ladder = limit_ladder(policy.limits());
    let mut first_ok: Option<Message<'_>> = None;
    let mut prev: Option<&Limits> = None;
    for limits in &ladder {
        let decoded = message::Message::decode(data, limits);
        if let Some(p) = prev {
            if at_most(p, limits) && first_ok.is_some() {
                assert_eq!(decoded.as_ref().ok(), first_ok.as_ref());
            }
        }
        if let Ok(m) = &decoded {
            check_message(m);
            if first_ok.is_none() {
                first_ok = Some(m.clone());
            }
        }
        prev = Some(limits);
    }

    let (gate, router) = recording_gate(policy);
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    let envelope = sealer.seal_plaintext(data);
    let reply = gate.handle(MAIN, &envelope);
    let replay = gate.handle(MAIN, &envelope);
    assert!(replay.is_none(), "a replayed envelope was answered");
    let calls = router.take();
    assert!(calls.len() <= 1, "one envelope reached the router twice");
    let policy = gate.policy();
    match message::Message::decode(data, &policy.limits()) {
        Ok(m) => {
            let allowed = allowed(&policy, MAIN, &m);
            let expect_call = allowed && m.kind() == MessageKind::Invoke;
            assert_eq!(calls.len(), usize::from(expect_call));
            assert_eq!(reply.is_some(), expect_call);
            if let (
                Some(call),
                Message::Invoke {
                    id,
                    cmd,
                    args,
                    body,
                },
            ) = (calls.first(), &m)
            {
                assert_eq!(
                    (call.id, call.cmd.as_str(), &call.args, call.body_len),
                    (*id, cmd.as_ref(), &args.to_value(), body.len())
                );
            }
        }
        Err(_) => {
            assert!(calls.is_empty(), "the router saw an undecodable message");
            assert!(reply.is_none());
        }
    }
}

/// Differential: `message::decode` and the serde_json oracle (`oracle`:
/// the framing, a byte-at-a-time limit scan, serde_json with duplicate
/// keys refused at any depth, the field rules of `docs/WIRE.md` section 4)
/// give exactly the same result on `data` as a plaintext, under the limit
/// ladder (with the fixed policy's limits), the default limits and a
/// middling set: both `Ok` with the same kind, id, name, body and arguments
/// (same `serde_json::Value`, same JSON text, so `-0.0` is not `0.0`), or
/// both the same `DecodeError`.
///
/// Where serde_json alone reads differently, the oracle follows the
/// documents: `-0` is the integer 0 (`docs/POLICY.md` section 8; serde_json
/// reads -0.0), so `"id":-0` is the call id 0. serde_json's own limit of
/// 127 nested containers is also the message format's (`docs/WIRE.md`
/// section 4).
#[doc(hidden)]
pub fn message_differential(data: &[u8]) {
    // Loading the policy compiles its patterns: once is enough.
    static POLICY_LIMITS: OnceLock<Limits> = OnceLock::new();
    let policy_limits =
        POLICY_LIMITS.get_or_init(|| fixed_policy().map_or_else(Limits::default, |p| p.limits()));
    differential(data, *policy_limits);
}

fn differential(data: &[u8], policy_limits: Limits) {
    let [tiny, policy, huge] = limit_ladder(policy_limits);
    let middling = Limits {
        max_message_bytes: 4096,
        max_depth: 5,
        max_items: 6,
        max_args: 3,
    };
    for limits in [tiny, policy, huge, Limits::default(), middling] {
        let ours = message::Message::decode(data, &limits);
        // The gate decodes with its arguments in stack slots: same result.
        let mut slots = message::ArgSlots::new();
        let in_slots = message::decode_in(data, &limits, Some(&mut slots));
        assert_eq!(in_slots, ours, "slots and heap disagree under {limits:?}");
        let theirs = oracle::decode(data, &limits);
        match (&ours, &theirs) {
            (Ok(m), Ok(r)) => {
                let (id, body) = match m {
                    Message::Invoke { id, body, .. } => (Some(*id), *body),
                    Message::Emit { .. } => (None, &[][..]),
                };
                assert_eq!(
                    (m.kind(), id, m.name(), body),
                    (r.kind, r.id, r.name.as_str(), r.body),
                    "decoders disagree on the message under {limits:?}"
                );
                let args = m.args().to_value();
                assert_eq!(
                    args, r.args,
                    "decoders disagree on the arguments under {limits:?}"
                );
                assert_eq!(
                    args.to_string(),
                    r.args.to_string(),
                    "decoders disagree on the arguments' text under {limits:?}"
                );
            }
            _ => assert_eq!(
                ours.as_ref().err(),
                theirs.as_ref().err(),
                "decoders disagree under {limits:?}: new {:?}, old {:?}",
                ours.as_ref().map(|m| (m.kind(), m.name().to_owned())),
                theirs.as_ref().map(|r| (r.kind, r.name.to_string())),
            ),
        }
    }
}

fn check_message(m: &Message<'_>) {
    assert!(message::valid_name(m.name()));
    if let Message::Invoke { id, args, .. } = m {
        assert!(*id <= message::MAX_CALL_ID);
        assert!(args.is_object());
    }
    let plaintext = message::encode(m);
    let huge = limit_ladder(Limits::default())[2];
    let again = message::Message::decode(&plaintext, &huge);
    assert_eq!(
        again.as_ref().ok(),
        Some(m),
        "encode is not decode's inverse"
    );
}

/// Asks `policy` about `m` through the public API (its arguments as a
/// `serde_json::Value`), the way the CLI and tests do.
fn allowed(policy: &Policy, sender: Sender<'_>, m: &Message<'_>) -> bool {
    let args = m.args().to_value();
    policy
        .decide(&Request {
            window: sender.window,
            origin: sender.origin,
            kind: m.kind(),
            name: m.name(),
            args: &args,
        })
        .allowed
}

/// Requests every loaded policy is asked about.
fn fixed_requests(args: &[Value]) -> Vec<Request<'_>> {
    let mut out = Vec::new();
    let senders = [
        ("main", ORIGIN),
        ("settings", ORIGIN),
        ("main", OTHER_ORIGIN),
        ("", ""),
        ("a*b", "http://127.0.0.1"),
    ];
    let names: [(MessageKind, &str); 6] = [
        (MessageKind::Invoke, "greet"),
        (MessageKind::Invoke, "read_note"),
        (MessageKind::Invoke, "plugin:fs|read"),
        (MessageKind::Invoke, "delete_everything"),
        (MessageKind::Emit, "clicked"),
        (MessageKind::Emit, "greet"),
    ];
    for (window, origin) in senders {
        for (kind, name) in names {
            for a in args {
                out.push(Request {
                    window,
                    origin,
                    kind,
                    name,
                    args: a,
                });
            }
        }
    }
    out
}

fn fixed_args() -> Vec<Value> {
    vec![
        json!({}),
        json!({"name": "Ada"}),
        json!({"path": "/notes/todo.md"}),
        json!({"path": "/notes/../etc/passwd"}),
        json!({"path": "/notes/%2e%2e/etc/passwd", "mode": "r", "n": -1.5}),
        json!({"a": [1, {"b": null}], "s": "x".repeat(300)}),
        Value::Null,
        json!([1, 2, 3]),
    ]
}

/// Reads `text` as a policy file's JSON (the spanned tree, no policy
/// rules): whether it is JSON. For `benches/gate.rs`.
#[doc(hidden)]
pub fn parse_policy_json(text: &str) -> bool {
    crate::policy::json::parse(text).is_ok()
}

/// Differential: the policy reader (`policy::json::parse`) and the
/// serde_json oracle on `data` as policy text (when it is UTF-8). The
/// reader accepts exactly when serde_json does (a byte order mark refused,
/// nesting deeper than 128 refused), and then with the same value (the
/// first of duplicate keys kept, `-0` the integer 0: same
/// `serde_json::Value`, same JSON text) and as many duplicate keys. A text
/// nested exactly 128 deep is the reader's to accept; serde_json cannot
/// read it.
#[doc(hidden)]
pub fn policy_json_differential(data: &[u8]) {
    use oracle::PolicyJson;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ours = crate::policy::json::parse(text);
    let theirs = oracle::policy_json(text);
    match (&theirs, &ours) {
        (PolicyJson::Json(value, duplicates), Ok(doc)) => {
            let v = doc.root.to_value();
            assert_eq!(
                &v, value,
                "policy reader and serde_json disagree on the value"
            );
            assert_eq!(
                v.to_string(),
                value.to_string(),
                "policy reader and serde_json disagree on the value's text"
            );
            assert_eq!(
                doc.duplicates.len(),
                *duplicates,
                "policy reader and serde_json disagree on duplicate keys"
            );
        }
        _ => assert!(
            matches!(
                (&theirs, &ours),
                (PolicyJson::Refused, Err(_)) | (PolicyJson::TooDeepForSerde, _)
            ),
            "policy reader and serde_json disagree: reader {:?}, serde_json {theirs:?}",
            ours.as_ref()
                .map(|d| d.root.to_value())
                .map_err(|e| &e.message),
        ),
    }
}

/// Policy target: the bytes as policy text. First the reader against
/// serde_json ([`policy_json_differential`]); then, if it loads, a grid of fixed
/// requests is decided (twice: decisions are deterministic, and `explain`
/// agrees with `decide`). If the bytes hold a NUL, the two halves are also
/// loaded as two files, in both orders: composing is order-independent.
pub fn policy_load(data: &[u8]) {
    policy_json_differential(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let args = fixed_args();
    let requests = fixed_requests(&args);
    if let Ok(policy) = Policy::load(&[PolicySource {
        name: "fuzz.json",
        text,
    }]) {
        let _ = (policy.limits(), policy.rate());
        for req in &requests {
            let d = policy.decide(req);
            assert_eq!(policy.decide(req), d, "decisions are not deterministic");
            assert_eq!(policy.explain(req).allowed, d.allowed);
        }
    }
    if let Some((a, b)) = text.split_once('\0') {
        let ab = Policy::load(&[
            PolicySource {
                name: "a.json",
                text: a,
            },
            PolicySource {
                name: "b.json",
                text: b,
            },
        ]);
        let ba = Policy::load(&[
            PolicySource {
                name: "b.json",
                text: b,
            },
            PolicySource {
                name: "a.json",
                text: a,
            },
        ]);
        assert_eq!(ab.is_ok(), ba.is_ok(), "loading depends on file order");
        if let (Ok(ab), Ok(ba)) = (ab, ba) {
            for req in &requests {
                assert_eq!(
                    ab.decide(req).allowed,
                    ba.decide(req).allowed,
                    "decision depends on file order"
                );
            }
        }
    }
}

/// Reads operation bytes; past the end every read is zero.
struct Script<'a> {
    rest: &'a [u8],
}

impl Script<'_> {
    fn byte(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&b, rest)) => {
                self.rest = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// A choice among `n` (n > 0) options.
    fn pick(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.rest.len());
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        head.to_vec()
    }
}

/// What the script sealed, indexed by the call id (or event payload `n`).
struct Sealed {
    window: &'static str,
    kind: MessageKind,
    name: &'static str,
    args: Value,
    body_len: usize,
    allowed: bool,
    dispatched: usize,
}

const COMMANDS: [&str; 5] = [
    "greet",
    "read_note",
    "upload",
    "delete_everything",
    "plugin:fs|read",
];
const EVENTS: [&str; 2] = ["clicked", "other-event"];
/// Most operations one script runs; longer inputs are cut.
const MAX_OPS: usize = 256;
/// Most envelopes one script keeps for replays and mutations.
const MAX_HISTORY: usize = 64;

/// Gate target: the bytes are a script of operations against ONE gate with
/// a recording router: seal a valid message from a small menu, send an
/// envelope (as bytes or as text, from the right or a wrong sender), mutate
/// a previous envelope (bit flip, truncate, extend, splice), switch window,
/// render a new frame load, close a window. After every step it asserts that the router was
/// called only for messages the policy allows for the window that sealed
/// them, with exactly what was sealed, at most once per sealed envelope, and
/// that a reply comes back exactly when the router was called.
pub fn gate_sequence(data: &[u8]) {
    let _ = gate_sequence_counts(data);
}

/// [`gate_sequence`], returning how many commands reached the router and
/// how many events reached the listener (tests use it to check that the
/// target exercises dispatch at all).
pub fn gate_sequence_counts(data: &[u8]) -> (usize, usize) {
    let (Some(policy), Some(decider)) = (fixed_policy(), fixed_policy()) else {
        return (0, 0);
    };
    let router = Recorder::default();
    let delivered: Arc<Mutex<Vec<u64>>> = Arc::default();
    let sink = Arc::clone(&delivered);
    let gate = Gate::new(danger::key_from_bytes(KEY), policy, router.clone()).with_listener(
        "clicked",
        move |event| {
            let n = event.payload.get("n").and_then(Json::as_u64);
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(n.unwrap_or(u64::MAX));
        },
    );
    // One sealer per (window, load): a sealer never reuses a nonce.
    let mut sealers: Vec<(usize, Sealer)> = Vec::new();
    let mut current: [Option<usize>; 2] = [None, None];
    for (w, window) in WINDOWS.iter().enumerate() {
        let Ok(doc) = gate.render_frame(window, ORIGIN, None) else {
            return (0, 0);
        };
        if let Some(slot) = current.get_mut(w) {
            *slot = Some(sealers.len());
        }
        sealers.push((w, Sealer::new(KEY, window, ORIGIN, doc.load_id)));
    }
    let mut active = 0usize;
    let mut sealed: Vec<Sealed> = Vec::new();
    let mut history: Vec<Vec<u8>> = Vec::new();
    let mut script = Script { rest: data };

    for _ in 0..MAX_OPS {
        if script.rest.is_empty() {
            break;
        }
        match script.pick(9) {
            // Seal an invoke or an emit, with the active window's current
            // sealer or one of its older loads.
            0 | 1 => {
                let stale = script.byte() % 4 == 0;
                let choice = if stale {
                    let own: Vec<usize> = sealers
                        .iter()
                        .enumerate()
                        .filter(|(_, (w, _))| *w == active)
                        .map(|(i, _)| i)
                        .collect();
                    let pick = script.pick(own.len());
                    own.get(pick).copied()
                } else {
                    current.get(active).copied().flatten()
                };
                let Some((w, sealer)) = choice.and_then(|i| sealers.get_mut(i)) else {
                    continue;
                };
                let window = WINDOWS.get(*w).copied().unwrap_or("main");
                let n = sealed.len() as u64;
                let args = match script.pick(5) {
                    0 => json!({}),
                    1 => json!({"name": "Ada"}),
                    2 => json!({"path": "/notes/todo.md"}),
                    3 => json!({"path": "/notes/../etc/passwd"}),
                    _ => json!({"a": 1, "b": [true, null]}),
                };
                let (kind, name, envelope, body_len) = if script.byte() % 4 == 0 {
                    let name = EVENTS
                        .get(script.pick(EVENTS.len()))
                        .copied()
                        .unwrap_or("x");
                    let env = sealer.emit(name, json!({"n": n}));
                    (MessageKind::Emit, name, env, 0)
                } else {
                    let name = COMMANDS
                        .get(script.pick(COMMANDS.len()))
                        .copied()
                        .unwrap_or("x");
                    let len = usize::from(script_len(&mut script));
                    let body = script.bytes(len);
                    let json = json!({"kind": "invoke", "id": n, "cmd": name, "args": args});
                    let env = sealer.seal_json(&json.to_string(), &body);
                    (MessageKind::Invoke, name, env, body.len())
                };
                let args_for_decision = match kind {
                    MessageKind::Invoke => args,
                    MessageKind::Emit | MessageKind::Deliver => json!({"n": n}),
                };
                let allowed = decider
                    .decide(&Request {
                        window,
                        origin: ORIGIN,
                        kind,
                        name,
                        args: &args_for_decision,
                    })
                    .allowed;
                sealed.push(Sealed {
                    window,
                    kind,
                    name,
                    args: args_for_decision,
                    body_len,
                    allowed,
                    dispatched: 0,
                });
                remember(&mut history, envelope);
            }
            // Send a previous envelope (first time, replay or reordered).
            2 | 3 => {
                let Some(env) = history.get(script.pick(history.len())).cloned() else {
                    continue;
                };
                send(&gate, &router, &delivered, &mut sealed, &mut script, &env);
            }
            // Mutate a previous envelope and send the result.
            4 | 5 => {
                let Some(a) = history.get(script.pick(history.len())).cloned() else {
                    continue;
                };
                let mutated = match script.pick(4) {
                    0 => {
                        let mut m = a;
                        let pos = usize::from(script.u16()) % m.len().max(1);
                        let bit = script.byte() % 8;
                        if let Some(b) = m.get_mut(pos) {
                            *b ^= 1 << bit;
                        }
                        m
                    }
                    1 => {
                        let keep = usize::from(script.u16()) % a.len().max(1);
                        a.get(..keep).map(<[u8]>::to_vec).unwrap_or_default()
                    }
                    2 => {
                        let mut m = a;
                        let len = 1 + usize::from(script_len(&mut script));
                        let extra = script.bytes(len);
                        m.extend_from_slice(&extra);
                        if extra.is_empty() {
                            m.push(0);
                        }
                        m
                    }
                    _ => {
                        let b = history
                            .get(script.pick(history.len()))
                            .cloned()
                            .unwrap_or_default();
                        let cut_a = usize::from(script.u16()) % (a.len() + 1);
                        let cut_b = usize::from(script.u16()) % (b.len() + 1);
                        let mut m = a.get(..cut_a).map(<[u8]>::to_vec).unwrap_or_default();
                        m.extend_from_slice(b.get(cut_b..).unwrap_or_default());
                        m
                    }
                };
                send(
                    &gate,
                    &router,
                    &delivered,
                    &mut sealed,
                    &mut script,
                    &mutated,
                );
                remember(&mut history, mutated);
            }
            // Switch the active window.
            6 => active = (active + 1) % WINDOWS.len(),
            // Close the active window: the gate forgets its replay state.
            8 => gate.close_window(WINDOWS.get(active).copied().unwrap_or("main")),
            // Render a new frame load for the active window: its older loads
            // become stale.
            _ => {
                let window = WINDOWS.get(active).copied().unwrap_or("main");
                let Ok(doc) = gate.render_frame(window, ORIGIN, None) else {
                    continue;
                };
                if let Some(slot) = current.get_mut(active) {
                    *slot = Some(sealers.len());
                }
                sealers.push((active, Sealer::new(KEY, window, ORIGIN, doc.load_id)));
            }
        }
    }
    let count = |kind| {
        sealed
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.dispatched)
            .sum()
    };
    (count(MessageKind::Invoke), count(MessageKind::Emit))
}

/// A short length (0..=31) taken from the script.
fn script_len(script: &mut Script<'_>) -> u8 {
    script.byte() % 32
}

fn remember(history: &mut Vec<Vec<u8>>, envelope: Vec<u8>) {
    if history.len() >= MAX_HISTORY {
        history.remove(0);
    }
    history.push(envelope);
}

/// Sends one envelope from a sender the script picks, then checks every
/// router call and event delivery it caused against what was sealed.
fn send(
    gate: &Gate<Recorder>,
    router: &Recorder,
    delivered: &Mutex<Vec<u64>>,
    sealed: &mut [Sealed],
    script: &mut Script<'_>,
    envelope: &[u8],
) {
    let window = WINDOWS
        .get(script.pick(WINDOWS.len()))
        .copied()
        .unwrap_or("main");
    let origin = if script.byte() % 8 == 0 {
        OTHER_ORIGIN
    } else {
        ORIGIN
    };
    let sender = Sender { window, origin };
    let reply = if script.byte() % 4 == 0 {
        gate.handle(sender, &envelope::encode_base64(envelope))
    } else {
        gate.handle(sender, envelope)
    };
    let calls = router.take();
    let events = std::mem::take(&mut *delivered.lock().unwrap_or_else(|e| e.into_inner()));
    assert!(
        calls.len() + events.len() <= 1,
        "one envelope, two dispatches"
    );
    assert_eq!(reply.is_some(), !calls.is_empty());
    for call in &calls {
        let s = usize::try_from(call.id)
            .ok()
            .and_then(|i| sealed.get_mut(i));
        assert!(s.is_some(), "the router saw an id nobody sealed");
        let Some(s) = s else { return };
        assert!(s.allowed, "the router saw a message the policy denies");
        assert_eq!(s.kind, MessageKind::Invoke);
        assert_eq!(
            (call.cmd.as_str(), &call.args, call.body_len),
            (s.name, &s.args, s.body_len),
            "the router saw something other than what was sealed"
        );
        assert_eq!(
            (call.window.as_str(), call.origin.as_str()),
            (s.window, ORIGIN),
            "a message was dispatched for a window that did not seal it"
        );
        assert_eq!(call.window, sender.window);
        s.dispatched += 1;
        assert!(s.dispatched <= 1, "one sealed envelope dispatched twice");
    }
    for n in events {
        let s = usize::try_from(n).ok().and_then(|i| sealed.get_mut(i));
        assert!(s.is_some(), "a listener saw an event nobody sealed");
        let Some(s) = s else { return };
        assert!(s.allowed, "a listener saw an event the policy denies");
        assert_eq!((s.kind, s.window), (MessageKind::Emit, sender.window));
        s.dispatched += 1;
        assert!(s.dispatched <= 1, "one sealed event delivered twice");
    }
}

/// Well-formed seeds for each target: sealed valid messages, plaintexts,
/// policies and a gate script. `(target, name, bytes)`.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut main = Sealer::new(KEY, "main", ORIGIN, 1);
    let messages: [(&str, &[u8]); 5] = [
        (
            r#"{"kind":"invoke","id":1,"cmd":"greet","args":{"name":"Ada"}}"#,
            b"",
        ),
        (
            r#"{"kind":"invoke","id":2,"cmd":"upload","args":{}}"#,
            &[0, 1, 2, 255],
        ),
        (
            r#"{"kind":"invoke","id":3,"cmd":"read_note","args":{"path":"/notes/todo.md"}}"#,
            b"",
        ),
        (
            r#"{"kind":"emit","event":"clicked","payload":{"n":[1,2.5,null,"x"]}}"#,
            b"",
        ),
        (
            r#"{"kind":"invoke","id":4,"cmd":"delete_everything","args":{"all":true}}"#,
            b"",
        ),
    ];
    for (i, (json, body)) in messages.iter().enumerate() {
        let plain = danger::plaintext(json, body);
        let env = main.seal_plaintext(&plain);
        out.push(("envelope", format!("sealed-{i}"), env.clone()));
        out.push((
            "envelope",
            format!("sealed-{i}.b64"),
            envelope::encode_base64(&env).into_bytes(),
        ));
        out.push(("message", format!("message-{i}"), plain));
    }
    out.push(("policy", "fixed".into(), POLICY.as_bytes().to_vec()));
    let mut composed = POLICY.as_bytes().to_vec();
    composed.push(0);
    composed.extend_from_slice(
        br#"{"version":1,"rules":[{"id":"deny-greet","effect":"deny","commands":["greet"],"windows":["*"]}]}"#,
    );
    out.push(("policy", "composed".into(), composed));
    // A short script: seal, send, replay as text, flip a bit, switch
    // window, render a new load, seal, splice, send.
    out.push((
        "gate",
        "script-0".into(),
        vec![
            0, 1, 1, 1, 0, 0, 2, 0, 0, 1, 1, 2, 0, 0, 1, 0, 4, 0, 0, 0, 20, 3, 0, 1, 1, 6, 7, 0, 1,
            2, 1, 1, 0, 5, 0, 3, 1, 0, 30, 0, 40, 1, 1, 1, 3, 1, 1, 1, 1,
        ],
    ));
    out
}
