//! [`MssqlConfig`]: where the legacy server is and how the pool treats it.

use std::{fmt, time::Duration};

use erp_core::{Error, Result};

use super::ado::{mask_connection_string, parse_pairs, redact};

/// Environment variable: host name or address of the server (`tcp:` prefix allowed).
pub const ENV_SERVER: &str = "MSSQL_SERVER";
/// Environment variable: TCP port (default 1433).
pub const ENV_PORT: &str = "MSSQL_PORT";
/// Environment variable: database to open after login.
pub const ENV_DATABASE: &str = "MSSQL_DATABASE";
/// Environment variable: SQL Server login.
pub const ENV_USER: &str = "MSSQL_USER";
/// Environment variable: password of the login.
pub const ENV_PASSWORD: &str = "MSSQL_PASSWORD";
/// Environment variable: `true` to accept any server certificate (default `false`).
pub const ENV_TRUST_CERT: &str = "MSSQL_TRUST_CERT";

/// Port SQL Server listens on unless told otherwise.
const DEFAULT_PORT: u16 = 1433;
/// Sent as the application name, so DBAs can tell our sessions apart in
/// `sys.dm_exec_sessions`. A connection string's own `Application Name` wins.
const APPLICATION_NAME: &str = "erp-toolkit";

/// Where the tiberius configuration comes from. Kept instead of a built
/// `tiberius::Config` because some overrides cannot be undone on a built one
/// (`trust_cert()` cannot be switched off, and panics next to a pinned CA).
#[derive(Clone)]
enum Source {
    /// An ADO.NET connection string, verbatim (it holds the password: never printed).
    Ado(String),
    /// Separate settings, as read from the `MSSQL_*` variables.
    Parts {
        host: String,
        port: u16,
        database: String,
        user: String,
        password: String,
        trust_cert: bool,
    },
}

/// Settings of a Microsoft SQL Server pool, built from an ADO.NET connection string or
/// from separate settings, and refined with `with_*` methods.
///
/// TLS is on by default: a connection string without `Encrypt` and every
/// [`MssqlConfig::from_parts`] configuration require encryption, and the server
/// certificate is validated against the system trust store unless
/// [`MssqlConfig::with_trust_cert`] (or `TrustServerCertificate=true`) says otherwise.
///
/// Neither [`Debug`](fmt::Debug) nor any error shows the password.
///
/// ```
/// use std::time::Duration;
/// use erp_legacy::mssql::MssqlConfig;
///
/// let cfg = MssqlConfig::from_ado_string(
///     "Server=tcp:db.local,1433;Database=erp;User Id=erp;Password=s3cr3t;TrustServerCertificate=true",
/// )?
/// .with_max_size(4)
/// .with_query_timeout(Duration::from_secs(5));
/// assert_eq!(cfg.server(), "db.local:1433");
/// assert!(!format!("{cfg:?}").contains("s3cr3t"));
/// # Ok::<(), erp_core::Error>(())
/// ```
#[derive(Clone)]
pub struct MssqlConfig {
    source: Source,
    /// What configuration errors name: the variable or "connection string".
    origin: String,
    /// The connection string with its password replaced by `***`.
    masked: String,
    /// `host:port`, for errors and logs.
    server: String,
    /// Overrides the source's own certificate trust when set.
    trust_cert: Option<bool>,
    pub(crate) max_size: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) query_timeout: Duration,
    pub(crate) wait_timeout: Duration,
    pub(crate) max_reconnect_backoff: Duration,
}

impl fmt::Debug for MssqlConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MssqlConfig")
            .field("connection", &self.masked)
            .field("server", &self.server)
            .field("trust_cert_override", &self.trust_cert)
            .field("max_size", &self.max_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .field("wait_timeout", &self.wait_timeout)
            .field("max_reconnect_backoff", &self.max_reconnect_backoff)
            .finish()
    }
}

impl MssqlConfig {
    /// Parses an ADO.NET connection string
    /// (`Server=tcp:host,1433;Database=..;User Id=..;Password=..;Encrypt=true`).
    /// Errors name `connection string`; use [`MssqlConfig::from_env_value`] to name a
    /// variable instead.
    pub fn from_ado_string(ado: &str) -> Result<Self> {
        Self::from_env_value("connection string", ado)
    }

