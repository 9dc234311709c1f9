//! Table and column names of the ERP tables, shared by every dialect.

use sea_query::Iden;

#[derive(Iden, Clone, Copy)]
pub(crate) enum Tenants {
    Table,
    Id,
    Slug,
    Name,
    AzureTenantId,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum Users {
    Table,
    Id,
    TenantId,
    Username,
    UsernameKey,
    Email,
    EmailKey,
    PasswordHash,
    AzureOid,
    ExternalUserId,
    DisplayName,
    AzureEmail,
    LastTokenRefresh,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum Roles {
    Table,
    TenantId,
    Name,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum UserRoles {
    Table,
    TenantId,
    UserId,
    Role,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum Sessions {
    Table,
    TenantId,
    Id,
    UserId,
    AuthMethod,
    CreatedAt,
    ExpiresAt,
    LastSeenAt,
    RevokedAt,
    Ip,
    UserAgent,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum UserRevocations {
    Table,
    TenantId,
    UserId,
    NotBefore,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum TenantRevocations {
    Table,
    TenantId,
    NotBefore,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum RefreshTokens {
    Table,
    TenantId,
    TokenHash,
    FamilyId,
    SessionId,
    UserId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum LoginRateLimits {
    Table,
    Key,
    WindowStart,
    Count,
    ExpiresAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum AuditEvents {
    Table,
    Id,
    TenantId,
    At,
    Kind,
    Outcome,
    Reason,
    UserId,
    Username,
    SessionId,
    Ip,
    UserAgent,
    Detail,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum RevokedTokens {
    Table,
    TenantId,
    TokenId,
    UserId,
    ExpiresAt,
    RevokedAt,
}
