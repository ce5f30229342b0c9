//! Load-time errors, written for people: lowercase, no trailing period, user
//! input in backticks, located by file, line, column and JSON pointer.

use super::json::Pos;
use std::fmt;

/// Most characters of user input an error message quotes: past this, it
/// shows the first `MAX_QUOTED_CHARS` characters, then `…` and the total
/// length (`docs/POLICY.md` section 11).
pub(crate) const MAX_QUOTED_CHARS: usize = 64;

/// Longest entry, in characters, that a hint suggests writing instead
/// (`write `...``): a suggestion must be a valid entry, so it is never
/// cut; a longer one is left out.
pub(crate) const MAX_SUGGESTION_CHARS: usize = 256;

/// User input as an error message quotes it: in backticks, cut after
/// [`MAX_QUOTED_CHARS`] characters (`` `abc…` (3145728 characters) ``).
pub(crate) fn quote(input: &str) -> String {
    match cut_at(input) {
        None => format!("`{input}`"),
        Some(head) => format!("`{head}…` ({} characters)", input.chars().count()),
    }
}

/// User input that a message shows without backticks (a number as
/// written), cut like [`quote`].
pub(crate) fn cut(input: &str) -> String {
    match cut_at(input) {
        None => input.to_owned(),
        Some(head) => format!("{head}… ({} characters)", input.chars().count()),
    }
}

/// The first [`MAX_QUOTED_CHARS`] characters of `input`, when it has more.
fn cut_at(input: &str) -> Option<&str> {
    let (end, _) = input.char_indices().nth(MAX_QUOTED_CHARS)?;
    input.get(..end)
}

/// A hint that suggests writing `entry` instead, when `entry` is short
/// enough to show whole ([`MAX_SUGGESTION_CHARS`]).
pub(crate) fn suggest(entry: &str) -> Option<String> {
    (entry.chars().count() <= MAX_SUGGESTION_CHARS).then(|| format!("write `{entry}`"))
}

/// A load-time error, located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// File name, as given in [`PolicySource::name`](super::PolicySource).
    pub file: String,
    /// 1-based line (0 when the error is about the whole file, e.g. unreadable).
    pub line: usize,
    /// 1-based column, counted in Unicode characters.
    pub column: usize,
    /// JSON pointer of the offending value (empty for the whole document).
    pub pointer: String,
    /// Plain-words message.
    pub message: String,
    /// A suggestion for fixing it, when one helps.
    pub hint: Option<String>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )?;
        }
        if !self.pointer.is_empty() {
            // The pointer holds the file's keys: cut like any user input.
            write!(f, " (at {})", quote(&self.pointer))?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

/// Every error found while loading a policy set, in file order, then by
/// position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

/// Collects the errors of one file.
pub(crate) struct Sink<'f> {
    pub file: &'f str,
    pub errors: Vec<PolicyError>,
}

impl<'f> Sink<'f> {
    pub(crate) fn new(file: &'f str) -> Self {
        Self {
            file,
            errors: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, pos: Pos, pointer: &str, message: impl Into<String>) {
        self.push(pos, pointer, message.into(), None);
    }

    pub(crate) fn hint(
        &mut self,
        pos: Pos,
        pointer: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(pos, pointer, message.into(), Some(hint.into()));
    }

    fn push(&mut self, pos: Pos, pointer: &str, message: String, hint: Option<String>) {
        self.errors.push(PolicyError {
            file: self.file.to_owned(),
            line: pos.line,
            column: pos.column,
            pointer: pointer.to_owned(),
            message,
            hint,
        });
    }
}

/// The closest candidate to a misspelt word, if it is close enough to be a
/// likely typo: at most a third of the word's length in edits (at least 1).
pub(crate) fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        if let Some(first) = cur.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            if let Some(slot) = cur.get_mut(j + 1) {
                *slot = sub.min(del).min(ins);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

/// `a`, `b` and `c` — for "expected one of" hints.
pub(crate) fn one_of(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let keys = [
            "commands", "events", "windows", "origins", "args", "payload",
        ];
        assert_eq!(did_you_mean("comands", &keys), Some("commands"));
        assert_eq!(did_you_mean("window", &keys), Some("windows"));
        assert_eq!(did_you_mean("argz", &keys), Some("args"));
        assert_eq!(did_you_mean("zzz", &keys), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn user_input_is_cut() {
        let exact = "é".repeat(MAX_QUOTED_CHARS);
        assert_eq!(quote(&exact), format!("`{exact}`"));
        assert_eq!(quote("a`b"), "`a`b`");
        let long = format!("{exact}x{}", "y".repeat(3 * 1024 * 1024));
        let q = quote(&long);
        assert_eq!(
            q,
            format!("`{exact}…` ({} characters)", 3 * 1024 * 1024 + 65)
        );
        assert_eq!(
            cut(&long),
            format!("{exact}… ({} characters)", 3 * 1024 * 1024 + 65)
        );
        assert_eq!(cut("1e400"), "1e400");
        assert_eq!(suggest("http://a"), Some("write `http://a`".into()));
        assert_eq!(suggest(&"a".repeat(MAX_SUGGESTION_CHARS + 1)), None);
    }

    #[test]
    fn display() {
        let mut e = PolicyError {
            file: "p.json".into(),
            line: 3,
            column: 7,
            pointer: "/rules/0/id".into(),
            message: "bad".into(),
            hint: None,
        };
        assert_eq!(e.to_string(), "p.json:3:7: bad (at `/rules/0/id`)");
        e.hint = Some("try this".into());
        assert_eq!(
            e.to_string(),
            "p.json:3:7: bad (at `/rules/0/id`)\n  hint: try this"
        );
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
