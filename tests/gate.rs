//! The gate through the public API only: dispatch, events, audit, policy
//! reload, routers, and discards that never reach the router.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use isogate::danger::Sealer;
use isogate::{
    AuditEvent, Call, DiscardReason, Gate, Handler, Outcome, Policy, PolicySource, Sender,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

mod common;

use common::{counting_router, key, policy, KEY, MAIN, ORIGIN};

const ALLOW_GREET: &str = r#"{"version":1,"rules":[
    {"id":"greet","effect":"allow","commands":["greet"],"windows":["main"],"args":{"type":"object","additional":true}},
    {"id":"ping","effect":"allow","events":["ping"],"windows":["main"],"payload":{"type":"any"}}]}"#;

fn allow_greet() -> Policy {
    policy(ALLOW_GREET)
}

fn counting_gate() -> (common::TestGate, Arc<AtomicUsize>, common::Log) {
    common::counting_gate(ALLOW_GREET)
}

#[test]
fn allowed_call_returns_the_routers_reply() {
    let (gate, calls, log) = counting_gate();
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    let reply = gate
        .handle(MAIN, sealer.invoke(41, "greet", json!({"name": "Ada"})))
        .unwrap();
    assert_eq!(reply.id, 41);
    assert_eq!(
        reply.result,
        Ok(json!({"cmd": "greet", "args": {"name": "Ada"}, "window": "main"}))
    );
    let json: Value = serde_json::from_str(&reply.to_json()).unwrap();
    assert_eq!(json["ok"], json!(true));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let ev = &log.lock().unwrap()[0];
    assert_eq!(
        (ev.outcome, ev.name.as_deref(), ev.rule.as_deref()),
        (Outcome::Dispatched, Some("greet"), Some("greet"))
    );
    assert!(
        ev.args.is_none(),
        "arguments are not audited unless the host opts in"
    );
}

