//! Policy learning: infers a draft allowlist policy from traffic recorded by
//! a gate in learning mode ([`Gate::with_learning`](crate::Gate), debug
//! builds), for `isogate learn`.
//!
//! Each recorded line is one opened message:
//! `{"kind","name","window","origin","args","body_len","allowed"}`. The
//! inference is pure (no I/O) and deterministic: the same records give the
//! same policy, byte for byte.
//!
//! What it infers, per command or event name and per window:
//!
//! - exact names (never wildcards), the windows and the origins seen;
//! - for each argument (and, recursively, each field of objects and each
//!   element of arrays): its type; small string value sets as `enum` (at most
//!   [`Options::max_enum_values`] values, each seen at least
//!   [`Options::min_enum_repeats`] times); absolute paths as a `path`
//!   constraint under their common base directory (with a `**/*.ext` glob
//!   when they share one extension); integer and number bounds; the longest
//!   string; the largest array; `required` = the arguments present in every
//!   call;
//! - a `comment` on every rule saying what it was inferred from.
//!
//! Windows whose messages infer the same constraint and come from the same
//! origins share one rule. The result is a draft that allows what was seen
//! and little more: review it before use.

use crate::frame::is_serialized_origin;
use crate::message::{valid_name, MessageKind};
use crate::policy::{type_of, windows_form, Policy, Request};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Longest rule id the policy language accepts.
const MAX_ID_LEN: usize = 128;
/// Longest path the policy language accepts.
const MAX_PATH_LEN: usize = 4096;

/// One line of a learning-mode recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `invoke` or `emit`.
    pub kind: MessageKind,
    /// Command or event name.
    pub name: String,
    /// Sender window label.
    pub window: String,
    /// Sender origin.
    pub origin: String,
    /// Command arguments (an object) or event payload.
    pub args: Value,
    /// Length of the binary body, in bytes.
    pub body_len: u64,
    /// Whether the policy in force when recording allowed the message.
    pub allowed: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecord {
    kind: String,
    name: String,
    window: String,
    origin: String,
    args: Value,
    body_len: u64,
    allowed: bool,
}

/// A line of a recording that is not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RecordError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Parses a recording: one JSON record per line; blank lines are skipped.
pub fn parse_records(text: &str) -> Result<Vec<Record>, RecordError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let error = |message: String| RecordError {
            line: i + 1,
            message,
        };
        let raw: RawRecord = serde_json::from_str(line).map_err(|e| error(e.to_string()))?;
        let kind = match raw.kind.as_str() {
            "invoke" => MessageKind::Invoke,
            "emit" => MessageKind::Emit,
            other => {
                return Err(error(format!(
                    "unknown kind `{other}`, expected `invoke` or `emit`"
                )))
            }
        };
        if !valid_name(&raw.name) {
            return Err(error(format!("invalid name `{}`", raw.name)));
        }
        if kind == MessageKind::Invoke && !raw.args.is_object() {
            return Err(error("the `args` of an `invoke` must be an object".into()));
        }
        out.push(Record {
            kind,
            name: raw.name,
            window: raw.window,
            origin: raw.origin,
            args: raw.args,
            body_len: raw.body_len,
            allowed: raw.allowed,
        });
    }
    Ok(out)
}

/// Records an existing policy already decides, set aside before learning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    /// Records no rule of the policy allows or denies: what to learn from.
    pub uncovered: Vec<Record>,
    /// How many records the policy already allows.
    pub allowed: usize,
    /// Records a deny rule denies, counted by rule id: learning an allow
    /// rule for them would be pointless (deny wins in its scope).
    pub denied_by_rule: BTreeMap<String, usize>,
}

/// Splits `records` by what `policy` decides for them now.
pub fn split_by_policy(records: Vec<Record>, policy: &Policy) -> Split {
    let mut split = Split::default();
    for record in records {
        let decision = policy.decide(&Request {
            window: &record.window,
            origin: &record.origin,
            kind: record.kind,
            name: &record.name,
            args: &record.args,
        });
        match (decision.allowed, decision.rule) {
            (true, _) => split.allowed += 1,
            (false, Some(rule)) => *split.denied_by_rule.entry(rule).or_default() += 1,
            (false, None) => split.uncovered.push(record),
        }
    }
    split
}

