//! Origins, parsed and compared component by component — never as string
//! prefixes, so `https://app.example.com.evil.net` is not
//! `https://app.example.com`.

use super::errors::{quote, suggest};
use std::net::{Ipv4Addr, Ipv6Addr};

/// A request origin split into its parts (borrowed; parsing never allocates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin<'a> {
    /// Scheme as written (compared case-insensitively).
    pub scheme: &'a str,
    /// Host as written (compared case-insensitively); IPv6 keeps its brackets.
    pub host: &'a str,
    /// The address of a bracketed IPv6 host, which compares as an address:
    /// `[::1]` is `[0:0:0:0:0:0:0:1]`.
    pub ipv6: Option<Ipv6Addr>,
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
    /// One host name or IPv4 address, lowercase.
    Exact(String),
    /// A bracketed IPv6 address, compared as an address.
    Ipv6(Ipv6Addr),
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
/// and `_`; at most 253 bytes) that, if its last label is a number, is an
/// IPv4 address in dotted-decimal form ([`ends_in_number`]); or a
/// bracketed IPv6 address. One pass over the bytes: it runs for every
/// message's sender.
fn valid_host(h: &str) -> bool {
    if h.starts_with('[') {
        return ipv6(h).is_some();
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
    label > 0 && (!ends_in_number(h) || h.parse::<Ipv4Addr>().is_ok())
}

/// The address of a bracketed IPv6 host (`[::1]`), as `std` parses it (no
/// zone id).
fn ipv6(host: &str) -> Option<Ipv6Addr> {
    host.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// Whether a host name's last label is a number, decimal (`1`) or
/// hexadecimal (`0x7f`, `0X`): the WHATWG URL standard's "ends in a number"
/// test, after which browsers parse the host as an IPv4 address and
/// serialize it as four decimal numbers. Such a host is valid here only in
/// that serialized form (`std`'s `Ipv4Addr` syntax: four decimal numbers
/// from 0 to 255, no leading zeros).
fn ends_in_number(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or(host);
    let hex = last
        .strip_prefix("0x")
        .or_else(|| last.strip_prefix("0X"))
        .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()));
    hex || (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
}

/// The address the WHATWG URL standard's IPv4 parser gives a host that
/// ends in a number (`127.1`, `0x7f.0.0.1`, `0177.0.0.1`, `2130706433`
/// are all 127.0.0.1), or `None` when it fails (`1.2.3.4.5`, `256.0.0.1`,
/// `a.1`): what a browser makes of such a host.
fn whatwg_ipv4(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let numbers = parts
        .iter()
        .map(|p| whatwg_ipv4_number(p))
        .collect::<Option<Vec<u64>>>()?;
    let (last, init) = numbers.split_last()?;
    let rest_bytes = u32::try_from(5 - numbers.len()).ok()?;
    if init.iter().any(|&n| n > 255) || *last >= 256u64.pow(rest_bytes) {
        return None;
    }
    let mut address = *last;
    for (i, n) in init.iter().enumerate() {
        address += n << (8 * (3 - i));
    }
    u32::try_from(address).ok().map(Ipv4Addr::from)
}

/// One part of a WHATWG IPv4 host: `0x` then hexadecimal, `0` then octal,
/// or decimal (saturating: a part too large fails the caller's checks).
fn whatwg_ipv4_number(part: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (part.get(1..)?, 8)
        } else if part.is_empty() {
            return None;
        } else {
            (part, 10)
        };
    digits.chars().try_fold(0u64, |n, c| {
        let d = c.to_digit(radix)?;
        Some(
            n.saturating_mul(u64::from(radix))
                .saturating_add(u64::from(d)),
        )
    })
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

/// A port: 1 to 65535 in decimal, without leading zeros (`080` is no port).
fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || p.starts_with('0') || !p.bytes().all(|b| b.is_ascii_digit()) {
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
        let ipv6 = if host.starts_with('[') {
            Some(ipv6(host)?)
        } else if valid_host(host) {
            None
        } else {
            return None;
        };
        let port = match port {
            Some(p) => Some(parse_port(p)?),
            None => default_port(scheme),
        };
        Some(Origin {
            scheme,
            host,
            ipv6,
            port,
        })
    }
}

