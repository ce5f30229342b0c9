//! Fixtures the integration tests share: one launch key, the main window
//! and its origin, a policy loader, and a gate whose router counts its calls
//! and whose audit events are kept. A test file includes it with
//! `mod common;`.

#![allow(dead_code, clippy::panic, clippy::unwrap_used)]

use isogate::danger;
use isogate::{AuditEvent, Call, Gate, LaunchKey, Policy, PolicySource, Sender};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The launch key of every test gate (`danger::Sealer::new(KEY, ...)`
/// seals for it).
pub const KEY: [u8; 32] = [9; 32];
/// The main window's origin.
pub const ORIGIN: &str = "http://127.0.0.1:8917";
/// The main window, as the transport reports it.
pub const MAIN: Sender<'static> = Sender {
    window: "main",
    origin: ORIGIN,
};

/// The gate's key for [`KEY`].
pub fn key() -> LaunchKey {
    danger::key_from_bytes(KEY)
}

/// Loads one policy file's text, or panics with its errors.
pub fn policy(text: &str) -> Policy {
    Policy::load(&[PolicySource {
        name: "test.json",
        text,
    }])
    .unwrap_or_else(|e| panic!("test policy: {e}"))
}

/// Every audit event a gate sent, in order.
pub type Log = Arc<Mutex<Vec<AuditEvent>>>;
/// A router as a boxed closure.
pub type BoxedRouter = Box<dyn Fn(Call<'_>) -> Result<Value, Value> + Send + Sync>;
/// A gate with a boxed router.
pub type TestGate = Gate<BoxedRouter>;

/// A router that counts its calls in `calls` and answers
/// `{"cmd", "args", "window"}` of the call.
pub fn counting_router(calls: &Arc<AtomicUsize>) -> BoxedRouter {
    let calls = Arc::clone(calls);
    Box::new(move |call: Call<'_>| {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(json!({"cmd": call.cmd, "args": call.args, "window": call.sender.window}))
    })
}

/// A gate under `policy_text` whose router counts its calls, with every
/// audit event kept in the log.
pub fn counting_gate(policy_text: &str) -> (TestGate, Arc<AtomicUsize>, Log) {
    let calls = Arc::new(AtomicUsize::new(0));
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    let gate = Gate::new(key(), policy(policy_text), counting_router(&calls))
        .with_audit(move |e| sink.lock().unwrap().push(e.clone()));
    (gate, calls, log)
}
