//! isogate in a real Tauri v2 app: two builder lines put every command,
//! app or plugin, behind the gate; the frontend (`dist/`) is plain
//! `@tauri-apps/api` code (`window.__TAURI__` with `withGlobalTauri`).
//!
//! `cargo run --manifest-path isogate-tauri/Cargo.toml -p isogate-tauri-app`
//! opens the app; `-- --self-test` runs the scripted page, prints each check
//! and exits 0 or 1 by itself (under `xvfb-run -a` without a display);
//! `-- --bench` measures the same app without isolation, with Tauri's
//! isolation pattern and with isogate, side by side (`bench.rs`).

mod bench;

use isogate_tauri::isogate::host::HostCounters;
use isogate_tauri::isogate::{json_lines_sink, CounterSnapshot, DiscardReason, PolicySource};
use isogate_tauri::{BuilderExt as _, Isogate};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tauri::ipc::{Channel, InvokeBody, Request};
use tauri::{Emitter as _, Listener as _, State};

const POLICY: &str = include_str!("../policy.json");
/// The app's isolation hook, written for Tauri's isolation pattern, unchanged.
const TAURI_HOOK: &str = include_str!("tauri-hook.js");
/// The self-test fails if it has not finished by then.
const SELF_TEST_DEADLINE: Duration = Duration::from_secs(120);
const READABLE_CONTENT: &str = "read through isogate and the fs plugin";

/// What the app observes, for the self-test's verdict.
#[derive(Default)]
struct Observed {
    self_test: bool,
    /// `Some(mode)` when measuring (`--bench-run MODE`).
    bench: Option<bench::Mode>,
    greet_calls: AtomicU64,
    delete_calls: AtomicU64,
    digest_calls: AtomicU64,
    page_pings: AtomicU64,
    report_seen: AtomicBool,
    dir: PathBuf,
    last_ping: Mutex<Option<Value>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[tauri::command]
fn greet(name: String, observed: State<'_, Arc<Observed>>) -> String {
    observed.greet_calls.fetch_add(1, Ordering::SeqCst);
    format!("Hello, {name}!")
}

/// Registered with Tauri (and allowed by Tauri's ACL): only isogate's
/// policy keeps the page from it.
#[tauri::command]
fn delete_everything(observed: State<'_, Arc<Observed>>) -> &'static str {
    observed.delete_calls.fetch_add(1, Ordering::SeqCst);
    "everything deleted"
}

/// A raw binary argument (`tauri::ipc::Request`): its length and FNV-1a hash.
#[tauri::command]
fn digest(request: Request<'_>, observed: State<'_, Arc<Observed>>) -> Result<Value, String> {
    observed.digest_calls.fetch_add(1, Ordering::SeqCst);
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err("expected a binary body".into());
    };
    let fnv = bytes.iter().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    });
    Ok(json!({"len": bytes.len(), "fnv": fnv}))
}

/// Emits `core-ping` to window `main` (a core-to-page event).
#[tauri::command]
fn trigger_core_emit(app: tauri::AppHandle) -> Result<(), String> {
    app.emit_to("main", "core-ping", json!({"from": "core"}))
        .map_err(|e| e.to_string())
}

/// Sends a small and a large message over a Channel.
#[tauri::command]
fn stream(channel: Channel<String>) -> Result<(), String> {
    channel.send("small".into()).map_err(|e| e.to_string())?;
    channel.send("x".repeat(20_000)).map_err(|e| e.to_string())
}

#[tauri::command]
fn self_test_paths(observed: State<'_, Arc<Observed>>) -> Value {
    json!({
        "self_test": observed.self_test,
        "bench": observed.bench.map(bench::Mode::name),
        "readable": observed.dir.join("readable.txt"),
        "forbidden": observed.dir.join("forbidden.txt"),
        "content": READABLE_CONTENT,
    })
}

#[tauri::command]
fn report(
    results: Vec<Value>,
    app: tauri::AppHandle,
    observed: State<'_, Arc<Observed>>,
    isogate: State<'_, isogate_tauri::Handle>,
) {
    if !observed.self_test || observed.report_seen.swap(true, Ordering::SeqCst) {
        return;
    }
    let passed = verdict(
        &results,
        &observed,
        &isogate.counters(),
        &isogate.host().counters(),
    );
    let _ = std::fs::remove_dir_all(&observed.dir);
    println!("self-test: {}", if passed { "passed" } else { "FAILED" });
    app.exit(if passed { 0 } else { 1 });
}

/// The smallest command: the round trip is all there is to measure.
#[tauri::command]
fn ping() -> &'static str {
    "pong"
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (self_test, mode) = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => (false, None),
        ["--self-test"] => (true, None),
        ["--bench"] => std::process::exit(bench::drive()),
        ["--bench-run", mode] => match bench::Mode::parse(mode) {
            Some(mode) => (false, Some(mode)),
            None => usage(),
        },
        _ => usage(),
    };
    std::process::exit(match run(self_test, mode) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    });
}

fn usage() -> ! {
    eprintln!(
        "usage: isogate-tauri-app [--self-test | --bench | --bench-run brownfield|isolation|isogate]"
    );
    std::process::exit(2);
}

