//! The bot wired to the emulators: the settings, clock and shared secrets
//! that point a bot at a sandbox. The sandbox knows nothing of the bot's
//! types; this is the one place the two meet.

use std::net::SocketAddr;

use secrecy::SecretString;
use stagegate::config::{
    DatabaseSettings, EngineSettings, EntraSettings, GraphSettings, IdentitySettings,
    IntakeSettings, LogSettings, PackageSettings, SecurityChannelSettings, ServerSettings,
    Settings, SlackSettings, TeamsSettings,
};
use stagegate::time::FnClock;
use stagegate_sandbox::world::{Question, World};
use stagegate_sandbox::{FixedSecrets, Sandbox, SimState};

/// What a sandbox offers the bot it runs against.
pub trait BotWiring {
    /// Settings that point the bot at this sandbox.
    fn bot_settings(&self, bind: SocketAddr, database: std::path::PathBuf) -> Settings;
    /// Refuses a bot config whose app registration is not this tenant's.
    fn check_bot_config(&self, settings: &Settings) -> anyhow::Result<()>;
    /// The bot's clock in the sandbox: the emulated one.
    fn bot_clock(&self) -> FnClock;
}

impl BotWiring for Sandbox {
    fn bot_settings(&self, bind: SocketAddr, database: std::path::PathBuf) -> Settings {
        self.state.bot_settings(bind, database)
    }

    fn check_bot_config(&self, settings: &Settings) -> anyhow::Result<()> {
        self.state.check_bot_config(settings)
    }

    fn bot_clock(&self) -> FnClock {
        self.state.bot_clock()
    }
}

impl BotWiring for SimState {
    /// Settings that point the bot at this sandbox.
    fn bot_settings(&self, bind: SocketAddr, database: std::path::PathBuf) -> Settings {
        let vault_key = sandbox_vault_key(&database);
        // Read before the world is locked: the two locks are never held together.
        let slack_security = self.slack.security_channel_id();
        let world = self.world();
        Settings {
            server: ServerSettings {
                bind,
                public_base_url: format!("http://{bind}"),
                // Any free port: several bots (tests, chaos) share a host.
                metrics_bind: Some(SocketAddr::new(bind.ip(), 0)),
                ..ServerSettings::default()
            },
            database: DatabaseSettings {
                path: database,
                ..DatabaseSettings::default()
            },
            log: LogSettings::default(),
            entra: EntraSettings {
                tenant_id: world.tenant_id.clone(),
                client_id: world.app.client_id.clone(),
                client_secret: SecretString::from(world.app.client_secret.clone()),
                login_base_url: self.login_base_url(),
            },
            identity: IdentitySettings {
                vault_keys: [("sandbox".to_owned(), vault_key)].into(),
                vault_primary_key: "sandbox".into(),
                link_ttl_seconds: 600,
                scopes: stagegate::config::default_delegated_scopes(),
                slack_email_domains: Default::default(),
            },
            graph: GraphSettings {
                base_url: self.graph_url(""),
                ..GraphSettings::default()
            },
            engine: EngineSettings {
                // Alerts reach the security channel on both platforms.
                security_channels: [
                    Some(SecurityChannelSettings {
                        platform: "teams".into(),
                        channel: stagegate_sandbox::teams::store::ALERTS_CHANNEL_ID.into(),
                    }),
                    slack_security.map(|channel| SecurityChannelSettings {
                        platform: "slack".into(),
                        channel,
                    }),
                ]
                .into_iter()
                .flatten()
                .collect(),
                ..self.engine_settings(&world)
            },
            teams: Some(TeamsSettings {
                app_id: world.app.client_id.clone(),
                app_password: SecretString::from(world.app.client_secret.clone()),
                openid_metadata_url: stagegate_sandbox::teams::metadata::openid_metadata_url(self),
                service_url: format!("{}/teams/", self.base_url),
                security_channel: Some(stagegate_sandbox::teams::store::ALERTS_CHANNEL_ID.into()),
                dev_no_auth: false,
            }),
            slack: Some(SlackSettings {
                signing_secret: SecretString::from(self.slack.signing_secret().to_owned()),
                bot_token: SecretString::from(self.slack.bot_token().to_owned()),
                api_base_url: format!("{}/slack/api", self.base_url),
                app_id: self.slack.app_id.clone(),
                team_ids: vec![self.slack.team_id.clone()],
                response_url_base: stagegate_sandbox::slack::SlackSim::hook_url(&self.base_url, ""),
            }),
            intake: self.intake_settings(&world),
        }
    }