    /// Parses an ADO.NET connection string read from the variable `var`. Errors name
    /// the variable and show the string with its password masked.
    ///
    /// Named instances (`Server=host\instance`) need an explicit port
    /// (`Server=host\instance,49172`): SQL Browser lookups are not compiled in.
    pub fn from_env_value(var: &str, ado: &str) -> Result<Self> {
        let masked = mask_connection_string(ado);
        let fail = |message: String| {
            Error::config(
                var,
                redact(&format!("{message} (connection string: {masked})"), ado),
            )
        };
        let pairs = parse_pairs(ado).map_err(|reason| fail(reason.to_owned()))?;
        let server = pairs
            .iter()
            .rev()
            .find(|p| p.key == "server" || p.key == "data source")
            .map(|p| p.value.as_str())
            .unwrap_or_default();
        if server.trim().is_empty() {
            return Err(fail("no Server in the connection string".into()));
        }
        let host_part = server.split(',').next().unwrap_or_default();
        if host_part.contains('\\') && !server.contains(',') {
            return Err(fail(
                "a named instance needs an explicit port (Server=host\\instance,PORT): \
                 SQL Browser lookups are not supported"
                    .into(),
            ));
        }
        let config = Self::defaults(Source::Ado(ado.to_owned()), var, masked.clone());
        // Parse now so a malformed string fails at startup, not at the first query.
        let tds = config.tds_config().map_err(|e| match e {
            // Already masked and quoting the connection string.
            Error::Config { message, .. } => Error::config(var, message),
            other => other,
        })?;
        Ok(Self {
            server: tds.get_addr(),
            ..config
        })
    }

    /// Builds a configuration from separate settings, the way the `MSSQL_*` variables
    /// give them. Encryption is required; `trust_cert` accepts any server certificate
    /// (for servers with self-signed certificates on a trusted network).
    pub fn from_parts(
        server: &str,
        port: u16,
        database: &str,
        user: &str,
        password: &str,
        trust_cert: bool,
    ) -> Result<Self> {
        Self::parts(
            ["server", "port", "user"],
            server,
            port,
            database,
            user,
            password,
            trust_cert,
        )
    }

