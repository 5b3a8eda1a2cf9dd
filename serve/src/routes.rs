//! The axum routes: multivariant and media playlists, init segments, parts and segments.

mod cors;
mod respond;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use hls::{
    BlockingDecision, Codecs, MediaObject, ObjectDecision, PlaylistQuery, RenderOptions,
    RenditionName, Resolution, Variant,
};

use crate::waiters::WakeKey;
use crate::{SOURCE_RENDITION, ServeMetrics, ServedState, ServedStream, StreamSource};

/// How long a multivariant request waits for a new stream's first init and segment.
const MULTIVARIANT_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct Serving {
    source: Arc<dyn StreamSource>,
    metrics: ServeMetrics,
}

/// The LL-HLS routes over `source`, counting into `metrics`.
pub fn routes(source: Arc<dyn StreamSource>, metrics: ServeMetrics) -> Router {
    Router::new()
        .route("/live/{stream}/index.m3u8", get(multivariant))
        .route("/live/{stream}/{rendition}/{object}", get(rendition_object))
        .with_state(Serving { source, metrics })
        .layer(axum::middleware::from_fn(cors::cors))
}

async fn multivariant(State(serving): State<Serving>, Path(stream): Path<String>) -> Response {
    let Some(live) = serving.source.find(&stream).await else {
        return respond::not_found("unknown stream");
    };
    live.touch();
    let rendered = wait_for(
        &serving.metrics,
        &live,
        WakeKey::Any,
        MULTIVARIANT_WAIT,
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
            serving.metrics.sent("multivariant", text.len());
            respond::playlist(text.into(), false, Duration::ZERO)
        }
        Some(Err(response)) => response,
        None => respond::unavailable(&serving.metrics, "the stream has no media yet"),
    }
}

async fn rendition_object(
    State(serving): State<Serving>,
    Path((stream, rendition, object)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    peer: Result<ConnectInfo<std::net::SocketAddr>, axum::extract::rejection::ExtensionRejection>,
    headers: HeaderMap,
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
            let user_agent = headers.get(axum::http::header::USER_AGENT);
            live.note_viewer(crate::viewers::client_key(
                peer.ok().map(|p| p.0.ip()),
                user_agent.map(axum::http::HeaderValue::as_bytes),
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
    let timeout = live.lock().window.window().blocking_timeout();
    let rendered = wait_for(
        metrics,
        live,
        WakeKey::for_playlist(&query),
        timeout,
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
            metrics.sent("playlist", text.len());
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
        MediaObject::Part(_) => "part",
        MediaObject::Segment(_) => "segment",
        _ => "init",
    };
    if let Some(bytes) = live.cached(object) {
        metrics.sent(kind, bytes.len());
        return respond::media(bytes);
    }
    let timeout = live.lock().window.window().blocking_timeout();
    let decided = wait_for(
        metrics,
        live,
        WakeKey::for_object(&object),
        timeout,
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
/// `key`, until it answers or `timeout` passes (`None`). Waiting holds one `Notified`, nothing
/// else; a part wakes only the requests waiting for it (`waiters`).
async fn wait_for<T>(
    metrics: &ServeMetrics,
    live: &ServedStream,
    key: WakeKey,
    timeout: Duration,
    mut check: impl FnMut(&mut ServedState) -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::from_std(node::clock::now()) + timeout;
    let mut held = None;
    loop {
        // Registered before the check, so a change between the check and the await still
        // wakes this request.
        let notify = live.waiters().register(key);
        let notified = notify.notified();
        if let Some(answer) = check(&mut live.lock()) {
            return Some(answer);
        }
        held.get_or_insert_with(|| HeldRequest::new(metrics));
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return None;
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
