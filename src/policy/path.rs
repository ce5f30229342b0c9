//! `path` arguments: strings that must name something inside a base
//! directory, checked lexically (no filesystem access, no decoding, no
//! resolving of `..` — refused instead). The algorithm is spelled out in
//! `docs/POLICY.md`, section "Paths".

use super::errors::quote;
use super::glob::Star;

/// Longest path argument accepted, in bytes.
pub(crate) const MAX_PATH_LEN: usize = 4096;

/// A compiled `"type": "path"` constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathRule {
    pub base: String,
    base_segments: Vec<String>,
    pub glob: Option<Glob>,
    pub allow_hidden: bool,
}

/// A compiled path glob: `**` matches any number of segments (including
/// none), every other segment is a `*` glob over exactly one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    pub source: String,
    units: Vec<Unit>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Unit {
    AnySegments,
    Segment(Star),
}

/// Why a path argument was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathFail {
    Empty,
    TooLong,
    Nul,
    Percent,
    Backslash,
    Control,
    DotDot,
    Escapes,
    Hidden,
    Glob,
}

impl PathFail {
    /// The reason, after "argument `x` ".
    pub(crate) fn describe(self, rule: &PathRule) -> String {
        match self {
            PathFail::Empty => "is an empty path".to_owned(),
            PathFail::TooLong => format!("is longer than {MAX_PATH_LEN} bytes"),
            PathFail::Nul => "contains a NUL character".to_owned(),
            PathFail::Percent => {
                "contains `%` (percent-encoded paths are refused, not decoded)".to_owned()
            }
            PathFail::Backslash => "contains a backslash".to_owned(),
            PathFail::Control => "contains a control character".to_owned(),
            PathFail::DotDot => "contains a `..` segment".to_owned(),
            PathFail::Escapes => format!("escapes base {}", quote(&rule.base)),
            PathFail::Hidden => {
                "names a hidden file or directory (a segment starting with `.`)".to_owned()
            }
            PathFail::Glob => match &rule.glob {
                Some(g) => format!(
                    "does not match glob {} under {}",
                    quote(&g.source),
                    quote(&rule.base)
                ),
                None => format!("escapes base {}", quote(&rule.base)),
            },
        }
    }
}

/// Checks the characters shared by bases, globs and arguments.
fn bad_char(s: &str) -> Option<PathFail> {
    for c in s.chars() {
        let fail = match c {
            '\0' => PathFail::Nul,
            '%' => PathFail::Percent,
            '\\' => PathFail::Backslash,
            c if c.is_control() => PathFail::Control,
            _ => continue,
        };
        return Some(fail);
    }
    None
}

fn keep(seg: &&str) -> bool {
    !seg.is_empty() && *seg != "."
}

/// Why a `base` is not acceptable, if it is not.
pub(crate) fn check_base(base: &str) -> Option<String> {
    if let Some(fail) = bad_char(base) {
        return Some(format!(
            "`base` {}",
            match fail {
                PathFail::Percent => "contains `%`".to_owned(),
                other => other.describe_plain(),
            }
        ));
    }
    if !base.starts_with('/') {
        return Some(format!(
            "`base` must be an absolute path, not {}",
            quote(base)
        ));
    }
    if base != "/"
        && (base.ends_with('/')
            || base
                .split('/')
                .skip(1)
                .any(|s| s.is_empty() || s == "." || s == ".."))
    {
        return Some(format!(
            "`base` must be a normalized directory (no empty, `.` or `..` segments and no trailing `/`), not {}",
            quote(base)
        ));
    }
    None
}

/// Why a `glob` is not acceptable, if it is not.
pub(crate) fn check_glob(glob: &str) -> Option<String> {
    if let Some(fail) = bad_char(glob) {
        return Some(format!(
            "`glob` {}",
            match fail {
                PathFail::Percent => "contains `%`".to_owned(),
                other => other.describe_plain(),
            }
        ));
    }
    if glob.starts_with('/') {
        return Some(format!(
            "`glob` must be relative to `base`, not {}",
            quote(glob)
        ));
    }
    if let Some(c) = glob
        .chars()
        .find(|c| matches!(c, '?' | '[' | ']' | '{' | '}'))
    {
        return Some(format!(
            "`glob` uses `{c}`, which is not supported (only `*` and `**`)"
        ));
    }
    for seg in glob.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Some(format!(
                "`glob` must not have empty, `.` or `..` segments: {}",
                quote(glob)
            ));
        }
        if seg.contains("**") && seg != "**" {
            return Some(format!(
                "`**` must be a whole segment in `glob` {}",
                quote(glob)
            ));
        }
    }
    None
}