    /// Builds a configuration from `MSSQL_SERVER`, `MSSQL_PORT` (default 1433),
    /// `MSSQL_DATABASE`, `MSSQL_USER`, `MSSQL_PASSWORD` and `MSSQL_TRUST_CERT`
    /// (default `false`), looked up with `lookup`. Errors name the variable; the
    /// password never appears in them.
    ///
    /// ```
    /// use erp_legacy::mssql::MssqlConfig;
    ///
    /// let env = |name: &str| match name {
    ///     "MSSQL_SERVER" => Some("db.local".to_owned()),
    ///     "MSSQL_PORT" => Some("not-a-port".to_owned()),
    ///     _ => Some("x".to_owned()),
    /// };
    /// let err = MssqlConfig::from_env_lookup(env).unwrap_err();
    /// assert!(err.to_string().contains("MSSQL_PORT"));
    /// ```
    pub fn from_env_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &str| get(name).ok_or_else(|| Error::config(name, "is not set"));
        let server = required(ENV_SERVER)?;
        let port = match get(ENV_PORT) {
            None => DEFAULT_PORT,
            Some(raw) => parse_port(&raw).ok_or_else(|| {
                Error::config(ENV_PORT, format!("{raw:?} is not a TCP port (1-65535)"))
            })?,
        };
        let database = required(ENV_DATABASE)?;
        let user = required(ENV_USER)?;
        // Not trimmed: a password may legitimately start or end with a space.
        let password = lookup(ENV_PASSWORD)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::config(ENV_PASSWORD, "is not set"))?;
        let trust_cert = match get(ENV_TRUST_CERT) {
            None => false,
            Some(raw) => parse_bool(&raw).ok_or_else(|| {
                Error::config(
                    ENV_TRUST_CERT,
                    format!("{raw:?} is not a boolean (true/false)"),
                )
            })?,
        };
        Self::parts(
            [ENV_SERVER, ENV_PORT, ENV_USER],
            &server,
            port,
            &database,
            &user,
            &password,
            trust_cert,
        )
    }

    /// [`MssqlConfig::from_env_lookup`] on the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_env_lookup(|name| std::env::var(name).ok())
    }

    fn parts(
        names: [&str; 3],
        server: &str,
        port: u16,
        database: &str,
        user: &str,
        password: &str,
        trust_cert: bool,
    ) -> Result<Self> {
        let [server_name, port_name, user_name] = names;
        let host = server.trim();
        let host = host.strip_prefix("tcp:").unwrap_or(host).trim();
        if host.is_empty() {
            return Err(Error::config(server_name, "is empty"));
        }
        if host.contains(['\\', ',', ';']) {
            return Err(Error::config(
                server_name,
                format!(
                    "{host:?} must be a plain host name or address (give the port separately; \
                     named instances need their port)"
                ),
            ));
        }
        if port == 0 {
            return Err(Error::config(port_name, "0 is not a TCP port"));
        }
        if user.trim().is_empty() {
            return Err(Error::config(user_name, "is empty"));
        }
        let masked = format!(
            "Server=tcp:{host},{port};Database={database};User Id={user};Password=***;\
             TrustServerCertificate={trust_cert}"
        );
        let source = Source::Parts {
            host: host.to_owned(),
            port,
            database: database.to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
            trust_cert,
        };
        let config = Self::defaults(source, server_name, masked);
        Ok(Self {
            server: format!("{host}:{port}"),
            ..config
        })
    }

    fn defaults(source: Source, origin: &str, masked: String) -> Self {
        Self {
            source,
            origin: origin.to_owned(),
            masked,
            server: String::new(),
            trust_cert: None,
            max_size: 10,
            connect_timeout: Duration::from_secs(10),
            query_timeout: Duration::from_secs(30),
            wait_timeout: Duration::from_secs(5),
            max_reconnect_backoff: Duration::from_secs(5),
        }
    }

    /// Accepts any server certificate (`true`) or validates it against the system
    /// trust store (`false`), whatever the connection string said. Trusting every
    /// certificate still encrypts but no longer authenticates the server: only on a
    /// network you trust. Combining `true` with a `TrustServerCertificateCA` of the
    /// connection string is a configuration error, reported when the executor is built.
    pub fn with_trust_cert(mut self, trust: bool) -> Self {
        self.trust_cert = Some(trust);
        if let Source::Parts { trust_cert, .. } = &mut self.source {
            *trust_cert = trust;
        }
        self.masked = match &self.source {
            Source::Parts { .. } => {
                let base = self
                    .masked
                    .rsplit_once(";TrustServerCertificate=")
                    .map_or(self.masked.as_str(), |(base, _)| base);
                format!("{base};TrustServerCertificate={trust}")
            }
            Source::Ado(ado) => format!(
                "{};TrustServerCertificate={trust}",
                mask_connection_string(ado)
            ),
        };
        self
    }

    /// Largest number of open connections (default 10).
    pub fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size.max(1);
        self
    }

    /// How long opening one connection (TCP, TLS, login) may take (default 10 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Bound on one call, from the first request byte to the last row (default 30 s).
    /// A call that runs over is cancelled on the server (best effort) and its
    /// connection discarded.
    pub fn with_query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// How long a caller waits for a free connection before "unavailable" (default 5 s).
    pub fn with_wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Longest pause between connection attempts after repeated failures (default
    /// 5 s; zero disables the backoff). While paused, calls that need a new
    /// connection fail at once with "unavailable" instead of each waiting for the
    /// connect timeout. See [`MssqlManager`](crate::mssql::MssqlManager).
    pub fn with_max_reconnect_backoff(mut self, max: Duration) -> Self {
        self.max_reconnect_backoff = max;
        self
    }

    /// The connection settings with the password masked, for logs.
    pub fn masked_connection_string(&self) -> &str {
        &self.masked
    }

    /// `host:port` of the server, as named in errors.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Largest number of open connections.
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// Bound on opening one connection.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Bound on one call.
    pub fn query_timeout(&self) -> Duration {
        self.query_timeout
    }

    /// Bound on waiting for a free connection.
    pub fn wait_timeout(&self) -> Duration {
        self.wait_timeout
    }

    /// Builds the tiberius configuration. Errors are [`Error::Config`] naming the
    /// origin of the settings, with the password masked.
    pub(crate) fn tds_config(&self) -> Result<tiberius::Config> {
        let mut tds = match &self.source {
            Source::Ado(ado) => {
                // Duplicate keys: the last one wins (as in ADO.NET), so the default
                // application name goes first and the trust override last.
                let trust = self
                    .trust_cert
                    .map(|t| format!(";TrustServerCertificate={t}"))
                    .unwrap_or_default();
                let text = format!("Application Name={APPLICATION_NAME};{ado}{trust}");
                tiberius::Config::from_ado_string(&text).map_err(|e| {
                    let name = if self.trust_cert.is_some() {
                        "TrustServerCertificate"
                    } else {
                        self.origin.as_str()
                    };
                    Error::config(
                        name,
                        redact(
                            &format!(
                                "not a valid SQL Server connection string ({}): {e}",
                                self.masked
                            ),
                            ado,
                        ),
                    )
                })?
            }
            Source::Parts {
                host,
                port,
                database,
                user,
                password,
                trust_cert,
            } => {
                let mut tds = tiberius::Config::new();
                tds.host(host);
                tds.port(*port);
                if !database.is_empty() {
                    tds.database(database);
                }
                tds.application_name(APPLICATION_NAME);
                tds.authentication(tiberius::AuthMethod::sql_server(user, password));
                tds.encryption(tiberius::EncryptionLevel::Required);
                if *trust_cert {
                    // Cannot panic: a fresh Config has no CA configured.
                    tds.trust_cert();
                }
                tds
            }
        };
        // The handshake (prelogin, TLS, login) gets the connect timeout; tiberius's own
        // per-response command timeout is off because every call runs under our query
        // timeout, which also discards the connection and cancels the request.
        tds.handshake_timeout(Some(self.connect_timeout));
        tds.command_timeout(None);
        Ok(tds)
    }
}

