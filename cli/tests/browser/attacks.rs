//! Attacks from a hostile main page against the demo host, in headless
//! Chromium. The page's script is the attacker (THREAT_MODEL.md, "Attacker"):
//! it forges seal requests from the wrong source, tries to read the
//! isolation frame, calls the core's transport with forged bytes, and
//! replays and reorders envelopes. In every case the router is never called
//! for the bad ones (`/stats` `router_calls`) and the host's audit log
//! (`/audit.json`) names the reason; both are read from the host-only
//! console by the test process, never by the page.
//!
//! The demo page's CSP is switched off for these tabs (`Page.setBypassCSP`)
//! so the attacker can run code in the realm of a child frame it creates:
//! a real attacker finds some way to run script, and these tests must not
//! lean on the demo's CSP.

use crate::harness::{audit, eval, http_get, router_calls, Demo};
use headless_chrome::protocol::cdp::Page;
use headless_chrome::{Browser, Tab};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Helpers the attacker's script keeps on `window.atk`.
const ATTACKER_JS: &str = r#"(() => {
  const sealedRefs = [];
  window.addEventListener('message', e => {
    if (e.data === 'atk-sandboxed-posted') window.atk.sandboxedPosted = true;
    if (e.data && e.data.isogate === 1 && e.data.type === 'sealed') sealedRefs.push(e.data.ref);
  });
  const nonceAt = env => { const wl = env[1]; const ol = (env[2 + wl] << 8) | env[3 + wl]; return 4 + wl + ol; };
  window.atk = {
    sealedRefs,
    frame: () => document.querySelector('iframe[sandbox]'),
    sleep: ms => new Promise(r => setTimeout(r, ms)),
    load: env => new DataView(env.buffer, env.byteOffset).getUint32(nonceAt(env)),
    seq: env => { const dv = new DataView(env.buffer, env.byteOffset); const o = nonceAt(env);
                  return dv.getUint32(o + 4) * 4294967296 + dv.getUint32(o + 8); },
    headerLen: env => nonceAt(env) + 12,
    greet: (id, name) => isogate.seal({kind: 'invoke', id, cmd: 'greet', args: {name}}),
    sendAs: (win, bytes) => fetch('/ipc?window=' + encodeURIComponent(win), {method: 'POST', body: bytes})
      .then(r => r.status === 200 ? r.json() : null),
    sealRequest: (ref, name) => ({isogate: 1, type: 'seal', ref,
      message: {kind: 'invoke', id: ref, cmd: 'greet', args: {name}}, body: null}),
  };
  return true;
})()"#;