impl PathFail {
    fn describe_plain(self) -> String {
        match self {
            PathFail::Nul => "contains a NUL character",
            PathFail::Backslash => "contains a backslash",
            _ => "contains a control character",
        }
        .to_owned()
    }
}

impl Glob {
    /// Compiles a glob already accepted by [`check_glob`].
    pub(crate) fn new(source: &str) -> Self {
        let units = source
            .split('/')
            .map(|seg| {
                if seg == "**" {
                    Unit::AnySegments
                } else {
                    Unit::Segment(Star::new(seg))
                }
            })
            .collect();
        Self {
            source: source.to_owned(),
            units,
        }
    }

    /// Matches whole segments. `**` works like `*` in a string glob, one
    /// level up, so the classic greedy match with one backtrack point is
    /// exact; iterators are cloned instead of collecting the segments.
    fn matches<'s, I>(&self, mut segs: std::iter::Peekable<I>) -> bool
    where
        I: Iterator<Item = &'s str> + Clone,
    {
        let mut u = 0usize;
        let mut star: Option<(usize, std::iter::Peekable<I>)> = None;
        loop {
            match segs.peek().copied() {
                Some(seg) => {
                    match self.units.get(u) {
                        Some(Unit::Segment(g)) if g.matches(seg) => {
                            u += 1;
                            segs.next();
                            continue;
                        }
                        Some(Unit::AnySegments) => {
                            u += 1;
                            star = Some((u, segs.clone()));
                            continue;
                        }
                        _ => {}
                    }
                    match &mut star {
                        Some((su, saved)) => {
                            saved.next();
                            u = *su;
                            segs = saved.clone();
                        }
                        None => return false,
                    }
                }
                None => {
                    return self
                        .units
                        .get(u..)
                        .is_some_and(|rest| rest.iter().all(|x| *x == Unit::AnySegments))
                }
            }
        }
    }
}

impl PathRule {
    /// Compiles a rule whose base and glob passed [`check_base`] and
    /// [`check_glob`].
    pub(crate) fn new(base: &str, glob: Option<&str>, allow_hidden: bool) -> Self {
        Self {
            base: base.to_owned(),
            base_segments: base.split('/').filter(keep).map(str::to_owned).collect(),
            glob: glob.map(Glob::new),
            allow_hidden,
        }
    }

