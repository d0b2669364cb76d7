//! Accounts and sessions: registration, login with throttling, signed session tokens that are
//! also recorded server-side (so logout and password changes revoke them for real), profile.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::db::users::{self, NewUser, SystemRole, UserRow};
use crate::db::{groups, now_ms, sessions};
use crate::error::ServiceError;
use crate::i18n::Locale;
use crate::model::{AuthView, GroupRole, MeView, MembershipView, UserView};
use crate::state::AppState;
use crate::validate;

/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The claims of a session token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// User id.
    sub: String,
    /// Session id (a row of `sessions`).
    sid: String,
    /// Issued at (s).
    iat: i64,
    /// Expires (s).
    exp: i64,
}

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The user, as stored.
    pub user: UserRow,
    /// The session the token belongs to.
    pub session_id: String,
}

impl Principal {
    /// True for a system administrator.
    pub fn is_system_admin(&self) -> bool {
        self.user.role == SystemRole::Admin.as_str()
    }
}

/// The user as the API shows them.
pub fn user_view(user: &UserRow) -> UserView {
    UserView {
        id: user.id,
        email: user.email.clone(),
        name: user.name.clone(),
        role: user.role.clone(),
        locale: user.locale.clone(),
        currency: crate::money::Currency::parse(&user.currency).unwrap_or_default(),
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(buf.as_mut_slice());
    hex::encode(buf)
}

fn secret(state: &AppState) -> Result<&[u8], ServiceError> {
    state
        .config()
        .jwt_secret
        .as_ref()
        .map(|s| s.expose().as_bytes())
        .ok_or_else(|| ServiceError::Internal("JWT secret not resolved".into()))
}

/// Opens a session for a user and returns its signed token.
pub async fn open_session(
    state: &AppState,
    user_id: i64,
    user_agent: Option<&str>,
) -> Result<String, ServiceError> {
    let now = now_ms();
    let ttl = i64::try_from(SESSION_TTL.as_millis()).unwrap_or(i64::MAX);
    let expires_at = now.saturating_add(ttl);
    let sid = random_hex(16);
    sessions::create(state.db(), &sid, user_id, now, expires_at, user_agent).await?;
    let claims = Claims {
        sub: user_id.to_string(),
        sid,
        iat: now / 1000,
        exp: expires_at / 1000,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret(state)?),
    )
    .map_err(|e| ServiceError::Internal(format!("signing a session token: {e}")))
}

/// Checks a session token: signature, expiry, the session row (not revoked) and the user.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal, ServiceError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret(state)?),
        &validation,
    )
    .map_err(|_| ServiceError::Unauthenticated)?;
    let user_id: i64 = data
        .claims
        .sub
        .parse()
        .map_err(|_| ServiceError::Unauthenticated)?;
    let session = sessions::find(state.db(), &data.claims.sid)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    if session.user_id != user_id || session.revoked_at.is_some() || session.expires_at <= now_ms()
    {
        return Err(ServiceError::Unauthenticated);
    }
    let user = users::find_by_id(state.db(), user_id)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    Ok(Principal {
        user,
        session_id: session.id,
    })
}

