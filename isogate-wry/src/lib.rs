//! isogate for [wry](https://docs.rs/wry) webviews: one call wires a
//! [`WebViewBuilder`] to an [`isogate::Host`].
//!
//! [`IsogateWry::attach`] registers, for one webview whose label the host
//! chooses:
//!
//! - **the app scheme** (`isogate-app://localhost`, or
//!   `http://isogate-app.localhost` on Windows and Android): the app's own
//!   assets, from a closure the app gives, and [`SCRIPT_PATH`], the isogate
//!   shim with this page load's frame URL and wry's IPC transport. Each
//!   fetch of that script is a page load: the window is opened afresh (its
//!   queue emptied) and a new isolation frame is rendered, which retires the
//!   frames of earlier loads;
//! - **the frame scheme** (`isogate-frame://localhost`): each rendered frame
//!   document exactly once, at [`FRAME_PATH`]`<token>`, with
//!   [`FrameDocument::headers`](isogate::FrameDocument::headers); `404`
//!   for anything else;
//! - **the IPC handler**: every message the page posts goes to
//!   [`Host::handle_and_queue`] with the webview's label as the window
//!   and the origin of the URL wry reports for the request (never anything
//!   from the message); replies are queued for the frame load that sealed
//!   the call;
//! - the webview's id (its label) and its start URL.
//!
//! Replies and events ([`Host::emit`]) wait in the host's bounded queues.
//! When one is queued the helper calls the app's `wake` with the window
//! label; the app forwards that to its event loop and calls
//! [`IsogateWry::deliver`] there, which hands the messages to the page with
//! `evaluate_script` (`isogate.deliver(reply)`, `isogate.deliverEvent(event)`).
//! The helper does not depend on an event loop crate.
//!
//! A whole app (tao for the window and event loop; `UserEvent` is the
//! app's own):
//!
//! ```no_run
//! use isogate::{router::Table, Gate, Host, LaunchKey, Policy, PolicySource};
//! use isogate_wry::{respond, IsogateWry, Options};
//! use std::sync::Arc;
//! use tao::event::{Event, WindowEvent};
//! use tao::event_loop::{ControlFlow, EventLoopBuilder};
//! use tao::window::WindowBuilder;
//! use wry::{http::StatusCode, WebViewBuilder};
//!
//! const POLICY: &str = r#"{"version": 1, "rules": [{"id": "greet", "effect": "allow",
//!     "commands": ["greet"], "windows": ["main"], "origins": ["isogate-app://localhost"],
//!     "args": {"type": "object", "additional": true}}]}"#;
//! const PAGE: &str = "<!doctype html><script src=isogate.js></script><script src=app.js defer></script>";
//! const APP_JS: &str = "isogate.init().then(() => isogate.invoke('greet', {}));";
//!
//! enum UserEvent {
//!     Deliver,
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let policy = Policy::load(&[PolicySource { name: "policy.json", text: POLICY }])?;
//!     let router = Table::new().command("greet", |_call| Ok("hello".into()));
//!     let gate = Gate::new(LaunchKey::generate()?, policy, router);
//!     let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
//!     let window = WindowBuilder::new().build(&event_loop)?;
//!
//!     // isogate: the helper, woken through the event loop to deliver replies.
//!     let proxy = event_loop.create_proxy();
//!     let isogate = IsogateWry::new(Arc::new(Host::new(gate)), Options::default(), move |_window| {
//!         let _ = proxy.send_event(UserEvent::Deliver);
//!     })?;
//!     let csp = isogate.page_csp();
//!     let builder = isogate.attach(WebViewBuilder::new(), "main", move |request| {
//!         let (content_type, body) = match request.uri().path() {
//!             "/" => ("text/html", PAGE),
//!             "/app.js" => ("text/javascript", APP_JS),
//!             _ => return None,
//!         };
//!         let headers = [("Content-Type", content_type.into()), ("Content-Security-Policy", csp.clone())];
//!         Some(respond(StatusCode::OK, &headers, body.as_bytes()))
//!     })?;
//!     #[cfg(target_os = "linux")]
//!     let webview = {
//!         use tao::platform::unix::WindowExtUnix;
//!         use wry::WebViewBuilderExtUnix;
//!         builder.build_gtk(window.default_vbox().ok_or("no GTK container")?)?
//!     };
//!     #[cfg(not(target_os = "linux"))]
//!     let webview = builder.build(&window)?;
//!
//!     event_loop.run(move |event, _, control_flow| {
//!         *control_flow = ControlFlow::Wait;
//!         match event {
//!             Event::UserEvent(UserEvent::Deliver) => {
//!                 let _ = isogate.deliver(&webview);
//!             }
//!             Event::WindowEvent { event: WindowEvent::CloseRequested, .. } => {
//!                 isogate.close("main");
//!                 *control_flow = ControlFlow::Exit;
//!             }
//!             _ => {}
//!         }
//!     })
//! }
//! ```
//!
//! The page loads `isogate.js` from its own origin and calls
//! `isogate.init()` with no arguments: the script knows this load's frame
//! URL and the IPC transport.
//!
//! The page's own assets should come with a CSP that lets it frame the
//! frame origin and nothing else ([`IsogateWry::page_csp`]).
//!
//! Limits: one webview per `WebContext` (wry registers custom protocols
//! per web context on Linux, and each [`IsogateWry::attach`] registers its
//! own; wry gives every webview its own context unless the app shares
//! one). `attach` sets the webview's IPC handler: another one set after it
//! disconnects isogate. The router runs in the IPC handler, on the event
//! loop's thread: keep its commands quick (an app with slow commands wires
//! the IPC handler itself, with [`Host::check`] and
//! [`Host::reply`]).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use isogate::host::{HostError, Outgoing, OutgoingKind, Wake};
use isogate::{Host, Router, Sender};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use wry::http::header::{HeaderName, HeaderValue};
use wry::http::{Request, Response, StatusCode, Uri};
use wry::{WebView, WebViewBuilder};

