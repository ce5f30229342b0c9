//! Origins, parsed and compared component by component — never as string
//! prefixes, so `https://app.example.com.evil.net` is not
//! `https://app.example.com`.

use super::errors::{quote, suggest};

/// A request origin split into its parts (borrowed; parsing never allocates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin<'a> {
    /// Scheme as written (compared case-insensitively).
    pub scheme: &'a str,
    /// Host as written (compared case-insensitively); IPv6 keeps its brackets.
    pub host: &'a str,
    /// Port, with the scheme's default filled in (`None` for custom schemes
    /// without an explicit port).
    pub port: Option<u16>,
}

/// One entry of a rule's `origins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OriginPattern {
    /// `*`: every origin, even one that does not parse (e.g. `null`).
    Any,
    /// `scheme://host[:port]`.
    Exact {
        /// Lowercase scheme.
        scheme: String,
        host: HostPattern,
        port: PortPattern,
    },
}

/// The host part of an origin pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPattern {
    /// One host, lowercase.
    Exact(String),
    /// `*.example.com`, stored as `.example.com`: one or more whole labels
    /// before the suffix.
    Subdomains(String),
}

/// The port part of an origin pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PortPattern {
    /// `:*`: any port, or none.
    Any,
    /// This port (the default one when none was written; `None` for a
    /// custom scheme without a port).
    Exact(Option<u16>),
}

/// The port a scheme implies when none is written.
fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("ws") {
        Some(80)
    } else if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("wss") {
        Some(443)
    } else {
        None
    }
}

fn valid_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// A DNS-style name (non-empty labels of at most 63 letters, digits, `-`
/// and `_`; at most 253 bytes) or a bracketed IPv6 address. One pass over
/// the bytes: it runs for every message's sender.
fn valid_host(h: &str) -> bool {
    if let Some(inner) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return !inner.is_empty()
            && inner.contains(':')
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'));
    }
    if h.is_empty() || h.len() > 253 {
        return false;
    }
    let mut label = 0usize;
    for b in h.bytes() {
        if b == b'.' {
            if label == 0 {
                return false;
            }
            label = 0;
        } else if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            label += 1;
            if label > 63 {
                return false;
            }
        } else {
            return false;
        }
    }
    label > 0
}

/// Splits `host[:port]` (the part after `://`); the port text is returned raw.
fn split_host_port(rest: &str) -> (&str, Option<&str>) {
    if rest.starts_with('[') {
        return match rest.find(']') {
            Some(end) => {
                let (host, after) = rest.split_at(end + 1);
                match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None if after.is_empty() => (host, None),
                    // Garbage after `]`: keep it in the host so it fails.
                    None => (rest, None),
                }
            }
            None => (rest, None),
        };
    }
    match rest.bytes().position(|b| b == b':') {
        Some(colon) => match (rest.get(..colon), rest.get(colon + 1..)) {
            (Some(host), Some(port)) => (host, Some(port)),
            _ => (rest, None),
        },
        None => (rest, None),
    }
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&n| n != 0)
}

impl<'a> Origin<'a> {
    /// Parses a serialized origin, `scheme://host[:port]`, nothing more.
    /// Anything else (a path, user info, `null`) is `None`.
    pub(crate) fn parse(s: &'a str) -> Option<Origin<'a>> {
        // The scheme cannot hold a `:`, so the first `:` must start `://`.
        let colon = s.bytes().position(|b| b == b':')?;
        let (scheme, rest) = (s.get(..colon)?, s.get(colon..)?.strip_prefix("://")?);
        if !valid_scheme(scheme) {
            return None;
        }
        let (host, port) = split_host_port(rest);
        if !valid_host(host) {
            return None;
        }
        let port = match port {
            Some(p) => Some(parse_port(p)?),
            None => default_port(scheme),
        };
        Some(Origin { scheme, host, port })
    }
}

/// Whether two request origins name the same origin, for binding an
/// envelope's sealed origin to the transport's (`docs/WIRE.md` section 3):
/// both parse (as in [`Origin::parse`]) to equal components, scheme and host
/// compared case-insensitively and the default port filled in; or, when
/// either does not parse (e.g. `null`), they are the same bytes.
pub(crate) fn same_origin(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (Origin::parse(a), Origin::parse(b)) {
        (Some(x), Some(y)) => {
            x.scheme.eq_ignore_ascii_case(y.scheme)
                && x.host.eq_ignore_ascii_case(y.host)
                && x.port == y.port
        }
        _ => false,
    }
}

/// Where a parsed origin's parts lie in its text, so that a parse can be
/// reused for the same text without borrowing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parts {
    scheme_end: usize,
    host: (usize, usize),
    port: Option<u16>,
}

