//! isogate in a real desktop webview: wry + tao on WebKitGTK, the engine
//! Tauri uses on Linux, wired with the `isogate-wry` helper.
//!
//! - The helper serves the app page's assets (this file's [`assets`]) on
//!   the `isogate-app` scheme (`isogate-app://localhost/`) and the isolation
//!   frame on `isogate-frame` (`isogate-frame://localhost/frame/<one-shot
//!   token>`): two origins, so the page cannot read the frame or its key.
//! - Each page load (the page's `<script src="isogate.js">`) renders a
//!   fresh frame document, served once with the headers of
//!   `FrameDocument::headers`.
//! - The page posts sealed envelopes as base64url text over wry's IPC; the
//!   helper feeds them to the host with the webview's label as the window
//!   and the origin of the URL the IPC request reports; replies and events
//!   come back through the host's bounded queues and `evaluate_script`.
//! - The frame runs the app's isolation hook, a file written for Tauri's
//!   `window.__TAURI_ISOLATION_HOOK__`, unchanged.
//! - Audit events go to stderr as JSON lines ([`json_lines_sink`]).
//!
//! `cargo run --manifest-path examples/wry-app/Cargo.toml` opens the app;
//! `-- --self-test` runs a scripted page and exits 0 or 1 by itself (under
//! `xvfb-run -a` on a machine without a display); `-- --learn FILE` (debug
//! builds) records the traffic for `isogate learn FILE`.

use isogate::router::Table;
use isogate::{
    json_lines_sink, AuditEvent, CounterSnapshot, DiscardReason, Gate, Grant, GrantValue, Host,
    LaunchKey, Outcome, Policy, PolicySource,
};
use isogate_wry::{respond, AppResponse, IsogateWry, Options as WryOptions};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tao::event::{Event, WindowEvent};
use tao::event_loop::{ControlFlow, EventLoopBuilder, EventLoopProxy};
use tao::window::WindowBuilder;
use wry::http::{Request, StatusCode};
use wry::{PageLoadEvent, WebViewBuilder};

/// The app page's origin exactly as WebKitGTK reports it, both as the page's
/// `location.origin` and in the URL of IPC requests (`IsogateWry::app_origin`
/// computes it per platform). The policy's `origins` name it.
const APP_ORIGIN: &str = "isogate-app://localhost";
/// The self-test's probes: a third custom scheme, never the frame's.
const PROBE_SCHEME: &str = "isogate-probe";
const WINDOW: &str = "main";
const POLICY: &str = include_str!("../policy.json");
const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const APP_CSS: &str = include_str!("page/app.css");
/// The app's isolation hook, written for Tauri and used unchanged.
const TAURI_HOOK: &str = include_str!("page/tauri-hook.js");
const MAX_KEPT_AUDIT_EVENTS: usize = 256;
/// The self-test fails if it has not finished by then.
const SELF_TEST_DEADLINE: Duration = Duration::from_secs(60);

enum UserEvent {
    /// Replies or events wait for the window (the helper's wake).
    Deliver,
    PageLoaded,
    PageOrigin(String),
    /// The self-test page sent its report (through the gate).
    Report,
}

/// What the host observes, for the self-test's verdict.
#[derive(Default)]
struct Observed {
    greet_calls: AtomicU64,
    forbidden_calls: AtomicU64,
    read_calls: AtomicU64,
    /// Whether `host.emit` refused the event the policy does not deliver.
    balance_withheld: std::sync::atomic::AtomicBool,
    audit: Mutex<VecDeque<AuditEvent>>,
    report: Mutex<Option<Value>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(serde::Deserialize)]
struct GreetArgs {
    name: String,
}

#[derive(serde::Deserialize)]
struct ReadArgs {
    path: String,
}

/// The file the self-test "picks" (a stand-in for a native file dialog).
const PICKED: &str = "/home/user/picked.txt";

