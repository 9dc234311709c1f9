//! `erp-server user link-external`: ties an existing local user to the external auth
//! API's identity, so an account created before the external API was switched on (or
//! under another username) keeps its roles and history at the first external login.

use erp_core::{Error, TenantId, User, UserRepository};

use super::BoxError;

/// Links `user` to `external_id` and says what was done; conflicts and invalid ids come
/// back as the operator's message.
pub(super) async fn link_external(
    users: &impl UserRepository,
    tenant: TenantId,
    user: &User,
    external_id: &str,
) -> Result<String, BoxError> {
    let id = external_id.trim();
    if user.external_user_id.as_deref() == Some(id) {
        return Ok(format!(
            "{} is already linked to external id {id:?}",
            user.username
        ));
    }
    // Name the other holder: the operator's next step is to look at that account.
    if let Some(holder) = users.by_external_id(tenant, id).await?
        && holder.id != user.id
    {
        return Err(format!(
            "conflict: external id {id:?} is already linked to user {:?}",
            holder.username
        )
        .into());
    }
    match users.link_external_id(tenant, user.id, id).await {
        Ok(linked) => Ok(format!(
            "linked {} ({}) to external id {:?}",
            linked.username,
            linked.id,
            linked.external_user_id.unwrap_or_default()
        )),
        Err(Error::Conflict { detail, .. }) => Err(format!(
            "conflict: {detail} (the user {:?} is linked to {:?})",
            user.username,
            user.external_user_id.as_deref().unwrap_or("-")
        )
        .into()),
        Err(e @ Error::InvalidInput { .. }) => Err(format!("invalid external id: {e}").into()),
        Err(e) => Err(e.into()),
    }
}
