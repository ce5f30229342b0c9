//! A JSON-RPC 2.0 router behind the gate: a jsonrpsee `RpcModule`, written
//! with no knowledge of isogate, gets each admitted call as a JSON-RPC
//! request; its `result` or `error` comes back as the reply.
//!
//! `cargo run --example jsonrpc --features jsonrpc`. The isolation frame is
//! played by `isogate::danger::Sealer`; a tiny executor stands in for the
//! app's runtime.

use isogate::adapters::jsonrpc::JsonRpc;
use isogate::danger::{self, Sealer};
use isogate::router::NoRouter;
use isogate::{json_lines_sink, Gate, Policy, PolicySource, Sender};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::RpcModule;
use serde_json::json;
use std::sync::Arc;

const KEY: [u8; 32] = [7; 32];
const ORIGIN: &str = "isogate-app://localhost";
const POLICY: &str = r#"{"version": 1, "rules": [
  {"id": "notes", "effect": "allow", "commands": ["note_read"], "windows": ["main"],
   "args": {"type": "object", "properties": {"id": {"type": "integer", "minimum": 0, "maximum": 1000}}, "required": ["id"]}}
]}"#;

#[derive(serde::Deserialize)]
struct NoteId {
    id: u32,
}

/// The app's JSON-RPC module, as it was before isogate.
fn module() -> Result<RpcModule<Vec<&'static str>>, Box<dyn std::error::Error>> {
    let mut module = RpcModule::new(vec!["first note", "second note"]);
    module.register_method("note_read", |params, notes, _| {
        let NoteId { id } = params.parse()?;
        notes
            .get(id as usize)
            .map(|n| n.to_string())
            .ok_or_else(|| ErrorObjectOwned::owned(404, "no such note", Some(json!({"id": id}))))
    })?;
    module.register_method("note_delete_all", |_, _, _| "deleted")?;
    Ok(module)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = Policy::load(&[PolicySource {
        name: "example.json",
        text: POLICY,
    }])?;
    let gate = Gate::new(danger::key_from_bytes(KEY), policy, NoRouter)
        .with_audit(json_lines_sink(std::io::stderr()));
    let rpc = JsonRpc::new(module()?);
    let sender = Sender {
        window: "main",
        origin: ORIGIN,
    };
    let mut frame = Sealer::new(KEY, "main", ORIGIN, 1);
    for envelope in [
        frame.invoke(1, "note_read", json!({"id": 1})),
        frame.invoke(2, "note_read", json!({"id": 7})),
        frame.invoke(3, "note_read", json!({"id": 5000})),
        frame.invoke(4, "note_delete_all", json!({})),
    ] {
        match block_on(rpc.handle(&gate, sender, &envelope)) {
            Some(reply) => println!("reply {}", reply.to_json()),
            None => println!("discarded (no reply; see the audit line)"),
        }
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
