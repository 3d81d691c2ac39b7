//! A person's browser following a sign-in link through the emulated Entra
//! pages (persona picker, MFA number match) back to the bot's callback: the
//! real authorization-code + PKCE flow, no shortcut.

use anyhow::{Context, bail};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// Follows `link` (the bot's `/auth/start…`) as `persona`.
pub async fn sign_in(
    http: &reqwest::Client,
    sim_url: &str,
    tenant: &str,
    link: &str,
    persona: &str,
) -> anyhow::Result<()> {
    let mut cookie: Option<String> = None;
    let start = http.get(link).send().await.context("sign-in start")?;
    if start.status() != StatusCode::SEE_OTHER {
        bail!("sign-in start answered {}", start.status());
    }
    let authorize = location(&start)?;
    let page = with_cookie(http.get(&authorize), &cookie).send().await?;
    remember(&page, &mut cookie);
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
    let mut answer = with_cookie(http.post(step("signin")).form(&form), &cookie)
        .send()
        .await?;
    remember(&answer, &mut cookie);
    if answer.status() == StatusCode::OK {
        let html = answer.text().await?;
        let (ctx, number) = (hidden(&html, "ctx")?, mfa_number(&html)?);
        let form = [
            ("ctx", ctx.as_str()),
            ("number", number.as_str()),
            ("action", "approve"),
        ];
        answer = with_cookie(http.post(step("mfa")).form(&form), &cookie)
            .send()
            .await?;
    }
    if answer.status() != StatusCode::FOUND {
        bail!(
            "Entra did not redirect back to the bot: {}",
            answer.status()
        );
    }
    let callback = location(&answer)?;
    let done = http.get(&callback).send().await.context("callback")?;
    if done.status() != StatusCode::OK {
        bail!("the bot's callback answered {}", done.status());
    }
    Ok(())
}

fn with_cookie(
    request: reqwest::RequestBuilder,
    cookie: &Option<String>,
) -> reqwest::RequestBuilder {
    match cookie {
        Some(c) => request.header(COOKIE, c),
        None => request,
    }
}

fn remember(response: &reqwest::Response, cookie: &mut Option<String>) {
    if let Some(c) = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|c| c.to_str().ok())
    {
        *cookie = c.split(';').next().map(str::to_owned);
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
