//! From verified claims to a [`Principal`](erp_core::Principal): find the ERP tenant and
//! user, link or provision directory users, and map directory groups and app roles to
//! ERP roles.

mod resolver;
mod roles;

pub use resolver::UserResolver;
pub use roles::RoleMapper;
