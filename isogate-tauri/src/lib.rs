//! isogate as the invoke system of a Tauri v2 app.
//!
//! Two lines in the app's builder:
//!
//! ```no_run
//! use isogate_tauri::{BuilderExt as _, Isogate};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let isogate = Isogate::new(&[isogate::PolicySource {
//!     name: "policy.json",
//!     text: include_str!("../tests/policy.json"),
//! }])?;
//! tauri::Builder::default()
//!     .isogate(isogate)
//!     // .invoke_handler(...), .plugin(...) as before
//! #   ;
//! # Ok(())
//! # }
//! ```
//!
//! Then every `invoke` of `@tauri-apps/api` (and so `listen`, `emit`,
//! `Channel` and every plugin's API) goes this way:
//!
//! 1. The invoke system script (replacing Tauri's, so the page never gets
//!    Tauri's invoke key) turns `{cmd, callback, error, payload, options}`
//!    into an isogate message: `cmd` is the command, a JSON payload the
//!    `args`, a binary payload the message body, and `options.headers` the
//!    reserved argument `$tauri` ([`transport::TAURI_ARG`]).
//! 2. The isolation frame, served once per page load from the
//!    `isogate-frame` scheme (another origin), runs the app's hook (a
//!    `window.__TAURI_ISOLATION_HOOK__` file works unchanged) and seals it.
//! 3. The page POSTs the sealed envelope to the `ipc` scheme, which this
//!    crate takes over from Tauri. The core opens it with the webview's label
//!    (as Tauri knows it) and the origin of the webview's current URL as the
//!    sender, checks replay, frame load, limits and the policy, and only then
//!    builds an `InvokeRequest` with Tauri's invoke key and hands it to
//!    `Webview::on_message`: Tauri's dispatch and its capabilities apply
//!    after isogate's policy.
//! 4. The reply goes back on the HTTP response of that request: to the
//!    calling webview only. A discarded envelope gets an empty response.

/// The isogate library, for policy sources, audit sinks and counters.
pub use isogate;

pub mod frames;
pub mod origin;
pub mod transport;

use frames::Frames;
use isogate::router::Table;
use isogate::{
    Admitted, AuditEvent, CounterSnapshot, Gate, Host, LaunchKey, Policy, PolicyErrors,
    PolicySource, Sender,
};
use origin::{origin_of, SchemeStyle};
use std::borrow::Cow;
use std::sync::Arc;
use tauri::http::{header, HeaderValue, Method, Request, Response, StatusCode};
use tauri::ipc::{CallbackFn, InvokeResponse};
use tauri::plugin::TauriPlugin;
use tauri::webview::{InvokeRequest, PageLoadEvent};
use tauri::{Manager, RunEvent, Runtime, UriSchemeResponder, WindowEvent};

/// The scheme the isolation frame is served from.
pub const FRAME_SCHEME: &str = "isogate-frame";
/// The scheme sealed envelopes are POSTed to. It is Tauri's own IPC scheme
/// name: registering it first keeps Tauri from registering its handler, so
/// no `ipc://` request reaches Tauri's dispatch without passing the gate.
pub const IPC_SCHEME: &str = "ipc";
/// The path of the frame document on [`FRAME_SCHEME`].
pub const FRAME_PATH: &str = "/frame";
/// The plugin's name.
pub const PLUGIN_NAME: &str = "isogate";

const INVOKE_SCRIPT: &str = include_str!("invoke.js");

