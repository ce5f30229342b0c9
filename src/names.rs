//! Hashing and comparing the short names the gate looks up on every
//! message (window labels, command names, argument keys, origin parts).

use std::hash::Hasher;

/// Longest window label, in bytes.
pub const MAX_WINDOW_LEN: usize = 128;

/// Whether `label` is a window label (`docs/WIRE.md` section 2): 1 to
/// [`MAX_WINDOW_LEN`] bytes of UTF-8 without whitespace (Unicode
/// `White_Space`), control characters (general category `Cc`) or `*` (which
/// policy files use as a glob). The one grammar for labels: envelope
/// headers, frame rendering, policy decisions and the CLI all use it.
pub fn is_window_label(label: &str) -> bool {
    label_text(label) && !label.contains('*')
}

/// [`is_window_label`], with `*` allowed: a policy's `windows` entry.
pub(crate) fn is_window_pattern(pattern: &str) -> bool {
    label_text(pattern)
}

fn label_text(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_WINDOW_LEN
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Fx-style hasher (a rotate, xor and multiply a word) for tables whose
/// keys the frontend cannot choose: the policy's names. Lookups with any key
/// stay safe; only inserting chosen keys could make a table degrade, and
/// SipHash's flood resistance would cost for nothing. (The replay table's
/// window labels may come from pages, so it keeps SipHash.)
#[derive(Default, Clone, Copy)]
pub(crate) struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        if let Some(dst) = tail.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        // The length keeps `ab` + `` apart from `a` + `b`.
        self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(tail) ^ ((rest.len() as u64) << 59))
            .wrapping_mul(K);
    }

    fn write_u8(&mut self, b: u8) {
        self.write(&[b]);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Whether two names are equal, without a `memcmp` call for names of up to
/// 32 bytes (almost all of them, origins included): a call costs more than
/// the comparison.
#[inline]
pub(crate) fn eq(a: &str, b: &str) -> bool {
    bytes_eq(a.as_bytes(), b.as_bytes())
}

/// [`eq`] for names still in bytes (a header's, before they are text).
#[inline]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        // Two overlapping words cover the name.
        4..=8 => word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4),
        9..=16 => word8(a, 0) == word8(b, 0) && word8(a, n - 8) == word8(b, n - 8),
        17..=32 => word16(a, 0) == word16(b, 0) && word16(a, n - 16) == word16(b, n - 16),
        _ => a == b,
    }
}

fn word4(s: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(src) = s.get(at..at + 4) {
        w.copy_from_slice(src);
    }
    u32::from_ne_bytes(w)
}

fn word8(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(src) = s.get(at..at + 8) {
        w.copy_from_slice(src);
    }
    u64::from_ne_bytes(w)
}

fn word16(s: &[u8], at: usize) -> u128 {
    let mut w = [0u8; 16];
    if let Some(src) = s.get(at..at + 16) {
        w.copy_from_slice(src);
    }
    u128::from_ne_bytes(w)
}

#[cfg(test)]
mod tests {
    #[test]
    fn window_labels() {
        use super::{is_window_label, is_window_pattern};
        for good in [
            "main",
            "a",
            "settings-2",
            "ünï",
            "a/b:c_d.e",
            &"w".repeat(128),
        ] {
            assert!(is_window_label(good), "{good}");
            assert!(is_window_pattern(good), "{good}");
        }
        for bad in [
            "",
            " ",
            "a b",
            "a\tb",
            "a\nb",
            "a\u{0}b",
            "a\u{85}b",
            "a\u{a0}b",
            "a\u{3000}b",
            &"w".repeat(129),
        ] {
            assert!(!is_window_label(bad), "{bad:?}");
            assert!(!is_window_pattern(bad), "{bad:?}");
        }
        assert!(!is_window_label("*") && !is_window_label("a*"));
        assert!(is_window_pattern("*") && is_window_pattern("*-preview"));
    }

    use super::*;

    #[test]
    fn eq_agrees_with_str_eq() {
        let names = [
            "",
            "a",
            "b",
            "ab",
            "abc",
            "abd",
            "name",
            "note",
            "nam",
            "names",
            "greet",
            "grees",
            "window-1",
            "window-2",
            "xwindow-1",
            "123456789",
            "123456780",
            "023456789",
            "0123456789abcdef",
            "0123456789abcdeF",
            "0123456789abcdef0",
            "0123456789abcdef1",
            "http://127.0.0.1:8917",
            "http://127.0.0.1:8918",
            "https://127.0.0.1:8917",
            "0123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdeF",
            "x123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdef0",
            "é",
            "e\u{301}",
        ];
        for a in names {
            for b in names {
                assert_eq!(eq(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }
}
