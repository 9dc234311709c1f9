//! The hash map of the request-path revocation caches.
//!
//! Every authenticated request looks up its tenant, its user and, for an Entra ID token,
//! its token id here; with the standard library's SipHash those hashes were about 700
//! instructions of a cached request (docs/performance.md). foldhash, seeded at random
//! once per process, is several times cheaper on such short keys. Its weaker flooding
//! resistance does not matter here: every key comes from a credential that already
//! passed its signature check (a verified token's ids, a signed cookie's session), so a
//! client cannot choose keys to collide.

pub(crate) type LookupMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
