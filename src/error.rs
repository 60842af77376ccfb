//! The one error type of the server and how it becomes an HTTP answer.
//!
//! Every handler returns `Result<_, AppError>`; the JSON shape is API.md's
//! `{"error": {"code", "message", "fields"?}}`. Client mistakes map to 4xx with a clear message;
//! only our own faults are 500, and those are logged, never shown in detail.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Field name → reasons, for 422 answers; serialised as that plain map.
///
/// Validation collects every problem before refusing, so a form shows all of them at once:
/// `let title = fields.check("title", Title::parse(&raw));` … `fields.into_result()?;`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one reason against a field (a field may collect several).
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    /// The parsed value, or `None` with the reason recorded against `field`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|why| self.push(field, why)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many fields were refused.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn contains(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// The reasons recorded against one field.
    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.0.get(field).map(Vec::as_slice)
    }

    /// The refused field names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Each refused field with its reasons, in field order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(f, why)| (f.as_str(), why.as_slice()))
    }

    /// `Ok` when nothing was refused, else the 422 naming every field.
    pub fn into_result(self) -> AppResult<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }

    /// The 422 naming every recorded field.
    pub fn into_error(self) -> AppError {
        AppError::invalid_fields(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("the request has invalid fields")]
    Invalid {
        message: String,
        fields: FieldErrors,
    },
    /// Text a database cannot store (a NUL character), refused at the door on every backend.
    #[error("the field `{field}` contains a NUL character, which text cannot hold")]
    InvalidText { field: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// Health data is refused until the member consents to the current notice (PRV-6).
    #[error(
        "this needs your consent to hold health data: read the notice at GET /api/v1/consent/health-data and give it with POST /api/v1/me/consents (on the web: Settings, then Your health information)"
    )]
    ConsentRequired,
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    RateLimited {
        retry_after: Duration,
        message: String,
    },
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Forbidden(message.into())
    }

    /// A 422 naming one offending field.
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        let mut fields = FieldErrors::new();
        fields.push(field, reason);
        AppError::Invalid {
            message: format!("the field `{field}` is invalid"),
            fields,
        }
    }

    /// A 422 naming every offending field at once.
    pub fn invalid_fields(fields: FieldErrors) -> Self {
        let names: Vec<&str> = fields.names().collect();
        AppError::Invalid {
            message: format!("invalid fields: {}", names.join(", ")),
            fields,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Invalid { .. } | AppError::InvalidText { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::ConsentRequired => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { code, .. } | AppError::Conflict { code, .. } => code,
            AppError::Invalid { .. } => "invalid",
            AppError::InvalidText { .. } => "invalid_text",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::ConsentRequired => "consent_required",
            AppError::NotFound => "not_found",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    fn message(&self) -> String {
        match self {
            AppError::Invalid { message, .. } | AppError::RateLimited { message, .. } => {
                message.clone()
            }
            AppError::Internal(_) => "something went wrong on our side; please try again".into(),
            other => other.to_string(),
        }
    }
}

/// The JSON body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable, snake_case.
    pub code: String,
    /// For humans.
    pub message: String,
    /// Only for validation errors: field name → reasons.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, Vec<String>>>)]
    pub fields: Option<FieldErrors>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let AppError::Internal(err) = &self {
            tracing::error!(error = ?err, "internal error");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.message(),
                fields: match &self {
                    AppError::Invalid { fields, .. } => Some(fields.clone()),
                    AppError::InvalidText { field } => {
                        let mut fields = FieldErrors::new();
                        fields.push(field.as_str(), "contains a NUL character");
                        Some(fields)
                    }
                    _ => None,
                },
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let AppError::RateLimited { retry_after, .. } = &self {
            let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => AppError::NotFound,
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed => {
                tracing::warn!(error = %err, "database unavailable");
                AppError::Unavailable(
                    "the database is not answering; please try again shortly".into(),
                )
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                AppError::conflict("conflict", "that already exists")
            }
            // PostgreSQL going away under a query (a restart: 57P01 admin shutdown; a lost
            // connection: class 08; too many connections: 53300) is the database being down,
            // not our fault: answer 503 so clients retry.
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| {
                    c.starts_with("57") || c.starts_with("08") || c.starts_with("53")
                }) =>
            {
                tracing::warn!(error = %err, "database unavailable");
                AppError::Unavailable(
                    "the database is not answering; please try again shortly".into(),
                )
            }
            _ => AppError::Internal(anyhow::Error::new(err)),
        }
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => AppError::Invalid {
                message: e.body_text(),
                fields: FieldErrors::new(),
            },
            JsonRejection::JsonSyntaxError(e) => {
                AppError::bad_request("malformed_json", e.body_text())
            }
            JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ),
            JsonRejection::BytesRejection(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::bad_request("unreadable_body", e.body_text())
                }
            }
            other => AppError::bad_request("bad_request", other.body_text()),
        }
    }
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        AppError::bad_request("bad_path", rejection.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::bad_request("bad_query", rejection.body_text())
    }
}

impl From<axum::extract::rejection::FormRejection> for AppError {
    fn from(rejection: axum::extract::rejection::FormRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return AppError::PayloadTooLarge;
        }
        AppError::bad_request("bad_form", rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_serialise_as_the_plain_map() {
        let mut fields = FieldErrors::new();
        assert_eq!(fields.check("title", Ok::<_, String>(7)), Some(7));
        assert_eq!(fields.check::<i64>("title", Err("too short".into())), None);
        fields.push("title", "has a NUL");
        fields.push("body", "empty");
        assert!(fields.contains("title") && !fields.contains("kind"));
        assert_eq!(fields.names().collect::<Vec<_>>(), ["body", "title"]);
        let json = serde_json::to_value(&fields).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"body": ["empty"], "title": ["too short", "has a NUL"]})
        );
        assert!(FieldErrors::new().into_result().is_ok());
        assert!(matches!(
            fields.into_result(),
            Err(AppError::Invalid { .. })
        ));
    }
}
