use proptest::prelude::*;

use super::*;
use crate::testkit::oid;

const REQUESTER: u8 = 0;
const MANAGER: u8 = 1;
const SKIP_MANAGER: u8 = 2;
const FALLBACK: u8 = 3;
const GROUP: u8 = 50;
const ESCALATE_TO: u8 = 4;

fn facts() -> DirectoryFacts {
    let mut f = DirectoryFacts::default();
    for n in [
        REQUESTER,
        MANAGER,
        SKIP_MANAGER,
        FALLBACK,
        ESCALATE_TO,
        5,
        6,
    ] {
        f.users.insert(oid(n), true);
    }
    f.managers.insert(oid(REQUESTER), oid(MANAGER));
    f.managers.insert(oid(MANAGER), oid(SKIP_MANAGER));
    f.group_members
        .insert(oid(GROUP), [oid(REQUESTER), oid(5), oid(6)].into());
    f
}

fn manager_stage(level: ManagerLevel) -> StageApprovers {
    StageApprovers {
        primary: vec![ApproverRule::RequestorManager(level)],
        fallback_primary: vec![ApproverRule::SingleUser(oid(FALLBACK))],
        escalation: None,
    }
}

fn ids(r: &Resolution) -> Vec<ObjectId> {
    r.ids()
}

#[test]
fn manager_levels_one_and_two() {
    let f = facts();
    let r = resolve_approvers(
        &manager_stage(ManagerLevel::Direct),
        &oid(REQUESTER),
        &f,
        Duration::zero(),
    );
    assert_eq!(
        r.approvers,
        [(oid(MANAGER), ApproverSource::Primary)].into()
    );
    let r = resolve_approvers(
        &manager_stage(ManagerLevel::SecondLevel),
        &oid(REQUESTER),
        &f,
        Duration::zero(),
    );
    assert_eq!(ids(&r), [oid(SKIP_MANAGER)]);
    assert_eq!(ManagerLevel::try_from(3), Err(3));
    assert_eq!(ManagerLevel::try_from(2), Ok(ManagerLevel::SecondLevel));
}

#[test]
fn fallback_when_the_manager_is_missing_or_disabled() {
    let mut f = facts();
    f.managers.remove(&oid(REQUESTER));
    let r = resolve_approvers(
        &manager_stage(ManagerLevel::Direct),
        &oid(REQUESTER),
        &f,
        Duration::zero(),
    );
    assert_eq!(
        r.approvers,
        [(oid(FALLBACK), ApproverSource::FallbackPrimary)].into()
    );
    assert_eq!(r.gaps, [RuleGap::NoManager(ManagerLevel::Direct)]);

    let mut f = facts();
    f.users.insert(oid(MANAGER), false);
    let r = resolve_approvers(
        &manager_stage(ManagerLevel::Direct),
        &oid(REQUESTER),
        &f,
        Duration::zero(),
    );
    assert_eq!(ids(&r), [oid(FALLBACK)]);
    assert_eq!(r.skipped, [(oid(MANAGER), SkipReason::Disabled)].into());
}

#[test]
fn group_members_exclude_the_requester_and_unknown_accounts() {
    let mut f = facts();
    f.group_members
        .get_mut(&oid(GROUP))
        .expect("group")
        .insert(oid(99));
    let stage = StageApprovers {
        primary: vec![ApproverRule::GroupMembers(oid(GROUP))],
        ..Default::default()
    };
    let r = resolve_approvers(&stage, &oid(REQUESTER), &f, Duration::zero());
    assert_eq!(ids(&r), [oid(5), oid(6)]);
    assert_eq!(r.skipped.get(&oid(REQUESTER)), Some(&SkipReason::Requester));
    assert_eq!(r.skipped.get(&oid(99)), Some(&SkipReason::Unknown));

    let stage = StageApprovers {
        primary: vec![ApproverRule::GroupMembers(oid(77))],
        ..Default::default()
    };
    let r = resolve_approvers(&stage, &oid(REQUESTER), &f, Duration::zero());
    assert!(r.approvers.is_empty(), "nobody, and no fallback configured");
    assert_eq!(r.gaps, [RuleGap::UnknownGroup(oid(77))]);
}

#[test]
fn requester_as_only_primary_approver_falls_back() {
    let f = facts();
    let stage = StageApprovers {
        primary: vec![ApproverRule::SingleUser(oid(REQUESTER))],
        fallback_primary: vec![ApproverRule::SingleUser(oid(FALLBACK))],
        escalation: None,
    };
    let r = resolve_approvers(&stage, &oid(REQUESTER), &f, Duration::zero());
    assert_eq!(
        r.approvers,
        [(oid(FALLBACK), ApproverSource::FallbackPrimary)].into()
    );
}

