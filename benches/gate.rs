//! Criterion benchmarks of every stage of the gate and of the whole gate:
//! envelope decode (binary and base64url), AES-256-GCM open, replay check,
//! message decode under limits, policy decision (1, 50 and 500 commands;
//! a regex and a path scope), dispatch to a no-op router, and `Gate::handle`
//! (binary and base64url text) end to end, at 64 B, 1 KiB, 16 KiB, 256 KiB and
//! 4 MiB.
//!
//! ```sh
//! cargo bench --bench gate                 # everything (a few minutes)
//! cargo bench --bench gate -- 'gate/'      # only the whole gate
//! ```
//!
//! An envelope is accepted once (replay window), so the whole-gate
//! benchmarks pre-seal a pool of envelopes with increasing sequence numbers
//! and run each pool pass through a fresh gate; sealing and gate set-up are
//! outside the measured time. The side-by-side comparisons (floor, Tauri)
//! live in the `bench/` crate; see `BENCHMARKS.md`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Lead, SENDER};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use isogate::danger;
use isogate::stages::envelope;
use isogate::stages::replay::ReplayGuard;
use isogate::Object;
use isogate::{Call, Router};
use isogate::{Limits, MessageKind, Request};
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Total envelope bytes in one pool.
const POOL_BYTES: usize = 32 * 1024 * 1024;

fn pool_len(envelope_len: usize) -> usize {
    (POOL_BYTES / envelope_len).clamp(4, 4096)
}

fn limits() -> Limits {
    Limits {
        max_message_bytes: common::MAX_MESSAGE_BYTES,
        ..Limits::default()
    }
}

fn envelope_stages(c: &mut Criterion) {
    let key = danger::key_from_bytes(common::KEY);
    let mut group = c.benchmark_group("envelope");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for size in common::SIZES {
        let env = common::seal_pool(&common::plaintext(size), 1, 0..1).remove(0);
        let text = envelope::encode_base64(&env);
        let label = common::size_label(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("decode", &label), &env, |b, env| {
            b.iter(|| envelope::decode(black_box(env)).map(|e| e.sealed.len()))
        });
        group.bench_with_input(
            BenchmarkId::new("decode_base64", &label),
            &text,
            |b, text| b.iter(|| envelope::decode_base64(black_box(text.as_bytes()))),
        );
        group.bench_with_input(BenchmarkId::new("open", &label), &env, |b, env| {
            let decoded = envelope::decode(env).unwrap();
            b.iter(|| envelope::open(&key, black_box(&decoded)))
        });
    }
    group.finish();
}

fn replay_stage(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("accept_in_order", |b| {
        let mut guard = ReplayGuard::new();
        let mut seq = 0u64;
        b.iter(|| {
            seq += 1;
            guard.accept(black_box("main"), 1, seq)
        })
    });
    group.bench_function("accept_out_of_order", |b| {
        // Pairs arrive swapped: seq 1, 0, 3, 2, ...
        let mut guard = ReplayGuard::new();
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            guard.accept(black_box("main"), 1, n ^ 1)
        })
    });
    group.bench_function("accept_among_1000_windows", |b| {
        let labels: Vec<String> = (0..1000).map(|i| format!("window-{i:04}")).collect();
        let mut guard = ReplayGuard::new();
        for l in &labels {
            guard.accept(l, 1, 0).unwrap();
        }
        let (mut i, mut seq) = (0usize, 0u64);
        b.iter(|| {
            i = (i + 1) % labels.len();
            if i == 0 {
                seq += 1;
            }
            guard.accept(black_box(&labels[i]), 1, seq + 1)
        })
    });
    group.finish();
}

fn message_stage(c: &mut Criterion) {
    let limits = limits();
    let mut group = c.benchmark_group("message");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for size in common::SIZES {
        let plaintext = common::plaintext(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("decode", common::size_label(size)),
            &plaintext,
            |b, p| b.iter(|| isogate::Message::decode(black_box(p), &limits).is_ok()),
        );
    }
    group.finish();
}

