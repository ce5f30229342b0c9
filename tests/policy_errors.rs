//! Load-time errors, exact text: file, line, column, message, JSON pointer
//! and hint, through the public API only.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use isogate::{Policy, PolicyError, PolicySource};

fn errors(files: &[(&str, &str)]) -> Vec<String> {
    let sources: Vec<PolicySource<'_>> = files
        .iter()
        .map(|(name, text)| PolicySource { name, text })
        .collect();
    match Policy::load(&sources) {
        Ok(_) => panic!("loaded, but errors were expected"),
        Err(e) => e.to_string().lines().map(str::to_owned).collect(),
    }
}

fn one(text: &str) -> Vec<String> {
    errors(&[("p.json", text)])
}

#[test]
fn unknown_field_with_did_you_mean() {
    let text = r#"{
  "version": 1,
  "rules": [
    {"id": "a", "effect": "allow", "comands": ["read"], "windows": ["main"]}
  ]
}"#;
    assert_eq!(
        one(text),
        ["p.json:4:36: unknown field `comands`, did you mean `commands`? (at `/rules/0/comands`)"]
    );
}

#[test]
fn unknown_field_without_a_close_match_lists_the_fields() {
    let text = r#"{"version": 1, "rules": [], "polcy_name": "x"}"#;
    assert_eq!(
        one(text),
        [
            "p.json:1:29: unknown field `polcy_name` (at `/polcy_name`)",
            "  hint: expected `$schema`, `version`, `limits`, `rules` or `comment`",
        ]
    );
}

#[test]
fn duplicate_keys_at_any_depth() {
    let text = r#"{
  "version": 1,
  "rules": [
    {"id": "a", "effect": "allow", "commands": ["f"], "windows": ["main"],
     "args": {"type": "object", "properties": {
       "n": {"type": "integer", "minimum": 0, "minimum": 1}
     }}}
  ],
  "version": 1
}"#;
    assert_eq!(
        one(text),
        [
            "p.json:6:47: duplicate key `minimum`; the first is at line 6, column 33 (at `/rules/0/args/properties/n/minimum`)",
            "p.json:9:3: duplicate key `version`; the first is at line 2, column 3 (at `/version`)",
        ]
    );
}

#[test]
fn invalid_regex_quotes_the_engine() {
    let text = r#"{"version": 1, "rules": [{"id": "a", "effect": "allow", "commands": ["f"], "windows": ["main"],
  "args": {"type": "object", "properties": {"s": {"type": "string", "pattern": "[a-z"}}}}]}"#;
    assert_eq!(
        one(text),
        ["p.json:2:80: invalid regex `[a-z`: unclosed character class (at `/rules/0/args/properties/s/pattern`)"]
    );
}

#[test]
fn min_greater_than_max() {
    let text = r#"{"version": 1, "rules": [{"id": "a", "effect": "allow", "commands": ["f"], "windows": ["main"],
  "args": {"type": "object", "properties": {
    "s": {"type": "string", "min_length": 4, "max_length": 2},
    "n": {"type": "number", "minimum": 1.5, "maximum": 1}}}}]}"#;
    assert_eq!(
        one(text),
        [
            "p.json:3:60: `min_length` 4 is greater than `max_length` 2, so nothing can match (at `/rules/0/args/properties/s/max_length`)",
            "p.json:4:56: `minimum` 1.5 is greater than `maximum` 1, so nothing can match (at `/rules/0/args/properties/n/maximum`)",
        ]
    );
}

#[test]
fn shadowed_allow_rule() {
    let text = r#"{
  "version": 1,
  "rules": [
    {"id": "upload", "effect": "allow", "commands": ["upload"], "windows": ["settings"]},
    {"id": "no-upload", "effect": "deny", "commands": ["upload"], "windows": ["*"]}
  ]
}"#;
    assert_eq!(
        one(text),
        [
            "p.json:4:5: allow rule `upload` can never allow anything: deny rule `no-upload` (p.json:5:5) denies all its names in all its windows and origins (at `/rules/0`)",
            "  hint: remove the allow rule, or narrow the deny rule's `windows` or `origins`",
        ]
    );
}

