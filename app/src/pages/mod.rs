//! The pages, one module each (the group page in six, the accounts page in three, the usage
//! page in two).

pub mod account_form;
pub mod account_health;
pub mod accounts;
pub mod auth;
pub mod cost_split;
pub mod group;
pub mod group_accounts;
pub mod group_invites;
pub mod group_keys;
pub mod group_limits;
pub mod group_members;
pub mod group_routing;
pub mod groups;
pub mod home;
pub mod invite;
pub mod key_snippets;
pub mod my_budget;
pub mod not_found;
pub mod prices;
pub mod profile;
pub mod status;
pub mod usage;
pub mod usage_tables;
