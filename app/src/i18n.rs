//! Every user-visible string of the UI, in zh-CN and en. A locale is one `Texts` value, so a
//! string missing from one language is a compile error, not a blank in the page.

use aicarpool::api::{ApiError, CounterBackend, MailTransport};
use aicarpool::i18n::Locale;
use aicarpool::validate::FieldError;
use leptos::prelude::*;

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
}

/// English.
pub static EN: Texts = Texts {
    app_name: "AiCarpool",
    tagline: "Share AI accounts across your team, fairly and visibly",
    nav_home: "Overview",
    nav_status: "Status",
    nav_label: "Main navigation",
    language: "Language",
    loading: "Loading…",
    setup_title: "Welcome to AiCarpool",
    setup_intro: "No administrator exists yet. Create the first one to take charge of this instance.",
    setup_token: "Setup token",
    setup_token_help: "Printed in the server log at start-up (look for “setup token:”). It proves you run this server.",
    email: "Email",
    name: "Display name",
    password: "Password",
    password_confirm: "Repeat password",
    show_password: "Show",
    hide_password: "Hide",
    setup_submit: "Create administrator",
    setup_submitting: "Creating…",
    ready_title: "AiCarpool is ready",
    ready_intro: "The first administrator exists. Signing in, groups and keys come next.",
    status_title: "Instance status",
    status_version: "Version",
    status_database: "Database",
    status_counters: "Counters",
    status_mail: "Mail",
    status_users: "Users",
    status_uptime: "Uptime",
    counters_memory: "in memory (single node)",
    counters_redis: "Redis (shared by all nodes)",
    mail_smtp: "SMTP",
    mail_outbox: "outbox log (no SMTP configured)",
    setup_pending_note: "Waiting for the first administrator: open the overview page to finish setup.",
    not_found_title: "Page not found",
    not_found_body: "There is nothing at this address.",
    back_home: "Back to the overview",
    err_token: "The setup token is wrong. Copy it from the server log.",
    err_setup_done: "This instance is already set up.",
    err_unavailable: "The database is not reachable right now. Try again in a moment.",
    err_internal: "Something went wrong on the server; its log has the details.",
    err_network: "The server could not be reached. Check your connection and try again.",
    fe_required: "Required.",
    fe_email: "Enter an email address like ada@example.com.",
    fe_control: "Remove the control characters.",
    fe_mismatch: "The passwords differ.",
    fe_too_short: |n| format!("At least {n} characters."),
    fe_too_long: |n| format!("At most {n} characters."),
    uptime: |s| format!("{}h {}m {}s", s / 3600, s % 3600 / 60, s % 60),
};

/// Simplified Chinese.
pub static ZH_CN: Texts = Texts {
    app_name: "AiCarpool 拼车",
    tagline: "团队共享 AI 账号，公平透明",
    nav_home: "概览",
    nav_status: "状态",
    nav_label: "主导航",
    language: "语言",
    loading: "加载中…",
    setup_title: "欢迎使用 AiCarpool 拼车",
    setup_intro: "尚无管理员。请创建第一个管理员来管理本实例。",
    setup_token: "初始化令牌",
    setup_token_help: "服务启动时打印在日志中（查找 “setup token:”），用来证明你是本服务器的运行者。",
    email: "邮箱",
    name: "显示名称",
    password: "密码",
    password_confirm: "再次输入密码",
    show_password: "显示",
    hide_password: "隐藏",
    setup_submit: "创建管理员",
    setup_submitting: "正在创建…",
    ready_title: "AiCarpool 拼车已就绪",
    ready_intro: "第一个管理员已创建。登录、拼车组和密钥即将推出。",
    status_title: "实例状态",
    status_version: "版本",
    status_database: "数据库",
    status_counters: "计数器",
    status_mail: "邮件",
    status_users: "用户数",
    status_uptime: "运行时长",
    counters_memory: "内存（单节点）",
    counters_redis: "Redis（多节点共享）",
    mail_smtp: "SMTP",
    mail_outbox: "发件日志（未配置 SMTP）",
    setup_pending_note: "等待创建第一个管理员：请打开概览页完成初始化。",
    not_found_title: "页面不存在",
    not_found_body: "这个地址没有内容。",
    back_home: "返回概览",
    err_token: "初始化令牌不正确，请从服务器日志中复制。",
    err_setup_done: "本实例已完成初始化。",
    err_unavailable: "数据库暂时无法访问，请稍后再试。",
    err_internal: "服务器出错了，详情见服务器日志。",
    err_network: "无法连接服务器，请检查网络后重试。",
    fe_required: "必填。",
    fe_email: "请输入邮箱地址，例如 ada@example.com。",
    fe_control: "请删除控制字符。",
    fe_mismatch: "两次输入的密码不一致。",
    fe_too_short: |n| format!("至少 {n} 个字符。"),
    fe_too_long: |n| format!("最多 {n} 个字符。"),
    uptime: |s| format!("{} 小时 {} 分 {} 秒", s / 3600, s % 3600 / 60, s % 60),
};

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
}
