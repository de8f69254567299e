//! [`Accounts`] for [`SqlStore`]: users, API tokens and permissions on the schema's version 8
//! tables (`hone_users`, `hone_api_tokens`, `hone_permissions`; prefixed because a shared
//! PostgreSQL database often has a `users` table of its own).

use super::SqlStore;
use crate::accounts::{
    Accounts, ApiToken, Level, Permission, ResourceKind, User, validate_user_name,
};
use crate::db::{Conn, Db, Row, Value, int, opt_int, text};
use crate::{Result, TrackError, now_ms};

const USER_COLUMNS: &str = "name, password_hash, admin, created";
const TOKEN_COLUMNS: &str = "id, user_name, created, expires, revoked";

fn user_of(row: &Row) -> User {
    User {
        name: text(row, 0),
        password_hash: text(row, 1),
        admin: int(row, 2) != 0,
        created: int(row, 3),
    }
}

fn token_of(row: &Row) -> ApiToken {
    ApiToken {
        id: text(row, 0),
        user: text(row, 1),
        created: int(row, 2),
        expires: opt_int(row, 3),
        revoked: opt_int(row, 4),
    }
}

fn no_user(name: &str) -> TrackError {
    TrackError::NotFound(format!("user {name}"))
}

/// Refuses an empty hash or one that is not a PHC string (what a caller that forgot to hash
/// would pass).
fn check_hash(hash: &str) -> Result<()> {
    if !hash.starts_with('$') || hash.len() > 512 {
        return Err(TrackError::Invalid(
            "the password hash is not a PHC string".into(),
        ));
    }
    Ok(())
}

fn check_resource(kind: ResourceKind, resource: &str) -> Result<()> {
    let ok = match kind {
        ResourceKind::Experiment => {
            !resource.is_empty() && resource.bytes().all(|b| b.is_ascii_digit())
        }
        ResourceKind::RegisteredModel => crate::registry::validate_model_name(resource).is_ok(),
    };
    if !ok {
        return Err(TrackError::Invalid(format!(
            "invalid {kind} {:?}",
            crate::printable(resource)
        )));
    }
    Ok(())
}

/// The stored form of a resource id: experiment ids as the store reads them (`01` and `+1`
/// are experiment `1`, as `experiment_id` parsing takes them), so that no spelling of an id
/// escapes its grant; model names as given.
fn key(kind: ResourceKind, resource: &str) -> String {
    match kind {
        ResourceKind::Experiment => resource
            .parse::<i64>()
            .map_or_else(|_| resource.to_string(), |n| n.to_string()),
        ResourceKind::RegisteredModel => resource.to_string(),
    }
}

impl<D: Db> SqlStore<D> {
    fn require_user(c: &mut dyn Conn, name: &str) -> Result<()> {
        if c.query("SELECT 1 FROM hone_users WHERE name = ?1", &[name.into()])?
            .is_empty()
        {
            return Err(no_user(name));
        }
        Ok(())
    }
}

impl<D: Db> Accounts for SqlStore<D> {
    fn create_user(&self, name: &str, password_hash: &str, admin: bool) -> Result<User> {
        validate_user_name(name)?;
        check_hash(password_hash)?;
        let now = now_ms();
        self.write(|c| {
            if !c
                .query("SELECT 1 FROM hone_users WHERE name = ?1", &[name.into()])?
                .is_empty()
            {
                return Err(TrackError::AlreadyExists(format!("user {name}")));
            }
            c.execute(
                "INSERT INTO hone_users (name, password_hash, admin, created) \
                 VALUES (?1, ?2, ?3, ?4)",
                &[
                    name.into(),
                    password_hash.into(),
                    Value::Int(i64::from(admin)),
                    Value::Int(now),
                ],
            )?;
            Ok(())
        })?;
        Ok(User {
            name: name.to_string(),
            password_hash: password_hash.to_string(),
            admin,
            created: now,
        })
    }

    fn get_user(&self, name: &str) -> Result<Option<User>> {
        self.read(|c| {
            Ok(c.query(
                &format!("SELECT {USER_COLUMNS} FROM hone_users WHERE name = ?1"),
                &[name.into()],
            )?
            .first()
            .map(user_of))
        })
    }