struct Options {
    self_test: bool,
    learn: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        self_test: false,
        learn: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--self-test" => options.self_test = true,
            "--learn" => {
                let path = args.next().ok_or("--learn needs a file name")?;
                options.learn = Some(path.into());
            }
            "-h" | "--help" => {
                println!("usage: isogate-wry-app [--self-test] [--learn TRAFFIC.jsonl]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

fn main() {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    std::process::exit(match run(options) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    });
}

/// The app's own router, from before it had isogate.
fn router(observed: &Arc<Observed>) -> Table {
    let greets = Arc::clone(observed);
    let forbidden = Arc::clone(observed);
    let reads = Arc::clone(observed);
    Table::new()
        .typed("greet", move |args: GreetArgs, _call| {
            greets.greet_calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(format!("Hello, {}!", args.name))
        })
        .typed("read_file", move |args: ReadArgs, _call| {
            // The app's own file reading; the self-test's file is a stand-in.
            reads.read_calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(format!("contents of {}", args.path))
        })
        .command("delete_everything", move |_call| {
            // Never reached: the policy allows no such command.
            forbidden.forbidden_calls.fetch_add(1, Ordering::SeqCst);
            Ok(json!("everything deleted"))
        })
}

fn build_gate(
    observed: &Arc<Observed>,
    options: &Options,
    proxy: EventLoopProxy<UserEvent>,
) -> Result<Gate<Table>, String> {
    let policy = Policy::load(&[PolicySource {
        name: "examples/wry-app/policy.json",
        text: POLICY,
    }])
    .map_err(|e| format!("invalid policy:\n{e}"))?;
    let key = LaunchKey::generate().map_err(|e| e.to_string())?;
    let lines = json_lines_sink(std::io::stderr());
    let audit = Arc::clone(observed);
    let report = Arc::clone(observed);
    let gate = Gate::new(key, policy, router(observed))
        .with_audit(move |event| {
            lines(event);
            let mut kept = lock(&audit.audit);
            if kept.len() >= MAX_KEPT_AUDIT_EVENTS {
                kept.pop_front();
            }
            kept.push_back(event.clone());
        })
        .with_listener("self-test-report", move |event| {
            *lock(&report.report) = Some(event.payload.to_value());
            let _ = proxy.send_event(UserEvent::Report);
        });
    match &options.learn {
        #[cfg(debug_assertions)]
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| format!("cannot create `{}`: {e}", path.display()))?;
            eprintln!(
                "wry-app: learning mode: recording opened messages to {}",
                path.display()
            );
            Ok(gate.with_learning(file))
        }
        #[cfg(not(debug_assertions))]
        Some(_) => Err("--learn exists only in debug builds".into()),
        None => Ok(gate),
    }
}

/// The app's page, its script and its style sheet (the helper serves the
/// isogate script itself). `csp` is the page's Content-Security-Policy.
fn assets(request: &Request<Vec<u8>>, self_test: bool, csp: &str) -> Option<AppResponse> {
    let (content_type, body): (&str, Vec<u8>) = match request.uri().path() {
        "/" => {
            let mode = if self_test { "self-test" } else { "app" };
            (
                "text/html; charset=utf-8",
                INDEX_HTML.replace("{{MODE}}", mode).into_bytes(),
            )
        }
        "/app.js" => ("text/javascript", APP_JS.as_bytes().to_vec()),
        "/app.css" => ("text/css", APP_CSS.as_bytes().to_vec()),
        _ => return None,
    };
    let headers = [
        ("Content-Type", content_type.to_owned()),
        ("Content-Security-Policy", csp.to_owned()),
        ("Cache-Control", "no-store".to_owned()),
    ];
    Some(respond(StatusCode::OK, &headers, body))
}

/// The self-test's probes, on a custom scheme of their own: which response
/// headers WebKitGTK applies to custom-protocol documents.
fn serve_probe(request: &Request<Vec<u8>>) -> AppResponse {
    const PROBE: &str = "<!doctype html><script>parent.postMessage('isogate-probe', '*')</script>";
    let csp = match request.uri().path() {
        "/sandbox" => "sandbox allow-scripts",
        "/frame-ancestors" => "frame-ancestors 'none'",
        _ => return isogate_wry::not_found(),
    };
    let headers = [
        ("Content-Type", "text/html; charset=utf-8".to_owned()),
        ("Content-Security-Policy", csp.to_owned()),
    ];
    respond(StatusCode::OK, &headers, PROBE.as_bytes())
}

