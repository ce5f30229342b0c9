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
use isogate::stages::envelope::{self, SealNonce};
use isogate::stages::message::{self, Json, Limits, Message};
use isogate::{Call, DiscardReason, Gate, Outcome, Policy, PolicySource, Sender};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

mod common;

use common::{Log, TestGate, KEY, MAIN, ORIGIN};

const POLICY: &str = r#"{"version": 1, "rules": [
  {"id": "any-args", "effect": "allow", "commands": ["greet", "upload", "read_note", "a.b:c|d/e-f_g"],
   "windows": ["main"], "args": {"type": "object", "additional": true}},
  {"id": "events", "effect": "allow", "events": ["clicked"], "windows": ["main"], "payload": {"type": "any"}}
]}"#;

/// A gate under [`POLICY`] whose router counts its calls, with every
/// audit event logged.
fn gate() -> (TestGate, Arc<AtomicUsize>, Log) {
    common::counting_gate(POLICY)
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
        let nonce = SealNonce { load_id, seq };
        // Only window labels (WIRE section 2) make a header.
        let Some(header) = envelope::encode_header(&window, &origin, nonce) else {
            prop_assert!(!isogate::is_window_label(&window));
            return Ok(());
        };
        prop_assert!(isogate::is_window_label(&window));
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
        let back = Message::decode(&plain, &Limits::default()).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(message::encode(&back), plain);
    }

    #[test]
    fn emit_encode_then_decode_round_trips(event in "[A-Za-z0-9_.:|/-]{1,128}", payload in json_value()) {
        let m = Message::Emit { event: Cow::Owned(event), payload: Json::from_value(&payload) };
        let plain = message::encode(&m);
        let back = Message::decode(&plain, &Limits::default()).unwrap();
        prop_assert_eq!(&back, &m);
    }

    #[test]
    fn message_decode_then_encode_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(m) = Message::decode(&bytes, &Limits::default()) {
            let again = message::encode(&m);
            prop_assert_eq!(Message::decode(&again, &Limits::default()).unwrap(), m);
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
        prop_assert!(gate.handle(sender, &*text).is_none());
        prop_assert!(gate.handle(sender, &envelope::encode_base64(&bytes)).is_none());
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
    Message::decode(&danger::plaintext(json, b""), &Limits::default()).map(|m| m.kind())
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
        .handle(MAIN, sealer.emit("ping", Value::Null))
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
        let m = Message::decode(&plain, &Limits::default()).unwrap();
        assert_eq!(m.args().as_f64(), Some(x), "{json}");
    }
}

// The new message decoder against the one it replaced
// (`isogate::fuzzing::message_differential`) on JSON-like text built from
// tokens: valid messages and near misses. Each generator comes clean (JSON
// that parses, though the message may still be invalid: a missing field, a
// name too long, an id too large) or noisy (malformed tokens too); the
// finished text is then sometimes cut or has a byte changed.

type Bytes = BoxedStrategy<Vec<u8>>;

/// Bytes of a string.
fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// One of `options`, as bytes.
fn one_of(options: &[&'static str]) -> Bytes {
    prop::sample::select(options.to_vec()).prop_map(b).boxed()
}

/// `len` bytes from `alphabet`, from a seed (fast to generate; these runs
/// need no shrinking).
fn run_of(alphabet: &'static [u8], len: std::ops::Range<usize>) -> Bytes {
    (any::<u64>(), len)
        .prop_map(move |(mut x, n)| {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % alphabet.len() as u64) as usize]
                })
                .collect()
        })
        .boxed()
}

/// Whitespace: JSON's; noisy also vertical tab, form feed, no-break space
/// and NUL.
fn ws(noisy: bool) -> Bytes {
    let clean = prop_oneof![8 => Just(vec![]), 3 => one_of(&[" ", "\n", "\t", "\r", " \n\t\r "])];
    if noisy {
        prop_oneof![10 => clean, 1 => one_of(&["\x0b", "\x0c", "\u{a0}", "\0", "\u{feff}"])].boxed()
    } else {
        clean.boxed()
    }
}

