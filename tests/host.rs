//! The host layer (`isogate::host`): windows named by the host, one-shot
//! frame documents, bounded delivery queues and audit fan-out.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{counting_gate, KEY, ORIGIN};
use isogate::danger::Sealer;
use isogate::host::{HostError, HostLimits, OutgoingKind, Wake};
use isogate::{Admitted, AuditHub, DiscardReason, Host, MessageKind, Outcome, Sender};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const POLICY: &str = r#"{"version":1,"rules":[
    {"id":"greet","effect":"allow","commands":["greet"],"windows":["*"],"args":{"type":"object","additional":true}}]}"#;

fn host(limits: HostLimits) -> (Host<common::BoxedRouter>, Arc<AtomicUsize>, common::Log) {
    let (gate, calls, log) = counting_gate(POLICY);
    (Host::with_limits(gate, limits), calls, log)
}

fn sender(window: &str) -> Sender<'_> {
    Sender {
        window,
        origin: ORIGIN,
    }
}

/// Opens `window`, fetches its frame and returns a sealer for that load.
fn open_with_frame(host: &Host<common::BoxedRouter>, window: &str) -> Sealer {
    host.open_window(window, ORIGIN).unwrap();
    let token = host.new_frame(window, None).unwrap();
    let doc = host.take_frame(&token).unwrap();
    Sealer::new(KEY, window, ORIGIN, doc.load_id)
}

#[test]
fn a_frame_token_is_spent_by_its_first_fetch() {
    let (host, _, _) = host(HostLimits::default());
    host.open_window("main", ORIGIN).unwrap();
    let token = host.new_frame("main", None).unwrap();
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    let other = host.new_frame("main", None).unwrap();
    assert_ne!(token, other, "tokens are fresh");
    assert!(
        host.take_frame(&token).is_none(),
        "a newer frame replaced it"
    );
    let doc = host.take_frame(&other).unwrap();
    assert!(doc.html.contains("<iframe") || doc.html.contains("<script"));
    assert!(host.take_frame(&other).is_none(), "spent");
    assert!(host.take_frame("").is_none());
    let c = host.counters();
    assert_eq!(
        (c.frames_issued, c.frames_served, c.frames_unused),
        (2, 1, 1)
    );
}

#[test]
fn an_unfetched_frame_expires() {
    let limits = HostLimits {
        frame_ttl: Duration::from_millis(30),
        ..HostLimits::default()
    };
    let (host, _, _) = host(limits);
    host.open_window("main", ORIGIN).unwrap();
    let late = host.new_frame("main", None).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    assert!(host.take_frame(&late).is_none(), "expired");
    let swept = host.new_frame("main", None).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    host.expire_frames();
    assert!(host.take_frame(&swept).is_none(), "swept");
    assert_eq!(host.counters().frames_unused, 2);
    assert_eq!(host.counters().frames_served, 0);
}

#[test]
fn frames_are_rendered_for_open_windows_only_and_windows_are_capped() {
    let limits = HostLimits {
        max_windows: 3,
        ..HostLimits::default()
    };
    let (host, _, _) = host(limits);
    assert_eq!(host.new_frame("main", None), Err(HostError::NoSuchWindow));
    for w in ["a", "b", "c"] {
        host.open_window(w, ORIGIN).unwrap();
        host.new_frame(w, None).unwrap();
    }
    assert_eq!(
        host.open_window("d", ORIGIN),
        Err(HostError::TooManyWindows)
    );
    // Reopening an open window is not a new one; closing frees a place.
    host.open_window("a", ORIGIN).unwrap();
    host.close_window("b");
    host.open_window("d", ORIGIN).unwrap();
    assert_eq!(host.windows().len(), 3);
    // At most one document pending per window: pending <= max_windows.
    assert_eq!(host.counters().frames_unused, 2, "a reopened, b closed");
    assert!(host.open_window("bad label", ORIGIN).is_err());
    assert!(host.open_window("e", "not an origin").is_err());
}

