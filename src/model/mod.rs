//! Wire types of identity, groups and invitations, shared by the JSON API, the server functions
//! and the browser.

use serde::{Deserialize, Serialize};

mod budget;
mod gateway;
mod usage;
pub use budget::*;
pub use gateway::*;
pub use usage::*;

/// A user's role inside one carpool group. Ordered: `Member < Admin < Owner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupRole {
    /// Uses the group's accounts with their own keys.
    Member,
    /// Manages members, invitations and accounts.
    Admin,
    /// Everything an admin can, plus deleting the group, promoting owners, transferring.
    Owner,
}

impl GroupRole {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// Reads a stored or submitted value.
    pub fn parse(value: &str) -> Option<GroupRole> {
        match value {
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }
}

/// A user as others see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// System role: `admin` or `user`.
    pub role: String,
    /// Preferred language tag.
    pub locale: String,
    /// Currency amounts are shown in (in the browser; the API and exports stay in USD).
    #[serde(default)]
    pub currency: crate::money::Currency,
}

/// One of the caller's groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipView {
    /// Group id.
    pub id: i64,
    /// Group name.
    pub name: String,
    /// The caller's role there.
    pub role: GroupRole,
}

/// `GET /api/auth/me`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeView {
    /// The user.
    pub user: UserView,
    /// Their groups and roles.
    pub groups: Vec<MembershipView>,
    /// How amounts are shown to them: their currency and the instance's rate.
    #[serde(default)]
    pub display: MoneyDisplay,
}

/// A session token and its user, after register or login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthView {
    /// Bearer token (also set as the HttpOnly session cookie).
    pub token: String,
    /// The user.
    pub user: UserView,
}

/// A group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// The caller's role (`None` for a system admin who is not a member).
    pub role: Option<GroupRole>,
    /// Number of members.
    pub member_count: i64,
    /// Creation time (ms).
    pub created_at: i64,
}

/// A member of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    /// User id.
    pub user_id: i64,
    /// Email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role in the group.
    pub role: GroupRole,
    /// When they joined (ms).
    pub joined_at: i64,
}

/// Delivery state of an invitation mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum DeliveryView {
    /// Waiting for its first or next attempt.
    Pending {
        /// Attempts so far.
        attempts: i64,
        /// Last failure, if any.
        last_error: Option<String>,
        /// Next attempt (ms).
        next_attempt_at: i64,
    },
    /// Handed to the SMTP server (or written to the outbox log).
    Sent {
        /// When (ms).
        sent_at: i64,
    },
}

/// An email invitation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    /// Id.
    pub id: i64,
    /// Invited address.
    pub email: String,
    /// Role on acceptance.
    pub role: GroupRole,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub state: String,
    /// Who invited.
    pub invited_by: String,
    /// Creation time (ms).
    pub created_at: i64,
    /// Expiry (ms).
    pub expires_at: i64,
    /// Mail delivery.
    pub delivery: Option<DeliveryView>,
    /// The accept link; only in the answer that created (or renewed) the invitation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_url: Option<String>,
}

/// A multi-use invite link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteLinkView {
    /// Id.
    pub id: i64,
    /// Role on joining.
    pub role: GroupRole,
    /// Maximum uses (`None`: unlimited).
    pub max_uses: Option<i64>,
    /// Uses so far.
    pub uses: i64,
    /// Expiry (ms), if any.
    pub expires_at: Option<i64>,
    /// `active`, `revoked`, `expired` or `exhausted`.
    pub state: String,
    /// Creation time (ms).
    pub created_at: i64,
    /// The link; only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What anyone holding an invitation token may see about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitePreview {
    /// `email` or `link`.
    pub kind: String,
    /// Group name.
    pub group_name: String,
    /// Inviter's display name.
    pub inviter_name: String,
    /// Role on acceptance.
    pub role: GroupRole,
    /// `pending` / `active`, `accepted`, `revoked`, `expired` or `exhausted`.
    pub state: String,
    /// For an email invitation, the address it is for (only that account can accept).
    pub email: Option<String>,
    /// Expiry (ms), if any.
    pub expires_at: Option<i64>,
}
