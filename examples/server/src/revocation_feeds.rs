//! The revocation feeds of an instance (`REVOCATION_FEED`): PostgreSQL `LISTEN`, the
//! Redis bus, or both, and the publisher that puts revocations on the bus.

use std::sync::Arc;

use erp_auth::{
    Authenticator,
    redis::{RedisClient, RedisRevocationBus, RedisRevocationPublisher},
};
use erp_core::{
    FeedStatus, RevocationPublisher,
    sql::{Database, RevocationListener},
};

use crate::config::ServerConfig;

/// The feeds this instance follows; dropping it stops them.
#[derive(Debug, Clone, Default)]
pub struct RevocationFeeds {
    /// PostgreSQL `LISTEN` (none on SQLite, or with `REVOCATION_FEED=redis`).
    pub postgres: Option<Arc<RevocationListener>>,
    /// The Redis subscription (with `REVOCATION_FEED=redis` or `both`).
    pub redis: Option<Arc<RedisRevocationBus>>,
    /// Publishes this instance's revocations on the Redis bus, when it is followed.
    pub publisher: Option<Arc<dyn RevocationPublisher>>,
}

impl RevocationFeeds {
    /// Starts the configured feeds, each with a heartbeat at a quarter of
    /// `REVOCATION_MAX_STALENESS`: a silently dead feed is noticed (and replaced) well
    /// within it. `redis` is there whenever the configuration names Redis (checked at
    /// load).
    pub fn start(config: &ServerConfig, db: &Database, redis: Option<&RedisClient>) -> Self {
        let heartbeat = config.revocation_max_staleness / 4;
        let postgres = match db {
            Database::Postgres(pg) if config.revocation_feed.postgres() => Some(Arc::new(
                RevocationListener::start_with_heartbeat(pg.config(), heartbeat),
            )),
            _ => None,
        };
        let (redis, publisher) = match redis {
            Some(client) if config.revocation_feed.redis() => (
                Some(Arc::new(RedisRevocationBus::start(client, heartbeat))),
                Some(Arc::new(RedisRevocationPublisher::new(client.clone()))
                    as Arc<dyn RevocationPublisher>),
            ),
            _ => (None, None),
        };
        Self {
            postgres,
            redis,
            publisher,
        }
    }

    /// Each feed by name (`postgres`, `redis`) with its status.
    pub fn statuses(&self) -> Vec<(&'static str, Arc<FeedStatus>)> {
        let mut out = Vec::new();
        if let Some(l) = &self.postgres {
            out.push(("postgres", l.status()));
        }
        if let Some(b) = &self.redis {
            out.push(("redis", b.status()));
        }
        out
    }

    /// Has the authenticator (session guard, token caches) apply every feed's events.
    pub fn follow(&self, authenticator: &Authenticator) {
        if let Some(l) = &self.postgres {
            authenticator.follow(l.subscribe());
        }
        if let Some(b) = &self.redis {
            authenticator.follow(b.subscribe());
        }
    }
}
