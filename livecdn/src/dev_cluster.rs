//! `livecdn dev`: binds every role of the dev cluster, prints where everything is, and serves
//! until Ctrl-C.

use anyhow::Context as _;
use livecdn::dev::{DevConfig, DevPlan, ROLE};
use node::config::ConfigError;
use node::shutdown::Shutdown;

use crate::cli::DevArgs;
use crate::roles::{Failure, load, runtime};

pub(crate) fn run(args: &DevArgs) -> Result<(), Failure> {
    let mut config: DevConfig = load(ROLE, args.config.as_deref()).map_err(Failure::Config)?;
    if let Some(dir) = &args.data_dir {
        config.data_dir.clone_from(dir);
    }
    if let Some(base) = args.port_base {
        config.port_base = base;
    }
    if args.no_demo {
        config.demo = false;
    }
    let plan = DevPlan::new(&config).map_err(|e| {
        Failure::Config(ConfigError::Invalid {
            origin: "livecdn dev".to_owned(),
            key: "port_base".to_owned(),
            message: e.to_string(),
        })
    })?;
    node::telemetry::init(&config.log).context("logging")?;
    plan.prepare(&config.data_dir)
        .context("preparing the data directory")?;
    runtime()?.block_on(serve(plan, config))
}

async fn serve(plan: DevPlan, config: DevConfig) -> Result<(), Failure> {
    // Bind everything first, so a port clash is reported before anything claims to be up.
    let control_plane = control_plane::bind(plan.control_plane.clone())
        .await
        .context("control plane")?;
    seed_dev_streams(control_plane.state())
        .await
        .context("seeding the dev streams")?;
    let origin = origin::bind(plan.origin.clone()).await.context("origin")?;
    let edge_a = edge::bind(plan.edge_a.clone()).await.context("edge-a")?;
    let edge_b = edge::bind(plan.edge_b.clone()).await.context("edge-b")?;
    let relay_a = chat_relay::bind(plan.relay_a.clone())
        .await
        .context("chat-relay-a")?;
    let relay_b = chat_relay::bind(plan.relay_b.clone())
        .await
        .context("chat-relay-b")?;
    print_banner(&plan, &config);

    let shutdown = Shutdown::new();
    tokio::spawn(node::shutdown::trigger_on_signal(shutdown.clone()));
    let demo = if config.demo {
        let clip = origin::demo::DemoClip::builtin().context("demo clip")?;
        let rtmp = origin.rtmp_addr().context("origin RTMP address")?;
        let publisher = origin::demo::publish_loop(
            rtmp,
            plan.origin.rtmp.app.clone(),
            livecdn::dev::DEMO_KEY.to_owned(),
            clip,
            shutdown.clone(),
        );
        Some(tokio::spawn(publisher))
    } else {
        None
    };
    let stop_all_on_error = |name: &'static str, result: Result<(), node::role::RoleError>| {
        if result.is_err() {
            shutdown.trigger();
        }
        result.context(name)
    };
    let (a, b, c, d, e, f) = tokio::join!(
        async { stop_all_on_error("control plane", control_plane.serve(shutdown.clone()).await) },
        async { stop_all_on_error("origin", origin.serve(shutdown.clone()).await) },
        async { stop_all_on_error("edge-a", edge_a.serve(shutdown.clone()).await) },
        async { stop_all_on_error("edge-b", edge_b.serve(shutdown.clone()).await) },
        async { stop_all_on_error("chat-relay-a", relay_a.serve(shutdown.clone()).await) },
        async { stop_all_on_error("chat-relay-b", relay_b.serve(shutdown.clone()).await) },
    );
    if let Some(demo) = demo {
        let _ = demo.await;
    }
    a.and(b).and(c).and(d).and(e).and(f)?;
    tracing::info!("dev cluster stopped");
    Ok(())
}

