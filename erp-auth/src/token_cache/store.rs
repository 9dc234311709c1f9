use std::{
    collections::HashMap,
    hash::{BuildHasher, BuildHasherDefault, Hasher},
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use erp_core::{RevocationEvent, TenantId, UserId};
use tokio::time::Instant;

use super::Verified;

const SHARDS: usize = 16;

/// Settings of the verified-token cache.
#[derive(Debug, Clone)]
pub struct TokenCacheConfig {
    pub(crate) max_entries: usize,
    pub(crate) max_ttl: Duration,
    pub(crate) user_ttl: Duration,
}

impl Default for TokenCacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_ttl: Duration::from_secs(3600),
            user_ttl: Duration::from_secs(30),
        }
    }
}

impl TokenCacheConfig {
    /// Most tokens held (default 10 000: one per active client is the working set).
    pub fn with_max_entries(mut self, max: usize) -> Self {
        self.max_entries = max.max(SHARDS);
        self
    }

    /// Longest an entry lives whatever the token's `exp` (default 1 h).
    pub fn with_max_ttl(mut self, ttl: Duration) -> Self {
        self.max_ttl = ttl;
        self
    }

    /// How long a resolved principal (roles, active flag) is reused before the user
    /// store is asked again (default 30 s).
    pub fn with_user_ttl(mut self, ttl: Duration) -> Self {
        self.user_ttl = ttl;
        self
    }
}

/// Counters of the cache.
#[derive(Debug, Default)]
pub struct TokenCacheStats {
    /// Requests answered without verifying a signature.
    pub hits: AtomicU64,
    /// Requests that verified a signature.
    pub misses: AtomicU64,
    /// Entries removed (expired, key gone, capacity, invalidation).
    pub evictions: AtomicU64,
    /// Principals re-resolved from the store for a cached token.
    pub refreshes: AtomicU64,
}

struct Entry {
    token: Box<[u8]>,
    verified: Arc<Verified>,
    inserted_at: Instant,
}

type Shard = RwLock<HashMap<u64, Vec<Entry>, BuildHasherDefault<Prehashed>>>;