/// Whether two request origins name the same origin, for binding an
/// envelope's sealed origin to the transport's (`docs/WIRE.md` section 3):
/// both parse (as in [`Origin::parse`]) to equal components, scheme and host
/// compared case-insensitively (an IPv6 host as an address) and the default
/// port filled in; or, when either does not parse (e.g. `null`), they are
/// the same bytes.
pub(crate) fn same_origin(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (Origin::parse(a), Origin::parse(b)) {
        (Some(x), Some(y)) => {
            let hosts = match (x.ipv6, y.ipv6) {
                (Some(p), Some(q)) => p == q,
                (None, None) => x.host.eq_ignore_ascii_case(y.host),
                _ => false,
            };
            x.scheme.eq_ignore_ascii_case(y.scheme) && hosts && x.port == y.port
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
    ipv6: Option<Ipv6Addr>,
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
                    ipv6: o.ipv6,
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
                ipv6: p.ipv6,
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

/// The entry `s` most likely meant: what an origin cannot have (user info,
/// path, query, fragment) left out, a host that ends in a number written
/// as the IPv4 address a browser makes of it, a port without leading
/// zeros. Only offered in a hint once it parses itself.
fn repaired(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    let (authority, _) = authority_and_tail(rest);
    let host_port = match authority.rfind('@') {
        Some(at) => authority.get(at + 1..)?,
        None => authority,
    };
    let (host, port) = split_host_port(host_port);
    let host = match whatwg_ipv4(host).filter(|_| ends_in_number(host)) {
        Some(address) => address.to_string(),
        None => host.to_owned(),
    };
    let port = match port {
        Some(p) if p.len() > 1 && p.bytes().all(|b| b.is_ascii_digit()) => {
            format!(":{}", p.trim_start_matches('0'))
        }
        Some(p) => format!(":{p}"),
        None => String::new(),
    };
    Some(format!("{scheme}://{host}{port}"))
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
    let host = if host.starts_with('[') {
        HostPattern::Ipv6(ipv6(&host).ok_or_else(|| {
            Invalid::new(
                format!("origin {} has an invalid IPv6 address", quote(s)),
                Some("write an IPv6 address in brackets, as in `http://[::1]:8080`"),
            )
        })?)
    } else if host == "*" {
        return Err(Invalid::new(
            format!("origin {} has `*` as its host", quote(s)),
            Some("use `*` alone to allow every origin, or `*.example.com` for subdomains"),
        ));
    } else if let Some(suffix) = host.strip_prefix("*.") {
        if ends_in_number(suffix) {
            return Err(Invalid::new(
                format!("origin {} puts `*.` before an IP address", quote(s)),
                Some("`*.` matches the subdomains of a domain name, as in `https://*.example.com`"),
            ));
        }
        if !valid_host(suffix) || suffix.starts_with('[') {
            return Err(shape());
        }
        HostPattern::Subdomains(format!(".{suffix}"))
    } else if host.contains('*') {
        return Err(Invalid::new(
            format!("origin {} has a `*` inside its host", quote(s)),
            Some("only a whole leftmost label may be `*`, as in `https://*.example.com`"),
        ));
    } else if ends_in_number(&host) && host.parse::<Ipv4Addr>().is_err() {
        // Browsers read such a host as an IPv4 address and send it as four
        // decimal numbers, so this entry as written would never match.
        return Err(match whatwg_ipv4(&host) {
            Some(_) => Invalid::new(
                format!(
                    "origin {} writes an IPv4 address in a form browsers never send",
                    quote(s)
                ),
                None,
            )
            .repairable(),
            None => Invalid::new(
                format!(
                    "origin {} has a host that ends in a number but is not an IPv4 address",
                    quote(s)
                ),
                Some("an IPv4 address is four decimal numbers from 0 to 255, as in `127.0.0.1`"),
            ),
        });
    } else if valid_host(&host) {
        HostPattern::Exact(host)
    } else {
        return Err(shape());
    };
    let port = match port {
        Some("*") => PortPattern::Any,
        Some(p) => PortPattern::Exact(Some(parse_port(p).ok_or_else(|| {
            let zeros = p.len() > 1 && p.starts_with('0') && p.bytes().all(|b| b.is_ascii_digit());
            let message = if zeros {
                format!(
                    "invalid port in origin {}: a port has no leading zeros",
                    quote(s)
                )
            } else {
                format!("invalid port in origin {}", quote(s))
            };
            Invalid::new(message, Some("a port is a number from 1 to 65535, or `*`")).repairable()
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
        let same = |a: &str, b: &str| a == b || a.eq_ignore_ascii_case(b);
        same(o.scheme, scheme)
            && match host {
                HostPattern::Exact(h) => same(o.host, h),
                HostPattern::Ipv6(a) => o.ipv6 == Some(*a),
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
                    (HostPattern::Ipv6(a), HostPattern::Ipv6(b)) => a == b,
                    (HostPattern::Ipv6(_), _) | (_, HostPattern::Ipv6(_)) => false,
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
                ipv6: None,
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
            // A port with a leading zero is no port.
            "http://a:080",
            "http://a:00443",
            "http://a:0",
            // No IPv6 address, or one with a zone id.
            "http://[]",
            "http://[1:2]",
            "http://[:::1]",
            "http://[::1%25eth0]",
            "http://[127.0.0.1]",
            // Hosts that end in a number are dotted-decimal IPv4 addresses,
            // as browsers send them, or do not parse.
            "http://127.1",
            "http://0x7f.0.0.1",
            "http://127.000.000.001",
            "http://0177.0.0.1",
            "http://2130706433",
            "http://1.2.3.4.5",
            "http://256.0.0.1",
            "http://a.1",
            "http://example.0x1f",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad}");
        }
        for good in [
            "http://127.0.0.1",
            "http://0.0.0.0:1",
            "http://255.255.255.255",
            "http://1.example",
            "http://a1",
            "http://0x.example",
            "http://[::ffff:127.0.0.1]",
            "http://[0:0:0:0:0:0:0:1]:65535",
            "http://[2001:DB8::1]",
        ] {
            assert!(Origin::parse(good).is_some(), "{good}");
        }
        assert_eq!(
            Origin::parse("http://[0:0::1]").unwrap().ipv6,
            Some(Ipv6Addr::LOCALHOST)
        );
    }

    #[test]
    fn ipv6_hosts_compare_as_addresses() {
        for (p, o) in [
            ("http://[::1]", "http://[0:0:0:0:0:0:0:1]"),
            ("http://[0:0:0:0:0:0:0:1]:*", "http://[::1]:8080"),
            ("http://[2001:db8::1]", "http://[2001:DB8:0::1]:80"),
            ("http://[::ffff:127.0.0.1]", "http://[::ffff:7f00:1]"),
        ] {
            assert!(m(p, o), "{p} {o}");
            assert!(m(
                o.trim_end_matches(":8080").trim_end_matches(":80"),
                p.trim_end_matches(":*")
            ));
            assert!(
                same_origin(p.trim_end_matches(":*"), o.trim_end_matches(":8080")),
                "{p} {o}"
            );
        }
        assert!(!m("http://[::1]", "http://[::2]"));
        assert!(!m("http://[::ffff:127.0.0.1]", "http://127.0.0.1"));
        assert!(!same_origin(
            "http://[::ffff:127.0.0.1]",
            "http://127.0.0.1"
        ));
        assert!(!same_origin("http://[::1]", "https://[::1]"));
        assert!(!same_origin("http://[::1]:81", "http://[0::1]"));
        // Duplicates and coverage see the address, not the spelling.
        assert_eq!(pat("http://[::1]"), pat("http://[0:0:0:0:0:0:0:1]"));
        assert!(pat("http://[::1]:*").covers(&pat("http://[0::1]:8080")));
        assert!(!pat("http://[::1]").covers(&pat("http://localhost")));
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
        // Ports: a leading zero is an error whose hint is the entry
        // without it.
        assert_eq!(
            e("http://a:080"),
            (
                "invalid port in origin `http://a:080`: a port has no leading zeros".into(),
                Some("write `http://a:80`".into())
            )
        );
        assert_eq!(
            e("http://a:00").1,
            Some("a port is a number from 1 to 65535, or `*`".into())
        );
        // IPv6: an invalid address.
        assert_eq!(
            e("http://[1:2]"),
            (
                "origin `http://[1:2]` has an invalid IPv6 address".into(),
                Some("write an IPv6 address in brackets, as in `http://[::1]:8080`".into())
            )
        );
        // IPv4 forms a browser never sends: the hint is the one it sends.
        for (bad, fixed) in [
            ("http://127.1", "http://127.0.0.1"),
            ("http://0x7f.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://127.000.000.001", "http://127.0.0.1"),
            ("http://0177.0.0.1:*", "http://127.0.0.1:*"),
            ("https://2130706433", "https://127.0.0.1"),
            ("http://0X7F.1", "http://127.0.0.1"),
            ("http://u@127.1:080/x", "http://127.0.0.1:80"),
        ] {
            let (message, hint) = e(bad);
            assert!(
                message.ends_with("in a form browsers never send")
                    || message.contains("has user info")
                    || message.contains("leading zeros"),
                "{bad}: {message}"
            );
            assert_eq!(hint, Some(format!("write `{fixed}`")), "{bad}");
        }
        assert_eq!(
            e("http://1.2.3.4.5"),
            (
                "origin `http://1.2.3.4.5` has a host that ends in a number but is not an IPv4 address".into(),
                Some("an IPv4 address is four decimal numbers from 0 to 255, as in `127.0.0.1`".into())
            )
        );
        assert!(e("http://a.1").0.contains("is not an IPv4 address"));
        assert!(e("http://256.0.0.1").0.contains("is not an IPv4 address"));
        assert!(e("https://*.0.0.1")
            .0
            .contains("puts `*.` before an IP address"));
        assert!(e("https://*.1.2.3.4")
            .0
            .contains("puts `*.` before an IP address"));
        assert!(OriginPattern::parse("https://*.1.example").is_ok());
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
            "080", "127", "x", "-", "a.b", "*.", "0x7f", "1", "256", "0177",
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

    /// The WHATWG IPv4 parser: the last number fills the bytes the others
    /// leave, every other number is one byte.
    #[test]
    fn whatwg_ipv4_number_widths() {
        let v4 = |s: &str| whatwg_ipv4(s).map(|a| a.to_string());
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(v4("4294967295"), some("255.255.255.255"));
        assert_eq!(v4("4294967296"), None);
        assert_eq!(v4("1.65536"), some("1.1.0.0"));
        assert_eq!(v4("1.16777215"), some("1.255.255.255"));
        assert_eq!(v4("1.16777216"), None);
        assert_eq!(v4("1.2.300"), some("1.2.1.44"));
        assert_eq!(v4("1.2.65535"), some("1.2.255.255"));
        assert_eq!(v4("1.2.65536"), None);
        assert_eq!(v4("1.2.3.255"), some("1.2.3.255"));
        assert_eq!(v4("1.2.3.256"), None);
        assert_eq!(v4("255.1"), some("255.0.0.1"));
        assert_eq!(v4("255.255.255.255"), some("255.255.255.255"));
        assert_eq!(v4("1.256.1"), None);
        assert_eq!(v4("256.0.0.1"), None);
        assert_eq!(v4("1.2.3.4.5"), None);
        assert_eq!(v4("0x10.010.8"), some("16.8.0.8"));
    }

    /// A repaired hint strips leading zeros only from a port of digits: a
    /// port such as `0*` is not made into `*`, so no hint is offered.
    #[test]
    fn only_numeric_ports_lose_leading_zeros_in_hints() {
        let hint = |s: &str| OriginPattern::parse(s).unwrap_err().1;
        assert_eq!(hint("http://127.1:0*"), None);
        assert_eq!(hint("http://127.1:0x"), None);
        assert_eq!(hint("http://127.1:0"), None);
        assert_eq!(
            hint("http://127.1:5"),
            Some("write `http://127.0.0.1:5`".into())
        );
        assert_eq!(
            hint("http://127.1:005"),
            Some("write `http://127.0.0.1:5`".into())
        );
        assert_eq!(hint("http://a:08080"), Some("write `http://a:8080`".into()));
    }

    /// `*.` needs a valid domain name after it; a port of `0` is invalid,
    /// not "leading zeros".
    #[test]
    fn subdomain_suffixes_and_zero_ports_are_checked() {
        let e = |s: &str| OriginPattern::parse(s).unwrap_err().0;
        for bad in ["http://*.a..b", "http://*.a b", "http://*.", "http://*.-a!"] {
            assert_eq!(e(bad), format!("invalid origin `{bad}`"), "{bad}");
        }
        assert!(OriginPattern::parse("http://*.a.b").is_ok());
        assert_eq!(e("http://a:0"), "invalid port in origin `http://a:0`");
        assert_eq!(
            e("http://a:00"),
            "invalid port in origin `http://a:00`: a port has no leading zeros"
        );
    }

    /// `*.e.com` covers its subdomains only, however long other hosts are.
    #[test]
    fn subdomain_patterns_cover_only_their_subdomains() {
        let sub = pat("https://*.e.com");
        assert!(sub.covers(&pat("https://a.e.com")));
        assert!(!sub.covers(&pat("https://a-much-longer-host.org")));
        assert!(!sub.covers(&pat("https://xe.com")));
        assert!(!sub.covers(&pat("https://*.org")));
    }

    /// Labels of up to 63 bytes, hosts of up to 253.
    #[test]
    fn host_length_limits_are_inclusive() {
        let host = |last: usize| {
            format!(
                "{}.{}.{}.{}",
                "a".repeat(63),
                "b".repeat(63),
                "c".repeat(63),
                "d".repeat(last)
            )
        };
        assert_eq!(host(61).len(), 253);
        assert!(Origin::parse(&format!("http://{}", host(61))).is_some());
        assert!(Origin::parse(&format!("http://{}", host(62))).is_none());
        assert!(Origin::parse(&format!("http://{}.com", "a".repeat(63))).is_some());
        assert!(Origin::parse(&format!("http://{}.com", "a".repeat(64))).is_none());
        assert!(OriginPattern::parse(&format!("http://{}", host(61))).is_ok());
        assert!(OriginPattern::parse(&format!("http://{}", host(62))).is_err());
    }

    #[test]
    fn same_origin_compares_parsed_parts() {
        let same = [
            ("http://a.com", "http://a.com"),
            ("null", "null"),
            ("http://A.com", "http://a.com"),
            ("HTTP://a.com", "http://a.com"),
            ("http://a.com:80", "http://a.com"),
            ("https://a.com", "https://a.com:443"),
            ("tauri://localhost", "TAURI://LOCALHOST"),
        ];
        let different = [
            // Only the scheme differs (both default to port 80).
            ("ws://a.com", "http://a.com"),
            // Only the host differs.
            ("http://a.com", "http://b.com"),
            // Only the port differs.
            ("http://a.com:81", "http://a.com"),
            ("tauri://localhost", "tauri://localhost:80"),
            // Either side does not parse: bytes only.
            ("null", "NULL"),
            ("null", "http://a.com"),
            ("http://a.com/", "http://a.com"),
        ];
        for (a, b) in same {
            assert!(same_origin(a, b), "{a} vs {b}");
            assert!(same_origin(b, a), "{b} vs {a}");
        }
        for (a, b) in different {
            assert!(!same_origin(a, b), "{a} vs {b}");
            assert!(!same_origin(b, a), "{b} vs {a}");
        }
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
            let labels: Vec<&str> = host.split('.').collect();
            let last = labels.last().copied().unwrap_or("");
            let numeric = last.chars().all(|c| c.is_ascii_digit())
                || (last.to_ascii_lowercase().starts_with("0x")
                    && last.chars().skip(2).all(|c| c.is_ascii_hexdigit()));
            let dotted_decimal = labels.len() == 4
                && labels.iter().all(|l| {
                    !l.is_empty()
                        && l.len() <= 3
                        && (l.len() == 1 || !l.starts_with('0'))
                        && l.chars().all(|c| c.is_ascii_digit())
                        && l.parse::<u16>().is_ok_and(|n| n <= 255)
                });
            !host.is_empty()
                && host.len() <= 253
                && labels.iter().all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
                })
                && (!numeric || dotted_decimal)
        };
        if !host_ok {
            return None;
        }
        let port = match port {
            Some(p) if p.starts_with('0') => return None,
            Some(p) => Some(parse_port(p)?),
            None => default_port(scheme),
        };
        let ipv6 = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .and_then(|h| h.parse().ok());
        Some(Origin {
            scheme,
            host,
            ipv6,
            port,
        })
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
            "x", "::", "255", "256", "0x", "f", "%",
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
