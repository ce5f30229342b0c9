//! The host layer: what every host around a [`Gate`] must get right, written
//! once, bounded everywhere, with no async runtime and no transport.
//!
//! A host (an HTTP server, a wry or Tauri app) keeps its transport and calls
//! this layer for the rest:
//!
//! - **Windows are named by the host, never by the page.** [`Host::open_window`]
//!   registers a label and the origin the host serves it; every message from
//!   a window that is not open is discarded like any other (audited as
//!   `wrong_window`). At most [`HostLimits::max_windows`] are open.
//! - **Frame documents are one-shot.** [`Host::new_frame`] renders the
//!   window's isolation frame and files it under an unguessable token (128
//!   random bits, 32 hex digits); [`Host::take_frame`] hands it out once and
//!   forgets it. A window has at most one document pending (a newer one
//!   retires the older load anyway), and a document not fetched within
//!   [`HostLimits::frame_ttl`] is wiped.
//! - **Replies and core-to-window events go through bounded queues**, one
//!   per window ([`Host::reply`], [`Host::handle_and_queue`], [`Host::emit`],
//!   [`Host::pop`]). A reply goes only to the frame load that sealed the
//!   call; an event only where the policy's `deliver` rules allow it. A full
//!   queue drops the new message, counts it and audits it (`dropped`); it
//!   never grows past [`HostLimits::queue_len`] messages or
//!   [`HostLimits::queue_bytes`] bytes.
//! - **[`Host::close_window`] frees everything** the window held: its queue,
//!   its pending frame, its replay and rate state.
//! - **Audit fan-out** ([`AuditHub`]): every subscriber (a console, a log
//!   shipper) has its own bounded buffer; a slow one loses events (counted),
//!   never memory.
//!
//! What a host must still do itself: serve the frame document from another
//! origin than the page, with [`FrameDocument::headers`]; tell the gate the
//! sender's window and origin from the transport (never from the page);
//! bound its own connections, request sizes and times; keep the audit
//! stream out of the page's reach. `docs/INTEGRATING.md` walks through it.

use crate::audit::{AuditEvent, DiscardReason};
use crate::frame::{FrameDocument, FrameError};
use crate::gate::{Admitted, CallRequest, Gate, Reply, Router, Sender, Wire};
use crate::grant::{Grant, GrantError, GrantId};
use crate::message::MessageKind;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A callback the host layer runs when a queue has something new: wake the
/// task or event loop that delivers it (`Notify::notify_one`, an event
/// loop proxy). It runs outside the host's locks and must not block.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// The host layer's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimits {
    /// Windows open at once (default 64).
    pub max_windows: usize,
    /// How long a rendered frame document waits to be fetched (default 30 s).
    pub frame_ttl: Duration,
    /// Messages waiting in one window's queue (default 256).
    pub queue_len: usize,
    /// Bytes of JSON waiting in one window's queue (default 16 MiB).
    pub queue_bytes: usize,
}

impl Default for HostLimits {
    fn default() -> Self {
        Self {
            max_windows: 64,
            frame_ttl: Duration::from_secs(30),
            queue_len: 256,
            queue_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Why the host layer refused a host's request (never the page's business).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// [`HostLimits::max_windows`] windows are open already.
    #[error("too many windows are open")]
    TooManyWindows,
    /// The window is not open.
    #[error("no such window is open")]
    NoSuchWindow,
    /// The label or origin is not acceptable, or the frame cannot be rendered.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The grant was refused.
    #[error(transparent)]
    Grant(#[from] GrantError),
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// A reply or event waiting for delivery to a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// What it is: the shim takes a reply with `deliver`, an event with
    /// `deliverEvent`.
    pub kind: OutgoingKind,
    /// The JSON text: a reply as `docs/WIRE.md` section 6 writes it, an
    /// event as `{"event": name, "payload": value}`.
    pub json: String,
}

/// Whether an [`Outgoing`] message is a reply or an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutgoingKind {
    /// The reply to a command.
    Reply,
    /// An event from the core to the window.
    Event,
}

/// What the host layer did, since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostCounters {
    /// Frame documents rendered and filed.
    pub frames_issued: u64,
    /// Frame documents handed out by [`Host::take_frame`].
    pub frames_served: u64,
    /// Frame documents wiped unfetched: expired, replaced or their window closed.
    pub frames_unused: u64,
    /// Replies and events dropped because a window's queue was full.
    pub dropped: u64,
    /// Messages from windows that are not open (discarded).
    pub unknown_window: u64,
}

