//! OBS Studio as a real RTMP publisher, headless: a private Xvfb display, software OpenGL
//! (Mesa's llvmpipe) and a throwaway config directory holding a generated profile, stream
//! service and scene collection, so that `obs --startstreaming` goes live with no dialog.
//!
//! Written against Debian bookworm's OBS 29.0.2. Both processes are killed by their PID when
//! dropped, and their temp dirs removed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::Spawned;

/// How long Xvfb gets to report that it accepts connections.
const XVFB_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Display numbers tried for Xvfb: high, away from `:0` and xvfb-run's `:99`.
const DISPLAYS: std::ops::Range<u32> = 140..400;

/// Whether `obs` and `Xvfb` are installed. Without them the calling test skips, or fails
/// under `LIVECDN_REQUIRE_TOOLS`. (`obs -version` would start OBS, hence the explicit flags.)
pub fn require() -> bool {
    crate::require_tool_with("obs", &["--version"])
        && crate::require_tool_with("Xvfb", &["-version"])
}

/// An X server of our own on a private display number, killed on drop.
pub struct Xvfb {
    display: u32,
    child: Spawned,
    _dir: tempfile::TempDir,
}

impl Xvfb {
    /// Starts Xvfb on the first free display of [`DISPLAYS`] (from an offset taken from our
    /// PID, so concurrent test runs spread out) and waits until it accepts connections.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("xvfb temp dir");
        let span = DISPLAYS.end - DISPLAYS.start;
        let offset = std::process::id() % span;
        let mut failures = Vec::new();
        for i in 0..span {
            let display = DISPLAYS.start + (offset + i) % span;
            if display_in_use(display) {
                continue;
            }
            match Self::try_display(display, dir.path()) {
                Ok(child) => {
                    return Self {
                        display,
                        child,
                        _dir: dir,
                    };
                }
                Err(why) => failures.push(format!(":{display}: {why}")),
            }
            if failures.len() >= 3 {
                break;
            }
        }
        panic!("Xvfb did not start: {failures:?}");
    }

    /// `:N`, for `DISPLAY`.
    pub fn display(&self) -> String {
        format!(":{}", self.display)
    }

    fn try_display(display: u32, dir: &Path) -> Result<Spawned, String> {
        let log_path = dir.join(format!("xvfb-{display}.log"));
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        // -displayfd 1: Xvfb writes the display number to stdout once it accepts
        // connections, which is the readiness signal (no polling of the socket).
        let child = Command::new("Xvfb")
            .arg(format!(":{display}"))
            .args(["-displayfd", "1", "-nolisten", "tcp", "-screen", "0"])
            .arg("1280x720x24")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn Xvfb: {e}"))?;
        let mut child = Spawned(child);
        let stdout = child.0.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let why = match rx.recv_timeout(XVFB_READY_TIMEOUT) {
            Ok(line) if line.trim() == display.to_string() => return Ok(child),
            Ok(line) if line.is_empty() => "exited before it was ready".to_owned(),
            Ok(line) => format!("reported display {line:?}"),
            Err(_) => format!("not ready within {XVFB_READY_TIMEOUT:?}"),
        };
        drop(child);
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        Err(format!("{why}; log: {}", log.trim()))
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM lets Xvfb remove its lock file and socket; Spawned's SIGKILL follows
        // if it lingers.
        if let Ok(pid) = i32::try_from(self.child.0.id()) {
            let pid = nix::unistd::Pid::from_raw(pid);
            if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).is_ok() {
                wait_timeout(&mut self.child.0, Duration::from_secs(5));
            }
        }
    }
}

/// Whether a live X server holds `display`'s lock file. A stale lock (its PID gone) does
/// not count: Xvfb removes it. Xvfb checks again itself, atomically.
fn display_in_use(display: u32) -> bool {
    let Ok(lock) = std::fs::read_to_string(format!("/tmp/.X{display}-lock")) else {
        return false;
    };
    lock.trim()
        .parse::<u32>()
        .map_or(true, |pid| Path::new(&format!("/proc/{pid}")).exists())
}

/// What OBS streams: a 640x360 30 fps color source, H.264 from x264 at OBS's default preset
/// (veryfast: High profile with B-frames) with a keyframe every second, and AAC (silence:
/// the scene has no audio source, OBS still encodes its mix).
pub struct Obs {
    child: Spawned,
    dir: tempfile::TempDir,
}

/// Profile and scene collection name, written into the config and passed on the command line.
const NAME: &str = "livecdn";

