//! Property tests: no change to a sealed envelope gets past the gate, the
//! codecs round-trip, and the gate never panics whatever the bytes and the
//! sender strings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use isogate::danger::{self, Sealer};
use isogate::envelope::{self, SealNonce};
use isogate::message::{self, Json, Limits, Message};
use isogate::{AuditEvent, Call, DiscardReason, Gate, Outcome, Policy, PolicySource, Sender};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const KEY: [u8; 32] = [7; 32];
const ORIGIN: &str = "http://127.0.0.1:8917";
const MAIN: Sender<'static> = Sender {
    window: "main",
    origin: ORIGIN,
};
const POLICY: &str = r#"{"version": 1, "rules": [
  {"id": "any-args", "effect": "allow", "commands": ["greet", "upload", "read_note", "a.b:c|d/e-f_g"],
   "windows": ["main"], "args": {"type": "object", "additional": true}},
  {"id": "events", "effect": "allow", "events": ["clicked"], "windows": ["main"], "payload": {"type": "any"}}
]}"#;

type Log = Arc<Mutex<Vec<AuditEvent>>>;
/// A router as a boxed closure.
type BoxedRouter = Box<dyn Fn(Call<'_>) -> Result<Value, Value>>;
type TestGate = Gate<BoxedRouter>;

fn policy() -> Policy {
    Policy::load(&[PolicySource {
        name: "props.json",
        text: POLICY,
    }])
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A gate whose router counts its calls, with every audit event logged.
fn gate() -> (TestGate, Arc<AtomicUsize>, Log) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let router: BoxedRouter = Box::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(Value::Null)
    });
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    let gate = Gate::new(danger::key_from_bytes(KEY), policy(), router)
        .with_audit(move |e| sink.lock().unwrap().push(e.clone()));
    (gate, calls, log)
}

fn last_reason(log: &Log) -> Option<DiscardReason> {
    log.lock().unwrap().last().and_then(|e| e.reason)
}

/// A JSON value of bounded depth and size.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn args_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z_]{1,8}", json_value(), 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn command() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["greet", "upload", "read_note", "a.b:c|d/e-f_g"])
}

/// A valid allowed invoke, sealed: (envelope, the message's id).
fn sealed_invoke() -> impl Strategy<Value = Vec<u8>> {
    (
        command(),
        0..=message::MAX_CALL_ID,
        args_object(),
        prop::collection::vec(any::<u8>(), 0..64),
        0u64..1000,
    )
        .prop_map(|(cmd, id, args, body, seq)| {
            let json = json!({"kind": "invoke", "id": id, "cmd": cmd, "args": args});
            Sealer::new(KEY, "main", ORIGIN, 1)
                .seal_at(seq, &danger::plaintext(&json.to_string(), &body))
        })
}

