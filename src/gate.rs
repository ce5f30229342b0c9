//! The gate: wraps the app's router, opens and checks every envelope, and
//! dispatches it or discards it silently with an audit event.

use crate::audit::{AuditEvent, CounterSnapshot, Counters, DiscardReason, Outcome};
use crate::envelope;
use crate::frame::{self, FrameDocument, FrameError};
use crate::grant::{Grant, GrantError, GrantId, Grants, Use};
use crate::key::LaunchKey;
use crate::message::{self, DecodeError, Json, Message, MessageKind, Object};
use crate::policy::{self, Policy, PolicyErrors, PolicySource, Query};
use crate::rate::{TokenBucket, WindowRates};
use crate::replay::{ReplayError, ReplayGuard};
use arc_swap::ArcSwap;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Largest sealed part (ciphertext and tag) the binary transport opens in
/// a stack buffer instead of a heap copy.
const SMALL_ENVELOPE: usize = 512;

/// Default cap on audit events: a steady rate and a burst, per gate.
pub const DEFAULT_AUDIT_RATE: (u32, u32) = (1000, 2000);

/// Who sent the bytes, as the transport (not the bytes) says: the webview's
/// window label and its top-level origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender<'a> {
    /// Window label.
    pub window: &'a str,
    /// Serialized origin, e.g. `http://127.0.0.1:8917`.
    pub origin: &'a str,
}

/// One command call that passed every check, as the router sees it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Caller-chosen id (the gate echoes it in the reply itself).
    pub id: u64,
    /// Command name.
    pub cmd: &'a str,
    /// Arguments, borrowed from the opened message (`args["name"]`,
    /// `args.get("name")`; [`Object::to_map`] for a `serde_json::Map`).
    pub args: &'a Object<'a>,
    /// Raw binary argument (may be empty).
    pub body: &'a [u8],
    /// Sender.
    pub sender: Sender<'a>,
}

/// One frontend event that passed every check, as listeners see it.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// Event name.
    pub name: &'a str,
    /// Payload, borrowed from the opened message.
    pub payload: &'a Json<'a>,
    /// Sender.
    pub sender: Sender<'a>,
}

/// The app's existing command router.
pub trait Router {
    /// Runs one command. `Err` carries the app's own error value, which is
    /// sent to the caller as is.
    fn call(&self, call: Call<'_>) -> Result<Value, Value>;
}

impl<F> Router for F
where
    F: Fn(Call<'_>) -> Result<Value, Value>,
{
    fn call(&self, call: Call<'_>) -> Result<Value, Value> {
        self(call)
    }
}

/// A handler in a table router.
pub type Handler = Box<dyn Fn(Call<'_>) -> Result<Value, Value> + Send + Sync>;

/// A table of handlers by command name is a router; an unknown name is the
/// app's own error.
impl Router for HashMap<String, Handler> {
    fn call(&self, call: Call<'_>) -> Result<Value, Value> {
        match self.get(call.cmd) {
            Some(handler) => handler(call),
            None => Err(Value::String(format!("unknown command `{}`", call.cmd))),
        }
    }
}

/// The reply to a dispatched command.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The call id from the message.
    pub id: u64,
    /// The router's result or error.
    pub result: Result<Value, Value>,
}

impl Reply {
    /// The reply as JSON, per `docs/WIRE.md` section 6.
    pub fn to_json(&self) -> String {
        let value = match &self.result {
            Ok(v) => serde_json::json!({"id": self.id, "ok": true, "result": v}),
            Err(e) => serde_json::json!({"id": self.id, "ok": false, "error": e}),
        };
        value.to_string()
    }
}

/// What the gate did with one envelope, as [`Gate::handle_verbose`]
/// reports it: the gate's own outcome for that envelope, whatever the audit
/// rate (tools that replay captured traffic, `isogate open`, print it). For
/// the host only; never send any of it to the frontend, except
/// `debug_reason`, which exists for that.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// What happened.
    pub outcome: Outcome,
    /// Why it was discarded (`None` unless discarded).
    pub reason: Option<DiscardReason>,
    /// `invoke` or `emit`, once the message decoded.
    pub kind: Option<MessageKind>,
    /// Command or event name, once the message decoded.
    pub name: Option<String>,
    /// Id of the policy rule that decided, once the policy was consulted:
    /// the allow rule that admitted it, or the deny rule that refused it
    /// (`None` when nothing allowed it and no deny rule applied).
    pub rule: Option<String>,
    /// The reply a dispatched command produced.
    pub reply: Option<Reply>,
    /// Why the message was discarded, in words, for the page's console
    /// while developing. Only ever set in debug builds of a host that
    /// called `with_debug_reasons`; release builds cannot set it.
    pub debug_reason: Option<String>,
}

/// An envelope as a transport carries it, for [`Gate::handle`] and
/// [`Gate::check`]. `From` conversions pick the variant: `&[u8]`, `&[u8; N]`
/// and `&Vec<u8>` are [`Wire::Binary`], `&str` and `&String` are
/// [`Wire::Text`], `Vec<u8>` is [`Wire::Owned`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire<'a> {
    /// The binary envelope (`docs/WIRE.md` section 2), borrowed: opened
    /// into a copy (on the stack when small).
    Binary(&'a [u8]),
    /// The text transport (base64url, `docs/WIRE.md` section 5): decoded
    /// into a buffer of the gate's own and opened in place.
    Text(&'a str),
    /// A binary envelope the host hands over (a request body it owns):
    /// opened in place, without a copy.
    Owned(Vec<u8>),
}

impl<'a> From<&'a [u8]> for Wire<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Wire::Binary(bytes)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Wire<'a> {
    fn from(bytes: &'a [u8; N]) -> Self {
        Wire::Binary(bytes)
    }
}

impl<'a> From<&'a Vec<u8>> for Wire<'a> {
    fn from(bytes: &'a Vec<u8>) -> Self {
        Wire::Binary(bytes)
    }
}

