//! Both lanes (the proxy's direct lane and the router) log a request alike. A test binary of
//! its own: it captures logs with a subscriber set for its thread only, and run beside the
//! other hostile-client tests it now and then saw none of the direct lane's events (1 run in
//! 6 under load; most likely tracing's per-call-site cache of whether anyone listens, filled
//! by another test's thread, which has no subscriber, at the same moment). Alone in its
//! process nothing else touches those call sites.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::gateway;
use serde_json::{Value, json};
use server::mock_upstream::{Fault, MockRoute};

fn chat_body() -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
}

/// Log lines written while a test runs on its (current-thread) runtime.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Both lanes log a request alike: tower-http's events under its targets, inside the request's
/// span (its id), a stream's end too, and a 5xx as a failure.
#[tokio::test]
async fn the_direct_lane_logs_like_the_router() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("warn,server=info,tower_http=debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let gw = gateway::start().await;
    let router = common::router_for(&gw.state);
    let mut streamed = chat_body();
    streamed["stream"] = json!(true);
    for (lane, id) in [("direct", "log-direct"), ("router", "log-router")] {
        for (body, fails) in [(streamed.clone(), false), (chat_body(), true)] {
            if fails {
                gw.mock
                    .set_fault(Fault::status(500).on(MockRoute::ChatCompletions));
            }
            let text = if lane == "direct" {
                let res = gw
                    .post("/v1/chat/completions", &body)
                    .header("x-request-id", id)
                    .send()
                    .await
                    .unwrap();
                res.text().await.unwrap()
            } else {
                let res =
                    common::through_router(&router, "/v1/chat/completions", &gw.key, id, &body)
                        .await;
                common::text(res).await
            };
            gw.mock.clear_faults();
            assert!(!text.is_empty(), "{lane}");
        }
    }
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    for id in ["log-direct", "log-router"] {
        let lines: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("request{") && l.contains(id))
            .collect();
        for (target, message) in [
            (
                "tower_http::trace::on_request",
                "started processing request",
            ),
            (
                "tower_http::trace::on_response",
                "finished processing request",
            ),
            ("tower_http::trace::on_eos", "end of stream"),
            ("tower_http::trace::on_failure", "response failed"),
        ] {
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains(&format!("{target}: {message}"))),
                "{id}: no `{target}: {message}` in the request's span:\n{}",
                lines.join("\n")
            );
        }
        assert!(
            lines
                .iter()
                .any(|l| l.contains("classification=Status code: 5")),
            "{id}: {}",
            lines.join("\n")
        );
    }
}
