//! What the sync reads of each legacy table, in each change detection: the three
//! models' change feeds behind one trait, so one function syncs any table.

use std::{future::Future, pin::Pin};

use erp_core::sql::Executor;

use super::{checkpoint::Checkpoint, reconcile::OwnedKey, spec::Read};
use crate::{
    ClearanceRecord, Client, LegacyError, Result, Shipment, SqlLegacyRepository, changes::Versioned,
};

/// A read running on a task of its own (the engine reads ahead while it writes).
pub(super) type Reading<T> = Pin<Box<dyn Future<Output = Result<Vec<T>>> + Send>>;

/// A legacy model's change feeds.
pub(super) trait Feed<S>: Read<Record = Self> + Sized + 'static {
    /// By the `updated_at` watermark, after `after`.
    fn changed(
        repo: SqlLegacyRepository<S>,
        after: Option<Checkpoint>,
        limit: u64,
    ) -> Reading<Self>;
    /// By the `rowversion` column `column`, after `after`.
    fn versioned(
        repo: SqlLegacyRepository<S>,
        column: String,
        after: Option<Checkpoint>,
        limit: u64,
        capped: bool,
    ) -> Reading<Versioned<Self>>;
    /// In key order after `after`, for a hash pass.
    fn by_key(repo: SqlLegacyRepository<S>, after: Option<OwnedKey>, limit: u64) -> Reading<Self>;
}

fn int_key(key: Option<OwnedKey>) -> Result<Option<i64>> {
    match key {
        None => Ok(None),
        Some(OwnedKey::Int(k)) => Ok(Some(k)),
        Some(OwnedKey::Text(k)) => Err(LegacyError::CorruptCheckpoint(format!(
            "the key {k:?} of an integer-keyed table is not an integer"
        ))),
    }
}

/// [`Feed`] for a model, from its three repository methods and its key's type.
macro_rules! feed {
    ($model:ty, $changed:ident($cp:path), $versioned:ident($vcp:path), $by_key:ident($key:path)) => {
        impl<S: Executor + Clone + 'static> Feed<S> for $model {
            fn changed(
                repo: SqlLegacyRepository<S>,
                after: Option<Checkpoint>,
                limit: u64,
            ) -> Reading<Self> {
                Box::pin(async move { repo.$changed($cp(after)?, limit).await })
            }
            fn versioned(
                repo: SqlLegacyRepository<S>,
                column: String,
                after: Option<Checkpoint>,
                limit: u64,
                capped: bool,
            ) -> Reading<Versioned<Self>> {
                Box::pin(async move {
                    let after = $vcp(after)?;
                    repo.$versioned(&column, after, limit, capped).await
                })
            }
            fn by_key(
                repo: SqlLegacyRepository<S>,
                after: Option<OwnedKey>,
                limit: u64,
            ) -> Reading<Self> {
                Box::pin(async move { repo.$by_key($key(after)?, limit).await })
            }
        }
    };
}

/// A text key is any key: `Result` only to match [`int_key`].
fn text_key(key: Option<OwnedKey>) -> Result<Option<String>> {
    Ok(key.map(|k| k.to_text()))
}

feed!(
    Client,
    clients_changed(Checkpoint::text_key),
    clients_by_version(Checkpoint::version_text_key),
    clients_by_key(text_key)
);
feed!(
    ClearanceRecord,
    clearance_changed(Checkpoint::int_key),
    clearance_by_version(Checkpoint::version_int_key),
    clearance_by_key(int_key)
);
feed!(
    Shipment,
    shipments_changed(Checkpoint::int_key),
    shipments_by_version(Checkpoint::version_int_key),
    shipments_by_key(int_key)
);