/// A piece of a string body: plain text, escapes (`\uXXXX` of any BMP
/// character, surrogate pairs), UTF-8; noisy also lone and half surrogate
/// pairs, bad escapes, raw control bytes and invalid UTF-8.
fn string_piece(noisy: bool) -> Bytes {
    const PLAIN: &[u8] = b"abcXYZ019 _.:|/-[]{},";
    let clean = prop_oneof![
        8 => run_of(PLAIN, 0..7),
        3 => one_of(&[
            "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\ud83d\\ude00",
            "\\uDBFF\\uDFFF", "\\uD800\\uDC00", "\\u00e9", "\\u0000", "\\u006b", "\\u001F", "é",
            "😀", "\u{7f}", "\u{fffd}", "\u{2028}",
        ]),
        1 => prop_oneof![0u32..0xd800, 0xe000u32..=0xffff]
            .prop_map(|u| format!("\\u{u:04x}").into_bytes()),
    ];
    if noisy {
        prop_oneof![
            12 => clean,
            2 => one_of(&[
                "\\ud800", "\\udc00", "\\ud800\\u0041", "\\ud800\\ud800", "\\ud800x",
                "\\ud800\\n", "\\x", "\\u12", "\\uZZZZ", "\\'", "\\U0041", "\\", "\\u00G0",
            ]),
            1 => (0xd800u32..=0xdfff).prop_map(|u| format!("\\u{u:04X}").into_bytes()),
            1 => (0u8..0x20).prop_map(|c| vec![c]),
            1 => prop::sample::select(vec![
                &b"\x80"[..], b"\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80",
                b"\xf4\x90\x80\x80", b"\xe2\x82", b"\xf0\x9f\x98", b"\xfe",
            ])
            .prop_map(<[u8]>::to_vec),
        ]
        .boxed()
    } else {
        clean.boxed()
    }
}

/// A string literal; noisy ones are rarely unterminated.
fn string_lit(noisy: bool) -> Bytes {
    let closed = if noisy { 0.95 } else { 1.0 };
    (
        prop::collection::vec(string_piece(noisy), 0..4),
        prop::bool::weighted(closed),
    )
        .prop_map(|(pieces, closed)| {
            let mut out = b("\"");
            pieces.iter().for_each(|p| out.extend_from_slice(p));
            if closed {
                out.push(b'"');
            }
            out
        })
        .boxed()
}

/// A number: `-`, integers at the u64/i64/2^53 edges and past them, long
/// digit runs, fractions, exponents up to and past i32's range (`1e400` is
/// out of range, `1e-400` is 0); noisy also `+1`, `01`, `1.`, `1e`, `.5`.
fn number_lit(noisy: bool) -> Bytes {
    const DIGITS: &[u8] = b"0123456789";
    let sign = one_of(&["", "", "", "-"]);
    let int = prop_oneof![
        2 => Just(b("0")),
        4 => (1u32..10, run_of(DIGITS, 0..4)).prop_map(|(d, rest)| [b(&d.to_string()), rest].concat()),
        1 => (1u32..10, run_of(DIGITS, 15..26)).prop_map(|(d, rest)| [b(&d.to_string()), rest].concat()),
        1 => (1u32..10, run_of(DIGITS, 300..800)).prop_map(|(d, rest)| [b(&d.to_string()), rest].concat()),
        2 => one_of(&[
            "9007199254740991", "9007199254740992", "9223372036854775807",
            "9223372036854775808", "9223372036854775809", "18446744073709551615",
            "18446744073709551616", "123456789012345678901234567890",
        ]),
    ];
    let frac = prop_oneof![
        5 => Just(vec![]),
        3 => run_of(DIGITS, 1..7).prop_map(|d| [b("."), d].concat()),
        1 => run_of(DIGITS, 15..31).prop_map(|d| [b("."), d].concat()),
        1 => (0usize..40).prop_map(|z| format!(".{}1", "0".repeat(z)).into_bytes()),
    ];
    let exp = prop_oneof![
        12 => Just(vec![]),
        4 => (one_of(&["e", "E", "e+", "e-", "E-"]), run_of(DIGITS, 1..4)).prop_map(|(e, d)| [e, d].concat()),
        1 => one_of(&[
            "e308", "e309", "e-308", "e-324", "e-325", "E+400", "e-400", "e2147483647",
            "e2147483648", "e-2147483648", "e-2147483649", "e99999999999", "e-99999999999",
            "e0", "e-0",
        ]),
    ];
    let clean = (sign, int, frac, exp).prop_map(|(s, i, f, e)| [s, i, f, e].concat());
    if noisy {
        prop_oneof![
            8 => clean,
            1 => (
                one_of(&["", "-", "+", "--"]),
                one_of(&["", "00", "01", "0x1", ".5", "1."]),
                one_of(&["", "e", "e+", "E-", ".e1", "."]),
            )
                .prop_map(|(s, i, e)| [s, i, e].concat()),
        ]
        .boxed()
    } else {
        clean.boxed()
    }
}

