//! Isolation-frame rendering: the one document that carries the key.
//!
//! The document holds the per-load configuration as inert JSON (the frame
//! script reads it, removes it and imports the key as a non-extractable,
//! encrypt-only WebCrypto key), the frame script, and the app's optional
//! hook. Scripts are allowed by hash only.

use crate::envelope::MAX_ORIGIN_LEN;
use crate::key::{LaunchKey, KEY_LEN};
use base64::Engine as _;
use ring::digest::{digest, SHA256};
use zeroize::{Zeroize, Zeroizing};

/// The isolation frame's script, embedded at build time.
pub const FRAME_SCRIPT: &str = include_str!("../isolation-frame/frame.js");
/// The main-frame shim (`invoke`, `emit`, `listen`), for hosts to serve.
pub const SHIM_SCRIPT: &str = include_str!("../isolation-frame/shim.js");
/// The sandbox attribute the main frame must put on the frame's `<iframe>`.
pub const SANDBOX: &str = "allow-scripts";
/// Largest app hook script accepted, in bytes.
pub const MAX_HOOK_LEN: usize = 256 * 1024;

/// A rendered frame document for one frame load. Dropping it wipes `html`.
pub struct FrameDocument {
    /// The HTML. It contains the key: serve it once, to this frame load only,
    /// never log it. Borrow it to serve it, or `std::mem::take` it: a clone,
    /// or anything that grows it, is a copy nobody wipes.
    pub html: String,
    /// The value for the `Content-Security-Policy` response header.
    pub csp: String,
    /// The frame load id bound into every envelope it seals.
    pub load_id: u32,
}

impl FrameDocument {
    /// Every response header the frame document should be served with.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Content-Type", "text/html; charset=utf-8".into()),
            ("Content-Security-Policy", self.csp.clone()),
            ("Cache-Control", "no-store".into()),
            ("X-Content-Type-Options", "nosniff".into()),
            ("Referrer-Policy", "no-referrer".into()),
            ("Cross-Origin-Resource-Policy", "same-origin".into()),
        ]
    }
}

// No `Debug`: the document holds the key.

impl Drop for FrameDocument {
    fn drop(&mut self) {
        // Wipes the whole buffer, spare capacity included.
        self.html.zeroize();
    }
}

/// Why a frame could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The window label is not a window label (`crate::is_window_label`).
    #[error("window label must be 1 to 128 bytes without whitespace, control characters or `*`")]
    BadWindow,
    /// The parent origin is not a serialized origin (`scheme://host[:port]`).
    #[error("parent origin must look like `scheme://host[:port]`")]
    BadOrigin,
    /// The hook script is too large or would end its `<script>` element.
    #[error("hook script is over 256 KiB or contains `</script`")]
    BadHook,
    /// Every load id of this launch has been used.
    #[error("no frame load ids left for this launch")]
    LoadsExhausted,
    /// Too many windows are tracked.
    #[error("too many windows are tracked")]
    TooManyWindows,
}

/// Whether `origin` is a serialized origin as a browser writes it: an
/// origin the policy reads (`docs/POLICY.md` section 7: `scheme://host` and
/// an optional `:port`, nothing else), in lowercase ASCII, at most
/// `MAX_ORIGIN_LEN` bytes. The one origin grammar of the crate: frames are
/// rendered, windows opened and policies drafted only for such origins.
pub fn is_serialized_origin(origin: &str) -> bool {
    origin.len() <= MAX_ORIGIN_LEN
        && origin
            .bytes()
            .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
        && crate::policy::origin_parses(origin)
}

pub(crate) fn check_inputs(
    window: &str,
    parent_origin: &str,
    hook_script: Option<&str>,
) -> Result<(), FrameError> {
    if !crate::names::is_window_label(window) {
        return Err(FrameError::BadWindow);
    }
    if !is_serialized_origin(parent_origin) {
        return Err(FrameError::BadOrigin);
    }
    if let Some(hook) = hook_script {
        if hook.len() > MAX_HOOK_LEN || hook.to_ascii_lowercase().contains("</script") {
            return Err(FrameError::BadHook);
        }
    }
    Ok(())
}

fn script_hash(script: &str) -> String {
    let hash = digest(&SHA256, script.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(hash.as_ref())
    )
}

/// Length of the key as unpadded base64url text.
const KEY_TEXT_LEN: usize = 43;
const _: () = assert!(matches!(
    base64::encoded_len(KEY_LEN, false),
    Some(KEY_TEXT_LEN)
));

