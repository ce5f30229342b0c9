//! End-to-end tests in headless Chromium against `isogate demo`: a real
//! isolation frame seals, the core opens, checks and dispatches, and every
//! other path is discarded with the router never called.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod attacks;
mod harness;
mod hooks;
mod host_actions;
mod leaks;

use harness::*;
use serde_json::{json, Value};

#[test]
fn browser_end_to_end() {
    if !chromium_available() {
        return;
    }
    let demo = start_demo();
    let browser = launch_browser();
    let main = open_page(&browser, &demo, "main");
    let before = router_calls(&demo);

    // Allowed call: the router's reply comes back.
    assert_eq!(
        eval(&main, "isogate.invoke('greet', {name: 'Ada'})"),
        json!("Hello, Ada!")
    );
    assert_eq!(router_calls(&demo), before + 1);
    let ev = last_audit(&demo);
    assert_eq!(
        (ev["outcome"].as_str(), ev["name"].as_str()),
        (Some("dispatched"), Some("greet"))
    );
    let calls = before + 1;

    // Binary body travels raw.
    let upload = eval(
        &main,
        "isogate.invoke('upload', new Uint8Array(1024).fill(7))",
    );
    assert_eq!(upload["bytes"], json!(1024));
    let calls = calls + 1;

    // Allowed event reaches the host's listener; the core's event reaches the page.
    let ack = eval(
        &main,
        "new Promise(resolve => { const off = isogate.listen('clicked-ack', p => { off(); resolve(p); });
           isogate.emit('clicked', {button: 'test'}); })",
    );
    assert!(ack["count"].as_u64().is_some_and(|n| n >= 1), "{ack}");
    assert_eq!(last_audit(&demo)["outcome"], json!("delivered"));

    // Denied command: generic timeout for the page, `denied` for the host.
    let denied = eval(
        &main,
        "isogate.invoke('delete_everything', {}, {timeout: 1000}).then(() => 'resolved', e => (e && e.message) || String(e))",
    );
    assert_eq!(denied, json!("isogate: timeout"));
    let ev = last_audit(&demo);
    assert_eq!(
        (ev["reason"].as_str(), ev["name"].as_str()),
        (Some("denied"), Some("delete_everything"))
    );
    assert_eq!(router_calls(&demo), calls);

    // Tampered envelope.
    let tampered = eval(
        &main,
        "isogate.seal({kind: 'invoke', id: 77, cmd: 'greet', args: {name: 'Eve'}})
           .then(env => { env[env.length - 20] ^= 1; return demo.send(env); })",
    );
    assert_eq!(tampered, Value::Null);
    assert_eq!(last_audit(&demo)["reason"], json!("bad_tag"));
    assert_eq!(router_calls(&demo), calls);

    // Replayed envelope: accepted once, then discarded.
    let replay = eval(
        &main,
        "isogate.seal({kind: 'invoke', id: 78, cmd: 'greet', args: {name: 'Eve'}})
           .then(async env => [await demo.send(env), await demo.send(env)])",
    );
    assert_eq!(replay[0]["result"], json!("Hello, Eve!"));
    assert_eq!(replay[1], Value::Null);
    assert_eq!(last_audit(&demo)["reason"], json!("replay"));
    let calls = calls + 1;
    assert_eq!(router_calls(&demo), calls);

    // An envelope sealed by window `settings`, sent from window `main`.
    let settings = open_page(&browser, &demo, "settings");
    let foreign = eval(
        &settings,
        "isogate.seal({kind: 'invoke', id: 79, cmd: 'greet', args: {name: 'Eve'}}).then(demo.toBase64)",
    );
    let foreign = foreign.as_str().expect("base64 envelope");
    let cross = eval(&main, &format!("demo.send(demo.fromBase64('{foreign}'))"));
    assert_eq!(cross, Value::Null);
    assert_eq!(last_audit(&demo)["reason"], json!("wrong_window"));
    assert_eq!(router_calls(&demo), calls);

    // Raw unsealed requests straight to the core: JSON, and an empty body.
    let raw = eval(
        &main,
        "Promise.all([
           demo.send(new TextEncoder().encode(JSON.stringify({kind: 'invoke', id: 1, cmd: 'greet', args: {name: 'raw'}}))),
           demo.send(new Uint8Array(0))])",
    );
    assert_eq!(raw, json!([null, null]));
    let log = audit(&demo);
    let tail: Vec<&str> = log
        .iter()
        .rev()
        .take(2)
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(tail, ["malformed", "malformed"]);
    assert_eq!(router_calls(&demo), calls);

    // Arguments outside the policy are denied by the core.
    let bad_path = eval(
        &main,
        "isogate.invoke('read_note', {path: '/notes/../etc/passwd'}, {timeout: 1000}).then(() => 'resolved', e => (e && e.message) || String(e))",
    );
    assert_eq!(bad_path, json!("isogate: timeout"));
    assert_eq!(last_audit(&demo)["reason"], json!("denied"));
    assert_eq!(router_calls(&demo), calls);

    // After a reload, envelopes sealed by the earlier frame load are stale.
    let old = eval(
        &main,
        "isogate.seal({kind: 'invoke', id: 80, cmd: 'greet', args: {name: 'Old'}}).then(demo.toBase64)",
    );
    let old = old.as_str().expect("base64 envelope").to_owned();
    // Chromium keeps at most 6 connections per host and every demo page holds
    // an event stream open: close the earlier tabs so the new page can fetch.
    settings.close(true).expect("close settings tab");
    main.close(true).expect("close main tab");
    let main = open_page(&browser, &demo, "main");
    let stale = eval(&main, &format!("demo.send(demo.fromBase64('{old}'))"));
    assert_eq!(stale, Value::Null);
    assert_eq!(last_audit(&demo)["reason"], json!("stale_load"));
    assert_eq!(router_calls(&demo), calls);
    assert_eq!(
        eval(&main, "isogate.invoke('add', {a: 2, b: 40})"),
        json!(42)
    );
}

