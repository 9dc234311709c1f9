//! The `erp-server` command line: serve, and the administration commands.

use std::io::{BufRead, Write};

use clap::{Args, Parser, Subcommand};
use erp_auth::password::PasswordHasher;
use erp_core::{
    NewTenant, NewUser, Role, SessionStore, TenantId, TenantRepository, UserRepository,
    sql::{Database, DatabaseConfig, SqlSessionStore, SqlTenantRepository, SqlUserRepository},
};

use crate::config::ServerConfig;

mod external;
mod link;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The reference server of the ERP auth & legacy-data toolkit.
#[derive(Debug, Parser)]
#[command(name = "erp-server", version, about, long_about = None)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Password utilities.
    #[command(subcommand)]
    Password(PasswordCommand),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Revoke or purge sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// The legacy SQL Server database.
    #[command(subcommand)]
    Legacy(LegacyCommand),
    /// The external username/password auth API (EXTERNAL_AUTH_*).
    #[command(subcommand)]
    External(ExternalCommand),
    /// Probe GET /health of the server at ERP_BIND: exit 0 when healthy, 1 otherwise
    /// (the image's HEALTHCHECK and a Kubernetes exec probe).
    Healthcheck(HealthcheckArgs),
}

/// Options of `erp-server healthcheck`.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// Give up after this many seconds.
    #[arg(long, default_value_t = crate::healthcheck::DEFAULT_TIMEOUT.as_secs_f64())]
    pub timeout: f64,
}

impl HealthcheckArgs {
    /// The time limit; a nonsensical value (negative, NaN) falls back to the default.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::try_from_secs_f64(self.timeout)
            .unwrap_or(crate::healthcheck::DEFAULT_TIMEOUT)
    }
}

/// Where the password comes from: `--password-stdin` (recommended: not visible in the
/// process list) or `--password`.
#[derive(Debug, Args)]
pub struct PasswordInput {
    /// Read the password from the first line of standard input.
    #[arg(long, conflicts_with = "password")]
    pub password_stdin: bool,
    /// The password (visible to other users of this machine: prefer --password-stdin).
    #[arg(long)]
    pub password: Option<String>,
}

impl PasswordInput {
    fn read(&self) -> Result<String, BoxError> {
        if self.password_stdin {
            return read_password_stdin();
        }
        self.password
            .clone()
            .ok_or_else(|| "give --password-stdin (or --password)".into())
    }
}

/// The first line of standard input, without its line ending; empty is an error.
fn read_password_stdin() -> Result<String, BoxError> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']).to_owned();
    if pw.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok(pw)
}

/// `user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create {
        /// Login name.
        username: String,
        /// Tenant slug.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Display name.
        #[arg(long)]
        display_name: Option<String>,
        /// E-mail.
        #[arg(long)]
        email: Option<String>,
        /// Role (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        #[command(flatten)]
        password: PasswordInput,
    },
    /// Replace a user's password (stored as Argon2id).
    SetPassword {
        /// Login name.
        username: String,
        /// Tenant slug.
        #[arg(long, default_value = "default")]
        tenant: String,
        #[command(flatten)]
        password: PasswordInput,
    },
    /// Replace a user's roles.
    SetRoles {
        /// Login name.
        username: String,
        /// Tenant slug.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Role (repeatable; none clears the roles).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Link an existing user to an external auth API identity (its `userInfo.id`): the
    /// next external login with that id signs in as this user.
    LinkExternal {
        /// Login name of the existing user.
        username: String,
        /// The external API's `userInfo.id`.
        #[arg(long)]
        external_id: String,
        /// Tenant slug.
        #[arg(long, default_value = "default")]
        tenant: String,
    },
}

/// `external ...`.
#[derive(Debug, Subcommand)]
pub enum ExternalCommand {
    /// Sign in once against the external auth API with the password read from the first
    /// line of standard input; print the contract fields it answered (tokens masked) and
    /// the local user it maps to, or the exact failure (exit 1). Stores nothing and needs
    /// no database.
    Probe {
        /// The username to sign in with.
        #[arg(long)]
        username: String,
    },
}

/// `password ...`.
#[derive(Debug, Subcommand)]
pub enum PasswordCommand {
    /// Print the Argon2id hash of a password.
    Hash {
        #[command(flatten)]
        password: PasswordInput,
    },
}

/// `tenant ...`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Short unique handle (a-z 0-9 -).
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Entra ID directory id whose tokens belong to this tenant.
        #[arg(long)]
        azure_tenant_id: Option<String>,
        /// Also prepare a dedicated database for the tenant (created schema-wise by
        /// migrating it); a PostgreSQL or SQLite URL.
        #[arg(long)]
        database_url: Option<String>,
    },
}

