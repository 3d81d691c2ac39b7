use chrono::Utc;

use super::*;

#[test]
fn seed_tenant_loads() {
    let world = TenantFile::parse(SEED_TENANT)
        .unwrap()
        .into_world(Utc::now())
        .unwrap();
    let alex = world.user_by_key("alex").unwrap();
    assert_eq!(world.manager_at_level(&alex.id, 1).unwrap().key, "miriam");
    assert_eq!(world.manager_at_level(&alex.id, 2).unwrap().key, "megan");
    let approvers = world.transitive_user_members("0e7a0002-0000-4000-8000-000000000002");
    assert!(approvers.contains(&world.user_by_key("bianca").unwrap().id));
    assert_eq!(world.access_packages.len(), 4);
}

#[test]
fn dangling_reference_is_named() {
    let text = SEED_TENANT.replace("manager = \"miriam\"", "manager = \"nobody\"");
    let err = TenantFile::parse(&text)
        .unwrap()
        .into_world(Utc::now())
        .unwrap_err();
    assert!(err.contains("unknown user `nobody`"), "{err}");
}
