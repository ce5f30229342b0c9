//! The isolation frame of each webview: rendered when a page load starts,
//! served once to that page load, forgotten when the webview goes.

use isogate::router::Table;
use isogate::{FrameDocument, Gate};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Most webviews tracked at once (labels come from the app, not the page;
/// the bound is a backstop).
pub const MAX_WEBVIEWS: usize = 1024;

/// One pending frame document per webview label.
#[derive(Default)]
pub struct Frames {
    pending: Mutex<HashMap<String, FrameDocument>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Frames {
    /// A page load started in `label` at `origin` (`None`: a page without
    /// an origin, which gets no frame). Retires the webview's earlier frame
    /// loads (their envelopes are refused from now on) and renders the frame
    /// for this load.
    pub fn begin_load(
        &self,
        gate: &Gate<Table>,
        label: &str,
        origin: Option<&str>,
        hook: Option<&str>,
    ) -> Result<(), String> {
        gate.close_window(label);
        let mut pending = lock(&self.pending);
        pending.remove(label);
        let Some(origin) = origin else {
            return Ok(());
        };
        if pending.len() >= MAX_WEBVIEWS {
            return Err(format!("more than {MAX_WEBVIEWS} webviews"));
        }
        let doc = gate
            .render_frame(label, origin, hook)
            .map_err(|e| e.to_string())?;
        pending.insert(label.to_owned(), doc);
        Ok(())
    }

    /// The frame document of `label`'s current page load, once.
    pub fn take(&self, label: &str) -> Option<FrameDocument> {
        lock(&self.pending).remove(label)
    }

    /// The webview is gone: forget its frame and its replay state.
    pub fn close(&self, gate: &Gate<Table>, label: &str) {
        lock(&self.pending).remove(label);
        gate.close_window(label);
    }
}
