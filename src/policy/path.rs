//! `path` arguments: strings that must name something inside a base
//! directory, checked lexically (no filesystem access, no decoding, no
//! resolving of `..` — refused instead). The algorithm is spelled out in
//! `docs/POLICY.md`, section "Paths".
//!
//! The router that receives an accepted argument may run on POSIX or on
//! Windows, so an argument is refused when either would read it as
//! something else than plain names under the base: see [`windows_form`].

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
    /// Starts with `//`: a UNC or device path on Windows.
    Unc,
    /// A character Windows reserves in names (`<>:"|?*`).
    Reserved(char),
    /// A segment ending in `.` or a space, which Windows strips.
    Trailing,
    /// A segment Windows opens as a device (`NUL`, `COM1.md`...).
    Device,
    /// A segment Windows may read as an 8.3 short name (`GIT~1`).
    ShortName,
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
            PathFail::Unc => "starts with `//` (a network or device path on Windows)".to_owned(),
            PathFail::Reserved(c) => {
                format!("contains `{c}`, which Windows reserves in file names")
            }
            PathFail::Trailing => {
                "has a segment ending in `.` or a space (Windows strips them)".to_owned()
            }
            PathFail::Device => {
                "names a Windows device (`CON`, `PRN`, `AUX`, `NUL`, `COM1`, `LPT1`...)".to_owned()
            }
            PathFail::ShortName => {
                "has a segment with `~` and a digit (a Windows short name such as `GIT~1`)"
                    .to_owned()
            }
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

