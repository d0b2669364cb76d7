//! The strings of prices and currencies: the system administrator's prices page (model prices,
//! overrides, the USD->CNY rate), the display currency on the profile page, editing a limit in
//! place, and the checks of amounts typed into those forms; one [`MoneyTexts`] value per
//! locale, nested in [`super::Texts`] as `money`.

use aicarpool::money::Currency;

/// The strings of prices, currencies and amount checks.
pub struct MoneyTexts {
    pub nav_prices: &'static str,
    pub prices_title: &'static str,
    pub prices_intro: &'static str,
    pub prices_forbidden: &'static str,
    pub model: &'static str,
    pub input: &'static str,
    pub output: &'static str,
    pub cache_read: &'static str,
    pub cache_write: &'static str,
    pub per_million: fn(&str) -> String,
    pub in_usd: fn(&str) -> String,
    pub source: &'static str,
    pub built_in: &'static str,
    pub overridden: &'static str,
    pub built_in_was: fn(&str) -> String,
    pub edit_price: &'static str,
    pub reset_price: &'static str,
    pub remove_price: &'static str,
    pub price_form_title: &'static str,
    pub price_form_help: &'static str,
    pub save_price: &'static str,
    pub price_saved: &'static str,
    pub price_reset_done: &'static str,
    pub rate_title: &'static str,
    pub rate_intro: &'static str,
    pub rate_label: &'static str,
    pub rate_now: fn(&str) -> String,
    pub rate_from_config: fn(&str) -> String,
    pub rate_from_admin: &'static str,
    pub rate_help: fn(&str) -> String,
    pub save_rate: &'static str,
    pub reset_rate: &'static str,
    pub rate_saved: &'static str,
    pub currency: &'static str,
    pub currency_usd: &'static str,
    pub currency_cny: &'static str,
    pub currency_help: fn(&str) -> String,
    pub chart_cost_cny: &'static str,
    pub edit_limit: &'static str,
    pub cap_usd: &'static str,
    pub cancel: &'static str,
    pub err_model: &'static str,
    pub err_price: &'static str,
    pub err_price_large: &'static str,
    pub err_cap_cost: &'static str,
    pub err_cap_whole: &'static str,
    pub err_warn_at: &'static str,
    pub err_rate: &'static str,
}

impl MoneyTexts {
    /// A currency's name in a choice.
    pub fn currency_name(&self, c: Currency) -> &'static str {
        match c {
            Currency::Usd => self.currency_usd,
            Currency::Cny => self.currency_cny,
        }
    }

    /// The label of a form field of these pages that a refusal names, if it is one.
    pub fn field_label(&self, field: &str) -> Option<&'static str> {
        Some(match field {
            "model" => self.model,
            "input" => self.input,
            "output" => self.output,
            "cache_read" => self.cache_read,
            "cache_write" => self.cache_write,
            "cny_per_usd" => self.rate_label,
            "currency" => self.currency,
            _ => return None,
        })
    }
}

/// English.
pub const EN: MoneyTexts = MoneyTexts {
    nav_prices: "Prices",
    prices_title: "Model prices",
    prices_intro: "What each model costs per million tokens. AiCarpool ships built-in list prices; an override replaces the built-in price of that model on every node from the next request on. Costs already recorded keep the price they were charged at.",
    prices_forbidden: "Only a system administrator can see and change prices.",
    model: "Model",
    input: "Input",
    output: "Output",
    cache_read: "Cache read",
    cache_write: "Cache write",
    per_million: |currency| format!("Per million tokens, in {currency}"),
    in_usd: |label| format!("{label} (USD)"),
    source: "Source",
    built_in: "Built-in",
    overridden: "Override",
    built_in_was: |prices| format!("Built-in: {prices}"),
    edit_price: "Edit",
    reset_price: "Reset to built-in",
    remove_price: "Remove price",
    price_form_title: "Set a price override",
    price_form_help: "US dollars per million tokens, such as 2.5 or 0.075 (at most 6 decimals). A model that is not in the table gets a price too.",
    save_price: "Save price",
    price_saved: "Price saved.",
    price_reset_done: "Override removed.",
    rate_title: "Exchange rate",
    rate_intro: "Amounts are stored and charged in US dollars. People who show amounts in yuan see them converted at this rate, rounded once to the millionth of a yuan. The JSON API and CSV exports stay in US dollars.",
    rate_label: "Yuan per US dollar",
    rate_now: |rate| format!("1 USD = {rate} CNY"),
    rate_from_config: |rate| format!("The default from CNY_PER_USD ({rate})."),
    rate_from_admin: "Set by an administrator.",
    rate_help: |default| {
        format!(
            "Up to 4 decimals, e.g. 7.2 or 7.1234. Without a rate set here, {default} from CNY_PER_USD applies."
        )
    },
    save_rate: "Save rate",
    reset_rate: "Use the default",
    rate_saved: "Rate saved.",
    currency: "Show amounts in",
    currency_usd: "US dollars ($)",
    currency_cny: "Chinese yuan (¥)",
    currency_help: |rate| {
        format!(
            "Amounts are kept in US dollars; yuan are converted at 1 USD = {rate} CNY, the rate the administrator set."
        )
    },
    chart_cost_cny: "Cost (CNY)",
    edit_limit: "Edit",
    cap_usd: "Cap (USD)",
    cancel: "Cancel",
    err_model: "Enter the model name (1 to 200 characters).",
    err_price: "Enter US dollars per million tokens, 0 or more, such as 2.5 or 0.075 (at most 6 decimals).",
    err_price_large: "At most 1,000,000 US dollars per million tokens.",
    err_cap_cost: "Enter US dollars above 0, such as 25 or 12.50 (at most 6 decimals).",
    err_cap_whole: "Enter a whole number above 0.",
    err_warn_at: "Up to 5 whole percentages from 1 to 100, comma separated, e.g. 80, 100 (empty for 80, 100).",
    err_rate: "Enter a rate above 0 and at most 1000 with up to 4 decimals, e.g. 7.2.",
};