/// Opens the demo page for `window` with CSP bypassed and the attacker's
/// helpers installed, once the isolation frame is ready.
pub fn open_hostile_page(browser: &Browser, demo: &Demo, window: &str) -> Arc<Tab> {
    let tab = browser.new_tab().expect("new tab");
    tab.call_method(Page::SetBypassCSP { enabled: true })
        .expect("bypass CSP");
    tab.navigate_to(&format!("{}?window={window}", demo.url))
        .expect("navigate")
        .wait_until_navigated()
        .expect("navigated");
    let deadline = Instant::now() + Duration::from_secs(15);
    while eval(&tab, "window.demo && window.demo.ready") != Value::Bool(true) {
        assert!(Instant::now() < deadline, "hostile page never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(eval(&tab, ATTACKER_JS), json!(true));
    tab
}

/// The reasons of the newest `n` audit events, oldest first.
fn last_reasons(demo: &Demo, n: usize) -> Vec<String> {
    let log = audit(demo);
    let start = log.len().saturating_sub(n);
    log[start..]
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or("none").to_owned())
        .collect()
}

/// Seal requests posted to the isolation frame from anything but its parent
/// (a same-origin child frame, a sandboxed child frame, a popup) are never
/// sealed; nor are malformed requests from the parent. The frame's sequence
/// numbers prove it: the next real seal follows the previous one directly.
pub fn forged_seal_requests_are_never_sealed(tab: &Tab) {
    let result = eval(
        tab,
        r#"(async () => {
      const iso = atk.frame();
      const before = await atk.greet(1, 'Before');
      // 1. A same-origin child frame (about:blank inherits the origin, so
      //    event.origin is right; only event.source is wrong).
      const child = document.createElement('iframe');
      document.body.appendChild(child);
      child.contentWindow.__target = iso.contentWindow;
      child.contentWindow.__req = atk.sealRequest(990001, 'Child');
      child.contentWindow.eval("__target.postMessage(__req, '*')");
      // 2. A sandboxed child frame (opaque origin) reaching the isolation
      //    frame through parent.frames.
      const sandboxed = document.createElement('iframe');
      sandboxed.setAttribute('sandbox', 'allow-scripts');
      sandboxed.srcdoc = "<script>for (let i = 0; i < parent.frames.length; i++) { try { parent.frames[i].postMessage("
        + "{isogate: 1, type: 'seal', ref: 990002, message: {kind: 'invoke', id: 2, cmd: 'greet', args: {name: 'Sandboxed'}}, body: null}, '*'); } catch (e) {} } parent.postMessage('atk-sandboxed-posted', '*');</" + "script>";
      document.body.appendChild(sandboxed);
      // 3. A popup the page opens (if popups are allowed at all).
      let popup = 'blocked';
      const w = window.open('about:blank', 'atk-popup');
      if (w) {
        try {
          w.__target = iso.contentWindow;
          w.__req = atk.sealRequest(990003, 'Popup');
          w.eval("__target.postMessage(__req, '*')");
          popup = 'posted';
        } catch (e) { popup = 'threw ' + e.name; }
      }
      // 4. From the parent itself, requests of the wrong shape.
      const bad = [
        {type: 'seal', ref: 990004, message: {kind: 'invoke', id: 4, cmd: 'greet', args: {name: 'A'}}},
        {isogate: 2, type: 'seal', ref: 990005, message: {kind: 'invoke', id: 5, cmd: 'greet', args: {name: 'A'}}},
        {isogate: 1, type: 'seal', ref: '990006', message: {kind: 'invoke', id: 6, cmd: 'greet', args: {name: 'A'}}},
        {isogate: 1, type: 'seal', ref: 990007, message: {kind: 'invoke', id: 7, cmd: 'a b', args: {}}},
        {isogate: 1, type: 'seal', ref: 990008, message: {kind: 'emit', event: 'clicked', payload: {}}, body: new Uint8Array(3)},
        {isogate: 1, type: 'seal', ref: 990009, message: {kind: 'invoke', id: -1, cmd: 'greet', args: {}}},
        JSON.stringify(atk.sealRequest(990010, 'String')),
      ];
      for (const m of bad) iso.contentWindow.postMessage(m, '*');
      // Control: the same request from the parent IS sealed. This is the
      // sealing oracle; the policy, not the frame, is the boundary.
      iso.contentWindow.postMessage(atk.sealRequest(990099, 'Control'), '*');
      await atk.sleep(800);
      const after = await atk.greet(3, 'After');
      if (w) w.close();
      return {sealed: atk.sealedRefs.filter(r => r >= 990000), popup, sandboxedPosted: !!atk.sandboxedPosted,
              before: atk.seq(before), after: atk.seq(after)};
    })()"#,
    );
    assert_eq!(
        result["sealed"],
        json!([990099]),
        "only the parent's well-formed request was sealed: {result}"
    );
    // `before`, the control, `after`: nothing else took a sequence number.
    assert_eq!(
        result["after"].as_u64().unwrap(),
        result["before"].as_u64().unwrap() + 2,
        "{result}"
    );
    assert_eq!(
        result["sandboxedPosted"],
        json!(true),
        "the sandboxed child ran"
    );
    assert_eq!(result["popup"], json!("posted"), "the popup ran");
}