fn parse_port(raw: &str) -> Option<u16> {
    raw.parse::<u16>().ok().filter(|p| *p != 0)
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADO: &str = "Server=tcp:db.local,1433;Database=erp;User Id=erp_app;\
                       Password=Hunter2!;TrustServerCertificate=true;Encrypt=true";

    #[test]
    fn parses_an_ado_string() {
        let cfg = MssqlConfig::from_ado_string(ADO).unwrap();
        assert_eq!(cfg.server(), "db.local:1433");
        assert_eq!(cfg.max_size(), 10);
        assert_eq!(cfg.connect_timeout(), Duration::from_secs(10));
        assert_eq!(cfg.query_timeout(), Duration::from_secs(30));
        assert_eq!(cfg.wait_timeout(), Duration::from_secs(5));
        assert_eq!(
            cfg.masked_connection_string(),
            "Server=tcp:db.local,1433;Database=erp;User Id=erp_app;Password=***;\
             TrustServerCertificate=true;Encrypt=true"
        );
        let tds = cfg.tds_config().unwrap();
        assert_eq!(tds.get_addr(), "db.local:1433");
        assert_eq!(tds.get_handshake_timeout(), Some(Duration::from_secs(10)));
        assert_eq!(tds.get_command_timeout(), None);

        let tuned = cfg
            .with_max_size(0)
            .with_connect_timeout(Duration::from_secs(2))
            .with_query_timeout(Duration::from_millis(300))
            .with_wait_timeout(Duration::from_secs(1));
        assert_eq!(tuned.max_size(), 1, "at least one connection");
        assert_eq!(
            tuned.tds_config().unwrap().get_handshake_timeout(),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn default_port_and_data_source() {
        let cfg = MssqlConfig::from_ado_string("Data Source=db;User Id=u;Password=p").unwrap();
        assert_eq!(cfg.server(), "db:1433");
    }

    #[test]
    fn bad_ado_strings_name_the_variable_and_hide_the_password() {
        let cases = [
            "Server=tcp:db,notaport;User Id=u;Password=TopSecret99",
            "User Id=u;Password=TopSecret99",
            "Server=db;Password='TopSecret99",
            "Server=db\\SQLEXPRESS;User Id=u;Password=TopSecret99",
            "Server=db;User Id=u;Password=TopSecret99;Encrypt=maybe",
        ];
        for ado in cases {
            let err = MssqlConfig::from_env_value("LEGACY_DB_URL", ado).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, Error::Config { .. }), "{ado}: {text}");
            assert!(text.contains("LEGACY_DB_URL"), "{text}");
            assert!(!text.contains("TopSecret99"), "{text}");
        }
        let err = MssqlConfig::from_ado_string("User Id=u;Password=TopSecret99").unwrap_err();
        assert!(err.to_string().contains("connection string"), "{err}");
    }

    #[test]
    fn named_instance_with_port_is_accepted() {
        let cfg = MssqlConfig::from_ado_string("Server=db\\SQLEXPRESS,49172;User Id=u;Password=p")
            .unwrap();
        assert_eq!(cfg.server(), "db:49172");
    }

    #[test]
    fn trust_override_conflicting_with_a_pinned_ca_is_a_config_error() {
        let cfg = MssqlConfig::from_ado_string(
            "Server=db;User Id=u;Password=Sekrit123;TrustServerCertificateCA=/etc/ca.pem",
        )
        .unwrap();
        assert!(cfg.clone().with_trust_cert(false).tds_config().is_ok());
        let err = cfg.with_trust_cert(true).tds_config().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("TrustServerCertificate"), "{text}");
        assert!(!text.contains("Sekrit123"), "{text}");
    }

    #[test]
    fn builds_from_parts() {
        let cfg = MssqlConfig::from_parts("tcp:db.local", 14330, "erp", "sa", "Pa;ss=w0rd", true)
            .unwrap();
        assert_eq!(cfg.server(), "db.local:14330");
        assert_eq!(
            cfg.masked_connection_string(),
            "Server=tcp:db.local,14330;Database=erp;User Id=sa;Password=***;\
             TrustServerCertificate=true"
        );
        assert_eq!(cfg.tds_config().unwrap().get_addr(), "db.local:14330");
        let cfg = cfg.with_trust_cert(false);
        assert!(
            cfg.masked_connection_string()
                .ends_with("Password=***;TrustServerCertificate=false")
        );
        assert!(cfg.tds_config().is_ok());

        assert!(MssqlConfig::from_parts("", 1433, "erp", "sa", "pw", false).is_err());
        assert!(MssqlConfig::from_parts("db\\inst", 1433, "erp", "sa", "pw", false).is_err());
        assert!(MssqlConfig::from_parts("db", 0, "erp", "sa", "pw", false).is_err());
        assert!(MssqlConfig::from_parts("db", 1433, "erp", " ", "pw", false).is_err());
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            owned
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    const FULL: [(&str, &str); 6] = [
        ("MSSQL_SERVER", "db.local"),
        ("MSSQL_PORT", "1533"),
        ("MSSQL_DATABASE", "erp"),
        ("MSSQL_USER", "erp_app"),
        ("MSSQL_PASSWORD", "Hunter2!xyz"),
        ("MSSQL_TRUST_CERT", "true"),
    ];

    fn without(name: &str) -> Vec<(&'static str, &'static str)> {
        FULL.iter().copied().filter(|(k, _)| *k != name).collect()
    }

    fn with(name: &str, value: &'static str) -> Vec<(&'static str, &'static str)> {
        FULL.iter()
            .copied()
            .map(|(k, v)| if k == name { (k, value) } else { (k, v) })
            .collect()
    }

    #[test]
    fn builds_from_env_lookup() {
        let cfg = MssqlConfig::from_env_lookup(env(&FULL)).unwrap();
        assert_eq!(cfg.server(), "db.local:1533");
        assert!(
            cfg.masked_connection_string()
                .contains("TrustServerCertificate=true")
        );
        let cfg = MssqlConfig::from_env_lookup(env(&without("MSSQL_PORT"))).unwrap();
        assert_eq!(cfg.server(), "db.local:1433", "default port");
        let cfg = MssqlConfig::from_env_lookup(env(&without("MSSQL_TRUST_CERT"))).unwrap();
        assert!(
            cfg.masked_connection_string()
                .ends_with("TrustServerCertificate=false")
        );
    }

    #[test]
    fn env_errors_name_the_variable_and_hide_the_password() {
        let cases = [
            (without("MSSQL_SERVER"), "MSSQL_SERVER"),
            (without("MSSQL_DATABASE"), "MSSQL_DATABASE"),
            (without("MSSQL_USER"), "MSSQL_USER"),
            (without("MSSQL_PASSWORD"), "MSSQL_PASSWORD"),
            (with("MSSQL_PORT", "14x33"), "MSSQL_PORT"),
            (with("MSSQL_PORT", "70000"), "MSSQL_PORT"),
            (with("MSSQL_PORT", "0"), "MSSQL_PORT"),
            (with("MSSQL_TRUST_CERT", "maybe"), "MSSQL_TRUST_CERT"),
            (with("MSSQL_SERVER", "db\\inst"), "MSSQL_SERVER"),
            (with("MSSQL_SERVER", "  "), "MSSQL_SERVER"),
        ];
        for (vars, name) in cases {
            let err = MssqlConfig::from_env_lookup(env(&vars)).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, Error::Config { .. }), "{text}");
            assert!(text.contains(name), "{name}: {text}");
            assert!(!text.contains("Hunter2!xyz"), "{text}");
        }
    }

    #[test]
    fn debug_never_prints_the_password() {
        let from_ado = MssqlConfig::from_ado_string(ADO).unwrap();
        let from_env = MssqlConfig::from_env_lookup(env(&FULL)).unwrap();
        let quoted =
            MssqlConfig::from_ado_string("Server=db;User Id=u;PWD='Hunter2!;xyz';Encrypt=true")
                .unwrap();
        for cfg in [
            from_ado.clone(),
            from_env.clone(),
            quoted,
            from_ado.with_trust_cert(false),
            from_env.with_trust_cert(false),
        ] {
            let text = format!("{cfg:?}");
            assert!(!text.contains("Hunter2"), "{text}");
            assert!(text.contains("***"), "{text}");
        }
    }
}
