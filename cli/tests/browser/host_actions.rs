//! The host's own actions on the audit console, driven by the test process
//! over plain HTTP (as the host's user would): the broadcast that the
//! policy's `deliver` rules deliver to `settings` only, and the stand-in
//! file picker whose grant lets one window read one file once.

use crate::harness::{audit, eval, http_post, open_page, router_calls, start_demo, stats};
use headless_chrome::{Browser, Tab};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PICKED: &str = "/home/user/picked.txt";

/// Polls `js` in `tab` until it is not `null`, for at most `limit`.
fn wait_for(tab: &Tab, js: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let value = eval(tab, js);
        if !value.is_null() || Instant::now() > deadline {
            return value;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The page emits `clicked` and waits (at most 5 s) for the core's
/// `clicked-ack`: an event queued for the window after everything queued
/// before it.
fn round_trip(tab: &Tab) -> Value {
    eval(
        tab,
        "new Promise(resolve => {
           const off = isogate.listen('clicked-ack', p => { off(); resolve(p); });
           setTimeout(() => { off(); resolve('timeout'); }, 5000);
           isogate.emit('clicked', {button: 'round-trip'}); })",
    )
}

/// Opens the audit console, clicks its button `id` (the console's own
/// script posts, with the console's `Origin`) and returns what the console
/// lists for it.
fn click_on_console(browser: &Browser, console: &str, id: &str) -> String {
    let tab = browser.new_tab().expect("new tab");
    tab.navigate_to(console)
        .expect("navigate")
        .wait_until_navigated()
        .expect("navigated");
    eval(
        &tab,
        &format!("(document.getElementById({id:?}).click(), true)"),
    );
    let shown = wait_for(
        &tab,
        "(document.querySelector('#actions li') || {}).textContent || null",
        Duration::from_secs(10),
    );
    tab.close(true).expect("close console tab");
    shown.as_str().unwrap_or("").to_owned()
}

/// The names of the core events the page received, oldest first.
fn received(tab: &Tab) -> Value {
    eval(tab, "demo.received.map(e => e.event)")
}

pub fn settings_saved_reaches_settings_only(browser: &Browser) {
    let demo = start_demo();
    let main = open_page(browser, &demo, "main");
    let settings = open_page(browser, &demo, "settings");

    let (status, body) = http_post(&format!("{}broadcast", demo.console));
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("broadcast JSON");
    assert_eq!(
        answer,
        json!({"event": "settings-saved", "delivered": {"main": false, "settings": true}})
    );

    // `settings` gets it, payload and all.
    let got = wait_for(
        &settings,
        "demo.received.find(e => e.event === 'settings-saved') || null",
        Duration::from_secs(10),
    );
    assert_eq!(
        got["payload"],
        json!({"theme": "dark", "sync_code": "4417-2208"}),
        "settings never received settings-saved"
    );

    // `main` does not. Its stream works (`clicked-ack` is delivered to
    // both windows), and an event queued after the broadcast arrives: had
    // `settings-saved` been queued for `main`, it would have come first.
    assert_eq!(round_trip(&main), json!({"count": 1}));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(received(&main), json!(["clicked-ack"]));
    assert_eq!(round_trip(&settings), json!({"count": 2}));
    assert_eq!(
        received(&settings),
        json!(["settings-saved", "clicked-ack"])
    );

    // The host saw the drop: audited as `dropped` / `denied`, kind
    // `deliver`, for `main` only, and counted.
    let log = audit(&demo);
    let drops: Vec<&Value> = log.iter().filter(|e| e["outcome"] == "dropped").collect();
    assert_eq!(drops.len(), 1, "{drops:?}");
    let drop = drops[0];
    assert_eq!(
        (
            drop["window"].as_str(),
            drop["kind"].as_str(),
            drop["name"].as_str(),
            drop["reason"].as_str(),
        ),
        (
            Some("main"),
            Some("deliver"),
            Some("settings-saved"),
            Some("denied")
        ),
        "{drop}"
    );
    let s = stats(&demo);
    assert_eq!(s["broadcast"], json!({"delivered": 1, "dropped": 1}), "{s}");
    assert_eq!(s["host"]["dropped"], json!(1), "{s}");
    assert_eq!(s["gate"]["dropped"], json!(1), "{s}");

    // The console's own button does the same.
    assert_eq!(
        click_on_console(browser, &demo.console, "btn-broadcast"),
        "settings-saved: main not delivered (see the audit), settings delivered"
    );
    let again = wait_for(
        &settings,
        "demo.received.filter(e => e.event === 'settings-saved').length === 2 || null",
        Duration::from_secs(10),
    );
    assert_eq!(again, json!(true), "{}", received(&settings));
    assert_eq!(
        stats(&demo)["broadcast"],
        json!({"delivered": 2, "dropped": 2})
    );
    settings.close(true).expect("close settings tab");
    main.close(true).expect("close main tab");
}

