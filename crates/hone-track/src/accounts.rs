//! The [`Accounts`] interface: who may use a `hone server` with authentication, and what each
//! of them may do — users (name, argon2id password hash, administrator flag), their API tokens
//! (only a SHA-256 of the secret is stored) and their permissions (read, edit or manage) on
//! experiments and registered models. Like [`Store`](crate::Store) it knows the data only,
//! never HTTP: the server decides what a request needs, this module says what a user has.
//!
//! Besides the trait, the functions that turn secrets into what is stored and back:
//! [`hash_password`] / [`verify_password`] (argon2id, PHC strings with a random salt) and
//! [`create_token`] / [`verify_token`] (random 256-bit secrets; a fast hash is right for them,
//! since nobody can guess 256 random bits, unlike a password).
//!
//! Rules every implementation keeps (the accounts suite checks them on both backends):
//! - deleting a user deletes their tokens and permissions in the same transaction;
//! - a permission is one row per (user, resource kind, resource): granting again replaces the
//!   level;
//! - tokens are never deleted, only revoked (so `token list` shows what existed), and a revoked
//!   or expired token never authenticates.

use std::fmt;

use rand::RngExt;
use sha2::{Digest, Sha256};

use crate::{Result, TrackError, now_ms};

/// Longest user name.
pub const MAX_USER_NAME: usize = 256;
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;
/// Longest password accepted (bytes): argon2 takes more, but nobody types more, and a bound
/// keeps a request from making the server hash megabytes.
pub const MAX_PASSWORD: usize = 1024;
/// What every token starts with, so that a leaked one is recognisable (secret scanners).
pub const TOKEN_PREFIX: &str = "hone_";

/// A user of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The name, as given to basic authentication.
    pub name: String,
    /// The argon2 password hash, as a PHC string (`$argon2id$v=19$m=...`).
    pub password_hash: String,
    /// Administrators have every permission on everything.
    pub admin: bool,
    /// When the user was created (ms since the epoch).
    pub created: i64,
}

/// An API token (what `MLFLOW_TRACKING_TOKEN` carries), without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// The token's id (public: it is printed by `token list` and used to revoke it).
    pub id: String,
    /// The user the token authenticates as.
    pub user: String,
    /// When it was created (ms since the epoch).
    pub created: i64,
    /// When it stops working (ms since the epoch), if ever.
    pub expires: Option<i64>,
    /// When it was revoked (ms since the epoch), if it was.
    pub revoked: Option<i64>,
}

impl ApiToken {
    /// Whether the token authenticates at `now` (ms): neither revoked nor expired.
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked.is_none() && self.expires.is_none_or(|e| now < e)
    }
}

/// The kind of resource a permission is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    /// An experiment (by id); its runs, their artifacts and its logged models inherit it.
    Experiment,
    /// A registered model (by name); its versions and aliases inherit it.
    RegisteredModel,
}

impl ResourceKind {
    /// The stored name (`experiment`, `registered_model`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Experiment => "experiment",
            Self::RegisteredModel => "registered_model",
        }
    }

    /// The kind of a stored name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "experiment" => Ok(Self::Experiment),
            "registered_model" => Ok(Self::RegisteredModel),
            _ => Err(TrackError::Invalid(format!(
                "unknown resource kind {:?} (experiment, registered_model)",
                crate::printable(s)
            ))),
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A permission level; each includes the ones before it (MLflow's `READ`, `EDIT`, `MANAGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Get, search, download.
    Read,
    /// Also write: log, update, upload, set tags, create versions.
    Edit,
    /// Also delete, and the changes that bear on permissions (renames, restores).
    Manage,
}

