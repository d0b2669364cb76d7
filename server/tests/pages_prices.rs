//! Router tests of money in the browser: the system administrator's prices page (the table,
//! setting and resetting an override, the USD->CNY rate), the display currency on the profile
//! and every page that shows amounts;
//! with the permission denials and bad input of each server function and of `/api/settings`, `/api/prices`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::pages::{World, assert_field, main_of};
use common::*;
use http::StatusCode;
use serde_json::json;

/// The `<tr>` of the price table for `model`.
fn price_row<'a>(main: &'a str, model: &str) -> &'a str {
    let start = main
        .find(&format!(r#"data-model="{model}""#))
        .unwrap_or_else(|| panic!("no row for {model}: {main}"));
    let row = &main[start..];
    &row[..row.find("</tr>").unwrap()]
}

/// The text of the element whose opening tag contains `marker` (up to its first child tag).
fn text_of(html: &str, marker: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in {html}"));
    let rest = &html[at..];
    let rest = &rest[rest.find('>').unwrap() + 1..];
    rest[..rest.find('<').unwrap()].to_owned()
}

#[tokio::test]
async fn the_prices_page_is_the_system_administrators() {
    let w = World::new().await;
    let (s, html) = w.page("/prices", Some(&w.gw.admin)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains(r#"id="nav-prices""#),
        "the admin has the link"
    );
    let main = main_of(&html);
    let row = price_row(main, "gpt-4o-mini");
    assert!(row.contains(r#"data-source="built_in""#), "{row}");
    // $0.15 input, $0.60 output, $0.075 cache read per million tokens.
    assert_eq!(text_of(row, r#"data-micros="150000""#), "$0.15");
    assert_eq!(text_of(row, r#"data-micros="600000""#), "$0.60");
    assert_eq!(text_of(row, r#"data-micros="75000""#), "$0.075");
    assert!(row.contains("/prices?edit=gpt-4o-mini#price-form"), "{row}");
    assert!(
        !row.contains("Reset to built-in"),
        "a built-in price has nothing to reset"
    );
    assert!(main.contains(r#"id="rate-now" class="font-medium">1 USD = 7.2000 CNY<"#));
    assert!(main.contains("The default from CNY_PER_USD (7.2000)."));

    // The Edit link fills the form with the row's prices, in USD.
    let (_, html) = w
        .page("/prices?edit=claude-sonnet-4", Some(&w.gw.admin))
        .await;
    let form = &html[html.find(r#"id="price-form""#).unwrap()..];
    assert!(
        form.contains(r#"value="claude-sonnet-4""#)
            && form.contains(r#"value="3""#)
            && form.contains(r#"value="15""#)
            && form.contains(r#"value="0.3""#)
            && form.contains(r#"value="3.75""#),
        "{form}"
    );

    for who in [&w.member, &w.outsider] {
        let (s, html) = w.page("/prices", Some(who)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(!html.contains(r#"id="nav-prices""#), "no link for others");
        let main = main_of(&html);
        assert!(
            main.contains("Only a system administrator can see and change prices.")
                && !main.contains(r#"id="price-list""#),
            "{main}"
        );
    }
    let (s, html) = w.page("/prices", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(main_of(&html).contains(r#"id="sign-in-prompt""#));

    let (_, html) = w.page_in("zh-CN", "/prices", Some(&w.gw.admin)).await;
    let main = main_of(&html);
    assert!(
        main.contains("模型价格") && !main.contains("恢复内置价格"),
        "{main}"
    );
    assert!(main.contains("1 美元 = 7.2000 人民币"));
    let (_, html) = w.page_in("zh-CN", "/prices", Some(&w.member)).await;
    assert!(main_of(&html).contains("只有系统管理员可以查看和修改价格。"));
}

#[tokio::test]
async fn an_override_is_priced_exactly_and_reset_to_the_built_in_price() {
    let w = World::new().await;
    let fields = [
        ("model", "GPT-4o-mini"),
        ("input", "0.3"),
        ("output", "1.2"),
        ("cache_read", "0.03"),
        ("cache_write", "0.000001"),
    ];
    let (s, body) = w.rpc("set_price", &w.member, &fields).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let (s, body) = w.rpc("set_price", &w.gw.admin, &fields).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let saved = body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["model"] == "gpt-4o-mini")
        .unwrap();
    assert_eq!(
        (
            &saved["input"],
            &saved["output"],
            &saved["cache_read"],
            &saved["cache_write"],
            &saved["source"]
        ),
        (
            &json!(300_000),
            &json!(1_200_000),
            &json!(30_000),
            &json!(1),
            &json!("override")
        )
    );

    // The next request is charged at the override: tokens x micro-USD per million, exactly.
    w.gw.chat_ok(&w.member_key, "gpt-4o-mini").await;
    let row = &w.gw.usage(1).await[0];
    let picos = i128::from(row.input_tokens) * 300_000 + i128::from(row.output_tokens) * 1_200_000;
    assert_eq!(
        i128::from(row.cost_micros),
        (picos + 500_000) / 1_000_000,
        "{row:?}"
    );

    let (_, html) = w.page("/prices", Some(&w.gw.admin)).await;
    let row = price_row(main_of(&html), "gpt-4o-mini");
    assert!(
        row.contains(r#"data-source="override""#)
            && row.contains(">$0.30<")
            && row.contains(">$0.000001<")
            && row.contains("Built-in: $0.15 / $0.60 / $0.075 / $0.15")
            && row.contains("Reset to built-in"),
        "{row}"
    );

    // Bad input is refused field by field, in the reader's language, never with a 5xx.
    let bad: &[(&str, &str, &str)] = &[
        ("input", "-1", "input"),
        ("output", "1.0000001", "output"),
        ("cache_read", "abc", "cache_read"),
        ("cache_write", "", "cache_write"),
        ("input", "2000000", "input"),
        ("model", "   ", "model"),
    ];
    for (name, value, field) in bad {
        let mut f = fields.to_vec();
        for pair in &mut f {
            if pair.0 == *name {
                pair.1 = value;
            }
        }
        let (s, body) = w.rpc("set_price", &w.gw.admin, &f).await;
        assert_field(s, &body, field);
    }
    let mut f = fields.to_vec();
    f[1].1 = "1,5";
    let (s, body) = w.rpc_in("zh-CN", "set_price", &w.gw.admin, &f).await;
    let message = assert_field(s, &body, "input");
    assert!(message.contains("最多 6 位小数"), "{body}");

    // A model without a built-in price gets one; removing it leaves it unpriced.
    let custom = [
        ("model", "my-llama"),
        ("input", "0"),
        ("output", "0.5"),
        ("cache_read", "0"),
        ("cache_write", "0"),
    ];
    let (s, _) = w.rpc("set_price", &w.gw.admin, &custom).await;
    assert_eq!(s, StatusCode::OK);
    let (_, html) = w.page("/prices", Some(&w.gw.admin)).await;
    let row = price_row(main_of(&html), "my-llama");
    assert!(
        row.contains("Remove price") && !row.contains("Built-in:"),
        "{row}"
    );

    let (s, _) = w
        .rpc("reset_price", &w.member, &[("model", "gpt-4o-mini")])
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, body) = w
        .rpc("reset_price", &w.gw.admin, &[("model", "gpt-4o-mini")])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _) = w
        .rpc("reset_price", &w.gw.admin, &[("model", "gpt-4o-mini")])
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no override left to remove");
    let (_, html) = w.page("/prices", Some(&w.gw.admin)).await;
    let main = main_of(&html);
    assert!(price_row(main, "gpt-4o-mini").contains(r#"data-source="built_in""#));

    // The JSON API: the same rule, the same answers.
    let (s, _) =
        w.gw.api_as(&w.member, "DELETE", "/api/prices/my-llama", None)
            .await;
    assert_eq!(s, 403);
    let (s, _) =
        w.gw.api_as(
            &w.member,
            "PUT",
            "/api/prices",
            Some(json!({"model": "x", "input": 1, "output": 1, "cache_read": 1, "cache_write": 1})),
        )
        .await;
    assert_eq!(s, 403);
    let (s, body) =
        w.gw.api(
            "PUT",
            "/api/prices",
            Some(json!({"model": "my-llama", "input": 1, "output": 2, "cache_read": 0, "cache_write": 0})),
        )
        .await;
    assert_eq!(s, 200, "the body needs no source: {body}");
    let (s, _) = w.gw.api("DELETE", "/api/prices/my-llama", None).await;
    assert_eq!(s, 204);
    let (s, prices) = w.gw.api("GET", "/api/prices", None).await;
    assert_eq!(s, 200);
    assert!(
        !prices
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["model"] == "my-llama")
    );
}

#[tokio::test]
async fn amounts_show_in_yuan_at_the_administrators_rate() {
    let w = World::new().await;
    let (s, settings) = w.gw.api_as(&w.member, "GET", "/api/settings", None).await;
    assert_eq!(s, 200, "{settings}");
    assert_eq!(
        (
            &settings["cny_per_usd"],
            &settings["cny_per_usd_e4"],
            &settings["cny_per_usd_source"]
        ),
        (&json!("7.2000"), &json!(72_000), &json!("config"))
    );

    // Only the system administrator sets the rate; bad rates are refused with the rule.
    let (s, _) =
        w.gw.api_as(
            &w.member,
            "PUT",
            "/api/settings",
            Some(json!({"cny_per_usd": "7"})),
        )
        .await;
    assert_eq!(s, 403);
    for bad in [
        json!("7.12345"),
        json!(0),
        json!("-7"),
        json!("seven"),
        json!(true),
    ] {
        let (s, body) =
            w.gw.api("PUT", "/api/settings", Some(json!({"cny_per_usd": bad})))
                .await;
        assert_eq!(s, 422, "{bad}: {body}");
        assert_eq!(body["error"]["field"], json!("cny_per_usd"), "{body}");
    }
    let (s, body) =
        w.gw.api("PUT", "/api/settings", Some(json!({"cny_per_usd": 7.1234})))
            .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        (&body["cny_per_usd"], &body["cny_per_usd_source"]),
        (&json!("7.1234"), &json!("admin"))
    );
    let (s, body) =
        w.gw.api("PUT", "/api/settings", Some(json!({"cny_per_usd": null})))
            .await;
    assert_eq!(s, 200);
    assert_eq!(body["cny_per_usd"], json!("7.2000"));

    // The same through the page's server functions.
    let (s, _) = w
        .rpc("set_cny_rate", &w.member, &[("cny_per_usd", "7.1")])
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, body) = w
        .rpc_in(
            "zh-CN",
            "set_cny_rate",
            &w.gw.admin,
            &[("cny_per_usd", "7,1")],
        )
        .await;
    let message = assert_field(s, &body, "cny_per_usd");
    assert!(message.contains("汇率"), "{body}");
    let (s, body) = w
        .rpc("set_cny_rate", &w.gw.admin, &[("cny_per_usd", "7.1")])
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["cny_per_usd_e4"], json!(71_000));

    // The member chooses yuan; a currency that does not exist changes nothing.
    let profile = |currency: &'static str| {
        [
            ("name", "Max Member"),
            ("locale", "en"),
            ("currency", currency),
        ]
    };
    let (s, body) = w.rpc("update_profile", &w.member, &profile("EUR")).await;
    assert_field(s, &body, "currency");
    let (_, me) = w.gw.api_as(&w.member, "GET", "/api/auth/me", None).await;
    assert_ne!(me["user"]["name"], json!("Max Member"), "nothing saved");
    let (s, body) = w.rpc("update_profile", &w.member, &profile("CNY")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["currency"], json!("CNY"));
    let (_, me) = w.gw.api_as(&w.member, "GET", "/api/auth/me", None).await;
    assert_eq!(
        me["display"],
        json!({"currency": "CNY", "cny_per_usd_e4": 71_000})
    );
    let (_, html) = w.page("/profile", Some(&w.member)).await;
    assert!(
        html.contains(r#"<option value="CNY" selected"#) && html.contains("1 USD = 7.1000 CNY"),
        "the profile shows the choice and the rate"
    );

    // A $25.50 budget: ¥181.05 to the member, $25.50 to the admin and in the API.
    w.limit(json!({"scope": "group", "metric": "cost", "window": "month", "cap": "25.5"}))
        .await;
    let group = format!("/groups/{}", w.gw.group_id);
    let (_, html) = w.page(&group, Some(&w.member)).await;
    let main = main_of(&html);
    assert!(
        main.contains("¥0.00 / ¥181.05") && !main.contains("$25.50"),
        "{main}"
    );
    let (_, html) = w.page(&group, Some(&w.gw.admin)).await;
    assert!(main_of(&html).contains("$0.00 / $25.50"));
    let (_, limits) =
        w.gw.api_as(
            &w.member,
            "GET",
            &format!("/api/groups/{}/limits", w.gw.group_id),
            None,
        )
        .await;
    assert_eq!(limits[0]["cap"], json!(25.5), "the API stays in USD");

    // Usage, my budget and the cost split convert the exact micro-USD once.
    w.gw.chat_ok(&w.member_key, "gpt-4o-mini").await;
    let cost = w.gw.usage(1).await[0].cost_micros;
    assert!(cost > 0);
    let yuan = aicarpool::money::amount_text("¥", aicarpool::money::usd_to_cny(cost, 71_000));
    let (_, html) = w.page(&format!("{group}/usage"), Some(&w.member)).await;
    let main = main_of(&html);
    assert_eq!(text_of(main, &format!(r#"data-micros="{cost}""#)), yuan);
    assert!(main.contains("Cost (CNY)"), "{main}");
    let (_, html) = w.page(&format!("{group}/me"), Some(&w.member)).await;
    assert!(main_of(&html).contains(&yuan), "{yuan}");
    let (_, html) = w
        .page(&format!("{group}/cost-split"), Some(&w.member))
        .await;
    let main = main_of(&html);
    assert_eq!(text_of(main, r#"id="group-total""#), yuan);
    assert!(main.contains(&format!(r#"data-micros="{cost}""#)), "{main}");
    let (_, html) = w
        .page(&format!("{group}/cost-split"), Some(&w.gw.admin))
        .await;
    assert!(
        main_of(&html).contains(&aicarpool::money::amount_text("$", cost)),
        "the admin still sees dollars"
    );

    // Back to dollars through the API.
    let (s, user) =
        w.gw.api_as(
            &w.member,
            "PUT",
            "/api/auth/me",
            Some(json!({"currency": "usd"})),
        )
        .await;
    assert_eq!((s, &user["currency"]), (200, &json!("USD")), "{user}");
    let (s, body) =
        w.gw.api_as(
            &w.member,
            "PUT",
            "/api/auth/me",
            Some(json!({"currency": "EUR"})),
        )
        .await;
    assert_eq!(s, 422, "{body}");
}

#[tokio::test]
async fn the_rate_and_the_currency_are_kept_on_mariadb_too() {
    use aicarpool::money::Currency;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path(), Some(fresh_mysql_database().await));
    config.cny_per_usd = 69_000;
    let state = state_with_token(config).await;
    let (_, token) = user_with_session(&state, "root@example.com", true).await;
    let admin = aicarpool::identity::authenticate(&state, &token)
        .await
        .unwrap();

    let view = aicarpool::currency::settings(&state).await.unwrap();
    assert_eq!(
        (view.cny_per_usd.as_str(), view.cny_per_usd_source.as_str()),
        ("6.9000", "config")
    );
    let view = aicarpool::currency::set_rate(&state, &admin, Some("7.1234"))
        .await
        .unwrap();
    assert_eq!(
        (view.cny_per_usd_e4, view.cny_per_usd_source.as_str()),
        (71_234, "admin")
    );
    assert!(view.cny_per_usd_updated_at.is_some());
    let user = aicarpool::currency::set_currency(&state, &admin, "cny")
        .await
        .unwrap();
    assert_eq!(user.currency, Currency::Cny);
    let admin = aicarpool::identity::authenticate(&state, &token)
        .await
        .unwrap();
    let me = aicarpool::identity::me(&state, &admin).await.unwrap();
    assert_eq!(
        (me.display.currency, me.display.cny_per_usd_e4),
        (Currency::Cny, 71_234)
    );
    let view = aicarpool::currency::set_rate(&state, &admin, None)
        .await
        .unwrap();
    assert_eq!(
        (view.cny_per_usd_e4, view.cny_per_usd_source.as_str()),
        (69_000, "config")
    );
}
