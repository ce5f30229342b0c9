//! `isogate demo`: a loopback HTTP host for the demo app, built on the host
//! layer (`isogate::Host`, `isogate::AuditHub`) and hyper.
//!
//! Three origins, three ports on 127.0.0.1:
//!
//! - the **page** (`--port`): the untrusted demo page, the shim, `POST
//!   /frame` (a fresh isolation frame for a window), `POST /ipc` (one
//!   envelope; the reply or `204`) and `GET /events` (core-to-window
//!   events as server-sent events). Nothing it serves carries an audit
//!   field, a discard reason or a counter;
//! - the **frame** origin: each frame document once, under its token;
//! - the **audit console** (host only): the console page, `/audit` (live
//!   audit events), `/audit.json` (the recent ones) and `/stats`, and the
//!   host's own actions: `POST /grant` (the stand-in file picker: window
//!   `?window=` may read the picked file once) and `POST /broadcast` (the
//!   core sends `settings-saved` to every window; the policy's `deliver`
//!   rules let only `settings` have it). It refuses requests that another
//!   origin makes (`Origin`, `Sec-Fetch-Site`), cannot be framed, and sends
//!   no CORS headers, so the page it audits can neither read it nor act
//!   through it.
//!
//! Windows are named by the host: `main` and `settings` (the policy's
//! windows) are opened at start; `?window=` only picks one of them.

mod server;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use isogate::host::{OutgoingKind, Wake};
use isogate::{
    AuditHub, Call, Gate, Grant, GrantValue, Host, LaunchKey, Policy, PolicySource, Router, Sender,
};
use serde_json::{json, Value};
use server::{
    closing, empty, event_stream, header, host_is, plain, read_body, respond, set, set_text, Body,
    Conn, ConnStats, EventStream, Handling, KEEPALIVE,
};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};

/// The embedded default policy.
pub const DEMO_POLICY: &str = include_str!("../../policies/demo.json");
const INDEX_HTML: &str = include_str!("demo/index.html");
const APP_JS: &str = include_str!("demo/app.js");
const APP_CSS: &str = include_str!("demo/app.css");
const CONSOLE_HTML: &str = include_str!("demo/console.html");
const CONSOLE_JS: &str = include_str!("demo/console.js");

/// The windows the demo serves, named by the host (the policy names them).
const WINDOWS: [&str; 2] = ["main", "settings"];
/// Largest envelope accepted on `POST /ipc`: the demo policy's
/// `max_message_bytes` and room for the envelope's header and tag.
const MAX_IPC_BODY: usize = 1_048_640 + 1024;
/// Request body bytes held by all requests at once.
const BODY_BUDGET: usize = 8 * 1024 * 1024;
/// Connections open at once, per origin. A connection costs a task and
/// hyper's buffers (at most [`server::MAX_BUF`] each way); one that sends
/// its head slowly is cut after [`server::HEADER_TIMEOUT`], so a legitimate
/// request waits at most that long behind a full page listener.
const MAX_PAGE_CONNECTIONS: usize = 256;
const MAX_FRAME_CONNECTIONS: usize = 32;
const MAX_CONSOLE_CONNECTIONS: usize = 32;
/// Audit lines kept per console reader and as backlog.
const AUDIT_LINES: usize = 1000;
/// Live console readers at once (`/audit` streams and `/audit.json` reads).
const AUDIT_READERS: usize = 5;
/// How often unfetched frame documents are wiped.
const FRAME_SWEEP: Duration = Duration::from_secs(5);
/// The file the console's stand-in picker picks, and what the router
/// answers for it.
const PICKED_PATH: &str = "/home/user/picked.txt";
const PICKED_CONTENTS: &str = "the picked file: granted by the host, read once";
/// How long a pick lasts, and how many reads it allows.
const PICK_TTL: Duration = Duration::from_secs(60);
const PICK_USES: u32 = 1;
/// The event the console's broadcast button sends to every window, and
/// what it carries (only `settings` may see it: `policies/demo.json`).
const SETTINGS_SAVED: &str = "settings-saved";

