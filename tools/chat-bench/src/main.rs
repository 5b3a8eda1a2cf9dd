//! `livecdn-chat-bench`: a load generator for the chat relay and, for comparison, a plain
//! WebSocket broadcast server (`tools/bench/ws-peer`). Used by `tools/bench/chat_fanout.sh`.
//!
//! - `fanout`: one room of 10 000 clients, 200 chats/s sent in by a few of them: deliveries
//!   per second and per CPU-second of the server, send-to-receive delay, and the server's RSS
//!   per idle connection before the window.
//! - `idle`: RSS per idle connection with the clients spread over many rooms.
//! - `gifts`: gift commits (acks) per second through the relay, after demo top-ups.
//! - `free-port`: prints a free TCP port on 127.0.0.1.
//!
//! Lines starting with `RESULT` are the numbers, one `key=value` list per run. The generator
//! runs on one thread (pin it to its own core); the server's CPU is read from
//! `/proc/PID/stat`, never the generator's.

mod client;
mod fanout;
mod gifts;
mod idle;

use bench_support::{cpu, latency};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "Load generator for the livecdn chat relay")]
struct Cli {
    /// The server's WebSocket URL (the relay's `/ws`).
    #[arg(long, default_value = "ws://127.0.0.1:8091/ws")]
    url: String,
    /// What the server is: the chat relay, or the plain broadcast peer.
    #[arg(long, value_enum, default_value = "relay")]
    server: client::ServerKind,
    /// The relay's `chat.token_secret`, to sign the clients' tokens.
    #[arg(
        long,
        env = "CHAT_BENCH_SECRET",
        default_value = "bench-secret",
        hide_env_values = true
    )]
    secret: String,
    /// A label copied into the RESULT line (e.g. the run's number).
    #[arg(long, default_value = "-")]
    label: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fan-out of one room: deliveries/s per server core, delay, memory per idle connection.
    Fanout(fanout::Args),
    /// Memory per idle connection, clients spread over rooms.
    Idle(idle::Args),
    /// Gift commits per second through the relay.
    Gifts(gifts::Args),
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
    Duration::from_secs_f64(s.max(0.0))
}

// One core for the generator (`taskset -c 1`): a single-threaded runtime avoids cross-thread
// wake-ups that would only cost CPU.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let target = || client::Target::new(&cli.url, cli.server, &cli.secret).map(Arc::new);
    match &cli.command {
        Command::Fanout(args) => fanout::run(target()?, args, &cli.label).await,
        Command::Idle(args) => idle::run(target()?, args, &cli.label).await,
        Command::Gifts(args) => gifts::run(target()?, args, &cli.label).await,
        Command::FreePort => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("{}", listener.local_addr()?.port());
            Ok(())
        }
    }
}
