//! Side-by-side benchmarks of isogate against a hand-assembled floor and
//! against Tauri's isolation decoder, on the same plaintexts, both sides of
//! every ratio measured in the same run with their batches interleaved.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml -- --json [--quick] [--browser]
//! ```
//!
//! One JSON line per case: `{"case", "bytes", "isogate_ns", "baseline",
//! "baseline_ns", "ratio", ...}` with `ratio = isogate_ns / baseline_ns`.
//! `bench/plot.py` turns the lines into the tables and the plot of
//! `BENCHMARKS.md`.

mod alloc;
mod browser;
mod floor;
mod tauri;
mod timing;

#[path = "../../benches/common/mod.rs"]
mod fixtures;

use fixtures::{Lead, SENDER};
use isogate::stages::envelope;
use isogate::{MessageKind, Request};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use timing::Config;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

/// Envelope bytes a pool may hold in total (both sides iterate the same pool).
const POOL_BYTES: usize = 32 * 1024 * 1024;
/// Most envelopes in a pool (and so per fresh gate).
const POOL_MAX: usize = 4096;

struct Options {
    json: bool,
    quick: bool,
    browser: bool,
    only: Option<String>,
}

fn main() {
    let mut opts = Options {
        json: false,
        quick: false,
        browser: false,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => opts.json = true,
            "--quick" => opts.quick = true,
            "--browser" => opts.browser = true,
            "--only" => opts.only = args.next(),
            "--profile" => {
                // Spin one side for a profiler.
                let what = args.next().unwrap_or_default();
                let size: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(64);
                profile(&what, size);
                return;
            }
            "-h" | "--help" => {
                println!(
                    "usage: isogate-bench [--json] [--quick] [--browser] [--only CASE_PREFIX]\n\
                     --json     one JSON line per case (default: a readable line)\n\
                     --quick    short batches, the whole run within a minute\n\
                     --browser  also the headless-Chromium numbers (needs /usr/bin/chromium;\n\
                     \x20          builds target/release/isogate unless $ISOGATE_BIN is set)\n\
                     --only P   only the cases whose name starts with P\n\
                     --profile gate_binary|gate_text|floor_binary|floor_text SIZE\n\
                     \x20          spin one side for ten seconds (for perf or callgrind)"
                );
                return;
            }
            other => {
                eprintln!("unknown argument `{other}` (try --help)");
                std::process::exit(2);
            }
        }
    }
    let cfg = if opts.quick {
        Config::quick()
    } else {
        Config::full()
    };
    let started = Instant::now();
    let mut out = Output { opts: &opts };
    out.meta(&cfg);
    if out.wants("gate_binary") {
        for size in fixtures::SIZES {
            gate_vs_floor(&mut out, &cfg, size, Transport::Binary);
        }
    }
    if out.wants("gate_text") {
        for size in fixtures::SIZES {
            gate_vs_floor(&mut out, &cfg, size, Transport::Text);
        }
    }
    if out.wants("tauri") {
        for size in [1024, 256 * 1024, 4 * 1024 * 1024] {
            gate_vs_tauri(&mut out, &cfg, size);
        }
    }
    if out.wants("policy") {
        for lead in [Lead::Greet, Lead::ReadNote] {
            for commands in [50, 500] {
                policy_scaling(&mut out, &cfg, lead, commands);
            }
        }
    }
    if out.wants("replay") {
        replay_state(&mut out, &cfg);
    }
    if out.wants("threads") {
        two_threads(&mut out, &cfg);
    }
    if opts.browser && out.wants("browser") {
        match browser::run(opts.quick) {
            Ok(lines) => {
                for line in lines {
                    out.line(line);
                }
            }
            Err(e) => {
                eprintln!("browser benchmark failed: {e}");
                std::process::exit(1);
            }
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    out.line(json!({
        "case": "end",
        "loadavg_end": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        "seconds": round(started.elapsed().as_secs_f64()),
    }));
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
}

struct Output<'a> {
    opts: &'a Options,
}

