//! Limits and abuse: floods of garbage and of replays keep memory flat,
//! replay state is bounded per window and in total, the policy rate limits
//! each window on its own, and rate buckets are bounded in total.
//!
//! Each flood pushes 1,000,000 envelopes through one gate in the default
//! (debug) `cargo test` run, a few seconds each, and prints RSS before and
//! after (`VmRSS`, `VmHWM` from `/proc/self/status`; see them with
//! `cargo test --test flood -- --nocapture`). Tests in this file run one at a time so that RSS
//! readings are not disturbed by a neighbour.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use isogate::danger::{self, Sealer};
use isogate::stages::rate::{WindowRates, MAX_RATE_WINDOWS};
use isogate::stages::replay::{ReplayError, ReplayGuard, MAX_WINDOWS, STATE_BYTES};
use isogate::FrameError;
use isogate::{DiscardReason, Gate, Sender};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod common;

use common::{key, policy, BoxedRouter, KEY, MAIN, ORIGIN};

/// Allowed RSS growth over a flood.
const MAX_GROWTH_KIB: u64 = 4 * 1024;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// `(VmRSS, VmHWM)` in KiB.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} missing from /proc/self/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

const ALLOW_GREET: &str = r#"{"version":1,"rules":[{"id":"greet","effect":"allow","commands":["greet"],"windows":["*"],"args":{"type":"object","additional":true}}]}"#;

type CountingGate = Gate<BoxedRouter>;

/// A gate with a counting router and a counting (not storing) audit sink:
/// floods measure RSS, so audit events are not kept.
fn gate(policy_text: &str) -> (CountingGate, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let audits = Arc::new(AtomicUsize::new(0));
    let (c, a) = (Arc::clone(&calls), Arc::clone(&audits));
    let router: BoxedRouter = Box::new(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        Ok(Value::Null)
    });
    let gate = Gate::new(key(), policy(policy_text), router).with_audit(move |_| {
        a.fetch_add(1, Ordering::Relaxed);
    });
    (gate, calls, audits)
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Reports and checks RSS growth from `before`.
fn check_growth(what: &str, n: usize, before: (u64, u64), elapsed: Duration) {
    let after = rss();
    eprintln!(
        "{what}: {n} envelopes in {:.2} s ({:.0}/s); VmRSS {} -> {} KiB, VmHWM {} -> {} KiB",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        before.0,
        after.0,
        before.1,
        after.1
    );
    assert!(
        after.0.saturating_sub(before.0) < MAX_GROWTH_KIB,
        "{what}: VmRSS grew by {} KiB",
        after.0 - before.0
    );
    assert!(
        after.1.saturating_sub(before.1) < MAX_GROWTH_KIB,
        "{what}: VmHWM grew by {} KiB",
        after.1 - before.1
    );
}

/// `n` garbage envelopes of four kinds through one gate: random bytes,
/// a valid envelope with one byte changed, a valid header with a random
/// sealed part, and a truncated valid envelope. None reaches the router.
fn garbage_flood(n: usize) {
    let _serial = serial();
    let (gate, calls, audits) = gate(ALLOW_GREET);
    let valid = Sealer::new(KEY, "main", ORIGIN, 1).invoke(1, "greet", json!({"name": "Ada"}));
    let header_len = isogate::stages::envelope::decode(&valid)
        .unwrap()
        .header
        .len();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut buf: Vec<u8> = Vec::with_capacity(512);
    let mut run = |count: usize, buf: &mut Vec<u8>| {
        for i in 0..count {
            let x = rng.next();
            buf.clear();
            match i % 4 {
                0 => buf.extend((0..x % 256).map(|j| (x >> (j % 57)) as u8)),
                1 => {
                    buf.extend_from_slice(&valid);
                    let at = (x as usize) % buf.len();
                    buf[at] ^= 1 | (x >> 56) as u8;
                }
                2 => {
                    buf.extend_from_slice(&valid[..header_len]);
                    buf.extend((0..16 + x % 64).map(|j| (x >> (j % 61)) as u8));
                }
                _ => buf.extend_from_slice(&valid[..(x as usize) % valid.len()]),
            }
            assert!(gate.handle(MAIN, &buf[..]).is_none());
        }
    };
    // Warm up the allocator and the gate's maps before measuring.
    run(10_000, &mut buf);
    let before = rss();
    let start = Instant::now();
    run(n, &mut buf);
    check_growth("garbage flood", n, before, start.elapsed());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "garbage reached the router"
    );
    let counters = gate.counters();
    assert_eq!(counters.discarded_total(), (n + 10_000) as u64);
    assert_eq!(
        counters.discarded(DiscardReason::Malformed) + counters.discarded(DiscardReason::BadTag),
        (n + 10_000) as u64
    );
    // The audit cap held: far fewer events than envelopes reached the sink.
    assert!(audits.load(Ordering::Relaxed) < n / 2);
    // The gate still works.
    let fresh = Sealer::new(KEY, "main", ORIGIN, 1).invoke(2, "greet", json!({}));
    assert!(gate.handle(MAIN, &fresh).is_some());
}