/// Makes the dev streams (`demo`, `cam`) known to the control plane with their well-known
/// keys, so the admin API and `/v1/ingest` know them (idempotent across restarts).
async fn seed_dev_streams(
    state: &control_plane::state::ControlPlane,
) -> Result<(), store::StoreError> {
    use livecdn::dev::{DEMO_KEY, DEMO_STREAM, OWN_KEY, OWN_STREAM};
    let now_ms = i64::try_from(node::clock::unix_time_ms()).unwrap_or(i64::MAX);
    for (name, key) in [(DEMO_STREAM, DEMO_KEY), (OWN_STREAM, OWN_KEY)] {
        if state.store.stream(name).await?.is_none() {
            state.store.create_stream(name, now_ms).await?;
            let id = format!("dev-{name}");
            state
                .store
                .add_key(name, &id, &control_plane::keys::hash(key), now_ms)
                .await?;
        }
    }
    Ok(())
}

fn print_banner(plan: &DevPlan, config: &DevConfig) {
    use livecdn::dev::{DEMO_STREAM, OWN_KEY, OWN_STREAM};
    let url = |addr: std::net::SocketAddr| format!("http://{addr}");
    let [region_a, region_b] = livecdn::dev::DEV_REGIONS;
    let origin = url(plan.origin.http.listen);
    let edge_b = url(plan.edge_b.http.listen);
    let rtmp = format!(
        "rtmp://{}/{}",
        plan.origin.rtmp.listen, plan.origin.rtmp.app
    );
    let chat = "chat (ws /ws), federated: one room, one order on both relays";
    let control = url(plan.control_plane.http.listen);
    let rows = [
        (
            "control plane",
            control.clone(),
            format!("web pages /, API /v1 (admin token: {})", config.admin_token),
        ),
        (
            "origin",
            origin.clone(),
            format!("LL-HLS; RTMP ingest {rtmp}"),
        ),
        (
            "edge A",
            url(plan.edge_a.http.listen),
            format!("region {region_a}; tier 1, fed by the origin over QUIC"),
        ),
        (
            "edge B",
            url(plan.edge_b.http.listen),
            format!("region {region_b}; tier 2, fed by edge A (stream directory)"),
        ),
        (
            "chat relay A",
            url(plan.relay_a.http.listen),
            format!("region {region_a}; {chat}"),
        ),
        (
            "chat relay B",
            url(plan.relay_b.http.listen),
            format!("region {region_b}; {chat}"),
        ),
    ];
    let mut text = format!(
        "\nlivecdn dev cluster is up (data: {}, certificates: {})\n\n  \
         Watch it: {control}/ (live streams, watch with chat and gifts; {control}/host, {control}/ops)\n\n",
        config.data_dir.display(),
        plan.certs_dir.display()
    );
    for (name, url, note) in rows {
        text.push_str(&format!("  {name:<14} {url:<24} {note}\n"));
    }
    if config.demo {
        text.push_str(&format!(
            "\nDemo stream (built-in publisher, looping clip), on the origin and through the edges:\n  {origin}/live/{DEMO_STREAM}/index.m3u8\n  {edge_b}/live/{DEMO_STREAM}/index.m3u8\n  ffplay {edge_b}/live/{DEMO_STREAM}/index.m3u8\n  routed by region: {control}/v1/play/{DEMO_STREAM}?region={region_b}\n"
        ));
    } else {
        text.push_str("\nDemo stream: off (--no-demo).\n");
    }
    text.push_str(&format!(
        "\nPublish your own (stream `{OWN_STREAM}`):\n  \
         ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440 \\\n    \
         -c:v libx264 -preset veryfast -tune zerolatency -g 30 -c:a aac -f flv {rtmp}/{OWN_KEY}\n  \
         OBS: Settings > Stream > Service: Custom, Server: {rtmp}, Stream Key: {OWN_KEY}\n  \
         then play {origin}/live/{OWN_STREAM}/index.m3u8\n\n\
         Every node serves /healthz, /readyz and /metrics. Press Ctrl-C to stop.\n"
    ));
    println!("{text}");
}