/// The demo app's own router: what the app had before it added isogate.
struct DemoRouter {
    stats: Arc<Stats>,
}

/// What the console's `/stats` reports besides the host's counters.
#[derive(Default)]
struct Stats {
    router_calls: AtomicU64,
    events_delivered: AtomicU64,
    event_streams: AtomicU64,
    /// Requests refused for their `Host` (421).
    wrong_host: AtomicU64,
    /// Requests refused for their `Origin` or `Sec-Fetch-Site` (403).
    wrong_origin: AtomicU64,
    /// Grants the console's picker gave.
    grants: AtomicU64,
    /// Events the console's broadcast queued for a window, and those the
    /// host did not (the policy's `deliver` rules, or a full queue).
    broadcast_delivered: AtomicU64,
    broadcast_dropped: AtomicU64,
}

impl Router for DemoRouter {
    fn call(&self, call: Call<'_>) -> Result<Value, Value> {
        self.stats.router_calls.fetch_add(1, Ordering::SeqCst);
        let arg = |name: &str| &call.args[name];
        match call.cmd {
            "greet" => Ok(json!(format!(
                "Hello, {}!",
                arg("name").as_str().unwrap_or("")
            ))),
            "add" => {
                let (a, b) = (
                    arg("a").as_i64().unwrap_or(0),
                    arg("b").as_i64().unwrap_or(0),
                );
                Ok(json!(a.saturating_add(b)))
            }
            "read_note" => match arg("path").as_str() {
                Some("/notes/todo.md") => Ok(json!("- try the tampered-envelope button")),
                Some("/notes/readme.md") => Ok(json!("isogate demo notes")),
                // Reached only with a grant (rule `read-picked`).
                Some(PICKED_PATH) => Ok(json!(PICKED_CONTENTS)),
                _ => Err(json!("note not found")),
            },
            "upload" => {
                let digest = ring::digest::digest(&ring::digest::SHA256, call.body);
                let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
                Ok(json!({"bytes": call.body.len(), "sha256": hex}))
            }
            // Never reached: the demo policy allows no such command.
            "delete_everything" => Ok(json!("everything deleted")),
            other => Err(json!(format!("unknown command `{other}`"))),
        }
    }
}

/// One served origin: `http://127.0.0.1:PORT`, also reachable as
/// `localhost:PORT`.
struct Site {
    /// The serialized origin, `http://127.0.0.1:PORT`.
    origin: String,
    /// The `Host` header values it answers to.
    hosts: Vec<String>,
    /// The `Origin` header values that are its own.
    origins: Vec<String>,
}

impl Site {
    fn new(port: u16) -> Self {
        Self {
            origin: format!("http://127.0.0.1:{port}"),
            hosts: vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")],
            origins: vec![
                format!("http://127.0.0.1:{port}"),
                format!("http://localhost:{port}"),
            ],
        }
    }
}

/// Which event stream delivers a window's queue: the newest one.
#[derive(Default)]
struct Delivery {
    current: Mutex<Option<(u64, Arc<Notify>)>>,
}

/// Everything the three origins share.
struct Demo {
    host: Arc<Host<DemoRouter>>,
    audit: Arc<AuditHub>,
    stats: Arc<Stats>,
    page: Site,
    frame: Site,
    console: Site,
    hook: Option<String>,
    debug_reasons: bool,
    bodies: Arc<Semaphore>,
    deliveries: [Delivery; WINDOWS.len()],
    next_stream: AtomicU64,
    conns: [Arc<ConnStats>; 3],
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Binds a loopback listener; the error names what it was for.
fn bind(port: u16, what: &str) -> Result<std::net::TcpListener, String> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
        if port == 0 {
            format!("cannot open the {what} listener: {e}")
        } else {
            format!("cannot listen on 127.0.0.1:{port}: {e} (try --port 0 for any free port)")
        }
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot set up the {what} listener: {e}"))?;
    Ok(listener)
}