/// Where the app origin serves the isogate script: the shim, this page
/// load's frame URL and the IPC transport (`<script src="/isogate.js">`).
pub const SCRIPT_PATH: &str = "/isogate.js";
/// Where the frame origin serves frame documents: `/frame/<token>`.
pub const FRAME_PATH: &str = "/frame/";
/// Messages one [`IsogateWry::deliver`] call hands to the page; if more
/// wait, it wakes the app again instead of holding the event loop.
pub const MAX_DELIVER_BATCH: usize = 64;
/// Longest custom scheme name accepted in [`Options`].
pub const MAX_SCHEME_LEN: usize = 32;

/// A response of a custom protocol handler, as wry takes it.
pub type AppResponse = Response<Cow<'static, [u8]>>;

/// The isogate script's tail: it gives `isogate.init` the frame URL and the
/// IPC transport.
const BOOTSTRAP: &str = include_str!("bootstrap.js");
/// The placeholder in [`BOOTSTRAP`] for the frame URL (a JSON string).
const FRAME_URL_PLACEHOLDER: &str = "ISOGATE_FRAME_URL";
/// Frame tokens are 32 lowercase hex digits ([`Host::new_frame`]).
const TOKEN_LEN: usize = 32;

/// How a webview turns a custom scheme into the origin of its pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemeStyle {
    /// `scheme://localhost`: Linux, macOS and iOS.
    Custom,
    /// `http://scheme.localhost`: Windows and Android, wry's default there.
    Http,
    /// `https://scheme.localhost`: Windows and Android with wry's
    /// `with_https_scheme(true)`.
    Https,
}

impl SchemeStyle {
    /// This platform's style; `https` says whether the app asked wry for
    /// `https` schemes (Windows and Android only; ignored elsewhere).
    pub fn native(https: bool) -> Self {
        if cfg!(any(target_os = "windows", target_os = "android")) {
            if https {
                Self::Https
            } else {
                Self::Http
            }
        } else {
            Self::Custom
        }
    }