impl Output<'_> {
    fn wants(&self, case: &str) -> bool {
        self.opts
            .only
            .as_deref()
            .is_none_or(|p| case.starts_with(p) || p.starts_with(case))
    }

    fn meta(&mut self, cfg: &Config) {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_owned())
            })
            .unwrap_or_default();
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
        self.line(json!({
            "case": "meta",
            "cpu": cpu,
            "nproc": nproc,
            "loadavg_start": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
            "mode": if self.opts.quick { "quick" } else { "full" },
            "batches": cfg.batches,
            "batch_ms": cfg.batch.as_secs_f64() * 1e3,
        }));
    }

    fn line(&mut self, v: Value) {
        if self.opts.json {
            println!("{v}");
        } else {
            let case = v["case"].as_str().unwrap_or("?");
            let mut text = format!("{case:<24}");
            if let Some(b) = v["bytes"].as_u64() {
                text.push_str(&format!(" {:>8}", fixtures::size_label(b as usize)));
            }
            for (k, x) in v.as_object().into_iter().flatten() {
                if k != "case" && k != "bytes" {
                    text.push_str(&format!("  {k}={x}"));
                }
            }
            println!("{text}");
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Binary,
    Text,
}

/// Envelopes per pool for envelopes of `len` bytes.
fn pool_len(len: usize) -> usize {
    (POOL_BYTES / len.max(1)).clamp(4, POOL_MAX)
}

fn mb_per_s(bytes: usize, ns: f64) -> f64 {
    bytes as f64 / ns * 1e3
}

/// A gate side: `n` envelopes through fresh gates, one gate per pool pass;
/// each gate first accepts `warm` (seq 0) unmeasured, so the measured
/// envelopes find the window already tracked.
fn gate_side<'p, T: 'p>(
    warm: &'p T,
    pool: &'p [T],
    handle: impl Fn(&isogate::Gate<fixtures::NoopRouter>, &T) -> bool + 'p,
) -> impl FnMut(u64) -> Duration + 'p {
    move |n| {
        let mut total = Duration::ZERO;
        let mut left = n as usize;
        while left > 0 {
            let gate = fixtures::gate();
            assert!(handle(&gate, warm), "warm-up envelope refused");
            let chunk = left.min(pool.len());
            let start = Instant::now();
            for env in &pool[..chunk] {
                std::hint::black_box(handle(&gate, env));
            }
            total += start.elapsed();
            left -= chunk;
        }
        total
    }
}

/// A baseline side over the same pool.
fn pool_side<'p, T: 'p, R>(
    pool: &'p [T],
    op: impl Fn(&T) -> R + 'p,
) -> impl FnMut(u64) -> Duration + 'p {
    move |n| {
        let mut left = n as usize;
        let start = Instant::now();
        while left > 0 {
            let chunk = left.min(pool.len());
            for item in &pool[..chunk] {
                std::hint::black_box(op(item));
            }
            left -= chunk;
        }
        start.elapsed()
    }
}