fn port_of(listener: &std::net::TcpListener) -> Result<u16, String> {
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot read the listening address: {e}"))
}

pub fn run(port: u16, debug_reasons: bool, hook: Option<&Path>) -> i32 {
    if debug_reasons && !cfg!(debug_assertions) {
        eprintln!("error: --debug-reasons exists only in debug builds; release builds never tell the page why");
        return 2;
    }
    match start(port, debug_reasons, hook) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

fn start(port: u16, debug_reasons: bool, hook: Option<&Path>) -> Result<i32, String> {
    let hook = hook
        .map(std::fs::read_to_string)
        .transpose()
        .map_err(|e| format!("cannot read the hook script: {e}"))?;
    let policy = Policy::load(&[PolicySource {
        name: "policies/demo.json",
        text: DEMO_POLICY,
    }])
    .map_err(|e| format!("embedded demo policy is invalid:\n{e}"))?;
    let key = LaunchKey::generate().map_err(|e| e.to_string())?;
    let page_listener = bind(port, "page")?;
    let frame_listener = bind(0, "frame")?;
    let console_listener = bind(0, "console")?;
    let page = Site::new(port_of(&page_listener)?);
    let frame = Site::new(port_of(&frame_listener)?);
    let console = Site::new(port_of(&console_listener)?);

    let stats = Arc::new(Stats::default());
    let audit = AuditHub::new(AUDIT_LINES, AUDIT_READERS);
    let sink = audit.sink();
    // The listener emits through the host, which holds the gate that holds
    // the listener: it reaches the host through a weak reference.
    let host_ref: Arc<OnceLock<Weak<Host<DemoRouter>>>> = Arc::new(OnceLock::new());
    let (listener_stats, listener_host) = (Arc::clone(&stats), Arc::clone(&host_ref));
    let gate = Gate::new(
        key,
        policy,
        DemoRouter {
            stats: Arc::clone(&stats),
        },
    )
    .with_max_envelope_len(MAX_IPC_BODY)
    .with_audit(move |event| {
        // The host's log; a closed stderr must not take the demo down.
        let _ = writeln!(std::io::stderr(), "audit {}", event.to_json());
        sink(event);
    })
    .with_listener("clicked", move |event| {
        let n = listener_stats
            .events_delivered
            .fetch_add(1, Ordering::SeqCst)
            + 1;
        if let Some(host) = listener_host.get().and_then(Weak::upgrade) {
            host.emit(event.sender.window, "clicked-ack", &json!({ "count": n }));
        }
    });
    #[cfg(debug_assertions)]
    let gate = if debug_reasons {
        gate.with_debug_reasons()
    } else {
        gate
    };
    let host = Arc::new(Host::new(gate));
    let _ = host_ref.set(Arc::downgrade(&host));
    for window in WINDOWS {
        host.open_window(window, &page.origin)
            .map_err(|e| format!("cannot open window `{window}`: {e}"))?;
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(2)
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let demo = Arc::new(Demo {
        host,
        audit,
        stats,
        page,
        frame,
        console,
        hook,
        debug_reasons,
        bodies: Arc::new(Semaphore::new(BODY_BUDGET)),
        deliveries: Default::default(),
        next_stream: AtomicU64::new(0),
        conns: Default::default(),
    });

    // Whoever reads the URLs may close stdout afterwards: ignore write errors.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}/", demo.page.origin);
    let _ = writeln!(out, "{}/", demo.console.origin);
    let _ = writeln!(
        out,
        "isogate demo: page {0}/ (also {0}/?window=settings), audit console (host only) {1}/, isolation frame origin {2}",
        demo.page.origin, demo.console.origin, demo.frame.origin
    );
    let _ = writeln!(
        out,
        "policy: embedded policies/demo.json; press Ctrl-C to stop"
    );
    let _ = out.flush();

    runtime.block_on(async move {
        let listeners = (
            TcpListener::from_std(page_listener),
            TcpListener::from_std(frame_listener),
            TcpListener::from_std(console_listener),
        );
        let (Ok(page_l), Ok(frame_l), Ok(console_l)) = listeners else {
            return Err("cannot register the listeners".to_owned());
        };
        let sweeper = Arc::clone(&demo);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(FRAME_SWEEP).await;
                sweeper.host.expire_frames();
            }
        });
        let [page_stats, frame_stats, console_stats] = demo.conns.clone();
        let d = Arc::clone(&demo);
        let frames = tokio::spawn(server::serve(
            frame_l,
            MAX_FRAME_CONNECTIONS,
            frame_stats,
            Arc::new(move |req, _conn| -> Handling {
                let d = Arc::clone(&d);
                Box::pin(async move { d.frame_request(&req) })
            }),
        ));
        let d = Arc::clone(&demo);
        let console = tokio::spawn(server::serve(
            console_l,
            MAX_CONSOLE_CONNECTIONS,
            console_stats,
            Arc::new(move |req, conn| -> Handling {
                Box::pin(Arc::clone(&d).console_request(req, conn))
            }),
        ));
        let d = Arc::clone(&demo);
        server::serve(
            page_l,
            MAX_PAGE_CONNECTIONS,
            page_stats,
            Arc::new(move |req, conn| -> Handling {
                Box::pin(Arc::clone(&d).page_request(req, conn))
            }),
        )
        .await;
        frames.abort();
        console.abort();
        Ok(0)
    })
}

