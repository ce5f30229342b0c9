//! `isogate demo`: a loopback HTTP host for the demo app. The main page and
//! the isolation frame are served from two origins (two ports), the frame
//! document once per frame load.

use crate::http::{self, Request, Response};
use isogate::{frame, AuditEvent, Call, Gate, LaunchKey, Policy, PolicySource, Router, Sender};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The embedded default policy.
pub const DEMO_POLICY: &str = include_str!("../../policies/demo.json");
const INDEX_HTML: &str = include_str!("demo/index.html");
const APP_JS: &str = include_str!("demo/app.js");
const APP_CSS: &str = include_str!("demo/app.css");
const MAX_PENDING_FRAMES: usize = 64;
const MAX_AUDIT_LINES: usize = 1000;

/// Server-side state shared by both listeners.
struct Hub {
    audit: Mutex<VecDeque<String>>,
    audit_subscribers: Mutex<Vec<mpsc::Sender<String>>>,
    window_subscribers: Mutex<HashMap<String, Vec<mpsc::Sender<String>>>>,
    router_calls: AtomicU64,
    events_delivered: AtomicU64,
}

impl Hub {
    fn publish_audit(&self, event: &AuditEvent) {
        let line = event.to_json();
        // The host's log; a closed stderr must not take the demo down.
        let _ = writeln!(std::io::stderr(), "audit {line}");
        let mut log = lock(&self.audit);
        if log.len() >= MAX_AUDIT_LINES {
            log.pop_front();
        }
        log.push_back(line.clone());
        lock(&self.audit_subscribers).retain(|tx| tx.send(line.clone()).is_ok());
    }

    /// Core → window event, delivered over the window's event stream.
    fn emit_to_window(&self, window: &str, event: &str, payload: Value) {
        let line = json!({"event": event, "payload": payload}).to_string();
        if let Some(subs) = lock(&self.window_subscribers).get_mut(window) {
            subs.retain(|tx| tx.send(line.clone()).is_ok());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The demo app's own router: what the app had before it added isogate.
struct DemoRouter {
    hub: Arc<Hub>,
}

impl Router for DemoRouter {
    fn call(&self, call: Call<'_>) -> Result<Value, Value> {
        self.hub.router_calls.fetch_add(1, Ordering::SeqCst);
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
                Ok(json!(a + b))
            }
            "read_note" => match arg("path").as_str() {
                Some("/notes/todo.md") => Ok(json!("- try the tampered-envelope button")),
                Some("/notes/readme.md") => Ok(json!("isogate demo notes")),
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

pub fn run(port: u16, debug_reasons: bool, hook: Option<&Path>) -> i32 {
    if debug_reasons && !cfg!(debug_assertions) {
        eprintln!("error: --debug-reasons exists only in debug builds; release builds never tell the page why");
        return 2;
    }
    let hook = match hook.map(std::fs::read_to_string).transpose() {
        Ok(hook) => hook,
        Err(e) => {
            eprintln!("error: cannot read the hook script: {e}");
            return 2;
        }
    };
    let policy = match Policy::load(&[PolicySource {
        name: "policies/demo.json",
        text: DEMO_POLICY,
    }]) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: embedded demo policy is invalid:\n{e}");
            return 2;
        }
    };
    let key = match LaunchKey::generate() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let main_listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "error: cannot listen on 127.0.0.1:{port}: {e} (try --port 0 for any free port)"
            );
            return 2;
        }
    };
    let frame_listener = match TcpListener::bind(("127.0.0.1", 0)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot open the frame listener: {e}");
            return 2;
        }
    };
    let (Ok(main_addr), Ok(frame_addr)) = (main_listener.local_addr(), frame_listener.local_addr())
    else {
        eprintln!("error: cannot read the listening addresses");
        return 2;
    };
    let main_origin = format!("http://127.0.0.1:{}", main_addr.port());
    let frame_origin = format!("http://127.0.0.1:{}", frame_addr.port());

    let hub = Arc::new(Hub {
        audit: Mutex::new(VecDeque::new()),
        audit_subscribers: Mutex::new(Vec::new()),
        window_subscribers: Mutex::new(HashMap::new()),
        router_calls: AtomicU64::new(0),
        events_delivered: AtomicU64::new(0),
    });
    let (audit_hub, event_hub) = (Arc::clone(&hub), Arc::clone(&hub));
    let gate = Gate::new(
        key,
        policy,
        DemoRouter {
            hub: Arc::clone(&hub),
        },
    )
    .with_audit(move |e| audit_hub.publish_audit(e))
    .with_listener("clicked", move |event| {
        let n = event_hub.events_delivered.fetch_add(1, Ordering::SeqCst) + 1;
        event_hub.emit_to_window(event.sender.window, "clicked-ack", json!({"count": n}));
    });
    #[cfg(debug_assertions)]
    let gate = if debug_reasons {
        gate.with_debug_reasons()
    } else {
        gate
    };
    let gate = Arc::new(gate);
    let frames: Arc<Mutex<VecDeque<(String, isogate::FrameDocument)>>> =
        Arc::new(Mutex::new(VecDeque::new()));

    // Whoever reads the URL may close stdout afterwards: ignore write errors.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{main_origin}/");
    let _ = writeln!(
        out,
        "isogate demo: main page {main_origin}/ (also /?window=settings), isolation frame origin {frame_origin}"
    );
    let _ = writeln!(
        out,
        "policy: embedded policies/demo.json; press Ctrl-C to stop"
    );
    let _ = out.flush();

    let frame_store = Arc::clone(&frames);
    std::thread::spawn(move || {
        http::serve(
            frame_listener,
            Arc::new(move |req: Request| serve_frame(&frame_store, req)),
        );
    });
    let state = MainState {
        gate,
        hub,
        frames,
        main_origin,
        frame_origin,
        hook,
    };
    http::serve(
        main_listener,
        Arc::new(move |req: Request| state.handle(req)),
    );
    0
}