/// Tuning of the inference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Largest set of distinct strings turned into an `enum` (default 8).
    pub max_enum_values: usize,
    /// How often each value of an `enum` must have been seen (default 2).
    pub min_enum_repeats: usize,
    /// Rule ids not to use (those of the policy files the result will be
    /// composed with).
    pub reserved_ids: BTreeSet<String>,
    /// Where the records came from, for the file's `comment`.
    pub source: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_enum_values: 8,
            min_enum_repeats: 2,
            reserved_ids: BTreeSet::new(),
            source: None,
        }
    }
}

/// A constraint in the policy language, as written in a file (fields in the
/// order a person reads them).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
struct Constraint {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    ty: Option<&'static str>,
    #[serde(rename = "enum", skip_serializing_if = "Option::is_none")]
    one_of: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_length: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_items: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    items: Option<Box<Constraint>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<BTreeMap<String, Constraint>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    required: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    glob: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_hidden: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

impl Constraint {
    fn of_type(ty: &'static str) -> Self {
        Constraint {
            ty: Some(ty),
            ..Constraint::default()
        }
    }
}

/// One inferred rule.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnedRule {
    /// Rule id (unique, valid, not reserved).
    pub id: String,
    /// Command or event.
    pub kind: MessageKind,
    /// The exact name.
    pub name: String,
    /// Window labels, sorted.
    pub windows: Vec<String>,
    /// Origins, sorted.
    pub origins: Vec<String>,
    /// What the rule was inferred from, in words.
    pub comment: String,
    constraint: Option<Constraint>,
}

/// The inferred policy, with notes for the person reviewing it.
#[derive(Debug, Clone, PartialEq)]
pub struct Learned {
    /// The rules, sorted by kind, name and window.
    pub rules: Vec<LearnedRule>,
    /// Things the reviewer should know: records skipped, constraints that
    /// had to be wide.
    pub notes: Vec<String>,
    comment: String,
}

#[derive(Serialize)]
struct RuleOut<'a> {
    id: &'a str,
    effect: &'static str,
    comment: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    commands: Option<[&'a str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<[&'a str; 1]>,
    windows: &'a [String],
    origins: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<&'a Constraint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a Constraint>,
}

#[derive(Serialize)]
struct FileOut<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: u32,
    comment: &'a str,
    rules: Vec<RuleOut<'a>>,
}

impl Learned {
    /// The policy file, pretty-printed, ending with a newline.
    pub fn to_policy_json(&self) -> String {
        let rules = self
            .rules
            .iter()
            .map(|r| {
                let (commands, events, args, payload) = match r.kind {
                    MessageKind::Invoke => {
                        (Some([r.name.as_str()]), None, r.constraint.as_ref(), None)
                    }
                    // Learning records hold frontend messages only.
                    MessageKind::Emit | MessageKind::Deliver => {
                        (None, Some([r.name.as_str()]), None, r.constraint.as_ref())
                    }
                };
                RuleOut {
                    id: &r.id,
                    effect: "allow",
                    comment: &r.comment,
                    commands,
                    events,
                    windows: &r.windows,
                    origins: &r.origins,
                    args,
                    payload,
                }
            })
            .collect();
        let file = FileOut {
            schema: "./schema.json",
            version: 1,
            comment: &self.comment,
            rules,
        };
        let mut text =
            collapse_scalar_arrays(&serde_json::to_string_pretty(&file).unwrap_or_default());
        text.push('\n');
        text
    }
}

