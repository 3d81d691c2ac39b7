//! What every workflow reads: the ports to the outside (store, Graph,
//! identity links, chat platforms, clock) and the configured packages.
//! Built once at start-up and never changed, so it needs no locking.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::time::Clock;
use super::{EngineDeps, EngineError, PackageInfo};
use crate::chat::port::ChatPort;
use crate::config::{EngineSettings, PackageSettings};
use crate::graph::GraphClient;
use crate::identity::link::LinkService;
use crate::store::Store;
use stagegate_domain::catalog::{PackageCatalog, PackageEntry, TicketRule};
use stagegate_domain::ids::Alias;

pub(super) struct Context {
    pub(super) settings: EngineSettings,
    pub(super) store: Arc<dyn Store>,
    pub(super) graph: GraphClient,
    pub(super) links: Arc<LinkService>,
    pub(super) ports: BTreeMap<String, Arc<dyn ChatPort>>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) catalog: PackageCatalog,
    pub(super) packages: Vec<PackageInfo>,
    /// The bot's metrics: where its Graph client counts.
    pub(super) metrics: crate::metrics::Recorder,
}

impl Context {
    pub(super) fn new(deps: EngineDeps) -> Result<Self, EngineError> {
        let packages = deps
            .settings
            .packages
            .iter()
            .map(package_info)
            .collect::<Result<Vec<_>, _>>()?;
        let catalog =
            PackageCatalog::new(packages.iter().map(|p| (p.alias.clone(), p.entry.clone())))
                .map_err(|e| EngineError::Config(e.to_string()))?;
        let ports = deps
            .ports
            .into_iter()
            .map(|p| (p.platform().as_str().to_owned(), p))
            .collect();
        Ok(Self {
            metrics: deps.graph.recorder().clone(),
            settings: deps.settings,
            store: deps.store,
            graph: deps.graph,
            links: deps.links,
            ports,
            clock: deps.clock,
            catalog,
            packages,
        })
    }
}

fn package_info(p: &PackageSettings) -> Result<PackageInfo, EngineError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        EngineError::Config(format!("engine.packages `{}`: {what}: {e}", p.alias))
    };
    let alias: Alias = p.alias.parse().map_err(|e| bad("alias", &e))?;
    let entry = PackageEntry {
        package: p
            .access_package_id
            .parse()
            .map_err(|e| bad("access_package_id", &e))?,
        policy: p.policy_id.parse().map_err(|e| bad("policy_id", &e))?,
        ticket_question: p
            .ticket_question_id
            .parse()
            .map_err(|e| bad("ticket_question_id", &e))?,
        ticket_rule: TicketRule::new(&p.ticket_pattern).map_err(|e| bad("ticket_pattern", &e))?,
        justification_required: p.justification_required,
        display_name: p.display_name.clone(),
        hidden: p.hidden,
    };
    Ok(PackageInfo {
        alias,
        entry,
        group: p.group_id.parse().map_err(|e| bad("group_id", &e))?,
        role: p.role.clone(),
        ticket_system: p.ticket_system.clone(),
        approval_mfa_max_age: match p.approval_mfa_max_age_minutes {
            _ if !p.approval_requires_mfa => None,
            m @ 1..=1440 => Some(chrono::Duration::minutes(i64::from(m))),
            m => {
                return Err(bad(
                    "approval_mfa_max_age_minutes",
                    &format!("{m} is outside 1–1440"),
                ));
            }
        },
    })
}