type FrameStore = Mutex<VecDeque<(String, isogate::FrameDocument)>>;

/// The frame origin serves each rendered document once, then forgets it.
fn serve_frame(store: &FrameStore, req: Request) -> Response {
    let Some(token) = req.path.strip_prefix("/frame/") else {
        return Response::new(404, "text/plain", "not found");
    };
    if req.method != "GET" {
        return Response::empty(405);
    }
    let doc = {
        let mut frames = lock(store);
        let pos = frames.iter().position(|(t, _)| t == token);
        pos.and_then(|i| frames.remove(i))
    };
    match doc {
        Some((_, mut doc)) => {
            // Moved, not copied, into the response (`FrameDocument` wipes what is left).
            let html = std::mem::take(&mut doc.html);
            let mut resp = Response::new(200, "text/html; charset=utf-8", html);
            for (name, value) in doc.headers() {
                if name != "Content-Type" {
                    resp = resp.with_header(name, value);
                }
            }
            resp
        }
        None => Response::new(404, "text/plain", "gone"),
    }
}

struct MainState {
    gate: Arc<Gate<DemoRouter>>,
    hub: Arc<Hub>,
    frames: Arc<FrameStore>,
    main_origin: String,
    frame_origin: String,
    hook: Option<String>,
}

impl MainState {
    fn handle(&self, req: Request) -> Response {
        let window = req.query("window").unwrap_or("main").to_owned();
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/") => Response::new(200, "text/html; charset=utf-8", INDEX_HTML)
                .with_header("Content-Security-Policy", self.page_csp())
                .with_header("Cache-Control", "no-store"),
            ("GET", "/app.js") => Response::new(200, "text/javascript", APP_JS),
            ("GET", "/app.css") => Response::new(200, "text/css", APP_CSS),
            ("GET", "/isogate-shim.js") => {
                Response::new(200, "text/javascript", frame::SHIM_SCRIPT)
            }
            ("POST", "/frame") => self.new_frame(&window),
            ("POST", "/ipc") => {
                let origin = req.header("origin").unwrap_or("");
                let sender = Sender {
                    window: &window,
                    origin,
                };
                let handled = self.gate.handle_verbose(sender, &req.body);
                let response = match handled.reply {
                    Some(reply) => Response::new(200, "application/json", reply.to_json()),
                    None => Response::empty(204),
                };
                // Set only by debug builds started with --debug-reasons.
                match handled.debug_reason {
                    Some(reason) => response.with_header("X-Isogate-Debug", header_safe(&reason)),
                    None => response,
                }
            }
            ("GET", "/audit") => self.audit_stream(),
            ("GET", "/audit.json") => {
                let lines: Vec<String> = lock(&self.hub.audit).iter().cloned().collect();
                Response::new(200, "application/json", format!("[{}]", lines.join(",")))
            }
            ("GET", "/stats") => Response::new(
                200,
                "application/json",
                json!({
                    "router_calls": self.hub.router_calls.load(Ordering::SeqCst),
                    "events_delivered": self.hub.events_delivered.load(Ordering::SeqCst),
                })
                .to_string(),
            ),
            ("GET", "/events") => self.window_stream(window),
            _ => Response::new(404, "text/plain", "not found"),
        }
    }

    fn page_csp(&self) -> String {
        format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; frame-src {}; \
             img-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'",
            self.frame_origin
        )
    }

    fn new_frame(&self, window: &str) -> Response {
        let doc = match self
            .gate
            .render_frame(window, &self.main_origin, self.hook.as_deref())
        {
            Ok(doc) => doc,
            Err(e) => return Response::new(400, "text/plain", e.to_string()),
        };
        let token: String = (0..16)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        let mut frames = lock(&self.frames);
        if frames.len() >= MAX_PENDING_FRAMES {
            frames.pop_front();
        }
        frames.push_back((token.clone(), doc));
        let url = format!("{}/frame/{token}", self.frame_origin);
        Response::new(200, "application/json", json!({ "url": url }).to_string())
            .with_header("Cache-Control", "no-store")
    }

    fn audit_stream(&self) -> Response {
        let (tx, rx) = mpsc::channel();
        for line in lock(&self.hub.audit).iter() {
            let _ = tx.send(line.clone());
        }
        lock(&self.hub.audit_subscribers).push(tx);
        Response::Stream(Box::new(move |stream| pump(stream, rx)))
    }

    fn window_stream(&self, window: String) -> Response {
        let (tx, rx) = mpsc::channel();
        lock(&self.hub.window_subscribers)
            .entry(window)
            .or_default()
            .push(tx);
        Response::Stream(Box::new(move |stream| pump(stream, rx)))
    }
}

/// A header value cannot carry control characters.
fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Writes server-sent events until the client goes away.
fn pump(mut stream: TcpStream, rx: mpsc::Receiver<String>) {
    loop {
        let chunk = match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(line) => format!("data: {line}\n\n"),
            Err(mpsc::RecvTimeoutError::Timeout) => ": keep-alive\n\n".to_owned(),
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        if stream
            .write_all(chunk.as_bytes())
            .and_then(|_| stream.flush())
            .is_err()
        {
            return;
        }
    }
}