#[test]
fn router_errors_reach_the_caller_as_the_app_wrote_them() {
    let gate = Gate::new(key(), allow_greet(), |_: Call<'_>| Err(json!({"code": 7})));
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    let reply = gate
        .handle(MAIN, sealer.invoke(1, "greet", json!({})))
        .unwrap();
    assert_eq!(reply.to_json(), r#"{"error":{"code":7},"id":1,"ok":false}"#);
}

#[test]
fn every_discard_is_silent_audited_and_never_calls_the_router() {
    let (gate, calls, log) = counting_gate();
    let mut main = Sealer::new(KEY, "main", ORIGIN, 1);
    let mut settings = Sealer::new(KEY, "settings", ORIGIN, 2);
    let mut other_key = Sealer::new([1; 32], "main", ORIGIN, 1);
    let good = main.invoke(1, "greet", json!({}));
    let mut tampered = main.invoke(2, "greet", json!({}));
    *tampered.last_mut().unwrap() ^= 1;
    let cases: Vec<(Vec<u8>, Sender<'_>, DiscardReason)> = vec![
        (Vec::new(), MAIN, DiscardReason::Malformed),
        (
            br#"{"kind":"invoke","id":1,"cmd":"greet","args":{}}"#.to_vec(),
            MAIN,
            DiscardReason::Malformed,
        ),
        (tampered, MAIN, DiscardReason::BadTag),
        (
            other_key.invoke(3, "greet", json!({})),
            MAIN,
            DiscardReason::BadTag,
        ),
        (
            settings.invoke(4, "greet", json!({})),
            MAIN,
            DiscardReason::WrongWindow,
        ),
        (
            good.clone(),
            Sender {
                window: "main",
                origin: "http://evil.test",
            },
            DiscardReason::WrongOrigin,
        ),
        (
            main.invoke(5, "delete_everything", json!({})),
            MAIN,
            DiscardReason::Denied,
        ),
        (
            main.seal_json(r#"{"kind":"invoke","id":6,"cmd":"greet"}"#, b""),
            MAIN,
            DiscardReason::BadMessage,
        ),
    ];
    for (bytes, sender, reason) in cases {
        assert!(gate.handle(sender, &bytes).is_none(), "{reason}");
        let ev = log.lock().unwrap().pop().unwrap();
        assert_eq!((ev.outcome, ev.reason), (Outcome::Discarded, Some(reason)));
        assert_eq!(ev.window, sender.window);
    }
    // The envelope replayed after its first (accepted) use.
    assert!(gate.handle(MAIN, &good).is_some());
    assert!(gate.handle(MAIN, &good).is_none());
    assert_eq!(
        log.lock().unwrap().pop().unwrap().reason,
        Some(DiscardReason::Replay)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn denied_events_carry_the_authenticated_name_but_no_arguments() {
    let (gate, _, log) = counting_gate();
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    gate.handle(MAIN, sealer.invoke(1, "rm", json!({"secret": "hunter2"})));
    let ev = log.lock().unwrap().pop().unwrap();
    assert_eq!((ev.name.as_deref(), ev.rule.as_deref()), (Some("rm"), None));
    assert!(!ev.to_json().contains("hunter2"));
}

#[test]
fn audit_arguments_only_when_the_host_opts_in() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let gate = Gate::new(key(), allow_greet(), |_: Call<'_>| Ok(Value::Null))
        .with_audit_arguments(true)
        .with_audit(move |e: &AuditEvent| sink.lock().unwrap().push(e.clone()));
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    gate.handle(MAIN, sealer.invoke(1, "greet", json!({"name": "Ada"})));
    assert_eq!(log.lock().unwrap()[0].args, Some(json!({"name": "Ada"})));
}

#[test]
fn events_reach_listeners_without_a_reply() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&seen);
    let gate = Gate::new(key(), allow_greet(), |_: Call<'_>| Ok(Value::Null))
        .with_listener("ping", move |e| {
            store
                .lock()
                .unwrap()
                .push((e.name.to_owned(), e.payload.to_value()))
        })
        .with_listener("other", |_| panic!("wrong listener"));
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    assert!(gate
        .handle(MAIN, sealer.emit("ping", json!([1, 2])))
        .is_none());
    assert!(
        gate.handle(MAIN, sealer.emit("pong", json!(null)))
            .is_none(),
        "not allowed"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec![("ping".to_owned(), json!([1, 2]))]
    );
}

#[test]
fn rendering_a_frame_retires_the_windows_older_loads() {
    let (gate, calls, log) = counting_gate();
    let first = gate.render_frame("main", ORIGIN, None).unwrap();
    let second = gate.render_frame("main", ORIGIN, None).unwrap();
    assert!(second.load_id > first.load_id);
    assert!(first.html.contains(&format!(r#""load":{}"#, first.load_id)));
    let mut old = Sealer::new(KEY, "main", ORIGIN, first.load_id);
    let mut new = Sealer::new(KEY, "main", ORIGIN, second.load_id);
    assert!(gate
        .handle(MAIN, old.invoke(1, "greet", json!({})))
        .is_none());
    assert_eq!(
        log.lock().unwrap().pop().unwrap().reason,
        Some(DiscardReason::StaleLoad)
    );
    assert!(gate
        .handle(MAIN, new.invoke(1, "greet", json!({})))
        .is_some());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(gate.render_frame("main", "http://a/b", None).is_err());
}

#[test]
fn text_transport_is_base64url() {
    let (gate, calls, _) = counting_gate();
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    let text = isogate::danger::encode_base64(&sealer.invoke(1, "greet", json!({})));
    assert!(!text.contains('=') && !text.contains('+') && !text.contains('/'));
    assert!(gate.handle(MAIN, &text).is_some());
    assert!(gate.handle(MAIN, "!!not base64!!").is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn table_router_and_get_ref_into_inner() {
    let mut table: HashMap<String, Handler> = HashMap::new();
    table.insert(
        "greet".into(),
        Box::new(|c: Call<'_>| Ok(json!(c.args.len()))),
    );
    let gate = Gate::new(key(), allow_greet(), table);
    assert_eq!(gate.get_ref().len(), 1);
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    assert_eq!(
        gate.handle(MAIN, sealer.invoke(1, "greet", json!({"a": 1})))
            .unwrap()
            .result,
        Ok(json!(1))
    );
    let table = gate.into_inner();
    assert!(table.contains_key("greet"));
}

#[test]
fn reload_swaps_atomically_and_refuses_invalid_sets() {
    let (gate, _, _) = counting_gate();
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    assert!(gate
        .reload_policy(&[PolicySource {
            name: "bad.json",
            text: "{"
        }])
        .is_err());
    assert!(
        gate.handle(MAIN, sealer.invoke(1, "greet", json!({})))
            .is_some(),
        "old policy stays"
    );
    let deny_all = r#"{"version":1,"rules":[]}"#;
    gate.reload_policy(&[PolicySource {
        name: "none.json",
        text: deny_all,
    }])
    .unwrap();
    assert!(gate
        .handle(MAIN, sealer.invoke(2, "greet", json!({})))
        .is_none());
}

#[test]
fn counters_count_by_outcome_and_reason() {
    let (gate, _, _) = counting_gate();
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    let good = sealer.invoke(1, "greet", json!({}));
    gate.handle(MAIN, &good);
    gate.handle(MAIN, &good);
    gate.handle(MAIN, b"junk");
    let c = gate.counters();
    assert_eq!((c.dispatched, c.delivered), (1, 0));
    assert_eq!(
        (
            c.discarded(DiscardReason::Replay),
            c.discarded(DiscardReason::Malformed)
        ),
        (1, 1)
    );
    assert_eq!(c.discarded_total(), 2);
}

#[test]
fn audit_events_are_capped_and_the_gap_is_reported() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let gate = Gate::new(key(), allow_greet(), |_: Call<'_>| Ok(Value::Null))
        .with_audit_rate(1, 5)
        .with_audit(move |e: &AuditEvent| sink.lock().unwrap().push(e.clone()));
    for _ in 0..1000 {
        gate.handle(MAIN, b"flood");
    }
    assert_eq!(
        log.lock().unwrap().len(),
        5,
        "burst of 5, then nothing within the same second"
    );
    assert_eq!(gate.counters().audit_suppressed, 995);
    assert_eq!(
        gate.counters().discarded(DiscardReason::Malformed),
        1000,
        "counters see everything"
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    gate.handle(MAIN, b"later");
    let last = log.lock().unwrap().pop().unwrap();
    assert_eq!(last.suppressed, 995);
    assert!(last.to_json().contains(r#""suppressed":995"#));
}

#[test]
fn json_lines_sink_writes_one_line_per_event() {
    let path = std::env::temp_dir().join(format!("isogate-audit-{}.jsonl", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let gate = Gate::new(key(), allow_greet(), |_: Call<'_>| Ok(Value::Null))
        .with_audit(isogate::json_lines_sink(file));
    gate.handle(MAIN, b"a");
    gate.handle(MAIN, b"b");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for key in [
        "ts_ms", "outcome", "reason", "window", "origin", "kind", "name", "load_id", "seq", "rule",
        "detail",
    ] {
        assert!(lines[0].get(key).is_some(), "audit schema lacks `{key}`");
    }
}

#[cfg(debug_assertions)]
#[test]
fn debug_builds_echo_reasons_only_when_the_host_opts_in() {
    let plain = Gate::new(key(), allow_greet(), |_: Call<'_>| Ok(Value::Null));
    assert_eq!(plain.handle_verbose(MAIN, b"junk").debug_reason, None);
    let verbose =
        Gate::new(key(), allow_greet(), |_: Call<'_>| Ok(Value::Null)).with_debug_reasons();
    let reason = verbose.handle_verbose(MAIN, b"junk").debug_reason.unwrap();
    assert_eq!(reason, "isogate discarded the message: malformed");
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    let denied = verbose.handle_verbose(MAIN, sealer.invoke(1, "rm", json!({})));
    assert!(denied
        .debug_reason
        .unwrap()
        .starts_with("isogate discarded the message: denied: "));
}

#[cfg(not(debug_assertions))]
#[test]
fn release_builds_never_return_reasons() {
    // `with_debug_reasons` and `with_learning` do not exist in release builds;
    // whatever arrives, the verbose handler has no reason to give.
    let gate = Gate::new(key(), allow_greet(), |_: Call<'_>| Ok(Value::Null));
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    for bytes in [b"junk".to_vec(), sealer.invoke(1, "rm", json!({}))] {
        assert_eq!(gate.handle_verbose(MAIN, &bytes).debug_reason, None);
    }
}

#[cfg(debug_assertions)]
#[test]
fn learning_mode_records_opened_messages_and_still_enforces() {
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let out = Shared::default();
    let (gate, calls, _) = counting_gate();
    let gate = gate.with_learning(out.clone());
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    gate.handle(MAIN, sealer.invoke(1, "greet", json!({"name": "Ada"})));
    gate.handle(MAIN, sealer.invoke(2, "rm", json!({"path": "/x"})));
    gate.handle(MAIN, b"not opened, not recorded");
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["name"], json!("greet"));
    assert_eq!(
        (lines[1]["name"].as_str(), lines[1]["allowed"].as_bool()),
        (Some("rm"), Some(false))
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the policy is still enforced"
    );
}

#[test]
fn reload_under_concurrent_traffic_is_atomic() {
    // Two policies that differ in one argument bound: every call must be
    // decided wholly by one of them, and a broken set never replaces either.
    let narrow = r#"{"version":1,"rules":[{"id":"narrow","effect":"allow","commands":["greet"],"windows":["*"],
        "args":{"type":"object","properties":{"n":{"type":"integer","minimum":0,"maximum":10}},"required":["n"]}}]}"#;
    let wide = r#"{"version":1,"rules":[{"id":"wide","effect":"allow","commands":["greet"],"windows":["*"],
        "args":{"type":"object","properties":{"n":{"type":"integer","minimum":0,"maximum":1000}},"required":["n"]}}]}"#;
    let broken = r#"{"version":1,"rules":[{"id":"x","effect":"allow","commands":["greet"]}]}"#;
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(
        Gate::new(key(), policy(narrow), counting_router(&calls))
            .with_audit_rate(u32::MAX, u32::MAX)
            .with_audit(move |e: &AuditEvent| sink.lock().unwrap().push(e.clone())),
    );
    let senders: Vec<_> = (0..3)
        .map(|t| {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                let window = format!("w{t}");
                let mut sealer = Sealer::new(KEY, &window, ORIGIN, 1);
                for i in 0..400u64 {
                    let n = if i % 2 == 0 { 5 } else { 500 };
                    gate.handle(
                        Sender {
                            window: &window,
                            origin: ORIGIN,
                        },
                        sealer.invoke(i, "greet", json!({ "n": n })),
                    );
                }
            })
        })
        .collect();
    let swapper = {
        let gate = Arc::clone(&gate);
        std::thread::spawn(move || {
            for i in 0..300 {
                let text = if i % 2 == 0 { wide } else { narrow };
                gate.reload_policy(&[PolicySource {
                    name: "p.json",
                    text,
                }])
                .unwrap();
                assert!(gate
                    .reload_policy(&[PolicySource {
                        name: "bad.json",
                        text: broken
                    }])
                    .is_err());
            }
        })
    };
    swapper.join().unwrap();
    for s in senders {
        s.join().unwrap();
    }
    let events = log.lock().unwrap();
    assert_eq!(events.len(), 1200, "every message audited once");
    let (mut small, mut big_wide, mut big_denied) = (0, 0, 0);
    for e in events.iter() {
        assert_eq!(e.name.as_deref(), Some("greet"));
        let n = e.seq.unwrap() % 2; // even seq carries n = 5, odd n = 500
        match (n, e.outcome, e.reason, e.rule.as_deref()) {
            (0, Outcome::Dispatched, None, Some("narrow" | "wide")) => small += 1,
            (1, Outcome::Dispatched, None, Some("wide")) => big_wide += 1,
            (1, Outcome::Discarded, Some(DiscardReason::Denied), None) => big_denied += 1,
            other => panic!("torn or unexpected decision {other:?}"),
        }
    }
    assert_eq!(small, 600);
    assert_eq!(big_wide + big_denied, 600);
    assert_eq!(calls.load(Ordering::SeqCst), small + big_wide);
    eprintln!("n=500 under wide: {big_wide}, denied under narrow: {big_denied}");
}

#[test]
fn origins_bind_as_parsed_origins_and_unparsable_ones_only_to_the_same_bytes() {
    // Regression: binding compared bytes while the policy compares parsed
    // origins, so `http://localhost` sealed and `http://localhost:80`
    // reported was `wrong_origin`.
    let policy = policy(
        r#"{"version":1,"rules":[{"id":"any","effect":"allow","commands":["greet"],"windows":["main"],"args":{"type":"object","additional":true}}]}"#,
    );
    let gate = Gate::new(key(), policy, |_: Call<'_>| Ok(json!(1)));
    let cases = [
        ("http://localhost", "http://localhost:80", true),
        ("HTTP://LocalHost:80", "http://localhost", true),
        ("https://a.example", "https://a.example:443", true),
        ("http://localhost", "http://localhost:81", false),
        ("http://localhost", "https://localhost", false),
        ("http://localhost/", "http://localhost/", true),
        ("http://localhost/", "http://localhost", false),
        ("null", "null", true),
        ("null", "NULL", false),
    ];
    for (load, (sealed, reported, ok)) in (1u32..).zip(cases) {
        let mut sealer = Sealer::new(KEY, "main", sealed, load);
        let sender = Sender {
            window: "main",
            origin: reported,
        };
        let reply = gate.handle(sender, sealer.invoke(1, "greet", json!({})));
        assert_eq!(reply.is_some(), ok, "sealed {sealed}, reported {reported}");
    }
    assert_eq!(gate.counters().discarded(DiscardReason::WrongOrigin), 4);
}

#[test]
fn text_transport_refuses_whitespace_and_mixed_alphabets() {
    // WIRE section 5: only base64 characters; whitespace anywhere is
    // `malformed` (`isogate open` trims lines, the gate does not).
    let (gate, calls, _) = counting_gate();
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    let text = isogate::danger::encode_base64(&sealer.invoke(1, "greet", json!({})));
    for bad in [
        format!(" {text}"),
        format!("{text} "),
        format!("{text}\r"),
        format!("{text}\n"),
        format!("{}\n{}", &text[..8], &text[8..]),
    ] {
        assert!(gate.handle(MAIN, &bad).is_none());
    }
    assert_eq!(gate.counters().discarded(DiscardReason::Malformed), 5);
    assert!(gate.handle(MAIN, &text).is_some());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn message_text_must_be_strict_json() {
    // WIRE section 4, "Text of the message JSON": a byte order mark, lone
    // surrogates and raw control characters are `bad_message`; `body` is
    // not a field.
    let (gate, calls, _) = counting_gate();
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    let bad = [
        "\u{feff}{\"kind\":\"invoke\",\"id\":1,\"cmd\":\"greet\",\"args\":{}}",
        r#"{"kind":"invoke","id":1,"cmd":"greet","args":{"a":"\ud800"}}"#,
        r#"{"kind":"invoke","id":1,"cmd":"greet","args":{"a":"\udc00"}}"#,
        r#"{"kind":"invoke","id":1,"cmd":"greet","args":{"a":"\ud800\u0041"}}"#,
        "{\"kind\":\"invoke\",\"id\":1,\"cmd\":\"greet\",\"args\":{\"a\":\"\u{1}\"}}",
        r#"{"kind":"invoke","id":1,"cmd":"greet","args":{},"body":"AAEC"}"#,
    ];
    for json in bad {
        assert!(
            gate.handle(MAIN, sealer.seal_json(json, b"")).is_none(),
            "{json}"
        );
    }
    assert_eq!(gate.counters().discarded(DiscardReason::BadMessage), 6);
    let good = r#"{"kind":"invoke","id":1,"cmd":"greet","args":{"a":"\ud83d\ude00 \ufeff"}}"#;
    assert!(gate.handle(MAIN, sealer.seal_json(good, b"")).is_some());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// `docs/POLICY.md` section 7: an envelope's origin binds to the sender's
/// as the same parsed origin; IPv6 hosts compare as addresses, and an
/// origin that does not parse (a port `080`) only as the same bytes.
#[test]
fn origin_binding_compares_ipv6_as_addresses() {
    for (sealed, sender, reason) in [
        ("http://[::1]:8917", "http://[0:0:0:0:0:0:0:1]:8917", None),
        ("http://[0::1]", "http://[::1]:80", None),
        (
            "http://[::1]:8917",
            "http://[::2]:8917",
            Some(DiscardReason::WrongOrigin),
        ),
        (
            "http://localhost:080",
            "http://localhost:80",
            Some(DiscardReason::WrongOrigin),
        ),
        ("http://localhost:080", "http://localhost:080", None),
        (
            "http://127.1",
            "http://127.0.0.1",
            Some(DiscardReason::WrongOrigin),
        ),
    ] {
        let (gate, calls, log) = counting_gate();
        let mut sealer = Sealer::new(KEY, "main", sealed, 1);
        let reply = gate.handle(
            Sender {
                window: "main",
                origin: sender,
            },
            sealer.invoke(1, "greet", json!({})),
        );
        assert_eq!(reply.is_some(), reason.is_none(), "{sealed} from {sender}");
        assert_eq!(calls.load(Ordering::SeqCst), usize::from(reason.is_none()));
        let ev = log.lock().unwrap().pop().unwrap();
        assert_eq!(ev.reason, reason, "{sealed} from {sender}");
    }
}

/// The text form is refused unread (`too_large`) exactly when its decoded
/// length could exceed the gate's envelope bound: 3 bytes per 4 characters,
/// with one group of slack for padding (`docs/WIRE.md` section 5). Texts
/// of a length base64 cannot have (4n + 1) show which check refused them:
/// the bound (`too_large`) or the decoder (`malformed`).
#[test]
fn text_over_the_envelope_bound_is_too_large_before_decoding() {
    let gate =
        Gate::new(key(), allow_greet(), |_: Call<'_>| Ok(Value::Null)).with_max_envelope_len(4095);
    // 5,465 characters: 1,366 groups, at most 4,098 = 4,095 + 3 bytes,
    // within the bound, so decoded, and not base64.
    let text = "A".repeat(5465);
    assert_eq!(gate.check(MAIN, &text), Err(DiscardReason::Malformed));
    // One group more (at most 4,101 bytes): refused before decoding.
    for len in [5469, 8193] {
        let text = "A".repeat(len);
        assert_eq!(
            gate.check(MAIN, &text),
            Err(DiscardReason::TooLarge),
            "{len}"
        );
    }
}
