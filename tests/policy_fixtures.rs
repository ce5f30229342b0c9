//! Runs every case in `tests/policy_fixtures/*.json` through one loop.
//!
//! A case is one JSON object:
//!
//! ```json
//! {"description": "...",
//!  "policies": [{...inline policy...}, "files/some.json"],
//!  "sender": {"window": "main", "origin": "http://127.0.0.1:1420"},
//!  "message": {"kind": "invoke", "cmd": "greet", "args": {"name": "Ada"}},
//!  "expect": {"decision": "allow", "rule": "greet", "reason": "optional exact text"}}
//! ```
//!
//! A `deliver` message (`{"kind": "deliver", "event", "payload"}`) is an
//! event the core sends to the sender's window, decided by `deliver` rules.
//! `message` may also be a string: the message JSON text of
//! `docs/WIRE.md` section 4, read by isogate's own message reader (as the
//! gate and `isogate decide` read it) rather than by serde_json, for the
//! cases where the two differ (`-0` is the integer 0; serde_json reads
//! -0.0). `sender`/`message`/`expect` may instead be a list under `"checks"`. An
//! invalid case has `"expect_errors": ["exact line", ...]` (the lines of
//! the `PolicyErrors` display) instead. File paths are relative to the
//! fixture folder; inline policies are named `inline-N.json` after their
//! place in the list. Every valid case is also decided under every
//! permutation of its policy list, and must decide identically; `explain`
//! must agree with `decide` on decision and rule.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use isogate::{MessageKind, Policy, PolicySource, Request};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy_fixtures")
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

/// (name, text) of each policy of a case.
fn sources(case: &Value) -> Result<Vec<(String, String)>, String> {
    let list = case["policies"]
        .as_array()
        .ok_or("`policies` must be an array")?;
    let mut out = Vec::new();
    for (i, p) in list.iter().enumerate() {
        match p {
            Value::String(rel) => {
                let text = std::fs::read_to_string(root().join(rel))
                    .map_err(|e| format!("cannot read {rel}: {e}"))?;
                out.push((rel.clone(), text));
            }
            Value::Object(_) => out.push((
                format!("inline-{i}.json"),
                serde_json::to_string_pretty(p).unwrap(),
            )),
            _ => return Err("a policy is an object or a file path".into()),
        }
    }
    Ok(out)
}

fn load(srcs: &[(String, String)], order: &[usize]) -> Result<Policy, isogate::PolicyErrors> {
    let list: Vec<PolicySource<'_>> = order
        .iter()
        .map(|&i| PolicySource {
            name: &srcs[i].0,
            text: &srcs[i].1,
        })
        .collect();
    Policy::load(&list)
}

fn run_check(policies: &[Policy], check: &Value) -> Result<(), String> {
    let window = check["sender"]["window"].as_str().ok_or("sender.window")?;
    let origin = check["sender"]["origin"].as_str().ok_or("sender.origin")?;
    let msg = &check["message"];
    let read: (MessageKind, String, Value);
    let (kind, name, args) = match (msg.as_str(), msg["kind"].as_str()) {
        (Some(text), _) => {
            let plaintext = isogate::danger::plaintext(text, b"");
            let m = isogate::Message::decode(&plaintext, &policies[0].limits())
                .map_err(|e| format!("message {text}: {e:?}"))?;
            read = (m.kind(), m.name().to_owned(), m.args().to_value());
            (read.0, Some(read.1.as_str()), &read.2)
        }
        (None, Some("invoke")) => (MessageKind::Invoke, msg["cmd"].as_str(), &msg["args"]),
        (None, Some("emit")) => (MessageKind::Emit, msg["event"].as_str(), &msg["payload"]),
        (None, Some("deliver")) => (MessageKind::Deliver, msg["event"].as_str(), &msg["payload"]),
        _ => return Err("message.kind must be invoke, emit or deliver".into()),
    };
    let name = name.ok_or("message needs cmd or event")?;
    let req = Request {
        window,
        origin,
        kind,
        name,
        args,
    };
    let first = policies[0].decide(&req);
    let expect = &check["expect"];
    let want_allowed = match expect["decision"].as_str() {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Err("expect.decision must be allow or deny".into()),
    };
    let want_rule = expect["rule"].as_str();
    if first.allowed != want_allowed || first.rule.as_deref() != want_rule {
        return Err(format!(
            "{name} from {window} at {origin}: expected {} by {want_rule:?}, got {first:?}",
            expect["decision"]
        ));
    }
    if let Some(reason) = expect.get("reason").and_then(Value::as_str) {
        if first.reason != reason {
            return Err(format!(
                "{name}: reason\n  expected: {reason}\n  got:      {}",
                first.reason
            ));
        }
    }
    let explained = policies[0].explain(&req);
    if (explained.allowed, &explained.rule) != (first.allowed, &first.rule) {
        return Err(format!("{name}: explain disagrees: {explained:?}"));
    }
    for (i, p) in policies.iter().enumerate().skip(1) {
        let d = p.decide(&req);
        if d != first {
            return Err(format!(
                "{name}: permutation {i} decides differently: {d:?} vs {first:?}"
            ));
        }
    }
    Ok(())
}

fn run_case(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: Value = serde_json::from_str(&text).map_err(|e| format!("bad case JSON: {e}"))?;
    let srcs = sources(&case)?;
    let orders = permutations(srcs.len());
    if let Some(expected) = case.get("expect_errors") {
        let expected: Vec<&str> = expected
            .as_array()
            .ok_or("expect_errors must be an array")?
            .iter()
            .map(|v| v.as_str().unwrap_or("<not a string>"))
            .collect();
        let identity: Vec<usize> = (0..srcs.len()).collect();
        let got = match load(&srcs, &identity) {
            Ok(_) => return Err("loaded, but errors were expected".into()),
            Err(e) => e.to_string(),
        };
        let got: Vec<&str> = got.lines().collect();
        if got != expected {
            return Err(format!(
                "errors differ\n  expected:\n    {}\n  got:\n    {}",
                expected.join("\n    "),
                got.join("\n    ")
            ));
        }
        for order in &orders {
            if load(&srcs, order).is_ok() {
                return Err(format!("order {order:?} loads"));
            }
        }
        return Ok(1);
    }
    let mut policies = Vec::new();
    for order in &orders {
        policies.push(load(&srcs, order).map_err(|e| format!("order {order:?}: {e}"))?);
    }
    let checks: Vec<&Value> = match case.get("checks") {
        Some(list) => list
            .as_array()
            .ok_or("checks must be an array")?
            .iter()
            .collect(),
        None => vec![&case],
    };
    for check in &checks {
        run_check(&policies, check)?;
    }
    Ok(checks.len())
}

#[test]
fn policy_fixtures() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 40, "only {} fixture cases", paths.len());
    let mut failures = Vec::new();
    let mut checks = 0;
    for path in &paths {
        match run_case(path) {
            Ok(n) => checks += n,
            Err(e) => failures.push(format!(
                "{}: {e}",
                path.file_name().unwrap().to_string_lossy()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixture cases failed:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n")
    );
    eprintln!("{} fixture cases, {checks} checks", paths.len());
}
