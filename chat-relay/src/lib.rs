//! The chat-relay role of livecdn: WebSocket chat rooms with likes, gifts and moderation
//! (`docs/chat-protocol.md` is the spec), federated: each room is sequenced by one home relay
//! (the control plane says which) and mirrored by every other relay holding its clients.
//!
//! Data flow: `ws` (upgrade, token check) → `session` (one task per connection) → `room`
//! (one task per room, in the role the room's home decides: `room::home::HomeRoom` drives
//! `chat_proto::RoomSequencer`, `Moderation`, `LikeCoalescer`, the ledger in `gifts`;
//! `room::mirror::MirrorRoom` drives a `RoomMirror` and forwards to the home) → the room's
//! broadcast of pre-encoded frames → every session of the room; `room::log` appends
//! sequenced events to the database in batches. [`federation`] links relays (`/federation`).
//! `http` adds wallets, the gift catalogue and `/v1/rooms`; `report` heartbeats to the
//! control plane.
//!
//! **Invariant:** a sequenced event is queued for the chat log before it is broadcast or
//! acked, and the log is drained before the process exits, so a clean shutdown loses no
//! acknowledged message.
//!
//! Starting is two-phase so a caller (such as `livecdn dev`) learns of a port clash before
//! anything serves: [`bind`] claims the sockets, opens the database and loads the gift
//! catalogue, [`BoundChatRelay::serve`] runs until shutdown.
#![warn(missing_docs)]

pub mod config;
mod cors;
mod fanout;
pub mod federation;
mod gifts;
mod http;
pub mod metrics;
mod rate;
mod report;
mod room;
mod session;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use config::ChatRelayConfig;
pub use http::MAX_TOPUP;
use node::role::{NodeServices, RoleError};
use node::shutdown::Shutdown;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use crate::config::ChatSection;
use crate::federation::{ControlPlaneHomes, Federation, HomeLookup, StaticHomes};
use crate::metrics::ChatMetrics;
use crate::room::{RoomContext, Rooms};

/// The role's name in logs, metrics and the CLI.
pub const ROLE: &str = "chat-relay";

/// How often the per-user rate limiter forgets users back at full quota.
const USER_LIMIT_PRUNE: std::time::Duration = std::time::Duration::from_secs(60);

/// A chat-relay whose listener is bound and whose database is open, ready to serve.
#[derive(Debug)]
pub struct BoundChatRelay {
    config: ChatRelayConfig,
    services: NodeServices,
    http: TcpListener,
    http_tls: Option<Arc<node::rustls::ServerConfig>>,
    federation_tls: Option<Arc<node::rustls::ClientConfig>>,
    store: store::Store,
    metrics: ChatMetrics,
    lookup: Option<Arc<dyn HomeLookup>>,
}

/// Checks the configuration (`chat.token_secret` is required), loads the TLS files
/// (`http.tls_cert`, `federation.tls_ca`), binds the HTTP listener, opens the database
/// (applying migrations) and upserts `[[gifts.catalog]]`.
pub async fn bind(config: ChatRelayConfig) -> Result<BoundChatRelay, RoleError> {
    if config.chat.token_secret.expose().is_empty() {
        return Err(RoleError::Missing(
            "chat.token_secret is required: the secret chat tokens are signed with".to_owned(),
        ));
    }
    let http_tls = node::role::load_http_tls(&config.http)?;
    let federation_tls = config
        .federation
        .tls_ca
        .as_deref()
        .map(federation::client_tls)
        .transpose()?;
    let mut services = NodeServices::new(ROLE);
    let metrics = ChatMetrics::register(&mut services.registry);
    let http = services
        .bind_http(config.http.listen, "http.listen")
        .await?;
    let database_ready = services.readiness.register("database");
    let store = store::Store::connect(
        config.database.url.expose(),
        config.database.max_connections,
    )
    .await
    .map_err(|error| RoleError::Missing(format!("database.url: {error}")))?;
    for entry in &config.gifts.catalog {
        store
            .upsert_gift_kind(&entry.into())
            .await
            .map_err(|error| {
                RoleError::Missing(format!("gifts.catalog {:?}: {error}", entry.id))
            })?;
    }
    database_ready.set(true);
    Ok(BoundChatRelay {
        config,
        services,
        http,
        http_tls,
        federation_tls,
        store,
        metrics,
        lookup: None,
    })
}

/// Binds, then serves until `shutdown` triggers and the drain completes.
pub async fn run(config: ChatRelayConfig, shutdown: Shutdown) -> Result<(), RoleError> {
    bind(config).await?.serve(shutdown).await
}

impl BoundChatRelay {
    /// The bound HTTP address.
    pub fn http_addr(&self) -> std::io::Result<SocketAddr> {
        self.http.local_addr()
    }

