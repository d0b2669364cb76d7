//! The strings of routing and budgets: the group's routing section, account health and caps
//! on the accounts page, and the limits editor; one [`BudgetTexts`] value per locale, nested in
//! [`super::Texts`] as `budget`.

use aicarpool::model::{LimitMetric, LimitScope, LimitWindow, RoutingStrategy};

/// The strings of the routing section, account health and caps, and limits.
pub struct BudgetTexts {
    pub routing_title: &'static str,
    pub routing_intro: &'static str,
    pub strategy: &'static str,
    pub strategy_weighted: &'static str,
    pub strategy_round_robin: &'static str,
    pub strategy_least_latency: &'static str,
    pub strategy_lowest_cost: &'static str,
    pub strategy_most_budget: &'static str,
    pub explain_weighted: &'static str,
    pub explain_round_robin: &'static str,
    pub explain_least_latency: &'static str,
    pub explain_lowest_cost: &'static str,
    pub explain_most_budget: &'static str,
    pub chains: &'static str,
    pub chains_help: &'static str,
    pub chains_empty: &'static str,
    pub save_routing: &'static str,
    pub health: &'static str,
    pub circuit_closed: &'static str,
    pub circuit_open: &'static str,
    pub circuit_half_open: &'static str,
    pub health_unknown: &'static str,
    pub latency: &'static str,
    pub error_rate: &'static str,
    pub attempts: fn(u64, u32) -> String,
    pub out_until: fn(&str, &str) -> String,
    pub out_because: fn(&str) -> String,
    pub caps: &'static str,
    pub caps_help: &'static str,
    pub max_concurrency: &'static str,
    pub rpm_limit: &'static str,
    pub tpm_limit: &'static str,
    pub limits_title: &'static str,
    pub limits_intro: &'static str,
    pub limits_member_intro: &'static str,
    pub limits_empty: &'static str,
    pub scope_key: &'static str,
    pub scope_member: &'static str,
    pub scope_group: &'static str,
    pub scope_account: &'static str,
    pub metric_requests: &'static str,
    pub metric_tokens: &'static str,
    pub metric_cost: &'static str,
    pub window_minute: &'static str,
    pub window_day: &'static str,
    pub window_month: &'static str,
    pub window_total: &'static str,
    pub target: &'static str,
    pub metric: &'static str,
    pub window: &'static str,
    pub cap: &'static str,
    pub cap_help: &'static str,
    pub warn_at: &'static str,
    pub warn_at_help: &'static str,
    pub used: &'static str,
    pub remaining: &'static str,
    pub resets: &'static str,
    pub add_limit: &'static str,
    pub delete_limit: &'static str,
    pub time_zone: &'static str,
    pub set_time_zone: &'static str,
}