/// Why isogate could not be set up.
#[derive(Debug)]
pub enum Error {
    /// A policy file is invalid (every error, with file, line and column).
    Policy(PolicyErrors),
    /// No launch key could be generated.
    Key(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Policy(e) => write!(f, "invalid isogate policy:\n{e}"),
            Self::Key(e) => write!(f, "cannot generate the isogate launch key: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// isogate for one Tauri app: the gate (key and policy), the isolation
/// hook, and how the platform serves custom schemes. Install it with
/// [`BuilderExt::isogate`].
pub struct Isogate {
    gate: Gate<Table>,
    hook: Option<String>,
    style: SchemeStyle,
}

impl Isogate {
    /// A gate with a fresh per-launch key and the composed policy files.
    pub fn new(policies: &[PolicySource<'_>]) -> Result<Self, Error> {
        let policy = Policy::load(policies).map_err(Error::Policy)?;
        let key = LaunchKey::generate().map_err(|e| Error::Key(e.to_string()))?;
        Ok(Self {
            gate: Gate::new(key, policy, Table::new()),
            hook: None,
            style: SchemeStyle::current(false),
        })
    }

    /// The app's isolation hook script, run in the isolation frame before
    /// each message is sealed: an isogate hook (`window.__ISOGATE_HOOK__`)
    /// or a Tauri one (`window.__TAURI_ISOLATION_HOOK__`), unchanged. With
    /// a hook, the frame seals nothing the hook did not return.
    pub fn with_hook(mut self, script: impl Into<String>) -> Self {
        self.hook = Some(script.into());
        self
    }

    /// Sends every audit event (one per message, admitted or discarded) to
    /// `sink`, e.g. [`isogate::json_lines_sink`].
    pub fn with_audit(mut self, sink: impl Fn(&AuditEvent) + Send + Sync + 'static) -> Self {
        self.gate = self.gate.with_audit(sink);
        self
    }

    /// Whether the app's webviews use `use_https_scheme` (read on Windows
    /// and Android only, where custom schemes are `http(s)://<scheme>.localhost`).
    pub fn with_https_scheme(mut self, https: bool) -> Self {
        self.style = SchemeStyle::current(https);
        self
    }

    /// Changes the gate itself (limits, audit options): `f` gets it and
    /// returns it.
    pub fn map_gate(mut self, f: impl FnOnce(Gate<Table>) -> Gate<Table>) -> Self {
        self.gate = f(self.gate);
        self
    }

    /// The invoke system script for [`tauri::Builder::invoke_system`]. It
    /// holds no key: Tauri fills in its invoke key only where a script says
    /// `__INVOKE_KEY__`, and this one never does.
    pub fn invoke_script(&self) -> String {
        let quote = |s: String| serde_json::to_string(&s).unwrap_or_else(|_| "\"\"".into());
        let frame_url = quote(format!("{}{FRAME_PATH}", self.style.origin(FRAME_SCHEME)));
        let ipc_url = quote(format!("{}/", self.style.origin(IPC_SCHEME)));
        let script = INVOKE_SCRIPT
            .replace("__ISOGATE_FRAME_URL__", &frame_url)
            .replace("__ISOGATE_IPC_URL__", &ipc_url);
        format!("{}\n{script}", isogate::SHIM_SCRIPT)
    }

    /// The plugin: the `isogate-frame` and `ipc` schemes, a fresh frame per
    /// page load, cleanup when a window goes. [`BuilderExt::isogate`]
    /// installs it with the invoke system; both are needed.
    pub fn plugin<R: Runtime>(self) -> TauriPlugin<R> {
        let shared = Arc::new(Shared {
            host: Host::new(self.gate),
            hook: self.hook,
            frames: Frames::default(),
        });
        let (setup, load, frame, ipc, events) = (
            Arc::clone(&shared),
            Arc::clone(&shared),
            Arc::clone(&shared),
            Arc::clone(&shared),
            shared,
        );
        tauri::plugin::Builder::new(PLUGIN_NAME)
            .setup(move |app, _api| {
                app.manage(Handle(Arc::clone(&setup)));
                Ok(())
            })
            .on_page_load(move |webview, payload| {
                if payload.event() == PageLoadEvent::Started {
                    let origin = origin_of(payload.url());
                    if let Err(e) = load.frames.begin_load(
                        &load.host,
                        webview.label(),
                        origin.as_deref(),
                        load.hook.as_deref(),
                    ) {
                        eprintln!("isogate: no isolation frame for `{}`: {e}", webview.label());
                    }
                }
            })
            .register_asynchronous_uri_scheme_protocol(
                FRAME_SCHEME,
                move |ctx, request, responder| {
                    serve_frame(&frame, ctx.webview_label(), &request, responder);
                },
            )
            .register_asynchronous_uri_scheme_protocol(
                IPC_SCHEME,
                move |ctx, request, responder| {
                    serve_ipc(
                        &ipc,
                        ctx.app_handle(),
                        ctx.webview_label(),
                        request,
                        responder,
                    );
                },
            )
            .on_event(move |_app, event| {
                if let RunEvent::WindowEvent {
                    label,
                    event: WindowEvent::Destroyed,
                    ..
                } = event
                {
                    events.frames.close(&events.host, label);
                }
            })
            .build()
    }
}

/// Installs isogate in a Tauri builder.
pub trait BuilderExt {
    /// Replaces Tauri's invoke system with isogate's and adds its plugin:
    /// from then on every command passes the gate before Tauri's dispatch.
    #[must_use]
    fn isogate(self, isogate: Isogate) -> Self;
}

impl<R: Runtime> BuilderExt for tauri::Builder<R> {
    fn isogate(self, isogate: Isogate) -> Self {
        let script = isogate.invoke_script();
        self.invoke_system(script).plugin(isogate.plugin())
    }
}

struct Shared {
    host: Host<Table>,
    hook: Option<String>,
    frames: Frames,
}

/// The installed gate, in the app's state: `app.state::<isogate_tauri::Handle>()`.
#[derive(Clone)]
pub struct Handle(Arc<Shared>);

impl Handle {
    /// The host layer around the gate (its windows and counters).
    pub fn host(&self) -> &Host<Table> {
        &self.0.host
    }

    /// The gate (policy reload, counters).
    pub fn gate(&self) -> &Gate<Table> {
        self.0.host.gate()
    }

    /// The gate's counters.
    pub fn counters(&self) -> CounterSnapshot {
        self.0.host.gate().counters()
    }
}

type Body = Cow<'static, [u8]>;

fn response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Cow::Owned(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn insert(response: &mut Response<Body>, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

fn serve_frame(
    shared: &Shared,
    label: &str,
    request: &Request<Vec<u8>>,
    responder: UriSchemeResponder,
) {
    let doc = (request.method() == Method::GET && request.uri().path() == FRAME_PATH)
        .then(|| shared.frames.take(&shared.host, label))
        .flatten();
    let Some(mut doc) = doc else {
        responder.respond(response(StatusCode::NOT_FOUND, Vec::new()));
        return;
    };
    // Moved, not copied, into the response (`FrameDocument` wipes what is left).
    let html = std::mem::take(&mut doc.html);
    let mut reply = response(StatusCode::OK, html.into_bytes());
    for (name, value) in doc.headers() {
        insert(&mut reply, name, &value);
    }
    responder.respond(reply);
}

/// The same empty answer for every discard, whatever the reason.
fn discard(responder: UriSchemeResponder, origin: Option<&str>) {
    let mut reply = response(StatusCode::NO_CONTENT, Vec::new());
    if let Some(origin) = origin {
        insert(&mut reply, "Access-Control-Allow-Origin", origin);
    }
    responder.respond(reply);
}

fn serve_ipc<R: Runtime>(
    shared: &Shared,
    app: &tauri::AppHandle<R>,
    label: &str,
    request: Request<Vec<u8>>,
    responder: UriSchemeResponder,
) {
    // The webview's label as Tauri knows it (from the scheme request's
    // context), never a value from the page.
    let Some(window) = app.get_webview_window(label) else {
        return discard(responder, None);
    };
    let webview: tauri::Webview<R> = window.as_ref().clone();
    let Ok(url) = webview.url() else {
        return discard(responder, None);
    };
    let Some(origin) = origin_of(&url) else {
        return discard(responder, None);
    };
    // Any POST body goes to the gate, whatever the path (it carries nothing
    // the core uses): what is not a sealed envelope is audited as such.
    if request.method() != Method::POST {
        return discard(responder, Some(&origin));
    }
    let sender = Sender {
        window: label,
        origin: &origin,
    };
    // The body is ours: opened in place, not copied first.
    let call = match shared.host.check(sender, request.into_body()) {
        Ok(Admitted::Call(call)) => call,
        // Events travel as Tauri commands (`plugin:event|emit`); an isogate
        // emit has no Tauri meaning.
        Ok(Admitted::Event(_)) | Err(_) => return discard(responder, Some(&origin)),
    };
    let Some(dispatch) = transport::dispatch_of(call) else {
        return discard(responder, Some(&origin));
    };
    // Tauri delivers events to the listeners the page registers: a listener
    // for an event the policy's `deliver` rules never send to this window
    // is not registered at all.
    if let Some(event) = transport::listened_event(&dispatch) {
        if !shared.host.gate().may_listen(sender, event) {
            return discard(responder, Some(&origin));
        }
    }
    let invoke = InvokeRequest {
        cmd: dispatch.cmd,
        callback: CallbackFn(dispatch.callback),
        error: CallbackFn(dispatch.callback),
        url,
        body: dispatch.body,
        headers: dispatch.headers,
        invoke_key: app.invoke_key().to_owned(),
    };
    webview.on_message(
        invoke,
        Box::new(
            move |_webview, _cmd, reply: InvokeResponse, _callback, _error| {
                let (result, content_type, body) = transport::reply_of(reply);
                let mut reply = response(StatusCode::OK, body);
                insert(&mut reply, "Content-Type", content_type);
                insert(&mut reply, transport::RESULT_HEADER, result);
                insert(&mut reply, "Access-Control-Allow-Origin", &origin);
                insert(
                    &mut reply,
                    "Access-Control-Expose-Headers",
                    transport::RESULT_HEADER,
                );
                responder.respond(reply);
            },
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invoke_script_never_asks_for_the_invoke_key() {
        let isogate = Isogate::new(&[PolicySource {
            name: "p.json",
            text: r#"{"version": 1, "rules": []}"#,
        }])
        .unwrap();
        let script = isogate.invoke_script();
        assert!(!script.contains("__INVOKE_KEY__"));
        assert!(!script.contains("__ISOGATE_FRAME_URL__"));
        assert!(!script.contains("__ISOGATE_IPC_URL__"));
        if cfg!(target_os = "linux") {
            assert!(script.contains(r#"var FRAME_URL = "isogate-frame://localhost/frame";"#));
            assert!(script.contains(r#"var IPC_URL = "ipc://localhost/";"#));
        }
    }
}