#[derive(Default)]
struct Counters {
    frames_issued: AtomicU64,
    frames_served: AtomicU64,
    frames_unused: AtomicU64,
    dropped: AtomicU64,
    unknown_window: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// One open window.
struct Window {
    origin: String,
    /// The frame load of the last frame rendered for it: the page's.
    load: Option<u32>,
    pending: Option<Pending>,
    queue: VecDeque<Outgoing>,
    queued_bytes: usize,
    wake: Option<Wake>,
}

/// A rendered frame document waiting to be fetched once.
struct Pending {
    token: String,
    doc: FrameDocument,
    /// `None`: never (a `frame_ttl` past what an `Instant` holds).
    expires: Option<Instant>,
}

impl Pending {
    fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A [`Gate`] with the state every host needs around it: open windows,
/// one-shot frame documents, bounded delivery queues. Share it between
/// threads (`Arc<Host<R>>`).
pub struct Host<R> {
    gate: Gate<R>,
    limits: HostLimits,
    windows: Mutex<HashMap<String, Window>>,
    rng: SystemRandom,
    counters: Counters,
}

impl<R: Router> Host<R> {
    /// The host layer around `gate`, with the default [`HostLimits`].
    pub fn new(gate: Gate<R>) -> Self {
        Self::with_limits(gate, HostLimits::default())
    }

    /// The host layer around `gate`, with these limits.
    pub fn with_limits(gate: Gate<R>, limits: HostLimits) -> Self {
        Self {
            gate,
            limits,
            windows: Mutex::new(HashMap::new()),
            rng: SystemRandom::new(),
            counters: Counters::default(),
        }
    }

    /// The gate (its counters, policy reloads, [`Gate::deliver_event`]).
    pub fn gate(&self) -> &Gate<R> {
        &self.gate
    }

    /// What the host layer did so far.
    pub fn counters(&self) -> HostCounters {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        HostCounters {
            frames_issued: read(&self.counters.frames_issued),
            frames_served: read(&self.counters.frames_served),
            frames_unused: read(&self.counters.frames_unused),
            dropped: read(&self.counters.dropped),
            unknown_window: read(&self.counters.unknown_window),
        }
    }

    /// Opens the window `label`, served at `origin` (its top-level page's
    /// serialized origin). The host chooses the label: the webview's label,
    /// or one it made for a page load; never a value the page sent.
    ///
    /// Opening a window that is open starts it over (a reload, or a
    /// navigation to `origin`): its queue is emptied, its pending frame
    /// wiped, its wake callback removed; its frame loads are retired by the
    /// next [`Host::new_frame`].
    pub fn open_window(&self, label: &str, origin: &str) -> Result<(), HostError> {
        crate::frame::check_inputs(label, origin, None)?;
        let mut windows = lock(&self.windows);
        let fresh = Window {
            origin: origin.to_owned(),
            load: None,
            pending: None,
            queue: VecDeque::new(),
            queued_bytes: 0,
            wake: None,
        };
        let open = windows.len();
        match windows.get_mut(label) {
            Some(window) => {
                if window.pending.is_some() {
                    bump(&self.counters.frames_unused);
                }
                *window = fresh;
            }
            None if open >= self.limits.max_windows => return Err(HostError::TooManyWindows),
            None => {
                windows.insert(label.to_owned(), fresh);
            }
        }
        Ok(())
    }

    /// Whether `label` is an open window.
    pub fn is_open(&self, label: &str) -> bool {
        lock(&self.windows).contains_key(label)
    }

    /// The labels of the open windows.
    pub fn windows(&self) -> Vec<String> {
        lock(&self.windows).keys().cloned().collect()
    }

    /// Closes a window: frees its queue and pending frame and makes the gate
    /// forget its replay and rate state. Its envelopes are refused from now
    /// on, also if a window of that label is opened again.
    pub fn close_window(&self, label: &str) {
        let removed = lock(&self.windows).remove(label);
        if let Some(window) = removed {
            if window.pending.is_some() {
                bump(&self.counters.frames_unused);
            }
        }
        self.gate.close_window(label);
    }

