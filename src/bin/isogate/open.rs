//! `isogate open`: replays captured envelopes through one gate whose router
//! echoes the command, printing one JSON line per input line.

use isogate::{AuditEvent, Gate, LaunchKey, Outcome, Policy, Sender};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub fn run(key_file: &PathBuf, window: &str, origin: &str, policies: &[PathBuf]) -> i32 {
    let key = match std::fs::read_to_string(key_file) {
        Ok(text) => match LaunchKey::from_key_file_text(&text) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("error: {}: {e}", key_file.display());
                return 2;
            }
        },
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", key_file.display());
            return 2;
        }
    };
    let policy = match Policy::from_files(policies) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let last: Arc<Mutex<Option<AuditEvent>>> = Arc::new(Mutex::new(None));
    let sink = Arc::clone(&last);
    let echo = |call: isogate::Call<'_>| -> Result<Value, Value> {
        Ok(json!({"cmd": call.cmd, "args": call.args}))
    };
    let gate = Gate::new(key, policy, echo).with_audit(move |e| {
        *sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
    });
    let sender = Sender { window, origin };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else {
            eprintln!("error: stdin is not valid UTF-8 text");
            return 2;
        };
        let reply = gate.handle_text(sender, line.trim());
        let event = last.lock().unwrap_or_else(|p| p.into_inner()).take();
        let record = match event {
            Some(e) => json!({
                "outcome": if e.outcome == Outcome::Discarded { "discarded" } else { "dispatched" },
                "reason": e.reason,
                "cmd": e.name,
                "kind": e.kind,
                "rule": e.rule,
                "reply": reply.map(|r| serde_json::from_str::<Value>(&r.to_json()).unwrap_or(Value::Null)),
            }),
            // The gate audits every envelope; this is a bug guard, not a path.
            None => json!({"outcome": "discarded", "reason": null, "cmd": null}),
        };
        if writeln!(out, "{record}").is_err() {
            return 2;
        }
    }
    0
}
