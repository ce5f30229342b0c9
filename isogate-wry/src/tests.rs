//! The helper without a webview: origins, settings, the two schemes' and
//! the IPC handler's behaviour against a real host.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::*;
use base64::Engine as _;
use isogate::danger::{key_from_bytes, Sealer};
use isogate::router::Table;
use isogate::{Gate, Policy, PolicySource};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const KEY: [u8; 32] = [7; 32];
const APP: &str = "isogate-app://localhost";
const POLICY: &str = r#"{"version":1,"rules":[
    {"id":"greet","effect":"allow","commands":["greet"],"windows":["main"],
     "origins":["isogate-app://localhost"],"args":{"type":"object","additional":true}}]}"#;

struct Fixture {
    helper: IsogateWry<Table>,
    calls: Arc<AtomicUsize>,
    woken: Arc<Mutex<Vec<String>>>,
}

fn fixture(options: Options) -> Fixture {
    let policy = Policy::load(&[PolicySource {
        name: "test.json",
        text: POLICY,
    }])
    .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let router = Table::new().command("greet", move |_call| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(json!("hi"))
    });
    let host = Arc::new(Host::new(Gate::new(key_from_bytes(KEY), policy, router)));
    let woken = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&woken);
    let helper = IsogateWry::new(host, options, move |label: &str| {
        log.lock().unwrap().push(label.to_owned());
    })
    .unwrap();
    Fixture {
        helper,
        calls,
        woken,
    }
}

fn get(url: &str) -> Request<Vec<u8>> {
    Request::builder().uri(url).body(Vec::new()).unwrap()
}

fn ipc(url: &str, body: String) -> Request<String> {
    Request::builder().uri(url).body(body).unwrap()
}

fn header<'a>(response: &'a AppResponse, name: &str) -> &'a str {
    response.headers()[name].to_str().unwrap()
}

fn text(response: &AppResponse) -> &str {
    std::str::from_utf8(response.body()).unwrap()
}

/// The frame URL in an isogate script.
fn frame_url(script: &str) -> String {
    let start = script.find("\"isogate-frame://localhost/frame/").unwrap() + 1;
    let end = start + script[start..].find('"').unwrap();
    script[start..end].to_owned()
}

fn attach(f: &Fixture) {
    f.helper
        .attach(wry::WebViewBuilder::new(), "main", |request| {
            (request.uri().path() == "/")
                .then(|| respond(StatusCode::OK, &[], &b"<!doctype html>"[..]))
        })
        .unwrap();
}

#[test]
fn origins_per_scheme_style() {
    assert_eq!(SchemeStyle::Custom.origin("isogate-app"), APP);
    assert_eq!(
        SchemeStyle::Http.origin("isogate-app"),
        "http://isogate-app.localhost"
    );
    assert_eq!(
        SchemeStyle::Https.origin("isogate-frame"),
        "https://isogate-frame.localhost"
    );
    let native = if cfg!(any(target_os = "windows", target_os = "android")) {
        SchemeStyle::Http
    } else {
        SchemeStyle::Custom
    };
    assert_eq!(SchemeStyle::native(false), native);
    // What the webview reports on each platform maps back to the origin.
    for style in [SchemeStyle::Custom, SchemeStyle::Http, SchemeStyle::Https] {
        let origin = style.origin("isogate-app");
        assert_eq!(origin_of(&format!("{origin}/index.html?x#y")), Some(origin));
    }
}

#[test]
fn origin_of_urls() {
    let cases = [
        ("isogate-app://localhost/", Some(APP)),
        ("ISOGATE-APP://LocalHost/a/b", Some(APP)),
        (
            "isogate-app://localhost:80/",
            Some("isogate-app://localhost:80"),
        ),
        (
            "http://isogate-app.localhost/",
            Some("http://isogate-app.localhost"),
        ),
        ("http://example.com:80/", Some("http://example.com")),
        ("https://example.com:443/", Some("https://example.com")),
        (
            "https://example.com:8443/",
            Some("https://example.com:8443"),
        ),
        ("/relative", None),
        ("about:blank", None),
        ("", None),
    ];
    for (url, origin) in cases {
        assert_eq!(origin_of(url).as_deref(), origin, "{url}");
    }
}

#[test]
fn bad_settings_are_refused() {
    let bad = |options: Options| {
        let policy = Policy::load(&[PolicySource {
            name: "t.json",
            text: POLICY,
        }])
        .unwrap();
        let host = Arc::new(Host::new(Gate::new(
            key_from_bytes(KEY),
            policy,
            Table::new(),
        )));
        IsogateWry::new(host, options, |_: &str| {}).err()
    };
    for scheme in [
        "",
        "Isogate",
        "1app",
        "http",
        "a b",
        "app/x",
        &"a".repeat(33),
    ] {
        let options = Options {
            app_scheme: scheme.into(),
            ..Options::default()
        };
        assert_eq!(bad(options), Some(Error::BadScheme(scheme.into())));
    }
    let same = Options {
        frame_scheme: "isogate-app".into(),
        ..Options::default()
    };
    assert!(matches!(bad(same), Some(Error::BadScheme(_))));
    let path = Options {
        start_path: "index.html".into(),
        ..Options::default()
    };
    assert!(matches!(bad(path), Some(Error::BadStartPath(_))));
    for hook in ["x".repeat(isogate::MAX_HOOK_LEN + 1), "a</SCRIPT>".into()] {
        let hook = Options {
            hook: Some(hook),
            ..Options::default()
        };
        assert_eq!(bad(hook), Some(Error::BadHook));
    }
    assert_eq!(bad(Options::default()), None);
}

