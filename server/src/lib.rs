//! The axum side of AiCarpool: [`router`] assembles the operational endpoints, the Leptos pages
//! and server functions, the static assets and the layers; [`site`] adds the proxy's direct
//! lane to it ([`proxy::Direct`]); [`serve`] runs that until a signal.

pub mod api;
pub mod min_rate;
pub mod mock_upstream;
mod ops;
pub mod proxy;
pub mod startup;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use aicarpool::state::AppState;
use app::{App, shell};
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::routing::get;
use http::{HeaderName, HeaderValue, Request, header};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutBody;
use tower_http::trace::TraceLayer;

/// The router's state: the application state plus what Leptos needs to render.
#[derive(Clone, Debug)]
pub struct ServerState {
    /// The application state.
    pub app: AppState,
    /// Leptos rendering options (site root, output name).
    pub leptos: LeptosOptions,
}

impl FromRef<ServerState> for LeptosOptions {
    fn from_ref(state: &ServerState) -> Self {
        state.leptos.clone()
    }
}

impl FromRef<ServerState> for AppState {
    fn from_ref(state: &ServerState) -> Self {
        state.app.clone()
    }
}

/// Leptos options for a site root and listen address. `LEPTOS_ENV=DEV` (set by
/// `cargo leptos watch`) turns on live reload; everything else is production.
pub fn leptos_options(site_root: &Path, addr: SocketAddr) -> LeptosOptions {
    let env = match std::env::var("LEPTOS_ENV").as_deref() {
        Ok("DEV" | "dev" | "development") => leptos::config::Env::DEV,
        _ => leptos::config::Env::PROD,
    };
    LeptosOptions::builder()
        .output_name("aicarpool")
        .site_root(site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .env(env)
        .build()
}

/// The header carrying a request's id: the client's own, else one made up here; it is sent
/// back with the answer, names the request's log span and its usage record.
pub const REQUEST_ID: &str = "x-request-id";

/// Headers every answer carries unless its handler set them.
pub const SECURITY_HEADERS: [(HeaderName, &str); 3] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
    (header::X_FRAME_OPTIONS, "DENY"),
];

/// Whether a client's own `x-request-id` is kept: 1 to 128 visible ASCII characters. Any
/// other is replaced by a made-up one, since the id is logged and stored with each usage
/// record (a client must not fill the books with a 100 KB id).
pub fn usable_request_id(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    (1..=128).contains(&bytes.len()) && bytes.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// The log span of one request (after its id is set).
pub fn request_span<B>(req: &Request<B>) -> tracing::Span {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path())
}

/// What the serving loop answers with: the [`router`], and the proxy's direct lane in front
/// of it for the requests that lane takes.
#[derive(Clone)]
pub struct Site {
    router: Router,
    direct: proxy::Direct,
}

impl Site {
    /// The answer to `req`: from the direct lane when it takes the request, else the router.
    pub fn answer(
        &self,
        req: Request<Body>,
    ) -> impl Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send + use<>
    {
        use futures_util::FutureExt as _;
        use futures_util::future::{Either, ready};
        use tower::ServiceExt as _;
        // A target without a path (`CONNECT host:443`, `GET host:80`: the forms a forward
        // proxy takes) names nothing here; past this point every handler reads a path.
        if req.uri().path_and_query().is_none() {
            return Either::Right(Either::Left(ready(Ok(no_path(&req)))));
        }
        match proxy::Direct::endpoint(req.method(), req.uri().path()) {
            Some(endpoint) => Either::Left(self.direct.clone().serve(endpoint, req).map(Ok)),
            None => Either::Right(Either::Right(self.router.clone().oneshot(req))),
        }
    }

    /// Marks the requests still in flight as cut off by the server stopping (see
    /// [`serve_until`]).
    fn cut_off_in_flight(&self) {
        self.direct.state().app.gateway().cut_off_in_flight();
    }
}