/// Puts arrays of scalars (`["main"]`, `enum` lists) on one line in
/// pretty-printed JSON.
fn collapse_scalar_arrays(pretty: &str) -> String {
    let mut out = String::with_capacity(pretty.len());
    let mut rest = pretty;
    while let Some(open) = rest.find(['[', '"']) {
        let (before, from) = rest.split_at(open);
        out.push_str(before);
        if from.starts_with('"') {
            let end = string_end(from);
            out.push_str(from.get(..end).unwrap_or(from));
            rest = from.get(end..).unwrap_or("");
            continue;
        }
        // `from` starts with `[`: find its `]`, giving up at a nested one.
        let mut i = 1;
        let mut close = None;
        while let Some(c) = from.get(i..).and_then(|t| t.chars().next()) {
            match c {
                '"' => i += from.get(i..).map_or(1, string_end),
                '[' | '{' => break,
                ']' => {
                    close = Some(i);
                    break;
                }
                _ => i += c.len_utf8(),
            }
        }
        match close.and_then(|c| from.get(1..c).map(|inner| (c, inner))) {
            Some((c, inner)) => {
                let items: Vec<&str> = inner
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                out.push('[');
                out.push_str(&items.join(" "));
                out.push(']');
                rest = from.get(c + 1..).unwrap_or("");
            }
            None => {
                out.push('[');
                rest = from.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

/// The length of the JSON string literal at the start of `s` (quotes
/// included), read by the crate's JSON reader; all of `s` if it is not one
/// (serde_json wrote it, so it is).
fn string_end(s: &str) -> usize {
    let mut p = crate::message::Parser::new(s, 0, 0);
    match p.string() {
        Ok(_) => p.offset(),
        Err(_) => s.len(),
    }
}

/// A window label a policy can name exactly (`*` would be a glob).
fn representable_window(label: &str) -> bool {
    crate::names::is_window_label(label)
}

/// Windows of one name that share a constraint and origins: the
/// constraint, the origins, the windows, their records.
type Merged<'r> = (
    Option<Constraint>,
    BTreeSet<&'r str>,
    Vec<&'r str>,
    Vec<&'r Record>,
);

/// Infers a policy from `records`.
pub fn infer(records: &[Record], options: &Options) -> Learned {
    let mut notes = Vec::new();
    // (kind, name) -> window -> records
    let mut groups: BTreeMap<(&'static str, &str), BTreeMap<&str, Vec<&Record>>> = BTreeMap::new();
    let mut skipped_windows = BTreeSet::new();
    let mut skipped_origins = BTreeSet::new();
    for r in records {
        if !representable_window(&r.window) {
            skipped_windows.insert(r.window.as_str());
            continue;
        }
        // A serialized origin (which the policy reads; not, say,
        // `http://127.1` or a port `080`), so the draft loads.
        if !is_serialized_origin(&r.origin) {
            skipped_origins.insert(r.origin.as_str());
            continue;
        }
        groups
            .entry((r.kind.as_str(), r.name.as_str()))
            .or_default()
            .entry(r.window.as_str())
            .or_default()
            .push(r);
    }
    for w in skipped_windows {
        notes.push(format!(
            "skipped messages from window `{w}`: a policy cannot name that label exactly"
        ));
    }
    for o in skipped_origins {
        notes.push(format!(
            "skipped messages from origin `{o}`: not a serialized origin"
        ));
    }

    let mut rules = Vec::new();
    let mut ids: BTreeSet<String> = options.reserved_ids.clone();
    for ((_, name), windows) in &groups {
        // Infer per window, then merge windows with the same constraint and
        // origins into one rule.
        let mut merged: Vec<Merged<'_>> = Vec::new();
        for (window, recs) in windows {
            let (constraint, wide) = infer_args(recs, options);
            for path in wide {
                notes.push(format!(
                    "`{name}` from window `{window}`: {path} took values of several types, so it accepts any value; narrow it by hand"
                ));
            }
            let origins: BTreeSet<&str> = recs.iter().map(|r| r.origin.as_str()).collect();
            match merged
                .iter_mut()
                .find(|m| m.0 == constraint && m.1 == origins)
            {
                Some(m) => {
                    m.2.push(window);
                    m.3.extend(recs.iter().copied());
                }
                None => merged.push((constraint, origins, vec![window], recs.clone())),
            }
        }
        let several = merged.len() > 1;
        for (constraint, origins, windows, recs) in merged {
            let Some(first) = recs.first() else { continue };
            let kind = first.kind;
            let base = match kind {
                MessageKind::Invoke => sanitize_id(name),
                MessageKind::Emit | MessageKind::Deliver => sanitize_id(&format!("event.{name}")),
            };
            let wanted = match (several, windows.first()) {
                (true, Some(w)) => sanitize_id(&format!("{base}.{w}")),
                _ => base,
            };
            let id = unique_id(&wanted, &ids);
            ids.insert(id.clone());
            rules.push(LearnedRule {
                comment: describe_rule(kind, &recs, &windows, constraint.as_ref()),
                id,
                kind,
                name: (*name).to_owned(),
                windows: windows.iter().map(|w| (*w).to_owned()).collect(),
                origins: origins.iter().map(|o| (*o).to_owned()).collect(),
                constraint,
            });
        }
    }
    let denied = records.iter().filter(|r| !r.allowed).count();
    let mut comment = format!(
        "Learned by `isogate learn` from {} recorded message{}",
        records.len(),
        if records.len() == 1 { "" } else { "s" }
    );
    if let Some(source) = &options.source {
        comment.push_str(&format!(" in `{source}`"));
    }
    if denied > 0 {
        comment.push_str(&format!(
            " ({denied} of them denied by the policy in force when recorded)"
        ));
    }
    comment.push_str(". A draft: it allows what was seen and little more; review every rule.");
    Learned {
        rules,
        notes,
        comment,
    }
}

/// An id in the policy language's alphabet for `wanted`.
fn sanitize_id(wanted: &str) -> String {
    let mut id: String = wanted
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !id
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        id.insert(0, 'r');
    }
    id.truncate(MAX_ID_LEN - 8);
    id
}

fn unique_id(wanted: &str, taken: &BTreeSet<String>) -> String {
    if !taken.contains(wanted) {
        return wanted.to_owned();
    }
    (2u32..)
        .map(|n| format!("{wanted}-{n}"))
        .find(|id| !taken.contains(id))
        .unwrap_or_default()
}

/// The `args` (commands) or `payload` (events) constraint for one window's
/// records, and the places that had to accept any value. `None` for a
/// command that never had arguments (a rule without `args` allows `{}`).
fn infer_args(records: &[&Record], options: &Options) -> (Option<Constraint>, Vec<String>) {
    let values: Vec<&Value> = records.iter().map(|r| &r.args).collect();
    let mut wide = Vec::new();
    let subject = match records.first().map(|r| r.kind) {
        Some(MessageKind::Emit) => "the payload",
        _ => "arguments",
    };
    let c = infer_value(&values, options, subject, &mut wide);
    let is_command = records
        .first()
        .is_some_and(|r| r.kind == MessageKind::Invoke);
    if is_command && c.properties.as_ref().map_or(true, BTreeMap::is_empty) {
        return (None, wide);
    }
    (Some(c), wide)
}

/// Infers the tightest constraint of the language that accepts every value.
fn infer_value(
    values: &[&Value],
    options: &Options,
    subject: &str,
    wide: &mut Vec<String>,
) -> Constraint {
    let mut types: BTreeSet<&'static str> = values.iter().map(|v| type_of(v)).collect();
    if types.len() == 2 && types.contains("integer") && types.contains("number") {
        types.remove("integer");
    }
    let mut ty = types.iter().copied();
    let (Some(ty), None) = (ty.next(), ty.next()) else {
        if let Some(one_of) = small_set(values, options) {
            return Constraint {
                one_of: Some(one_of),
                ..Constraint::default()
            };
        }
        wide.push(subject.to_owned());
        let seen: Vec<&str> = types.into_iter().collect();
        return Constraint {
            comment: Some(format!(
                "seen as {}; `any` is wider than that",
                seen.join(" and ")
            )),
            ..Constraint::of_type("any")
        };
    };
    match ty {
        "string" => {
            let strings: Vec<&str> = values.iter().filter_map(|v| v.as_str()).collect();
            infer_string(&strings, values, options)
        }
        "integer" | "number" => {
            let numbers: Vec<&Number> = values.iter().filter_map(|v| v.as_number()).collect();
            let by = |a: &&Number, b: &&Number| compare(a, b).unwrap_or(std::cmp::Ordering::Equal);
            Constraint {
                minimum: numbers.iter().copied().min_by(by).cloned(),
                maximum: numbers.iter().copied().max_by(by).cloned(),
                ..Constraint::of_type(if ty == "integer" { "integer" } else { "number" })
            }
        }
        "array" => {
            let arrays: Vec<&Vec<Value>> = values.iter().filter_map(|v| v.as_array()).collect();
            let items: Vec<&Value> = arrays.iter().flat_map(|a| a.iter()).collect();
            let item = if items.is_empty() {
                Constraint::of_type("any")
            } else {
                infer_value(&items, options, &format!("the items of {subject}"), wide)
            };
            Constraint {
                max_items: arrays.iter().map(|a| a.len()).max(),
                items: Some(Box::new(item)),
                ..Constraint::of_type("array")
            }
        }
        "object" => {
            let objects: Vec<&Map<String, Value>> =
                values.iter().filter_map(|v| v.as_object()).collect();
            infer_object(&objects, options, subject, wide)
        }
        "boolean" => Constraint::of_type("boolean"),
        _ => Constraint::of_type("null"),
    }
}

fn infer_object(
    objects: &[&Map<String, Value>],
    options: &Options,
    subject: &str,
    wide: &mut Vec<String>,
) -> Constraint {
    let keys: BTreeSet<&String> = objects.iter().flat_map(|o| o.keys()).collect();
    let mut properties = BTreeMap::new();
    for key in &keys {
        let values: Vec<&Value> = objects.iter().filter_map(|o| o.get(*key)).collect();
        let sub = if subject == "arguments" {
            format!("argument `{key}`")
        } else {
            format!("`{key}` in {subject}")
        };
        properties.insert((*key).clone(), infer_value(&values, options, &sub, wide));
    }
    let required: Vec<String> = keys
        .iter()
        .filter(|k| objects.iter().all(|o| o.contains_key(**k)))
        .map(|k| (*k).clone())
        .collect();
    Constraint {
        properties: Some(properties),
        required: (!required.is_empty()).then_some(required),
        ..Constraint::of_type("object")
    }
}

/// The policy's comparison (exact, `docs/POLICY.md` section 8), so the
/// learned bounds hold every value seen.
fn compare(a: &Number, b: &Number) -> Option<std::cmp::Ordering> {
    crate::number::cmp(a, b)
}

/// The distinct values, sorted, when there are few enough and each was
/// seen often enough for an `enum`; strings only.
fn small_set(values: &[&Value], options: &Options) -> Option<Vec<Value>> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v.as_str()?).or_default() += 1;
    }
    let fits = counts.len() <= options.max_enum_values
        && counts.values().all(|&n| n >= options.min_enum_repeats);
    fits.then(|| {
        counts
            .keys()
            .map(|s| Value::String((*s).to_owned()))
            .collect()
    })
}