/// Hands `bad` to a fresh gate and checks it is discarded, silently, with
/// the router uncalled; then shows the original still goes through once
/// (the forgery consumed no replay state).
fn assert_discarded(original: &[u8], bad: &[u8]) {
    let (gate, calls, log) = gate();
    assert!(
        gate.handle(MAIN, bad).is_none(),
        "a changed envelope was answered"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the router was called");
    let reason = last_reason(&log).expect("discards are audited");
    assert!(
        matches!(
            reason,
            DiscardReason::Malformed | DiscardReason::BadTag | DiscardReason::TooLarge
        ),
        "unexpected reason {reason}"
    );
    assert!(gate.handle(MAIN, original).is_some());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(gate.handle(MAIN, original).is_none(), "replay answered");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn flipping_any_bit_is_discarded(env in sealed_invoke(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut bad = env.clone();
        let i = pos.index(bad.len());
        bad[i] ^= 1 << bit;
        assert_discarded(&env, &bad);
    }

    #[test]
    fn truncating_is_discarded(env in sealed_invoke(), keep in any::<prop::sample::Index>()) {
        let bad = &env[..keep.index(env.len())];
        assert_discarded(&env, bad);
    }

    #[test]
    fn extending_is_discarded(env in sealed_invoke(), extra in prop::collection::vec(any::<u8>(), 1..64)) {
        let mut bad = env.clone();
        bad.extend_from_slice(&extra);
        assert_discarded(&env, &bad);
    }

    #[test]
    fn splicing_two_envelopes_is_discarded(
        a in sealed_invoke(),
        b in sealed_invoke(),
        cut_a in any::<prop::sample::Index>(),
        cut_b in any::<prop::sample::Index>(),
    ) {
        let mut spliced = a[..cut_a.index(a.len() + 1)].to_vec();
        spliced.extend_from_slice(&b[cut_b.index(b.len() + 1)..]);
        if spliced == a || spliced == b {
            // The identity: an untouched envelope goes through once.
            let (gate, calls, _) = gate();
            prop_assert!(gate.handle(MAIN, &spliced).is_some());
            prop_assert!(gate.handle(MAIN, &spliced).is_none());
            prop_assert_eq!(calls.load(Ordering::SeqCst), 1);
        } else {
            assert_discarded(&a, &spliced);
        }
    }

    #[test]
    fn header_encode_then_decode_round_trips(
        window in "[^\u{0}]{1,40}",
        origin in "[ -~]{1,200}",
        load_id in any::<u32>(),
        seq in any::<u64>(),
        sealed in prop::collection::vec(any::<u8>(), 16..64),
    ) {
        prop_assume!(window.len() <= envelope::MAX_WINDOW_LEN);
        let nonce = SealNonce { load_id, seq };
        let header = envelope::encode_header(&window, &origin, nonce).unwrap();
        let mut bytes = header.clone();
        bytes.extend_from_slice(&sealed);
        let env = envelope::decode(&bytes).unwrap();
        prop_assert_eq!(env.header, &header[..]);
        prop_assert_eq!((env.window, env.origin, env.nonce), (&window[..], &origin[..], nonce));
        prop_assert_eq!(env.sealed, &sealed[..]);
        let text = envelope::encode_base64(&bytes);
        prop_assert_eq!(envelope::decode_base64(text.as_bytes()).unwrap(), bytes);
    }

    #[test]
    fn envelope_decode_then_encode_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Some(env) = envelope::decode(&bytes) {
            let header = envelope::encode_header(env.window, env.origin, env.nonce).unwrap();
            let mut again = header;
            again.extend_from_slice(env.sealed);
            prop_assert_eq!(again, bytes);
        }
    }

    #[test]
    fn invoke_encode_then_decode_round_trips(
        cmd in command(),
        id in 0..=message::MAX_CALL_ID,
        args in args_object(),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let m = Message::Invoke { id, cmd: Cow::Borrowed(cmd), args: Json::from_value(&args), body: &body };
        let plain = message::encode(&m);
        let back = message::decode(&plain, &Limits::default()).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(message::encode(&back), plain);
    }

    #[test]
    fn emit_encode_then_decode_round_trips(event in "[A-Za-z0-9_.:|/-]{1,128}", payload in json_value()) {
        let m = Message::Emit { event: Cow::Owned(event), payload: Json::from_value(&payload) };
        let plain = message::encode(&m);
        let back = message::decode(&plain, &Limits::default()).unwrap();
        prop_assert_eq!(&back, &m);
    }

    #[test]
    fn message_decode_then_encode_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(m) = message::decode(&bytes, &Limits::default()) {
            let again = message::encode(&m);
            prop_assert_eq!(message::decode(&again, &Limits::default()).unwrap(), m);
        }
    }

    #[test]
    fn the_gate_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        window in "\\PC{0,200}",
        origin in any::<String>(),
    ) {
        let (gate, calls, log) = gate();
        let sender = Sender { window: &window, origin: &origin };
        prop_assert!(gate.handle(sender, &bytes).is_none());
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(gate.handle_text(sender, &text).is_none());
        prop_assert!(gate.handle_text(sender, &envelope::encode_base64(&bytes)).is_none());
        prop_assert_eq!(calls.load(Ordering::SeqCst), 0);
        prop_assert!(log.lock().unwrap().iter().all(|e| e.outcome == Outcome::Discarded));
    }

    #[test]
    fn the_gate_never_panics_on_authenticated_garbage(
        plaintext in prop::collection::vec(any::<u8>(), 0..400),
        window in "[^\u{0}]{1,20}",
        sender_window in "\\PC{0,20}",
        sender_origin in any::<String>(),
    ) {
        prop_assume!(window.len() <= envelope::MAX_WINDOW_LEN);
        let env = Sealer::new(KEY, &window, ORIGIN, 3).seal_plaintext(&plaintext);
        let (gate, calls, _) = gate();
        let sender = Sender { window: &sender_window, origin: &sender_origin };
        let _ = gate.handle(sender, &env);
        let _ = gate.handle(Sender { window: &window, origin: ORIGIN }, &env);
        // Random bytes are (almost) never a valid message; when they are,
        // the router runs at most once.
        prop_assert!(calls.load(Ordering::SeqCst) <= 1);
    }
}