impl<'a> From<&'a str> for Wire<'a> {
    fn from(text: &'a str) -> Self {
        Wire::Text(text)
    }
}

impl<'a> From<&'a String> for Wire<'a> {
    fn from(text: &'a String) -> Self {
        Wire::Text(text)
    }
}

impl From<Vec<u8>> for Wire<'_> {
    fn from(bytes: Vec<u8>) -> Self {
        Wire::Owned(bytes)
    }
}

/// A message that passed every check of [`Gate::check`], owned, for
/// a router that runs later or elsewhere (an async router, a `tower`
/// service, a JSON-RPC module). Its audit event (`dispatched` or
/// `delivered`) is already recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Admitted {
    /// A command: run it and send back `Reply { id: request.id, result }`.
    Call(CallRequest),
    /// An event: hand it to [`Gate::deliver_event`] or to your own listeners.
    Event(EventMessage),
}

/// An admitted command, owned: [`Call`] for routers that outlive the borrow.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRequest {
    /// Caller-chosen id; the reply must carry it.
    pub id: u64,
    /// Command name.
    pub cmd: String,
    /// Arguments.
    pub args: Object<'static>,
    /// Raw binary argument (may be empty).
    pub body: Vec<u8>,
    /// Sender window label.
    pub window: String,
    /// Sender origin.
    pub origin: String,
    /// The frame load that sealed the call: its reply goes to that load
    /// only ([`crate::Host::reply`]).
    pub load_id: u32,
}

impl CallRequest {
    /// The borrowed view a [`Router`] takes.
    pub fn as_call(&self) -> Call<'_> {
        Call {
            id: self.id,
            cmd: &self.cmd,
            args: &self.args,
            body: &self.body,
            sender: Sender {
                window: &self.window,
                origin: &self.origin,
            },
        }
    }
}

/// An admitted event, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMessage {
    /// Event name.
    pub name: String,
    /// Payload.
    pub payload: Json<'static>,
    /// Sender window label.
    pub window: String,
    /// Sender origin.
    pub origin: String,
}

impl EventMessage {
    /// The borrowed view listeners take.
    pub fn as_event(&self) -> Event<'_> {
        Event {
            name: &self.name,
            payload: &self.payload,
            sender: Sender {
                window: &self.window,
                origin: &self.origin,
            },
        }
    }
}

/// The envelope's bytes as [`Gate::admit`] gets them.
enum Input<'b> {
    /// Borrowed (the binary transport): opened into a copy.
    Borrowed(&'b [u8]),
    /// Decoded by the gate itself (the text transport): opened in place.
    Owned(&'b mut [u8]),
}

/// What passed every check: the decoded message, still borrowing the
/// opened plaintext, and its sender. A command's `args` is an object.
struct Checked<'a> {
    msg: Message<'a>,
    sender: Sender<'a>,
    load_id: u32,
}

impl Checked<'_> {
    /// The owned form; the arguments or payload are moved, not cloned.
    fn into_owned(self) -> Admitted {
        let window = self.sender.window.to_owned();
        let origin = self.sender.origin.to_owned();
        match self.msg {
            Message::Invoke {
                id,
                cmd,
                args,
                body,
            } => Admitted::Call(CallRequest {
                id,
                cmd: cmd.into_owned(),
                args: match args.into_owned() {
                    Json::Object(args) => args,
                    _ => Object::default(),
                },
                body: body.to_vec(),
                window,
                origin,
                load_id: self.load_id,
            }),
            Message::Emit { event, payload } => Admitted::Event(EventMessage {
                name: event.into_owned(),
                payload: payload.into_owned(),
                window,
                origin,
            }),
        }
    }
}