fn run(options: Options) -> Result<(), String> {
    let started = Instant::now();
    if options.self_test {
        std::thread::spawn(|| {
            std::thread::sleep(SELF_TEST_DEADLINE);
            eprintln!(
                "self-test: FAILED: no report within {} s (did the isolation frame load? see the location.origin line)",
                SELF_TEST_DEADLINE.as_secs()
            );
            std::process::exit(1);
        });
    }
    let self_test = options.self_test;
    let observed = Arc::new(Observed::default());
    let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    let gate = build_gate(&observed, &options, event_loop.create_proxy())?;
    let host = Arc::new(Host::new(gate));

    // isogate: the helper, woken through the event loop to deliver replies.
    let wake = event_loop.create_proxy();
    let wry_options = WryOptions {
        hook: Some(TAURI_HOOK.into()),
        ..WryOptions::default()
    };
    let isogate = IsogateWry::new(Arc::clone(&host), wry_options, move |_label| {
        let _ = wake.send_event(UserEvent::Deliver);
    })
    .map_err(|e| e.to_string())?;
    // The self-test page also tries to read a frame-origin document (so it
    // may connect there) and frames its probes; the app page may not.
    let (frame_origin, probe_origin) = (
        isogate.frame_origin(),
        format!("{PROBE_SCHEME}://localhost"),
    );
    let csp = if self_test {
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; frame-src {frame_origin} {probe_origin}; \
             connect-src {frame_origin}; base-uri 'none'; form-action 'none'"
        )
    } else {
        isogate.page_csp()
    };

    let window = WindowBuilder::new()
        .with_title("isogate in wry")
        .build(&event_loop)
        .map_err(|e| format!("cannot open a window: {e}"))?;
    let load_proxy = event_loop.create_proxy();
    let mut builder = isogate
        .attach(WebViewBuilder::new(), WINDOW, move |request| {
            assets(request, self_test, &csp)
        })
        .map_err(|e| e.to_string())?
        .with_on_page_load_handler(move |event, _url| {
            if matches!(event, PageLoadEvent::Finished) {
                let _ = load_proxy.send_event(UserEvent::PageLoaded);
            }
        });
    if self_test {
        builder =
            builder.with_custom_protocol(PROBE_SCHEME.into(), |_id, request| serve_probe(&request));
    }
    let webview = {
        use tao::platform::unix::WindowExtUnix;
        use wry::WebViewBuilderExtUnix;
        let vbox = window
            .default_vbox()
            .ok_or("the window has no GTK container")?;
        builder
            .build_gtk(vbox)
            .map_err(|e| format!("cannot create the webview: {e}"))?
    };
    eprintln!(
        "wry-app: window `{WINDOW}` loads {}/, isolation frame origin {}; audit events follow as JSON lines",
        isogate.app_origin(),
        isogate.frame_origin()
    );

    let origin_proxy = event_loop.create_proxy();
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        let _keep_window_alive = &window;
        match event {
            Event::UserEvent(UserEvent::Deliver) => {
                if let Err(e) = isogate.deliver(&webview) {
                    eprintln!("wry-app: cannot deliver to the page: {e}");
                }
            }
            Event::UserEvent(UserEvent::PageLoaded) => {
                let proxy = origin_proxy.clone();
                let _ = webview.evaluate_script_with_callback("location.origin", move |result| {
                    let origin = serde_json::from_str::<String>(&result).unwrap_or(result);
                    let _ = proxy.send_event(UserEvent::PageOrigin(origin));
                });
                if self_test {
                    // The user picked a file: this page load may read it once.
                    let picked = Grant {
                        command: "read_file".into(),
                        argument: "path".into(),
                        value: GrantValue::Exact(json!(PICKED)),
                        uses: 1,
                        ttl: Duration::from_secs(60),
                    };
                    if let Err(e) = host.grant(WINDOW, picked) {
                        eprintln!("wry-app: cannot grant the picked file: {e}");
                    }
                    // An event the policy delivers only to a `wallet` window.
                    let withheld = !host.emit(WINDOW, "wallet-balance", &json!({"sats": 21}));
                    observed.balance_withheld.store(withheld, Ordering::SeqCst);
                    // A core-to-window event, for the self-test page to receive.
                    host.emit(WINDOW, "self-test-hello", &json!({"from": "the core"}));
                }
            }
            Event::UserEvent(UserEvent::PageOrigin(origin)) => {
                eprintln!("wry-app: WebKitGTK reports the page's location.origin as {origin:?}");
            }
            Event::UserEvent(UserEvent::Report) if self_test => {
                let report = lock(&observed.report).take();
                if let Some(report) = report {
                    let passed = verdict(&report, &observed, &host);
                    println!(
                        "self-test: {} in {:.1} s",
                        if passed { "passed" } else { "FAILED" },
                        started.elapsed().as_secs_f64()
                    );
                    *control_flow = ControlFlow::ExitWithCode(if passed { 0 } else { 1 });
                }
            }
            Event::WindowEvent {
                event: WindowEvent::CloseRequested,
                ..
            } => {
                isogate.close(WINDOW);
                *control_flow = ControlFlow::Exit;
            }
            _ => {}
        }
    })
}