#[test]
fn an_unchanged_envelope_is_the_only_one_accepted() {
    // The identity case of the properties above, spelled out.
    let env = Sealer::new(KEY, "main", ORIGIN, 1).invoke(1, "greet", json!({"name": "Ada"}));
    let (gate, calls, log) = gate();
    assert!(gate.handle(MAIN, &env).is_some());
    assert!(gate.handle(MAIN, &env).is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(last_reason(&log), Some(DiscardReason::Replay));
}

fn decode_kind(json: &str) -> Result<isogate::MessageKind, message::DecodeError> {
    message::decode(&danger::plaintext(json, b""), &Limits::default()).map(|m| m.kind())
}

#[test]
fn null_is_a_present_value_not_an_absent_field() {
    // Regression, found by `emit_encode_then_decode_round_trips`: serde read
    // `"payload": null` as a missing payload, so every event with a null
    // payload (the default when a rule has no `payload` constraint) was
    // discarded as `bad_message`, and `"id": null` and friends slipped into
    // messages of the other kind unnoticed (WIRE.md: fields are exactly these).
    assert_eq!(
        decode_kind(r#"{"kind":"emit","event":"e","payload":null}"#),
        Ok(isogate::MessageKind::Emit)
    );
    for bad in [
        r#"{"kind":"emit","event":"e","payload":1,"id":null}"#,
        r#"{"kind":"emit","event":"e","payload":1,"cmd":null}"#,
        r#"{"kind":"emit","event":"e","payload":1,"args":null}"#,
        r#"{"kind":"emit","event":null,"payload":1}"#,
        r#"{"kind":"invoke","id":1,"cmd":"c","args":{},"event":null}"#,
        r#"{"kind":"invoke","id":1,"cmd":"c","args":{},"payload":null}"#,
        r#"{"kind":"invoke","id":null,"cmd":"c","args":{}}"#,
        r#"{"kind":"invoke","id":1,"cmd":"c","args":null}"#,
    ] {
        assert_eq!(
            decode_kind(bad),
            Err(message::DecodeError::Invalid),
            "{bad}"
        );
    }
    // Through a gate: an event rule without `payload` takes a null payload.
    let policy = Policy::load(&[PolicySource {
        name: "events.json",
        text: r#"{"version":1,"rules":[{"id":"ping","effect":"allow","events":["ping"],"windows":["main"]}]}"#,
    }])
    .unwrap();
    let delivered = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&delivered);
    let gate = Gate::new(danger::key_from_bytes(KEY), policy, |_: Call<'_>| {
        Ok(Value::Null)
    })
    .with_listener("ping", move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    });
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    assert!(gate
        .handle(MAIN, &sealer.emit("ping", Value::Null))
        .is_none());
    assert_eq!(delivered.load(Ordering::SeqCst), 1);
    assert_eq!(gate.counters().discarded_total(), 0);
}

#[test]
fn numbers_reach_the_policy_and_router_exactly_as_sent() {
    // Regression, found by `invoke_encode_then_decode_round_trips`: serde_json's
    // default float parser may land one ulp off, so `decode(encode(m)) != m`
    // and a bound check saw a different number than the page sent. Fixed by
    // serde_json's `float_roundtrip` feature.
    for x in [
        228_627_539_484.033_54_f64,
        254_857_617_397.606_38,
        0.1,
        1e-300,
        9007199254740993.0,
    ] {
        let json = format!(
            r#"{{"kind":"emit","event":"e","payload":{}}}"#,
            Value::from(x)
        );
        let plain = danger::plaintext(&json, b"");
        let m = message::decode(&plain, &Limits::default()).unwrap();
        assert_eq!(m.args().as_f64(), Some(x), "{json}");
    }
}