/// `true`, `false`, `null`; noisy also near misses.
fn literal(noisy: bool) -> Bytes {
    let clean = one_of(&["true", "false", "null"]);
    if noisy {
        prop_oneof![6 => clean, 1 => one_of(&["tru", "nul", "NaN", "Infinity", "True", "nulll", "-"])].boxed()
    } else {
        clean
    }
}

/// An object key: sometimes one of a few (so keys repeat, `a` also
/// escaped), mostly a short word, or any string.
fn key_lit(noisy: bool) -> Bytes {
    prop_oneof![
        2 => one_of(&["\"a\"", "\"b\"", "\"name\"", "\"\"", "\"\\u0061\"", "\"kind\"", "\"n\""]),
        6 => run_of(b"abcdefghijklmnopqrstuvwxyz", 1..9).prop_map(|k| [b("\""), k, b("\"")].concat()),
        1 => string_lit(noisy),
    ]
    .boxed()
}

/// Joins entries as a container: `open`, entries with whitespace around,
/// commas between (and after the last when `trailing`), `close`.
fn container(
    open: u8,
    close: u8,
    entries: &[Vec<u8>],
    gaps: &[Vec<u8>],
    trailing: bool,
) -> Vec<u8> {
    let gap = |i: usize| gaps.get(i % gaps.len().max(1)).cloned().unwrap_or_default();
    let mut out = vec![open];
    out.extend(gap(0));
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
            out.extend(gap(i));
        }
        out.extend_from_slice(e);
        out.extend(gap(i + 1));
    }
    if trailing {
        out.push(b',');
    }
    out.push(close);
    out
}

/// `key: value`, or without the colon.
fn entry(key: &[u8], value: &[u8], gap: &[u8], colon: bool) -> Vec<u8> {
    let mut out = key.to_vec();
    out.extend_from_slice(gap);
    if colon {
        out.push(b':');
    }
    out.extend_from_slice(gap);
    out.extend_from_slice(value);
    out
}

/// The chance of a trailing comma or a missing colon.
fn slip(noisy: bool) -> f64 {
    if noisy {
        0.03
    } else {
        0.0
    }
}

/// An object whose values come from `value`.
fn object_of(value: Bytes, noisy: bool) -> Bytes {
    (
        prop::collection::vec(
            (
                key_lit(noisy),
                value,
                ws(noisy),
                prop::bool::weighted(1.0 - slip(noisy)),
            ),
            0..6,
        ),
        prop::collection::vec(ws(noisy), 1..4),
        prop::bool::weighted(slip(noisy)),
    )
        .prop_map(|(entries, gaps, trailing)| {
            let entries: Vec<Vec<u8>> = entries
                .iter()
                .map(|(k, v, g, colon)| entry(k, v, g, *colon))
                .collect();
            container(b'{', b'}', &entries, &gaps, trailing)
        })
        .boxed()
}

/// Any JSON-like value, nested a few levels.
fn json_like(noisy: bool) -> Bytes {
    let leaf = prop_oneof![3 => string_lit(noisy), 3 => number_lit(noisy), 2 => literal(noisy)];
    leaf.prop_recursive(3, 16, 5, move |inner| {
        let array = (
            prop::collection::vec(inner.clone(), 0..7),
            prop::collection::vec(ws(noisy), 1..4),
            prop::bool::weighted(slip(noisy)),
        )
            .prop_map(|(items, gaps, trailing)| container(b'[', b']', &items, &gaps, trailing));
        prop_oneof![array, object_of(inner.boxed(), noisy)]
    })
    .boxed()
}