    /// Checks one path argument; allocation-free.
    pub(crate) fn check(&self, path: &str) -> Result<(), PathFail> {
        if path.is_empty() {
            return Err(PathFail::Empty);
        }
        if path.len() > MAX_PATH_LEN {
            return Err(PathFail::TooLong);
        }
        if let Some(fail) = bad_char(path) {
            return Err(fail);
        }
        let mut segs = path.split('/').filter(keep as fn(&&str) -> bool);
        if segs.clone().any(|s| s == "..") {
            return Err(PathFail::DotDot);
        }
        if path.starts_with('/') {
            for base in &self.base_segments {
                if segs.next() != Some(base.as_str()) {
                    return Err(PathFail::Escapes);
                }
            }
        }
        if !self.allow_hidden && segs.clone().any(|s| s.starts_with('.')) {
            return Err(PathFail::Hidden);
        }
        match &self.glob {
            Some(g) if !g.matches(segs.peekable()) => Err(PathFail::Glob),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(glob: Option<&str>) -> PathRule {
        PathRule::new("/home/user/notes", glob, false)
    }

    #[test]
    fn base_and_glob_validation() {
        assert_eq!(check_base("/"), None);
        assert_eq!(check_base("/a/b"), None);
        for bad in [
            "a/b", "/a/", "/a//b", "/a/./b", "/a/../b", "/a%2f", "/a\\b", "",
        ] {
            assert!(check_base(bad).is_some(), "{bad}");
        }
        assert_eq!(check_glob("**/*.md"), None);
        for bad in ["/x", "a//b", "../x", "a/**b", "a?", "[ab]", "x/./y", ""] {
            assert!(check_glob(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn lexical_checks() {
        let r = rule(None);
        assert_eq!(r.check("/home/user/notes/a.md"), Ok(()));
        assert_eq!(r.check("a.md"), Ok(()));
        assert_eq!(r.check("sub/a.md"), Ok(()));
        assert_eq!(r.check("/home/user/notes"), Ok(()));
        assert_eq!(r.check("/home/user/notes/"), Ok(()));
        assert_eq!(r.check("//home//user/./notes/a.md"), Ok(()));
        assert_eq!(r.check(""), Err(PathFail::Empty));
        assert_eq!(r.check("/home/user/notes/../x"), Err(PathFail::DotDot));
        assert_eq!(r.check("a/../../x"), Err(PathFail::DotDot));
        assert_eq!(r.check("%2e%2e/x"), Err(PathFail::Percent));
        assert_eq!(r.check("a\\..\\x"), Err(PathFail::Backslash));
        assert_eq!(r.check("a\0.md"), Err(PathFail::Nul));
        assert_eq!(r.check("a\n.md"), Err(PathFail::Control));
        assert_eq!(r.check("a\u{85}.md"), Err(PathFail::Control));
        assert_eq!(r.check("/home/user/notesX/a.md"), Err(PathFail::Escapes));
        assert_eq!(r.check("/Home/user/notes/a.md"), Err(PathFail::Escapes));
        assert_eq!(r.check("/home/user"), Err(PathFail::Escapes));
        assert_eq!(r.check("/etc/passwd"), Err(PathFail::Escapes));
        assert_eq!(r.check(".git/config"), Err(PathFail::Hidden));
        assert_eq!(r.check("/home/user/notes/a/.x"), Err(PathFail::Hidden));
        assert_eq!(r.check(&"a/".repeat(3000)), Err(PathFail::TooLong));
        let hidden_ok = PathRule::new("/home/user/notes", None, true);
        assert_eq!(hidden_ok.check(".git/config"), Ok(()));
        let root = PathRule::new("/", Some("etc/*"), false);
        assert_eq!(root.check("/etc/hosts"), Ok(()));
        assert_eq!(root.check("/etc/a/hosts"), Err(PathFail::Glob));
    }

    #[test]
    fn globs() {
        let one = rule(Some("*.md"));
        assert_eq!(one.check("a.md"), Ok(()));
        assert_eq!(one.check("sub/a.md"), Err(PathFail::Glob));
        assert_eq!(one.check("a.txt"), Err(PathFail::Glob));
        assert_eq!(one.check("/home/user/notes"), Err(PathFail::Glob));
        let deep = rule(Some("**/*.md"));
        assert_eq!(deep.check("a.md"), Ok(()));
        assert_eq!(deep.check("x/y/z/a.md"), Ok(()));
        assert_eq!(deep.check("x/y/z/a.mdx"), Err(PathFail::Glob));
        let mid = rule(Some("a/**/b/*.md"));
        assert_eq!(mid.check("a/b/x.md"), Ok(()));
        assert_eq!(mid.check("a/1/2/b/x.md"), Ok(()));
        assert_eq!(mid.check("a/b/b/b/x.md"), Ok(()));
        assert_eq!(mid.check("a/b"), Err(PathFail::Glob));
        assert_eq!(mid.check("b/x.md"), Err(PathFail::Glob));
        let all = rule(Some("**"));
        assert_eq!(all.check("/home/user/notes"), Ok(()));
        assert_eq!(all.check("q/r"), Ok(()));
        let two = rule(Some("**/x/**"));
        assert_eq!(two.check("x"), Ok(()));
        assert_eq!(two.check("a/x/b/c"), Ok(()));
        assert_eq!(two.check("a/y/b"), Err(PathFail::Glob));
    }
}
