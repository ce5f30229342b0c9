//! A tower service behind the gate: `GateLayer` turns a
//! `Service<CallRequest>` into a `Service<RawEnvelope>` that only passes
//! sealed, fresh, allowed calls, and composes with ordinary tower
//! middleware.
//!
//! `cargo run --example tower --features tower`. The isolation frame is
//! played by `isogate::danger::Sealer`; a tiny executor stands in for the
//! app's runtime.

use isogate::adapters::tower::{GateLayer, RawEnvelope};
use isogate::danger::{self, Sealer};
use isogate::router::NoRouter;
use isogate::{json_lines_sink, CallRequest, Gate, Policy, PolicySource, Reply};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};

const KEY: [u8; 32] = [7; 32];
const ORIGIN: &str = "isogate-app://localhost";
const POLICY: &str = r#"{"version": 1, "rules": [
  {"id": "greet", "effect": "allow", "commands": ["greet"], "windows": ["main"],
   "args": {"type": "object", "properties": {"name": {"type": "string", "max_length": 32}}, "required": ["name"]}}
]}"#;

/// The app's async router, written as a tower service.
async fn router(req: CallRequest) -> Result<Value, Value> {
    match req.cmd.as_str() {
        "greet" => Ok(json!(format!(
            "Hello, {}!",
            req.args["name"].as_str().unwrap_or("")
        ))),
        other => Err(json!(format!("unknown command `{other}`"))),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = Policy::load(&[PolicySource {
        name: "example.json",
        text: POLICY,
    }])?;
    // The gate still renders frames, holds the policy and counts; its own
    // router is unused because the tower service does the routing.
    let gate = Arc::new(
        Gate::new(danger::key_from_bytes(KEY), policy, NoRouter)
            .with_audit(json_lines_sink(std::io::stderr())),
    );
    let mut service = ServiceBuilder::new()
        // What the transport sees: envelopes in, optional replies out.
        .map_response(|reply: Option<Reply>| reply.map(|r| r.to_json()))
        .layer(GateLayer::new(Arc::clone(&gate)))
        // Middleware over admitted calls only: here, timing each one.
        .map_request(|req: CallRequest| {
            eprintln!(
                "router: `{}` from window `{}` at {:?}",
                req.cmd,
                req.window,
                Instant::now()
            );
            req
        })
        .service(service_fn(router));

    let mut frame = Sealer::new(KEY, "main", ORIGIN, 1);
    let greet = frame.invoke(1, "greet", json!({"name": "Ada"}));
    for envelope in [
        RawEnvelope::binary("main", ORIGIN, greet.clone()),
        RawEnvelope::binary("main", ORIGIN, greet),
        RawEnvelope::text(
            "main",
            ORIGIN,
            isogate::danger::encode_base64(&frame.invoke(2, "delete_everything", json!({}))),
        ),
        RawEnvelope::binary("main", ORIGIN, b"{\"cmd\":\"greet\"}".to_vec()),
    ] {
        let reply = block_on(async { service.ready().await?.call(envelope).await })
            .map_err(|e| e.to_string())?;
        println!("{}", reply.as_deref().unwrap_or("(discarded: no reply)"));
    }
    println!("counters: {:?}", gate.counters());
    Ok(())
}

/// Runs a future on this thread; a real app uses its runtime instead.
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
