//! Abuse of `isogate demo` over loopback, as a hostile page (or anything
//! else on the machine) could do it: streams held open and never read,
//! subscriptions opened and aborted in a loop, page-chosen labels of 12 KB,
//! slow and oversized requests, cross-origin and wrong-`Host` requests.
//!
//! Each test starts its own demo, attacks it with plain `TcpStream`s
//! (bounded in count and time), and asserts that the router is never
//! reached, that the demo still answers, and that its memory (`VmRSS`,
//! `VmHWM`) and thread count, sampled from `/proc/PID/status` throughout,
//! stay bounded. Each prints its figures (`cargo test --test abuse --
//! --nocapture`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The demo's memory must stay under this, whatever the attack.
const MAX_RSS_KIB: u64 = 64 * 1024;
/// Threads the demo may run (a runtime of two workers, the main thread,
/// and a little room); the hand-written server used one per connection.
const MAX_THREADS: u64 = 8;

/// A running demo: its child process and the addresses it printed.
struct Demo {
    child: Child,
    /// `127.0.0.1:PORT` of the page.
    page: String,
    /// `127.0.0.1:PORT` of the host-only console.
    console: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn addr_of(url: &str) -> String {
    url.trim()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

fn start() -> Demo {
    let mut child = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .args(["demo", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start isogate demo");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let (mut page, mut console) = (String::new(), String::new());
    reader.read_line(&mut page).unwrap();
    reader.read_line(&mut console).unwrap();
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let demo = Demo {
        child,
        page: addr_of(&page),
        console: addr_of(&console),
    };
    assert!(demo.page.starts_with("127.0.0.1:"), "{page:?}");
    assert!(demo.console.starts_with("127.0.0.1:"), "{console:?}");
    demo
}

/// `VmRSS`, `VmHWM` (KiB) and `Threads` of a process.
fn proc_status(pid: u32) -> (u64, u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"), field("Threads:"))
}

/// Samples the demo's `/proc` status every 20 ms while an attack runs.
struct Sampler {
    stop: Arc<AtomicBool>,
    max_rss: Arc<AtomicU64>,
    max_threads: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
    pid: u32,
}

impl Sampler {
    fn new(demo: &Demo) -> Self {
        let pid = demo.child.id();
        let stop = Arc::new(AtomicBool::new(false));
        let max_rss = Arc::new(AtomicU64::new(0));
        let max_threads = Arc::new(AtomicU64::new(0));
        let (s, r, t) = (stop.clone(), max_rss.clone(), max_threads.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let (rss, _, threads) = proc_status(pid);
                r.fetch_max(rss, Ordering::Relaxed);
                t.fetch_max(threads, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self {
            stop,
            max_rss,
            max_threads,
            thread: Some(thread),
            pid,
        }
    }

    /// Stops sampling, prints the figures and checks them.
    fn finish(mut self, scenario: &str) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let (rss, hwm, threads) = proc_status(self.pid);
        let max_rss = self.max_rss.load(Ordering::Relaxed).max(rss);
        let max_threads = self.max_threads.load(Ordering::Relaxed).max(threads);
        println!(
            "abuse figures [{scenario}]: VmRSS now {rss} KiB, peak sampled {max_rss} KiB, VmHWM {hwm} KiB; threads now {threads}, peak sampled {max_threads}"
        );
        assert!(
            hwm > 0 && hwm < MAX_RSS_KIB && max_rss < MAX_RSS_KIB,
            "{scenario}: VmHWM {hwm} KiB, peak VmRSS {max_rss} KiB"
        );
        assert!(
            max_threads <= MAX_THREADS,
            "{scenario}: {max_threads} threads"
        );
    }
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
}

/// Sends `head` (and `body`) on a fresh connection and reads the whole
/// response: (status, headers, body).
fn exchange(addr: &str, head: &str, body: &[u8]) -> (u16, String, String) {
    let mut stream = connect(addr);
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    split(&String::from_utf8_lossy(&response))
}

fn split(response: &str) -> (u16, String, String) {
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// Reads until the end of the response head; returns the status.
fn read_status(stream: &mut TcpStream) -> u16 {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    split(&String::from_utf8_lossy(&head)).0
}

fn get(addr: &str, path: &str) -> (u16, String, String) {
    exchange(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
        b"",
    )
}

fn post(addr: &str, path: &str, origin: Option<&str>, body: &[u8]) -> (u16, String, String) {
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    exchange(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{origin}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ),
        body,
    )
}

fn stats(demo: &Demo) -> Value {
    let (status, _, body) = get(&demo.console, "/stats");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The demo still serves its page, and the router was never reached.
fn still_answers_and_router_untouched(demo: &Demo) {
    let started = Instant::now();
    let (status, _, body) = get(&demo.page, "/");
    assert_eq!(status, 200);
    assert!(body.contains("isogate demo"));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(stats(demo)["router_calls"], 0, "the router was reached");
}

/// Waits (at most `limit`) until `check` holds for the console's stats.
fn wait_for_stats(demo: &Demo, limit: Duration, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let s = stats(demo);
        if check(&s) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A 12 KB label, unique per `i`.
fn long_label(i: usize) -> String {
    format!("{}{i}", "w".repeat(12 * 1024))
}

/// Opens a stream: sends the GET and reads the response head, then never
/// reads again.
fn hold_stream(addr: &str, path: &str) -> (u16, TcpStream) {
    let mut stream = connect(addr);
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let status = read_status(&mut stream);
    (status, stream)
}

/// The first attack: streams held open and never read, then a
/// thousand junk envelopes under 12 KB page-chosen window labels. The
/// page's origin has no audit stream at all; the console's readers and the
/// window's event stream are bounded, and stuck readers are cut.
#[test]
fn held_streams_and_junk_with_long_labels() {
    let demo = start();
    let sampler = Sampler::new(&demo);
    let page_origin = format!("http://{}", demo.page);
    let mut held = Vec::new();
    for _ in 0..3 {
        let (status, stream) = hold_stream(&demo.page, "/audit");
        assert_eq!(status, 404, "the page's origin serves no audit stream");
        held.push(stream);
        let (status, stream) = hold_stream(&demo.page, "/events?window=main");
        assert_eq!(status, 200);
        held.push(stream);
        // A host-side reader that got stuck.
        let (status, stream) = hold_stream(&demo.console, "/audit");
        assert_eq!(status, 200);
        held.push(stream);
    }
    let s = wait_for_stats(&demo, Duration::from_secs(5), |s| s["event_streams"] == 1);
    assert_eq!(
        s["event_streams"], 1,
        "a newer stream for a window replaces the older: {s}"
    );
    assert_eq!(s["audit_readers"], 3);

    let started = Instant::now();
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..1000 {
        let path = format!("/ipc?window={}", long_label(i));
        let (status, _, _) = post(&demo.page, &path, Some(&page_origin), b"junk envelope");
        *statuses.entry(status).or_insert(0) += 1;
        if started.elapsed() > Duration::from_secs(25) {
            break;
        }
    }
    // Every junk envelope gets what any discard gets.
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        [204],
        "{statuses:?}"
    );
    let s = stats(&demo);
    println!(
        "abuse [held streams + junk]: {} junk requests in {:?}; unknown_window {}; stats {s}",
        statuses.values().sum::<u32>(),
        started.elapsed(),
        s["host"]["unknown_window"]
    );
    // The audit events carry the label cut to 128 bytes.
    let (_, _, audit) = get(&demo.console, "/audit.json");
    let audit: Value = serde_json::from_str(&audit).unwrap();
    let last = audit.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["reason"], "wrong_window");
    assert!(last["window"].as_str().unwrap().len() <= 128, "{last}");
    still_answers_and_router_untouched(&demo);
    sampler.finish("3 held /audit + 3 held /events + 3 stuck console readers, 1000 junk envelopes with 12 KB labels");
    drop(held);
}

/// The second attack: subscriptions opened and aborted in a loop,
/// with 12 KB unique labels; none outlives its connection, and no label is
/// kept anywhere.
#[test]
fn aborted_subscriptions_in_a_loop() {
    let demo = start();
    let sampler = Sampler::new(&demo);
    let started = Instant::now();
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..500 {
        let path = if i % 2 == 0 {
            format!("/events?window={}", long_label(i))
        } else {
            "/events?window=main".to_owned()
        };
        let (status, stream) = hold_stream(&demo.page, &path);
        *statuses.entry(status).or_insert(0) += 1;
        drop(stream); // abort
    }
    for _ in 0..100 {
        let (status, stream) = hold_stream(&demo.console, "/audit");
        assert_eq!(status, 200);
        drop(stream);
    }
    assert_eq!(
        statuses,
        [(200, 250), (404, 250)].into_iter().collect(),
        "only the host's windows have event streams"
    );
    let s = wait_for_stats(&demo, Duration::from_secs(20), |s| {
        s["event_streams"] == 0 && s["audit_readers"] == 0
    });
    println!(
        "abuse [aborted subscriptions]: 500 /events + 100 console /audit in {:?}; freed after {:?}; stats {s}",
        started.elapsed(),
        started.elapsed()
    );
    assert_eq!(
        s["event_streams"], 0,
        "aborted event streams are removed: {s}"
    );
    assert_eq!(
        s["audit_readers"], 0,
        "aborted audit readers are removed: {s}"
    );
    still_answers_and_router_untouched(&demo);
    sampler.finish("500 open-then-abort /events (half with 12 KB labels) + 100 console /audit");
}

/// Slow clients: 300 connections trickle their request heads a byte at a
/// time. Each is cut after the header time limit; they hold no thread, and
/// a normal request made during the attack is answered.
#[test]
fn slow_connections() {
    let demo = start();
    let sampler = Sampler::new(&demo);
    let mut slow: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = connect(&demo.page);
            s.set_write_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: ");
            s
        })
        .collect();
    let page = demo.page.clone();
    let during = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        let started = Instant::now();
        let (status, _, _) = get(&page, "/");
        (status, started.elapsed())
    });
    let started = Instant::now();
    let mut cut = 0;
    while started.elapsed() < Duration::from_secs(7) {
        cut = 0;
        for s in &mut slow {
            if s.write_all(b"x").is_err() {
                cut += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let (status, latency) = during.join().unwrap();
    println!(
        "abuse [slow connections]: 300 trickling heads for 7 s; {cut} already cut by the server; a normal GET during the attack: {status} in {latency:?}"
    );
    assert_eq!(status, 200);
    assert!(
        // Behind at most the 44 connections past the cap, each slow head
        // cut within 5 s: a bound, with room for a loaded machine.
        latency < Duration::from_secs(15),
        "a normal GET waited {latency:?}"
    );
    assert!(cut > 0, "slow heads are cut after the header time limit");
    drop(slow);
    still_answers_and_router_untouched(&demo);
    sampler.finish("300 slow connections trickling headers for 7 s");
}

/// Oversized requests: announced bodies over the limit are refused before
/// a byte of body is read; bodies that stall are cut by the request time
/// limit; a chunked body is cut when it grows past the limit.
#[test]
fn oversized_and_stalled_bodies() {
    let demo = start();
    let sampler = Sampler::new(&demo);
    let origin = format!("http://{}", demo.page);
    let head = |len: &str| {
        format!(
            "POST /ipc?window=main HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\n{len}\r\n",
            demo.page
        )
    };
    // 40 requests announcing 8 MiB, sending nothing: 413 at once.
    let started = Instant::now();
    let mut announced: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = connect(&demo.page);
            s.write_all(head("Content-Length: 8388608\r\n").as_bytes())
                .unwrap();
            s
        })
        .collect();
    for s in &mut announced {
        assert_eq!(read_status(s), 413);
    }
    let refused_in = started.elapsed();
    // 40 requests announcing 1,000,000 bytes (under the limit), sending
    // 100 KB, then stalling: cut by the request time limit.
    let mut stalled: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = connect(&demo.page);
            s.write_all(head("Content-Length: 1000000\r\n").as_bytes())
                .unwrap();
            s.write_all(&vec![b'x'; 100_000]).unwrap();
            s
        })
        .collect();
    // A chunked body that keeps growing: cut at the limit.
    let mut chunked = connect(&demo.page);
    chunked
        .write_all(head("Transfer-Encoding: chunked\r\n").as_bytes())
        .unwrap();
    let chunk = vec![b'y'; 64 * 1024];
    let mut sent = 0usize;
    while sent < 4 * 1024 * 1024 {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if chunked.write_all(&frame).is_err() {
            break;
        }
        sent += chunk.len();
        // Stop sending once the refusal is there to read.
        chunked.set_nonblocking(true).unwrap();
        let answered = chunked.peek(&mut [0u8; 1]).is_ok_and(|n| n > 0);
        chunked.set_nonblocking(false).unwrap();
        if answered {
            break;
        }
    }
    assert_eq!(read_status(&mut chunked), 413, "after {sent} bytes");
    for s in &mut stalled {
        assert_eq!(read_status(s), 408);
    }
    let timed_out_in = started.elapsed();
    let s = stats(&demo);
    println!(
        "abuse [oversized]: 40 x 8 MiB announced refused in {refused_in:?}; 40 stalled 1 MB bodies cut after {timed_out_in:?}; chunked cut after {sent} bytes sent; stats {s}"
    );
    assert!(refused_in < Duration::from_secs(5));
    assert!(s["connections"]["page"]["request_timeouts"].as_u64() >= Some(40));
    still_answers_and_router_untouched(&demo);
    sampler.finish("40 requests announcing 8 MiB + 40 stalled 1 MB bodies + a 4 MiB chunked body");
}