fn gate_vs_floor(out: &mut Output<'_>, cfg: &Config, size: usize, transport: Transport) {
    let plaintext = fixtures::plaintext(size);
    let sealed = fixtures::seal_pool(&plaintext, 1, 0..1);
    let pool_n = pool_len(sealed[0].len());
    let mut envs = fixtures::seal_pool(&plaintext, 1, 0..pool_n as u64 + 1);
    let warm = envs.remove(0);
    let floor = floor::Floor::new(&fixtures::KEY);
    let (case, wire, isogate_ns, floor_ns, allocs) = match transport {
        Transport::Binary => {
            check_gate(&warm, &envs);
            assert!(envs.iter().all(|e| floor.handle(e).is_some()));
            let allocs = allocations_per_message(
                &warm,
                &envs,
                |g, b| g.handle(SENDER, b).is_some(),
                |e| floor.handle(e).is_some(),
            );
            let mut g = gate_side(&warm, &envs, |g, b| g.handle(SENDER, b).is_some());
            let mut f = pool_side(&envs, |e| floor.handle(e));
            let (a, b) = timing::compare(cfg, &mut g, &mut f);
            ("gate_binary", warm.len(), a, b, allocs)
        }
        Transport::Text => {
            let warm = envelope::encode_base64(&warm);
            let texts: Vec<String> = envs.iter().map(|e| envelope::encode_base64(e)).collect();
            {
                let gate = fixtures::gate();
                assert!(gate.handle(SENDER, &warm).is_some());
                assert!(texts.iter().all(|t| gate.handle(SENDER, t).is_some()));
            }
            assert!(texts.iter().all(|t| floor.handle_text(t).is_some()));
            let allocs = allocations_per_message(
                &warm,
                &texts,
                |g, t| g.handle(SENDER, t).is_some(),
                |t| floor.handle_text(t).is_some(),
            );
            let mut g = gate_side(&warm, &texts, |g, t| g.handle(SENDER, t).is_some());
            let mut f = pool_side(&texts, |t| floor.handle_text(t));
            let (a, b) = timing::compare(cfg, &mut g, &mut f);
            ("gate_text", warm.len(), a, b, allocs)
        }
    };
    out.line(json!({
        "case": case,
        "bytes": size,
        "wire_bytes": wire,
        "isogate_ns": round(isogate_ns),
        "baseline": "floor",
        "baseline_ns": round(floor_ns),
        "ratio": round3(isogate_ns / floor_ns),
        "isogate_mb_s": round(mb_per_s(size, isogate_ns)),
        "baseline_mb_s": round(mb_per_s(size, floor_ns)),
        "carried_in": if size <= fixtures::MAX_JSON_CARRIED { "json" } else { "body" },
        "isogate_allocs": allocs.0,
        "baseline_allocs": allocs.1,
    }));
}

/// Heap allocations per message of the gate (a warm gate, the router
/// included) and of the floor, over up to 100 messages of the pool.
fn allocations_per_message<T>(
    warm: &T,
    pool: &[T],
    gate_op: impl Fn(&isogate::Gate<fixtures::NoopRouter>, &T) -> bool,
    floor_op: impl Fn(&T) -> bool,
) -> (f64, f64) {
    let pool = &pool[..pool.len().min(100)];
    let gate = fixtures::gate();
    assert!(gate_op(&gate, warm));
    let (ok, gate_calls) = alloc::allocations_of(|| pool.iter().all(|m| gate_op(&gate, m)));
    assert!(ok);
    let (ok, floor_calls) = alloc::allocations_of(|| pool.iter().all(floor_op));
    assert!(ok);
    let n = pool.len() as f64;
    (
        round3(gate_calls as f64 / n),
        round3(floor_calls as f64 / n),
    )
}

/// Every pool envelope is dispatched once by a fresh gate.
fn check_gate(warm: &[u8], envs: &[Vec<u8>]) {
    let gate = fixtures::gate();
    assert!(gate.handle(SENDER, warm).is_some(), "gate refused seq 0");
    for e in envs {
        let reply = gate.handle(SENDER, e).expect("gate dispatches the fixture");
        // The router answers the sum of what it read (a number).
        assert!(matches!(reply.result, Ok(Value::Number(_))), "{reply:?}");
    }
}

fn gate_vs_tauri(out: &mut Output<'_>, cfg: &Config, size: usize) {
    let payload = fixtures::payload(size);
    let plaintext = fixtures::body_plaintext(&payload);
    let one = fixtures::seal_pool(&plaintext, 1, 0..1);
    let pool_n = pool_len(one[0].len() * 4);
    let mut envs = fixtures::seal_pool(&plaintext, 1, 0..pool_n as u64 + 1);
    let warm = envs.remove(0);
    check_gate(&warm, &envs);
    let tauri = tauri::Tauri::new();
    let bodies: Vec<Vec<u8>> = (0..pool_n)
        .map(|i| {
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&(i as u64).to_be_bytes());
            tauri.seal(nonce, &payload, "application/octet-stream")
        })
        .collect();
    for b in &bodies {
        let decoded = tauri.decode(b).expect("tauri decodes its own payload");
        assert_eq!(decoded.raw_len(), size);
    }
    let mut g = gate_side(&warm, &envs, |g, b| g.handle(SENDER, b).is_some());
    let mut t = pool_side(&bodies, |b| tauri.decode(b));
    let (a, b) = timing::compare(cfg, &mut g, &mut t);
    out.line(json!({
        "case": "tauri_binary",
        "bytes": size,
        "wire_bytes": warm.len(),
        "baseline_wire_bytes": bodies[0].len(),
        "wire_ratio": round3(warm.len() as f64 / size as f64),
        "baseline_wire_ratio": round3(bodies[0].len() as f64 / size as f64),
        "isogate_ns": round(a),
        "baseline": "tauri",
        "baseline_ns": round(b),
        "ratio": round3(a / b),
        "speedup": round3(b / a),
        "isogate_mb_s": round(mb_per_s(size, a)),
        "baseline_mb_s": round(mb_per_s(size, b)),
    }));
}

