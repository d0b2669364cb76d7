//! The pages, one module each (the group page in four, the accounts page in two).

pub mod account_form;
pub mod accounts;
pub mod auth;
pub mod group;
pub mod group_accounts;
pub mod group_invites;
pub mod group_keys;
pub mod group_members;
pub mod groups;
pub mod home;
pub mod invite;
pub mod key_snippets;
pub mod not_found;
pub mod profile;
pub mod status;
