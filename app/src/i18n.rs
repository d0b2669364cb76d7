//! Every user-visible string of the UI, in zh-CN and en. A locale is one `Texts` value (one file
//! each), so a string missing from one language is a compile error, not a blank in the page.

use aicarpool::api::{ApiError, CounterBackend, MailTransport};
use aicarpool::i18n::Locale;
use aicarpool::model::{DeliveryView, GroupRole};
use aicarpool::validate::FieldError;
use leptos::prelude::*;

pub mod alerts;
pub mod budget;
mod en;
pub mod money;
pub mod proxy;
pub mod reports;
mod zh_cn;

pub use en::EN;
pub use zh_cn::ZH_CN;

/// The strings of one language.
pub struct Texts {
    pub app_name: &'static str,
    pub tagline: &'static str,
    pub nav_home: &'static str,
    pub nav_status: &'static str,
    pub nav_label: &'static str,
    pub language: &'static str,
    pub loading: &'static str,
    pub setup_title: &'static str,
    pub setup_intro: &'static str,
    pub setup_token: &'static str,
    pub setup_token_help: &'static str,
    pub email: &'static str,
    pub name: &'static str,
    pub password: &'static str,
    pub password_confirm: &'static str,
    pub show_password: &'static str,
    pub hide_password: &'static str,
    pub setup_submit: &'static str,
    pub setup_submitting: &'static str,
    pub ready_title: &'static str,
    pub ready_intro: &'static str,
    pub status_title: &'static str,
    pub status_version: &'static str,
    pub status_database: &'static str,
    pub status_counters: &'static str,
    pub status_mail: &'static str,
    pub status_users: &'static str,
    pub status_uptime: &'static str,
    pub counters_memory: &'static str,
    pub counters_redis: &'static str,
    pub mail_smtp: &'static str,
    pub mail_outbox: &'static str,
    pub setup_pending_note: &'static str,
    pub not_found_title: &'static str,
    pub not_found_body: &'static str,
    pub back_home: &'static str,
    pub err_token: &'static str,
    pub err_setup_done: &'static str,
    pub err_unavailable: &'static str,
    pub err_internal: &'static str,
    pub err_network: &'static str,
    pub fe_required: &'static str,
    pub fe_email: &'static str,
    pub fe_control: &'static str,
    pub fe_mismatch: &'static str,
    pub fe_too_short: fn(usize) -> String,
    pub fe_too_long: fn(usize) -> String,
    pub uptime: fn(u64) -> String,
    pub working: &'static str,
    pub save: &'static str,
    pub saved: &'static str,
    pub remove: &'static str,
    pub revoke: &'static str,
    pub actions: &'static str,
    pub state: &'static str,
    pub expires: &'static str,
    pub never: &'static str,
    pub unlimited: &'static str,
    pub you: &'static str,
    pub copy: &'static str,
    pub copied: &'static str,
    pub copy_failed: &'static str,
    pub link_shown_once: &'static str,
    pub nav_groups: &'static str,
    pub nav_profile: &'static str,
    pub sign_in: &'static str,
    pub register: &'static str,
    pub sign_out: &'static str,
    pub sign_in_needed_title: &'static str,
    pub sign_in_needed_body: &'static str,
    pub login_title: &'static str,
    pub no_account: &'static str,
    pub have_account: &'static str,
    pub register_title: &'static str,
    pub register_intro: &'static str,
    pub name_generic: &'static str,
    pub current_password: &'static str,
    pub new_password: &'static str,
    pub groups_title: &'static str,
    pub groups_empty: &'static str,
    pub create_group: &'static str,
    pub group_name: &'static str,
    pub group_description: &'static str,
    pub member_count: fn(i64) -> String,
    pub your_role: &'static str,
    pub not_a_member_admin: &'static str,
    pub role_label: &'static str,
    pub role_member: &'static str,
    pub role_admin: &'static str,
    pub role_owner: &'static str,
    pub edit_group: &'static str,
    pub members: &'static str,
    pub joined: &'static str,
    pub make_owner: &'static str,
    pub leave_group: &'static str,
    pub danger_zone: &'static str,
    pub delete_group: &'static str,
    pub delete_group_warning: &'static str,
    pub delete_group_confirm: &'static str,
    pub delete_group_for_good: &'static str,
    pub invitations: &'static str,
    pub invite_email: &'static str,
    pub send_invitation: &'static str,
    pub invitation_link_for: &'static str,
    pub invitation_link: &'static str,
    pub no_invitations: &'static str,
    pub delivery: &'static str,
    pub new_link: &'static str,
    pub inv_pending: &'static str,
    pub inv_accepted: &'static str,
    pub inv_revoked: &'static str,
    pub inv_expired: &'static str,
    pub link_active: &'static str,
    pub link_exhausted: &'static str,
    pub delivery_sent: &'static str,
    pub delivery_queued: &'static str,
    pub delivery_retrying: fn(i64, &str) -> String,
    pub invite_links: &'static str,
    pub invite_links_intro: &'static str,
    pub max_uses: &'static str,
    pub expires_in_hours: &'static str,
    pub create_link: &'static str,
    pub invite_link: &'static str,
    pub uses: &'static str,
    pub no_links: &'static str,
    pub invite_heading: fn(&str, &str) -> String,
    pub invited_email: &'static str,
    pub invite_sign_in_first: &'static str,
    pub invite_have_account: &'static str,
    pub invite_new_account: &'static str,
    pub invite_wrong_account: fn(&str, &str) -> String,
    pub invite_accept_as: fn(&str) -> String,
    pub accept_invitation: &'static str,
    pub unusable_accepted: &'static str,
    pub unusable_revoked: &'static str,
    pub unusable_expired: &'static str,
    pub unusable_exhausted: &'static str,
    pub invite_not_found_title: &'static str,
    pub invite_not_found_body: &'static str,
    pub profile_title: &'static str,
    pub profile_details: &'static str,
    pub change_password: &'static str,
    pub password_changed: &'static str,
    pub password_change_note: &'static str,
    pub err_credentials: &'static str,
    pub err_rate_limited: fn(u64) -> String,
    pub err_unauthenticated: &'static str,
    pub err_current_password: &'static str,
    pub err_forbidden: &'static str,
    pub err_not_found: &'static str,
    pub err_conflict: &'static str,
    pub err_gone: &'static str,
    pub err_invalid: &'static str,
    pub with_detail: fn(&str, &str) -> String,
    /// The chat-proxy pages: accounts, bindings, member keys.
    pub proxy: proxy::ProxyTexts,
    /// Routing, account health and caps, budgets and limits.
    pub budget: budget::BudgetTexts,
    /// Usage charts, the member's own view, the cost split.
    pub reports: reports::ReportTexts,
    /// Budget warnings on the limits, and the names of the time zones offered.
    pub alerts: alerts::AlertTexts,
    /// Prices, the display currency and its rate, checks of typed amounts.
    pub money: money::MoneyTexts,
}

