//! `policies/schema.json` agrees with the loader: every example policy and
//! every valid fixture policy validates against it, and a set of broken
//! files is rejected by both.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use isogate::{Policy, PolicySource};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(manifest().join("policies/schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft202012::new(&schema).expect("schema.json is a valid draft 2020-12 schema")
}

fn schema_errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

fn loads(name: &str, text: &str) -> bool {
    Policy::load(&[PolicySource { name, text }]).is_ok()
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    out.sort();
    out
}

#[test]
fn the_schema_is_what_the_cli_prints() {
    // `isogate schema` embeds the same file; it must stay valid JSON.
    let text = std::fs::read_to_string(manifest().join("policies/schema.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

#[test]
fn examples_validate_and_load() {
    let v = validator();
    let mut count = 0;
    for path in json_files(&manifest().join("policies")) {
        if path.file_name().is_some_and(|n| n == "schema.json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let instance: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            instance["$schema"],
            "./schema.json",
            "{} must point editors at ./schema.json",
            path.display()
        );
        let errors = schema_errors(&v, &instance);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        let name = path.display().to_string();
        if let Err(e) = Policy::load(&[PolicySource {
            name: &name,
            text: &text,
        }]) {
            panic!("{e}");
        }
        count += 1;
    }
    assert!(
        count >= 4,
        "expected the four example policies, found {count}"
    );
}

#[test]
fn valid_fixture_policies_validate() {
    let v = validator();
    let root = manifest().join("tests/policy_fixtures");
    let mut count = 0;
    for case_path in json_files(&root) {
        let case: Value =
            serde_json::from_str(&std::fs::read_to_string(&case_path).unwrap()).unwrap();
        if case.get("expect_errors").is_some() {
            continue;
        }
        for p in case["policies"].as_array().unwrap() {
            let instance = match p {
                Value::String(rel) => {
                    serde_json::from_str(&std::fs::read_to_string(root.join(rel)).unwrap()).unwrap()
                }
                other => other.clone(),
            };
            let errors = schema_errors(&v, &instance);
            assert!(
                errors.is_empty(),
                "{} ({p}): {errors:#?}",
                case_path.display()
            );
            count += 1;
        }
    }
    assert!(count >= 40, "only {count} fixture policies checked");
}

/// Broken files that the schema can see are broken (not every loader
/// error can be said in JSON Schema: regex validity, min <= max, shadowed
/// rules and duplicate keys cannot).
#[test]
fn schema_and_loader_reject_the_same_broken_files() {
    let v = validator();
    let rule = r#"{"id": "a", "effect": "allow", "commands": ["read"], "windows": ["main"]}"#;
    let with = |extra: &str| {
        format!(
            r#"{{"version": 1, "rules": [{}]}}"#,
            rule.replace('}', &format!(", {extra}}}"))
        )
    };
    let broken: Vec<(&str, String)> = vec![
        ("no version", r#"{"rules": []}"#.into()),
        ("version 2", r#"{"version": 2, "rules": []}"#.into()),
        ("no rules", r#"{"version": 1}"#.into()),
        ("unknown top field", r#"{"version": 1, "rules": [], "rulez": []}"#.into()),
        ("unknown rule field", with(r#""comands": ["x"]"#)),
        ("bad effect", rule_text(r#""effect": "permit""#)),
        ("uppercase id", rule_text(r#""id": "Read""#)),
        ("no windows", r#"{"version": 1, "rules": [{"id": "a", "effect": "allow", "commands": ["x"]}]}"#.into()),
        ("empty windows", rule_text(r#""windows": []"#)),
        ("empty commands", rule_text(r#""commands": []"#)),
        ("star in a name", rule_text(r#""commands": ["read_*"]"#)),
        ("space in a name", rule_text(r#""commands": ["read file"]"#)),
        ("space in a window", rule_text(r#""windows": ["a b"]"#)),
        ("commands and events", with(r#""events": ["e"]"#)),
        ("commands and deliver", with(r#""deliver": ["e"]"#)),
        ("args on a deliver rule", r#"{"version": 1, "rules": [{"id": "a", "effect": "allow", "deliver": ["e"], "windows": ["main"], "args": {"type": "object"}}]}"#.into()),
        ("neither commands nor events", r#"{"version": 1, "rules": [{"id": "a", "effect": "allow", "windows": ["main"]}]}"#.into()),
        ("origin with a path", with(r#""origins": ["http://localhost/"]"#)),
        ("origin without scheme", with(r#""origins": ["localhost:1420"]"#)),
        ("origin with user info", with(r#""origins": ["http://u@localhost"]"#)),
        ("empty origins", with(r#""origins": []"#)),
        ("payload on a command", with(r#""payload": {"type": "any"}"#)),
        ("args not an object constraint", with(r#""args": {"type": "string"}"#)),
        ("args without type", with(r#""args": {"properties": {}}"#)),
        ("unknown constraint key", with(r#""args": {"type": "object", "propertys": {}}"#)),
        ("unknown type", with(r#""args": {"type": "object", "properties": {"a": {"type": "str"}}}"#)),
        ("pattern on an integer", with(r#""args": {"type": "object", "properties": {"a": {"type": "integer", "pattern": "1"}}}"#)),
        ("array without items", with(r#""args": {"type": "object", "properties": {"a": {"type": "array"}}}"#)),
        ("path without base", with(r#""args": {"type": "object", "properties": {"a": {"type": "path"}}}"#)),
        ("relative base", with(r#""args": {"type": "object", "properties": {"a": {"type": "path", "base": "notes"}}}"#)),
        ("enum on a path", with(r#""args": {"type": "object", "properties": {"a": {"type": "path", "base": "/n", "enum": ["/n/a"]}}}"#)),
        ("empty enum", with(r#""args": {"type": "object", "properties": {"a": {"enum": []}}}"#)),
        ("negative max_length", with(r#""args": {"type": "object", "properties": {"a": {"type": "string", "max_length": -1}}}"#)),
        ("additional not a boolean", with(r#""args": {"type": "object", "additional": "yes"}"#)),
        ("deny with args", r#"{"version": 1, "rules": [{"id": "a", "effect": "deny", "commands": ["x"], "windows": ["main"], "args": {"type": "object"}}]}"#.into()),
        ("max_depth too large", r#"{"version": 1, "limits": {"max_depth": 1000}, "rules": []}"#.into()),
        ("rate without burst", r#"{"version": 1, "limits": {"rate": {"per_second": 5}}, "rules": []}"#.into()),
        ("unknown limit", r#"{"version": 1, "limits": {"max_size": 5}, "rules": []}"#.into()),
        ("not an object", "[]".into()),
    ];
    let mut disagreements = Vec::new();
    for (what, text) in &broken {
        let instance: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
        let schema_rejects = !v.is_valid(&instance);
        let loader_rejects = !loads(what, text);
        if !(schema_rejects && loader_rejects) {
            disagreements.push(format!(
                "{what}: schema rejects: {schema_rejects}, loader rejects: {loader_rejects}"
            ));
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    // And the unbroken base rule is accepted by both.
    let ok = format!(r#"{{"version": 1, "rules": [{rule}]}}"#);
    assert!(v.is_valid(&serde_json::from_str(&ok).unwrap()));
    assert!(loads("ok", &ok));
}

/// The base rule with one field replaced.
fn rule_text(field: &str) -> String {
    let key = field.split(':').next().unwrap().trim();
    let mut fields = vec![
        (r#""id""#, r#""id": "a""#),
        (r#""effect""#, r#""effect": "allow""#),
        (r#""commands""#, r#""commands": ["read"]"#),
        (r#""windows""#, r#""windows": ["main"]"#),
    ];
    for f in &mut fields {
        if f.0 == key {
            f.1 = field;
        }
    }
    let body: Vec<&str> = fields.iter().map(|f| f.1).collect();
    format!(r#"{{"version": 1, "rules": [{{{}}}]}}"#, body.join(", "))
}