type AuditSink = Box<dyn Fn(&AuditEvent) + Send + Sync>;
type Listener = Box<dyn Fn(Event<'_>) + Send + Sync>;

/// Wraps a router so that it only sees messages sealed by this launch's
/// isolation frame, never replayed, bound to their window, within limits and
/// allowed by the policy.
///
/// A gate may be shared between threads. Only the replay and rate state sit
/// under a lock, taken once per envelope that passes the tag and held for
/// those two checks; the AES open, decoding, the policy decision (on a
/// snapshot of the policy, swapped atomically without a lock on the read
/// path), counting, audit formatting and the router all run outside it, in
/// parallel.
pub struct Gate<R> {
    key: LaunchKey,
    state: Mutex<State>,
    /// The policy in force; each message decides on one snapshot of it, so
    /// a swap never lands between a message's limits and its decision.
    policy: ArcSwap<Policy>,
    counters: Counters,
    /// The audit rate's budget, taken only when an audit sink is set.
    audit_budget: Mutex<AuditBudget>,
    next_load: AtomicU32,
    audit: Option<AuditSink>,
    listeners: Vec<(String, Listener)>,
    audit_args: bool,
    audit_rate: (u32, u32),
    max_envelope_len: usize,
    #[cfg(debug_assertions)]
    debug: DebugAids,
    router: R,
}

/// The state a message updates under the gate's one lock: which envelopes
/// each window has had accepted, and each window's rate. The lock and the
/// state are on cache lines of their own (see `audit::Counters`).
#[repr(align(128))]
struct State {
    replay: ReplayGuard,
    rates: WindowRates,
    grants: Grants,
}

/// A sender's grants, as the policy's decision sees them: read under the
/// gate's lock, which the decision itself does not hold.
struct SenderGrants<'g> {
    state: &'g Mutex<State>,
    window: &'g str,
    load_id: u32,
}

impl policy::Granted for SenderGrants<'_> {
    fn granted(&self, command: &str, argument: &str, value: &Json<'_>) -> bool {
        lock(self.state).grants.admits(
            self.window,
            self.load_id,
            (command, argument),
            value,
            Instant::now(),
        )
    }
}

/// The audit rate's token bucket.
struct AuditBudget {
    bucket: TokenBucket,
    /// Audit events suppressed since the last one sent.
    suppressed: u64,
}

/// Development aids that exist only in debug builds.
#[cfg(debug_assertions)]
#[derive(Default)]
struct DebugAids {
    reasons: bool,
    learning: Option<Mutex<Box<dyn std::io::Write + Send>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking audit sink or listener must not wedge the gate.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Everything the gate knows about a message while checking it.
#[derive(Default)]
struct Trail {
    /// Whether the caller wants a [`Verdict`]: name and rule are kept even
    /// without an audit sink.
    verdict: bool,
    kind: Option<MessageKind>,
    name: Option<String>,
    load_id: Option<u32>,
    seq: Option<u64>,
    rule: Option<String>,
    detail: Option<String>,
    args: Option<Value>,
    /// Ids of the grants the message used (or the spent one it tried).
    grant: Option<String>,
}

impl Trail {
    /// What a [`Verdict`] needs of this trail (nothing unless it was asked
    /// for), kept before the trail goes to the audit event.
    fn kept(&self) -> Trail {
        if !self.verdict {
            return Trail::default();
        }
        Trail {
            verdict: true,
            kind: self.kind,
            name: self.name.clone(),
            rule: self.rule.clone(),
            ..Trail::default()
        }
    }
}

impl<R: Router> Gate<R> {
    /// A gate with this launch's key, a compiled policy and the app's router.
    pub fn new(key: LaunchKey, policy: Policy, router: R) -> Self {
        Self {
            key,
            state: Mutex::new(State {
                replay: ReplayGuard::new(),
                rates: WindowRates::default(),
                grants: Grants::default(),
            }),
            policy: ArcSwap::from_pointee(policy),
            counters: Counters::default(),
            audit_budget: Mutex::new(AuditBudget {
                bucket: TokenBucket::full(DEFAULT_AUDIT_RATE.1, Instant::now()),
                suppressed: 0,
            }),
            next_load: AtomicU32::new(1),
            audit: None,
            listeners: Vec::new(),
            audit_args: false,
            audit_rate: DEFAULT_AUDIT_RATE,
            max_envelope_len: envelope::MAX_ENVELOPE_LEN,
            #[cfg(debug_assertions)]
            debug: DebugAids::default(),
            router,
        }
    }

    /// Sends every audit event (dispatches and discards) to `sink`.
    pub fn with_audit(mut self, sink: impl Fn(&AuditEvent) + Send + Sync + 'static) -> Self {
        self.audit = Some(Box::new(sink));
        self
    }

