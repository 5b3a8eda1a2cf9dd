//! The routes on a synthetic window with paused time: what players see.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use hls::{PartInput, WindowConfig};
use relay_wire::RelayWindow;
use tower::ServiceExt;

use crate::{ServeMetrics, ServedStream, StreamTable, VariantInfo, routes};

const PART: Duration = Duration::from_millis(200);

fn setup() -> (axum::Router, Arc<ServedStream>, ServeMetrics) {
    setup_with(StreamTable::new())
}

fn setup_with(table: StreamTable) -> (axum::Router, Arc<ServedStream>, ServeMetrics) {
    let window = RelayWindow::new(WindowConfig::default()).unwrap();
    let stream = Arc::new(ServedStream::new("demo", window, 1));
    {
        let mut state = stream.lock();
        state
            .window
            .handle_init(0, Bytes::from_static(b"init"))
            .unwrap();
        state.variant = Some(VariantInfo {
            codecs: "avc1.64001f,mp4a.40.2".into(),
            resolution: Some((1280, 720)),
            frame_rate: Some(30.0),
            peak_bitrate: 3_000_000,
            average_bitrate: 2_500_000,
        });
    }
    let table = Arc::new(table);
    table.insert(stream.clone());
    let metrics = ServeMetrics::default();
    (routes(table, metrics.clone()), stream, metrics)
}

/// Appends the next part (5 per 1 s segment), as the packager would.
fn push_part(stream: &ServedStream, n: u64) {
    let events;
    {
        let mut state = stream.lock();
        let part = PartInput {
            data: Bytes::from(format!("part{n}")),
            duration: PART,
            independent: n.is_multiple_of(5),
            ends_segment: n % 5 == 4,
            program_date_time_ms: 1_700_000_000_000 + n * 200,
        };
        state.window.handle_part(part, 0).unwrap();
        events = std::iter::from_fn(|| state.window.poll_output()).collect();
    }
    stream.notify(events);
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test(start_paused = true)]
async fn a_blocking_reload_is_held_until_the_part_exists_then_answered() {
    let (app, stream, metrics) = setup();
    for n in 0..3 {
        push_part(&stream, n);
    }
    let request = tokio::spawn({
        let app = app.clone();
        async move { get(&app, "/live/demo/source/index.m3u8?_HLS_msn=0&_HLS_part=4").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!request.is_finished(), "held until part 0.4 exists");
    assert_eq!(metrics.held_requests.get(), 1);
    push_part(&stream, 3);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!request.is_finished(), "part 0.3 is not enough");
    push_part(&stream, 4);
    let (status, headers, body) = request.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("part0.4.m4s"), "{body}");
    assert_eq!(headers["content-type"], "application/vnd.apple.mpegurl");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public, max-age=")
    );
    assert_eq!(metrics.held_requests.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_hinted_part_is_held_then_served_immutable() {
    let (app, stream, _) = setup();
    push_part(&stream, 0);
    let request = tokio::spawn({
        let app = app.clone();
        async move { get(&app, "/live/demo/source/part0.1.m4s").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!request.is_finished());
    push_part(&stream, 1);
    let (status, headers, body) = request.await.unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "part1"));
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(headers["access-control-allow-origin"], "*");
}

#[tokio::test(start_paused = true)]
async fn a_part_that_never_comes_gets_503_after_three_target_durations() {
    let (app, stream, metrics) = setup();
    push_part(&stream, 0);
    let started = tokio::time::Instant::from_std(node::clock::now());
    let (status, _, _) = get(&app, "/live/demo/source/part0.1.m4s").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let waited = tokio::time::Instant::from_std(node::clock::now()) - started;
    assert_eq!(waited.as_secs(), 3, "3 x EXT-X-TARGETDURATION (1 s)");
    assert_eq!(metrics.timeouts.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn bad_queries_and_names_are_refused_and_counted() {
    let (app, stream, metrics) = setup();
    push_part(&stream, 0);
    assert_eq!(
        get(&app, "/live/demo/source/index.m3u8?_HLS_part=1")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&app, "/live/demo/source/index.m3u8?_HLS_msn=99")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&app, "/live/demo/source/index.m3u8?_HLS_msn=x").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&app, "/live/demo/source/part0.-1.m4s").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/live/demo/other/index.m3u8").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/live/nope/source/index.m3u8").await.0,
        StatusCode::NOT_FOUND
    );
    let refused: u64 = ["part_without_msn", "msn_too_far", "not_a_number"]
        .iter()
        .map(|reason| {
            metrics
                .bad_requests
                .get_or_create(&crate::metrics::ReasonLabels { reason })
                .get()
        })
        .sum();
    assert_eq!(refused, 3);
}

#[tokio::test(start_paused = true)]
async fn multivariant_and_preflight() {
    let (app, stream, _) = setup();
    for n in 0..5 {
        push_part(&stream, n);
    }
    let (status, headers, body) = get(&app, "/live/demo/index.m3u8").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains(
            "BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,CODECS=\"avc1.64001f,mp4a.40.2\""
        ),
        "{body}"
    );
    assert_eq!(headers["cache-control"], "no-cache");
    let preflight = app
        .clone()
        .oneshot(
            Request::options("/live/demo/index.m3u8")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        preflight.headers()["access-control-allow-methods"],
        "GET, HEAD, OPTIONS"
    );
}

#[tokio::test(start_paused = true)]
async fn with_a_cache_a_segment_that_left_the_window_is_still_served() {
    let metrics = crate::CacheMetrics::default();
    let cache = crate::ObjectCache::new(1 << 20, metrics.clone());
    let (cached, cached_stream, _) = setup_with(StreamTable::with_cache(cache));
    let (plain, plain_stream, _) = setup();
    // 40 segments: segment 0 has left both windows and been released.
    for n in 0..200 {
        push_part(&cached_stream, n);
        push_part(&plain_stream, n);
    }
    assert_eq!(plain_stream.lock().window.window().segment(0), None);
    let (status, _, _) = get(&plain, "/live/demo/source/seg0.m4s").await;
    assert_eq!(
        status,
        StatusCode::GONE,
        "without a cache the window is all there is"
    );
    let (status, headers, body) = get(&cached, "/live/demo/source/seg0.m4s").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(body, "part0part1part2part3part4");
    // Live objects come from the cache too, byte-identical to the window's.
    let (status, _, body) = get(&cached, "/live/demo/source/part39.2.m4s").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "part197"));
    let (_, _, init) = get(&cached, "/live/demo/source/init.mp4").await;
    assert_eq!(init, "init");
    let hits = |kind| {
        metrics
            .hits
            .get_or_create(&crate::cache::CacheKindLabels { kind })
            .get()
    };
    assert_eq!((hits("segment"), hits("part"), hits("init")), (1, 1, 1));
}
