//! The [`Accounts`] behaviour (users, tokens, permissions of `hone server`), one test per
//! behaviour, each run against both backends: SQLite (a temp file) and PostgreSQL (a fresh
//! database in a throwaway cluster shared by this test binary).

use hone_track::TrackError;
use hone_track::accounts::{
    self, Level, ResourceKind, create_token, hash_password, verify_password, verify_token,
};

mod common;

use common::Target;
use hone_test_support::on_both_backends;

on_both_backends!(
    users_are_created_listed_updated_and_deleted,
    tokens_authenticate_until_revoked_or_expired,
    permissions_are_granted_replaced_renamed_and_removed,
    deleting_a_user_removes_their_tokens_and_grants,
    a_run_names_its_experiment,
);

fn a_run_names_its_experiment(t: &Target) {
    let s = t.store();
    let exp = s.create_experiment("e", &[]).unwrap();
    let run = s
        .create_run(hone_track::store::NewRun {
            experiment_id: exp.clone(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(s.experiment_of_run(&run.run_id).unwrap(), Some(exp));
    assert_eq!(s.experiment_of_run("no-such-run").unwrap(), None);
}

/// A hash made once (argon2 is slow by design; the store only keeps the string).
fn some_hash() -> String {
    hash_password("a long enough password").unwrap()
}

fn users_are_created_listed_updated_and_deleted(t: &Target) {
    let s = t.store();
    let hash = some_hash();
    let alice = s.create_user("alice", &hash, true).unwrap();
    assert!(alice.admin);
    s.create_user("bob", &hash, false).unwrap();
    let e = s.create_user("alice", &hash, false).unwrap_err();
    assert!(matches!(e, TrackError::AlreadyExists(_)), "{e}");
    // Bad names and unhashed passwords are refused and create nothing.
    assert!(matches!(
        s.create_user("a:b", &hash, false).unwrap_err(),
        TrackError::Invalid(_)
    ));
    assert!(matches!(
        s.create_user("carol", "plain text", false).unwrap_err(),
        TrackError::Invalid(_)
    ));
    let names: Vec<_> = s
        .list_users()
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    // A second connection sees the same users (the server and `hone users` are two processes).
    let other = t.open();
    assert_eq!(other.get_user("bob").unwrap().unwrap().password_hash, hash);

    let new_hash = hash_password("another password").unwrap();
    s.set_password_hash("bob", &new_hash).unwrap();
    let bob = s.get_user("bob").unwrap().unwrap();
    assert!(verify_password("another password", &bob.password_hash));
    assert!(!verify_password(
        "a long enough password",
        &bob.password_hash
    ));
    s.set_admin("bob", true).unwrap();
    assert!(s.get_user("bob").unwrap().unwrap().admin);
    assert!(matches!(
        s.set_password_hash("nobody", &new_hash).unwrap_err(),
        TrackError::NotFound(_)
    ));

    s.delete_user("bob").unwrap();
    assert!(s.get_user("bob").unwrap().is_none());
    assert!(matches!(
        s.delete_user("bob").unwrap_err(),
        TrackError::NotFound(_)
    ));
}

fn tokens_authenticate_until_revoked_or_expired(t: &Target) {
    let s = t.store();
    s.create_user("alice", &some_hash(), false).unwrap();
    let (token, secret) = create_token(s, "alice", None).unwrap();
    assert!(secret.starts_with(accounts::TOKEN_PREFIX));
    assert!(
        !secret.contains(&token.user),
        "the token string names no user"
    );
    assert_eq!(verify_token(s, &secret).unwrap().unwrap().name, "alice");
    // Only the SHA-256 of the secret is stored.
    let (_, stored) = s.get_token(&token.id).unwrap().unwrap();
    assert!(!secret.contains(&stored));
    assert_eq!(stored.len(), 64);

    // A wrong secret with the right id, a mangled token and an unknown id: no one.
    let mut wrong = secret.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    assert!(verify_token(s, &wrong).unwrap().is_none());
    assert!(verify_token(s, "hone_nothing").unwrap().is_none());
    assert!(
        verify_token(s, "hone_0123456789abcdef_00")
            .unwrap()
            .is_none()
    );

    // Revoked: refused, still listed (with when).
    s.revoke_token(&token.id).unwrap();
    assert!(verify_token(s, &secret).unwrap().is_none());
    s.revoke_token(&token.id).unwrap();
    let listed = s.list_tokens(Some("alice")).unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked.is_some());
    assert!(matches!(
        s.revoke_token("ffffffffffffffff").unwrap_err(),
        TrackError::NotFound(_)
    ));

    // Expired: refused. (An expiry in the past, written through the trait.)
    let past = hone_track::now_ms() - 1;
    let hash = accounts::sha256_hex(b"secret");
    let old = s
        .insert_token("00000000000000aa", "alice", &hash, Some(past))
        .unwrap();
    assert!(!old.is_live(hone_track::now_ms()));
    assert!(
        verify_token(s, "hone_00000000000000aa_secret")
            .unwrap()
            .is_none()
    );
    // The same, unexpired, does authenticate: the expiry is what refused it.
    s.insert_token("00000000000000bb", "alice", &hash, Some(past + 3_600_000))
        .unwrap();
    assert!(
        verify_token(s, "hone_00000000000000bb_secret")
            .unwrap()
            .is_some()
    );
    // Expiry bounds; tokens of unknown users.
    assert!(create_token(s, "alice", Some(0)).is_err());
    assert!(matches!(
        create_token(s, "nobody", Some(30)).unwrap_err(),
        TrackError::NotFound(_)
    ));
    let (with_expiry, _) = create_token(s, "alice", Some(30)).unwrap();
    assert!(with_expiry.expires.unwrap() > hone_track::now_ms() + 29 * 86_400_000);
    assert_eq!(s.list_tokens(None).unwrap().len(), 4);
}

fn permissions_are_granted_replaced_renamed_and_removed(t: &Target) {
    let s = t.store();
    let hash = some_hash();
    s.create_user("alice", &hash, false).unwrap();
    s.create_user("bob", &hash, false).unwrap();
    let exp = ResourceKind::Experiment;
    let model = ResourceKind::RegisteredModel;
    s.set_permission("alice", exp, "1", Level::Read).unwrap();
    s.set_permission("alice", exp, "1", Level::Manage).unwrap();
    s.set_permission("alice", model, "churn", Level::Edit)
        .unwrap();
    s.set_permission("bob", model, "churn", Level::Read)
        .unwrap();
    assert_eq!(
        s.get_permission("alice", exp, "1").unwrap(),
        Some(Level::Manage)
    );
    assert_eq!(s.get_permission("alice", exp, "2").unwrap(), None);
    // Other spellings of experiment 1 (the store reads `01` and `+1` as 1) are experiment 1.
    for spelling in ["01", "+1"] {
        assert_eq!(
            s.get_permission("alice", exp, spelling).unwrap(),
            Some(Level::Manage),
            "{spelling}"
        );
    }
    // The kind is part of the key: experiment "churn" is not model "churn".
    assert_eq!(s.get_permission("bob", exp, "churn").unwrap(), None);
    assert_eq!(s.list_permissions(Some("alice")).unwrap().len(), 2);
    assert_eq!(s.list_permissions(None).unwrap().len(), 3);

    // Refused: unknown user, bad experiment id, bad model name.
    assert!(matches!(
        s.set_permission("nobody", exp, "1", Level::Read)
            .unwrap_err(),
        TrackError::NotFound(_)
    ));
    assert!(matches!(
        s.set_permission("alice", exp, "x1", Level::Read)
            .unwrap_err(),
        TrackError::Invalid(_)
    ));
    assert!(matches!(
        s.set_permission("alice", model, "a/b", Level::Read)
            .unwrap_err(),
        TrackError::Invalid(_)
    ));

    // A rename moves the grants; a delete of the resource removes them.
    s.rename_permissions(model, "churn", "churn-v2").unwrap();
    assert_eq!(s.get_permission("alice", model, "churn").unwrap(), None);
    assert_eq!(
        s.get_permission("bob", model, "churn-v2").unwrap(),
        Some(Level::Read)
    );
    s.delete_permissions_on(model, "churn-v2").unwrap();
    assert_eq!(s.list_permissions(None).unwrap().len(), 1);

    s.delete_permission("alice", exp, "1").unwrap();
    assert!(matches!(
        s.delete_permission("alice", exp, "1").unwrap_err(),
        TrackError::NotFound(_)
    ));
    assert!(s.list_permissions(None).unwrap().is_empty());
}

fn deleting_a_user_removes_their_tokens_and_grants(t: &Target) {
    let s = t.store();
    let hash = some_hash();
    s.create_user("alice", &hash, false).unwrap();
    s.create_user("bob", &hash, false).unwrap();
    let (_, secret) = create_token(s, "alice", None).unwrap();
    create_token(s, "bob", None).unwrap();
    s.set_permission("alice", ResourceKind::Experiment, "1", Level::Edit)
        .unwrap();
    s.set_permission("bob", ResourceKind::Experiment, "1", Level::Read)
        .unwrap();
    s.delete_user("alice").unwrap();
    assert!(verify_token(s, &secret).unwrap().is_none());
    assert_eq!(s.list_tokens(None).unwrap().len(), 1);
    let left = s.list_permissions(None).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].user, "bob");
    // A new user of the same name starts with nothing.
    s.create_user("alice", &hash, false).unwrap();
    assert!(s.list_permissions(Some("alice")).unwrap().is_empty());
    assert!(s.list_tokens(Some("alice")).unwrap().is_empty());
}
