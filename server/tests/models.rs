//! `GET /v1/models` and `/v1/models/{id}` (and the seed's `/api/models`) over HTTP as the SDKs
//! call them: what a key may use, one model, Anthropic's paging, and the 404s.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::gateway;
use common::upstream::brief_chat as chat;
use serde_json::{Value, json};

#[tokio::test]
async fn a_key_lists_and_retrieves_the_models_it_may_use() {
    let gw = gateway::start().await;
    let list: Value = gw
        .http
        .get(format!("{}/v1/models", gw.base))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["claude-sonnet-4-5", "fast", "gpt-4o-mini"]);
    // One model, as both SDKs' models.retrieve ask: an alias too, the seed's path too.
    for path in [
        "/v1/models/gpt-4o-mini",
        "/v1/models/fast",
        "/api/models/fast",
    ] {
        let (status, model) = get_as(&gw, path, &gw.key).await;
        assert_eq!(status, 200, "{path}: {model}");
        assert_eq!(model["id"], path.rsplit('/').next().unwrap(), "{path}");
        assert_eq!(model["object"], "model");
        assert_eq!(model["type"], "model");
    }
    // A model the key cannot use: 404 in the caller's dialect, listing the usable ones.
    let (status, err) = get_as(&gw, "/v1/models/gpt-nonexistent", &gw.key).await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "model_not_found", "{err}");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("`gpt-nonexistent`"), "{message}");
    assert!(
        message.contains("claude-sonnet-4-5, fast, gpt-4o-mini"),
        "{message}"
    );
    let res = gw
        .http
        .get(format!("{}/v1/models/gpt-nonexistent", gw.base))
        .header("x-api-key", &gw.key)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["type"], "error", "{err}");
    assert_eq!(err["error"]["type"], "not_found_error", "{err}");
    // No key: 401, before anything about the model is said.
    let res = gw
        .http
        .get(format!("{}/v1/models/gpt-4o-mini", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // The seed's alias path.
    let res = gw
        .http
        .get(format!("{}/api/models", gw.base))
        .header("x-api-key", &gw.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = gw
        .http
        .post(format!("{}/api/chat/completions", gw.base))
        .bearer_auth(&gw.key)
        .json(&chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // A key restricted to one model sees and uses only that one.
    let narrow = gw
        .new_key(
            &gw.admin.clone(),
            json!({"name": "narrow", "models": ["fast"]}),
        )
        .await;
    let list: Value = gw
        .http
        .get(format!("{}/v1/models", gw.base))
        .bearer_auth(&narrow)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let res = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.base))
        .bearer_auth(&narrow)
        .json(&chat("gpt-4o-mini", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let err: Value = res.json().await.unwrap();
    assert!(
        err["error"]["message"].as_str().unwrap().contains("fast"),
        "{err}"
    );
    // Nor can it retrieve another model.
    assert_eq!(get_as(&gw, "/v1/models/gpt-4o-mini", &narrow).await.0, 404);

    // Model names with a slash (vLLM, DeepSeek and Qwen hosts), sent plain or percent-encoded.
    gw.add_account(json!({
        "name": "vllm", "provider": "openai_compatible",
        "base_url": gw.mock.openai_base_url(), "api_key": gw.mock.api_key(),
        "models": ["Qwen/Qwen2.5-7B-Instruct"],
    }))
    .await;
    for path in [
        "/v1/models/Qwen/Qwen2.5-7B-Instruct",
        "/v1/models/Qwen%2FQwen2.5-7B-Instruct",
    ] {
        let (status, model) = get_as(&gw, path, &gw.key).await;
        assert_eq!(status, 200, "{path}: {model}");
        assert_eq!(model["id"], "Qwen/Qwen2.5-7B-Instruct", "{path}");
    }

    // An account that passes any name through (no models listed) serves a model the list
    // cannot show, so retrieving it answers as a chat request would.
    let path = "/v1/models/llama3.3:70b";
    assert_eq!(get_as(&gw, path, &gw.key).await.0, 404);
    gw.add_account(json!({
        "name": "ollama", "provider": "openai_compatible",
        "base_url": gw.mock.openai_base_url(), "api_key": gw.mock.api_key(), "models": [],
    }))
    .await;
    let (status, model) = get_as(&gw, path, &gw.key).await;
    assert_eq!(status, 200, "{model}");
    assert_eq!(model["id"], "llama3.3:70b");
    let res = gw
        .post("/v1/chat/completions", &chat("llama3.3:70b", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The narrow key still may not.
    assert_eq!(get_as(&gw, path, &narrow).await.0, 404);
}

/// `GET path` on the gateway with `key` as bearer token: the status and the JSON body.
async fn get_as(gw: &gateway::Gateway, path: &str, key: &str) -> (u16, Value) {
    let res = gw
        .http
        .get(format!("{}{path}", gw.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The ids of a models list.
fn ids(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_list_pages_as_anthropic_pages_it() {
    let gw = gateway::start().await;
    let all = ["claude-sonnet-4-5", "fast", "gpt-4o-mini"];
    // No paging asked (the OpenAI SDKs): the whole list.
    let (status, list) = get_as(&gw, "/v1/models", &gw.key).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(ids(&list), all);
    assert_eq!(list["has_more"], false);
    assert_eq!(
        (&list["first_id"], &list["last_id"]),
        (&json!(all[0]), &json!(all[2]))
    );

    // Forward: a page, then the rest after its last id.
    let (_, first) = get_as(&gw, "/v1/models?limit=2", &gw.key).await;
    assert_eq!(ids(&first), all[..2]);
    assert_eq!(first["has_more"], true);
    assert_eq!(first["last_id"], "fast");
    let (_, rest) = get_as(&gw, "/v1/models?limit=2&after_id=fast", &gw.key).await;
    assert_eq!(ids(&rest), all[2..]);
    assert_eq!(rest["has_more"], false);
    // Backward from an id, and the seed's path takes the same query.
    let (_, back) = get_as(&gw, "/api/models?before_id=gpt-4o-mini&limit=1", &gw.key).await;
    assert_eq!(ids(&back), ["fast"]);
    assert_eq!(back["has_more"], true);
    // Past the end: an empty page, not an error.
    let (status, end) = get_as(&gw, "/v1/models?after_id=zzz", &gw.key).await;
    assert_eq!(status, 200);
    assert!(ids(&end).is_empty());
    assert_eq!(
        (&end["first_id"], &end["has_more"]),
        (&Value::Null, &json!(false))
    );

    // A bad page: 400 saying what to send, in the caller's dialect.
    let (status, err) = get_as(&gw, "/v1/models?limit=0", &gw.key).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"]["param"], "limit", "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("from 1 to 1000")
    );
    let res = gw
        .http
        .get(format!("{}/v1/models?after_id=a&before_id=b", gw.base))
        .header("x-api-key", &gw.key)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error", "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not both"),
        "{err}"
    );
    // The key is checked first: no key, 401 whatever the query.
    let res = gw
        .http
        .get(format!("{}/v1/models?limit=0", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

/// A key limited to models the group does not serve is told exactly that, in the caller's
/// dialect (it used to hear that the group had no models yet); an empty list, which would
/// have been stored as "every model", is refused.
#[tokio::test]
async fn a_key_for_models_the_group_does_not_serve_is_told_so() {
    let gw = gateway::start().await;
    let (status, err) = gw
        .api(
            "POST",
            &format!("/api/groups/{}/keys", gw.group_id),
            Some(json!({"name": "none", "models": []})),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "models", "{err}");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("leave `models` out"), "{message}");

    let elsewhere = gw
        .new_key(
            &gw.admin.clone(),
            json!({"name": "elsewhere", "models": ["gpt-5", "o3"]}),
        )
        .await;
    let told = "this key is limited to gpt-5, o3 and the group serves none of them (it serves \
                claude-sonnet-4-5, fast, gpt-4o-mini)";
    // A model of its list, on OpenAI's route.
    let res = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.base))
        .bearer_auth(&elsewhere)
        .json(&chat("gpt-5", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let err: Value = res.json().await.unwrap();
    assert!(
        err["error"]["message"].as_str().unwrap().contains(told),
        "{err}"
    );
    // A model the group serves, outside its list, on Anthropic's route: Anthropic's shape.
    let res = gw
        .http
        .post(format!("{}/v1/messages", gw.base))
        .header("x-api-key", &elsewhere)
        .json(&json!({"model": "claude-sonnet-4-5", "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["type"], "error", "{err}");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains(told), "{message}");
    assert!(!message.contains("no models yet"), "{message}");
    let (status, err) = get_as(&gw, "/v1/models/gpt-5", &elsewhere).await;
    assert_eq!(status, 404);
    assert!(err.to_string().contains(told), "{err}");
    assert!(gw.mock.requests().is_empty(), "{:?}", gw.mock.requests());
}