#[test]
fn partial_overlap_is_not_shadowing() {
    let text = r#"{"version": 1, "rules": [
  {"id": "upload", "effect": "allow", "commands": ["upload", "download"], "windows": ["settings"]},
  {"id": "main-upload", "effect": "allow", "commands": ["upload"], "windows": ["main", "settings"]},
  {"id": "origin-upload", "effect": "allow", "commands": ["upload"], "windows": ["settings"], "origins": ["https://a.example.com"]},
  {"id": "no-upload", "effect": "deny", "commands": ["upload"], "windows": ["settings"], "origins": ["https://b.example.com"]}
]}"#;
    assert!(Policy::load(&[PolicySource {
        name: "p.json",
        text
    }])
    .is_ok());
}

#[test]
fn duplicate_rule_id_across_files() {
    let a = r#"{"version": 1, "rules": [
  {"id": "notes", "effect": "allow", "commands": ["read_note"], "windows": ["main"]}
]}"#;
    let b = r#"{"version": 1, "rules": [
  {"id": "other", "effect": "allow", "commands": ["x"], "windows": ["main"]},
  {"id": "notes", "effect": "allow", "commands": ["list_notes"], "windows": ["main"]}
]}"#;
    let expected = [
        "b.json:3:10: duplicate rule id `notes`, also defined at a.json:2:10 (at `/rules/1/id`)",
        "  hint: rule ids must be unique across all composed policy files",
    ];
    assert_eq!(errors(&[("a.json", a), ("b.json", b)]), expected);
}

#[test]
fn trailing_comma() {
    let text = "{\"version\": 1, \"rules\": [\n  {\"id\": \"a\", \"effect\": \"allow\", \"commands\": [\"f\"], \"windows\": [\"main\"]},\n]}";
    assert_eq!(
        one(text),
        ["p.json:3:1: trailing comma before `]` (at `/rules`)"]
    );
}

#[test]
fn wrong_types() {
    let text = r#"{"version": "1", "rules": [
  {"id": "a", "effect": "allow", "commands": "read", "windows": ["main"],
   "args": {"type": "object", "required": "id"}}
]}"#;
    assert_eq!(
        one(text),
        [
            "p.json:1:13: expected the number 1, found a string (at `/version`)",
            "p.json:2:46: expected an array of command names, found a string (at `/rules/0/commands`)",
            "p.json:3:43: expected an array of property names, found a string (at `/rules/0/args/required`)",
        ]
    );
}

#[test]
fn every_file_is_checked() {
    let a = r#"{"version": 1, "rules": [{"id": "a", "effect": "allow", "commands": ["f"], "windows": []}]}"#;
    let b = "{\"version\": 1, \"rules\": [] // no comments\n}";
    let c = r#"{"version": 1, "rules": [{"id": "c", "effect": "deny", "commands": ["g"], "windows": ["main"], "args": {"type": "object"}}]}"#;
    assert_eq!(
        errors(&[("a.json", a), ("b.json", b), ("c.json", c)]),
        [
            "a.json:1:87: `windows` is empty, so this rule can never match (at `/rules/0/windows`)",
            "  hint: use `[\"*\"]` for every window",
            "b.json:1:28: comments are not allowed in JSON",
            "c.json:1:96: a deny rule cannot have `args`: it denies its names in its scope whatever the arguments (at `/rules/0/args`)",
            "  hint: to refuse some values, narrow the allow rule's constraints instead",
        ]
    );
}