/// `POST /api/auth/register`.
pub async fn register(
    state: &AppState,
    email: &str,
    password: &str,
    name: &str,
    locale: Locale,
    user_agent: Option<&str>,
) -> Result<AuthView, ServiceError> {
    let email = validate::email(email).map_err(ServiceError::invalid("email"))?;
    validate::password(password).map_err(ServiceError::invalid("password"))?;
    let name = validate::display_name(name).map_err(ServiceError::invalid("name"))?;
    if !users::setup_completed(state.db()).await? {
        return Err(ServiceError::Forbidden(
            "this instance is not set up yet: its operator creates the first administrator first"
                .into(),
        ));
    }
    if users::find_by_email(state.db(), &email).await?.is_some() {
        return Err(ServiceError::Conflict(
            "an account with this email already exists; sign in instead".into(),
        ));
    }
    let password_hash = crate::auth::hash_password(password.to_owned()).await?;
    let new = NewUser {
        email: email.clone(),
        name,
        password_hash,
        role: SystemRole::User,
        locale: locale.code().to_owned(),
    };
    let id = match users::create_user(state.db(), &new).await {
        Ok(id) => id,
        Err(crate::db::DbError::Conflict(_)) => {
            return Err(ServiceError::Conflict(
                "an account with this email already exists; sign in instead".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let user = users::find_by_id(state.db(), id)
        .await?
        .ok_or(ServiceError::Internal("user vanished".into()))?;
    let token = open_session(state, id, user_agent).await?;
    Ok(AuthView {
        token,
        user: user_view(&user),
    })
}

/// A hash to verify against when the email is unknown, so both cases take the same time.
async fn dummy_hash() -> &'static str {
    static DUMMY: OnceCell<String> = OnceCell::const_new();
    DUMMY
        .get_or_init(|| async {
            crate::auth::hash_password("timing equaliser".to_owned())
                .await
                .unwrap_or_default()
        })
        .await
}

fn retry_after(wait: Duration) -> ServiceError {
    ServiceError::RateLimited {
        retry_after_secs: wait.as_secs().max(1),
    }
}

/// `POST /api/auth/login`. Unknown email and wrong password get the same answer and take the
/// same time; failures are throttled per account and per client address.
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    client: &str,
    user_agent: Option<&str>,
) -> Result<AuthView, ServiceError> {
    let email_key = format!("email:{}", email.trim().to_lowercase());
    let client_key = format!("ip:{client}");
    let limits = state.login_limits();
    if let Some(wait) = limits
        .account
        .blocked_for(&email_key)
        .or_else(|| limits.client.blocked_for(&client_key))
    {
        return Err(retry_after(wait));
    }
    let user = match validate::email(email) {
        Ok(email) => users::find_by_email(state.db(), &email).await?,
        Err(_) => None,
    };
    let stored = match &user {
        Some(u) => u.password_hash.clone(),
        None => dummy_hash().await.to_owned(),
    };
    let ok = crate::auth::verify_password(password.to_owned(), stored)
        .await
        .unwrap_or(false);
    match user {
        Some(user) if ok => {
            limits.account.clear(&email_key);
            let token = open_session(state, user.id, user_agent).await?;
            Ok(AuthView {
                token,
                user: user_view(&user),
            })
        }
        _ => {
            limits.account.record_failure(&email_key);
            limits.client.record_failure(&client_key);
            Err(ServiceError::InvalidCredentials)
        }
    }
}

/// `POST /api/auth/logout`: the token stops working at once.
pub async fn logout(state: &AppState, principal: &Principal) -> Result<(), ServiceError> {
    sessions::revoke(state.db(), &principal.session_id, now_ms()).await?;
    Ok(())
}

/// `GET /api/auth/me`.
pub async fn me(state: &AppState, principal: &Principal) -> Result<MeView, ServiceError> {
    let groups = groups::list_for_user(state.db(), principal.user.id)
        .await?
        .into_iter()
        .filter_map(|(g, role)| {
            GroupRole::parse(&role).map(|role| MembershipView {
                id: g.id,
                name: g.name,
                role,
            })
        })
        .collect();
    Ok(MeView {
        user: user_view(&principal.user),
        groups,
        display: crate::currency::display(state, &principal.user).await?,
    })
}

/// `PUT /api/auth/me`: name and language.
pub async fn update_profile(
    state: &AppState,
    principal: &Principal,
    name: Option<&str>,
    locale: Option<&str>,
) -> Result<UserView, ServiceError> {
    let name = match name {
        Some(n) => validate::display_name(n).map_err(ServiceError::invalid("name"))?,
        None => principal.user.name.clone(),
    };
    let locale = match locale {
        Some(l) => Locale::from_tag(l)
            .ok_or_else(|| {
                ServiceError::BadInput(format!("locale: {l:?} is not supported; use zh-CN or en"))
            })?
            .code()
            .to_owned(),
        None => principal.user.locale.clone(),
    };
    users::update_profile(state.db(), principal.user.id, &name, &locale).await?;
    let user = users::find_by_id(state.db(), principal.user.id)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    Ok(user_view(&user))
}

/// `POST /api/auth/password`: checks the current password, sets the new one, ends every
/// session of the user (other devices included) and opens a fresh one for this client.
pub async fn change_password(
    state: &AppState,
    principal: &Principal,
    current: &str,
    new: &str,
    user_agent: Option<&str>,
) -> Result<AuthView, ServiceError> {
    validate::password(new).map_err(ServiceError::invalid("new_password"))?;
    if !crate::auth::verify_password(current.to_owned(), principal.user.password_hash.clone())
        .await?
    {
        return Err(ServiceError::Invalid {
            field: "current_password",
            error: validate::FieldError::Mismatch,
        });
    }
    let hash = crate::auth::hash_password(new.to_owned()).await?;
    users::set_password(state.db(), principal.user.id, &hash, now_ms()).await?;
    let token = open_session(state, principal.user.id, user_agent).await?;
    let user = users::find_by_id(state.db(), principal.user.id)
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    Ok(AuthView {
        token,
        user: user_view(&user),
    })
}
