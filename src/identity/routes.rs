//! `/auth/start` and `/auth/callback`: the browser side of account linking.
//!
//! A sign-in link opens a page that names the chat account being linked;
//! only its button (a POST) spends the link and sends the browser to
//! Microsoft Entra, with a cookie that binds the flow to that browser. Link
//! scanners that fetch the page do not burn the link, and a callback that
//! comes back to another browser (a forwarded Entra sign-in address) is
//! refused.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use cookie::{Cookie, SameSite};
use serde::Deserialize;

use super::link::{LinkError, LinkService, Started};
use crate::app::AppState;
use crate::engine::linking::LinkRefused;

mod pages;

use pages::{entra_error_text, error_page, incomplete_link, page, page_html};

/// The start form carries one token: anything larger is not ours.
const START_FORM_LIMIT: usize = 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/auth/start",
            get(confirm)
                .post(start)
                .layer(DefaultBodyLimit::max(START_FORM_LIMIT)),
        )
        .route("/auth/callback", get(callback))
}

#[derive(Deserialize)]
struct StartQuery {
    t: Option<String>,
}

/// The link token of a query or form, if it has the shape of one.
fn link_token(t: Option<String>) -> Option<String> {
    t.filter(|t| {
        !t.is_empty()
            && t.len() <= 128
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Anyone holding a valid, unused sign-in link token (the token is the
/// authorisation): shows whose chat account the link is for, without
/// spending the token.
async fn confirm(State(state): State<AppState>, Query(query): Query<StartQuery>) -> Response {
    let Some(token) = link_token(query.t) else {
        return incomplete_link();
    };
    let who = match state.links.pending(&token).await {
        Ok(who) => who,
        Err(e) => return error_page(&e),
    };
    let account = state.engine.describe_chat_account(&who).await;
    let title = "Link your Microsoft account";
    let account = html_escape::encode_text(&account);
    let body = format!(
        "<p>This link connects <strong>{account}</strong> to the Microsoft account you sign in \
         with next. stagegate then acts as that Microsoft account when this chat account asks it \
         to: requesting access, approving, activating.</p>\
         <p>Continue only if this is <strong>your own</strong> chat account and you asked for the \
         link. If someone sent it to you, close this page.</p>\
         <form method=\"post\" action=\"/auth/start\">\
         <input type=\"hidden\" name=\"t\" value=\"{token}\">\
         <button type=\"submit\" id=\"continue\">Continue to Microsoft sign-in</button></form>"
    );
    page_html(StatusCode::OK, title, &body)
}

#[derive(Deserialize)]
struct StartForm {
    t: Option<String>,
}

/// Parses the `/auth/start` form as its handler does (for the fuzzer).
pub fn parse_start_form(raw: &[u8]) -> Result<Option<String>, String> {
    let form: StartForm = serde_urlencoded::from_bytes(raw).map_err(|e| e.to_string())?;
    Ok(link_token(form.t))
}

/// The confirmation page's button, from a page of this origin, with a
/// valid, unused link token: spends it and redirects to Entra with the
/// flow's cookie.
async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !same_origin(&headers, &state.settings.server.public_base_url) {
        return page(
            StatusCode::FORBIDDEN,
            "Sign-in not started",
            "This sign-in was sent from another site. Open the link the bot sent you and \
             press Continue there.",
        );
    }
    let token = match parse_start_form(&body) {
        Ok(Some(token)) => token,
        Ok(None) | Err(_) => return incomplete_link(),
    };
    match state.links.start(&token).await {
        Ok(started) => redirect_with_cookie(&started, secure_cookies(&state)),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Parses the query strings of `/auth/start` and `/auth/callback` as their
/// handlers do (for the fuzzer).
pub fn parse_queries(raw: &str) -> Result<(), String> {
    serde_urlencoded::from_str::<StartQuery>(raw).map_err(|e| e.to_string())?;
    serde_urlencoded::from_str::<CallbackQuery>(raw).map_err(|e| e.to_string())?;
    Ok(())
}

/// Microsoft Entra's redirect after sign-in; authorised by the one-time
/// `state` this server issued at `/auth/start` and the cookie it set in
/// the browser that started it.
async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    if let Some(error) = query.error {
        // Entra's `error_description` is not shown: anyone can put text in
        // this address, and the page must not carry it.
        tracing::info!(error = %error.chars().take(64).collect::<String>(), "sign-in refused or cancelled at Entra");
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in not completed",
            entra_error_text(&error),
        );
    }
    let (Some(code), Some(flow_state)) = (query.code, query.state) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-in incomplete",
            "The sign-in answer is missing its code or state. Start again from chat.",
        );
    };
    let cookie_name = LinkService::flow_cookie_name(&flow_state);
    let browser = flow_cookie(&headers, &cookie_name);
    let signed = match state
        .links
        .callback(&code, &flow_state, browser.as_deref())
        .await
    {
        Ok(signed) => signed,
        Err(LinkError::ForeignBrowser(who)) => {
            state.engine.sign_in_from_another_browser(&who).await;
            return error_page(&LinkError::ForeignBrowser(who));
        }
        Err(e) => return error_page(&e),
    };
    let response = match state.engine.complete_sign_in(signed).await {
        Ok((linked, account)) => {
            tracing::info!(platform = %linked.identity.platform, "account linked");
            // Continue what the link was for (submit the request, record
            // the decision, activate); the result is posted in chat.
            state.engine.after_link(&linked).await;
            page(
                StatusCode::OK,
                "You're signed in",
                &format!(
                    "{account} is now linked to your Microsoft account ({}). stagegate acts as \
                     you only when that chat account asks it to. You can close this tab and \
                     return to chat.",
                    linked.display_name
                ),
            )
        }
        Err(LinkRefused::NotTheirs(text)) => {
            tracing::warn!("sign-in refused: the Microsoft account is not the chat account's");
            page(StatusCode::FORBIDDEN, "Sign-in refused", &text)
        }
        Err(LinkRefused::Failed(e)) => {
            tracing::error!(error = %e, "sign-in could not be completed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in failed",
                "Something went wrong on our side; nothing was linked. Try again in a minute.",
            )
        }
    };
    clear_cookie(response, &cookie_name)
}

/// True unless a browser says the form came from another origin: its
/// `Sec-Fetch-Site` when it sends one, else its `Origin`. Browsers send one
/// or both on every cross-origin POST; clients that send neither are no
/// browser a page could drive.
fn same_origin(headers: &HeaderMap, public_base_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let ours = url::Url::parse(public_base_url).map(|u| u.origin().ascii_serialization());
    let theirs = origin.to_str().ok().and_then(|o| url::Url::parse(o).ok());
    matches!((ours, theirs), (Ok(ours), Some(theirs)) if theirs.origin().ascii_serialization() == ours)
}

/// Cookies are `Secure` unless the bot is served over plain HTTP (the
/// sandbox and development on loopback).
fn secure_cookies(state: &AppState) -> bool {
    state
        .settings
        .server
        .public_base_url
        .starts_with("https://")
}

fn redirect_with_cookie(started: &Started, secure: bool) -> Response {
    let cookie = Cookie::build((started.cookie_name.clone(), started.cookie_value.clone()))
        .path("/auth/callback")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(
            LinkService::flow_lifetime().as_secs() as i64,
        ))
        .build();
    let mut response = Redirect::to(&started.authorize_url).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn clear_cookie(mut response: Response, name: &str) -> Response {
    let cookie = Cookie::build((name.to_owned(), ""))
        .path("/auth/callback")
        .max_age(cookie::time::Duration::ZERO)
        .build();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn flow_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_token_shaped_value_is_a_link_token() {
        assert_eq!(
            parse_start_form(b"t=abc_DEF-1").unwrap().as_deref(),
            Some("abc_DEF-1")
        );
        assert_eq!(parse_start_form(b"t=").unwrap(), None);
        assert_eq!(parse_start_form(b"t=%3Cscript%3E").unwrap(), None);
        assert_eq!(parse_start_form(&[b't', b'=', 0xff]).ok().flatten(), None);
        assert_eq!(
            parse_start_form(format!("t={}", "a".repeat(129)).as_bytes()).unwrap(),
            None
        );
    }

    #[test]
    fn a_form_from_another_origin_is_refused() {
        let ours = "https://stagegate.contoso.com";
        let with = |origin: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
            h
        };
        assert!(same_origin(&HeaderMap::new(), ours));
        assert!(same_origin(&with("https://stagegate.contoso.com"), ours));
        assert!(!same_origin(&with("https://evil.example"), ours));
        assert!(!same_origin(&with("null"), ours));
        assert!(!same_origin(&with("http://stagegate.contoso.com"), ours));
        let mut fetched = with("null");
        fetched.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&fetched, ours));
        fetched.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&fetched, ours));
    }
}
