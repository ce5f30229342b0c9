//! The page learns only replies and timeouts: after discards of every
//! kind, no response the page can read, from any path of its own origin
//! or of the console's, carries an audit field, a discard reason or a
//! counter.

use crate::harness::{audit, eval, Demo};
use headless_chrome::Tab;
use serde_json::Value;

/// What only the host may see: audit event fields and console counters.
const HOST_ONLY: [&str; 8] = [
    "\"reason\"",
    "\"outcome\"",
    "\"ts_ms\"",
    "\"load_id\"",
    "\"detail\"",
    "router_calls",
    "events_delivered",
    "wrong_window",
];

/// Paths a page could try on its own origin.
const PATHS: [&str; 18] = [
    "/",
    "/?window=main",
    "/audit",
    "/audit.json",
    "/stats",
    "/console",
    "/console.js",
    "/console.html",
    "/events",
    "/events?window=main",
    "/events?window=settings",
    "/frame?window=main",
    "/ipc?window=main",
    "/app.js",
    "/isogate-shim.js",
    "/debug",
    "/reasons",
    "/log",
];

pub fn page_cannot_read_audit_or_reasons(demo: &Demo, tab: &Tab) {
    // Discards of several kinds, made by this page.
    let made = eval(
        tab,
        r#"(async () => {
      const denied = await isogate.invoke('delete_everything', {}, {timeout: 300}).then(() => 'resolved', () => 'timeout');
      const tampered = await atk.greet(9001, 'Eve').then(env => { env[env.length - 20] ^= 1; return demo.send(env); });
      const raw = await demo.send(new TextEncoder().encode('{"kind":"invoke","id":1,"cmd":"greet","args":{}}'));
      const stranger = await atk.sendAs('nope', new Uint8Array(8));
      return [denied, tampered, raw, stranger];
    })()"#,
    );
    assert_eq!(made, serde_json::json!(["timeout", null, null, null]));
    let reasons: Vec<Value> = audit(demo)
        .iter()
        .map(|e| e["reason"].clone())
        .filter(|r| !r.is_null())
        .collect();
    for reason in ["denied", "bad_tag", "malformed", "wrong_window"] {
        assert!(
            reasons.contains(&Value::from(reason)),
            "{reason}: {reasons:?}"
        );
    }

    let script = format!(
        r#"(async () => {{
      const paths = {paths};
      const consoleUrl = {console};
      const read = async (url, init) => {{
        const ctl = new AbortController();
        const timer = setTimeout(() => ctl.abort(), 1500);
        let entry = {{url, method: (init && init.method) || 'GET', mode: (init && init.mode) || 'cors'}};
        try {{
          const r = await fetch(url, Object.assign({{signal: ctl.signal}}, init || {{}}));
          entry.status = r.status;
          entry.type = r.type;
          entry.headers = [...r.headers].map(h => h.join(': ')).join('\n');
          entry.text = '';
          if (r.body) {{
            const reader = r.body.getReader();
            const dec = new TextDecoder();
            try {{
              for (;;) {{ const c = await reader.read(); if (c.done) break; entry.text += dec.decode(c.value); }}
            }} catch (e) {{ entry.cut = e.name; }}
          }}
        }} catch (e) {{ entry.error = e.name; }}
        clearTimeout(timer);
        return entry;
      }};
      const out = [];
      for (const p of paths) {{
        out.push(await read(p));
        out.push(await read(p, {{method: 'POST', body: 'x'}}));
      }}
      for (const p of paths.concat(['/'])) {{
        out.push(await read(consoleUrl + p));
        out.push(await read(consoleUrl + p, {{mode: 'no-cors'}}));
        out.push(await read(consoleUrl + p, {{credentials: 'include'}}));
      }}
      // The console's live stream, as an EventSource.
      const es = await new Promise(resolve => {{
        const got = [];
        const s = new EventSource(consoleUrl + '/audit');
        s.onmessage = m => got.push(m.data);
        setTimeout(() => {{ s.close(); resolve(got.join('\n')); }}, 1500);
      }});
      out.push({{url: consoleUrl + '/audit', mode: 'eventsource', text: es}});
      return out;
    }})()"#,
        paths = serde_json::to_string(&PATHS).unwrap(),
        console = serde_json::to_string(demo.console.trim_end_matches('/')).unwrap(),
    );
    let entries = eval(tab, &script);
    let entries = entries.as_array().expect("entries");
    assert_eq!(entries.len(), PATHS.len() * 5 + 3 + 1);
    let mut read_something = 0;
    for entry in entries {
        let text = format!(
            "{}\n{}",
            entry["headers"].as_str().unwrap_or(""),
            entry["text"].as_str().unwrap_or("")
        );
        if !text.trim().is_empty() {
            read_something += 1;
        }
        for needle in HOST_ONLY {
            assert!(
                !text
                    .to_ascii_lowercase()
                    .contains(&needle.to_ascii_lowercase()),
                "the page read `{needle}` from {entry}"
            );
        }
        // Debug builds started with --debug-reasons only.
        assert!(
            !entry["headers"]
                .as_str()
                .unwrap_or("")
                .contains("x-isogate-debug"),
            "{entry}"
        );
        // Nothing the page can read comes from the console.
        if entry["url"]
            .as_str()
            .is_some_and(|u| u.starts_with(demo.console.trim_end_matches('/')))
        {
            assert!(
                entry["text"].as_str().unwrap_or("").is_empty()
                    && entry["status"].as_u64().unwrap_or(0) == 0,
                "the page read the console: {entry}"
            );
        }
    }
    // The check above saw real bodies (the page's own files), so it can fail.
    assert!(read_something > 10, "{read_something}");
}
