//! The axum routes: multivariant and media playlists, init segments, parts and segments.

mod respond;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Path, RawQuery, State};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::get;
use hls::{
    BlockingDecision, Codecs, MediaObject, ObjectDecision, PlaylistQuery, RenderOptions,
    RenditionName, Resolution, Variant,
};

use crate::metrics::Kind;
use crate::waiters::WakeKey;
use crate::{SOURCE_RENDITION, ServeMetrics, ServedState, ServedStream, StreamSource};

/// How long a multivariant request waits for a new stream's first init and segment.
const MULTIVARIANT_WAIT: Duration = Duration::from_secs(5);

/// What every handler shares (one `Arc`: extracting the state is one reference count).
struct Serving {
    source: Arc<dyn StreamSource>,
    metrics: ServeMetrics,
}

/// The LL-HLS routes over `source`, counting into `metrics`. Every response carries the CORS
/// headers browser players need, and `OPTIONS` answers the preflight.
pub fn routes(source: Arc<dyn StreamSource>, metrics: ServeMetrics) -> Router {
    let preflight = || async { respond::preflight() };
    Router::new()
        .route(
            "/live/{stream}/index.m3u8",
            get(multivariant).options(preflight),
        )
        .route(
            "/live/{stream}/{rendition}/{object}",
            get(rendition_object).options(preflight),
        )
        .with_state(Arc::new(Serving { source, metrics }))
}

/// The request's `User-Agent`, alone (the `HeaderMap` extractor would copy every header).
struct UserAgent(Option<HeaderValue>);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts.headers.get(axum::http::header::USER_AGENT).cloned(),
        ))
    }
}

async fn multivariant(State(serving): State<Arc<Serving>>, Path(stream): Path<String>) -> Response {
    let Some(live) = serving.source.find(&stream).await else {
        return respond::not_found("unknown stream");
    };
    live.touch();
    let rendered = wait_for(
        &serving.metrics,
        &live,
        WakeKey::Any,
        |_| MULTIVARIANT_WAIT,
        |state| {
            let variant = state.variant.as_ref()?;
            let bandwidth = variant.peak_bitrate.max(variant.average_bitrate);
            if bandwidth == 0 {
                return None; // no segment closed yet: BANDWIDTH would be a guess
            }
            let variant = Variant {
                name: RenditionName::new(SOURCE_RENDITION).ok()?,
                bandwidth,
                average_bandwidth: Some(variant.average_bitrate).filter(|b| *b > 0),
                codecs: Codecs::new(&variant.codecs).ok()?,
                resolution: variant
                    .resolution
                    .map(|(width, height)| Resolution { width, height }),
                frame_rate: variant.frame_rate,
            };
            Some(Ok(hls::render_multivariant(&[variant])))
        },
    )
    .await;
    match rendered {
        Some(Ok(text)) => {
            serving.metrics.sent(Kind::Multivariant, text.len());
            respond::playlist(text.into(), false, Duration::ZERO)
        }
        Some(Err(response)) => response,
        None => respond::unavailable(&serving.metrics, "the stream has no media yet"),
    }
}

