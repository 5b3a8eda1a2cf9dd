//! Running one role, `check-config` and `certs`.

use std::path::Path;

use anyhow::Context as _;
use node::config::sections::LogSection;
use node::config::{self, ConfigError, env_prefix};
use node::role::RoleError;
use node::shutdown::Shutdown;
use serde::de::DeserializeOwned;

use crate::cli::{CertsArgs, CheckConfigArgs, RoleArgs, RoleName};

/// Why the process stops with a non-zero status.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Exit 64.
    Config(ConfigError),
    /// Exit 1.
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self::Other(error)
    }
}

/// A role's config type knows its log section.
pub(crate) trait RoleConfig: DeserializeOwned {
    fn log(&self) -> &LogSection;
}

macro_rules! role_config {
    ($($ty:ty),*) => {$(
        impl RoleConfig for $ty {
            fn log(&self) -> &LogSection { &self.log }
        }
    )*};
}
role_config!(
    origin::OriginConfig,
    edge::EdgeConfig,
    control_plane::ControlPlaneConfig,
    chat_relay::ChatRelayConfig,
    livecdn::dev::DevConfig
);

/// Loads `path` (or the defaults) with the role's environment overrides applied.
pub(crate) fn load<T: DeserializeOwned>(role: &str, path: Option<&Path>) -> Result<T, ConfigError> {
    let prefix = env_prefix(role);
    match path {
        Some(path) => config::load_file(path, &prefix),
        None => config::load_defaults(&prefix),
    }
}

/// Loads the config, sets up logging and runs `run` on a multi-threaded runtime until SIGINT
/// or SIGTERM, then lets it drain.
pub(crate) fn run_role<C, F, Fut>(role: &str, args: &RoleArgs, run: F) -> Result<(), Failure>
where
    C: RoleConfig,
    F: FnOnce(C, Shutdown) -> Fut,
    Fut: Future<Output = Result<(), RoleError>>,
{
    let config: C = load(role, args.config.as_deref()).map_err(Failure::Config)?;
    node::telemetry::init(config.log()).context("logging")?;
    runtime()?.block_on(async move {
        let shutdown = Shutdown::new();
        tokio::spawn(node::shutdown::trigger_on_signal(shutdown.clone()));
        run(config, shutdown)
            .await
            .with_context(|| role.to_owned())?;
        tracing::info!(role, "stopped");
        Ok(())
    })
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub(crate) fn check_config(args: &CheckConfigArgs) -> Result<(), Failure> {
    let path = Some(args.file.as_path());
    let role = match args.role {
        RoleName::Origin => load::<origin::OriginConfig>(origin::ROLE, path).map(|_| origin::ROLE),
        RoleName::Edge => load::<edge::EdgeConfig>(edge::ROLE, path).map(|_| edge::ROLE),
        RoleName::ControlPlane => {
            load::<control_plane::ControlPlaneConfig>(control_plane::ROLE, path)
                .map(|_| control_plane::ROLE)
        }
        RoleName::ChatRelay => {
            load::<chat_relay::ChatRelayConfig>(chat_relay::ROLE, path).map(|_| chat_relay::ROLE)
        }
        RoleName::Dev => {
            load::<livecdn::dev::DevConfig>(livecdn::dev::ROLE, path).map(|_| livecdn::dev::ROLE)
        }
    }
    .map_err(Failure::Config)?;
    println!("{}: valid {role} configuration", args.file.display());
    Ok(())
}

pub(crate) fn write_certs(args: &CertsArgs) -> Result<(), Failure> {
    let nodes = if args.nodes.is_empty() {
        livecdn::dev::DEV_NODES.map(str::to_owned).to_vec()
    } else {
        args.nodes.clone()
    };
    let written = node::certs::write_dev_set(&args.out, &nodes).context("writing certificates")?;
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}
