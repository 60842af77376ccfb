//! Media: photos and voice notes that members upload and attach to topics, replies, milestones
//! and chat messages (API.md "Media: photos and voice notes").
//!
//! An upload is checked (type, size, the member's daily quota), processed (photos decoded with a
//! pixel limit and re-encoded without metadata; voice notes' containers read for their length),
//! written durably to the media store, and only then acknowledged with 201. It stays its
//! uploader's alone until attached; then whoever may read what it is attached to may fetch it
//! (`GET /media/{id}`), and nobody else learns it exists (404). Deleting the post, or the
//! account, marks the media erased; the sweep removes the bytes, then the row.

pub mod audio;
pub mod image;
pub mod storage;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, MaybeAuth, Session, User};
use crate::app::AppState;
use crate::db;
use crate::error::{AppError, AppResult, ErrorBody, FieldErrors};
use crate::http::{Path, Query};
use crate::store::{AsDb, now_ms};
use storage::MediaStore;

/// The largest photo accepted, in bytes.
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;
/// The largest voice note accepted, in bytes.
pub const MAX_AUDIO_BYTES: usize = 5 * 1024 * 1024;
/// The longest voice note, in milliseconds.
pub const MAX_AUDIO_MS: u64 = 2 * 60 * 1000;
/// The request body an upload may send: the largest photo and a multipart envelope.
pub const UPLOAD_BODY_LIMIT: usize = MAX_IMAGE_BYTES + 64 * 1024;
/// Attachments on one post or message.
pub const MAX_ATTACHMENTS: usize = 4;
/// The longest alt text, in characters.
pub const MAX_ALT_CHARS: usize = 500;
/// Photos decoded at once on a node: decoding is CPU- and memory-heavy, and the same cores
/// serve the pages.
const DECODERS: usize = 2;

/// The media store and what guards the work of filling it.
#[derive(Clone)]
pub struct Media {
    pub store: Arc<dyn MediaStore>,
    decoders: Arc<tokio::sync::Semaphore>,
}

impl Media {
    pub fn open(url: &str) -> anyhow::Result<Media> {
        Ok(Media {
            store: storage::open(url)?,
            decoders: Arc::new(tokio::sync::Semaphore::new(DECODERS)),
        })
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(serve))
        .layer(axum::extract::DefaultBodyLimit::max(UPLOAD_BODY_LIMIT))
}

/// What a media is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
// Named apart from `notify::Kind` in the OpenAPI document (both would be `Kind`).
#[schema(as = MediaKind)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Image,
    Audio,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Audio => "audio",
        }
    }

    fn parse(s: &str) -> Kind {
        if s == "audio" {
            Kind::Audio
        } else {
            Kind::Image
        }
    }
}

/// The answer to an upload (API.md).
#[derive(Serialize, ToSchema, Debug)]
pub struct Uploaded {
    pub id: i64,
    pub kind: Kind,
    /// What `url` serves: `image/jpeg` or `image/png` for photos, the container for voice notes.
    pub content_type: String,
    /// The size of what `url` serves.
    pub bytes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// `/media/{id}`; add `?size=thumb` for the small photo.
    pub url: String,
}

/// A media as attached to a post or a message (API.md `attachments`).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: i64,
    pub kind: Kind,
    pub url: String,
    /// The small photo (photos only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumb_url: Option<String>,
    pub alt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumb_width: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumb_height: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    pub content_type: String,
}

impl Attachment {
    /// For the pages.
    pub fn is_image(&self) -> bool {
        self.kind == Kind::Image
    }

    /// The small photo's address (the full one for voice notes, which have no small one).
    pub fn thumb(&self) -> &str {
        self.thumb_url.as_deref().unwrap_or(&self.url)
    }

    /// The small photo's size, so the page keeps its place before it loads.
    pub fn thumb_w(&self) -> i64 {
        self.thumb_width.unwrap_or(0)
    }

    pub fn thumb_h(&self) -> i64 {
        self.thumb_height.unwrap_or(0)
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Kind::parse(&s))
    }
}

/// One attachment asked for in a topic, reply, milestone or chat message.
#[derive(Deserialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRequest {
    /// The id `POST /api/v1/media` answered.
    pub id: i64,
    /// What the photo shows, for those who cannot see it (1–500 characters; required for
    /// photos, optional for voice notes).
    pub alt: Option<String>,
}

