//! The demo's HTTP transport: hyper's HTTP/1.1 server on tokio, with the
//! bounds a host must set itself (`docs/INTEGRATING.md`, section 2): a cap on
//! connections per listener, a time limit for request headers (also between
//! keep-alive requests) and for each request, header and body size limits
//! enforced as the bytes arrive, an in-flight body budget shared by all
//! requests, and server-sent-event streams whose writes time out.
//!
//! Nothing here knows isogate: `demo.rs` says what each origin serves.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};

/// Longest request head (request line and headers) accepted.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Largest read (and write) buffer of one connection.
pub const MAX_BUF: usize = MAX_HEAD_BYTES + 4 * 1024;
/// Most header fields in one request.
pub const MAX_HEADERS: usize = 64;
/// Time a client has to send a request's head, and to start the next one on
/// a kept-alive connection.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for one request, body included, until its response head is ready.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Time one server-sent event may wait for the client to take it; a client
/// that reads nothing for this long loses its connection.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Events buffered per stream between the producer and the socket.
const STREAM_BUFFER: usize = 8;
/// Comment line sent on an idle stream, so a vanished client is noticed.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// One listener's counters, read by the console.
#[derive(Default)]
pub struct ConnStats {
    /// Connections accepted so far.
    pub accepted: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections cut because a stream's write timed out.
    pub write_timeouts: AtomicU64,
    /// Requests that ran past [`REQUEST_TIMEOUT`].
    pub request_timeouts: AtomicU64,
}

impl ConnStats {
    /// The counters as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        serde_json::json!({
            "accepted": read(&self.accepted),
            "open": read(&self.open),
            "write_timeouts": read(&self.write_timeouts),
            "request_timeouts": read(&self.request_timeouts),
        })
    }
}

/// What a handler learns about the connection its request came on.
#[derive(Clone)]
pub struct Conn {
    /// Notified to close the connection at once (a stream's write timed out).
    kill: Arc<Notify>,
    stats: Arc<ConnStats>,
}

