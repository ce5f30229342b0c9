//! The policy file model: walks the spanned JSON tree of one file into rules
//! and limits, validating as it goes and collecting every error it finds
//! (never stopping at the first).

use super::constraint::{describe, Constraint, Kind, Pattern};
use super::errors::{cut, did_you_mean, one_of, quote, Sink};
use super::glob::Star;
use super::json::{escape_pointer, Document, Json, Member, Node, Pos};
use super::origin::OriginPattern;
use super::path::{check_base, check_glob, PathRule};
use super::Rate;
use crate::message::{valid_name, MessageKind, MAX_DEPTH_CAP, MAX_NAME_LEN};
use regex::RegexBuilder;
use serde_json::Number;
use std::cmp::Ordering;

/// The hint for a bound of type `integer` that is not an integer.
const INTEGER_HINT: &str = "an integer is written without fraction or exponent, from -9223372036854775808 to 18446744073709551615";

/// Compiled size bound of one `pattern` regex, in bytes.
pub(crate) const MAX_REGEX_SIZE: usize = 1 << 20;
/// Longest rule id.
pub(crate) const MAX_ID_LEN: usize = 128;
/// Longest window label or window glob.
pub(crate) use crate::names::MAX_WINDOW_LEN;

const FILE_KEYS: &[&str] = &["$schema", "version", "limits", "rules", "comment"];
const LIMIT_KEYS: &[&str] = &[
    "max_message_bytes",
    "max_depth",
    "max_items",
    "max_args",
    "rate",
];
const RATE_KEYS: &[&str] = &["per_second", "burst"];
const RULE_KEYS: &[&str] = &[
    "id", "effect", "commands", "events", "deliver", "windows", "origins", "args", "payload",
    "comment",
];
const CONSTRAINT_KEYS: &[&str] = &[
    "type",
    "enum",
    "pattern",
    "min_length",
    "max_length",
    "minimum",
    "maximum",
    "items",
    "min_items",
    "max_items",
    "properties",
    "required",
    "additional",
    "base",
    "glob",
    "allow_hidden",
    "comment",
];
const TYPES: &[&str] = &[
    "string", "integer", "number", "boolean", "null", "array", "object", "path", "any", "grant",
];

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// One entry of `commands` or `events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Name {
    /// Matches this exact name.
    Exact(String),
    /// `plugin:NAME|*`, stored as its prefix `plugin:NAME|`.
    Plugin(String),
}

impl Name {
    /// Whether this entry matches a name.
    pub(crate) fn matches(&self, name: &str) -> bool {
        match self {
            Name::Exact(n) => n == name,
            Name::Plugin(prefix) => name.len() > prefix.len() && name.starts_with(prefix.as_str()),
        }
    }
}

/// The `plugin:NAME|` prefix of a name that has one.
pub(crate) fn plugin_prefix(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("plugin:")?;
    let bar = rest.find('|')?;
    let plugin = rest.get(..bar)?;
    if plugin.is_empty() || !plugin.bytes().all(plugin_byte) {
        return None;
    }
    name.get(..("plugin:".len() + bar + 1))
}

fn plugin_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Where a rule was written.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub file: usize,
    pub pos: Pos,
    pub id_pos: Pos,
    pub pointer: String,
}

/// A validated rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub id: String,
    pub effect: Effect,
    pub kind: MessageKind,
    pub names: Vec<Name>,
    pub windows: Vec<Star>,
    /// `None`: any origin.
    pub origins: Option<Vec<OriginPattern>>,
    /// What the args (or payload) must satisfy; unused for deny rules.
    pub constraint: Constraint,
    /// Top-level arguments typed `grant`: the host's grants decide them.
    pub grant_args: Vec<String>,
    pub at: Origin,
}

impl Rule {
    /// Whether the rule's windows and origins cover a sender.
    pub(crate) fn window_matches(&self, window: &str) -> bool {
        self.windows.iter().any(|w| w.matches(window))
    }
}

/// Limits one file sets (unset fields are `None`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FileLimits {
    pub max_message_bytes: Option<usize>,
    pub max_depth: Option<usize>,
    pub max_items: Option<usize>,
    pub max_args: Option<usize>,
    pub rate: Option<Rate>,
}

/// What one file contributes.
#[derive(Debug, Default)]
pub(crate) struct FileModel {
    pub limits: FileLimits,
    pub rules: Vec<Rule>,
}

/// Walks one parsed file; errors go to `sink`.
pub(crate) fn walk(doc: &Document, file: usize, sink: &mut Sink<'_>) -> FileModel {
    for d in &doc.duplicates {
        sink.error(
            d.pos,
            &d.pointer,
            format!(
                "duplicate key {}; the first is at line {}, column {}",
                quote(&d.key),
                d.first.line,
                d.first.column
            ),
        );
    }
    let mut w = Walker { sink, file };
    w.file(&doc.root).unwrap_or_default()
}

struct Walker<'s, 'f> {
    sink: &'s mut Sink<'f>,
    file: usize,
}

/// An object whose keys were checked against the allowed set.
struct Obj<'n> {
    node: &'n Node,
    members: &'n [Member],
    ptr: String,
    allowed: &'static [&'static str],
}