    fn list_users(&self) -> Result<Vec<User>> {
        self.read(|c| {
            Ok(c.query(
                &format!("SELECT {USER_COLUMNS} FROM hone_users ORDER BY name"),
                &[],
            )?
            .iter()
            .map(user_of)
            .collect())
        })
    }

    fn delete_user(&self, name: &str) -> Result<()> {
        self.write(|c| {
            // Explicit deletes rather than relying on ON DELETE CASCADE alone: the rule must
            // hold whatever a database's foreign-key setting.
            c.execute(
                "DELETE FROM hone_permissions WHERE user_name = ?1",
                &[name.into()],
            )?;
            c.execute(
                "DELETE FROM hone_api_tokens WHERE user_name = ?1",
                &[name.into()],
            )?;
            if c.execute("DELETE FROM hone_users WHERE name = ?1", &[name.into()])? == 0 {
                return Err(no_user(name));
            }
            Ok(())
        })
    }

    fn set_password_hash(&self, name: &str, password_hash: &str) -> Result<()> {
        check_hash(password_hash)?;
        self.write(|c| {
            if c.execute(
                "UPDATE hone_users SET password_hash = ?1 WHERE name = ?2",
                &[password_hash.into(), name.into()],
            )? == 0
            {
                return Err(no_user(name));
            }
            Ok(())
        })
    }

    fn set_admin(&self, name: &str, admin: bool) -> Result<()> {
        self.write(|c| {
            if c.execute(
                "UPDATE hone_users SET admin = ?1 WHERE name = ?2",
                &[Value::Int(i64::from(admin)), name.into()],
            )? == 0
            {
                return Err(no_user(name));
            }
            Ok(())
        })
    }

