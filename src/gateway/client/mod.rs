//! The upstream HTTP client: one per account, HTTP/1.1 over TCP or TLS, through the
//! account's proxy (`http://`, `https://`, `socks5://`, `socks5h://`, credentials allowed).
//!
//! Connections are pooled, and a connection is driven by the task of the request using it:
//! hyper's connection future is polled inside the request's own futures (headers, then the
//! body stream) instead of in a task of its own. A request and its upstream I/O thus stay on
//! one worker thread, with no hand-off through channels and wake-ups between tasks; that
//! hand-off was most of the latency the gateway added before (see the README's benchmark).
//! A connection goes back to the pool when its response body has been read to the end (polled
//! once with a no-op waker to check it can carry another request); one the provider closed
//! while idle shows as closed when the next request drives it, and that request, which never
//! left (hyper hands it back), goes out on another connection.

mod coalesce;
mod connect;
mod error;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

pub use coalesce::{Coalesce, CoalesceStream};
pub use connect::tls_config;
use connect::{BoxIo, Proxy, Target};
pub use error::{Error, Kind};

/// How long connecting (through the proxy, TLS included) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle pooled connections are closed after this: below the keep-alive timeouts common in
/// front of providers (nginx 75 s, cloud load balancers 60 s), so a connection is rarely
/// reused just as the far end closes it.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(55);
/// Idle connections kept per account at most.
const POOL_MAX_IDLE: usize = 256;

/// Why a proxy URL was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyUrlError {
    /// Not a URL at all.
    #[error("proxy_url is not a URL: {0}")]
    NotAUrl(String),
    /// A scheme the client cannot tunnel through.
    #[error("proxy_url must start with http://, https://, socks5:// or socks5h://")]
    Scheme,
    /// No host.
    #[error("proxy_url has no host")]
    NoHost,
    /// The TLS settings could not be built (the platform's certificate store).
    #[error("TLS settings: {0}")]
    Tls(String),
}

/// Checks a proxy URL and returns it as shown to people: the password replaced by `****`.
pub fn check_proxy_url(raw: &str) -> Result<String, ProxyUrlError> {
    let mut url = url::Url::parse(raw.trim()).map_err(|e| ProxyUrlError::NotAUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h") {
        return Err(ProxyUrlError::Scheme);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ProxyUrlError::NoHost);
    }
    if url.password().is_some() {
        // Setting a password only fails on URLs without a host, excluded above.
        let _ = url.set_password(Some("****"));
    }
    Ok(url.to_string())
}

/// Builds the client for an account. `proxy` was checked by [`check_proxy_url`] when stored;
/// `tls` is [`tls_config`]'s, shared by all accounts (`None`: the platform's roots only).
pub fn build(
    proxy: Option<&str>,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Client, ProxyUrlError> {
    let proxy = proxy.map(Proxy::parse).transpose()?;
    let tls = match tls {
        Some(tls) => Arc::clone(tls),
        None => default_tls().map_err(|e| ProxyUrlError::Tls(e.to_string()))?,
    };
    Ok(Client {
        inner: Arc::new(Inner {
            proxy,
            tls,
            idle: Mutex::new(VecDeque::new()),
        }),
    })
}

/// The platform's roots, loaded once.
fn default_tls() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    static TLS: OnceLock<Result<Arc<rustls::ClientConfig>, rustls::Error>> = OnceLock::new();
    TLS.get_or_init(|| tls_config(Vec::new())).clone()
}

/// An account's HTTP client; clones share the pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("proxy", &self.inner.proxy.as_ref().map(|p| p.kind))
            .finish_non_exhaustive()
    }
}

struct Inner {
    proxy: Option<Proxy>,
    tls: Arc<rustls::ClientConfig>,
    /// Idle connections, the most recently used last.
    idle: Mutex<VecDeque<Conn>>,
}

type Driver = http1::Connection<TokioIo<BoxIo>, Full<Bytes>>;

/// One HTTP/1.1 connection: the handle to send on and the future that does its I/O.
struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    /// `None` once the connection has ended.
    driver: Option<Pin<Box<Driver>>>,
    target: Target,
    idle_since: Instant,
}

impl Conn {
    /// Does the connection's pending I/O; registers `cx` to be woken for more.
    fn drive(&mut self, cx: &mut Context<'_>) {
        if let Some(driver) = self.driver.as_mut()
            && driver.as_mut().poll(cx).is_ready()
        {
            // Ended (closed, or failed: the failure reaches the request through hyper).
            self.driver = None;
        }
    }

    /// Whether it can carry another request now; polls with a no-op waker.
    fn reusable(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        self.drive(&mut cx);
        self.driver.is_some() && matches!(self.sender.poll_ready(&mut cx), Poll::Ready(Ok(())))
    }
}