    /// Renders a new isolation frame for the open window `label` (for the
    /// origin it was opened with) and files it under a fresh one-shot token,
    /// which this returns: serve [`Host::take_frame`]`(token)` at the frame
    /// origin's URL for it. The window's earlier frame loads are retired,
    /// and its earlier pending document, if any, wiped.
    pub fn new_frame(&self, label: &str, hook_script: Option<&str>) -> Result<String, HostError> {
        let origin = match lock(&self.windows).get(label) {
            Some(window) => window.origin.clone(),
            None => return Err(HostError::NoSuchWindow),
        };
        let mut bytes = [0u8; 16];
        self.rng.fill(&mut bytes).map_err(|_| HostError::Random)?;
        let token = hex::encode(bytes);
        let doc = self.gate.render_frame(label, &origin, hook_script)?;
        let mut windows = lock(&self.windows);
        // The window may have been closed or reopened while rendering.
        let Some(window) = windows.get_mut(label).filter(|w| w.origin == origin) else {
            return Err(HostError::NoSuchWindow);
        };
        window.load = Some(doc.load_id);
        let pending = Pending {
            token: token.clone(),
            doc,
            // A `frame_ttl` too long for a clock never expires.
            expires: Instant::now().checked_add(self.limits.frame_ttl),
        };
        if window.pending.replace(pending).is_some() {
            bump(&self.counters.frames_unused);
        }
        bump(&self.counters.frames_issued);
        Ok(token)
    }

    /// The frame document filed under `token`, once: the token is spent by
    /// this call whatever it returns. `None` for an unknown, spent or
    /// expired token.
    pub fn take_frame(&self, token: &str) -> Option<FrameDocument> {
        let now = Instant::now();
        let mut windows = lock(&self.windows);
        let window = windows
            .values_mut()
            .find(|w| w.pending.as_ref().is_some_and(|p| p.token == token))?;
        let pending = window.pending.take()?;
        if pending.expired(now) {
            bump(&self.counters.frames_unused);
            return None;
        }
        bump(&self.counters.frames_served);
        Some(pending.doc)
    }

    /// Grants the open window's current frame load a narrow right
    /// ([`Gate::grant`]): the file the user just picked, for one read.
    pub fn grant(&self, label: &str, grant: Grant) -> Result<GrantId, HostError> {
        if !self.is_open(label) {
            return Err(HostError::NoSuchWindow);
        }
        Ok(self.gate.grant(label, grant)?)
    }

    /// Ends a grant ([`Gate::revoke`]); `false` if it had ended already.
    pub fn revoke(&self, id: GrantId) -> bool {
        self.gate.revoke(id)
    }

    /// Wipes frame documents whose time to be fetched has passed. The host
    /// layer also does this on every [`Host::new_frame`]; call it from a
    /// timer to free them sooner.
    pub fn expire_frames(&self) {
        let now = Instant::now();
        for window in lock(&self.windows).values_mut() {
            if window.pending.as_ref().is_some_and(|p| p.expired(now)) {
                window.pending = None;
                bump(&self.counters.frames_unused);
            }
        }
    }

    /// Whether the sender's window is open; if not, the message is discarded
    /// (counted, audited as `wrong_window`).
    fn admits(&self, sender: Sender<'_>) -> bool {
        if lock(&self.windows).contains_key(sender.window) {
            return true;
        }
        bump(&self.counters.unknown_window);
        self.gate.discard_unknown_window(sender);
        false
    }

    /// [`Gate::handle`] for a message from an open window.
    pub fn handle<'w>(&self, sender: Sender<'_>, wire: impl Into<Wire<'w>>) -> Option<Reply> {
        if !self.admits(sender) {
            return None;
        }
        self.gate.handle(sender, wire)
    }

    /// [`Gate::check`] for a message from an open window (for routers the
    /// gate does not call itself); a window that is not open is
    /// `wrong_window`.
    pub fn check<'w>(
        &self,
        sender: Sender<'_>,
        wire: impl Into<Wire<'w>>,
    ) -> Result<Admitted, DiscardReason> {
        if !self.admits(sender) {
            return Err(DiscardReason::WrongWindow);
        }
        self.gate.check(sender, wire)
    }

