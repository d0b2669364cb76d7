//! Ready-to-paste client set-ups for a new member key: curl, the OpenAI and Anthropic Python
//! SDKs, Claude Code and Codex CLI, each with the real key and this instance's URL. The
//! gateway serves `/v1/...` on the same origin as the pages.

/// A client a snippet sets up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// curl against Chat Completions.
    Curl,
    /// The OpenAI Python SDK (`base_url` ends in `/v1`).
    OpenAiPython,
    /// The Anthropic Python SDK (`base_url` is the origin).
    AnthropicPython,
    /// Claude Code, through `ANTHROPIC_BASE_URL`.
    ClaudeCode,
    /// Codex CLI, through a model provider in `~/.codex/config.toml` (Responses API).
    Codex,
}

impl Client {
    /// Every client, in the order the page shows them.
    pub const ALL: [Client; 5] = [
        Client::Curl,
        Client::OpenAiPython,
        Client::AnthropicPython,
        Client::ClaudeCode,
        Client::Codex,
    ];

    /// A stable name for ids and tests.
    pub fn slug(self) -> &'static str {
        match self {
            Client::Curl => "curl",
            Client::OpenAiPython => "openai-python",
            Client::AnthropicPython => "anthropic-python",
            Client::ClaudeCode => "claude-code",
            Client::Codex => "codex",
        }
    }

    /// The product's name (the same in every language).
    pub fn title(self) -> &'static str {
        match self {
            Client::Curl => "curl",
            Client::OpenAiPython => "OpenAI Python",
            Client::AnthropicPython => "Anthropic Python",
            Client::ClaudeCode => "Claude Code",
            Client::Codex => "Codex CLI",
        }
    }
}

/// The model for OpenAI-style examples: the first allowed, or a common default.
pub fn chat_model(models: &[String]) -> String {
    models
        .first()
        .cloned()
        .unwrap_or_else(|| "gpt-4o-mini".to_owned())
}

/// The model for Anthropic-style examples: the first Claude model allowed, else the first
/// allowed, else a common default.
pub fn claude_model(models: &[String]) -> String {
    models
        .iter()
        .find(|m| m.contains("claude"))
        .or_else(|| models.first())
        .cloned()
        .unwrap_or_else(|| "claude-sonnet-4-5".to_owned())
}

/// The snippet for `client`, with `key` and the instance at `app_url` (no trailing slash).
pub fn snippet(client: Client, app_url: &str, key: &str, models: &[String]) -> String {
    let chat = chat_model(models);
    let claude = claude_model(models);
    match client {
        Client::Curl => format!(
            r#"curl {app_url}/v1/chat/completions \
  -H "Authorization: Bearer {key}" \
  -H "Content-Type: application/json" \
  -d '{{"model": "{chat}", "messages": [{{"role": "user", "content": "Hello!"}}]}}'"#
        ),
        Client::OpenAiPython => format!(
            r#"from openai import OpenAI

client = OpenAI(base_url="{app_url}/v1", api_key="{key}")
reply = client.chat.completions.create(
    model="{chat}",
    messages=[{{"role": "user", "content": "Hello!"}}],
)
print(reply.choices[0].message.content)"#
        ),
        Client::AnthropicPython => format!(
            r#"import anthropic

client = anthropic.Anthropic(base_url="{app_url}", api_key="{key}")
message = client.messages.create(
    model="{claude}",
    max_tokens=1024,
    messages=[{{"role": "user", "content": "Hello!"}}],
)
print(message.content[0].text)"#
        ),
        Client::ClaudeCode => format!(
            "export ANTHROPIC_BASE_URL={app_url}\nexport ANTHROPIC_AUTH_TOKEN={key}\nclaude"
        ),
        Client::Codex => format!(
            r#"# ~/.codex/config.toml
model = "{chat}"
model_provider = "aicarpool"

[model_providers.aicarpool]
name = "AiCarpool"
base_url = "{app_url}/v1"
wire_api = "responses"
env_key = "AICARPOOL_API_KEY"

# then, in your shell:
export AICARPOOL_API_KEY={key}"#
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://carpool.example";
    const KEY: &str = "acp_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";

    #[test]
    fn every_snippet_carries_the_key_and_the_instance() {
        for client in Client::ALL {
            let text = snippet(client, URL, KEY, &[]);
            assert!(text.contains(KEY), "{client:?}: {text}");
            assert!(text.contains(URL), "{client:?}: {text}");
        }
    }

    #[test]
    fn each_client_gets_the_base_url_it_expects() {
        let models = vec!["deepseek-chat".to_owned(), "claude-opus-4".to_owned()];
        let curl = snippet(Client::Curl, URL, KEY, &models);
        assert!(curl.contains("https://carpool.example/v1/chat/completions"));
        assert!(curl.contains(r#""model": "deepseek-chat""#));
        let openai = snippet(Client::OpenAiPython, URL, KEY, &models);
        assert!(openai.contains(r#"base_url="https://carpool.example/v1""#));
        let anthropic = snippet(Client::AnthropicPython, URL, KEY, &models);
        assert!(anthropic.contains(r#"base_url="https://carpool.example","#));
        assert!(anthropic.contains(r#"model="claude-opus-4""#));
        let claude = snippet(Client::ClaudeCode, URL, KEY, &models);
        assert!(claude.contains("export ANTHROPIC_BASE_URL=https://carpool.example\n"));
        assert!(claude.contains(&format!("export ANTHROPIC_AUTH_TOKEN={KEY}")));
        let codex = snippet(Client::Codex, URL, KEY, &models);
        for line in [
            "[model_providers.aicarpool]",
            r#"base_url = "https://carpool.example/v1""#,
            r#"wire_api = "responses""#,
            r#"env_key = "AICARPOOL_API_KEY""#,
            r#"model_provider = "aicarpool""#,
        ] {
            assert!(codex.contains(line), "{line}: {codex}");
        }
    }

    #[test]
    fn examples_fall_back_to_common_models() {
        assert_eq!(chat_model(&[]), "gpt-4o-mini");
        assert_eq!(claude_model(&["gpt-4o".to_owned()]), "gpt-4o");
        assert_eq!(claude_model(&[]), "claude-sonnet-4-5");
    }
}
