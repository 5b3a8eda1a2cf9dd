//! A serve-only process for profiling the players' HTTP path: the edge's listener stack
//! (`node::role::NodeServices::serve`: axum, hyper, the response metric, the admin routes) over
//! `serve::routes` with the edge's object cache, and one synthetic stream `demo` that gains a
//! part every 200 ms (5 per 1 s segment), so nothing else in the process (ingest, QUIC,
//! other roles) adds to its CPU or memory.
//!
//! ```text
//! cargo build --release -p livecdn-serve --example serve_bench
//! target/release/examples/serve_bench [--port 24081] [--part-bytes 10000]
//! ```
//!
//! `tools/bench/edge_http.py --serve-bench PATH` drives it (held requests: RSS per request and
//! answer spread); under `valgrind --tool=callgrind` or `heaptrack` it gives instructions and
//! allocations per response. Stops on SIGINT/SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hls::{PartInput, WindowConfig};
use livecdn_serve as serve;
use relay_wire::RelayWindow;
use serve::{CacheMetrics, ObjectCache, ServeMetrics, ServedStream, StreamTable, VariantInfo};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 24081u16;
    let mut part_bytes = 10_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--port" => port = value.parse()?,
            "--part-bytes" => part_bytes = value.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }

    let mut services = node::role::NodeServices::new("edge");
    let serve_metrics = ServeMetrics::register(&mut services.registry);
    let cache_metrics = CacheMetrics::register(&mut services.registry);
    let table = Arc::new(StreamTable::with_cache(ObjectCache::new(
        256 << 20,
        cache_metrics,
    )));
    let stream = Arc::new(ServedStream::new(
        "demo",
        RelayWindow::new(WindowConfig::default())?,
        1,
    ));
    {
        let mut state = stream.lock();
        state.window.handle_init(0, Bytes::from_static(b"init"))?;
        state.variant = Some(VariantInfo {
            codecs: "avc1.64001f,mp4a.40.2".into(),
            resolution: Some((1280, 720)),
            frame_rate: Some(30.0),
            peak_bitrate: 3_000_000,
            average_bitrate: 2_500_000,
        });
    }
    table.insert(stream.clone());

    let shutdown = node::shutdown::Shutdown::new();
    tokio::spawn(node::shutdown::trigger_on_signal(shutdown.clone()));
    tokio::spawn(feed(stream, part_bytes, shutdown.clone()));
    let listener = services
        .bind_http(std::net::SocketAddr::from(([127, 0, 0, 1], port)), "--port")
        .await?;
    eprintln!("serve_bench: http://127.0.0.1:{port}/live/demo/source/index.m3u8");
    let app = serve::routes(table, serve_metrics);
    services
        .serve(listener, app, None, shutdown, Duration::from_secs(1))
        .await?;
    Ok(())
}

/// Appends a part of `part_bytes` every 200 ms, as the packager (origin) or the relay
/// subscriber (edge) would, until `shutdown`.
async fn feed(stream: Arc<ServedStream>, part_bytes: usize, shutdown: node::shutdown::Shutdown) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    for n in 0u64.. {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.triggered() => return,
        }
        let events = {
            let mut state = stream.lock();
            let part = PartInput {
                data: Bytes::from(vec![(n % 251) as u8; part_bytes]),
                duration: Duration::from_millis(200),
                independent: n.is_multiple_of(5),
                ends_segment: n % 5 == 4,
                program_date_time_ms: node::clock::unix_time_ms(),
            };
            if state
                .window
                .handle_part(part, node::clock::unix_time_us())
                .is_err()
            {
                return;
            }
            std::iter::from_fn(|| state.window.poll_output()).collect()
        };
        stream.notify(events);
    }
}