thread_local! {
    /// The last sender origin this thread parsed, and its parts. Messages
    /// from one webview all carry the same origin: this spares a parse per
    /// message for one string compare.
    static LAST_PARSED: std::cell::RefCell<(String, Option<Parts>)> =
        const { std::cell::RefCell::new((String::new(), None)) };
}

impl<'a> Origin<'a> {
    /// [`Origin::parse`], reusing this thread's last parse when `s` is the
    /// same text (the result is the same either way).
    pub(crate) fn parse_memoized(s: &'a str) -> Option<Origin<'a>> {
        let parts = LAST_PARSED.with(|last| {
            let mut last = last.try_borrow_mut().ok()?;
            if last.0 != s {
                let parts = Origin::parse(s).map(|o| Parts {
                    scheme_end: o.scheme.len(),
                    host: offsets(s, o.host),
                    port: o.port,
                });
                last.0.clear();
                last.0.push_str(s);
                last.1 = parts;
            }
            Some(last.1)
        });
        match parts {
            Some(Some(p)) => Some(Origin {
                scheme: s.get(..p.scheme_end)?,
                host: s.get(p.host.0..p.host.1)?,
                port: p.port,
            }),
            Some(None) => None,
            // Re-entered (cannot happen: nothing here calls back): parse.
            None => Origin::parse(s),
        }
    }
}

/// The byte range of `part`, a subslice of `whole`.
fn offsets(whole: &str, part: &str) -> (usize, usize) {
    let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    (start, start + part.len())
}

/// Why an `origins` entry is invalid: the message, and how to hint.
struct Invalid {
    message: String,
    /// A fixed hint, given when there is no repair.
    hint: Option<&'static str>,
    /// Whether [`repaired`] may say what was meant.
    repairable: bool,
}

impl Invalid {
    fn new(message: String, hint: Option<&'static str>) -> Self {
        Self {
            message,
            hint,
            repairable: false,
        }
    }

    fn repairable(mut self) -> Self {
        self.repairable = true;
        self
    }
}

/// The hint for an entry that is not `scheme://host[:port]` at all.
const SHAPE_HINT: &str =
    "write `scheme://host` or `scheme://host:port` (port may be `*`), or `*` for any origin";

/// `a`, `b` and `c`.
fn and_list(items: &[&str]) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// `s` split after `://` into its authority (`[user@]host[:port]`) and
/// what follows it (a path, query or fragment, or nothing).
fn authority_and_tail(rest: &str) -> (&str, &str) {
    rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()))
}

/// The entry `s` most likely meant, with what an origin cannot have (user
/// info, path, query, fragment) left out. Only offered in a hint once it
/// parses itself.
fn repaired(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    let (authority, _) = authority_and_tail(rest);
    let host_port = match authority.rfind('@') {
        Some(at) => authority.get(at + 1..)?,
        None => authority,
    };
    Some(format!("{scheme}://{host_port}"))
}

impl OriginPattern {
    /// Parses one `origins` entry; the error is a message and an optional
    /// hint. A hint that says ``write `ENTRY` `` names a valid entry: what
    /// the invalid one most likely meant.
    pub(crate) fn parse(s: &str) -> Result<OriginPattern, (String, Option<String>)> {
        parse_pattern(s).map_err(|e| {
            let repair = e
                .repairable
                .then(|| repaired(s))
                .flatten()
                .filter(|r| parse_pattern(r).is_ok())
                .and_then(|r| suggest(&r));
            (e.message, repair.or_else(|| e.hint.map(str::to_owned)))
        })
    }
}

