//! Window labels: their one grammar, used by envelope headers, frame
//! rendering, policy decisions and the CLI.

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
}