/// Attachments checked against the member's own unattached uploads, ready for `attach`: each
/// as it will be shown, alt text included.
#[derive(Debug, Clone, Default)]
pub struct Checked(Vec<Attachment>);

impl Checked {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The attachments as readers will get them.
    pub fn shown(&self) -> Vec<Attachment> {
        self.0.clone()
    }

    /// `text` with the attachments' alt text after it: what screening reads, since alt text is
    /// member text that others read (and hear, with a screen reader) like the words beside it.
    pub fn screened_with<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let alts: Vec<&str> = self
            .0
            .iter()
            .map(|a| a.alt.as_str())
            .filter(|a| !a.is_empty())
            .collect();
        if alts.is_empty() {
            std::borrow::Cow::Borrowed(text)
        } else {
            std::borrow::Cow::Owned(format!("{text}\n{}", alts.join("\n")))
        }
    }
}

#[derive(sqlx::FromRow, Debug, Clone)]
struct MediaRow {
    id: i64,
    uploader_id: Option<i64>,
    kind: String,
    content_type: String,
    storage_key: String,
    bytes: i64,
    etag: String,
    thumb_content_type: Option<String>,
    thumb_etag: Option<String>,
    width: Option<i64>,
    height: Option<i64>,
    thumb_width: Option<i64>,
    thumb_height: Option<i64>,
    duration_ms: Option<i64>,
    post_id: Option<i64>,
    message_id: Option<i64>,
    alt: Option<String>,
    erased_at: Option<i64>,
}

/// Media rows read whole, as `MediaRow`: the one column list, completed with a `WHERE`.
macro_rules! select_media {
    () => {
        "SELECT m.id, m.uploader_id, m.kind, m.content_type, m.storage_key, m.bytes, m.etag, m.thumb_content_type,
                m.thumb_etag, m.width, m.height, m.thumb_width, m.thumb_height, m.duration_ms, m.post_id, m.message_id,
                m.alt, m.erased_at
         FROM media m "
    };
}

impl MediaRow {
    fn attachment(&self) -> Attachment {
        let kind = Kind::parse(&self.kind);
        Attachment {
            id: self.id,
            kind,
            url: format!("/media/{}", self.id),
            thumb_url: (kind == Kind::Image).then(|| format!("/media/{}?size=thumb", self.id)),
            alt: self.alt.clone().unwrap_or_default(),
            width: self.width,
            height: self.height,
            thumb_width: self.thumb_width,
            thumb_height: self.thumb_height,
            duration_ms: self.duration_ms,
            content_type: self.content_type.clone(),
        }
    }

    fn uploaded(&self) -> Uploaded {
        Uploaded {
            id: self.id,
            kind: Kind::parse(&self.kind),
            content_type: self.content_type.clone(),
            bytes: self.bytes,
            width: self.width,
            height: self.height,
            duration_ms: self.duration_ms,
            url: format!("/media/{}", self.id),
        }
    }
}

/// What the declared type says the upload is.
fn declared_kind(content_type: &str) -> Option<Option<Kind>> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "image/jpeg" | "image/jpg" | "image/pjpeg" | "image/png" | "image/webp" => {
            Some(Some(Kind::Image))
        }
        "audio/webm" | "audio/ogg" | "audio/mp4" | "audio/x-m4a" | "audio/m4a" | "video/webm" => {
            Some(Some(Kind::Audio))
        }
        // A form's file part without a type: the bytes will say.
        "" | "application/octet-stream" => Some(None),
        _ => None,
    }
}

fn unsupported() -> AppError {
    AppError::UnsupportedMediaType(
        "send a photo (JPEG, PNG or WebP) or a voice note (audio/webm, audio/ogg or audio/mp4)"
            .into(),
    )
}

fn etag_of(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn random_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("m/{hex}")
}

