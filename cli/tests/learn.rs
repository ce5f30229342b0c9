//! The `isogate learn` command end to end: traffic recorded through a gate
//! in learning mode (debug builds; the library's own learning test is
//! `tests/learn.rs` at the repo root), learned into a policy by the command
//! alone and next to an existing policy, checked with `isogate check`, then
//! replayed under it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// Learning mode (`Gate::with_learning`) exists in debug builds only: in
// release builds this file has no test.
#![cfg_attr(not(debug_assertions), allow(dead_code, unused_imports))]

#[path = "../../tests/common/learn_traffic.rs"]
mod learn_traffic;

use isogate::{DiscardReason, Policy, PolicySource};
use learn_traffic::{load, record, replay};
use std::process::Command;

#[cfg(debug_assertions)]
#[test]
fn isogate_learn_prints_a_policy_that_composes_with_the_existing_one() {
    let (recording, envelopes) = record();
    let dir = std::env::temp_dir().join(format!("isogate-learn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let traffic = dir.join("traffic.jsonl");
    std::fs::write(&traffic, &recording).unwrap();

    // Alone: stdout is the policy.
    let out = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .arg("learn")
        .arg(&traffic)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let learned = String::from_utf8(out.stdout).unwrap();
    let learned_path = dir.join("learned.json");
    std::fs::write(&learned_path, &learned).unwrap();
    assert_eq!(replay(load("learned.json", &learned), &envelopes), []);
    check_with_cli(&[&learned_path]);

    // With an existing policy: what it allows is not learned again, ids do
    // not clash, and the two files compose.
    let existing = r#"{"version": 1, "rules": [
      {"id": "greet", "effect": "allow", "commands": ["greet"], "windows": ["*"],
       "args": {"type": "object", "properties": {"name": {"type": "string"}}}},
      {"id": "no-upload", "effect": "deny", "commands": ["upload"], "windows": ["*"]}
    ]}"#;
    let existing_path = dir.join("existing.json");
    std::fs::write(&existing_path, existing).unwrap();
    let extra_path = dir.join("extra.json");
    let out = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .arg("learn")
        .arg(&traffic)
        .arg("--policy")
        .arg(&existing_path)
        .arg("--output")
        .arg(&extra_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("2 of 16 messages already allowed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 messages denied by rule `no-upload` were not learned"),
        "{stderr}"
    );
    let extra = std::fs::read_to_string(&extra_path).unwrap();
    assert!(!extra.contains(r#""greet""#), "{extra}");
    assert!(!extra.contains(r#""upload""#), "{extra}");
    check_with_cli(&[&existing_path, &extra_path]);
    let composed = Policy::load(&[
        PolicySource {
            name: "existing.json",
            text: existing,
        },
        PolicySource {
            name: "extra.json",
            text: &extra,
        },
    ])
    .unwrap();
    // Everything but the denied upload passes under the composition.
    assert_eq!(replay(composed, &envelopes), [DiscardReason::Denied]);

    // Bad input: a usage error, with the line.
    std::fs::write(&traffic, "{\"kind\":\"invoke\"}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .arg("learn")
        .arg(&traffic)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("traffic.jsonl: line 1: "));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `isogate check FILES...` accepts the files.
#[cfg(debug_assertions)]
fn check_with_cli(files: &[&std::path::Path]) {
    let out = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .args(["check"])
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Policy::from_files(files).unwrap();
}
