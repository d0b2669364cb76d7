//! A running gateway on a loopback port with a mock upstream behind it: a system admin, a
//! group, an OpenAI account and an Anthropic account bound to it, and a member key.

use std::net::SocketAddr;
use std::time::Duration;

use aicarpool::state::AppState;
use serde_json::{Value, json};
use server::mock_upstream::{MockOptions, MockUpstream};

use super::{config_in, site_for, state_with_token, user_with_session};

/// The fixture.
pub struct Gateway {
    /// The state behind the server.
    pub state: AppState,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The system admin's bearer token.
    pub admin: String,
    /// The group.
    pub group_id: i64,
    /// The OpenAI account.
    pub openai_account: i64,
    /// The Anthropic account.
    pub anthropic_account: i64,
    /// A member key of the admin in the group.
    pub key: String,
    /// The mock provider.
    pub mock: MockUpstream,
    /// HTTP client.
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Starts the gateway; `tune` may change the config first (body cap, deadlines).
pub async fn start_with(tune: impl FnOnce(&mut aicarpool::config::Config)) -> Gateway {
    start_on(tune, None, None).await
}

/// Starts the gateway with its counters in Redis, on the database at `database_url`
/// (a fresh SQLite file when `None`).
pub async fn start_on(
    tune: impl FnOnce(&mut aicarpool::config::Config),
    redis_url: Option<&str>,
    database_url: Option<String>,
) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path(), database_url);
    tune(&mut config);
    let state = match redis_url {
        None => state_with_token(config).await,
        Some(url) => {
            config.redis_url = Some(aicarpool::secret::Secret::new(url.to_owned()));
            let db = server::startup::open_database(&config).await.unwrap();
            let mailer = aicarpool::mail::Mailer::from_config(&config).unwrap();
            let redis = aicarpool::redis::connect(&aicarpool::secret::Secret::new(url.to_owned()))
                .await
                .unwrap();
            AppState::new(
                config,
                db,
                mailer,
                Some(redis),
                aicarpool::setup::SetupGate::with_token(super::TOKEN),
            )
        }
    };
    let addr = serve_in_background(site_for(&state), server::CLIENT_IDLE_TIMEOUT).await;
    let (_, admin) = user_with_session(&state, "admin@example.com", true).await;
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut gw = Gateway {
        state,
        base: format!("http://{addr}"),
        admin,
        group_id: 0,
        openai_account: 0,
        anthropic_account: 0,
        key: String::new(),
        mock,
        http,
        _dir: dir,
    };
    let (status, group) = gw
        .api("POST", "/api/groups", Some(json!({"name": "Carpool"})))
        .await;
    assert_eq!(status, 201, "{group}");
    gw.group_id = group["id"].as_i64().unwrap();
    gw.openai_account = gw
        .add_account(json!({
            "name": "openai-main", "provider": "openai",
            "base_url": gw.mock.openai_base_url(), "api_key": gw.mock.api_key(),
            "models": ["gpt-4o-mini"], "model_aliases": {"fast": "gpt-4o-mini"},
        }))
        .await;
    gw.anthropic_account = gw
        .add_account(json!({
            "name": "claude-main", "provider": "anthropic",
            "base_url": gw.mock.anthropic_base_url(), "api_key": gw.mock.api_key(),
            "models": ["claude-sonnet-4-5"],
        }))
        .await;
    gw.key = gw
        .new_key(&gw.admin.clone(), json!({"name": "laptop"}))
        .await;
    gw
}

/// Starts the gateway with the default config.
pub async fn start() -> Gateway {
    start_with(|_| {}).await
}

