//! The chat proxy: member-key auth (`keys`), the routing catalog of upstream accounts
//! (`catalog`, `client`), the attempt loop (`engine`, `upstream`), stream relaying (`relay`),
//! usage records (`usage_guard`, `recorder`), and its pure core: wire-format translation between OpenAI Chat
//! Completions, Anthropic Messages and OpenAI Responses (`translate`), the SSE framing they
//! stream in (`sse`), the one read of each upstream stream event (`upstream_event`) and the
//! token usage read from each (`usage`).

pub mod attempt;
pub mod body;
pub mod budget;
pub mod catalog;
pub mod client;
pub mod engine;
pub mod error;
pub mod health;
pub mod keys;
pub mod limit_seed;
pub mod model_page;
mod outcome;
mod probe;
pub mod recorder;
pub mod relay;
pub mod response_pins;
mod route;
pub mod select;
pub mod sse;
pub mod translate;
pub mod upstream;
pub mod upstream_event;
pub mod usage;
pub mod usage_counts;
pub mod usage_guard;

pub use engine::{Gateway, ProxyBody, ProxyRequest, ProxyResponse};
pub use error::{Dialect, GatewayError};
pub use upstream::Endpoint;