fn policy_scaling(out: &mut Output<'_>, cfg: &Config, lead: Lead, commands: usize) {
    let (name, args, rule) = match lead {
        Lead::Greet => (
            "greet",
            json!({"name": "Ada Lovelace", "note": "first program"}),
            "regex",
        ),
        Lead::ReadNote => (
            "read_note",
            json!({"path": "/home/user/notes/2024/ideas.md"}),
            "path",
        ),
    };
    let one = fixtures::policy(1, lead);
    let many = fixtures::policy(commands, lead);
    let req = Request {
        window: fixtures::WINDOW,
        origin: fixtures::ORIGIN,
        kind: MessageKind::Invoke,
        name,
        args: &args,
    };
    assert!(one.decide(&req).allowed && many.decide(&req).allowed);
    let mut m = timing::plain(|| many.decide(&req));
    let mut o = timing::plain(|| one.decide(&req));
    let (a, b) = timing::compare(cfg, &mut m, &mut o);
    out.line(json!({
        "case": format!("policy_decide_{rule}"),
        "bytes": args.to_string().len(),
        "commands": commands,
        "isogate_ns": round(a),
        "baseline": "policy_1_command",
        "baseline_ns": round(b),
        "ratio": round3(a / b),
    }));
}

/// Two threads feeding one gate, each its own window, against one thread
/// alone: `scaling` is the two threads' messages per second over one
/// thread's (2.0 would be perfect on two cores).
fn two_threads(out: &mut Output<'_>, cfg: &Config) {
    use isogate::danger::Sealer;
    let text = r#"{"version": 1, "rules": [{"id": "greet", "effect": "allow",
      "commands": ["greet"], "windows": ["main", "second"], "origins": ["http://127.0.0.1:*"],
      "args": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "pattern": "[A-Za-z][A-Za-z ]{0,31}"}}}}]}"#;
    let policy = isogate::Policy::load(&[isogate::PolicySource {
        name: "threads.json",
        text,
    }])
    .expect("threads policy");
    let plaintext = fixtures::plaintext(64);
    let pool = |window: &str| {
        let sealer = Sealer::new(fixtures::KEY, window, fixtures::ORIGIN, 1);
        (0..=POOL_MAX as u64)
            .map(|seq| sealer.seal_at(seq, &plaintext))
            .collect::<Vec<_>>()
    };
    let (main, second) = (pool(fixtures::WINDOW), pool("second"));
    let second_sender = isogate::Sender {
        window: "second",
        origin: fixtures::ORIGIN,
    };
    let fresh = || {
        let gate = isogate::Gate::new(
            isogate::danger::key_from_bytes(fixtures::KEY),
            policy.clone(),
            fixtures::noop_router as fixtures::NoopRouter,
        );
        assert!(gate.handle(SENDER, &main[0]).is_some());
        assert!(gate.handle(second_sender, &second[0]).is_some());
        gate
    };
    // `n` messages on one thread, then `n` on each of two threads at once,
    // fresh gates every pool pass.
    let run = |n: u64, threads: usize| {
        let mut total = Duration::ZERO;
        let mut left = n as usize;
        while left > 0 {
            let chunk = left.min(POOL_MAX);
            let gate = fresh();
            let feed = |envs: &[Vec<u8>], sender| {
                for env in &envs[1..=chunk] {
                    assert!(std::hint::black_box(gate.handle(sender, env)).is_some());
                }
            };
            let start = Instant::now();
            if threads == 1 {
                feed(&main, SENDER);
            } else {
                std::thread::scope(|s| {
                    s.spawn(|| feed(&second, second_sender));
                    feed(&main, SENDER);
                });
            }
            total += start.elapsed();
            left -= chunk;
        }
        total
    };
    let mut one = |n| run(n, 1);
    let mut two = |n| run(n, 2);
    let (one_ns, two_ns) = timing::compare(cfg, &mut one, &mut two);
    out.line(json!({
        "case": "threads",
        "bytes": 64,
        "one_thread_ns": round(one_ns),
        "two_threads_ns": round(two_ns),
        "scaling": round3(2.0 * one_ns / two_ns),
    }));
}