/// The shards' keys are already the output of the cache's keyed hash: hashing them a
/// second time with SipHash bought nothing and cost a few hundred instructions a lookup.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys reach this map; fold anything else in anyway, to stay correct.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Bucketed by a keyed hash of the token's tail (its signature: unforgeable, so only
/// verified tokens, which an attacker cannot mint, ever share a bucket), and compared in
/// full on lookup: a token that differs in any byte is a miss.
///
/// Keyed by bytes: the layer looks a bearer token up before checking its characters,
/// since bytes equal to a verified token's need no checking again.
pub(crate) struct TokenCache {
    shards: Vec<Shard>,
    /// foldhash, seeded once per process: SipHash's flooding resistance buys nothing
    /// where only verified tokens are ever inserted (see above), and cost about 300
    /// instructions a lookup.
    hasher: foldhash::fast::RandomState,
    config: TokenCacheConfig,
    per_shard: usize,
    /// Per-user and per-tenant "re-resolve principals resolved before" marks.
    marks: RwLock<HashMap<(TenantId, Option<UserId>), Instant>>,
    reset_at: RwLock<Option<Instant>>,
    pub(crate) stats: TokenCacheStats,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl TokenCache {
    pub(crate) fn new(config: TokenCacheConfig) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashMap::default()))
                .collect(),
            hasher: foldhash::fast::RandomState::default(),
            per_shard: (config.max_entries / SHARDS).max(1),
            config,
            marks: RwLock::new(HashMap::new()),
            reset_at: RwLock::new(None),
            stats: TokenCacheStats::default(),
        }
    }

    fn locate(&self, token: &[u8]) -> (u64, &Shard) {
        let tail = &token[token.len().saturating_sub(64)..];
        let h = self.hasher.hash_one(tail);
        (h, &self.shards[(h as usize) % SHARDS])
    }

    /// The cached verification of exactly `token`, if any and not past the max TTL.
    /// `now` is the caller's clock reading, shared with [`TokenCache::principal_fresh`].
    pub(crate) fn get(&self, token: &[u8], now: Instant) -> Option<Arc<Verified>> {
        let (h, shard) = self.locate(token);
        let map = read(shard);
        let entry = map.get(&h)?.iter().find(|e| &*e.token == token)?;
        (now.saturating_duration_since(entry.inserted_at) < self.config.max_ttl)
            .then(|| Arc::clone(&entry.verified))
    }

    /// Stores (or replaces) the verification of `token`.
    pub(crate) fn insert(&self, token: &[u8], verified: Arc<Verified>) {
        let (h, shard) = self.locate(token);
        let mut map = write(shard);
        if let Some(e) = map
            .get_mut(&h)
            .and_then(|b| b.iter_mut().find(|e| &*e.token == token))
        {
            e.verified = verified;
            return;
        }
        let len: usize = map.values().map(Vec::len).sum();
        if len >= self.per_shard {
            let now = chrono::Utc::now().timestamp();
            let max_ttl = self.config.max_ttl;
            let before = len;
            map.retain(|_, bucket| {
                bucket.retain(|e| {
                    e.verified.exp >= now
                        && e.inserted_at.elapsed() < max_ttl
                        && e.verified.key.alive()
                });
                !bucket.is_empty()
            });
            let mut after: usize = map.values().map(Vec::len).sum();
            // Still full: drop arbitrary entries (hash order is random) until there is room.
            while after >= self.per_shard {
                let Some(k) = map.keys().next().copied() else {
                    break;
                };
                after -= map.remove(&k).map_or(0, |b| b.len());
            }
            self.stats
                .evictions
                .fetch_add((before - after) as u64, Ordering::Relaxed);
        }
        map.entry(h).or_default().push(Entry {
            token: token.into(),
            verified,
            inserted_at: Instant::now(),
        });
    }

    /// Forgets `token`.
    pub(crate) fn remove(&self, token: &[u8]) {
        let (h, shard) = self.locate(token);
        let mut map = write(shard);
        if let Some(bucket) = map.get_mut(&h) {
            let before = bucket.len();
            bucket.retain(|e| &*e.token != token);
            if bucket.len() < before {
                self.stats.evictions.fetch_add(1, Ordering::Relaxed);
                crate::metrics::token_cache(crate::metrics::CacheEvent::Evict, 1);
            }
            if bucket.is_empty() {
                map.remove(&h);
            }
        }
    }

    /// True if the principal cached in `v` may still be used.
    pub(crate) fn principal_fresh(&self, v: &Verified, now: Instant) -> bool {
        if now.saturating_duration_since(v.resolved_at) >= self.config.user_ttl {
            return false;
        }
        if read(&self.reset_at).is_some_and(|at| at >= v.resolved_at) {
            return false;
        }
        let marks = read(&self.marks);
        if marks.is_empty() {
            return true;
        }
        let t = v.principal.tenant_id;
        let newer = |key| marks.get(&key).is_some_and(|at| *at >= v.resolved_at);
        !newer((t, Some(v.principal.user_id))) && !newer((t, None))
    }

    /// Principals of this user (or of the whole tenant) are re-resolved on next use.
    pub(crate) fn mark(&self, tenant: TenantId, user: Option<UserId>) {
        let mut marks = write(&self.marks);
        let ttl = self.config.user_ttl;
        // Marks older than the user TTL no longer matter: those entries re-resolve anyway.
        marks.retain(|_, at| at.elapsed() < ttl);
        marks.insert((tenant, user), Instant::now());
    }

    /// Applies a revocation event to the cached principals.
    pub(crate) fn apply(&self, event: &RevocationEvent) {
        match event {
            RevocationEvent::User(t, u) => self.mark(*t, Some(*u)),
            RevocationEvent::Tenant(t) => self.mark(*t, None),
            RevocationEvent::All => *write(&self.reset_at) = Some(Instant::now()),
            // A session's revocation is checked by the session guard on every request.
            RevocationEvent::Session(..) => {}
            // So is a revoked provider token, by the token guard.
            RevocationEvent::Token(..) => {}
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| read(s).values().map(Vec::len).sum::<usize>())
            .sum()
    }
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("config", &self.config)
            .field("entries", &self.len())
            .field("stats", &self.stats)
            .finish()
    }
}
