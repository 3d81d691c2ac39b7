//! `stagegate discover`: reads the tenant's access packages with the app's
//! own Graph permissions and writes a ready-to-paste `[[engine.packages]]`
//! block for each, every id filled in, so nobody copies ids from the portal.

pub(crate) mod read;
mod render;

use crate::config::Settings;

pub use render::suggest_alias;

/// Reads the tenant and returns the TOML to paste into `stagegate.toml`.
/// `only` keeps packages whose display name contains it (any case) or whose
/// id is it.
pub async fn discover(settings: &Settings, only: Option<&str>) -> anyhow::Result<String> {
    let (_, graph) = crate::app::build::clients(settings, crate::metrics::Recorder::default())?;
    let mut packages = read::packages(&graph).await?;
    if let Some(only) = only {
        let needle = only.to_lowercase();
        packages.retain(|p| p.id == only || p.display_name.to_lowercase().contains(&needle));
        if packages.is_empty() {
            anyhow::bail!("no access package is named like `{only}` in this tenant");
        }
    }
    Ok(render::blocks(&packages))
}