/// The page can neither read the frame's document nor fetch its URL: the
/// frame is cross-origin (contentDocument is null, contentWindow.document
/// throws), a cross-origin fetch fails, and the document is served once, so
/// a second GET, from the page or from anywhere else, gets 404 `gone`.
/// Run it last on a page: asking for fresh frames retires the page's own.
pub fn frame_document_is_unreadable(demo: &Demo, tab: &Tab) {
    let result = eval(
        tab,
        r#"(async () => {
      const iso = atk.frame();
      const r = {src: iso.src};
      r.contentDocument = iso.contentDocument;
      try { r.windowDocument = typeof iso.contentWindow.document; } catch (e) { r.windowDocument = 'threw ' + e.name; }
      try { r.hook = typeof iso.contentWindow.__ISOGATE_HOOK__; } catch (e) { r.hook = 'threw ' + e.name; }
      try { await fetch(iso.src); r.fetch = 'read'; } catch (e) { r.fetch = 'threw ' + e.name; }
      const opaque = await fetch(iso.src, {mode: 'no-cors'});
      r.noCors = [opaque.type, opaque.status, (await opaque.text()).length];
      // A fresh frame document, asked for by the page itself: still
      // cross-origin, so unreadable, and gone once fetched.
      const fresh = await fetch('/frame?window=main', {method: 'POST'}).then(x => x.json());
      r.freshUrl = fresh.url;
      try { await fetch(fresh.url); r.freshFetch = 'read'; } catch (e) { r.freshFetch = 'threw ' + e.name; }
      // The same fresh document in an unsandboxed iframe: its origin is the
      // frame origin, not the page's.
      const fresh2 = await fetch('/frame?window=main', {method: 'POST'}).then(x => x.json());
      const plain = document.createElement('iframe');
      plain.src = fresh2.url;
      await new Promise(res => { plain.onload = res; document.body.appendChild(plain); });
      r.plainDocument = plain.contentDocument;
      try { r.plainWindowDocument = typeof plain.contentWindow.document; } catch (e) { r.plainWindowDocument = 'threw ' + e.name; }
      r.plainUrl = fresh2.url;
      // Asking for frames retired the page's own frame load: the page can
      // only cut itself off.
      r.afterFresh = await demo.send(await atk.greet(500, 'Late'));
      return r;
    })()"#,
    );
    assert_eq!(result["contentDocument"], Value::Null, "{result}");
    assert_eq!(result["windowDocument"], json!("threw SecurityError"));
    assert_eq!(result["hook"], json!("threw SecurityError"));
    assert_eq!(result["fetch"], json!("threw TypeError"));
    assert_eq!(result["noCors"], json!(["opaque", 0, 0]));
    assert_eq!(result["freshFetch"], json!("threw TypeError"));
    assert_eq!(result["plainDocument"], Value::Null);
    assert_eq!(result["plainWindowDocument"], json!("threw SecurityError"));
    assert_eq!(result["afterFresh"], Value::Null);
    assert_eq!(last_reasons(demo, 1), ["stale_load"]);
    for key in ["src", "freshUrl", "plainUrl"] {
        let url = result[key].as_str().expect("frame url");
        let (status, body) = http_get(url);
        assert_eq!((status, body.as_str()), (404, "gone"), "{key} {url}");
    }
}