/// Refuses an upload beyond the member's daily count or bytes (lifted with the rate limits).
async fn check_quota(state: &AppState, user: &User, incoming: usize) -> AppResult<()> {
    if !state.limits.enabled() {
        return Ok(());
    }
    let since = now_ms() - 24 * 3600 * 1000;
    let (count, bytes, oldest) = {
        let mut conn = state.store.read().await?;
        db!(
            conn,
            fetch_one as (i64, Option<i64>, Option<i64>),
            "SELECT COUNT(*), CAST(SUM(bytes + COALESCE(thumb_bytes, 0)) AS BIGINT), MIN(created_at) FROM media
             WHERE uploader_id = $1 AND created_at > $2",
            user.id,
            since
        )?
    };
    let max_bytes = state.config.media_daily_mb.saturating_mul(1024 * 1024);
    let over_count = count >= i64::from(state.config.media_daily_count);
    let over_bytes = bytes.unwrap_or(0).saturating_add(incoming as i64) > max_bytes as i64;
    if over_count || over_bytes {
        let wait_ms = oldest.map_or(3_600_000, |o| (o + 24 * 3600 * 1000 - now_ms()).max(1000));
        return Err(AppError::RateLimited {
            retry_after: std::time::Duration::from_millis(wait_ms as u64),
            message: format!(
                "you have uploaded as much as a day allows ({} files or {} MB); try again later",
                state.config.media_daily_count, state.config.media_daily_mb
            ),
        });
    }
    Ok(())
}

/// Checks, processes and stores one upload for `session`'s member; what was stored.
pub async fn accept(
    state: &AppState,
    user: &User,
    content_type: &str,
    data: Bytes,
) -> AppResult<Uploaded> {
    let declared = declared_kind(content_type).ok_or_else(unsupported)?;
    let kind = match declared {
        Some(k) => k,
        None if image::sniff(&data).is_some() => Kind::Image,
        None if audio::sniff(&data).is_some() => Kind::Audio,
        None => return Err(unsupported()),
    };
    let limit = match kind {
        Kind::Image => MAX_IMAGE_BYTES,
        Kind::Audio => MAX_AUDIO_BYTES,
    };
    if data.len() > limit {
        return Err(AppError::PayloadTooLarge);
    }
    if data.is_empty() {
        return Err(AppError::invalid("file", "the file is empty"));
    }
    check_quota(state, user, data.len()).await?;
    let key = random_key();
    let row = match kind {
        Kind::Image => store_image(state, user, &key, data).await?,
        Kind::Audio => store_audio(state, user, &key, data).await?,
    };
    metrics::counter!("mutual_media_uploaded_total", "kind" => kind.as_str()).increment(1);
    Ok(row.uploaded())
}

async fn store_image(state: &AppState, user: &User, key: &str, data: Bytes) -> AppResult<MediaRow> {
    let processed = {
        let _permit = state
            .media
            .decoders
            .acquire()
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        tokio::task::spawn_blocking(move || image::process(&data))
            .await
            .map_err(|e| AppError::Internal(e.into()))?
    };
    let processed = processed.map_err(|refused| match refused {
        image::Refused::Format => AppError::invalid(
            "file",
            "this is not a JPEG, PNG or WebP photo, or it is damaged",
        ),
        image::Refused::TooManyPixels { width, height } => AppError::invalid(
            "file",
            if width > 0 {
                format!(
                    "the photo is {width} × {height} pixels; at most {} million pixels are taken",
                    image::MAX_PIXELS / 1_000_000
                )
            } else {
                format!(
                    "the photo has too many pixels; at most {} million are taken",
                    image::MAX_PIXELS / 1_000_000
                )
            },
        ),
        image::Refused::Corrupt(why) => {
            AppError::invalid("file", format!("the photo could not be read: {why}"))
        }
    })?;
    let full_key = format!("{key}/full");
    let thumb_key = format!("{key}/thumb");
    let full = Bytes::from(processed.full.data);
    let thumb = Bytes::from(processed.thumb.data);
    let (etag, thumb_etag) = (etag_of(&full), etag_of(&thumb));
    let (full_len, thumb_len) = (full.len() as i64, thumb.len() as i64);
    state.media.store.put(&full_key, full).await?;
    state.media.store.put(&thumb_key, thumb).await?;
    let inserted = {
        let mut w = state.store.write().await?;
        db!(
            w,
            fetch_one scalar i64,
            "INSERT INTO media (uploader_id, kind, content_type, storage_key, bytes, etag, thumb_content_type, thumb_bytes,
                                thumb_etag, width, height, thumb_width, thumb_height, created_at)
             VALUES ($1, 'image', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
            user.id,
            processed.full.content_type,
            key,
            full_len,
            &etag,
            processed.thumb.content_type,
            thumb_len,
            &thumb_etag,
            i64::from(processed.full.width),
            i64::from(processed.full.height),
            i64::from(processed.thumb.width),
            i64::from(processed.thumb.height),
            now_ms()
        )
    };
    let id = match inserted {
        Ok(id) => id,
        Err(e) => {
            // Not acknowledged: leave no bytes behind.
            let _ = state.media.store.delete(&full_key).await;
            let _ = state.media.store.delete(&thumb_key).await;
            return Err(e.into());
        }
    };
    load(state, id).await?.ok_or(AppError::NotFound)
}

