//! Entra's error shapes: the JSON body of the token and discovery endpoints
//! (`error`, `error_description` starting with `AADSTSnnnnn:`, `error_codes`,
//! `timestamp`, `trace_id`, `correlation_id`, `error_uri`), and the query
//! parameters of an error redirected back to the app.
//!
//! Texts follow `entra-docs/docs/identity-platform/reference-error-codes.md`
//! and the messages Entra is seen returning in public issue threads. No
//! message ever contains a secret, code or token the caller sent.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One AADSTS failure, before it is rendered for a channel (JSON, redirect,
/// HTML page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraError {
    pub status: StatusCode,
    /// The OAuth `error` value (`invalid_grant`, `invalid_client` …).
    pub error: &'static str,
    pub code: u32,
    pub message: String,
    /// Echo of the caller's `client-request-id`, which Entra returns as
    /// `correlation_id`.
    pub correlation_id: Option<String>,
}

impl EntraError {
    pub fn new(
        status: StatusCode,
        error: &'static str,
        code: u32,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            code,
            message: message.into(),
            correlation_id: None,
        }
    }

    pub fn bad(error: &'static str, code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, code, message)
    }

    /// Takes the correlation id from the request's `client-request-id`
    /// header when it is a well-formed GUID (Entra ignores anything else).
    pub fn correlated(mut self, headers: &HeaderMap) -> Self {
        self.correlation_id = correlation_from(headers);
        self
    }

    pub fn tenant_not_found(tenant: &str) -> Self {
        Self::bad(
            "invalid_tenant",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    }

    pub fn single_tenant_app_on_common(client_id: &str, app_name: &str) -> Self {
        Self::bad(
            "invalid_request",
            50194,
            format!(
                "Application '{client_id}'({app_name}) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant."
            ),
        )
    }

    pub fn missing_parameter(name: &str) -> Self {
        Self::bad(
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    pub fn unknown_client(client_id: &str, tenant_id: &str) -> Self {
        Self::bad(
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant_id}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    }

    pub fn missing_client_secret() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    }

    pub fn wrong_client_secret(client_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        )
    }

    pub fn malformed_grant() -> Self {
        Self::bad(
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid.",
        )
    }

    pub fn user_disabled() -> Self {
        Self::bad(
            "invalid_grant",
            50057,
            "User account is disabled. The account has been disabled by an administrator.",
        )
    }

    pub fn grant_revoked(issued: &str, valid_from: &str) -> Self {
        Self::bad(
            "invalid_grant",
            50173,
            format!(
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{issued}' and the TokensValidFrom date (before which tokens are not valid) for this user is '{valid_from}'."
            ),
        )
    }

    pub fn invalid_scope(scope: &str) -> Self {
        Self::bad(
            "invalid_scope",
            70011,
            format!(
                "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        )
    }

    pub fn unknown_resource(resource: &str, tenant: &str) -> Self {
        Self::bad(
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ),
        )
    }

    /// `AADSTSnnnnn: message\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: …`
    /// plus the ids, as Entra writes every failure.
    pub fn render(&self) -> Rendered {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = self
            .correlation_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let timestamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
            self.code, self.message
        );
        Rendered {
            description,
            error_uri: format!("https://login.microsoftonline.com/error?code={}", self.code),
            trace_id,
            correlation_id,
            timestamp,
        }
    }

    /// The query pairs of an error sent back to the app's redirect URI.
    pub fn redirect_pairs(&self) -> Vec<(&'static str, String)> {
        let rendered = self.render();
        vec![
            ("error", self.error.to_owned()),
            ("error_description", rendered.description),
            ("error_uri", rendered.error_uri),
        ]
    }
}

pub struct Rendered {
    pub description: String,
    pub error_uri: String,
    pub trace_id: String,
    pub correlation_id: String,
    pub timestamp: String,
}

impl IntoResponse for EntraError {
    fn into_response(self) -> Response {
        let r = self.render();
        let body = json!({
            "error": self.error,
            "error_description": r.description,
            "error_codes": [self.code],
            "timestamp": r.timestamp,
            "trace_id": r.trace_id,
            "correlation_id": r.correlation_id,
            "error_uri": r.error_uri,
        });
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            "no-store, no-cache".parse().expect("static header"),
        );
        headers.insert(header::PRAGMA, "no-cache".parse().expect("static header"));
        response
    }
}

fn correlation_from(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("client-request-id")?.to_str().ok()?;
    uuid::Uuid::parse_str(value).ok().map(|u| u.to_string())
}

pub type EntraResult<T> = Result<T, EntraError>;
