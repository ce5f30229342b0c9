//! Grants: rights the host gives one window's frame load at run time, which
//! a rule asks for with an argument typed `grant` (`docs/POLICY.md`,
//! "Grants"): use, reuse, expiry, revocation, reloads and races.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{counting_gate, Log, TestGate, KEY, MAIN, ORIGIN};
use isogate::danger::Sealer;
use isogate::{DiscardReason, Grant, GrantError, GrantValue, Outcome, Sender};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const POLICY: &str = r#"{"version":1,"rules":[
    {"id":"open-picked","effect":"allow","commands":["read_file"],"windows":["*"],
     "args":{"type":"object","properties":{"path":{"type":"grant"}},"required":["path"]}},
    {"id":"copy","effect":"allow","commands":["copy"],"windows":["*"],
     "args":{"type":"object","properties":{"from":{"type":"grant"},"to":{"type":"grant"}},"required":["from","to"]}}]}"#;

fn picked(path: &str, uses: u32, ttl: Duration) -> Grant {
    Grant {
        command: "read_file".into(),
        argument: "path".into(),
        value: GrantValue::Exact(json!(path)),
        uses,
        ttl,
    }
}

const MINUTE: Duration = Duration::from_secs(60);

/// A gate under `POLICY` with the main window's frame rendered (load 1).
fn gate() -> (TestGate, Arc<AtomicUsize>, Log, Sealer) {
    let (gate, calls, log) = counting_gate(POLICY);
    let doc = gate.render_frame("main", ORIGIN, None).unwrap();
    let sealer = Sealer::new(KEY, "main", ORIGIN, doc.load_id);
    (gate, calls, log, sealer)
}

fn read(gate: &TestGate, sealer: &mut Sealer, path: &str) -> bool {
    gate.handle(MAIN, sealer.invoke(1, "read_file", json!({ "path": path })))
        .is_some()
}

fn last(log: &Log) -> (Outcome, Option<DiscardReason>, Option<String>) {
    let e = log.lock().unwrap().last().cloned().unwrap();
    (e.outcome, e.reason, e.grant)
}