/// The `window` query parameter, raw (`None` when absent).
fn window_param(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("window="))
}

/// The host's window that `?window=` names (`main` when absent), or `None`.
fn known_window(query: Option<&str>) -> Option<&'static str> {
    let asked = window_param(query).unwrap_or("main");
    WINDOWS.iter().copied().find(|w| *w == asked)
}

fn not_found() -> Response<Body> {
    plain(StatusCode::NOT_FOUND, "not found")
}

fn json_response(value: &Value) -> Response<Body> {
    let mut response = respond(StatusCode::OK, "application/json", value.to_string());
    set(response.headers_mut(), "cache-control", "no-store");
    response
}

impl Demo {
    fn misdirected(&self) -> Response<Body> {
        self.stats.wrong_host.fetch_add(1, Ordering::Relaxed);
        closing(plain(StatusCode::MISDIRECTED_REQUEST, "unknown host"))
    }

    fn forbidden(&self) -> Response<Body> {
        self.stats.wrong_origin.fetch_add(1, Ordering::Relaxed);
        closing(plain(StatusCode::FORBIDDEN, "forbidden"))
    }

    /// The page origin: the untrusted page and its transport.
    async fn page_request(self: Arc<Self>, req: Request<Incoming>, conn: Conn) -> Response<Body> {
        if !host_is(&req, &self.page.hosts) {
            return self.misdirected();
        }
        let mut response = self.page_route(req, conn).await;
        set(response.headers_mut(), "x-content-type-options", "nosniff");
        response
    }