/// Cross-origin requests cannot create frames (so cannot retire the
/// window's frame load) or send envelopes; requests naming another `Host`
/// are refused on all three origins; the console refuses any other
/// origin's request and sends no CORS headers; the page's origin serves
/// no audit, reasons or counters.
#[test]
fn cross_origin_and_wrong_host() {
    let demo = start();
    let sampler = Sampler::new(&demo);
    let page_origin = format!("http://{}", demo.page);
    let frames_before = stats(&demo)["host"]["frames_issued"].clone();
    for origin in [
        Some("http://evil.example"),
        Some("null"),
        Some("http://127.0.0.1:1"),
        Some(format!("http://{}", demo.console).as_str()),
        None,
    ] {
        for path in ["/frame?window=main", "/ipc?window=main"] {
            let (status, head, body) = post(&demo.page, path, origin, b"x");
            assert_eq!(status, 403, "{path} from {origin:?}");
            assert!(!head.contains("access-control-allow"), "{head}");
            assert_eq!(body, "forbidden");
        }
    }
    assert_eq!(
        stats(&demo)["host"]["frames_issued"],
        frames_before,
        "no frame load was retired"
    );
    // The page's own origin may.
    let (status, _, body) = post(&demo.page, "/frame?window=main", Some(&page_origin), b"");
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = post(&demo.page, "/frame?window=nope", Some(&page_origin), b"");
    assert_eq!(status, 404, "only the host's windows");

    // DNS rebinding: any other Host, on every origin.
    let frame_url: Value = serde_json::from_str(&body).unwrap();
    let frame = addr_of(
        frame_url["url"]
            .as_str()
            .unwrap()
            .split("/frame/")
            .next()
            .unwrap(),
    );
    for addr in [&demo.page, &frame, &demo.console] {
        let port = addr.rsplit(':').next().unwrap();
        for host in [
            format!("evil.example:{port}"),
            "127.0.0.1:1".to_owned(),
            format!("127.0.0.1.evil.example:{port}"),
        ] {
            let (status, _, _) = exchange(
                addr,
                &format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
                b"",
            );
            assert_eq!(status, 421, "{addr} with Host {host}");
        }
        let (status, _, _) = exchange(addr, "GET / HTTP/1.0\r\n\r\n", b"");
        assert!(
            (400..500).contains(&status),
            "{addr} without Host: {status}"
        );
    }

    // The page's origin has nothing of the host's.
    for path in ["/audit", "/audit.json", "/stats", "/console", "/console.js"] {
        assert_eq!(get(&demo.page, path).0, 404, "{path}");
    }
    // The console: only its own origin, or no page at all.
    let console_get = |extra: &str| {
        exchange(
            &demo.console,
            &format!(
                "GET /audit.json HTTP/1.1\r\nHost: {}\r\n{extra}Connection: close\r\n\r\n",
                demo.console
            ),
            b"",
        )
    };
    for extra in [
        format!("Origin: {page_origin}\r\n"),
        "Origin: http://evil.example\r\n".to_owned(),
        "Origin: null\r\n".to_owned(),
        "Sec-Fetch-Site: same-site\r\n".to_owned(),
        "Sec-Fetch-Site: cross-site\r\n".to_owned(),
        format!(
            "Origin: http://{}\r\nOrigin: http://evil.example\r\n",
            demo.console
        ),
    ] {
        let (status, head, _) = console_get(&extra);
        assert_eq!(status, 403, "{extra}");
        assert!(!head.contains("access-control-allow"), "{head}");
        // The host's actions: no grant, no broadcast for another origin.
        for path in ["/grant?window=main", "/broadcast"] {
            let (status, head, _) = exchange(
                &demo.console,
                &format!(
                    "POST {path} HTTP/1.1\r\nHost: {}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n",
                    demo.console
                ),
                b"",
            );
            assert_eq!(status, 403, "{path} {extra}");
            assert!(!head.contains("access-control-allow"), "{head}");
        }
    }
    // Under a wrong `Host` (DNS rebinding) they are refused before anything else.
    for path in ["/grant?window=main", "/broadcast"] {
        let (status, _, _) = exchange(
            &demo.console,
            &format!("POST {path} HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
            b"",
        );
        assert_eq!(status, 421, "{path}");
    }
    // They take no body.
    let (status, _, _) = post(&demo.console, "/broadcast", None, b"x");
    assert_eq!(status, 413);
    assert_eq!(get(&demo.console, "/grant?window=main").0, 405);
    let s = stats(&demo);
    assert_eq!(s["grants"], 0, "{s}");
    assert_eq!(
        s["broadcast"],
        serde_json::json!({"delivered": 0, "dropped": 0}),
        "{s}"
    );
    for extra in [
        String::new(),
        "Sec-Fetch-Site: same-origin\r\n".to_owned(),
        "Sec-Fetch-Site: none\r\n".to_owned(),
        format!("Origin: http://{}\r\n", demo.console),
    ] {
        let (status, head, _) = console_get(&extra);
        assert_eq!(status, 200, "{extra}");
        assert!(head.contains("x-frame-options: deny"), "{head}");
        assert!(head.contains("frame-ancestors 'none'"), "{head}");
        assert!(!head.contains("access-control-allow"), "{head}");
    }
    let refused = &stats(&demo)["refused"];
    assert_eq!(refused["wrong_origin"], 10 + 6 * 3);
    assert_eq!(refused["wrong_host"], 3 * 4 + 2);
    still_answers_and_router_untouched(&demo);
    sampler.finish(
        "cross-origin POST /frame and /ipc, console /audit.json, /grant, /broadcast; wrong Host on three origins",
    );
}