/// One valid envelope, accepted once, then replayed `n` times.
fn replay_flood(n: usize) {
    let _serial = serial();
    let (gate, calls, _) = gate(ALLOW_GREET);
    let env = Sealer::new(KEY, "main", ORIGIN, 1).invoke(1, "greet", json!({"name": "Ada"}));
    assert!(gate.handle(MAIN, &env).is_some());
    for _ in 0..10_000 {
        assert!(gate.handle(MAIN, &env).is_none());
    }
    let before = rss();
    let start = Instant::now();
    for _ in 0..n {
        assert!(gate.handle(MAIN, &env).is_none());
    }
    check_growth("replay flood", n, before, start.elapsed());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "a replay reached the router"
    );
    assert_eq!(
        gate.counters().discarded(DiscardReason::Replay),
        (n + 10_000) as u64
    );
}

#[test]
fn garbage_flood_1m_keeps_memory_flat() {
    garbage_flood(1_000_000);
}

#[test]
fn replay_flood_1m_keeps_memory_flat() {
    replay_flood(1_000_000);
}

#[test]
fn replay_state_per_window_is_fixed_size() {
    let _serial = serial();
    // 48 bytes per window (WIRE.md section 3) whatever the traffic: a
    // million accepted sequence numbers, in order and with gaps, and one
    // window still tracked.
    assert_eq!(STATE_BYTES, 48);
    let mut guard = ReplayGuard::new();
    let before = rss();
    for seq in 0..1_000_000u64 {
        guard.accept("w", 1, seq * 3).unwrap();
    }
    assert_eq!(guard.len(), 1);
    assert_eq!(guard.accept("w", 1, 0), Err(ReplayError::Replay));
    let after = rss();
    eprintln!(
        "one window, 1000000 sequence numbers: VmRSS {} -> {} KiB",
        before.0, after.0
    );
    assert!(after.0.saturating_sub(before.0) < MAX_GROWTH_KIB);
}