async fn store_audio(state: &AppState, user: &User, key: &str, data: Bytes) -> AppResult<MediaRow> {
    let probe = {
        let data = data.clone();
        tokio::task::spawn_blocking(move || audio::probe(&data))
            .await
            .map_err(|e| AppError::Internal(e.into()))?
    };
    let probe = probe.map_err(|why| AppError::invalid("file", why))?;
    if probe.duration_ms > MAX_AUDIO_MS {
        return Err(AppError::invalid(
            "file",
            format!(
                "a voice note is at most {} minutes; this one is {} seconds",
                MAX_AUDIO_MS / 60_000,
                probe.duration_ms / 1000
            ),
        ));
    }
    let full_key = format!("{key}/full");
    let etag = etag_of(&data);
    let len = data.len() as i64;
    state.media.store.put(&full_key, data).await?;
    let inserted = {
        let mut w = state.store.write().await?;
        db!(
            w,
            fetch_one scalar i64,
            "INSERT INTO media (uploader_id, kind, content_type, storage_key, bytes, etag, duration_ms, created_at)
             VALUES ($1, 'audio', $2, $3, $4, $5, $6, $7) RETURNING id",
            user.id,
            probe.content_type,
            key,
            len,
            &etag,
            probe.duration_ms as i64,
            now_ms()
        )
    };
    let id = match inserted {
        Ok(id) => id,
        Err(e) => {
            let _ = state.media.store.delete(&full_key).await;
            return Err(e.into());
        }
    };
    load(state, id).await?.ok_or(AppError::NotFound)
}

async fn load(state: &AppState, id: i64) -> AppResult<Option<MediaRow>> {
    let mut conn = state.store.read().await?;
    Ok(db!(
        conn,
        fetch_optional as MediaRow,
        concat!(select_media!(), "WHERE m.id = $1"),
        id
    )?)
}

/// Reads an upload's bytes and declared type from a request: one `file` part of a
/// `multipart/form-data` body, or the raw body with its `Content-Type`.
async fn read_upload(state: &AppState, request: Request) -> AppResult<(String, Bytes)> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let mut multipart = axum::extract::Multipart::from_request(request, state)
            .await
            .map_err(|e| AppError::bad_request("bad_multipart", e.body_text()))?;
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            if field.name() != Some("file") {
                continue;
            }
            let declared = field.content_type().unwrap_or_default().to_owned();
            let data = field.bytes().await.map_err(multipart_error)?;
            return Ok((declared, data));
        }
        return Err(AppError::invalid(
            "file",
            "send the file in a part named `file`",
        ));
    }
    let data = axum::body::to_bytes(request.into_body(), UPLOAD_BODY_LIMIT)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    Ok((content_type, data))
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge
    } else {
        AppError::bad_request("bad_multipart", e.body_text())
    }
}

/// Upload a photo (JPEG, PNG, WebP, up to 10 MB) or a voice note (audio/webm, audio/ogg,
/// audio/mp4, up to 2 minutes and 5 MB): `multipart/form-data` with one `file` part, or the raw
/// bytes with their `Content-Type`. Photos are re-encoded without metadata. The media is yours
/// alone until you attach it to a post or message.
#[utoipa::path(post, path = "/api/v1/media", tag = "media", operation_id = "upload_media",
    request_body(content = Vec<u8>, description = "the file: multipart/form-data with a `file` part, or raw bytes", content_type = "multipart/form-data"),
    responses((status = 201, body = Uploaded), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, description = "a damaged photo, too many pixels, a voice note too long", body = ErrorBody),
              (status = 429, description = "the daily quota is used up", body = ErrorBody)),
    security(("bearer" = [])))]
async fn upload(
    State(state): State<AppState>,
    Auth(session): Auth,
    request: Request,
) -> AppResult<(StatusCode, axum::Json<Uploaded>)> {
    let (content_type, data) = read_upload(&state, request).await?;
    let uploaded = accept(&state, &session.user, &content_type, data).await?;
    Ok((StatusCode::CREATED, axum::Json(uploaded)))
}