    /// Includes arguments and payloads in audit events. Off by default:
    /// argument values may hold user data.
    pub fn with_audit_arguments(mut self, on: bool) -> Self {
        self.audit_args = on;
        self
    }

    /// Caps audit events at `per_second` with bursts of `burst` (default
    /// 1,000 a second, bursts of 2,000). Events over the cap are counted, not sent; the
    /// next event sent carries the count in `suppressed`.
    pub fn with_audit_rate(mut self, per_second: u32, burst: u32) -> Self {
        self.audit_rate = (per_second, burst);
        let budget = self
            .audit_budget
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        budget.bucket = TokenBucket::full(burst, Instant::now());
        budget.suppressed = 0;
        self
    }

    /// Debug builds only: [`Gate::handle_verbose`] also returns why a message
    /// was discarded, for the host to echo to the page's console while
    /// developing. This method does not exist in release builds.
    #[cfg(debug_assertions)]
    pub fn with_debug_reasons(mut self) -> Self {
        self.debug.reasons = true;
        self
    }

    /// Debug builds only: policy learning mode. Every opened message
    /// (authenticated, not replayed, decoded) is written to `writer` as one
    /// JSON line, allowed or not, while the policy is still enforced. Feed
    /// the file to `isogate learn`. This method does not exist in release
    /// builds.
    #[cfg(debug_assertions)]
    pub fn with_learning(mut self, writer: impl std::io::Write + Send + 'static) -> Self {
        self.debug.learning = Some(Mutex::new(Box::new(writer)));
        self
    }

    /// Counts of dispatches, deliveries and discards by reason so far.
    pub fn counters(&self) -> CounterSnapshot {
        self.counters.snapshot()
    }

