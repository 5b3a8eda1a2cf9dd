//! HTTP serving of LL-HLS: the URL layout of `design.md`, blocking playlist reload and held
//! preload-hint requests (each waits on the stream's change notification, never polls),
//! per-object caching headers, CORS. The edge will reuse this through the same `hls` renderer.
//!
//! - `GET /live/{stream}/index.m3u8`: multivariant playlist;
//! - `GET /live/{stream}/{rendition}/index.m3u8[?_HLS_msn=M[&_HLS_part=P]][&_HLS_skip=YES|v2]`;
//! - `GET /live/{stream}/{rendition}/init.mp4 | init-{g}.mp4 | seg{msn}.m4s | part{msn}.{i}.m4s`.

mod cors;
mod respond;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use hls::{
    BlockingDecision, Codecs, MediaObject, ObjectDecision, PlaylistQuery, RenderOptions,
    RenditionName, Resolution, Variant,
};

use crate::metrics::ReasonLabels;
use crate::streams::{LiveStream, SOURCE_RENDITION, StreamHub};

/// How long a multivariant request waits for a new stream's first init and segment.
const MULTIVARIANT_WAIT: Duration = Duration::from_secs(5);

/// The LL-HLS routes over `hub`.
pub fn routes(hub: Arc<StreamHub>) -> Router {
    Router::new()
        .route("/live/{stream}/index.m3u8", get(multivariant))
        .route("/live/{stream}/{rendition}/{object}", get(rendition_object))
        .with_state(hub)
        .layer(axum::middleware::from_fn(cors::cors))
}

async fn multivariant(State(hub): State<Arc<StreamHub>>, Path(stream): Path<String>) -> Response {
    let Some(live) = hub.get(&stream) else {
        return respond::not_found("unknown stream");
    };
    let rendered = wait_for(&hub, &live, MULTIVARIANT_WAIT, |state| {
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
    })
    .await;
    match rendered {
        Some(Ok(text)) => respond::playlist(text, false, Duration::ZERO),
        Some(Err(response)) => response,
        None => respond::unavailable("the stream has no media yet"),
    }
}

async fn rendition_object(
    State(hub): State<Arc<StreamHub>>,
    Path((stream, rendition, object)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(live) = hub.get(&stream) else {
        return respond::not_found("unknown stream");
    };
    if rendition != SOURCE_RENDITION {
        return respond::not_found("unknown rendition");
    }
    match hls::parse_object_name(&object) {
        Some(MediaObject::Playlist) => {
            media_playlist(&hub, &live, query.as_deref().unwrap_or("")).await
        }
        Some(object) => media_object(&hub, &live, object).await,
        None => respond::not_found("unknown object"),
    }
}

async fn media_playlist(hub: &StreamHub, live: &LiveStream, query: &str) -> Response {
    let query = match PlaylistQuery::parse(query) {
        Ok(query) => query,
        Err(error) => {
            hub.metrics()
                .bad_requests
                .get_or_create(&ReasonLabels {
                    reason: error.reason(),
                })
                .inc();
            return respond::bad_request(&error.to_string());
        }
    };
    let blocking = query.msn.is_some();
    let timeout = live.lock().window.blocking_timeout();
    let rendered = wait_for(hub, live, timeout, |state| {
        // Until the first part exists there is nothing a player could use.
        state.window.last_part()?;
        match state.window.blocking_decision(&query) {
            BlockingDecision::Ready => {
                let text = hls::render_media(
                    &state.window,
                    &query,
                    &RenderOptions {
                        rendition_reports: &[],
                    },
                );
                Some(Ok((text, state.window.target_duration())))
            }
            BlockingDecision::TooFar => {
                hub.metrics()
                    .bad_requests
                    .get_or_create(&ReasonLabels {
                        reason: "msn_too_far",
                    })
                    .inc();
                Some(Err(respond::bad_request(
                    "_HLS_msn is more than two segments past the live edge",
                )))
            }
            BlockingDecision::Wait => None,
        }
    })
    .await;
    match rendered {
        Some(Ok((text, target))) => respond::playlist(text, blocking, Duration::from_secs(target)),
        Some(Err(response)) => response,
        None => respond::unavailable("the requested part did not appear in time"),
    }
}

async fn media_object(hub: &StreamHub, live: &LiveStream, object: MediaObject) -> Response {
    let timeout = live.lock().window.blocking_timeout();
    let decided = wait_for(hub, live, timeout, |state| {
        match state.window.object_decision(&object) {
            ObjectDecision::Serve(bytes) => Some(Ok(bytes)),
            ObjectDecision::Wait => None,
            ObjectDecision::NotFound | ObjectDecision::Playlist => {
                Some(Err(respond::not_found("no such object")))
            }
            ObjectDecision::Gone => Some(Err(respond::gone())),
        }
    })
    .await;
    match decided {
        Some(Ok(bytes)) => respond::media(bytes),
        Some(Err(response)) => response,
        None => respond::unavailable("the hinted part did not appear in time"),
    }
}

/// Evaluates `check` on the stream's state now and after every change until it answers or
/// `timeout` passes (`None`). Waiting holds one `watch` receiver, nothing else.
async fn wait_for<T>(
    hub: &StreamHub,
    live: &LiveStream,
    timeout: Duration,
    mut check: impl FnMut(&crate::streams::StreamState) -> Option<T>,
) -> Option<T> {
    let mut changes = live.subscribe();
    if let Some(answer) = check(&live.lock()) {
        return Some(answer);
    }
    let _held = HeldRequest::new(hub);
    let deadline = tokio::time::Instant::from_std(node::clock::now()) + timeout;
    loop {
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {
                if let Some(answer) = check(&live.lock()) {
                    return Some(answer);
                }
            }
            Ok(Err(_)) | Err(_) => return None,
        }
    }
}

/// Counts a held request in `livecdn_origin_held_requests` while it lives.
struct HeldRequest<'a>(&'a StreamHub);

impl<'a> HeldRequest<'a> {
    fn new(hub: &'a StreamHub) -> Self {
        hub.metrics().held_requests.inc();
        Self(hub)
    }
}

impl Drop for HeldRequest<'_> {
    fn drop(&mut self) {
        self.0.metrics().held_requests.dec();
    }
}
