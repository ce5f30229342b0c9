//! `*` globs over one string (window labels, one path segment): `*` matches
//! any run of characters, including none; everything else is literal; the
//! whole string must match (anchored at both ends).

/// A compiled `*` glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Star {
    source: String,
    /// The literal pieces between stars; one piece means no star.
    parts: Vec<String>,
}

impl Star {
    pub(crate) fn new(source: &str) -> Self {
        Self {
            source: source.to_owned(),
            parts: source.split('*').map(str::to_owned).collect(),
        }
    }

    /// The glob as written.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// Whether the glob is a plain literal (no `*`).
    pub(crate) fn is_literal(&self) -> bool {
        self.parts.len() == 1
    }

    /// Whether the glob is `*` alone.
    pub(crate) fn is_any(&self) -> bool {
        self.parts.len() == 2 && self.parts.iter().all(String::is_empty)
    }

    /// Anchored match. With only `*` wildcards, matching the first piece as
    /// a prefix, the last as a suffix and the middle ones leftmost-first in
    /// between is exact (no backtracking needed).
    pub(crate) fn matches(&self, s: &str) -> bool {
        let (first, rest) = match self.parts.split_first() {
            Some(x) => x,
            None => return s.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return s == first;
        };
        if s.len() < first.len() + last.len()
            || !s.starts_with(first.as_str())
            || !s.ends_with(last.as_str())
        {
            return false;
        }
        let Some(mut inner) = s.get(first.len()..s.len() - last.len()) else {
            return false;
        };
        for piece in middle {
            match inner.find(piece.as_str()) {
                Some(at) => inner = inner.get(at + piece.len()..).unwrap_or_default(),
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored() {
        let g = Star::new("editor-*");
        assert!(g.matches("editor-1"));
        assert!(g.matches("editor-"));
        assert!(!g.matches("xeditor-1"));
        assert!(!g.matches("editor"));
        assert!(Star::new("*").matches(""));
        assert!(Star::new("*").is_any());
        assert!(Star::new("main").matches("main"));
        assert!(!Star::new("main").matches("main2"));
        assert!(Star::new("a*b*c").matches("abc"));
        assert!(Star::new("a*b*c").matches("axxbyybc"));
        assert!(!Star::new("a*b*c").matches("acb"));
        // Prefix and suffix may not overlap.
        assert!(!Star::new("ab*ba").matches("aba"));
        assert!(Star::new("ab*ba").matches("abba"));
        assert!(Star::new("*.md").matches("é.md"));
        assert!(Star::new("**").matches("x"));
    }
}
