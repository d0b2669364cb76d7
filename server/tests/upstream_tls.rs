//! The upstream client over HTTPS and its connection pool. A TLS front (rustls, with a
//! certificate from a CA made for the test) stands before the mock provider, as a provider's
//! HTTPS endpoint does; it is reached directly, through tinyproxy's CONNECT tunnel and through
//! Dante's SOCKS5, and by the gateway with `UPSTREAM_CA_FILE`. Small raw HTTP servers check
//! what the pool does when a provider closes an idle connection or stalls a body.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aicarpool::gateway::client;
use common::proxies::{HTTP_PASSWORD, HTTP_USER, ProxyServer, SocksAuth};
use common::upstream::{assert_replied, chat, chat_request, mock, send_chat};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A CA and a server certificate it signed for `localhost` and `127.0.0.1`.
struct TestCa {
    ca: CertificateDer<'static>,
    ca_pem: String,
    leaf: CertificateDer<'static>,
    leaf_key: PrivateKeyDer<'static>,
}

fn test_ca() -> TestCa {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "AiCarpool test CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    TestCa {
        ca: ca.der().clone(),
        ca_pem: ca.pem(),
        leaf: leaf.der().clone(),
        leaf_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    }
}

/// TLS in front of `backend`: every accepted connection is decrypted and piped to it.
struct TlsFront {
    addr: SocketAddr,
    /// TLS handshakes completed.
    handshakes: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn tls_front(ca: &TestCa, backend: SocketAddr) -> TlsFront {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![ca.leaf.clone(), ca.ca.clone()],
            ca.leaf_key.clone_key(),
        )
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handshakes);
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let counter = Arc::clone(&counter);
            conns.spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let mut plain = TcpStream::connect(backend).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsFront {
        addr,
        handshakes,
        task,
    }
}

fn trusting(ca: &TestCa) -> client::Client {
    let tls = client::tls_config(vec![ca.ca.clone()]).unwrap();
    client::build(None, Some(&tls)).unwrap()
}

#[tokio::test]
async fn https_upstreams_are_verified_and_their_connections_reused() {
    let ca = test_ca();
    let mock = mock().await;
    let front = tls_front(&ca, mock.addr()).await;
    let port = front.addr.port();
    let client = trusting(&ca);

    for text in ["one", "two", "three"] {
        let res = send_chat(&client, &format!("https://localhost:{port}/v1"), text)
            .await
            .unwrap();
        assert_replied(res, text).await;
    }
    // One TLS connection carried all three.
    assert_eq!(front.handshakes.load(Ordering::SeqCst), 1);
    let seen = mock.last_request().unwrap();
    assert_eq!(seen.header("authorization"), Some("Bearer mock-key"));
    assert_eq!(seen.header("host"), Some(&*format!("localhost:{port}")));

    // The certificate names the IP address too; another origin gets its own connection.
    let res = send_chat(&client, &format!("https://127.0.0.1:{port}/v1"), "by ip")
        .await
        .unwrap();
    assert_replied(res, "by ip").await;
    assert_eq!(front.handshakes.load(Ordering::SeqCst), 2);

    // Without the test CA the certificate is refused: a connect error that says why, and
    // nothing reaches the provider.
    let before = mock.stats().total;
    let err = send_chat(
        &client::build(None, None).unwrap(),
        &format!("https://localhost:{port}/v1"),
        "untrusted",
    )
    .await
    .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(err.to_string().contains("certificate"), "{err}");
    assert_eq!(mock.stats().total, before);
}

