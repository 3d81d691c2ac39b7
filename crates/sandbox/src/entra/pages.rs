//! The sign-in pages: plain server-rendered HTML, no script, no external
//! assets. Every value that reaches the page is escaped.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::error::EntraError;
use crate::world::User;

const STYLE: &str = "body{font-family:Segoe UI,Helvetica,Arial,sans-serif;background:#f2f2f2;margin:0}\
main{max-width:440px;margin:48px auto;background:#fff;padding:32px 40px;box-shadow:0 2px 6px rgba(0,0,0,.2)}\
h1{font-size:24px;font-weight:600;margin:0 0 16px}.app{color:#555}.err{background:#fde7e9;padding:8px 12px;margin:12px 0}\
label.persona{display:block;padding:8px;border-bottom:1px solid #eee}label.persona small{color:#666;display:block}\
.disabled{color:#999}.number{font-size:48px;font-weight:600;text-align:center;margin:16px 0}\
button{padding:6px 20px;margin:16px 8px 0 0}code{word-break:break-all}";

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        text(title)
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let mut response = (status, Html(layout(title, body))).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        "no-store, no-cache".parse().expect("static header"),
    );
    response
}

/// An error shown to the person instead of being redirected (bad client or
/// redirect URI, unknown tenant …), with Entra's code and ids.
pub(super) fn error_page(error: &EntraError) -> Response {
    let r = error.render();
    let body = format!(
        "<h1>Sign in</h1><p>Sorry, but we’re having trouble signing you in.</p>\
<p class=\"err\" id=\"error\">AADSTS{}: {}</p>\
<p><small>Request Id: {}<br>Correlation Id: {}<br>Timestamp: {}</small></p>",
        error.code,
        text(&error.message),
        text(&r.trace_id),
        text(&r.correlation_id),
        text(&r.timestamp)
    );
    page(error.status, "Sign in - error", &body)
}

/// What every sign-in page needs to post back.
pub(super) struct Form<'a> {
    /// `…/login/{tenant}/oauth2/v2.0/authorize` (steps are sub-paths).
    pub action_base: &'a str,
    pub ctx: &'a str,
    pub app_name: &'a str,
}

fn hidden_ctx(form: &Form<'_>) -> String {
    format!(
        "<input type=\"hidden\" name=\"ctx\" value=\"{}\">",
        attr(form.ctx)
    )
}

/// The account picker. `selected` pre-selects a persona (`login_hint`).
pub(super) fn picker(
    form: &Form<'_>,
    users: &[User],
    selected: Option<&str>,
    error: Option<&EntraError>,
) -> Response {
    let mut rows = String::new();
    // Alphabetical, as Entra's account picker lists accounts by name.
    let mut users: Vec<&User> = users.iter().collect();
    users.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    for u in users {
        let checked = if selected == Some(u.id.as_str()) {
            " checked"
        } else {
            ""
        };
        let (class, note) = if u.account_enabled {
            ("persona", "")
        } else {
            ("persona disabled", " (account disabled)")
        };
        rows.push_str(&format!(
            "<label class=\"{class}\"><input type=\"radio\" name=\"persona\" value=\"{}\"{checked}> {}{note}<small>{} · {}</small></label>",
            attr(&u.key),
            text(&u.display_name),
            text(&u.user_principal_name),
            text(u.job_title.as_deref().unwrap_or("")),
        ));
    }
    let banner = error
        .map(|e| {
            format!(
                "<p class=\"err\" id=\"error\">AADSTS{}: {}</p>",
                e.code,
                text(&e.message)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Pick an account</h1><p class=\"app\">to continue to {}</p>{banner}\
<form method=\"post\" action=\"{}/signin\">{}{rows}\
<button type=\"submit\" name=\"action\" value=\"signin\">Sign in</button>\
<button type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button></form>",
        text(form.app_name),
        attr(form.action_base),
        hidden_ctx(form),
    );
    page(StatusCode::OK, "Sign in to your account", &body)
}

/// The second factor: number matching, with the "phone" on the same page.
pub(super) fn mfa(form: &Form<'_>, user: &User, number: u8, wrong: bool) -> Response {
    let banner = if wrong {
        "<p class=\"err\" id=\"error\">The number you entered doesn't match. Try again.</p>"
    } else {
        ""
    };
    let body = format!(
        "<h1>Approve sign in request</h1><p>{}</p>{banner}\
<p>Open your Authenticator app, and enter the number shown to sign in.</p>\
<p class=\"number\" id=\"mfa-number\">{number}</p>\
<form method=\"post\" action=\"{}/mfa\">{}\
<p><label>Authenticator (emulated phone): <input name=\"number\" inputmode=\"numeric\" autocomplete=\"off\"></label></p>\
<button type=\"submit\" name=\"action\" value=\"approve\">Approve</button>\
<button type=\"submit\" name=\"action\" value=\"deny\">Deny</button></form>",
        text(&user.user_principal_name),
        attr(form.action_base),
        hidden_ctx(form),
    );
    page(StatusCode::OK, "Approve sign in request", &body)
}

/// The consent prompt (`prompt=consent`) listing the permissions asked for.
pub(super) fn consent(form: &Form<'_>, user: &User, scopes: &[String]) -> Response {
    let items: String = scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", text(s)))
        .collect();
    let body = format!(
        "<h1>Permissions requested</h1><p>{}</p><p><strong>{}</strong> would like to:</p><ul>{items}</ul>\
<form method=\"post\" action=\"{}/consent\">{}\
<button type=\"submit\" name=\"action\" value=\"accept\">Accept</button>\
<button type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button></form>",
        text(&user.user_principal_name),
        text(form.app_name),
        attr(form.action_base),
        hidden_ctx(form),
    );
    page(StatusCode::OK, "Permissions requested", &body)
}

/// "Need admin approval": the app asks for a permission nobody consented
/// to, and users of this tenant cannot consent themselves.
pub(super) fn admin_approval(form: &Form<'_>, permission: &str) -> Response {
    let body = format!(
        "<h1>Need admin approval</h1><p class=\"err\" id=\"error\">AADSTS90094: {} needs permission to access resources in your organization that only an admin can grant ({}). Please ask an admin to grant permission to this app before you can use it.</p>\
<form method=\"post\" action=\"{}/consent\">{}\
<button type=\"submit\" name=\"action\" value=\"cancel\">Return to the application without granting consent</button></form>",
        text(form.app_name),
        text(permission),
        attr(form.action_base),
        hidden_ctx(form),
    );
    page(StatusCode::OK, "Need admin approval", &body)
}