    /// The serialized origin of pages served by `scheme`, exactly as the
    /// webview reports it (as `location.origin` and in IPC request URLs).
    pub fn origin(self, scheme: &str) -> String {
        match self {
            Self::Custom => format!("{scheme}://localhost"),
            Self::Http => format!("http://{scheme}.localhost"),
            Self::Https => format!("https://{scheme}.localhost"),
        }
    }
}

/// The serialized origin of a URL (`scheme://host[:port]`, the port only
/// when it is not the scheme's default, lowercase), or `None` if the URL
/// has no scheme or host.
pub fn origin_of(url: &str) -> Option<String> {
    origin_of_uri(&url.parse().ok()?)
}

fn origin_of_uri(uri: &Uri) -> Option<String> {
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

/// The helper's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The scheme of the app's pages (default `isogate-app`).
    pub app_scheme: String,
    /// The scheme of the isolation frame (default `isogate-frame`).
    pub frame_scheme: String,
    /// The app's isolation hook, run in the frame before sealing (a
    /// Tauri `__TAURI_ISOLATION_HOOK__` file works unchanged).
    pub hook: Option<String>,
    /// The path the webview opens first (default `/`).
    pub start_path: String,
    /// Windows and Android: the app asked wry for `https` custom schemes
    /// (`with_https_scheme(true)`), so its origins start with `https://`.
    pub https_scheme: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            app_scheme: "isogate-app".into(),
            frame_scheme: "isogate-frame".into(),
            hook: None,
            start_path: "/".into(),
            https_scheme: false,
        }
    }
}