impl BudgetTexts {
    /// A strategy's name.
    pub fn strategy_name(&self, s: RoutingStrategy) -> &'static str {
        match s {
            RoutingStrategy::Weighted => self.strategy_weighted,
            RoutingStrategy::RoundRobin => self.strategy_round_robin,
            RoutingStrategy::LeastLatency => self.strategy_least_latency,
            RoutingStrategy::LowestCost => self.strategy_lowest_cost,
            RoutingStrategy::MostBudget => self.strategy_most_budget,
        }
    }

    /// What a strategy does, in one line.
    pub fn strategy_help(&self, s: RoutingStrategy) -> &'static str {
        match s {
            RoutingStrategy::Weighted => self.explain_weighted,
            RoutingStrategy::RoundRobin => self.explain_round_robin,
            RoutingStrategy::LeastLatency => self.explain_least_latency,
            RoutingStrategy::LowestCost => self.explain_lowest_cost,
            RoutingStrategy::MostBudget => self.explain_most_budget,
        }
    }

    /// A circuit state (`closed`, `open`, `half_open`) in words.
    pub fn circuit(&self, state: &str) -> &'static str {
        match state {
            "closed" => self.circuit_closed,
            "open" => self.circuit_open,
            "half_open" => self.circuit_half_open,
            _ => self.health_unknown,
        }
    }

    /// A limit scope in words.
    pub fn scope(&self, s: LimitScope) -> &'static str {
        match s {
            LimitScope::Key => self.scope_key,
            LimitScope::Member => self.scope_member,
            LimitScope::Group => self.scope_group,
            LimitScope::Account => self.scope_account,
        }
    }

    /// A limit metric in words.
    pub fn metric_name(&self, m: LimitMetric) -> &'static str {
        match m {
            LimitMetric::Requests => self.metric_requests,
            LimitMetric::Tokens => self.metric_tokens,
            LimitMetric::Cost => self.metric_cost,
        }
    }

    /// A limit window in words.
    pub fn window_name(&self, w: LimitWindow) -> &'static str {
        match w {
            LimitWindow::Minute => self.window_minute,
            LimitWindow::Day => self.window_day,
            LimitWindow::Month => self.window_month,
            LimitWindow::Total => self.window_total,
        }
    }

    /// The label of a form field of these sections that a refusal names, if it is one.
    pub fn field_label(&self, field: &str) -> Option<&'static str> {
        Some(match field {
            "strategy" => self.strategy,
            "routes" => self.chains,
            "max_concurrency" => self.max_concurrency,
            "rpm_limit" => self.rpm_limit,
            "tpm_limit" => self.tpm_limit,
            "scope" | "target_id" | "target" => self.target,
            "metric" => self.metric,
            "window" => self.window,
            "cap" => self.cap,
            "warn_at" => self.warn_at,
            "time_zone" => self.time_zone,
            _ => return None,
        })
    }
}

/// English.
pub const EN: BudgetTexts = BudgetTexts {
    routing_title: "Routing",
    routing_intro: "How requests spread over the group's accounts. Lower priority numbers are always tried first; within a priority tier the strategy decides, and a failing account hands over to the next one before the first byte.",
    strategy: "Strategy",
    strategy_weighted: "Weighted random",
    strategy_round_robin: "Round robin",
    strategy_least_latency: "Least latency",
    strategy_lowest_cost: "Lowest cost",
    strategy_most_budget: "Most budget left",
    explain_weighted: "Picks at random, in proportion to each binding's weight.",
    explain_round_robin: "Takes the accounts in turn, one request each.",
    explain_least_latency: "Tries the account with the lowest recent time to first byte first.",
    explain_lowest_cost: "Tries the account whose model is cheapest in the price table first.",
    explain_most_budget: "Tries the account with the most of its budget left first.",
    chains: "Model fallback chains",
    chains_help: "One per line: alias -> model1, model2, … A request for the alias tries the models in order, across providers.",
    chains_empty: "No fallback chains: each model is served by the accounts that list it.",
    save_routing: "Save routing",
    health: "Health",
    circuit_closed: "Healthy",
    circuit_open: "Out",
    circuit_half_open: "Probing",
    health_unknown: "No traffic yet",
    latency: "Latency (first byte)",
    error_rate: "Error rate",
    attempts: |n, row| format!("{n} attempts, {row} failures in a row"),
    out_until: |until, why| format!("Out until {until} because {why}"),
    out_because: |why| format!("Out because {why}"),
    caps: "Caps (concurrency / RPM / TPM)",
    caps_help: "Empty or 0: no cap. An account at its cap is skipped, not overloaded.",
    max_concurrency: "Max concurrent requests",
    rpm_limit: "Requests per minute",
    tpm_limit: "Tokens per minute",
    limits_title: "Budgets and limits",
    limits_intro: "Caps on requests, tokens or cost, per key, member, account or the whole group. A request that would pass a cap is refused with the reason and the reset time.",
    limits_member_intro: "The limits that apply to you, and what is left of them.",
    limits_empty: "No limits yet.",
    scope_key: "Key",
    scope_member: "Member",
    scope_group: "Whole group",
    scope_account: "Account",
    metric_requests: "Requests",
    metric_tokens: "Tokens",
    metric_cost: "Cost",
    window_minute: "per minute",
    window_day: "per day",
    window_month: "per month",
    window_total: "in total",
    target: "Applies to",
    metric: "Metric",
    window: "Window",
    cap: "Cap",
    cap_help: "Requests, tokens, or US dollars for cost (e.g. 12.50).",
    warn_at: "Warn at (%)",
    warn_at_help: "Comma separated; empty for 80, 100.",
    used: "Used",
    remaining: "Remaining",
    resets: "Resets",
    add_limit: "Add limit",
    delete_limit: "Delete",
    time_zone: "Days and months begin in the time zone",
    set_time_zone: "Change time zone",
};