    /// Delivers allowed frontend events named `event` to `listener`.
    pub fn with_listener(
        mut self,
        event: &str,
        listener: impl Fn(Event<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.listeners.push((event.to_owned(), Box::new(listener)));
        self
    }

    /// Lowers the largest envelope accepted from transports (default and
    /// maximum [`envelope::MAX_ENVELOPE_LEN`]).
    pub fn with_max_envelope_len(mut self, len: usize) -> Self {
        self.max_envelope_len = len.min(envelope::MAX_ENVELOPE_LEN);
        self
    }

    /// The wrapped router.
    pub fn get_ref(&self) -> &R {
        &self.router
    }

    /// Unwraps the router.
    pub fn into_inner(self) -> R {
        self.router
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.load_full()
    }

    /// Swaps in a new policy atomically; messages in flight finish under the
    /// policy they started with.
    pub fn replace_policy(&self, policy: Policy) {
        self.policy.store(Arc::new(policy));
    }

    /// Loads and swaps in a new policy set. A set that fails validation is
    /// refused and the policy in force stays.
    pub fn reload_policy(&self, sources: &[PolicySource<'_>]) -> Result<(), PolicyErrors> {
        let policy = Policy::load(sources)?;
        self.replace_policy(policy);
        Ok(())
    }

    /// Renders a fresh isolation-frame document for `window`, whose top-level
    /// origin is `parent_origin`. Each call starts a new frame load and
    /// retires the window's earlier loads. Serve the result once.
    pub fn render_frame(
        &self,
        window: &str,
        parent_origin: &str,
        hook_script: Option<&str>,
    ) -> Result<FrameDocument, FrameError> {
        frame::check_inputs(window, parent_origin, hook_script)?;
        let load_id = self.next_load.fetch_add(1, Ordering::Relaxed);
        if load_id == u32::MAX {
            return Err(FrameError::LoadsExhausted);
        }
        {
            let mut state = lock(&self.state);
            state
                .replay
                .begin_load(window, load_id)
                .map_err(|_| FrameError::TooManyWindows)?;
            state.grants.begin_load(window, load_id);
        }
        frame::render(&self.key, load_id, window, parent_origin, hook_script)
    }

    /// Forgets a closed window's replay and rate state. Its loads stay
    /// retired: its envelopes are refused from now on.
    pub fn close_window(&self, window: &str) {
        let mut state = lock(&self.state);
        state.replay.forget(window);
        state.rates.forget(window);
        state.grants.forget(window);
    }

    /// Grants `window`'s current frame load a narrow right: calls of
    /// `grant.command` whose argument `grant.argument` (typed `grant` in the
    /// policy rule) has the granted value, `grant.uses` times within
    /// `grant.ttl` (`docs/POLICY.md`, "Grants"). A new frame load of the
    /// window, or its close, ends it.
    pub fn grant(&self, window: &str, grant: Grant) -> Result<GrantId, GrantError> {
        let mut state = lock(&self.state);
        let load_id = state
            .replay
            .current_load(window)
            .ok_or(GrantError::NoFrameLoad)?;
        state.grants.add(window, load_id, grant, Instant::now())
    }

    /// Ends a grant; `false` if it had ended already.
    pub fn revoke(&self, id: GrantId) -> bool {
        lock(&self.state).grants.revoke(id)
    }

    /// Discards a message whose window the host has not opened
    /// (`crate::host`): counted and audited as `wrong_window`, unopened.
    pub(crate) fn discard_unknown_window(&self, sender: Sender<'_>) {
        let trail = Trail {
            detail: Some("the sender's window is not open".into()),
            ..Trail::default()
        };
        self.discard(sender, DiscardReason::WrongWindow, trail);
    }

    /// Whether the policy lets the core send the event `name` with
    /// `payload` to the window `to` (label and origin): its `deliver` rules
    /// (`docs/POLICY.md`), or any event when the policy has none. A refusal
    /// is counted and audited (`outcome: "dropped"`, `reason: "denied"`,
    /// `kind: "deliver"`). The host layer's [`crate::Host::emit`] asks this
    /// for every event; a host that delivers events itself must too.
    pub fn may_deliver(&self, to: Sender<'_>, name: &str, payload: &Value) -> bool {
        let policy = self.policy.load();
        if !policy.governs_delivery() {
            return true;
        }
        let decision = policy.decide(&policy::Request {
            window: to.window,
            origin: to.origin,
            kind: MessageKind::Deliver,
            name,
            args: payload,
        });
        drop(policy);
        if !decision.allowed {
            let trail = Trail {
                kind: Some(MessageKind::Deliver),
                name: Some(name.to_owned()),
                rule: decision.rule,
                detail: Some(decision.reason),
                ..Trail::default()
            };
            self.record(to, Outcome::Dropped, Some(DiscardReason::Denied), trail);
        }
        decision.allowed
    }

    /// Whether the policy could deliver the event `name` to the window `to`
    /// with some payload (its `deliver` rules by name, window and origin,
    /// payload constraints aside; always without `deliver` rules). For hosts
    /// whose framework delivers events itself, to listeners the page
    /// registers (Tauri): refusing the registration of a listener for an
    /// event the window may never receive keeps the event from it.
    pub fn may_listen(&self, to: Sender<'_>, name: &str) -> bool {
        self.policy.load().delivers_some(to.window, to.origin, name)
    }

    /// Records a reply or event (`Deliver`, named) to a window that the host
    /// layer dropped: its queue was full (`reason` `None`), or the reply's
    /// frame load is gone (`StaleLoad`).
    pub(crate) fn record_dropped(
        &self,
        to: Sender<'_>,
        kind: MessageKind,
        name: Option<&str>,
        reason: Option<DiscardReason>,
    ) {
        let detail = match reason {
            Some(DiscardReason::StaleLoad) => "the frame load that sealed the call is gone",
            _ => "the window's delivery queue is full",
        };
        let trail = Trail {
            kind: Some(kind),
            name: name.map(str::to_owned),
            detail: Some(detail.into()),
            ..Trail::default()
        };
        self.record(to, Outcome::Dropped, reason, trail);
    }

    /// Checks one envelope and dispatches it: an admitted command runs on
    /// the router and its reply is returned; an admitted event goes to the
    /// listeners (`None`); anything else is discarded silently (`None`,
    /// counted and audited). Never panics, whatever the bytes.
    pub fn handle<'w>(&self, sender: Sender<'_>, wire: impl Into<Wire<'w>>) -> Option<Reply> {
        self.handle_traced(sender, wire.into(), Trail::default())
            .reply
    }

    /// [`Gate::handle`], returning what the gate did with the envelope (see
    /// [`Verdict`]): for tools that replay captured traffic and for debug
    /// consoles. The envelope is handled exactly as by `handle` (the router
    /// runs, the replay window moves, the audit sink hears of it).
    pub fn handle_verbose<'w>(&self, sender: Sender<'_>, wire: impl Into<Wire<'w>>) -> Verdict {
        let trail = Trail {
            verdict: true,
            ..Trail::default()
        };
        self.handle_traced(sender, wire.into(), trail)
    }

    /// Every check of [`Gate::handle`] without the dispatch: the one
    /// entry point for routers the gate does not call itself (async ones, a
    /// `tower` service, a JSON-RPC module, a framework's own dispatcher).
    /// Returns the admitted message, owned, or why it was discarded (for the
    /// host only: the frontend is told nothing). Both are counted and
    /// audited; an admitted message's audit event says `dispatched` (or
    /// `delivered`): the caller must now run the command and send
    /// `Reply { id, result }`, or deliver the event ([`Gate::dispatch`] does
    /// both with the gate's router and listeners).
    pub fn check<'w>(
        &self,
        sender: Sender<'_>,
        wire: impl Into<Wire<'w>>,
    ) -> Result<Admitted, DiscardReason> {
        let mut trail = Trail::default();
        match self.run(sender, wire.into(), &mut trail, |c| c.into_owned()) {
            Ok((admitted, _)) => Ok(admitted),
            Err(reason) => {
                self.discard(sender, reason, trail);
                Err(reason)
            }
        }
    }