/// Simplified Chinese.
pub const ZH_CN: MoneyTexts = MoneyTexts {
    nav_prices: "价格",
    prices_title: "模型价格",
    prices_intro: "每个模型每百万 Token 的价格。AiCarpool 自带各模型的公开价格；自定义价格会替换该模型的内置价格，所有节点从下一个请求起生效。已记录的费用保持当时的价格不变。",
    prices_forbidden: "只有系统管理员可以查看和修改价格。",
    model: "模型",
    input: "输入",
    output: "输出",
    cache_read: "缓存读取",
    cache_write: "缓存写入",
    per_million: |currency| format!("每百万 Token，单位：{currency}"),
    in_usd: |label| format!("{label}（美元）"),
    source: "来源",
    built_in: "内置",
    overridden: "自定义",
    built_in_was: |prices| format!("内置价格：{prices}"),
    edit_price: "编辑",
    reset_price: "恢复内置价格",
    remove_price: "删除价格",
    price_form_title: "设置自定义价格",
    price_form_help: "以美元计的每百万 Token 价格，例如 2.5 或 0.075（最多 6 位小数）。表中没有的模型也可以设置价格。",
    save_price: "保存价格",
    price_saved: "价格已保存。",
    price_reset_done: "已删除自定义价格。",
    rate_title: "汇率",
    rate_intro: "金额一律以美元保存和计费。选择以人民币显示金额的用户会看到按此汇率换算的金额，只在百万分之一元处四舍五入一次。JSON API 和 CSV 导出始终使用美元。",
    rate_label: "每美元兑人民币",
    rate_now: |rate| format!("1 美元 = {rate} 人民币"),
    rate_from_config: |rate| format!("使用 CNY_PER_USD 的默认值（{rate}）。"),
    rate_from_admin: "由管理员设置。",
    rate_help: |default| {
        format!("最多 4 位小数，例如 7.2 或 7.1234。未在此设置时使用 CNY_PER_USD 的 {default}。")
    },
    save_rate: "保存汇率",
    reset_rate: "使用默认值",
    rate_saved: "汇率已保存。",
    currency: "金额显示为",
    currency_usd: "美元（$）",
    currency_cny: "人民币（¥）",
    currency_help: |rate| {
        format!("金额以美元保存；人民币按管理员设置的汇率 1 美元 = {rate} 人民币换算。")
    },
    chart_cost_cny: "费用（人民币）",
    edit_limit: "编辑",
    cap_usd: "上限（美元）",
    cancel: "取消",
    err_model: "请输入模型名称（1 到 200 个字符）。",
    err_price: "请输入每百万 Token 的美元价格，不小于 0，例如 2.5 或 0.075（最多 6 位小数）。",
    err_price_large: "每百万 Token 最多 1,000,000 美元。",
    err_cap_cost: "请输入大于 0 的美元金额，例如 25 或 12.50（最多 6 位小数）。",
    err_cap_whole: "请输入大于 0 的整数。",
    err_warn_at: "最多 5 个 1 到 100 之间的整数百分比，用逗号分隔，例如 80, 100（留空为 80, 100）。",
    err_rate: "请输入大于 0、不超过 1000 的汇率，最多 4 位小数，例如 7.2。",
};
