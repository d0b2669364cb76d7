//! Tests of the budget warnings: thresholds crossed at exact percentages, what each limit
//! counts, and what the mails say.

use super::*;

fn limit(warn_at: Vec<u8>, cap: i64) -> Limit {
    Limit {
        id: 1,
        group_id: 2,
        scope: LimitScope::Member,
        target_id: Some(5),
        metric: LimitMetric::Cost,
        window: LimitWindow::Month,
        cap,
        warn_at,
        zone: Zone::default(),
    }
}

#[test]
fn thresholds_are_crossed_at_exact_percentages() {
    let l = limit(vec![80, 100], 1_000_000);
    assert!(crossed(&l, 799_999).is_empty());
    assert_eq!(crossed(&l, 800_000), vec![80]);
    assert_eq!(crossed(&l, 1_200_000), vec![100, 80]);
    let huge = limit(vec![50], i64::MAX / 2);
    assert_eq!(crossed(&huge, i64::MAX / 4 + 1), vec![50]);
    assert!(crossed(&huge, i64::MAX / 4 - 1).is_empty());
}

#[test]
fn usage_counts_only_what_the_limit_applies_to() {
    let row = |user_id, key_id, account_id, cost_micros| TargetSums {
        user_id,
        key_id,
        account_id,
        requests: 1,
        account_requests: 1,
        tokens: 10,
        cost_micros,
    };
    let sums = [row(5, 50, 7, 300), row(5, 51, 8, 200), row(6, 60, 7, 1000)];
    let mut l = limit(vec![80], 1000);
    assert_eq!(usage_of(&l, &sums), 500);
    l.scope = LimitScope::Key;
    l.target_id = Some(51);
    assert_eq!(usage_of(&l, &sums), 200);
    l.scope = LimitScope::Account;
    l.target_id = Some(7);
    assert_eq!(usage_of(&l, &sums), 1300);
    l.scope = LimitScope::Group;
    l.metric = LimitMetric::Tokens;
    assert_eq!(usage_of(&l, &sums), 30);
}

#[test]
fn mails_say_which_limit_how_much_when_it_resets_and_who_can_raise_it() {
    let w = Warning {
        group_id: 3,
        group_name: "Claude 拼车".into(),
        target: Target::Member("Bob".into()),
        metric: LimitMetric::Cost,
        window: LimitWindow::Month,
        cap: 12_500_000,
        used: 10_000_000,
        threshold: 80,
        resets: Some((
            "2026-12-01 00:00 (Asia/Shanghai, UTC+08:00)".into(),
            "2026-11-30T16:00:00Z".into(),
        )),
        raisers: vec!["Ada".into()],
    };
    let bob = Recipient {
        user_id: 5,
        email: "bob@example.com".into(),
        name: "Bob".into(),
        locale: "en".into(),
        role: "member".into(),
    };
    let mail = warning_mail(&w, &bob, false, "https://carpool.example.com");
    assert_eq!(mail.to, "bob@example.com");
    for needle in [
        "member Bob: cost per month",
        "$12.50",
        "$10.00 (80%)",
        "2026-12-01 00:00 (Asia/Shanghai",
        "owners and admins (Ada)",
        "https://carpool.example.com/groups/3/me",
    ] {
        assert!(mail.text.contains(needle), "{needle} in {}", mail.text);
    }
    assert!(mail.subject.contains("80%"), "{}", mail.subject);
    let ada = Recipient {
        locale: "zh-CN".into(),
        role: "owner".into(),
        ..bob
    };
    let mail = warning_mail(&w, &ada, true, "https://carpool.example.com");
    assert!(mail.subject.contains("预算预警"), "{}", mail.subject);
    assert!(mail.text.contains("成员 Bob：每月费用"), "{}", mail.text);
    assert!(mail.text.contains("/groups/3#group-limits"));
    assert!(mail.html.contains("lang=\"zh-CN\""));
}