/// The strings of a locale.
pub fn texts(locale: Locale) -> &'static Texts {
    match locale {
        Locale::En => &EN,
        Locale::ZhCn => &ZH_CN,
    }
}

impl Texts {
    /// A field error in words.
    pub fn field_error(&self, error: &FieldError) -> String {
        match error {
            FieldError::Required => self.fe_required.to_owned(),
            FieldError::EmailInvalid => self.fe_email.to_owned(),
            FieldError::TooShort { min } => (self.fe_too_short)(*min),
            FieldError::TooLong { max } => (self.fe_too_long)(*max),
            FieldError::ControlChars => self.fe_control.to_owned(),
            FieldError::Mismatch => self.fe_mismatch.to_owned(),
            FieldError::Rule(rule) => rule.clone(),
        }
    }

    /// A refusal in words.
    pub fn api_error(&self, error: &ApiError) -> String {
        match error {
            ApiError::InvalidField { error, .. } => self.field_error(error),
            ApiError::SetupTokenInvalid => self.err_token.to_owned(),
            ApiError::SetupAlreadyDone => self.err_setup_done.to_owned(),
            ApiError::Unavailable => self.err_unavailable.to_owned(),
            ApiError::Internal => self.err_internal.to_owned(),
            ApiError::Transport(_) => self.err_network.to_owned(),
            ApiError::Service {
                code,
                message,
                field,
                reason,
                retry_after_secs,
                ..
            } => match (code.as_str(), field.as_deref(), reason) {
                ("invalid_credentials", ..) => self.err_credentials.to_owned(),
                ("rate_limited", ..) => (self.err_rate_limited)(retry_after_secs.unwrap_or(60)),
                ("unauthenticated", ..) => self.err_unauthenticated.to_owned(),
                ("not_found", ..) => self.err_not_found.to_owned(),
                ("invalid", Some("current_password"), Some(FieldError::Mismatch)) => {
                    self.err_current_password.to_owned()
                }
                ("invalid", Some(field), Some(reason)) => {
                    format!("{}: {}", self.field_label(field), self.field_error(reason))
                }
                ("invalid", ..) => self.with_detail(self.err_invalid, message),
                ("forbidden", ..) => self.with_detail(self.err_forbidden, message),
                ("conflict", ..) => self.with_detail(self.err_conflict, message),
                ("gone", ..) => self.with_detail(self.err_gone, message),
                _ => self.with_detail(self.err_internal, message),
            },
        }
    }

