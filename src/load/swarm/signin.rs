//! A person's browser following a sign-in link through the emulated Entra
//! pages (persona picker, MFA number match) back to the bot's callback: the
//! real authorization-code + PKCE flow, no shortcut.

use anyhow::{Context, bail};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// Follows `link` (the bot's `/auth/start…`) as `persona`: the
/// confirmation page's Continue, Entra's pages, and the callback with the
/// cookie the bot set.
pub async fn sign_in(
    http: &reqwest::Client,
    sim_url: &str,
    tenant: &str,
    link: &str,
    persona: &str,
) -> anyhow::Result<()> {
    let mut jar = Jar::default();
    let page = http.get(link).send().await.context("sign-in link")?;
    if page.status() != StatusCode::OK {
        bail!("sign-in link answered {}", page.status());
    }
    let token = hidden(&page.text().await?, "t")?;
    let start_url = link.split('?').next().unwrap_or(link);
    let start = http
        .post(start_url)
        .form(&[("t", token.as_str())])
        .send()
        .await
        .context("sign-in start")?;
    if start.status() != StatusCode::SEE_OTHER {
        bail!("sign-in start answered {}", start.status());
    }
    jar.keep(&start);
    let authorize = location(&start)?;
    let page = jar.send(http.get(&authorize)).await?;
    if page.status() != StatusCode::OK {
        bail!("authorize page answered {}", page.status());
    }
    let ctx = hidden(&page.text().await?, "ctx")?;
    let step = |name: &str| format!("{sim_url}/login/{tenant}/oauth2/v2.0/authorize/{name}");
    let form = [
        ("ctx", ctx.as_str()),
        ("persona", persona),
        ("action", "signin"),
    ];
    let mut answer = jar.send(http.post(step("signin")).form(&form)).await?;
    if answer.status() == StatusCode::OK {
        let html = answer.text().await?;
        let (ctx, number) = (hidden(&html, "ctx")?, mfa_number(&html)?);
        let form = [
            ("ctx", ctx.as_str()),
            ("number", number.as_str()),
            ("action", "approve"),
        ];
        answer = jar.send(http.post(step("mfa")).form(&form)).await?;
    }
    if answer.status() != StatusCode::FOUND {
        bail!(
            "Entra did not redirect back to the bot: {}",
            answer.status()
        );
    }
    let callback = location(&answer)?;
    let done = jar.send(http.get(&callback)).await.context("callback")?;
    if done.status() != StatusCode::OK {
        bail!("the bot's sign-in callback answered {}", done.status());
    }
    Ok(())
}

/// A browser's cookies, by name (the bot's and Entra's share the loopback
/// host, as in a browser).
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    async fn send(
        &mut self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        let request = if self.0.is_empty() {
            request
        } else {
            let all: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request.header(COOKIE, all.join("; "))
        };
        let response = request.send().await?;
        self.keep(&response);
        Ok(response)
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all(SET_COOKIE) {
            let Some((name, value)) = set
                .to_str()
                .ok()
                .and_then(|c| c.split(';').next())
                .and_then(|c| c.split_once('='))
            else {
                continue;
            };
            self.0.retain(|(k, _)| k != name);
            self.0.push((name.to_owned(), value.to_owned()));
        }
    }
}

fn location(response: &reqwest::Response) -> anyhow::Result<String> {
    response
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned)
        .context("a redirect without Location")
}

fn hidden(html: &str, name: &str) -> anyhow::Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).context("no hidden field in the page")? + marker.len();
    Ok(html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned())
}

fn mfa_number(html: &str) -> anyhow::Result<String> {
    let marker = "id=\"mfa-number\">";
    let start = html.find(marker).context("not an MFA page")? + marker.len();
    Ok(html[start..]
        .split('<')
        .next()
        .unwrap_or_default()
        .to_owned())
}
