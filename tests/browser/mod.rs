//! Headless Chromium driven over WebDriver for the console's browser test:
//! chromedriver as a child process on a free port, one fresh profile per
//! browser, and waits that poll a condition with a bounded timeout.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use stagegate_lab::launch::Launched;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long any one step of the story may take.
const STEP: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

/// Where screenshots go: `$CARGO_TARGET_DIR/console-artifacts` or
/// `target/console-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("console-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls `check` until it answers `Some`, for at most [`STEP`].
pub async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {STEP:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// A chromedriver child process, killed (by its pid) on drop.
pub struct Chromedriver {
    child: Child,
    url: String,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Chromedriver {
    /// Starts chromedriver and waits until it reports ready; `None` when
    /// chromedriver or Chromium is not installed.
    pub async fn start() -> Option<Self> {
        if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let status = format!("{}/status", driver.url);
        until("chromedriver to be ready", || async {
            let answer = reqwest::get(&status).await.ok()?;
            let body: serde_json::Value = answer.json().await.ok()?;
            (body["value"]["ready"] == true).then_some(())
        })
        .await;
        Some(driver)
    }
}

/// One headless Chromium session on the console.
pub struct Browser {
    client: Client,
    bot_url: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A fresh browser profile on the console of `launched`, live (its
    /// event stream connected).
    pub async fn open(driver: &Chromedriver, launched: &Launched) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                    "--window-size=1600,1800",
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("a Chromium session");
        client
            .goto(&format!("{}/", launched.sim_url))
            .await
            .unwrap();
        let browser = Self {
            client,
            bot_url: launched.bot_url.clone(),
            _profile: profile,
        };
        browser.wait_for("#live.on").await;
        browser.wait_for("#persona-tabs button").await;
        browser
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }

    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(path, png).unwrap();
        println!("screenshot: {}", path.display());
    }

    pub async fn wait_for(&self, css: &str) {
        until(css, || async {
            self.client.find(Locator::Css(css)).await.ok().map(|_| ())
        })
        .await;
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map_or(0, |all| all.len())
    }

    /// Waits until the text of `css` contains `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str) {
        until(&format!("{needle:?} in {css}"), || async {
            let element = self.client.find(Locator::Css(css)).await.ok()?;
            let text = element.text().await.ok()?;
            text.contains(needle).then_some(())
        })
        .await;
    }

    /// Clicks `css` (retrying while the page re-renders it).
    pub async fn click(&self, css: &str) {
        until(&format!("a clickable {css}"), || async {
            let element = self.client.find(Locator::Css(css)).await.ok()?;
            element.click().await.ok()
        })
        .await;
    }

    /// Types `text` into the input `css`, until it holds exactly `text`.
    pub async fn type_into(&self, css: &str, text: &str) {
        until(&format!("{css} to hold {text:?}"), || async {
            let element = self.client.find(Locator::Css(css)).await.ok()?;
            element.clear().await.ok()?;
            element.send_keys(text).await.ok()?;
            let value = element.prop("value").await.ok()??;
            (value == text).then_some(())
        })
        .await;
    }

    pub async fn select(&self, css: &str, value: &str) {
        until(&format!("{value} chosen in {css}"), || async {
            let element = self.client.find(Locator::Css(css)).await.ok()?;
            element.select_by_value(value).await.ok()?;
            let chosen = element.prop("value").await.ok()??;
            (chosen == value).then_some(())
        })
        .await;
    }

    /// Switches the console to persona `key`.
    pub async fn pick(&self, key: &str) {
        self.click(&format!("#persona-tabs button[data-persona={key}]"))
            .await;
        self.wait_for(&format!(
            "#persona-tabs button.selected[data-persona={key}]"
        ))
        .await;
    }

    /// Waits for a sign-in button beyond the `before` already shown, clicks
    /// the newest, and signs in as `persona` in the window it opens (with
    /// the number-matching MFA step when Entra asks for it).
    pub async fn sign_in_with_newest(&self, buttons: &str, before: usize, persona: &str) {
        let main = self.client.window().await.unwrap();
        until(&format!("a new sign-in button ({buttons})"), || async {
            let all = self.client.find_all(Locator::Css(buttons)).await.ok()?;
            if all.len() <= before {
                return None;
            }
            all.last()?.click().await.ok()
        })
        .await;
        let popup = until("the sign-in window", || async {
            let windows = self.client.windows().await.ok()?;
            windows.into_iter().find(|w| *w != main)
        })
        .await;
        self.client.switch_to_window(popup).await.unwrap();
        let callback = format!("{}/auth/callback", self.bot_url);
        until(&format!("{persona} signed in"), || async {
            let url = self.client.current_url().await.ok()?;
            if url.as_str().starts_with(&callback) {
                return Some(());
            }
            self.sign_in_step(persona).await;
            None
        })
        .await;
        let body = self.client.find(Locator::Css("body")).await.unwrap();
        let text = body.text().await.unwrap_or_default();
        // The next sign-in must show the picker, not reuse this session.
        self.client.delete_all_cookies().await.unwrap();
        self.client.close_window().await.unwrap();
        self.client.switch_to_window(main).await.unwrap();
        assert!(
            !text.to_lowercase().contains("error"),
            "the bot's callback page says: {text}"
        );
    }

    /// Acts on whichever emulated Entra page is showing (account picker,
    /// MFA number matching, consent); does nothing while a page loads.
    async fn sign_in_step(&self, persona: &str) {
        let c = &self.client;
        // The bot's page naming the chat account being linked.
        if let Ok(button) = c.find(Locator::Css("button#continue")).await {
            let _ = button.click().await;
            return;
        }
        let radio = format!("input[name=persona][value={persona}]");
        if let Ok(choice) = c.find(Locator::Css(&radio)).await {
            if choice.click().await.is_ok()
                && let Ok(button) = c.find(Locator::Css("button[value=signin]")).await
            {
                let _ = button.click().await;
            }
            return;
        }
        if let Ok(number) = c.find(Locator::Css("#mfa-number")).await {
            let Ok(number) = number.text().await else {
                return;
            };
            if let Ok(input) = c.find(Locator::Css("input[name=number]")).await
                && input.clear().await.is_ok()
                && input.send_keys(number.trim()).await.is_ok()
                && let Ok(button) = c.find(Locator::Css("button[value=approve]")).await
            {
                let _ = button.click().await;
            }
            return;
        }
        if let Ok(accept) = c.find(Locator::Css("button[value=accept]")).await {
            let _ = accept.click().await;
        }
    }
}