impl<'n> Obj<'n> {
    fn get(&self, key: &str) -> Option<&'n Member> {
        self.members.iter().find(|m| m.key == key)
    }

    fn child(&self, key: &str) -> String {
        child(&self.ptr, key)
    }

    /// Whether an unknown key was already reported as a likely typo of
    /// `key` (then "missing field `key`" would only repeat it).
    fn has_typo_of(&self, key: &str) -> bool {
        self.members.iter().any(|m| {
            !self.allowed.contains(&m.key.as_str())
                && did_you_mean(&m.key, self.allowed) == Some(key)
        })
    }
}

fn child(ptr: &str, key: &str) -> String {
    format!("{ptr}/{}", escape_pointer(key))
}

/// A JSON value from the file for a message (before [`quote`]): numbers as
/// written, anything else as compact JSON.
fn render(n: &Node) -> String {
    match &n.value {
        Json::Number(_, token) => token.clone(),
        _ => n.to_value().to_string(),
    }
}

impl Walker<'_, '_> {
    fn error(&mut self, pos: Pos, ptr: &str, message: impl Into<String>) {
        self.sink.error(pos, ptr, message);
    }

    fn hint(&mut self, pos: Pos, ptr: &str, message: impl Into<String>, hint: impl Into<String>) {
        self.sink.hint(pos, ptr, message, hint);
    }

    fn expected(&mut self, node: &Node, ptr: &str, what: &str) {
        self.error(
            node.pos,
            ptr,
            format!("expected {what}, found {}", node.kind_name()),
        );
    }