/// A command or event name: valid mostly, else 128 or 129 long, empty, with
/// a character outside the alphabet or escaped; noisy also any value.
fn name_lit(noisy: bool) -> Bytes {
    const NAME: &[u8] = b"abcXYZ019_.:|/-";
    let quoted = |v: Vec<u8>| [b("\""), v, b("\"")].concat();
    let clean = prop_oneof![
        10 => run_of(NAME, 1..13).prop_map(quoted),
        1 => run_of(NAME, 128..130).prop_map(quoted),
        1 => one_of(&["\"\"", "\"a b\"", "\"\\u0067reet\"", "\"é\"", "\"greet\\n\""]),
    ];
    if noisy {
        prop_oneof![6 => clean, 1 => json_like(true)].boxed()
    } else {
        clean.boxed()
    }
}

/// A call id: small, at or past `MAX_CALL_ID`, not an integer; noisy also
/// any number or value.
fn id_lit(noisy: bool) -> Bytes {
    let clean = prop_oneof![
        10 => (0u64..1000).prop_map(|n| n.to_string().into_bytes()),
        1 => one_of(&["9007199254740991", "9007199254740992", "-0", "1.0", "1e2", "-1", "null", "\"1\""]),
    ];
    if noisy {
        prop_oneof![4 => clean, 1 => number_lit(true), 1 => json_like(true)].boxed()
    } else {
        clean.boxed()
    }
}

/// Any one message field, an unknown one, or a field name escaped.
fn field(noisy: bool) -> BoxedStrategy<(Vec<u8>, Vec<u8>)> {
    prop_oneof![
        (
            Just(b("\"kind\"")),
            one_of(&["\"invoke\"", "\"emit\"", "\"other\"", "null", "\"Invoke\""])
        ),
        (Just(b("\"id\"")), id_lit(noisy)),
        (Just(b("\"cmd\"")), name_lit(noisy)),
        (Just(b("\"args\"")), object_of(json_like(noisy), noisy)),
        (Just(b("\"event\"")), name_lit(noisy)),
        (Just(b("\"payload\"")), json_like(noisy)),
        (
            one_of(&[
                "\"\\u006bind\"",
                "\"extra\"",
                "\"ID\"",
                "\"args \"",
                "\"p\\u0061yload\""
            ]),
            json_like(noisy)
        ),
    ]
    .boxed()
}

/// A message object: an invoke's or an emit's fields in any order,
/// sometimes one dropped or more added (unknown, repeated, of the other
/// kind).
fn message_like(noisy: bool) -> Bytes {
    let invoke = (
        id_lit(noisy),
        name_lit(noisy),
        object_of(json_like(noisy), noisy),
    )
        .prop_map(|(id, cmd, args)| {
            vec![
                (b("\"kind\""), b("\"invoke\"")),
                (b("\"id\""), id),
                (b("\"cmd\""), cmd),
                (b("\"args\""), args),
            ]
        });
    let emit = (name_lit(noisy), json_like(noisy)).prop_map(|(event, payload)| {
        vec![
            (b("\"kind\""), b("\"emit\"")),
            (b("\"event\""), event),
            (b("\"payload\""), payload),
        ]
    });
    (
        prop_oneof![invoke, emit],
        prop_oneof![10 => Just(vec![]), 1 => prop::collection::vec(field(noisy), 1..3)],
        prop_oneof![10 => Just(None), 1 => (0usize..4).prop_map(Some)],
    )
        .prop_flat_map(move |(mut fields, extra, drop)| {
            if let Some(i) = drop.filter(|&i| i < fields.len()) {
                fields.remove(i);
            }
            fields.extend(extra);
            (
                Just(fields).prop_shuffle(),
                prop::collection::vec(ws(noisy), 1..4),
                prop::collection::vec(ws(noisy), 1..4),
                prop::bool::weighted(slip(noisy)),
            )
        })
        .prop_map(|(fields, gaps, colon_gaps, trailing)| {
            let entries: Vec<Vec<u8>> = fields
                .iter()
                .enumerate()
                .map(|(i, (k, v))| entry(k, v, &colon_gaps[i % colon_gaps.len()], true))
                .collect();
            container(b'{', b'}', &entries, &gaps, trailing)
        })
        .boxed()
}

