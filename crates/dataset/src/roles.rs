//! The roles and permissions a dataset carries (`role.csv`,
//! `permission.csv`, `role_permission.csv`): the ones the migrations seed,
//! so a generated set and a fresh database agree.

use recofinement_domain::Permission;

/// A role and what it may do.
pub struct RoleSeed {
    pub id: i64,
    pub name: &'static str,
    pub permissions: &'static [Permission],
}

/// What every account may do.
const USER: &[Permission] = &[
    Permission::IndicateInterest,
    Permission::ModifyUserProfil,
    Permission::ViewRecommendation,
    Permission::PlayMusic,
    Permission::AddContent,
];

/// What an administrator may do: the user's permissions, then the rest.
const ADMIN: &[Permission] = &[
    Permission::IndicateInterest,
    Permission::ModifyUserProfil,
    Permission::ViewRecommendation,
    Permission::PlayMusic,
    Permission::AddContent,
    Permission::AccessSandbox,
    Permission::ModifyContent,
    Permission::ValidateAddedContent,
    Permission::DeleteContent,
];

/// The roles, in id order.
pub const ROLES: [RoleSeed; 2] = [
    RoleSeed {
        id: 1,
        name: "user",
        permissions: USER,
    },
    RoleSeed {
        id: 2,
        name: "admin",
        permissions: ADMIN,
    },
];

/// Every permission once, in the order of the migrations.
pub fn permissions() -> Vec<Permission> {
    let mut all: Vec<Permission> = Vec::new();
    for role in &ROLES {
        for &p in role.permissions {
            if !all.contains(&p) {
                all.push(p);
            }
        }
    }
    all
}
