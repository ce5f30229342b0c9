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
//! The API is this page: the types above and the items re-exported below,
//! plus four namespaces: [`host`] (the host layer's limits, queues and
//! audit fan-out), [`router`] (a handler table, a router for gates that
//! only check), [`adapters`] (tower and JSON-RPC, behind features) and
//! [`review`] and [`learn`] (the reviewer tools behind `isogate diff`,
//! `who-can`, `coverage` and `learn`). The pipeline's stages (key,
//! envelope, replay, message, policy, gate, audit, frame) are private
//! modules.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// The pipeline's stages: private modules.
mod audit;
mod envelope;
mod frame;
mod gate;
mod grant;
mod key;
mod message;
mod policy;
mod rate;
mod replay;

/// Stages by path, for the crate's own tests, benches and fuzz targets
/// (feature `test-util`, never in a default build), which test each stage
/// alone. Not an API: nothing outside this repository may use it.
#[cfg(feature = "test-util")]
#[doc(hidden)]
pub mod stages {
    /// The envelope codec.
    pub mod envelope {
        pub use crate::envelope::*;
    }
    /// Message decoding.
    pub mod message {
        pub use crate::message::*;
    }
    /// The replay guard.
    pub mod replay {
        pub use crate::replay::*;
    }
    /// Per-window rates.
    pub mod rate {
        pub use crate::rate::*;
    }
}

pub mod adapters;
#[cfg(any(test, feature = "test-util"))]
pub mod danger;
#[cfg(any(test, feature = "test-util"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod host;
pub mod learn;
mod names;
mod number;
pub mod router;
#[cfg(test)]
mod test_rng;

#[cfg(feature = "tracing")]
pub use audit::tracing_sink;
pub use audit::{json_lines_sink, AuditEvent, CounterSnapshot, DiscardReason, Outcome};
pub use envelope::MAX_ENVELOPE_LEN;
pub use frame::{
    is_serialized_origin, FrameDocument, FrameError, MAX_HOOK_LEN, SANDBOX, SHIM_SCRIPT,
};
pub use gate::{
    Admitted, Call, CallRequest, Event, EventMessage, Gate, Handler, Reply, Router, Sender,
    Verdict, Wire,
};
pub use grant::{Grant, GrantError, GrantId, GrantValue, MAX_GRANTS_PER_WINDOW};
pub use host::{AuditHub, Host};
pub use key::{KeyFileError, LaunchKey, RandomError};
pub use message::{DecodeError, Json, Limits, Message, MessageKind, Object};
pub use names::{is_window_label, MAX_WINDOW_LEN};
pub use policy::{
    review, Decision, Policy, PolicyError, PolicyErrors, PolicySource, Rate, Request,
};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