/// Why the helper refused its settings or a webview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A scheme name is not a lowercase custom scheme (`a-z`, then `a-z`,
    /// `0-9`, `+`, `-`, `.`; at most [`MAX_SCHEME_LEN`] bytes; not one of
    /// the web's own), or both schemes are the same.
    BadScheme(String),
    /// The start path does not begin with `/`.
    BadStartPath(String),
    /// The hook is longer than [`isogate::MAX_HOOK_LEN`] bytes or contains
    /// `</script` (the frame document inlines it).
    BadHook,
    /// The host refused the window: a bad label, too many windows.
    Host(HostError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadScheme(s) => write!(f, "`{s}` cannot be an isogate custom scheme"),
            Self::BadStartPath(p) => write!(f, "the start path `{p}` does not begin with `/`"),
            Self::BadHook => write!(
                f,
                "the isolation hook is longer than {} bytes or contains `</script`",
                isogate::MAX_HOOK_LEN
            ),
            Self::Host(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<HostError> for Error {
    fn from(e: HostError) -> Self {
        Self::Host(e)
    }
}

fn is_custom_scheme(s: &str) -> bool {
    const RESERVED: [&str; 9] = [
        "http",
        "https",
        "file",
        "data",
        "blob",
        "about",
        "javascript",
        "ws",
        "wss",
    ];
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
        && s.len() <= MAX_SCHEME_LEN
        && !RESERVED.contains(&s)
}

fn is_token(s: &str) -> bool {
    s.len() == TOKEN_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A response with `status`, `headers` (skipping any that are not valid
/// header names or values) and `body`.
pub fn respond(
    status: StatusCode,
    headers: &[(&str, String)],
    body: impl Into<Cow<'static, [u8]>>,
) -> AppResponse {
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

/// `404`, not cacheable, readable by its own origin only.
pub fn not_found() -> AppResponse {
    status_only(StatusCode::NOT_FOUND)
}

fn status_only(status: StatusCode) -> AppResponse {
    respond(
        status,
        &[
            ("Content-Type", "text/plain".into()),
            ("Cache-Control", "no-store".into()),
            ("X-Content-Type-Options", "nosniff".into()),
            ("Cross-Origin-Resource-Policy", "same-origin".into()),
        ],
        &[][..],
    )
}

/// The JavaScript that hands one queued message to the page's shim. JSON is
/// a valid JavaScript expression; nothing runs if the page has no shim.
fn delivery_script(message: &Outgoing) -> String {
    let function = match message.kind {
        OutgoingKind::Reply => "deliver",
        OutgoingKind::Event => "deliverEvent",
    };
    format!("window.isogate && isogate.{function}({})", message.json)
}

type WakeLabel = Arc<dyn Fn(&str) + Send + Sync>;

struct Inner<R> {
    host: Arc<Host<R>>,
    hook: Option<String>,
    app_scheme: String,
    frame_scheme: String,
    start_path: String,
    app_origin: String,
    frame_origin: String,
    wake: WakeLabel,
}

/// isogate for wry webviews: see the [crate] docs. Cheap to clone.
pub struct IsogateWry<R> {
    inner: Arc<Inner<R>>,
}

impl<R> Clone for IsogateWry<R> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<R: Router + Send + Sync + 'static> IsogateWry<R> {
    /// The helper for `host`. `wake` runs, on any thread, whenever a reply
    /// or event is queued for the window it names: it must not block; send
    /// your event loop a message there (tao: `EventLoopProxy::send_event`)
    /// and call [`IsogateWry::deliver`] for that window's webview on it.
    pub fn new(
        host: Arc<Host<R>>,
        options: Options,
        wake: impl Fn(&str) + Send + Sync + 'static,
    ) -> Result<Self, Error> {
        for scheme in [&options.app_scheme, &options.frame_scheme] {
            if !is_custom_scheme(scheme) {
                return Err(Error::BadScheme(scheme.clone()));
            }
        }
        if options.app_scheme == options.frame_scheme {
            return Err(Error::BadScheme(options.frame_scheme));
        }
        if !options.start_path.starts_with('/') {
            return Err(Error::BadStartPath(options.start_path));
        }
        if let Some(hook) = &options.hook {
            if hook.len() > isogate::MAX_HOOK_LEN || hook.to_ascii_lowercase().contains("</script")
            {
                return Err(Error::BadHook);
            }
        }
        let style = SchemeStyle::native(options.https_scheme);
        Ok(Self {
            inner: Arc::new(Inner {
                host,
                hook: options.hook,
                app_origin: style.origin(&options.app_scheme),
                frame_origin: style.origin(&options.frame_scheme),
                app_scheme: options.app_scheme,
                frame_scheme: options.frame_scheme,
                start_path: options.start_path,
                wake: Arc::new(wake),
            }),
        })
    }

    /// The host this helper feeds.
    pub fn host(&self) -> &Arc<Host<R>> {
        &self.inner.host
    }

    /// The origin of the app's pages on this platform, e.g.
    /// `isogate-app://localhost` (what policies name in `origins`).
    pub fn app_origin(&self) -> &str {
        &self.inner.app_origin
    }

    /// The origin of the isolation frame on this platform.
    pub fn frame_origin(&self) -> &str {
        &self.inner.frame_origin
    }

    /// A strict CSP for the app's pages: scripts and styles from the app
    /// origin only, frames from the frame origin only, no connections.
    pub fn page_csp(&self) -> String {
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; frame-src {}; \
             connect-src 'none'; base-uri 'none'; form-action 'none'",
            self.inner.frame_origin
        )
    }

    /// Wires `builder` to the host as the window `label`: opens the window,
    /// sets the webview's id to `label` and its URL to the start path on
    /// the app scheme, and registers the app scheme (`assets` answers every
    /// path but [`SCRIPT_PATH`]; `None` is a `404`), the frame scheme and
    /// the IPC handler. Replaces an IPC handler set before; set none after.
    pub fn attach<'a>(
        &self,
        builder: WebViewBuilder<'a>,
        label: &'a str,
        assets: impl Fn(&Request<Vec<u8>>) -> Option<AppResponse> + Send + Sync + 'static,
    ) -> Result<WebViewBuilder<'a>, Error> {
        let inner = &self.inner;
        inner.host.open_window(label, &inner.app_origin)?;
        inner.host.set_wake(label, inner.wake_for(label))?;
        let (app, frame, ipc) = (self.clone(), self.clone(), self.clone());
        let (app_label, ipc_label) = (label.to_owned(), label.to_owned());
        Ok(builder
            .with_id(label)
            .with_custom_protocol(inner.app_scheme.clone(), move |_id, request| {
                if request.uri().path() == SCRIPT_PATH {
                    return app.inner.page_script(&app_label);
                }
                assets(&request).unwrap_or_else(not_found)
            })
            .with_custom_protocol(inner.frame_scheme.clone(), move |_id, request| {
                frame.inner.frame_response(&request)
            })
            .with_ipc_handler(move |request: Request<String>| {
                ipc.inner.handle_ipc(&ipc_label, &request);
            })
            .with_url(format!(
                "{}://localhost{}",
                inner.app_scheme, inner.start_path
            )))
    }

    /// Hands the replies and events queued for `webview`'s window to its
    /// page (at most [`MAX_DELIVER_BATCH`]; if more wait, wakes the app
    /// again). Call it on the event loop when `wake` said so. Nothing is
    /// delivered while the webview shows a page of another origin than the
    /// app's: the messages wait (bounded) and the next page load of the
    /// app empties the queue.
    pub fn deliver(&self, webview: &WebView) -> Result<(), wry::Error> {
        let label = webview.id();
        let here = webview.url()?;
        if origin_of(&here).as_deref() != Some(self.inner.app_origin.as_str()) {
            return Ok(());
        }
        for _ in 0..MAX_DELIVER_BATCH {
            let Some(message) = self.inner.host.pop(label) else {
                return Ok(());
            };
            webview.evaluate_script(&delivery_script(&message))?;
        }
        (self.inner.wake)(label);
        Ok(())
    }

    /// Closes the window `label` in the host (the webview is gone): frees
    /// its queue and pending frame, and refuses its envelopes from now on.
    pub fn close(&self, label: &str) {
        self.inner.host.close_window(label);
    }
}

impl<R: Router + Send + Sync + 'static> Inner<R> {
    fn wake_for(&self, label: &str) -> Wake {
        let wake = Arc::clone(&self.wake);
        let label = label.to_owned();
        Arc::new(move || wake(&label))
    }

    /// [`SCRIPT_PATH`]: a page load. Opens the window afresh, renders a new
    /// frame and answers the shim with its one-shot URL.
    fn page_script(&self, label: &str) -> AppResponse {
        let token = self
            .host
            .open_window(label, &self.app_origin)
            .and_then(|()| self.host.set_wake(label, self.wake_for(label)))
            .and_then(|()| self.host.new_frame(label, self.hook.as_deref()));
        let Ok(token) = token else {
            return status_only(StatusCode::INTERNAL_SERVER_ERROR);
        };
        let url = format!("{}{FRAME_PATH}{token}", self.frame_origin);
        let url = serde_json::Value::String(url).to_string();
        let script = format!(
            "{}\n{}",
            isogate::SHIM_SCRIPT,
            BOOTSTRAP.replacen(FRAME_URL_PLACEHOLDER, &url, 1)
        );
        respond(
            StatusCode::OK,
            &[
                ("Content-Type", "text/javascript; charset=utf-8".into()),
                ("Cache-Control", "no-store".into()),
                ("X-Content-Type-Options", "nosniff".into()),
            ],
            script.into_bytes(),
        )
    }

    /// The frame scheme: each frame document once, `404` for anything else.
    fn frame_response(&self, request: &Request<Vec<u8>>) -> AppResponse {
        let token = request.uri().path().strip_prefix(FRAME_PATH);
        let Some(mut doc) = token
            .filter(|t| is_token(t))
            .and_then(|t| self.host.take_frame(t))
        else {
            return not_found();
        };
        // Moved, not copied, into the response (`FrameDocument` wipes what
        // is left when dropped).
        let html = std::mem::take(&mut doc.html);
        respond(StatusCode::OK, &doc.headers(), html.into_bytes())
    }

    /// One IPC message: the window is the label the host gave the webview,
    /// the origin that of the URL wry reports; the reply is queued for the
    /// frame load that sealed the call.
    fn handle_ipc(&self, label: &str, request: &Request<String>) {
        let origin = origin_of_uri(request.uri()).unwrap_or_default();
        let sender = Sender {
            window: label,
            origin: &origin,
        };
        self.host.handle_and_queue(sender, request.body());
    }
}

#[cfg(test)]
mod tests;
