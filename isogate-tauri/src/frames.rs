//! The isolation frame of each webview, through isogate's host layer: when
//! a page load starts the webview's window is opened (again) at the page's
//! origin and a frame rendered under a one-shot, expiring token; the frame
//! scheme serves it once to that webview; the window is closed when the
//! webview goes.

use isogate::host::HostError;
use isogate::router::Table;
use isogate::{FrameDocument, Host};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The token of each webview's pending frame document. Keys are webview
/// labels (the app's, never the page's), at most one per open window.
#[derive(Default)]
pub struct Frames {
    tokens: Mutex<HashMap<String, String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Frames {
    /// A page load started in `label` at `origin` (`None`: a page without
    /// an origin, which gets no frame and whose window is closed). The
    /// window starts over: its earlier frame loads are retired (their
    /// envelopes are refused from now on) and a frame is rendered for this
    /// load.
    pub fn begin_load(
        &self,
        host: &Host<Table>,
        label: &str,
        origin: Option<&str>,
        hook: Option<&str>,
    ) -> Result<(), HostError> {
        lock(&self.tokens).remove(label);
        let Some(origin) = origin else {
            host.close_window(label);
            return Ok(());
        };
        host.open_window(label, origin)?;
        let token = host.new_frame(label, hook)?;
        lock(&self.tokens).insert(label.to_owned(), token);
        Ok(())
    }

    /// The frame document of `label`'s current page load, once (and only
    /// within the host layer's frame time to live).
    pub fn take(&self, host: &Host<Table>, label: &str) -> Option<FrameDocument> {
        let token = lock(&self.tokens).remove(label)?;
        host.take_frame(&token)
    }

    /// The webview is gone: its window closes (queue, pending frame, replay
    /// and rate state freed).
    pub fn close(&self, host: &Host<Table>, label: &str) {
        lock(&self.tokens).remove(label);
        host.close_window(label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isogate::{Gate, LaunchKey, Policy, PolicySource};

    fn host() -> Host<Table> {
        let policy = Policy::load(&[PolicySource {
            name: "p.json",
            text: r#"{"version": 1, "rules": []}"#,
        }])
        .unwrap();
        Host::new(Gate::new(
            LaunchKey::generate().unwrap(),
            policy,
            Table::new(),
        ))
    }

    #[test]
    fn one_frame_per_page_load_served_once() {
        let (host, frames) = (host(), Frames::default());
        frames
            .begin_load(&host, "main", Some("tauri://localhost"), None)
            .unwrap();
        let first = frames.take(&host, "main").unwrap();
        assert!(first.html.contains("tauri://localhost"));
        assert!(frames.take(&host, "main").is_none(), "served twice");
        assert!(frames.take(&host, "other").is_none());

        // A reload: a new frame load, served once again.
        frames
            .begin_load(&host, "main", Some("tauri://localhost"), None)
            .unwrap();
        let second = frames.take(&host, "main").unwrap();
        assert!(second.load_id > first.load_id);
        assert!(frames.take(&host, "main").is_none());
    }

    #[test]
    fn a_page_without_an_origin_gets_no_frame_and_closes_the_window() {
        let (host, frames) = (host(), Frames::default());
        frames
            .begin_load(&host, "main", Some("tauri://localhost"), None)
            .unwrap();
        assert!(host.is_open("main"));
        frames.begin_load(&host, "main", None, None).unwrap();
        assert!(!host.is_open("main"));
        assert!(frames.take(&host, "main").is_none());
    }

    #[test]
    fn an_unserved_frame_goes_with_its_webview() {
        let (host, frames) = (host(), Frames::default());
        frames
            .begin_load(&host, "main", Some("tauri://localhost"), None)
            .unwrap();
        frames.close(&host, "main");
        assert!(!host.is_open("main"));
        assert!(frames.take(&host, "main").is_none());
    }

    #[test]
    fn bad_hooks_and_origins_render_nothing() {
        let (host, frames) = (host(), Frames::default());
        assert!(frames
            .begin_load(&host, "main", Some("tauri://localhost"), Some("</script>"))
            .is_err());
        assert!(frames.take(&host, "main").is_none());
        assert!(frames
            .begin_load(&host, "main", Some("not an origin"), None)
            .is_err());
        assert!(frames.take(&host, "main").is_none());
    }
}
