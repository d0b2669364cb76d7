//! Opening a connection to an upstream: TCP, then the account's proxy (an HTTP `CONNECT`
//! tunnel, or SOCKS5 with or without a username), then TLS to the provider.

use std::sync::Arc;

use base64::Engine as _;
use http::HeaderValue;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::Error;

/// A byte stream of any layering (TCP, TLS, TLS inside a TLS proxy).
pub(super) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A connection's stream.
pub(super) type BoxIo = Box<dyn Io>;

/// Where a request goes: the provider's scheme, host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Target {
    /// TLS to the provider.
    pub https: bool,
    /// Host name or IP address, without IPv6 brackets.
    pub host: Box<str>,
    /// Port.
    pub port: u16,
}

impl Target {
    /// The target of an absolute `http://` or `https://` URI.
    pub fn of(uri: &http::Uri) -> Result<Target, Error> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(Error::new(
                    super::error::Kind::Request,
                    format!("{uri} is not an http:// or https:// URL"),
                ));
            }
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::new(super::error::Kind::Request, format!("{uri} has no host")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Ok(Target {
            https,
            host: host.into(),
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
        })
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        authority(&self.host, self.port)
    }
}

fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The kinds of proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ProxyKind {
    /// An HTTP proxy (`https://`: spoken to over TLS): forwards `http://` requests, tunnels
    /// `https://` ones with `CONNECT`.
    Http {
        /// TLS to the proxy itself.
        tls: bool,
    },
    /// SOCKS5.
    Socks5 {
        /// `socks5h://`: the proxy resolves the provider's name.
        remote_dns: bool,
    },
}

/// An account's proxy.
#[derive(Clone, Debug)]
pub(super) struct Proxy {
    pub kind: ProxyKind,
    pub host: String,
    pub port: u16,
    /// User and password, percent-decoded.
    pub credentials: Option<(String, String)>,
    /// `Proxy-Authorization` for an HTTP proxy with credentials.
    pub authorization: Option<HeaderValue>,
}

impl Proxy {
    /// Reads a proxy URL already checked by [`super::check_proxy_url`].
    pub fn parse(raw: &str) -> Result<Proxy, super::ProxyUrlError> {
        use super::ProxyUrlError;
        let url = url::Url::parse(raw.trim()).map_err(|e| ProxyUrlError::NotAUrl(e.to_string()))?;
        let kind = match url.scheme() {
            "http" => ProxyKind::Http { tls: false },
            "https" => ProxyKind::Http { tls: true },
            "socks5" => ProxyKind::Socks5 { remote_dns: false },
            "socks5h" => ProxyKind::Socks5 { remote_dns: true },
            _ => return Err(ProxyUrlError::Scheme),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(ProxyUrlError::NoHost)?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port().unwrap_or(match kind {
            ProxyKind::Http { tls: false } => 80,
            ProxyKind::Http { tls: true } => 443,
            ProxyKind::Socks5 { .. } => 1080,
        });
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = (!url.username().is_empty() || url.password().is_some())
            .then(|| (decode(url.username()), decode(url.password().unwrap_or(""))));
        let authorization = credentials.as_ref().and_then(|(user, password)| {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            let mut value = HeaderValue::from_str(&format!("Basic {token}")).ok()?;
            value.set_sensitive(true);
            Some(value)
        });
        Ok(Proxy {
            kind,
            host,
            port,
            credentials,
            authorization,
        })
    }

    /// Whether requests to `target` are forwarded as they are (absolute URI to the proxy)
    /// rather than tunnelled.
    pub fn forwards(&self, target: &Target) -> bool {
        matches!(self.kind, ProxyKind::Http { .. }) && !target.https
    }
}

/// Opens a stream to `target` through `proxy`, TLS included.
pub(super) async fn open(
    proxy: Option<&Proxy>,
    target: &Target,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<BoxIo, Error> {
    let stream: BoxIo = match proxy {
        None => Box::new(tcp(&target.host, target.port, "the upstream").await?),
        Some(proxy) => {
            let mut stream: BoxIo = Box::new(tcp(&proxy.host, proxy.port, "the proxy").await?);
            if proxy.kind == (ProxyKind::Http { tls: true }) {
                stream = handshake(stream, &proxy.host, tls, "the proxy").await?;
            }
            match proxy.kind {
                ProxyKind::Http { .. } if proxy.forwards(target) => {}
                ProxyKind::Http { .. } => tunnel(&mut stream, target, proxy).await?,
                ProxyKind::Socks5 { remote_dns } => {
                    socks5(&mut stream, target, proxy, remote_dns).await?;
                }
            }
            stream
        }
    };
    if target.https {
        handshake(stream, &target.host, tls, "the upstream").await
    } else {
        Ok(stream)
    }
}

async fn tcp(host: &str, port: u16, what: &str) -> Result<TcpStream, Error> {
    let stream = TcpStream::connect((host, port)).await.map_err(|e| {
        Error::connect(format!(
            "could not connect to {what} at {}: {e}",
            authority(host, port)
        ))
    })?;
    // Small requests and SSE events must not wait for Nagle.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

async fn handshake(
    stream: BoxIo,
    host: &str,
    tls: &Arc<rustls::ClientConfig>,
    what: &str,
) -> Result<BoxIo, Error> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| Error::connect(format!("{host} is not a name TLS can check: {e}")))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::clone(tls))
        .connect(name, stream)
        .await
        .map_err(|e| Error::connect(format!("TLS with {what} ({host}) failed: {e}")))?;
    Ok(Box::new(stream))
}

