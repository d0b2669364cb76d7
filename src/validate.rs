//! Input rules shared by the browser (validation as you type) and the server (the authority).

use serde::{Deserialize, Serialize};

/// Shortest password accepted.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Longest password accepted; argon2 would take any length, but a cap keeps hashing bounded.
pub const PASSWORD_MAX_CHARS: usize = 256;
/// Longest display name.
pub const NAME_MAX_CHARS: usize = 64;
/// Longest email address (RFC 5321 path limit).
pub const EMAIL_MAX_CHARS: usize = 254;

/// What is wrong with one field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum FieldError {
    /// The field is empty.
    #[error("is required")]
    Required,
    /// Not an email address.
    #[error("is not an email address")]
    EmailInvalid,
    /// Too short.
    #[error("must be at least {min} characters")]
    TooShort {
        /// The minimum length in characters.
        min: usize,
    },
    /// Too long.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The maximum length in characters.
        max: usize,
    },
    /// Contains control characters.
    #[error("contains control characters")]
    ControlChars,
    /// The two passwords differ.
    #[error("does not match the password")]
    Mismatch,
    /// Any other rule, explained.
    #[error("{0}")]
    Rule(String),
}

/// Checks an email address and returns it normalised (trimmed, lower-cased) for storage, so
/// that `Ada@Example.com` and `ada@example.com` are one account.
pub fn email(input: &str) -> Result<String, FieldError> {
    let email = input.trim().to_lowercase();
    if email.is_empty() {
        return Err(FieldError::Required);
    }
    if email.chars().count() > EMAIL_MAX_CHARS {
        return Err(FieldError::TooLong {
            max: EMAIL_MAX_CHARS,
        });
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(FieldError::EmailInvalid);
    };
    let domain_ok = !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '<' && c != '>' && c != ',');
    if domain_ok && local_ok {
        Ok(email)
    } else {
        Err(FieldError::EmailInvalid)
    }
}

/// Checks a password's length. Passwords are never trimmed: spaces are part of them.
pub fn password(input: &str) -> Result<(), FieldError> {
    let chars = input.chars().count();
    if chars == 0 {
        Err(FieldError::Required)
    } else if chars < PASSWORD_MIN_CHARS {
        Err(FieldError::TooShort {
            min: PASSWORD_MIN_CHARS,
        })
    } else if chars > PASSWORD_MAX_CHARS {
        Err(FieldError::TooLong {
            max: PASSWORD_MAX_CHARS,
        })
    } else {
        Ok(())
    }
}

/// Checks that the confirmation repeats the password.
pub fn password_confirm(password: &str, confirm: &str) -> Result<(), FieldError> {
    if confirm.is_empty() {
        Err(FieldError::Required)
    } else if password != confirm {
        Err(FieldError::Mismatch)
    } else {
        Ok(())
    }
}

/// Checks a display name and returns it trimmed.
pub fn display_name(input: &str) -> Result<String, FieldError> {
    let name = input.trim();
    if name.is_empty() {
        Err(FieldError::Required)
    } else if name.chars().count() > NAME_MAX_CHARS {
        Err(FieldError::TooLong {
            max: NAME_MAX_CHARS,
        })
    } else if name.chars().any(char::is_control) {
        Err(FieldError::ControlChars)
    } else {
        Ok(name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(email("  Ada@Example.COM "), Ok("ada@example.com".into()));
        assert_eq!(email("管理员@例子.中国"), Ok("管理员@例子.中国".into()));
        assert_eq!(email(""), Err(FieldError::Required));
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "a b@example.com",
            "ada@ex..com",
            "a@.com",
            "<a>@x.io",
        ] {
            assert_eq!(email(bad), Err(FieldError::EmailInvalid), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(
            email(&long),
            Err(FieldError::TooLong {
                max: EMAIL_MAX_CHARS
            })
        );
    }

    #[test]
    fn password_counts_characters_not_bytes() {
        assert_eq!(password("密码密码密码密码"), Ok(()));
        assert_eq!(password("密码密码"), Err(FieldError::TooShort { min: 8 }));
        assert_eq!(password(""), Err(FieldError::Required));
        assert_eq!(
            password(&"x".repeat(257)),
            Err(FieldError::TooLong { max: 256 })
        );
        assert_eq!(password("  spaces  "), Ok(()));
    }

    #[test]
    fn confirmation_must_match() {
        assert_eq!(password_confirm("abcdefgh", "abcdefgh"), Ok(()));
        assert_eq!(
            password_confirm("abcdefgh", "abcdefgH"),
            Err(FieldError::Mismatch)
        );
        assert_eq!(password_confirm("abcdefgh", ""), Err(FieldError::Required));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(display_name("  Ada Lovelace "), Ok("Ada Lovelace".into()));
        assert_eq!(display_name("   "), Err(FieldError::Required));
        assert_eq!(display_name("a\u{7}b"), Err(FieldError::ControlChars));
        assert_eq!(
            display_name(&"名".repeat(65)),
            Err(FieldError::TooLong { max: 64 })
        );
    }
}