impl Obs {
    /// Starts OBS on `xvfb`, streaming to `server` (`rtmp://127.0.0.1:PORT/APP`) with `key`.
    pub fn start(xvfb: &Xvfb, server: &str, key: &str) -> Self {
        let dir = tempfile::tempdir().expect("obs temp dir");
        write_config(&dir.path().join("config/obs-studio"), server, key);
        let runtime = dir.path().join("runtime"); // Qt wants XDG_RUNTIME_DIR, mode 0700
        std::fs::create_dir(&runtime).expect("runtime dir");
        std::fs::set_permissions(
            &runtime,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .expect("runtime dir mode");
        let log = std::fs::File::create(dir.path().join("obs.log")).expect("obs log");
        let child = Command::new("obs")
            .args(["--startstreaming", "--profile", NAME, "--collection", NAME])
            // --multi: no "already running" prompt if another OBS runs on this machine.
            .args(["--multi", "--disable-updater", "--disable-missing-files-check"])
            // Only what OBS needs: none of the caller's session (D-Bus, Wayland, config).
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("DISPLAY", xvfb.display())
            .env("QT_QPA_PLATFORM", "xcb")
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            // The rtmp-services plugin fetches a service list from the internet at startup
            // (libcurl): a proxy on a closed loopback port makes that fail at once, with
            // no DNS query leaving the machine. RTMP does not use the proxy.
            .env("http_proxy", "http://127.0.0.1:9")
            .env("https_proxy", "http://127.0.0.1:9")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("obs log"))
            .stderr(log)
            .spawn()
            .expect("spawn obs");
        Self {
            child: Spawned(child),
            dir,
        }
    }

    /// OBS's log so far (its stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("obs.log")).unwrap_or_default()
    }

    /// Asks OBS to quit (SIGINT: it stops streaming, unpublishes, and exits).
    pub fn interrupt(&self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.0.id()).expect("pid"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("signal obs");
    }

    /// Waits up to `timeout` for OBS to exit; `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_timeout(&mut self.child.0, timeout)
    }
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let step = Duration::from_millis(50);
    for _ in 0..=(timeout.as_millis() / step.as_millis()) {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(step);
    }
    None
}

/// `obs-studio/` as OBS leaves it after a first run, so that none of its first-run
/// dialogs (auto-configuration wizard, tray, confirmations) appears.
fn write_config(root: &Path, server: &str, key: &str) {
    let profile = root.join("basic/profiles").join(NAME);
    let scenes = root.join("basic/scenes");
    std::fs::create_dir_all(&profile).expect("profile dir");
    std::fs::create_dir_all(&scenes).expect("scenes dir");
    // FirstRun=true means "has run": with LastVersion present OBS skips the
    // auto-configuration wizard. 486539266 is 29.0.2 as OBS stores it (major<<24|minor<<16|patch).
    let global = format!(
        "[General]\nFirstRun=true\nLastVersion=486539266\nEnableAutoUpdates=false\n\
         ConfirmOnExit=false\n\n\
         [BasicWindow]\nSysTrayEnabled=false\nWarnBeforeStartingStream=false\n\
         WarnBeforeStoppingStream=false\n\n\
         [Basic]\nProfile={NAME}\nProfileDir={NAME}\nSceneCollection={NAME}\nSceneCollectionFile={NAME}\n"
    );
    std::fs::write(root.join("global.ini"), global).expect("global.ini");
    // Simple output mode has no keyframe-interval field: x264's own options set a 1 s GOP
    // (30 frames at 30 fps), which makes the origin's segments 1 s long. The preset is OBS's
    // default, so B-frames and their composition offsets flow as hosts send them. Reconnect
    // is off so that a dropped connection shows as a stall, not as a silent second publish.
    let basic = format!(
        "[General]\nName={NAME}\n\n\
         [Output]\nMode=Simple\nReconnect=false\n\n\
         [SimpleOutput]\nStreamEncoder=x264\nVBitrate=600\nABitrate=96\nPreset=veryfast\n\
         UseAdvanced=true\nx264Settings=keyint=30 min-keyint=30 scenecut=0\n\n\
         [Video]\nBaseCX=640\nBaseCY=360\nOutputCX=640\nOutputCY=360\nFPSType=1\nFPSInt=30\n\n\
         [Audio]\nSampleRate=48000\nChannelSetup=Stereo\n"
    );
    std::fs::write(profile.join("basic.ini"), basic).expect("basic.ini");
    let service = serde_json::json!({
        "type": "rtmp_custom",
        "settings": { "server": server, "key": key, "use_auth": false, "bwtest": false },
    });
    std::fs::write(profile.join("service.json"), service.to_string()).expect("service.json");
    let (scene_uuid, color_uuid) = (
        "6c1f0a52-7a34-4c1e-9b4b-0a1b2c3d4e01",
        "6c1f0a52-7a34-4c1e-9b4b-0a1b2c3d4e02",
    );
    let collection = serde_json::json!({
        "name": NAME,
        "current_scene": "Scene",
        "current_program_scene": "Scene",
        "scene_order": [{ "name": "Scene" }],
        "sources": [
            {
                "id": "scene", "versioned_id": "scene", "name": "Scene", "uuid": scene_uuid,
                "settings": {
                    "id_counter": 1,
                    "items": [{
                        "id": 1, "name": "Color", "source_uuid": color_uuid, "visible": true,
                        "pos": { "x": 0, "y": 0 }, "scale": { "x": 1, "y": 1 },
                    }],
                },
            },
            {
                "id": "color_source", "versioned_id": "color_source_v3", "name": "Color",
                "uuid": color_uuid,
                // ABGR: opaque green.
                "settings": { "color": 0xFF00_FF00_u32, "width": 640, "height": 360 },
            },
        ],
        "transitions": [],
        "current_transition": "Fade",
        "transition_duration": 300,
    });
    std::fs::write(scenes.join(format!("{NAME}.json")), collection.to_string())
        .expect("scene collection");
}
