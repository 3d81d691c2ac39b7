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

/// A browser: no redirects followed, its cookies kept (by name, for every
/// loopback server alike, as a browser keeps them per host). Tests use
/// separate browsers to play a person who forwards a link to another.
pub struct SignInBrowser<'a> {
    client: &'a SimClient,
    cookies: Vec<(String, String)>,
}

impl<'a> SignInBrowser<'a> {
    /// A browser with no cookies.
    #[must_use]
    pub fn new(client: &'a SimClient) -> Self {
        Self {
            client,
            cookies: Vec::new(),
        }
    }

    async fn send(
        &mut self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let request = if self.cookies.is_empty() {
            request
        } else {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request.header(COOKIE, jar.join("; "))
        };
        let response = request.send().await.map_err(|e| unreachable(what, e))?;
        for set in response.headers().get_all(SET_COOKIE) {
            let Some((name, value)) = set
                .to_str()
                .ok()
                .and_then(|c| c.split(';').next())
                .and_then(|c| c.split_once('='))
            else {
                continue;
            };
            self.cookies.retain(|(k, _)| k != name.trim());
            if !value.is_empty() {
                self.cookies
                    .push((name.trim().to_owned(), value.to_owned()));
            }
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

    /// Opens the bot's sign-in `link`, reads whose chat account it is for
    /// and presses Continue: returns the page's text and the Entra
    /// authorize URL the bot redirected to.
    pub async fn open_link(&mut self, link: &str) -> Result<(String, String), ClientError> {
        let what = "the sign-in link";
        let page = self.get(what, link).await?;
        let status = page.status().as_u16();
        let html = page.text().await.map_err(|e| unreachable(what, e))?;
        if status != 200 {
            return Err(ClientError::Status {
                what: what.into(),
                status,
                body: html,
            });
        }
        let token =
            hidden(&html, "t").ok_or_else(|| unexpected(what, "no Continue form on the page"))?;
        let start = link.split('?').next().unwrap_or(link);
        let what = "continuing to Microsoft sign-in";
        let answer = self.post(what, start, &[("t", &token)]).await?;
        if answer.status().as_u16() != 303 {
            return Err(unexpected(
                what,
                format!("HTTP {} instead of a redirect to Entra", answer.status()),
            ));
        }
        Ok((html, location(what, &answer)?))
    }

    /// Signs in at Entra's `authorize` URL as `persona` (the MFA step
    /// when asked): returns the callback URL Entra redirects to.
    pub async fn sign_in_at_entra(
        &mut self,
        authorize: &str,
        persona: &str,
    ) -> Result<(String, SignedIn), ClientError> {
        let tenant = self.client.tenant().await?["tenantId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let step = |name: &str| {
            self.client
                .url(&format!("/login/{tenant}/oauth2/v2.0/authorize/{name}"))
        };
        let (signin, mfa_step) = (step("signin"), step("mfa"));
        let page = self.get("the Entra sign-in page", authorize).await?;
        let html = page
            .text()
            .await
            .map_err(|e| unreachable("the Entra sign-in page", e))?;
        let ctx = hidden(&html, "ctx")
            .ok_or_else(|| unexpected("the Entra sign-in page", "no sign-in form"))?;
        let mut response = self
            .post(
                "signing in",
                &signin,
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
            response = self
                .post(
                    "the MFA step",
                    &mfa_step,
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
        Ok((location("signing in", &response)?, SignedIn { mfa }))
    }

    /// Follows Entra's redirect back to the bot: the status and page text.
    pub async fn finish(&mut self, callback: &str) -> Result<(u16, String), ClientError> {
        let what = "the bot's sign-in callback";
        let done = self.get(what, callback).await?;
        let status = done.status().as_u16();
        let body = done.text().await.map_err(|e| unreachable(what, e))?;
        Ok((status, body))
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
    /// through the confirmation page, the picker and the MFA step when
    /// asked, back to the bot.
    pub async fn sign_in(&self, link: &str, persona: &str) -> Result<SignedIn, ClientError> {
        self.used_links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(link.to_owned());
        let mut browser = SignInBrowser::new(self);
        let (_, authorize) = browser.open_link(link).await?;
        let (callback, signed) = browser.sign_in_at_entra(&authorize, persona).await?;
        let (status, body) = browser.finish(&callback).await?;
        if !(200..300).contains(&status) {
            return Err(ClientError::Status {
                what: "the bot's sign-in callback".into(),
                status,
                body,
            });
        }
        Ok(signed)
    }
}