#[test]
fn replay_state_is_bounded_in_total() {
    let _serial = serial();
    // A flood of envelopes, each sealed for a new window label (as a host
    // that trusts page-chosen labels would let a page do), fills at most
    // MAX_WINDOWS slots; past that, new windows are discarded (`over_limit`)
    // and cannot get a frame, while known windows keep working.
    let (gate, calls, _) = gate(ALLOW_GREET);
    let before = rss();
    let start = Instant::now();
    for i in 0..MAX_WINDOWS {
        let label = format!("w{i}");
        let env = Sealer::new(KEY, &label, ORIGIN, 1).seal_at(0, b"not a message");
        let sender = Sender {
            window: &label,
            origin: ORIGIN,
        };
        assert!(gate.handle(sender, &env).is_none());
    }
    let after = rss();
    eprintln!(
        "{MAX_WINDOWS} windows in {:.2} s; VmRSS {} -> {} KiB ({} bytes per window)",
        start.elapsed().as_secs_f64(),
        before.0,
        after.0,
        after.0.saturating_sub(before.0) * 1024 / MAX_WINDOWS as u64
    );
    // 48 bytes of state, a short label, the map's overhead and allocator
    // slack per window: measured about 260 bytes; bounded well below 512.
    assert!(after.0.saturating_sub(before.0) < (MAX_WINDOWS as u64 * 512) / 1024);
    let c = gate.counters();
    assert_eq!(
        c.discarded(DiscardReason::BadMessage),
        MAX_WINDOWS as u64,
        "every window was tracked"
    );
    let extra = Sender {
        window: "one-too-many",
        origin: ORIGIN,
    };
    let env = Sealer::new(KEY, "one-too-many", ORIGIN, 1).invoke(1, "greet", json!({}));
    assert!(gate.handle(extra, &env).is_none());
    assert_eq!(gate.counters().discarded(DiscardReason::OverLimit), 1);
    assert!(matches!(
        gate.render_frame("one-too-many", ORIGIN, None),
        Err(FrameError::TooManyWindows)
    ));
    // A known window still works; closing one frees a slot.
    let w0 = Sender {
        window: "w0",
        origin: ORIGIN,
    };
    let next = Sealer::new(KEY, "w0", ORIGIN, 1).seal_at(
        1,
        &danger::plaintext(r#"{"kind":"invoke","id":2,"cmd":"greet","args":{}}"#, b""),
    );
    assert!(gate.handle(w0, &next).is_some());
    gate.close_window("w1");
    assert!(gate.render_frame("one-too-many", ORIGIN, None).is_ok());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn rate_buckets_are_bounded_in_total() {
    let _serial = serial();
    let now = Instant::now();
    let mut rates = WindowRates::default();
    for i in 0..MAX_RATE_WINDOWS {
        assert!(rates.allow(&format!("w{i}"), 1, 2, now));
    }
    // Every bucket is part-used, so none can be dropped: a new window is
    // refused rather than growing the map.
    assert!(!rates.allow("one-too-many", 1, 2, now));
    // Once buckets have refilled they carry no state and make room.
    assert!(rates.allow("one-too-many", 1, 2, now + Duration::from_secs(10)));
}

#[test]
fn policy_rate_limits_each_window_on_its_own() {
    let _serial = serial();
    let text = r#"{"version":1,"limits":{"rate":{"per_second":1,"burst":5}},
      "rules":[{"id":"greet","effect":"allow","commands":["greet"],"windows":["main","settings"],
                "args":{"type":"object","additional":true}}]}"#;
    let (gate, calls, _) = gate(text);
    let rate = gate.policy().rate().expect("limits.rate is parsed");
    assert_eq!((rate.per_second, rate.burst), (1, 5));
    let start = Instant::now();
    let mut main = Sealer::new(KEY, "main", ORIGIN, 1);
    let envelopes: Vec<Vec<u8>> = (0..20)
        .map(|i| main.invoke(i, "greet", json!({})))
        .collect();
    let answered = envelopes
        .iter()
        .filter(|env| gate.handle(MAIN, *env).is_some())
        .count();
    let refilled = start.elapsed().as_secs() as usize;
    assert!(
        (5..=5 + refilled + 1).contains(&answered),
        "{answered} answered"
    );
    assert_eq!(calls.load(Ordering::SeqCst), answered);
    assert_eq!(
        gate.counters().discarded(DiscardReason::RateLimited),
        (20 - answered) as u64
    );
    // Another window has its own bucket.
    let settings = Sender {
        window: "settings",
        origin: ORIGIN,
    };
    let mut s = Sealer::new(KEY, "settings", ORIGIN, 2);
    assert!(gate
        .handle(settings, s.invoke(1, "greet", json!({})))
        .is_some());
    // A rate-limited envelope was not accepted, so it is not consumed: once
    // the bucket refills it is accepted, once.
    std::thread::sleep(Duration::from_millis(1100));
    assert!(gate.handle(MAIN, &envelopes[19]).is_some());
    std::thread::sleep(Duration::from_millis(1100));
    assert!(gate.handle(MAIN, &envelopes[19]).is_none());
    assert_eq!(gate.counters().discarded(DiscardReason::Replay), 1);
    assert_eq!(calls.load(Ordering::SeqCst), answered + 2);
}

#[test]
fn every_envelope_past_the_tag_counts_against_the_rate() {
    let _serial = serial();
    // Regression: only allowed messages counted, so a page could make the
    // core open, decode and decide denied or invalid messages without limit.
    let text = r#"{"version":1,"limits":{"rate":{"per_second":1,"burst":5}},
      "rules":[{"id":"greet","effect":"allow","commands":["greet"],"windows":["main"],
                "args":{"type":"object","additional":true}}]}"#;
    let (gate, calls, _) = gate(text);
    let mut main = Sealer::new(KEY, "main", ORIGIN, 1);
    // Envelopes that fail the tag cost the page nothing: they are not its
    // frame's, and anyone could send them in its name.
    for _ in 0..50 {
        let mut env = main.invoke(0, "greet", json!({}));
        let last = env.len() - 1;
        env[last] ^= 1;
        assert!(gate.handle(MAIN, &env).is_none());
    }
    assert_eq!(gate.counters().discarded(DiscardReason::BadTag), 50);
    // Denied commands, invalid messages and replays all count.
    let denied = main.invoke(1, "delete_everything", json!({}));
    assert!(gate.handle(MAIN, &denied).is_none());
    assert!(gate.handle(MAIN, &denied).is_none());
    assert!(gate
        .handle(MAIN, main.seal_json(r#"{"kind":"nope"}"#, b""))
        .is_none());
    assert!(gate
        .handle(MAIN, main.invoke(2, "delete_everything", json!({})))
        .is_none());
    assert!(gate
        .handle(MAIN, main.invoke(3, "delete_everything", json!({})))
        .is_none());
    let c = gate.counters();
    assert_eq!(
        (
            c.discarded(DiscardReason::Denied),
            c.discarded(DiscardReason::Replay),
            c.discarded(DiscardReason::BadMessage),
            c.discarded(DiscardReason::RateLimited),
        ),
        (3, 1, 1, 0)
    );
    // The burst of 5 is spent: the next denied one, and even an allowed
    // call, are over the rate.
    assert!(gate
        .handle(MAIN, main.invoke(4, "delete_everything", json!({})))
        .is_none());
    assert!(gate
        .handle(MAIN, main.invoke(5, "greet", json!({})))
        .is_none());
    assert_eq!(gate.counters().discarded(DiscardReason::RateLimited), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn oversized_envelopes_are_refused_before_decoding() {
    let _serial = serial();
    let (gate, calls, _) = gate(ALLOW_GREET);
    let gate = gate.with_max_envelope_len(4096);
    let big = vec![b'A'; 8 * 1024 * 1024];
    assert!(gate.handle(MAIN, &big).is_none());
    let before = rss();
    // 8 MiB of base64 text would decode to 6 MiB; the bound refuses it
    // before allocating the decoded copy.
    let text = std::str::from_utf8(&big).unwrap();
    assert!(gate.handle(MAIN, text).is_none());
    let after = rss();
    assert!(after.1.saturating_sub(before.1) < 1024, "decoded anyway");
    assert_eq!(gate.counters().discarded(DiscardReason::TooLarge), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn closing_a_window_does_not_reopen_its_replay_window() {
    let _serial = serial();
    // Regression (tests/corpus/crashes/gate/replay-after-close-window): after
    // `close_window` freed a window's replay state, every envelope that
    // window had sent was accepted once more, by whatever next sent with its
    // label before a new frame was rendered.
    let (gate, calls, _) = gate(ALLOW_GREET);
    let settings = Sender {
        window: "settings",
        origin: ORIGIN,
    };
    let doc = gate.render_frame("settings", ORIGIN, None).unwrap();
    let env = Sealer::new(KEY, "settings", ORIGIN, doc.load_id).invoke(1, "greet", json!({}));
    assert!(gate.handle(settings, &env).is_some());
    gate.close_window("settings");
    assert!(gate.handle(settings, &env).is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(gate.counters().discarded(DiscardReason::StaleLoad), 1);
    // The window comes back with a new frame load.
    let doc = gate.render_frame("settings", ORIGIN, None).unwrap();
    let mut sealer = Sealer::new(KEY, "settings", ORIGIN, doc.load_id);
    assert!(gate
        .handle(settings, sealer.invoke(2, "greet", json!({})))
        .is_some());
    assert!(gate.handle(settings, &env).is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
