//! isogate in a real desktop webview: wry + tao on WebKitGTK, the engine
//! Tauri uses on Linux.
//!
//! - The app page is served by the `isogate-app` custom protocol
//!   (`isogate-app://localhost/`), the isolation frame by `isogate-frame`
//!   (`isogate-frame://localhost/frame/<one-shot token>`): two origins, so
//!   the page cannot read the frame or its key.
//! - Each page load renders a fresh frame document (a new frame load, which
//!   retires the older ones), served once with the headers of
//!   [`FrameDocument::headers`].
//! - The page posts sealed envelopes as base64url text over wry's IPC
//!   (`window.ipc.postMessage`); the handler feeds them to
//!   [`Gate::handle_text`] with the window label and the origin of the URL
//!   the IPC request reports; replies go back with
//!   `evaluate_script("isogate.deliver(<reply>)")`.
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
    frame, json_lines_sink, AuditEvent, CounterSnapshot, DiscardReason, FrameDocument, Gate,
    LaunchKey, Outcome, Policy, PolicySource, Sender,
};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tao::event::{Event, WindowEvent};
use tao::event_loop::{ControlFlow, EventLoopBuilder};
use tao::window::WindowBuilder;
use wry::http::header::{HeaderName, HeaderValue};
use wry::http::{Request, Response, StatusCode};
use wry::{PageLoadEvent, WebViewBuilder};

const APP_SCHEME: &str = "isogate-app";
const FRAME_SCHEME: &str = "isogate-frame";
/// The app page's origin exactly as WebKitGTK reports it, both as the page's
/// `location.origin` and in the URL of IPC requests: scheme, `://`, host; no
/// port, no trailing slash. The frame is rendered for this origin and the
/// policy's `origins` name it.
const APP_ORIGIN: &str = "isogate-app://localhost";
const FRAME_ORIGIN: &str = "isogate-frame://localhost";
const WINDOW: &str = "main";
const POLICY: &str = include_str!("../policy.json");
const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const APP_CSS: &str = include_str!("page/app.css");
/// The app's isolation hook, written for Tauri and used unchanged.
const TAURI_HOOK: &str = include_str!("page/tauri-hook.js");
/// Frame documents rendered but not yet fetched; older ones are dropped.
const MAX_PENDING_FRAMES: usize = 8;
const MAX_KEPT_AUDIT_EVENTS: usize = 256;
/// The self-test fails if it has not finished by then.
const SELF_TEST_DEADLINE: Duration = Duration::from_secs(60);

enum UserEvent {
    /// A message the page posted over `window.ipc`, and the URL wry reports
    /// for it (the top-level page's URL on Linux).
    Ipc {
        url: String,
        text: String,
    },
    PageLoaded,
    PageOrigin(String),
}

/// What the host observes, for the self-test's verdict.
#[derive(Default)]
struct Observed {
    greet_calls: AtomicU64,
    forbidden_calls: AtomicU64,
    audit: Mutex<VecDeque<AuditEvent>>,
    report: Mutex<Option<Value>>,
    page_origin: Mutex<Option<String>>,
    ipc_origins: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(serde::Deserialize)]
struct GreetArgs {
    name: String,
}

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
    Table::new()
        .typed("greet", move |args: GreetArgs, _call| {
            greets.greet_calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(format!("Hello, {}!", args.name))
        })
        .command("delete_everything", move |_call| {
            // Never reached: the policy allows no such command.
            forbidden.forbidden_calls.fetch_add(1, Ordering::SeqCst);
            Ok(json!("everything deleted"))
        })
}