/// `sessions ...`.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Revoke every session of a user or of a whole tenant.
    Revoke {
        /// Tenant slug.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Only this user's sessions (by username); without it, the whole tenant.
        #[arg(long)]
        user: Option<String>,
        /// Required to revoke a whole tenant.
        #[arg(long)]
        all_users: bool,
    },
    /// Delete expired sessions.
    Purge,
}

/// `legacy ...`.
#[derive(Debug, Subcommand)]
pub enum LegacyCommand {
    /// Check the legacy database against the mapping.
    CheckSchema,
    /// Copy the legacy data into the ERP database.
    Sync {
        /// Show a progress bar per table on stderr (against the legacy table's row
        /// count on a first load; rows so far on later runs).
        #[arg(long)]
        watch: bool,
    },
}

/// One progress line, redrawn in place: `legacy_clients [#####-----]  50 %  500/1000 rows`.
fn progress_line(p: &erp_legacy::sync::Progress) -> String {
    const WIDTH: u64 = 30;
    match p.total {
        Some(total) if total > 0 => {
            let done = p.rows.min(total);
            let filled = (done * WIDTH / total) as usize;
            format!(
                "{} [{}{}] {:>3} %  {done}/{total} rows",
                p.table,
                "#".repeat(filled),
                "-".repeat(WIDTH as usize - filled),
                done * 100 / total
            )
        }
        _ => format!("{} {} rows in {} batches", p.table, p.rows, p.batches),
    }
}

fn out(line: impl std::fmt::Display) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

async fn tenant_id(db: &Database, slug: &str) -> Result<TenantId, BoxError> {
    SqlTenantRepository::new(db.clone())
        .by_slug(slug)
        .await?
        .map(|t| t.id)
        .ok_or_else(|| {
            format!("no tenant {slug:?} (create it with `erp-server tenant create`)").into()
        })
}

/// The tenant named by `slug` and its user `username`, or a message naming what is missing.
async fn find_user(
    db: &Database,
    slug: &str,
    username: &str,
) -> Result<(TenantId, erp_core::User), BoxError> {
    let tenant = tenant_id(db, slug).await?;
    let user = SqlUserRepository::new(db.clone())
        .by_username(tenant, username)
        .await?
        .ok_or_else(|| format!("no user {username:?}"))?;
    Ok((tenant, user))
}

fn roles(names: &[String]) -> Result<Vec<Role>, BoxError> {
    names
        .iter()
        .map(|r| {
            r.parse::<Role>()
                .map_err(|e| format!("role {r:?}: {e}").into())
        })
        .collect()
}

async fn hash(password: String) -> Result<String, BoxError> {
    Ok(tokio::task::spawn_blocking(move || PasswordHasher::new().hash(&password)).await??)
}