/// How one try on one connection ended.
enum Sent {
    Answered(hyper::Response<Incoming>),
    /// The connection was dead before the request left: it may go out on another one.
    Unsent(hyper::Request<Full<Bytes>>),
    Failed(Error),
}

impl Client {
    /// Sends `request` (an absolute `http://` or `https://` URI); `timeout` covers
    /// everything up to the end of the response body.
    pub async fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> Result<Response, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        let (conn, response) = tokio::time::timeout_at(deadline, self.exchange(request))
            .await
            .map_err(|_| Error::timeout())??;
        let (parts, body) = response.into_parts();
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            body: Body {
                incoming: body,
                conn: Some(conn),
                client: Arc::clone(&self.inner),
                deadline: Box::pin(tokio::time::sleep_until(deadline)),
                ended: false,
            },
        })
    }

    async fn exchange(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<(Conn, hyper::Response<Incoming>), Error> {
        let target = Target::of(request.uri())?;
        let mut request = self.prepare(request, &target)?;
        while let Some(mut conn) = self.inner.checkout(&target) {
            match send_on(&mut conn, request).await {
                Sent::Answered(response) => return Ok((conn, response)),
                Sent::Unsent(back) => request = back,
                Sent::Failed(e) => return Err(e),
            }
        }
        let io = tokio::time::timeout(
            CONNECT_TIMEOUT,
            connect::open(self.inner.proxy.as_ref(), &target, &self.inner.tls),
        )
        .await
        .map_err(|_| {
            Error::connect(format!(
                "connecting to {} took over {} s",
                target.authority(),
                CONNECT_TIMEOUT.as_secs()
            ))
        })??;
        let (sender, driver) = http1::Builder::new()
            .handshake(TokioIo::new(io))
            .await
            .map_err(|e| Error::hyper(&e))?;
        let mut conn = Conn {
            sender,
            driver: Some(Box::pin(driver)),
            target,
            idle_since: Instant::now(),
        };
        match send_on(&mut conn, request).await {
            Sent::Answered(response) => Ok((conn, response)),
            Sent::Unsent(_) => Err(Error::new(
                Kind::Io,
                "the upstream closed a new connection before the request went out",
            )),
            Sent::Failed(e) => Err(e),
        }
    }

    /// The hyper request: origin-form URI (absolute for a forwarding proxy), `Host`, the
    /// user agent, and the proxy's credentials when it forwards.
    fn prepare(
        &self,
        request: http::Request<Bytes>,
        target: &Target,
    ) -> Result<hyper::Request<Full<Bytes>>, Error> {
        let (mut parts, body) = request.into_parts();
        let forward = self.inner.proxy.as_ref().filter(|p| p.forwards(target));
        if forward.is_none() {
            let path = parts
                .uri
                .path_and_query()
                .map_or("/", http::uri::PathAndQuery::as_str);
            parts.uri = http::Uri::try_from(path)
                .map_err(|e| Error::new(Kind::Request, format!("bad upstream path: {e}")))?;
        }
        if let Some(auth) = forward.and_then(|p| p.authorization.clone()) {
            parts.headers.insert(header::PROXY_AUTHORIZATION, auth);
        }
        let default_port = if target.https { 443 } else { 80 };
        let host = if target.port != default_port {
            target.authority()
        } else if target.host.contains(':') {
            format!("[{}]", target.host)
        } else {
            target.host.to_string()
        };
        let host = HeaderValue::from_str(&host)
            .map_err(|_| Error::new(Kind::Request, "the upstream host is not a valid header"))?;
        parts.headers.insert(header::HOST, host);
        parts
            .headers
            .entry(header::USER_AGENT)
            .or_insert(HeaderValue::from_static(concat!(
                "AiCarpool/",
                env!("CARGO_PKG_VERSION")
            )));
        Ok(hyper::Request::from_parts(parts, Full::new(body)))
    }
}

/// Sends on `conn`, driving its I/O from this task until the response head arrives.
async fn send_on(conn: &mut Conn, request: hyper::Request<Full<Bytes>>) -> Sent {
    let ready = std::future::poll_fn(|cx| {
        conn.drive(cx);
        conn.sender.poll_ready(cx)
    })
    .await;
    if ready.is_err() {
        // Closed while idle (the provider's keep-alive ran out): it never carried this one.
        return Sent::Unsent(request);
    }
    let mut response = std::pin::pin!(conn.sender.try_send_request(request));
    let outcome = std::future::poll_fn(|cx| {
        conn.drive(cx);
        response.as_mut().poll(cx)
    })
    .await;
    match outcome {
        Ok(response) => Sent::Answered(response),
        Err(mut e) => match e.take_message() {
            Some(request) => Sent::Unsent(request),
            None => Sent::Failed(Error::hyper(&e.into_error())),
        },
    }
}

