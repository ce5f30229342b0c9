//! Routers people already have, through the public API: the command table,
//! the split `check` path for async routers, the `tower` layer and
//! the JSON-RPC adapter (the last two with `--features tower,jsonrpc`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use isogate::danger::Sealer;
use isogate::router::{NoRouter, Table};
use isogate::{
    Admitted, AuditEvent, CallRequest, DiscardReason, Gate, Outcome, Policy, Router, Sender,
};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

mod common;

use common::{key, KEY};

/// A custom-scheme origin, as webview hosts serve apps from.
const ORIGIN: &str = "isogate-app://localhost";
const MAIN: Sender<'static> = Sender {
    window: "main",
    origin: ORIGIN,
};

/// `greet` with a bounded `name`, `add` with two small integers, event `ping`.
const POLICY: &str = r#"{"version": 1, "rules": [
  {"id": "greet", "effect": "allow", "commands": ["greet"], "windows": ["main"],
   "args": {"type": "object", "properties": {"name": {"type": "string", "max_length": 16}}, "required": ["name"]}},
  {"id": "add", "effect": "allow", "commands": ["add"], "windows": ["main"],
   "args": {"type": "object", "properties": {"a": {"type": "integer", "minimum": 0, "maximum": 100},
                                               "b": {"type": "integer", "minimum": 0, "maximum": 100}},
            "required": ["a", "b"]}},
  {"id": "ping", "effect": "allow", "events": ["ping"], "windows": ["main"], "payload": {"type": "any"}}
]}"#;

fn policy() -> Policy {
    common::policy(POLICY)
}

type Log = Arc<Mutex<Vec<AuditEvent>>>;

fn gate_with<R: Router>(router: R) -> (Gate<R>, Log, Arc<AtomicUsize>) {
    let log: Log = Arc::default();
    let pings = Arc::new(AtomicUsize::new(0));
    let sink = Arc::clone(&log);
    let counted = Arc::clone(&pings);
    let gate = Gate::new(key(), policy(), router)
        .with_audit(move |e| sink.lock().unwrap().push(e.clone()))
        .with_listener("ping", move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        });
    (gate, log, pings)
}

fn outcomes(log: &Log) -> Vec<(Outcome, Option<DiscardReason>, Option<String>)> {
    log.lock()
        .unwrap()
        .iter()
        .map(|e| (e.outcome, e.reason, e.name.clone()))
        .collect()
}

#[derive(serde::Deserialize)]
struct AddArgs {
    a: i64,
    b: i64,
}

fn table(calls: &Arc<AtomicUsize>) -> Table {
    let greets = Arc::clone(calls);
    let forbidden = Arc::clone(calls);
    Table::new()
        .typed(
            "greet",
            move |args: serde_json::Map<String, Value>, call| {
                greets.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>(format!(
                    "Hello, {} from {}!",
                    args["name"].as_str().unwrap_or(""),
                    call.sender.window
                ))
            },
        )
        .typed("add", |args: AddArgs, _| Ok::<_, ()>(args.a + args.b))
        .command("wipe", move |_| {
            forbidden.fetch_add(1, Ordering::SeqCst);
            Ok(json!("wiped"))
        })
}

#[test]
fn table_router_behind_a_gate() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (gate, log, _) = gate_with(table(&calls));
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    let reply = gate
        .handle(MAIN, sealer.invoke(1, "greet", json!({"name": "Ada"})))
        .unwrap();
    assert_eq!(reply.result, Ok(json!("Hello, Ada from main!")));
    let reply = gate
        .handle(MAIN, sealer.invoke(2, "add", json!({"a": 2, "b": 40})))
        .unwrap();
    assert_eq!(reply.to_json(), r#"{"id":2,"ok":true,"result":42}"#);
    // In the table but not in the policy; and arguments outside the policy.
    assert!(gate
        .handle(MAIN, sealer.invoke(3, "wipe", json!({})))
        .is_none());
    assert!(gate
        .handle(MAIN, sealer.invoke(4, "add", json!({"a": 2, "b": 400})))
        .is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "`wipe` never ran");
    let denied: Vec<_> = outcomes(&log)
        .into_iter()
        .filter(|o| o.1 == Some(DiscardReason::Denied))
        .map(|o| o.2.unwrap())
        .collect();
    assert_eq!(denied, ["wipe", "add"]);
    assert_eq!(
        gate.get_ref().names().collect::<Vec<_>>(),
        ["add", "greet", "wipe"]
    );
}

