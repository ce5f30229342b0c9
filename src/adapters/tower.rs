//! A `tower` layer that gates a service (feature `tower`).
//!
//! The app's router is a `Service<CallRequest, Response = Value, Error =
//! Value>`: `Ok` is the command's result, `Err` the app's own error, both
//! sent to the caller as the reply. [`GateLayer`] wraps it into a
//! `Service<RawEnvelope, Response = Option<Reply>>`: the transport hands it
//! what a window posted, and gets back the reply to send, or `None` when the
//! envelope was discarded (audited) or was an event.
//!
//! ```
//! use isogate::adapters::tower::{GateLayer, RawEnvelope};
//! use isogate::router::NoRouter;
//! use isogate::{CallRequest, Gate, LaunchKey, Policy};
//! use serde_json::{json, Value};
//! use std::sync::Arc;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let gate = Arc::new(Gate::new(LaunchKey::generate()?, Policy::load(&[])?, NoRouter));
//! let service = ServiceBuilder::new()
//!     .layer(GateLayer::new(Arc::clone(&gate)))
//!     // ... any tower middleware over `CallRequest`s goes here ...
//!     .service(service_fn(|req: CallRequest| async move {
//!         match req.cmd.as_str() {
//!             "greet" => Ok::<Value, Value>(json!("hello")),
//!             _ => Err(json!("unknown command")),
//!         }
//!     }));
//! // In the transport: `service.oneshot(RawEnvelope::text("main", origin, posted)).await`.
//! let unsealed = RawEnvelope::binary("main", "app://localhost", b"raw bytes".to_vec());
//! # let _ = (service, unsealed);
//! # Ok(())
//! # }
//! ```
//!
//! Events that pass the gate go to the gate's own listeners
//! ([`Gate::with_listener`]). The gated service is ready when the inner one
//! is; its only error is an error of the inner service's `poll_ready`.

use crate::gate::{Admitted, CallRequest, Gate, Reply, Router, Sender};
use pin_project_lite::pin_project;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// What a window posted, and who the transport says posted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEnvelope {
    /// The sender's window label, as the transport knows it.
    pub window: String,
    /// The sender's origin, as the transport knows it.
    pub origin: String,
    /// The envelope.
    pub data: EnvelopeData,
}

/// An envelope in one of the two transport encodings (`docs/WIRE.md` §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeData {
    /// The envelope bytes (an HTTP body, an `ArrayBuffer`).
    Binary(Vec<u8>),
    /// base64url text (webview IPC `postMessage(string)`).
    Text(String),
}

impl RawEnvelope {
    /// A binary envelope.
    pub fn binary(
        window: impl Into<String>,
        origin: impl Into<String>,
        bytes: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            window: window.into(),
            origin: origin.into(),
            data: EnvelopeData::Binary(bytes.into()),
        }
    }

    /// A text (base64url) envelope.
    pub fn text(
        window: impl Into<String>,
        origin: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            window: window.into(),
            origin: origin.into(),
            data: EnvelopeData::Text(text.into()),
        }
    }

    /// The sender, for the gate.
    pub fn sender(&self) -> Sender<'_> {
        Sender {
            window: &self.window,
            origin: &self.origin,
        }
    }
}

/// A [`Layer`] that puts `gate` in front of a service over [`CallRequest`]s.
pub struct GateLayer<R> {
    gate: Arc<Gate<R>>,
}

impl<R> GateLayer<R> {
    /// A layer sharing `gate` (which also renders frames, holds the policy
    /// and counts).
    pub fn new(gate: Arc<Gate<R>>) -> Self {
        Self { gate }
    }
}

impl<R> Clone for GateLayer<R> {
    fn clone(&self) -> Self {
        Self {
            gate: Arc::clone(&self.gate),
        }
    }
}

impl<S, R> Layer<S> for GateLayer<R> {
    type Service = GateService<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        GateService {
            inner,
            gate: Arc::clone(&self.gate),
        }
    }
}

/// A service over [`RawEnvelope`]s that only hands its inner service
/// commands that passed every check of the gate.
pub struct GateService<S, R> {
    inner: S,
    gate: Arc<Gate<R>>,
}

impl<S, R> GateService<S, R> {
    /// Gates `inner` with `gate`.
    pub fn new(gate: Arc<Gate<R>>, inner: S) -> Self {
        Self { inner, gate }
    }

    /// The gate.
    pub fn gate(&self) -> &Arc<Gate<R>> {
        &self.gate
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, R> Clone for GateService<S, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            gate: Arc::clone(&self.gate),
        }
    }
}

impl<S, R> Service<RawEnvelope> for GateService<S, R>
where
    S: Service<CallRequest, Response = Value, Error = Value>,
    R: Router,
{
    type Response = Option<Reply>;
    type Error = Value;
    type Future = GateFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Value>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: RawEnvelope) -> Self::Future {
        let sender = Sender {
            window: &req.window,
            origin: &req.origin,
        };
        let admitted = match req.data {
            // The body is the service's own: opened in place.
            EnvelopeData::Binary(bytes) => self.gate.check(sender, bytes),
            EnvelopeData::Text(ref text) => self.gate.check(sender, text),
        };
        let state = match admitted {
            Ok(Admitted::Call(call)) => State::Call {
                id: call.id,
                fut: self.inner.call(call),
            },
            Ok(event @ Admitted::Event(_)) => {
                self.gate.dispatch(&event);
                State::Done
            }
            Err(_) => State::Done,
        };
        GateFuture { state }
    }
}

pin_project! {
    /// The future of [`GateService`]: the inner call mapped to a [`Reply`].
    pub struct GateFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Done,
        Call { id: u64, #[pin] fut: F },
    }
}

impl<F> Future for GateFuture<F>
where
    F: Future<Output = Result<Value, Value>>,
{
    type Output = Result<Option<Reply>, Value>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Done => Poll::Ready(Ok(None)),
            StateProj::Call { id, fut } => fut
                .poll(cx)
                .map(|result| Ok(Some(Reply { id: *id, result }))),
        }
    }
}
