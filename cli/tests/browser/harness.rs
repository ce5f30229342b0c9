//! Shared pieces of the browser tests: the demo host as a child process and
//! one headless Chromium for the whole test binary.

use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Returns false (after one clear line) when Chromium is missing outside CI;
/// fails the test when it is missing in CI.
pub fn chromium_available() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{CHROMIUM} is missing and CI=true: .ci/run must install chromium");
    }
    eprintln!("skipping browser tests: {CHROMIUM} not found (apt-get install -y chromium)");
    false
}

pub struct Demo {
    child: Child,
    /// The page's URL (the demo's first line).
    pub url: String,
    /// The host-only audit console's URL (its second line).
    pub console: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `isogate demo --port 0` and reads its URL from the first line.
pub fn start_demo() -> Demo {
    start_demo_with(&[])
}

/// Starts `isogate demo --port 0` with extra arguments.
pub fn start_demo_with(args: &[&str]) -> Demo {
    let mut child = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .args(["demo", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start isogate demo");
    let stdout = child.stdout.take().expect("demo stdout");
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    reader.read_line(&mut line).expect("demo prints its URL");
    let mut console = String::new();
    reader
        .read_line(&mut console)
        .expect("demo prints its console's URL");
    // Keep reading: a closed pipe would make the demo's next println panic.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = line.trim().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "first line is the URL, got {url:?}"
    );
    let console = console.trim().to_owned();
    assert!(
        console.starts_with("http://127.0.0.1:") && console != url,
        "second line is the console's URL, got {console:?}"
    );
    Demo {
        child,
        url,
        console,
    }
}

pub fn launch_browser() -> Browser {
    let args: Vec<&OsStr> = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let options = LaunchOptions::default_builder()
        .path(Some(PathBuf::from(CHROMIUM)))
        .sandbox(false)
        .headless(true)
        .args(args)
        .idle_browser_timeout(Duration::from_secs(120))
        .build()
        .expect("launch options");
    Browser::new(options).expect("launch chromium")
}

/// Evaluates an expression (awaiting a returned promise) and returns its JSON value.
pub fn eval(tab: &Tab, js: &str) -> Value {
    let wrapped = format!("(async () => JSON.stringify(await ({js})))()");
    let result = tab
        .evaluate(&wrapped, true)
        .unwrap_or_else(|e| panic!("evaluate {js}: {e}"));
    match result.value {
        Some(Value::String(s)) => serde_json::from_str(&s).unwrap_or(Value::Null),
        other => panic!(
            "evaluate {js}: unexpected {other:?} ({:?})",
            result.description
        ),
    }
}

/// Opens the demo page for `window` in a new tab, without waiting for its frame.
pub fn load_page(browser: &Browser, demo: &Demo, window: &str) -> Arc<Tab> {
    let tab = browser.new_tab().expect("new tab");
    tab.navigate_to(&format!("{}?window={window}", demo.url))
        .expect("navigate")
        .wait_until_navigated()
        .expect("navigated");
    tab
}

/// Opens the demo page for `window` in a new tab and waits for the frame to be ready.
pub fn open_page(browser: &Browser, demo: &Demo, window: &str) -> Arc<Tab> {
    let tab = load_page(browser, demo, window);
    let deadline = Instant::now() + Duration::from_secs(15);
    while eval(&tab, "window.demo && window.demo.ready") != Value::Bool(true) {
        assert!(
            Instant::now() < deadline,
            "demo page for `{window}` never became ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    tab
}

/// The demo host's counters, read from its console by the test process
/// (the page cannot read them).
pub fn stats(demo: &Demo) -> Value {
    let (status, body) = http_get(&format!("{}stats", demo.console));
    assert_eq!(status, 200, "console /stats: {body}");
    serde_json::from_str(&body).expect("stats JSON")
}

pub fn router_calls(demo: &Demo) -> u64 {
    stats(demo)["router_calls"].as_u64().expect("router_calls")
}

/// The demo host's audit log, oldest first, from its console.
pub fn audit(demo: &Demo) -> Vec<Value> {
    let (status, body) = http_get(&format!("{}audit.json", demo.console));
    assert_eq!(status, 200, "console /audit.json: {body}");
    match serde_json::from_str(&body) {
        Ok(Value::Array(items)) => items,
        other => panic!("audit log: {other:?}"),
    }
}

/// The newest audit event.
pub fn last_audit(demo: &Demo) -> Value {
    audit(demo).pop().expect("an audit event")
}

/// A plain HTTP/1.1 GET from outside the browser: (status, body).
pub fn http_get(url: &str) -> (u16, String) {
    http_request("GET", url)
}

/// A plain HTTP/1.1 POST without a body and without `Origin`, from
/// outside the browser (as the host's user or a tool would): (status, body).
pub fn http_post(url: &str) -> (u16, String) {
    http_request("POST", url)
}

fn http_request(method: &str, url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let length = if method == "POST" {
        "Content-Length: 0\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{length}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