#[tokio::test]
async fn https_goes_through_connect_and_socks5_tunnels() {
    let ca = test_ca();
    let mock = mock().await;
    let front = tls_front(&ca, mock.addr()).await;
    let target = format!("https://localhost:{}/v1", front.addr.port());
    let tls = client::tls_config(vec![ca.ca.clone()]).unwrap();

    let tinyproxy = ProxyServer::tinyproxy().await;
    let via_connect = client::build(
        Some(&tinyproxy.url("http", Some((HTTP_USER, HTTP_PASSWORD)))),
        Some(&tls),
    )
    .unwrap();
    for text in ["tunnelled", "tunnelled again"] {
        let res = send_chat(&via_connect, &target, text)
            .await
            .unwrap_or_else(|e| panic!("{e}\ntinyproxy log:\n{}", tinyproxy.log()));
        assert_replied(res, text).await;
    }
    // One tunnel, kept open for the second request; the proxy never saw the request itself.
    let log = tinyproxy
        .log_with(&format!("CONNECT localhost:{}", front.addr.port()))
        .await;
    assert_eq!(log.matches("Established connection").count(), 1, "{log}");
    assert!(!log.contains("chat/completions"), "{log}");
    assert_eq!(mock.last_request().unwrap().header("via"), None);

    let dante = ProxyServer::dante(SocksAuth::None).await;
    let via_socks = client::build(Some(&dante.url("socks5h", None)), Some(&tls)).unwrap();
    let res = send_chat(&via_socks, &target, "through socks")
        .await
        .unwrap_or_else(|e| panic!("{e}\ndante log:\n{}", dante.log()));
    assert_replied(res, "through socks").await;
    assert_eq!(front.handshakes.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_gateway_serves_an_https_account_trusted_through_upstream_ca_file() {
    let ca = test_ca();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let tls = aicarpool::config::upstream_tls(ca_file.to_str().unwrap()).unwrap();
    let gw = common::gateway::start_with(|c| c.gateway.upstream_tls = Some(tls)).await;
    let front = tls_front(&ca, gw.mock.addr()).await;

    let id = gw
        .add_account(json!({
            "name": "openai-https", "provider": "openai",
            "base_url": format!("https://localhost:{}/v1", front.addr.port()),
            "api_key": gw.mock.api_key(), "models": ["gpt-https"],
        }))
        .await;
    let (status, tested) = gw
        .api("POST", &format!("/api/accounts/{id}/test"), None)
        .await;
    assert_eq!(status, 200, "{tested}");
    assert_eq!(tested["ok"], true, "{tested}");

    let res = gw
        .post("/v1/chat/completions", &chat("gpt-https", "over tls"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-aicarpool-account-id"], id.to_string());
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "mock reply: over tls"
    );

    let mut streamed = chat("gpt-https", "streamed over tls");
    streamed["stream"] = json!(true);
    let res = gw
        .post("/v1/chat/completions", &streamed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(text.contains("\"usage\""), "{text}");
    // The test call, the answer and the stream shared one TLS connection.
    assert_eq!(front.handshakes.load(Ordering::SeqCst), 1);
}

/// A raw HTTP/1.1 server answering `{}` to every request; it closes each connection
/// `close_after` after its first answer, and with `stall` sends only part of the body.
struct RawServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn raw_server(close_after: Option<Duration>, stall: bool) -> RawServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((mut tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            conns.spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // One request: the head, then content-length bytes.
                    let head_end = loop {
                        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                        match tcp.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while buf.len() < head_end + length {
                        match tcp.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + length);
                    if stall {
                        let _ = tcp
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{\"a\"")
                            .await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    let _ = tcp
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}")
                        .await;
                    if let Some(after) = close_after {
                        tokio::time::sleep(after).await;
                        return;
                    }
                }
            });
        }
    });
    RawServer {
        addr,
        connections,
        task,
    }
}

#[tokio::test]
async fn a_connection_the_provider_closed_is_not_reused() {
    let server = raw_server(Some(Duration::from_millis(20)), false).await;
    let client = client::build(None, None).unwrap();
    let base = format!("http://{}/v1", server.addr);
    for round in 1..=3 {
        let res = send_chat(&client, &base, "hi")
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(res.status(), 200);
        assert_eq!(&res.bytes(usize::MAX).await.unwrap().unwrap()[..], b"{}");
        // Long enough for the server's close to arrive before the next request.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 3);

    // A server that keeps connections open gets one for all requests.
    let server = raw_server(None, false).await;
    let base = format!("http://{}/v1", server.addr);
    for _ in 0..5 {
        let res = send_chat(&client, &base, "hi").await.unwrap();
        assert_eq!(&res.bytes(usize::MAX).await.unwrap().unwrap()[..], b"{}");
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_deadline_covers_the_body() {
    let server = raw_server(None, true).await;
    let client = client::build(None, None).unwrap();
    let res = client
        .send(
            chat_request(&format!("http://{}/v1", server.addr), "hi"),
            Duration::from_millis(300),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let started = std::time::Instant::now();
    let err = res.bytes(usize::MAX).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Nothing at all: a closed port is a connect error.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let err = send_chat(&client, &format!("http://{addr}/v1"), "hi")
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(err.to_string().contains("could not connect"), "{err}");
}