#[test]
fn sponsors() {
    let mut f = facts();
    f.sponsors.insert(oid(REQUESTER), vec![oid(6)]);
    f.external_sponsors = vec![oid(5)];
    let stage = StageApprovers {
        primary: vec![
            ApproverRule::TargetUserSponsors,
            ApproverRule::ExternalSponsors,
            ApproverRule::InternalSponsors,
        ],
        ..Default::default()
    };
    let r = resolve_approvers(&stage, &oid(REQUESTER), &f, Duration::zero());
    assert_eq!(ids(&r), [oid(5), oid(6)]);
    assert_eq!(
        r.gaps,
        [RuleGap::NoSponsors(ApproverRule::InternalSponsors)]
    );
}

#[test]
fn escalation_adds_approvers_only_once_due() {
    let f = facts();
    let mut stage = manager_stage(ManagerLevel::Direct);
    stage.escalation = Some(Escalation {
        after: Duration::hours(4),
        approvers: vec![ApproverRule::SingleUser(oid(ESCALATE_TO))],
        fallback: vec![ApproverRule::SingleUser(oid(6))],
    });
    let before = resolve_approvers(
        &stage,
        &oid(REQUESTER),
        &f,
        Duration::hours(4) - Duration::seconds(1),
    );
    assert_eq!(ids(&before), [oid(MANAGER)]);
    assert!(!before.escalated);
    let after = resolve_approvers(&stage, &oid(REQUESTER), &f, Duration::hours(4));
    assert!(after.escalated);
    assert_eq!(
        after.approvers,
        [
            (oid(MANAGER), ApproverSource::Primary),
            (oid(ESCALATE_TO), ApproverSource::Escalation)
        ]
        .into()
    );

    let mut f = facts();
    f.users.insert(oid(ESCALATE_TO), false);
    let r = resolve_approvers(&stage, &oid(REQUESTER), &f, Duration::days(1));
    assert_eq!(
        r.approvers.get(&oid(6)),
        Some(&ApproverSource::FallbackEscalation)
    );
    assert!(!r.approvers.contains_key(&oid(ESCALATE_TO)));
}

fn rule() -> impl Strategy<Value = ApproverRule> {
    prop_oneof![
        (1i32..=2).prop_map(|l| ApproverRule::RequestorManager(
            ManagerLevel::try_from(l).expect("1 or 2")
        )),
        (0u8..8).prop_map(|n| ApproverRule::SingleUser(oid(n))),
        (50u8..52).prop_map(|n| ApproverRule::GroupMembers(oid(n))),
        Just(ApproverRule::TargetUserSponsors),
    ]
}

fn random_facts() -> impl Strategy<Value = DirectoryFacts> {
    (
        prop::collection::btree_map(0u8..8, any::<bool>(), 0..8),
        prop::collection::btree_map(0u8..8, 0u8..8, 0..6),
        prop::collection::btree_map(50u8..52, prop::collection::btree_set(0u8..8, 0..5), 0..2),
        prop::collection::vec(0u8..8, 0..3),
    )
        .prop_map(|(users, managers, groups, sponsors)| DirectoryFacts {
            users: users.into_iter().map(|(u, e)| (oid(u), e)).collect(),
            managers: managers
                .into_iter()
                .map(|(u, m)| (oid(u), oid(m)))
                .collect(),
            group_members: groups
                .into_iter()
                .map(|(g, m)| (oid(g), m.into_iter().map(oid).collect()))
                .collect(),
            sponsors: [(oid(0), sponsors.into_iter().map(oid).collect())].into(),
            ..Default::default()
        })
}

proptest! {
    #[test]
    fn approvers_are_enabled_never_the_requester_and_fallback_only_when_needed(
        primary in prop::collection::vec(rule(), 0..3),
        fallback in prop::collection::vec(rule(), 0..3),
        escalation in prop::collection::vec(rule(), 0..3),
        facts in random_facts(),
        hours in 0i64..10,
    ) {
        let stage = StageApprovers {
            primary: primary.clone(),
            fallback_primary: fallback,
            escalation: Some(Escalation { after: Duration::hours(5), approvers: escalation, fallback: vec![] }),
        };
        let requester = oid(0);
        let r = resolve_approvers(&stage, &requester, &facts, Duration::hours(hours));
        for id in r.approvers.keys() {
            prop_assert_ne!(*id, requester);
            prop_assert_eq!(facts.users.get(id), Some(&true));
        }
        let primary_only = resolve_approvers(
            &StageApprovers { primary, ..Default::default() }, &requester, &facts, Duration::zero());
        let used_fallback = r.approvers.values().any(|s| *s == ApproverSource::FallbackPrimary);
        prop_assert_eq!(used_fallback && !primary_only.approvers.is_empty(), false);
        prop_assert_eq!(r.escalated, hours >= 5);
        let escalation_used = r.approvers.values().any(|s| *s >= ApproverSource::Escalation);
        prop_assert!(!escalation_used || r.escalated);
    }
}
