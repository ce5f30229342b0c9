//! Audit events: what the host learns about every message, and the only
//! place discard reasons go. The frontend never sees any of this.

use crate::message::MessageKind;
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why an envelope was discarded. The names are stable (`docs/WIRE.md`, section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscardReason {
    /// Transport decoding failed.
    Malformed,
    /// The envelope is over the size bound.
    TooLarge,
    /// The AEAD tag did not verify.
    BadTag,
    /// The authenticated window is not the sender's.
    WrongWindow,
    /// The authenticated origin is not the sender's.
    WrongOrigin,
    /// The envelope belongs to an older frame load.
    StaleLoad,
    /// The envelope was accepted before, or is too old.
    Replay,
    /// The plaintext is not a valid message.
    BadMessage,
    /// The message is over a size, depth or count limit.
    OverLimit,
    /// The policy does not allow the message.
    Denied,
    /// The window exceeded its policy rate.
    RateLimited,
}

impl DiscardReason {
    /// All reasons, in declaration order (`reason as usize` indexes it).
    pub const ALL: [DiscardReason; 11] = [
        Self::Malformed,
        Self::TooLarge,
        Self::BadTag,
        Self::WrongWindow,
        Self::WrongOrigin,
        Self::StaleLoad,
        Self::Replay,
        Self::BadMessage,
        Self::OverLimit,
        Self::Denied,
        Self::RateLimited,
    ];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::BadTag => "bad_tag",
            Self::WrongWindow => "wrong_window",
            Self::WrongOrigin => "wrong_origin",
            Self::StaleLoad => "stale_load",
            Self::Replay => "replay",
            Self::BadMessage => "bad_message",
            Self::OverLimit => "over_limit",
            Self::Denied => "denied",
            Self::RateLimited => "rate_limited",
        }
    }
}

impl std::fmt::Display for DiscardReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A command was handed to the router.
    Dispatched,
    /// An event was handed to the host's listeners.
    Delivered,
    /// The message was dropped; see the reason.
    Discarded,
    /// A reply or event to the frontend was dropped by the host layer: the
    /// window's delivery queue was full (`crate::host`).
    Dropped,
}

/// One audit event. Serialized as one JSON object with these field names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    /// When the gate decided, in milliseconds since the Unix epoch.
    pub ts_ms: u64,
    /// What happened.
    pub outcome: Outcome,
    /// Why it was discarded (`null` unless discarded).
    pub reason: Option<DiscardReason>,
    /// The sender's window label, as the transport reported it; cut to
    /// 128 bytes (at a character boundary, `MAX_WINDOW_LEN`).
    pub window: String,
    /// The label's length in bytes, when it was cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_len: Option<usize>,
    /// The sender's origin, as the transport reported it; cut to
    /// 256 bytes (at a character boundary).
    pub origin: String,
    /// The origin's length in bytes, when it was cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_len: Option<usize>,
    /// `invoke` or `emit`, once authenticated.
    pub kind: Option<MessageKind>,
    /// Command or event name, once authenticated.
    pub name: Option<String>,
    /// Frame load id and sequence number, once authenticated.
    pub load_id: Option<u32>,
    /// Sequence number within the load, once authenticated.
    pub seq: Option<u64>,
    /// Id of the policy rule that decided, if any.
    pub rule: Option<String>,
    /// Ids of the grants the message used, comma-separated, or of the spent
    /// grant it was refused by (`docs/POLICY.md`, "Grants").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// A human explanation for the host's log (never sent to the frontend).
    pub detail: Option<String>,
    /// Arguments or payload, only when the host opted in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
    /// Audit events dropped by the audit rate cap just before this one.
    #[serde(skip_serializing_if = "is_zero")]
    pub suppressed: u64,
}

/// Longest window label an audit event carries: a longer one (a transport
/// that lets the page name its window) is cut, and its length kept.
pub const MAX_AUDIT_WINDOW: usize = crate::names::MAX_WINDOW_LEN;
/// Longest origin an audit event carries.
pub const MAX_AUDIT_ORIGIN: usize = 256;

