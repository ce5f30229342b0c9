//! Frames rendered with an app hook (`isogate demo --hook FILE`): without a
//! working hook the frame seals nothing; with one it seals what the hook
//! lets through.

use crate::harness::{audit, eval, load_page, open_page, router_calls, start_demo_with};
use headless_chrome::Browser;
use serde_json::json;

const THROWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/hooks/throws.js");
const REFUSES_MALLORY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/browser/hooks/refuses-mallory.js"
);

/// The hook script throws before it defines the hook: the frame never
/// becomes ready, neither the page's call nor a seal request the page posts
/// to the frame itself is sealed, and nothing reaches the core.
pub fn throwing_hook_script_seals_nothing(browser: &Browser) {
    let demo = start_demo_with(&["--hook", THROWS]);
    let tab = load_page(browser, &demo, "main");
    let result = eval(
        &tab,
        r#"(async () => {
      const fromFrame = [];
      window.addEventListener('message', e => {
        if (e.data && e.data.isogate === 1) fromFrame.push(e.data.type);
      });
      const call = await isogate.invoke('greet', {name: 'Ada'}, {timeout: 3000})
        .then(r => 'resolved ' + JSON.stringify(r), e => (e && e.message) || String(e));
      const iso = document.querySelector('iframe[sandbox]');
      iso.contentWindow.postMessage({isogate: 1, type: 'seal', ref: 1,
        message: {kind: 'invoke', id: 1, cmd: 'greet', args: {name: 'Eve'}}, body: null}, '*');
      await new Promise(r => setTimeout(r, 1000));
      return {call, fromFrame, ready: demo.ready};
    })()"#,
    );
    assert_eq!(
        result,
        json!({"call": "isogate: timeout", "fromFrame": [], "ready": false})
    );
    assert_eq!(router_calls(&demo), 0);
    assert!(audit(&demo).is_empty(), "nothing reached the core");
}

/// A hook that works: allowed calls go through, the one it refuses is
/// dropped in the frame and never reaches the core.
pub fn good_hook_still_works(browser: &Browser) {
    let demo = start_demo_with(&["--hook", REFUSES_MALLORY]);
    let tab = open_page(browser, &demo, "main");
    assert_eq!(
        eval(&tab, "isogate.invoke('greet', {name: 'Ada'})"),
        json!("Hello, Ada!")
    );
    let refused = eval(
        &tab,
        "isogate.invoke('greet', {name: 'Mallory'}, {timeout: 1000}).then(() => 'resolved', e => (e && e.message) || String(e))",
    );
    assert_eq!(refused, json!("isogate: timeout"));
    assert_eq!(router_calls(&demo), 1);
    assert_eq!(audit(&demo).len(), 1, "only Ada's call reached the core");
}