pub(crate) fn render(
    key: &LaunchKey,
    load_id: u32,
    window: &str,
    parent_origin: &str,
    hook_script: Option<&str>,
) -> Result<FrameDocument, FrameError> {
    check_inputs(window, parent_origin, hook_script)?;
    let mut hashes = script_hash(FRAME_SCRIPT);
    let mut hook_html = String::new();
    if let Some(hook) = hook_script {
        hashes.push(' ');
        hashes.push_str(&script_hash(hook));
        hook_html = format!("<script>{hook}</script>\n");
    }
    let common =
        format!("default-src 'none'; script-src {hashes}; base-uri 'none'; form-action 'none'");
    // The config is inert JSON inside <script type=application/json>, the
    // key first. The rest is escaped so it cannot end the element or start
    // markup; the key text (base64url) needs no escaping. `hook` tells the
    // frame to seal nothing until the hook is defined.
    let fields = format!(
        r#","window":{},"origin":{},"load":{load_id},"hook":{}}}"#,
        serde_json::Value::from(window),
        serde_json::Value::from(parent_origin),
        hook_script.is_some(),
    )
    .replace('<', "\\u003c")
    .replace('>', "\\u003e")
    .replace('&', "\\u0026");
    let head = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{common}\">\n\
         <script type=\"application/json\" id=\"isogate-config\">{{\"key\":\""
    );
    let tail = format!(
        "\"{fields}</script>\n<script>{FRAME_SCRIPT}</script>\n{hook_html}</head><body></body></html>\n"
    );
    // The key text exists only in this buffer, wiped when it goes out of
    // scope, and in `html`, which is allocated at its final size (no growth
    // leaves a copy behind) and wiped by `FrameDocument`'s `Drop`.
    let mut key_text = Zeroizing::new([0u8; KEY_TEXT_LEN]);
    let written = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode_slice(key.raw_bytes(), key_text.as_mut_slice())
        .unwrap_or(0); // cannot fail: the buffer has the exact length (asserted above)
    let mut html = String::with_capacity(head.len() + KEY_TEXT_LEN + tail.len());
    html.push_str(&head);
    html.extend(key_text.iter().take(written).map(|&b| char::from(b)));
    html.push_str(&tail);
    Ok(FrameDocument {
        html,
        csp: format!("{common}; frame-ancestors {parent_origin}; sandbox {SANDBOX}"),
        load_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LaunchKey {
        LaunchKey::from_raw(zeroize::Zeroizing::new([7u8; 32]))
    }

    #[test]
    fn renders_config_csp_and_hashes() {
        let doc = render(
            &key(),
            5,
            "main",
            "http://127.0.0.1:8917",
            Some("window.x=1;"),
        )
        .unwrap();
        assert!(doc.html.contains(r#""load":5"#));
        assert!(doc.html.contains(r#""window":"main""#));
        assert!(doc
            .csp
            .contains("frame-ancestors http://127.0.0.1:8917; sandbox allow-scripts"));
        assert!(doc.csp.contains(&script_hash(FRAME_SCRIPT)));
        assert!(doc.csp.contains(&script_hash("window.x=1;")));
        assert!(!doc.csp.contains("unsafe"));
    }

    #[test]
    fn rejects_bad_inputs() {
        for origin in [
            "",
            "http://a/path",
            "null",
            "http://a b",
            "http://a;x",
            "HTTP://a",
            "*",
            // Read by the old, looser check; not origins the policy reads.
            "http://a:b:c",
            "http://a:080",
            "http://127.1",
            "http://[zz]",
            "http://a..b",
        ] {
            assert_eq!(
                check_inputs("w", origin, None),
                Err(FrameError::BadOrigin),
                "{origin}"
            );
        }
        assert_eq!(
            check_inputs("", "http://a", None),
            Err(FrameError::BadWindow)
        );
        assert_eq!(
            check_inputs("a\nb", "http://a", None),
            Err(FrameError::BadWindow)
        );
        assert_eq!(
            check_inputs("w", "http://a", Some("</SCRIPT>")),
            Err(FrameError::BadHook)
        );
        assert!(check_inputs("w", "app://localhost", None).is_ok());
        assert!(check_inputs("w", "http://[::1]:80", None).is_ok());
    }

    /// The config JSON of a rendered document.
    fn config(doc: &FrameDocument) -> serde_json::Value {
        let (_, rest) = doc.html.split_once(r#"id="isogate-config">"#).unwrap();
        let (json, _) = rest.split_once("</script>").unwrap();
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn config_carries_the_key_and_whether_a_hook_is_expected() {
        let raw: [u8; 32] = std::array::from_fn(|i| i as u8 * 7);
        let key = LaunchKey::from_raw(Zeroizing::new(raw));
        let doc = render(&key, 5, "main", "http://a", Some("window.x=1;")).unwrap();
        let config_with_hook = config(&doc);
        let text = config_with_hook["key"].as_str().unwrap();
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .unwrap();
        assert_eq!(decoded, raw);
        assert_eq!(
            config_with_hook,
            serde_json::json!({"key": text, "window": "main", "origin": "http://a", "load": 5, "hook": true})
        );
        let doc = render(&key, 6, "main", "http://a", None).unwrap();
        assert_eq!(config(&doc)["hook"], serde_json::json!(false));
    }

    #[test]
    fn html_is_written_into_one_allocation_of_its_final_size() {
        // Had the buffer grown while the key was in it, the allocation it
        // left would still hold a copy of the key, and nothing wipes that.
        for hook in [None, Some("window.x=1;")] {
            let doc = render(&key(), 1, "</script><b>", "http://a", hook).unwrap();
            assert_eq!(doc.html.capacity(), doc.html.len());
        }
    }

    #[test]
    fn config_cannot_break_out_of_its_element() {
        let doc = render(&key(), 1, "</script><b>", "http://a", None).unwrap();
        assert!(!doc.html.contains("</script><b>"));
    }
}