/// The page's `read_note` of the picked path: its reply, or `"timeout"`.
fn read_picked(tab: &Tab) -> Value {
    eval(
        tab,
        &format!(
            "isogate.invoke('read_note', {{path: {PICKED:?}}}, {{timeout: 1000}})
               .then(v => v, e => (e && e.message) === 'isogate: timeout' ? 'timeout' : String(e))"
        ),
    )
}

pub fn a_picked_file_is_read_once_by_its_window(browser: &Browser) {
    let demo = start_demo();
    let main = open_page(browser, &demo, "main");
    let settings = open_page(browser, &demo, "settings");
    let calls = router_calls(&demo);

    // Before the pick: denied, the router untouched.
    assert_eq!(read_picked(&main), json!("timeout"));
    let log = audit(&demo);
    let last = log.last().expect("an audit event");
    assert_eq!(
        (last["name"].as_str(), last["reason"].as_str()),
        (Some("read_note"), Some("denied")),
        "{last}"
    );

    // The page cannot pick for itself: the console refuses its POST (it
    // carries the page's origin), and nothing is granted. The page's CSP
    // would block the fetch before it leaves; a document of the page's
    // origin served without one (`/app.css`) shows the console refuses it.
    let refused_before = stats(&demo)["refused"]["wrong_origin"].clone();
    let page_origin = browser.new_tab().expect("new tab");
    page_origin
        .navigate_to(&format!("{}app.css", demo.url))
        .expect("navigate")
        .wait_until_navigated()
        .expect("navigated");
    let sent = eval(
        &page_origin,
        &format!(
            "fetch({url:?}, {{method: 'POST', mode: 'no-cors'}}).then(r => r.type, e => e.name)",
            url = format!("{}grant?window=main", demo.console)
        ),
    );
    // The request leaves and is refused (counted below); the response is
    // withheld from the page (the console's `Cross-Origin-Resource-Policy`).
    assert_eq!(sent, json!("TypeError"));
    page_origin.close(true).expect("close tab");
    let s = stats(&demo);
    assert_eq!(
        s["refused"]["wrong_origin"].as_u64(),
        refused_before.as_u64().map(|n| n + 1),
        "the page's POST reached the console and was refused"
    );
    assert_eq!(s["grants"], json!(0));
    assert_eq!(read_picked(&main), json!("timeout"));
    assert_eq!(router_calls(&demo), calls);

    // The host's user picks the file for `main`.
    let (status, body) = http_post(&format!("{}grant?window=main", demo.console));
    assert_eq!(status, 200, "{body}");
    let grant: Value = serde_json::from_str(&body).expect("grant JSON");
    let id = grant["grant"].as_str().expect("grant id").to_owned();
    assert!(id.starts_with("grant-"), "{grant}");
    assert_eq!(grant["window"], json!("main"));

    // Another window cannot use main's grant.
    assert_eq!(read_picked(&settings), json!("timeout"));
    assert_eq!(router_calls(&demo), calls);

    // `main` reads it once: the router runs exactly once.
    assert_eq!(
        read_picked(&main),
        json!("the picked file: granted by the host, read once")
    );
    assert_eq!(router_calls(&demo), calls + 1);
    let last = audit(&demo).pop().expect("an audit event");
    assert_eq!(
        (
            last["outcome"].as_str(),
            last["rule"].as_str(),
            last["grant"].as_str()
        ),
        (Some("dispatched"), Some("read-picked"), Some(id.as_str())),
        "{last}"
    );

    // The second read: the grant is spent.
    assert_eq!(read_picked(&main), json!("timeout"));
    assert_eq!(router_calls(&demo), calls + 1);
    let last = audit(&demo).pop().expect("an audit event");
    assert_eq!(
        (last["reason"].as_str(), last["grant"].as_str()),
        (Some("denied"), Some(id.as_str())),
        "{last}"
    );

    // The rest of read_note is as before.
    assert_eq!(
        eval(
            &main,
            "isogate.invoke('read_note', {path: '/notes/readme.md'})"
        ),
        json!("isogate demo notes")
    );
    assert_eq!(router_calls(&demo), calls + 2);

    // The console's own button picks too: one more read.
    let shown = click_on_console(browser, &demo.console, "btn-pick-main");
    assert!(
        shown.ends_with(&format!(
            ": window main may read_note {PICKED} 1 time(s) within 60 s"
        )) && shown.starts_with("grant-")
            && !shown.starts_with(&format!("{id}:")),
        "{shown}"
    );
    assert_eq!(
        read_picked(&main),
        json!("the picked file: granted by the host, read once")
    );
    assert_eq!(read_picked(&main), json!("timeout"));
    assert_eq!(router_calls(&demo), calls + 3);
    settings.close(true).expect("close settings tab");
    main.close(true).expect("close main tab");
}