fn replay_state(out: &mut Output<'_>, cfg: &Config) {
    const WINDOWS: usize = 1000;
    let labels: Vec<String> = (0..WINDOWS).map(|i| format!("window-{i:04}")).collect();
    let (guard, bytes) = alloc::live_bytes_of(|| {
        let mut g = isogate::stages::replay::ReplayGuard::new();
        for l in &labels {
            g.accept(l, 1, 0).expect("fresh window");
        }
        g
    });
    let label_bytes: usize = labels.iter().map(String::len).sum();
    drop(guard);
    // Time of one accept in a guard that tracks 1000 windows.
    let mut g = isogate::stages::replay::ReplayGuard::new();
    for l in &labels {
        g.accept(l, 1, 0).expect("fresh window");
    }
    let mut seq = 0u64;
    let mut i = 0usize;
    let ns = timing::single(
        cfg,
        &mut timing::plain(|| {
            i = (i + 1) % WINDOWS;
            if i == 0 {
                seq += 1;
            }
            g.accept(&labels[i], 1, seq + 1)
        }),
    );
    out.line(json!({
        "case": "replay_state",
        "windows": WINDOWS,
        "bytes": bytes,
        "per_window_bytes": round(bytes as f64 / WINDOWS as f64),
        "state_bytes": isogate::stages::replay::STATE_BYTES,
        "label_bytes": label_bytes,
        "limit_bytes": 1024 * 1024,
        "accept_ns": round(ns),
    }));
}

/// Runs one side alone for about ten seconds (for `perf record`).
fn profile(what: &str, size: usize) {
    let plaintext = fixtures::plaintext(size);
    let pool_n = pool_len(plaintext.len() + 64);
    let mut envs = fixtures::seal_pool(&plaintext, 1, 0..pool_n as u64 + 1);
    let warm = envs.remove(0);
    let texts: Vec<String> = envs.iter().map(|e| envelope::encode_base64(e)).collect();
    let warm_text = envelope::encode_base64(&warm);
    let floor = floor::Floor::new(&fixtures::KEY);
    let mut gb = gate_side(&warm, &envs, |g, b| g.handle(SENDER, b).is_some());
    let mut gt = gate_side(&warm_text, &texts, |g, t| g.handle(SENDER, t).is_some());
    let mut fb = pool_side(&envs, |e| floor.handle(e));
    let mut ft = pool_side(&texts, |t| floor.handle_text(t));
    let side: &mut dyn timing::Side = match what {
        "gate_binary" => &mut gb,
        "gate_text" => &mut gt,
        "floor_binary" => &mut fb,
        "floor_text" => &mut ft,
        _ => {
            eprintln!("--profile gate_binary|gate_text|floor_binary|floor_text SIZE");
            return;
        }
    };
    let start = Instant::now();
    let mut ops = 0u64;
    let mut busy = Duration::ZERO;
    while start.elapsed() < Duration::from_secs(10) {
        busy += side.run(pool_n as u64);
        ops += pool_n as u64;
    }
    eprintln!(
        "{what} {size}: {:.1} ns/op",
        busy.as_secs_f64() * 1e9 / ops as f64
    );
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