/// [`OriginPattern::parse`] without its hints' repairs.
fn parse_pattern(s: &str) -> Result<OriginPattern, Invalid> {
    if s == "*" {
        return Ok(OriginPattern::Any);
    }
    let shape = || Invalid::new(format!("invalid origin {}", quote(s)), Some(SHAPE_HINT));
    let (scheme, rest) = s.split_once("://").ok_or_else(shape)?;
    if !valid_scheme(scheme) {
        return Err(shape());
    }
    let (authority, tail) = authority_and_tail(rest);
    let mut extras = Vec::new();
    if authority.contains('@') {
        extras.push("user info");
    }
    // The tail is a path (from `/`), then a query (from `?`), then a
    // fragment (from `#`), each optional.
    let (before_fragment, fragment) = match tail.find('#') {
        Some(at) => tail.split_at(at),
        None => (tail, ""),
    };
    if before_fragment.starts_with('/') {
        extras.push("a path");
    }
    if before_fragment.contains('?') {
        extras.push("a query");
    }
    if !fragment.is_empty() {
        extras.push("a fragment");
    }
    if !extras.is_empty() {
        return Err(Invalid::new(
            format!(
                "origin {} has {}; an origin is only `scheme://host[:port]`",
                quote(s),
                and_list(&extras)
            ),
            None,
        )
        .repairable());
    }
    let (host, port) = split_host_port(rest);
    let host = host.to_ascii_lowercase();
    let host = if host == "*" {
        return Err(Invalid::new(
            format!("origin {} has `*` as its host", quote(s)),
            Some("use `*` alone to allow every origin, or `*.example.com` for subdomains"),
        ));
    } else if let Some(suffix) = host.strip_prefix("*.") {
        if !valid_host(suffix) || suffix.starts_with('[') {
            return Err(shape());
        }
        HostPattern::Subdomains(format!(".{suffix}"))
    } else if host.contains('*') {
        return Err(Invalid::new(
            format!("origin {} has a `*` inside its host", quote(s)),
            Some("only a whole leftmost label may be `*`, as in `https://*.example.com`"),
        ));
    } else if valid_host(&host) {
        HostPattern::Exact(host)
    } else {
        return Err(shape());
    };
    let port = match port {
        Some("*") => PortPattern::Any,
        Some(p) => PortPattern::Exact(Some(parse_port(p).ok_or_else(|| {
            Invalid::new(
                format!("invalid port in origin {}", quote(s)),
                Some("a port is a number from 1 to 65535, or `*`"),
            )
            .repairable()
        })?)),
        None => PortPattern::Exact(default_port(scheme)),
    };
    Ok(OriginPattern::Exact {
        scheme: scheme.to_ascii_lowercase(),
        host,
        port,
    })
}

impl OriginPattern {
    /// Whether a request origin matches; `origin` is `None` when the
    /// request's origin did not parse.
    pub(crate) fn matches(&self, origin: Option<&Origin<'_>>) -> bool {
        let (scheme, host, port) = match self {
            OriginPattern::Any => return true,
            OriginPattern::Exact { scheme, host, port } => (scheme, host, port),
        };
        let Some(o) = origin else { return false };
        // Patterns are lowercase and origins nearly always are: a plain
        // compare first, the case-folding one only when that fails.
        let same = |a: &str, b: &str| crate::names::eq(a, b) || a.eq_ignore_ascii_case(b);
        same(o.scheme, scheme)
            && match host {
                HostPattern::Exact(h) => same(o.host, h),
                HostPattern::Subdomains(suffix) => {
                    o.host.len() > suffix.len()
                        && o.host
                            .get(o.host.len() - suffix.len()..)
                            .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
                }
            }
            && match port {
                PortPattern::Any => true,
                PortPattern::Exact(p) => *p == o.port,
            }
    }

