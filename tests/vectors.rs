//! Known-answer vectors (`tests/vectors/envelopes.txt`): the Rust sealer must
//! reproduce every envelope byte for byte, and every envelope, including the
//! ones that must fail, must get its stated outcome from a gate.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use isogate::danger::{self, Sealer};
use isogate::{AuditEvent, Gate, Outcome, Policy, Sender};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const VECTORS: &str = include_str!("vectors/envelopes.txt");
const DEFAULT_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn key32(s: &str) -> [u8; 32] {
    hex(s).try_into().expect("32-byte key")
}

fn cases() -> Vec<HashMap<String, String>> {
    let mut out = Vec::new();
    for block in VECTORS.split("\n\n") {
        let fields: HashMap<String, String> = block
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (k, v) = l.split_once(" =").expect("key = value");
                (
                    k.trim().to_owned(),
                    v.strip_prefix(' ').unwrap_or(v).to_owned(),
                )
            })
            .collect();
        if !fields.is_empty() {
            out.push(fields);
        }
    }
    out
}

type Recorder = Arc<Mutex<Option<AuditEvent>>>;

fn gate() -> (Gate<impl isogate::Router>, Recorder) {
    let policy = Policy::from_files(&["tests/vectors/policy.json"]).expect("vector policy");
    let last: Recorder = Arc::new(Mutex::new(None));
    let sink = Arc::clone(&last);
    let router = |_: isogate::Call<'_>| -> Result<Value, Value> { Ok(Value::Null) };
    let gate = Gate::new(danger::key_from_bytes(key32(DEFAULT_KEY)), policy, router)
        .with_audit(move |e| *sink.lock().unwrap() = Some(e.clone()));
    (gate, last)
}

#[test]
fn known_answer_vectors() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases parsed", cases.len());
    let mut gates = HashMap::new();
    let mut reasons_seen = std::collections::BTreeSet::new();
    for case in &cases {
        let name = &case["case"];
        let envelope = hex(&case["envelope"]);
        if let Some(json) = case.get("json") {
            let load: u32 = case["load"].parse().unwrap();
            let seq: u64 = case["seq"].parse().unwrap();
            let sealer = Sealer::new(key32(&case["key"]), &case["window"], &case["origin"], load);
            let plaintext = danger::plaintext(json, &hex(&case["body"]));
            assert_eq!(
                sealer.seal_at(seq, &plaintext),
                envelope,
                "{name}: Rust sealer differs"
            );
            assert!(
                envelope.starts_with(&hex(&case["header"])),
                "{name}: header"
            );
        }
        if let Some(plaintext) = case.get("plaintext") {
            let sealer = Sealer::new(
                key32(&case["key"]),
                &case["window"],
                &case["origin"],
                case["load"].parse().unwrap(),
            );
            assert_eq!(
                sealer.seal_at(case["seq"].parse().unwrap(), &hex(plaintext)),
                envelope,
                "{name}"
            );
        }
        let window = case
            .get("sender_window")
            .or(case.get("window"))
            .map_or("main", |s| s);
        let origin = case
            .get("sender_origin")
            .or(case.get("origin"))
            .map_or("http://127.0.0.1:8917", |s| s);
        let (gate, last) = match case.get("gate") {
            Some(g) => gates.entry(g.clone()).or_insert_with(gate),
            None => gates.entry(format!("fresh:{name}")).or_insert_with(gate),
        };
        gate.handle(Sender { window, origin }, &envelope);
        let event = last
            .lock()
            .unwrap()
            .take()
            .expect("every envelope is audited");
        let outcome = match (event.outcome, event.reason) {
            (Outcome::Discarded, Some(reason)) => reason.as_str().to_owned(),
            (Outcome::Dispatched | Outcome::Delivered, None) => "dispatched".to_owned(),
            other => panic!("{name}: inconsistent audit event {other:?}"),
        };
        assert_eq!(outcome, case["outcome"], "{name}");
        reasons_seen.insert(outcome);
    }
    for reason in [
        "dispatched",
        "malformed",
        "bad_tag",
        "wrong_window",
        "wrong_origin",
        "stale_load",
        "replay",
        "bad_message",
        "over_limit",
        "denied",
    ] {
        assert!(
            reasons_seen.contains(reason),
            "no vector ends in `{reason}`"
        );
    }
}

#[test]
fn frame_known_answer_matches() {
    // The JavaScript frame's own known-answer file must agree with ours.
    let js = include_str!("../isolation-frame/test/known-answer.txt");
    let js_env = js
        .lines()
        .find_map(|l| l.strip_prefix("envelope:"))
        .expect("envelope line")
        .trim();
    let ours = cases()
        .into_iter()
        .find(|c| c["case"] == "invoke-greet")
        .expect("invoke-greet");
    assert_eq!(js_env, ours["envelope"]);
}