/// A message in exactly the layout the isolation frame writes (its field
/// order, no whitespace between fields), which the decoder reads by a
/// shorter path; values still noisy, so that path also meets bad ones.
fn frame_message() -> Bytes {
    let invoke = (
        id_lit(true),
        name_lit(true),
        object_of(json_like(true), true),
    )
        .prop_map(|(id, cmd, args)| {
            [
                b(r#"{"kind":"invoke","id":"#),
                id,
                b(r#","cmd":"#),
                cmd,
                b(r#","args":"#),
                args,
                b("}"),
            ]
            .concat()
        });
    let emit = (name_lit(true), json_like(true)).prop_map(|(event, payload)| {
        [
            b(r#"{"kind":"emit","event":"#),
            event,
            b(r#","payload":"#),
            payload,
            b("}"),
        ]
        .concat()
    });
    prop_oneof![3 => invoke, 1 => emit].boxed()
}

/// An event whose payload nests 124 to 129 containers (arrays and objects)
/// around a value: with the message object, around serde_json's recursion
/// limit and `MAX_DEPTH_CAP` (both 128).
fn deep_message() -> Bytes {
    (124usize..=129, any::<u128>(), json_like(false))
        .prop_map(|(n, bits, inner)| {
            let mut out = b(r#"{"kind":"emit","event":"e","payload":"#);
            let object = |i: usize| (bits >> (i % 128)) & 1 == 1;
            for i in 0..n {
                out.extend_from_slice(if object(i) { b"{\"k\":" } else { b"[" });
            }
            out.extend(inner);
            for i in (0..n).rev() {
                out.push(if object(i) { b'}' } else { b']' });
            }
            out.push(b'}');
            out
        })
        .boxed()
}

/// The message JSON as an array of an invoke's fields, which only the old
/// decoder read as a message.
fn array_message() -> Bytes {
    (
        id_lit(false),
        name_lit(false),
        object_of(json_like(false), false),
    )
        .prop_map(|(id, cmd, args)| {
            container(b'[', b']', &[b("\"invoke\""), id, cmd, args], &[], false)
        })
        .boxed()
}

/// A change to the finished text: none, cut, a byte changed, inserted or
/// removed.
#[derive(Debug, Clone)]
enum Edit {
    None,
    Cut(prop::sample::Index),
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Remove(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![
        prop::sample::select(b"{}[],:\"\\ 0-.eE\x00\x80\xff".to_vec()),
        any::<u8>()
    ];
    prop_oneof![
        16 => Just(Edit::None),
        2 => any::<prop::sample::Index>().prop_map(Edit::Cut),
        1 => (any::<prop::sample::Index>(), byte.clone()).prop_map(|(i, v)| Edit::Set(i, v)),
        1 => (any::<prop::sample::Index>(), byte).prop_map(|(i, v)| Edit::Insert(i, v)),
        1 => any::<prop::sample::Index>().prop_map(Edit::Remove),
    ]
}

fn apply(edit: &Edit, text: &mut Vec<u8>) {
    if text.is_empty() {
        return;
    }
    match edit {
        Edit::None => {}
        Edit::Cut(i) => text.truncate(i.index(text.len())),
        Edit::Set(i, v) => {
            let i = i.index(text.len());
            text[i] = *v;
        }
        Edit::Insert(i, v) => text.insert(i.index(text.len() + 1), *v),
        Edit::Remove(i) => {
            text.remove(i.index(text.len()));
        }
    }
}

/// A plaintext around JSON-like text: `u32 json_len || json || body`, the
/// length mostly right (through `danger::plaintext` when the text is
/// UTF-8), sometimes a little off; the body mostly empty.
fn differential_plaintext() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            10 => message_like(false),
            3 => message_like(true),
            6 => frame_message(),
            2 => json_like(true),
            1 => deep_message(),
            1 => array_message(),
        ],
        ws(true),
        ws(true),
        edit(),
        prop_oneof![8 => Just(vec![]), 1 => prop::collection::vec(any::<u8>(), 1..6)],
        prop_oneof![16 => Just(0i64), 1 => -3i64..=3],
    )
        .prop_map(|(json, before, after, edit, body, skew)| {
            let mut text = [before, json, after].concat();
            apply(&edit, &mut text);
            match (std::str::from_utf8(&text), skew) {
                (Ok(json), 0) => danger::plaintext(json, &body),
                _ => {
                    let len = u32::try_from((text.len() as i64 + skew).max(0)).unwrap();
                    [len.to_be_bytes().to_vec(), text, body].concat()
                }
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_message_decoder_agrees_with_the_serde_json_oracle(plain in differential_plaintext()) {
        isogate::fuzzing::message_differential(&plain);
    }
}
