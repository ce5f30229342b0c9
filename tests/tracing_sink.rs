//! `audit::tracing_sink` (feature `tracing`): audit events as `tracing`
//! events, seen by a subscriber that records what it is given.
#![cfg(feature = "tracing")]
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::{key, policy, KEY, MAIN};
use isogate::danger::Sealer;
use isogate::tracing_sink;
use isogate::Gate;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Each event as `LEVEL target field=value ...`.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let mut line = format!("{} {}", meta.level(), meta.target());
        event.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn discards_are_warnings_and_dispatches_info_with_their_fields() {
    let rules = r#"{"version":1,"rules":[{"id":"greet","effect":"allow","commands":["greet"],"windows":["main"],"args":{"type":"object","additional":true}}]}"#;
    let gate = Gate::new(key(), policy(rules), |_: isogate::Call<'_>| {
        Ok::<Value, Value>(json!(1))
    })
    .with_audit(tracing_sink());
    let recorder = Recorder::default();
    let mut sealer = Sealer::new(KEY, "main", MAIN.origin, 1);
    gate.render_frame("main", MAIN.origin, None).unwrap();
    tracing::subscriber::with_default(recorder.clone(), || {
        gate.handle(MAIN, sealer.invoke(1, "greet", json!({"secret": "s3"})));
        gate.handle(MAIN, sealer.invoke(2, "delete", json!({})));
        gate.handle(MAIN, b"junk");
    });
    let lines = recorder.0.lock().unwrap().clone();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("{} isogate::audit", Level::INFO)),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("outcome=\"dispatched\"") && lines[0].contains("name=\"greet\""));
    assert!(lines[0].contains("rule=\"greet\""), "{}", lines[0]);
    assert!(!lines.concat().contains("s3"), "arguments are never logged");
    assert!(lines[1].starts_with("WARN isogate::audit"), "{}", lines[1]);
    assert!(lines[1].contains("reason=\"denied\"") && lines[1].contains("name=\"delete\""));
    assert!(lines[2].contains("reason=\"malformed\"") && lines[2].contains("window=main"));
}