impl Level {
    /// MLflow's name (`READ`, `EDIT`, `MANAGE`), what is stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "READ",
            Self::Edit => "EDIT",
            Self::Manage => "MANAGE",
        }
    }

    /// A level from its name, in any case (`read`, `EDIT`...).
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_uppercase().as_str() {
            "READ" => Ok(Self::Read),
            "EDIT" => Ok(Self::Edit),
            "MANAGE" => Ok(Self::Manage),
            _ => Err(TrackError::Invalid(format!(
                "unknown permission level {:?} (read, edit, manage)",
                crate::printable(s)
            ))),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One explicit grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// Who.
    pub user: String,
    /// On what kind of resource.
    pub kind: ResourceKind,
    /// Which one: an experiment id or a registered model's name.
    pub resource: String,
    /// How much.
    pub level: Level,
}

/// Users, tokens and permissions. Both backends implement it with the same behaviour (one
/// shared test suite). Every method validates its input and changes nothing when it fails.
pub trait Accounts: Send + Sync {
    /// Creates a user with an already hashed password ([`hash_password`]);
    /// `AlreadyExists` when the name is taken.
    fn create_user(&self, name: &str, password_hash: &str, admin: bool) -> Result<User>;
    /// The user of that name, if any.
    fn get_user(&self, name: &str) -> Result<Option<User>>;
    /// Every user, by name.
    fn list_users(&self) -> Result<Vec<User>>;
    /// Deletes a user with their tokens and permissions; `NotFound` when there is none.
    fn delete_user(&self, name: &str) -> Result<()>;
    /// Replaces a user's password hash; `NotFound` when there is no such user.
    fn set_password_hash(&self, name: &str, password_hash: &str) -> Result<()>;
    /// Makes a user an administrator or not; `NotFound` when there is no such user.
    fn set_admin(&self, name: &str, admin: bool) -> Result<()>;
    /// Records a token of `user` whose secret hashes to `secret_sha256` (lower-case hex);
    /// `NotFound` when there is no such user.
    fn insert_token(
        &self,
        id: &str,
        user: &str,
        secret_sha256: &str,
        expires: Option<i64>,
    ) -> Result<ApiToken>;
    /// A token and the SHA-256 of its secret, if the id exists.
    fn get_token(&self, id: &str) -> Result<Option<(ApiToken, String)>>;
    /// Every token (of `user` only, when given), oldest first.
    fn list_tokens(&self, user: Option<&str>) -> Result<Vec<ApiToken>>;
    /// Revokes a token (revoking it again changes nothing); `NotFound` when there is none.
    fn revoke_token(&self, id: &str) -> Result<()>;
    /// Grants `level` on a resource to `user`, replacing any earlier grant on it;
    /// `NotFound` when there is no such user.
    fn set_permission(
        &self,
        user: &str,
        kind: ResourceKind,
        resource: &str,
        level: Level,
    ) -> Result<()>;
    /// Removes the grant; `NotFound` when there was none.
    fn delete_permission(&self, user: &str, kind: ResourceKind, resource: &str) -> Result<()>;
    /// The explicit grant of `user` on a resource, if any.
    fn get_permission(
        &self,
        user: &str,
        kind: ResourceKind,
        resource: &str,
    ) -> Result<Option<Level>>;
    /// Every grant (of `user` only, when given), by user, kind and resource.
    fn list_permissions(&self, user: Option<&str>) -> Result<Vec<Permission>>;
    /// Moves every grant on a resource to its new name (a registered model was renamed).
    fn rename_permissions(&self, kind: ResourceKind, old: &str, new: &str) -> Result<()>;
    /// Removes every grant on a resource (it was deleted for good, and a new one of the same
    /// name must not inherit them).
    fn delete_permissions_on(&self, kind: ResourceKind, resource: &str) -> Result<()>;
    /// The experiment a run belongs to, if the run exists (what a permission check on a run
    /// needs, without loading the run's data).
    fn experiment_of_run(&self, run_id: &str) -> Result<Option<String>>;
}