impl Inner {
    /// The most recently used idle connection to `target` that has not expired. Whether it
    /// is still open shows when it is driven for the request ([`send_on`]).
    fn checkout(&self, target: &Target) -> Option<Conn> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while let Some(at) = idle.iter().rposition(|c| c.target == *target) {
            let conn = idle.remove(at)?;
            if conn.idle_since.elapsed() < POOL_IDLE_TIMEOUT {
                return Some(conn);
            }
        }
        None
    }

    /// Keeps `conn` for the next request, if it can carry one.
    fn checkin(&self, mut conn: Conn) {
        if !conn.reusable() {
            return;
        }
        conn.idle_since = Instant::now();
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The oldest go first: expired ones, then any beyond the cap.
        while idle
            .front()
            .is_some_and(|c| c.idle_since.elapsed() >= POOL_IDLE_TIMEOUT)
            || idle.len() >= POOL_MAX_IDLE
        {
            idle.pop_front();
        }
        idle.push_back(conn);
    }
}

/// An upstream answer whose head has arrived.
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Body,
}

impl Response {
    /// Status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body as a stream of chunks as they arrive.
    pub fn into_body(self) -> Body {
        self.body
    }

    /// The whole body, or `None` (the connection dropped) once it passes `limit` bytes.
    pub async fn bytes(self, limit: usize) -> Result<Option<Bytes>, Error> {
        use futures_util::StreamExt;
        let mut body = self.body;
        // One chunk (the usual whole answer) is returned as it is, without a copy.
        let mut first: Option<Bytes> = None;
        let mut out = bytes::BytesMut::new();
        let mut len = 0usize;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            len = len.saturating_add(chunk.len());
            if len > limit {
                return Ok(None);
            }
            if first.is_none() && out.is_empty() {
                first = Some(chunk);
                continue;
            }
            if let Some(first) = first.take() {
                out.extend_from_slice(&first);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Some(first.unwrap_or_else(|| out.freeze())))
    }

    /// At most `cap` bytes of the body (error bodies); a failure ends it early.
    pub async fn bytes_capped(self, cap: usize) -> Vec<u8> {
        use futures_util::StreamExt;
        let mut body = self.body;
        let mut out = Vec::new();
        while let Some(Ok(chunk)) = body.next().await {
            let room = cap.saturating_sub(out.len());
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if out.len() >= cap {
                break;
            }
        }
        out
    }
}

/// A response body: chunks as they arrive, reading the connection from the polling task.
/// When it ends, the connection goes back to the pool; dropped before that, the connection
/// closes, which cancels the request at the provider.
pub struct Body {
    incoming: Incoming,
    conn: Option<Conn>,
    client: Arc<Inner>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    ended: bool,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Body {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        // Twice at most: reading a frame may ask the connection for more, which it does
        // when driven again.
        for _ in 0..2 {
            if let Some(conn) = self.conn.as_mut() {
                conn.drive(cx);
            }
            loop {
                match Pin::new(&mut self.incoming).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                        Ok(data) if data.is_empty() => {}
                        Ok(data) => return Poll::Ready(Some(Ok(data))),
                        // Trailers: nothing a provider sends that we use.
                        Err(_) => {}
                    },
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(Error::hyper(&e)))),
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Pending => break,
                }
            }
            if self.incoming.is_end_stream() {
                return Poll::Ready(None);
            }
        }
        Poll::Pending
    }
}

impl Stream for Body {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        let polled = this.poll_chunk(cx);
        match polled {
            Poll::Ready(Some(Ok(_))) => polled,
            Poll::Ready(None) => {
                this.ended = true;
                if let Some(conn) = this.conn.take() {
                    this.client.checkin(conn);
                }
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(_))) => {
                this.ended = true;
                this.conn = None;
                polled
            }
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    this.ended = true;
                    this.conn = None;
                    return Poll::Ready(Some(Err(Error::timeout())));
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_are_checked_and_passwords_masked() {
        assert_eq!(
            check_proxy_url("socks5h://user:pa55@127.0.0.1:1080").unwrap(),
            "socks5h://user:****@127.0.0.1:1080"
        );
        assert_eq!(
            check_proxy_url("http://proxy.lan:3128").unwrap(),
            "http://proxy.lan:3128/"
        );
        assert_eq!(
            check_proxy_url("ftp://proxy.lan"),
            Err(ProxyUrlError::Scheme)
        );
        assert!(matches!(
            check_proxy_url("not a url"),
            Err(ProxyUrlError::NotAUrl(_))
        ));
        for ok in [
            "http://a:1",
            "https://a:1",
            "socks5://a:1",
            "socks5h://u:p@a:1",
        ] {
            assert!(build(Some(ok), None).is_ok(), "{ok}");
        }
    }
}
