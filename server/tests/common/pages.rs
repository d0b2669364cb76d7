//! Page and server-function requests through the router, as a browser sends them, for the
//! router tests of the pages.

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use serde_json::Value;

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