/// `text` cut to at most `max` bytes at a character boundary, and its
/// length when it was cut.
pub(crate) fn clip(text: &str, max: usize) -> (String, Option<usize>) {
    if text.len() <= max {
        return (text.to_owned(), None);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (
        text.get(..end).unwrap_or_default().to_owned(),
        Some(text.len()),
    )
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl AuditEvent {
    /// The event as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// An audit sink that writes one JSON line per event to `writer` (a log
/// file, stderr, a pipe to the host's log shipper). Write errors are ignored:
/// auditing must never take the gate down.
pub fn json_lines_sink<W>(writer: W) -> impl Fn(&AuditEvent) + Send + Sync
where
    W: std::io::Write + Send + 'static,
{
    let writer = std::sync::Mutex::new(writer);
    move |event: &AuditEvent| {
        let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(w, "{}", event.to_json());
        let _ = w.flush();
    }
}

/// An audit sink that records each event as a `tracing` event with target
/// `isogate::audit`: discards and drops at `WARN`, dispatches and deliveries
/// at `INFO`, the event's fields as fields (`reason` and `rule` empty when
/// unset). For hosts that log with `tracing`; arguments are never logged
/// here, whatever [`crate::Gate::with_audit_arguments`] says.
#[cfg(feature = "tracing")]
pub fn tracing_sink() -> impl Fn(&AuditEvent) + Send + Sync + 'static {
    |e: &AuditEvent| {
        let reason = e.reason.map_or("", DiscardReason::as_str);
        let kind = e.kind.map_or("", MessageKind::as_str);
        let name = e.name.as_deref().unwrap_or("");
        let rule = e.rule.as_deref().unwrap_or("");
        let outcome = match e.outcome {
            Outcome::Dispatched => "dispatched",
            Outcome::Delivered => "delivered",
            Outcome::Discarded => "discarded",
            Outcome::Dropped => "dropped",
        };
        match e.outcome {
            Outcome::Discarded | Outcome::Dropped => tracing::warn!(
                target: "isogate::audit",
                outcome, reason, window = %e.window, origin = %e.origin,
                kind, name, rule, suppressed = e.suppressed,
                "isogate {outcome}"
            ),
            Outcome::Dispatched | Outcome::Delivered => tracing::info!(
                target: "isogate::audit",
                outcome, reason, window = %e.window, origin = %e.origin,
                kind, name, rule, suppressed = e.suppressed,
                "isogate {outcome}"
            ),
        }
    }
}

/// Counts of what the gate did, by outcome and discard reason: atomics, so
/// counting takes no lock. On cache lines of their own (128 bytes: the
/// adjacent-line prefetcher pairs 64-byte lines), as the gate's lock is:
/// every message from every thread writes here, and a line shared with
/// what every message only reads (the key, the policy pointer) is lost to
/// the other core on each write (`BENCHMARKS.md`, "Two threads, one gate").
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counters {
    dispatched: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    discarded: [AtomicU64; DiscardReason::ALL.len()],
    audit_suppressed: AtomicU64,
}

impl Counters {
    pub(crate) fn count(&self, outcome: Outcome, reason: Option<DiscardReason>) {
        let counter = match (outcome, reason) {
            (Outcome::Dispatched, _) => &self.dispatched,
            (Outcome::Delivered, _) => &self.delivered,
            (Outcome::Dropped, _) => &self.dropped,
            (Outcome::Discarded, Some(r)) => match self.discarded.get(r as usize) {
                Some(c) => c,
                None => return,
            },
            (Outcome::Discarded, None) => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_suppressed(&self) {
        self.audit_suppressed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> CounterSnapshot {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CounterSnapshot {
            dispatched: read(&self.dispatched),
            delivered: read(&self.delivered),
            dropped: read(&self.dropped),
            discarded: DiscardReason::ALL
                .iter()
                .map(|&r| (r, self.discarded.get(r as usize).map_or(0, read)))
                .collect(),
            audit_suppressed: read(&self.audit_suppressed),
        }
    }
}

/// A point-in-time copy of the gate's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CounterSnapshot {
    /// Commands handed to the router.
    pub dispatched: u64,
    /// Events handed to listeners.
    pub delivered: u64,
    /// Replies and events to windows dropped by the host layer (full queue).
    pub dropped: u64,
    /// Discards by reason (every reason listed, zero included).
    pub discarded: Vec<(DiscardReason, u64)>,
    /// Audit events dropped by the audit rate cap.
    pub audit_suppressed: u64,
}

impl CounterSnapshot {
    /// Discards for one reason.
    pub fn discarded(&self, reason: DiscardReason) -> u64 {
        self.discarded
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }

    /// All discards.
    pub fn discarded_total(&self) -> u64 {
        self.discarded.iter().map(|(_, n)| n).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_indexed_by_discriminant() {
        for (i, r) in DiscardReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }
}
