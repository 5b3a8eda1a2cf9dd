use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use media::flv::{FlvReader, TagType};

use super::*;
use crate::config::PackagingSection;

const GRACE: Duration = Duration::from_secs(15);

fn hub() -> Arc<StreamHub> {
    let mut registry = node::metrics::new_registry();
    let metrics = OriginMetrics::register(&mut registry);
    Arc::new(StreamHub::new(&PackagingSection::default(), GRACE, metrics))
}

/// Feeds the demo clip's tags up to `until_ms` into `publication`.
fn feed(publication: &mut Publication, until_ms: u32) {
    let reader = FlvReader::new(Bytes::from_static(crate::demo::DEMO_CLIP)).unwrap();
    for tag in reader
        .map(Result::unwrap)
        .take_while(|t| t.timestamp_ms <= until_ms)
    {
        let ts = u64::from(tag.timestamp_ms);
        match tag.tag_type {
            TagType::Video => publication.handle_video(ts, tag.body).unwrap(),
            TagType::Audio => publication.handle_audio(ts, tag.body).unwrap(),
            _ => {}
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_second_publisher_is_refused_while_the_first_is_connected() {
    let hub = hub();
    let first = hub.claim("demo").unwrap();
    let second = hub.claim("demo").unwrap_err();
    assert_eq!(second.reason(), "already_live");
    assert!(hub.claim("other").is_ok(), "other streams are independent");
    drop(first);
}

#[tokio::test(start_paused = true)]
async fn published_media_becomes_parts_with_wall_clock_dates() {
    let hub = hub();
    let mut publication = hub.claim("demo").unwrap();
    feed(&mut publication, 2100);
    let stream = hub.get("demo").unwrap();
    let state = stream.lock();
    let variant = state.variant.clone().unwrap();
    assert_eq!(variant.codecs, "avc1.4d401e,mp4a.40.2");
    assert_eq!(variant.resolution, Some((640, 360)));
    assert!(
        variant.peak_bitrate > 0,
        "two segments closed, so a bitrate is known"
    );
    assert_eq!(state.window.window().last_closed_msn(), Some(1));
    assert!(state.window.window().segment(0).is_some() && state.window.window().init(0).is_some());
    let playlist = hls::render_media(
        state.window.window(),
        &hls::PlaylistQuery::default(),
        &hls::RenderOptions {
            rendition_reports: &[],
        },
    );
    assert!(
        playlist.contains("#EXT-X-PROGRAM-DATE-TIME:20"),
        "{playlist}"
    );
    assert!(!playlist.contains("#EXT-X-ENDLIST"));
}

#[tokio::test(start_paused = true)]
async fn a_reconnect_within_the_grace_continues_with_a_discontinuity() {
    let hub = hub();
    let mut first = hub.claim("demo").unwrap();
    feed(&mut first, 2100);
    drop(first);
    tokio::time::sleep(GRACE / 2).await;
    let mut second = hub.claim("demo").unwrap();
    feed(&mut second, 1100);
    let stream = hub.get("demo").unwrap();
    let state = stream.lock();
    assert!(!state.window.window().is_ended());
    assert_eq!(state.window.window().current_generation(), Some(1));
    let playlist = hls::render_media(
        state.window.window(),
        &hls::PlaylistQuery::default(),
        &hls::RenderOptions {
            rendition_reports: &[],
        },
    );
    assert!(playlist.contains("#EXT-X-DISCONTINUITY\n"), "{playlist}");
    assert!(playlist.contains("init-1.mp4"), "{playlist}");
    assert!(
        playlist.contains("seg0.m4s"),
        "the first publisher's segments stay: {playlist}"
    );
}

#[tokio::test(start_paused = true)]
async fn after_the_grace_the_stream_ends_and_a_new_publisher_starts_afresh() {
    let hub = hub();
    let mut first = hub.claim("demo").unwrap();
    feed(&mut first, 2100);
    drop(first);
    let stream = hub.get("demo").unwrap();
    // A reader held for a part far ahead (it will never come).
    let held = stream
        .waiters()
        .register(serve::waiters::WakeKey::Part(hls::PartPosition {
            msn: 1_000,
            index: 0,
        }));
    let mut woken = std::pin::pin!(held.notified());
    tokio::time::sleep(GRACE + Duration::from_millis(10)).await;
    assert!(
        std::future::Future::poll(
            woken.as_mut(),
            &mut std::task::Context::from_waker(std::task::Waker::noop())
        )
        .is_ready(),
        "readers are woken when the stream ends"
    );
    {
        let state = stream.lock();
        assert!(state.window.window().is_ended());
        let playlist = hls::render_media(
            state.window.window(),
            &hls::PlaylistQuery::default(),
            &hls::RenderOptions {
                rendition_reports: &[],
            },
        );
        assert!(
            playlist.trim_end().ends_with("#EXT-X-ENDLIST"),
            "{playlist}"
        );
        assert!(!playlist.contains("PRELOAD-HINT"));
    }
    assert!(hub.live_names().is_empty());
    let _second = hub.claim("demo").unwrap();
    let fresh = hub.get("demo").unwrap();
    assert!(
        !Arc::ptr_eq(&stream, &fresh),
        "a new stream replaces the ended one"
    );
    assert_eq!(hub.live_names(), vec!["demo".to_owned()]);
}
