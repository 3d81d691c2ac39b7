//! What an unauthenticated client may hold (issue #17, finding 2): Slack's
//! signature headers are checked before the body is read, a declared
//! length over the endpoint's limit is 413 at once, too many requests in
//! flight are shed with 503 + Retry-After, and slow headers, slow bodies
//! and surplus connections are cut by the bot's server; Teams refuses a
//! declared length over its limit unread, once the token checks out. The
//! flood itself, against the bot as its own process, is in `inbound_flood`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use secrecy::SecretString;
use stagegate::chat::slack::SlackRequest;
use stagegate::chat::slack::SlackVerifier;
use stagegate::chat::slack::extract::{COMMAND_BODY_LIMIT, INTERACTION_BODY_LIMIT};
use stagegate::http::{ConnectionLimits, RequestLimits, serve_with_limits, with_request_limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use crate::slack_support::spawn_bot;

/// A body that declares `len` bytes and fails the test if anyone reads it.
struct Unreadable(u64);

impl HttpBody for Unreadable {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        panic!("the body of a refused request was read");
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.0)
    }
}

fn request(path: &str, headers: &[(&str, String)], body: Body) -> Request {
    let mut builder =
        Request::post(path).header("content-type", "application/x-www-form-urlencoded");
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.body(body).unwrap()
}

