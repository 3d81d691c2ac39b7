//! `World::sync_pim`: what entitlement-management delivery and the passing
//! of time mean for PIM for Groups. Runs on every world access, after the
//! request lifecycle; idempotent.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{DirectGrant, EligibilitySchedule};
use crate::world::World;

impl World {
    /// Makes PIM agree with entitlement management at `now`:
    /// - every delivered, unexpired assignment of a package whose group is
    ///   PIM-managed holds a `member` eligibility schedule (id stable per
    ///   assignment, start/end those of the assignment);
    /// - packages granting a non-PIM group give direct membership instead;
    /// - when the assignment expires or is removed, the eligibility ends, and
    ///   so does any activation based on it (our choice: PIM documents that
    ///   removing an eligible assignment ends access, and a privileged
    ///   activation outliving the approved request it came from is exactly
    ///   what the security channel must never see);
    /// - activations whose start has come are provisioned (the principal is
    ///   added to the group), those past their end are removed (the
    ///   principal leaves `members`, which emits the notification event).
    pub(crate) fn sync_pim(&mut self, now: DateTime<Utc>) {
        let (eligible, direct) = self.desired_grants(now);
        self.sync_eligibility(eligible, now);
        self.sync_direct_grants(direct);
        self.sync_schedules(now);
    }

    /// Eligibility schedules and direct grants that delivery implies now.
    fn desired_grants(
        &self,
        now: DateTime<Utc>,
    ) -> (
        BTreeMap<String, EligibilitySchedule>,
        BTreeMap<String, (String, String)>,
    ) {
        let mut eligible = BTreeMap::new();
        let mut direct = BTreeMap::new();
        for assignment in self.assignments.values() {
            let ended = assignment.end.is_some_and(|end| end <= now);
            if assignment.state != "delivered" || ended {
                continue;
            }
            let Some(group) = self
                .access_packages
                .get(&assignment.access_package_id)
                .and_then(|p| p.grants_member_of.as_deref())
                .and_then(|g| self.groups.get(g))
            else {
                continue;
            };
            if group.pim.is_none() {
                direct.insert(
                    assignment.id.clone(),
                    (group.id.clone(), assignment.target_id.clone()),
                );
                continue;
            }
            let id = format!("{}_member_{}", group.id, assignment.id);
            eligible.insert(
                id.clone(),
                EligibilitySchedule {
                    instance_id: format!("{}-1-e", assignment.id.replace('-', "")),
                    id,
                    group_id: group.id.clone(),
                    principal_id: assignment.target_id.clone(),
                    access_id: "member".into(),
                    start: assignment.start,
                    end: assignment.end,
                    created: now,
                    source_assignment_id: assignment.id.clone(),
                },
            );
        }
        (eligible, direct)
    }

    fn sync_eligibility(
        &mut self,
        desired: BTreeMap<String, EligibilitySchedule>,
        now: DateTime<Utc>,
    ) {
        let ended: Vec<String> = self
            .pim
            .eligibility
            .keys()
            .filter(|id| !desired.contains_key(*id))
            .cloned()
            .collect();
        for id in ended {
            self.pim.eligibility.remove(&id);
            let based_on_it: Vec<String> = self
                .pim
                .schedules
                .values()
                .filter(|s| s.activated_using.as_deref() == Some(id.as_str()))
                .map(|s| s.id.clone())
                .collect();
            for schedule_id in based_on_it {
                self.end_schedule(&schedule_id);
            }
        }
        for (id, schedule) in desired {
            match self.pim.eligibility.get_mut(&id) {
                // An extension of the package assignment moves the end;
                // creation time stays what it was.
                Some(existing) => {
                    existing.start = schedule.start;
                    existing.end = schedule.end;
                }
                None => {
                    self.pim.eligibility.insert(
                        id,
                        EligibilitySchedule {
                            created: now,
                            ..schedule
                        },
                    );
                }
            }
        }
    }

    fn sync_direct_grants(&mut self, desired: BTreeMap<String, (String, String)>) {
        let removed: Vec<String> = self
            .pim
            .direct_grants
            .keys()
            .filter(|id| !desired.contains_key(*id))
            .cloned()
            .collect();
        for id in removed {
            let Some(grant) = self.pim.direct_grants.remove(&id) else {
                continue;
            };
            let heir = self
                .pim
                .direct_grants
                .values_mut()
                .find(|g| g.group_id == grant.group_id && g.principal_id == grant.principal_id);
            match heir {
                // Another delivered assignment still grants it: it inherits
                // the duty to remove what this one added.
                Some(heir) => heir.added |= grant.added,
                None if grant.added => {
                    self.remove_member(&grant.group_id, &grant.principal_id);
                }
                None => {}
            }
        }
        for (id, (group_id, principal_id)) in desired {
            if self.pim.direct_grants.contains_key(&id) {
                continue;
            }
            let added = self.add_member(&group_id, &principal_id);
            self.pim.direct_grants.insert(
                id,
                DirectGrant {
                    group_id,
                    principal_id,
                    added,
                },
            );
        }
    }

    fn sync_schedules(&mut self, now: DateTime<Utc>) {
        let mut due_start = Vec::new();
        let mut due_end = Vec::new();
        for schedule in self.pim.schedules.values() {
            if schedule.end.is_some_and(|end| end <= now) {
                due_end.push(schedule.id.clone());
            } else if schedule.start <= now && !schedule.provisioned {
                due_start.push(schedule.id.clone());
            }
        }
        for id in due_start {
            self.provision_schedule(&id);
        }
        for id in due_end {
            self.end_schedule(&id);
        }
    }

    /// Puts the schedule's principal into the group (members or owners).
    pub(crate) fn provision_schedule(&mut self, schedule_id: &str) {
        let Some(schedule) = self.pim.schedules.get_mut(schedule_id) else {
            return;
        };
        if schedule.provisioned {
            return;
        }
        schedule.provisioned = true;
        let (group_id, principal_id, access_id) = (
            schedule.group_id.clone(),
            schedule.principal_id.clone(),
            schedule.access_id.clone(),
        );
        if access_id == "owner" {
            if let Some(group) = self.groups.get_mut(&group_id) {
                group.owners.insert(principal_id);
            }
        } else {
            self.add_member(&group_id, &principal_id);
        }
    }

    /// Removes a schedule; the principal leaves the group unless another
    /// provisioned schedule still holds the same access.
    pub(crate) fn end_schedule(&mut self, schedule_id: &str) {
        let Some(schedule) = self.pim.schedules.remove(schedule_id) else {
            return;
        };
        if !schedule.provisioned {
            return;
        }
        let still_held = self.pim.schedules.values().any(|s| {
            s.provisioned
                && s.group_id == schedule.group_id
                && s.principal_id == schedule.principal_id
                && s.access_id == schedule.access_id
        });
        if still_held {
            return;
        }
        if schedule.access_id == "owner" {
            if let Some(group) = self.groups.get_mut(&schedule.group_id) {
                group.owners.remove(&schedule.principal_id);
            }
        } else {
            self.remove_member(&schedule.group_id, &schedule.principal_id);
        }
    }
}