#[test]
fn wildcards_other_than_plugin_are_refused() {
    let text = r#"{"version": 1, "rules": [{"id": "a", "effect": "allow", "commands": ["read_*"], "windows": ["main"]}]}"#;
    assert_eq!(
        one(text),
        [
            "p.json:1:70: invalid wildcard in command name `read_*` (at `/rules/0/commands/0`)",
            "  hint: names match exactly; the only wildcard is `plugin:NAME|*`, for every command of one plugin",
        ]
    );
}

#[test]
fn errors_are_structured() {
    let text = r#"{"version": 1, "rules": [{"id": "a", "effect": "allow", "commands": ["f"], "windows": ["main"], "origins": ["http://x/"]}]}"#;
    let e = Policy::load(&[PolicySource {
        name: "p.json",
        text,
    }])
    .unwrap_err();
    assert_eq!(
        e.0,
        vec![PolicyError {
            file: "p.json".into(),
            line: 1,
            column: 109,
            pointer: "/rules/0/origins/0".into(),
            message: "origin `http://x/` has a path; an origin is only `scheme://host[:port]`"
                .into(),
            hint: Some("write `http://x`".into()),
        }]
    );
}

#[test]
fn unreadable_files_are_reported_with_the_others() {
    let dir = std::env::temp_dir().join(format!("isogate-policy-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"version": 1}"#).unwrap();
    let missing = dir.join("missing.json");
    let e = Policy::from_files(&[&missing, &bad])
        .unwrap_err()
        .to_string();
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 2, "{e}");
    assert!(lines[0].starts_with(&format!("{}: cannot read file: ", missing.display())));
    assert_eq!(
        lines[1],
        format!("{}:1:1: missing field `rules`", bad.display())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_too_large_regex_quotes_the_engine_and_is_cut() {
    // 3 MiB of pattern: the error quotes 64 characters of it, and the
    // engine's own message.
    let pattern = "a".repeat(3 << 20);
    let text = format!(
        r#"{{"version": 1, "rules": [{{"id": "a", "effect": "allow", "commands": ["f"], "windows": ["main"],
  "args": {{"type": "object", "properties": {{"s": {{"type": "string", "pattern": "{pattern}"}}}}}}}}]}}"#
    );
    let errors = one(&text);
    assert_eq!(
        errors,
        [format!(
            "p.json:2:80: regex `{}…` (3145728 characters) is too large: compiled regex exceeds size limit of 1048576 bytes (at `/rules/0/args/properties/s/pattern`)",
            "a".repeat(64)
        )]
    );
}

#[test]
fn long_user_input_is_cut_everywhere() {
    let long = "x".repeat(100);
    let cut = format!("`{}…` (100 characters)", "x".repeat(64));
    let text = format!(
        r#"{{"version": 1, "{long}": 1, "rules": [
  {{"id": "a", "effect": "{long}", "commands": ["{long} "], "windows": ["{long} "], "origins": ["{long}"],
   "args": {{"type": "object", "properties": {{"p": {{"type": "path", "base": "{long}", "glob": "/{long}"}},
     "e": {{"type": "integer", "enum": ["{long}"]}}}}, "required": ["{long}"]}}}}]}}"#
    );
    let errors = one(&text);
    for e in &errors {
        assert!(e.len() < 400, "{e}");
    }
    let joined = errors.join("\n");
    for message in [
        format!("unknown field {cut}"),
        format!("unknown effect {cut}"),
        format!(
            "invalid command name `{}…` (101 characters)",
            "x".repeat(64)
        ),
        format!(
            "invalid window label `{}…` (101 characters)",
            "x".repeat(64)
        ),
        format!("invalid origin {cut}"),
        format!("`base` must be an absolute path, not {cut}"),
        format!(
            "`glob` must be relative to `base`, not `/{}…` (101 characters)",
            "x".repeat(63)
        ),
        format!(
            "enum value `\"{}…` (102 characters) can never match",
            "x".repeat(63)
        ),
        format!("required property {cut} is not in `properties`"),
    ] {
        assert!(joined.contains(&message), "{message}\nnot in\n{joined}");
    }
}
