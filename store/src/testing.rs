//! Test fixtures (feature `testing`): a real, throwaway PostgreSQL server.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let Some(pg) = livecdn_store::testing::PgServer::start().await? else {
//!     return Ok(()); // PostgreSQL is not installed: skip
//! };
//! let store = livecdn_store::Store::connect(&pg.create_database("case_1").await?, 4).await?;
//! # Ok(()) }
//! ```

use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, User, chown, geteuid};
use sqlx::{AssertSqlSafe, Connection as _, Executor as _};

/// Set to `1` to make a missing PostgreSQL an error instead of a skip (CI).
pub const ENV_REQUIRE_TOOLS: &str = "LIVECDN_REQUIRE_TOOLS";
/// Overrides the directory holding `initdb` and `postgres`.
pub const ENV_PG_BINDIR: &str = "LIVECDN_PG_BINDIR";

/// Where Debian's `postgresql` package puts each major version's binaries.
const DEBIAN_PG_ROOT: &str = "/usr/lib/postgresql";
/// How long the server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a fast shutdown may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL server in a temporary directory, listening on a free 127.0.0.1 port. Dropping it
/// stops the server (only the process it started) and deletes the directory.
#[derive(Debug)]
pub struct PgServer {
    child: Child,
    port: u16,
    url: String,
    // Dropped after the server has stopped (fields drop after `Drop::drop`).
    dir: tempfile::TempDir,
}