/// The message JSON of the 64 B and 1 KiB plaintexts read three ways: by
/// `Message::decode` (the crate's reader, with the WIRE.md field rules),
/// by serde_json into a `Value`, and by serde_json into borrowed typed
/// structs (no rules beyond the types); and `policies/demo.json` read into
/// the policy's spanned tree.
fn json_reader(c: &mut Criterion) {
    #[derive(serde::Deserialize)]
    struct Msg<'a> {
        #[serde(borrow)]
        kind: &'a str,
        id: u64,
        #[serde(borrow)]
        cmd: &'a str,
        #[serde(borrow)]
        args: Args<'a>,
    }
    #[derive(serde::Deserialize)]
    struct Args<'a> {
        #[serde(borrow)]
        name: &'a str,
        #[serde(borrow, default)]
        note: Option<&'a str>,
    }
    let limits = limits();
    let mut group = c.benchmark_group("json_reader");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for size in [64, 1024] {
        let plaintext = common::plaintext(size);
        let json = plaintext[4..].to_vec();
        let label = common::size_label(size);
        group.bench_with_input(
            BenchmarkId::new("message_decode", &label),
            &plaintext,
            |b, p| b.iter(|| isogate::Message::decode(black_box(p), &limits).is_ok()),
        );
        group.bench_with_input(BenchmarkId::new("serde_value", &label), &json, |b, j| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(j)).is_ok())
        });
        group.bench_with_input(BenchmarkId::new("serde_typed", &label), &json, |b, j| {
            b.iter(|| {
                serde_json::from_slice::<Msg<'_>>(black_box(j)).map(|m| {
                    black_box((m.kind, m.id, m.cmd, m.args.name, m.args.note));
                })
            })
        });
    }
    // A 1 MiB string, then an error at the end: the parser fails there and
    // the limit scan (`OverLimit` anywhere wins) reads the whole text again.
    let invalid = danger::plaintext(
        &format!(
            r#"{{"kind":"emit","event":"e","payload":["{}",1,]}}"#,
            "a".repeat(1024 * 1024)
        ),
        &[],
    );
    group.bench_with_input(
        BenchmarkId::new("message_decode_invalid", "1 MiB"),
        &invalid,
        |b, p| b.iter(|| isogate::Message::decode(black_box(p), &limits).is_err()),
    );
    let demo = include_str!("../policies/demo.json");
    group.bench_function("policy_parse/demo.json", |b| {
        b.iter(|| isogate::fuzzing::parse_policy_json(black_box(demo)))
    });
    group.bench_function("serde_value/demo.json", |b| {
        b.iter(|| serde_json::from_str::<Value>(black_box(demo)).is_ok())
    });
    group.finish();
}

fn policy_stage(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let cases = [
        (
            Lead::Greet,
            "decide_regex",
            "greet",
            json!({"name": "Ada Lovelace", "note": "first program"}),
        ),
        (
            Lead::ReadNote,
            "decide_path",
            "read_note",
            json!({"path": "/home/user/notes/2024/ideas.md"}),
        ),
    ];
    for (lead, name, cmd, args) in &cases {
        for commands in [1, 50, 500] {
            let policy = common::policy(commands, *lead);
            let req = Request {
                window: common::WINDOW,
                origin: common::ORIGIN,
                kind: MessageKind::Invoke,
                name: cmd,
                args,
            };
            assert!(policy.decide(&req).allowed);
            group.bench_function(BenchmarkId::new(*name, commands), |b| {
                b.iter(|| policy.decide(black_box(&req)))
            });
        }
    }
    group.finish();
}

fn dispatch_stage(c: &mut Criterion) {
    let mut group = c.benchmark_group("dispatch");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let args = json!({"name": "Ada"});
    let args = Object::from_map(args.as_object().unwrap());
    let call = Call {
        id: 1,
        cmd: "greet",
        args: &args,
        body: &[],
        sender: SENDER,
    };
    let router = common::noop_router as common::NoopRouter;
    group.bench_function("noop_fn_router", |b| {
        b.iter(|| Router::call(&router, black_box(call)))
    });
    let table = isogate::router::Table::new()
        .command("greet", |_| Ok(Value::Null))
        .command("add", |_| Ok(Value::Null));
    group.bench_function("noop_table_router", |b| {
        b.iter(|| table.call(black_box(call)))
    });
    group.finish();
}

/// The whole gate: each pool pass through a fresh gate that has already
/// accepted `warm` (seq 0) for the window, so only the pool is timed.
fn whole_gate(c: &mut Criterion) {
    let mut group = c.benchmark_group("gate");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for size in common::SIZES {
        let plaintext = common::plaintext(size);
        let one = common::seal_pool(&plaintext, 1, 0..1).remove(0);
        let n = pool_len(one.len());
        let mut pool = common::seal_pool(&plaintext, 1, 0..n as u64 + 1);
        let warm = pool.remove(0);
        let label = common::size_label(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("handle", &label), |b| {
            b.iter_custom(|iters| {
                run_pool(iters, &warm, &pool, |g, e| g.handle(SENDER, e).is_some())
            })
        });
        let warm_text = envelope::encode_base64(&warm);
        let texts: Vec<String> = pool.iter().map(|e| envelope::encode_base64(e)).collect();
        drop(pool);
        group.bench_function(BenchmarkId::new("handle_text", &label), |b| {
            b.iter_custom(|iters| {
                run_pool(iters, &warm_text, &texts, |g, t| {
                    g.handle(SENDER, t).is_some()
                })
            })
        });
    }
    group.finish();
}

fn run_pool<T>(
    iters: u64,
    warm: &T,
    pool: &[T],
    handle: impl Fn(&isogate::Gate<common::NoopRouter>, &T) -> bool,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters as usize;
    while left > 0 {
        let gate = common::gate();
        assert!(handle(&gate, warm));
        let chunk = left.min(pool.len());
        let start = Instant::now();
        for item in &pool[..chunk] {
            black_box(handle(&gate, black_box(item)));
        }
        total += start.elapsed();
        left -= chunk;
    }
    total
}

criterion_group! {
    name = stages;
    config = Criterion::default();
    targets = envelope_stages, replay_stage, message_stage, json_reader, policy_stage, dispatch_stage, whole_gate
}
criterion_main!(stages);
