//! The pages, one module each (the group page in three).

pub mod auth;
pub mod group;
pub mod group_invites;
pub mod group_members;
pub mod groups;
pub mod home;
pub mod invite;
pub mod not_found;
pub mod profile;
pub mod status;