fn infer_string(strings: &[&str], values: &[&Value], options: &Options) -> Constraint {
    if let Some(c) = infer_path(strings) {
        return c;
    }
    if let Some(one_of) = small_set(values, options) {
        return Constraint {
            one_of: Some(one_of),
            ..Constraint::of_type("string")
        };
    }
    Constraint {
        max_length: strings.iter().map(|s| s.chars().count()).max(),
        ..Constraint::of_type("string")
    }
}

/// The segments of an absolute path the policy's path check would accept
/// (`docs/POLICY.md` section 9), without `.` and empty ones; `None` when it
/// is not such a path or names the root.
fn path_segments(s: &str) -> Option<Vec<&str>> {
    if !s.starts_with('/') || s.starts_with("//") || s.len() > MAX_PATH_LEN {
        return None;
    }
    if s.chars()
        .any(|c| c == '%' || c == '\\' || c == '\0' || c.is_control())
    {
        return None;
    }
    let segs: Vec<&str> = s
        .split('/')
        .filter(|seg| !seg.is_empty() && *seg != ".")
        .collect();
    if segs.is_empty() || segs.contains(&"..") {
        return None;
    }
    // Only the segments under the inferred base are checked by the policy,
    // but the base is not known yet: a path with a Windows form anywhere
    // stays a string.
    if segs.iter().any(|seg| windows_form(seg).is_some()) {
        return None;
    }
    Some(segs)
}