async fn rendition_object(
    State(serving): State<Arc<Serving>>,
    Path((stream, rendition, object)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    peer: Result<ConnectInfo<std::net::SocketAddr>, axum::extract::rejection::ExtensionRejection>,
    UserAgent(user_agent): UserAgent,
) -> Response {
    if rendition != SOURCE_RENDITION {
        return respond::not_found("unknown rendition");
    }
    let Some(object) = hls::parse_object_name(&object) else {
        return respond::not_found("unknown object");
    };
    let Some(live) = serving.source.find(&stream).await else {
        return respond::not_found("unknown stream");
    };
    live.touch();
    match object {
        MediaObject::Playlist => {
            live.note_viewer(crate::viewers::client_key(
                peer.ok().map(|p| p.0.ip()),
                user_agent.as_ref().map(HeaderValue::as_bytes),
            ));
            media_playlist(&serving.metrics, &live, query.as_deref().unwrap_or("")).await
        }
        object => media_object(&serving.metrics, &live, object).await,
    }
}

async fn media_playlist(metrics: &ServeMetrics, live: &ServedStream, query: &str) -> Response {
    let query = match PlaylistQuery::parse(query) {
        Ok(query) => query,
        Err(error) => {
            metrics.bad_request(error.reason());
            return respond::bad_request(&error.to_string());
        }
    };
    let blocking = query.msn.is_some();
    let rendered = wait_for(
        metrics,
        live,
        WakeKey::for_playlist(&query),
        |state| state.window.window().blocking_timeout(),
        |state| {
            // Until the first part exists there is nothing a player could use.
            state.window.window().last_part()?;
            match state.window.window().blocking_decision(&query) {
                BlockingDecision::Ready => {
                    let window = state.window.window();
                    let text = state.playlists.get_or_render(window, query.skip, || {
                        hls::render_media(
                            window,
                            &query,
                            &RenderOptions {
                                rendition_reports: &[],
                            },
                        )
                    });
                    Some(Ok((text, window.target_duration())))
                }
                BlockingDecision::TooFar => {
                    metrics.bad_request("msn_too_far");
                    Some(Err(respond::bad_request(
                        "_HLS_msn is more than two segments past the live edge",
                    )))
                }
                BlockingDecision::Wait => None,
            }
        },
    )
    .await;
    match rendered {
        Some(Ok((text, target))) => {
            metrics.sent(Kind::Playlist, text.len());
            respond::playlist(text, blocking, Duration::from_secs(target))
        }
        Some(Err(response)) => response,
        None => respond::unavailable(metrics, "the requested part did not appear in time"),
    }
}

async fn media_object(
    metrics: &ServeMetrics,
    live: &ServedStream,
    object: MediaObject,
) -> Response {
    let kind = match object {
        MediaObject::Part(_) => Kind::Part,
        MediaObject::Segment(_) => Kind::Segment,
        _ => Kind::Init,
    };
    if let Some(bytes) = live.cached(object) {
        metrics.sent(kind, bytes.len());
        return respond::media(bytes);
    }
    let decided = wait_for(
        metrics,
        live,
        WakeKey::for_object(&object),
        |state| state.window.window().blocking_timeout(),
        |state| match state.window.window().object_decision(&object) {
            ObjectDecision::Serve(bytes) => Some(Ok(bytes)),
            ObjectDecision::Wait => None,
            ObjectDecision::NotFound | ObjectDecision::Playlist => {
                Some(Err(respond::not_found("no such object")))
            }
            ObjectDecision::Gone => Some(Err(respond::gone())),
        },
    )
    .await;
    match decided {
        Some(Ok(bytes)) => {
            metrics.sent(kind, bytes.len());
            respond::media(bytes)
        }
        Some(Err(response)) => response,
        None => respond::unavailable(metrics, "the hinted part did not appear in time"),
    }
}

/// Evaluates `check` on the stream's state now and each time a change may have satisfied
/// `key`, until it answers or `timeout` (read off the state when the request starts waiting)
/// passes (`None`). Waiting holds one `Notified`, nothing else; a part wakes only the requests
/// waiting for it (`waiters`). A request answered at once, or at its first wake-up, registers
/// nothing more.
async fn wait_for<T>(
    metrics: &ServeMetrics,
    live: &ServedStream,
    key: WakeKey,
    timeout: impl FnOnce(&ServedState) -> Duration,
    mut check: impl FnMut(&mut ServedState) -> Option<T>,
) -> Option<T> {
    if let Some(answer) = check(&mut live.lock()) {
        return Some(answer);
    }
    let mut timeout = Some(timeout);
    let mut deadline = None;
    let mut held = None;
    loop {
        // Registered before the check, so a change between the check and the await still
        // wakes this request.
        let notify = live.waiters().register(key);
        let notified = notify.notified();
        let deadline = {
            let mut state = live.lock();
            if let Some(answer) = check(&mut state) {
                return Some(answer);
            }
            *deadline.get_or_insert_with(|| {
                let timeout = timeout.take().map_or(Duration::ZERO, |f| f(&state));
                tokio::time::Instant::from_std(node::clock::now()) + timeout
            })
        };
        held.get_or_insert_with(|| HeldRequest::new(metrics));
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return None;
        }
        // Woken: most likely answered now, without registering again.
        if let Some(answer) = check(&mut live.lock()) {
            return Some(answer);
        }
    }
}

/// Counts a held request in `livecdn_hls_held_requests` while it lives.
struct HeldRequest<'a>(&'a ServeMetrics);

impl<'a> HeldRequest<'a> {
    fn new(metrics: &'a ServeMetrics) -> Self {
        metrics.held_requests.inc();
        Self(metrics)
    }
}

impl Drop for HeldRequest<'_> {
    fn drop(&mut self) {
        self.0.held_requests.dec();
    }
}

#[cfg(test)]
mod tests;