fn build_gate(observed: &Arc<Observed>, options: &Options) -> Result<Gate<Table>, String> {
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

type Frames = Mutex<VecDeque<(String, FrameDocument)>>;

fn respond(
    status: StatusCode,
    headers: &[(&str, String)],
    body: impl Into<Cow<'static, [u8]>>,
) -> Response<Cow<'static, [u8]>> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn not_found() -> Response<Cow<'static, [u8]>> {
    respond(
        StatusCode::NOT_FOUND,
        &[("Content-Type", "text/plain".into())],
        &b"not found"[..],
    )
}

fn token() -> String {
    (0..16)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// The `isogate-app` protocol: the page, its scripts, and on every page load
/// a fresh isolation frame for it.
fn serve_app(
    gate: &Gate<Table>,
    frames: &Frames,
    self_test: bool,
    request: &Request<Vec<u8>>,
) -> Response<Cow<'static, [u8]>> {
    let script = |text: &'static str| {
        respond(
            StatusCode::OK,
            &[("Content-Type", "text/javascript".into())],
            text.as_bytes(),
        )
    };
    match request.uri().path() {
        "/" => {
            let doc = match gate.render_frame(WINDOW, APP_ORIGIN, Some(TAURI_HOOK)) {
                Ok(doc) => doc,
                Err(e) => {
                    eprintln!("wry-app: cannot render the isolation frame: {e}");
                    return respond(StatusCode::INTERNAL_SERVER_ERROR, &[], &[][..]);
                }
            };
            let token = token();
            {
                let mut frames = lock(frames);
                if frames.len() >= MAX_PENDING_FRAMES {
                    frames.pop_front();
                }
                frames.push_back((token.clone(), doc));
            }
            let html = INDEX_HTML
                .replace("{{FRAME_URL}}", &format!("{FRAME_ORIGIN}/frame/{token}"))
                .replace("{{MODE}}", if self_test { "self-test" } else { "app" });
            // The self-test page also tries to read a frame-origin document,
            // so it may connect there; the app page may not.
            let connect = if self_test { FRAME_ORIGIN } else { "'none'" };
            let csp = format!(
                "default-src 'none'; script-src 'self'; style-src 'self'; frame-src {FRAME_ORIGIN}; \
                 connect-src {connect}; base-uri 'none'; form-action 'none'"
            );
            respond(
                StatusCode::OK,
                &[
                    ("Content-Type", "text/html; charset=utf-8".into()),
                    ("Content-Security-Policy", csp),
                    ("Cache-Control", "no-store".into()),
                ],
                html.into_bytes(),
            )
        }
        "/isogate-shim.js" => script(frame::SHIM_SCRIPT),
        "/app.js" => script(APP_JS),
        "/app.css" => respond(
            StatusCode::OK,
            &[("Content-Type", "text/css".into())],
            APP_CSS.as_bytes(),
        ),
        _ => not_found(),
    }
}

/// The `isogate-frame` protocol: each rendered frame document exactly once.
fn serve_frame(
    frames: &Frames,
    self_test: bool,
    request: &Request<Vec<u8>>,
) -> Response<Cow<'static, [u8]>> {
    let path = request.uri().path();
    if let Some(token) = path.strip_prefix("/frame/") {
        let doc = {
            let mut frames = lock(frames);
            let found = frames.iter().position(|(t, _)| t == token);
            found.and_then(|i| frames.remove(i))
        };
        return match doc {
            // Moved, not copied, into the response (`FrameDocument` wipes what is left).
            Some((_, mut doc)) => {
                let html = std::mem::take(&mut doc.html);
                respond(StatusCode::OK, &doc.headers(), html.into_bytes())
            }
            None => not_found(),
        };
    }
    if !self_test {
        return not_found();
    }
    // Probes for the self-test: which response headers WebKitGTK applies to
    // custom-protocol documents.
    const PROBE: &str = "<!doctype html><script>parent.postMessage('isogate-probe', '*')</script>";
    let html = ("Content-Type", "text/html; charset=utf-8".to_owned());
    match path {
        "/probe/secret" => respond(
            StatusCode::OK,
            &[
                ("Content-Type", "text/plain".into()),
                ("Cross-Origin-Resource-Policy", "same-origin".into()),
            ],
            &b"a frame-origin secret"[..],
        ),
        "/probe/sandbox" => respond(
            StatusCode::OK,
            &[
                html,
                ("Content-Security-Policy", "sandbox allow-scripts".into()),
            ],
            PROBE.as_bytes(),
        ),
        "/probe/frame-ancestors" => respond(
            StatusCode::OK,
            &[
                html,
                ("Content-Security-Policy", "frame-ancestors 'none'".into()),
            ],
            PROBE.as_bytes(),
        ),
        _ => not_found(),
    }
}