    /// A generic sentence made specific by the server's English detail, when there is one.
    fn with_detail(&self, generic: &str, detail: &str) -> String {
        if detail.is_empty() {
            generic.to_owned()
        } else {
            (self.with_detail)(generic, detail)
        }
    }

    /// The label of a form field the services name in a refusal.
    pub fn field_label(&self, field: &str) -> &'static str {
        if let Some(label) = self.proxy.field_label(field) {
            return label;
        }
        if let Some(label) = self.budget.field_label(field) {
            return label;
        }
        if let Some(label) = self.money.field_label(field) {
            return label;
        }
        match field {
            "email" => self.email,
            "password" => self.password,
            "password_confirm" | "new_password_confirm" => self.password_confirm,
            "current_password" => self.current_password,
            "new_password" => self.new_password,
            "description" => self.group_description,
            "role" => self.role_label,
            "max_uses" => self.max_uses,
            "expires_in_hours" => self.expires_in_hours,
            _ => self.name_generic,
        }
    }

    /// A group role in words.
    pub fn role(&self, role: GroupRole) -> &'static str {
        match role {
            GroupRole::Member => self.role_member,
            GroupRole::Admin => self.role_admin,
            GroupRole::Owner => self.role_owner,
        }
    }

    /// The state of an email invitation in words.
    pub fn invitation_state(&self, state: &str) -> String {
        match state {
            "pending" => self.inv_pending,
            "accepted" => self.inv_accepted,
            "revoked" => self.inv_revoked,
            "expired" => self.inv_expired,
            other => return other.to_owned(),
        }
        .to_owned()
    }

    /// The state of an invite link in words.
    pub fn link_state(&self, state: &str) -> String {
        match state {
            "active" => self.link_active,
            "revoked" => self.inv_revoked,
            "expired" => self.inv_expired,
            "exhausted" => self.link_exhausted,
            other => return other.to_owned(),
        }
        .to_owned()
    }

    /// Where an invitation mail is: sent, queued, or retrying with the last error.
    pub fn delivery_state(&self, delivery: &DeliveryView) -> String {
        match delivery {
            DeliveryView::Sent { .. } => self.delivery_sent.to_owned(),
            DeliveryView::Pending { attempts: 0, .. } => self.delivery_queued.to_owned(),
            DeliveryView::Pending {
                attempts,
                last_error,
                ..
            } => (self.delivery_retrying)(*attempts, last_error.as_deref().unwrap_or("")),
        }
    }

    /// Why an invitation in `state` cannot be accepted.
    pub fn invite_unusable(&self, state: &str) -> &'static str {
        match state {
            "accepted" => self.unusable_accepted,
            "revoked" => self.unusable_revoked,
            "exhausted" => self.unusable_exhausted,
            _ => self.unusable_expired,
        }
    }

    /// Where counters live, in words.
    pub fn counters(&self, backend: CounterBackend) -> &'static str {
        match backend {
            CounterBackend::Memory => self.counters_memory,
            CounterBackend::Redis => self.counters_redis,
        }
    }

    /// How mail leaves, in words.
    pub fn mail(&self, transport: MailTransport) -> &'static str {
        match transport {
            MailTransport::Smtp => self.mail_smtp,
            MailTransport::OutboxLog => self.mail_outbox,
        }
    }
}

