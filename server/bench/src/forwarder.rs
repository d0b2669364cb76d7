//! The floor: a minimal HTTP/1.1 forwarder, run as a process of its own like the gateway.
//!
//! It does what any reverse proxy must and nothing more: read the request, send it on to one
//! upstream over a kept-alive connection (one per client connection), read the answer and
//! send it back. No keys, routing, accounting or JSON. What it adds over a direct call is what
//! the extra hop costs on this machine (two more sockets, two more wake-ups, a second
//! process), so the gateway's own share is the gateway's added time minus this.
//!
//! Same runtime shape as the gateway (tokio multi-thread, as many workers as cores), hyper on
//! both sides, TCP_NODELAY, the upstream connection driven in the request's own task.
//! `FORWARDER_CURRENT_THREAD=1` in the benchmark's environment runs it on a current-thread
//! runtime instead (measured the same: 0.214 vs 0.215 ms p50).

use std::convert::Infallible;
use std::future::Future as _;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

type Upstream = (
    SendRequest<Full<Bytes>>,
    hyper::client::conn::http1::Connection<TokioIo<TcpStream>, Full<Bytes>>,
);

/// Serves on 127.0.0.1:`port`, forwarding to `upstream`, until killed.
pub fn run(port: u16, upstream: SocketAddr) {
    let runtime = if std::env::var("FORWARDER_CURRENT_THREAD").is_ok() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    }
    .unwrap();
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let connection: Arc<Mutex<Option<Upstream>>> = Arc::default();
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let connection = Arc::clone(&connection);
                    async move { Ok::<_, Infallible>(forward(&connection, upstream, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
}

async fn forward(
    connection: &Mutex<Option<Upstream>>,
    upstream: SocketAddr,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let bad_gateway = || {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::BAD_GATEWAY;
        r
    };
    let (mut parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return bad_gateway();
    };
    parts.uri = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse::<Uri>()
        .unwrap();
    let mut guard = connection.lock().await;
    if guard.is_none() {
        let Ok(tcp) = TcpStream::connect(upstream).await else {
            return bad_gateway();
        };
        let _ = tcp.set_nodelay(true);
        let Ok(pair) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await else {
            return bad_gateway();
        };
        *guard = Some(pair);
    }
    let Some((sender, conn)) = guard.as_mut() else {
        return bad_gateway();
    };
    let mut conn = std::pin::Pin::new(conn);
    // Drive the connection from this task while waiting for readiness, the head and the body.
    let ready = std::future::poll_fn(|cx| {
        let _ = conn.as_mut().poll(cx);
        sender.poll_ready(cx)
    })
    .await;
    if ready.is_err() {
        *guard = None;
        return bad_gateway();
    }
    let mut response =
        std::pin::pin!(sender.send_request(Request::from_parts(parts, Full::new(body))));
    let response = std::future::poll_fn(|cx| {
        let _ = conn.as_mut().poll(cx);
        response.as_mut().poll(cx)
    })
    .await;
    let Ok(response) = response else {
        *guard = None;
        return bad_gateway();
    };
    let (parts, mut body) = response.into_parts();
    let mut collected = Vec::new();
    let read = std::future::poll_fn(|cx| {
        loop {
            let _ = conn.as_mut().poll(cx);
            match std::pin::Pin::new(&mut body).poll_frame(cx) {
                std::task::Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        collected.extend_from_slice(&data);
                    }
                }
                std::task::Poll::Ready(Some(Err(_))) => return std::task::Poll::Ready(false),
                std::task::Poll::Ready(None) => return std::task::Poll::Ready(true),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
    })
    .await;
    if !read {
        *guard = None;
        return bad_gateway();
    }
    Response::from_parts(parts, Full::new(Bytes::from(collected)))
}
