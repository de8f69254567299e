//! `hone users`: the users, API tokens and permissions of `hone server --auth` (a thin layer
//! over [`hone_track::accounts`]). Passwords are read from the terminal without echo, or from
//! the first line of standard input with `--password-stdin`; never from a flag, which would
//! leave them in the shell history and the process list.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use clap::{Args, Subcommand, ValueEnum};
use hone_track::OpenMode;
use hone_track::accounts::{self, Level, ResourceKind};
use serde_json::json;

use crate::CliError;
use crate::render::ms_to_utc;
use crate::tracking::{StoreArgs, track_err};

/// `hone users ...`
#[derive(Args, Debug)]
pub struct UsersArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    cmd: UsersCmd,
}

/// A permission level as the flag takes it.
#[derive(ValueEnum, Clone, Copy, Debug)]
enum LevelArg {
    /// Get, search, download.
    Read,
    /// Also log, update, upload, tag, create model versions.
    Edit,
    /// Also delete and rename.
    Manage,
}

impl From<LevelArg> for Level {
    fn from(l: LevelArg) -> Self {
        match l {
            LevelArg::Read => Level::Read,
            LevelArg::Edit => Level::Edit,
            LevelArg::Manage => Level::Manage,
        }
    }
}

/// The resource of a grant: one of `--experiment ID` or `--model NAME`.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
struct ResourceArg {
    /// An experiment, by id (its runs, artifacts and logged models inherit the grant).
    #[arg(long, value_name = "ID")]
    experiment: Option<String>,
    /// A registered model, by name (its versions and aliases inherit the grant).
    #[arg(long, value_name = "NAME")]
    model: Option<String>,
}