#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
pub struct SizeParams {
    /// `full` (default) or `thumb`.
    pub size: Option<String>,
}

/// A photo or voice note, to whoever may read what it is attached to (its uploader alone while
/// unattached); 404 for everyone else.
#[utoipa::path(get, path = "/media/{id}", tag = "media", operation_id = "get_media",
    params(("id" = i64, Path), SizeParams),
    responses((status = 200, description = "the bytes", content_type = "application/octet-stream"), (status = 304, description = "not modified"), (status = 404, body = ErrorBody)))]
async fn serve(
    State(state): State<AppState>,
    MaybeAuth(viewer): MaybeAuth,
    Path(id): Path<i64>,
    Query(params): Query<SizeParams>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let thumb = match params.size.as_deref() {
        None | Some("full") => false,
        Some("thumb") => true,
        Some(_) => return Err(AppError::invalid("size", "full or thumb")),
    };
    let row = load(&state, id).await?.ok_or(AppError::NotFound)?;
    if !may_read(&state, viewer.as_ref().map(|s| &s.user), &row).await? {
        return Err(AppError::NotFound);
    }
    // A voice note has one size.
    let thumb = thumb && row.thumb_etag.is_some();
    let (key, etag, content_type) = if thumb {
        (
            format!("{}/thumb", row.storage_key),
            row.thumb_etag.clone().unwrap_or_default(),
            row.thumb_content_type.clone().unwrap_or_default(),
        )
    } else {
        (
            format!("{}/full", row.storage_key),
            row.etag.clone(),
            row.content_type.clone(),
        )
    };
    let mut response =
        if headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
        {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let data =
                state.media.store.get(&key).await?.ok_or_else(|| {
                    AppError::Internal(anyhow::anyhow!("media {id}: bytes missing"))
                })?;
            let mut r = data.into_response();
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r
        };
    let h = response.headers_mut();
    // Only this member's browser may keep it: access can end (a member leaves, a post goes).
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    Ok(response)
}

/// Whether `viewer` may fetch the media: what it is attached to decides; unattached, only its
/// uploader.
async fn may_read(state: &AppState, viewer: Option<&User>, row: &MediaRow) -> AppResult<bool> {
    if row.erased_at.is_some() {
        return Ok(false);
    }
    if let Some(post_id) = row.post_id {
        let found = {
            let mut conn = state.store.read().await?;
            db!(
                conn,
                fetch_optional as (i64, Option<i64>, Option<i64>, Option<i64>, bool, bool),
                "SELECT topic_id, author_id, deleted_at, hidden_at, awaiting_approval, held_for_review FROM posts WHERE id = $1",
                post_id
            )?
        };
        let Some((topic_id, author_id, deleted_at, hidden_at, awaiting, held)) = found else {
            return Ok(false);
        };
        let access = match crate::forum::visible_topic(state, topic_id, viewer).await {
            Ok((_, _, access)) => access,
            Err(AppError::NotFound) => return Ok(false),
            Err(e) => return Err(e),
        };
        if !access.can_read() || deleted_at.is_some() {
            return Ok(false);
        }
        let mine = viewer.is_some_and(|u| Some(u.id) == author_id);
        if (hidden_at.is_some() || awaiting) && !mine && !access.is_moderator() {
            return Ok(false);
        }
        return Ok(!(held && viewer.is_none()));
    }
    if let Some(message_id) = row.message_id {
        let mut conn = state.store.read().await?;
        let room = db!(
            conn,
            fetch_optional scalar i64,
            "SELECT room_id FROM chat_messages WHERE id = $1 AND deleted_at IS NULL",
            message_id
        )?;
        let Some(room) = room else {
            return Ok(false);
        };
        return match crate::chat::room_gate(&mut conn, room, viewer).await {
            Ok((_, access)) => Ok(access.can_read()),
            Err(AppError::NotFound) => Ok(false),
            Err(e) => Err(e),
        };
    }
    Ok(viewer.is_some_and(|u| Some(u.id) == row.uploader_id))
}