/// Forged, unsealed and garbage bytes sent straight to the core's transport
/// are discarded with the router uncalled; the real envelope they were made
/// from still works afterwards (forgeries consume nothing).
pub fn forged_transport_bytes_are_discarded(demo: &Demo, tab: &Tab) {
    let calls = router_calls(demo);
    let result = eval(
        tab,
        r#"(async () => {
      const env = await atk.greet(101, 'Real');
      const h = atk.headerLen(env);
      const rand = n => crypto.getRandomValues(new Uint8Array(n));
      const cat = (a, b) => { const o = new Uint8Array(a.length + b.length); o.set(a); o.set(b, a.length); return o; };
      const garbage = rand(64); garbage[0] = 0xff;
      const forgedTag = cat(env.slice(0, h), rand(env.length - h));
      const noTag = env.slice(0, env.length - 16);
      const plaintext = new TextEncoder().encode(JSON.stringify({kind: 'invoke', id: 102, cmd: 'greet', args: {name: 'Eve'}}));
      const lenPrefix = new Uint8Array(4); new DataView(lenPrefix.buffer).setUint32(0, plaintext.length);
      const unsealed = cat(cat(env.slice(0, h), cat(lenPrefix, plaintext)), new Uint8Array(16));
      const relabeled = env.slice(); relabeled.set(new TextEncoder().encode('evil'), 2);
      const asText = new TextEncoder().encode(demo.toBase64(env));
      const replies = [];
      replies.push(await atk.sendAs('main', garbage));
      replies.push(await atk.sendAs('main', forgedTag));
      replies.push(await atk.sendAs('main', noTag));
      replies.push(await atk.sendAs('main', unsealed));
      replies.push(await atk.sendAs('evil', relabeled));
      replies.push(await atk.sendAs('main', asText));
      replies.push(await atk.sendAs('settings', env));
      const real = await atk.sendAs('main', env);
      return {replies, real};
    })()"#,
    );
    assert_eq!(
        result["replies"],
        json!([null, null, null, null, null, null, null])
    );
    assert_eq!(result["real"]["result"], json!("Hello, Real!"));
    assert_eq!(router_calls(demo), calls + 1, "only the real envelope ran");
    assert_eq!(
        last_reasons(demo, 8),
        [
            "malformed",
            "bad_tag",
            "bad_tag",
            "bad_tag",
            // `?window=evil`: not a window the host opened.
            "wrong_window",
            "malformed",
            "wrong_window",
            "none"
        ]
    );
}

/// Envelopes delivered out of order (within the replay window) are each
/// accepted once; every replay, and an envelope that fell more than 256
/// behind before it was sent, is discarded.
pub fn replays_and_reorders(demo: &Demo, tab: &Tab) {
    let calls = router_calls(demo);
    let result = eval(
        tab,
        r#"(async () => {
      const envs = [];
      for (let i = 0; i < 5; i++) envs.push(await atk.greet(200 + i, 'R' + 'abcde'[i]));
      const reordered = [];
      for (const i of [3, 1, 4, 0, 2]) reordered.push(await demo.send(envs[i]));
      const replayed = [];
      for (const i of [0, 1, 2, 3, 4, 4, 0]) replayed.push(await demo.send(envs[i]));
      // An envelope left behind while 300 newer ones were sealed.
      const old = await atk.greet(300, 'Old');
      const newer = [];
      for (let i = 0; i < 300; i++) newer.push(atk.greet(400 + i, 'New'));
      const last = (await Promise.all(newer)).pop();
      const lastReply = await demo.send(last);
      const oldReply = await demo.send(old);
      return {reordered: reordered.map(r => r && r.result), replayed, lastReply: lastReply && lastReply.result,
              oldReply, gap: atk.seq(last) - atk.seq(old)};
    })()"#,
    );
    assert_eq!(
        result["reordered"],
        json!([
            "Hello, Rd!",
            "Hello, Rb!",
            "Hello, Re!",
            "Hello, Ra!",
            "Hello, Rc!"
        ])
    );
    assert_eq!(result["replayed"], Value::Array(vec![Value::Null; 7]));
    assert_eq!(result["lastReply"], json!("Hello, New!"));
    assert_eq!(result["oldReply"], Value::Null);
    assert!(result["gap"].as_u64().unwrap() > 256, "{result}");
    assert_eq!(router_calls(demo), calls + 6);
    let reasons = last_reasons(demo, 9);
    assert_eq!(reasons[..7], ["replay"; 7]);
    assert_eq!(reasons[7..], ["none", "replay"]);
}