/// Checks a user name: 1 to [`MAX_USER_NAME`] characters among letters, digits and `_ . @ -`
/// (no `:`, which separates the name from the password in basic authentication, and nothing
/// a terminal or a log line would misread).
pub fn validate_user_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(TrackError::Invalid(format!(
            "invalid user name {:?}: {why}",
            crate::printable(name)
        )))
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.chars().count() > MAX_USER_NAME {
        return bad(&format!("longer than {MAX_USER_NAME} characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-'))
    {
        return bad("use letters, digits and _ . @ - only");
    }
    Ok(())
}

/// Checks a new password's length ([`MIN_PASSWORD`] characters to [`MAX_PASSWORD`] bytes).
pub fn validate_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(TrackError::Invalid(format!(
            "the password is shorter than {MIN_PASSWORD} characters"
        )));
    }
    if password.len() > MAX_PASSWORD {
        return Err(TrackError::Invalid(format!(
            "the password is longer than {MAX_PASSWORD} bytes"
        )));
    }
    Ok(())
}

/// Hashes a password with argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane, OWASP's
/// recommendation) and a random 128-bit salt from the operating system; returns the PHC
/// string that [`verify_password`] reads.
pub fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    validate_password(password)?;
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| TrackError::Invalid(format!("could not hash the password: {e}")))
}

/// Whether `password` matches a PHC hash made by [`hash_password`] (argon2's comparison is
/// constant-time). A malformed hash matches nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    if password.len() > MAX_PASSWORD {
        return false;
    }
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Constant-time equality of two byte strings (the time depends on the lengths only).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// Creates a token for `user`, valid for `expires_days` days when given (1 to 3650); returns
/// it and the whole token string `hone_<id>_<secret>` (shown once: only the secret's SHA-256
/// is stored).
pub fn create_token(
    store: &dyn Accounts,
    user: &str,
    expires_days: Option<u32>,
) -> Result<(ApiToken, String)> {
    let expires = match expires_days {
        None => None,
        Some(d @ 1..=3650) => Some(now_ms().saturating_add(i64::from(d) * 86_400_000)),
        Some(d) => {
            return Err(TrackError::Invalid(format!(
                "--expires-days must be between 1 and 3650, got {d}"
            )));
        }
    };
    // 64 bits of id (public), 256 bits of secret (from the thread RNG, a CSPRNG seeded by the
    // operating system).
    let id = random_hex(8);
    let secret = random_hex(32);
    let token = store.insert_token(&id, user, &sha256_hex(secret.as_bytes()), expires)?;
    Ok((token, format!("{TOKEN_PREFIX}{id}_{secret}")))
}

/// The user a presented token authenticates, if it is one of ours, live, and its secret
/// matches (compared in constant time); `None` otherwise.
pub fn verify_token(store: &dyn Accounts, presented: &str) -> Result<Option<User>> {
    let Some((id, secret)) = presented
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|rest| rest.split_once('_'))
    else {
        return Ok(None);
    };
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Some((token, stored)) = store.get_token(id)? else {
        return Ok(None);
    };
    let presented_hash = sha256_hex(secret.as_bytes());
    if !constant_time_eq(presented_hash.as_bytes(), stored.as_bytes()) || !token.is_live(now_ms()) {
        return Ok(None);
    }
    store.get_user(&token.user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_a_random_salt_and_verify() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "the salt is random");
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("correct horsE", &a));
        assert!(!verify_password("correct horse", "not a hash"));
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn names_levels_and_kinds_are_checked() {
        validate_user_name("alice.b-c_d@desk").unwrap();
        for bad in ["", "a:b", "a b", "é", &"x".repeat(257)] {
            assert!(validate_user_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Level::parse("edit").unwrap(), Level::Edit);
        assert!(Level::parse("owner").is_err());
        assert!(Level::Read < Level::Edit && Level::Edit < Level::Manage);
        assert_eq!(
            ResourceKind::parse("registered_model").unwrap(),
            ResourceKind::RegisteredModel
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"ab"));
    }
}