/// `handle`, `check` + dispatch by hand, and `check` + `Gate::dispatch`
/// give the same replies, audit events, counters and listener calls,
/// message for message.
#[test]
fn check_is_handle_without_the_dispatch() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (sync_gate, sync_log, sync_pings) = gate_with(table(&calls));
    let (split_gate, split_log, split_pings) = gate_with(NoRouter);
    let (own_gate, own_log, own_pings) = gate_with(table(&calls));
    let split_router = table(&calls);

    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    let mut settings = Sealer::new(KEY, "settings", ORIGIN, 1);
    let good = sealer.invoke(1, "greet", json!({"name": "Ada"}));
    let mut tampered = sealer.invoke(2, "greet", json!({"name": "Ada"}));
    *tampered.last_mut().unwrap() ^= 1;
    let envelopes: Vec<Vec<u8>> = vec![
        good.clone(),
        good, // replay
        tampered,
        sealer.invoke(3, "add", json!({"a": 1, "b": 2})),
        sealer.invoke(4, "wipe", json!({})),
        sealer.invoke(5, "greet", json!({"name": "a name that is too long"})),
        sealer.emit("ping", json!({"n": 1})),
        sealer.emit("pong", json!(null)),
        settings.invoke(6, "greet", json!({"name": "Ada"})),
        b"not an envelope".to_vec(),
    ];
    for bytes in &envelopes {
        let expected = sync_gate.handle(MAIN, bytes);
        let got = match split_gate.check(MAIN, bytes) {
            Err(_) => None,
            Ok(Admitted::Call(call)) => Some(isogate::Reply {
                id: call.id,
                result: split_router.call(call.as_call()),
            }),
            Ok(Admitted::Event(event)) => {
                split_gate.deliver_event(event.as_event());
                None
            }
        };
        assert_eq!(got, expected);
        let own = own_gate
            .check(MAIN, bytes)
            .ok()
            .and_then(|admitted| own_gate.dispatch(&admitted));
        assert_eq!(own, expected);
    }
    let strip = |log: &Log| {
        log.lock()
            .unwrap()
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.ts_ms = 0;
                e
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&split_log), strip(&sync_log));
    assert_eq!(strip(&own_log), strip(&sync_log));
    assert_eq!(split_gate.counters(), sync_gate.counters());
    assert_eq!(own_gate.counters(), sync_gate.counters());
    assert_eq!(split_pings.load(Ordering::SeqCst), 1);
    assert_eq!(own_pings.load(Ordering::SeqCst), 1);
    assert_eq!(sync_pings.load(Ordering::SeqCst), 1);
    let c = split_gate.counters();
    assert_eq!((c.dispatched, c.delivered), (2, 1));
    for (reason, n) in [
        (DiscardReason::Replay, 1),
        (DiscardReason::BadTag, 1),
        (DiscardReason::Denied, 3),
        (DiscardReason::WrongWindow, 1),
        (DiscardReason::Malformed, 1),
    ] {
        assert_eq!(c.discarded(reason), n, "{reason}");
    }
}

