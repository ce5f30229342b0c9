//! Origins: the page's (from the webview's URL) and the ones custom schemes
//! are served from, which differ per platform. The platform differences live
//! here and nowhere else.

/// How the webview engine serves a custom scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemeStyle {
    /// `<scheme>://localhost` (Linux, macOS, iOS: WebKit).
    Native,
    /// `http://<scheme>.localhost` (Windows, Android).
    HttpLocalhost,
    /// `https://<scheme>.localhost` (Windows, Android, with `use_https_scheme`).
    HttpsLocalhost,
}

impl SchemeStyle {
    /// The style of the platform this crate is compiled for. `https` is the
    /// webview's `use_https_scheme` setting (only Windows and Android read it).
    pub fn current(https: bool) -> Self {
        Self::for_os(std::env::consts::OS, https)
    }

    /// The style for `os` (a value of `std::env::consts::OS`).
    pub fn for_os(os: &str, https: bool) -> Self {
        match (os, https) {
            ("windows" | "android", true) => Self::HttpsLocalhost,
            ("windows" | "android", false) => Self::HttpLocalhost,
            _ => Self::Native,
        }
    }

    /// The origin a custom scheme named `scheme` is served from.
    pub fn origin(self, scheme: &str) -> String {
        match self {
            Self::Native => format!("{scheme}://localhost"),
            Self::HttpLocalhost => format!("http://{scheme}.localhost"),
            Self::HttpsLocalhost => format!("https://{scheme}.localhost"),
        }
    }
}

/// The serialized origin of `url` as isogate compares origins
/// (`docs/WIRE.md` §2): `scheme://host[:port]`, lowercase, the port only
/// when it is not the scheme's default. `None` for URLs without a host
/// (`data:`, `about:blank`, `file:` without host): those pages get no frame
/// and nothing they send is admitted.
pub fn origin_of(url: &tauri::Url) -> Option<String> {
    let scheme = url.scheme().to_ascii_lowercase();
    let host = url.host_str()?.to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    let default_port = match scheme.as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    };
    let origin = match url.port() {
        Some(port) if Some(port) != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    };
    isogate::is_serialized_origin(&origin).then_some(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> Option<String> {
        origin_of(&tauri::Url::parse(url).unwrap())
    }

    #[test]
    fn scheme_origins_per_platform() {
        for os in ["linux", "macos", "ios", "freebsd"] {
            let style = SchemeStyle::for_os(os, true);
            assert_eq!(style, SchemeStyle::Native, "{os}");
            assert_eq!(style.origin("isogate-frame"), "isogate-frame://localhost");
        }
        for os in ["windows", "android"] {
            assert_eq!(
                SchemeStyle::for_os(os, false).origin("isogate-frame"),
                "http://isogate-frame.localhost"
            );
            assert_eq!(
                SchemeStyle::for_os(os, true).origin("ipc"),
                "https://ipc.localhost"
            );
        }
    }

    #[test]
    fn origins_of_page_urls() {
        assert_eq!(
            origin("tauri://localhost/").as_deref(),
            Some("tauri://localhost")
        );
        assert_eq!(
            origin("tauri://localhost/sub/page.html?q=1#x").as_deref(),
            Some("tauri://localhost")
        );
        assert_eq!(
            origin("http://tauri.localhost/index.html").as_deref(),
            Some("http://tauri.localhost")
        );
        assert_eq!(
            origin("http://127.0.0.1:80/").as_deref(),
            Some("http://127.0.0.1")
        );
        assert_eq!(
            origin("http://127.0.0.1:1430/").as_deref(),
            Some("http://127.0.0.1:1430")
        );
        assert_eq!(
            origin("HTTPS://Example.COM:443/a").as_deref(),
            Some("https://example.com")
        );
        assert_eq!(
            origin("https://user:pw@example.com:8443/").as_deref(),
            Some("https://example.com:8443")
        );
        assert_eq!(origin("about:blank"), None);
        assert_eq!(origin("data:text/html,hi"), None);
        assert_eq!(origin("file:///etc/passwd"), None);
    }
}
