//! The HTTP listener: an accept loop with a cap on open connections, and limits on how long
//! a client may take to send a request head, a request body, or nothing at all.
//!
//! `axum::serve` has none of these, and a client that sends a byte every few seconds (or
//! nothing) would hold its connection, a file descriptor and about 50 KB for ever; some
//! thousands of them exhaust the open-file limit and the server stops answering anyone.
//!
//! Per connection, [`Activity`] records when the connection began waiting for a request,
//! when the first byte of that request arrived, and whether a request is being handled. A
//! watchdog in the connection's task closes it when
//! - a request head has been arriving for longer than the header timeout (counted from its
//!   first byte, so the quiet time of a kept-alive connection is not charged to it),
//! - nothing has arrived for the idle timeout since the connection opened or since the
//!   last response.
//!
//! A request body must arrive within the body timeout of its head ([`DeadlineBody`]); a
//! late body fails the request with 408 and hyper closes the connection, whose remaining
//! bytes it can no longer frame.

use axum::Router;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Limits of the HTTP listener; `puhui serve` takes each as a flag.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Time from a request's first byte until its head is complete.
    pub header_timeout: Duration,
    /// Time from a request's head until its body is complete.
    pub body_timeout: Duration,
    /// Time a connection may send nothing, before its first request or after a response.
    pub idle_timeout: Duration,
    /// Connections open at once; further ones are accepted and closed at once.
    pub max_connections: usize,
    /// Test-only routes that panic or stop the ledger writer (`puhui serve` hides the flag).
    pub fault_injection: bool,
    /// `ROLE=REQUESTS_PER_SECOND` defaults of per-key rate limits, over the built-in ones.
    pub rate_limits: Vec<String>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            fault_injection: false,
            rate_limits: Vec::new(),
        }
    }
}

/// How long open connections may take to finish once the server is told to stop.
const DRAIN_MAX: Duration = Duration::from_secs(10);

/// Accepts connections until `shutdown` resolves, then lets open ones finish (at most
/// [`DRAIN_MAX`]).
pub async fn run(
    listener: TcpListener,
    router: Router,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    assert!(
        config.max_connections > 0,
        "max_connections must be positive"
    );
    let config = Arc::new(config);
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let mut cap = CapReport::default();
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // Closing at once tells the client to retry elsewhere or later, where leaving it
            // in the kernel's backlog would only make it wait.
            cap.refused(config.max_connections);
            drop(stream);
            continue;
        };
        let (router, config, stop) = (router.clone(), config.clone(), stop_rx.clone());
        tokio::spawn(connection(stream, router, config, stop, permit));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(config.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_MAX, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            open = config.max_connections - permits.available_permits(),
            "stopping with connections still open after the drain time"
        );
    }
    Ok(())
}

/// Accept errors are about the one connection (reset before accept) or about the process
/// (out of file descriptors). For the latter, back off briefly instead of spinning.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind as K;
    if matches!(
        e.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::ConnectionRefused | K::Interrupted
    ) {
        return;
    }
    metrics::counter!("puhui_http_accept_errors_total").increment(1);
    tracing::error!(error = %e, "accept failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Reports refusals at the cap once per ten seconds, with how many there were.
#[derive(Default)]
struct CapReport {
    last: Option<Instant>,
    refused_since: u64,
}

impl CapReport {
    fn refused(&mut self, max: usize) {
        metrics::counter!("puhui_http_connections_refused_total").increment(1);
        self.refused_since += 1;
        if self
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_secs(10))
        {
            return;
        }
        tracing::warn!(
            max_connections = max,
            refused = self.refused_since,
            "connection cap reached: {max} connections are open (--max-connections); \
             closing new connections until some end"
        );
        self.last = Some(Instant::now());
        self.refused_since = 0;
    }
}

async fn connection(
    stream: TcpStream,
    router: Router,
    config: Arc<ServeConfig>,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let gauge = metrics::gauge!("puhui_http_connections_open");
    gauge.increment(1.0);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service = service(router, activity.clone(), config.body_timeout);
    let mut conn = pin!(http1::Builder::new()
        .max_buf_size(crate::limits::HEAD_BUFFER_BYTES)
        .max_headers(crate::limits::HYPER_HEADERS_MAX)
        .serve_connection(io, service));
    let mut check = pin!(tokio::time::sleep(
        config.header_timeout.min(config.idle_timeout)
    ));
    let mut stopping = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = &mut check => match activity.verdict(Instant::now(), &config) {
                Ok(next) => check.as_mut().reset(next),
                Err(reason) => {
                    metrics::counter!("puhui_http_connections_timed_out_total", "reason" => reason)
                        .increment(1);
                    tracing::debug!(reason, "closing a slow or idle connection");
                    break;
                }
            },
        }
    }
    gauge.decrement(1.0);
}