/// The current locale, reactive; provided once by the app.
#[derive(Clone, Copy)]
pub struct I18n {
    locale: RwSignal<Locale>,
}

impl I18n {
    /// Provides the i18n context for the app, starting from `initial`.
    pub fn provide(initial: Locale) -> I18n {
        let i18n = I18n {
            locale: RwSignal::new(initial),
        };
        provide_context(i18n);
        i18n
    }

    /// The current locale (tracked).
    pub fn locale(&self) -> Locale {
        self.locale.get()
    }

    /// The current strings (tracked).
    pub fn t(&self) -> &'static Texts {
        texts(self.locale.get())
    }

    /// Switches the language and remembers the choice in a cookie for a year.
    pub fn set_locale(&self, locale: Locale) {
        self.locale.set(locale);
        #[cfg(feature = "hydrate")]
        remember_in_browser(locale);
    }
}

/// The i18n context.
pub fn use_i18n() -> I18n {
    use_context::<I18n>().unwrap_or_else(|| I18n::provide(Locale::default()))
}

/// The locale this render starts with: on the server from the request (cookie, then
/// `Accept-Language`); in the browser from `<html lang>`, which the server wrote, so that
/// hydration sees the same text the server rendered.
pub fn initial_locale() -> Locale {
    #[cfg(feature = "ssr")]
    {
        use http::header::{ACCEPT_LANGUAGE, COOKIE};
        use_context::<http::request::Parts>()
            .map(|parts| {
                let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
                Locale::for_request(header(COOKIE), header(ACCEPT_LANGUAGE))
            })
            .unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|e| e.get_attribute("lang"))
            .and_then(|lang| Locale::from_tag(&lang))
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        Locale::default()
    }
}

#[cfg(feature = "hydrate")]
fn remember_in_browser(locale: Locale) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Some(root) = document.document_element() {
        let _ = root.set_attribute("lang", locale.code());
    }
    if let Ok(html) = document.dyn_into::<web_sys::HtmlDocument>() {
        let cookie = format!(
            "{}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            aicarpool::i18n::LOCALE_COOKIE,
            locale.code()
        );
        let _ = html.set_cookie(&cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_texts_are_chinese_and_differ_from_english() {
        assert_ne!(EN.setup_title, ZH_CN.setup_title);
        assert!(
            ZH_CN
                .setup_title
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
        );
        assert_eq!((ZH_CN.fe_too_short)(8), "至少 8 个字符。");
        assert_eq!((EN.uptime)(3723), "1h 2m 3s");
    }

    #[test]
    fn service_refusals_are_explained_in_the_readers_language() {
        let conflict = |message: &str| ApiError::Service {
            code: "conflict".into(),
            message: message.into(),
            field: None,
            reason: None,
            retry_after_secs: None,
            status: 409,
        };
        assert_eq!(
            EN.api_error(&conflict("you are already a member of this group")),
            "You are already a member of this group."
        );
        assert_eq!(
            EN.api_error(&conflict("ada@example.com is already a member")),
            "ada@example.com is already a member."
        );
        assert_eq!(
            ZH_CN.api_error(&conflict("you are already a member")),
            "与当前状态冲突。（you are already a member）"
        );
        // After a plain form post only the code is left: the generic sentence.
        assert_eq!(ZH_CN.api_error(&conflict("")), "与当前状态冲突。");
        let limited = ApiError::Service {
            code: "rate_limited".into(),
            message: String::new(),
            field: None,
            reason: None,
            retry_after_secs: Some(42),
            status: 429,
        };
        assert_eq!(
            EN.api_error(&limited),
            "Too many failed attempts. Try again in 42 s."
        );
        let invalid = ApiError::Service {
            code: "invalid".into(),
            message: "new_password: must be at least 8 characters".into(),
            field: Some("new_password".into()),
            reason: Some(FieldError::TooShort { min: 8 }),
            retry_after_secs: None,
            status: 422,
        };
        assert_eq!(ZH_CN.api_error(&invalid), "新密码: 至少 8 个字符。");
    }
}