impl Gateway {
    /// A JSON API call with the admin's token.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api_as(&self.admin, method, path, body).await
    }

    /// A JSON API call with `token`.
    pub async fn api_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// One chat completion with `key` for `model`, which must succeed.
    pub async fn chat_ok(&self, key: &str, model: &str) {
        let res = self
            .http
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(key)
            .json(
                &json!({"model": model, "messages": [{"role": "user", "content": "hello there"}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }

    /// Creates a system account and binds it to the group; returns its id.
    pub async fn add_account(&self, body: Value) -> i64 {
        let (status, account) = self.api("POST", "/api/accounts", Some(body)).await;
        assert_eq!(status, 201, "{account}");
        let id = account["id"].as_i64().unwrap();
        let (status, binding) = self
            .api(
                "POST",
                &format!("/api/groups/{}/accounts", self.group_id),
                Some(json!({"account_id": id})),
            )
            .await;
        assert_eq!(status, 201, "{binding}");
        id
    }

    /// Starts `n` named mocks and binds one OpenAI account on each to the group, all serving
    /// `model`, with the given weights; returns (mock, account id) pairs.
    pub async fn add_upstreams(&self, model: &str, weights: &[u32]) -> Vec<(MockUpstream, i64)> {
        let mut out = Vec::new();
        for (i, weight) in weights.iter().enumerate() {
            let mock = MockUpstream::start(MockOptions {
                name: Some(format!("up{i}")),
                ..MockOptions::default()
            })
            .await
            .unwrap();
            let id = self
                .add_account(json!({
                    "name": format!("up{i}"), "provider": "openai",
                    "base_url": mock.openai_base_url(), "api_key": mock.api_key(),
                    "models": [model], "weight": weight,
                }))
                .await;
            out.push((mock, id));
        }
        out
    }

    /// A second node: another state on the same database and Redis (a fresh pool and a fresh
    /// gateway), served on its own port; returns its base URL.
    pub async fn second_node(&self) -> String {
        let config = self.state.config().clone();
        let db = server::startup::open_database(&config).await.unwrap();
        let mailer = aicarpool::mail::Mailer::from_config(&config).unwrap();
        let redis = match &config.redis_url {
            Some(url) => Some(aicarpool::redis::connect(url).await.unwrap()),
            None => None,
        };
        let state = AppState::new(
            config,
            db,
            mailer,
            redis,
            aicarpool::setup::SetupGate::closed(),
        );
        let addr = serve_in_background(site_for(&state), server::CLIENT_IDLE_TIMEOUT).await;
        format!("http://{addr}")
    }

    /// Creates a member key with `token`'s user; returns the key.
    pub async fn new_key(&self, token: &str, body: Value) -> String {
        let (status, key) = self
            .api_as(
                token,
                "POST",
                &format!("/api/groups/{}/keys", self.group_id),
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{key}");
        key["key"].as_str().unwrap().to_owned()
    }

    /// A proxy POST with the member key as a bearer token.
    pub fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(body)
    }

    /// Waits until `n` usage records exist, then returns the group's newest `n`, oldest first.
    pub async fn usage(&self, n: usize) -> Vec<aicarpool::db::usage::UsageRow> {
        for _ in 0..200 {
            let rows = aicarpool::db::usage::recent(self.state.db(), self.group_id, 1000)
                .await
                .unwrap();
            if rows.len() >= n {
                let mut rows: Vec<_> = rows.into_iter().take(n).collect();
                rows.reverse();
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("fewer than {n} usage records were written");
    }
}

/// The events of an SSE body: (event name, data) pairs.
pub fn sse_events(body: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    for block in body.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut name = None;
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
            }
        }
        out.push((name, data.join("\n")));
    }
    out
}

/// Serves `site` on a free loopback port with the binary's serving loop (client timeouts
/// of `idle`) until the test ends; returns the address.
pub async fn serve_in_background(site: server::Site, idle: Duration) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        server::serve_until(
            listener,
            site,
            idle,
            Duration::from_secs(1),
            std::future::pending(),
        )
        .await
        .unwrap();
    });
    addr
}

/// Reads until the peer closes; panics if it has not closed within `limit`.
pub async fn read_until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> String {
    let mut all = Vec::new();
    let read = tokio::time::timeout(
        limit,
        tokio::io::AsyncReadExt::read_to_end(stream, &mut all),
    )
    .await;
    match read {
        Ok(Ok(_)) => {}
        // A reset is a close too.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Ok(Err(e)) => panic!("read failed: {e}"),
        Err(_) => panic!(
            "the gateway kept the connection open for {limit:?}; read so far: {}",
            String::from_utf8_lossy(&all)
        ),
    }
    String::from_utf8_lossy(&all).into_owned()
}