type RouteResponse = axum::response::Response;

/// The router as a hyper service that keeps `activity` current and gives each request body
/// its deadline.
fn service(
    router: Router,
    activity: Arc<Activity>,
    body_timeout: Duration,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = RouteResponse,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<RouteResponse, std::convert::Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        use tower_service::Service as _;
        activity.request_started();
        let deadline = Instant::now() + body_timeout;
        let req = req.map(|b| axum::body::Body::new(DeadlineBody::new(b, deadline)));
        // Router is always ready, and a clone is one reference count.
        let fut = router.clone().call(req);
        let activity = activity.clone();
        async move {
            let resp = fut.await;
            activity.request_finished();
            resp
        }
    })
}

fn clock_base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Milliseconds since the process's first connection, plus one, so that zero can mean
/// "never".
fn now_ms(at: Instant) -> u64 {
    at.saturating_duration_since(clock_base()).as_millis() as u64 + 1
}

fn at_ms(ms: u64) -> Instant {
    clock_base() + Duration::from_millis(ms.saturating_sub(1))
}

/// What the watchdog of one connection knows. Relaxed atomics: it only needs each value to
/// be recent, not the three to agree, and it looks again on its next check.
struct Activity {
    /// When the connection began waiting for its next request (accept or last response).
    waiting_since_ms: AtomicU64,
    /// When the first byte arrived after `waiting_since_ms`; zero while none has.
    first_byte_ms: AtomicU64,
    /// Requests being handled (HTTP/1.1 handles one at a time; kept as a count for safety).
    in_flight: AtomicU32,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            waiting_since_ms: AtomicU64::new(now_ms(Instant::now())),
            first_byte_ms: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
        }
    }

    fn bytes_read(&self) {
        if self.first_byte_ms.load(Relaxed) == 0 && self.in_flight.load(Relaxed) == 0 {
            self.first_byte_ms.store(now_ms(Instant::now()), Relaxed);
        }
    }

    fn request_started(&self) {
        self.in_flight.fetch_add(1, Relaxed);
    }

    fn request_finished(&self) {
        self.first_byte_ms.store(0, Relaxed);
        self.waiting_since_ms.store(now_ms(Instant::now()), Relaxed);
        self.in_flight.fetch_sub(1, Relaxed);
    }

    /// When to look again, or why to close the connection now.
    fn verdict(&self, now: Instant, config: &ServeConfig) -> Result<Instant, &'static str> {
        let recheck = now + config.header_timeout.min(config.idle_timeout);
        if self.in_flight.load(Relaxed) > 0 {
            // The body deadline bounds a request's reading; its handling is not bounded here.
            return Ok(recheck);
        }
        let first = self.first_byte_ms.load(Relaxed);
        let (deadline, reason) = if first != 0 {
            (at_ms(first) + config.header_timeout, "header_timeout")
        } else {
            let since = self.waiting_since_ms.load(Relaxed);
            (at_ms(since) + config.idle_timeout, "idle_timeout")
        };
        if now >= deadline {
            Err(reason)
        } else {
            Ok(deadline.min(recheck))
        }
    }
}

/// The connection's socket, noting when request bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that fails with [`BodyTimeout`] if it is not complete by its deadline.
/// The timer is made only when the body is not all there at once, which for the small JSON
/// bodies of this API is rare.
pub struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, deadline: Instant) -> DeadlineBody {
        DeadlineBody {
            inner,
            deadline,
            sleep: None,
        }
    }
}

/// The error a [`DeadlineBody`] fails with.
#[derive(Debug)]
pub struct BodyTimeout;

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimeout {}

impl Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `e` or one of its sources is a [`BodyTimeout`].
pub fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<BodyTimeout>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Raises the soft open-file limit to the hard one, and warns when the connection cap
/// cannot be reached under it (the process needs descriptors for storage too).
pub fn raise_open_file_limit(max_connections: usize) {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    let needed = max_connections as libc::rlim_t + 256;
    if lim.rlim_cur < needed {
        tracing::warn!(
            open_file_limit = lim.rlim_cur,
            max_connections,
            "the open-file limit is below --max-connections plus room for storage; \
             raise it (ulimit -n) or lower --max-connections"
        );
    }
}

/// Connections the kernel may hold completed before the server accepts them. tokio's default
/// of 1,024 overflows in a burst of connects while both cores are busy, and a client whose
/// handshake was dropped from a full queue believes it is connected, but the server never
/// sees it (and so never times it out). The kernel caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 8_192;

/// Binds `listen` (`host:port`) with the larger backlog.
pub async fn bind(listen: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = tokio::net::lookup_host(listen)
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("--listen {listen}: no address"))?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket.listen(LISTEN_BACKLOG)?)
}