    /// Whether every origin this pattern matches, `other` matches too
    /// (used to find allow rules a deny rule shadows).
    pub(crate) fn covers(&self, other: &OriginPattern) -> bool {
        match (self, other) {
            (OriginPattern::Any, _) => true,
            (_, OriginPattern::Any) => false,
            (
                OriginPattern::Exact {
                    scheme: s1,
                    host: h1,
                    port: p1,
                },
                OriginPattern::Exact {
                    scheme: s2,
                    host: h2,
                    port: p2,
                },
            ) => {
                let hosts = match (h1, h2) {
                    (HostPattern::Exact(a), HostPattern::Exact(b)) => a == b,
                    (HostPattern::Subdomains(a), HostPattern::Exact(b)) => {
                        b.len() > a.len() && b.ends_with(a.as_str())
                    }
                    (HostPattern::Subdomains(a), HostPattern::Subdomains(b)) => {
                        b.ends_with(a.as_str())
                    }
                    (HostPattern::Exact(_), HostPattern::Subdomains(_)) => false,
                };
                let ports = *p1 == PortPattern::Any || p1 == p2;
                s1 == s2 && hosts && ports
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> OriginPattern {
        OriginPattern::parse(s).unwrap()
    }

    fn m(p: &str, o: &str) -> bool {
        pat(p).matches(Origin::parse(o).as_ref())
    }

    #[test]
    fn parses_request_origins() {
        assert_eq!(
            Origin::parse("http://127.0.0.1:8917"),
            Some(Origin {
                scheme: "http",
                host: "127.0.0.1",
                port: Some(8917)
            })
        );
        assert_eq!(Origin::parse("https://a.b").unwrap().port, Some(443));
        assert_eq!(Origin::parse("tauri://localhost").unwrap().port, None);
        assert_eq!(Origin::parse("http://[::1]:80").unwrap().host, "[::1]");
        for bad in [
            "null",
            "",
            "http://",
            "http://a/",
            "http://a/path",
            "http://u@a",
            "http://a:",
            "http://a:0",
            "http://a:65536",
            "http://a:+1",
            "http://a..b",
            "http://a.",
            "http://.a",
            "http://a b",
            "http://%61",
            "1http://a",
            "http://[::1",
            "http://[::1]x",
            "http://a?x",
            "http://a#x",
            "http://é.com",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn matching() {
        assert!(m("http://127.0.0.1:*", "http://127.0.0.1:8917"));
        assert!(m("http://127.0.0.1:*", "http://127.0.0.1"));
        assert!(!m("http://127.0.0.1:*", "https://127.0.0.1:8917"));
        assert!(m("http://localhost", "http://localhost:80"));
        assert!(m("http://localhost:80", "http://localhost"));
        assert!(!m("http://localhost", "http://localhost:8080"));
        assert!(m("https://example.com", "https://EXAMPLE.com:443"));
        assert!(m("HTTPS://Example.COM", "https://example.com"));
        assert!(m("https://*.example.com", "https://app.example.com"));
        assert!(m("https://*.example.com", "https://a.b.example.com"));
        assert!(!m("https://*.example.com", "https://example.com"));
        assert!(!m(
            "https://*.example.com",
            "https://app.example.com.evil.net"
        ));
        assert!(!m("https://*.example.com", "https://evilexample.com"));
        assert!(!m(
            "https://app.example.com",
            "https://app.example.com.evil.net"
        ));
        assert!(!m("tauri://localhost", "tauri://localhost:1"));
        assert!(m("tauri://localhost:*", "tauri://localhost"));
        assert!(m("http://[::1]:*", "http://[::1]:5"));
        assert!(m("*", "null"));
        assert!(!m("http://localhost:*", "null"));
    }

    #[test]
    fn pattern_errors() {
        let e = |s: &str| OriginPattern::parse(s).unwrap_err();
        assert_eq!(
            e("http://a.com/"),
            (
                "origin `http://a.com/` has a path; an origin is only `scheme://host[:port]`"
                    .into(),
                Some("write `http://a.com`".into())
            )
        );
        assert!(e("http://a.com?x").0.contains("a query"));
        assert!(e("http://u@a.com").0.contains("user info"));
        // User info gets a hint too, and the hint drops every part an
        // origin cannot have, not just what follows the first `/`.
        assert_eq!(
            e("http://user@host:1"),
            (
                "origin `http://user@host:1` has user info; an origin is only `scheme://host[:port]`"
                    .into(),
                Some("write `http://host:1`".into())
            )
        );
        assert_eq!(
            e("http://u:p@host/x?y#z"),
            (
                "origin `http://u:p@host/x?y#z` has user info, a path, a query and a fragment; an origin is only `scheme://host[:port]`"
                    .into(),
                Some("write `http://host`".into())
            )
        );
        assert_eq!(
            e("https://a.com/p@q#f"),
            (
                "origin `https://a.com/p@q#f` has a path and a fragment; an origin is only `scheme://host[:port]`"
                    .into(),
                Some("write `https://a.com`".into())
            )
        );
        // Nothing valid to suggest: no hint rather than a wrong one.
        assert_eq!(e("http://u@*/x").1, None);
        assert!(e("http://*").0.contains("`*` as its host"));
        assert!(e("http://a*.com").0.contains("inside its host"));
        assert!(e("http://a:99999").0.contains("invalid port"));
        assert!(e("localhost:8080").0.contains("invalid origin"));
        assert!(e("http://*.[::1]").0.contains("invalid origin"));
    }

    /// The entry a hint suggests (``write `ENTRY` ``), if it suggests one.
    fn suggested(s: &str) -> Option<String> {
        let (_, hint) = OriginPattern::parse(s).err()?;
        let entry = hint?.strip_prefix("write `")?.strip_suffix('`')?.to_owned();
        // The shape hint is a template (`scheme://host` or ...), no entry.
        (!entry.contains('`')).then_some(entry)
    }

    #[test]
    fn every_suggested_entry_is_valid() {
        let mut suggestions = 0;
        let mut check = |s: &str| {
            if let Some(entry) = suggested(s) {
                suggestions += 1;
                assert!(
                    OriginPattern::parse(&entry).is_ok(),
                    "{s:?} suggests {entry:?}, which is invalid: {:?}",
                    OriginPattern::parse(&entry)
                );
            }
        };
        for s in [
            "http://a/",
            "http://a:1/x",
            "http://u@a",
            "http://u:p@a:8080/x?y#z",
            "http://@a",
            "http://a?b@c",
            "http://a#b/c",
            "http://[::1]:80/",
            "http://u@[::1]",
            "http://*.a.com/",
            "http://u@*.a.com:*/",
            "tauri://localhost/",
        ] {
            check(s);
        }
        let pieces = [
            "http", "://", "u", ":", "@", "/", "?", "#", "*", ".", "[", "]", "::1", "0", "8",
            "080", "127", "x", "-", "a.b", "*.",
        ];
        let mut next = crate::test_rng::xorshift(2024);
        for len in 0..10 {
            for _ in 0..3000 {
                let body: String = (0..len)
                    .map(|_| pieces[next() as usize % pieces.len()])
                    .collect();
                check(&format!("http://{body}"));
                check(&body);
            }
        }
        assert!(suggestions > 1000, "{suggestions}");
    }

    #[test]
    fn coverage() {
        assert!(pat("*").covers(&pat("http://a")));
        assert!(!pat("http://a").covers(&pat("*")));
        assert!(pat("https://*.e.com").covers(&pat("https://a.e.com")));
        assert!(pat("https://*.e.com").covers(&pat("https://*.a.e.com")));
        assert!(!pat("https://*.e.com").covers(&pat("https://e.com")));
        assert!(pat("http://a:*").covers(&pat("http://a:81")));
        assert!(!pat("http://a:81").covers(&pat("http://a:*")));
        assert!(pat("http://a").covers(&pat("http://a:80")));
    }
}

#[cfg(test)]
mod reference_tests {
    use super::*;

    /// The `split`-based parser the byte scan replaced.
    fn parse_reference(s: &str) -> Option<Origin<'_>> {
        let (scheme, rest) = s.split_once("://")?;
        if !valid_scheme(scheme) {
            return None;
        }
        let (host, port) = if rest.starts_with('[') {
            split_host_port(rest)
        } else {
            match rest.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        let host_ok = if host.starts_with('[') {
            valid_host(host)
        } else {
            !host.is_empty()
                && host.len() <= 253
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
                })
        };
        if !host_ok {
            return None;
        }
        let port = match port {
            Some(p) => Some(parse_port(p)?),
            None => default_port(scheme),
        };
        Some(Origin { scheme, host, port })
    }

    #[test]
    fn memoized_parse_is_the_parse() {
        for s in [
            "http://127.0.0.1:8917",
            "http://127.0.0.1:8917",
            "null",
            "null",
            "https://a.b",
            "http://[::1]:80",
            "http://127.0.0.1:8917",
            "tauri://localhost",
            "",
        ] {
            let owned = s.to_owned();
            assert_eq!(Origin::parse_memoized(&owned), Origin::parse(s), "{s}");
        }
    }

    #[test]
    fn byte_scan_agrees_with_the_split_based_parse() {
        let alphabet = [
            "h", "t", "p", "s", ":", "/", ".", "[", "]", "1", "8", "a", "-", "_", "é", "://", "0",
            "x",
        ];
        let mut next = crate::test_rng::xorshift(99);
        let mut checked = 0;
        for len in 0..24usize {
            for _ in 0..400 {
                let s: String = (0..len)
                    .map(|_| {
                        let x = next();
                        alphabet
                            .get(x as usize % alphabet.len())
                            .copied()
                            .unwrap_or("a")
                    })
                    .collect();
                for candidate in [s.clone(), format!("http://{s}"), format!("app://a{s}")] {
                    assert_eq!(
                        Origin::parse(&candidate),
                        parse_reference(&candidate),
                        "{candidate:?}"
                    );
                    checked += 1;
                }
            }
        }
        let long_label = format!("http://{}.com", "a".repeat(64));
        assert_eq!(Origin::parse(&long_label), None);
        assert_eq!(parse_reference(&long_label), None);
        assert!(checked > 20_000);
    }
}
