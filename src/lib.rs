//! isogate: a sandboxed isolation layer between an untrusted webview
//! frontend and an app's existing IPC router.
//!
//! Every frontend message is sealed by an isolation iframe with a per-launch
//! AES-256-GCM key ([`LaunchKey`]). The [`Gate`] opens it, rejects replays and
//! envelopes bound to another window or frame load, decodes it within hard
//! limits, checks it against the allowlist [`Policy`], then hands it to the
//! wrapped [`Router`] — or discards it silently, telling only the host, via
//! an [`AuditEvent`].
//!
//! The pipeline, one module per stage: [`key`] → [`envelope`] → [`replay`] →
//! [`message`] → [`policy`] → [`gate`], with [`audit`] events on the side and
//! [`frame`] rendering the isolation document.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod adapters;
pub mod audit;
#[cfg(any(test, feature = "test-util"))]
pub mod danger;
pub mod envelope;
pub mod frame;
#[cfg(any(test, feature = "test-util"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod gate;
pub mod grant;
pub mod host;
pub mod key;
pub mod learn;
pub mod message;
mod names;
mod number;
pub mod policy;
pub mod rate;
pub mod replay;
pub mod router;
#[cfg(test)]
mod test_rng;

pub use audit::{json_lines_sink, AuditEvent, CounterSnapshot, DiscardReason, Outcome};
pub use frame::FrameDocument;
pub use gate::{
    Admitted, Call, CallRequest, Event, EventMessage, Gate, Handler, Reply, Router, Sender,
    Verdict, Wire,
};
pub use grant::{Grant, GrantError, GrantId, GrantValue};
pub use host::{AuditHub, Host};
pub use key::LaunchKey;
pub use message::{Limits, MessageKind};
pub use names::{is_window_label, MAX_WINDOW_LEN};
pub use policy::{Decision, Policy, PolicyError, PolicyErrors, PolicySource, Rate, Request};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