#[test]
fn a_grant_admits_its_value_for_its_uses_and_nothing_else() {
    let (gate, calls, log, mut sealer) = gate();
    assert!(
        !read(&gate, &mut sealer, "/home/u/picked.txt"),
        "no grant yet"
    );
    let id = gate
        .grant("main", picked("/home/u/picked.txt", 2, MINUTE))
        .unwrap();
    assert!(
        !read(&gate, &mut sealer, "/home/u/other.txt"),
        "another value"
    );
    assert!(read(&gate, &mut sealer, "/home/u/picked.txt"));
    assert_eq!(
        last(&log),
        (Outcome::Dispatched, None, Some(id.to_string()))
    );
    assert!(read(&gate, &mut sealer, "/home/u/picked.txt"), "second use");
    assert!(!read(&gate, &mut sealer, "/home/u/picked.txt"), "used up");
    assert_eq!(
        last(&log),
        (
            Outcome::Discarded,
            Some(DiscardReason::Denied),
            Some(id.to_string())
        ),
        "the refusal names the spent grant"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // A grant is for its command only.
    let other_cmd = gate.handle(
        MAIN,
        sealer.invoke(
            2,
            "copy",
            json!({"from": "/home/u/picked.txt", "to": "/tmp/x"}),
        ),
    );
    assert!(other_cmd.is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn a_grant_belongs_to_one_window() {
    let (gate, calls, _, _) = gate();
    let other_doc = gate.render_frame("other", ORIGIN, None).unwrap();
    let mut other = Sealer::new(KEY, "other", ORIGIN, other_doc.load_id);
    gate.grant("main", picked("/p", 5, MINUTE)).unwrap();
    let sender = Sender {
        window: "other",
        origin: ORIGIN,
    };
    let reply = gate.handle(sender, other.invoke(1, "read_file", json!({"path": "/p"})));
    assert!(reply.is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn a_grant_expires_and_can_be_revoked() {
    let (gate, _, _, mut sealer) = gate();
    gate.grant("main", picked("/soon", 5, Duration::from_millis(30)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(60));
    assert!(!read(&gate, &mut sealer, "/soon"), "expired");
    let id = gate.grant("main", picked("/r", 5, MINUTE)).unwrap();
    assert!(read(&gate, &mut sealer, "/r"));
    assert!(gate.revoke(id));
    assert!(!gate.revoke(id), "revoked once");
    assert!(!read(&gate, &mut sealer, "/r"), "revoked");
}

#[test]
fn a_reload_or_a_close_ends_the_grants() {
    let (gate, calls, _, _) = gate();
    gate.grant("main", picked("/p", 5, MINUTE)).unwrap();
    // The page reloads: a new frame load, whose envelopes find no grant.
    let doc = gate.render_frame("main", ORIGIN, None).unwrap();
    let mut fresh = Sealer::new(KEY, "main", ORIGIN, doc.load_id);
    assert!(!read(&gate, &mut fresh, "/p"));
    // A grant given now is the new load's; closing the window ends it.
    gate.grant("main", picked("/q", 5, MINUTE)).unwrap();
    assert!(read(&gate, &mut fresh, "/q"));
    gate.close_window("main");
    let doc = gate.render_frame("main", ORIGIN, None).unwrap();
    let mut reopened = Sealer::new(KEY, "main", ORIGIN, doc.load_id);
    assert!(!read(&gate, &mut reopened, "/q"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_policy_reload_keeps_the_grants_and_still_needs_them() {
    let (gate, _, _, mut sealer) = gate();
    gate.grant("main", picked("/p", 5, MINUTE)).unwrap();
    gate.replace_policy(common::policy(POLICY));
    assert!(read(&gate, &mut sealer, "/p"));
    // A policy that no longer asks for a grant decides by its own rules.
    gate.replace_policy(common::policy(r#"{"version":1,"rules":[]}"#));
    assert!(!read(&gate, &mut sealer, "/p"));
}

#[test]
fn a_path_grant_admits_paths_under_its_directory_only() {
    let (gate, _, _, mut sealer) = gate();
    let grant = Grant {
        value: GrantValue::PathUnder("/home/u/project".into()),
        ..picked("", 10, MINUTE)
    };
    gate.grant("main", grant).unwrap();
    assert!(read(&gate, &mut sealer, "/home/u/project/src/main.rs"));
    for bad in [
        "/home/u/project/../.ssh/id_rsa",
        "/home/u/projectx/a",
        "/home/u/project/.git/config",
        "/home/u",
        "/home/u/project/CON",
    ] {
        assert!(!read(&gate, &mut sealer, bad), "{bad}");
    }
    let relative = Grant {
        value: GrantValue::PathUnder("relative/dir".into()),
        ..picked("", 1, MINUTE)
    };
    assert!(matches!(
        gate.grant("main", relative),
        Err(GrantError::BadDirectory(_))
    ));
}

#[test]
fn every_grant_argument_needs_a_grant_all_or_none() {
    let (gate, calls, _, mut sealer) = gate();
    let copy = |arg: &str, path: &str| Grant {
        command: "copy".into(),
        argument: arg.into(),
        value: GrantValue::Exact(json!(path)),
        uses: 1,
        ttl: MINUTE,
    };
    gate.grant("main", copy("from", "/a")).unwrap();
    let call = |s: &mut Sealer| {
        gate.handle(MAIN, s.invoke(1, "copy", json!({"from": "/a", "to": "/b"})))
            .is_some()
    };
    assert!(!call(&mut sealer), "`to` has no grant");
    gate.grant("main", copy("to", "/b")).unwrap();
    assert!(
        call(&mut sealer),
        "the `from` grant was not spent by the refusal"
    );
    assert!(!call(&mut sealer), "both spent");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn grants_need_a_frame_load_and_are_bounded_per_window() {
    let (gate, _, _) = counting_gate(POLICY);
    assert_eq!(
        gate.grant("main", picked("/p", 1, MINUTE)),
        Err(GrantError::NoFrameLoad)
    );
    gate.render_frame("main", ORIGIN, None).unwrap();
    let ids: Vec<_> = (0..isogate::MAX_GRANTS_PER_WINDOW)
        .map(|i| {
            gate.grant("main", picked(&format!("/{i}"), 1, MINUTE))
                .unwrap()
        })
        .collect();
    assert_eq!(
        gate.grant("main", picked("/over", 1, MINUTE)),
        Err(GrantError::TooMany)
    );
    assert!(gate.revoke(ids[0]));
    gate.grant("main", picked("/fits", 1, MINUTE)).unwrap();
    let invalid = Grant {
        uses: 0,
        ..picked("/p", 1, MINUTE)
    };
    assert_eq!(gate.grant("main", invalid), Err(GrantError::Invalid));
}

#[test]
fn a_single_use_grant_admits_one_of_two_racing_calls() {
    for round in 0..40 {
        let (gate, calls, _, _) = gate();
        let path = format!("/race/{round}");
        gate.grant("main", picked(&path, 1, MINUTE)).unwrap();
        let mut sealer = Sealer::new(KEY, "main", ORIGIN, 1);
        let envelopes: Vec<Vec<u8>> = (0..2)
            .map(|i| sealer.invoke(i, "read_file", json!({ "path": path })))
            .collect();
        std::thread::scope(|s| {
            for env in &envelopes {
                let gate = &gate;
                s.spawn(move || gate.handle(MAIN, env));
            }
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1, "round {round}");
    }
}

#[test]
fn the_grant_value_is_compared_as_json() {
    let (gate, _, _, mut sealer) = gate();
    let grant = Grant {
        value: GrantValue::Exact(json!({"id": 7})),
        ..picked("", 3, MINUTE)
    };
    gate.grant("main", grant).unwrap();
    let read_value = |s: &mut Sealer, v: Value| {
        gate.handle(MAIN, s.invoke(1, "read_file", json!({ "path": v })))
            .is_some()
    };
    assert!(read_value(&mut sealer, json!({"id": 7})));
    assert!(
        read_value(&mut sealer, json!({"id": 7.0})),
        "numbers by value"
    );
    assert!(!read_value(&mut sealer, json!({"id": 8})));
    assert!(!read_value(&mut sealer, json!({"id": 7, "x": 1})));
}

#[test]
fn spent_and_expired_grants_make_room_live_ones_never_do() {
    let (gate, _, _, mut sealer) = gate();
    let max = isogate::MAX_GRANTS_PER_WINDOW;
    // Full of live grants, one of which is then used up.
    for i in 0..max {
        gate.grant("main", picked(&format!("/{i}"), 1, MINUTE))
            .unwrap();
    }
    assert!(read(&gate, &mut sealer, "/0"));
    gate.grant("main", picked("/after-spent", 1, MINUTE))
        .expect("the spent grant makes room");
    assert_eq!(
        gate.grant("main", picked("/over", 1, MINUTE)),
        Err(GrantError::TooMany),
        "live grants are never pushed out"
    );
    assert!(read(&gate, &mut sealer, "/1"), "and still work");
    // Full of grants that expire: once expired, they make room.
    let (gate, _, _, _) = self::gate();
    for i in 0..max {
        gate.grant(
            "main",
            picked(&format!("/{i}"), 1, Duration::from_millis(20)),
        )
        .unwrap();
    }
    std::thread::sleep(Duration::from_millis(40));
    gate.grant("main", picked("/after-expiry", 1, MINUTE))
        .expect("expired grants make room");
}

#[test]
fn a_grant_needs_a_command_an_argument_and_a_use() {
    let (gate, _, _, _) = gate();
    let with = |command: &str, argument: &str| Grant {
        command: command.into(),
        argument: argument.into(),
        ..picked("/p", 1, MINUTE)
    };
    for (command, argument) in [
        ("", "path"),
        ("read file", "path"),
        ("read_file", ""),
        ("read_file", &"a".repeat(129)),
    ] {
        assert_eq!(
            gate.grant("main", with(command, argument)),
            Err(GrantError::Invalid),
            "{command:?} {argument:?}"
        );
    }
    let id = gate
        .grant("main", with("read_file", &"a".repeat(128)))
        .unwrap();
    assert!(id.to_string().starts_with("grant-"), "{id}");
    let next = gate.grant("main", with("read_file", "path")).unwrap();
    assert_ne!(id.to_string(), next.to_string());
}

#[test]
fn a_rule_that_needs_a_grant_never_hides_another_that_allows() {
    // `a-open` (grant) has the smaller id; without a grant, `b-notes` decides.
    let rules = r#"{"version":1,"rules":[
        {"id":"a-open","effect":"allow","commands":["read_file"],"windows":["main"],
         "args":{"type":"object","properties":{"path":{"type":"grant"}},"required":["path"]}},
        {"id":"b-notes","effect":"allow","commands":["read_file"],"windows":["main"],
         "args":{"type":"object","properties":{"path":{"type":"path","base":"/notes"}},"required":["path"]}}]}"#;
    let (gate, calls, log) = counting_gate(rules);
    let doc = gate.render_frame("main", ORIGIN, None).unwrap();
    let mut sealer = Sealer::new(KEY, "main", ORIGIN, doc.load_id);
    assert!(read(&gate, &mut sealer, "/notes/a.md"));
    assert_eq!(
        log.lock().unwrap().last().unwrap().rule.as_deref(),
        Some("b-notes")
    );
    gate.grant("main", picked("/notes/a.md", 1, MINUTE))
        .unwrap();
    assert!(read(&gate, &mut sealer, "/notes/a.md"));
    assert_eq!(
        log.lock().unwrap().last().unwrap().rule.as_deref(),
        Some("a-open"),
        "with the grant, the smaller id decides"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn a_ttl_too_long_for_the_clock_is_refused_not_a_panic() {
    let (gate, _, _, _) = gate();
    assert_eq!(
        gate.grant("main", picked("/p", 1, Duration::MAX)),
        Err(GrantError::Invalid)
    );
}