    async fn page_route(self: &Arc<Self>, req: Request<Incoming>, conn: Conn) -> Response<Body> {
        let query = req.uri().query();
        match (req.method(), req.uri().path()) {
            (&Method::GET, "/") => {
                // The page runs on one origin, the one its windows were
                // opened with: `localhost` is sent to 127.0.0.1.
                if header(&req, "host").is_some_and(|h| !h.starts_with("127.0.0.1:")) {
                    let mut response = empty(StatusCode::PERMANENT_REDIRECT);
                    let target = match query {
                        Some(q) => format!("{}/?{q}", self.page.origin),
                        None => format!("{}/", self.page.origin),
                    };
                    set_text(response.headers_mut(), "location", &target);
                    return response;
                }
                let mut response = respond(StatusCode::OK, "text/html; charset=utf-8", INDEX_HTML);
                let headers = response.headers_mut();
                set_text(headers, "content-security-policy", &self.page_csp());
                set(headers, "cache-control", "no-store");
                response
            }
            (&Method::GET, "/app.js") => respond(StatusCode::OK, "text/javascript", APP_JS),
            (&Method::GET, "/app.css") => respond(StatusCode::OK, "text/css", APP_CSS),
            (&Method::GET, "/isogate-shim.js") => {
                respond(StatusCode::OK, "text/javascript", isogate::SHIM_SCRIPT)
            }
            (&Method::POST, "/frame") => {
                if !self.sent_by_page(&req) {
                    return self.forbidden();
                }
                match known_window(query) {
                    Some(window) => self.new_frame(window),
                    None => not_found(),
                }
            }
            (&Method::POST, "/ipc") => {
                if !self.sent_by_page(&req) {
                    return self.forbidden();
                }
                self.ipc(req).await
            }
            (&Method::GET, "/events") => match known_window(query) {
                Some(window) => self.window_events(window, &conn),
                None => not_found(),
            },
            (
                _,
                "/" | "/app.js" | "/app.css" | "/isogate-shim.js" | "/frame" | "/ipc" | "/events",
            ) => empty(StatusCode::METHOD_NOT_ALLOWED),
            _ => not_found(),
        }
    }

    /// Whether a state-changing request comes from the page's own origin.
    /// Browsers send `Origin` on every POST, so a form or `no-cors` fetch
    /// from any other site is refused here.
    fn sent_by_page(&self, req: &Request<Incoming>) -> bool {
        header(req, "origin") == Some(self.page.origin.as_str())
    }