    /// Checks that `node` is an object with only `allowed` keys.
    fn object<'n>(
        &mut self,
        node: &'n Node,
        ptr: &str,
        what: &str,
        allowed: &'static [&'static str],
    ) -> Option<Obj<'n>> {
        let Json::Object(members) = &node.value else {
            self.expected(node, ptr, what);
            return None;
        };
        for m in members {
            if allowed.contains(&m.key.as_str()) {
                continue;
            }
            let at = child(ptr, &m.key);
            match did_you_mean(&m.key, allowed) {
                Some(s) => self.error(
                    m.key_pos,
                    &at,
                    format!("unknown field {}, did you mean `{s}`?", quote(&m.key)),
                ),
                None => self.hint(
                    m.key_pos,
                    &at,
                    format!("unknown field {}", quote(&m.key)),
                    format!("expected {}", one_of(allowed)),
                ),
            }
        }
        Some(Obj {
            node,
            members,
            ptr: ptr.to_owned(),
            allowed,
        })
    }

    fn require<'n>(&mut self, obj: &Obj<'n>, key: &str, hint: Option<&str>) -> Option<&'n Member> {
        let m = obj.get(key);
        if m.is_none() && !obj.has_typo_of(key) {
            let message = format!("missing field `{key}`");
            match hint {
                Some(h) => self.hint(obj.node.pos, &obj.ptr, message, h),
                None => self.error(obj.node.pos, &obj.ptr, message),
            }
        }
        m
    }

    fn string<'n>(&mut self, node: &'n Node, ptr: &str) -> Option<&'n str> {
        match &node.value {
            Json::String(s) => Some(s),
            _ => {
                self.expected(node, ptr, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, ptr: &str) -> Option<bool> {
        match &node.value {
            Json::Bool(b) => Some(*b),
            _ => {
                self.expected(node, ptr, "`true` or `false`");
                None
            }
        }
    }

    fn count(&mut self, node: &Node, ptr: &str) -> Option<usize> {
        match &node.value {
            Json::Number(n, token) => match n.as_u64().and_then(|u| usize::try_from(u).ok()) {
                Some(u) => Some(u),
                None => {
                    self.error(
                        node.pos,
                        ptr,
                        format!("expected a non-negative integer, found {}", quote(token)),
                    );
                    None
                }
            },
            _ => {
                self.expected(node, ptr, "a non-negative integer");
                None
            }
        }
    }

    fn bounded(&mut self, m: &Member, ptr: &str, lo: usize, hi: usize) -> Option<usize> {
        let n = self.count(&m.value, ptr)?;
        if n < lo || n > hi {
            // As written (`-0`, not `0`).
            let written = match &m.value.value {
                Json::Number(_, token) => cut(token),
                _ => n.to_string(),
            };
            self.error(
                m.value.pos,
                ptr,
                format!("`{}` must be from {lo} to {hi}, not {written}", m.key),
            );
            return None;
        }
        Some(n)
    }

    fn array<'n>(&mut self, node: &'n Node, ptr: &str, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            Json::Array(items) => Some(items),
            _ => {
                self.expected(node, ptr, what);
                None
            }
        }
    }

    fn file(&mut self, root: &Node) -> Option<FileModel> {
        let obj = self.object(root, "", "a policy object", FILE_KEYS)?;
        if let Some(m) = obj.get("$schema") {
            self.string(&m.value, &obj.child("$schema"));
        }
        if let Some(m) = obj.get("comment") {
            self.string(&m.value, &obj.child("comment"));
        }
        if let Some(m) = self.require(&obj, "version", Some("add `\"version\": 1`")) {
            let ptr = obj.child("version");
            match &m.value.value {
                Json::Number(n, _) if n.as_u64() == Some(1) => {}
                Json::Number(_, token) => self.error(
                    m.value.pos,
                    &ptr,
                    format!(
                        "unsupported policy version {}; this isogate reads version 1",
                        quote(token)
                    ),
                ),
                _ => self.expected(&m.value, &ptr, "the number 1"),
            }
        }
        let limits = match obj.get("limits") {
            Some(m) => self.limits(&m.value, &obj.child("limits")),
            None => FileLimits::default(),
        };
        let mut rules = Vec::new();
        if let Some(m) = self.require(&obj, "rules", None) {
            let ptr = obj.child("rules");
            if let Some(items) = self.array(&m.value, &ptr, "an array of rules") {
                for (i, item) in items.iter().enumerate() {
                    if let Some(rule) = self.rule(item, &child(&ptr, &i.to_string())) {
                        rules.push(rule);
                    }
                }
            }
        }
        Some(FileModel { limits, rules })
    }

    fn limits(&mut self, node: &Node, ptr: &str) -> FileLimits {
        let mut out = FileLimits::default();
        let Some(obj) = self.object(node, ptr, "an object of limits", LIMIT_KEYS) else {
            return out;
        };
        let max_bytes = crate::envelope::MAX_ENVELOPE_LEN;
        if let Some(m) = obj.get("max_message_bytes") {
            out.max_message_bytes = self.bounded(m, &obj.child(&m.key), 1, max_bytes);
        }
        if let Some(m) = obj.get("max_depth") {
            out.max_depth = self.bounded(m, &obj.child(&m.key), 2, MAX_DEPTH_CAP);
        }
        if let Some(m) = obj.get("max_items") {
            out.max_items = self.bounded(m, &obj.child(&m.key), 4, 1_000_000);
        }
        if let Some(m) = obj.get("max_args") {
            out.max_args = self.bounded(m, &obj.child(&m.key), 0, 10_000);
        }
        if let Some(m) = obj.get("rate") {
            let rptr = obj.child("rate");
            if let Some(r) = self.object(&m.value, &rptr, "an object", RATE_KEYS) {
                let per = self.require(&r, "per_second", None);
                let burst = self.require(&r, "burst", None);
                let per = per.and_then(|m| self.bounded(m, &r.child(&m.key), 1, 1_000_000));
                let burst = burst.and_then(|m| self.bounded(m, &r.child(&m.key), 1, 1_000_000));
                if let (Some(p), Some(b)) = (per, burst) {
                    out.rate = Some(Rate {
                        per_second: u32::try_from(p).unwrap_or(u32::MAX),
                        burst: u32::try_from(b).unwrap_or(u32::MAX),
                    });
                }
            }
        }
        out
    }

    fn rule(&mut self, node: &Node, ptr: &str) -> Option<Rule> {
        let obj = self.object(node, ptr, "a rule object", RULE_KEYS)?;
        let mut ok = true;
        if let Some(m) = obj.get("comment") {
            ok &= self.string(&m.value, &obj.child("comment")).is_some();
        }
        let id = self.require(&obj, "id", None).and_then(|m| {
            let p = obj.child("id");
            let id = self.string(&m.value, &p)?;
            if !valid_id(id) {
                self.hint(
                    m.value.pos,
                    &p,
                    format!("invalid rule id {}", quote(id)),
                    "ids are 1 to 128 characters from `a-z 0-9 . _ -` and start with a letter or digit",
                );
                return None;
            }
            Some((id, m.value.pos))
        });
        let effect = self.require(&obj, "effect", None).and_then(|m| {
            let p = obj.child("effect");
            match self.string(&m.value, &p)? {
                "allow" => Some(Effect::Allow),
                "deny" => Some(Effect::Deny),
                other => {
                    match did_you_mean(other, &["allow", "deny"]) {
                        Some(s) => self.error(
                            m.value.pos,
                            &p,
                            format!("unknown effect {}, did you mean `{s}`?", quote(other)),
                        ),
                        None => self.hint(
                            m.value.pos,
                            &p,
                            format!("unknown effect {}", quote(other)),
                            "expected `allow` or `deny`",
                        ),
                    }
                    None
                }
            }
        });
        let lists = [
            ("commands", MessageKind::Invoke),
            ("events", MessageKind::Emit),
            ("deliver", MessageKind::Deliver),
        ];
        let mut given = lists
            .iter()
            .filter_map(|&(key, kind)| obj.get(key).map(|m| (kind, m)));
        let kind = match (given.next(), given.next()) {
            (Some(_), Some((_, m))) => {
                self.hint(
                    m.key_pos,
                    &obj.child(&m.key),
                    "a rule has one of `commands`, `events` or `deliver`, not two",
                    "split it into one rule per kind",
                );
                None
            }
            (Some(first), None) => Some(first),
            (None, _) if lists.iter().any(|(key, _)| obj.has_typo_of(key)) => None,
            (None, _) => {
                self.hint(
                    node.pos,
                    ptr,
                    "missing field `commands`, `events` or `deliver`",
                    "list the command names, event names, or (`deliver`) names of events the core may send to the window",
                );
                None
            }
        };
        let names = kind.and_then(|(kind, m)| self.names(kind, m, &obj.child(&m.key)));
        let windows = self
            .require(
                &obj,
                "windows",
                Some("list the window labels this rule applies to, or `[\"*\"]` for every window"),
            )
            .and_then(|m| self.windows(m, &obj.child("windows")));
        let origins = match obj.get("origins") {
            None => Some(None),
            Some(m) => self.origins(m, &obj.child("origins")).map(Some),
        };
        let constraint = self.rule_constraint(&obj, kind.map(|k| k.0), effect);
        let (
            Some((id, id_pos)),
            Some(effect),
            Some((kind, _)),
            Some(names),
            Some(windows),
            Some(origins),
            Some(constraint),
            true,
        ) = (id, effect, kind, names, windows, origins, constraint, ok)
        else {
            return None;
        };
        Some(Rule {
            id: id.to_owned(),
            effect,
            kind,
            names,
            windows,
            origins,
            grant_args: constraint.grant_properties(),
            constraint,
            at: Origin {
                file: self.file,
                pos: node.pos,
                id_pos,
                pointer: ptr.to_owned(),
            },
        })
    }

    /// The rule's `args` or `payload` constraint (or the default one);
    /// `None` after an error.
    fn rule_constraint(
        &mut self,
        obj: &Obj<'_>,
        kind: Option<MessageKind>,
        effect: Option<Effect>,
    ) -> Option<Constraint> {
        let mut ok = true;
        let mut found = None;
        for (key, other) in [("args", "payload"), ("payload", "args")] {
            let Some(m) = obj.get(key) else { continue };
            let p = obj.child(key);
            // `args` is for commands, `payload` for events either way.
            let for_args = kind.map(|k| k == MessageKind::Invoke);
            if for_args.is_some_and(|a| a != (key == "args")) {
                let (rule_kind, own_kind) = if key == "args" {
                    ("event", "command")
                } else {
                    ("command", "event")
                };
                self.hint(
                    m.key_pos,
                    &p,
                    format!("`{key}` applies only to {own_kind} rules"),
                    format!("{rule_kind} rules use `{other}`"),
                );
                ok = false;
                continue;
            }
            if effect == Some(Effect::Deny) {
                self.hint(
                    m.key_pos,
                    &p,
                    format!("a deny rule cannot have `{key}`: it denies its names in its scope whatever the {}", if key == "args" { "arguments" } else { "payload" }),
                    "to refuse some values, narrow the allow rule's constraints instead",
                );
                ok = false;
                continue;
            }
            match self.constraint(&m.value, &p) {
                Some(c) if c.has_nested_grant(key == "args") => {
                    self.hint(
                        m.value.pos,
                        &p,
                        "type `grant` is allowed only for a top-level argument of a command rule",
                        "write it as `\"args\": {\"type\": \"object\", \"properties\": {\"NAME\": {\"type\": \"grant\"}}}`",
                    );
                    ok = false;
                }
                Some(c) if key == "args" && !matches!(c.kind, Kind::Object { .. }) => {
                    self.hint(
                        m.value.pos,
                        &p,
                        "`args` must be an object constraint",
                        "write `\"type\": \"object\"` with `properties`",
                    );
                    ok = false;
                }
                Some(c) => found = Some(c),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        Some(match (found, kind) {
            (Some(c), _) => c,
            (None, Some(MessageKind::Emit | MessageKind::Deliver)) => Constraint::null(),
            (None, _) => Constraint::empty_object(),
        })
    }

    fn names(&mut self, kind: MessageKind, m: &Member, ptr: &str) -> Option<Vec<Name>> {
        let what = match kind {
            MessageKind::Invoke => "command",
            MessageKind::Emit | MessageKind::Deliver => "event",
        };
        let items = self.array(&m.value, ptr, &format!("an array of {what} names"))?;
        if items.is_empty() {
            self.hint(
                m.value.pos,
                ptr,
                format!("`{}` is empty, so this rule can never match", m.key),
                format!("list at least one {what} name"),
            );
            return None;
        }
        let mut out: Vec<Name> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let p = child(ptr, &i.to_string());
            let Some(s) = self.string(item, &p) else {
                ok = false;
                continue;
            };
            let name = if let Some(prefix) = s
                .strip_suffix('*')
                .and_then(|pre| plugin_prefix(s).filter(|p| p.len() == pre.len()))
            {
                Name::Plugin(prefix.to_owned())
            } else if s.contains('*') {
                self.hint(
                    item.pos,
                    &p,
                    format!("invalid wildcard in {what} name {}", quote(s)),
                    "names match exactly; the only wildcard is `plugin:NAME|*`, for every command of one plugin",
                );
                ok = false;
                continue;
            } else if valid_name(s) {
                Name::Exact(s.to_owned())
            } else {
                self.hint(
                    item.pos,
                    &p,
                    format!("invalid {what} name {}", quote(s)),
                    format!(
                        "names are 1 to {MAX_NAME_LEN} characters from `A-Z a-z 0-9 _ - . : | /`"
                    ),
                );
                ok = false;
                continue;
            };
            if out.contains(&name) {
                self.error(item.pos, &p, format!("{what} {} is listed twice", quote(s)));
                ok = false;
                continue;
            }
            out.push(name);
        }
        ok.then_some(out)
    }

    fn windows(&mut self, m: &Member, ptr: &str) -> Option<Vec<Star>> {
        let items = self.array(&m.value, ptr, "an array of window labels")?;
        if items.is_empty() {
            self.hint(
                m.value.pos,
                ptr,
                "`windows` is empty, so this rule can never match",
                "use `[\"*\"]` for every window",
            );
            return None;
        }
        let mut out: Vec<Star> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let p = child(ptr, &i.to_string());
            let Some(s) = self.string(item, &p) else {
                ok = false;
                continue;
            };
            if !crate::names::is_window_pattern(s) {
                self.hint(
                    item.pos,
                    &p,
                    format!("invalid window label {}", quote(s)),
                    format!("labels are 1 to {MAX_WINDOW_LEN} bytes without spaces or control characters; `*` matches any run of characters"),
                );
                ok = false;
                continue;
            }
            if out.iter().any(|w| w.source() == s) {
                self.error(item.pos, &p, format!("window {} is listed twice", quote(s)));
                ok = false;
                continue;
            }
            out.push(Star::new(s));
        }
        ok.then_some(out)
    }

    fn origins(&mut self, m: &Member, ptr: &str) -> Option<Vec<OriginPattern>> {
        let items = self.array(&m.value, ptr, "an array of origins")?;
        if items.is_empty() {
            self.hint(
                m.value.pos,
                ptr,
                "`origins` is empty, so this rule can never match",
                "leave `origins` out to allow any origin",
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let p = child(ptr, &i.to_string());
            let Some(s) = self.string(item, &p) else {
                ok = false;
                continue;
            };
            match OriginPattern::parse(s) {
                Ok(o) if out.contains(&o) => {
                    self.error(item.pos, &p, format!("origin {} is listed twice", quote(s)));
                    ok = false;
                }
                Ok(o) => out.push(o),
                Err((message, hint)) => {
                    match hint {
                        Some(h) => self.hint(item.pos, &p, message, h),
                        None => self.error(item.pos, &p, message),
                    }
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// Walks one constraint object; `None` after any error in it.
    fn constraint(&mut self, node: &Node, ptr: &str) -> Option<Constraint> {
        let obj = self.object(node, ptr, "a constraint object", CONSTRAINT_KEYS)?;
        let mut ok = true;
        if let Some(m) = obj.get("comment") {
            ok &= self.string(&m.value, &obj.child("comment")).is_some();
        }
        let ty = match obj.get("type") {
            None if obj.get("enum").is_some() => None,
            None => {
                self.hint(
                    node.pos,
                    ptr,
                    "missing field `type`",
                    "use `\"type\": \"any\"` to accept any value",
                );
                return None;
            }
            Some(m) => {
                let p = obj.child("type");
                let t = self.string(&m.value, &p)?;
                if !TYPES.contains(&t) {
                    match did_you_mean(t, TYPES) {
                        Some(s) => self.error(
                            m.value.pos,
                            &p,
                            format!("unknown type {}, did you mean `{s}`?", quote(t)),
                        ),
                        None => self.hint(
                            m.value.pos,
                            &p,
                            format!("unknown type {}", quote(t)),
                            format!("expected {}", one_of(TYPES)),
                        ),
                    }
                    return None;
                }
                Some(t)
            }
        };
        let t = ty.unwrap_or("any");
        for m in obj.members {
            let applies: &[&str] = match m.key.as_str() {
                "pattern" | "min_length" | "max_length" => &["string"],
                "minimum" | "maximum" => &["integer", "number"],
                "items" | "min_items" | "max_items" => &["array"],
                "properties" | "required" | "additional" => &["object"],
                "base" | "glob" | "allow_hidden" => &["path"],
                "enum" => &[
                    "string", "integer", "number", "boolean", "null", "array", "object", "any",
                ],
                _ => continue,
            };
            if applies.contains(&t) {
                continue;
            }
            let p = obj.child(&m.key);
            if ty.is_none() {
                self.hint(
                    m.key_pos,
                    &p,
                    format!("`{}` needs a `type`", m.key),
                    format!("`{}` applies to type {}", m.key, one_of(applies)),
                );
            } else if m.key == "enum" {
                self.hint(
                    m.key_pos,
                    &p,
                    format!("`enum` does not apply to type `{t}`"),
                    if t == "grant" {
                        "the host's grants give the values; drop `enum`"
                    } else {
                        "use type `string` with `enum` for a fixed list of paths"
                    },
                );
            } else {
                self.hint(
                    m.key_pos,
                    &p,
                    format!("`{}` does not apply to type `{t}`", m.key),
                    format!("`{}` applies to type {}", m.key, one_of(applies)),
                );
            }
            ok = false;
        }
        if !ok {
            return None;
        }
        let kind = match t {
            "any" => Some(Kind::Any),
            "grant" => Some(Kind::Grant),
            "null" => Some(Kind::Null),
            "boolean" => Some(Kind::Boolean),
            "string" => self.string_kind(&obj),
            "integer" | "number" => self.number_kind(&obj, t == "integer"),
            "array" => self.array_kind(&obj),
            "object" => self.object_kind(&obj),
            _ => self.path_kind(&obj),
        }?;
        let one_of = match obj.get("enum") {
            None => None,
            Some(m) => Some(self.enum_values(m, &obj.child("enum"), &kind)?),
        };
        Some(Constraint { kind, one_of })
    }

    fn min_max_count(
        &mut self,
        obj: &Obj<'_>,
        lo: &str,
        hi: &str,
    ) -> Option<(Option<usize>, Option<usize>)> {
        let mut ok = true;
        let mut get = |w: &mut Self, key: &str| match obj.get(key) {
            None => None,
            Some(m) => {
                let v = w.count(&m.value, &obj.child(key));
                ok &= v.is_some();
                v.map(|v| (v, m))
            }
        };
        let min = get(self, lo);
        let max = get(self, hi);
        if let (Some((a, _)), Some((b, m))) = (min, max) {
            if a > b {
                self.error(
                    m.value.pos,
                    &obj.child(hi),
                    format!("`{lo}` {a} is greater than `{hi}` {b}, so nothing can match"),
                );
                return None;
            }
        }
        ok.then_some((min.map(|x| x.0), max.map(|x| x.0)))
    }

    fn string_kind(&mut self, obj: &Obj<'_>) -> Option<Kind> {
        let lengths = self.min_max_count(obj, "min_length", "max_length");
        let pattern = match obj.get("pattern") {
            None => Some(None),
            Some(m) => {
                let p = obj.child("pattern");
                self.string(&m.value, &p)
                    .and_then(|src| match compile_pattern(src) {
                        Ok(pat) => Some(Some(pat)),
                        Err(message) => {
                            self.error(m.value.pos, &p, message);
                            None
                        }
                    })
            }
        };
        let (min_length, max_length) = lengths?;
        Some(Kind::String {
            pattern: pattern?,
            min_length,
            max_length,
        })
    }

    fn number_kind(&mut self, obj: &Obj<'_>, integer: bool) -> Option<Kind> {
        let mut ok = true;
        let mut bound = |w: &mut Self, key: &str| -> Option<(Number, &str, Pos)> {
            let m = obj.get(key)?;
            let p = obj.child(key);
            match &m.value.value {
                Json::Number(n, token) if integer && n.is_f64() => {
                    let message = format!(
                        "`{key}` must be an integer for type `integer`, not {}",
                        quote(token)
                    );
                    if n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                        // A whole number, written as a double or outside
                        // the integer range.
                        w.hint(m.value.pos, &p, message, INTEGER_HINT);
                    } else {
                        w.error(m.value.pos, &p, message);
                    }
                }
                Json::Number(n, token) => return Some((n.clone(), token, m.value.pos)),
                _ => w.expected(&m.value, &p, "a number"),
            }
            ok = false;
            None
        };
        let minimum = bound(self, "minimum");
        let maximum = bound(self, "maximum");
        if let (Some((a, a_text, _)), Some((b, b_text, pos))) = (&minimum, &maximum) {
            if super::constraint::cmp_numbers(a, b) == Some(Ordering::Greater) {
                self.error(
                    *pos,
                    &obj.child("maximum"),
                    format!(
                        "`minimum` {} is greater than `maximum` {}, so nothing can match",
                        cut(a_text),
                        cut(b_text)
                    ),
                );
                return None;
            }
        }
        if !ok {
            return None;
        }
        let minimum = minimum.map(|x| x.0);
        let maximum = maximum.map(|x| x.0);
        Some(if integer {
            Kind::Integer { minimum, maximum }
        } else {
            Kind::Number { minimum, maximum }
        })
    }

    fn array_kind(&mut self, obj: &Obj<'_>) -> Option<Kind> {
        let counts = self.min_max_count(obj, "min_items", "max_items");
        let items = self
            .require(
                obj,
                "items",
                Some("use `\"items\": {\"type\": \"any\"}` to accept any element"),
            )
            .and_then(|m| self.constraint(&m.value, &obj.child("items")));
        let (min_items, max_items) = counts?;
        Some(Kind::Array {
            items: Box::new(items?),
            min_items,
            max_items,
        })
    }

    fn object_kind(&mut self, obj: &Obj<'_>) -> Option<Kind> {
        let mut ok = true;
        let additional = match obj.get("additional") {
            None => false,
            Some(m) => match self.boolean(&m.value, &obj.child("additional")) {
                Some(b) => b,
                None => {
                    ok = false;
                    false
                }
            },
        };
        let mut properties: Vec<(String, Constraint)> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        if let Some(m) = obj.get("properties") {
            let p = obj.child("properties");
            match &m.value.value {
                Json::Object(members) => {
                    for pm in members {
                        names.push(&pm.key);
                        match self.constraint(&pm.value, &child(&p, &pm.key)) {
                            Some(c) => properties.push((pm.key.clone(), c)),
                            None => ok = false,
                        }
                    }
                }
                _ => {
                    self.expected(&m.value, &p, "an object of property constraints");
                    ok = false;
                }
            }
        }
        let mut required: Vec<String> = Vec::new();
        if let Some(m) = obj.get("required") {
            let p = obj.child("required");
            match self.array(&m.value, &p, "an array of property names") {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let ip = child(&p, &i.to_string());
                        let Some(name) = self.string(item, &ip) else {
                            ok = false;
                            continue;
                        };
                        if required.iter().any(|r| r == name) {
                            self.error(
                                item.pos,
                                &ip,
                                format!("{} is listed twice in `required`", quote(name)),
                            );
                            ok = false;
                        } else if !additional && !names.contains(&name) {
                            self.hint(
                                item.pos,
                                &ip,
                                format!("required property {} is not in `properties` and `additional` is false, so nothing can match", quote(name)),
                                match did_you_mean(name, &names) {
                                    Some(s) => format!("did you mean `{s}`?"),
                                    None => format!("add {} to `properties`", quote(name)),
                                },
                            );
                            ok = false;
                        } else {
                            required.push(name.to_owned());
                        }
                    }
                }
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        properties.sort_by(|a, b| a.0.cmp(&b.0));
        Some(Kind::Object {
            properties,
            required,
            additional,
        })
    }

    fn path_kind(&mut self, obj: &Obj<'_>) -> Option<Kind> {
        let mut ok = true;
        let base = self
            .require(
                obj,
                "base",
                Some("a path constraint needs the absolute directory it is confined to"),
            )
            .and_then(|m| {
                let p = obj.child("base");
                let s = self.string(&m.value, &p)?;
                match check_base(s) {
                    None => Some(s),
                    Some(message) => {
                        self.error(m.value.pos, &p, message);
                        None
                    }
                }
            });
        let glob = match obj.get("glob") {
            None => None,
            Some(m) => {
                let p = obj.child("glob");
                match self.string(&m.value, &p) {
                    Some(s) => match check_glob(s) {
                        None => Some(s),
                        Some(message) => {
                            self.error(m.value.pos, &p, message);
                            ok = false;
                            None
                        }
                    },
                    None => {
                        ok = false;
                        None
                    }
                }
            }
        };
        let allow_hidden = match obj.get("allow_hidden") {
            None => false,
            Some(m) => self
                .boolean(&m.value, &obj.child("allow_hidden"))
                .unwrap_or_else(|| {
                    ok = false;
                    false
                }),
        };
        let base = base?;
        ok.then(|| Kind::Path(PathRule::new(base, glob, allow_hidden)))
    }

    fn enum_values(
        &mut self,
        m: &Member,
        ptr: &str,
        kind: &Kind,
    ) -> Option<Vec<serde_json::Value>> {
        let items = self.array(&m.value, ptr, "an array of allowed values")?;
        if items.is_empty() {
            self.error(m.value.pos, ptr, "`enum` is empty, so nothing can match");
            return None;
        }
        let check = Constraint {
            kind: kind.clone(),
            one_of: None,
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let v = item.to_value();
            let json = crate::message::Json::from_value(&v);
            if let Err(fail) = check.check(&json, None) {
                let why = describe(&fail, "it", &json, false);
                self.error(
                    item.pos,
                    &child(ptr, &i.to_string()),
                    format!("enum value {} can never match: {why}", quote(&render(item))),
                );
                ok = false;
            }
            out.push(v);
        }
        ok.then_some(out)
    }
}

/// Rule ids: 1 to 128 characters from `a-z 0-9 . _ -`, starting with a
/// letter or digit.
pub(crate) fn valid_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    id.len() <= MAX_ID_LEN
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// Compiles a `pattern`: always a full match, `^(?:PAT)$`, within a size
/// limit.
pub(crate) fn compile_pattern(src: &str) -> Result<Pattern, String> {
    let build = |text: &str| {
        RegexBuilder::new(text)
            .size_limit(MAX_REGEX_SIZE)
            .dfa_size_limit(MAX_REGEX_SIZE)
            .build()
    };
    // The pattern alone first, so that error positions refer to what the
    // user wrote rather than to the anchored wrapper.
    if let Err(e) = build(src) {
        return Err(regex_error(src, &e));
    }
    if !can_match(src) {
        return Err(format!(
            "pattern {} can never match: it needs a character from an empty class",
            quote(src)
        ));
    }
    let anchored = format!("^(?:{src})$");
    match build(&anchored) {
        Ok(regex) => Ok(Pattern {
            source: src.to_owned(),
            regex,
            dfa: small_dfa(&anchored),
        }),
        Err(e) => Err(regex_error(src, &e)),
    }
}

/// Whether some string can match `src` (which the regex engine accepted),
/// look-around assertions taken as satisfiable: false only when every way
/// through the pattern needs a character from an empty class (`[^\s\S]`,
/// `[a&&b]`, `\P{any}`). The syntax tree is the one the regex engine
/// builds (same parser, same defaults).
fn can_match(src: &str) -> bool {
    use regex_syntax::hir::{Class, Hir, HirKind};
    /// Walks the tree; nesting is bounded by the parser's nest limit.
    fn walk(hir: &Hir) -> bool {
        match hir.kind() {
            HirKind::Empty | HirKind::Literal(_) | HirKind::Look(_) => true,
            HirKind::Class(Class::Unicode(c)) => !c.ranges().is_empty(),
            HirKind::Class(Class::Bytes(c)) => !c.ranges().is_empty(),
            HirKind::Repetition(r) => r.min == 0 || walk(&r.sub),
            HirKind::Capture(c) => walk(&c.sub),
            HirKind::Concat(subs) => subs.iter().all(walk),
            HirKind::Alternation(subs) => subs.iter().any(walk),
        }
    }
    match regex_syntax::Parser::new().parse(src) {
        // A known minimum length means every class in the tree has a
        // character; `None` can also mean an empty class that is optional
        // (`[^\s\S]*` matches ""), or in one branch only (`a|[a&&b]`),
        // so the tree decides.
        Ok(hir) => hir.properties().minimum_len().is_some() || walk(&hir),
        // The engine accepted it: nothing to say.
        Err(_) => true,
    }
}

/// Largest dense DFA kept for a `pattern`, in bytes; bigger ones (wide
/// Unicode classes, long counted repetitions) use the regex alone.
const MAX_PATTERN_DFA_BYTES: usize = 64 * 1024;

/// The anchored pattern as a dense DFA with the regex crate's syntax
/// defaults, or `None` when it would be large or cannot be built (Unicode
/// word boundaries).
fn small_dfa(anchored: &str) -> Option<Box<regex_automata::dfa::dense::DFA<Vec<u32>>>> {
    use regex_automata::dfa::{dense, StartKind};
    use regex_automata::nfa::thompson;
    dense::Builder::new()
        .configure(
            dense::Config::new()
                .start_kind(StartKind::Anchored)
                .dfa_size_limit(Some(MAX_PATTERN_DFA_BYTES))
                .determinize_size_limit(Some(4 * MAX_PATTERN_DFA_BYTES)),
        )
        .thompson(thompson::Config::new().nfa_size_limit(Some(MAX_REGEX_SIZE)))
        .build(anchored)
        .ok()
        .map(Box::new)
}

/// The load error for a pattern the regex engine refused, quoting the
/// engine's message ([`engine_message`]).
fn regex_error(src: &str, e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => {
            // The engine's text draws the pattern and a caret above its
            // message, on a last line `error: MESSAGE`.
            let detail = text
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("error: "))
                .or_else(|| text.lines().last())
                .unwrap_or_default();
            format!("invalid regex {}: {}", quote(src), engine_message(detail))
        }
        regex::Error::CompiledTooBig(_) => format!(
            "regex {} is too large: {}",
            quote(src),
            engine_message(&e.to_string())
        ),
        other => format!(
            "invalid regex {}: {}",
            quote(src),
            engine_message(&other.to_string())
        ),
    }
}

/// The regex engine's message as a load error quotes it: its first letter
/// lowercased, a final period dropped (`Compiled regex exceeds size limit
/// of 1048576 bytes.` becomes `compiled regex exceeds size limit of
/// 1048576 bytes`).
fn engine_message(text: &str) -> String {
    let text = text.trim();
    let text = text.strip_suffix('.').unwrap_or(text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "notes-read", "0", "a.b_c-d"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", "A", "-a", ".a", "a b", "é", &"a".repeat(129)] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn plugin_prefixes() {
        assert_eq!(plugin_prefix("plugin:fs|read"), Some("plugin:fs|"));
        assert_eq!(plugin_prefix("plugin:fs|*"), Some("plugin:fs|"));
        assert_eq!(plugin_prefix("plugin:|x"), None);
        assert_eq!(plugin_prefix("plugin:a:b|x"), None);
        assert_eq!(plugin_prefix("plugins:fs|x"), None);
        assert!(Name::Plugin("plugin:fs|".into()).matches("plugin:fs|read"));
        assert!(!Name::Plugin("plugin:fs|".into()).matches("plugin:fs|"));
        assert!(!Name::Plugin("plugin:fs|".into()).matches("plugin:fsx|read"));
    }

    #[test]
    fn dfa_and_regex_agree() {
        let patterns = [
            "[A-Za-z][A-Za-z ]{0,31}",
            "a|b",
            "a|ab",
            "(foo|bar)+",
            "[0-9]{1,5}",
            r"\w+",
            r"\d{3}-\d{4}",
            "é.?",
            ".*",
            "",
            "x*y?",
            r"(?i)ada",
            r"[^/]+\.md",
            r"\p{L}{2,3}",
        ];
        let alphabet = [
            "a",
            "b",
            "A",
            "d",
            "x",
            "y",
            "é",
            "É",
            "0",
            "5",
            "-",
            " ",
            "/",
            ".",
            "m",
            "\n",
            "foo",
            "bar",
            "ß",
            "\u{1F600}",
        ];
        let mut next = crate::test_rng::xorshift(1);
        let mut with_dfa = 0;
        for src in patterns {
            let p = compile_pattern(src).unwrap();
            with_dfa += usize::from(p.dfa.is_some());
            for len in 0..8 {
                for _ in 0..200 {
                    let s: String = (0..len)
                        .map(|_| {
                            let x = next();
                            alphabet[x as usize % alphabet.len()]
                        })
                        .collect();
                    assert_eq!(p.full_match(&s), p.regex.is_match(&s), "{src} on {s:?}");
                }
            }
        }
        // Most of these are small enough for a DFA; the test is not vacuous.
        assert!(with_dfa >= 10, "{with_dfa}");
    }

    #[test]
    fn patterns_that_can_never_match_are_refused() {
        for never in [
            r"[^\s\S]",
            r"[a&&b]",
            r"\P{any}",
            r"[^\x00-\x{10FFFF}]",
            r"x[^\s\S]",
            r"[a&&b]+",
            r"(a|[a&&b])c[a&&b]",
            r"(?i)[a&&B]",
            r"(?:[^\s\S]|[a&&b]){2,}",
        ] {
            assert_eq!(
                compile_pattern(never).err(),
                Some(format!(
                    "pattern `{never}` can never match: it needs a character from an empty class"
                )),
                "{never}"
            );
        }
        // An empty class that is optional or in one branch only: the
        // regex syntax tree's minimum length is unknown for these, but
        // they match.
        for (src, matching) in [
            (r"[^\s\S]*", ""),
            (r"(?:[^\s\S])?", ""),
            (r"[a&&b]{0,3}x", "x"),
            (r"a|[^\s\S]", "a"),
            (r"[^\s\S]|a", "a"),
            (r"(a|[a&&b])c", "ac"),
            (r"[^\s\S]{0}", ""),
        ] {
            let p = compile_pattern(src).unwrap();
            assert!(p.full_match(matching), "{src} on {matching:?}");
        }
        // Not caught: assertions that cannot hold (documented).
        for src in [r"a\bb", r"$a", r"a^b"] {
            let p = compile_pattern(src).unwrap();
            assert!(!p.full_match("ab") && !p.full_match("a"), "{src}");
        }
    }

    #[test]
    fn patterns_are_anchored() {
        let p = compile_pattern("a|b").unwrap();
        assert!(p.regex.is_match("a"));
        assert!(p.regex.is_match("b"));
        assert!(!p.regex.is_match("ab"));
        assert!(!p.regex.is_match("xb"));
        let p = compile_pattern("a").unwrap();
        assert!(!p.regex.is_match("ab"));
        assert!(!p.regex.is_match("ba"));
        assert_eq!(
            compile_pattern("a(b").unwrap_err(),
            "invalid regex `a(b`: unclosed group"
        );
        assert_eq!(
            compile_pattern("a{100000}{100000}").unwrap_err(),
            "regex `a{100000}{100000}` is too large: compiled regex exceeds size limit of 1048576 bytes"
        );
    }
}