/// How a Windows router would read one segment of the argument as
/// something other than a plain name in its directory, if it would. Only
/// segments under the base are classified (for an absolute argument the
/// base's own segments are the policy author's, not the webview's); they
/// are never empty, `.` or `..`.
///
/// A POSIX router reads every segment refused here as a plain name. A
/// Windows router that joins the argument to the base (`Path::join`,
/// `PathBuf::push`) and opens the result (`CreateFileW`, which normalizes
/// the path with `GetFullPathNameW`'s rules) does not. Backslash forms
/// (`\\server\share`, `\\?\`, `\\.\`, `\??\`, `C:\x`, `\x`) never get here:
/// [`bad_char`] refuses every backslash; a leading `//` is refused by
/// [`PathRule::check`] before the segments are looked at.
pub(crate) fn windows_form(seg: &str) -> Option<PathFail> {
    // `:` — `C:/x` and `c:` (a drive: `Path::join` replaces the base
    // with it), `C:x` (relative to drive C's current directory, which
    // `Path::join` also puts in place of the base), `x.md:s` and
    // `x.md::$DATA` (an NTFS alternate data stream, not the file).
    // `?` — the `\\?\` and `\??\` prefixes. `*`, `?`, `<`, `>`, `"` —
    // wildcards of the Win32 find functions. `|` — a pipe in shells.
    // No Windows file name contains any of them.
    if let Some(c) = seg
        .chars()
        .find(|c| matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*'))
    {
        return Some(PathFail::Reserved(c));
    }
    // `.. `, `... `, `x.md.`, `x.md `: Win32 normalization strips
    // trailing dots and spaces, so `.. ` may be read as `..` (the
    // parent of the base) and `x.md.` as `x.md`.
    if seg.ends_with(['.', ' ']) {
        return Some(PathFail::Trailing);
    }
    // `NUL`, `con.md`, `COM1 .txt`, `LPT¹.md`: Win32 opens the DOS
    // device instead of a file under the base, in every directory.
    if is_device(seg) {
        return Some(PathFail::Device);
    }
    // `GIT~1`, `PROGRA~1`, `SECRET~1.MD`: on a volume with 8.3 names,
    // the short alias of some long name in the same directory. It
    // cannot leave the base, but `GIT~1` is `.git`: it would get past
    // the hidden-file check and, under another name, past the glob.
    if seg
        .split('~')
        .skip(1)
        .any(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    {
        return Some(PathFail::ShortName);
    }
    None
}

/// Whether Win32 reads the segment as a DOS device: its part before the
/// first `.`, without spaces at either end, is `CON`, `PRN`, `AUX`, `NUL`,
/// `CONIN$`, `CONOUT$`, or `COM` or `LPT` followed by one of `0`–`9`, `¹`,
/// `²`, `³` (Windows counts those superscripts as digits), in any ASCII
/// case.
fn is_device(seg: &str) -> bool {
    let stem = seg
        .split_once('.')
        .map_or(seg, |(stem, _)| stem)
        .trim_matches(' ');
    if ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
        .iter()
        .any(|name| stem.eq_ignore_ascii_case(name))
    {
        return true;
    }
    let (Some(port), Some(number)) = (stem.get(..3), stem.get(3..)) else {
        return false;
    };
    let mut digit = number.chars();
    (port.eq_ignore_ascii_case("COM") || port.eq_ignore_ascii_case("LPT"))
        && matches!(
            (digit.next(), digit.next()),
            (Some('0'..='9' | '¹' | '²' | '³'), None)
        )
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
        // `//server/share/x`, `//?/C:/x`, `//./COM1`, `//?/UNC/s/x`: with
        // `/` read as `\`, a UNC share, a verbatim or a device path on
        // Windows, which `Path::join` puts in place of the base. POSIX
        // leaves a leading `//` implementation-defined (Cygwin reads it as
        // UNC too). `///x` goes with them: nothing needs it.
        if path.starts_with("//") {
            return Err(PathFail::Unc);
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
        if let Some(fail) = segs.clone().find_map(windows_form) {
            return Err(fail);
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

    /// A bad character in a base or a glob is named in the error.
    #[test]
    fn base_and_glob_errors_name_the_bad_character() {
        for (what, check) in [
            ("base", check_base as fn(&str) -> Option<String>),
            ("glob", check_glob),
        ] {
            let start = if what == "base" { "/" } else { "" };
            for (bad, words) in [
                ("a\0b", "contains a NUL character"),
                ("a\\b", "contains a backslash"),
                ("a\nb", "contains a control character"),
                ("a\u{85}b", "contains a control character"),
                ("a%2fb", "contains `%`"),
            ] {
                assert_eq!(
                    check(&format!("{start}{bad}")),
                    Some(format!("`{what}` {words}")),
                    "{what} {bad:?}"
                );
            }
        }
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
        assert_eq!(r.check("/home//user/./notes//a.md"), Ok(()));
        assert_eq!(r.check("//home//user/./notes/a.md"), Err(PathFail::Unc));
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

    /// `docs/POLICY.md`: at most 4096 bytes (written out, not the constant).
    #[test]
    fn a_path_of_4096_bytes_is_the_longest() {
        let r = rule(None);
        let longest = format!("a/{}", "b".repeat(4094));
        assert_eq!(longest.len(), 4096);
        assert_eq!(r.check(&longest), Ok(()));
        assert_eq!(r.check(&format!("{longest}c")), Err(PathFail::TooLong));
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

    /// The rule of the report: a Markdown glob under a macOS home.
    fn notes() -> PathRule {
        PathRule::new("/Users/ada/notes", Some("**/*.md"), false)
    }

    /// Every form a Windows router could resolve outside the base (or to
    /// something other than a file under it), with the reason it is refused.
    #[test]
    fn windows_forms_are_refused() {
        use PathFail::{Backslash, Device, Reserved, ShortName, Trailing, Unc};
        let r = notes();
        let dotfiles = PathRule::new("/Users/ada", None, true);
        let root = PathRule::new("/", None, true);
        let cases: &[(&PathRule, &str, PathFail)] = &[
            // The three arguments of the report.
            (&r, "C:/Windows/System32/secret.md", Reserved(':')),
            (&r, "C:secret.md", Reserved(':')),
            (&r, "//Users/ada/notes/x.md", Unc),
            // Drives, absolute and drive-relative, any case.
            (&r, "c:/x.md", Reserved(':')),
            (&r, "C:", Reserved(':')),
            (&root, "c:", Reserved(':')),
            (&r, "d:x.md", Reserved(':')),
            (&r, "sub/C:/x.md", Reserved(':')),
            (&r, "/Users/ada/notes/C:/x.md", Reserved(':')),
            (&root, "/C:/Windows/x.md", Reserved(':')),
            // NTFS alternate data streams.
            (&r, "x.md:stream", Reserved(':')),
            (&r, "x.md::$DATA", Reserved(':')),
            (&r, "x.md:s.md", Reserved(':')),
            // UNC, verbatim and device paths written with `/`.
            (&r, "//server/share/x.md", Unc),
            (&r, "//?/C:/x.md", Unc),
            (&r, "//?/UNC/server/share/x.md", Unc),
            (&r, "//./C:/x.md", Unc),
            (&r, "//./COM1", Unc),
            (&r, "///Users/ada/notes/x.md", Unc),
            (&root, "//server/share", Unc),
            // The same with backslashes, and root-relative `\x`.
            (&r, "\\\\server\\share\\x.md", Backslash),
            (&r, "\\\\?\\C:\\x.md", Backslash),
            (&r, "\\\\.\\COM1", Backslash),
            (&r, "\\??\\C:\\x.md", Backslash),
            (&r, "c:\\x.md", Backslash),
            (&r, "C:\\Windows\\System32\\secret.md", Backslash),
            (&r, "\\x.md", Backslash),
            (&r, "sub\\..\\..\\x.md", Backslash),
            // NT's `\??\` written with `/`, and the other reserved characters.
            (&root, "/??/C:/x.md", Reserved('?')),
            (&root, "/??/UNC/server/share/x.md", Reserved('?')),
            (&r, "a?.md", Reserved('?')),
            (&r, "*.md", Reserved('*')),
            (&r, "a<b.md", Reserved('<')),
            (&r, "a>b.md", Reserved('>')),
            (&r, "a\"b.md", Reserved('"')),
            (&r, "a|b.md", Reserved('|')),
            // Trailing dots and spaces, which Windows strips: `.. ` is `..`.
            (&r, ".. /x.md", Trailing),
            (&r, "... /x.md", Trailing),
            (&r, "..\u{20}/x.md", Trailing),
            (&r, "sub/.. /.. /x.md", Trailing),
            (&r, " ../x.md", Trailing),
            (&r, ".../x.md", Trailing),
            (&r, "sub./x.md", Trailing),
            (&r, "sub /x.md", Trailing),
            (&r, " /x.md", Trailing),
            (&r, "x.md.", Trailing),
            (&r, "x.md ", Trailing),
            (&r, "x.md. . .", Trailing),
            (&dotfiles, ".. /x", Trailing),
            (&dotfiles, "notes/.. /.. /etc/passwd", Trailing),
            (&dotfiles, "... ", Trailing),
            (&dotfiles, ".git.", Trailing),
            // DOS devices, any case, with or without an extension, with
            // spaces before the dot, in any segment.
            (&r, "CON", Device),
            (&r, "con.md", Device),
            (&r, "Con.tar.md", Device),
            (&r, "CON .md", Device),
            (&r, "CON  .md", Device),
            (&r, " CON.md", Device),
            (&r, "CON..md", Device),
            (&r, "PRN.md", Device),
            (&r, "aux.md", Device),
            (&r, "NUL.md", Device),
            (&r, "nul", Device),
            (&r, "NUL/x.md", Device),
            (&r, "sub/nul.md", Device),
            (&r, "/Users/ada/notes/aux/x.md", Device),
            (&r, "COM1.md", Device),
            (&r, "com9.md", Device),
            (&r, "COM0.md", Device),
            (&r, "LPT1.md", Device),
            (&r, "lpt9.md", Device),
            (&r, "LPT0.md", Device),
            (&r, "COM\u{b9}.md", Device),
            (&r, "com\u{b2}.md", Device),
            (&r, "LPT\u{b3}.md", Device),
            (&r, "CONIN$.md", Device),
            (&r, "conout$.md", Device),
            (&dotfiles, "CONIN$", Device),
            // 8.3 short names, which alias other names (`GIT~1` is `.git`).
            (&r, "PROGRA~1/x.md", ShortName),
            (&r, "SECRET~1.MD.md", ShortName),
            (&r, "a~12.md", ShortName),
            (&dotfiles, "GIT~1/config", ShortName),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter(|(rule, arg, want)| rule.check(arg) != Err(*want))
            .map(|(rule, arg, want)| format!("{arg:?}: {:?}, not {want:?}", rule.check(arg)))
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// Ordinary names, including ones close to the refused forms, pass.
    #[test]
    fn common_names_pass() {
        let r = notes();
        for ok in [
            "notes/2024-01-01.md",
            "a b.md",
            "a  b.md",
            " leading space.md",
            "Ünïcödé/日本語.md",
            "メモ：会議.md",
            "Привет/мир.md",
            "résumé (final) [v2] {x} #1 !&'+,;=@$.md",
            "a.b.c.md",
            "x..md",
            "sub/dir/x.md",
            "./x.md",
            "/Users/ada/notes/x.md",
            "/Users/ada/notes//sub/./x.md",
            "x.md/",
            "COM10.md",
            "COM.md",
            "LPT.md",
            "COM\u{2074}.md",
            "console.md",
            "conin.md",
            "null.md",
            "nul-notes.md",
            "aux-notes/x.md",
            "icon.md",
            "com1x.md",
            "~/x.md",
            "notes~.md",
            "~$lock.md",
            "a~b.md",
            "x.md~/y.md",
            "Program Files/x.md",
        ] {
            assert_eq!(r.check(ok), Ok(()), "{ok:?}");
        }
        let dotfiles = PathRule::new("/Users/ada", None, true);
        assert_eq!(dotfiles.check(".git/config"), Ok(()));
        assert_eq!(dotfiles.check("..a/x"), Ok(()));
        // A base that is itself a device name or has a colon is the policy
        // author's choice: only what the argument adds is classified.
        let aux = PathRule::new("/srv/aux", None, false);
        assert_eq!(aux.check("/srv/aux/x.md"), Ok(()));
        assert_eq!(aux.check("x.md"), Ok(()));
        let colon = PathRule::new("/mnt/c:", None, false);
        assert_eq!(colon.check("/mnt/c:/x.md"), Ok(()));
    }

    #[test]
    fn windows_form_reasons() {
        let r = notes();
        for (fail, text) in [
            (
                PathFail::Unc,
                "starts with `//` (a network or device path on Windows)",
            ),
            (
                PathFail::Reserved(':'),
                "contains `:`, which Windows reserves in file names",
            ),
            (
                PathFail::Trailing,
                "has a segment ending in `.` or a space (Windows strips them)",
            ),
            (
                PathFail::Device,
                "names a Windows device (`CON`, `PRN`, `AUX`, `NUL`, `COM1`, `LPT1`...)",
            ),
            (
                PathFail::ShortName,
                "has a segment with `~` and a digit (a Windows short name such as `GIT~1`)",
            ),
        ] {
            assert_eq!(fail.describe(&r), text);
        }
    }

    /// The examples of `docs/POLICY.md` section 9.
    #[test]
    fn section_9_examples() {
        let flat = rule(Some("*.md"));
        for ok in [
            "/home/user/notes/a.md",
            "a.md",
            "./a.md",
            "/home//user/notes/a.md",
            "/home/user/notes/a.md/",
            "a b.md",
            "2024-01-01.md",
            "日本語.md",
        ] {
            assert_eq!(flat.check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "sub/a.md",
            "a.txt",
            "/home/user/notes",
            "/home/user/notes2/a.md",
            "/Home/user/notes/a.md",
            "../notes/a.md",
            "%2e%2e/a.md",
            "a\\b.md",
            ".a.md",
            "//home/user/notes/a.md",
            "C:a.md",
            "a.md:s",
            "CON.md",
            "a.md.",
            "A~1.md",
        ] {
            assert!(flat.check(bad).is_err(), "{bad}");
        }
        let deep = rule(Some("**/*.md"));
        assert_eq!(deep.check("sub/dir/a.md"), Ok(()));
        assert_eq!(deep.check("C:/Windows/a.md"), Err(PathFail::Reserved(':')));
        for device in ["nul", "CON.md", "con.tar.md", "COM1 .md", "LPT\u{b9}.md"] {
            assert_eq!(deep.check(device), Err(PathFail::Device), "{device}");
        }
        for name in ["COM10.md", "console.md", "null.md", "notes~.md", "~$x.md"] {
            assert_eq!(deep.check(name), Ok(()), "{name}");
        }
        assert_eq!(deep.check("~/a.md"), Ok(()));
    }
}