#[derive(Subcommand, Debug)]
enum UsersCmd {
    /// Create a user (the password is prompted for, or read from stdin).
    Add {
        /// The user name (letters, digits and _ . @ -).
        name: String,
        /// Make the user an administrator (every permission on everything).
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Delete a user, with their tokens and permissions.
    Delete {
        /// The user name.
        name: String,
    },
    /// Make a user an administrator (or, with --off, no longer one).
    Admin {
        /// The user name.
        name: String,
        /// Remove the administrator flag instead.
        #[arg(long)]
        off: bool,
    },
    /// Change a user's password.
    Passwd {
        /// The user name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// API tokens (what MLFLOW_TRACKING_TOKEN carries).
    Token {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
    /// Grant a user read, edit or manage on an experiment or a registered model.
    Grant {
        /// The user name.
        name: String,
        #[command(flatten)]
        resource: ResourceArg,
        /// The level (each includes the ones before it).
        #[arg(long, value_enum)]
        level: LevelArg,
    },
    /// Remove a user's grant on an experiment or a registered model.
    Revoke {
        /// The user name.
        name: String,
        #[command(flatten)]
        resource: ResourceArg,
    },
    /// List grants (of one user, when named).
    Grants {
        /// The user name.
        name: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCmd {
    /// Create a token for a user and print it (once: only its hash is stored).
    Create {
        /// The user the token authenticates as.
        name: String,
        /// Days until it expires (1 to 3650) [default: never].
        #[arg(long, value_name = "N")]
        expires_days: Option<u32>,
    },
    /// List tokens (ids, users, dates; never the secrets).
    List {
        /// Only this user's tokens.
        #[arg(long)]
        user: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id.
    Revoke {
        /// The token's id (from `token list`).
        id: String,
    },
}

/// Reads a new password: from stdin's first line, or prompted twice on the terminal without
/// echo.
fn read_password(from_stdin: bool, name: &str) -> Result<String, CliError> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::runtime(format!("reading the password from stdin: {e}")))?;
        let password = line.trim_end_matches(['\n', '\r']).to_string();
        if password.is_empty() {
            return Err(CliError::usage(
                "--password-stdin: standard input held no password",
            ));
        }
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(
            "no terminal to prompt for the password: pass --password-stdin and pipe it in",
        ));
    }
    let first = prompt_hidden(&format!("Password for {name}: "))?;
    let second = prompt_hidden("Repeat it: ")?;
    if first != second {
        return Err(CliError::usage("the two passwords differ; nothing changed"));
    }
    Ok(first)
}

/// Prompts on stderr and reads one line from the terminal with echo off (restored after).
fn prompt_hidden(prompt: &str) -> Result<String, CliError> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data, filled by tcgetattr before it is read.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is stdin, a terminal (checked by the caller); the pointer is to a local.
    let have_tty = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
    if have_tty {
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: as above, with a copy of the saved settings.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if have_tty {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    }
    eprintln!();
    read.map_err(|e| CliError::runtime(format!("reading the password: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// The kind and id of `--experiment` / `--model`, checked to exist in the store.
fn resource_of(
    store: &dyn hone_track::Backend,
    r: &ResourceArg,
    must_exist: bool,
) -> Result<(ResourceKind, String), CliError> {
    match (&r.experiment, &r.model) {
        (Some(id), None) => {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CliError::usage(format!(
                    "--experiment takes an experiment id (an integer), got {:?}",
                    hone_track::printable(id)
                )));
            }
            if must_exist {
                store.get_experiment(id).map_err(|_| {
                    CliError::usage(format!("--experiment {id}: no such experiment"))
                })?;
            }
            Ok((ResourceKind::Experiment, id.clone()))
        }
        (None, Some(name)) => {
            if must_exist {
                store.get_registered_model(name).map_err(|_| {
                    CliError::usage(format!(
                        "--model {}: no such registered model",
                        hone_track::printable(name)
                    ))
                })?;
            }
            Ok((ResourceKind::RegisteredModel, name.clone()))
        }
        _ => Err(CliError::usage(
            "give one of --experiment ID or --model NAME",
        )),
    }
}

fn require_user(store: &dyn hone_track::Backend, name: &str) -> Result<(), CliError> {
    match store.get_user(name).map_err(track_err)? {
        Some(_) => Ok(()),
        None => Err(CliError::usage(format!(
            "no user named {:?} (see `hone users list`)",
            hone_track::printable(name)
        ))),
    }
}

/// Refuses to leave the store without an administrator (`hone server --auth` would not
/// start, and nobody could manage the others through it).
fn keep_an_admin(store: &dyn hone_track::Backend, name: &str) -> Result<(), CliError> {
    let users = store.list_users().map_err(track_err)?;
    let is_admin = users.iter().any(|u| u.name == name && u.admin);
    if is_admin && users.iter().filter(|u| u.admin).count() == 1 {
        return Err(CliError::usage(format!(
            "{name} is the last administrator: make another one first (`hone users admin NAME`)"
        )));
    }
    Ok(())
}

fn expiry(ms: Option<i64>) -> String {
    ms.map_or_else(|| "never".into(), ms_to_utc)
}

/// Runs a `hone users` command.
pub fn users(args: UsersArgs) -> Result<(), CliError> {
    let mode = match &args.cmd {
        UsersCmd::Add { .. } => OpenMode::Create,
        _ => OpenMode::MustExist,
    };
    let (store, _) = args.store.open(mode)?;
    let store = store.as_ref();
    match args.cmd {
        UsersCmd::Add {
            name,
            admin,
            password_stdin,
        } => {
            accounts::validate_user_name(&name).map_err(track_err)?;
            if store.get_user(&name).map_err(track_err)?.is_some() {
                return Err(CliError::usage(format!(
                    "user {name:?} already exists (change the password with `hone users passwd`)"
                )));
            }
            let password = read_password(password_stdin, &name)?;
            let hash = accounts::hash_password(&password).map_err(track_err)?;
            store
                .create_user(&name, &hash, admin)
                .map_err(|e| match e {
                    hone_track::TrackError::AlreadyExists(_) => {
                        CliError::usage(format!("user {name:?} already exists"))
                    }
                    e => track_err(e),
                })?;
            println!(
                "created {}user {name}",
                if admin { "administrator " } else { "" }
            );
        }
        UsersCmd::List { json } => {
            let users = store.list_users().map_err(track_err)?;
            if json {
                let v: Vec<_> = users
                    .iter()
                    .map(|u| json!({"name": u.name, "admin": u.admin, "created": u.created}))
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else if users.is_empty() {
                println!("no users (create one with `hone users add NAME --admin`)");
            } else {
                println!("{:<32} {:<6} CREATED", "NAME", "ADMIN");
                for u in users {
                    println!(
                        "{:<32} {:<6} {}",
                        u.name,
                        if u.admin { "yes" } else { "no" },
                        ms_to_utc(u.created)
                    );
                }
            }
        }
        UsersCmd::Delete { name } => {
            require_user(store, &name)?;
            keep_an_admin(store, &name)?;
            store.delete_user(&name).map_err(track_err)?;
            println!("deleted user {name} with their tokens and permissions");
        }
        UsersCmd::Admin { name, off } => {
            require_user(store, &name)?;
            if off {
                keep_an_admin(store, &name)?;
            }
            store.set_admin(&name, !off).map_err(track_err)?;
            println!(
                "{name} is {} an administrator",
                if off { "no longer" } else { "now" }
            );
        }
        UsersCmd::Passwd {
            name,
            password_stdin,
        } => {
            require_user(store, &name)?;
            let password = read_password(password_stdin, &name)?;
            let hash = accounts::hash_password(&password).map_err(track_err)?;
            store.set_password_hash(&name, &hash).map_err(track_err)?;
            println!("changed the password of {name}");
        }
        UsersCmd::Token { cmd } => match cmd {
            TokenCmd::Create { name, expires_days } => {
                require_user(store, &name)?;
                let (token, secret) =
                    accounts::create_token(store, &name, expires_days).map_err(|e| match e {
                        hone_track::TrackError::Invalid(m) => CliError::usage(m),
                        e => track_err(e),
                    })?;
                eprintln!(
                    "token {} for {name} (expires: {}); it is shown once, keep it now:",
                    token.id,
                    expiry(token.expires)
                );
                println!("{secret}");
            }
            TokenCmd::List { user, json } => {
                if let Some(u) = &user {
                    require_user(store, u)?;
                }
                let tokens = store.list_tokens(user.as_deref()).map_err(track_err)?;
                let now = hone_track::now_ms();
                if json {
                    let v: Vec<_> = tokens
                        .iter()
                        .map(|t| {
                            json!({"id": t.id, "user": t.user, "created": t.created,
                                   "expires": t.expires, "revoked": t.revoked,
                                   "live": t.is_live(now)})
                        })
                        .collect();
                    println!("{}", serde_json::Value::Array(v));
                } else if tokens.is_empty() {
                    println!("no tokens");
                } else {
                    println!(
                        "{:<16}  {:<24} {:<24} {:<24} STATE",
                        "ID", "USER", "CREATED", "EXPIRES"
                    );
                    for t in tokens {
                        let state = match (t.revoked, t.is_live(now)) {
                            (Some(_), _) => "revoked",
                            (None, false) => "expired",
                            (None, true) => "live",
                        };
                        println!(
                            "{:<16}  {:<24} {:<24} {:<24} {state}",
                            t.id,
                            t.user,
                            ms_to_utc(t.created),
                            expiry(t.expires)
                        );
                    }
                }
            }
            TokenCmd::Revoke { id } => {
                store.revoke_token(&id).map_err(|e| match e {
                    hone_track::TrackError::NotFound(_) => CliError::usage(format!(
                        "no token with id {:?} (see `hone users token list`)",
                        hone_track::printable(&id)
                    )),
                    e => track_err(e),
                })?;
                println!("revoked token {id}");
            }
        },
        UsersCmd::Grant {
            name,
            resource,
            level,
        } => {
            require_user(store, &name)?;
            let (kind, id) = resource_of(store, &resource, true)?;
            let level = Level::from(level);
            store
                .set_permission(&name, kind, &id, level)
                .map_err(track_err)?;
            println!("granted {level} on {kind} {id} to {name}");
        }
        UsersCmd::Revoke { name, resource } => {
            require_user(store, &name)?;
            // A grant on a resource deleted since can still be revoked.
            let (kind, id) = resource_of(store, &resource, false)?;
            store
                .delete_permission(&name, kind, &id)
                .map_err(|e| match e {
                    hone_track::TrackError::NotFound(_) => CliError::usage(format!(
                        "{name} has no grant on {kind} {}",
                        hone_track::printable(&id)
                    )),
                    e => track_err(e),
                })?;
            println!("revoked the grant of {name} on {kind} {id}");
        }
        UsersCmd::Grants { name, json } => {
            if let Some(n) = &name {
                require_user(store, n)?;
            }
            let grants = store.list_permissions(name.as_deref()).map_err(track_err)?;
            if json {
                let v: Vec<_> = grants
                    .iter()
                    .map(|p| {
                        json!({"user": p.user, "kind": p.kind.as_str(),
                               "resource": p.resource, "level": p.level.as_str()})
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else if grants.is_empty() {
                println!("no grants");
            } else {
                println!("{:<24} {:<16} {:<32} LEVEL", "USER", "KIND", "RESOURCE");
                for p in grants {
                    println!(
                        "{:<24} {:<16} {:<32} {}",
                        p.user,
                        p.kind.as_str(),
                        hone_track::printable(&p.resource),
                        p.level
                    );
                }
            }
        }
    }
    Ok(())
}