    /// Checks an envelope from an open window, runs an admitted command on
    /// the gate's router and queues its reply for the frame load that
    /// sealed it (or delivers an admitted event to the gate's listeners):
    /// for transports that push replies later (webview IPC). `false` when
    /// nothing was queued.
    pub fn handle_and_queue<'w>(&self, sender: Sender<'_>, wire: impl Into<Wire<'w>>) -> bool {
        match self.check(sender, wire) {
            Ok(Admitted::Call(call)) => {
                let result = self.gate.get_ref().call(call.as_call());
                self.reply(&call, result)
            }
            Ok(event @ Admitted::Event(_)) => {
                self.gate.dispatch(&event);
                false
            }
            Err(_) => false,
        }
    }

    /// Queues the reply to an admitted call for the frame load that sealed
    /// it. `false` when it was dropped (counted and audited): the window
    /// closed, or reloaded since (`stale_load`: a reply never reaches
    /// another page than the caller's), or its queue is full.
    pub fn reply(&self, call: &CallRequest, result: Result<Value, Value>) -> bool {
        let reply = Reply {
            id: call.id,
            result,
        };
        let message = Outgoing {
            kind: OutgoingKind::Reply,
            json: reply.to_json(),
        };
        let to = Sender {
            window: &call.window,
            origin: &call.origin,
        };
        self.push(to, message, Some(call.load_id), &call.cmd)
    }

    /// Queues the event `name` with `payload` for the window: a core-to-window
    /// event. The policy's `deliver` rules decide first
    /// ([`Gate::may_deliver`]). `false` when it was not queued: the window is
    /// not open, the policy does not deliver it there, or the window's queue
    /// is full (each counted and audited).
    pub fn emit(&self, label: &str, name: &str, payload: &Value) -> bool {
        let Some(origin) = lock(&self.windows).get(label).map(|w| w.origin.clone()) else {
            return false;
        };
        let to = Sender {
            window: label,
            origin: &origin,
        };
        if !self.gate.may_deliver(to, name, payload) {
            bump(&self.counters.dropped);
            return false;
        }
        let message = Outgoing {
            kind: OutgoingKind::Event,
            json: serde_json::json!({"event": name, "payload": payload}).to_string(),
        };
        self.push(to, message, None, name)
    }

    /// Queues `message` for `to.window`; a reply (`load` set) only while
    /// that frame load is the window's current one.
    fn push(&self, to: Sender<'_>, message: Outgoing, load: Option<u32>, name: &str) -> bool {
        let kind = match message.kind {
            OutgoingKind::Reply => MessageKind::Invoke,
            OutgoingKind::Event => MessageKind::Deliver,
        };
        let mut windows = lock(&self.windows);
        let refused = match windows.get_mut(to.window) {
            Some(w) if load.is_some() && w.load != load => Some(Some(DiscardReason::StaleLoad)),
            None if load.is_some() => Some(Some(DiscardReason::StaleLoad)),
            None => return false,
            Some(w)
                if w.queue.len() >= self.limits.queue_len
                    || w.queued_bytes + message.json.len() > self.limits.queue_bytes =>
            {
                Some(None)
            }
            Some(w) => {
                w.queued_bytes += message.json.len();
                w.queue.push_back(message);
                let wake = w.wake.clone();
                drop(windows);
                if let Some(wake) = wake {
                    wake();
                }
                return true;
            }
        };
        drop(windows);
        bump(&self.counters.dropped);
        if let Some(reason) = refused {
            self.gate.record_dropped(to, kind, Some(name), reason);
        }
        false
    }

    /// The window's next queued message, oldest first.
    pub fn pop(&self, label: &str) -> Option<Outgoing> {
        let mut windows = lock(&self.windows);
        let window = windows.get_mut(label)?;
        let message = window.queue.pop_front()?;
        window.queued_bytes -= message.json.len();
        Some(message)
    }

    /// Runs `wake` whenever a message is queued for the window (one
    /// deliverer per window: this replaces an earlier callback). Runs it
    /// once now if messages are waiting.
    pub fn set_wake(&self, label: &str, wake: Wake) -> Result<(), HostError> {
        let mut windows = lock(&self.windows);
        let window = windows.get_mut(label).ok_or(HostError::NoSuchWindow)?;
        window.wake = Some(Arc::clone(&wake));
        let waiting = !window.queue.is_empty();
        drop(windows);
        if waiting {
            wake();
        }
        Ok(())
    }

    /// Removes the window's wake callback (its deliverer went away); queued
    /// messages stay, within the queue's bounds.
    pub fn clear_wake(&self, label: &str) {
        if let Some(window) = lock(&self.windows).get_mut(label) {
            window.wake = None;
        }
    }
}