/// Runs an administration command (everything but `serve`).
pub async fn run(command: Command, config: ServerConfig) -> Result<(), BoxError> {
    match command {
        Command::Serve => unreachable!("serve is handled by main"),
        Command::Healthcheck(_) => unreachable!("healthcheck is handled by main"),
        Command::Migrate => {
            let db = crate::assemble::database::connect(&config).await?;
            let crate::assemble::database::Migrated { erp, legacy_sync } =
                crate::assemble::database::migrate(&db).await?;
            out(format!(
                "migrated {}: applied {:?} (already applied {:?}); legacy sync tables: applied {:?}",
                erp.backend, erp.applied, erp.already_applied, legacy_sync.applied
            ));
        }
        Command::Password(PasswordCommand::Hash { password }) => out(hash(password.read()?).await?),
        // Before any database work: the probe must work with the database down.
        Command::External(ExternalCommand::Probe { username }) => {
            external::probe(&config, &username, &read_password_stdin()?).await?;
        }
        Command::User(cmd) => {
            let db = crate::assemble::database::open(&config).await?;
            let users = SqlUserRepository::new(db.clone());
            match cmd {
                UserCommand::Create {
                    username,
                    tenant,
                    display_name,
                    email,
                    roles: names,
                    password,
                } => {
                    let tenant = tenant_id(&db, &tenant).await?;
                    let mut new = NewUser::new(&username)
                        .with_roles(roles(&names)?)
                        .with_password_hash(hash(password.read()?).await?);
                    if let Some(n) = display_name {
                        new = new.with_display_name(n);
                    }
                    if let Some(e) = email {
                        new = new.with_email(e);
                    }
                    let user = users.create(tenant, new).await?;
                    out(format!("created user {} ({})", user.username, user.id));
                }
                UserCommand::SetPassword {
                    username,
                    tenant,
                    password,
                } => {
                    let (tenant, user) = find_user(&db, &tenant, &username).await?;
                    users
                        .set_password_hash(tenant, user.id, &hash(password.read()?).await?)
                        .await?;
                    out(format!("password of {} replaced", user.username));
                }
                UserCommand::SetRoles {
                    username,
                    tenant,
                    roles: names,
                } => {
                    let (tenant, user) = find_user(&db, &tenant, &username).await?;
                    users.set_roles(tenant, user.id, &roles(&names)?).await?;
                    out(format!("roles of {}: {}", user.username, names.join(", ")));
                }
                UserCommand::LinkExternal {
                    username,
                    external_id,
                    tenant,
                } => {
                    let (tenant, user) = find_user(&db, &tenant, &username).await?;
                    out(link::link_external(&users, tenant, &user, &external_id).await?);
                }
            }
        }
        Command::Tenant(TenantCommand::Create {
            slug,
            name,
            azure_tenant_id,
            database_url,
        }) => {
            let db = crate::assemble::database::open(&config).await?;
            let mut new = NewTenant::new(slug, name);
            if let Some(tid) = azure_tenant_id {
                new = new.with_azure_tenant_id(tid);
            }
            let tenant = SqlTenantRepository::new(db).create(new).await?;
            out(format!("created tenant {} ({})", tenant.slug, tenant.id));
            if let Some(url) = database_url {
                let dedicated =
                    Database::connect(DatabaseConfig::from_env_value("--database-url", &url)?)
                        .await?;
                let report = dedicated.migrate().await?;
                out(format!(
                    "dedicated database migrated: applied {:?}",
                    report.applied
                ));
            }
        }
        Command::Sessions(SessionsCommand::Revoke {
            tenant,
            user,
            all_users,
        }) => {
            let db = crate::assemble::database::open(&config).await?;
            let tenant = tenant_id(&db, &tenant).await?;
            let store = SqlSessionStore::new(db.clone());
            let now = chrono::Utc::now();
            let (n, event) = match user {
                Some(username) => {
                    let user = SqlUserRepository::new(db)
                        .by_username(tenant, &username)
                        .await?
                        .ok_or_else(|| format!("no user {username:?}"))?;
                    (
                        store.revoke_user(tenant, user.id, now).await?,
                        erp_core::RevocationEvent::User(tenant, user.id),
                    )
                }
                None if all_users => (
                    store.revoke_tenant(tenant, now).await?,
                    erp_core::RevocationEvent::Tenant(tenant),
                ),
                None => {
                    return Err(
                        "give --user USERNAME, or --all-users to lock the whole tenant out".into(),
                    );
                }
            };
            out(format!("revoked {n} sessions"));
            // NOTIFY went out with the revoking transaction; the Redis bus needs a publish
            // of its own, done here and now since this process is about to exit.
            if config.revocation_feed.redis()
                && let Some(redis) = crate::assemble::rate_limits::redis(&config)?
            {
                erp_auth::redis::publish_now(&redis, &event).await.map_err(|e| {
                    format!(
                        "{e}: the sessions are revoked in the database, but instances following \
                         only the Redis bus honour it after their cache TTL; run the command again"
                    )
                })?;
            }
        }
        Command::Sessions(SessionsCommand::Purge) => {
            let db = crate::assemble::database::open(&config).await?;
            let n = SqlSessionStore::new(db)
                .purge_expired(chrono::Utc::now())
                .await?;
            out(format!("purged {n} expired sessions"));
        }
        Command::Legacy(cmd) => {
            // Only the legacy source: neither the auth stack nor a background check.
            let legacy = crate::legacy_db::LegacySource::open(&config)
                .await?
                .ok_or("the legacy database is not available (set MSSQL_SERVER and the other MSSQL_* variables)")?;
            legacy.check().await?;
            match cmd {
                LegacyCommand::CheckSchema => out(format!(
                    "the {} legacy database matches the mapping",
                    legacy.backend()
                )),
                LegacyCommand::Sync { watch } => {
                    let target = crate::assemble::database::open(&config).await?;
                    let report = if watch {
                        let report = legacy
                            .sync_watching(target, |p| {
                                let mut err = std::io::stderr().lock();
                                let _ = write!(err, "\r{}\x1b[K", progress_line(&p));
                                if p.total.is_some_and(|t| p.rows >= t) {
                                    let _ = writeln!(err);
                                }
                                let _ = err.flush();
                            })
                            .await;
                        let _ = writeln!(std::io::stderr());
                        report?
                    } else {
                        legacy.sync(target).await?
                    };
                    for t in &report.tables {
                        out(format!(
                            "{}: {} rows in {} batches, {} gone from the legacy database",
                            t.table, t.rows, t.batches, t.deleted
                        ));
                    }
                    out(format!(
                        "{} rows in {} ms",
                        report.rows(),
                        report.duration.as_millis()
                    ));
                }
            }
        }
    }
    Ok(())
}