/// A boxed handler future.
pub type Handling = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// Serves `handler` on `listener` until the process ends: at most
/// `max_connections` at once (further clients wait in the listen backlog),
/// every request under [`REQUEST_TIMEOUT`].
pub async fn serve<H>(
    listener: TcpListener,
    max_connections: usize,
    stats: Arc<ConnStats>,
    handler: Arc<H>,
) where
    H: Fn(Request<Incoming>, Conn) -> Handling + Send + Sync + 'static,
{
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors or similar: back off, never spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        stats.open.fetch_add(1, Ordering::Relaxed);
        let conn = Conn {
            kill: Arc::new(Notify::new()),
            stats: Arc::clone(&stats),
        };
        let handler = Arc::clone(&handler);
        let open = Arc::clone(&stats);
        tokio::spawn(async move {
            let kill = Arc::clone(&conn.kill);
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let handling = handler(req, conn.clone());
                let stats = Arc::clone(&conn.stats);
                async move {
                    let response = match tokio::time::timeout(REQUEST_TIMEOUT, handling).await {
                        Ok(response) => response,
                        Err(_) => {
                            stats.request_timeouts.fetch_add(1, Ordering::Relaxed);
                            closing(plain(StatusCode::REQUEST_TIMEOUT, "request timeout"))
                        }
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                // `X-Isogate-Debug`, as the old demo wrote it, for clients
                // that compare header names by case.
                .title_case_headers(true)
                .max_headers(MAX_HEADERS)
                .max_header_size(MAX_HEAD_BYTES)
                .max_buf_size(MAX_BUF);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = kill.notified() => {}
            }
            open.open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
}

/// A response body: whole, or a stream of server-sent events.
pub enum Body {
    /// A complete body (taken by the first poll).
    Full(Option<Bytes>),
    /// Server-sent events, as an [`EventStream`] writes them.
    Stream(mpsc::Receiver<Bytes>),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(rx) => rx
                .poll_recv(cx)
                .map(|chunk| chunk.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

/// A response with `body` of type `content_type`.
pub fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(Body::Full(Some(body.into())));
    *response.status_mut() = status;
    set(response.headers_mut(), "content-type", content_type);
    response
}

/// A plain-text response.
pub fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", text)
}

/// A response without a body.
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Full(None));
    *response.status_mut() = status;
    response
}

/// `response`, with the connection closed after it.
pub fn closing(mut response: Response<Body>) -> Response<Body> {
    set(response.headers_mut(), "connection", "close");
    response
}

/// Sets a header from static text.
pub fn set(headers: &mut HeaderMap, name: &'static str, value: &'static str) {
    headers.insert(
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    );
}

/// Sets a header from text made at run time; text that is not a valid
/// header value (it never is from the demo) is left out.
pub fn set_text(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

/// A header's value as text, if present once and readable.
pub fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    let mut values = req.headers().get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

/// Whether the request's `Host` (and an absolute-form target's authority)
/// names one of `hosts` exactly: the DNS-rebinding check.
pub fn host_is(req: &Request<Incoming>, hosts: &[String]) -> bool {
    let Some(host) = header(req, "host") else {
        return false;
    };
    let known = |h: &str| hosts.iter().any(|k| k.eq_ignore_ascii_case(h));
    known(host) && req.uri().authority().map_or(true, |a| known(a.as_str()))
}

/// Why a request body was refused.
pub enum BodyError {
    /// Longer than allowed (announced or as it arrived): 413.
    TooLarge,
    /// The in-flight body budget is spent: 503.
    Busy,
    /// The connection failed while reading: 400.
    Broken,
}

impl BodyError {
    /// The response for it; the connection is closed after it.
    pub fn response(&self) -> Response<Body> {
        closing(match self {
            BodyError::TooLarge => plain(StatusCode::PAYLOAD_TOO_LARGE, "too large"),
            BodyError::Busy => plain(StatusCode::SERVICE_UNAVAILABLE, "busy"),
            BodyError::Broken => plain(StatusCode::BAD_REQUEST, "bad request"),
        })
    }
}

/// A request body read whole, holding its share of the budget until dropped.
pub struct ReadBody {
    /// The bytes.
    pub bytes: Vec<u8>,
    _budget: Vec<OwnedSemaphorePermit>,
}

/// Reads a request body of at most `max` bytes: refused before reading
/// when its `Content-Length` says more, refused as it streams when it
/// grows past `max`, and each chunk takes its bytes from `budget` (a
/// semaphore of bytes shared by all requests) before it is kept.
pub async fn read_body(
    req: Request<Incoming>,
    max: usize,
    budget: &Arc<Semaphore>,
) -> Result<ReadBody, BodyError> {
    if let Some(len) = header(&req, "content-length") {
        match len.parse::<u64>() {
            Ok(len) if len <= max as u64 => {}
            Ok(_) => return Err(BodyError::TooLarge),
            Err(_) => return Err(BodyError::Broken),
        }
    }
    let mut body = Limited::new(req.into_body(), max);
    let mut bytes = Vec::new();
    let mut permits = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                BodyError::TooLarge
            } else {
                BodyError::Broken
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let n = u32::try_from(data.len()).map_err(|_| BodyError::TooLarge)?;
        if n == 0 {
            continue;
        }
        let permit = Arc::clone(budget)
            .try_acquire_many_owned(n)
            .map_err(|_| BodyError::Busy)?;
        permits.push(permit);
        bytes.extend_from_slice(&data);
    }
    Ok(ReadBody {
        bytes,
        _budget: permits,
    })
}

/// The writing end of a server-sent-events response.
pub struct EventStream {
    tx: mpsc::Sender<Bytes>,
    conn: Conn,
}

/// A server-sent-events response and the stream that feeds it.
pub fn event_stream(conn: &Conn) -> (EventStream, Response<Body>) {
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    let mut response = Response::new(Body::Stream(rx));
    let headers = response.headers_mut();
    set(headers, "content-type", "text/event-stream");
    set(headers, "cache-control", "no-store");
    let stream = EventStream {
        tx,
        conn: conn.clone(),
    };
    (stream, response)
}

impl EventStream {
    /// Sends one chunk. `false` when the client went away or took nothing
    /// for [`WRITE_TIMEOUT`]; then the connection is closed and the stream
    /// is over.
    pub async fn send(&self, chunk: String) -> bool {
        match tokio::time::timeout(WRITE_TIMEOUT, self.tx.send(Bytes::from(chunk))).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                self.conn
                    .stats
                    .write_timeouts
                    .fetch_add(1, Ordering::Relaxed);
                self.conn.kill.notify_one();
                false
            }
        }
    }

    /// Resolves when the client went away (the response body was dropped).
    pub async fn closed(&self) {
        self.tx.closed().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn conn() -> Conn {
        Conn {
            kill: Arc::new(Notify::new()),
            stats: Arc::default(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_nobody_reads_is_cut_after_the_write_timeout() {
        let conn = conn();
        let (stream, response) = event_stream(&conn);
        // The response body is never polled: the buffer fills, then the
        // next event waits for the write timeout and the connection is cut.
        for _ in 0..STREAM_BUFFER {
            assert!(stream.send("data: x\n\n".to_owned()).await);
        }
        let started = tokio::time::Instant::now();
        assert!(!stream.send("data: y\n\n".to_owned()).await);
        assert_eq!(started.elapsed(), WRITE_TIMEOUT);
        assert_eq!(conn.stats.write_timeouts.load(Ordering::Relaxed), 1);
        let killed = tokio::time::timeout(Duration::from_millis(1), conn.kill.notified()).await;
        assert!(killed.is_ok(), "the connection is told to close");
        drop(response);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_whose_client_left_ends_at_once() {
        let conn = conn();
        let (stream, response) = event_stream(&conn);
        drop(response);
        tokio::time::timeout(Duration::from_millis(1), stream.closed())
            .await
            .unwrap();
        let started = tokio::time::Instant::now();
        assert!(!stream.send("data: x\n\n".to_owned()).await);
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(conn.stats.write_timeouts.load(Ordering::Relaxed), 0);
    }
}
