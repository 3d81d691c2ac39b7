//! `stagegate manifest teams|slack`: render and write the manifests.
//!
//! Values come from the flags, else from the environment and config file the
//! bot itself reads (`STAGEGATE_TEAMS__APP_ID`, `teams.app_id`, …), so an
//! operator whose config is done need not repeat it. Only the few keys used
//! here are read, leniently: generating a manifest must not require the
//! secrets a full `serve` config needs, and nothing read here is printed
//! except the values that go into the manifest.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use url::Url;

use super::inputs::page_url;
use super::{
    AppId, ManifestError, PublicUrl, TEAMS_MANIFEST_VERSION, TeamsOptions, UrlCheck,
    render_slack_manifest, teams_package,
};
use crate::config::ENV_PREFIX;

const DEFAULT_SIGN_IN_HOST: &str = "login.microsoftonline.com";
/// The schema's `developer.name` limit.
const DEVELOPER_NAME_MAX: usize = 32;

#[derive(Debug, Subcommand)]
pub enum ManifestTarget {
    /// Write the Teams app package: a zip of manifest.json, color.png and outline.png.
    Teams {
        /// The bot's Microsoft App ID (GUID). Default: teams.app_id from config.
        #[arg(long)]
        app_id: Option<String>,
        /// The bot's public https base URL. Default: server.public_base_url from config.
        #[arg(long)]
        public_url: Option<String>,
        /// Where to write the zip.
        #[arg(long, default_value = "stagegate-teams.zip")]
        out: PathBuf,
        /// TOML config file; defaults to ./stagegate.toml when it exists.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Publisher name shown in the Teams app details (at most 32 characters).
        #[arg(long, default_value = "stagegate")]
        developer_name: String,
        /// Publisher website (https). Default: the public URL.
        #[arg(long)]
        website_url: Option<String>,
        /// Privacy statement (https). Default: the website URL.
        #[arg(long)]
        privacy_url: Option<String>,
        /// Terms of use (https). Default: the website URL.
        #[arg(long)]
        terms_url: Option<String>,
    },
    /// Write the Slack app manifest (JSON).
    Slack {
        /// The bot's public https base URL. Default: server.public_base_url from config.
        #[arg(long)]
        public_url: Option<String>,
        /// Where to write the manifest; `-` writes it to standard output.
        #[arg(long, default_value = "slack-manifest.json")]
        out: PathBuf,
        /// TOML config file; defaults to ./stagegate.toml when it exists.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Runs `stagegate manifest …`.
pub fn run(target: ManifestTarget) -> anyhow::Result<()> {
    match target {
        ManifestTarget::Teams {
            app_id,
            public_url,
            out,
            config,
            developer_name,
            website_url,
            privacy_url,
            terms_url,
        } => {
            let defaults = Defaults::load(config.as_deref())?;
            let app_id = app_id_from(app_id, defaults.app_id)?;
            let public_url = public_url_from(public_url, defaults.public_url)?;
            let pages = Pages::resolve(website_url, privacy_url, terms_url, &public_url)?;
            let options = TeamsOptions {
                app_id,
                public_url,
                sign_in_host: defaults.sign_in_host,
                developer_name: checked_developer_name(&developer_name)?,
                website_url: pages.website,
                privacy_url: pages.privacy,
                terms_url: pages.terms,
            };
            write_teams_package(&options, &out)
        }
        ManifestTarget::Slack {
            public_url,
            out,
            config,
        } => {
            let defaults = Defaults::load(config.as_deref())?;
            let public_url = public_url_from(public_url, defaults.public_url)?;
            write_slack_manifest(&public_url, &out)
        }
    }
}

fn write_teams_package(options: &TeamsOptions, out: &Path) -> anyhow::Result<()> {
    let package = teams_package(options)?;
    write(out, &package)?;
    println!(
        "wrote {}: Teams app package (manifest {TEAMS_MANIFEST_VERSION}, version {}) \
         for bot {}",
        out.display(),
        env!("CARGO_PKG_VERSION"),
        options.app_id
    );
    println!(
        "next: set the Azure Bot's messaging endpoint to {}/api/teams/messages, \
         then upload the zip in Teams (Apps → Manage your apps → Upload an app) \
         or in the Teams admin center",
        options.public_url.origin()
    );
    Ok(())
}

fn write_slack_manifest(public_url: &PublicUrl, out: &Path) -> anyhow::Result<()> {
    let manifest = render_slack_manifest(public_url)?;
    let mut text =
        serde_json::to_string_pretty(&manifest).map_err(|source| ManifestError::Template {
            template: "Slack manifest",
            source,
        })?;
    text.push('\n');
    // `-` keeps standard output to the manifest alone, so it can be piped.
    if out.as_os_str() == "-" {
        print!("{text}");
    } else {
        write(out, text.as_bytes())?;
        println!(
            "wrote {}: Slack app manifest for {}",
            out.display(),
            public_url.origin()
        );
        println!(
            "next: create the app from this manifest (Your Apps → Create New App → \
             From a manifest), install it, and put its signing secret and bot token \
             in the [slack] config section"
        );
    }
    Ok(())
}

fn app_id_from(
    flag: Option<String>,
    fallback: Option<(String, String)>,
) -> Result<AppId, ManifestError> {
    match flag {
        Some(raw) => AppId::parse(&raw, "--app-id"),
        None => {
            let (raw, origin) = fallback.ok_or_else(|| {
                ManifestError::Input(format!(
                    "no app id: pass --app-id <GUID> or set teams.app_id in the \
                     config file (env {ENV_PREFIX}TEAMS__APP_ID)"
                ))
            })?;
            AppId::parse(&raw, &origin)
        }
    }
}

/// The publisher pages the Teams manifest requires; an operator without
/// separate privacy or terms pages can leave them to the website.
struct Pages {
    website: String,
    privacy: String,
    terms: String,
}

impl Pages {
    fn resolve(
        website: Option<String>,
        privacy: Option<String>,
        terms: Option<String>,
        public_url: &PublicUrl,
    ) -> Result<Self, ManifestError> {
        let website = match website {
            Some(raw) => checked_page(&raw, "--website-url")?,
            None => format!("{}/", public_url.origin()),
        };
        let privacy = match privacy {
            Some(raw) => checked_page(&raw, "--privacy-url")?,
            None => website.clone(),
        };
        let terms = match terms {
            Some(raw) => checked_page(&raw, "--terms-url")?,
            None => website.clone(),
        };
        Ok(Self {
            website,
            privacy,
            terms,
        })
    }
}

fn checked_developer_name(raw: &str) -> Result<String, ManifestError> {
    let name = raw.trim().to_owned();
    if name.is_empty() || name.chars().count() > DEVELOPER_NAME_MAX {
        return Err(ManifestError::Input(format!(
            "--developer-name must be 1 to {DEVELOPER_NAME_MAX} characters"
        )));
    }
    Ok(name)
}

fn public_url_from(
    flag: Option<String>,
    fallback: Option<(String, String)>,
) -> Result<PublicUrl, ManifestError> {
    let (raw, origin) = match flag {
        Some(raw) => (raw, "--public-url".to_owned()),
        None => fallback.ok_or_else(|| {
            ManifestError::Input(format!(
                "no public URL: pass --public-url https://<host> or set \
                 server.public_base_url in the config file (env \
                 {ENV_PREFIX}SERVER__PUBLIC_BASE_URL)"
            ))
        })?,
    };
    let (url, check) = PublicUrl::parse(&raw, &origin)?;
    warn_if_http(check, &origin);
    Ok(url)
}

fn checked_page(raw: &str, flag: &str) -> Result<String, ManifestError> {
    let (url, check) = page_url(raw, flag)?;
    warn_if_http(check, flag);
    Ok(url)
}

fn warn_if_http(check: UrlCheck, origin: &str) {
    if check == UrlCheck::LoopbackHttp {
        eprintln!(
            "warning: {origin} is plain http on this machine: fine for the sandbox or a \
             local test, but Teams and Slack only reach https endpoints"
        );
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ManifestError> {
    std::fs::write(path, bytes).map_err(|source| ManifestError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Values from the environment and config file, each with a label saying
/// where it came from so an error can point there.
struct Defaults {
    app_id: Option<(String, String)>,
    public_url: Option<(String, String)>,
    sign_in_host: String,
}

impl Defaults {
    fn load(config: Option<&Path>) -> Result<Self, ManifestError> {
        let file = match config {
            Some(path) => Some(path.to_owned()),
            None => Some(PathBuf::from("stagegate.toml")).filter(|p| p.exists()),
        };
        let table = match &file {
            Some(path) => read_table(path)?,
            None => toml::Table::new(),
        };
        let lookup = |section: &str,
                      key: &str|
         -> Result<Option<(String, String)>, ManifestError> {
            let var = format!(
                "{ENV_PREFIX}{}__{}",
                section.to_ascii_uppercase(),
                key.to_ascii_uppercase()
            );
            if let Some(value) = env_value(&var)? {
                return Ok(Some((value, var)));
            }
            let (Some(path), Some(value)) = (&file, table.get(section).and_then(|s| s.get(key)))
            else {
                return Ok(None);
            };
            let label = format!("{section}.{key} in {}", path.display());
            match value.as_str() {
                Some(text) => Ok(Some((text.to_owned(), label))),
                None => Err(ManifestError::Input(format!("{label} must be a string"))),
            }
        };
        let sign_in_host = match lookup("entra", "login_base_url")? {
            None => DEFAULT_SIGN_IN_HOST.to_owned(),
            Some((raw, label)) => Url::parse(raw.trim())
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .ok_or_else(|| {
                    ManifestError::Input(format!(
                        "{label} must be a URL like https://login.microsoftonline.com"
                    ))
                })?,
        };
        Ok(Self {
            app_id: lookup("teams", "app_id")?,
            public_url: lookup("server", "public_base_url")?,
            sign_in_host,
        })
    }
}

fn read_table(path: &Path) -> Result<toml::Table, ManifestError> {
    let config_error = |message: String| ManifestError::Config {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| config_error(e.to_string()))?;
    // toml's message quotes the offending line, and the file may hold
    // secrets, so only the position is reported.
    text.parse::<toml::Table>().map_err(|e| {
        let line = e
            .span()
            .and_then(|span| text.get(..span.start))
            .map(|before| before.matches('\n').count() + 1);
        config_error(match line {
            Some(line) => format!("not valid TOML (line {line})"),
            None => "not valid TOML".to_owned(),
        })
    })
}

/// `VAR`, or the contents of the file `VAR_FILE` names, like the bot's config.
fn env_value(var: &str) -> Result<Option<String>, ManifestError> {
    if let Ok(value) = std::env::var(var) {
        return Ok(Some(value));
    }
    let file_var = format!("{var}_FILE");
    let Ok(path) = std::env::var(&file_var) else {
        return Ok(None);
    };
    std::fs::read_to_string(&path)
        .map(|text| Some(text.trim_end_matches(['\r', '\n']).to_owned()))
        .map_err(|e| ManifestError::Input(format!("{file_var}: cannot read {path}: {e}")))
}