#[test]
fn check_owns_the_call_and_names_the_discard() {
    let (gate, _, _) = gate_with(NoRouter);
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
    let text = isogate::danger::encode_base64(&sealer.invoke(9, "add", json!({"a": 1, "b": 2})));
    let Ok(Admitted::Call(call)) = gate.check(MAIN, &text) else {
        panic!("admitted");
    };
    assert_eq!(
        call,
        CallRequest {
            id: 9,
            cmd: "add".into(),
            args: json!({"a": 1, "b": 2}).as_object().unwrap().clone().into(),
            body: Vec::new(),
            window: "main".into(),
            origin: ORIGIN.into(),
            load_id: 1,
        }
    );
    assert_eq!(gate.check(MAIN, &text), Err(DiscardReason::Replay));
    assert_eq!(gate.check(MAIN, "!!"), Err(DiscardReason::Malformed));
    let other = Sender {
        window: "other",
        origin: ORIGIN,
    };
    let sealed = sealer.invoke(11, "add", json!({"a": 1, "b": 2}));
    assert_eq!(gate.check(other, &sealed), Err(DiscardReason::WrongWindow));
    // A gate with no router answers `handle`d commands with `null`.
    let reply = gate
        .handle(MAIN, sealer.invoke(10, "add", json!({"a": 1, "b": 2})))
        .unwrap();
    assert_eq!(reply.result, Err(Value::Null));
}

/// Drives a future to completion on this thread (the adapters need no
/// particular runtime).
#[cfg(any(feature = "tower", feature = "jsonrpc"))]
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[cfg(feature = "tower")]
mod tower_layer {
    use super::*;
    use isogate::adapters::tower::{GateLayer, RawEnvelope};
    use tower::{service_fn, Service, ServiceBuilder, ServiceExt};

