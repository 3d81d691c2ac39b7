//! The pages the sign-in routes answer with: plain words, never cached,
//! never framed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::identity::link::LinkError;

/// A plain-words reading of the OAuth error codes Entra sends back.
pub(super) fn entra_error_text(code: &str) -> &'static str {
    match code {
        "access_denied" => {
            "The sign-in was cancelled or consent was refused. Nothing was linked; ask the bot for \
             a new link when you want to try again."
        }
        "consent_required" | "interaction_required" | "login_required" => {
            "Microsoft Entra needs you to sign in or consent again. Ask the bot for a new link."
        }
        "temporarily_unavailable" | "server_error" => {
            "Microsoft Entra could not complete the sign-in right now. Try again in a few minutes \
             with a new link."
        }
        _ => {
            "Microsoft Entra did not complete the sign-in. Nothing was linked; ask the bot for a \
             new link, and tell your administrator if it keeps happening."
        }
    }
}

pub(super) fn incomplete_link() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Sign-in link incomplete",
        "This link has no valid sign-in token. Ask the bot for a new one.",
    )
}

pub(super) fn error_page(error: &LinkError) -> Response {
    let status = match error {
        LinkError::Upstream(_) => StatusCode::BAD_GATEWAY,
        LinkError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        LinkError::ForeignBrowser(_) | LinkError::WrongTenant => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    if status.is_server_error() {
        tracing::error!(error = %error, "sign-in failed");
    } else {
        tracing::info!(error = %error, "sign-in refused");
    }
    let message = match error {
        LinkError::Store(_) => {
            "Something went wrong on our side. Try again in a minute.".to_owned()
        }
        other => sentence(&other.to_string()),
    };
    page(status, "Sign-in failed", &message)
}

/// An error's text as a sentence: capitalised, with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

pub(super) fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let message = format!("<p>{}</p>", html_escape::encode_text(message));
    page_html(status, title, &message)
}

/// A page of ours: never cached, never framed, and it sends a referrer
/// only to itself (the address of the confirmation page carries the link
/// token; `no-referrer` would also blank the `Origin` of its own form).
pub(super) fn page_html(status: StatusCode, title: &str, body_html: &str) -> Response {
    let title = html_escape::encode_text(title);
    let mut response = (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} – stagegate</title>\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;line-height:1.5}}\
             button{{font:inherit;padding:.6rem 1.2rem;border-radius:.4rem;border:0;background:#2b5797;color:#fff;cursor:pointer}}</style></head>\
             <body><h1>{title}</h1>{body_html}</body></html>"
        )),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_error_text_never_echoes_its_input() {
        assert!(!entra_error_text("call +1 555 0100").contains("555"));
    }
}