/// Simplified Chinese.
pub const ZH_CN: BudgetTexts = BudgetTexts {
    routing_title: "路由",
    routing_intro: "请求如何分配到本组的账号。优先级数字小的总是先试；同一优先级内由策略决定，某个账号失败时在首字节之前交给下一个。",
    strategy: "策略",
    strategy_weighted: "加权随机",
    strategy_round_robin: "轮询",
    strategy_least_latency: "最低延迟",
    strategy_lowest_cost: "最低成本",
    strategy_most_budget: "剩余预算最多",
    explain_weighted: "按每个绑定的权重比例随机选择。",
    explain_round_robin: "依次使用各账号，每个一次。",
    explain_least_latency: "先试最近首字节时间最短的账号。",
    explain_lowest_cost: "先试价格表中模型最便宜的账号。",
    explain_most_budget: "先试剩余预算最多的账号。",
    chains: "模型回退链",
    chains_help: "每行一条：别名 -> 模型1, 模型2, … 请求该别名时按顺序尝试这些模型，可跨服务商。",
    chains_empty: "没有回退链：每个模型由列出它的账号提供。",
    save_routing: "保存路由",
    health: "健康",
    circuit_closed: "正常",
    circuit_open: "已下线",
    circuit_half_open: "探测中",
    health_unknown: "暂无流量",
    latency: "延迟（首字节）",
    error_rate: "错误率",
    attempts: |n, row| format!("{n} 次尝试，连续失败 {row} 次"),
    out_until: |until, why| format!("下线至 {until}，原因：{why}"),
    out_because: |why| format!("已下线，原因：{why}"),
    caps: "上限（并发 / RPM / TPM）",
    caps_help: "留空或 0：不设上限。达到上限的账号会被跳过，而不是过载。",
    max_concurrency: "最大并发请求数",
    rpm_limit: "每分钟请求数",
    tpm_limit: "每分钟 Token 数",
    limits_title: "预算与限额",
    limits_intro: "按密钥、成员、账号或整个组限制请求数、Token 数或费用。会超出限额的请求将被拒绝，并说明原因和重置时间。",
    limits_member_intro: "适用于你的限额，以及剩余额度。",
    limits_empty: "还没有限额。",
    scope_key: "密钥",
    scope_member: "成员",
    scope_group: "整个组",
    scope_account: "账号",
    metric_requests: "请求数",
    metric_tokens: "Token 数",
    metric_cost: "费用",
    window_minute: "每分钟",
    window_day: "每天",
    window_month: "每月",
    window_total: "累计",
    target: "适用于",
    metric: "指标",
    window: "周期",
    cap: "上限",
    cap_help: "请求数、Token 数，费用则以美元计（例如 12.50）。",
    warn_at: "提醒阈值（%）",
    warn_at_help: "用逗号分隔；留空为 80, 100。",
    used: "已用",
    remaining: "剩余",
    resets: "重置时间",
    add_limit: "添加限额",
    delete_limit: "删除",
    time_zone: "按此时区计算日和月",
    set_time_zone: "更改时区",
};
