//! The Teams app package: `manifest.json`, `color.png` and `outline.png` at
//! the root of a zip, which is what Teams' "Upload a custom app" and the
//! Teams admin center accept.

use std::io::{Cursor, Write};

use serde_json::Value;
use zip::write::SimpleFileOptions;

use super::{AppId, ManifestError, PublicUrl, fill};

pub const TEAMS_TEMPLATE: &str = include_str!("../../manifests/teams/manifest.template.json");
/// 192×192, full colour.
pub const COLOR_ICON: &[u8] = include_bytes!("../../manifests/teams/color.png");
/// 32×32, white on transparent.
pub const OUTLINE_ICON: &[u8] = include_bytes!("../../manifests/teams/outline.png");
/// The schema the template is written against (docs/architecture.md, "Teams
/// app manifest": v1.30 is the latest GA schema).
pub const TEAMS_MANIFEST_VERSION: &str = "1.30";

/// Everything a Teams manifest varies by between deployments.
#[derive(Clone, Debug)]
pub struct TeamsOptions {
    /// The bot's Microsoft App ID. It is both `bots[0].botId` and the app's
    /// own `id`: for a bot-only app Teams links the two, and one id means one
    /// thing for an operator to copy.
    pub app_id: AppId,
    pub public_url: PublicUrl,
    /// Host of the Entra sign-in pages the `/auth/*` link pages send people
    /// to (`login.microsoftonline.com`, or a national cloud's).
    pub sign_in_host: String,
    pub developer_name: String,
    pub website_url: String,
    pub privacy_url: String,
    pub terms_url: String,
}

/// The filled-in `manifest.json`.
///
/// `webApplicationInfo` names the bot's Entra app (`id` = the App ID,
/// `resource` = `api://botid-{id}`): Microsoft requires it for the
/// `TeamsAppInstallation.ReadWriteSelfForUser.All` permission, whose "self"
/// is the app it names — the bot installs its own app for approvers who
/// never opened it (docs/deploy.md). stagegate does not use Teams SSO (the
/// `signin/tokenExchange` flow) and asks Teams for no token: people link
/// their account through the bot's own authorization-code + PKCE pages.
pub fn render_teams_manifest(options: &TeamsOptions) -> Result<Value, ManifestError> {
    let mut manifest = fill(
        "Teams manifest",
        TEAMS_TEMPLATE,
        &[
            ("BOT_APP_ID", options.app_id.as_str()),
            ("PUBLIC_HOST", options.public_url.host()),
            ("SIGN_IN_HOST", &options.sign_in_host),
            ("VERSION", env!("CARGO_PKG_VERSION")),
            ("DEVELOPER_NAME", &options.developer_name),
            ("WEBSITE_URL", &options.website_url),
            ("PRIVACY_URL", &options.privacy_url),
            ("TERMS_URL", &options.terms_url),
        ],
    )?;
    // The sign-in host and the public host coincide in the sandbox (both on
    // loopback); list each domain once.
    if let Some(Value::Array(domains)) = manifest.get_mut("validDomains") {
        let mut seen = std::collections::HashSet::new();
        domains.retain(|d| seen.insert(d.as_str().map(str::to_ascii_lowercase)));
    }
    Ok(manifest)
}

/// The app package: the zip bytes Teams accepts as a custom app.
pub fn teams_package(options: &TeamsOptions) -> Result<Vec<u8>, ManifestError> {
    let manifest = render_teams_manifest(options)?;
    let manifest =
        serde_json::to_vec_pretty(&manifest).map_err(|source| ManifestError::Template {
            template: "Teams manifest",
            source,
        })?;
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let deflated =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in [
        ("manifest.json", manifest.as_slice()),
        ("color.png", COLOR_ICON),
        ("outline.png", OUTLINE_ICON),
    ] {
        zip.start_file(name, deflated)?;
        zip.write_all(bytes).map_err(zip::result::ZipError::Io)?;
    }
    Ok(zip.finish()?.into_inner())
}