    #[test]
    fn layer_gates_an_async_service_and_composes_with_middleware() {
        let (gate, log, pings) = gate_with(NoRouter);
        let gate = Arc::new(gate);
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let inner_seen = Arc::clone(&seen);
        let mut service = ServiceBuilder::new()
            .layer(GateLayer::new(Arc::clone(&gate)))
            // Ordinary tower middleware between the gate and the router.
            .map_request(|mut req: CallRequest| {
                req.cmd = req.cmd.to_uppercase();
                req
            })
            .service(service_fn(move |req: CallRequest| {
                let seen = Arc::clone(&inner_seen);
                async move {
                    seen.lock().unwrap().push(req.cmd.clone());
                    match req.cmd.as_str() {
                        "GREET" => Ok(json!(format!(
                            "Hello, {}!",
                            req.args["name"].as_str().unwrap()
                        ))),
                        "ADD" => Err(json!({"code": 7, "message": "no adding today"})),
                        _ => Err(json!("unknown")),
                    }
                }
            }));

        let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
        // What a transport loop does: wait until the service is ready, call it.
        let mut call = |req: RawEnvelope| {
            block_on(async {
                let ready = service.ready().await?;
                ready.call(req).await
            })
        };
        let greet = sealer.invoke(1, "greet", json!({"name": "Ada"}));
        let reply = call(RawEnvelope::binary("main", ORIGIN, greet.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(
            reply.to_json(),
            r#"{"id":1,"ok":true,"result":"Hello, Ada!"}"#
        );
        let text =
            isogate::danger::encode_base64(&sealer.invoke(2, "add", json!({"a": 1, "b": 2})));
        let reply = call(RawEnvelope::text("main", ORIGIN, text))
            .unwrap()
            .unwrap();
        assert_eq!(
            reply.result,
            Err(json!({"code": 7, "message": "no adding today"})),
            "the service's Err is the app's error, sent as is"
        );
        // Discards: replay, denied command, other window, unsealed.
        assert_eq!(
            call(RawEnvelope::binary("main", ORIGIN, greet)).unwrap(),
            None
        );
        let wipe = sealer.invoke(3, "wipe", json!({}));
        assert_eq!(
            call(RawEnvelope::binary("main", ORIGIN, wipe)).unwrap(),
            None
        );
        let other = sealer.invoke(4, "greet", json!({"name": "Ada"}));
        assert_eq!(
            call(RawEnvelope::binary("settings", ORIGIN, other)).unwrap(),
            None
        );
        assert_eq!(
            call(RawEnvelope::binary("main", ORIGIN, b"{}".to_vec())).unwrap(),
            None
        );
        // Events go to the gate's listeners; no reply.
        let ping = sealer.emit("ping", json!(1));
        assert_eq!(
            call(RawEnvelope::binary("main", ORIGIN, ping)).unwrap(),
            None
        );

        assert_eq!(
            *seen.lock().unwrap(),
            ["GREET", "ADD"],
            "only admitted calls reach the service"
        );
        assert_eq!(pings.load(Ordering::SeqCst), 1);
        let reasons: Vec<_> = outcomes(&log).into_iter().map(|o| (o.0, o.1)).collect();
        assert_eq!(
            reasons,
            [
                (Outcome::Dispatched, None),
                (Outcome::Dispatched, None),
                (Outcome::Discarded, Some(DiscardReason::Replay)),
                (Outcome::Discarded, Some(DiscardReason::Denied)),
                (Outcome::Discarded, Some(DiscardReason::WrongWindow)),
                (Outcome::Discarded, Some(DiscardReason::Malformed)),
                (Outcome::Delivered, None),
            ]
        );
        assert_eq!(gate.counters().dispatched, 2);
    }
}

#[cfg(feature = "jsonrpc")]
mod jsonrpc {
    use super::*;
    use isogate::adapters::jsonrpc::JsonRpc;
    use jsonrpsee::types::ErrorObjectOwned;
    use jsonrpsee::RpcModule;

    #[derive(serde::Deserialize)]
    struct Greet {
        name: String,
    }

    /// A JSON-RPC module as an app would write it, with no idea of isogate.
    fn module(calls: &Arc<AtomicUsize>) -> RpcModule<()> {
        let mut module = RpcModule::new(());
        let greets = Arc::clone(calls);
        module
            .register_method("greet", move |params, _, _| {
                greets.fetch_add(1, Ordering::SeqCst);
                let p: Greet = params.parse()?;
                Ok::<_, ErrorObjectOwned>(format!("Hello, {}!", p.name))
            })
            .unwrap();
        module
            .register_async_method("add", |params, _, _| async move {
                let p: AddArgs = params.parse()?;
                if p.a + p.b > 100 {
                    return Err(ErrorObjectOwned::owned(
                        -32000,
                        "sum too large",
                        Some(json!({"sum": p.a + p.b})),
                    ));
                }
                Ok::<_, ErrorObjectOwned>(p.a + p.b)
            })
            .unwrap();
        let wipes = Arc::clone(calls);
        module
            .register_method("wipe", move |_, _, _| {
                wipes.fetch_add(100, Ordering::SeqCst);
                "wiped"
            })
            .unwrap();
        module
    }

    #[test]
    fn requests_and_responses_map_both_ways() {
        let call = CallRequest {
            id: 42,
            cmd: "plugin:fs|read".into(),
            args: json!({"path": "/a"}).as_object().unwrap().clone().into(),
            body: Vec::new(),
            window: "main".into(),
            origin: ORIGIN.into(),
            load_id: 1,
        };
        assert_eq!(
            JsonRpc::request_json(&call).unwrap(),
            r#"{"jsonrpc":"2.0","id":42,"method":"plugin:fs|read","params":{"path":"/a"}}"#
        );
        let with_body = CallRequest {
            body: vec![1],
            ..call
        };
        assert_eq!(
            JsonRpc::request_json(&with_body),
            Err(json!({"code": -32602, "message": "Invalid params"}))
        );
        let ok = r#"{"jsonrpc":"2.0","id":42,"result":{"x":1}}"#;
        assert_eq!(JsonRpc::result_from_response(42, ok), Ok(json!({"x": 1})));
        let err =
            r#"{"jsonrpc":"2.0","id":42,"error":{"code":-32601,"message":"Method not found"}}"#;
        assert_eq!(
            JsonRpc::result_from_response(42, err),
            Err(json!({"code": -32601, "message": "Method not found"}))
        );
        let internal = Err(json!({"code": -32603, "message": "Internal error"}));
        for bad in [
            r#"{"jsonrpc":"2.0","id":41,"result":1}"#,
            r#"{"jsonrpc":"1.0","id":42,"result":1}"#,
            r#"{"jsonrpc":"2.0","id":42}"#,
            r#"{"jsonrpc":"2.0","id":42,"result":1,"error":{"code":1,"message":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":42,"error":"x"}"#,
            "not json",
        ] {
            assert_eq!(JsonRpc::result_from_response(42, bad), internal, "{bad}");
        }
    }

    #[test]
    fn gated_jsonrpc_module() {
        let calls = Arc::new(AtomicUsize::new(0));
        let rpc = JsonRpc::new(module(&calls));
        let (gate, log, pings) = gate_with(NoRouter);
        let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);

        let reply = block_on(rpc.handle(
            &gate,
            MAIN,
            &sealer.invoke(1, "greet", json!({"name": "Ada"})),
        ));
        assert_eq!(
            reply.unwrap().to_json(),
            r#"{"id":1,"ok":true,"result":"Hello, Ada!"}"#
        );
        let reply = block_on(rpc.handle(
            &gate,
            MAIN,
            &sealer.invoke(2, "add", json!({"a": 2, "b": 40})),
        ));
        assert_eq!(reply.unwrap().result, Ok(json!(42)));
        // The module's own error object comes back as the app's error.
        let reply = block_on(rpc.handle(
            &gate,
            MAIN,
            &sealer.invoke(3, "add", json!({"a": 100, "b": 1})),
        ));
        assert_eq!(
            reply.unwrap().result,
            Err(json!({"code": -32000, "message": "sum too large", "data": {"sum": 101}}))
        );
        // Allowed by the policy but missing from the module.
        let policy_only = r#"{"version": 1, "rules": [{"id": "ghost", "effect": "allow", "commands": ["ghost"], "windows": ["main"]}]}"#;
        gate.reload_policy(&[isogate::PolicySource {
            name: "ghost.json",
            text: policy_only,
        }])
        .unwrap();
        let reply = block_on(rpc.handle(&gate, MAIN, &sealer.invoke(4, "ghost", json!({}))));
        assert_eq!(
            reply.unwrap().result,
            Err(json!({"code": -32601, "message": "Method not found"}))
        );
        gate.replace_policy(policy());
        // Denied: the module never sees it.
        let text = isogate::danger::encode_base64(&sealer.invoke(5, "wipe", json!({})));
        assert_eq!(block_on(rpc.handle(&gate, MAIN, &text)), None);
        // Events reach the gate's listeners.
        assert_eq!(
            block_on(rpc.handle(&gate, MAIN, &sealer.emit("ping", json!(null)))),
            None
        );
        assert_eq!(pings.load(Ordering::SeqCst), 1);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "greet once, wipe never");
        let last_denied = outcomes(&log)
            .into_iter()
            .rfind(|o| o.1 == Some(DiscardReason::Denied))
            .unwrap();
        assert_eq!(last_denied.2.as_deref(), Some("wipe"));
    }

    #[cfg(feature = "tower")]
    #[test]
    fn jsonrpc_module_as_the_inner_service_of_the_tower_layer() {
        use isogate::adapters::tower::{GateLayer, RawEnvelope};
        use tower::{Layer, ServiceExt};
        let calls = Arc::new(AtomicUsize::new(0));
        let (gate, _, _) = gate_with(NoRouter);
        let service = GateLayer::new(Arc::new(gate)).layer(JsonRpc::new(module(&calls)));
        let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
        let env = RawEnvelope::binary(
            "main",
            ORIGIN,
            sealer.invoke(7, "greet", json!({"name": "Bo"})),
        );
        let reply = block_on(service.clone().oneshot(env)).unwrap().unwrap();
        assert_eq!(reply.result, Ok(json!("Hello, Bo!")));
        let env = RawEnvelope::binary("main", ORIGIN, sealer.invoke(8, "wipe", json!({})));
        assert_eq!(block_on(service.oneshot(env)).unwrap(), None);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