/// Checks the attachments a member asks for: their own uploads, not attached yet, at most
/// `MAX_ATTACHMENTS`, each photo with its alt text. Problems are recorded on `fields`.
pub async fn check_attachments(
    state: &AppState,
    user: &User,
    asked: &[AttachmentRequest],
    fields: &mut FieldErrors,
) -> AppResult<Checked> {
    if asked.is_empty() {
        return Ok(Checked::default());
    }
    if asked.len() > MAX_ATTACHMENTS {
        fields.push(
            "attachments",
            format!("attach at most {MAX_ATTACHMENTS} files"),
        );
        return Ok(Checked::default());
    }
    let mut checked = Vec::with_capacity(asked.len());
    for (i, a) in asked.iter().enumerate() {
        let field = format!("attachments[{i}]");
        if asked[..i].iter().any(|b| b.id == a.id) {
            fields.push(field, "this file is attached twice");
            continue;
        }
        let row = load(state, a.id).await?;
        let Some(row) = row.filter(|r| {
            r.uploader_id == Some(user.id)
                && r.erased_at.is_none()
                && r.post_id.is_none()
                && r.message_id.is_none()
        }) else {
            fields.push(field, "not one of your uploads waiting to be attached");
            continue;
        };
        let alt = a.alt.as_deref().map(str::trim).unwrap_or_default();
        if alt.contains('\0') {
            fields.push(format!("{field}.alt"), "the alt text holds a NUL character");
            continue;
        }
        let chars = alt.chars().count();
        if Kind::parse(&row.kind) == Kind::Image && chars == 0 {
            fields.push(
                format!("{field}.alt"),
                "describe the photo for those who cannot see it (alt text)",
            );
            continue;
        }
        if chars > MAX_ALT_CHARS {
            fields.push(
                format!("{field}.alt"),
                format!("the alt text is at most {MAX_ALT_CHARS} characters"),
            );
            continue;
        }
        let mut shown = row.attachment();
        shown.alt = alt.to_owned();
        checked.push(shown);
    }
    Ok(Checked(checked))
}

/// What media hangs on.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    Post(i64),
    Message(i64),
}

/// Attaches checked media in the write's transaction; a media attached meanwhile elsewhere
/// makes the whole write fail (409), so one upload never hangs on two posts.
pub async fn attach(
    conn: &mut impl AsDb,
    uploader: i64,
    target: Target,
    checked: &Checked,
) -> AppResult<()> {
    for (position, a) in checked.0.iter().enumerate() {
        let (id, alt) = (&a.id, &a.alt);
        let (post_id, message_id) = match target {
            Target::Post(p) => (Some(p), None),
            Target::Message(m) => (None, Some(m)),
        };
        let n = db!(
            *conn,
            execute,
            "UPDATE media SET post_id = $3, message_id = $4, alt = $5, position = $6
             WHERE id = $1 AND uploader_id = $2 AND post_id IS NULL AND message_id IS NULL AND erased_at IS NULL",
            *id,
            uploader,
            post_id,
            message_id,
            alt.as_str(),
            position as i64
        )?;
        if n != 1 {
            return Err(AppError::conflict(
                "media_taken",
                format!("media {id} is already attached elsewhere"),
            ));
        }
    }
    Ok(())
}

/// The attachments of one post, in order.
pub async fn for_post(conn: &mut impl AsDb, post_id: i64) -> AppResult<Vec<Attachment>> {
    let rows = db!(
        *conn,
        fetch_all as MediaRow,
        concat!(
            select_media!(),
            "WHERE m.post_id = $1 AND m.erased_at IS NULL ORDER BY m.position"
        ),
        post_id
    )?;
    Ok(rows.iter().map(MediaRow::attachment).collect())
}

/// The attachments of a topic's posts numbered in `(after, last]`, as (post id, attachment).
pub async fn for_posts(
    conn: &mut impl AsDb,
    topic_id: i64,
    after: i64,
    last: i64,
) -> AppResult<Vec<(i64, Attachment)>> {
    let rows = db!(
        *conn,
        fetch_all as MediaRow,
        concat!(
            select_media!(),
            "JOIN posts p ON p.id = m.post_id
             WHERE p.topic_id = $1 AND p.seq > $2 AND p.seq <= $3 AND m.erased_at IS NULL
             ORDER BY m.post_id, m.position"
        ),
        topic_id,
        after,
        last
    )?;
    Ok(rows
        .iter()
        .filter_map(|r| r.post_id.map(|p| (p, r.attachment())))
        .collect())
}

