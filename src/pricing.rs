//! Model prices: a built-in table for the common OpenAI, Anthropic, Gemini, DeepSeek and Qwen
//! models in integer micro-USD per million tokens, looked up by exact name or, for dated
//! variants (`claude-sonnet-4-5-20250929`), by the longest listed prefix. Costs are computed
//! exactly in pico-USD (tokens × micro-USD per million) and rounded once, half up, to micro-USD.

use crate::gateway::usage::Usage;

/// Prices of one model, micro-USD per million tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Price {
    /// Uncached input.
    pub input: u64,
    /// Output.
    pub output: u64,
    /// Input read from the cache.
    pub cache_read: u64,
    /// Input written to the cache.
    pub cache_write: u64,
}

const fn p(input: u64, output: u64, cache_read: u64, cache_write: u64) -> Price {
    Price {
        input,
        output,
        cache_read,
        cache_write,
    }
}

/// The built-in table (public list prices; admins override them per model).
pub const BUILT_IN: &[(&str, Price)] = &[
    ("gpt-5", p(1_250_000, 10_000_000, 125_000, 1_250_000)),
    ("gpt-5-mini", p(250_000, 2_000_000, 25_000, 250_000)),
    ("gpt-5-nano", p(50_000, 400_000, 5_000, 50_000)),
    ("gpt-4.1", p(2_000_000, 8_000_000, 500_000, 2_000_000)),
    ("gpt-4.1-mini", p(400_000, 1_600_000, 100_000, 400_000)),
    ("gpt-4.1-nano", p(100_000, 400_000, 25_000, 100_000)),
    ("gpt-4o", p(2_500_000, 10_000_000, 1_250_000, 2_500_000)),
    ("gpt-4o-mini", p(150_000, 600_000, 75_000, 150_000)),
    ("o3", p(2_000_000, 8_000_000, 500_000, 2_000_000)),
    ("o4-mini", p(1_100_000, 4_400_000, 275_000, 1_100_000)),
    (
        "claude-opus-4",
        p(15_000_000, 75_000_000, 1_500_000, 18_750_000),
    ),
    (
        "claude-sonnet-4",
        p(3_000_000, 15_000_000, 300_000, 3_750_000),
    ),
    (
        "claude-3-7-sonnet",
        p(3_000_000, 15_000_000, 300_000, 3_750_000),
    ),
    (
        "claude-haiku-4-5",
        p(1_000_000, 5_000_000, 100_000, 1_250_000),
    ),
    ("claude-3-5-haiku", p(800_000, 4_000_000, 80_000, 1_000_000)),
    (
        "gemini-2.5-pro",
        p(1_250_000, 10_000_000, 310_000, 1_250_000),
    ),
    ("gemini-2.5-flash", p(300_000, 2_500_000, 75_000, 300_000)),
    ("gemini-2.0-flash", p(100_000, 400_000, 25_000, 100_000)),
    ("deepseek-chat", p(280_000, 420_000, 28_000, 280_000)),
    ("deepseek-reasoner", p(280_000, 420_000, 28_000, 280_000)),
    ("qwen-max", p(1_600_000, 6_400_000, 640_000, 1_600_000)),
    ("qwen-plus", p(400_000, 1_200_000, 160_000, 400_000)),
    ("qwen-turbo", p(50_000, 200_000, 20_000, 50_000)),
    (
        "qwen3-coder-plus",
        p(1_000_000, 5_000_000, 100_000, 1_000_000),
    ),
];

/// The built-in price of a model: exact name, else the longest listed prefix followed by
/// `-`, `.` or `@` (so `gpt-4o-mini-2024-07-18` is gpt-4o-mini, not gpt-4o).
pub fn built_in(model: &str) -> Option<Price> {
    let model = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    BUILT_IN
        .iter()
        .filter(|(name, _)| {
            model == *name
                || model
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(['-', '.', '@']))
        })
        .max_by_key(|(name, _)| name.len())
        .map(|(_, price)| *price)
}

impl Price {
    /// The exact cost in pico-USD (10⁻¹² USD).
    pub fn cost_picos(&self, u: &Usage) -> u128 {
        u128::from(u.input_tokens) * u128::from(self.input)
            + u128::from(u.output_tokens) * u128::from(self.output)
            + u128::from(u.cache_read_tokens) * u128::from(self.cache_read)
            + u128::from(u.cache_write_tokens) * u128::from(self.cache_write)
    }

    /// The cost in micro-USD, rounded half up.
    pub fn cost_micros(&self, u: &Usage) -> i64 {
        i64::try_from((self.cost_picos(u) + 500_000) / 1_000_000).unwrap_or(i64::MAX)
    }

    /// A rough cost of one typical request (1k in, 1k out), for ranking accounts.
    pub fn typical(&self) -> u64 {
        self.input + self.output
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_variants_match_their_family_not_a_shorter_one() {
        assert_eq!(built_in("gpt-4o-mini-2024-07-18"), built_in("gpt-4o-mini"));
        assert_ne!(built_in("gpt-4o-mini"), built_in("gpt-4o"));
        assert_eq!(
            built_in("claude-sonnet-4-5-20250929"),
            built_in("claude-sonnet-4")
        );
        assert_eq!(
            built_in("anthropic/claude-haiku-4-5"),
            built_in("claude-haiku-4-5")
        );
        assert_eq!(built_in("gpt-4"), None);
        assert_eq!(built_in("my-local-llama"), None);
    }

    #[test]
    fn costs_are_exact_and_rounded_once() {
        let price = built_in("claude-sonnet-4-5").unwrap();
        let u = Usage {
            input_tokens: 1_000,
            output_tokens: 500,
            cache_read_tokens: 10_000,
            cache_write_tokens: 2_000,
        };
        // 1000*3 + 500*15 + 10000*0.3 + 2000*3.75 = 3000 + 7500 + 3000 + 7500 micro-USD.
        assert_eq!(price.cost_micros(&u), 21_000);
        let tiny = Usage {
            input_tokens: 4,
            output_tokens: 4,
            ..Usage::default()
        };
        let mini = built_in("gpt-4o-mini").unwrap();
        // 4*0.15 + 4*0.6 = 3.0 micro-USD.
        assert_eq!(mini.cost_picos(&tiny), 3_000_000);
        assert_eq!(mini.cost_micros(&tiny), 3);
    }
}
