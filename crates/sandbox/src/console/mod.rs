//! The sandbox console: a page at `/` on the sim port that shows every
//! persona's Teams chat and Slack DMs, the security channels, the emulated
//! clock and the requests as Graph holds them, and acts through the Teams
//! and Slack drivers, so the bot sees exactly the signed traffic it would
//! see in production.
//!
//! The page is plain HTML, CSS and JavaScript embedded in the binary, served
//! with a strict Content-Security-Policy; it builds DOM nodes from text
//! (everything the emulators hold is untrusted) and never uses `innerHTML`.
//! It re-fetches on each server-sent event of `/sim/console/events`, fired
//! by [`SimState::touch`].
//!
//! Like all of `/sim`, the console is sandbox only: the sim server binds
//! loopback, and `stagegate serve` never mounts it.

mod install;
mod snapshot;

use std::convert::Infallible;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::Stream;

pub use install::install_chat_apps;

use super::SimState;

/// The page's policy: only its own scripts, styles and fetches; no inline
/// code, no framing, no forms posting elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const RENDER_JS: &str = include_str!("assets/render.js");
const APP_CSS: &str = include_str!("assets/app.css");

impl SimState {
    /// Tells console viewers that what they show may be stale.
    pub fn touch(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }

    /// The change generation, for console event streams.
    pub fn watch_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Becomes `true` once the server is shutting down.
    pub fn watch_closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }
}

/// The console's routes (merged at the sim server's root).
pub fn router() -> Router<SimState> {
    Router::new()
        .route("/", get(index))
        .route("/console/app.js", get(app_js))
        .route("/console/render.js", get(render_js))
        .route("/console/app.css", get(app_css))
        .route("/sim/console/state", get(snapshot::state))
        .route("/sim/console/events", get(events))
}

/// An embedded asset with the console's security headers.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Anyone on loopback: the console page.
async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// Anyone on loopback: the console's script.
async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// Anyone on loopback: the console's card and block renderers.
async fn render_js() -> Response {
    asset("text/javascript; charset=utf-8", RENDER_JS)
}

/// Anyone on loopback: the console's style sheet.
async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// Anyone on loopback: a `change` event (data: the generation) at once and
/// whenever a chat, channel, request or the clock may have changed. Bursts
/// coalesce: a slow reader gets only the latest generation. The stream ends
/// when the server shuts down.
async fn events(
    State(state): State<SimState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = state.watch_changes();
    let closing = state.watch_closing();
    let stream = futures_util::stream::unfold(
        (changes, closing, true),
        |(mut changes, mut closing, first)| async move {
            if *closing.borrow() {
                return None;
            }
            if !first {
                tokio::select! {
                    changed = changes.changed() => changed.ok()?,
                    _ = closing.wait_for(|closed| *closed) => return None,
                }
            }
            let generation = *changes.borrow_and_update();
            let event = Event::default()
                .event("change")
                .data(generation.to_string());
            Some((Ok(event), (changes, closing, false)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Bumps the change generation after every write to any emulator or
/// driver: a message posted, a card updated, a decision in Graph, the
/// clock advanced. Over-reporting only costs the page a re-fetch.
pub async fn touch_after_writes(
    State(state): State<SimState>,
    request: Request,
    next: Next,
) -> Response {
    let reads = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let response = next.run(request).await;
    if !reads {
        state.touch();
    }
    response
}
