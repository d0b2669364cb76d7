//! Router tests of the account, group and invitation pages: what each page server-renders
//! (signed out, and with a session cookie for each kind of caller), and the server functions
//! behind their forms (cookies, redirects, the same-site check, refusals in place).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use axum::body::Body;
use common::*;
use http::{Request, Response, StatusCode, header};
use serde_json::json;

/// Where the test router thinks it runs (the Host of every request here).
const HOST: &str = "carpool.test";

/// A set-up instance with a group owned by `owner`, one `member`, an `outsider`, and a pending
/// email invitation for `invitee@example.com` (whose account does not exist yet).
struct World {
    _dir: tempfile::TempDir,
    router: axum::Router,
    group: i64,
    owner: String,
    member: String,
    outsider: String,
    invite_token: String,
}

fn token_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let state = state_with_token(config_in(dir.path(), None)).await;
        let router = router_for(&state);
        user_with_session(&state, "root@example.com", true).await;
        let (_, owner) = user_with_session(&state, "owner@example.com", false).await;
        let (_, member) = user_with_session(&state, "member@example.com", false).await;
        let (_, outsider) = user_with_session(&state, "outsider@example.com", false).await;
        let (s, g) = call(
            &router,
            api(
                "POST",
                "/api/groups",
                Some(&owner),
                Some(json!({"name": "Team Claude", "description": "Shared Claude Max"})),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        let group = g["id"].as_i64().unwrap();
        let invite = |email: &str| {
            api(
                "POST",
                &format!("/api/groups/{group}/invite"),
                Some(&owner),
                Some(json!({"email": email, "role": "member"})),
            )
        };
        let (s, inv) = call(&router, invite("member@example.com")).await;
        assert_eq!(s, StatusCode::CREATED, "{inv}");
        let token = token_of(inv["accept_url"].as_str().unwrap());
        let (s, body) = call(
            &router,
            api(
                "POST",
                &format!("/api/invitations/{token}/accept"),
                Some(&member),
                None,
            ),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let (s, inv) = call(&router, invite("invitee@example.com")).await;
        assert_eq!(s, StatusCode::CREATED, "{inv}");
        World {
            _dir: dir,
            router,
            group,
            owner,
            member,
            outsider,
            invite_token: token_of(inv["accept_url"].as_str().unwrap()),
        }
    }

    /// GETs a page, with the session cookie of `session` if given; returns status and HTML.
    async fn page(&self, uri: &str, session: Option<&str>) -> (StatusCode, String) {
        let mut req = Request::get(uri)
            .header(header::HOST, HOST)
            .header(header::ACCEPT, "text/html")
            .header(header::ACCEPT_LANGUAGE, "en");
        if let Some(token) = session {
            req = req.header(header::COOKIE, format!("aicarpool_session={token}"));
        }
        let res = send(&self.router, req.body(Body::empty()).unwrap()).await;
        (res.status(), text(res).await)
    }

    /// POSTs a server function as a hydrated form does (JSON back), from this site.
    async fn rpc(
        &self,
        endpoint: &str,
        session: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Response<Body> {
        let mut req = Request::post(format!("/rpc/{endpoint}"))
            .header(header::HOST, HOST)
            .header(header::ORIGIN, format!("http://{HOST}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if let Some(token) = session {
            req = req.header(header::COOKIE, format!("aicarpool_session={token}"));
        }
        send(
            &self.router,
            req.body(Body::from(encode_form(fields))).unwrap(),
        )
        .await
    }
}

/// The part of a page inside `<main>`: rendered in place, so it works without JavaScript.
fn main_of(html: &str) -> &str {
    &html[html.find("<main").expect("<main>")..html.find("</main>").expect("</main>")]
}

/// The session token a response sets, if any.
fn session_cookie(res: &Response<Body>) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("aicarpool_session="))
        .map(|c| c.split(';').next().unwrap_or("").to_owned())
        .filter(|t| !t.is_empty())
}

#[tokio::test]
async fn login_and_register_pages_render_their_forms_in_place() {
    let w = World::new().await;
    let (status, html) = w.page("/login?next=/groups/1", None).await;
    assert_eq!(status, StatusCode::OK);
    let main = main_of(&html);
    assert!(main.contains(r#"id="login-form""#), "{main}");
    assert!(main.contains(r#"name="email""#) && main.contains(r#"name="password""#));
    assert!(
        main.contains(r#"name="next" value="/groups/1""#),
        "the form keeps where to go next: {main}"
    );
    assert!(html.contains(r#"id="nav-login""#) && !html.contains(r#"id="current-user""#));

    let (status, html) = w.page("/register?next=//evil.example", None).await;
    assert_eq!(status, StatusCode::OK);
    let main = main_of(&html);
    assert!(main.contains(r#"id="register-form""#));
    assert!(main.contains(r#"name="password_confirm""#));
    assert!(
        main.contains(r#"name="next" value="/groups""#),
        "another site is never a next step: {main}"
    );
}

#[tokio::test]
async fn signed_out_group_pages_ask_to_sign_in_and_come_back() {
    let w = World::new().await;
    let (status, html) = w.page("/groups", None).await;
    assert_eq!(status, StatusCode::OK);
    let main = main_of(&html);
    assert!(main.contains(r#"id="sign-in-prompt""#), "{main}");
    assert!(main.contains(r#"href="/login?next=/groups""#), "{main}");
    assert!(!main.contains("Team Claude"));

    let (_, html) = w.page(&format!("/groups/{}", w.group), None).await;
    assert!(main_of(&html).contains(r#"id="sign-in-prompt""#));
    assert!(!html.contains("Team Claude"));
}

#[tokio::test]
async fn the_group_list_and_header_show_the_signed_in_user() {
    let w = World::new().await;
    let (status, html) = w.page("/groups", Some(&w.owner)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"id="current-user""#) && html.contains(">owner<"),
        "the header names the user"
    );
    assert!(html.contains(r#"id="nav-groups""#) && html.contains(r#"id="logout""#));
    let main = main_of(&html);
    assert!(main.contains(&format!(r#"data-group-id="{}""#, w.group)));
    assert!(main.contains("Team Claude") && main.contains("Owner") && main.contains("2 members"));
    assert!(main.contains(r#"id="create-group-form""#));

    // A stale cookie is "signed out", and the cookie is cleared.
    let (status, html) = w.page("/groups", Some("not-a-token")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(main_of(&html).contains(r#"id="sign-in-prompt""#));
}

#[tokio::test]
async fn the_group_page_shows_each_caller_what_their_role_allows() {
    let w = World::new().await;
    let uri = format!("/groups/{}", w.group);

    let (status, html) = w.page(&uri, Some(&w.owner)).await;
    assert_eq!(status, StatusCode::OK);
    let main = main_of(&html);
    assert!(main.contains(r#"id="group-name""#) && main.contains("Team Claude"));
    assert!(main.contains("Shared Claude Max"));
    assert!(main.contains(r#"id="my-role" data-role="owner""#), "{main}");
    assert!(
        main.contains(r#"data-member-email="member@example.com""#)
            && main.contains(r#"data-member-email="owner@example.com""#)
    );
    assert!(main.contains(r#"id="invite-form""#) && main.contains(r#"id="link-form""#));
    assert!(
        main.contains(r#"data-invitation-email="invitee@example.com""#)
            && main.contains(r#"data-state="pending""#),
        "{main}"
    );
    assert!(main.contains(r#"id="delete-group""#) && main.contains(r#"id="edit-group""#));
    assert!(
        !main.contains(&w.invite_token),
        "tokens are shown once, never in the list"
    );

    let (status, html) = w.page(&uri, Some(&w.member)).await;
    assert_eq!(status, StatusCode::OK);
    let main = main_of(&html);
    assert!(main.contains(r#"id="my-role" data-role="member""#));
    assert!(main.contains(r#"id="leave-group""#));
    for hidden in [
        r#"id="invite-form""#,
        r#"id="invitations""#,
        r#"id="delete-group""#,
        r#"id="edit-group""#,
        r#"data-test="member-role-select""#,
        "invitee@example.com",
    ] {
        assert!(!main.contains(hidden), "a member does not see {hidden}");
    }

    // A non-member gets exactly what a group that does not exist gets.
    for (uri, session) in [(uri.as_str(), &w.outsider), ("/groups/999999", &w.owner)] {
        let (status, html) = w.page(uri, Some(session)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        let main = main_of(&html);
        assert!(main.contains(r#"id="not-found""#), "{uri}: {main}");
        assert!(!main.contains("Team Claude"));
    }
    let (status, _) = w.page("/groups/abc", Some(&w.owner)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_invite_page_offers_what_fits_the_visitor() {
    let w = World::new().await;
    let uri = format!("/invite/{}", w.invite_token);

    let (status, html) = w.page(&uri, None).await;
    assert_eq!(status, StatusCode::OK);
    let main = main_of(&html);
    assert!(
        main.contains(r#"id="invite-preview" data-state="pending" data-kind="email""#),
        "{main}"
    );
    assert!(main.contains("Team Claude") && main.contains("owner"));
    assert!(
        main.contains(r#"id="invite-login-form""#) && main.contains(r#"id="invite-register-form""#)
    );
    assert!(
        main.contains(r#"value="invitee@example.com" readonly"#)
            || main.contains(r#"readonly value="invitee@example.com""#),
        "the invited email is filled in and fixed for registering: {main}"
    );
    assert!(main.contains(&format!(
        r#"name="next" value="/invite/{}""#,
        w.invite_token
    )));
    assert!(
        !main.contains(r#"id="accept-form""#),
        "accepting needs a session"
    );

    let (_, html) = w.page(&uri, Some(&w.outsider)).await;
    let main = main_of(&html);
    assert!(main.contains(r#"id="invite-wrong-account""#), "{main}");
    assert!(main.contains("invitee@example.com") && main.contains("outsider@example.com"));
    assert!(!main.contains(r#"id="accept-form""#));

    let (status, html) = w.page("/invite/0123", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(main_of(&html).contains(r#"id="invite-not-found""#));
}

#[tokio::test]
async fn register_from_the_invite_page_then_accept_joins_the_group() {
    let w = World::new().await;
    let next = format!("/invite/{}", w.invite_token);
    let res = w
        .rpc(
            "register",
            None,
            &[
                ("email", "invitee@example.com"),
                ("name", "Ivy Invitee"),
                ("password", "correct horse battery"),
                ("password_confirm", "correct horse battery"),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::LOCATION], next.as_str());
    let session = session_cookie(&res).expect("signed in");

    // Registering did not accept anything.
    let (_, html) = w
        .page(&format!("/groups/{}", w.group), Some(&session))
        .await;
    assert!(main_of(&html).contains(r#"id="not-found""#));
    let (_, html) = w.page(&next, Some(&session)).await;
    assert!(main_of(&html).contains(r#"id="accept-form""#));

    let res = w
        .rpc(
            "accept_invite",
            Some(&session),
            &[("token", &w.invite_token)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", text(res).await);
    let (status, html) = w
        .page(&format!("/groups/{}", w.group), Some(&session))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(main_of(&html).contains(r#"id="my-role" data-role="member""#));

    let (_, html) = w
        .page(&format!("/groups/{}", w.group), Some(&w.owner))
        .await;
    let main = main_of(&html);
    assert!(
        main.contains(r#"data-invitation-email="invitee@example.com" data-state="accepted""#),
        "{main}"
    );
    let (_, html) = w.page(&next, None).await;
    assert!(main_of(&html).contains(r#"id="invite-unusable" data-state="accepted""#));
}

#[tokio::test]
async fn login_sets_the_cookie_and_refusals_explain_themselves() {
    let w = World::new().await;
    let fields = |password| {
        vec![
            ("email", "owner@example.com"),
            ("password", password),
            ("next", "/groups"),
        ]
    };
    let res = w.rpc("login", None, &fields("wrong password")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(session_cookie(&res).is_none());
    assert!(text(res).await.contains("invalid_credentials"));

    let res = w.rpc("login", None, &fields("correct horse battery")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let session = session_cookie(&res).expect("session cookie");
    let cookie = res.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let (_, html) = w.page("/groups", Some(&session)).await;
    assert!(main_of(&html).contains("Team Claude"));

    // From another site the same post is refused, cookie or not.
    let req = Request::post("/rpc/login")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(Body::from(encode_form(&fields("correct horse battery"))))
        .unwrap();
    let res = send(&w.router, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&res).is_none());

    let res = w
        .rpc(
            "create_group",
            Some(&session),
            &[("name", ""), ("description", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = text(res).await;
    assert!(
        body.contains(r#""field":"name""#) && body.contains("Required"),
        "{body}"
    );

    let res = w.rpc("logout", Some(&session), &[("next", "/")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (_, html) = w.page("/groups", Some(&session)).await;
    assert!(
        main_of(&html).contains(r#"id="sign-in-prompt""#),
        "the session ended for real"
    );
}

#[tokio::test]
async fn a_plain_form_login_redirects_and_a_refusal_keeps_next() {
    let w = World::new().await;
    let plain = |password: &str| {
        Request::post("/rpc/login")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, format!("http://{HOST}"))
            .header(
                header::REFERER,
                format!("http://{HOST}/login?next=/profile&error=gone"),
            )
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html")
            .body(Body::from(encode_form(&[
                ("email", "owner@example.com"),
                ("password", password),
                ("next", "/profile"),
            ])))
            .unwrap()
    };
    let res = send(&w.router, plain("wrong password")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()[header::LOCATION],
        "/login?next=/profile&error=invalid_credentials"
    );
    let (_, html) = w
        .page("/login?next=/profile&error=invalid_credentials", None)
        .await;
    assert!(main_of(&html).contains("Wrong email or password."));

    let res = send(&w.router, plain("correct horse battery")).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()[header::LOCATION], "/profile");
    let session = session_cookie(&res).expect("signed in");
    let (_, html) = w.page("/profile", Some(&session)).await;
    let main = main_of(&html);
    assert!(main.contains(r#"id="profile-form""#) && main.contains(r#"id="password-form""#));
}

#[tokio::test]
async fn the_pages_speak_chinese_too() {
    let w = World::new().await;
    let req = Request::get(format!("/groups/{}", w.group))
        .header(header::HOST, HOST)
        .header(header::ACCEPT_LANGUAGE, "zh-CN")
        .header(header::COOKIE, format!("aicarpool_session={}", w.owner))
        .body(Body::empty())
        .unwrap();
    let html = text(send(&w.router, req).await).await;
    assert!(html.contains(r#"<html lang="zh-CN""#));
    let main = main_of(&html);
    assert!(
        main.contains("所有者") && main.contains("邮件邀请"),
        "{main}"
    );
}
