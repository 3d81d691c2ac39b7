//! `stagegate doctor`: a read-only preflight of the configured tenant. Each
//! finding has a stable code, a severity, what was seen and how to fix it;
//! the exit status is 0 (clean), 1 (warnings) or 2 (errors).

mod packages;
mod report;

pub use report::{Finding, Report, Severity};

use crate::config::Settings;
use crate::graph::GraphError;

/// Runs every check against the tenant `settings` name.
pub async fn doctor(settings: &Settings) -> anyhow::Result<Report> {
    let (_, graph) = crate::app::build::clients(settings, crate::metrics::Recorder::default())?;
    let mut report = Report::default();
    if settings.engine.packages.is_empty() {
        report.push(Finding::new(
            "no-packages",
            Severity::Error,
            "engine.packages",
            "the config names no access package, so nobody can request anything",
            "run `stagegate discover` and paste its blocks into the config",
        ));
    }
    for package in &settings.engine.packages {
        match packages::check(&graph, package, &mut report).await {
            Ok(()) => {}
            // Credentials: nothing else can be read, so say it once and stop.
            Err(GraphError::Token(why) | GraphError::Unauthorized { message: why, .. }) => {
                report.push(Finding::new(
                    "credentials",
                    Severity::Error,
                    "entra",
                    &format!("no Graph access with the app's credentials: {why}"),
                    "check entra.tenant_id, entra.client_id and the client secret \
                     (Entra portal → App registrations → Certificates & secrets)",
                ));
                break;
            }
            Err(GraphError::Forbidden { message, .. }) => report.push(Finding::new(
                "permission-missing",
                Severity::Error,
                &package.alias,
                &format!("Graph refused a read: {message}"),
                "grant the app the application permissions in docs/deploy.md and \
                 admin consent (App registrations → API permissions)",
            )),
            Err(other) => return Err(other.into()),
        }
    }
    Ok(report)
}
