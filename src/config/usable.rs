//! A config that loads but cannot work: the example's all-zero ids, no chat
//! platform, no access package. `serve` refuses it, naming each problem,
//! rather than start and answer nobody.

use super::Settings;

const NIL_GUID: &str = "00000000-0000-0000-0000-000000000000";

impl Settings {
    /// What makes this config unable to serve anyone, in plain words with
    /// the key to fix; empty when it can. `chat_platforms` counts the chat
    /// adapters the bot will run (configured or brought by the caller).
    pub fn unusable(&self, chat_platforms: usize) -> Vec<String> {
        let mut problems = Vec::new();
        if self.entra.tenant_id == NIL_GUID {
            problems.push(
                "entra.tenant_id is the example's all-zero id: put your directory (tenant) id \
                 (Entra portal → Overview → Tenant ID)"
                    .to_owned(),
            );
        }
        if self.entra.client_id == NIL_GUID {
            problems.push(
                "entra.client_id is the example's all-zero id: put the application (client) id \
                 of stagegate's app registration"
                    .to_owned(),
            );
        }
        if chat_platforms == 0 {
            problems.push(
                "no chat platform: add a [teams] or a [slack] section, or both \
                 (docs/deploy.md), so people can request and decide"
                    .to_owned(),
            );
        }
        if self.engine.packages.is_empty() {
            problems.push(
                "no access package in [[engine.packages]]: nobody could request anything \
                 (`stagegate discover` prints the blocks to paste)"
                    .to_owned(),
            );
        }
        problems
    }
}