/// Prints every check and says whether all passed.
fn verdict(report: &Value, observed: &Observed, host: &Host<Table>) -> bool {
    let counters: CounterSnapshot = host.gate().counters();
    let mut passed = true;
    let mut check = |name: &str, ok: bool, detail: String| {
        println!(
            "self-test: {} {name}: {detail}",
            if ok { "ok  " } else { "FAIL" }
        );
        passed &= ok;
    };
    for result in report["results"].as_array().into_iter().flatten() {
        let name = result["name"].as_str().unwrap_or("?");
        let detail = result["detail"].as_str().unwrap_or("").to_owned();
        if result["info"] == json!(true) {
            println!("self-test: info {name}: {detail}");
        } else {
            check(name, result["ok"] == json!(true), detail);
        }
    }
    let page_origin = report["origin"].as_str().unwrap_or("");
    check(
        "the page's location.origin is the origin the frame was rendered for",
        page_origin == APP_ORIGIN,
        format!("{page_origin:?}"),
    );
    // The helper takes each message's sender origin from its IPC request's
    // URL; the audit events record it.
    let mut ipc_origins: Vec<String> = Vec::new();
    for event in lock(&observed.audit).iter() {
        if !ipc_origins.contains(&event.origin) {
            ipc_origins.push(event.origin.clone());
        }
    }
    check(
        "IPC requests report that origin too",
        ipc_origins == [APP_ORIGIN],
        format!("{ipc_origins:?}"),
    );
    let greets = observed.greet_calls.load(Ordering::SeqCst);
    check(
        "the router ran `greet` twice (the call and the first copy of the replayed envelope)",
        greets == 2,
        format!("{greets} calls"),
    );
    let reads = observed.read_calls.load(Ordering::SeqCst);
    check(
        "the router read the granted file once, and nothing else",
        reads == 1,
        format!("{reads} calls"),
    );
    let grant_used = lock(&observed.audit).iter().any(|e| {
        e.outcome == Outcome::Dispatched
            && e.name.as_deref() == Some("read_file")
            && e.grant.is_some()
    });
    check(
        "the dispatch of `read_file` names the grant it used",
        grant_used,
        grant_used.to_string(),
    );
    let withheld = observed.balance_withheld.load(Ordering::SeqCst);
    let dropped_event = lock(&observed.audit).iter().any(|e| {
        e.outcome == Outcome::Dropped
            && e.reason == Some(DiscardReason::Denied)
            && e.name.as_deref() == Some("wallet-balance")
    });
    check(
        "egress: `wallet-balance` is not delivered to `main`, and audited",
        withheld && dropped_event,
        format!("emit refused: {withheld}, audited: {dropped_event}"),
    );
    let forbidden = observed.forbidden_calls.load(Ordering::SeqCst);
    check(
        "the router never ran `delete_everything`",
        forbidden == 0,
        format!("{forbidden} calls"),
    );
    let denied_event = lock(&observed.audit).iter().any(|e| {
        e.outcome == Outcome::Discarded
            && e.reason == Some(DiscardReason::Denied)
            && e.name.as_deref() == Some("delete_everything")
    });
    check(
        "a `denied` audit event names `delete_everything`",
        denied_event,
        denied_event.to_string(),
    );
    let expected = [
        // `delete_everything`, the long name, the used-up and the other file.
        (DiscardReason::Denied, 4),
        (DiscardReason::Replay, 1),
        (DiscardReason::BadTag, 1),
        (DiscardReason::Malformed, 1),
    ];
    for (reason, n) in expected {
        let got = counters.discarded(reason);
        check(
            &format!("counters: {n} `{reason}` discard(s)"),
            got == n,
            got.to_string(),
        );
    }
    let expected_total: u64 = expected.iter().map(|(_, n)| n).sum();
    check(
        "counters: no other discards, 3 dispatched, 1 delivered, 1 dropped",
        counters.discarded_total() == expected_total
            && counters.dispatched == 3
            && counters.delivered == 1
            && counters.dropped == 1,
        format!(
            "{} discarded, {} dispatched, {} delivered, {} dropped",
            counters.discarded_total(),
            counters.dispatched,
            counters.delivered,
            counters.dropped
        ),
    );
    let host_counters = host.counters();
    check(
        "host: one frame rendered and served once, one event withheld, nothing from an unknown window",
        host_counters.frames_issued == 1
            && host_counters.frames_served == 1
            && host_counters.frames_unused == 0
            && host_counters.dropped == 1
            && host_counters.unknown_window == 0,
        format!("{host_counters:?}"),
    );
    passed
}
