//! The heartbeat loop: registers the node, reports its load every interval, deregisters it as
//! soon as shutdown (drain) starts so no new viewers are routed to it.

use std::time::Duration;

use directory::NodeReport;
use node::shutdown::Shutdown;

use crate::client::ControlClient;

/// Builds the node's current report (called once per beat, so keep it cheap).
pub trait ReportSource: Send + Sync + 'static {
    /// The report to send now.
    fn report(&self) -> NodeReport;
}

impl<F: Fn() -> NodeReport + Send + Sync + 'static> ReportSource for F {
    fn report(&self) -> NodeReport {
        self()
    }
}

/// Beats every `interval` until `shutdown`, then deregisters. Failures are logged (once per
/// outage, not once per beat) and retried at the next beat.
pub async fn run_heartbeats(
    client: ControlClient,
    source: impl ReportSource,
    interval: Duration,
    shutdown: Shutdown,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    let mut id = source.report().id;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.triggered() => break,
        }
        let report = source.report();
        id.clone_from(&report.id);
        match client.heartbeat(&report).await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!(control = client.base_url(), "control plane reachable again");
            }
            Ok(()) => {}
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(control = client.base_url(), %error, "heartbeat failed; retrying every beat");
            }
            Err(_) => {}
        }
    }
    match client.deregister(&id).await {
        Ok(()) => tracing::info!(node = %id, "deregistered from the control plane"),
        Err(error) => tracing::warn!(node = %id, %error, "deregistering failed"),
    }
}
