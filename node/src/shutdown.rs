//! Graceful shutdown: one [`Shutdown`] shared by every task of a node.
//!
//! The binary triggers it on SIGINT or SIGTERM ([`trigger_on_signal`]); listeners stop
//! accepting, in-flight work drains for at most `[shutdown] drain_deadline`, then the process
//! exits 0.

use tokio_util::sync::CancellationToken;

/// A cloneable shutdown signal.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(CancellationToken);

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every holder to shut down.
    pub fn trigger(&self) {
        self.0.cancel();
    }

    /// Whether shutdown was asked for.
    pub fn is_triggered(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Completes once shutdown is asked for.
    pub async fn triggered(&self) {
        self.0.cancelled().await;
    }

    /// An owned future that completes once shutdown is asked for.
    pub fn triggered_owned(&self) -> impl Future<Output = ()> + Send + 'static {
        self.0.clone().cancelled_owned()
    }
}

/// Which signal stopped the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// Ctrl-C.
    Interrupt,
    /// `kill`, systemd stop.
    Terminate,
}

/// Waits for SIGINT or SIGTERM, then triggers `shutdown`. Installing the handlers can fail only
/// if the OS refuses, which is reported.
pub async fn trigger_on_signal(shutdown: Shutdown) -> std::io::Result<StopSignal> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let which = tokio::select! {
        _ = interrupt.recv() => StopSignal::Interrupt,
        _ = terminate.recv() => StopSignal::Terminate,
        () = shutdown.triggered() => return Ok(StopSignal::Terminate),
    };
    tracing::info!(signal = ?which, "stop signal received, draining");
    shutdown.trigger();
    Ok(which)
}
