//! AiCarpool core: the types the browser and the server share, and behind the `ssr` feature
//! everything that only runs on the server (configuration, database store, auth, mail, state).
//!
//! The wasm bundle depends on this crate without `ssr`, so the modules above the `ssr` line
//! must stay free of tokio, sqlx, fred, lettre, argon2 and reqwest.

pub mod api;
pub mod i18n;
pub mod model;
pub mod money;
pub mod timefmt;
pub mod tz;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod accounts;
#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod cost_split;
#[cfg(feature = "ssr")]
pub mod counters;
#[cfg(feature = "ssr")]
pub mod currency;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod error;
#[cfg(feature = "ssr")]
pub mod gateway;
#[cfg(feature = "ssr")]
pub mod groups;
#[cfg(feature = "ssr")]
pub mod identity;
#[cfg(feature = "ssr")]
pub mod invites;
#[cfg(feature = "ssr")]
pub mod limit_alerts;
#[cfg(feature = "ssr")]
pub mod limits;
#[cfg(feature = "ssr")]
pub mod mail;
#[cfg(feature = "ssr")]
pub mod member_keys;
#[cfg(feature = "ssr")]
pub mod outbox;
#[cfg(feature = "ssr")]
pub mod pricing;
#[cfg(feature = "ssr")]
pub mod ratelimit;
#[cfg(feature = "ssr")]
pub mod redis;
#[cfg(feature = "ssr")]
pub mod routing;
#[cfg(feature = "ssr")]
pub mod secret;
#[cfg(feature = "ssr")]
pub mod setup;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod usage;
#[cfg(feature = "ssr")]
pub mod vault;
#[cfg(feature = "ssr")]
pub mod web;

/// The version of this build, shown on the status page and in `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