/// Asks an HTTP proxy for a `CONNECT` tunnel to `target`.
async fn tunnel(stream: &mut BoxIo, target: &Target, proxy: &Proxy) -> Result<(), Error> {
    let authority = target.authority();
    let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(auth) = &proxy.authorization {
        head.push_str("Proxy-Authorization: ");
        head.push_str(auth.to_str().unwrap_or_default());
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let io = |e: std::io::Error| Error::connect(format!("the proxy's CONNECT tunnel failed: {e}"));
    stream.write_all(head.as_bytes()).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    // Read the answer's head; nothing follows it before we speak (TLS starts with us).
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    let end = loop {
        let n = stream.read(&mut chunk).await.map_err(io)?;
        if n == 0 {
            return Err(Error::connect(
                "the proxy closed the connection instead of opening a tunnel",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > 16 * 1024 {
            return Err(Error::connect("the proxy's answer to CONNECT is not HTTP"));
        }
    };
    let status_line =
        String::from_utf8_lossy(&buf[..buf.iter().position(|&b| b == b'\r').unwrap_or(0)])
            .into_owned();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok());
    match status {
        Some(200..=299) if end == buf.len() => Ok(()),
        Some(200..=299) => Err(Error::connect(
            "the proxy sent data before the tunnel was used",
        )),
        Some(407) => Err(Error::connect(format!(
            "the proxy refused its credentials ({status_line})"
        ))),
        _ => Err(Error::connect(format!(
            "the proxy refused the tunnel to {authority}: {status_line}"
        ))),
    }
}

/// Opens a SOCKS5 connection to `target` (RFC 1928, username method of RFC 1929).
async fn socks5(
    stream: &mut BoxIo,
    target: &Target,
    proxy: &Proxy,
    remote_dns: bool,
) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::connect(format!("the SOCKS5 proxy failed: {e}"));
    let methods: &[u8] = if proxy.credentials.is_some() {
        &[5, 2, 0x00, 0x02]
    } else {
        &[5, 1, 0x00]
    };
    stream.write_all(methods).await.map_err(io)?;
    let mut reply = [0u8; 2];
    stream.read_exact(&mut reply).await.map_err(io)?;
    if reply[0] != 5 {
        return Err(Error::connect("the proxy does not speak SOCKS5"));
    }
    match reply[1] {
        0x00 => {}
        0x02 => {
            let Some((user, password)) = &proxy.credentials else {
                return Err(Error::connect(
                    "the SOCKS5 proxy asks for credentials the proxy URL lacks",
                ));
            };
            let (user, password) = (user.as_bytes(), password.as_bytes());
            let (Ok(ulen), Ok(plen)) = (u8::try_from(user.len()), u8::try_from(password.len()))
            else {
                return Err(Error::connect(
                    "SOCKS5 user names and passwords are at most 255 bytes",
                ));
            };
            let mut auth = Vec::with_capacity(3 + user.len() + password.len());
            auth.extend_from_slice(&[1, ulen]);
            auth.extend_from_slice(user);
            auth.push(plen);
            auth.extend_from_slice(password);
            stream.write_all(&auth).await.map_err(io)?;
            stream.read_exact(&mut reply).await.map_err(io)?;
            if reply[1] != 0 {
                return Err(Error::connect("the SOCKS5 proxy refused its credentials"));
            }
        }
        0xff if proxy.credentials.is_none() => {
            return Err(Error::connect(
                "the SOCKS5 proxy accepts none of the offered methods (it probably wants credentials)",
            ));
        }
        _ => {
            return Err(Error::connect(
                "the SOCKS5 proxy accepts none of the offered methods",
            ));
        }
    }
    let mut request = vec![5, 1, 0];
    let ip = match target.host.parse::<std::net::IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) if remote_dns => None,
        Err(_) => Some(
            tokio::net::lookup_host((&*target.host, target.port))
                .await
                .map_err(|e| Error::connect(format!("could not resolve {}: {e}", target.host)))?
                .next()
                .ok_or_else(|| Error::connect(format!("{} has no address", target.host)))?
                .ip(),
        ),
    };
    match ip {
        Some(std::net::IpAddr::V4(v4)) => {
            request.push(1);
            request.extend_from_slice(&v4.octets());
        }
        Some(std::net::IpAddr::V6(v6)) => {
            request.push(4);
            request.extend_from_slice(&v6.octets());
        }
        None => {
            let Ok(len) = u8::try_from(target.host.len()) else {
                return Err(Error::connect("host names are at most 255 bytes"));
            };
            request.push(3);
            request.push(len);
            request.extend_from_slice(target.host.as_bytes());
        }
    }
    request.extend_from_slice(&target.port.to_be_bytes());
    stream.write_all(&request).await.map_err(io)?;
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).await.map_err(io)?;
    if head[1] != 0 {
        let why = match head[1] {
            1 => "general failure",
            2 => "not allowed by its rules",
            3 => "network unreachable",
            4 => "host unreachable (or its name did not resolve)",
            5 => "connection refused by the upstream",
            6 => "TTL expired",
            7 => "command not supported",
            8 => "address type not supported",
            _ => "unknown error",
        };
        return Err(Error::connect(format!(
            "the SOCKS5 proxy could not reach {}: {why}",
            target.authority()
        )));
    }
    // The address the proxy bound: skipped.
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut len = [0u8; 1];
            stream.read_exact(&mut len).await.map_err(io)?;
            usize::from(len[0]) + 2
        }
        _ => {
            return Err(Error::connect(
                "the SOCKS5 proxy sent an unknown address type",
            ));
        }
    };
    let mut skip = vec![0u8; rest];
    stream.read_exact(&mut skip).await.map_err(io)?;
    Ok(())
}

/// The TLS settings for providers: the platform's roots plus `extra` (PEM certificates from
/// `UPSTREAM_CA_FILE`), HTTP/1.1 by ALPN.
pub fn tls_config(
    extra: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, Arc::clone(&provider))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