#[test]
fn messages_from_windows_that_are_not_open_never_reach_the_router() {
    let (host, calls, log) = host(HostLimits::default());
    let mut sealer = open_with_frame(&host, "main");
    let envelope = sealer.invoke(1, "greet", json!({}));
    // The page names a window the host never opened.
    let mut ghost = Sealer::new(KEY, "ghost", ORIGIN, 1);
    assert!(host
        .handle(sender("ghost"), ghost.invoke(2, "greet", json!({})))
        .is_none());
    assert_eq!(
        host.check(sender("ghost"), &envelope),
        Err(DiscardReason::WrongWindow)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(host.counters().unknown_window, 2);
    let log = log.lock().unwrap();
    assert!(log
        .iter()
        .all(|e| e.reason == Some(DiscardReason::WrongWindow)
            && e.detail.as_deref() == Some("the sender's window is not open")));
    drop(log);
    let reply = host.handle(sender("main"), &envelope).unwrap();
    assert_eq!(reply.result.unwrap()["cmd"], "greet");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn closing_a_window_refuses_its_envelopes_and_frees_its_queue() {
    let (host, calls, _) = host(HostLimits::default());
    let mut sealer = open_with_frame(&host, "main");
    let kept = sealer.invoke(1, "greet", json!({}));
    assert!(host.emit("main", "tick", &json!(1)));
    host.close_window("main");
    assert!(host.pop("main").is_none(), "queue freed");
    assert!(
        !host.emit("main", "tick", &json!(2)),
        "no queue for a closed window"
    );
    // Reopened under the same label, the old frame load stays retired.
    host.open_window("main", ORIGIN).unwrap();
    assert!(host.handle(sender("main"), &kept).is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(host.gate().counters().discarded(DiscardReason::StaleLoad) == 1);
}

#[test]
fn a_full_queue_drops_counts_and_audits_never_grows() {
    let limits = HostLimits {
        queue_len: 4,
        queue_bytes: 1024,
        ..HostLimits::default()
    };
    let (host, _, log) = host(limits);
    host.open_window("main", ORIGIN).unwrap();
    let woken = Arc::new(AtomicUsize::new(0));
    let w = Arc::clone(&woken);
    let wake: Wake = Arc::new(move || {
        w.fetch_add(1, Ordering::SeqCst);
    });
    host.set_wake("main", wake).unwrap();
    let sent = (0..10)
        .filter(|i| host.emit("main", "tick", &json!(i)))
        .count();
    assert_eq!(sent, 4);
    assert_eq!(
        woken.load(Ordering::SeqCst),
        4,
        "one wake per queued message"
    );
    assert_eq!(host.counters().dropped, 6);
    assert_eq!(host.gate().counters().dropped, 6);
    {
        let log = log.lock().unwrap();
        let dropped: Vec<_> = log
            .iter()
            .filter(|e| e.outcome == Outcome::Dropped)
            .collect();
        assert_eq!(dropped.len(), 6);
        assert_eq!(dropped[0].name.as_deref(), Some("tick"));
        assert_eq!(dropped[0].window, "main");
        assert_eq!(dropped[0].reason, None);
        assert_eq!(dropped[0].kind, Some(MessageKind::Deliver));
        assert_eq!(
            dropped[0].detail.as_deref(),
            Some("the window's delivery queue is full")
        );
    }
    // Oldest first, and popping makes room again.
    let first = host.pop("main").unwrap();
    assert_eq!(first.kind, OutgoingKind::Event);
    assert_eq!(first.json, r#"{"event":"tick","payload":0}"#);
    assert!(host.emit("main", "tick", &json!(10)));
    // The byte bound holds too: one message over it is dropped.
    let big = json!("x".repeat(2000));
    while host.pop("main").is_some() {}
    assert!(!host.emit("main", "big", &big));
}

#[test]
fn a_reply_goes_to_the_frame_load_that_sealed_the_call_only() {
    let (host, calls, log) = host(HostLimits::default());
    let mut sealer = open_with_frame(&host, "main");
    // Queued for the caller's load.
    assert!(host.handle_and_queue(sender("main"), sealer.invoke(7, "greet", json!({}))));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let reply = host.pop("main").unwrap();
    assert_eq!(reply.kind, OutgoingKind::Reply);
    assert!(
        reply.json.starts_with(r#"{"id":7,"ok":true"#),
        "{}",
        reply.json
    );
    // An async router: the call is admitted, the page reloads, the reply
    // comes back too late for it.
    let Ok(Admitted::Call(call)) = host.check(sender("main"), sealer.invoke(8, "greet", json!({})))
    else {
        panic!("admitted")
    };
    let token = host.new_frame("main", None).unwrap();
    assert!(!host.reply(&call, Ok(json!("late"))));
    assert!(host.pop("main").is_none(), "the new page never sees it");
    let last = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        (last.outcome, last.reason, last.name.as_deref()),
        (
            Outcome::Dropped,
            Some(DiscardReason::StaleLoad),
            Some("greet")
        )
    );
    assert_eq!(last.kind, Some(MessageKind::Invoke));
    assert_eq!(
        last.detail.as_deref(),
        Some("the frame load that sealed the call is gone")
    );
    // The new load's calls are answered; a closed window's are dropped.
    let doc = host.take_frame(&token).unwrap();
    let mut fresh = Sealer::new(KEY, "main", ORIGIN, doc.load_id);
    let Ok(Admitted::Call(call)) = host.check(sender("main"), fresh.invoke(9, "greet", json!({})))
    else {
        panic!("admitted")
    };
    assert!(host.reply(&call, Err(json!("no"))));
    assert_eq!(
        host.pop("main").unwrap().json,
        r#"{"error":"no","id":9,"ok":false}"#
    );
    let Ok(Admitted::Call(call)) = host.check(sender("main"), fresh.invoke(10, "greet", json!({})))
    else {
        panic!("admitted")
    };
    host.close_window("main");
    assert!(!host.reply(&call, Ok(json!(1))));
    assert_eq!(host.counters().dropped, 2);
    assert_eq!(host.gate().counters().dropped, 2);
}

const EGRESS: &str = r#"{"version":1,"rules":[
    {"id":"balance","effect":"allow","deliver":["balance"],"windows":["wallet"],
     "payload":{"type":"object","properties":{"amount":{"type":"integer"}},"required":["amount"]}},
    {"id":"progress","effect":"allow","deliver":["progress"],"windows":["*"],"payload":{"type":"integer"}}]}"#;

#[test]
fn deliver_rules_decide_which_window_receives_which_event() {
    let (gate, _, log) = counting_gate(EGRESS);
    let host = Host::new(gate);
    host.open_window("wallet", ORIGIN).unwrap();
    host.open_window("preview", ORIGIN).unwrap();
    assert!(host.emit("wallet", "balance", &json!({"amount": 5})));
    assert!(
        !host.emit("preview", "balance", &json!({"amount": 5})),
        "not for preview"
    );
    assert!(
        !host.emit("wallet", "balance", &json!({"amount": 5, "key": "k"})),
        "payload"
    );
    assert!(host.emit("preview", "progress", &json!(50)));
    assert!(
        !host.emit("preview", "secret", &json!(null)),
        "no rule names it"
    );
    assert_eq!(
        host.pop("wallet").unwrap().json,
        r#"{"event":"balance","payload":{"amount":5}}"#
    );
    assert!(host.pop("wallet").is_none());
    assert_eq!(
        host.pop("preview").unwrap().json,
        r#"{"event":"progress","payload":50}"#
    );
    assert!(host.pop("preview").is_none());
    let log = log.lock().unwrap();
    let refused: Vec<_> = log
        .iter()
        .map(|e| {
            (
                e.outcome,
                e.reason,
                e.kind,
                e.window.as_str(),
                e.name.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            (
                Outcome::Dropped,
                Some(DiscardReason::Denied),
                Some(MessageKind::Deliver),
                "preview",
                Some("balance")
            ),
            (
                Outcome::Dropped,
                Some(DiscardReason::Denied),
                Some(MessageKind::Deliver),
                "wallet",
                Some("balance")
            ),
            (
                Outcome::Dropped,
                Some(DiscardReason::Denied),
                Some(MessageKind::Deliver),
                "preview",
                Some("secret")
            ),
        ]
    );
    assert!(log[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("no rule allows delivering event `balance` for window `preview`"));
    assert_eq!(host.counters().dropped, 3);
}

#[test]
fn without_deliver_rules_every_event_is_delivered() {
    let (host, _, log) = host(HostLimits::default());
    host.open_window("main", ORIGIN).unwrap();
    assert!(!host.gate().policy().governs_delivery());
    assert!(host.emit("main", "anything", &json!({"any": "thing"})));
    assert!(log.lock().unwrap().is_empty());
}

#[test]
fn set_wake_runs_at_once_when_messages_wait() {
    let (host, _, _) = host(HostLimits::default());
    host.open_window("main", ORIGIN).unwrap();
    host.emit("main", "early", &json!(null));
    let woken = Arc::new(AtomicUsize::new(0));
    let w = Arc::clone(&woken);
    host.set_wake(
        "main",
        Arc::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }),
    )
    .unwrap();
    assert_eq!(woken.load(Ordering::SeqCst), 1);
    host.clear_wake("main");
    host.emit("main", "later", &json!(null));
    assert_eq!(woken.load(Ordering::SeqCst), 1);
    assert_eq!(
        host.set_wake("nope", Arc::new(|| {})),
        Err(HostError::NoSuchWindow)
    );
}

#[test]
fn reopening_a_window_starts_it_over() {
    let (host, _, _) = host(HostLimits::default());
    host.open_window("main", ORIGIN).unwrap();
    let token = host.new_frame("main", None).unwrap();
    host.emit("main", "old", &json!(null));
    host.open_window("main", "http://127.0.0.1:9999").unwrap();
    assert!(host.pop("main").is_none(), "queue emptied");
    assert!(host.take_frame(&token).is_none(), "pending frame wiped");
    // The next frame is rendered for the new origin.
    let doc = host
        .take_frame(&host.new_frame("main", None).unwrap())
        .unwrap();
    assert!(doc.html.contains("http://127.0.0.1:9999"));
}

#[test]
fn audit_hub_subscribers_are_bounded_and_lose_lines_not_memory() {
    let hub = AuditHub::new(3, 2);
    hub.publish("backlog-0");
    let slow = hub.subscribe(None).unwrap();
    let fast = hub.subscribe(None).unwrap();
    assert!(hub.subscribe(None).is_none(), "at most 2 subscribers");
    // `fast` reads one line after each publish: it is always one behind.
    let mut read = Vec::new();
    for i in 1..=5 {
        hub.publish(&format!("line-{i}"));
        read.push(fast.pop().unwrap().to_string());
    }
    assert_eq!(read, ["backlog-0", "line-1", "line-2", "line-3", "line-4"]);
    // `slow` never read: it holds 3 lines (the backlog and two more) and lost 3.
    let lines: Vec<_> = std::iter::from_fn(|| slow.pop()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(&*lines[0], "backlog-0");
    assert_eq!(slow.dropped(), 3);
    assert_eq!(fast.dropped(), 0);
    drop(slow);
    assert_eq!(hub.subscribers(), 1);
    let late = hub.subscribe(None).unwrap();
    let backlog: Vec<_> = std::iter::from_fn(|| late.pop()).collect();
    assert_eq!(backlog.len(), 3, "the backlog is the last 3 lines");
    assert_eq!(&*backlog[2], "line-5");
}

#[test]
fn audit_events_cut_page_chosen_labels_and_keep_their_length() {
    let (host, _, log) = host(HostLimits::default());
    let label = "é".repeat(6000);
    let origin = format!("http://{}.example", "a".repeat(12_000));
    host.handle(
        Sender {
            window: &label,
            origin: &origin,
        },
        b"junk",
    );
    let log = log.lock().unwrap();
    let event = log.last().unwrap();
    assert_eq!(event.window.len(), 128);
    assert_eq!(event.window_len, Some(12_000));
    assert_eq!(event.origin.len(), 256);
    assert_eq!(event.origin_len, Some(origin.len()));
    assert!(event.to_json().len() < 1024);
    assert!(!event.to_json().contains(&"a".repeat(300)));
}

#[test]
fn audit_events_keep_short_labels_whole() {
    let (host, _, log) = host(HostLimits::default());
    host.handle(sender("main"), b"junk");
    let log = log.lock().unwrap();
    let event = log.last().unwrap();
    assert_eq!((event.window.as_str(), event.window_len), ("main", None));
    assert_eq!((event.origin.as_str(), event.origin_len), (ORIGIN, None));
    assert!(!event.to_json().contains("_len"));
}

#[test]
fn may_listen_tells_whether_a_window_can_ever_receive_an_event() {
    let (gate, _, _) = counting_gate(EGRESS);
    let at = |window| Sender {
        window,
        origin: ORIGIN,
    };
    assert!(gate.may_listen(at("wallet"), "balance"));
    assert!(!gate.may_listen(at("preview"), "balance"), "another window");
    assert!(gate.may_listen(at("preview"), "progress"), "payload aside");
    assert!(!gate.may_listen(at("wallet"), "secret"), "no rule names it");
    let scoped = r#"{"version":1,"rules":[
        {"id":"all","effect":"allow","deliver":["tick"],"windows":["*"],"payload":{"type":"any"}},
        {"id":"not-preview","effect":"deny","deliver":["tick"],"windows":["preview"]}]}"#;
    let (gate, _, log) = counting_gate(scoped);
    assert!(gate.may_listen(at("main"), "tick"));
    // A delivery refused by a deny rule names it.
    assert!(!gate.may_deliver(at("preview"), "tick", &json!(1)));
    assert_eq!(
        log.lock().unwrap().last().unwrap().rule.as_deref(),
        Some("not-preview")
    );
    assert!(!gate.may_listen(at("preview"), "tick"), "a scoped deny");
    let (gate, _, _) = counting_gate(POLICY);
    assert!(
        gate.may_listen(at("any"), "anything"),
        "egress not governed"
    );
}

#[test]
fn a_frame_ttl_too_long_for_the_clock_never_expires_and_never_panics() {
    let limits = HostLimits {
        frame_ttl: Duration::MAX,
        ..HostLimits::default()
    };
    let (host, _, _) = host(limits);
    host.open_window("main", ORIGIN).unwrap();
    let token = host.new_frame("main", None).unwrap();
    host.expire_frames();
    assert!(host.take_frame(&token).is_some());
}