    fn page_csp(&self) -> String {
        format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; frame-src {}; \
             img-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
            self.frame.origin
        )
    }

    fn new_frame(&self, window: &str) -> Response<Body> {
        match self.host.new_frame(window, self.hook.as_deref()) {
            Ok(token) => {
                let url = format!("{}/frame/{token}", self.frame.origin);
                json_response(&json!({ "url": url }))
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "error: cannot render a frame: {e}");
                plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot render the frame")
            }
        }
    }

    /// One envelope: the reply (200), or `204` for everything else.
    async fn ipc(&self, req: Request<Incoming>) -> Response<Body> {
        // An unknown `?window=` is discarded by the host layer like any
        // message from a window that is not open (audited `wrong_window`,
        // the label cut); the page gets the same `204` as for any discard.
        let label = window_param(req.uri().query()).unwrap_or("main").to_owned();
        let body = match read_body(req, MAX_IPC_BODY, &self.bodies).await {
            Ok(body) => body,
            Err(e) => return e.response(),
        };
        let sender = Sender {
            window: &label,
            origin: &self.page.origin,
        };
        let (reply, debug_reason) = if self.debug_reasons && self.host.is_open(&label) {
            let handled = self.host.gate().handle_verbose(sender, &body.bytes);
            (handled.reply, handled.debug_reason)
        } else {
            (self.host.handle(sender, &body.bytes), None)
        };
        let mut response = match reply {
            Some(reply) => {
                let mut response = respond(StatusCode::OK, "application/json", reply.to_json());
                set(response.headers_mut(), "cache-control", "no-store");
                response
            }
            None => empty(StatusCode::NO_CONTENT),
        };
        // Set only by debug builds started with --debug-reasons.
        if let Some(reason) = debug_reason {
            set_text(
                response.headers_mut(),
                "x-isogate-debug",
                &header_safe(&reason),
            );
        }
        response
    }

    /// Core-to-window events for `window`, as server-sent events. One
    /// stream delivers a window's queue: a newer one (a reload) takes over,
    /// and the older gets a `superseded` event and ends.
    fn window_events(self: &Arc<Self>, window: &'static str, conn: &Conn) -> Response<Body> {
        let (stream, response) = event_stream(conn);
        tokio::spawn(Arc::clone(self).pump_window(window, stream));
        response
    }

    async fn pump_window(self: Arc<Self>, window: &'static str, stream: EventStream) {
        let Some(delivery) = WINDOWS
            .iter()
            .position(|w| *w == window)
            .and_then(|i| self.deliveries.get(i))
        else {
            return;
        };
        let id = self.next_stream.fetch_add(1, Ordering::Relaxed);
        let stop = Arc::new(Notify::new());
        if let Some((_, older)) = lock(&delivery.current).replace((id, Arc::clone(&stop))) {
            older.notify_one();
        }
        let wake = Arc::new(Notify::new());
        let notify = Arc::clone(&wake);
        let callback: Wake = Arc::new(move || notify.notify_one());
        self.stats.event_streams.fetch_add(1, Ordering::Relaxed);
        if self.host.set_wake(window, callback).is_ok() {
            'stream: loop {
                while let Some(message) = self.host.pop(window) {
                    let chunk = match message.kind {
                        OutgoingKind::Event => format!("data: {}\n\n", message.json),
                        OutgoingKind::Reply => format!("event: reply\ndata: {}\n\n", message.json),
                    };
                    if !stream.send(chunk).await {
                        break 'stream;
                    }
                }
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = stop.notified() => {
                        let _ = stream.send("event: superseded\ndata: {}\n\n".to_owned()).await;
                        break;
                    }
                    _ = tokio::time::sleep(KEEPALIVE) => {
                        if !stream.send(": keep-alive\n\n".to_owned()).await {
                            break;
                        }
                    }
                    _ = stream.closed() => break,
                }
            }
        }
        let mut current = lock(&delivery.current);
        if current.as_ref().is_some_and(|(c, _)| *c == id) {
            *current = None;
            self.host.clear_wake(window);
        }
        drop(current);
        self.stats.event_streams.fetch_sub(1, Ordering::Relaxed);
    }

    /// The frame origin: each frame document once.
    fn frame_request(&self, req: &Request<Incoming>) -> Response<Body> {
        if !host_is(req, &self.frame.hosts) {
            return self.misdirected();
        }
        let Some(token) = req.uri().path().strip_prefix("/frame/") else {
            return not_found();
        };
        if req.method() != Method::GET {
            return empty(StatusCode::METHOD_NOT_ALLOWED);
        }
        let well_formed = token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit());
        let Some(mut doc) = well_formed.then(|| self.host.take_frame(token)).flatten() else {
            return plain(StatusCode::NOT_FOUND, "gone");
        };
        // Moved, not copied, into the response (`FrameDocument` wipes what is left).
        let html = std::mem::take(&mut doc.html);
        let mut response = respond(StatusCode::OK, "text/html; charset=utf-8", html);
        for (name, value) in doc.headers() {
            if let Ok(name) = hyper::header::HeaderName::from_bytes(name.as_bytes()) {
                if name != hyper::header::CONTENT_TYPE {
                    if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
                        response.headers_mut().insert(name, value);
                    }
                }
            }
        }
        response
    }

    /// The console origin: host only.
    async fn console_request(
        self: Arc<Self>,
        req: Request<Incoming>,
        conn: Conn,
    ) -> Response<Body> {
        if !host_is(&req, &self.console.hosts) {
            return self.misdirected();
        }
        let mut response = if self.sent_by_console(&req) {
            self.console_route(&req, &conn)
        } else {
            self.forbidden()
        };
        let headers = response.headers_mut();
        set(headers, "x-frame-options", "DENY");
        set(headers, "x-content-type-options", "nosniff");
        set(headers, "cross-origin-resource-policy", "same-origin");
        set(headers, "referrer-policy", "no-referrer");
        set(
            headers,
            "content-security-policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'none'; \
             object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        );
        response
    }

    /// Whether a request to the console comes from the console itself (or
    /// from no page at all: the address bar, a tool). Another origin's
    /// `Origin`, or a browser's `Sec-Fetch-Site` that is not same-origin or
    /// none, is refused: the page on the other port is same-site.
    fn sent_by_console(&self, req: &Request<Incoming>) -> bool {
        // Every value counts: a repeated header cannot hide a foreign one.
        let origin_ok = req.headers().get_all("origin").iter().all(|origin| {
            origin
                .to_str()
                .is_ok_and(|o| self.console.origins.iter().any(|c| c == o))
        });
        let site_ok = req
            .headers()
            .get_all("sec-fetch-site")
            .iter()
            .all(|site| matches!(site.to_str(), Ok("same-origin" | "none")));
        origin_ok && site_ok
    }

    fn console_route(self: &Arc<Self>, req: &Request<Incoming>, conn: &Conn) -> Response<Body> {
        let path = req.uri().path();
        if req.method() == Method::POST && matches!(path, "/grant" | "/broadcast") {
            // The host's actions take no body.
            let empty_body = req
                .headers()
                .get_all("content-length")
                .iter()
                .all(|len| len.as_bytes() == b"0");
            if !empty_body || req.headers().contains_key("transfer-encoding") {
                return closing(plain(StatusCode::PAYLOAD_TOO_LARGE, "no body expected"));
            }
            return match path {
                "/grant" => match known_window(req.uri().query()) {
                    Some(window) => self.pick(window),
                    None => not_found(),
                },
                _ => self.broadcast(),
            };
        }
        if req.method() != Method::GET {
            return empty(StatusCode::METHOD_NOT_ALLOWED);
        }
        match path {
            "/" => {
                let mut response =
                    respond(StatusCode::OK, "text/html; charset=utf-8", CONSOLE_HTML);
                set(response.headers_mut(), "cache-control", "no-store");
                response
            }
            "/console.js" => respond(StatusCode::OK, "text/javascript", CONSOLE_JS),
            "/app.css" => respond(StatusCode::OK, "text/css", APP_CSS),
            "/audit" => self.audit_events(conn),
            "/audit.json" => self.audit_snapshot(),
            "/stats" => json_response(&self.stats_json()),
            "/grant" | "/broadcast" => empty(StatusCode::METHOD_NOT_ALLOWED),
            _ => not_found(),
        }
    }

    /// The stand-in file picker: the user picked [`PICKED_PATH`] for
    /// `window`, which may now read it [`PICK_USES`] time(s) within
    /// [`PICK_TTL`] (from its current frame load). Only the host gives
    /// this; the page has no way to.
    fn pick(&self, window: &str) -> Response<Body> {
        let grant = Grant {
            command: "read_note".to_owned(),
            argument: "path".to_owned(),
            value: GrantValue::Exact(json!(PICKED_PATH)),
            uses: PICK_USES,
            ttl: PICK_TTL,
        };
        match self.host.grant(window, grant) {
            Ok(id) => {
                self.stats.grants.fetch_add(1, Ordering::Relaxed);
                json_response(&json!({
                    "grant": id.to_string(),
                    "window": window,
                    "command": "read_note",
                    "path": PICKED_PATH,
                    "uses": PICK_USES,
                    "ttl_seconds": PICK_TTL.as_secs(),
                }))
            }
            Err(e) => {
                let mut response = json_response(&json!({ "error": e.to_string() }));
                *response.status_mut() = StatusCode::CONFLICT;
                response
            }
        }
    }

    /// The core sends [`SETTINGS_SAVED`] to every open window; the policy's
    /// `deliver` rules decide where it goes. Answers which were queued.
    fn broadcast(&self) -> Response<Body> {
        let payload = json!({"theme": "dark", "sync_code": "4417-2208"});
        let delivered: serde_json::Map<String, Value> = WINDOWS
            .iter()
            .filter(|w| self.host.is_open(w))
            .map(|w| {
                let queued = self.host.emit(w, SETTINGS_SAVED, &payload);
                let counter = if queued {
                    &self.stats.broadcast_delivered
                } else {
                    &self.stats.broadcast_dropped
                };
                counter.fetch_add(1, Ordering::Relaxed);
                ((*w).to_owned(), Value::Bool(queued))
            })
            .collect();
        json_response(&json!({ "event": SETTINGS_SAVED, "delivered": delivered }))
    }

    /// The recent audit events, oldest first.
    fn audit_snapshot(&self) -> Response<Body> {
        let Some(reader) = self.audit.subscribe(None) else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "too many audit readers");
        };
        let mut text = String::from("[");
        while let Some(line) = reader.pop() {
            if text.len() > 1 {
                text.push(',');
            }
            text.push_str(&line);
        }
        text.push(']');
        let mut response = respond(StatusCode::OK, "application/json", text);
        set(response.headers_mut(), "cache-control", "no-store");
        response
    }

    /// Live audit events as server-sent events: the backlog, then each new
    /// one; `event: lost` tells how many this reader lost by being slow.
    fn audit_events(self: &Arc<Self>, conn: &Conn) -> Response<Body> {
        let wake = Arc::new(Notify::new());
        let notify = Arc::clone(&wake);
        let callback: Wake = Arc::new(move || notify.notify_one());
        let Some(reader) = self.audit.subscribe(Some(callback)) else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "too many audit readers");
        };
        let (stream, response) = event_stream(conn);
        tokio::spawn(async move {
            let mut lost = 0;
            'stream: loop {
                while let Some(line) = reader.pop() {
                    if !stream.send(format!("data: {line}\n\n")).await {
                        break 'stream;
                    }
                }
                let dropped = reader.dropped();
                if dropped != lost {
                    lost = dropped;
                    if !stream.send(format!("event: lost\ndata: {lost}\n\n")).await {
                        break;
                    }
                }
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(KEEPALIVE) => {
                        if !stream.send(": keep-alive\n\n".to_owned()).await {
                            break;
                        }
                    }
                    _ = stream.closed() => break,
                }
            }
            // Dropping the reader unsubscribes it and frees its buffer.
            drop(reader);
        });
        response
    }

    fn stats_json(&self) -> Value {
        let host = self.host.counters();
        let gate = self.host.gate().counters();
        let [page, frame, console] = &self.conns;
        json!({
            "router_calls": self.stats.router_calls.load(Ordering::SeqCst),
            "events_delivered": self.stats.events_delivered.load(Ordering::SeqCst),
            "event_streams": self.stats.event_streams.load(Ordering::Relaxed),
            "refused": {
                "wrong_host": self.stats.wrong_host.load(Ordering::Relaxed),
                "wrong_origin": self.stats.wrong_origin.load(Ordering::Relaxed),
            },
            "audit_readers": self.audit.subscribers(),
            "grants": self.stats.grants.load(Ordering::Relaxed),
            "broadcast": {
                "delivered": self.stats.broadcast_delivered.load(Ordering::Relaxed),
                "dropped": self.stats.broadcast_dropped.load(Ordering::Relaxed),
            },
            "host": {
                "frames_issued": host.frames_issued,
                "frames_served": host.frames_served,
                "frames_unused": host.frames_unused,
                "dropped": host.dropped,
                "unknown_window": host.unknown_window,
            },
            "gate": serde_json::to_value(&gate).unwrap_or(Value::Null),
            "connections": {
                "page": page.to_json(),
                "frame": frame.to_json(),
                "console": console.to_json(),
            },
        })
    }
}

/// A header value cannot carry control characters.
fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
