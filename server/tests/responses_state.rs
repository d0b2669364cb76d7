//! Stored Responses conversations (`previous_response_id`) in a group with several OpenAI
//! accounts: each turn must reach the account that stored the previous one (each mock, like
//! OpenAI, knows only the responses it made), streamed or not, on one node or across two
//! sharing Redis; a continuation is never sent to an account that serves the model by
//! translation; and the stored response itself is asked of the account that stored it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::gateway::{Gateway, sse_events};
use common::routing::start;
use serde_json::{Value, json};
use server::mock_upstream::Fault;

const MODEL: &str = "gpt-4.1";

/// One turn on `base`: the status, the account that served it and the response id.
async fn turn(
    gw: &Gateway,
    base: &str,
    previous: Option<&str>,
    stream: bool,
) -> (u16, i64, Option<String>) {
    let mut body = json!({"model": MODEL, "input": "and then?", "stream": stream});
    if let Some(previous) = previous {
        body["previous_response_id"] = json!(previous);
    }
    let res = gw
        .http
        .post(format!("{base}/v1/responses"))
        .bearer_auth(&gw.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let account = res
        .headers()
        .get("x-aicarpool-account-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let text = res.text().await.unwrap();
    if status != 200 {
        return (status, account, Some(text));
    }
    let id = if stream {
        let completed = sse_events(&text)
            .into_iter()
            .find(|(name, _)| name.as_deref() == Some("response.completed"))
            .unwrap_or_else(|| panic!("no response.completed in {text}"));
        let event: Value = serde_json::from_str(&completed.1).unwrap();
        event["response"]["id"].as_str().map(str::to_owned)
    } else {
        let answer: Value = serde_json::from_str(&text).unwrap();
        answer["id"].as_str().map(str::to_owned)
    };
    (status, account, id)
}

/// A 12-turn conversation, streamed and whole turns mixed, over `bases` in turn: every turn
/// is answered by the account that answered the first.
async fn conversation_stays_put(gw: &Gateway, bases: &[String]) {
    let (status, first_account, mut last) = turn(gw, &bases[0], None, false).await;
    assert_eq!(status, 200, "{last:?}");
    for i in 1..12 {
        let base = &bases[i % bases.len()];
        let (status, account, id) = turn(gw, base, last.as_deref(), i % 2 == 0).await;
        assert_eq!(status, 200, "turn {i} on {base}: {id:?}");
        assert_eq!(account, first_account, "turn {i} went to another account");
        last = id;
    }
}

#[tokio::test]
async fn a_stored_conversation_stays_on_the_account_that_holds_it() {
    let gw = start(false).await.unwrap();
    let _ups = gw.add_upstreams(MODEL, &[1, 1, 1]).await;
    conversation_stays_put(&gw, std::slice::from_ref(&gw.base)).await;

    // A continuation of a response the gateway never saw (another gateway's, or one made with
    // `store: false`) goes to some account, whose "not found" the client gets as a 400.
    let (status, _, body) = turn(&gw, &gw.base, Some("resp_unknown"), false).await;
    assert_eq!(status, 400, "{body:?}");
    assert!(body.unwrap().contains("resp_unknown"));
}

#[tokio::test]
async fn a_stored_conversation_stays_put_across_two_nodes_sharing_redis() {
    let gw = start(true).await.unwrap();
    let _ups = gw.add_upstreams(MODEL, &[1, 1, 1]).await;
    let second = gw.second_node().await;
    conversation_stays_put(&gw, &[gw.base.clone(), second]).await;
}

/// A streamed response is pinned the moment the upstream names it (`response.created`), not
/// when its stream ends: a client continuing right after `response.completed` finds the pin,
/// on this node or another, even while the end of the stream is still on its way. Here the
/// upstream holds the stream after its first event, so only an early pin can be found.
#[tokio::test]
async fn a_streamed_response_is_pinned_as_soon_as_the_upstream_names_it() {
    for redis in [false, true] {
        let gw = start(redis).await.unwrap();
        let ups = gw.add_upstreams(MODEL, &[1, 1, 1]).await;
        let continue_on = if redis {
            gw.second_node().await
        } else {
            gw.base.clone()
        };
        for (mock, _) in &ups {
            mock.set_fault(Fault::hold_after_first_chunk().times(1));
        }
        let mut res = gw
            .http
            .post(format!("{}/v1/responses", gw.base))
            .bearer_auth(&gw.key)
            .json(&json!({"model": MODEL, "input": "hi", "stream": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let holder: i64 = res.headers()["x-aicarpool-account-id"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let mut text = String::new();
        let id = loop {
            let chunk = res
                .chunk()
                .await
                .unwrap()
                .expect("the stream ended while held");
            text.push_str(std::str::from_utf8(&chunk).unwrap());
            let created = sse_events(&text)
                .into_iter()
                .find(|(name, _)| name.as_deref() == Some("response.created"));
            if let Some((_, data)) = created {
                let event: Value = serde_json::from_str(&data).unwrap();
                break event["response"]["id"].as_str().unwrap().to_owned();
            }
        };
        for (mock, _) in &ups {
            mock.clear_faults();
        }
        // Without the pin each continuation would go to any of the three accounts.
        for i in 0..6 {
            let (status, account, body) = turn(&gw, &continue_on, Some(&id), false).await;
            assert_eq!(
                (status, account),
                (200, holder),
                "redis {redis}, turn {i}: {body:?}"
            );
        }
        for (mock, _) in &ups {
            mock.release();
        }
        while let Some(chunk) = res.chunk().await.unwrap() {
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        assert!(text.contains("response.completed"), "{text}");
    }
}

/// While the account holding a conversation fails, its continuations get that failure (a 5xx
/// to retry), not another account's "not found" (a 400 saying the conversation is gone); when
/// it is back, the conversation goes on there.
#[tokio::test]
async fn a_continuation_waits_for_its_account_instead_of_failing_over() {
    let gw = start(false).await.unwrap();
    let ups = gw.add_upstreams(MODEL, &[1, 1]).await;
    let (status, holder, first) = turn(&gw, &gw.base, None, false).await;
    assert_eq!(status, 200, "{first:?}");
    let (mock, _) = ups.iter().find(|(_, id)| *id == holder).unwrap();
    mock.set_fault(Fault::status(500).times(1));
    let (status, _, body) = turn(&gw, &gw.base, first.as_deref(), false).await;
    assert!(status >= 500, "{status}: {body:?}");
    let others: u64 = ups
        .iter()
        .filter(|(_, id)| *id != holder)
        .map(|(m, _)| m.stats().total)
        .sum();
    assert_eq!(others, 0, "no other account was asked");
    let (status, account, _) = turn(&gw, &gw.base, first.as_deref(), true).await;
    assert_eq!((status, account), (200, holder));
}

#[tokio::test]
async fn a_continuation_never_goes_to_an_account_that_translates() {
    let gw = start(false).await.unwrap();
    let openai = gw
        .add_account(json!({
            "name": "openai-later", "provider": "openai",
            "base_url": gw.mock.openai_base_url(), "api_key": gw.mock.api_key(),
            "models": [MODEL], "priority": 5,
        }))
        .await;
    let (status, account, first) = turn(&gw, &gw.base, None, false).await;
    assert_eq!((status, account), (200, openai));
    // An Anthropic account now serves the model too, ahead of the OpenAI one (lower
    // priority goes first).
    let claude = gw
        .add_account(json!({
            "name": "claude-first", "provider": "anthropic",
            "base_url": gw.mock.anthropic_base_url(), "api_key": gw.mock.api_key(),
            "models": [MODEL],
        }))
        .await;
    let (status, account, _) = turn(&gw, &gw.base, None, true).await;
    assert_eq!(
        (status, account),
        (200, claude),
        "a new conversation goes first in line"
    );
    let (status, account, _) = turn(&gw, &gw.base, first.as_deref(), true).await;
    assert_eq!(
        (status, account),
        (200, openai),
        "a continuation goes where it is stored"
    );
    // So does a request naming a stored conversation or prompt, which the Anthropic account,
    // first in line, would refuse.
    for extra in [
        json!({"conversation": "conv_1"}),
        json!({"prompt": {"id": "pmpt_1"}}),
    ] {
        let mut body = json!({"model": MODEL, "input": "and then?"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let res = gw.post("/v1/responses", &body).send().await.unwrap();
        assert_eq!(res.status(), 200, "{extra}");
        assert_eq!(
            res.headers()["x-aicarpool-account-id"],
            openai.to_string().as_str(),
            "{extra}"
        );
    }

    // A model only translating accounts serve: a 400 that says what to do instead.
    let res = gw
        .post(
            "/v1/responses",
            &json!({"model": "claude-sonnet-4-5", "input": "hi", "previous_response_id": "resp_1"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["param"], "previous_response_id", "{err}");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("no OpenAI account"), "{message}");
    assert!(message.contains("whole conversation"), "{message}");
}

/// The stored response itself (the OpenAI SDK's `retrieve`, `inputItems.list`, `cancel`,
/// `delete`) is asked of the account that stored it, and answered as it answers; unknown and
/// malformed ids, wrong methods and keys get OpenAI-shaped errors without asking any account.
#[tokio::test]
async fn a_stored_response_is_asked_of_the_account_that_holds_it() {
    let gw = start(false).await.unwrap();
    let ups = gw.add_upstreams(MODEL, &[1, 1, 1]).await;
    let (status, holder, id) = turn(&gw, &gw.base, None, false).await;
    assert_eq!(status, 200, "{id:?}");
    let id = id.unwrap();
    let url = |tail: &str| format!("{}/v1/responses/{tail}", gw.base);
    let send = |req: reqwest::RequestBuilder| async move {
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let allow = res
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = res.json().await.unwrap();
        (status, body, allow)
    };
    let as_member = |req: reqwest::RequestBuilder| req.bearer_auth(&gw.key);

    let (status, got, _) = send(as_member(gw.http.get(url(&id)))).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        (got["id"].as_str(), got["status"].as_str()),
        (Some(id.as_str()), Some("completed"))
    );

    let (status, items, _) = send(as_member(
        gw.http
            .get(url(&format!("{id}/input_items?order=asc&limit=5"))),
    ))
    .await;
    assert_eq!(status, 200, "{items}");
    assert_eq!(items["object"], "list");
    assert_eq!(
        items["data"][0]["content"][0]["text"], "and then?",
        "{items}"
    );

    // OpenAI cancels only background responses: its 400 reaches the caller as a 400.
    let (status, err, _) = send(as_member(gw.http.post(url(&format!("{id}/cancel"))))).await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("background"),
        "{err}"
    );

    let asked: Vec<u64> = ups
        .iter()
        .map(|(m, account)| {
            let n = m
                .stats()
                .by_route
                .get("stored_responses")
                .copied()
                .unwrap_or(0);
            if *account == holder {
                assert_eq!(n, 3)
            } else {
                assert_eq!(n, 0)
            }
            n
        })
        .collect();
    assert_eq!(asked.iter().sum::<u64>(), 3);

    let (status, deleted, _) = send(as_member(gw.http.delete(url(&id)))).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["deleted"], true);
    let (status, err, _) = send(as_member(gw.http.get(url(&id)))).await;
    assert_eq!(status, 404, "{err}");
    assert!(
        err["error"]["message"].as_str().unwrap().contains(&id),
        "{err}"
    );

    // Never served here: a 404 without asking any account.
    let before: u64 = ups.iter().map(|(m, _)| m.stats().total).sum();
    let (status, err, _) = send(as_member(gw.http.get(url("resp_never_seen")))).await;
    assert_eq!(status, 404, "{err}");
    // Named as what is missing: a response, not a model.
    assert_eq!(err["error"]["code"], "response_not_found", "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("resp_never_seen")
    );
    let (status, err, _) = send(as_member(gw.http.get(url("resp%20x")))).await;
    assert_eq!(
        (status, err["error"]["param"].as_str()),
        (400, Some("response_id")),
        "{err}"
    );
    let long = format!("{id}/input_items?after={}", "a".repeat(5000));
    let (status, err, _) = send(as_member(gw.http.get(url(&long)))).await;
    assert_eq!(
        (status, err["error"]["param"].as_str()),
        (400, Some("query")),
        "{err}"
    );
    let (status, err, allow) = send(as_member(gw.http.post(url(&id)))).await;
    assert_eq!(
        (status, allow.as_deref()),
        (405, Some("GET, DELETE")),
        "{err}"
    );
    let (status, err, _) = send(as_member(gw.http.get(url(&format!("{id}/other"))))).await;
    assert_eq!(status, 404, "{err}");
    for path in ["/v1/responses/", "/v1/responses//input_items"] {
        let res = gw
            .http
            .post(format!("{}{path}", gw.base))
            .bearer_auth(&gw.key)
            .send()
            .await;
        let res = res.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["code"], "unknown_route", "{path}: {err}");
    }
    let (status, err, _) = send(gw.http.get(url(&id)).bearer_auth("acp_not_a_key")).await;
    assert_eq!(status, 401, "{err}");
    let after: u64 = ups.iter().map(|(m, _)| m.stats().total).sum();
    assert_eq!(after, before, "no account was asked");
}
