//! The gate through the public API only: dispatch, events, audit, policy
//! reload, routers, and discards that never reach the router.

use isogate::danger::{self, Sealer};
use isogate::{
    AuditEvent, Call, DiscardReason, Gate, Handler, Outcome, Policy, PolicySource, Sender,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const KEY: [u8; 32] = [9; 32];
const ORIGIN: &str = "http://127.0.0.1:8917";
const MAIN: Sender<'static> = Sender {
    window: "main",
    origin: ORIGIN,
};

fn policy(text: &str) -> Policy {
    Policy::load(&[PolicySource {
        name: "test.json",
        text,
    }])
    .expect("test policy")
}

fn allow_greet() -> Policy {
    policy(
        r#"{"version":1,"rules":[{"id":"greet","effect":"allow","commands":["greet"],"events":["ping"],"windows":["main"]}]}"#,
    )
}

struct Counting {
    calls: Arc<AtomicUsize>,
}

impl isogate::Router for Counting {
    fn call(&self, call: Call<'_>) -> Result<Value, Value> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(json!({"cmd": call.cmd, "args": call.args, "window": call.sender.window}))
    }
}

fn counting_gate() -> (
    Gate<Counting>,
    Arc<AtomicUsize>,
    Arc<Mutex<Vec<AuditEvent>>>,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let gate = Gate::new(
        danger::key_from_bytes(KEY),
        allow_greet(),
        Counting {
            calls: Arc::clone(&calls),
        },
    )
    .with_audit(move |e| sink.lock().unwrap().push(e.clone()));
    (gate, calls, log)
}

#[test]
fn allowed_call_returns_the_routers_reply() {
    let (gate, calls, log) = counting_gate();
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    let reply = gate
        .handle(MAIN, &sealer.invoke(41, "greet", json!({"name": "Ada"})))
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
    let gate = Gate::new(danger::key_from_bytes(KEY), allow_greet(), |_: Call<'_>| {
        Err(json!({"code": 7}))
    });
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    let reply = gate
        .handle(MAIN, &sealer.invoke(1, "greet", json!({})))
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
    gate.handle(MAIN, &sealer.invoke(1, "rm", json!({"secret": "hunter2"})));
    let ev = log.lock().unwrap().pop().unwrap();
    assert_eq!((ev.name.as_deref(), ev.rule.as_deref()), (Some("rm"), None));
    assert!(!ev.to_json().contains("hunter2"));
}

#[test]
fn audit_arguments_only_when_the_host_opts_in() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let gate = Gate::new(danger::key_from_bytes(KEY), allow_greet(), |_: Call<'_>| {
        Ok(Value::Null)
    })
    .with_audit_arguments(true)
    .with_audit(move |e: &AuditEvent| sink.lock().unwrap().push(e.clone()));
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    gate.handle(MAIN, &sealer.invoke(1, "greet", json!({"name": "Ada"})));
    assert_eq!(log.lock().unwrap()[0].args, Some(json!({"name": "Ada"})));
}

#[test]
fn events_reach_listeners_without_a_reply() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&seen);
    let gate = Gate::new(danger::key_from_bytes(KEY), allow_greet(), |_: Call<'_>| {
        Ok(Value::Null)
    })
    .with_listener("ping", move |e| {
        store
            .lock()
            .unwrap()
            .push((e.name.to_owned(), e.payload.clone()))
    })
    .with_listener("other", |_| panic!("wrong listener"));
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    assert!(gate
        .handle(MAIN, &sealer.emit("ping", json!([1, 2])))
        .is_none());
    assert!(
        gate.handle(MAIN, &sealer.emit("pong", json!(null)))
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
        .handle(MAIN, &old.invoke(1, "greet", json!({})))
        .is_none());
    assert_eq!(
        log.lock().unwrap().pop().unwrap().reason,
        Some(DiscardReason::StaleLoad)
    );
    assert!(gate
        .handle(MAIN, &new.invoke(1, "greet", json!({})))
        .is_some());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(gate.render_frame("main", "http://a/b", None).is_err());
}

#[test]
fn text_transport_is_base64url() {
    let (gate, calls, _) = counting_gate();
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    let text = isogate::envelope::encode_base64(&sealer.invoke(1, "greet", json!({})));
    assert!(!text.contains('=') && !text.contains('+') && !text.contains('/'));
    assert!(gate.handle_text(MAIN, &text).is_some());
    assert!(gate.handle_text(MAIN, "!!not base64!!").is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn table_router_and_get_ref_into_inner() {
    let mut table: HashMap<String, Handler> = HashMap::new();
    table.insert(
        "greet".into(),
        Box::new(|c: Call<'_>| Ok(json!(c.args.len()))),
    );
    let gate = Gate::new(danger::key_from_bytes(KEY), allow_greet(), table);
    assert_eq!(gate.get_ref().len(), 1);
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    assert_eq!(
        gate.handle(MAIN, &sealer.invoke(1, "greet", json!({"a": 1})))
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
        gate.handle(MAIN, &sealer.invoke(1, "greet", json!({})))
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
        .handle(MAIN, &sealer.invoke(2, "greet", json!({})))
        .is_none());
}
