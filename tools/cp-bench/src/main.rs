//! `livecdn-cp-bench`: a load generator for the control plane's JSON API.
//!
//! - `route`: registers 1 000 edges (5 regions, varied loads) and one origin holding the bench
//!   stream, keeps them beating every second, and measures `GET /v1/play/{stream}?region=R`
//!   (JSON answers) over keep-alive connections: decisions/s and latency.
//! - `heartbeat`: the control plane's CPU (from `/proc/PID/stat`) while the same 1 001 nodes
//!   beat once per second each.
//! - `free-port`: prints a free TCP port on 127.0.0.1 (for `tools/bench/control_plane.sh`).
//!
//! Lines starting with `RESULT` are the numbers, one `key=value` list per run.

mod cluster;
mod heartbeat;
mod route;

use bench_support::{cpu, latency};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "Load generator for the livecdn control plane")]
struct Cli {
    /// Control plane base URL.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    base: String,
    /// Node bearer token (one of the control plane's `auth.node_tokens`).
    #[arg(long, env = "CP_BENCH_NODE_TOKEN", default_value = "node-secret")]
    token: String,
    /// Edges to register (spread over 5 regions); one origin comes on top.
    #[arg(long, default_value_t = 1000)]
    edges: usize,
    /// The stream the origin holds and viewers ask for.
    #[arg(long, default_value = "bench")]
    stream: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Routing decisions per second and their latency.
    Route(route::Args),
    /// Control-plane CPU while every node beats once per second.
    Heartbeat(heartbeat::Args),
    /// Print a free TCP port on 127.0.0.1.
    FreePort,
}

/// The generator's clock: the one place it reads real time.
#[expect(
    clippy::disallowed_methods,
    reason = "the load generator measures real time"
)]
fn now() -> Instant {
    Instant::now()
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

// One core for the generator (`taskset -c 1`): a single-threaded runtime avoids cross-thread
// wake-ups that would only cost CPU.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let cluster = || cluster::Cluster::new(&cli.base, &cli.token, cli.edges, &cli.stream);
    match &cli.command {
        Command::Route(args) => route::run(cluster()?, &cli.base, &cli.stream, args).await,
        Command::Heartbeat(args) => heartbeat::run(cluster()?, args).await,
        Command::FreePort => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("{}", listener.local_addr()?.port());
            Ok(())
        }
    }
}