/// A `path` constraint when every value is an absolute path: the base is
/// the deepest directory that holds all of them.
fn infer_path(strings: &[&str]) -> Option<Constraint> {
    let paths: Vec<Vec<&str>> = strings
        .iter()
        .map(|s| path_segments(s))
        .collect::<Option<_>>()?;
    let first = paths.first()?;
    // Common prefix of the parent directories.
    let mut base_len = first.len().saturating_sub(1);
    for p in &paths {
        let parent = p.len().saturating_sub(1);
        base_len = base_len.min(parent);
        base_len = first
            .iter()
            .zip(p.iter())
            .take(base_len)
            .take_while(|(a, b)| a == b)
            .count();
    }
    let base_segs = first.get(..base_len)?;
    let base = format!("/{}", base_segs.join("/"));
    let rests: Vec<&[&str]> = paths.iter().filter_map(|p| p.get(base_len..)).collect();
    let hidden = rests.iter().any(|r| r.iter().any(|s| s.starts_with('.')));
    let extension = |p: &&[&str]| -> Option<String> {
        let last = p.last()?;
        let (stem, ext) = last.rsplit_once('.')?;
        let plain = !stem.is_empty()
            && !ext.is_empty()
            && ext
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        plain.then(|| ext.to_owned())
    };
    let extensions: Option<BTreeSet<String>> = rests.iter().map(extension).collect();
    let glob = extensions
        .filter(|e| e.len() == 1)
        .and_then(|e| e.into_iter().next())
        .map(|ext| format!("**/*.{ext}"));
    let mut comment = None;
    if base == "/" {
        comment = Some("the paths seen share no directory but `/`: narrow `base`".to_owned());
    }
    Some(Constraint {
        base: Some(base),
        glob,
        allow_hidden: hidden.then_some(true),
        comment,
        ..Constraint::of_type("path")
    })
}