#[test]
fn browser_attacks() {
    if !chromium_available() {
        return;
    }
    let demo = start_demo();
    let browser = launch_browser();
    let tab = attacks::open_hostile_page(&browser, &demo, "main");
    attacks::forged_seal_requests_are_never_sealed(&tab);
    attacks::forged_transport_bytes_are_discarded(&demo, &tab);
    attacks::replays_and_reorders(&demo, &tab);
    leaks::page_cannot_read_audit_or_reasons(&demo, &tab);
    // Last: it retires the page's own frame load.
    attacks::frame_document_is_unreadable(&demo, &tab);
}

/// The audit console's host actions: egress by the policy's `deliver`
/// rules, and a grant the host gives one window for one read.
#[test]
fn browser_host_actions() {
    if !chromium_available() {
        return;
    }
    let browser = launch_browser();
    host_actions::settings_saved_reaches_settings_only(&browser);
    host_actions::a_picked_file_is_read_once_by_its_window(&browser);
}

#[test]
fn browser_hooks() {
    if !chromium_available() {
        return;
    }
    let browser = launch_browser();
    hooks::throwing_hook_script_seals_nothing(&browser);
    hooks::good_hook_still_works(&browser);
}

/// One event stream per window: a second page of window `main` takes the
/// stream over, the first is told and stops (no reconnecting back and
/// forth), and core events reach the newer page.
#[test]
fn browser_event_stream_per_window() {
    if !chromium_available() {
        return;
    }
    let demo = start_demo();
    let browser = launch_browser();
    let first = open_page(&browser, &demo, "main");
    let second = open_page(&browser, &demo, "main");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = "document.getElementById('status').textContent";
    while !eval(&first, status)
        .as_str()
        .is_some_and(|s| s.starts_with("another page took over"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the first page was never told: {}",
            eval(&first, status)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Longer than EventSource's reconnection delay: nobody took it back.
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert_eq!(stats(&demo)["event_streams"], json!(1));
    assert_eq!(eval(&second, status), json!("ready"));
    let ack = eval(
        &second,
        "new Promise(resolve => { const off = isogate.listen('clicked-ack', p => { off(); resolve(p); });
           isogate.emit('clicked', {button: 'second'}); })",
    );
    assert_eq!(ack, json!({"count": 1}));
}

/// Another origin's page cannot retire a window's frame load or send
/// envelopes: its `no-cors` POSTs to `/frame` and `/ipc` reach the demo
/// and are refused (they carry its `Origin`), and the window's next call
/// still works.
#[test]
fn browser_cross_origin_posts_are_refused() {
    if !chromium_available() {
        return;
    }
    let demo = start_demo();
    let browser = launch_browser();
    let main = open_page(&browser, &demo, "main");
    let frames = stats(&demo)["host"]["frames_issued"].clone();
    // Another origin on this machine (Chromium keeps pages of other
    // address spaces from reaching loopback at all): the console's, with
    // its CSP switched off so its script may fetch anywhere.
    let evil = browser.new_tab().expect("new tab");
    evil.call_method(headless_chrome::protocol::cdp::Page::SetBypassCSP { enabled: true })
        .expect("bypass CSP");
    evil.navigate_to(&demo.console)
        .expect("navigate")
        .wait_until_navigated()
        .expect("navigated");
    let sent = eval(
        &evil,
        &format!(
            "Promise.all(['frame?window=main', 'frame?window=settings', 'ipc?window=main'].map(p =>
               fetch({url:?} + p, {{method: 'POST', mode: 'no-cors', body: 'x'}}).then(r => r.type, e => e.name)))",
            url = demo.url
        ),
    );
    assert_eq!(sent, json!(["opaque", "opaque", "opaque"]));
    assert_eq!(
        stats(&demo)["refused"]["wrong_origin"],
        json!(3),
        "they reached the demo"
    );
    assert_eq!(stats(&demo)["host"]["frames_issued"], frames);
    assert_eq!(
        eval(
            &main,
            "isogate.invoke('greet', {name: 'Ada'}, {timeout: 3000})"
        ),
        json!("Hello, Ada!")
    );
    assert_eq!(router_calls(&demo), 1);
}