    /// Runs an admitted command on the gate's router and returns its reply,
    /// or hands an admitted event to the gate's listeners (`None`): what
    /// [`Gate::handle`] does after [`Gate::check`].
    pub fn dispatch(&self, admitted: &Admitted) -> Option<Reply> {
        match admitted {
            Admitted::Call(call) => Some(Reply {
                id: call.id,
                result: self.router.call(call.as_call()),
            }),
            Admitted::Event(event) => {
                self.deliver_event(event.as_event());
                None
            }
        }
    }

    /// Checks and dispatches the message while it still borrows the
    /// plaintext; the verdict's kind, name and rule only when
    /// `trail.verdict`.
    fn handle_traced(&self, sender: Sender<'_>, wire: Wire<'_>, mut trail: Trail) -> Verdict {
        let dispatch = |checked: Checked<'_>| match &checked.msg {
            Message::Invoke {
                id,
                cmd,
                args,
                body,
            } => {
                let call = Call {
                    id: *id,
                    cmd,
                    // `admit` admits only object arguments.
                    args: args.as_object()?,
                    body,
                    sender: checked.sender,
                };
                Some(Reply {
                    id: *id,
                    result: self.router.call(call),
                })
            }
            Message::Emit { event, payload } => {
                self.deliver_event(Event {
                    name: event,
                    payload,
                    sender: checked.sender,
                });
                None
            }
        };
        match self.run(sender, wire, &mut trail, dispatch) {
            Ok((reply, outcome)) => Verdict {
                outcome,
                reason: None,
                kind: trail.kind,
                name: trail.name,
                rule: trail.rule,
                reply,
                debug_reason: None,
            },
            Err(reason) => {
                let kept = trail.kept();
                let debug_reason = self.discard(sender, reason, trail);
                Verdict {
                    outcome: Outcome::Discarded,
                    reason: Some(reason),
                    kind: kept.kind,
                    name: kept.name,
                    rule: kept.rule,
                    reply: None,
                    debug_reason,
                }
            }
        }
    }

    /// [`Gate::admit`] for the envelope as the transport carries it: the
    /// text transport's base64url is decoded into a buffer of the gate's
    /// own, and that (or an envelope handed over) is opened in place.
    fn run<T>(
        &self,
        sender: Sender<'_>,
        wire: Wire<'_>,
        trail: &mut Trail,
        dispatch: impl FnOnce(Checked<'_>) -> T,
    ) -> Result<(T, Outcome), DiscardReason> {
        match wire {
            Wire::Binary(bytes) => self.admit(sender, Input::Borrowed(bytes), trail, dispatch),
            Wire::Text(text) => {
                let mut bytes = self.text_bytes(text)?;
                self.admit(sender, Input::Owned(&mut bytes), trail, dispatch)
            }
            Wire::Owned(mut bytes) => self.admit(sender, Input::Owned(&mut bytes), trail, dispatch),
        }
    }

    fn text_bytes(&self, text: &str) -> Result<Vec<u8>, DiscardReason> {
        if text.len() / 4 * 3 > self.max_envelope_len + 3 {
            return Err(DiscardReason::TooLarge);
        }
        envelope::decode_base64(text.as_bytes()).ok_or(DiscardReason::Malformed)
    }

    /// Hands an event to the listeners registered with
    /// [`Gate::with_listener`] (what [`Gate::handle`] does with an admitted
    /// event).
    pub fn deliver_event(&self, event: Event<'_>) {
        for (name, listener) in &self.listeners {
            if name == event.name {
                listener(event);
            }
        }
    }

    /// Runs every check; on success hands the message to `dispatch` while it
    /// still borrows the plaintext, then records the outcome.
    fn admit<T>(
        &self,
        sender: Sender<'_>,
        input: Input<'_>,
        trail: &mut Trail,
        dispatch: impl FnOnce(Checked<'_>) -> T,
    ) -> Result<(T, Outcome), DiscardReason> {
        let copy;
        // Small envelopes (most calls) are opened in a copy on the stack:
        // no allocation for them.
        let mut scratch;
        // Declared after the plaintext's buffers, which its entries borrow.
        let mut slots = message::ArgSlots::new();
        let (env, plaintext) = match input {
            Input::Borrowed(bytes) => {
                if bytes.len() > self.max_envelope_len {
                    return Err(DiscardReason::TooLarge);
                }
                let env = envelope::decode(bytes).ok_or(DiscardReason::Malformed)?;
                let plaintext = if env.sealed.len() <= SMALL_ENVELOPE {
                    scratch = [0u8; SMALL_ENVELOPE];
                    envelope::open_into(&self.key, &env, &mut scratch)
                } else {
                    copy = envelope::open(&self.key, &env);
                    copy.as_deref()
                };
                (env, plaintext.ok_or(DiscardReason::BadTag)?)
            }
            Input::Owned(bytes) => {
                if bytes.len() > self.max_envelope_len {
                    return Err(DiscardReason::TooLarge);
                }
                envelope::open_in_place(&self.key, bytes).map_err(|e| match e {
                    envelope::Refused::Malformed => DiscardReason::Malformed,
                    envelope::Refused::BadTag => DiscardReason::BadTag,
                })?
            }
        };
        trail.load_id = Some(env.nonce.load_id);
        trail.seq = Some(env.nonce.seq);
        // One snapshot of the policy for the rate, the limits and the
        // decision of this message.
        let policy = self.policy.load();
        let binding = if env.window != sender.window {
            trail.detail = Some(format!("sealed for window `{}`", env.window));
            Err(DiscardReason::WrongWindow)
        } else if env.origin != sender.origin && !policy::same_origin(env.origin, sender.origin) {
            trail.detail = Some(format!("sealed for origin `{}`", env.origin));
            Err(DiscardReason::WrongOrigin)
        } else {
            Ok(())
        };
        {
            let mut state = lock(&self.state);
            // Every envelope that passes the tag counts against its sender's
            // rate, whatever a later check decides: a page cannot make the
            // core open, decode and decide without limit by sending envelopes
            // the policy denies, replays or invalid messages (WIRE 7).
            if let Some(rate) = policy.rate() {
                if !state
                    .rates
                    .allow(sender.window, rate.per_second, rate.burst, Instant::now())
                {
                    return Err(DiscardReason::RateLimited);
                }
            }
            binding?;
            state
                .replay
                .accept(env.window, env.nonce.load_id, env.nonce.seq)
                .map_err(|e| match e {
                    ReplayError::StaleLoad => DiscardReason::StaleLoad,
                    ReplayError::Replay => DiscardReason::Replay,
                    ReplayError::TooManyWindows => DiscardReason::OverLimit,
                })?;
        }
        let msg = message::decode_in(plaintext, &policy.limits(), Some(&mut slots)).map_err(
            |e| match e {
                DecodeError::Invalid => DiscardReason::BadMessage,
                DecodeError::OverLimit => DiscardReason::OverLimit,
            },
        )?;
        trail.kind = Some(msg.kind());
        if self.audit.is_some() || trail.verdict {
            // Only audit events and verdicts show the name: no copy when
            // nobody reads it.
            trail.name = Some(msg.name().to_owned());
        }
        // Read only if a rule asks for a grant: no lock, no clock otherwise.
        let grants = SenderGrants {
            state: &self.state,
            window: sender.window,
            load_id: env.nonce.load_id,
        };
        let query = Query {
            window: sender.window,
            origin: sender.origin,
            kind: msg.kind(),
            name: msg.name(),
            args: msg.args(),
            grants: Some(&grants),
        };
        let allowed = policy.allowing_rule(&query);
        #[cfg(debug_assertions)]
        self.record_learning(sender, &msg, allowed.is_some());
        if self.explains() || trail.verdict {
            // Words only for whoever reads them.
            let decision = match allowed {
                Some((rule, _)) => policy::allow(rule),
                None => policy.evaluate(&query, false),
            };
            trail.rule = decision.rule;
            trail.detail = Some(decision.reason);
        }
        if self.audit_args {
            trail.args = Some(msg.args().to_value());
        }
        let Some((_, grant_args)) = allowed else {
            // A refusal names the grant the call asked for, if any (spent,
            // expired, or with other arguments refused).
            trail.grant = lock(&self.state)
                .grants
                .fitting(sender.window, env.nonce.load_id, msg.name(), msg.args())
                .map(|id| id.to_string());
            return Err(DiscardReason::Denied);
        };
        if !grant_args.is_empty() {
            // The rule admitted these values because grants did: use them,
            // all or none, under the lock (a race for the last use is lost
            // here, not admitted twice).
            let values: Vec<(&str, &Json<'_>)> = grant_args
                .iter()
                .filter_map(|a| msg.args().get(a).map(|v| (a.as_str(), v)))
                .collect();
            let used = lock(&self.state).grants.take(
                sender.window,
                env.nonce.load_id,
                msg.name(),
                &values,
                Instant::now(),
            );
            match used {
                Use::Used(ids) => {
                    let ids: Vec<String> = ids.iter().map(GrantId::to_string).collect();
                    trail.grant = (!ids.is_empty()).then(|| ids.join(","));
                }
                Use::Refused(id) => {
                    trail.grant = id.map(|id| id.to_string());
                    trail.detail = Some("the grant was used up, expired or revoked".into());
                    return Err(DiscardReason::Denied);
                }
            }
        }
        let outcome = match &msg {
            Message::Invoke { args, .. } if !args.is_object() => {
                return Err(DiscardReason::BadMessage);
            }
            Message::Invoke { .. } => Outcome::Dispatched,
            Message::Emit { .. } => Outcome::Delivered,
        };
        self.counters.count(outcome, None);
        let ticket = self.audit_ticket();
        // The router does not hold the policy snapshot: a slow router must
        // not keep a swapped-out policy alive.
        drop(policy);
        let load_id = trail.load_id.unwrap_or_default();
        let dispatched = dispatch(Checked {
            msg,
            sender,
            load_id,
        });
        if let Some(suppressed) = ticket {
            let kept = trail.kept();
            self.emit(
                sender,
                outcome,
                None,
                std::mem::replace(trail, kept),
                suppressed,
            );
        }
        Ok((dispatched, outcome))
    }

    /// Whether anyone reads a decision's rule and reason: an audit sink, or
    /// debug reasons.
    fn explains(&self) -> bool {
        #[cfg(debug_assertions)]
        if self.debug.reasons {
            return true;
        }
        self.audit.is_some()
    }

    /// Counts and audits a discard; returns the debug reason (see
    /// [`Verdict::debug_reason`]).
    fn discard(&self, sender: Sender<'_>, reason: DiscardReason, trail: Trail) -> Option<String> {
        #[cfg(debug_assertions)]
        let debug_reason = self.debug.reasons.then(|| match &trail.detail {
            Some(detail) => format!("isogate discarded the message: {reason}: {detail}"),
            None => format!("isogate discarded the message: {reason}"),
        });
        #[cfg(not(debug_assertions))]
        let debug_reason = None;
        self.record(sender, Outcome::Discarded, Some(reason), trail);
        debug_reason
    }

    #[cfg(debug_assertions)]
    fn record_learning(&self, sender: Sender<'_>, msg: &Message<'_>, allowed: bool) {
        use std::io::Write as _;
        let Some(writer) = &self.debug.learning else {
            return;
        };
        let body_len = match msg {
            Message::Invoke { body, .. } => body.len(),
            Message::Emit { .. } => 0,
        };
        let line = serde_json::json!({
            "kind": msg.kind(),
            "name": msg.name(),
            "window": sender.window,
            "origin": sender.origin,
            "args": msg.args(),
            "body_len": body_len,
            "allowed": allowed,
        });
        let mut w = lock(writer);
        let _ = writeln!(w, "{line}");
        let _ = w.flush();
    }

    /// Counts a discard and sends its audit event (within the audit rate).
    fn record(
        &self,
        sender: Sender<'_>,
        outcome: Outcome,
        reason: Option<DiscardReason>,
        t: Trail,
    ) {
        self.counters.count(outcome, reason);
        if let Some(suppressed) = self.audit_ticket() {
            self.emit(sender, outcome, reason, t, suppressed);
        }
    }

    /// With an audit sink, whether this event may be sent (`Some`, with the
    /// number suppressed before it) or is over the audit rate (`None`,
    /// counted); `None` without a sink.
    fn audit_ticket(&self) -> Option<u64> {
        self.audit.as_ref()?;
        let (per_second, burst) = self.audit_rate;
        let mut budget = lock(&self.audit_budget);
        if budget.bucket.take(per_second, burst, Instant::now()) {
            Some(std::mem::take(&mut budget.suppressed))
        } else {
            budget.suppressed += 1;
            self.counters.count_suppressed();
            None
        }
    }

    /// Sends one audit event to the sink, outside the gate's lock.
    fn emit(
        &self,
        sender: Sender<'_>,
        outcome: Outcome,
        reason: Option<DiscardReason>,
        t: Trail,
        suppressed: u64,
    ) {
        let Some(sink) = &self.audit else { return };
        let ts_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let (window, window_len) =
            crate::audit::clip(sender.window, crate::audit::MAX_AUDIT_WINDOW);
        let (origin, origin_len) =
            crate::audit::clip(sender.origin, crate::audit::MAX_AUDIT_ORIGIN);
        sink(&AuditEvent {
            ts_ms,
            outcome,
            reason,
            window,
            window_len,
            origin,
            origin_len,
            kind: t.kind,
            name: t.name,
            load_id: t.load_id,
            seq: t.seq,
            rule: t.rule,
            grant: t.grant,
            detail: t.detail,
            args: t.args,
            suppressed,
        });
    }
}