/// `scheme://host[:port]` of a URL, the port only when not the scheme's
/// default (`docs/WIRE.md` §2).
fn origin_of(url: &str) -> Option<String> {
    let uri: wry::http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    Some(match uri.port_u16() {
        Some(port) if Some(port) != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
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
    let observed = Arc::new(Observed::default());
    let gate = Arc::new(build_gate(&observed, &options)?);
    let frames: Arc<Frames> = Arc::new(Mutex::new(VecDeque::new()));
    let self_test = options.self_test;

    let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    let window = WindowBuilder::new()
        .with_title("isogate in wry")
        .build(&event_loop)
        .map_err(|e| format!("cannot open a window: {e}"))?;

    let (app_gate, app_frames) = (Arc::clone(&gate), Arc::clone(&frames));
    let frame_frames = Arc::clone(&frames);
    let ipc_proxy = event_loop.create_proxy();
    let load_proxy = event_loop.create_proxy();
    let builder = WebViewBuilder::new()
        .with_custom_protocol(APP_SCHEME.into(), move |_id, request| {
            serve_app(&app_gate, &app_frames, self_test, &request)
        })
        .with_custom_protocol(FRAME_SCHEME.into(), move |_id, request| {
            serve_frame(&frame_frames, self_test, &request)
        })
        .with_ipc_handler(move |request: Request<String>| {
            let url = request.uri().to_string();
            let _ = ipc_proxy.send_event(UserEvent::Ipc {
                url,
                text: request.into_body(),
            });
        })
        .with_on_page_load_handler(move |event, _url| {
            if matches!(event, PageLoadEvent::Finished) {
                let _ = load_proxy.send_event(UserEvent::PageLoaded);
            }
        })
        .with_url(format!("{APP_ORIGIN}/"));
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
        "wry-app: window `{WINDOW}` loads {APP_ORIGIN}/, isolation frame origin {FRAME_ORIGIN}; audit events follow as JSON lines"
    );

    let origin_proxy = event_loop.create_proxy();
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        let _keep_window_alive = &window;
        match event {
            Event::UserEvent(UserEvent::PageLoaded) => {
                let proxy = origin_proxy.clone();
                let _ = webview.evaluate_script_with_callback("location.origin", move |result| {
                    let origin = serde_json::from_str::<String>(&result).unwrap_or(result);
                    let _ = proxy.send_event(UserEvent::PageOrigin(origin));
                });
            }
            Event::UserEvent(UserEvent::PageOrigin(origin)) => {
                eprintln!("wry-app: WebKitGTK reports the page's location.origin as {origin:?}");
                *lock(&observed.page_origin) = Some(origin);
            }
            Event::UserEvent(UserEvent::Ipc { url, text }) => {
                let origin = origin_of(&url).unwrap_or_default();
                {
                    let mut seen = lock(&observed.ipc_origins);
                    if !seen.contains(&origin) {
                        eprintln!(
                            "wry-app: IPC requests report the URL {url:?}, origin {origin:?}"
                        );
                        seen.push(origin.clone());
                    }
                }
                let sender = Sender {
                    window: WINDOW,
                    origin: &origin,
                };
                if let Some(reply) = gate.handle_text(sender, &text) {
                    let script = format!("isogate.deliver({})", reply.to_json());
                    if let Err(e) = webview.evaluate_script(&script) {
                        eprintln!("wry-app: cannot deliver a reply: {e}");
                    }
                }
                if self_test {
                    let report = lock(&observed.report).take();
                    if let Some(report) = report {
                        let passed = verdict(&report, &observed, &gate.counters());
                        println!(
                            "self-test: {} in {:.1} s",
                            if passed { "passed" } else { "FAILED" },
                            started.elapsed().as_secs_f64()
                        );
                        *control_flow = ControlFlow::ExitWithCode(if passed { 0 } else { 1 });
                    }
                }
            }
            Event::WindowEvent {
                event: WindowEvent::CloseRequested,
                ..
            } => {
                gate.close_window(WINDOW);
                *control_flow = ControlFlow::Exit;
            }
            _ => {}
        }
    })
}

/// Prints every check and says whether all passed.
fn verdict(report: &Value, observed: &Observed, counters: &CounterSnapshot) -> bool {
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
    let ipc_origins = lock(&observed.ipc_origins).clone();
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
        (DiscardReason::Denied, 2),
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
        "counters: no other discards, 2 dispatched, 1 delivered",
        counters.discarded_total() == expected_total
            && counters.dispatched == 2
            && counters.delivered == 1,
        format!(
            "{} discarded, {} dispatched, {} delivered",
            counters.discarded_total(),
            counters.dispatched,
            counters.delivered
        ),
    );
    passed
}
