//! Audit events: what the host learns about every message, and the only
//! place discard reasons go. The frontend never sees any of this.

use crate::message::MessageKind;
use serde::Serialize;
use serde_json::Value;

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
    /// All reasons, in check order.
    pub const ALL: [DiscardReason; 11] = [
        Self::TooLarge,
        Self::Malformed,
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
}

/// One audit event. Serialized as one JSON object with these field names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    /// What happened.
    pub outcome: Outcome,
    /// Why it was discarded (`null` unless discarded).
    pub reason: Option<DiscardReason>,
    /// The sender's window label, as the transport reported it.
    pub window: String,
    /// The sender's origin, as the transport reported it.
    pub origin: String,
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
    /// A human explanation for the host's log (never sent to the frontend).
    pub detail: Option<String>,
    /// Arguments or payload, only when the host opted in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
}

impl AuditEvent {
    /// The event as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