    fn insert_token(
        &self,
        id: &str,
        user: &str,
        secret_sha256: &str,
        expires: Option<i64>,
    ) -> Result<ApiToken> {
        if id.is_empty() || secret_sha256.len() != 64 {
            return Err(TrackError::Invalid(
                "a token needs an id and the hex SHA-256 of its secret".into(),
            ));
        }
        let now = now_ms();
        self.write(|c| {
            Self::require_user(c, user)?;
            c.execute(
                "INSERT INTO hone_api_tokens (id, user_name, secret_sha256, created, expires) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                &[
                    id.into(),
                    user.into(),
                    secret_sha256.into(),
                    Value::Int(now),
                    expires.into(),
                ],
            )?;
            Ok(())
        })?;
        Ok(ApiToken {
            id: id.to_string(),
            user: user.to_string(),
            created: now,
            expires,
            revoked: None,
        })
    }

    fn get_token(&self, id: &str) -> Result<Option<(ApiToken, String)>> {
        self.read(|c| {
            Ok(c.query(
                &format!(
                    "SELECT {TOKEN_COLUMNS}, secret_sha256 FROM hone_api_tokens WHERE id = ?1"
                ),
                &[id.into()],
            )?
            .first()
            .map(|r| (token_of(r), text(r, 5))))
        })
    }

    fn list_tokens(&self, user: Option<&str>) -> Result<Vec<ApiToken>> {
        self.read(|c| {
            let rows = match user {
                Some(u) => c.query(
                    &format!(
                        "SELECT {TOKEN_COLUMNS} FROM hone_api_tokens WHERE user_name = ?1 \
                         ORDER BY created, id"
                    ),
                    &[u.into()],
                )?,
                None => c.query(
                    &format!("SELECT {TOKEN_COLUMNS} FROM hone_api_tokens ORDER BY created, id"),
                    &[],
                )?,
            };
            Ok(rows.iter().map(token_of).collect())
        })
    }

    fn revoke_token(&self, id: &str) -> Result<()> {
        let now = now_ms();
        self.write(|c| {
            if c.query("SELECT 1 FROM hone_api_tokens WHERE id = ?1", &[id.into()])?
                .is_empty()
            {
                return Err(TrackError::NotFound(format!("token {id}")));
            }
            c.execute(
                "UPDATE hone_api_tokens SET revoked = ?1 WHERE id = ?2 AND revoked IS NULL",
                &[Value::Int(now), id.into()],
            )?;
            Ok(())
        })
    }

    fn set_permission(
        &self,
        user: &str,
        kind: ResourceKind,
        resource: &str,
        level: Level,
    ) -> Result<()> {
        check_resource(kind, resource)?;
        let resource = key(kind, resource);
        let resource = resource.as_str();
        self.write(|c| {
            Self::require_user(c, user)?;
            c.execute(
                "INSERT INTO hone_permissions (user_name, resource_kind, resource, level) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_name, resource_kind, resource) \
                 DO UPDATE SET level = excluded.level",
                &[
                    user.into(),
                    kind.as_str().into(),
                    resource.into(),
                    level.as_str().into(),
                ],
            )?;
            Ok(())
        })
    }

    fn delete_permission(&self, user: &str, kind: ResourceKind, resource: &str) -> Result<()> {
        let resource = key(kind, resource);
        let resource = resource.as_str();
        self.write(|c| {
            if c.execute(
                "DELETE FROM hone_permissions WHERE user_name = ?1 AND resource_kind = ?2 \
                 AND resource = ?3",
                &[user.into(), kind.as_str().into(), resource.into()],
            )? == 0
            {
                return Err(TrackError::NotFound(format!(
                    "a permission of user {user} on {kind} {resource}"
                )));
            }
            Ok(())
        })
    }

    fn get_permission(
        &self,
        user: &str,
        kind: ResourceKind,
        resource: &str,
    ) -> Result<Option<Level>> {
        let resource = key(kind, resource);
        let resource = resource.as_str();
        self.read(|c| {
            c.query(
                "SELECT level FROM hone_permissions WHERE user_name = ?1 AND resource_kind = ?2 \
                 AND resource = ?3",
                &[user.into(), kind.as_str().into(), resource.into()],
            )?
            .first()
            .map(|r| Level::parse(&text(r, 0)))
            .transpose()
        })
    }

    fn list_permissions(&self, user: Option<&str>) -> Result<Vec<Permission>> {
        self.read(|c| {
            let columns = "user_name, resource_kind, resource, level";
            let rows = match user {
                Some(u) => c.query(
                    &format!(
                        "SELECT {columns} FROM hone_permissions WHERE user_name = ?1 \
                         ORDER BY user_name, resource_kind, resource"
                    ),
                    &[u.into()],
                )?,
                None => c.query(
                    &format!(
                        "SELECT {columns} FROM hone_permissions \
                         ORDER BY user_name, resource_kind, resource"
                    ),
                    &[],
                )?,
            };
            rows.iter()
                .map(|r| {
                    Ok(Permission {
                        user: text(r, 0),
                        kind: ResourceKind::parse(&text(r, 1))?,
                        resource: text(r, 2),
                        level: Level::parse(&text(r, 3))?,
                    })
                })
                .collect()
        })
    }

    fn rename_permissions(&self, kind: ResourceKind, old: &str, new: &str) -> Result<()> {
        check_resource(kind, new)?;
        let (old, new) = (key(kind, old), key(kind, new));
        let (old, new) = (old.as_str(), new.as_str());
        self.write(|c| {
            // Grants already on the new name (left from a resource deleted under it) give way.
            c.execute(
                "DELETE FROM hone_permissions WHERE resource_kind = ?1 AND resource = ?2",
                &[kind.as_str().into(), new.into()],
            )?;
            c.execute(
                "UPDATE hone_permissions SET resource = ?1 WHERE resource_kind = ?2 \
                 AND resource = ?3",
                &[new.into(), kind.as_str().into(), old.into()],
            )?;
            Ok(())
        })
    }

    fn delete_permissions_on(&self, kind: ResourceKind, resource: &str) -> Result<()> {
        let resource = key(kind, resource);
        let resource = resource.as_str();
        self.write(|c| {
            c.execute(
                "DELETE FROM hone_permissions WHERE resource_kind = ?1 AND resource = ?2",
                &[kind.as_str().into(), resource.into()],
            )?;
            Ok(())
        })
    }

    fn experiment_of_run(&self, run_id: &str) -> Result<Option<String>> {
        self.read(|c| {
            Ok(c.query(
                "SELECT experiment_id FROM runs WHERE run_id = ?1",
                &[run_id.into()],
            )?
            .first()
            .map(|r| text(r, 0)))
        })
    }
}
