//! Page and server-function requests through the router, as a browser sends them, for the
//! router tests of the pages.

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};

use super::gateway::Gateway;
use super::{encode_form, send, text};

/// Where the test router thinks it runs (the Host of every request here).
pub const HOST: &str = "carpool.test";

/// A router over a test state, with the requests a browser makes.
pub struct Pages {
    /// The router.
    pub router: Router,
}

impl Pages {
    /// GETs a page in `lang` with the session cookie of `session` if given.
    pub async fn page_in(
        &self,
        lang: &str,
        uri: &str,
        session: Option<&str>,
    ) -> (StatusCode, String) {
        let mut req = Request::get(uri)
            .header(header::HOST, HOST)
            .header(header::ACCEPT, "text/html")
            .header(header::ACCEPT_LANGUAGE, lang);
        if let Some(token) = session {
            req = req.header(header::COOKIE, format!("aicarpool_session={token}"));
        }
        let res = send(&self.router, req.body(Body::empty()).unwrap()).await;
        (res.status(), text(res).await)
    }

    /// GETs a page in English.
    pub async fn page(&self, uri: &str, session: Option<&str>) -> (StatusCode, String) {
        self.page_in("en", uri, session).await
    }

    /// POSTs a server function as a hydrated form does, in `lang`; returns status and JSON.
    pub async fn rpc_in(
        &self,
        lang: &str,
        endpoint: &str,
        session: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let req = Request::post(format!("/rpc/{endpoint}"))
            .header(header::HOST, HOST)
            .header(header::ORIGIN, format!("http://{HOST}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header(header::ACCEPT_LANGUAGE, lang)
            .header(header::COOKIE, format!("aicarpool_session={session}"))
            .body(Body::from(encode_form(fields)))
            .unwrap();
        let res = send(&self.router, req).await;
        let status = res.status();
        let body = text(res).await;
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    /// POSTs a server function in English.
    pub async fn rpc(
        &self,
        endpoint: &str,
        session: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        self.rpc_in("en", endpoint, session, fields).await
    }
}

/// The part of a page inside `<main>`.
pub fn main_of(html: &str) -> &str {
    &html[html.find("<main").expect("<main>")..html.find("</main>").expect("</main>")]
}

/// A running gateway (its system admin owns the group) with a `member` who has a key of their
/// own and an `outsider`, and a router over the same state for page requests.
pub struct World {
    /// The gateway.
    pub gw: Gateway,
    /// A router over its state.
    pub pages: Pages,
    /// The member's session.
    pub member: String,
    /// The member's key.
    pub member_key: String,
    /// A session of a user in no group.
    pub outsider: String,
}

impl std::ops::Deref for World {
    type Target = Pages;

    fn deref(&self) -> &Pages {
        &self.pages
    }
}

impl World {
    /// Starts it.
    pub async fn new() -> World {
        let gw = super::gateway::start().await;
        let pages = Pages {
            router: super::router_for(&gw.state),
        };
        let (_, member) = super::members::join(&gw, "member@example.com", "member").await;
        let (_, outsider) =
            super::user_with_session(&gw.state, "outsider@example.com", false).await;
        let member_key = gw.new_key(&member, json!({"name": "member-laptop"})).await;
        World {
            gw,
            pages,
            member,
            member_key,
            outsider,
        }
    }

    /// Adds a limit through the API; returns its id.
    pub async fn limit(&self, body: Value) -> i64 {
        let (s, limit) = self
            .gw
            .api(
                "POST",
                &format!("/api/groups/{}/limits", self.gw.group_id),
                Some(body),
            )
            .await;
        assert_eq!(s, 201, "{limit}");
        limit["id"].as_i64().unwrap()
    }
}

/// A refusal of one field: 422 naming `field`; returns the message.
pub fn assert_field(status: StatusCode, body: &Value, field: &str) -> String {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Server functions answer `{"Service": {…}}`, the JSON API `{"error": {…}}`.
    let error = body
        .get("Service")
        .or_else(|| body.get("error"))
        .unwrap_or(body);
    assert_eq!(error["field"], json!(field), "{body}");
    error["message"].as_str().unwrap_or_default().to_owned()
}