/// The answer to a request whose target has no path: 400, as JSON in OpenAI's error shape
/// (the target names no route, so no dialect).
fn no_path(req: &Request<Body>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let message = format!(
        "the request target `{}` has no path: AiCarpool is not a forward proxy; send requests \
         such as `POST /v1/chat/completions` to it",
        req.uri()
    );
    let body = serde_json::json!({ "error": {
        "message": message, "type": "invalid_request_error", "param": null,
        "code": "bad_request_target" } });
    (http::StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// The whole HTTP surface of a node as [`serve`] answers it.
pub fn site(app: AppState, leptos: LeptosOptions) -> Site {
    Site {
        router: router(app.clone(), leptos.clone()),
        direct: proxy::Direct::new(ServerState { app, leptos }),
    }
}

/// The whole HTTP surface of a node as a router (the proxy's endpoints included).
pub fn router(app: AppState, leptos: LeptosOptions) -> Router {
    // Listed once per process. Listing runs the app with resource loading suppressed
    // process-wide (a global flag in leptos_server, leptos issue #4773): a page whose data is
    // first asked for meanwhile, on another thread, would wait for it forever. Every router
    // is built after the one listing, so no page is rendered during it.
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    let routes = ROUTES.get_or_init(|| generate_route_list(App)).clone();
    let context = {
        let app = app.clone();
        move || provide_context(app.clone())
    };
    let pkg_dir = Path::new(&*leptos.site_root).join(&*leptos.site_pkg_dir);
    let state = ServerState {
        app,
        leptos: leptos.clone(),
    };

    // Built assets keep their names between releases, so browsers revalidate them (cheap: a
    // 304) instead of caching them blindly; the .br/.gz siblings are sent when accepted.
    let pkg = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .service(
            ServeDir::new(pkg_dir)
                .precompressed_br()
                .precompressed_gzip(),
        );

    let request_id = HeaderName::from_static(REQUEST_ID);
    let trace = TraceLayer::new_for_http().make_span_with(request_span);

    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/lang/{code}", get(ops::set_language))
        .nest("/api", api::routes())
        .merge(proxy::routes())
        .nest_service("/pkg", pkg)
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let leptos = leptos.clone();
            move || shell(leptos.clone())
        })
        .fallback({
            let pages =
                leptos_axum::file_and_error_handler_with_context::<ServerState, _>(context, shell);
            move |uri: http::Uri, state: State<ServerState>, req: Request<Body>| {
                let pages = pages.clone();
                async move {
                    // An API client with a mistyped path gets JSON, not the HTML 404 page.
                    match proxy::misspelled_route(&state, &req) {
                        Some(answer) => answer,
                        None => pages(uri, state, req).await,
                    }
                }
            }
        })
        .layer(
            ServiceBuilder::new()
                .map_request(|mut req: Request<Body>| {
                    if req
                        .headers()
                        .get(REQUEST_ID)
                        .is_some_and(|id| !usable_request_id(id))
                    {
                        req.headers_mut().remove(REQUEST_ID);
                    }
                    req
                })
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(trace)
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(SetResponseHeaderLayer::if_not_present(
                    SECURITY_HEADERS[0].0.clone(),
                    HeaderValue::from_static(SECURITY_HEADERS[0].1),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    SECURITY_HEADERS[1].0.clone(),
                    HeaderValue::from_static(SECURITY_HEADERS[1].1),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    SECURITY_HEADERS[2].0.clone(),
                    HeaderValue::from_static(SECURITY_HEADERS[2].1),
                )),
        )
        .with_state(state)
}

/// How long a client may take to send a request's head (its first byte included, so this is
/// also how long an idle keep-alive connection stays open) and may leave a request body
/// without a byte. Slow or stalled clients then get their connection closed (head) or a 408
/// (body) instead of holding a connection and its memory forever.
pub const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Completes at the first SIGTERM or SIGINT. The handlers are in place once this returns, so
/// take it before start-up: from then on a signal is a graceful stop (before that, it kills).
pub fn stop_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received: shutting down"),
            _ = terminate.recv() => tracing::info!("SIGTERM received: shutting down"),
        }
    })
}

/// Serves `site` on `listener` until `stop` (see [`stop_signal`]), then lets in-flight
/// requests finish (up to `drain` long) before returning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    site: Site,
    drain: Duration,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_until(listener, site, CLIENT_IDLE_TIMEOUT, drain, stop).await
}

/// Serves `site` on `listener` until `stop` completes, then stops accepting, lets in-flight
/// requests finish (up to `drain` long) and returns. Connections are HTTP/1.1 with
/// `TCP_NODELAY`; a client that takes longer than `idle` to send a request head is
/// disconnected, and a request body that stalls for `idle` is answered 408.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    site: Site,
    idle: Duration,
    drain: Duration,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    use aicarpool::gateway::client::Coalesce;
    use axum::extract::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(idle);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // Every connection's task, so that those still running when the drain time is up can be
    // ended (and their usage recorded) before the caller closes the usage writer.
    let mut connections = tokio::task::JoinSet::new();
    tracing::info!("listening on http://{}", listener.local_addr()?);
    let mut stop = std::pin::pin!(stop);
    loop {
        while connections.try_join_next().is_some() {}
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!(%err, "could not set TCP_NODELAY");
        }
        let site = site.clone();
        let service =
            hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(remote));
                site.answer(req.map(|body| {
                    Body::new(TimeoutBody::new(idle, min_rate::MinRate::new(body, idle)))
                }))
            });
        // No upgrades: nothing here speaks WebSocket (live reload has its own port).
        let connection = graceful.watch(http.serve_connection(TokioIo::new(tcp), service));
        // The handler runs inside the connection's task, so hyper reading the request and the
        // handler (or the response body) waiting on it wake each other within one poll:
        // `Coalesce` keeps such wakes from bouncing the task to the other worker thread.
        connections.spawn(Coalesce::new(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, %remote, "connection ended with an error");
            }
        }));
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => {
            tracing::warn!(
                "in-flight requests did not finish within {drain:?}; ending them (their usage is recorded, as server_shutdown)"
            );
            site.cut_off_in_flight();
        }
    }
    // Ended here, not when the runtime goes: a stream cut now records what it delivered while
    // the usage writer still takes records.
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// After a failed `accept`: a connection that died in the backlog is nothing; anything else
/// (out of file descriptors, mostly) is logged and waited out for a second, as axum does,
/// instead of spinning.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%err, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