/// Audit fan-out: one gate's audit events to several subscribers (a
/// host-only console, a log shipper), each with its own bounded buffer.
///
/// Install [`AuditHub::sink`] with [`Gate::with_audit`]; each event is
/// written as one JSON line once, then queued for every subscriber. A
/// subscriber whose buffer is full loses the new line (counted in
/// [`AuditSubscription::dropped`]). The hub keeps the last `capacity`
/// lines, which a new subscriber receives first.
pub struct AuditHub {
    capacity: usize,
    max_subscribers: usize,
    inner: Mutex<HubInner>,
}

#[derive(Default)]
struct HubInner {
    next_id: u64,
    recent: VecDeque<Arc<str>>,
    subscribers: Vec<Subscriber>,
}

struct Subscriber {
    id: u64,
    queue: VecDeque<Arc<str>>,
    dropped: u64,
    wake: Option<Wake>,
}

impl AuditHub {
    /// A hub that keeps `capacity` lines per subscriber (and as backlog) and
    /// accepts at most `max_subscribers` at once.
    pub fn new(capacity: usize, max_subscribers: usize) -> Arc<Self> {
        Arc::new(Self {
            capacity,
            max_subscribers,
            inner: Mutex::new(HubInner::default()),
        })
    }

    /// The sink to pass to [`Gate::with_audit`].
    pub fn sink(self: &Arc<Self>) -> impl Fn(&AuditEvent) + Send + Sync + 'static {
        let hub = Arc::clone(self);
        move |event: &AuditEvent| hub.publish(&event.to_json())
    }

    /// Queues one line for every subscriber and keeps it as backlog.
    pub fn publish(&self, line: &str) {
        let line: Arc<str> = Arc::from(line);
        let mut wakes = Vec::new();
        {
            let mut inner = lock(&self.inner);
            if self.capacity == 0 {
                return;
            }
            if inner.recent.len() >= self.capacity {
                inner.recent.pop_front();
            }
            inner.recent.push_back(Arc::clone(&line));
            for sub in &mut inner.subscribers {
                if sub.queue.len() >= self.capacity {
                    sub.dropped += 1;
                    continue;
                }
                sub.queue.push_back(Arc::clone(&line));
                if let Some(wake) = &sub.wake {
                    wakes.push(Arc::clone(wake));
                }
            }
        }
        for wake in wakes {
            wake();
        }
    }

    /// A new subscriber, its buffer starting with the backlog; `wake` runs
    /// whenever a line is queued for it. `None` when `max_subscribers` are
    /// subscribed already.
    pub fn subscribe(self: &Arc<Self>, wake: Option<Wake>) -> Option<AuditSubscription> {
        let mut inner = lock(&self.inner);
        if inner.subscribers.len() >= self.max_subscribers {
            return None;
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let queue = inner.recent.clone();
        inner.subscribers.push(Subscriber {
            id,
            queue,
            dropped: 0,
            wake,
        });
        Some(AuditSubscription {
            hub: Arc::clone(self),
            id,
        })
    }

    /// Subscribers now.
    pub fn subscribers(&self) -> usize {
        lock(&self.inner).subscribers.len()
    }
}

/// One subscriber of an [`AuditHub`]; dropping it unsubscribes and frees
/// its buffer.
pub struct AuditSubscription {
    hub: Arc<AuditHub>,
    id: u64,
}

impl AuditSubscription {
    fn with<T>(&self, f: impl FnOnce(&mut Subscriber) -> T) -> Option<T> {
        let mut inner = lock(&self.hub.inner);
        inner
            .subscribers
            .iter_mut()
            .find(|s| s.id == self.id)
            .map(f)
    }

    /// The next line (one JSON audit event), oldest first.
    pub fn pop(&self) -> Option<Arc<str>> {
        self.with(|s| s.queue.pop_front()).flatten()
    }

    /// Lines this subscriber lost because its buffer was full.
    pub fn dropped(&self) -> u64 {
        self.with(|s| s.dropped).unwrap_or(0)
    }
}

impl Drop for AuditSubscription {
    fn drop(&mut self) {
        lock(&self.hub.inner)
            .subscribers
            .retain(|s| s.id != self.id);
    }
}