/// "seen 12 times from window `main` at origin `x`; `mode` took 2 values..."
fn describe_rule(
    kind: MessageKind,
    records: &[&Record],
    windows: &[&str],
    constraint: Option<&Constraint>,
) -> String {
    let quoted = |items: &mut dyn Iterator<Item = &str>| {
        items
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let origins: BTreeSet<&str> = records.iter().map(|r| r.origin.as_str()).collect();
    let n = records.len();
    let mut text = format!(
        "seen {n} time{} from window{} {} at origin{} {}",
        if n == 1 { "" } else { "s" },
        if windows.len() == 1 { "" } else { "s" },
        quoted(&mut windows.iter().copied()),
        if origins.len() == 1 { "" } else { "s" },
        quoted(&mut origins.iter().copied()),
    );
    let denied = records.iter().filter(|r| !r.allowed).count();
    if denied > 0 {
        text.push_str(&format!("; {denied} denied when recorded"));
    }
    let mut parts = Vec::new();
    match (kind, constraint) {
        (MessageKind::Invoke, None) => parts.push("never had arguments".to_owned()),
        (MessageKind::Invoke, Some(c)) => {
            for (key, p) in c.properties.iter().flatten() {
                let present = records.iter().filter(|r| r.args.get(key).is_some()).count();
                let mut part = format!("`{key}` {}", summarize(p));
                if present < n {
                    part.push_str(&format!(" (in {present} of {n} calls)"));
                }
                parts.push(part);
            }
        }
        (MessageKind::Emit | MessageKind::Deliver, Some(c)) => {
            parts.push(format!("payload {}", summarize(c)));
        }
        (MessageKind::Emit | MessageKind::Deliver, None) => {}
    }
    let body = records.iter().map(|r| r.body_len).max().unwrap_or(0);
    if body > 0 {
        parts.push(format!("binary body up to {body} bytes"));
    }
    if !parts.is_empty() {
        text.push_str("; ");
        text.push_str(&parts.join("; "));
    }
    text
}

fn summarize(c: &Constraint) -> String {
    if let Some(values) = &c.one_of {
        return format!(
            "took {} value{}",
            values.len(),
            if values.len() == 1 { "" } else { "s" }
        );
    }
    match c.ty {
        Some("string") => match c.max_length {
            Some(n) => format!("was a string of up to {n} characters"),
            None => "was a string".to_owned(),
        },
        Some(t @ ("integer" | "number")) => {
            let article = if t == "integer" { "an" } else { "a" };
            match (&c.minimum, &c.maximum) {
                (Some(a), Some(b)) if a == b => format!("was always the {t} {a}"),
                (Some(a), Some(b)) => format!("was {article} {t} from {a} to {b}"),
                _ => format!("was {article} {t}"),
            }
        }
        Some("path") => {
            let mut s = format!("was a path under `{}`", c.base.as_deref().unwrap_or("/"));
            if let Some(g) = &c.glob {
                s.push_str(&format!(" matching `{g}`"));
            }
            s
        }
        Some("array") => format!("was an array of up to {} items", c.max_items.unwrap_or(0)),
        Some("object") => format!(
            "was an object with {} field{}",
            c.properties.as_ref().map_or(0, BTreeMap::len),
            if c.properties.as_ref().map_or(0, BTreeMap::len) == 1 {
                ""
            } else {
                "s"
            }
        ),
        Some("any") => "took values of several types".to_owned(),
        Some(t) => format!("was {t}"),
        None => "took several values".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(kind: MessageKind, name: &str, window: &str, args: Value) -> Record {
        Record {
            kind,
            name: name.into(),
            window: window.into(),
            origin: "app://localhost".into(),
            args,
            body_len: 0,
            allowed: true,
        }
    }

    fn constraint_of(values: &[Value]) -> Value {
        let refs: Vec<&Value> = values.iter().collect();
        let mut wide = Vec::new();
        serde_json::to_value(infer_value(&refs, &Options::default(), "x", &mut wide)).unwrap()
    }

    #[test]
    fn strings_become_enums_paths_or_bounded() {
        let v = |s: &[&str]| s.iter().map(|s| json!(s)).collect::<Vec<_>>();
        assert_eq!(
            constraint_of(&v(&["dark", "light", "dark", "light"])),
            json!({"type": "string", "enum": ["dark", "light"]})
        );
        assert_eq!(
            constraint_of(&v(&["dark", "light", "dark"])),
            json!({"type": "string", "max_length": 5}),
            "each enum value must be seen twice"
        );
        assert_eq!(
            constraint_of(&v(&["/home/u/notes/a.md", "/home/u/notes/sub/b.md"])),
            json!({"type": "path", "base": "/home/u/notes", "glob": "**/*.md"})
        );
        assert_eq!(
            constraint_of(&v(&["/srv/a/x.txt", "/srv/b/.y"])),
            json!({"type": "path", "base": "/srv", "allow_hidden": true})
        );
        let root = constraint_of(&v(&["/a/x", "/b/y"]));
        assert_eq!(root["base"], json!("/"));
        assert!(root["comment"].as_str().unwrap().contains("narrow"));
        // Not paths: relative, `..`, percent, the root itself, and forms a
        // Windows router reads otherwise (section 9).
        for s in [
            "a/b",
            "/a/../b",
            "/a%2e",
            "/",
            "//a/b",
            "/a/b:c",
            "/a/CON.md",
            "/a/x.",
            "/GIT~1/x",
        ] {
            assert_eq!(constraint_of(&v(&[s]))["type"], json!("string"), "{s}");
        }
    }

    #[test]
    fn numbers_arrays_objects_and_mixed_types() {
        assert_eq!(
            constraint_of(&[json!(3), json!(-2), json!(40)]),
            json!({"type": "integer", "minimum": -2, "maximum": 40})
        );
        assert_eq!(
            constraint_of(&[json!(3), json!(0.5)]),
            json!({"type": "number", "minimum": 0.5, "maximum": 3})
        );
        assert_eq!(
            constraint_of(&[json!([1, 2]), json!([])]),
            json!({"type": "array", "max_items": 2, "items": {"type": "integer", "minimum": 1, "maximum": 2}})
        );
        assert_eq!(
            constraint_of(&[json!({"a": true, "b": null}), json!({"a": false})]),
            json!({"type": "object", "properties": {"a": {"type": "boolean"}, "b": {"type": "null"}}, "required": ["a"]})
        );
        assert_eq!(
            constraint_of(&[json!("x"), json!(null), json!("x"), json!(null)])["type"],
            json!("any")
        );
        assert_eq!(
            constraint_of(&[json!("a"), json!(1)])["comment"],
            json!("seen as integer and string; `any` is wider than that")
        );
    }

    #[test]
    fn learned_bounds_hold_every_value_seen() {
        // 2^53 + 1 and the double 2^53: through `f64` they tie, and the
        // integer could become the minimum the double is below.
        let c = constraint_of(&[json!(9007199254740993u64), json!(9007199254740992.0)]);
        assert_eq!(c["minimum"], json!(9007199254740992.0));
        assert_eq!(c["maximum"], json!(9007199254740993u64));
    }

    #[test]
    fn origins_the_policy_cannot_name_are_skipped() {
        let mut odd = rec(MessageKind::Invoke, "ping", "main", json!({}));
        odd.origin = "http://127.1".into();
        let mut zero_port = odd.clone();
        zero_port.origin = "http://localhost:080".into();
        let mut fine = odd.clone();
        fine.origin = "http://127.0.0.1".into();
        let learned = infer(&[odd, zero_port, fine], &Options::default());
        let notes = learned.notes.join("\n");
        assert!(
            notes.contains("skipped messages from origin `http://127.1`"),
            "{notes}"
        );
        assert!(
            notes.contains("skipped messages from origin `http://localhost:080`"),
            "{notes}"
        );
        assert!(!notes.contains("`http://127.0.0.1`"), "{notes}");
    }

    #[test]
    fn rules_per_name_and_window_merge_when_equal() {
        let inv = MessageKind::Invoke;
        let records = vec![
            rec(inv, "set_theme", "main", json!({"theme": "dark"})),
            rec(inv, "set_theme", "main", json!({"theme": "dark"})),
            rec(inv, "set_theme", "prefs", json!({"theme": "dark"})),
            rec(inv, "set_theme", "prefs", json!({"theme": "dark"})),
            rec(inv, "read", "main", json!({"n": 1})),
            rec(inv, "read", "other", json!({"n": 9})),
            rec(inv, "Ping:x|y", "main", json!({})),
            rec(MessageKind::Emit, "read", "main", json!(null)),
        ];
        let mut options = Options::default();
        options.reserved_ids.insert("set_theme".into());
        let learned = infer(&records, &options);
        let ids: Vec<(&str, &[String])> = learned
            .rules
            .iter()
            .map(|r| (r.id.as_str(), r.windows.as_slice()))
            .collect();
        assert_eq!(
            ids,
            [
                ("event.read", &["main".to_owned()][..]),
                ("ping-x-y", &["main".to_owned()][..]),
                ("read.main", &["main".to_owned()][..]),
                ("read.other", &["other".to_owned()][..]),
                ("set_theme-2", &["main".to_owned(), "prefs".to_owned()][..]),
            ]
        );
        let theme = learned.rules.last().unwrap();
        assert_eq!(
            theme.comment,
            "seen 4 times from windows `main`, `prefs` at origin `app://localhost`; `theme` took 1 value"
        );
        let text = learned.to_policy_json();
        assert!(text.contains(r#""commands": ["set_theme"],"#), "{text}");
        assert!(text.contains(r#""windows": ["main", "prefs"],"#), "{text}");
        assert!(!text.contains(r#""args": {}"#));
    }

    #[test]
    fn scalar_arrays_go_on_one_line() {
        let v = json!({"a": ["x]", "y\\\"[", 1, null], "b": [{"c": [1, 2]}], "d": [], "e": "[\n"});
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        let compact = collapse_scalar_arrays(&pretty);
        assert!(
            compact.contains(r#""a": ["x]", "y\\\"[", 1, null],"#),
            "{compact}"
        );
        assert!(compact.contains(r#""c": [1, 2]"#), "{compact}");
        let back: Value = serde_json::from_str(&compact).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn parse_records_is_strict() {
        let good = r#"{"kind":"invoke","name":"greet","window":"main","origin":"app://localhost","args":{},"body_len":0,"allowed":true}"#;
        assert_eq!(
            parse_records(&format!("{good}\n\n{good}\n")).unwrap().len(),
            2
        );
        let err = parse_records(&format!("{good}\n{{\"kind\":\"x\"}}")).unwrap_err();
        assert_eq!(err.line, 2);
        let bad_kind = good.replace("invoke", "call");
        assert_eq!(
            parse_records(&bad_kind).unwrap_err().message,
            "unknown kind `call`, expected `invoke` or `emit`"
        );
        assert!(parse_records(&good.replace("\"args\":{}", "\"args\":[]")).is_err());
    }
}