/// The attachments of one chat message, in order.
pub async fn for_message(conn: &mut impl AsDb, message_id: i64) -> AppResult<Vec<Attachment>> {
    let rows = db!(
        *conn,
        fetch_all as MediaRow,
        concat!(
            select_media!(),
            "WHERE m.message_id = $1 AND m.erased_at IS NULL ORDER BY m.position"
        ),
        message_id
    )?;
    Ok(rows.iter().map(MediaRow::attachment).collect())
}

/// Marks a deleted post's media for erasure, in the deletion's transaction.
pub async fn erase_for_post(conn: &mut impl AsDb, post_id: i64) -> AppResult<()> {
    db!(
        *conn,
        execute,
        "UPDATE media SET erased_at = $2 WHERE post_id = $1 AND erased_at IS NULL",
        post_id,
        now_ms()
    )?;
    Ok(())
}

/// Marks a deleted chat message's media for erasure, in the deletion's transaction.
pub async fn erase_for_message(conn: &mut impl AsDb, message_id: i64) -> AppResult<()> {
    db!(
        *conn,
        execute,
        "UPDATE media SET erased_at = $2 WHERE message_id = $1 AND erased_at IS NULL",
        message_id,
        now_ms()
    )?;
    Ok(())
}

/// Marks everything a member uploaded for erasure, in the account erasure's transaction
/// (before the account row goes and the uploader becomes NULL).
pub async fn erase_for_user(conn: &mut impl AsDb, user_id: i64) -> AppResult<()> {
    db!(
        *conn,
        execute,
        "UPDATE media SET erased_at = $2 WHERE uploader_id = $1 AND erased_at IS NULL",
        user_id,
        now_ms()
    )?;
    Ok(())
}

/// Removes the bytes of media marked erased, then their rows. Run after a deletion commits and
/// by the upkeep loop (which picks up what a crash or an unreachable store left); each row goes
/// only once its bytes are gone.
pub async fn sweep(state: &AppState) -> AppResult<usize> {
    let due = {
        let mut conn = state.store.read().await?;
        db!(
            conn,
            fetch_all as (i64, String),
            "SELECT id, storage_key FROM media WHERE erased_at IS NOT NULL ORDER BY id LIMIT 500"
        )?
    };
    let mut removed = 0;
    for (id, key) in due {
        let full = state.media.store.delete(&format!("{key}/full")).await;
        let thumb = state.media.store.delete(&format!("{key}/thumb")).await;
        if let Err(e) = full.and(thumb) {
            tracing::warn!(error = %e, media = id, "removing erased media bytes");
            continue;
        }
        let mut w = state.store.write().await?;
        db!(w, execute, "DELETE FROM media WHERE id = $1", id)?;
        removed += 1;
    }
    if removed > 0 {
        metrics::counter!("mutual_media_erased_total").increment(removed as u64);
    }
    Ok(removed)
}

/// A member's uploads for their export: id, kind, address, alt text and where each hangs.
pub async fn export_list(conn: &mut impl AsDb, user_id: i64) -> AppResult<serde_json::Value> {
    let rows = db!(
        *conn,
        fetch_all as MediaRow,
        concat!(
            select_media!(),
            "WHERE m.uploader_id = $1 AND m.erased_at IS NULL ORDER BY m.id"
        ),
        user_id
    )?;
    Ok(serde_json::Value::Array(
        rows.iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "kind": r.kind,
                    "content_type": r.content_type,
                    "url": format!("/media/{}", r.id),
                    "alt": r.alt,
                    "post_id": r.post_id,
                    "message_id": r.message_id,
                })
            })
            .collect(),
    ))
}

/// The attachments of a post or message as a case's snapshot keeps them (JSON).
pub async fn snapshot_json(conn: &mut impl AsDb, target: Target) -> AppResult<String> {
    let list = match target {
        Target::Post(id) => for_post(conn, id).await?,
        Target::Message(id) => for_message(conn, id).await?,
    };
    Ok(serde_json::to_string(&list).unwrap_or_else(|_| "[]".into()))
}

/// Parses a case's kept attachments.
pub fn parse_snapshot(raw: &str) -> Vec<Attachment> {
    serde_json::from_str(raw).unwrap_or_default()
}

/// For the web forms: uploads a file sent with a post and answers its id.
pub async fn accept_from_form(
    state: &AppState,
    session: &Session,
    content_type: &str,
    data: Bytes,
) -> AppResult<i64> {
    Ok(accept(state, &session.user, content_type, data).await?.id)
}