fn run(self_test: bool, mode: Option<bench::Mode>) -> Result<i32, String> {
    let started = Instant::now();
    if self_test || mode.is_some() {
        std::thread::spawn(|| {
            std::thread::sleep(SELF_TEST_DEADLINE);
            eprintln!(
                "self-test: FAILED: no report within {} s",
                SELF_TEST_DEADLINE.as_secs()
            );
            std::process::exit(1);
        });
    }
    let dir = std::env::temp_dir()
        .join("isogate-tauri-self-test")
        .join(std::process::id().to_string());
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(dir.join("readable.txt"), READABLE_CONTENT)
        .map_err(|e| format!("cannot write the readable file: {e}"))?;
    let observed = Arc::new(Observed {
        self_test,
        bench: mode,
        dir,
        ..Observed::default()
    });

    let isogate = Isogate::new(&[PolicySource {
        name: "examples/tauri-app/policy.json",
        text: POLICY,
    }])
    .map_err(|e| e.to_string())?
    .with_hook(TAURI_HOOK)
    .with_audit(json_lines_sink(std::io::stderr()));

    let pings = Arc::clone(&observed);
    let builder = match mode {
        // The same app without isogate: Tauri's own IPC (brownfield), or
        // Tauri's isolation pattern (its context below), for `--bench`.
        Some(bench::Mode::Brownfield | bench::Mode::Isolation) => tauri::Builder::default(),
        Some(bench::Mode::Isogate) | None => tauri::Builder::default().isogate(isogate),
    };
    let context = match mode {
        #[cfg(feature = "bench")]
        Some(bench::Mode::Isolation) => tauri::generate_context!("isolation/tauri.conf.json"),
        #[cfg(not(feature = "bench"))]
        Some(bench::Mode::Isolation) => {
            return Err("Tauri's isolation pattern needs `--features bench`".into())
        }
        _ => tauri::generate_context!(),
    };
    let app = builder
        .plugin(tauri_plugin_fs::init())
        .manage(Arc::clone(&observed))
        .invoke_handler(tauri::generate_handler![
            greet,
            delete_everything,
            digest,
            trigger_core_emit,
            stream,
            self_test_paths,
            report,
            ping,
            bench::bench_report
        ])
        .setup(move |app| {
            app.listen_any("page-ping", move |event| {
                pings.page_pings.fetch_add(1, Ordering::SeqCst);
                *lock(&pings.last_ping) = serde_json::from_str(event.payload()).ok();
            });
            Ok(())
        })
        .build(context)
        .map_err(|e| format!("cannot build the app: {e}"))?;
    let code = app.run_return(|_, _| {});
    if self_test {
        println!(
            "self-test: finished in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(code)
}

/// Prints every check and says whether all passed.
fn verdict(
    results: &[Value],
    observed: &Observed,
    counters: &CounterSnapshot,
    host: &HostCounters,
) -> bool {
    let mut passed = true;
    let mut check = |name: &str, ok: bool, detail: String| {
        println!(
            "self-test: {} {name}: {detail}",
            if ok { "ok  " } else { "FAIL" }
        );
        passed &= ok;
    };
    for result in results {
        let name = result["name"].as_str().unwrap_or("?");
        let detail = result["detail"].as_str().unwrap_or("").to_owned();
        if result["info"] == json!(true) {
            println!("self-test: info {name}: {detail}");
        } else {
            check(
                &format!("page: {name}"),
                result["ok"] == json!(true),
                detail,
            );
        }
    }
    check(
        "the page reported every check",
        results.iter().filter(|r| r["info"] != json!(true)).count() >= 17,
        format!("{} results", results.len()),
    );
    let greets = observed.greet_calls.load(Ordering::SeqCst);
    check(
        "`greet` ran three times (the call, the first copy of the replayed envelope, the call after the reload; not Mallory, not ipc://, not ipc.postMessage, not the stale envelope)",
        greets == 3,
        format!("{greets} calls"),
    );
    let deletes = observed.delete_calls.load(Ordering::SeqCst);
    check(
        "`delete_everything` never ran (policy, ipc://, ipc.postMessage)",
        deletes == 0,
        format!("{deletes} calls"),
    );
    let forbidden = observed.dir.join("forbidden.txt");
    check(
        "the fs plugin never wrote the forbidden file",
        !forbidden.exists(),
        forbidden.display().to_string(),
    );
    let digests = observed.digest_calls.load(Ordering::SeqCst);
    check(
        "`digest` ran once",
        digests == 1,
        format!("{digests} calls"),
    );
    let pings = observed.page_pings.load(Ordering::SeqCst);
    let ping = lock(&observed.last_ping).clone();
    check(
        "the core got the page's `page-ping` once, payload {\"n\": 7}",
        pings == 1 && ping == Some(json!({"n": 7})),
        format!("{pings} events, last {ping:?}"),
    );
    check(
        "one frame document per page load, each served once (two loads)",
        host.frames_issued == 2 && host.frames_served == 2,
        format!(
            "{} issued, {} served",
            host.frames_issued, host.frames_served
        ),
    );
    for (reason, at_least) in [
        (DiscardReason::Denied, 3),
        (DiscardReason::Replay, 1),
        (DiscardReason::StaleLoad, 1),
        (DiscardReason::Malformed, 2),
    ] {
        let got = counters.discarded(reason);
        check(
            &format!("gate counters: at least {at_least} `{reason}` discard(s)"),
            got >= at_least,
            got.to_string(),
        );
    }
    passed
}
