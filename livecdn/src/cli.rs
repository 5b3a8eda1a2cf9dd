//! The command line (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// livecdn: an edge-distributed CDN relay network for live streaming with real-time chat.
#[derive(Debug, Parser)]
#[command(name = "livecdn", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run an origin: RTMP ingest, CMAF remux, LL-HLS packaging and serving.
    ///
    /// Hosts publish to rtmp://HOST:1935/live/{stream_key} (keys from [[streams]], then the
    /// control plane when [control] url is set); players fetch /live/{stream}/index.m3u8;
    /// edges subscribe over QUIC at relay.listen.
    Origin(RoleArgs),
    /// Run an edge: QUIC subscription to an origin or parent edge, LL-HLS serving, tiers.
    ///
    /// Subscribes on a stream's first viewer (to relay.upstream, or where the control plane's
    /// stream directory says) and serves /live/{stream}/... like the origin; child edges
    /// subscribe at relay.listen. Not implemented yet: the byte-bounded cache (cache.max_bytes).
    Edge(RoleArgs),
    /// Run the control plane: node registry, routing, stream directory, keys, storage.
    ///
    /// Serves the /v1 API on http.listen (GET /v1/play/{stream}?region=R redirects viewers to
    /// an edge; OpenAPI at /v1/openapi.json), storing records in database.url (SQLite or
    /// PostgreSQL).
    ControlPlane(RoleArgs),
    /// Run a chat relay: WebSocket rooms, likes, gifts, moderation, federation.
    ///
    /// Chatters connect to ws://HOST:8091/ws?room=ROOM&token=TOKEN (docs/chat-protocol.md).
    /// Each room has one home relay (the control plane at control.url says which; standalone,
    /// every room is home here) that sequences, moderates and stores the chat log and gift
    /// ledger in database.url; other relays mirror it and forward to it over federation links
    /// (WebSocket /federation, authenticated with the node token control.token).
    /// Needs chat.token_secret.
    ChatRelay(RoleArgs),
    /// Run a whole local cluster in one process (every role that exists so far).
    ///
    /// Ports: control plane 8000, origin HTTP 8080 (RTMP 1935), edges 8081 and 8082, chat
    /// relays 8091 and 8092, all on 127.0.0.1. `--port-base N` moves every port by N - 8000.
    Dev(DevArgs),
    /// Check a configuration file for a role and exit: 0 if valid, 64 with the key named if not.
    ///
    /// It parses and type-checks every key (environment overrides included); files the config
    /// names (certificates) are opened when the role starts.
    CheckConfig(CheckConfigArgs),
    /// Write a development CA and node certificates for mutual TLS between nodes.
    ///
    /// Reuses DIR/ca.pem and DIR/ca.key when present, so nodes can be added later.
    Certs(CertsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RoleArgs {
    /// TOML configuration file (see deploy/config/ and docs/config.md). Without it, defaults
    /// apply. Environment variables LIVECDN_<ROLE>__<SECTION>__<KEY> override either.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    /// TOML configuration for the dev cluster (see deploy/config/dev.toml).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Directory for data and generated certificates [default: ./livecdn-dev].
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Port of the control plane; every other port moves by the same amount [default: 8000].
    #[arg(long, value_name = "N")]
    pub(crate) port_base: Option<u16>,
    /// Do not publish the built-in demo stream.
    #[arg(long)]
    pub(crate) no_demo: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CheckConfigArgs {
    /// Which role the file configures.
    #[arg(long, value_enum)]
    pub(crate) role: RoleName,
    /// The TOML file.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct CertsArgs {
    /// Directory to write ca.pem, ca.key, <node>.pem and <node>.key into.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Node names to issue certificates for (repeatable) [default: the dev cluster's nodes].
    #[arg(long = "node", value_name = "NAME")]
    pub(crate) nodes: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum RoleName {
    Origin,
    Edge,
    ControlPlane,
    ChatRelay,
    Dev,
}
