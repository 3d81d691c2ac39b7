//! Following a sign-in link through the emulated Entra pages as a person
//! would: the bot's start link, the persona picker, the MFA number-match
//! step when Entra asks for one, and the redirect back to the bot.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use super::{ClientError, SimClient, unexpected, unreachable};

/// How a sign-in went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn {
    /// Whether Entra asked for (and got) the MFA step.
    pub mfa: bool,
}

/// A browser session: no redirects followed, one session cookie kept.
struct Browser<'a> {
    client: &'a SimClient,
    cookie: Option<String>,
}

impl Browser<'_> {
    async fn send(
        &mut self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let request = match &self.cookie {
            Some(c) => request.header(COOKIE, c),
            None => request,
        };
        let response = request.send().await.map_err(|e| unreachable(what, e))?;
        if let Some(c) = response
            .headers()
            .get(SET_COOKIE)
            .and_then(|c| c.to_str().ok())
        {
            self.cookie = c.split(';').next().map(str::to_owned);
        }
        Ok(response)
    }

    async fn get(&mut self, what: &str, url: &str) -> Result<reqwest::Response, ClientError> {
        let request = self.client.http.get(url);
        self.send(what, request).await
    }

    async fn post(
        &mut self,
        what: &str,
        url: &str,
        fields: &[(&str, &str)],
    ) -> Result<reqwest::Response, ClientError> {
        let request = self.client.http.post(url).form(fields);
        self.send(what, request).await
    }
}

fn location(what: &str, response: &reqwest::Response) -> Result<String, ClientError> {
    response
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| {
            unexpected(
                what,
                format!("HTTP {} without a redirect", response.status()),
            )
        })
}

/// `name="{name}" value="…"` in a page.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    html[start..].split('"').next().map(str::to_owned)
}

/// The number the MFA page asks the person to match.
fn mfa_number(html: &str) -> Option<String> {
    let marker = "id=\"mfa-number\">";
    let start = html.find(marker)? + marker.len();
    html[start..].split('<').next().map(str::to_owned)
}

impl SimClient {
    /// Whether `link` was already followed by this client.
    #[must_use]
    pub fn link_used(&self, link: &str) -> bool {
        self.used_links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .any(|l| l == link)
    }

    /// Follows sign-in `link` (from the bot's sign-in card) as `persona`,
    /// through the picker and the MFA step when asked, back to the bot.
    pub async fn sign_in(&self, link: &str, persona: &str) -> Result<SignedIn, ClientError> {
        self.used_links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(link.to_owned());
        let tenant = self.tenant().await?["tenantId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let step = |name: &str| self.url(&format!("/login/{tenant}/oauth2/v2.0/authorize/{name}"));
        let mut browser = Browser {
            client: self,
            cookie: None,
        };
        let start = browser.get("the sign-in link", link).await?;
        if start.status().as_u16() != 303 {
            return Err(unexpected(
                "the sign-in link",
                format!("HTTP {} instead of a redirect to Entra", start.status()),
            ));
        }
        let authorize = location("the sign-in link", &start)?;
        let page = browser.get("the Entra sign-in page", &authorize).await?;
        let html = page
            .text()
            .await
            .map_err(|e| unreachable("the Entra sign-in page", e))?;
        let ctx = hidden(&html, "ctx")
            .ok_or_else(|| unexpected("the Entra sign-in page", "no sign-in form"))?;
        let mut response = browser
            .post(
                "signing in",
                &step("signin"),
                &[("ctx", &ctx), ("persona", persona), ("action", "signin")],
            )
            .await?;
        let mut mfa = false;
        if response.status().as_u16() == 200 {
            let html = response
                .text()
                .await
                .map_err(|e| unreachable("the MFA page", e))?;
            let (Some(ctx), Some(number)) = (hidden(&html, "ctx"), mfa_number(&html)) else {
                return Err(unexpected(
                    "signing in",
                    "neither a redirect nor an MFA page",
                ));
            };
            mfa = true;
            response = browser
                .post(
                    "the MFA step",
                    &step("mfa"),
                    &[("ctx", &ctx), ("number", &number), ("action", "approve")],
                )
                .await?;
        }
        if response.status().as_u16() != 302 {
            return Err(unexpected(
                "signing in",
                format!(
                    "Entra answered HTTP {} instead of redirecting back",
                    response.status()
                ),
            ));
        }
        let callback = location("signing in", &response)?;
        let done = browser.get("the bot's sign-in callback", &callback).await?;
        if !done.status().is_success() {
            let status = done.status().as_u16();
            let body = done.text().await.unwrap_or_default();
            return Err(ClientError::Status {
                what: "the bot's sign-in callback".into(),
                status,
                body,
            });
        }
        Ok(SignedIn { mfa })
    }
}