    /// Refuses a bot config whose app registration is not this tenant's
    /// (the bot would be refused at its first token request otherwise).
    fn check_bot_config(&self, settings: &Settings) -> anyhow::Result<()> {
        use secrecy::ExposeSecret;
        let world = self.world();
        if settings.entra.tenant_id != world.tenant_id
            || settings.entra.client_id != world.app.client_id
            || settings.entra.client_secret.expose_secret() != world.app.client_secret
        {
            anyhow::bail!(
                "the config's [entra] tenant_id / client_id / client_secret are not the tenant file's app registration"
            );
        }
        Ok(())
    }

    /// The bot's clock in the sandbox: the emulated clock, waking sleepers
    /// (subscription renewal) when it is advanced.
    fn bot_clock(&self) -> FnClock {
        let state = self.clone();
        FnClock::new(move || state.clock.now()).with_jumps(self.clock.subscribe())
    }
}

/// The parts of [`BotWiring::bot_settings`] read from the tenant.
trait TenantSettings {
    fn intake_settings(&self, world: &World) -> IntakeSettings;
    fn engine_settings(&self, world: &World) -> EngineSettings;
}

impl TenantSettings for SimState {
    /// The bot's intake against this sandbox: a subscription on every
    /// PIM-managed group's members, and secrets for notifications and the
    /// callout relay (fresh per sandbox; the relay is pointed at the bot by
    /// [`SimState::relay_callouts_to`] once the bot's port is known).
    fn intake_settings(&self, world: &World) -> IntakeSettings {
        IntakeSettings {
            client_state: Some(SecretString::from(self.intake_client_state().to_owned())),
            callout_secret: Some(SecretString::from(self.callout_secret().to_owned())),
            privileged_groups: world
                .groups
                .values()
                .filter(|g| g.pim.is_some())
                .map(|g| g.id.clone())
                .collect(),
            ..Default::default()
        }
    }

    fn engine_settings(&self, world: &World) -> EngineSettings {
        let packages = world
            .access_packages
            .values()
            .filter_map(|p| {
                let policy = world
                    .policies
                    .values()
                    .find(|x| x.access_package_id == p.id)?;
                let (question, pattern) = policy.questions.iter().find_map(|q| match q {
                    Question::TextInput {
                        id, regex_pattern, ..
                    } => Some((id.clone(), regex_pattern.clone())),
                    Question::MultipleChoice { .. } => None,
                })?;
                let group = world.groups.get(p.grants_member_of.as_deref()?)?;
                let role = group
                    .pim
                    .as_ref()
                    .and_then(|pim| pim.eligible_role_ids.first())
                    .and_then(|r| world.roles.get(r))
                    .map(|r| r.display_name.clone());
                // The question's own pattern is anchored (`^…$`); the
                // catalog anchors again, which is harmless.
                let pattern = pattern.unwrap_or_else(|| "[A-Za-z0-9-]+".into());
                Some(PackageSettings {
                    alias: p.key.clone(),
                    display_name: p.display_name.clone(),
                    access_package_id: p.id.clone(),
                    policy_id: policy.id.clone(),
                    ticket_question_id: question,
                    ticket_pattern: pattern,
                    group_id: group.id.clone(),
                    role,
                    ticket_system: "ITSM".into(),
                    justification_required: policy
                        .request_approval_settings
                        .is_requestor_justification_required,
                    hidden: p.is_hidden,
                    approval_requires_mfa: false,
                    approval_mfa_max_age_minutes: 10,
                })
            })
            .collect();
        EngineSettings {
            packages,
            ..EngineSettings::default()
        }
    }
}

/// The sandbox bot's vault key, kept beside its database so links survive a
/// restart of `stagegate sandbox` (created on first use, owner-only).
fn sandbox_vault_key(database: &std::path::Path) -> SecretString {
    use base64::Engine;
    let path = database.with_extension("vault-key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return SecretString::from(existing.trim().to_owned());
    }
    let key: [u8; 32] = rand::random();
    let encoded = base64::engine::general_purpose::STANDARD.encode(key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    if let Ok(mut file) = options.open(&path) {
        use std::io::Write;
        let _ = file.write_all(encoded.as_bytes());
    }
    SecretString::from(encoded)
}

/// The secrets of a bot config meant for the sandbox's emulators; every
/// one must be present.
pub fn fixed_secrets(settings: &Settings) -> anyhow::Result<FixedSecrets> {
    use secrecy::ExposeSecret;
    let expose = |s: &SecretString| s.expose_secret().to_owned();
    let slack = settings
        .slack
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the config has no [slack] section"))?;
    let need = |value: &Option<SecretString>, key: &str| {
        value
            .as_ref()
            .map(expose)
            .ok_or_else(|| anyhow::anyhow!("the config sets no {key}"))
    };
    Ok(FixedSecrets {
        slack_bot_token: expose(&slack.bot_token),
        slack_signing_secret: expose(&slack.signing_secret),
        intake_client_state: need(&settings.intake.client_state, "intake.client_state")?,
        callout_secret: need(&settings.intake.callout_secret, "intake.callout_secret")?,
    })
}