    /// Uses `lookup` to find rooms' home relays instead of the default: the control plane
    /// when `control.url` is set, else this relay for every room.
    #[must_use]
    pub fn with_home_lookup(mut self, lookup: Arc<dyn HomeLookup>) -> Self {
        self.lookup = Some(lookup);
        self
    }

    /// Serves `/ws`, `/federation` and the `/v1` routes until `shutdown` triggers; then
    /// closes every WebSocket with 1001 and flushes every room's chat log, within
    /// `[shutdown] drain_deadline`.
    pub async fn serve(self, shutdown: Shutdown) -> Result<(), RoleError> {
        let Self {
            config,
            services,
            http,
            http_tls,
            federation_tls,
            store,
            metrics,
            lookup,
        } = self;
        let addr = http.local_addr()?;
        let relay_id = config.node.id_or(ROLE);
        tracing::info!(node = %relay_id, %addr, "chat relay listening: /ws, /federation");
        let lookup =
            lookup.unwrap_or_else(
                || match control_client::ControlClient::new(&config.control) {
                    Some(client) => Arc::new(ControlPlaneHomes::new(client, relay_id.clone())),
                    None => Arc::new(StaticHomes::standalone(relay_id.clone())),
                },
            );
        let federation = Arc::new(Federation::new(
            relay_id,
            config.control.token.expose().clone(),
            lookup,
            config.federation.clone(),
            metrics.federation.clone(),
            shutdown.clone(),
            federation_tls,
        ));
        let rooms = Rooms::new(Arc::new(RoomContext {
            chat: config.chat.clone(),
            store: store.clone(),
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
            federation: federation.clone(),
        }));
        let relay = Arc::new(Relay::new(
            &config,
            store.clone(),
            metrics,
            rooms.clone(),
            federation,
            shutdown.clone(),
        ));
        let pruner = tokio::spawn(prune_user_limits(relay.clone()));
        let heartbeats = control_client::ControlClient::new(&config.control).map(|client| {
            let report = report::ChatRelayReport::new(
                &config,
                Some(addr),
                http_tls.is_some(),
                rooms.clone(),
            );
            let interval = config.control.heartbeat_interval;
            tokio::spawn(control_client::run_heartbeats(
                client,
                report,
                interval,
                shutdown.clone(),
            ))
        });
        let drain = config.shutdown.drain_deadline;
        let app = http::routes(relay.clone());
        let served = services.serve(http, app, http_tls, shutdown, drain).await;
        // Sessions saw the same shutdown: they close with 1001. Rooms flush their logs.
        relay.sessions.close();
        if tokio::time::timeout(drain, relay.sessions.wait())
            .await
            .is_err()
        {
            tracing::warn!("sessions still open at the drain deadline");
        }
        rooms.wait_closed(drain).await;
        pruner.abort();
        if let Some(heartbeats) = heartbeats {
            let _ = heartbeats.await;
        }
        // A room still flushing past the deadline holds a connection; do not wait for it.
        let _ = tokio::time::timeout(drain, store.close()).await;
        served.map_err(RoleError::from)
    }
}

/// What the HTTP handlers and sessions share.
#[derive(Debug)]
pub(crate) struct Relay {
    pub(crate) chat: ChatSection,
    pub(crate) limits: chat_proto::Limits,
    pub(crate) demo_topup: bool,
    pub(crate) store: store::Store,
    pub(crate) metrics: ChatMetrics,
    pub(crate) rooms: Arc<Rooms>,
    pub(crate) users: rate::UserLimits,
    pub(crate) federation: Arc<Federation>,
    pub(crate) shutdown: Shutdown,
    /// Every WebSocket session, so the drain can wait for their closes.
    pub(crate) sessions: TaskTracker,
    guests: AtomicU64,
}

impl Relay {
    fn new(
        config: &ChatRelayConfig,
        store: store::Store,
        metrics: ChatMetrics,
        rooms: Arc<Rooms>,
        federation: Arc<Federation>,
        shutdown: Shutdown,
    ) -> Self {
        let chat = config.chat.clone();
        Self {
            limits: chat.limits(),
            users: rate::UserLimits::new(chat.user_rate, chat.user_burst),
            chat,
            demo_topup: config.gifts.demo_topup,
            store,
            metrics,
            rooms,
            federation,
            shutdown,
            sessions: TaskTracker::new(),
            guests: AtomicU64::new(0),
        }
    }

    /// A fresh `anon:` user id for a token-less guest, unique on this relay (start time and
    /// a counter).
    pub(crate) fn anon_id(&self) -> String {
        let n = self.guests.fetch_add(1, Ordering::Relaxed);
        format!("anon:{:x}-{n}", node::clock::unix_time_ms())
    }
}

async fn prune_user_limits(relay: Arc<Relay>) {
    let mut ticker = tokio::time::interval(USER_LIMIT_PRUNE);
    loop {
        ticker.tick().await;
        relay.users.prune();
    }
}
