//! The routers an app already has, behind a gate, with no adapter: a plain
//! closure, a `HashMap<String, Handler>` and the `router::Table` builder.
//!
//! `cargo run --example table`. The isolation frame is played by
//! `isogate::danger::Sealer` (a real app never seals outside the frame).

use isogate::danger::{self, Sealer};
use isogate::router::Table;
use isogate::{json_lines_sink, Call, Gate, Handler, Policy, PolicySource, Router, Sender};
use serde_json::{json, Value};
use std::collections::HashMap;

const KEY: [u8; 32] = [7; 32];
const ORIGIN: &str = "isogate-app://localhost";
const POLICY: &str = r#"{"version": 1, "rules": [
  {"id": "greet", "effect": "allow", "commands": ["greet"], "windows": ["main"],
   "args": {"type": "object", "properties": {"name": {"type": "string", "max_length": 32}}, "required": ["name"]}},
  {"id": "add", "effect": "allow", "commands": ["add"], "windows": ["main"],
   "args": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}
]}"#;

/// A closure router: `Fn(Call) -> Result<Value, Value>` is a `Router`.
fn closure(call: Call<'_>) -> Result<Value, Value> {
    match call.cmd {
        "greet" => Ok(json!(format!(
            "Hello, {}!",
            call.args["name"].as_str().unwrap_or("")
        ))),
        "add" => {
            let (a, b) = (call.args["a"].as_i64(), call.args["b"].as_i64());
            match (a, b) {
                (Some(a), Some(b)) => a.checked_add(b).map(|n| json!(n)).ok_or(json!("overflow")),
                _ => Err(json!("invalid arguments")),
            }
        }
        other => Err(json!(format!("unknown command `{other}`"))),
    }
}

/// A table as a `HashMap` of boxed handlers.
fn map() -> HashMap<String, Handler> {
    let mut map: HashMap<String, Handler> = HashMap::new();
    map.insert("greet".into(), Box::new(closure));
    map.insert("add".into(), Box::new(closure));
    map
}

#[derive(serde::Deserialize)]
struct Add {
    a: i64,
    b: i64,
}

/// The same table with the builder, `add` with typed arguments.
fn table() -> Table {
    Table::new()
        .command("greet", closure)
        .typed("add", |args: Add, _call| {
            args.a.checked_add(args.b).ok_or("overflow")
        })
}

fn run<R: Router>(label: &str, router: R) -> Result<(), Box<dyn std::error::Error>> {
    let policy = Policy::load(&[PolicySource {
        name: "example.json",
        text: POLICY,
    }])?;
    let gate = Gate::new(danger::key_from_bytes(KEY), policy, router)
        .with_audit(json_lines_sink(std::io::stderr()));
    let sender = Sender {
        window: "main",
        origin: ORIGIN,
    };
    let mut frame = Sealer::new(KEY, "main", ORIGIN, 1);
    for envelope in [
        frame.invoke(1, "greet", json!({"name": "Ada"})),
        frame.invoke(2, "add", json!({"a": 2, "b": 40})),
        frame.invoke(3, "add", json!({"a": i64::MAX, "b": 1})),
        frame.invoke(4, "delete_everything", json!({})),
    ] {
        match gate.handle(sender, &envelope) {
            Some(reply) => println!("{label}: reply {}", reply.to_json()),
            None => println!("{label}: discarded (no reply; see the audit line)"),
        }
    }
    println!("{label}: counters {:?}", gate.counters());
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run("closure", closure)?;
    run("hashmap", map())?;
    run("table", table())
}
