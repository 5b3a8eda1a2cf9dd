//! Embeds the web pages: lists every file under `web/dist` (the committed bundle, see
//! `web/README.md`) into `$OUT_DIR/web_assets.rs` as `include_bytes!` entries with their ETag,
//! so the control plane serves them without npm or files at run time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dist = manifest.join("../web/dist");
    println!("cargo:rerun-if-changed=../web/dist");
    let mut files = Vec::new();
    if dist.is_dir() {
        collect(&dist, &mut files);
    } else {
        println!(
            "cargo:warning=web/dist is missing: the control plane serves no web pages (cd web && npm ci && npm run build)"
        );
    }
    files.sort();
    let mut out = String::from("/// Every file of `web/dist`: URL path (from `/`), bytes, ETag.\n");
    out.push_str("pub(crate) static ASSETS: &[Asset] = &[\n");
    for file in &files {
        let relative = file.strip_prefix(&dist).expect("under dist");
        let url: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let bytes = std::fs::read(file).expect("read a web/dist file");
        let absolute = file.canonicalize().expect("canonical path");
        writeln!(
            out,
            "    Asset {{ path: {:?}, body: include_bytes!({:?}), etag: \"\\\"{:016x}\\\"\" }},",
            format!("/{}", url.join("/")),
            absolute.display().to_string(),
            fnv1a(&bytes)
        )
        .expect("write to a String");
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("web_assets.rs");
    std::fs::write(target, out).expect("write web_assets.rs");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read web/dist") {
        let path = entry.expect("a web/dist entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.is_file() {
            files.push(path);
        }
    }
}

/// FNV-1a, 64 bits: a stable content hash for ETags (not a security boundary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