/// Well-formed, fresh signature headers whose MAC matches nothing.
pub fn plausible_headers() -> Vec<(&'static str, String)> {
    vec![
        (
            "x-slack-request-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        ),
        ("x-slack-signature", format!("v0={}", "ab".repeat(32))),
    ]
}

async fn extract<const LIMIT: usize>(request: Request) -> Result<(), StatusCode> {
    let verifier = Arc::new(SlackVerifier::new(SecretString::from("s3cret".to_owned())));
    SlackRequest::<LIMIT>::from_request(request, &verifier)
        .await
        .map(drop)
        .map_err(|rejection| rejection.into_response().status())
}

#[tokio::test]
async fn signature_headers_are_checked_before_a_byte_of_body_is_read() {
    let now = chrono::Utc::now().timestamp();
    let cases: [(&str, Vec<(&str, String)>); 5] = [
        ("no signature headers", vec![]),
        (
            "a junk signature",
            vec![
                ("x-slack-request-timestamp", now.to_string()),
                ("x-slack-signature", "v0=junk".into()),
            ],
        ),
        (
            "a stale timestamp",
            vec![
                ("x-slack-request-timestamp", (now - 301).to_string()),
                ("x-slack-signature", format!("v0={}", "ab".repeat(32))),
            ],
        ),
        ("two signatures", {
            let mut h = plausible_headers();
            h.push(("x-slack-signature", format!("v0={}", "cd".repeat(32))));
            h
        }),
        (
            "a timestamp that is not a number",
            vec![
                ("x-slack-request-timestamp", "soon".into()),
                ("x-slack-signature", format!("v0={}", "ab".repeat(32))),
            ],
        ),
    ];
    for (what, headers) in cases {
        // 200 KiB declared, never readable: a read would panic.
        let unsigned = request("/", &headers, Body::new(Unreadable(200 * 1024)));
        assert_eq!(
            extract::<INTERACTION_BODY_LIMIT>(unsigned).await,
            Err(StatusCode::UNAUTHORIZED),
            "{what}"
        );
    }
}

#[tokio::test]
async fn a_declared_length_over_the_endpoint_limit_is_413_unread() {
    let over_command = request(
        "/",
        &plausible_headers(),
        Body::new(Unreadable(COMMAND_BODY_LIMIT as u64 + 1)),
    );
    assert_eq!(
        extract::<COMMAND_BODY_LIMIT>(over_command).await,
        Err(StatusCode::PAYLOAD_TOO_LARGE)
    );
    let over_interaction = request(
        "/",
        &plausible_headers(),
        Body::new(Unreadable(INTERACTION_BODY_LIMIT as u64 + 1)),
    );
    assert_eq!(
        extract::<INTERACTION_BODY_LIMIT>(over_interaction).await,
        Err(StatusCode::PAYLOAD_TOO_LARGE)
    );
    // Within the limit the body is read, and the junk MAC refused.
    let within = request("/", &plausible_headers(), Body::from("command=%2Frequest"));
    assert_eq!(
        extract::<COMMAND_BODY_LIMIT>(within).await,
        Err(StatusCode::UNAUTHORIZED)
    );
}

#[tokio::test]
async fn an_unsigned_ssl_check_is_still_answered_but_only_a_small_one_is_read() {
    let ssl_check = request("/", &[], Body::from("ssl_check=1&token=abc"));
    assert_eq!(
        extract::<COMMAND_BODY_LIMIT>(ssl_check).await,
        Err(StatusCode::OK)
    );
    let big_unsigned_form = request("/", &[], Body::new(Unreadable(2048)));
    assert_eq!(
        extract::<COMMAND_BODY_LIMIT>(big_unsigned_form).await,
        Err(StatusCode::UNAUTHORIZED)
    );
}

/// Writes `head`, then `body` (ignoring a server that stops reading), and
/// returns the status line of the answer, waiting at most `within`.
pub async fn status_of(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    let read = async {
        while !answer.windows(2).any(|w| w == b"\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.ok()?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    text.lines().next().map(str::to_owned)
}

#[tokio::test]
async fn an_unsigned_200_kib_upload_gets_401_before_the_client_has_sent_it() {
    let (bot, _rx) = spawn_bot("s3cret", crate::slack_support::ack).await;
    let address = bot.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /slack/commands HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         X-Slack-Request-Timestamp: {}\r\nX-Slack-Signature: v0=junk\r\n\
         Content-Length: {}\r\n\r\n",
        chrono::Utc::now().timestamp(),
        200 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // 4 KiB of the 200: the rest is never sent.
    stream.write_all(&[b'a'; 4096]).await.unwrap();
    let status = status_of(&mut stream, Duration::from_secs(10)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 401 Unauthorized"));
}

/// A bot server on loopback with the given limits, serving `router`.
async fn limited_server(router: Router, connections: ConnectionLimits) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(serve_with_limits(
        listener,
        router,
        std::future::pending(),
        Duration::from_secs(1),
        connections,
    ));
    address
}

fn slack_router(body_read_timeout: Duration) -> Router {
    let verifier = Arc::new(SlackVerifier::new(SecretString::from("s3cret".to_owned())));
    let router = Router::new()
        .route(
            "/slack/commands",
            post(|SlackRequest(_): SlackRequest<COMMAND_BODY_LIMIT>| async { "ok" }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .with_state(verifier);
    with_request_limits(
        router,
        RequestLimits {
            max_in_flight: 8,
            body_read_timeout,
        },
    )
}

#[tokio::test]
async fn a_trickled_body_is_cut_at_the_body_deadline_with_408() {
    let deadline = Duration::from_millis(300);
    let address = limited_server(
        slack_router(deadline),
        ConnectionLimits {
            max_connections: 8,
            header_read_timeout: Duration::from_secs(10),
        },
    )
    .await;
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let mut head = format!("POST /slack/commands HTTP/1.1\r\nHost: {address}\r\n");
    for (name, value) in plausible_headers() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n");
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    // One byte sent, then nothing: the answer comes at the deadline.
    let status = status_of(&mut stream, Duration::from_secs(10)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 408 Request Timeout"));
    let took = started.elapsed();
    assert!(
        took >= deadline && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let address = limited_server(
        slack_router(Duration::from_secs(10)),
        ConnectionLimits {
            max_connections: 8,
            header_read_timeout: Duration::from_millis(300),
        },
    )
    .await;
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(b"POST /slack/commands HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the slow connection is still open");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn beyond_max_connections_a_connection_waits_until_one_closes() {
    let address = limited_server(
        slack_router(Duration::from_secs(10)),
        ConnectionLimits {
            max_connections: 1,
            header_read_timeout: Duration::from_secs(30),
        },
    )
    .await;
    let idle = TcpStream::connect(&address).await.unwrap();
    let mut waiting = TcpStream::connect(&address).await.unwrap();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Not served while the only slot is taken (a bounded wait for nothing).
    assert_eq!(
        status_of(&mut waiting, Duration::from_millis(300)).await,
        None
    );
    drop(idle);
    let status = status_of(&mut waiting, Duration::from_secs(10)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 200 OK"));
}

#[tokio::test]
async fn beyond_max_in_flight_requests_are_shed_with_503_and_retry_after() {
    let entered = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let (e, r) = (entered.clone(), release.clone());
    let router = Router::new().route(
        "/slow",
        get(move || {
            let (e, r) = (e.clone(), r.clone());
            async move {
                e.notify_one();
                r.notified().await;
                "done"
            }
        }),
    );
    let router = with_request_limits(
        router,
        RequestLimits {
            max_in_flight: 1,
            body_read_timeout: Duration::from_secs(10),
        },
    );
    let get_slow = || Request::get("/slow").body(Body::empty()).unwrap();
    let first = tokio::spawn(router.clone().oneshot(get_slow()));
    entered.notified().await;
    let shed = router.clone().oneshot(get_slow()).await.unwrap();
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.headers()["retry-after"], "5");
    assert_eq!(shed.headers()["content-type"], "application/problem+json");
    release.notify_one();
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    // The slot is free again.
    let again = tokio::spawn(router.clone().oneshot(get_slow()));
    entered.notified().await;
    release.notify_one();
    assert_eq!(again.await.unwrap().unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn a_teams_activity_declaring_more_than_the_limit_is_413_after_the_token_unread() {
    use stagegate_sandbox::teams::metadata::{channel_claims, sign};
    let sandbox = crate::helpers::spawn_sandbox().await;
    let mut settings = crate::teams_support::auth_settings(&sandbox);
    settings.max_body_bytes = 2048;
    let bot = crate::teams_support::spawn_bot_with(settings).await;
    let app_id = sandbox.state.world().app.client_id.clone();
    let claims = channel_claims(&app_id, &sandbox.url("/teams/"));
    let token = sign(&sandbox.state.teams.current_key(), &claims);
    let url = url::Url::parse(&bot.endpoint).unwrap();
    let address = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n",
        url.path()
    );
    // The head alone: a bot that read before refusing would wait forever.
    stream.write_all(head.as_bytes()).await.unwrap();
    let status = status_of(&mut stream, Duration::from_secs(10)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 413 Payload Too Large"));
    assert_eq!(bot.calls(), 0);
}