#[test]
fn attach_opens_the_window_and_refuses_bad_labels() {
    let f = fixture(Options::default());
    assert!(!f.helper.host().is_open("main"));
    attach(&f);
    assert!(f.helper.host().is_open("main"));
    let refused = f
        .helper
        .attach(wry::WebViewBuilder::new(), "bad label", |_| None)
        .err();
    assert!(matches!(refused, Some(Error::Host(_))));
    assert_eq!(f.helper.app_origin(), APP);
    assert!(f
        .helper
        .page_csp()
        .contains("frame-src isogate-frame://localhost;"));
}

#[test]
fn each_page_load_gets_a_frame_served_once() {
    let f = fixture(Options {
        hook: Some("window.__TAURI_ISOLATION_HOOK__ = function (p) { return p; };".into()),
        ..Options::default()
    });
    attach(&f);
    let inner = &f.helper.inner;
    let script = inner.page_script("main");
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(header(&script, "Cache-Control"), "no-store");
    assert!(header(&script, "Content-Type").starts_with("text/javascript"));
    let body = text(&script);
    assert!(body.starts_with(isogate::SHIM_SCRIPT));
    assert!(!body.contains(FRAME_URL_PLACEHOLDER));
    let url = frame_url(body);
    let token = url
        .strip_prefix("isogate-frame://localhost/frame/")
        .unwrap();
    assert!(is_token(token), "{token}");

    // A reload: a new frame; the first one is never served.
    let second = frame_url(text(&inner.page_script("main")));
    assert_ne!(url, second);
    assert_eq!(inner.frame_response(&get(&url)).status(), 404);

    let doc = inner.frame_response(&get(&second));
    assert_eq!(doc.status(), StatusCode::OK);
    let csp = header(&doc, "Content-Security-Policy");
    assert!(
        csp.contains("frame-ancestors isogate-app://localhost"),
        "{csp}"
    );
    assert!(csp.contains("sandbox allow-scripts"), "{csp}");
    assert_eq!(header(&doc, "Cross-Origin-Resource-Policy"), "same-origin");
    assert!(text(&doc).contains("__TAURI_ISOLATION_HOOK__"));
    assert_eq!(inner.frame_response(&get(&second)).status(), 404, "spent");

    for path in [
        "/",
        "/frame/",
        "/frame/x",
        &format!("/frame/{}", "A".repeat(32)),
    ] {
        let url = format!("isogate-frame://localhost{path}");
        assert_eq!(inner.frame_response(&get(&url)).status(), 404, "{path}");
    }
    let counters = f.helper.host().counters();
    assert_eq!((counters.frames_issued, counters.frames_served), (2, 1));
}

#[test]
fn page_loads_reopen_a_closed_window_and_bad_labels_get_no_frame() {
    let f = fixture(Options::default());
    attach(&f);
    f.helper.close("main");
    // The script reopens it (a page load), so a closed window is only
    // closed until its webview loads the app again.
    assert_eq!(f.helper.inner.page_script("main").status(), StatusCode::OK);
    // A label the host never accepts gets no frame.
    let refused = f.helper.inner.page_script("bad label");
    assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(refused.body().is_empty());
}

#[test]
fn ipc_messages_use_the_label_and_the_request_origin() {
    let f = fixture(Options::default());
    attach(&f);
    let host = f.helper.host();
    let token = host.new_frame("main", None).unwrap();
    let load_id = host.take_frame(&token).unwrap().load_id;
    let mut sealer = Sealer::new(KEY, "main", APP, load_id);
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let inner = &f.helper.inner;

    // A page of another origin posts a valid envelope: discarded.
    let envelope = b64(sealer.invoke(1, "greet", json!({})));
    inner.handle_ipc("main", &ipc("https://evil.example/", envelope.clone()));
    // The app page posts it: the router runs, the reply is queued, the
    // app is woken for `main`.
    inner.handle_ipc("main", &ipc("isogate-app://localhost/", envelope.clone()));
    assert_eq!(f.calls.load(Ordering::SeqCst), 1);
    assert_eq!(*f.woken.lock().unwrap(), ["main"]);
    let reply = host.pop("main").unwrap();
    assert_eq!(reply.kind, OutgoingKind::Reply);
    assert_eq!(
        delivery_script(&reply),
        r#"window.isogate && isogate.deliver({"id":1,"ok":true,"result":"hi"})"#
    );
    // A replay, garbage, a huge message, an envelope for another window
    // posted from this webview: nothing runs, nothing is queued.
    inner.handle_ipc("main", &ipc("isogate-app://localhost/", envelope));
    inner.handle_ipc("main", &ipc("isogate-app://localhost/", "{}".into()));
    inner.handle_ipc(
        "main",
        &ipc("isogate-app://localhost/", "A".repeat(4 << 20)),
    );
    let mut other = Sealer::new(KEY, "other", APP, load_id);
    let envelope = b64(other.invoke(2, "greet", json!({})));
    inner.handle_ipc("main", &ipc("isogate-app://localhost/", envelope));
    assert_eq!(f.calls.load(Ordering::SeqCst), 1);
    assert!(host.pop("main").is_none());
    assert_eq!(host.gate().counters().discarded_total(), 5);

    // Events go the same way, to `deliverEvent`.
    assert!(host.emit("main", "tick", &json!({"n": 1})));
    let event = host.pop("main").unwrap();
    assert_eq!(
        delivery_script(&event),
        r#"window.isogate && isogate.deliverEvent({"event":"tick","payload":{"n":1}})"#
    );
}

#[test]
fn the_bootstrap_has_one_placeholder() {
    assert_eq!(BOOTSTRAP.matches(FRAME_URL_PLACEHOLDER).count(), 1);
}
