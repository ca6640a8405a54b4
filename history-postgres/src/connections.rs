//! Connections to the server: how to make one (URL, TLS), and the idle readers kept for
//! queries.

use std::time::Duration;

use parking_lot::Mutex;
use postgres::{Client, Config};

use crate::PostgresError;

/// Makes connections to one server: the parsed URL, TLS when the `tls` feature is on.
pub(crate) struct Connector {
    config: Config,
    /// The URL as shown in errors and logs: never with its password.
    shown: String,
    #[cfg(feature = "tls")]
    tls: Option<postgres_native_tls::MakeTlsConnector>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Parses `url` (`postgres://user:password@host:port/db?sslmode=…` or `key=value`
    /// form). Without the `tls` feature, `sslmode=require` is refused here rather than at
    /// the first connection.
    pub(crate) fn new(url: &str) -> Result<Connector, PostgresError> {
        let shown = history::redact::scrub_url_credentials(url).into_owned();
        let mut config: Config = url.parse().map_err(|e: postgres::Error| {
            PostgresError::InvalidOption {
                option: "url",
                // The parser's message may quote the URL: scrub it too.
                reason: history::redact::scrub_url_credentials(&e.to_string()).into_owned(),
            }
        })?;
        if config.get_application_name().is_none() {
            config.application_name("history");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        #[cfg(feature = "tls")]
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Disable => None,
            _ => {
                let connector =
                    native_tls::TlsConnector::new().map_err(|e| PostgresError::InvalidOption {
                        option: "url",
                        reason: format!("TLS could not be set up: {e}"),
                    })?;
                Some(postgres_native_tls::MakeTlsConnector::new(connector))
            }
        };
        #[cfg(not(feature = "tls"))]
        if config.get_ssl_mode() == postgres::config::SslMode::Require {
            return Err(PostgresError::InvalidOption {
                option: "url",
                reason: "sslmode=require needs the `tls` feature of history-postgres".into(),
            });
        }
        Ok(Connector {
            config,
            shown,
            #[cfg(feature = "tls")]
            tls,
        })
    }

    /// The URL without its password.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// A new connection.
    pub(crate) fn connect(&self) -> Result<Client, PostgresError> {
        #[cfg(feature = "tls")]
        let client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(postgres::NoTls),
        };
        #[cfg(not(feature = "tls"))]
        let client = self.config.connect(postgres::NoTls);
        client.map_err(|source| PostgresError::Connect {
            url: self.shown.clone(),
            source,
        })
    }
}

/// Idle reader connections: a query takes one (or opens one) and gives it back after, unless
/// it broke or enough are idle already.
pub(crate) struct Readers {
    idle: Mutex<Vec<Client>>,
    keep: usize,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers")
            .field("idle", &self.idle.lock().len())
            .field("keep", &self.keep)
            .finish()
    }
}

impl Readers {
    pub(crate) fn new(keep: usize) -> Readers {
        Readers {
            idle: Mutex::new(Vec::new()),
            keep,
        }
    }

    /// Runs `f` on a reader connection. A connection that failed is dropped; one failure of
    /// a connection taken from the idle ones because it had been cut (the server restarted)
    /// is retried once on a new connection.
    pub(crate) fn with<T>(
        &self,
        connector: &Connector,
        mut f: impl FnMut(&mut Client) -> Result<T, PostgresError>,
    ) -> Result<T, PostgresError> {
        let pooled = self.idle.lock().pop();
        let was_pooled = pooled.is_some();
        let mut client = match pooled {
            Some(c) if !c.is_closed() => c,
            _ => connector.connect()?,
        };
        match f(&mut client) {
            Ok(v) => {
                self.give_back(client);
                Ok(v)
            }
            Err(e) if was_pooled && client.is_closed() => {
                tracing::debug!("history-postgres: an idle reader was cut ({e}); reconnecting");
                drop(client);
                let mut fresh = connector.connect()?;
                let v = f(&mut fresh)?;
                self.give_back(fresh);
                Ok(v)
            }
            Err(e) => {
                if !client.is_closed() && e.is_transient() {
                    // A lost race (deadlock, timeout): the connection itself is fine.
                    self.give_back(client);
                }
                Err(e)
            }
        }
    }

    /// Adds a connection opened elsewhere to the idle ones.
    pub(crate) fn give(&self, client: Client) {
        self.give_back(client);
    }

    fn give_back(&self, client: Client) {
        if client.is_closed() {
            return;
        }
        let mut idle = self.idle.lock();
        if idle.len() < self.keep {
            idle.push(client);
        }
    }
}