/// Why a [`PgServer`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum PgServerError {
    /// No PostgreSQL binaries were found while `LIVECDN_REQUIRE_TOOLS=1`.
    #[error("postgresql binaries not found under {DEBIAN_PG_ROOT}/*/bin or ${ENV_PG_BINDIR}")]
    NotInstalled,
    /// A filesystem or process step failed.
    #[error("{step}: {source}")]
    Io {
        /// What was being done.
        step: &'static str,
        /// The IO error.
        source: std::io::Error,
    },
    /// `initdb` (or another tool) exited unsuccessfully.
    #[error("{step} failed ({status}): {output}")]
    Command {
        /// The tool.
        step: &'static str,
        /// Its exit status.
        status: String,
        /// Its stderr and stdout.
        output: String,
    },
    /// The server exited or did not accept connections in time.
    #[error("postgres not ready: {log}")]
    NotReady {
        /// The tail of the server log.
        log: String,
    },
    /// The database name is not `[a-z0-9_]{1,63}`.
    #[error("invalid database name {0:?}")]
    BadName(String),
    /// Talking to the server failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl PgServer {
    /// Starts a server with a database `livecdn` (see [`PgServer::url`]). `Ok(None)` when
    /// PostgreSQL is not installed, unless `LIVECDN_REQUIRE_TOOLS=1`.
    ///
    /// `initdb` refuses to run as root, so under euid 0 both binaries run as Debian's `postgres`
    /// system user, owning the temporary directory.
    pub async fn start() -> Result<Option<PgServer>, PgServerError> {
        sqlx::any::install_default_drivers();
        let Some(bindir) = find_bindir() else {
            if std::env::var(ENV_REQUIRE_TOOLS).is_ok_and(|v| v == "1") {
                return Err(PgServerError::NotInstalled);
            }
            return Ok(None);
        };
        let dir = tempfile::Builder::new()
            .prefix("livecdn-pg-")
            .tempdir()
            .map_err(io("create temp dir"))?;
        let run_as = run_as_user()?;
        if let Some((uid, gid)) = run_as {
            chown(dir.path(), Some(uid.into()), Some(gid.into())).map_err(|e| {
                PgServerError::Io {
                    step: "chown temp dir",
                    source: e.into(),
                }
            })?;
        }
        let data = dir.path().join("data");
        let initdb = {
            let mut cmd = command(&bindir.join("initdb"), run_as);
            cmd.arg("-D").arg(&data);
            cmd.args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]);
            cmd
        };
        run_to_end(initdb, "initdb").await?;

        let port = free_port()?;
        let log = File::create(dir.path().join("postgres.log")).map_err(io("create log"))?;
        let log2 = log.try_clone().map_err(io("clone log"))?;
        let mut cmd = command(&bindir.join("postgres"), run_as);
        cmd.arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(dir.path());
        // A throwaway server: durability off, so tests and benches measure our code, not fsync.
        for setting in [
            "listen_addresses=127.0.0.1",
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
            "max_connections=300",
        ] {
            cmd.arg("-c").arg(setting);
        }
        let child = cmd
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(io("spawn postgres"))?;
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        let mut server = PgServer {
            child,
            port,
            url,
            dir,
        };
        server.wait_ready().await?;
        server.url = server.create_database("livecdn").await?;
        tracing::debug!(port, "throwaway postgres started");
        Ok(Some(server))
    }

    /// The `postgres://` URL of the `livecdn` database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Creates another empty database (`[a-z0-9_]`, at most 63 bytes) and returns its URL, for
    /// one fresh database per test case.
    pub async fn create_database(&self, name: &str) -> Result<String, PgServerError> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(PgServerError::BadName(name.to_owned()));
        }
        let mut conn = sqlx::AnyConnection::connect(&self.database_url("postgres")).await?;
        // Validated above, so interpolating the identifier is safe.
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        conn.close().await?;
        Ok(self.database_url(name))
    }

    fn database_url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    async fn wait_ready(&mut self) -> Result<(), PgServerError> {
        let attempts = READY_TIMEOUT.as_millis() / 50;
        for _ in 0..attempts {
            if self
                .child
                .try_wait()
                .map_err(io("wait postgres"))?
                .is_some()
            {
                break;
            }
            if let Ok(conn) = sqlx::AnyConnection::connect(&self.url).await {
                let _ = conn.close().await;
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
        let tail: String = log.lines().rev().take(20).collect::<Vec<_>>().join(" | ");
        Err(PgServerError::NotReady { log: tail })
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's "fast shutdown": it ends its own backends and exits.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
        }
        for _ in 0..STOP_TIMEOUT.as_millis() / 20 {
            if matches!(self.child.try_wait(), Ok(Some(_)) | Err(_)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The newest `/usr/lib/postgresql/<major>/bin` holding `initdb`, or `$LIVECDN_PG_BINDIR`.
fn find_bindir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(ENV_PG_BINDIR) {
        return Some(PathBuf::from(dir)).filter(|d| d.join("initdb").exists());
    }
    std::fs::read_dir(DEBIAN_PG_ROOT)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .max_by_key(|(major, _)| *major)
        .map(|(_, bin)| bin)
}

/// `Some((uid, gid))` of the `postgres` user when running as root.
fn run_as_user() -> Result<Option<(u32, u32)>, PgServerError> {
    if !geteuid().is_root() {
        return Ok(None);
    }
    let user = User::from_name("postgres")
        .map_err(|e| PgServerError::Io {
            step: "look up user postgres",
            source: e.into(),
        })?
        .ok_or(PgServerError::NotInstalled)?;
    Ok(Some((user.uid.as_raw(), user.gid.as_raw())))
}

fn command(program: &Path, run_as: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(program);
    cmd.stdin(Stdio::null()).env("LC_ALL", "C");
    if let Some((uid, gid)) = run_as {
        // std drops supplementary groups when it changes the uid of a root process.
        cmd.uid(uid).gid(gid);
    }
    cmd
}

async fn run_to_end(mut cmd: Command, step: &'static str) -> Result<(), PgServerError> {
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .map_err(|e| PgServerError::Io {
            step,
            source: std::io::Error::other(e),
        })?
        .map_err(io(step))?;
    if output.status.success() {
        return Ok(());
    }
    Err(PgServerError::Command {
        step,
        status: output.status.to_string(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        ),
    })
}

fn free_port() -> Result<u16, PgServerError> {
    // The port is free now; the tiny race until postgres binds it is acceptable in tests.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("find free port"))?;
    Ok(listener.local_addr().map_err(io("find free port"))?.port())
}

fn io(step: &'static str) -> impl FnOnce(std::io::Error) -> PgServerError {
    move |source| PgServerError::Io { step, source }
}
